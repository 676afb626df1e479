r"""Burke, Lewis & Overton (SIAM J. Optim. 15, 2005): gradient sampling minimises nonsmooth functions.

Two measurements of the BLO optimiser (spec tame-optimization.md §2.3d), each against an exact reference:

* :math:`f(x)=|x_1|+2|x_2|` from :math:`(1, 0.7)`: the iterates reach the minimiser 0 with a certified
  :math:`(\varepsilon,\rho)`-stationarity (ρ = min-norm element of the sampled-gradient hull);
* a random convex max of 10 affine functions on :math:`\mathbb R^3`: the optimum value matches the linear
  programme :math:`\min\{t: a_i^\top x+b_i\le t\}` (scipy HiGHS).
"""

from __future__ import annotations

import numpy as np

from ...tame import gradient_sampling_minimize
from ..._numerics import CLAIM_LP_GAP_TOL, CLAIM_SOLVER_TOL
from .._registry import ClaimContext, Measured, claim


@claim(
    "blo-gradient-sampling-minimises-nonsmooth",
    paper="doi:10.1137/030601296",
    statement="The gradient-sampling algorithm (normalised min-norm direction of the hull of gradients sampled in an "
    "eps-ball, Armijo backtracking, eps/nu reduction on small hulls, perturbation off kinks) converges on nonsmooth "
    "functions: to the minimiser of |x1|+2|x2| with a certified small Goldstein stationarity measure, and to the LP "
    "optimum of a convex max of affine functions.",
    expected={
        "weighted_l1_max_abs_x": "< 1e-6 with rho <= 1e-6 at eps <= 1e-6",
        "max_affine_value_gap_to_LP": "< 1e-5",
    },
    tags=("tame", "nonsmooth"),
    source="doi:10.1137/030601296 Thm 3.8 (convergence of gradient sampling); Kiwiel 2007 (revised algorithm)",
    expected_from="theory",
)
def blo_gradient_sampling(ctx: ClaimContext) -> Measured:
    """Claim: BLO gradient sampling converges on nonsmooth functions, with a certified Goldstein stationarity."""
    from scipy.optimize import linprog

    def l1(x):
        return abs(x[0]) + 2 * abs(x[1]), np.array([np.sign(x[0]), 2 * np.sign(x[1])])

    r = gradient_sampling_minimize(l1, [1.0, 0.7], seed=ctx.seed)
    max_x = float(np.abs(r.x).max())
    gaps, iters = [], []
    for case in range(3 if ctx.quick else 10):
        rng = np.random.default_rng([ctx.seed, case])
        while True:
            A, b = rng.standard_normal((10, 3)), rng.standard_normal(10)
            lp = linprog(
                np.r_[np.zeros(3), 1.0], A_ub=np.c_[A, -np.ones(10)], b_ub=-b, bounds=[(None, None)] * 4, method="highs"
            )
            if lp.status == 0:
                break

        def f(x, A=A, b=b):
            v = A @ x + b
            i = int(np.argmax(v))
            return float(v[i]), A[i].copy()

        def kink(x, A=A, b=b):
            v = np.sort(A @ x + b)
            return bool(v[-1] == v[-2])

        g = gradient_sampling_minimize(
            f, np.zeros(3), seed=ctx.seed, kink=kink, eps_tol=1e-8, nu_tol=1e-8, max_iter=2000
        )
        gaps.append(abs(g.f - lp.fun))
        iters.append(g.iterations)
    holds = bool(
        r.certified and max_x < CLAIM_SOLVER_TOL and r.rho <= CLAIM_SOLVER_TOL and max(gaps) < CLAIM_LP_GAP_TOL
    )
    return Measured(
        {
            "weighted_l1_max_abs_x": max_x,
            "weighted_l1_rho": r.rho,
            "weighted_l1_rho_eps": r.rho_eps,
            "weighted_l1_iterations": r.iterations,
            "weighted_l1_certified": r.certified,
            "max_affine_cases": len(gaps),
            "max_affine_value_gap_to_LP": max(gaps),
            "max_affine_iterations": iters,
        },
        holds,
        "defaults eps0 = nu0 = 0.1, theta_eps = theta_nu = 0.1, beta = 1e-6, gamma = 1/2, m = 2p; float64",
    )
