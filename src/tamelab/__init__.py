"""TameLab: the mathematics of deep networks, computable and checkable.

Capabilities live in sub-packages (``models``, ``data``, ``train``, ``relu``,
``landscape``, ``tame``, ``exact``, ``algebraic``, ``bounds``); results are
:class:`~tamelab.result.Result` dataclasses with a status, a certificate and a
seed. The CLI (``tamelab``) is a thin layer over these functions.
"""

__version__ = "0.1.0"

from . import errors as errors  # noqa: E402
from .errors import ComputationError as ComputationError  # noqa: E402
from .errors import InputError as InputError  # noqa: E402
from .errors import NotApplicableError as NotApplicableError  # noqa: E402
from .result import SCHEMA_VERSION as SCHEMA_VERSION  # noqa: E402
from .result import Result as Result  # noqa: E402
from .result import Status as Status  # noqa: E402

__all__ = ["__version__", "errors", "InputError", "NotApplicableError", "ComputationError", "Result", "Status", "SCHEMA_VERSION"]
