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
:math:`\{x: c_i+\langle a_i,x\rangle\ge c_j+\langle a_j,x\rangle\ \forall j\}` has interior. Two
independent routes are implemented and cross-checked in tests: one LP per monomial (HiGHS through
SciPy) and the vertices of the *upper hull* of the lifted points :math:`(a_i,c_i)` (Qhull). The
vertices of the upper hull are in bijection with the linear regions of :math:`F`.

Exponents are real; identical exponents are merged (keeping the larger coefficient) after rounding
to :data:`EXPONENT_DIGITS` significant digits for hashing.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from ..errors import InputError
from ..models import relu_layers
from ..result import Result, Status

__all__ = ["TropicalPoly", "TropicalForm", "tropical", "EXPONENT_DIGITS", "PRUNE_LP_TOL", "PRUNE_LP_BOX"]

#: significant digits used to hash real exponents when merging equal monomials.
EXPONENT_DIGITS = 12
#: a monomial is kept when the LP margin of its dominance set exceeds this (scale-aware: times the coefficient scale).
PRUNE_LP_TOL = 1e-9
#: the LP searches the dominance set inside the box |x_k| <= PRUNE_LP_BOX (must exceed every breakpoint).
PRUNE_LP_BOX = 1e6


@dataclasses.dataclass
class TropicalPoly:
    """``max_i (coeffs[i] + exponents[i] · x)``; ``exponents`` is (m, n), ``coeffs`` (m,)."""

    exponents: np.ndarray
    coeffs: np.ndarray

    def __post_init__(self) -> None:
        self.exponents = np.atleast_2d(np.asarray(self.exponents, dtype=float))
        self.coeffs = np.asarray(self.coeffs, dtype=float).reshape(-1)
        if self.exponents.shape[0] != self.coeffs.shape[0]:
            raise InputError("coeffs", f"{self.coeffs.shape[0]} coefficients for {self.exponents.shape[0]} exponents")

    @property
    def n_vars(self) -> int:
        return self.exponents.shape[1]

    def __len__(self) -> int:
        return self.coeffs.shape[0]

    # ---- semiring operations
    @classmethod
    def constant(cls, c: float, n: int) -> "TropicalPoly":
        return cls(np.zeros((1, n)), [c])

    @classmethod
    def variable(cls, j: int, n: int) -> "TropicalPoly":
        e = np.zeros((1, n))
        e[0, j] = 1.0
        return cls(e, [0.0])

    def merged(self) -> "TropicalPoly":
        """Merge monomials with equal (rounded) exponents, keeping the larger coefficient."""
        if len(self) <= 1:
            return self
        key = np.array([np.format_float_positional(v, precision=EXPONENT_DIGITS, unique=False, fractional=False, trim="-")
                        if v != 0 else "0" for v in self.exponents.ravel()]).reshape(self.exponents.shape)
        best: dict[tuple, int] = {}
        for i, row in enumerate(map(tuple, key)):
            j = best.get(row)
            if j is None or self.coeffs[i] > self.coeffs[j]:
                best[row] = i
        idx = np.array(sorted(best.values()))
        return TropicalPoly(self.exponents[idx], self.coeffs[idx])

    def __add__(self, other: "TropicalPoly") -> "TropicalPoly":  # tropical sum ⊕ = max
        return TropicalPoly(np.vstack([self.exponents, other.exponents]), np.concatenate([self.coeffs, other.coeffs])).merged()

    def __mul__(self, other: "TropicalPoly") -> "TropicalPoly":  # tropical product ⊙ = +
        e = (self.exponents[:, None, :] + other.exponents[None, :, :]).reshape(-1, self.n_vars)
        c = (self.coeffs[:, None] + other.coeffs[None, :]).reshape(-1)
        return TropicalPoly(e, c).merged()

    def power(self, k: float) -> "TropicalPoly":
        """``P^{⊙k}`` for real ``k >= 0`` (scales the lifted polytope by ``k``)."""
        if k < 0:
            raise InputError("k", "tropical powers need k >= 0")
        if k == 0:
            return TropicalPoly.constant(0.0, self.n_vars)
        return TropicalPoly(self.exponents * k, self.coeffs * k)

    def shift(self, c: float) -> "TropicalPoly":  # c ⊙ P
        return TropicalPoly(self.exponents, self.coeffs + c)

    # ---- evaluation
    def __call__(self, X) -> np.ndarray:
        X = np.atleast_2d(np.asarray(X, dtype=float))
        return (X @ self.exponents.T + self.coeffs).max(axis=1)

    def argmax(self, X) -> np.ndarray:
        X = np.atleast_2d(np.asarray(X, dtype=float))
        return (X @ self.exponents.T + self.coeffs).argmax(axis=1)

    # ---- pruning
    def dominant_lp(self) -> np.ndarray:
        """Boolean mask: monomials whose dominance set has interior (one LP each, spec §1.3)."""
        from scipy.optimize import linprog

        m, n = self.exponents.shape
        if m == 1:
            return np.ones(1, bool)
        scale = max(1.0, float(np.abs(self.coeffs).max()), float(np.abs(self.exponents).max()))
        keep = np.zeros(m, bool)
        for i in range(m):
            others = np.arange(m) != i
            A = np.hstack([self.exponents[others] - self.exponents[i], np.ones((m - 1, 1))])
            bnd = self.coeffs[i] - self.coeffs[others]
            res = linprog(np.r_[np.zeros(n), -1.0], A_ub=A, b_ub=bnd,
                          bounds=[(-PRUNE_LP_BOX, PRUNE_LP_BOX)] * n + [(None, 1.0)], method="highs")
            keep[i] = res.status == 0 and -res.fun > PRUNE_LP_TOL * scale
        return keep

    def dominant_hull(self) -> np.ndarray | None:
        """Boolean mask: vertices of the upper hull of the lifted points ``(a_i, c_i)``; ``None`` if degenerate."""
        from scipy.spatial import ConvexHull, QhullError

        m, n = self.exponents.shape
        if m == 1:
            return np.ones(1, bool)
        pts = np.hstack([self.exponents, self.coeffs[:, None]])
        if n == 1:  # 2-D hull: Qhull works but handle collinear inputs
            pass
        try:
            hull = ConvexHull(pts)
        except (QhullError, ValueError):
            return None
        keep = np.zeros(m, bool)
        for eq, simplex in zip(hull.equations, hull.simplices):
            if eq[n] > 1e-12:  # outward normal with positive last (coefficient) coordinate
                keep[simplex] = True
        # a point on an upper facet but not a vertex of it is not dominant: keep only hull vertices
        vert = np.zeros(m, bool)
        vert[hull.vertices] = True
        return keep & vert

    def pruned(self, method: str = "lp") -> "TropicalPoly":
        """The same function with only the monomials whose dominance set has interior."""
        if method not in ("lp", "hull"):
            raise InputError("method", f"unknown pruning method {method!r}", "use lp or hull")
        mask = self.dominant_hull() if method == "hull" else None
        if mask is None:
            mask = self.dominant_lp()
        return TropicalPoly(self.exponents[mask], self.coeffs[mask])


