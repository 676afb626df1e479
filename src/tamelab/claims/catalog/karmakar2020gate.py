"""Karmakar & Mukherjee (arXiv:2005.04211; Mukherjee thesis ch. 3): a ReLU gate trained in linear time."""

from __future__ import annotations

import numpy as np

from .._registry import ClaimContext, Measured, claim


@claim("tron-relu-gate-geometric-rate", paper="arXiv:2005.04211",
       statement="On symmetric non-Gaussian (Laplace) inputs in d=20 the Tron-style update converges geometrically to w*: "
       "the slope of log‖w_t − w*‖ is at most ½ log(1−ρ), final error < 1e-6 for mini-batch b ≥ 8, every run below the bound; "
       "SGD started at w = 0 never moves.",
       expected={"slope <= 0.5 log(1-rho)": True, "final_error (b>=8)": "< 1e-6", "sgd_moves_from_0": False}, tags=("exact",))
def tron(ctx: ClaimContext) -> Measured:
    from ...exact.karmakar2020gate import train_relu_gate

    d, T = 20, 1500 if ctx.quick else 3000
    seeds = range(ctx.seed, ctx.seed + (2 if ctx.quick else 5))
    got, ok = {}, True
    for b in (1, 8, 32):
        slopes, finals, below = [], [], []
        for s in seeds:
            w = np.random.default_rng([s, 7]).standard_normal(d)
            w /= np.linalg.norm(w)
            r = train_relu_gate(w, steps=T, batch=b, seed=s)
            slopes.append(r.log_slope())
            finals.append(r.final_error)
            below.append(bool(np.all(r.errors <= r.bound + 1e-12)))
        bound_slope = 0.5 * np.log(1 - r.rho)
        got[f"b={b}"] = {"mean_slope": float(np.mean(slopes)), "bound_slope": float(bound_slope), "max_final_error": float(max(finals)),
                         "runs_below_bound": f"{sum(below)}/{len(below)}", "rho": r.rho}
        ok &= np.mean(slopes) <= bound_slope and (b < 8 or max(finals) < 1e-6)
    w = np.ones(d) / np.sqrt(d)
    sgd = train_relu_gate(w, steps=200, batch=8, method="sgd", seed=ctx.seed)
    got["sgd_final_error_from_0"] = sgd.final_error
    moved = abs(sgd.final_error - sgd.errors[0]) > 0
    got["sgd_moves_from_0"] = bool(moved)
    return Measured(got, bool(ok and not moved), "η and ρ from the reconstructed theorem (spec §3.1) with Monte-Carlo moments")
