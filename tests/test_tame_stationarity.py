"""Goldstein ε-stationarity: min-norm QP vs exact rational enumeration, spec §2.4 numbers, AD vs Clarke."""

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from tamelab.data import load_data
from tamelab.errors import InputError
from tamelab.models import mlp
from tamelab.result import Status
from tamelab.tame import (
    ad_clarke_probe,
    ad_vs_clarke_examples,
    goldstein_stationarity,
    min_norm_hull,
    min_norm_hull_exact,
    model_loss_function,
    sample_ball,
    stationarity,
)

HULLS = [
    dict(id="segment-through-axis", pts=[[1, 2], [1, -2]], rho2=Fraction(1)),
    dict(id="triangle-containing-0", pts=[[1, 0], [-1, 1], [-1, -1]], rho2=Fraction(0)),
    dict(id="single-point", pts=[[3, 4]], rho2=Fraction(25)),
    dict(id="segment-endpoint", pts=[[1, 1], [2, 3]], rho2=Fraction(2)),
    dict(id="3d-face", pts=[[1, 0, 1], [0, 1, 1], [1, 1, 1], [2, 2, 1]], rho2=Fraction(3, 2)),
    dict(id="3d-edge", pts=[[1, 2, 0], [1, -1, 3], [4, 4, 4]], rho2=None),
]


@pytest.mark.parametrize("case", HULLS, ids=[c["id"] for c in HULLS])
def test_min_norm_hull_matches_exact_enumeration(case):
    rho2, lam = min_norm_hull_exact(case["pts"])
    if case["rho2"] is not None:
        assert rho2 == case["rho2"]
    assert sum(lam) == 1 and all(v >= 0 for v in lam)
    r = min_norm_hull(np.array(case["pts"], dtype=float))
    assert r.rho == pytest.approx(math.sqrt(rho2), abs=1e-12)
    assert r.converged and r.simplex_residual < 1e-14 and r.duality_gap < 1e-12 and r.complementarity < 1e-12
    assert r.rho_lower <= r.rho + 1e-15


def test_min_norm_hull_exact_3d_edge_closed_form():
    # min over the segment [a, b] of |a + t(b-a)|^2, t = -<a, b-a>/|b-a|^2 clipped: here inside, value known exactly
    a, b = np.array([1.0, 2.0, 0.0]), np.array([1.0, -1.0, 3.0])
    t = -a @ (b - a) / ((b - a) @ (b - a))
    assert 0 < t < 1
    rho2, _ = min_norm_hull_exact([[1, 2, 0], [1, -1, 3], [4, 4, 4]])
    assert float(rho2) == pytest.approx(float(np.sum((a + t * (b - a)) ** 2)), abs=1e-15)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_min_norm_hull_random_vs_exact_and_kkt(seed):
    rng = np.random.default_rng(seed)
    G = rng.integers(-5, 6, size=(7, 3)).astype(float)
    rho2, lam_exact = min_norm_hull_exact(G.astype(int).tolist())
    r = min_norm_hull(G)
    assert r.rho == pytest.approx(math.sqrt(rho2), abs=1e-10)
    np.testing.assert_allclose(G.T @ r.lam, G.T @ np.array([float(v) for v in lam_exact]), atol=1e-9)
    assert r.duality_gap < 1e-10 and r.simplex_residual < 1e-13


def test_min_norm_hull_many_points_matches_projected_gradient_reference():
    rng = np.random.default_rng(5)
    G = rng.standard_normal((40, 6)) + 0.3
    r = min_norm_hull(G)
    # independent reference: Frank-Wolfe-free projected gradient on the simplex, many iterations
    K = G @ G.T
    lam = np.full(40, 1 / 40)
    step = 1 / np.linalg.eigvalsh(K).max()
    for _ in range(20000):
        v = lam - step * 2 * (K @ lam)
        u = np.sort(v)[::-1]
        css = np.cumsum(u)
        k = np.nonzero(u * np.arange(1, 41) > css - 1)[0][-1]
        lam = np.maximum(v - (css[k] - 1) / (k + 1), 0)
    assert r.rho == pytest.approx(math.sqrt(max(lam @ K @ lam, 0.0)), abs=1e-6)
    assert r.duality_gap < 1e-10


