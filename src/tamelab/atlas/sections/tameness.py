"""Atlas section: tameness certificate of the trained network + loss, and Goldstein ε-stationarity of the final weights."""

from __future__ import annotations

import numpy as np
import torch

from ...tame import certify, stationarity
from .._registry import Figure, SectionContent, Table, fig_to_png, section


@section("tameness", title="Tameness certificate and nonsmooth stationarity", order=20)
def tameness_section(run) -> SectionContent:
    import matplotlib.pyplot as plt

    q = run.quick
    dtype = next(run.model.parameters()).dtype
    cert = certify(run.model, torch.zeros(2, run.train.d, dtype=dtype), loss=run.loss)
    rows = [[o["node"], o["target"], o["global"], o["local"], "yes" if o["locally_lipschitz"] else "no", o["reason"]]
            for o in cert.ops]
    tables = [Table(["node", "op", "global", "local", "loc. Lipschitz", "why"], rows,
                    f"Per-op definability facts (traced with {cert.tracer}); the program is definable in their join.")]
    eps_list = [1e-3, 1e-1] if q else [1e-4, 1e-3, 1e-2, 1e-1]
    m = 16 if q else 100
    ds = run.train if not q else run.train.subset(np.arange(min(run.train.n, 400)))
    st = {e: stationarity(run.model, ds, loss=run.loss, eps=e, m=m, seed=run.seed) for e in eps_list}
    tables.append(Table(["ε", "ρ_ε (≥ dist(0, ∂_ε F))", "‖∇F(θ)‖ (AD)", "duality gap", "samples", "resampled (kinks)"],
                        [[e, r.rho, r.grad_norm_center, r.qp.get("duality_gap"), r.m, r.resampled] for e, r in st.items()],
                        f"Gradient-sampling certificate at the final weights, full-batch loss on {ds.n} training points "
                        f"(seed {run.seed})."))
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.loglog(eps_list, [max(st[e].rho, 1e-300) for e in eps_list], "o-", label="ρ_ε (min-norm of sampled hull)")
    ax.axhline(st[eps_list[0]].grad_norm_center or 0, color="k", ls="--", lw=1, label="‖AD gradient at θ‖")
    ax.set_xlabel("ε (parameter space)"); ax.set_ylabel("stationarity measure"); ax.legend(fontsize=7)  # noqa: E702
    ax.set_title("Goldstein ε-stationarity of the trained network", fontsize=9)
    summary = {"definable in": cert.structure, "locally (tame)": cert.local_structure,
               "locally Lipschitz": cert.locally_lipschitz, "polynomially bounded": cert.poly_bounded,
               **{f"ρ_ε, ε={e:g}": r.rho for e, r in st.items()}}
    paras = [f"The traced program loss(model(x), y) is definable in {cert.structure}: {cert.why}. Definability, local "
             "Lipschitz continuity and a finite-sum loss are the hypotheses under which Davis–Drusvyatskiy–Kakade–Lee "
             "(arXiv:1804.07795) and Bolte–Pauwels (arXiv:1909.10300) prove that (AD-)SGD limit points are Clarke "
             "(resp. conservative-field) critical.",
             "ρ_ε is the norm of the minimum-norm convex combination of gradients sampled uniformly in the ε-ball around "
             "the final weights (Burke–Lewis–Overton gradient sampling); it upper-bounds the distance from 0 to the "
             "Goldstein ε-subdifferential, so a small ρ_ε certifies (ε, ρ_ε)-stationarity; a large one proves nothing."]
    status = "ok" if cert.ok and all(r.ok for r in st.values()) else "uncertified"
    return SectionContent("Tameness certificate and nonsmooth stationarity", summary=summary, paragraphs=paras,
                          tables=tables, figures=[Figure("stationarity", "ρ_ε against ε at the final weights.", fig_to_png(fig))],
                          data={"certificate": cert.to_dict(), "stationarity": {str(e): r.to_dict() for e, r in st.items()}},
                          status=status)
