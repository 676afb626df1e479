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
from tamelab.tame import (ad_clarke_probe, ad_vs_clarke_examples, goldstein_stationarity, min_norm_hull,
                                    min_norm_hull_exact, model_loss_function, sample_ball, stationarity)

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
    D = ((U - x).numpy() / d[:, None])
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
    z = X @ th2[:64 * 8].view(8, 64).T + th2[64 * 8:64 * 8 + 8]  # the pre-activations at th2, recomputed
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
    ok = goldstein_stationarity(lambda w: (torch.relu(w - 1) - torch.relu(1 - w)).sum(), torch.ones(1, dtype=dtype),
                                eps=200 * torch.finfo(dtype).eps, m=8, seed=0)
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
