import numpy as np
import pytest
import torch
from torch import nn

from tamelab import InputError
from tamelab.models import (
    TiedAutoencoder,
    from_state_dict,
    linear_net,
    load,
    mlp,
    poly_net,
    relu_layers,
    save,
    widths_of,
)


def test_mlp_matches_torch_manual_seed_default_init():
    torch.manual_seed(0)
    ref = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))
    m = mlp([64, 128, 128, 10], seed=0)
    for (k1, v1), (k2, v2) in zip(ref.state_dict().items(), m.state_dict().items()):
        assert k1 == k2
        assert torch.equal(v1, v2)


def test_mlp_does_not_touch_global_rng():
    torch.manual_seed(123)
    a = torch.rand(3)
    torch.manual_seed(123)
    mlp([4, 5, 2], seed=7)
    assert torch.equal(torch.rand(3), a)


def test_save_load_roundtrip_is_exact(tmp_path, seed):
    m = mlp([3, 7, 5, 2], seed=seed, dtype=torch.float64)
    p = save(m, tmp_path / "m.safetensors")
    m2 = load(p)
    x = torch.randn(11, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    assert torch.equal(m(x), m2(x))
    assert widths_of(m2) == [3, 7, 5, 2]
    assert list(m2.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]


def test_relu_layers_returns_float64_arrays():
    m = mlp([2, 3, 1], seed=0)
    layers = relu_layers(m)
    assert [W.shape for W, _ in layers] == [(3, 2), (1, 3)]
    assert all(W.dtype == np.float64 and b.dtype == np.float64 for W, b in layers)
    x = np.array([0.3, -0.7])
    h = np.maximum(layers[0][0] @ x + layers[0][1], 0)
    out = layers[1][0] @ h + layers[1][1]
    assert np.allclose(out, m(torch.tensor(x, dtype=torch.float32)).detach().numpy(), atol=1e-6)


@pytest.mark.parametrize(
    "keys, match",
    [
        ({"0.weight": torch.zeros(2, 2), "1.weight": torch.zeros(2, 2)}, "odd"),
        ({"0.weight": torch.zeros(2, 2), "4.weight": torch.zeros(2, 2)}, "alternate"),
        ({"0.kernel": torch.zeros(2, 2)}, "0.kernel"),
        ({"0.weight": torch.zeros(2, 2), "2.weight": torch.zeros(2, 3)}, "2.weight"),
        ({"0.weight": torch.zeros(2)}, "2-D"),
        ({"0.weight": torch.full((2, 2), float("nan"))}, "NaN"),
    ],
)
def test_bad_layouts_are_rejected_naming_the_key(keys, match):
    with pytest.raises(InputError, match=match):
        from_state_dict(keys)


def test_relu_layers_rejects_non_relu_naming_layer():
    m = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    with pytest.raises(InputError, match="layer 1.*Tanh"):
        relu_layers(m)


def test_load_refuses_pickles(tmp_path):
    p = tmp_path / "m.pt"
    torch.save(mlp([2, 2, 1]).state_dict(), p)
    with pytest.raises(InputError, match="safetensors"):
        load(p)
    with pytest.raises(InputError, match="not found"):
        load(tmp_path / "missing.safetensors")


def test_other_families_compute_what_they_say(seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(5, 3, dtype=torch.float64, generator=g)
    lin = linear_net([3, 4, 2], seed=seed)
    assert torch.allclose(lin(x), x @ (lin[1].weight @ lin[0].weight).T)
    pn = poly_net([3, 4, 1], 3, seed=seed)
    assert torch.allclose(pn(x), ((x @ pn[0].weight.T) ** 3) @ pn[2].weight.T)
    ae = TiedAutoencoder(3, 5, eps=0.1, seed=seed)
    W = ae.W.detach()
    assert torch.allclose(ae(x), torch.relu(x @ W.T - 0.1) @ W)
    assert torch.allclose(W.norm(dim=1), torch.ones(5, dtype=torch.float64))


def test_weights_only_file_never_reloads_as_a_different_function(tmp_path):
    """A file written by ``models.save`` records whether it can be rebuilt from the weights alone: a ReLU MLP
    reloads bit-identically; a Tanh MLP or a model ending in a ReLU is refused (its architecture is not in the
    file) instead of coming back as ``Sequential(Linear, ReLU, Linear)``, a different function."""
    import torch
    from torch import nn

    from tamelab.errors import InputError
    from tamelab.models import load, load_model, save

    torch.manual_seed(0)
    x = torch.randn(5, 3)
    ok = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    save(ok, tmp_path / "ok.safetensors")
    assert torch.equal(load(tmp_path / "ok.safetensors")(x), ok(x))
    tanh = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    for name, bad in (("tanh", tanh), ("trailing-relu", nn.Sequential(nn.Linear(3, 4), nn.ReLU()))):
        f = tmp_path / f"{name}.safetensors"
        save(bad, f)
        with pytest.raises(InputError, match="factory"):
            load(f)
    # the weights still load through a factory
    (tmp_path / "tanhnet.py").write_text(
        "from torch import nn\n\ndef make():\n    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))\n"
    )
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        m = load_model("tanhnet:make", weights=tmp_path / "tanh.safetensors")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("tanhnet", None)
    assert torch.equal(m(x), tanh(x))
