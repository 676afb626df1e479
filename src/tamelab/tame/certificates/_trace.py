"""Tracing a model (+ loss) into an fx graph, and the canonical op name of each node.

``torch.fx`` symbolic tracing first (modules declaring ``tame_op`` stay leaves); ``torch.export`` as a
fallback for programs fx cannot trace.
"""

from __future__ import annotations

import contextlib
import io
import logging
import operator
import re
from typing import Any, Callable

import torch
from torch import nn

# ----------------------------------------------------------------------------------------------- naming
_MODULE_NAMES = {
    nn.Linear: "linear",
    nn.Bilinear: "bilinear",
    nn.Conv1d: "conv1d",
    nn.Conv2d: "conv2d",
    nn.Conv3d: "conv3d",
    nn.ConvTranspose1d: "conv_transpose1d",
    nn.ConvTranspose2d: "conv_transpose2d",
    nn.ReLU: "relu",
    nn.LeakyReLU: "leaky_relu",
    nn.PReLU: "prelu",
    nn.ReLU6: "relu6",
    nn.Hardtanh: "hardtanh",
    nn.Hardsigmoid: "hardsigmoid",
    nn.Hardswish: "hardswish",
    nn.Tanh: "tanh",
    nn.Sigmoid: "sigmoid",
    nn.Softplus: "softplus",
    nn.ELU: "elu",
    nn.SELU: "selu",
    nn.CELU: "celu",
    nn.SiLU: "silu",
    nn.Mish: "mish",
    nn.GELU: "gelu",
    nn.Softsign: "softsign",
    nn.Softmax: "softmax",
    nn.LogSoftmax: "log_softmax",
    nn.LogSigmoid: "logsigmoid",
    nn.MaxPool1d: "max_pool1d",
    nn.MaxPool2d: "max_pool2d",
    nn.MaxPool3d: "max_pool3d",
    nn.AvgPool1d: "avg_pool1d",
    nn.AvgPool2d: "avg_pool2d",
    nn.AdaptiveAvgPool2d: "adaptive_avg_pool2d",
    nn.AdaptiveMaxPool2d: "adaptive_max_pool2d",
    nn.Flatten: "flatten",
    nn.Unflatten: "unflatten",
    nn.Dropout: "dropout",
    nn.Identity: "identity",
    nn.BatchNorm1d: "batch_norm",
    nn.BatchNorm2d: "batch_norm",
    nn.BatchNorm3d: "batch_norm",
    nn.LayerNorm: "layer_norm",
    nn.GroupNorm: "group_norm",
    nn.InstanceNorm1d: "instance_norm",
    nn.InstanceNorm2d: "instance_norm",
    nn.Embedding: "embedding",
    nn.CrossEntropyLoss: "cross_entropy",
    nn.MSELoss: "mse_loss",
    nn.L1Loss: "l1_loss",
    nn.NLLLoss: "nll_loss",
    nn.BCELoss: "binary_cross_entropy",
    nn.BCEWithLogitsLoss: "binary_cross_entropy_with_logits",
    nn.MultiheadAttention: "multiheadattention",
    nn.Softmin: "softmin",
    nn.Threshold: "threshold",
}
if hasattr(nn, "RMSNorm"):
    _MODULE_NAMES[nn.RMSNorm] = "rms_norm"
_OPERATORS = {
    operator.add: "add",
    operator.iadd: "add",
    operator.sub: "sub",
    operator.isub: "sub",
    operator.mul: "mul",
    operator.imul: "mul",
    operator.truediv: "truediv",
    operator.itruediv: "truediv",
    operator.neg: "neg",
    operator.pos: "pos",
    operator.getitem: "getitem",
    operator.pow: "pow",
    operator.matmul: "matmul",
    operator.floordiv: "floor_divide",
    operator.mod: "fmod",
    operator.abs: "abs",
    operator.gt: "gt",
    operator.lt: "lt",
    operator.ge: "ge",
    operator.le: "le",
    operator.eq: "eq",
    operator.ne: "ne",
    getattr: "getattr_shape",
}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def canonical(node, modules: dict[str, nn.Module]) -> tuple[str, str]:
    """``(canonical name, printable target)`` of an fx node."""
    if node.op == "call_module":
        mod = modules[node.target]
        tame_op = getattr(type(mod), "tame_op", None)
        if tame_op:
            return str(tame_op), f"{type(mod).__name__} (tame_op={tame_op})"
        for cls in type(mod).__mro__:
            if cls in _MODULE_NAMES:
                return _MODULE_NAMES[cls], type(mod).__name__
        return _snake(type(mod).__name__), type(mod).__name__
    if node.op == "call_method":
        name = str(node.target)
        return name.rstrip("_") if name.endswith("_") and not name.startswith("_") else name, f"Tensor.{name}"
    t = node.target
    if t in _OPERATORS:
        return _OPERATORS[t], f"operator.{getattr(t, '__name__', str(t))}"
    if isinstance(t, torch._ops.OpOverload) or isinstance(t, torch._ops.OpOverloadPacket):
        full = t._schema.name if hasattr(t, "_schema") else str(t)
        name = full.split("::")[-1]
        if name.endswith("_") and not name.startswith("_"):
            name = name.rstrip("_")
        return name, str(t)
    name = getattr(t, "__name__", str(t))
    mod = getattr(t, "__module__", "") or ""
    if name.endswith("_") and not name.startswith("_"):
        name = name.rstrip("_")
    return name, f"{mod}.{name}" if mod else name


