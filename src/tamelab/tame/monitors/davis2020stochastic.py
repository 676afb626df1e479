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

:func:`monitored_sgd` runs plain mini-batch SGD itself with the per-step monitor of spec §3.3 (noise
:math:`\xi_k=d_k-\nabla F(\theta_k)` every K steps, the weighted sum :math:`S_N` and its Cauchy test, the
energy identity, kink counts); :func:`convergence_report` accepts its run. :func:`ddkl_toy_run` is spec §3.4
experiment 2 (the tame toy :math:`|x_1|+(x_2^2-1)^2` with Gaussian gradient noise).

# NOTE [per-step monitoring]: the weighted noise sum :math:`S_N=\sum_k\alpha_k\xi_k` (Cauchy test)
# and the energy-identity residual need the full-batch gradient at every (K-th) step, which
# ``tamelab.train.fit`` does not record; for a ``fit`` run they are listed under ``needs``. The
# :func:`monitored_sgd` loop (plain SGD, i.i.d. batches) records them, and on its run the report adds the
# trajectory noise tests to (A3), a row ``S`` (Cauchy test of :math:`S_N`) and the energy-identity
# residual and kink counts to the conclusion.
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

import copy
import dataclasses
import math
import time
from typing import Any, Callable

import numpy as np
import torch

from ..._numerics import LR_RECORD_RTOL
from ..._rng import SeedLike, resolve_seed
from ...errors import InputError
from ...result import Result, Status
from ...verdicts import HYPOTHESIS_VERDICTS, Verdict
from ._noise import CAUCHY_MAX_SLOPE, NoiseEstimate, full_grad, loss_data, minibatch_noise

__all__ = [
    "Hypothesis",
    "ConvergenceReport",
    "convergence_report",
    "schedule_hypothesis",
    "boundedness_hypothesis",
    "VERDICTS",
    "ddkl_toy_run",
    "ToyRun",
    "stationarity_trend",
]

#: the verdicts of a hypothesis (:data:`tamelab.verdicts.HYPOTHESIS_VERDICTS`).
VERDICTS = HYPOTHESIS_VERDICTS
HOLDS, VIOLATED, NOT_CHECKABLE = Verdict.HOLDS, Verdict.VIOLATED, Verdict.NOT_CHECKABLE
#: running max of ‖θ‖ must grow less than this fraction (relative) over the last log-time window.
BOUNDED_REL_GROWTH = 0.01


@dataclasses.dataclass
class Hypothesis:
    """One hypothesis of the theorem: verdict ∈ ``VERDICTS``, the reason, the numbers."""

    id: str
    name: str
    verdict: Verdict
    why: str
    evidence: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.verdict = Verdict(self.verdict)
        if self.verdict not in HYPOTHESIS_VERDICTS:
            allowed = [str(v) for v in HYPOTHESIS_VERDICTS]
            raise ValueError(f"a hypothesis verdict is one of {allowed}, got {self.verdict}")


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
        """Snapshot steps, full-batch losses and gradient norms, stored in ``arrays.npz``."""
        return {
            "snapshot_steps": np.asarray(self.snapshot_steps, dtype=np.int64),
            "full_loss": np.asarray(self.full_loss),
            "full_grad_norm": np.asarray(self.full_grad_norm),
        }


# ----------------------------------------------------------------------------- hypotheses from the config


