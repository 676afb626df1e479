"""Atlas section: Hessian spectrum of the model's training loss (Lanczos, trace, SLQ density)."""

from __future__ import annotations

import numpy as np
import torch

from ... import landscape
from ...landscape import CurvatureOperator, slq_density, top_eigenpairs
from ...report import fmt_value
from .._registry import Figure, SectionContent, Table, section


def _trace(run, op, model, X, T) -> tuple[float | None, str]:
    """The Hessian trace and how it was obtained (``hessian_trace`` checks when it is exact)."""
    ht = getattr(landscape, "hessian_trace", None)
    if ht is not None:
        tr = ht(op, seed=run.seed)
        how = "exact" if getattr(tr, "exact", False) else f"estimated ({getattr(tr, 'method', '?')})"
        return float(getattr(tr, "trace", getattr(tr, "estimate", float("nan")))), how
    from ...models import relu_layers

    try:
        relu_layers(model)
    except Exception:  # noqa: BLE001 - not a plain Linear/ReLU MLP: no exact trace without hessian_trace
        return None, "not computed"
    if run.loss.name != "cross_entropy":
        return None, "not computed"
    return float(landscape.ce_ggn_diagonal(model, X, T).sum()), "exact (diagonal GGN of a ReLU network)"


@section("curvature", title="Curvature: Hessian spectrum", order=40, estimate=(6.0, 2.5))
def curvature_section(run) -> SectionContent:
    """The section for ``run``: Hessian spectrum of the model's training loss (Lanczos, trace, SLQ density)."""
    import matplotlib.pyplot as plt

    model = run.model_copy(torch.float64)
    n = min(run.n_train, 512 if run.quick else 2048)
    X, T = run.tensors("train", n=n, dtype=torch.float64)
    op = CurvatureOperator(model, run.loss, (X, T))
    eig = top_eigenpairs(op, 5, tol=1e-6, seed=run.seed)
    lam = [float(v) for v in eig.eigenvalues]
    res = [float(v) for v in eig.residuals]
    rows = [[i + 1, v, r, c] for i, (v, r, c) in enumerate(zip(lam, res, eig.converged, strict=True))]
    summary = {
        "λ_max": lam[0],
        "residual of λ_max": res[0],
        "Hessian-vector products": eig.hvps,
        "parameters": op.n,
        "samples": int(X.shape[0]),
    }
    trace, how = _trace(run, op, model, X, T)
    if trace is not None:
        summary[f"trace ({how})"] = trace
    d = slq_density(op, 30 if run.quick else 80, 1, seed=run.seed)
    fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
    ax.semilogy(d.grid, np.asarray(d.density) + 1e-12)
    ax.set_xlabel("Hessian eigenvalue")
    ax.set_ylabel("spectral density (log scale)")
    ax.set_title("Hessian spectral density (stochastic Lanczos quadrature)")
    fig2, ax2 = plt.subplots(figsize=(7, 3.3), layout="constrained")
    ax2.stem(np.array(d.nodes[0]), np.array(d.weights[0]))
    ax2.set_yscale("log")
    ax2.set_xlabel("Ritz value θ_k (quadrature node)")
    ax2.set_ylabel("quadrature weight τ_k (log scale)")
    ax2.set_title("SLQ nodes and weights (one probe)")
    ok = all(bool(c) for c in eig.converged)
    verdict = (
        f"The training loss is most curved along one direction with eigenvalue λ_max = {fmt_value(lam[0])} "
        f"(certified to ±{fmt_value(res[0])})"
    )
    if trace is not None and trace > 0:
        verdict += (
            f"; the Hessian trace is {fmt_value(trace)}, so the top five directions carry "
            f"{fmt_value(sum(v for v in lam if v > 0) / trace, '%')} of the total curvature"
        )
    verdict += "." if ok else "; not every eigenvalue converged to the tolerance, so they are not all certified."
    return SectionContent(
        "Curvature: Hessian spectrum",
        verdict=verdict,
        summary=summary,
        paragraphs=[
            f"Top eigenvalues of the Hessian of the mean training loss on {int(X.shape[0])} samples by Lanczos "
            "with full re-orthogonalisation; each is certified by its residual ‖Hv − λv‖ (an eigenvalue lies "
            "within the residual of the reported value). The density is stochastic Lanczos quadrature "
            "(Ghorbani et al., arXiv:1901.10159)."
        ],
        tables=[Table(["k", "eigenvalue", "residual", "converged"], rows, "Top-5 Hessian eigenpairs")],
        figures=[
            Figure("density", "Spectral density of the Hessian (Gaussian-smoothed SLQ).", fig=fig),
            Figure("ritz", "SLQ quadrature nodes and weights (one probe).", fig=fig2),
        ],
        data={"eigenvalues": lam, "residuals": res},
        status="ok" if ok else "uncertified",
    )
