r"""Exact linear regions of ReLU networks on 1-D segments, 2-D planar polygons and n-D boxes.

Conventions (spec geometry.md §0.1): hidden layers :math:`z^{(l)}=W^{(l)}h^{(l-1)}+b^{(l)}`,
:math:`h^{(l)}=\max(z^{(l)},0)`; the pattern :math:`s_{l,i}=[z^{(l)}_i>0]`. An *activation region* is the
interior of :math:`\{x:s(x)=s\}` (a convex polytope); a *linear region* is a maximal connected union of
closed activation regions on which the network is one affine map (adjacent regions with equal maps merged).

Algorithms:

* **1-D / 2-D (splitting):** the domain is parametrised affinely, :math:`x=p+Ut`, so every
  pre-activation is affine in :math:`t` on a piece of fixed pattern. Layer by layer each piece is cut by
  the zero lines of the layer's neurons (half-plane clipping of convex polygons); pieces of zero
  length/area are dropped. ``mode="exact"`` runs the same code on :class:`fractions.Fraction` (exact
  arithmetic: no tolerance at all); ``mode="float"`` uses float64 with the tolerances below.
* **n-D (traversal):** breadth-first search over activation regions of a box: for a region its
  H-representation, Chebyshev centre (an LP), and facets (one LP per inequality, spec §2.1); across each
  facet the neighbour's pattern is read off at a point just outside the facet's Chebyshev centre.
  Certificate: the region volumes (vertex enumeration + convex hull) sum to the box volume.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from fractions import Fraction
from typing import Any, Iterator, Sequence

import numpy as np

from ..errors import InputError
from ..models import relu_layers
from ..result import Result, Status

__all__ = ["Box", "Plane", "Segment", "Region", "RegionsResult", "regions", "iter_regions_nd", "pattern_at"]

#: area / length below which a float piece is treated as degenerate (relative to the domain's).
PIECE_RTOL = 1e-12
#: slack for "on the line" decisions in float clipping.
CLIP_ATOL = 1e-12
#: two affine maps are equal (same linear region) when their coefficients agree to this.
MAP_ATOL = 1e-9
#: Chebyshev radius below which an n-D region is not full-dimensional.
CHEB_TOL = 1e-9


@dataclasses.dataclass
class Segment:
    a: Sequence[float]
    b: Sequence[float]


@dataclasses.dataclass
class Plane:
    """``x = point + α·u + β·v`` restricted to ``polygon`` (list of (α, β), default the unit square [0,1]²)."""

    point: Sequence[float]
    u: Sequence[float]
    v: Sequence[float]
    polygon: Sequence[Sequence[float]] | None = None

    @classmethod
    def through(cls, x0, x1, x2, margin: float = 0.25) -> "Plane":
        """The plane through three inputs; polygon = their triangle's bounding square with a margin."""
        x0, x1, x2 = (np.asarray(x, dtype=float) for x in (x0, x1, x2))
        m = margin
        return cls(x0, x1 - x0, x2 - x0, [(-m, -m), (1 + m, -m), (1 + m, 1 + m), (-m, 1 + m)])

    @classmethod
    def box2d(cls, lo: float, hi: float) -> "Plane":
        return cls([0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [(lo, lo), (hi, lo), (hi, hi), (lo, hi)])


@dataclasses.dataclass
class Box:
    lo: float
    hi: float
    dim: int


@dataclasses.dataclass
class Region:
    pattern: tuple[int, ...]
    vertices: list  # 2-D: polygon in plane coordinates; 1-D: [t0, t1]; n-D: None
    affine: np.ndarray  # output map in domain coordinates: (k, d+1) = [A | c]
    interior_point: list[float]
    volume: float
    facets: list[tuple[int, int]] = dataclasses.field(default_factory=list)  # (layer, neuron) bounding the region
    halfspaces: np.ndarray | None = None  # n-D: rows [a | beta] with a·x <= beta
    neighbors: list = dataclasses.field(default_factory=list, repr=False)  # n-D: patterns across the facets


@dataclasses.dataclass
class RegionsResult(Result):
    kind = "regions"

    mode: str = "float"
    domain: str = ""
    activation_regions: int = 0
    linear_regions: int = 0
    total_volume: float = 0.0
    domain_volume: float = 0.0
    tiling_error: float = 0.0
    bounds: dict[str, Any] = dataclasses.field(default_factory=dict)
    decision_boundary: list = dataclasses.field(default_factory=list)
    widths: list[int] = dataclasses.field(default_factory=list)
    lps_solved: int = 0
    regions_list: list[Region] = dataclasses.field(default_factory=list, repr=False)
    linear_labels: list[int] = dataclasses.field(default_factory=list, repr=False)


# ----------------------------------------------------------------------------------- helpers
def _to(x, exact):
    return Fraction(float(x)) if exact else float(x)


def _layers(model, exact):
    L = relu_layers(model)
    if exact:
        return [([[Fraction(float(v)) for v in row] for row in W], [Fraction(float(v)) for v in b]) for W, b in L]
    return L


def pattern_at(layers, x) -> tuple[int, ...]:
    h = np.asarray(x, dtype=float)
    pat = []
    for W, b in layers[:-1]:
        z = np.asarray(W, dtype=float) @ h + np.asarray(b, dtype=float)
        pat.extend(int(v > 0) for v in z)
        h = np.maximum(z, 0)
    return tuple(pat)


def patterns_at(layers, X) -> np.ndarray:
    """Activation patterns (N × neurons, int8) of the rows of X, one batched forward pass."""
    h = np.atleast_2d(np.asarray(X, dtype=float))
    out = []
    for W, b in layers[:-1]:
        z = h @ np.asarray(W, dtype=float).T + np.asarray(b, dtype=float)
        out.append(z > 0)
        h = np.maximum(z, 0)
    return np.hstack(out).astype(np.int8)


def _matmul_aff(W, M, b, exact):
    """z = W M + b e_last, with M (n_in × (d+1)) affine coefficients (list-of-lists or ndarray)."""
    if not exact:
        Z = np.asarray(W) @ M
        Z[:, -1] += np.asarray(b)
        return Z
    d1 = len(M[0])
    out = []
    for i, row in enumerate(W):
        r = [sum((row[j] * M[j][c] for j in range(len(row))), Fraction(0)) for c in range(d1)]
        r[-1] += b[i]
        out.append(r)
    return out


def _clip(poly, c, keep_pos, exact):
    """Sutherland–Hodgman: keep the part of a convex polygon with c0 α + c1 β + c2 >= 0 (or <= 0)."""
    sgn = 1 if keep_pos else -1
    vals = [sgn * (c[0] * p[0] + c[1] * p[1] + c[2]) for p in poly]
    tol = 0 if exact else CLIP_ATOL
    out = []
    n = len(poly)
    for k in range(n):
        P, Q = poly[k], poly[(k + 1) % n]
        vp, vq = vals[k], vals[(k + 1) % n]
        if vp >= -tol:
            out.append(P)
        if (vp > tol and vq < -tol) or (vp < -tol and vq > tol):
            t = vp / (vp - vq)
            out.append((P[0] + t * (Q[0] - P[0]), P[1] + t * (Q[1] - P[1])))
    return out


def _area(poly):
    n = len(poly)
    if n < 3:
        return 0
    s = 0
    for k in range(n):
        s += poly[k][0] * poly[(k + 1) % n][1] - poly[(k + 1) % n][0] * poly[k][1]
    return abs(s) / 2


def _centroid(poly):
    n = len(poly)
    return (sum(p[0] for p in poly) / n, sum(p[1] for p in poly) / n)


# ----------------------------------------------------------------------------------- 2-D
def _split_plane(layers, P, U, V, polygon, exact):
    """Yield (polygon, pattern, output-affine (k×3)) for every 2-D activation region."""
    n0 = len(P)
    # h0 = P + α U + β V as affine coefficients (n0 × 3)
    if exact:
        M0 = [[_to(U[i], True), _to(V[i], True), _to(P[i], True)] for i in range(n0)]
        poly0 = [(_to(a, True), _to(b, True)) for a, b in polygon]
    else:
        M0 = np.stack([np.asarray(U, float), np.asarray(V, float), np.asarray(P, float)], 1)
        poly0 = [(float(a), float(b)) for a, b in polygon]
    dom_area = _area(poly0)
    min_area = 0 if exact else PIECE_RTOL * float(dom_area)
    pieces = [(poly0, (), M0)]
    for W, b in layers[:-1]:
        new = []
        for poly, pat, M in pieces:
            Z = _matmul_aff(W, M, b, exact)
            # signs of every neuron at every vertex: a neuron cuts the polygon only if they differ;
            # a neuron that does not cut it cannot cut any of its sub-pieces either
            if exact:
                vals = [[z[0] * p[0] + z[1] * p[1] + z[2] for p in poly] for z in Z]
                pos = [all(v >= 0 for v in vv) and any(v > 0 for v in vv) for vv in vals]
                neg = [all(v <= 0 for v in vv) for vv in vals]
            else:
                Pv = np.asarray(poly, dtype=float)
                V = Z[:, :2] @ Pv.T + Z[:, 2:3]
                pos = list((V >= -CLIP_ATOL).all(1) & (V > CLIP_ATOL).any(1))
                neg = list((V <= CLIP_ATOL).all(1))
            base = [1 if pos[i] else 0 for i in range(len(Z))]
            cutting = [i for i in range(len(Z)) if not pos[i] and not neg[i]]
            sub = [(poly, base)]
            for i in cutting:
                c = Z[i]
                nxt = []
                for pl, bits in sub:
                    for keep in (True, False):
                        q = _clip(pl, c, keep, exact)
                        if len(q) >= 3 and _area(q) > min_area:
                            b2 = list(bits)
                            b2[i] = int(keep)
                            nxt.append((q, b2))
                sub = nxt
            for pl, bits in sub:
                if exact:
                    M2 = [[(Z[i][cc] if bits[i] else Fraction(0)) for cc in range(3)] for i in range(len(Z))]
                else:
                    M2 = Z * np.asarray(bits, dtype=float)[:, None]
                new.append((pl, pat + tuple(bits), M2))
        pieces = new
    Wl, bl = layers[-1]
    for poly, pat, M in pieces:
        yield poly, pat, _matmul_aff(Wl, M, bl, exact)


def _segment_pieces(layers, a, b, exact):
    """1-D: a segment is a degenerate plane; we run the 2-D code on the thin strip t ∈ [0,1], β = 0 by
    splitting intervals directly."""
    n0 = len(a)
    if exact:
        M0 = [[_to(b[i], True) - _to(a[i], True), _to(a[i], True)] for i in range(n0)]
        pieces = [((Fraction(0), Fraction(1)), (), M0)]
    else:
        M0 = np.stack([np.asarray(b, float) - np.asarray(a, float), np.asarray(a, float)], 1)
        pieces = [((0.0, 1.0), (), M0)]
    min_len = 0 if exact else PIECE_RTOL
    for W, bb in layers[:-1]:
        new = []
        for (t0, t1), pat, M in pieces:
            Z = _matmul_aff(W, M, bb, exact)
            cuts = {t0, t1}
            for i in range(len(Z)):
                s, c = Z[i][0], Z[i][1]
                if s != 0 and (exact or abs(s) > CLIP_ATOL):
                    r = -c / s
                    if t0 < r < t1:
                        cuts.add(r)
            ts = sorted(cuts)
            for u0, u1 in zip(ts, ts[1:]):
                if u1 - u0 <= min_len:
                    continue
                mid = (u0 + u1) / 2
                bits = [int(Z[i][0] * mid + Z[i][1] > 0) for i in range(len(Z))]
                if exact:
                    M2 = [[(Z[i][cc] if bits[i] else Fraction(0)) for cc in range(2)] for i in range(len(Z))]
                else:
                    M2 = Z * np.asarray(bits, dtype=float)[:, None]
                new.append(((u0, u1), pat + tuple(bits), M2))
        pieces = new
    Wl, bl = layers[-1]
    for iv, pat, M in pieces:
        yield iv, pat, _matmul_aff(Wl, M, bl, exact)


# ----------------------------------------------------------------------------------- n-D
def _hrep(layers, pattern, lo, hi, d):
    """H-representation {a·x <= beta} of the activation region of ``pattern`` in the box, and its output map."""
    A_rows, betas, owners = [], [], []
    M = np.hstack([np.eye(d), np.zeros((d, 1))])
    k = 0
    for l, (W, b) in enumerate(layers[:-1]):
        Z = W @ M
        Z[:, -1] += b
        bits = np.array(pattern[k : k + len(b)], dtype=float)
        for i in range(len(b)):
            sgn = -1.0 if bits[i] else 1.0  # active: z >= 0  <=>  -z <= 0
            A_rows.append(sgn * Z[i, :-1])
            betas.append(-sgn * Z[i, -1])
            owners.append((l, i))
        M = Z * bits[:, None]
        k += len(b)
    for j in range(d):
        e = np.zeros(d); e[j] = 1
        A_rows += [e, -e]; betas += [hi, -lo]; owners += [("box", j), ("box", j)]
    Wl, bl = layers[-1]
    out = Wl @ M
    out[:, -1] += bl
    return np.array(A_rows), np.array(betas), owners, out


def _chebyshev(A, beta, eq_row=None):
    from scipy.optimize import linprog

    nrm = np.linalg.norm(A, axis=1)
    d = A.shape[1]
    keep = nrm > 1e-14
    A_ub = np.hstack([A[keep], nrm[keep, None]])
    b_ub = beta[keep]
    A_eq = b_eq = None
    if eq_row is not None:
        A_ub = np.delete(A_ub, np.nonzero(np.nonzero(keep)[0] == eq_row)[0], axis=0)
        b_ub = np.delete(b_ub, np.nonzero(np.nonzero(keep)[0] == eq_row)[0])
        A_eq = np.hstack([A[eq_row], [0.0]])[None]
        b_eq = [beta[eq_row]]
    c = np.zeros(d + 1); c[-1] = -1
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=[(None, None)] * d + [(0, None)], method="highs")
    if res.status != 0:
        return None, 0.0
    return res.x[:d], float(res.x[-1])


