"""Atlas section: training curves, accuracy, distances and path length (needs the atlas' training run)."""

from __future__ import annotations

import numpy as np

from ...report import fmt_value
from .._registry import Figure, SectionContent, Table, section
from ._plot import set_yscale_for


def _last_finite(a) -> float | None:
    a = np.asarray(a, dtype=float) if a is not None and len(a) else np.array([])
    a = a[np.isfinite(a)]
    return float(a[-1]) if a.size else None


@section("training", title="Training", order=10, estimate=(1.5, 1.0))
def training_section(run) -> SectionContent:
    """The section for ``run``: training curves, accuracy, distances and path length (needs the atlas' training run)."""
    import matplotlib.pyplot as plt

    run.require_training("training curves")
    h = {k: np.asarray(v) for k, v in run.history.items()}
    classify = run.classification
    ep = h.get("acc_epoch", np.array([]))
    steps = h["step"]
    steps_per_epoch = (steps[-1] / max(1, ep[-1])) if len(steps) and len(ep) else 1
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.5), layout="constrained")
    ax = axes[0]
    ax.plot(steps, h["loss"], lw=0.6, alpha=0.6, label="mini-batch loss")
    if len(ep):
        ax.plot(ep * steps_per_epoch, h["train_loss"], "o-", ms=3, label="train loss (full)")
        if np.isfinite(np.asarray(h.get("test_loss", []), dtype=float)).any():
            ax.plot(ep * steps_per_epoch, h["test_loss"], "s-", ms=3, label="test loss (full)")
    sc = set_yscale_for(ax, h["loss"], h.get("train_loss"), h.get("test_loss"))
    ax.set_xlabel("optimisation step")
    ax.set_ylabel(f"{run.loss.name} loss" + (" (log scale)" if sc == "log" else ""))
    ax.set_title("loss")
    ax.legend(fontsize=8)
    ax = axes[1]
    train_acc = np.asarray(h.get("train_acc", []), dtype=float) if classify else np.array([])
    if classify and len(ep) and np.isfinite(train_acc).any():
        ax.plot(ep, 100 * train_acc, "o-", ms=3, label="train")
        test_acc = np.asarray(h.get("test_acc", []), dtype=float)
        if np.isfinite(test_acc).any():
            ax.plot(ep, 100 * test_acc, "s-", ms=3, label="test")
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy (%)")
        ax.set_title("accuracy")
        ax.legend(fontsize=8)
    else:
        ax.axis("off")
        ax.text(
            0.5,
            0.5,
            "no accuracy: the targets are not class labels",
            ha="center",
            va="center",
            fontsize=9,
        )
    ax = axes[2]
    ax.plot(steps, h["grad_norm"], lw=0.6, label="‖∇‖ (mini-batch)")
    ax.plot(steps, h["lr"], lw=1.0, label="step size")
    sc = set_yscale_for(ax, h["grad_norm"], h["lr"])
    ax.set_xlabel("optimisation step")
    ax.set_ylabel("gradient norm and step size" + (" (log scale)" if sc == "log" else ""))
    ax.set_title("gradient norm, step size")
    ax.legend(fontsize=8)
    f1 = Figure(
        "curves",
        "Loss (mini-batch, and full train/test loss per epoch), accuracy, gradient norm and step size.",
        fig=fig,
    )

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), layout="constrained")
    axes[0].plot(steps, h["dist_init"], label="‖θ_t − θ_0‖")
    axes[0].plot(steps, h["path_length"], label="path length Σ‖Δθ‖")
    axes[0].plot(steps, h["param_norm"], label="‖θ_t‖")
    axes[0].set_xlabel("optimisation step")
    axes[0].set_ylabel("Euclidean norm in parameter space")
    axes[0].legend(fontsize=8)
    axes[0].set_title("weight-space distances")
    ratio = h["dist_init"] / np.maximum(h["path_length"], 1e-300)
    axes[1].plot(steps, ratio)
    axes[1].set_ylim(0, 1.05)
    axes[1].set_xlabel("optimisation step")
    axes[1].set_ylabel("‖θ_t − θ_0‖ / path length")
    axes[1].set_title("straightness (1 = straight path)")
    f2 = Figure(
        "distances",
        "Distance from initialisation, path length, parameter norm, and their ratio (1 = a straight path).",
        fig=fig,
    )

    tr_loss, te_loss = _last_finite(h.get("train_loss")), _last_finite(h.get("test_loss"))
    tr_acc = _last_finite(h.get("train_acc")) if classify else None
    te_acc = _last_finite(h.get("test_acc")) if classify else None
    summary = {
        "steps": int(steps[-1]) if len(steps) else 0,
        "epochs": int(ep[-1]) if len(ep) else 0,
        "final train loss": tr_loss,
        "final test loss": te_loss,
        "distance from init": float(h["dist_init"][-1]),
        "path length": float(h["path_length"][-1]),
        "straightness": float(ratio[-1]),
    }
    units = {}
    if classify:
        summary["final train accuracy"] = tr_acc
        summary["final test accuracy"] = te_acc
        units = {"final train accuracy": "%", "final test accuracy": "%"}
    if te_acc is not None:
        head = (
            f"Training reached {fmt_value(te_acc, '%')} test accuracy ({fmt_value(tr_acc, '%')} on the training data)"
        )
    elif tr_acc is not None:
        head = f"Training reached {fmt_value(tr_acc, '%')} training accuracy (no test data)"
    else:
        head = f"Training brought the full training loss to {fmt_value(tr_loss)}"
    verdict = (
        f"{head} in {summary['steps']:,} steps; the weights ended {fmt_value(summary['distance from init'])} "
        f"from their initialisation along a path {fmt_value(summary['path length'])} long, so the path is "
        f"{'nearly straight' if ratio[-1] > 0.8 else 'curved' if ratio[-1] > 0.3 else 'strongly winding'} "
        f"(straightness {fmt_value(float(ratio[-1]))})."
    )
    cfg = run.config
    opt = cfg.get("optimizer")
    rows = [
        [
            k,
            str(
                cfg.get(k)
                if k != "optimizer"
                else (opt.get("name") or opt.get("torch") or opt)
                if isinstance(opt, dict)
                else opt
            ),
        ]
        for k in (
            "data",
            "widths",
            "model",
            "loss",
            "optimizer",
            "lr",
            "schedule",
            "epochs",
            "batch_size",
            "seed",
            "dtype",
        )
        if k in cfg
    ]
    return SectionContent(
        title="Training",
        verdict=verdict,
        summary=summary,
        units=units,
        paragraphs=[
            "Monitors recorded at every step: mini-batch loss, gradient norm, step size, parameter norm, distance from "
            "initialisation and path length (the running sum of update norms). Train and test loss and accuracy are "
            "full-data evaluations after every epoch."
        ],
        tables=[Table(["setting", "value"], rows, "Training configuration")],
        figures=[f1, f2],
        data={
            "epochs": ep.tolist(),
            "test_acc": np.asarray(h.get("test_acc", []), dtype=float).tolist(),
            "train_loss": np.asarray(h.get("train_loss", []), dtype=float).tolist(),
        },
    )
