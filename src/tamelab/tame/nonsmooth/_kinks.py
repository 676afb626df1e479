r"""Kinks of a traced program: count the evaluations that sit exactly on a nonsmooth point of some op.

A gradient-sampling certificate is sound only if every sampled gradient is a gradient: at a point where an
op of the program is evaluated exactly on its kink (``relu`` at 0, ``max(a, b)`` with ``a == b``, ``clamp`` at a
bound, a tie inside a max-pool window, ...), backprop returns an element of a conservative field that need not
be a Clarke subgradient of the function (Bolte & Pauwels, arXiv:1909.10300). :func:`kink_counted` traces a
module or a function with ``torch.fx`` and returns a callable that evaluates the program with an fx
:class:`~torch.fx.Interpreter` and also returns the number of kink hits, as a tensor (it works under
``torch.func.vmap`` / ``grad``).

Rules (the inputs of every nonsmooth op are inspected; the canonical op names are those of the tameness
certificate, :func:`tamelab.tame.certificates._trace.canonical`):

* ``relu``, ``leaky_relu``, ``prelu``, ``rrelu``, ``abs``, ``elu``/``celu``/``selu``, ``sign``: input == 0;
  ``relu6``: input ∈ {0, 6}; ``hardtanh``: input ∈ {min_val, max_val}; ``hardsigmoid``/``hardswish``: ±3;
  ``threshold``: input == threshold; ``clamp``/``clip``/``clamp_min``/``clamp_max``: input equal to a bound;
* binary ``max``/``min``/``maximum``/``minimum``/``fmax``/``fmin``: the two arguments are equal somewhere;
  reductions ``max``/``min``/``amax``/``amin`` (whole tensor or along ``dim``): the extremum is attained twice;
* ``max_pool1d``/``max_pool2d`` (``ceil_mode=False``): a window whose maximum is attained twice;
* ``l1_loss``: prediction == target.

An op that is nonsmooth (or unknown to the certificate's op table) and has no rule here makes the program
*unchecked*: :func:`kink_counted` then returns ``None`` with the reason, and certificates built on the program
say so instead of assuming differentiability.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

__all__ = ["kink_counted", "KinkCounted", "SMOOTH_LOSSES", "NONSMOOTH"]

#: built-in loss names (``tamelab.losses``) that are C¹ in the prediction: no kinks to count.
SMOOTH_LOSSES = ("cross_entropy", "nll", "mse", "huber", "bce_with_logits")

_ZERO = torch.zeros((), dtype=torch.int64)


def _count(mask: torch.Tensor) -> torch.Tensor:
    return mask.sum().to(torch.int64)


def _at(x, *values) -> torch.Tensor:
    """Entries of ``x`` equal to one of ``values`` (numbers or tensors; ``None`` skipped)."""
    out = _ZERO
    for v in values:
        if v is not None:
            out = out + _count(x == v)
    return out


def _first(args, kwargs, key="input"):
    return args[0] if args else kwargs.get(key)


def _arg(args, kwargs, i: int, key: str, default=None):
    return args[i] if len(args) > i else kwargs.get(key, default)


def _extremum_ties(which: str, args, kwargs) -> torch.Tensor:
    x = _first(args, kwargs)
    other = _arg(args, kwargs, 1, "other")
    if isinstance(other, torch.Tensor):  # binary max(a, b): kink where a == b
        return _count(x == other)
    dim = other if isinstance(other, int) else kwargs.get("dim")
    red = torch.amax if which == "max" else torch.amin
    if dim is None:
        return (_count(x == red(x)) > 1).to(torch.int64)
    return _count((x == red(x, dim=dim, keepdim=True)).sum(dim) > 1)


def _pool_ties(args, kwargs, mod: nn.Module | None, dims: int) -> torch.Tensor | None:
    """Windows of a max-pool whose maximum is attained at least twice (``None``: not checkable)."""
    x = _first(args, kwargs)

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
    ceil = get(5, "ceil_mode", False)
    if k is None or ceil:
        return None

    def tup(v):
        return (v,) * dims if isinstance(v, int) else tuple(v)

    k, pad, dil = tup(k), tup(pad), tup(dil)
    stride = k if stride is None or stride == [] or stride == () else tup(stride)
    if dims == 1:
        k, pad, dil, stride = (1, *k), (0, *pad), (1, *dil), (1, *stride)
        x = x.unsqueeze(-2)
    lead = x.shape[:-2]
    x4 = x.reshape(-1, 1, *x.shape[-2:])
    x4 = nn.functional.pad(x4, (pad[1], pad[1], pad[0], pad[0]), value=float("-inf"))
    u = nn.functional.unfold(x4, kernel_size=k, dilation=dil, stride=stride)  # (B, k*k, L)
    m = u.amax(1, keepdim=True)
    del lead
    return _count((u == m).sum(1) > 1)


def _module_attr(mod, name, default=None):
    return getattr(mod, name, default) if mod is not None else default


def _hardtanh(args, kwargs, mod):
    lo = _module_attr(mod, "min_val", _arg(args, kwargs, 1, "min_val", -1.0))
    hi = _module_attr(mod, "max_val", _arg(args, kwargs, 2, "max_val", 1.0))
    return _at(_first(args, kwargs), lo, hi)


def _sorted_ties(args, kwargs, mod):
    x = _first(args, kwargs)
    dim = _arg(args, kwargs, 1, "dim", None)
    if not isinstance(dim, int):
        x, dim = x.reshape(-1), 0
    return _count(torch.sort(x, dim=dim).values.diff(dim=dim) == 0)


def _norm_zero(args, kwargs, mod):
    x = _first(args, kwargs)
    dim = _arg(args, kwargs, 2, "dim", None)
    if dim is None:
        return (x == 0).all().to(torch.int64)
    return _count((x == 0).all(dim=dim if isinstance(dim, int) else tuple(dim)))


def _compare(args, kwargs, mod):
    return _count(_first(args, kwargs) == _arg(args, kwargs, 1, "other"))


def _zero(args, kwargs, mod):
    return _at(_first(args, kwargs), 0.0)


_RULES: dict[str, Callable[..., torch.Tensor | None]] = {
    **{n: _zero for n in ("relu", "leaky_relu", "prelu", "rrelu_eval", "abs", "elu", "celu", "selu", "sign",
                          "heaviside", "sqrt")},
    "relu6": lambda a, k, m: _at(_first(a, k), 0.0, 6.0),
    "hardsigmoid": lambda a, k, m: _at(_first(a, k), -3.0, 3.0),
    "hardswish": lambda a, k, m: _at(_first(a, k), -3.0, 3.0),
    "hardtanh": _hardtanh,
    "threshold": lambda a, k, m: _at(_first(a, k), _module_attr(m, "threshold", _arg(a, k, 1, "threshold"))),
    "clamp": lambda a, k, m: _at(_first(a, k), _arg(a, k, 1, "min"), _arg(a, k, 2, "max")),
    "clip": lambda a, k, m: _at(_first(a, k), _arg(a, k, 1, "min"), _arg(a, k, 2, "max")),
    "clamp_min": lambda a, k, m: _at(_first(a, k), _arg(a, k, 1, "min")),
    "clamp_max": lambda a, k, m: _at(_first(a, k), _arg(a, k, 1, "max")),
    "max": lambda a, k, m: _extremum_ties("max", a, k),
    "amax": lambda a, k, m: _extremum_ties("max", a, k),
    "min": lambda a, k, m: _extremum_ties("min", a, k),
    "amin": lambda a, k, m: _extremum_ties("min", a, k),
    **{n: _compare for n in ("maximum", "minimum", "fmax", "fmin", "gt", "ge", "lt", "le", "eq", "ne")},
    "max_pool1d": lambda a, k, m: _pool_ties(a, k, m, 1),
    "max_pool2d": lambda a, k, m: _pool_ties(a, k, m, 2),
    **{n: _sorted_ties for n in ("sort", "topk", "kthvalue", "median")},
    **{n: _norm_zero for n in ("norm", "vector_norm", "linalg_vector_norm")},
    "l1_loss": lambda a, k, m: _count(_first(a, k) == _arg(a, k, 1, "target")),
}

#: ops that are not C¹ somewhere (kinks, jumps, ties); those without a rule make a program unchecked.
NONSMOOTH = frozenset(_RULES) | {
    "max_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d", "max_pool2d_with_indices", "hinge", "relu_attention",
    "floor", "ceil", "round", "trunc", "frac", "fmod", "remainder", "floor_divide", "quantize",
    "hinge_embedding_loss", "margin_ranking_loss", "multi_margin_loss", "step", "where_mask", "rsqrt", "frobenius_norm",
    "cdist", "normalize",
}


def _rule(name: str, args, kwargs, mod: nn.Module | None) -> torch.Tensor | None:
    """Kink hits of one op call; ``None`` if the op has no rule."""
    fn = _RULES.get(name)
    return None if fn is None else fn(args, kwargs, mod)


class KinkCounted(nn.Module):
    """``forward(*args) -> (output, kink hits)``: a traced program run by a counting fx interpreter."""

    def __init__(self, gm: torch.fx.GraphModule, rules: dict[str, tuple[str, nn.Module | None]]) -> None:
        super().__init__()
        self.gm = gm
        self._rules = rules

    def forward(self, *args):
        interp = _CountingInterpreter(self.gm, self._rules)
        out = interp.run(*args)
        return out, interp.count


class _CountingInterpreter(torch.fx.Interpreter):
    def __init__(self, gm: torch.fx.GraphModule, rules: dict[str, tuple[str, nn.Module | None]]) -> None:
        super().__init__(gm)
        self.rules = rules
        self.count = _ZERO

    def run_node(self, n: torch.fx.Node) -> Any:
        out = super().run_node(n)
        rule = self.rules.get(n.name)
        if rule is not None:
            args, kwargs = self.fetch_args_kwargs_from_env(n)
            c = _rule(rule[0], args, kwargs, rule[1])
            if c is not None:
                self.count = self.count + c
        return out


def kink_counted(program: nn.Module | Callable) -> tuple[KinkCounted | None, str]:
    """Trace ``program`` (a module or a function of tensors) and return ``(counting program, "")``.

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
    return KinkCounted(gm, rules), ""


def _has_rule(name: str, mod, node) -> bool:
    if name not in _RULES:
        return False
    if name in ("max_pool1d", "max_pool2d"):
        ceil = getattr(mod, "ceil_mode", False) if mod is not None else (
            node.args[5] if len(node.args) > 5 else node.kwargs.get("ceil_mode", False))
        return not ceil
    return True