def _volume(A, beta, x0):
    from scipy.spatial import ConvexHull, HalfspaceIntersection

    d = A.shape[1]
    if d == 1:
        lo = max([beta[i] / A[i, 0] for i in range(len(A)) if A[i, 0] < 0], default=-np.inf)
        hi = min([beta[i] / A[i, 0] for i in range(len(A)) if A[i, 0] > 0], default=np.inf)
        return float(hi - lo)
    keep = np.linalg.norm(A, axis=1) > 1e-14
    hs = HalfspaceIntersection(np.hstack([A[keep], -beta[keep, None]]), x0)
    return float(ConvexHull(hs.intersections).volume)


def _facets_qhull(A, beta, x0):
    """Non-redundant inequalities of {A x <= beta}, a relative-interior point of each facet, all
    vertices and the volume, from one Qhull halfspace intersection around the interior point ``x0``."""
    from scipy.spatial import ConvexHull, HalfspaceIntersection

    hs = HalfspaceIntersection(np.hstack([A, -beta[:, None]]), x0)
    V = hs.intersections
    vol = float(ConvexHull(V).volume)
    members: dict[int, list[int]] = {}
    for vi, fac in enumerate(hs.dual_facets):
        for k in fac:
            members.setdefault(int(k), []).append(vi)
    centres = {k: V[idx].mean(axis=0) for k, idx in members.items() if len(idx) >= A.shape[1]}
    return centres, V, vol


