r"""Step-size schedules with the summability facts the convergence theorems use.

Each schedule maps the step count :math:`t = 0, 1, \dots` to :math:`\alpha_t`.
Stochastic-approximation theorems (Robbins–Monro 1951; Davis, Drusvyatskiy,
Kakade & Lee, arXiv:1804.07795) ask for

.. math:: \sum_t \alpha_t = \infty, \qquad \sum_t \alpha_t^2 < \infty,

which holds for :math:`a/(b+t)^p` exactly when :math:`1/2 < p \le 1`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import numpy as np

from ..errors import InputError

__all__ = ["Schedule", "make_schedule", "schedule_sums", "SCHEDULES"]

SCHEDULES = ("constant", "inv_t", "inv_sqrt_t", "robbins_monro")


@dataclasses.dataclass(frozen=True)
class Schedule:
    """A step-size schedule ``alpha(t)`` and its divergence/summability facts."""

    name: str
    a: float
    b: float = 1.0
    p: float = 1.0

    def __call__(self, t: int) -> float:
        if self.name == "constant":
            return self.a
        if self.name == "inv_t":  # a / (1 + t)
            return self.a / (1.0 + t)
        if self.name == "inv_sqrt_t":  # a / sqrt(1 + t)
            return self.a / math.sqrt(1.0 + t)
        return self.a / (self.b + t) ** self.p  # robbins_monro

    @property
    def exponent(self) -> float:
        return {"constant": 0.0, "inv_t": 1.0, "inv_sqrt_t": 0.5}.get(self.name, self.p)

    @property
    def sum_diverges(self) -> bool:
        r""":math:`\sum_t \alpha_t = \infty` iff the decay exponent is ≤ 1."""
        return self.exponent <= 1.0

    @property
    def square_summable(self) -> bool:
        r""":math:`\sum_t \alpha_t^2 < \infty` iff the decay exponent is > 1/2."""
        return self.exponent > 0.5

    @property
    def robbins_monro_conditions(self) -> bool:
        return self.sum_diverges and self.square_summable

    def describe(self) -> dict:
        return {
            "name": self.name,
            "a": self.a,
            "b": self.b,
            "p": self.p,
            "sum_diverges": self.sum_diverges,
            "square_summable": self.square_summable,
            "robbins_monro_conditions": self.robbins_monro_conditions,
        }


def make_schedule(name: str, lr: float, *, b: float = 1.0, p: float = 1.0) -> Schedule:
    """Build a schedule; ``robbins_monro`` is ``lr / (b + t)**p``."""
    if name not in SCHEDULES:
        raise InputError("schedule", f"unknown schedule {name!r}", f"use one of {', '.join(SCHEDULES)}")
    if not lr > 0:
        raise InputError("lr", f"must be > 0, got {lr}")
    if name == "robbins_monro" and (b <= 0 or p <= 0):
        raise InputError("schedule_b/schedule_p", f"need b > 0 and p > 0, got b={b}, p={p}")
    return Schedule(name, float(lr), float(b), float(p))


def schedule_sums(schedule: Schedule | Callable[[int], float], T: int) -> dict[str, float]:
    r"""Partial sums :math:`\sum_{t<T}\alpha_t` and :math:`\sum_{t<T}\alpha_t^2`."""
    a = np.array([schedule(t) for t in range(int(T))], dtype=np.float64)
    return {"T": int(T), "sum": float(a.sum()), "sum_sq": float((a**2).sum())}
