"""Executors (serial | Dask) behind one ``map`` interface.

The bottom floor of the package's parallelism: geometry code receives an executor and calls
``executor.map(fn, items)`` with a plain picklable function. This package imports only the core
(``errors``, ``_progress``); the task registry and sweeps live in :mod:`tamelab.tasks`.
"""

from ._executor import Executor as Executor
from ._executor import SerialExecutor as SerialExecutor
from ._executor import get_executor as get_executor

__all__ = ["Executor", "SerialExecutor", "get_executor"]
