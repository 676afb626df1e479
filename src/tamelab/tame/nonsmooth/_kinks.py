r"""Kinks of a traced program: count the evaluations at which it is not differentiable in its variables.

A gradient-sampling certificate is sound only if every sampled gradient is a gradient: at a point where an
op of the program sits on its kink (``relu`` at 0, ``max(a, b)`` with ``a == b``, ``clamp`` at a bound, a tie
inside a max-pool window, ...), backprop returns an element of a conservative field that need not be a Clarke
subgradient of the function (Bolte & Pauwels, arXiv:1909.10300). :func:`kink_counted` traces a module or a
function with ``torch.fx`` and returns a callable that evaluates the program with an fx
:class:`~torch.fx.Interpreter` and also returns the number of kink hits, as a tensor (it works under
``torch.func.vmap`` / ``grad``).

**A kink is in the variables, not in the values.** A tie is only a kink if the tied quantities move differently
with the variables θ (the parameters of a model called on data; the inputs of a function ``f(θ)``). Let
:math:`\phi` be Lipschitz and piecewise :math:`C^1` (``relu``, ``max``, ``clamp``, a max-pool window, ...) applied
to :math:`C^1` quantities :math:`a_i(\theta)` that sit on one of its kinks at θ₀. If the tied quantities have equal
gradients at θ₀ (e.g. a window of ReLU outputs that are all off, or a ReLU input exactly 0 whose gradient is 0),
then :math:`a_i(\theta)=a(\theta)+o(\|\theta-\theta_0\|)` for all of them, so :math:`\phi(a(\theta))` is
differentiable at θ₀ and AD (which follows one of the pieces) returns its gradient. If two gradients differ, the
program is (generically) not differentiable there. The counter therefore evaluates the program under
forward-mode AD (``torch.func.jvp``) along a fixed pseudo-random direction :math:`d` of θ
(:data:`tamelab._numerics.KINK_DIRECTION_SEED`) and counts a tie only where the tangents
:math:`\nabla a_i\cdot d` of the tied quantities differ: equal gradients give equal tangents; unequal gradients
give unequal tangents for every :math:`d` off a hyperplane, i.e. with probability 1. The rule errs on the safe side
only (tangents of equal gradients that differ by rounding count as a kink).

Rules (the inputs of every nonsmooth op are inspected; the canonical op names are those of the tameness
certificate, :func:`tamelab.tame.certificates._trace.canonical`):

* Lipschitz, piecewise C¹ (tangent test): ``relu``, ``leaky_relu``, ``prelu``, ``rrelu``, ``abs``,
  ``elu``/``celu``/``selu``: input == 0 with a nonzero tangent; ``relu6``: input ∈ {0, 6}; ``hardtanh``: input ∈
  {min_val, max_val}; ``hardsigmoid``/``hardswish``: ±3; ``clamp``/``clip``/``clamp_min``/``clamp_max``: input
  equal to a bound with a different tangent; binary ``max``/``min``/``maximum``/``minimum``/``fmax``/``fmin``:
  equal arguments with different tangents; reductions ``max``/``min``/``amax``/``amin`` (whole tensor or along
  ``dim``) and ``max_pool1d``/``max_pool2d`` windows (``ceil_mode=False``): an extremum attained twice by entries
  with different tangents; ``l1_loss``: prediction == target with a different tangent;
* jumps and non-Lipschitz points (counted whatever the tangents): ``sign``, ``heaviside``, ``sqrt`` at 0,
  ``threshold`` at its threshold, comparisons (``gt``, ``eq``, ...) at equality, ties of ``sort``/``topk``/
  ``kthvalue``/``median``, a norm of a zero vector.

An op that is nonsmooth (or unknown to the certificate's op table) and has no rule here makes the program
*unchecked*: :func:`kink_counted` then returns ``None`` with the reason, and certificates built on the program
say so instead of assuming differentiability.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.utils._pytree import tree_flatten, tree_map, tree_unflatten

__all__ = ["kink_counted", "KinkCounted", "NONSMOOTH", "Recorder", "direction_like"]

_ZERO = torch.zeros((), dtype=torch.int64)


def _count(mask: torch.Tensor) -> torch.Tensor:
    return mask.sum().to(torch.int64)


def _first(args, kwargs, key="input"):
    return args[0] if args else kwargs.get(key)


def _arg(args, kwargs, i: int, key: str, default=None):
    return args[i] if len(args) > i else kwargs.get(key, default)


def _tan(t) -> Any:
    """A tangent, with ``0`` for a constant (``None``)."""
    return 0.0 if t is None else t


def _moves(dx, dv) -> torch.Tensor | bool:
    """Where two tangents differ (``None``: the tangent of a constant, 0)."""
    return _tan(dx) != _tan(dv)


def _at(x, dx, *values, dvalues=None) -> torch.Tensor:
    """Entries of ``x`` equal to one of ``values`` where the tangent of ``x`` differs from the value's."""
    out = _ZERO
    dvalues = dvalues or (None,) * len(values)
    for v, dv in zip(values, dvalues):
        if v is not None:
            out = out + _count((x == v) & _moves(dx, dv))
    return out


