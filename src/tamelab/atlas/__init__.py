"""The geometric atlas of a trained network (``tamelab atlas``)."""

from ._run import AtlasRun as AtlasRun
from ._registry import Figure as Figure
from ._registry import SectionContent as SectionContent
from ._registry import Table as Table
from ._registry import all_sections as all_sections
from ._registry import fig_to_png as fig_to_png
from ._registry import section as section

__all__ = ["AtlasRun", "section", "all_sections", "SectionContent", "Table", "Figure", "fig_to_png"]


def __getattr__(name):  # lazy: the runner imports train/report, sections only need the registry
    if name in ("run_atlas", "AtlasConfig", "default_config"):
        from . import _atlas

        return getattr(_atlas, name)
    raise AttributeError(name)


__all__ += ["run_atlas", "AtlasConfig", "default_config"]
