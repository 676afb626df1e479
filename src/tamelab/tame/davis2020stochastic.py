"""Compatibility path for the DDKL convergence monitor: the code lives in :mod:`tamelab.tame.monitors`.

New code imports from the facade :mod:`tamelab.tame` (or from :mod:`tamelab.tame.monitors`).
"""

from .monitors import *  # noqa: F401,F403
from .monitors import __all__ as __all__  # noqa: F401
