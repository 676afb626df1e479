"""Exact ReLU geometry: regions against brute force and exact arithmetic, bounds, tropical form, hard families."""

from __future__ import annotations

import json
from math import comb

import numpy as np
import pytest
import torch
from torch import nn

from tamelab.errors import InputError
from tamelab.models import mlp, save
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

FIXED = [([[2, 1], [0, -1], [-1, -2]], [-1.265, -0.623, 0.041]), ([[-2, -2, -2], [2, 1, 2], [0, 1, 2]], [-2.325, -0.219, -1.246]),
         ([[1, 1, 0]], [-0.732])]


def _layers(model):
    return [(m.weight.detach().double().numpy(), m.bias.detach().double().numpy()) for m in model if isinstance(m, nn.Linear)]


def _grid_patterns(model, X):
    """Independent brute force: the set of activation patterns seen at the points X (one forward pass)."""
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


# --------------------------------------------------------------------- brute force, ≥ 20 nets per domain
@pytest.mark.parametrize("seed", range(20))
def test_segment_count_matches_dense_sampling_and_exact(seed):
    rng = np.random.default_rng(seed)
    widths = [3, int(rng.integers(2, 7)), int(rng.integers(2, 7)), 1]
    m = _rand_net(widths, seed)
    a, b = rng.standard_normal(3) * 2, rng.standard_normal(3) * 2
    rf = regions(m, Segment(a, b))
    rx = regions(m, Segment(a, b), mode="exact")
    assert [r.pattern for r in rf.regions_list] == [r.pattern for r in rx.regions_list]
    assert rf.linear_regions == rx.linear_regions
    t = np.linspace(0, 1, 20001)
    seen = _grid_patterns(m, a + t[:, None] * (b - a))
    found = {r.pattern for r in rf.regions_list}
    assert seen <= found  # every sampled pattern is an enumerated region (sampling is a lower bound)
    assert abs(sum(r.volume for r in rf.regions_list) - 1.0) < 1e-12
    # the affine map of each piece reproduces the network at its interior point
    for r in rf.regions_list:
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
    rf = regions(m, dom)
    rx = regions(m, dom, mode="exact")
    assert sorted(r.pattern for r in rf.regions_list) == sorted(r.pattern for r in rx.regions_list)
    assert rf.linear_regions == rx.linear_regions
    assert rx.tiling_error == 0.0 and rf.tiling_error < 1e-9
    g = np.linspace(-2, 2, 401)
    X = np.array(np.meshgrid(g, g)).reshape(2, -1).T
    assert _grid_patterns(m, X) <= {r.pattern for r in rf.regions_list}
    assert rf.activation_regions <= rf.bounds["serra_upper"]
    # each region's interior point has the region's pattern
    L = _layers(m)
    for r in rf.regions_list:
        assert pattern_at(L, r.interior_point) == r.pattern


@pytest.mark.parametrize("seed", range(20))
def test_box_nd_traversal_tiles_and_dominates_grid(seed):
    rng = np.random.default_rng(200 + seed)
    widths = [3, int(rng.integers(2, 5)), int(rng.integers(2, 5)), 1]
    m = _rand_net(widths, seed)
    r = regions(m, Box(-1.0, 1.0, 3))
    assert r.tiling_error < 1e-6 * 8, r.tiling_error
    assert r.status.value == "ok"
    g = np.linspace(-1, 1, 41)
    X = np.array(np.meshgrid(g, g, g)).reshape(3, -1).T
    assert _grid_patterns(m, X) <= {x.pattern for x in r.regions_list}
    for reg in r.regions_list:  # H-representation contains the interior point strictly
        A, beta = reg.halfspaces[:, :-1], reg.halfspaces[:, -1]
        assert np.all(A @ np.asarray(reg.interior_point) < beta)


def test_box_2d_agrees_with_plane_splitting():
    for seed in range(5):
        m = _rand_net([2, 5, 5, 1], seed)
        assert regions(m, Box(-1.0, 1.0, 2)).activation_regions == regions(m, Plane.box2d(-1.0, 1.0)).activation_regions


