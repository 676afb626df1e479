"""Every claim of the D1 area can fail: fed a deliberately wrong implementation or constant, its verdict is no
longer ``holds`` (and the right implementation holds, seed 0, quick mode)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tamelab.claims import ClaimContext, get_claim


def _holds(cid: str, seed: int = 0) -> bool | None:
    c = get_claim(cid)
    assert c.source and c.expected_from in ("paper", "theory", "regression")
    return c.fn(ClaimContext(seed=seed, quick=True)).holds


@pytest.fixture(autouse=True)
def _threads(one_torch_thread):
    yield


# --- Karmakar & Mukherjee --------------------------------------------------------------------------------------


def test_tron_rate_fails_with_a_wrong_rate_constant(monkeypatch):
    import tamelab.exact.karmakar2020gate as kg

    assert _holds("tron-relu-gate-geometric-rate")
    real = kg.gate_constants

    def rho_times_3(*a, **k):  # a rate three times faster than the theorem's: the mean cannot stay below it
        c = dict(real(*a, **k))
        c["rho"] *= 3
        return c

    monkeypatch.setattr(kg, "gate_constants", rho_times_3)
    assert _holds("tron-relu-gate-geometric-rate") is False


def test_tron_rate_fails_when_sgd_moves_from_zero(monkeypatch):
    import tamelab.exact.karmakar2020gate as kg

    real = kg.train_relu_gate
    monkeypatch.setattr(kg, "train_relu_gate", lambda *a, **k: real(*a, **{**k, "relu_prime_zero": 1.0}))
    assert _holds("tron-relu-gate-geometric-rate") is False  # σ'(0) = 1: SGD leaves w = 0


def test_poisoning_fails_without_the_attack_and_with_a_stronger_one(monkeypatch):
    import tamelab.exact.karmakar2020gate as kg

    assert _holds("tron-relu-gate-poisoning-floor")
    monkeypatch.setattr(kg.LabelAttack, "noise", lambda self, rng, X: np.zeros(X.shape[0]))  # attack not applied
    assert _holds("tron-relu-gate-poisoning-floor") is False
    monkeypatch.undo()
    real = kg.LabelAttack.noise
    monkeypatch.setattr(kg.LabelAttack, "noise", lambda self, rng, X: 10 * real(self, rng, X))  # |ξ| > θ*
    assert _holds("tron-relu-gate-poisoning-floor") is False


def test_similarity_fails_with_a_wrong_sgd_step(monkeypatch):
    import tamelab.exact.karmakar2020gate as kg

    assert _holds("tron-sgd-trajectory-similarity")
    real = kg.train_relu_gate

    def slow_sgd(w, **k):
        if k.get("method") == "sgd":
            k["eta"] = 0.2 * k["constants"]["eta"]
        return real(w, **k)

    monkeypatch.setattr(kg, "train_relu_gate", slow_sgd)
    assert _holds("tron-sgd-trajectory-similarity") is False


# --- Rangamani et al. --------------------------------------------------------------------------------------------


def test_sparse_coding_fails_with_a_wrong_bias_constant(monkeypatch):
    import tamelab.exact.rangamani2018sparse as rs

    assert _holds("sparse-coding-support-recovery-and-vanishing-gradient")
    monkeypatch.setattr(rs, "EPS_SCALE", 1.0)  # ε below the interference level: spurious units switch on
    assert _holds("sparse-coding-support-recovery-and-vanishing-gradient") is False


def test_sparse_local_minimum_fails_for_gradient_ascent(monkeypatch):
    import tamelab.exact.rangamani2018sparse as rs

    assert _holds("sparse-coding-local-minimum")
    real = rs.autoencoder_gradient

    def ascent(W, Y, eps):
        G, R, L = real(W, Y, eps)
        return -G, R, L

    monkeypatch.setattr(rs, "autoencoder_gradient", ascent)
    assert _holds("sparse-coding-local-minimum") is False


def test_deleted_claim_is_gone():
    from tamelab.errors import InputError

    with pytest.raises(InputError):
        get_claim("sparse-coding-gradient-larger-away-from-A")


# --- algebraic ---------------------------------------------------------------------------------------------------


def test_ktb_table_fails_with_a_wrong_jacobian(monkeypatch):
    import tamelab.algebraic.kileel2019neuromanifold as km

    assert _holds("ktb-neuromanifold-dimension-table")
    real = km.jacobian_mod_p

    def drop_first_weight(*a, **k):  # a Jacobian missing one parameter's column
        J = real(*a, **k)
        J[:, 0] = 0
        return J

    monkeypatch.setattr(km, "jacobian_mod_p", drop_first_weight)
    assert _holds("ktb-neuromanifold-dimension-table") is False


def test_alexander_hirschowitz_fails_without_the_defects(monkeypatch):
    import math

    import tamelab.claims.catalog.kileel2019neuromanifold as cat
    from tamelab.algebraic import NeuromanifoldResult

    assert _holds("alexander-hirschowitz-secant-defects")

    def naive(widths, power, **k):  # the expected dimension everywhere: no defective case
        n, d1, _ = widths
        return NeuromanifoldResult(dimension=min(n * d1, math.comb(n + power - 1, power)))

    monkeypatch.setattr(cat, "neuromanifold_dimension", naive)
    assert _holds("alexander-hirschowitz-secant-defects") is False


def test_counts_fail_with_an_off_by_one_groebner_count(monkeypatch):
    import tamelab.algebraic._critical as cr

    assert _holds("linear-net-critical-point-counts")
    real = cr.count_standard_monomials
    monkeypatch.setattr(cr, "count_standard_monomials", lambda G, gens: real(G, gens) - 1)  # drops the origin
    assert _holds("linear-net-critical-point-counts") is False


def test_counts_fail_when_homotopy_merges_distinct_roots(monkeypatch):
    import tamelab.algebraic._homotopy as hm

    monkeypatch.setattr(hm, "MERGE_TOL", 10.0)  # every root merged into one
    assert _holds("linear-net-critical-point-counts") is False


def test_spurious_minimum_fails_with_a_wrong_regularisation(monkeypatch):
    import tamelab.claims.catalog.mehta2018critical as cat

    assert _holds("regularised-linear-net-spurious-minimum")
    real = cat.linear_net_critical_points
    monkeypatch.setattr(cat, "linear_net_critical_points", lambda *a, **k: real(*a, **{**k, "regularization": 0.2}))
    assert _holds("regularised-linear-net-spurious-minimum") is False


# --- deep linear networks ----------------------------------------------------------------------------------------


def test_gd_limit_fails_with_a_wrong_optimum(monkeypatch):
    import tamelab.claims.catalog.baldi1989linear as cat

    assert _holds("deep-linear-closed-form-equals-gd-limit")
    real = cat.deep_linear_optimum
    monkeypatch.setattr(
        cat, "deep_linear_optimum", lambda *a, **k: dataclasses.replace(real(*a, **k), loss=0.9 * real(*a, **k).loss)
    )
    assert _holds("deep-linear-closed-form-equals-gd-limit") is False


def test_baldi_hornik_fails_with_ascending_eigenvectors(monkeypatch):
    import tamelab.exact._deep_linear as dl

    assert _holds("baldi-hornik-critical-points")
    real = dl.linear_statistics

    def ascending(X, Y):  # the classic eigh-order bug: 'top p' would be the smallest eigenvalues
        st = real(X, Y)
        return dataclasses.replace(st, eigenvalues=st.eigenvalues[::-1].copy(), U=st.U[:, ::-1].copy())

    monkeypatch.setattr(dl, "linear_statistics", ascending)
    assert _holds("baldi-hornik-critical-points") is False


def test_kawaguchi_fails_with_a_second_order_only_classifier(monkeypatch):
    import tamelab.exact._deep_linear as dl

    assert _holds("kawaguchi-degenerate-saddle")
    real = dl.local_min_verdict
    # no perturbations and no higher-order test along the Hessian's null space: the H = 2 origin looks undecided
    monkeypatch.setattr(
        dl, "local_min_verdict", lambda *a, **k: real(*a, **{**k, "perturbations": 0, "null_directions": 0})
    )
    assert _holds("kawaguchi-degenerate-saddle") is False


def test_regularisation_claim_fails_with_wrong_counts(monkeypatch):
    import tamelab.claims.catalog.baldi1989linear as cat

    assert _holds("deep-linear-regularisation-creates-spurious-minima")
    real = cat.linear_net_critical_points
    monkeypatch.setattr(
        cat,
        "linear_net_critical_points",
        lambda *a, **k: dataclasses.replace(real(*a, **k), complex_count=real(*a, **k).complex_count + 1),
    )
    assert _holds("deep-linear-regularisation-creates-spurious-minima") is False
