import math

import mpmath as mp
import numpy as np
import pytest
import torch

from tamelab import InputError
from tamelab.bounds import (
    best_lambda_bound, catoni_bound, classic_bound, gaussian_kl, kl_binary, kl_bound, kl_inv_lower, kl_inv_upper,
    lambda_bound, mc_error_bound, mcallester_bound, pac_bayes_certificate, path_geometry, quad_bound,
)
from tamelab.cli.main import main

mp.mp.dps = 50


def _ref_kl_inv(q, c):
    """High-precision reference: mpmath root of kl(q‖p) = c on [q, 1)."""
    q, c = mp.mpf(q), mp.mpf(c)
    f = lambda p: (q * mp.log(q / p) if q > 0 else 0) + (1 - q) * mp.log((1 - q) / (1 - p)) - c  # noqa: E731
    hi = mp.mpf(1) - mp.mpf(10) ** -40
    if f(hi) < 0:
        return 1.0
    return float(mp.findroot(f, (q + mp.mpf(10) ** -40 if q > 0 else mp.mpf(10) ** -40, hi), solver="anderson"))


@pytest.mark.parametrize("q, c", [(0.0, 0.01), (0.0, 5.0), (0.02, 0.001), (0.3, 0.1), (0.5, 1e-8), (0.9, 0.05),
                                  (0.999, 0.001), (1e-6, 1e-6), (0.1, 30.0), (0.2, 0.0)])
def test_kl_inverse_against_mpmath(q, c):
    got = kl_inv_upper(q, c)
    ref = 1 - math.exp(-c) if q == 0 else (q if c == 0 else _ref_kl_inv(q, c))
    assert got >= ref - 1e-15 and got - ref < 2e-12  # rounded up, within tolerance
    if got < 1 - 1e-9 and c > 0:
        assert kl_binary(q, got) == pytest.approx(c, rel=1e-8, abs=1e-10)


def test_kl_inverse_edges_and_monotonicity(seed):
    assert kl_inv_upper(1.0, 0.3) == 1.0
    assert kl_inv_upper(0.4, float("inf")) == 1.0
    rng = np.random.default_rng(seed)
    for _ in range(50):
        q = float(rng.uniform(0, 1))
        cs = np.sort(rng.uniform(0, 2, 5))
        vals = [kl_inv_upper(q, c) for c in cs]
        assert all(a <= b for a, b in zip(vals, vals[1:])) and vals[0] >= q
        lo = kl_inv_lower(q, float(cs[0]))
        assert lo <= q
    with pytest.raises(InputError):
        kl_inv_upper(1.5, 0.1)
    with pytest.raises(InputError):
        kl_inv_upper(0.1, -1)


def test_spec_bound_values():
    n, KL, d, L = 30000, 1000, 0.025, 0.02
    assert kl_bound(L, KL, n, d) == pytest.approx(0.079339, abs=1e-6)
    assert classic_bound(L, KL, n, d) == pytest.approx(0.149714, abs=1e-6)
    assert quad_bound(L, KL, n, d) == pytest.approx(0.103435, abs=1e-6)
    b, lam = best_lambda_bound(L, KL, n, d)
    assert b == pytest.approx(quad_bound(L, KL, n, d), rel=1e-12) and lam == pytest.approx(0.806, abs=1e-3)
    lams = np.linspace(0.01, 1.99, 2000)
    assert min(lambda_bound(L, KL, n, d, x) for x in lams) >= b - 1e-12
    cat = min(catoni_bound(L, KL, n, d, C) for C in np.linspace(0.5, 3, 2501))
    assert cat == pytest.approx(0.079099, abs=1e-6)
    # Dziugaite–Roy recomputation (spec §7.4): 0.1634 for any j in [1, 3000] within 3e-4
    eb = mc_error_bound(0.028, 150000, 0.01)
    for j in (1, 1000, 3000):
        v = kl_inv_upper(eb, (5144 + math.log(math.pi**2 * 55000 / (6 * 0.025)) + 2 * math.log(j)) / (55000 - 1))
        assert abs(v - 0.1634) < 4e-4
    assert mcallester_bound(L, KL, n, d) > L


def test_kl_bound_is_tightest(seed):
    rng = np.random.default_rng(seed)
    for _ in range(2000):
        n, e, kl, dd = int(rng.integers(10, 10**5)), float(rng.uniform(0, 1)), float(rng.uniform(0, 5000)), float(rng.uniform(1e-3, 0.5))
        assert kl_bound(e, kl, n, dd) <= min(quad_bound(e, kl, n, dd), classic_bound(e, kl, n, dd)) + 1e-12


