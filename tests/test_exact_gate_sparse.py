"""ReLU gate (Tron update) and sparse-coding autoencoders: closed forms and autograd references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

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
