r"""Robbins & Monro (1951): stochastic approximation with :math:`\sum\alpha=\infty`, :math:`\sum\alpha^2<\infty`.

Claim: SGD with steps :math:`\alpha_t=a/(b+t)^p`, :math:`1/2<p\le1`, on a smooth strongly
convex finite sum with unbiased noisy (mini-batch) gradients drives the full gradient
norm to 0; a constant step keeps a noise floor. Measured on a seeded least-squares problem.
"""

from __future__ import annotations

import numpy as np

from ...train import make_schedule, schedule_sums
from .._registry import ClaimContext, Measured, claim


def _run(schedule, A, y, steps, rng, batch):
    n, d = A.shape
    w = np.zeros(d)
    H = A.T @ A / n
    w_star = np.linalg.solve(H, A.T @ y / n)
    checkpoints, gnorms = [], []
    for t in range(steps):
        idx = rng.integers(0, n, size=batch)
        g = A[idx].T @ (A[idx] @ w - y[idx]) / batch
        w -= schedule(t) * g
        if (t + 1) % max(1, steps // 20) == 0:
            checkpoints.append(t + 1)
            gnorms.append(float(np.linalg.norm(H @ (w - w_star))))
    return np.array(checkpoints), np.array(gnorms)


@claim(
    "robbins-monro-sgd-gradient-to-zero",
    paper="Robbins & Monro 1951, doi:10.1214/aoms/1177729586",
    statement="SGD with step sizes a/(b+t)^p, 1/2 < p <= 1 (sum = inf, sum of squares < inf) drives the full gradient "
    "norm of a smooth strongly convex least-squares problem to 0; a constant step stalls at a noise floor.",
    expected={
        "final_grad_norm_rm": "-> 0: log-log decay exponent < -0.3 (theory ~ -1/2 in expectation), below 1/4 of the "
        "constant-step floor",
        "rm_conditions": True,
        "constant_step_floor": "bounded away from 0",
    },
    tags=("train", "foundation"),
    source="Robbins & Monro 1951, doi:10.1214/aoms/1177729586 (sum alpha = inf, sum alpha^2 < inf)",
    expected_from="theory",
)
def robbins_monro(ctx: ClaimContext) -> Measured:
    """Claim: SGD with Robbins–Monro steps drives the full gradient to 0; a constant step stalls at a noise floor."""
    rng = np.random.default_rng(ctx.seed)
    n, d = 400, 5
    A = rng.standard_normal((n, d))
    y = A @ rng.standard_normal(d) + 0.5 * rng.standard_normal(n)  # noisy: per-sample gradients ≠ 0 at w*
    steps = 20_000 if ctx.quick else 200_000
    # per-sample smoothness: batch-1 steps are stable for alpha < 2 / max_i |a_i|^2
    L_max = float((A**2).sum(1).max())
    mu = float(np.linalg.eigvalsh(A.T @ A / n).min())
    rm = make_schedule("robbins_monro", 2.0 / mu, b=2.0 * L_max / mu, p=1.0)  # alpha_0 = 1/L_max, then ~ 2/(mu t)
    const = make_schedule("constant", 1.0 / L_max)
    t_rm, g_rm = _run(rm, A, y, steps, np.random.default_rng([ctx.seed, 1]), batch=1)
    _, g_c = _run(const, A, y, steps, np.random.default_rng([ctx.seed, 1]), batch=1)
    # decay exponent of the gradient norm over the second half (log-log fit)
    half = len(t_rm) // 2
    slope = float(np.polyfit(np.log(t_rm[half:]), np.log(g_rm[half:]), 1)[0])
    sums = schedule_sums(rm, steps)
    g_start = float(np.linalg.norm(A.T @ y / n))  # ‖∇f(0)‖
    holds = bool(
        rm.robbins_monro_conditions
        and slope < -0.3
        and g_rm[-1] < 0.5 * g_rm[0]
        and g_rm[-1] < 0.25 * np.median(g_c[half:])
    )
    return Measured(
        {
            "steps": steps,
            "grad_norm_at_start": g_start,
            "grad_norm_first_checkpoint": g_rm[0],
            "final_grad_norm_rm": g_rm[-1],
            "loglog_decay_exponent_rm": slope,
            "constant_step_floor_median": float(np.median(g_c[half:])),
            "sum_alpha": sums["sum"],
            "sum_alpha_sq": sums["sum_sq"],
            "rm_conditions": rm.robbins_monro_conditions,
        },
        holds,
        "gradient norm decays like t^slope under Robbins–Monro steps; constant step stays at its noise floor",
    )
