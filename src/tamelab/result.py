"""Structured results: a status, the numbers, the certificate, the seed.

Every capability returns a dataclass deriving from :class:`Result`. It
serialises to JSON with a ``schema_version`` (``to_dict``) and, for large
arrays, to ``.npz`` (``arrays``). Statuses carry a human-readable message
(optimistix ``RESULTS`` style).
"""

from __future__ import annotations

import dataclasses
import enum
import math
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["SCHEMA_VERSION", "Status", "Result", "to_jsonable", "provenance"]

#: Version of the JSON layout of every result; bump on breaking changes.
SCHEMA_VERSION = 1


class Status(str, enum.Enum):
    """Outcome of a computation. ``str`` subclass so it serialises as its value."""

    OK = "ok"
    NOT_CONVERGED = "not_converged"
    INFEASIBLE = "infeasible"
    BUDGET_EXCEEDED = "budget_exceeded"
    UNCERTIFIED = "uncertified"
    FAILED = "failed"

    @property
    def message(self) -> str:
        return _STATUS_MESSAGES[self]


_STATUS_MESSAGES = {
    Status.OK: "computed and certified",
    Status.NOT_CONVERGED: "iteration stopped before its convergence test passed; values are not certified",
    Status.INFEASIBLE: "the problem's assumptions are violated (see certificate)",
    Status.BUDGET_EXCEEDED: "the requested work exceeds the stated budget",
    Status.UNCERTIFIED: "a value was computed but could not be certified",
    Status.FAILED: "the computation failed",
}


def to_jsonable(obj: Any) -> Any:
    """Convert dataclasses, numpy/torch values, enums and paths to JSON types.

    Non-finite floats become the strings ``"nan"``, ``"inf"``, ``"-inf"`` so the
    output is strict JSON.
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.repr}
    if isinstance(obj, enum.Enum):
        return to_jsonable(obj.value)
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer, int)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        x = float(obj)
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return x
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if obj is None or isinstance(obj, str):
        return obj
    torch = sys.modules.get("torch")  # a tensor exists only if torch is loaded: never import it here
    if torch is not None and isinstance(obj, torch.Tensor):
        return to_jsonable(obj.detach().cpu().numpy())
    if hasattr(obj, "to_dict"):
        return to_jsonable(obj.to_dict())
    return str(obj)


@dataclasses.dataclass
class Result:
    """Base of every capability result.

    Subclasses add their numbers and their certificate. ``seed`` is the
    integer seed actually used; ``seconds`` the wall time (excluded from
    reproducibility comparisons).
    """

    status: Status = Status.OK
    seed: int | None = None
    seconds: float = 0.0

    kind = "result"

    def to_dict(self) -> dict[str, Any]:
        d = to_jsonable(self)
        d["schema_version"] = SCHEMA_VERSION
        d["kind"] = type(self).kind
        d["status_message"] = Status(self.status).message
        return d

    def arrays(self) -> dict[str, np.ndarray]:
        """Large arrays to store in ``arrays.npz`` (default: none)."""
        return {}

    @property
    def ok(self) -> bool:
        return Status(self.status) is Status.OK


def provenance() -> dict[str, Any]:
    """Versions of the software that produced a result.

    Versions are read from the installed distributions, so recording them never imports torch into
    a process that did not need it (a sweep worker running a NumPy task); ``torch_threads`` is the
    intra-op thread count when torch is loaded, else ``None``.
    """
    from importlib import metadata

    from . import __version__

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:  # pragma: no cover - every dependency is installed
            return None

    torch_mod = sys.modules.get("torch")
    return {
        "tamelab": __version__,
        "python": sys.version.split()[0],
        "torch": getattr(torch_mod, "__version__", None) or version("torch"),
        "numpy": np.__version__,
        "scipy": version("scipy"),
        "platform": platform.platform(),
        "torch_threads": torch_mod.get_num_threads() if torch_mod is not None else None,
    }
