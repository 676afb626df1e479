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
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["SCHEMA_VERSION", "Status", "Result", "Plottable", "to_jsonable", "provenance"]

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
        """What the status means, in one sentence."""
        return _STATUS_MESSAGES[self]


_STATUS_MESSAGES = {
    Status.OK: "computed; every certificate the result states holds (an estimate without one is just computed)",
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


_REPR_MAX = 600  # characters of a result's repr before it is shortened


def _short(v: Any) -> str:
    """A value in a few characters: scalars as numbers, containers and arrays as their shape."""
    from ._format import fmt_value

    if isinstance(v, enum.Enum):
        return repr(v.value)
    if v is None or isinstance(v, bool):
        return repr(v)
    if isinstance(v, (int, np.integer)):
        return repr(int(v)) if abs(int(v)) < 10**12 else fmt_value(int(v))
    if isinstance(v, (float, np.floating)):
        x = float(v)
        if not math.isfinite(x):
            return repr(x)
        t = f"{x:.6g}"
        return t + ".0" if t.lstrip("-").isdigit() else t
    if isinstance(v, str):
        return repr(v) if len(v) <= 60 else repr(v[:57] + "…")
    if isinstance(v, Path):
        return repr(str(v))
    if isinstance(v, np.ndarray):
        return f"<array {'×'.join(map(str, v.shape)) or 'scalar'} {v.dtype}>"
    if type(v).__name__ in ("Tensor", "Parameter") and hasattr(v, "shape"):
        return f"<tensor {'×'.join(map(str, tuple(v.shape))) or 'scalar'} {str(v.dtype).removeprefix('torch.')}>"
    if isinstance(v, (list, tuple)):
        if len(v) <= 4 and all(isinstance(x, (int, float, str, bool, np.number)) or x is None for x in v):
            inner = ", ".join(_short(x) for x in v)
            return f"[{inner}]" if isinstance(v, list) else f"({inner}{',' if len(v) == 1 else ''})"
        shape = [len(v)]
        first = v[0] if v else None
        while isinstance(first, (list, tuple)) and len(shape) < 4:
            shape.append(len(first))
            first = first[0] if first else None
        return f"<{type(v).__name__} {'×'.join(map(str, shape))}>"
    if isinstance(v, dict):
        if len(v) <= 3 and all(isinstance(x, (int, float, str, bool)) or x is None for x in v.values()):
            return "{" + ", ".join(f"{k!r}: {_short(x)}" for k, x in v.items()) + "}"
        return f"<dict with {len(v)} keys>"
    return f"<{type(v).__name__}>"


def _result_repr(self: Any) -> str:
    """A short summary: scalar fields as values, arrays and long containers as their shape."""
    parts = [f"{f.name}={_short(getattr(self, f.name, None))}" for f in dataclasses.fields(self) if f.repr]
    head = f"{type(self).__name__}("
    out: list[str] = []
    size = len(head)
    for i, p in enumerate(parts):
        if size + len(p) + 2 > _REPR_MAX:
            out.append(f"… {len(parts) - i} more fields")
            break
        out.append(p)
        size += len(p) + 2
    return head + ", ".join(out) + ")"


def _result_repr_html(self: Any) -> str:
    """The result as an HTML table (Jupyter's rich display): status first, then every field, shortened."""
    import html

    from ._format import fmt_value

    rows = []
    for f in dataclasses.fields(self):
        if not f.repr:
            continue
        v = getattr(self, f.name, None)
        txt = (
            fmt_value(v.value if isinstance(v, enum.Enum) else v)
            if isinstance(v, (int, float, str, bool, enum.Enum)) or v is None
            else _short(v)
        )
        rows.append(
            f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(f.name)}</th>"
            f"<td style='text-align:left'>{html.escape(txt)}</td></tr>"
        )
    status = (
        Status(self.status) if self.status in Status._value2member_map_ or isinstance(self.status, Status) else None
    )
    msg = f" — {html.escape(status.message)}" if status is not None else ""
    return f"<div><strong>{html.escape(type(self).__name__)}</strong>{msg}<table>{''.join(rows)}</table></div>"


@runtime_checkable
class Plottable(Protocol):
    """Results that have a figure implement ``plot(ax=None)``:

    draw on ``ax`` (a new figure when ``None``) and return the matplotlib figure.
    """

    def plot(self, ax: Any = None) -> Any:
        """Draw on ``ax`` (a new figure when ``None``) and return the matplotlib figure."""
        ...


@dataclasses.dataclass
class Result:
    """Base of every capability result.

    Subclasses add their numbers and their certificate. ``repr(result)`` is a short summary (arrays and
    long lists shown by their shape); in Jupyter the result displays as a table (``_repr_html_``);
    results with a figure implement ``plot(ax=None)`` (:class:`Plottable`).

    Attributes:
        status: the outcome (:class:`Status`; ``ok`` means computed, and every certificate the result states holds).
        seed: the integer seed actually used (``None`` when nothing was random).
        seconds: wall time (excluded from reproducibility comparisons).
    """

    status: Status = Status.OK
    seed: int | None = None
    seconds: float = 0.0

    kind = "result"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # before @dataclass runs: it keeps a __repr__ the class already has, so every subclass is short too
        if "__repr__" not in cls.__dict__:
            cls.__repr__ = _result_repr  # type: ignore[method-assign,assignment]

    __repr__ = _result_repr
    _repr_html_ = _result_repr_html

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data, with ``schema_version``, ``kind`` and ``status_message``."""
        d: dict[str, Any] = to_jsonable(self)
        d["schema_version"] = SCHEMA_VERSION
        d["kind"] = type(self).kind
        d["status_message"] = Status(self.status).message
        return d

    def arrays(self) -> dict[str, np.ndarray]:
        """Large arrays to store in ``arrays.npz`` (default: none)."""
        return {}

    @property
    def ok(self) -> bool:
        """Whether the status is ``ok`` (computed; every certificate the result states holds)."""
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
