r"""Exact (global) empirical risk minimisation for one-hidden-layer ReLU networks.

Arora, Basu, Mianjy & Mukherjee, *Understanding Deep Neural Networks with Rectified Linear Units*,
ICLR 2018, arXiv:1611.01491, Thm 4.1 (spec constructive.md §2.2). For data
:math:`(x_j,y_j)\in\mathbb R^n\times\mathbb R` and width :math:`w`,

.. math:: \min_{a,A,b}\ \frac1D\sum_j\Big(\sum_{i=1}^w a_i\,\sigma(A_i\cdot x_j+b_i)-y_j\Big)^2 .

By positive homogeneity :math:`f(x)=\sum_i s_i\sigma(\tilde a_i\cdot x+\tilde b_i)` with
:math:`s_i\in\{\pm1\}`. Fixing the signs and, per unit, the dichotomy :math:`(P_i^+,P_i^-)` of the
data into active/inactive points turns the problem into a convex QP in :math:`(\tilde a_i,\tilde b_i)`
with linear constraints; on its feasible set the objective *is* the network loss, so the best QP
over all (signs, dichotomies) is the global optimum. The winning QP's KKT residual (computed
independently of the solver, :mod:`tamelab.exact._qp`) certifies it.

Dichotomies: the strictly separable ones; for :math:`D` points in general position there are
:math:`2\sum_{i=0}^{n}\binom{D-1}{i}`. They are the regions of the central arrangement
:math:`\{(a,b): a\cdot x_j+b=0\}` in :math:`\mathbb R^{n+1}`, enumerated from its extreme rays inside
the data's affine hull, with the points lying on a ray handled recursively, so the enumeration is
complete also in degenerate position (constant features, collinear points, duplicated rows): see
:mod:`tamelab.exact._dichotomies` (float predicates filtered by an error bound, exact integer
arithmetic where the bound cannot decide).

Global certificate: the winning QP's KKT residual and duality gap certify that QP; the rebuilt
network's loss equals the optimum; and the optimum is not above any incumbent (the best of seeded
L-BFGS restarts, a loss that some network attains): a missed combination would show there.

Pruning (exact, never discards the optimum): units are exchangeable, so (sign, dichotomy) tuples
are enumerated in non-decreasing order; a combination is skipped when a lower bound on its loss —
points active in no unit pay :math:`y_j^2`, points active only in positive (negative) units pay
:math:`\min(y_j,0)^2` (:math:`\max(y_j,0)^2`) — is not below the incumbent.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
import numpy as np

from .._numerics import KKT_TOL
from ..errors import ComputationError, InputError
from ..result import Result, Status
from ._dichotomies import dichotomy_count, enumerate_dichotomies, ray_subsets
from ._qp import kkt_residual, solve_qp

__all__ = [
    "ERMResult",
    "exact_erm",
    "dichotomies",
    "dichotomy_count",
    "erm_network",
    "erm_loss",
    "ERM_MAX_QPS",
    "ERM_MAX_ENUMERATION",
    "erm_work_estimate",
    "ERMWorkEstimate",
]

#: default budget of QPs (combinations surviving the bound); above it the solver refuses (status budget_exceeded).
ERM_MAX_QPS = 2_000_000
#: default limit on the estimated enumeration (candidate rays C(D, r) and (sign, dichotomy) combinations
#: C(2K+w−1, w)); above it :func:`exact_erm` raises InputError before any work (raise ``max_enumeration``).
ERM_MAX_ENUMERATION = 50_000_000
#: the optimum may exceed an incumbent (an achieved loss) by at most this relative amount (QP tolerances).
ERM_INCUMBENT_RTOL = 1e-7


def dichotomies(X: np.ndarray) -> np.ndarray:
    """All strictly affinely separable dichotomies of the rows of X, as a (K, D) boolean array (True = active side).

    Complete also in degenerate position (constant features, collinear/coplanar points, duplicated rows):
    see :mod:`tamelab.exact._dichotomies`.
    """
    return enumerate_dichotomies(np.asarray(X, dtype=float)).labels


LOSSES = ("squared", "hinge", "logistic")


def _pointwise(f, y, loss):
    if loss == "squared":
        return (f - y) ** 2
    if loss == "hinge":
        return np.maximum(0.0, 1.0 - y * f)
    return np.logaddexp(0.0, -y * f)


def erm_loss(model_or_params, X, y, loss: str = "squared") -> float:
    """(1/D) Σ ℓ(f(x_j), y_j) of a one-hidden-layer net given as (A (w×n), b (w), a (w))."""
    A, b, a = model_or_params
    f = np.maximum(np.asarray(X) @ np.asarray(A).T + b, 0.0) @ a
    return float(np.mean(_pointwise(f, y, loss)))


def _solve_convex(X, y, signs, acts, loss):
    """Hinge: an LP; logistic: SLSQP from the feasible point 0. Returns (value, z, certificate) or (inf, None, {})."""
    from scipy.optimize import linprog, minimize

    D, n = X.shape
    _, _, G, _ = _qp_data(X, np.zeros(D), signs, acts)
    M = _design(X, signs, acts)
    nz = M.shape[1]
    if loss == "hinge":  # variables (z, ξ): min Σξ/D, ξ ≥ 0, ξ_j ≥ 1 − y_j (Mz)_j, Gz ≤ 0
        c = np.r_[np.zeros(nz), np.full(D, 1.0 / D)]
        A_ub = np.vstack([np.hstack([-(y[:, None] * M), -np.eye(D)]), np.hstack([G, np.zeros((len(G), D))])])
        b_ub = np.r_[-np.ones(D), np.zeros(len(G))]
        r = linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=[(None, None)] * nz + [(0, None)] * D, method="highs")
        if r.status != 0:
            return float("inf"), None, {}
        mu = -np.asarray(r.ineqlin.marginals)  # ≥ 0 multipliers of A_ub x ≤ b_ub
        nu = np.asarray(r.lower.marginals)  # multipliers of the ξ ≥ 0 / free bounds
        stat = float(np.abs(c + A_ub.T @ mu - nu).max())
        comp = float(np.abs(mu * (b_ub - A_ub @ r.x)).max())
        cert = {
            "stationarity": stat,
            "complementarity": comp,
            "dual_feasibility": float(max(0.0, -mu.min())),
            "primal_infeasibility": float(max(0.0, (A_ub @ r.x - b_ub).max())),
            "kkt_residual": stat + comp,
        }
        return float(r.fun), r.x[:nz], cert

    def fg(z):
        m = y * (M @ z)
        val = np.logaddexp(0.0, -m).mean()
        return val, M.T @ (-y * 0.5 * (1 - np.tanh(m / 2))) / D  # σ(−m) = ½(1 − tanh(m/2))

    r = minimize(
        fg,
        np.zeros(nz),
        jac=True,
        constraints=[{"type": "ineq", "fun": lambda z: -G @ z, "jac": lambda z: -G}],
        method="SLSQP",
        options={"ftol": 1e-15, "maxiter": 2000},
    )
    if not np.isfinite(r.x).all():
        return float("inf"), None, {}
    val, g = fg(r.x)
    cert = kkt_residual(np.zeros((nz, nz)), g, G, r.x)
    return float(val), r.x, cert


def _design(X, signs, actives):
    """M with (Mz)_j = f(x_j) for the stacked unit parameters z on the combination's feasible set."""
    D, n = X.shape
    Xh = np.hstack([X, np.ones((D, 1))])
    M = np.zeros((D, len(signs) * (n + 1)))
    for i, (s, act) in enumerate(zip(signs, actives)):
        M[act, i * (n + 1) : (i + 1) * (n + 1)] = s * Xh[act]
    return M