def test_sample_ball_is_in_ball_seeded_and_uniform_radius():
    from scipy import stats

    x = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    U = sample_ball(x, 0.1, 4000, seed=3)
    d = torch.linalg.vector_norm(U - x, dim=1).numpy()
    assert d.max() <= 0.1 + 1e-15
    assert torch.equal(U, sample_ball(x, 0.1, 4000, seed=3))
    assert not torch.equal(U, sample_ball(x, 0.1, 4000, seed=4))
    # uniform in the 3-ball: (|u - x| / eps)^3 is U(0, 1) (Kolmogorov–Smirnov), and the direction is uniform on the
    # sphere: its mean is 0 and its second moment is I/3 (standard errors ~ 1/sqrt(4000) = 0.016)
    assert stats.kstest((d / 0.1) ** 3, "uniform").pvalue > 1e-4
    D = (U - x).numpy() / d[:, None]
    assert np.abs(D.mean(0)).max() < 0.06
    np.testing.assert_allclose(D.T @ D / len(D), np.eye(3) / 3, atol=0.03)
    assert U.dtype == x.dtype and U.device == x.device


def _f(x):
    return x[0].abs() + 2 * x[1].abs()


@pytest.mark.parametrize(
    "x,eps,rho",
    [
        ((1e-3, 0.0), 1e-1, 0.0),
        ((1e-3, 0.0), 1e-2, 0.0),
        ((1e-3, 0.0), 1e-4, 1.0),
        ((0.5, 0.0), 1e-1, 1.0),
        ((0.5, 0.0), 1e-3, 1.0),
        ((0.5, 0.3), 1e-1, math.sqrt(5)),
    ],
)
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-6)])
def test_spec_2_4_numbers(x, eps, rho, dtype, tol):
    r = goldstein_stationarity(_f, torch.tensor(x, dtype=dtype), eps=eps, m=10, seed=0)
    assert r.rho == pytest.approx(rho, abs=tol)
    assert r.status is Status.OK and r.qp["duality_gap"] < 1e-10
    assert r.kinks_checked and len(r.lam) == 10 + r.center_used and abs(sum(r.lam) - 1) < 1e-12
    assert r.seed == 0 and r.eps == eps and r.m == 10


def test_relu_difference_certificate_refuses_stationarity_and_ad_gap():
    rows = {(r["program"], r["s"]): r for r in ad_vs_clarke_examples((0.0, 0.5, 1.0), eps=1e-3, m=16, seed=0).rows}
    g = "relu(x)-relu(-x)"
    assert rows[(g, 0.0)]["ad_at_0"] == 0.0 and rows[(g, 1.0)]["ad_at_0"] == 2.0 and rows[(g, 0.5)]["ad_at_0"] == 1.0
    assert not rows[(g, 0.0)]["ad_in_clarke"] and rows[(g, 0.5)]["ad_in_clarke"]
    for s in (0.0, 0.5, 1.0):
        assert rows[(g, s)]["rho_eps_at_0"] == pytest.approx(1.0, abs=1e-12)  # certificate refuses stationarity
    assert rows[(g, 0.0)]["dist_ad_to_sampled_hull"] == pytest.approx(1.0, abs=1e-12)
    assert rows[("relu2(t)=relu(-t)+t", 0.0)]["ad_at_0"] == 1.0  # Bolte–Pauwels: relu2'(0) = 1 with s = 0
    assert rows[("relu3=(relu+relu2)/2", 0.0)]["ad_at_0"] == 0.5
    assert rows[("relu(x)-relu(x)", 1.0)]["ad_at_0"] == 0.0


def test_probe_support_function_dominates_directional_derivative():
    f = lambda x: x.abs().sum() + x[0] * x[1]  # noqa: E731
    pr = ad_clarke_probe(f, torch.tensor([0.0, 0.3]), eps=1e-3, m=32, seed=1, n_dirs=6)
    assert pr.support_dominates_fd
    assert pr.ad_inconsistent is False  # AD sign'(0)=0 lies in the hull conv{(±1+0.3, 1)}
    assert pr.rho == pytest.approx(1.0, abs=2e-3)  # min-norm of conv{(-0.7,1+x0),(1.3,1+x0)}, |x0| <= eps