def _weighted_product(polys: list[TropicalPoly], weights: np.ndarray, n: int, prune: bool) -> TropicalPoly:
    out = TropicalPoly.constant(0.0, n)
    for P, w in zip(polys, weights):
        if w > 0:
            out = out * P.power(float(w))
            if prune and len(out) > 32:
                out = out.pruned("hull")
    return out


@dataclasses.dataclass
class TropicalForm(Result):
    """``network = F - G`` output by output, with monomial counts and their certificates."""

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
    seed: int = 0

    def __call__(self, X) -> np.ndarray:
        """Evaluate ``F - G``: shape (N, k)."""
        return np.stack([f(X) - g(X) for f, g in zip(self.F, self.G)], axis=1)

    def cells(self, output: int = 0) -> int:
        """Cells of the common refinement of ``F`` and ``G`` (pairs whose dominance sets meet with interior, spec §1.4)."""
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
                res = linprog(np.r_[np.zeros(n), -1.0], A_ub=A, b_ub=b,
                              bounds=[(-PRUNE_LP_BOX, PRUNE_LP_BOX)] * n + [(None, 1.0)], method="highs")
                count += int(res.status == 0 and -res.fun > PRUNE_LP_TOL)
        return count


def tropical(model, *, prune: bool = True, check_points: int = 256, seed: int = 0) -> TropicalForm:
    """Tropical form ``(F, G)`` of a ReLU MLP (``nn.Sequential`` of Linear/ReLU) by the ZNL recursion.

    ``prune`` removes dominated monomials after every layer (never changes the function). The
    certificate ``max_abs_error`` is ``max |F(x) - G(x) - f(x)|`` over ``check_points`` seeded
    Gaussian inputs (scaled by 3), computed against an independent float64 forward pass.
    """
    t0 = time.perf_counter()
    layers = relu_layers(model)
    n = layers[0][0].shape[1]
    widths = [n] + [W.shape[0] for W, _ in layers]
    F = [TropicalPoly.variable(j, n) for j in range(n)]
    G = [TropicalPoly.constant(0.0, n) for _ in range(n)]
    for li, (W, b) in enumerate(layers):
        Wp, Wm = np.maximum(W, 0.0), np.maximum(-W, 0.0)
        last = li == len(layers) - 1
        newF, newG = [], []
        for i in range(W.shape[0]):
            H = _weighted_product(F, Wp[i], n, prune) * _weighted_product(G, Wm[i], n, prune)
            H = H.shift(float(b[i]))
            Gp = _weighted_product(F, Wm[i], n, prune) * _weighted_product(G, Wp[i], n, prune)
            Fn = H if last else H + Gp  # max(H, G' + t) with t = 0
            if prune:
                Fn, Gp = Fn.pruned("hull"), Gp.pruned("hull")
            newF.append(Fn)
            newG.append(Gp)
        F, G = newF, newG
    rng = np.random.default_rng(seed)
    X = 3.0 * rng.standard_normal((check_points, n))
    h = X
    for li, (W, b) in enumerate(layers):
        h = h @ W.T + b
        if li < len(layers) - 1:
            h = np.maximum(h, 0.0)
    form = TropicalForm(status=Status.OK, F=F, G=G, widths=widths, seed=seed, check_points=check_points)
    err = float(np.abs(form(X) - h).max()) if check_points else float("nan")
    scale = max(1.0, float(np.abs(h).max())) if check_points else 1.0
    form.max_abs_error = err
    form.monomials_F = [len(p) for p in F]
    form.monomials_G = [len(p) for p in G]
    hv = [p.dominant_hull() for p in F], [p.dominant_hull() for p in G]
    form.hull_vertices_F = [None if m is None else int(m.sum()) for m in hv[0]]
    form.hull_vertices_G = [None if m is None else int(m.sum()) for m in hv[1]]
    if not err <= 1e-9 * scale:
        form.status = Status.UNCERTIFIED
    form.seconds = time.perf_counter() - t0
    return form


def boundary_ties(form: TropicalForm, points, *, output: int = 0, threshold: float = 0.0, rtol: float = 1e-7) -> np.ndarray:
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
    return {"monomials_F": form.monomials_F, "monomials_G": form.monomials_G, "hull_vertices_F": form.hull_vertices_F,
            "hull_vertices_G": form.hull_vertices_G, "max_abs_error": form.max_abs_error, "status": form.status.value}
