"""Arora, Basu, Mianjy & Mukherjee (arXiv:1611.01491); Zhang, Naitzat & Lim (arXiv:1805.07091); bounds."""

from __future__ import annotations

import numpy as np
import torch

from ...models import mlp
from ...relu import H_net, Plane, Segment, all_bounds, from_layers, regions, tent_net
from .._registry import ClaimContext, Measured, claim

FIXED = [([[2, 1], [0, -1], [-1, -2]], [-1.265, -0.623, 0.041]), ([[-2, -2, -2], [2, 1, 2], [0, 1, 2]], [-2.325, -0.219, -1.246]),
         ([[1, 1, 0]], [-0.732])]


@claim("tent-map-2^L-pieces", paper="arXiv:1611.01491",
       statement="Composing the tent map L times (2 ReLUs per layer) gives 2^L linear pieces on [0, 1].",
       expected={str(L): 2**L for L in range(1, 7)}, tags=("relu",))
def tent(ctx: ClaimContext) -> Measured:
    got = {str(L): regions(tent_net(L), Segment([0.0], [1.0]), mode="exact").linear_regions for L in range(1, 7)}
    return Measured(got, all(got[str(L)] == 2**L for L in range(1, 7)), "exact rational segment walk")


@claim("arora-H-family-w^k-pieces", paper="arXiv:1611.01491",
       statement="H = h_{a^1} ∘ … ∘ h_{a^k} with w-piece sawtooth-like h_a (k hidden layers of width w) has w^k pieces on [0, M].",
       expected={"(w,k)": "w^k for (2,1),(3,2),(2,3),(4,2),(2,4)"}, tags=("relu",))
def hfam(ctx: ClaimContext) -> Measured:
    rng = np.random.default_rng(ctx.seed)
    got, ok = {}, True
    for w, k in [(2, 1), (3, 2), (2, 3), (4, 2), (2, 4)]:
        a_list = [np.sort(rng.uniform(0.05, 0.95, w - 1)) for _ in range(k)]
        n = regions(H_net(a_list), Segment([0.0], [1.0])).linear_regions
        got[f"({w},{k})"] = n
        ok &= n == w**k
    return Measured(got, ok, "float mode (pieces shorter than 1e-12 of the segment, created by rounding of the composed "
                    "float weights at x = 0, are dropped; exact mode counts them)")


@claim("fixed-net-14-activation-7-linear", paper="arXiv:1805.07091",
       statement="The fixed 2-3-3-1 network of spec geometry.md §1.7 has 14 activation and 7 linear regions on [-1e4, 1e4]^2 "
       "(Serra bound 40).", expected={"activation_regions": 14, "linear_regions": 7, "serra_upper": 40}, tags=("relu",))
def fixed(ctx: ClaimContext) -> Measured:
    r = regions(from_layers(FIXED), Plane.box2d(-1e4, 1e4), mode="exact")
    return Measured({"activation_regions": r.activation_regions, "linear_regions": r.linear_regions,
                     "serra_upper": r.bounds["serra_upper"], "tiling_error": r.tiling_error},
                    r.activation_regions == 14 and r.linear_regions == 7 and r.bounds["serra_upper"] == 40)


@claim("exact-count-below-upper-bounds", paper="arXiv:1711.02114",
       statement="On random networks the exact region count never exceeds the Serra et al., Montúfar 2017 and "
       "(where valid) Zhang–Naitzat–Lim upper bounds.", expected={"violations": 0}, tags=("relu",))
def below(ctx: ClaimContext) -> Measured:
    viol, rows = 0, []
    nets = [(2, 3, 3), (2, 4, 4), (2, 8, 8), (2, 6, 6, 6), (2, 5, 1)] * (1 if ctx.quick else 4)
    for i, w in enumerate(nets):
        m = mlp([*w, 1], seed=ctx.seed + i, dtype=torch.float64)
        r = regions(m, Plane.box2d(-1e3, 1e3), boundary=False)
        b = r.bounds
        ok = r.activation_regions <= b["serra_upper"] <= b["montufar17_upper"] and (not b["znl_upper_valid"] or r.activation_regions <= b["znl_upper"])
        viol += not ok
        rows.append([list(w), r.activation_regions, b["serra_upper"]])
    return Measured({"violations": viol, "nets": rows}, viol == 0)
