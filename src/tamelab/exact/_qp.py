r"""Small dense convex QPs ``min ½ zᵀQz + cᵀz  s.t.  G z ≤ 0`` (HiGHS through ``highspy``) with a KKT certificate.

The certificate is computed independently of the solver's duals: on the constraints active at the
returned point, the multipliers are the non-negative least-squares solution of
``Qz + c + G_Aᵀλ = 0``; the reported KKT residual is the stationarity residual of that NNLS plus
the primal infeasibility. A residual near 0 proves optimality of a convex QP.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator

import numpy as np

from .._numerics import QP_FEAS_RTOL

__all__ = ["solve_qp", "kkt_residual", "QP_ACTIVE_TOL"]

#: a constraint counts as active when |g·z| ≤ QP_ACTIVE_TOL · (1 + |z|).
QP_ACTIVE_TOL = 1e-7
#: relative ridge added to the Hessian handed to HiGHS (see solve_qp).
QP_RIDGE = 0.0
#: the multipliers' residual off range(Q) may be at most this (relative) for the duality gap to be reported.
QP_RANGE_TOL = 1e-8
#: seconds HiGHS may spend on one QP before the SLSQP fallback takes over.
QP_TIME_LIMIT = 2.0


@contextlib.contextmanager
def _silent_stdout_fd() -> Iterator[None]:
    """Send file descriptor 1 to /dev/null for the duration (C libraries that print to stdout)."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):  # no real fd 1 (e.g. an embedded interpreter): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def solve_qp(Q: np.ndarray, c: np.ndarray, G: np.ndarray) -> tuple[np.ndarray | None, float]:
    """Minimise ½zᵀQz + cᵀz subject to Gz ≤ 0 (z free). Returns (z, objective) or (None, inf) if not optimal."""
    import highspy

    nv = Q.shape[0]
    with _silent_stdout_fd():  # the constructor prints a banner on the C-level stdout (breaks --json)
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", QP_TIME_LIMIT)
    h.setOptionValue("qp_iteration_limit", 20_000)
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_ = nv
    lp.num_row_ = G.shape[0]
    lp.col_cost_ = np.asarray(c, dtype=float)
    lp.col_lower_ = np.full(nv, -inf)
    lp.col_upper_ = np.full(nv, inf)
    lp.row_lower_ = np.full(G.shape[0], -inf)
    lp.row_upper_ = np.zeros(G.shape[0])
    Gc = np.asarray(G, dtype=float)
    nz = Gc != 0
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.concatenate([[0], np.cumsum(nz.sum(0))]).astype(np.int32)
    lp.a_matrix_.index_ = (
        np.concatenate([np.nonzero(nz[:, j])[0] for j in range(nv)]).astype(np.int32)
        if nz.any()
        else np.zeros(0, np.int32)
    )
    lp.a_matrix_.value_ = np.concatenate([Gc[nz[:, j], j] for j in range(nv)]) if nz.any() else np.zeros(0)
    hess = highspy.HighsHessian()
    hess.dim_ = nv
    hess.format_ = highspy.HessianFormat.kTriangular
    # a tiny ridge makes the (often singular) Hessian definite: HiGHS' active-set method can cycle on
    # degenerate singular QPs; the objective below is evaluated with the original Q
    L = np.tril(Q + QP_RIDGE * (1.0 + np.trace(Q) / nv) * np.eye(nv))
    starts, idx, vals = [0], [], []
    for j in range(nv):  # lower triangle, column-wise
        rows = np.nonzero(L[j:, j])[0] + j
        idx.extend(rows.tolist())
        vals.extend(L[rows, j].tolist())
        starts.append(len(idx))
    hess.start_ = np.asarray(starts, dtype=np.int32)
    hess.index_ = np.asarray(idx, dtype=np.int32)
    hess.value_ = np.asarray(vals, dtype=float)
    model = highspy.HighsModel()
    model.lp_ = lp
    model.hessian_ = hess
    h.passModel(model)
    h.run()
    z = None
    if h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
        z = np.asarray(h.getSolution().col_value, dtype=float)
    if z is None or z.shape != (nv,) or not np.isfinite(z).all():
        z = _fallback(Q, c, G)
        if z is None:
            return None, float("inf")
    # HiGHS' active set can stop far from the optimum on ill-conditioned QPs (measured: 2.2e-4 where the
    # optimum is 0, with a small gradient); an SQP polish from its point fixes that, the better feasible point wins
    zp = _fallback(Q, c, G, z0=z)
    if zp is not None and (G @ zp).max(initial=0.0) <= QP_FEAS_RTOL * (1 + np.abs(zp).max()):
        if 0.5 * zp @ Q @ zp + c @ zp < 0.5 * z @ Q @ z + c @ z:
            z = zp
    return z, float(0.5 * z @ Q @ z + c @ z)


