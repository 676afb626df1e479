"""Arora et al. (arXiv:1611.01491) Thm 2.1 / Lemma D.5 / Thm 3.1: references and wrong implementations."""

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
import torch

import tamelab.relu.arora2016pwl as pwl
from tamelab.claims import ClaimContext, get_claim

Q = ClaimContext(seed=0, quick=True)


def _max_identity_mismatches(A, c, terms, rng, n_pts=200):
    n = A.shape[1]
    bad = 0
    for _ in range(n_pts):
        x = [Fraction(int(v), 7) for v in rng.integers(-60, 61, n)]
        vals = [sum(A[j, i] * x[i] for i in range(n)) + c[j] for j in range(len(c))]
        bad += max(vals) != sum(s * max(vals[j] for j in idx) for s, idx in terms)
    return bad


@pytest.mark.parametrize("n,m", [(1, 6), (2, 9), (3, 9)])
def test_max_affine_terms_is_an_exact_identity_with_at_most_n_plus_1_pieces(n, m):
    rng = np.random.default_rng(n)
    A = rng.integers(-5, 6, (m, n)).astype(object)
    c = rng.integers(-5, 6, m).astype(object)
    terms = pwl.max_affine_terms(A, c)
    assert max(len(idx) for _, idx in terms) <= n + 1
    assert _max_identity_mismatches(A, c, terms, rng) == 0


def test_max_affine_terms_with_affine_heights_uses_a_plain_triangulation():
    # homogeneous pieces (c = 0): the lifted points are coplanar, Qhull's upper hull would be flat
    A = np.array([[1, 0], [-1, 0], [0, 1], [0, -1], [1, 1], [2, -1]], dtype=object)
    c = np.zeros(6, dtype=object)
    terms = pwl.max_affine_terms(A, c)
    assert max(len(idx) for _, idx in terms) <= 3
    assert _max_identity_mismatches(A, c, terms, np.random.default_rng(0)) == 0


def test_wrong_euler_signs_break_the_identity(monkeypatch):
    rng = np.random.default_rng(5)
    A, c = rng.integers(-5, 6, (9, 2)).astype(object), rng.integers(-5, 6, 9).astype(object)
    real = pwl._interior_faces
    monkeypatch.setattr(pwl, "_interior_faces", lambda s, d: [(F, 1) for F, _ in real(s, d)])
    assert _max_identity_mismatches(A, c, pwl.max_affine_terms(A, c), rng) > 0


def test_pwl_net_equals_the_lattice_function_exactly_with_the_paper_depth():
    f = pwl.random_lattice_pwl(2, 6, groups=3, group_size=4, seed=3)
    net = pwl.pwl_relu_net(f)
    chk = pwl.check_exact(f, net, random_points=60, float_points=2000, seed=1)
    assert chk.mismatches == 0 and chk.vertices > 0 and chk.max_float_error < 1e-12
    assert net.depth == pwl.depth_bound(2) == 3
    # the integer path of the exact evaluator agrees with the Fraction path
    layers_frac = [(W.astype(object) * Fraction(1), b.astype(object) * Fraction(1)) for W, b in net.layers]
    x = [Fraction(3, 7), Fraction(-5, 11)]
    assert pwl.eval_layers_exact(net.layers, x) == pwl.eval_layers_exact(
        [(np.vectorize(Fraction)(W), np.vectorize(Fraction)(b)) for W, b in layers_frac], x
    )


