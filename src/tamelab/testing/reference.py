r"""Dense / brute-force references that tests (and users) compare fast code against.

Every dense Hessian here is built from first-order autograd only in ways that are known to be right
for every module, and it is checked for symmetry before it is returned.

# NOTE [torch.func.hessian]: in torch 2.13 ``torch.func.hessian`` (jacfwd∘jacrev) and jacrev∘jacrev
# return a wrong, non-symmetric Hessian for any model with an affine ``LayerNorm`` (7–12 % off on
# Linear→LayerNorm→GELU→Linear with cross-entropy; one mixed block 61 % off while its transpose is
# right). Double backward (``torch.autograd.grad`` of the gradient), forward-over-reverse
# (``torch.func.jvp`` of ``torch.func.grad``) and finite differences of the gradient agree to 1e-8
# there, so the references use those three and never ``torch.func.hessian``.

Methods of :func:`dense_hessian` (``method=``):

* ``"double_backward"`` (default): row :math:`i` is :math:`\nabla_\theta(\nabla_\theta L)_i`, one
  backward pass through the gradient graph per row;
* ``"jvp_grad"``: column :math:`i` is :math:`\partial_t\nabla L(\theta+te_i)|_{t=0}`
  (``torch.func.jvp`` of ``torch.func.grad``), all columns under ``torch.func.vmap``;
* ``"finite_difference"``: :math:`(\nabla L(\theta+he_i)-\nabla L(\theta-he_i))/2h`, error
  :math:`O(h^2)+O(\epsilon/h)` (about 1e-8 in float64 with the default :math:`h=10^{-5}` for smooth models;
  wrong within :math:`h` of a ReLU kink).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.func import functional_call

from ..errors import ComputationError, InputError

__all__ = ["HESSIAN_METHODS", "MatrixOperator", "check_symmetric", "dense_ggn", "dense_hessian"]

#: the methods :func:`dense_hessian` implements (none uses ``torch.func.hessian``).
HESSIAN_METHODS = ("double_backward", "jvp_grad", "finite_difference")


def _resolve(loss_fn):
    if isinstance(loss_fn, str):
        from ..losses import resolve_loss

        return resolve_loss(loss_fn)
    return loss_fn


def _setup(model, names):
    params = dict(model.named_parameters())
    names = list(names) if names is not None else list(params)
    unknown = [n for n in names if n not in params]
    if unknown:
        raise InputError("params", f"unknown parameter names {unknown}", f"available: {list(params)}")
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


def check_symmetric(H: torch.Tensor, *, rtol: float = 1e-8, what: str = "Hessian") -> float:
    """Raise :class:`~tamelab.errors.ComputationError` unless ``H`` is symmetric to ``rtol·max|H|``;

    returns the relative asymmetry ``max|H − Hᵀ| / max(max|H|, tiny)``.
    """
    scale = float(H.abs().max()) if H.numel() else 0.0
    asym = float((H - H.T).abs().max()) if H.numel() else 0.0
    rel = asym / max(scale, torch.finfo(H.dtype).tiny)
    if not rel <= rtol:
        raise ComputationError(
            f"the dense {what} is not symmetric (max |H - H^T| = {asym:.3e}, "
            f"{rel:.2e} relative); the reference is wrong or the loss is not twice differentiable here"
        )
    return rel


def dense_hessian(
    model,
    loss_fn: Callable | str,
    X,
    T,
    params: Sequence[str] | None = None,
    *,
    method: str = "double_backward",
    h: float = 1e-5,
    symmetry_rtol: float | None = 1e-8,
) -> torch.Tensor:
    """The full Hessian of ``loss_fn(model(X), T)`` w.r.t. the flat parameters (``named_parameters`` order).

    Args:
        model: any ``nn.Module``.
        loss_fn: a loss name or a callable ``loss_fn(outputs, targets)``.
        X: the inputs.
        T: the targets.
        params: names of the parameters to differentiate (default: all, in ``named_parameters`` order).
        method: ``"double_backward"``, ``"jvp_grad"`` or ``"finite_difference"`` (module docstring).
        h: finite-difference step.
        symmetry_rtol: raise if ``max|H − Hᵀ| > symmetry_rtol·max|H|`` (``None``: no check; finite
            differences are only symmetric to their own error, check them with a looser value).
    """
    if method not in HESSIAN_METHODS:
        raise InputError("method", f"unknown {method!r}", f"use one of {', '.join(HESSIAN_METHODS)}")
    loss_fn = _resolve(loss_fn)
    theta, fixed, unflat = _setup(model, params)

    def f(t):
        return loss_fn(functional_call(model, {**fixed, **unflat(t)}, (X,)), T)

    if method == "double_backward":
        leaf = theta.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(f(leaf), leaf, create_graph=True)
        rows = []
        for i in range(theta.numel()):
            (r,) = torch.autograd.grad(g[i], leaf, retain_graph=True, allow_unused=True)
            rows.append(torch.zeros_like(theta) if r is None else r)
        H = torch.stack(rows).detach()
    elif method == "jvp_grad":
        gf = torch.func.grad(f)
        eye = torch.eye(theta.numel(), dtype=theta.dtype, device=theta.device)
        H = torch.func.vmap(lambda e: torch.func.jvp(gf, (theta,), (e,))[1])(eye).T.detach()
    else:

        def grad_at(t):
            leaf = t.clone().requires_grad_(True)
            (g,) = torch.autograd.grad(f(leaf), leaf)
            return g

        cols = []
        for i in range(theta.numel()):
            e = torch.zeros_like(theta)
            e[i] = h
            cols.append((grad_at(theta + e) - grad_at(theta - e)) / (2 * h))
        H = torch.stack(cols, 1)
    if symmetry_rtol is not None:
        check_symmetric(H, rtol=symmetry_rtol)
    return H


def dense_ggn(
    model, loss_fn: Callable | str, X, T, params: Sequence[str] | None = None, *, symmetry_rtol: float | None = 1e-8
) -> torch.Tensor:
    r"""Dense GGN from the full Jacobian and the output Hessian.

    Dense GGN :math:`J^\top\nabla^2_f\ell\,J` from the full Jacobian (reverse mode, row by row) and the
    output Hessian (double backward, row by row; never ``torch.func.hessian``).
    """
    loss_fn = _resolve(loss_fn)
    theta, fixed, unflat = _setup(model, params)

    def fwd(t):
        return functional_call(model, {**fixed, **unflat(t)}, (X,))

    leaf = theta.clone().requires_grad_(True)
    out = fwd(leaf)
    flat_out = out.reshape(-1)
    rows = []
    for j in range(flat_out.numel()):
        (r,) = torch.autograd.grad(flat_out[j], leaf, retain_graph=True, allow_unused=True)
        rows.append(torch.zeros_like(theta) if r is None else r)
    J = torch.stack(rows).detach()
    o = out.detach().clone().requires_grad_(True)
    (go,) = torch.autograd.grad(loss_fn(o, T), o, create_graph=True)
    go = go.reshape(-1)
    Ho = torch.stack([_row(go, j, o) for j in range(go.numel())]).detach()
    G = J.T @ Ho @ J
    if symmetry_rtol is not None:
        check_symmetric(Ho, rtol=symmetry_rtol, what="output Hessian")
        check_symmetric(G, rtol=symmetry_rtol, what="GGN")
    return G


def _row(go: torch.Tensor, j: int, o: torch.Tensor) -> torch.Tensor:
    if not go.requires_grad:  # a loss linear in the outputs: zero output Hessian
        return torch.zeros(o.numel(), dtype=o.dtype, device=o.device)
    (r,) = torch.autograd.grad(go[j], o, retain_graph=True, allow_unused=True)
    return torch.zeros(o.numel(), dtype=o.dtype, device=o.device) if r is None else r.reshape(-1)


class MatrixOperator:
    """A matrix as a matrix-free operator (``matvec``, ``shape``, ``dtype``), counting its products in ``hvps``.

    The reference the spectral routines (:func:`tamelab.landscape.top_eigenpairs`, Lanczos, SLQ) are checked
    against: its spectrum is known exactly (``torch.linalg.eigvalsh`` of ``A``, or ``d`` itself for
    :meth:`diagonal`). ``A`` need not be symmetric: a non-symmetric one is the wrong answer the Lanczos
    certificate must refuse.
    """

    def __init__(self, A: torch.Tensor) -> None:
        self.A = A
        self.shape = tuple(A.shape)
        self.dtype = A.dtype
        self.hvps = 0

    @classmethod
    def diagonal(cls, d: object) -> "MatrixOperator":
        """``diag(d)`` in float64: eigenvalues ``d``, eigenvectors the unit vectors."""
        return cls(torch.diag(torch.as_tensor(np.asarray(d, dtype=float), dtype=torch.float64)))

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        """``A v`` (one counted product)."""
        self.hvps += 1
        return self.A @ v
