"""Lowering torch models to piecewise-linear programs (tamelab.models.lower) against the torch forward pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tamelab.errors import InputError, NotApplicableError
from tamelab.models import Affine, Max, PWLNet, ReLU, from_layers, lower, mlp


def _agree(model, in_shape, n=200, seed=0, scale=2.0):
    """max |program(x) - model(x)| in float64 on seeded Gaussian inputs, relative to the output scale."""
    net = lower(model, in_shape=in_shape)
    g = torch.Generator().manual_seed(seed)
    X = scale * torch.randn((n, *in_shape), generator=g, dtype=torch.float64)
    with torch.no_grad():
        want = model.double()(X).reshape(n, -1).numpy()
    got = net.forward(X.reshape(n, -1).numpy())
    assert got.shape == want.shape
    return net, float(np.abs(got - want).max() / max(1.0, np.abs(want).max()))


def _randomise_bn(model):
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=g) * 2 - 1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.bias.shape, generator=g) - 0.5)
    return model.eval()


class Residual(nn.Module):
    """conv → BN(eval) → LeakyReLU → conv, + skip, ReLU, minus a scaled skip, AvgPool, Linear."""

    def __init__(self, c=2):
        super().__init__()
        self.c1 = nn.Conv2d(c, c, 3, padding=1)
        self.bn = nn.BatchNorm2d(c)
        self.c2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.pool = nn.AvgPool2d(2)
        self.fc = nn.Linear(c * 3 * 3, 3)

    def forward(self, x):
        y = F.leaky_relu(self.bn(self.c1(x)), 0.1)
        y = self.c2(y) + x
        y = torch.relu(y) - 0.5 * x
        return self.fc(torch.flatten(self.pool(y), 1))


def conv_net(seed=0):
    """The issue's reference CNN: 1×8×8 → Conv 4 → ReLU → MaxPool → Linear 10."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 10)
    ).double()


@pytest.mark.parametrize("widths", [[3, 5, 1], [2, 8, 8, 3], [4, 6, 6, 6, 2]])
def test_mlp_lowers_to_its_own_layers(widths):
    m = mlp(widths, seed=1, dtype=torch.float64)
    net, err = _agree(m, (widths[0],))
    assert err < 1e-13
    assert net.is_mlp()
    ref = from_layers(
        [(lin.weight.detach().numpy(), lin.bias.detach().numpy()) for lin in m if isinstance(lin, nn.Linear)]
    )
    assert [type(n) for n in net.nodes] == [type(n) for n in ref.nodes] and net.widths == ref.widths
    for a, b in zip(net.mlp_layers(), ref.mlp_layers()):  # bit-identical weights
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_conv_maxpool_net():
    net, err = _agree(conv_net(), (1, 8, 8))
    assert err < 1e-12
    assert [type(n) for n in net.nodes[1:]] == [Affine, ReLU, Max, Affine]
    assert net.widths == [64, 256, 256, 64, 10] and net.out_shape == (10,)
    # the Max groups are the 2×2 windows of each channel: 4 distinct inputs each
    assert net.nodes[3].groups.shape == (64, 4) and all(len(set(g)) == 4 for g in net.nodes[3].groups.tolist())


def test_residual_block_with_bn_leaky_avgpool():
    net, err = _agree(_randomise_bn(Residual()), (2, 6, 6))
    assert err < 1e-12
    kinds = [type(n).__name__ for n in net.nodes[1:]]
    assert kinds.count("ReLU") == 2 and any(isinstance(n, ReLU) and n.slope == 0.1 for n in net.nodes[1:])
    assert any(isinstance(n, Affine) and len(n.sources) == 2 for n in net.nodes[1:])  # the skip connection


def test_conv1d_functional_forms_and_pwl_rewrites():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(2, 3, 3, stride=2, padding=1)
            self.w = nn.Parameter(torch.randn(4, 9))

        def forward(self, x):
            h = self.conv(x)  # 3 × 4
            a = F.relu6(h * 3.0)
            b = torch.clamp(h, min=-0.2, max=0.3) + torch.abs(h - 0.1)
            c = torch.maximum(a, b) - torch.minimum(a, -b) / 2
            d = torch.cat([c, F.max_pool1d(h, 2, 2, ceil_mode=True)], dim=2)  # 3 × 6
            e = F.hardtanh(d.view(x.size(0), -1)[:, :9], -0.5, 0.7)
            return F.linear(e, self.w) + x.flatten(1)[:, :4] * 2

    torch.manual_seed(3)
    _, err = _agree(M(), (2, 8))
    assert err < 1e-12


