r"""Strictly affinely separable dichotomies of a finite point set, correct in degenerate position.

A dichotomy of the rows :math:`x_1,\dots,x_D` of ``X`` is a labelling :math:`P^+ \sqcup P^-` realised
strictly by an affine function: :math:`a\cdot x_j+b>0` on :math:`P^+`, :math:`<0` on :math:`P^-`. With
:math:`\hat x_j=(x_j,1)` they are the sign vectors of the *regions* of the central hyperplane arrangement
:math:`\{v\in\mathbb R^{n+1}: \hat x_j\cdot v=0\}` (Arora et al., arXiv:1611.01491, proof of Thm 4.1).

Enumeration (complete, also in degenerate position). Let :math:`m` be the rank of the rows
:math:`\hat x_j` (:math:`m-1` = affine rank of the data: constant features, collinear or coplanar points
and duplicated rows all lower it). Inside the row space the arrangement is essential, so every region is
a pointed cone and has an extreme ray :math:`\rho`, spanned by the common null vector of :math:`m-1`
independent rows. Near :math:`\rho` the signs are :math:`\mathrm{sign}(\hat x_j\cdot\rho)` for the points
off the ray and, for the points :math:`Z(\rho)=\{j:\hat x_j\cdot\rho=0\}` on it, the sign vectors of the
regions of the smaller arrangement :math:`\{\hat x_j\}_{j\in Z}` (rank :math:`m-1`): a recursion. In
general position :math:`|Z|=m-1` and the recursion ends at once with all :math:`2^{m-1}` patterns, which
gives the count :math:`2\sum_{i\le n}\binom{D-1}{i}`; in degenerate position :math:`|Z|` can be larger
and only the realisable patterns of :math:`Z` are produced (the earlier enumeration set the points on a
ray that were not in the chosen subset to "inactive" and missed whole dichotomies).

Filtered predicates. Every sign :math:`\hat x_j\cdot\rho` is first decided in float64 with a forward
error bound (first-order perturbation bound of the SVD null vector times a safety factor); a sign the
bound cannot decide, a subset whose rank the bound cannot decide, and every rank-deficient configuration
are decided in exact integer arithmetic (floats are dyadic rationals: each column is scaled by a power
of two to integers, which leaves every sign unchanged).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from fractions import Fraction
from typing import Sequence

import numpy as np

from .._numerics import FILTER_SAFETY

__all__ = ["DichotomySet", "enumerate_dichotomies", "dichotomy_count", "ray_subsets"]


def dichotomy_count(D: int, n: int) -> int:
    """2 Σ_{i=0}^{n} C(D−1, i): strictly separable dichotomies of D points in general position in R^n."""
    return 2 * sum(math.comb(D - 1, i) for i in range(n + 1))


def ray_subsets(D: int, n: int) -> int:
    """Number of candidate extreme rays examined (subsets of n rows): the enumeration's work estimate."""
    return math.comb(max(D, 0), min(n, max(D, 0)))


@dataclasses.dataclass
class DichotomySet:
    """The dichotomies and how they were decided."""

    labels: np.ndarray  # (K, D) bool, True = active side (a·x + b > 0)
    unique_points: int  # distinct rows
    affine_rank: int  # dimension of the affine hull of the rows
    general_position: bool  # every ray carried exactly m−1 points (the 2Σ C(D−1, i) count applies)
    exact_decisions: int  # signs or ranks the float filter could not decide (decided exactly)
    method: str  # "float" (every predicate decided by the filter) or "filtered-exact"


def _to_int_columns(A: np.ndarray) -> list[list[int]]:
    """Exact integer matrix with the same column-wise sign structure: column k is multiplied by 2^{e_k} > 0."""
    A = np.asarray(A, dtype=float)
    cols = []
    for k in range(A.shape[1]):
        fr = [Fraction(float(v)) for v in A[:, k]]
        den = max((f.denominator for f in fr), default=1)
        cols.append([int(f * den) for f in fr])
    return [list(r) for r in zip(*cols)] if cols else [[] for _ in range(A.shape[0])]


