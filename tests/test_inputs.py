"""The input contract (tamelab.inputs), the loss registry and the parameter flattener."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, TensorDataset

from tamelab import InputError
from tamelab._params import flat_params, flatten, n_params, param_dict, set_flat_params, unflatten
from tamelab.inputs import Data, as_data, as_model, evaluate, model_on, resolve_device, resolve_dtype
from tamelab.losses import LOSSES, resolve_loss


def _xy(n=13, d=4, c=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64), torch.randint(0, c, (n,), generator=g)


class DictDS(Dataset):
    def __init__(self, X, y, keys=("image", "label")):
        self.X, self.y, self.keys = X, y, keys

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return {self.keys[0]: self.X[i], self.keys[1]: self.y[i], "idx": i}


# ----------------------------------------------------------------------------- data sources
def _all_sources(X, y):
    return {
        "tuple-tensors": (X, y),
        "tuple-numpy": (X.numpy(), y.numpy()),
        "targets-kw": None,
        "dict-arrays": {"x": X.numpy(), "y": y.numpy()},
        "tensor-dataset": TensorDataset(X, y),
        "loader-tuple": DataLoader(TensorDataset(X, y), batch_size=4),
        "loader-dict": DataLoader(DictDS(X, y), batch_size=5),
        "loader-shuffled-droplast": DataLoader(TensorDataset(X, y), batch_size=4, shuffle=True, drop_last=True),
        "list-of-batches": [(X[:6], y[:6]), (X[6:], y[6:])],
    }


@pytest.mark.parametrize("kind", list(_all_sources(*_xy())))
def test_every_source_gives_the_same_samples_and_the_same_loss(kind):
    X, y = _xy()
    src = _all_sources(X, y)[kind]
    d = as_data(X, y) if kind == "targets-kw" else as_data(src)
    Xs, ys = d.tensors(dtype=torch.float64)
    assert Xs.shape == X.shape and torch.equal(ys, y)
    # an order-independent check that every sample is there exactly once
    assert torch.allclose(Xs.sum(0), X.sum(0)) and torch.allclose((Xs**2).sum(0), (X**2).sum(0))
    assert d.count() == 13 and d.ordered
    model = torch.nn.Linear(4, 3).double()
    with torch.no_grad():
        ref = float(F.cross_entropy(model(X), y))
        acc = float((model(X).argmax(1) == y).double().mean())
    ev = evaluate(model, d, "cross_entropy")
    assert ev.n == 13 and ev.loss == pytest.approx(ref, rel=1e-12)
    assert ev.accuracy == pytest.approx(acc)


def test_shuffled_loader_is_reread_in_order_with_every_sample():
    X, y = _xy()
    dl = DataLoader(TensorDataset(X, y), batch_size=4, shuffle=True, drop_last=True)
    d = as_data(dl)
    a = torch.cat([x for x, _ in d.batches()])
    b = torch.cat([x for x, _ in d.batches()])
    assert torch.equal(a, X) and torch.equal(b, X)


def test_dict_batches_keys_named_and_missing():
    X, y = _xy()
    dl = DataLoader(DictDS(X, y, keys=("pix", "cls")), batch_size=4)
    with pytest.raises(InputError, match="input_key"):
        as_data(dl)
    d = as_data(dl, input_key="pix", target_key="cls")
    assert torch.equal(d.tensors()[1], y)
    with pytest.raises(InputError, match="target_key"):
        as_data(dl, input_key="pix")


@pytest.mark.parametrize(
    "bad, match",
    [
        ((torch.zeros(3, 2), torch.zeros(4)), "lengths must match"),
        ((torch.full((3, 2), float("nan")), torch.zeros(3)), "NaN"),
        ((torch.zeros(3, 2), torch.tensor([0, -1, 1])), ">= 0"),
        (torch.zeros(3, 2), "without targets"),
        (iter([(torch.zeros(2, 2), torch.zeros(2))]), "one-shot"),
        ("digits", "load named data"),
        (42, "unsupported"),
        ([], "empty"),
    ],
)
def test_bad_data_is_one_input_error(bad, match):
    with pytest.raises(InputError, match=match) as e:
        as_data(bad)
    assert "\n" not in str(e.value)


def test_integer_and_float_targets_keep_their_kind_and_dtype():
    X, y = _xy()
    d = as_data((X.float(), y.int()))
    x, t = next(d.batches(dtype=torch.float64))
    assert x.dtype == torch.float64 and t.dtype == torch.long
    d2 = as_data((X, torch.randn(13, 2)))
    x, t = next(d2.batches(dtype=torch.float32))
    assert t.dtype == torch.float32 and not d2.labels


def test_subset_and_batch_size():
    X, y = _xy()
    d = as_data((X, y), batch_size=5)
    assert [b[0].shape[0] for b in d.batches()] == [5, 5, 3]
    s = d.subset(7)
    assert s.n == 7 and torch.equal(s.X, X[:7])
    with pytest.raises(InputError, match="batch_size"):
        as_data((X, y), batch_size=0)


# ----------------------------------------------------------------------------- losses
@pytest.mark.parametrize(
    "name, ref",
    [
        ("cross_entropy", lambda o, y: F.cross_entropy(o, y)),
        ("nll", lambda o, y: F.nll_loss(o, y)),
        ("mse", lambda o, y: ((o - F.one_hot(y, 3).double()) ** 2).mean()),
        ("l1", lambda o, y: (o - F.one_hot(y, 3).double()).abs().mean()),
    ],
)
def test_registry_losses_equal_their_closed_forms(name, ref):
    g = torch.Generator().manual_seed(1)
    o = torch.randn(7, 3, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (7,), generator=g)
    assert float(resolve_loss(name)(o, y)) == pytest.approx(float(ref(o, y)), rel=1e-14)


def test_loss_aliases_callables_modules_and_errors():
    assert resolve_loss("CE") is LOSSES["cross_entropy"]
    assert resolve_loss(None).name == "cross_entropy"
    f = resolve_loss(F.mse_loss)
    assert f.name == "mse_loss" and f.targets == "any" and not f.builtin
    assert resolve_loss(torch.nn.CrossEntropyLoss()).name == "CrossEntropyLoss"
    for bad, match in [
        ("nlll", "unknown loss"),
        (3, "expected a loss name"),
        (torch.nn.MSELoss(reduction="none"), "reduction"),
    ]:
        with pytest.raises(InputError, match=match):
            resolve_loss(bad)
    with pytest.raises(InputError, match="required"):
        resolve_loss(None, default=None)


# ----------------------------------------------------------------------------- device / dtype / model
def test_device_and_dtype_resolution():
    assert resolve_device("cpu").type == "cpu" and resolve_device("auto").type in ("cpu", "cuda")
    assert resolve_dtype("double") is torch.float64 and resolve_dtype(None) is torch.float32
    for bad, match in [("bogus", "unknown dtype"), ("float16", "not supported"), (3, "expected a dtype")]:
        with pytest.raises(InputError, match=match):
            resolve_dtype(bad)
    assert resolve_dtype("float16", allowed=(torch.float16,)) is torch.float16
    with pytest.raises(InputError, match="unknown device"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA is not available"):
            resolve_device("cuda:0")


def test_model_on_never_changes_the_callers_model():
    m = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    m2 = model_on(m, "cpu", "float64")
    assert m2 is not m and next(m.parameters()).dtype == torch.float32
    assert all(t.dtype == torch.float64 for t in m2.state_dict().values() if t.is_floating_point())
    assert model_on(m2, "cpu", torch.float64) is m2
    with pytest.raises(InputError, match="nn.Module"):
        as_model(lambda x: x)


# ----------------------------------------------------------------------------- parameters
def test_flattener_round_trip_and_order():
    m = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(), torch.nn.Linear(8, 3))
    v = flat_params(m)
    assert v.numel() == n_params(m) == 2 * 9 + 2 + 24 + 3
    ref = torch.cat([p.detach().reshape(-1) for p in m.parameters()])
    assert torch.equal(v, ref)
    views = unflatten(v * 2, param_dict(m))
    assert torch.equal(views["2.weight"], 2 * m[2].weight.detach())
    set_flat_params(m, v * 3)
    assert torch.equal(flat_params(m), 3 * v)
    sub = flat_params(m, ["2.bias"])
    assert torch.equal(sub, m[2].bias.detach())
    with pytest.raises(InputError, match="unknown parameter"):
        flat_params(m, ["nope"])
    with pytest.raises(InputError, match="entries"):
        unflatten(torch.zeros(5), param_dict(m))
    assert torch.equal(flatten([torch.ones(2), torch.zeros(1)]), torch.tensor([1.0, 1.0, 0.0]))


def test_data_is_exported():
    assert isinstance(as_data((np.zeros((2, 2)), np.zeros(2, dtype=int))), Data)


def test_load_model_factory_and_weights(tmp_path, monkeypatch):
    from safetensors.torch import save_file

    from tamelab.models import load_model

    (tmp_path / "mynets.py").write_text(
        "import torch\n"
        "def cnn(width=4):\n"
        "    return torch.nn.Sequential(torch.nn.Conv2d(1, width, 3), torch.nn.ReLU(), torch.nn.Flatten(),\n"
        "                               torch.nn.Linear(width * 36, 10))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    m = load_model("mynets:cnn")
    save_file({k: v.contiguous() for k, v in m.state_dict().items()}, str(tmp_path / "w.safetensors"))
    m2 = load_model("mynets:cnn", tmp_path / "w.safetensors")
    assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), m2.state_dict().values()))
    for spec, w, match in [
        ("mynets:nope", None, "no attribute"),
        ("nomod_xyz:f", None, "cannot import"),
        ("mynets:cnn", tmp_path / "missing.safetensors", "not found"),
        ("bad spec:x", None, "form package.module:factory"),
    ]:
        with pytest.raises(InputError, match=match):
            load_model(spec, w)
    (tmp_path / "wrong.safetensors").write_bytes(b"\x80\x04pickle")
    with pytest.raises(InputError, match="not a readable safetensors"):
        load_model("mynets:cnn", tmp_path / "wrong.safetensors")
    save_file({"0.weight": torch.zeros(4, 1, 3, 3)}, str(tmp_path / "partial.safetensors"))
    with pytest.raises(InputError, match="keys do not match"):
        load_model("mynets:cnn", tmp_path / "partial.safetensors")


def test_pwl_from_layers_matches_the_torch_mlp():
    from tamelab.models import from_layers, mlp, relu_layers

    m = mlp([3, 5, 4, 2], seed=0).double()
    net = from_layers(relu_layers(m))
    X = torch.randn(9, 3, dtype=torch.float64)
    with torch.no_grad():
        ref = m(X).numpy()
    assert np.allclose(net.forward(X.numpy()), ref, atol=1e-13)
    assert net.n_neurons == 9 and net.in_dim == 3 and net.out_dim == 2 and net.relu_nodes() == [2, 4]
