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

import numpy as np

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


def _v(emp, kl, n, delta):
    if not 0 <= emp <= 1:
        raise InputError("empirical_error", f"must be in [0, 1], got {emp}")
    if not kl >= 0:
        raise InputError("kl", f"must be >= 0, got {kl}")
    if int(n) != n or n < 1:
        raise InputError("n", f"must be a positive integer, got {n}", "the bound sample must not be empty")
    if not 0 < delta < 1:
        raise InputError("delta", f"must be in (0, 1), got {delta}")


def _A(kl, n, delta):
    return kl + math.log(2 * math.sqrt(n) / delta)


def kl_bound(emp, kl, n, delta):
    _v(emp, kl, n, delta)
    return kl_inv_upper(emp, _A(kl, n, delta) / n)


def classic_bound(emp, kl, n, delta):
    _v(emp, kl, n, delta)
    return emp + math.sqrt(_A(kl, n, delta) / (2 * n))


def mcallester_bound(emp, kl, n, delta):
    _v(emp, kl, n, delta)
    return emp + math.sqrt((kl + math.log(1 / delta) + 2 * math.log(n) + 5) / (2 * n - 1))


def quad_bound(emp, kl, n, delta):
    _v(emp, kl, n, delta)
    a = _A(kl, n, delta) / (2 * n)
    return (math.sqrt(emp + a) + math.sqrt(a)) ** 2


def lambda_bound(emp, kl, n, delta, lam):
    _v(emp, kl, n, delta)
    if not 0 < lam < 2:
        raise InputError("lambda", f"must be in (0, 2), got {lam}")
    return emp / (1 - lam / 2) + _A(kl, n, delta) / (n * lam * (1 - lam / 2))


def best_lambda_bound(emp, kl, n, delta):
    """Minimum of the λ-bound over λ ∈ (0, 2) (closed form; equals the quadratic bound)."""
    _v(emp, kl, n, delta)
    a = _A(kl, n, delta) / n
    lam = 2 / (math.sqrt(2 * emp / a + 1) + 1)
    return lambda_bound(emp, kl, n, delta, lam), lam


def catoni_bound(emp, kl, n, delta, C):
    _v(emp, kl, n, delta)
    if not C > 0:
        raise InputError("C", f"must be > 0, got {C}")
    return -math.expm1(-C * emp - (kl + math.log(1 / delta)) / n) / -math.expm1(-C)


def catoni_grid_bound(emp, kl, n, delta, grid=None):
    """Catoni optimised over a grid of C fixed in advance (union bound: δ/|grid| each)."""
    grid = list(grid) if grid is not None else list(np.exp(np.linspace(np.log(0.1), np.log(20), 40)))
    vals = [catoni_bound(emp, kl, n, delta / len(grid), C) for C in grid]
    i = int(np.argmin(vals))
    return vals[i], grid[i]


def langford_seeger_bound(emp, kl, n, delta):
    _v(emp, kl, n, delta)
    return kl_inv_upper(emp, (kl + math.log(n / delta)) / (n - 1)) if n > 1 else 1.0


def gaussian_kl(mu, s2, mu0, lam) -> float:
    r""":math:`\mathrm{KL}(N(\mu,\mathrm{diag}\,s^2)\|N(\mu_0,\lambda I))`."""
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
