r"""Tropical form of ReLU networks: :math:`f = F - G` with max-plus signomials :math:`F, G`.

Zhang, Naitzat & Lim, *Tropical Geometry of Deep Neural Networks*, ICML 2018, arXiv:1805.07091
(spec geometry.md §1). A tropical (max-plus) signomial is
:math:`F(x)=\max_i(c_i+\langle a_i,x\rangle)` with real exponents :math:`a_i`. With
:math:`W=W^+-W^-` split into positive and negative parts, the layer recursion (spec §1.2)

.. math::
    H = W^+F + W^-G + b,\qquad G' = W^-F + W^+G,\qquad F' = \max(H, G'+t)\ \text{(hidden)},\ F'=H\ \text{(output)}

keeps :math:`h^{(l)} = F^{(l)} - G^{(l)}` exactly, where in tropical arithmetic :math:`W^+F` means
:math:`\bigodot_j F_j^{\odot W^+_{ij}}` (Minkowski sums of scaled Newton polytopes).

Pruning (spec §1.3): monomial :math:`i` is kept iff its dominance set
:math:`\{x: c_i+\langle a_i,x\rangle\ge c_j+\langle a_j,x\rangle\ \forall j\}` has interior *in*
:math:`\mathbb R^n` (no bounding box: a dominance set far from the origin counts). One LP per monomial
(HiGHS through SciPy) whose answer is certified exactly (a witness point or a Farkas certificate, in
rationals); the vertices of the *upper hull* of the lifted points :math:`(a_i,c_i)` (Qhull) are an
independent cross-check. Any lowered program (:func:`tamelab.models.lower`) has a tropical form: an
affine node maps :math:`(F,G)` to :math:`(W^+F+W^-G+b,\ W^-F+W^+G)`, a ReLU to :math:`(F\oplus G,\ G)`,
LeakyReLU and max nodes likewise (see :func:`tropical`).

Exponents are real; all arithmetic is exact (rationals from the float64 weights), so identical
exponents are merged exactly and ties between coefficients are true ties.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections.abc import Sequence
from fractions import Fraction
from math import comb
from typing import Any

import numpy as np

from .._numerics import (
    BARY_CANDIDATE_TOL,
    DUAL_SUPPORT_RTOL,
    HULL_CANDIDATE_TOL,
    SIMPLEX_DET_RTOL,
    TROPICAL_CELLS_TOL,
    TROPICAL_CHECK_RTOL,
)
from ..errors import InputError
from ..models import PWLNet
from ..models._lower import as_pwl
from ..models._pwl import Affine, ReLU
from ..result import Result, Status

__all__ = [
    "CELLS_LP_TOL",
    "CHECK_RTOL",
    "HOPELESS",
    "TROPICAL_BUDGET",
    "TropicalForm",
    "TropicalPoly",
    "monomial_bound",
    "tropical",
    "tropical_work",
]

#: ``cells``: a pair of dominance sets meets with interior when the LP margin exceeds this.
CELLS_LP_TOL = TROPICAL_CELLS_TOL
#: default limit on the pruning work Σ m²(n+1) (m monomials in n variables per pruned polynomial), counted
#: as the recursion runs (about a minute of LPs on this machine); ``budget=``.
TROPICAL_BUDGET = 25_000_000
#: refuse before starting when the a-priori work bound :func:`tropical_work` exceeds this times the budget
#: (inputs of dimension <= 6; 10 times the budget above).
HOPELESS = 10_000
#: the spot check passes when max |F − G − f| <= CHECK_RTOL · max(1, |F|, |G|, |f|) at every check point.
CHECK_RTOL = TROPICAL_CHECK_RTOL


def _F(x: float) -> Fraction:
    return Fraction(float(x))


@dataclasses.dataclass
class TropicalPoly:
    """``max_i (coeffs[i] + exponents[i] · x)``; ``exponents`` is (m, n), ``coeffs`` (m,).

    The monomials are also kept exactly (``exact``: ``(exponent tuple, coefficient)`` pairs of
    :class:`~fractions.Fraction`): every semiring operation is exact, equal exponents are merged exactly,
    and the float arrays are the rounded exact values (for evaluation and as LP data).
    """

    exponents: np.ndarray
    coeffs: np.ndarray
    exact: list | None = dataclasses.field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.exact is not None:
            n = len(self.exact[0][0]) if self.exact else np.atleast_2d(np.asarray(self.exponents)).shape[1]
            self.exponents = np.array([[float(v) for v in e] for e, _ in self.exact], dtype=float).reshape(-1, n)
            self.coeffs = np.array([float(c) for _, c in self.exact], dtype=float)
            return
        self.exponents = np.atleast_2d(np.asarray(self.exponents, dtype=float))
        self.coeffs = np.asarray(self.coeffs, dtype=float).reshape(-1)
        if self.exponents.shape[0] != self.coeffs.shape[0]:
            raise InputError("coeffs", f"{self.coeffs.shape[0]} coefficients for {self.exponents.shape[0]} exponents")
        if not (np.all(np.isfinite(self.exponents)) and np.all(np.isfinite(self.coeffs))):
            raise InputError("coeffs", "exponents and coefficients must be finite")
        self.exact = [(tuple(_F(v) for v in e), _F(c)) for e, c in zip(self.exponents.tolist(), self.coeffs.tolist())]

    @property
    def n_vars(self) -> int:
        """The number of variables ``n``."""
        return self.exponents.shape[1]

    def __len__(self) -> int:
        return self.coeffs.shape[0]

    # ---- semiring operations (exact)
    @classmethod
    def constant(cls, c: float, n: int) -> TropicalPoly:
        """The constant ``c`` as a tropical polynomial in ``n`` variables."""
        return cls(np.zeros((1, n)), [c])

    @classmethod
    def variable(cls, j: int, n: int) -> TropicalPoly:
        """The variable ``x_j`` as a tropical polynomial in ``n`` variables."""
        e = np.zeros((1, n))
        e[0, j] = 1.0
        return cls(e, [0.0])

    @classmethod
    def _of(cls, items: list, n: int) -> TropicalPoly:
        best: dict[tuple, Fraction] = {}
        for e, c in items:
            b = best.get(e)
            if b is None or c > b:
                best[e] = c
        return cls(np.zeros((0, n)), np.zeros(0), exact=sorted(best.items()))

    def merged(self) -> TropicalPoly:
        """Merge monomials with equal (exact) exponents, keeping the larger coefficient."""
        return TropicalPoly._of(self.exact, self.n_vars)

    def __add__(self, other: TropicalPoly) -> TropicalPoly:  # tropical sum ⊕ = max
        return TropicalPoly._of(self.exact + other.exact, self.n_vars)

    def __mul__(self, other: TropicalPoly) -> TropicalPoly:  # tropical product ⊙ = +
        items = [(tuple(a + b for a, b in zip(e1, e2)), c1 + c2) for e1, c1 in self.exact for e2, c2 in other.exact]
        return TropicalPoly._of(items, self.n_vars)

    def power(self, k: float) -> TropicalPoly:
        """``P^{⊙k}`` for real ``k >= 0`` (scales the lifted polytope by ``k``)."""
        if not (k >= 0):
            raise InputError("k", "tropical powers need k >= 0")
        if k == 0:
            return TropicalPoly.constant(0.0, self.n_vars)
        K = _F(k)
        return TropicalPoly._of([(tuple(K * v for v in e), K * c) for e, c in self.exact], self.n_vars)

    def shift(self, c: float) -> TropicalPoly:
        """``c ⊙ P``: every coefficient plus ``c`` (exact)."""
        C = _F(c)
        return TropicalPoly._of([(e, v + C) for e, v in self.exact], self.n_vars)

    def _subset(self, mask: np.ndarray) -> TropicalPoly:
        return TropicalPoly(np.zeros((0, self.n_vars)), np.zeros(0), exact=[m for m, k in zip(self.exact, mask) if k])

    # ---- evaluation
    def __call__(self, X) -> np.ndarray:
        """The value ``max_i (a_i·x + c_i)`` at every row of ``X`` (float)."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        return (X @ self.exponents.T + self.coeffs).max(axis=1)

    def argmax(self, X) -> np.ndarray:
        """The index of the maximising monomial at every row of ``X``."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        return (X @ self.exponents.T + self.coeffs).argmax(axis=1)

    # ---- pruning
    def dominant_exact(self) -> tuple[np.ndarray, bool]:
        r"""Monomials that are the unique maximum on an open set of R^n, and whether every decision is certified.

        One LP per monomial *over all of* :math:`\mathbb R^n` (no box): maximise :math:`\varepsilon\le1` subject
        to :math:`(a_j-a_i)\cdot x+\varepsilon\le c_i-c_j`. A kept monomial is certified by its witness
        :math:`x^*` (strict dominance checked in exact rational arithmetic); a dropped one by a Farkas
        certificate :math:`y\ge0`, :math:`\sum y=1`, :math:`\sum_j y_ja_j=a_i`, :math:`\sum_j y_jc_j\ge c_i`
        (rebuilt exactly on the LP dual's support). A monomial neither certificate settles is kept
        (keeping a dominated monomial never changes the function) and the result is marked uncertified.
        """
        m = self.exponents.shape[0]
        if m == 1:
            return np.ones(1, bool), True
        E = [list(e) for e, _ in self.exact]
        C = [c for _, c in self.exact]
        if m == 2:  # distinct exponents (merged): each wins far out along ±(a_1 − a_0)
            return np.ones(2, bool), True
        keep = np.zeros(m, bool)
        done = np.zeros(m, bool)
        self._hull_certificates(E, C, keep, done)
        certified = True
        for i in np.nonzero(~done)[0].tolist():
            k, ok = self._lp_decide(E, C, i)
            keep[i] = k
            certified &= ok
        return keep, certified

    def _lp_decide(self, E, C, i: int) -> tuple[bool, bool]:
        """(keep, certified) for monomial i from one LP over R^n and its exact certificate."""
        from scipy.optimize import linprog

        m, n = self.exponents.shape
        others = np.arange(m) != i
        A = np.hstack([self.exponents[others] - self.exponents[i], np.ones((m - 1, 1))])
        bnd = self.coeffs[i] - self.coeffs[others]
        res = linprog(
            np.r_[np.zeros(n), -1.0], A_ub=A, b_ub=bnd, bounds=[(None, None)] * n + [(None, 1.0)], method="highs"
        )
        if res.status == 0 and -res.fun > 0 and self._witness(E, C, i, res.x[:n]):
            return True, True
        if res.status == 0 and _farkas(E, C, i, np.nonzero(others)[0], -np.asarray(res.ineqlin.marginals)):
            return False, True
        return True, False  # undecided: keep (harmless for the function), count not certified

    def _witness(self, E, C, i: int, x: np.ndarray) -> bool:
        """Is monomial i the strict maximum at x? Float with a forward error bound, exact when unsure."""
        if not np.all(np.isfinite(x)):
            return False
        v = self.exponents @ x + self.coeffs
        mag = np.abs(self.exponents) @ np.abs(x) + np.abs(self.coeffs)
        err = 4 * (self.n_vars + 2) * 2.0**-53 * mag + 1e-300
        others = np.arange(len(v)) != i
        gap = v[i] - v[others]
        if np.all(gap > err[i] + err[others]):
            return True
        if np.any(gap < -(err[i] + err[others])):
            return False
        return _strict_witness(E, C, i, x)

    def _hull_certificates(self, E, C, keep: np.ndarray, done: np.ndarray) -> None:
        """Decide most monomials without LPs:

        Qhull's upper hull proposes; a kept vertex is certified by a witness point inside its normal cone, a dropped
        point by the barycentric (Farkas) certificate of an upper facet above it, both verified exactly. Undecided
        monomials are left for the LP.
        """
        from scipy.spatial import ConvexHull, QhullError

        n = self.exponents.shape[1]
        if n > 6:  # Qhull's cost grows exponentially with the dimension: LPs only
            return
        pts = np.hstack([self.exponents, self.coeffs[:, None]])
        try:
            hull = ConvexHull(pts)
        except (QhullError, ValueError):
            return
        upper = hull.equations[:, n] > HULL_CANDIDATE_TOL
        if not upper.any():
            return
        eqs, simp = hull.equations[upper], hull.simplices[upper]
        X = -eqs[:, :n] / eqs[:, n : n + 1]  # x at which a facet's monomials tie as the maximum
        inc: dict[int, list[int]] = {}
        for f, sx in enumerate(simp.tolist()):
            for v in sx:
                inc.setdefault(v, []).append(f)
        cen = self.exponents.mean(0)
        for i, fs in inc.items():
            x = X[fs].mean(0)
            push = self.exponents[i] - cen
            for t in (0.0, 1e-3, 1e-1, 1.0):
                if self._witness(E, C, i, x + t * push):
                    keep[i] = done[i] = True
                    break
        # non-vertices: barycentric coordinates in an upper simplex above a_i (projected), located for all
        # points at once with the simplices' inverse barycentric matrices
        todo = np.array([i for i in np.nonzero(~done)[0].tolist() if i not in inc], dtype=np.int64)
        if len(todo) == 0:
            return
        Ms = np.concatenate([np.transpose(self.exponents[simp], (0, 2, 1)), np.ones((len(simp), 1, n + 1))], 1)
        good = np.abs(np.linalg.det(Ms)) > SIMPLEX_DET_RTOL * (1 + np.abs(Ms).max((1, 2))) ** n
        if not good.any():
            return
        inv = np.linalg.inv(Ms[good])
        sg = simp[good]
        rhs = np.vstack([self.exponents[todo].T, np.ones(len(todo))])  # (n+1) × t
        for lo in range(0, len(todo), 256):
            lam = np.einsum("fij,jt->fti", inv, rhs[:, lo : lo + 256])  # facets × points × (n+1)
            inside = lam.min(2) >= -BARY_CANDIDATE_TOL
            for t, i in enumerate(todo[lo : lo + 256].tolist()):
                for f in np.nonzero(inside[:, t])[0][:4].tolist():
                    if _farkas(E, C, i, sg[f], np.maximum(lam[f, t], 0.0) + 1e-300):
                        done[i] = True  # dominated, certified
                        break

    def dominant_lp(self) -> np.ndarray:
        r"""Boolean mask of the monomials whose dominance set has interior in R^n.

        Boolean mask of the monomials whose dominance set has interior in :math:`\mathbb R^n` (see
        :meth:`dominant_exact`).
        """
        return self.dominant_exact()[0]

    def dominant_hull(self) -> np.ndarray | None:
        """Boolean mask:

        vertices of the upper hull of the lifted points ``(a_i, c_i)`` (Qhull, float); ``None`` if degenerate. An
        independent cross-check of :meth:`dominant_exact`, not a certificate.
        """
        from scipy.spatial import ConvexHull, QhullError

        m, n = self.exponents.shape
        if m == 1:
            return np.ones(1, bool)
        pts = np.hstack([self.exponents, self.coeffs[:, None]])
        try:
            hull = ConvexHull(pts)
        except (QhullError, ValueError):
            return None
        keep = np.zeros(m, bool)
        for eq, simplex in zip(hull.equations, hull.simplices):
            if eq[n] > HULL_CANDIDATE_TOL:  # outward normal with positive last (coefficient) coordinate
                keep[simplex] = True
        vert = np.zeros(m, bool)
        vert[hull.vertices] = True
        return keep & vert

    def pruned(self, method: str = "lp") -> TropicalPoly:
        """The same function with only the monomials whose dominance set has interior.

        The same function with only the monomials whose dominance set has interior (``"lp"``: exact LP
        route, :meth:`dominant_exact`; ``"hull"``: Qhull's upper hull, LP where Qhull fails).
        """
        if method not in ("lp", "hull"):
            raise InputError("method", f"unknown pruning method {method!r}", "use lp or hull")
        mask = self.dominant_hull() if method == "hull" else None
        if mask is None:
            mask = self.dominant_exact()[0]
        return self._subset(mask)

    def pruned_exact(self) -> tuple[TropicalPoly, bool]:
        """The polynomial with the dominated monomials dropped by :meth:`dominant_exact`, and whether certified."""
        mask, ok = self.dominant_exact()
        return self._subset(mask), ok


def _strict_witness(E, C, i: int, x: np.ndarray) -> bool:
    """Exactly: is monomial i strictly larger than every other at the rational point x?"""
    X = [Fraction(float(v)) for v in x]
    vals = [C[j] + sum((e * xv for e, xv in zip(E[j], X)), Fraction(0)) for j in range(len(C))]
    vi = vals[i]
    return all(vi > v for j, v in enumerate(vals) if j != i)


def _farkas(E, C, i: int, idx: np.ndarray, y: np.ndarray) -> bool:
    """Exactly verify a dominance certificate on the support of the LP dual ``y``:

    y >= 0 with Σy = 1, Σ y_j a_j = a_i and Σ y_j c_j >= c_i (then c_i + a_i·x <= Σ y_j (c_j + a_j·x) <= max_j for every
    x).
    """
    if not np.all(np.isfinite(y)) or y.max(initial=0.0) <= 0:
        return False
    order = np.argsort(-y)
    supp_all = [int(idx[k]) for k in order if y[k] > DUAL_SUPPORT_RTOL * y.max()][:12]
    n = len(E[i])
    kmax = min(n + 1, len(supp_all))

    def check(supp) -> bool:
        rows = [[E[j][r] - E[i][r] for j in supp] + [Fraction(0)] for r in range(n)]
        rows.append([Fraction(1)] * len(supp) + [Fraction(1)])
        sol = _solve_exact(rows, len(supp))
        if sol is None or any(v < 0 for v in sol):
            return False
        return sum((v * C[j] for v, j in zip(sol, supp)), Fraction(0)) >= C[i]

    # the largest weights first (the LP's basis), then Carathéodory: some affinely independent subset of the
    # support (size <= n + 1) carries a certificate when one exists
    for k in range(kmax, 0, -1):
        if check(supp_all[:k]):
            return True
    tries = 0
    for size in range(kmax, 0, -1):
        for supp in itertools.combinations(supp_all, size):
            tries += 1
            if tries > 60:
                return False
            if check(supp):
                return True
    return False


def _solve_exact(rows: list[list[Fraction]], k: int) -> list[Fraction] | None:
    """Unique solution of an (over)determined consistent linear system in rationals, else None."""
    R = [list(r) for r in rows]
    piv_cols: list[int] = []
    r0 = 0
    for c in range(k):
        p = next((r for r in range(r0, len(R)) if R[r][c] != 0), None)
        if p is None:
            return None  # not unique
        R[r0], R[p] = R[p], R[r0]
        pv = R[r0][c]
        R[r0] = [v / pv for v in R[r0]]
        for r in range(len(R)):
            if r != r0 and R[r][c] != 0:
                f = R[r][c]
                R[r] = [a - f * b for a, b in zip(R[r], R[r0])]
        piv_cols.append(c)
        r0 += 1
    if any(R[r][k] != 0 for r in range(r0, len(R))):
        return None  # inconsistent
    return [R[r][k] for r in range(k)]


def _weighted_product(polys: list[TropicalPoly], weights: np.ndarray, n: int, cleanup) -> TropicalPoly:
    """``⊙_j P_j^{w_j}`` over ``w_j > 0``, pruned (exactly) along the way once it grows past 32 monomials."""
    out = TropicalPoly.constant(0.0, n)
    for P, w in zip(polys, weights):
        if w > 0:
            out = out * P.power(float(w))
            if len(out) > 32:
                out = cleanup(out)
    return out


@dataclasses.dataclass
class TropicalForm(Result):
    """``network = F - G`` output by output, with monomial counts and their certificates.

    ``status`` is ``ok`` when the identity spot check passed at every check point (seeded Gaussian points
    and points along seeded lines between and beyond every breakpoint of ``f``, ``F`` and ``G``) and every
    pruning decision is certified (``pruning_certified``; then ``monomials_F``/``monomials_G`` are the
    minimal counts).
    """

    kind = "tropical"

    F: list[TropicalPoly] = dataclasses.field(default_factory=list, repr=False)
    G: list[TropicalPoly] = dataclasses.field(default_factory=list, repr=False)
    widths: list[int] = dataclasses.field(default_factory=list)
    monomials_F: list[int] = dataclasses.field(default_factory=list)
    monomials_G: list[int] = dataclasses.field(default_factory=list)
    hull_vertices_F: list[int | None] = dataclasses.field(default_factory=list)
    hull_vertices_G: list[int | None] = dataclasses.field(default_factory=list)
    max_abs_error: float = float("nan")
    check_points: int = 0
    far_check_points: int = 0
    pruning_certified: bool = True
    monomial_estimate: int = 0
    certificate: str = ""
    seed: int = 0

    def __call__(self, X) -> np.ndarray:
        """Evaluate ``F - G``: shape (N, k)."""
        return np.stack([f(X) - g(X) for f, g in zip(self.F, self.G)], axis=1)

    def cells(self, output: int = 0) -> int:
        """Cells of the common refinement of ``F`` and ``G`` (one LP per pair).

        Cells of the common refinement of ``F`` and ``G`` (pairs whose dominance sets meet with interior in
        R^n, spec §1.4; one LP per pair, float tolerance :data:`CELLS_LP_TOL`).
        """
        from scipy.optimize import linprog

        F, G = self.F[output], self.G[output]
        n = F.n_vars
        count = 0
        for i in range(len(F)):
            Ai = np.hstack([np.delete(F.exponents, i, 0) - F.exponents[i], np.ones((len(F) - 1, 1))])
            bi = F.coeffs[i] - np.delete(F.coeffs, i)
            for j in range(len(G)):
                Aj = np.hstack([np.delete(G.exponents, j, 0) - G.exponents[j], np.ones((len(G) - 1, 1))])
                bj = G.coeffs[j] - np.delete(G.coeffs, j)
                A, b = np.vstack([Ai, Aj]), np.r_[bi, bj]
                if len(b) == 0:
                    count += 1
                    continue
                res = linprog(
                    np.r_[np.zeros(n), -1.0], A_ub=A, b_ub=b, bounds=[(None, None)] * n + [(None, 1.0)], method="highs"
                )
                count += int(res.status == 0 and -res.fun > CELLS_LP_TOL)
        return count


# ------------------------------------------------------------------------------------ work estimate
def _edges(v: int, D: int) -> int:
    """Most edges of a polytope with v vertices in R^D (a polygon: v; a 3-polytope: 3v − 6)."""
    if v <= 1:
        return 0
    if D <= 2:
        return v
    if D == 3:
        return max(v, 3 * v - 6)
    return comb(v, 2)


def _mink_vertices(counts: Sequence[int], D: int) -> int:
    """Upper bound on the vertices of a Minkowski sum of polytopes with the given vertex counts in R^D:

    min(product, 2 Σ_{j<D} C(E−1, j)) with E edge directions, at most the edges of the summands (Gritzmann–Sturmfels).
    """
    counts = [c for c in counts if c > 1]
    if not counts:
        return 1
    prod_ = 1
    for c in counts:
        prod_ *= c
        if prod_ > 10**18:
            break
    E = sum(_edges(c, D) for c in counts)
    gs = 2 * sum(comb(E - 1, j) for j in range(min(D, E)))
    return int(min(prod_, gs))


def monomial_bound(net: PWLNet) -> int:
    """An upper bound on the total number of monomials of the tropical form of ``net``.

    An upper bound on the total number of monomials (over all units of all nodes, after pruning) of the
    tropical form of ``net``.
    """
    return _bounds(net)[0]


def tropical_work(net: PWLNet) -> int:
    """Work estimate of :func:`tropical`:

    pruning a polynomial of ``m`` monomials in ``n`` variables costs ``m`` LPs with ``m`` constraints in ``n + 1``
    variables; the estimate is ``Σ m² (n + 1)`` over the bounds.
    """
    return _bounds(net)[1]


def _bounds(net: PWLNet) -> tuple[int, int]:
    n = net.in_dim
    D = n + 1
    cap = 10**30
    F: list[list[int]] = [[1] * n]
    G: list[list[int]] = [[1] * n]
    total = work = 0
    for node in net.nodes[1:]:
        if isinstance(node, Affine):
            f_out, g_out = [], []
            for i in range(node.width):
                fc, gc = [], []
                for s, A in zip(node.sources, node.A):
                    row = A[i]
                    fc += [F[s][j] for j in np.nonzero(row > 0)[0]] + [G[s][j] for j in np.nonzero(row < 0)[0]]
                    gc += [F[s][j] for j in np.nonzero(row < 0)[0]] + [G[s][j] for j in np.nonzero(row > 0)[0]]
                f_out.append(min(cap, _mink_vertices(fc, D)))
                g_out.append(min(cap, _mink_vertices(gc, D)))
            F.append(f_out)
            G.append(g_out)
        elif isinstance(node, ReLU):
            f, g = F[node.source], G[node.source]
            if node.slope == 0.0:
                F.append([min(cap, a + b) for a, b in zip(f, g)])
                G.append(list(g))
            else:
                F.append([min(cap, 2 * _mink_vertices([a, b], D)) for a, b in zip(f, g)])
                G.append([min(cap, _mink_vertices([a, b], D)) for a, b in zip(f, g)])
        else:
            f, g = F[node.source], G[node.source]
            fo, go = [], []
            for grp in node.groups.tolist():
                u = list(dict.fromkeys(grp))
                gall = _mink_vertices([g[r] for r in u], D)
                fo.append(min(cap, sum(_mink_vertices([f[r]] + [g[q] for q in u if q != r], D) for r in u)))
                go.append(min(cap, gall))
            F.append(fo)
            G.append(go)
        total = min(cap, total + sum(F[-1]) + sum(G[-1]))
        work = min(cap, work + sum(min(cap, m * m) for m in F[-1] + G[-1]) * D)
    return int(total), int(work)


# ------------------------------------------------------------------------------------ the recursion
def tropical(
    model,
    *,
    prune: bool = True,
    check_points: int = 256,
    seed: int = 0,
    in_shape: Sequence[int] | None = None,
    budget: int = TROPICAL_BUDGET,
) -> TropicalForm:
    """Tropical form ``(F, G)`` with ``f = F − G`` of a piecewise-linear network, node by node (ZNL, spec §1.2).

    Args:
        model: an ``nn.Module`` that lowers to a piecewise-linear program (:func:`tamelab.models.lower`) or a
            :class:`~tamelab.models.PWLNet`.
        prune: drop dominated monomials after every node (exact pruning; never changes the function).
        check_points: number of seeded Gaussian check points (scaled by 3); as many again lie on 8 seeded
            lines, between and beyond every breakpoint of the network and of F and G along them.
        seed: seed of the check points and lines.
        in_shape: the per-sample input shape, for models that do not start with ``nn.Linear``.
        budget: refuse (``InputError``) when the work estimate :func:`tropical_work` exceeds it.

    Recursion: input ``(x_j, 0)``; affine ``(H, G') = (W^+F + W^-G + b, W^-F + W^+G)`` summed over sources;
    ReLU ``(F ⊕ G, G)``; LeakyReLU with slope ``α ∈ [0, 1]``: ``((F ⊙ G^α) ⊕ (F^α ⊙ G), G^{1+α})`` and with
    ``α < 0``: ``(F^{1+|α|} ⊕ G^{1+|α|}, G ⊙ F^{|α|})``; a max group ``max_j(F_j − G_j)``:
    ``(⊕_j F_j ⊙ ⊙_{k≠j} G_k, ⊙_k G_k)``.
    """
    t0 = time.perf_counter()
    if not (isinstance(check_points, int) and check_points >= 0):
        raise InputError("check_points", f"must be an integer >= 0, got {check_points!r}")
    net = as_pwl(model, in_shape=in_shape)
    n = net.in_dim
    if not (isinstance(budget, int) and budget >= 1):
        raise InputError("budget", f"must be a positive integer, got {budget!r}")
    est, work = _bounds(net)
    # the a-priori bound is loose in few variables (polygons have few edges) and close in many (a zonotope of
    # k <= n generators has 2^k vertices): refuse early accordingly
    if work > (HOPELESS if n <= 6 else 10) * budget:
        raise InputError(
            "budget",
            f"the tropical form may need up to {est:.3g} monomials (work bound {work:.3g} "
            f"= Σ m²(n+1) LP entries), far above the budget {budget:.3g}",
            f"pass budget={work} to try anyway, or use a smaller network",
        )
    certified = True
    spent = 0

    def cleanup(P: TropicalPoly) -> TropicalPoly:
        nonlocal certified, spent
        if not prune:
            return P
        spent += len(P) ** 2 * (n + 1)
        if spent > budget:
            raise InputError(
                "budget",
                f"the tropical form grew to {len(P)} monomials in {n} variables; pruning "
                f"work so far {spent:.3g} exceeds the budget {budget:.3g} (a priori bound: {est:.3g} "
                f"monomials)",
                f"pass budget={4 * spent} (or more) to continue, or use a smaller network",
            )
        Q, ok = P.pruned_exact()
        certified &= ok
        return Q

    def grow(P: TropicalPoly, Q: TropicalPoly) -> TropicalPoly:
        if not prune and len(P) * len(Q) > budget // (n + 1):
            raise InputError(
                "budget",
                f"an unpruned product of {len(P)} × {len(Q)} monomials exceeds the budget",
                "prune, or pass a larger budget=",
            )
        return P * Q

    F: list[list[TropicalPoly]] = [[TropicalPoly.variable(j, n) for j in range(n)]]
    G: list[list[TropicalPoly]] = [[TropicalPoly.constant(0.0, n) for _ in range(n)]]
    for node in net.nodes[1:]:
        if isinstance(node, Affine):
            fo, go = [], []
            for i in range(node.width):
                H = TropicalPoly.constant(float(node.b[i]), n)
                Gp = TropicalPoly.constant(0.0, n)
                for s, A in zip(node.sources, node.A):
                    Wp, Wm = np.maximum(A[i], 0.0), np.maximum(-A[i], 0.0)
                    H = H * _weighted_product(F[s], Wp, n, cleanup) * _weighted_product(G[s], Wm, n, cleanup)
                    Gp = Gp * _weighted_product(F[s], Wm, n, cleanup) * _weighted_product(G[s], Wp, n, cleanup)
                fo.append(cleanup(H))
                go.append(cleanup(Gp))
        elif isinstance(node, ReLU):
            a = float(node.slope)
            f, g = F[node.source], G[node.source]
            if a == 0.0:
                fo, go = [cleanup(x + y) for x, y in zip(f, g)], list(g)
            elif a > 0:
                fo = [cleanup((x * y.power(a)) + (x.power(a) * y)) for x, y in zip(f, g)]
                go = [cleanup(y.power(1 + a)) for y in g]
            else:
                fo = [cleanup(x.power(1 - a) + y.power(1 - a)) for x, y in zip(f, g)]
                go = [cleanup(y * x.power(-a)) for x, y in zip(f, g)]
        else:
            f, g = F[node.source], G[node.source]
            fo, go = [], []
            for grp in node.groups.tolist():
                u = list(dict.fromkeys(grp))
                gall = TropicalPoly.constant(0.0, n)
                for r in u:
                    gall = gall * g[r]
                tot = None
                for r in u:
                    term = f[r]
                    for q in u:
                        if q != r:
                            term = term * g[q]
                    tot = term if tot is None else tot + term
                fo.append(cleanup(tot))
                go.append(cleanup(gall))
        F.append(fo)
        G.append(go)
    Fo, Go = F[net.output], G[net.output]
    form = TropicalForm(
        status=Status.OK,
        F=Fo,
        G=Go,
        widths=list(net.widths),
        seed=seed,
        check_points=check_points,
        pruning_certified=certified,
        monomial_estimate=est,
    )
    form.monomials_F = [len(p) for p in Fo]
    form.monomials_G = [len(p) for p in Go]
    hv = (
        ([p.dominant_hull() for p in Fo], [p.dominant_hull() for p in Go])
        if n <= 6
        else ([None] * len(Fo), [None] * len(Go))
    )
    form.hull_vertices_F = [None if m is None else int(m.sum()) for m in hv[0]]
    form.hull_vertices_G = [None if m is None else int(m.sum()) for m in hv[1]]
    err, n_far = _spot_check(form, net, check_points, seed)
    form.max_abs_error, form.far_check_points = err, n_far
    ok_identity = math.isfinite(err) and err <= CHECK_RTOL
    if check_points == 0:
        ok_identity = False
    if not (ok_identity and (certified or not prune)):
        form.status = Status.UNCERTIFIED
    form.certificate = (
        f"F − G = f at {check_points} Gaussian points and {n_far} points on 8 lines between and beyond every "
        f"breakpoint (max relative error {err:.2g}); "
        + (
            "pruning certified exactly (witness points / Farkas certificates)"
            if prune and certified
            else "pruning not certified for every monomial (counts may include dominated monomials)"
            if prune
            else "no pruning"
        )
    )
    form.seconds = time.perf_counter() - t0
    return form


def _line_breaks(net: PWLNet, c: np.ndarray, u: np.ndarray) -> list[float]:
    """Breakpoints (float) of the network along the whole line x = c + t u, t ∈ R:

    a 1-D walk over intervals that may be unbounded.
    """
    d = net.in_dim
    pieces: list[tuple[float, float, list[np.ndarray]]] = [(-math.inf, math.inf, [np.stack([u, c], 1)])]
    breaks: set[float] = set()

    def inside(t0, t1):
        if math.isinf(t0) and math.isinf(t1):
            return 0.0
        if math.isinf(t0):
            return t1 - 1.0 - abs(t1)
        if math.isinf(t1):
            return t0 + 1.0 + abs(t0)
        return (t0 + t1) / 2

    for node in net.nodes[1:]:
        new = []
        for t0, t1, vals in pieces:
            if isinstance(node, Affine):
                Z = np.zeros((node.width, 2))
                Z[:, 1] = node.b
                for s, A in zip(node.sources, node.A):
                    Z += A @ vals[s]
                new.append((t0, t1, vals + [Z]))
                continue
            Z = vals[node.source]
            if isinstance(node, ReLU):
                lines = Z
            else:
                g = node.groups
                lines = (Z[g[:, :, None]] - Z[g[:, None, :]]).reshape(-1, 2)
            cuts = {t0, t1}
            nz = lines[:, 0] != 0
            r = -lines[nz, 1] / lines[nz, 0]
            cuts.update(float(x) for x in r[(r > t0) & (r < t1)])
            ts = sorted(cuts)
            for a, b in zip(ts, ts[1:]):
                tm = inside(a, b)
                if isinstance(node, ReLU):
                    z = Z[:, 0] * tm + Z[:, 1]
                    Y = np.where((z > 0)[:, None], Z, node.slope * Z)
                else:
                    z = Z[:, 0] * tm + Z[:, 1]
                    Y = Z[g[np.arange(len(g)), z[g].argmax(1)]]
                new.append((a, b, vals + [Y]))
            breaks.update(x for x in ts if math.isfinite(x))
        pieces = new
    del d
    return sorted(breaks)


def _spot_check(form: TropicalForm, net: PWLNet, check_points: int, seed: int) -> tuple[float, int]:
    """Max over check points of |F − G − f| / max(1, |F|, |G|, |f|), and the number of points on lines."""
    if check_points == 0:
        return float("nan"), 0
    n = net.in_dim
    rng = np.random.default_rng(seed)
    pts = [3.0 * rng.standard_normal((check_points, n))]
    n_far = 0
    for _ in range(8):
        c = 3.0 * rng.standard_normal(n)
        u = rng.standard_normal(n)
        u /= np.linalg.norm(u)
        ts = set(_line_breaks(net, c, u))
        for P in (*form.F, *form.G):  # ties of every pair of monomials along the line
            s = P.exponents @ u
            v = P.exponents @ c + P.coeffs
            i, j = np.triu_indices(len(P), 1)
            den = s[i] - s[j]
            ok = den != 0
            ts.update(((v[j] - v[i])[ok] / den[ok]).tolist())
        t = np.array(sorted(x for x in ts if math.isfinite(x)))
        if len(t) > 4 * max(check_points, 1):
            t = np.unique(np.r_[t[0], t[-1], rng.choice(t, 4 * check_points, replace=False)])
        if len(t):
            mids = (t[:-1] + t[1:]) / 2
            ends = [
                t[0] - 1 - abs(t[0]),
                t[-1] + 1 + abs(t[-1]),
                t[0] - 2 * (1 + abs(t[0])),
                t[-1] + 2 * (1 + abs(t[-1])),
            ]
            tt = np.r_[mids, ends]
        else:
            tt = np.array([-1.0, 0.0, 1.0])
        pts.append(c + tt[:, None] * u)
        n_far += len(tt)
    X = np.vstack(pts)
    want = net.forward(X)
    Fv = np.stack([f(X) for f in form.F], 1)
    Gv = np.stack([g(X) for g in form.G], 1)
    scale = np.maximum.reduce([np.ones_like(want), np.abs(Fv), np.abs(Gv), np.abs(want)])
    err = np.abs(Fv - Gv - want) / scale
    return float(err.max()), n_far


def boundary_ties(
    form: TropicalForm, points, *, output: int = 0, threshold: float = 0.0, rtol: float = 1e-7
) -> np.ndarray:
    """For each point on ``{F - G = threshold}``: does ``F ⊕ (threshold ⊙ G)`` attain its max twice (spec §1.5)?

    Monomials are kept tagged by origin (F or G) so that a shared exponent never hides a tie.
    """
    F, G = form.F[output], form.G[output]
    X = np.atleast_2d(np.asarray(points, dtype=float))
    vals = np.hstack([X @ F.exponents.T + F.coeffs, X @ G.exponents.T + G.coeffs + threshold])
    top2 = np.sort(vals, axis=1)[:, -2:]
    scale = np.maximum(1.0, np.abs(top2[:, 1]))
    return (top2[:, 1] - top2[:, 0]) <= rtol * scale


def summary(form: TropicalForm) -> dict[str, Any]:
    return {
        "monomials_F": form.monomials_F,
        "monomials_G": form.monomials_G,
        "hull_vertices_F": form.hull_vertices_F,
        "hull_vertices_G": form.hull_vertices_G,
        "max_abs_error": form.max_abs_error,
        "status": form.status.value,
    }
