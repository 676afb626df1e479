"""Writing figures in the format a user asks for (``--format png|svg|pdf``), for every command."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

__all__ = ["FIGURE_FORMATS", "fig_to_bytes", "save_figure"]

#: figure formats the atlas (``format=``) and every command's ``--format`` write.
FIGURE_FORMATS = ("png", "svg", "pdf")


def _check(fmt: str, field: str = "--format") -> str:
    if fmt not in FIGURE_FORMATS:
        from ..errors import InputError

        raise InputError(field, f"unknown figure format {fmt!r}", f"use one of {', '.join(FIGURE_FORMATS)}")
    return fmt


def fig_to_bytes(fig, format: str = "png", *, dpi: int = 110, close: bool = True) -> bytes:
    """Render a matplotlib figure to ``format`` bytes, reproducibly (no timestamps).

    Render a matplotlib figure to ``format`` (png, svg, pdf) bytes without timestamps (the same figure
    gives the same bytes) and close it unless ``close=False``.
    """
    _check(format, "format")
    meta = {
        "png": {"Software": None},
        "svg": {"Date": None, "Creator": None},
        "pdf": {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None},
    }[format]
    buf = io.BytesIO()
    kw: dict[str, Any] = {"format": format, "dpi": dpi, "bbox_inches": "tight", "metadata": meta}
    if format == "svg":
        import matplotlib

        with matplotlib.rc_context({"svg.hashsalt": "tamelab"}):
            fig.savefig(buf, **kw)
    else:
        fig.savefig(buf, **kw)
    if close:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return buf.getvalue()


def save_figure(fig, path: str | os.PathLike, format: str | None = None, *, dpi: int = 110, close: bool = True) -> Path:
    """Write a matplotlib figure atomically as ``format`` (``png``, ``svg`` or ``pdf``).

    Write a matplotlib figure atomically as ``format`` (``png``, ``svg`` or ``pdf``; default: the
    path's suffix, else PNG). The suffix of ``path`` is replaced by the format's; returns the path.

    Example (a CLI command with ``--format``)::

        save_figure(fig, out / "figures" / "surface", fmt)   # writes surface.svg for fmt="svg"
    """
    from ..runstore import atomic_write_bytes

    p = Path(path)
    fmt = _check(format or (p.suffix.lstrip(".").lower() if p.suffix else "png"))
    return atomic_write_bytes(p.with_suffix("." + fmt), fig_to_bytes(fig, fmt, dpi=dpi, close=close))
