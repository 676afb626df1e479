r"""Deep linear networks: Baldi & Hornik (1989), Kawaguchi (arXiv:1605.07110), Mehta et al. (arXiv:1810.07716).

Closed forms from :mod:`tamelab.exact._deep_linear` (spec geometry.md §5); regularised critical points
from :func:`tamelab.algebraic.linear_net_critical_points` (Gröbner bases).
"""

from __future__ import annotations

import numpy as np

from ...algebraic import linear_net_critical_points
from ...exact._deep_linear import (
    classify_critical_point,
    deep_linear_critical_points,
    deep_linear_gd,
    deep_linear_optimum,
)
from ..._numerics import (
    CLAIM_CLOSED_FORM_TOL,
    CLAIM_CONVERGED_TOL,
    CLAIM_EXACT_TOL,
    CLAIM_PRINTED_9_DIGITS,
    CLAIM_SOLVER_TOL,
)
from .._registry import ClaimContext, Measured, claim


def _data(seed, dx=4, dy=3, m=30):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((dx, m))
    return X, rng.standard_normal((dy, dx)) @ X + 0.3 * rng.standard_normal((dy, m))


@claim(
    "deep-linear-closed-form-equals-gd-limit",
    paper="Baldi & Hornik 1989, doi:10.1016/0893-6080(89)90014-2; arXiv:1605.07110",
    source="Baldi & Hornik 1989, main theorem (the global minimum is the projection onto the top-p eigenvectors "
    "of Σ); Kawaguchi arXiv:1605.07110 Thm 2.3 (every local minimum of a deep linear net is global)",
    expected_from="theory",
    statement="The global minimum of 1/2 |W_{H+1}...W_1 X - Y|^2 is the reduced-rank regression U_p U_p^T W_ols with "
    "loss "
    "1/2(tr YY^T - sum_{i<=p} lambda_i); gradient descent from a small random init converges to it.",
    expected={"gd_minus_closed_form": "< 1e-6 relative", "product_error": "< 1e-3"},
    tags=("linear", "exact"),
)
def gd_limit(ctx: ClaimContext) -> Measured:
    """Claim: GD on a deep linear net converges to the closed-form reduced-rank regression minimum."""
    X, Y = _data(ctx.seed)
    m = {}
    ok = True
    for widths in ([2], [2, 2], [3, 1, 3]):
        opt = deep_linear_optimum(X, Y, widths)
        gd = deep_linear_gd(X, Y, widths, steps=4000 if ctx.quick else 20000, seed=ctx.seed)
        rel = (gd.loss - opt.loss) / opt.loss
        err = float(np.abs(gd.product - opt.W).max())
        m[str(widths)] = {
            "closed_form_loss": opt.loss_closed_form,
            "gd_loss": gd.loss,
            "relative_gap": rel,
            "product_error": err,
            "certificate_gradient_norm": opt.gradient_norm,
        }
        ok &= -CLAIM_CLOSED_FORM_TOL <= rel < CLAIM_SOLVER_TOL and err < CLAIM_CONVERGED_TOL and opt.ok
    return Measured(m, bool(ok), "dx = 4, dy = 3, m = 30, plain GD with closed-form gradients")


@claim(
    "baldi-hornik-critical-points",
    paper="Baldi & Hornik 1989, doi:10.1016/0893-6080(89)90014-2",
    source="Baldi & Hornik 1989, main theorem (critical points ↔ index sets of eigenvectors of Σ; only the top-p set "
    "is a minimum, every other critical point a saddle)",
    expected_from="paper",
    statement="With one hidden layer of width p, the critical points correspond to index sets I of eigenvectors of "
    "Sigma = Y X^T (X X^T)^-1 X Y^T with |I| <= p; only I = {1..p} is a local (= global) minimum, all others are "
    "saddles.",
    expected={"minima": 1, "saddles": "all other index sets, each with a negative Hessian eigenvalue"},
    tags=("linear", "exact"),
)
def baldi_hornik(ctx: ClaimContext) -> Measured:
    """Claim: One hidden layer: critical points ↔ eigenvector index sets; only the top-p set is a minimum."""
    X, Y = _data(ctx.seed)
    cps = deep_linear_critical_points(X, Y, 2, seed=ctx.seed)
    kinds = {str(c.indices): c.classification for c in cps}
    mins = [c for c in cps if c.classification == "minimum"]
    ok = len(mins) == 1 and mins[0].is_top_p and all(c.classification == "saddle" for c in cps if not c.is_top_p)
    return Measured(
        {
            "critical_index_sets": len(cps),
            "kinds": kinds,
            "max_gradient_norm": max(c.gradient_norm for c in cps),
            "max_loss_formula_error": max(abs(c.loss - c.loss_closed_form) for c in cps),
            "min_hessian_eig": {str(c.indices): c.hessian_min_eig for c in cps},
        },
        bool(ok),
        "dx = 4, dy = 3, width 2: dense torch.func Hessians",
    )