def node_arg(node, i: int, key: str, default=None):
    if len(node.args) > i:
        return node.args[i]
    return node.kwargs.get(key, default)


# --------------------------------------------------------------------------------------------- tracing
class LeafTracer(torch.fx.Tracer):
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if getattr(type(m), "tame_op", None):
            return True
        return super().is_leaf_module(m, qualname)


class Program(nn.Module):
    def __init__(self, model: nn.Module, loss_fn: Callable):
        super().__init__()
        self.model = model
        self.loss_fn = loss_fn

    def forward(self, x, target):
        return self.loss_fn(self.model(x), target)


class Net(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)


@contextlib.contextmanager
def _quiet_torch_logs():
    """Silence torch.export's warnings / graph dumps while we try it as a fallback tracer."""
    names = [
        "torch",
        "torch.fx",
        "torch.export",
        "torch._dynamo",
        "torch.fx.experimental.symbolic_shapes",
        "torch._export",
    ]
    loggers = [logging.getLogger(n) for n in names]
    old = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        for lg, lv in zip(loggers, old):
            lg.setLevel(lv)


def _first_line(e: Exception) -> str:
    return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"


def _dynamic_batch(args: tuple) -> tuple:
    """``dynamic_shapes`` for ``torch.export``: dimension 0 of every tensor argument is one symbolic batch size."""
    batch = torch.export.Dim("batch")
    return tuple({0: batch} if isinstance(a, torch.Tensor) and a.ndim >= 1 else None for a in args)


def trace_program(program: nn.Module, args: tuple) -> tuple[Any, dict[str, nn.Module], str, list[str], str]:
    """``(graph, modules, tracer, errors, specialised)``: the fx graph of ``program`` and how it was obtained.

    ``torch.fx`` symbolic tracing first: its graphs are generic in the input (any control flow on a traced value makes
    it fail). Otherwise ``torch.export`` with a *symbolic batch size*: a program whose graph depends on the batch size
    fails there; it is then exported on the example alone and ``specialised`` says why the graph may not cover other
    inputs (the certificate is then uncertified). ``errors`` lists the tracers' failures.
    """
    errors: list[str] = []
    try:
        tracer = LeafTracer()
        graph = tracer.trace(program)
        return graph, dict(program.named_modules()), "fx", errors, ""
    except Exception as e:  # noqa: BLE001 - any tracer failure falls back
        errors.append(f"torch.fx: {_first_line(e)}")
    try:
        with _quiet_torch_logs():
            ep = torch.export.export(program, args, dynamic_shapes=_dynamic_batch(args))
        gm = ep.graph_module
        return gm.graph, dict(gm.named_modules()), "export", errors, ""
    except Exception as e:  # noqa: BLE001
        errors.append(f"torch.export (symbolic batch size): {_first_line(e)}")
    try:
        with _quiet_torch_logs():
            ep = torch.export.export(program, args)
        gm = ep.graph_module
        why = (
            "the traced graph is specialised to the example's shapes: exporting with a symbolic batch size failed "
            f"({errors[-1].split(': ', 1)[1][:200]}), so data-dependent control flow may have been traced away"
        )
        return gm.graph, dict(gm.named_modules()), "export", errors, why
    except Exception as e:  # noqa: BLE001
        errors.append(f"torch.export: {_first_line(e)}")
    return None, {}, "", errors, ""