def test_model_gradient_matches_autograd_and_kinks_counted():
    ds = load_data("digits", split="train")
    model = mlp([64, 8, 10], seed=0, dtype=torch.float64)
    X = torch.as_tensor(ds.X[:50])
    y = torch.as_tensor(ds.y[:50])
    f, th, checked, why = model_loss_function(model, X, y, "cross_entropy")
    th = th.clone().requires_grad_(True)
    val, k = f(th)
    (g,) = torch.autograd.grad(val, th)
    model.zero_grad()
    torch.nn.functional.cross_entropy(model(X), y).backward()
    ref = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    assert checked and why == "" and torch.allclose(g, ref, atol=1e-14, rtol=0)
    # a bias of exactly -W x on unit 0 for sample 0 creates an exact kink
    with torch.no_grad():
        w = model[0].weight[0] @ X[0]
    th2 = th.detach().clone()
    th2[64 * 8] = -w
    assert int(k) == 0  # a random network on real data: no pre-activation is exactly 0
    _, k2 = f(th2)
    z = X @ th2[: 64 * 8].view(8, 64).T + th2[64 * 8 : 64 * 8 + 8]  # the pre-activations at th2, recomputed
    assert int(k2) == int((z == 0).sum()) >= 1  # the count is exactly the number of zero pre-activations


def test_stationarity_on_model_matches_a_plain_autograd_loop_and_is_seeded():
    """ρ against an independent reference: the gradients at the same sampled points by a plain autograd loop over
    module copies (no vmap, no flat-parameter function), and the hull QP by projected gradient on the simplex."""
    ds = load_data("digits", split="train").subset(np.arange(200))
    model = mlp([64, 16, 10], seed=1, dtype=torch.float64)
    r1 = stationarity(model, ds, eps=1e-2, m=12, seed=4)
    r2 = stationarity(model, ds, eps=1e-2, m=12, seed=4, chunk=5)
    assert r1.rho == pytest.approx(r2.rho, rel=1e-12) and r1.to_dict()["lam"] == pytest.approx(r2.to_dict()["lam"])
    assert r1.kinks_checked and r1.center_used and r1.p == 64 * 16 + 16 + 16 * 10 + 10 and r1.status is Status.OK
    X, y = torch.as_tensor(ds.X), torch.as_tensor(ds.y)
    theta = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    U = sample_ball(theta, 1e-2, 12, seed=np.random.default_rng([4, 0]))
    rows = []
    for u in torch.cat([theta[None], U]):  # the centre first (kink-free: it joins the hull)
        m = mlp([64, 16, 10], seed=1, dtype=torch.float64)
        torch.nn.utils.vector_to_parameters(u, m.parameters())
        m.zero_grad()
        torch.nn.functional.cross_entropy(m(X), y).backward()
        rows.append(torch.cat([p.grad.reshape(-1) for p in m.parameters()]).numpy())
    G = np.stack(rows)
    K = G @ G.T
    lam = np.full(len(G), 1 / len(G))
    step = 1 / np.linalg.eigvalsh(K).max()
    for _ in range(20000):  # projected gradient on the simplex (sorting projection)
        v = lam - step * 2 * (K @ lam)
        u_ = np.sort(v)[::-1]
        css = np.cumsum(u_)
        k = np.nonzero(u_ * np.arange(1, len(v) + 1) > css - 1)[0][-1]
        lam = np.maximum(v - (css[k] - 1) / (k + 1), 0)
    assert r1.rho == pytest.approx(float(np.linalg.norm(G.T @ lam)), rel=1e-5)
    assert r1.rho <= r1.grad_norm_center + 1e-12 and r1.grad_norm_center == pytest.approx(
        np.linalg.norm(G[0]), rel=1e-12
    )
    assert r1.qp["duality_gap"] < 1e-10
    d = r1.to_dict()
    assert d["kind"] == "goldstein_stationarity" and d["seed"] == 4
    assert stationarity(model, ds, eps=1e-2, m=12, seed=5).rho != r1.rho


@pytest.mark.slow
def test_atlas_sized_stationarity_under_two_seconds():
    import time

    ds = load_data("digits", split="train")
    model = mlp([64, 64, 64, 10], seed=0)
    stationarity(model, ds, eps=1e-3, m=10, seed=0)
    t = time.perf_counter()
    stationarity(model, ds, eps=1e-3, m=100, seed=0)
    assert time.perf_counter() - t < 2.0


def test_bad_inputs():
    x = torch.zeros(2, dtype=torch.float64)
    with pytest.raises(InputError, match="eps"):
        goldstein_stationarity(_f, x, eps=0.0)
    with pytest.raises(InputError, match="samples"):
        goldstein_stationarity(_f, x, eps=0.1, m=0)
    with pytest.raises(InputError, match="points"):
        min_norm_hull_exact([])
    with pytest.raises(InputError, match="G"):
        min_norm_hull(np.array([[np.nan, 1.0]]))


