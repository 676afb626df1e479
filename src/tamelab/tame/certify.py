r"""Tameness certificate: the smallest known o-minimal structure a network (and its loss) is definable in.

Algorithm (spec ``tame-optimization.md`` §1.5):

1. trace ``loss(model(x), y)`` into a graph of primitive ops (``torch.fx``; fallback ``torch.export``);
2. read, for each node, its fact from the operation table (:mod:`tamelab.tame._structures`):
   global class, local class, local Lipschitz continuity, continuity;
3. the program's global class is the lattice join of the node classes (closure rules §1.3:
   composition, sums, products, quotients, finite max, finite sums over a dataset stay in
   the structure), the local class the join of the local classes;
4. flags ``locally_lipschitz`` (all nodes; DDKL / Bolte–Pauwels need it), ``poly_bounded``
   (global class in {alg, an}), ``finite_sum`` (the traced loss is a finite average).

``sin``/``cos`` are restricted-analytic (``an``) only when the tracer can prove their input lies in a
bounded interval (interval propagation from ``tanh``, ``sigmoid``, ``clamp``, ``softmax``, ... through
shape ops and arithmetic with constants); otherwise the program is definable in **no** o-minimal
structure globally (``NONE``) though still tame (``an`` on bounded boxes).

An op with no recorded fact makes the certificate ``UNKNOWN`` / :attr:`Status.UNCERTIFIED` naming the
op; a program that cannot be traced is :attr:`Status.UNCERTIFIED` with the tracer's error — never an
exception. A custom module can declare its definability by a class attribute ``tame_op`` naming a
registry entry (e.g. ``tame_op = "relu"``); such modules are kept as leaves of the trace.

# NOTE [programs, not functions]: definability belongs to the function but the tracer sees a program;
# two programs for one function may get different certificates (spec §1.7). The certificate is per program.

References:
    Davis, Drusvyatskiy, Kakade & Lee, arXiv:1804.07795; Bolte & Pauwels, arXiv:1909.10300;
    van den Dries & Miller, Duke Math. J. 84 (1996) (geometric categories and o-minimal structures).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import math
import operator
import re
import time
from typing import Any, Callable

import torch
from torch import nn

from ..errors import InputError
from ..result import Result, Status
from ._structures import NONE, UNKNOWN, join, op_fact, poly_bounded

__all__ = ["TamenessCertificate", "certify", "LOSSES"]

#: loss names accepted by :func:`certify` (``None`` = the network alone)
LOSSES = ("cross_entropy", "mse", "none")


@dataclasses.dataclass
class TamenessCertificate(Result):
    """Definability certificate of a traced program.

    Attributes:
        structure: global class (``alg``, ``an``, ``exp``, ``an,exp``, ``pfaff``, ``P(an)``, ``NONE``, ``UNKNOWN``).
        local_structure: join of the local (bounded-box) classes: the program is tame when this is o-minimal.
        locally_lipschitz, continuous: all nodes are; ``poly_bounded``: structure in {alg, an}.
        finite_sum: the traced loss is a finite average over the given batch (True for every traced loss).
        offending_ops: ``"node (target): reason"`` for each node whose class is ``NONE``/``UNKNOWN``
            or that breaks local Lipschitz continuity.
        ops: one record per computational node (node, op, target, canonical, global, local, flags, reason).
        tracer: ``"fx"``, ``"export"`` or ``None`` (not traceable); ``why``: a one-line explanation of the status.
    """

    structure: str = UNKNOWN
    local_structure: str = UNKNOWN
    locally_lipschitz: bool = False
    continuous: bool = False
    poly_bounded: bool = False
    finite_sum: bool = True
    loss: str = "none"
    offending_ops: list[str] = dataclasses.field(default_factory=list)
    ops: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    tracer: str | None = None
    why: str = ""

    kind = "tameness_certificate"


# ----------------------------------------------------------------------------------------------- naming
_MODULE_NAMES = {
    nn.Linear: "linear", nn.Bilinear: "bilinear", nn.Conv1d: "conv1d", nn.Conv2d: "conv2d", nn.Conv3d: "conv3d",
    nn.ConvTranspose1d: "conv_transpose1d", nn.ConvTranspose2d: "conv_transpose2d", nn.ReLU: "relu",
    nn.LeakyReLU: "leaky_relu", nn.PReLU: "prelu", nn.ReLU6: "relu6", nn.Hardtanh: "hardtanh", nn.Hardsigmoid: "hardsigmoid",
    nn.Hardswish: "hardswish", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid", nn.Softplus: "softplus", nn.ELU: "elu",
    nn.SELU: "selu", nn.CELU: "celu", nn.SiLU: "silu", nn.Mish: "mish", nn.GELU: "gelu", nn.Softsign: "softsign",
    nn.Softmax: "softmax", nn.LogSoftmax: "log_softmax", nn.LogSigmoid: "logsigmoid", nn.MaxPool1d: "max_pool1d",
    nn.MaxPool2d: "max_pool2d", nn.MaxPool3d: "max_pool3d", nn.AvgPool1d: "avg_pool1d", nn.AvgPool2d: "avg_pool2d",
    nn.AdaptiveAvgPool2d: "adaptive_avg_pool2d", nn.AdaptiveMaxPool2d: "adaptive_max_pool2d", nn.Flatten: "flatten",
    nn.Unflatten: "unflatten", nn.Dropout: "dropout", nn.Identity: "identity", nn.BatchNorm1d: "batch_norm",
    nn.BatchNorm2d: "batch_norm", nn.BatchNorm3d: "batch_norm", nn.LayerNorm: "layer_norm", nn.GroupNorm: "group_norm",
    nn.InstanceNorm1d: "instance_norm", nn.InstanceNorm2d: "instance_norm", nn.Embedding: "embedding",
    nn.CrossEntropyLoss: "cross_entropy", nn.MSELoss: "mse_loss", nn.L1Loss: "l1_loss", nn.NLLLoss: "nll_loss",
    nn.BCELoss: "binary_cross_entropy", nn.BCEWithLogitsLoss: "binary_cross_entropy_with_logits",
    nn.MultiheadAttention: "multiheadattention", nn.Softmin: "softmin", nn.Threshold: "threshold",
}
if hasattr(nn, "RMSNorm"):
    _MODULE_NAMES[nn.RMSNorm] = "rms_norm"
_OPERATORS = {
    operator.add: "add", operator.iadd: "add", operator.sub: "sub", operator.isub: "sub", operator.mul: "mul",
    operator.imul: "mul", operator.truediv: "truediv", operator.itruediv: "truediv", operator.neg: "neg",
    operator.pos: "pos", operator.getitem: "getitem", operator.pow: "pow", operator.matmul: "matmul",
    operator.floordiv: "floor_divide", operator.mod: "fmod", operator.abs: "abs", operator.gt: "gt", operator.lt: "lt",
    operator.ge: "ge", operator.le: "le", operator.eq: "eq", operator.ne: "ne", getattr: "getattr_shape",
}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _canonical(node, modules: dict[str, nn.Module]) -> tuple[str, str]:
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


def _arg(node, i: int, key: str, default=None):
    if len(node.args) > i:
        return node.args[i]
    return node.kwargs.get(key, default)


# ------------------------------------------------------------------------------------- interval bounds
def _interval(v, bounds: dict) -> tuple[float, float] | None:
    from torch.fx import Node

    if isinstance(v, Node):
        return bounds.get(v)
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
        return (float(v), float(v))
    return None


def _propagate(name: str, node, fact, bounds: dict, mod: nn.Module | None) -> tuple[float, float] | None:
    from torch.fx import Node

    if fact is not None and fact.out_bounds is not None:
        return fact.out_bounds
    if mod is not None and isinstance(mod, nn.Hardtanh):
        return (float(mod.min_val), float(mod.max_val))
    tensor_args = [a for a in node.args if isinstance(a, Node)]
    ivs = [_interval(a, bounds) for a in node.args[:2]]
    if name in ("view", "reshape", "flatten", "unflatten", "permute", "transpose", "t", "contiguous", "getitem", "squeeze",
                "unsqueeze", "expand", "clone", "detach", "to", "float", "double", "identity", "mean", "dropout_eval",
                "max", "min", "amax", "amin", "select", "slice", "_unsafe_view", "alias"):
        return bounds.get(tensor_args[0]) if tensor_args else None
    if name in ("cat", "stack", "concat") and node.args and isinstance(node.args[0], (list, tuple)):
        ivs = [_interval(a, bounds) for a in node.args[0]]
        if ivs and all(iv is not None for iv in ivs):
            return (min(iv[0] for iv in ivs), max(iv[1] for iv in ivs))
        return None
    if name == "relu" and ivs and ivs[0] is not None:
        return (max(ivs[0][0], 0.0), max(ivs[0][1], 0.0))
    if name == "neg" and ivs and ivs[0] is not None:
        return (-ivs[0][1], -ivs[0][0])
    if len(ivs) == 2 and ivs[0] is not None and ivs[1] is not None:
        (a, b), (c, d) = ivs
        if name == "add":
            return (a + c, b + d)
        if name in ("sub",):
            return (a - d, b - c)
        if name == "rsub":
            return (c - b, d - a)
        if name == "mul":
            p = [a * c, a * d, b * c, b * d]
            return (min(p), max(p))
        if name in ("truediv", "div") and (c > 0 or d < 0):
            q = [a / c, a / d, b / c, b / d]
            return (min(q), max(q))
        if name == "pow" and c == d and float(c).is_integer() and c >= 0:
            m = max(abs(a), abs(b)) ** int(c)
            return (-m, m)
    return None


# --------------------------------------------------------------------------------------------- tracing
class _Tracer(torch.fx.Tracer):
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if getattr(type(m), "tame_op", None):
            return True
        return super().is_leaf_module(m, qualname)


class _Program(nn.Module):
    def __init__(self, model: nn.Module, loss_fn: Callable):
        super().__init__()
        self.model = model
        self.loss_fn = loss_fn

    def forward(self, x, target):
        return self.loss_fn(self.model(x), target)


class _Net(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)


@contextlib.contextmanager
def _quiet_torch_logs():
    """Silence torch.export's warnings / graph dumps while we try it as a fallback tracer."""
    names = ["torch", "torch.fx", "torch.export", "torch._dynamo", "torch.fx.experimental.symbolic_shapes", "torch._export"]
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


