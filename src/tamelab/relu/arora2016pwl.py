r"""Every continuous PWL function on R^n is a ReLU net of depth ⌈log2(n+1)⌉+1 (Arora et al., arXiv:1611.01491).

Every continuous piecewise-linear (PWL) function on :math:`\mathbb R^n` is a ReLU net of depth
:math:`\lceil\log_2(n+1)\rceil+1`, built exactly; and the depth–size gap arithmetic
(Arora, Basu, Mianjy & Mukherjee, arXiv:1611.01491, Thm 2.1, Lemma D.5, Lemma D.6, Thm 3.1, Cor 3.4;
Mukherjee's thesis arXiv:2104.14033 ch. 2).

**The route of Thm 2.1.** By Wang & Sun (2005) every PWL :math:`f` is a signed sum
:math:`f=\sum_j s_j\max_{i\in S_j}\ell_i` of maxima of at most :math:`n+1` affine maps; each such max is a
ReLU net with :math:`\lceil\log_2(n+1)\rceil` hidden layers (pairwise
:math:`\max(u,v)=\sigma(u-v)+\sigma(v)-\sigma(-v)`, an odd one carried by :math:`t=\sigma(t)-\sigma(-t)`),
and the branches run in parallel and are summed by the linear output layer.

**Our constructive Wang–Sun step** (the paper cites the decomposition; we compute one). Input: a lattice
form :math:`f=\max_g\min_{j\in S_g}\ell_j` (every PWL function has one, Tarela–Martínez) or a
difference of two max-affine functions.

1. :math:`\max_g h_g=\sum_{\emptyset\ne I}(-1)^{|I|+1}\min_{g\in I}h_g` (max–min inclusion–exclusion), and
   :math:`\min_{g\in I}h_g=\min_{j\in\cup_{g\in I}S_g}\ell_j=-\max_{j}(-\ell_j)`: a signed sum of max-affine
   functions.
2. A max-affine :math:`F(x)=\max_j(\langle a_j,x\rangle+c_j)` with :math:`m>n+1` pieces: lift the gradients
   :math:`a_j` to heights :math:`c_j`, take the upper hull, triangulate it (a regular triangulation
   :math:`T` of :math:`P=\mathrm{conv}\{a_j\}`, dimension :math:`d\le n`). For fixed :math:`x` the map
   :math:`K\mapsto\max_{a\in K}(\langle a,x\rangle+\lambda(a))` (λ the upper envelope, concave) is a valuation
   on convex subsets of :math:`P` (for :math:`A\cup B` convex, the max over :math:`A\cap B` is the min of
   the two maxima), so the Euler relation :math:`1_P=\sum_{F\in T,\,F\not\subset\partial P}(-1)^{d-\dim F}1_F`
   gives :math:`F(x)=\sum_{F\text{ interior}}(-1)^{d-\dim F}\max_{j\in F}\ell_j(x)` with
   :math:`|F|\le d+1\le n+1`. The triangulation comes from Qhull (floats) and only supplies index sets;
   the identity is then **checked exactly** in rational arithmetic (:func:`check_exact`).

With integer affine pieces the whole network has integer weights, so it is evaluated exactly
(``fractions.Fraction``) at the vertices of the pieces' arrangement and at random rational points.

**Depth–size gap** (1-D, :math:`\mathbb R\to\mathbb R`): Lemma D.5 bounds the pieces of a depth-:math:`(k+1)`
net with widths :math:`w_1..w_k` by :math:`2^{k-1}(w_1+1)w_2\cdots w_k`; :func:`min_size_for_pieces` inverts it
exactly over integer width vectors, and Thm 3.1's :math:`\tfrac12k'w^{k/k'}-1` must lie below.
:func:`pieces_1d` counts the pieces of a 1-D net exactly (rational breakpoint propagation).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np
import torch
from torch import nn

from ..errors import InputError

__all__ = [
    "ExactCheck",
    "H_layers_exact",
    "HingeTerm",
    "LatticePWL",
    "PWLReLUNet",
    "arrangement_vertices",
    "check_exact",
    "compose_layers",
    "depth_bound",
    "eval_layers_exact",
    "gap_size_lower_bound",
    "h_a_layers_exact",
    "hinge_terms",
    "lemma_d5_bound",
    "max_affine_terms",
    "max_pieces_at_size",
    "min_size_for_pieces",
    "pieces_1d",
    "pwl_1d_layers_exact",
    "pwl_relu_net",
    "random_lattice_pwl",
    "shallow_equivalent",
]


def depth_bound(n: int) -> int:
    """Thm 2.1: ⌈log₂(n+1)⌉ + 1 (hidden layers + 1)."""
    return math.ceil(math.log2(n + 1)) + 1


# ----------------------------------------------------------------------------------------- PWL functions
@dataclasses.dataclass
class LatticePWL:
    r""":math:`f(x)=\max_g\min_{j\in S_g}(\langle a_j,x\rangle+c_j)` with integer (or rational) pieces."""

    A: np.ndarray  # (m, n) object array of ints/Fractions
    c: np.ndarray  # (m,)
    groups: list[tuple[int, ...]]

    @property
    def n(self) -> int:
        """The input dimension."""
        return int(self.A.shape[1])

    def exact(self, x: Sequence[Fraction]) -> Fraction:
        """The value ``max_g min_{j∈g} (a_j·x + c_j)`` at ``x`` in exact rational arithmetic."""
        vals = [sum((self.A[j, i] * x[i] for i in range(self.n)), Fraction(0)) + self.c[j] for j in range(len(self.c))]
        return max(min(vals[j] for j in g) for g in self.groups)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """The values at the rows of ``X`` (float)."""
        V = np.asarray(X, float) @ self.A.astype(float).T + self.c.astype(float)
        return np.max(np.stack([V[:, list(g)].min(1) for g in self.groups], 1), 1)


def random_lattice_pwl(n: int, m: int, groups: int, group_size: int, *, seed: int = 0, coef: int = 5) -> LatticePWL:
    """Random lattice PWL function: ``m`` integer affine pieces in [-coef, coef], ``groups`` random subsets."""
    if n < 1 or m < 1 or groups < 1 or not 1 <= group_size <= m:
        raise InputError(
            "random_lattice_pwl", f"need n, m, groups >= 1 and 1 <= group_size <= m (got {n, m, groups, group_size})"
        )
    rng = np.random.default_rng(seed)
    A = rng.integers(-coef, coef + 1, size=(m, n)).astype(object)
    c = rng.integers(-coef, coef + 1, size=m).astype(object)
    gs = [tuple(sorted(rng.choice(m, size=group_size, replace=False).tolist())) for _ in range(groups)]
    return LatticePWL(A, c, gs)


# ------------------------------------------------------------------------------- exact linear algebra
def _rank_exact(M: list[list[Fraction]]) -> int:
    M = [list(map(Fraction, r)) for r in M]
    rank, cols = 0, len(M[0]) if M else 0
    for col in range(cols):
        piv = next((r for r in range(rank, len(M)) if M[r][col] != 0), None)
        if piv is None:
            continue
        M[rank], M[piv] = M[piv], M[rank]
        for r in range(len(M)):
            if r != rank and M[r][col] != 0:
                f = M[r][col] / M[rank][col]
                M[r] = [a - f * b for a, b in zip(M[r], M[rank])]
        rank += 1
    return rank


def _solve_exact(M: list[list[Fraction]], b: list[Fraction]) -> list[Fraction] | None:
    """Unique solution of a square system, or None when singular."""
    n = len(M)
    Aug = [list(map(Fraction, r)) + [Fraction(v)] for r, v in zip(M, b)]
    for col in range(n):
        piv = next((r for r in range(col, n) if Aug[r][col] != 0), None)
        if piv is None:
            return None
        Aug[col], Aug[piv] = Aug[piv], Aug[col]
        for r in range(n):
            if r != col and Aug[r][col] != 0:
                f = Aug[r][col] / Aug[col][col]
                Aug[r] = [a - f * q for a, q in zip(Aug[r], Aug[col])]
    return [Aug[i][n] / Aug[i][i] for i in range(n)]


# --------------------------------------------------------------------------- the Wang–Sun decomposition
def _interior_faces(simplices: list[tuple[int, ...]], d: int) -> list[tuple[tuple[int, ...], int]]:
    """Interior faces F of a pure d-dimensional simplicial complex covering a convex polytope, with (-1)^{d-dim F}."""
    ridge_count: dict[frozenset, int] = {}
    for s in simplices:
        for r in itertools.combinations(s, d):
            ridge_count[frozenset(r)] = ridge_count.get(frozenset(r), 0) + 1
    boundary = [r for r, k in ridge_count.items() if k == 1]
    faces: set[frozenset] = set()
    for s in simplices:
        for k in range(1, d + 2):
            faces.update(frozenset(f) for f in itertools.combinations(s, k))
    out = []
    for F in faces:
        if d > 0 and any(F <= r for r in boundary):
            continue
        out.append((tuple(sorted(F)), (-1) ** (d - (len(F) - 1))))
    return sorted(out)


def max_affine_terms(A, c, *, hull_tol: float = 1e-12) -> list[tuple[int, tuple[int, ...]]]:
    r"""Write a max of affine functions as a signed sum of maxes of at most n+1 affine functions.

    Write :math:`\max_j(\langle a_j,x\rangle+c_j)` as :math:`\sum_F\epsilon_F\max_{j\in F}\ell_j` with
    :math:`|F|\le n+1`, :math:`\epsilon_F=\pm1` (regular triangulation of the lifted gradients; see module doc).

    ``hull_tol``: a lifted-hull facet is an upper facet when the last component of its unit normal exceeds
    ``hull_tol`` (relative). Returns ``[(sign, indices), ...]`` (indices into the rows of ``A``). Not yet checked:
    use :func:`check_exact`.
    """
    from scipy.spatial import ConvexHull

    A = np.atleast_2d(np.asarray(A, dtype=object))
    c = np.asarray(c, dtype=object).reshape(-1)
    m, n = A.shape
    if c.shape[0] != m or m == 0:
        raise InputError("A", f"need m >= 1 affine maps with m constants, got A {A.shape}, c {c.shape}")
    # pieces with equal gradients: only the largest constant can be the max
    best: dict[tuple, int] = {}
    for j in range(m):
        key = tuple(Fraction(v) for v in A[j])
        if key not in best or Fraction(c[j]) > Fraction(c[best[key]]):
            best[key] = j
    keep = sorted(best.values())
    if len(keep) <= n + 1:
        return [(1, tuple(keep))]
    G = [[Fraction(v) for v in A[j]] for j in keep]
    d = _rank_exact([[g - g0 for g, g0 in zip(row, G[0])] for row in G[1:]])
    if len(keep) <= d + 1:
        return [(1, tuple(keep))]
    P = np.array([[float(v) for v in row] for row in G])
    P0 = P - P.mean(0)
    if d < n:  # coordinates on the affine hull of the gradients (only the combinatorics are used)
        _, _, Vt = np.linalg.svd(P0, full_matrices=False)
        P0 = P0 @ Vt[:d].T
    lifted = np.hstack([P0, np.array([[float(c[j])] for j in keep])])
    if d == 1:
        # 1-D: upper hull of points in the plane, by sorting (Qhull is not needed)
        order = np.argsort(P0[:, 0], kind="stable")
        hull: list[int] = []
        for i in order:
            while len(hull) >= 2:
                (x1, y1), (x2, y2), (x3, y3) = lifted[hull[-2]], lifted[hull[-1]], lifted[i]
                if (x2 - x1) * (y3 - y1) - (y2 - y1) * (x3 - x1) >= 0:  # not a right turn: drop the middle point
                    hull.pop()
                else:
                    break
            hull.append(int(i))
        simplices = [tuple(sorted((hull[i], hull[i + 1]))) for i in range(len(hull) - 1)]
    else:
        Gl = [row + [Fraction(c[j])] for row, j in zip(G, keep)]
        flat = _rank_exact([[g - g0 for g, g0 in zip(row, Gl[0])] for row in Gl[1:]]) == d
        if flat:  # heights affine in the gradients: λ is affine on P and any triangulation of P will do
            from scipy.spatial import Delaunay

            simplices = [tuple(sorted(map(int, s))) for s in Delaunay(P0, qhull_options="Qt Qbb Qc Qz").simplices]
        else:
            ch = ConvexHull(lifted, qhull_options="Qt")
            upper = ch.equations[:, d] > hull_tol * np.abs(ch.equations[:, :d]).max(initial=1.0)
            simplices = [tuple(sorted(map(int, s))) for s, u in zip(ch.simplices, upper) if u]
    terms = _interior_faces(simplices, d)
    return [(sign, tuple(keep[i] for i in F)) for F, sign in terms]


@dataclasses.dataclass(frozen=True)
class HingeTerm:
    r"""``coef · max_{j ∈ idx} (s · ℓ_j)`` with ``s = ±1``: the paper's :math:`s_j\max_{i\in S_j}\ell_i`."""

    coef: int
    s: int
    idx: tuple[int, ...]


