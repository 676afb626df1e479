"""Exact ReLU geometry: regions against brute force and exact arithmetic, bounds, tropical form, hard families."""

from __future__ import annotations

import json
from pathlib import Path
from fractions import Fraction
from math import comb

import numpy as np
import pytest
import torch
from torch import nn

from tamelab.errors import InputError, NotApplicableError
from tamelab.models import Affine, Max, PWLNet, ReLU, lower, mlp, save
from tamelab.models import from_layers as pwl_from_layers
from tamelab.relu import (
    Box,
    H_net,
    Plane,
    Segment,
    all_bounds,
    boundary_ties,
    from_layers,
    hanin_rolnick,
    he_init_net,
    iter_regions_nd,
    max_affine_net,
    montufar17_upper,
    regions,
    regions_along,
    serra_upper,
    tent_net,
    tropical,
    zaslavsky,
    znl_upper,
    zonotope_net,
    zonotope_sublevel_polygon,
    zonotope_vertices,
)
from tamelab.relu._regions import pattern_at

REPO = Path(__file__).resolve().parents[1]

FIXED = [
    ([[2, 1], [0, -1], [-1, -2]], [-1.265, -0.623, 0.041]),
    ([[-2, -2, -2], [2, 1, 2], [0, 1, 2]], [-2.325, -0.219, -1.246]),
    ([[1, 1, 0]], [-0.732]),
]


def _layers(model):
    return [
        (m.weight.detach().double().numpy(), m.bias.detach().double().numpy())
        for m in model
        if isinstance(m, nn.Linear)
    ]


def _grid_patterns(model, X):
    """Independent brute force: the set of activation patterns seen at the points X (one torch forward pass)."""
    h = torch.as_tensor(X, dtype=torch.float64)
    pats = []
    lins = [m for m in model if isinstance(m, nn.Linear)]
    for lin in lins[:-1]:
        z = h @ lin.weight.double().T + lin.bias.double()
        pats.append((z > 0).numpy())
        h = torch.relu(z)
    return {tuple(r) for r in np.hstack(pats).astype(int)}


def _rand_net(widths, seed):
    return mlp(widths, seed=seed, dtype=torch.float64)


# --------------------------------------------------------------------- independent exact reference (Fractions)
def _frac_clip(poly, c, keep):
    """Sutherland–Hodgman in exact rationals: the part of a convex polygon with keep·(c·(α, β, 1)) >= 0."""
    vals = [keep * (c[0] * p[0] + c[1] * p[1] + c[2]) for p in poly]
    out = []
    for k in range(len(poly)):
        P, Q, vp, vq = poly[k], poly[(k + 1) % len(poly)], vals[k], vals[(k + 1) % len(poly)]
        if vp >= 0:
            out.append(P)
        if (vp > 0 > vq) or (vp < 0 < vq):
            t = vp / (vp - vq)
            out.append((P[0] + t * (Q[0] - P[0]), P[1] + t * (Q[1] - P[1])))
    return out


def _frac_area(poly):
    n = len(poly)
    return (
        abs(sum(poly[k][0] * poly[(k + 1) % n][1] - poly[(k + 1) % n][0] * poly[k][1] for k in range(n))) / 2
        if n >= 3
        else Fraction(0)
    )


def _reference_regions(net: PWLNet, M0, polygon):
    """Activation patterns of the regions of a program on a polygon, by exact rational splitting node by node
    (explicit rational vertices, no predicates or filters: an independent implementation)."""
    F = Fraction
    rows0 = [[F(float(x)) for x in r] for r in np.asarray(M0)]
    pieces = [([(F(float(a)), F(float(b))) for a, b in polygon], [rows0], ())]
    for node in net.nodes[1:]:
        new = []
        for poly, vals, pat in pieces:
            if isinstance(node, Affine):
                Z = [[F(float(node.b[i])) if c == 2 else F(0) for c in range(3)] for i in range(node.width)]
                for s, A in zip(node.sources, node.A):
                    for i in range(node.width):
                        for j, a in enumerate(A[i].tolist()):
                            if a:
                                for c in range(3):
                                    Z[i][c] += F(a) * vals[s][j][c]
                new.append((poly, vals + [Z], pat))
            elif isinstance(node, ReLU):
                Z = vals[node.source]
                sub = [(poly, ())]
                for z in Z:
                    nxt = []
                    for pl, bits in sub:
                        v = [z[0] * p[0] + z[1] * p[1] + z[2] for p in pl]
                        if all(x <= 0 for x in v) or (all(x >= 0 for x in v) and any(x > 0 for x in v)):
                            nxt.append((pl, bits + (int(any(x > 0 for x in v)),)))  # no cut (z ≡ 0: off)
                            continue
                        for keep, bit in ((1, 1), (-1, 0)):
                            q = _frac_clip(pl, z, keep)
                            if _frac_area(q) > 0:
                                nxt.append((q, bits + (bit,)))
                    sub = nxt
                sl = F(float(node.slope))
                for pl, bits in sub:
                    Y = [list(z) if b else [sl * c for c in z] for z, b in zip(Z, bits)]
                    new.append((pl, vals + [Y], pat + bits))
            else:
                Z = vals[node.source]
                sub = [(poly, (), [])]
                for grp in node.groups.tolist():
                    nxt = []
                    for pl, ch, rows in sub:
                        for pos, r in enumerate(grp):
                            if grp.index(r) != pos:
                                continue  # a repeated unit is the same candidate
                            q, ok = pl, True
                            for pos2, r2 in enumerate(grp):
                                if r2 == r or grp.index(r2) != pos2:
                                    continue
                                d = [a - b for a, b in zip(Z[r], Z[r2])]
                                if all(c == 0 for c in d):
                                    if pos2 < pos:
                                        ok = False  # the earlier identical candidate is the (first) max
                                    continue
                                q = _frac_clip(q, d, 1)
                                if _frac_area(q) == 0:
                                    ok = False
                                    break
                            if ok and _frac_area(q) > 0:
                                nxt.append((q, ch + (pos,), rows + [r]))
                    sub = nxt
                for pl, ch, rows in sub:
                    new.append((pl, vals + [[Z[r] for r in rows]], pat + ch))
        pieces = new
    return sorted(p[2] for p in pieces), sum(_frac_area(p[0]) for p in pieces)


