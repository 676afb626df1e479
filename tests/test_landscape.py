import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

from tamelab import ComputationError, InputError, Status
from tamelab.landscape import (
    CurvatureOperator,
    activation_matching,
    ce_ggn_diagonal,
    filter_normalized_direction,
    fit_curve,
    hutchinson,
    hutchpp,
    interpolate,
    lanczos,
    loss_surface,
    permute_mlp,
    slq_density,
    top_eigenpairs,
    trajectory_pca,
    weight_matching,
    xtrace,
)
from tamelab.models import mlp
from tamelab.testing import MatrixOperator, dense_ggn, dense_hessian

CE = nn.functional.cross_entropy


def _tiny(seed, widths=(3, 5, 4, 3), n=11):
    g = torch.Generator().manual_seed(seed)
    m = mlp(list(widths), seed=seed, dtype=torch.float64)
    X = torch.randn(n, widths[0], dtype=torch.float64, generator=g)
    y = torch.randint(0, widths[-1], (n,), generator=g)
    return m, X, y


def test_hvp_and_ggn_match_dense_references(seed):
    m, X, y = _tiny(seed)
    H, G = dense_hessian(m, CE, X, y), dense_ggn(m, CE, X, y)
    op, gop = CurvatureOperator(m, CE, (X, y)), CurvatureOperator(m, CE, (X, y), kind="ggn")
    V = torch.randn(op.n, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    assert torch.allclose(op.matmat(V), H @ V, atol=1e-12)
    assert torch.allclose(gop.matmat(V), G @ V, atol=1e-12)
    L = op.to_scipy()
    assert np.allclose(L @ V[:, 0].numpy(), (H @ V[:, 0]).numpy(), atol=1e-12)


def test_batches_are_weighted_by_size_and_subsets_select_blocks(seed):
    m, X, y = _tiny(seed, n=10)
    full = CurvatureOperator(m, CE, (X, y))
    parts = CurvatureOperator(m, CE, [(X[:7], y[:7]), (X[7:], y[7:])])
    v = torch.randn(full.n, dtype=torch.float64)
    assert torch.allclose(full.matvec(v), parts.matvec(v), atol=1e-13)
    sub = CurvatureOperator(m, CE, (X, y), params=["2.weight"])
    H = dense_hessian(m, CE, X, y, params=["2.weight"])
    w = torch.randn(sub.n, dtype=torch.float64)
    assert sub.n == 20 and torch.allclose(sub.matvec(w), H @ w, atol=1e-12)


def test_operator_errors():
    m, X, y = _tiny(0)
    drop = nn.Sequential(nn.Linear(3, 8), nn.Dropout(0.5), nn.Linear(8, 3)).double().train()
    with pytest.raises(ComputationError, match="two passes"):
        CurvatureOperator(drop, CE, (X, y))
    with pytest.raises(InputError, match="no parameters"):
        CurvatureOperator(nn.Sequential(nn.ReLU()), CE, (X, y))
    with pytest.raises(InputError, match="unknown parameter"):
        CurvatureOperator(m, CE, (X, y), params=["9.weight"])


@pytest.mark.parametrize("which", ["largest", "smallest"])
def test_lanczos_topk_matches_dense_spectrum_with_certified_residuals(which, seed):
    m, X, y = _tiny(seed, widths=(4, 6, 5, 3), n=15)
    op = CurvatureOperator(m, CE, (X, y))
    ev = torch.linalg.eigvalsh(dense_hessian(m, CE, X, y)).numpy()
    r = top_eigenpairs(op, 4, which=which, tol=1e-8, seed=seed)
    ref = ev[::-1][:4] if which == "largest" else ev[:4]
    assert r.status == Status.OK and np.allclose(r.eigenvalues, ref, atol=1e-9)
    assert all(res <= 1e-8 * abs(lam) + 1e-12 for res, lam in zip(r.residuals, r.eigenvalues))


def test_unconverged_is_reported_as_such():
    A = torch.tensor(np.diag(np.linspace(1, 1.001, 400)) + 0.0)  # clustered: hard for a tiny Krylov space
    r = top_eigenpairs(MatrixOperator(A), 3, tol=1e-12, max_dim=10)
    assert r.status == Status.NOT_CONVERGED and not all(r.converged)


def test_full_reorthogonalisation_no_spurious_copies():
    A = torch.diag(torch.tensor([50.0, 30, 20, 10] + [0.1] * 96, dtype=torch.float64))
    a, b, V, _ = lanczos(MatrixOperator(A), 60, torch.ones(100, dtype=torch.float64))
    th = np.linalg.eigvalsh(np.diag(a) + np.diag(b, 1) + np.diag(b, -1))
    assert np.sum(np.abs(th - 50) < 1e-6) == 1  # one copy of the top eigenvalue
    assert torch.allclose(V.T @ V, torch.eye(V.shape[1], dtype=torch.float64), atol=1e-10)


def test_trace_estimators_unbiased_and_hutchinson_variance_formula(seed):
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((50, 50))
    A = torch.tensor((B + B.T) / 2)
    tr = float(torch.trace(A))
    for f in (hutchinson, hutchpp, xtrace):
        r = f(MatrixOperator(A), 60, seed=seed)
        assert abs(r.trace - tr) < 5 * r.stderr + 1e-9, f.__name__
    # Var[v^T A v] = 2(‖A‖_F² − Σ A_ii²) for Rademacher probes (spec §6.5)
    Z = torch.tensor(rng.choice([-1.0, 1.0], size=(50, 20000)))
    q = ((Z * (A @ Z)).sum(0)).numpy()
    var = 2 * (float((A**2).sum()) - float((torch.diag(A) ** 2).sum()))
    assert abs(q.var() / var - 1) < 0.05


def test_slq_gauss_quadrature_moments_are_exact(seed):
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((200, 200)))
    A = torch.tensor(U @ np.diag(rng.uniform(-1, 1, 200)) @ U.T)
    d = slq_density(MatrixOperator(A), m=10, n_probes=1, seed=seed)
    th, w = np.array(d.nodes[0]), np.array(d.weights[0])
    assert abs(w.sum() - 1) < 1e-12
    g = torch.Generator().manual_seed(d.seed)
    v = (torch.randint(0, 2, (200, 1), generator=g, dtype=torch.int64) * 2 - 1).double()[:, 0]
    v = v / v.norm()
    Ap = torch.eye(200, dtype=torch.float64)
    for p in range(0, 20):
        assert abs((w * th**p).sum() - float(v @ Ap @ v)) < 1e-10, p
        Ap = A @ Ap
    grid = d.grid
    assert abs(np.trapezoid(d.density, grid) - 1) < 1e-9


