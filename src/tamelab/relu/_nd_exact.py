r"""Exact arithmetic for the n-D region enumerator (:mod:`tamelab.relu._nd`) and its references.

Every float64 number is a dyadic rational :math:`m\,2^{e}`, so the network a :class:`~tamelab.models.PWLNet`
describes has exact rational semantics. This module evaluates it exactly with Python integers:

* :class:`Dy` — a matrix of dyadic rationals ``N / 2**s`` (``N`` an object array of Python ints);
* :class:`ExactProgram` — the program of a PWL network (affine nodes, ReLU/LeakyReLU nodes) run on
  exact affine maps (the pre-activation of every neuron as an affine function of the input on a cell of
  fixed activation pattern, optionally with one extra column per neuron for the symbolic perturbation
  :math:`z_g \mapsto z_g + \varepsilon_g`) or on an exact rational point;
* :func:`solve` — the exact solution of a square system by Cramer's rule with fraction-free (Bareiss)
  determinants;
* :func:`sos_sign` — the sign of :math:`z_k(v(\varepsilon))` at a symbolically perturbed vertex
  (Edelsbrunner & Mücke, *Simulation of Simplicity*, ACM TOG 9(1), 1990);
* :func:`lp_max_margin` — an exact (``fractions.Fraction``) simplex for
  :math:`\max\{t : G y \le h\}`, used to decide full-dimensionality of a region exactly;
* :func:`lp_patterns` — the brute-force reference: all activation patterns whose region in a box has
  nonempty interior, by depth-first search over neurons with one LP per node (HiGHS in float64, the exact
  simplex whenever the float margin is within ``1e-7`` of zero).

Nothing here is fast; the enumerator only calls it for the few predicates its float filter cannot decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import numpy as np

__all__ = [
    "Dy",
    "ExactProgram",
    "det",
    "lp_max_margin",
    "lp_patterns",
    "rank_of_points",
    "solve",
    "sos_sign",
    "to_dy",
]


# ----------------------------------------------------------------------------------- dyadic matrices
class Dy:
    """A matrix of dyadic rationals ``N * 2**-s`` (``N``: object array of Python ints, ``s >= 0``)."""

    __slots__ = ("N", "s")

    def __init__(self, N: np.ndarray, s: int) -> None:
        self.N = N
        self.s = int(s)

    def at(self, s: int) -> np.ndarray:
        """The integer numerators on the finer scale ``2**-s`` (``s >= self.s``)."""
        if s == self.s:
            return self.N
        return self.N * (1 << (s - self.s))

    def __matmul__(self, other: Dy) -> Dy:
        return Dy(np.asarray(self.N @ other.N, dtype=object), self.s + other.s)

    def __add__(self, other: Dy) -> Dy:
        s = max(self.s, other.s)
        return Dy(self.at(s) + other.at(s), s)

    def rows(self, idx) -> Dy:
        return Dy(self.N[idx], self.s)

    def to_fractions(self) -> np.ndarray:
        den = 1 << self.s
        return np.vectorize(lambda v: Fraction(v, den), otypes=[object])(self.N)

    def to_float(self) -> np.ndarray:
        return np.vectorize(lambda v: float(Fraction(v, 1 << self.s)), otypes=[float])(self.N)


def to_dy(a) -> Dy:
    """The exact dyadic value of a float64 array (``a = N / 2**s``)."""
    a = np.asarray(a, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError("non-finite value has no exact rational value")
    mant, ex = np.frexp(a)
    mi = (mant * 2.0**53).astype(np.int64)  # exact: |mant| < 1 has at most 53 significant bits
    ex = ex.astype(np.int64) - 53
    nz = mi != 0
    s = max(int(-ex[nz].min()), 0) if nz.any() else 0
    sh = (ex + s).ravel().tolist()
    N = np.empty(a.size, dtype=object)
    for i, (m, k) in enumerate(zip(mi.ravel().tolist(), sh)):
        N[i] = (m << k) if m else 0
    return Dy(N.reshape(a.shape), s)


def _obj(shape) -> np.ndarray:
    out = np.empty(shape, dtype=object)
    out.fill(0)
    return out


# ----------------------------------------------------------------------------------- determinants, solves
def det(M: Sequence[Sequence[int]]) -> int:
    """Exact determinant of an integer matrix (Bareiss fraction-free elimination)."""
    A = [list(map(int, row)) for row in M]
    n = len(A)
    if n == 0:
        return 1
    sign, prev = 1, 1
    for k in range(n - 1):
        if A[k][k] == 0:
            for i in range(k + 1, n):
                if A[i][k] != 0:
                    A[k], A[i] = A[i], A[k]
                    sign = -sign
                    break
            else:
                return 0
        for i in range(k + 1, n):
            for j in range(k + 1, n):
                A[i][j] = (A[i][j] * A[k][k] - A[i][k] * A[k][j]) // prev
        prev = A[k][k]
    return sign * A[n - 1][n - 1]


def solve(J: Sequence[Sequence[int]], c: Sequence[int]) -> tuple[list[int], int] | None:
    """The exact solution of ``J x + c = 0`` (integer ``J``, ``c``) over a common denominator.

    The exact solution of ``J x + c = 0`` (integer ``J``, ``c``) as ``(numerators, D)`` with ``D > 0``,
    ``x_i = numerators[i] / D``; ``None`` when ``J`` is singular.
    """
    n = len(J)
    D = det(J)
    if D == 0:
        return None
    num = []
    for i in range(n):
        Ji = [list(row) for row in J]
        for r in range(n):
            Ji[r][i] = -int(c[r])
        num.append(det(Ji))
    if D < 0:
        D, num = -D, [-v for v in num]
    return num, D


def rank_of_points(points: Sequence[Sequence[Fraction]]) -> int:
    """Exact affine rank (dimension of the affine hull) of a set of rational points."""
    pts = [list(map(Fraction, p)) for p in points]
    if len(pts) <= 1:
        return 0
    M = [[a - b for a, b in zip(p, pts[0])] for p in pts[1:]]
    rank, cols = 0, len(M[0])
    for c in range(cols):
        piv = next((r for r in range(rank, len(M)) if M[r][c] != 0), None)
        if piv is None:
            continue
        M[rank], M[piv] = M[piv], M[rank]
        for r in range(len(M)):
            if r != rank and M[r][c] != 0:
                f = M[r][c] / M[rank][c]
                M[r] = [a - f * b for a, b in zip(M[r], M[rank])]
        rank += 1
    return rank


# ----------------------------------------------------------------------------------- the exact program
class ExactProgram:
    """Exact mirror of the enumerator's program (a list of ``Affine``/``ReLU`` nodes, ``Max`` rewritten).

    Args:
        prog: the enumerator's ``_Prog`` (attributes ``d``, ``nodes``, ``relu``, ``width``, ``offset``,
            ``slope``, ``stage_of_node``, ``N``).
    """

    def __init__(self, prog) -> None:
        self.p = prog
        self._aff: dict[int, tuple[list[Dy], Dy]] = {}
        self._slope = [to_dy(np.array([s])) for s in prog.slope]
        self._cache: dict = {}

    def _affine(self, i: int) -> tuple[list[Dy], Dy]:
        if i not in self._aff:
            node = self.p.nodes[i]
            self._aff[i] = ([to_dy(A) for A in node.A], to_dy(node.b))
        return self._aff[i]

    def _run(self, X0: Dy, kvec: Dy, upto_stage: int, bits=None, eps: bool = False):
        """Run the nodes up to the pre-activation of ReLU stage ``upto_stage`` on the maps ``X0``.

        Run the nodes up to the pre-activation of ReLU stage ``upto_stage`` on the maps ``X0``
        (``d × ncols``; ``kvec`` the ``1 × ncols`` row the biases multiply). ``bits[m]`` fixes the
        pattern of stage ``m`` (else it is read off the signs: ``z > 0`` active). With ``eps`` the
        columns ``ncols - N ...`` carry the perturbations ``ε_g`` added to each pre-activation.
        Returns the list of pre-activation maps (one :class:`Dy` per stage).
        """
        p = self.p
        vals: dict[int, Dy] = {0: X0}
        pres: list[Dy] = []
        ncols = X0.N.shape[1]
        for i in range(1, len(p.nodes)):
            node = p.nodes[i]
            if hasattr(node, "A"):
                As, b = self._affine(i)
                acc = Dy(b.N[:, None] * kvec.N[None, :], b.s + kvec.s)
                for s_, A in zip(node.sources, As):
                    acc = acc + (A @ vals[s_])
                vals[i] = acc
            else:
                m = p.stage_of_node[i]
                z = vals[node.source]
                if eps:
                    E = _obj(z.N.shape)
                    off = ncols - p.N + p.offset[m]
                    for j in range(p.width[m]):
                        E[j, off + j] = 1
                    z = z + Dy(E, 0)
                pres.append(z)
                if m == upto_stage:
                    return pres
                if bits is not None:
                    act = np.asarray(bits[m], dtype=bool)
                else:  # a point: the sign of the (single-column) value decides
                    act = np.array([v > 0 for v in z.N[:, 0]], dtype=bool)
                sl = self._slope[m]
                N = z.at(z.s + sl.s)
                if sl.N[0] == 0:
                    N = N * act[:, None].astype(object)
                else:
                    N = np.where(act[:, None], N, z.N * sl.N[0])
                vals[i] = Dy(np.asarray(N, dtype=object), z.s + sl.s)
        return pres

    def cell_pre(self, prefix_bits: np.ndarray, stage: int, eps: bool = False) -> list[Dy]:
        """Exact pre-activation maps of stages ``0..stage`` on the cell given by ``prefix_bits``.

        Exact pre-activation maps (``n_m × (d+1)``, or ``× (d+1+N)`` with ``eps``) of stages
        ``0..stage`` on the cell whose pattern over the earlier stages is ``prefix_bits``.
        """
        p = self.p
        key = (stage, eps, np.asarray(prefix_bits[: p.offset[stage]], dtype=np.uint8).tobytes())
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        d = p.d
        ncols = d + 1 + (p.N if eps else 0)
        X0 = _obj((d, ncols))
        for j in range(d):
            X0[j, j] = 1
        k = _obj((ncols,))
        k[d] = 1
        bits = [prefix_bits[p.offset[m] : p.offset[m] + p.width[m]] for m in range(stage)]
        out = self._run(Dy(X0, 0), Dy(k, 0), stage, bits, eps)
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[key] = out
        return out

    def forward(self, num: Sequence[int], D: int) -> np.ndarray:
        """Signs (−1, 0, +1) of every neuron's pre-activation at the exact point ``x = num / D``."""
        X0 = _obj((self.p.d, 1))
        for j, v in enumerate(num):
            X0[j, 0] = int(v)
        k = _obj((1,))
        k[0] = int(D)
        pres = self._run(Dy(X0, 0), Dy(k, 0), len(self.p.relu))
        out = np.zeros(self.p.N, dtype=np.int8)
        for m, z in enumerate(pres):
            o = self.p.offset[m]
            out[o : o + len(z.N)] = [(v > 0) - (v < 0) for v in z.N[:, 0]]
        return out

    def output_map(self, bits: np.ndarray) -> Dy:
        """Exact output map (``out × (d+1)``) on the cell with full pattern ``bits``."""
        p = self.p
        d = p.d
        X0 = _obj((d, d + 1))
        for j in range(d):
            X0[j, j] = 1
        k = _obj((d + 1,))
        k[d] = 1
        vals: dict[int, Dy] = {0: Dy(X0, 0)}
        for i in range(1, len(p.nodes)):
            node = p.nodes[i]
            if hasattr(node, "A"):
                As, b = self._affine(i)
                acc = Dy(b.N[:, None] * k[None, :], b.s)
                for s_, A in zip(node.sources, As):
                    acc = acc + (A @ vals[s_])
                vals[i] = acc
            else:
                m = p.stage_of_node[i]
                z = vals[node.source]
                act = np.asarray(bits[p.offset[m] : p.offset[m] + p.width[m]], dtype=bool)
                sl = self._slope[m]
                N = np.where(act[:, None], z.at(z.s + sl.s), z.N * sl.N[0])
                vals[i] = Dy(np.asarray(N, dtype=object), z.s + sl.s)
        return vals[p.out]