def hinge_terms(f: LatticePWL, *, max_groups: int = 10) -> list[HingeTerm]:
    """Signed sum of maxima of at most n+1 affine maps equal to the lattice function ``f`` (module doc, steps 1–2)."""
    q = len(f.groups)
    if q > max_groups:
        raise InputError("f.groups", f"{q} groups: inclusion–exclusion has 2^{q} terms", f"use <= {max_groups} groups")
    acc: dict[tuple[int, tuple[int, ...]], int] = {}
    for k in range(1, q + 1):
        for subset in itertools.combinations(range(q), k):
            U = sorted(set().union(*(f.groups[g] for g in subset)))
            sgn = (-1) ** (k + 1)
            # min_U ℓ = −max_U(−ℓ)
            for eps, idx in max_affine_terms(-f.A[U], -f.c[U]):
                key = (-1, tuple(U[i] for i in idx))
                acc[key] = acc.get(key, 0) - sgn * eps
    return [HingeTerm(v, s, idx) for (s, idx), v in sorted(acc.items()) if v != 0]


# ------------------------------------------------------------------------------------------ the net
@dataclasses.dataclass
class PWLReLUNet:
    """A ReLU net as integer/rational layers ``[(W, b), ...]`` (last layer linear, b = 0)."""

    layers: list[tuple[np.ndarray, np.ndarray]]
    terms: list[HingeTerm]

    @property
    def hidden_layers(self) -> int:
        """The number of hidden (ReLU) layers."""
        return len(self.layers) - 1

    @property
    def depth(self) -> int:
        """Paper's depth: hidden layers + 1."""
        return len(self.layers)

    @property
    def size(self) -> int:
        """The paper's size: the number of hidden units."""
        return sum(W.shape[0] for W, _ in self.layers[:-1])

    def exact(self, x: Sequence[Fraction]) -> Fraction:
        """The network's value at ``x`` in exact rational arithmetic."""
        return eval_layers_exact(self.layers, x)[0]

    def torch(self, dtype=torch.float64) -> nn.Sequential:
        """The network as a ``Linear``/``ReLU`` ``nn.Sequential`` in ``dtype``."""
        from .arora2018hard import from_layers

        return from_layers([(W.astype(float), b.astype(float)) for W, b in self.layers], dtype=dtype)