def _fallback(Q, c, G, z0=None):
    """SLSQP from ``z0`` (default the feasible point z = 0: Gz ≤ 0 always holds there)."""
    from scipy.optimize import minimize

    r = minimize(
        lambda v: 0.5 * v @ Q @ v + c @ v,
        np.zeros(Q.shape[0]) if z0 is None else z0,
        jac=lambda v: Q @ v + c,
        constraints=[{"type": "ineq", "fun": lambda v: -G @ v, "jac": lambda v: -G}],
        method="SLSQP",
        options={"ftol": 1e-16, "maxiter": 5000},
    )
    return r.x if r.success and np.isfinite(r.x).all() else None


def kkt_residual(Q: np.ndarray, c: np.ndarray, G: np.ndarray, z: np.ndarray) -> dict[str, float]:
    """Independent KKT certificate of ``z`` for ``min ½zᵀQz + cᵀz, Gz ≤ 0``."""
    from scipy.optimize import nnls

    g = Q @ z + c
    slack = G @ z
    infeas = float(max(0.0, slack.max())) if len(slack) else 0.0
    act = np.abs(slack) <= QP_ACTIVE_TOL * (1.0 + np.linalg.norm(z))
    if act.any():
        lam, res = nnls(G[act].T, -g, maxiter=50 * int(act.sum()) + 100)
    else:
        lam, res = np.zeros(0), float(np.linalg.norm(g))
    scale = 1.0 + float(np.abs(c).max()) + float(np.abs(Q).max()) * (1.0 + float(np.abs(z).max()))
    # Lagrangian duality gap with these multipliers: g(λ) = min_z ½zᵀQz + (c + G_Aᵀλ)ᵀz, finite iff
    # r = c + G_Aᵀλ ∈ range(Q); then f(z) − g(λ) ≥ f(z) − f* certifies the objective itself, not only the gradient.
    # At a KKT point r = −Qz up to the stationarity residual, so r has a small part r_N off range(Q) (singular Q:
    # duplicated or constant features, units with no active point). Weak duality with the part r_R in the range
    # gives f(z') ≥ g_R(λ) + r_Nᵀz'; the gap is reported with the term |r_N|·(1 + |z|) added, and only when r_N is
    # at the level of the stationarity residual (otherwise the multipliers certify nothing: gap = inf).
    r = c + (G[act].T @ lam if act.any() else 0.0)
    u, *_ = np.linalg.lstsq(Q, -r, rcond=None)  # u = −Q⁺r
    r_range = -(Q @ u)
    off_range = float(np.linalg.norm(r - r_range))
    zn = float(np.linalg.norm(z))
    if off_range <= QP_RANGE_TOL * (1.0 + float(np.linalg.norm(c)) + float(np.abs(Q).max()) * (1.0 + zn)):
        gap = float((0.5 * z @ Q @ z + c @ z) - (0.5 * u @ Q @ u + r_range @ u)) + off_range * (1.0 + zn)
    else:
        gap = float("inf")
    return {
        "stationarity": float(res) / scale,
        "primal_infeasibility": infeas,
        "active": int(act.sum()),
        "duality_gap": gap,
        "range_residual": off_range,
        "kkt_residual": float(res) / scale + infeas,
    }