def _tiny_programs(seed):
    """Seeded tiny programs of every kind: MLP, LeakyReLU, max pooling, residual source, lowered CNN."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    kind = seed % 4
    if kind == 0:
        return lower(_rand_net([2, int(rng.integers(2, 5)), int(rng.integers(2, 5)), 2], seed)), 2
    if kind == 1:
        m = nn.Sequential(nn.Linear(2, 4), nn.LeakyReLU(0.2), nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 1)).double()
        return lower(m), 2
    if kind == 2:  # conv on a 1×3×3 input, max pooling, linear head (on a plane of the 9-D input space)
        m = nn.Sequential(nn.Conv2d(1, 1, 2), nn.ReLU(), nn.MaxPool2d(2, 1), nn.Flatten(), nn.Linear(1, 2)).double()
        return lower(m, in_shape=(1, 3, 3)), 9

    class Res(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.c = nn.Linear(2, 3), nn.Linear(3, 2), nn.Linear(2, 2)

        def forward(self, x):
            return self.c(torch.relu(self.b(torch.relu(self.a(x)))) + x)

    return lower(Res().double()), 2


@pytest.mark.parametrize("seed", range(12))
def test_plane_regions_equal_exact_rational_reference(seed):
    net, d = _tiny_programs(seed)
    rng = np.random.default_rng(seed)
    x0, x1, x2 = (rng.standard_normal(d) for _ in range(3))
    pl = Plane.through(x0, x1, x2, margin=1.0)
    r = regions(net, pl)
    want, area = _reference_regions(net, np.stack([x1 - x0, x2 - x0, x0], 1), pl.polygon)
    assert area == 9  # the reference tiles the 3 × 3 square exactly
    assert sorted(x.pattern for x in r.regions_list) == want
    assert r.status.value == "ok" and r.mode == "exact"
    # every region's interior point has the region's pattern; the output map reproduces the network there
    M0 = np.stack([x1 - x0, x2 - x0, x0], 1)
    X = np.array([M0 @ [*x.interior_point, 1.0] for x in r.regions_list])
    assert [tuple(p) for p in net.patterns(X).tolist()] == [x.pattern for x in r.regions_list]
    got = np.array([x.affine @ [*x.interior_point, 1.0] for x in r.regions_list])
    assert np.allclose(got, net.forward(X), rtol=1e-9, atol=1e-9)


def _degenerate_program(seed):
    """Integer weights in {-1, 0, 1} (half-integer biases): coincident, parallel and concurrent lines, dead units,
    identical max candidates, residual sources and LeakyReLU — the cases the float filter cannot decide."""
    rng = np.random.default_rng(seed)
    kind = seed % 3
    if kind == 0:
        w = [2, int(rng.integers(2, 5)), int(rng.integers(2, 5)), 2]
        return pwl_from_layers(
            [
                (rng.integers(-1, 2, (b, a)).astype(float), rng.integers(-1, 2, b).astype(float) * 0.5)
                for a, b in zip(w[:-1], w[1:])
            ]
        )
    if kind == 1:
        A, b = rng.integers(-1, 2, (4, 2)).astype(float), rng.integers(-1, 2, 4).astype(float)
        A[3], b[3] = A[1], b[1]  # an identical unit
        groups = np.array([[0, 1], [1, 3], [2, 2], [3, 0]])
        skip = rng.integers(-1, 2, (1, 2)).astype(float)
        nodes = [
            None,
            Affine([0], [A], b),
            ReLU(1),
            Max(2, groups),
            Affine([3, 0], [np.ones((1, 4)), skip], np.zeros(1)),
        ]
        return PWLNet((2,), nodes, [2, 4, 4, 4, 1], 4)
    A, b = rng.integers(-2, 3, (3, 2)).astype(float), rng.integers(-1, 2, 3).astype(float)
    B = rng.integers(-1, 2, (2, 3)).astype(float)
    nodes = [
        None,
        Affine([0], [A], b),
        ReLU(1, 0.5),
        Affine([2, 0], [B, np.eye(2)], np.zeros(2)),
        ReLU(3),
        Affine([4], [np.ones((1, 2))], np.zeros(1)),
    ]
    return PWLNet((2,), nodes, [2, 3, 3, 2, 2, 1], 5)


@pytest.mark.parametrize("seed", range(24))
def test_degenerate_integer_programs_equal_exact_rational_reference(seed):
    net = _degenerate_program(seed)
    pl = Plane.box2d(-2.0, 2.0)
    r = regions(net, pl)
    want, area = _reference_regions(net, np.array([[1.0, 0, 0], [0, 1.0, 0]]), pl.polygon)
    assert area == 16
    assert sorted(x.pattern for x in r.regions_list) == want and r.status.value == "ok"


# --------------------------------------------------------------------- brute force, ≥ 20 nets per domain
@pytest.mark.parametrize("seed", range(20))
def test_segment_count_matches_dense_sampling_and_exact(seed):
    rng = np.random.default_rng(seed)
    widths = [3, int(rng.integers(2, 7)), int(rng.integers(2, 7)), 1]
    m = _rand_net(widths, seed)
    a, b = rng.standard_normal(3) * 2, rng.standard_normal(3) * 2
    rf = regions(m, Segment(a, b), mode="float")
    rx = regions(m, Segment(a, b))
    assert rx.status.value == "ok" and rf.status.value == "uncertified"
    assert [r.pattern for r in rf.regions_list] == [r.pattern for r in rx.regions_list]
    assert rf.linear_regions == rx.linear_regions
    t = np.linspace(0, 1, 20001)
    seen = _grid_patterns(m, a + t[:, None] * (b - a))
    found = {r.pattern for r in rx.regions_list}
    assert seen <= found  # every sampled pattern is an enumerated region (sampling is a lower bound)
    assert len(found) == len(rx.regions_list)  # on a segment every pattern occurs once (convexity)
    assert abs(sum(r.volume for r in rx.regions_list) - 1.0) < 1e-12
    ts = [r.vertices for r in rx.regions_list]
    assert min(v[0] for v in ts) == 0 and max(v[1] for v in ts) == 1
    # the affine map of each piece reproduces the network at its interior point
    for r in rx.regions_list:
        x = a + r.interior_point[0] * (b - a)
        want = m(torch.as_tensor(x[None])).detach().numpy()[0]
        got = r.affine[:, :-1] @ np.array(r.interior_point) + r.affine[:, -1]
        assert np.allclose(got, want, atol=1e-9)


@pytest.mark.parametrize("seed", range(20))
def test_plane_count_matches_grid_and_exact(seed):
    rng = np.random.default_rng(100 + seed)
    widths = [2, int(rng.integers(2, 6)), int(rng.integers(2, 6)), 2]
    m = _rand_net(widths, seed)
    dom = Plane.box2d(-2.0, 2.0)
    rf = regions(m, dom, mode="float")
    rx = regions(m, dom)
    assert sorted(r.pattern for r in rf.regions_list) == sorted(r.pattern for r in rx.regions_list)
    assert rf.linear_regions == rx.linear_regions
    assert rx.tiling_error < 1e-12 and rx.status.value == "ok"
    g = np.linspace(-2, 2, 401)
    X = np.array(np.meshgrid(g, g)).reshape(2, -1).T
    assert _grid_patterns(m, X) <= {r.pattern for r in rx.regions_list}
    assert rx.activation_regions <= rx.bounds["serra_upper"].value
    want, _ = _reference_regions(lower(m), np.array([[1.0, 0, 0], [0, 1.0, 0]]), dom.polygon)
    assert sorted(r.pattern for r in rx.regions_list) == want
    L = _layers(m)
    for r in rx.regions_list:
        assert pattern_at(L, r.interior_point) == r.pattern


@pytest.mark.parametrize("seed", range(20))
def test_box_nd_traversal_tiles_and_dominates_grid(seed):
    rng = np.random.default_rng(200 + seed)
    widths = [3, int(rng.integers(2, 5)), int(rng.integers(2, 5)), 1]
    m = _rand_net(widths, seed)
    r = regions(m, Box(-1.0, 1.0, 3))
    assert r.tiling_error < 1e-6 * 8, r.tiling_error
    assert r.status.value == "uncertified" and "not certified" in r.certificate  # float LPs: honest status
    g = np.linspace(-1, 1, 41)
    X = np.array(np.meshgrid(g, g, g)).reshape(3, -1).T
    assert _grid_patterns(m, X) <= {x.pattern for x in r.regions_list}
    for reg in r.regions_list:  # H-representation contains the interior point strictly
        A, beta = reg.halfspaces[:, :-1], reg.halfspaces[:, -1]
        assert np.all(A @ np.asarray(reg.interior_point) < beta)


def test_box_nd_on_a_lowered_cnn_with_maxpool():
    torch.manual_seed(2)
    m = nn.Sequential(nn.Conv1d(1, 2, 2), nn.ReLU(), nn.MaxPool1d(2), nn.Flatten(), nn.Linear(2, 1)).double()
    net = lower(m, in_shape=(1, 3))
    r = regions(net, Box(-1.0, 1.0, 3))
    assert abs(r.total_volume - 8.0) < 1e-6
    g = np.linspace(-1, 1, 41)
    X = np.array(np.meshgrid(g, g, g)).reshape(3, -1).T
    assert {tuple(p) for p in net.patterns(X).tolist()} <= {x.pattern for x in r.regions_list}


def test_box_2d_and_nd_traversal_agree_with_plane_splitting():
    for seed in range(5):
        m = _rand_net([2, 5, 5, 1], seed)
        plane = regions(m, Plane.box2d(-1.0, 1.0))
        box = regions(m, Box(-1.0, 1.0, 2))  # dimension 2: split exactly as the square
        nd = list(iter_regions_nd(m, Box(-1.0, 1.0, 2)))
        assert box.status.value == "ok"
        assert (
            {r.pattern for r in nd} == {r.pattern for r in plane.regions_list} == {r.pattern for r in box.regions_list}
        )


def test_iter_regions_streams():
    m = _rand_net([3, 6, 6, 1], 0)
    it = iter_regions_nd(m, Box(-1.0, 1.0, 3))
    first = next(it)
    assert first.volume > 0 and first.halfspaces is not None
    A, beta = first.halfspaces[:, :-1], first.halfspaces[:, -1]
    assert np.all(A @ np.asarray(first.interior_point) < beta)


# --------------------------------------------------------------------- lowered models on slices of input space
def _conv_net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 10)
    ).double()


def test_conv_net_rewritten_as_mlp_gives_identical_regions():
    """A conv net (no pooling) and the MLP with its dense matrices define the same program: same regions."""
    torch.manual_seed(5)
    conv = nn.Sequential(
        nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 2, 2), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3)
    ).double()
    net = lower(conv, in_shape=(1, 5, 5))
    dense = [(n.A[0], n.b) for n in net.nodes[1:] if isinstance(n, Affine)]
    as_mlp = from_layers(dense)  # an nn.Sequential of Linear/ReLU
    assert [type(x) for x in as_mlp] == [nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Linear]
    rng = np.random.default_rng(0)
    pl = Plane.through(*(rng.uniform(0, 1, 25) for _ in range(3)))
    a, b = regions(conv, pl, in_shape=(1, 5, 5)), regions(as_mlp, pl)
    assert [r.pattern for r in a.regions_list] == [r.pattern for r in b.regions_list]
    assert (a.activation_regions, a.linear_regions) == (b.activation_regions, b.linear_regions)
    assert a.activation_regions > 10 and a.status.value == b.status.value == "ok"


def test_conv_maxpool_net_on_plane_through_three_images():
    """The issue's CNN (1×8×8 → Conv 4 → ReLU → MaxPool → Linear 10) on the plane through three images:
    the exact regions contain every pattern of a 401² grid, their interior points carry their patterns,
    and on a sub-square the count equals the exact rational reference."""
    m = _conv_net()
    g = torch.Generator().manual_seed(1)
    imgs = torch.rand((3, 1, 8, 8), generator=g, dtype=torch.float64)
    pl = Plane.through(*imgs, margin=0.0)
    net = lower(m, in_shape=(1, 8, 8))
    M0 = np.stack([pl.u, pl.v, pl.point], 1)
    pl.polygon = [(0.33, 0.33), (0.4, 0.33), (0.4, 0.4), (0.33, 0.4)]
    want, _ = _reference_regions(net, M0, pl.polygon)
    small = regions(m, pl, in_shape=(1, 8, 8))
    assert sorted(x.pattern for x in small.regions_list) == want and small.status.value == "ok"
    pl.polygon = [(0.3, 0.3), (0.45, 0.3), (0.45, 0.45), (0.3, 0.45)]
    r = regions(m, pl, in_shape=(1, 8, 8))
    assert r.status.value == "ok" and r.activation_regions == 149
    found = {x.pattern for x in r.regions_list}
    gr = np.linspace(0.3, 0.45, 201)
    A, B = np.meshgrid(gr, gr)
    X = np.stack([A.ravel(), B.ravel(), np.ones(A.size)], 1) @ M0.T
    seen = {tuple(p) for p in np.unique(net.patterns(X), axis=0).tolist()}
    assert seen <= found and len(found) >= len(seen) > 100
    Xc = np.array([M0 @ [*x.interior_point, 1.0] for x in r.regions_list])
    assert [tuple(p) for p in net.patterns(Xc).tolist()] == [x.pattern for x in r.regions_list]
    # decision boundary: top-2 logits tie at the midpoint of every segment
    for seg in r.decision_boundary[:20]:
        mid = (np.asarray(seg[0]) + np.asarray(seg[1])) / 2
        out = np.sort(net.forward((M0 @ [*mid, 1.0])[None])[0])
        assert abs(out[-1] - out[-2]) < 1e-8 * max(1.0, abs(out[-1]))


def test_residual_block_regions_and_refusals():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.bn, self.c2 = nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.Conv2d(2, 1, 3, padding=1)
            self.fc = nn.Linear(16, 2)

        def forward(self, x):
            return self.fc(torch.flatten(torch.relu(self.c2(torch.relu(self.bn(self.c1(x)))) + x), 1))

    torch.manual_seed(0)
    m = Block().double().eval()
    with torch.no_grad():
        m.bn.running_mean.uniform_(-0.2, 0.2)
        m.bn.running_var.uniform_(0.5, 1.5)
    rng = np.random.default_rng(3)
    pl = Plane.through(*(rng.standard_normal(16) for _ in range(3)), margin=0.0)
    pl.polygon = [(0.0, 0.0), (0.4, 0.0), (0.4, 0.4), (0.0, 0.4)]
    r = regions(m, pl, in_shape=(1, 4, 4))
    net = lower(m, in_shape=(1, 4, 4))
    want, _ = _reference_regions(net, np.stack([pl.u, pl.v, pl.point], 1), pl.polygon)
    assert sorted(x.pattern for x in r.regions_list) == want and r.status.value == "ok"
    m.train()
    with pytest.raises(NotApplicableError, match=r"layer 'bn' \(BatchNorm2d\).*training mode"):
        regions(m, pl, in_shape=(1, 4, 4))
    with pytest.raises(NotApplicableError, match=r"GELU.*not piecewise linear"):
        regions(nn.Sequential(nn.Linear(2, 3), nn.GELU(), nn.Linear(3, 1)), Plane.box2d(-1, 1))


def test_regions_along_training_snapshots():
    m = _rand_net([2, 6, 6, 1], 0)
    snaps = [_rand_net([2, 6, 6, 1], s).state_dict() for s in range(3)]
    res = regions_along(m, snaps, Plane.box2d(-1, 1), steps=[0, 10, 20])
    assert res.steps == [0, 10, 20] and res.status.value == "ok"
    assert res.activation_regions == [
        regions(_rand_net([2, 6, 6, 1], s), Plane.box2d(-1, 1)).activation_regions for s in range(3)
    ]
    with pytest.raises(InputError, match=r"snapshots\[0\]"):
        regions_along(m, [{"0.weight": torch.zeros(3, 3)}], Plane.box2d(-1, 1))


# --------------------------------------------------------------------- certificates that must not lie
def test_degenerate_domains_are_refused():
    m2, m1 = _rand_net([2, 8, 8, 1], 0), _rand_net([1, 8, 1], 0)
    with pytest.raises(InputError, match="collinear"):
        regions(m2, Plane.through([0, 0], [0, 0], [0, 0]))
    with pytest.raises(InputError, match="collinear"):
        regions(m2, Plane.through([0, 0], [1, 1], [2, 2]))
    with pytest.raises(InputError, match="linearly dependent"):
        regions(m2, Plane([0, 0], [1, 1], [2, 2]))
    with pytest.raises(InputError, match="input dimension >= 2"):
        regions(m1, Plane.through([0.0], [1.0], [2.0]))
    with pytest.raises(InputError, match="overflows"):
        regions(m2, Box(-1e308, 1e308, 2))  # was: 0 regions, tiling_error inf, status ok
    with pytest.raises(InputError, match="overflows"):
        regions(m2, Box(-1e200, 1e200, 2))
    for bad in ([float("nan"), 0], [float("inf"), 0]):
        with pytest.raises(InputError, match="NaN or inf"):
            regions(m2, Plane.through(bad, [1, 0], [0, 1]))
        with pytest.raises(InputError, match="NaN or inf"):
            regions(m2, Segment(bad, [1, 0]))
    with pytest.raises(InputError, match="convex"):
        regions(m2, Plane([0, 0], [1, 0], [0, 1], [(0, 0), (1, 0), (0.2, 0.2), (0, 1)]))
    with pytest.raises(InputError, match="zero area"):
        regions(m2, Plane([0, 0], [1, 0], [0, 1], [(0, 0), (1, 1), (2, 2)]))
    with pytest.raises(InputError, match="dimension 3"):
        regions(m2, Box(-1, 1, 3))
    with pytest.raises(InputError, match="equal"):
        regions(m2, Segment([1, 1], [1, 1]))


def test_region_below_float_tolerance_is_found_and_float_mode_does_not_certify():
    """Three lines through nearly one point: the middle triangle has area 5e-27, far below any float
    tolerance. Exact mode finds all 7 regions (and certifies); float mode misses it and is not ok."""
    m = from_layers([([[1, 0], [0, 1], [1, 1]], [-0.5, -0.5, -(1 + 1e-13)]), ([[1, 1, 1]], [0])])
    rx, rf = regions(m, Plane.box2d(-1, 1)), regions(m, Plane.box2d(-1, 1), mode="float")
    assert rx.activation_regions == 7 and rx.status.value == "ok"
    assert 0 < rx.min_region_volume < 1e-25  # the triangle x1 > .5, x2 > .5, x1 + x2 < 1 + 1e-13
    assert rf.activation_regions == 6 and rf.status.value == "uncertified"
    want, _ = _reference_regions(lower(m), np.array([[1.0, 0, 0], [0, 1.0, 0]]), Plane.box2d(-1, 1).polygon)
    assert len(want) == 7


@pytest.mark.parametrize("widths, want", [([2, 64, 64, 1], 2943), ([2, 64, 64, 64, 1], 6668)])
def test_issue_nets_count_tiny_regions(widths, want):
    """torch.manual_seed(0) nets of the issue on [−1, 1]²: the old float mode reported 2942 / 6666 with status
    ok; exact rational arithmetic (the old Fraction mode, 774 s) and an independent counter give 2943 / 6668
    (the missing regions have areas 1.9e-12 and 3.2e-12)."""
    r = regions(_rand_net(widths, 0), Plane.box2d(-1.0, 1.0), boundary=False)
    assert r.activation_regions == want and r.status.value == "ok"
    assert r.min_region_volume < 1e-11
    assert r.tiling_error < 1e-12


def test_resource_guards():
    wide = _rand_net([2, 3000, 2], 0)
    with pytest.raises(InputError, match=r"max_regions.*about \d+ regions"):
        regions(wide, Plane.box2d(-1, 1))
    r = regions(_rand_net([2, 16, 16, 1], 0), Plane.box2d(-1, 1), max_regions=50)
    assert r.status.value == "budget_exceeded" and r.activation_regions > 50
    with pytest.raises(InputError, match="64-D box"):
        regions(_rand_net([64, 8, 1], 0), Box(-1, 1, 64))
    with pytest.raises(InputError, match="max_regions"):
        regions(_rand_net([2, 8, 1], 0), Plane.box2d(-1, 1), max_regions=0)


# --------------------------------------------------------------------- fixed examples (spec §2.5)
def test_three_lines_give_seven_regions():
    m = from_layers([([[1, 0], [0, 1], [1, 1]], [0, 0, -1]), ([[1, 1, 1]], [0])])
    r = regions(m, Plane.box2d(-10, 10))
    assert r.activation_regions == 7 == 1 + 3 + comb(3, 2)
    assert r.status.value == "ok"


@pytest.mark.parametrize("L", [1, 2, 3, 4, 5, 6])
def test_tent_map_2_to_the_L(L):
    r = regions(tent_net(L), Segment([0.0], [1.0]))
    assert r.activation_regions == r.linear_regions == 2**L
    assert r.status.value == "ok"
    assert sorted(v for x in r.regions_list for v in x.vertices)[::2] == [k / 2**L for k in range(2**L)]


def test_fixed_net_14_activation_7_linear():
    for mode in ("float", "exact"):
        r = regions(from_layers(FIXED), Plane.box2d(-1e4, 1e4), mode=mode)
        assert (r.activation_regions, r.linear_regions) == (14, 7)


def test_dead_neuron_and_zero_output_weight_merge_linear_regions():
    # second hidden neuron never active on the box (bias −100); the first hidden neuron has output weight 0
    m = from_layers([([[1, 0], [0, 1], [1, 1]], [0, -100, 0]), ([[0, 1, 1]], [0])])
    r = regions(m, Plane.box2d(-1, 1))
    assert r.activation_regions == 4  # x1 = 0 and x1 + x2 = 0 cut the square into 4
    assert r.linear_regions == 2  # only x1 + x2 = 0 changes the map


@pytest.mark.parametrize(
    "case", ["parallel", "coincident", "through_vertex", "never_active", "always_active", "scaled"]
)
def test_degenerate_arrangements_float_equals_exact(case):
    W = {
        "parallel": [[1, 0], [1, 0], [0, 1]],
        "coincident": [[1, 1], [2, 2], [0, 1]],
        "through_vertex": [[1, 0], [0, 1], [1, 1]],
        "never_active": [[1, 0], [0, 1], [0, 0]],
        "always_active": [[1, 0], [0, 1], [0, 0]],
        "scaled": [[1e6, 0], [0, 1e-6], [1, 1]],
    }[case]
    b = {
        "parallel": [0, -0.5, 0],
        "coincident": [0, 0, 0],
        "through_vertex": [0, 0, 0],
        "never_active": [0, 0, -1],
        "always_active": [0, 0, 1],
        "scaled": [0, 0, 0],
    }[case]
    m = from_layers([(W, b), ([[1, -2, 3]], [0])])
    expected = {
        "parallel": 6,
        "coincident": 4,
        "through_vertex": 6,
        "never_active": 4,
        "always_active": 4,
        "scaled": 6,
    }[case]
    rf, rx = regions(m, Plane.box2d(-1, 1), mode="float"), regions(m, Plane.box2d(-1, 1))
    assert rf.activation_regions == rx.activation_regions == expected
    assert rf.linear_regions == rx.linear_regions
    assert rx.tiling_error < 1e-15 and rx.status.value == "ok"
    want, area = _reference_regions(lower(m), np.array([[1.0, 0, 0], [0, 1.0, 0]]), Plane.box2d(-1, 1).polygon)
    assert sorted(r.pattern for r in rx.regions_list) == want and area == 4


def test_metamorphic_permutation_and_positive_scaling():
    m = _rand_net([2, 6, 5, 1], 3)
    base = regions(m, Plane.box2d(-2, 2))
    L = _layers(m)
    rng = np.random.default_rng(0)
    P = rng.permutation(6)
    s = 2.0 ** rng.integers(-3, 4, 6)  # powers of two: the scaled network is the same function exactly
    (W1, b1), (W2, b2), (W3, b3) = L
    m2 = from_layers([(s[:, None] * W1[P], s * b1[P]), (W2[:, P] / s, b2), (W3, b3)])
    r2 = regions(m2, Plane.box2d(-2, 2))
    assert (r2.activation_regions, r2.linear_regions) == (base.activation_regions, base.linear_regions)
    inv = np.argsort(P)
    assert sorted(tuple(p[:6][i] for i in inv) + p[6:] for p in (x.pattern for x in r2.regions_list)) == sorted(
        x.pattern for x in base.regions_list
    )


def test_bad_models_name_the_layer():
    with pytest.raises(NotApplicableError, match=r"layer '1' \(Tanh\).*not piecewise linear"):
        regions(nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)), Plane.box2d(-1, 1))
    with pytest.raises(InputError, match="mode"):
        regions(_rand_net([2, 3, 1], 0), Plane.box2d(-1, 1), mode="interval")
    with pytest.raises(InputError, match="segment a.*2 inputs"):
        regions(_rand_net([2, 3, 1], 0), Segment([0.0], [1.0]))
    lin = nn.Linear(2, 1)
    lin.weight = nn.Parameter(torch.ones(1, 2, dtype=torch.bool), requires_grad=False)
    with pytest.raises(InputError, match="bool"):
        regions(nn.Sequential(lin), Plane.box2d(-1, 1))


# --------------------------------------------------------------------- bounds (spec §2.2 table)
@pytest.mark.parametrize(
    "widths, serra, mont, znl, zas",
    [
        ((1, 4, 4, 4), 125, 125, 125, 13),
        ((2, 3, 3), 40, 49, 49, 22),
        ((2, 4, 4), 121, 121, 121, 37),
        ((2, 8, 8, 8), 50653, 50653, 50653, 301),
        ((3, 2, 8), 56, 148, 372, 176),
        ((4, 4, 4, 4), 1634, 4096, 4096, 794),
        ((10, 4, 4), 163, 256, 256, 256),
        ((2, 1, 5), 7, 12, 32, 22),
    ],
)
def test_bounds_table(widths, serra, mont, znl, zas):
    assert serra_upper(widths) == serra
    assert montufar17_upper(widths) == mont
    assert znl_upper(widths)[0] == znl
    assert zaslavsky(widths[0], sum(widths[1:])) == zas


def test_serra_bound_brute_force_recursion():
    """Serra's sum over J, by literal enumeration of all j-tuples, equals the recursive implementation."""
    from itertools import product

    for widths in [(2, 3, 3), (3, 2, 8), (2, 4, 3, 2), (1, 3, 1, 3)]:
        n0, ns = widths[0], widths[1:]
        total = 0
        for js in product(*[range(n + 1) for n in ns]):
            ok, cap = True, n0
            for j, n in zip(js, ns):
                if j > min(cap, n):
                    ok = False
                    break
                cap = min(cap, n - j)
            if ok:
                total += int(np.prod([comb(n, j) for n, j in zip(ns, js)]))
        assert serra_upper(widths) == total


