r"""De, Mukherjee & Ullah (arXiv:1807.06766): RMSProp/ADAM criticality guarantees and ADAM vs NAG.

**Constants.** The theorems' explicit constants (step size, T(ε)) come from the spec, where they were recalled from
memory ([R]); the paper's text could not be read here (the stored copies hold its abstract only). So the RMSProp
claims cannot *hold*: a run that misses the recalled T(ε) makes them **fail** (evidence against the implementation or
the recalled constants), and otherwise the verdict is **not reproduced**, with the measured slack T(ε)/hit reported.
ADAM's explicit constants are unavailable ([X]); only the qualitative statement is claimed
(:mod:`.mukherjee2021thesis`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ...tame import (
    adam_vs_nag_study,
    check_theorem,
    log_finite_sum_problem,
    log_sum_problem,
    run_dmu_batch,
    sign_condition_violation,
)
from .._registry import ClaimContext, Measured, claim

_UNVERIFIED = (
    "constants of arXiv:1807.06766 not verified (only the abstract is readable here; the spec's values are "
    "recalled [R]): no run exceeded the recalled bound, which is not evidence that the theorem holds"
)


def rmsprop_det_check(
    ctx: ClaimContext, *, runner: Callable = run_dmu_batch, theorem: Callable = check_theorem
) -> Measured:
    """Deterministic RMSProp against the recalled T(ε); ``runner``/``theorem`` are parameters for the tests.

    The 18 settings run in lockstep (:func:`tamelab.tame.run_dmu_batch`, one row per setting).
    """
    pb = log_sum_problem(10)
    rng = np.random.default_rng(ctx.seed)
    betas = (0.5, 0.9) if ctx.quick else (0.5, 0.9, 0.999)
    cap = 200_000 if ctx.quick else 2_000_000
    settings, runs = [], []
    for eps in (0.3, 0.1, 0.03):
        for xi in (0.1, 1.0):
            for b2 in betas:
                x0 = rng.uniform(-5, 5, 10)
                c = theorem(
                    "rmsprop", beta2=b2, xi=xi, smoothness=pb.L, grad_bound=pb.sigma, dim=10, eps=eps, gap=pb.f(x0)
                )
                settings.append((eps, xi, b2, c))
                run = {"x0": x0, "step_size": c.step_size_theorem, "T": int(min(c.steps_to_eps, cap))}
                runs.append({**run, "beta2": b2, "xi": xi, "stop_eps": eps, "seed": ctx.seed})
    rows, violated, undecided = [], [], 0
    for (eps, xi, b2, c), r in zip(settings, runner(pb, runs)):
        T = c.steps_to_eps
        hit = r.hit_step
        if hit is None and T > cap:
            undecided += 1
        elif hit is None or hit > T:
            violated.append({"eps": eps, "xi": xi, "beta2": b2, "hit_step": hit, "T_recalled": T})
        rows.append(
            {
                "eps": eps,
                "xi": xi,
                "beta2": b2,
                "hit_step": hit,
                "T_recalled": T,
                "T_derived": c.derived.get("steps_to_eps"),
                "slack_T_over_hit": (T / hit) if hit else None,
            }
        )
    slack = [r["slack_T_over_hit"] for r in rows if r["slack_T_over_hit"]]
    vals = {
        "settings": rows,
        "violations": violated,
        "undecided_capped": undecided,
        "cap": cap,
        "slack_min": min(slack) if slack else None,
        "slack_max": max(slack) if slack else None,
        "constants_status": "recalled [R], not verified against arXiv:1807.06766",
    }
    if violated:
        return Measured(vals, False, f"{len(violated)} run(s) did not reach eps within the recalled T(eps)")
    return Measured(vals, None, _UNVERIFIED)


@claim(
    "dmu-rmsprop-deterministic-within-T",
    paper="arXiv:1807.06766",
    statement="Deterministic RMSProp (xi outside the sqrt, no bias correction) with step (1-beta2) xi / (L "
    "sqrt(sigma^2+xi)) "
    "reaches ||grad f|| <= eps within T(eps) = 2L(sigma^2+xi)(f(x1)-f*)/((1-beta2) xi eps^2) (constants as recalled "
    "in the spec) on f(x) = sum log(1+x_i^2) (L=2, sigma=sqrt(10)).",
    expected={
        "every run": "hit_step <= T(eps)",
        "verdict when no run violates": "not reproduced (constants unverified)",
    },
    tags=("tame", "adaptive"),
    source="arXiv:1807.06766 §3, deterministic RMSProp theorem (constants recalled in spec §6.2, not verified)",
    expected_from="paper",
)
def rmsprop_det(ctx: ClaimContext) -> Measured:
    """Claim: Deterministic RMSProp reaches ||∇f|| ≤ ε within the theorem's T(ε) (De–Mukherjee–Ullah Thm 1)."""
    return rmsprop_det_check(ctx)


