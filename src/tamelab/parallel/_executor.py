"""Executors: one interface, ``serial`` and ``dask`` back-ends.

Geometry code receives an executor and calls ``executor.map(fn, items)``
with a plain picklable top-level function; it never imports Dask.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, Sequence

__all__ = ["Executor", "SerialExecutor", "get_executor"]


class Executor(Protocol):
    name: str

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], *, desc: str = "") -> list[Any]:
        """Apply ``fn`` to every item; results in input order."""
        ...

    def close(self) -> None: ...


class SerialExecutor:
    """Runs everything in the calling process (with a progress bar)."""

    name = "serial"

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], *, desc: str = "") -> list[Any]:
        from .._progress import progress

        return [fn(x) for x in progress(list(items), desc=desc or getattr(fn, "__name__", "tasks"))]

    def close(self) -> None:
        return None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def get_executor(kind: str = "serial", *, workers: int | None = None, scheduler: str | None = None) -> Executor:
    """``serial`` or ``dask`` (LocalCluster with ``workers``, or an existing ``scheduler`` address)."""
    from ..errors import InputError

    if kind == "serial":
        return SerialExecutor()
    if kind == "dask":
        from ._dask import DaskExecutor  # optional dependency, imported lazily

        return DaskExecutor(workers=workers, scheduler=scheduler)
    raise InputError("--executor", f"unknown executor {kind!r}", "use serial or dask")
