r"""Is a critical point a local minimum? A verdict that says only what it can prove.

For a twice differentiable cost :math:`C` at :math:`\theta` (on a smooth stratum of a ReLU net: no
pre-activation at a kink), with gradient :math:`g` and Hessian :math:`H`:

* :math:`|g|` above the tolerance → ``not_critical``;
* an eigenvalue of :math:`H` below :math:`-\text{tol}` (its Rayleigh quotient is a proof) or a measured
  descent (a random perturbation, or a consistent higher-order descent along a null direction of
  :math:`H`, see below) → ``saddle``;
* :math:`H` positive definite (every eigenvalue above the tolerance, from the *dense* Hessian) →
  ``local_minimum`` (strict, second-order sufficient condition);
* :math:`H` positive semi-definite with (numerically) zero eigenvalues: second order decides nothing
  (:math:`\sum_{i>0}t_i^2-t_0^4` has a PSD Hessian at 0 and is a saddle). Then ``degenerate: undecided``
  unless a *restricted analysis* supplied by the caller proves minimality (e.g. zero cost for a
  non-negative cost; a network that is locally affine on the data and whose output solves the convex
  least-squares problem), or the higher-order test finds descent (``saddle``).

Higher-order test: along every basis vector :math:`v` of the numerical null space of :math:`H` (and
random unit combinations of them), :math:`\varphi(t)=\min(C(\theta+tv),C(\theta-tv))-C(\theta)` on the
ladder :math:`t_k=t_0 2^{-k}`. Descent counts only when it is *consistent as t shrinks*: below
:math:`-\text{tol}` at the three largest scales, shrinking monotonically (cubic or quartic decay; a
kink crossed at the largest step alone does not count), and — when the caller gives the stratum map —
on the same activation pattern. It can prove a saddle, never a minimum: a quartic form can be positive
along every line and still not have a minimum (:math:`(y-x^2)(y-2x^2)`).

Large :math:`K`: the dense Hessian is used up to ``max_dense`` parameters; above it the smallest
eigenvalues come from Lanczos (``scipy.sparse.linalg.eigsh`` on a Hessian-vector-product operator).
Lanczos can prove a negative eigenvalue (its Rayleigh quotient) but not that none is missed, so without
a restricted analysis the verdict is then ``undecided`` (never a silent skip).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import numpy as np

from .._rng import resolve_seed
from ..result import Result, Status

__all__ = ["LocalMinResult", "local_min_verdict", "VERDICTS", "MAX_DENSE_HESSIAN"]

#: the possible verdicts.
VERDICTS = (
    "local_minimum",
    "global_minimum",
    "saddle",
    "not_critical",
    "degenerate: undecided",
    "nonsmooth: undecided",
    "undecided",
)
#: above this many parameters the Hessian's smallest eigenvalues come from Lanczos instead of a dense eigensolve.
MAX_DENSE_HESSIAN = 3000
#: up to this many parameters the dense Hessian is built row by row (above: batched rows).
_LOOP_ROWS = 200


@dataclasses.dataclass
class LocalMinResult(Result):
    """Verdict on a critical point with the evidence behind it (``reason`` says which evidence decided)."""

    kind = "local_minimality"

    verdict: str = "undecided"
    reason: str = ""
    cost: float = float("nan")
    gradient_norm: float = float("nan")
    gradient_tol: float = float("nan")
    kink_margin: float = math.inf
    n_parameters: int = 0
    hessian_method: str = "none"
    hessian_min_eig: float | None = None
    hessian_max_eig: float | None = None
    hessian_negative: int | None = None
    hessian_zero: int | None = None
    eig_tol: float = float("nan")
    rayleigh_min: float | None = None
    null_directions_tested: int = 0
    higher_order_descent: bool = False
    higher_order_min_change: float | None = None
    perturbations: int = 0
    perturbation_radius: float = 0.0
    perturbations_decreasing: int = 0
    perturbation_min_change: float | None = None
    restricted: str = ""


def _hvp_fn(f, th):
    import torch

    def hvp(v):
        t = th.detach().clone().requires_grad_(True)
        (g,) = torch.autograd.grad(f(t), t, create_graph=True)
        (hv,) = torch.autograd.grad(g, t, grad_outputs=v)
        return hv.detach()

    return hvp


def _dense_hessian(f, th) -> np.ndarray:
    """Dense Hessian by double backward, symmetry checked:

    one backward pass per row for small K (no vmap warm-up, which costs seconds on first use), batched rows
    (``vectorize=True``) above ``_LOOP_ROWS``.
    """
    import torch

    t = th.detach().clone().requires_grad_(True)
    K = t.numel()
    if K > _LOOP_ROWS:
        H = torch.autograd.functional.hessian(f, th.detach(), vectorize=True).detach().cpu().numpy()
    else:
        (g,) = torch.autograd.grad(f(t), t, create_graph=True)
        H = np.empty((K, K))
        for i in range(K):
            (row,) = torch.autograd.grad(g[i], t, retain_graph=i < K - 1, allow_unused=True)
            H[i] = 0.0 if row is None else row.detach().cpu().numpy()
    asym = float(np.abs(H - H.T).max()) if H.size else 0.0
    scale = float(np.abs(H).max()) if H.size else 0.0
    if asym > 1e-8 * max(1.0, scale):
        from ..errors import ComputationError

        raise ComputationError(f"local minimality: the autograd Hessian is not symmetric (|H − Hᵀ| = {asym:.3g})")
    return (H + H.T) / 2


def _lanczos_smallest(f, th, k: int, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """K smallest eigenpairs (eigsh on an HVP operator) and the largest eigenvalue (for the scale)."""
    import torch
    from scipy.sparse.linalg import LinearOperator, eigsh

    hvp = _hvp_fn(f, th)
    K = th.numel()

    def mv(v):
        return hvp(torch.as_tensor(np.asarray(v).reshape(-1), dtype=th.dtype, device=th.device)).cpu().numpy()

    op = LinearOperator((K, K), matvec=mv, dtype=np.float64)
    rng = np.random.default_rng(seed)
    lam, V = eigsh(op, k=k, which="SA", v0=rng.standard_normal(K), tol=1e-10, maxiter=20 * K)
    lmax = eigsh(op, k=1, which="LA", v0=rng.standard_normal(K), tol=1e-6, maxiter=20 * K, return_eigenvectors=False)
    return lam, V, float(lmax[0])


def _values(f, P) -> np.ndarray:
    """F at every row of P (a plain loop: no torch.func warm-up, which costs seconds on first use)."""
    import torch

    with torch.no_grad():
        return np.array([float(f(p)) for p in P])


def _same_stratum(stratum, th_new, ref) -> bool:
    if stratum is None:
        return True
    return bool(np.array_equal(np.asarray(stratum(th_new)), ref))


def local_min_verdict(
    f: Callable[[Any], Any],
    theta,
    *,
    grad_tol: float = 1e-8,
    eig_tol: float = 1e-9,
    kink_margin: float = math.inf,
    stratum: Callable[[Any], Any] | None = None,
    restricted: tuple[str, str] | None = None,
    seed=0,
    perturbations: int = 100,
    radius: float = 1e-3,
    null_directions: int = 32,
    step: float = 1e-2,
    ladder: int = 6,
    max_dense: int = MAX_DENSE_HESSIAN,
    lanczos_k: int = 6,
    hessian_always: bool = False,
) -> LocalMinResult:
    r"""Classify the point ``theta`` (a 1-D float64 tensor) of the scalar torch function ``f``.

    Args:
        f: the scalar function (torch tensor in, 0-d tensor out).
        theta: the point, a 1-D float64 tensor.
        grad_tol: absolute gradient-norm tolerance for "critical".
        eig_tol: eigenvalues with :math:`|\lambda|\le` ``eig_tol``·max(1, |λ_max|) count as zero.
        kink_margin: distance of the nearest pre-activation from a ReLU kink (≤ 0: not smooth here, the
            verdict is ``nonsmooth: undecided``).
        stratum: optional map θ ↦ activation pattern; a descent counts only on the same pattern.
        restricted: ``(verdict, why)`` — a proof of minimality from a restricted analysis by the caller,
            used only when the Hessian is degenerate and no descent is found.
        seed: seed of the random perturbations and null directions.
        perturbations: how many random perturbations (descent detector).
        radius: norm of the random perturbations.
        null_directions: how many directions of the Hessian's null space the higher-order test tries.
        step: the largest step ``t_0`` of the higher-order test.
        ladder: the number of steps ``t_k = t_0 2^{-k}`` of the higher-order test.
        max_dense: dense Hessian up to this many parameters, Lanczos above.
        lanczos_k: eigenpairs computed by Lanczos above ``max_dense``.
        hessian_always: also compute (and report) the Hessian's eigenvalues at a non-critical point.
    """
    import torch

    th = theta.detach()
    K = int(th.numel())
    s = resolve_seed(seed)
    out = LocalMinResult(seed=s, kink_margin=float(kink_margin), n_parameters=K, gradient_tol=float(grad_tol))
    c0 = float(f(th))
    t = th.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(t), t)
    gn = float(g.norm())
    out.cost, out.gradient_norm = c0, gn
    ref_stratum = None if stratum is None else np.asarray(stratum(th))
    tol = 1e-12 * max(1.0, abs(c0))
    # random perturbations (descent detector; never a proof of minimality)
    rng = np.random.default_rng(s)
    if perturbations:
        Dp = rng.standard_normal((int(perturbations), K))
        Dp *= radius / np.linalg.norm(Dp, axis=1, keepdims=True)
        pts = th[None, :] + torch.as_tensor(Dp, dtype=th.dtype, device=th.device)
        vals = _values(f, pts)
        dec_idx = np.flatnonzero(vals < c0 - tol)
        dec = int(sum(_same_stratum(stratum, pts[i], ref_stratum) for i in dec_idx))
        out.perturbations, out.perturbation_radius = int(perturbations), float(radius)
        out.perturbations_decreasing, out.perturbation_min_change = dec, float((vals - c0).min())
    else:
        dec = 0
    if kink_margin <= 0:
        out.verdict, out.reason = (
            "nonsmooth: undecided",
            "a pre-activation sits at a ReLU kink: C is not differentiable here",
        )
        out.status = Status.UNCERTIFIED
        return out
    if gn > grad_tol and not hessian_always:
        out.verdict, out.reason = "not_critical", f"gradient norm {gn:.3g} > tolerance {grad_tol:.3g}"
        return out
    # second order
    if K <= max_dense:
        H = _dense_hessian(f, th)
        ev, EV = np.linalg.eigh(H)
        out.hessian_method = "dense"
        lmax = float(np.abs(ev).max()) if ev.size else 0.0
    else:
        kk = min(int(lanczos_k), K - 1)
        ev, EV, lmax = _lanczos_smallest(f, th, kk, s)
        order = np.argsort(ev)
        ev, EV = ev[order], EV[:, order]
        out.hessian_method = f"lanczos (k = {kk} smallest of K = {K})"
        lmax = max(abs(lmax), float(np.abs(ev).max()))
    etol = eig_tol * max(1.0, lmax)
    out.eig_tol = etol
    neg = int((ev < -etol).sum())
    zero_mask = np.abs(ev) <= etol
    out.hessian_min_eig, out.hessian_max_eig = float(ev[0]), float(lmax if out.hessian_method != "dense" else ev[-1])
    out.hessian_negative, out.hessian_zero = neg, int(zero_mask.sum())
    if gn > grad_tol:
        out.verdict, out.reason = "not_critical", f"gradient norm {gn:.3g} > tolerance {grad_tol:.3g}"
        return out
    if neg:
        v = torch.as_tensor(EV[:, 0], dtype=th.dtype, device=th.device)
        out.rayleigh_min = float(v @ _hvp_fn(f, th)(v))
        out.verdict = "saddle"
        out.reason = f"{neg} negative Hessian eigenvalue(s) (min {ev[0]:.3g}; Rayleigh quotient {out.rayleigh_min:.3g})"
        return out
    if dec:
        out.verdict, out.reason = (
            "saddle",
            f"{dec} of {perturbations} random perturbations of norm {radius:g} decrease C",
        )
        return out
    # higher order along the null space
    N = EV[:, zero_mask]
    if N.shape[1]:
        dirs = [N[:, i] for i in range(min(N.shape[1], null_directions))]
        while len(dirs) < null_directions:
            c = rng.standard_normal(N.shape[1])
            dirs.append(N @ (c / np.linalg.norm(c)))
        ts = step * 0.5 ** np.arange(int(ladder))
        worst = 0.0
        found = False
        for v in dirs:
            vt = torch.as_tensor(v / np.linalg.norm(v), dtype=th.dtype, device=th.device)
            P = torch.cat(
                [th[None] + float(tk) * vt[None] for tk in ts] + [th[None] - float(tk) * vt[None] for tk in ts]
            )
            vals = _values(f, P) - c0
            up, dn = vals[: len(ts)], vals[len(ts) :]
            phi = np.minimum(up, dn)
            worst = min(worst, float(phi.min()))
            tolk = tol + 10.0 * gn * ts
            if (phi[:3] < -tolk[:3]).all() and phi[0] <= phi[1] <= phi[2]:
                k2 = 2 if up[2] <= dn[2] else len(ts) + 2  # the descent point at the smallest of the three scales
                if _same_stratum(stratum, P[k2], ref_stratum):
                    found = True
                    break
        out.null_directions_tested = len(dirs)
        out.higher_order_min_change = worst
        out.higher_order_descent = found
        if found:
            out.verdict = "saddle"
            out.reason = (
                f"degenerate Hessian ({int(zero_mask.sum())} zero eigenvalue(s)) and a consistent higher-order "
                f"descent along a null direction (C falls by {-worst:.3g} at step {step:g})"
            )
            return out
    if out.hessian_method == "dense" and not N.shape[1]:
        out.verdict = "local_minimum"
        out.reason = f"critical, Hessian positive definite (smallest eigenvalue {ev[0]:.3g} > {etol:.3g})"
        return out
    if restricted is not None:
        out.verdict, out.restricted = restricted
        out.reason = (
            f"Hessian PSD with {int(zero_mask.sum())} zero eigenvalue(s), no descent found; decided by a "
            f"restricted analysis: {restricted[1]}"
        )
        return out
    out.status = Status.UNCERTIFIED
    if out.hessian_method != "dense":
        out.verdict = "undecided"
        out.reason = (
            f"critical, no negative eigenvalue among the {len(ev)} smallest found by Lanczos, but Lanczos cannot "
            "certify that none is missed and no restricted analysis applies"
        )
        return out
    out.verdict = "degenerate: undecided"
    out.reason = (
        f"critical, Hessian PSD with {int(zero_mask.sum())} zero eigenvalue(s): second order decides nothing; "
        f"no descent found along {out.null_directions_tested} null directions, no restricted analysis applies"
    )
    return out