@claim(
    "kawaguchi-degenerate-saddle",
    paper="Kawaguchi 2016, arXiv:1605.07110",
    source="Kawaguchi arXiv:1605.07110 Thm 2.3 (iv)-(v): with more than one hidden layer there are saddles whose "
    "Hessian has no negative eigenvalue; (iii) with one hidden layer every saddle is strict",
    expected_from="paper",
    statement="Deep linear networks: with one hidden layer the origin is a strict saddle (negative Hessian "
    "eigenvalue); with two or more hidden layers it is a saddle whose Hessian has no negative eigenvalue (here exactly "
    "zero).",
    expected={"H=1": "saddle with negative eigenvalue", "H=2": "Hessian == 0, descent direction exists"},
    tags=("linear", "exact"),
)
def kawaguchi(ctx: ClaimContext) -> Measured:
    """Claim: The origin of a deep linear net is a strict saddle for H = 1 and a degenerate saddle for H ≥ 2."""
    X, Y = _data(ctx.seed)
    one = classify_critical_point([np.zeros((2, 4)), np.zeros((3, 2))], X, Y, seed=ctx.seed)
    two = classify_critical_point([np.zeros((2, 4)), np.zeros((2, 2)), np.zeros((3, 2))], X, Y, seed=ctx.seed)
    ok = one.classification == "saddle" and two.hessian_abs_max == 0.0 and two.classification == "degenerate_saddle"
    return Measured(
        {"H=1": one, "H=2": two}, bool(ok), "random perturbations of norm 1e-2 detect the third-order descent"
    )


@claim(
    "deep-linear-regularisation-creates-spurious-minima",
    paper="Mehta, Chen, Tang & Hauenstein, arXiv:1810.07716; arXiv:1605.07110",
    source="arXiv:1605.07110 Thm 2.3 (ii) (no spurious minimum without regularisation); arXiv:1810.07716 abstract/§4 "
    "(regularisation makes critical points isolated and creates non-global local minima); counts from Bharadwaj's "
    "table (see linear-net-critical-point-counts)",
    expected_from="paper",
    statement="Without regularisation every local minimum of a deep linear net is global; with generic L2 "
    "regularisation critical points become isolated (5, 5, 9, 9, 17 complex ones for (H,d,dx,dy) = (1,1,1,1), "
    "(1,1,2,1), (1,1,1,2), (1,2,1,1), (2,1,1,1)) and for H = 2 a non-global local minimum appears (origin 0.5 vs "
    "global 0.144818819).",
    expected={
        "unregularised_spurious_minima": 0,
        "counts": [5, 5, 9, 9, 17],
        "global_min": 0.144818819,
        "origin": "minimum, 0.5",
    },
    tags=("linear", "algebraic"),
)
def spurious(ctx: ClaimContext) -> Measured:
    """Claim: Deep linear nets have no spurious minima unregularised; with L2 regularisation they appear."""
    X, Y = _data(ctx.seed)
    opt = deep_linear_optimum(X, Y, [2])
    cps = deep_linear_critical_points(X, Y, 2, seed=ctx.seed)
    spur_unreg = sum(c.classification == "minimum" and c.loss > opt.loss * (1 + CLAIM_CLOSED_FORM_TOL) for c in cps)
    counts = [
        linear_net_critical_points(*k, seed=ctx.seed, real=False).complex_count
        for k in [(1, 1, 1, 1), (1, 1, 2, 1), (1, 1, 1, 2), (1, 2, 1, 1), (2, 1, 1, 1)]
    ]
    r = linear_net_critical_points(2, 1, 1, 1, regularization=0.1, x=[1], y=[1])
    mins = [p for p in r.real_points if p["kind"] == "minimum"]
    glob = min(p["loss"] for p in mins)
    origin = [p for p in r.real_points if max(abs(v) for v in p["point"]) < CLAIM_EXACT_TOL]
    spur_reg = sum(p["loss"] > glob + CLAIM_CLOSED_FORM_TOL for p in mins)
    ok = (
        spur_unreg == 0
        and counts == [5, 5, 9, 9, 17]
        and abs(glob - 0.144818819) < CLAIM_PRINTED_9_DIGITS
        and spur_reg >= 1
        and bool(origin)
        and origin[0]["kind"] == "minimum"
    )
    return Measured(
        {
            "unregularised_spurious_minima": spur_unreg,
            "counts": counts,
            "global_min": glob,
            "regularised_spurious_minima": spur_reg,
            "origin_loss": origin[0]["loss"] if origin else None,
            "origin_kind": origin[0]["kind"] if origin else None,
        },
        bool(ok),
        "unregularised: Baldi–Hornik classification; regularised: Gröbner basis (tamelab.algebraic)",
    )
