r"""The Burke–Lewis–Overton gradient-sampling optimiser for nonsmooth, nonconvex locally Lipschitz functions.

Spec ``tame-optimization.md`` §2.3(d). Parameters :math:`\varepsilon_0,\nu_0>0`, reduction factors
:math:`\theta_\varepsilon,\theta_\nu\in(0,1)`, Armijo constant :math:`\beta\in(0,1)`, backtracking factor
:math:`\gamma\in(0,1)`, sample size :math:`m` (BLO's theory wants :math:`m\ge p+1`). From a point :math:`x_k`
where :math:`f` is differentiable, iteration :math:`k`:

1. draw :math:`u_1,\dots,u_m` i.i.d. uniform in :math:`B(x_k,\varepsilon_k)` (resampling points on a kink) and
   let :math:`g_k` be the minimum-norm element of
   :math:`G_k=\mathrm{conv}\{\nabla f(x_k),\nabla f(u_1),\dots,\nabla f(u_m)\}` (the QP is
   :func:`tamelab.tame.goldstein.min_norm_hull`); :math:`\rho_k=\|g_k\|`;
2. if :math:`\rho_k\le\nu_k` (null step): :math:`\nu_{k+1}=\theta_\nu\nu_k`,
   :math:`\varepsilon_{k+1}=\theta_\varepsilon\varepsilon_k`, :math:`x_{k+1}=x_k`;
3. else :math:`d_k=-g_k/\rho_k` and :math:`t_k=\max\{1,\gamma,\gamma^2,\dots\}` with
   :math:`f(x_k+t_kd_k)<f(x_k)-\beta t_k\rho_k` (Armijo); since :math:`\nabla f(x_k)\in G_k`,
   :math:`f'(x_k;d_k)\le-\rho_k` and the search terminates in exact arithmetic;
4. :math:`x_{k+1}=x_k+t_kd_k` unless :math:`f` is not differentiable there (a *kink*): then
   :math:`x_{k+1}` is drawn uniformly in :math:`B(x_k+t_kd_k,r)`, :math:`r=\min(t_k,\varepsilon_k)2^{-j}`,
   :math:`j=0,1,\dots`, until it is not a kink and still satisfies the Armijo inequality (BLO's
   perturbation step; Kiwiel 2007 shows it keeps the convergence theory).

**Stopping and certificate.** The run stops with ``status = ok`` at the first iteration whose hull was
sampled with :math:`\varepsilon_k\le` ``eps_tol`` and has :math:`\rho_k\le` ``nu_tol``: every sampled gradient
lies in the Goldstein :math:`\varepsilon_k`-subdifferential, so
:math:`\mathrm{dist}(0,\partial_{\varepsilon_k}f(x_k))\le\rho_k` — a sound :math:`(\varepsilon_k,\rho_k)`-
stationarity certificate (up to float error) at the returned point. Reaching ``max_iter`` first gives
``not_converged``.

**Kinks.** "Not differentiable at :math:`x`" is decided by what the caller provides:
``kink(x) -> bool`` (numpy backend or torch), for torch functions ``has_aux=True`` with
``fun(x) -> (value, kink_count)`` (a nonzero count, e.g. exact zeros at ReLU inputs, is a kink), and otherwise,
for torch functions, the kink count of an fx trace of ``fun`` (:mod:`tamelab.tame.nonsmooth._kinks`); in every
case a non-finite value or gradient is a kink too.

**What ``certified`` proves.** The hull that steers the method contains :math:`\nabla f(x_k)`; the *certificate*
uses it only when the differentiability of :math:`x_k` was checked. Otherwise (numpy ``fun`` without ``kink``, or a
torch ``fun`` fx cannot trace) the AD output at :math:`x_k` may be an artefact of a kink (Bolte & Pauwels), so the
certificate is the min-norm element of the *sampled* gradients alone (``rho_certified``). A radius below the
dtype's resolution at :math:`x_k` (:func:`~tamelab.tame.nonsmooth.goldstein1977optimization.check_radius`) stops the
run uncertified.

Known results [spec §2.3d]: for fixed :math:`\varepsilon` and bounded level sets, w.p. 1 a cluster point is
Clarke :math:`\varepsilon`-stationary (BLO 2005); with Kiwiel's revision, w.p. 1 either :math:`f\to-\infty` or
every cluster point is Clarke stationary.

References:
    Burke, Lewis & Overton, *A robust gradient sampling algorithm for nonsmooth, nonconvex optimization*,
    SIAM J. Optim. 15(3):751–779 (2005), doi:10.1137/030601296.
    Kiwiel, *Convergence of the gradient sampling algorithm for nonsmooth nonconvex optimization*,
    SIAM J. Optim. 18(2):379–388 (2007).
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable

import numpy as np
import torch

from ..._rng import SeedLike, resolve_seed
from ...errors import InputError
from ...result import Result, Status
from .goldstein1977optimization import batched_grads, sample_ball
from .wolfe1976nearest import min_norm_hull

__all__ = ["GradientSamplingResult", "gradient_sampling_minimize"]

#: number of halvings of the perturbation radius (and of resampling rounds for kinks) before giving up
MAX_PERTURB = 40


@dataclasses.dataclass
class GradientSamplingResult(Result):
    """A run of the BLO gradient-sampling optimiser.

    Attributes:
        x: final iterate (flat list); ``f``: its value.
        eps, nu: the final sampling radius and optimality tolerance (after the last reduction).
        rho: norm of the last min-norm hull element (the hull that steers the method, with ∇f(x)), sampled at radius
            ``rho_eps`` around ``x``; ``rho_certified``: the same from hulls whose every element is certainly a
            gradient (∇f(x) only when x was checked kink-free): ``dist(0, ∂_{rho_eps} f(x)) <= rho_certified``;
            ``certified``: ``rho_certified <= nu_tol`` and ``rho_eps <= eps_tol``; ``kinks_checked``: how x's
            differentiability was known (see the module docstring).
        iterations: iterations done (descent + null steps); ``descent_steps``, ``null_steps``,
            ``line_search_failures`` (counted as null steps), ``perturbations`` (kinks hit by a step),
            ``resampled`` (sample points on a kink, redrawn), ``f_evals``, ``grad_evals``.
        m, p: samples per iteration and dimension (``m >= p + 1`` is what BLO's theory asks; ``m_theory_ok``).
        params: the algorithm parameters; ``history``: per-iteration lists ``k, f, eps, nu, rho, t, step``
            (``descent``/``null``/``line_search_failed``/``stop``), ``perturbed``, ``qp_gap`` and, when
            ``record_iterates``, ``x`` and ``d`` (direction; zeros on null steps).
        qp: the KKT certificate of the last QP; ``stop_reason``; ``backend`` (numpy/torch); ``statement``.
    """

    kind = "gradient_sampling"

    x: list[float] = dataclasses.field(default_factory=list)
    f: float = float("nan")
    eps: float = float("nan")
    nu: float = float("nan")
    rho: float = float("nan")
    rho_eps: float = float("nan")
    rho_certified: float = float("nan")
    certified: bool = False
    kinks_checked: bool = False
    iterations: int = 0
    descent_steps: int = 0
    null_steps: int = 0
    line_search_failures: int = 0
    perturbations: int = 0
    resampled: int = 0
    f_evals: int = 0
    grad_evals: int = 0
    m: int = 0
    p: int = 0
    m_theory_ok: bool = False
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    history: dict[str, list] = dataclasses.field(default_factory=dict)
    qp: dict[str, Any] = dataclasses.field(default_factory=dict)
    stop_reason: str = ""
    backend: str = "numpy"
    dtype: str = "float64"
    statement: str = ""

    def arrays(self) -> dict[str, np.ndarray]:
        """The per-iteration history (f, ε, ν, ρ, t and, when kept, the iterates), stored in ``arrays.npz``."""
        out = {
            k: np.asarray(self.history[k], dtype=np.float64)
            for k in ("f", "eps", "nu", "rho", "t")
            if k in self.history
        }
        if "x" in self.history:
            out["x"] = np.asarray(self.history["x"], dtype=np.float64)
        return out


# ------------------------------------------------------------------------------------------ oracles


class _NumpyOracle:
    """``fun(x) -> (value, gradient)`` on float64 numpy vectors."""

    backend = "numpy"

    def __init__(self, fun: Callable, p: int, kink: Callable | None) -> None:
        self.fun, self.p, self.kink = fun, p, kink
        self.f_evals = self.grad_evals = 0
        self.kinks_checked = kink is not None
        self.kinks_why = "" if kink is not None else "numpy fun without a kink= callable"

    def _call(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        out = self.fun(x.copy())
        if not (isinstance(out, tuple) and len(out) == 2):
            raise InputError(
                "fun",
                f"must return (value, gradient) for a numpy x0, got {type(out).__name__}",
                "return (f(x), grad f(x)), or pass a torch.Tensor x0 to differentiate a torch callable",
            )
        v, g = out
        g = np.asarray(g, dtype=np.float64).reshape(-1)
        if g.size != self.p:
            raise InputError("fun", f"gradient has {g.size} entries, x has {self.p}", "return a gradient of x's size")
        return float(v), g

    def value(self, x: np.ndarray) -> float:
        self.f_evals += 1
        return self._call(x)[0]

    def value_grad(self, x: np.ndarray) -> tuple[float, np.ndarray, bool]:
        self.f_evals += 1
        self.grad_evals += 1
        v, g = self._call(x)
        bad = not (math.isfinite(v) and np.all(np.isfinite(g)))
        return v, g, bool(bad or (self.kink is not None and self.kink(x.copy())))

    def grads(self, U: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        G = np.empty_like(U)
        kinks = np.zeros(U.shape[0], dtype=bool)
        for i, u in enumerate(U):
            v, G[i] = self._call(u)
            kinks[i] = not (math.isfinite(v) and np.all(np.isfinite(G[i]))) or (
                self.kink is not None and self.kink(u.copy())
            )
        self.grad_evals += U.shape[0]
        return G, kinks


class _TorchOracle:
    """A torch callable, differentiated by ``torch.func`` (vmap over samples; autograd fallback)."""

    backend = "torch"

    def __init__(
        self, fun: Callable, shape: torch.Size, dtype: torch.dtype, has_aux: bool, kink: Callable | None, chunk: int
    ) -> None:
        from .goldstein1977optimization import with_kink_count

        self.shape, self.dtype, self.kink, self.chunk = shape, dtype, kink, chunk
        self.has_aux = has_aux
        self.fa, checked, why = with_kink_count(fun, has_aux)
        self.kinks_checked = checked or kink is not None
        self.kinks_why = "" if self.kinks_checked else why
        self.f_evals = self.grad_evals = 0

    def _t(self, x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(x, dtype=self.dtype).reshape(self.shape)

    def value(self, x: np.ndarray) -> float:
        self.f_evals += 1
        with torch.no_grad():
            v, _ = self.fa(self._t(x))
        return float(v)

    def value_grad(self, x: np.ndarray) -> tuple[float, np.ndarray, bool]:
        self.f_evals += 1
        self.grad_evals += 1
        u = self._t(x).detach().clone().requires_grad_(True)
        v, k = self.fa(u)
        (g,) = torch.autograd.grad(v, u)
        g = g.detach().reshape(-1).to(torch.float64).numpy()
        v = float(v.detach())
        bad = not (math.isfinite(v) and np.all(np.isfinite(g)))
        return v, g, bool(bad or int(k) != 0 or (self.kink is not None and self.kink(x.copy())))

    def grads(self, U: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.grad_evals += U.shape[0]
        Ut = torch.as_tensor(U, dtype=self.dtype).reshape(U.shape[0], *self.shape)
        G, k = batched_grads(self.fa, Ut, self.chunk)
        G = G.reshape(U.shape[0], -1).to(torch.float64).numpy()
        kinks = (k.reshape(-1) != 0).numpy() | ~np.all(np.isfinite(G), axis=1)
        if self.kink is not None:
            kinks |= np.array([bool(self.kink(u.copy())) for u in U])
        return G, kinks


# ------------------------------------------------------------------------------------------ checks


def _open_unit(name: str, v, *, closed_right: bool = False) -> float:
    ok = isinstance(v, (int, float, np.floating)) and not isinstance(v, bool) and math.isfinite(float(v))
    if not ok or not (0 < float(v) < 1 or (closed_right and float(v) == 1)):
        raise InputError(
            name,
            f"must be a number in (0, {'1]' if closed_right else '1)'}, got {v!r}",
            "BLO: reduction, Armijo and backtracking factors lie strictly between 0 and 1",
        )
    return float(v)


def _positive(name: str, v, *, allow_zero: bool = False) -> float:
    ok = isinstance(v, (int, float, np.floating)) and not isinstance(v, bool) and math.isfinite(float(v))
    if not ok or float(v) < 0 or (float(v) == 0 and not allow_zero):
        raise InputError(name, f"must be a finite number {'>= 0' if allow_zero else '> 0'}, got {v!r}")
    return float(v)


def _count(name: str, v, lo: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise InputError(name, f"must be an integer >= {lo}, got {v!r}")
    return int(v)


# ------------------------------------------------------------------------------------------ the optimiser


def gradient_sampling_minimize(
    fun: Callable,
    x0,
    *,
    eps0: float = 0.1,
    nu0: float = 0.1,
    theta_eps: float = 0.1,
    theta_nu: float = 0.1,
    beta: float = 1e-6,
    gamma: float = 0.5,
    m: int | None = None,
    max_iter: int = 1000,
    eps_tol: float = 1e-6,
    nu_tol: float = 1e-6,
    seed: SeedLike = 0,
    kink: Callable[[np.ndarray], bool] | None = None,
    has_aux: bool = False,
    max_backtracks: int = 60,
    record_iterates: bool = True,
    chunk: int = 128,
) -> GradientSamplingResult:
    r"""Minimise a locally Lipschitz ``fun`` by BLO gradient sampling (see the module docstring).

    Args:
        fun: with a **numpy** ``x0`` (array-like): ``fun(x) -> (value, gradient)`` on float64 vectors.
            With a **torch** ``x0`` (floating tensor of any shape): ``fun(x) -> scalar tensor`` (or
            ``(value, kink_count)`` with ``has_aux=True``), differentiated by ``torch.func``; evaluations use
            ``x0``'s dtype (float64 recommended).
        x0: starting point (should be a point of differentiability; a kink is perturbed away first).
        eps0: initial sampling radius ε (> 0).
        nu0: initial optimality tolerance ν (> 0).
        theta_eps: reduction factor of ε on null steps, in (0, 1).
        theta_nu: reduction factor of ν on null steps, in (0, 1).
        beta: Armijo sufficient-decrease constant in (0, 1).
        gamma: backtracking factor in (0, 1).
        m: gradient samples per iteration (default ``2p``; BLO's theory wants ``m >= p + 1``).
        max_iter: iteration budget (descent and null steps).
        eps_tol: stop when a hull sampled at radius ``<= eps_tol`` has min-norm ``<= nu_tol`` (the certificate).
        nu_tol: see ``eps_tol``.
        seed: sampling seed (recorded); iteration ``k`` uses ``np.random.default_rng([seed, k])``.
        kink: optional ``kink(x) -> bool``: True where ``fun`` is not differentiable (then a step landing
            there is perturbed and samples there are redrawn).
        max_backtracks: line-search halvings (of ``gamma``) before the step counts as a failed line search
            (a null step: ε and ν are reduced).
        record_iterates: keep ``x_k`` and ``d_k`` in ``history`` (turn off for large ``p``).
        has_aux: with a torch ``x0``, ``fun`` returns ``(value, kink_count)``.
        chunk: gradient samples per batched (``vmap``) evaluation.

    Returns:
        A :class:`GradientSamplingResult` (``ok`` with a certificate, or ``not_converged``).

    Example:
        >>> f = lambda x: (abs(x[0]) + 2 * abs(x[1]), np.array([np.sign(x[0]), 2 * np.sign(x[1])]))
        >>> r = gradient_sampling_minimize(f, [1.0, 0.7], seed=0)
        >>> r.status.value, r.certified, bool(max(abs(v) for v in r.x) < 1e-5)
        ('ok', True, True)
    """
    t_start = time.perf_counter()
    params = _check_params(
        eps0=eps0,
        nu0=nu0,
        theta_eps=theta_eps,
        theta_nu=theta_nu,
        beta=beta,
        gamma=gamma,
        max_iter=max_iter,
        max_backtracks=max_backtracks,
        eps_tol=eps_tol,
        nu_tol=nu_tol,
    )
    if kink is not None and not callable(kink):
        raise InputError("kink", "must be a callable x -> bool or None")
    if not callable(fun):
        raise InputError("fun", "must be callable")
    s = resolve_seed(seed)
    oracle, x, dtype = _make_oracle(fun, x0, has_aux=has_aux, kink=kink, chunk=chunk)
    p = int(x.size)
    params["m"] = m = 2 * p if m is None else _count("m", m, 1)
    run = _Run(
        oracle=oracle,
        seed=s,
        params=params,
        p=p,
        record=record_iterates,
        dtype=x0.dtype if isinstance(x0, torch.Tensor) else torch.float64,
    )
    run.start(x)
    for k in range(params["max_iter"]):
        if run.iteration(k):
            break
    res = run.result(dtype)
    if isinstance(x0, torch.Tensor):
        res.params["x_shape"] = list(x0.shape)
    res.seconds = time.perf_counter() - t_start
    return res


def _check_params(**kw) -> dict[str, Any]:
    out = {name: _positive(name, kw[name]) for name in ("eps0", "nu0", "eps_tol")}
    out.update({name: _open_unit(name, kw[name]) for name in ("theta_eps", "theta_nu", "beta", "gamma")})
    out["max_iter"] = _count("max_iter", kw["max_iter"], 1)
    out["max_backtracks"] = _count("max_backtracks", kw["max_backtracks"], 1)
    out["nu_tol"] = _positive("nu_tol", kw["nu_tol"], allow_zero=True)
    return out


def _make_oracle(fun: Callable, x0, *, has_aux: bool, kink, chunk: int) -> tuple[Any, np.ndarray, str]:
    """The oracle for ``fun`` (numpy or torch backend), the flat float64 start point and the dtype name."""
    if isinstance(x0, torch.Tensor):
        if not x0.is_floating_point():
            raise InputError(
                "x0", "must be a floating-point tensor", "e.g. torch.tensor([1.0, 0.7], dtype=torch.float64)"
            )
        oracle: Any = _TorchOracle(fun, x0.shape, x0.dtype, has_aux, kink, chunk)
        x = x0.detach().reshape(-1).to(torch.float64).cpu().numpy().copy()
        dtype = str(x0.dtype).replace("torch.", "")
    else:
        if has_aux:
            raise InputError("has_aux", "is only for torch callables", "pass a torch.Tensor x0, or a kink= callable")
        try:
            x = np.asarray(x0, dtype=np.float64).reshape(-1).copy()
        except (TypeError, ValueError):
            raise InputError("x0", f"must be array-like numbers or a torch.Tensor, got {type(x0).__name__}") from None
        oracle = _NumpyOracle(fun, x.size, kink)
        dtype = "float64"
    if x.size < 1 or not np.all(np.isfinite(x)):
        raise InputError("x0", "must be a non-empty finite vector")
    return oracle, x, dtype


def _ball(center: np.ndarray, r: float, n: int, rng_seed) -> np.ndarray:
    return sample_ball(torch.as_tensor(center), r, n, seed=np.random.default_rng(rng_seed)).numpy()


_HIST_KEYS = ("k", "f", "eps", "nu", "rho", "t", "step", "perturbed", "qp_gap")


class _Run:
    """State of one BLO run: the iterate, the radii, the counters and the history."""

    def __init__(self, *, oracle, seed: int, params: dict[str, Any], p: int, record: bool, dtype: torch.dtype) -> None:
        self.oracle, self.s, self.prm, self.p, self.record, self.oracle_dtype = oracle, seed, params, p, record, dtype
        self.hist: dict[str, list] = {key: [] for key in _HIST_KEYS}
        if record:
            self.hist["x"], self.hist["d"] = [], []
        self.eps, self.nu = params["eps0"], params["nu0"]
        self.rho, self.rho_eps, self.mp, self.rho_cert = float("nan"), self.eps, None, float("nan")
        self.status = Status.NOT_CONVERGED
        self.stop_reason = f"max_iter = {params['max_iter']} reached before the certificate"
        self.n_desc = self.n_null = self.n_lsf = self.perturbations = self.resampled = 0

    def start(self, x: np.ndarray) -> None:
        """Evaluate at ``x``; a kink is first moved to a nearby point of differentiability (no descent needed)."""
        fx, gx, kx = self.oracle.value_grad(x)
        if kx:
            for j in range(MAX_PERTURB):
                u = _ball(x, self.prm["eps0"] * 2.0**-j, 1, [self.s, 2**31 - 1, j])[0]
                fu, gu, ku = self.oracle.value_grad(u)
                if not ku:
                    x, fx, gx = u, fu, gu
                    self.perturbations += 1
                    break
            else:
                raise InputError("x0", "is a kink and every perturbation within eps0 is a kink too", "start elsewhere")
        if not math.isfinite(fx):
            raise InputError("x0", f"f(x0) is not finite ({fx})")
        self.x, self.fx, self.gx = x, fx, gx

    def _hull(self, k: int) -> np.ndarray:
        """Step 1: sample the ball, redraw points on kinks, add grad f(x_k), solve the QP; the min-norm element."""
        U = _ball(self.x, self.eps, self.prm["m"], [self.s, k, 0])
        G, bad = self.oracle.grads(U)
        for r in range(1, MAX_PERTURB + 1):
            idx = np.nonzero(bad)[0]
            if idx.size == 0:
                break
            self.resampled += int(idx.size)
            U[idx] = _ball(self.x, self.eps, int(idx.size), [self.s, k, r])
            G[idx], bad[idx] = self.oracle.grads(U[idx])
        Gs = G[~bad]
        G = np.vstack([self.gx[None, :], Gs])
        self.mp = min_norm_hull(G)
        self.rho, self.rho_eps = self.mp.rho, self.eps
        if self.oracle.kinks_checked:
            self.rho_cert = self.rho
        else:  # ∇f(x_k) may be an AD artefact at an undetected kink: certify from the samples alone
            self.rho_cert = min_norm_hull(Gs).rho if Gs.shape[0] else float("inf")
        return G.T @ self.mp.lam

    def _line_search(self, d: np.ndarray, k: int) -> tuple[float, tuple | None, bool]:
        """Steps 3–4:

        Armijo backtracking along ``d``, then the perturbation off a kink; ``(t, new point, perturbed)``.
        """
        x, fx, rho, beta = self.x, self.fx, self.rho, self.prm["beta"]
        t = 1.0
        for _ in range(self.prm["max_backtracks"]):
            if self.oracle.value(x + t * d) < fx - beta * t * rho:
                break
            t *= self.prm["gamma"]
        else:
            return t, None, False
        xn = x + t * d
        fn, gn, kn = self.oracle.value_grad(xn)
        if not kn:
            return t, (xn, fn, gn), False
        self.perturbations += 1
        for j in range(MAX_PERTURB):
            u = _ball(xn, min(t, self.eps) * 2.0**-j, 1, [self.s, k, 10_000 + j])[0]
            fu, gu, ku = self.oracle.value_grad(u)
            if not ku and fu < fx - beta * t * rho:
                return t, (u, fu, gu), True
        return t, None, True

    def iteration(self, k: int) -> bool:
        """One BLO iteration; True when the certificate is reached (stop)."""
        from .goldstein1977optimization import check_radius

        try:
            check_radius(self.eps, torch.as_tensor(self.x, dtype=self.oracle_dtype))
        except InputError as e:
            self.stop_reason = f"sampling radius {self.eps:.3g} below the dtype's resolution: {e.problem}"
            return True
        g = self._hull(k)
        row = {
            "k": k,
            "f": self.fx,
            "eps": self.eps,
            "nu": self.nu,
            "rho": self.rho,
            "qp_gap": self.mp.duality_gap,
            "perturbed": False,
        }
        zero = np.zeros(self.p)
        if self.rho_cert <= self.prm["nu_tol"] and self.eps <= self.prm["eps_tol"]:
            self._push(row, t=0.0, step="stop", d=zero)
            self.status = Status.OK
            self.stop_reason = (
                f"rho = {self.rho_cert:.3g} <= nu_tol = {self.prm['nu_tol']:g} at eps = {self.eps:.3g} "
                f"<= eps_tol = {self.prm['eps_tol']:g}"
            )
            return True
        if self.rho <= self.nu:  # 2. null step: shrink the tolerance and the radius
            self._push(row, t=0.0, step="null", d=zero)
            self._shrink()
            return False
        d = -g / self.rho
        t, new, perturbed = self._line_search(d, k)
        row["perturbed"] = perturbed
        if new is None:  # no Armijo point (or no admissible perturbation): counts as a null step
            self._push(row, t=0.0, step="line_search_failed", d=zero)
            self._shrink()
            self.n_lsf += 1
            return False
        self._push(row, t=t, step="descent", d=d)
        self.x, self.fx, self.gx = new
        self.n_desc += 1
        return False

    def _shrink(self) -> None:
        self.nu, self.eps = self.prm["theta_nu"] * self.nu, self.prm["theta_eps"] * self.eps
        self.n_null += 1

    def _push(self, row: dict[str, Any], *, t: float, step: str, d: np.ndarray) -> None:
        row.update(t=t, step=step)
        for key in _HIST_KEYS:
            self.hist[key].append(row[key])
        if self.record:
            self.hist["x"].append(self.x.tolist())
            self.hist["d"].append(d.tolist())

    def result(self, dtype: str) -> GradientSamplingResult:
        certified = self.status == Status.OK
        m = self.prm["m"]
        src = "and grad f(x)" if self.oracle.kinks_checked else "(grad f(x) left out: kinks not checked)"
        statement = (
            f"dist(0, Goldstein {self.rho_eps:.3g}-subdifferential at x) <= {self.rho_cert:.3g} from {m} sampled "
            f"gradients {src}" + ("" if certified else " (tolerances not reached)")
        )
        o = self.oracle
        return GradientSamplingResult(
            status=self.status,
            seed=self.s,
            x=self.x.tolist(),
            f=float(self.fx),
            eps=float(self.eps),
            nu=float(self.nu),
            rho=float(self.rho),
            rho_eps=float(self.rho_eps),
            rho_certified=float(self.rho_cert),
            certified=certified,
            kinks_checked=o.kinks_checked,
            iterations=len(self.hist["k"]),
            descent_steps=self.n_desc,
            null_steps=self.n_null,
            line_search_failures=self.n_lsf,
            perturbations=self.perturbations,
            resampled=self.resampled,
            f_evals=o.f_evals,
            grad_evals=o.grad_evals,
            m=m,
            p=self.p,
            m_theory_ok=m >= self.p + 1,
            params=dict(self.prm),
            history=self.hist,
            qp=self.mp.certificate() if self.mp is not None else {},
            stop_reason=self.stop_reason,
            backend=o.backend,
            dtype=dtype,
            statement=statement,
        )
