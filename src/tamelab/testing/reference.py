"""Dense / brute-force references that tests (and users) compare fast code against."""

from __future__ import annotations

import torch
from torch.func import functional_call, hessian

__all__ = ["dense_hessian", "dense_ggn"]


def _setup(model, names):
    params = dict(model.named_parameters())
    names = list(names) if names is not None else list(params)
    fixed = {k: v.detach() for k, v in list(params.items()) + list(model.named_buffers()) if k not in names}
    shapes = [params[n].shape for n in names]
    sizes = [params[n].numel() for n in names]
    theta = torch.cat([params[n].detach().reshape(-1) for n in names])

    def unflat(f):
        out, i = {}, 0
        for n, s, k in zip(names, shapes, sizes):
            out[n] = f[i : i + k].view(s)
            i += k
        return out

    return theta, fixed, unflat


def dense_hessian(model, loss_fn, X, T, params=None) -> torch.Tensor:
    """The full Hessian of ``loss_fn(model(X), T)`` w.r.t. the flat parameters (``torch.func.hessian``)."""
    theta, fixed, unflat = _setup(model, params)
    return hessian(lambda f: loss_fn(functional_call(model, {**fixed, **unflat(f)}, (X,)), T))(theta)


def dense_ggn(model, loss_fn, X, T, params=None) -> torch.Tensor:
    """Dense GGN ``J^T H_out J`` built from the full Jacobian and output Hessian."""
    theta, fixed, unflat = _setup(model, params)
    f = lambda t: functional_call(model, {**fixed, **unflat(t)}, (X,))  # noqa: E731
    J = torch.autograd.functional.jacobian(f, theta).reshape(-1, theta.numel())
    out = f(theta).detach()
    Ho = hessian(lambda o: loss_fn(o.view_as(out), T))(out.reshape(-1)).reshape(out.numel(), out.numel())
    return J.T @ Ho @ J
