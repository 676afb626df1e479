r"""Hard functions and constructions of Arora, Basu, Mianjy & Mukherjee (arXiv:1611.01491).

* :func:`tent_net` — the tent map composed ``L`` times (spec geometry.md §2.5.2): first layer
  :math:`z=(x,x-1/2)`, each further hidden layer :math:`W=\begin{pmatrix}2&-4\\2&-4\end{pmatrix}`,
  :math:`b=(0,-1/2)`, output :math:`(2,-4)`; :math:`2^L` linear pieces on :math:`[0,1]`.
* :func:`h_a_net` / :func:`H_net` — the sawtooth-like family :math:`h_a` (``w`` pieces on
  :math:`[0,M]`, one hidden layer of ``w`` units) and compositions :math:`H=h_{a^1}\circ\dots\circ h_{a^k}`
  with :math:`w^k` pieces on :math:`[0,M]`.
* :func:`from_layers` — build an ``nn.Sequential`` from explicit ``[(W, b), ...]``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..errors import InputError

__all__ = ["from_layers", "tent_net", "pwl_1d_net", "h_a_net", "H_net"]


def from_layers(layers: Sequence[tuple], dtype=torch.float64) -> nn.Sequential:
    mods: list[nn.Module] = []
    for i, (W, b) in enumerate(layers):
        W = np.atleast_2d(np.asarray(W, dtype=float))
        lin = nn.Linear(W.shape[1], W.shape[0], dtype=dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.as_tensor(W))
            lin.bias.copy_(torch.as_tensor(np.asarray(b, dtype=float).reshape(-1)))
        mods.append(lin)
        if i < len(layers) - 1:
            mods.append(nn.ReLU())
    return nn.Sequential(*mods)


def tent_net(L: int) -> nn.Sequential:
    if L < 1:
        raise InputError("L", f"must be >= 1, got {L}")
    layers = [([[1.0], [1.0]], [0.0, -0.5])]
    for _ in range(L - 1):
        layers.append(([[2.0, -4.0], [2.0, -4.0]], [0.0, -0.5]))
    layers.append(([[2.0, -4.0]], [0.0]))
    return from_layers(layers)


def pwl_1d_net(breaks: Sequence[float], slopes: Sequence[float], value_at_last: float) -> list[tuple]:
    """One hidden layer realising the 1-D PWL function with breakpoints a_1<…<a_{p-1} and slopes m_1..m_p
    (Arora et al. Thm 2.2 construction): h = h(a_{p-1}) + m_p σ(x−a_{p−1}) − Σ_l t_l σ(a_l − x)."""
    a, m = list(breaks), list(slopes)
    p = len(m)
    if len(a) != p - 1 or any(x >= y for x, y in zip(a, a[1:])):
        raise InputError("breaks", "need p-1 increasing breakpoints for p slopes")
    t = [m[l] - m[l + 1] for l in range(p - 2)] + [m[p - 2]]
    W1 = [[1.0]] + [[-1.0] for _ in range(p - 1)]
    b1 = [-a[-1]] + [a[l] for l in range(p - 1)]
    W2 = [[m[-1]] + [-t[l] for l in range(p - 1)]]
    return [(W1, b1), (W2, [value_at_last])]


def h_a_net(a: Sequence[float], M: float = 1.0) -> list[tuple]:
    """``h_a`` (w = len(a)+1 pieces on [0, M]): 0 left of 0, h(a_i) = M (i mod 2), h(M) = M − h(a_{w−1})."""
    a = list(a)
    w = len(a) + 1
    if not all(x < y for x, y in zip([0.0] + a, a + [M])):
        raise InputError("a", f"need 0 < a_1 < ... < a_{w - 1} < M={M}")
    nodes = [0.0] + a + [M]
    vals = [0.0] + [M * (i % 2) for i in range(1, w)] + [M - M * ((w - 1) % 2)]
    slopes = [0.0] + [(vals[i + 1] - vals[i]) / (nodes[i + 1] - nodes[i]) for i in range(w)]
    return pwl_1d_net(nodes[:-1], slopes, vals[-2])  # the last piece continues past M: M is no breakpoint


def H_net(a_list: Sequence[Sequence[float]], M: float = 1.0) -> nn.Sequential:
    """Composition h_{a^1} ∘ … ∘ h_{a^k} as a ReLU net with k hidden layers (w^k pieces on [0, M])."""
    layers: list[tuple] = []
    prev_out = None
    for a in reversed(list(a_list)):  # innermost first
        (W1, b1), (W2, b2) = h_a_net(a, M)
        W1, b1, W2, b2 = np.array(W1), np.array(b1), np.array(W2), np.array(b2)
        if prev_out is None:
            layers.append((W1, b1))
        else:
            PW, Pb = prev_out
            layers.append((W1 @ PW, W1 @ Pb + b1))
        prev_out = (W2, b2)
    layers.append(prev_out)
    return from_layers(layers)