def test_conv_transpose_padding_adaptive_pools():
    torch.manual_seed(4)
    m = nn.Sequential(
        nn.ConvTranspose2d(1, 2, 3, stride=2),
        nn.ZeroPad2d(1),
        nn.ReLU(),
        nn.AdaptiveMaxPool2d(3),
        nn.AdaptiveAvgPool2d(2),
        nn.Dropout(0.3),
        nn.Identity(),
        nn.Flatten(),
        nn.Linear(8, 2),
    ).eval()
    _, err = _agree(m, (1, 3, 3))
    assert err < 1e-12


def test_float32_and_bfloat16_models_are_lowered_in_float64_exactly():
    m32 = mlp([3, 4, 2], seed=0)  # float32
    net = lower(m32)
    assert net.nodes[1].A[0].dtype == np.float64
    assert np.array_equal(net.nodes[1].A[0], m32[0].weight.detach().double().numpy())
    assert m32[0].weight.dtype == torch.float32  # caller's model untouched
    mbf = mlp([3, 4, 2], seed=0).to(torch.bfloat16)
    assert np.array_equal(lower(mbf).nodes[1].A[0], mbf[0].weight.detach().double().numpy())


@pytest.mark.parametrize(
    "layer, word",
    [(nn.GELU(), "GELU"), (nn.LayerNorm(4), "LayerNorm"), (nn.Tanh(), "Tanh"), (nn.Softmax(-1), "Softmax")],
)
def test_not_piecewise_linear_layers_are_refused_by_name(layer, word):
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Sequential(nn.Linear(4, 4), layer), nn.Linear(4, 1))
    with pytest.raises(NotApplicableError, match=rf"layer '2\.1' \({word}\).*not piecewise linear"):
        lower(m)


def test_train_mode_bn_dropout_and_other_refusals():
    with pytest.raises(NotApplicableError, match=r"layer '1' \(BatchNorm1d\).*training mode"):
        lower(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1)))
    with pytest.raises(NotApplicableError, match=r"Dropout.*training mode"):
        lower(nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Linear(4, 1)))

    class Gelu(nn.Module):
        def forward(self, x):
            return F.gelu(x) + x

    with pytest.raises(NotApplicableError, match="gelu.*not piecewise linear"):
        lower(Gelu(), in_shape=(3,))

    class Product(nn.Module):
        def forward(self, x):
            return x * x

    with pytest.raises(NotApplicableError, match="not piecewise linear"):
        lower(Product(), in_shape=(3,))

    class Branch(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    with pytest.raises(NotApplicableError, match="torch.fx cannot trace"):
        lower(Branch(), in_shape=(3,))


def test_bad_input():
    with pytest.raises(InputError, match="in_shape"):
        lower(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten()))  # cannot infer
    m = mlp([3, 4, 1], seed=0, dtype=torch.float64)
    with torch.no_grad():
        m[0].weight[0, 0] = float("nan")
    with pytest.raises(InputError, match="'0.weight'.*NaN"):
        lower(m)
    lin = nn.Linear(3, 1)
    lin.weight = nn.Parameter(torch.ones(1, 3, dtype=torch.int64), requires_grad=False)
    with pytest.raises(InputError, match="'0.weight'.*int64"):
        lower(nn.Sequential(lin))
    with pytest.raises(InputError, match="max_entries"):
        lower(conv_net(), in_shape=(1, 8, 8), max_entries=1000)
    with pytest.raises(NotApplicableError, match="could not be lowered"):
        lower(conv_net(), in_shape=(1, 10, 10))  # 4·5·5 = 100 inputs for Linear(64)


def test_pwlnet_passes_through_and_patterns():
    net = from_layers([([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]), ([[1.0, 1.0]], [0.0])])
    assert lower(net) is net
    assert isinstance(net, PWLNet)
    assert net.patterns(np.array([[1.0, -1.0], [-1.0, 2.0]])).tolist() == [[1, 0], [0, 1]]
