r"""Exact activation and linear regions of a piecewise-linear network on an n-D box.

Method (our design; the incremental 1-skeleton idea is Berzins' *edge subdivision*, ICML 2023,
arXiv:2306.07212):

* **Complex.** The box is a polyhedral complex (its corners and edges). Neurons are inserted one at a time
  in program order; on every closed cell of the current complex a neuron's pre-activation is affine, so its
  zero set cuts the complex like a hyperplane. Every face is identified by its *sign vector* (one entry per
  box face and inserted neuron: −1, 0, +1); we store vertices (coordinates, the ``d`` constraints they lie
  on) and edges (two endpoints, ``d−1`` constraints). Inserting neuron ``k``: (1) the sign of
  :math:`z_k` at every vertex; (2) every edge with endpoints of opposite sign is split by a new vertex;
  (3) the cut 2-faces are found by perturbing one zero of each cut edge's sign vector — in a *simple*
  complex each cut 2-face contains exactly two cut edges, which are joined by a new edge.
  Sign vectors are compared through two independent random 64-bit linear hashes
  :math:`\sum_i \sigma_i r_i` (one to group, one to verify every group).
* **Regions.** After each ReLU node the regions (full-dimensional cells) are the distinct sign vectors
  obtained by perturbing every vertex's zeros (inside the box only): each region's pattern, its parent
  cell, and the affine maps of all pre-activations on it (one batched GEMM per affine node) follow.
* **Exact predicates (filtered).** Every sign :math:`\operatorname{sign} z_k(v)` is decided in float64 with
  a rigorous forward error bound (the ``γ_n`` analysis of every product, Higham §3.1). At the start of a
  ReLU stage each vertex has certified coordinates (radius :math:`\delta_v` from its defining
  :math:`d\times d` system: residual plus a Krawczyk/Neumann bound on :math:`\|J^{-1}\|`) and the stage's
  pre-activations are evaluated with the cell's affine rows, whose entry-wise error bounds are carried
  through every GEMM. Inside a stage, a new vertex's values are *intervals* interpolated along its edge
  (every pre-activation of the stage is affine there; the edge parameter is bounded using the known signs
  of its endpoints), and only vertices whose interval cannot decide a sign get their :math:`d\times d` solve
  early; the others are solved once, batched, at the end of the stage. Signs no bound decides are
  recomputed exactly (:mod:`tamelab.relu._nd_exact`: the exact vertex by Cramer's rule on the float64
  data read as dyadic rationals, then the exact network).
* **Degeneracy (Simulation of Simplicity).** An exact zero (a neuron through a vertex: bias-free nets,
  duplicate neurons, hyperplanes through box corners, neurons identically zero on a cell) is resolved by
  the symbolic perturbation :math:`z_g \mapsto z_g + \varepsilon_g`,
  :math:`\varepsilon_0 \gg \varepsilon_1 \gg\dots` (Edelsbrunner & Mücke 1990), so the complex stays simple
  and the construction above stays valid. The perturbed complex can contain cells that vanish as
  :math:`\varepsilon\to 0`; in a run with any symbolic decision every region is tested: a region survives
  iff its vertices' limit positions span :math:`\mathbb R^d`, and its reported pattern is the pattern of
  the unperturbed network at its vertex centroid (``z > 0`` active).

Counts. ``activation_regions`` = regions with nonempty interior of :math:`\{x: s(x)=s\}` (``s`` the
activation pattern, ``z > 0`` active) inside the box. ``linear_regions`` = connected components of the
graph joining regions that share a facet and have exactly equal output maps (decided exactly), reported
for non-degenerate runs. Max nodes are rewritten exactly as ``max(a, b) = a + relu(b − a)``: the function
and its linear regions are unchanged, but activation regions count the patterns of these ReLUs (a max of
``k`` entries contributes ``k − 1`` ReLUs).

Certificate (``result.certificate``; status ``ok`` only if every check passes): every predicate certified
(float with a bound / exact / symbolic: ``result.predicates`` counts them); every cut 2-face paired exactly
twice and every hash group confirmed by a second independent 64-bit hash; exact combinatorial consistency of
the complex (distinct vertices and edges; each edge's endpoints lie on its ``d−1`` constraints plus exactly
one more each, with the edge's sign vector; every vertex has the ``2·(#neuron zeros) + #box zeros`` edges of
a simple vertex; every region has ``≥ d+1`` vertices); its Euler characteristic equals 1 (by default in
``d <= 2``, ``euler=True`` in any ``d``); with ``witness=True`` every region's interior point is certified
inside the region's own inequalities (exactly when float cannot) and all patterns are distinct.

References: A. Berzins, *Polyhedral complex extraction from ReLU networks using edge subdivision*,
ICML 2023, arXiv:2306.07212. H. Edelsbrunner, E. P. Mücke, *Simulation of simplicity*, ACM TOG 1990.
N. J. Higham, *Accuracy and Stability of Numerical Algorithms* (2002), §3.1 (the ``γ_n`` bounds).
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from fractions import Fraction
from typing import Any

import numpy as np

from ..errors import ComputationError, InputError, NotApplicableError
from ..models import Affine, Max, PWLNet, ReLU
from ..result import Result, Status
from . import _nd_exact as _X

__all__ = ["NDRegion", "NDRegionsResult", "regions_nd"]

_U = 2.0**-53
_TINY = 1e-290  # absolute slack per bound: covers underflow of products of tiny numbers
#: largest input dimension accepted (each vertex is perturbed in 2**d ways).
MAX_DIM = 8


def _gam(n: int) -> float:
    return n * _U / (1.0 - n * _U)


# ----------------------------------------------------------------------------------- the program
@dataclasses.dataclass
class _Prog:
    d: int
    nodes: list
    out: int
    relu: list[int]
    width: list[int]
    offset: list[int]
    slope: list[float]
    stage_of_node: dict[int, int]
    last_use: list[int]
    N: int
    max_rewrites: int


def _program(net: PWLNet) -> _Prog:
    """Validate a :class:`PWLNet`, rewrite ``Max`` nodes into ReLUs, and index its ReLU stages."""
    if not isinstance(net, PWLNet):
        raise InputError("model", f"expected a PWLNet, got {type(net).__name__}")
    d = int(net.in_dim)
    nodes: list = [None]
    widths = [d]
    remap = {0: 0}
    rewrites = 0

    def add(node, w):
        nodes.append(node)
        widths.append(int(w))
        return len(nodes) - 1

    for i, node in enumerate(net.nodes[1:], 1):
        if isinstance(node, Affine):
            srcs = [remap[int(s)] for s in node.sources]
            A = [np.asarray(a, dtype=np.float64) for a in node.A]
            b = np.asarray(node.b, dtype=np.float64).reshape(-1)
            for s, a in zip(srcs, A):
                if a.ndim != 2 or a.shape != (b.shape[0], widths[s]):
                    raise InputError(
                        "model", f"node {i}: affine block of shape {a.shape}, expected {(b.shape[0], widths[s])}"
                    )
            if not all(np.all(np.isfinite(a)) for a in A) or not np.all(np.isfinite(b)):
                raise InputError("model", f"node {i}: non-finite weights")
            remap[i] = add(Affine(srcs, A, b), b.shape[0])
        elif isinstance(node, ReLU):
            slope = float(node.slope)
            if not np.isfinite(slope):
                raise InputError("model", f"node {i}: non-finite LeakyReLU slope")
            s = remap[int(node.source)]
            remap[i] = add(ReLU(s, slope), widths[s])
        elif isinstance(node, Max):
            s = remap[int(node.source)]
            G = np.asarray(node.groups, dtype=np.int64)
            if G.ndim != 2 or G.shape[1] < 1 or G.min() < 0 or G.max() >= widths[s]:
                raise InputError("model", f"node {i}: bad max-pool groups of shape {G.shape}")
            out, k = G.shape
            ws = widths[s]

            def sel(col, G=G, out=out, ws=ws):
                S = np.zeros((out, ws))
                S[np.arange(out), G[:, col]] = 1.0
                return S

            cur = add(Affine([s], [sel(0)], np.zeros(out)), out)
            for t in range(1, k):  # max(m, y) = m + relu(y - m): exact, same function
                a = add(Affine([s, cur], [sel(t), -np.eye(out)], np.zeros(out)), out)
                r = add(ReLU(a, 0.0), out)
                cur = add(Affine([cur, r], [np.eye(out), np.eye(out)], np.zeros(out)), out)
                rewrites += 1
            remap[i] = cur
        else:
            raise NotApplicableError(
                "model",
                f"node {i} is {type(node).__name__}, not affine/ReLU/max",
                "exact regions need a piecewise-linear program",
            )
    out = remap[int(net.output)]
    relu = [i for i, n in enumerate(nodes) if isinstance(n, ReLU)]
    width = [widths[i] for i in relu]
    offset = list(np.cumsum([0] + width[:-1]).astype(int)) if relu else []
    last_use = [0] * len(nodes)
    for i, n in enumerate(nodes):
        for s in n.sources if isinstance(n, Affine) else [n.source] if isinstance(n, ReLU) else []:
            last_use[s] = i
    last_use[out] = len(nodes)
    return _Prog(
        d,
        nodes,
        out,
        relu,
        width,
        [int(o) for o in offset],
        [float(nodes[i].slope) for i in relu],
        {i: m for m, i in enumerate(relu)},
        last_use,
        int(sum(width)),
        rewrites,
    )


# ----------------------------------------------------------------------------------- certified solve
def _inv_bl(A: np.ndarray) -> np.ndarray:
    """Inverses of a batch of ``d × d`` matrices stored batch-last (``A[i, j]`` is a ``(k,)`` vector):

    explicit adjugates for ``d <= 4`` (elementwise vector operations; inf/nan where singular).
    """
    d = A.shape[0]
    if d == 1:
        return 1.0 / A
    if d == 2:
        det = A[0, 0] * A[1, 1] - A[0, 1] * A[1, 0]
        return np.stack([np.stack([A[1, 1], -A[0, 1]]), np.stack([-A[1, 0], A[0, 0]])]) / det
    if d == 3:
        C = np.empty_like(A)
        for i in range(3):
            i1, i2 = [r for r in range(3) if r != i]
            for j in range(3):
                j1, j2 = [r for r in range(3) if r != j]
                C[j, i] = (-1) ** (i + j) * (A[i1, j1] * A[i2, j2] - A[i1, j2] * A[i2, j1])
        det = A[0, 0] * C[0, 0] + A[0, 1] * C[1, 0] + A[0, 2] * C[2, 0]
        return C / det
    if d == 4:  # Laplace expansion by complementary 2×2 minors of rows (0, 1) and (2, 3)
        a = A
        s0 = a[0, 0] * a[1, 1] - a[1, 0] * a[0, 1]
        s1 = a[0, 0] * a[1, 2] - a[1, 0] * a[0, 2]
        s2 = a[0, 0] * a[1, 3] - a[1, 0] * a[0, 3]
        s3 = a[0, 1] * a[1, 2] - a[1, 1] * a[0, 2]
        s4 = a[0, 1] * a[1, 3] - a[1, 1] * a[0, 3]
        s5 = a[0, 2] * a[1, 3] - a[1, 2] * a[0, 3]
        c5 = a[2, 2] * a[3, 3] - a[3, 2] * a[2, 3]
        c4 = a[2, 1] * a[3, 3] - a[3, 1] * a[2, 3]
        c3 = a[2, 1] * a[3, 2] - a[3, 1] * a[2, 2]
        c2 = a[2, 0] * a[3, 3] - a[3, 0] * a[2, 3]
        c1 = a[2, 0] * a[3, 2] - a[3, 0] * a[2, 2]
        c0 = a[2, 0] * a[3, 1] - a[3, 0] * a[2, 1]
        det = s0 * c5 - s1 * c4 + s2 * c3 + s3 * c2 - s4 * c1 + s5 * c0
        R = np.empty_like(A)
        R[0, 0] = a[1, 1] * c5 - a[1, 2] * c4 + a[1, 3] * c3
        R[0, 1] = -a[0, 1] * c5 + a[0, 2] * c4 - a[0, 3] * c3
        R[0, 2] = a[3, 1] * s5 - a[3, 2] * s4 + a[3, 3] * s3
        R[0, 3] = -a[2, 1] * s5 + a[2, 2] * s4 - a[2, 3] * s3
        R[1, 0] = -a[1, 0] * c5 + a[1, 2] * c2 - a[1, 3] * c1
        R[1, 1] = a[0, 0] * c5 - a[0, 2] * c2 + a[0, 3] * c1
        R[1, 2] = -a[3, 0] * s5 + a[3, 2] * s2 - a[3, 3] * s1
        R[1, 3] = a[2, 0] * s5 - a[2, 2] * s2 + a[2, 3] * s1
        R[2, 0] = a[1, 0] * c4 - a[1, 1] * c2 + a[1, 3] * c0
        R[2, 1] = -a[0, 0] * c4 + a[0, 1] * c2 - a[0, 3] * c0
        R[2, 2] = a[3, 0] * s4 - a[3, 1] * s2 + a[3, 3] * s0
        R[2, 3] = -a[2, 0] * s4 + a[2, 1] * s2 - a[2, 3] * s0
        R[3, 0] = -a[1, 0] * c3 + a[1, 1] * c1 - a[1, 2] * c0
        R[3, 1] = a[0, 0] * c3 - a[0, 1] * c1 + a[0, 2] * c0
        R[3, 2] = -a[3, 0] * s3 + a[3, 1] * s1 - a[3, 2] * s0
        R[3, 3] = a[2, 0] * s3 - a[2, 1] * s1 + a[2, 2] * s0
        return R / det
    Ak = np.moveaxis(A, -1, 0)
    out = np.full_like(Ak, np.nan)
    try:
        out = np.linalg.inv(Ak)
    except np.linalg.LinAlgError:
        for t in range(len(Ak)):
            try:
                out[t] = np.linalg.inv(Ak[t])
            except np.linalg.LinAlgError:
                pass
    return np.ascontiguousarray(np.moveaxis(out, 0, -1))


def _certified_solve(J: np.ndarray, Je: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Certified solves of the stacked row systems ``A x + c = 0`` with entry-wise error bounds.

    Solve ``A x + c = 0`` for each stacked row system ``J = [A | c]`` (``(k, d, d+1)``) whose exact
    entries differ from ``J`` by at most ``Je`` (per row). Returns ``x̂``, a rigorous
    :math:`\delta \ge \|x^* - \hat x\|_\infty` (``inf`` when the bound fails) and the mask of failed solves.

    With :math:`R\approx \hat A^{-1}`: :math:`x^*-\hat x = -A^{*-1} r^*`, :math:`r^* = A^*\hat x + c^*`,
    :math:`\|A^{*-1}r^*\|_\infty \le \| |R|\rho\|_\infty / (1-\beta)` where :math:`\rho \ge |r^*|` and
    :math:`\beta \ge \|I - R A^*\|_\infty` (both computed with the γ bounds of the float operations).
    Call under ``np.errstate(all="ignore")``. Works batch-last (every matrix entry a contiguous vector).
    """
    d = J.shape[1]
    Jt = np.ascontiguousarray(J.transpose(1, 2, 0))
    A = Jt[:, :d]
    c = Jt[:, d]
    Je = Je.T
    R = _inv_bl(A)
    x = -(R * c).sum(1)
    bad = ~np.isfinite(x).all(0)
    if bad.any():
        x[:, bad] = 0.0
        R[:, :, bad] = 0.0
    absA = np.abs(A)
    xa = np.abs(x)
    res = (A * x).sum(1) + c
    rho = np.abs(res) + _gam(d + 1) * ((absA * xa).sum(1) + np.abs(c)) + Je * (xa.sum(0) + 1.0)
    absR = np.abs(R)
    RA = (R[:, :, None, :] * A[None, :, :, :]).sum(1)
    RA[np.arange(d), np.arange(d)] -= 1.0
    beta = (np.abs(RA).sum(1) + _gam(d) * (absR * absA.sum(1)).sum(1) + (absR * (d * Je)).sum(1)).max(0)
    beta *= 1 + _gam(2 * d + 4)
    num = (absR * rho).sum(1).max(0)
    dl = np.where(beta < 0.5, num / (1.0 - beta), np.inf) * (1 + _gam(2 * d + 8)) + _TINY
    bad |= ~np.isfinite(dl)
    dl[bad] = np.inf
    return np.ascontiguousarray(x.T), dl, bad