def test_pieces_1d_matches_the_segment_walk_and_closed_forms():
    from tamelab.relu import Segment, regions, tent_net

    for L in (1, 2, 3, 4):
        layers = [
            (m.weight.detach().numpy(), m.bias.detach().numpy()) for m in tent_net(L) if isinstance(m, torch.nn.Linear)
        ]
        assert pwl.pieces_1d(layers)[1][0] == 0  # first breakpoint at 0
        p, bps = pwl.pieces_1d(layers)
        assert 1 + sum(1 for x in bps if 0 < x < 1) == 2**L
    rng = np.random.default_rng(0)
    for widths in ([3], [3, 2], [2, 3, 2]):
        dims = [1, *widths, 1]
        layers = [
            (rng.standard_normal((dims[j + 1], dims[j])), rng.standard_normal(dims[j + 1]))
            for j in range(len(widths) + 1)
        ]
        p, bps = pwl.pieces_1d(layers)
        lo, hi = (float(min(bps)) - 1, float(max(bps)) + 1) if bps else (-1.0, 1.0)
        net = pwl.PWLReLUNet([(np.asarray(W, object), np.asarray(b, object)) for W, b in layers], []).torch()
        ref = regions(net, Segment([lo], [hi]), mode="exact").linear_regions
        assert p == ref


def test_lemma_d5_search_matches_brute_force():
    for k in (1, 2, 3):
        for s in range(k, 9):
            brute = max(pwl.lemma_d5_bound(w) for w in itertools.product(range(1, s + 1), repeat=k) if sum(w) == s)
            assert pwl.max_pieces_at_size(s, k) == brute
    assert pwl.min_size_for_pieces(2**4, 1) == 15  # one hidden layer: w_1 + 1 >= 16
    assert math.isclose(pwl.gap_size_lower_bound(3, 3, 1), 12.5)


def test_shallow_equivalent_of_H_is_exact():
    L = pwl.H_layers_exact([[Fraction(1, 3), Fraction(2, 3)], [Fraction(1, 2)]])
    p, bps = pwl.pieces_1d(L)
    S = pwl.shallow_equivalent(L)
    assert S[0][0].shape[0] == p
    for x in bps + [Fraction(-2), Fraction(5, 3), Fraction(7, 9)]:
        assert pwl.eval_layers_exact(S, [x]) == pwl.eval_layers_exact(L, [x])


# ---------------------------------------------------------------- the claims hold, and fail when the code is wrong
def test_claims_hold_in_quick_mode():
    for cid in ("arora-pwl-to-relu-depth-bound", "arora-lemma-d5-piece-bound", "arora-depth-size-gap"):
        r = get_claim(cid).run(Q)
        assert r["verdict"] == "holds", (cid, r["measured"], r["note"])
        assert r["source"] and r["expected_from"] == "paper"


def test_depth_claim_fails_without_the_wang_sun_step(monkeypatch):
    # a 'decomposition' that keeps every piece in one max: exact, but too deep for n >= 2
    monkeypatch.setattr(pwl, "max_affine_terms", lambda A, c: [(1, tuple(range(len(np.asarray(c).reshape(-1)))))])
    r = get_claim("arora-pwl-to-relu-depth-bound").run(Q)
    assert r["verdict"] == "fails" and r["measured"]["depth_within_bound"] is False


def test_depth_claim_fails_on_a_wrong_pairwise_max(monkeypatch):
    real = pwl._max_branch

    def wrong(rows, L, n):  # a sign slip in the output combination of every branch with >= 2 pieces
        layers = real(rows, L, n)
        W, b = layers[-1]
        return layers[:-1] + [(-W if len(rows) > 1 else W, b)]

    monkeypatch.setattr(pwl, "_max_branch", wrong)
    r = get_claim("arora-pwl-to-relu-depth-bound").run(Q)
    assert r["verdict"] == "fails" and r["measured"]["exact_mismatches"] > 0


def test_lemma_d5_claim_fails_on_a_wrong_constant(monkeypatch):
    monkeypatch.setattr(pwl, "lemma_d5_bound", lambda w: 2 ** (len(w) - 1) * math.prod(w))  # (w_1+1) -> w_1
    assert get_claim("arora-lemma-d5-piece-bound").run(Q)["verdict"] == "fails"


def test_gap_claim_fails_on_a_wrong_constant(monkeypatch):
    # ½k'w^{k/k'} − 1 -> k'w^{k/k'}
    monkeypatch.setattr(pwl, "gap_size_lower_bound", lambda w, k, kp: kp * w ** (k / kp))
    assert get_claim("arora-depth-size-gap").run(Q)["verdict"] == "fails"