def box_row(j: int, d: int, lo: np.ndarray, hi: np.ndarray) -> Dy:
    """Exact row of box constraint ``j`` (``j < d``: ``x_j - lo_j >= 0``; else ``hi_{j-d} - x_{j-d} >= 0``)."""
    r = np.zeros(d + 1)
    if j < d:
        r[j], r[d] = 1.0, -lo[j]
    else:
        r[j - d], r[d] = -1.0, hi[j - d]
    return to_dy(r)


def stack_rows(rows: Sequence[Dy]) -> tuple[np.ndarray, int]:
    """Rows (each a 1-D :class:`Dy`) on one common scale: ``(integer matrix, s)``."""
    s = max(r.s for r in rows)
    return np.stack([r.at(s) for r in rows]), s


def sos_sign(zrows: Sequence[Dy], krow: Dy, d: int, N: int) -> int:
    r"""Sign of the pre-activation of unit k at a perturbed vertex (symbolic perturbation).

    Sign of :math:`z_k(v(\varepsilon))` for the vertex :math:`v(\varepsilon)` where the constraints
    ``zrows`` (``d`` rows of width ``d+1+N``: gradient, constant, ε-coefficients) vanish.

    With :math:`J` the gradients, :math:`P_Z` the ε-coefficients of the defining rows and :math:`a_k, p_k`
    those of the row ``krow``, :math:`z_k(v(\varepsilon)) = z_k(v_0) + (p_k - a_k J^{-1} P_Z)\,\varepsilon`;
    the caller has established :math:`z_k(v_0) = 0`. The sign is that of the first nonzero coefficient in
    the order :math:`\varepsilon_0 \gg \varepsilon_1 \gg \dots`. Returns 0 only if every coefficient vanishes
    (impossible when row ``k`` carries its own :math:`\varepsilon_k` and no defining row does).
    """
    M, _ = stack_rows(list(zrows) + [krow])
    J = [[int(v) for v in M[i, :d]] for i in range(d)]
    a = [int(v) for v in M[d, :d]]
    dJ = det(J)
    if dJ == 0:
        raise ArithmeticError("singular vertex system")
    # y_i = det(J with row i replaced by a) = dJ * (a J^{-1})_i
    y = []
    for i in range(d):
        Ji = [list(r) for r in J]
        Ji[i] = list(a)
        y.append(det(Ji))
    pk = M[d, d + 1 :]
    PZ = M[:d, d + 1 :]
    coef = pk * dJ
    for i in range(d):
        if y[i]:
            coef = coef - PZ[i] * y[i]
    sd = 1 if dJ > 0 else -1
    for v in coef:
        if v != 0:
            return sd * (1 if v > 0 else -1)
    return 0


