r"""Goldstein ε-subdifferential by gradient sampling: a one-sided (ε, δ)-stationarity certificate.

For a locally Lipschitz :math:`f` the Goldstein ε-subdifferential is
:math:`\partial_\varepsilon f(x)=\mathrm{conv}\bigcup_{\|y-x\|\le\varepsilon}\partial f(y)` and :math:`x` is
:math:`(\varepsilon,\delta)`-stationary when :math:`\mathrm{dist}(0,\partial_\varepsilon f(x))\le\delta`.
Gradient sampling (Burke, Lewis & Overton 2005): draw :math:`u_1,\dots,u_m` uniformly in the ball
:math:`B(x,\varepsilon)` (direction a normalised Gaussian, radius :math:`\varepsilon U^{1/p}`), take
:math:`g_i=\nabla f(u_i)` (almost surely :math:`f` is differentiable there, and we resample points that hit
a ReLU kink exactly), and solve the quadratic programme over the simplex

.. math::
    \rho_\varepsilon(x)^2=\min_{\lambda\in\Delta_m}\Big\|\sum_i\lambda_i
    g_i\Big\|^2=\min_{\lambda\in\Delta_m}\lambda^\top K\lambda,
    \qquad K=GG^\top .

Since every :math:`g_i\in\partial_\varepsilon f(x)`,
:math:`\mathrm{dist}(0,\partial_\varepsilon f(x))\le\rho_\varepsilon(x)`:
a small :math:`\rho` certifies :math:`(\varepsilon,\rho)`-stationarity; a large one proves nothing (the samples may
miss pieces).

The QP is solved by :func:`tamelab.tame.nonsmooth.wolfe1976nearest.min_norm_hull` (Wolfe's algorithm, with a
KKT certificate: simplex residual, duality gap, complementarity).

References:
    Goldstein, Math. Programming 13 (1977); Burke, Lewis & Overton, SIAM J. Optim. 15 (2005);
    Kiwiel, SIAM J. Optim. 18 (2007); Wolfe, Math. Programming 11 (1976);
    Bolte & Pauwels, arXiv:1909.10300 (conservative fields; AD outputs).
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable

import numpy as np
import torch

from ..._rng import SeedLike, np_rng, resolve_seed
from ...errors import InputError
from ...result import Result, Status
from .wolfe1976nearest import min_norm_hull

__all__ = ["sample_ball", "GoldsteinResult", "goldstein_stationarity", "batched_grads"]


def sample_ball(x: torch.Tensor, eps: float, m: int, seed: SeedLike = 0) -> torch.Tensor:
    """``m`` points i.i.d. uniform in the Euclidean ball B(x, eps) (float64 draws, cast to x's dtype and device)."""
    return _sample_ball64(x, eps, m, seed)[0]


def _sample_ball64(x: torch.Tensor, eps: float, m: int, seed: SeedLike) -> tuple[torch.Tensor, np.ndarray]:
    rng = np_rng(seed)
    p = x.numel()
    d = rng.standard_normal((m, p))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    r = eps * rng.random(m) ** (1.0 / p)
    u = x.detach().reshape(1, -1).to(torch.float64).cpu().numpy() + r[:, None] * d
    return torch.as_tensor(u, dtype=x.dtype).reshape(m, *x.shape).to(x.device), u


def check_radius(eps, x: torch.Tensor, *, field: str = "eps") -> float:
    r"""``eps`` as a float, refused (:class:`InputError`) unless the dtype of ``x`` can resolve the ball.

    Points of :math:`B(x,\varepsilon)` rounded to ``x.dtype`` collapse onto :math:`x` when
    :math:`\varepsilon<c\,\epsilon_{\rm mach}\|x\|` (then every "sample" is :math:`x` itself and the hull is the AD
    output at :math:`x`, which at a kink need not be a gradient). ``c`` = :data:`tamelab._numerics.BALL_RESOLUTION`.
    """
    from ..._numerics import BALL_RESOLUTION

    if isinstance(eps, bool) or not (isinstance(eps, (int, float, np.floating)) and eps > 0 and math.isfinite(eps)):
        raise InputError(field, f"must be a finite number > 0, got {eps!r}", "e.g. --eps 1e-3")
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise InputError("x", "must be a floating-point torch.Tensor")
    fi = torch.finfo(x.dtype)
    x64 = x.detach().to(torch.float64)
    big = float(x64.abs().max()) if x64.numel() else 0.0
    if not math.isfinite(big):
        raise InputError("x", "has NaN or inf entries", "evaluate at a finite point")
    norm = big * float(torch.linalg.vector_norm(x64 / big)) if big > 0 else 0.0  # scaled: no overflow at 1e300
    floor = BALL_RESOLUTION * (fi.eps * norm + fi.tiny)
    if float(eps) < floor:
        raise InputError(
            field,
            f"{eps:g} is below the resolution of {str(x.dtype).replace('torch.', '')} at this point "
            f"({BALL_RESOLUTION:g}·eps·‖x‖ = {floor:.3g}): sampled points would round onto x",
            f"use eps >= {floor:.3g} or float64",
        )
    return float(eps)


def _row_norms(A: np.ndarray) -> np.ndarray:
    """Euclidean norms of the rows without overflow (scaled by each row's largest entry).

    At ‖x‖ ~ 1e300 the plain sum of squares overflows to inf.
    """
    s = np.abs(A).max(axis=1, keepdims=True)
    s[s == 0] = 1.0
    return s[:, 0] * np.linalg.norm(A / s, axis=1)


def _realised_radius(U: torch.Tensor, u64: np.ndarray, x: torch.Tensor, eps: float) -> float:
    """Largest distance of the rounded samples from x; refuses samples moved by rounding more than allowed."""
    from ..._numerics import BALL_ROUNDING_RTOL

    Ur = U.detach().reshape(U.shape[0], -1).to(torch.float64).cpu().numpy()
    x64 = x.detach().reshape(1, -1).to(torch.float64).cpu().numpy()
    moved = float(_row_norms(Ur - u64).max())
    if moved > BALL_ROUNDING_RTOL * eps or np.any(np.all(Ur == x64, axis=1)):
        raise InputError(
            "eps",
            f"rounding to {str(U.dtype).replace('torch.', '')} moves the samples by {moved:.3g} "
            f"(> {BALL_ROUNDING_RTOL:g}·eps) or onto x",
            "increase eps or use float64",
        )
    return float(_row_norms(Ur - x64).max())


@dataclasses.dataclass
class GoldsteinResult(Result):
    """Gradient-sampling certificate: ``dist(0, ∂_ε f(x)) ≤ rho`` (float error aside).

    Attributes:
        rho: ‖min-norm element of conv{∇f(u_i)}‖; ``eps``, ``m`` (samples), ``p`` (dimension), ``seed``.
        eps_effective: the largest distance of a (rounded) sample from x: the certificate holds for the Goldstein
            subdifferential of radius ``max(eps, eps_effective)``.
        grad_norm_center: ‖AD(x)‖ (the AD output at x itself; included in the hull only when ``center_used``, i.e.
            when kinks are checked and x hits none).
        qp: the QP's KKT certificate (simplex residual, duality gap, complementarity, lower bound).
        lam: hull weights; ``resampled``: samples redrawn because they hit a kink exactly;
        kinks_checked: whether exact kink hits were detected (fx trace of the program, or the caller's count);
            ``kinks_why``: why not. Without it the status is ``uncertified`` (unless ``assume_differentiable``).
        statement: what was certified, in words.
    """

    rho: float = float("nan")
    eps: float = 0.0
    eps_effective: float = 0.0
    m: int = 0
    p: int = 0
    grad_norm_center: float | None = None
    center_used: bool = False
    qp: dict[str, Any] = dataclasses.field(default_factory=dict)
    lam: list[float] = dataclasses.field(default_factory=list)
    resampled: int = 0
    kinks_checked: bool = False
    kinks_why: str = ""
    dtype: str = "float64"
    statement: str = ""

    kind = "goldstein_stationarity"

    def arrays(self) -> dict[str, np.ndarray]:
        """The hull weights λ, stored in ``arrays.npz``."""
        return {"lambda": np.asarray(self.lam)}


def batched_grads(fa: Callable, U: torch.Tensor, chunk: int) -> tuple[torch.Tensor, torch.Tensor]:
    """∇f and the kink counts at the rows of U (vmap(grad) in chunks; autograd loop as a fallback).

    When ``fa`` has a ``screen`` (same value, a kink count that bounds ``fa``'s from above, cheaper: see
    :func:`tamelab.tame.nonsmooth._model.model_loss_function`), the gradients come from the screen and only the rows
    it flags are recounted with ``fa``.
    """
    from torch.func import grad, vmap

    screen = getattr(fa, "screen", None)
    g_fn = vmap(grad(screen or fa, has_aux=True))
    out_g, out_k = [], []
    try:
        for i in range(0, U.shape[0], chunk):
            g, k = g_fn(U[i : i + chunk])
            out_g.append(g)
            out_k.append(torch.as_tensor(k).reshape(-1))
        G, K = torch.cat(out_g), torch.cat(out_k)
        flagged = (K != 0).nonzero().reshape(-1)
        if screen is not None and flagged.numel():
            exact = vmap(fa)
            K = K.clone()
            for i in range(0, flagged.numel(), chunk):
                rows = flagged[i : i + chunk]
                K[rows] = torch.as_tensor(exact(U[rows])[1]).reshape(-1).to(K.dtype)
        return G, K
    except Exception:  # noqa: BLE001 - functions that vmap cannot batch: plain loop
        gs, ks = [], []
        for u in U:
            u = u.detach().clone().requires_grad_(True)
            val, k = fa(u)
            (g,) = torch.autograd.grad(val, u)
            gs.append(g)
            ks.append(torch.as_tensor(k).reshape(()))
        return torch.stack(gs), torch.stack(ks)


def with_kink_count(f: Callable, has_aux: bool) -> tuple[Callable, bool, str]:
    """``(fa, checked, why)``:

    ``fa(u) -> (value, kink hits)``; without ``has_aux`` the kinks come from an fx trace of ``f``
    (:func:`tamelab.tame.nonsmooth._kinks.kink_counted`), and ``checked`` is False when it fails.
    """
    if has_aux:
        return f, True, ""
    from ._kinks import kink_counted

    counted, why = kink_counted(f)
    if counted is not None:
        return counted, True, ""
    zero = torch.zeros((), dtype=torch.int64)
    return (lambda u: (f(u), zero)), False, why


def goldstein_stationarity(
    f: Callable[[torch.Tensor], Any],
    x: torch.Tensor,
    *,
    eps: float,
    m: int = 32,
    seed: SeedLike = 0,
    has_aux: bool = False,
    chunk: int = 128,
    max_resample: int = 5,
    assume_differentiable: bool = False,
    kinks_checked: bool = True,
    kinks_why: str = "",
) -> GoldsteinResult:
    r"""Sample ``m`` gradients in B(x, eps) and return the min-norm element of their hull (see module docstring).

    Args:
        f: ``f(x) -> scalar tensor`` (pure; vmappable for speed). With ``has_aux=True`` it returns
            ``(value, kinks)`` where ``kinks`` counts exact kink hits. Without it, ``f`` is traced with ``torch.fx``
            and the kink hits of its nonsmooth ops are counted (:mod:`tamelab.tame.nonsmooth._kinks`). Points on
            kinks are resampled, and AD(x) joins the hull only if kinks are checked and x hits none.
        x: the point (any shape; the dtype is used for all evaluations — float64 recommended).
        eps: radius ε > 0, refused below the dtype's resolution at x (:func:`check_radius`).
        m: number of samples ≥ 1.
        seed: sampling seed (recorded).
        has_aux: ``f`` returns ``(value, kinks)``.
        chunk: samples per batched (``vmap``) gradient evaluation.
        max_resample: rounds of redrawing samples that land on kinks.
        assume_differentiable: when kinks cannot be checked, accept the result as ``ok`` anyway (the caller asserts
            that no sample lands exactly on a nonsmooth point). Default: such a result is ``uncertified``.
        kinks_checked: with ``has_aux``, whether the caller's count covers every kink.
        kinks_why: with ``has_aux``, why the caller's count does not cover every kink.
    """
    t0 = time.perf_counter()
    eps = check_radius(eps, x)
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
        raise InputError("samples", f"must be an integer >= 1, got {m!r}", "e.g. --samples 100")
    s = resolve_seed(seed)
    x = x.detach()
    fa, checked, why = with_kink_count(f, has_aux)
    if has_aux:
        checked, why = bool(kinks_checked), kinks_why
    U, u64 = _sample_ball64(x, eps, int(m), np.random.default_rng([s, 0]))
    eps_eff = _realised_radius(U, u64, x, eps)
    G, kinks = batched_grads(fa, U, chunk)
    resampled = 0
    for r in range(max_resample):
        bad = (kinks != 0).nonzero().reshape(-1)
        if bad.numel() == 0:
            break
        resampled += int(bad.numel())
        U2, u2 = _sample_ball64(x, eps, int(bad.numel()), np.random.default_rng([s, r + 1]))
        eps_eff = max(eps_eff, _realised_radius(U2, u2, x, eps))
        G2, k2 = batched_grads(fa, U2, chunk)
        G[bad], kinks[bad] = G2, k2
    keep = kinks == 0
    if not bool(keep.any()):
        raise InputError("x", "every sampled point hit a kink exactly", "increase --eps or use float64")
    gc, kc = batched_grads(fa, x.unsqueeze(0), 1)
    center_used = bool(checked and int(kc[0]) == 0)
    Gm = G[keep].reshape(int(keep.sum()), -1).to(torch.float64)
    if center_used:
        Gm = torch.cat([gc.reshape(1, -1).to(torch.float64), Gm])
    res = GoldsteinResult(
        seed=s,
        eps=eps,
        eps_effective=eps_eff,
        m=int(m),
        p=int(x.numel()),
        resampled=resampled,
        kinks_checked=checked,
        kinks_why=why,
        dtype=str(x.dtype).replace("torch.", ""),
        grad_norm_center=float(torch.linalg.vector_norm(gc.to(torch.float64))),
        center_used=center_used,
    )
    _solve(res, Gm.cpu().numpy(), assume_differentiable)
    res.seconds = time.perf_counter() - t0
    return res


def _solve(res: GoldsteinResult, Gn: np.ndarray, assume_differentiable: bool) -> None:
    """The hull QP, the status and the statement."""
    if not np.all(np.isfinite(Gn)):
        res.status, res.statement = Status.FAILED, "non-finite gradients in the ball"
        return
    mp = min_norm_hull(Gn)
    res.rho, res.qp, res.lam = mp.rho, mp.certificate(), mp.lam.tolist()
    radius = max(res.eps, res.eps_effective)
    res.statement = (
        f"dist(0, Goldstein {radius:g}-subdifferential at x) <= {mp.rho:.6g} (from {Gn.shape[0]} sampled gradients)"
    )
    if not mp.converged:
        res.status = Status.NOT_CONVERGED
    elif not (math.isfinite(radius) and math.isfinite(mp.rho)):
        res.status = Status.UNCERTIFIED
        res.statement += "; NOT certified: the realised radius or rho is not finite"
    elif not res.kinks_checked and not assume_differentiable:
        res.status = Status.UNCERTIFIED
        res.statement += (
            f"; NOT certified: kinks could not be checked ({res.kinks_why}), so a sample on a kink "
            "could contribute an AD output that is not a gradient"
        )
    else:
        res.status = Status.OK
        if not res.kinks_checked:
            res.statement += "; kinks not checked (assume_differentiable=True)"
