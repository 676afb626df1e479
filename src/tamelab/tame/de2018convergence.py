"""Compatibility path for the RMSProp/ADAM theorems: the code lives in :mod:`tamelab.tame.theorems`.

New code imports from the facade :mod:`tamelab.tame` (or from :mod:`tamelab.tame.theorems`).
"""

from .theorems import *  # noqa: F401,F403
from .theorems import __all__ as __all__  # noqa: F401