def _tied_moving(t: torch.Tensor, du, dim) -> torch.Tensor:
    """Along ``dim`` of the tie mask ``t``: whether the tangents ``du`` of the tied entries are not all equal."""
    if not isinstance(du, torch.Tensor):
        return torch.zeros_like(t.any(dim))
    du = du.expand(t.shape)
    inf = torch.full((), float("inf"), dtype=du.dtype)
    hi = torch.where(t, du, -inf).amax(dim)
    lo = torch.where(t, du, inf).amin(dim)
    return hi != lo


def _extremum_ties(which: str, a, k, ta, tk) -> torch.Tensor:
    x, dx = _first(a, k), _first(ta, tk)
    other = _arg(a, k, 1, "other")
    if isinstance(other, torch.Tensor):  # binary max(a, b): a kink where a == b with different tangents
        return _at(x, dx, other, dvalues=(_arg(ta, tk, 1, "other"),))
    dim = other if isinstance(other, int) else k.get("dim")
    red = torch.amax if which == "max" else torch.amin
    if dim is None:
        t = (x == red(x)).reshape(-1)
        du = dx.reshape(-1) if isinstance(dx, torch.Tensor) else dx
        return ((t.sum() > 1) & _tied_moving(t, du, 0)).to(torch.int64)
    t = x == red(x, dim=dim, keepdim=True)
    return _count((t.sum(dim) > 1) & _tied_moving(t, dx, dim))


def _pool_geometry(args, kwargs, mod: nn.Module | None, dims: int):
    """``(kernel, stride, padding, dilation)`` as pairs of a max-pool (1-d pools as 1×k), or ``None`` (ceil mode)."""

    def get(i, key, default):
        if mod is not None:
            return getattr(mod, key, default)
        return _arg(args, kwargs, i, key, default)

    k, stride, pad, dil = (
        get(1, "kernel_size", None),
        get(2, "stride", None),
        get(3, "padding", 0),
        get(4, "dilation", 1),
    )
    if k is None or get(5, "ceil_mode", False):
        return None

    def tup(v):
        return (v,) * dims if isinstance(v, int) else tuple(v)

    k, pad, dil = tup(k), tup(pad), tup(dil)
    stride = k if stride is None or stride == [] or stride == () else tup(stride)
    if dims == 1:
        k, pad, dil, stride = (1, *k), (0, *pad), (1, *dil), (1, *stride)
    return k, stride, pad, dil


def _windows(x: torch.Tensor, geo, dims: int, fill: float) -> torch.Tensor:
    """The pooling windows of ``x`` as ``(B, window size, L)`` (padding filled with ``fill``)."""
    k, stride, pad, dil = geo
    if dims == 1:
        x = x.unsqueeze(-2)
    x4 = x.reshape(-1, 1, *x.shape[-2:])
    x4 = nn.functional.pad(x4, (pad[1], pad[1], pad[0], pad[0]), value=fill)
    return nn.functional.unfold(x4, kernel_size=k, dilation=dil, stride=stride)


