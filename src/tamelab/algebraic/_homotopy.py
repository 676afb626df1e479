r"""All isolated complex solutions of a square polynomial system by total-degree homotopy continuation (NumPy).

For :math:`F=(f_1,\dots,f_n)` with degrees :math:`d_i`, the start system :math:`G_i(x)=x_i^{d_i}-1` has the
:math:`\prod_i d_i` (Bézout number) known roots :math:`x_i=e^{2\pi\mathrm ik_i/d_i}`. The homotopy

.. math:: H(x,s)=(1-s)\,\gamma\,G(x)+s\,F(x),\qquad s:0\to1,

with a random complex :math:`\gamma` (the "gamma trick") has, with probability one, smooth non-crossing paths for
:math:`s<1`, and every isolated solution of :math:`F` is the end of at least one path (Morgan, *Solving Polynomial
Systems Using Continuation*, 1987; Sommese & Wampler 2005, Thm 8.4.1). The remaining paths diverge (solutions at
infinity). Each path is tracked with an Euler predictor along :math:`\dot x=-H_x^{-1}H_s` and a Newton corrector,
with a per-path step that grows after a contracting correction and halves otherwise; all paths advance together
(vectorised). End points are polished by Newton on :math:`F` and merged into distinct roots.

This is independent of the Gröbner-basis count in :mod:`tamelab.algebraic._critical`: no elimination, floating
point only, distinct roots (not counted with multiplicity), and real roots read off the imaginary parts.
"""

from __future__ import annotations

import dataclasses
import itertools
import time

import numpy as np

from .._numerics import NEWTON_CONTRACTION_SLACK, NEWTON_STEP_RTOL
from .._rng import np_rng, resolve_seed
from ..errors import InputError
from ..result import Result, Status

__all__ = ["HomotopyResult", "PolySystem", "solve_total_degree", "distinct_points", "MAX_PATHS"]

#: refuse systems with more start paths than this (Bézout number).
MAX_PATHS = 20_000
#: a path that stalls (singular end point) within this of s = 1 with |z0| below INFINITY_TOL (relative to its
#: largest coordinate) tends to a solution at infinity; a path stalling anywhere else is a tracking failure.
STALL_S = 1e-3
INFINITY_TOL = 1e-2
#: the endgame starts at s = 1 - ENDGAME_S; a path stalling later whose |z0| fell below SHRINK times its value at the
#: start of the endgame is heading to infinity (|z0| ~ (1 - s)^(1/c) falls by (STALL_S/ENDGAME_S)^(1/c) >= 2.2
#: for c <= 8).
ENDGAME_S = 1e-2
SHRINK = 0.5
#: a path whose step fell below this stalls.
MIN_STEP = 1e-12
#: the largest step in s.
MAX_STEP = 0.1
#: an end point is a root when ‖F‖ (relative to the size of its terms) is below this after polishing.
ROOT_RESIDUAL = 1e-9
#: two roots are the same when they differ by less than this (relative to 1 + |x|).
MERGE_TOL = 1e-6
#: imaginary parts below this (relative to 1 + |x|) make a root real.
REAL_TOL = 1e-8


@dataclasses.dataclass
class HomotopyResult(Result):
    """Distinct finite solutions and the fate of every path."""

    kind = "homotopy"

    n_variables: int = 0
    degrees: list[int] = dataclasses.field(default_factory=list)
    n_paths: int = 0
    n_converged: int = 0
    n_diverged: int = 0
    n_failed: int = 0
    roots: np.ndarray | None = dataclasses.field(default=None, repr=False)
    n_distinct: int = 0
    n_real: int = 0
    max_residual: float = float("nan")
    iterations: int = 0