def _qp_data(X, y, signs, actives):
    """Q, c, G, constant for one (signs, dichotomies) combination; variables (ã_i, b̃_i) stacked per unit."""
    D, n = X.shape
    w = len(signs)
    Xh = np.hstack([X, np.ones((D, 1))])
    M = np.zeros((D, w * (n + 1)))
    G = []
    for i, (s, act) in enumerate(zip(signs, actives)):
        blk = slice(i * (n + 1), (i + 1) * (n + 1))
        M[act, blk] = s * Xh[act]
        Gi = np.zeros((D, w * (n + 1)))
        Gi[:, blk] = np.where(act[:, None], -Xh, Xh)  # active: −(ã·x+b̃) ≤ 0; inactive: ã·x+b̃ ≤ 0
        G.append(Gi)
    Q = 2.0 / D * M.T @ M
    c = -2.0 / D * M.T @ y
    return Q, c, np.vstack(G), float(y @ y / D)


def _ls_relaxation(combos, act_all, pos_all, Xh, y):
    """Batched least squares without the dichotomy constraints:

    a lower bound for each combination, and whether its minimiser already satisfies the constraints (then it is the QP
    optimum).
    """
    import torch

    B, w = combos.shape
    D, p = Xh.shape
    M = np.zeros((B, D, w * p))
    acts = act_all[combos]  # B, w, D
    sg = np.where(pos_all[combos], 1.0, -1.0)  # B, w
    for i in range(w):
        M[:, :, i * p : (i + 1) * p] = (acts[:, i, :, None] * sg[:, i, None, None]) * Xh[None]
    Mt = torch.as_tensor(M)
    Y = torch.as_tensor(np.broadcast_to(y, (B, D))[..., None].copy())
    Z = torch.linalg.lstsq(Mt, Y, driver="gelsd").solution[..., 0].numpy()  # B, w*p (minimum-norm)
    val = ((np.einsum("bdk,bk->bd", M, Z) - y) ** 2).mean(1)
    pre = np.einsum("dp,bwp->bwd", Xh, Z.reshape(B, w, p))
    feas = np.all(np.where(acts, pre >= -1e-12, pre <= 1e-12), axis=(1, 2))
    return val, feas


