r"""Permutation specs:

which parameter axes share a hidden-unit permutation (Git Re-Basin's ``PermutationSpec``; Ainsworth, Hayase & Srinivasa,
arXiv:2209.04836, §3 and App. A).

A network :math:`f_\theta` with hidden units that can be reordered without changing the function has a
group of symmetries :math:`\pi=(P_1,\dots,P_K)`. A :class:`PermutationSpec` names the permutations
(with their sizes) and, for every parameter and buffer, which permutation acts on each axis:

* Linear/Conv: the output axis (0) carries the layer's own permutation, the input axis (1) the
  permutation of the incoming activations;
* BatchNorm: weight, bias, running mean and running variance permute with their channels;
* LayerNorm over the feature axis: its affine parameters permute with the features (mean and
  variance are permutation-invariant); GELU/ReLU/tanh/... are elementwise;
* residual streams: everything added into the stream shares one permutation (the additions force it);
* ``flatten`` of a ``(C, H, W)`` feature map: each channel index moves a contiguous block of
  ``H·W`` inputs of the next Linear (:class:`Axis` ``inner``).

:func:`derive_spec` reads this off a ``torch.fx`` trace with shapes (``ShapeProp``): a union-find over
"which tensor axes must carry the same permutation"; the network's input and output axes are fixed
(not permutable), so a stream added to the raw input is not permuted. Operations it does not
understand (attention, grouped convolutions, concatenation, matmul of two activations, …) are refused
*by name* with a pointer to an explicit ``spec=``. :func:`check_spec` certifies a spec on data: the
model permuted by a random :math:`\pi` must compute the same function (``derive_spec`` runs it).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import operator
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ..errors import InputError, NotApplicableError

__all__ = [
    "Axis",
    "PermutationSpec",
    "derive_spec",
    "mlp_spec",
    "apply_permutations",
    "permute",
    "check_spec",
    "random_permutations",
    "identity_permutations",
]


@dataclasses.dataclass(frozen=True)
class Axis:
    """Permutation ``perm`` acts on this axis in blocks of ``inner`` contiguous entries."""

    perm: str
    inner: int = 1


@dataclasses.dataclass
class PermutationSpec:
    """Permutations (name → size) and, per parameter/buffer, the permutation on each axis (or ``None``).

    Explicit specs: ``PermutationSpec(perms={"P0": 8}, axes={"0.weight": ("P0", None), "0.bias": ("P0",),
    "2.weight": (None, "P0")})`` (strings are :class:`Axis` with ``inner=1``).
    """

    perms: dict[str, int]
    axes: dict[str, tuple[Axis | None, ...]]
    notes: list[str] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        self.axes = {k: tuple(Axis(a) if isinstance(a, str) else a for a in v) for k, v in self.axes.items()}
        for k, ax in self.axes.items():
            for a in ax:
                if a is not None and a.perm not in self.perms:
                    raise InputError("spec", f"{k!r} uses unknown permutation {a.perm!r}", f"known: {list(self.perms)}")

    def perm_to_axes(self) -> dict[str, list[tuple[str, int, int]]]:
        """``perm → [(tensor name, axis, inner), ...]``."""
        out: dict[str, list[tuple[str, int, int]]] = {p: [] for p in self.perms}
        for k, ax in self.axes.items():
            for i, a in enumerate(ax):
                if a is not None:
                    out[a.perm].append((k, i, a.inner))
        return out

    def validate(self, state: Mapping[str, torch.Tensor]) -> None:
        """Every named tensor exists, has the spec's rank, and each permuted axis has size ``n·inner``."""
        for k, ax in self.axes.items():
            if k not in state:
                raise InputError(
                    "spec",
                    f"names {k!r}, which is not a parameter or buffer of the model",
                    f"known: {list(state)[:8]}...",
                )
            t = state[k]
            if len(ax) != t.ndim:
                raise InputError("spec", f"{k!r} has {t.ndim} axes, the spec gives {len(ax)}")
            for i, a in enumerate(ax):
                if a is not None and t.shape[i] != self.perms[a.perm] * a.inner:
                    raise InputError(
                        "spec",
                        f"{k!r} axis {i} has size {t.shape[i]}, permutation {a.perm!r} needs "
                        f"{self.perms[a.perm]}×{a.inner}",
                    )

    def to_dict(self) -> dict[str, Any]:
        return {
            "perms": dict(self.perms),
            "axes": {
                k: [None if a is None else ([a.perm, a.inner] if a.inner != 1 else a.perm) for a in v]
                for k, v in self.axes.items()
            },
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PermutationSpec":
        if isinstance(d, PermutationSpec):
            return d
        try:
            axes = {
                k: tuple(None if a is None else (Axis(a) if isinstance(a, str) else Axis(a[0], int(a[1]))) for a in v)
                for k, v in d["axes"].items()
            }
            return cls(dict(d["perms"]), axes, list(d.get("notes", [])))
        except (KeyError, TypeError, IndexError) as e:
            raise InputError(
                "spec",
                f"malformed permutation spec ({e})",
                "pass {'perms': {name: size}, 'axes': {param: [perm or None per axis]}}",
            ) from None


# ------------------------------------------------------------------------------------------------
# applying permutations
# ------------------------------------------------------------------------------------------------
def _index_axis(t: torch.Tensor, axis: int, idx: torch.Tensor, inner: int) -> torch.Tensor:
    """``t`` with axis ``axis`` reordered by ``idx`` in blocks of ``inner`` entries."""
    if inner == 1:
        return t.index_select(axis, idx)
    shp = t.shape
    v = t.reshape(*shp[:axis], shp[axis] // inner, inner, *shp[axis + 1 :])
    return v.index_select(axis, idx).reshape(shp)


def apply_permutations(
    state: Mapping[str, torch.Tensor],
    spec: PermutationSpec,
    perms: Mapping[str, Any],
    *,
    skip: tuple[str, int] | None = None,
) -> dict[str, torch.Tensor]:
    """The tensors of ``state`` with every permuted axis reordered: new unit ``i`` = old unit ``perms[p][i]``.

    ``skip=(name, axis)`` leaves that one axis alone (weight matching's "all permutations but this one").
    """
    out = dict(state)
    for k, ax in spec.axes.items():
        t = state[k]
        for i, a in enumerate(ax):
            if a is None or (skip is not None and skip == (k, i)):
                continue
            idx = torch.as_tensor(np.asarray(perms[a.perm]), dtype=torch.long, device=t.device)
            t = _index_axis(t, i, idx, a.inner)
        out[k] = t
    return out


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {**{k: v.detach() for k, v in model.named_parameters()}, **{k: v.detach() for k, v in model.named_buffers()}}


def permute(
    model: nn.Module,
    perms: Mapping[str, Any],
    spec: PermutationSpec,
    *,
    state: Mapping[str, torch.Tensor] | None = None,
) -> nn.Module:
    """A copy of ``model`` with its parameters and buffers permuted by ``perms``.

    A copy of ``model`` with its parameters and buffers permuted by ``perms`` (the function is unchanged
    when ``spec`` is right). ``state``: the model's parameters and buffers, if already collected.
    """
    st = _state(model) if state is None else state
    spec.validate(st)
    new = apply_permutations(st, spec, perms)
    # deepcopy the module structure only: every parameter/buffer is pre-placed in the memo by its new value
    memo: dict[int, Any] = {}
    for k, p in model.named_parameters():
        val = new[k].clone() if k in spec.axes else p.detach().clone()
        memo[id(p)] = nn.Parameter(val, requires_grad=p.requires_grad)
    for k, b in model.named_buffers():
        memo[id(b)] = new[k].clone() if k in spec.axes else b.clone()
    return copy.deepcopy(model, memo)


def identity_permutations(spec: PermutationSpec) -> dict[str, np.ndarray]:
    return {p: np.arange(n) for p, n in spec.perms.items()}


def random_permutations(spec: PermutationSpec, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {p: rng.permutation(n) for p, n in spec.perms.items()}


class eval_mode:
    """Context: ``model`` (and every submodule) in eval mode, the previous training flags restored."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.flags: list[tuple[nn.Module, bool]] = []

    def __enter__(self) -> nn.Module:
        self.flags = [(m, m.training) for m in self.model.modules()]
        self.model.eval()
        return self.model

    def __exit__(self, *a) -> bool:
        for m, f in self.flags:
            m.training = f
        return False


def eval_output(model: nn.Module, x: Any, state: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
    """``model(x)`` in eval mode without gradients (with ``state`` swapped in by ``functional_call``)."""
    from torch.func import functional_call

    with eval_mode(model), torch.no_grad():
        out = model(x) if state is None else functional_call(model, dict(state), (x,))
    return _first_tensor(out)


def check_spec(model: nn.Module, spec: PermutationSpec, x: Any, *, seed: int = 0) -> float:
    """Max relative output change ``max|f_{π(θ)}(x) − f_θ(x)| / (1 + max|f_θ(x)|)`` under a random ``π``."""
    st = _state(model)
    spec.validate(st)
    a = eval_output(model, x)
    b = eval_output(model, x, apply_permutations(st, spec, random_permutations(spec, seed)))
    return float((a - b).abs().max() / (1 + a.abs().max()))


def _first_tensor(o: Any) -> torch.Tensor:
    if isinstance(o, torch.Tensor):
        return o
    if isinstance(o, (tuple, list)):
        return torch.cat([_first_tensor(v).reshape(-1) for v in o])
    if isinstance(o, Mapping):
        return torch.cat([_first_tensor(v).reshape(-1) for v in o.values()])
    raise InputError("model", f"output of type {type(o).__name__} is not a tensor")


def mlp_spec(model: nn.Module) -> PermutationSpec:
    """The spec of a ``Sequential`` of Linear and elementwise layers: one permutation per hidden layer."""
    lins = [(n, m) for n, m in model.named_children() if isinstance(m, nn.Linear)]
    perms, axes = {}, {}
    for i, (name, lin) in enumerate(lins):
        out_p = f"P{i}" if i < len(lins) - 1 else None
        in_p = f"P{i - 1}" if i > 0 else None
        if out_p:
            perms[out_p] = lin.out_features
        axes[f"{name}.weight"] = (out_p, in_p)
        if lin.bias is not None:
            axes[f"{name}.bias"] = (out_p,)
    return PermutationSpec(perms, {k: tuple(Axis(a) if a else None for a in v) for k, v in axes.items()})


# ------------------------------------------------------------------------------------------------
# deriving a spec from a torch.fx trace
# ------------------------------------------------------------------------------------------------
_ELEMENTWISE_MODULES = (
    nn.ReLU,
    nn.GELU,
    nn.Tanh,
    nn.Sigmoid,
    nn.LeakyReLU,
    nn.SiLU,
    nn.ELU,
    nn.Softplus,
    nn.Identity,
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.ReLU6,
    nn.Hardtanh,
    nn.Mish,
    nn.Softsign,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.CELU,
    nn.SELU,
    nn.Tanhshrink,
    nn.Softmax,
    nn.LogSoftmax,
)
_POOL_MODULES = (
    nn.MaxPool1d,
    nn.MaxPool2d,
    nn.MaxPool3d,
    nn.AvgPool1d,
    nn.AvgPool2d,
    nn.AvgPool3d,
    nn.AdaptiveAvgPool1d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveAvgPool3d,
    nn.AdaptiveMaxPool1d,
    nn.AdaptiveMaxPool2d,
    nn.AdaptiveMaxPool3d,
)
_F = torch.nn.functional
_ELEMENTWISE_FUNCS = {
    torch.relu,
    _F.relu,
    _F.gelu,
    torch.tanh,
    _F.tanh,
    torch.sigmoid,
    _F.sigmoid,
    _F.silu,
    _F.leaky_relu,
    _F.elu,
    _F.softplus,
    _F.dropout,
    _F.relu6,
    _F.hardtanh,
    _F.mish,
    torch.exp,
    torch.abs,
    operator.neg,
    torch.neg,
    _F.softmax,
    _F.log_softmax,
    torch.softmax,
    torch.log_softmax,
    torch.square,
    torch.sqrt,
    torch.erf,
}
_ELEMENTWISE_METHODS = {
    "relu",
    "sigmoid",
    "tanh",
    "exp",
    "abs",
    "neg",
    "contiguous",
    "clone",
    "float",
    "double",
    "to",
    "softmax",
    "log_softmax",
    "square",
    "sqrt",
    "detach",
    "type_as",
    "relu_",
    "sigmoid_",
    "tanh_",
    "__neg__",
}
_ADD_FUNCS = {operator.add, torch.add, operator.sub, torch.sub, operator.iadd, operator.isub}
_MUL_FUNCS = {operator.mul, torch.mul, operator.truediv, torch.div, operator.imul, operator.itruediv}
_POOL_FUNCS = {
    _F.max_pool1d,
    _F.max_pool2d,
    _F.max_pool3d,
    _F.avg_pool1d,
    _F.avg_pool2d,
    _F.avg_pool3d,
    _F.adaptive_avg_pool1d,
    _F.adaptive_avg_pool2d,
    _F.adaptive_avg_pool3d,
    _F.adaptive_max_pool1d,
    _F.adaptive_max_pool2d,
    _F.adaptive_max_pool3d,
}
_REDUCE_METHODS = {"mean", "sum", "amax", "amin"}
_REDUCE_FUNCS = {torch.mean, torch.sum, torch.amax, torch.amin}


@dataclasses.dataclass(frozen=True)
class _Chan:
    """A tensor whose axis ``axis`` (negative index) carries group ``g`` in blocks of ``inner``."""

    g: int
    axis: int
    inner: int = 1


class _Deriver:
    FIXED = 0

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.parent: list[int] = [0]
        self.size: list[int | None] = [None]
        self.label: list[str] = ["fixed"]
        self.assign: dict[tuple[str, int], tuple[int, int]] = {}  # (tensor, axis) → (group, inner)
        self.notes: list[str] = []

    # union-find ------------------------------------------------------------------------------
    def new(self, size: int, label: str) -> int:
        self.parent.append(len(self.parent))
        self.size.append(size)
        self.label.append(label)
        return len(self.parent) - 1

    def find(self, g: int) -> int:
        while self.parent[g] != g:
            self.parent[g] = self.parent[self.parent[g]]
            g = self.parent[g]
        return g

    def union(self, a: int, b: int, where: str) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        if ra != self.FIXED and rb != self.FIXED and self.size[ra] != self.size[rb]:
            raise NotApplicableError(
                "model",
                f"{where}: tensors of widths {self.size[ra]} and {self.size[rb]} are combined along the same axis",
                "pass spec= explicitly",
            )
        keep, drop = (ra, rb) if ra == self.FIXED or (rb != self.FIXED and ra < rb) else (rb, ra)
        self.parent[drop] = keep
        return keep

    def fix(self, g: int, why: str) -> None:
        if self.find(g) != self.FIXED:
            self.notes.append(f"not permutable: {self.label[self.find(g)]} ({why})")
        self.union(g, self.FIXED, why)

    def set_axis(self, tensor: str, axis: int, g: int, inner: int, where: str) -> None:
        key = (tensor, axis)
        if key in self.assign:
            g0, in0 = self.assign[key]
            if in0 != inner:
                raise NotApplicableError(
                    "model", f"{where}: {tensor} axis {axis} is used with two block sizes", "pass spec= explicitly"
                )
            self.union(g0, g, where)
        else:
            self.assign[key] = (g, inner)


def _meta_shape(node) -> tuple[int, ...] | None:
    return node.meta.get("tl_shape") if hasattr(node, "meta") else None


def _pos(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


def derive_spec(
    model: nn.Module, example_input: Any, *, check: bool = True, seed: int = 0, tol: float | None = None
) -> PermutationSpec:
    """Derive the permutation spec of ``model`` from a ``torch.fx`` trace run on ``example_input``.

    With ``check=True`` the spec is certified on ``example_input``: a random permutation must leave the
    output unchanged to ``tol`` (relative; default 1e-5 in float32, 1e-10 in float64), otherwise
    :class:`~tamelab.errors.NotApplicableError` is raised (an operation was misread: pass ``spec=``).
    """
    import torch.fx

    try:
        graph = torch.fx.Tracer().trace(model)  # the graph only: no GraphModule code generation
    except Exception as e:  # noqa: BLE001 - fx raises many types for untraceable Python
        raise NotApplicableError(
            "model", f"cannot be traced by torch.fx ({type(e).__name__}: {str(e)[:120]})", "pass spec= explicitly"
        ) from None

    class _Shapes(torch.fx.Interpreter):
        def run_node(self, n):
            r = super().run_node(n)
            if isinstance(r, torch.Tensor):
                n.meta["tl_shape"] = tuple(r.shape)
            return r

    try:
        with torch.no_grad(), eval_mode(model):  # eval: BatchNorm statistics must not move
            _Shapes(model, graph=graph).run(example_input)
    except Exception as e:  # noqa: BLE001
        raise InputError(
            "example_input",
            f"the model does not run on it ({type(e).__name__}: {str(e)[:120]})",
            "pass example_input= (or data=) of the model's input shape",
        ) from None
    D = _Deriver(model)
    info: dict[Any, Any] = {}
    mods = dict(model.named_modules())
    params = dict(model.named_parameters())
    buffers = dict(model.named_buffers())

    def chan(a):
        return info.get(a) if isinstance(a, torch.fx.Node) else None

    def refuse(node, what):
        raise NotApplicableError(
            "model",
            f"{what} at {node.target if node.op != 'call_function' else node.name!r} "
            "is not supported by the automatic permutation spec",
            "pass spec= explicitly",
        )

    def combine(node, a, b):
        """Two tensors added/multiplied elementwise (broadcasting): their permuted axes must agree."""
        ca, cb = chan(a), chan(b)
        for c, other in ((ca, b), (cb, a)):
            if isinstance(c, _Chan) and isinstance(other, torch.fx.Node) and not isinstance(chan(other), _Chan):
                oshape = _meta_shape(other)
                if isinstance(chan(other), tuple) and chan(other)[0] == "param":  # a parameter in the stream
                    pname = chan(other)[1]
                    pr = params.get(pname, buffers.get(pname))
                    pax = pr.ndim + c.axis
                    if 0 <= pax < pr.ndim and pr.shape[pax] > 1:
                        D.set_axis(pname, pax, c.g, c.inner, node.name)
                elif oshape is not None and len(oshape) >= -c.axis and oshape[c.axis] > 1:
                    D.fix(c.g, f"added to an unpermuted tensor at {node.name}")
        if isinstance(ca, _Chan) and isinstance(cb, _Chan):
            if ca.axis != cb.axis or ca.inner != cb.inner:
                refuse(node, "combining tensors permuted along different axes")
            D.union(ca.g, cb.g, node.name)
            return ca
        return ca if isinstance(ca, _Chan) else cb if isinstance(cb, _Chan) else None

    def reshape_merge(node, x, out_shape):
        """Flatten-like reshapes: contiguous dims merged; the permuted axis must lead its merged range."""
        c = chan(x)
        if not isinstance(c, _Chan):
            return None
        in_shape = _meta_shape(x)
        if in_shape is None or out_shape is None:
            refuse(node, "reshape without shape information")
        rank = len(in_shape)
        pos = _pos(c.axis, rank)
        # find the merged range [s, e] containing pos: prefix and suffix of equal dims
        s = 0
        while s < min(len(in_shape), len(out_shape)) and in_shape[s] == out_shape[s] and s < pos:
            s += 1
        if s != pos:
            refuse(node, f"reshape {in_shape}→{out_shape} that splits or merges dims before the permuted axis")
        e = pos
        prod = in_shape[pos]
        while prod < out_shape[s] and e + 1 < rank:
            e += 1
            prod *= in_shape[e]
        while tuple(in_shape[e + 1 :]) != tuple(out_shape[s + 1 :]) and e + 1 < rank and in_shape[e + 1] == 1:
            e += 1  # trailing unit dims merge too (adaptive pooling to 1×1, then flatten)
        if prod != out_shape[s] or tuple(in_shape[e + 1 :]) != tuple(out_shape[s + 1 :]):
            refuse(node, f"reshape {in_shape}→{out_shape}")
        inner = c.inner * math.prod(in_shape[pos + 1 : e + 1])
        return _Chan(c.g, s - len(out_shape), inner)

    for node in graph.nodes:
        op, tgt = node.op, node.target
        args = node.args
        if op == "placeholder":
            info[node] = None  # the input's axes are not permutable
        elif op == "get_attr":
            info[node] = ("param", tgt)
        elif op == "output":

            def fix_all(o):
                if isinstance(o, torch.fx.Node) and isinstance(chan(o), _Chan):
                    D.fix(chan(o).g, "network output")
                elif isinstance(o, (tuple, list)):
                    for v in o:
                        fix_all(v)
                elif isinstance(o, dict):
                    for v in o.values():
                        fix_all(v)

            fix_all(args[0])
        elif op == "call_module":
            m = mods[tgt]
            x = args[0] if args else None
            cx = chan(x)
            xshape = _meta_shape(x) if isinstance(x, torch.fx.Node) else None
            if isinstance(m, nn.Linear):
                if isinstance(cx, _Chan):
                    if cx.axis != -1:
                        refuse(node, "Linear applied along a permuted non-feature axis")
                    D.set_axis(f"{tgt}.weight", 1, cx.g, cx.inner, tgt)
                g = D.new(m.out_features, tgt)
                D.set_axis(f"{tgt}.weight", 0, g, 1, tgt)
                if m.bias is not None:
                    D.set_axis(f"{tgt}.bias", 0, g, 1, tgt)
                info[node] = _Chan(g, -1)
            elif isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
                nd = {nn.Conv1d: 1, nn.Conv2d: 2, nn.Conv3d: 3}[type(m)]
                if isinstance(cx, _Chan) and (cx.axis != -(nd + 1) or cx.inner != 1):
                    refuse(node, "convolution over a permuted non-channel axis")
                if m.groups == 1:
                    if isinstance(cx, _Chan):
                        D.set_axis(f"{tgt}.weight", 1, cx.g, 1, tgt)
                    g = D.new(m.out_channels, tgt)
                elif m.groups == m.in_channels == m.out_channels:  # depthwise: channels keep their order
                    g = cx.g if isinstance(cx, _Chan) else D.new(m.out_channels, tgt)
                    if not isinstance(cx, _Chan):
                        D.fix(g, f"depthwise convolution of an unpermuted input at {tgt}")
                else:
                    refuse(node, f"grouped convolution (groups={m.groups})")
                D.set_axis(f"{tgt}.weight", 0, g, 1, tgt)
                if m.bias is not None:
                    D.set_axis(f"{tgt}.bias", 0, g, 1, tgt)
                info[node] = _Chan(g, -(nd + 1))
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                if isinstance(cx, _Chan):
                    rank = len(xshape)
                    if _pos(cx.axis, rank) != 1 or cx.inner != 1:
                        refuse(node, "BatchNorm over a permuted non-channel axis")
                    for nm in ("weight", "bias", "running_mean", "running_var"):
                        if getattr(m, nm, None) is not None:
                            D.set_axis(f"{tgt}.{nm}", 0, cx.g, 1, tgt)
                info[node] = cx
            elif isinstance(m, nn.LayerNorm):
                k = len(m.normalized_shape)
                if isinstance(cx, _Chan) and cx.axis >= -k:
                    for nm in ("weight", "bias"):
                        if getattr(m, nm, None) is not None:
                            D.set_axis(f"{tgt}.{nm}", k + cx.axis, cx.g, cx.inner, tgt)
                info[node] = cx
            elif isinstance(m, nn.GroupNorm):
                if isinstance(cx, _Chan):
                    if m.num_groups not in (1, m.num_channels):
                        refuse(node, f"GroupNorm with {m.num_groups} groups (channels may only move within a group)")
                    if _pos(cx.axis, len(xshape)) != 1:
                        refuse(node, "GroupNorm over a permuted non-channel axis")
                    if m.affine:
                        D.set_axis(f"{tgt}.weight", 0, cx.g, 1, tgt)
                        D.set_axis(f"{tgt}.bias", 0, cx.g, 1, tgt)
                info[node] = cx
            elif isinstance(m, nn.PReLU):
                if m.num_parameters > 1:
                    if isinstance(cx, _Chan):
                        D.set_axis(f"{tgt}.weight", 0, cx.g, cx.inner, tgt)
                info[node] = cx
            elif isinstance(m, _ELEMENTWISE_MODULES):
                info[node] = cx
            elif isinstance(m, _POOL_MODULES):
                nd = int(type(m).__name__[-2])
                if isinstance(cx, _Chan) and cx.axis >= -nd:
                    refuse(node, "pooling over the permuted axis")
                info[node] = cx
            elif isinstance(m, nn.Flatten):
                if isinstance(cx, _Chan):
                    info[node] = reshape_merge(node, x, _meta_shape(node))
                else:
                    info[node] = None
            elif isinstance(m, nn.Embedding):
                g = D.new(m.embedding_dim, tgt)
                D.set_axis(f"{tgt}.weight", 1, g, 1, tgt)
                info[node] = _Chan(g, -1)
            elif isinstance(m, nn.MultiheadAttention) or "Transformer" in type(m).__name__:
                refuse(node, f"{type(m).__name__} (attention heads are not supported)")
            else:
                has_params = any(True for _ in m.parameters())
                if isinstance(cx, _Chan) or has_params:
                    refuse(node, f"module {type(m).__name__}")
                info[node] = None
        elif op == "call_function":
            a0 = args[0] if args else None
            if tgt in _ADD_FUNCS or tgt in _MUL_FUNCS:
                b = args[1] if len(args) > 1 else node.kwargs.get("other")
                info[node] = combine(node, a0, b)
            elif tgt in _ELEMENTWISE_FUNCS:
                info[node] = chan(a0)
            elif tgt in _POOL_FUNCS:
                c = chan(a0)
                nd = int(tgt.__name__[-2])
                if isinstance(c, _Chan) and c.axis >= -nd:
                    refuse(node, "pooling over the permuted axis")
                info[node] = c
            elif tgt is torch.flatten:
                info[node] = reshape_merge(node, a0, _meta_shape(node)) if isinstance(chan(a0), _Chan) else None
            elif tgt is _F.linear:
                w = args[1] if len(args) > 1 else node.kwargs.get("weight")
                bb = args[2] if len(args) > 2 else node.kwargs.get("bias")
                if not (isinstance(chan(w), tuple) and chan(w)[0] == "param"):
                    refuse(node, "F.linear with a computed weight")
                wname = chan(w)[1]
                c = chan(a0)
                if isinstance(c, _Chan):
                    D.set_axis(wname, 1, c.g, c.inner, node.name)
                g = D.new(params[wname].shape[0], wname)
                D.set_axis(wname, 0, g, 1, node.name)
                if isinstance(chan(bb), tuple):
                    D.set_axis(chan(bb)[1], 0, g, 1, node.name)
                info[node] = _Chan(g, -1)
            elif tgt is _F.layer_norm:
                c = chan(a0)
                ns = args[1] if len(args) > 1 else node.kwargs.get("normalized_shape")
                k = len(ns) if isinstance(ns, (tuple, list)) else 1
                for wb in list(args[2:4]) + [node.kwargs.get("weight"), node.kwargs.get("bias")]:
                    if isinstance(c, _Chan) and c.axis >= -k and isinstance(chan(wb), tuple):
                        D.set_axis(chan(wb)[1], k + c.axis, c.g, c.inner, node.name)
                info[node] = c
            elif tgt in _REDUCE_FUNCS:
                info[node] = _reduce(node, a0, args[1:], node.kwargs, chan, refuse)
            elif tgt is getattr:
                info[node] = None
            elif tgt is operator.getitem:
                if isinstance(chan(a0), _Chan):
                    refuse(node, "indexing a permuted tensor")
                info[node] = None
            else:
                if any(isinstance(chan(a), (_Chan, tuple)) for a in node.all_input_nodes):
                    refuse(node, f"function {getattr(tgt, '__name__', tgt)}")
                info[node] = None
        elif op == "call_method":
            a0 = args[0]
            if tgt in _ELEMENTWISE_METHODS:
                info[node] = chan(a0)
            elif tgt in ("add", "sub", "mul", "div", "add_", "mul_", "sub_", "div_"):
                info[node] = combine(node, a0, args[1] if len(args) > 1 else node.kwargs.get("other"))
            elif tgt in ("flatten", "view", "reshape"):
                info[node] = reshape_merge(node, a0, _meta_shape(node)) if isinstance(chan(a0), _Chan) else None
            elif tgt in _REDUCE_METHODS:
                info[node] = _reduce(node, a0, args[1:], node.kwargs, chan, refuse)
            elif tgt in ("size", "dim", "numel"):
                info[node] = None
            elif tgt in ("transpose", "permute"):
                c = chan(a0)
                if isinstance(c, _Chan):
                    shp_in, shp_out = _meta_shape(a0), _meta_shape(node)
                    rank = len(shp_in)
                    pos = _pos(c.axis, rank)
                    if tgt == "transpose":
                        d0, d1 = (_pos(int(d), rank) for d in args[1:3])
                        order = list(range(rank))
                        order[d0], order[d1] = order[d1], order[d0]
                    else:
                        dims = args[1:] if not isinstance(args[1], (tuple, list)) else args[1]
                        order = [_pos(int(d), rank) for d in dims]
                    if c.inner != 1:
                        refuse(node, "transposing a block-permuted axis")
                    info[node] = _Chan(c.g, order.index(pos) - len(shp_out))
                else:
                    info[node] = None
            else:
                if any(isinstance(chan(a), (_Chan, tuple)) for a in node.all_input_nodes):
                    refuse(node, f"method .{tgt}()")
                info[node] = None
        else:  # pragma: no cover - fx has no other ops
            refuse(node, f"op {op}")

    # groups → permutations
    perms: dict[str, int] = {}
    names: dict[int, str] = {}
    for (_tensor, _axis), (g, _inner) in sorted(D.assign.items(), key=lambda kv: kv[1][0]):
        r = D.find(g)
        if r == D.FIXED or r in names:
            continue
        base = "P_" + D.label[r].replace(".", "_")
        nm = base
        i = 1
        while nm in perms:
            i += 1
            nm = f"{base}_{i}"
        names[r] = nm
        perms[nm] = D.size[r]
    axes: dict[str, list[Axis | None]] = {}
    state = _state(model)
    for (tensor, axis), (g, inner) in D.assign.items():
        r = D.find(g)
        if r == D.FIXED:
            continue
        if tensor not in state:
            continue
        ax = axes.setdefault(tensor, [None] * state[tensor].ndim)
        ax[axis] = Axis(names[r], inner)
    spec = PermutationSpec(perms, {k: tuple(v) for k, v in axes.items()}, D.notes)
    spec.validate(state)
    if check and perms:
        x = example_input
        dt = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
        t = tol if tol is not None else (1e-10 if dt == torch.float64 else 1e-5)
        change = check_spec(model, spec, x, seed=seed)
        if not change <= t:
            raise NotApplicableError(
                "model",
                f"the derived permutation spec changes the function (relative change "
                f"{change:.2e} > {t:.0e}): an operation was misread",
                "pass spec= explicitly",
            )
    return spec


def _reduce(node, a0, rest: Sequence, kwargs: Mapping, chan, refuse):
    c = chan(a0)
    if not isinstance(c, _Chan):
        return None
    shp_in, shp_out = _meta_shape(a0), _meta_shape(node)
    dim = rest[0] if rest else kwargs.get("dim")
    keep = rest[1] if len(rest) > 1 else kwargs.get("keepdim", False)
    rank = len(shp_in)
    if dim is None:
        return None  # a full reduction is invariant
    dims = [dim] if isinstance(dim, int) else list(dim)
    dims = sorted(_pos(int(d), rank) for d in dims)
    pos = _pos(c.axis, rank)
    if pos in dims:
        if c.inner != 1:
            refuse(node, "reducing part of a block-permuted axis")
        return None  # summing over the permuted axis is invariant
    if keep:
        return c
    new_pos = pos - sum(1 for d in dims if d < pos)
    return _Chan(c.g, new_pos - len(shp_out), c.inner)