def _group(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group the rows of ``keys`` (``(n, 2)`` int64 hash pairs):

    ``(first, inv)`` with ``first`` the first index of every group and ``inv`` the group of every row. Sorts on the
    first hash with the row index packed into its low bits (one ``np.sort``), then verifies every group on both hashes;
    on any disagreement it regroups exactly on the pair (``np.lexsort``).
    """
    n = len(keys)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    k0 = keys[:, 0]
    b = max(1, (n - 1).bit_length())
    brk = np.empty(n, bool)
    brk[0] = True
    if b <= 26:
        low = (1 << b) - 1
        ps = np.sort((k0 & np.int64(~low)) | np.arange(n, dtype=np.int64))
        idx = ps & low
        hi = ps & np.int64(~low)
        np.not_equal(hi[1:], hi[:-1], out=brk[1:])
    else:
        idx = np.argsort(k0)
        s = k0[idx]
        np.not_equal(s[1:], s[:-1], out=brk[1:])
    gid = np.cumsum(brk) - 1
    first = idx[brk]
    k1 = keys[:, 1]
    if not ((k0[idx] == k0[first][gid]).all() and (k1[idx] == k1[first][gid]).all()):
        idx = np.lexsort((keys[:, 1], keys[:, 0]))
        s = keys[idx]
        brk[1:] = (s[1:] != s[:-1]).any(1)
        gid = np.cumsum(brk) - 1
        first = idx[brk]
    inv = np.empty(n, np.int64)
    inv[idx] = gid
    return first, inv


# ----------------------------------------------------------------------------------- the enumerator
class _Enum:
    """State of one run (see the module docstring).

    Vertices and edges live in capacity-doubling arrays; every hash is a pair of independent 64-bit hashes (``(…, 2)``
    int64 arrays): ``HF`` = box and finished stages, ``HP`` = finished stages only (the key of the coarse cell), the
    current stage's part is recomputed from the stored signs when needed.
    """

    def __init__(self, prog: _Prog, lo: np.ndarray, hi: np.ndarray, *, seed: int, max_vertices: int) -> None:
        self.p = prog
        d = self.d = prog.d
        self.nb = nb = 2 * d
        self.lo, self.hi = lo, hi
        lim = np.iinfo(np.int64)
        rng = np.random.default_rng(seed)
        self.RR = rng.integers(lim.min, lim.max, size=(nb + prog.N, 2), dtype=np.int64, endpoint=True)
        self.boxall = self.RR[:nb].sum(0)
        self.max_vertices = int(max_vertices)
        self.exact = _X.ExactProgram(prog)
        self.stats = {"float": 0, "exact": 0, "symbolic": 0, "exact_vertices": 0, "pairs": 0}
        S = len(prog.width)
        self.stage_of = np.repeat(np.arange(S), prog.width).astype(np.int64)
        self.local_of = (np.concatenate([np.arange(w) for w in prog.width]) if S else np.zeros(0)).astype(np.int64)
        self.widthv = np.asarray(prog.width, dtype=np.int64)
        self.base = np.zeros(max(S, 1), dtype=np.int64)
        self.cur_stage = 0
        # affine rows of every constraint on every cell: box rows first (exact), then one block per stage
        self.ROWS = np.zeros((max(4 * nb, 64), d + 1))
        self.RERR = np.zeros(self.ROWS.shape[0])
        for j in range(d):
            self.ROWS[j, j], self.ROWS[j, d] = 1.0, -lo[j]
            self.ROWS[d + j, j], self.ROWS[d + j, d] = -1.0, hi[j]
        self.nrows = nb
        self._xvert: dict[int, tuple[list[int], int]] = {}
        self._xsign: dict[int, np.ndarray] = {}
        self.combos = np.array(list(itertools.product([1, -1], repeat=d)), dtype=np.int64)
        self._init_box()
        self.R = 1
        self.cpat = np.zeros((1, 0), dtype=np.uint8)
        self.anc = np.zeros((1, max(S, 1)), dtype=np.int64)
        self._set_cells(np.zeros((1, 2), np.int64))
        self.inc = (np.arange(self.nv), np.zeros(self.nv, np.int64))
        self.val = self.rad = None
        self.sg = np.zeros((0, self.vcap), np.int8)

    # ---------------------------------------------------------------- storage
    def _init_box(self) -> None:
        d, lo, hi = self.d, self.lo, self.hi
        bits = (np.arange(2**d)[:, None] >> np.arange(d)) & 1
        nv = 2**d
        self.vcap = max(64, 4 * nv)
        self.X = np.zeros((self.vcap, d))
        self.dl = np.zeros(self.vcap)
        self.vZ = np.zeros((self.vcap, d), np.int64)
        self.vHF = np.zeros((self.vcap, 2), np.int64)
        self.vHP = np.zeros((self.vcap, 2), np.int64)
        self.vcell = np.zeros(self.vcap, np.int64)
        self.anch = np.zeros(self.vcap, bool)  # coordinates and radius certified
        self.vpar = np.zeros((self.vcap, 2), np.int64)  # (+, −) endpoints of the edge a vertex was created on
        self.vt = np.zeros(self.vcap)  # ... and its position on that edge (for the fallback of a failed solve)
        self.anch[:nv] = True
        self.X[:nv] = np.where(bits == 1, hi, lo)
        Z = np.where(bits == 1, d + np.arange(d), np.arange(d))
        self.vZ[:nv] = Z
        self.vHF[:nv] = self.boxall - self.RR[Z].sum(1)
        self.nv = nv
        i, j = np.nonzero(bits == 0)
        ne = len(i)
        self.ecap = max(64, 4 * ne)
        self.eP = np.zeros((self.ecap, 2), np.int64)
        self.eZ = np.zeros((self.ecap, d - 1), np.int64)
        self.eHF = np.zeros((self.ecap, 2), np.int64)
        self.eHP = np.zeros((self.ecap, 2), np.int64)
        self.eP[:ne, 0], self.eP[:ne, 1] = i, i + (1 << j)
        Ze = Z[i][np.arange(d)[None, :] != j[:, None]].reshape(ne, d - 1)
        self.eZ[:ne] = Ze
        self.eHF[:ne] = self.boxall - self.RR[Ze].sum(1)
        self.ne = ne

    def _need_v(self, extra: int) -> None:
        need = self.nv + extra
        if need > self.max_vertices:
            mb = need * (17 * max(self.p.width) + 100) / 2**20
            raise ComputationError(
                f"regions_nd: the complex needs more than max_vertices={self.max_vertices} "
                f"vertices (at least {need}, ~{mb:.0f} MiB, at ReLU stage {self.cur_stage}); "
                "raise max_vertices"
            )
        if need <= self.vcap:
            return
        cap = max(need, 2 * self.vcap)
        for name in ("X", "dl", "vZ", "vHF", "vHP", "vcell", "anch", "vpar", "vt"):
            a = getattr(self, name)
            b = np.zeros((cap,) + a.shape[1:], a.dtype)
            b[: self.nv] = a[: self.nv]
            setattr(self, name, b)
        for name in ("val", "rad", "sg"):
            a = getattr(self, name)
            if a is None:
                continue
            b = np.zeros((a.shape[0], cap), a.dtype)
            b[:, : self.nv] = a[:, : self.nv]
            setattr(self, name, b)
        self.vcap = cap

    def _need_e(self, extra: int) -> None:
        need = self.ne + extra
        if need <= self.ecap:
            return
        cap = max(need, 2 * self.ecap)
        for name in ("eP", "eZ", "eHF", "eHP"):
            a = getattr(self, name)
            b = np.zeros((cap,) + a.shape[1:], a.dtype)
            b[: self.ne] = a[: self.ne]
            setattr(self, name, b)
        self.ecap = cap

    def _need_rows(self, need: int) -> None:
        if need <= self.ROWS.shape[0]:
            return
        cap = max(need, 2 * self.ROWS.shape[0])
        R = np.zeros((cap, self.d + 1))
        R[: self.nrows] = self.ROWS[: self.nrows]
        E = np.zeros(cap)
        E[: self.nrows] = self.RERR[: self.nrows]
        self.ROWS, self.RERR = R, E

    # ---------------------------------------------------------------- cells
    def _set_cells(self, keys: np.ndarray) -> None:
        o = np.argsort(keys[:, 0])
        self.ck, self.ck1, self.cperm = keys[o, 0], keys[o, 1], o
        if len(keys) > 1 and (self.ck[1:] == self.ck[:-1]).any():
            raise ComputationError("regions_nd: two cells share a hash (collision); rerun with another seed")

    def _lookup(self, k: np.ndarray) -> np.ndarray:
        i = np.searchsorted(self.ck, k[:, 0])
        np.minimum(i, len(self.ck) - 1, out=i)
        if not ((self.ck[i] == k[:, 0]) & (self.ck1[i] == k[:, 1])).all():
            raise ComputationError("regions_nd: internal inconsistency (a face's cell is not a known cell)")
        return self.cperm[i]

    def _row_index(self, C: np.ndarray, Z: np.ndarray) -> np.ndarray:
        """Flat indices into ``ROWS`` of constraints ``Z`` (``(k, t)``) on current cells ``C`` (``(k,)``)."""
        nb = self.nb
        isn = Z >= nb
        gi = np.where(isn, Z - nb, 0)
        st = self.stage_of[gi]
        a = self.anc[C[:, None], st]
        return np.where(isn, self.base[st] + a * self.widthv[st] + self.local_of[gi], Z)

    # ---------------------------------------------------------------- values at vertices
    def _eval(self, preT, preE, cells, X, dl):
        """Values and rigorous radii of the pre-activation rows of each cell at the given vertices.

        Values and rigorous radii of the pre-activation rows ``preT[:, :, cell]`` (component-major maps,
        ``(d+1, n, R)``) at vertices ``(X, dl)``.
        """
        d = self.d
        r = preT[d][:, cells]
        val = r.copy()
        ab = np.abs(r)
        l1 = None
        for t in range(d):
            r = preT[t][:, cells]
            xt = X[:, t]
            val += r * xt
            np.abs(r, out=r)
            ab += r * np.abs(xt)
            l1 = r if l1 is None else l1 + r
        e = preE[:, cells]
        rad = (_gam(d + 1) * ab + e * (np.abs(X).sum(1) + 1.0) + (l1 + d * e) * dl) * (1 + _gam(2 * d + 8)) + _TINY
        return val, rad

    # ---------------------------------------------------------------- exact fallbacks
    def _exact_row(self, z: int, bits: np.ndarray, stage: int, eps: bool) -> _X.Dy:
        d, nb = self.d, self.nb
        if z < nb:
            row = _X.box_row(z, d, self.lo, self.hi)
            if eps:
                N = np.empty(d + 1 + self.p.N, dtype=object)
                N.fill(0)
                N[: d + 1] = row.N
                row = _X.Dy(N, row.s)
            return row
        g = z - nb
        st = int(self.stage_of[g])
        maps = self.exact.cell_pre(bits, stage, eps)
        return maps[st].rows(int(self.local_of[g]))

    def _eval_stage(self) -> int:
        return min(self.cur_stage, len(self.p.width) - 1)

    def _exact_vertex(self, v: int) -> tuple[list[int], int]:
        hit = self._xvert.get(v)
        if hit is not None:
            return hit
        cell = int(self._cells(np.array([v]))[0])
        bits = self.cpat[cell]
        st = self._eval_stage()
        rows = [self._exact_row(int(z), bits, st, False) for z in self.vZ[v]]
        M, _ = _X.stack_rows(rows)
        d = self.d
        sol = _X.solve([[int(a) for a in M[i, :d]] for i in range(d)], [int(M[i, d]) for i in range(d)])
        if sol is None:
            raise ComputationError("regions_nd: internal error (singular vertex system)")
        self._xvert[v] = sol
        self.stats["exact_vertices"] += 1
        return sol

    def _exact_signvec(self, v: int) -> np.ndarray:
        hit = self._xsign.get(v)
        if hit is None:
            num, D = self._exact_vertex(v)
            hit = self._xsign[v] = self.exact.forward(num, D)
        return hit

    def _exact_signs(self, und: np.ndarray, m: int, g: int) -> np.ndarray:
        out = np.empty(len(und), np.int8)
        for t, v in enumerate(und.tolist()):
            s = int(self._exact_signvec(v)[g])
            if s == 0:
                cell = int(self._cells(np.array([v]))[0])
                bits = self.cpat[cell]
                rows = [self._exact_row(int(z), bits, m, True) for z in self.vZ[v]]
                krow = self._exact_row(self.nb + g, bits, m, True)
                s = _X.sos_sign(rows, krow, self.d, self.p.N)
                if s == 0:
                    raise ComputationError("regions_nd: internal error (symbolic perturbation undecided)")
                self.stats["symbolic"] += 1
            else:
                self.stats["exact"] += 1
            out[t] = s
        return out

    def _cells(self, vs: np.ndarray) -> np.ndarray:
        """Current cells of vertices ``vs``, looking up those created in this stage.

        Current cells of vertices ``vs``, looking up those created in this stage (a cell containing the
        vertex: its prefix signs with its prefix zeros perturbed to +).
        """
        miss = vs[self.vcell[vs] < 0]
        if miss.size:
            nb, cpre = self.nb, self.nb + self.p.offset[self.cur_stage]
            Z = self.vZ[miss]
            key = self.vHP[miss].copy()
            rz = self.RR[Z]
            for t in range(self.d):
                zt = Z[:, t]
                key += np.where(((zt >= nb) & (zt < cpre))[:, None], rz[:, t], 0)
            self.vcell[miss] = self._lookup(key)
        return self.vcell[vs]

    def anchor_all(self) -> None:
        fresh = np.flatnonzero(~self.anch[: self.nv])
        if fresh.size:
            self._anchor(fresh)

    def _anchor(self, vs: np.ndarray) -> None:
        """Certified coordinates and radius of the (not yet anchored) vertices ``vs``:

        the d×d solve of their defining rows on their cell; where it fails, the point interpolated on the creating edge,
        radius inf.
        """
        idx = self._row_index(self._cells(vs), self.vZ[vs])
        x, dl, bad = _certified_solve(self.ROWS[idx], self.RERR[idx])
        self.X[vs] = x
        self.dl[vs] = dl
        self.anch[vs] = True
        for v in vs[bad].tolist():  # rare: interpolate (anchoring the endpoints first)
            p, q = self.vpar[v]
            for u in (p, q):
                if not self.anch[u]:
                    self._anchor(np.array([u]))
            self.X[v] = self.X[p] + self.vt[v] * (self.X[q] - self.X[p])
            self.dl[v] = np.inf

    # ---------------------------------------------------------------- one neuron
    def _insert(self, m: int, j: int) -> None:
        d, nb = self.d, self.nb
        nv, ne = self.nv, self.ne
        g = self.p.offset[m] + j
        c = nb + g
        cpre = nb + self.p.offset[m]
        val = self.val[j, :nv]
        rad = self.rad[j, :nv]
        s = (val > rad).view(np.int8) - (val < -rad).view(np.int8)
        und = np.flatnonzero(s == 0)
        if und.size:  # interval too wide: certify the vertex's coordinates, re-evaluate from the cell's rows
            fresh = und[~self.anch[und]]
            if fresh.size:
                self._anchor(fresh)
                self.val[j:, fresh], self.rad[j:, fresh] = self._eval(
                    self.preT[:, j:], self.preE[j:], self._cells(fresh), self.X[fresh], self.dl[fresh]
                )
                v2, r2 = self.val[j, und], self.rad[j, und]
                s[und] = (v2 > r2).view(np.int8) - (v2 < -r2).view(np.int8)
                und = und[s[und] == 0]
        self.stats["float"] += nv - und.size
        if und.size:
            s[und] = self._exact_signs(und, m, g)
        self.sg[j, :nv] = s
        sP = s[self.eP[:ne]]
        cut = np.flatnonzero(sP[:, 0] != sP[:, 1])
        k = cut.size
        if k == 0:
            return
        self._need_v(k)
        ec = self.eP[cut]
        pf = sP[cut, 0] > 0
        pv = np.where(pf, ec[:, 0], ec[:, 1])
        qv = np.where(pf, ec[:, 1], ec[:, 0])
        Ze = self.eZ[cut]
        eHF, eHP = self.eHF[cut], self.eHP[cut]
        rz = self.RR[Ze]
        Zf = np.empty((k, d), np.int64)
        Zf[:, : d - 1] = Ze
        Zf[:, d - 1] = c
        # the new vertex w = (1-t) p + t q, t = z(p) / (z(p) - z(q)); every later pre-activation of the stage is
        # affine along the edge, so its interval at w follows from those at p and q (interval arithmetic)
        # exact limits: z(p) = a* in [a - ra, a + ra] and a* >= 0 (its sign is +), z(q) = b* <= 0 likewise; on
        # that box t = a*/(a* - b*) increases in both, so the corners bound it (t in [0, 1] if a* = b* = 0)
        alo = np.maximum(val[pv] - rad[pv], 0.0)
        ahi = val[pv] + rad[pv]
        blo = val[qv] - rad[qv]
        bhi = np.minimum(val[qv] + rad[qv], 0.0)
        den = alo - blo
        tl = np.where(den > 0, alo / den, 0.0) * (1 - 4 * _U)
        den = ahi - bhi
        th = np.where(den > 0, np.minimum(ahi / den * (1 + 4 * _U), 1.0), 1.0)
        t0 = (tl + th) / 2
        rt = (th - tl) / 2 * (1 + 4 * _U) + 2 * _U  # [t0 - rt, t0 + rt] ⊇ [tl, th] despite the roundings
        sl = slice(nv, nv + k)
        if j:
            a, b = self.sg[:j, pv], self.sg[:j, qv]
            es = np.where(a != 0, a, b)
            self.sg[:j, sl] = es
        self.vZ[sl] = Zf
        self.vHF[sl] = eHF
        self.vHP[sl] = eHP
        self.vcell[sl] = -1  # the cell containing the edge: looked up when needed (_cells)
        self.anch[sl] = False
        self.vpar[sl, 0] = pv
        self.vpar[sl, 1] = qv
        self.vt[sl] = t0
        Xp = self.X[pv]
        self.X[sl] = Xp + t0[:, None] * (self.X[qv] - Xp)  # provisional (dl = inf until anchored)
        self.dl[sl] = np.inf
        if j + 1 < self.p.width[m]:
            P, Q = self.val[j + 1 :, pv], self.val[j + 1 :, qv]
            RP, RQ = self.rad[j + 1 :, pv], self.rad[j + 1 :, qv]
            D = Q - P
            self.val[j + 1 :, sl] = P + t0 * D
            self.rad[j + 1 :, sl] = (
                (1 - t0) * RP + t0 * RQ + rt * (np.abs(D) + RP + RQ) + _gam(8) * (np.abs(P) + np.abs(Q))
            ) * (1 + _gam(8)) + _TINY
        self.nv = nv + k
        # ---- pair the cut edges inside each cut 2-face, join them by a new edge
        npair = 0
        if d >= 2:
            He = eHF + es.T.astype(np.int64) @ self.RR[cpre:c] if j else eHF
            nbx = Ze >= nb
            K = np.concatenate([(He[:, None, :] + rz).reshape(-1, 2), (He[:, None, :] - rz)[nbx]])
            E = np.concatenate([np.arange(k * (d - 1)), np.flatnonzero(nbx.ravel())])
            o = np.argsort(K[:, 0])
            Ks = K[o]
            L = len(Ks)
            if L % 2 or (Ks[0::2] != Ks[1::2]).any() or (L > 2 and (Ks[2::2, 0] == Ks[1:-1:2, 0]).any()):
                raise ComputationError(
                    "regions_nd: internal inconsistency (a cut 2-face without exactly two cut edges)"
                )
            a_, b_ = o[0::2], o[1::2]
            npair = len(a_)
            self.stats["pairs"] += npair
            ea = E[a_]
            ia, ta = ea // (d - 1), ea % (d - 1)
            sa = np.where(a_ < k * (d - 1), 1, -1)
            ib = E[b_] // (d - 1)
        self._need_e(k + npair)
        # split the cut edges: the + half keeps the id, the − half is new
        self.eP[cut, 0] = pv
        self.eP[cut, 1] = np.arange(nv, nv + k)
        s1 = slice(ne, ne + k)
        self.eP[s1, 0] = np.arange(nv, nv + k)
        self.eP[s1, 1] = qv
        self.eZ[s1] = Ze
        self.eHF[s1] = eHF
        self.eHP[s1] = eHP
        if npair:
            s2 = slice(ne + k, ne + k + npair)
            self.eP[s2, 0] = nv + ia
            self.eP[s2, 1] = nv + ib
            Zr = Ze[ia]
            Zn = self.eZ[s2]
            Zn[:, : d - 2] = Zr[np.arange(d - 1)[None, :] != ta[:, None]].reshape(npair, d - 2)
            Zn[:, d - 2] = c
            zt = Zr[np.arange(npair), ta]
            dz = rz[ia, ta]
            dz = np.where((sa > 0)[:, None], dz, -dz)
            self.eHF[s2] = eHF[ia] + np.where((zt < cpre)[:, None], dz, 0)
            self.eHP[s2] = eHP[ia] + np.where(((zt >= nb) & (zt < cpre))[:, None], dz, 0)
        self.ne = ne + k + npair

    # ---------------------------------------------------------------- one ReLU stage
    def _stage(self, m: int, preM: np.ndarray, preE: np.ndarray):
        d = self.d
        n = self.p.width[m]
        R = self.R
        base = self.nrows
        self._need_rows(base + R * n)
        self.ROWS[base : base + R * n] = preM.transpose(1, 0, 2).reshape(R * n, d + 1)
        self.RERR[base : base + R * n] = preE.T.reshape(R * n)
        self.base[m] = base
        self.nrows = base + R * n
        self.anc[:, m] = np.arange(R)
        self.cur_stage = m
        self.preT, self.preE = np.ascontiguousarray(preM.transpose(2, 0, 1)), preE
        nv = self.nv
        self._need_v(min(3 * nv + 64, self.max_vertices - nv))  # room for the stage's new vertices
        self.val = np.zeros((n, self.vcap))
        self.rad = np.zeros((n, self.vcap))
        self.sg = np.zeros((n, self.vcap), np.int8)
        self.val[:, :nv], self.rad[:, :nv] = self._eval(self.preT, preE, self.vcell[:nv], self.X[:nv], self.dl[:nv])
        for j in range(n):
            self._insert(m, j)
        return self._end_stage(m)

    def _end_stage(self, m: int):
        d, nb = self.d, self.nb
        nv, ne = self.nv, self.ne
        if m + 1 < len(self.p.width):
            self.anchor_all()
        n = self.p.width[m]
        c0 = nb + self.p.offset[m]
        sg = self.sg[:, :nv]
        RRs = self.RR[c0 : c0 + n]
        HL = sg.T.astype(np.int64) @ RRs
        Z = self.vZ[:nv]
        B = self.combos
        rz = self.RR[Z]
        isbox = Z < nb
        Hplus = self.vHF[:nv] + HL
        for t in range(d):
            Hplus += rz[:, t]
        KL, VL, CL = [], [], []
        for q, bq in enumerate(B):  # every vertex sign vector with its zeros perturbed (box zeros inwards only)
            neg = np.flatnonzero(bq < 0)
            key = Hplus.copy()
            ok = None
            for t in neg:
                key -= 2 * rz[:, t]
                ok = ~isbox[:, t] if ok is None else ok & ~isbox[:, t]
            if ok is None:
                KL.append(key)
                VL.append(np.arange(nv))
            else:
                w = np.flatnonzero(ok)
                KL.append(key[w])
                VL.append(w)
            CL.append(np.full(len(VL[-1]), q))
        keys = np.concatenate(KL)
        vi, ci = np.concatenate(VL), np.concatenate(CL)
        first, inv = _group(keys)
        Rn = len(first)
        rv, rc = vi[first], ci[first]
        Br = B[rc]
        pk = self.vHP[rv].copy()
        for t in range(d):
            zt = Z[rv, t]
            pk += np.where(((zt >= nb) & (zt < c0))[:, None], rz[rv, t] * Br[:, t, None], 0)
        parent = self._lookup(pk)
        sb = sg[:, rv].copy()
        isst = (Z >= c0)[rv]
        for t in range(d):
            msk = np.flatnonzero(isst[:, t])
            if msk.size:
                sb[Z[rv[msk], t] - c0, msk] = B[rc[msk], t]
        if (sb == 0).any():
            raise ComputationError("regions_nd: internal error (a region with an undetermined sign)")
        bits = (sb > 0).astype(np.uint8)
        newkey = keys[first] - self.boxall
        # the stage's signs move into the prefix part of every hash
        self.vHP[:nv] += HL
        self.vHF[:nv] += HL
        # an edge's sign vector is its first endpoint's with that endpoint's one extra zero filled in by the
        # other endpoint's sign there (only stage constraints matter here)
        P = self.eP[:ne]
        ex = self.vZ[P[:, 0]].sum(1) - (self.eZ[:ne].sum(1) if d > 1 else 0)
        st_ = (ex >= c0) & (ex < c0 + n)
        loc = np.where(st_, ex - c0, 0)
        sgn = np.where(st_, sg[loc, P[:, 1]], 0).astype(np.int64)
        HLe = HL[P[:, 0]] + sgn[:, None] * self.RR[np.where(st_, ex, 0)]
        self.eHP[:ne] += HLe
        self.eHF[:ne] += HLe
        self.R = Rn
        self.cpat = np.concatenate([self.cpat[parent], bits.T], 1)
        anc = self.anc[parent]
        if m + 1 < anc.shape[1]:
            anc[:, m + 1] = np.arange(Rn)
        self.anc = anc
        self._set_cells(newkey)
        ck = self.vHP[:nv].copy()
        for t in range(d):
            ck += np.where((Z[:, t] >= nb)[:, None], rz[:, t], 0)
        self.vcell[:nv] = self._lookup(ck)
        self.cur_stage = m + 1
        self.inc = (vi, inv)
        self.inc_combo = ci
        self.val = self.rad = None
        return parent, bits

    # ---------------------------------------------------------------- the whole program
    def _affine(self, node: Affine, maps: dict) -> tuple[np.ndarray, np.ndarray]:
        d = self.d
        w = node.width
        acc = accE = accA = None
        ntot = 1
        for s, A in zip(node.sources, node.A):
            M, E = maps[s]
            ws, Rs = M.shape[0], M.shape[1]
            Y = (A @ M.reshape(ws, Rs * (d + 1))).reshape(w, Rs, d + 1)
            absA = np.abs(A)
            YE = absA @ E
            mx = np.abs(M[:, :, 0])
            for t in range(1, d + 1):
                np.maximum(mx, np.abs(M[:, :, t]), out=mx)
            YA = absA @ mx
            acc = Y if acc is None else acc + Y
            accE = YE if accE is None else accE + YE
            accA = YA if accA is None else accA + YA
            ntot += ws
        acc[:, :, d] += node.b[:, None]
        E = (accE + _gam(ntot) * (accA + np.abs(node.b)[:, None])) * (1 + _gam(ntot + 4)) + _TINY
        return acc, E

    def run(self) -> None:
        """Insert every ReLU stage.

        The nodes after the last stage (its ReLU map and the output affine map on every region) are evaluated lazily by
        :meth:`output_map`.
        """
        p, d = self.p, self.d
        M0 = np.zeros((d, 1, d + 1))
        M0[np.arange(d), 0, np.arange(d)] = 1.0
        maps: dict[int, tuple[np.ndarray, np.ndarray]] = {0: (M0, np.zeros((d, 1)))}
        last = p.relu[-1] if p.relu else 0
        self._tail = None
        for i in range(1, len(p.nodes)):
            node = p.nodes[i]
            if isinstance(node, Affine):
                maps[i] = self._affine(node, maps)
                srcs = node.sources
            else:
                m = p.stage_of_node[i]
                M, E = maps[node.source]
                if p.last_use[node.source] == i:
                    del maps[node.source]
                preM = np.ascontiguousarray(np.broadcast_to(M, (M.shape[0], self.R, d + 1)))
                preE = np.ascontiguousarray(np.broadcast_to(E, (M.shape[0], self.R)))
                parent, bits = self._stage(m, preM, preE)
                if i == last:
                    self._tail = (i, maps, preM, preE, parent, bits)
                    return
                self._relu_maps(i, m, maps, preM, preE, parent, bits)
                srcs = []
            for s_ in set(srcs):
                if p.last_use[s_] == i and s_ in maps:
                    del maps[s_]
        self.out_map = maps[p.out]

    def _relu_maps(self, i, m, maps, preM, preE, parent, bits) -> None:
        """After stage ``m``: carry the live maps to the new cells and add the ReLU node's own map."""
        for key in list(maps):
            Mk, Ek = maps[key]
            if Mk.shape[1] > 1:
                maps[key] = (Mk[:, parent], Ek[:, parent])
        al = self.p.slope[m]
        Mp, Ep = preM[:, parent], preE[:, parent]
        if al == 0.0:
            f = bits.astype(np.float64)
            maps[i] = (Mp * f[:, :, None], Ep * f + _TINY)
        else:
            f = np.where(bits == 1, 1.0, al)
            Er = Ep * np.abs(f) + np.where(bits == 1, 0.0, _U * abs(al) * np.abs(Mp).max(2))
            maps[i] = (Mp * f[:, :, None], Er + _TINY)

    def output_map(self) -> tuple[np.ndarray, np.ndarray]:
        """The output affine map on every region, with entry-wise error bounds.

        The output affine map on every region, ``(out, R, d+1)`` (``R`` may be 1: the same on all), with
        entry-wise error bounds ``(out, R)``.
        """
        if self._tail is not None:
            p = self.p
            i0, maps, preM, preE, parent, bits = self._tail
            self._relu_maps(i0, p.stage_of_node[i0], maps, preM, preE, parent, bits)
            for i in range(i0 + 1, len(p.nodes)):
                node = p.nodes[i]
                maps[i] = self._affine(node, maps) if isinstance(node, Affine) else maps[node.source]
                for s_ in set(node.sources if isinstance(node, Affine) else []):
                    if p.last_use[s_] == i and s_ in maps:
                        del maps[s_]
            self.out_map = maps[p.out]
            self._tail = None
        return self.out_map


# ----------------------------------------------------------------------------------- certificate pieces
def _witness_signs(en: _Enum, cen: np.ndarray, rc: np.ndarray) -> np.ndarray:
    """Certified signs of every neuron's pre-activation at each region's point.

    Certified signs (−1, 0 = undecided, +1) at each region's point ``cen[r]`` (known to radius ``rc[r]``)
    of every neuron's pre-activation, evaluated with the region's own affine rows (the H-representation of
    its pattern): if all are decided and agree with the pattern, the point lies in the open region.
    """
    R, d = en.R, en.d
    out = np.empty((R, en.p.N), np.int8)
    x1 = np.abs(cen).sum(1) + 1.0
    for m, w in enumerate(en.p.width):
        idx = en.base[m] + en.anc[:, m][:, None] * w + np.arange(w)
        rows = en.ROWS[idx]
        e = en.RERR[idx]
        val = rows[:, :, d].copy()
        ab = np.abs(val)
        l1 = np.zeros_like(val)
        for t in range(d):
            a = rows[:, :, t]
            val += a * cen[:, t, None]
            aa = np.abs(a)
            ab += aa * np.abs(cen[:, t, None])
            l1 += aa
        rad = (_gam(d + 1) * ab + e * x1[:, None] + (l1 + d * e) * rc[:, None]) * (1 + _gam(2 * d + 8)) + _TINY
        o = en.p.offset[m]
        out[:, o : o + w] = (val > rad).view(np.int8) - (val < -rad).view(np.int8)
    return out


def _distinct_rows(P: np.ndarray) -> bool:
    """Are the rows of the 0/1 matrix ``P`` pairwise distinct? (hash, then exact comparison of candidates)"""
    if len(P) < 2:
        return True
    pk = np.packbits(P.astype(np.uint8), axis=1).astype(np.int64)
    Q = np.random.default_rng(7).integers(
        np.iinfo(np.int64).min, np.iinfo(np.int64).max, size=(pk.shape[1], 2), dtype=np.int64, endpoint=True
    )
    h = pk @ Q
    o = np.lexsort((h[:, 1], h[:, 0]))
    hs = h[o]
    same = np.flatnonzero((hs[1:] == hs[:-1]).all(1))
    return not any((pk[o[i]] == pk[o[i + 1]]).all() for i in same.tolist())


def _f_vector(en: _Enum) -> list[int]:
    """Face numbers ``f_0..f_d`` of the computed complex:

    vertices, edges and regions as stored; every ``j``-face for ``2 <= j < d`` counted once through its sign vector (a
    vertex sign vector with ``j`` of its zeros perturbed, inwards for box zeros).
    """
    d, nb, nv = en.d, en.nb, en.nv
    Z = en.vZ[:nv]
    H = en.vHF[:nv]
    rz = en.RR[Z]
    isbox = Z < nb
    f = [nv, en.ne]
    for j in range(2, d):
        keys = []
        for S in itertools.combinations(range(d), j):
            S = list(S)
            for combo in itertools.product([1, -1], repeat=j):
                cb = np.array(combo, dtype=np.int64)
                ok = ~((cb < 0)[None, :] & isbox[:, S]).any(1)
                keys.append((H + (rz[:, S] * cb[None, :, None]).sum(1))[ok])
        f.append(len(_group(np.concatenate(keys))[0]))
    return f + [en.R] if d >= 2 else [nv, en.R]


def _distinct(K: np.ndarray) -> bool:
    """Are the rows of ``K`` (``(n, 2)`` hash pairs) pairwise distinct?"""
    if len(K) < 2:
        return True
    o = np.argsort(K[:, 0])
    k0 = K[o, 0]
    same = np.flatnonzero(k0[1:] == k0[:-1])
    return bool((K[o[same], 1] != K[o[same + 1], 1]).all())


def _incidence_check(en: _Enum) -> dict[str, bool]:
    """Exact combinatorial checks of the computed complex (see the module docstring):

    distinct vertices and edges; every edge's constraints are shared by both endpoints, each endpoint lies on exactly
    one more constraint, and the endpoint's sign vector is the edge's with that entry zeroed (hash difference ``±r``,
    ``+r`` for a box face); every vertex has the ``2·(#neuron zeros) + #box zeros`` edges of a simple vertex; every
    region has at least ``d + 1`` vertices. Set inclusions are compared through a random 64-bit set hash
    ``Σ_{z∈Z} q_z``.
    """
    d, nb, nv, ne = en.d, en.nb, en.nv, en.ne
    P = en.eP[:ne]
    Zv = en.vZ[:nv]
    Ze = en.eZ[:ne]
    q = np.random.default_rng(12345).integers(
        np.iinfo(np.int64).min, np.iinfo(np.int64).max, size=len(en.RR), dtype=np.int64, endpoint=True
    )
    Sv = q[Zv].sum(1) - q[Zv.sum(1) % len(q)]  # Σ q over Z minus q of (Σ Z): zero iff the pair checks out
    Se = q[Ze].sum(1)
    sv, se = Zv.sum(1), Ze.sum(1)
    Ke = en.eHF[:ne, 0]
    r0 = en.RR[:, 0]
    ok = P[:, 0] != P[:, 1]
    ex = []
    for end in (0, 1):
        v = P[:, end]
        a = sv[v] - se  # the endpoint's one extra constraint
        inr = (a >= 0) & (a < len(q))
        a = np.where(inr, a, 0)
        ok &= inr & (Sv[v] + q[sv[v] % len(q)] - Se == q[a])
        diff = Ke - en.vHF[v, 0]
        ra = r0[a]
        ok &= (diff == ra) | ((diff == -ra) & (a >= nb))
        ex.append(a)
    ok &= ex[0] != ex[1]
    out = {
        "distinct_vertices": _distinct(en.vHF[:nv]),
        "distinct_edges": _distinct(en.eHF[:ne]),
        "edge_incidence": bool(ok.all()),
    }
    deg = np.bincount(P.ravel(), minlength=nv)
    nz = (Zv >= nb).sum(1)
    out["simple_vertex_degrees"] = bool((deg == d + nz).all())
    inv = en.inc[1]
    out["regions_full_dimensional"] = bool((np.bincount(inv, minlength=en.R) >= d + 1).all())
    return out


# ----------------------------------------------------------------------------------- results
@dataclasses.dataclass
class NDRegion:
    """One activation region (lazily computed geometry through :meth:`NDRegionsResult.region`)."""

    index: int
    pattern: np.ndarray
    interior_point: np.ndarray
    vertices: np.ndarray
    facets: list
    _res: Any = dataclasses.field(repr=False, default=None)

    def affine(self, exact: bool = False):
        """The network's output map ``[A | c]`` on the region.

        The network's output map on the region, ``(out, d+1)`` = ``[A | c]`` (float64, or exact
        :class:`fractions.Fraction` entries with ``exact=True``).
        """
        return self._res._affine(self.index, exact)

    def volume(self) -> float:
        """Volume of the region (convex hull of its vertices, float64)."""
        V = self.vertices
        if V.shape[1] == 1:
            return float(V.max() - V.min())
        from scipy.spatial import ConvexHull

        return float(ConvexHull(V).volume)


@dataclasses.dataclass
class NDRegionsResult(Result):
    """Exact activation (and linear) regions of a PWL network on a box; see :func:`regions_nd`."""

    kind = "regions_nd"

    method: str = "edge subdivision, filtered exact predicates, simulation of simplicity"
    in_dim: int = 0
    box_lo: list = dataclasses.field(default_factory=list)
    box_hi: list = dataclasses.field(default_factory=list)
    widths: list = dataclasses.field(default_factory=list)
    activation_regions: int = 0
    linear_regions: int | None = None
    linear_note: str = ""
    max_rewrites: int = 0
    degenerate: bool = False
    f_vector: list = dataclasses.field(default_factory=list)
    euler_characteristic: int | None = None
    predicates: dict = dataclasses.field(default_factory=dict)
    certificate: dict = dataclasses.field(default_factory=dict)
    patterns: np.ndarray = dataclasses.field(default=None, repr=False)
    interior_points: np.ndarray = dataclasses.field(default=None, repr=False)
    linear_labels: np.ndarray | None = dataclasses.field(default=None, repr=False)
    _state: Any = dataclasses.field(default=None, repr=False)

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"patterns": self.patterns, "interior_points": self.interior_points}
        if self.linear_labels is not None:
            out["linear_labels"] = self.linear_labels
        return out

    def region(self, i: int) -> NDRegion:
        """Region ``i``: pattern, interior point, vertices, facets (``("box", j)`` or ``(stage, neuron)``)."""
        st = self._state
        if st is None:
            raise InputError("region", "this result holds no complex", "call regions_nd(..., keep=True)")
        i = int(i)
        if not 0 <= i < self.activation_regions:
            raise InputError("region", f"index {i} out of range [0, {self.activation_regions})")
        cell = int(st["cells"][i])
        vi, inv = st["inc"]
        vs = vi[inv == cell]
        en: _Enum = st["enum"]
        Z = en.vZ[vs]
        zs = np.unique(Z)
        facets = []
        for z in zs.tolist():  # in a simple complex every constraint through a vertex of the cell is a facet
            if z < en.nb:
                facets.append(("box", z % en.d, "lo" if z < en.d else "hi"))
            else:
                g = z - en.nb
                facets.append((int(en.stage_of[g]), int(en.local_of[g])))
        return NDRegion(i, self.patterns[i], self.interior_points[i], en.X[vs].copy(), facets, self)

    def _affine(self, i: int, exact: bool):
        st = self._state
        if exact:
            M = st["enum"].exact.output_map(self.patterns[i]).to_fractions()
            return [[Fraction(v) for v in row] for row in M]
        M, _ = st["enum"].output_map()
        cell = int(st["cells"][i])
        return M[:, min(cell, M.shape[1] - 1)].copy()