def iter_regions_nd(model, box: Box, *, counter: list | None = None) -> Iterator[Region]:
    """Stream the activation regions of a box (BFS over facets); ``counter[0]`` counts LPs.

    Per region: one LP (Chebyshev centre), then one Qhull halfspace intersection gives the facets
    (non-redundant inequalities), a relative-interior point of each (mean of its vertices) and the
    volume. A region whose Qhull call fails (degenerate sliver) falls back to one LP per inequality.
    """
    layers = relu_layers(model)
    d = layers[0][0].shape[1]
    if box.dim != d:
        raise InputError("--box", f"dimension {box.dim} != model input dimension {d}")
    lo, hi = float(box.lo), float(box.hi)
    start = np.full(d, (lo + hi) / 2) + 1e-7 * np.arange(1, d + 1) * (hi - lo)
    seen = {pattern_at(layers, start)}
    queue = deque([pattern_at(layers, start)])
    counter = counter if counter is not None else [0]
    while queue:
        pat = queue.popleft()
        A, beta, owners, out = _hrep(layers, pat, lo, hi, d)
        nrm = np.linalg.norm(A, axis=1)
        keep = nrm > 1e-14
        idx = np.nonzero(keep)[0]
        An, bn = A[keep] / nrm[keep, None], beta[keep] / nrm[keep]
        x0, r = _chebyshev(An, bn)
        counter[0] += 1
        if x0 is None or r <= CHEB_TOL:
            continue
        probes: list[tuple[int, np.ndarray]] = []
        try:
            if d < 2:
                raise ValueError("qhull needs d >= 2")
            centres, _, vol = _facets_qhull(An, bn, x0)
            for kk, c in centres.items():
                slack = bn - An @ c
                slack[kk] = np.inf
                rho = float(slack.min())
                if rho <= CHEB_TOL:
                    continue
                probes.append((int(idx[kk]), c + min(rho, r) * 1e-3 * An[kk]))
        except Exception:  # degenerate for Qhull: one LP per inequality
            probes, vol = [], _volume(A, beta, x0)
            for kk, k in enumerate(idx):
                xf, rf = _chebyshev(An, bn, eq_row=kk)
                counter[0] += 1
                if xf is None or rf <= CHEB_TOL:
                    continue
                probes.append((int(k), xf + min(rf, r) * 1e-3 * An[kk]))
        facets, nbrs = [], []
        for k, y in probes:
            if owners[k][0] == "box":
                continue
            facets.append(owners[k])
            if np.all(y >= lo) and np.all(y <= hi):
                q = pattern_at(layers, y)
                nbrs.append(q)
                if q not in seen:
                    seen.add(q)
                    queue.append(q)
        yield Region(pat, None, out, x0.tolist(), vol, sorted(facets, key=str), np.hstack([A, beta[:, None]]), nbrs)


