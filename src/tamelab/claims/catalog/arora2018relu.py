"""Arora, Basu, Mianjy & Mukherjee (arXiv:1611.01491); Zhang, Naitzat & Lim (arXiv:1805.07091); bounds."""

from __future__ import annotations

import numpy as np
import torch

from ...models import mlp
from ...relu import H_net, Plane, Segment, from_layers, regions, tent_net
from ..._numerics import CLAIM_EXACT_TOL
from .._registry import ClaimContext, Measured, claim

FIXED = [
    ([[2, 1], [0, -1], [-1, -2]], [-1.265, -0.623, 0.041]),
    ([[-2, -2, -2], [2, 1, 2], [0, 1, 2]], [-2.325, -0.219, -1.246]),
    ([[1, 1, 0]], [-0.732]),
]


@claim(
    "tent-map-2^L-pieces",
    paper="arXiv:1611.01491",
    statement="Composing the tent map L times (2 ReLUs per layer) gives 2^L linear pieces on [0, 1].",
    expected={str(L): 2**L for L in range(1, 7)},
    tags=("relu",),
    source="arXiv:1611.01491 (sawtooth/tent compositions behind the depth gap results; also arXiv:1602.04485)",
    expected_from="theory",
)
def tent(ctx: ClaimContext) -> Measured:
    """Measure the claim: Composing the tent map L times (2 ReLUs per layer) gives 2^L linear pieces on [0, 1]."""
    rs = [regions(tent_net(L), Segment([0.0], [1.0])) for L in range(1, 7)]
    got = {str(L): r.linear_regions for L, r in zip(range(1, 7), rs)}
    ok = all(got[str(L)] == 2**L for L in range(1, 7)) and all(r.ok for r in rs)
    return Measured(got, ok, "exact segment splitting (filtered exact predicates), every count certified")


_DYADIC = {2: [0.5], 3: [0.25, 0.5], 4: [0.25, 0.5, 0.75]}


@claim(
    "arora-H-family-w^k-pieces",
    paper="arXiv:1611.01491",
    statement="H = h_{a^1} ∘ … ∘ h_{a^k} with w-piece sawtooth-like h_a (k hidden layers of width w) has w^k pieces on "
    "[0, M].",
    expected={"(w,k)": "w^k for (2,1),(3,2),(2,3),(4,2),(2,4)"},
    tags=("relu",),
    source="arXiv:1611.01491 (the smoothly parameterised hard family H_{a^1,...,a^k} of the gap theorems)",
    expected_from="theory",
)
def hfam(ctx: ClaimContext) -> Measured:
    """Claim: The composition of k sawtooth layers h_a of width w has w^k linear pieces on [0, M]."""
    got, ok = {}, True
    for w, k in [(2, 1), (3, 2), (2, 3), (4, 2), (2, 4)]:
        r = regions(H_net([_DYADIC[w]] * k), Segment([0.0], [1.0]))
        got[f"({w},{k})"] = r.linear_regions
        ok &= r.linear_regions == w**k and r.ok
    return Measured(
        got,
        ok,
        "exact counts (certified); breakpoints a^i on a dyadic grid so that the composed float64 "
        "weights are the exact ones (random a^i give w^k pieces plus ~1e-16-long pieces that rounding of "
        "the composed weights creates, and exact mode reports those too)",
    )


@claim(
    "fixed-net-14-activation-7-linear",
    paper="arXiv:1805.07091",
    statement="The fixed 2-3-3-1 network (FIXED in this module) has 14 activation and 7 linear regions on [-1e4, "
    "1e4]^2 (Serra bound 40).",
    expected={"activation_regions": 14, "linear_regions": 7, "serra_upper": 40},
    tags=("relu",),
    source="Zhang–Naitzat–Lim arXiv:1805.07091 setting on a fixed example network (our counts); Serra et al. "
    "arXiv:1711.02114 Thm 1",
    expected_from="regression",
)
def fixed(ctx: ClaimContext) -> Measured:
    """Claim: The fixed 2-3-3-1 network has 14 activation and 7 linear regions (spec geometry.md §1.7)."""
    r = regions(from_layers(FIXED), Plane.box2d(-1e4, 1e4))
    return Measured(
        {
            "activation_regions": r.activation_regions,
            "linear_regions": r.linear_regions,
            "serra_upper": r.bounds["serra_upper"].value,
            "tiling_error": r.tiling_error,
            "status": r.status.value,
        },
        r.activation_regions == 14 and r.linear_regions == 7 and r.bounds["serra_upper"].value == 40 and r.ok,
    )