# ----------------------------------------------------------------------------------- exact LP
def lp_max_margin(G: Sequence[Sequence[Fraction]], h: Sequence[Fraction], t_index: int) -> Fraction:
    r"""Exact optimum of the LP max y_t subject to G y ≤ h, by Bland's-rule simplex in rationals.

    Exact optimum of :math:`\max\{y_t : G y \le h\}` (variables free; the problem must be feasible and
    bounded), by Bland's-rule simplex on the dual :math:`\min\{h^\top\lambda : G^\top\lambda = e_t,\
    \lambda\ge0\}` in rational arithmetic.
    """
    m = len(G)
    nvar = len(G[0])
    # dual in standard form: rows = nvar equalities, columns = m lambdas + nvar artificials
    A = [[Fraction(G[i][r]) for i in range(m)] for r in range(nvar)]
    b = [Fraction(1 if r == t_index else 0) for r in range(nvar)]
    for r in range(nvar):
        if b[r] < 0:
            A[r] = [-v for v in A[r]]
            b[r] = -b[r]
    cost = [Fraction(v) for v in h]
    ncol = m + nvar
    T = [A[r] + [Fraction(1 if k == r else 0) for k in range(nvar)] + [b[r]] for r in range(nvar)]
    basis = [m + r for r in range(nvar)]

    def pivot(r, c):
        pv = T[r][c]
        T[r] = [v / pv for v in T[r]]
        for i in range(len(T)):
            if i != r and T[i][c] != 0:
                f = T[i][c]
                T[i] = [a - f * bb for a, bb in zip(T[i], T[r])]
        basis[r] = c

    def simplex(cvec, allowed):
        while True:
            cb = [cvec[j] for j in basis]
            enter = None
            for c in range(ncol):
                if not allowed[c] or c in basis:
                    continue
                red = cvec[c] - sum(cb[i] * T[i][c] for i in range(nvar))
                if red < 0:
                    enter = c
                    break
            if enter is None:
                return
            best, leave = None, None
            for i in range(nvar):
                if T[i][enter] > 0:
                    ratio = T[i][-1] / T[i][enter]
                    if best is None or ratio < best or (ratio == best and basis[i] < basis[leave]):
                        best, leave = ratio, i
            if leave is None:
                raise ArithmeticError("dual unbounded: primal infeasible")
            pivot(leave, enter)

    phase1 = [Fraction(0)] * m + [Fraction(1)] * nvar
    simplex(phase1, [True] * ncol)
    if sum(T[i][-1] for i in range(nvar) if basis[i] >= m) != 0:
        raise ArithmeticError("dual infeasible: primal unbounded")
    for i in range(nvar):  # drive artificials out of the basis
        if basis[i] >= m:
            c = next((c for c in range(m) if T[i][c] != 0), None)
            if c is not None:
                pivot(i, c)
    allowed = [c < m for c in range(ncol)]
    simplex(cost + [Fraction(0)] * nvar, allowed)
    return sum(cost[basis[i]] * T[i][-1] for i in range(nvar) if basis[i] < m)


