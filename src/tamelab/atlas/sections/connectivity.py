"""Atlas section: mode connectivity of the model and an independently trained twin."""

from __future__ import annotations

from ...landscape import connect_models, plot_connectivity
from ...report import fmt_value
from .._registry import Figure, SectionContent, Table, section


def _verdict(r) -> str:
    raw, ali, cur = float(r.barrier_raw), float(r.barrier_aligned), r.barrier_curve
    small = max(0.05 * abs(raw), 1e-3)
    s = (
        f"On the straight line between this model and a twin trained from another seed the training loss rises "
        f"{fmt_value(raw)} above the endpoints' mean; after permuting the twin's units to match (the same function) "
        f"the barrier is {fmt_value(ali)}"
    )
    if ali <= small:
        s += ", so the two minima are linearly connected up to permutation"
    elif ali < raw:
        s += ", so alignment removes part of the barrier but not all of it"
    else:
        s += ", so alignment does not lower the barrier"
    if cur is not None:
        s += f"; along a trained Bézier curve the barrier is {fmt_value(float(cur))}"
        s += " (connected by a low-loss curve)" if float(cur) <= max(small, 0.25 * max(ali, 0)) else ""
    return s + "."


@section(
    "connectivity",
    title="Mode connectivity and permutation alignment",
    order=55,
    estimate=(8.0, 4.0),
)
def connectivity_section(run) -> SectionContent:
    """The section for ``run``: mode connectivity of the model and an independently trained twin."""
    twin_seed = int(run.seed) + 1
    twin = run.twin(twin_seed)  # the same training, the next seed (initialisation and batch order both change)
    n = min(run.n_train, 512 if run.quick else 4096)
    X, T = run.tensors("train", n=n)
    kw = {}
    if run.test is not None:
        Xt, Tt = run.tensors("test", n=n)
        kw = {"X_test": Xt, "T_test": Tt}
    a = run.model_copy()
    b = twin.model.eval().to(device=run.device, dtype=run.dtype)
    r = connect_models(
        a,
        b,
        X,
        T,
        loss=run.loss_arg,
        points=11 if run.quick else 25,
        curve_steps=100 if run.quick else 400,
        seed=run.seed,
        **kw,
    )
    rows = [["loss barrier (train)", r.barrier_raw, r.barrier_aligned]]
    if run.test is not None:
        rows.append(["loss barrier (test)", r.test_barrier_raw, r.test_barrier_aligned])
    if run.classification:
        rows.append(["accuracy barrier (train)", r.accuracy_barrier_raw, r.accuracy_barrier_aligned])
        if run.test is not None:
            rows.append(
                [
                    "accuracy barrier (test)",
                    r.test_accuracy_barrier_raw,
                    r.test_accuracy_barrier_aligned,
                ]
            )
    fig = plot_connectivity(r)
    ax = fig.axes[0]
    ax.set_xlabel("t along the path (0 = this model, 1 = the twin)")
    ax.set_ylabel(f"{run.loss.name} loss")
    return SectionContent(
        "Mode connectivity and permutation alignment",
        verdict=_verdict(r),
        summary={
            "twin seed": twin_seed,
            "barrier raw (train)": r.barrier_raw,
            "barrier aligned (train)": r.barrier_aligned,
            "barrier on Bézier curve (train)": r.barrier_curve,
            "alignment function change": r.alignment_function_change,
        },
        paragraphs=[
            "A second model is trained with the same settings and the next seed. Barriers are "
            "max_t L((1−t)θ_A + tθ_B) − (L_A + L_B)/2 on the straight line, before and after permuting the "
            "twin's hidden units by weight matching (Git Re-Basin, Ainsworth et al., arXiv:2209.04836; the "
            "permuted twin computes the same function, to the reported change), and on a quadratic Bézier "
            "curve from A to the aligned twin trained on the training data (Garipov et al., "
            "arXiv:1802.10026)."
        ],
        tables=[
            Table(
                ["barrier", "raw", "after alignment"],
                rows,
                "Barriers between the model and its twin",
            )
        ],
        figures=[
            Figure(
                "connectivity",
                "Loss along the straight line (raw and aligned twin) and along the Bézier curve.",
                fig=fig,
            )
        ],
        data={
            "barrier_raw": r.barrier_raw,
            "barrier_aligned": r.barrier_aligned,
            "barrier_curve": r.barrier_curve,
        },
    )
