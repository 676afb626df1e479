"""Karmakar & Mukherjee (arXiv:2005.04211; Mukherjee thesis ch. 3): a ReLU gate trained in linear time."""

from __future__ import annotations

import numpy as np

from ..._numerics import CLAIM_ABOVE_FLOOR, CLAIM_CLOSED_FORM_TOL, CLAIM_EXACT_TOL, CLAIM_SOLVER_TOL
from .._registry import ClaimContext, Measured, claim

D = 20
#: the bound is checked only where it is above the float64 floor of ‖w_t − w*‖.
FLOOR = 1e-12


def _w_star(s: int) -> np.ndarray:
    w = np.random.default_rng([s, 7]).standard_normal(D)
    return w / np.linalg.norm(w)


def _mean_below(runs, sigmas: float = 3.0) -> tuple[bool, float]:
    """Is the Monte-Carlo mean of ‖w_t − w*‖² below the bound on E‖w_t − w*‖² at every t?

    Is the Monte-Carlo mean of ‖w_t − w*‖² below the bound on E‖w_t − w*‖² at every t (``sigmas`` standard
    errors allowed)? Also returns the worst ratio mean / bound² over t where the bound is above the float floor.
    """
    E = np.stack([r.errors**2 for r in runs])
    B = runs[0].bound ** 2
    mean = E.mean(0)
    se = E.std(0, ddof=1) / np.sqrt(len(runs)) if len(runs) > 1 else np.zeros_like(mean)
    keep = B > FLOOR**2
    return (
        bool(np.all(mean[keep] - sigmas * se[keep] <= B[keep] * (1 + CLAIM_CLOSED_FORM_TOL))),
        float((mean[keep] / B[keep]).max()),
    )


@claim(
    "tron-relu-gate-geometric-rate",
    paper="arXiv:2005.04211",
    source="arXiv:2005.04211 main theorem (realizable case, mini-batch b: E‖w_T − w*‖² decays geometrically); "
    "algorithm form and constants ρ, η reconstructed and derived in spec constructive.md §3.1",
    expected_from="theory",
    statement="On symmetric non-Gaussian (Laplace) inputs in d=20 the Tron-style update converges geometrically to "
    "w*: E‖w_t − w*‖² ≤ (1−ρ)^(t−1)‖w*‖² at every t (Monte-Carlo mean over runs, 3 standard errors), the slope of "
    "log‖w_t − w*‖ is at most ½ log(1−ρ), the final error is < 1e-6 for b ≥ 8; SGD started at w = 0 never moves. "
    "(The spec's reading 'every single run stays below the bound' is measured and reported, not required: the "
    "theorem bounds the mean, and single runs exceed it by up to ~10 %.)",
    expected={
        "mean below bound at every t": True,
        "slope <= 0.5 log(1-rho)": True,
        "final_error (b>=8)": "< 1e-6",
        "sgd_moves_from_0": False,
    },
    tags=("exact",),
)
def tron(ctx: ClaimContext) -> Measured:
    """Claim: On Laplace inputs the Tron update converges to w* geometrically, within the theorem's bound."""
    from ...exact.karmakar2020gate import gate_constants, laplace_inputs, train_relu_gate

    T = 1000 if ctx.quick else 3000
    seeds = range(ctx.seed, ctx.seed + (12 if ctx.quick else 40))
    got, ok, why = {}, True, []
    for b in (1, 8, 32):
        const = gate_constants(laplace_inputs, D, b, seed=ctx.seed)
        runs = [train_relu_gate(_w_star(s), steps=T, batch=b, seed=s, constants=const) for s in seeds]
        slopes = [r.log_slope() for r in runs]
        finals = [r.final_error for r in runs]
        per_run = [bool(np.all((r.errors <= r.bound * (1 + CLAIM_EXACT_TOL)) | (r.bound <= FLOOR))) for r in runs]
        mean_ok, worst = _mean_below(runs)
        keep = runs[0].bound > FLOOR
        run_worst = max(float((r.errors[keep] / r.bound[keep]).max()) for r in runs)
        bound_slope = 0.5 * np.log(1 - runs[0].rho)
        got[f"b={b}"] = {
            "mean_slope": float(np.mean(slopes)),
            "bound_slope": float(bound_slope),
            "max_final_error": float(max(finals)),
            "runs_below_bound": f"{sum(per_run)}/{len(per_run)}",
            "max_mean_over_bound": worst,
            "max_run_over_bound": run_worst,
            "rho": runs[0].rho,
        }
        checks = {
            "mean below bound": mean_ok,
            "slope": np.mean(slopes) <= bound_slope,
            "final error": b < 8 or max(finals) < CLAIM_SOLVER_TOL,
        }
        for k, v in checks.items():
            if not v:
                why.append(f"b={b}: {k}")
        ok &= all(checks.values())
    sgd = train_relu_gate(np.ones(D) / np.sqrt(D), steps=200, batch=8, method="sgd", seed=ctx.seed)
    moved = bool(np.any(sgd.errors != sgd.errors[0]))
    got["sgd_final_error_from_0"] = sgd.final_error
    got["sgd_moves_from_0"] = moved
    if moved:
        why.append("SGD moved from w = 0")
    note = (
        "η and ρ from the reconstructed theorem (spec §3.1) with Monte-Carlo moments. The theorem bounds the mean "
        "E‖w_t − w*‖² (checked at every t above the float floor); single runs exceed it by a few per cent at early "
        "steps (runs_below_bound, max_run_over_bound), which the theorem allows: 'every run below the bound' is "
        "not a consequence of the theorem and is false here."
    )
    return Measured(got, bool(ok and not moved), ("; ".join(why) + ". " if why else "") + note)


