"""Atlas section: DDKL convergence report — hypothesis verdicts and the evidence for the conclusion."""

from __future__ import annotations

import numpy as np

from ...tame import convergence_report
from .._registry import Figure, SectionContent, Table, fig_to_png, section


@section("convergence", title="Convergence report (DDKL hypotheses and evidence)", order=25)
def convergence_section(run) -> SectionContent:
    import matplotlib.pyplot as plt

    q = run.quick
    rep = convergence_report(run, seed=run.seed, max_snapshots=6 if q else 16, noise_snapshots=2 if q else 4,
                             noise_resamples=32 if q else 128, rho_snapshots=2 if q else 4, rho_samples=6 if q else 16)
    rows = [[h.id, h.name, h.verdict, h.why] for h in rep.hypotheses]
    tables = [Table(["id", "hypothesis", "verdict", "why"], rows,
                    "Hypotheses of Davis–Drusvyatskiy–Kakade–Lee (arXiv:1804.07795) on this run; A1 and A3 are observed, not proved.")]
    c = rep.conclusion
    ev_rows = [[k, v] for k, v in c.items() if not isinstance(v, dict)]
    ev_rows += [[f"rho_eps (eps={e}) at last snapshot", v] for e, v in c.get("rho_last", {}).items()]
    tables.append(Table(["evidence", "value"], ev_rows, "Evidence for the conclusion (criticality of limit points, convergence of values)"))
    steps = np.asarray(rep.snapshot_steps, dtype=float)
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.4))
    ax[0].plot(steps, rep.full_grad_norm, "o-", ms=3, label="‖∇F(θ_k)‖ full batch")
    for e, vals in rep.rho.items():
        m = [i for i, v in enumerate(vals) if v is not None]
        ax[0].plot(steps[m], [vals[i] for i in m], "s", ms=5, label=f"ρ_ε, ε={e}")
    ax[0].set_yscale("log"); ax[0].set_xlabel("step"); ax[0].set_title("stationarity"); ax[0].legend(fontsize=7)  # noqa: E702
    ax[1].plot(steps, rep.full_loss, "o-", ms=3)
    ax[1].set_yscale("log"); ax[1].set_xlabel("step"); ax[1].set_title("full-batch loss F(θ_k)")  # noqa: E702
    h = run.history
    a = np.asarray(h["lr"], dtype=float)
    ax[2].plot(h["step"], np.cumsum(a), label="Σα (recorded)")
    ax[2].plot(h["step"], np.cumsum(a**2), label="Σα² (recorded)")
    ax[2].set_xscale("log"); ax[2].set_yscale("log"); ax[2].set_xlabel("step")  # noqa: E702
    tw = ax[2].twinx()
    tw.plot(h["step"], np.maximum.accumulate(np.asarray(h["param_norm"], dtype=float)), "k--", lw=1, label="max ‖θ‖ (right)")
    ax[2].set_title("step-size partial sums and iterate bound")
    hl = ax[2].get_legend_handles_labels()
    hr = tw.get_legend_handles_labels()
    ax[2].legend(hl[0] + hr[0], hl[1] + hr[1], fontsize=7)
    fig_ = Figure("convergence", "Stationarity (full-batch gradient norm and gradient-sampling ρ_ε), loss at the snapshots, "
                  "partial sums of the step sizes and running max of the parameter norm.", fig_to_png(fig))
    summary = {"DDKL applicable": {True: "yes (as observed)", False: "no", None: "not decided"}[rep.applicable],
               **{f"{h.id}": h.verdict for h in rep.hypotheses},
               "stationarity last / peak": c.get("stationarity_last_over_peak"), "values converging": c.get("values_converging")}
    paras = ["Davis, Drusvyatskiy, Kakade and Lee prove that the stochastic subgradient method on a tame, locally Lipschitz loss, "
             "with Σα = ∞, Σα² < ∞, bounded iterates and martingale noise, has Clarke-critical limit points and convergent "
             "values. The table checks each hypothesis on this training run; the schedule is checked analytically from its family.",
             "Not measured (would need per-step monitoring in the training loop): " + "; ".join(rep.needs)]
    return SectionContent("Convergence report (DDKL hypotheses and evidence)", summary=summary, paragraphs=paras, tables=tables,
                          figures=[fig_], data=rep.to_dict(), status="ok")
