"""Compatibility path for the ReLU'(0) study: the code lives in :mod:`tamelab.tame.relu_prime`.

New code imports from the facade :mod:`tamelab.tame` (or from :mod:`tamelab.tame.relu_prime`).
"""

from .relu_prime import *  # noqa: F401,F403
from .relu_prime import __all__ as __all__  # noqa: F401