#: (attack probability β, magnitude θ*), in increasing β·θ*.
ATTACKS = [(0.0, 1.0), (0.05, 0.5), (0.1, 0.5), (0.1, 1.0), (0.2, 1.0), (0.3, 1.0)]


@claim(
    "tron-relu-gate-poisoning-floor",
    paper="arXiv:2005.04211",
    source="arXiv:2005.04211 poisoning theorem (online label attack with probability β, |ξ| ≤ θ*: approximate "
    "recovery, 'degrades gracefully with increasing probability of attack and its magnitude'); the floor bound "
    "is our derivation for the reconstructed update (tamelab.exact.karmakar2020gate)",
    expected_from="theory",
    statement="Under an online label-poisoning attack (probability β, magnitude ≤ θ*) the Tron update (b = 8, same "
    "step) still converges to a neighbourhood of w*: the error floor is 0 without attack, grows with β·θ*, and "
    "stays below the derived floor bound sqrt(e*); E‖w_t − w*‖² stays below the derived trajectory bound at every t.",
    expected={
        "floor(beta=0)": "< 1e-6",
        "floor increasing in beta*theta": True,
        "floor <= bound floor": True,
        "mean below trajectory bound": True,
    },
    tags=("exact",),
)
def poisoning(ctx: ClaimContext) -> Measured:
    """Claim: Under label poisoning Tron converges to a neighbourhood of w* below the derived floor bound."""
    from ...exact.karmakar2020gate import LabelAttack, gate_constants, laplace_inputs, train_relu_gate

    T, b = (800 if ctx.quick else 2000), 8
    seeds = range(ctx.seed, ctx.seed + (4 if ctx.quick else 10))
    const = gate_constants(laplace_inputs, D, b, seed=ctx.seed)
    rows, floors, why = {}, [], []
    for beta, theta in ATTACKS:
        att = LabelAttack(beta, theta) if beta > 0 else None
        runs = [train_relu_gate(_w_star(s), steps=T, batch=b, seed=s, attack=att, constants=const) for s in seeds]
        tail = T // 4
        floor = float(np.mean([np.sqrt(np.mean(r.errors[-tail:] ** 2)) for r in runs]))
        mean_ok, worst = _mean_below(runs)
        floors.append(floor)
        rows[f"beta={beta},theta={theta}"] = {
            "floor": floor,
            "bound_floor": runs[0].floor_bound,
            "max_mean_over_bound": worst,
            "mean_below_bound": mean_ok,
        }
        if not mean_ok:
            why.append(f"β={beta}, θ={theta}: mean above the trajectory bound")
        if beta > 0 and floor > runs[0].floor_bound:
            why.append(f"β={beta}, θ={theta}: floor {floor:.3g} above the bound {runs[0].floor_bound:.3g}")
    if floors[0] >= CLAIM_SOLVER_TOL:
        why.append(f"no attack: floor {floors[0]:.3g}")
    if not all(a < c for a, c in zip(floors, floors[1:])):
        why.append("the floor does not grow with β·θ*")
    ratio = [f / (bt * th) for f, (bt, th) in zip(floors[1:], ATTACKS[1:])]
    return Measured(
        {"runs": rows, "floor_over_beta_theta": ratio},
        not why,
        "; ".join(why)
        or "floor = RMS of ‖w_t − w*‖ over the last quarter, mean over seeds; adversary "
        "ξ = θ*·sign(x₁) on attacked labels (a biased, worst-case-direction attack)",
    )


