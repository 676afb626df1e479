import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tamelab.cli.main import main
from tamelab.parallel import get_executor
from tamelab.tasks import SweepWarning, Task, get_task, option, register_task, run_sweep
from tamelab.tasks.ridge import RidgeConfig, run_ridge


# ------------------------------------------------------------------------------------------------
# test hooks live here, not in the shipped ridge task: a ridge task that counts its calls and can
# kill its own worker process once per grid point
# ------------------------------------------------------------------------------------------------
class HookedRidgeConfig(RidgeConfig):
    marker_dir: str = option("", "one file per call is written here")
    die_once: bool = option(False, "the first attempt of each grid point with seed 0 kills its worker (os._exit)")


def hooked_ridge(cfg: HookedRidgeConfig, *, out_dir: Any = None):
    d = Path(cfg.marker_dir)
    d.mkdir(parents=True, exist_ok=True)
    tag = f"{cfg.seed}-{cfg.lam}-{cfg.n}"
    if cfg.die_once and cfg.seed == 0 and not (d / f"died-{tag}").exists():
        (d / f"died-{tag}").write_text("x")
        os._exit(1)
    (d / f"call-{tag}-{os.getpid()}-{len(list(d.iterdir()))}").write_text("x")
    return run_ridge(RidgeConfig(lam=cfg.lam, n=cfg.n, seed=cfg.seed))


HOOKED = register_task(Task("test-hooked-ridge", HookedRidgeConfig, hooked_ridge, "ridge with test hooks"))


@pytest.fixture
def pickle_by_value():
    """Dask workers cannot import this test module: ship its functions by value."""
    import cloudpickle

    mod = sys.modules[__name__]
    cloudpickle.register_pickle_by_value(mod)
    yield
    cloudpickle.unregister_pickle_by_value(mod)


def _spec(tmp_path, **extra):
    return {
        "command": "test-hooked-ridge",
        "base": {"n": 40, "marker_dir": str(tmp_path / "marks"), **extra},
        "grid": {"lam": [0.01, 0.1, 1.0], "seed": [0, 1]},
    }


def _calls(tmp_path):
    return len(list((tmp_path / "marks").glob("call-*")))


def test_shipped_ridge_has_no_test_hooks():
    assert {"marker_dir", "die_once"}.isdisjoint(get_task("ridge").config.model_fields)


def test_serial_sweep_caches_and_never_recomputes(tmp_path):
    r1 = run_sweep(_spec(tmp_path), tmp_path / "out")
    assert r1.rows == 6 and r1.computed == 6 and _calls(tmp_path) == 6
    r2 = run_sweep(_spec(tmp_path), tmp_path / "out")
    assert r2.cached == 6 and r2.computed == 0 and _calls(tmp_path) == 6
    df = pd.read_parquet(tmp_path / "out" / "results.parquet")
    assert list(df["param.lam"]) == [0.01, 0.01, 0.1, 0.1, 1.0, 1.0]
    # ridge: larger penalty → smaller weights, larger training loss (same seed)
    s0 = df[df["param.seed"] == 0].sort_values("param.lam")
    assert s0["result.w_norm"].is_monotonic_decreasing and s0["result.loss"].is_monotonic_increasing
    # list results are kept as list columns, equal to each point's result.json
    for _, row in df.iterrows():
        doc = json.loads((Path(row["run_dir"]) / "result.json").read_text())
        assert list(row["result.w"]) == doc["result"]["w"] and len(row["result.w"]) == 5
        assert np.linalg.norm(row["result.w"]) == pytest.approx(row["result.w_norm"], rel=1e-12)


def test_corrupt_cached_result_is_recomputed_with_a_warning(tmp_path):
    r1 = run_sweep(_spec(tmp_path), tmp_path / "out")
    bad = tmp_path / "out" / "tasks" / r1.keys[2] / "result.json"
    bad.write_bytes(b"\x00\xff{not json")
    with pytest.warns(SweepWarning, match="corrupt"):
        r2 = run_sweep(_spec(tmp_path), tmp_path / "out")
    assert r2.recomputed == [r1.keys[2]] and r2.computed == 1 and r2.cached == 5 and _calls(tmp_path) == 7
    assert json.loads(bad.read_text())["result"]["status"] == "ok"


