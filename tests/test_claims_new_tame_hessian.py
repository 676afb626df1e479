"""Tameness-certificate zoo and Hessian-rank claims: references and wrong implementations."""

import numpy as np
import torch
from torch import nn

import tamelab.claims.catalog.singh2021hessian as hcat
import tamelab.claims.catalog.vandendries1996geometric as zcat
import tamelab.landscape.singh2021rank as hr
from tamelab.claims import ClaimContext, get_claim
from tamelab.landscape import CurvatureOperator

Q = ClaimContext(seed=0, quick=True)


def test_zoo_claim_holds_and_has_provenance():
    r = get_claim("tameness-certificate-zoo").run(Q)
    assert r["verdict"] == "holds", r["measured"]
    assert r["measured"]["mismatches"] == 0 and r["source"] and r["expected_from"] == "theory"
    assert r["measured"]["programs"]["sin_unbounded / mse"]["status"] != "ok"


def test_zoo_claim_fails_on_a_certifier_that_says_alg_for_everything(monkeypatch):
    real = zcat.certify

    def lazy(model, x, loss=None):
        c = real(model, x, loss=loss)
        c.structure, c.local_structure = "alg", "alg"
        return c

    monkeypatch.setattr(zcat, "certify", lazy)
    r = get_claim("tameness-certificate-zoo").run(Q)
    assert r["verdict"] == "fails" and r["measured"]["mismatches"] > 0


def test_zoo_claim_fails_on_a_wrong_expected_class(monkeypatch):
    wrong = dict(zcat.EXPECTED)
    wrong[("mlp_relu", "mse")] = ("exp", "an", "wrong on purpose")
    monkeypatch.setattr(zcat, "EXPECTED", wrong)
    assert get_claim("tameness-certificate-zoo").run(Q)["verdict"] == "fails"


def test_sign_change_witness_separates_sin_from_definable_nets():
    m = zcat.zoo()
    assert zcat._sign_changes(m["sin_unbounded"], 200, 0) >= 5 * max(zcat._sign_changes(m["sin_unbounded"], 20, 0), 1)
    assert zcat._sign_changes(m["mlp_tanh"], 200, 0) == zcat._sign_changes(m["mlp_tanh"], 20, 0)


def _fd_hessian(model, X, T, h=1e-5):
    names = [n for n, _ in model.named_parameters()]
    theta = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    shapes = [p.shape for p in model.parameters()]

    def grad(t):
        ps, i = {}, 0
        for n, s in zip(names, shapes):
            k = int(np.prod(s))
            ps[n] = t[i : i + k].view(s).clone().requires_grad_(True)
            i += k
        out = torch.func.functional_call(model, ps, (X,))
        g = torch.autograd.grad(hcat._mse(out, T), list(ps.values()))
        return torch.cat([v.reshape(-1) for v in g])

    cols = []
    for j in range(theta.numel()):
        e = torch.zeros_like(theta)
        e[j] = h
        cols.append((grad(theta + e) - grad(theta - e)) / (2 * h))
    return torch.stack(cols, 1)


def test_dense_double_backward_and_operator_match_finite_differences():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    X, B = hr.subspace_data(20, 3, 2, seed=1)
    T = torch.randn(20, 2, dtype=torch.float64)
    H = hr.dense_hessian_double_backward(model, hcat._mse, X, T)
    assert torch.allclose(H, _fd_hessian(model, X, T), atol=1e-7)
    Ho = hr.operator_matrix(CurvatureOperator(model, hcat._mse, (X, T)))
    assert torch.allclose(H, Ho, atol=1e-12)
    N = hr.first_layer_null_directions(model, B)
    assert N.shape[1] == 4 * (3 - 2) and float((H @ N).abs().max()) < 1e-13
    assert hr.numerical_rank(H) == hr.predicted_rank(model, 3, 2)


def test_hessian_rank_claim_holds_and_fails_on_a_wrong_prediction(monkeypatch):
    r = get_claim("hessian-rank-tracks-data-dimension").run(Q)
    assert r["verdict"] == "holds", r["measured"]
    monkeypatch.setattr(
        hr, "predicted_rank", lambda model, d, k: sum(p.numel() for p in model.parameters()) - (d - k)
    )  # forgets the factor h1
    assert get_claim("hessian-rank-tracks-data-dimension").run(Q)["verdict"] == "fails"