@claim(
    "tron-sgd-trajectory-similarity",
    paper="arXiv:2005.04211",
    source="arXiv:2005.04211 simulations (abstract: 'a striking similarity in trajectories between our algorithm "
    "and the popular S.G.D. algorithm')",
    expected_from="paper",
    statement="From the same random start and the same sample stream, Tron and SGD on the squared loss follow "
    "similar trajectories (b = 1 and b = 8): the fitted log-error slopes agree within 25 % on average and within a "
    "factor 1.5 for every run, and in a typical run (median over runs) ‖w_t − w*‖ of the two stay within a factor "
    "4 of each other at every step above 1e-8.",
    expected={
        "mean slope ratio sgd/tron": "in [0.8, 1.25]",
        "every run's slope ratio": "in [2/3, 1.5]",
        "median over runs of max_t |log err_tron - log err_sgd|": "<= log 4",
    },
    tags=("exact",),
)
def similarity(ctx: ClaimContext) -> Measured:
    """Claim: From the same start and samples, Tron and SGD on the squared loss follow similar trajectories."""
    from ...exact.karmakar2020gate import gate_constants, laplace_inputs, train_relu_gate

    T = 1000 if ctx.quick else 1500
    seeds = range(ctx.seed, ctx.seed + (3 if ctx.quick else 6))
    got, ok = {}, True
    for b in (1, 8):
        const = gate_constants(laplace_inputs, D, b, seed=ctx.seed)
        ratios, gaps = [], []
        for s in seeds:
            w0 = np.random.default_rng([s, 11]).standard_normal(D) / np.sqrt(D)
            tr = train_relu_gate(_w_star(s), steps=T, batch=b, seed=s, w0=w0, constants=const)
            sg = train_relu_gate(_w_star(s), steps=T, batch=b, seed=s, w0=w0, method="sgd", constants=const)
            ratios.append(sg.log_slope() / tr.log_slope())
            keep = (tr.errors > CLAIM_ABOVE_FLOOR) & (sg.errors > CLAIM_ABOVE_FLOOR)
            gaps.append(float(np.abs(np.log(tr.errors[keep]) - np.log(sg.errors[keep])).max()))
        got[f"b={b}"] = {
            "slope_ratio": float(np.mean(ratios)),
            "slope_ratio_range": [min(ratios), max(ratios)],
            "median_max_factor": float(np.exp(np.median(gaps))),
            "max_factor": float(np.exp(max(gaps))),
        }
        ok &= 0.8 <= np.mean(ratios) <= 1.25 and all(2 / 3 <= r <= 1.5 for r in ratios) and np.median(gaps) <= np.log(4)
    return Measured(
        got,
        bool(ok),
        "same start w₀ ~ N(0, I/d), same inputs and labels at every step; SGD uses "
        "σ'(0) = 0. Near w* both expected updates equal ½Σ(w* − w) for symmetric inputs, so the rates "
        "should agree",
    )