def _solve_chunk(args) -> list[tuple[float, int, int]]:
    """Solve the QPs of a chunk of combinations; returns (value, combo index, ok) for each. Top-level for Dask."""
    X, y, combos, sign_table, dich, incumbent, *rest = args
    loss = rest[0] if rest else "squared"
    out = []
    best = incumbent
    for ci, combo, bound in combos:  # sorted by their relaxation bound: later ones are pruned against the best so far
        if bound >= best:
            continue
        signs = [sign_table[k] for k in combo]
        acts = [dich[k % len(dich)] for k in combo]
        if loss == "squared":
            Q, c, G, const = _qp_data(X, y, signs, acts)
            z, f = solve_qp(Q, c, G)
            val = f + const if z is not None else float("inf")
        else:
            val, z, _ = _solve_convex(X, y, signs, acts, loss)
        best = min(best, val)
        out.append((val, ci, int(z is not None)))
    return out


def _lower_bounds(
    combos: np.ndarray, act_all: np.ndarray, pos_all: np.ndarray, y: np.ndarray, loss: str = "squared"
) -> np.ndarray:
    """Cheap exact lower bounds of the loss of each combination (rows of ``combos`` index (sign, dichotomy) pairs)."""
    act = np.zeros((len(combos), len(y)), bool)
    pos_only = np.ones((len(combos), len(y)), bool)
    neg_only = np.ones((len(combos), len(y)), bool)
    for col in combos.T:
        a = act_all[col]
        p = pos_all[col][:, None]
        act |= a
        pos_only &= ~a | p
        neg_only &= ~a | ~p
    if loss == "squared":
        pay = np.where(~act, y**2, 0.0)
        pay = np.where(act & pos_only, np.minimum(y, 0.0) ** 2, pay)
        pay = np.where(act & neg_only, np.maximum(y, 0.0) ** 2, pay)
    else:  # labels ±1: f = 0 (no active unit) or f of the wrong sign pays at least ℓ(0) (1 for hinge, ln 2 logistic)
        l0 = 1.0 if loss == "hinge" else float(np.log(2.0))
        wrong = (act & pos_only & (y < 0)) | (act & neg_only & (y > 0))
        pay = np.where(~act | wrong, l0, 0.0)
    return pay.mean(1)


