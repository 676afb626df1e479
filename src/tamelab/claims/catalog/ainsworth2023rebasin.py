"""Permutation symmetry and alignment (Ainsworth, Hayase & Srinivasa, arXiv:2209.04836); Lanczos vs dense."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ...landscape import CurvatureOperator, interpolate, permute_mlp, top_eigenpairs, weight_matching
from ...models import mlp
from ...testing import dense_hessian
from ...train import fit
from .._registry import ClaimContext, Measured, claim

CE = nn.functional.cross_entropy


@claim(
    "permutation-invariance-function-and-spectrum",
    paper="arXiv:2209.04836",
    statement="Permuting the hidden units of an MLP leaves its function and its Hessian spectrum unchanged.",
    expected={"max_output_change": "< 1e-12", "max_eigenvalue_change": "< 1e-9"},
    tags=("landscape",),
)
def perm_invariance(ctx: ClaimContext) -> Measured:
    g = torch.Generator().manual_seed(ctx.seed)
    m = mlp([6, 8, 7, 3], seed=ctx.seed, dtype=torch.float64)
    X, y = torch.randn(40, 6, dtype=torch.float64, generator=g), torch.randint(0, 3, (40,), generator=g)
    rng = np.random.default_rng(ctx.seed)
    b = permute_mlp(m, [rng.permutation(8), rng.permutation(7)])
    with torch.no_grad():
        dout = float((m(X) - b(X)).abs().max())
    e1 = torch.linalg.eigvalsh(dense_hessian(m, CE, X, y))
    e2 = torch.linalg.eigvalsh(dense_hessian(b, CE, X, y))
    de = float((e1 - e2).abs().max())
    return Measured({"max_output_change": dout, "max_eigenvalue_change": de, "n_params": int(e1.numel())}, dout < 1e-12 and de < 1e-9)


@claim(
    "rebasin-aligned-barrier-lower",
    paper="arXiv:2209.04836",
    statement="After weight matching, the loss barrier on the linear path between two independently trained digits MLPs "
    "is lower than before alignment.",
    expected={"barrier_aligned < barrier_raw": True},
    tags=("landscape",),
)
def rebasin(ctx: ClaimContext) -> Measured:
    ep = 5 if ctx.quick else 20
    a = fit({"widths": [64, 64, 10], "epochs": ep, "seed": ctx.seed})
    b = fit({"widths": [64, 64, 10], "epochs": ep, "seed": ctx.seed + 1})
    X, y = a.train.torch()
    al = weight_matching(a.model, b.model, X=X)
    raw, ali = interpolate(a.model, b.model, X, y), interpolate(a.model, al.model, X, y)
    return Measured({"barrier_raw": raw.barrier_mean, "barrier_aligned": ali.barrier_mean, "accuracy_barrier_raw": raw.accuracy_barrier,
                     "accuracy_barrier_aligned": ali.accuracy_barrier, "sweeps": al.sweeps, "function_change": al.max_function_change},
                    ali.barrier_mean < raw.barrier_mean)


@claim(
    "lanczos-topk-equals-dense",
    paper="arXiv:1901.10159",
    statement="Lanczos with full re-orthogonalisation returns the top-k Hessian eigenvalues of the dense spectrum, each "
    "certified by its residual.",
    expected={"max_abs_error": "< 1e-8", "all_converged": True},
    tags=("landscape",),
)
def lanczos_dense(ctx: ClaimContext) -> Measured:
    g = torch.Generator().manual_seed(ctx.seed)
    m = mlp([8, 12, 10, 4], seed=ctx.seed, dtype=torch.float64)
    X, y = torch.randn(60, 8, dtype=torch.float64, generator=g), torch.randint(0, 4, (60,), generator=g)
    op = CurvatureOperator(m, CE, (X, y))
    r = top_eigenpairs(op, 5, tol=1e-9, seed=ctx.seed)
    ref = torch.linalg.eigvalsh(dense_hessian(m, CE, X, y)).numpy()[::-1][:5]
    err = float(np.max(np.abs(np.array(r.eigenvalues) - ref)))
    return Measured({"lanczos": r.eigenvalues, "dense": ref.tolist(), "max_abs_error": err, "residuals": r.residuals,
                     "hvps": r.hvps, "n_params": op.n}, err < 1e-8 and all(r.converged))
