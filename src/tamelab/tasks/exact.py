"""Tasks ``erm`` (global ERM optimum of a one-hidden-layer ReLU net) and ``construct-chen-ewald``."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import field_validator, model_validator

from ..errors import InputError
from ..exact.arora2018erm import ERM_MAX_ENUMERATION, ERM_MAX_QPS
from ..exact.chen2023ewald import CHEN_EWALD_MAX_MEMORY, CHEN_EWALD_MAX_PARAMETERS
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
    max_qps: int = option(ERM_MAX_QPS, "refuse above this many convex programs after pruning", ge=1, record=False)
    max_enumeration: int = option(
        ERM_MAX_ENUMERATION,
        "refuse before any work when the estimated enumeration (rays or combinations) exceeds this",
        ge=1,
        record=False,
    )
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
        return exact_erm(
            ds.X,
            y,
            cfg.width,
            loss=cfg.loss,
            max_qps=cfg.max_qps,
            executor=ex,
            seed=cfg.seed,
            max_enumeration=cfg.max_enumeration,
        )
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
    jacobian_points: int = option(3, "points per class for the Jacobian rank (0 skips the rank)", ge=0)
    paper: bool = option(
        False,
        "the paper's own parametrisation (CE23 Thms 2.3-2.5, L = Q): geometry, every s in {0,1}^Q, out-of-sample"
        " checks (order/alpha/margin/configurations/gd-*/jacobian-points apply to the cone construction only)",
    )
    max_parameters: int = option(
        CHEN_EWALD_MAX_PARAMETERS, "refuse networks with more parameters (L+1)(Q^2+Q) than this", ge=1, record=False
    )
    max_memory: float = option(
        CHEN_EWALD_MAX_MEMORY, "refuse runs whose memory estimate exceeds this many bytes", gt=0, record=False
    )

    @model_validator(mode="after")
    def _layers_cover_classes(self) -> ChenEwaldConfig:
        if self.paper and self.layers != self.q:
            raise InputError(
                "layers",
                f"the paper's construction has L = Q hidden layers, got L = {self.layers}, Q = {self.q}",
                f"pass --layers {self.q} with --paper",
            )
        if self.layers < self.q:
            raise InputError(
                "layers",
                f"L = {self.layers} < Q = {self.q}: the construction collapses one class per layer (needs L >= Q)",
                f"pass --layers {self.q} or more",
            )
        return self


def run_chen_ewald(cfg: ChenEwaldConfig, *, out_dir: Any = None) -> Any:
    """The ``construct-chen-ewald`` task: the cone construction, or the paper's own.

    :func:`tamelab.exact.chen2023ewald.chen_ewald`, or with ``paper``
    :func:`tamelab.exact.chen2023ewald_paper.paper_theorems` on the same seeded clustered data.
    """
    from ..exact.chen2023ewald import chen_ewald

    if cfg.paper:
        return _run_paper(cfg)
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
        jacobian_points=cfg.jacobian_points,
        max_parameters=cfg.max_parameters,
        max_memory=cfg.max_memory,
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


def _run_paper(cfg: ChenEwaldConfig) -> Any:
    from ..exact.chen2023ewald import CHEN_EWALD_MAX_CONFIGURATIONS, chen_ewald_work_estimate, clustered_data
    from ..exact.chen2023ewald_paper import paper_theorems

    if 2**cfg.q > CHEN_EWALD_MAX_CONFIGURATIONS:
        raise InputError(
            "q",
            f"--paper analyses all 2^Q = {2**cfg.q:,} configurations s, above {CHEN_EWALD_MAX_CONFIGURATIONS}",
            f"use --q {CHEN_EWALD_MAX_CONFIGURATIONS.bit_length() - 1} or less, or drop --paper",
        )
    n_points = cfg.q * cfg.per_class
    est = chen_ewald_work_estimate(cfg.q, cfg.q, n_points, jacobian_points=cfg.jacobian_points)
    if est.parameters > cfg.max_parameters:
        raise InputError(
            "max_parameters",
            f"the network has {est.parameters:,} parameters, above the limit {cfg.max_parameters:,}",
            "use a smaller --q, or raise --max-parameters",
        )
    if est.memory_bytes > cfg.max_memory:
        raise InputError(
            "max_memory",
            f"estimated {est.memory_bytes:.3g} bytes, above the limit {cfg.max_memory:.3g}",
            "use a smaller --q or --per-class, or raise --max-memory",
        )
    X, labels, Y = clustered_data(cfg.q, cfg.per_class, cfg.radius, seed=cfg.seed)
    res = paper_theorems(X, labels, Y=Y, seed=cfg.seed)
    why = res.geometry.get("assumption") if isinstance(res.geometry, dict) else ""
    if why:
        raise InputError(
            "radius",
            f"the paper's assumptions fail: {why}",
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
