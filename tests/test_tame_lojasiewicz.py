"""Łojasiewicz exponent estimation (spec tame-optimization.md §5) against closed forms."""

import math

import numpy as np
import pytest

from tamelab import InputError
from tamelab.tame import (
    LOJASIEWICZ_CONVENTION,
    estimate_lojasiewicz,
    fit_tail_fstar,
    power_gd_trajectory,
    predicted_rate,
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


CASES = [  # p, lr, steps — spec §5.4 protocol
    {"p": 2, "lr": 0.1, "steps": 20000, "cls": "linear"},
    {"p": 4, "lr": 0.01, "steps": 20000, "cls": "sublinear"},
    {"p": 6, "lr": 0.01, "steps": 20000, "cls": "sublinear"},
]


def test_power_trajectory_matches_closed_form_gd():
    # x_{k+1} = x_k - lr p x_k^{p-1}; p = 2: x_k = (1 - 2 lr)^k exactly (powers of 0.8)
    F, g, k = power_gd_trajectory(2, lr=0.1, steps=50)
    x = 0.8 ** np.arange(1, 51)
    np.testing.assert_allclose(F, x**2, rtol=1e-12)
    np.testing.assert_allclose(g, 2 * x, rtol=1e-12)
    # p = 1 with a dyadic step terminates exactly at 0 after 1/lr steps
    F1, g1, _ = power_gd_trajectory(1, lr=0.125, steps=20)
    assert F1[7] == 0.0 and F1[6] == 0.125 and g1[7] == 0.0


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"p={c['p']}")
def test_slope_estimator_recovers_one_minus_one_over_p(case):
    p = case["p"]
    F, g, k = power_gd_trajectory(p, lr=case["lr"], steps=case["steps"])
    est = estimate_lojasiewicz(F, g, f_star=0.0, steps=k)
    assert est.theta_slope == pytest.approx(1 - 1 / p, abs=1e-4)  # spec: "to 4 digits"
    lo, hi = est.theta_slope_ci
    assert lo <= est.theta_slope + 1e-12 and est.theta_slope <= hi + 1e-12
    assert est.observed_rate["class"] == case["cls"] == est.predicted_rate["class"]
    assert est.convention == LOJASIEWICZ_CONVENTION
    # the fitted inequality |f-f*|^theta <= c g holds on all kept points with the reported c (= p^-1 for |x|^p)
    assert est.c == pytest.approx(1 / p, rel=1e-6)


@pytest.mark.parametrize("p, alpha_spec", [(4, 1.9934), (6, 1.4976)])
def test_rate_estimator_matches_theory_and_spec(p, alpha_spec):
    F, g, k = power_gd_trajectory(p, lr=0.01, steps=20000)
    est = estimate_lojasiewicz(F, g, f_star=0.0, steps=k)
    alpha = est.observed_rate["alpha"]
    assert alpha == pytest.approx(p / (p - 2), abs=0.01)  # f_k ~ k^{-p/(p-2)}
    assert abs(alpha - alpha_spec) < 0.01  # spec [C] numbers (its own fit window)
    assert est.theta_rate == pytest.approx(0.5 + 1 / (2 * alpha))
    assert est.theta_rate == pytest.approx(1 - 1 / p, abs=2e-3)
    assert est.disagreement < 0.05 and est.ok


def test_quadratic_is_linear_rate_with_q_equal_contraction():
    F, g, k = power_gd_trajectory(2, lr=0.1, steps=20000)
    est = estimate_lojasiewicz(F, g, f_star=0.0, steps=k)
    assert est.observed_rate["q"] == pytest.approx(0.64, rel=1e-9)  # F_k = 0.64^k
    assert est.theta_rate_upper == 0.5 and est.theta_rate is None


def test_abs_value_finite_termination_theta_zero():
    F, g, k = power_gd_trajectory(1, lr=0.125, steps=100)
    est = estimate_lojasiewicz(F, g, f_star=0.0, steps=k)
    assert est.theta_slope == pytest.approx(0.0, abs=1e-12)
    assert est.observed_rate["class"] == "finite" and est.theta_rate == 0.0
    assert est.observed_rate["terminated_at_step"] == 8.0
    assert est.predicted_rate["class"] == "finite"