@dataclasses.dataclass
class ERMResult(Result):
    """Global optimum of the empirical loss of a one-hidden-layer ReLU net, with its certificate.

    ``certificate`` lists every check behind ``status == ok``: the winning QP's KKT residual and duality
    gap, the rebuilt network's loss equal to the optimum, and *the optimum below every incumbent* (the
    best L-BFGS restart and any incumbent passed in): a missed dichotomy shows up there. ``reason``
    says which check failed when the status is not ``ok``.
    """

    kind = "exact_erm"

    optimum: float = float("nan")
    width: int = 0
    loss: str = "squared"
    dichotomies: int = 0
    dichotomies_expected_general_position: int = 0
    unique_points: int = 0
    affine_rank: int = 0
    general_position: bool = True
    dichotomy_method: str = "float"
    dichotomy_exact_decisions: int = 0
    combinations: int = 0
    pruned_by_bound: int = 0
    qps_solved: int = 0
    closed_form: int = 0
    kkt_residual: float = float("nan")
    kkt: dict = dataclasses.field(default_factory=dict)
    signs: list[int] = dataclasses.field(default_factory=list)
    patterns: list[list[int]] = dataclasses.field(default_factory=list)
    A: list[list[float]] = dataclasses.field(default_factory=list)
    b: list[float] = dataclasses.field(default_factory=list)
    a: list[float] = dataclasses.field(default_factory=list)
    network_loss: float = float("nan")
    incumbent_start: float = float("nan")
    incumbent_given: float | None = None
    certificate: dict = dataclasses.field(default_factory=dict)
    reason: str = ""


@dataclasses.dataclass
class ERMWorkEstimate(Result):
    """Work of :func:`exact_erm` estimated before it starts."""

    kind = "exact_erm_work_estimate"

    rays: int = 0  # candidate extreme rays C(D, r) of the dichotomy enumeration
    dichotomies: int = 0  # ≤ 2 Σ_{i≤r} C(D−1, i), equality in general position
    combinations: int = 0  # (sign, dichotomy) multisets C(2K + w − 1, w)


def erm_work_estimate(D: int, n: int, width: int, *, affine_rank: int | None = None) -> ERMWorkEstimate:
    """Work of :func:`exact_erm` before it starts:

    candidate rays ``C(D, r)`` of the dichotomy enumeration, the dichotomy count ``K ≤ 2 Σ_{i≤r} C(D−1, i)`` (equality
    in general position) and the number of (sign, dichotomy) combinations ``C(2K + w − 1, w)`` that are bounded one by
    one.
    """
    r = n if affine_rank is None else int(affine_rank)
    K = dichotomy_count(D, r)
    return ERMWorkEstimate(rays=ray_subsets(D, r), dichotomies=K, combinations=math.comb(2 * K + width - 1, width))


def _affine_rank_estimate(X: np.ndarray) -> int:
    """Numerical affine rank (float SVD of the centred rows): only used to size the work estimate."""
    if len(X) < 2:
        return 0
    C = X - X.mean(0)
    s = np.linalg.svd(C, compute_uv=False)
    return int((s > 1e-12 * max(1.0, s[0] if s.size else 0.0)).sum())


