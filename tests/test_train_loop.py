import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from tamelab import InputError
from tamelab.cli.main import main
from tamelab.runstore import read_result, strip_timings
from tamelab.train import fit

SMALL = dict(data="moons", widths=[2, 16, 16, 2], epochs=4, batch_size=32, lr=0.01)


def test_history_monitors_are_consistent(seed):
    r = fit({**SMALL, "seed": seed, "dtype": "float64"})
    h = r.history
    assert r.ok and r.steps == len(h["step"]) == 4 * int(np.ceil(160 / 32))
    # path length is the running sum of update norms: ≥ distance from init, monotone
    assert np.all(np.diff(h["path_length"]) >= 0)
    assert np.all(h["path_length"] + 1e-12 >= h["dist_init"])
    # distance from init recomputed from the snapshots
    flat = lambda sd: torch.cat([v.flatten() for v in sd.values()])
    d_last = float((flat(r.snapshots[-1]) - flat(r.snapshots[0])).norm())
    assert d_last == pytest.approx(h["dist_init"][-1], rel=1e-12)
    assert d_last == pytest.approx(r.dist_init, rel=1e-12)
    # parameter norm of the final model
    assert h["param_norm"][-1] == pytest.approx(float(flat(dict(r.model.named_parameters())).detach().norm()), rel=1e-12)
    assert len(r.snapshots) == 5 and r.snapshot_steps == [0, 5, 10, 15, 20]
    assert len(h["train_acc"]) == 4 and 0 <= r.final_test_acc <= 1
    assert np.all(h["lr"] == 0.01)


def test_same_seed_bitwise_identical_and_different_seed_differs(seed):
    a, b = fit({**SMALL, "seed": seed}), fit({**SMALL, "seed": seed})
    for k in a.history:
        assert np.array_equal(a.history[k], b.history[k], equal_nan=True), k
    assert all(torch.equal(a.model.state_dict()[k], b.model.state_dict()[k]) for k in a.model.state_dict())
    c = fit({**SMALL, "seed": seed + 1})
    assert not np.array_equal(a.history["loss"], c.history["loss"])


def test_resume_reproduces_uninterrupted_run(tmp_path, seed):
    cfg = {**SMALL, "seed": seed, "epochs": 5}
    full = fit(cfg)
    part = fit(cfg, checkpoint_dir=tmp_path / "ck", stop_after_epochs=2)
    assert part.epochs_run == 2 and not part.ok
    res = fit(cfg, checkpoint_dir=tmp_path / "ck", resume=True)
    assert res.resumed_from_epoch == 1 and res.ok
    for k in full.history:
        assert np.array_equal(full.history[k], res.history[k], equal_nan=True), k
    for k, v in full.model.state_dict().items():
        assert torch.equal(v, res.model.state_dict()[k])
    assert len(res.snapshots) == len(full.snapshots)
    with pytest.raises(InputError, match="different config"):
        fit({**cfg, "lr": 0.02}, checkpoint_dir=tmp_path / "ck", resume=True)


def test_killed_cli_run_resumes_to_same_result(tmp_path):
    """SIGKILL a real `tamelab train` mid-run, resume it, compare with an uninterrupted run."""
    args = ["--data", "digits", "--epochs", "30", "--seed", "3", "--widths", "64,32,10", "--quiet", "--keep-checkpoint"]
    # Bitwise equality needs the same BLAS thread count in all three runs (float32
    # reductions are ordered by thread); pin it rather than inherit whatever an
    # earlier test (e.g. Dask's nanny) left in os.environ.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    run = tmp_path / "killed"
    p = subprocess.Popen([sys.executable, "-m", "tamelab", "train", *args, "--out", str(run)], env=env)
    ck = run / "checkpoint" / "state.json"
    deadline = time.time() + 120
    while time.time() < deadline and not ck.exists():
        time.sleep(0.05)
    time.sleep(0.3)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert ck.exists(), "no checkpoint was written before the kill"
    killed_at = json.loads(ck.read_text())["epoch"]
    assert killed_at < 29 and not (run / "result.json").exists()
    cli = [sys.executable, "-m", "tamelab", "train", *args]
    assert subprocess.run([*cli, "--out", str(run), "--resume"], env=env).returncode == 0
    assert subprocess.run([*cli, "--out", str(tmp_path / "clean")], env=env).returncode == 0
    a, b = read_result(run), read_result(tmp_path / "clean")
    assert a["result"]["resumed_from_epoch"] is not None
    a["result"].pop("resumed_from_epoch"), b["result"].pop("resumed_from_epoch")
    assert strip_timings(a) == strip_timings(b)
    assert (run / "model.safetensors").read_bytes() == (tmp_path / "clean" / "model.safetensors").read_bytes()


