"""ReLU'(0) = s: custom backward, kink counter, paired training and the Bertoin et al. study (spec §4)."""

import numpy as np
import pytest
import torch
from torch import nn

from tamelab.data import load_data
from tamelab.errors import InputError
from tamelab.tame import (
    KinkCounter,
    ReLUPrime,
    bifurcation_volume,
    paired_training,
    plot_relu_prime_zero,
    relu_prime,
    relu_prime_mlp,
    relu_prime_zero_study,
    wilson_interval,
)


@pytest.mark.parametrize("s", [0.0, 0.25, 1.0])
def test_relu_prime_forward_and_backward_exact(s):
    z = torch.tensor([-2.0, -0.0, 0.0, 3.0], dtype=torch.float64, requires_grad=True)
    out = relu_prime(z, s)
    assert torch.equal(out.detach(), torch.relu(z.detach()))
    out.sum().backward()
    assert z.grad.tolist() == [0.0, s, s, 1.0]


def test_relu_prime_under_torch_func_grad_and_vmap():
    from torch.func import grad, vmap

    f = lambda x: (relu_prime(x, 0.5) - relu_prime(-x, 0.5)).sum()  # noqa: E731  (≡ x)
    g = vmap(grad(f))(torch.tensor([[0.0], [1.0], [-1.0]], dtype=torch.float64))
    assert g.reshape(-1).tolist() == [1.0, 1.0, 1.0]
    # matches torch's own relu (s = 0) away from and at the kink
    x = torch.tensor([0.0, 0.7, -0.2], requires_grad=True)
    torch.relu(x).sum().backward()
    assert torch.equal(x.grad, grad(lambda t: relu_prime(t, 0.0).sum())(x.detach()))


def test_relu_prime_rejects_bad_s():
    with pytest.raises(InputError, match="s"):
        ReLUPrime(1.5)
    with pytest.raises(InputError, match="s"):
        relu_prime(torch.zeros(1), -0.1)


def test_kink_counter_counts_exact_zero_preactivations_per_layer_and_step():
    net = nn.Sequential(nn.Linear(2, 3), ReLUPrime(0.0), nn.Linear(3, 2), nn.ReLU())
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, -1.0], [1.0, 0.0], [0.0, 0.0]]))
        net[0].bias.zero_()
        net[2].weight.zero_()
        net[2].bias.copy_(torch.tensor([0.0, 1.0]))
    X = torch.tensor([[1.0, 1.0], [2.0, 1.0]])
    with KinkCounter(net) as kc:
        net(X)
        first = kc.step()
        net(X[:1])
        second = kc.step()
    # layer 1: unit 0 zero for sample 0, unit 2 zero always -> 3; layer 3: output 0 is exactly 0 -> 2
    assert first == {"1": 3, "3": 2} and second == {"1": 2, "3": 1}
    assert kc.total == 8 and kc.seen == 3 * 2 + 2 * 2 + 3 + 2
    net(X)  # hooks removed on exit
    assert kc.total == 8


def test_wilson_interval_reference_values():
    lo, hi = wilson_interval(0, 100)
    assert lo == 0.0 and hi == pytest.approx(0.036995, abs=1e-5)
    lo, hi = wilson_interval(50, 100)
    assert lo == pytest.approx(0.403832, abs=1e-5) and hi == pytest.approx(0.596168, abs=1e-5)


def test_same_init_across_s_and_fp16_grid():
    a = relu_prime_mlp([4, 5, 3], 0.0, seed=3, dtype="float64")
    b = relu_prime_mlp([4, 5, 3], 1.0, seed=3, dtype="float64")
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    h = relu_prime_mlp([4, 5, 3], 0.0, seed=3, dtype="float16")
    for p, q in zip(h.parameters(), a.parameters()):
        assert torch.equal(p, q.to(torch.float16).to(torch.float32))  # values on the fp16 grid
    x = torch.rand(6, 4)
    out = h(x)
    assert torch.equal(out, out.to(torch.float16).to(torch.float32))


@pytest.fixture(scope="module")
def digits_small():
    tr = load_data("digits", split="train")
    te = load_data("digits", split="test")
    return tr.subset(np.arange(320)), te.subset(np.arange(100))


