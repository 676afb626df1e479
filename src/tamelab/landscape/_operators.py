r"""Curvature operators of an empirical loss: Hessian and generalised Gauss–Newton (GGN).

For parameters :math:`\theta` (a subset selectable by name), data split in batches
:math:`B_b` of sizes :math:`n_b` (:math:`N=\sum n_b`) and a *mean* loss per batch,
:math:`L(\theta)=\sum_b\frac{n_b}{N}L_b(\theta)`, so

.. math:: Hv=\sum_b\frac{n_b}N\nabla^2L_b(\theta)v,\qquad
          Gv=\sum_b\frac{n_b}N J_b^\top\,\nabla^2_{f}\ell_b\,J_bv .

One Hessian-vector product is forward-over-reverse (``torch.func.jvp`` of ``torch.func.grad``),
about the cost of two gradients; the GGN product is a JVP through the network, the output-space
Hessian, and a VJP. The operator exports itself as a ``scipy.sparse.linalg.LinearOperator``.
A determinism check (two passes over the data must agree) runs before first use.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, jvp, vjp

from .._params import flat_params, set_flat_params
from ..errors import ComputationError, InputError

__all__ = ["CurvatureOperator", "flat_params", "set_flat_params"]


class CurvatureOperator:
    """Hessian or GGN of ``loss_fn(model(X), T)`` (mean over samples) as a linear operator.

    Args:
        model: any ``nn.Module`` (put in eval mode by the caller if it has dropout/BN).
        loss_fn: ``(outputs, targets) -> scalar mean loss``.
        data: a tuple ``(X, T)`` (one batch) or an iterable of such batches (e.g. a DataLoader).
        params: parameter names to differentiate with respect to (default: all).
        kind: ``"hessian"`` or ``"ggn"``.
        check_determinism: evaluate the loss and gradient twice and raise if they differ.
        cache_graphs: keep each batch's gradient graph between Hessian-vector products (one backward pass
            per HVP instead of a forward and two backwards); default on when the data are small.
        fast_path: for a plain ``nn.Sequential`` of ``Linear``/``ReLU`` with mean cross-entropy or MSE and all
            parameters selected, use the hand-written R-operator (:mod:`tamelab.landscape._mlp_rop`), the same
            products as autograd without its overhead; ``False`` forces autograd.
    """

    def __init__(self, model: nn.Module, loss_fn: Callable, data, *, params: Sequence[str] | None = None,
                 kind: str = "hessian", check_determinism: bool = True, cache_graphs: bool | None = None,
                 fast_path: bool = True) -> None:
        if kind not in ("hessian", "ggn"):
            raise InputError("kind", f"unknown curvature {kind!r}", "use hessian or ggn")
        all_params = dict(model.named_parameters())
        if not all_params:
            raise InputError("model", "has no parameters", "nothing to differentiate")
        self.names = list(params) if params is not None else [n for n, p in all_params.items() if p.requires_grad]
        unknown = [n for n in self.names if n not in all_params]
        if unknown:
            raise InputError("params", f"unknown parameter names {unknown}", f"available: {list(all_params)}")
        if not self.names:
            raise InputError("params", "empty parameter subset")
        self.model, self.loss_fn, self.kind = model, loss_fn, kind
        self.shapes = [all_params[n].shape for n in self.names]
        self.sizes = [all_params[n].numel() for n in self.names]
        self.theta = flat_params(model, self.names)
        self.dtype = self.theta.dtype
        self.n = int(self.theta.numel())
        self._fixed = {k: v.detach() for k, v in list(model.named_parameters()) + list(model.named_buffers()) if k not in self.names}
        if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], torch.Tensor):
            batches = [data]
        else:
            batches = [tuple(b[:2]) for b in data]
        if not batches:
            raise InputError("data", "is empty")
        self.batches = [(X, T) for X, T in batches]
        N = sum(int(X.shape[0]) for X, _ in self.batches)
        self.weights = [int(X.shape[0]) / N for X, _ in self.batches]
        self.hvps = 0
        # keep the double-backward graphs when the activations are small (≈ samples × widths floats)
        self._cache_graphs = cache_graphs if cache_graphs is not None else N * sum(self.sizes) ** 0.5 < 5e7
        self._graphs: dict[int, tuple] = {}
        self._rop = None
        if fast_path and kind == "hessian":
            from ._mlp_rop import mlp_rop_plan

            self._rop = mlp_rop_plan(model, loss_fn, self.names)
            if self._rop is not None and not all(self._rop_ok(X, T) for X, T in self.batches):
                self._rop = None
        if check_determinism:
            self.check_determinism()

    # -- functional pieces -------------------------------------------------
    def _unflatten(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        out, i = {}, 0
        for n, shp, k in zip(self.names, self.shapes, self.sizes):
            out[n] = flat[i : i + k].view(shp)
            i += k
        return out

    def _outputs(self, flat, X):
        return functional_call(self.model, {**self._fixed, **self._unflatten(flat)}, (X,))

    def _loss(self, flat, X, T):
        return self.loss_fn(self._outputs(flat, X), T)

    def loss(self, flat: torch.Tensor | None = None) -> float:
        flat = self.theta if flat is None else flat
        with torch.no_grad():
            val = sum(w * float(self._loss(flat, X, T)) for w, (X, T) in zip(self.weights, self.batches))
        if not np.isfinite(val):
            raise ComputationError("the loss is not finite at these parameters")
        return val

    def gradient(self, flat: torch.Tensor | None = None) -> torch.Tensor:
        flat = self.theta if flat is None else flat
        return sum(w * grad(self._loss)(flat, X, T) for w, (X, T) in zip(self.weights, self.batches))

    def check_determinism(self) -> None:
        l1, l2 = self.loss(), self.loss()
        g1, g2 = self.gradient(), self.gradient()
        if l1 != l2 or not torch.equal(g1, g2):
            raise ComputationError("two passes over the data gave different losses/gradients (dropout, BN in train mode, "
                                   "or a non-deterministic loader?); curvature would be meaningless")

    # -- products ----------------------------------------------------------
    def matvec(self, v) -> torch.Tensor:
        v = torch.as_tensor(v, dtype=self.dtype).reshape(-1)
        if v.numel() != self.n:
            raise InputError("v", f"has {v.numel()} entries, the operator acts on {self.n}")
        self.hvps += 1
        out = torch.zeros_like(self.theta)
        for w, (X, T) in zip(self.weights, self.batches):
            if self._rop is not None:
                hv = torch.cat([h.reshape(-1) for h in self._rop_state(X, T)(list(self._unflatten(v).values()))])
            elif self.kind == "hessian":
                # reverse-over-reverse (double backward); the gradient graph of a batch is built once and
                # kept (when the data fit the cache budget), so each further HVP is one backward pass through it
                leaves, gs = self._grad_graph(X, T)
                vs = self._unflatten(v).values()
                hv = torch.cat([h.reshape(-1) for h in torch.autograd.grad(gs, leaves, grad_outputs=list(vs),
                                                                           retain_graph=True, allow_unused=False)])
            else:
                o, jv = jvp(lambda f: self._outputs(f, X), (self.theta,), (v,))
                _, hjv = jvp(lambda oo: grad(lambda q: self.loss_fn(q, T))(oo), (o.detach(),), (jv,))
                _, pull = vjp(lambda f: self._outputs(f, X), self.theta)
                (hv,) = pull(hjv)
            out = out + w * hv
        return out

    def _rop_ok(self, X, T) -> bool:
        """The hand-written R-operator covers (N, d) inputs with class indices (CE) or (N, out) targets (MSE)."""
        if X.dim() != 2 or not X.is_floating_point():
            return False
        if self._rop[1] == "ce":
            return T.dim() == 1 and not T.is_floating_point() and len(T) == len(X) and bool((T >= 0).all())
        return T.is_floating_point() and T.shape == (X.shape[0], self._rop[0][-1].out_features)

    def _rop_state(self, X, T):
        from ._mlp_rop import MlpHvp

        key = ("rop", id(X))
        hit = self._graphs.get(key)
        if hit is None:
            hit = MlpHvp(*self._rop, X, T)
            if self._cache_graphs:
                self._graphs[key] = hit
        return hit

    @property
    def path(self) -> str:
        """Which HVP implementation is used: ``"mlp-rop"``, ``"autograd"`` (Hessian) or ``"ggn"``."""
        return "mlp-rop" if self._rop is not None else ("autograd" if self.kind == "hessian" else "ggn")

    def _grad_graph(self, X, T):
        key = id(X)
        hit = self._graphs.get(key)
        if hit is not None:
            return hit
        leaves = [t.detach().requires_grad_(True) for t in self._unflatten(self.theta).values()]
        out_ = functional_call(self.model, {**self._fixed, **dict(zip(self.names, leaves))}, (X,))
        gs = torch.autograd.grad(self.loss_fn(out_, T), leaves, create_graph=True)
        if self._cache_graphs:
            self._graphs[key] = (leaves, gs)
        return leaves, gs

    def matmat(self, V) -> torch.Tensor:
        V = torch.as_tensor(V, dtype=self.dtype)
        return torch.stack([self.matvec(V[:, j]) for j in range(V.shape[1])], dim=1)

    def to_scipy(self):
        from scipy.sparse.linalg import LinearOperator

        np_dtype = np.float64 if self.dtype == torch.float64 else np.float32
        return LinearOperator((self.n, self.n), matvec=lambda x: self.matvec(torch.as_tensor(np.asarray(x).ravel(), dtype=self.dtype)).numpy(),
                              dtype=np_dtype)

    @property
    def shape(self):
        return (self.n, self.n)
