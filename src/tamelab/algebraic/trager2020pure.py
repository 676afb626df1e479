r"""Pure and spurious critical points of deep linear networks (Trager, Kohn & Bruna, arXiv:1910.01671, ICLR 2020).

The loss factors as :math:`L=\ell\circ\mu`, :math:`\mu(\theta)=W_{H+1}\cdots W_1`, onto the functional space
:math:`\mathcal M_r=\{W:\mathrm{rk}\,W\le r\}` (determinantal variety, r = the bottleneck width; *filling* when
:math:`r=\min(d_x,d_y)`). Its singular locus is :math:`\mathcal M_{r-1}`. A critical point θ of L is **pure** when
:math:`\mu(\theta)` is a critical point of :math:`\ell|_{\mathcal M_r}`, **spurious** otherwise.

Facts checked here on small cases with :math:`\ell(W)=\tfrac12\|W-Y\|_F^2` (whitened data, X = I):

* (derived) the image of :math:`d\mu(\theta)` contains the tangent space :math:`T_W\mathcal M_e`,
  :math:`e=\mathrm{rk}\,W` (the first- and last-layer terms already give all matrices with columns in
  :math:`\mathrm{col}\,W` or rows in :math:`\mathrm{row}\,W`), so **every** critical θ maps to a critical point of
  :math:`\ell|_{\mathcal M_e}`: :math:`U_e^\top(W-Y)=0` and :math:`(W-Y)V_e=0`; for the quadratic loss these are the
  Eckart–Young points :math:`W=\sum_{i\in I}\sigma_iu_iv_i^\top`, :math:`|I|=e`;
* rank :math:`e=r` ⇒ pure; rank :math:`e<r` (θ maps into the singular locus) ⇒ spurious for generic Y: the
  component of :math:`W-Y` normal to both singular spaces, :math:`P^\perp_U(W-Y)P^\perp_V\ne0`, is a descent
  direction inside the tangent cone of :math:`\mathcal M_r`;
* (TKB) with the quadratic loss every local minimum is global, also for non-filling architectures.

Critical points are found without using these facts: Levenberg–Marquardt on :math:`\nabla L(\theta)=0` from random
starts (some with zeroed rows, to reach low-rank strata), using the closed-form gradient of
:mod:`tamelab.exact._deep_linear` (finite-difference Jacobian, then a polish with its dense Hessian).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from .._rng import resolve_seed
from ..errors import InputError

__all__ = ["StratumAnalysis", "bottleneck", "find_critical_points", "stratum_analysis"]


def bottleneck(dx: int, widths: Sequence[int], dy: int) -> int:
    """The bottleneck width ``r = min(d_x, d_y, widths)``: the largest rank the end-to-end matrix can reach."""
    return int(min(dx, dy, *widths)) if widths else int(min(dx, dy))


def _unflat(t: np.ndarray, shapes) -> list[np.ndarray]:
    out, k = [], 0
    for a, b in shapes:
        out.append(t[k : k + a * b].reshape(a, b))
        k += a * b
    return out


def find_critical_points(
    Y: np.ndarray, widths: Sequence[int], *, starts: int = 40, seed=0, grad_tol: float = 1e-10
) -> list[list[np.ndarray]]:
    """Critical points of ½‖W_{H+1}⋯W_1 − Y‖² found by Levenberg–Marquardt on the gradient from random starts."""
    from scipy.optimize import least_squares

    from ..exact._deep_linear import deep_linear_gradient, deep_linear_hessian

    Y = np.asarray(Y, float)
    if Y.ndim != 2:
        raise InputError("Y", f"must be a matrix, got shape {Y.shape}")
    dy, dx = Y.shape
    X = np.eye(dx)
    dims = [dx, *[int(w) for w in widths], dy]
    shapes = [(dims[i + 1], dims[i]) for i in range(len(dims) - 1)]
    rng = np.random.default_rng(resolve_seed(seed))
    found = []
    scale = max(1.0, float(np.abs(Y).max()))
    for s in range(starts):
        t0 = rng.standard_normal(sum(a * b for a, b in shapes)) * (0.3 + 1.2 * rng.random())
        Ws0 = _unflat(t0, shapes)
        if s % 2 == 1:  # zero some rows of the first layer: starts near the low-rank strata
            k = int(rng.integers(1, shapes[0][0] + 1))
            Ws0[0][rng.choice(shapes[0][0], k, replace=False)] = 0.0
        t0 = np.concatenate([W.ravel() for W in Ws0])

        def g(t):
            return np.concatenate([G.ravel() for G in deep_linear_gradient(_unflat(t, shapes), X, Y)])

        r = least_squares(g, t0, method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=4000)
        if np.linalg.norm(g(r.x)) > grad_tol * scale:  # polish with the exact Hessian as the Jacobian
            r = least_squares(
                g,
                r.x,
                jac=lambda t: deep_linear_hessian(_unflat(t, shapes), X, Y),
                method="lm",
                xtol=1e-15,
                ftol=1e-15,
                gtol=1e-15,
                max_nfev=50,
            )
        if np.linalg.norm(g(r.x)) <= grad_tol * scale:
            found.append(_unflat(r.x, shapes))
    return found


@dataclasses.dataclass
class StratumAnalysis:
    """Where a deep linear network's end-to-end matrix sits: its rank stratum, criticality residuals, purity."""

    rank: int  # e = rk μ(θ)
    bottleneck: int  # r
    loss: float
    own_stratum_residual: float  # max(|U_eᵀ(W−Y)|, |(W−Y)V_e|): 0 ⇔ critical for ℓ on M_e
    eckart_young_set: tuple[int, ...]  # I with W = Σ_{i∈I} σ_i u_i v_iᵀ (1-based, Y's singular triples)
    eckart_young_error: float
    normal_residual: float  # |P⊥_U (W−Y) P⊥_V|: > 0 ⇒ not critical on M_r when e < r
    pure: bool


