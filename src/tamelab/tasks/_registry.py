"""The task registry: a name → :class:`Task` (config class + ``run``), what the CLI and a sweep both call.

A task is registered once, where it is defined (``register_task(Task(...))`` at the bottom of its
module); importing :mod:`tamelab.tasks` registers the built-in ones. Nothing here imports the CLI.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

from ..errors import InputError
from ..result import Result
from ._spec import TaskConfig

__all__ = ["Task", "register_task", "get_task", "all_tasks", "GenericConfig", "Annotated", "result_dict"]


class GenericConfig(TaskConfig):
    """Config of a task registered without a config class: any fields, passed on as a dict."""

    model_config = {"extra": "allow"}


@dataclasses.dataclass(frozen=True)
class Task:
    """One command's work, callable from the CLI, a sweep, or Python.

    Attributes:
        name: the task's name (the CLI command, ``command = "..."`` in a sweep file).
        config: the pydantic config class (every field a TOML key and a CLI option).
        run: ``run(config, *, out_dir=None) -> Result`` (``out_dir``: the run directory, for tasks
            that checkpoint; ``None`` from Python).
        help: one paragraph for ``--help``.
        figures: ``figures(result, config) -> {name: matplotlib Figure}`` drawn into ``figures/``.
        models: ``models(result) -> {file name: nn.Module}`` saved next to ``result.json`` with
            :func:`tamelab.models.save` (so a later task can take them as ``MODEL``).
        after: ``after(config, out_dir)`` once the run directory is complete (e.g. drop a checkpoint).
        writes_run_dir: the task writes its own run directory (``result.json`` last, as
            :func:`tamelab.runstore.write_run` does; e.g. the atlas with its ``report.html``): the runner
            only validates, locks and runs it, then reads its ``result.json``.
    """

    name: str
    config: type[TaskConfig]
    run: Callable[..., Any]
    help: str = ""
    figures: Callable[[Any, Any], Mapping[str, Any]] | None = None
    models: Callable[[Any], Mapping[str, Any]] | None = None
    after: Callable[[Any, Any], None] | None = None
    writes_run_dir: bool = False

    def validate(
        self,
        config: TaskConfig | Mapping[str, Any] | None = None,
        *,
        source: str = "config",
        name: Callable[[str], str] | None = None,
    ) -> TaskConfig:
        """The validated config (one :class:`InputError` line naming the field otherwise)."""
        from ..config import validate

        if isinstance(config, self.config):
            return config
        if isinstance(config, TaskConfig):
            config = config.model_dump()
        cfg = validate(self.config, dict(config or {}), source=source, name=name)
        return cfg


_TASKS: dict[str, Task] = {}

#: built-in tasks → the module that registers them, imported on first use (so a Dask worker running a
#: ``ridge`` sweep never imports torch, and ``import tamelab.tasks`` stays cheap).
BUILTIN: dict[str, str] = {
    "train": "train",
    "hessian": "curvature",
    "landscape": "curvature",
    "connect": "curvature",
    "regions": "geometry",
    "tropical": "geometry",
    "bound": "bounds",
    "certify": "tame",
    "stationarity": "tame",
    "study-relu-prime-zero": "tame",
    "study-adam-vs-nag": "tame",
    "erm": "exact",
    "construct-chen-ewald": "exact",
    "neuromanifold": "algebraic",
    "critical": "algebraic",
    "ridge": "ridge",
    "atlas": "atlas",
    "claims": "claims",
}


def register_task(
    task: Task | str, run: Callable[..., Any] | None = None, *, config: type[TaskConfig] | None = None, **kw: Any
) -> Task:
    """Register ``task`` (or build one from ``name, run, config=...``) and return it.

    A plain function ``fn(config: dict) -> dict | Result`` may be registered without a config
    class; its config then accepts any field (prefer a config class: it rejects typos).
    """
    if isinstance(task, str):
        if run is None:
            raise TypeError("register_task(name, run): run is required")
        if config is None:
            fn = run

            def run(cfg: TaskConfig, *, out_dir: Any = None, _fn: Callable[..., Any] = fn) -> Any:
                return _fn(cfg.model_dump())

            config = GenericConfig
        task = Task(task, config, run, **kw)
    _TASKS[task.name] = task
    return task


def get_task(name: str | Task, *, field: str = "task") -> Task:
    """The registered task ``name`` (an :class:`InputError` listing the available ones otherwise)."""
    if isinstance(name, Task):
        return name
    if isinstance(name, str) and name not in _TASKS and name in BUILTIN:
        import importlib

        importlib.import_module(f"{__package__}.{BUILTIN[name]}")
    if not isinstance(name, str) or name not in _TASKS:
        raise InputError(field, f"unknown task {name!r}", f"available: {', '.join(all_tasks()) or 'none'}")
    return _TASKS[name]


def all_tasks() -> list[str]:
    """Names of the registered tasks (built-in ones included before their module is imported)."""
    return sorted(set(_TASKS) | set(BUILTIN))


def result_dict(result: Any) -> dict[str, Any]:
    """The JSON document of a task's result (``Result.to_dict()``, or a mapping as it is)."""
    if isinstance(result, Result) or hasattr(result, "to_dict"):
        return dict(result.to_dict())
    if isinstance(result, Mapping):
        return dict(result)
    raise TypeError(f"a task returned {type(result).__name__}; expected a Result or a mapping")


@dataclasses.dataclass
class Annotated:
    """A capability's result with a few more JSON keys (what it was computed on, optional extras).

    Attributes:
        result: the capability's :class:`~tamelab.result.Result` (everything it says is kept).
        extra: keys added to its JSON (they win over the result's own keys of the same name).
    """

    result: Any
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def seconds(self) -> float:
        """The wrapped result's wall time."""
        return float(getattr(self.result, "seconds", 0.0) or 0.0)

    @seconds.setter
    def seconds(self, value: float) -> None:
        if hasattr(self.result, "seconds"):
            self.result.seconds = value

    @property
    def status(self) -> Any:
        """The wrapped result's status."""
        return getattr(self.result, "status", None)

    def to_dict(self) -> dict[str, Any]:
        """The wrapped result's JSON with the extra keys."""
        return {**result_dict(self.result), **self.extra}

    def arrays(self) -> dict[str, Any]:
        """The wrapped result's arrays."""
        return dict(self.result.arrays()) if hasattr(self.result, "arrays") else {}
