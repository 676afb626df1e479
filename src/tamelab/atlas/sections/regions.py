"""Atlas section: exact linear regions on the plane through three training inputs, and along training."""

from __future__ import annotations

import inspect

import numpy as np
import torch

from ...relu import Plane, regions
from ...relu._plot import plot_partition
from ...report import fmt_value
from .._registry import Figure, SectionContent, Table, section


def _bound_rows(bounds) -> list[list]:
    """Rows ``[bound, value, holds here, meaning]`` from either bound layout:

    entries with ``value``/``valid``/ ``why`` attributes, or plain values with ``<name>_valid`` flags next to them.
    """
    rows = []
    if not isinstance(bounds, dict):
        return rows
    for k, b in bounds.items():
        if k.endswith("_valid"):
            continue
        if hasattr(b, "value") and hasattr(b, "valid"):
            value, valid, why = b.value, bool(b.valid), str(getattr(b, "why", ""))
        else:
            value, valid, why = b, bounds.get(f"{k}_valid", True), ""
            valid = bool(valid) if valid is not None else True
        rows.append([k.replace("_", " "), value, "yes" if valid else "no", why])
    return rows


def _pick_points(run) -> np.ndarray:
    """Three training inputs (from three different classes when there are labels), flattened."""
    n = min(run.n_train, 2000)
    X, T = run.tensors("train", n=n, dtype=torch.float64)
    Xf = X.reshape(X.shape[0], -1).cpu().numpy()
    rng = np.random.default_rng(run.seed)
    if run.classification:
        y = T.cpu().numpy()
        classes = rng.permutation(np.unique(y))
        if len(classes) >= 3:
            idx = [int(rng.choice(np.flatnonzero(y == c))) for c in classes[:3]]
            return Xf[idx]
    return Xf[rng.choice(len(Xf), 3, replace=False)]


@section(
    "regions",
    title="Linear regions (exact, on a 2-D slice of input space)",
    order=30,
    estimate=(5.0, 2.5),
)
def regions_section(run) -> SectionContent:
    """The section for ``run``: exact linear regions on the plane through three training inputs, and along training."""
    import matplotlib.pyplot as plt

    pts = _pick_points(run)
    plane = Plane.through(pts[0], pts[1], pts[2], margin=0.15)
    model = run.model_copy(torch.float64)
    # models that do not start with nn.Linear are lowered from an example input (when regions() supports it)
    kw = (
        {"example_input": run.example_input(1, torch.float64)}
        if "example_input" in inspect.signature(regions).parameters
        else {}
    )
    r = regions(model, plane, **kw)
    fig = plot_partition(r, title=f"{r.activation_regions} activation / {r.linear_regions} linear regions")
    ax = fig.axes[0]
    ax.plot([0, 1, 0], [0, 0, 1], "w^", ms=8, mec="k")
    ax.set_xlabel("plane coordinate u (x = x₀ + u (x₁ − x₀) + v (x₂ − x₀))")
    ax.set_ylabel("plane coordinate v")
    f1 = Figure(
        "plane",
        "Partition of the plane through three training inputs x₀, x₁, x₂ (triangles at (0,0), (1,0), "
        "(0,1)); colours = linear regions, red = decision boundary (the top two outputs tie).",
        fig=fig,
    )
    figures = [f1]
    tables = []
    counts = []
    if run.trained:
        step = max(1, len(run.snapshots) // (4 if run.quick else 10))
        idx = list(range(0, len(run.snapshots), step))
        if idx[-1] != len(run.snapshots) - 1:
            idx.append(len(run.snapshots) - 1)
        last = len(run.snapshots) - 1
        for i in idx:
            if i == last:  # the last snapshot is the model itself: its count is the one computed above
                counts.append([int(run.snapshot_steps[i]), r.activation_regions])
                continue
            m = run.model_at(i).double()
            counts.append(
                [
                    int(run.snapshot_steps[i]),
                    regions(m, plane, boundary=False, **kw).activation_regions,
                ]
            )
        fig2, ax2 = plt.subplots(figsize=(6, 3.3), layout="constrained")
        ax2.plot([c[0] for c in counts], [c[1] for c in counts], "o-")
        ax2.set_xlabel("optimisation step")
        ax2.set_ylabel("activation regions on the plane")
        ax2.set_title("regions along training")
        figures.append(
            Figure(
                "along-training",
                "Number of activation regions on the same plane along training.",
                fig=fig2,
            )
        )
        tables.append(Table(["step", "activation regions"], counts, "Regions along training"))
    brows = _bound_rows(getattr(r, "bounds", {}) or {})
    if brows:
        tables.append(
            Table(
                ["bound", "value", "holds here", "meaning"],
                brows,
                "Bounds on the number of regions in the whole input space; a bound whose hypotheses fail "
                "for these widths is marked 'no' and says nothing about this network.",
            )
        )
    d = int(np.prod(run.example_input(1).shape[1:]))
    verdict = (
        f"On the plane through three training inputs this network is piecewise linear with "
        f"{r.activation_regions:,} activation regions ({r.linear_regions:,} distinct linear pieces)"
    )
    if counts:
        verdict += f"; along training the count went from {counts[0][1]:,} to {counts[-1][1]:,}"
    upper = [b for b in brows if b[2] == "yes" and "upper" in b[0]]
    if upper:
        best = min(upper, key=lambda b: b[1])
        verdict += (
            f". In the whole {d}-dimensional input space no network of these widths has more than "
            f"{fmt_value(best[1])} regions ({best[0]})"
        )
    verdict += "."
    invalid = [b[0] for b in brows if b[2] == "no"]
    paras = [
        "Exact partition of the 2-D affine slice of input space through three training inputs (convex-polygon "
        "splitting layer by layer; the region areas tile the slice). A region is a set of inputs with one "
        "activation pattern; a linear region joins neighbouring activation regions on which the network computes "
        f"the same affine map. Bounds for the whole input space ({d} inputs) are far larger than the count on a "
        "slice and are listed for reference."
    ]
    if invalid:
        paras.append(
            "Not valid for these widths (their hypotheses fail, so their numbers are not bounds here): "
            + ", ".join(invalid)
            + "."
        )
    return SectionContent(
        "Linear regions (exact, on a 2-D slice of input space)",
        verdict=verdict,
        summary={
            "activation regions": r.activation_regions,
            "linear regions": r.linear_regions,
            "decision-boundary segments": len(r.decision_boundary),
            "tiling error": r.tiling_error,
        },
        paragraphs=paras,
        tables=tables,
        figures=figures,
        data={"counts": counts},
        status="ok" if r.ok else "uncertified",
    )
