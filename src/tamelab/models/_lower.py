r"""Lower a traced PyTorch model to a piecewise-linear program (:class:`~tamelab.models.PWLNet`).

``lower(model, in_shape=...)`` traces ``model`` with :func:`torch.fx.symbolic_trace` and runs the
graph on *affine expressions* instead of tensors. An affine expression is

.. math::  v \;=\; \sum_{s} T_s\, y_s \;+\; b,

a value of the model's (per-sample) shape that depends affinely on earlier program nodes
:math:`y_s` (node 0 is the flattened input). Every operation that is affine in its tensor inputs
(``Linear``, ``Conv1d/2d/3d``, ``ConvTranspose``, average pooling, ``BatchNorm`` in eval mode,
``Flatten``/``view``/``reshape``/``permute``/indexing, padding, ``torch.cat``/``stack``, sums and
differences of nodes, products with constants, ``Identity``/``Dropout`` in eval mode) is applied
to the coefficient tensors :math:`T_s` and to :math:`b` separately, so its dense matrix is never
guessed: it is computed by applying the operation's linear part to the columns of :math:`T_s`
(batched with :func:`torch.func.vmap`, in float64). Consecutive affine operations therefore fold
into one :class:`~tamelab.models.Affine` node. Only the piecewise-linear nonlinearities create
nodes: ``ReLU``/``LeakyReLU`` (:class:`~tamelab.models.ReLU`), max pooling and elementwise
``maximum``/``minimum``/``amax`` (:class:`~tamelab.models.Max`), and ``ReLU6``/``Hardtanh``/``clamp``/
``abs``, which are rewritten exactly with two ReLUs (:math:`\mathrm{clamp}(z,l,h)=l+\sigma(z-l)-\sigma(z-h)`,
:math:`|z|=\sigma(z)+\sigma(-z)`).

Anything that is not piecewise linear (GELU, tanh, softmax, LayerNorm, ``BatchNorm`` in training
mode, products of two inputs, data-dependent control flow that torch.fx cannot trace, ...) raises
:class:`~tamelab.errors.NotApplicableError` naming the layer or the operation. The result is checked
against the float64 torch model on seeded random inputs (:data:`LOWER_CHECK_RTOL`).

For a Linear/ReLU ``nn.Sequential`` the program is exactly
``[input, Affine, ReLU, Affine, ..., Affine]`` with the layers' own weights (what
:func:`~tamelab.models.from_layers` builds).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._numerics import LOWER_CHECK_RTOL as _LOWER_CHECK_RTOL
from ..errors import ComputationError, InputError, NotApplicableError
from ._pwl import Affine, Max, PWLNet, ReLU

__all__ = ["LOWER_CHECK_RTOL", "LOWER_MAX_ENTRIES", "as_pwl", "lower"]

#: default limit on the number of float64 entries of the dense matrices built while lowering
#: (5e7 entries = 400 MB); raise it with ``lower(..., max_entries=)``.
LOWER_MAX_ENTRIES = 50_000_000
#: the lowered program must reproduce the float64 torch model to this relative accuracy.
LOWER_CHECK_RTOL = _LOWER_CHECK_RTOL

# modules that are not piecewise linear (named in the refusal); anything else unknown is "not supported"
_NOT_PWL_MODULES = (
    "GELU",
    "Tanh",
    "Sigmoid",
    "SiLU",
    "Mish",
    "ELU",
    "SELU",
    "CELU",
    "Softplus",
    "Softsign",
    "Tanhshrink",
    "Hardsigmoid",
    "Hardswish",
    "LogSigmoid",
    "Softmax",
    "Softmax2d",
    "LogSoftmax",
    "Softmin",
    "LayerNorm",
    "GroupNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "LocalResponseNorm",
    "RMSNorm",
    "MultiheadAttention",
    "LSTM",
    "GRU",
    "RNN",
    "Transformer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "TransformerDecoderLayer",
    "Bilinear",
    "Embedding",
    "EmbeddingBag",
    "PReLU",
    "RReLU",
    "GLU",
    "Threshold",
    "Softshrink",
    "Hardshrink",
    "CosineSimilarity",
    "PairwiseDistance",
    "LPPool1d",
    "LPPool2d",
)
_NOT_PWL_FUNCS = {
    "gelu",
    "tanh",
    "sigmoid",
    "silu",
    "mish",
    "elu",
    "selu",
    "celu",
    "softplus",
    "softsign",
    "hardsigmoid",
    "hardswish",
    "logsigmoid",
    "softmax",
    "log_softmax",
    "softmin",
    "layer_norm",
    "group_norm",
    "instance_norm",
    "rms_norm",
    "exp",
    "log",
    "log1p",
    "expm1",
    "sqrt",
    "rsqrt",
    "pow",
    "sin",
    "cos",
    "tan",
    "erf",
    "normalize",
    "scaled_dot_product_attention",
    "matmul",
    "bmm",
    "mm",
    "einsum",
    "reciprocal",
    "sign",
    "floor",
    "ceil",
    "round",
    "square",
    "prelu",
    "rrelu",
    "glu",
    "threshold",
    "dropout",
    "var",
    "std",
    "norm",
    "sort",
    "topk",
    "argmax",
    "argmin",
    "cumsum",
    "cumprod",
    "prod",
    "logsumexp",
}


# ----------------------------------------------------------------------------------------- values
class _Aff:
    """``Σ_s T_s y_s + b``:

    ``terms[s]`` is ``None`` (identity on node s, same shape) or a tensor ``(width_s, 1, *shape)`` (column j = the
    value's dependence on unit j of node s); ``b`` is ``(1, *shape)``.
    """

    __slots__ = ("b", "terms")

    def __init__(self, terms: dict[int, torch.Tensor | None], b: torch.Tensor) -> None:
        self.terms = terms
        self.b = b

    @property
    def shape(self) -> torch.Size:
        return self.b.shape

    def numel(self) -> int:
        return int(self.b.numel())


def _eye(n: int, shape: Sequence[int]) -> torch.Tensor:
    return torch.eye(n, dtype=torch.float64).reshape(n, *shape)


class _Lowerer:
    def __init__(self, model: nn.Module, in_shape: tuple[int, ...], max_entries: int) -> None:
        self.model = model
        self.mods = dict(model.named_modules())
        self.in_shape = in_shape
        self.max_entries = max_entries
        self.nodes: list[Any] = [None]
        self.widths: list[int] = [int(np.prod(in_shape))]
        self.names: list[str] = ["input"]
        self.shapes: list[tuple[int, ...]] = [tuple(in_shape)]
        self.where = "model"

    # ---------------------------------------------------------------- program nodes
    def _dense(self, s: int, T: torch.Tensor | None, shape: Sequence[int]) -> torch.Tensor:
        return _eye(self.widths[s], (1, *shape)) if T is None else T

    def materialize(self, v: _Aff, name: str) -> int:
        """The index of a program node equal to ``v`` (a new Affine node unless ``v`` already is one)."""
        if len(v.terms) == 1 and not bool(v.b.any()):
            ((s, T),) = v.terms.items()
            if T is None and tuple(v.shape[1:]) == self.shapes[s]:
                return s
        n = v.numel()
        srcs = sorted(v.terms)
        A = [self._dense(s, v.terms[s], v.shape[1:]).reshape(self.widths[s], n).T.contiguous().numpy() for s in srcs]
        self.nodes.append(Affine(list(srcs), A, v.b.reshape(-1).numpy().copy()))
        return self._add_node(n, name, v.shape[1:])

    def _add_node(self, width: int, name: str, shape: Sequence[int]) -> int:
        self.widths.append(int(width))
        self.names.append(name)
        self.shapes.append(tuple(int(x) for x in shape))
        return len(self.widths) - 1

    def ref(self, s: int) -> _Aff:
        return _Aff({s: None}, torch.zeros((1, *self.shapes[s]), dtype=torch.float64))

    def guard(self, rows: int, cols: int) -> None:
        if rows * cols > self.max_entries:
            raise InputError(
                "max_entries",
                f"{self.where}: lowering needs a dense {rows}×{cols} matrix ({rows * cols:.3g} float64 "
                f"entries, {rows * cols * 8 / 2**30:.2g} GiB) above the limit {self.max_entries:.3g}",
                "pass lower(..., max_entries=N) to allow more",
            )

    # ---------------------------------------------------------------- affine application
    def linear(
        self, f: Callable[..., torch.Tensor], v: _Aff, bias_f: Callable[..., torch.Tensor] | None = None
    ) -> _Aff:
        """Apply ``f`` (linear in its tensor argument, batch-1 semantics) to ``v``;

        the bias is ``bias_f(v.b)`` when given (for affine ops), else ``f(v.b)``.
        """
        b = (bias_f or f)(v.b)
        if not isinstance(b, torch.Tensor):
            raise NotApplicableError(self.where, "does not return a tensor")
        terms: dict[int, torch.Tensor | None] = {}
        for s, T in v.terms.items():
            self.guard(self.widths[s], int(b.numel()))
            T = self._dense(s, T, v.shape[1:])
            terms[s] = torch.func.vmap(f)(T)
        return _Aff(terms, b.to(torch.float64))

    def joint(self, f: Callable[..., torch.Tensor], args: list[Any]) -> _Aff:
        """Apply ``f(*args)``, jointly linear in the :class:`_Aff` arguments, constants entering additively:

        terms of source s = f(T_s of each arg (0 if absent), constants → 0); bias = f(biases, constants).
        """
        affs = [a for a in args if isinstance(a, _Aff)]
        b = f(*[a.b if isinstance(a, _Aff) else a for a in args])
        srcs = sorted({s for a in affs for s in a.terms})
        terms: dict[int, torch.Tensor | None] = {}
        for s in srcs:
            self.guard(self.widths[s], int(b.numel()))
            cols: list[torch.Tensor | None] = []
            for a in args:
                if isinstance(a, _Aff):
                    cols.append(
                        self._dense(s, a.terms[s], a.shape[1:])
                        if s in a.terms
                        else torch.zeros((self.widths[s], *a.shape), dtype=torch.float64)
                    )
                else:
                    cols.append(None)
            consts = [None if isinstance(a, _Aff) else _zero_like(a) for a in args]

            def g(*xs: torch.Tensor, consts: list[Any] = consts) -> torch.Tensor:
                it = iter(xs)
                return f(*[next(it) if c is None else c for c in consts])

            terms[s] = torch.func.vmap(g)(*[c for c in cols if c is not None])
        return _Aff(terms, b.to(torch.float64))

    def scale(self, v: _Aff, c: float) -> _Aff:
        return _Aff(
            {s: (None if T is None and c == 1 else self._dense(s, T, v.shape[1:]) * c) for s, T in v.terms.items()},
            v.b * c,
        )

    # ---------------------------------------------------------------- nonlinearities
    def relu(self, v: _Aff, slope: float, name: str) -> _Aff:
        if not math.isfinite(slope) or slope > 1:
            raise NotApplicableError(self.where, f"LeakyReLU with negative_slope {slope} > 1 is not max(z, slope·z)")
        s = self.materialize(v, name + ".in" if self._needs_node(v) else name)
        self.nodes.append(ReLU(s, float(slope)))
        return self.ref(self._add_node(self.widths[s], name, v.shape[1:]))

    def _needs_node(self, v: _Aff) -> bool:
        return not (len(v.terms) == 1 and next(iter(v.terms.values())) is None and not bool(v.b.any()))

    def clamp(self, v: _Aff, lo: float | None, hi: float | None, name: str) -> _Aff:
        """``clamp(z, lo, hi) = lo + σ(z − lo) − σ(z − hi)`` (lo < hi), one-sided forms with one ReLU."""
        if lo is None and hi is None:
            return v
        if lo is not None and hi is not None and not lo < hi:
            raise NotApplicableError(self.where, f"clamp with min {lo} >= max {hi}")
        if hi is None:  # max(z, lo) = lo + σ(z − lo)
            assert lo is not None  # both None returned above
            r = self.relu(self._add_const(v, -lo), 0.0, name)
            return self._add_const(r, lo)
        if lo is None:  # min(z, hi) = hi − σ(hi − z)
            r = self.relu(self._add_const(self.scale(v, -1.0), hi), 0.0, name)
            return self._add_const(self.scale(r, -1.0), hi)
        both = self.joint(
            lambda a, c: torch.cat([a.reshape(1, -1), c.reshape(1, -1)], 1),
            [self._add_const(v, -lo), self._add_const(v, -hi)],
        )
        r = self.relu(both, 0.0, name)
        n, shape = v.numel(), v.shape
        return self._add_const(self.joint(lambda x: (x[:, :n] - x[:, n:]).reshape(shape), [r]), lo)

    def _add_const(self, v: _Aff, c: float) -> _Aff:
        return _Aff(dict(v.terms), v.b + c)

    def abs(self, v: _Aff, name: str) -> _Aff:
        both = self.joint(lambda a: torch.cat([a.reshape(1, -1), -a.reshape(1, -1)], 1), [v])
        r = self.relu(both, 0.0, name)
        n, shape = v.numel(), v.shape
        return self.joint(lambda x: (x[:, :n] + x[:, n:]).reshape(shape), [r])

    def max_groups(self, v: _Aff, f: Callable[[torch.Tensor], torch.Tensor], name: str) -> _Aff:
        """``y = f(x)`` for a max-type ``f`` (pooling, amax):

        the windows are read off by applying ``f`` to the indicator of every input unit (exactly: 1 where the unit is in
        the window, else 0).
        """
        s = self.materialize(v, name + ".in")
        n = self.widths[s]
        shape = v.shape
        out_shape = f(torch.zeros(shape, dtype=torch.float64)).shape
        m = int(np.prod(out_shape))
        self.guard(n, m)
        memb = torch.func.vmap(f)(_eye(n, shape)).reshape(n, m).T  # m × n membership
        if not bool(((memb == 0) | (memb == 1)).all()):
            raise NotApplicableError(self.where, "is not a max over fixed windows")
        rows = [torch.nonzero(r).flatten().tolist() for r in memb]
        if any(not r for r in rows):
            raise NotApplicableError(self.where, "has an output window with no input (padding only)")
        k = max(len(r) for r in rows)
        groups = np.array([r + [r[0]] * (k - len(r)) for r in rows], dtype=np.int64)  # max is idempotent
        self.nodes.append(Max(s, groups))
        return self.ref(self._add_node(m, name, out_shape[1:]))

    def maximum(self, a: _Aff | Any, b: _Aff | Any, name: str, sign: float = 1.0) -> _Aff:
        """Elementwise ``max(a, b)`` (``sign=-1``: ``min(a,b) = −max(−a, −b)``) as a Max node over ``[a; b]``."""
        ta = (
            a
            if isinstance(a, _Aff)
            else _Aff({}, torch.as_tensor(a, dtype=torch.float64).expand(1, *b.shape[1:]).clone())
        )
        tb = (
            b
            if isinstance(b, _Aff)
            else _Aff({}, torch.as_tensor(b, dtype=torch.float64).expand(1, *a.shape[1:]).clone())
        )
        shape = torch.broadcast_shapes(ta.shape, tb.shape)  # type: ignore[no-untyped-call]
        ta = self.linear(lambda x: x.expand(shape), ta) if ta.shape != shape else ta
        tb = self.linear(lambda x: x.expand(shape), tb) if tb.shape != shape else tb
        both = self.joint(lambda x, y: torch.stack([x, y], -1) * sign, [ta, tb])
        s = self.materialize(both, name + ".in")
        m = int(np.prod(shape))
        groups = np.stack([np.arange(m) * 2, np.arange(m) * 2 + 1], 1)
        self.nodes.append(Max(s, groups))
        out = self.ref(self._add_node(m, name, shape[1:]))
        return self.scale(out, sign) if sign != 1.0 else out


def _zero_like(a: Any) -> Any:
    if isinstance(a, torch.Tensor):
        return torch.zeros_like(a)
    if isinstance(a, (int, float)) and not isinstance(a, bool):
        return 0.0
    return a


def _has_aff(x: Any) -> bool:
    if isinstance(x, _Aff):
        return True
    if isinstance(x, (list, tuple)):
        return any(_has_aff(y) for y in x)
    if isinstance(x, dict):
        return any(_has_aff(y) for y in x.values())
    return False


def _fname(target: Any) -> str:
    if isinstance(target, str):
        return target
    mod = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", None) or str(target)
    if mod.startswith("torch.nn.functional"):
        return f"F.{name}"
    if mod.startswith("torch") or mod == "builtins" or mod == "_operator" or mod == "operator":
        return f"{'torch.' if mod.startswith('torch') else ''}{name}"
    return f"{mod}.{name}" if mod else name


def _bare(target: Any) -> str:
    name = target if isinstance(target, str) else getattr(target, "__name__", str(target))
    return name.strip("_")


# ------------------------------------------------------------------------------------- the driver
_LINEAR_METHODS = {
    "view",
    "reshape",
    "flatten",
    "permute",
    "transpose",
    "t",
    "contiguous",
    "squeeze",
    "unsqueeze",
    "expand",
    "expand_as",
    "repeat",
    "flip",
    "sum",
    "mean",
    "narrow",
    "select",
    "unflatten",
    "movedim",
    "swapaxes",
    "roll",
    "view_as",
    "reshape_as",
    "neg",
    "clone",
    "detach",
}
_IDENTITY_METHODS = {"float", "double", "half", "to", "type_as", "cpu", "cuda", "requires_grad_"}
_LINEAR_FUNCS = {
    "flatten",
    "reshape",
    "permute",
    "transpose",
    "squeeze",
    "unsqueeze",
    "flip",
    "sum",
    "mean",
    "narrow",
    "select",
    "movedim",
    "swapaxes",
    "roll",
    "neg",
    "negative",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "clone",
    "detach",
    "unflatten",
    "pixel_shuffle",
    "pixel_unshuffle",
    "interpolate",
    "upsample",
    "upsample_nearest",
    "getitem",
    "pos",
    "t",
    "tile",
    "repeat_interleave",
}
_JOINT_FUNCS = {"add", "sub", "subtract", "cat", "concat", "concatenate", "stack", "hstack", "vstack"}


def _run(lw: _Lowerer, gm: torch.fx.GraphModule) -> Any:
    env: dict[str, Any] = {}
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    required = [n for n in placeholders if not n.args]
    if len(required) != 1:
        raise NotApplicableError(
            "model", f"forward takes {len(required)} required tensor inputs; lowering needs exactly one"
        )
    out = None
    for node in gm.graph.nodes:
        lw.where = _where(gm, node)

        def load(a: Any) -> Any:
            return torch.fx.node.map_arg(a, lambda n: env[n.name])

        if node.op == "placeholder":
            env[node.name] = lw.ref(0) if node in required else (node.args[0] if node.args else None)
        elif node.op == "get_attr":
            obj: Any = gm
            for part in str(node.target).split("."):
                obj = getattr(obj, part)
            env[node.name] = obj.detach() if isinstance(obj, torch.Tensor) else obj
        elif node.op == "output":
            out = load(node.args[0])
        else:
            args, kwargs = load(node.args), load(node.kwargs)
            if not _has_aff((args, kwargs)):
                env[node.name] = _concrete(lw, node, args, kwargs, gm)
            elif node.op == "call_module":
                env[node.name] = _module(lw, gm.get_submodule(str(node.target)), str(node.target), args, kwargs)
            else:
                env[node.name] = _function(lw, node, args, kwargs)
    if not isinstance(out, _Aff):
        raise NotApplicableError(
            "model", f"its output is a {type(out).__name__}, not one tensor computed from the input"
        )
    return out


def _where(gm: torch.fx.GraphModule, node: torch.fx.Node) -> str:
    if node.op == "call_module":
        m = gm.get_submodule(str(node.target))
        return f"layer '{node.target}' ({type(m).__name__})"
    stack = node.meta.get("nn_module_stack")
    inside = f" in '{list(stack)[-1]}'" if stack else ""
    if node.op == "call_method":
        return f"operation '.{node.target}()'{inside}"
    return f"operation '{_fname(node.target)}'{inside}"


def _concrete(lw: _Lowerer, node: torch.fx.Node, args: Any, kwargs: Any, gm: torch.fx.GraphModule) -> Any:
    """An operation on constants only (shapes, parameters): evaluate it."""
    try:
        if node.op == "call_module":
            return gm.get_submodule(str(node.target))(*args, **kwargs)
        if node.op == "call_method":
            return getattr(args[0], str(node.target))(*args[1:], **kwargs)
        return cast(Callable[..., Any], node.target)(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - any failure of user code on constants
        raise NotApplicableError(lw.where, f"failed on constant arguments: {type(e).__name__}: {e}") from None


def _module(lw: _Lowerer, m: nn.Module, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if kwargs or len(args) != 1 or not isinstance(args[0], _Aff):
        raise NotApplicableError(
            lw.where, "is called with more than one input; lowering needs one tensor input per layer"
        )
    v: _Aff = args[0]
    t = type(m)
    if isinstance(m, nn.Linear):
        return lw.linear(lambda x: F.linear(x, m.weight), v, lambda x: F.linear(x, m.weight, m.bias))
    if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        return lw.linear(
            lambda x: m._conv_forward(x, m.weight, None), v, lambda x: m._conv_forward(x, m.weight, m.bias)
        )
    if isinstance(m, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
        fn = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[len(m.kernel_size)]
        kw: dict[str, Any] = dict(
            stride=m.stride, padding=m.padding, output_padding=m.output_padding, groups=m.groups, dilation=m.dilation
        )
        if m.padding_mode != "zeros":
            raise NotApplicableError(lw.where, f"padding_mode {m.padding_mode!r} is not supported")
        return lw.linear(lambda x: fn(x, m.weight, None, **kw), v, lambda x: fn(x, m.weight, m.bias, **kw))
    if isinstance(m, nn.modules.batchnorm._BatchNorm):
        if m.training:
            raise NotApplicableError(
                lw.where,
                "is in training mode: it normalises with batch statistics, which is not a fixed piecewise-linear map",
                "call model.eval() first",
            )
        if m.running_mean is None or m.running_var is None:
            raise NotApplicableError(
                lw.where,
                "has no running statistics (track_running_stats=False): it normalises "
                "with batch statistics even in eval mode",
            )
        zero = torch.zeros_like(m.running_mean)
        return lw.linear(
            lambda x: F.batch_norm(x, zero, m.running_var, m.weight, None, False, 0.0, m.eps),
            v,
            lambda x: F.batch_norm(x, m.running_mean, m.running_var, m.weight, m.bias, False, 0.0, m.eps),
        )
    if isinstance(m, nn.modules.dropout._DropoutNd):
        if m.training and m.p > 0:
            raise NotApplicableError(lw.where, "is in training mode (random masks)", "call model.eval() first")
        return v
    if isinstance(m, nn.Identity):
        return v
    if isinstance(
        m,
        (
            nn.Flatten,
            nn.Unflatten,
            nn.AvgPool1d,
            nn.AvgPool2d,
            nn.AvgPool3d,
            nn.AdaptiveAvgPool1d,
            nn.AdaptiveAvgPool2d,
            nn.AdaptiveAvgPool3d,
            nn.ZeroPad1d,
            nn.ZeroPad2d,
            nn.ZeroPad3d,
            nn.ReflectionPad1d,
            nn.ReflectionPad2d,
            nn.ReflectionPad3d,
            nn.ReplicationPad1d,
            nn.ReplicationPad2d,
            nn.ReplicationPad3d,
            nn.CircularPad1d,
            nn.CircularPad2d,
            nn.CircularPad3d,
            nn.PixelShuffle,
            nn.PixelUnshuffle,
            nn.ChannelShuffle,
        ),
    ):
        return lw.linear(m, v)
    if isinstance(m, nn.Upsample):
        if m.mode not in ("nearest", "linear", "bilinear", "trilinear"):
            raise NotApplicableError(lw.where, f"mode {m.mode!r} is not linear")
        return lw.linear(m, v)
    if isinstance(m, (nn.ConstantPad1d, nn.ConstantPad2d, nn.ConstantPad3d)):
        return lw.linear(lambda x: F.pad(x, m.padding, value=0.0), v, m)
    if t is nn.ReLU:
        return lw.relu(v, 0.0, name)
    if t is nn.LeakyReLU:
        return lw.relu(v, float(cast(float, m.negative_slope)), name)
    if t is nn.ReLU6:
        return lw.clamp(v, 0.0, 6.0, name)
    if t is nn.Hardtanh:
        return lw.clamp(v, float(cast(float, m.min_val)), float(cast(float, m.max_val)), name)
    if isinstance(
        m, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)
    ):
        if getattr(m, "return_indices", False):
            raise NotApplicableError(lw.where, "returns indices (not a tensor function of the input)")
        return lw.max_groups(v, m, name)
    if t.__name__ in _NOT_PWL_MODULES:
        raise NotApplicableError(lw.where, "is not piecewise linear")
    raise NotApplicableError(
        lw.where,
        "is not supported by the piecewise-linear lowering (see docs/relu-geometry.md "
        "for the list of layers that lower)",
    )


def _num(x: Any) -> float | None:
    if isinstance(x, bool):
        return None
    if isinstance(x, (int, float)):
        return float(x)
    if (
        isinstance(x, torch.Tensor)
        and x.numel() == 1
        and x.is_floating_point() | (x.dtype in (torch.int32, torch.int64))
    ):
        return float(x)
    return None


def _function(lw: _Lowerer, node: torch.fx.Node, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    target = cast(Callable[..., Any], node.target)
    name = _bare(target)
    label = node.name
    if node.op == "call_method":
        self_, rest = args[0], args[1:]
        if not isinstance(self_, _Aff):
            raise NotApplicableError(lw.where, "is a method of a constant with an input-dependent argument")
        if name in ("size", "dim", "ndimension", "numel"):
            shape_probe = torch.zeros(self_.shape)
            return getattr(shape_probe, name)(*rest, **kwargs)
        if name in _IDENTITY_METHODS:
            return self_
        if name in ("relu", "relu_"):
            return lw.relu(self_, 0.0, label)
        if name in ("clamp", "clip", "clamp_", "clamp_min", "clamp_max"):
            lo, hi = _clamp_args(name, rest, kwargs)
            return lw.clamp(self_, lo, hi, label)
        if name == "abs":
            return lw.abs(self_, label)
        if name in ("add", "sub", "mul", "div", "add_", "sub_", "mul_", "div_", "__add__", "__sub__", "__mul__"):
            return _arith(lw, name.strip("_"), self_, *rest, **kwargs)
        if name == "amax":
            return lw.max_groups(self_, lambda x: x.amax(*rest, **kwargs), label)
        if name == "max" or name == "maximum" or name == "minimum" or name == "min":
            return _max_like(lw, name, (self_, *rest), kwargs, label)
        if name in _LINEAR_METHODS:
            return lw.linear(lambda x: getattr(x, name)(*rest, **kwargs), self_)
        raise _refuse(lw, name)
    # call_function
    if target is getattr:
        obj, attr = args
        if attr in ("shape",):
            return torch.Size(obj.shape)
        if attr in ("ndim",):
            return len(obj.shape)
        if attr in ("T", "mT"):
            return lw.linear(lambda x: getattr(x, attr), obj)
        raise NotApplicableError(lw.where, f"reads attribute {attr!r} of an input-dependent tensor")
    if name in ("relu", "relu_"):
        return lw.relu(args[0], 0.0, label)
    if name in ("leaky_relu", "leaky_relu_"):
        slope = kwargs.get("negative_slope", args[1] if len(args) > 1 else 0.01)
        return lw.relu(args[0], float(slope), label)
    if name in ("relu6",):
        return lw.clamp(args[0], 0.0, 6.0, label)
    if name in ("hardtanh", "hardtanh_"):
        lo = kwargs.get("min_val", args[1] if len(args) > 1 else -1.0)
        hi = kwargs.get("max_val", args[2] if len(args) > 2 else 1.0)
        return lw.clamp(args[0], float(lo), float(hi), label)
    if name in ("clamp", "clip", "clamp_min", "clamp_max"):
        lo, hi = _clamp_args(name, args[1:], kwargs)
        return lw.clamp(args[0], lo, hi, label)
    if name in ("abs", "absolute"):
        return lw.abs(args[0], label)
    if name in (
        "max_pool1d",
        "max_pool2d",
        "max_pool3d",
        "adaptive_max_pool1d",
        "adaptive_max_pool2d",
        "adaptive_max_pool3d",
        "max_pool1d_with_indices",
        "max_pool2d_with_indices",
        "adaptive_max_pool2d_with_indices",
    ):
        if kwargs.get("return_indices") or "with_indices" in name:
            raise NotApplicableError(lw.where, "returns indices (not a tensor function of the input)")
        rest = args[1:]
        return lw.max_groups(args[0], lambda x: target(x, *rest, **kwargs), label)
    if name == "amax":
        rest = args[1:]
        return lw.max_groups(args[0], lambda x: torch.amax(x, *rest, **kwargs), label)
    if name in ("max", "maximum", "min", "minimum", "fmax", "fmin"):
        return _max_like(lw, name, args, kwargs, label)
    if name == "linear":
        x, W = args[0], args[1]
        bias = kwargs.get("bias", args[2] if len(args) > 2 else None)
        _const(lw, W, bias)
        return lw.linear(lambda z: F.linear(z, W), x, lambda z: F.linear(z, W, bias))
    if name in ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"):
        x, W = args[0], args[1]
        bias = kwargs.pop("bias", args[2] if len(args) > 2 else None)
        rest = args[3:]
        _const(lw, W, bias)
        return lw.linear(
            lambda z: target(z, W, None, *rest, **kwargs), x, lambda z: target(z, W, bias, *rest, **kwargs)
        )
    if name == "batch_norm":
        return _functional_bn(lw, args, kwargs)
    if name in ("dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"):
        training = kwargs.get("training", args[2] if len(args) > 2 else True)
        p = kwargs.get("p", args[1] if len(args) > 1 else 0.5)
        if training and p > 0:
            raise NotApplicableError(
                lw.where, "is in training mode (random masks)", "call model.eval() or pass training=False"
            )
        return args[0]
    if name == "pad":
        x = args[0]
        pad = kwargs.get("pad", args[1] if len(args) > 1 else None)
        if pad is None:
            raise NotApplicableError(lw.where, "is called without its pad argument")
        mode = kwargs.get("mode", args[2] if len(args) > 2 else "constant")
        value = kwargs.get("value", args[3] if len(args) > 3 else None) or 0.0
        if mode == "constant":
            return lw.linear(lambda z: F.pad(z, pad, value=0.0), x, lambda z: F.pad(z, pad, value=value))
        return lw.linear(lambda z: F.pad(z, pad, mode=mode), x)
    if name in (
        "add",
        "sub",
        "subtract",
        "mul",
        "truediv",
        "div",
        "divide",
        "neg",
        "negative",
        "pos",
        "multiply",
        "iadd",
        "isub",
        "imul",
        "itruediv",
        "rsub",
    ):
        return _arith(lw, name, *args, **kwargs)
    if name in _JOINT_FUNCS:
        return lw.joint(lambda *xs: target(*_repack(args, xs), **kwargs), _flat_args(args))
    if name in _LINEAR_FUNCS:
        if not isinstance(args[0], _Aff) or _has_aff((args[1:], kwargs)):
            raise NotApplicableError(lw.where, "uses an input-dependent value in a position that must be constant")
        rest = args[1:]
        return lw.linear(lambda x: target(x, *rest, **kwargs), args[0])
    raise _refuse(lw, name)


def _refuse(lw: _Lowerer, name: str) -> NotApplicableError:
    if name in _NOT_PWL_FUNCS:
        return NotApplicableError(lw.where, "is not piecewise linear")
    return NotApplicableError(lw.where, "is not supported by the piecewise-linear lowering (see docs/relu-geometry.md)")


def _const(lw: _Lowerer, *xs: Any) -> None:
    if _has_aff(xs):
        raise NotApplicableError(
            lw.where, "has an input-dependent weight: a product of two inputs is not piecewise linear"
        )


def _clamp_args(name: str, rest: Sequence[Any], kwargs: dict[str, Any]) -> tuple[float | None, float | None]:
    if name == "clamp_min":
        return float(rest[0] if rest else kwargs["min"]), None
    if name == "clamp_max":
        return None, float(rest[0] if rest else kwargs["max"])
    lo = kwargs.get("min", rest[0] if len(rest) > 0 else None)
    hi = kwargs.get("max", rest[1] if len(rest) > 1 else None)
    return (None if lo is None else float(lo)), (None if hi is None else float(hi))


def _flat_args(args: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for a in args:
        if isinstance(a, (list, tuple)) and _has_aff(a):
            out.extend(a)
        else:
            out.append(a)
    return out


def _repack(args: Sequence[Any], flat: Sequence[Any]) -> list[Any]:
    it = iter(flat)
    out: list[Any] = []
    for a in args:
        if isinstance(a, (list, tuple)) and _has_aff(a):
            out.append(type(a)(next(it) for _ in a))
        else:
            out.append(next(it))
    return out


def _arith(lw: _Lowerer, name: str, *args: Any, **kwargs: Any) -> Any:
    name = name.lstrip("i") if name in ("iadd", "isub", "imul", "itruediv") else name
    if name in ("neg", "negative"):
        return lw.scale(args[0], -1.0)
    if name == "pos":
        return args[0]
    a, b = args[0], args[1]
    alpha = kwargs.pop("alpha", 1)
    if kwargs:
        raise NotApplicableError(lw.where, f"keyword arguments {sorted(kwargs)} are not supported")
    if name == "rsub":
        a, b = b, a
        name = "sub"
    if name in ("add", "sub", "subtract"):
        sgn = 1.0 if name == "add" else -1.0
        if isinstance(b, _Aff) and alpha * sgn != 1:
            b = lw.scale(b, float(alpha * sgn))
            return lw.joint(lambda x, y: x + y, [a, b])
        if not isinstance(b, _Aff) and alpha * sgn != 1:
            b = b * (alpha * sgn)
            return lw.joint(lambda x, y: x + y, [a, b])
        return lw.joint((lambda x, y: x + y) if sgn > 0 else (lambda x, y: x - y), [a, b])
    if name in ("mul", "multiply"):
        if isinstance(a, _Aff) and isinstance(b, _Aff):
            raise NotApplicableError(lw.where, "multiplies two input-dependent tensors: not piecewise linear")
        v, c = (a, b) if isinstance(a, _Aff) else (b, a)
        num = _num(c)
        if num is not None:
            return lw.scale(v, num)
        return lw.linear(lambda x: x * c, v)
    if name in ("truediv", "div", "divide"):
        if isinstance(b, _Aff):
            raise NotApplicableError(lw.where, "divides by an input-dependent tensor: not piecewise linear")
        num = _num(b)
        if num is not None:
            return lw.scale(a, 1.0 / num)
        return lw.linear(lambda x: x / b, a)
    raise NotApplicableError(lw.where, "is not supported by the piecewise-linear lowering")


def _max_like(lw: _Lowerer, name: str, args: Sequence[Any], kwargs: dict[str, Any], label: str) -> Any:
    sign = -1.0 if name in ("min", "minimum", "fmin") else 1.0
    if len(args) >= 2 and not isinstance(args[1], int) or "other" in kwargs:
        other = kwargs.get("other", args[1] if len(args) > 1 else None)
        if other is None:
            raise NotApplicableError(lw.where, "is called without its second operand")
        a = args[0]
        if sign < 0:  # min(a, b) = −max(−a, −b)
            na = lw.scale(a, -1.0) if isinstance(a, _Aff) else -a
            nb = lw.scale(other, -1.0) if isinstance(other, _Aff) else -other
            return lw.scale(lw.maximum(na, nb, label), -1.0)
        return lw.maximum(a, other, label)
    raise NotApplicableError(lw.where, "reduces with max/min over a dimension and returns indices; use amax/amin")


def _functional_bn(lw: _Lowerer, args: Sequence[Any], kwargs: dict[str, Any]) -> _Aff:
    names = ["input", "running_mean", "running_var", "weight", "bias", "training", "momentum", "eps"]
    kw = dict(zip(names, args))
    kw.update(kwargs)
    if kw.get("training", False):
        raise NotApplicableError(
            lw.where, "normalises with batch statistics (training=True)", "call model.eval() first"
        )
    mean, var = kw.get("running_mean"), kw.get("running_var")
    if mean is None or var is None:
        raise NotApplicableError(lw.where, "has no running statistics")
    w, b, eps = kw.get("weight"), kw.get("bias"), kw.get("eps", 1e-5)
    _const(lw, mean, var, w, b)
    zero = torch.zeros_like(mean)
    return lw.linear(
        lambda x: F.batch_norm(x, zero, var, w, None, False, 0.0, eps),
        kw["input"],
        lambda x: F.batch_norm(x, mean, var, w, b, False, 0.0, eps),
    )


# ------------------------------------------------------------------------------------------- public
def _check_weights(model: nn.Module) -> None:
    for kind, items in (("parameter", model.named_parameters()), ("buffer", model.named_buffers())):
        for name, t in items:
            if t.is_complex():
                raise InputError(
                    f"{kind} '{name}'", f"is complex ({t.dtype})", "exact geometry needs real floating-point weights"
                )
            if not t.is_floating_point():
                if kind == "buffer":
                    continue  # e.g. BatchNorm's num_batches_tracked
                raise InputError(
                    f"{kind} '{name}'", f"has dtype {t.dtype}", "convert the model to a floating-point dtype"
                )
            if not bool(torch.isfinite(t).all()):
                raise InputError(f"{kind} '{name}'", "contains NaN or inf")


def _infer_shape(gm: torch.fx.GraphModule) -> tuple[int, ...] | None:
    ph = next((n for n in gm.graph.nodes if n.op == "placeholder"), None)
    if ph is None:
        return None
    for user in ph.users:
        if user.op == "call_module":
            m = gm.get_submodule(str(user.target))
            if isinstance(m, nn.Linear):
                return (m.in_features,)
        if user.op == "call_function" and _bare(user.target) == "linear" and isinstance(user.args[1], torch.fx.Node):
            return None
    return None


def lower(
    model: nn.Module,
    example_input: torch.Tensor | None = None,
    *,
    in_shape: Sequence[int] | None = None,
    max_entries: int = LOWER_MAX_ENTRIES,
    check: bool = True,
    seed: int = 0,
) -> PWLNet:
    """The piecewise-linear program of ``model`` (an ``nn.Module`` traceable by torch.fx).

    Args:
        model: any module built from the layers listed in the module docstring. It is copied and
            converted to float64 (every float dtype, bfloat16 included, embeds exactly); the caller's
            model is not changed. Layers with state (BatchNorm, Dropout) must be in eval mode.
        example_input: a batch ``(N, *in_shape)`` (only its shape is used), or
        in_shape: the per-sample input shape, e.g. ``(1, 8, 8)``. For a model whose first layer is
            ``nn.Linear`` both may be omitted.
        max_entries: limit on the float64 entries of any dense matrix formed (resource guard).
        check: compare the program with the float64 model on 8 seeded Gaussian inputs (relative
            accuracy :data:`LOWER_CHECK_RTOL`); a mismatch is a :class:`ComputationError`.
        seed: seed of the check inputs.

    Raises:
        NotApplicableError: a layer or operation is not piecewise linear (named), or fx cannot trace.
        InputError: bad shapes, non-float/non-finite weights, or a matrix above ``max_entries``.
    """
    if isinstance(model, PWLNet):
        return model
    if not isinstance(model, nn.Module):
        raise InputError("model", f"expected an nn.Module, got {type(model).__name__}")
    _check_weights(model)
    m64 = copy.deepcopy(model).to(torch.float64)
    try:
        gm = torch.fx.symbolic_trace(m64)
    except Exception as e:  # noqa: BLE001 - TraceError, TypeError from control flow on proxies, ...
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise NotApplicableError(
            "model",
            f"torch.fx cannot trace it ({type(e).__name__}: {msg}); data-dependent "
            "control flow is not a fixed piecewise-linear program",
        ) from None
    if example_input is not None and in_shape is not None:
        if tuple(example_input.shape[1:]) != tuple(in_shape):
            raise InputError(
                "in_shape", f"{tuple(in_shape)} != example_input.shape[1:] {tuple(example_input.shape[1:])}"
            )
    if example_input is not None:
        if not isinstance(example_input, torch.Tensor) or example_input.ndim < 2:
            raise InputError("example_input", "expected a batch tensor (N, *in_shape)")
        in_shape = tuple(example_input.shape[1:])
    if in_shape is None:
        in_shape = _infer_shape(gm)
        if in_shape is None:
            raise InputError(
                "in_shape",
                "cannot infer the input shape (the model does not start with nn.Linear)",
                "pass in_shape=(C, H, W) or example_input",
            )
    in_shape = tuple(int(s) for s in in_shape)
    if not in_shape or min(in_shape) < 1:
        raise InputError("in_shape", f"{in_shape}: every dimension must be >= 1")
    lw = _Lowerer(m64, in_shape, int(max_entries))
    try:
        with torch.no_grad():
            out = _run(lw, gm)
    except (InputError, NotApplicableError):
        raise
    except Exception as e:  # noqa: BLE001 - a shape error inside a layer, etc.
        raise NotApplicableError(
            lw.where,
            f"could not be lowered with input shape {in_shape}: {type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}",
        ) from None
    lw.where = "output"
    with torch.no_grad():
        o = lw.materialize(out, "output")
    net = PWLNet(in_shape, lw.nodes, lw.widths, o, names=lw.names, out_shape=tuple(out.shape[1:]))
    if check:
        _self_check(net, m64, seed)
    return net


def _self_check(net: PWLNet, m64: nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn((8, *net.in_shape), generator=g, dtype=torch.float64)
    with torch.no_grad():
        want = m64(X).reshape(8, -1).numpy()
    got = net.forward(X.reshape(8, -1).numpy())
    err = float(np.abs(got - want).max()) if want.size else 0.0
    scale = max(1.0, float(np.abs(want).max())) if want.size else 1.0
    if not err <= LOWER_CHECK_RTOL * scale * max(1, len(net.nodes)):
        raise ComputationError(
            f"lowering check failed: the program differs from the float64 model by {err:.3g} "
            f"(scale {scale:.3g}); please report this model"
        )


def as_pwl(
    model: Any,
    *,
    in_shape: Sequence[int] | None = None,
    example_input: torch.Tensor | None = None,
    max_entries: int = LOWER_MAX_ENTRIES,
) -> PWLNet:
    """``model`` if it is already a :class:`PWLNet`, else :func:`lower` it."""
    if isinstance(model, PWLNet):
        return model
    return lower(model, example_input, in_shape=in_shape, max_entries=max_entries)