def test_gaussian_kl_closed_form_vs_mpmath_and_torch(seed):
    rng = np.random.default_rng(seed)
    mu, s2, mu0, lam = rng.standard_normal(7), rng.uniform(0.1, 2, 7), rng.standard_normal(7), 0.7
    ref = sum(mp.mpf(0.5) * ((mp.mpf(s) + (mp.mpf(a) - mp.mpf(b)) ** 2) / mp.mpf(lam) - 1 + mp.log(mp.mpf(lam)) - mp.log(mp.mpf(s)))
              for a, s, b in zip(mu, s2, mu0))
    assert gaussian_kl(mu, s2, mu0, lam) == pytest.approx(float(ref), rel=1e-13)
    q = torch.distributions.Normal(torch.tensor(mu), torch.tensor(np.sqrt(s2)))
    p = torch.distributions.Normal(torch.tensor(mu0), torch.tensor(math.sqrt(lam)))
    assert gaussian_kl(mu, s2, mu0, lam) == pytest.approx(float(torch.distributions.kl_divergence(q, p).sum()), rel=1e-7)


def test_bounds_cover_true_risk_in_simulation(seed):
    """A fixed threshold classifier (point-mass posterior = prior, KL = 0) on Gaussian data with known risk:
    the kl bound must hold in ≥ 1 − δ of simulated samples."""
    from scipy.stats import norm

    rng = np.random.default_rng(seed)
    true_risk = float(norm.sf(1.0))  # P(x > 1) for x ~ N(0,1), classifier says 0 iff x <= 1, label always 0
    n, delta, fails = 200, 0.1, 0
    for _ in range(400):
        emp = float((rng.standard_normal(n) > 1.0).mean())
        fails += kl_bound(emp, 0.0, n, delta) < true_risk
    assert fails / 400 <= delta
    # and a stochastic Gaussian posterior over the threshold: risk by quadrature, bound by MC + kl
    t_mu, t_s = 1.0, 0.2
    risk_q = float(np.mean(norm.sf(rng.normal(t_mu, t_s, 200000))))
    kl = gaussian_kl([t_mu], [t_s**2], [0.0], 1.0)
    fails = 0
    for _ in range(200):
        x = rng.standard_normal(n)
        thr = rng.normal(t_mu, t_s, (500, 1))
        e_mc = float((x[None, :] > thr).mean())
        fails += kl_bound(mc_error_bound(e_mc, 500, 0.01), kl, n, delta) < risk_q
    assert fails / 200 <= delta + 0.01


def test_certificate_on_digits_is_nonvacuous_and_above_test_error():
    from tamelab.train import fit

    r = fit({"epochs": 6, "widths": [64, 32, 10], "seed": 0})
    c = pac_bayes_certificate(r.model, r.train, r.test, prior="data", mc_samples=100, epochs=5, seed=0)
    assert c.bound < 1 and c.bound >= c.test_error
    assert c.empirical_error_mc_bound >= c.empirical_error and c.n == r.train.n - r.train.n // 2
    assert c.confidence == pytest.approx(1 - 0.025 - 0.01)
    with pytest.raises(InputError, match="prior init"):
        pac_bayes_certificate(r.model, r.train, prior="init")
    from tamelab.models import mlp

    with pytest.raises(InputError, match="does not match"):
        pac_bayes_certificate(r.model, r.train, prior="init", init_model=mlp([64, 16, 10]))
    with pytest.raises(InputError, match="delta"):
        pac_bayes_certificate(r.model, r.train, delta=1.5)


def test_path_geometry_on_straight_and_known_paths():
    base = {"w": torch.zeros(2, 2)}
    snaps = [{"w": base["w"] + t * torch.tensor([[1.0, 0], [0, 0]])} for t in range(5)]
    pg = path_geometry(snaps)
    assert np.allclose(pg["straightness"][1:], 1) and np.allclose(pg["path_length"], np.arange(5))
    snaps = [{"w": torch.tensor([[0.0, 0], [0, 0]])}, {"w": torch.tensor([[1.0, 0], [0, 0]])}, {"w": torch.tensor([[1.0, 1], [0, 0]])}]
    pg = path_geometry(snaps)
    assert pg["path_length"][-1] == pytest.approx(2) and pg["distance"][-1] == pytest.approx(math.sqrt(2))
    assert pg["angle_consecutive_deg"][0] == pytest.approx(90)


def test_bound_cli(tmp_path, capsys):
    import json

    assert main(["train", "--widths", "64,16,10", "--epochs", "3", "--out", str(tmp_path / "m"), "--quiet"]) == 0
    mp_ = str(tmp_path / "m" / "model.safetensors")
    assert main(["bound", mp_, "--mc-samples", "50", "--epochs", "2", "--json", "--out", str(tmp_path / "b")]) == 0
    d = json.loads(capsys.readouterr().out)
    assert {"bound", "empirical_error", "test_error", "kl", "n", "delta", "components"} <= set(d)
    assert main(["bound", mp_, "--prior", "init", "--out", str(tmp_path / "c")]) == 2
    assert main(["bound", mp_, "--delta", "0", "--out", str(tmp_path / "d")]) == 2
    assert main(["bound", mp_, "--prior", "init", "--init-seed", "0", "--mc-samples", "20", "--epochs", "1", "--json", "--out", str(tmp_path / "e")]) == 0
