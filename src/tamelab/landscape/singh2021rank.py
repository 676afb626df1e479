r"""Hessian rank when the data live on a low-dimensional subspace (Singh et al., arXiv:2106.16225).

Hessian rank when the data live on a low-dimensional subspace (Singh, Bachmann & Hofmann, arXiv:2106.16225:
the Hessian rank is governed by the rank of the input covariance).

If every input lies in a :math:`k`-dimensional subspace :math:`\mathrm{span}(B)\subset\mathbb R^d`, the loss
depends on the first-layer weights :math:`W_1\in\mathbb R^{h_1\times d}` only through :math:`W_1B`. Every direction
:math:`\delta W_1` with :math:`\delta W_1B=0` leaves the loss unchanged to all orders, so it lies in the Hessian's
kernel: :math:`\mathrm{rank}\,H\le P-h_1(d-k)` (P = number of parameters). At a generic point of a net without
continuous symmetries (tanh) the bound is attained, so the rank grows by exactly :math:`h_1` per data dimension.

:func:`dense_hessian_double_backward` is the reference (reverse-over-reverse, ``torch.autograd.functional.hessian``;
never ``torch.func.hessian``, which is wrong on affine LayerNorm in torch 2.13); :func:`operator_matrix` builds the
same matrix column by column from :class:`tamelab.landscape.CurvatureOperator` products.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from .._params import flat_params
from ..errors import InputError

__all__ = [
    "HessianRankRow",
    "dense_hessian_double_backward",
    "first_layer_null_directions",
    "numerical_rank",
    "operator_matrix",
    "predicted_rank",
    "subspace_data",
]


def _names_shapes(model: nn.Module):
    ps = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    return [n for n, _ in ps], [p.shape for _, p in ps], [p.numel() for _, p in ps]


def dense_hessian_double_backward(
    model: nn.Module, loss_fn: Callable, X: torch.Tensor, T: torch.Tensor
) -> torch.Tensor:
    """Full Hessian of ``loss_fn(model(X), T)`` w.r.t. all trainable parameters, by double backward."""
    names, shapes, sizes = _names_shapes(model)
    buffers = dict(model.named_buffers())
    theta = flat_params(model, names).detach().clone()

    def f(t):
        out, i = {}, 0
        for n, s, k in zip(names, shapes, sizes):
            out[n] = t[i : i + k].view(s)
            i += k
        return loss_fn(functional_call(model, {**buffers, **out}, (X,)), T)

    H = torch.autograd.functional.hessian(f, theta)
    return 0.5 * (H + H.T)


def operator_matrix(op) -> torch.Tensor:
    """Dense matrix of a curvature operator from n products with the unit vectors (n = ``op.n``)."""
    n = op.n
    cols = [op.matvec(torch.nn.functional.one_hot(torch.tensor(i), n).to(op.dtype)) for i in range(n)]
    return torch.stack(cols, 1)


def numerical_rank(H: torch.Tensor | np.ndarray, rtol: float = 1e-9) -> int:
    """Number of eigenvalues with |λ| > rtol · max|λ| (symmetric H)."""
    ev = np.linalg.eigvalsh(np.asarray(H.detach().cpu() if isinstance(H, torch.Tensor) else H, dtype=float))
    return int(np.sum(np.abs(ev) > rtol * np.abs(ev).max())) if ev.size and np.abs(ev).max() > 0 else 0


def subspace_data(n: int, d: int, k: int, *, seed: int = 0, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` Gaussian points on a random k-dimensional subspace of R^d; returns (X, B) with B (d×k) orthonormal."""
    if not 0 <= k <= d:
        raise InputError("k", f"must be in [0, d={d}], got {k}")
    g = torch.Generator().manual_seed(seed)
    B = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=dtype))[0][:, :k]
    return torch.randn(n, k, generator=g, dtype=dtype) @ B.T, B


def first_layer_null_directions(model: nn.Sequential, B: torch.Tensor) -> torch.Tensor:
    """Flat parameter directions δW₁ with δW₁B = 0 (all other parameters 0): columns, h₁(d−k) of them."""
    first = model[0]
    if not isinstance(first, nn.Linear):
        raise InputError("model", "the first module must be nn.Linear", "use an MLP")
    h1, d = first.weight.shape
    k = B.shape[1]
    Q = torch.linalg.qr(torch.cat([B, torch.randn(d, d - k, dtype=B.dtype)], 1))[0][:, k:]  # complement basis
    names, _, sizes = _names_shapes(model)
    P = sum(sizes)
    off = 0
    for n, s in zip(names, sizes):
        if n.endswith("weight") and model.get_parameter(n) is first.weight:
            break
        off += s
    cols = []
    for i in range(h1):
        for j in range(d - k):
            v = torch.zeros(P, dtype=B.dtype)
            D = torch.zeros(h1, d, dtype=B.dtype)
            D[i] = Q[:, j]
            v[off : off + h1 * d] = D.reshape(-1)
            cols.append(v)
    return torch.stack(cols, 1) if cols else torch.zeros(P, 0, dtype=B.dtype)


def predicted_rank(model: nn.Sequential, d: int, k: int) -> int:
    """P − h₁(d − k): the rank at a generic point when the data span a k-dimensional subspace."""
    P = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return P - model[0].out_features * (d - k)


@dataclasses.dataclass
class HessianRankRow:
    """One row of the rank study: the Hessian rank for input rank ``k``, measured two ways, and predicted."""

    k: int
    rank_dense: int
    rank_operator: int
    predicted: int
    null_residual: float
    operator_vs_dense: float