def rmsprop_stoch_check(
    ctx: ClaimContext, *, runner: Callable = run_dmu_batch, theorem: Callable = check_theorem
) -> Measured:
    """Stochastic RMSProp under the sign condition against the recalled bound (parameters for the tests).

    The runs go in lockstep (:func:`tamelab.tame.run_dmu_batch`), each with its own seed and step size.
    """
    pb = log_finite_sum_problem(20, 2, seed=ctx.seed)
    rng = np.random.default_rng(ctx.seed + 1)
    n_runs = 5 if ctx.quick else 20
    T = 5_000 if ctx.quick else 100_000
    viol = sign_condition_violation(pb, rng.uniform(-5, 5, (50, 2)))
    checks, runs = [], []
    for j in range(n_runs):
        x0 = rng.uniform(-5, 5, 2)
        c = theorem(
            "rmsprop_stochastic",
            beta2=0.9,
            xi=1.0,
            smoothness=pb.L,
            grad_bound=pb.component_sigma,
            dim=2,
            T=T,
            gap=pb.f(x0),
            sign_condition=viol == 0,
        )
        checks.append(c)
        run = {"x0": x0, "step_size": c.step_size_theorem, "T": T, "beta2": 0.9, "xi": 1.0}
        runs.append({**run, "seed": ctx.seed * 1000 + j})
    rows, violated = [], []
    for j, (c, r) in enumerate(zip(checks, runner(pb, runs, stochastic=True))):
        ratio = r.min_grad_norm**2 / c.bound_min_grad_norm**2
        rows.append(
            {
                "min_grad_norm_sq": r.min_grad_norm**2,
                "eps_sq_recalled": c.bound_min_grad_norm**2,
                "observed_over_bound": ratio,
                "applicable": c.applicable,
            }
        )
        if not (c.applicable and ratio <= 1.0):
            violated.append(j)
    ratios = [r["observed_over_bound"] for r in rows]
    vals = {
        "sign_condition_violation": viol,
        "T": T,
        "runs": rows,
        "violations": violated,
        "max_observed_over_bound": max(ratios),
        "min_observed_over_bound": min(ratios),
        "constants_status": "recalled [R], not verified against arXiv:1807.06766",
    }
    if violated or viol != 0:
        return Measured(vals, False, f"runs {violated} exceeded the recalled bound (or the sign condition failed)")
    return Measured(vals, None, _UNVERIFIED + "; the guarantee is on an expectation, each run is compared with it")


@claim(
    "dmu-rmsprop-stochastic-sign-condition",
    paper="arXiv:1807.06766",
    statement="Stochastic RMSProp on a finite sum satisfying the sign condition, with T and step "
    "alpha = sqrt(2 xi (1-beta2)(f(x1)-f*)/(sigma^2 L T)), achieves min_t ||grad f(x_t)||^2 <= eps^2 where "
    "eps^4 = 2 L sigma^2 (sigma^2+xi)(f(x1)-f*)/((1-beta2) xi T) (constants as recalled in the spec).",
    expected={
        "sign_condition_violation": 0.0,
        "every run": "min_t ||grad f||^2 <= eps^2",
        "verdict when no run violates": "not reproduced (constants unverified)",
    },
    tags=("tame", "adaptive"),
    source="arXiv:1807.06766 §3, stochastic RMSProp theorem under the sign condition (constants recalled, not "
    "verified)",
    expected_from="paper",
)
def rmsprop_stoch(ctx: ClaimContext) -> Measured:
    """Claim: Stochastic RMSProp under the sign condition meets the theorem's min-gradient bound (Thm 2)."""
    return rmsprop_stoch_check(ctx)


