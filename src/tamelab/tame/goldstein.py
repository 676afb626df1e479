r"""Goldstein ε-subdifferential by gradient sampling: a one-sided (ε, δ)-stationarity certificate.

For a locally Lipschitz :math:`f` the Goldstein ε-subdifferential is
:math:`\partial_\varepsilon f(x)=\mathrm{conv}\bigcup_{\|y-x\|\le\varepsilon}\partial f(y)` and :math:`x` is
:math:`(\varepsilon,\delta)`-stationary when :math:`\mathrm{dist}(0,\partial_\varepsilon f(x))\le\delta`.
Gradient sampling (Burke, Lewis & Overton 2005): draw :math:`u_1,\dots,u_m` uniformly in the ball
:math:`B(x,\varepsilon)` (direction a normalised Gaussian, radius :math:`\varepsilon U^{1/p}`), take
:math:`g_i=\nabla f(u_i)` (almost surely :math:`f` is differentiable there, and we resample points that hit
a ReLU kink exactly), and solve the quadratic programme over the simplex

.. math::
    \rho_\varepsilon(x)^2=\min_{\lambda\in\Delta_m}\Big\|\sum_i\lambda_i g_i\Big\|^2=\min_{\lambda\in\Delta_m}\lambda^\top K\lambda,
    \qquad K=GG^\top .

Since every :math:`g_i\in\partial_\varepsilon f(x)`, :math:`\mathrm{dist}(0,\partial_\varepsilon f(x))\le\rho_\varepsilon(x)`:
a small :math:`\rho` certifies :math:`(\varepsilon,\rho)`-stationarity; a large one proves nothing (the samples may
miss pieces).

The QP is solved by :func:`min_norm_hull`, the package's single min-norm-point solver, with two methods
(spec §2.3c, step 3): ``method="wolfe"`` (default), Wolfe's minimum-norm-point algorithm (finite active-set
method) on the Gram matrix; ``method="nnls"``, the Cholesky factor :math:`K=R^\top R` and NNLS on
:math:`[R;\,M\mathbf 1^\top]\lambda\approx[0;\,M]`, :math:`M=10^3`, renormalised and polished by Frank–Wolfe
steps. Both results carry the same KKT certificate: :math:`\lambda\ge0`, :math:`\sum\lambda=1`, and the duality gap
:math:`\lambda^\top K\lambda-\min_i(K\lambda)_i\ge0` (zero exactly at the optimum; it bounds the suboptimality),
plus Wolfe's lower bound :math:`\rho\ge\min_i(K\lambda)_i/\|x\|`. :func:`min_norm_hull_exact` is the exact
rational reference (enumeration of all faces with ``fractions.Fraction``) used by the tests.

References:
    Goldstein, Math. Programming 13 (1977); Burke, Lewis & Overton, SIAM J. Optim. 15 (2005);
    Kiwiel, SIAM J. Optim. 18 (2007); Wolfe, Math. Programming 11 (1976);
    Bolte & Pauwels, arXiv:1909.10300 (conservative fields; AD outputs).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from fractions import Fraction
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from .._rng import SeedLike, np_rng, resolve_seed
from ..errors import InputError
from ..result import Result, Status

__all__ = ["MinNormPoint", "min_norm_hull", "MIN_NORM_METHODS", "min_norm_hull_exact", "sample_ball", "GoldsteinResult",
           "goldstein_stationarity", "model_loss_function", "stationarity", "ad_clarke_probe", "ad_vs_clarke_examples"]

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
        """Legacy tuple form ``rho, lam, duality_gap = min_norm_hull(G)`` (the former NNLS solver of
        :mod:`tamelab.tame.davis2020stochastic` returned this triple)."""
        return iter((self.rho, self.lam, self.duality_gap))

    def certificate(self) -> dict[str, Any]:
        return {"lambda_support": int((self.lam > 0).sum()), "simplex_residual": self.simplex_residual,
                "duality_gap": self.duality_gap, "complementarity": self.complementarity, "rho_lower": self.rho_lower,
                "iterations": self.iterations, "converged": self.converged, "method": self.method}


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


def min_norm_hull(G=None, *, K: np.ndarray | None = None, tol: float = QP_GAP_RTOL, max_iter: int | None = None,
                  method: str = "wolfe", ridge: float = 1e-14) -> MinNormPoint:
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
        raise InputError("method", f"unknown min-norm-point method {method!r}", f"use one of {', '.join(MIN_NORM_METHODS)}")
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
        if q - Kl[jn] <= tol * q or q <= 1e-30 * scale or jn in S:  # relative accuracy of ρ², or ρ = 0, or stuck
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
            if np.all(alpha > 1e-15):
                w = alpha
                break
            neg = alpha <= 1e-15
            ratios = w[neg] / np.maximum(w[neg] - alpha[neg], 1e-300)
            theta = float(min(1.0, ratios.min()))
            w = theta * alpha + (1 - theta) * w
            keep = w > 1e-15
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
    for it in range(1, 201):  # Frank–Wolfe polish on the exact Gram matrix
        grad = K @ lam
        i = int(np.argmin(grad))
        d = -lam.copy()
        d[i] += 1.0
        dKd = float(d @ K @ d)
        gap = float(lam @ grad - grad[i])
        if gap <= 1e-15 * max(1.0, float(lam @ grad)) or dKd <= 0:
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


def sample_ball(x: torch.Tensor, eps: float, m: int, seed: SeedLike = 0) -> torch.Tensor:
    """``m`` points i.i.d. uniform in the Euclidean ball B(x, eps) (float64 draws, cast to x's dtype)."""
    rng = np_rng(seed)
    p = x.numel()
    d = rng.standard_normal((m, p))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    r = eps * rng.random(m) ** (1.0 / p)
    u = x.detach().reshape(1, -1).to(torch.float64).cpu().numpy() + r[:, None] * d
    return torch.as_tensor(u, dtype=x.dtype).reshape(m, *x.shape)


@dataclasses.dataclass
class GoldsteinResult(Result):
    """Gradient-sampling certificate: ``dist(0, ∂_ε f(x)) ≤ rho`` (float error aside).

    Attributes:
        rho: ‖min-norm element of conv{∇f(u_i)}‖; ``eps``, ``m`` (samples), ``p`` (dimension), ``seed``.
        grad_norm_center: ‖AD(x)‖ (the AD output at x itself; included in the hull only when ``center_used``).
        qp: the QP's KKT certificate (simplex residual, duality gap, complementarity, lower bound).
        lam: hull weights; ``resampled``: samples redrawn because they hit a kink exactly;
        kinks_checked: whether kinks could be detected (ReLU modules of an ``nn.Sequential``).
        statement: what was certified, in words.
    """

    rho: float = float("nan")
    eps: float = 0.0
    m: int = 0
    p: int = 0
    grad_norm_center: float | None = None
    center_used: bool = False
    qp: dict[str, Any] = dataclasses.field(default_factory=dict)
    lam: list[float] = dataclasses.field(default_factory=list)
    resampled: int = 0
    kinks_checked: bool = False
    dtype: str = "float64"
    statement: str = ""

    kind = "goldstein_stationarity"

    def arrays(self) -> dict[str, np.ndarray]:
        return {"lambda": np.asarray(self.lam)}


def _batched_grads(fa: Callable, U: torch.Tensor, chunk: int) -> tuple[torch.Tensor, torch.Tensor]:
    """∇f and the kink counts at the rows of U (vmap(grad) in chunks; autograd loop as a fallback)."""
    from torch.func import grad, vmap

    g_fn = vmap(grad(fa, has_aux=True))
    out_g, out_k = [], []
    try:
        for i in range(0, U.shape[0], chunk):
            g, k = g_fn(U[i:i + chunk])
            out_g.append(g)
            out_k.append(torch.as_tensor(k).reshape(-1))
        return torch.cat(out_g), torch.cat(out_k)
    except Exception:  # noqa: BLE001 - functions that vmap cannot batch: plain loop
        gs, ks = [], []
        for u in U:
            u = u.detach().clone().requires_grad_(True)
            val, k = fa(u)
            (g,) = torch.autograd.grad(val, u)
            gs.append(g)
            ks.append(torch.as_tensor(k).reshape(()))
        return torch.stack(gs), torch.stack(ks)


def goldstein_stationarity(f: Callable[[torch.Tensor], Any], x: torch.Tensor, *, eps: float, m: int = 32, seed: SeedLike = 0,
                           has_aux: bool = False, chunk: int = 128, max_resample: int = 5) -> GoldsteinResult:
    r"""Sample ``m`` gradients in B(x, eps) and return the min-norm element of their hull (see module docstring).

    Args:
        f: ``f(x) -> scalar tensor`` (pure; vmappable for speed). With ``has_aux=True`` it returns
            ``(value, kinks)`` where ``kinks`` counts exact kink hits (then points on kinks are resampled and
            AD(x) joins the hull only if x hits no kink).
        x: the point (any shape; the dtype is used for all evaluations — float64 recommended).
        eps: radius ε > 0; m: number of samples ≥ 1; seed: sampling seed (recorded).
    """
    t0 = time.perf_counter()
    if not (isinstance(eps, (int, float)) and eps > 0 and math.isfinite(eps)):
        raise InputError("eps", f"must be a finite number > 0, got {eps!r}", "e.g. --eps 1e-3")
    if not isinstance(m, (int, np.integer)) or m < 1:
        raise InputError("samples", f"must be an integer >= 1, got {m!r}", "e.g. --samples 100")
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise InputError("x", "must be a floating-point torch.Tensor")
    s = resolve_seed(seed)
    x = x.detach()
    fa = f if has_aux else (lambda u: (f(u), torch.zeros((), dtype=torch.int64)))
    U = sample_ball(x, float(eps), int(m), seed=np.random.default_rng([s, 0]))
    G, kinks = _batched_grads(fa, U, chunk)
    resampled = 0
    for r in range(max_resample):
        bad = (kinks != 0).nonzero().reshape(-1)
        if bad.numel() == 0:
            break
        resampled += int(bad.numel())
        U2 = sample_ball(x, float(eps), int(bad.numel()), seed=np.random.default_rng([s, r + 1]))
        G2, k2 = _batched_grads(fa, U2, chunk)
        G[bad], kinks[bad] = G2, k2
    keep = (kinks == 0)
    if not bool(keep.any()):
        raise InputError("x", "every sampled point hit a kink exactly", "increase --eps or use float64")
    G = G[keep]
    gc, kc = _batched_grads(fa, x.unsqueeze(0), 1)
    center_used = bool(has_aux and int(kc[0]) == 0)
    Gm = G.reshape(G.shape[0], -1).to(torch.float64)
    if center_used:
        Gm = torch.cat([gc.reshape(1, -1).to(torch.float64), Gm])
    Gn = Gm.cpu().numpy()
    if not np.all(np.isfinite(Gn)):
        res = GoldsteinResult(status=Status.FAILED, seed=s, eps=float(eps), m=int(m), p=x.numel(),
                              statement="non-finite gradients in the ball")
        res.seconds = time.perf_counter() - t0
        return res
    mp = min_norm_hull(Gn)
    status = Status.OK if mp.converged else Status.NOT_CONVERGED
    res = GoldsteinResult(
        status=status, seed=s, rho=mp.rho, eps=float(eps), m=int(m), p=int(x.numel()),
        grad_norm_center=float(torch.linalg.vector_norm(gc.to(torch.float64))), center_used=center_used,
        qp=mp.certificate(), lam=mp.lam.tolist(), resampled=resampled, kinks_checked=bool(has_aux),
        dtype=str(x.dtype).replace("torch.", ""),
        statement=f"dist(0, Goldstein {eps:g}-subdifferential at x) <= {mp.rho:.6g} (from {Gn.shape[0]} sampled gradients)",
    )
    res.seconds = time.perf_counter() - t0
    return res


# ------------------------------------------------------------------------------------------ models
def _is_relu_like(mod: nn.Module) -> bool:
    return isinstance(mod, nn.ReLU) or getattr(type(mod), "tame_op", None) == "relu"


def model_loss_function(model: nn.Module, X: torch.Tensor, target: torch.Tensor, loss: str = "cross_entropy", *,
                        dtype: torch.dtype = torch.float64) -> tuple[Callable, torch.Tensor, bool]:
    """``(f, θ0, kinks_checked)``: the full-batch loss as a function of the flat parameter vector.

    ``f(θ) -> (loss, kinks)`` where ``kinks`` counts exact-zero inputs of the ReLU modules (for an
    ``nn.Sequential``; otherwise 0 and ``kinks_checked`` is False). Works under ``torch.func.vmap``.
    """
    from torch.func import functional_call

    if loss not in ("cross_entropy", "mse"):
        raise InputError("loss", f"unknown loss {loss!r}", "use cross_entropy or mse")
    lf = nn.functional.cross_entropy if loss == "cross_entropy" else nn.functional.mse_loss
    params = {k: v.detach().to(dtype) for k, v in model.named_parameters()}
    names = list(params)
    shapes = [params[k].shape for k in names]
    sizes = [params[k].numel() for k in names]
    theta0 = torch.cat([params[k].reshape(-1) for k in names])
    X = X.to(dtype)
    if target.is_floating_point():
        target = target.to(dtype)
    seq = isinstance(model, nn.Sequential)
    mods = list(model.named_children()) if seq else []

    def unflat(th):
        out, i = {}, 0
        for k, sh, n in zip(names, shapes, sizes):
            out[k] = th[i:i + n].reshape(sh)
            i += n
        return out

    def f(th):
        p = unflat(th)
        if not seq:
            return lf(functional_call(model, p, (X,)), target), torch.zeros((), dtype=torch.int64)
        h, kinks = X, torch.zeros((), dtype=torch.int64)
        for name, mod in mods:
            if _is_relu_like(mod):
                kinks = kinks + (h == 0).sum()
            sub = {k[len(name) + 1:]: v for k, v in p.items() if k.startswith(name + ".")}
            h = functional_call(mod, sub, (h,)) if sub else mod(h)
        return lf(h, target), kinks

    return f, theta0, seq


@torch.no_grad()
def _targets(ds, loss: str, k_out: int) -> torch.Tensor:
    if loss == "cross_entropy":
        if ds.y is None:
            raise InputError("--loss", "cross_entropy needs integer labels", "use --loss mse for regression data")
        return torch.as_tensor(ds.y, dtype=torch.long)
    if ds.Y is not None:
        return torch.as_tensor(ds.Y, dtype=torch.float64)
    return nn.functional.one_hot(torch.as_tensor(ds.y, dtype=torch.long), k_out).to(torch.float64)


def stationarity(model: nn.Module, data, *, loss: str = "cross_entropy", eps: float = 1e-3, m: int = 100, seed: SeedLike = 0,
                 dtype: torch.dtype = torch.float64, chunk: int = 128) -> GoldsteinResult:
    """Goldstein ε-stationarity certificate of the full-batch loss of ``model`` on ``data`` (a ``Dataset``)."""
    X = torch.as_tensor(data.X, dtype=dtype)
    import copy

    try:
        with torch.no_grad():
            k_out = int(copy.deepcopy(model).to(dtype)(X[:1]).shape[-1])
    except Exception as e:  # noqa: BLE001
        raise InputError("model", f"does not accept the data (d={X.shape[1]}): {type(e).__name__}: {e}",
                         "use a model whose input width matches the data") from None
    T = _targets(data, loss, k_out)
    if loss == "cross_entropy" and int(T.max()) >= k_out:
        raise InputError("model", f"has {k_out} outputs but the data has {int(T.max()) + 1} classes")
    f, theta0, checked = model_loss_function(model, X, T, loss, dtype=dtype)
    res = goldstein_stationarity(f, theta0, eps=eps, m=m, seed=seed, has_aux=True, chunk=chunk)
    res.kinks_checked = checked
    return res


# ------------------------------------------------------------------------------------ AD vs Clarke
def ad_clarke_probe(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *, eps: float = 1e-3, m: int = 32,
                    seed: SeedLike = 0, n_dirs: int = 8) -> dict[str, Any]:
    r"""Consistency test of the AD output at ``x`` with the Clarke subdifferential (spec §2.3a).

    Returns the AD output ``a``, ``rho`` (min-norm of the sampled ε-hull), ``dist_ad_to_hull``
    (= min-norm of {g_i − a}, solved by the same QP) and, for random unit directions d, the one-sided
    difference quotient f'(x; d) next to the support value max_i ⟨g_i, d⟩ (Clarke: max_{v∈∂f(x)}⟨v,d⟩ ≥ f'(x;d)).
    ``ad_inconsistent`` flags an AD output far (> 1e-6·scale) from the sampled hull.
    """
    s = resolve_seed(seed)
    x = x.detach().to(torch.float64)
    xr = x.clone().requires_grad_(True)
    (a,) = torch.autograd.grad(f(xr), xr)
    U = sample_ball(x, eps, m, seed=np.random.default_rng([s, 0]))
    G = torch.stack([_grad1(f, u) for u in U]).reshape(m, -1).numpy()
    hull = min_norm_hull(G)
    shift = min_norm_hull(G - a.reshape(1, -1).numpy())
    rng = np.random.default_rng([s, 1])
    h = 1e-6 * max(1.0, float(torch.linalg.vector_norm(x)))
    dirs = []
    for _ in range(n_dirs):
        d = rng.standard_normal(x.numel())
        d /= np.linalg.norm(d)
        dt = torch.as_tensor(d).reshape(x.shape)
        fd = float((f(x + h * dt) - f(x)) / h)
        dirs.append({"direction": d.tolist(), "one_sided_derivative": fd, "support_sampled_hull": float((G @ d).max())})
    scale = max(1.0, float(np.abs(G).max()))
    return {"ad": a.reshape(-1).tolist(), "rho": hull.rho, "hull_lambda": hull.lam.tolist(), "dist_ad_to_hull": shift.rho,
            "ad_inconsistent": bool(shift.rho > 1e-6 * scale), "eps": eps, "m": m, "seed": s, "directions": dirs,
            "support_dominates_fd": bool(all(dd["support_sampled_hull"] >= dd["one_sided_derivative"] - 1e-4 * scale
                                             for dd in dirs))}


def _grad1(f, u: torch.Tensor) -> torch.Tensor:
    u = u.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(u), u)
    return g