# ----------------------------------------------------------------------------------- inputs
def _as_pwl(model) -> PWLNet:
    if isinstance(model, PWLNet):
        return model
    try:  # the torch.fx lowering, when the package has it
        from ..models import lower  # type: ignore[attr-defined]
    except ImportError:
        lower = None
    if isinstance(model, (list, tuple)) and model and all(isinstance(t, (list, tuple)) and len(t) == 2 for t in model):
        from ..models import from_layers

        return from_layers([(np.asarray(W, float), np.asarray(b, float)) for W, b in model])
    try:
        from torch import nn
    except ImportError:  # pragma: no cover
        nn = None
    if nn is not None and isinstance(model, nn.Module):
        if type(model) is nn.Sequential:
            return _sequential(model)
        if lower is not None:
            return lower(model)
        raise NotApplicableError(
            "model",
            f"{type(model).__name__} is not a Linear/ReLU/LeakyReLU nn.Sequential",
            "pass a PWLNet (tamelab.models) or an nn.Sequential",
        )
    raise InputError("model", f"expected a PWLNet, an nn.Sequential or a list of (W, b); got {type(model).__name__}")


def _sequential(model) -> PWLNet:
    from torch import nn

    nodes: list = [None]
    widths: list[int] = []
    cur, d = 0, None
    for i, mod in enumerate(model):
        if type(mod) is nn.Linear:
            W = mod.weight.detach().cpu().double().numpy()
            b = mod.bias.detach().cpu().double().numpy() if mod.bias is not None else np.zeros(W.shape[0])
            if d is None:
                d = W.shape[1]
                widths = [d]
            elif W.shape[1] != widths[cur]:
                raise InputError(f"layer {i}", f"input width {W.shape[1]} does not match {widths[cur]}")
            nodes.append(Affine([cur], [W], b))
        elif type(mod) in (nn.ReLU, nn.LeakyReLU):
            if d is None:
                raise InputError(f"layer {i}", "the first layer must be nn.Linear")
            slope = float(mod.negative_slope) if type(mod) is nn.LeakyReLU else 0.0
            nodes.append(ReLU(cur, slope))
            W = None
        elif type(mod) in (nn.Identity, nn.Flatten, nn.Dropout):
            continue
        else:
            raise NotApplicableError(
                f"layer {i}",
                f"{type(mod).__name__} is not piecewise linear (or not supported here)",
                "exact regions need Linear/ReLU/LeakyReLU layers",
            )
        widths.append(int(nodes[-1].b.shape[0]) if isinstance(nodes[-1], Affine) else widths[cur])
        cur = len(nodes) - 1
    if d is None:
        raise InputError("model", "no nn.Linear layer")
    return PWLNet((d,), nodes, widths, cur)