def test_iter_regions_streams():
    m = _rand_net([3, 6, 6, 1], 0)
    it = iter_regions_nd(m, Box(-1.0, 1.0, 3))
    first = next(it)
    assert first.volume > 0 and first.halfspaces is not None


# --------------------------------------------------------------------- fixed examples (spec §2.5)
def test_three_lines_give_seven_regions():
    m = from_layers([([[1, 0], [0, 1], [1, 1]], [0, 0, -1]), ([[1, 1, 1]], [0])])
    r = regions(m, Plane.box2d(-10, 10), mode="exact")
    assert r.activation_regions == 7 == 1 + 3 + comb(3, 2)


@pytest.mark.parametrize("L", [1, 2, 3, 4, 5, 6])
def test_tent_map_2_to_the_L(L):
    r = regions(tent_net(L), Segment([0.0], [1.0]), mode="exact")
    assert r.activation_regions == r.linear_regions == 2**L


def test_fixed_net_14_activation_7_linear():
    for mode in ("float", "exact"):
        r = regions(from_layers(FIXED), Plane.box2d(-1e4, 1e4), mode=mode)
        assert (r.activation_regions, r.linear_regions) == (14, 7)


def test_dead_neuron_and_zero_output_weight_merge_linear_regions():
    # second hidden neuron never active on the box (bias −100); the first hidden neuron has output weight 0
    m = from_layers([([[1, 0], [0, 1], [1, 1]], [0, -100, 0]), ([[0, 1, 1]], [0])])
    r = regions(m, Plane.box2d(-1, 1), mode="exact")
    assert r.activation_regions == 4  # x1 = 0 and x1 + x2 = 0 cut the square into 4
    assert r.linear_regions == 2  # only x1 + x2 = 0 changes the map


@pytest.mark.parametrize("case", ["parallel", "coincident", "through_vertex", "never_active", "always_active", "scaled"])
def test_degenerate_arrangements_float_equals_exact(case):
    W = {"parallel": [[1, 0], [1, 0], [0, 1]], "coincident": [[1, 1], [2, 2], [0, 1]], "through_vertex": [[1, 0], [0, 1], [1, 1]],
         "never_active": [[1, 0], [0, 1], [0, 0]], "always_active": [[1, 0], [0, 1], [0, 0]], "scaled": [[1e6, 0], [0, 1e-6], [1, 1]]}[case]
    b = {"parallel": [0, -0.5, 0], "coincident": [0, 0, 0], "through_vertex": [0, 0, 0], "never_active": [0, 0, -1],
         "always_active": [0, 0, 1], "scaled": [0, 0, 0]}[case]
    m = from_layers([(W, b), ([[1, -2, 3]], [0])])
    expected = {"parallel": 6, "coincident": 4, "through_vertex": 6, "never_active": 4, "always_active": 4, "scaled": 6}[case]
    rf, rx = regions(m, Plane.box2d(-1, 1)), regions(m, Plane.box2d(-1, 1), mode="exact")
    assert rf.activation_regions == rx.activation_regions == expected
    assert rf.linear_regions == rx.linear_regions
    assert rx.tiling_error == 0


def test_metamorphic_permutation_and_positive_scaling():
    m = _rand_net([2, 6, 5, 1], 3)
    base = regions(m, Plane.box2d(-2, 2))
    L = _layers(m)
    rng = np.random.default_rng(0)
    P = rng.permutation(6)
    s = rng.uniform(0.1, 10, 6)
    (W1, b1), (W2, b2), (W3, b3) = L
    m2 = from_layers([(s[:, None] * W1[P], s * b1[P]), (W2[:, P] / s, b2), (W3, b3)])
    r2 = regions(m2, Plane.box2d(-2, 2))
    assert (r2.activation_regions, r2.linear_regions) == (base.activation_regions, base.linear_regions)


