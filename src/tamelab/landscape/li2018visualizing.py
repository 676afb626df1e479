r"""Loss-landscape slices (Li, Xu, Taylor, Studer & Goldstein, arXiv:1712.09913) and interpolation.

Filter normalisation: draw :math:`\delta\sim N(0,I)` shaped like every parameter; for tensors with
≥ 2 dims rescale each row (filter / neuron) to the norm of the same row of :math:`\theta`; 1-D tensors
(biases, norm parameters) are zeroed by default (``ignore="biasbn"``) or copied from θ.
Surfaces :math:`f(\alpha,\beta)=L(\theta+\alpha\delta+\beta\eta)` on a grid whose centre is exactly
:math:`\theta` (odd grid sizes) and whose ``span`` is in units of the directions.
Grid points are evaluated in chunks through an executor (``tamelab.parallel``), so a 2-D surface can
spread over Dask workers.

Interpolation :math:`\theta(\alpha)=(1-\alpha)\theta_A+\alpha\theta_B` with both barrier definitions:
Frankle et al. / Ainsworth et al. :math:`\max_\alpha L(\theta(\alpha))-\tfrac12(L_A+L_B)` and Entezari et al.
:math:`\max_\alpha[L(\theta(\alpha))-((1-\alpha)L_A+\alpha L_B)]`, refined by golden-section search.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from .._rng import resolve_seed
from ..errors import ComputationError, InputError
from ..result import Result, Status

__all__ = ["filter_normalized_direction", "SurfaceResult", "loss_surface", "interpolate", "InterpolationResult"]


def filter_normalized_direction(model: nn.Module, *, seed=0, ignore: str = "biasbn") -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(resolve_seed(seed))
    out = {}
    for k, p in model.named_parameters():
        d = torch.randn(p.shape, generator=g, dtype=p.dtype)
        if p.dim() <= 1:
            d = torch.zeros_like(p) if ignore == "biasbn" else p.detach().clone()
        else:
            pf, df = p.detach().reshape(p.shape[0], -1), d.reshape(p.shape[0], -1)
            df = df * (pf.norm(dim=1, keepdim=True) / (df.norm(dim=1, keepdim=True) + 1e-10))
            d = df.reshape(p.shape)
        out[k] = d
    return out


def _eval_chunk(args: tuple) -> list[tuple[float, float]]:
    """Top-level (picklable) chunk evaluator: (model, state, dirs, coords, X, T, loss) -> [(loss, acc)]."""
    model, theta, dirs, coords, X, T, loss_name = args
    loss_fn = nn.functional.cross_entropy if loss_name == "cross_entropy" else nn.functional.mse_loss
    out = []
    with torch.no_grad():
        for c in coords:
            sd = {k: theta[k] + sum(ci * d[k] for ci, d in zip(c, dirs)) for k in theta}
            o = torch.func.functional_call(model, sd, (X,))
            lv = float(loss_fn(o, T))
            acc = float((o.argmax(1) == T).double().mean()) if loss_name == "cross_entropy" else float("nan")
            out.append((lv, acc))
    return out


@dataclasses.dataclass
class SurfaceResult(Result):
    kind = "landscape"

    losses: list = dataclasses.field(default_factory=list)
    accuracies: list = dataclasses.field(default_factory=list)
    alphas: list[float] = dataclasses.field(default_factory=list)
    betas: list[float] = dataclasses.field(default_factory=list)
    center_loss: float = float("nan")
    grid: int = 0
    span: float = 1.0
    dims: int = 2
    executor: str = "serial"

    def arrays(self):
        return {"losses": np.asarray(self.losses, dtype=float)}


def loss_surface(model: nn.Module, X: torch.Tensor, T: torch.Tensor, *, loss: str = "cross_entropy", grid: int = 41,
                 span: float = 1.0, dims: int = 2, directions: list[dict[str, torch.Tensor]] | None = None, seed=0,
                 executor=None, chunks: int | None = None) -> SurfaceResult:
    """1-D or 2-D loss/accuracy surface around ``model`` (θ exactly at the grid centre when ``grid`` is odd)."""
    t0 = time.perf_counter()
    if grid < 2:
        raise InputError("--grid", f"must be >= 2, got {grid}")
    if dims not in (1, 2):
        raise InputError("dims", "must be 1 or 2")
    s = resolve_seed(seed)
    theta = {k: v.detach().clone() for k, v in model.named_parameters()}
    if not theta:
        raise InputError("model", "has no parameters")
    dirs = directions or [filter_normalized_direction(model, seed=s + i) for i in range(dims)]
    alphas = np.linspace(-span, span, grid)
    coords = [(a,) for a in alphas] if dims == 1 else [(a, b) for a in alphas for b in alphas]
    from ..parallel import SerialExecutor

    ex = executor or SerialExecutor()
    nchunks = chunks or (1 if ex.name == "serial" else 8)
    parts = [coords[i::nchunks] for i in range(nchunks)]
    res = ex.map(_eval_chunk, [(model, theta, dirs, p, X, T, loss) for p in parts], desc="landscape")
    vals: dict[tuple, tuple[float, float]] = {}
    for p, r in zip(parts, res):
        vals.update(dict(zip(p, r)))
    L = np.array([vals[c][0] for c in coords])
    A = np.array([vals[c][1] for c in coords])
    if not np.isfinite(L).all():
        raise ComputationError("non-finite loss on the grid; reduce --span")
    shape = (grid,) if dims == 1 else (grid, grid)
    center = _eval_chunk((model, theta, dirs, [(0.0,) * dims], X, T, loss))[0][0]
    return SurfaceResult(status=Status.OK, seed=s, seconds=time.perf_counter() - t0, losses=L.reshape(shape).tolist(),
                         accuracies=A.reshape(shape).tolist(), alphas=alphas.tolist(), betas=alphas.tolist() if dims == 2 else [],
                         center_loss=center, grid=grid, span=span, dims=dims, executor=ex.name)


@dataclasses.dataclass
class InterpolationResult(Result):
    kind = "interpolation"

    alphas: list[float] = dataclasses.field(default_factory=list)
    losses: list[float] = dataclasses.field(default_factory=list)
    accuracies: list[float] = dataclasses.field(default_factory=list)
    barrier_mean: float = float("nan")
    barrier_linear: float = float("nan")
    accuracy_barrier: float = float("nan")
    argmax_alpha: float = float("nan")


def interpolate(model_a: nn.Module, model_b: nn.Module, X, T, *, loss: str = "cross_entropy", points: int = 25,
                refine: bool = True) -> InterpolationResult:
    """Linear interpolation A → B with loss/accuracy barriers (both definitions)."""
    t0 = time.perf_counter()
    ta = {k: v.detach() for k, v in model_a.named_parameters()}
    tb = {k: v.detach() for k, v in model_b.named_parameters()}
    if ta.keys() != tb.keys() or any(ta[k].shape != tb[k].shape for k in ta):
        raise InputError("models", "have different architectures", "interpolation needs identical parameter shapes")
    delta = {k: tb[k] - ta[k] for k in ta}

    def ev(a):
        return _eval_chunk((model_a, ta, [delta], [(a,)], X, T, loss))[0]

    al = np.linspace(0, 1, points)
    vals = [ev(a) for a in al]
    Ls = np.array([v[0] for v in vals])
    As = np.array([v[1] for v in vals])
    La, Lb = Ls[0], Ls[-1]
    i = int(np.argmax(Ls - 0.5 * (La + Lb)))
    amax, lmax = al[i], Ls[i]
    if refine and 0 < i < points - 1:
        lo, hi = al[i - 1], al[i + 1]
        gr = (np.sqrt(5) - 1) / 2
        for _ in range(30):
            c, d = hi - gr * (hi - lo), lo + gr * (hi - lo)
            if ev(c)[0] > ev(d)[0]:
                hi = d
            else:
                lo = c
        a2 = 0.5 * (lo + hi)
        l2 = ev(a2)[0]
        if l2 > lmax:
            amax, lmax = a2, l2
    lin = float(np.max(Ls - ((1 - al) * La + al * Lb)))
    accb = float(0.5 * (As[0] + As[-1]) - As.min()) if loss == "cross_entropy" else float("nan")
    return InterpolationResult(status=Status.OK, seconds=time.perf_counter() - t0, alphas=al.tolist(), losses=Ls.tolist(),
                               accuracies=As.tolist(), barrier_mean=float(lmax - 0.5 * (La + Lb)), barrier_linear=max(lin, float(lmax - ((1 - amax) * La + amax * Lb))),
                               accuracy_barrier=accb, argmax_alpha=float(amax))
