"""Compatibility path for the Goldstein stationarity: the code lives in :mod:`tamelab.tame.nonsmooth`.

New code imports from the facade :mod:`tamelab.tame` (or from :mod:`tamelab.tame.nonsmooth`).
"""

from .nonsmooth import *  # noqa: F401,F403
from .nonsmooth import __all__ as __all__  # noqa: F401
