"""Atlas section: PAC-Bayes certificate next to the test error, and weight-space path geometry."""

from __future__ import annotations

import numpy as np

from ...bounds import pac_bayes_certificate, path_geometry
from ...errors import NotApplicableError
from ...report import fmt_value
from .._registry import Figure, SectionContent, Table, section


def _certificate(run):
    """The PAC-Bayes certificate (fast mode), or the reason it does not apply."""
    if not run.classification:
        return (
            None,
            "the certificate bounds the 0-1 risk of a classifier; these targets are not class labels",
        )
    start = {"init_model": run.init_model} if run.init_model is not None else {"init_seed": run.seed}
    budget = {"mc_samples": 300, "prior_epochs": 10, "test_mc_samples": 30} if run.quick else {}
    c = pac_bayes_certificate(
        run.model_copy(),
        run.data_arg("train"),
        run.data_arg("test") if run.test is not None else None,
        loss=run.loss_arg,
        prior="data",
        mode="fast",
        device=run.device,
        seed=run.seed,
        **start,
        **budget,
    )
    return c, None


@section(
    "bounds",
    title="Generalisation: PAC-Bayes certificate and weight-space paths",
    order=70,
    estimate=(40.0, 6.0),
)
def bounds_section(run) -> SectionContent:
    """The section for ``run``: PAC-Bayes certificate next to the test error, and weight-space path geometry."""
    import matplotlib.pyplot as plt

    c, why = _certificate(run)
    if c is None and not run.trained:
        raise NotApplicableError("PAC-Bayes certificate", str(why))
    paras, tables, figures = [], [], []
    summary: dict = {}
    units: dict = {}
    verdicts = []
    if c is not None:
        summary = {
            "certified risk ≤": c.bound,
            "stochastic test error": c.test_error,
            "mean-network test error": c.mean_net_test_error,
            "KL(Q‖P)": c.kl,
            "bound sample size": c.n,
            "confidence": c.confidence,
        }
        units = {
            "certified risk ≤": "%",
            "stochastic test error": "%",
            "mean-network test error": "%",
            "confidence": "%",
        }
        start = (
            "the model's initialisation"
            if run.init_model is not None
            else f"weights re-initialised with seed {run.seed} (the model's own initialisation is not known)"
        )
        paras.append(
            "Gaussian posterior around a network trained on half of the training data (the data-dependent "
            f"prior of Pérez-Ortiz et al., arXiv:2007.12911, started from {start}), optimised on the other "
            "half and certified with the exact kl-inverse and a Monte-Carlo error term (Dziugaite and Roy, "
            "arXiv:1703.11008). The certificate bounds the 0-1 risk of the stochastic network with the "
            "stated confidence."
        )
        if getattr(c, "note", ""):
            paras.append(str(c.note))
        tables.append(
            Table(
                ["component", "value"],
                [[k, v] for k, v in c.components.items()],
                "Certificate components",
            )
        )
        vacuous = float(c.bound) >= 0.5
        v = (
            f"With {fmt_value(float(c.confidence), '%')} confidence the stochastic network's error rate is at most "
            f"{fmt_value(float(c.bound), '%')}"
        )
        if np.isfinite(float(c.test_error)):
            v += f" (its measured test error is {fmt_value(float(c.test_error), '%')})"
        v += "; the certificate is vacuous-looking (≥ 50 %)" if vacuous else "; the certificate is non-vacuous"
        verdicts.append(v)
    else:
        paras.append(f"No PAC-Bayes certificate: {why}.")
        verdicts.append(f"No PAC-Bayes certificate ({why})")
    if run.trained and len(run.snapshots) >= 2:
        pg = path_geometry(run.snapshots)
        steps = np.asarray(run.snapshot_steps)
        fig, ax = plt.subplots(1, 3, figsize=(13, 3.6), layout="constrained")
        ax[0].plot(steps, pg["distance"], label="‖θ_t − θ_0‖")
        ax[0].plot(steps, pg["path_length"], label="path length")
        ax[0].legend(fontsize=8)
        ax[0].set_xlabel("optimisation step")
        ax[0].set_ylabel("Euclidean norm in parameter space")
        ax[0].set_title("distance and path length")
        for k in pg:
            if k.endswith("/relative"):
                ax[1].plot(steps, pg[k], label=k.split("/")[0])
        ax[1].legend(fontsize=7)
        ax[1].set_xlabel("optimisation step")
        ax[1].set_ylabel("‖W_t − W_0‖_F / ‖W_0‖_F")
        ax[1].set_title("relative change per layer")
        ax[2].plot(steps, pg["cos_to_final"], label="cos(θ_t−θ_0, θ_T−θ_0)")
        ax[2].plot(
            steps[1:-1],
            np.cos(np.radians(pg["angle_consecutive_deg"])),
            label="cos between consecutive moves",
        )
        ax[2].legend(fontsize=7)
        ax[2].set_xlabel("optimisation step")
        ax[2].set_ylabel("cosine")
        ax[2].set_title("direction of the moves")
        figures.append(Figure("paths", "Weight-space path geometry along training.", fig=fig))
        summary.update(
            {
                "straightness (final)": float(pg["straightness"][-1]),
                "implied KL at σ=0.03": float(pg["implied_kl"][-1]),
            }
        )
        paras.append(
            "Path geometry along the training snapshots: distance from initialisation (what a prior centred "
            "at initialisation pays for in KL), path length, straightness, per-layer relative change and "
            "direction."
        )
        verdicts.append(
            f"the weights moved a distance {fmt_value(float(pg['distance'][-1]))} from initialisation, "
            f"which a prior centred there pays for with KL ≈ {fmt_value(float(pg['implied_kl'][-1]))} at "
            "σ = 0.03"
        )
    verdict = "; ".join(verdicts) + "."
    data = {}
    if run.trained and len(run.snapshots) >= 2:
        data = {k: v.tolist() for k, v in pg.items() if "/" not in k}
    return SectionContent(
        "Generalisation: PAC-Bayes certificate and weight-space paths",
        verdict=verdict,
        summary=summary,
        units=units,
        paragraphs=paras,
        tables=tables,
        figures=figures,
        data=data,
    )