def test_all_bounds_keys_and_validity_flags():
    b = all_bounds([2, 8, 8])
    assert b["serra_upper"].value == serra_upper([2, 8, 8]) == 1369 and b["serra_upper"].valid
    assert b["zaslavsky_first_layer"].value == zaslavsky(2, 8) == 37
    assert b["zaslavsky_all_units_one_layer"].value == zaslavsky(2, 16) == 137
    assert not b["zaslavsky_all_units_one_layer"].valid  # not a bound for two hidden layers
    assert b["montufar14_lower"].value <= b["serra_upper"].value and b["znl_upper"].valid
    # the atlas case: 64 inputs, three hidden layers of 64 — Serra's lower bound needs widths >= 3·64 and
    # its value (6.3e57) exceeds the upper bound (1.8e57): it must carry valid=False and say why
    b = all_bounds([64, 64, 64, 64])
    assert b["serra_lower"].value > b["serra_upper"].value
    assert not b["serra_lower"].valid and "192" in b["serra_lower"].why
    assert all(v.valid for v in b.values() if v.kind == "upper")
    for v in b.values():  # every valid lower bound on the maximum is below every upper bound
        if v.kind == "max-lower" and v.valid:
            assert v.value <= b["serra_upper"].value
    assert str(b["serra_upper"]) == "1.780e+57" and "not valid" in str(b["serra_lower"])
    from tamelab.relu import serra_lower

    d = regions(_rand_net([2, 3, 3, 1], 0), Plane.box2d(-1, 1)).to_dict()["bounds"]  # JSON form for the atlas
    assert d["serra_lower"] == {
        "value": serra_lower([2, 3, 3])[0],
        "kind": "max-lower",
        "valid": False,
        "why": "needs every hidden width >= 3 × input dimension = 6",
        "source": "arXiv:1711.02114 Thm 8",
    }
    assert d["serra_upper"]["value"] == 40 and d["serra_upper"]["valid"] is True
    with pytest.raises(InputError, match="widths"):
        all_bounds([2])


