"""Every registered claim can fail: fed a deliberately wrong implementation or constant, its verdict is no
longer ``holds`` (and the right implementation holds, seed 0, quick mode)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

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


# --- exact ReLU geometry (Arora et al., Zhang–Naitzat–Lim, Serra et al., Hanin–Rolnick) ------------------------


def _wrong_tent_net(L: int, a: float = 1.6):
    """A 'tent' whose peak is a < 2 times too low: t maps [0, 1] onto [0, a/2], so compositions lose pieces."""
    from tamelab.relu import from_layers

    layers = [([[1.0], [1.0]], [0.0, -0.5])]
    layers += [([[a, -2 * a], [a, -2 * a]], [0.0, -0.5]) for _ in range(L - 1)]
    return from_layers([*layers, ([[a, -2 * a]], [0.0])])


def test_tent_claim_fails_with_a_tent_that_does_not_cover_the_interval(monkeypatch):
    import tamelab.claims.catalog.arora2018relu as cat

    assert _holds("tent-map-2^L-pieces")
    monkeypatch.setattr(cat, "tent_net", _wrong_tent_net)
    assert _holds("tent-map-2^L-pieces") is False


def test_h_family_claim_fails_when_a_layer_is_dropped(monkeypatch):
    import tamelab.claims.catalog.arora2018relu as cat

    real = cat.H_net
    assert _holds("arora-H-family-w^k-pieces")
    monkeypatch.setattr(cat, "H_net", lambda a, M=1.0: real(list(a)[:-1] or list(a), M))  # w^(k-1) pieces
    assert _holds("arora-H-family-w^k-pieces") is False


def test_fixed_net_claims_fail_on_a_perturbed_network(monkeypatch):
    import tamelab.claims.catalog.arora2018relu as cat

    assert _holds("fixed-net-14-activation-7-linear") and _holds("tropical-fixed-net-10-7-monomials")
    (W1, b1), (W2, b2), out = cat.FIXED
    wrong = [(W1, b1), (W2, [b - 5 for b in b2]), out]  # second-layer biases off by 5: 16 activation, 6 linear
    monkeypatch.setattr(cat, "FIXED", wrong)
    assert _holds("fixed-net-14-activation-7-linear") is False
    assert _holds("tropical-fixed-net-10-7-monomials") is False


def test_tropical_claim_fails_without_lp_pruning(monkeypatch):
    import tamelab.relu as relu

    real = relu.tropical
    monkeypatch.setattr(relu, "tropical", lambda model, **k: real(model, **{**k, "prune": False}))
    assert _holds("tropical-fixed-net-10-7-monomials") is False


def test_upper_bound_claim_fails_with_a_serra_bound_that_forgets_depth(monkeypatch):
    import tamelab.claims.catalog.arora2018relu as cat

    assert _holds("exact-count-below-upper-bounds")
    real = cat.regions

    def neurons_plus_one(model, domain, **k):  # a 'bound' Σ n_l + 1 (one hidden layer on a line): too small in 2-D
        r = real(model, domain, **k)
        n = sum(m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear)) - 1
        b = r.bounds["serra_upper"]
        r.bounds = {**r.bounds, "serra_upper": dataclasses.replace(b, value=n + 1)}
        return r

    monkeypatch.setattr(cat, "regions", neurons_plus_one)
    assert _holds("exact-count-below-upper-bounds") is False


def test_zonotope_claim_fails_when_a_generator_is_dropped(monkeypatch):
    import tamelab.relu as relu

    real = relu.zonotope_net
    assert _holds("arora-zonotope-family-pieces")
    monkeypatch.setattr(relu, "zonotope_net", lambda B, a, M=1.0: real(np.asarray(B)[:-1], a, M))
    assert _holds("arora-zonotope-family-pieces") is False


def test_max_of_affine_claim_fails_when_a_map_is_forgotten(monkeypatch):
    import tamelab.relu as relu

    real = relu.max_affine_net
    assert _holds("arora-max-of-affine-depth")
    monkeypatch.setattr(relu, "max_affine_net", lambda A, c: real(np.vstack([A[:-1], A[-2:-1]]), np.r_[c[:-1], c[-2]]))
    assert _holds("arora-max-of-affine-depth") is False


def test_hanin_rolnick_claim_fails_with_large_biases(monkeypatch):
    import tamelab.relu as relu

    real = relu.hanin_rolnick
    monkeypatch.setattr(relu, "hanin_rolnick", lambda w, **k: real(w, **{**k, "bias_std": 3.0}))  # not He init
    assert _holds("hanin-rolnick-regions-linear-in-neurons") is False


# --- curvature and weight space ------------------------------------------------------------------------------


def test_permutation_claim_fails_when_only_incoming_weights_are_permuted(monkeypatch):
    import copy

    import tamelab.claims.catalog.ainsworth2023rebasin as cat

    assert _holds("permutation-invariance-function-and-spectrum")

    def rows_only(m, perms):  # permutes the first layer's weight rows, not its bias nor the next layer's columns
        b = copy.deepcopy(m)
        lin = next(x for x in b.modules() if isinstance(x, torch.nn.Linear))
        with torch.no_grad():
            lin.weight.copy_(lin.weight[torch.as_tensor(perms[0])])
        return b

    monkeypatch.setattr(cat, "permute_mlp", rows_only)
    assert _holds("permutation-invariance-function-and-spectrum") is False


def test_lanczos_claim_fails_on_the_hessian_of_half_the_data(monkeypatch):
    import tamelab.claims.catalog.ainsworth2023rebasin as cat

    real = cat.CurvatureOperator
    assert _holds("lanczos-topk-equals-dense")
    monkeypatch.setattr(cat, "CurvatureOperator", lambda m, loss, d: real(m, loss, (d[0][:30], d[1][:30])))
    assert _holds("lanczos-topk-equals-dense") is False


# --- PAC-Bayes ---------------------------------------------------------------------------------------------------


def test_bound_ordering_fails_with_a_wrong_confidence_constant(monkeypatch):
    import tamelab.claims.catalog.dziugaite2017nonvacuous as cat

    real = cat.kl_bound
    assert _holds("pac-bayes-bound-ordering")
    monkeypatch.setattr(cat, "kl_bound", lambda e, kl, n, d: real(e, kl, n, 2 * d))  # δ/2 lost in a union bound
    assert _holds("pac-bayes-bound-ordering") is False


def test_nonvacuous_claim_fails_on_a_certificate_below_the_held_out_error(monkeypatch):
    import tamelab.claims.catalog.dziugaite2017nonvacuous as cat

    real = cat.pac_bayes_certificate

    def optimistic(*a, **k):  # a 'certificate' that reports half the held-out error of the stochastic net
        c = real(*a, **k)
        return dataclasses.replace(c, bound=c.test_error / 2)

    monkeypatch.setattr(cat, "pac_bayes_certificate", optimistic)
    assert _holds("pac-bayes-nonvacuous-digits") is False


# --- tame optimisation -----------------------------------------------------------------------------------------


def test_goldstein_numbers_fail_with_a_wrong_sampling_radius(monkeypatch):
    import tamelab.claims.catalog.bolte2021conservative as cat

    real = cat.goldstein_stationarity
    assert _holds("gradient-sampling-certificate-spec-numbers")
    monkeypatch.setattr(cat, "goldstein_stationarity", lambda f, x, **k: real(f, x, **{**k, "eps": 100 * k["eps"]}))
    assert _holds("gradient-sampling-certificate-spec-numbers") is False


def test_gradient_sampling_claim_fails_when_stopped_early(monkeypatch):
    import tamelab.claims.catalog.burke2005sampling as cat

    real = cat.gradient_sampling_minimize
    monkeypatch.setattr(cat, "gradient_sampling_minimize", lambda f, x0, **k: real(f, x0, **{**k, "max_iter": 5}))
    assert _holds("blo-gradient-sampling-minimises-nonsmooth") is False


def test_robbins_monro_claim_fails_with_a_frozen_step(monkeypatch):
    import tamelab.claims.catalog.robbins1951stochastic as cat

    real = cat.make_schedule
    assert _holds("robbins-monro-sgd-gradient-to-zero")
    # the 'Robbins–Monro' schedule frozen at its first step: sum alpha^2 = inf, the noise floor stays
    monkeypatch.setattr(
        cat,
        "make_schedule",
        lambda name, lr, **k: real("constant", lr / k["b"]) if name == "robbins_monro" else real(name, lr, **k),
    )
    assert _holds("robbins-monro-sgd-gradient-to-zero") is False


def test_ddkl_toy_claim_fails_with_a_constant_step(monkeypatch):
    import tamelab.claims.catalog.davis2020stochastic as cat

    real = cat.ddkl_toy_run
    monkeypatch.setattr(cat, "ddkl_toy_run", lambda **k: real(**{**k, "alpha": lambda t: 0.05}))
    assert _holds("ddkl-sgd-tame-toy-critical") is False


def test_ddkl_noise_sum_claim_fails_when_the_decaying_step_is_constant(monkeypatch):
    import tamelab.claims.catalog.davis2020stochastic as cat

    real = cat.monitored_sgd

    def no_decay(*a, **k):
        if k.get("schedule") == "robbins_monro":
            k = {
                **{x: v for x, v in k.items() if x not in ("schedule_b", "schedule_p")},
                "schedule": "constant",
                "lr": 0.05,
            }
        return real(*a, **k)

    monkeypatch.setattr(cat, "monitored_sgd", no_decay)
    assert _holds("ddkl-noise-sum-cauchy-least-squares") is False


def test_relu_prime_claim_fails_when_the_fp16_emulation_is_lost(monkeypatch):
    import tamelab.claims.catalog.bertoin2021numerical as cat

    real = cat.relu_prime_zero_study

    def fp16_is_fp32(cfg):  # the float16 rows computed in float32: no precision ordering left to see
        r = real(cfg)
        r.summary["float16"], r.volume["float16"] = r.summary["float32"], r.volume["float32"]
        return r

    monkeypatch.setattr(cat, "relu_prime_zero_study", fp16_is_fp32)
    assert _holds("bertoin2021-relu-prime-zero-precision") is False
