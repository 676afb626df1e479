"""ReLU gate (Tron update) and sparse-coding autoencoders: closed forms and autograd references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tamelab.errors import InputError
from tamelab.exact import autoencoder_gradient, gate_constants, laplace_inputs, sparse_coding_data, train_relu_gate


def test_gate_constants_closed_form_for_laplace():
    c = gate_constants(laplace_inputs, 5, 4, seed=0, n_mc=400_000)
    # unit-variance i.i.d. coordinates: Σ = I
    assert abs(c["lambda_min"] - 1) < 0.02 and abs(c["lambda_max"] - 1) < 0.02
    # E[(u·x)^2 |x|^2] along a coordinate axis: E[x1^4] + (d-1) E[x1^2] = 6 + 4 = 10 for unit Laplace (kurtosis 6)
    assert abs(c["m4"] - 10) < 0.6
    assert abs(c["rho"] - c["lambda_min"] ** 2 / (4 * (0.25 * c["lambda_max"] ** 2 + c["m4"] / 4))) < 1e-12


def test_tron_converges_sgd_stuck_at_zero():
    w = np.ones(10) / np.sqrt(10)
    r = train_relu_gate(w, steps=1500, batch=8, seed=0)
    assert r.final_error < 1e-8
    assert r.log_slope() <= 0.5 * np.log(1 - r.rho)
    s = train_relu_gate(w, steps=50, batch=8, method="sgd", seed=0)
    assert np.all(s.errors == s.errors[0])  # gradient at w = 0 is exactly 0 with σ'(0) = 0


def test_tron_expected_update_is_half_sigma_delta():
    """E[(σ(w*·x) − σ(w·x)) x] = ½ Σ (w* − w) for symmetric x (Monte Carlo, 2e6 samples)."""
    rng = np.random.default_rng(1)
    X = laplace_inputs(rng, 2_000_000, 3)
    ws, w = np.array([1.0, -0.5, 0.2]), np.array([0.3, 0.1, -0.4])
    g = ((np.maximum(X @ ws, 0) - np.maximum(X @ w, 0))[:, None] * X).mean(0)
    assert np.allclose(g, 0.5 * (X.T @ X / len(X)) @ (ws - w), atol=5e-3)


def test_sparse_data_model():
    A, X, Y = sparse_coding_data(16, 32, 3, 200, seed=0)
    assert np.allclose(np.linalg.norm(A, axis=0), 1)
    assert np.all((X > 0).sum(0) == 3) and X[X > 0].min() >= 1 and X.max() <= 2
    assert np.allclose(Y, A @ X)


@pytest.mark.parametrize("seed", range(3))
def test_autoencoder_gradient_matches_autograd(seed):
    A, X, Y = sparse_coding_data(12, 24, 2, 50, seed=seed)
    W = torch.as_tensor(A.T + 0.05 * np.random.default_rng(seed).standard_normal(A.T.shape)).requires_grad_(True)
    Yt = torch.as_tensor(Y)
    G, R, L = autoencoder_gradient(W.detach(), Yt, 0.3)
    Z = W @ Yt
    loss = 0.5 * ((W.T @ torch.relu(Z - 0.3) - Yt) ** 2).sum(0).mean()
    (g,) = torch.autograd.grad(loss, W)
    assert torch.allclose(G, g, atol=1e-12)
    assert abs(float(L) - float(loss.detach())) < 1e-12


def test_label_attack_is_bounded_and_has_its_rate(seed):
    from tamelab.exact import LabelAttack

    rng = np.random.default_rng(seed)
    X = laplace_inputs(rng, 20000, 5)
    xi = LabelAttack(0.2, 0.7).noise(np.random.default_rng(seed + 1), X)
    assert np.abs(xi).max() <= 0.7 + 1e-15
    assert abs((xi != 0).mean() - 0.2) < 0.02  # binomial: 5 standard errors
    assert np.all(np.sign(xi[xi != 0]) == np.sign(X[xi != 0, 0]))
    with pytest.raises(InputError):
        LabelAttack(1.5, 1.0)


def test_poisoning_bound_recursion_and_floor(seed):
    from tamelab.exact import poisoning_bound

    const = gate_constants(laplace_inputs, 20, 8, seed=seed, n_mc=20000)
    u, floor = poisoning_bound(const, 0.1, 1.0, 8, 20000, 1.0)
    assert u[0] == 1.0 and abs(u[-1] - floor) < 1e-9 * floor  # the recursion converges to its fixed point
    rho = const["rho"]
    e = floor**2  # the fixed point solves (ρ/2) e = A √e + B
    A = 2 * const["eta"] * 0.1 * np.sqrt(const["lambda_max"])
    B = 3 * const["eta"] ** 2 * (0.1 * const["E_norm2"] / 8 + (7 / 8) * (0.1 * np.sqrt(const["lambda_max"])) ** 2)
    assert abs(rho / 2 * e - A * np.sqrt(e) - B) < 1e-12
    _, f2 = poisoning_bound(const, 0.2, 1.0, 8, 10, 1.0)
    _, f0 = poisoning_bound(const, 0.0, 1.0, 8, 10, 1.0)
    assert f0 == 0.0 and f2 > floor  # no attack, no floor; a stronger attack, a higher floor


def test_poisoned_runs_see_the_same_inputs():
    from tamelab.exact import LabelAttack

    w = np.ones(6) / np.sqrt(6)
    a = train_relu_gate(w, steps=50, batch=4, seed=3)
    b = train_relu_gate(w, steps=50, batch=4, seed=3, attack=LabelAttack(0.0, 1.0))
    assert np.array_equal(a.errors, b.errors)  # the attack has its own random stream
    c = train_relu_gate(w, steps=50, batch=4, seed=3, eta=0.01)
    assert np.isnan(c.bound).all()  # the theorem's bound is for its own step only


def test_unbiased_expected_gradient_norm(seed):
    from tamelab.exact.rangamani2018sparse import expected_gradient_norm, support_size

    assert support_size(256, 0.15) == 3 and support_size(4096, 0.15) == 4
    with pytest.raises(InputError):
        support_size(256, 1.0)
    A, X, Y = sparse_coding_data(32, 64, 3, 500, seed=seed)
    W = torch.as_tensor(A.T.copy())
    Y1 = torch.as_tensor(Y)
    rep = torch.cat([Y1] * 4, dim=1)  # four identical chunks: no sampling noise between them
    g = expected_gradient_norm(W, rep, 1.0, chunks=4)
    G = autoencoder_gradient(W, Y1, 1.0)[0]
    assert g.norm == pytest.approx(float(torch.linalg.norm(G)), rel=1e-10) and g.noise == pytest.approx(0, abs=1e-6)
    g2 = expected_gradient_norm(W, Y1, 1.0, chunks=5)
    assert g2.norm <= g2.naive  # removing the noise can only lower the norm