def test_bad_models_name_the_layer():
    with pytest.raises(InputError, match="1"):
        regions(nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)), Plane.box2d(-1, 1))
    with pytest.raises(InputError, match="--mode"):
        regions(_rand_net([2, 3, 1], 0), Plane.box2d(-1, 1), mode="interval")
    with pytest.raises(InputError, match="--segment"):
        regions(_rand_net([2, 3, 1], 0), Segment([0.0], [1.0]))


# --------------------------------------------------------------------- bounds (spec §2.2 table)
@pytest.mark.parametrize("widths, serra, mont, znl, zas", [
    ((1, 4, 4, 4), 125, 125, 125, 13), ((2, 3, 3), 40, 49, 49, 22), ((2, 4, 4), 121, 121, 121, 37),
    ((2, 8, 8, 8), 50653, 50653, 50653, 301), ((3, 2, 8), 56, 148, 372, 176), ((4, 4, 4, 4), 1634, 4096, 4096, 794),
    ((10, 4, 4), 163, 256, 256, 256), ((2, 1, 5), 7, 12, 32, 22)])
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


def test_all_bounds_keys():
    b = all_bounds([2, 8, 8])
    assert b["serra_upper"] == serra_upper([2, 8, 8]) == 1369
    assert b["zaslavsky_first_layer"] == zaslavsky(2, 8) == 37
    assert b["zaslavsky_all_units_one_layer"] == zaslavsky(2, 16) == 137
    assert b["montufar14_lower"] <= b["serra_upper"] and b["znl_upper_valid"]


# --------------------------------------------------------------------- tropical form (spec §1)
def test_tropical_hand_example():
    f = tropical(from_layers([([[1], [1]], [0, -1]), ([[1, -1]], [0])]))
    F, G = f.F[0], f.G[0]
    assert sorted(zip(F.exponents[:, 0], F.coeffs)) == [(0.0, 0.0), (1.0, 0.0)]
    assert sorted(zip(G.exponents[:, 0], G.coeffs)) == [(0.0, 0.0), (1.0, -1.0)]


def test_tropical_fixed_example_10_and_7():
    f = tropical(from_layers(FIXED))
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
    layers = [(rng.integers(-2, 3, (b, a)).astype(float), rng.integers(-2, 3, b).astype(float)) for a, b in zip(widths[:-1], widths[1:])]
    m = from_layers(layers)
    f = tropical(m, seed=seed)
    X = rng.standard_normal((500, 2)) * 5
    want = m(torch.as_tensor(X)).detach().numpy()
    assert np.abs(f(X) - want).max() < 1e-9
    for P in (*f.F, *f.G):
        lp, hull = P.pruned("lp"), P.pruned("hull")
        assert len(lp) == len(hull)  # two independent routes agree
        assert len(lp.pruned("lp")) == len(lp)  # idempotent
        assert np.allclose(lp(X), P(X))  # pruning never changes the function
    unpruned = tropical(m, prune=False)
    assert np.abs(unpruned(X) - want).max() < 1e-9


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
    rng = np.random.default_rng(0)
    for w, k in [(2, 1), (3, 2), (2, 3)]:
        a = [np.sort(rng.uniform(0.05, 0.95, w - 1)) for _ in range(k)]
        assert regions(H_net(a), Segment([0.0], [1.0])).linear_regions == w**k


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
def test_regions_cli_json_and_errors(tmp_path, capsys):
    from tamelab.cli.main import main

    path = tmp_path / "m.safetensors"
    save(_rand_net([2, 8, 8, 2], 0), path)
    assert main(["regions", str(path), "--box", "-1,1", "--json", "--plot", str(tmp_path / "p.png"), "--out", str(tmp_path / "run")]) == 0
    out = json.loads(capsys.readouterr().out)
    for k in ("activation_regions", "linear_regions", "bounds", "seconds", "mode"):
        assert k in out
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["regions", str(path), "--box", "1,-1"]) == 2
    assert "--box" in capsys.readouterr().err
    assert main(["regions", str(path), "--segment", "0,0;1", "--json"]) == 2
    assert main(["tropical", str(path), "--json"]) == 0
    t = json.loads(capsys.readouterr().out)
    assert t["max_abs_error"] < 1e-9 and len(t["monomials_F"]) == 2
