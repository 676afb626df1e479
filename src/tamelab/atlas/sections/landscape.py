"""Atlas section: loss surface, interpolation init → final, trajectory PCA."""

from __future__ import annotations

import copy

import numpy as np

from ...landscape import interpolate, loss_surface, trajectory_surface
from .._registry import Figure, SectionContent, fig_to_png, section


@section("landscape", title="Loss landscape", order=50)
def landscape_section(run) -> SectionContent:
    import matplotlib.pyplot as plt

    X, T = run.train.torch()
    model = copy.deepcopy(run.model).eval()
    grid = 11 if run.quick else 25
    surf = loss_surface(model, X, T, loss=run.loss, grid=grid, span=1.0, seed=run.seed)
    a = np.array(surf.alphas)
    fig, ax = plt.subplots(1, 3, figsize=(14, 3.8))
    cs = ax[0].contourf(a, a, np.log(np.array(surf.losses)).T, levels=25)
    fig.colorbar(cs, ax=ax[0], label="log loss"); ax[0].plot(0, 0, "r*")
    ax[0].set_title("filter-normalised random plane")
    it = interpolate(run.init_model, model, X, T, loss=run.loss, points=11 if run.quick else 25, refine=False)
    ax[1].plot(it.alphas, it.losses)
    ax[1].set_xlabel("α (0 = init, 1 = trained)"); ax[1].set_title("linear interpolation")
    ts = trajectory_surface(model, run.snapshots, X, T, loss=run.loss, grid=9 if run.quick else 15, margin=0.3)
    xs, ys, c = np.array(ts.xs), np.array(ts.ys), np.array(ts.path)
    Z = np.log(np.array(ts.losses))
    cs = ax[2].contourf(xs, ys, Z.T, levels=25)
    fig.colorbar(cs, label="log loss", ax=ax[2])
    ax[2].plot(c[:, 0], c[:, 1], "w.-")
    ev = ts.explained_variance_ratio
    ax[2].set_title(f"trajectory PCA ({100 * ev[0]:.0f}% + {100 * ev[1]:.0f}%)")
    return SectionContent(
        "Loss landscape",
        summary={"centre loss": surf.center_loss, "max loss on plane": float(np.max(surf.losses)),
                 "interpolation barrier (init→final)": it.barrier_mean, "PCA explained variance": sum(ev)},
        paragraphs=["Left: loss on the plane spanned by two filter-normalised Gaussian directions (Li et al., "
                    "arXiv:1712.09913), the trained model at the red star, span ±1 in direction units. Middle: loss on the "
                    "straight line from initialisation to the trained weights. Right: the training trajectory projected on its "
                    "first two (mean-centred) principal directions, over the loss on that plane."],
        figures=[Figure("surfaces", "Loss surface, interpolation and trajectory PCA.", fig_to_png(fig))],
        data={"explained_variance_ratio": ev},
    )