def _pool(a, k, mod, dims: int, ta, tk) -> torch.Tensor | None:
    """Windows of a max-pool whose maximum is attained twice by entries with different tangents."""
    geo = _pool_geometry(a, k, mod, dims)
    if geo is None:
        return None
    x, dx = _first(a, k), _first(ta, tk)
    u = _windows(x, geo, dims, float("-inf"))
    tied = u == u.amax(1, keepdim=True)
    du = _windows(dx, geo, dims, 0.0) if isinstance(dx, torch.Tensor) else None
    return _count((tied.sum(1) > 1) & _tied_moving(tied, du, 1))


def _module_attr(mod, name, default=None):
    return getattr(mod, name, default) if mod is not None else default


def _bounds(name: str, args, kwargs, mod) -> tuple[Any, Any]:
    """The bounds ``(lo, hi)`` at which a clipping op has its kinks (``None``: none on that side)."""
    if name == "relu":
        return 0.0, None
    if name == "relu6":
        return 0.0, 6.0
    if name == "hardtanh":
        return (
            _module_attr(mod, "min_val", _arg(args, kwargs, 1, "min_val", -1.0)),
            _module_attr(mod, "max_val", _arg(args, kwargs, 2, "max_val", 1.0)),
        )
    if name in ("clamp", "clip"):
        return _arg(args, kwargs, 1, "min"), _arg(args, kwargs, 2, "max")
    if name == "clamp_min":
        return _arg(args, kwargs, 1, "min"), None
    if name == "clamp_max":
        return None, _arg(args, kwargs, 1, "max")
    raise KeyError(name)


def _clip_rule(name: str):
    def rule(a, k, m, ta, tk):
        lo, hi = _bounds(name, a, k, m)
        tlo, thi = _bounds(name, ta, tk, None) if name in ("clamp", "clip", "clamp_min", "clamp_max") else (None, None)
        return _at(_first(a, k), _first(ta, tk), lo, hi, dvalues=(tlo, thi))

    return rule


def _lipschitz_at(*values):
    def rule(a, k, m, ta, tk):
        return _at(_first(a, k), _first(ta, tk), *values)

    return rule


def _jump_at(*values):
    def rule(a, k, m, ta, tk):
        return _at(_first(a, k), 1.0, *values)  # a jump or an infinite slope: counted whatever the tangent

    return rule


def _sorted_ties(a, k, m, ta, tk):
    x = _first(a, k)
    dim = _arg(a, k, 1, "dim", None)
    if not isinstance(dim, int):
        x, dim = x.reshape(-1), 0
    return _count(torch.sort(x, dim=dim).values.diff(dim=dim) == 0)


def _norm_zero(a, k, m, ta, tk):
    x = _first(a, k)
    dim = _arg(a, k, 2, "dim", None)
    if dim is None:
        return (x == 0).all().to(torch.int64)
    return _count((x == 0).all(dim=dim if isinstance(dim, int) else tuple(dim)))


def _compare(a, k, m, ta, tk):
    return _count(_first(a, k) == _arg(a, k, 1, "other"))


def _threshold(a, k, m, ta, tk):
    return _at(_first(a, k), 1.0, _module_attr(m, "threshold", _arg(a, k, 1, "threshold")))


