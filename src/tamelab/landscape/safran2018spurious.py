r"""Spurious local minima of two-layer ReLU teacher–student nets (Safran & Shamir, arXiv:1712.08968).

Spurious local minima of two-layer ReLU teacher–student nets and their disappearance with width
(Safran & Shamir, arXiv:1712.08968, ICML 2018).

Objective (population loss, x ~ N(0, I_d), teacher with orthonormal :math:`v_1..v_k`, student of width n):

.. math:: F(W)=\tfrac12\,\mathbb E_x\Big(\sum_{i=1}^n[w_i^\top x]_+-\sum_{j=1}^k[v_j^\top x]_+\Big)^2,

in closed form (and its gradient, :func:`population_gradient`) with
:math:`\mathbb E[w^\top x]_+[v^\top x]_+=\frac{\|w\|\|v\|}{2\pi}\big(\sin\theta+(\pi-\theta)\cos\theta\big)`
(θ the angle between w and v). :func:`population_loss` evaluates it (batched over restarts);
:func:`restart_study` runs plain gradient descent from many Xavier-type initialisations and sorts the end points
into *global* (F below ``global_tol``), *spurious* (stationary: gradient norm below ``grad_tol``, F above it) and
*unconverged*. :func:`mc_loss` is an independent Monte-Carlo estimate used by the tests.
"""

from __future__ import annotations

import dataclasses
import math
import time

import torch

from .._rng import resolve_seed
from ..errors import InputError
from ..result import Result, Status

__all__ = ["RestartStudy", "mc_loss", "population_gradient", "population_loss", "restart_study"]


def _kappa(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """E[a·x]_+[b·x]_+ for all row pairs: A (..., p, d), B (..., q, d) -> (..., p, q)."""
    na = A.norm(dim=-1, keepdim=True).clamp_min(1e-300)
    nb = B.norm(dim=-1, keepdim=True).clamp_min(1e-300)
    c = ((A / na) @ (B / nb).transpose(-1, -2)).clamp(-1.0, 1.0)
    th = torch.arccos(c)
    return (na * nb.transpose(-1, -2)) / (2 * math.pi) * (torch.sqrt((1 - c * c).clamp_min(0)) + (math.pi - th) * c)


def population_gradient(W: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    r"""Closed-form ∇F:

    :math:`\nabla_{w_i}F=\sum_j g(w_i,w_j)-\sum_j g(w_i,v_j)`,
    :math:`g(w,u)=\frac1{2\pi}\big(\|u\|\sin\theta\,\hat w+(\pi-\theta)u\big)` (batched over W's leading dims).
    """
    U = torch.cat([W, V.expand(*W.shape[:-2], *V.shape)], -2)
    sign = torch.cat([torch.ones(W.shape[-2], dtype=W.dtype), -torch.ones(V.shape[0], dtype=W.dtype)])
    nw = W.norm(dim=-1, keepdim=True).clamp_min(1e-300)
    nu = U.norm(dim=-1).clamp_min(1e-300)
    c = ((W / nw) @ (U / nu[..., None]).transpose(-1, -2)).clamp(-1.0, 1.0)
    th = torch.arccos(c)
    sn = torch.sqrt((1 - c * c).clamp_min(0))
    a = (nu[..., None, :] * sn * sign).sum(-1, keepdim=True)
    return (a * (W / nw) + ((math.pi - th) * sign) @ U) / (2 * math.pi)


def population_loss(W: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """F(W) for a batch W (..., n, d) and a teacher V (k, d)."""
    return 0.5 * (
        _kappa(W, W).sum((-1, -2)) - 2 * _kappa(W, V.expand(*W.shape[:-2], *V.shape)).sum((-1, -2)) + _kappa(V, V).sum()
    )


def mc_loss(W: torch.Tensor, V: torch.Tensor, samples: int = 200_000, seed: int = 0) -> float:
    """Monte-Carlo estimate of F(W) (one W (n, d)): an independent check of the closed form."""
    x = torch.randn(samples, W.shape[-1], generator=torch.Generator().manual_seed(seed), dtype=W.dtype)
    r = torch.relu(x @ W.T).sum(1) - torch.relu(x @ V.T).sum(1)
    return float(0.5 * (r * r).mean())


@dataclasses.dataclass
class RestartStudy(Result):
    """Fractions of random restarts of gradient descent that end at global, spurious or no minima."""

    k: int = 0
    width: int = 0
    restarts: int = 0
    steps: int = 0
    global_fraction: float = float("nan")
    spurious_fraction: float = float("nan")
    unconverged_fraction: float = float("nan")
    spurious_losses: list[float] = dataclasses.field(default_factory=list)
    final_losses: list[float] = dataclasses.field(default_factory=list)


def restart_study(
    k: int,
    width: int,
    *,
    restarts: int = 100,
    steps: int = 3000,
    lr: float = 0.05,
    seed=0,
    global_tol: float = 1e-4,
    grad_tol: float = 1e-5,
    dtype=torch.float64,
) -> RestartStudy:
    """Gradient descent on F from ``restarts`` initialisations w_i ~ N(0, I/d) (Xavier-type), teacher V = I_k."""
    if k < 1 or width < 1 or restarts < 1 or steps < 1:
        raise InputError("k/width/restarts/steps", "must all be >= 1")
    t0 = time.perf_counter()
    s = resolve_seed(seed)
    d = k
    V = torch.eye(k, dtype=dtype)
    g = torch.Generator().manual_seed(s)
    W = torch.randn(restarts, width, d, generator=g, dtype=dtype) / math.sqrt(d)
    for _ in range(steps):
        W -= lr * population_gradient(W, V)
    F = population_loss(W, V)
    gn = population_gradient(W, V).flatten(1).norm(dim=1)
    glob = F < global_tol
    spur = (~glob) & (gn < grad_tol)
    return RestartStudy(
        status=Status.OK,
        seed=s,
        seconds=time.perf_counter() - t0,
        k=k,
        width=width,
        restarts=restarts,
        steps=steps,
        global_fraction=float(glob.double().mean()),
        spurious_fraction=float(spur.double().mean()),
        unconverged_fraction=float(((~glob) & (~spur)).double().mean()),
        spurious_losses=sorted({round(float(v), 6) for v in F[spur]}),
        final_losses=[float(v) for v in F],
    )