def test_unknown_base_and_grid_keys_are_rejected_for_every_task(tmp_path, capsys):
    for command, where in (("ridge", "base"), ("hessian", "base"), ("regions", "grid"), ("neuromanifold", "grid")):
        f = tmp_path / f"{command}.toml"
        f.write_text(
            f'command = "{command}"\n[{where}]\ntopk = 3\n'
            if where == "base"
            else f'command = "{command}"\n[grid]\ntopk = [3]\n'
        )
        assert main(["sweep", str(f), "--out", str(tmp_path / command)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f"'{where}.topk'" in err and "unknown field" in err, err
        assert not (tmp_path / command).exists()


def test_bad_value_names_the_toml_field_and_nothing_is_left_behind(tmp_path, capsys):
    f = tmp_path / "s.toml"
    f.write_text('command = "ridge"\n[base]\nn = 30\n[grid]\nlam = [0.1, -1.0]\n')
    assert main(["sweep", str(f), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "s.toml field 'grid.lam'" in err and "greater than or equal to 0" in err
    assert not (tmp_path / "o").exists()


def test_grid_size_is_checked_before_expansion(tmp_path, capsys):
    f = tmp_path / "big.toml"
    lams = [i / 1000 for i in range(10_000)]
    f.write_text(f'command = "ridge"\n[grid]\nlam = {lams}\nn = {list(range(5, 105))}\nseed = {list(range(100))}\n')
    # 10^8 points: refused at once with the estimate, before any expansion or validation
    assert main(["sweep", str(f), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "1e+08 grid points (limit 10000)" in err and "--max-tasks" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.dask
def test_dask_sweep_matches_serial_and_survives_worker_loss(tmp_path, pickle_by_value):
    run_sweep(_spec(tmp_path / "s"), tmp_path / "serial")
    # die_once: the first attempt of every grid point with seed 0 kills its worker process
    dask = run_sweep(_spec(tmp_path / "d", die_once=True), tmp_path / "dask", executor="dask", workers=2)
    a = pd.read_parquet(tmp_path / "serial" / "results.parquet").filter(like="result.").drop(columns=["result.seconds"])
    b = pd.read_parquet(tmp_path / "dask" / "results.parquet").filter(like="result.").drop(columns=["result.seconds"])
    pd.testing.assert_frame_equal(a, b)
    assert dask.rows == 6 and len(list((tmp_path / "d" / "marks").glob("died-*"))) == 3


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


def test_unreachable_scheduler_is_one_line_within_ten_seconds(tmp_path, capsys):
    import time

    f = tmp_path / "s.toml"
    f.write_text('command = "ridge"\n[grid]\nlam = [0.1]\n')
    t0 = time.perf_counter()
    assert main(["sweep", str(f), "--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path / "o")]) == 2
    assert time.perf_counter() - t0 < 10
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--scheduler" in err and "tcp://127.0.0.1:9" in err
    assert not (tmp_path / "o").exists()


def test_sweeps_chain_train_then_hessian(tmp_path):
    """A train sweep keeps its models; a hessian sweep takes them with from_sweep."""
    train = {"command": "train", "base": {"data": "moons", "widths": [2, 6, 2], "epochs": 1}, "grid": {"seed": [0, 1]}}
    rt = run_sweep(train, tmp_path / "t")
    df = pd.read_parquet(tmp_path / "t" / "results.parquet")
    assert rt.rows == 2 and all(Path(p).is_file() for p in df["file.model.safetensors"])
    hess = {
        "command": "hessian",
        "base": {"data": "moons", "top_k": 2},
        "grid": {"model": {"from_sweep": str(tmp_path / "t"), "file": "model.safetensors"}},
    }
    rh = run_sweep(hess, tmp_path / "h")
    dh = pd.read_parquet(tmp_path / "h" / "results.parquet")
    assert rh.rows == 2 and list(dh["param.model"]) == list(df["file.model.safetensors"])
    for ev in dh["result.eigenvalues"]:  # a list column, descending
        assert len(ev) == 2 and ev[0] >= ev[1]


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


@pytest.mark.dask
def test_local_cluster_serves_no_dashboard_on_8787():
    with get_executor("dask", workers=1) as ex:
        sched = ex._cluster.scheduler
        ports = [s.getsockname() for s in sched.http_server._sockets.values()]
        assert all(host == "127.0.0.1" and port != 8787 for host, port in ports), ports
        assert not any("status" in str(r) for r in sched.http_application.default_router.rules)


def test_docs_sweep_example_runs_as_written(tmp_path, monkeypatch, capsys):
    """The example at the top of docs/sweep-dask.md (the README's sweep example), run as written."""
    import re
    import shlex

    doc = (Path(__file__).resolve().parents[1] / "docs" / "sweep-dask.md").read_text(encoding="utf-8")
    section = doc.split("## Example", 1)[1].split("\n## ", 1)[0]
    console = re.search(r"```console\n(.*?)```", section, re.S).group(1)
    toml = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TAMELAB_RUNS", raising=False)  # as written: default run directories under ./runs
    (tmp_path / "sweep.toml").write_text(toml)
    for line in console.splitlines():
        assert line.startswith("$ tamelab "), line
        assert main(shlex.split(line[len("$ tamelab ") :])) == 0, capsys.readouterr().err
    df = pd.read_parquet(tmp_path / "runs" / "sweep-sweep" / "results.parquet")
    assert sorted(df["param.mode"]) == ["exact", "float"] and (df["result.status"] == "ok").all()
    assert df["result.activation_regions"].nunique() == 1 and df["result.activation_regions"].iloc[0] > 1