@pytest.mark.parametrize("seed", range(6))
def test_exact_counts_never_exceed_valid_upper_bounds(seed):
    rng = np.random.default_rng(seed)
    w = [2] + [int(rng.integers(2, 7)) for _ in range(int(rng.integers(1, 4)))] + [1]
    r = regions(_rand_net(w, seed), Plane.box2d(-1e3, 1e3), boundary=False)
    for k, v in r.bounds.items():
        if v.kind == "upper" and v.valid:
            assert r.activation_regions <= v.value, k


# --------------------------------------------------------------------- tropical form (spec §1)
def test_tropical_hand_example():
    f = tropical(from_layers([([[1], [1]], [0, -1]), ([[1, -1]], [0])]))
    F, G = f.F[0], f.G[0]
    assert sorted(zip(F.exponents[:, 0], F.coeffs)) == [(0.0, 0.0), (1.0, 0.0)]
    assert sorted(zip(G.exponents[:, 0], G.coeffs)) == [(0.0, 0.0), (1.0, -1.0)]


def test_tropical_fixed_example_10_and_7():
    f = tropical(from_layers(FIXED))
    assert f.status.value == "ok" and f.pruning_certified
    assert f.monomials_F == [10] and f.monomials_G == [7]
    assert f.hull_vertices_F == [10] and f.hull_vertices_G == [7]
    assert f.max_abs_error < 1e-12
    # F's linear regions = its non-dominated monomials: argmax on a fine grid over a large box
    g = np.linspace(-10, 10, 801)
    X = np.array(np.meshgrid(g, g)).reshape(2, -1).T
    assert len(set(f.F[0].argmax(X))) == 10 and len(set(f.G[0].argmax(X))) == 7


