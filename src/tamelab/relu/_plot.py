"""Plots of region partitions (matplotlib; imported lazily)."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_partition"]


def plot_partition(res, *, X=None, ax=None, title: str | None = None):
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    if ax is None:
        fig, ax = plt.subplots(figsize=(5.2, 5))
    else:
        fig = ax.figure
    if res.domain in ("plane", "box") and res.regions_list and res.regions_list[0].vertices is not None:
        polys = [np.asarray(r.vertices) for r in res.regions_list]
        rng = np.random.default_rng(0)
        cols = rng.uniform(0.35, 0.95, (max(res.linear_labels) + 1, 3))
        ax.add_collection(
            PolyCollection(polys, facecolors=[cols[lab] for lab in res.linear_labels], edgecolors="k", linewidths=0.25)
        )
        for seg in res.decision_boundary:
            if len(seg) == 2:
                ax.plot([seg[0][0], seg[1][0]], [seg[0][1], seg[1][1]], color="crimson", lw=1.4)
        allv = np.vstack(polys)
        ax.set_xlim(allv[:, 0].min(), allv[:, 0].max())
        ax.set_ylim(allv[:, 1].min(), allv[:, 1].max())
        if X is not None:
            ax.scatter(X[:, 0], X[:, 1], s=4, c="k", alpha=0.5)
        ax.set_aspect("equal")
    elif res.domain == "segment":
        for r, lab in zip(res.regions_list, res.linear_labels):
            ax.axvspan(r.vertices[0], r.vertices[1], color=plt.cm.tab20(lab % 20), alpha=0.5)
        ax.set_xlabel("t along the segment")
    ax.set_title(title or f"{res.activation_regions} activation / {res.linear_regions} linear regions")
    return fig
