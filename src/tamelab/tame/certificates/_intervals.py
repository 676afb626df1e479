"""Interval bounds of fx nodes: enough to prove that the input of ``sin``/``cos`` is bounded."""

from __future__ import annotations

import math

from torch import nn

def interval_of(v, bounds: dict) -> tuple[float, float] | None:
    from torch.fx import Node

    if isinstance(v, Node):
        return bounds.get(v)
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
        return (float(v), float(v))
    return None


def propagate(name: str, node, fact, bounds: dict, mod: nn.Module | None) -> tuple[float, float] | None:
    from torch.fx import Node

    if fact is not None and fact.out_bounds is not None:
        return fact.out_bounds
    if mod is not None and isinstance(mod, nn.Hardtanh):
        return (float(mod.min_val), float(mod.max_val))
    tensor_args = [a for a in node.args if isinstance(a, Node)]
    ivs = [interval_of(a, bounds) for a in node.args[:2]]
    if name in ("view", "reshape", "flatten", "unflatten", "permute", "transpose", "t", "contiguous", "getitem", "squeeze",
                "unsqueeze", "expand", "clone", "detach", "to", "float", "double", "identity", "mean", "dropout_eval",
                "max", "min", "amax", "amin", "select", "slice", "_unsafe_view", "alias"):
        return bounds.get(tensor_args[0]) if tensor_args else None
    if name in ("cat", "stack", "concat") and node.args and isinstance(node.args[0], (list, tuple)):
        ivs = [interval_of(a, bounds) for a in node.args[0]]
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