@pytest.mark.parametrize("seed", range(8))
def test_tropical_identity_and_pruning_on_integer_nets(seed):
    rng = np.random.default_rng(seed)
    depth = int(rng.integers(2, 4))
    widths = [2] + [int(rng.integers(2, 4)) for _ in range(depth - 1)] + [1]
    layers = [
        (rng.integers(-2, 3, (b, a)).astype(float), rng.integers(-2, 3, b).astype(float))
        for a, b in zip(widths[:-1], widths[1:])
    ]
    m = from_layers(layers)
    f = tropical(m, seed=seed)
    X = rng.standard_normal((500, 2)) * 5
    want = m(torch.as_tensor(X)).detach().numpy()
    assert np.abs(f(X) - want).max() < 1e-9
    assert f.status.value == "ok"
    for P in (*f.F, *f.G):
        lp, hull = P.pruned("lp"), P.pruned("hull")
        assert len(lp) == len(hull)  # two independent routes agree
        assert len(lp.pruned("lp")) == len(lp)  # idempotent
        assert np.allclose(lp(X), P(X))  # pruning never changes the function
    unpruned = tropical(m, prune=False)
    assert np.abs(unpruned(X) - want).max() < 1e-9


def test_tropical_far_breakpoint_issue_reproduction():
    """relu(1e-6·(x1 + x2) − 3): the old pruning searched |x| <= 1e6 and dropped the piece that starts at
    x1 + x2 = 3e6, while its spot check (Gaussian points) reported max_abs_error = 0 and ok."""
    m = from_layers([([[1e-6, 1e-6]], [-3.0]), ([[1.0]], [0.0])])
    f = tropical(m)
    assert f.monomials_F == [2] and f.monomials_G == [1] and f.status.value == "ok" and f.pruning_certified
    assert abs(f(np.array([[2e6, 2e6]]))[0, 0] - 1.0) < 1e-9
    assert f.far_check_points > 0