@claim(
    "exact-count-below-upper-bounds",
    paper="arXiv:1711.02114",
    statement="On random networks the exact region count never exceeds the Serra et al., Montúfar 2017 and "
    "(where valid) Zhang–Naitzat–Lim upper bounds.",
    expected={"violations": 0},
    tags=("relu",),
    source="arXiv:1711.02114 Thm 1; arXiv:1704.08045; arXiv:1805.07091",
    expected_from="theory",
)
def below(ctx: ClaimContext) -> Measured:
    """Claim: Exact region counts of random networks never exceed the Serra, Montúfar and ZNL upper bounds."""
    viol, rows, certified = 0, [], True
    nets = [(2, 3, 3), (2, 4, 4), (2, 8, 8), (2, 6, 6, 6), (2, 5, 1)] * (1 if ctx.quick else 4)
    for i, w in enumerate(nets):
        m = mlp([*w, 1], seed=ctx.seed + i, dtype=torch.float64)
        r = regions(m, Plane.box2d(-1e3, 1e3), boundary=False)
        b = r.bounds
        ok = r.activation_regions <= b["serra_upper"].value <= b["montufar17_upper"].value and (
            not b["znl_upper"].valid or r.activation_regions <= b["znl_upper"].value
        )
        viol += not ok
        certified &= r.ok
        rows.append([list(w), r.activation_regions, b["serra_upper"].value])
    return Measured({"violations": viol, "nets": rows}, viol == 0 and certified, "exact (certified) counts")


def _zero_level_points(model, n_points: int, seed: int, radius: float = 8.0) -> np.ndarray:
    """Points on {f = 0}: bisection on sign changes of f along seeded random segments."""
    rng = np.random.default_rng(seed)
    pts = []

    def f(X):
        return model(torch.as_tensor(X)).detach().numpy()[:, 0]

    while len(pts) < n_points:
        a, b = radius * rng.standard_normal(2), radius * rng.standard_normal(2)
        t = np.linspace(0, 1, 257)
        X = a + t[:, None] * (b - a)
        v = f(X)
        for k in np.nonzero(np.sign(v[:-1]) * np.sign(v[1:]) < 0)[0]:
            lo, hi = t[k], t[k + 1]
            for _ in range(80):
                mid = (lo + hi) / 2
                if np.sign(f((a + mid * (b - a))[None])[0]) == np.sign(v[k]):
                    lo = mid
                else:
                    hi = mid
            pts.append(a + (lo + hi) / 2 * (b - a))
    return np.array(pts[:n_points])


@claim(
    "tropical-fixed-net-10-7-monomials",
    paper="arXiv:1805.07091",
    statement="The fixed 2-3-3-1 network (FIXED in this module) equals F - G with F of 10 and G of 7 non-dominated "
    "monomials (LP pruning = upper-hull vertices), and every point of its zero level set is a tie of F ⊕ G.",
    expected={
        "monomials_F": 10,
        "monomials_G": 7,
        "hull_vertices": [10, 7],
        "max_abs_error": "< 1e-12 (relative)",
        "boundary_points_with_tie": "all sampled",
    },
    tags=("relu", "tropical"),
    source="arXiv:1805.07091 (ReLU networks as tropical rational maps; decision boundary in a tropical hypersurface); "
    "counts: our earlier exact computation on the fixed network",
    expected_from="regression",
)
def tropical_fixed(ctx: ClaimContext) -> Measured:
    """Claim: The fixed 2-3-3-1 network is F − G with 10 and 7 non-dominated monomials; its zero set ties F ⊕ G."""
    from ...relu import boundary_ties, tropical

    model = from_layers(FIXED)
    form = tropical(model, seed=ctx.seed)
    pts = _zero_level_points(model, 63, ctx.seed)
    ties = boundary_ties(form, pts)
    got = {
        "monomials_F": form.monomials_F[0],
        "monomials_G": form.monomials_G[0],
        "hull_vertices": [form.hull_vertices_F[0], form.hull_vertices_G[0]],
        "max_abs_error": form.max_abs_error,
        "boundary_points_with_tie": f"{int(ties.sum())}/{len(ties)}",
    }
    holds = (
        form.monomials_F[0] == 10
        and form.monomials_G[0] == 7
        and got["hull_vertices"] == [10, 7]
        and form.max_abs_error < CLAIM_EXACT_TOL * 100
        and bool(ties.all())
        and form.ok
    )
    return Measured(
        got,
        holds,
        "exact ZNL recursion; pruning over R^n certified (witness points / Farkas); ties counted with tagged monomials",
    )


