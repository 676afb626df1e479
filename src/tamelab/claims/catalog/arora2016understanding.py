"""Claims of Arora, Basu, Mianjy & Mukherjee, "Understanding deep neural networks with rectified linear units".

Arora, Basu, Mianjy & Mukherjee, "Understanding deep neural networks with rectified linear units"
(arXiv:1611.01491, ICLR 2018) = chapter 2 of Mukherjee's thesis (arXiv:2104.14033): every PWL function on R^n
is a ReLU net of depth ceil(log2(n+1))+1 (Thm 2.1), and the depth–size gap (Lemma D.5, Thm 3.1, Cor 3.4).

Library code: :mod:`tamelab.relu.arora2016pwl`. The older module ``arora2018relu.py`` covers the max-of-affine
depth, the H-family piece counts and the zonotope family; this one covers what it did not.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ...relu import arora2016pwl as pwl
from .._registry import ClaimContext, Measured, claim

PAPER = "arXiv:1611.01491"
#: largest relative float64 error allowed between the constructed ReLU net and f (the exact check is rational)
FLOAT_RTOL = 1e-12
#: slack when comparing the integer Lemma-D.5 minimum size with the real Thm 3.1 bound
BOUND_SLACK = 1e-12


@claim(
    "arora-pwl-to-relu-depth-bound",
    paper=PAPER,
    statement="Every continuous piecewise-linear function R^n -> R is represented exactly by a ReLU DNN of depth at "
    "most ceil(log2(n+1)) + 1 (via f = sum_j s_j max_{i in S_j} l_i with |S_j| <= n+1). Built here on random lattice "
    "PWL functions max_g min_{j in S_g} l_j with integer pieces, n = 1..4, and checked exactly.",
    expected={
        "exact_mismatches": 0,
        "depth": "<= ceil(log2(n+1)) + 1 for every function, = when some term has n+1 pieces",
        "max_float_error": "< 1e-12 (relative)",
    },
    tags=("relu", "thesis", "exact"),
    source="arXiv:1611.01491 Thm 2.1 (proof via Wang & Sun 2005, Thm 1); thesis arXiv:2104.14033 ch. 2",
    expected_from="paper",
)
def pwl_depth(ctx: ClaimContext) -> Measured:
    """Claim: Every PWL function on R^n is exactly a ReLU net of depth ⌈log2(n+1)⌉+1 (Arora et al. Thm 2.1)."""
    per_n = 1 if ctx.quick else 5
    ns = (1, 2, 3) if ctx.quick else (1, 2, 3, 4)
    rows, mism, depth_ok, err = {}, 0, True, 0.0
    for n in ns:
        for i in range(per_n):
            seed = 1000 * ctx.seed + 10 * n + i
            m = n + 4
            f = pwl.random_lattice_pwl(n, m, groups=3, group_size=n + 2, seed=seed)
            net = pwl.pwl_relu_net(f)
            chk = pwl.check_exact(
                f,
                net,
                seed=seed,
                random_points=40 if ctx.quick else 150,
                float_points=2000 if ctx.quick else 20000,
                vertex_limit=40 if ctx.quick else 150,
            )
            widest = max(len(t.idx) for t in net.terms)
            bound = pwl.depth_bound(n)
            naive = math.ceil(math.log2(len(f.groups))) + math.ceil(math.log2(max(len(g) for g in f.groups))) + 1
            ok_depth = net.depth <= bound and (widest < n + 1 or net.depth == bound)
            depth_ok &= ok_depth
            mism += chk.mismatches
            err = max(err, chk.max_float_error)
            rows[f"n={n} #{i}"] = {
                "pieces": m,
                "groups": len(f.groups),
                "terms": len(net.terms),
                "widest_term": widest,
                "depth": net.depth,
                "bound": bound,
                "size": net.size,
                "exact_points": chk.points,
                "vertices": chk.vertices,
                "mismatches": chk.mismatches,
                "naive_depth_max_of_mins": naive,
            }
    vals = {"exact_mismatches": mism, "depth_within_bound": depth_ok, "max_float_error": err, "functions": rows}
    return Measured(
        vals,
        mism == 0 and depth_ok and err < FLOAT_RTOL,
        "Wang–Sun step computed by max–min inclusion–exclusion + the Euler relation over a regular "
        "triangulation of the lifted gradients (module tamelab.relu.arora2016pwl); exact = integer "
        "weights evaluated in rational arithmetic at arrangement vertices (n+1 pieces equal) and random "
        "rational points. 'naive_depth' = nesting max/min of the lattice form directly.",
    )


@claim(
    "arora-lemma-d5-piece-bound",
    paper=PAPER,
    statement="An R -> R ReLU DNN with depth k+1 and widths w_1..w_k has at most 2^(k-1) (w_1+1) w_2...w_k linear "
    "pieces. Checked by exact (rational) piece counts of random nets with k <= 4, w_i <= 5, and of the hard family H; "
    "for k = 1 the bound w_1 + 1 is attained by generic nets.",
    expected={"violations": 0, "k=1 attains w_1+1": True},
    tags=("relu", "thesis", "exact"),
    source="arXiv:1611.01491 Lemma D.5 (used for Thm 3.1)",
    expected_from="paper",
)
def lemma_d5(ctx: ClaimContext) -> Measured:
    """Claim: A depth-(k+1) R→R ReLU net has at most 2^(k-1)(w_1+1)w_2⋯w_k pieces (Lemma D.5), by exact counts."""
    rng = np.random.default_rng(ctx.seed)
    nets = 12 if ctx.quick else 60
    viol, tight_k1, rows, ratio = 0, True, [], 0.0
    for i in range(nets):
        k = 1 + i % 4
        widths = [int(v) for v in rng.integers(1, 6, size=k)]
        dims = [1, *widths, 1]
        layers = [(rng.standard_normal((dims[j + 1], dims[j])), rng.standard_normal(dims[j + 1])) for j in range(k + 1)]
        p, _ = pwl.pieces_1d(layers)
        b = pwl.lemma_d5_bound(widths)
        viol += p > b
        ratio = max(ratio, p / b)
        if k == 1:
            tight_k1 &= p == widths[0] + 1
        rows.append([widths, p, b])
    hard = {}
    for w, k in ((2, 3), (3, 2), (4, 2)):
        a = [
            sorted(Fraction(int(v), 1000) for v in rng.choice(np.arange(1, 1000), w - 1, replace=False))
            for _ in range(k)
        ]
        p, _ = pwl.pieces_1d(pwl.H_layers_exact(a))
        b = pwl.lemma_d5_bound([w] * k)
        viol += p > b
        hard[f"H(w={w},k={k})"] = [p, b]
    vals = {
        "violations": viol,
        "k=1 attains w_1+1": tight_k1,
        "max_pieces_over_bound": ratio,
        "random_nets [widths, pieces, bound]": rows,
        "hard_family [pieces, bound]": hard,
    }
    return Measured(
        vals,
        viol == 0 and tight_k1,
        "pieces counted on all of R by exact breakpoint propagation "
        "(tamelab.relu.arora2016pwl.pieces_1d); N(0,1) weights and biases",
    )


@claim(
    "arora-depth-size-gap",
    paper=PAPER,
    statement="H = h_{a^1}∘...∘h_{a^k} (k hidden layers of width w, size wk) has w^k pieces; any ReLU DNN of depth "
    "k'+1 <= k+1 representing it has size >= (1/2) k' w^(k/k') - 1 (Thm 3.1, from Lemma D.5/D.6). Cor. 3.4: depth "
    "k^2+1 and size k^3 versus >= (1/2) k^(k+1) - 1 units at depth k+1. Checked: exact piece counts; the exact "
    "minimum size allowed by Lemma D.5 at every k' is >= the Thm 3.1 bound; and the depth-2 net (Thm 2.2) built for "
    "H equals H exactly with w^k + O(1) units versus wk in depth k+1.",
    expected={
        "pieces_on_[0,M]": "w^k",
        "lemma_d5_min_size >= thm_3_1_bound": True,
        "shallow_net_exact": True,
        "shallow_units": "pieces on R (>= w^k)",
    },
    tags=("relu", "thesis", "exact"),
    source="arXiv:1611.01491 Thm 3.1, Lemma D.5, Lemma D.6, Cor 3.4, Thm 2.2",
    expected_from="paper",
)
def depth_size_gap(ctx: ClaimContext) -> Measured:
    """Claim: The hard family H has w^k pieces; shallower nets need size ≥ ½k'w^(k/k') − 1 (Thm 3.1, Cor 3.4)."""
    rng = np.random.default_rng(ctx.seed)
    cases = [(2, 3), (3, 2), (2, 4), (3, 3)] if ctx.quick else [(2, 3), (3, 2), (2, 4), (4, 2), (3, 3), (2, 6), (4, 3)]
    rows, ok = {}, True
    for w, k in cases:
        a = [
            sorted(Fraction(int(v), 1000) for v in rng.choice(np.arange(1, 1000), w - 1, replace=False))
            for _ in range(k)
        ]
        L = pwl.H_layers_exact(a)
        p_R, bps = pwl.pieces_1d(L)
        p_M = 1 + sum(1 for x in bps if 0 < x < 1)
        gaps = {}
        for kp in range(1, k + 1):
            s_min = pwl.min_size_for_pieces(w**k, kp)
            bound = pwl.gap_size_lower_bound(w, k, kp)
            gaps[f"k'={kp}"] = {"lemma_d5_min_size": s_min, "thm_3_1_bound": round(bound, 4)}
            ok &= s_min >= bound - BOUND_SLACK
        shallow = pwl.shallow_equivalent(L)
        pts = bps + [(u + v) / 2 for u, v in zip(bps, bps[1:])] + [bps[0] - 3, bps[-1] + 3]
        exact = all(pwl.eval_layers_exact(shallow, [x])[0] == pwl.eval_layers_exact(L, [x])[0] for x in pts)
        units = int(shallow[0][0].shape[0])
        ok &= p_M == w**k and exact and units >= w**k - 1
        rows[f"(w={w},k={k})"] = {
            "pieces_on_[0,M]": p_M,
            "pieces_on_R": p_R,
            "deep_size": w * k,
            "shallow_units": units,
            "shallow_net_exact": exact,
            "gap": gaps,
        }
    cor = {}
    for kk in (2,) if ctx.quick else (2, 3):
        p = kk ** (kk * kk)
        s_min = pwl.min_size_for_pieces(p, kk)
        cor[f"k={kk}"] = {
            "depth": kk * kk + 1,
            "size": kk**3,
            "bound_at_depth_k+1": 0.5 * kk ** (kk + 1) - 1,
            "lemma_d5_min_size": s_min,
        }
        ok &= s_min >= 0.5 * kk ** (kk + 1) - 1
        if kk == 3:  # exact piece count of the 9-hidden-layer net (≈ 20k pieces, ~10 s)
            a = [
                sorted(Fraction(int(v), 1000) for v in rng.choice(np.arange(1, 1000), 2, replace=False))
                for _ in range(9)
            ]
            _, b3 = pwl.pieces_1d(pwl.H_layers_exact(a))
            cor["k=3"]["pieces_on_[0,M]"] = 1 + sum(1 for x in b3 if 0 < x < 1)
            ok &= cor["k=3"]["pieces_on_[0,M]"] == 3**9
    return Measured(
        {"hard_family": rows, "corollary_3_4": cor},
        bool(ok),
        "a^i rational in (0, 1), M = 1; pieces exact; the shallow net is read off H's exact breakpoints",
    )
