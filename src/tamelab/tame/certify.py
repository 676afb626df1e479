"""Compatibility path for the tameness certificate: the code lives in :mod:`tamelab.tame.certificates.tameness`.

New code imports from the facade :mod:`tamelab.tame` (or from :mod:`tamelab.tame.certificates.tameness`).
"""

from .certificates.tameness import *  # noqa: F401,F403
from .certificates.tameness import __all__ as __all__  # noqa: F401
