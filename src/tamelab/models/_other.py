"""Other model families used by later capabilities.

* deep linear networks ``W_{H+1} ... W_1 x`` (no biases);
* polynomial-activation networks ``x -> W_h rho_r(... rho_r(W_1 x))`` with
  ``rho_r(t) = t**r`` (Kileel–Trager–Bruna, arXiv:1905.12207);
* tied ReLU autoencoders ``y -> W^T relu(W y - eps)`` (Rangamani et al.,
  arXiv:1708.03735).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .._rng import SeedLike, resolve_seed
from ..errors import InputError

__all__ = ["Power", "linear_net", "poly_net", "TiedAutoencoder"]


class Power(nn.Module):
    """Elementwise ``t -> t**r`` for an integer ``r >= 1``."""

    def __init__(self, r: int) -> None:
        super().__init__()
        if int(r) != r or r < 1:
            raise InputError("power", f"must be an integer >= 1, got {r}")
        self.r = int(r)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x**self.r

    def extra_repr(self) -> str:
        return f"r={self.r}"


def _check_widths(widths: Sequence[int]) -> list[int]:
    w = [int(x) for x in widths]
    if len(w) < 2 or any(x < 1 for x in w):
        raise InputError("widths", f"need >= 2 positive widths, got {list(widths)}")
    return w


def linear_net(widths: Sequence[int], *, seed: SeedLike = 0, dtype=torch.float64) -> nn.Sequential:
    """Deep linear network (bias-free ``nn.Linear`` layers, no activation)."""
    w = _check_widths(widths)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(resolve_seed(seed))
        return nn.Sequential(*[nn.Linear(w[i], w[i + 1], bias=False) for i in range(len(w) - 1)]).to(dtype)


def poly_net(widths: Sequence[int], power: int, *, seed: SeedLike = 0, dtype=torch.float64) -> nn.Sequential:
    """Bias-free network with activation ``t**power`` after every hidden layer."""
    w = _check_widths(widths)
    layers: list[nn.Module] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(resolve_seed(seed))
        for i in range(len(w) - 1):
            layers.append(nn.Linear(w[i], w[i + 1], bias=False))
            if i < len(w) - 2:
                layers.append(Power(power))
    return nn.Sequential(*layers).to(dtype)


class TiedAutoencoder(nn.Module):
    """Tied ReLU autoencoder ``y -> W^T relu(W y - eps)`` with ``W`` of shape ``(h, n)``."""

    def __init__(
        self, n: int, h: int, *, eps: float | torch.Tensor = 0.0, seed: SeedLike = 0, dtype=torch.float64
    ) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(resolve_seed(seed))
        W = torch.randn(h, n, generator=g, dtype=dtype)
        self.W = nn.Parameter(W / W.norm(dim=1, keepdim=True))
        self.register_buffer("eps", torch.as_tensor(eps, dtype=dtype).expand(h).clone())

    def code(self, y: torch.Tensor) -> torch.Tensor:
        return torch.relu(y @ self.W.T - self.eps)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.code(y) @ self.W
