"""Critical points of regularised deep linear networks (Mehta et al. arXiv:1810.07716; Bharadwaj–Hoşten 2023)."""

from __future__ import annotations

from ...algebraic import linear_net_critical_points
from .._registry import ClaimContext, Measured, claim

COUNTS = {(1, 1, 1, 1): 5, (1, 1, 2, 1): 5, (1, 1, 1, 2): 9, (1, 2, 1, 1): 9, (2, 1, 1, 1): 17}


@claim(
    "linear-net-critical-point-counts",
    paper="arXiv:1810.07716",
    statement="With generic L2 regularisation and one data point, deep linear networks have finitely many complex critical "
    "points: 5, 5, 9, 9, 17 for (H,d,dx,dy) = (1,1,1,1), (1,1,2,1), (1,1,1,2), (1,2,1,1), (2,1,1,1) (thesis lists 16 for "
    "the last: a typo per our spec).",
    expected={str(k): v for k, v in COUNTS.items()},
    tags=("algebraic", "linear"),
)
def counts(ctx: ClaimContext) -> Measured:
    m = {}
    ok = True
    for key, want in COUNTS.items():
        got = {linear_net_critical_points(*key, seed=ctx.seed + s, real=False).complex_count for s in range(2)}
        m[str(key)] = sorted(got)
        ok &= got == {want}
    return Measured(m, ok, "Gröbner basis (grevlex) standard-monomial counts, two random rational data draws each")


@claim(
    "regularised-linear-net-spurious-minimum",
    paper="arXiv:1810.07716",
    statement="With non-zero regularisation deep linear networks have local minima that are not global: for "
    "L = (abc-1)^2/2 + 0.05(a^2+b^2+c^2) the global minimum is 0.144818819 and the origin is a strict local minimum (0.5).",
    expected={"global_min": 0.144818819, "origin_loss": 0.5, "origin_kind": "minimum"},
    tags=("algebraic", "linear"),
)
def spurious(ctx: ClaimContext) -> Measured:
    r = linear_net_critical_points(2, 1, 1, 1, regularization=0.1, x=[1], y=[1])
    mins = [p for p in r.real_points if p["kind"] == "minimum"]
    glob = min(p["loss"] for p in mins)
    origin = [p for p in r.real_points if max(abs(v) for v in p["point"]) < 1e-12]
    okind = origin[0]["kind"] if origin else None
    return Measured(
        {"global_min": glob, "n_global_minima": sum(abs(p["loss"] - glob) < 1e-9 for p in mins),
         "origin_loss": origin[0]["loss"] if origin else None, "origin_kind": okind, "complex_critical_points": r.complex_count,
         "real_critical_points": r.real_count},
        abs(glob - 0.144818819) < 1e-8 and okind == "minimum" and origin and abs(origin[0]["loss"] - 0.5) < 1e-12,
    )
