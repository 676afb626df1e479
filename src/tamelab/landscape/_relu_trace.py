r"""Exact Hessian trace of piecewise-linear networks with cross-entropy, from the GGN diagonal.

For a ReLU (any piecewise-linear activation) network every single weight or bias enters the output
affinely within an activation region, so :math:`\partial^2 f/\partial\theta_i^2=0` almost everywhere
and the Hessian diagonal equals the GGN diagonal: :math:`H_{ii}=G_{ii}` a.e. The GGN diagonal is
exact and cheap with the factorisation of the softmax-CE output Hessian
:math:`\tfrac1N(\mathrm{diag}\,p-pp^\top)=SS^\top`, :math:`s_c=(\sqrt{p_c}e_c-p\sqrt{p_c})/\sqrt N`:

.. math:: \mathrm{diag}\,G=\sum_n\sum_c\frac{p_{n,c}}N\big(\nabla_\theta[f_{n,c}-p_n^\top f_n]\big)^{\odot2},

i.e. ``C`` per-sample-gradient passes (``torch.func.vmap``) instead of a stochastic estimate: the
trace comes with zero variance. Valid only for piecewise-linear activations (checked by the caller).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

__all__ = ["ce_ggn_diagonal"]


def ce_ggn_diagonal(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, chunk: int = 512, fast_path: bool = True) -> torch.Tensor:
    """Exact diagonal of the GGN of mean cross-entropy (flat, in ``named_parameters`` order).

    A plain ``nn.Sequential`` of ``Linear``/``ReLU`` takes the batched closed form
    (:func:`tamelab.landscape._mlp_rop.mlp_ggn_diagonal`, ~100x faster); any other model the
    per-sample-gradient path below (also with ``fast_path=False``)."""
    from ._mlp_rop import mlp_ggn_diagonal, mlp_rop_plan

    params = {k: v.detach() for k, v in model.named_parameters()}
    plan = mlp_rop_plan(model, nn.functional.cross_entropy, list(params))
    if fast_path and plan is not None and y.dim() == 1 and not y.is_floating_point():
        return torch.cat([b.reshape(-1) for b in mlp_ggn_diagonal(plan[0], "ce", X, y)])
    N = X.shape[0]
    with torch.no_grad():
        P = torch.softmax(model(X), dim=1)
    C = P.shape[1]
    out = {k: torch.zeros_like(v) for k, v in params.items()}

    def score(p, x, c, pvec):
        f = functional_call(model, p, (x[None],))[0]
        return f[c] - (pvec * f).sum()

    g = vmap(grad(score), in_dims=(None, 0, None, 0))
    for lo in range(0, N, chunk):
        xb, pb = X[lo : lo + chunk], P[lo : lo + chunk]
        for c in range(C):
            gr = g(params, xb, c, pb)
            w = pb[:, c] / N
            for k in out:
                out[k] += torch.einsum("n,n...->...", w, gr[k] ** 2)
    return torch.cat([out[k].reshape(-1) for k in params])
