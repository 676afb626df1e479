"""The generic loop ``tamelab.train.train``: any model, any data form, recorders, resume, exporters.

References are hand-written loops (same batch order from the seed, plain SGD or ``torch.optim``) in
float64: the trained parameters must agree to 1e-12.
"""

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from tamelab import InputError
from tamelab.train import Recorder, sgd, train

torch.set_default_dtype(torch.float32)


class DictImages(Dataset):
    """N images 1×8×8 with labels, served as dict samples {"image", "label"}."""

    def __init__(self, n=48, seed=0, k=3):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 1, 8, 8, generator=g, dtype=torch.float64)
        self.y = torch.randint(0, k, (n,), generator=g)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return {"image": self.x[i], "label": self.y[i]}


def cnn(seed=0, bn=False):
    torch.manual_seed(seed)
    layers = [nn.Conv2d(1, 4, 3)]
    if bn:
        layers.append(nn.BatchNorm2d(4))
    layers += [nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(36, 3)]
    return nn.Sequential(*layers).double()


def ln_gelu_mlp(seed=0, d=5, k=3):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, 16), nn.LayerNorm(16), nn.GELU(), nn.Linear(16, k)).double()


def reference_sgd(model, X, T, loss_fn, *, lr, epochs, batch_size, seed):
    """Plain SGD by hand, with the loop's documented batch order."""
    import copy

    m = copy.deepcopy(model)
    n = X.shape[0]
    for epoch in range(epochs):
        perm = np.random.default_rng([seed, epoch]).permutation(n)
        for lo in range(0, n, batch_size):
            idx = torch.as_tensor(perm[lo: lo + batch_size])
            m.zero_grad()
            loss_fn(m(X[idx]), T[idx]).backward()
            with torch.no_grad():
                for p in m.parameters():
                    p -= lr * p.grad
    return m