def _region_system(rows_signed, d, lo, hi):
    """``G y <= h`` for ``y = (x, t)``: ``-(a·x + c) + t <= 0`` per signed row, box faces, ``t <= 1``."""
    G, h = [], []
    for a, c in rows_signed:
        G.append([-v for v in a] + [Fraction(1)])
        h.append(c)
    for j in range(d):
        e = [Fraction(0)] * d
        e[j] = Fraction(1)
        G.append([-v for v in e] + [Fraction(1)])
        h.append(-Fraction(lo[j]))
        G.append(e + [Fraction(1)])
        h.append(Fraction(hi[j]))
    G.append([Fraction(0)] * d + [Fraction(1)])
    h.append(Fraction(1))
    return G, h


def lp_patterns(prog, lo, hi, *, exact_band: float = 1e-7, max_nodes: int = 200_000) -> set[tuple[int, ...]]:
    """Reference: every activation pattern whose region ``{x in box: pattern(x) = s}`` has nonempty interior.

    Depth-first search over the neurons in program order; a node fixes the pattern of a prefix of neurons and
    is kept when the open polyhedron ``{x in open box : z_i(x) > 0 (active), z_i(x) < 0 (inactive)}`` is
    nonempty — a neuron whose affine map on the node's cell is identically zero is inactive and adds no
    constraint (the pattern uses ``z > 0``). Each node solves ``max t`` by HiGHS on rows normalised to unit
    gradient norm; when ``|t*| <= exact_band`` the exact rational simplex decides. Independent of the
    enumerator (no vertices, no hashing, no perturbation).
    """
    from scipy.optimize import linprog

    ex = ExactProgram(prog)
    d = prog.d
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    lof = [Fraction(float(v)) for v in lo]
    hif = [Fraction(float(v)) for v in hi]
    out: set[tuple[int, ...]] = set()
    nodes = [0]

    def feasible(signed):
        A = np.array([[float(v) for v in a] for a, _ in signed]) if signed else np.zeros((0, d))
        c = np.array([float(v) for _, v in signed]) if signed else np.zeros(0)
        nrm = np.linalg.norm(A, axis=1) if len(A) else np.zeros(0)
        nrm = np.where(nrm > 0, nrm, 1.0)
        A_ub = np.vstack(
            [
                np.hstack([-A / nrm[:, None], np.ones((len(A), 1))]),
                np.hstack([-np.eye(d), np.ones((d, 1))]),
                np.hstack([np.eye(d), np.ones((d, 1))]),
            ]
        )
        b_ub = np.concatenate([c / nrm, -lo, hi])
        res = linprog(
            np.r_[np.zeros(d), -1.0], A_ub=A_ub, b_ub=b_ub, bounds=[(None, None)] * d + [(None, 1.0)], method="highs"
        )
        t = -res.fun if res.status == 0 else None
        if t is not None and abs(t) > exact_band:
            return t > 0
        G, h = _region_system(signed, d, lof, hif)
        return lp_max_margin(G, h, d) > 0

    def rec(bits: list[int], signed: list):
        nodes[0] += 1
        if nodes[0] > max_nodes:
            raise RuntimeError("lp_patterns: node budget exceeded")
        i = len(bits)
        if i == prog.N:
            out.add(tuple(bits))
            return
        m = next(mm for mm in range(len(prog.width)) if prog.offset[mm] <= i < prog.offset[mm] + prog.width[mm])
        full = np.array(bits + [0] * (prog.N - i), dtype=np.uint8)
        pre = ex.cell_pre(full, m)[m]
        row = pre.to_fractions()[i - prog.offset[m]]
        a, c = list(row[:d]), row[d]
        if all(v == 0 for v in a) and c == 0:  # identically zero on this cell: inactive, no constraint
            rec(bits + [0], signed)
            return
        for bit, sg in ((1, 1), (0, -1)):
            s2 = signed + [([sg * v for v in a], sg * c)]
            if all(v == 0 for v in a):
                if sg * c > 0:
                    rec(bits + [bit], signed)
                continue
            if feasible(s2):
                rec(bits + [bit], s2)

    rec([], [])
    return out
