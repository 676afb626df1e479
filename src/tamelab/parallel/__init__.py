"""Executors (serial | dask) behind one ``map`` interface."""

from ._executor import Executor as Executor
from ._executor import SerialExecutor as SerialExecutor
from ._executor import get_executor as get_executor

__all__ = ["Executor", "SerialExecutor", "get_executor"]
from ._tasks import all_tasks as all_tasks  # noqa: E402
from ._tasks import get_task as get_task  # noqa: E402
from ._tasks import register_task as register_task  # noqa: E402

__all__ += ["register_task", "get_task", "all_tasks"]
from . import _builtin_tasks as _builtin_tasks  # noqa: E402,F401  (registers "ridge")
from ._sweep import SweepSpec as SweepSpec  # noqa: E402
from ._sweep import run_sweep as run_sweep  # noqa: E402

__all__ += ["SweepSpec", "run_sweep"]
