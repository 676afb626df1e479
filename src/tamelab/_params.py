"""The one parameter flattener: module parameters ↔ one flat vector.

Every capability that works in parameter space (curvature operators, slices, stationarity,
PAC-Bayes, alignment) uses these functions, so the order of the flat vector is the same
everywhere: ``model.named_parameters()`` order, restricted to ``names`` when given.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import nn

from .errors import InputError

__all__ = ["param_names", "param_dict", "flatten", "unflatten", "flat_params", "set_flat_params", "n_params"]


def param_names(model: nn.Module, names: Sequence[str] | None = None, *, trainable_only: bool = True) -> list[str]:
    """Parameter names in ``named_parameters()`` order (``names`` checked against the model)."""
    params = dict(model.named_parameters())
    if names is None:
        return [n for n, p in params.items() if p.requires_grad or not trainable_only]
    names = list(names)
    unknown = [n for n in names if n not in params]
    if unknown:
        raise InputError("params", f"unknown parameter names {unknown}", f"available: {list(params)}")
    return names


def param_dict(
    model: nn.Module, names: Sequence[str] | None = None, *, detach: bool = True, trainable_only: bool = False
) -> dict[str, torch.Tensor]:
    """``{name: tensor}`` of the selected parameters (all of them by default; detached by default)."""
    params = dict(model.named_parameters())
    sel = param_names(model, names, trainable_only=trainable_only)
    return {n: (params[n].detach() if detach else params[n]) for n in sel}


def flatten(tensors: Mapping[str, torch.Tensor] | Sequence[torch.Tensor]) -> torch.Tensor:
    """Concatenate tensors (a mapping's values in order) into one flat vector."""
    vals = list(tensors.values()) if isinstance(tensors, Mapping) else list(tensors)
    if not vals:
        raise InputError("params", "no parameters to flatten")
    return torch.cat([v.reshape(-1) for v in vals])


def unflatten(flat: torch.Tensor, like: Mapping[str, torch.Tensor | torch.Size]) -> dict[str, torch.Tensor]:
    """Split ``flat`` into views shaped like ``like`` (tensors or shapes), in ``like``'s order."""
    shapes = {n: (t.shape if isinstance(t, torch.Tensor) else torch.Size(t)) for n, t in like.items()}
    need = sum(s.numel() for s in shapes.values())
    if need != flat.numel():
        raise InputError("flat", f"has {flat.numel()} entries, the parameters need {need}")
    out, i = {}, 0
    for n, shape in shapes.items():
        k = shape.numel()
        out[n] = flat[i : i + k].view(shape)
        i += k
    return out


def flat_params(model: nn.Module, names: Sequence[str] | None = None) -> torch.Tensor:
    """The selected parameters of ``model`` as one detached flat vector."""
    return flatten(param_dict(model, names))


def set_flat_params(model: nn.Module, flat: torch.Tensor, names: Sequence[str] | None = None) -> None:
    """Copy ``flat`` into the selected parameters of ``model`` (in place, no autograd)."""
    live = param_dict(model, names, detach=False)
    views = unflatten(flat, {n: p.shape for n, p in live.items()})
    with torch.no_grad():
        for n, p in live.items():
            p.copy_(views[n])


def n_params(model: nn.Module, names: Sequence[str] | None = None) -> int:
    """Number of selected parameters (default: the trainable ones)."""
    return sum(t.numel() for t in param_dict(model, names, trainable_only=names is None).values())