@pytest.mark.parametrize("seed", range(10))
def test_wolfe_and_nnls_min_norm_points_agree(seed):
    """The two methods of the one min-norm-point solver (Wolfe's corral method; Cholesky + NNLS + Frank–Wolfe)."""
    rng = np.random.default_rng(seed)
    m, p = int(rng.integers(2, 30)), int(rng.integers(1, 12))
    G = rng.standard_normal((m, p)) + (rng.standard_normal(p) if seed % 2 else 0.0)
    a = min_norm_hull(G)
    b = min_norm_hull(G, method="nnls")
    assert a.method == "wolfe" and b.method == "nnls"
    assert abs(a.rho - b.rho) <= 1e-7 * max(1.0, a.rho)
    assert a.duality_gap <= 1e-10 * max(1.0, float((G**2).sum(1).max()))
    assert b.simplex_residual < 1e-12 and b.rho_lower <= b.rho + 1e-15


@pytest.mark.parametrize("case", HULLS, ids=[c["id"] for c in HULLS])
@pytest.mark.parametrize("method", ["wolfe", "nnls"])
def test_both_methods_match_exact_rational_reference(case, method):
    rho2, _ = min_norm_hull_exact(case["pts"])
    r = min_norm_hull(np.array(case["pts"], dtype=float), method=method)
    assert r.rho == pytest.approx(math.sqrt(rho2), abs=1e-9)
    # the same numbers from the Gram matrix alone
    G = np.array(case["pts"], dtype=float)
    rk = min_norm_hull(K=G @ G.T, method=method)
    assert rk.rho == pytest.approx(math.sqrt(rho2), abs=1e-7)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_both_methods_on_random_integer_hulls_vs_exact(seed):
    rng = np.random.default_rng(100 + seed)
    G = rng.integers(-4, 5, size=(8, 3)).astype(float)
    rho2, _ = min_norm_hull_exact(G.astype(int).tolist())
    for method in ("wolfe", "nnls"):
        r = min_norm_hull(G, method=method)
        assert r.rho == pytest.approx(math.sqrt(rho2), abs=1e-8), method


def test_single_solver_reexported_and_legacy_unpacking():
    from tamelab.tame import davis2020stochastic, goldstein

    assert davis2020stochastic.min_norm_hull is goldstein.min_norm_hull  # one implementation
    rho, lam, gap = min_norm_hull(np.array([[1.0, 2.0], [1.0, -2.0]]))  # legacy (rho, lambda, gap) triple
    assert rho == pytest.approx(1.0, abs=1e-15) and lam.tolist() == pytest.approx([0.5, 0.5]) and gap < 1e-14
    with pytest.raises(InputError, match="method"):
        min_norm_hull(np.eye(2), method="qp")
    with pytest.raises(InputError, match="K"):
        min_norm_hull(K=np.ones((2, 3)))


# ----------------------------------------------------------------------------- issue 17 item 3: kinks and tiny radii


class _IdentityViaRelus(torch.nn.Module):
    """A one-parameter, non-Sequential model computing relu(h - 1) - relu(1 - h) = h - 1 with h = w x (issue 17)."""

    def __init__(self, w: float = 1.0) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor([w], dtype=torch.float64))

    def forward(self, x):
        h = self.w * x
        return torch.relu(h - 1) - torch.relu(1 - h)


def test_kink_of_a_non_sequential_model_is_detected_issue17_reproduction():
    # F(w) = mean((w - 1 - y)^2) with x = 1: F'(w) = 2 (w - 1 - ybar); AD at the kink w = 1 (relu'(0) = 0) gives 0
    y = torch.full((8, 1), -1.9, dtype=torch.float64)
    X = torch.ones(8, 1, dtype=torch.float64)
    r = stationarity(_IdentityViaRelus(1.0), (X, y), loss="mse", eps=0.1, m=32, seed=0)
    assert r.kinks_checked and r.kinks_why == "" and r.status is Status.OK
    assert not r.center_used and r.grad_norm_center == 0.0  # the AD output at the kink is the artefact 0
    # every sample lies in [0.9, 1.1]: |F'| >= 2 (1.9 - 0.1) = 3.6 there, and the hull is an interval of F' values
    assert 3.6 - 1e-12 <= r.rho <= 3.8 + 1e-12
    U = sample_ball(torch.tensor([1.0], dtype=torch.float64), 0.1, 32, seed=np.random.default_rng([0, 0]))
    assert r.rho == pytest.approx(float((2 * (U - 1 + 1.9)).abs().min()), abs=1e-12)  # independent closed form