def test_tropical_spot_check_catches_a_dropped_far_piece():
    """Feed the certificate the old wrong answer (the far monomial dropped): it must not pass."""
    from tamelab.relu.zhang2018tropical import CHECK_RTOL, TropicalForm, TropicalPoly, _spot_check

    m = from_layers([([[1e-6, 1e-6]], [-3.0]), ([[1.0]], [0.0])])
    wrong = TropicalForm(F=[TropicalPoly.constant(0.0, 2)], G=[TropicalPoly.constant(0.0, 2)])
    err, n_far = _spot_check(wrong, lower(m), 256, 0)
    assert err > 1e3 * CHECK_RTOL and n_far > 0
    # and the Gaussian points alone would not have seen it
    X = 3.0 * np.random.default_rng(0).standard_normal((256, 2))
    assert np.abs(wrong(X)[:, 0] - lower(m).forward(X)[:, 0]).max() == 0


@pytest.mark.parametrize("seed", range(6))
def test_tropical_randomised_far_breakpoints(seed):
    """Small weights and large biases put the breakpoints at |x| ~ 1e5..1e8: the form must still be exact
    there (checked at points beyond each breakpoint along the weight directions)."""
    rng = np.random.default_rng(seed)
    W1 = rng.standard_normal((3, 2)) * 10.0 ** rng.uniform(-8, -5, (3, 1))
    b1 = rng.standard_normal(3) * 3
    W2, b2 = rng.standard_normal((1, 3)), rng.standard_normal(1)
    m = from_layers([(W1, b1), (W2, b2)])
    f = tropical(m, seed=seed)
    assert f.status.value == "ok", f.certificate
    net = lower(m)
    for w, b in zip(W1, b1):
        t = -b / (w @ w)  # the breakpoint of this unit along its normal
        X = np.array([(t + s * (1 + abs(t))) * w for s in (-2.0, -0.5, 0.5, 2.0)])
        want = net.forward(X)[:, 0]
        assert np.allclose(f(X)[:, 0], want, rtol=1e-9, atol=1e-9 * max(1.0, np.abs(want).max()))


