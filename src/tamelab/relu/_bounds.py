r"""Bounds on the number of linear regions of ReLU networks (spec geometry.md §2.2 and §1.6).

``widths = (n_0, n_1, ..., n_L)``: input dimension then hidden widths (the output layer does not cut).

* Zaslavsky (one layer, hyperplane arrangement): :math:`\sum_{j\le n_0}\binom{n_1}{j}`; also reported
  for all :math:`N=\sum n_l` units in one layer.
* Serra, Tjandraatmadja & Ramalingam (arXiv:1711.02114) upper bound:
  :math:`\sum_{j\in J}\prod_l\binom{n_l}{j_l}`, :math:`J=\{0\le j_l\le\min(n_0,n_1-j_1,\dots,n_{l-1}-j_{l-1},n_l)\}`.
* Montúfar (arXiv:1704.08045) upper bound: :math:`\prod_l\sum_{j\le d_l}\binom{n_l}{j}`,
:math:`d_l=\min(n_0,\dots,n_l)`.
* Zhang, Naitzat & Lim (arXiv:1805.07091): :math:`\prod_l\sum_{i\le n_0}\binom{n_l}{i}` (valid when every
  :math:`n_l\ge n_0`).
* Lower bounds: Montúfar et al. 2014 (arXiv:1402.1869)
:math:`\prod_{l<L}\lfloor n_l/n_0\rfloor^{n_0}\sum_{j\le n_0}\binom{n_L}{j}`
  (valid for :math:`n_l\ge n_0`), Serra et al. :math:`\prod_{l<L}(\lfloor n_l/n_0\rfloor+1)^{n_0}\sum_j\binom{n_L}{j}`
  (valid for :math:`n_l\ge3n_0`); Raghu et al. (arXiv:1606.05336): :math:`O(k^{n_0L})`, reported as :math:`k^{n_0L}`.

Every entry of :func:`all_bounds` is a :class:`Bound`: the value, whether it is an upper bound on the
number of regions of *every* network of these widths, a lower bound on the *maximum* over weights (an
existence statement, not a bound for the given weights), a growth order, or a reference count; whether
its hypotheses hold for these widths (``valid``) and, when not, why.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from functools import cache
from math import comb, prod

__all__ = [
    "Bound",
    "all_bounds",
    "montufar14_lower",
    "montufar17_upper",
    "raghu_order",
    "serra_lower",
    "serra_upper",
    "zaslavsky",
    "znl_upper",
]


@dataclasses.dataclass(frozen=True)
class Bound:
    """One region-count bound:

    ``value`` and whether its hypotheses hold here (``valid``; ``why`` says which hypothesis fails, or what the number
    means).
    """

    value: int
    kind: str  # "upper" (every network), "max-lower" (some weights reach it), "order", "reference"
    valid: bool
    why: str
    source: str

    def __str__(self) -> str:
        v = _sci(self.value)
        return v if self.valid else f"{v} (not valid: {self.why})"


def _sci(n: int) -> str:
    """Integers of any size in scientific notation (above 10^7)."""
    from decimal import Decimal

    return str(n) if abs(n) < 10**7 else f"{Decimal(n):.3e}"


def zaslavsky(n0: int, n1: int) -> int:
    return sum(comb(n1, j) for j in range(n0 + 1))


def serra_upper(widths: Sequence[int]) -> int:
    n0, hs = int(widths[0]), [int(w) for w in widths[1:]]

    @cache
    def rec(ell: int, cap: int) -> int:
        if ell == len(hs):
            return 1
        tot = 0
        for j in range(min(cap, hs[ell]) + 1):
            tot += comb(hs[ell], j) * rec(ell + 1, min(cap, hs[ell] - j))
        return tot

    return rec(0, n0)


def montufar17_upper(widths: Sequence[int]) -> int:
    n0, hs = widths[0], widths[1:]
    out, d = 1, n0
    for n in hs:
        d = min(d, n)
        out *= sum(comb(n, j) for j in range(d + 1))
    return out


def znl_upper(widths: Sequence[int]) -> tuple[int, bool]:
    n0, hs = widths[0], widths[1:]
    return prod(sum(comb(n, i) for i in range(n0 + 1)) for n in hs), all(n >= n0 for n in hs)


def montufar14_lower(widths: Sequence[int]) -> tuple[int, bool]:
    n0, hs = widths[0], widths[1:]
    v = prod((n // n0) ** n0 for n in hs[:-1]) * sum(comb(hs[-1], j) for j in range(n0 + 1))
    return v, all(n >= n0 for n in hs)


def serra_lower(widths: Sequence[int]) -> tuple[int, bool]:
    n0, hs = widths[0], widths[1:]
    v = prod((n // n0 + 1) ** n0 for n in hs[:-1]) * sum(comb(hs[-1], j) for j in range(n0 + 1))
    return v, all(n >= 3 * n0 for n in hs)


def raghu_order(widths: Sequence[int]) -> int:
    n0, hs = widths[0], widths[1:]
    return max(hs) ** (n0 * len(hs))


def all_bounds(widths: Sequence[int]) -> dict[str, Bound]:
    """Every bound for ``(n_0, n_1..n_L)`` (input dimension, hidden widths) as :class:`Bound` entries."""
    widths = [int(w) for w in widths]
    if len(widths) < 2 or min(widths) < 1:
        from ..errors import InputError

        raise InputError("widths", f"need the input dimension and >= 1 hidden width, all >= 1; got {widths}")
    n0, hs = widths[0], widths[1:]
    L = len(hs)
    znl, znl_ok = znl_upper(widths)
    m14, m14_ok = montufar14_lower(widths)
    sl, sl_ok = serra_lower(widths)
    narrow = f"a hidden width is below the input dimension {n0}"
    return {
        "serra_upper": Bound(
            serra_upper(widths),
            "upper",
            True,
            "upper bound for every ReLU network of these widths",
            "arXiv:1711.02114 Thm 1",
        ),
        "montufar17_upper": Bound(
            montufar17_upper(widths),
            "upper",
            True,
            "upper bound for every ReLU network of these widths",
            "arXiv:1704.08045",
        ),
        "znl_upper": Bound(
            znl,
            "upper",
            znl_ok,
            "upper bound when every hidden width >= the input dimension" if znl_ok else narrow,
            "arXiv:1805.07091 Thm 6.3",
        ),
        "zaslavsky_first_layer": Bound(
            zaslavsky(n0, hs[0]),
            "reference",
            True,
            "regions of the first layer's hyperplane arrangement in general position",
            "Zaslavsky 1975",
        ),
        "zaslavsky_all_units_one_layer": Bound(
            zaslavsky(n0, sum(hs)),
            "reference",
            L == 1,
            "regions of all units in one layer; not a bound for deeper networks"
            if L > 1
            else "one hidden layer: the maximum over weights",
            "Zaslavsky 1975",
        ),
        "montufar14_lower": Bound(
            m14,
            "max-lower",
            m14_ok,
            "some weights reach at least this many regions (not a bound for the given weights)" if m14_ok else narrow,
            "arXiv:1402.1869",
        ),
        "serra_lower": Bound(
            sl,
            "max-lower",
            sl_ok,
            "some weights reach at least this many regions (not a bound for the given weights)"
            if sl_ok
            else f"needs every hidden width >= 3 × input dimension = {3 * n0}",
            "arXiv:1711.02114 Thm 8",
        ),
        "raghu_order_k^(n0 L)": Bound(
            raghu_order(widths), "order", True, "growth order O(k^(n0 L)), not a bound", "arXiv:1606.05336"
        ),
    }