def _as_box(box, d: int) -> tuple[np.ndarray, np.ndarray]:
    if hasattr(box, "lo") and hasattr(box, "hi"):
        if getattr(box, "dim", d) != d:
            raise InputError("box", f"dimension {box.dim} != model input dimension {d}")
        lo, hi = box.lo, box.hi
    elif isinstance(box, np.ndarray) and box.ndim == 2:
        if box.shape != (d, 2):
            raise InputError("box", f"array of shape {box.shape}, expected ({d}, 2)")
        lo, hi = box[:, 0], box[:, 1]
    else:
        try:
            lo, hi = box
        except (TypeError, ValueError) as e:
            raise InputError(
                "box", f"cannot read a box from {type(box).__name__}", "use (lo, hi) or Box(lo, hi, dim)"
            ) from e
    try:
        lo = np.broadcast_to(np.asarray(lo, dtype=np.float64), (d,)).copy()
        hi = np.broadcast_to(np.asarray(hi, dtype=np.float64), (d,)).copy()
    except (TypeError, ValueError) as e:
        raise InputError("box", f"bounds must be numbers or length-{d} vectors") from e
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise InputError("box", "bounds must be finite", "e.g. (-1, 1)")
    if not np.all(lo < hi):
        raise InputError("box", f"need lo < hi in every coordinate (lo={lo.tolist()}, hi={hi.tolist()})")
    return lo, hi


