"""The atlas section registry.

A capability adds a section to the atlas by putting a module under ``tamelab/atlas/sections/`` that
registers a function with :func:`section`. The function receives the :class:`~tamelab.atlas.AtlasRun`
and returns a :class:`SectionContent`: a one-sentence verdict, headline numbers, text, tables, figures
and JSON data — never raw HTML (the report escapes every string it renders).

Outcomes. A section that returns is ``ok`` (or the status it sets, e.g. ``uncertified``). A section
whose mathematics does not apply to the model or the data raises
:class:`~tamelab.errors.NotApplicableError`: the atlas records ``not_applicable`` with the reason and
the report prints "not applicable: why". Any other exception is a section *failure*, shown as such
with its error; the rest of the atlas still runs and renders.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import re
from typing import Any, Callable

from ..report._figures import FIGURE_FORMATS, fig_to_bytes

__all__ = [
    "SectionContent",
    "Table",
    "Figure",
    "section",
    "all_sections",
    "fig_to_png",
    "fig_to_bytes",
    "SectionSpec",
    "FIGURE_FORMATS",
    "PARTS",
]

#: the report's parts: sections about the model, and reference constructions that are not about it.
PARTS = ("model", "reference")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclasses.dataclass
class Table:
    """A table of a section.

    Attributes:
        columns: column headers.
        rows: rows of cells (numbers are formatted by the report; strings are escaped).
        caption: one line above the table.
    """

    columns: list[str]
    rows: list[list[Any]]
    caption: str = ""


@dataclasses.dataclass
class Figure:
    """A figure of a section.

    Attributes:
        name: file stem, ``[a-z0-9-]`` (the file is ``<section>-<name>.<format>``).
        caption: what the figure shows (axes and colour bars carry their own labels).
        png: PNG bytes (when the section renders itself; see :func:`fig_to_png`).
        fig: a matplotlib figure: the atlas renders it as PNG for the report and in the requested
            ``format`` (svg, pdf) next to it, then closes it.
    """

    name: str
    caption: str
    png: bytes | None = dataclasses.field(default=None, repr=False)
    fig: Any = dataclasses.field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"figure name {self.name!r} must match [a-z0-9-]+")
        if (self.png is None) == (self.fig is None):
            raise ValueError("a Figure needs exactly one of png= (bytes) or fig= (a matplotlib figure)")


@dataclasses.dataclass
class SectionContent:
    """What a section shows.

    Attributes:
        title: the section's heading.
        verdict: one plain-language sentence saying what the section found for this model (shown first).
        summary: headline numbers, name → scalar or string.
        units: summary name → unit: ``"%"`` (a fraction shown as a percentage), ``"s"`` (seconds) or
            any unit string appended to the number.
        paragraphs: explanatory text (methods and references).
        tables: :class:`Table` entries.
        figures: :class:`Figure` entries.
        data: JSON data kept in ``result.json`` (not rendered except in the raw-data fold).
        status: ``"ok"``, or ``"uncertified"`` when a computed value could not be certified.
    """

    title: str
    verdict: str = ""
    summary: dict[str, Any] = dataclasses.field(default_factory=dict)
    units: dict[str, str] = dataclasses.field(default_factory=dict)
    paragraphs: list[str] = dataclasses.field(default_factory=list)
    tables: list[Table] = dataclasses.field(default_factory=list)
    figures: list[Figure] = dataclasses.field(default_factory=list)
    data: dict[str, Any] = dataclasses.field(default_factory=dict)
    status: str = "ok"


@dataclasses.dataclass
class SectionSpec:
    """A registered section.

    Attributes:
        id: short identifier (``--sections``/``--skip``).
        title: heading used when the section fails before producing content.
        order: position in the report.
        fn: ``AtlasRun -> SectionContent``.
        default: run when no ``sections`` are selected.
        part: ``"model"`` (about the atlas' model) or ``"reference"`` (a reference construction that does
            not depend on the model; the report sets it apart).
        estimate: typical seconds ``(default, quick)`` on the built-in model on 2 cores, for progress.
    """

    id: str
    title: str
    order: int
    fn: Callable[[Any], SectionContent]
    default: bool = True
    part: str = "model"
    estimate: tuple[float, float] = (5.0, 2.0)


_SECTIONS: dict[str, SectionSpec] = {}


def section(
    id: str,
    *,
    title: str,
    order: int = 100,
    default: bool = True,
    part: str = "model",
    estimate: tuple[float, float] = (5.0, 2.0),
):
    """Register an atlas section.

    ``order`` sorts sections in the report; ``part`` is ``"model"`` or ``"reference"``; ``estimate`` the typical seconds
    ``(default, quick)`` shown by the progress display.
    """
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, got {part!r}")

    def deco(fn):
        _SECTIONS[id] = SectionSpec(id, title, order, fn, default, part, tuple(estimate))
        return fn

    return deco


_DISCOVERED = False


def all_sections() -> list[SectionSpec]:
    """Every registered section (the modules of ``tamelab.atlas.sections`` are imported once), in order."""
    global _DISCOVERED
    if not _DISCOVERED:
        from . import sections

        for mod in sorted(pkgutil.iter_modules(sections.__path__), key=lambda m: m.name):
            importlib.import_module(f"{sections.__name__}.{mod.name}")
        _DISCOVERED = True
    return sorted(_SECTIONS.values(), key=lambda s: (s.order, s.id))


def fig_to_png(fig, *, dpi: int = 110) -> bytes:
    """Render a matplotlib figure to PNG bytes and close it."""
    return fig_to_bytes(fig, "png", dpi=dpi)
