"""Atlas section: mode connectivity of the trained model and an independently trained twin."""

from __future__ import annotations

import copy

from ...landscape import connect_models, plot_connectivity
from .._registry import Figure, SectionContent, Table, fig_to_png, section


@section("connectivity", title="Mode connectivity and permutation alignment", order=55)
def connectivity_section(run) -> SectionContent:
    from ...train import fit

    # the twin: the same configuration, the next seed (initialisation and batch order both change)
    cfg = {k: v for k, v in run.config.items()}
    cfg["seed"] = int(run.seed) + 1
    twin = fit(cfg)
    X, T = run.train.torch()
    Xt, Tt = run.test.torch()
    a = copy.deepcopy(run.model).eval()
    b = copy.deepcopy(twin.model).eval().to(next(a.parameters()).dtype)
    X, Xt = X.to(next(a.parameters()).dtype), Xt.to(next(a.parameters()).dtype)
    if run.loss != "cross_entropy":
        T, Tt = T.to(X.dtype), Tt.to(X.dtype)
    r = connect_models(a, b, X, T, X_test=Xt, T_test=Tt, loss=run.loss, points=11 if run.quick else 25,
                       curve_steps=100 if run.quick else 400, seed=run.seed)
    rows = [
        ["loss barrier (train)", r.barrier_raw, r.barrier_aligned],
        ["loss barrier (test)", r.test_barrier_raw, r.test_barrier_aligned],
    ]
    if run.loss == "cross_entropy":
        rows += [["accuracy barrier (train)", r.accuracy_barrier_raw, r.accuracy_barrier_aligned],
                 ["accuracy barrier (test)", r.test_accuracy_barrier_raw, r.test_accuracy_barrier_aligned]]
    return SectionContent(
        "Mode connectivity and permutation alignment",
        summary={"twin seed": cfg["seed"], "barrier raw (train)": r.barrier_raw, "barrier aligned (train)": r.barrier_aligned,
                 "barrier on Bézier curve (train)": r.barrier_curve, "alignment function change": r.alignment_function_change},
        paragraphs=["A second model is trained with the same configuration and the next seed. Barriers are "
                    "max_t L((1−t)θ_A + tθ_B) − (L_A + L_B)/2 on the straight line, before and after permuting the twin's hidden "
                    "units by weight matching (Git Re-Basin, Ainsworth et al., arXiv:2209.04836; the permuted twin computes the "
                    "same function, to the reported change), and on a quadratic Bézier curve from A to the aligned twin trained "
                    "on the training data (Garipov et al., arXiv:1802.10026)."],
        tables=[Table(["barrier", "raw", "after alignment"], rows, "Barriers between the model and its twin")],
        figures=[Figure("connectivity", "Loss along the line (raw, aligned) and the Bézier curve.",
                        fig_to_png(plot_connectivity(r)))],
        data={"barrier_raw": r.barrier_raw, "barrier_aligned": r.barrier_aligned, "barrier_curve": r.barrier_curve},
    )