def assert_params_close(a, b, tol=1e-12):
    for (ka, pa), (kb, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert ka == kb
        assert torch.allclose(pa, pb, rtol=tol, atol=tol), (ka, float((pa - pb).abs().max()))


def test_cnn_with_dict_batch_loader_equals_hand_written_sgd(seed):
    ds = DictImages(seed=seed)
    model = cnn(seed)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    loader = DataLoader(ds, batch_size=8, shuffle=True)  # the loop re-orders it from the seed
    res = train(model, loader, loss="cross_entropy", optimizer=sgd(0.1), epochs=3, seed=seed, dtype="float64")
    ref = reference_sgd(model, ds.x, ds.y, nn.functional.cross_entropy, lr=0.1, epochs=3, batch_size=8, seed=seed)
    assert_params_close(res.model, ref)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # caller's model untouched
    assert res.ok and res.steps == 3 * 6 and res.batch_order == "seeded shuffle"
    # history: the mini-batch loss is the loss before each update; eval numbers are torch's
    h = res.history
    assert len(h["loss"]) == 18 and h["lr"].tolist() == [0.1] * 18
    with torch.no_grad():
        full = float(nn.functional.cross_entropy(ref.eval()(ds.x), ds.y))
        acc = float((ref(ds.x).argmax(1) == ds.y).double().mean())
    assert h["train_loss"][-1] == pytest.approx(full, rel=1e-12)
    assert res.final_train_acc == pytest.approx(acc, abs=1e-15)
    assert res.final_test_acc is None and math.isnan(res.final_test_loss) and res.test_source == "none"


def test_layernorm_gelu_mlp_with_callable_loss_and_numpy_data(seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((40, 5))
    Y = rng.standard_normal((40, 3))
    model = ln_gelu_mlp(seed)

    def half_sq(out, t):  # a user loss: not in the registry
        return 0.5 * ((out - t) ** 2).sum(1).mean()

    res = train(model, (X, Y), loss=half_sq, optimizer="sgd", lr=0.05, epochs=2, batch_size=16, seed=seed,
                dtype="float64", test=(X[:10], Y[:10]))
    ref = reference_sgd(model, torch.as_tensor(X), torch.as_tensor(Y), half_sq, lr=0.05, epochs=2, batch_size=16,
                        seed=seed)
    assert_params_close(res.model, ref)
    assert res.loss == "half_sq" and res.final_test_acc is None  # real targets: no accuracy
    with torch.no_grad():
        assert res.final_test_loss == pytest.approx(float(half_sq(ref(torch.as_tensor(X[:10])),
                                                                  torch.as_tensor(Y[:10]))), rel=1e-12)


def test_torch_optimizer_instance_is_rebound_to_the_copy_and_matches_torch(seed):
    ds = DictImages(n=24, seed=seed)
    model = cnn(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    res = train(model, (ds.x, ds.y), optimizer=opt, epochs=2, batch_size=6, seed=seed)
    import copy

    ref = copy.deepcopy(model)
    ropt = torch.optim.SGD(ref.parameters(), lr=0.05, momentum=0.9)
    for epoch in range(2):
        perm = np.random.default_rng([seed, epoch]).permutation(24)
        for lo in range(0, 24, 6):
            idx = torch.as_tensor(perm[lo: lo + 6])
            ropt.zero_grad()
            nn.functional.cross_entropy(ref(ds.x[idx]), ds.y[idx]).backward()
            ropt.step()
    assert_params_close(res.model, ref)
    assert res.optimizer == "SGD" and not opt.state  # the caller's optimizer was not stepped
    # the path length sums the actual update norms
    assert res.path_length >= res.dist_init - 1e-12


def test_plain_mlp_tuple_data_and_float32_default(seed):
    from tamelab.models import mlp

    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((30, 4)), rng.integers(0, 3, 30)
    m = mlp([4, 8, 3], seed=seed)
    res = train(m, (X, y), epochs=2, batch_size=10, seed=seed)
    assert res.dtype == "float32" and res.widths == [4, 8, 3] and res.history["loss"].shape == (6,)
    # eval numbers (fast addmm path) against torch on the same parameters
    Xt = torch.as_tensor(X, dtype=torch.float32)
    with torch.no_grad():
        out = res.model(Xt)
    assert res.final_train_loss == pytest.approx(float(nn.functional.cross_entropy(out, torch.as_tensor(y))), rel=1e-6)


class GradDot(Recorder):
    """A custom recorder: <g_k, g_{k-1}> at recorded steps, and a running count kept across resumes."""

    name, step_keys, epoch_keys = "grad_dot", ("grad_dot",), ()

    def __init__(self):
        self.prev = None
        self.count = 0

    def on_step(self, ctx, info):
        g = torch.cat([v.reshape(-1) for v in info.grads.values()])
        self.count += 1
        if info.recorded:
            ctx.history["grad_dot"].append(float(g @ self.prev) if self.prev is not None else float("nan"))
        self.prev = g.clone()

    def state_dict(self):
        return {"prev": self.prev, "count": self.count}

    def load_state_dict(self, state):
        self.prev, self.count = state["prev"], state["count"]


@pytest.mark.parametrize("opt", ["adam", "torch_adam"])
def test_bitwise_resume_of_a_batchnorm_cnn_with_custom_recorder(tmp_path, seed, opt):
    ds = DictImages(n=40, seed=seed)
    loader = DataLoader(ds, batch_size=8)

    def run(**kw):
        model = cnn(seed, bn=True)
        o = torch.optim.Adam(model.parameters(), lr=1e-2) if opt == "torch_adam" else "adam"
        return train(model, loader, test=(ds.x[:8], ds.y[:8]), optimizer=o, lr=1e-2, epochs=4, seed=seed,
                     recorders=["default", GradDot()], **kw)

    full = run()
    part = run(checkpoint_dir=tmp_path / "ck", stop_after_epochs=2)
    assert part.epochs_run == 2 and not part.ok
    res = run(checkpoint_dir=tmp_path / "ck", resume=True)
    assert res.ok and res.resumed_from_epoch == 1
    for k in full.history:
        assert np.array_equal(full.history[k], res.history[k], equal_nan=True), k
    sd_full, sd_res = full.model.state_dict(), res.model.state_dict()
    assert set(sd_full) == set(sd_res) and any("running_mean" in k for k in sd_full)  # buffers checkpointed
    for k in sd_full:
        assert torch.equal(sd_full[k], sd_res[k]), k
    assert res.path_length == full.path_length and len(res.snapshots) == len(full.snapshots)
    # a different initial model is refused
    other = cnn(seed + 1, bn=True)
    with pytest.raises(InputError, match="different initial model"):
        train(other, loader, test=(ds.x[:8], ds.y[:8]), optimizer="adam" if opt == "adam" else
              torch.optim.Adam(other.parameters(), lr=1e-2), lr=1e-2, epochs=4, seed=seed,
              recorders=["default", GradDot()], checkpoint_dir=tmp_path / "ck", resume=True)


def test_dropout_is_seeded_and_leaves_the_global_generator_alone(tmp_path):
    X, y = torch.randn(32, 6), torch.randint(0, 2, (32,))

    def model():
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(6, 16), nn.Dropout(0.5), nn.ReLU(), nn.Linear(16, 2))

    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = train(model(), (X, y), epochs=3, seed=5, batch_size=8)
    torch.set_rng_state(state)
    b = train(model(), (X, y), epochs=3, seed=5, batch_size=8, checkpoint_dir=tmp_path / "c", stop_after_epochs=1)
    b = train(model(), (X, y), epochs=3, seed=5, batch_size=8, checkpoint_dir=tmp_path / "c", resume=True)
    assert np.array_equal(a.history["loss"], b.history["loss"])
    torch.set_rng_state(state)
    c = train(model(), (X, y), epochs=3, seed=6, batch_size=8)
    assert not np.array_equal(a.history["loss"], c.history["loss"])
    m = model()
    torch.set_rng_state(state)
    train(m, (X, y), epochs=1, seed=5)
    assert torch.equal(torch.get_rng_state(), state)


def test_snapshots_and_record_every():
    X, y = torch.randn(20, 3, dtype=torch.float64), torch.randint(0, 2, (20,))
    m = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    r = train(m, (X, y), epochs=3, batch_size=5, snapshot_every=3, record_every=2)
    assert r.steps == 12 and r.snapshot_steps == [0, 3, 6, 9, 12]
    assert r.history["step"].tolist() == [2, 4, 6, 8, 10, 12]
    flat = lambda sd: torch.cat([v.flatten() for v in sd.values()])  # noqa: E731
    assert r.history["dist_init"][-1] == pytest.approx(float((flat(r.snapshots[-1]) - flat(r.snapshots[0])).norm()),
                                                       rel=1e-12)
    r2 = train(m, (X, y), epochs=3, batch_size=5, snapshot_every=None)
    assert r2.snapshot_steps == [0, 12]


def test_loader_of_unknown_order_is_iterated_as_given():
    batches = [(torch.randn(4, 3), torch.randint(0, 2, (4,))) for _ in range(3)]
    m = nn.Linear(3, 2)
    r = train(m, batches, epochs=2)
    assert r.steps == 6 and r.batch_order == "as given by the loader"


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"optimizer": "lbfgs"}, "optimizer.*unknown"),
        ({"lr": float("inf")}, "lr.*finite"),
        ({"lr": -1.0}, "lr"),
        ({"epochs": 0}, "epochs"),
        ({"loss": "hinge"}, "loss.*unknown"),
        ({"device": "tpu"}, "device"),
        ({"dtype": "int8"}, "dtype"),
        ({"recorders": ["bogus"]}, "unknown recorder"),
        ({"recorders": ["loss", "loss"]}, "two recorders"),
        ({"log": "wandb"}, "unknown logger"),
        ({"resume": True}, "checkpoint_dir"),
        ({"snapshot_every": 1, "max_snapshot_bytes": 10}, "snapshot_every.*GiB"),
    ],
)
def test_bad_arguments_are_one_input_error_before_work(kw, match):
    X, y = torch.randn(20, 3), torch.randint(0, 2, (20,))
    with pytest.raises(InputError, match=match):
        train(nn.Linear(3, 2), (X, y), **kw)