@dataclasses.dataclass
class PolySystem:
    """A square system of n polynomials in n unknowns as coefficients ``C`` (n × T) over monomials ``E`` (T × n)."""

    coeffs: np.ndarray
    exponents: np.ndarray

    @classmethod
    def from_sympy(cls, polys, gens) -> "PolySystem":
        """From SymPy expressions or ``Poly`` objects in ``gens`` (coefficients converted to complex floats)."""
        import sympy as sp

        ps = [p if isinstance(p, sp.Poly) else sp.Poly(p, *gens) for p in polys]
        monos = sorted({m for p in ps for m in p.monoms()})
        index = {m: i for i, m in enumerate(monos)}
        C = np.zeros((len(ps), len(monos)), dtype=complex)
        for i, p in enumerate(ps):
            for m, c in p.terms():
                C[i, index[m]] = complex(c)
        return cls(C, np.array(monos, dtype=np.int64).reshape(len(monos), len(gens)))

    @property
    def degrees(self) -> list[int]:
        tot = self.exponents.sum(1)
        return [int(tot[np.abs(row) > 0].max()) if np.any(np.abs(row) > 0) else 0 for row in self.coeffs]

    def homogenized(self) -> "PolySystem":
        """Add the variable z0 (first) so that every equation is homogeneous of its degree."""
        tot = self.exponents.sum(1)
        D = max(self.degrees)
        # one homogeneous copy of each monomial per equation degree; keep coefficients per equation
        E, C = [], []
        for i, di in enumerate(self.degrees):
            for t in np.nonzero(np.abs(self.coeffs[i]) > 0)[0]:
                E.append(np.concatenate([[di - tot[t]], self.exponents[t]]))
                row = np.zeros(len(self.coeffs), dtype=complex)
                row[i] = self.coeffs[i, t]
                C.append(row)
        del D
        return PolySystem(np.array(C).T, np.array(E, dtype=np.int64))

    def _monomials(self, Z: np.ndarray, E: np.ndarray) -> np.ndarray:
        """Π_j Z[:, j]**E[t, j] for every row t of E (powers by repeated products, not complex pow)."""
        D = int(self.exponents.max()) if self.exponents.size else 0
        pw = np.empty((Z.shape[0], Z.shape[1], D + 1), dtype=Z.dtype)
        pw[:, :, 0] = 1
        for k in range(1, D + 1):
            pw[:, :, k] = pw[:, :, k - 1] * Z
        cols = np.arange(Z.shape[1])
        return np.prod(pw[:, cols[None, :], E], axis=2)  # P × T

    def evaluate(self, Z: np.ndarray, jacobian: bool = True):
        """Values (P × n) and, with ``jacobian``, the Jacobian (P × n × m) at the rows of ``Z`` (P × m)."""
        F = self._monomials(Z, self.exponents) @ self.coeffs.T
        if not jacobian:
            return F, None
        m = Z.shape[1]
        J = np.empty((Z.shape[0], self.coeffs.shape[0], m), dtype=np.result_type(Z, self.coeffs))
        for j in range(m):
            e = self.exponents[:, j]
            Ej = self.exponents.copy()
            Ej[:, j] = np.maximum(e - 1, 0)
            J[:, :, j] = self._monomials(Z, Ej) @ (self.coeffs * e[None, :]).T
        return F, J

    def term_scale(self, Z: np.ndarray) -> np.ndarray:
        """Per equation, the sum of the absolute values of its terms at the rows of ``Z``."""
        return self._monomials(np.abs(Z), self.exponents) @ np.abs(self.coeffs).T


