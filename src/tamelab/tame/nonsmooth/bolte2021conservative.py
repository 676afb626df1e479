r"""AD outputs vs the Clarke subdifferential: Bolte & Pauwels' conservative fields, measured (spec §2.2–2.3a).

Backprop through a program with a fixed ReLU'(0) = s returns an element of a *conservative field* of the
function it computes, which may differ from the Clarke subdifferential at kinks. :func:`ad_clarke_probe`
compares the AD output at a point with the gradient-sampling hull around it; :func:`ad_vs_clarke_examples`
runs the probe on programs that compute simple functions.

References:
    Bolte & Pauwels, *Conservative set valued fields, automatic differentiation, stochastic gradient methods and
    deep learning*, Math. Program. 188 (2021), arXiv:1909.10300; Bolte & Pauwels, NeurIPS 2020, arXiv:2006.02080.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ..._numerics import AD_HULL_RTOL, FD_SUPPORT_RTOL, FLOAT64_RTOL
from ..._rng import SeedLike, resolve_seed
from ...result import Result, Status
from .goldstein1977optimization import check_radius, sample_ball
from .wolfe1976nearest import min_norm_hull

__all__ = ["ad_clarke_probe", "AdClarkeProbe", "ad_vs_clarke_examples", "AdVsClarke"]


@dataclasses.dataclass
class AdClarkeProbe(Result):
    """AD output at x against the gradients sampled around x (see :func:`ad_clarke_probe`).

    Attributes:
        ad: the AD output at x (flat); rho: min-norm of the sampled ε-hull; hull_lambda: its weights;
        sampled_interval: for a one-dimensional x, ``[min_i g_i, max_i g_i]`` — the sampled Goldstein ε-hull, an
            inner estimate of the Clarke subdifferential conv{lim ∇f(u), u → x} (``None`` in higher dimension);
        dist_ad_to_hull: distance from the AD output to the sampled hull; ad_inconsistent: it exceeds 1e-6·scale;
        directions: per random unit direction d, the one-sided difference quotient f'(x; d) and the support
        value max_i ⟨g_i, d⟩; support_dominates_fd: the support value dominates every quotient (up to 1e-4·scale).
    """

    kind = "ad_clarke_probe"

    ad: list[float] = dataclasses.field(default_factory=list)
    rho: float = float("nan")
    hull_lambda: list[float] = dataclasses.field(default_factory=list)
    sampled_interval: tuple[float, float] | None = None
    dist_ad_to_hull: float = float("nan")
    ad_inconsistent: bool = False
    eps: float = 0.0
    m: int = 0
    directions: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    support_dominates_fd: bool = False


def ad_clarke_probe(
    f: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    *,
    eps: float = 1e-3,
    m: int = 32,
    seed: SeedLike = 0,
    n_dirs: int = 8,
) -> AdClarkeProbe:
    r"""Consistency test of the AD output at ``x`` with the Clarke subdifferential (spec §2.3a).

    Returns the AD output ``a``, ``rho`` (min-norm of the sampled ε-hull), ``dist_ad_to_hull``
    (= min-norm of {g_i − a}, solved by the same QP) and, for random unit directions d, the one-sided
    difference quotient f'(x; d) next to the support value max_i ⟨g_i, d⟩ (Clarke: max_{v∈∂f(x)}⟨v,d⟩ ≥ f'(x;d)).
    ``ad_inconsistent`` flags an AD output far (> 1e-6·scale) from the sampled hull. Evaluated in float64.
    """
    s = resolve_seed(seed)
    x = x.detach().to(torch.float64)
    eps = check_radius(eps, x)
    xr = x.clone().requires_grad_(True)
    (a,) = torch.autograd.grad(f(xr), xr)
    U = sample_ball(x, eps, m, seed=np.random.default_rng([s, 0]))
    G = torch.stack([_grad1(f, u) for u in U]).reshape(m, -1).cpu().numpy()
    hull = min_norm_hull(G)
    shift = min_norm_hull(G - a.reshape(1, -1).cpu().numpy())
    rng = np.random.default_rng([s, 1])
    h = 1e-6 * max(1.0, float(torch.linalg.vector_norm(x)))
    dirs = []
    for _ in range(n_dirs):
        d = rng.standard_normal(x.numel())
        d /= np.linalg.norm(d)
        dt = torch.as_tensor(d, device=x.device).reshape(x.shape)
        fd = float((f(x + h * dt) - f(x)) / h)
        dirs.append({"direction": d.tolist(), "one_sided_derivative": fd, "support_sampled_hull": float((G @ d).max())})
    scale = max(1.0, float(np.abs(G).max()))
    return AdClarkeProbe(
        status=Status.OK if hull.converged and shift.converged else Status.NOT_CONVERGED,
        seed=s,
        ad=a.reshape(-1).tolist(),
        rho=hull.rho,
        hull_lambda=hull.lam.tolist(),
        sampled_interval=(float(G.min()), float(G.max())) if G.shape[1] == 1 else None,
        dist_ad_to_hull=shift.rho,
        ad_inconsistent=bool(shift.rho > AD_HULL_RTOL * scale),
        eps=eps,
        m=m,
        directions=dirs,
        support_dominates_fd=bool(
            all(dd["support_sampled_hull"] >= dd["one_sided_derivative"] - FD_SUPPORT_RTOL * scale for dd in dirs)
        ),
    )


def _grad1(f, u: torch.Tensor) -> torch.Tensor:
    u = u.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(u), u)
    return g


@dataclasses.dataclass
class AdVsClarke(Result):
    """Rows of :func:`ad_vs_clarke_examples`: per program and ReLU'(0) = s, the AD output at 0 and the sampled hull."""

    kind = "ad_vs_clarke"

    rows: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    eps: float = 0.0
    m: int = 0
    dtype: str = "float64"

    def row(self, program: str, s: float) -> dict[str, Any]:
        """The row of ``program`` at ReLU'(0) = ``s``."""
        for r in self.rows:
            if r["program"] == program and r["s"] == float(s):
                return r
        raise KeyError((program, s))