def test_exact_relu_trace_equals_dense_hessian_diagonal(seed):
    m, X, y = _tiny(seed)
    H = dense_hessian(m, CE, X, y)
    assert torch.allclose(ce_ggn_diagonal(m, X, y), torch.diag(H), atol=1e-12)  # batched closed form
    assert torch.allclose(ce_ggn_diagonal(m, X, y, fast_path=False), torch.diag(H), atol=1e-12)  # per-sample path
    G = dense_ggn(m, CE, X, y)
    assert torch.allclose(ce_ggn_diagonal(m, X, y), torch.diag(G), atol=1e-12)


def test_mlp_ggn_diagonal_matches_dense_ggn_for_mse_and_no_bias(seed):
    from tamelab.landscape._mlp_rop import mlp_ggn_diagonal, mlp_rop_plan

    for net, loss, X, T in _mlp_variants(seed):
        lin, kind = mlp_rop_plan(net, loss, [k for k, _ in net.named_parameters()])
        got = torch.cat([b.reshape(-1) for b in mlp_ggn_diagonal(lin, kind, X, T)])
        assert torch.allclose(got, torch.diag(dense_ggn(net, loss, X, T)), atol=1e-12)


def test_filter_normalisation_and_grid_centre(seed):
    m, X, y = _tiny(seed)
    d = filter_normalized_direction(m, seed=seed)
    for k, p in m.named_parameters():
        if p.dim() == 2:
            assert torch.allclose(d[k].norm(dim=1), p.detach().norm(dim=1), rtol=1e-6)
        else:
            assert torch.count_nonzero(d[k]) == 0
    r = loss_surface(m, X, y, grid=5, span=0.5, seed=seed)
    L = np.array(r.losses)
    assert L.shape == (5, 5) and r.alphas[2] == 0.0
    with torch.no_grad():
        assert L[2, 2] == pytest.approx(float(CE(m(X), y)), rel=1e-12) == pytest.approx(r.center_loss)
    r1 = loss_surface(m, X, y, grid=7, span=2.0, dims=1, directions=[d])
    with torch.no_grad():
        want = [
            float(CE(torch.func.functional_call(m, {k: v + a * d[k] for k, v in m.named_parameters()}, (X,)), y))
            for a in np.linspace(-2, 2, 7)
        ]
    assert np.allclose(r1.losses, want, rtol=1e-12)