def schedule_hypothesis(cfg: dict[str, Any], steps: int | None = None, lr_recorded=None, lr_steps=None) -> Hypothesis:
    r"""(A2) decided analytically from the schedule family of a training config.

    ``constant``: :math:`\sum\alpha^2=\infty` (violated); ``inv_t`` (:math:`a/(1+t)`): holds;
    ``inv_sqrt_t``: :math:`\sum\alpha^2=\infty` (violated); ``robbins_monro``
    :math:`a/(b+t)^p`: holds iff :math:`1/2<p\le1`. Partial sums over the run are reported too, and
    the recorded step sizes are compared with the formula.
    """
    from ...train import make_schedule, schedule_sums

    name = cfg.get("schedule", "constant")
    try:
        sch = make_schedule(
            name, float(cfg.get("lr", 1e-3)), b=float(cfg.get("schedule_b", 1.0)), p=float(cfg.get("schedule_p", 1.0))
        )
    except InputError as e:
        return Hypothesis(
            "A2", "step sizes: sum = inf, sum of squares < inf", NOT_CHECKABLE, f"schedule not understood: {e}"
        )
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
        if dev > LR_RECORD_RTOL:
            return Hypothesis(
                "A2",
                "step sizes: sum = inf, sum of squares < inf",
                NOT_CHECKABLE,
                f"recorded step sizes deviate from the {name} formula by {dev:.3g} (relative)",
                ev,
            )
    p = sch.exponent
    if sch.robbins_monro_conditions:
        why = f"alpha_t ~ t^-{p:g} with 1/2 < {p:g} <= 1: sum diverges, squares summable (analytic)"
        return Hypothesis("A2", "step sizes: sum = inf, sum of squares < inf", HOLDS, why, ev)
    parts = []
    if not sch.sum_diverges:
        parts.append(f"sum alpha < inf (exponent {p:g} > 1: iterates can stop short of a critical point)")
    if not sch.square_summable:
        parts.append(
            f"sum alpha^2 = inf (exponent {p:g} <= 1/2{', constant step' if p == 0 else ''}: noise is not averaged out)"
        )
    return Hypothesis("A2", "step sizes: sum = inf, sum of squares < inf", VIOLATED, "; ".join(parts), ev)


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
        return Hypothesis("A1", name, NOT_CHECKABLE, f"need >= 4 finite recorded parameter norms, got {k.size}")
    runmax = np.maximum.accumulate(r)
    lk = np.log(np.maximum(k, 1.0))
    cut = [lk[-1] - (lk[-1] - lk[0]) / 2 * f for f in (1.0, 0.5, 0.0)]
    at = [float(np.interp(c, lk, runmax)) for c in cut]
    d1, d2 = at[1] - at[0], at[2] - at[1]
    rel2 = d2 / max(at[2], 1e-300)
    ev = {
        "max_param_norm": float(runmax[-1]),
        "final_param_norm": float(r[-1]),
        "growth_prev_log_window": d1,
        "growth_last_log_window": d2,
        "relative_growth_last_window": rel2,
    }
    if rel2 < BOUNDED_REL_GROWTH or d2 < 0.5 * d1:
        return Hypothesis(
            "A1",
            name,
            HOLDS,
            f"running max of ||theta|| grew {100 * rel2:.2f}% over the last log-time window "
            f"({'decelerating' if d2 < 0.5 * d1 else 'flat'}); observed, not proved",
            ev,
        )
    return Hypothesis(
        "A1",
        name,
        VIOLATED,
        f"running max of ||theta|| still grows about linearly in log k ({100 * rel2:.2f}% over the last "
        f"log-time window, {d2:.3g} vs {d1:.3g} before): boundedness not observed",
        ev,
    )


def _method_hypothesis(cfg: dict[str, Any]) -> Hypothesis:
    opt = cfg.get("optimizer", "sgd")
    name = "iteration x_{k+1} = x_k - alpha_k (y_k + xi_k) (stochastic subgradient method)"
    if opt == "sgd":
        wd = float(cfg.get("weight_decay", 0.0))
        return Hypothesis(
            "M",
            name,
            HOLDS,
            "plain SGD" + (f" on f + {wd:g}/2 ||x||^2 (weight decay keeps f tame)" if wd else ""),
            {"optimizer": opt},
        )
    return Hypothesis(
        "M",
        name,
        VIOLATED,
        f"optimizer {opt!r} uses momentum or adaptive preconditioning; DDKL's corollary covers the "
        "stochastic subgradient method only (heavy ball: see Le, arXiv:2304.13328)",
        {"optimizer": opt},
    )