@claim(
    "arora-zonotope-family-pieces",
    paper="arXiv:1611.01491",
    statement="ZONOTOPE^2_{k,w,m} = H ∘ γ_Z has at least the paper's Σ_{i<n} C(m-1,i)·w^k pieces; we measured "
    "exactly "
    "twice that (#vertices(Z)·w^k) on {γ_Z ≤ M} for generic generators.",
    expected={
        "(m,w,k)": "(3,2,1)->12, (3,3,1)->18, (4,2,1)->16, (3,2,2)->24, (5,2,1)->20 (paper formula: half of each)"
    },
    tags=("relu",),
    source="arXiv:1611.01491 (the ZONOTOPE^n_{k,w,m} family and its piece count)",
    expected_from="regression",
)
def zonotope(ctx: ClaimContext) -> Measured:
    """Claim: ZONOTOPE^2_{k,w,m} = H ∘ γ_Z has at least Σ_{i<n} C(m−1,i)·w^k pieces (measured: twice that)."""
    from ...relu import zonotope_net, zonotope_piece_counts, zonotope_sublevel_polygon, zonotope_vertices

    rng = np.random.default_rng(ctx.seed)
    got, ok_lower, ok_spec = {}, True, True
    for m, w, k in [(3, 2, 1), (3, 3, 1), (4, 2, 1), (3, 2, 2), (5, 2, 1)]:
        B = rng.standard_normal((m, 2))
        a = [_DYADIC[w]] * k
        # the sublevel polygon's vertices are float roundings of the exact ones: shrink it by 1e-9 so that the domain
        # lies inside {γ_Z <= M} (outside it, h ∘ h has a breakpoint at γ_Z = M and exact mode sees the slivers)
        poly = [(x * (1 - 1e-9), y * (1 - 1e-9)) for x, y in zonotope_sublevel_polygon(B)]
        r = regions(zonotope_net(B, a), Plane([0, 0], [1, 0], [0, 1], poly), boundary=False)
        f = zonotope_piece_counts(m, 2, w, k)
        got[f"({m},{w},{k})"] = {
            "linear_regions": r.linear_regions,
            "paper_formula": f["paper_formula"],
            "vertices_Z": len(zonotope_vertices(B)),
        }
        ok_lower &= r.linear_regions >= f["paper_formula"]
        ok_spec &= r.linear_regions == len(zonotope_vertices(B)) * w**k and r.ok
    return Measured(
        got,
        ok_lower and ok_spec,
        "paper's formula is a lower bound; measured (exact, certified) = "
        "#vertices(Z)·w^k; breakpoints on a dyadic grid so the composed float64 weights are exact",
    )


@claim(
    "arora-max-of-affine-depth",
    paper="arXiv:1611.01491",
    statement="max of m affine maps on R^3 is computed exactly by a ReLU net with ceil(log2 m) hidden layers.",
    expected={"max_abs_error": "< 1e-12", "hidden_layers": "ceil(log2 m) for m in 2,3,5,8"},
    tags=("relu",),
    source="arXiv:1611.01491 (max of affine maps in the PWL ⇔ ReLU-network characterisation)",
    expected_from="theory",
)
def max_affine(ctx: ClaimContext) -> Measured:
    """Claim: A max of m affine maps on R^3 is computed exactly by a ReLU net with ⌈log2 m⌉ hidden layers."""
    from math import ceil, log2

    from ...relu import max_affine_net

    rng = np.random.default_rng(ctx.seed)
    got, ok = {}, True
    for m in (2, 3, 5, 8):
        A, c = rng.standard_normal((m, 3)), rng.standard_normal(m)
        net = max_affine_net(A, c)
        X = rng.standard_normal((2000, 3))
        err = float(np.abs(net(torch.as_tensor(X)).detach().numpy()[:, 0] - (X @ A.T + c).max(1)).max())
        depth = sum(isinstance(mod, torch.nn.ReLU) for mod in net)
        got[str(m)] = {"max_abs_error": err, "hidden_layers": depth}
        ok &= err < CLAIM_EXACT_TOL and depth == ceil(log2(m))
    return Measured(got, ok)


@claim(
    "hanin-rolnick-regions-linear-in-neurons",
    paper="arXiv:1901.09021",
    statement="At He initialisation the number of regions a random segment (length 4 through 0, n0=8) crosses is about "
    "the number of neurons N, independently of depth; regions per unit area of a 2-D slice grow like N^2.",
    expected={
        "regions_per_neuron": "in [0.8, 1.1] for width 16, depths 1-4",
        "area_density_loglog_slope": "≈ 2 (in [1.6, 2.4])",
    },
    tags=("relu",),
    source="arXiv:1901.09021 (regions along lines ~ N) and arXiv:1906.00904 (per-volume N^{n0}); "
    "ranges fixed in advance (TameLab's design notes)",
    expected_from="paper",
)
def hanin(ctx: ClaimContext) -> Measured:
    """Claim: At He init a random segment crosses about N regions (N neurons), independent of depth."""
    from ...relu import hanin_rolnick

    nets = 5 if ctx.quick else 30
    got, ok = {}, True
    for depth in (1, 2, 4):
        s = hanin_rolnick([8, *[16] * depth, 1], nets=nets, seed=ctx.seed)
        got[f"depth {depth} (N={s.neurons})"] = round(s.regions_per_neuron_mean, 3)
        ok &= 0.8 <= s.regions_per_neuron_mean <= 1.1
    Ns, dens = [], []
    for w in (8, 16, 32):
        s = hanin_rolnick([8, w, w, 1], nets=max(2, nets // 2), seed=ctx.seed, plane_side=2.0)
        Ns.append(s.neurons)
        dens.append(s.regions_per_area_mean)
    slope = float(np.polyfit(np.log(Ns), np.log(dens), 1)[0])
    got["regions_per_area"] = dict(zip(map(str, Ns), np.round(dens, 1).tolist()))
    got["area_density_loglog_slope"] = slope
    ok &= 1.6 <= slope <= 2.4
    return Measured(got, ok, f"{nets} seeded He-initialised nets per width (weights N(0, 2/fan_in), biases N(0, 0.01))")
