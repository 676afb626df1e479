"""Atlas section: PAC-Bayes certificate next to test error, and weight-space path geometry."""

from __future__ import annotations

import numpy as np

from ...bounds import pac_bayes_certificate, path_geometry
from .._registry import Figure, SectionContent, Table, fig_to_png, section


@section("bounds", title="Generalization: PAC-Bayes certificate and weight-space paths", order=70)
def bounds_section(run) -> SectionContent:
    import matplotlib.pyplot as plt

    paras = []
    tables = []
    summary = {}
    if run.loss == "cross_entropy":
        c = pac_bayes_certificate(run.model, run.train, run.test, prior="data", init_model=run.init_model,
                                  mc_samples=150 if run.quick else 1000, epochs=10 if run.quick else 60, seed=run.seed)
        summary = {"certificate (risk ≤)": c.bound, "stochastic test error": c.test_error, "mean-net test error": c.mean_net_test_error,
                   "KL(Q‖P)": c.kl, "bound sample n": c.n, "confidence": c.confidence}
        paras.append("Gaussian posterior around a network trained on half of the training split (the data-dependent prior, "
                     "Pérez-Ortiz et al. arXiv:2007.12911), optimised on the other half and certified with the exact kl-inverse "
                     "and a Monte-Carlo error term (Dziugaite & Roy, arXiv:1703.11008). The certificate bounds the 0-1 risk of "
                     "the stochastic network with the stated confidence.")
        tables.append(Table(["component", "value"], [[k, v] for k, v in c.components.items()], "Certificate components"))
    pg = path_geometry(run.snapshots)
    steps = np.asarray(run.snapshot_steps)
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.4))
    ax[0].plot(steps, pg["distance"], label="‖θ_t − θ_0‖")
    ax[0].plot(steps, pg["path_length"], label="path length")
    ax[0].legend(fontsize=8); ax[0].set_xlabel("step"); ax[0].set_title("distance and path length")
    for k in pg:
        if k.endswith("/relative"):
            ax[1].plot(steps, pg[k], label=k.split("/")[0])
    ax[1].legend(fontsize=7); ax[1].set_xlabel("step"); ax[1].set_title("relative change per layer ‖ΔW‖_F/‖W_0‖_F")
    ax[2].plot(steps, pg["cos_to_final"], label="cos(θ_t−θ_0, θ_T−θ_0)")
    ax[2].plot(steps[1:-1], np.cos(np.radians(pg["angle_consecutive_deg"])), label="cos between consecutive moves")
    ax[2].legend(fontsize=7); ax[2].set_xlabel("step"); ax[2].set_title("direction")
    summary.update({"straightness (final)": float(pg["straightness"][-1]), "implied KL at σ=0.03": float(pg["implied_kl"][-1])})
    paras.append("Path geometry along the training snapshots: distance from initialisation (what a prior centred at "
                 "initialisation pays for in KL), path length, straightness, per-layer relative change and direction.")
    return SectionContent("Generalization: PAC-Bayes certificate and weight-space paths", summary=summary, paragraphs=paras,
                          tables=tables, figures=[Figure("paths", "Weight-space path geometry along training.", fig_to_png(fig))],
                          data={k: v.tolist() for k, v in pg.items() if "/" not in k})