@pytest.mark.dask
def test_surface_on_dask_equals_serial():
    from tamelab.parallel import get_executor

    m, X, y = _tiny(0)
    a = loss_surface(m, X, y, grid=7, seed=0)
    with get_executor("dask", workers=2) as ex:
        b = loss_surface(m, X, y, grid=7, seed=0, executor=ex)
    assert np.array_equal(np.array(a.losses), np.array(b.losses))


def test_barriers_convex_and_permuted(seed):
    g = torch.Generator().manual_seed(seed)
    X, Y = torch.randn(30, 3, dtype=torch.float64, generator=g), torch.randn(30, 2, dtype=torch.float64, generator=g)
    la, lb = nn.Linear(3, 2).double(), nn.Linear(3, 2).double()
    r = interpolate(la, lb, X, Y, loss="mse")
    assert r.barrier_linear <= 1e-12  # convex loss along a line: no barrier above the chord
    m, X2, y2 = _tiny(seed, widths=(3, 5, 5, 3))
    perms = [np.random.default_rng(seed + i).permutation(5) for i in range(2)]
    b = permute_mlp(m, perms)
    al = weight_matching(m, b, X=X2)
    assert al.max_function_change < 1e-12
    r2 = interpolate(m, al.model, X2, y2)
    assert abs(r2.barrier_mean) < 1e-12


def test_weight_matching_recovers_planted_permutations_and_brute_force(seed):
    m = mlp([5, 16, 16, 16, 3], seed=seed, dtype=torch.float64)
    perms = [np.random.default_rng(seed + i).permutation(16) for i in range(3)]
    b = permute_mlp(m, perms)
    X = torch.randn(8, 5, dtype=torch.float64)
    assert torch.allclose(m(X), b(X), atol=1e-12)
    al = weight_matching(m, b)
    for p, q in zip(m.parameters(), al.model.parameters()):
        assert torch.equal(p, q)
    # one hidden layer of width 5: the LAP is the global optimum over all 120 permutations
    a1, b1 = mlp([3, 5, 2], seed=seed, dtype=torch.float64), mlp([3, 5, 2], seed=seed + 7, dtype=torch.float64)
    r = weight_matching(a1, b1)
    from tamelab.landscape.ainsworth2023rebasin import _objective
    from tamelab.models import relu_layers

    la, lb = relu_layers(a1), relu_layers(b1)
    best = max(_objective(la, lb, [np.array(p)]) for p in itertools.permutations(range(5)))
    assert r.objective_after == pytest.approx(best, abs=1e-12)
    act = activation_matching(m, b, X)
    assert act.max_function_change < 1e-12
    with pytest.raises(InputError, match="architectures differ"):
        weight_matching(m, mlp([5, 8, 3], seed=0))


def test_weight_matching_restarts_reach_the_brute_force_optimum_of_two_hidden_layers():
    # two hidden layers of width 4: 24² joint permutations, exhaustive search gives the global optimum
    from tamelab.landscape.ainsworth2023rebasin import _objective
    from tamelab.models import relu_layers

    hits = 0
    for s in range(6):
        a, b = mlp([3, 4, 4, 2], seed=s, dtype=torch.float64), mlp([3, 4, 4, 2], seed=100 + s, dtype=torch.float64)
        la, lb = relu_layers(a), relu_layers(b)
        best = max(
            _objective(la, lb, [np.array(p), np.array(q)])
            for p in itertools.permutations(range(4))
            for q in itertools.permutations(range(4))
        )
        one, many = weight_matching(a, b, seed=s), weight_matching(a, b, seed=s, restarts=12)
        assert one.objective_after <= best + 1e-12 and many.objective_after <= best + 1e-12
        assert many.objective_after >= one.objective_after - 1e-12  # restart 0 is the identity start
        hits += many.objective_after == pytest.approx(best, abs=1e-12)
        X = torch.randn(5, 3, dtype=torch.float64)
        assert torch.allclose(many.model(X), b(X), atol=1e-12)
    assert hits >= 5
    with pytest.raises(InputError, match="restarts"):
        weight_matching(a, b, restarts=0)


