"""Arora, Basu, Mianjy & Mukherjee (arXiv:1611.01491): exact ERM for one-hidden-layer ReLU nets."""

from __future__ import annotations

import numpy as np

from .._registry import ClaimContext, Measured, claim


def _planted(D, n, w, noise, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((D, n))
    A, b = rng.standard_normal((w, n)), rng.standard_normal(w)
    a = rng.choice([-1.0, 1.0], w) * rng.uniform(0.5, 1.5, w)
    return X, np.maximum(X @ A.T + b, 0) @ a + noise * rng.standard_normal(D)


@claim("arora-exact-erm-below-every-restart", paper="arXiv:1611.01491",
       statement="The exact ERM algorithm (one convex QP per sign pattern and data dichotomy) returns a loss no larger than "
       "any gradient-based restart, certified by the KKT residual of the winning QP; the dichotomy count is 2·Σ_{i≤n} C(D−1,i).",
       expected={"erm <= min(restarts) + 1e-7": True, "kkt_residual": "< 1e-6", "dichotomies": "2·Σ C(D−1,i) (44 for n=2, D=7)",
                 "planted noiseless data": "optimum 0"}, tags=("exact",))
def erm_vs_restarts(ctx: ClaimContext) -> Measured:
    from ...exact.arora2018erm import _restarts, dichotomy_count, exact_erm

    got, ok = {}, True
    rng = np.random.default_rng(ctx.seed)
    for w in (1, 2):
        X, y = rng.standard_normal((7, 2)), rng.standard_normal(7)
        r = exact_erm(X, y, w, seed=ctx.seed)
        best = _restarts(X, y, w, seed=ctx.seed + 1, restarts=20 if ctx.quick else 50)
        got[f"w={w}"] = {"erm": r.optimum, "best_restart": best, "kkt_residual": r.kkt_residual, "dichotomies": r.dichotomies,
                         "qps_solved": r.qps_solved}
        ok &= r.optimum <= best + 1e-7 and r.kkt_residual < 1e-6 and r.dichotomies == dichotomy_count(7, 2)
    X, y = _planted(12, 2, 2, 0.0, ctx.seed)
    r = exact_erm(X, y, 2, seed=ctx.seed)
    got["planted noiseless (D=12, w=2)"] = r.optimum
    ok &= r.optimum < 1e-9
    return Measured(got, ok, "squared loss, no output bias; restarts are L-BFGS from N(0,1) initialisations")
