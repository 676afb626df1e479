"""Sweepable tasks: a name → ``fn(config: dict) -> dict`` registry.

A CLI command module registers its plain function with :func:`register_task`
so ``tamelab sweep`` can run it over a grid (the function must be a top-level,
picklable function; ``config`` has the command's option names as keys and
must include ``seed`` where the task is random; the returned dict is the
command's JSON result).
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["register_task", "get_task", "all_tasks"]

_TASKS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def register_task(name: str, fn: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    _TASKS[name] = fn


def get_task(name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    from ..errors import InputError

    if name not in _TASKS:
        import tamelab.cli.main  # noqa: F401  (registers every command's task)
    if name not in _TASKS:
        raise InputError("sweep command", f"unknown task {name!r}", f"available: {', '.join(sorted(_TASKS)) or 'none'}")
    return _TASKS[name]


def all_tasks() -> list[str]:
    import tamelab.cli.main  # noqa: F401

    return sorted(_TASKS)
