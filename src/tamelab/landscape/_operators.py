r"""Curvature operators of an empirical loss: Hessian and generalised Gauss–Newton (GGN).

For parameters :math:`\theta` (a subset selectable by name), data split in batches
:math:`B_b` of sizes :math:`n_b` (:math:`N=\sum n_b`) and a *mean* loss per batch,
:math:`L(\theta)=\sum_b\frac{n_b}{N}L_b(\theta)`, so

.. math:: Hv=\sum_b\frac{n_b}N\nabla^2L_b(\theta)v,\qquad
          Gv=\sum_b\frac{n_b}N J_b^\top\,\nabla^2_{f}\ell_b\,J_bv .

Hessian-vector products (HVPs), chosen per model (``hvp=``, property :attr:`CurvatureOperator.path`):

* ``"rop"`` — Pearlmutter's R-operator written out for plain ``Linear``/``ReLU`` MLPs
  (:mod:`tamelab.landscape._mlp_rop`), batched over vectors;
* ``"double_backward"`` — reverse-over-reverse: each batch's gradient graph is built once and kept,
  so a product is one backward pass through it (``is_grads_batched`` for several vectors);
* ``"forward_over_reverse"`` — ``torch.func.jvp`` of ``torch.func.grad``, batched with ``torch.func.vmap``.

``"auto"`` takes the R-operator where it applies, else double backward when the gradient graphs fit
the cache budget (one backward pass per product: 1.9–2.6× faster than forward-over-reverse on
tanh and LayerNorm/GELU MLPs and a CNN, measured on one CPU thread), else forward-over-reverse. GGN products are a JVP
through the network, the output-space Hessian (a JVP of the loss gradient in the outputs) and a VJP whose closure is
kept per batch; batched with ``vmap``. Every path is tested against the double-backward dense Hessian on an MLP, a
LayerNorm/GELU MLP and a CNN (Conv/BatchNorm-eval/ReLU/MaxPool/Linear).

The operator takes the input contract of :mod:`tamelab.inputs`: any ``nn.Module``, data as tensors,
NumPy arrays, datasets or loaders (tuple or dict batches), a loss name or callable, ``device=``,
``dtype=``; it never changes the caller's model (a copy is made when device or dtype differ, and
buffers are cloned). A determinism check (two passes over the data must agree) runs before first use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, jvp, vjp, vmap

from .._params import flat_params, set_flat_params
from ..errors import ComputationError, InputError

__all__ = ["CurvatureOperator", "flat_params", "set_flat_params"]

#: bytes of data the operator keeps on its device (a loader's batches are read once); raise with ``max_data_bytes``.
DATA_BYTES_LIMIT = 4 * 2**30


class CurvatureOperator:
    """Hessian or GGN of ``loss(model(X), T)`` (mean over samples) as a symmetric linear operator.

    Args:
        model: any ``nn.Module`` (put in eval mode by the caller if it has dropout/BN).
        loss: a loss name (``"cross_entropy"``, ``"mse"``, ...), a callable ``(outputs, targets) -> mean
            loss`` or an ``nn.Module`` loss (:func:`tamelab.losses.resolve_loss`).
        data: anything :func:`tamelab.inputs.as_data` takes: ``(X, T)`` tensors or NumPy arrays, a
            ``Dataset``, a ``DataLoader`` with tuple or dict batches, a list of batches.
        params: parameter names to differentiate with respect to (default: all trainable).
        kind: ``"hessian"`` or ``"ggn"``.
        hvp: ``"auto"``, ``"rop"``, ``"double_backward"`` or ``"forward_over_reverse"`` (module docstring).
        device, dtype: where and in which precision to compute (default: the model's).
        check_determinism: evaluate the loss and gradient twice and raise if they differ.
        cache_graphs: keep each batch's gradient graph / R-operator state between products (default:
            on when the activations are small).
        fast_path: ``False`` forbids the R-operator (same as a non-``rop`` ``hvp``).
        input_key, target_key, batch_size: passed to :func:`~tamelab.inputs.as_data`.
        max_data_bytes: refuse data larger than this on the device (estimate in the message).
    """

    HVP_METHODS = ("rop", "double_backward", "forward_over_reverse")

    def __init__(
        self,
        model: nn.Module,
        loss: Callable | str | None,
        data: Any,
        *,
        params: Sequence[str] | None = None,
        kind: str = "hessian",
        hvp: str = "auto",
        device=None,
        dtype=None,
        check_determinism: bool = True,
        cache_graphs: bool | None = None,
        fast_path: bool = True,
        input_key: str | None = None,
        target_key: str | None = None,
        batch_size: int | None = None,
        max_data_bytes: float = DATA_BYTES_LIMIT,
    ) -> None:
        from ..inputs import as_data, as_model, model_on, resolve_device, resolve_dtype
        from ..losses import resolve_loss

        if kind not in ("hessian", "ggn"):
            raise InputError("kind", f"unknown curvature {kind!r}", "use hessian or ggn")
        if hvp not in ("auto",) + self.HVP_METHODS:
            raise InputError("hvp", f"unknown product {hvp!r}", f"use auto or one of {', '.join(self.HVP_METHODS)}")
        as_model(model)
        self.loss_spec = resolve_loss(loss, default=None)
        self.loss_fn = self.loss_spec  # callable (outputs, targets) -> mean loss
        first = next(iter(model.parameters()), None)
        dev = (
            resolve_device(device)
            if device is not None
            else (first.device if first is not None else torch.device("cpu"))
        )
        dt = (
            resolve_dtype(dtype)
            if dtype is not None
            else (first.dtype if first is not None and first.is_floating_point() else torch.float32)
        )
        model = model_on(model, dev, dt)
        all_params = dict(model.named_parameters())
        if not all_params:
            raise InputError("model", "has no parameters", "nothing to differentiate")
        self.names = list(params) if params is not None else [n for n, p in all_params.items() if p.requires_grad]
        unknown = [n for n in self.names if n not in all_params]
        if unknown:
            raise InputError("params", f"unknown parameter names {unknown}", f"available: {list(all_params)}")
        if not self.names:
            raise InputError("params", "empty parameter subset")
        self.model, self.kind, self.device = model, kind, dev
        self.shapes = [all_params[n].shape for n in self.names]
        self.sizes = [all_params[n].numel() for n in self.names]
        self.theta = flat_params(model, self.names)
        self.dtype = self.theta.dtype
        self.n = int(self.theta.numel())
        # buffers are cloned: BatchNorm in train mode must not update the caller's running statistics
        self._fixed = {
            k: v.detach().clone()
            for k, v in list(model.named_parameters()) + list(model.named_buffers())
            if k not in self.names
        }
        d = as_data(data, input_key=input_key, target_key=target_key, batch_size=batch_size)
        self.batches, size = [], 0
        for X, T in d.batches(dev, self.dtype):
            size += X.element_size() * X.numel() + T.element_size() * T.numel()
            if size > max_data_bytes:
                raise InputError(
                    "data",
                    f"holding the batches on {dev} needs more than {max_data_bytes / 2**30:.1f} GiB",
                    "pass max_data_bytes=... or a subset of the data",
                )
            self.batches.append((X, T))
        if not self.batches:
            raise InputError("data", "is empty")
        N = sum(int(X.shape[0]) for X, _ in self.batches)
        self.n_samples = N
        self.weights = [int(X.shape[0]) / N for X, _ in self.batches]
        self.hvps = 0
        self._cache_graphs = cache_graphs if cache_graphs is not None else N * sum(self.sizes) ** 0.5 < 5e7
        self._graphs: dict[Any, Any] = {}
        self._rop = None
        self._method = "ggn" if kind == "ggn" else None
        if kind == "hessian":
            self._method = self._choose(hvp, fast_path)
        if check_determinism:
            self.check_determinism()

    # -- choosing the product ----------------------------------------------
    def _choose(self, hvp: str, fast_path: bool) -> str:
        if hvp in ("auto", "rop") and fast_path:
            from ._mlp_rop import mlp_rop_plan

            plan = mlp_rop_plan(self.model, self.loss_spec, self.names)
            if plan is not None and all(self._rop_ok(plan, X, T) for X, T in self.batches):
                self._rop = plan
                return "rop"
        if hvp == "rop":
            return "double_backward"  # documented: rop falls back where it does not apply (see .path)
        if hvp != "auto":
            return hvp
        # measured (one thread, CPU): with the gradient graph kept, one product is one backward pass and beats
        # forward-over-reverse 1.9-2.6x on tanh/LayerNorm-GELU MLPs and a CNN, also against its batched (vmap)
        # form; without the cache (large activations) forward-over-reverse keeps nothing between products.
        # A deterministic rule, so that the same model always takes the same path (bitwise reproducible).
        return "double_backward" if self._cache_graphs else "forward_over_reverse"

    def _rop_ok(self, plan, X, T) -> bool:
        """The hand-written R-operator covers (N, d) inputs with class indices (CE) or (N, out) targets (MSE)."""
        if X.dim() != 2 or not X.is_floating_point():
            return False
        if plan[1] == "ce":
            return T.dim() == 1 and not T.is_floating_point() and len(T) == len(X) and bool((T >= 0).all())
        return T.is_floating_point() and T.shape == (X.shape[0], plan[0][-1].out_features)

    # -- functional pieces -------------------------------------------------
    def _unflatten(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        out, i = {}, 0
        for n, shp, k in zip(self.names, self.shapes, self.sizes):
            out[n] = flat[..., i : i + k].reshape(*flat.shape[:-1], *shp)
            i += k
        return out

    def _outputs(self, flat, X):
        return functional_call(self.model, {**self._fixed, **self._unflatten(flat)}, (X,))

    def _loss(self, flat, X, T):
        return self.loss_fn(self._outputs(flat, X), T)

    def loss(self, flat: torch.Tensor | None = None) -> float:
        """The mean loss over all batches at ``flat`` (default: θ)."""
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
            raise ComputationError(
                "two passes over the data gave different losses/gradients (dropout, BN in train mode, "
                "or a non-deterministic loader?); curvature would be meaningless"
            )

    # -- products ----------------------------------------------------------
    def _as_vectors(self, V) -> torch.Tensor:
        V = torch.as_tensor(V)
        return V.to(device=self.device, dtype=self.dtype)

    def matvec(self, v) -> torch.Tensor:
        """``H v`` (or ``G v``) for one flat vector ``v`` of length :attr:`n`."""
        v = self._as_vectors(v).reshape(-1)
        if v.numel() != self.n:
            raise InputError("v", f"has {v.numel()} entries, the operator acts on {self.n}")
        return self.matmat_rows(v[None])[0]

    def matmat(self, V) -> torch.Tensor:
        """``H V`` for an ``n × b`` block (columns are vectors); products batched over the columns."""
        V = self._as_vectors(V)
        if V.dim() != 2 or V.shape[0] != self.n:
            raise InputError("V", f"has shape {tuple(V.shape)}, need ({self.n}, b)")
        return self.matmat_rows(V.T.contiguous()).T

    def matmat_rows(self, Q: torch.Tensor) -> torch.Tensor:
        """``(H qᵢ)ᵢ`` for a ``b × n`` block of row vectors (the layout Krylov solvers keep)."""
        Q = self._as_vectors(Q)
        if Q.dim() != 2 or Q.shape[1] != self.n:
            raise InputError("Q", f"has shape {tuple(Q.shape)}, need (b, {self.n})")
        self.hvps += int(Q.shape[0])
        out = torch.zeros_like(Q)
        for w, (X, T) in zip(self.weights, self.batches):
            out.add_(self._batch_products(self._method, X, T, Q), alpha=w)
        return out

    def _batch_products(self, method: str, X, T, Q: torch.Tensor) -> torch.Tensor:
        if method == "rop":
            st = self._cached(("rop", id(X)), lambda: self._rop_state(X, T))
            return st.rows(Q, self._unflatten)
        if method == "double_backward":
            leaves, gs = self._cached(("db", id(X)), lambda: self._grad_graph(X, T))
            vs = [t for t in self._unflatten(Q).values()]
            if Q.shape[0] == 1:
                hv = torch.autograd.grad(gs, leaves, grad_outputs=[t[0] for t in vs], retain_graph=True)
                return torch.cat([h.reshape(-1) for h in hv])[None]
            try:
                hv = torch.autograd.grad(gs, leaves, grad_outputs=vs, retain_graph=True, is_grads_batched=True)
                return torch.cat([h.reshape(Q.shape[0], -1) for h in hv], 1)
            except (RuntimeError, NotImplementedError):  # an op without a batching rule: one vector at a time
                return torch.cat([self._batch_products(method, X, T, Q[i : i + 1]) for i in range(Q.shape[0])])
        if method == "forward_over_reverse":
            g = grad(lambda f: self._loss(f, X, T))

            def fn(v):
                return jvp(g, (self.theta,), (v,))[1]

            return vmap(fn)(Q) if Q.shape[0] > 1 else fn(Q[0])[None]
        # GGN: J^T H_out J v with the VJP closure kept per batch
        out, pull = self._cached(("ggn", id(X)), lambda: vjp(lambda f: self._outputs(f, X), self.theta))
        out = out.detach()
        gl = grad(lambda o: self.loss_fn(o, T))

        def one(v):
            _, jv = jvp(lambda f: self._outputs(f, X), (self.theta,), (v,))
            _, hjv = jvp(gl, (out,), (jv,))
            return pull(hjv)[0]

        return vmap(one)(Q) if Q.shape[0] > 1 else one(Q[0])[None]

    def _cached(self, key, build):
        hit = self._graphs.get(key)
        if hit is None:
            hit = build()
            if self._cache_graphs:
                self._graphs[key] = hit
        return hit

    def _rop_state(self, X, T):
        from ._mlp_rop import MlpHvp

        return MlpHvp(*self._rop, X, T)

    def _grad_graph(self, X, T):
        leaves = [t.detach().requires_grad_(True) for t in self._unflatten(self.theta).values()]
        out_ = functional_call(self.model, {**self._fixed, **dict(zip(self.names, leaves))}, (X,))
        gs = torch.autograd.grad(self.loss_fn(out_, T), leaves, create_graph=True)
        return leaves, gs

    @property
    def path(self) -> str:
        """Which product is used:

        ``"mlp-rop"``, ``"autograd"`` (double backward), ``"forward-over-reverse"`` or ``"ggn"``.
        """
        return {
            "rop": "mlp-rop",
            "double_backward": "autograd",
            "forward_over_reverse": "forward-over-reverse",
            "ggn": "ggn",
        }[self._method]

    def to_scipy(self):
        """A ``scipy.sparse.linalg.LinearOperator`` (NumPy in, NumPy out; the products run on :attr:`device`)."""
        from scipy.sparse.linalg import LinearOperator

        np_dtype = np.float64 if self.dtype == torch.float64 else np.float32

        def mv(x):
            return self.matvec(torch.as_tensor(np.asarray(x, dtype=np_dtype).ravel())).detach().cpu().numpy()

        def mm(X):
            return self.matmat(torch.as_tensor(np.asarray(X, dtype=np_dtype))).detach().cpu().numpy()

        return LinearOperator((self.n, self.n), matvec=mv, matmat=mm, rmatvec=mv, dtype=np_dtype)

    @property
    def shape(self):
        return (self.n, self.n)

    def astype(self, dtype) -> CurvatureOperator:
        """The same operator (model, data, loss, parameters, product path) computed in ``dtype``;

        the solver uses a float64 twin to measure the error of a float32 product against the exact one.
        """
        if self._method == "rop":
            hvp = "rop"
        elif self._method == "ggn":
            hvp = "auto"
        else:
            hvp = self._method
        return CurvatureOperator(
            self.model,
            self.loss_spec,
            [(X, T) for X, T in self.batches],
            params=self.names,
            kind=self.kind,
            hvp=hvp,
            device=self.device,
            dtype=dtype,
            check_determinism=False,
            cache_graphs=self._cache_graphs,
        )