def test_bezier_curve_finds_low_path_on_ring():
    class Ring(nn.Module):
        def __init__(self, w):
            super().__init__()
            self.w = nn.Parameter(torch.tensor(w, dtype=torch.float64))

        def forward(self, X):
            return self.w.expand(X.shape[0], 2)

    ring = lambda out, T: (((out**2).sum(1) - 1) ** 2).mean()  # noqa: E731
    X, T = torch.zeros(8, 1, dtype=torch.float64), torch.zeros(8)
    r = fit_curve(Ring([1.0, 0.0]), Ring([-1.0, 0.0]), X, T, loss_fn=ring, steps=400, lr=0.02, seed=0)
    assert r.ts[0] == 0 and r.ts[-1] == 1
    assert r.losses_curve[0] == pytest.approx(0) and r.losses_curve[-1] == pytest.approx(0)
    assert r.barrier_line == pytest.approx(1.0) and r.barrier_curve < 0.2


def test_trajectory_pca_on_planar_path():
    rng = np.random.default_rng(0)
    u, v = rng.standard_normal(12), rng.standard_normal(12)
    ts = np.linspace(0, 1, 9)
    snaps = [{"w": torch.tensor((np.cos(3 * t) * u + t**2 * v).reshape(3, 4))} for t in ts]
    r = trajectory_pca(snaps)
    assert sum(r["explained_variance_ratio"]) == pytest.approx(1, abs=1e-12)
    D = np.stack([s["w"].numpy().ravel() for s in snaps])
    A = np.stack([d["w"].numpy().ravel() for d in r["directions"]])
    recon = r["coords"] @ A + D[-1]
    assert np.allclose(recon, D, atol=1e-10)


# ---------------------------------------------------------------- fast paths (tested against the generic ones)
def _mlp_variants(seed):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(9, 3, dtype=torch.float64, generator=g)
    nets = [
        (nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3)), "ce"),
        (nn.Sequential(nn.Linear(3, 5, bias=False), nn.ReLU(), nn.Linear(5, 3)), "ce"),
        (nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2, bias=False)), "mse"),
        (nn.Sequential(nn.Linear(3, 3)), "mse"),
    ]
    torch.manual_seed(seed)
    out = []
    for net, kind in nets:
        net = net.double()
        for p in net.parameters():
            nn.init.normal_(p, std=0.8, generator=g)
        n_out = net[-1].out_features
        T = (
            torch.randint(0, n_out, (9,), generator=g)
            if kind == "ce"
            else torch.randn(9, n_out, dtype=torch.float64, generator=g)
        )
        out.append((net, nn.CrossEntropyLoss() if kind == "ce" else nn.MSELoss(), X, T))
    return out


def test_mlp_r_operator_matches_autograd_and_dense_hessian(seed):
    for net, loss, X, T in _mlp_variants(seed):
        fast = CurvatureOperator(net, loss, (X, T))
        slow = CurvatureOperator(net, loss, (X, T), fast_path=False)
        assert fast.path == "mlp-rop" and slow.path == "autograd"
        H = dense_hessian(net, loss, X, T)
        V = torch.randn(fast.n, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        assert torch.allclose(fast.matmat(V), H @ V, atol=1e-12)
        assert torch.allclose(slow.matmat(V), H @ V, atol=1e-12)
        two = CurvatureOperator(net, loss, [(X[:4], T[:4]), (X[4:], T[4:])])
        assert two.path == "mlp-rop" and torch.allclose(two.matmat(V), H @ V, atol=1e-12)


def test_r_operator_is_only_used_where_it_is_exact():
    m, X, y = _tiny(0)
    assert CurvatureOperator(m, CE, (X, y), params=["2.weight"]).path == "autograd"  # subset
    tanh = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 3)).double()
    assert CurvatureOperator(tanh, CE, (X, y)).path == "autograd"
    smooth = nn.CrossEntropyLoss(label_smoothing=0.1)
    assert CurvatureOperator(m, smooth, (X, y)).path == "autograd"
    assert CurvatureOperator(m, nn.CrossEntropyLoss(reduction="sum"), (X, y)).path == "autograd"
    assert CurvatureOperator(m, CE, (X, y), kind="ggn").path == "ggn"
    X3 = X.reshape(11, 1, 3)  # (N, 1, d) inputs: Linear acts on the last dim, CE would see (N, 1, C) logits
    mse = nn.MSELoss()
    assert CurvatureOperator(m, mse, (X3, torch.zeros(11, 1, 3, dtype=torch.float64))).path == "autograd"


