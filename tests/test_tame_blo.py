"""Burke–Lewis–Overton gradient-sampling optimiser (spec tame-optimization.md §2.3d)."""

import json
import math

import numpy as np
import pytest
import torch
from scipy.optimize import linprog

from tamelab import InputError
from tamelab.result import Status
from tamelab.tame import gradient_sampling_minimize


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _l1(x):
    """f(x) = |x1| + 2|x2| and a gradient (sign convention 0 at 0 — only used off the kinks)."""
    return abs(x[0]) + 2 * abs(x[1]), np.array([np.sign(x[0]), 2 * np.sign(x[1])])


def test_weighted_l1_converges_to_origin_with_certificate(seed):
    r = gradient_sampling_minimize(_l1, [1.0, 0.7], seed=seed)
    assert r.status is Status.OK and r.certified
    x = np.array(r.x)
    assert np.abs(x).max() < 1e-6 and r.f < 3e-6
    assert r.rho <= 1e-6 and r.rho_eps <= 1e-6
    # the certificate is true, independently: the ball B(x, eps) meets all four open quadrants when |x_i| < eps,
    # so the Goldstein eps-subdifferential contains conv{(±1, ±2)} ∋ 0 — dist(0, ∂_eps f(x)) = 0 <= rho
    assert np.all(np.abs(x) < r.rho_eps)
    # every accepted step satisfied the Armijo inequality f(x_k + t d_k) < f(x_k) - beta t rho_k
    h = r.history
    beta = r.params["beta"]
    for j in range(len(h["k"]) - 1):
        if h["step"][j] == "descent":
            assert h["f"][j + 1] < h["f"][j] - beta * h["t"][j] * h["rho"][j]
            assert h["f"][j + 1] == pytest.approx(_l1(np.array(h["x"][j + 1]))[0], abs=0)
    assert r.descent_steps + r.null_steps == r.iterations - 1 and r.m == 4 and r.m_theory_ok


def _max_affine_problem(seed, n=10, d=3):
    rng = np.random.default_rng(seed)
    while True:
        A, b = rng.standard_normal((n, d)), rng.standard_normal(n)
        # LP: min t s.t. A x + b <= t  (bounded iff 0 is in the interior of conv{a_i})
        lp = linprog(
            np.r_[np.zeros(d), 1.0],
            A_ub=np.c_[A, -np.ones(n)],
            b_ub=-b,
            bounds=[(None, None)] * (d + 1),
            method="highs",
        )
        if lp.status == 0:
            return A, b, lp


@pytest.mark.parametrize("case", range(3))
def test_max_of_affines_matches_linear_programme(seed, case):
    A, b, lp = _max_affine_problem(1000 * seed + case)

    def f(x):
        v = A @ x + b
        i = int(np.argmax(v))
        return float(v[i]), A[i].copy()

    def kink(x):  # ties between the two largest pieces: f is not differentiable there
        v = np.sort(A @ x + b)
        return bool(v[-1] == v[-2])

    r = gradient_sampling_minimize(f, np.zeros(3), seed=seed, kink=kink, eps_tol=1e-8, nu_tol=1e-8, max_iter=2000)
    assert r.status is Status.OK
    assert r.f == pytest.approx(lp.fun, abs=1e-5)
    assert r.f >= lp.fun - 1e-9  # the LP value is the minimum
    assert np.linalg.norm(np.array(r.x) - lp.x[:3]) < 1e-5


