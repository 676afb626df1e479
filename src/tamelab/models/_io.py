"""Model files: safetensors of a ReLU MLP's ``state_dict``. Never unpickles."""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch
from torch import nn

from ..errors import InputError
from ..runstore import atomic_write_bytes

__all__ = ["save", "load", "from_state_dict"]

_KEY = re.compile(r"^(\d+)\.(weight|bias)$")


def save(model: nn.Module, path: str | os.PathLike) -> Path:
    """Save a model's ``state_dict`` as safetensors (atomically)."""
    from safetensors.torch import save as st_save

    sd = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return atomic_write_bytes(path, st_save(sd))


def from_state_dict(sd: dict[str, torch.Tensor], *, source: str = "state_dict") -> nn.Sequential:
    """Rebuild ``Linear, ReLU, ..., Linear`` from ``0.weight, 0.bias, 2.weight, ...``.

    Any other layout is rejected with an :class:`InputError` naming the key.
    """
    if not sd:
        raise InputError(source, "contains no tensors", "save a model with tamelab.models.save")
    idx: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in sd.items():
        m = _KEY.match(k)
        if not m:
            raise InputError(f"{source} key '{k}'", "is not of the form '<index>.weight' or '<index>.bias'", "expected a Sequential of Linear/ReLU")
        i = int(m.group(1))
        if i % 2 != 0:
            raise InputError(f"{source} key '{k}'", f"index {i} is odd: odd positions must be parameter-free ReLUs")
        idx.setdefault(i, {})[m.group(2)] = v
    order = sorted(idx)
    if order != list(range(0, 2 * len(order), 2)):
        raise InputError(f"{source} keys", f"layer indices {order} are not 0,2,4,...", "layers must alternate Linear/ReLU")
    layers: list[nn.Module] = []
    prev_out = None
    for j, i in enumerate(order):
        p = idx[i]
        if "weight" not in p:
            raise InputError(f"{source} key '{i}.weight'", "missing")
        W = p["weight"]
        if W.ndim != 2:
            raise InputError(f"{source} key '{i}.weight'", f"has shape {tuple(W.shape)}; a Linear weight must be 2-D")
        if prev_out is not None and W.shape[1] != prev_out:
            raise InputError(f"{source} key '{i}.weight'", f"input width {W.shape[1]} != previous output width {prev_out}")
        b = p.get("bias")
        if b is not None and (b.ndim != 1 or b.shape[0] != W.shape[0]):
            raise InputError(f"{source} key '{i}.bias'", f"has shape {tuple(b.shape)}, expected ({W.shape[0]},)")
        if not torch.isfinite(W).all() or (b is not None and not torch.isfinite(b).all()):
            raise InputError(f"{source} layer {i}", "contains NaN or inf")
        lin = nn.Linear(W.shape[1], W.shape[0], bias=b is not None, dtype=W.dtype)
        with torch.no_grad():
            lin.weight.copy_(W)
            if b is not None:
                lin.bias.copy_(b)
        layers.append(lin)
        if j < len(order) - 1:
            layers.append(nn.ReLU())
        prev_out = W.shape[0]
    return nn.Sequential(*layers)


def load(path: str | os.PathLike) -> nn.Sequential:
    """Load a ReLU MLP from a safetensors file (no pickle is ever read)."""
    p = Path(path)
    if not p.is_file():
        raise InputError("MODEL", f"{p} not found", "pass a .safetensors file written by 'tamelab train'")
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        sd = load_file(str(p))
    except (SafetensorError, OSError, ValueError) as e:
        raise InputError("MODEL", f"{p} is not a readable safetensors file ({e})", "pickled .pt files are not accepted") from e
    return from_state_dict(sd, source=p.name)