def test_stored_products_give_the_true_residuals_without_extra_products(seed):
    m, X, y = _tiny(seed, widths=(4, 6, 5, 3), n=15)
    H = dense_hessian(m, CE, X, y)
    ev = torch.linalg.eigvalsh(H).numpy()[::-1]
    a = top_eigenpairs(MatrixOperator(H), 3, tol=1e-9, seed=seed, keep_products=True)
    b = top_eigenpairs(MatrixOperator(H), 3, tol=1e-9, seed=seed, keep_products=False)
    assert a.status == b.status == Status.OK
    # the residual certificate costs no product: Krylov vectors + one noise measurement + the check's products
    assert a.hvps == a.krylov_dim + 1 + a.check_hvps < b.hvps
    for r in (a, b):
        V = r.eigenvectors
        true = (H @ V - V * torch.tensor(r.eigenvalues, dtype=H.dtype)).norm(dim=0).numpy()
        assert np.allclose(r.residuals, true, rtol=1e-6, atol=1e-14)
        err = np.abs(np.array(r.eigenvalues) - ev[:3])
        assert np.all(err <= np.array(r.residuals) + 1e-14)  # an eigenvalue within r (here: the right one)
        assert np.all(np.array(r.error_bounds) <= np.array(r.residuals) + 1e-300)
        assert np.all(err <= np.array(r.error_bounds) + 1e-13)  # Kato–Temple estimate holds here


def _reference_surface(model, X, y, dirs, alphas, loss=CE):
    th = {k: v.detach() for k, v in model.named_parameters()}
    out = np.zeros((len(alphas), len(alphas)))
    with torch.no_grad():
        for i, a in enumerate(alphas):
            for j, b in enumerate(alphas):
                sd = {k: th[k] + a * dirs[0][k] + b * dirs[1][k] for k in th}
                out[i, j] = float(loss(torch.func.functional_call(model, sd, (X,)), y))
    return out


class _Wrapped(nn.Module):  # not an nn.Sequential: evaluated by the generic in-place path
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x)


class _ResNetClass(nn.Module):  # a model written as a class: first-layer reuse through torch.fx
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 2, 3, padding=1)
        self.bn = nn.BatchNorm2d(2)
        self.conv = nn.Conv2d(2, 2, 3, padding=1)
        self.head = nn.Linear(2 * 5 * 5, 3)

    def forward(self, x):
        h = torch.relu(self.bn(self.stem(x)))
        h = torch.relu(h + self.conv(h))
        return self.head(h.flatten(1))


def _surface_model(arch):
    g = torch.Generator().manual_seed(3)
    torch.manual_seed(3)
    if arch == "resnet-class":
        m = _ResNetClass().double().eval()
        with torch.no_grad():
            m.bn.running_var.uniform_(0.5, 2.0, generator=g)
        return m, torch.randn(8, 1, 5, 5, dtype=torch.float64, generator=g), torch.randint(0, 3, (8,), generator=g)
    if arch in ("conv", "cnn-bn", "cnn-bn-avg"):
        if arch == "conv":
            m = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 3 * 3, 3)).double()
        else:
            pool = nn.AvgPool2d(1) if arch == "cnn-bn-avg" else nn.Identity()
            m = nn.Sequential(
                nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), pool, nn.ReLU(), nn.MaxPool2d(3), nn.Flatten(), nn.Linear(2, 3)
            ).double()
            with torch.no_grad():
                m[1].running_mean.normal_(0, 0.3, generator=g)
                m[1].running_var.uniform_(0.5, 2.0, generator=g)
                m[1].weight.normal_(1, 0.3, generator=g)
            m.eval()
        X = torch.randn(8, 1, 5, 5, dtype=torch.float64, generator=g)
        y = torch.randint(0, 3, (8,), generator=g)
    else:
        m, X, y = _tiny(3)
        m = _Wrapped(m) if arch == "wrapped" else m
    return m, X, y


