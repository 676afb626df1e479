"""Progress bars on stderr (tqdm), silenced by ``--quiet`` or ``TAMELAB_QUIET=1``."""

from __future__ import annotations

import os
import sys
from typing import Iterable, TypeVar, cast

T = TypeVar("T")
_QUIET = False

__all__ = ["progress", "set_quiet", "is_quiet"]


def set_quiet(q: bool) -> None:
    global _QUIET
    _QUIET = bool(q)


def is_quiet() -> bool:
    return _QUIET or os.environ.get("TAMELAB_QUIET", "") not in ("", "0")


def progress(it: Iterable[T], *, desc: str = "", total: int | None = None, leave: bool = False) -> Iterable[T]:
    """Wrap an iterable in a tqdm bar on stderr unless quiet or stderr is not a TTY."""
    if is_quiet() or not sys.stderr.isatty():
        return it
    from tqdm.auto import tqdm

    return cast(Iterable[T], tqdm(it, desc=desc, total=total, leave=leave, file=sys.stderr, mininterval=0.5))
