r"""Confidence accounting for certificates made of several probabilistic steps.

A PAC-Bayes certificate combines statements that each fail with some probability: the PAC-Bayes
inequality for every prior in a grid (failure :math:`\delta_j` each) and the Monte-Carlo estimate of
the stochastic empirical error (failure :math:`\delta'_k` for each estimate the final choice could have
come from). By the union bound the combined statement holds with probability at least
:math:`1-\sum_j\delta_j-\sum_k\delta'_k`. :class:`ConfidenceLedger` records every failure probability
*at the point where it is used* (the value actually passed to a kl-inversion), so the stated
confidence is computed from what was spent, and :meth:`ConfidenceLedger.check` refuses a certificate
whose spending exceeds its budget (e.g. four Monte-Carlo estimates each charged the full
:math:`\delta'`).
"""

from __future__ import annotations

import dataclasses
import math

from ..errors import InputError

__all__ = ["ConfidenceLedger", "LEDGER_RTOL"]

#: relative slack of the budget check (floating-point sums of δ/k terms only).
LEDGER_RTOL = 1e-12


@dataclasses.dataclass
class ConfidenceLedger:
    """Failure probabilities spent by a certificate (union bound over ``entries``).

    Attributes:
        budget: the total failure probability the certificate may spend (``δ + δ'``).
        entries: ``(what, δ_k)`` for every probabilistic statement the certificate relies on.
    """

    budget: float
    entries: list[tuple[str, float]] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        if not 0 < self.budget < 1:
            raise InputError("delta + delta_mc", f"must be in (0, 1), got {self.budget}")

    def spend(self, what: str, delta: float) -> float:
        """Record that the statement ``what`` fails with probability at most ``delta``; returns ``delta``."""
        if not (0 < delta < 1) or math.isnan(delta):
            raise InputError(what, f"failure probability must be in (0, 1), got {delta}")
        self.entries.append((what, float(delta)))
        return float(delta)

    @property
    def total(self) -> float:
        """Sum of the recorded failure probabilities (math.fsum: exact rounding)."""
        return math.fsum(d for _, d in self.entries)

    @property
    def confidence(self) -> float:
        """``1 − total``: the probability with which all recorded statements hold together."""
        return 1.0 - self.total

    def check(self) -> bool:
        """Whether the spending stays within the budget."""
        return self.total <= self.budget * (1 + LEDGER_RTOL)

    def to_list(self) -> list[dict]:
        return [{"statement": w, "delta": d} for w, d in self.entries]