def _tameness_hypothesis(model, X, lossf) -> Hypothesis:
    """(B) from the tameness certificate of ``loss(model(x), y)`` (:func:`tamelab.tame.certify`)."""
    from ..certificates import NONE, UNKNOWN, certify

    name = "f locally Lipschitz and definable in an o-minimal structure (Whitney stratifiable)"
    if model is None or X is None:
        return Hypothesis("B", name, NOT_CHECKABLE, "no model or data attached to the run")
    cert = certify(model, X[:2], loss=lossf)
    ev = {
        "structure": cert.structure,
        "local_structure": cert.local_structure,
        "locally_lipschitz": cert.locally_lipschitz,
        "finite_sum": cert.finite_sum,
        "tracer": cert.tracer,
        "certificate_status": Status(cert.status).value,
    }
    if cert.structure == UNKNOWN or cert.tracer is None:
        return Hypothesis("B", name, NOT_CHECKABLE, f"tameness certificate: {cert.why}", ev)
    if cert.structure == NONE or not cert.locally_lipschitz:
        return Hypothesis("B", name, VIOLATED, f"tameness certificate: {cert.why}", ev)
    return Hypothesis(
        "B",
        name,
        HOLDS,
        f"finite average of a program definable in {cert.structure}, locally "
        f"Lipschitz (tameness certificate, {cert.tracer} trace)",
        ev,
    )


def _fmt3(v) -> str:
    return "n/a" if v is None else f"{v:.3g}"


def _monitored_hypotheses(mon: dict[str, Any]) -> tuple[dict[str, Any], Hypothesis]:
    """(A3) evidence from a monitored trajectory, and the Cauchy row of the weighted noise sum."""
    mt, rts, var = mon["mean_test"], mon["resample_tests"], mon["variance"]
    rejects = [r["at"] for r in rts if r.get("rejects")] + (["trajectory"] if mt.get("rejects") else [])
    ev = {
        "trajectory_mean_test_p": mt.get("p_value"),
        "resample_tests_p": {r["at"]: r.get("p_value") for r in rts},
        "variance_last_over_max_previous": var.get("last_over_max_previous"),
        "variance_bounded": var.get("bounded"),
        "max_noise_sq": var.get("max_sq"),
        "noise_every": mon["noise_every"],
        "recorded": mon["recorded"],
    }
    ns = mon["noise_sum"]
    name = "weighted noise sum S_N = sum alpha_k xi_k converges (Cauchy, observed)"
    ev_s = {
        k: ns.get(k)
        for k in (
            "horizons",
            "quadratic_variation",
            "increments",
            "qv_loglog_slope",
            "increment_loglog_slope",
            "qv_last_over_first",
            "S_N_norm",
            "scale",
        )
    }
    if ns.get("cauchy") is None:
        hs = Hypothesis("S", name, NOT_CHECKABLE, ns.get("why", "too few recorded steps"), ev_s)
    elif ns.get("qv_loglog_slope") is None:
        hs = Hypothesis("S", name, HOLDS, ns["why"], ev_s)
    elif ns["cauchy"]:
        inc = ns["increment_loglog_slope"]
        hs = Hypothesis(
            "S",
            name,
            HOLDS,
            f"quadratic variation of S_N over dyadic windows decays like N^{ns['qv_loglog_slope']:.2f} "
            f"(increments ||S_N - S_N/2||: {'slope ' + format(inc, '.2f') if inc is not None else 'not kept'}); "
            "observed, not proved",
            ev_s,
        )
    else:
        hs = Hypothesis(
            "S",
            name,
            VIOLATED,
            f"quadratic variation of S_N over dyadic windows does not shrink (slope "
            f"{ns['qv_loglog_slope']:.2f} >= {CAUCHY_MAX_SLOPE}): sum alpha^2 E||xi||^2 not observed finite",
            ev_s,
        )
    ev["rejecting"] = rejects
    return ev, hs


def _pick(n: int, k: int) -> list[int]:
    if n <= k:
        return list(range(n))
    return sorted(set(np.linspace(0, n - 1, k).round().astype(int).tolist()))


# ----------------------------------------------------------------------------- the report


