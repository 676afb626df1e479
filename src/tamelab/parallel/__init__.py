"""Executors (serial | dask) behind one ``map`` interface."""

from ._executor import Executor as Executor
from ._executor import SerialExecutor as SerialExecutor
from ._executor import get_executor as get_executor

__all__ = ["Executor", "SerialExecutor", "get_executor"]
