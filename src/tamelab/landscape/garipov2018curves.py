r"""Mode-connecting curves (Garipov, Izmailov, Podoprikhin, Vetrov & Wilson, arXiv:1802.10026).

Quadratic Bézier :math:`\phi(t)=(1-t)^2\theta_A+2t(1-t)\theta_1+t^2\theta_B` (``bends=3``) or polychain
(piecewise linear through the bend), endpoints fixed, the bend initialised at the midpoint and trained
by SGD on :math:`\mathbb E_{t\sim U[0,1]}L(\phi(t))` (one :math:`t` per mini-batch). Evaluated at 61
equally spaced :math:`t`; the barrier on the curve is compared with the straight line.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from .._rng import resolve_seed
from ..errors import InputError
from ..inputs import as_data, resolve_device, resolve_dtype
from ..losses import Loss, resolve_loss
from ..result import Result, Status

__all__ = ["CurveResult", "curve_coefficients", "fit_curve"]


def curve_coefficients(t: float, kind: str = "bezier") -> tuple[float, float, float]:
    """Weights of the three control points θ_A, θ, θ_B at ``t`` ∈ [0, 1] on a Bézier or polychain curve."""
    if kind == "bezier":
        return ((1 - t) ** 2, 2 * t * (1 - t), t**2)
    if kind == "polychain":
        return (max(0.0, 1 - 2 * t), 1 - abs(2 * t - 1), max(0.0, 2 * t - 1))
    raise InputError("curve", f"unknown curve {kind!r}", "use bezier or polychain")


@dataclasses.dataclass
class CurveResult(Result):
    """Loss along a trained curve and along the straight line between the same endpoints."""

    kind = "curve"

    curve: str = "bezier"
    ts: list[float] = dataclasses.field(default_factory=list)
    losses_curve: list[float] = dataclasses.field(default_factory=list)
    losses_line: list[float] = dataclasses.field(default_factory=list)
    barrier_curve: float = float("nan")
    barrier_line: float = float("nan")
    bend: dict | None = dataclasses.field(default=None, repr=False)


def fit_curve(
    model_a: nn.Module,
    model_b: nn.Module,
    data: Any,
    targets: Any = None,
    *,
    loss: str | Callable | Loss | None = None,
    loss_fn: Callable | None = None,
    kind: str = "bezier",
    steps: int = 500,
    lr: float = 0.05,
    batch: int = 128,
    seed=0,
    points: int = 61,
    init_noise: float = 1e-3,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    input_key: str | None = None,
    target_key: str | None = None,
) -> CurveResult:
    """Train the bend of a curve between ``model_a`` and ``model_b`` (same architecture).

    ``data`` takes any form of :func:`tamelab.inputs.as_data` (``fit_curve(a, b, X, T)`` still works);
    ``loss`` a name or callable (``loss_fn`` is the older name of the same argument). The network is
    evaluated in eval mode; floating buffers (BatchNorm running statistics) move linearly from A to B
    along the curve (the bend's buffers are the midpoint's), they are not trained.
    """
    t0 = time.perf_counter()
    if loss is not None and loss_fn is not None:
        raise InputError("loss", "pass loss= or loss_fn=, not both")
    lossf = resolve_loss(loss if loss is not None else loss_fn)
    curve_coefficients(0.0, kind)
    for name, v, lo in (("steps", steps, 0), ("batch", batch, 1), ("points", points, 2)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise InputError(name, f"must be an integer >= {lo}, got {v}")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise InputError("lr", f"must be a finite number > 0, got {lr}")
    ta = {k: v.detach() for k, v in model_a.named_parameters()}
    tb = {k: v.detach() for k, v in model_b.named_parameters()}
    if ta.keys() != tb.keys() or any(ta[k].shape != tb[k].shape for k in ta):
        raise InputError("models", "have different architectures")
    p0 = next(iter(ta.values()))
    dev = resolve_device(device) if device is not None else p0.device
    dt = resolve_dtype(dtype, default=p0.dtype if p0.dtype in (torch.float32, torch.float64) else torch.float32)
    ta = {k: v.to(dev, dt) for k, v in ta.items()}
    tb = {k: v.to(dev, dt) for k, v in tb.items()}
    ba = {k: v.detach().to(dev, dt) for k, v in model_a.named_buffers() if v.is_floating_point()}
    bb = {k: v.detach().to(dev, dt) for k, v in model_b.named_buffers() if v.is_floating_point()}
    net = copy.deepcopy(model_a).to(device=dev, dtype=dt).eval()
    d = as_data(data, targets, input_key=input_key, target_key=target_key)
    X, T = d.tensors(dev, dt)
    s = resolve_seed(seed)
    g = torch.Generator().manual_seed(s)
    # NOTE [init]: Garipov et al. start the bend at the midpoint; we add seeded noise of relative size
    # ``init_noise`` so that symmetric problems (the midpoint is a saddle of the curve loss) can move.
    bend = {
        k: (
            0.5 * (ta[k] + tb[k])
            + init_noise
            * (ta[k] - tb[k]).norm()
            / max(1, ta[k].numel()) ** 0.5
            * torch.randn(ta[k].shape, generator=g, dtype=ta[k].dtype).to(dev)
        ).requires_grad_(True)
        for k in ta
    }
    opt = torch.optim.SGD(list(bend.values()), lr=lr, momentum=0.9)
    n = X.shape[0]

    def point(t, bnd):
        c = curve_coefficients(t, kind)
        st = {k: c[0] * ta[k] + c[1] * bnd[k] + c[2] * tb[k] for k in ta}
        st.update({k: (1 - t) * ba[k] + t * bb[k] for k in ba})
        return st

    def full_loss(st) -> float:
        tot = 0.0
        for x, y in d.batches(dev, dt):
            tot += float(lossf(functional_call(net, st, (x,)), y)) * int(x.shape[0])
        return tot / n

    for _ in range(steps):
        t = float(torch.rand(1, generator=g))
        idx = torch.randint(0, n, (min(batch, n),), generator=g).to(dev)
        opt.zero_grad()
        lossf(functional_call(net, point(t, bend), (X[idx],)), T[idx]).backward()
        opt.step()
    ts = np.linspace(0, 1, points)
    with torch.no_grad():
        bd = {k: v.detach() for k, v in bend.items()}
        lc = [full_loss(point(t, bd)) for t in ts]
        ll = [
            full_loss({**{k: (1 - t) * ta[k] + t * tb[k] for k in ta}, **{k: (1 - t) * ba[k] + t * bb[k] for k in ba}})
            for t in ts
        ]
    ends = 0.5 * (lc[0] + lc[-1])
    ok = all(math.isfinite(v) for v in lc + ll)
    return CurveResult(
        status=Status.OK if ok else Status.FAILED,
        seed=s,
        seconds=time.perf_counter() - t0,
        curve=kind,
        ts=ts.tolist(),
        losses_curve=lc,
        losses_line=ll,
        barrier_curve=max(lc) - ends,
        barrier_line=max(ll) - ends,
        bend=bd,
    )
