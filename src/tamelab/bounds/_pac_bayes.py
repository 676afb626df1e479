r"""PAC-Bayes bounds on the risk of a stochastic predictor :math:`Q`.

All hold with probability :math:`\ge1-\delta` over the bound sample of size :math:`n`, simultaneously
for all :math:`Q`, for a loss in :math:`[0,1]`, with :math:`A=\mathrm{KL}(Q\|P)+\ln\frac{2\sqrt n}\delta`:

* Maurer / Langford–Seeger (Maurer 2004, arXiv:cs/0411099): :math:`L\le\mathrm{kl}^{-1}(\hat L, A/n)`;
* Pinsker relaxation ("classic", Pérez-Ortiz et al. arXiv:2007.12911): :math:`\hat L+\sqrt{A/(2n)}`;
* McAllester 1999 original: :math:`\hat L+\sqrt{(\mathrm{KL}+\ln\frac1\delta+2\ln n+5)/(2n-1)}`;
* quadratic: :math:`(\sqrt{\hat L+A/(2n)}+\sqrt{A/(2n)})^2`;
* λ-bound (fixed :math:`\lambda\in(0,2)`): :math:`\hat L/(1-\lambda/2)+A/(n\lambda(1-\lambda/2))`;
* Catoni (fixed :math:`C>0`): :math:`(1-\exp(-C\hat L-(\mathrm{KL}+\ln\frac1\delta)/n))/(1-e^{-C})`;
* Langford–Seeger / Dziugaite–Roy variant: :math:`\mathrm{kl}^{-1}(\hat L,(\mathrm{KL}+\ln\frac n\delta)/(n-1))`.

Also: the Gaussian KL, the Dziugaite–Roy prior-variance grid :math:`\lambda_j=c\,e^{-j/b}` with union
weights :math:`6/(\pi^2j^2)`, and the Monte-Carlo sample-convergence bound
:math:`\mathrm{kl}^{-1}(\hat e_N,\ln(2/\delta')/N)` on the stochastic empirical error.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike

from ..errors import InputError
from ._kl import kl_inv_upper

__all__ = [
    "kl_bound",
    "classic_bound",
    "mcallester_bound",
    "quad_bound",
    "lambda_bound",
    "best_lambda_bound",
    "catoni_bound",
    "catoni_grid_bound",
    "langford_seeger_bound",
    "gaussian_kl",
    "prior_variance_grid",
    "dr_penalty",
    "mc_error_bound",
]


def _v(emp: float, kl: float, n: int, delta: float) -> None:
    if not 0 <= emp <= 1:
        raise InputError("empirical_error", f"must be in [0, 1], got {emp}")
    if not kl >= 0:
        raise InputError("kl", f"must be >= 0, got {kl}")
    if int(n) != n or n < 1:
        raise InputError("n", f"must be a positive integer, got {n}", "the bound sample must not be empty")
    if not 0 < delta < 1:
        raise InputError("delta", f"must be in (0, 1), got {delta}")


def _A(kl: float, n: int, delta: float) -> float:
    return kl + math.log(2 * math.sqrt(n) / delta)


def kl_bound(emp: float, kl: float, n: int, delta: float) -> float:
    r"""Maurer / Langford–Seeger bound :math:`L\le\mathrm{kl}^{-1}(\hat L, A/n)`.

    Here :math:`A=\mathrm{KL}+\ln\frac{2\sqrt n}\delta` (Maurer 2004, arXiv:cs/0411099); the classic, quadratic and
    λ-bounds are relaxations of it with the same :math:`A`.

    Args:
        emp: empirical risk :math:`\hat L` on the bound sample, in [0, 1].
        kl: :math:`\mathrm{KL}(Q\|P)` (nats).
        n: size of the bound sample.
        delta: failure probability, in (0, 1).

    Returns:
        The upper bound on the risk of :math:`Q`.

    Raises:
        InputError: an argument outside its range.
    """
    _v(emp, kl, n, delta)
    return kl_inv_upper(emp, _A(kl, n, delta) / n)


def classic_bound(emp: float, kl: float, n: int, delta: float) -> float:
    r"""Pinsker relaxation of :func:`kl_bound`: :math:`\hat L+\sqrt{A/(2n)}` ("classic", arXiv:2007.12911).

    Args:
        emp: empirical risk :math:`\hat L` on the bound sample, in [0, 1].
        kl: :math:`\mathrm{KL}(Q\|P)` (nats).
        n: size of the bound sample.
        delta: failure probability, in (0, 1).

    Returns:
        The upper bound on the risk of :math:`Q`.

    Raises:
        InputError: an argument outside its range.
    """
    _v(emp, kl, n, delta)
    return emp + math.sqrt(_A(kl, n, delta) / (2 * n))


def mcallester_bound(emp: float, kl: float, n: int, delta: float) -> float:
    r"""McAllester's original bound :math:`\hat L+\sqrt{(\mathrm{KL}+\ln\frac1\delta+2\ln n+5)/(2n-1)}`.

    McAllester, "PAC-Bayesian model averaging", COLT 1999.

    Args:
        emp: empirical risk :math:`\hat L` on the bound sample, in [0, 1].
        kl: :math:`\mathrm{KL}(Q\|P)` (nats).
        n: size of the bound sample.
        delta: failure probability, in (0, 1).

    Returns:
        The upper bound on the risk of :math:`Q`.

    Raises:
        InputError: an argument outside its range.
    """
    _v(emp, kl, n, delta)
    return emp + math.sqrt((kl + math.log(1 / delta) + 2 * math.log(n) + 5) / (2 * n - 1))


def quad_bound(emp: float, kl: float, n: int, delta: float) -> float:
    r"""Quadratic bound :math:`(\sqrt{\hat L+A/(2n)}+\sqrt{A/(2n)})^2` (Pérez-Ortiz et al., arXiv:2007.12911).

    Equals the λ-bound at its optimal λ (:func:`best_lambda_bound`).

    Args:
        emp: empirical risk :math:`\hat L` on the bound sample, in [0, 1].
        kl: :math:`\mathrm{KL}(Q\|P)` (nats).
        n: size of the bound sample.
        delta: failure probability, in (0, 1).

    Returns:
        The upper bound on the risk of :math:`Q`.

    Raises:
        InputError: an argument outside its range.
    """
    _v(emp, kl, n, delta)
    a = _A(kl, n, delta) / (2 * n)
    return (math.sqrt(emp + a) + math.sqrt(a)) ** 2


def lambda_bound(emp: float, kl: float, n: int, delta: float, lam: float) -> float:
    r"""λ-bound :math:`\hat L/(1-\lambda/2)+A/(n\lambda(1-\lambda/2))` for a λ fixed in advance.

    Thiemann, Igel, Wintenberger & Seldin, arXiv:1608.05610.

    Args:
        emp: empirical risk :math:`\hat L` on the bound sample, in [0, 1].
        kl: :math:`\mathrm{KL}(Q\|P)` (nats).
        n: size of the bound sample.
        delta: failure probability, in (0, 1).
        lam: the trade-off :math:`\lambda\in(0,2)`, chosen before seeing the sample.

    Returns:
        The upper bound on the risk of :math:`Q`.

    Raises:
        InputError: an argument outside its range.
    """
    _v(emp, kl, n, delta)
    if not 0 < lam < 2:
        raise InputError("lambda", f"must be in (0, 2), got {lam}")
    return emp / (1 - lam / 2) + _A(kl, n, delta) / (n * lam * (1 - lam / 2))


def best_lambda_bound(emp: float, kl: float, n: int, delta: float) -> tuple[float, float]:
    r"""Minimum of the λ-bound over λ ∈ (0, 2) (closed form; equals the quadratic bound).

    The minimiser is :math:`\lambda^*=2/(\sqrt{2\hat L n/A+1}+1)`.

    Args:
        emp: empirical risk :math:`\hat L` on the bound sample, in [0, 1].
        kl: :math:`\mathrm{KL}(Q\|P)` (nats).
        n: size of the bound sample.
        delta: failure probability, in (0, 1).

    Returns:
        ``(bound, lambda*)``.

    Raises:
        InputError: an argument outside its range.
    """
    _v(emp, kl, n, delta)
    a = _A(kl, n, delta) / n
    lam = 2 / (math.sqrt(2 * emp / a + 1) + 1)
    return lambda_bound(emp, kl, n, delta, lam), lam


def catoni_bound(emp: float, kl: float, n: int, delta: float, C: float) -> float:
    r"""Catoni's bound :math:`(1-\exp(-C\hat L-(\mathrm{KL}+\ln\frac1\delta)/n))/(1-e^{-C})` for a fixed C.

    Catoni, "PAC-Bayesian supervised classification", arXiv:0712.0248.

    Args:
        emp: empirical risk :math:`\hat L` on the bound sample, in [0, 1].
        kl: :math:`\mathrm{KL}(Q\|P)` (nats).
        n: size of the bound sample.
        delta: failure probability, in (0, 1).
        C: the inverse temperature :math:`C>0`, fixed in advance.

    Returns:
        The upper bound on the risk of :math:`Q`.

    Raises:
        InputError: an argument outside its range.
    """
    _v(emp, kl, n, delta)
    if not C > 0:
        raise InputError("C", f"must be > 0, got {C}")
    return -math.expm1(-C * emp - (kl + math.log(1 / delta)) / n) / -math.expm1(-C)


def catoni_grid_bound(
    emp: float, kl: float, n: int, delta: float, grid: Sequence[float] | None = None
) -> tuple[float, float]:
    r"""Catoni optimised over a grid of C fixed in advance (union bound: δ/|grid| each).

    Args:
        emp: empirical risk :math:`\hat L` on the bound sample, in [0, 1].
        kl: :math:`\mathrm{KL}(Q\|P)` (nats).
        n: size of the bound sample.
        delta: failure probability, in (0, 1).
        grid: the values of C (default: 40 log-spaced values in [0.1, 20]).

    Returns:
        ``(bound, C)`` of the best grid point.

    Raises:
        InputError: an argument outside its range.
    """
    grid = list(grid) if grid is not None else list(np.exp(np.linspace(np.log(0.1), np.log(20), 40)))
    vals = [catoni_bound(emp, kl, n, delta / len(grid), C) for C in grid]
    i = int(np.argmin(vals))
    return vals[i], grid[i]


def langford_seeger_bound(emp: float, kl: float, n: int, delta: float) -> float:
    r"""Langford–Seeger form used by Dziugaite & Roy.

    :math:`\mathrm{kl}^{-1}(\hat L,(\mathrm{KL}+\ln\frac n\delta)/(n-1))` (arXiv:1703.11008); 1 (vacuous) when
    ``n == 1``.

    Args:
        emp: empirical risk :math:`\hat L` on the bound sample, in [0, 1].
        kl: :math:`\mathrm{KL}(Q\|P)` (nats).
        n: size of the bound sample.
        delta: failure probability, in (0, 1).

    Returns:
        The upper bound on the risk of :math:`Q`.

    Raises:
        InputError: an argument outside its range.
    """
    _v(emp, kl, n, delta)
    return kl_inv_upper(emp, (kl + math.log(n / delta)) / (n - 1)) if n > 1 else 1.0


def gaussian_kl(mu: ArrayLike, s2: ArrayLike, mu0: ArrayLike, lam: float) -> float:
    r""":math:`\mathrm{KL}(N(\mu,\mathrm{diag}\,s^2)\|N(\mu_0,\lambda I))`.

    :math:`\tfrac12[(\sum s^2+\|\mu-\mu_0\|^2)/\lambda-p+p\ln\lambda-\sum\ln s^2]` for :math:`p` coordinates.

    Args:
        mu: posterior mean (p values).
        s2: posterior variances (p positive values).
        mu0: prior mean (p values).
        lam: prior variance :math:`\lambda>0`.

    Returns:
        The KL divergence in nats.
    """
    mu, s2, mu0 = (np.asarray(a, dtype=np.float64) for a in (mu, s2, mu0))
    p = mu.size
    return float(0.5 * ((s2.sum() + ((mu - mu0) ** 2).sum()) / lam - p + p * math.log(lam) - np.log(s2).sum()))


def prior_variance_grid(lam: float, b: float = 100.0, c: float = 0.1) -> tuple[int, int]:
    """Grid indices ``⌊j⌋, ⌈j⌉`` around ``j = b ln(c/λ)`` (Dziugaite & Roy, arXiv:1703.11008)."""
    j = b * math.log(c / lam)
    return max(1, math.floor(j)), max(1, math.ceil(j))


def dr_penalty(j: int, m: int, delta: float) -> float:
    """Union-bound penalty ``2 ln j + ln(π² m / (6 δ))`` of the prior-variance grid."""
    return 2 * math.log(j) + math.log(math.pi**2 * m / (6 * delta))


def mc_error_bound(emp_mc: float, n_samples: int, delta_prime: float) -> float:
    """Upper bound on the stochastic empirical error from ``N`` posterior samples (sample convergence)."""
    if not 0 < delta_prime < 1:
        raise InputError("delta_prime", f"must be in (0, 1), got {delta_prime}")
    return kl_inv_upper(emp_mc, math.log(2 / delta_prime) / n_samples)
