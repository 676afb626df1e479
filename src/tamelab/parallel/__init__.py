"""Executors (serial | dask) behind one ``map`` interface."""

from ._executor import Executor as Executor
from ._executor import SerialExecutor as SerialExecutor
from ._executor import get_executor as get_executor

__all__ = ["Executor", "SerialExecutor", "get_executor"]
from ._tasks import all_tasks as all_tasks  # noqa: E402
from ._tasks import get_task as get_task  # noqa: E402
from ._tasks import register_task as register_task  # noqa: E402

__all__ += ["register_task", "get_task", "all_tasks"]
