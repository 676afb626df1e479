"""Tasks ``erm`` (global ERM optimum of a one-hidden-layer ReLU net) and ``construct-chen-ewald``."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import field_validator, model_validator

from ..errors import InputError
from ._registry import Task, register_task
from ._spec import SeedField, check_data_spec, option

__all__ = ["ErmConfig", "run_erm", "erm_targets", "ChenEwaldConfig", "run_chen_ewald"]


def erm_targets(ds: Any, loss: str) -> np.ndarray:
    """Scalar targets of a data set for :func:`tamelab.exact.arora2018erm.exact_erm`.

    ``y`` (labels) or ``Y`` (one column) is the target. For the margin losses (``hinge``, ``logistic``)
    class labels {0, 1} (the ``.npz`` convention) are mapped to {−1, +1}; targets ``Y`` are taken as given.

    >>> from tamelab.data import Dataset
    >>> erm_targets(Dataset(np.zeros((3, 1)), y=np.array([0, 1, 1])), "hinge").tolist()
    [-1.0, 1.0, 1.0]
    """
    if ds.Y is not None and ds.Y.shape[1] == 1:
        y = ds.Y[:, 0].astype(float)
    elif ds.y is not None and ds.Y is None:
        y = ds.y.astype(float)
    else:
        raise InputError("data", "exact ERM needs scalar targets", "store y (N,) or Y (N×1) in the .npz")
    if loss != "squared" and ds.Y is None and set(np.unique(y)) <= {0.0, 1.0}:
        y = 2.0 * y - 1.0
    out: np.ndarray = np.asarray(y, dtype=float)
    return out


class ErmConfig(SeedField):
    """``tamelab erm DATA``: the global optimum over all sign patterns and data dichotomies (Arora et al. 2018)."""

    data: str = option(
        ...,
        ".npz with X (D×n) and scalar targets y or Y (D×1) (or a built-in data name)",
        positional=True,
        metavar="DATA",
    )
    width: int = option(..., "hidden units w", ge=1)
    loss: Literal["squared", "hinge", "logistic"] = option(
        "squared", "squared | hinge | logistic (hinge/logistic: labels y in {0,1} or Y in {-1,+1})"
    )
    max_qps: int = option(2_000_000, "refuse above this many convex programs after pruning", ge=1, record=False)
    executor: Literal["serial", "dask"] = option("serial", "serial | dask", record=False)
    workers: int | None = option(None, "Dask LocalCluster workers", ge=1, record=False)
    scheduler: str | None = option(None, "existing Dask scheduler address, e.g. tcp://10.0.0.5:8786", record=False)

    @field_validator("data")
    @classmethod
    def _data(cls, v: str) -> str:
        return check_data_spec(v, field="data")

    @model_validator(mode="before")
    @classmethod
    def _scheduler_means_dask(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("scheduler") and data.get("executor", "serial") == "serial":
            return {**data, "executor": "dask"}
        return data


def run_erm(cfg: ErmConfig, *, out_dir: Any = None) -> Any:
    """The ``erm`` task: :func:`tamelab.exact.arora2018erm.exact_erm` on all of ``data``."""
    from ..data import load_data
    from ..exact.arora2018erm import exact_erm
    from ..parallel import get_executor

    ds = load_data(cfg.data, split="all")
    y = erm_targets(ds, cfg.loss)
    ex = get_executor(cfg.executor, workers=cfg.workers, scheduler=cfg.scheduler)
    try:
        return exact_erm(ds.X, y, cfg.width, loss=cfg.loss, max_qps=cfg.max_qps, executor=ex, seed=cfg.seed)
    finally:
        ex.close()


class ChenEwaldConfig(SeedField):
    """``tamelab construct chen-ewald``: the Chen–Muñoz Ewald zero-cost minimizer (arXiv:2309.10639), certified."""

    q: int = option(3, "number of classes Q (= input dim = width = output dim)", ge=2)
    layers: int = option(3, "hidden layers L (needs L >= Q)", ge=1)
    per_class: int = option(20, "points per class (N = Q * per_class in total)", ge=1)
    radius: float = option(0.04, "class radius delta = max |x - class mean|", ge=0)
    order: Literal["auto", "identity", "greedy", "search"] = option(
        "auto", "class order: auto | identity | greedy | search"
    )
    alpha: float = option(0.2, "apex distance fraction in (0,1)", gt=0, lt=1)
    margin: float = option(0.05, "cone angle margin (radians)", ge=0)
    configurations: bool | None = option(None, "analyse all 2^Q collapse subsets (default: when 2^Q <= 16)")
    gd_runs: int = option(5, "Adam runs from random inits for comparison", ge=0)
    gd_steps: int = option(1000, "Adam steps per run", ge=1)

    @model_validator(mode="after")
    def _layers_cover_classes(self) -> ChenEwaldConfig:
        if self.layers < self.q:
            raise InputError(
                "layers",
                f"L = {self.layers} < Q = {self.q}: the construction collapses one class per layer (needs L >= Q)",
                f"pass --layers {self.q} or more",
            )
        return self


def run_chen_ewald(cfg: ChenEwaldConfig, *, out_dir: Any = None) -> Any:
    """The ``construct-chen-ewald`` task: :func:`tamelab.exact.chen2023ewald.chen_ewald`."""
    from ..exact.chen2023ewald import chen_ewald

    res = chen_ewald(
        cfg.q,
        cfg.layers,
        cfg.per_class,
        cfg.radius,
        seed=cfg.seed,
        order=cfg.order,
        alpha=cfg.alpha,
        margin=cfg.margin,
        configurations=cfg.configurations,
        gd_runs=cfg.gd_runs,
        gd_steps=cfg.gd_steps,
    )
    if not res.ok and res.assumption and not res.assumption.get("passes", True):
        fails = res.assumption.get("failures") or []
        why = fails[-1]["reason"] if fails else "no order passes"
        raise InputError(
            "radius",
            f"clustering assumption fails: {why}",
            "use a smaller radius (clusters must be small and separated)",
        )
    return res


register_task(
    Task(
        "erm",
        ErmConfig,
        run_erm,
        "Global optimum over all sign patterns and data dichotomies, one convex QP each, with its KKT certificate.",
    )
)
register_task(
    Task(
        "construct-chen-ewald",
        ChenEwaldConfig,
        run_chen_ewald,
        "Construct the Chen–Muñoz Ewald zero-cost minimizer (arXiv:2309.10639) and certify it.",
    )
)