def adam_small_beta1_check(ctx: ClaimContext, *, runner: Callable = run_dmu_batch) -> Measured:
    """Deterministic ADAM (paper form) with small beta1 and large xi; ``runner`` is a parameter for the tests."""
    pb = log_sum_problem(10)
    rng = np.random.default_rng(ctx.seed)
    epss = (0.3, 0.1, 0.03)
    cap = 100_000
    keys, runs = [], []
    for eps in epss:
        beta1 = 0.5 * eps / (eps + pb.sigma)  # the regime of the theorem: beta1 < eps / (eps + sigma)
        xi = 10 * pb.sigma**2  # "xi large enough": sqrt(v_t) <= sigma << xi
        for _ in range(2 if ctx.quick else 5):
            keys.append((eps, beta1, xi))
            run = {"x0": rng.uniform(-5, 5, 10), "step_size": xi / (2 * pb.L), "T": cap, "beta1": beta1}
            runs.append({**run, "beta2": 0.999, "xi": xi, "stop_eps": eps, "seed": ctx.seed})
    rows, hits = [], {e: 0.0 for e in epss}
    for (eps, beta1, xi), r in zip(keys, runner(pb, runs)):
        rows.append({"eps": eps, "beta1": beta1, "xi": xi, "hit_step": r.hit_step, "f_first": r.f_first})
        hits[eps] = max(hits[eps], r.hit_step if r.hit_step is not None else np.inf)
    finite = all(np.isfinite(list(hits.values())))
    slope = float(np.polyfit(np.log([1 / e for e in epss]), np.log([hits[e] for e in epss]), 1)[0]) if finite else None
    vals = {
        "runs": rows,
        "worst_hit_by_eps": {str(e): h for e, h in hits.items()},
        "cap": cap,
        "loglog_slope_hit_vs_1_over_eps": slope,
        "step_size": "xi / (2 L) (constant; the theorem's steps depend on the gradient, constants unavailable [X])",
    }
    holds = bool(finite and slope is not None and slope <= 2.2)
    return Measured(
        vals,
        holds,
        "qualitative check: every run in the small-beta1 / large-xi regime reaches "
        "||grad f|| <= eps, and the worst hitting time grows no faster than eps^-2 (log-log slope <= 2.2)",
    )


@claim(
    "thesis-ch5-adam-small-beta1-large-xi-critical",
    paper="arXiv:2104.14033 (Mukherjee, thesis ch. 5) = arXiv:1807.06766",
    statement="Deterministic ADAM (no bias correction, xi outside the square root) with beta1 small (below "
    "eps/(eps+sigma)) and xi large reaches an eps-critical point, in O(eps^-2) steps; measured with adam_dmu on "
    "f(x) = sum log(1+x_i^2) (L=2, sigma=sqrt(10)) for eps in {0.3, 0.1, 0.03}.",
    expected={"every run": "reaches ||grad f|| <= eps within 1e5 steps", "loglog slope of hit vs 1/eps": "<= 2 (+0.2)"},
    tags=("tame", "adaptive"),
    source="arXiv:1807.06766 §3 deterministic ADAM theorem (qualitative form; thesis arXiv:2104.14033 ch. 5)",
    expected_from="paper",
)
def adam_small_beta1(ctx: ClaimContext) -> Measured:
    """Claim: Deterministic Adam with small β1 and large ξ reaches an ε-critical point in O(ε^-2) steps (Thm 3)."""
    return adam_small_beta1_check(ctx)


# ----------------------------------------------------------------------------- the autoencoder study (paper §5)

_STUDIES: dict[tuple[int, bool], object] = {}


def _study(ctx: ClaimContext, study_fn: Callable | None = None):
    """One study per (seed, quick) in this process, shared by the three claims below."""
    if study_fn is not None:
        return study_fn({"quick": ctx.quick, "seeds": [ctx.seed] if ctx.quick else [ctx.seed + i for i in range(3)]})
    key = (ctx.seed, ctx.quick)
    if key not in _STUDIES:
        _STUDIES[key] = adam_vs_nag_study(
            {"quick": ctx.quick, "seeds": [ctx.seed] if ctx.quick else [ctx.seed + i for i in range(3)]}
        )
    return _STUDIES[key]


def _study_values(res) -> dict:
    c = res.conclusion
    keys = (
        "best_nag",
        "adam_0.99_train_loss",
        "nag_train_loss",
        "adam_0.99_test_loss",
        "nag_test_loss",
        "adam_0.99_beats_nag_train",
        "adam_0.99_beats_nag_train_seeds",
        "adam_0.99_beats_nag_test",
        "nag_grad_norm",
        "adam_0.99_grad_norm",
        "nag_smaller_grad_norm",
        "nag_smaller_grad_norm_seeds",
        "lr_optima_inside_grids",
        "ranking_by_train_loss",
    )
    vals = {k: c.get(k) for k in keys}
    vals["best_lrs"] = {k: b["lr"] for k, b in res.best.items()}
    vals["lr_grids"] = {k: b["grid"] for k, b in res.best.items()}
    vals.update({k: res.config[k] for k in ("data", "epochs", "seeds", "hidden", "batch_size")})
    vals["widths"] = res.widths
    return vals


def adam_vs_nag_train_check(ctx: ClaimContext, *, study_fn: Callable | None = None) -> Measured:
    """Whether Adam with beta1 = 0.99 ends at a lower training loss than the best NAG, from a study (injectable)."""
    res = _study(ctx, study_fn)
    c, vals = res.conclusion, _study_values(res)
    if not c.get("lr_optima_inside_grids"):
        return Measured(vals, None, "a tuned learning rate is at the edge of its (extended) grid: tuning inconclusive")
    return Measured(
        vals,
        bool(c["adam_0.99_beats_nag_train"]),
        "mean final full-batch training MSE over seeds, each optimiser at its tuned learning rate; "
        f"{res.provenance_note}",
    )