def test_tropical_of_lowered_models_leaky_and_maxpool():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv1d(1, 2, 2), nn.ReLU(), nn.MaxPool1d(2), nn.Flatten(), nn.Linear(2, 1)).double()
    f = tropical(m, in_shape=(1, 3))
    assert f.status.value == "ok" and f.max_abs_error < 1e-12
    X = np.random.default_rng(1).standard_normal((2000, 3)) * 100
    assert np.allclose(f(X)[:, 0], lower(m, in_shape=(1, 3)).forward(X)[:, 0], rtol=1e-12, atol=1e-9)
    leaky = nn.Sequential(
        nn.Linear(2, 3), nn.LeakyReLU(0.25), nn.Linear(3, 2), nn.LeakyReLU(-0.5), nn.Linear(2, 1)
    ).double()
    g = tropical(leaky)
    assert g.max_abs_error < 1e-12
    assert np.allclose(g(X[:, :2])[:, 0], lower(leaky).forward(X[:, :2])[:, 0], rtol=1e-12, atol=1e-9)
    with pytest.raises(NotApplicableError, match="GELU"):
        tropical(nn.Sequential(nn.Linear(2, 2), nn.GELU(), nn.Linear(2, 1)))


def test_tropical_resource_guard():
    with pytest.raises(InputError, match=r"budget.*monomials"):
        tropical(_rand_net([64, 16, 10], 0))
    deep = nn.Sequential(*[x for _ in range(200) for x in (nn.Linear(2, 2), nn.ReLU())], nn.Linear(2, 1))
    with pytest.raises(InputError, match="budget"):
        tropical(deep)


