"""Small plotting helpers shared by the atlas sections (axes that read well)."""

from __future__ import annotations

import numpy as np

__all__ = ["set_yscale_for"]


def set_yscale_for(ax, *series, decades: float = 1.0) -> str:
    """Log y-axis when the positive values of ``series`` span more than ``decades`` decades, else linear.

    Log y-axis when the positive values of ``series`` span more than ``decades`` decades, else linear
    (a log axis over a narrow range labels its ticks as 5.635 × 10⁻¹). Returns the scale chosen.
    """
    vals = np.concatenate([np.asarray(s, dtype=float).ravel() for s in series if s is not None and len(s)] or [[]])
    vals = vals[np.isfinite(vals) & (vals > 0)]
    if vals.size >= 2 and np.log10(vals.max() / vals.min()) > decades:
        ax.set_yscale("log")
        return "log"
    ax.set_yscale("linear")
    return "linear"
