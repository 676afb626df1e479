import math

import numpy as np
import pytest
import torch

from tamelab import InputError
from tamelab.train import (
    adam,
    adam_dmu,
    apply_updates,
    heavy_ball,
    make_schedule,
    nag,
    rmsprop,
    rmsprop_dmu,
    schedule_sums,
    sgd,
)


def _problem(seed):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(7, 4, dtype=torch.float64, generator=g)
    b = torch.randn(7, dtype=torch.float64, generator=g)
    w0 = torch.randn(4, dtype=torch.float64, generator=g)
    return A, b, w0


def _grad(A, b, w):
    w = w.detach().requires_grad_(True)
    loss = 0.5 * ((A @ w - b) ** 2).sum()
    (g,) = torch.autograd.grad(loss, w)
    return g


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda: sgd(0.05), lambda p: torch.optim.SGD(p, lr=0.05)),
        (lambda: heavy_ball(0.05, 0.9), lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
        (lambda: nag(0.05, 0.9), lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
        (lambda: rmsprop(0.01, 0.9, 1e-8), lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-8)),
        (lambda: adam(0.01, 0.9, 0.999, 1e-8), lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.9, 0.999), eps=1e-8)),
    ],
    ids=["sgd", "heavy_ball", "nag", "rmsprop", "adam"],
)
def test_transforms_match_torch_optim_step_by_step(ours, theirs, seed):
    A, b, w0 = _problem(seed)
    w_ref = torch.nn.Parameter(w0.clone())
    opt = theirs([w_ref])
    t = ours()
    params = {"w": w0.clone()}
    state = t.init(params)
    for _ in range(25):
        opt.zero_grad()
        (0.5 * ((A @ w_ref - b) ** 2).sum()).backward()
        opt.step()
        upd, state = t.update({"w": _grad(A, b, params["w"])}, state, params)
        params = apply_updates(params, upd)
        assert torch.allclose(params["w"], w_ref.detach(), rtol=1e-12, atol=1e-12)
    assert state["count"] == 25 and state["grad_norm"] > 0 and state["update_norm"] > 0


def test_dmu_forms_follow_the_paper_recursion(seed):
    """ξ outside the square root, no bias correction (arXiv:1807.06766 §2); RMSProp = β1 = 0."""
    A, b, w0 = _problem(seed)
    b1, b2, xi, a = 0.8, 0.95, 0.3, 0.02
    t = adam_dmu(a, b1, b2, xi)
    params = {"w": w0.clone()}
    state = t.init(params)
    w, m, v = w0.clone().numpy(), 0.0, 0.0
    for _ in range(10):
        g = _grad(A, b, torch.tensor(w)).numpy()
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w - a * m / (np.sqrt(v) + xi)
        upd, state = t.update({"w": _grad(A, b, params["w"])}, state, params)
        params = apply_updates(params, upd)
    assert np.allclose(params["w"].numpy(), w, rtol=1e-13, atol=1e-13)
    r1, r2 = rmsprop_dmu(a, b2, xi), adam_dmu(a, 0.0, b2, xi)
    p1 = p2 = {"w": w0.clone()}
    s1, s2 = r1.init(p1), r2.init(p2)
    for _ in range(5):
        u1, s1 = r1.update({"w": _grad(A, b, p1["w"])}, s1, p1)
        u2, s2 = r2.update({"w": _grad(A, b, p2["w"])}, s2, p2)
        p1, p2 = apply_updates(p1, u1), apply_updates(p2, u2)
    assert torch.equal(p1["w"], p2["w"])


def test_schedules_closed_forms_and_summability():
    rm = make_schedule("robbins_monro", 0.5, b=2.0, p=0.75)
    assert rm(0) == pytest.approx(0.5 / 2**0.75) and rm(10) == pytest.approx(0.5 / 12**0.75)
    assert rm.robbins_monro_conditions
    assert make_schedule("inv_t", 1.0)(3) == 0.25
    assert make_schedule("inv_sqrt_t", 1.0)(3) == 0.5
    c = make_schedule("constant", 0.1)
    assert not c.square_summable and c.sum_diverges
    assert not make_schedule("inv_sqrt_t", 1.0).square_summable  # exponent 1/2: Σα² = ∞
    assert make_schedule("robbins_monro", 1.0, p=1.5).sum_diverges is False
    s = schedule_sums(make_schedule("inv_t", 1.0), 1000)
    assert s["sum"] == pytest.approx(sum(1 / (1 + t) for t in range(1000)))
    assert s["sum_sq"] == pytest.approx(sum(1 / (1 + t) ** 2 for t in range(1000)))
    assert abs(s["sum_sq"] - math.pi**2 / 6) < 1e-3
    with pytest.raises(InputError, match="schedule"):
        make_schedule("cosine", 1.0)
    with pytest.raises(InputError, match="lr"):
        make_schedule("constant", 0.0)