def _loss_fn(loss) -> tuple[Callable | None, str]:
    if loss is None or loss == "none":
        return None, "none"
    if callable(loss):
        return loss, getattr(loss, "__name__", type(loss).__name__)
    if loss == "cross_entropy":
        return nn.functional.cross_entropy, "cross_entropy"
    if loss == "mse":
        return nn.functional.mse_loss, "mse"
    raise InputError("loss", f"unknown loss {loss!r}", "use cross_entropy, mse, none or a callable (outputs, targets) -> scalar")


def _trace(program: nn.Module, args: tuple) -> tuple[Any, dict[str, nn.Module], str, list[str]]:
    errors = []
    try:
        tracer = _Tracer()
        graph = tracer.trace(program)
        return graph, dict(program.named_modules()), "fx", errors
    except Exception as e:  # noqa: BLE001 - any tracer failure falls back
        errors.append(f"torch.fx: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    try:
        with _quiet_torch_logs():
            ep = torch.export.export(program, args)
        gm = ep.graph_module
        return gm.graph, dict(gm.named_modules()), "export", errors
    except Exception as e:  # noqa: BLE001
        errors.append(f"torch.export: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    return None, {}, "", errors


def certify(model: nn.Module, example_input: torch.Tensor, *, loss: str | Callable | None = None) -> TamenessCertificate:
    """Certificate of definability of ``loss(model(x), y)`` (or ``model(x)`` when ``loss`` is None).

    Args:
        model: any ``nn.Module``.
        example_input: an input batch the model accepts (used to trace and to build example targets).
        loss: ``"cross_entropy"`` (integer labels), ``"mse"``, ``"none"``/``None`` or a callable ``(out, target) -> scalar``
            (it receives a target of the output's shape).

    Returns:
        :class:`TamenessCertificate`; ``status`` is ``ok`` iff the global class is an o-minimal structure of the lattice.

    Example:
        >>> from tamelab.models import mlp
        >>> certify(mlp([3, 4, 2]), torch.zeros(5, 3), loss="mse").structure
        'alg'
    """
    t0 = time.perf_counter()
    if not isinstance(model, nn.Module):
        raise InputError("model", f"expected a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(example_input, torch.Tensor):
        raise InputError("example_input", f"expected a torch.Tensor, got {type(example_input).__name__}",
                         "pass a batch the model accepts, e.g. torch.zeros(1, d)")
    loss_fn, loss_name = _loss_fn(loss)
    with torch.no_grad():
        try:
            out = model(example_input)
        except Exception as e:  # noqa: BLE001
            raise InputError("example_input", f"the model raised {type(e).__name__} on it: {e}",
                             "pass an input of the shape/dtype the model expects") from None
    args: tuple = (example_input,)
    if loss_fn is not None:
        if loss_name == "cross_entropy":
            if not isinstance(out, torch.Tensor) or out.ndim < 1:
                raise InputError("loss", "cross_entropy needs logits of shape (N, C)", "use --loss mse or none")
            target = torch.zeros(out.shape[0] if out.ndim > 1 else (), dtype=torch.long)
        else:
            target = torch.zeros_like(out)
        args = (example_input, target)
    program = (_Net(model) if loss_fn is None else _Program(model, loss_fn)).eval()
    graph, modules, tracer, errors = _trace(program, args)
    res = TamenessCertificate(loss=loss_name)
    if graph is None:
        res.status = Status.UNCERTIFIED
        res.why = "could not trace the program: " + " | ".join(errors)
        res.seconds = time.perf_counter() - t0
        return res
    res.tracer = tracer
    glob, loc, lip, cont = "alg", "alg", True, True
    bounds: dict = {}
    for node in graph.nodes:
        if node.op in ("placeholder", "output", "get_attr"):
            continue
        name, target = _canonical(node, modules)
        mod = modules.get(node.target) if node.op == "call_module" else None
        kw: dict[str, Any] = {}
        if name in ("sin", "cos"):
            first = node.args[0] if node.args else None
            kw["input_bounded"] = _interval(first, bounds) is not None
        elif name in ("pow", "float_power"):
            e = _arg(node, 1, "exponent")
            kw["exponent"] = e if isinstance(e, (int, float)) and not isinstance(e, bool) else "variable"
        elif name == "gelu":
            kw["approximate"] = getattr(mod, "approximate", None) if mod is not None else node.kwargs.get("approximate", "none")
        elif name in ("clamp", "clip"):
            if node.op == "call_module":
                kw["clamp_bounds"] = None
            else:
                lo, hi = _arg(node, 1, "min"), _arg(node, 2, "max")
                num = lambda v: v if isinstance(v, (int, float)) and not isinstance(v, bool) else None  # noqa: E731
                kw["clamp_bounds"] = (num(lo), num(hi))
        elif name in ("getattr_shape", "size", "dim", "numel", "sym_size"):
            name = "size"
        fact = op_fact(name, **kw)
        if fact is None:
            g, l_, fl, fc = UNKNOWN, UNKNOWN, False, False
            reason = f"no definability fact recorded for op {name!r}"
        else:
            g, l_, fl, fc, reason = fact.global_, fact.local, fact.locally_lipschitz, fact.continuous, fact.reason
        bounds[node] = _propagate(name, node, fact, bounds, mod)
        glob, loc = join(glob, g), join(loc, l_)
        lip, cont = lip and fl, cont and fc
        rec = {"node": node.name, "op": node.op, "target": target, "canonical": name, "global": g, "local": l_,
               "locally_lipschitz": fl, "continuous": fc, "reason": reason,
               "output_bounds": list(bounds[node]) if bounds[node] is not None else None}
        res.ops.append(rec)
        if g in (NONE, UNKNOWN) or not fl:
            res.offending_ops.append(f"{node.name} ({name}): {reason}")
    res.structure, res.local_structure = glob, loc
    res.locally_lipschitz, res.continuous = lip, cont
    res.poly_bounded = poly_bounded(glob)
    if glob == UNKNOWN:
        unknown = sorted({r["canonical"] for r in res.ops if r["global"] == UNKNOWN})
        res.status = Status.UNCERTIFIED
        res.why = f"uncertified: no definability fact for op(s) {', '.join(unknown)}"
    elif glob == NONE:
        bad = sorted({r["canonical"] for r in res.ops if r["global"] == NONE})
        res.status = Status.UNCERTIFIED
        res.why = (f"uncertified: op(s) {', '.join(bad)} are definable in no o-minimal structure on their (unbounded) "
                   f"domain; locally the program is {loc}" + (" (tame)" if loc not in (NONE, UNKNOWN) else ""))
    else:
        res.status = Status.OK
        res.why = f"definable in {glob} (join of {len(res.ops)} op facts); tame, locally {loc}"
        if not lip:
            res.why += "; NOT locally Lipschitz (DDKL / Bolte–Pauwels hypotheses fail)"
    if errors:
        res.why += f" [traced with torch.export after: {errors[0]}]"
    res.seconds = time.perf_counter() - t0
    return res
