"""Claim: critical vs singular points of the neurovariety of deep linear nets (Trager et al., arXiv:1910.01671).

Critical points vs singular points of the neurovariety of deep linear nets (interview 002; Trager, Kohn & Bruna,
"Pure and spurious critical points: a geometric study of linear networks", arXiv:1910.01671, ICLR 2020).
Library code: :mod:`tamelab.algebraic.trager2020pure`.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ...algebraic import trager2020pure as tkb
from ...exact._deep_linear import classify_critical_point, deep_linear_optimum
from .._registry import ClaimContext, Measured, claim

#: gradient-of-ℓ residual on the own rank stratum counted as zero (critical on M_e)
STRATUM_TOL = 1e-8
#: distance to the Eckart–Young point, and the least normal residual that proves a point spurious
EY_TOL = 1e-6
#: relative excess over the global minimum that makes a local minimum 'bad'
BAD_MIN_RTOL = 1e-9


@claim(
    "tkb-pure-spurious-critical-points",
    paper="arXiv:1910.01671",
    statement="For deep linear nets with the quadratic loss (whitened data) and a non-filling architecture (functional "
    "space M_r, rank <= r): every critical point θ of L maps to a critical point of the loss on its own rank stratum "
    "M_e (e = rk W) — an Eckart–Young point; θ is pure iff e = r, and the spurious ones (e < r) are exactly those "
    "mapped into the singular locus M_(r-1); every local minimum is global (no bad minima for the quadratic loss). "
    "Critical points found by Levenberg–Marquardt on grad L = 0 from random starts.",
    expected={
        "own_stratum_residual": "<= 1e-8 at every critical point",
        "eckart_young_error": "<= 1e-6",
        "spurious (e < r) not critical on M_r": "normal residual > 1e-6",
        "bad_local_minima": 0,
        "found": ">= 1 pure and >= 1 spurious",
    },
    tags=("algebraic", "linear", "interview"),
    slow=True,
    source="arXiv:1910.01671 (abstract: pure vs spurious critical points; no bad minima for the quadratic loss on "
    "determinantal varieties); the stratum criticality is derived here (module doc)",
    expected_from="theory",
)
def pure_spurious(ctx: ClaimContext) -> Measured:
    """Claim: Critical points of deep linear nets are Eckart–Young points of their rank stratum; pure iff e = r."""
    rng = np.random.default_rng(ctx.seed)
    archs = [(3, (2,), 3)] if ctx.quick else [(3, (2,), 3), (3, (2, 2), 3), (4, (2, 3), 3)]
    starts = 10 if ctx.quick else 24
    rows, ok = {}, True
    for dx, widths, dy in archs:
        Y = rng.standard_normal((dy, dx))
        r = tkb.bottleneck(dx, widths, dy)
        Lstar = deep_linear_optimum(np.eye(dx), Y, list(widths)).loss_closed_form
        cps = tkb.find_critical_points(Y, widths, starts=starts, seed=ctx.seed + 1)
        classes: Counter = Counter()
        own = ey = 0.0
        spur_normal_min, bad_min, n_pure, n_spur = np.inf, 0, 0, 0
        seen: dict = {}
        for Ws in cps:
            a = tkb.stratum_analysis(Ws, Y)
            key = (a.rank, a.eckart_young_set)
            if ctx.quick and key in seen:  # quick: classify one representative per (rank, index set)
                c = seen[key]
            else:
                c = seen[key] = classify_critical_point(
                    Ws, np.eye(dx), Y, perturbations=20 if ctx.quick else 60, seed=ctx.seed
                )
            own, ey = max(own, a.own_stratum_residual), max(ey, a.eckart_young_error)
            if a.pure:
                n_pure += 1
            else:
                n_spur += 1
                spur_normal_min = min(spur_normal_min, a.normal_residual)
            if c.classification == "minimum" and a.loss > Lstar + BAD_MIN_RTOL * max(1.0, Lstar):
                bad_min += 1
            classes[
                f"e={a.rank} I={list(a.eckart_young_set)} {'pure' if a.pure else 'spurious'} "
                f"{c.classification} loss={a.loss:.4f}"
            ] += 1
        good = (
            own <= STRATUM_TOL
            and ey <= EY_TOL
            and bad_min == 0
            and n_pure >= 1
            and n_spur >= 1
            and spur_normal_min > EY_TOL
        )
        ok &= good
        rows[f"dx={dx} widths={list(widths)} dy={dy} (r={r})"] = {
            "critical_points_found": len(cps),
            "starts": starts,
            "pure": n_pure,
            "spurious": n_spur,
            "own_stratum_residual": own,
            "eckart_young_error": ey,
            "spurious_min_normal_residual": None if n_spur == 0 else spur_normal_min,
            "bad_local_minima": bad_min,
            "global_min_loss": Lstar,
            "classes": dict(sorted(classes.items())),
        }
    return Measured(
        rows,
        bool(ok),
        "Y Gaussian (distinct singular values), X = I; classification by "
        "tamelab.exact classify_critical_point (Hessian, perturbations, higher-order test); quick mode "
        "classifies one critical point per (rank, Eckart–Young set)",
    )