def convergence_report(
    train_result,
    *,
    data=None,
    loss=None,
    seed: SeedLike = 0,
    max_snapshots: int = 12,
    noise_snapshots: int = 3,
    noise_resamples: int = 64,
    rho_snapshots: int = 3,
    rho_eps: tuple[float, ...] = (1e-2, 1e-3),
    rho_samples: int = 12,
    lojasiewicz: bool = True,
    device=None,
) -> ConvergenceReport:
    r"""Check the DDKL hypotheses on a finished run and collect the evidence for the conclusion.

    Args:
        train_result: a :class:`tamelab.train.TrainResult`, a :class:`MonitoredRun` (or anything with
            ``history``, ``snapshots``, ``snapshot_steps``, ``config``, ``model`` and ``train``, such as an
            atlas ``AtlasRun``).
        data: the training data defining the finite sum (any form of :func:`tamelab.inputs.as_data`); defaults
            to ``train_result.train``. Without data, (A3), (B) and the stationarity evidence are not checkable.
        loss: the loss (name or callable); defaults to the run's own (``config["loss"]``).
        seed: seed of the noise resampling and the gradient sampling (recorded).
        max_snapshots: snapshots evaluated full-batch (evenly spaced, first and last included).
        noise_snapshots: snapshots at which the mini-batch noise is measured.
        noise_resamples: batches drawn per noise measurement.
        rho_snapshots: snapshots at which :math:`\rho_\varepsilon` is computed for each ``rho_eps``.
        rho_eps: the radii ε at which :math:`\rho_\varepsilon` is computed.
        rho_samples: gradient samples per :math:`\rho_\varepsilon`.
        lojasiewicz: also estimate a Łojasiewicz exponent from the snapshot values (illustrative).
        device: where the float64 evaluations run.

    Returns:
        A :class:`ConvergenceReport`; ``applicable`` is True when every hypothesis holds (as
        observed), False when one is violated, None otherwise.
    """
    t0 = time.perf_counter()
    s = resolve_seed(seed)
    for attr in ("history", "snapshots", "snapshot_steps", "config"):
        if not hasattr(train_result, attr):
            raise InputError("train_result", f"has no {attr!r}", "pass the TrainResult returned by tamelab.train.fit")
    cfg, h = dict(train_result.config), train_result.history
    if "step" not in h or len(h["step"]) == 0:
        raise InputError("train_result.history", "is empty", "train for at least one recorded step")
    hyps = [
        _method_hypothesis(cfg),
        schedule_hypothesis(cfg, int(h["step"][-1]), h.get("lr"), h.get("step")),
        boundedness_hypothesis(h["step"], h["param_norm"]),
    ]
    rep = ConvergenceReport(status=Status.OK, seed=s, method=cfg.get("optimizer", "?"), schedule=hyps[1].evidence)
    mon = getattr(train_result, "noise_monitor", None) or None
    rep.needs = [] if mon else _NEEDS
    ev = _Evidence.build(train_result, data, loss, cfg, device, max_snapshots)
    if ev is None:
        hyps.append(Hypothesis("A3", _A3, NOT_CHECKABLE, "no training data, model or snapshots attached to the run"))
        hyps.append(
            Hypothesis(
                "B",
                "f locally Lipschitz and definable in an o-minimal structure (Whitney stratifiable)",
                NOT_CHECKABLE,
                "no model or data attached to the run",
            )
        )
        rep.hypotheses, rep.conclusion = hyps, {"evidence": "not checkable: no data/model/snapshots"}
        rep.applicable = False if any(x.verdict == VIOLATED for x in hyps) else None
        rep.status = Status.UNCERTIFIED
        rep.seconds = time.perf_counter() - t0
        return rep
    rep.snapshot_steps, rep.full_loss, rep.full_grad_norm = ev.steps, ev.values, ev.grad_norms
    rep.noise = ev.noise(int(cfg.get("batch_size", 64)), noise_snapshots, noise_resamples, s)
    hyps += _noise_hypotheses(rep.noise, mon, int(cfg.get("batch_size", 64)), ev.n)
    hyps.append(_tameness_hypothesis(ev.model, ev.X, ev.lossf))
    rep.hypotheses = hyps
    rep.rho, gaps = ev.rho(rho_snapshots, rho_eps, rho_samples, s)
    rep.conclusion = _conclusion(ev, rep.rho, gaps, mon, lojasiewicz, s)
    verdicts = [x.verdict for x in hyps]
    rep.applicable = False if VIOLATED in verdicts else (True if all(v == HOLDS for v in verdicts) else None)
    rep.conclusion["ddkl_conclusion"] = (
        "hypotheses hold as observed: limit points Clarke critical, f(x_k) converges (a.s.)"
        if rep.applicable
        else "theorem does not apply to this run (see violated hypotheses); evidence reported for information"
        if rep.applicable is False
        else "some hypotheses not checkable"
    )
    rep.status = Status.OK if rep.applicable else Status.UNCERTIFIED
    rep.seconds = time.perf_counter() - t0
    return rep