def _check_int(name: str, v, lo: int, fix: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise InputError(name, f"must be an integer >= {lo}, got {v!r}", fix)
    return int(v)


def exact_erm(
    X,
    y,
    width: int,
    *,
    loss: str = "squared",
    max_qps: int = ERM_MAX_QPS,
    executor=None,
    chunk: int = 2000,
    seed: int = 0,
    incumbent: float | None = None,
    max_enumeration: int = ERM_MAX_ENUMERATION,
) -> ERMResult:
    """Global minimum of the empirical loss over one-hidden-layer ReLU nets of ``width`` units (no output bias).

    Args:
        X: the inputs (D×n).
        y: the targets (D).
        width: the number of hidden units.
        loss: ``"squared"`` (one QP per combination), ``"hinge"`` (one LP) or ``"logistic"`` (one smooth
            convex program); hinge/logistic need labels in {−1, +1}.
        max_qps: refuse (status ``budget_exceeded``) when more combinations than this survive the bound.
        executor: a :mod:`tamelab.parallel` executor to fan chunks of QPs out (default serial).
        chunk: combinations per chunk.
        seed: seed of the L-BFGS restarts that give the default incumbent.
        incumbent: a known achievable loss (e.g. the best of some gradient-descent restarts) to prune with;
            by default the best of 20 seeded L-BFGS restarts. The certificate checks the optimum against it.
        max_enumeration: refuse (:class:`InputError`, before any work) when the estimated enumeration
            (:func:`erm_work_estimate`: candidate rays or combinations) exceeds this.
    """
    t0 = time.perf_counter()
    if loss not in LOSSES:
        raise InputError("--loss", f"unknown loss {loss!r}", f"use one of {', '.join(LOSSES)}")
    width = _check_int("--width", width, 1, "use --width 1 or more")
    max_qps = _check_int("--max-qps", max_qps, 0, "use --max-qps 0 or more (0 refuses every QP)")
    chunk = _check_int("chunk", chunk, 1, "use chunk >= 1")
    max_enumeration = _check_int("max_enumeration", max_enumeration, 1, "use a positive limit")
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).reshape(-1)
    if X.ndim != 2 or len(X) != len(y) or len(y) == 0 or X.shape[1] == 0:
        raise InputError("data", f"need X (D×n) and y (D) with D, n ≥ 1, got {X.shape} and {y.shape}")
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        raise InputError("data", "contains NaN or inf", "remove or impute the non-finite entries")
    if loss != "squared" and not np.isin(y, (-1.0, 1.0)).all():
        raise InputError("y", f"the {loss} loss needs labels in {{-1, +1}}", "map the two classes to -1 and +1")
    if incumbent is not None and not (math.isfinite(float(incumbent)) and float(incumbent) >= 0):
        raise InputError("incumbent", f"must be a finite loss >= 0, got {incumbent!r}", "pass an achieved loss or None")
    D, n = X.shape
    U = len(np.unique(X, axis=0))
    est = erm_work_estimate(U, n, width, affine_rank=min(n, _affine_rank_estimate(X)))
    if max(est.rays, est.combinations) > max_enumeration:
        raise InputError(
            "max_enumeration",
            f"exact ERM on {D} rows (n = {n}, width {width}) needs ~{est.rays:.3g} "
            f"candidate rays and ~{est.combinations:.3g} (sign, dichotomy) combinations "
            f"({est.dichotomies} dichotomies), above the limit {max_enumeration:.3g}",
            "use fewer rows or a smaller width, or raise max_enumeration (--max-enumeration)",
        )
    ds = enumerate_dichotomies(X)
    dich = ds.labels
    K = len(dich)
    expected = dichotomy_count(D, n)
    common = dict(
        seed=seed,
        width=width,
        loss=loss,
        dichotomies=K,
        dichotomies_expected_general_position=expected,
        unique_points=ds.unique_points,
        affine_rank=ds.affine_rank,
        general_position=ds.general_position,
        dichotomy_method=ds.method,
        dichotomy_exact_decisions=ds.exact_decisions,
    )
    # (sign, dichotomy) pairs: index k < K → s = +1, k ≥ K → s = −1
    act_all = np.vstack([dich, dich])
    pos_all = np.r_[np.ones(K, bool), np.zeros(K, bool)]
    sign_table = {k: (1.0 if k < K else -1.0) for k in range(2 * K)}
    total = math.comb(2 * K + width - 1, width)  # multisets of size w
    inc_start = _restarts(X, y, width, seed=seed, restarts=20, loss=loss)
    inc0 = inc_start if incumbent is None else min(float(incumbent), inc_start)
    common.update(incumbent_start=inc_start, incumbent_given=None if incumbent is None else float(incumbent))
    # a little slack so that a combination whose optimum equals the incumbent (and its bound) survives
    slack_inc = inc0 * (1 + 1e-6) + 1e-12  # HiGHS' QP tolerances are ~1e-7 relative
    search = _search(X, y, width, loss, K, act_all, pos_all, sign_table, slack_inc, max_qps, executor, chunk)
    if search is None:
        return ERMResult(
            status=Status.BUDGET_EXCEEDED,
            seconds=time.perf_counter() - t0,
            combinations=total,
            reason=f"more than max_qps = {max_qps} combinations survive the bounds",
            **common,
        )
    best_combo, pruned, solved, closed_form = search
    if best_combo is None:
        # no enumerated combination reaches the incumbent (an achieved loss): the enumeration missed the optimum or
        # every QP near it failed. Search again without the incumbent so that the best enumerated value is reported
        # (the certificate below then refuses it) instead of failing with a misleading message.
        search = _search(X, y, width, loss, K, act_all, pos_all, sign_table, math.inf, max_qps, executor, chunk)
        if search is None or search[0] is None:
            raise ComputationError(
                f"exact ERM: no combination reached the incumbent {inc0:.6g} and no QP of the "
                "enumerated combinations could be solved"
            )
        best_combo, pruned2, solved2, closed2 = search
        pruned, solved, closed_form = pruned + pruned2, solved + solved2, closed_form + closed2
    combo = best_combo
    signs = [sign_table[k] for k in combo]
    acts = [act_all[k] for k in combo]
    if loss == "squared":
        Q, c, G, const = _qp_data(X, y, signs, acts)
        z, f = solve_qp(Q, c, G)
        kkt = kkt_residual(Q, c, G, z) if z is not None else {"kkt_residual": float("inf"), "duality_gap": float("inf")}
    else:
        f, z, kkt = _solve_convex(X, y, signs, acts, loss)
        const = 0.0
    if z is None:
        raise ComputationError("exact ERM: the winning combination's QP could not be re-solved")
    solved += 1
    Z = z.reshape(width, n + 1)
    A, b, a = Z[:, :n], Z[:, n], np.asarray(signs)
    net = erm_loss((A, b, a), X, y, loss)
    opt = max(float(f + const), 0.0)
    cert = {
        "kkt_residual_below_tol": bool(kkt["kkt_residual"] < KKT_TOL),
        "duality_gap_below_tol": bool(kkt.get("duality_gap", 0.0) <= 1e-8 * (1 + abs(f + const)))
        if loss == "squared"
        else True,
        "network_loss_equals_optimum": bool(abs(net - (f + const)) < 1e-7 * (1 + abs(net))),
        # the global part: no achievable loss we know of is below the optimum (a missed dichotomy shows here)
        "optimum_below_every_incumbent": bool(opt <= inc0 + ERM_INCUMBENT_RTOL * (1 + inc0)),
    }
    failed = [k for k, v in cert.items() if not v]
    reason = ""
    if failed:
        reason = "certificate checks failed: " + ", ".join(failed)
        if not cert["optimum_below_every_incumbent"]:
            reason += (
                f" (optimum {opt:.9g} > incumbent {inc0:.9g}: a better network exists, so the enumeration or a "
                "QP solve missed it)"
            )
    return ERMResult(
        status=Status.OK if not failed else Status.UNCERTIFIED,
        seconds=time.perf_counter() - t0,
        optimum=opt,
        combinations=total,
        pruned_by_bound=pruned,
        qps_solved=solved,
        closed_form=closed_form,
        kkt_residual=kkt["kkt_residual"],
        kkt=kkt,
        signs=[int(s) for s in signs],
        patterns=[act.astype(int).tolist() for act in acts],
        A=A.tolist(),
        b=b.tolist(),
        a=a.tolist(),
        network_loss=net,
        certificate=cert,
        reason=reason,
        **common,
    )


