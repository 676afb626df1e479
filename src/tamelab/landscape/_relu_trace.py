r"""Hessian traces: exact where the network is piecewise-linear in each parameter, stochastic otherwise.

**The premise.** Write the mean loss as :math:`L(\theta)=\frac1N\sum_n\ell(f(x_n;\theta),y_n)`. Then

.. math:: H_{ii}=\underbrace{\tfrac1N\textstyle\sum_n J_{n,i}^\top\nabla^2_f\ell\,J_{n,i}}_{G_{ii}}
          +\tfrac1N\textstyle\sum_n\nabla_f\ell^\top\,\partial^2f(x_n)/\partial\theta_i^2 .

If every single parameter enters the network's output affinely within each activation region
(:math:`\partial^2f/\partial\theta_i^2=0` a.e.), the second term vanishes and
:math:`\operatorname{tr}H=\operatorname{tr}G`: the trace is the GGN diagonal's sum, computed exactly with ``C`` batched
backward passes (no sampling error). This holds when the traced network uses only ``Linear``/``Conv``/``BatchNorm`` in
eval mode (affine in their own parameters), ``ReLU``/``LeakyReLU``/``MaxPool``/``AvgPool``/``Flatten``/
``Identity``/``Dropout`` in eval mode, reshapes and residual additions, and every parameter is used
once (a parameter used twice, e.g. tied weights, can enter quadratically). ``LayerNorm``, ``GELU``,
``tanh``, softplus, products of two activations... break it: measured on a tanh MLP the GGN-diagonal
"trace" was 2.5876 against 2.5844, on ReLU + LayerNorm 4.809 against 3.799 (issue 17 item 7).
The loss must be one whose output Hessian the GGN factor implements: mean cross-entropy on logits
(:math:`\tfrac1N(\mathrm{diag}\,p-pp^\top)=SS^\top`, :math:`s_c=\sqrt{p_c}(e_c-p)/\sqrt N`) or mean squared
error (:math:`\tfrac{2}{NC}I`).

:func:`second_order_premise` checks this on the ``torch.fx`` trace of the model (any op it does not
know breaks the premise, by name); :func:`hessian_trace` uses the exact GGN diagonal when it holds,
``n`` products with the unit vectors when ``n`` is within the product budget (exact), and
Hutch++ with its standard error otherwise — never an "exact" label on an estimate.
"""

from __future__ import annotations

import operator
import time

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from ..errors import InputError, NotApplicableError
from ..result import Status

__all__ = ["ce_ggn_diagonal", "ggn_diagonal", "hessian_trace", "second_order_premise"]

_PWL_MODULES = (
    nn.Linear,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ReLU,
    nn.LeakyReLU,
    nn.MaxPool1d,
    nn.MaxPool2d,
    nn.MaxPool3d,
    nn.AvgPool1d,
    nn.AvgPool2d,
    nn.AvgPool3d,
    nn.AdaptiveAvgPool1d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveAvgPool3d,
    nn.Flatten,
    nn.Unflatten,
    nn.Identity,
    nn.ZeroPad2d,
    nn.ConstantPad1d,
    nn.ConstantPad2d,
)
_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_PWL_FUNCTIONS = {
    operator.add,
    operator.sub,
    operator.neg,
    operator.getitem,
    torch.add,
    torch.sub,
    torch.flatten,
    torch.relu,
    torch.nn.functional.relu,
    torch.nn.functional.leaky_relu,
    torch.nn.functional.max_pool1d,
    torch.nn.functional.max_pool2d,
    torch.nn.functional.avg_pool1d,
    torch.nn.functional.avg_pool2d,
    torch.nn.functional.adaptive_avg_pool2d,
    torch.cat,
    torch.reshape,
    torch.squeeze,
    torch.unsqueeze,
    torch.transpose,
    torch.permute,
}
_PWL_METHODS = {
    "view",
    "reshape",
    "flatten",
    "size",
    "permute",
    "transpose",
    "contiguous",
    "squeeze",
    "unsqueeze",
    "relu",
    "add",
    "sub",
    "neg",
    "__getitem__",
    "dim",
    "mean",
}


