"""Trager–Kohn–Bruna pure/spurious critical points and Safran–Shamir restarts: references and wrong implementations."""

import math

import numpy as np
import torch

import tamelab.algebraic.trager2020pure as tkb
import tamelab.landscape.safran2018spurious as ss
from tamelab.claims import ClaimContext, get_claim
from tamelab.exact._deep_linear import deep_linear_gradient

Q = ClaimContext(seed=0, quick=True)


def _eckart_young_point(Y, idx, width=2):
    """Factors (W1: width×dx, W2: dy×width) of Σ_{i∈idx} σ_i u_i v_iᵀ: a critical point of ½‖W2 W1 − Y‖²."""
    U, s, Vt = np.linalg.svd(Y)
    W1, W2 = np.zeros((width, Y.shape[1])), np.zeros((Y.shape[0], width))
    for slot, i in enumerate(idx):
        W1[slot] = np.sqrt(s[i]) * Vt[i]
        W2[:, slot] = np.sqrt(s[i]) * U[:, i]
    return [W1, W2]


def test_stratum_analysis_on_eckart_young_points_and_a_non_critical_point():
    Y = np.random.default_rng(0).standard_normal((3, 3))
    for idx, pure in (((0, 1), True), ((1, 2), True), ((0,), False), ((2,), False), ((), False)):
        Ws = _eckart_young_point(Y, idx)
        assert max(np.abs(G).max() for G in deep_linear_gradient(Ws, np.eye(3), Y)) < 1e-12
        a = tkb.stratum_analysis(Ws, Y)
        assert a.rank == len(idx) and a.pure is pure and a.own_stratum_residual < 1e-12
        assert a.eckart_young_set == tuple(i + 1 for i in idx) and a.eckart_young_error < 1e-12
        assert pure or a.normal_residual > 0.1  # spurious: a descent direction inside the tangent cone of M_2
    a = tkb.stratum_analysis(
        [np.random.default_rng(1).standard_normal((2, 3)), np.random.default_rng(2).standard_normal((3, 2))], Y
    )
    assert a.own_stratum_residual > 1e-3


def test_levenberg_marquardt_finds_true_critical_points():
    Y = np.random.default_rng(0).standard_normal((3, 3))
    cps = tkb.find_critical_points(Y, (2,), starts=4, seed=1)
    assert len(cps) >= 2
    for Ws in cps:
        assert max(np.abs(G).max() for G in deep_linear_gradient(Ws, np.eye(3), Y)) < 1e-9
        assert tkb.stratum_analysis(Ws, Y).own_stratum_residual < 1e-8


def test_tkb_claim_holds_on_known_critical_points_and_fails_on_non_critical_ones(monkeypatch):
    def known(Y, widths, **kw):
        return [_eckart_young_point(Y, idx) for idx in ((0, 1), (0,), ())]

    monkeypatch.setattr(tkb, "find_critical_points", known)
    r = get_claim("tkb-pure-spurious-critical-points").run(Q)
    assert r["verdict"] == "holds", r["measured"]
    assert r["source"] and r["expected_from"] == "theory"

    def wrong(Y, widths, **kw):  # a 'solver' that returns points where the gradient does not vanish
        rng = np.random.default_rng(0)
        return [[rng.standard_normal((2, 3)), rng.standard_normal((3, 2))] for _ in range(2)] + known(Y, widths)

    monkeypatch.setattr(tkb, "find_critical_points", wrong)
    assert get_claim("tkb-pure-spurious-critical-points").run(Q)["verdict"] == "fails"


def test_population_loss_closed_form_against_monte_carlo_and_gradient_against_finite_differences():
    g = torch.Generator().manual_seed(0)
    W = torch.randn(5, 4, generator=g, dtype=torch.float64)
    V = torch.eye(4, dtype=torch.float64)
    x = torch.randn(400_000, 4, generator=g, dtype=torch.float64)
    r = torch.relu(x @ W.T).sum(1) - torch.relu(x @ V.T).sum(1)
    vals = 0.5 * r * r
    F = float(ss.population_loss(W, V))
    assert abs(F - float(vals.mean())) < 4 * float(vals.std()) / math.sqrt(len(vals))
    assert math.isclose(float(ss._kappa(W[:1], W[:1])), float(W[0] @ W[0]) / 2, rel_tol=1e-12)
    G = ss.population_gradient(W, V)
    h = 1e-6
    for i, j in ((0, 0), (2, 3), (4, 1)):
        E = torch.zeros_like(W)
        E[i, j] = h
        fd = (float(ss.population_loss(W + E, V)) - float(ss.population_loss(W - E, V))) / (2 * h)
        assert abs(fd - float(G[i, j])) < 1e-7


def test_restarts_reach_the_global_minimum_more_often_when_wider():
    narrow = ss.restart_study(10, 10, restarts=40, steps=1000, lr=0.2, seed=3)
    wide = ss.restart_study(10, 12, restarts=40, steps=1000, lr=0.2, seed=3)
    assert wide.global_fraction > narrow.global_fraction


def test_width_claim_fails_when_the_fraction_does_not_depend_on_width(monkeypatch):
    def flat(k, n, **kw):
        return ss.RestartStudy(
            k=k, width=n, restarts=kw["restarts"], global_fraction=0.5, spurious_fraction=0.2, unconverged_fraction=0.3
        )

    monkeypatch.setattr(ss, "restart_study", flat)
    assert get_claim("bad-minima-vanish-with-width").run(Q)["verdict"] == "fails"

    def rising(k, n, **kw):
        p = min(1.0, 0.5 + 0.25 * (n - k))
        return ss.RestartStudy(
            k=k, width=n, restarts=kw["restarts"], global_fraction=p, spurious_fraction=0.0, unconverged_fraction=1 - p
        )

    monkeypatch.setattr(ss, "restart_study", rising)
    r = get_claim("bad-minima-vanish-with-width").run(Q)
    assert r["verdict"] == "holds" and r["expected_from"] == "paper"