_A3 = "martingale-difference noise with bounded conditional variance"
_NEEDS = [
    "full-batch gradient at every step (or every K steps) to form xi_k = d_k - grad F(x_k): Cauchy test of "
    "S_N = sum alpha_k xi_k and the energy-identity residual F(x_K) - F(x_0) + sum alpha_k <grad F, d_k> "
    "(run tamelab.tame.monitored_sgd)",
    "per-step kink counts (pre-activations exactly 0) to tell AD-SGD (Bolte–Pauwels) from SGD",
]


@dataclasses.dataclass
class _Evidence:
    """The run's model, data and selected snapshots in float64, with the full-batch values and gradient norms."""

    model: Any
    X: torch.Tensor
    T: torch.Tensor
    lossf: Any
    steps: list[int]
    P: list[dict[str, torch.Tensor]]
    values: list[float]
    grad_norms: list[float]
    wd: float = 0.0

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @classmethod
    def build(cls, run, data, loss, cfg: dict[str, Any], device, max_snapshots: int) -> "_Evidence | None":
        from ...inputs import resolve_device

        model = getattr(run, "model", None)
        ds = data if data is not None else getattr(run, "train", None)
        snaps = list(run.snapshots)
        if ds is None or model is None or not snaps:
            return None
        dev = resolve_device(device)
        m64 = copy.deepcopy(model).to(device=dev, dtype=torch.float64).eval()
        if loss is None:
            loss = getattr(run, "loss_fn", None) or cfg.get("loss", "cross_entropy")
        X, T, lossf = loss_data(m64, ds, None, loss, dtype=torch.float64, device=dev)
        sel = _pick(len(snaps), max_snapshots)
        P = [{k: v.detach().to(device=dev, dtype=torch.float64) for k, v in snaps[i].items()} for i in sel]
        wd = float(cfg.get("weight_decay", 0.0) or 0.0)
        vals, gns = [], []
        for p in P:
            v, g = full_grad(m64, p, X, T, lossf)
            flat = torch.cat([t.reshape(-1) for t in p.values()])
            vals.append(v + 0.5 * wd * float(flat @ flat))
            gns.append(float((g + wd * flat).norm()))
        return cls(m64, X, T, lossf, [int(run.snapshot_steps[i]) for i in sel], P, vals, gns, wd)

    def noise(self, batch_size: int, k: int, resamples: int, s: int) -> list[NoiseEstimate]:
        out = []
        for j, i in enumerate(_pick(len(self.P), k)):
            st = minibatch_noise(
                self.model,
                self.P[i],
                self.X,
                self.T,
                self.lossf,
                batch_size=min(batch_size, self.n),
                resamples=resamples,
                seed=s + j,
            )
            st.step = self.steps[i]
            out.append(st)
        return out

    def rho(self, k: int, eps_list, m: int, s: int) -> tuple[dict[str, list[float | None]], list[float]]:
        """Goldstein ρ_ε at ``k`` snapshots (see :func:`tamelab.tame.stationarity`).

        Goldstein ρ_ε at ``k`` snapshots (kinks of any traced model detected; see
        :func:`tamelab.tame.stationarity`).
        """
        from ..nonsmooth._model import model_loss_function
        from ..nonsmooth.goldstein1977optimization import goldstein_stationarity

        rho: dict[str, list[float | None]] = {f"{e:g}": [None] * len(self.P) for e in eps_list}
        gaps: list[float] = []
        for j, i in enumerate(_pick(len(self.P), k)):
            f0, theta, checked, why = model_loss_function(self.model, self.X, self.T, self.lossf, params=self.P[i])
            f = f0 if not self.wd else _with_weight_decay(f0, self.wd)
            for e in eps_list:
                r = goldstein_stationarity(
                    f, theta, eps=e, m=m, seed=s + 1000 + j, has_aux=True, kinks_checked=checked, kinks_why=why
                )
                rho[f"{e:g}"][i] = r.rho
                gaps.append(r.qp.get("duality_gap", float("nan")))
        return rho, gaps


