r"""Attouch & Bolte (arXiv:0802.0826): the Łojasiewicz exponent decides the rate of descent methods.

GD on :math:`f=|x|^p` (θ = 1 − 1/p): the trajectory estimators of spec §5.3 recover θ and the rate
trichotomy — finite termination (p = 1, θ = 0), linear (p = 2, θ = 1/2), sublinear
:math:`f_k\sim k^{-1/(2\theta-1)}` (p = 4, 6).
"""

from __future__ import annotations

from ...tame import estimate_lojasiewicz, power_gd_trajectory, predicted_rate
from .._registry import ClaimContext, Measured, claim


@claim(
    "lojasiewicz-exponent-power-gd",
    paper="arXiv:0802.0826",
    statement="For GD on |x|^p the Łojasiewicz exponent is 1 - 1/p and the observed rate follows the Attouch–Bolte "
    "trichotomy: finite (p=1), linear (p=2), f_k ~ k^-(1/(2θ-1)) (p=4: k^-2, p=6: k^-1.5).",
    expected={"theta_slope": {"1": 0.0, "2": 0.5, "4": 0.75, "6": 0.8333}, "tolerance": 1e-3,
              "rate classes": {"1": "finite", "2": "linear", "4": "sublinear", "6": "sublinear"}},
    tags=("tame", "lojasiewicz"),
)
def lojasiewicz_power(ctx: ClaimContext) -> Measured:
    cases = [(1, 0.125), (2, 0.1), (4, 0.01), (6, 0.01)]
    vals, ok = {}, True
    for p, lr in cases:
        F, g, k = power_gd_trajectory(p, lr=lr, steps=200 if p == 1 else 20_000)
        est = estimate_lojasiewicz(F, g, f_star=0.0, steps=k, seed=ctx.seed)
        th = 1 - 1 / p
        pred = predicted_rate(th)
        rec = {"theta_true": th, "theta_slope": est.theta_slope, "theta_rate": est.theta_rate,
               "theta_rate_upper": est.theta_rate_upper, "observed_class": est.observed_rate.get("class"),
               "predicted_class": pred["class"], "observed_alpha": est.observed_rate.get("alpha"),
               "predicted_value_exponent": pred["value_exponent"]}
        vals[f"p={p}"] = rec
        ok &= abs(est.theta_slope - th) < 1e-3 and rec["observed_class"] == pred["class"]
        if pred["class"] == "sublinear":
            ok &= abs(rec["observed_alpha"] - pred["value_exponent"]) < 0.02
    return Measured(vals, bool(ok), "slope estimator regresses log|f'| on log(f - f*); rate estimator fits the tail decay")