@pytest.mark.parametrize("points_per_batch", [1, 4])
@pytest.mark.parametrize("ignore", ["biasbn", "none"])
@pytest.mark.parametrize("arch", ["mlp", "conv", "wrapped", "cnn-bn", "cnn-bn-avg", "resnet-class"])
def test_surface_fast_evaluator_matches_functional_reference_on_every_point(arch, ignore, points_per_batch):
    from tamelab.landscape.li2018visualizing import _GridEvaluator

    m, X, y = _surface_model(arch)
    d = [filter_normalized_direction(m, seed=s, ignore=ignore) for s in (1, 2)]  # "none": biases and BN move too
    before = [p.detach().clone() for p in m.parameters()]
    r = loss_surface(m, X, y, grid=5, span=0.7, directions=d, points_per_batch=points_per_batch)
    ref = _reference_surface(m, X, y, d, np.linspace(-0.7, 0.7, 5))
    assert np.allclose(np.array(r.losses), ref, rtol=1e-12)
    with torch.no_grad():
        acc = [
            [
                float(
                    (
                        torch.func.functional_call(
                            m, {k: v + a * d[0][k] + b * d[1][k] for k, v in m.named_parameters()}, (X,)
                        ).argmax(1)
                        == y
                    )
                    .double()
                    .mean()
                )
                for b in r.betas
            ]
            for a in r.alphas
        ]
    assert np.array_equal(np.array(r.accuracies), np.array(acc))
    assert all(torch.equal(p, q) for p, q in zip(m.parameters(), before))  # the caller's model is untouched
    ev = _GridEvaluator(m, None, d, X, y, "cross_entropy")
    if arch in ("wrapped", "resnet-class"):  # not a Sequential: the first layer found in the torch.fx graph
        assert ev.first is not None and type(ev.first).__name__ in ("Linear", "Conv2d")
    if arch.startswith("cnn-bn"):  # the eval-mode BatchNorm (and average pool) joins the cached first-layer products
        want = ["BatchNorm2d", "AvgPool2d" if arch == "cnn-bn-avg" else "Identity"] if ignore == "biasbn" else []
        assert ev.folded == want


def test_surface_evaluator_centres_on_the_given_theta_not_the_models_parameters():
    from tamelab.landscape.li2018visualizing import _eval_chunk

    m, X, y = _tiny(5)
    other = mlp([3, 5, 4, 3], seed=99, dtype=torch.float64)
    theta = {k: v.detach() for k, v in other.named_parameters()}
    d = [filter_normalized_direction(m, seed=s) for s in (1, 2)]
    got = _eval_chunk((m, theta, d, [(0.0, 0.0), (0.3, -0.2)], X, y, "cross_entropy"))
    with torch.no_grad():
        want0 = float(CE(other(X), y))
        want1 = float(
            CE(torch.func.functional_call(m, {k: theta[k] + 0.3 * d[0][k] - 0.2 * d[1][k] for k in theta}, (X,)), y)
        )
    assert got[0][0] == pytest.approx(want0, rel=1e-12) and got[1][0] == pytest.approx(want1, rel=1e-12)


def test_packed_chunk_payload_round_trips_exactly():
    # what Dask ships: NumPy state + meta skeleton; evaluated in-process here (no cluster needed)
    import pickle

    from tamelab.landscape.li2018visualizing import _eval_chunk, _eval_chunk_packed, _pack_chunk_payload

    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(3, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3)).double().eval()
    m[1].running_mean.normal_()  # a buffer that must travel too
    X = torch.randn(10, 3, dtype=torch.float64)
    y = torch.randint(0, 3, (10,))
    d = [filter_normalized_direction(m, seed=s) for s in (1, 2)]
    coords = [(0.0, 0.0), (0.5, -0.25), (-1.0, 1.0)]
    packed = pickle.loads(pickle.dumps(_pack_chunk_payload(m, d, X, y)))
    assert _eval_chunk_packed((packed, coords, "cross_entropy")) == _eval_chunk(
        (m, None, d, coords, X, y, "cross_entropy")
    )
    assert _pack_chunk_payload(m.to(torch.bfloat16), [], X, y) is None  # no NumPy dtype: plain payload instead


