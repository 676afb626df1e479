"""Curvature operators, dense references, certified spectra and traces on MLP, LayerNorm/GELU and CNN models."""

import numpy as np
import pytest
import torch
from torch import nn

from tamelab import ComputationError, InputError, Status
from tamelab.landscape import CurvatureOperator
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
    m = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                      nn.Linear(2 * 2 * 2, c)).double()
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
            out[n] = t[i:i + s.numel()].view(s)
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
    Hs = {meth: dense_hessian(m, CE, X, y, method=meth, symmetry_rtol=None if meth == "finite_difference" else 1e-10)
          for meth in HESSIAN_METHODS}
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
