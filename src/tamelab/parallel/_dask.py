"""Dask ``distributed`` back-end of the executor (the only module importing Dask).

``DaskExecutor(workers=N)`` starts a ``LocalCluster`` of N single-threaded
worker processes bound to 127.0.0.1 (dashboard off); ``scheduler="tcp://host:port"``
connects to an existing cluster instead. ``map`` preserves input order and
retries tasks whose worker died (``retries``), so losing a worker mid-run does
not lose the run; a local cluster tolerates ``allowed_failures`` worker deaths per task
(an external scheduler keeps its own ``distributed.scheduler.allowed-failures``).
"""

from __future__ import annotations

import uuid
from typing import Any, Callable, Sequence

from ..errors import InputError

__all__ = ["DaskExecutor"]

#: glibc allocator settings exported to local workers (bytes); see the note in ``DaskExecutor.__init__``.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": 16 * 2**20, "MALLOC_TRIM_THRESHOLD_": 256 * 2**20}


class DaskExecutor:
    name = "dask"

    def __init__(self, workers: int | None = None, scheduler: str | None = None, *, retries: int = 3,
                 allowed_failures: int = 20) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as e:  # pragma: no cover
            raise InputError("--executor", "dask is not installed", "pip install 'tamelab[dask]'") from e
        self.retries = retries
        self._cluster = None
        if scheduler:
            if not scheduler.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
                raise InputError("--scheduler", f"{scheduler!r} is not a scheduler address", "e.g. tcp://127.0.0.1:8786")
            self.client = Client(scheduler, timeout="20s")
        else:
            n = int(workers or 2)
            if n < 1:
                raise InputError("--workers", f"must be >= 1, got {n}")
            import dask

            # A worker's death marks *every* task queued on it as suspicious, not only the one that
            # killed it; Dask's default of 3 strikes then fails innocent tasks after a few losses.
            # Dask's nanny exports MALLOC_TRIM_THRESHOLD_=65536, which (in glibc) also freezes the mmap
            # threshold at its 128 KiB default: every tensor above it is then a fresh mmap + page faults,
            # and the worker thread's arena is trimmed and regrown constantly. Measured on a 41x41 loss
            # surface half (861 forward passes): 0.73 s in a plain process, 0.94 s in a worker with the mmap
            # threshold raised alone, 0.75 s with both raised (see docs/sweep-dask.md).
            env = {f"distributed.nanny.pre-spawn-environ.{k}": str(v) for k, v in MALLOC_ENV.items()}
            # The worker's statistical profiler samples the task thread every 10 ms; it only feeds the
            # dashboard (off here) and cost 4 % of a surface chunk (0.73 -> 0.70 s).
            with dask.config.set({"distributed.scheduler.allowed-failures": int(allowed_failures),
                                  "distributed.worker.profile.enabled": False, **env}):
                self._cluster = LocalCluster(
                    n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                    dashboard_address=None, silence_logs=40,
                )
            self.client = Client(self._cluster)

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], *, desc: str = "") -> list[Any]:
        items = list(items)
        if not items:
            return []
        # unique keys per call: a key still known to the scheduler from an earlier call would be answered
        # with that call's (stale) result
        tag = uuid.uuid4().hex[:12]
        futures = self.client.map(fn, items, pure=False, retries=self.retries,
                                  key=[f"{getattr(fn, '__name__', 'task')}-{tag}-{i}" for i in range(len(items))])
        from .._progress import progress
        from distributed import as_completed

        index = {f.key: i for i, f in enumerate(futures)}
        out: list[Any] = [None] * len(futures)
        # results arrive with the completions (no second gather round trip); a failed task raises here
        for fut, res in progress(as_completed(futures, with_results=True), desc=desc or "dask", total=len(futures)):
            out[index[fut.key]] = res
        return out

    @property
    def n_workers(self) -> int:
        return len(self.client.scheduler_info()["workers"])

    @property
    def worker_addresses(self) -> list[str]:
        return sorted(self.client.scheduler_info()["workers"])

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self._cluster is not None:
                self._cluster.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
