import json

import pandas as pd
import pytest

from tamelab.cli.main import main
from tamelab.parallel import get_executor, run_sweep


def _spec(tmp_path, **extra):
    return {"command": "ridge", "base": {"n": 40, "marker_dir": str(tmp_path / "marks"), **extra},
            "grid": {"lam": [0.01, 0.1, 1.0], "seed": [0, 1]}}


def _calls(tmp_path):
    return len(list((tmp_path / "marks").glob("call-*")))


def test_serial_sweep_caches_and_never_recomputes(tmp_path):
    r1 = run_sweep(_spec(tmp_path), tmp_path / "out")
    assert r1["rows"] == 6 and r1["computed"] == 6 and _calls(tmp_path) == 6
    r2 = run_sweep(_spec(tmp_path), tmp_path / "out")
    assert r2["cached"] == 6 and r2["computed"] == 0 and _calls(tmp_path) == 6
    df = pd.read_parquet(tmp_path / "out" / "results.parquet")
    assert list(df["param.lam"]) == [0.01, 0.01, 0.1, 0.1, 1.0, 1.0]
    # ridge: larger penalty → smaller weights, larger training loss (same seed)
    s0 = df[df["param.seed"] == 0].sort_values("param.lam")
    assert s0["result.w_norm"].is_monotonic_decreasing and s0["result.loss"].is_monotonic_increasing


@pytest.mark.dask
def test_dask_sweep_matches_serial_and_survives_worker_loss(tmp_path):
    run_sweep(_spec(tmp_path / "s"), tmp_path / "serial")
    # die_once: the first attempt of every grid point kills its worker process
    dask = run_sweep(_spec(tmp_path / "d", die_once=True), tmp_path / "dask", executor="dask", workers=2)
    a = pd.read_parquet(tmp_path / "serial" / "results.parquet").drop(columns=["key"]).filter(like="result.")
    b = pd.read_parquet(tmp_path / "dask" / "results.parquet").drop(columns=["key"]).filter(like="result.")
    pd.testing.assert_frame_equal(a, b)
    assert dask["rows"] == 6 and len(list((tmp_path / "d" / "marks").glob("died-*"))) == 6


def test_sweep_cli_and_bad_input(tmp_path, capsys):
    f = tmp_path / "s.toml"
    f.write_text('command = "ridge"\n[base]\nn = 30\n[grid]\nlam = [0.1, 1.0]\n')
    assert main(["sweep", str(f), "--out", str(tmp_path / "o"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["rows"] == 2 and (tmp_path / "o" / "results.parquet").is_file()
    f.write_text('command = "nope"\n')
    assert main(["sweep", str(f), "--out", str(tmp_path / "o2")]) == 2
    assert "unknown task 'nope'" in capsys.readouterr().err
    f.write_text('command = "ridge"\n[grid]\nlam = []\n')
    assert main(["sweep", str(f), "--out", str(tmp_path / "o3")]) == 2
    assert main(["sweep", str(f), "--scheduler", "localhost:1", "--out", str(tmp_path / "o4")]) == 2
    assert not (tmp_path / "o3").exists() and not (tmp_path / "o4").exists()


def test_unknown_executor():
    from tamelab import InputError

    with pytest.raises(InputError, match="serial or dask"):
        get_executor("ray")


def _square(x):
    return x * x


def _worker_env(_):
    import os

    return {k: os.environ.get(k) for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")}


@pytest.mark.dask
def test_consecutive_maps_never_return_stale_results_and_workers_get_the_allocator_env():
    from tamelab.parallel._dask import MALLOC_ENV

    with get_executor("dask", workers=2) as ex:
        for k in range(4):  # same function, same number of items, different inputs, back to back
            assert ex.map(_square, [k, k + 1]) == [k * k, (k + 1) ** 2]
        assert ex.map(_worker_env, [0])[0] == {k: str(v) for k, v in MALLOC_ENV.items()}