def test_model_data_mismatch_and_lbfgs_are_refused():
    X, y = torch.randn(20, 3), torch.randint(0, 2, (20,))
    with pytest.raises(InputError, match="does not accept"):
        train(nn.Linear(4, 2), (X, y))
    with pytest.raises(InputError, match="cross_entropy cannot compare|targets"):
        train(nn.Linear(3, 2), (X, torch.randn(20, 5)))
    m = nn.Linear(3, 2)
    with pytest.raises(InputError, match="LBFGS"):
        train(m, (X, y), optimizer=torch.optim.LBFGS(m.parameters()))
    with pytest.raises(InputError, match="not trainable parameters"):
        train(m, (X, y), optimizer=torch.optim.SGD(nn.Linear(3, 2).parameters(), lr=0.1))


def test_non_finite_loss_stops_with_the_step():
    from tamelab.errors import ComputationError

    X, y = torch.randn(20, 3), torch.randint(0, 2, (20,))
    with pytest.raises(ComputationError, match="non-finite training loss at step"):
        train(nn.Linear(3, 2), (X * 1e30, y), optimizer="sgd", lr=1e30, epochs=3)


def test_save_model_writes_the_state_dict(tmp_path):
    from tamelab.models import load_weights

    ds = DictImages(n=16)
    r = train(cnn(0), (ds.x, ds.y), epochs=1)
    p = r.save_model(tmp_path / "m.safetensors")
    m = load_weights(cnn(1), p)
    assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), r.model.state_dict().values()))


