"""The geometric atlas of a network: every applicable section, one report.

``tamelab.atlas(model, train=..., test=..., loss=..., out=...)`` atlases any model (the package is
callable and forwards to :func:`atlas`, also importable as ``from tamelab.atlas import atlas``);
:func:`run_atlas` trains and atlases the built-in MLP from a config (``tamelab atlas`` without
``--model``). Sections register with :func:`section` and return :class:`SectionContent`.
"""

import sys as _sys
import types as _types

from ._registry import Figure as Figure
from ._registry import SectionContent as SectionContent
from ._registry import SectionSpec as SectionSpec
from ._registry import Table as Table
from ._registry import all_sections as all_sections
from ._registry import fig_to_bytes as fig_to_bytes
from ._registry import fig_to_png as fig_to_png
from ._registry import section as section
from ._atlas import AtlasConfig as AtlasConfig
from ._atlas import AtlasResult as AtlasResult
from ._atlas import TrainSettings as TrainSettings
from ._atlas import atlas as atlas
from ._atlas import default_config as default_config
from ._atlas import run_atlas as run_atlas
from ._atlas import select_sections as select_sections
from ._run import AtlasRun as AtlasRun

__all__ = [
    "atlas",
    "run_atlas",
    "AtlasResult",
    "AtlasConfig",
    "TrainSettings",
    "default_config",
    "select_sections",
    "AtlasRun",
    "section",
    "all_sections",
    "SectionSpec",
    "SectionContent",
    "Table",
    "Figure",
    "fig_to_png",
    "fig_to_bytes",
]


class _CallableModule(_types.ModuleType):
    """Makes ``tamelab.atlas(model, ...)`` call :func:`tamelab.atlas.atlas`."""

    def __call__(self, *args, **kwargs):
        return atlas(*args, **kwargs)


_sys.modules[__name__].__class__ = _CallableModule