@pytest.mark.parametrize("dtype, eps", [(torch.float32, 1e-8), (torch.float64, 1e-17)])
def test_radius_below_dtype_resolution_is_refused_issue17(dtype, eps):
    X, y = torch.ones(8, 1, dtype=dtype), torch.full((8, 1), -1.9, dtype=dtype)
    with pytest.raises(InputError, match="resolution"):
        stationarity(_IdentityViaRelus(1.0), (X, y), loss="mse", eps=eps, dtype=dtype)
    with pytest.raises(InputError, match="resolution"):
        goldstein_stationarity(lambda w: (w - 1).abs().sum(), torch.ones(1, dtype=dtype), eps=eps)
    # just above the refusal threshold the samples are distinct from x and the certificate is honest (|f'| = 1)
    ok = goldstein_stationarity(
        lambda w: (torch.relu(w - 1) - torch.relu(1 - w)).sum(),
        torch.ones(1, dtype=dtype),
        eps=200 * torch.finfo(dtype).eps,
        m=8,
        seed=0,
    )
    assert ok.status is Status.OK and not ok.center_used and ok.rho == pytest.approx(1.0, abs=1e-6)


def _linear_in_disguise(kind: str):
    """Programs equal to z (so their gradient is the constant c^T A), written with nonsmooth ops whose AD output
    at z = 0 is not the derivative."""
    F = torch.nn.functional
    zero = torch.zeros(())

    def op(z):
        if kind == "relu":
            return torch.relu(z) - torch.relu(-z)
        if kind == "maximum":
            return torch.maximum(z, zero) - torch.maximum(-z, zero)
        if kind == "clamp":
            return z.clamp(min=0) - (-z).clamp(min=0)
        if kind == "max_pool":  # max over the window [z, 0] = relu(z)
            pair = torch.stack([z, torch.zeros_like(z)], -1).reshape(1, -1)
            neg = torch.stack([-z, torch.zeros_like(z)], -1).reshape(1, -1)
            return F.max_pool1d(pair, 2).reshape(-1) - F.max_pool1d(neg, 2).reshape(-1)
        if kind == "hardtanh":  # hardtanh(z + 1, -3, 1) - 1 = min(z, 0) for z > -4, kink at the bound z + 1 = 1
            return F.hardtanh(z + 1, -3.0, 1.0) - 1 + torch.relu(z)
        raise ValueError(kind)

    return op


@pytest.mark.parametrize("kind", ["relu", "maximum", "clamp", "max_pool", "hardtanh"])
def test_random_programs_with_kinks_at_x_are_not_certified_stationary(seed, kind):
    """Randomised adversary: f(θ) = c·op(Aθ + b) with b chosen so that some entries of Aθ + b are exactly 0 at θ.
    Each op(z) equals z near 0, so ∇f = Aᵀc everywhere and ρ_ε must be ‖Aᵀc‖ whatever ε (closed form)."""
    rng = np.random.default_rng([seed, hash(kind) % 1000])
    p, k = int(rng.integers(2, 5)), int(rng.integers(2, 6))
    A = torch.as_tensor(rng.standard_normal((k, p)))
    c = torch.as_tensor(rng.standard_normal(k))
    theta = torch.as_tensor(rng.standard_normal(p))
    b = -(A @ theta)  # every z_i = 0 exactly at θ
    b[rng.random(k) < 0.3] += 0.5  # ... or some of them
    op = _linear_in_disguise(kind)

    def f(t):
        return (c * op(A @ t + b)).sum()

    r = goldstein_stationarity(f, theta, eps=1e-3, m=12, seed=seed)
    assert r.kinks_checked and r.status is Status.OK
    at_kink = bool(((A @ theta + b) == 0).any())
    assert r.center_used is (not at_kink)
    assert r.rho == pytest.approx(float(torch.linalg.vector_norm(A.T @ c)), rel=1e-9)


def test_model_with_kinks_in_a_custom_forward_and_loader_data(seed):
    """A non-Sequential module (residual block with abs and a max) on a dict-batch DataLoader: kinks detected at x."""
    from torch.utils.data import DataLoader

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Linear(3, 4)
            self.b = torch.nn.Linear(4, 2)

        def forward(self, x):
            h = self.a(x)
            return self.b(torch.maximum(h, h.abs() * 0.5) + h)

    torch.manual_seed(seed)
    model = Block().double()
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((10, 3))
    y = rng.integers(0, 2, 10)
    with torch.no_grad():  # put unit 0 exactly on the kink h = 0 for every sample
        model.a.weight[0] = 0.0
        model.a.bias[0] = 0.0
    data = DataLoader([{"image": torch.as_tensor(X[i]), "label": int(y[i])} for i in range(10)], batch_size=4)
    r = stationarity(model, data, loss="cross_entropy", eps=1e-3, m=8, seed=seed)
    assert r.kinks_checked and not r.center_used and r.status is Status.OK
    r2 = stationarity(model, (X, y), loss=torch.nn.functional.cross_entropy, eps=1e-3, m=8, seed=seed)
    assert r2.rho == pytest.approx(r.rho, rel=1e-12) and not r2.center_used  # same data as NumPy, callable loss


