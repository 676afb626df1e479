r"""Exact linear regions of piecewise-linear networks on 1-D segments, 2-D planar polygons and n-D boxes.

Any model that lowers to a :class:`~tamelab.models.PWLNet` (:func:`tamelab.models.lower`: MLPs,
CNNs, residual blocks with BatchNorm in eval mode, LeakyReLU, max/average pooling) is accepted.

Conventions (spec geometry.md §0.1): the *activation pattern* of an input is, for every ReLU unit,
:math:`[z>0]` and, for every max group, the position of its first maximum (node order). An
*activation region* is a set of constant pattern with interior (a convex polytope); a *linear region*
is a maximal union of closed activation regions, connected through shared facets, on which the network
is one affine map.

Algorithms:

* **1-D / 2-D** (:mod:`._planar`): the domain is the affine image :math:`x=p+\alpha u+\beta v` of a
  convex polygon (a segment is the strip with :math:`v=0`); node by node every piece is cut by the
  zero lines of the units that change sign on it and by the ties of max groups. ``mode="exact"``
  (default) decides every sign with *filtered exact predicates* (float with a rigorous error bound,
  exact integer arithmetic on the dyadic float64 values when the bound cannot decide), so no region is
  lost or invented by rounding; ``mode="float"`` decides with a relative tolerance (fast, uncertified).
* **n-D** (:func:`iter_regions_nd`): breadth-first search over activation regions of a box with one
  Chebyshev LP and one Qhull halfspace intersection per region; float, so not certified.

Certificates and their premises are listed in ``docs/relu-geometry.md`` ("Certificates").
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import deque
from collections.abc import Iterator, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from .._numerics import BOUNDARY_TIE_TOL, MERGE_ATOL, ND_CHEB_TOL, ROW_NORM_FLOOR
from .._numerics import TILING_RTOL as _TILING_RTOL
from ..errors import InputError
from ..models import PWLNet
from ..models._lower import as_pwl
from ..models._pwl import Affine, Max, ReLU
from ..result import Result, Status

__all__ = [
    "MAX_REGIONS",
    "ND_MAX_DIM",
    "AlongResult",
    "Box",
    "Plane",
    "Region",
    "RegionsResult",
    "Segment",
    "iter_regions_nd",
    "pattern_at",
    "regions",
    "regions_along",
]

#: two affine maps are equal (same linear region) when their coefficients agree to this (float mode only;
#: exact mode compares the maps exactly).
MAP_ATOL = MERGE_ATOL
#: Chebyshev radius below which an n-D region is not full-dimensional (n-D traversal).
CHEB_TOL = ND_CHEB_TOL
#: default limit on the number of regions (pieces in flight) before a computation stops; ``max_regions=``.
MAX_REGIONS = 200_000
#: the n-D traversal computes region volumes by vertex enumeration; refused above this input dimension.
ND_MAX_DIM = 8
#: relative tolerance of the tiling consistency check |Σ areas − area(domain)| (times the number of
#: regions; exact mode's count does not rest on it).
TILING_RTOL = _TILING_RTOL


@dataclasses.dataclass
class Segment:
    """The segment from ``a`` to ``b`` in (flattened) input space; parameter ``t ∈ [0, 1]``."""

    a: Sequence[float]
    b: Sequence[float]


@dataclasses.dataclass
class Plane:
    """``x = point + α·u + β·v`` restricted to ``polygon`` (list of (α, β), default the unit square [0,1]²).

    ``points``: when built by :meth:`through`, the three inputs; ``u = x1 − x0`` and ``v = x2 − x0`` are then
    taken exactly (the float differences are only the fast path of the filtered predicates).
    """

    point: Sequence[float]
    u: Sequence[float]
    v: Sequence[float]
    polygon: Sequence[Sequence[float]] | None = None
    points: tuple | None = dataclasses.field(default=None, repr=False)

    @classmethod
    def through(cls, x0, x1, x2, margin: float = 0.25) -> Plane:
        """The plane through three inputs (any shape: flattened);

        polygon = the bounding square of their triangle with a margin. Collinear points are an :class:`InputError`.
        """
        x0, x1, x2 = (np.asarray(_np(x), dtype=float).ravel() for x in (x0, x1, x2))
        if not (x0.shape == x1.shape == x2.shape):
            raise InputError("plane", f"the three points have different sizes {x0.size}, {x1.size}, {x2.size}")
        m = float(margin)
        if not (math.isfinite(m) and m >= 0):
            raise InputError("margin", f"must be a finite number >= 0, got {margin}")
        return cls(x0, x1 - x0, x2 - x0, [(-m, -m), (1 + m, -m), (1 + m, 1 + m), (-m, 1 + m)], points=(x0, x1, x2))

    @classmethod
    def box2d(cls, lo: float, hi: float) -> Plane:
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
    facets: list = dataclasses.field(default_factory=list)  # n-D: (node, unit) bounding the region
    halfspaces: np.ndarray | None = None  # n-D: rows [a | beta] with a·x <= beta
    neighbors: list = dataclasses.field(default_factory=list, repr=False)  # n-D: patterns across the facets


@dataclasses.dataclass
class RegionsResult(Result):
    """Regions of a network on a domain.

    ``status`` is ``ok`` only when the count is certified (exact mode on a segment or plane, every premise
    checked); ``certificate`` says what was proven and how; ``exact_fallbacks`` counts the sign decisions
    the float filter could not settle (recomputed in exact arithmetic). ``budget_exceeded``: the
    computation stopped at ``max_regions`` pieces and ``activation_regions`` is a lower bound.
    """

    kind = "regions"

    mode: str = "exact"
    domain: str = ""
    activation_regions: int = 0
    linear_regions: int = 0
    total_volume: float = 0.0
    domain_volume: float = 0.0
    tiling_error: float = 0.0
    min_region_volume: float = 0.0
    certificate: str = ""
    exact_fallbacks: int = 0
    sign_decisions: int = 0
    bounds: dict[str, Any] = dataclasses.field(default_factory=dict)
    decision_boundary: list = dataclasses.field(default_factory=list)
    widths: list[int] = dataclasses.field(default_factory=list)
    lps_solved: int = 0
    regions_list: list[Region] = dataclasses.field(default_factory=list, repr=False)
    linear_labels: list[int] = dataclasses.field(default_factory=list, repr=False)


# ----------------------------------------------------------------------------------- validation
def _np(x):
    if hasattr(x, "detach"):
        return x.detach().cpu().double().numpy()
    return x


def _vec(x, field: str, d: int | None = None) -> np.ndarray:
    try:
        a = np.asarray(_np(x), dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise InputError(field, f"is not a list of numbers: {x!r}"[:200]) from None
    if not np.all(np.isfinite(a)):
        raise InputError(field, "contains NaN or inf", "give finite coordinates")
    if d is not None and a.size != d:
        raise InputError(field, f"has {a.size} coordinates; the model has {d} inputs")
    return a


def _exact_gram_det(u: np.ndarray, v: np.ndarray) -> Fraction:
    uu = sum((Fraction(x) * Fraction(x) for x in u.tolist()), Fraction(0))
    vv = sum((Fraction(x) * Fraction(x) for x in v.tolist()), Fraction(0))
    uv = sum((Fraction(x) * Fraction(y) for x, y in zip(u.tolist(), v.tolist())), Fraction(0))
    return uu * vv - uv * uv


def _convex_polygon(poly, field: str) -> list[tuple[float, float]]:
    """Check a polygon (exactly):

    >= 3 finite vertices, convex, positive area; returns it counter-clockwise without collinear vertices.
    """
    try:
        pts = [(float(a), float(b)) for a, b in poly]
    except (TypeError, ValueError):
        raise InputError(field, "polygon must be a list of (α, β) pairs") from None
    if len(pts) < 3 or not all(math.isfinite(c) for p in pts for c in p):
        raise InputError(field, "polygon needs >= 3 vertices with finite coordinates")
    F = [(Fraction(a), Fraction(b)) for a, b in pts]
    n = len(F)
    area2 = sum(F[k][0] * F[(k + 1) % n][1] - F[(k + 1) % n][0] * F[k][1] for k in range(n))
    if area2 == 0:
        raise InputError(field, "polygon has zero area (degenerate)")
    if area2 < 0:
        F, pts = F[::-1], pts[::-1]
    keep = []
    for k in range(n):
        p, q, r = F[k - 1], F[k], F[(k + 1) % n]
        c = (q[0] - p[0]) * (r[1] - q[1]) - (q[1] - p[1]) * (r[0] - q[0])
        if c < 0:
            raise InputError(field, "polygon is not convex (or its vertices are not in order)")
        if c > 0:
            keep.append(pts[k])
    if len(keep) < 3:
        raise InputError(field, "polygon has zero area (degenerate)")
    return keep


def _plane_input(domain: Plane, d: int):
    """(M0 float d×3, its error bound, exact dyadic (ints, exp)) of x = p + αu + βv, checking the premises."""
    from ._planar import U, _dyadic

    if d < 2:
        raise InputError("plane", f"the model has {d} input: a plane needs an input dimension >= 2", "use a Segment")
    if domain.points is not None:
        x0, x1, x2 = (_vec(x, "plane", d) for x in domain.points)
        D = [(_dyadic(np.stack([x1, x0], 1))), (_dyadic(np.stack([x2, x0], 1))), _dyadic(x0[:, None])]
        cols = []
        e = min(t[1] for t in D)
        for ints, ex in D[:2]:
            ints = ints * (1 << (ex - e))
            cols.append(ints[:, 0] - ints[:, 1])
        p_ints, ex = D[2]
        cols.append(p_ints[:, 0] * (1 << (ex - e)))
        X = np.stack(cols, 1)
        if _gram_zero(X[:, 0], X[:, 1]):
            raise InputError("plane", "the three points are collinear (affinely dependent): they do not span a plane")
        M0 = np.stack([x1 - x0, x2 - x0, x0], 1)
        E0 = np.zeros_like(M0)
        E0[:, :2] = U * np.abs(M0[:, :2]) * 1.0000001
        if not np.all(np.isfinite(M0)):
            raise InputError("plane", "the differences of the points overflow float64")
        return M0, E0, (X, e)
    p, u, v = _vec(domain.point, "plane point", d), _vec(domain.u, "plane u", d), _vec(domain.v, "plane v", d)
    if _exact_gram_det(u, v) == 0:
        raise InputError("plane", "directions u and v are linearly dependent (or zero): they do not span a plane")
    M0 = np.stack([u, v, p], 1)
    return M0, np.zeros_like(M0), _dyadic(M0)


def _gram_zero(a, b) -> bool:
    uu = sum(int(x) * int(x) for x in a)
    vv = sum(int(x) * int(x) for x in b)
    uv = sum(int(x) * int(y) for x, y in zip(a, b))
    return uu * vv - uv * uv == 0


def _net_widths(net: PWLNet) -> list[int] | None:
    """Input dimension and hidden widths of a sequential ReLU program (Affine/ReLU chain, slope 0)."""
    hs = []
    for i, n in enumerate(net.nodes[1:], start=1):
        if isinstance(n, Affine):
            if n.sources != [i - 1]:
                return None
        elif isinstance(n, ReLU):
            if n.slope != 0.0 or n.source != i - 1:
                return None
            hs.append(net.widths[i])
        else:
            return None
    return [net.in_dim, *hs] if hs else None


def _bounds(net: PWLNet) -> dict[str, Any]:
    from ._bounds import Bound, all_bounds

    w = _net_widths(net)
    if w is None:
        return {
            "not_applicable": Bound(
                0,
                "reference",
                False,
                "the published bounds are for Linear/ReLU MLPs; this "
                "program has max pooling, residual sources or LeakyReLU",
                "",
            )
        }
    b = all_bounds(w)
    if not net.is_mlp():  # structured (e.g. convolutional) weights: upper bounds hold, existence statements do not
        b = {
            k: (
                dataclasses.replace(
                    v,
                    valid=False,
                    why="the network's weights are structured (not a dense MLP): "
                    "the maximum over dense weights says nothing here",
                )
                if v.kind == "max-lower"
                else v
            )
            for k, v in b.items()
        }
    return b


# ----------------------------------------------------------------------------------- guards
def _estimate_first_layer(net: PWLNet, M0: np.ndarray, polygon) -> int | None:
    """Regions cut by the first nonlinear node alone:

    1 + crossing lines + pairwise crossings inside the polygon (exact for lines in general position; a lower bound
    estimate of the final count).
    """
    for k, node in enumerate(net.nodes[1:], start=1):  # noqa: B007 (k is the first nonlinear node)
        if isinstance(node, (ReLU, Max)):
            break
    else:
        return None
    src = net.nodes[node.source]
    if not (isinstance(src, Affine) and src.sources == [0]):
        return None
    Z = src.A[0] @ M0
    Z[:, 2] += src.b
    if isinstance(node, Max):
        g = node.groups
        Z = (Z[g[:, :, None]] - Z[g[:, None, :]]).reshape(-1, 3)
        Z = Z[np.abs(Z).sum(1) > 0]
    P = np.array(polygon, float)
    vals = Z[:, :2] @ P.T + Z[:, 2:3]
    cross = Z[(vals.max(1) > 0) & (vals.min(1) < 0)]
    nc = len(cross)
    if nc < 2:
        return 1 + nc
    rng = np.random.default_rng(0)
    npairs = nc * (nc - 1) // 2
    m = min(npairs, 1_000_000)
    if m < npairs:
        i = rng.integers(0, nc, m)
        j = rng.integers(0, nc, m)
        keep = i != j
        i, j = i[keep], j[keep]
    else:
        i, j = np.triu_indices(nc, 1)
    a, b = cross[i], cross[j]
    w = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    ok = np.abs(w) > 0
    x = (a[ok, 1] * b[ok, 2] - a[ok, 2] * b[ok, 1]) / w[ok]
    y = (a[ok, 2] * b[ok, 0] - a[ok, 0] * b[ok, 2]) / w[ok]
    inside = np.ones(len(x), bool)
    n = len(P)
    for k in range(n):  # polygon counter-clockwise
        p, q = P[k], P[(k + 1) % n]
        inside &= (q[0] - p[0]) * (y - p[1]) - (q[1] - p[1]) * (x - p[0]) > 0
    frac = inside.sum() / max(1, len(i))
    return int(1 + nc + round(frac * npairs))


# ----------------------------------------------------------------------------------- public API
def regions(
    model,
    domain,
    *,
    mode: str = "exact",
    boundary: bool = True,
    in_shape: Sequence[int] | None = None,
    example_input=None,
    max_regions: int = MAX_REGIONS,
    max_dim: int = ND_MAX_DIM,
) -> RegionsResult:
    """All activation and linear regions of ``model`` on ``domain`` (:class:`Segment`, :class:`Plane`, :class:`Box`).

    Args:
        model: an ``nn.Module`` that lowers to a piecewise-linear program (give ``in_shape`` or
            ``example_input`` unless it starts with ``nn.Linear``), or a :class:`~tamelab.models.PWLNet`.
        domain: coordinates are in the model's flattened input space (a plane through three images:
            ``Plane.through(img0, img1, img2)``). A ``Box`` of dimension 1 or 2 is split exactly as a
            segment or square; higher dimensions use the n-D traversal.
        mode: ``"exact"`` (default; certified counts on segments and planes) or ``"float"``.
        boundary: also compute the decision boundary (the zero set of the output) on segments and planes.
        in_shape: the per-sample input shape, for models that do not start with ``nn.Linear``.
        example_input: an input batch (only its shape is used), in place of ``in_shape``.
        max_regions: stop (status ``budget_exceeded``) past this many pieces; refused up front when the
            first layer alone is estimated to exceed it.
        max_dim: refuse the n-D traversal above this input dimension.
    """
    from . import _planar

    t0 = time.perf_counter()
    if mode not in ("float", "exact"):
        raise InputError("mode", f"unknown mode {mode!r}", "use exact or float")
    if not (isinstance(max_regions, int) and max_regions >= 1):
        raise InputError("max_regions", f"must be a positive integer, got {max_regions!r}")
    net = as_pwl(model, in_shape=in_shape, example_input=example_input)
    d = net.in_dim
    if isinstance(domain, Box):
        domain = _check_box(domain, d)
        if d == 1:
            domain = Segment([domain.lo], [domain.hi])
        elif d == 2:
            domain = Plane.box2d(domain.lo, domain.hi)
        else:
            return _regions_nd(net, domain, mode, t0, max_regions, max_dim)
    exact = mode == "exact"
    if isinstance(domain, Segment):
        a, b = _vec(domain.a, "segment a", d), _vec(domain.b, "segment b", d)
        if np.array_equal(a, b):
            raise InputError("segment", "the endpoints are equal: a segment needs two distinct points")
        Ud = b - a
        if not np.all(np.isfinite(Ud)):
            raise InputError("segment", "b − a overflows float64")
        M0 = np.stack([Ud, np.zeros(d), a], 1)
        E0 = np.zeros_like(M0)
        E0[:, 0] = _planar.U * np.abs(Ud) * 1.0000001
        ia, ea = _planar._dyadic(a)
        ib, eb = _planar._dyadic(b)
        e = min(ea, eb)
        ia, ib = ia * (1 << (ea - e)), ib * (1 << (eb - e))
        X0 = (np.stack([ib - ia, np.zeros(d, dtype=object), ia], 1), e)
        poly = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
        name, dom_vol = "segment", 1.0
    elif isinstance(domain, Plane):
        M0, E0, X0 = _plane_input(domain, d)
        poly = _convex_polygon(domain.polygon or [(0, 0), (1, 0), (1, 1), (0, 1)], "plane")
        name = "plane"
        dom_vol = float(abs(_shoelace(poly)))
        if not (math.isfinite(dom_vol) and dom_vol > 0):
            raise InputError("plane", "the polygon's area overflows float64 (or is zero)")
    else:
        raise InputError("domain", f"unsupported domain {type(domain).__name__}", "use Segment, Plane or Box")
    corners = np.array([[pa, pb, 1.0] for pa, pb in poly]) @ M0.T
    if not np.all(np.isfinite(corners)) or not np.all(np.isfinite(net.forward(corners))):
        raise InputError(name, "the network's values overflow float64 on this domain", "use a smaller domain")
    est = _estimate_first_layer(net, M0, poly)
    if est is not None and est > max_regions:
        raise InputError(
            "max_regions",
            f"about {est} regions (first layer alone, estimated) exceed the limit {max_regions}",
            f"pass max_regions={est * 4} (or more) to run anyway, or use a smaller domain",
        )
    try:
        pieces, ctx = _planar.split_input(net, M0, E0 if exact else None, X0, poly, exact=exact, max_pieces=max_regions)
    except _planar.BudgetExceeded as e:
        return RegionsResult(
            status=Status.BUDGET_EXCEEDED,
            seconds=time.perf_counter() - t0,
            mode=mode,
            domain=name,
            activation_regions=e.pieces,
            domain_volume=dom_vol,
            widths=list(net.widths),
            certificate=f"stopped at {e.pieces} pieces > max_regions={max_regions}: the count is a lower bound",
            bounds=_bounds(net),
        )
    regs = []
    for pc in pieces:
        if name == "segment":
            xs = [v[0] for v in pc.vertices]
            t_lo, t_hi = min(xs), max(xs)
            aff = pc.out[:, [0, 2]]
            regs.append(Region(pc.pattern, [t_lo, t_hi], aff, [pc.centroid[0]], pc.area))
        else:
            regs.append(Region(pc.pattern, pc.vertices, pc.out, [pc.centroid[0], pc.centroid[1]], pc.area))
    labels = _union(len(pieces), _planar.linear_pairs(ctx, pieces))
    total = float(sum(r.volume for r in regs))
    gap = abs(total - dom_vol)
    min_vol = min((r.volume for r in regs), default=0.0)
    tol = TILING_RTOL * dom_vol * max(1, len(regs))
    consistent = math.isfinite(gap) and gap <= tol and len(regs) > 0
    if exact and consistent:
        status = Status.OK
        cert = (
            f"exact: every sign decision exact ({ctx.stats.exact_fallbacks} of {ctx.stats.decisions} settled in "
            "exact arithmetic), so every region has positive area and none is missing; premises checked: "
            f"non-degenerate {name}, convex polygon, finite weights; float areas tile the domain to {gap:.2g}"
        )
    elif exact:
        status = Status.FAILED
        cert = f"exact decisions but the float areas do not tile the domain (gap {gap:.3g} > {tol:.3g}): please report"
    else:
        status = Status.UNCERTIFIED
        cert = (
            f"float mode: signs decided with relative tolerance {_planar.FLOAT_SIGN_RTOL:g}; regions thinner than "
            "that may be missing or merged — use mode='exact' for a certified count"
        )
    db = _decision_boundary(regs, name) if boundary else []
    return RegionsResult(
        status=status,
        seconds=time.perf_counter() - t0,
        mode=mode,
        domain=name,
        activation_regions=len(regs),
        linear_regions=len(set(labels)),
        total_volume=total,
        domain_volume=dom_vol,
        tiling_error=gap,
        min_region_volume=float(min_vol),
        certificate=cert,
        exact_fallbacks=ctx.stats.exact_fallbacks,
        sign_decisions=ctx.stats.decisions,
        bounds=_bounds(net),
        decision_boundary=db,
        widths=list(net.widths),
        regions_list=regs,
        linear_labels=labels,
    )


def _shoelace(poly) -> float:
    n = len(poly)
    return sum(poly[k][0] * poly[(k + 1) % n][1] - poly[(k + 1) % n][0] * poly[k][1] for k in range(n)) / 2


def _check_box(box: Box, d: int) -> Box:
    try:
        lo, hi, dim = float(box.lo), float(box.hi), int(box.dim)
    except (TypeError, ValueError):
        raise InputError("box", f"lo, hi must be numbers and dim an integer, got {box!r}") from None
    if dim != d:
        raise InputError("box", f"dimension {dim} != the model's input dimension {d}")
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise InputError("box", f"bounds must be finite, got [{lo}, {hi}]")
    if not lo < hi:
        raise InputError("box", f"need lo < hi, got [{lo}, {hi}]")
    side = hi - lo
    vol = math.exp(d * math.log(side)) if math.isfinite(side) and d * math.log(side) < 709 else math.inf
    if not (math.isfinite(vol) and vol > 0):
        raise InputError("box", f"the box volume ({side:g})^{d} overflows float64", "use a smaller box")
    return Box(lo, hi, dim)


def _union(n: int, pairs) -> list[int]:
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in pairs:
        parent[find(i)] = find(j)
    roots = [find(i) for i in range(n)]
    relabel = {r: k for k, r in enumerate(dict.fromkeys(roots))}
    return [relabel[r] for r in roots]


# ----------------------------------------------------------------------------------- n-D traversal
def pattern_at(model, x) -> tuple[int, ...]:
    """Activation pattern at ``x`` of a program (or model, or a list of ``(W, b)`` MLP layers)."""
    if isinstance(model, list):
        h = np.asarray(x, dtype=float)
        pat: list[int] = []
        for W, b in model[:-1]:
            z = np.asarray(W, dtype=float) @ h + np.asarray(b, dtype=float)
            pat.extend(int(v > 0) for v in z)
            h = np.maximum(z, 0)
        return tuple(pat)
    net = as_pwl(model)
    return tuple(int(v) for v in net.patterns(np.asarray(x, dtype=float).reshape(1, -1))[0])


def _hrep(net: PWLNet, pattern, lo, hi):
    """H-representation {a·x <= beta} of the activation region of ``pattern`` in the box, its owners and output map."""
    d = net.in_dim
    vals = [np.hstack([np.eye(d), np.zeros((d, 1))])]
    rows, owners = [], []
    k = 0
    for ni, node in enumerate(net.nodes[1:], start=1):
        if isinstance(node, Affine):
            Z = np.zeros((node.width, d + 1))
            Z[:, -1] = node.b
            for s, A in zip(node.sources, node.A):
                Z += A @ vals[s]
            vals.append(Z)
        elif isinstance(node, ReLU):
            Z = vals[node.source]
            bits = np.asarray(pattern[k : k + len(Z)], dtype=bool)
            k += len(Z)
            sg = np.where(bits, -1.0, 1.0)  # active: z >= 0  <=>  −z <= 0
            rows.append(sg[:, None] * Z)
            owners += [(ni, i) for i in range(len(Z))]
            vals.append(np.where(bits[:, None], Z, node.slope * Z))
        else:
            Z = vals[node.source]
            g = node.groups
            choice = np.asarray(pattern[k : k + len(g)], dtype=np.int64)
            k += len(g)
            win = g[np.arange(len(g)), choice]
            for gi in range(len(g)):
                others = [r for r in dict.fromkeys(g[gi].tolist()) if r != win[gi]]
                if others:
                    rows.append(Z[others] - Z[win[gi]])  # z_other − z_win <= 0
                    owners += [(ni, gi, r) for r in others]
            vals.append(Z[win])
    box_rows = [np.hstack([np.eye(d), -hi * np.ones((d, 1))]), np.hstack([-np.eye(d), lo * np.ones((d, 1))])]
    A = np.vstack(rows + box_rows)
    owners += [("box", j) for j in range(d)] * 2
    return A[:, :-1], -A[:, -1], owners, vals[net.output]


def _chebyshev(A, beta, eq_row=None):
    from scipy.optimize import linprog

    nrm = np.linalg.norm(A, axis=1)
    d = A.shape[1]
    keep = nrm > ROW_NORM_FLOOR
    A_ub = np.hstack([A[keep], nrm[keep, None]])
    b_ub = beta[keep]
    A_eq = b_eq = None
    if eq_row is not None:
        A_ub = np.delete(A_ub, np.nonzero(np.nonzero(keep)[0] == eq_row)[0], axis=0)
        b_ub = np.delete(b_ub, np.nonzero(np.nonzero(keep)[0] == eq_row)[0])
        A_eq = np.hstack([A[eq_row], [0.0]])[None]
        b_eq = [beta[eq_row]]
    c = np.zeros(d + 1)
    c[-1] = -1
    res = linprog(
        c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=[(None, None)] * d + [(0, None)], method="highs"
    )
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
    keep = np.linalg.norm(A, axis=1) > ROW_NORM_FLOOR
    hs = HalfspaceIntersection(np.hstack([A[keep], -beta[keep, None]]), x0)
    return float(ConvexHull(hs.intersections).volume)


def _facets_qhull(A, beta, x0):
    """Non-redundant inequalities of {A x <= beta}, a point of each facet, and the volume (one Qhull call).

    Non-redundant inequalities of {A x <= beta}, a relative-interior point of each facet, and the volume,
    from one Qhull halfspace intersection around the interior point ``x0``.
    """
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


def iter_regions_nd(
    model, box: Box, *, counter: list | None = None, in_shape=None, max_regions: int | None = None
) -> Iterator[Region]:
    """Stream the activation regions of a box (BFS over facets); ``counter[0]`` counts LPs.

    Per region: one LP (Chebyshev centre), then one Qhull halfspace intersection gives the facets
    (non-redundant inequalities), a relative-interior point of each (mean of its vertices) and the
    volume. A region whose Qhull call fails (degenerate sliver) falls back to one LP per inequality.
    """
    net = as_pwl(model, in_shape=in_shape)
    d = net.in_dim
    box = _check_box(box, d)
    lo, hi = float(box.lo), float(box.hi)
    start = np.full(d, (lo + hi) / 2) + 1e-7 * np.arange(1, d + 1) * (hi - lo)
    p0 = pattern_at(net, start)
    seen = {p0}
    queue = deque([p0])
    counter = counter if counter is not None else [0]
    emitted = 0
    while queue:
        pat = queue.popleft()
        A, beta, owners, out = _hrep(net, pat, lo, hi)
        nrm = np.linalg.norm(A, axis=1)
        keep = nrm > ROW_NORM_FLOOR
        # duplicate inequalities (e.g. a ReLU sign and the max-pool comparison it implies) would make every
        # facet point look degenerate: keep the first of each
        An0, bn0 = A / np.where(keep, nrm, 1.0)[:, None], beta / np.where(keep, nrm, 1.0)
        _, first = np.unique(np.round(np.hstack([An0, bn0[:, None]]), 12), axis=0, return_index=True)
        uniq = np.zeros(len(A), dtype=bool)
        uniq[first] = True
        keep &= uniq
        idx = np.nonzero(keep)[0]
        An, bn = An0[keep], bn0[keep]
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
        except Exception:  # noqa: BLE001 - degenerate for Qhull: one LP per inequality
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
                q = pattern_at(net, y)
                nbrs.append(q)
                if q not in seen:
                    seen.add(q)
                    queue.append(q)
        yield Region(pat, None, out, x0.tolist(), vol, sorted(facets, key=str), np.hstack([A, beta[:, None]]), nbrs)
        emitted += 1
        if max_regions is not None and emitted >= max_regions and queue:
            raise _NDBudget(emitted)


class _NDBudget(Exception):
    def __init__(self, n: int) -> None:
        super().__init__(n)
        self.n = n


def _regions_nd(net: PWLNet, box: Box, mode: str, t0: float, max_regions: int, max_dim: int) -> RegionsResult:
    d = net.in_dim
    if d > max_dim:
        raise InputError(
            "box",
            f"{d}-D box: the n-D traversal enumerates region vertices, feasible up to max_dim={max_dim}",
            "use a Plane or Segment slice, or pass max_dim= to try anyway",
        )
    # estimate: distinct patterns among seeded random points of the box (a lower bound of the count)
    rng = np.random.default_rng(0)
    X = rng.uniform(box.lo, box.hi, (4096, d))
    seen = len({r.tobytes() for r in net.patterns(X)})
    if seen > max_regions:
        raise InputError(
            "max_regions",
            f"at least {seen} regions (distinct patterns at 4096 random points) exceed the limit {max_regions}",
            f"pass max_regions={seen * 10} to run anyway",
        )
    counter = [0]
    regs: list[Region] = []
    status = Status.UNCERTIFIED
    try:
        for r in iter_regions_nd(net, box, counter=counter, max_regions=max_regions):
            regs.append(r)
    except _NDBudget:
        status = Status.BUDGET_EXCEEDED
    index = {r.pattern: i for i, r in enumerate(regs)}
    adj = [(i, index[q]) for i, r in enumerate(regs) for q in r.neighbors if q in index and index[q] != i]
    A = [np.asarray(r.affine, dtype=float) for r in regs]
    labels = _union(len(regs), [(i, j) for i, j in adj if np.abs(A[i] - A[j]).max() <= MAP_ATOL])
    dom_vol = float((box.hi - box.lo) ** d)
    total = float(sum(r.volume for r in regs))
    gap = abs(total - dom_vol)
    cert = (
        "n-D traversal in float (LPs and Qhull): not certified; the volumes tile the box to "
        f"{gap:.2g}, so regions of volume below about {max(gap, 1e-9 * dom_vol):.2g} may be missing"
        if status is Status.UNCERTIFIED
        else f"stopped at {len(regs)} regions (max_regions): a lower bound"
    )
    return RegionsResult(
        status=status,
        seconds=time.perf_counter() - t0,
        mode="float",
        domain="box",
        activation_regions=len(regs),
        linear_regions=len(set(labels)),
        total_volume=total,
        domain_volume=dom_vol,
        tiling_error=gap,
        min_region_volume=float(min((r.volume for r in regs), default=0.0)),
        certificate=cert,
        bounds=_bounds(net),
        widths=list(net.widths),
        lps_solved=counter[0],
        regions_list=regs,
        linear_labels=labels,
    )


# ----------------------------------------------------------------------------------- decision boundary
def _decision_boundary(regs, domain: str):
    """Segments (domain coordinates) where the top-2 outputs tie (k >= 2) or the output is 0 (k = 1).

    Float geometry on the exact regions (for plots; not part of the certificate). In a region, a class
    that is <= another at every vertex is never the unique top (affine functions on a convex polygon),
    so only pairs of live classes are examined.
    """
    segs = []
    for r in regs:
        out_map = np.asarray(r.affine, dtype=float)
        k = out_map.shape[0]
        if domain == "segment":
            V = np.array([[r.vertices[0], 1.0], [r.vertices[1], 1.0]])
        else:
            V = np.hstack([np.asarray(r.vertices, dtype=float), np.ones((len(r.vertices), 1))])
        vals = out_map @ V.T  # k × vertices
        if k == 1:
            if vals.max() > 0 > vals.min() or (vals == 0).any() and vals.max() > 0:
                pairs = [(0, None)]
            else:
                continue
        else:
            ge = (vals[None, :, :] >= vals[:, None, :]).all(2)  # ge[c, d]: d >= c at every vertex
            gt = (vals[None, :, :] > vals[:, None, :]).any(2)
            dominated = (ge & gt).any(1)
            live = np.nonzero(~dominated)[0].tolist()
            if len(live) < 2:
                continue
            pairs = [(i, j) for a_, i in enumerate(live) for j in live[a_ + 1 :]]
        for i, j in pairs:
            line = out_map[i] if j is None else out_map[i] - out_map[j]
            if domain == "segment":
                s, c = line
                if abs(s) > ROW_NORM_FLOOR:
                    t = -c / s
                    if r.vertices[0] < t < r.vertices[1]:
                        val = out_map[:, 0] * t + out_map[:, 1]
                        if j is None or val[i] >= val.max() - BOUNDARY_TIE_TOL * max(1.0, abs(val.max())):
                            segs.append([float(t)])
                continue
            poly = [tuple(p) for p in r.vertices]
            if j is not None:
                for m in range(k):
                    if m not in (i, j):
                        poly = _clip_float(poly, out_map[i] - out_map[m])
                        if len(poly) < 2:
                            break
                if len(poly) < 2:
                    continue
            lv = [line[0] * p[0] + line[1] * p[1] + line[2] for p in poly]
            pts = []
            for a in range(len(poly)):
                P, Q = poly[a], poly[(a + 1) % len(poly)]
                va, vb = lv[a], lv[(a + 1) % len(poly)]
                if abs(va) <= BOUNDARY_TIE_TOL:
                    pts.append(P)
                if (va > BOUNDARY_TIE_TOL and vb < -BOUNDARY_TIE_TOL) or (
                    va < -BOUNDARY_TIE_TOL and vb > BOUNDARY_TIE_TOL
                ):
                    t = va / (va - vb)
                    pts.append((P[0] + t * (Q[0] - P[0]), P[1] + t * (Q[1] - P[1])))
            if len(pts) >= 2:
                segs.append([list(map(float, pts[0])), list(map(float, pts[-1]))])
    return segs


def _clip_float(poly, c, tol: float = BOUNDARY_TIE_TOL):
    vals = [c[0] * p[0] + c[1] * p[1] + c[2] for p in poly]
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


# ----------------------------------------------------------------------------------- along training
@dataclasses.dataclass
class AlongResult(Result):
    """Region counts of one architecture along training snapshots (same domain)."""

    kind = "regions_along"

    steps: list = dataclasses.field(default_factory=list)
    activation_regions: list[int] = dataclasses.field(default_factory=list)
    linear_regions: list[int] = dataclasses.field(default_factory=list)
    statuses: list[str] = dataclasses.field(default_factory=list)


def regions_along(
    model,
    snapshots,
    domain,
    *,
    steps: Sequence[Any] | None = None,
    mode: str = "exact",
    in_shape: Sequence[int] | None = None,
    example_input=None,
    max_regions: int = MAX_REGIONS,
) -> AlongResult:
    """Count regions on ``domain`` for every ``state_dict`` in ``snapshots`` loaded into (a copy of) ``model``.

    ``status`` is ``ok`` only when every count is certified.
    """
    import copy

    import torch

    t0 = time.perf_counter()
    snaps = list(snapshots)
    if not snaps:
        raise InputError("snapshots", "no state_dicts given")
    if steps is not None and len(steps) != len(snaps):
        raise InputError("steps", f"{len(steps)} steps for {len(snaps)} snapshots")
    m = copy.deepcopy(model)
    out = AlongResult(steps=list(steps) if steps is not None else list(range(len(snaps))))
    for i, sd in enumerate(snaps):
        try:
            m.load_state_dict({k: torch.as_tensor(v) for k, v in sd.items()})
        except (RuntimeError, KeyError, TypeError) as e:
            raise InputError(f"snapshots[{i}]", f"does not fit the model: {str(e).splitlines()[0]}") from None
        r = regions(
            m,
            domain,
            mode=mode,
            boundary=False,
            in_shape=in_shape,
            example_input=example_input,
            max_regions=max_regions,
        )
        out.activation_regions.append(r.activation_regions)
        out.linear_regions.append(r.linear_regions)
        out.statuses.append(Status(r.status).value)
    out.status = Status.OK if all(s == "ok" for s in out.statuses) else Status.UNCERTIFIED
    out.seconds = time.perf_counter() - t0
    return out