@claim(
    "dmu-adam-vs-nag-autoencoder-train-loss",
    paper="arXiv:1807.06766",
    statement="On a wide fully connected ReLU autoencoder trained with mini-batches, ADAM with beta1 = 0.99 reaches a "
    "lower final training loss than NAG at its best momentum (0.9 or 0.99), every method's learning rate tuned on a "
    "grid that contains its optimum; full: MNIST-1D (8000 samples), 40-256-32-256-40, batch 128, 3 seeds, 20 epochs; "
    "quick: digits, 64-256-32-256-64, 1 seed, 6 epochs.",
    expected={"adam_0.99_beats_nag_train": True, "lr_optima_inside_grids": True},
    tags=("tame", "adaptive", "study"),
    slow=True,
    source="arXiv:1807.06766 abstract and §5 (ADAM beta1 = 0.99 vs tuned NAG on autoencoders, mini-batch, large nets)",
    expected_from="paper",
)
def adam_vs_nag_train(ctx: ClaimContext) -> Measured:
    """Claim: On a wide ReLU autoencoder Adam (β1 = 0.99) ends at a lower training loss than tuned NAG."""
    return adam_vs_nag_train_check(ctx)


def nag_grad_norm_check(ctx: ClaimContext, *, study_fn: Callable | None = None) -> Measured:
    """Whether the best NAG ends with a smaller gradient norm than the best Adam, from a study (injectable)."""
    res = _study(ctx, study_fn)
    c, vals = res.conclusion, _study_values(res)
    if not c.get("lr_optima_inside_grids"):
        return Measured(vals, None, "a tuned learning rate is at the edge of its (extended) grid: tuning inconclusive")
    return Measured(vals, bool(c["nag_smaller_grad_norm"]), "mean final full-batch gradient norm over seeds")


@claim(
    "dmu-nag-smaller-gradient-norm-autoencoder",
    paper="arXiv:1807.06766",
    statement="In the same study, NAG (best momentum, tuned) ends with a smaller full-batch gradient norm than ADAM "
    "with "
    "beta1 = 0.99 (tuned).",
    expected={"nag_smaller_grad_norm": True},
    tags=("tame", "adaptive", "study"),
    slow=True,
    source="arXiv:1807.06766 abstract (NAG has better abilities in terms of reducing the gradient norms), §5",
    expected_from="paper",
)
def nag_grad_norm(ctx: ClaimContext) -> Measured:
    """Claim: In the same study tuned NAG ends with a smaller full-batch gradient norm than Adam (β1 = 0.99)."""
    return nag_grad_norm_check(ctx)


def nag_min_eig_check(ctx: ClaimContext, *, study_fn: Callable | None = None) -> Measured:
    """Whether the minimum Hessian eigenvalue along the best NAG run increases, from a study (injectable)."""
    res = _study(ctx, study_fn)
    c = res.conclusion
    me = res.min_eig.get(c.get("best_nag"), {})
    vals = {
        "best_nag": c.get("best_nag"),
        "epochs": me.get("epochs"),
        "lambda_min": me.get("lambda_min"),
        "converged": me.get("converged"),
        "kendall": me.get("kendall"),
        "kendall_p": me.get("kendall_p"),
        "retrain_matches": me.get("retrain_matches"),
    }
    n = len(me.get("epochs") or [])
    if n < 5 or not all(me.get("converged") or [False]):
        return Measured(
            vals,
            None,
            f"{n} checkpoints (Kendall's exact p cannot fall below 0.05 with fewer than 5) or "
            "unconverged Lanczos: no verdict",
        )
    return Measured(
        vals,
        bool(me["increasing_trend"]),
        "Kendall's tau of lambda_min(Hessian of the full-batch float64 "
        "MSE) with the epoch along the best NAG run (first seed), > 0 at two-sided p < 0.05",
    )


@claim(
    "dmu-nag-min-hessian-eigenvalue-increasing",
    paper="arXiv:1807.06766",
    statement="Along the best NAG run of the study, the smallest eigenvalue of the Hessian of the full-batch loss "
    "shows "
    "an increasing trend (Kendall's tau > 0, p < 0.05 over >= 5 checkpoints).",
    expected={"increasing_trend": True},
    tags=("tame", "adaptive", "study", "curvature"),
    slow=True,
    source="arXiv:1807.06766 abstract (NAG iterates exhibit an increasing trend of the minimum Hessian eigenvalue), §5",
    expected_from="paper",
)
def nag_min_eig(ctx: ClaimContext) -> Measured:
    """Claim: Along the best NAG run the smallest Hessian eigenvalue of the full-batch loss trends upward."""
    return nag_min_eig_check(ctx)
