r"""Exact partition of a convex polygon of a 2-D affine slice by a piecewise-linear program.

The slice is :math:`x = p + \alpha u + \beta v`; on a piece where every earlier decision is fixed,
every node of the :class:`~tamelab.models.PWLNet` is affine in :math:`(\alpha,\beta)`, stored as an
``n × 3`` matrix (columns :math:`\alpha, \beta, 1`). Node by node every piece is cut by the zero lines
of the ReLU units that change sign on it and, for a Max node, by the lines :math:`z_j = z_k` between
the candidates of a group. A 1-D segment is the slice with :math:`v = 0` on the unit square (its
pieces are vertical strips).

**Filtered exact predicates** (Shewchuk / CGAL style). Lines are homogeneous 3-vectors, a vertex is
the homogeneous point :math:`l_1\times l_2` (or a domain corner), and every combinatorial decision
is the sign of :math:`l\cdot p`. Each float quantity carries a rigorous forward error bound:
affine maps :math:`Z = \sum_s A_s M_s + b` get :math:`|Z-\tilde Z| \le \sum_s |A_s| E_s +
\gamma_{N}(\sum_s |A_s||\tilde M_s| + |b|)` (:math:`\gamma_n = nu/(1-nu)`, :math:`u=2^{-53}`), cross
products and dot products likewise. A sign is taken from float arithmetic when :math:`|\tilde v|`
exceeds its bound; otherwise (ties, near-degenerate and non-finite cases) it is recomputed in exact
integer arithmetic from the dyadic values of the float64 weights and slice (every float64 is
:math:`m\,2^e`). So with ``exact=True`` every decision is the decision of exact arithmetic: a piece is
kept iff it has positive area, none is dropped by a tolerance, and the count is exact for the
program's float64 weights. ``exact=False`` decides signs with a relative tolerance instead (fast,
uncertified). Adjacency of the final pieces (for linear regions) is exact too: both sides of a
cut share a *tag*, and two pieces are adjacent iff their edges with one tag overlap with positive
length (compared with the same filtered predicates).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from .._numerics import PLANAR_FLOAT_RTOL, PLANAR_W_RTOL
from ..models._pwl import Affine, Max, PWLNet, ReLU

U = 2.0**-53
#: relative error inflation of computed error bounds (covers the rounding of the bound arithmetic)
_INFL = 1.0 + 2.0**-40
#: absolute floor of every error bound (covers underflow of products)
_TINY = 1e-290
#: float mode: a value is "zero" when below this times its scale.
FLOAT_SIGN_RTOL = PLANAR_FLOAT_RTOL


def _gamma(n: int) -> float:
    return n * U / (1 - n * U)


_G2, _G3, _G4 = _gamma(2), _gamma(3), _gamma(4)


# ---------------------------------------------------------------------------------- dyadic exact
def _dyadic(a: np.ndarray) -> tuple[np.ndarray, int]:
    """``a = ints · 2**e`` exactly (ints an object array of Python ints)."""
    a = np.asarray(a, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError("non-finite value in exact arithmetic")
    m, e = np.frexp(a)
    mi = (m * 2.0**53).astype(np.int64)
    e = e.astype(np.int64) - 53
    nz = mi != 0
    E = int(e[nz].min()) if nz.any() else 0
    flat = [int(x) << int(s) if x else 0 for x, s in zip(mi.ravel().tolist(), (e - E).ravel().tolist())]
    out = np.empty(a.size, dtype=object)
    out[:] = flat
    return out.reshape(a.shape), E


def _align(x: tuple[np.ndarray, int], e: int) -> np.ndarray:
    ints, ex = x
    return ints * (1 << (ex - e)) if ex > e else ints


class _Exact:
    """Exact (dyadic) weights of a program, computed once."""

    def __init__(self, net: PWLNet) -> None:
        self.net = net
        self.A: dict[int, list[tuple[np.ndarray, int]]] = {}
        self.b: dict[int, tuple[np.ndarray, int]] = {}
        self.slope: dict[int, tuple[int, int]] = {}

    def affine(self, k: int) -> tuple[list[tuple[np.ndarray, int]], tuple[np.ndarray, int]]:
        if k not in self.A:
            node = self.net.nodes[k]
            self.A[k] = [_dyadic(A) for A in node.A]
            self.b[k] = _dyadic(node.b)
        return self.A[k], self.b[k]

    def slope_of(self, k: int) -> tuple[int, int]:
        if k not in self.slope:
            ints, e = _dyadic(np.array([self.net.nodes[k].slope]))
            self.slope[k] = (int(ints[0]), e)
        return self.slope[k]


# ---------------------------------------------------------------------------------- node values
class _Val:
    """A node's value on a piece:

    float map ``M`` (n×3), error bound ``E`` (or None in float mode), and how to recompute it exactly (``kind``,
    ``src``, ``info``).
    """

    __slots__ = ("E", "M", "_x", "info", "kind", "node", "src")

    def __init__(self, M, E, kind, node, src, info=None):
        self.M, self.E, self.kind, self.node, self.src, self.info, self._x = M, E, kind, node, src, info, None

    def exact(self, ex: _Exact) -> tuple[np.ndarray, int]:
        if self._x is None:
            if self.kind == "input":
                self._x = self.info
            elif self.kind == "affine":
                As, b = ex.affine(self.node)
                parts = [(Ai.dot(s.exact(ex)[0]), ea + s.exact(ex)[1]) for (Ai, ea), s in zip(As, self.src)]
                bi, eb = b
                bcol = np.zeros((len(bi), 3), dtype=object)
                bcol[:, 2] = bi
                parts.append((bcol, eb))
                e = min(p[1] for p in parts)
                tot = _align(parts[0], e)
                for p in parts[1:]:
                    tot = tot + _align(p, e)
                self._x = (tot, e)
            elif self.kind == "relu":
                ints, e = self.src[0].exact(ex)
                bits = self.info
                slope_i, slope_e = ex.slope_of(self.node)
                if slope_i == 0:
                    self._x = (ints * bits[:, None].astype(object), e)
                else:  # rows with bit 0 are multiplied by the slope
                    ee = min(e, e + slope_e)
                    on = _align((ints, e), ee)
                    off = _align((ints * slope_i, e + slope_e), ee)
                    self._x = (np.where(bits[:, None] > 0, on, off), ee)
            elif self.kind == "max":
                ints, e = self.src[0].exact(ex)
                self._x = (ints[self.info], e)
            else:  # pragma: no cover
                raise AssertionError(self.kind)
        return self._x


# ---------------------------------------------------------------------------------- lines, points
class _Line:
    __slots__ = ("_x", "e", "kind", "l", "ref")

    def __init__(self, ell, e, kind, ref):
        self.l, self.e, self.kind, self.ref, self._x = ell, e, kind, ref, None

    def exact(self, ex: _Exact) -> tuple[int, int, int]:
        if self._x is None:
            if self.kind == "int":
                self._x = self.ref
            elif self.kind == "row":
                val, i = self.ref
                r = val.exact(ex)[0][i]
                self._x = (int(r[0]), int(r[1]), int(r[2]))
            else:  # "diff": row j − row k
                val, j, k = self.ref
                X = val.exact(ex)[0]
                self._x = tuple(int(X[j][c] - X[k][c]) for c in range(3))
        return self._x


class _Pt:
    __slots__ = ("_x", "e", "kind", "p", "ref")

    def __init__(self, p, e, kind, ref):
        self.p, self.e, self.kind, self.ref, self._x = p, e, kind, ref, None

    def exact(self, ex: _Exact) -> tuple[int, int, int]:
        if self._x is None:
            if self.kind == "int":
                self._x = self.ref
            else:
                a, b = self.ref[0].exact(ex), self.ref[1].exact(ex)
                x, y, w = a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]
                if w == 0:  # pragma: no cover - a crossing of two parallel lines cannot be created
                    raise AssertionError("vertex at infinity")
                self._x = (x, y, w) if w > 0 else (-x, -y, -w)
        return self._x


@dataclasses.dataclass
class Stats:
    exact_fallbacks: int = 0
    decisions: int = 0
    pieces_peak: int = 0


class _Ctx:
    def __init__(self, net: PWLNet, exact: bool) -> None:
        self.ex = _Exact(net)
        self.exact = exact
        self.stats = Stats()
        self.tag = 0
        self._sigs: dict[Any, int] = {}
        self._rows: dict[int, list[int]] = {}
        self._keep: list[_Val] = []

    def _intern(self, key: Any) -> int:
        return self._sigs.setdefault(key, len(self._sigs))

    def _row_sigs(self, val: _Val) -> list[int]:
        """Per-row structural signatures: rows with equal signatures have equal exact values."""
        key = id(val)
        got = self._rows.get(key)
        if got is not None:
            return got
        if val.kind == "input":
            rows = [self._intern(("x", r)) for r in range(val.M.shape[0])]
        elif val.kind == "affine":
            srcs = tuple(self._intern(tuple(self._row_sigs(sv))) for sv in val.src)
            base = self._intern(("A", val.node, srcs))
            rows = [self._intern((base, r)) for r in range(val.M.shape[0])]
        elif val.kind == "relu":
            src = self._row_sigs(val.src[0])
            zero = self._intern(("0",))
            slope0 = self.ex.net.nodes[val.node].slope == 0.0
            rows = [
                zero if (b == 0 and slope0) else self._intern(("R", val.node, int(b), src[r]))
                for r, b in enumerate(val.info.tolist())
            ]
        else:
            src = self._row_sigs(val.src[0])
            rows = [src[r] for r in val.info.tolist()]
        self._rows[key] = rows
        self._keep.append(val)  # ids stay valid while memoised
        return rows

    def signature(self, val: _Val) -> int:
        return self._intern(tuple(self._row_sigs(val)))

    def new_tag(self) -> int:
        self.tag += 1
        return self.tag

    # ---- the predicate
    def sign(self, L: _Line, P: _Pt) -> int:
        ell, el, p, ep = L.l, L.e, P.p, P.e
        v = ell[0] * p[0] + ell[1] * p[1] + ell[2] * p[2]
        self.stats.decisions += 1
        if not self.exact:
            sc = abs(ell[0] * p[0]) + abs(ell[1] * p[1]) + abs(ell[2] * p[2])
            if v > FLOAT_SIGN_RTOL * sc:
                return 1
            if v < -FLOAT_SIGN_RTOL * sc:
                return -1
            return 0
        ap0, ap1, ap2 = abs(p[0]), abs(p[1]), abs(p[2])
        al0, al1, al2 = abs(ell[0]), abs(ell[1]), abs(ell[2])
        bound = (
            al0 * ep[0]
            + al1 * ep[1]
            + al2 * ep[2]
            + el[0] * (ap0 + ep[0])
            + el[1] * (ap1 + ep[1])
            + el[2] * (ap2 + ep[2])
            + _G4 * (al0 * ap0 + al1 * ap1 + al2 * ap2)
        ) * _INFL + _TINY
        if v > bound:
            return 1
        if v < -bound:
            return -1
        return self.exact_sign(L, P)

    def exact_sign(self, L: _Line, P: _Pt) -> int:
        self.stats.exact_fallbacks += 1
        a, q = L.exact(self.ex), P.exact(self.ex)
        s = a[0] * q[0] + a[1] * q[1] + a[2] * q[2]
        return (s > 0) - (s < 0)

    def _vals(self, M: np.ndarray, E: np.ndarray | None, pts: list[_Pt]):
        """Values of the rows of ``M`` at the points and their error bounds (None in float mode: scales)."""
        Pm = np.array([q.p for q in pts])
        S = M @ Pm.T
        self.stats.decisions += S.size
        aM, aP = np.abs(M), np.abs(Pm)
        if not self.exact:
            return S, FLOAT_SIGN_RTOL * (aM @ aP.T)
        EP = np.array([q.e for q in pts])
        B = (aM @ EP.T + E @ (aP + EP).T + _G4 * (aM @ aP.T)) * _INFL + _TINY
        return S, B

    def rows_signs(self, val: _Val, rows: np.ndarray, pts: list[_Pt]) -> np.ndarray:
        """Signs of the given rows of ``val`` at the points (len(rows) × V), with exact fallback."""
        S, B = self._vals(val.M[rows], None if val.E is None else val.E[rows], pts)
        pos, neg = S > B, S < -B
        sg = pos.astype(np.int8) - neg.astype(np.int8)
        if self.exact:
            amb = ~(pos | neg)
            if amb.any():  # rows that are exactly zero (masked units: value and error bound 0) need no look
                amb &= ~self._zero_rows(val, rows)[:, None]
            if amb.any():
                for a, q in zip(*np.nonzero(amb)):
                    sg[a, q] = self.exact_sign(self.row_line(val, int(rows[a])), pts[q])
        return sg

    def max_alive(self, val: _Val, cands: np.ndarray, ncand: np.ndarray, pts: list[_Pt]) -> np.ndarray:
        """For each group (row of ``cands``, first ``ncand`` entries distinct):

        which candidates may be the first maximum somewhere in the polygon (c is dropped when a d is >= c at every
        vertex, and for identically equal candidates the later one is dropped).
        """
        g, kk = cands.shape
        S, B = self._vals(val.M[cands.ravel()], None if val.E is None else val.E[cands.ravel()], pts)
        V = S.shape[1]
        S, B = S.reshape(g, kk, V), B.reshape(g, kk, V)
        # fast path: one candidate is the maximum at every vertex with a certified margin
        top = S.argmax(1)  # g × V
        uni = (top == top[:, :1]).all(1)
        alive = np.zeros((g, kk), dtype=bool)
        if uni.any():
            c = top[uni, 0]
            Su, Bu = S[uni], B[uni]
            sc = np.take_along_axis(Su, c[:, None, None], 1)
            bc = np.take_along_axis(Bu, c[:, None, None], 1)
            diff = sc - Su
            margin = Bu + bc + (U * np.abs(diff) if self.exact else 0.0)
            ok_d = (diff > margin) | (np.arange(kk)[None, :, None] == c[:, None, None])
            ok_d |= np.arange(kk)[None, :, None] >= ncand[uni][:, None, None]
            fixed = ok_d.all((1, 2))
            idx = np.nonzero(uni)[0][fixed]
            alive[idx, c[fixed]] = True
            rest = np.ones(g, dtype=bool)
            rest[idx] = False
        else:
            rest = np.ones(g, dtype=bool)
        if not rest.any():
            return alive
        sub = np.nonzero(rest)[0]
        alive[sub] = self._max_alive_full(val, cands[sub], ncand[sub], pts, S[sub], B[sub])
        return alive

    def _max_alive_full(
        self, val: _Val, cands: np.ndarray, ncand: np.ndarray, pts: list[_Pt], S: np.ndarray, B: np.ndarray
    ) -> np.ndarray:
        g, kk = cands.shape
        D = S[:, :, None, :] - S[:, None, :, :]  # D[g, c, d, v] = z_c − z_d
        if self.exact:
            BD = (B[:, :, None, :] + B[:, None, :, :] + U * np.abs(D)) * _INFL + _TINY
        else:
            BD = B[:, :, None, :] + B[:, None, :, :]
        pos, neg = D > BD, D < -BD
        sg = pos.astype(np.int8) - neg.astype(np.int8)
        valid = np.arange(kk)[None, :] < ncand[:, None]  # g × kk
        pair = valid[:, :, None] & valid[:, None, :] & ~np.eye(kk, dtype=bool)[None]
        if self.exact:
            amb = ~(pos | neg) & pair[..., None]
            if amb.any():
                z = self._zero_rows(val, cands.ravel()).reshape(g, kk)
                amb &= ~(z[:, :, None] & z[:, None, :])[..., None]
            if amb.any():
                for gi, c, d, q in zip(*np.nonzero(amb)):
                    if c < d:  # antisymmetric: decide once
                        L = self.diff_line(val, int(cands[gi, c]), int(cands[gi, d]))
                        x = self.exact_sign(L, pts[q])
                        sg[gi, c, d, q], sg[gi, d, c, q] = x, -x
        # d dominates c: z_d − z_c >= 0 at all vertices and (> 0 somewhere, or d comes first)
        ge = (sg >= 0).all(3)  # ge[g, c, d]: z_c >= z_d everywhere
        gt = (sg > 0).any(3)
        earlier = np.arange(kk)[:, None] < np.arange(kk)[None, :]  # earlier[c, d]: c before d
        dom = ge & (gt | earlier[None]) & pair  # dom[g, c, d]: c eliminates d
        alive = valid & ~dom.any(1)
        return alive

    @staticmethod
    def _zero_rows(val: _Val, rows: np.ndarray) -> np.ndarray:
        """Rows that are exactly zero: float value 0 with error bound 0 (a unit masked by an off ReLU)."""
        return ~(val.M[rows].any(1) | val.E[rows].any(1))

    def row_line(self, val: _Val, i: int) -> _Line:
        return _Line(tuple(val.M[i].tolist()), None if val.E is None else tuple(val.E[i].tolist()), "row", (val, i))

    def diff_line(self, val: _Val, j: int, k: int) -> _Line:
        a, b = val.M[j], val.M[k]
        d = a - b
        e = None
        if val.E is not None:
            e = tuple((val.E[j] + val.E[k] + U * np.abs(d)) * _INFL + _TINY)
        return _Line(tuple(d.tolist()), e, "diff", (val, j, k))

    def cross(self, A: _Line, B: _Line) -> _Pt:
        a, b = A.l, B.l
        x = a[1] * b[2] - a[2] * b[1]
        y = a[2] * b[0] - a[0] * b[2]
        w = a[0] * b[1] - a[1] * b[0]
        if not self.exact:
            if w < 0:
                x, y, w = -x, -y, -w
            return _Pt((x, y, w), None, "cross", (A, B))
        ea, eb = A.e, B.e

        def err(i, j):  # bound of |a_i b_j − a_j b_i| error
            return (
                abs(a[i]) * eb[j]
                + ea[i] * (abs(b[j]) + eb[j])
                + abs(a[j]) * eb[i]
                + ea[j] * (abs(b[i]) + eb[i])
                + _G2 * (abs(a[i] * b[j]) + abs(a[j] * b[i]))
            ) * _INFL + _TINY

        e = (err(1, 2), err(2, 0), err(0, 1))
        P = _Pt((x, y, w), e, "cross", (A, B))
        if not (abs(w) > e[2] and math.isfinite(w)):
            q = P.exact(self.ex)  # exact sign of w (it is nonzero), normalised inside
            self.stats.exact_fallbacks += 1
            if (w > 0) != (q[2] > 0) or not math.isfinite(w):
                x, y, w = -x, -y, -w
            if not math.isfinite(x * y * w):  # far outside the float range: use the exact point rounded
                s = max(abs(c) for c in q)
                x, y, w = (float(Fraction(c, s)) for c in q)
                e = (abs(x) + 1.0, abs(y) + 1.0, abs(w) + 1.0)  # forces exact decisions for this point
            P.p, P.e = (x, y, w), e
        elif w < 0:
            P.p = (-x, -y, -w)
        return P


# ---------------------------------------------------------------------------------- polygons
class _Poly:
    """Convex polygon: vertices ``pts`` (k) and edges ``edges[k] = (line, tag)`` from pts[k] to pts[k+1]."""

    __slots__ = ("edges", "pattern", "pts", "uid", "vals")

    def __init__(self, pts, edges, vals, pattern):
        self.pts, self.edges, self.vals, self.pattern = pts, edges, vals, pattern


def _clip(ctx: _Ctx, pts: list[_Pt], edges: list, signs: Sequence[int], L: _Line, tag: int, keep: int):
    """The part of the polygon where ``keep · L ≥ 0`` (signs of L at the vertices given; both sides occur)."""
    s = [keep * x for x in signs]
    n = len(pts)
    out_p: list[_Pt] = []
    out_e: list = []
    for k in range(n):
        sk, sn = s[k], s[(k + 1) % n]
        E = edges[k]
        if sk >= 0:
            out_p.append(pts[k])
            if sk > 0 or sn > 0:
                out_e.append(E)
            else:  # on L, next vertex outside: boundary follows L
                out_e.append((L, tag))
        if (sk > 0 and sn < 0) or (sk < 0 and sn > 0):
            out_p.append(ctx.cross(E[0], L))
            out_e.append((L, tag) if sk > 0 else E)
    return out_p, out_e


def _area_centroid(pts: list[_Pt]) -> tuple[float, float, float]:
    """Area and centroid (float) of the polygon, translated to its first vertex to limit cancellation."""
    xy = [(q.p[0] / q.p[2], q.p[1] / q.p[2]) for q in pts]
    ox, oy = xy[0]
    a = cx = cy = 0.0
    n = len(xy)
    for k in range(n):
        x0, y0 = xy[k][0] - ox, xy[k][1] - oy
        x1, y1 = xy[(k + 1) % n][0] - ox, xy[(k + 1) % n][1] - oy
        c = x0 * y1 - x1 * y0
        a += c
        cx += (x0 + x1) * c
        cy += (y0 + y1) * c
    if a == 0:
        mx = sum(p[0] for p in xy) / n
        my = sum(p[1] for p in xy) / n
        return 0.0, mx, my
    return abs(a) / 2, ox + cx / (3 * a), oy + cy / (3 * a)


# ---------------------------------------------------------------------------------- the splitter
class BudgetExceeded(Exception):
    def __init__(self, pieces: int) -> None:
        super().__init__(pieces)
        self.pieces = pieces


@dataclasses.dataclass
class Piece:
    """A final piece: vertices (float, plane coordinates), pattern, output map (k×3 float) and its error."""

    vertices: list[tuple[float, float]]
    pattern: tuple[int, ...]
    out: np.ndarray
    out_err: np.ndarray | None
    area: float
    centroid: tuple[float, float]
    _poly: Any = dataclasses.field(repr=False, default=None)
    val: Any = dataclasses.field(repr=False, default=None)


def split_input(
    net: PWLNet,
    M0: np.ndarray,
    E0: np.ndarray | None,
    X0: tuple[np.ndarray, int],
    polygon: Sequence[Sequence[float]],
    *,
    exact: bool = True,
    max_pieces: int | None = None,
) -> tuple[list[Piece], _Ctx]:
    """All pieces of the convex ``polygon`` (plane coordinates) for the input map ``x = M0 @ (α, β, 1)``.

    ``E0`` bounds ``|M0 − exact|`` entrywise; ``X0 = (ints, e)`` is the exact map ``ints · 2**e``.
    """
    ctx = _Ctx(net, exact)
    v0 = _Val(np.asarray(M0, float), (np.asarray(E0, float) * _INFL + _TINY) if exact else None, "input", 0, (), X0)
    # domain polygon: exact corners, exact edge lines
    corners = []
    for a, b in polygon:
        (ai, bi), e = _dyadic(np.array([float(a), float(b)]))
        E = min(e, 0)
        q = (int(ai) << (e - E), int(bi) << (e - E), 1 << (0 - E))
        corners.append(_Pt((float(a), float(b), 1.0), (0.0, 0.0, 0.0) if exact else None, "int", q))
    edges = []
    for k in range(len(corners)):
        p, q = corners[k].ref, corners[(k + 1) % len(corners)].ref
        li = (p[1] * q[2] - p[2] * q[1], p[2] * q[0] - p[0] * q[2], p[0] * q[1] - p[1] * q[0])
        s = max(abs(c) for c in li)
        lf = tuple(float(Fraction(c, s)) for c in li)
        L = _Line(lf, tuple(U * abs(c) + _TINY for c in lf) if exact else None, "int", li)
        edges.append((L, -1))
    pieces = [_Poly(corners, edges, [v0], ())]
    gam = {}
    for k in range(1, len(net.nodes)):
        node = net.nodes[k]
        if isinstance(node, Affine):
            N = sum(A.shape[1] for A in node.A) + len(node.A) + 1
            g = gam.setdefault(N, _gamma(N))
            for lo in range(0, len(pieces), 512):  # batched over pieces: (P, w, 3) stacks
                chunk = pieces[lo : lo + 512]
                srcs = [[pc.vals[s] for s in node.sources] for pc in chunk]
                Z = np.zeros((len(chunk), node.width, 3))
                Z[:, :, 2] = node.b
                acc = E = None
                if exact:
                    acc = np.zeros_like(Z)
                    acc[:, :, 2] = np.abs(node.b)
                    E = np.zeros_like(Z)
                for q, A in enumerate(node.A):
                    Ms = np.stack([sv[q].M for sv in srcs])
                    Z += np.matmul(A, Ms)
                    if exact:
                        Aa = np.abs(A)
                        acc += np.matmul(Aa, np.abs(Ms))
                        E += np.matmul(Aa, np.stack([sv[q].E for sv in srcs]))
                if exact:
                    E = (E + g * acc) * _INFL + _TINY
                for t, pc in enumerate(chunk):
                    pc.vals = pc.vals + [_Val(Z[t], None if E is None else E[t], "affine", k, srcs[t])]
        elif isinstance(node, ReLU):
            pieces = _split_relu(ctx, pieces, k, node, max_pieces)
        elif isinstance(node, Max):
            pieces = _split_max(ctx, pieces, k, node, max_pieces)
        else:  # pragma: no cover
            raise TypeError(type(node))
        ctx.stats.pieces_peak = max(ctx.stats.pieces_peak, len(pieces))
    out = []
    for pc in pieces:
        val = pc.vals[net.output]
        area, cx, cy = _area_centroid(pc.pts)
        out.append(
            Piece(
                [(q.p[0] / q.p[2], q.p[1] / q.p[2]) for q in pc.pts], pc.pattern, val.M, val.E, area, (cx, cy), pc, val
            )
        )
    return out, ctx


def _split_relu(ctx: _Ctx, pieces: list[_Poly], k: int, node: ReLU, max_pieces: int | None) -> list[_Poly]:
    """Refine every piece by the zero lines of the source's units:

    recursively, the sign matrix of the still undecided units at the polygon's vertices decides which units are on/off
    and which cut; the polygon is cut by the first cutting unit and both halves recurse (a unit that does not cut a
    polygon cannot cut its sub-polygons).
    """
    new: list[_Poly] = []
    slope = float(node.slope)
    for pc in pieces:
        val = pc.vals[node.source]
        n = val.M.shape[0]
        stack = [(pc.pts, pc.edges, np.zeros(n, dtype=bool), np.arange(n))]
        while stack:
            pts, edges, bits, pending = stack.pop()
            sg = ctx.rows_signs(val, pending, pts)
            on = (sg >= 0).all(1) & (sg > 0).any(1)
            off = (sg <= 0).all(1)
            bits[pending[on]] = True
            cut = ~on & ~off
            if not cut.any():
                if slope == 0.0:
                    M2 = val.M * bits[:, None]
                    E2 = None if val.E is None else val.E * bits[:, None]
                else:
                    f = np.where(bits, 1.0, slope)[:, None]
                    M2 = val.M * f
                    E2 = None if val.E is None else (val.E * np.abs(f) + U * np.abs(M2)) * _INFL + _TINY
                nv = _Val(M2, E2, "relu", k, (val,), bits.astype(np.int64))
                new.append(_Poly(pts, edges, pc.vals + [nv], pc.pattern + tuple(bits.astype(np.int8).tolist())))
                if max_pieces is not None and len(new) > max_pieces:
                    raise BudgetExceeded(len(new))
                continue
            ci = np.nonzero(cut)[0]
            i = int(pending[ci[0]])
            rest = pending[ci[1:]]
            s = sg[ci[0]].tolist()
            L = ctx.row_line(val, i)
            tag = ctx.new_tag()
            qp, qe = _clip(ctx, pts, edges, s, L, tag, -1)
            stack.append((qp, qe, bits.copy(), rest))
            pp, pe = _clip(ctx, pts, edges, s, L, tag, 1)
            b1 = bits.copy()
            b1[i] = True
            stack.append((pp, pe, b1, rest))
    return new


def _split_max(ctx: _Ctx, pieces: list[_Poly], k: int, node: Max, max_pieces: int | None) -> list[_Poly]:
    """Refine every piece by the cells of each max group:

    a candidate is dropped on a polygon when another one is >= it at every vertex (for identical candidates the later
    position is dropped); a group with several live candidates splits the polygon into their cells (clipping by
    ``z_c >= z_d``).
    """
    groups = node.groups
    m, kk = groups.shape
    # candidates: distinct source rows in order of first position, padded by repeating the first
    cands = np.empty((m, kk), dtype=np.int64)
    ncand = np.empty(m, dtype=np.int64)
    firstpos: list[dict[int, int]] = []
    for g, grp in enumerate(groups.tolist()):
        fp: dict[int, int] = {}
        for p_, r in enumerate(grp):
            fp.setdefault(r, p_)
        firstpos.append(fp)
        rows = list(fp)
        ncand[g] = len(rows)
        cands[g] = rows + [rows[0]] * (kk - len(rows))
    valid = np.arange(kk)[None, :] < ncand[:, None]
    pos_of = np.full((m, int(groups.max()) + 1), -1, dtype=np.int64)  # pos_of[g, row] = first position of row
    for g, fp in enumerate(firstpos):
        for r, p_ in fp.items():
            pos_of[g, r] = p_
    ar = np.arange(m)
    src_node = ctx.ex.net.nodes[node.source]
    relu_src = isinstance(src_node, ReLU) and src_node.slope == 0.0
    new: list[_Poly] = []
    for pc in pieces:
        val = pc.vals[node.source]
        choice0 = np.full(m, -1, dtype=np.int64)
        pending0 = np.arange(m)
        if relu_src:
            # after a ReLU the units that are off on this piece are exactly 0 and the on ones are >= 0 with
            # positive values inside: a group with no unit on takes its first position, a group with one unit
            # on takes it, and only groups with >= 2 units on need comparisons (decided exactly, no arithmetic)
            on = (val.info[cands] > 0) & valid
            non = on.sum(1)
            choice0 = np.where(non == 0, cands[:, 0], cands[np.arange(m), on.argmax(1)])
            choice0[non >= 2] = -1
            pending0 = np.nonzero(non >= 2)[0]
        stack = [(pc.pts, pc.edges, choice0, pending0)]
        while stack:
            pts, edges, choice, pending = stack.pop()
            if len(pending) == 0:
                alive = np.zeros((0, kk), dtype=bool)
            else:
                alive = ctx.max_alive(val, cands[pending], ncand[pending], pts)  # (len(pending) × kk) bool
            nal = alive.sum(1)
            fixed = nal == 1
            choice[pending[fixed]] = cands[pending[fixed], alive[fixed].argmax(1)]
            multi = np.nonzero(~fixed)[0]
            if len(multi) == 0:
                rows = choice.copy()
                nv = _Val(val.M[rows], None if val.E is None else val.E[rows], "max", k, (val,), rows)
                pattern = tuple(pos_of[ar, rows].tolist())
                new.append(_Poly(pts, edges, pc.vals + [nv], pc.pattern + pattern))
                if max_pieces is not None and len(new) > max_pieces:
                    raise BudgetExceeded(len(new))
                continue
            g = int(pending[multi[0]])
            rest = pending[multi[1:]]
            live = [int(c) for c, a in zip(cands[g], alive[multi[0]]) if a]
            tags: dict[tuple[int, int], int] = {}
            for c in live:
                cp, ce, ok = pts, edges, True
                for d in live:
                    if d == c:
                        continue
                    L = ctx.diff_line(val, c, d)
                    s = [ctx.sign(L, q) for q in cp]
                    if all(x >= 0 for x in s):
                        if not any(x > 0 for x in s) and live.index(d) < live.index(c):
                            ok = False
                            break
                        continue
                    if all(x <= 0 for x in s):
                        ok = False
                        break
                    tag = tags.setdefault((min(c, d), max(c, d)), ctx.new_tag())
                    cp, ce = _clip(ctx, cp, ce, s, L, tag, 1)
                if ok:
                    ch = choice.copy()
                    ch[g] = c
                    stack.append((cp, ce, ch, rest))
    return new


# ---------------------------------------------------------------------------------- adjacency
def linear_pairs(ctx: _Ctx, pieces: list[Piece]) -> list[tuple[int, int]]:
    """Pairs of pieces that share a boundary segment and have the same output map.

    Pairs of pieces that share a boundary segment of positive length *and* have the same output map
    (the edges of the linear-region graph). Both sides of every cut carry its tag; per tag, candidate
    pairs are found by a float sweep along the line with slack, pairs with certifiably different maps
    are dropped, and the rest are decided with the exact overlap and map predicates.
    """
    by_tag: dict[int, list[tuple[int, _Pt, _Pt]]] = {}
    lines: dict[int, _Line] = {}
    for i, pc in enumerate(pieces):
        poly = pc._poly
        n = len(poly.pts)
        for k, (L, tag) in enumerate(poly.edges):
            if tag >= 0:
                by_tag.setdefault(tag, []).append((i, poly.pts[k], poly.pts[(k + 1) % n]))
                lines.setdefault(tag, L)
    cand: list[tuple[int, int, _Line, _Pt, _Pt, _Pt, _Pt]] = []
    for tag, items in by_tag.items():
        if len(items) < 2:
            continue
        L = lines[tag]
        d0, d1 = L.l[1], -L.l[0]
        iv = []
        for i, a, b in items:
            ka = (d0 * a.p[0] + d1 * a.p[1]) / a.p[2]
            kb = (d0 * b.p[0] + d1 * b.p[1]) / b.p[2]
            iv.append((ka, kb, i, a, b) if ka <= kb else (kb, ka, i, b, a))
        iv.sort(key=lambda t: t[0])
        scale = max(abs(iv[0][0]), abs(iv[-1][1]), max(t[1] - t[0] for t in iv), 1e-300)
        slack = 1e-9 * scale
        for x in range(len(iv)):
            s0, e0, i, a, b = iv[x]
            for y in range(x + 1, len(iv)):
                s1, e1, j, c, e = iv[y]
                if s1 >= e0 + slack:
                    break
                if i != j and min(e0, e1) - max(s0, s1) >= -slack:
                    cand.append((i, j, L, a, b, c, e))
    if not cand:
        return []
    # certifiably different output maps (vectorised) need no further look
    outs = np.stack([pc.out for pc in pieces])
    idx = np.array([c[0] for c in cand])
    J = np.array([c[1] for c in cand])
    D = np.abs(outs[idx] - outs[J]).reshape(len(cand), -1)
    if ctx.exact:
        errs = np.stack([pc.out_err for pc in pieces])
        B = ((errs[idx] + errs[J]).reshape(len(cand), -1) + U * D) * _INFL + _TINY
        maybe = ~(D > B).any(1)
    else:
        from ._regions import MAP_ATOL

        maybe = D.max(1) <= MAP_ATOL
    pairs = set()
    for t in np.nonzero(maybe)[0].tolist():
        i, j, L, a, b, c, e = cand[t]
        key = (min(i, j), max(i, j))
        if key in pairs or not same_map(ctx, pieces[i], pieces[j]):
            continue
        # positive-length overlap of [a, b] and [c, e] along L: c < b and a < e (strictly)
        if _before(ctx, L, c, b) and _before(ctx, L, a, e):
            pairs.add(key)
    return sorted(pairs)


def _before(ctx: _Ctx, L: _Line, p: _Pt, q: _Pt) -> bool:
    """Is p strictly before q along L (direction (l1, −l0))? (Both points lie on L.)"""

    def key(r: _Pt) -> float:
        return (L.l[1] * r.p[0] - L.l[0] * r.p[1]) / r.p[2]

    kp, kq = key(p), key(q)
    if not ctx.exact:
        sc = max(abs(kp), abs(kq), 1e-300)
        return kq - kp > FLOAT_SIGN_RTOL * sc
    gap = abs(kq - kp)
    # key = (d·p_xy)/w: first-order error bound, doubled, used only when w is known to 0.1 %
    err, sure = 0.0, True
    for r in (p, q):
        w = r.p[2]
        if not (r.e[2] <= PLANAR_W_RTOL * w):
            sure = False
            break
        num = (
            abs(L.l[1]) * r.e[0]
            + abs(L.l[0]) * r.e[1]
            + L.e[1] * (abs(r.p[0]) + r.e[0])
            + L.e[0] * (abs(r.p[1]) + r.e[1])
            + _G3 * (abs(L.l[1] * r.p[0]) + abs(L.l[0] * r.p[1]))
        )
        err += 2.0 * (num / w + abs(key(r)) * (r.e[2] / w + 4 * U))
    if sure and gap > err and math.isfinite(gap):
        return kq > kp
    ctx.stats.exact_fallbacks += 1
    a = L.exact(ctx.ex)
    dx, dy = a[1], -a[0]
    P, Q = p.exact(ctx.ex), q.exact(ctx.ex)
    return (dx * Q[0] + dy * Q[1]) * P[2] > (dx * P[0] + dy * P[1]) * Q[2]


def same_map(ctx: _Ctx, a: Piece, b: Piece) -> bool:
    """Are the output maps of two pieces equal (exactly, in exact mode)?

    Exact mode: equal structural signatures (the same source values through the same selections and
    masks) prove equality; float error bounds prove inequality; otherwise the maps are compared in
    exact arithmetic.
    """
    D = a.out - b.out
    if not ctx.exact:
        from ._regions import MAP_ATOL

        return bool(np.abs(D).max() <= MAP_ATOL) if D.size else True
    bound = (a.out_err + b.out_err + U * np.abs(D)) * _INFL + _TINY
    if (np.abs(D) > bound).any():
        return False
    if ctx.signature(a.val) == ctx.signature(b.val):
        return True
    ctx.stats.exact_fallbacks += 1
    ia, ea = a.val.exact(ctx.ex)
    ib, eb = b.val.exact(ctx.ex)
    e = min(ea, eb)
    return bool(np.all(_align((ia, ea), e) == _align((ib, eb), e)))