def _search(X, y, width, loss, K, act_all, pos_all, sign_table, best_val, max_qps, executor, chunk):
    """Branch over the (sign, dichotomy) multisets:

    cheap bound, least-squares relaxation, then QPs in order of their relaxation bound. Returns (best combination or
    None, pruned, QPs solved, closed forms), or None when more than ``max_qps`` combinations survive the bounds.
    """
    from ..parallel import get_executor

    D = len(y)
    survivors: list[tuple[float, tuple[int, ...]]] = []
    pruned, closed_form = 0, 0
    best_combo = None
    it = itertools.combinations_with_replacement(range(2 * K), width)
    Xh = np.hstack([X, np.ones((D, 1))])
    while True:
        block = list(itertools.islice(it, 20_000))
        if not block:
            break
        arr = np.asarray(block, dtype=np.int64).reshape(len(block), width)
        lb = _lower_bounds(arr, act_all, pos_all, y, loss)
        keep = lb < best_val
        pruned += int((~keep).sum())
        arr = arr[keep]
        if not len(arr):
            continue
        if loss != "squared":  # no closed-form relaxation: every surviving combination is solved
            survivors.extend((float(v), tuple(int(t) for t in row)) for row, v in zip(arr, lb[keep]))
        else:
            ls_val, feas = _ls_relaxation(arr, act_all, pos_all, Xh, y)
            keep = ls_val < best_val
            pruned += int((~keep).sum())
            for row, v, f in zip(arr[keep], ls_val[keep], feas[keep]):
                combo = tuple(int(t) for t in row)
                if f:  # the relaxation's minimiser satisfies the dichotomy: it solves this QP
                    closed_form += 1
                    if v < best_val:
                        best_val, best_combo = float(v), combo
                else:
                    survivors.append((float(v), combo))
        if len(survivors) > max_qps:
            return None
    survivors = [sv for sv in sorted(survivors) if sv[0] < best_val]
    ex = executor or get_executor("serial")
    chunks = [
        (
            X,
            y,
            [(i, c, v) for i, (v, c) in enumerate(survivors[i0 : i0 + chunk], start=i0)],
            sign_table,
            act_all,
            best_val,
            loss,
        )
        for i0 in range(0, len(survivors), chunk)
    ]
    solved = 0
    best_any = (float("inf"), None)
    for res in ex.map(_solve_chunk, chunks, desc="exact ERM QPs"):
        for f, idx, ok in res:
            solved += ok
            if f < best_val:
                best_val, best_combo = f, survivors[idx][1]
            if f < best_any[0]:
                best_any = (f, survivors[idx][1])
    if best_combo is None:  # the incumbent was optimal to within the QP tolerance: take the best QP solved
        best_combo = best_any[1]
    return best_combo, pruned, solved, closed_form


