"""Self-contained HTML reports rendered from saved run directories, and number formatting for people."""

from ._figures import FIGURE_FORMATS as FIGURE_FORMATS
from ._figures import fig_to_bytes as fig_to_bytes
from ._figures import save_figure as save_figure
from .._format import fmt_seconds as fmt_seconds
from .._format import fmt_value as fmt_value
from ._render import check_document as check_document
from ._render import load_document as load_document
from ._render import render_document as render_document
from ._render import render_report as render_report
from ._render import write_report as write_report

__all__ = [
    "render_report",
    "write_report",
    "render_document",
    "load_document",
    "check_document",
    "fmt_value",
    "fmt_seconds",
    "save_figure",
    "fig_to_bytes",
    "FIGURE_FORMATS",
]