def test_cli_rerun_gives_identical_json(tmp_path, capsys):
    for d in ("a", "b"):
        assert main(["train", "--data", "moons", "--widths", "2,8,2", "--epochs", "2", "--seed", "4", "--out", str(tmp_path / d), "--quiet"]) == 0
    assert strip_timings(read_result(tmp_path / "a")) == strip_timings(read_result(tmp_path / "b"))
    from tamelab.models import load

    m = load(tmp_path / "a" / "model.safetensors")
    assert [type(x).__name__ for x in m] == ["Linear", "ReLU", "Linear"]


@pytest.mark.parametrize(
    "toml, match",
    [
        ("lr = -1\n", "field 'lr'"),
        ("optimizer = 'lbfgs'\n", "field 'optimizer'"),
        ("bogus = 1\n", "field 'bogus'.*unknown field"),
        ("widths = [3, 10]\n", "widths.*input dimension 64"),
        ("widths = []\n", "field 'widths'.*at least the input and output widths"),
        ("widths = [64, 0, 10]\n", "field 'widths'.*layer 1 has width 0"),
        ("lr = inf\n", "field 'lr'.*finite"),
        ("lr = nan\n", "field 'lr'.*finite"),
        ("widths = [64, 2000000000, 10]\n", "field 'widths'.*1.5e\\+11 parameters.*GiB.*max_memory_gb"),
    ],
)
def test_bad_config_one_line_exit_2_nothing_written(tmp_path, capsys, toml, match):
    cfgf = tmp_path / "c.toml"
    cfgf.write_text(toml)
    rc = main(["train", "--config", str(cfgf), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1
    import re

    assert re.search(match, err), err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("cfg, match", [
    ({"data": "nope"}, r"data \(--data\): unknown data 'nope'.*mnist1d"),
    ({"data": "mnist1d", "n_samples": 15}, "n_samples.*multiple of 10"),
    ({"data": "digits", "n_samples": 100}, "n_samples.*fixed size"),
    ({"data": "teacher", "widths": [2, 8, 1]}, "cross_entropy needs integer labels"),
])
def test_bad_data_config_is_one_input_error(cfg, match):
    with pytest.raises(InputError, match=match):
        fit(cfg)


def test_memory_estimate_counts_parameters_exactly_and_the_limit_is_a_field():
    from tamelab.train import estimate_memory

    w = [5, 7, 3]
    m = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3))
    est = estimate_memory(w, dtype="float64", optimizer="adam", epochs=2)
    P = sum(p.numel() for p in m.parameters())
    assert est["n_params"] == P and est["parameters"] == P * 8 * 5 and est["snapshots"] == P * 8 * 4
    big = {"widths": [64, 20000, 20000, 10], "epochs": 1}  # 4e8 parameters: ~9 GiB with Adam and snapshots
    with pytest.raises(InputError, match="max_memory_gb = 4"):
        fit(big)
    with pytest.raises(InputError, match="max_memory_gb"):
        fit({**big, "max_memory_gb": 1e-6, "widths": [64, 10]})


def test_fit_on_npz_records_the_test_source(tmp_path):
    from tamelab.data import load_data, save_npz

    ds = load_data("moons", split="all", seed=1)
    save_npz(ds, tmp_path / "m.npz")
    r = fit({"data": str(tmp_path / "m.npz"), "widths": [2, 8, 2], "epochs": 1, "split_seed": 3})
    assert r.test_source == "seeded split (seed 3, test_fraction 0.2)" and r.test.n == 40 and r.train.n == 160
    save_npz(ds.subset(np.arange(150)), tmp_path / "t.npz", test=ds.subset(np.arange(150, 200)))
    r = fit({"data": str(tmp_path / "t.npz"), "widths": [2, 8, 2], "epochs": 1})
    assert r.test_source == "file" and r.test.n == 50 and r.to_dict()["test_source"] == "file"


