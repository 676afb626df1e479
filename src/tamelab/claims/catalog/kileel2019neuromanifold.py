"""Kileel, Trager & Bruna (arXiv:1905.12207) and Alexander–Hirschowitz: neuromanifold dimensions."""

from __future__ import annotations

from ...algebraic import KTB_TABLE, neuromanifold_dimension, secant_dimension
from .._registry import ClaimContext, Measured, claim


@claim(
    "ktb-neuromanifold-dimension-table",
    paper="arXiv:1905.12207",
    statement="The neurovariety of polynomial networks has the dimensions of the 20-architecture table (spec geometry.md §3.4), "
    "including the Alexander–Hirschowitz defects ((5,7,1) with cubes: 34 not 35) and deep defects ((3,3,3,1), r=2: 12 not 15).",
    expected={f"{w}^{r}": d for w, r, d in KTB_TABLE},
    tags=("algebraic",),
)
def ktb_table(ctx: ClaimContext) -> Measured:
    measured, mism = {}, []
    for w, r, d in KTB_TABLE:
        res = neuromanifold_dimension(w, r, seeds=2 if ctx.quick else 3, seed=ctx.seed)
        measured[f"{w}^{r}"] = res.dimension
        if res.dimension != d:
            mism.append(f"{w}^{r}: {res.dimension} != {d}")
    return Measured(measured, not mism, "; ".join(mism) or "all 20 rows equal (exact rank over GF(33554393), max over seeds)")


@claim(
    "alexander-hirschowitz-secant-defects",
    paper="Alexander & Hirschowitz 1995, J. Algebraic Geom. 4",
    statement="Width-k shallow networks with activation t^d and one output fill the expected dimension min(kn, C(n+d-1,d)) "
    "except the four defective cases (n,d,k) = (3,4,5), (4,4,9), (5,4,14), (5,3,7), each one short.",
    expected={"defective_cases": [[3, 4, 5], [4, 4, 9], [5, 4, 14], [5, 3, 7]], "others": "no defect"},
    tags=("algebraic",),
)
def ah_defects(ctx: ClaimContext) -> Measured:
    cases = [(n, d, k) for n in (2, 3, 4, 5) for d in (3, 4) for k in range(1, 15)]
    if ctx.quick:
        cases = [c for c in cases if c[2] <= 9 or c == (5, 4, 14)]
    found, wrong = [], []
    for n, d, k in cases:
        dim = neuromanifold_dimension([n, k, 1], d, seeds=2, seed=ctx.seed).dimension
        if dim != secant_dimension(n, d, k):
            wrong.append([n, d, k, dim])
        if dim < min(k * n, __import__("math").comb(n + d - 1, d)):
            found.append([n, d, k])
    return Measured({"defective_cases": found, "cases_checked": len(cases), "mismatches_vs_AH": wrong},
                    sorted(found) == sorted([[3, 4, 5], [4, 4, 9], [5, 4, 14], [5, 3, 7]]) and not wrong)