def _with_weight_decay(f, wd: float):
    def add(g):
        def fw(th):
            val, k = g(th)
            return val + 0.5 * wd * (th * th).sum(), k

        return fw

    fw = add(f)
    if hasattr(f, "screen"):
        fw.screen = add(f.screen)
    return fw


def _noise_hypotheses(noise: list[NoiseEstimate], mon, bs: int, n: int) -> list[Hypothesis]:
    """(A3) from the measured noise (and the monitored trajectory when there is one), and the row S."""
    ratios = [x.mean_ratio for x in noise]
    fails = [x.step for x in noise if x.rejects_zero_mean]
    varmax = max(x.noise_var_exact for x in noise)
    ev3: dict[str, Any] = {
        "max_mean_ratio": max(ratios),
        "max_noise_var": varmax,
        "noise_var_by_step": {x.step: x.noise_var_exact for x in noise},
        "sampling": "per-epoch reshuffle, batches without replacement",
    }
    out: list[Hypothesis] = []
    if bs >= n:
        return [Hypothesis("A3", _A3, HOLDS, "full-batch steps: xi_k = 0", ev3)] + (
            [_monitored_hypotheses(mon)[1]] if mon else []
        )
    if mon:
        ev_m, row_s = _monitored_hypotheses(mon)
        ev3.update({"sampling": mon["sampling"], "monitored": ev_m})
        g3 = _fmt3
        if ev_m["rejecting"] or ev_m["variance_bounded"] is False or fails or not math.isfinite(varmax):
            where = ev_m["rejecting"] + [f"snapshot step {st}" for st in fails]
            out.append(
                Hypothesis(
                    "A3",
                    _A3,
                    VIOLATED,
                    f"zero-mean test rejected ({', '.join(where) or 'none'}) or "
                    f"E||xi||^2 growing (last/max previous window "
                    f"{g3(ev_m['variance_last_over_max_previous'])})",
                    ev3,
                )
            )
        else:
            p_rs = [v for v in ev_m["resample_tests_p"].values() if v is not None]
            out.append(
                Hypothesis(
                    "A3",
                    _A3,
                    HOLDS,
                    f"i.i.d. batches make E[d_k | F_k] = grad F(theta_k) exactly; recorded xi_k = d_k "
                    f"- grad F(theta_k) at {ev_m['recorded']} steps: t-test of zero mean p = "
                    f"{g3(ev_m['trajectory_mean_test_p'])} (trajectory), resampled batches p = "
                    f"{g3(min(p_rs) if p_rs else None)}; E||xi||^2 not growing (last/max previous window "
                    f"{g3(ev_m['variance_last_over_max_previous'])}); observed",
                    ev3,
                )
            )
        return out + [row_s]
    if not fails and math.isfinite(varmax):
        return [
            Hypothesis(
                "A3",
                _A3,
                HOLDS,
                f"resampled noise mean consistent with 0 (max ratio {max(ratios):.2f}, "
                f"below the 1e-6 quantile at every snapshot); E||xi||^2 <= {varmax:.3g} at the measured "
                "snapshots (observed; per-epoch reshuffling makes the conditional mean zero only on average "
                "over an epoch)",
                ev3,
            )
        ]
    return [
        Hypothesis(
            "A3",
            _A3,
            VIOLATED,
            f"resampled noise mean not consistent with 0 at steps {fails} (max ratio "
            f"{max(ratios):.2f}) or unbounded variance",
            ev3,
        )
    ]


#: a decreasing trend of the stationarity measure is called when Kendall's tau < 0 with one-sided p below this level
TREND_LEVEL = 0.01


