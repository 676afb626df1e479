"""Atlas section: loss surface around the weights, interpolation from initialisation, trajectory PCA."""

from __future__ import annotations

import numpy as np

from ...landscape import interpolate, loss_surface, trajectory_surface
from ...report import fmt_value
from .._registry import Figure, SectionContent, section
from ._plot import set_yscale_for


def _log10(a) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    return np.log10(np.maximum(a, np.finfo(float).tiny))


@section("landscape", title="Loss landscape", order=50, estimate=(6.0, 2.5))
def landscape_section(run) -> SectionContent:
    """The section for ``run``: loss surface around the weights, interpolation from initialisation, trajectory PCA."""
    import matplotlib.pyplot as plt

    n = min(run.n_train, 512 if run.quick else 2048)
    X, T = run.tensors("train", n=n)
    model = run.model_copy()
    loss = run.loss_arg
    grid = 11 if run.quick else 25
    surf = loss_surface(model, X, T, loss=loss, grid=grid, span=1.0, seed=run.seed)
    it = None
    if run.init_model is not None:
        it = interpolate(run.init_model, model, X, T, loss=loss, points=11 if run.quick else 25, refine=False)
    ts = None
    if run.trained and len(run.snapshots) >= 3:
        ts = trajectory_surface(model, run.snapshots, X, T, loss=loss, grid=9 if run.quick else 15, margin=0.3)
    panels = 1 + (it is not None) + (ts is not None)
    fig, axes = plt.subplots(1, panels, figsize=(4.9 * panels, 4.0), squeeze=False, layout="constrained")
    axes = list(axes[0])
    ax = axes.pop(0)
    a = np.array(surf.alphas)
    cs = ax.contourf(a, a, _log10(surf.losses).T, levels=25)
    fig.colorbar(cs, ax=ax, label="log₁₀ training loss")
    ax.plot(0, 0, "r*", ms=10)
    ax.set_xlabel("direction 1 (filter-normalised units)")
    ax.set_ylabel("direction 2 (filter-normalised units)")
    ax.set_title("random plane through the weights")
    paras = [
        "Left: training loss on the plane spanned by two filter-normalised Gaussian directions (Li et al., "
        "arXiv:1712.09913); the model's weights are at the red star, the span is ±1 direction unit."
    ]
    if it is not None:
        ax = axes.pop(0)
        ax.plot(it.alphas, it.losses, "o-", ms=3)
        sc = set_yscale_for(ax, it.losses)
        ax.set_xlabel("α (0 = initialisation, 1 = model)")
        ax.set_ylabel("training loss" + (" (log scale)" if sc == "log" else ""))
        ax.set_title("straight line from initialisation")
        paras.append("Middle: the training loss on the straight line from the initialisation to the weights.")
        if it.status != "ok":
            paras.append(
                "The line moves the parameters only, with the initialisation's buffers: its end point differs "
                f"from the model's own loss by {it.endpoint_mismatch:.3g} (the BatchNorm running statistics "
                "differ), so this curve is not exactly the path between the two networks."
            )
    ev = []
    if ts is not None:
        ax = axes.pop(0)
        xs, ys, c = np.array(ts.xs), np.array(ts.ys), np.array(ts.path)
        cs = ax.contourf(xs, ys, _log10(ts.losses).T, levels=25)
        fig.colorbar(cs, ax=ax, label="log₁₀ training loss")
        ax.plot(c[:, 0], c[:, 1], "w.-")
        ev = list(ts.explained_variance_ratio)
        ax.set_xlabel(f"principal direction 1 ({100 * ev[0]:.0f} % of the path's variance)")
        ax.set_ylabel(f"principal direction 2 ({100 * ev[1]:.0f} %)")
        ax.set_title("training trajectory (PCA plane)")
        paras.append(
            "Right: the training trajectory projected on its first two (mean-centred) principal directions, "
            "over the training loss on that plane."
        )
    losses = np.asarray(surf.losses, dtype=float)
    summary = {
        "loss at the weights": surf.center_loss,
        "max loss on the plane": float(np.nanmax(losses)),
    }
    units = {}
    verdict = (
        f"Around the weights the training loss rises from {fmt_value(surf.center_loss)} to at most "
        f"{fmt_value(float(np.nanmax(losses)))} within one filter-normalised unit in two random directions"
    )
    if it is not None:
        summary["barrier from initialisation"] = it.barrier_mean
        b = float(it.barrier_mean)
        verdict += (
            "; on the straight path from the initialisation the loss never rises above the chord between its "
            "endpoint values (no barrier)"
            if float(it.barrier_linear) <= 0
            else f"; the straight path from the initialisation crosses a barrier of {fmt_value(b)} above the "
            "endpoints' mean loss"
        )
    if ev:
        summary["trajectory variance in the PCA plane"] = float(sum(ev[:2]))
        units["trajectory variance in the PCA plane"] = "%"
        share = float(sum(ev[:2]))
        how = "almost entirely" if share > 0.9 else "largely" if share > 0.6 else "only partly"
        verdict += f"; the training trajectory lies {how} in a plane ({fmt_value(share, '%')} of its variance)"
    verdict += "."
    return SectionContent(
        "Loss landscape",
        verdict=verdict,
        summary=summary,
        units=units,
        paragraphs=paras,
        figures=[
            Figure(
                "surfaces",
                "Training loss around the weights"
                + (", along the line from initialisation" if it is not None else "")
                + (" and on the trajectory's PCA plane." if ts is not None else "."),
                fig=fig,
            )
        ],
        data={"explained_variance_ratio": ev, "samples": int(X.shape[0])},
    )