def test_fit_on_mnist1d_and_an_image_folder(tmp_path):
    from PIL import Image

    r = fit({"data": "mnist1d", "n_samples": 200, "widths": [40, 16, 10], "epochs": 1})
    assert r.ok and r.train.n == 160 and "generator split" in r.test_source
    for cls in ("a", "b"):
        (tmp_path / "img" / cls).mkdir(parents=True)
        for i in range(5):
            Image.fromarray(np.full((3, 4), 20 * i + (100 if cls == "b" else 0), np.uint8)).save(
                tmp_path / "img" / cls / f"{i}.png")
    r = fit({"data": str(tmp_path / "img"), "epochs": 2, "widths": [12, 4, 2]})  # flattened 1×3×4 images
    assert r.ok and r.train.n == 8 and r.widths == [12, 4, 2]


@pytest.mark.parametrize("record_every,batch", [(1, 4), (3, 2), (1, 32)])
def test_batched_norm_records_equal_per_step_recomputation(monkeypatch, record_every, batch):
    import tamelab.train._recorders as recorders

    monkeypatch.setattr(recorders, "NORM_BATCH", batch)
    r = fit({**SMALL, "seed": 0, "dtype": "float64", "snapshot_every": 1, "record_every": record_every})
    h = r.history
    flat = lambda sd: torch.cat([v.flatten() for v in sd.values()])  # noqa: E731
    by_step = dict(zip(r.snapshot_steps, r.snapshots))
    th0 = flat(r.snapshots[0])
    assert len(h["step"]) == r.steps // record_every and not np.isnan(h["param_norm"]).any()
    for s, pn, dn in zip(h["step"], h["param_norm"], h["dist_init"]):
        th = flat(by_step[int(s)])
        assert pn == pytest.approx(float(th.norm()), rel=1e-12)
        assert dn == pytest.approx(float((th - th0).norm()), rel=1e-12)
    # per-epoch full-batch loss/accuracy (fast cross-entropy) against torch's on the epoch-end parameters
    X, y = torch.as_tensor(r.train.X), torch.as_tensor(r.train.y)
    steps_per_epoch = r.steps // len(h["train_loss"])
    for e, (tl, ta) in enumerate(zip(h["train_loss"], h["train_acc"])):
        out = torch.func.functional_call(r.model, by_step[(e + 1) * steps_per_epoch], (X,))
        assert tl == pytest.approx(float(torch.nn.functional.cross_entropy(out, y)), rel=1e-12)
        assert ta == float((out.argmax(1) == y).double().mean())


def test_eval_every_thins_the_epoch_evaluations_without_changing_training(tmp_path):
    every = fit({**SMALL, "seed": 0, "epochs": 5})
    thin = fit({**SMALL, "seed": 0, "epochs": 5, "eval_every": 2})
    assert thin.ok and thin.epochs_run == 5 and thin.history["acc_epoch"].tolist() == [2, 4, 5]  # last always
    for k in ("train_loss", "test_loss", "train_acc", "test_acc"):
        assert np.array_equal(thin.history[k], every.history[k][[1, 3, 4]]), k
    for k in ("loss", "param_norm", "dist_init", "grad_norm"):
        assert np.array_equal(thin.history[k], every.history[k]), k
    part = fit({**SMALL, "seed": 0, "epochs": 5, "eval_every": 2}, checkpoint_dir=tmp_path / "ck", stop_after_epochs=3)
    assert part.epochs_run == 3 and not part.ok and part.history["acc_epoch"].tolist() == [2]
    res = fit({**SMALL, "seed": 0, "epochs": 5, "eval_every": 2}, checkpoint_dir=tmp_path / "ck", resume=True)
    for k in thin.history:
        assert np.array_equal(thin.history[k], res.history[k], equal_nan=True), k


def test_plain_mlp_fast_logits_match_the_module_and_leave_inputs_alone():
    from torch import nn

    from tamelab.models import linear_relu_forward, linear_relu_modules
    from tamelab.train._recorders import plain_mlp_logits_t as _plain_mlp_logits_t

    torch.manual_seed(0)
    X = torch.randn(7, 4, dtype=torch.float64)
    X0 = X.clone()
    for m in (nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3, bias=False)),
              nn.Sequential(nn.ReLU(), nn.Linear(4, 3)), nn.Sequential(nn.Linear(4, 3))):
        m = m.double()
        with torch.no_grad():
            assert torch.allclose(_plain_mlp_logits_t(m, X), m(X).T, rtol=1e-13, atol=1e-13)
            assert torch.allclose(linear_relu_forward(linear_relu_modules(m), X), m(X), rtol=1e-13, atol=1e-13)
        assert torch.equal(X, X0)
    assert _plain_mlp_logits_t(nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2)).double(), X) is None
