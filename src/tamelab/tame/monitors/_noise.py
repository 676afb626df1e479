r"""Noise of mini-batch gradients and gradient-sampling stationarity at snapshots (the measurements of (A3)).

* :func:`minibatch_noise`: exact second moment of the mini-batch noise :math:`\xi=d-\bar g` from per-sample
  gradients and a resampling test of its zero mean;
* :func:`sampled_stationarity`: the Burke–Lewis–Overton measure :math:`\rho_\varepsilon(x)` of a gradient oracle;
* the trajectory tests of :func:`tamelab.tame.monitors.monitored_sgd`: per-coordinate t-tests of zero mean,
  dyadic windows, and the Cauchy test of the weighted noise sum :math:`S_N=\sum\alpha_k\xi_k`.

References:
    Davis, Drusvyatskiy, Kakade & Lee, FoCM 20 (2020), arXiv:1804.07795 (hypothesis (A3));
    Laurent & Massart, Ann. Statist. 28 (2000) (chi-square tail bound of the zero-mean test).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import torch

from ..._numerics import HULL_SUPPORT_TOL, NOISE_LIVE_RTOL, NOISE_ZERO_MEAN_SQ, TINY
from ..._params import flatten
from ..._rng import SeedLike, np_rng
from ...errors import InputError
from ...result import Result
from ..nonsmooth.wolfe1976nearest import min_norm_hull

__all__ = ["minibatch_noise", "NoiseEstimate", "sampled_stationarity", "SampledStationarity"]

#: false-alarm probability of the zero-mean test of the resampled noise (Laurent–Massart bound) (A3).
NOISE_MEAN_PFA = 1e-6
#: level of the Bonferroni-corrected t-tests of zero noise mean (trajectory and resampled batches)
NOISE_TTEST_LEVEL = 1e-3
#: the recorded E||xi||^2 counts as bounded when its mean over the last dyadic window is at most this
#: multiple of the largest mean over the earlier windows
NOISE_VAR_GROWTH = 2.0
#: the weighted noise sum counts as Cauchy when the windowed quadratic variation decays at least like N^-0.05
CAUCHY_MAX_SLOPE = -0.05


def full_grad(model, params, X, T, loss_fn) -> tuple[float, torch.Tensor]:
    """Value and flat gradient of ``loss_fn(model(X; params), T)`` (one backward pass)."""
    p = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    val = loss_fn(torch.func.functional_call(model, p, (X,)), T)
    g = torch.autograd.grad(val, list(p.values()))
    return float(val.detach()), flatten(g)


@dataclasses.dataclass
class NoiseEstimate(Result):
    r"""Mini-batch gradient noise at one parameter point (see :func:`minibatch_noise`).

    Attributes:
        noise_var_exact: :math:`\mathbb E\|\xi\|^2` from per-sample gradients (exact for uniform batches);
        noise_var_resampled: its Monte-Carlo estimate from ``resamples`` batches; mean_sq: squared norm of their mean;
        mean_ratio: mean_sq over its zero-mean expectation; mean_ratio_threshold: the Laurent–Massart quantile at
        false-alarm ``NOISE_MEAN_PFA``; dof_eff, dof_method: effective degrees of freedom and how they were computed;
        full_grad_norm, per_sample_spread; finite_sum_gap: ‖full gradient − mean of per-sample gradients‖ (0 for a
        finite average); batch_size, n, resamples; step: the training step it was measured at (set by the caller).
    """

    kind = "minibatch_noise"

    noise_var_exact: float = float("nan")
    noise_var_resampled: float = float("nan")
    mean_sq: float = float("nan")
    mean_ratio: float = float("nan")
    mean_ratio_threshold: float = float("nan")
    dof_eff: float = float("nan")
    dof_method: str = ""
    full_grad_norm: float = float("nan")
    per_sample_spread: float = float("nan")
    finite_sum_gap: float = float("nan")
    batch_size: int = 0
    n: int = 0
    resamples: int = 0
    step: int | None = None

    @property
    def rejects_zero_mean(self) -> bool:
        return bool(self.mean_ratio > self.mean_ratio_threshold)


def _per_sample_rows(model, p0: dict[str, torch.Tensor], X, T, loss_fn, chunk: int):
    """``rows(lo)``: the per-sample gradients of samples ``lo .. lo + chunk`` as a float64 matrix (vmap)."""
    names = list(p0)

    def one(pp, x, t):
        return loss_fn(torch.func.functional_call(model, pp, (x[None],)), t[None])

    gfun = torch.func.vmap(torch.func.grad(one), in_dims=(None, 0, 0))

    def rows(lo):
        gi = gfun(p0, X[lo : lo + chunk], T[lo : lo + chunk])
        return torch.cat([gi[k].reshape(gi[k].shape[0], -1) for k in names], dim=1).double()

    return rows


def _scatter(rows, n: int, p_dim: int, chunk: int, dense: bool, Z) -> tuple[torch.Tensor, float, float]:
    r"""Mean, spread and squared Frobenius norm of the covariance of the per-sample gradients.

    Mean :math:`\bar g`, spread :math:`\frac1n\sum\|g_i-\bar g\|^2` (Chan's pairwise update) and
    :math:`\|C\|_F^2` of the per-sample covariance (dense Gram matrix, or Hutchinson with the probes ``Z``).
    """
    mean = torch.zeros(p_dim, dtype=torch.float64)
    m2, cnt = 0.0, 0
    blocks, gz = [], []
    for lo in range(0, n, chunk):
        G = rows(lo)
        c = G.shape[0]
        mu_c = G.mean(0)
        delta = mu_c - mean
        m2 += float(((G - mu_c) ** 2).sum()) + float((delta**2).sum()) * cnt * c / (cnt + c)
        mean = mean + delta * (c / (cnt + c))
        cnt += c
        (blocks if dense else gz).append(G if dense else G @ Z)
    if dense:
        D = torch.cat(blocks) - mean
        fro2 = float(((D @ D.T) ** 2).sum()) / n**2
    else:
        Dz = torch.cat(gz) - (mean @ Z)[None, :]
        Cz = torch.zeros(p_dim, Z.shape[1], dtype=torch.float64)
        for lo in range(0, n, chunk):
            Cz += rows(lo).T @ Dz[lo : lo + chunk]
        fro2 = float((Cz / n).pow(2).sum(0).mean())
    return mean, m2 / n, fro2


def minibatch_noise(
    model,
    params,
    X,
    T,
    loss_fn,
    *,
    batch_size: int,
    resamples: int = 64,
    seed: SeedLike = 0,
    chunk: int = 256,
    dense_max: int = 4_000_000,
    probes: int = 16,
) -> NoiseEstimate:
    r"""Noise :math:`\xi=d-\bar g` of uniformly drawn mini-batch gradients at ``params`` (A3).

    Exact second moment from per-sample gradients :math:`g_i` (``torch.func.vmap``, chunked, Chan's
    pairwise update of mean and scatter): for a batch of :math:`b` of :math:`n` points drawn
    without replacement,

    .. math:: \mathbb E\|\xi\|^2=\frac{n-b}{b(n-1)}\cdot\frac1n\sum_i\|g_i-\bar g\|^2 .

    Zero mean is tested with ``resamples`` independently drawn batches (their gradients computed
    directly): under zero mean :math:`\mathbb E\|\bar\xi_R\|^2=\mathbb E\|\xi\|^2/R`, and the ratio of
    the observed value to this, ``mean_ratio``, is (for Gaussian means) a weighted :math:`\chi^2` with
    mean 1, :math:`\mathrm{dof}_{\rm eff}=(\mathrm{tr}\,C)^2/\|C\|_F^2` for the per-sample covariance
    :math:`C` (exact via the Gram matrix when :math:`np\le` ``dense_max``, else Hutchinson with
    ``probes`` Gaussian probes). It fails above the Laurent–Massart quantile
    ``mean_ratio_threshold`` :math:`=1+(2\sqrt x+2x)/\sqrt{\mathrm{dof}_{\rm eff}}`, :math:`x=\ln 10^6`.
    """
    n = X.shape[0]
    b = int(batch_size)
    if not 1 <= b <= n:
        raise InputError("batch_size", f"must be in [1, {n}], got {b}")
    p0 = {k: v.detach() for k, v in params.items()}
    p_dim = sum(v.numel() for v in p0.values())
    dense = n * p_dim <= dense_max
    rng = np_rng(seed)
    Z = (
        None
        if dense
        else torch.as_tensor(rng.standard_normal((p_dim, int(probes))), dtype=torch.float64, device=X.device)
    )
    rows = _per_sample_rows(model, p0, X, T, loss_fn, chunk)
    gbar, spread, fro2 = _scatter(rows, n, p_dim, chunk, dense, Z)
    var_exact = (n - b) / (b * (n - 1)) * spread if n > 1 else 0.0
    dof = spread**2 / fro2 if fro2 > 0 else math.inf
    # Laurent–Massart: for a = lambda / sum(lambda), P(sum a_i chi2_i >= 1 + 2||a||_2 sqrt(x) + 2||a||_inf x) <= e^-x,
    # with ||a||_inf <= ||a||_2 = 1/sqrt(dof)
    x = math.log(1.0 / NOISE_MEAN_PFA)
    thr = 1.0 + (2.0 * math.sqrt(x) + 2.0 * x) / math.sqrt(dof)
    # the full-batch gradient, computed directly: the noise is measured against it, and its distance to the
    # mean of per-sample gradients certifies that the loss is a finite average (else E[d] != grad F)
    gfull = full_grad(model, p0, X, T, loss_fn)[1].double()
    xi_t = torch.stack(
        [
            full_grad(model, p0, X[idx], T[idx], loss_fn)[1].double() - gfull
            for idx in (
                torch.as_tensor(rng.choice(n, b, replace=False), device=X.device) for _ in range(int(resamples))
            )
        ]
    )
    mean_sq = float((xi_t.mean(0) ** 2).sum())
    ratio = mean_sq / (var_exact / resamples) if var_exact > 0 else (0.0 if mean_sq < NOISE_ZERO_MEAN_SQ else math.inf)
    return NoiseEstimate(
        noise_var_exact=var_exact,
        noise_var_resampled=float((xi_t**2).sum(1).mean()),
        mean_sq=mean_sq,
        mean_ratio=ratio,
        mean_ratio_threshold=thr,
        dof_eff=dof,
        dof_method="dense Gram" if dense else f"Hutchinson ({int(probes)} probes)",
        full_grad_norm=float(gfull.norm()),
        per_sample_spread=spread,
        finite_sum_gap=float((gfull - gbar).norm()),
        batch_size=b,
        n=n,
        resamples=int(resamples),
        seed=int(seed) if isinstance(seed, (int, np.integer)) else None,
    )


@dataclasses.dataclass
class SampledStationarity(Result):
    r"""``rho`` ≥ dist(0, ∂_ε f(x)) from ``m`` gradients sampled in B(x, ε) (see :func:`sampled_stationarity`)."""

    kind = "sampled_stationarity"

    rho: float = float("nan")
    eps: float = 0.0
    m: int = 0
    duality_gap: float = float("nan")
    support: int = 0
    qp_method: str = "wolfe"
    qp_converged: bool = False


def sampled_stationarity(
    grad_fn, x: torch.Tensor, *, eps: float, m: int = 16, seed: SeedLike = 0, method: str = "wolfe"
) -> SampledStationarity:
    r"""Gradient-sampling measure :math:`\rho_\varepsilon(x)` of a gradient oracle (Burke–Lewis–Overton).

    Draws ``m`` points uniformly in the ball :math:`B(x,\varepsilon)` (direction normalised
    Gaussian, radius :math:`\varepsilon U^{1/p}`), evaluates ``grad_fn`` there (full batch), and
    returns the norm of the min-norm point of their hull: a sound upper bound of
    :math:`\operatorname{dist}(0,\partial_\varepsilon f(x))` *provided* ``grad_fn`` returns a gradient (the oracle
    cannot tell kinks: use :func:`tamelab.tame.goldstein_stationarity` with a kink count when ``f`` has them).
    A large value does not prove non-stationarity. ε below the dtype's resolution at ``x`` is refused
    (:func:`tamelab.tame.nonsmooth.goldstein1977optimization.check_radius`). The hull QP is
    :func:`tamelab.tame.min_norm_hull` (``method`` "wolfe" or "nnls").
    """
    from ..nonsmooth.goldstein1977optimization import check_radius, sample_ball

    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or int(m) < 1:
        raise InputError("m", f"must be an integer >= 1, got {m!r}")
    check_radius(eps, x)
    U = sample_ball(x, float(eps), int(m), seed=np_rng(seed))
    G = np.stack([grad_fn(u).detach().double().cpu().numpy().reshape(-1) for u in U])
    mp = min_norm_hull(G, method=method)
    return SampledStationarity(
        rho=mp.rho,
        eps=float(eps),
        m=int(m),
        duality_gap=mp.duality_gap,
        support=int((mp.lam > HULL_SUPPORT_TOL).sum()),
        qp_method=mp.method,
        qp_converged=mp.converged,
        seed=int(seed) if isinstance(seed, (int, np.integer)) else None,
    )


def t_test_zero_mean(Z: np.ndarray, *, directions: int = 16, seed: SeedLike = 20200213) -> dict[str, Any]:
    r"""Zero mean of the rows of ``Z`` (noise vectors):

    one-sample t-tests of their projections on ``directions`` fixed Gaussian directions, Bonferroni-combined (level
    ``NOISE_TTEST_LEVEL``).

    # NOTE [projections, not coordinates]: per-coordinate t-tests are invalid for network gradients: a weight that
    # only a
    # few samples touch has a batch gradient that is 0 in most batches and large in a few (heavy-tailed), so a few
    # dozen draws give huge spurious |t|. A projection on a random direction sums over every coordinate and is close to
    # Gaussian (and a constant projection carries no information: it is left out).
    """
    from scipy import stats

    R, p = Z.shape
    if R < 3:
        return {"n": R, "p_value": None, "rejects": None, "why": "need >= 3 noise vectors"}
    if not np.any(Z != 0):
        return {
            "n": R,
            "p_value": 1.0,
            "rejects": False,
            "max_abs_t": 0.0,
            "directions": 0,
            "why": "noise identically zero (full-batch steps)",
        }
    U = np_rng(seed).standard_normal((p, int(directions)))
    Y = Z @ U
    mu, sd = Y.mean(0), Y.std(0, ddof=1)
    live = sd > np.maximum(NOISE_LIVE_RTOL * np.abs(mu), TINY)
    if not live.any():
        return {
            "n": R,
            "p_value": 0.0,
            "rejects": True,
            "max_abs_t": float("inf"),
            "directions": 0,
            "why": "constant nonzero noise",
        }
    t = mu[live] / (sd[live] / math.sqrt(R))
    pmin = float(2 * stats.t.sf(np.abs(t).max(), R - 1))
    pv = min(1.0, pmin * int(live.sum()))
    return {
        "n": R,
        "p_value": pv,
        "rejects": bool(pv < NOISE_TTEST_LEVEL),
        "max_abs_t": float(np.abs(t).max()),
        "directions": int(live.sum()),
        "level": NOISE_TTEST_LEVEL,
    }


def dyadic_windows(noise_steps: np.ndarray, min_points: int = 4) -> list[tuple[int, int, int]]:
    """``(N, i_lo, i_hi)``: recorded indices with ``N/2 < k + 1 <= N`` for N = last, last/2, ...

    (>= min_points each).
    """
    k1 = noise_steps.astype(np.float64) + 1.0
    out = []
    N = float(k1[-1])
    while True:
        sel = np.nonzero((k1 > N / 2) & (k1 <= N))[0]
        if sel.size < min_points:
            break
        out.append((int(N), int(sel[0]), int(sel[-1]) + 1))
        N /= 2
    return out[::-1]


def noise_sum_stats(
    steps: np.ndarray, alpha: np.ndarray, Xi: np.ndarray | None, sq: np.ndarray, K: int, S_path: np.ndarray | None
) -> dict[str, Any]:
    r"""Cauchy test of the noise sum S_N over dyadic horizons.

    Cauchy test of :math:`S_N=K\sum\alpha_k\xi_k` over dyadic horizons (observed increments and their
    quadratic variation :math:`Q_N=K(\sum_{N/2<k\le N}\alpha_k^2\|\xi_k\|^2)^{1/2}`).
    """
    wins = dyadic_windows(steps)
    if sq.size and not np.any(sq > 0):
        return {
            "windows": len(wins),
            "cauchy": True,
            "qv_loglog_slope": None,
            "increment_loglog_slope": None,
            "why": "noise identically zero (full-batch steps): S_N = 0",
        }
    if len(wins) < 3:
        return {"windows": len(wins), "cauchy": None, "why": "need >= 3 dyadic windows of >= 4 recorded steps"}
    N = np.array([w[0] for w in wins], dtype=np.float64)
    Q = np.array([K * math.sqrt(float((alpha[a:b] ** 2 * sq[a:b]).sum())) for _, a, b in wins])
    inc = None
    if S_path is not None:
        inc = np.array([float(np.linalg.norm(S_path[b - 1] - (S_path[a - 1] if a > 0 else 0.0))) for _, a, b in wins])
    lq = np.log(np.maximum(Q, 1e-300))
    slope_q = float(np.polyfit(np.log(N), lq, 1)[0])
    slope_inc = float(np.polyfit(np.log(N), np.log(np.maximum(inc, 1e-300)), 1)[0]) if inc is not None else None
    cauchy = bool(slope_q < CAUCHY_MAX_SLOPE and Q[-1] < Q[0])
    return {
        "windows": len(wins),
        "horizons": N.astype(int).tolist(),
        "quadratic_variation": Q.tolist(),
        "increments": inc.tolist() if inc is not None else None,
        "qv_loglog_slope": slope_q,
        "increment_loglog_slope": slope_inc,
        "last_increment": float(inc[-1]) if inc is not None else None,
        "qv_last_over_first": float(Q[-1] / Q[0]) if Q[0] > 0 else None,
        "cauchy": cauchy,
        "threshold_slope": CAUCHY_MAX_SLOPE,
        "scale": f"S_N = {K} * sum over recorded k of alpha_k xi_k",
    }


def loss_data(model, data, targets, loss, *, dtype: torch.dtype, device=None, field: str = "data"):
    """``(X, T, loss)``: the whole data as tensors on ``device`` in ``dtype`` and the resolved loss.

    Integer labels with a regression loss (``mse``, ``l1``, ``huber``) become one-hot targets of the model's
    output width once here, so per-sample gradients (``vmap``) see real targets.
    """
    from ...inputs import as_data
    from ...losses import resolve_loss

    lossf = resolve_loss(loss)
    d = as_data(data, targets, field=field)
    X, T = d.tensors(device, dtype)
    if lossf.builtin and lossf.targets == "real" and not T.is_floating_point():
        with torch.no_grad():
            k = int(model(X[:1]).shape[-1])
        T = torch.nn.functional.one_hot(T, k).to(dtype)
    elif lossf.builtin and lossf.targets == "real" and T.ndim == 1:
        T = T[:, None]
    if lossf.builtin and lossf.targets == "labels" and T.is_floating_point():
        raise InputError(
            field, f"loss {lossf.name} needs integer class labels, got real targets", "use loss='mse' for real targets"
        )
    return X, T, lossf


def model_and_data(model, data, targets, loss, *, dtype, device):
    """``(model copy, X, T, loss)`` on ``device`` in ``dtype``, checked by one forward pass before any work.

    ``(model copy, X, T, loss)`` on ``device`` in ``dtype`` (eval mode; the caller's model untouched), checked by one
    forward pass and loss evaluation before any work starts.
    """
    import copy

    from ...inputs import as_model, resolve_device, resolve_dtype

    dt = resolve_dtype(dtype, default=torch.float64)
    dev = resolve_device(device)
    m = copy.deepcopy(as_model(model)).to(device=dev, dtype=dt).eval()
    X, T, lossf = loss_data(m, data, targets, loss, dtype=dt, device=dev)
    try:
        with torch.no_grad():
            lossf(m(X[:1]), T[:1])
    except Exception as e:  # noqa: BLE001
        raise InputError(
            "model",
            f"does not accept the data ({type(e).__name__}: {e})",
            "use a model whose input width and outputs match the data and the loss",
        ) from None
    return m, X, T, lossf