# ----------------------------------------------------------------------------------- public API
def regions_nd(
    model,
    box,
    *,
    linear: bool = False,
    witness: bool = False,
    euler: bool | None = None,
    seed: int = 0,
    max_vertices: int = 2_000_000,
    keep: bool = True,
) -> NDRegionsResult:
    r"""All activation regions of a piecewise-linear network on a box of :math:`\mathbb R^d`, exactly.

    Args:
        model: a :class:`~tamelab.models.PWLNet` (``Affine``/``ReLU``/LeakyReLU/``Max`` nodes), a
            ``nn.Sequential`` of ``Linear``/``ReLU``/``LeakyReLU``, or a list of ``(W, b)`` layers.
        box: ``(lo, hi)`` (numbers or length-``d`` vectors), a ``(d, 2)`` array or
            :class:`tamelab.relu.Box`.
        linear: also count linear regions (non-degenerate runs; exact comparison of output maps). Roughly
            doubles the time.
        witness: certify every region by an interior point whose pattern is certified against the region's
            own inequalities (always done when the arrangement is degenerate: it then also decides which
            perturbed cells survive). Without it the interior points are vertex centroids in float64.
        euler: also count every face of the complex and check its Euler characteristic is 1 (default: only
            for ``d <= 2``, where it is free; in 3-D/4-D it costs about as much as the enumeration).
        seed: seed of the random hash vectors (the result does not depend on it).
        max_vertices: budget on the vertices of the complex (memory guard: about ``17·w + 100`` bytes per
            vertex for a widest ReLU node of ``w`` units; the run stops with the count reached when exceeded).
        keep: keep the complex in the result for lazy queries (:meth:`NDRegionsResult.region`).

    Returns:
        :class:`NDRegionsResult`; status ``ok`` when every check of the certificate passed.
    """
    t0 = time.perf_counter()
    net = _as_pwl(model)
    prog = _program(net)
    d = prog.d
    if d < 1:
        raise InputError("model", "input dimension must be >= 1")
    if d > MAX_DIM:
        raise InputError(
            "model",
            f"input dimension {d} > {MAX_DIM}: the complex grows like 2^d per vertex",
            "restrict to a low-dimensional slice (tamelab.relu.regions with a Plane)",
        )
    lo, hi = _as_box(box, d)
    if int(max_vertices) < 2**d:
        raise InputError("max_vertices", f"{max_vertices} < {2**d} box corners")
    if euler is None:
        euler = d <= 2
    en = _Enum(prog, lo, hi, seed=int(seed), max_vertices=int(max_vertices))
    with np.errstate(all="ignore"):
        en.run()
        out = _finish(en, prog, lo, hi, d, linear=linear, witness=witness, euler=euler)
    cells = out.pop("_cells")
    res = NDRegionsResult(
        seed=int(seed),
        in_dim=d,
        box_lo=lo.tolist(),
        box_hi=hi.tolist(),
        widths=list(prog.width),
        max_rewrites=prog.max_rewrites,
        predicates={k: int(v) for k, v in en.stats.items()},
        **out,
    )
    if keep:
        res._state = {"enum": en, "inc": en.inc, "cells": cells}
    res.seconds = time.perf_counter() - t0
    return res


