r"""Convergence monitor for SGD on tame losses: the DDKL hypotheses and the evidence for their conclusion.

Davis, Drusvyatskiy, Kakade & Lee (FoCM 20, 2020; arXiv:1804.07795) study the stochastic
subgradient method :math:`x_{k+1}=x_k-\alpha_k(y_k+\xi_k)`, :math:`y_k\in\partial f(x_k)` (Clarke),
on a locally Lipschitz :math:`f` whose graph is Whitney-stratifiable (true for every tame
:math:`f`). Under

* (A1) bounded iterates :math:`\sup_k\|x_k\|<\infty`;
* (A2) :math:`\alpha_k\ge0`, :math:`\sum_k\alpha_k=\infty`, :math:`\sum_k\alpha_k^2<\infty`;
* (A3) martingale-difference noise, :math:`\mathbb E[\xi_k\mid\mathcal F_k]=0`,
  :math:`\mathbb E[\|\xi_k\|^2\mid\mathcal F_k]\le q(x_k)` with :math:`q` bounded on bounded sets;
* (B) :math:`f` definable in an o-minimal structure (tame) and locally Lipschitz,

almost surely every limit point is Clarke critical and :math:`f(x_k)` converges. Nothing is
claimed about rates, convergence of the whole sequence, or saddle avoidance.

:func:`convergence_report` reads a finished run of :func:`tamelab.train.fit` (its history, its
snapshots and its schedule) and returns a verdict per hypothesis — ``holds``, ``violated`` or
``not checkable`` — with the reason and the numbers, plus the evidence for the conclusion: the
full-batch gradient norm and a gradient-sampling stationarity measure
:math:`\rho_\varepsilon` (Burke–Lewis–Overton) at the snapshots, and the tail oscillation of the
full-batch loss. (A1) and (A3) are *observed*, never proved (spec tame-optimization.md §3.5).

# NOTE [per-step monitoring]: the weighted noise sum :math:`S_N=\sum_k\alpha_k\xi_k` (Cauchy test)
# and the energy-identity residual need the full-batch gradient at *every* step, which
# ``tamelab.train.fit`` does not record; they are listed under ``needs`` instead of being guessed.
# NOTE [noise]: ``fit`` reshuffles once per epoch and draws batches without replacement, so the
# conditional mean of the noise is zero only on average over an epoch; we report the exact
# variance of the uniformly-sampled batch noise and a resampling test of its mean.

References:
    Davis, Drusvyatskiy, Kakade & Lee, *Stochastic subgradient method converges on tame functions*,
    FoCM 20:119–154 (2020), arXiv:1804.07795.
    Bolte & Pauwels, *Conservative set valued fields, automatic differentiation, stochastic gradient
    methods and deep learning*, Math. Program. 188 (2021), arXiv:1909.10300.
    Burke, Lewis & Overton, *A robust gradient sampling algorithm for nonsmooth, nonconvex
    optimization*, SIAM J. Optim. 15 (2005).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from .._rng import SeedLike, np_rng, resolve_seed
from ..errors import InputError
from ..result import Result, Status

__all__ = [
    "Hypothesis", "ConvergenceReport", "convergence_report", "schedule_hypothesis", "boundedness_hypothesis",
    "minibatch_noise", "min_norm_hull", "sampled_stationarity", "VERDICTS",
]

VERDICTS = ("holds", "violated", "not checkable")
#: false-alarm probability of the zero-mean test of the resampled noise (Laurent–Massart bound) (A3).
NOISE_MEAN_PFA = 1e-6
#: running max of ‖θ‖ must grow less than this fraction (relative) over the last log-time window.
BOUNDED_REL_GROWTH = 0.01


@dataclasses.dataclass
class Hypothesis:
    """One hypothesis of the theorem: verdict ∈ ``VERDICTS``, the reason, the numbers."""

    id: str
    name: str
    verdict: str
    why: str
    evidence: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class ConvergenceReport(Result):
    """DDKL hypotheses (verdicts) and the evidence for the conclusion on one training run."""

    kind = "convergence"

    method: str = ""
    schedule: dict[str, Any] = dataclasses.field(default_factory=dict)
    hypotheses: list[Hypothesis] = dataclasses.field(default_factory=list)
    applicable: bool | None = None
    conclusion: dict[str, Any] = dataclasses.field(default_factory=dict)
    snapshot_steps: list[int] = dataclasses.field(default_factory=list)
    full_loss: list[float] = dataclasses.field(default_factory=list)
    full_grad_norm: list[float] = dataclasses.field(default_factory=list)
    rho: dict[str, list[float | None]] = dataclasses.field(default_factory=dict)
    noise: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    needs: list[str] = dataclasses.field(default_factory=list)

    def verdicts(self) -> dict[str, str]:
        """``{hypothesis id: verdict}``."""
        return {h.id: h.verdict for h in self.hypotheses}

    def arrays(self) -> dict[str, np.ndarray]:
        return {"snapshot_steps": np.asarray(self.snapshot_steps, dtype=np.int64),
                "full_loss": np.asarray(self.full_loss), "full_grad_norm": np.asarray(self.full_grad_norm)}


# ----------------------------------------------------------------------------- hypotheses from the config


def schedule_hypothesis(cfg: dict[str, Any], steps: int | None = None, lr_recorded=None, lr_steps=None) -> Hypothesis:
    r"""(A2) decided analytically from the schedule family of a training config.

    ``constant``: :math:`\sum\alpha^2=\infty` (violated); ``inv_t`` (:math:`a/(1+t)`): holds;
    ``inv_sqrt_t``: :math:`\sum\alpha^2=\infty` (violated); ``robbins_monro``
    :math:`a/(b+t)^p`: holds iff :math:`1/2<p\le1`. Partial sums over the run are reported too, and
    the recorded step sizes are compared with the formula.
    """
    from ..train import make_schedule, schedule_sums

    name = cfg.get("schedule", "constant")
    try:
        sch = make_schedule(name, float(cfg.get("lr", 1e-3)), b=float(cfg.get("schedule_b", 1.0)), p=float(cfg.get("schedule_p", 1.0)))
    except InputError as e:
        return Hypothesis("A2", "step sizes: sum = inf, sum of squares < inf", "not checkable", f"schedule not understood: {e}")
    ev: dict[str, Any] = dict(sch.describe())
    ev["decay_exponent"] = sch.exponent
    # Bolte–Pauwels (AD-SGD) ask alpha_k = o(1/log k): true for any polynomial decay, false for constant
    ev["o_1_over_log_k"] = sch.exponent > 0
    if steps:
        ev.update({f"partial_{k}": v for k, v in schedule_sums(sch, int(steps)).items()})
    if lr_recorded is not None and lr_steps is not None and len(lr_recorded):
        expect = np.array([sch(int(s) - 1) for s in lr_steps])
        dev = float(np.max(np.abs(np.asarray(lr_recorded) - expect) / np.maximum(np.abs(expect), 1e-300)))
        ev["recorded_lr_max_rel_deviation"] = dev
        if dev > 1e-6:
            return Hypothesis("A2", "step sizes: sum = inf, sum of squares < inf", "not checkable",
                              f"recorded step sizes deviate from the {name} formula by {dev:.3g} (relative)", ev)
    p = sch.exponent
    if sch.robbins_monro_conditions:
        why = f"alpha_t ~ t^-{p:g} with 1/2 < {p:g} <= 1: sum diverges, squares summable (analytic)"
        return Hypothesis("A2", "step sizes: sum = inf, sum of squares < inf", "holds", why, ev)
    parts = []
    if not sch.sum_diverges:
        parts.append(f"sum alpha < inf (exponent {p:g} > 1: iterates can stop short of a critical point)")
    if not sch.square_summable:
        parts.append(f"sum alpha^2 = inf (exponent {p:g} <= 1/2{', constant step' if p == 0 else ''}: noise is not averaged out)")
    return Hypothesis("A2", "step sizes: sum = inf, sum of squares < inf", "violated", "; ".join(parts), ev)


def boundedness_hypothesis(steps, param_norm) -> Hypothesis:
    r"""(A1) as observed: does the running max of :math:`\|\theta_k\|` stop growing in log-time?

    The last half of the run in :math:`\log k` is split into two equal log-windows; the running
    max must grow by less than 1 % (relative) over the last one, or decelerate (growth in the last
    window < half the growth in the previous one). Growth linear in :math:`\log k` → violated
    (boundedness not observed). A finite run never proves (A1).
    """
    k = np.asarray(steps, dtype=np.float64)
    r = np.asarray(param_norm, dtype=np.float64)
    name = "bounded iterates sup_k ||x_k|| < inf (observed)"
    if k.size < 4 or not np.all(np.isfinite(r)):
        return Hypothesis("A1", name, "not checkable", f"need >= 4 finite recorded parameter norms, got {k.size}")
    runmax = np.maximum.accumulate(r)
    lk = np.log(np.maximum(k, 1.0))
    cut = [lk[-1] - (lk[-1] - lk[0]) / 2 * f for f in (1.0, 0.5, 0.0)]
    at = [float(np.interp(c, lk, runmax)) for c in cut]
    d1, d2 = at[1] - at[0], at[2] - at[1]
    rel2 = d2 / max(at[2], 1e-300)
    ev = {"max_param_norm": float(runmax[-1]), "final_param_norm": float(r[-1]), "growth_prev_log_window": d1,
          "growth_last_log_window": d2, "relative_growth_last_window": rel2}
    if rel2 < BOUNDED_REL_GROWTH or d2 < 0.5 * d1:
        return Hypothesis("A1", name, "holds",
                          f"running max of ||theta|| grew {100 * rel2:.2f}% over the last log-time window "
                          f"({'decelerating' if d2 < 0.5 * d1 else 'flat'}); observed, not proved", ev)
    return Hypothesis("A1", name, "violated",
                      f"running max of ||theta|| still grows about linearly in log k ({100 * rel2:.2f}% over the last "
                      f"log-time window, {d2:.3g} vs {d1:.3g} before): boundedness not observed", ev)


def _method_hypothesis(cfg: dict[str, Any]) -> Hypothesis:
    opt = cfg.get("optimizer", "sgd")
    name = "iteration x_{k+1} = x_k - alpha_k (y_k + xi_k) (stochastic subgradient method)"
    if opt == "sgd":
        wd = float(cfg.get("weight_decay", 0.0))
        return Hypothesis("M", name, "holds",
                          "plain SGD" + (f" on f + {wd:g}/2 ||x||^2 (weight decay keeps f tame)" if wd else ""), {"optimizer": opt})
    return Hypothesis("M", name, "violated",
                      f"optimizer {opt!r} uses momentum or adaptive preconditioning; DDKL's corollary covers the "
                      "stochastic subgradient method only (heavy ball: see Le, arXiv:2304.13328)", {"optimizer": opt})


def _tameness_hypothesis(model, loss: str) -> Hypothesis:
    from ..models import is_relu_mlp

    name = "f locally Lipschitz and definable in an o-minimal structure (Whitney stratifiable)"
    if model is None:
        return Hypothesis("B", name, "not checkable", "no model attached to the run")
    try:
        relu = bool(is_relu_mlp(model))
    except Exception:  # noqa: BLE001 - any non-MLP model
        relu = False
    if not relu:
        return Hypothesis("B", name, "not checkable", f"{type(model).__name__} is not a Linear/ReLU MLP; run the tameness certificate")
    cls = "alg (semialgebraic)" if loss == "mse" else "exp (log-sum-exp in the cross-entropy)"
    return Hypothesis("B", name, "holds", f"ReLU MLP (piecewise affine) + {loss}: finite sum of definable functions in {cls}; "
                      "locally Lipschitz", {"structure": cls.split()[0], "locally_lipschitz": True, "finite_sum": True})


# ----------------------------------------------------------------------------- numerics at snapshots


def _loss_and_targets(ds, loss: str, k_out: int, dtype):
    X = torch.as_tensor(ds.X, dtype=dtype)
    if loss == "cross_entropy":
        if ds.y is None:
            raise InputError("data", "cross_entropy needs integer labels y", "pass labelled data")
        return X, torch.as_tensor(ds.y, dtype=torch.long), nn.functional.cross_entropy
    T = torch.as_tensor(ds.Y, dtype=dtype) if ds.Y is not None else nn.functional.one_hot(torch.as_tensor(ds.y), k_out).to(dtype)
    return X, T, nn.functional.mse_loss


def _flat(params: dict[str, torch.Tensor]) -> torch.Tensor:
    return torch.cat([v.reshape(-1) for v in params.values()])


def _unflat(vec: torch.Tensor, like: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out, i = {}, 0
    for k, v in like.items():
        out[k] = vec[i:i + v.numel()].view_as(v)
        i += v.numel()
    return out


def _full_grad(model, params, X, T, loss_fn) -> tuple[float, torch.Tensor]:
    p = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    val = loss_fn(torch.func.functional_call(model, p, (X,)), T)
    g = torch.autograd.grad(val, list(p.values()))
    return float(val.detach()), torch.cat([x.reshape(-1) for x in g])


def minibatch_noise(model, params, X, T, loss_fn, *, batch_size: int, resamples: int = 64, seed: SeedLike = 0,
                    chunk: int = 256, dense_max: int = 4_000_000, probes: int = 16) -> dict[str, Any]:
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
    names = list(p0)
    p_dim = sum(v.numel() for v in p0.values())

    def one(pp, x, t):
        return loss_fn(torch.func.functional_call(model, pp, (x[None],)), t[None])

    gfun = torch.func.vmap(torch.func.grad(one), in_dims=(None, 0, 0))

    def rows(lo):
        gi = gfun(p0, X[lo:lo + chunk], T[lo:lo + chunk])
        return torch.cat([gi[k].reshape(gi[k].shape[0], -1) for k in names], dim=1).double()

    dense = n * p_dim <= dense_max
    rng = np_rng(seed)
    Z = torch.as_tensor(rng.standard_normal((p_dim, int(probes)))) if not dense else None
    mean = torch.zeros(p_dim, dtype=torch.float64)
    m2, cnt = 0.0, 0
    blocks, gz = [], []
    for lo in range(0, n, chunk):
        G = rows(lo)
        c = G.shape[0]
        mu_c = G.mean(0)
        m2_c = float(((G - mu_c) ** 2).sum())
        delta = mu_c - mean
        m2 += m2_c + float((delta**2).sum()) * cnt * c / (cnt + c)
        mean = mean + delta * (c / (cnt + c))
        cnt += c
        if dense:
            blocks.append(G)
        else:
            gz.append(G @ Z)
    gbar = mean
    spread = m2 / n
    var_exact = (n - b) / (b * (n - 1)) * spread if n > 1 else 0.0
    if dense:
        D = torch.cat(blocks) - gbar
        K = D @ D.T
        fro2 = float((K**2).sum()) / n**2
    else:
        Dz = torch.cat(gz) - (gbar @ Z)[None, :]
        Cz = torch.zeros(p_dim, int(probes), dtype=torch.float64)
        for lo in range(0, n, chunk):
            Cz += rows(lo).T @ Dz[lo:lo + chunk]
        fro2 = float((Cz / n).pow(2).sum(0).mean())
    dof = spread**2 / fro2 if fro2 > 0 else math.inf
    # Laurent–Massart: for a = lambda / sum(lambda), P(sum a_i chi2_i >= 1 + 2||a||_2 sqrt(x) + 2||a||_inf x) <= e^-x,
    # with ||a||_inf <= ||a||_2 = 1/sqrt(dof)
    x = math.log(1.0 / NOISE_MEAN_PFA)
    thr = 1.0 + (2.0 * math.sqrt(x) + 2.0 * x) / math.sqrt(dof)
    # the full-batch gradient, computed directly: the noise is measured against it, and its distance to the
    # mean of per-sample gradients certifies that the loss is a finite average (else E[d] != grad F)
    q = {k: v.clone().requires_grad_(True) for k, v in p0.items()}
    val = loss_fn(torch.func.functional_call(model, q, (X,)), T)
    gfull = torch.cat([g.reshape(-1) for g in torch.autograd.grad(val, [q[k] for k in names])]).double()
    decomp_gap = float((gfull - gbar).norm())
    xis = []
    for _ in range(int(resamples)):
        idx = torch.as_tensor(rng.choice(n, b, replace=False))
        q = {k: v.clone().requires_grad_(True) for k, v in p0.items()}
        val = loss_fn(torch.func.functional_call(model, q, (X[idx],)), T[idx])
        xis.append(torch.cat([g.reshape(-1) for g in torch.autograd.grad(val, [q[k] for k in names])]).double() - gfull)
    xi_t = torch.stack(xis)
    var_emp = float((xi_t**2).sum(1).mean())
    mean_sq = float((xi_t.mean(0) ** 2).sum())
    ratio = mean_sq / (var_exact / resamples) if var_exact > 0 else (0.0 if mean_sq < 1e-28 else math.inf)
    return {"noise_var_exact": var_exact, "noise_var_resampled": var_emp, "mean_sq": mean_sq, "mean_ratio": ratio,
            "dof_eff": dof, "dof_method": "dense Gram" if dense else f"Hutchinson ({int(probes)} probes)",
            "mean_ratio_threshold": thr, "full_grad_norm": float(gfull.norm()), "per_sample_spread": spread,
            "finite_sum_gap": decomp_gap,
            "batch_size": b, "n": n, "resamples": int(resamples)}


def min_norm_hull(G, *, ridge: float = 1e-14) -> tuple[float, np.ndarray, float]:
    r"""Minimum-norm point of the convex hull of the rows of ``G`` (``m × p``).

    Solves :math:`\min_{\lambda\in\Delta_m}\|G^\top\lambda\|^2` through the Gram matrix
    :math:`K=GG^\top=R^\top R` (Cholesky with ridge :math:`10^{-14}\mathrm{tr}K/m`) and NNLS on
    :math:`[R;\,M\mathbf 1^\top]\lambda\approx[0;\,M]`, :math:`M=10^3` (spec §2.3c), then renormalises.
    Returns ``(norm, lambda, duality_gap)`` where the gap
    :math:`\|v\|^2-\min_i\langle g_i,v\rangle` (:math:`v=G^\top\lambda`) certifies optimality.
    """
    from scipy.optimize import nnls

    G = np.asarray(G, dtype=np.float64)
    if G.ndim != 2 or G.shape[0] < 1:
        raise InputError("G", f"need an (m, p) array with m >= 1, got shape {G.shape}")
    m = G.shape[0]
    K = G @ G.T
    K = K + (ridge * np.trace(K) / m + 1e-300) * np.eye(m)
    scale = max(np.trace(K) / m, 1e-300)
    R = np.linalg.cholesky(K / scale).T
    M = 1e3
    lam, _ = nnls(np.vstack([R, M * np.ones((1, m))]), np.concatenate([np.zeros(m), [M]]), maxiter=50 * m)
    lam = lam / lam.sum()
    # polish with a few Frank–Wolfe (away-free) steps on the exact Gram matrix
    Kt = G @ G.T
    for _ in range(200):
        grad = Kt @ lam
        i = int(np.argmin(grad))
        d = -lam.copy()
        d[i] += 1.0
        dKd = float(d @ Kt @ d)
        gap = float(lam @ grad - grad[i])
        if gap <= 1e-15 * max(1.0, float(lam @ grad)) or dKd <= 0:
            break
        lam = lam + min(1.0, gap / dKd) * d
    v = G.T @ lam
    gap = float(v @ v - np.min(G @ v))
    return float(np.linalg.norm(v)), lam, gap


def sampled_stationarity(grad_fn, x: torch.Tensor, *, eps: float, m: int = 16, seed: SeedLike = 0) -> dict[str, Any]:
    r"""Gradient-sampling measure :math:`\rho_\varepsilon(x)` (Burke–Lewis–Overton).

    Draws ``m`` points uniformly in the ball :math:`B(x,\varepsilon)` (direction normalised
    Gaussian, radius :math:`\varepsilon U^{1/p}`), evaluates ``grad_fn`` there (full batch), and
    returns the norm of the min-norm point of their hull: a sound upper bound of
    :math:`\operatorname{dist}(0,\partial_\varepsilon f(x))` (a large value does not prove
    non-stationarity).
    """
    if not eps > 0 or int(m) < 1:
        raise InputError("eps/m", f"need eps > 0 and m >= 1, got eps={eps}, m={m}")
    rng = np_rng(seed)
    p = x.numel()
    rows = []
    for _ in range(int(m)):
        d = rng.standard_normal(p)
        d *= eps * rng.uniform() ** (1.0 / p) / np.linalg.norm(d)
        rows.append(grad_fn(x + torch.as_tensor(d, dtype=x.dtype)).double().numpy())
    rho, lam, gap = min_norm_hull(np.stack(rows))
    return {"rho": rho, "eps": eps, "m": int(m), "duality_gap": gap, "support": int((lam > 1e-12).sum())}


# ----------------------------------------------------------------------------- the report


def _pick(n: int, k: int) -> list[int]:
    if n <= k:
        return list(range(n))
    return sorted(set(np.linspace(0, n - 1, k).round().astype(int).tolist()))


def convergence_report(
    train_result,
    *,
    data=None,
    seed: SeedLike = 0,
    max_snapshots: int = 12,
    noise_snapshots: int = 3,
    noise_resamples: int = 64,
    rho_snapshots: int = 3,
    rho_eps: tuple[float, ...] = (1e-2, 1e-3),
    rho_samples: int = 12,
    lojasiewicz: bool = True,
) -> ConvergenceReport:
    """Check the DDKL hypotheses on a finished run and collect the evidence for the conclusion.

    Args:
        train_result: a :class:`tamelab.train.TrainResult` (or anything with ``history``,
            ``snapshots``, ``snapshot_steps``, ``config``, ``model`` and ``train``, such as an
            atlas ``AtlasRun``).
        data: the training :class:`~tamelab.data.Dataset` defining the finite sum; defaults to
            ``train_result.train``. Without data, (A3) and the stationarity evidence are not checkable.
        seed: seed of the noise resampling and the gradient sampling (recorded).
        max_snapshots: snapshots evaluated full-batch (evenly spaced, first and last included).
        noise_snapshots: snapshots at which the mini-batch noise is measured.
        noise_resamples: batches drawn per noise measurement.
        rho_snapshots: snapshots at which :math:`\\rho_\\varepsilon` is computed for each ``rho_eps``.
        rho_samples: gradient samples per :math:`\\rho_\\varepsilon`.
        lojasiewicz: also estimate a Łojasiewicz exponent from the snapshot values (illustrative).

    Returns:
        A :class:`ConvergenceReport`; ``applicable`` is True when every hypothesis holds (as
        observed), False when one is violated, None otherwise.
    """
    t0 = time.perf_counter()
    s = resolve_seed(seed)
    for attr in ("history", "snapshots", "snapshot_steps", "config"):
        if not hasattr(train_result, attr):
            raise InputError("train_result", f"has no {attr!r}", "pass the TrainResult returned by tamelab.train.fit")
    cfg = dict(train_result.config)
    h = train_result.history
    if "step" not in h or len(h["step"]) == 0:
        raise InputError("train_result.history", "is empty", "train for at least one recorded step")
    model = getattr(train_result, "model", None)
    loss = cfg.get("loss", getattr(train_result, "loss", "cross_entropy"))
    steps_total = int(h["step"][-1])
    hyps = [
        _method_hypothesis(cfg),
        schedule_hypothesis(cfg, steps_total, h.get("lr"), h.get("step")),
        boundedness_hypothesis(h["step"], h["param_norm"]),
    ]
    rep = ConvergenceReport(status=Status.OK, seed=s, method=cfg.get("optimizer", "?"), schedule=hyps[1].evidence)
    rep.needs = [
        "full-batch gradient at every step (or every K steps) to form xi_k = d_k - grad F(x_k): Cauchy test of "
        "S_N = sum alpha_k xi_k and the energy-identity residual F(x_K) - F(x_0) + sum alpha_k <grad F, d_k>",
        "per-step kink counts (pre-activations exactly 0) to tell AD-SGD (Bolte–Pauwels) from SGD",
    ]
    ds = data if data is not None else getattr(train_result, "train", None)
    snaps = list(train_result.snapshots)
    if ds is None or model is None or not snaps:
        hyps.append(Hypothesis("A3", "martingale-difference noise with bounded conditional variance", "not checkable",
                               "no training data, model or snapshots attached to the run"))
        hyps.append(_tameness_hypothesis(model, loss))
        rep.hypotheses = hyps
        rep.conclusion = {"evidence": "not checkable: no data/model/snapshots"}
        rep.applicable = False if any(x.verdict == "violated" for x in hyps) else None
        rep.status = Status.UNCERTIFIED
        rep.seconds = time.perf_counter() - t0
        return rep
    dtype = torch.float64
    m64 = copy.deepcopy(model).to(dtype).eval()
    k_out = int(cfg.get("widths", [0])[-1]) if cfg.get("widths") else int(np.max(ds.y) + 1) if ds.y is not None else ds.Y.shape[1]
    X, T, loss_fn = _loss_and_targets(ds, loss, k_out, dtype)
    sel = _pick(len(snaps), max_snapshots)
    steps = [int(train_result.snapshot_steps[i]) for i in sel]
    P = [{k: v.detach().to(dtype) for k, v in snaps[i].items()} for i in sel]
    vals, gns = [], []
    for p in P:
        v, g = _full_grad(m64, p, X, T, loss_fn)
        vals.append(v)
        gns.append(float(g.norm()))
    rep.snapshot_steps, rep.full_loss, rep.full_grad_norm = steps, vals, gns
    # (A3) noise
    bs = int(cfg.get("batch_size", 64))
    noise = []
    for j, i in enumerate(_pick(len(P), noise_snapshots)):
        st = minibatch_noise(m64, P[i], X, T, loss_fn, batch_size=min(bs, X.shape[0]), resamples=noise_resamples, seed=s + j)
        st["step"] = steps[i]
        noise.append(st)
    rep.noise = noise
    ratios = [x["mean_ratio"] for x in noise]
    fails = [x["step"] for x in noise if x["mean_ratio"] > x["mean_ratio_threshold"]]
    varmax = max(x["noise_var_exact"] for x in noise)
    ev3 = {"max_mean_ratio": max(ratios), "max_noise_var": varmax, "noise_var_by_step": {x["step"]: x["noise_var_exact"] for x in noise},
           "sampling": "per-epoch reshuffle, batches without replacement"}
    if bs >= X.shape[0]:
        hyps.append(Hypothesis("A3", "martingale-difference noise with bounded conditional variance", "holds",
                               "full-batch steps: xi_k = 0", ev3))
    elif not fails and math.isfinite(varmax):
        hyps.append(Hypothesis("A3", "martingale-difference noise with bounded conditional variance", "holds",
                               f"resampled noise mean consistent with 0 (max ratio {max(ratios):.2f}, below the 1e-6 quantile at every snapshot); "
                               f"E||xi||^2 <= {varmax:.3g} at the measured snapshots (observed; per-epoch reshuffling makes the "
                               "conditional mean zero only on average over an epoch)", ev3))
    else:
        hyps.append(Hypothesis("A3", "martingale-difference noise with bounded conditional variance", "violated",
                               f"resampled noise mean not consistent with 0 at steps {fails} (max ratio {max(ratios):.2f}) or unbounded variance", ev3))
    hyps.append(_tameness_hypothesis(model, loss))
    rep.hypotheses = hyps
    # evidence: rho_eps
    like = P[0]

    def gfun(vec):
        return _full_grad(m64, _unflat(vec, like), X, T, loss_fn)[1]

    rho: dict[str, list[float | None]] = {f"{e:g}": [None] * len(P) for e in rho_eps}
    gaps: list[float] = []
    for j, i in enumerate(_pick(len(P), rho_snapshots)):
        for e in rho_eps:
            r = sampled_stationarity(gfun, _flat(P[i]), eps=e, m=rho_samples, seed=s + 1000 + j)
            rho[f"{e:g}"][i] = r["rho"]
            gaps.append(r["duality_gap"])
    rep.rho = rho
    # conclusion evidence
    g = np.asarray(gns)
    # the gradient at initialisation can be small (e.g. cross-entropy at near-uniform outputs): the trend is
    # measured from the peak of the stationarity measure onwards
    ipk = int(np.argmax(g))
    after = [(st, gv) for st, gv in zip(steps[ipk:], g[ipk:]) if st > 0]
    slope = (float(np.polyfit(np.log([a for a, _ in after]), np.log(np.maximum([b for _, b in after], 1e-300)), 1)[0])
             if len(after) >= 3 else float("nan"))
    trending = bool(g[-1] <= 0.5 * g[ipk] and (not math.isfinite(slope) or slope < 0))
    F = np.asarray(vals)
    w = max(2, int(math.ceil(0.2 * len(F))))
    osc_last = float(np.ptp(F[-w:]))
    osc_prev = float(np.ptp(F[-2 * w:-w])) if len(F) >= 2 * w else float("nan")
    rel_osc = osc_last / max(abs(F[-1]), 1e-12)
    converging = bool((math.isfinite(osc_prev) and osc_last <= osc_prev) or rel_osc < 1e-2)
    concl = {
        "stationarity_first": float(g[0]), "stationarity_peak": float(g[ipk]), "stationarity_peak_step": int(steps[ipk]),
        "stationarity_last": float(g[-1]), "stationarity_last_over_peak": float(g[-1] / g[ipk]) if g[ipk] > 0 else 0.0,
        "stationarity_loglog_slope_after_peak": slope,
        "stationarity_trending_to_zero": trending,
        "rho_last": {e: v[-1] for e, v in rho.items()}, "rho_max_duality_gap": max(gaps) if gaps else None,
        "loss_first": float(F[0]), "loss_last": float(F[-1]), "tail_oscillation_last_20pct": osc_last,
        "tail_oscillation_prev_20pct": osc_prev, "relative_tail_oscillation": rel_osc, "values_converging": converging,
    }
    if lojasiewicz and len(F) >= 8:
        from .lojasiewicz import estimate_lojasiewicz

        try:
            lj = estimate_lojasiewicz(F, g, steps=np.asarray(steps, float) + 1.0, seed=s, bootstrap=100)
            concl["lojasiewicz_theta_slope"] = lj.theta_slope
            concl["lojasiewicz_status"] = Status(lj.status).value
        except InputError as e:
            concl["lojasiewicz_theta_slope"] = None
            concl["lojasiewicz_status"] = f"not estimated: {e}"
    rep.conclusion = concl
    verdicts = [x.verdict for x in hyps]
    rep.applicable = False if "violated" in verdicts else (True if all(v == "holds" for v in verdicts) else None)
    rep.conclusion["ddkl_conclusion"] = (
        "hypotheses hold as observed: limit points Clarke critical, f(x_k) converges (a.s.)" if rep.applicable
        else "theorem does not apply to this run (see violated hypotheses); evidence reported for information"
        if rep.applicable is False else "some hypotheses not checkable")
    rep.status = Status.OK if rep.applicable else Status.UNCERTIFIED
    rep.seconds = time.perf_counter() - t0
    return rep
