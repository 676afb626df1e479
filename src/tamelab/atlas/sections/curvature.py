"""Atlas section: Hessian spectrum of the trained model (Lanczos, exact trace, SLQ density)."""

from __future__ import annotations

import copy

import numpy as np
import torch

from ...landscape import CurvatureOperator, ce_ggn_diagonal, slq_density, top_eigenpairs
from .._registry import Figure, SectionContent, Table, fig_to_png, section


@section("curvature", title="Curvature: Hessian spectrum", order=40)
def curvature_section(run) -> SectionContent:
    import matplotlib.pyplot as plt

    model = copy.deepcopy(run.model).double().eval()
    X, T = run.train.torch(torch.float64)
    if run.loss != "cross_entropy":
        T = T.double()
    op = CurvatureOperator(model, run.loss_fn(), (X, T))
    eig = top_eigenpairs(op, 5, tol=1e-6, seed=run.seed)
    rows = [[i + 1, l, r, c] for i, (l, r, c) in enumerate(zip(eig.eigenvalues, eig.residuals, eig.converged))]
    summary = {"λ_max": eig.eigenvalues[0], "eigen HVPs": eig.hvps, "parameters": op.n}
    if run.loss == "cross_entropy":
        summary["trace (exact, diag GGN)"] = float(ce_ggn_diagonal(model, X, T).sum())
    d = slq_density(op, 30 if run.quick else 80, 1, seed=run.seed)
    fig, ax = plt.subplots(figsize=(7, 3.4))
    ax.semilogy(d.grid, d.density + 1e-12)
    ax.set_xlabel("eigenvalue"); ax.set_ylabel("density"); ax.set_title("Hessian spectral density (SLQ)")
    fig2, ax2 = plt.subplots(figsize=(7, 3.2))
    ax2.stem(np.array(d.nodes[0]), np.array(d.weights[0]))
    ax2.set_yscale("log"); ax2.set_xlabel("Ritz value θ_k"); ax2.set_ylabel("weight τ_k")
    return SectionContent(
        "Curvature: Hessian spectrum", summary=summary,
        paragraphs=["Top eigenvalues of the Hessian of the training loss by Lanczos with full re-orthogonalisation; each "
                    "is certified by its residual ‖Hv − λv‖. For a ReLU network with cross-entropy the Hessian diagonal equals "
                    "the GGN diagonal almost everywhere, so the trace is exact (no sampling error). The density is stochastic "
                    "Lanczos quadrature (Ghorbani et al., arXiv:1901.10159)."],
        tables=[Table(["k", "eigenvalue", "residual", "converged"], rows, "Top-5 Hessian eigenpairs")],
        figures=[Figure("density", "Spectral density (Gaussian-smoothed SLQ).", fig_to_png(fig)),
                 Figure("ritz", "SLQ nodes and weights (one probe).", fig_to_png(fig2))],
        data={"eigenvalues": eig.eigenvalues},
    )