def test_plane_through_three_models_puts_each_model_at_its_coordinates():
    from tamelab.landscape import model_direction, plane_through_models

    (a, X, y), b, c = (
        _tiny(1),
        mlp([3, 5, 4, 3], seed=2, dtype=torch.float64),
        mlp([3, 5, 4, 3], seed=3, dtype=torch.float64),
    )
    r = plane_through_models(a, b, c, X, y, grid=7, margin=0.2)
    assert r.status == Status.OK and r.max_model_mismatch < 1e-12
    flat = lambda m: torch.cat([p.detach().reshape(-1) for p in m.parameters()])  # noqa: E731
    A, B, C = flat(a), flat(b), flat(c)
    (x0, y0), (x1, y1), (x2, y2) = r.model_coords
    assert (x0, y0, y1) == (0.0, 0.0, 0.0) and x1 == pytest.approx(float((B - A).norm()), rel=1e-12)
    assert math.hypot(x2, y2) == pytest.approx(float((C - A).norm()), rel=1e-12)  # Gram–Schmidt keeps distances
    assert math.hypot(x2 - x1, y2) == pytest.approx(float((C - B).norm()), rel=1e-12)
    with torch.no_grad():
        own = [float(CE(m(X), y)) for m in (a, b, c)]
    assert np.allclose(r.model_losses, own, rtol=1e-12) and np.allclose(r.plane_losses_at_models, own, rtol=1e-10)
    # one grid point against an explicit reconstruction θ_A + x u + y v
    u = (B - A) / (B - A).norm()
    w = (C - A) - ((C - A) @ u) * u
    v = w / w.norm()
    i, j = 2, 5
    th = A + r.xs[i] * u + r.ys[j] * v
    sd, k = {}, 0
    for name, p in a.named_parameters():
        sd[name] = th[k : k + p.numel()].view_as(p)
        k += p.numel()
    with torch.no_grad():
        assert r.losses[i][j] == pytest.approx(float(CE(torch.func.functional_call(a, sd, (X,)), y)), rel=1e-10)
    # the model-to-model direction: α = 1 of a 1-D slice is B
    line = loss_surface(a, X, y, dims=1, grid=5, span=1.0, directions=[model_direction(a, b)])
    assert line.losses[-1] == pytest.approx(own[1], rel=1e-12) and line.losses[2] == pytest.approx(own[0], rel=1e-12)
    twice = permute_mlp(a, [np.arange(5), np.arange(4)])
    with torch.no_grad():
        for p, q, s in zip(twice.parameters(), a.parameters(), b.parameters()):
            p.copy_(q + 2 * (s - q))  # A + 2(B − A): collinear with A and B
    with pytest.raises(InputError, match="collinear"):
        plane_through_models(a, b, twice, X, y)
    with pytest.raises(InputError, match="same point"):
        plane_through_models(a, a, c, X, y)
    with pytest.raises(InputError, match="architectures differ"):
        plane_through_models(a, b, mlp([3, 6, 4, 3], seed=0, dtype=torch.float64), X, y)


def test_trajectory_surface_on_a_planar_path_of_a_real_model():
    from tamelab.landscape import trajectory_surface

    m, X, y = _tiny(4)
    final = {k: v.detach().clone() for k, v in m.named_parameters()}
    g = torch.Generator().manual_seed(0)
    u = {k: torch.randn(v.shape, dtype=v.dtype, generator=g) * (v.dim() > 1) for k, v in final.items()}
    w = {k: torch.randn(v.shape, dtype=v.dtype, generator=g) * (v.dim() > 1) for k, v in final.items()}
    ts = np.linspace(1, 0, 7)  # ends at the final point
    snaps = [{k: final[k] + 0.3 * np.cos(2 * t) * u[k] - 0.2 * t * t * w[k] - 0.3 * u[k] for k in final} for t in ts]
    snaps[-1] = {k: v.clone() for k, v in final.items()}
    r = trajectory_surface(m, snaps, X, y, grid=6, margin=0.2)
    assert r.status == Status.OK and sum(r.explained_variance_ratio) == pytest.approx(1, abs=1e-10)
    P = np.array(r.path)
    assert np.allclose(P[-1], 0) and r.xs[0] <= P[:, 0].min() and r.ys[-1] >= P[:, 1].max()
    flat = lambda d: torch.cat([d[k].reshape(-1) for k in final])  # noqa: E731
    for i in range(len(snaps)):  # the plane is exact: distances to the final point are preserved
        assert np.hypot(*P[i]) == pytest.approx(float((flat(snaps[i]) - flat(final)).norm()), rel=1e-9, abs=1e-12)
    pca = trajectory_pca(snaps)
    i, j = 1, 4
    sd = {k: final[k] + r.xs[i] * pca["directions"][0][k] + r.ys[j] * pca["directions"][1][k] for k in final}
    with torch.no_grad():
        assert r.losses[i][j] == pytest.approx(float(CE(torch.func.functional_call(m, sd, (X,)), y)), rel=1e-12)
    with pytest.raises(InputError, match="at least 3"):
        trajectory_surface(m, snaps[:2], X, y)