def test_paired_training_fp64_bitwise_identical_and_fp16_hits_kinks(digits_small):
    tr, te = digits_small
    r64 = paired_training(tr, te, widths=[64, 32, 32, 10], dtype="float64", seed=0, epochs=2, batch_size=32, lr=0.05)
    assert r64.bitwise_identical and r64.param_l1_gap == 0.0
    assert all(r["kinks_total"] == 0 for r in r64.runs.values())
    r16 = paired_training(tr, te, widths=[64, 32, 32, 10], dtype="float16", seed=0, epochs=2, batch_size=32, lr=0.05)
    k16 = [r["kinks_total"] for r in r16.runs.values()]
    assert min(k16) > 0
    assert len(r16.runs["0.0"]["train_loss"]) == 2 and len(r16.runs["1.0"]["test_acc"]) == 2


def test_paired_training_replays_sgd_by_hand(digits_small):
    tr, te = digits_small
    r = paired_training(
        tr.subset(np.arange(32)),
        te,
        widths=[64, 6, 10],
        dtype="float64",
        seed=2,
        epochs=1,
        batch_size=32,
        lr=0.1,
        s_values=(0.0, 1.0),
    )
    from tamelab.models import mlp

    m = mlp([64, 6, 10], seed=2, dtype=torch.float64)
    X, y = torch.as_tensor(tr.X[:32]), torch.as_tensor(tr.y[:32])
    loss = nn.functional.cross_entropy(m(X), y)
    loss.backward()
    assert r.runs["0.0"]["train_loss"][0] == pytest.approx(float(loss.detach()), abs=1e-14)


def test_bifurcation_volume_precision_ordering(digits_small):
    tr, _ = digits_small
    kw = dict(widths=[64, 64, 64, 10], n_init=4, batch_size=64, seed=0)
    v16 = bifurcation_volume(tr.X, tr.y, dtype="float16", **kw)
    v64 = bifurcation_volume(tr.X, tr.y, dtype="float64", **kw)
    assert v64.fraction == 0.0 and v64.exact_zeros_seen == 0
    assert v16.fraction > v64.fraction and v16.exact_zeros_seen > 0
    lo, hi = v16.wilson95
    assert lo <= v16.fraction <= hi


def test_study_contract_and_plot():
    cfg = {
        "seeds": [0],
        "epochs": 1,
        "dtypes": ["float16", "float64"],
        "s_values": [0, 1],
        "batch_size": 64,
        "lr": 0.05,
        "widths": [64, 16, 10],
        "volume_inits": 2,
        "volume_widths": [64, 16, 10],
        "volume_samples": 256,
    }
    r = relu_prime_zero_study(cfg)
    assert set(r.to_dict()) >= {"config", "volume", "training", "summary", "seconds", "schema_version", "kind"}
    assert r.summary["float64"]["all_bitwise_identical"] is True
    assert r.summary["float64"]["kinks_max"] == 0
    assert r.config["seeds"] == [0]
    import json

    json.dumps(r.to_dict())  # JSON-ready
    fig = plot_relu_prime_zero(r)
    assert len(fig.axes) == 3
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_study_bad_config():
    with pytest.raises(InputError, match="dtypes"):
        relu_prime_zero_study({"dtypes": ["float8"]})
    with pytest.raises(InputError, match="config"):
        relu_prime_zero_study({"epoch": 3})
    with pytest.raises(InputError, match="s_values"):
        relu_prime_zero_study({"s_values": [0.0]})


def test_studies_run_on_one_thread_and_restore_the_callers_count(monkeypatch):
    """bifurcation_volume runs under one_thread (a decorator): one thread inside, the caller's count after."""
    import numpy as np
    import torch

    from tamelab.tame.relu_prime import bertoin2021relu as b

    seen, real = [], b.relu_prime_mlp

    def spy(*a, **k):
        seen.append(torch.get_num_threads())
        return real(*a, **k)

    monkeypatch.setattr(b, "relu_prime_mlp", spy)
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        X = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)
        y = np.arange(8) % 3
        for _ in range(2):  # the decorator is re-entrant: a fresh context per call
            b.bifurcation_volume(X, y, widths=[4, 5, 3], dtype="float32", n_init=1, batch_size=4)
        assert seen and set(seen) == {1} and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(old)