def _rank_int(rows: Sequence[Sequence[int]]) -> int:
    """Exact rank by fraction-free (Bareiss) elimination."""
    M = [list(r) for r in rows]
    if not M:
        return 0
    nr, nc = len(M), len(M[0])
    rank, prev = 0, 1
    for c in range(nc):
        piv = next((r for r in range(rank, nr) if M[r][c] != 0), None)
        if piv is None:
            continue
        M[rank], M[piv] = M[piv], M[rank]
        for r in range(rank + 1, nr):
            for k in range(c + 1, nc):
                M[r][k] = (M[rank][c] * M[r][k] - M[r][c] * M[rank][k]) // prev
            M[r][c] = 0
        prev = M[rank][c]
        rank += 1
        if rank == nr:
            break
    return rank


def _nullvec_int(rows: Sequence[Sequence[int]]) -> list[int] | None:
    """An integer vector spanning the null space of ``rows`` ((k−1)×k, exact), or None if it is not 1-dimensional."""
    M = [[Fraction(v) for v in r] for r in rows]
    nc = len(rows[0])
    piv_cols, r = [], 0
    for c in range(nc):
        p = next((i for i in range(r, len(M)) if M[i][c] != 0), None)
        if p is None:
            continue
        M[r], M[p] = M[p], M[r]
        inv = 1 / M[r][c]
        M[r] = [v * inv for v in M[r]]
        for i in range(len(M)):
            if i != r and M[i][c] != 0:
                f = M[i][c]
                M[i] = [a - f * b for a, b in zip(M[i], M[r])]
        piv_cols.append(c)
        r += 1
    free = [c for c in range(nc) if c not in piv_cols]
    if len(free) != 1:
        return None
    fc = free[0]
    v = [Fraction(0)] * nc
    v[fc] = Fraction(1)
    for i, pc in enumerate(piv_cols):
        v[pc] = -M[i][fc]
    den = math.lcm(*(x.denominator for x in v))
    return [int(x * den) for x in v]


def _dot(a: Sequence[int], b: Sequence[int]) -> int:
    return sum(x * y for x, y in zip(a, b))


