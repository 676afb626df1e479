r"""Interval bounds of fx nodes, as functions of *all* inputs (data and parameters):

enough to prove that the input of ``sin``/``cos`` lies in a bounded interval, which makes it restricted-analytic.

Every node gets an interval ``(lo, hi)`` with ``lo, hi`` in the extended reals; ``(-inf, inf)`` means "no bound
known". Inputs and parameters are unbounded (the certificate is about the function of (θ, x) on its whole domain);
numeric literals are points. Rules, each sound (the true range is contained in the interval):

* ops with a bounded range (``tanh``, ``sigmoid``, ``softmax``, ``hardtanh``, ``atan``, ``erf``, ``sin`` ...): the
  range from the op table (:attr:`~tamelab.tame.certificates._structures.OpFact.out_bounds`), or the module's bounds;
* monotone maps of an interval (``relu``, ``relu6``, ``leaky_relu``, ``exp``, ``log``, ``sqrt``), ``abs``, ``neg``,
  ``square`` and integer ``pow``; ``clamp``/``clip`` with numeric bounds intersects;
* interval arithmetic for ``add``/``sub``/``mul``/``div`` (scalars or nodes);
* **binary** ``max``/``min``/``maximum``/``minimum``/``fmax``/``fmin``: ``[max(a, c), max(b, d)]`` (resp. min) —
  both arguments count; reductions (``max``, ``amax``, ``mean``, ...) keep the input's interval; ``cat``/``stack``/
  ``where``: the hull; ``sum`` is unbounded unless the input is {0}; shape and copy ops keep the interval;
  ``dropout`` in training mode scales by 1/(1 − p) and adds 0;
* linear maps with parameters (``linear``, ``conv``, ``matmul`` ...) and every other op: unbounded.

**In-place ops** (``x.add_(y)``, ``x += y``, ``x[i] = y``, ``relu_``, ``inplace=True``) change the value of an
*earlier* node: the mutated node gets the result's interval, and every alias of it (views: ``view``, ``reshape``,
``getitem``, ``transpose`` ...) the union of its old interval and the result's, so later users see the mutation.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import torch
from torch import nn

__all__ = ["Interval", "UNBOUNDED", "Intervals", "is_bounded", "interval_of", "in_place_target"]

Interval = tuple[float, float]
UNBOUNDED: Interval = (-math.inf, math.inf)
_INF = math.inf

#: ops whose output is a view of (or the same values as) their first argument
VIEW_OPS = frozenset(
    {
        "view",
        "reshape",
        "flatten",
        "unflatten",
        "permute",
        "transpose",
        "t",
        "contiguous",
        "getitem",
        "squeeze",
        "unsqueeze",
        "expand",
        "expand_as",
        "select",
        "slice",
        "narrow",
        "_unsafe_view",
        "alias",
        "detach",
        "view_as",
        "reshape_as",
        "movedim",
        "chunk",
        "split",
        "unbind",
        "as_strided",
        "identity",
        "to",
        "float",
        "double",
        "half",
        "type_as",
        "clone",
        "_to_copy",
        "lift_fresh_copy",
        "repeat",
        "flip",
        "roll",
        "gather",
        "index_select",
        "diag",
    }
)
#: reductions and selections whose output lies in the input's interval
_HULL_OF_INPUT = frozenset(
    {
        "mean",
        "mean_dim",
        "amax",
        "amin",
        "median",
        "kthvalue",
        "sort",
        "topk",
        "max_pool1d",
        "max_pool2d",
        "max_pool3d",
        "adaptive_max_pool1d",
        "adaptive_max_pool2d",
        "avg_pool1d",
        "avg_pool2d",
        "avg_pool3d",
        "adaptive_avg_pool1d",
        "adaptive_avg_pool2d",
        "adaptive_avg_pool3d",
        "max_pool2d_with_indices",
    }
)
_IN_PLACE_OPERATORS = {
    operator.iadd: "add",
    operator.isub: "sub",
    operator.imul: "mul",
    operator.itruediv: "truediv",
    operator.ipow: "pow",
}


def is_bounded(iv: Interval | None) -> bool:
    return iv is not None and math.isfinite(iv[0]) and math.isfinite(iv[1])


def _hull(*ivs: Interval) -> Interval:
    return (min(iv[0] for iv in ivs), max(iv[1] for iv in ivs))


def _num(v) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v)


def interval_of(v: Any, bounds: dict) -> Interval:
    """The interval of an fx argument: a node's, a number's point interval, else unbounded."""
    from torch.fx import Node

    if isinstance(v, Node):
        return bounds.get(v, UNBOUNDED)
    x = _num(v)
    if x is not None and math.isfinite(x):
        return (x, x)
    return UNBOUNDED


def _mul(a: Interval, b: Interval) -> Interval:
    p = [x * y for x in a for y in b if not ((x == 0 and math.isinf(y)) or (y == 0 and math.isinf(x)))]
    if len(p) < 4:  # 0 * inf: the product can be anything between the finite products and 0
        p += [0.0]
        if any(math.isinf(x) for x in a + b):
            return UNBOUNDED
    return (min(p), max(p))


def _div(a: Interval, b: Interval) -> Interval:
    if b[0] <= 0 <= b[1]:
        return UNBOUNDED
    return _mul(a, (1.0 / b[1], 1.0 / b[0]))


def _pow(a: Interval, e) -> Interval:
    e = _num(e)
    if e is None or not float(e).is_integer() or e < 0:
        return UNBOUNDED if not (e is not None and e > 0 and a[0] >= 0) else (a[0] ** e, a[1] ** e)
    e = int(e)
    if e == 0:
        return (1.0, 1.0)
    vals = [a[0] ** e, a[1] ** e]
    if e % 2 == 0:
        lo = 0.0 if a[0] <= 0 <= a[1] else min(vals)
        return (lo, max(vals))
    return (vals[0], vals[1])


def _monotone(fn, a: Interval) -> Interval:
    def f(x):
        try:
            return fn(x)
        except (OverflowError, ValueError):
            return _INF if x > 0 else -_INF

    return (f(a[0]), f(a[1]))


def _arith(name: str, ivs: list[Interval]) -> Interval | None:
    if len(ivs) < 2:
        return None
    (a, b), (c, d) = ivs[0], ivs[1]
    if name == "add":
        return (a + c, b + d)
    if name == "sub":
        return (a - d, b - c)
    if name == "rsub":
        return (c - b, d - a)
    if name == "mul":
        return _mul(ivs[0], ivs[1])
    if name in ("truediv", "div", "true_divide"):
        return _div(ivs[0], ivs[1])
    if name in ("max", "maximum", "fmax"):
        return (max(a, c), max(b, d))
    if name in ("min", "minimum", "fmin"):
        return (min(a, c), min(b, d))
    return None


def _elementwise(name: str, x: Interval, node, mod) -> Interval | None:
    lo, hi = x
    if name in ("relu", "relu_"):
        return (max(lo, 0.0), max(hi, 0.0))
    if name == "relu6":
        return (min(max(lo, 0.0), 6.0), min(max(hi, 0.0), 6.0))
    if name == "leaky_relu":
        s = (
            getattr(mod, "negative_slope", None)
            if mod is not None
            else _num(node.args[1] if len(node.args) > 1 else node.kwargs.get("negative_slope", 0.01))
        )
        if s is None or not 0 <= s <= 1:
            return UNBOUNDED
        return (lo if lo >= 0 else s * lo, hi if hi >= 0 else s * hi)
    if name == "abs":
        return (0.0 if lo <= 0 <= hi else min(abs(lo), abs(hi)), max(abs(lo), abs(hi)))
    if name == "neg":
        return (-hi, -lo)
    if name == "square":
        return _pow(x, 2)
    if name == "exp":
        return _monotone(math.exp, x)
    if name == "log" and lo > 0:
        return _monotone(math.log, x)
    if name == "sqrt":
        return (math.sqrt(max(lo, 0.0)), math.sqrt(hi) if hi >= 0 else 0.0)
    return None


class Intervals:
    """The interval table of one traced program, with in-place mutations and aliases."""

    def __init__(self) -> None:
        self.bounds: dict = {}
        self._alias: dict = {}  # node -> representative of its alias group
        self._members: dict = {}  # representative -> list of nodes

    def get(self, v) -> Interval:
        return interval_of(v, self.bounds)

    def _root(self, n):
        while self._alias.get(n, n) is not n:
            n = self._alias[n]
        return n

    def _link(self, view, base) -> None:
        rb = self._root(base)
        self._alias[view] = rb
        self._members.setdefault(rb, [rb]).append(view)

    def add(self, name: str, node, fact, mod: nn.Module | None) -> Interval:
        """The interval of ``node`` (canonical op ``name``); records it, and applies an in-place mutation."""
        from torch.fx import Node

        iv = _propagate(name, node, fact, self.bounds, mod)
        self.bounds[node] = iv
        first = node.args[0] if node.args else None
        if name in VIEW_OPS and isinstance(first, Node):
            self._link(node, first)
        target = in_place_target(node, mod)
        if isinstance(target, Node):
            new = self.get(node.args[2]) if node.target is operator.setitem else iv
            self._mutate(target, new, whole=node.target is not operator.setitem)
            self._link(node, target)
        return iv

    def _mutate(self, target, new: Interval, *, whole: bool) -> None:
        root = self._root(target)
        for n in self._members.get(root, [root]):
            self.bounds[n] = _hull(self.bounds.get(n, UNBOUNDED), new)
        if whole:
            self.bounds[target] = new


def in_place_target(node, mod: nn.Module | None = None):
    """The node an in-place op mutates (its first argument), or ``None`` for an out-of-place op."""
    first = node.args[0] if node.args else None
    t = node.target
    if node.op == "call_method":
        name = str(t)
        return first if name.endswith("_") and not name.startswith("_") else None
    if node.op == "call_module":
        return first if getattr(mod, "inplace", False) else None
    if t in _IN_PLACE_OPERATORS or t is operator.setitem:
        return first
    if node.kwargs.get("inplace") is True:
        return first
    name = getattr(t, "__name__", "")
    if isinstance(t, torch._ops.OpOverload):
        name = t._schema.name.split("::")[-1]
    return first if name.endswith("_") and not name.startswith("_") else None


def _propagate(name: str, node, fact, bounds: dict, mod: nn.Module | None) -> Interval:
    args = list(node.args)
    if mod is not None and isinstance(mod, nn.Hardtanh):
        return (float(mod.min_val), float(mod.max_val))
    if name == "hardtanh":  # the functional form's own bounds, not the default [-1, 1] of the op table
        lo = _num(args[1] if len(args) > 1 else node.kwargs.get("min_val", -1.0))
        hi = _num(args[2] if len(args) > 2 else node.kwargs.get("max_val", 1.0))
        return (lo, hi) if lo is not None and hi is not None else UNBOUNDED
    if fact is not None and fact.out_bounds is not None:
        return fact.out_bounds
    if name == "copy" and len(args) > 1:
        return interval_of(args[1], bounds)
    if name == "fill" and len(args) > 1:
        return interval_of(args[1], bounds)
    if name == "zero":
        return (0.0, 0.0)
    if name == "masked_fill" and len(args) > 2:
        return _hull(interval_of(args[0], bounds), interval_of(args[2], bounds))
    if name in ("cat", "stack", "concat") and args and isinstance(args[0], (list, tuple)):
        return _hull(*[interval_of(a, bounds) for a in args[0]]) if args[0] else UNBOUNDED
    x = interval_of(args[0], bounds) if args else UNBOUNDED
    if name == "where" and len(args) >= 3:
        return _hull(interval_of(args[1], bounds), interval_of(args[2], bounds))
    if name in ("clamp", "clip", "clamp_min", "clamp_max"):
        lo = _num(args[1] if len(args) > 1 else node.kwargs.get("min")) if name != "clamp_max" else None
        hi = _num(args[2] if len(args) > 2 else node.kwargs.get("max")) if name == "clamp" or name == "clip" else None
        if name == "clamp_max":
            hi = _num(args[1] if len(args) > 1 else node.kwargs.get("max"))
        return (max(x[0], lo) if lo is not None else x[0], min(x[1], hi) if hi is not None else x[1])
    if name == "dropout":
        p = (
            getattr(mod, "p", None)
            if mod is not None
            else _num(args[1] if len(args) > 1 else node.kwargs.get("p", 0.5))
        )
        training = getattr(mod, "training", True) if mod is not None else True
        if not training:
            return x
        if p is None or p >= 1:
            return UNBOUNDED
        return _hull(_mul(x, (1 / (1 - p), 1 / (1 - p))), (0.0, 0.0))
    if name in ("max", "min", "maximum", "minimum", "fmax", "fmin") and len(args) >= 2 and not isinstance(args[1], int):
        return _arith(name, [x, interval_of(args[1], bounds)]) or UNBOUNDED
    if name in VIEW_OPS or name in _HULL_OF_INPUT or name in ("max", "min"):
        return x
    if name == "sum":
        return (0.0, 0.0) if x == (0.0, 0.0) else UNBOUNDED
    if name in ("pow", "float_power"):
        return _pow(x, args[1] if len(args) > 1 else node.kwargs.get("exponent"))
    ivs = [interval_of(a, bounds) for a in args[:2]]
    out = _arith(name, ivs)
    if out is None:
        out = _elementwise(name, x, node, mod)
    return out if out is not None else UNBOUNDED
