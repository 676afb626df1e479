"""Arora, Basu, Mianjy & Mukherjee (arXiv:1611.01491): exact ERM for one-hidden-layer ReLU nets."""

from __future__ import annotations

import numpy as np

from ..._numerics import CLAIM_CLOSED_FORM_TOL, CLAIM_OPTIMUM_ATOL, CLAIM_SOLVER_TOL
from .._registry import ClaimContext, Measured, claim


def _planted(D, n, w, noise, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((D, n))
    A, b = rng.standard_normal((w, n)), rng.standard_normal(w)
    a = rng.choice([-1.0, 1.0], w) * rng.uniform(0.5, 1.5, w)
    return X, np.maximum(X @ A.T + b, 0) @ a + noise * rng.standard_normal(D)


@claim(
    "arora-exact-erm-below-every-restart",
    paper="arXiv:1611.01491",
    statement="The exact ERM algorithm (one convex QP per sign pattern and data dichotomy) returns the global optimum: "
    "a loss no larger than any gradient-based restart, certified by the KKT residual of the winning QP, also on data "
    "in degenerate position (collinear points, a constant feature); the dichotomy count is 2·Σ_{i≤n} C(D−1,i) in "
    "general position.",
    expected={
        "erm <= min(restarts) + 1e-7": True,
        "kkt_residual": "< 1e-6",
        "dichotomies": "2·Σ C(D−1,i) (44 for n=2, D=7)",
        "planted noiseless data": "optimum 0",
        "collinear data (t, 0), t = 0..4": "optimum <= restarts, status ok",
    },
    source="arXiv:1611.01491 Thm 4.1 (algorithm and its proof: dichotomies = regions of the arrangement)",
    expected_from="theory",
    tags=("exact",),
)
def erm_vs_restarts(ctx: ClaimContext) -> Measured:
    """Claim: Exact ERM of a one-hidden-layer ReLU net is no worse than any gradient restart, KKT-certified."""
    from ...exact.arora2018erm import _restarts, dichotomy_count, exact_erm

    got, ok = {}, True
    rng = np.random.default_rng(ctx.seed)
    for w in (1, 2):
        X, y = rng.standard_normal((7, 2)), rng.standard_normal(7)
        r = exact_erm(X, y, w, seed=ctx.seed)
        best = _restarts(X, y, w, seed=ctx.seed + 1, restarts=20 if ctx.quick else 50)
        got[f"w={w}"] = {
            "erm": r.optimum,
            "best_restart": best,
            "kkt_residual": r.kkt_residual,
            "dichotomies": r.dichotomies,
            "qps_solved": r.qps_solved,
            "status": r.status.value,
        }
        ok &= (
            r.optimum <= best + CLAIM_OPTIMUM_ATOL
            and r.kkt_residual < CLAIM_SOLVER_TOL
            and r.dichotomies == dichotomy_count(7, 2)
            and r.ok
        )
    X, y = _planted(12, 2, 2, 0.0, ctx.seed)
    r = exact_erm(X, y, 2, seed=ctx.seed)
    got["planted noiseless (D=12, w=2)"] = r.optimum
    ok &= r.optimum < CLAIM_CLOSED_FORM_TOL
    # degenerate position: collinear points with a constant feature (issue 17: the optimum was 2.605 vs 0.278)
    Xc = np.array([[t, 0.0] for t in range(5)])
    yc = np.random.default_rng(ctx.seed).standard_normal(5) * 1.5
    r = exact_erm(Xc, yc, 2, seed=ctx.seed)
    best = _restarts(Xc, yc, 2, seed=ctx.seed + 1, restarts=20 if ctx.quick else 50)
    got["collinear (t, 0), w=2"] = {
        "erm": r.optimum,
        "best_restart": best,
        "dichotomies": r.dichotomies,
        "affine_rank": r.affine_rank,
        "status": r.status.value,
    }
    ok &= r.ok and r.optimum <= best + CLAIM_OPTIMUM_ATOL
    return Measured(got, bool(ok), "squared loss, no output bias; restarts are L-BFGS from N(0,1) initialisations")
