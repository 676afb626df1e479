r"""The minimum-norm point of a convex hull (Wolfe 1976), with a KKT certificate, and an exact rational reference.

Solves :math:`\min_{\lambda\in\Delta_m}\lambda^\top K\lambda`, :math:`K=GG^\top`: the QP behind every
gradient-sampling certificate of the package (spec ``tame-optimization.md`` §2.3c, step 3). Two methods:
``method="wolfe"`` (default), Wolfe's minimum-norm-point algorithm (finite active-set method) on the Gram
matrix; ``method="nnls"``, the Cholesky factor :math:`K=R^\top R` and NNLS on
:math:`[R;\,M\mathbf 1^\top]\lambda\approx[0;\,M]`, :math:`M=10^3`, renormalised and polished by Frank–Wolfe
steps. Both results carry the same KKT certificate: :math:`\lambda\ge0`, :math:`\sum\lambda=1`, and the duality gap
:math:`\lambda^\top K\lambda-\min_i(K\lambda)_i\ge0` (zero exactly at the optimum; it bounds the suboptimality),
plus Wolfe's lower bound :math:`\rho\ge\min_i(K\lambda)_i/\|x\|`. :func:`min_norm_hull_exact` is the exact
rational reference (enumeration of all faces with ``fractions.Fraction``) used by the tests.

References:
    Wolfe, *Finding the nearest point in a polytope*, Math. Programming 11 (1976).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from fractions import Fraction
from typing import Any, Sequence

import numpy as np

from ..._numerics import FW_GAP_RTOL, WOLFE_WEIGHT_TOL, WOLFE_ZERO_RHO2
from ...errors import InputError

__all__ = ["MinNormPoint", "min_norm_hull", "MIN_NORM_METHODS", "min_norm_hull_exact", "QP_GAP_RTOL"]

#: duality-gap tolerance of the QP, relative to max_i K_ii
QP_GAP_RTOL = 1e-12


@dataclasses.dataclass
class MinNormPoint:
    """Minimum-norm point of conv{g_i} with its KKT certificate.

    Attributes:
        rho: ‖Σ λ_i g_i‖; ``lam``: weights on the simplex; ``rho_lower``: a certified lower bound on the exact value.
        simplex_residual: |Σλ − 1| + Σ max(−λ_i, 0); ``duality_gap``: λᵀKλ − min_i (Kλ)_i (≥ 0 up to rounding);
        complementarity: max_i λ_i · |(Kλ)_i − λᵀKλ| (0 at a KKT point); ``iterations``; ``converged``.
    """

    rho: float
    lam: np.ndarray
    rho_lower: float
    simplex_residual: float
    duality_gap: float
    complementarity: float
    iterations: int
    converged: bool
    method: str = "wolfe"

    def __iter__(self):
        """Legacy tuple form ``rho, lam, duality_gap = min_norm_hull(G)``.

        Legacy tuple form ``rho, lam, duality_gap = min_norm_hull(G)`` (the former NNLS solver of
        :mod:`tamelab.tame.davis2020stochastic` returned this triple).
        """
        return iter((self.rho, self.lam, self.duality_gap))

    def certificate(self) -> dict[str, Any]:
        """The optimality evidence as a dict: support, residuals, duality gap, lower bound, iterations."""
        return {
            "lambda_support": int((self.lam > 0).sum()),
            "simplex_residual": self.simplex_residual,
            "duality_gap": self.duality_gap,
            "complementarity": self.complementarity,
            "rho_lower": self.rho_lower,
            "iterations": self.iterations,
            "converged": self.converged,
            "method": self.method,
        }


def _kkt(K: np.ndarray, lam: np.ndarray) -> tuple[float, float, float, float]:
    Kl = K @ lam
    q = float(lam @ Kl)
    simplex = abs(float(lam.sum()) - 1.0) + float(np.maximum(-lam, 0).sum())
    gap = q - float(Kl.min())
    comp = float(np.max(lam * np.abs(Kl - q))) if lam.size else 0.0
    return q, simplex, gap, comp


def _gram(G) -> np.ndarray:
    G = np.asarray(G, dtype=np.float64)
    if G.ndim != 2 or G.shape[0] < 1:
        raise InputError("G", f"expected an (m, p) array of m >= 1 vectors, got shape {G.shape}")
    if not np.all(np.isfinite(G)):
        raise InputError("G", "contains non-finite entries", "check the gradients (nan/inf loss?)")
    return G @ G.T


MIN_NORM_METHODS = ("wolfe", "nnls")


def min_norm_hull(
    G=None,
    *,
    K: np.ndarray | None = None,
    tol: float = QP_GAP_RTOL,
    max_iter: int | None = None,
    method: str = "wolfe",
    ridge: float = 1e-14,
) -> MinNormPoint:
    r"""Minimum-norm point of the convex hull of the rows of ``G`` (or of the points with Gram matrix ``K``).

    Solves :math:`\min_{\lambda\in\Delta_m}\lambda^\top K\lambda`, :math:`K=GG^\top` (spec §2.3c step 3):

    * ``method="wolfe"`` (default): Wolfe's algorithm — keep a corral S of affinely independent points and
      the affine minimiser of aff(S); add the point minimising ⟨x, g_i⟩ while
      ‖x‖² − min_i⟨x, g_i⟩ > tol·‖x‖²; drop points whose weight would become negative. Finite in exact
      arithmetic; here float64 with a duality-gap stopping test.
    * ``method="nnls"``: Cholesky :math:`K+rI=R^\top R` (ridge :math:`r=` ``ridge``·tr K/m), NNLS on
      :math:`[R;\,M\mathbf 1^\top]\lambda\approx[0;\,M]`, :math:`M=10^3`, renormalise, then at most 200
      Frank–Wolfe steps on the exact Gram matrix (exact line search) to polish.

    Both return the same :class:`MinNormPoint` (KKT certificate: simplex residual, duality gap
    :math:`\lambda^\top K\lambda-\min_i(K\lambda)_i`, complementarity, Wolfe's lower bound). The result also
    unpacks as the legacy triple ``rho, lam, duality_gap``.

    Example:
        >>> round(min_norm_hull(np.array([[1.0, 2.0], [1.0, -2.0]])).rho, 12)
        1.0
        >>> round(min_norm_hull(np.array([[1.0, 2.0], [1.0, -2.0]]), method="nnls").rho, 12)
        1.0
    """
    if method not in MIN_NORM_METHODS:
        raise InputError(
            "method", f"unknown min-norm-point method {method!r}", f"use one of {', '.join(MIN_NORM_METHODS)}"
        )
    Gm = None
    if K is None:
        K = _gram(G)
        Gm = np.asarray(G, dtype=np.float64)
    K = np.asarray(K, dtype=np.float64)
    if K.ndim != 2 or K.shape[0] != K.shape[1] or K.shape[0] < 1:
        raise InputError("K", f"expected a square (m, m) Gram matrix with m >= 1, got shape {K.shape}")
    m = K.shape[0]
    scale = max(float(np.max(np.diag(K))), 1e-300)
    if method == "nnls":
        lam, it = _nnls_weights(K, ridge)
    else:
        lam, it = _wolfe_weights(K, tol, max_iter or 50 * m + 100)
    q, simplex, gap, comp = _kkt(K, lam)
    # with G at hand, ‖Gᵀλ‖ is accurate to rounding; sqrt(λᵀKλ) only to sqrt(rounding · max K_ii)
    rho = float(np.linalg.norm(Gm.T @ lam)) if Gm is not None else math.sqrt(max(q, 0.0))
    lower = max(0.0, float((K @ lam).min())) / rho if rho > 0 else 0.0
    converged = gap <= max(tol * q, tol * scale)
    return MinNormPoint(rho, lam, min(lower, rho), simplex, max(gap, 0.0), comp, it, bool(converged), method)


def _wolfe_weights(K: np.ndarray, tol: float, max_iter: int) -> tuple[np.ndarray, int]:
    m = K.shape[0]
    scale = max(float(np.max(np.diag(K))), 1e-300)
    j = int(np.argmin(np.diag(K)))
    S = [j]
    w = np.array([1.0])
    it = 0
    while it < max_iter:
        it += 1
        lam = np.zeros(m)
        lam[S] = w
        Kl = K @ lam
        q = float(lam @ Kl)
        jn = int(np.argmin(Kl))
        # relative accuracy of ρ², or ρ = 0, or stuck
        if q - Kl[jn] <= tol * q or q <= WOLFE_ZERO_RHO2 * scale or jn in S:
            break
        S.append(jn)
        w = np.append(w, 0.0)
        while True:  # minor cycle
            it += 1
            k = len(S)
            A = np.zeros((k + 1, k + 1))
            A[:k, :k] = K[np.ix_(S, S)]
            A[:k, k] = 1.0
            A[k, :k] = 1.0
            rhs = np.zeros(k + 1)
            rhs[k] = 1.0
            sol = np.linalg.lstsq(A, rhs, rcond=None)[0]
            alpha = sol[:k]
            if np.all(alpha > WOLFE_WEIGHT_TOL):
                w = alpha
                break
            neg = alpha <= WOLFE_WEIGHT_TOL
            ratios = w[neg] / np.maximum(w[neg] - alpha[neg], 1e-300)
            theta = float(min(1.0, ratios.min()))
            w = theta * alpha + (1 - theta) * w
            keep = w > WOLFE_WEIGHT_TOL
            if keep.sum() == 0:
                keep[np.argmax(w)] = True
            S = [s for s, kp in zip(S, keep) if kp]
            w = w[keep]
            w = w / w.sum()
            if it >= max_iter:
                break
    lam = np.zeros(m)
    lam[S] = np.maximum(w, 0)
    return lam / lam.sum(), it


def _nnls_weights(K: np.ndarray, ridge: float) -> tuple[np.ndarray, int]:
    from scipy.optimize import nnls

    m = K.shape[0]
    Kr = K + (ridge * np.trace(K) / m + 1e-300) * np.eye(m)
    sc = max(float(np.trace(Kr)) / m, 1e-300)
    R = np.linalg.cholesky(Kr / sc).T
    M = 1e3
    lam, _ = nnls(np.vstack([R, M * np.ones((1, m))]), np.concatenate([np.zeros(m), [M]]), maxiter=50 * m)
    lam = lam / lam.sum()
    it = 0
    for it in range(1, 201):  # noqa: B007 (Frank–Wolfe polish on the exact Gram matrix; the count is reported)
        grad = K @ lam
        i = int(np.argmin(grad))
        d = -lam.copy()
        d[i] += 1.0
        dKd = float(d @ K @ d)
        gap = float(lam @ grad - grad[i])
        if gap <= FW_GAP_RTOL * max(1.0, float(lam @ grad)) or dKd <= 0:
            break
        lam = lam + min(1.0, gap / dKd) * d
    return lam, it


def _solve_exact(A: list[list[Fraction]], b: list[Fraction]) -> list[Fraction] | None:
    n = len(A)
    M = [row[:] + [bi] for row, bi in zip(A, b)]
    for c in range(n):
        piv = next((r for r in range(c, n) if M[r][c] != 0), None)
        if piv is None:
            return None
        M[c], M[piv] = M[piv], M[c]
        for r in range(n):
            if r != c and M[r][c] != 0:
                f = M[r][c] / M[c][c]
                M[r] = [a - f * bb for a, bb in zip(M[r], M[c])]
    return [M[i][n] / M[i][i] for i in range(n)]


def min_norm_hull_exact(points: Sequence[Sequence[Any]]) -> tuple[Fraction, list[Fraction]]:
    r"""Exact reference: ``(ρ², λ)`` for the minimum-norm point of conv(points), in rational arithmetic.

    Enumerates every subset S (affinely independent subsets give a nonsingular KKT system
    :math:`\begin{bmatrix}K_{SS}&\mathbf1\\ \mathbf1^\top&0\end{bmatrix}`); the optimum lies in the relative interior of
    some face, where it is the affine minimiser of that face — so the least value over subsets with
    nonnegative affine weights is exact. Exponential in m: for m ≤ 12 only.
    """
    P = [[Fraction(v) for v in p] for p in points]
    m = len(P)
    if m < 1 or m > 12:
        raise InputError("points", f"need 1..12 points for exact enumeration, got {m}")
    K = [[sum((a * b for a, b in zip(P[i], P[j])), Fraction(0)) for j in range(m)] for i in range(m)]
    best: tuple[Fraction, list[Fraction]] | None = None
    for k in range(1, m + 1):
        for S in itertools.combinations(range(m), k):
            A = [[K[i][j] for j in S] + [Fraction(1)] for i in S] + [[Fraction(1)] * k + [Fraction(0)]]
            sol = _solve_exact(A, [Fraction(0)] * k + [Fraction(1)])
            if sol is None:
                continue
            alpha = sol[:k]
            if any(a < 0 for a in alpha):
                continue
            val = sum((alpha[a] * alpha[b] * K[S[a]][S[b]] for a in range(k) for b in range(k)), Fraction(0))
            if best is None or val < best[0]:
                lam = [Fraction(0)] * m
                for a, i in enumerate(S):
                    lam[i] = alpha[a]
                best = (val, lam)
    assert best is not None  # singletons are always feasible
    return best