def stationarity_trend(steps, g, *, burn_in: float = 0.0) -> dict[str, Any]:
    """Kendall's τ between the step and the stationarity measure, with its one-sided p-value.

    Kendall's τ between the step and the stationarity measure over the points after ``burn_in`` (a fraction of the
    last step), with its one-sided p-value for a decreasing trend; ``decreasing``: τ < 0 and p < ``TREND_LEVEL``.

    The criterion is fixed in advance (no threshold at a finite horizon): the theorem predicts criticality of limit
    points, so the measure must keep decreasing — a monotone trend, tested without assuming a rate.
    """
    from scipy import stats

    k, g = np.asarray(steps, dtype=np.float64), np.asarray(g, dtype=np.float64)
    sel = k >= burn_in * k[-1]
    if sel.sum() < 4:
        return {"kendall_tau": None, "kendall_p_decreasing": None, "decreasing": None, "points": int(sel.sum())}
    kt = stats.kendalltau(k[sel], g[sel], alternative="less")
    return {
        "kendall_tau": float(kt.statistic),
        "kendall_p_decreasing": float(kt.pvalue),
        "decreasing": bool(kt.statistic < 0 and kt.pvalue < TREND_LEVEL),
        "points": int(sel.sum()),
        "level": TREND_LEVEL,
        "burn_in": burn_in,
    }


def _stationarity_trend(steps: list[int], g: np.ndarray) -> dict[str, Any]:
    """The trend of the stationarity measure from its peak on (the gradient at initialisation can be small)."""
    ipk = int(np.argmax(g))
    after = [(st, gv) for st, gv in zip(steps[ipk:], g[ipk:]) if st > 0]
    slope = (
        float(np.polyfit(np.log([a for a, _ in after]), np.log(np.maximum([b for _, b in after], 1e-300)), 1)[0])
        if len(after) >= 3
        else float("nan")
    )
    kt = stationarity_trend(steps[ipk:], g[ipk:])
    return {
        "stationarity_first": float(g[0]),
        "stationarity_peak": float(g[ipk]),
        "stationarity_peak_step": int(steps[ipk]),
        "stationarity_last": float(g[-1]),
        "stationarity_last_over_peak": float(g[-1] / g[ipk]) if g[ipk] > 0 else 0.0,
        "stationarity_loglog_slope_after_peak": slope,
        "stationarity_kendall_tau_after_peak": kt["kendall_tau"],
        "stationarity_kendall_p_after_peak": kt["kendall_p_decreasing"],
        "stationarity_trending_to_zero": kt["decreasing"],
    }


def _conclusion(ev: _Evidence, rho, gaps, mon, lojasiewicz: bool, s: int) -> dict[str, Any]:
    g, F = np.asarray(ev.grad_norms), np.asarray(ev.values)
    w = max(2, int(math.ceil(0.2 * len(F))))
    osc_last = float(np.ptp(F[-w:]))
    osc_prev = float(np.ptp(F[-2 * w : -w])) if len(F) >= 2 * w else float("nan")
    rel_osc = osc_last / max(abs(F[-1]), 1e-12)
    concl = _stationarity_trend(ev.steps, g)
    concl.update(
        {
            "rho_last": {e: v[-1] for e, v in rho.items()},
            "rho_max_duality_gap": max(gaps) if gaps else None,
            "loss_first": float(F[0]),
            "loss_last": float(F[-1]),
            "tail_oscillation_last_20pct": osc_last,
            "tail_oscillation_prev_20pct": osc_prev,
            "relative_tail_oscillation": rel_osc,
            "values_converging": bool((math.isfinite(osc_prev) and osc_last <= osc_prev) or rel_osc < 1e-2),
        }
    )
    if mon:
        en = mon["energy"]
        concl.update(
            {
                "energy_identity_residual": en["residual"],
                "energy_identity_relative_residual": en["relative_residual"],
                "energy_identity_consistent": en["consistent"],
                "energy_identity_exact_sum": en["exact_sum"],
                "energy_identity_full_batch": en["full_batch"],
                "kink_steps": mon["kinks"]["steps_with_kinks"],
                "ad_sgd_is_sgd": mon["kinks"]["ad_sgd_is_sgd"],
            }
        )
    if lojasiewicz and len(F) >= 8:
        from .attouch2009lojasiewicz import estimate_lojasiewicz

        try:
            lj = estimate_lojasiewicz(F, g, steps=np.asarray(ev.steps, float) + 1.0, seed=s, bootstrap=100)
            concl["lojasiewicz_theta_slope"] = lj.theta_slope
            concl["lojasiewicz_status"] = Status(lj.status).value
        except InputError as e:
            concl["lojasiewicz_theta_slope"] = None
            concl["lojasiewicz_status"] = f"not estimated: {e}"
    return concl