def test_untraceable_model_is_uncertified_not_ok():
    class Branchy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(2, 1)

        def forward(self, x):
            h = self.lin(x)
            return torch.relu(h) if float(h.sum()) > 0 else -h  # data-dependent control flow: fx cannot trace

    X, y = torch.randn(6, 2, dtype=torch.float64), torch.randn(6, 1, dtype=torch.float64)
    model = Branchy().double()
    r = stationarity(model, (X, y), loss="mse", eps=1e-2, m=6, seed=0)
    assert not r.kinks_checked and "fx" in r.kinks_why and r.status is Status.UNCERTIFIED and not r.center_used
    r2 = stationarity(model, (X, y), loss="mse", eps=1e-2, m=6, seed=0, assume_differentiable=True)
    assert r2.status is Status.OK and r2.rho == r.rho


# ----------------------------------------------------------------------------- kinks in the parameters, not in values
#
# A kink is a point where the loss is not differentiable in the PARAMETERS. A max-pool window whose maximum is
# attained twice is one only if the tied entries move differently with θ: a window of ReLU outputs that are all
# off (input < 0) ties at 0 but is locally constant, and a blank image region gives windows of equal entries that
# are the same function of θ. The reference below is independent of the kink counter: one-sided difference
# quotients of the loss along directions d, compared with each other and with ∇f·d from AD.


def _one_sided(f, theta, d, t=1e-6):
    """Right and left difference quotients of ``f`` (value only) at ``theta`` along ``d``."""
    with torch.no_grad():
        f0, fp, fm = (float(f(theta + s * t * d)[0]) for s in (0, 1, -1))
    return (fp - f0) / t, (f0 - fm) / t


def _brute_force_differentiable(f, theta, n_dirs=12, seed=0, tol=1e-4):
    """True iff, along ``n_dirs`` random and the coordinate-block directions, both one-sided derivatives agree with
    ∇f(θ)·d (AD) to ``tol`` (relative to ‖∇f‖‖d‖ + 1); False as soon as one direction shows a corner."""
    from torch.func import grad

    g = grad(lambda th: f(th)[0])(theta)
    gen = torch.Generator().manual_seed(seed)
    dirs = [torch.randn(theta.shape, generator=gen, dtype=theta.dtype) for _ in range(n_dirs)]
    dirs += [torch.eye(theta.numel(), dtype=theta.dtype)[i] for i in range(min(theta.numel(), 8))]
    for d in dirs:
        right, left = _one_sided(f, theta, d)
        scale = float(g.norm() * d.norm()) + 1.0
        if abs(right - left) > tol * scale or abs(right - float(g @ d)) > tol * scale:
            return False
    return True


