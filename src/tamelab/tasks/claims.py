"""Task ``claims``: run published claims (by id, tag or all) and record each verdict.

What ``tamelab claims run`` does, as a task a sweep can run (e.g. over seeds): :func:`tamelab.claims.run_claims`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import model_validator

from ._registry import Task, register_task
from ._spec import TaskConfig, option

__all__ = ["ClaimsConfig", "run_claims_task"]


class ClaimsConfig(TaskConfig):
    """``tamelab claims run``: the selected claims, reproduced: expected, measured, verdict."""

    ids: list[str] = option([], "claim ids (see 'tamelab claims list')", positional=True, metavar="ID")
    all: bool = option(False, "run every registered claim")
    tags: list[str] = option([], "run claims with this tag", flag="--tag", multiple=True)
    quick: bool = option(False, "CI-sized versions of each claim")
    no_slow: bool = option(False, "skip claims marked slow")
    seed: int = option(0, "seed passed to every claim", ge=0)
    executor: Literal["serial", "dask"] | None = option(
        None, "serial | dask (default: dask when workers > 1 or a scheduler is given)", record=False
    )
    workers: int | None = option(None, "run claims in N worker processes (Dask)", ge=1, record=False)
    scheduler: str | None = option(None, "existing Dask scheduler tcp://host:port", record=False)

    @model_validator(mode="before")
    @classmethod
    def _executor(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("executor") is None:
            workers = data.get("workers")
            dask = (isinstance(workers, int) and workers > 1) or bool(data.get("scheduler"))
            return {**data, "executor": "dask" if dask else "serial"}
        return data


def run_claims_task(cfg: ClaimsConfig, *, out_dir: Any = None) -> Any:
    """The ``claims`` task: :func:`tamelab.claims.run_claims` on the selection."""
    from ..claims import run_claims

    return run_claims(
        cfg.ids or None,
        all_=cfg.all,
        tags=cfg.tags or None,
        seed=cfg.seed,
        quick=cfg.quick,
        include_slow=not cfg.no_slow,
        executor=cfg.executor,
        workers=cfg.workers,
        scheduler=cfg.scheduler,
    )


register_task(
    Task(
        "claims",
        ClaimsConfig,
        run_claims_task,
        "Run claims and print each verdict: expected, measured, holds / fails / not reproduced.",
    )
)