def _finish(en: _Enum, prog: _Prog, lo, hi, d: int, *, linear: bool, witness: bool, euler: bool) -> dict:
    """Interior points, survival (degenerate runs), certificate, linear regions."""
    vi, inv = en.inc
    R = en.R
    patterns = en.cpat.copy()
    cnt = np.bincount(inv, minlength=R).astype(float)
    Xv = en.X[vi]
    cen = np.stack([np.bincount(inv, weights=Xv[:, j], minlength=R) for j in range(d)], 1) / cnt[:, None]
    degenerate = en.stats["symbolic"] > 0
    cert: dict[str, Any] = {"predicates_certified": True, "pairs_checked": int(en.stats["pairs"])}
    cert.update(_incidence_check(en))
    checks_ok = all(v for k, v in cert.items() if isinstance(v, bool))
    keepmask = np.ones(R, bool)
    if degenerate or witness:
        en.anchor_all()
        Xv = en.X[vi]
        cen = np.stack([np.bincount(inv, weights=Xv[:, j], minlength=R) for j in range(d)], 1) / cnt[:, None]
        dmax = np.zeros(R)
        np.maximum.at(dmax, inv, en.dl[vi])
        rc = (dmax + _gam(int(cnt.max()) + 2) * np.abs(cen).max(1)) * (1 + _gam(8)) + _TINY
        signs = _witness_signs(en, cen, rc)
        undecided = (signs == 0).any(1)
        mismatch = (~undecided) & ((signs > 0).astype(np.uint8) != patterns).any(1)
        n_exact = 0
        for r in np.flatnonzero(undecided | mismatch).tolist():
            n_exact += 1
            pts = []
            for v in vi[inv == r].tolist():
                num, D = en._exact_vertex(int(v))
                pts.append([Fraction(a, D) for a in num])
            if degenerate and _X.rank_of_points(pts) < d:
                keepmask[r] = False
                continue
            cx = [sum(p_[j] for p_ in pts) / len(pts) for j in range(d)]
            den = 1
            for v in cx:
                den = _lcm(den, v.denominator)
            bits = (en.exact.forward([int(v * den) for v in cx], den) > 0).astype(np.uint8)
            if degenerate:
                patterns[r] = bits
            elif (bits != patterns[r]).any():
                checks_ok = False
        if degenerate and (mismatch & keepmask).any():
            checks_ok = False
        distinct = _distinct_rows(patterns[keepmask])
        cert["witness"] = {
            "regions": int(R),
            "decided_in_float": int(R - n_exact),
            "exact": n_exact,
            "distinct_patterns": bool(distinct),
        }
        checks_ok = checks_ok and distinct
    fvec, chi = None, None
    if euler:
        fvec = _f_vector(en)
        chi = int(sum((-1) ** j * f for j, f in enumerate(fvec)))
        cert["euler_characteristic"] = chi
        checks_ok = checks_ok and chi == 1
    n_lin, labels, note = None, None, ""
    if linear:
        if degenerate:
            note = "not computed: degenerate arrangement (merging across collapsed cells is not implemented)"
        else:
            n_lin, labels = _linear_regions(en, prog, patterns)
    if fvec is None:
        fvec = [int(en.nv), int(en.ne)] + [None] * (d - 2) + [int(R)] if d >= 2 else [int(en.nv), int(R)]
    return {
        "status": Status.OK if checks_ok else Status.UNCERTIFIED,
        "activation_regions": int(keepmask.sum()),
        "linear_regions": n_lin,
        "linear_note": note,
        "degenerate": bool(degenerate),
        "f_vector": fvec,
        "euler_characteristic": chi,
        "certificate": cert,
        "patterns": patterns[keepmask],
        "interior_points": cen[keepmask],
        "linear_labels": labels[keepmask] if labels is not None else None,
        "_cells": np.flatnonzero(keepmask),
    }