def test_connect_models_reports_train_and_test_barriers_consistently():
    from tamelab.landscape import connect_models

    a, X, y = _tiny(6, n=20)
    b = mlp([3, 5, 4, 3], seed=7, dtype=torch.float64)
    Xt, yt = X[12:], y[12:]
    r = connect_models(a, b, X[:12], y[:12], X_test=Xt, T_test=yt, curve_steps=0, points=9)
    ref = interpolate(a, b, Xt, yt, points=9)
    assert r.test_barrier_raw == pytest.approx(ref.barrier_mean, rel=1e-12)
    assert r.test_losses_raw == pytest.approx(ref.losses, rel=1e-12)
    assert r.alignment_function_change < 1e-12 and r.barrier_curve is None
    with torch.no_grad():  # the aligned endpoint is the same function as B
        assert torch.allclose(r.aligned_model(X), b(X), atol=1e-12)
    assert r.losses_aligned[-1] == pytest.approx(r.losses_raw[-1], rel=1e-12)


def _bn_net(seed, shift):
    """Linear-BN-ReLU-Linear in eval mode whose BatchNorm running mean is ``shift`` (a buffer, not a parameter)."""
    from torch import nn

    torch.manual_seed(seed)
    m = nn.Sequential(nn.Linear(3, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2)).double()
    m.eval()
    with torch.no_grad():
        m[1].running_mean.fill_(shift)
    return m


def _bn_data():
    g = torch.Generator().manual_seed(0)
    return torch.randn(40, 3, generator=g, dtype=torch.float64), torch.randint(0, 2, (40,), generator=g)


def test_plane_through_models_with_different_bn_buffers_is_uncertified():
    """The plane moves the parameters only: three BatchNorm models whose running statistics differ do not sit
    on it at their coordinates, and the plane's own check must say so (``uncertified``), while the same three
    models with shared buffers are ``ok``."""
    from tamelab.landscape import plane_through_models

    X, y = _bn_data()
    same = plane_through_models(_bn_net(0, 0.0), _bn_net(1, 0.0), _bn_net(2, 0.0), (X, y), grid=3)
    assert same.status == Status.OK and same.max_model_mismatch < 1e-12
    diff = plane_through_models(_bn_net(0, 0.0), _bn_net(1, 0.7), _bn_net(2, -0.4), (X, y), grid=3)
    assert diff.status == Status.UNCERTIFIED and diff.max_model_mismatch > 1e-3


def test_interpolate_checks_its_end_point_against_b():
    """The line A → B moves the parameters only: with differing BatchNorm running statistics its end point is not
    B, and ``interpolate`` must say so (``uncertified``); with equal buffers the end point is B (``ok``)."""
    from tamelab.landscape import interpolate

    X, y = _bn_data()
    ok = interpolate(_bn_net(0, 0.0), _bn_net(1, 0.0), (X, y), points=5)
    assert ok.status == Status.OK and ok.endpoint_mismatch < 1e-12
    bad = interpolate(_bn_net(0, 0.0), _bn_net(1, 0.8), (X, y), points=5)
    assert bad.status == Status.UNCERTIFIED and bad.endpoint_mismatch > 1e-3


def test_matrix_operator_reference_is_the_matrix():
    """The reference operator the spectral tests use: products are A v (diag(d) v = d * v), each one counted."""
    g = torch.Generator().manual_seed(0)
    A = torch.randn(5, 5, generator=g, dtype=torch.float64)
    v = torch.randn(5, generator=g, dtype=torch.float64)
    op = MatrixOperator(A)
    assert op.shape == (5, 5) and op.dtype == torch.float64
    torch.testing.assert_close(op.matvec(v), A @ v, rtol=0, atol=0)
    d = [3.0, -1.0, 0.5, 2.0, 7.0]
    D = MatrixOperator.diagonal(d)
    torch.testing.assert_close(D.matvec(v), torch.tensor(d, dtype=torch.float64) * v, rtol=0, atol=0)
    D.matvec(v)
    assert op.hvps == 1 and D.hvps == 2
