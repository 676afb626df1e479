"""Curvature operators, dense references, certified spectra and traces on MLP, LayerNorm/GELU and CNN models."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from tamelab import ComputationError, InputError, Status
from tamelab.errors import NotApplicableError
from tamelab.landscape import (
    CurvatureOperator,
    filter_normalized_direction,
    hessian_trace,
    interpolate,
    loss_surface,
    model_direction,
    plane_through_models,
    second_order_premise,
    slq_density,
    top_eigenpairs,
    trajectory_surface,
)
from tamelab.landscape._eigen import _start
from tamelab.testing import HESSIAN_METHODS, check_symmetric, dense_ggn, dense_hessian

CE = nn.functional.cross_entropy
F64 = torch.float64


# ------------------------------------------------------------------------------------------ model zoo
def ln_gelu(seed=0, d=6, h=5, c=3):
    torch.manual_seed(seed)
    m = nn.Sequential(nn.Linear(d, h), nn.LayerNorm(h), nn.GELU(), nn.Linear(h, c)).double()
    with torch.no_grad():  # an affine LayerNorm that is not the identity (the case torch.func.hessian gets wrong)
        m[1].weight.normal_(1.0, 0.3)
        m[1].bias.normal_(0.0, 0.3)
    return m


def small_cnn(seed=0, c=3):
    """Conv2d + BatchNorm (eval, non-trivial statistics) + ReLU + max-pool + Linear."""
    torch.manual_seed(seed)
    m = nn.Sequential(
        nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2 * 2 * 2, c)
    ).double()
    with torch.no_grad():
        m[1].running_mean.normal_(0.0, 0.2)
        m[1].running_var.uniform_(0.5, 2.0)
        m[1].weight.normal_(1.0, 0.3)
        m[1].bias.normal_(0.0, 0.3)
    return m.eval()


def relu_mlp(seed=0, widths=(4, 6, 5, 3)):
    from tamelab.models import mlp

    return mlp(list(widths), seed=seed, dtype=F64)


def data_for(kind, seed=0, n=9, c=3):
    g = torch.Generator().manual_seed(seed + 1000)
    if kind == "cnn":
        X = torch.randn(n, 1, 6, 6, dtype=F64, generator=g)
    elif kind == "ln":
        X = torch.randn(n, 6, dtype=F64, generator=g)
    else:
        X = torch.randn(n, 4, dtype=F64, generator=g)
    return X, torch.randint(0, c, (n,), generator=g)


ZOO = {"mlp": relu_mlp, "ln": ln_gelu, "cnn": small_cnn}


def zoo(kind, seed=0):
    return ZOO[kind](seed), *data_for(kind, seed)


# ------------------------------------------------------------------------------- item 0: the references
def test_torch_func_hessian_is_wrong_on_affine_layernorm_and_ours_is_not():
    """The bug that made the old reference wrong: keep it visible (if torch fixes it, this documents when)."""
    m, X, y = zoo("ln")
    H = dense_hessian(m, CE, X, y)
    params = dict(m.named_parameters())
    names, shapes = list(params), [p.shape for p in params.values()]
    theta = torch.cat([p.detach().reshape(-1) for p in params.values()])

    def f(t):
        out, i = {}, 0
        for n, s in zip(names, shapes):
            out[n] = t[i : i + s.numel()].view(s)
            i += s.numel()
        return CE(torch.func.functional_call(m, out, (X,)), y)

    Hf = torch.func.hessian(f)(theta)
    assert float((H - H.T).abs().max()) < 1e-14
    if float((Hf - H).abs().max()) > 1e-8:  # torch 2.13: wrong and non-symmetric
        with pytest.raises(ComputationError, match="not symmetric"):
            check_symmetric(Hf)


@pytest.mark.parametrize("kind", ["ln", "cnn", "mlp"])
def test_dense_references_agree_across_three_methods(kind):
    m, X, y = zoo(kind)
    Hs = {
        meth: dense_hessian(m, CE, X, y, method=meth, symmetry_rtol=None if meth == "finite_difference" else 1e-10)
        for meth in HESSIAN_METHODS
    }
    ref = Hs["double_backward"]
    scale = float(ref.abs().max())
    assert scale > 1e-3  # a Hessian worth comparing
    assert float((Hs["jvp_grad"] - ref).abs().max()) <= 1e-12 * max(1.0, scale)
    assert float((Hs["finite_difference"] - ref).abs().max()) <= 1e-7 * max(1.0, scale)
    G = dense_ggn(m, CE, X, y)
    assert float((G - G.T).abs().max()) <= 1e-14 * max(1.0, float(G.abs().max()))
    assert float(torch.linalg.eigvalsh(G).min()) >= -1e-12 * float(G.abs().max())  # PSD for a convex loss


def test_reference_refuses_non_symmetric_and_unknown_method():
    with pytest.raises(ComputationError, match="not symmetric"):
        check_symmetric(torch.tensor([[1.0, 2.0], [2.1, 1.0]], dtype=F64))
    m, X, y = zoo("mlp")
    with pytest.raises(InputError, match="method"):
        dense_hessian(m, CE, X, y, method="func_hessian")


@pytest.mark.parametrize("kind", ["ln", "cnn", "mlp"])
def test_every_product_path_matches_the_double_backward_reference(kind, seed):
    m, X, y = zoo(kind, seed % 7)
    H, G = dense_hessian(m, CE, X, y), dense_ggn(m, CE, X, y)
    V = torch.randn(H.shape[0], 3, dtype=F64, generator=torch.Generator().manual_seed(seed))
    tol = 1e-11 * max(1.0, float(H.abs().max()))
    for hvp in CurvatureOperator.HVP_METHODS:
        op = CurvatureOperator(m, CE, (X, y), hvp=hvp)
        if hvp == "rop" and op.path != "mlp-rop":
            continue  # the R-operator exists for Linear/ReLU MLPs only (tested to refuse others below)
        assert float((op.matmat(V) - H @ V).abs().max()) <= tol, (kind, hvp, op.path)
        assert float((op.matvec(V[:, 0]) - H @ V[:, 0]).abs().max()) <= tol, (kind, hvp)
    gop = CurvatureOperator(m, CE, (X, y), kind="ggn")
    assert float((gop.matmat(V) - G @ V).abs().max()) <= 1e-11 * max(1.0, float(G.abs().max()))
    two = CurvatureOperator(m, CE, [(X[:4], y[:4]), (X[4:], y[4:])])  # size-weighted batches
    assert float((two.matmat(V) - H @ V).abs().max()) <= tol


# ------------------------------------------------------------------------ item 2/4: certified spectra


class RotatedDiag:
    """H = G diag(d) Gᵀ with G a product of Givens rotations in given coordinate planes (cheap products,
    eigenvectors G e_i known); ``noise`` adds a random error of that size to every product."""

    def __init__(self, d, rotations=(), noise=0.0, dtype=F64, seed=0):
        self.d = torch.as_tensor(np.asarray(d), dtype=dtype)
        self.n = len(self.d)
        self.shape, self.dtype, self.hvps = (self.n, self.n), dtype, 0
        self.rot = list(rotations)  # (i, j, c, s)
        self.noise, self.g = noise, torch.Generator().manual_seed(seed)

    def _apply(self, v, transpose):
        v = v.clone()
        for i, j, c, s in reversed(self.rot) if not transpose else self.rot:
            s = -s if transpose else s
            a, b = v[..., i].clone(), v[..., j].clone()
            v[..., i], v[..., j] = c * a - s * b, s * a + c * b
        return v

    def matvec(self, v):
        self.hvps += 1
        out = self._apply(self.d * self._apply(v, True), False)
        if self.noise:
            out = out + self.noise * torch.randn(self.n, generator=self.g, dtype=self.dtype) / self.n**0.5
        return out

    def dense(self):
        return torch.stack([self.matvec(e) for e in torch.eye(self.n, dtype=self.dtype)], 1)


def hide_from_start(d, hidden, partner, seed, block=1):
    """Rotate eigenvector ``hidden`` into the plane (hidden, partner) so that it is orthogonal to the solver's first
    start vector (seed ``seed``): the Krylov space of that vector never sees it."""
    v0 = _start(len(d), block, seed, 0, F64, torch.device("cpu"))[0]
    a, b = float(v0[hidden]), float(v0[partner])
    r = (a * a + b * b) ** 0.5
    c, s = b / r, -a / r  # G e_hidden = (c, s) in the plane, orthogonal to (a, b)
    return (hidden, partner, c, s)


def test_repeated_smallest_eigenvalue_is_found_twice():
    n = 3000
    d = np.r_[-5, -5, 0.5, np.linspace(3, 9, n - 3)]
    r = top_eigenpairs(RotatedDiag(d), 2, which="smallest", tol=1e-8, seed=0)
    assert r.status == Status.OK and np.allclose(r.eigenvalues, [-5, -5], atol=1e-7), (r.eigenvalues, r.notes)
    assert r.extremality == "probabilistic" and r.separated and r.extremality_bound > -5 + r.block_radius
    # (in float64 rounding may let the Krylov space see the second copy; otherwise the check finds it)
    assert r.checks >= 1 and (r.checks == 1 or "missed" in r.notes[0])


def test_repeated_largest_eigenvalue_is_found_twice():
    n = 3000
    d = np.r_[10, 10, 9.9, np.linspace(0, 9.8, n - 3)]
    r = top_eigenpairs(RotatedDiag(d), 2, tol=1e-8, seed=0)
    assert r.status == Status.OK and np.allclose(r.eigenvalues, [10, 10], atol=1e-7), (r.eigenvalues, r.notes)
    assert r.extremality == "probabilistic"


def test_smallest_eigenvector_orthogonal_to_the_start_vector_is_found(seed):
    n = 3000
    d = np.r_[-5, 0.5, np.linspace(3, 9, n - 2)]
    op = RotatedDiag(d, [hide_from_start(d, 0, 1, seed)])
    v0 = _start(n, 1, seed, 0, F64, torch.device("cpu"))[0]
    h = op._apply(torch.eye(n, dtype=F64)[0], False)
    assert abs(float(h @ v0)) < 1e-12 and float((op.matvec(h) + 5 * h).norm()) < 1e-12  # really hidden
    r = top_eigenpairs(op, 1, which="smallest", tol=1e-8, seed=seed)
    assert r.status == Status.OK and r.eigenvalues[0] == pytest.approx(-5, abs=1e-7), (r.eigenvalues, r.notes)
    # (rounding may let the Krylov space see it after all; otherwise the check found it:)
    assert r.checks == 1 or "missed" in r.notes[0]


def test_a_start_vector_blind_to_the_extremes_is_caught_by_the_check():
    """Exact arithmetic on a diagonal operator: a start vector with zeros on the extreme coordinates keeps
    them zero in every Krylov vector, so only the deflated check can find -5 (twice) and 10."""
    n = 2000
    d = np.r_[-5, -5, 10, -1, np.linspace(1, 2, n - 4)]
    v0 = torch.ones(n, dtype=F64)
    v0[:3] = 0.0
    r = top_eigenpairs(RotatedDiag(d), 2, which="smallest", tol=1e-9, seed=1, v0=v0)
    assert r.status == Status.OK and np.allclose(r.eigenvalues, [-5, -5], atol=1e-8), (r.eigenvalues, r.notes)
    assert r.checks >= 2 and "missed" in r.notes[0] and r.separated
    top = top_eigenpairs(RotatedDiag(d), 1, tol=1e-9, seed=1, v0=v0)
    assert top.status == Status.OK and top.eigenvalues[0] == pytest.approx(10, abs=1e-8)
    off = top_eigenpairs(RotatedDiag(d), 1, which="smallest", tol=1e-9, seed=1, v0=v0, check=False)
    assert off.extremality == "not checked" and off.eigenvalues[0] == pytest.approx(-1, abs=1e-8)  # an eigenpair,
    # certified as such, but not the extreme one: that is what "not checked" says


@pytest.mark.parametrize("which", ["largest", "smallest"])
def test_randomised_adversarial_spectra_give_the_truth_or_refuse(which, seed):
    """Random spectra with repeated extremes (multiplicity 1-3) whose eigenvectors partly hide from the start
    vector: the answer matches the dense spectrum within the certified radii, or the status is not ok."""
    rng = np.random.default_rng(seed)
    for trial in range(3):
        n = int(rng.integers(150, 300))
        k = int(rng.integers(1, 4))
        d = rng.uniform(-1, 1, n)
        mult = int(rng.integers(1, 4))
        ext = 1.5 if which == "largest" else -1.5
        idx = rng.choice(n, size=mult + 1, replace=False)
        d[idx[:mult]] = ext  # a repeated extreme
        hidden = [hide_from_start(d, int(idx[0]), int(idx[-1]), seed + trial)] if rng.random() < 0.7 else []
        op = RotatedDiag(d, hidden)
        r = top_eigenpairs(op, k, which=which, tol=1e-9, seed=seed + trial)
        ev = np.sort(d)[::-1] if which == "largest" else np.sort(d)
        if r.status == Status.OK:
            assert np.all(np.abs(np.array(r.eigenvalues) - ev[:k]) <= np.array(r.radii) + 1e-12), (
                trial,
                r.eigenvalues,
                ev[:k],
                r.notes,
            )
            if r.separated:  # the bound on everything not found really holds
                sgn = 1 if which == "largest" else -1
                assert sgn * ev[k] <= sgn * r.extremality_bound + 1e-12 if k < n else True


def test_certificate_fields_prove_what_they_say(seed):
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((120, 120)))
    lam = np.r_[3.0, 2.0, 2.0, rng.uniform(-1, 1, 117)]
    A = torch.tensor(U @ np.diag(lam) @ U.T)
    r = top_eigenpairs(A, 3, tol=1e-10, seed=seed)
    assert r.status == Status.OK
    ev = np.sort(lam)[::-1]
    # each θ within its radius of an eigenvalue; Kahan: the 3 values pair with 3 distinct eigenvalues
    assert all(min(abs(t - ev)) <= rad for t, rad in zip(r.eigenvalues, r.radii))
    assert np.max(np.abs(np.sort(r.eigenvalues)[::-1] - ev[:3])) <= r.block_radius
    V = r.eigenvectors
    true = (A @ V - V * torch.tensor(r.eigenvalues, dtype=F64)).norm(dim=0).numpy()
    assert np.allclose(true, r.residuals, rtol=1e-6, atol=1e-13)
    assert r.hvps == r.krylov_dim + 1 + r.check_hvps  # residuals from stored products: no extra product


def test_tolerance_below_the_float32_floor_is_raised_and_said():
    m, X, y = zoo("mlp", 1)
    op32 = CurvatureOperator(m, CE, (X, y), dtype="float32")  # a float32 copy: m stays float64
    r = top_eigenpairs(op32, 3, tol=1e-12, seed=0)
    assert r.status == Status.OK and r.tol_raised and any("below the achievable" in s for s in r.notes)
    assert r.floor > 1e-12 * max(abs(x) for x in r.eigenvalues) and r.noise > 0
    ev = torch.linalg.eigvalsh(dense_hessian(m, CE, X, y)).numpy()[::-1]
    assert np.all(np.abs(np.array(r.eigenvalues) - ev[:3]) <= np.array(r.radii))  # radii hold against float64
    r64 = top_eigenpairs(CurvatureOperator(m, CE, (X, y)), 3, tol=1e-12, seed=0)
    assert r64.status == Status.OK and r64.floor < 1e-3 * r.floor


def test_stagnating_residuals_end_with_an_honest_status():
    class Drifting(RotatedDiag):  # exact on the first products (the noise test), noisy afterwards
        def matvec(self, v):
            self.noise = 1e-6 if self.hvps >= 4 else 0.0
            return super().matvec(v)

    d = np.r_[2.0, np.linspace(-1, 1, 399)]
    r = top_eigenpairs(Drifting(d), 1, tol=1e-12, seed=0, max_hvps=400)
    assert r.status == Status.NOT_CONVERGED and not r.converged[0]
    assert any("stagnated" in s or "budget" in s for s in r.notes)


def test_thick_restart_small_basis_block_and_no_stored_products_agree(seed):
    rng = np.random.default_rng(seed)
    d = np.r_[np.linspace(1.0, 0.9, 6), rng.uniform(-1, 0.85, 994)]
    ev = np.sort(d)[::-1][:4]
    full = top_eigenpairs(RotatedDiag(d), 4, tol=1e-9, seed=seed)
    small = top_eigenpairs(RotatedDiag(d), 4, tol=1e-9, seed=seed, max_dim=24, max_hvps=3000)
    block = top_eigenpairs(RotatedDiag(d), 4, tol=1e-9, seed=seed, block_size=3)
    nostore = top_eigenpairs(RotatedDiag(d), 4, tol=1e-9, seed=seed, keep_products=False)
    for r in (full, small, block, nostore):
        assert r.status == Status.OK, r.notes
        assert np.all(np.abs(np.array(r.eigenvalues) - ev) <= np.array(r.radii))
    assert small.restarts > 0 and small.krylov_dim <= 24
    assert block.block_size >= 3 and nostore.hvps > nostore.krylov_dim + 1 + nostore.check_hvps


def test_invalid_arguments_are_one_line_input_errors():
    A = torch.eye(5, dtype=F64)
    for kw, field in [
        ({"k": 0}, "k"),
        ({"which": "both"}, "which"),
        ({"tol": 0}, "tol"),
        ({"block_size": 0}, "block_size"),
        ({"failure_probability": 1.5}, "failure_probability"),
    ]:
        with pytest.raises(InputError, match=field):
            top_eigenpairs(A, **{"k": 1, **kw})
    with pytest.raises(InputError, match="memory_limit"):
        top_eigenpairs(torch.eye(5000, dtype=F64), 3, memory_limit=1e4)


# ------------------------------------------------------------------------------- item 3: exact trace


class ResBlock(nn.Module):
    def __init__(self, c=2):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        return torch.relu(x + self.bn(self.conv(x)))


def tiny_resnet(seed=0):
    torch.manual_seed(seed)
    m = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), ResBlock(2), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(2 * 3 * 3, 3)
    ).double()
    with torch.no_grad():
        m[2].bn.running_var.uniform_(0.5, 2.0)
        m[2].bn.weight.normal_(1.0, 0.3)
    return m.eval()


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.out = nn.Linear(4, 3)

    def forward(self, x):
        return self.out(torch.relu(self.lin(torch.relu(self.lin(x)))))


class Squared(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 3)

    def forward(self, x):
        h = self.lin(x)
        return h * h


PWL_ZOO = {
    "mlp": lambda s: (relu_mlp(s), *data_for("mlp", s)),
    "cnn": lambda s: (small_cnn(s), *data_for("cnn", s)),
    "resnet": lambda s: (tiny_resnet(s), *data_for("cnn", s)),
}
NON_PWL = {
    "tanh": lambda: nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3)),
    "layernorm": lambda: nn.Sequential(nn.Linear(4, 5), nn.LayerNorm(5), nn.ReLU(), nn.Linear(5, 3)),
    "gelu": lambda: nn.Sequential(nn.Linear(4, 5), nn.GELU(), nn.Linear(5, 3)),
    "softplus": lambda: nn.Sequential(nn.Linear(4, 5), nn.Softplus(), nn.Linear(5, 3)),
    "tied": Tied,
    "squared": Squared,
    "bn-train": lambda: nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 3)).train(),
}


@pytest.mark.parametrize("arch", list(PWL_ZOO))
def test_exact_trace_on_piecewise_linear_models_equals_the_dense_hessian_trace(arch, seed):
    m, X, y = PWL_ZOO[arch](seed % 5)
    ok, why = second_order_premise(m)
    assert ok, why
    truth = float(torch.trace(dense_hessian(m, CE, X, y)))
    r = hessian_trace(m, (X, y), "cross_entropy", hvps=3)  # tiny budget: no unit-vector shortcut
    assert r.exact and r.method == "ggn-diagonal" and r.stderr == 0.0 and r.hvps == 0
    assert r.trace == pytest.approx(truth, rel=1e-10, abs=1e-12)
    mse = hessian_trace(m, (X, torch.nn.functional.one_hot(y, 3).double()), "mse", hvps=3)
    truth_mse = float(torch.trace(dense_hessian(m, "mse", X, torch.nn.functional.one_hot(y, 3).double())))
    assert mse.exact and mse.trace == pytest.approx(truth_mse, rel=1e-10, abs=1e-12)


def test_the_issue_counterexamples_are_no_longer_labelled_exact():
    from tamelab.landscape import ce_ggn_diagonal

    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(30, 4, dtype=F64, generator=g), torch.randint(0, 3, (30,), generator=g)
    for name in ("tanh", "layernorm"):
        torch.manual_seed(0)
        m = NON_PWL[name]().double()
        truth = float(torch.trace(dense_hessian(m, CE, X, y)))
        ggn = float(ce_ggn_diagonal(m, X, y).sum())
        assert abs(ggn - truth) > 1e-6  # the GGN diagonal is not the Hessian trace here ...
        r = hessian_trace(m, (X, y), CE, hvps=30, seed=1)  # n = 43 / 53 > 30: stochastic
        assert not r.exact and r.method == "hutch++" and r.stderr > 0 and name.split("n")[0] in r.premise.lower()
        assert abs(r.trace - truth) <= 6 * r.stderr
        ex = hessian_trace(m, (X, y), CE, hvps=60)  # ... while n ≤ hvps: exact by unit vectors
        assert ex.exact and ex.method == "unit-vectors" and ex.trace == pytest.approx(truth, rel=1e-10)
        with pytest.raises(NotApplicableError, match="premise"):
            hessian_trace(m, (X, y), CE, method="exact", hvps=10)
        with pytest.raises(NotApplicableError, match="not the Hessian trace"):
            hessian_trace(m, (X, y), CE, method="ggn-diagonal")


@pytest.mark.parametrize("name", list(NON_PWL))
def test_randomised_non_pwl_models_never_get_the_exact_ggn_label(name, seed):
    torch.manual_seed(seed)
    m = NON_PWL[name]().double()
    ok, why = second_order_premise(m)
    assert not ok and why
    g = torch.Generator().manual_seed(seed)
    X, y = torch.randn(12, 4, dtype=F64, generator=g), torch.randint(0, 3, (12,), generator=g)
    if name == "bn-train":
        return  # (train-mode BN: refused by the premise; the operator itself is fine but not asked here)
    r = hessian_trace(m, (X, y), CE, hvps=9, seed=seed)
    assert r.method != "ggn-diagonal" and not r.exact and r.stderr > 0


def test_trace_from_an_operator_and_the_premise_for_subsets_and_other_losses():
    m, X, y = zoo("mlp")
    truth = float(torch.trace(dense_hessian(m, CE, X, y)))
    op = CurvatureOperator(m, CE, (X, y))
    assert hessian_trace(op).trace == pytest.approx(truth, rel=1e-10)
    sub = CurvatureOperator(m, CE, (X, y), params=["0.weight"])
    r = hessian_trace(sub, hvps=3, seed=0)
    assert not r.exact and "subset" in r.premise
    nll = hessian_trace(nn.Sequential(m, nn.LogSoftmax(1)), (X, y), "nll", hvps=3)
    assert not nll.exact
    with pytest.raises(InputError, match="method"):
        hessian_trace(op, method="exactish")


# ---------------------------------------------------------------------- item 6: the input contract


class DictSet(Dataset):
    def __init__(self, X, y):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return {"image": self.X[i], "label": self.y[i]}


def data_forms(X, y):
    """The same data as tensors, NumPy, a shuffled dict-batch DataLoader and a list of tuple batches."""
    return {
        "tuple": (X, y),
        "numpy": (X.numpy(), y.numpy()),
        "dict-loader": DataLoader(DictSet(X, y), batch_size=4, shuffle=True),
        "batches": [(X[:5], y[:5]), (X[5:], y[5:])],
    }


def my_ce(out, t):  # a user callable
    return nn.functional.cross_entropy(out, t)


@pytest.mark.parametrize("arch", ["mlp", "ln", "cnn"])
def test_every_public_function_takes_every_data_form_and_a_callable_loss(arch):
    m, X, y = zoo(arch, 2)
    before = [p.detach().clone() for p in m.parameters()]
    ref_op = CurvatureOperator(m, "cross_entropy", (X, y))
    v = torch.randn(ref_op.n, dtype=F64, generator=torch.Generator().manual_seed(0))
    Hv = ref_op.matvec(v)
    ref_eig = top_eigenpairs(ref_op, 2, tol=1e-8, seed=0)
    ref_tr = hessian_trace(m, (X, y), "cross_entropy", hvps=3, seed=0)
    d = [filter_normalized_direction(m, seed=s) for s in (1, 2)]
    ref_surf = loss_surface(m, X, y, grid=3, span=0.5, directions=d)
    for form, data in data_forms(X, y).items():
        for loss in ("cross_entropy", my_ce, nn.CrossEntropyLoss()):
            op = CurvatureOperator(m, loss, data)
            assert torch.allclose(op.matvec(v), Hv, atol=1e-12), (form, loss)
        eig = top_eigenpairs(m, 2, data=data, loss=my_ce, tol=1e-8, seed=0)
        assert eig.status == Status.OK and np.allclose(eig.eigenvalues, ref_eig.eigenvalues, atol=1e-9), form
        tr = hessian_trace(m, data, "cross_entropy", hvps=3, seed=0)
        assert tr.trace == pytest.approx(ref_tr.trace, rel=1e-9, abs=1e-12) and tr.exact == ref_tr.exact, form
        user = hessian_trace(m, data, my_ce, hvps=3, seed=0)  # an opaque callable: no GGN factor is assumed
        assert not user.exact and "loss" in user.premise or arch == "ln"
        dens = slq_density(m, 5, data=data, loss="cross_entropy", seed=0)
        assert abs(sum(dens.weights[0]) - 1) < 1e-12
        surf = loss_surface(m, data, loss=my_ce, grid=3, span=0.5, directions=d)
        assert np.allclose(surf.losses, ref_surf.losses, rtol=1e-12), form
        assert np.array_equal(np.array(surf.accuracies), np.array(ref_surf.accuracies)), form
    assert all(torch.equal(p, q) for p, q in zip(m.parameters(), before))  # the caller's model is untouched


def test_slices_take_named_and_callable_losses_and_loaders_without_targets():
    m, X, y = zoo("mlp", 3)
    m2 = ZOO["mlp"](4)
    d = [filter_normalized_direction(m, seed=s) for s in (1, 2)]
    logm = nn.Sequential(m, nn.LogSoftmax(dim=1))
    nll = loss_surface(
        logm, X, y, loss="nll", grid=3, span=0.3, directions=[{f"0.{k}": v for k, v in di.items()} for di in d]
    )
    ce = loss_surface(m, X, y, loss="cross_entropy", grid=3, span=0.3, directions=d)
    assert np.allclose(nll.losses, ce.losses, rtol=1e-12)  # nll of log-softmax = cross-entropy (was MSE before)

    def sq(o, t):
        return ((o - nn.functional.one_hot(t, 3)) ** 2).sum(1).mean()

    r = loss_surface(m, X, y, loss=sq, grid=3, span=0.3, directions=d)
    with torch.no_grad():
        want = float(
            sq(
                torch.func.functional_call(
                    m, {k: v + 0.3 * d[0][k] - 0.3 * d[1][k] for k, v in m.named_parameters()}, (X,)
                ),
                y,
            )
        )
    assert r.losses[2][0] == pytest.approx(want, rel=1e-12)
    loader = DataLoader(DictSet(X, y), batch_size=5)
    assert np.allclose(loss_surface(m, loader, None, grid=3, span=0.3, directions=d).losses, ce.losses, rtol=1e-12)
    it = interpolate(m, m2, loader, loss=my_ce, points=5, refine=False)
    it_ref = interpolate(m, m2, X, y, points=5, refine=False)
    assert np.allclose(it.losses, it_ref.losses, rtol=1e-12)
    c = ZOO["mlp"](5)
    pl = plane_through_models(m, m2, c, (X.numpy(), y.numpy()), loss=my_ce, grid=3)
    assert pl.max_model_mismatch < 1e-12
    snaps = [{k: v + t * model_direction(m, m2)[k] for k, v in m.named_parameters()} for t in (1.0, 0.6, 0.3, 0.1, 0.0)]
    snaps[1] = {k: v + 0.1 for k, v in snaps[1].items()}
    ts = trajectory_surface(m, snaps, loader, loss="cross_entropy", grid=3)
    assert ts.status == Status.OK
    with pytest.raises(InputError, match="loss"):
        loss_surface(m, X, y, loss="hinge")
    with pytest.raises(InputError, match="labels"):
        loss_surface(m, X, torch.randn(len(X), 3, dtype=F64), loss="cross_entropy")
    with pytest.raises(InputError, match="device"):
        loss_surface(m, X, y, device="tpu")
    f32 = loss_surface(m, X, y, grid=3, span=0.3, directions=d, dtype="float32")
    assert np.allclose(f32.losses, ce.losses, rtol=1e-5) and next(m.parameters()).dtype == F64


def test_operator_device_dtype_and_scipy_export():
    m, X, y = zoo("cnn", 1)
    op = CurvatureOperator(m, "cross_entropy", (X.numpy(), y.numpy()), device="cpu", dtype="float32")
    assert op.dtype == torch.float32 and op.device.type == "cpu" and next(m.parameters()).dtype == F64
    L = op.to_scipy()
    x = np.random.default_rng(0).standard_normal(op.n).astype(np.float32)
    H = dense_hessian(m, CE, X, y)
    assert np.allclose(L @ x, (H @ torch.tensor(x, dtype=F64)).numpy(), atol=1e-4)
    assert np.allclose(L.matmat(np.stack([x, 2 * x], 1))[:, 1], 2 * (L @ x), atol=1e-4)
    with pytest.raises(InputError, match="device"):
        CurvatureOperator(m, "cross_entropy", (X, y), device="cuda:7" if not torch.cuda.is_available() else "tpu")
    with pytest.raises(InputError, match="dtype"):
        CurvatureOperator(m, "cross_entropy", (X, y), dtype="int8")
    with pytest.raises(InputError, match="loss"):
        CurvatureOperator(m, "crossentropy2", (X, y))
    with pytest.raises(InputError, match="data"):
        top_eigenpairs(m, 2)


def test_float32_radii_contain_the_float64_eigenvalues_on_a_real_network(seed):
    """The float32 product error is mostly linear in v (a float32 forward state): the radii must account for it
    (measured against the operator's float64 twin), not only for the linearity defect."""
    from tamelab.models import mlp

    m = mlp([64, 48, 48, 10], seed=seed % 5, dtype=F64)
    g = torch.Generator().manual_seed(seed)
    X, y = torch.rand(400, 64, dtype=F64, generator=g), torch.randint(0, 10, (400,), generator=g)
    r32 = top_eigenpairs(CurvatureOperator(m, CE, (X, y), dtype="float32"), 3, tol=1e-7, seed=seed)
    r64 = top_eigenpairs(CurvatureOperator(m, CE, (X, y)), 3, tol=1e-11, seed=seed)
    assert r64.status == Status.OK and r32.noise_relative > 1e-9  # the twin saw the float32 error
    if r32.status == Status.OK:
        err = np.abs(np.array(r32.eigenvalues) - np.array(r64.eigenvalues))
        assert np.all(err <= np.array(r32.radii) + np.array(r64.radii)), (err, r32.radii)
        assert r32.block_radius >= max(r32.residuals)
