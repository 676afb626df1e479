"""Tasks ``neuromanifold`` and ``critical``: exact algebraic geometry of small networks."""

from __future__ import annotations

from typing import Any

from pydantic import field_validator

from ._registry import Task, register_task
from ._spec import SeedField, option, parse_int_list

__all__ = ["NeuromanifoldConfig", "run_neuromanifold", "CriticalConfig", "run_critical"]


class NeuromanifoldConfig(SeedField):
    """``tamelab neuromanifold``: the exact dimension of the neurovariety of a polynomial network (Kileel et al.)."""

    widths: list[int] = option(..., "d_0,...,d_h, e.g. 2,3,1")
    power: int = option(..., "activation t^r", ge=1)
    seeds: int = option(3, "random points/parameters draws (max rank is kept)", ge=1)
    float_check: bool = option(False, "also report the float64 SVD rank (gap-detected)", flag="--float")

    @field_validator("widths", mode="before")
    @classmethod
    def _widths(cls, v: Any) -> Any:
        return parse_int_list(v, field="widths")


def run_neuromanifold(cfg: NeuromanifoldConfig, *, out_dir: Any = None) -> Any:
    """The ``neuromanifold`` task: :func:`tamelab.algebraic.neuromanifold_dimension`."""
    from ..algebraic import neuromanifold_dimension

    return neuromanifold_dimension(cfg.widths, cfg.power, seeds=cfg.seeds, seed=cfg.seed, check_float=cfg.float_check)


class CriticalConfig(SeedField):
    """``tamelab critical``: all critical points of a regularised deep linear net (one data point), by Gröbner bases."""

    hidden: int = option(1, "number of hidden layers H", ge=1)
    width: int = option(1, "hidden width d", ge=1)
    dx: int = option(1, "input dimension", ge=1)
    dy: int = option(1, "output dimension", ge=1)
    reg: float | None = option(None, "uniform regularisation (default: generic random rationals)", gt=0)


def run_critical(cfg: CriticalConfig, *, out_dir: Any = None) -> Any:
    """The ``critical`` task: :func:`tamelab.algebraic.linear_net_critical_points`."""
    from ..algebraic import linear_net_critical_points

    return linear_net_critical_points(cfg.hidden, cfg.width, cfg.dx, cfg.dy, seed=cfg.seed, regularization=cfg.reg)


register_task(
    Task(
        "neuromanifold",
        NeuromanifoldConfig,
        run_neuromanifold,
        "Exact dimension of the neurovariety of a polynomial network (rank mod p) vs expected and ambient.",
    )
)
register_task(
    Task(
        "critical",
        CriticalConfig,
        run_critical,
        "All critical points of a regularised deep linear net (one data point) by Gröbner bases.",
    )
)
