import json
import os

import numpy as np
import pytest

from tamelab import InputError, Result, Status
from tamelab._rng import np_rng, resolve_seed, seeded, torch_gen
from tamelab.config import validate
from tamelab.runstore import atomic_write_bytes, read_arrays, read_result, strip_timings, write_run


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "a.bin"
    atomic_write_bytes(target, b"old")

    def boom(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        atomic_write_bytes(target, b"new-but-broken")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def test_write_run_layout_and_strict_json(tmp_path):
    r = Result(status=Status.OK, seed=3, seconds=1.5)
    doc = write_run(
        tmp_path / "run",
        {**r.to_dict(), "x": float("nan"), "v": np.arange(3)},
        command="test",
        config={"a": 1},
        arrays={"h": np.ones(4)},
        figures={"f.png": b"\x89PNG"},
    )
    raw = (tmp_path / "run" / "result.json").read_text()
    json.loads(raw)  # strict JSON: no NaN literal
    assert doc["result"]["x"] == "nan" and doc["result"]["v"] == [0, 1, 2]
    assert doc["schema_version"] == 1 and doc["result"]["schema_version"] == 1
    assert doc["result"]["status"] == "ok" and doc["result"]["status_message"]
    assert read_result(tmp_path / "run")["config"] == {"a": 1}
    assert np.array_equal(read_arrays(tmp_path / "run")["h"], np.ones(4))
    assert (tmp_path / "run" / "figures" / "f.png").read_bytes() == b"\x89PNG"
    assert "provenance" not in strip_timings(doc) and "seconds" not in strip_timings(doc)["result"]


def test_read_result_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_result(tmp_path)
    (tmp_path / "result.json").write_text("{oops")
    with pytest.raises(InputError, match="not valid JSON"):
        read_result(tmp_path)


def test_seeds_resolve_and_record():
    assert resolve_seed(5) == 5
    s = resolve_seed(None)
    assert 0 <= s < 2**32
    assert np_rng(4).integers(1000) == np_rng(4).integers(1000)
    assert torch_gen(4).initial_seed() == 4
    with pytest.raises(InputError, match="seed"):
        resolve_seed(-1)

    @seeded
    def f(n, seed=None):
        return seed

    assert isinstance(f(1), int) and f(1, seed=9) == 9


def test_config_validation_names_the_field():
    from pydantic import BaseModel, ConfigDict, Field

    class C(BaseModel):
        model_config = ConfigDict(extra="forbid")
        lr: float = Field(1e-3, gt=0)
        opt: str = "adam"

    assert validate(C, {"lr": 0.1}).lr == 0.1
    with pytest.raises(InputError, match="field 'lr'.*greater than 0"):
        validate(C, {"lr": -1})
    with pytest.raises(InputError, match="field 'bogus'.*unknown field.*lr, opt"):
        validate(C, {"bogus": 1})
