r"""Attouch & Bolte (arXiv:0802.0826): the Łojasiewicz exponent decides the rate of descent methods.

The exponent is *estimated from the trajectory* (slope of log‖∇f‖ against log(f − f*), and the rate) on objectives
whose exponent is known but not written in their formula: a degenerate homogeneous quartic, a scalar deep linear
network at its degenerate minimum (balanced start) and at a Morse–Bott minimum (unbalanced start), and a ReLU
network's least-squares loss near a global minimum (:func:`tamelab.tame.lojasiewicz_problems`). The rate class
predicted from θ̂ by the Attouch–Bolte trichotomy must match the observed one.
"""

from __future__ import annotations

from typing import Callable

from ...tame import estimate_lojasiewicz, gd_trajectory, lojasiewicz_problems, predicted_rate
from .._registry import ClaimContext, Measured, claim

#: |theta_hat - theta| allowed (the slope estimator on a finite trajectory; measured 1e-4 .. 3e-4)
THETA_TOL = 0.01


def lojasiewicz_check(
    ctx: ClaimContext, *, estimator: Callable = estimate_lojasiewicz, problems: Callable = lojasiewicz_problems
) -> Measured:
    """The claim's measurement; ``estimator`` and ``problems`` are parameters so tests can feed wrong ones."""
    vals, ok = {}, True
    for pb in problems(ctx.seed):
        F, g, k = gd_trajectory(pb)
        est = estimator(F, g, f_star=pb.f_star, steps=k, seed=ctx.seed)
        pred = predicted_rate(pb.theta)
        obs = est.observed_rate.get("class")
        rec = {
            "theta_known": pb.theta,
            "theta_slope": est.theta_slope,
            "theta_slope_ci": list(est.theta_slope_ci),
            "theta_rate": est.theta_rate,
            "observed_class": obs,
            "predicted_class": pred["class"],
            "observed_alpha": est.observed_rate.get("alpha"),
            "predicted_value_exponent": pred["value_exponent"],
            "why_known": pb.why,
        }
        good = abs(est.theta_slope - pb.theta) <= THETA_TOL and obs == pred["class"]
        if pred["class"] == "sublinear":
            good &= abs(rec["observed_alpha"] - pred["value_exponent"]) <= 0.05 * pred["value_exponent"]
        rec["agrees"] = bool(good)
        vals[pb.name] = rec
        ok &= good
    return Measured(
        vals,
        bool(ok),
        "theta estimated from (F_k, |grad F_k|) along GD with f* known; the exponent is "
        f"not an input; tolerance |theta_hat - theta| <= {THETA_TOL}, rate exponent within 5%",
    )


@claim(
    "lojasiewicz-exponent-gd-known-exponents",
    paper="arXiv:0802.0826",
    statement="The Łojasiewicz exponent estimated from a gradient-descent trajectory equals the known exponent at its "
    "limit, and the observed rate follows the Attouch–Bolte trichotomy (theta <= 1/2: linear; theta > 1/2: "
    "f_k ~ k^(-1/(2 theta - 1))): degenerate quartic x^4+x^2y^2+y^4 (3/4, k^-2), deep linear net (w1 w2 w3)^2/2 from a "
    "balanced start (5/6, k^-1.5) and an unbalanced one (1/2, linear), ReLU-net least squares near a global minimum "
    "(1/2, linear).",
    expected={
        "theta": {
            "quartic-2d": 0.75,
            "deep-linear-3-balanced": 0.8333,
            "deep-linear-3-unbalanced": 0.5,
            "relu-net-near-global-min": 0.5,
        },
        "rate": {
            "quartic-2d": "k^-2",
            "deep-linear-3-balanced": "k^-1.5",
            "deep-linear-3-unbalanced": "linear",
            "relu-net-near-global-min": "linear",
        },
        "tolerance": THETA_TOL,
    },
    tags=("tame", "lojasiewicz"),
    source="arXiv:0802.0826 Thm 2 (rate trichotomy); exponents: homogeneity, Morse–Bott",
    expected_from="theory",
)
def lojasiewicz_known_exponents(ctx: ClaimContext) -> Measured:
    """Claim: Łojasiewicz exponents estimated from GD trajectories match the known ones and the rate trichotomy."""
    return lojasiewicz_check(ctx)