def _restarts(X, y, width: int, *, seed: int = 0, restarts: int = 20, loss: str = "squared") -> float:
    """Best loss of seeded L-BFGS restarts on the smooth-almost-everywhere loss (an upper bound for pruning)."""
    from scipy.optimize import minimize

    D, n = X.shape
    rng = np.random.default_rng(seed)

    def f(p):  # loss and its gradient (a.e.; the kinks have measure zero)
        A = p[: width * n].reshape(width, n)
        b = p[width * n : width * (n + 1)]
        a = p[width * (n + 1) :]
        pre = X @ A.T + b
        h = np.maximum(pre, 0.0)
        out = h @ a
        if loss == "squared":
            dl = 2.0 * (out - y)
        elif loss == "hinge":
            dl = np.where(1.0 - y * out > 0, -y, 0.0)
        else:
            dl = -y * 0.5 * (1.0 - np.tanh(y * out / 2.0))
        dl = dl / D
        dpre = (dl[:, None] * a[None, :]) * (pre > 0)
        grad = np.concatenate([(dpre.T @ X).ravel(), dpre.sum(0), h.T @ dl])
        return float(np.mean(_pointwise(out, y, loss))), grad

    best = float(np.mean(_pointwise(np.zeros_like(y), y, loss)))  # the zero network
    for _ in range(restarts):
        p0 = rng.standard_normal(width * (n + 2))
        r = minimize(f, p0, jac=True, method="L-BFGS-B")
        best = min(
            best,
            erm_loss(
                (r.x[: width * n].reshape(width, n), r.x[width * n : width * (n + 1)], r.x[width * (n + 1) :]),
                X,
                y,
                loss,
            ),
        )
    return best


def erm_network(res: ERMResult):
    """The optimal network as ``nn.Sequential(Linear(n, w), ReLU(), Linear(w, 1, bias=0))`` in float64."""
    import torch

    from ..relu import from_layers

    return from_layers(
        [(np.asarray(res.A), np.asarray(res.b)), (np.asarray(res.a)[None, :], np.zeros(1))], dtype=torch.float64
    )
