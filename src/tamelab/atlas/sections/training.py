"""Atlas section: training curves, accuracy, distances and path length."""

from __future__ import annotations

import numpy as np

from .._registry import Figure, SectionContent, Table, fig_to_png, section


@section("training", title="Training", order=10)
def training_section(run) -> SectionContent:
    import matplotlib.pyplot as plt

    h = run.history
    classify = run.loss == "cross_entropy"
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    ax = axes[0]
    ax.plot(h["step"], h["loss"], lw=0.6, alpha=0.6, label="mini-batch loss")
    steps_per_epoch = (h["step"][-1] / max(1, h["acc_epoch"][-1])) if len(h["step"]) and len(h["acc_epoch"]) else 1
    ax.plot(h["acc_epoch"] * steps_per_epoch, h["train_loss"], "o-", ms=3, label="train loss")
    ax.plot(h["acc_epoch"] * steps_per_epoch, h["test_loss"], "s-", ms=3, label="test loss")
    ax.set_yscale("log"); ax.set_xlabel("step"); ax.set_title("loss"); ax.legend(fontsize=8)
    ax = axes[1]
    if classify:
        ax.plot(h["acc_epoch"], h["train_acc"], "o-", ms=3, label="train")
        ax.plot(h["acc_epoch"], h["test_acc"], "s-", ms=3, label="test")
        ax.set_xlabel("epoch"); ax.set_title("accuracy"); ax.legend(fontsize=8)
    else:
        ax.axis("off")
    ax = axes[2]
    ax.plot(h["step"], h["grad_norm"], lw=0.6, label="‖∇‖ (mini-batch)")
    ax.plot(h["step"], h["lr"], lw=1.0, label="step size")
    ax.set_yscale("log"); ax.set_xlabel("step"); ax.set_title("gradient norm, step size"); ax.legend(fontsize=8)
    f1 = Figure("curves", "Loss (mini-batch and full train/test per epoch), accuracy, gradient norm and step size.", fig_to_png(fig))

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    axes[0].plot(h["step"], h["dist_init"], label="‖θ_t − θ_0‖")
    axes[0].plot(h["step"], h["path_length"], label="path length Σ‖Δθ‖")
    axes[0].plot(h["step"], h["param_norm"], label="‖θ_t‖")
    axes[0].set_xlabel("step"); axes[0].legend(fontsize=8); axes[0].set_title("weight-space distances")
    ratio = h["dist_init"] / np.maximum(h["path_length"], 1e-300)
    axes[1].plot(h["step"], ratio)
    axes[1].set_ylim(0, 1.05); axes[1].set_xlabel("step"); axes[1].set_title("straightness ‖θ_t − θ_0‖ / path length")
    f2 = Figure("distances", "Distance from initialisation, path length, parameter norm, and their ratio (1 = straight path).", fig_to_png(fig))

    summary = {
        "steps": int(h["step"][-1]) if len(h["step"]) else 0,
        "epochs": int(h["acc_epoch"][-1]) if len(h["acc_epoch"]) else 0,
        "final train loss": float(h["train_loss"][-1]),
        "final test loss": float(h["test_loss"][-1]),
        "distance from init": float(h["dist_init"][-1]),
        "path length": float(h["path_length"][-1]),
        "straightness": float(ratio[-1]),
    }
    if classify:
        summary["final train accuracy"] = float(h["train_acc"][-1])
        summary["final test accuracy"] = float(h["test_acc"][-1])
    cfg = run.config
    table = Table(
        ["setting", "value"],
        [[k, str(cfg.get(k))] for k in ("data", "widths", "loss", "optimizer", "lr", "schedule", "epochs", "batch_size", "seed", "dtype") if k in cfg],
        "Training configuration",
    )
    return SectionContent(
        title="Training",
        summary=summary,
        paragraphs=[
            "Monitors recorded at every step: mini-batch loss, gradient norm, step size, parameter norm, distance from "
            "initialisation and path length (the running sum of update norms). Train/test loss and accuracy are full-batch, per epoch."
        ],
        tables=[table],
        figures=[f1, f2],
        data={"epochs": h["acc_epoch"].tolist(), "test_acc": h["test_acc"].tolist(), "train_loss": h["train_loss"].tolist()},
    )
