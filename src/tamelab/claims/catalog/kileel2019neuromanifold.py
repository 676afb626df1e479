"""Kileel, Trager & Bruna (arXiv:1905.12207) and Alexander–Hirschowitz: neuromanifold dimensions."""

from __future__ import annotations

import math

from ...algebraic import KTB_TABLE, ambient_dimension, expected_dimension, float_rank, neuromanifold_dimension
from ...algebraic import secant_dimension
from .._registry import ClaimContext, Measured, claim

AH_DEFECTS = [[3, 4, 5], [4, 4, 9], [5, 4, 14], [5, 3, 7]]


def reference_dimension(widths, r) -> tuple[int, str] | None:
    """An independent value for dim V_{d,r} from a published theorem or a closed form, with its source;

    None where we know none (those rows are regression values checked by a second method only).
    """
    w = list(widths)
    A = ambient_dimension(w, r)
    if len(w) == 3 and w[-1] == 1:
        n, k = w[0], w[1]
        if r >= 3:
            return secant_dimension(n, r, k), "Alexander–Hirschowitz 1995 (secant of the Veronese)"
        if r == 2:
            return min(n * k - math.comb(k, 2), A) if k < n else A, "rank <= d1 symmetric matrices: d0 d1 - C(d1, 2)"
    if len(set(w)) == 1:
        return expected_dimension(w, r), "equi-width architectures attain the expected dimension (arXiv:2408.04569)"
    if 1 in w[1:-1]:
        i = w[1:-1].index(1) + 1  # f = q(p(x)) through one scalar: dims add, minus the scaling p -> cp, q(t) -> q(t/c)
        left = neuromanifold_dimension(w[: i + 1], r, seeds=2).dimension
        right = neuromanifold_dimension(w[i:], r, seeds=2).dimension
        return left + right - 1, "width-one bottleneck: dim V(d0..di) + dim V(di..dh) - 1"
    return None


@claim(
    "ktb-neuromanifold-dimension-table",
    paper="arXiv:1905.12207",
    source="arXiv:1905.12207 §3 (dimension of the neurovariety as the generic Jacobian rank, expected dimension); "
    "values: spec geometry.md §3.4, checked against Alexander–Hirschowitz (shallow, r >= 3), the symmetric-rank "
    "closed form (shallow, r = 2), arXiv:2408.04569 (equi-width) and the width-one bottleneck formula",
    expected_from="regression",
    statement="The neurovariety of polynomial networks has the dimensions of the 20-architecture table (spec "
    "geometry.md §3.4), including the Alexander–Hirschowitz defects ((5,7,1) with cubes: 34 not 35) and deep defects "
    "((3,3,3,1), r=2: 12 not 15); every row with a published theorem or closed form agrees with it, and a float SVD "
    "rank (a second method) agrees with the exact rank.",
    expected={f"{w}^{r}": d for w, r, d in KTB_TABLE},
    tags=("algebraic",),
)
def ktb_table(ctx: ClaimContext) -> Measured:
    """Claim: Neurovariety dimensions of polynomial networks match the 20-architecture table, defects included."""
    measured, mism, sources = {}, [], {}
    for w, r, d in KTB_TABLE:
        res = neuromanifold_dimension(w, r, seeds=2 if ctx.quick else 3, seed=ctx.seed)
        fr, _gap = float_rank(w, r, seed=ctx.seed)
        ref = reference_dimension(w, r)
        key = f"{w}^{r}"
        measured[key] = res.dimension
        sources[key] = {
            "exact_GF(p)": res.dimension,
            "float_svd": fr,
            "expected_dim": res.expected,
            "reference": ref[0] if ref else None,
            "reference_source": ref[1] if ref else "none (regression)",
        }
        if res.dimension != d:
            mism.append(f"{key}: {res.dimension} != table {d}")
        if fr != res.dimension:
            mism.append(f"{key}: float rank {fr} != exact {res.dimension}")
        if ref and ref[0] != res.dimension:
            mism.append(f"{key}: {res.dimension} != {ref[0]} ({ref[1]})")
    n_ref = sum(v["reference"] is not None for v in sources.values())
    return Measured(
        {"dimensions": measured, "rows": sources, "rows_with_published_or_closed_form": n_ref},
        not mism,
        "; ".join(mism)
        or (
            f"all 20 rows equal (exact rank over GF(33554393), max over seeds; float SVD rank agrees); "
            f"{n_ref} rows also equal a published theorem or closed form; the deep rows (3,2,2,1), "
            "(3,3,3,1), (2,2,2,1) have no published value we could read: regression values, two methods"
        ),
    )


@claim(
    "alexander-hirschowitz-secant-defects",
    paper="Alexander & Hirschowitz 1995, J. Algebraic Geom. 4",
    source="Alexander & Hirschowitz, 'Polynomial interpolation in several variables', J. Algebraic Geom. 4 (1995) "
    "201-222, main theorem (the defective secant varieties of Veronese varieties); KTB arXiv:1905.12207 §4 (shallow "
    "networks = secants)",
    expected_from="paper",
    statement="Width-k shallow networks with activation t^d and one output fill the expected dimension "
    "min(kn, C(n+d-1,d)) except the four defective cases (n,d,k) = (3,4,5), (4,4,9), (5,4,14), (5,3,7), each one "
    "short.",
    expected={"defective_cases": AH_DEFECTS, "others": "no defect"},
    tags=("algebraic",),
)
def ah_defects(ctx: ClaimContext) -> Measured:
    """Claim: Shallow t^d networks fill the expected dimension except the four Alexander–Hirschowitz defects."""
    cases = [(n, d, k) for n in (2, 3, 4, 5) for d in (3, 4) for k in range(1, 15)]
    if ctx.quick:
        cases = [c for c in cases if c[2] <= 9 or c == (5, 4, 14)]
    found, wrong, short = [], [], {}
    for n, d, k in cases:
        dim = neuromanifold_dimension([n, k, 1], d, seeds=2, seed=ctx.seed).dimension
        if dim != secant_dimension(n, d, k):
            wrong.append([n, d, k, dim])
        naive = min(k * n, math.comb(n + d - 1, d))
        if dim < naive:
            found.append([n, d, k])
            short[str((n, d, k))] = naive - dim
    ok = sorted(found) == sorted(AH_DEFECTS) and not wrong and all(v == 1 for v in short.values())
    return Measured(
        {"defective_cases": found, "defect": short, "cases_checked": len(cases), "mismatches_vs_AH": wrong}, ok
    )