def _lcm(a: int, b: int) -> int:
    from math import gcd

    return a * b // gcd(a, b)


def _linear_regions(en: _Enum, prog: _Prog, patterns: np.ndarray) -> tuple[int, np.ndarray]:
    """Connected components of regions sharing a facet with exactly equal output maps."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    R, d, nb, nv = en.R, en.d, en.nb, en.nv
    if R == 1 or not prog.width:
        return R, np.zeros(R, np.int64)
    # facets: (vertex, orthant) and the orthant with one neuron zero flipped are the two regions of a facet
    vi, inv = en.inc
    T = np.full((nv, 2**d), -1, np.int64)
    T[vi, en.inc_combo] = inv
    Z = en.vZ[:nv]
    A_, B_, G_ = [], [], []
    for t in range(d):
        bit = 1 << (d - 1 - t)  # combos are itertools.product([1, -1], repeat=d): bit set <=> entry t is -1
        w = np.flatnonzero(Z[:, t] >= nb)
        for q in range(2**d):
            if q & bit:
                continue
            ta, tb = T[w, q], T[w, q | bit]
            ok = (ta >= 0) & (tb >= 0)
            A_.append(ta[ok])
            B_.append(tb[ok])
            G_.append(Z[w[ok], t] - nb)
    a, b, g = np.concatenate(A_), np.concatenate(B_), np.concatenate(G_)
    # one entry per facet (a facet is found from each of its vertices)
    key = a * R + b
    if R * R < 2**31 and len(key) < 2**31:
        ks = np.sort((key << 32) | np.arange(len(key), dtype=np.int64))
        hi = ks >> 32
        first = (ks & 0xFFFFFFFF)[np.r_[True, hi[1:] != hi[:-1]]]
    else:
        o = np.argsort(key)
        first = o[np.r_[True, key[o][1:] != key[o][:-1]]]
    a, b, g = a[first], b[first], g[first]
    # the output maps of a and b differ by (1 - slope) * (∂out/∂h_g on a) ⊗ row_g: certified different when
    # the float maps differ beyond their error bounds; equal when ∂out/∂h_g is structurally zero; else exact
    Mo, Eo = en.output_map()
    if Mo.shape[1] == 1:
        return 1, np.zeros(R, np.int64)
    Ma, Mb = Mo[:, a], Mo[:, b]
    bound = (Eo[:, a] + Eo[:, b])[:, :, None] + _U * (np.abs(Ma) + np.abs(Mb)) + _TINY
    differ = (np.abs(Ma - Mb) > bound).any((0, 2))
    st = en.stage_of[g]
    equal = np.zeros(len(a), bool)
    equal[np.asarray(prog.slope)[st] == 1.0] = True
    cand = np.flatnonzero(~differ & ~equal)
    if cand.size:
        zero = _structurally_zero(prog, patterns[a[cand]], g[cand], st[cand])
        equal[cand[zero]] = True
        done: dict[tuple[int, int], bool] = {}
        for q in cand[~zero].tolist():
            if (int(a[q]), int(b[q])) in done:
                equal[q] = done[(int(a[q]), int(b[q]))]
                continue
            ea = en.exact.output_map(patterns[a[q]])
            eb = en.exact.output_map(patterns[b[q]])
            s_ = max(ea.s, eb.s)
            equal[q] = done[(int(a[q]), int(b[q]))] = bool((ea.at(s_) == eb.at(s_)).all())
    A = coo_matrix((np.ones(int(equal.sum())), (a[equal], b[equal])), shape=(R, R))
    n, labels = connected_components(A, directed=False)
    return int(n), labels.astype(np.int64)


def _structurally_zero(prog: _Prog, bits: np.ndarray, g: np.ndarray, st: np.ndarray) -> np.ndarray:
    """For each (pattern, neuron ``g`` of stage ``st``):

    is ``∂out/∂h_g`` zero because every path from the neuron's ReLU output to the output passes through a zero weight or
    an inactive ReLU (slope 0)?
    """
    P = len(g)
    zero = np.zeros(P, bool)
    for m in np.unique(st).tolist():
        sel = np.flatnonzero(st == m)
        i0 = prog.relu[m]
        reach: dict[int, np.ndarray] = {}
        r0 = np.zeros((len(sel), prog.width[m]))
        r0[np.arange(len(sel)), g[sel] - prog.offset[m]] = 1.0
        reach[i0] = r0
        for i in range(i0 + 1, len(prog.nodes)):
            node = prog.nodes[i]
            if isinstance(node, Affine):
                acc = None
                for s_, A in zip(node.sources, node.A):
                    if s_ in reach:
                        y = reach[s_] @ (A != 0).T.astype(np.float64)
                        acc = y if acc is None else acc + y
                if acc is not None:
                    reach[i] = (acc > 0).astype(np.float64)
            elif node.source in reach:
                mm = prog.stage_of_node[i]
                o = prog.offset[mm]
                f = bits[sel, o : o + prog.width[mm]].astype(np.float64) if prog.slope[mm] == 0.0 else 1.0
                reach[i] = reach[node.source] * f
        zero[sel] = ~(reach[prog.out] > 0).any(1) if prog.out in reach else True
    return zero
