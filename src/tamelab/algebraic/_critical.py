r"""Critical points of regularised deep linear networks by exact algebra (Gröbner bases).

Loss with one data point :math:`(x,y)`, hidden widths :math:`d` (``H`` hidden layers):

.. math:: L=\tfrac12\|W_{H+1}\cdots W_1x-y\|^2+\tfrac12\sum_i\|\Lambda_i^{1/2}\circ W_i\|_F^2 .

The critical equations :math:`\nabla L=0` are polynomial. For generic :math:`\Lambda>0` the ideal is
zero-dimensional (Mehta, Chen, Tang & Hauenstein, arXiv:1810.07716); the number of complex solutions
counted with multiplicity equals the number of standard monomials of a Gröbner basis (SymPy,
grevlex). Counts of spec geometry.md §5.4 (Bharadwaj's thesis): (H,d,dx,dy) = (1,1,1,1) → 5,
(1,1,2,1) → 5, (1,1,1,2) → 9, (1,2,1,1) → 9, (2,1,1,1) → 17. Without regularisation the ideal is
positive-dimensional (rescaling symmetry) and is refused with a clear error.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from fractions import Fraction

import numpy as np

from .._numerics import CRITICAL_MERGE_ATOL, HESSIAN_EIG_ATOL, REAL_ROOT_RTOL
from .._rng import np_rng, resolve_seed
from ..errors import InputError
from ..result import Result, Status

__all__ = [
    "CriticalResult",
    "linear_net_critical_points",
    "count_standard_monomials",
    "MAX_VARIABLES",
    "HomotopyCount",
    "critical_points_homotopy",
]

#: refuse Gröbner computations with more variables than this (SymPy is slow beyond).
MAX_VARIABLES = 6


def _rational(rng, lo=1, hi=9):
    return Fraction(int(rng.integers(lo, hi + 1)), int(rng.integers(lo, hi + 1)) + 1)


def count_standard_monomials(G, gens) -> int | None:
    """Number of monomials outside the initial ideal; ``None`` if infinite (ideal not zero-dimensional)."""
    B = standard_monomials(G, gens)
    return None if B is None else len(B)


def standard_monomials(G, gens) -> list[tuple[int, ...]] | None:
    """Exponent vectors of the standard monomials of a grevlex Gröbner basis (None if infinitely many)."""
    lms = [g.monoms(order="grevlex")[0] for g in G.polys]
    nv = len(gens)
    bounds = []
    for i in range(nv):
        pure = [m[i] for m in lms if all(m[j] == 0 for j in range(nv) if j != i) and m[i] > 0]
        if not pure:
            return None
        bounds.append(min(pure))
    return [
        e
        for e in itertools.product(*(range(b) for b in bounds))
        if not any(all(e[j] >= m[j] for j in range(nv)) for m in lms)
    ]


def _solutions_by_eigenvalues(G, gens, rng) -> np.ndarray:
    """All (complex) solutions of a zero-dimensional radical system:

    eigenvectors of the transposed multiplication matrix of a random linear form on the quotient ring (Stickelberger);
    coordinates by Rayleigh quotients of the coordinate multiplication matrices.
    """
    import sympy as sp

    B = standard_monomials(G, gens)
    index = {b: i for i, b in enumerate(B)}
    n = len(B)

    def mult_matrix(var):
        M = np.zeros((n, n))
        for j, b in enumerate(B):
            mono = sp.Mul(*[g**e for g, e in zip(gens, b)]) * var
            _, rem = G.reduce(mono)
            for mon, coef in sp.Poly(rem, *gens).as_dict().items():
                M[index[mon], j] = float(coef)
        return M

    Ms = [mult_matrix(v) for v in gens]
    r = rng.standard_normal(len(gens))
    Mf = sum(ri * Mi for ri, Mi in zip(r, Ms))
    _, V = np.linalg.eig(Mf.T)
    pts = np.array([[(V[:, k] @ (Mi.T @ V[:, k])) / (V[:, k] @ V[:, k]) for Mi in Ms] for k in range(n)])
    return pts


@dataclasses.dataclass
class CriticalResult(Result):
    kind = "critical_points"

    hidden_layers: int = 1
    width: int = 1
    dx: int = 1
    dy: int = 1
    n_variables: int = 0
    complex_count: int | None = None
    real_points: list[dict] = dataclasses.field(default_factory=list)
    real_count: int | None = None
    minima: int | None = None
    saddles: int | None = None
    data: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class _System:
    """The critical equations of one instance: unknowns, gradient equations, loss, data and regularisation."""

    syms: tuple
    eqs: list
    loss: object
    x: object
    y: object
    lams: list
    H: int
    d: int
    n_variables: int


def _critical_system(hidden_layers, width, dx, dy, rng, regularization=None, x=None, y=None) -> _System:
    import sympy as sp

    H, d = int(hidden_layers), int(width)
    dims = [dx] + [d] * H + [dy]
    shapes = [(dims[i + 1], dims[i]) for i in range(H + 1)]
    nv = sum(a * b for a, b in shapes)
    if nv > MAX_VARIABLES:
        raise InputError(
            "architecture",
            f"{nv} weights exceed the exact-algebra budget of {MAX_VARIABLES} variables",
            "use smaller H, width, dx, dy",
        )
    syms = sp.symbols(f"w0:{nv}")
    it = iter(syms)
    Ws = [sp.Matrix(a, b, lambda i, j: next(it)) for a, b in shapes]
    xs = [sp.nsimplify(v) for v in x] if x is not None else [sp.Rational(*_fr(_rational(rng))) for _ in range(dx)]
    ys = [sp.nsimplify(v) for v in y] if y is not None else [sp.Rational(*_fr(_rational(rng))) for _ in range(dy)]
    if len(xs) != dx or len(ys) != dy:
        raise InputError("x/y", f"need len(x) = dx = {dx} and len(y) = dy = {dy}")
    xm = sp.Matrix(dx, 1, xs)
    ym = sp.Matrix(dy, 1, ys)
    if regularization is None:
        lams = [sp.Matrix(a, b, lambda i, j: sp.Rational(*_fr(_rational(rng, 1, 5) / 10))) for a, b in shapes]
    elif regularization == 0:
        lams = [sp.zeros(a, b) for a, b in shapes]
    else:
        lams = [sp.Matrix(a, b, lambda i, j: sp.nsimplify(regularization)) for a, b in shapes]
    P = sp.eye(dx)
    for Wi in Ws:
        P = Wi * P
    r = P * xm - ym
    L = sp.Rational(1, 2) * (r.T * r)[0, 0] + sp.Rational(1, 2) * sum(
        (
            lams[k][i, j] * Ws[k][i, j] ** 2
            for k in range(len(Ws))
            for i in range(shapes[k][0])
            for j in range(shapes[k][1])
        ),
        sp.Integer(0),
    )
    eqs = [sp.expand(sp.diff(L, v)) for v in syms]
    return _System(syms, eqs, L, xm, ym, lams, H, d, nv)


def linear_net_critical_points(
    hidden_layers: int = 1,
    width: int = 1,
    dx: int = 1,
    dy: int = 1,
    *,
    seed=0,
    regularization=None,
    x=None,
    y=None,
    real: bool = True,
) -> CriticalResult:
    """All critical points of the regularised square loss of a deep linear net with one data point."""
    import sympy as sp

    t0 = time.perf_counter()
    s = resolve_seed(seed)
    rng = np_rng(s)
    sysm = _critical_system(hidden_layers, width, dx, dy, rng, regularization, x, y)
    H, d, nv, syms, eqs, L = sysm.H, sysm.d, sysm.n_variables, sysm.syms, sysm.eqs, sysm.loss
    x, y, lams = sysm.x, sysm.y, sysm.lams
    G = sp.groebner(eqs, *syms, order="grevlex")
    cnt = count_standard_monomials(G, syms)
    if cnt is None:
        raise InputError(
            "regularization",
            "the critical ideal is not zero-dimensional (rescaling symmetry makes critical points come in families)",
            "use a generic positive regularization",
        )
    pts = []
    mins = sads = None
    if real:
        sols = _solutions_by_eigenvalues(G, syms, rng)
        grad_f = sp.lambdify(syms, eqs, "numpy")
        hess_f = sp.lambdify(syms, sp.hessian(L, syms), "numpy")
        loss_f = sp.lambdify(syms, L, "numpy")
        mins = sads = 0
        seen: list[np.ndarray] = []
        for sol in sols:
            if np.abs(sol.imag).max() > REAL_ROOT_RTOL * max(1.0, np.abs(sol).max()):
                continue
            z = sol.real.astype(float)
            for _ in range(20):  # Newton polish on the gradient system (float64)
                g = np.asarray(grad_f(*z), dtype=float)
                Hn = np.asarray(hess_f(*z), dtype=float)
                try:
                    z = z - np.linalg.solve(Hn, g)
                except np.linalg.LinAlgError:
                    break
            if any(np.allclose(z, q, atol=CRITICAL_MERGE_ATOL) for q in seen):
                continue
            seen.append(z)
            g = np.asarray(grad_f(*z), dtype=float)
            ev = np.linalg.eigvalsh(np.asarray(hess_f(*z), dtype=float))
            lo = ev.min()
            kind = "minimum" if lo > HESSIAN_EIG_ATOL else ("saddle" if lo < -HESSIAN_EIG_ATOL else "degenerate")
            mins += kind == "minimum"
            sads += kind == "saddle"
            pts.append(
                {
                    "point": z.tolist(),
                    "loss": float(loss_f(*z)),
                    "gradient_norm": float(np.linalg.norm(g)),
                    "hessian_eigenvalues": ev.tolist(),
                    "kind": kind,
                }
            )
    return CriticalResult(
        status=Status.OK,
        seed=s,
        seconds=time.perf_counter() - t0,
        hidden_layers=H,
        width=d,
        dx=dx,
        dy=dy,
        n_variables=nv,
        complex_count=cnt,
        real_points=sorted(pts, key=lambda p: p["loss"]),
        real_count=len(pts) if real else None,
        minima=mins,
        saddles=sads,
        data={"x": [str(v) for v in x], "y": [str(v) for v in y], "lambda": [[str(v) for v in m] for m in lams]},
    )


def _fr(f: Fraction):
    return (f.numerator, f.denominator)


@dataclasses.dataclass
class HomotopyCount(Result):
    """Distinct critical points of one instance found by homotopy continuation (no Gröbner basis)."""

    kind = "critical_points_homotopy"

    hidden_layers: int = 1
    width: int = 1
    dx: int = 1
    dy: int = 1
    n_variables: int = 0
    bezout: int = 0
    complex_count: int = 0
    real_count: int = 0
    #: distinct critical points with every coordinate non-zero (the published NC* column).
    nonzero_count: int = 0
    paths_failed: int = 0
    max_residual: float = float("nan")
    data: dict = dataclasses.field(default_factory=dict)


def critical_points_homotopy(
    hidden_layers: int = 1,
    width: int = 1,
    dx: int = 1,
    dy: int = 1,
    *,
    seed=0,
    regularization=None,
    x=None,
    y=None,
    zero_tol: float = 1e-8,
) -> HomotopyCount:
    """Count the distinct complex / real / all-non-zero critical points by total-degree homotopy continuation.

    Same instance as :func:`linear_net_critical_points` with the same ``seed`` (same data and Λ), solved by
    :func:`tamelab.algebraic._homotopy.solve_total_degree`; status ``uncertified`` when a path failed (a root
    may then be missing).
    """
    from ._homotopy import PolySystem, solve_total_degree

    t0 = time.perf_counter()
    s = resolve_seed(seed)
    sysm = _critical_system(hidden_layers, width, dx, dy, np_rng(s), regularization, x, y)
    syms, eqs = sysm.syms, sysm.eqs
    system = PolySystem.from_sympy(eqs, syms)
    h = solve_total_degree(system, seed=s)
    roots = h.roots if h.roots is not None else np.zeros((0, len(syms)))
    nonzero = int(sum(np.abs(r).min() > zero_tol * (1 + np.abs(r).max()) for r in roots))
    return HomotopyCount(
        status=h.status,
        seed=s,
        seconds=time.perf_counter() - t0,
        hidden_layers=sysm.H,
        width=sysm.d,
        dx=dx,
        dy=dy,
        n_variables=sysm.n_variables,
        bezout=h.n_paths,
        complex_count=h.n_distinct,
        real_count=h.n_real,
        nonzero_count=nonzero,
        paths_failed=h.n_failed,
        max_residual=h.max_residual,
        data={
            "x": [str(v) for v in sysm.x],
            "y": [str(v) for v in sysm.y],
            "lambda": [[str(v) for v in m] for m in sysm.lams],
        },
    )