#: the programs of :func:`ad_vs_clarke_examples`: name -> (program of x and s, exact Clarke interval at 0)
def _programs():
    from ..relu_prime._ops import relu_prime

    return {
        "relu(x)-relu(-x)": (lambda x, s: relu_prime(x, s) - relu_prime(-x, s), (1.0, 1.0)),
        "relu2(t)=relu(-t)+t": (lambda x, s: relu_prime(-x, s) + x, (0.0, 1.0)),
        "relu3=(relu+relu2)/2": (lambda x, s: 0.5 * (relu_prime(x, s) + relu_prime(-x, s) + x), (0.0, 1.0)),
        "relu(x)-relu(x)": (lambda x, s: relu_prime(x, s) - relu_prime(x, s), (0.0, 0.0)),
    }


def ad_vs_clarke_examples(
    s_values: Sequence[float] = (0.0, 0.5, 1.0),
    *,
    eps: float = 1e-3,
    m: int = 16,
    seed: SeedLike = 0,
    dtype: torch.dtype = torch.float64,
) -> AdVsClarke:
    r"""AD output vs Clarke subdifferential on programs that equal simple functions (spec §2.2).

    * :math:`g(x)=\mathrm{relu}(x)-\mathrm{relu}(-x)\equiv x`: AD gives :math:`2s` at 0, Clarke :math:`\{1\}`;
    * :math:`\mathrm{relu}_2(t)=\mathrm{relu}(-t)+t\equiv\mathrm{relu}`: AD gives :math:`1-s`, Clarke :math:`[0,1]`;
    * :math:`\mathrm{relu}_3=\frac12(\mathrm{relu}+\mathrm{relu}_2)\equiv\mathrm{relu}`: AD gives :math:`1/2`, Clarke
    :math:`[0,1]`;
    * :math:`\mathrm{relu}(x)-\mathrm{relu}(x)\equiv0`: AD gives 0 for every s, Clarke :math:`\{0\}`.

    Each row: program, s, AD output at 0 (computed in ``dtype``), the exact Clarke interval (closed form, for the
    tests), the **sampled** hull interval ``[min g_i, max g_i]`` of gradients at points of B(0, ε) (measured: the
    Clarke set estimated by gradient sampling), whether the AD output lies in each, ρ_ε(0), and the probe's distance
    from the AD output to the sampled hull.
    """
    s0 = resolve_seed(seed)
    rows = []
    for name, (fn, clarke) in _programs().items():
        for s in s_values:

            def f(x, fn=fn, s=s):
                return fn(x, s).sum()

            x0 = torch.zeros(1, dtype=dtype, requires_grad=True)
            (ad_t,) = torch.autograd.grad(f(x0), x0)
            ad = float(ad_t)
            pr = ad_clarke_probe(f, torch.zeros(1, dtype=torch.float64), eps=eps, m=m, seed=s0, n_dirs=2)
            lo, hi = pr.sampled_interval
            rows.append(
                {
                    "program": name,
                    "s": float(s),
                    "ad_at_0": ad,
                    "clarke_at_0": list(clarke),
                    "sampled_hull_at_0": [lo, hi],
                    "ad_in_clarke": bool(clarke[0] - FLOAT64_RTOL <= ad <= clarke[1] + FLOAT64_RTOL),
                    "ad_in_sampled_hull": bool(lo - FLOAT64_RTOL <= ad <= hi + FLOAT64_RTOL),
                    "rho_eps_at_0": pr.rho,
                    "dist_ad_to_sampled_hull": pr.dist_ad_to_hull,
                }
            )
    return AdVsClarke(
        status=Status.OK, seed=s0, rows=rows, eps=float(eps), m=int(m), dtype=str(dtype).replace("torch.", "")
    )