def second_order_premise(model: nn.Module) -> tuple[bool, str]:
    """Whether ``∂²f/∂θᵢ² = 0`` a.e. for every parameter (module docstring), and why not (naming the op)."""
    try:
        gm = torch.fx.symbolic_trace(model)
    except Exception as e:  # noqa: BLE001 - any tracing failure means "cannot check"
        return False, f"the model cannot be traced by torch.fx ({type(e).__name__}), so the premise cannot be checked"
    mods = dict(gm.named_modules())
    uses: dict[str, int] = {}
    for node in gm.graph.nodes:
        if node.op in ("placeholder", "output"):
            continue
        if node.op == "get_attr":
            return False, f"'{node.target}' is used directly in forward (the premise is checked for module calls only)"
        if node.op == "call_module":
            m = mods[node.target]
            for pname, _ in m.named_parameters(recurse=False):
                uses[f"{node.target}.{pname}"] = uses.get(f"{node.target}.{pname}", 0) + 1
            if isinstance(m, _BN):
                if m.training or not m.track_running_stats:
                    return False, f"{node.target} ({type(m).__name__}) normalises by batch statistics (train mode)"
                continue
            if isinstance(m, (nn.Dropout, nn.Dropout1d, nn.Dropout2d)):
                if m.training and m.p > 0:
                    return False, f"{node.target} (Dropout) is random in train mode"
                continue
            if type(m) not in _PWL_MODULES:
                return False, f"{node.target} ({type(m).__name__}) is not affine in its input or parameters"
            continue
        if node.op == "call_function":
            if node.target in (operator.mul, torch.mul, operator.truediv, torch.div):
                tensors = [a for a in node.args if isinstance(a, torch.fx.Node)]
                if len(tensors) > 1:
                    return (
                        False,
                        f"{node.name}: product of two tensors ({getattr(node.target, '__name__', node.target)})",
                    )
                continue
            if node.target not in _PWL_FUNCTIONS:
                return False, f"{node.name}: {getattr(node.target, '__name__', node.target)} is not piecewise-linear"
            continue
        if node.op == "call_method":
            if node.target in ("mul", "div", "__mul__"):
                tensors = [a for a in node.args if isinstance(a, torch.fx.Node)]
                if len(tensors) > 1:
                    return False, f"{node.name}: product of two tensors (.{node.target})"
                continue
            if node.target not in _PWL_METHODS:
                return False, f"{node.name}: .{node.target}() is not piecewise-linear"
    twice = [k for k, c in uses.items() if c > 1]
    if twice:
        return False, f"parameter(s) {twice} are used more than once (shared weights can enter quadratically)"
    kinds = ", ".join(sorted({type(mods[n.target]).__name__ for n in gm.graph.nodes if n.op == "call_module"}))
    return True, f"every parameter enters once through affine/piecewise-linear ops ({kinds})"


def _loss_kind(loss) -> str | None:
    from ._mlp_rop import _loss_kind as k

    return k(loss)