# ----------------------------------------------------------------------------- spec §3.4 experiment 2


@dataclasses.dataclass
class ToyRun(Result):
    """Runs of the stochastic subgradient method on the DDKL toy (see :func:`ddkl_toy_run`)."""

    kind = "ddkl_toy_run"

    runs: int = 0
    steps: int = 0
    noise: float = 0.0
    x_final: list[list[float]] = dataclasses.field(default_factory=list)
    max_abs_x1_final: float = float("nan")
    max_dist_x2_to_pm1: float = float("nan")
    n_at_plus_1: int = 0
    tail_mean_abs_x1: float = float("nan")
    tail_max_abs_x1: float = float("nan")


def ddkl_toy_run(
    *,
    runs: int = 20,
    steps: int = 100_000,
    alpha: Callable[[int], float] | None = None,
    noise: float = 0.1,
    seed: SeedLike = 0,
    tail: float = 0.2,
    record_every: int = 10,
) -> ToyRun:
    r"""Spec §3.4 experiment 2: the stochastic subgradient method on the tame toy :math:`f(x)=|x_1|+(x_2^2-1)^2`.

    Clarke critical points :math:`(0,\pm1)` (minima) and :math:`(0,0)`. ``runs`` independent runs (vectorised):
    :math:`x_0\sim U(-2,2)^2`, :math:`x_{k+1}=x_k-\alpha_k(y_k+\xi_k)`, :math:`y_k=(\mathrm{sign}\,x_1,
    4x_2(x_2^2-1))\in\partial f(x_k)`, :math:`\xi_k\sim N(0,\mathrm{noise}^2I)`; default
    :math:`\alpha_k=0.1(k+10)^{-0.75}`. One generator ``np.random.default_rng(seed)`` draws :math:`x_0` then the
    noise. Returns the final iterates, :math:`\max|x_{N,1}|`, :math:`\max||x_{N,2}|-1|`, the split between
    :math:`\pm1`, and the mean/max of :math:`|x_1|` over the last ``tail`` fraction of steps (every
    ``record_every``-th step). Spec numbers (1e5 steps, 20 seeds): :math:`\max|x_1|=1.6\cdot10^{-5}`,
    :math:`x_2\in[-1.0001,1.0002]`; constant :math:`\alpha=0.05`: tail mean :math:`|x_1|` 0.025, max 0.061.
    """
    for name, v, lo in (("runs", runs, 1), ("steps", steps, 1), ("record_every", record_every, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise InputError(name, f"must be an integer >= {lo}, got {v!r}")
    if not (0 < tail <= 1):
        raise InputError("tail", f"must be in (0, 1], got {tail!r}")
    if not (noise >= 0 and math.isfinite(noise)):
        raise InputError("noise", f"must be a finite number >= 0, got {noise!r}")
    sched = alpha if alpha is not None else (lambda k: 0.1 * (k + 10) ** -0.75)
    s = resolve_seed(seed)
    t0 = time.perf_counter()
    rng = np.random.default_rng(s)
    x = rng.uniform(-2, 2, (int(runs), 2))
    rec = []
    t_tail = int((1 - tail) * steps)
    for k in range(int(steps)):
        g = np.stack([np.sign(x[:, 0]), 4 * x[:, 1] * (x[:, 1] ** 2 - 1)], 1)
        x = x - sched(k) * (g + noise * rng.standard_normal(x.shape))
        if k >= t_tail and k % record_every == 0:
            rec.append(np.abs(x[:, 0]).copy())
    tl = np.array(rec) if rec else np.abs(x[:, :1]).T
    return ToyRun(
        status=Status.OK,
        seed=s,
        seconds=time.perf_counter() - t0,
        runs=int(runs),
        steps=int(steps),
        noise=float(noise),
        x_final=x.tolist(),
        max_abs_x1_final=float(np.abs(x[:, 0]).max()),
        max_dist_x2_to_pm1=float(np.abs(np.abs(x[:, 1]) - 1).max()),
        n_at_plus_1=int((x[:, 1] > 0).sum()),
        tail_mean_abs_x1=float(tl.mean()),
        tail_max_abs_x1=float(tl.max()),
    )