def test_smooth_quadratic_is_normalised_gradient_descent(seed):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((4, 4))
    A, bvec = M @ M.T + np.eye(4), rng.standard_normal(4)
    x_star = np.linalg.solve(A, bvec)
    normA = np.linalg.norm(A, 2)

    def f(x):
        return 0.5 * x @ A @ x - bvec @ x, A @ x - bvec

    r = gradient_sampling_minimize(
        f, 3 * rng.standard_normal(4), seed=seed, eps0=1e-6, eps_tol=1e-9, nu_tol=1e-7, max_iter=20000
    )
    assert r.status is Status.OK
    assert np.linalg.norm(np.array(r.x) - x_star) < 1e-6
    h = r.history
    n_desc = 0
    for xk, dk, ek, step in zip(h["x"], h["d"], h["eps"], h["step"]):
        if step != "descent":
            continue
        g = A @ np.array(xk) - bvec
        # the min-norm point of gradients sampled in B(x, eps) is within ||A|| eps of grad f(x), so the direction
        # is the normalised-gradient direction up to 2 ||A|| eps / ||grad f(x)||
        assert np.linalg.norm(np.array(dk) + g / np.linalg.norm(g)) <= 2 * normA * ek / np.linalg.norm(g) + 1e-12
        n_desc += 1
    assert n_desc == r.descent_steps > 5


def test_step_onto_a_kink_is_perturbed():
    # f = |x| from x0 = 1: the first unit step lands exactly on the kink 0 and must be perturbed
    f = lambda x: (abs(x[0]), np.array([np.sign(x[0])]))  # noqa: E731
    r = gradient_sampling_minimize(f, [1.0], seed=0, kink=lambda x: x[0] == 0.0, eps_tol=1e-7)
    h = r.history
    assert h["step"][0] == "descent" and h["t"][0] == 1.0 and h["perturbed"][0]
    x1 = h["x"][1][0]
    assert x1 != 0.0 and abs(x1) <= min(1.0, r.params["eps0"])  # inside B(x + t d, min(t, eps))
    assert r.perturbations >= 1 and r.status is Status.OK
    # without kink detection the iterate sits on the kink with AD-style gradient 0 there
    r0 = gradient_sampling_minimize(f, [1.0], seed=0, eps_tol=1e-7)
    assert r0.history["x"][1] == [0.0] and r0.perturbations == 0


def test_torch_backend_matches_numpy_backend(seed):
    def ft(x):
        return x[0].abs() + 2 * x[1].abs(), (x == 0).sum()

    rt = gradient_sampling_minimize(ft, torch.tensor([1.0, 0.7], dtype=torch.float64), seed=seed, has_aux=True)
    rn = gradient_sampling_minimize(_l1, [1.0, 0.7], seed=seed, kink=lambda x: bool(np.any(x == 0)))
    assert rt.backend == "torch" and rn.backend == "numpy"
    assert rt.history["step"] == rn.history["step"]
    np.testing.assert_allclose(np.array(rt.history["x"]), np.array(rn.history["x"]), rtol=0, atol=1e-15)
    assert rt.x == pytest.approx(rn.x, abs=1e-15) and rt.certified


def test_deterministic_given_the_seed_and_json(seed):
    a = gradient_sampling_minimize(_l1, [1.0, 0.7], seed=seed).to_dict()
    b = gradient_sampling_minimize(_l1, [1.0, 0.7], seed=seed).to_dict()
    c = gradient_sampling_minimize(_l1, [1.0, 0.7], seed=seed + 1).to_dict()
    for d in (a, b, c):
        d.pop("seconds")
    assert a == b and a["seed"] == seed
    assert a["history"]["x"] != c["history"]["x"]
    d = json.loads(json.dumps(a))
    assert d["kind"] == "gradient_sampling" and d["status"] == "ok"


def test_budget_exhausted_is_not_converged():
    r = gradient_sampling_minimize(_l1, [1.0, 0.7], seed=0, max_iter=3)
    assert r.status is Status.NOT_CONVERGED and not r.certified and r.iterations == 3
    assert "max_iter" in r.stop_reason


@pytest.mark.parametrize(
    "kw, field",
    [
        ({"gamma": 1.0}, "gamma"),
        ({"gamma": 0.0}, "gamma"),
        ({"beta": 1.5}, "beta"),
        ({"theta_eps": 1.0}, "theta_eps"),
        ({"theta_nu": 0.0}, "theta_nu"),
        ({"eps0": 0.0}, "eps0"),
        ({"nu0": -1.0}, "nu0"),
        ({"m": 0}, "m"),
        ({"max_iter": 0}, "max_iter"),
        ({"eps_tol": float("nan")}, "eps_tol"),
        ({"gamma": True}, "gamma"),
        ({"has_aux": True}, "has_aux"),
        ({"kink": 3}, "kink"),
    ],
)
def test_bad_parameters_name_the_field(kw, field):
    with pytest.raises(InputError, match=field) as e:
        gradient_sampling_minimize(_l1, [1.0, 0.7], **kw)
    assert e.value.field == field


