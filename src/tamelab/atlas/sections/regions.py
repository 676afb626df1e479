"""Atlas section: linear regions on the plane through three training points, and along training."""

from __future__ import annotations

import copy

import numpy as np

from ...relu import Plane, regions
from ...relu._plot import plot_partition
from .._registry import Figure, SectionContent, Table, fig_to_png, section


@section("regions", title="Linear regions (exact, on a 2-D slice)", order=30)
def regions_section(run) -> SectionContent:
    import matplotlib.pyplot as plt

    X = run.train.X
    rng = np.random.default_rng(run.seed)
    idx = rng.choice(len(X), 3, replace=False)
    plane = Plane.through(X[idx[0]], X[idx[1]], X[idx[2]], margin=0.15)
    model = copy.deepcopy(run.model).double()
    r = regions(model, plane)
    fig = plot_partition(r, title=f"{r.activation_regions} activation / {r.linear_regions} linear regions")
    ax = fig.axes[0]
    ax.plot([0, 1, 0], [0, 0, 1], "w^", ms=8, mec="k")
    f1 = Figure("plane", "Partition of the plane through three training digits (triangles at (0,0), (1,0), (0,1)); colours = "
                "linear regions, red = decision boundary (top-2 logits tie).", fig_to_png(fig))
    step = max(1, len(run.snapshots) // (4 if run.quick else 10))
    counts = []
    for i in list(range(0, len(run.snapshots), step)) + ([len(run.snapshots) - 1] if (len(run.snapshots) - 1) % step else []):
        m = run.model_at(i).double()
        counts.append([int(run.snapshot_steps[i]), regions(m, plane, boundary=False).activation_regions])
    fig2, ax2 = plt.subplots(figsize=(6, 3.2))
    ax2.plot([c[0] for c in counts], [c[1] for c in counts], "o-")
    ax2.set_xlabel("step"); ax2.set_ylabel("activation regions on the plane")
    f2 = Figure("along-training", "Number of regions on the same plane along training.", fig_to_png(fig2))
    b = r.bounds
    return SectionContent(
        "Linear regions (exact, on a 2-D slice)",
        summary={"activation regions": r.activation_regions, "linear regions": r.linear_regions,
                 "decision-boundary segments": len(r.decision_boundary), "tiling error": r.tiling_error},
        paragraphs=["Exact partition of the 2-D affine slice of input space through three training inputs (convex-polygon "
                    "splitting layer by layer, float64; the region areas tile the slice). Bounds for the whole input space "
                    "(64 inputs) are astronomically larger than the slice count and are listed for reference."],
        tables=[Table(["step", "activation regions"], counts, "Regions along training"),
                Table(["bound", "value"], [[k, v] for k, v in b.items() if not k.endswith("valid")], "Upper/lower bounds (full input space)")],
        figures=[f1, f2], data={"counts": counts},
    )
