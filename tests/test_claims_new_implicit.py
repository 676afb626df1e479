"""Implicit bias claims (Soudry et al., arXiv:1710.10345): exact SVM, min-norm GD, and wrong implementations."""

import itertools

import numpy as np

import tamelab.exact.soudry2018implicit as sb
from tamelab.claims import ClaimContext, get_claim

Q = ClaimContext(seed=0, quick=True)


def _svm_brute_force(X, y):
    """Enumerate support sets S (|S| <= d): w = Z_S (Z_Sᵀ Z_S)^{-1} 1, keep feasible ones with α >= 0; min ‖w‖."""
    Z = (X * y[:, None]).T
    best = None
    for k in range(1, X.shape[1] + 1):
        for S in itertools.combinations(range(len(y)), k):
            K = Z[:, S].T @ Z[:, S]
            if abs(np.linalg.det(K)) < 1e-12:
                continue
            a = np.linalg.solve(K, np.ones(k))
            w = Z[:, S] @ a
            if a.min() >= -1e-12 and (Z.T @ w).min() >= 1 - 1e-10 and (best is None or w @ w < best @ best):
                best = w
    return best


def test_hard_margin_svm_matches_brute_force_and_is_certified():
    for seed in range(3):
        X, y, _ = sb.separable_data(12, 3, seed=seed)
        s = sb.hard_margin_svm(X, y)
        assert s.ok and s.kkt_residual < 1e-10
        assert np.allclose(s.w, _svm_brute_force(X, y), atol=1e-9)


def test_hard_margin_svm_refuses_non_separable_data():
    X = np.array([[1.0, 0.0], [-1.0, 0.0], [0.5, 0.1]])
    y = np.array([1.0, 1.0, -1.0])  # x and −x with the same label: no homogeneous separator
    assert not sb.hard_margin_svm(X, y).ok


def test_least_squares_gd_from_zero_is_the_pseudo_inverse_solution():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((6, 15)), rng.standard_normal(6)
    r = sb.least_squares_gd(X, y, steps=3000)
    assert r.relative_distance < 1e-10
    P = np.linalg.pinv(X) @ X  # from w0 the limit is X⁺y + (I − P) w0
    w0 = rng.standard_normal(15)
    r0 = sb.least_squares_gd(X, y, steps=3000, w0=w0)
    assert np.allclose(r0.w, r.min_norm + (np.eye(15) - P) @ w0, atol=1e-9)


def test_claims_hold_in_quick_mode():
    for cid in ("implicit-bias-least-squares-min-norm", "implicit-bias-logistic-max-margin"):
        r = get_claim(cid).run(Q)
        assert r["verdict"] == "holds", (cid, r["measured"], r["note"])
        assert r["source"] and r["expected_from"] in ("paper", "theory")


def test_min_norm_claim_fails_when_gd_does_not_start_at_zero(monkeypatch):
    real = sb.least_squares_gd
    monkeypatch.setattr(
        sb, "least_squares_gd", lambda X, y, **kw: real(X, y, **{**kw, "w0": kw.get("w0", 0.1 + 0 * X[0])})
    )
    assert get_claim("implicit-bias-least-squares-min-norm").run(Q)["verdict"] == "fails"


def test_max_margin_claim_fails_on_a_wrong_svm(monkeypatch):
    real = sb.hard_margin_svm

    def wrong(X, y, **kw):  # a feasible but non-maximal-margin separator
        s = real(X, y, **kw)
        s.w = s.w + 0.3 * np.linalg.norm(s.w) * np.eye(len(s.w))[0]
        return s

    monkeypatch.setattr(sb, "hard_margin_svm", wrong)
    assert get_claim("implicit-bias-logistic-max-margin").run(Q)["verdict"] == "fails"
