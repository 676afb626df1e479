"""The thread policy:

one place decides torch's intra-op threads and the BLAS threads, for every command and every Dask worker.

Why: on a shared 2-core machine with load 7, the default (torch and OpenBLAS each start one thread per
core; OpenMP threads spin while they wait at a barrier) made the atlas's PAC-Bayes section take 436 s
against 4.7 s idle (93×). Every small kernel ends in a barrier; when one of its threads is descheduled,
the others spin or sleep until the scheduler brings it back, so a loop of thousands of small kernels
pays a scheduler quantum per kernel. The cure is to never run more compute threads than there are
free cores, and to make waiting threads sleep instead of spin.

Policy (:func:`plan_threads`):

* ``cores`` = the CPUs this process may use (affinity mask, and the cgroup CPU quota when one is set);
* ``free`` = ``cores`` minus the 1-minute load average of the *other* processes (measured at start;
  never below 1);
* each of ``workers`` processes (1 for a command, ``n`` for ``n`` Dask workers) gets
  ``max(1, free // workers)`` threads for torch and the same for BLAS (OpenBLAS/MKL via threadpoolctl);
* waiting OpenMP threads sleep: ``OMP_WAIT_POLICY=PASSIVE``, ``GOMP_SPINCOUNT=0``, ``KMP_BLOCKTIME=0``
  (read by the OpenMP runtime when it loads, i.e. when torch is first imported: :func:`configure_threads`
  must run before that — the CLI calls it first thing; child processes inherit the variables).

``TAMELAB_THREADS=N`` (or ``threads=N``) overrides the count; variables the user set are never
overwritten. Small, latency-bound loops can still ask for one thread locally with
:func:`tamelab._numerics.one_thread`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys

__all__ = ["THREAD_ENV", "ThreadPlan", "available_cores", "configure_threads", "plan_threads", "worker_env"]

#: environment variables that fix the thread count of the OpenMP/BLAS runtimes (children inherit them).
THREAD_ENV = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
#: environment that makes waiting OpenMP threads sleep instead of spin (GNU and Intel runtimes).
PASSIVE_ENV = {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "0", "KMP_BLOCKTIME": "0"}


@dataclasses.dataclass(frozen=True)
class ThreadPlan:
    """The decision: ``threads`` per process for torch and BLAS, and why."""

    threads: int
    cores: int
    load: float
    workers: int
    reason: str

    def env(self) -> dict[str, str]:
        """Environment for child processes (thread counts and the passive wait policy)."""
        return {**{k: str(self.threads) for k in THREAD_ENV}, **PASSIVE_ENV}


def available_cores() -> int:
    """CPUs this process may run on: the affinity mask, lowered by a cgroup v2 CPU quota when one is set."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()[:2]
        if quota != "max":
            n = min(n, max(1, math.floor(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)


def _load() -> float:
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):  # pragma: no cover
        return 0.0


def plan_threads(
    workers: int = 1, threads: int | None = None, *, load: float | None = None, cores: int | None = None
) -> ThreadPlan:
    """Threads per process for ``workers`` concurrent processes (module docstring).

    Args:
        workers: processes that will compute at the same time (Dask workers, or 1).
        threads: an explicit count (wins over everything; ``TAMELAB_THREADS`` is read when ``None``).
        load: overrides the measured 1-minute load average (tests, benchmarks).
        cores: overrides the number of available cores (tests, benchmarks).
    """
    from .errors import InputError

    if not isinstance(workers, int) or workers < 1:
        raise InputError("workers", f"must be a positive integer, got {workers!r}")
    cores = available_cores() if cores is None else int(cores)
    load = _load() if load is None else float(load)
    for var in ("TAMELAB_THREADS", "OMP_NUM_THREADS"):  # the user's own setting wins (not one we exported)
        env = os.environ.get(var)
        if threads is None and env and var not in _EXPORTED:
            try:
                threads = int(env)
            except ValueError:
                raise InputError(var, f"must be an integer, got {env!r}") from None
    if threads is not None:
        if not isinstance(threads, int) or threads < 1:
            raise InputError("threads", f"must be a positive integer, got {threads!r}")
        return ThreadPlan(threads, cores, load, workers, "requested")
    free = max(1.0, cores - load)
    n = max(1, min(cores // workers, round(free / workers)))
    why = f"{cores} cores, load {load:.1f}: {free:.1f} free for {workers} process(es)"
    return ThreadPlan(n, cores, load, workers, why)


_APPLIED: list[ThreadPlan] = []
_EXPORTED: set[str] = set()


def configure_threads(workers: int = 1, threads: int | None = None, *, plan: ThreadPlan | None = None) -> ThreadPlan:
    """Decide (:func:`plan_threads`) and apply:

    environment for this process's OpenMP runtime (effective when torch is not imported yet) and its children,
    ``torch.set_num_threads`` when torch is loaded, and a process-wide BLAS limit through threadpoolctl. Variables the
    user set are kept. Returns the plan.
    """
    plan = plan or plan_threads(workers, threads)
    for k, v in plan.env().items():
        if k not in os.environ or k in _EXPORTED or (k in THREAD_ENV and plan.reason == "requested"):
            os.environ[k] = v
            _EXPORTED.add(k)
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(plan.threads)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=plan.threads, user_api="blas")
    except Exception:  # noqa: BLE001, S110 - threadpoolctl is optional; the environment still applies to children
        pass
    _APPLIED[:] = [plan]
    return plan


def current_plan() -> ThreadPlan | None:
    """The plan applied last in this process (``None`` if :func:`configure_threads` never ran)."""
    return _APPLIED[0] if _APPLIED else None


def worker_env(n_workers: int, threads: int | None = None) -> dict[str, str]:
    """Thread environment for ``n_workers`` Dask worker processes started together.

    Environment for ``n_workers`` Dask worker processes started together (pass it as the nanny's
    ``pre-spawn-environ``): each gets its share of the free cores and the passive wait policy.
    """
    return plan_threads(n_workers, threads).env()
