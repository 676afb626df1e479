"""The atlas section registry.

A capability adds a section to ``tamelab atlas`` by putting a module under
``tamelab/atlas/sections/`` that registers a function with :func:`section`.
The function receives the trained :class:`AtlasRun` and returns a
:class:`SectionContent`: structured text, tables, figures and JSON data — never
raw HTML (the report escapes every string it renders). A section that raises
is recorded as failed with its error; the rest of the atlas still renders.
"""

from __future__ import annotations

import dataclasses
import importlib
import io
import pkgutil
from typing import Any, Callable

__all__ = ["SectionContent", "Table", "Figure", "section", "all_sections", "fig_to_png"]


@dataclasses.dataclass
class Table:
    columns: list[str]
    rows: list[list[Any]]
    caption: str = ""


@dataclasses.dataclass
class Figure:
    """A figure: ``name`` (file stem, [a-z0-9-]), caption, PNG bytes."""

    name: str
    caption: str
    png: bytes = dataclasses.field(repr=False)


@dataclasses.dataclass
class SectionContent:
    """What a section shows. ``summary``: headline numbers (name → scalar/str)."""

    title: str
    summary: dict[str, Any] = dataclasses.field(default_factory=dict)
    paragraphs: list[str] = dataclasses.field(default_factory=list)
    tables: list[Table] = dataclasses.field(default_factory=list)
    figures: list[Figure] = dataclasses.field(default_factory=list)
    data: dict[str, Any] = dataclasses.field(default_factory=dict)
    status: str = "ok"


@dataclasses.dataclass
class SectionSpec:
    id: str
    title: str
    order: int
    fn: Callable[[Any], SectionContent]
    default: bool = True


_SECTIONS: dict[str, SectionSpec] = {}


def section(id: str, *, title: str, order: int = 100, default: bool = True):
    """Register an atlas section. ``order`` sorts sections in the report."""

    def deco(fn):
        _SECTIONS[id] = SectionSpec(id, title, order, fn, default)
        return fn

    return deco


_DISCOVERED = False


def all_sections() -> list[SectionSpec]:
    global _DISCOVERED
    if not _DISCOVERED:
        from . import sections

        for mod in sorted(pkgutil.iter_modules(sections.__path__), key=lambda m: m.name):
            importlib.import_module(f"{sections.__name__}.{mod.name}")
        _DISCOVERED = True
    return sorted(_SECTIONS.values(), key=lambda s: (s.order, s.id))


def fig_to_png(fig, *, dpi: int = 110) -> bytes:
    """Render a matplotlib figure to PNG bytes and close it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()
