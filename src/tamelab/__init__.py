"""TameLab: the mathematics of deep networks, computable and checkable.

Capabilities live in sub-packages (``models``, ``data``, ``train``, ``relu``, ``landscape``, ``tame``,
``exact``, ``algebraic``, ``bounds``); results are :class:`~tamelab.result.Result` dataclasses with a
status, a certificate and a seed. The CLI (``tamelab``) is a thin layer over these functions.

Sub-packages load on first use (as in NumPy and SciPy): ``import tamelab`` stays cheap, and
``tamelab.tame.certify(...)`` or ``tamelab.atlas(model, train, test, out="runs/atlas")`` work without
importing the sub-package first.
"""

from __future__ import annotations

import importlib as _importlib
import os as _os
from typing import Any as _Any

__version__ = "0.1.0"

from . import errors as errors  # noqa: E402
from .errors import ComputationError as ComputationError  # noqa: E402
from .errors import InputError as InputError  # noqa: E402
from .errors import NotApplicableError as NotApplicableError  # noqa: E402
from .result import SCHEMA_VERSION as SCHEMA_VERSION  # noqa: E402
from .result import Result as Result  # noqa: E402
from .result import Status as Status  # noqa: E402

_CANDIDATES = (
    "algebraic",
    "atlas",
    "bounds",
    "claims",
    "config",
    "data",
    "exact",
    "inputs",
    "landscape",
    "losses",
    "models",
    "parallel",
    "relu",
    "report",
    "result",
    "runstore",
    "tame",
    "tasks",
    "testing",
    "train",
)
_HERE = _os.path.dirname(__file__)
#: sub-packages and modules imported on first attribute access (those present in this installation)
SUBMODULES = tuple(
    m
    for m in _CANDIDATES
    if _os.path.isdir(_os.path.join(_HERE, m)) or _os.path.isfile(_os.path.join(_HERE, m + ".py"))
)

__all__ = [
    "__version__",
    "errors",
    "InputError",
    "NotApplicableError",
    "ComputationError",
    "Result",
    "Status",
    "SCHEMA_VERSION",
    *[m for m in SUBMODULES if m not in ("errors",)],
]


def __getattr__(name: str) -> _Any:
    if name in SUBMODULES:
        try:
            return _importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:  # e.g. a sub-package that does not exist in this version
            if e.name == f"{__name__}.{name}":
                raise AttributeError(f"module 'tamelab' has no attribute {name!r}") from None
            raise
    raise AttributeError(f"module 'tamelab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(SUBMODULES))
