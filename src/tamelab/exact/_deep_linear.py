r"""Deep linear networks: closed-form global optimum and the Baldi–Hornik critical points.

Loss (spec geometry.md §5.1): :math:`L(W_1,\dots,W_{H+1})=\tfrac12\|W_{H+1}\cdots W_1X-Y\|_F^2` with
:math:`X\in\mathbb R^{d_x\times m}`, :math:`Y\in\mathbb R^{d_y\times m}`, hidden widths :math:`d_1..d_H`,
bottleneck :math:`p=\min(d_x,d_1,\dots,d_H,d_y)`. With :math:`\Sigma_{XX}=XX^\top` (must be invertible),
:math:`W_{\rm ols}=YX^\top\Sigma_{XX}^{-1}` and :math:`\Sigma=W_{\rm ols}\Sigma_{XX}W_{\rm ols}^\top=U\Lambda U^\top`
(:math:`\lambda_1\ge\dots\ge\lambda_{d_y}`):

* global optimum (reduced-rank regression) :math:`W^*=U_pU_p^\top W_{\rm ols}`,
  :math:`L^*=\tfrac12(\mathrm{tr}\,YY^\top-\sum_{i\le p}\lambda_i)`; weights by a balanced SVD split;
* one hidden layer (Baldi & Hornik 1989): the critical products are :math:`U_IU_I^\top W_{\rm ols}` for
  index sets :math:`|I|\le p`, with loss :math:`\tfrac12(\mathrm{tr}\,YY^\top-\sum_{i\in I}\lambda_i)`; only
  :math:`I=\{1..p\}` is a local (= global) minimum, the others are saddles (distinct eigenvalues);
* any depth (Kawaguchi 2016): every local minimum is global; for :math:`H\ge2` the origin is a saddle
  whose Hessian is exactly zero (no negative eigenvalue).

Gradient: :math:`\partial L/\partial W_i=U_i^\top(WXX^\top-YX^\top)V_i^\top`, :math:`U_i=W_{H+1}\cdots W_{i+1}`,
:math:`V_i=W_{i-1}\cdots W_1`.

References:
    P. Baldi, K. Hornik, "Neural networks and principal component analysis: learning from examples
    without local minima", Neural Networks 2(1), 1989. K. Kawaguchi, "Deep learning without poor local
    minima", arXiv:1605.07110. D. Mehta, T. Chen, T. Tang, J. Hauenstein, arXiv:1810.07716.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from typing import Sequence

import numpy as np

from .._rng import resolve_seed
from ..errors import InputError
from ..result import Result, Status
from ._local_min import local_min_verdict

__all__ = [
    "DeepLinearOptimum",
    "deep_linear_optimum",
    "deep_linear_loss",
    "deep_linear_gradient",
    "deep_linear_hessian",
    "deep_linear_critical_points",
    "classify_critical_point",
    "deep_linear_gd",
    "linear_statistics",
    "LinearStatistics",
    "CriticalPointClass",
    "CriticalPoint",
    "DeepLinearGD",
]

#: XXᵀ with condition number above this is treated as singular.
COND_MAX = 1e12


def _product(Ws: Sequence[np.ndarray]) -> np.ndarray:
    P = np.asarray(Ws[0], float)
    for W in Ws[1:]:
        P = np.asarray(W, float) @ P
    return P


def _check_xy(X, Y):
    X = np.asarray(X, float)
    Y = np.asarray(Y, float)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1]:
        raise InputError("X/Y", f"expected X (dx, m) and Y (dy, m) with the same m, got {X.shape} and {Y.shape}")
    if not (np.isfinite(X).all() and np.isfinite(Y).all()):
        raise InputError("X/Y", "contain non-finite values")
    return X, Y


@dataclasses.dataclass
class LinearStatistics(Result):
    r"""The second-moment statistics of the data and the OLS map, with the spectrum of Σ and cond(Σ_XX).

    :math:`\Sigma_{XX}=XX^\top`, :math:`W_{\rm ols}`, :math:`\Sigma=W_{\rm ols}\Sigma_{XX}W_{\rm ols}^\top`, its
    eigenvalues (descending) and eigenvectors, and cond(:math:`\Sigma_{XX}`).
    """

    kind = "linear_statistics"

    Sxx: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 0)))
    Wols: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 0)))
    Sigma: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 0)))
    eigenvalues: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    U: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 0)))
    cond_xx: float = float("nan")


def linear_statistics(X, Y) -> LinearStatistics:
    r""":math:`\Sigma_{XX}`, :math:`W_{\rm ols}`, :math:`\Sigma` and its eigen-decomposition (descending).

    Raises :class:`InputError` when :math:`XX^\top` is singular (fewer independent samples than features).
    """
    X, Y = _check_xy(X, Y)
    Sxx = X @ X.T
    cond = np.linalg.cond(Sxx) if Sxx.size else math.inf
    if not np.isfinite(cond) or cond > COND_MAX:
        r = np.linalg.matrix_rank(X)
        raise InputError(
            "X",
            f"XXᵀ is singular or ill-conditioned (rank {r} < dx = {X.shape[0]}, cond {cond:.3g})",
            "use at least dx linearly independent samples or drop collinear features",
        )
    Wols = np.linalg.solve(Sxx, X @ Y.T).T
    Sigma = Wols @ (X @ Y.T)
    Sigma = (Sigma + Sigma.T) / 2
    lam, U = np.linalg.eigh(Sigma)
    return LinearStatistics(
        Sxx=Sxx, Wols=Wols, Sigma=Sigma, eigenvalues=lam[::-1].copy(), U=U[:, ::-1].copy(), cond_xx=float(cond)
    )


def deep_linear_loss(Ws: Sequence[np.ndarray], X, Y) -> float:
    """½‖W_{H+1}⋯W_1 X − Y‖²_F."""
    R = _product(Ws) @ np.asarray(X, float) - np.asarray(Y, float)
    return 0.5 * float((R * R).sum())


def deep_linear_gradient(Ws: Sequence[np.ndarray], X, Y) -> list[np.ndarray]:
    r"""Closed-form gradient :math:`U_i^\top(WXX^\top-YX^\top)V_i^\top` for every layer."""
    X, Y = _check_xy(X, Y)
    W = _product(Ws)
    G = (W @ X - Y) @ X.T
    out = []
    for i in range(len(Ws)):
        Ui = _product(Ws[i + 1 :]) if i + 1 < len(Ws) else np.eye(Ws[-1].shape[0])
        Vi = _product(Ws[:i]) if i > 0 else np.eye(Ws[0].shape[1])
        out.append(Ui.T @ G @ Vi.T)
    return out


def _shapes(dx, widths, dy):
    dims = [int(dx), *[int(w) for w in widths], int(dy)]
    return [(dims[i + 1], dims[i]) for i in range(len(dims) - 1)]


def deep_linear_hessian(Ws: Sequence[np.ndarray], X, Y) -> np.ndarray:
    """Dense Hessian of the loss w.r.t. all weights (row-major per layer, layer 1 first) via torch.func."""
    import torch
    from torch.func import hessian

    shapes = [np.asarray(W).shape for W in Ws]
    th = torch.tensor(np.concatenate([np.asarray(W, float).ravel() for W in Ws]), dtype=torch.float64)
    Xt = torch.tensor(np.asarray(X, float))
    Yt = torch.tensor(np.asarray(Y, float))

    def f(t):
        k, P = 0, Xt
        for a, b in shapes:
            P = t[k : k + a * b].reshape(a, b) @ P
            k += a * b
        return 0.5 * ((P - Yt) ** 2).sum()

    H = hessian(f)(th).numpy()
    return (H + H.T) / 2


def _balanced_factors(Wstar: np.ndarray, shapes, p: int) -> list[np.ndarray]:
    """Split W* (rank ≤ p) into len(shapes) factors, balanced: each carries s^{1/n} of the singular values."""
    A, s, Bt = np.linalg.svd(Wstar)
    n = len(shapes)
    r = p
    root = s[:r] ** (1.0 / n)
    Ws = []
    for k, (a, b) in enumerate(shapes):
        M = np.zeros((a, b))
        if k == 0 and n == 1:
            M[:] = Wstar
        elif k == 0:
            M[:r, :] = root[:, None] * Bt[:r]
        elif k == n - 1:
            M[:, :r] = A[:, :r] * root[None, :]
        else:
            M[:r, :r] = np.diag(root)
        Ws.append(M)
    return Ws


@dataclasses.dataclass
class DeepLinearOptimum(Result):
    """Global optimum of a deep linear network: product, balanced factorisation, loss and certificate."""

    kind = "deep_linear_optimum"

    dims: list[int] = dataclasses.field(default_factory=list)
    bottleneck: int = 0
    loss: float = 0.0
    loss_closed_form: float = 0.0
    eigenvalues: list[float] = dataclasses.field(default_factory=list)
    product: list[list[float]] = dataclasses.field(default_factory=list)
    weights: list[list[list[float]]] = dataclasses.field(default_factory=list, repr=False)
    gradient_norm: float = 0.0
    factorization_error: float = 0.0
    ols_loss: float = 0.0

    @property
    def W(self) -> np.ndarray:
        return np.asarray(self.product)

    @property
    def Ws(self) -> list[np.ndarray]:
        return [np.asarray(w) for w in self.weights]


def deep_linear_optimum(X, Y, widths: Sequence[int] = ()) -> DeepLinearOptimum:
    r"""Closed-form global minimizer of the deep linear least-squares loss, with balanced factors and a certificate.

    Closed-form global minimizer of :math:`\tfrac12\|W_{H+1}\cdots W_1X-Y\|^2` (reduced-rank regression when
    the bottleneck :math:`p<\min(d_x,d_y)`), with a balanced factorisation and its certificate: the
    gradient norm at the factors and :math:`|L(\text{factors})-L^*|`.
    """
    t0 = time.perf_counter()
    X, Y = _check_xy(X, Y)
    widths = [int(w) for w in widths]
    if any(w < 1 for w in widths):
        raise InputError("widths", f"hidden widths must be >= 1, got {widths}")
    st = linear_statistics(X, Y)
    dx, dy = X.shape[0], Y.shape[0]
    p = min([dx, dy, *widths])
    U, lam = st.U, st.eigenvalues
    Wstar = U[:, :p] @ (U[:, :p].T @ st.Wols)
    closed = 0.5 * (float((Y * Y).sum()) - float(lam[:p].sum()))
    shapes = _shapes(dx, widths, dy)
    Ws = _balanced_factors(Wstar, shapes, p)
    loss = deep_linear_loss(Ws, X, Y)
    g = deep_linear_gradient(Ws, X, Y)
    gn = math.sqrt(sum(float((G * G).sum()) for G in g))
    ferr = float(np.abs(_product(Ws) - Wstar).max())
    scale = max(1.0, float((Y * Y).sum()))
    ok = abs(loss - closed) <= 1e-9 * scale and gn <= 1e-7 * scale * max(1.0, float(np.linalg.norm(X)))
    return DeepLinearOptimum(
        status=Status.OK if ok else Status.UNCERTIFIED,
        seconds=time.perf_counter() - t0,
        dims=[dx, *widths, dy],
        bottleneck=p,
        loss=loss,
        loss_closed_form=closed,
        eigenvalues=lam.tolist(),
        product=Wstar.tolist(),
        weights=[W.tolist() for W in Ws],
        gradient_norm=gn,
        factorization_error=ferr,
        ols_loss=deep_linear_loss([st.Wols], X, Y),
    )


@dataclasses.dataclass
class CriticalPointClass(Result):
    """Classification of a critical point of a deep linear net, with the evidence.

    See :func:`classify_critical_point`.
    """

    kind = "critical_point_class"

    classification: str = ""
    reason: str = ""
    loss: float = float("nan")
    gradient_norm: float = float("nan")
    hessian_min_eig: float | None = None
    hessian_max_eig: float | None = None
    hessian_negative: int | None = None
    hessian_zero: int | None = None
    hessian_abs_max: float = float("nan")
    perturbations_decreasing: int = 0
    perturbation_min_change: float | None = None
    higher_order_descent: bool = False
    restricted: str = ""


def classify_critical_point(
    Ws: Sequence[np.ndarray],
    X,
    Y,
    *,
    seed=0,
    perturbations: int = 200,
    radius: float = 1e-2,
    eig_tol: float = 1e-8,
    grad_tol: float = 1e-8,
) -> CriticalPointClass:
    """Classify a critical point by its dense Hessian, random perturbations and a higher-order test.

    Classify a critical point by its dense Hessian, random perturbations and the higher-order test along the
    Hessian's null directions (:func:`tamelab.exact._local_min.local_min_verdict`).

    ``classification``: ``"not_critical"``; ``"saddle"`` (a negative Hessian eigenvalue); ``"degenerate_saddle"``
    (PSD Hessian but a perturbation or a higher-order step along a null direction lowers the loss);
    ``"minimum"`` (Hessian positive definite, or — degenerate Hessian — the loss equals the closed-form global
    optimum :math:`L^*` of :func:`deep_linear_optimum`, a proof of global minimality); ``"degenerate: undecided"``
    (PSD with zero eigenvalues, no descent found, loss above :math:`L^*`: second order decides nothing).
    """
    import torch

    X, Y = _check_xy(X, Y)
    g = deep_linear_gradient(Ws, X, Y)
    gn = math.sqrt(sum(float((G * G).sum()) for G in g))
    H = deep_linear_hessian(Ws, X, Y)
    l0 = deep_linear_loss(Ws, X, Y)
    shapes = [np.asarray(W).shape for W in Ws]
    Xt, Yt = torch.tensor(X), torch.tensor(Y)

    def f(t):
        k, P = 0, Xt
        for a, b in shapes:
            P = t[k : k + a * b].reshape(a, b) @ P
            k += a * b
        return 0.5 * ((P - Yt) ** 2).sum()

    th = torch.tensor(np.concatenate([np.asarray(W, float).ravel() for W in Ws]), dtype=torch.float64)
    gscale = grad_tol * max(1.0, float((Y * Y).sum())) * max(1.0, float(np.linalg.norm(X)))
    restricted = None
    try:
        opt = deep_linear_optimum(X, Y, [a for a, _ in shapes[:-1]])
        if abs(l0 - opt.loss_closed_form) <= 1e-9 * max(1.0, float((Y * Y).sum())):
            restricted = (
                "global_minimum",
                f"the loss equals the closed-form global optimum L* = {opt.loss_closed_form:.10g}",
            )
    except InputError:  # singular XXᵀ: no closed form to compare with
        pass
    v = local_min_verdict(
        f,
        th,
        grad_tol=gscale,
        eig_tol=eig_tol,
        restricted=restricted,
        seed=seed,
        perturbations=perturbations,
        radius=radius,
    )
    cls = {"not_critical": "not_critical", "local_minimum": "minimum", "global_minimum": "minimum"}.get(
        v.verdict, v.verdict
    )
    if v.verdict == "saddle" and not v.hessian_negative:
        cls = "degenerate_saddle"
    return CriticalPointClass(
        status=v.status,
        seed=v.seed,
        classification=cls,
        reason=v.reason,
        loss=l0,
        gradient_norm=gn,
        hessian_min_eig=v.hessian_min_eig,
        hessian_max_eig=v.hessian_max_eig,
        hessian_negative=v.hessian_negative,
        hessian_zero=v.hessian_zero,
        hessian_abs_max=float(np.abs(H).max()),
        perturbations_decreasing=v.perturbations_decreasing,
        perturbation_min_change=v.perturbation_min_change,
        higher_order_descent=v.higher_order_descent,
        restricted=v.restricted,
    )


@dataclasses.dataclass
class CriticalPoint(Result):
    """A Baldi–Hornik critical point: its index set, loss (closed form and measured), factors and classification."""

    kind = "critical_point"

    indices: list[int] = dataclasses.field(default_factory=list)
    loss_closed_form: float = float("nan")
    loss: float = float("nan")
    is_top_p: bool = False
    weights: list[np.ndarray] = dataclasses.field(default_factory=list, repr=False)
    classification: str | None = None
    reason: str = ""
    gradient_norm: float | None = None
    hessian_min_eig: float | None = None
    hessian_negative: int | None = None
    hessian_zero: int | None = None


def deep_linear_critical_points(X, Y, width: int, *, seed=0, classify: bool = True) -> list[CriticalPoint]:
    r"""All Baldi–Hornik critical points of the one-hidden-layer net (width ``width``):

    for each index set :math:`I\subseteq\{1..d_y\}`, :math:`|I|\le p`, the factors :math:`W_2=[U_I,0]`,
    :math:`W_1=[U_I^\top W_{\rm ols};0]`, the closed-form and measured loss, and (``classify``) the dense-Hessian
    classification.

    Needs distinct eigenvalues of :math:`\Sigma` (else the critical sets are not isolated up to GL(p)).
    """
    X, Y = _check_xy(X, Y)
    st = linear_statistics(X, Y)
    lam, U, Wols = st.eigenvalues, st.U, st.Wols
    dx, dy = X.shape[0], Y.shape[0]
    d = int(width)
    if d < 1:
        raise InputError("width", f"must be >= 1, got {d}")
    gaps = np.abs(np.diff(lam))
    if lam.size > 1 and gaps.min() <= 1e-9 * max(1.0, abs(lam[0])):
        raise InputError(
            "Y",
            f"Σ has repeated eigenvalues (smallest gap {gaps.min():.3g}); critical points are not isolated",
            "use generic data",
        )
    if lam[-1] <= 1e-12 * max(1.0, lam[0]):
        raise InputError("Y", "Σ = YXᵀ(XXᵀ)⁻¹XYᵀ is singular (rank(YXᵀ) < dy)", "use dy <= dx and generic data")
    p = min(dx, dy, d)
    trYY = float((Y * Y).sum())
    out = []
    for k in range(p + 1):
        for idx in itertools.combinations(range(dy), k):
            idx = list(idx)
            W2 = np.zeros((dy, d))
            W1 = np.zeros((d, dx))
            W2[:, :k] = U[:, idx]
            W1[:k] = U[:, idx].T @ Wols
            rec = CriticalPoint(
                seed=resolve_seed(seed),
                indices=idx,
                loss_closed_form=0.5 * (trYY - float(lam[idx].sum())),
                loss=deep_linear_loss([W1, W2], X, Y),
                weights=[W1, W2],
                is_top_p=idx == list(range(p)),
            )
            if classify:
                c = classify_critical_point([W1, W2], X, Y, seed=seed)
                rec = dataclasses.replace(
                    rec,
                    status=c.status,
                    classification=c.classification,
                    reason=c.reason,
                    gradient_norm=c.gradient_norm,
                    hessian_min_eig=c.hessian_min_eig,
                    hessian_negative=c.hessian_negative,
                    hessian_zero=c.hessian_zero,
                )
            out.append(rec)
    return out


@dataclasses.dataclass
class DeepLinearGD(Result):
    """Plain gradient descent on a deep linear net: final factors, product, loss curve and gradient norm."""

    kind = "deep_linear_gd"

    weights: list[np.ndarray] = dataclasses.field(default_factory=list, repr=False)
    product: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 0)))
    loss: float = float("nan")
    losses: list[float] = dataclasses.field(default_factory=list)
    lr: float = 0.0
    steps: int = 0
    gradient_norm: float = float("nan")


def deep_linear_gd(
    X, Y, widths: Sequence[int], *, steps: int = 5000, lr: float | None = None, init_scale: float = 0.1, seed=0
) -> DeepLinearGD:
    """Plain full-batch gradient descent from a seeded small random init (closed-form gradients).

    Step size default: 0.5 / (λ_max(XXᵀ) · n_layers · max(1, |W_ols|²)^((n-1)/n)).
    """
    X, Y = _check_xy(X, Y)
    s = resolve_seed(seed)
    rng = np.random.default_rng(s)
    shapes = _shapes(X.shape[0], widths, Y.shape[0])
    Ws = [init_scale * rng.standard_normal(sh) for sh in shapes]
    st = linear_statistics(X, Y)
    n = len(shapes)
    if lr is None:
        lr = 0.5 / (
            float(np.linalg.eigvalsh(st.Sxx)[-1]) * n * max(1.0, float(np.linalg.norm(st.Wols, 2)) ** (2 * (n - 1) / n))
        )
    losses = []
    for t in range(int(steps)):
        g = deep_linear_gradient(Ws, X, Y)
        Ws = [W - lr * G for W, G in zip(Ws, g)]
        if t % max(1, steps // 50) == 0:
            losses.append(deep_linear_loss(Ws, X, Y))
    g = deep_linear_gradient(Ws, X, Y)
    return DeepLinearGD(
        seed=s,
        weights=Ws,
        product=_product(Ws),
        loss=deep_linear_loss(Ws, X, Y),
        losses=losses,
        lr=lr,
        steps=int(steps),
        gradient_norm=math.sqrt(sum(float((G * G).sum()) for G in g)),
    )