_RULES: dict[str, Callable[..., torch.Tensor | None]] = {
    **{n: _lipschitz_at(0.0) for n in ("leaky_relu", "prelu", "rrelu_eval", "abs", "elu", "celu", "selu")},
    **{n: _jump_at(0.0) for n in ("sign", "heaviside", "sqrt")},
    **{n: _clip_rule(n) for n in ("relu", "relu6", "hardtanh", "clamp", "clip", "clamp_min", "clamp_max")},
    "threshold": _threshold,
    "hardsigmoid": _lipschitz_at(-3.0, 3.0),
    "hardswish": _lipschitz_at(-3.0, 3.0),
    "max": lambda a, k, m, ta, tk: _extremum_ties("max", a, k, ta, tk),
    "amax": lambda a, k, m, ta, tk: _extremum_ties("max", a, k, ta, tk),
    "min": lambda a, k, m, ta, tk: _extremum_ties("min", a, k, ta, tk),
    "amin": lambda a, k, m, ta, tk: _extremum_ties("min", a, k, ta, tk),
    **{
        n: (
            lambda a, k, m, ta, tk: _at(
                _first(a, k), _first(ta, tk), _arg(a, k, 1, "other"), dvalues=(_arg(ta, tk, 1, "other"),)
            )
        )
        for n in ("maximum", "minimum", "fmax", "fmin")
    },
    **{n: _compare for n in ("gt", "ge", "lt", "le", "eq", "ne")},
    "max_pool1d": lambda a, k, m, ta, tk: _pool(a, k, m, 1, ta, tk),
    "max_pool2d": lambda a, k, m, ta, tk: _pool(a, k, m, 2, ta, tk),
    **{n: _sorted_ties for n in ("sort", "topk", "kthvalue", "median")},
    **{n: _norm_zero for n in ("norm", "vector_norm", "linalg_vector_norm")},
    "l1_loss": lambda a, k, m, ta, tk: _at(
        _first(a, k), _first(ta, tk), _arg(a, k, 1, "target"), dvalues=(_arg(ta, tk, 1, "target"),)
    ),
}

#: ops that are not C¹ somewhere (kinks, jumps, ties); those without a rule make a program unchecked.
NONSMOOTH = frozenset(_RULES) | {
    "max_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "max_pool2d_with_indices",
    "hinge",
    "relu_attention",
    "floor",
    "ceil",
    "round",
    "trunc",
    "frac",
    "fmod",
    "remainder",
    "floor_divide",
    "quantize",
    "hinge_embedding_loss",
    "margin_ranking_loss",
    "multi_margin_loss",
    "step",
    "where_mask",
    "rsqrt",
    "frobenius_norm",
    "cdist",
    "normalize",
}


# ------------------------------------------------------------------------------------------ recording + counting


def direction_like(x: torch.Tensor) -> torch.Tensor:
    """The fixed pseudo-random tangent direction for a variable shaped like ``x``.

    NumPy draws (so it is usable under ``torch.func.vmap``), seed :data:`tamelab._numerics.KINK_DIRECTION_SEED`.
    """
    from ..._numerics import KINK_DIRECTION_SEED

    d = np.random.default_rng([KINK_DIRECTION_SEED, x.numel()]).standard_normal(tuple(x.shape))
    return torch.as_tensor(d, dtype=x.dtype, device=x.device)