def test_train_on_device_agrees_on_cpu_and_refuses_a_mismatch():
    from tamelab.train import train_on_device

    torch.manual_seed(0)
    X, y = torch.randn(64, 5), torch.randint(0, 3, (64,))
    m = ln_gelu_mlp(0).float()
    ok = train_on_device(m, (X, y), device="cpu", dtype="float32", epochs=2, batch_size=16)
    assert ok.ok and ok.param_rel_diff < 1e-5 and ok.steps == 8
    # a float32 run held to a float64 tolerance is not certified
    strict = train_on_device(m, (X, y), device="cpu", dtype="float32", epochs=2, batch_size=16, rtol=1e-12)
    assert not strict.ok and strict.status == "uncertified"


def test_tensorboard_export(tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard is an optional extra (pip install tensorboard)")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    X, y = torch.randn(30, 3), torch.randint(0, 2, (30,))
    r = train(nn.Linear(3, 2), (X, y), test=(X[:10], y[:10]), epochs=3, batch_size=10, log="tensorboard",
              log_dir=tmp_path / "tb")
    ea = EventAccumulator(str(tmp_path / "tb"))
    ea.Reload()
    tags = set(ea.Tags()["scalars"])
    assert {"step/loss", "step/grad_norm", "step/param_norm", "epoch/test_acc", "epoch/train_loss"} <= tags
    got = [(e.step, e.value) for e in ea.Scalars("step/loss")]
    assert [s for s, _ in got] == r.history["step"].astype(int).tolist()
    assert np.allclose([v for _, v in got], r.history["loss"], rtol=1e-6)
    assert [e.step for e in ea.Scalars("epoch/train_loss")] == [3, 6, 9]
    assert r.exports == {"tensorboard": str(tmp_path / "tb")}


def test_missing_logger_package_is_named(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    with pytest.raises(InputError, match="needs the 'tensorboard' package"):
        train(nn.Linear(3, 2), (torch.randn(4, 3), torch.zeros(4, dtype=torch.long)), log="tensorboard", log_dir="x")


def test_mlflow_export(tmp_path, monkeypatch):
    pytest.importorskip("mlflow", reason="mlflow is optional (pip install mlflow-skinny)")
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow >= 3.7 refuses file stores otherwise
    X, y = torch.randn(30, 3), torch.randint(0, 2, (30,))
    uri = (tmp_path / "mlruns").as_uri()
    r = train(nn.Linear(3, 2), (X, y), epochs=2, batch_size=10, log="mlflow", log_dir=uri)
    run_id = r.exports["mlflow"].rsplit(" ", 1)[-1]
    c = MlflowClient(uri)
    hist = c.get_metric_history(run_id, "step/loss")
    assert sorted(m.step for m in hist) == r.history["step"].astype(int).tolist()
    assert np.allclose([m.value for m in sorted(hist, key=lambda m: m.step)], r.history["loss"], rtol=1e-6)
    assert c.get_run(run_id).info.status == "FINISHED"
    assert c.get_run(run_id).data.params["loss"] == "cross_entropy"


def test_corrupt_or_foreign_checkpoints_are_one_line(tmp_path):
    import json

    from safetensors.torch import save_file

    X, y = torch.randn(20, 3), torch.randint(0, 2, (20,))
    ck = tmp_path / "ck"
    ck.mkdir()
    (ck / "state.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(InputError, match="--resume.*not a readable checkpoint"):
        train(nn.Linear(3, 2), (X, y), checkpoint_dir=ck, resume=True)
    save_file({"a": torch.zeros(1)}, str(ck / "state.safetensors"))
    with pytest.raises(InputError, match="not a tamelab checkpoint"):
        train(nn.Linear(3, 2), (X, y), checkpoint_dir=ck, resume=True)
    save_file({"a": torch.zeros(1)}, str(ck / "state.safetensors"), metadata={"tamelab_state": json.dumps({"format": 1})})
    with pytest.raises(InputError, match="another version"):
        train(nn.Linear(3, 2), (X, y), checkpoint_dir=ck, resume=True)
    # a real checkpoint with a tensor missing
    torch.manual_seed(0)
    m = nn.Linear(3, 2)
    train(m, (X, y), epochs=2, checkpoint_dir=ck, stop_after_epochs=1)
    from safetensors import safe_open
    from safetensors.torch import load_file

    t = load_file(str(ck / "state.safetensors"))
    with safe_open(str(ck / "state.safetensors"), framework="pt") as fh:
        meta = fh.metadata()
    t.pop(next(k for k in t if k.startswith("opt/")))
    save_file(t, str(ck / "state.safetensors"), metadata=meta)
    with pytest.raises(InputError, match="incomplete or corrupt"):
        train(m, (X, y), epochs=2, checkpoint_dir=ck, resume=True)