def test_bad_function_and_start():
    with pytest.raises(InputError, match="fun"):
        gradient_sampling_minimize(lambda x: 1.0, [1.0, 0.7])
    with pytest.raises(InputError, match="fun"):
        gradient_sampling_minimize(lambda x: (1.0, np.zeros(3)), [1.0, 0.7])
    with pytest.raises(InputError, match="x0"):
        gradient_sampling_minimize(_l1, [math.nan, 0.7])
    with pytest.raises(InputError, match="x0"):
        gradient_sampling_minimize(lambda x: x.sum(), torch.tensor([1, 2]))


def _artefact(x):
    """f(x) = relu(x - 1) - relu(1 - x) + (x - 1)^2 / 2 = (x - 1) + (x - 1)^2 / 2 (minimiser x = 0), with the gradient
    backprop returns (relu'(0) = 0): f'(1) = 1, but the returned value at x = 1 is the artefact 0."""
    x = float(x[0])
    g = float(x > 1) + float(x < 1) + (x - 1)
    return max(x - 1, 0.0) - max(1 - x, 0.0) + 0.5 * (x - 1) ** 2, np.array([g])


def test_certified_flag_never_trusts_an_unchecked_gradient_at_a_kink_issue17():
    # without kink detection the AD artefact 0 at x0 = 1 used to end the run "certified" at a non-stationary point
    r = gradient_sampling_minimize(_artefact, [1.0], seed=0, max_iter=300)
    assert not r.kinks_checked and not r.certified and r.status is not Status.OK
    assert r.rho == 0.0 and r.rho_certified == pytest.approx(1.0, abs=1e-3)  # the samples see f' = 1 around x = 1
    assert "resolution" in r.stop_reason or "max_iter" in r.stop_reason
    # with kink detection (numpy kink= callable, or the fx trace of a torch function) it moves to x = 0 and certifies
    rk = gradient_sampling_minimize(_artefact, [1.0], seed=0, kink=lambda x: x[0] == 1.0)
    ft = lambda x: (torch.relu(x - 1) - torch.relu(1 - x) + 0.5 * (x - 1) ** 2).sum()  # noqa: E731
    rt = gradient_sampling_minimize(ft, torch.ones(1, dtype=torch.float64), seed=0)
    for res in (rk, rt):
        assert res.kinks_checked and res.certified and res.status is Status.OK
        assert abs(res.x[0]) <= res.rho_eps + res.rho_certified  # |f'(x)| = |x| <= rho near the minimiser 0
        assert res.rho_certified <= 1e-6 and res.perturbations >= 1


@pytest.mark.parametrize("trial", range(3))
def test_random_linear_in_disguise_is_never_certified_stationary(seed, trial):
    """Randomised adversary: f(x) = c·(relu(Ax + b) - relu(-Ax - b)) = c·(Ax + b) is linear (unbounded, never
    stationary); x0 sits on kinks. Whatever the backend, the run must not end certified."""
    rng = np.random.default_rng([seed, trial])
    p, k = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    A, c, x0 = rng.standard_normal((k, p)), rng.standard_normal(k), rng.standard_normal(p)
    b = -A @ x0

    def fun(x):
        z = A @ x + b
        return float(c @ (np.maximum(z, 0) - np.maximum(-z, 0))), A.T @ (c * ((z > 0) + (z < 0)))

    r = gradient_sampling_minimize(fun, x0, seed=seed, max_iter=60)
    assert not r.certified and r.rho_certified >= np.linalg.norm(A.T @ c) * (1 - 1e-9)