# ----------------------------------------------------------------------------------- public API
def _merge_linear(regions_, adjacency, k):
    parent = list(range(len(regions_)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if adjacency:
        A = np.stack([np.asarray(r.affine, dtype=float) for r in regions_])
        I, J = np.asarray(adjacency).T
        same = np.abs(A[I] - A[J]).reshape(len(I), -1).max(1) <= MAP_ATOL
        for i, j in zip(I[same], J[same]):
            parent[find(int(i))] = find(int(j))
    roots = [find(i) for i in range(len(regions_))]
    relabel = {r: n for n, r in enumerate(dict.fromkeys(roots))}
    return [relabel[r] for r in roots]


def regions(model, domain, *, mode: str = "float", boundary: bool = True) -> RegionsResult:
    """All activation and linear regions of ``model`` on ``domain`` (``Segment``, ``Plane`` or ``Box``)."""
    from ._bounds import all_bounds

    t0 = time.perf_counter()
    if mode not in ("float", "exact"):
        raise InputError("--mode", f"unknown mode {mode!r}", "use float or exact")
    exact = mode == "exact"
    layers_f = relu_layers(model)
    widths = [layers_f[0][0].shape[1]] + [W.shape[0] for W, _ in layers_f]
    d = widths[0]
    layers = _layers(model, exact)
    regs: list[Region] = []
    adjacency: list[tuple[int, int]] = []
    lps = 0
    if isinstance(domain, Segment):
        if len(domain.a) != d or len(domain.b) != d:
            raise InputError("--segment", f"endpoints must have {d} coordinates")
        pieces = list(_segment_pieces(layers, domain.a, domain.b, exact))
        for (t0_, t1_), pat, out in pieces:
            regs.append(Region(pat, [float(t0_), float(t1_)], np.asarray([[float(v) for v in r] for r in out]),
                               [float((t0_ + t1_) / 2)], float(t1_ - t0_)))
        adjacency = [(i, i + 1) for i in range(len(regs) - 1)]
        dom_vol, name = 1.0, "segment"
    elif isinstance(domain, Plane):
        if len(domain.point) != d or len(domain.u) != d or len(domain.v) != d:
            raise InputError("--plane", f"points/directions must have {d} coordinates")
        poly = domain.polygon or [(0, 0), (1, 0), (1, 1), (0, 1)]
        exact_areas = []
        for pl, pat, out in _split_plane(layers, domain.point, domain.u, domain.v, poly, exact):
            c = _centroid(pl)
            if exact:
                exact_areas.append(_area(pl))
            regs.append(Region(pat, [(float(a), float(b)) for a, b in pl], np.asarray([[float(v) for v in r] for r in out]),
                               [float(c[0]), float(c[1])], float(_area(pl))))
        dom_vol, name = float(_area([(float(a), float(b)) for a, b in poly])), "plane"
        if exact:  # the tiling certificate in exact arithmetic: Σ areas − area(domain) == 0 exactly
            exact_gap = abs(sum(exact_areas) - _area([(_to(a, True), _to(b, True)) for a, b in poly]))
        index = {np.asarray(r.pattern, dtype=np.int8).tobytes(): i for i, r in enumerate(regs)}
        P, U, V = (np.asarray(x, dtype=float) for x in (domain.point, domain.u, domain.v))
        owners, probes = [], []
        for i, r in enumerate(regs):
            pl = np.asarray(r.vertices, dtype=float)
            a, b = pl, np.roll(pl, -1, axis=0)
            e = b - a
            ln = np.linalg.norm(e, axis=1)
            ok = ln >= 1e-9
            mid = (a[ok] + b[ok]) / 2
            nrm = np.stack([e[ok, 1], -e[ok, 0]], 1) / ln[ok, None]
            for sgn in (1, -1):
                probes.append(mid + sgn * 1e-7 * nrm)
                owners.extend([i] * int(ok.sum()))
        if probes:
            Y = np.vstack(probes)
            pats = patterns_at(layers_f, P + Y[:, :1] * U + Y[:, 1:2] * V)
            for i, row in zip(owners, pats):
                j = index.get(row.tobytes())
                if j is not None and j != i:
                    adjacency.append((i, j))
    elif isinstance(domain, Box):
        if exact:
            raise InputError("--mode", "exact mode supports --segment and --plane only", "use --mode float for boxes")
        counter = [0]
        regs = list(iter_regions_nd(model, domain, counter=counter))
        lps = counter[0]
        adjacency = _nd_adjacency(regs, layers_f, domain)
        dom_vol, name = float((domain.hi - domain.lo) ** d), "box"
    else:
        raise InputError("domain", f"unsupported domain {type(domain).__name__}", "use Segment, Plane or Box")
    labels = _merge_linear(regs, adjacency, widths[-1])
    total = float(sum(r.volume for r in regs))
    gap = abs(total - dom_vol)
    if exact and isinstance(domain, Plane):
        gap = float(exact_gap)
    db = _decision_boundary(regs, domain) if boundary and not isinstance(domain, Box) else []
    return RegionsResult(
        status=Status.OK if gap <= 1e-6 * max(dom_vol, 1e-300) else Status.UNCERTIFIED,
        seconds=time.perf_counter() - t0, mode=mode, domain=name, activation_regions=len(regs),
        linear_regions=len(set(labels)), total_volume=total, domain_volume=dom_vol, tiling_error=gap,
        bounds=all_bounds(widths[:-1]), decision_boundary=db, widths=widths, lps_solved=lps, regions_list=regs,
        linear_labels=labels,
    )


def _nd_adjacency(regs, layers, box):
    """Pairs of regions sharing a facet, from the crossings recorded during the traversal."""
    index = {r.pattern: i for i, r in enumerate(regs)}
    adj = []
    for i, r in enumerate(regs):
        for q in r.neighbors:
            j = index.get(q)
            if j is not None and j != i:
                adj.append((i, j))
    return adj


def _decision_boundary(regs, domain):
    """Segments (in domain coordinates) where the top-2 outputs tie (k ≥ 2) or the output is 0 (k = 1)."""
    segs = []
    for r in regs:
        O = np.asarray(r.affine, dtype=float)
        k = O.shape[0]
        pairs = [(0, None)] if k == 1 else [(i, j) for i in range(k) for j in range(i + 1, k)]
        for i, j in pairs:
            line = O[i] if j is None else O[i] - O[j]
            if isinstance(domain, Segment):
                s, c = line
                if abs(s) > 1e-14:
                    t = -c / s
                    if r.vertices[0] < t < r.vertices[1]:
                        others = [m for m in range(k) if m not in (i, j)]
                        val = O[:, 0] * t + O[:, 1]
                        if j is None or all(val[i] >= val[m] - 1e-12 for m in others):
                            segs.append([float(t)])
                continue
            poly = [tuple(p) for p in r.vertices]
            if j is not None:
                for m in range(k):
                    if m not in (i, j):
                        poly = _clip(poly, O[i] - O[m], True, False)
                        if len(poly) < 2:
                            break
                if len(poly) < 2:
                    continue
            vals = [line[0] * p[0] + line[1] * p[1] + line[2] for p in poly]
            pts = []
            for a in range(len(poly)):
                P, Q = poly[a], poly[(a + 1) % len(poly)]
                va, vb = vals[a], vals[(a + 1) % len(poly)]
                if abs(va) <= 1e-12:
                    pts.append(P)
                if (va > 1e-12 and vb < -1e-12) or (va < -1e-12 and vb > 1e-12):
                    t = va / (va - vb)
                    pts.append((P[0] + t * (Q[0] - P[0]), P[1] + t * (Q[1] - P[1])))
            if len(pts) >= 2:
                segs.append([list(map(float, pts[0])), list(map(float, pts[-1]))])
    return segs