class Recorder:
    """The inputs of the nonsmooth ops met during one evaluation, to be counted once their tangents are known.

    The interpreter calls :meth:`add` at each ruled node; :meth:`outputs` gives the floating-point tensors to return
    from the function under ``torch.func.jvp`` (their tangents come back), :meth:`aux` the other tensors, and
    :meth:`count` applies the rules to values and tangents.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, Any, list]] = []
        self.floats: list[torch.Tensor] = []
        self.others: list[torch.Tensor] = []

    def add(self, name: str, mod, args, kwargs) -> None:
        leaves, spec = tree_flatten((args, kwargs))
        where = []
        for v in leaves:
            if isinstance(v, torch.Tensor) and v.is_floating_point():
                where.append(("f", len(self.floats)))
                self.floats.append(v)
            elif isinstance(v, torch.Tensor):
                where.append(("t", len(self.others)))
                self.others.append(v)
            else:
                where.append(("v", v))
        self.calls.append((name, mod, spec, where))

    def outputs(self) -> tuple[torch.Tensor, ...]:
        return tuple(self.floats)

    def aux(self) -> list[torch.Tensor]:
        return list(self.others)

    def count(self, values, tangents, others) -> torch.Tensor:
        total = _ZERO
        for name, mod, spec, where in self.calls:
            vals = [values[i] if kind == "f" else others[i] if kind == "t" else i for kind, i in where]
            tans = [tangents[i] if kind == "f" else None for kind, i in where]
            a, k = tree_unflatten(vals, spec)
            ta, tk = tree_unflatten(tans, spec)
            c = _RULES[name](a, k, mod, ta, tk)
            if c is not None:
                total = total + c
        return total


def counted_jvp(fn: Callable, primals: tuple, recorder: Recorder) -> tuple[Any, torch.Tensor]:
    """``(fn(*primals), kink hits)`` of ``fn`` evaluated under forward-mode AD.

    ``fn`` runs under ``torch.func.jvp`` along :func:`direction_like` of each primal, recording into ``recorder``; the
    rules are then applied to the recorded values and tangents. If the program has an op without forward-mode AD,
    the tangents are unknown and every tie counts (the conservative rule).
    """
    from torch.func import jvp

    def g(*xs):
        recorder.__init__()
        out = fn(*xs)
        return (out, *recorder.outputs()), recorder.aux()

    tangents = tuple(direction_like(p) for p in primals)
    try:
        outs, touts, aux = jvp(g, primals, tangents, has_aux=True)
    except Exception:  # noqa: BLE001 - an op without forward-mode AD (e.g. a custom autograd.Function without jvp)
        return counted_screen(fn, primals, recorder)
    return outs[0], recorder.count(outs[1:], touts[1:], aux)


def counted_screen(fn: Callable, primals: tuple, recorder: Recorder) -> tuple[Any, torch.Tensor]:
    """``(fn(*primals), tie count)`` without tangents: every tie counts.

    An upper bound of :func:`counted_jvp`'s count (a zero proves there is no kink), from a plain evaluation.
    """
    recorder.__init__()
    out = fn(*primals)
    vals = list(recorder.outputs())
    # unknown tangents (NaN differs from everything): every tie counts, as if the tied quantities moved apart
    return out, recorder.count(vals, [torch.full_like(v, float("nan")) for v in vals], recorder.aux())


class KinkCounted(nn.Module):
    """``forward(*args) -> (output, kink hits)``: a traced program run by a counting fx interpreter.

    The variables are the inputs (``constant_inputs=False``: a function ``f(θ)``) or the parameters of the traced
    module (``constant_inputs=True``: a model called on data). Inside :meth:`recording` the forward only records
    (returns ``(output, 0)``); :func:`counted_jvp` then counts with a caller-chosen variable (e.g. a flat θ).
    """

    def __init__(
        self, gm: torch.fx.GraphModule, rules: dict[str, tuple[str, nn.Module | None]], constant_inputs: bool = False
    ) -> None:
        super().__init__()
        self.gm = gm
        self._rules = rules
        self.constant_inputs = constant_inputs
        self._recorder: Recorder | None = None

    def run(self, *args) -> Any:
        return _CountingInterpreter(self.gm, self._rules, self._recorder).run(*args)

    def forward(self, *args):
        if self._recorder is not None:
            return self.run(*args), _ZERO
        rec = Recorder()
        self._recorder = rec
        try:
            if not self.constant_inputs:
                idx = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor) and a.is_floating_point()]

                def fn(*xs):
                    full = list(args)
                    for i, x in zip(idx, xs):
                        full[i] = x
                    return self.run(*full)

                return counted_jvp(fn, tuple(args[i] for i in idx), rec)
            from torch.func import functional_call

            names = [n for n, _ in self.gm.named_parameters()]
            params = tuple(p for _, p in self.gm.named_parameters())

            def fp(*ps):
                return functional_call(self, {f"gm.{n}": p for n, p in zip(names, ps)}, args)[0]

            return counted_jvp(fp, params, rec)
        finally:
            self._recorder = None

    def recording(self, recorder: Recorder):
        """Context: record into ``recorder`` instead of counting (see :func:`counted_jvp`)."""
        import contextlib

        @contextlib.contextmanager
        def ctx():
            old, self._recorder = self._recorder, recorder
            try:
                yield self
            finally:
                self._recorder = old

        return ctx()


class _CountingInterpreter(torch.fx.Interpreter):
    def __init__(
        self, gm: torch.fx.GraphModule, rules: dict[str, tuple[str, nn.Module | None]], recorder: Recorder | None
    ) -> None:
        super().__init__(gm)
        self.rules = rules
        self.recorder = recorder

    def run_node(self, n: torch.fx.Node) -> Any:
        rule = self.rules.get(n.name)
        if rule is not None and self.recorder is not None:
            # read the inputs BEFORE the node runs: an in-place op (ReLU(inplace=True)) overwrites them
            args, kwargs = self.fetch_args_kwargs_from_env(n)
            if _in_place(n, rule[1], kwargs):
                args, kwargs = tree_map(lambda v: v.clone() if isinstance(v, torch.Tensor) else v, (args, kwargs))
            self.recorder.add(rule[0], rule[1], args, kwargs)
        return super().run_node(n)


def kink_counted(program: nn.Module | Callable, *, constant_inputs: bool = False) -> tuple[KinkCounted | None, str]:
    """Trace ``program`` (a module or a function of tensors) and return ``(counting program, "")``.

    ``constant_inputs``: the program's inputs are data, constant in the parameters (a model called on a batch); the
    variable is then the module's parameters. Otherwise the inputs are the variables (a function ``f(θ)``).

    Returns ``(None, reason)`` when fx cannot trace it, or when it contains a nonsmooth op without a kink rule or
    an op unknown to the tameness certificate's table (then kinks cannot be checked; nothing is assumed).
    """
    from ..certificates._structures import op_fact
    from ..certificates._trace import LeafTracer, canonical

    try:
        tracer = LeafTracer()
        graph = tracer.trace(program)
        gm = torch.fx.GraphModule(tracer.root, graph)
    except Exception as e:  # noqa: BLE001 - any tracer failure: kinks not checkable
        return (
            None,
            f"torch.fx could not trace the program ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})",
        )
    modules = dict(gm.named_modules())
    rules: dict[str, tuple[str, nn.Module | None]] = {}
    for node in gm.graph.nodes:
        if node.op in ("placeholder", "output", "get_attr"):
            continue
        name, target = canonical(node, modules)
        mod = modules.get(node.target) if node.op == "call_module" else None
        if name in NONSMOOTH:
            if not _has_rule(name, mod, node):
                return None, f"op {target!r} ({name}) is nonsmooth and has no kink rule: kinks cannot be checked"
            rules[node.name] = (name, mod)
        elif op_fact(name) is None and name not in ("getattr_shape", "size", "dim", "numel", "getattr"):
            return None, f"op {target!r} ({name}) is unknown to the op table: its kinks cannot be checked"
    return KinkCounted(gm, rules, constant_inputs), ""


def _in_place(n: torch.fx.Node, mod, kwargs) -> bool:
    """Whether the node overwrites its input (``inplace=True`` modules and functions, ``Tensor.relu_``, ...)."""
    if n.op == "call_method":
        return str(n.target).endswith("_") and not str(n.target).startswith("_")
    if n.op == "call_function" and getattr(n.target, "__name__", "").endswith("_"):
        return True
    return bool(getattr(mod, "inplace", False) or kwargs.get("inplace", False))


def _has_rule(name: str, mod, node) -> bool:
    if name not in _RULES:
        return False
    if name in ("max_pool1d", "max_pool2d"):
        ceil = (
            getattr(mod, "ceil_mode", False)
            if mod is not None
            else (node.args[5] if len(node.args) > 5 else node.kwargs.get("ceil_mode", False))
        )
        return not ceil
    return True