def solve_total_degree(
    system: PolySystem, *, seed=0, max_steps: int = 3000, max_paths: int = MAX_PATHS
) -> HomotopyResult:
    r"""Track all Bézout paths of ``system`` (a :class:`PolySystem`) homogenised, in a random affine patch.

    Working projectively keeps every path bounded: a path that tends to a solution at infinity ends with
    :math:`z_0\to0` instead of escaping. Paths reaching :math:`s=1` with :math:`|z_0|` not small give the finite
    solutions :math:`x=z/z_0`, polished by Newton on the affine system; the residual is relative to the sum of the
    absolute values of each equation's terms.
    """
    t0 = time.perf_counter()
    degrees = system.degrees
    n = len(degrees)
    if n == 0 or any(d < 1 for d in degrees) or system.exponents.shape[1] != n:
        raise InputError(
            "system",
            f"need a square system of n >= 1 non-constant equations, got degrees {degrees} in "
            f"{system.exponents.shape[1]} unknowns",
        )
    n_paths = int(np.prod(degrees))
    if n_paths > max_paths:
        raise InputError(
            "system",
            f"{n_paths} homotopy paths (Bézout number) exceed the budget of {max_paths}",
            "raise max_paths or use a smaller system",
        )
    hom = system.homogenized()
    s0 = resolve_seed(seed)
    rng = np_rng(s0)
    gamma = np.exp(2j * np.pi * rng.random())
    patch = rng.standard_normal(n + 1) + 1j * rng.standard_normal(n + 1)
    d = np.asarray(degrees)
    W = np.array(
        [
            [1.0] + [np.exp(2j * np.pi * k / di) for k, di in zip(ks, degrees)]
            for ks in itertools.product(*(range(di) for di in degrees))
        ],
        dtype=complex,
    )
    Z = W / (W @ patch)[:, None]  # start points, scaled into the patch
    idx_n = np.arange(n)

    def H_and_jac(Y, s):
        """H(Y, s) with the patch row, ∂H/∂Y and ∂H/∂s."""
        F, JF = hom.evaluate(Y)
        G = Y[:, 1:] ** d - Y[:, :1] ** d
        JG = np.zeros((Y.shape[0], n, n + 1), dtype=complex)
        JG[:, idx_n, idx_n + 1] = d * Y[:, 1:] ** (d - 1)
        JG[:, :, 0] = -d * Y[:, :1] ** (d - 1)
        a, b = ((1 - s) * gamma)[:, None], s[:, None]
        Hv = np.concatenate([a * G + b * F, (Y @ patch - 1)[:, None]], axis=1)
        Hj = np.concatenate(
            [a[:, :, None] * JG + b[:, :, None] * JF, np.broadcast_to(patch, (Y.shape[0], 1, n + 1))], axis=1
        )
        Hs = np.concatenate([F - gamma * G, np.zeros((Y.shape[0], 1))], axis=1)
        return Hv, Hj, Hs

    def solve(A, b):
        with np.errstate(all="ignore"):
            try:
                return np.linalg.solve(A, b[..., None])[..., 0]
            except np.linalg.LinAlgError:
                return np.stack([np.linalg.lstsq(a, v, rcond=None)[0] for a, v in zip(A, b)])

    P = Z.shape[0]
    s = np.zeros(P)
    ds = np.full(P, MAX_STEP / 4)
    active = np.ones(P, dtype=bool)
    stalled = np.zeros(P, dtype=bool)
    z0_enter = np.full(P, np.nan)  # relative |z0| when the path enters the endgame (s >= 1 - ENDGAME_S)
    n_iter = 0
    for n_iter in range(max_steps):  # noqa: B007 (the count is reported after the loop)
        idx = np.nonzero(active)[0]
        if idx.size == 0:
            break
        Y, sy = Z[idx], s[idx]
        h = np.minimum(ds[idx], 1.0 - sy)
        _, Hj, Hs = H_and_jac(Y, sy)
        Yp = Y - h[:, None] * solve(Hj, Hs)  # Euler predictor along dY/ds = -H_Y^{-1} H_s
        sp_ = sy + h
        norms = []
        for _k in range(3):  # Newton corrector at the new s
            Hv, Hj, _ = H_and_jac(Yp, sp_)
            step = solve(Hj, Hv)
            Yp = Yp - step
            norms.append(np.linalg.norm(step, axis=1) / np.linalg.norm(Yp, axis=1))
        with np.errstate(invalid="ignore"):
            contracts = norms[1] <= 0.25 * norms[0] + NEWTON_CONTRACTION_SLACK
            ok = np.isfinite(Yp).all(1) & (norms[-1] < NEWTON_STEP_RTOL) & contracts
        acc, rej = idx[ok], idx[~ok]
        Z[acc], s[acc] = Yp[ok], sp_[ok]
        ds[acc] = np.minimum(ds[acc] * 2.0, MAX_STEP)
        ds[rej] *= 0.5
        active[acc[s[acc] >= 1.0]] = False
        enter = acc[np.isnan(z0_enter[acc]) & (s[acc] >= 1 - ENDGAME_S)]
        z0_enter[enter] = np.abs(Z[enter, 0]) / np.abs(Z[enter]).max(1)
        # in the endgame a path whose |z0| (relative) has collapsed is heading to infinity: stop tracking it
        late = acc[(s[acc] > 1 - STALL_S) & (np.abs(Z[acc, 0]) < INFINITY_TOL * np.abs(Z[acc]).max(1))]
        stalled[late] = True
        active[late] = False
        gone = rej[ds[rej] < MIN_STEP]
        stalled[gone] = True
        active[gone] = False
    stalled |= active
    # classify the end points: a path reaching s = 1 with |z0| (relative) not small is a finite solution; one with
    # |z0| small, or stalling in the endgame with |z0| small, tends to a solution at infinity (those are often
    # singular and stall the corrector near s = 1); a path stalling anywhere else is a tracking failure.
    z0 = np.abs(Z[:, 0]) / np.abs(Z).max(1)
    # stalled in the endgame and |z0| shrinking since the endgame began (z0 ~ (1-s)^(1/c) for cycle number c):
    # heading to infinity
    shrinking = stalled & (s > 1 - STALL_S) & (z0 < SHRINK * z0_enter)
    at_inf = ((z0 < INFINITY_TOL) & (~stalled | (s > 1 - STALL_S))) | shrinking
    failed = stalled & ~at_inf
    finite = ~stalled & ~at_inf
    X = Z[finite, 1:] / Z[finite, :1]
    for _ in range(6):  # Newton polish on the affine system
        if X.size:
            F, JF = system.evaluate(X)
            X = X - solve(JF, F)
    F = system.evaluate(X, jacobian=False)[0] if X.size else np.zeros((0, n))
    rel = (np.abs(F) / (1.0 + system.term_scale(X))).max(1) if X.size else np.zeros(0)
    good = np.isfinite(rel) & (rel < ROOT_RESIDUAL)
    roots = distinct_points(X[good]) if good.any() else np.zeros((0, n), dtype=complex)
    n_real = int(sum(np.abs(r.imag).max() <= REAL_TOL * (1 + np.abs(r).max()) for r in roots))
    bad_end = int((~good).sum())  # finite end points that are not roots: a tracking failure
    return HomotopyResult(
        status=Status.OK if not failed.any() and bad_end == 0 else Status.UNCERTIFIED,
        seed=s0,
        seconds=time.perf_counter() - t0,
        n_variables=n,
        degrees=degrees,
        n_paths=P,
        n_converged=int(good.sum()),
        n_diverged=int(at_inf.sum()),
        n_failed=int(failed.sum()) + bad_end,
        iterations=n_iter + 1,
        roots=roots,
        n_distinct=len(roots),
        n_real=n_real,
        max_residual=float(rel[good].max()) if good.any() else float("nan"),
    )


def distinct_points(Z: np.ndarray, tol: float | None = None) -> np.ndarray:
    """Merge points closer than ``tol·(1+|x|)`` (max norm, default :data:`MERGE_TOL`);

    one representative per cluster.
    """
    tol = MERGE_TOL if tol is None else tol
    reps: list[np.ndarray] = []
    for z in Z:
        if not any(np.abs(z - r).max() <= tol * (1 + np.abs(r).max()) for r in reps):
            reps.append(z)
    return np.array(reps).reshape(len(reps), Z.shape[1] if Z.ndim == 2 else 0)
