"""ReLU MLPs as ``nn.Sequential`` of ``nn.Linear`` and ``nn.ReLU``.

Layout (the file-format contract): ``Linear, ReLU, Linear, ReLU, ..., Linear``.
State-dict keys are ``0.weight, 0.bias, 2.weight, 2.bias, ...``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from .._rng import SeedLike, resolve_seed
from ..errors import InputError

__all__ = ["mlp", "relu_layers", "is_relu_mlp", "widths_of", "linear_relu_modules", "linear_relu_forward"]


def mlp(
    widths: Sequence[int],
    *,
    seed: SeedLike = 0,
    dtype: torch.dtype = torch.float32,
    bias: bool = True,
) -> nn.Sequential:
    """ReLU MLP with the given widths ``(n_0, n_1, ..., n_L, n_out)``.

    PyTorch's default ``nn.Linear`` initialisation, drawn under
    ``torch.manual_seed(seed)`` (so ``seed=0`` reproduces
    ``torch.manual_seed(0); nn.Sequential(...)``).
    """
    widths = [int(w) for w in widths]
    if len(widths) < 2:
        raise InputError("widths", f"need at least input and output widths, got {widths}", "e.g. 64,64,10")
    if any(w < 1 for w in widths):
        raise InputError("widths", f"all widths must be >= 1, got {widths}")
    s = resolve_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(s)
        layers: list[nn.Module] = []
        for i in range(len(widths) - 1):
            layers.append(nn.Linear(widths[i], widths[i + 1], bias=bias))
            if i < len(widths) - 2:
                layers.append(nn.ReLU())
        model = nn.Sequential(*layers)
    return model.to(dtype)


def relu_layers(model: nn.Module, *, dtype=np.float64) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return ``[(W_1, b_1), ..., (W_{L+1}, b_{L+1})]`` of a ReLU MLP as numpy arrays.

    Raises :class:`InputError` naming the offending layer when the model is
    not ``Linear, ReLU, ..., Linear`` (missing biases are zeros).
    """
    if not isinstance(model, nn.Sequential):
        raise InputError("model", f"expected nn.Sequential of Linear/ReLU, got {type(model).__name__}")
    mods = list(model)
    if not mods:
        raise InputError("model", "empty Sequential")
    out = []
    for i, m in enumerate(mods):
        want_linear = i % 2 == 0
        if want_linear and not isinstance(m, nn.Linear):
            raise InputError(
                f"layer {i}",
                f"expected nn.Linear, found {type(m).__name__}",
                "only Linear/ReLU MLPs are supported here",
            )
        if not want_linear and not isinstance(m, nn.ReLU):
            raise InputError(
                f"layer {i}", f"expected nn.ReLU, found {type(m).__name__}", "only Linear/ReLU MLPs are supported here"
            )
        if want_linear:
            W = m.weight.detach().cpu().numpy().astype(dtype)
            b = m.bias.detach().cpu().numpy().astype(dtype) if m.bias is not None else np.zeros(W.shape[0], dtype)
            if out and out[-1][0].shape[0] != W.shape[1]:
                raise InputError(
                    f"layer {i}", f"input width {W.shape[1]} does not match previous output {out[-1][0].shape[0]}"
                )
            out.append((W, b))
    if not isinstance(mods[-1], nn.Linear):
        raise InputError(f"layer {len(mods) - 1}", "the last layer must be nn.Linear (no output activation)")
    return out


def is_relu_mlp(model: nn.Module) -> bool:
    try:
        relu_layers(model)
    except InputError:
        return False
    return True


def widths_of(model: nn.Module) -> list[int]:
    layers = relu_layers(model)
    return [layers[0][0].shape[1]] + [W.shape[0] for W, _ in layers]


def linear_relu_modules(model: nn.Module) -> list[nn.Module] | None:
    """The modules of a plain Linear/ReLU ``nn.Sequential`` ending in ``nn.Linear``; ``None`` otherwise.

    The modules of a plain ``nn.Sequential`` made only of ``nn.Linear``/``nn.ReLU`` (exact types, so no
    subclass with another forward) and ending in ``nn.Linear``; ``None`` for any other model.
    """
    mods = list(model) if type(model) is nn.Sequential else []
    if not mods or type(mods[-1]) is not nn.Linear or any(type(m) not in (nn.Linear, nn.ReLU) for m in mods):
        return None
    return mods


def linear_relu_forward(
    mods: list[nn.Module], h: torch.Tensor, *, logits_t: bool = False, inplace_input: bool = False
) -> torch.Tensor:
    """Evaluate :func:`linear_relu_modules` by direct ``addmm``/``relu_`` calls (no module-call overhead).

    ReLUs work in place on intermediate results, and on ``h`` itself only with ``inplace_input``. With
    ``logits_t`` the last layer is computed as ``W·hᵀ`` (C×N): for a narrow output layer this is ~40 %
    faster than ``h·Wᵀ`` on CPU, and reductions over classes then run along contiguous rows. Call it
    under ``torch.no_grad``/``inference_mode``.
    """
    x = h
    for m in mods[:-1]:
        if type(m) is nn.ReLU:
            h = h.relu_() if (h is not x or inplace_input) else torch.relu(h)
        else:
            h = torch.addmm(m.bias, h, m.weight.T) if m.bias is not None else h @ m.weight.T
    last = mods[-1]
    if logits_t:
        return torch.addmm(last.bias[:, None], last.weight, h.T) if last.bias is not None else last.weight @ h.T
    return torch.addmm(last.bias, h, last.weight.T) if last.bias is not None else h @ last.weight.T