def test_tropical_boundary_points_are_ties():
    from tamelab.claims.catalog.arora2018relu import _zero_level_points

    m = from_layers(FIXED)
    f = tropical(m)
    pts = _zero_level_points(m, 20, 0)
    assert np.abs(m(torch.as_tensor(pts)).detach().numpy()).max() < 1e-9
    assert boundary_ties(f, pts).all()
    off = pts + 0.3
    assert not boundary_ties(f, off[np.abs(m(torch.as_tensor(off)).detach().numpy()[:, 0]) > 1e-3]).all()


# --------------------------------------------------------------------- hard families and constructions
def test_H_family_w_to_the_k():
    # dyadic breakpoints: the composed float64 weights are the exact ones, so the exact count is w^k
    for w, k in [(2, 1), (3, 2), (2, 3), (4, 2)]:
        a = [{2: [0.5], 3: [0.25, 0.5], 4: [0.25, 0.5, 0.75]}[w]] * k
        r = regions(H_net(a), Segment([0.0], [1.0]))
        assert r.linear_regions == w**k and r.status.value == "ok"
    # random breakpoints: composing the weights rounds, and the float64 network has w^k pieces plus pieces of
    # length ~1e-16 next to the breakpoints that rounding created; exact mode reports them all
    rng = np.random.default_rng(0)
    for w, k in [(2, 1), (3, 2), (2, 3)]:
        a = [np.sort(rng.uniform(0.05, 0.95, w - 1)) for _ in range(k)]
        r = regions(H_net(a), Segment([0.0], [1.0]))
        long = {lab for lab, x in zip(r.linear_labels, r.regions_list) if x.volume > 1e-9}
        assert len(long) == w**k <= r.linear_regions


def test_zonotope_vertices_and_pieces():
    rng = np.random.default_rng(1)
    B = rng.standard_normal((4, 2))
    assert len(zonotope_vertices(B)) == 2 * sum(comb(3, i) for i in range(2))  # 8 in general position
    r = regions(zonotope_net(B, [[0.5]]), Plane([0, 0], [1, 0], [0, 1], zonotope_sublevel_polygon(B)), boundary=False)
    assert r.linear_regions == 8 * 2


@pytest.mark.parametrize("m", [2, 3, 5, 8])
def test_max_affine_exact(m):
    rng = np.random.default_rng(m)
    A, c = rng.standard_normal((m, 3)), rng.standard_normal(m)
    net = max_affine_net(A, c)
    X = rng.standard_normal((500, 3))
    assert np.abs(net(torch.as_tensor(X)).detach().numpy()[:, 0] - (X @ A.T + c).max(1)).max() < 1e-12
    assert sum(isinstance(x, nn.ReLU) for x in net) == int(np.ceil(np.log2(m)))


def test_hanin_rolnick_segment_counts_are_exact_counts():
    s = hanin_rolnick([4, 8, 8, 1], nets=3, seed=0, length=4.0)
    assert s.neurons == 16 and len(s.segment_regions) == 3
    # independent check: count pattern changes along a dense sampling of the same segment
    for i, n in enumerate(s.segment_regions):
        model = he_init_net([4, 8, 8, 1], seed=i)
        rng = np.random.default_rng([0, i])
        u = rng.standard_normal(4)
        u /= np.linalg.norm(u)
        t = np.linspace(-2, 2, 40001)
        pats = _grid_patterns(model, t[:, None] * u)
        assert len(pats) <= n


# --------------------------------------------------------------------- CLI
def test_regions_cli_json_and_errors(tmp_path, capsys, monkeypatch):
    from tamelab.cli.main import main

    monkeypatch.chdir(tmp_path)
    path = tmp_path / "m.safetensors"
    save(_rand_net([2, 8, 8, 2], 0), path)
    assert (
        main(
            [
                "regions",
                str(path),
                "--box",
                "-1,1",
                "--json",
                "--plot",
                str(tmp_path / "p.png"),
                "--out",
                str(tmp_path / "run"),
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    r = regions(_rand_net([2, 8, 8, 2], 0), Plane.box2d(-1, 1))
    assert (out["activation_regions"], out["linear_regions"]) == (r.activation_regions, r.linear_regions)
    assert out["bounds"]["serra_upper"]["value"] == serra_upper([2, 8, 8]) and out["mode"] in ("exact", "float")
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["regions", str(path), "--box", "1,-1"]) == 2
    assert "--box" in capsys.readouterr().err
    assert main(["regions", str(path), "--segment", "0,0;1", "--json"]) == 2
    small = tmp_path / "s.safetensors"
    save(_rand_net([2, 3, 3, 2], 0), small)
    assert main(["tropical", str(small), "--json"]) == 0
    t = json.loads(capsys.readouterr().out)
    assert t["max_abs_error"] < 1e-9 and len(t["monomials_F"]) == 2
    run_dir = Path(t["run_dir"])  # no --out: under $TAMELAB_RUNS (set by the test suite), never the repository
    assert (run_dir / "result.json").is_file() and REPO not in run_dir.resolve().parents