def _max_branch(rows: list[tuple[list, object]], L: int, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Hidden layers (L of them) + output row computing max of the affine rows ``(a, c)`` exactly."""
    E = np.array([list(a) for a, _ in rows], dtype=object).reshape(len(rows), n)  # values as maps of the inputs
    e0 = np.array([cc for _, cc in rows], dtype=object)
    layers = []
    for _ in range(L):
        units, ubias, nxt = [], [], []
        vals = list(range(E.shape[0]))
        for i in range(0, len(vals), 2):
            if i + 1 < len(vals):
                u, v = vals[i], vals[i + 1]
                base = len(units)
                units += [E[u] - E[v], E[v], -E[v]]
                ubias += [e0[u] - e0[v], e0[v], -e0[v]]
                nxt.append({base: 1, base + 1: 1, base + 2: -1})
            else:
                t, base = vals[i], len(units)
                units += [E[t], -E[t]]
                ubias += [e0[t], -e0[t]]
                nxt.append({base: 1, base + 1: -1})
        W = np.array(units, dtype=object)
        layers.append((W, np.array(ubias, dtype=object)))
        E = np.zeros((len(nxt), len(units)), dtype=object)
        for r, comb in enumerate(nxt):
            for col, v in comb.items():
                E[r, col] = v
        e0 = np.zeros(len(nxt), dtype=object)
    assert E.shape[0] == 1
    layers.append((E, e0))
    return layers


def pwl_relu_net(f: LatticePWL, terms: list[HingeTerm] | None = None) -> PWLReLUNet:
    r"""The Thm 2.1 network for ``f``: parallel max-branches of ⌈log₂(max |S_j|)⌉ ≤ ⌈log₂(n+1)⌉ hidden layers."""
    terms = hinge_terms(f) if terms is None else terms
    if not terms:  # f ≡ 0
        terms = [HingeTerm(0, 1, (0,))]
    n = f.n
    M = max(len(t.idx) for t in terms)
    L = max(1, math.ceil(math.log2(M)))
    branches = []
    for t in terms:
        rows = [([t.s * a for a in f.A[j]], t.s * f.c[j]) for j in t.idx]
        branches.append((t.coef, _max_branch(rows, L, n)))
    layers = []
    for ell in range(L + 1):
        blocks = [br[ell] for _, br in branches]
        if ell == 0:
            W = np.vstack([B[0] for B in blocks])
        else:
            rows_ = sum(B[0].shape[0] for B in blocks)
            cols = sum(B[0].shape[1] for B in blocks)
            W = np.zeros((rows_, cols), dtype=object)
            r0 = c0 = 0
            for B in blocks:
                W[r0 : r0 + B[0].shape[0], c0 : c0 + B[0].shape[1]] = B[0]
                r0, c0 = r0 + B[0].shape[0], c0 + B[0].shape[1]
        b = np.concatenate([B[1] for B in blocks])
        if ell == L:  # linear output layer: Σ_j coef_j · branch_j
            W = np.array([np.concatenate([coef * B[ell][0][0] for coef, B in branches])], dtype=object)
            b = np.zeros(1, dtype=object)
        layers.append((W.astype(object), b.astype(object)))
    return PWLReLUNet(layers, terms)


def eval_layers_exact(layers: Sequence[tuple[np.ndarray, np.ndarray]], x: Sequence[Fraction]) -> list[Fraction]:
    """Exact forward pass (ReLU between layers, none after the last) in rational arithmetic.

    Integer weights (the Thm 2.1 nets) take an integer path: with x = p/D, every pre-activation is scaled by D
    (ReLU is positively homogeneous), so the pass is exact Python-integer arithmetic.
    """
    xs = [Fraction(v) for v in x]
    integer = all(
        all(isinstance(v, (int, np.integer)) for v in np.asarray(W, dtype=object).ravel())
        and all(isinstance(v, (int, np.integer)) for v in np.asarray(b, dtype=object).ravel())
        for W, b in layers
    )
    if integer:
        D = math.lcm(*[v.denominator for v in xs]) if xs else 1
        h = np.array([int(v * D) for v in xs], dtype=object)
        for i, (W, b) in enumerate(layers):
            z = np.asarray(W, dtype=object).dot(h) + np.asarray(b, dtype=object) * D
            h = z if i == len(layers) - 1 else np.array([max(0, v) for v in z], dtype=object)
        return [Fraction(int(v), D) for v in h]
    h = xs
    for i, (W, b) in enumerate(layers):
        z = [
            sum((Fraction(W[r, k]) * h[k] for k in range(W.shape[1])), Fraction(0)) + Fraction(b[r])
            for r in range(W.shape[0])
        ]
        h = z if i == len(layers) - 1 else [v if v > 0 else Fraction(0) for v in z]
    return h


def arrangement_vertices(f: LatticePWL, *, limit: int = 200, seed: int = 0) -> list[list[Fraction]]:
    """Points where n+1 affine pieces coincide (vertices of the pieces' arrangement), exact; at most ``limit``."""
    n, m = f.n, len(f.c)
    subsets = list(itertools.combinations(range(m), n + 1))
    rng = np.random.default_rng(seed)
    if len(subsets) > 4 * limit:
        subsets = [subsets[i] for i in rng.choice(len(subsets), 4 * limit, replace=False)]
    pts = []
    for S in subsets:
        j0 = S[0]
        M = [[Fraction(f.A[j, i]) - Fraction(f.A[j0, i]) for i in range(n)] for j in S[1:]]
        b = [Fraction(f.c[j0]) - Fraction(f.c[j]) for j in S[1:]]
        x = _solve_exact(M, b)
        if x is not None:
            pts.append(x)
        if len(pts) >= limit:
            break
    return pts


@dataclasses.dataclass
class ExactCheck:
    """The result of checking a constructed network against the PWL function exactly, at points and vertices."""

    points: int
    vertices: int
    mismatches: int
    max_float_error: float


def check_exact(
    f: LatticePWL,
    net: PWLReLUNet,
    *,
    random_points: int = 100,
    float_points: int = 5000,
    seed: int = 0,
    vertex_limit: int = 100,
) -> ExactCheck:
    """Compare ``net`` with ``f``:

    exactly (rationals) at arrangement vertices and random rational points, and in float64 on ``float_points`` Gaussian
    points (scale 3).
    """
    rng = np.random.default_rng(seed)
    verts = arrangement_vertices(f, limit=vertex_limit, seed=seed)
    rnd = [[Fraction(int(v), 97) for v in rng.integers(-400, 401, f.n)] for _ in range(random_points)]
    bad = sum(net.exact(x) != f.exact(x) for x in verts + rnd)
    X = 3 * rng.standard_normal((float_points, f.n))
    with torch.no_grad():
        y = net.torch()(torch.as_tensor(X)).numpy()[:, 0]
    err = float(np.max(np.abs(y - f(X)) / (1 + np.abs(f(X))))) if float_points else 0.0
    return ExactCheck(len(verts) + len(rnd), len(verts), int(bad), err)


# ------------------------------------------------------------------------------------ depth–size gap
def lemma_d5_bound(widths: Sequence[int]) -> int:
    """Lemma D.5: a ℝ→ℝ ReLU net with hidden widths w_1..w_k has at most 2^{k−1}(w_1+1)w_2⋯w_k pieces."""
    w = [int(v) for v in widths]
    if not w or min(w) < 1:
        raise InputError("widths", f"need k >= 1 hidden widths >= 1, got {widths}")
    return 2 ** (len(w) - 1) * (w[0] + 1) * math.prod(w[1:])


def max_pieces_at_size(size: int, k: int) -> int:
    """Max of :func:`lemma_d5_bound` over integer widths w_1..w_k ≥ 1 with Σ w_i = size (exact search)."""
    if size < k:
        return 0
    best = 0
    # (w_1+1) w_2 ... w_k with fixed sum: enumerate w_1, then balance the rest (product of integers with a fixed
    # sum is maximised by near-equal parts)
    for w1 in range(1, size - (k - 1) + 1):
        rest = size - w1
        if k == 1:
            if rest == 0:
                best = max(best, w1 + 1)
            continue
        q, r = divmod(rest, k - 1)
        if q < 1:
            continue
        prod_rest = (q + 1) ** r * q ** (k - 1 - r)
        best = max(best, 2 ** (k - 1) * (w1 + 1) * prod_rest)
    return best


def min_size_for_pieces(pieces: int, k: int) -> int:
    """Smallest size s such that some depth-(k+1) width vector of size s has Lemma D.5 bound ≥ ``pieces``:

    every depth-(k+1) net with that many pieces has at least this many units.
    """
    s = k
    while max_pieces_at_size(s, k) < pieces:
        s += 1
    return s


def gap_size_lower_bound(w: int, k: int, kp: int) -> float:
    """Thm 3.1: representing H (depth k+1, width w) at depth k'+1 needs size ≥ ½ k′ w^{k/k′} − 1."""
    return 0.5 * kp * w ** (k / kp) - 1


def pieces_1d(layers: Sequence[tuple], *, exact: bool = True) -> tuple[int, list]:
    """Exact number of linear pieces on ℝ of a ℝ→ℝ ReLU net, by propagating breakpoints.

    Exact number of linear pieces on all of ℝ of a ℝ→ℝ ReLU net ``[(W, b), ...]`` (last layer linear), by
    propagating breakpoints layer by layer; adjacent pieces with equal (slope, intercept) are merged.

    Returns ``(pieces, breakpoints)``.
    """
    conv = Fraction if exact else float
    Ls = [
        (
            np.array([[conv(v) for v in row] for row in np.atleast_2d(np.asarray(W, dtype=object))], dtype=object),
            np.array([conv(v) for v in np.asarray(b, dtype=object).reshape(-1)], dtype=object),
        )
        for W, b in layers
    ]
    if Ls[0][0].shape[1] != 1:
        raise InputError("layers", "pieces_1d is for ℝ→ℝ nets (input dimension 1)")
    # intervals between breakpoints; each carries the affine map x -> s*x + t of every unit of the current layer
    bps: list = []
    S = [np.array([conv(1)], dtype=object)]  # one interval, identity input
    T = [np.array([conv(0)], dtype=object)]
    for li, (W, b) in enumerate(Ls):
        S = [W.dot(s) for s in S]
        T = [W.dot(t) + b for t in T]
        if li == len(Ls) - 1:
            break
        nb, nS, nT = [], [], []
        for iv in range(len(S)):
            lo = bps[iv - 1] if iv > 0 else None
            hi = bps[iv] if iv < len(bps) else None
            cuts = set()
            for s, t in zip(S[iv], T[iv]):
                if s != 0:
                    z = -t / s
                    if (lo is None or z > lo) and (hi is None or z < hi):
                        cuts.add(z)
            cuts = sorted(cuts)
            edges = [lo] + cuts + [hi]
            for q in range(len(edges) - 1):
                a, bb = edges[q], edges[q + 1]
                if a is None and bb is None:
                    mid = conv(0)
                elif a is None:
                    mid = bb - 1
                elif bb is None:
                    mid = a + 1
                else:
                    mid = (a + bb) / 2
                act = np.array([s * mid + t > 0 for s, t in zip(S[iv], T[iv])])
                nS.append(np.where(act, S[iv], conv(0)).astype(object))
                nT.append(np.where(act, T[iv], conv(0)).astype(object))
                if q > 0:
                    nb.append(a)
            if iv < len(bps):
                nb.append(hi)
        bps, S, T = nb, nS, nT
    # merge neighbours with the same affine map (scalar output)
    pieces, kept = 1, []
    for iv in range(1, len(S)):
        if S[iv][0] != S[iv - 1][0] or T[iv][0] != T[iv - 1][0]:
            pieces += 1
            kept.append(bps[iv - 1])
    return pieces, kept


def h_a_layers_exact(a: Sequence, M=1) -> list[tuple[np.ndarray, np.ndarray]]:
    """Rational layers of the sawtooth-like :math:`h_a` (w = len(a)+1 pieces on [0, M]; spec constructive.md §2.4)."""
    a = [Fraction(v) for v in a]
    M = Fraction(M)
    nodes = [Fraction(0)] + a + [M]
    if not all(x < y for x, y in zip(nodes, nodes[1:])):
        raise InputError("a", f"need 0 < a_1 < ... < a_(w-1) < M={M}")
    w = len(a) + 1
    vals = [Fraction(0)] + [M * (i % 2) for i in range(1, w)] + [M - M * ((w - 1) % 2)]
    return pwl_1d_layers_exact(
        nodes[:-1], [Fraction(0)] + [(vals[i + 1] - vals[i]) / (nodes[i + 1] - nodes[i]) for i in range(w)], vals[-2]
    )


def pwl_1d_layers_exact(breaks: Sequence, slopes: Sequence, value_at_last) -> list[tuple[np.ndarray, np.ndarray]]:
    """Thm 2.2 (n = 1), rational:

    the p-piece function with breakpoints a_1<…<a_{p−1}, slopes m_1..m_p and value h(a_{p−1}) as one hidden layer of p
    units, h = h(a_{p−1}) + m_p σ(x−a_{p−1}) − Σ_l t_l σ(a_l − x).
    """
    a, m = [Fraction(v) for v in breaks], [Fraction(v) for v in slopes]
    p = len(m)
    if len(a) != p - 1 or p < 2 or any(x >= y for x, y in zip(a, a[1:])):
        raise InputError("breaks", "need p-1 >= 1 increasing breakpoints for p slopes")
    t = [m[q] - m[q + 1] for q in range(p - 2)] + [m[p - 2]]
    W1 = np.array([[Fraction(1)]] + [[Fraction(-1)] for _ in range(p - 1)], dtype=object)
    b1 = np.array([-a[-1]] + a, dtype=object)
    W2 = np.array([[m[-1]] + [-v for v in t]], dtype=object)
    return [(W1, b1), (W2, np.array([Fraction(value_at_last)], dtype=object))]


def compose_layers(outer: list[tuple], inner: list[tuple]) -> list[tuple]:
    """Layers of ``outer ∘ inner`` (the inner output layer folded into the outer first layer), exact for rationals."""
    (Wo, bo), (Wi, bi) = outer[0], inner[-1]
    Wo, bo = np.asarray(Wo, dtype=object), np.asarray(bo, dtype=object)
    Wi, bi = np.asarray(Wi, dtype=object), np.asarray(bi, dtype=object)
    return [*inner[:-1], (Wo.dot(Wi), Wo.dot(bi) + bo), *outer[1:]]


def H_layers_exact(a_list: Sequence[Sequence], M=1) -> list[tuple[np.ndarray, np.ndarray]]:
    r""":math:`H=h_{a^1}\circ\dots\circ h_{a^k}` with k hidden layers of width w (rational weights)."""
    layers = None
    for a in reversed(list(a_list)):  # innermost first
        h = h_a_layers_exact(a, M)
        layers = h if layers is None else compose_layers(h, layers)
    if layers is None:
        raise InputError("a_list", "need k >= 1 parameter vectors")
    return layers


def shallow_equivalent(layers: Sequence[tuple]) -> list[tuple[np.ndarray, np.ndarray]]:
    """The one-hidden-layer net (Thm 2.2) computing the same ℝ→ℝ function as ``layers``:

    read off the exact breakpoints and slopes by :func:`pieces_1d`, then build p units (p = pieces on ℝ).
    """
    _, bps = pieces_1d(layers)
    if not bps:
        raise InputError("layers", "the function is affine: no hidden layer is needed")

    def f(x):
        return eval_layers_exact(layers, [x])[0]

    pts = [bps[0] - 1] + [(u + v) / 2 for u, v in zip(bps, bps[1:])] + [bps[-1] + 1]
    slopes = [f(x + Fraction(1, 10**9)) - f(x) for x in pts]
    slopes = [s * 10**9 for s in slopes]
    return pwl_1d_layers_exact(bps, slopes, f(bps[-1]))