def stratum_analysis(
    Ws: Sequence[np.ndarray], Y: np.ndarray, *, rank_tol: float = 1e-7, match_tol: float = 1e-6
) -> StratumAnalysis:
    """Rank stratum of μ(θ), the criticality of ℓ on it, its Eckart–Young index set and pure/spurious status.

    ``rank_tol``: singular values of W above ``rank_tol``·σ₁(Y) count for the rank; ``match_tol``: Y's singular
    triple i belongs to the Eckart–Young set when |u_iᵀWv_i − σ_i| ≤ ``match_tol``·σ₁(Y).
    """
    Y = np.asarray(Y, float)
    W = Ws[0]
    for M in Ws[1:]:
        W = M @ W
    r = min(min(M.shape) for M in Ws)
    Uw, sw, Vtw = np.linalg.svd(W)
    sY = np.linalg.svd(Y, compute_uv=False)
    e = int(np.sum(sw > rank_tol * max(sY[0], np.finfo(float).tiny)))
    R = W - Y
    Ue, Ve = Uw[:, :e], Vtw[:e].T
    own = max(float(np.abs(Ue.T @ R).max(initial=0.0)), float(np.abs(R @ Ve).max(initial=0.0)))
    PU = np.eye(W.shape[0]) - Ue @ Ue.T
    PV = np.eye(W.shape[1]) - Ve @ Ve.T
    normal = float(np.linalg.norm(PU @ R @ PV))
    Uy, sy, Vty = np.linalg.svd(Y)
    idx = tuple(int(i) + 1 for i in range(len(sy)) if abs(float(Uy[:, i] @ W @ Vty[i]) - sy[i]) <= match_tol * sy[0])
    WI = sum((sy[i - 1] * np.outer(Uy[:, i - 1], Vty[i - 1]) for i in idx), np.zeros_like(W))
    return StratumAnalysis(
        rank=e,
        bottleneck=r,
        loss=0.5 * float((R * R).sum()),
        own_stratum_residual=own,
        eckart_young_set=idx,
        eckart_young_error=float(np.abs(W - WI).max()),
        normal_residual=normal,
        pure=e == r,
    )
