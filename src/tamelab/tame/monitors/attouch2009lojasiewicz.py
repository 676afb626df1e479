r"""Łojasiewicz exponents from trajectories, and the convergence rate they predict.

A function has the **Łojasiewicz property** at a critical point :math:`\bar x` with exponent
:math:`\theta\in[0,1)` if, near :math:`\bar x` and for :math:`f^*=f(\bar x)<f(x)<f^*+\eta`,

.. math:: |f(x)-f^*|^{\theta}\le c\,\operatorname{dist}\big(0,\partial f(x)\big).

(Convention stored with every number: ``"|f-f*|^theta <= c dist(0, df)"``; some authors write
:math:`|f-f^*|^{1-\theta}`.) Functions definable in a polynomially bounded o-minimal structure have
it (Łojasiewicz; Kurdyka 1998; Bolte–Daniilidis–Lewis 2007), and for descent methods the exponent
decides the rate (Attouch & Bolte 2009, arXiv:0802.0826 — the trichotomy of
:func:`predicted_rate`):

* :math:`\theta=0`: finite termination;
* :math:`0<\theta\le\frac12`: linear (geometric) rate :math:`f_k-f^*\le Cq^k`;
* :math:`\frac12<\theta<1`: :math:`f_k-f^*=O(k^{-1/(2\theta-1)})`,
  :math:`\|x_k-\bar x\|=O(k^{-(1-\theta)/(2\theta-1)})`.

Estimator (spec tame-optimization.md §5.3): :math:`f^*` known or fitted (tail model
:math:`F_k=f^*+Ak^{-\alpha}` by variable projection), keep points with
:math:`F_k-f^*>10^3\epsilon_{\rm mach}|f^*|` in the final phase, then

* **slope estimator** :math:`\hat\theta` = slope of :math:`\log g_k` against :math:`\log(F_k-f^*)`
  (bootstrap CI over checkpoints);
* **rate estimator**: power law :math:`F_k-f^*\approx Ak^{-\alpha}` gives
  :math:`\hat\theta=\frac12+\frac1{2\alpha}`; geometric decay gives :math:`\hat\theta\le\frac12`;
  exact termination with non-vanishing :math:`g` gives :math:`\hat\theta=0`.

Example: :math:`f=|x|^p` has :math:`\theta=1-1/p` (:math:`g=pF^{(p-1)/p}` exactly).

>>> import numpy as np
>>> F, g, k = power_gd_trajectory(4, lr=0.01, steps=20000)
>>> round(estimate_lojasiewicz(F, g, f_star=0.0, steps=k).theta_slope, 4)
0.75

References:
    Attouch & Bolte, *On the convergence of the proximal algorithm for nonsmooth functions
    involving analytic features*, Math. Program. 116 (2009), arXiv:0802.0826.
    Kurdyka, *On gradients of functions definable in o-minimal structures*, Ann. Inst. Fourier 48 (1998).
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import numpy as np

from ..._numerics import FLOAT64_RTOL, LOJ_SPREAD_RTOL
from ..._rng import SeedLike, np_rng, resolve_seed
from ...errors import InputError
from ...result import Result, Status

__all__ = [
    "LojasiewiczEstimate",
    "estimate_lojasiewicz",
    "predicted_rate",
    "fit_tail_fstar",
    "power_gd_trajectory",
    "LOJASIEWICZ_CONVENTION",
    "LojasiewiczProblem",
    "lojasiewicz_problems",
    "gd_trajectory",
]

#: the convention every stored θ refers to.
LOJASIEWICZ_CONVENTION = "|f-f*|^theta <= c dist(0, df(x))"
#: |θ_slope − θ_rate| above this is flagged (spec §5.3 step 5).
DISAGREEMENT_TOL = 0.05
#: tolerance of the trichotomy boundaries when classifying an *estimated* θ.
CLASS_TOL = 0.02


def predicted_rate(theta: float, *, tol: float = 0.0) -> dict[str, Any]:
    """The Attouch–Bolte rate class of a Łojasiewicz exponent.

    Args:
        theta: exponent in [0, 1).
        tol: boundary tolerance (θ ≤ tol → finite; |θ − 1/2| ≤ tol → linear) for estimated θ.

    Returns:
        ``{"class": "finite"|"linear"|"sublinear", "value_exponent", "iterate_exponent"}``; the
        exponents are those of :math:`k^{-e}` (``None`` unless sublinear).

    >>> predicted_rate(0.75)["value_exponent"]
    2.0
    """
    if not (isinstance(theta, (int, float, np.floating)) and 0.0 <= float(theta) < 1.0):
        raise InputError("theta", f"must be a number in [0, 1), got {theta!r}")
    theta = float(theta)
    if theta <= tol:
        return {"class": "finite", "value_exponent": None, "iterate_exponent": None}
    if theta <= 0.5 + tol:
        return {"class": "linear", "value_exponent": None, "iterate_exponent": None}
    return {
        "class": "sublinear",
        "value_exponent": 1.0 / (2 * theta - 1),
        "iterate_exponent": (1 - theta) / (2 * theta - 1),
    }


def _fit_power(k: np.ndarray, F: np.ndarray, alpha: float) -> tuple[float, float, float]:
    """Least squares of F ≈ f* + A k^-α for fixed α: returns (f*, A, rss)."""
    M = np.column_stack([np.ones_like(k), k ** (-alpha)])
    coef, *_ = np.linalg.lstsq(M, F, rcond=None)
    r = F - M @ coef
    return float(coef[0]), float(coef[1]), float(r @ r)


def _fit_geom(k: np.ndarray, F: np.ndarray, q: float) -> tuple[float, float, float]:
    """Least squares of F ≈ f* + A q^(k-k_0) for fixed q: returns (f*, A, rss)."""
    M = np.column_stack([np.ones_like(k), q ** (k - k[0])])
    coef, *_ = np.linalg.lstsq(M, F, rcond=None)
    r = F - M @ coef
    return float(coef[0]), float(coef[1]), float(r @ r)


def _vp_minimise(fun, grid: np.ndarray) -> tuple[float, float]:
    """Minimise a 1-D residual on a grid, then refine by bounded Brent between the neighbours."""
    from scipy.optimize import minimize_scalar

    vals = [fun(a) for a in grid]
    i = int(np.argmin(vals))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    best, fbest = float(grid[i]), float(vals[i])
    if hi > lo:
        res = minimize_scalar(fun, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12})
        if res.fun <= fbest:
            best, fbest = float(res.x), float(res.fun)
    return best, fbest


def fit_tail_fstar(F, steps=None, *, tail: float = 0.5) -> dict[str, Any]:
    r"""Fit the limit value :math:`f^*` on the last ``tail`` fraction of a trajectory.

    Two tail models, each linear in :math:`(f^*,A)` for a fixed shape parameter (variable
    projection: grid + bounded Brent over the shape): power law :math:`F_k=f^*+Ak^{-\alpha}` and
    geometric :math:`F_k=f^*+Aq^{k}`; the one with the smaller residual wins. Returns
    ``{"f_star", "A", "model", "alpha" or "q", "rss"}``.
    """
    F = np.asarray(F, dtype=np.float64)
    k = np.arange(1, len(F) + 1, dtype=np.float64) if steps is None else np.asarray(steps, dtype=np.float64)
    lo = int(len(F) * (1 - tail))
    kk, FF = k[lo:], F[lo:]
    if len(FF) < 4:
        raise InputError("values", f"need >= 4 tail points to fit f*, got {len(FF)}", "record more checkpoints")
    ks = kk / kk[0]  # conditioning
    a, r_pow = _vp_minimise(lambda a: _fit_power(ks, FF, a)[2], np.exp(np.linspace(np.log(0.05), np.log(20.0), 80)))
    span = kk[-1] - kk[0]
    # q^(k-k0) spans 1 .. q^span: grid in log q so that the decay over the window is 1e-300 .. 1e-3
    lq_grid = -np.exp(np.linspace(np.log(1e-3 * np.log(10)), np.log(300 * np.log(10)), 120)) / max(span, 1.0)
    lq, r_geo = _vp_minimise(lambda lq: _fit_geom(kk, FF, math.exp(lq))[2], np.sort(lq_grid))
    if r_geo < r_pow:
        fs, A, r = _fit_geom(kk, FF, math.exp(lq))
        return {"f_star": fs, "A": A, "model": "geometric", "q": math.exp(lq), "rss": r}
    fs, A, r = _fit_power(ks, FF, a)
    return {"f_star": fs, "A": A * kk[0] ** a, "model": "power", "alpha": a, "rss": r}


@dataclasses.dataclass
class LojasiewiczEstimate(Result):
    """θ̂ from a trajectory, with the rate it predicts and the rate observed."""

    kind = "lojasiewicz"

    convention: str = LOJASIEWICZ_CONVENTION
    theta_slope: float = float("nan")
    theta_slope_ci: tuple[float, float] = (float("nan"), float("nan"))
    theta_rate: float | None = None
    theta_rate_upper: float | None = None
    c: float = float("nan")
    f_star: float = float("nan")
    f_star_source: str = "known"
    n_points: int = 0
    observed_rate: dict[str, Any] = dataclasses.field(default_factory=dict)
    predicted_rate: dict[str, Any] = dataclasses.field(default_factory=dict)
    rates_agree: bool | None = None
    disagreement: float | None = None
    flags: list[str] = dataclasses.field(default_factory=list)


def _r2(y, yhat) -> float:
    ss = float(((y - y.mean()) ** 2).sum())
    return 1.0 - float(((y - yhat) ** 2).sum()) / ss if ss > 0 else 1.0


def _observed_rate(k: np.ndarray, e: np.ndarray) -> dict[str, Any]:
    """Classify the decay of e_k = F_k − f* > 0 on the kept tail: power law vs geometric."""
    lk, le = np.log(k), np.log(e)
    pw = np.polyfit(lk, le, 1)
    gm = np.polyfit(k, le, 1)
    r2_pw, r2_gm = _r2(le, np.polyval(pw, lk)), _r2(le, np.polyval(gm, k))
    alpha, q = -float(pw[0]), float(np.exp(gm[0]))
    if r2_gm > r2_pw and q < 1:
        return {"class": "linear", "q": q, "alpha": alpha, "r2_power": r2_pw, "r2_geometric": r2_gm}
    return {"class": "sublinear", "alpha": alpha, "q": q, "r2_power": r2_pw, "r2_geometric": r2_gm}


def estimate_lojasiewicz(
    values,
    stationarity,
    *,
    f_star: float | None = None,
    steps=None,
    iterates=None,
    tail: float = 0.5,
    bootstrap: int = 200,
    seed: SeedLike = 0,
) -> LojasiewiczEstimate:
    r"""Estimate the Łojasiewicz exponent at the limit of a trajectory (spec §5.3).

    Args:
        values: full-batch objective values :math:`F_k` at the checkpoints.
        stationarity: :math:`g_k` — :math:`\|\nabla F\|` (smooth) or a sampled-hull
            measure :math:`\rho_\varepsilon` (nonsmooth), same length.
        f_star: the limit value if known; otherwise fitted (:func:`fit_tail_fstar`, clamped to
            :math:`\le\min F`).
        steps: iteration counts of the checkpoints (default 1, 2, …).
        iterates: optional ``(K, p)`` array of checkpoints; the final phase then starts where
            :math:`\|\theta_k-\theta_K\|` becomes monotonically decreasing.
        tail: fraction of the usable points kept as the final phase (when ``iterates`` is None).
        bootstrap: resamples for the CI of the slope estimator.
        seed: seed of the bootstrap (recorded).

    Returns:
        A :class:`LojasiewiczEstimate`; ``status`` is ``UNCERTIFIED`` when the two estimators
        disagree by more than 0.05 or too few points remain.
    """
    t0 = time.perf_counter()
    F, g, k = _check_trajectory(values, stationarity, steps, tail)
    s = resolve_seed(seed)
    flags: list[str] = []
    fs, src = _limit_value(F, k, f_star, flags)
    e = F - fs
    floor = max(1e3 * np.finfo(np.float64).eps * abs(fs), np.finfo(np.float64).tiny)
    usable = (e > floor) & (g > 0)
    idx = np.flatnonzero(usable)
    terminated = bool(idx.size and idx[-1] < F.size - 1 and np.all(e[idx[-1] + 1 :] <= floor))
    if iterates is not None:
        X = np.asarray(iterates, dtype=np.float64).reshape(F.size, -1)
        d = np.linalg.norm(X - X[-1], axis=1)
        inc = np.flatnonzero(np.diff(d) > 0)
        idx = idx[idx >= (int(inc[-1] + 1) if inc.size else 0)]
    else:
        idx = idx[int(math.floor(idx.size * (1 - tail))) :]
    res = LojasiewiczEstimate(
        status=Status.OK, seed=s, f_star=fs, f_star_source=src, n_points=int(idx.size), flags=flags
    )
    if idx.size < 3:
        res.status = Status.UNCERTIFIED
        flags.append(f"only {idx.size} usable points in the final phase")
        res.seconds = time.perf_counter() - t0
        return res
    th = _slope_estimate(res, np.log(e[idx]), np.log(g[idx]), e[idx], g[idx], bootstrap, s)
    _rate_estimate(res, k, e, g, idx, terminated, th)
    res.seconds = time.perf_counter() - t0
    return res


def _check_trajectory(values, stationarity, steps, tail) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    F = np.asarray(values, dtype=np.float64).ravel()
    g = np.asarray(stationarity, dtype=np.float64).ravel()
    if F.shape != g.shape:
        raise InputError("stationarity", f"length {g.size} != length of values {F.size}", "pass one g_k per F_k")
    if F.size < 8:
        raise InputError("values", f"need >= 8 checkpoints, got {F.size}", "record a longer trajectory")
    if not (np.all(np.isfinite(F)) and np.all(np.isfinite(g))) or np.any(g < 0):
        raise InputError("values/stationarity", "must be finite, stationarity >= 0", "drop diverged checkpoints")
    if not 0 < tail <= 1:
        raise InputError("tail", f"must be in (0, 1], got {tail}")
    k = np.arange(1, F.size + 1, dtype=np.float64) if steps is None else np.asarray(steps, dtype=np.float64).ravel()
    if k.shape != F.shape or np.any(k <= 0) or np.any(np.diff(k) <= 0):
        raise InputError("steps", "must be positive, strictly increasing, one per value", "e.g. 1..K")
    return F, g, k


def _limit_value(F: np.ndarray, k: np.ndarray, f_star, flags: list[str]) -> tuple[float, str]:
    """``(f*, source)``: the given limit value (checked) or a tail fit clamped to ``<= min F``."""
    if f_star is not None:
        fs = float(f_star)
        if F.min() < fs - FLOAT64_RTOL * max(1.0, abs(fs)):
            flags.append(f"min F = {F.min():.6g} < f* = {fs:.6g}: f* is not the limit value")
        return fs, "known"
    nz = np.flatnonzero(F > F.min())
    try:
        fit = fit_tail_fstar(F[: nz[-1] + 1] if nz.size else F, k[: nz[-1] + 1] if nz.size else k, tail=0.5)
    except InputError:
        return float(F.min()), "min over the run"
    shape = f"alpha={fit['alpha']:.4g}" if fit["model"] == "power" else f"q={fit['q']:.6g}"
    return min(fit["f_star"], float(F.min())), f"tail fit ({fit['model']}, {shape}), clamped to <= min F"


def _slope_estimate(res: LojasiewiczEstimate, le, lg, e, g, bootstrap: int, s: int) -> float:
    """Slope of log g on log(F - f*) with a bootstrap CI; returns the exponent clipped to [0, 1)."""
    slope = float(np.polyfit(le, lg, 1)[0]) if np.ptp(le) > 0 else float("nan")
    res.theta_slope = slope
    rng = np_rng(s)
    boots = []
    for _ in range(int(bootstrap)):
        j = rng.integers(0, le.size, le.size)
        if np.ptp(le[j]) > LOJ_SPREAD_RTOL * max(1.0, float(np.abs(le).max())):
            boots.append(np.polyfit(le[j], lg[j], 1)[0])
    if boots:
        res.theta_slope_ci = (float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5)))
    th = min(max(slope, 0.0), 1.0 - 1e-12) if math.isfinite(slope) else 0.0
    with np.errstate(over="ignore", divide="ignore"):
        res.c = float(np.max(e**th / g))
    return th


def _rate_estimate(res: LojasiewiczEstimate, k, e, g, idx, terminated: bool, th: float) -> None:
    """The rate estimator, the predicted and observed rate classes, and the agreement flags."""
    flags = res.flags
    g_ratio = float(g[idx].min() / g[idx].max())
    if terminated and g_ratio > 0.1:
        obs = {"class": "finite", "terminated_at_step": float(k[idx[-1] + 1]), "g_min_over_max": g_ratio}
        res.theta_rate = 0.0
    elif idx.size >= 4:
        obs = _observed_rate(k[idx], e[idx])
        if obs["class"] == "linear":
            res.theta_rate_upper = 0.5
        elif obs["alpha"] > 0:
            res.theta_rate = 0.5 + 1.0 / (2.0 * obs["alpha"])
    else:
        obs = {"class": "unknown"}
    if terminated and obs["class"] != "finite":
        flags.append("values reached f* exactly after the last usable point (underflow or termination)")
    res.observed_rate = obs
    res.predicted_rate = predicted_rate(th, tol=CLASS_TOL)
    res.rates_agree = bool(res.predicted_rate["class"] == obs.get("class"))
    if res.theta_rate is not None:
        res.disagreement = abs(res.theta_rate - res.theta_slope)
    elif res.theta_rate_upper is not None:
        res.disagreement = max(0.0, res.theta_slope - res.theta_rate_upper)
    if res.disagreement is not None and res.disagreement > DISAGREEMENT_TOL:
        flags.append(f"slope and rate estimators disagree by {res.disagreement:.3g} > {DISAGREEMENT_TOL}")
        res.status = Status.UNCERTIFIED
    if not res.rates_agree:
        res.status = Status.UNCERTIFIED


def power_gd_trajectory(p: float, *, lr: float, steps: int, x0: float = 1.0, shift: float = 0.0):
    r"""Gradient descent on :math:`f(x)=|x|^p+\text{shift}` (scalar, float64) — a reference problem.

    Uses the subgradient :math:`\operatorname{sign}(x)` for ``p == 1`` (0 at 0). Returns
    ``(F_k, |f'(x_k)|, k)`` for :math:`k=1..\text{steps}`, the iterate *after* step k.
    """
    if p < 1:
        raise InputError("p", f"must be >= 1, got {p}")
    x = float(x0)
    F = np.empty(int(steps))
    G = np.empty(int(steps))
    for t in range(int(steps)):
        gx = math.copysign(p * abs(x) ** (p - 1), x) if x != 0 else 0.0
        x = x - lr * gx
        F[t] = abs(x) ** p + shift
        G[t] = p * abs(x) ** (p - 1) if x != 0 else 0.0
    return F, G, np.arange(1, int(steps) + 1, dtype=np.float64)


@dataclasses.dataclass
class LojasiewiczProblem:
    """A smooth objective with a known Łojasiewicz exponent at the limit of gradient descent from ``x0``.

    Attributes:
        name; f, grad: the objective and its gradient (float64 NumPy); x0, lr, steps: the GD run; f_star: the limit
        value; theta: the exponent at the limit (``LOJASIEWICZ_CONVENTION``); why: where it comes from.
    """

    name: str
    f: Any = dataclasses.field(repr=False)
    grad: Any = dataclasses.field(repr=False)
    x0: np.ndarray = dataclasses.field(repr=False)
    lr: float
    steps: int
    f_star: float
    theta: float
    why: str


def gd_trajectory(problem: LojasiewiczProblem, *, stop_gap: float = 1e-20) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(F_k, ‖∇f(x_k)‖, k)`` along gradient descent ``x_{k+1} = x_k − lr ∇f(x_k)``, k = 1..steps (after step k).

    Stops early once ``F_k − f* <= stop_gap`` (below that, float64 rounding of the objective, not the geometry,
    decides the values: a residual of 1e-10 on O(1) data squares to 1e-20).
    """
    x = np.array(problem.x0, dtype=np.float64)
    F, G = np.empty(problem.steps), np.empty(problem.steps)
    g = problem.grad(x)
    t = 0
    for t in range(problem.steps):
        x = x - problem.lr * g
        g = problem.grad(x)
        F[t], G[t] = problem.f(x), float(np.sqrt(g @ g))
        if F[t] - problem.f_star <= stop_gap:
            break
    return F[: t + 1], G[: t + 1], np.arange(1, t + 2, dtype=np.float64)


def _deep_linear(x0, why, theta) -> LojasiewiczProblem:
    def f(w):
        return 0.5 * float(w[0] * w[1] * w[2]) ** 2

    def grad(w):
        p = w[0] * w[1] * w[2]
        return p * np.array([w[1] * w[2], w[0] * w[2], w[0] * w[1]])

    name = "deep-linear-3-balanced" if len(set(x0)) == 1 else "deep-linear-3-unbalanced"
    return LojasiewiczProblem(name, f, grad, np.array(x0, float), 0.1, 1500 if theta == 0.5 else 20000, 0.0, theta, why)


def _relu_teacher(seed: SeedLike) -> LojasiewiczProblem:
    """Least squares of a 2-3-1 ReLU net on 60 points labelled by a teacher, started near the teacher.

    Least squares of a 2-3-1 ReLU net on 60 fixed points labelled by a fixed teacher of the same shape (hidden
    directions 120° apart), started at the teacher plus ``N(0, 0.02²)`` noise (``seed``); step 1/λ_max(∇²f) there.
    """
    n, d, h = 60, 2, 3
    X = np.random.default_rng(20090802).standard_normal((n, d))
    teacher = np.array([1.0, 0.0, -0.5, 0.866, -0.5, -0.866, 0.2, -0.1, 0.3, 1.0, -1.0, 0.8, 0.1])

    def unpack(t):
        return t[: h * d].reshape(h, d), t[h * d : h * d + h], t[h * d + h : h * d + 2 * h], t[-1]

    A, b, c, e = unpack(teacher)
    y = np.maximum(X @ A.T + b, 0) @ c + e

    def f(t):
        A, b, c, e = unpack(t)
        return float(np.mean((np.maximum(X @ A.T + b, 0) @ c + e - y) ** 2))

    def grad(t):
        A, b, c, e = unpack(t)
        Z = X @ A.T + b
        H = np.maximum(Z, 0)
        r = 2 * (H @ c + e - y) / n
        dH = np.outer(r, c) * (Z > 0)
        return np.concatenate([(dH.T @ X).ravel(), dH.sum(0), H.T @ r, [r.sum()]])

    eye = np.eye(teacher.size)
    hess = np.stack([(grad(teacher + 1e-6 * u) - grad(teacher - 1e-6 * u)) / 2e-6 for u in eye])
    lr = 1.0 / float(np.linalg.eigvalsh((hess + hess.T) / 2).max())
    x0 = teacher + 0.02 * np_rng(seed).standard_normal(teacher.size)
    return LojasiewiczProblem(
        "relu-net-near-global-min",
        f,
        grad,
        x0,
        lr,
        20000,
        0.0,
        0.5,
        "zero-loss minimum of a realisable ReLU net: locally a smooth manifold (rescaling "
        "symmetries) with a nondegenerate transversal Hessian (Morse–Bott), so theta = 1/2",
    )


def lojasiewicz_problems(seed: SeedLike = 0) -> list[LojasiewiczProblem]:
    r"""Problems whose Łojasiewicz exponent at the GD limit is known and is *not* read off the objective's formula.

    * ``quartic-2d``: :math:`x^4+x^2y^2+y^4`, homogeneous of degree 4 and positive definite, so
      :math:`|\nabla f|\asymp r^3`, :math:`f\asymp r^4`: θ = 3/4 at the isolated degenerate minimum 0;
    * ``deep-linear-3-balanced``: the scalar deep linear net :math:`\tfrac12(w_1w_2w_3)^2` from a balanced start
      (GD keeps :math:`w_1=w_2=w_3=t`, :math:`f=t^6/2`): θ = 5/6 at the degenerate minimum 0;
    * ``deep-linear-3-unbalanced``: the same net from an unbalanced start converges to a point of
      :math:`\{w_1w_2w_3=0\}` with the other two weights nonzero, where the minimum set is a smooth manifold and
      the Hessian is nondegenerate across it (Morse–Bott): θ = 1/2;
    * ``relu-net-near-global-min``: see :func:`_relu_teacher` (θ = 1/2).
    """
    quartic = LojasiewiczProblem(
        "quartic-2d",
        lambda x: float(x[0] ** 4 + x[0] ** 2 * x[1] ** 2 + x[1] ** 4),
        lambda x: np.array([4 * x[0] ** 3 + 2 * x[0] * x[1] ** 2, 2 * x[0] ** 2 * x[1] + 4 * x[1] ** 3]),
        np.array([0.9, -0.5]),
        0.02,
        20000,
        0.0,
        0.75,
        "positive definite homogeneous quartic: |grad f| ~ r^3, f ~ r^4, so theta = 3/4 (Lojasiewicz)",
    )
    return [
        quartic,
        _deep_linear(
            [0.8, 0.8, 0.8], "balanced scalar deep linear net: f = t^6/2 along the GD path, theta = 5/6", 5 / 6
        ),
        _deep_linear(
            [0.6, 0.9, 1.0], "unbalanced start: limit on the Morse-Bott part of {w1 w2 w3 = 0}, theta = 1/2", 0.5
        ),
        _relu_teacher(seed),
    ]
