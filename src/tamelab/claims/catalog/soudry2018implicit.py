"""Implicit bias of gradient descent (Soudry, Hoffer, Nacson, Gunasekar & Srebro, arXiv:1710.10345, JMLR 2018):

GD from 0 on underdetermined least squares -> the minimum-norm solution; GD on the logistic loss on separable data ->
the hard-margin SVM direction, at rate O(1/log t). Library code: :mod:`tamelab.exact.soudry2018implicit`.
"""

from __future__ import annotations

import numpy as np

from ...exact import soudry2018implicit as sb
from .._registry import ClaimContext, Measured, claim

PAPER = "arXiv:1710.10345"
#: GD from 0 must be this close (relative) to X⁺y, and interpolate to this relative residual
MIN_NORM_RTOL = 1e-8
#: the control (start w0 != 0) must land at the predicted interpolant to this relative accuracy ...
CONTROL_RTOL = 1e-6
#: ... and the predicted offset must exceed this (relative) for the control to discriminate
CONTROL_MIN_OFFSET = 1e-4


@claim(
    "implicit-bias-least-squares-min-norm",
    paper=PAPER,
    statement="When minimizing an underdetermined least squares problem using gradient descent starting from the "
    "origin, we converge to the minimum Euclidean norm solution (X^+ y). Control: started elsewhere, GD converges to a "
    "different interpolant (X^+ y plus the start's component in ker X).",
    expected={
        "relative_distance_to_pinv (from 0)": "< 1e-8 for every shape",
        "control_distance (from w0 != 0)": "= |(I - X^+X) w0| / |X^+y| (> 1e-4), to 1e-6 relative",
    },
    tags=("implicit-bias", "interview"),
    source="arXiv:1710.10345 §1 (restating the known least-squares result); also Zhang et al. arXiv:1611.03530 §5",
    expected_from="theory",
)
def min_norm(ctx: ClaimContext) -> Measured:
    """Claim: GD from the origin on underdetermined least squares converges to the minimum-norm solution X⁺y."""
    rng = np.random.default_rng(ctx.seed)
    shapes = [(5, 20), (10, 30), (20, 25)] if ctx.quick else [(5, 20), (10, 30), (20, 25), (50, 200), (30, 31)]
    rows, ok = {}, True
    for n, d in shapes:
        X = rng.standard_normal((n, d))
        y = rng.standard_normal(n)
        # enough steps for the slowest nonzero mode: (1 - s_min^2/s_max^2)^steps < 1e-12
        s = np.linalg.svd(X, compute_uv=False)
        steps = int(min(200_000, np.ceil(28 / max(s[-1] ** 2 / s[0] ** 2, 1e-12))))
        r = sb.least_squares_gd(X, y, steps=steps)
        w0 = rng.standard_normal(d)
        ctrl = sb.least_squares_gd(X, y, steps=steps, w0=w0)
        # from w0 the limit is X⁺y + (I − X⁺X) w0: a different interpolant, at this predicted distance
        pred = float(np.linalg.norm(w0 - np.linalg.pinv(X) @ (X @ w0)) / np.linalg.norm(r.min_norm))
        rows[f"n={n}, d={d}"] = {
            "steps": steps,
            "relative_distance_to_pinv": r.relative_distance,
            "residual": r.residual,
            "control_distance": ctrl.relative_distance,
            "control_predicted": pred,
        }
        ok &= (
            r.relative_distance < MIN_NORM_RTOL
            and r.residual < MIN_NORM_RTOL * np.linalg.norm(y)
            and pred > CONTROL_MIN_OFFSET
            and abs(ctrl.relative_distance - pred) <= CONTROL_RTOL * pred
        )
    return Measured(rows, bool(ok), "plain GD, step 1/σ_max²(X), Gaussian X and y")


@claim(
    "implicit-bias-logistic-max-margin",
    paper=PAPER,
    statement="GD on the unregularised logistic loss with homogeneous linear predictors on linearly separable data: "
    "w(t) = ŵ log t + ρ(t) with ρ(t) bounded, ŵ the hard-margin SVM solution, so the direction converges to ŵ/|ŵ| "
    "at rate O(1/log t) — very slowly. Pre-registered criteria per data set: (C1) the SVM is certified by KKT; (C2) "
    "|ρ(t)| converges: its increments over the last three decades of t shrink (each <= 0.8 x the previous); (C3) the "
    "direction gap decreases at every checkpoint t >= 100; (C4) the decay is slow (not polynomial): "
    "gap(t_end) / gap(t_end/100) >= 0.1; (C5) the O(1/log t) rate: gap·log t at t_end is at most 1.1 x its value at "
    "t_end/100.",
    expected={"C1": True, "C2": True, "C3": True, "C4": True, "C5": True},
    tags=("implicit-bias", "interview"),
    source="arXiv:1710.10345 Thm 3 (w(t) = ŵ log t + ρ(t), ρ bounded) and its rate corollary; eq. of the SVM problem "
    "(4)",
    expected_from="paper",
)
def max_margin(ctx: ClaimContext) -> Measured:
    """Claim: GD on the logistic loss of separable data converges in direction to the hard-margin SVM solution."""
    sets = 2 if ctx.quick else 3
    last = 10_000 if ctx.quick else 1_000_000
    cps = [10**j for j in range(1, int(np.log10(last)) + 1)]
    rows, ok = {}, True
    for i in range(sets):
        X, y, seed = sb.separable_data(20, 5, seed=1000 * ctx.seed + i)
        svm = sb.hard_margin_svm(X, y)
        run = sb.logistic_gd(X, y, svm.w, checkpoints=cps)
        rho = run.rho_norms
        inc = np.diff(rho)[-3:]
        c1 = svm.ok
        c2 = bool(all(inc[j + 1] <= 0.8 * inc[j] for j in range(len(inc) - 1)))
        g = np.array(run.gaps)
        c3 = bool(np.all(np.diff(g[1:]) < 0))
        c4 = bool(g[-1] / g[-3] >= 0.1)
        c5 = bool(g[-1] * np.log(cps[-1]) <= 1.1 * g[-3] * np.log(cps[-3]))
        ok &= c1 and c2 and c3 and c4 and c5
        rows[f"data {i} (seed {seed})"] = {
            "support_vectors": len(svm.support),
            "svm_kkt_residual": svm.kkt_residual,
            "margin": svm.margin,
            "checkpoints": cps,
            "direction_gap": [round(v, 6) for v in g],
            "gap_x_log_t": [round(v * np.log(t), 4) for v, t in zip(g, cps)],
            "rho_norm": [round(v, 4) for v in rho],
            "loss": run.losses[-1],
            "C1": c1,
            "C2": c2,
            "C3": c3,
            "C4": c4,
            "C5": c5,
        }
    return Measured(
        rows,
        bool(ok),
        f"n = 20 points in R^5, GD step 1/σ_max²(X), t up to {last:,}; the SVM is solved "
        "exactly (dual L-BFGS-B + active-set KKT polish + certificate)",
    )
