"""Tasks: one config + ``run()`` per command — what the CLI command and a sweep both call.

Each task is a :class:`Task`: a pydantic config class (every field a TOML key and a command-line
option, with its default stated once) and ``run(config) -> Result`` that loads what the config
names and calls the capability functions. :func:`run_task` validates a config, checks every output
path, locks the run directory, runs the task and writes the run directory; :func:`run_sweep` does
the same for every point of a parameter grid, through an executor (:mod:`tamelab.parallel`).

>>> from tamelab.tasks import get_task
>>> get_task("ridge").config(lam=0.5).lam
0.5

Built-in task modules are imported on first use (``get_task``, or an attribute below). Layering:
tasks sit above the capabilities (``train relu landscape ...``) and below the CLI; nothing here
imports :mod:`tamelab.cli`.
"""

from typing import Any

from ._registry import BUILTIN as BUILTIN
from ._registry import Annotated as Annotated
from ._registry import GenericConfig as GenericConfig
from ._registry import Task as Task
from ._registry import all_tasks as all_tasks
from ._registry import get_task as get_task
from ._registry import register_task as register_task
from ._runner import TaskRun as TaskRun
from ._runner import default_out as default_out
from ._runner import figure_bytes as figure_bytes
from ._runner import prepare as prepare
from ._runner import run_task as run_task
from ._spec import TaskConfig as TaskConfig
from ._spec import option as option
from ._sweep import MAX_TASKS as MAX_TASKS
from ._sweep import SweepResult as SweepResult
from ._sweep import SweepSpec as SweepSpec
from ._sweep import SweepWarning as SweepWarning
from ._sweep import grid_size as grid_size
from ._sweep import iter_points as iter_points
from ._sweep import run_sweep as run_sweep
from ._sweep import task_key as task_key

#: library functions that used to live in CLI commands: name → task module (imported on first use).
_LAZY = {
    "HessianSummary": "curvature",
    "hessian_summary": "curvature",
    "plot_density": "curvature",
    "plot_surface": "curvature",
    "erm_targets": "exact",
    "regions_domain": "geometry",
}
_MODULES = ("algebraic", "atlas", "bounds", "claims", "curvature", "exact", "geometry", "ridge", "tame", "train")


def __getattr__(name: str) -> Any:
    import importlib

    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    # registry and runner
    "Task",
    "TaskConfig",
    "option",
    "register_task",
    "get_task",
    "all_tasks",
    "run_task",
    "prepare",
    "TaskRun",
    "default_out",
    "figure_bytes",
    "Annotated",
    "GenericConfig",
    "BUILTIN",
    # sweeps
    "SweepSpec",
    "SweepResult",
    "SweepWarning",
    "run_sweep",
    "grid_size",
    "iter_points",
    "task_key",
    "MAX_TASKS",
    # library functions that used to live in CLI commands
    "hessian_summary",
    "HessianSummary",
    "plot_density",
    "plot_surface",
    "erm_targets",
    "regions_domain",
    # task modules
    "algebraic",
    "atlas",
    "bounds",
    "claims",
    "curvature",
    "exact",
    "geometry",
    "ridge",
    "tame",
    "train",
]