def ggn_diagonal(
    model: nn.Module,
    X: torch.Tensor,
    T: torch.Tensor,
    loss="cross_entropy",
    *,
    chunk: int = 512,
    fast_path: bool = True,
) -> torch.Tensor:
    r"""Exact diagonal of the GGN of the mean cross-entropy or mean squared error (flat, ``named_parameters`` order):

    :math:`\operatorname{diag}G=\sum_n\sum_c(\nabla_\theta\,s_{n,c}^\top f_n)^{\odot2}` with the output-Hessian factor
    columns :math:`s_{n,c}` (module docstring), C per-sample-gradient passes under ``torch.func.vmap``. A plain
    ``Linear``/``ReLU`` ``Sequential`` takes the batched closed form
    (:func:`tamelab.landscape._mlp_rop.mlp_ggn_diagonal`, ~100x faster).
    """
    from ..losses import resolve_loss
    from ._mlp_rop import mlp_ggn_diagonal, mlp_rop_plan

    kind = _loss_kind(resolve_loss(loss))
    if kind not in ("ce", "mse"):
        raise NotApplicableError(
            "loss", f"the GGN diagonal is implemented for mean cross-entropy and MSE, not {loss!r}"
        )
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = {k: v.detach() for k, v in model.named_buffers()}
    plan = mlp_rop_plan(model, nn.functional.cross_entropy if kind == "ce" else nn.functional.mse_loss, list(params))
    if (
        fast_path
        and plan is not None
        and X.dim() == 2
        and (kind == "mse" or (T.dim() == 1 and not T.is_floating_point()))
    ):
        return torch.cat([b.reshape(-1) for b in mlp_ggn_diagonal(plan[0], kind, X, T)])
    N = X.shape[0]
    with torch.no_grad():
        out = functional_call(model, {**params, **buffers}, (X,))
    if out.dim() != 2:
        raise NotApplicableError("model", f"outputs of shape {tuple(out.shape)}; the GGN diagonal needs (N, C) outputs")
    C = out.shape[1]
    P = torch.softmax(out, dim=1) if kind == "ce" else None
    acc = {k: torch.zeros_like(v) for k, v in params.items()}

    def score(p, x, c, pvec):
        f = functional_call(model, {**p, **buffers}, (x[None],))[0]
        return f[c] - (pvec * f).sum() if kind == "ce" else f[c]

    g = vmap(grad(score), in_dims=(None, 0, None, 0))
    for lo in range(0, N, chunk):
        xb = X[lo : lo + chunk]
        pb = P[lo : lo + chunk] if P is not None else torch.zeros(len(xb), C, dtype=X.dtype, device=X.device)
        for c in range(C):
            gr = g(params, xb, c, pb)
            w = pb[:, c] / N if kind == "ce" else torch.full((len(xb),), 2.0 / (N * C), dtype=X.dtype, device=X.device)
            for k in acc:
                acc[k] += torch.einsum("n,n...->...", w, gr[k] ** 2)
    return torch.cat([acc[k].reshape(-1) for k in params])


def ce_ggn_diagonal(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, chunk: int = 512, fast_path: bool = True
) -> torch.Tensor:
    """Exact diagonal of the GGN of mean cross-entropy (:func:`ggn_diagonal` with ``loss="cross_entropy"``).

    Its sum is the Hessian trace only under :func:`second_order_premise`; use :func:`hessian_trace`,
    which checks it.
    """
    return ggn_diagonal(model, X, y, "cross_entropy", chunk=chunk, fast_path=fast_path)