class _Enumerator:
    def __init__(self, Xh: np.ndarray):
        self.F = np.asarray(Xh, dtype=float)
        self.I = _to_int_columns(self.F)
        self.exact = 0
        self.general = True
        self.rank = -1

    # -- exact recursion -----------------------------------------------------------------------
    def regions_exact(self, idx: list[int]) -> set[tuple[bool, ...]]:
        """Sign vectors (True = positive) of the regions of the arrangement {x̂_j: j ∈ idx}, exactly."""
        rows = [self.I[j] for j in idx]
        m = _rank_int(rows)
        self.exact += 1
        k = len(idx)
        if m == k:  # linearly independent: every sign pattern is realised
            return set(itertools.product((False, True), repeat=k))
        if m == 1:  # all rows are non-zero multiples of one vector
            v = next(r for r in rows if any(r))
            s = tuple(_dot(r, v) > 0 for r in rows)
            return {s, tuple(not t for t in s)}
        basis: list[int] = []
        for j in range(k):
            if _rank_int([rows[b] for b in basis] + [rows[j]]) > len(basis):
                basis.append(j)
            if len(basis) == m:
                break
        B = [rows[b] for b in basis]
        out: set[tuple[bool, ...]] = set()
        seen: set[frozenset[int]] = set()
        for S in itertools.combinations(range(k), m - 1):
            MS = [[_dot(rows[s], b) for b in B] for s in S]  # (m−1)×m: rows of S in the basis' coordinates
            c = _nullvec_int(MS)
            if c is None:  # S is not independent: no ray
                continue
            rho = [sum(ci * b[t] for ci, b in zip(c, B)) for t in range(len(B[0]))]
            s = [_dot(r, rho) for r in rows]
            Z = frozenset(i for i in range(k) if s[i] == 0)
            if Z in seen:
                continue
            seen.add(Z)
            zl = sorted(Z)
            sub = self.regions_exact([idx[i] for i in zl])
            pos = {i: s[i] > 0 for i in range(k) if i not in Z}
            for sign in (True, False):
                for pat in sub:
                    lab = [False] * k
                    for i, p in pos.items():
                        lab[i] = p if sign else not p
                    for i, p in zip(zl, pat):
                        lab[i] = p
                    out.add(tuple(lab))
        return out

    # -- float fast path at the top level, exact where the filter cannot decide -----------------
    def regions(self) -> set[tuple[bool, ...]]:
        D, d = self.F.shape
        eps = np.finfo(float).eps
        sv = np.linalg.svd(self.F, compute_uv=False)
        full = sv.size == d and sv[-1] > FILTER_SAFETY * d * eps * sv[0] * max(1.0, math.sqrt(D))
        if not full:  # rank-deficient (lower affine rank) or undecidable: exact throughout
            self.rank = _rank_int(self.I)
            self.general = self.rank == d
            return self.regions_exact(list(range(D)))
        self.rank = d
        if D <= d:
            return set(itertools.product((False, True), repeat=D))
        out: set[tuple[bool, ...]] = set()
        seen: set[frozenset[int]] = set()
        norms = np.linalg.norm(self.F, axis=1)
        for S in itertools.combinations(range(D), d - 1):
            P = self.F[list(S)]
            _, s_, Vt = np.linalg.svd(P)
            kappa = s_[0] / s_[-1] if s_[-1] > 0 else math.inf
            bound_rank = FILTER_SAFETY * d * eps * kappa
            rho = Vt[-1]
            s = self.F @ rho
            beta = FILTER_SAFETY * d * eps * (kappa + 1.0) * norms
            mask = np.ones(D, bool)
            mask[list(S)] = False
            undecided = bound_rank >= 1e-2 or bool((np.abs(s[mask]) <= beta[mask]).any())
            if not undecided:
                Z = frozenset(S)
                pos = s > 0
                seen.add(Z)
                base = pos.copy()
                for sign in (True, False):
                    b0 = base if sign else ~base
                    for bits in itertools.product((False, True), repeat=d - 1):
                        lab = b0.copy()
                        lab[list(S)] = bits
                        out.add(tuple(bool(v) for v in lab))
                continue
            self.exact += 1
            rows = [self.I[j] for j in S]
            rho_i = _nullvec_int(rows)
            if rho_i is None:  # exactly dependent: no ray from this subset
                continue
            si = [_dot(r, rho_i) for r in self.I]
            Z = frozenset(j for j in range(D) if si[j] == 0)
            if Z in seen:
                continue
            seen.add(Z)
            if len(Z) > d - 1:
                self.general = False
            zl = sorted(Z)
            sub = self.regions_exact(zl)
            for sign in (True, False):
                for pat in sub:
                    lab = [(v > 0) == sign if v != 0 else False for v in si]
                    for i, p in zip(zl, pat):
                        lab[i] = p
                    out.add(tuple(lab))
        return out


def enumerate_dichotomies(X: np.ndarray) -> DichotomySet:
    """All strictly affinely separable dichotomies of the rows of ``X`` (duplicates share their label)."""
    X = np.asarray(X, dtype=float)
    D, n = X.shape
    U, inverse = np.unique(X, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).reshape(-1)
    Xh = np.hstack([U, np.ones((len(U), 1))])
    en = _Enumerator(Xh)
    pats = en.regions()
    lab_u = np.array(sorted(pats), dtype=bool).reshape(len(pats), len(U))
    labels = lab_u[:, inverse]
    rank = en.rank
    return DichotomySet(
        labels=labels,
        unique_points=len(U),
        affine_rank=int(rank) - 1,
        general_position=bool(en.general and len(U) == D and rank == n + 1),
        exact_decisions=int(en.exact),
        method="filtered-exact" if en.exact else "float",
    )
