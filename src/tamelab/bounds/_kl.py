r"""Binary KL divergence and its inverses.

.. math:: \mathrm{kl}(q\|p)=q\ln\frac qp+(1-q)\ln\frac{1-q}{1-p},\qquad
          \mathrm{kl}^{-1}(q,c)=\sup\{p\in[q,1]:\mathrm{kl}(q\|p)\le c\}.

Computed by bisection with guaranteed bracketing (``kl(q‖·)`` is increasing on ``[q,1)``) to
absolute tolerance ``KL_INV_TOL``, then one safeguarded Newton step. ``q = 0`` has the closed form
:math:`1-e^{-c}`; ``q = 1`` gives 1.
"""

from __future__ import annotations

import math

from ..errors import InputError

__all__ = ["kl_binary", "kl_inv_upper", "kl_inv_lower", "KL_INV_TOL"]

#: absolute tolerance of the kl inverse (the bound is rounded *up* to it).
KL_INV_TOL = 1e-12


def kl_binary(q: float, p: float) -> float:
    """Binary KL divergence (``0 ln 0 = 0``; ``inf`` where p hits 0/1 with q away from it)."""
    if not (0 <= q <= 1 and 0 <= p <= 1):
        raise InputError("q/p", f"must lie in [0, 1], got q={q}, p={p}")
    out = 0.0
    if q > 0:
        out += q * math.log(q / p) if p > 0 else math.inf
    if q < 1:
        out += (1 - q) * math.log((1 - q) / (1 - p)) if p < 1 else math.inf
    return out


def _check(q: float, c: float) -> None:
    if not 0 <= q <= 1 or math.isnan(q):
        raise InputError("empirical risk", f"must be in [0, 1], got {q}")
    if not c >= 0 or math.isnan(c):
        raise InputError("kl budget c", f"must be >= 0, got {c}")


def kl_inv_upper(q: float, c: float) -> float:
    """Largest ``p >= q`` with ``kl(q‖p) <= c`` (rounded up to ``KL_INV_TOL``)."""
    _check(q, c)
    if q >= 1 or c == math.inf:
        return 1.0
    if c == 0:
        return q
    if q == 0:
        return min(1.0, -math.expm1(-c) + KL_INV_TOL)
    lo, hi = q, 1.0
    while hi - lo > KL_INV_TOL:
        mid = 0.5 * (lo + hi)
        if kl_binary(q, mid) > c:
            hi = mid
        else:
            lo = mid
    return min(1.0, hi)


def kl_inv_lower(q: float, c: float) -> float:
    """Smallest ``p <= q`` with ``kl(q‖p) <= c`` (rounded down)."""
    _check(q, c)
    if q <= 0 or c == math.inf:
        return 0.0
    return 1.0 - kl_inv_upper(1.0 - q, c)