def ad_vs_clarke_examples(s_values: Sequence[float] = (0.0, 0.5, 1.0), *, eps: float = 1e-3, m: int = 16,
                          seed: SeedLike = 0, dtype: torch.dtype = torch.float64) -> list[dict[str, Any]]:
    r"""AD output vs Clarke subdifferential on programs that equal simple functions (spec §2.2).

    * :math:`g(x)=\mathrm{relu}(x)-\mathrm{relu}(-x)\equiv x`: AD gives :math:`2s` at 0, Clarke :math:`\{1\}`;
    * :math:`\mathrm{relu}_2(t)=\mathrm{relu}(-t)+t\equiv\mathrm{relu}`: AD gives :math:`1-s`, Clarke :math:`[0,1]`;
    * :math:`\mathrm{relu}_3=\frac12(\mathrm{relu}+\mathrm{relu}_2)\equiv\mathrm{relu}`: AD gives :math:`1/2`, Clarke :math:`[0,1]`;
    * :math:`\mathrm{relu}(x)-\mathrm{relu}(x)\equiv0`: AD gives 0 for every s, Clarke :math:`\{0\}`.

    Each row: program, s, AD output at 0, exact Clarke interval, whether AD ∈ Clarke, sampled-hull ρ_ε(0),
    and the probe's distance from the AD output to the sampled hull.
    """
    from .bertoin2021relu import relu_prime

    progs = {
        "relu(x)-relu(-x)": (lambda x, s: relu_prime(x, s) - relu_prime(-x, s), (1.0, 1.0)),
        "relu2(t)=relu(-t)+t": (lambda x, s: relu_prime(-x, s) + x, (0.0, 1.0)),
        "relu3=(relu+relu2)/2": (lambda x, s: 0.5 * (relu_prime(x, s) + relu_prime(-x, s) + x), (0.0, 1.0)),
        "relu(x)-relu(x)": (lambda x, s: relu_prime(x, s) - relu_prime(x, s), (0.0, 0.0)),
    }
    rows = []
    for name, (fn, clarke) in progs.items():
        for s in s_values:
            def f(x, fn=fn, s=s):
                return fn(x, s).sum()
            x0 = torch.zeros(1, dtype=dtype)
            pr = ad_clarke_probe(f, x0, eps=eps, m=m, seed=seed, n_dirs=2)
            ad = pr["ad"][0]
            rows.append({"program": name, "s": float(s), "ad_at_0": ad, "clarke_at_0": list(clarke),
                         "ad_in_clarke": bool(clarke[0] - 1e-12 <= ad <= clarke[1] + 1e-12),
                         "rho_eps_at_0": pr["rho"], "dist_ad_to_sampled_hull": pr["dist_ad_to_hull"], "eps": eps,
                         "m": m, "dtype": str(dtype).replace("torch.", "")})
    return rows
