r"""Implicit bias of gradient descent on linear models (Soudry et al., arXiv:1710.10345, JMLR 19 (2018)).

Implicit bias of gradient descent on linear models (Soudry, Hoffer, Nacson, Gunasekar & Srebro,
arXiv:1710.10345, JMLR 19 (2018)).

* **Least squares** (their §1, a known fact they restate): GD from :math:`w_0=0` on an underdetermined
  :math:`\tfrac12\|Xw-y\|^2` stays in the row space of :math:`X` and converges to the minimum-norm
  interpolant :math:`X^+y` (pseudo-inverse).
* **Logistic loss on separable data** (Thm 3; homogeneous predictors, no bias):
  :math:`w(t)=\hat w\log t+\rho(t)` with :math:`\rho` bounded, where :math:`\hat w` is the hard-margin SVM
  solution :math:`\min\tfrac12\|w\|^2` s.t. :math:`y_ix_i^\top w\ge1`; hence the direction converges,
  :math:`\|w(t)/\|w(t)\|-\hat w/\|\hat w\|\|=O(1/\log t)` — very slowly.

:func:`hard_margin_svm` solves the SVM exactly: the dual (a bound-constrained QP) is solved by L-BFGS-B,
then the active set is polished by solving the KKT equations :math:`Z^\top Z\alpha_S=\mathbf 1` exactly
(:math:`Z` = the support columns :math:`y_ix_i`), and a KKT certificate (primal feasibility, :math:`\alpha\ge0`,
complementary slackness, stationarity) is checked; an uncertified solve is ``status != ok``.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from .._rng import resolve_seed
from ..errors import InputError
from ..result import Result, Status

__all__ = [
    "LogisticRun",
    "MinNormRun",
    "SVMSolution",
    "direction_gap",
    "hard_margin_svm",
    "least_squares_gd",
    "logistic_gd",
    "separable_data",
]


@dataclasses.dataclass
class MinNormRun(Result):
    """GD on least squares against the minimum-norm solution X⁺y: relative distance and residual."""

    w: np.ndarray | None = dataclasses.field(default=None, repr=False)
    min_norm: np.ndarray | None = dataclasses.field(default=None, repr=False)
    relative_distance: float = float("nan")
    residual: float = float("nan")
    steps: int = 0
    lr: float = 0.0


def least_squares_gd(X, y, *, steps: int = 5000, lr: float | None = None, w0=None) -> MinNormRun:
    """GD on ½‖Xw − y‖² from ``w0`` (default 0); compare with the pseudo-inverse solution X⁺y."""
    t0 = time.perf_counter()
    X, y = np.asarray(X, float), np.asarray(y, float).reshape(-1)
    if X.ndim != 2 or X.shape[0] != y.shape[0]:
        raise InputError("X, y", f"shapes {X.shape}, {y.shape} do not match", "X is (n, d), y is (n,)")
    smax = np.linalg.norm(X, 2)
    lr = 1.0 / smax**2 if lr is None else float(lr)
    w = np.zeros(X.shape[1]) if w0 is None else np.asarray(w0, float).copy()
    for _ in range(steps):
        w -= lr * X.T @ (X @ w - y)
    wp = np.linalg.pinv(X) @ y
    rel = float(np.linalg.norm(w - wp) / np.linalg.norm(wp))
    return MinNormRun(
        status=Status.OK,
        seconds=time.perf_counter() - t0,
        w=w,
        min_norm=wp,
        relative_distance=rel,
        residual=float(np.linalg.norm(X @ w - y)),
        steps=steps,
        lr=lr,
    )


@dataclasses.dataclass
class SVMSolution(Result):
    """The hard-margin SVM direction ŵ, its dual variables and support vectors."""

    w: np.ndarray | None = dataclasses.field(default=None, repr=False)
    alpha: np.ndarray | None = dataclasses.field(default=None, repr=False)
    support: list[int] = dataclasses.field(default_factory=list)
    margin: float = float("nan")  # 1/‖w‖ (geometric margin of the unit-norm direction)
    kkt_residual: float = float("nan")
    min_constraint: float = float("nan")
    note: str = ""


def hard_margin_svm(X, y, *, tol: float = 1e-10) -> SVMSolution:
    r"""Exact homogeneous hard-margin SVM :math:`\min\tfrac12\|w\|^2` s.t. :math:`y_ix_i^\top w\ge1` (module doc)."""
    from scipy.optimize import minimize

    t0 = time.perf_counter()
    X, y = np.asarray(X, float), np.asarray(y, float).reshape(-1)
    if not set(np.unique(y)) <= {-1.0, 1.0}:
        raise InputError("y", "labels must be ±1")
    Z = (X * y[:, None]).T  # d × n, columns y_i x_i
    K = Z.T @ Z
    n = len(y)
    # separability first (an LP): otherwise the dual is unbounded
    from scipy.optimize import linprog

    lp = linprog(np.zeros(X.shape[1]), A_ub=-Z.T, b_ub=-np.ones(n), bounds=[(None, None)] * X.shape[1], method="highs")
    if lp.status != 0:
        return SVMSolution(
            status=Status.INFEASIBLE,
            seconds=time.perf_counter() - t0,
            note="the data are not linearly separable through the origin: no hard-margin SVM",
        )

    def f(a):
        g = K @ a
        return 0.5 * a @ g - a.sum(), g - 1.0

    res = minimize(
        f,
        np.full(n, 1.0 / n),
        jac=True,
        method="L-BFGS-B",
        bounds=[(0, None)] * n,
        options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 20000},
    )
    a = res.x
    out = SVMSolution(status=Status.UNCERTIFIED)
    # polish on the active set: y_i x_i^T w = 1 on S, w = Z_S α_S
    for thresh in (1e-6, 1e-8, 1e-4):
        S = [i for i in range(n) if a[i] > thresh * max(a.max(), np.finfo(float).tiny)]
        if not S:
            continue
        try:
            aS = np.linalg.solve(K[np.ix_(S, S)], np.ones(len(S)))
        except np.linalg.LinAlgError:
            aS = np.linalg.lstsq(K[np.ix_(S, S)], np.ones(len(S)), rcond=None)[0]
        alpha = np.zeros(n)
        alpha[S] = aS
        w = Z @ alpha
        cons = Z.T @ w
        kkt = max(float(np.abs(cons[S] - 1).max()), float(max(0.0, -alpha.min())), float(max(0.0, 1 - cons.min())))
        if kkt <= tol * max(1.0, np.abs(w).max()):
            out = SVMSolution(
                status=Status.OK,
                w=w,
                alpha=alpha,
                support=S,
                margin=float(1 / np.linalg.norm(w)),
                kkt_residual=kkt,
                min_constraint=float(cons.min()),
            )
            break
        out = SVMSolution(
            status=Status.UNCERTIFIED,
            w=w,
            alpha=alpha,
            support=S,
            margin=float(1 / np.linalg.norm(w)),
            kkt_residual=kkt,
            min_constraint=float(cons.min()),
            note="KKT certificate failed",
        )
    out.seconds = time.perf_counter() - t0
    return out


def separable_data(n: int = 20, d: int = 2, *, seed=0, gap: float = 0.3) -> tuple[np.ndarray, np.ndarray, int]:
    """Linearly separable (through the origin) Gaussian data:

    labels from a random direction, points within ``gap`` of the separating hyperplane removed.
    """
    s = resolve_seed(seed)
    rng = np.random.default_rng(s)
    u = rng.standard_normal(d)
    u /= np.linalg.norm(u)
    X = np.zeros((0, d))
    while X.shape[0] < n:
        P = rng.standard_normal((4 * n, d)) + 0.5 * u  # shift so that the classes are unbalanced in position
        P = P[np.abs(P @ u) > gap]
        X = np.vstack([X, P])[:n]
    return X, np.sign(X @ u), s


def direction_gap(w: np.ndarray, w_hat: np.ndarray) -> float:
    """‖w/‖w‖ − ŵ/‖ŵ‖‖: the distance between the directions of ``w`` and ``w_hat``."""
    return float(np.linalg.norm(w / np.linalg.norm(w) - w_hat / np.linalg.norm(w_hat)))


@dataclasses.dataclass
class LogisticRun(Result):
    """GD on the logistic loss: gaps to the max-margin direction, norms and losses at checkpoints."""

    checkpoints: list[int] = dataclasses.field(default_factory=list)
    gaps: list[float] = dataclasses.field(default_factory=list)
    norms: list[float] = dataclasses.field(default_factory=list)
    losses: list[float] = dataclasses.field(default_factory=list)
    #: ‖ρ(t)‖ = ‖w(t) − ŵ log t‖ (bounded by Thm 3)
    rho_norms: list[float] = dataclasses.field(default_factory=list)
    lr: float = 0.0


def logistic_gd(
    X, y, w_hat: np.ndarray, *, checkpoints=(10, 100, 1000, 10_000, 100_000), lr: float | None = None, w0=None
) -> LogisticRun:
    r"""GD on the logistic loss (Soudry et al.'s setting); the direction gap to ``w_hat`` at each checkpoint.

    GD on :math:`\sum_i\log(1+e^{-y_ix_i^\top w})` (Soudry et al.'s setting, step
    :math:`\eta=1/\sigma_{\max}^2(X)<2\beta^{-1}\sigma_{\max}^{-2}`, β = 1/4); the direction gap to ``w_hat``
    at each checkpoint.
    """
    t0 = time.perf_counter()
    X, y = np.asarray(X, float), np.asarray(y, float).reshape(-1)
    Z = X * y[:, None]
    lr = 1.0 / np.linalg.norm(X, 2) ** 2 if lr is None else float(lr)
    w = np.zeros(X.shape[1]) if w0 is None else np.asarray(w0, float).copy()
    out = LogisticRun(status=Status.OK, lr=lr)
    t = 0
    for T in sorted(checkpoints):
        while t < T:
            m = Z @ w
            w += lr * Z.T @ (0.5 * (1 - np.tanh(0.5 * m)))  # σ(−m) = ½(1 − tanh(m/2)), overflow-free
            t += 1
        out.checkpoints.append(T)
        out.gaps.append(direction_gap(w, w_hat))
        out.norms.append(float(np.linalg.norm(w)))
        out.losses.append(float(np.logaddexp(0, -Z @ w).sum()))
        out.rho_norms.append(float(np.linalg.norm(w - np.asarray(w_hat, float) * np.log(T))))
    out.seconds = time.perf_counter() - t0
    return out
