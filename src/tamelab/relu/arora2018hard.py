r"""Hard functions and constructions of Arora, Basu, Mianjy & Mukherjee (arXiv:1611.01491).

* :func:`tent_net` — the tent map composed ``L`` times (spec geometry.md §2.5.2): first layer
  :math:`z=(x,x-1/2)`, each further hidden layer :math:`W=\begin{pmatrix}2&-4\\2&-4\end{pmatrix}`,
  :math:`b=(0,-1/2)`, output :math:`(2,-4)`; :math:`2^L` linear pieces on :math:`[0,1]`.
* :func:`h_a_net` / :func:`H_net` — the sawtooth-like family :math:`h_a` (``w`` pieces on
  :math:`[0,M]`, one hidden layer of ``w`` units) and compositions :math:`H=h_{a^1}\circ\dots\circ h_{a^k}`
  with :math:`w^k` pieces on :math:`[0,M]`.
* :func:`zonotope_net` — :math:`H\circ\gamma_Z` with the support function
  :math:`\gamma_Z(r)=\sum_i|\langle r,b^i\rangle|` of a zonotope (spec constructive.md §2.5): the paper's
  piece count :math:`\sum_{i<n}\binom{m-1}{i}w^k` is a lower bound; the spec measured
  :math:`2\sum_{i<n}\binom{m-1}{i}w^k` (= #vertices(Z)·w^k) on :math:`\{\gamma_Z\le M\}`.
* :func:`max_affine_net` — :math:`\max_i(a_i\cdot x+c_i)` exactly, with :math:`\lceil\log_2 m\rceil`
  hidden layers (pairwise :math:`\max(u,v)=v+\sigma(u-v)`, :math:`v=\sigma(v)-\sigma(-v)`; spec §2.6 A2).
* :func:`from_layers` — build an ``nn.Sequential`` from explicit ``[(W, b), ...]``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..errors import InputError

__all__ = [
    "from_layers",
    "tent_net",
    "pwl_1d_net",
    "h_a_net",
    "H_net",
    "zonotope_net",
    "zonotope_vertices",
    "zonotope_sublevel_polygon",
    "zonotope_piece_counts",
    "max_affine_net",
]


def from_layers(layers: Sequence[tuple], dtype=torch.float64) -> nn.Sequential:
    """The ``Linear``/``ReLU`` ``nn.Sequential`` of ``[(W, b), ...]`` (ReLU between layers, last one linear)."""
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
    """The depth-``L`` composition of tent maps (Telgarsky's sawtooth): ``2^L`` linear pieces on [0, 1]."""
    if L < 1:
        raise InputError("L", f"must be >= 1, got {L}")
    layers = [([[1.0], [1.0]], [0.0, -0.5])]
    for _ in range(L - 1):
        layers.append(([[2.0, -4.0], [2.0, -4.0]], [0.0, -0.5]))
    layers.append(([[2.0, -4.0]], [0.0]))
    return from_layers(layers)


def pwl_1d_net(breaks: Sequence[float], slopes: Sequence[float], value_at_last: float) -> list[tuple]:
    """One hidden layer realising a 1-D PWL function from its breakpoints and slopes (Arora et al. Thm 2.2).

    One hidden layer realising the 1-D PWL function with breakpoints a_1<…<a_{p-1} and slopes m_1..m_p
    (Arora et al. Thm 2.2 construction): h = h(a_{p-1}) + m_p σ(x−a_{p−1}) − Σ_l t_l σ(a_l − x).
    """
    a, m = list(breaks), list(slopes)
    p = len(m)
    if len(a) != p - 1 or any(x >= y for x, y in zip(a, a[1:])):
        raise InputError("breaks", "need p-1 increasing breakpoints for p slopes")
    t = [m[ell] - m[ell + 1] for ell in range(p - 2)] + [m[p - 2]]
    W1 = [[1.0]] + [[-1.0] for _ in range(p - 1)]
    b1 = [-a[-1]] + [a[ell] for ell in range(p - 1)]
    W2 = [[m[-1]] + [-t[ell] for ell in range(p - 1)]]
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


def _compose(outer: list[tuple], inner: list[tuple]) -> list[tuple]:
    """Layers of ``outer ∘ inner``: the inner output layer is folded into the outer first layer."""
    (Wo, bo), (Wi, bi) = outer[0], inner[-1]
    Wo, bo, Wi, bi = (
        np.atleast_2d(np.asarray(Wo, float)),
        np.asarray(bo, float),
        np.atleast_2d(np.asarray(Wi, float)),
        np.asarray(bi, float),
    )
    return [*inner[:-1], (Wo @ Wi, Wo @ bi + bo), *outer[1:]]


def zonotope_net(B, a_list: Sequence[Sequence[float]], M: float = 1.0) -> nn.Sequential:
    """ZONOTOPE^n_{k,w,m} = H_{a^1..a^k} ∘ γ_Z with generators ``B`` (m×n): depth k+2, size 2m + wk."""
    B = np.atleast_2d(np.asarray(B, dtype=float))
    m = B.shape[0]
    gamma = [(np.vstack([B, -B]), np.zeros(2 * m)), (np.ones((1, 2 * m)), np.zeros(1))]
    H = [(W.weight.detach().numpy(), W.bias.detach().numpy()) for W in H_net(a_list, M) if isinstance(W, nn.Linear)]
    return from_layers(_compose(H, gamma))


def zonotope_vertices(B) -> np.ndarray:
    """Vertices of Z = {Σ λ_i b^i : λ ∈ [−1,1]^m}: convex hull of all 2^m sign sums (m ≤ 20)."""
    from itertools import product

    from scipy.spatial import ConvexHull

    B = np.atleast_2d(np.asarray(B, dtype=float))
    if B.shape[0] > 20:
        raise InputError("B", f"{B.shape[0]} generators: 2^m sign sums is too many", "use m <= 20")
    S = np.array(list(product([-1.0, 1.0], repeat=B.shape[0])))
    P = S @ B
    return P[ConvexHull(P).vertices]


def zonotope_sublevel_polygon(B, M: float = 1.0) -> list[tuple[float, float]]:
    """Vertices (counter-clockwise) of {r ∈ R²: γ_Z(r) ≤ M} = {r: ⟨r, z⟩ ≤ M for every vertex z of Z}."""
    from scipy.spatial import HalfspaceIntersection

    Z = zonotope_vertices(B)
    if Z.shape[1] != 2:
        raise InputError("B", "the sublevel polygon is for n = 2 generators in R^2")
    hs = HalfspaceIntersection(np.hstack([Z, -M * np.ones((len(Z), 1))]), np.zeros(2))
    P = hs.intersections
    ang = np.arctan2(P[:, 1], P[:, 0])
    return [tuple(map(float, p)) for p in P[np.argsort(ang)]]


def zonotope_piece_counts(m: int, n: int, w: int, k: int) -> dict[str, int]:
    """Paper's piece formula (a lower bound) and the spec's measured count 2·Σ_{i<n} C(m−1,i)·w^k on {γ_Z ≤ M}."""
    from math import comb

    base = sum(comb(m - 1, i) for i in range(n))
    return {
        "paper_formula": base * w**k,
        "spec_measured_formula": 2 * base * w**k,
        "zonotope_vertices_generic": 2 * base,
    }


def max_affine_net(A, c) -> nn.Sequential:
    """Exact ReLU net for max_i (a_i · x + c_i) with ⌈log₂ m⌉ hidden layers (m ≥ 2 affine maps)."""
    A = np.atleast_2d(np.asarray(A, dtype=float))
    c = np.asarray(c, dtype=float).reshape(-1)
    m, n = A.shape
    if m < 2 or c.shape[0] != m:
        raise InputError("A", f"need m >= 2 affine maps with m coefficients, got A {A.shape}, c {c.shape}")
    # current values are an affine image (Wc, bc) of the previous hidden layer (initially of x)
    Wc, bc = A, c
    layers: list[tuple] = []
    cur = m
    while cur > 1:
        pairs, odd = cur // 2, cur % 2
        # hidden units per pair (u, v): σ(u−v), σ(v), σ(−v); an odd one out: σ(v), σ(−v)
        rows = []
        for p in range(pairs):
            u, v = 2 * p, 2 * p + 1
            rows += [(u, v, 1), (v, None, 1), (v, None, -1)]
        if odd:
            rows += [(cur - 1, None, 1), (cur - 1, None, -1)]
        Wh = np.zeros((len(rows), cur))
        for r, (i, j, sgn) in enumerate(rows):
            Wh[r, i] = sgn
            if j is not None:
                Wh[r, j] = -1.0
        layers.append((Wh @ Wc, Wh @ bc))
        new = pairs + odd
        Wn = np.zeros((new, len(rows)))
        for p in range(pairs):
            Wn[p, 3 * p : 3 * p + 3] = [1.0, 1.0, -1.0]  # max(u,v) = σ(u−v) + σ(v) − σ(−v)
        if odd:
            Wn[pairs, 3 * pairs : 3 * pairs + 2] = [1.0, -1.0]
        Wc, bc = Wn, np.zeros(new)
        cur = new
    layers.append((Wc, bc))
    return from_layers(layers)
