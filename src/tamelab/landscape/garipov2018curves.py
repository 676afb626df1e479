r"""Mode-connecting curves (Garipov, Izmailov, Podoprikhin, Vetrov & Wilson, arXiv:1802.10026).

Quadratic Bézier :math:`\phi(t)=(1-t)^2\theta_A+2t(1-t)\theta_1+t^2\theta_B` (``bends=3``) or polychain
(piecewise linear through the bend), endpoints fixed, the bend initialised at the midpoint and trained
by SGD on :math:`\mathbb E_{t\sim U[0,1]}L(\phi(t))` (one :math:`t` per mini-batch). Evaluated at 61
equally spaced :math:`t`; the barrier on the curve is compared with the straight line.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from .._rng import resolve_seed
from ..errors import InputError
from ..result import Result, Status

__all__ = ["CurveResult", "curve_coefficients", "fit_curve"]


def curve_coefficients(t: float, kind: str = "bezier") -> tuple[float, float, float]:
    if kind == "bezier":
        return ((1 - t) ** 2, 2 * t * (1 - t), t**2)
    if kind == "polychain":
        return (max(0.0, 1 - 2 * t), 1 - abs(2 * t - 1), max(0.0, 2 * t - 1))
    raise InputError("curve", f"unknown curve {kind!r}", "use bezier or polychain")


@dataclasses.dataclass
class CurveResult(Result):
    kind = "curve"

    curve: str = "bezier"
    ts: list[float] = dataclasses.field(default_factory=list)
    losses_curve: list[float] = dataclasses.field(default_factory=list)
    losses_line: list[float] = dataclasses.field(default_factory=list)
    barrier_curve: float = float("nan")
    barrier_line: float = float("nan")
    bend: dict | None = dataclasses.field(default=None, repr=False)


def fit_curve(model_a: nn.Module, model_b: nn.Module, X, T, *, loss_fn=nn.functional.cross_entropy, kind: str = "bezier",
              steps: int = 500, lr: float = 0.05, batch: int = 128, seed=0, points: int = 61,
              init_noise: float = 1e-3) -> CurveResult:
    t0 = time.perf_counter()
    ta = {k: v.detach() for k, v in model_a.named_parameters()}
    tb = {k: v.detach() for k, v in model_b.named_parameters()}
    if ta.keys() != tb.keys() or any(ta[k].shape != tb[k].shape for k in ta):
        raise InputError("models", "have different architectures")
    s = resolve_seed(seed)
    g = torch.Generator().manual_seed(s)
    # NOTE [init]: Garipov et al. start the bend at the midpoint; we add seeded noise of relative size
    # ``init_noise`` so that symmetric problems (the midpoint is a saddle of the curve loss) can move.
    bend = {k: (0.5 * (ta[k] + tb[k]) + init_noise * (ta[k] - tb[k]).norm() / max(1, ta[k].numel()) ** 0.5
                * torch.randn(ta[k].shape, generator=g, dtype=ta[k].dtype)).requires_grad_(True) for k in ta}
    opt = torch.optim.SGD(list(bend.values()), lr=lr, momentum=0.9)
    n = X.shape[0]

    def point(t, bnd):
        c = curve_coefficients(t, kind)
        return {k: c[0] * ta[k] + c[1] * bnd[k] + c[2] * tb[k] for k in ta}

    for _ in range(steps):
        t = float(torch.rand(1, generator=g))
        idx = torch.randint(0, n, (min(batch, n),), generator=g)
        opt.zero_grad()
        loss_fn(functional_call(model_a, point(t, bend), (X[idx],)), T[idx]).backward()
        opt.step()
    ts = np.linspace(0, 1, points)
    with torch.no_grad():
        bd = {k: v.detach() for k, v in bend.items()}
        lc = [float(loss_fn(functional_call(model_a, point(t, bd), (X,)), T)) for t in ts]
        ll = [float(loss_fn(functional_call(model_a, {k: (1 - t) * ta[k] + t * tb[k] for k in ta}, (X,)), T)) for t in ts]
    ends = 0.5 * (lc[0] + lc[-1])
    return CurveResult(status=Status.OK, seed=s, seconds=time.perf_counter() - t0, curve=kind, ts=ts.tolist(),
                       losses_curve=lc, losses_line=ll, barrier_curve=max(lc) - ends, barrier_line=max(ll) - ends, bend=bd)
