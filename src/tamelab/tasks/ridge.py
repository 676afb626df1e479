"""Task ``ridge``: a cheap, deterministic example task (ridge regression on a seeded problem).

It is what the sweep documentation and tests run: a few milliseconds per grid point, a scalar and a
list result. A task of your own follows the same pattern: a config class, a ``run`` returning a
:class:`~tamelab.result.Result`, and one :func:`~tamelab.tasks.register_task` call.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..result import Result, Status
from ._registry import Task, register_task
from ._spec import SeedField, option

__all__ = ["RidgeConfig", "RidgeResult", "run_ridge"]


class RidgeConfig(SeedField):
    """Ridge regression ``min_w ‖Xw − y‖² + λ‖w‖²`` on ``n`` seeded samples with 5 features."""

    lam: float = option(0.1, "ridge penalty λ", ge=0)
    n: int = option(50, "number of samples (at least the 5 features)", ge=5, le=10_000_000)


@dataclasses.dataclass
class RidgeResult(Result):
    """The training loss and the weights of the ridge solution.

    Attributes:
        loss: mean squared training error of ``w``.
        w_norm: ``‖w‖₂``.
        w: the solution (5 numbers).
    """

    kind = "ridge"

    loss: float = float("nan")
    w_norm: float = float("nan")
    w: list[float] = dataclasses.field(default_factory=list)


def run_ridge(cfg: RidgeConfig, *, out_dir: Any = None) -> RidgeResult:
    """Solve ``(XᵀX + λI) w = Xᵀy`` for the seeded problem of ``cfg``.

    >>> r = run_ridge(RidgeConfig(lam=0.0, n=20, seed=1))
    >>> r.loss < 0.02
    True
    """
    rng = np.random.default_rng(cfg.seed)
    X = rng.standard_normal((cfg.n, 5))
    y = X @ rng.standard_normal(5) + 0.1 * rng.standard_normal(cfg.n)
    w = np.linalg.solve(X.T @ X + cfg.lam * np.eye(5), X.T @ y)
    return RidgeResult(
        status=Status.OK,
        seed=cfg.seed,
        loss=float(np.mean((X @ w - y) ** 2)),
        w_norm=float(np.linalg.norm(w)),
        w=[float(v) for v in w],
    )


register_task(
    Task("ridge", RidgeConfig, run_ridge, "Ridge regression on a seeded problem (an example task for sweeps).")
)
