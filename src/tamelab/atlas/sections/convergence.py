"""Atlas section: the Davis–Drusvyatskiy–Kakade–Lee convergence report — hypothesis verdicts and evidence."""

from __future__ import annotations

import numpy as np

from ...report import fmt_value
from ...tame import convergence_report
from ...verdicts import Verdict
from .._registry import Figure, SectionContent, Table, section
from ._plot import set_yscale_for


def _short(why: str, n: int = 90) -> str:
    """The first clause of a reason."""
    s = str(why).split(";")[0].split(" (")[0].strip()
    return s if len(s) <= n else s[: n - 1] + "…"


def _verdict(rep) -> str:
    c = rep.conclusion or {}
    failed = [h for h in rep.hypotheses if h.verdict is Verdict.VIOLATED]
    open_ = [h for h in rep.hypotheses if h.verdict is Verdict.NOT_CHECKABLE]
    g = [v for v in rep.full_grad_norm if v is not None and np.isfinite(v)]
    measured = ""
    if len(g) >= 2:
        measured = f"; measured: the full-batch gradient norm went from {fmt_value(g[0])} to {fmt_value(g[-1])}"
        conv = c.get("values_converging")
        if conv is True:
            measured += " and the loss values settle"
        elif conv is False:
            measured += " and the loss values have not settled"
    if failed:
        names = "; ".join(f"{h.id}: {_short(h.why)}" for h in failed[:3])
        return (
            f"The theorem's hypotheses fail for this run ({names}), so it predicts nothing here{measured}; "
            "these measurements describe this run, not a consequence of the theorem."
        )
    if rep.applicable:
        return (
            "Every hypothesis holds as far as this run shows, so the theorem applies: limit points of the iterates "
            f"are Clarke-critical and the loss values converge{measured}."
        )
    which = ", ".join(h.id for h in open_) or "some"
    return (
        f"Hypotheses {which} could not be decided from this run, so the theorem's conclusion is not established"
        f"{measured}."
    )


@section(
    "convergence",
    title="Convergence report (stochastic subgradient method on tame losses)",
    order=25,
    estimate=(10.0, 4.0),
)
def convergence_section(run) -> SectionContent:
    """The atlas section for ``run`` (what it shows: the module docstring)."""
    import matplotlib.pyplot as plt

    run.require_training("convergence report")
    q = run.quick
    kw = {} if run.loss.builtin else {"loss": run.loss_arg}
    rep = convergence_report(
        run.train_result,
        data=run.data_arg("train"),
        seed=run.seed,
        max_snapshots=6 if q else 16,
        noise_snapshots=2 if q else 4,
        noise_resamples=32 if q else 128,
        rho_snapshots=2 if q else 4,
        rho_samples=6 if q else 16,
        **kw,
    )
    rows = [[h.id, h.name, h.verdict, h.why] for h in rep.hypotheses]
    tables = [
        Table(
            ["id", "hypothesis", "verdict", "why"],
            rows,
            "Hypotheses of Davis–Drusvyatskiy–Kakade–Lee (arXiv:1804.07795) on this run; A1 and A3 are "
            "observed, not proved.",
        )
    ]
    c = rep.conclusion
    ev_rows = [[k.replace("_", " "), v] for k, v in c.items() if not isinstance(v, dict)]
    ev_rows += [[f"ρ_ε (ε={e}) at the last snapshot", v] for e, v in c.get("rho_last", {}).items()]
    tables.append(
        Table(
            ["evidence", "value"],
            ev_rows,
            "Evidence for the conclusion (criticality of limit points, convergence of values)",
        )
    )
    steps = np.asarray(rep.snapshot_steps, dtype=float)
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.5), layout="constrained")
    ax[0].plot(steps, rep.full_grad_norm, "o-", ms=3, label="‖∇F(θ_k)‖ full batch")
    for e, vals in rep.rho.items():
        m = [i for i, v in enumerate(vals) if v is not None]
        ax[0].plot(steps[m], [vals[i] for i in m], "s", ms=5, label=f"ρ_ε, ε={e}")
    sc = set_yscale_for(
        ax[0],
        rep.full_grad_norm,
        *[[v for v in vals if v is not None] for vals in rep.rho.values()],
    )
    ax[0].set_xlabel("optimisation step")
    ax[0].set_ylabel("stationarity measure" + (" (log scale)" if sc == "log" else ""))
    ax[0].set_title("stationarity")
    ax[0].legend(fontsize=7)
    ax[1].plot(steps, rep.full_loss, "o-", ms=3)
    sc = set_yscale_for(ax[1], rep.full_loss)
    ax[1].set_xlabel("optimisation step")
    ax[1].set_ylabel("full-batch loss F(θ_k)" + (" (log scale)" if sc == "log" else ""))
    ax[1].set_title("loss at the snapshots")
    h = run.history
    a = np.asarray(h["lr"], dtype=float)
    ax[2].plot(h["step"], np.cumsum(a), label="Σα (recorded)")
    ax[2].plot(h["step"], np.cumsum(a**2), label="Σα² (recorded)")
    ax[2].set_xscale("log")
    ax[2].set_yscale("log")
    ax[2].set_xlabel("optimisation step (log scale)")
    ax[2].set_ylabel("partial sums of step sizes (log scale)")
    tw = ax[2].twinx()
    tw.plot(
        h["step"],
        np.maximum.accumulate(np.asarray(h["param_norm"], dtype=float)),
        "k--",
        lw=1,
        label="max ‖θ‖ (right axis)",
    )
    tw.set_ylabel("running max of ‖θ‖")
    ax[2].set_title("step-size sums and iterate bound")
    hl = ax[2].get_legend_handles_labels()
    hr = tw.get_legend_handles_labels()
    ax[2].legend(hl[0] + hr[0], hl[1] + hr[1], fontsize=7)
    fig_ = Figure(
        "convergence",
        "Stationarity (full-batch gradient norm and gradient-sampling ρ_ε), loss at the "
        "snapshots, partial sums of the step sizes and running maximum of the parameter norm.",
        fig=fig,
    )
    summary = {
        "theorem applies": {True: "yes (as observed)", False: "no", None: "not decided"}[rep.applicable],
        **{f"{h.id}": h.verdict for h in rep.hypotheses},
        "stationarity last / peak": c.get("stationarity_last_over_peak"),
        "values converging": c.get("values_converging"),
    }
    paras = [
        "Davis, Drusvyatskiy, Kakade and Lee prove that the stochastic subgradient method on a tame, locally "
        "Lipschitz loss, with Σα = ∞, Σα² < ∞, bounded iterates and martingale noise, has Clarke-critical limit "
        "points and convergent values. The table checks each hypothesis on this training run; the step-size "
        "schedule is checked analytically from its family."
    ]
    if rep.needs:
        paras.append("Not measured (needs per-step monitoring in the training loop): " + "; ".join(rep.needs))
    return SectionContent(
        "Convergence report (stochastic subgradient method on tame losses)",
        verdict=_verdict(rep),
        summary=summary,
        paragraphs=paras,
        tables=tables,
        figures=[fig_],
        data=rep.to_dict(),
    )