def hessian_trace(
    model_or_op,
    data=None,
    loss=None,
    *,
    method: str = "auto",
    hvps: int = 99,
    seed=0,
    device=None,
    dtype=None,
    params=None,
    **data_kw,
):
    r"""The trace of the loss Hessian, exact where the mathematics allows it, else estimated with an error bar.

    Args:
        model_or_op: an ``nn.Module`` (with ``data`` and ``loss``) or a
            :class:`~tamelab.landscape.CurvatureOperator` (its model, data and loss are used).
        data: the data in any form of the input contract (:class:`~tamelab.landscape.CurvatureOperator`).
        loss: a loss name, callable or ``nn.Module`` loss.
        device: where to compute (default: the model's device).
        dtype: the compute dtype (default: the model's).
        params: the parameters to differentiate (default: all).
        seed: seed of the stochastic estimators.
        **data_kw: passed to :func:`tamelab.inputs.as_data` (``targets``, ``batch_size``, keys).
        method: ``"auto"`` (exact GGN diagonal when :func:`second_order_premise` holds and the loss is
            cross-entropy/MSE on all parameters; else ``n`` unit-vector products when ``n ≤ hvps``; else
            Hutch++), ``"exact"`` (the first two only: :class:`~tamelab.errors.NotApplicableError` otherwise),
            ``"ggn-diagonal"``, ``"unit-vectors"``, ``"hutch++"``, ``"hutchinson"``, ``"xtrace"``.
        hvps: product budget of the stochastic estimators (and the size below which unit vectors are used).

    Returns:
        :class:`~tamelab.landscape.TraceResult` with ``exact``, ``method``, ``premise`` and ``stderr``
        (0 for exact values).

    This is what ``tamelab hessian --trace`` should report as ``trace``/``trace_stderr``/``trace_method``.
    """
    from ._operators import CurvatureOperator
    from ._spectrum import TraceResult, hutchinson, hutchpp, xtrace

    methods = ("auto", "exact", "ggn-diagonal", "unit-vectors", "hutch++", "hutchinson", "xtrace")
    if method not in methods:
        raise InputError("method", f"unknown {method!r}", f"use one of {', '.join(methods)}")
    if not isinstance(hvps, int) or hvps < 3:
        raise InputError("hvps", f"must be an integer >= 3, got {hvps!r}")
    t0 = time.perf_counter()
    if isinstance(model_or_op, CurvatureOperator):
        if data is not None or loss is not None:
            raise InputError("data", "given with an operator (it already holds its data and loss)")
        op = model_or_op
    else:
        op = CurvatureOperator(
            model_or_op,
            loss if loss is not None else "cross_entropy",
            data,
            params=params,
            device=device,
            dtype=dtype,
            **data_kw,
        )
    if op.kind != "hessian":
        raise InputError("op", "is a GGN operator", "pass the Hessian operator (kind='hessian') or a model")
    all_params = [k for k, _ in op.model.named_parameters()]
    ok, why = second_order_premise(op.model)
    kind = _loss_kind(op.loss_spec)
    if ok and kind not in ("ce", "mse"):
        ok, why = False, f"the loss {op.loss_spec.name!r} has no GGN factor here (cross_entropy or mse needed)"
    if ok and op.names != all_params:
        ok, why = False, "only a subset of the parameters is selected (the GGN diagonal path covers all of them)"
    if ok and kind == "ce" and any(T.is_floating_point() or T.dim() != 1 for _, T in op.batches):
        ok, why = False, "cross-entropy with soft or multi-dimensional targets"
    choice = method
    if method in ("auto", "exact"):
        choice = "ggn-diagonal" if ok else ("unit-vectors" if op.n <= hvps or method == "exact" else "hutch++")
        if method == "exact" and choice == "unit-vectors" and op.n > hvps:
            raise NotApplicableError(
                "method",
                f"the exact trace needs the premise ({why}) or n ≤ hvps products (n = {op.n}, hvps = {hvps})",
                "raise hvps or use method='auto'",
            )
    if choice == "ggn-diagonal":
        if not ok:
            raise NotApplicableError("method", f"the GGN-diagonal trace is not the Hessian trace here: {why}")
        total = 0.0
        for w, (X, T) in zip(op.weights, op.batches):
            total += w * float(ggn_diagonal(op.model, X, T, op.loss_spec).sum())
        return TraceResult(
            status=Status.OK,
            seconds=time.perf_counter() - t0,
            trace=total,
            stderr=0.0,
            method="ggn-diagonal",
            hvps=0,
            exact=True,
            premise=why,
            n=op.n,
        )
    if choice == "unit-vectors":
        eye_block = 64
        tr, used = 0.0, 0
        for lo in range(0, op.n, eye_block):
            hi = min(op.n, lo + eye_block)
            E = torch.zeros(hi - lo, op.n, dtype=op.dtype, device=op.device)
            E[torch.arange(hi - lo), torch.arange(lo, hi)] = 1.0
            tr += float(op.matmat_rows(E)[torch.arange(hi - lo), torch.arange(lo, hi)].to(torch.float64).sum())
            used += hi - lo
        return TraceResult(
            status=Status.OK,
            seconds=time.perf_counter() - t0,
            trace=tr,
            stderr=0.0,
            method="unit-vectors",
            hvps=used,
            exact=True,
            premise=why,
            n=op.n,
        )
    est = {"hutch++": hutchpp, "hutchinson": hutchinson, "xtrace": xtrace}[choice](op, hvps, seed=seed)
    est.premise, est.exact, est.n = why, False, op.n
    est.seconds = time.perf_counter() - t0
    return est
