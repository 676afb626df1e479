"""Permutation symmetry and alignment (Ainsworth, Hayase & Srinivasa, arXiv:2209.04836); Lanczos vs dense."""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import spearmanr
from torch import nn

from ...landscape import CurvatureOperator, barrier, permute_mlp, top_eigenpairs, weight_matching
from ...models import mlp
from ...testing import dense_hessian
from ...train import fit
from ..._numerics import CLAIM_CLOSED_FORM_TOL, CLAIM_EIGEN_ATOL, CLAIM_EXACT_TOL
from .._registry import ClaimContext, Measured, claim

CE = nn.functional.cross_entropy


@claim(
    "permutation-invariance-function-and-spectrum",
    paper="arXiv:2209.04836",
    statement="Permuting the hidden units of an MLP leaves its function and its Hessian spectrum unchanged.",
    expected={"max_output_change": "< 1e-12", "max_eigenvalue_change": "< 1e-9"},
    tags=("landscape",),
    source="arXiv:2209.04836 §2 (permutation symmetries of hidden units)",
    expected_from="theory",
)
def perm_invariance(ctx: ClaimContext) -> Measured:
    """Claim: Permuting hidden units leaves an MLP's function and Hessian spectrum unchanged."""
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
    return Measured(
        {"max_output_change": dout, "max_eigenvalue_change": de, "n_params": int(e1.numel())},
        dout < CLAIM_EXACT_TOL and de < CLAIM_CLOSED_FORM_TOL,
    )


def _align(model_a, model_b, X):
    """The alignment the claim tests (a module attribute so a test can substitute a wrong one)."""
    return weight_matching(model_a, model_b, X=X).model


def _twin(width: int, epochs: int, seed: int):
    return fit({"widths": [64, width, width, 10], "epochs": epochs, "seed": seed})


@claim(
    "rebasin-aligned-barrier-lower",
    paper="arXiv:2209.04836",
    statement="Loss barriers between independently trained twins after weight matching fall as the width grows, and "
    "alignment removes most of the barrier at the largest width (digits MLPs 64-w-w-10, w swept).",
    expected={
        "spearman(width, aligned barrier)": "<= -0.8",
        "aligned(widest) < aligned(narrowest) / 2": True,
        "aligned < raw at every width": True,
        "aligned(widest) <= 0.25 raw(widest)": True,
    },
    tags=("landscape",),
    source="arXiv:2209.04836 §5 (model width and linear mode connectivity; Fig. 4: the barrier after weight "
    "matching decreases with the width multiplier)",
    expected_from="paper",
)
def rebasin(ctx: ClaimContext) -> Measured:
    """Claim: Barriers between trained twins fall with width and weight matching removes most of them."""
    widths = [32, 128] if ctx.quick else [8, 32, 128, 512]
    ep = 10 if ctx.quick else 20
    raw, ali = [], []
    for w in widths:
        a, b = _twin(w, ep, ctx.seed), _twin(w, ep, ctx.seed + 1)
        X, y = a.train.torch()
        raw.append(barrier(a.model, b.model, (X, y)).barrier_mean)
        ali.append(barrier(a.model, _align(a.model, b.model, X), (X, y)).barrier_mean)
    rho = float(spearmanr(widths, ali).statistic) if len(widths) > 2 else float(np.sign(ali[-1] - ali[0]))
    checks = {
        "falls with width": rho <= -0.8 and ali[-1] < 0.5 * ali[0],
        "aligned < raw at every width": all(x < r for x, r in zip(ali, raw)),
        "aligned(widest) <= 0.25 raw(widest)": ali[-1] <= 0.25 * raw[-1],
    }
    return Measured(
        {
            "widths": widths,
            "epochs": ep,
            "barrier_raw": raw,
            "barrier_aligned": ali,
            "spearman_width_aligned": rho,
            "checks": checks,
        },
        all(checks.values()),
        "mean-endpoint loss barrier on the training split; 2 widths in quick mode (sign of the change)",
    )


@claim(
    "lanczos-topk-equals-dense",
    paper="arXiv:1901.10159",
    statement="Lanczos with full re-orthogonalisation returns the top-k Hessian eigenvalues of the dense spectrum, "
    "each certified by its residual.",
    expected={"max_abs_error": "< 1e-8", "all_converged": True},
    tags=("landscape",),
    source="arXiv:1901.10159 §2 (Lanczos for the Hessian spectrum)",
    expected_from="theory",
)
def lanczos_dense(ctx: ClaimContext) -> Measured:
    """Claim: Certified Lanczos top-k Hessian eigenvalues equal those of the dense spectrum."""
    g = torch.Generator().manual_seed(ctx.seed)
    m = mlp([8, 12, 10, 4], seed=ctx.seed, dtype=torch.float64)
    X, y = torch.randn(60, 8, dtype=torch.float64, generator=g), torch.randint(0, 4, (60,), generator=g)
    op = CurvatureOperator(m, CE, (X, y))
    r = top_eigenpairs(op, 5, tol=1e-9, seed=ctx.seed)
    ref = torch.linalg.eigvalsh(dense_hessian(m, CE, X, y)).numpy()[::-1][:5]
    err = float(np.max(np.abs(np.array(r.eigenvalues) - ref)))
    return Measured(
        {
            "lanczos": r.eigenvalues,
            "dense": ref.tolist(),
            "max_abs_error": err,
            "residuals": r.residuals,
            "hvps": r.hvps,
            "n_params": op.n,
        },
        err < CLAIM_EIGEN_ATOL and all(r.converged),
    )
