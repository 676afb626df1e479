r"""Binary KL divergence and its inverses.

.. math:: \mathrm{kl}(q\|p)=q\ln\frac qp+(1-q)\ln\frac{1-q}{1-p},\qquad
          \mathrm{kl}^{-1}(q,c)=\sup\{p\in[q,1]:\mathrm{kl}(q\|p)\le c\}.

Computed by bisection with guaranteed bracketing (``kl(q‖·)`` is increasing on ``[q,1)``) to
absolute tolerance ``KL_INV_TOL``. ``q = 0`` has the closed form :math:`1-e^{-c}`; ``q = 1`` gives 1.

**Rounding cannot make the inverse too small.** ``kl`` is evaluated in the cancellation-free form
:math:`-q\,\mathrm{log1p}\frac{p-q}q-(1-q)\,\mathrm{log1p}\frac{q-p}{1-q}` together with a bound on its rounding
error (:func:`_kl_with_error`), and the bisection moves its upper end to a point only when ``kl`` there exceeds
``c`` *by more than that error*. So the returned value is an upper bound on the exact inverse even when ``c`` is
far below the rounding error of ``kl`` (e.g. ``kl_inv_upper(0.01, 1e-18)``, which the textbook
:math:`q\ln(q/p)+\dots` form put below the exact value), and it is within ``KL_INV_TOL`` plus a few ulps of it
(tested against 60-digit mpmath).
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
    return _kl_with_error(q, p)[0]


#: relative rounding error of one log1p term (argument and log1p each within a few ulps).
_KL_TERM_RTOL = 8 * 2.0**-52


def _kl_with_error(q: float, p: float) -> tuple[float, float]:
    r"""``kl(q‖p)`` in the log1p form and a bound on its rounding error.

    Each term :math:`t=-q\,\mathrm{log1p}(x)` has relative error a few ulps: the argument is computed to
    relative ``eps`` and :math:`|\partial_x\mathrm{log1p}(x)|\,|x|=x/(1+x)\le\mathrm{log1p}(x)`, so the error
    is at most ``_KL_TERM_RTOL * (|t1| + |t2|)``.
    """
    if q == p:
        return 0.0, 0.0
    t1 = t2 = 0.0
    if q > 0:
        if p == 0:
            return math.inf, 0.0
        t1 = -q * math.log1p((p - q) / q)
    if q < 1:
        if p == 1:
            return math.inf, 0.0
        t2 = -(1 - q) * math.log1p((q - p) / (1 - q))
    return max(t1 + t2, 0.0), _KL_TERM_RTOL * (abs(t1) + abs(t2))


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
        kl, err = _kl_with_error(q, mid)
        if kl - err > c:  # certainly above c: the exact inverse lies below mid
            hi = mid
        else:
            lo = mid
    return min(1.0, hi)


def kl_inv_lower(q: float, c: float) -> float:
    """Smallest ``p <= q`` with ``kl(q‖p) <= c`` (rounded down)."""
    _check(q, c)
    if q <= 0 or c == math.inf:
        return 0.0
    if c == 0:
        return q
    if q == 1:
        return max(0.0, math.exp(-c) - KL_INV_TOL)
    lo, hi = 0.0, q  # kl(q‖·) decreases on (0, q]: move the lower end only where kl certainly exceeds c
    while hi - lo > KL_INV_TOL:
        mid = 0.5 * (lo + hi)
        kl, err = _kl_with_error(q, mid)
        if kl - err > c:
            lo = mid
        else:
            hi = mid
    return max(0.0, lo)
