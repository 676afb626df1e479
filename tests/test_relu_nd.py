"""Exact n-D regions (tamelab.relu.regions_nd): references, degenerate arrangements, certificate, inputs.

References: the LP brute force ``_nd_exact.lp_patterns`` (depth-first over patterns, exact rational simplex
near zero margins), the existing LP traversal ``iter_regions_nd``, the 2-D exact splitter ``regions``, closed
forms for central arrangements, and counts confirmed by exact rational computation in issue 16.
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from math import comb

import numpy as np
import pytest
import torch
from torch import nn

from tamelab.errors import ComputationError, InputError, NotApplicableError
from tamelab.models import Affine, Max, PWLNet, ReLU, from_layers, mlp
from tamelab.relu import Box, Plane, _nd, iter_regions_nd, regions, regions_nd
from tamelab.relu import _nd_exact as X


def _patterns(res):
    return {tuple(int(v) for v in p) for p in res.patterns.tolist()}


def _reference(net, d, lo=-1.0, hi=1.0):
    return X.lp_patterns(_nd._program(net), np.full(d, lo), np.full(d, hi))


def _random_layers(rng, widths, kind):
    out = []
    for a, b in itertools.pairwise(widths):
        if kind == "gauss":
            W, c = rng.standard_normal((b, a)), rng.standard_normal(b) * 0.5
        elif kind == "int":  # many exact coincidences: vertices on hyperplanes, parallel and equal neurons
            W, c = rng.integers(-2, 3, (b, a)).astype(float), rng.integers(-1, 2, b).astype(float)
        else:  # bias-free: every zero set is a cone through the origin
            W, c = rng.standard_normal((b, a)), np.zeros(b)
        out.append((W, c))
    return out


# ----------------------------------------------------------------------------------- references
@pytest.mark.parametrize("kind", ["gauss", "int", "nobias"])
def test_matches_lp_brute_force_on_random_tiny_nets(seed, kind):
    rng = np.random.default_rng([seed, 11])
    for _ in range(4):
        d = int(rng.integers(1, 4))
        widths = [d] + [int(rng.integers(1, 5)) for _ in range(int(rng.integers(1, 3)))] + [1]
        net = from_layers(_random_layers(rng, widths, kind), slope=0.0 if rng.random() < 0.7 else 0.3)
        res = regions_nd(net, (-1.0, 1.0), euler=True, witness=True)
        assert res.status.value == "ok", res.certificate
        assert _patterns(res) == _reference(net, d), (widths, kind)


@pytest.mark.parametrize("widths", [[2, 5, 5, 1], [3, 4, 4, 1], [4, 4, 3, 1]])
def test_matches_lp_traversal_iter_regions_nd(widths):
    m = mlp(widths, seed=3, dtype=torch.float64)
    ref = {tuple(r.pattern) for r in iter_regions_nd(m, Box(-1.0, 1.0, widths[0]))}
    res = regions_nd(m, Box(-1.0, 1.0, widths[0]))
    assert res.status.value == "ok"
    assert _patterns(res) == ref


def test_matches_exact_2d_splitter_including_linear_regions():
    # a net whose second layer ignores neuron 0 and has a dead unit: linear regions < activation regions
    rng = np.random.default_rng(0)
    W1, b1 = rng.standard_normal((6, 2)), rng.standard_normal(6) * 0.3
    W2, b2 = rng.standard_normal((3, 6)), np.array([0.1, -5.0, -5.0])
    W2[:, 0] = 0.0
    W3 = np.array([[1.0, 0.0, 2.0]])
    seq = nn.Sequential(nn.Linear(2, 6), nn.ReLU(), nn.Linear(6, 3), nn.ReLU(), nn.Linear(3, 1)).double()
    with torch.no_grad():
        for lin, (W, b) in zip([seq[0], seq[2], seq[4]], [(W1, b1), (W2, b2), (W3, np.zeros(1))]):
            lin.weight.copy_(torch.tensor(W))
            lin.bias.copy_(torch.tensor(b))
    ref = regions(seq, Plane.box2d(-1.0, 1.0), mode="exact", boundary=False)
    res = regions_nd(seq, (-1.0, 1.0), linear=True)
    assert (res.activation_regions, res.linear_regions) == (ref.activation_regions, ref.linear_regions) == (19, 16)


def test_issue16_counts_with_tiny_regions():
    # exact counts (confirmed rationally, issue 16): float tiling dropped regions of area ~2e-12 here
    for widths, count in (([2, 64, 64, 1], 2943), ([2, 64, 64, 64, 1], 6668)):
        res = regions_nd(mlp(widths, seed=0, dtype=torch.float64), (-1.0, 1.0))
        assert res.activation_regions == count
        assert res.status.value == "ok" and res.certificate["euler_characteristic"] == 1


@pytest.mark.parametrize("widths,count", [([2, 16, 16, 1], 127), ([4, 8, 8, 1], 275), ([3, 8, 8, 1], 107)])
def test_regression_counts_of_the_benchmark_nets(widths, count):
    assert regions_nd(mlp(widths, seed=0, dtype=torch.float64), (-1.0, 1.0)).activation_regions == count


@pytest.mark.slow
@pytest.mark.parametrize("widths,count", [([4, 16, 16, 1], 6658), ([3, 32, 32, 1], 11512)])
def test_regression_counts_of_the_larger_benchmark_nets(widths, count):
    res = regions_nd(mlp(widths, seed=0, dtype=torch.float64), (-1.0, 1.0), witness=True)
    assert res.activation_regions == count and res.status.value == "ok"


# ----------------------------------------------------------------------------------- degenerate arrangements
@pytest.mark.parametrize("d,k", [(2, 5), (2, 9), (3, 6), (4, 6)])
def test_central_arrangement_closed_form(seed, d, k):
    # one bias-free hidden layer: k generic hyperplanes through 0 have 2 Σ_{i<d} C(k-1, i) regions
    rng = np.random.default_rng([seed, d, k])
    net = from_layers([(rng.standard_normal((k, d)), np.zeros(k)), (rng.standard_normal((1, k)), np.zeros(1))])
    res = regions_nd(net, (-1.0, 1.0))
    assert res.degenerate and res.predicates["symbolic"] > 0
    assert res.activation_regions == 2 * sum(comb(k - 1, i) for i in range(d))
    assert res.status.value == "ok"


def test_bias_free_deep_nets_match_brute_force():
    rng = np.random.default_rng(5)
    for widths in ([2, 6, 6, 1], [3, 4, 4, 1]):
        net = from_layers(_random_layers(rng, widths, "nobias"))
        res = regions_nd(net, (-1.0, 1.0))
        assert res.status.value == "ok"
        assert _patterns(res) == _reference(net, widths[0])


def test_bias_free_benchmark_net():
    # the anchor reports 36 cells on this net (7 spurious, 1 missing; decided by exact LP in the benchmark)
    res = regions_nd(mlp([2, 8, 8, 1], seed=0, dtype=torch.float64, bias=False), (-1.0, 1.0))
    assert res.activation_regions == 30 and res.status.value == "ok"


def test_duplicate_neurons_corner_hyperplane_and_zero_neuron():
    W = np.array([[1.0, 1.0], [1.0, 1.0], [2.0, 2.0], [1.0, -1.0], [2.0, 0.5], [0.0, 0.0]])
    b = np.array([0.0, 0.0, 0.0, 0.5, -2.5, 0.0])  # rows 0-2 one line; row 4 touches the corner (1, 1) only
    net = from_layers([(W, b), (np.array([[1.0, -1.0, 0.5, 1.0, 1.0, 1.0]]), np.zeros(1))])
    res = regions_nd(net, (-1.0, 1.0))
    assert res.activation_regions == 4 and res.status.value == "ok"
    assert _patterns(res) == _reference(net, 2)


def test_second_layer_identically_zero_on_a_cell():
    # bias-free: where every first-layer unit is off, the second layer is exactly 0 (pattern bit 0 there)
    W1 = np.array([[1.0, 0.0], [0.0, 1.0]])
    W2 = np.array([[1.0, -1.0], [0.5, 1.0]])
    net = from_layers([(W1, np.zeros(2)), (W2, np.zeros(2)), (np.ones((1, 2)), np.zeros(1))])
    res = regions_nd(net, (-1.0, 1.0))
    assert _patterns(res) == _reference(net, 2)
    assert (0, 0, 0, 0) in _patterns(res)


def _grazing_net():
    W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    b = np.array([-(2.0**-30), -(2.0**-30), -(2.0**-29) + 2.0**-82])
    assert b[2] != -(2.0**-29)  # the offset is representable
    return from_layers([(W, b), (np.ones((1, 3)), np.zeros(1))])


def test_hyperplane_grazing_a_vertex_needs_exact_arithmetic():
    # x + y = 2^-29 - 2^-82 misses the vertex (2^-30, 2^-30) of x = 2^-30, y = 2^-30 by 2^-82: a triangle of
    # area ~2^-165 that no float tolerance can see; the filter defers the sign and exact arithmetic keeps it
    net = _grazing_net()
    res = regions_nd(net, (0.0, 1.0), witness=True)
    assert res.predicates["exact"] > 0 and not res.degenerate
    assert res.activation_regions == 7 and _patterns(res) == _reference(net, 2, 0.0, 1.0)
    assert res.status.value == "ok"


def test_hyperplane_through_box_corner_and_along_a_face():
    W = np.array([[1.0, 1.0], [1.0, 0.0], [0.3, -0.7]])
    b = np.array([-2.0, -1.0, 0.1])  # row 0 touches the corner (1,1); row 1 is the face x = 1
    net = from_layers([(W, b), (np.ones((1, 3)), np.zeros(1))])
    res = regions_nd(net, (-1.0, 1.0))
    assert res.activation_regions == 2 and _patterns(res) == _reference(net, 2)


# ----------------------------------------------------------------------------------- programs
def test_residual_and_leaky_program_matches_brute_force():
    rng = np.random.default_rng(2)
    W1, b1 = rng.standard_normal((4, 2)), rng.standard_normal(4) * 0.5
    W2, b2 = rng.standard_normal((2, 4)), rng.standard_normal(2) * 0.5
    nodes = [
        None,
        Affine([0], [W1], b1),
        ReLU(1, 0.1),
        Affine([2, 0], [W2, np.eye(2)], b2),
        ReLU(3, 0.0),
        Affine([4], [np.ones((1, 2))], np.zeros(1)),
    ]
    net = PWLNet((2,), nodes, [2, 4, 4, 2, 2, 1], 5)
    res = regions_nd(net, (-1.0, 1.0), witness=True, linear=True)
    assert res.status.value == "ok"
    assert _patterns(res) == _reference(net, 2)
    x = np.asarray(res.interior_points)
    for i in range(0, res.activation_regions, 3):  # the lazily computed affine map is the network's
        A = res.region(i).affine()
        assert np.allclose(A[:, :2] @ x[i] + A[:, 2], net.forward(x[i][None])[0], atol=1e-10)


def test_max_node_rewrite_counts_and_linear_regions():
    # f(x) = max(x1, x2 + 0.05, -x1 - x2 + 0.3): three affine pieces, all present in the box
    A = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    nodes = [None, Affine([0], [A], np.array([0.0, 0.05, 0.3])), Max(1, np.array([[0, 1, 2]]))]
    net = PWLNet((2,), nodes, [2, 3, 1], 2)
    res = regions_nd(net, (-1.0, 1.0), linear=True)
    assert not res.degenerate and res.max_rewrites == 2 and res.widths == [1, 1]
    assert res.linear_regions == 3  # the function's linear pieces
    assert res.activation_regions == len(_reference(net, 2)) == 4  # patterns of the two rewritten ReLUs


def test_torch_sequential_with_leaky_relu_and_plain_layers():
    torch.manual_seed(0)
    seq = nn.Sequential(nn.Linear(2, 5), nn.LeakyReLU(0.2), nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 1)).double()
    res = regions_nd(seq, (-1.0, 1.0), witness=True)
    layers = [(seq[i].weight.detach().numpy(), seq[i].bias.detach().numpy()) for i in (0, 2, 4)]
    net = PWLNet(
        (2,),
        [
            None,
            Affine([0], [layers[0][0]], layers[0][1]),
            ReLU(1, 0.2),
            Affine([2], [layers[1][0]], layers[1][1]),
            ReLU(3, 0.0),
            Affine([4], [layers[2][0]], layers[2][1]),
        ],
        [2, 5, 5, 4, 4, 1],
        5,
    )
    assert _patterns(res) == _reference(net, 2)


# ----------------------------------------------------------------------------------- lazy geometry
def test_region_volumes_tile_the_box_and_maps_match_the_network():
    m = mlp([2, 6, 6, 1], seed=1, dtype=torch.float64)
    res = regions_nd(m, (-1.0, 1.0), witness=True)
    vols = [res.region(i).volume() for i in range(res.activation_regions)]
    assert min(vols) > 0 and abs(sum(vols) - 4.0) < 1e-9
    net = _nd._as_pwl(m)
    for i in range(res.activation_regions):
        reg = res.region(i)
        x = reg.interior_point
        A = reg.affine()
        assert np.allclose(A[:, :2] @ x + A[:, 2], net.forward(x[None])[0], atol=1e-10)
        Ae = reg.affine(exact=True)
        assert all(isinstance(v, Fraction) for v in Ae[0])
        assert all(f[0] == "box" or 0 <= f[0] < 2 for f in reg.facets)


def test_hash_seed_does_not_change_the_result():
    m = mlp([3, 5, 5, 1], seed=4, dtype=torch.float64)
    a, b = regions_nd(m, (-1.0, 1.0), seed=0), regions_nd(m, (-1.0, 1.0), seed=123)
    assert _patterns(a) == _patterns(b) and a.seed == 0 and b.seed == 123


def test_result_serialises():
    res = regions_nd(mlp([2, 4, 1], seed=0, dtype=torch.float64), (-1.0, 1.0))
    d = res.to_dict()
    assert d["kind"] == "regions_nd" and d["activation_regions"] == res.activation_regions
    assert "patterns" not in d and res.arrays()["patterns"].shape == (res.activation_regions, 4)


# ----------------------------------------------------------------------------------- the certificate refuses
def _state(widths=(2, 5, 5, 1), seed=2):
    m = mlp(list(widths), seed=seed, dtype=torch.float64)
    prog = _nd._program(_nd._as_pwl(m))
    en = _nd._Enum(prog, -np.ones(widths[0]), np.ones(widths[0]), seed=0, max_vertices=10**6)
    with np.errstate(all="ignore"):
        en.run()
    return en, prog


def _finish(en, prog, **kw):
    d = prog.d
    with np.errstate(all="ignore"):
        return _nd._finish(
            en,
            prog,
            -np.ones(d),
            np.ones(d),
            d,
            linear=False,
            witness=kw.get("witness", False),
            euler=kw.get("euler", True),
        )


def test_certificate_accepts_the_true_complex():
    en, prog = _state()
    out = _finish(en, prog, witness=True)
    assert out["status"].value == "ok" and out["euler_characteristic"] == 1


def test_certificate_refuses_a_wrong_edge():
    en, prog = _state()
    en.eP[3, 1] = en.eP[7, 1]  # an edge pointing at a wrong vertex
    out = _finish(en, prog)
    assert out["status"].value == "uncertified" and not out["certificate"]["edge_incidence"]


def test_certificate_refuses_a_missing_edge():
    en, prog = _state((3, 4, 4, 1))
    en.ne -= 1  # drop an edge: degrees (and the Euler characteristic) no longer add up
    out = _finish(en, prog)
    assert out["status"].value == "uncertified"
    assert not out["certificate"]["simple_vertex_degrees"]


def test_certificate_refuses_a_wrong_pattern_and_a_duplicate():
    en, prog = _state()
    en.cpat[0, 0] ^= 1  # region 0 reported with a wrong activation bit
    out = _finish(en, prog, witness=True)
    assert out["status"].value == "uncertified"
    en, prog = _state()
    en.cpat[1] = en.cpat[0]  # two regions with one pattern
    out = _finish(en, prog, witness=True)
    assert out["status"].value == "uncertified" and not out["certificate"]["witness"]["distinct_patterns"]


def test_witness_of_a_sliver_is_decided_exactly_not_by_a_tolerance():
    # the grazing triangle has area ~2^-165: its witness point cannot be certified in float, only exactly
    net = _grazing_net()
    res = regions_nd(net, (0.0, 1.0), witness=True)
    assert res.certificate["witness"]["exact"] >= 1 and res.status.value == "ok"


# ----------------------------------------------------------------------------------- inputs
def test_bad_inputs_are_refused_before_work():
    m = mlp([2, 4, 1], seed=0, dtype=torch.float64)
    with pytest.raises(InputError, match="box"):
        regions_nd(m, (1.0, -1.0))
    with pytest.raises(InputError, match="box"):
        regions_nd(m, (-np.inf, 1.0))
    with pytest.raises(InputError, match="dimension"):
        regions_nd(m, Box(-1.0, 1.0, 3))
    with pytest.raises(NotApplicableError, match="Tanh"):
        regions_nd(nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)), (-1.0, 1.0))
    with pytest.raises(InputError, match="input dimension"):
        regions_nd(mlp([9, 2, 1], seed=0), (-1.0, 1.0))
    with pytest.raises(InputError, match="model"):
        regions_nd("not a model", (-1.0, 1.0))


def test_vertex_budget_is_enforced():
    with pytest.raises(ComputationError, match="max_vertices"):
        regions_nd(mlp([2, 16, 16, 1], seed=0, dtype=torch.float64), (-1.0, 1.0), max_vertices=50)


# ----------------------------------------------------------------------------------- exact helpers
def test_dyadic_conversion_and_exact_solve_are_exact(seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(7) * 10.0 ** rng.integers(-30, 30, 7)
    dy = X.to_dy(a)
    assert all(Fraction(int(n), 2**dy.s) == Fraction(float(v)) for n, v in zip(dy.N, a))
    J = rng.integers(-9, 10, (3, 3))
    c = rng.integers(-9, 10, 3)
    sol = X.solve(J.tolist(), c.tolist())
    if sol is not None:
        num, D = sol
        x = [Fraction(v, D) for v in num]
        assert all(sum(int(J[i, j]) * x[j] for j in range(3)) + int(c[i]) == 0 for i in range(3))
        assert X.det(J.tolist()) == round(np.linalg.det(J))


def test_exact_lp_margin():
    # max t s.t. x - t >= 0, 1 - x - t >= 0 (t <= 1): t* = 1/2
    G = [[Fraction(-1), Fraction(1)], [Fraction(1), Fraction(1)], [Fraction(0), Fraction(1)]]
    assert X.lp_max_margin(G, [Fraction(0), Fraction(1), Fraction(1)], 1) == Fraction(1, 2)


def test_sos_sign_uses_the_first_nonzero_infinitesimal():
    # vertex: x = 0, y = 0 (rows z0 = x + ε0, z1 = y + ε1); z2 = x + y + ε2 vanishes at the vertex;
    # z2(v(ε)) = -ε0 - ε1 + ε2: the sign of the coefficient of ε0 (the largest) decides: -1
    def row(a, b, eps):
        e = [0, 0, 0]
        e[eps] = 1
        return X.Dy(np.array([a, b, 0] + e, dtype=object), 0)

    assert X.sos_sign([row(1, 0, 0), row(0, 1, 1)], row(1, 1, 2), 2, 3) == -1
    assert X.sos_sign([row(1, 0, 1), row(0, 1, 2)], row(1, -1, 0), 2, 3) == 1