@pytest.mark.parametrize("p, lr", [(2, 0.1), (4, 0.01), (6, 0.01)])
def test_estimated_fstar_on_shifted_functions(p, lr):
    F, g, k = power_gd_trajectory(p, lr=lr, steps=20000, shift=3.0)
    est = estimate_lojasiewicz(F, g, steps=k)
    assert est.f_star <= F.min()
    assert abs(est.f_star - 3.0) < 1e-8
    assert est.theta_slope == pytest.approx(1 - 1 / p, abs=2e-3)
    assert est.predicted_rate["class"] == ("linear" if p == 2 else "sublinear")


def test_fit_tail_fstar_exact_models(seed):
    rng = np.random.default_rng(seed)
    fs, A, a = rng.uniform(-2, 2), rng.uniform(0.5, 3), rng.uniform(0.5, 3)
    k = np.arange(1.0, 2001.0)
    r = fit_tail_fstar(fs + A * k**-a, k)
    assert (
        r["model"] == "power"
        and r["f_star"] == pytest.approx(fs, abs=1e-8)
        and r["alpha"] == pytest.approx(a, rel=1e-5)
    )
    q = rng.uniform(0.995, 0.999)  # tail still resolvable in float64 over k in [1000, 2000]
    r = fit_tail_fstar(fs + A * q**k, k)
    assert (
        r["model"] == "geometric"
        and r["f_star"] == pytest.approx(fs, abs=1e-8)
        and r["q"] == pytest.approx(q, rel=1e-6)
    )


def test_wrong_fstar_is_flagged_and_biases_theta_up():
    F, g, k = power_gd_trajectory(4, lr=0.01, steps=20000)
    est = estimate_lojasiewicz(F, g, f_star=-1e-6, steps=k)  # underestimated f*: spec §5.5 pitfall
    assert est.theta_slope < 0.75 or est.status != "ok" or est.flags  # the estimate is visibly off or flagged
    assert not est.ok
    est2 = estimate_lojasiewicz(F, g, f_star=1e-3, steps=k)  # above min F
    assert any("not the limit value" in f for f in est2.flags)


def test_predicted_rate_trichotomy():
    assert predicted_rate(0.0)["class"] == "finite"
    assert predicted_rate(0.3)["class"] == "linear" and predicted_rate(0.5)["class"] == "linear"
    r = predicted_rate(0.75)
    assert (
        r["class"] == "sublinear"
        and r["value_exponent"] == pytest.approx(2.0)
        and r["iterate_exponent"] == pytest.approx(0.5)
    )
    r = predicted_rate(5 / 6)
    assert r["value_exponent"] == pytest.approx(1.5) and r["iterate_exponent"] == pytest.approx(0.25)
    assert predicted_rate(0.51, tol=0.02)["class"] == "linear"
    for bad in (-0.1, 1.0, float("nan"), "x"):
        with pytest.raises(InputError):
            predicted_rate(bad)


def test_bad_inputs_name_the_field():
    F, g, k = power_gd_trajectory(4, lr=0.01, steps=100)
    with pytest.raises(InputError, match="stationarity"):
        estimate_lojasiewicz(F, g[:-1])
    with pytest.raises(InputError, match="values"):
        estimate_lojasiewicz(F[:5], g[:5])
    with pytest.raises(InputError, match="steps"):
        estimate_lojasiewicz(F, g, steps=k[::-1])
    with pytest.raises(InputError, match="tail"):
        estimate_lojasiewicz(F, g, tail=0)
    g2 = g.copy()
    g2[3] = math.nan  # noqa: E702
    with pytest.raises(InputError):
        estimate_lojasiewicz(F, g2)


def test_iterates_define_the_final_phase():
    F, g, k = power_gd_trajectory(4, lr=0.01, steps=2000)
    x = F**0.25
    est = estimate_lojasiewicz(F, g, f_star=0.0, steps=k, iterates=x[:, None])
    assert est.n_points >= 1900  # monotone approach from the start: almost all points kept
    assert est.theta_slope == pytest.approx(0.75, abs=1e-6)
