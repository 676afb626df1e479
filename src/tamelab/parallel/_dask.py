"""Dask ``distributed`` back-end of the executor (the only module importing Dask).

``DaskExecutor(workers=N)`` starts a ``LocalCluster`` of N single-threaded
worker processes bound to 127.0.0.1 with no dashboard (the scheduler's HTTP server, which Dask
always starts, serves no routes and listens on a free loopback port, never on 8787);
``scheduler="tcp://host:port"`` connects to an existing cluster instead, giving up after
``connect_timeout`` seconds with one :class:`~tamelab.errors.InputError` line. ``map`` preserves input order and
retries tasks whose worker died (``retries``), so losing a worker mid-run does
not lose the run; a local cluster tolerates ``allowed_failures`` worker deaths per task
(an external scheduler keeps its own ``distributed.scheduler.allowed-failures``).
"""

from __future__ import annotations

import uuid
from typing import Any, Callable, Sequence

from ..errors import InputError

__all__ = ["DaskExecutor", "CONNECT_TIMEOUT"]

#: seconds to wait for an existing scheduler before giving up (one line, exit 2).
CONNECT_TIMEOUT = 5.0

#: glibc allocator settings exported to local workers (bytes); see the note in ``DaskExecutor.__init__``.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": 16 * 2**20, "MALLOC_TRIM_THRESHOLD_": 256 * 2**20}


class DaskExecutor:
    name = "dask"

    def __init__(
        self,
        workers: int | None = None,
        scheduler: str | None = None,
        *,
        retries: int = 3,
        allowed_failures: int = 20,
        connect_timeout: float = CONNECT_TIMEOUT,
        stall_timeout: float = 120.0,
    ) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as e:  # pragma: no cover
            raise InputError("--executor", "dask is not installed", "pip install 'tamelab[dask]'") from e
        self.retries = retries
        self._cluster = None
        self._n_local = 0
        #: seconds between checks of the cluster while waiting for results.
        self.poll = 0.01
        #: fail a map after this many seconds without any worker.
        self.stall_timeout = float(stall_timeout)
        if scheduler:
            if not scheduler.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
                raise InputError(
                    "--scheduler", f"{scheduler!r} is not a scheduler address", "e.g. tcp://127.0.0.1:8786"
                )
            import dask

            try:
                with dask.config.set({"distributed.comm.timeouts.connect": f"{connect_timeout}s"}):
                    self.client = Client(scheduler, timeout=f"{connect_timeout}s")
            except (OSError, TimeoutError) as e:
                raise InputError(
                    "--scheduler",
                    f"cannot reach the Dask scheduler at {scheduler} within {connect_timeout:g} s ({type(e).__name__})",
                    "start it (dask scheduler) or drop --scheduler",
                ) from None
        else:
            n = int(workers or 2)
            if n < 1:
                raise InputError("--workers", f"must be >= 1, got {n}")
            self._n_local = n
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
            # The scheduler always starts an HTTP server; with dashboard_address=None it listens on 8787. Serve no
            # routes, on a free loopback port.
            with dask.config.set(
                {
                    "distributed.scheduler.allowed-failures": int(allowed_failures),
                    "distributed.worker.profile.enabled": False,
                    "distributed.scheduler.http.routes": [],
                    **env,
                }
            ):
                self._cluster = LocalCluster(
                    n_workers=n,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    silence_logs=40,
                    scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                )
            self.client = Client(self._cluster)

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], *, desc: str = "") -> list[Any]:
        items = list(items)
        if not items:
            return []
        # unique keys per call: a key still known to the scheduler from an earlier call would be answered
        # with that call's (stale) result
        tag = uuid.uuid4().hex[:12]
        futures = self.client.map(
            fn,
            items,
            pure=False,
            retries=self.retries,
            key=[f"{getattr(fn, '__name__', 'task')}-{tag}-{i}" for i in range(len(items))],
        )
        from distributed import as_completed

        from .._progress import progress

        index = {f.key: i for i, f in enumerate(futures)}
        out: list[Any] = [None] * len(futures)
        # results arrive with the completions (no second gather round trip); a failed task raises here
        for fut, res in progress(
            self._completions(as_completed(futures, with_results=True)), desc=desc or "dask", total=len(futures)
        ):
            out[index[fut.key]] = res
        return out

    def _completions(self, ac: Any) -> Any:
        """Yield ``(future, result)`` as tasks finish, watching the cluster meanwhile.

        A local cluster whose workers were closed (not restarted by their nannies, which Dask does
        when a worker dies while the scheduler is gathering from it) is scaled back up; if no worker
        is left for ``stall_timeout`` seconds the map fails with a :class:`ComputationError` instead
        of waiting forever.
        """
        import time

        from ..errors import ComputationError

        last_worker = time.monotonic()
        last_check = 0.0
        while not ac.is_empty():
            if ac.has_ready():
                yield from ac.next_batch(block=False)
                continue
            time.sleep(self.poll)
            now = time.monotonic()
            if now - last_check < 1.0:
                continue
            last_check = now
            n = self.n_workers
            if n > 0:
                last_worker = now
            if self._cluster is not None and n < self._n_local:
                self._heal()
            if now - last_worker > self.stall_timeout:
                raise ComputationError(
                    f"the Dask cluster has had no worker for {self.stall_timeout:g} s; the tasks cannot finish"
                )

    def _heal(self) -> None:
        """Bring a local cluster back to its size: forget nannies that closed, start new ones."""
        cluster = self._cluster
        try:
            closed = [
                name
                for name, w in list(cluster.workers.items())
                if str(getattr(w, "status", "")).endswith(("closed", "closing", "failed"))
            ]
            for name in closed:
                cluster.workers.pop(name, None)
                cluster.worker_spec.pop(name, None)
            cluster.scale(self._n_local)
        except Exception:  # noqa: BLE001 - healing is best effort; the stall timeout still applies
            pass

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