def _cnn(conv_w=None, conv_b=None, pool_input=False, inplace=False):
    """The atlas's CNN shape on flattened 8×8 digits: Unflatten → [MaxPool] → Conv2d → BatchNorm2d → ReLU → MaxPool2d
    → Flatten → Linear (float64, eval mode; BatchNorm with non-trivial running statistics)."""
    torch.manual_seed(3)
    nn = torch.nn
    side = 4 if pool_input else 8
    layers = [nn.Unflatten(1, (1, 8, 8))] + ([nn.MaxPool2d(2)] if pool_input else [])
    k = 1 if conv_w is not None else 3
    layers += [
        nn.Conv2d(1, 2, k, padding=k // 2),
        nn.BatchNorm2d(2),
        nn.ReLU(inplace=inplace),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(2 * (side // 2) ** 2, 3),
    ]
    model = nn.Sequential(*layers).double().eval()
    bn = model[3 if pool_input else 2]
    conv = model[2 if pool_input else 1]
    with torch.no_grad():
        bn.running_mean.copy_(torch.tensor([0.1, -0.2]))
        bn.running_var.copy_(torch.tensor([0.5, 2.0]))
        if conv_w is not None:
            conv.weight.fill_(conv_w)
            conv.bias.fill_(conv_b)
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)  # BatchNorm is then the identity (weight 1, bias 0)
    return model


def _digits(n=40):
    ds = load_data("digits", split="train")
    X = torch.as_tensor(ds.X[:n], dtype=torch.float64)
    return X, torch.as_tensor(ds.y[:n]) % 3


def _pool_ties(model, X):
    """Number of pool windows (after the ReLU) whose maximum is attained twice, counted directly."""
    with torch.no_grad():
        h = model[:4](X) if len(model) == 7 else model[:5](X)
    w = torch.nn.functional.unfold(h.reshape(-1, 1, *h.shape[-2:]), 2, stride=2)
    return int(((w == w.amax(1, keepdim=True)).sum(1) > 1).sum()), int((h == 0).sum())


@pytest.mark.parametrize("pool_input", [False, True])
def test_cnn_pool_ties_at_relu_zero_are_not_kinks_brute_force(pool_input):
    """The atlas CNN on digits (many exact-zero pixels): many pool windows tie (at 0 where all ReLUs are off, at the
    channel's bias over blank regions), yet the loss is differentiable at θ (brute-force one-sided derivatives agree
    with AD) and no kink is counted; the stationarity certificate then uses ∇f(θ). With a max-pool on the raw input,
    ties among zero pixels are data."""
    X, y = _digits()
    model = _cnn(pool_input=pool_input)
    ties, zeros = _pool_ties(model, X)
    assert ties > 50 and zeros > 200  # the case that used to be called "every sampled point hit a kink"
    f, theta, checked, why = model_loss_function(model, X, y, "cross_entropy")
    assert checked and why == ""
    assert int(f(theta)[1]) == 0
    assert _brute_force_differentiable(f, theta, seed=1)
    # the cheap screen counts every tie (an upper bound) with the same value and gradient; the samples it flags
    # are recounted exactly
    from torch.func import grad

    assert int(f.screen(theta)[1]) >= ties > 0
    g1, g2 = grad(lambda t: f(t)[0])(theta), grad(lambda t: f.screen(t)[0])(theta)
    assert torch.equal(g1, g2)
    r = stationarity(model, (X, y), eps=1e-2, m=8, seed=0)
    assert r.status is Status.OK and r.center_used and r.resampled == 0


@pytest.mark.parametrize(
    "w, b, kink",
    [
        (0.0, -0.5, False),  # every ReLU input is -0.5: every window ties at 0, locally constant: differentiable
        (0.0, 0.5, True),  # every ReLU is on at 0.5 and every window ties, but the entries move with w by x_i ≠ x_j
        (0.0, 0.0, True),  # every ReLU input is exactly 0: a kink of the ReLU itself
    ],
)
def test_pool_tie_is_a_kink_exactly_when_the_tied_entries_move_differently(w, b, kink):
    """A 1×1 convolution with weight w and bias b: every window of the ReLU output ties. The counter must agree
    with the brute-force differentiability check in both directions."""
    X, y = _digits(12)
    X = X + torch.linspace(0, 1e-3, 64, dtype=torch.float64)  # distinct pixels in every window
    model = _cnn(conv_w=w, conv_b=b)
    f, theta, checked, _ = model_loss_function(model, X, y, "cross_entropy")
    count = int(f(theta)[1])
    assert checked and (count > 0) is kink
    assert _brute_force_differentiable(f, theta, seed=2) is (not kink)
    if kink:  # the corner is along the convolution weights (coordinates of the first parameter block)
        d = torch.zeros_like(theta)
        d[:2] = torch.tensor([1.0, -1.0], dtype=theta.dtype)
        right, left = _one_sided(f, theta, d)
        assert abs(right - left) > 1e-3


def test_inplace_relu_counts_its_input_not_its_output():
    """ReLU(inplace=True) overwrites its input: the counter must read it before the op runs (every off unit used to
    count as a kink)."""
    X, y = _digits(30)
    for inplace in (False, True):
        model = _cnn(inplace=inplace)
        f, theta, checked, _ = model_loss_function(model, X, y, "cross_entropy")
        assert checked and int(f(theta)[1]) == 0
    mlp_ = torch.nn.Sequential(torch.nn.Linear(64, 5), torch.nn.ReLU(inplace=True), torch.nn.Linear(5, 3)).double()
    with torch.no_grad():  # unit 0: pre-activation exactly 0 on every sample; the others generic
        mlp_[0].weight[0] = 0.0
        mlp_[0].bias[0] = 0.0
    f, theta, _, _ = model_loss_function(mlp_, X, y, "cross_entropy")
    with torch.no_grad():
        ref = int((mlp_[0](X) == 0).sum())
    assert int(f(theta)[1]) == ref == 30


def test_relu_of_an_off_relu_and_ties_through_a_view():
    """relu(relu(h)) with h < 0: the outer ReLU sees an exact 0 that is locally constant (not a kink); the same 0s
    pass through a view into a max over pairs (a tie at a constant: not a kink). Two units with equal values but
    their own weights tie and move differently: a kink. Checked against the brute-force reference."""
    from tamelab.tame.nonsmooth import kink_counted

    class Net(torch.nn.Module):
        def __init__(self, b):
            super().__init__()
            self.lin = torch.nn.Linear(3, 4).double()
            with torch.no_grad():
                self.lin.bias.copy_(torch.as_tensor(b, dtype=torch.float64))
            self.out = torch.nn.Linear(2, 2).double()

        def forward(self, x):
            h = torch.relu(torch.relu(self.lin(x)))
            m = h.view(-1, 2, 2).amax(-1)  # max over pairs: (0, 0) pairs tie at a constant
            return self.out(m)

    X = torch.rand(6, 3, dtype=torch.float64) * 0.1
    y = torch.tensor([0, 1, 0, 1, 1, 0])
    for b in ([-5.0, -5.0, 1.0, 2.0], [2.0, 2.0, -5.0, -5.0]):
        model = Net(b)
        with torch.no_grad():
            model.lin.weight[1] = model.lin.weight[0]  # units 0 and 1 identical in value: a tie when on
        f, theta, checked, _ = model_loss_function(model, X, y, "cross_entropy")
        count = int(f(theta)[1])
        diff = _brute_force_differentiable(f, theta, seed=3)
        # b = [2, 2, ...]: units 0 and 1 tie (same value) but move differently with their own weights: a kink
        assert checked and (count > 0) is (b[0] > 0) and diff is (b[0] < 0)
    counted, why = kink_counted(lambda t: torch.relu(torch.relu(t) - 1.0).sum())
    assert why == "" and int(counted(torch.tensor([-1.0, 0.5, 1.0]))[1]) == 1  # relu(t) - 1 == 0 at t = 1 (moving)


def test_random_cnn_ties_counter_agrees_with_brute_force(seed):
    """Randomised adversary of the same kind: the CNN on raw digits (duplicate pixels) with generic weights, or with a
    1×1 convolution of weight 0 and a random bias that is negative (all ties at 0), positive (ties among entries
    that move with the weight by different pixels, and among blank-region entries that are the same function) or
    exactly 0 (ReLU kinks). The counter says "kink" exactly when the brute-force check finds a corner."""
    rng = np.random.default_rng([seed, 17])
    X, y = _digits(10)
    mode = int(rng.integers(0, 4))
    mag = float(rng.uniform(0.2, 1.0))
    kw = [{}, dict(conv_w=0.0, conv_b=-mag), dict(conv_w=0.0, conv_b=mag), dict(conv_w=0.0, conv_b=0.0)][mode]
    model = _cnn(**kw)
    f, theta, checked, _ = model_loss_function(model, X, y, "cross_entropy")
    count = int(f(theta)[1])
    assert checked and (count > 0) is (mode >= 2)
    assert _brute_force_differentiable(f, theta, seed=seed) is (count == 0)


def test_op_without_forward_mode_ad_falls_back_to_counting_every_tie():
    """A custom autograd.Function without a jvp (ReLUPrime) cannot run under forward-mode AD: the counter then counts
    every tie (the conservative rule) instead of failing: a zero pre-activation still counts, a generic point not."""
    from tamelab.tame.relu_prime import ReLUPrime

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 5), ReLUPrime(0.5), torch.nn.Linear(5, 2)).double()
    X, y = torch.randn(20, 3, dtype=torch.float64), torch.randint(0, 2, (20,))
    f, theta, checked, _ = model_loss_function(model, X, y, "cross_entropy")
    assert checked and int(f(theta)[1]) == 0
    with torch.no_grad():
        model[0].weight[0] = 0.0
        model[0].bias[0] = 0.0
    f, theta, _, _ = model_loss_function(model, X, y, "cross_entropy")
    assert int(f(theta)[1]) == 20
    r = stationarity(model, (X, y), eps=1e-2, m=8, seed=0)
    assert r.status is Status.OK and not r.center_used
