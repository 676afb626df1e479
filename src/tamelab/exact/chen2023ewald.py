r"""Explicit zero-cost L² minimizers of deep ReLU networks on clustered data (Chen & Muñoz Ewald).

Setting (CE23 = arXiv:2309.10639, CE24 = arXiv:2405.07098): :math:`Q` classes of inputs
:math:`x_{j,i}\in\mathbb R^Q`, labels :math:`y_j` (columns of an invertible :math:`Y`, default
:math:`I`), a network of :math:`L` hidden ReLU layers of width :math:`Q` and an affine output,

.. math:: x^{(\ell)}=\sigma(W_\ell x^{(\ell-1)}+b_\ell),\qquad x^{(L+1)}=W_{L+1}x^{(L)}+b_{L+1},

with :math:`K=(L+1)(Q^2+Q)` parameters and cost :math:`C=\mathrm{norm}\sum_{j,i}|x^{(L+1)}(x_{j,i})-y_j|^2`
(``norm`` = :math:`1/N` by default; the paper's own cost (2.35)–(2.36) is class-weighted and square-rooted — same
zero set and minimisers for equal class sizes — see :mod:`tamelab.exact.chen2023ewald_paper`).

Truncation map and cumulative parameters (§1.3): :math:`\tau_{W,b}(x)=W^{-1}(\sigma(Wx+b)-b)`,
:math:`W^{(\ell)}=W_\ell W^{(\ell-1)}`, :math:`b^{(\ell)}=W_\ell b^{(\ell-1)}+b_\ell`. With
:math:`z_\ell=\tau_{W^{(\ell)},b^{(\ell)}}(z_{\ell-1})` one has :math:`x^{(\ell)}=W^{(\ell)}z_\ell+b^{(\ell)}`:
the hidden layers are successive truncations of input space. With :math:`V=W^{-1}` (edge vectors)
and apex :math:`p=-W^{-1}b`, :math:`\tau` is the identity on the forward cone :math:`p+\mathrm{cone}(V)`
and maps the backward cone :math:`p-\mathrm{cone}(V)` to :math:`p`.

Construction (§1.5, our reconstruction of the CE24 §4 sketch): for each class :math:`c` in an order
:math:`\pi`, put an apex :math:`p=\bar x_c+\alpha|\hat x-\bar x_c|f` on the ray from the class mean
toward the barycentre :math:`\hat x` of the current representatives, and a cone around :math:`f` whose
inscribed circular cone has the half-angle :math:`\psi` needed to contain every other current point
(forward) and every class-:math:`c` point (backward). Class :math:`c` collapses to :math:`p`, nothing
else moves. After :math:`Q` layers every class is a single point :math:`r_j`; the output
:math:`W^{(L+1)}=YR^{-1}` maps apexes to labels, so :math:`C=0`.

# NOTE [reconstruction]: this cone construction is our reconstruction of the CE24 §4 sketch (spec §1.4–1.7);
# the paper's own parametrisation (CE23 v4 §2, §4: W*R_ℓ, µ-intervals I0/I1) is in chen2023ewald_paper.py. The
# 2^Q − 1 "local minima" are read here as "collapse only the classes in S" (§1.7). Their local minimality in the
# full parameter space is *measured* (gradient, Hessian, perturbations, higher-order test), not assumed: only
# S = ∅ and the full set are minima, in both constructions.

References:
    T. Chen, P. Muñoz Ewald, "Geometric structure of deep learning networks and construction of
    global L² minimizers", arXiv:2309.10639. — "Interpretable global minima of deep ReLU neural
    networks on sequentially separable data", arXiv:2405.07098. — "Geometric structure of shallow
    neural networks and constructive L² cost minimization", arXiv:2309.10370.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
import time
from typing import Any, Sequence

import numpy as np

from .._numerics import FLOAT64_RTOL, GEOM_ZERO_LENGTH, POINT_COINCIDE_ATOL, TINY
from .._rng import resolve_seed
from ..errors import InputError
from ..result import Result, Status
from ._local_min import MAX_DENSE_HESSIAN, LocalMinResult, local_min_verdict

__all__ = [
    "truncate",
    "cumulative_parameters",
    "layerwise_parameters",
    "forward",
    "truncation_forward",
    "cone_of",
    "clustered_data",
    "class_statistics",
    "clustering_test",
    "ChenEwaldConstruction",
    "construct_minimizer",
    "configuration",
    "configuration_costs",
    "output_jacobian",
    "jacobian_rank",
    "flatten_params",
    "unflatten_params",
    "network_cost",
    "local_minimality",
    "shallow_upper_bound",
    "gd_baseline",
    "ChenEwaldResult",
    "chen_ewald",
    "ClassStatistics",
    "ClusteringTest",
    "ConfigurationCosts",
    "ShallowBound",
    "GDBaseline",
    "LocalMinResult",
    "chen_ewald_work_estimate",
    "ChenEwaldWorkEstimate",
]

#: singular values above this fraction of the largest count towards the Jacobian rank (spec §1.6).
RANK_RTOL = 1e-7
#: "zero" cost: below this times (1 + |Y|²) (spec §0).
ZERO_COST = 1e-20
#: layerwise bias of the pass-through layers (b_l = beta 1 keeps collapsed points off the ReLU kink).
PASS_THROUGH_BIAS = 1.0
#: orders are searched exhaustively only up to this many classes (Q! orders).
MAX_EXHAUSTIVE_Q = 6


# ---------------------------------------------------------------------------------------------
# truncation map, cumulative parameters, forward passes
# ---------------------------------------------------------------------------------------------


def truncate(W: np.ndarray, b: np.ndarray, X: np.ndarray) -> np.ndarray:
    r"""Truncation map :math:`\tau_{W,b}(x)=W^{-1}(\sigma(Wx+b)-b)` on the columns of ``X`` (shape (Q, N))."""
    W = np.asarray(W, float)
    b = np.asarray(b, float).reshape(-1, 1)
    return np.linalg.solve(W, np.maximum(W @ X + b, 0.0) - b)


def cumulative_parameters(
    Ws: Sequence[np.ndarray], bs: Sequence[np.ndarray]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    r"""Layerwise → cumulative parameters.

    :math:`W^{(\ell)}=W_\ell W^{(\ell-1)}`, :math:`b^{(\ell)}=W_\ell b^{(\ell-1)}+b_\ell`.
    """
    Wc, bc = [np.asarray(Ws[0], float)], [np.asarray(bs[0], float)]
    for W, b in zip(Ws[1:], bs[1:]):
        Wc.append(W @ Wc[-1])
        bc.append(W @ bc[-1] + b)
    return Wc, bc


def layerwise_parameters(
    Wc: Sequence[np.ndarray], bc: Sequence[np.ndarray]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    r"""Cumulative → layerwise parameters (by solves).

    :math:`W_\ell=W^{(\ell)}(W^{(\ell-1)})^{-1}`, :math:`b_\ell=b^{(\ell)}-W_\ell b^{(\ell-1)}`.
    """
    Ws, bs = [np.asarray(Wc[0], float)], [np.asarray(bc[0], float)]
    for k in range(1, len(Wc)):
        W = np.linalg.solve(np.asarray(Wc[k - 1]).T, np.asarray(Wc[k]).T).T
        Ws.append(W)
        bs.append(bc[k] - W @ bc[k - 1])
    return Ws, bs


def forward(Ws: Sequence[np.ndarray], bs: Sequence[np.ndarray], X: np.ndarray) -> np.ndarray:
    """Plain layerwise forward pass: ReLU on every layer except the last (affine). ``X``: (d, N)."""
    h = np.asarray(X, float)
    for k, (W, b) in enumerate(zip(Ws, bs)):
        h = W @ h + np.asarray(b).reshape(-1, 1)
        if k < len(Ws) - 1:
            h = np.maximum(h, 0.0)
    return h


def truncation_forward(Wc: Sequence[np.ndarray], bc: Sequence[np.ndarray], X: np.ndarray) -> np.ndarray:
    r"""The same network through truncations.

    :math:`z_\ell=\tau_{W^{(\ell)},b^{(\ell)}}(z_{\ell-1})`, output :math:`W^{(L+1)}z_L+b^{(L+1)}`.
    """
    z = np.asarray(X, float)
    for W, b in zip(Wc[:-1], bc[:-1]):
        z = truncate(W, b, z)
    return Wc[-1] @ z + np.asarray(bc[-1]).reshape(-1, 1)


def cone_of(W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edge vectors ``V = W^{-1}`` (columns) and apex ``p = -W^{-1} b`` of a truncation."""
    V = np.linalg.inv(W)
    return V, -V @ np.asarray(b, float)


# ---------------------------------------------------------------------------------------------
# data and the clustering test
# ---------------------------------------------------------------------------------------------


def clustered_data(
    q: int, per_class: int, radius: float, *, seed=0, spread: float = 0.2
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Seeded clustered data (spec §1.6) in the column layout of this module:

    ``X`` (Q, Q·per_class), ``labels`` (N,), ``Y = I``. Means :math:`I+\mathrm{spread}\,G`, exactly centred deviations
    of maximal norm ``radius`` (= δ). The one generator is :func:`tamelab.data.gaussian_clusters` (same seed → same
    data).
    """
    from ..data import gaussian_clusters

    q, per_class = int(q), int(per_class)
    if q < 2:
        raise InputError("q", f"need at least 2 classes, got {q}", "pass --q 2 or more")
    if per_class < 1:
        raise InputError("per_class", f"need at least 1 point per class, got {per_class}", "pass --per-class 1 or more")
    ds = gaussian_clusters(q, per_class, float(radius), spread=spread, seed=seed)
    return np.ascontiguousarray(ds.X.T), np.asarray(ds.y), np.eye(q)


def _check_data(X, labels, Y):
    X = np.asarray(X, float)
    labels = np.asarray(labels)
    if X.ndim != 2:
        raise InputError("X", f"expected a (Q, N) array, got shape {X.shape}")
    q, n = X.shape
    if labels.shape != (n,):
        raise InputError("labels", f"expected {n} labels (one per column of X), got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() >= q:
        raise InputError("labels", f"must be integers in 0..{q - 1} (input dimension = number of classes Q)")
    counts = np.bincount(labels, minlength=q)
    if (counts == 0).any():
        raise InputError(
            "labels", f"classes {np.flatnonzero(counts == 0).tolist()} have no points", "every class needs >= 1 point"
        )
    Y = np.eye(q) if Y is None else np.asarray(Y, float)
    if Y.shape != (q, q):
        raise InputError("Y", f"expected a ({q}, {q}) label matrix (column j = label of class j), got {Y.shape}")
    if not np.isfinite(X).all():
        raise InputError("X", "contains non-finite values")
    return X, labels, Y, counts


@dataclasses.dataclass
class ClassStatistics(Result):
    r"""Class means, radii, counts and the projected noise-to-signal ratio of the data (spec §1.8).

    Class means :math:`\bar x_j` (columns), radii :math:`\delta_j=\max_i|\Delta x_{j,i}|`, counts, :math:`\delta`
    and the projected noise-to-signal ratio :math:`\delta_P=\|\bar X^+\|_{op}\max|P\Delta x|` (spec §1.8).
    """

    kind = "class_statistics"

    means: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 0)))
    radii: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    counts: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, int))
    delta: float = 0.0
    delta_p: float = 0.0


def class_statistics(X: np.ndarray, labels: np.ndarray) -> ClassStatistics:
    r"""Class means, radii, counts, :math:`\delta` and :math:`\delta_P` of the data (see :class:`ClassStatistics`)."""
    X = np.asarray(X, float)
    q = int(labels.max()) + 1
    counts = np.bincount(labels, minlength=q)
    means = np.stack([np.bincount(labels, weights=X[k], minlength=q) for k in range(X.shape[0])]) / counts
    dev = X - means[:, labels]
    r = np.linalg.norm(dev, axis=0)
    radii = np.zeros(q)
    np.maximum.at(radii, labels, r)
    pinv = np.linalg.pinv(means)
    P = means @ pinv
    delta_p = float(np.linalg.norm(pinv, 2) * np.linalg.norm(P @ dev, axis=0).max()) if X.shape[1] else 0.0
    return ClassStatistics(means=means, radii=radii, counts=counts, delta=float(radii.max()), delta_p=delta_p)


def _angles(U: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Angles between the columns of U and the unit vector f (0 for zero columns)."""
    nr = np.linalg.norm(U, axis=0)
    c = np.divide(f @ U, nr, out=np.ones(U.shape[1]), where=nr > 0)
    return np.arccos(np.clip(c, -1.0, 1.0))


def _simplex_generators(f: np.ndarray, theta: float) -> np.ndarray:
    """Columns cos θ f + sin θ s_i with s_i the regular-simplex directions in f^⊥ (Householder image of 1/√Q)."""
    q = f.size
    S = np.eye(q) - 1.0 / q
    S /= np.linalg.norm(S, axis=1, keepdims=True)
    u = np.full(q, 1.0 / math.sqrt(q))
    v = u - f
    vv = float(v @ v)
    if vv > GEOM_ZERO_LENGTH**2:
        S = S - 2.0 * np.outer(S @ v, v) / vv  # rows reflected: s_i = H s~_i
    return math.cos(theta) * f[:, None] + math.sin(theta) * S.T


@dataclasses.dataclass
class _Step:
    cls: int
    apex: np.ndarray
    V: np.ndarray
    W: np.ndarray
    b: np.ndarray
    psi: float
    theta: float
    margin_collapsed: float  # -max cone coordinate of class-c points (> 0 required)
    margin_others: float  # min cone coordinate of the other points (> 0 required)

    @property
    def passed(self) -> bool:
        return self.margin_collapsed > 0 and self.margin_others > 0


class _Assumption(Exception):
    def __init__(self, step: int, cls: int, reason: str, psi: float | None = None):
        self.step, self.cls, self.reason, self.psi = step, cls, reason, psi
        super().__init__(reason)


def _blocks(X, labels, q):
    """Per-class column blocks of X (copies, contiguous) and their squared column norms."""
    perm = np.argsort(labels, kind="stable")
    Xs = X[:, perm]
    cuts = np.concatenate([[0], np.cumsum(np.bincount(labels, minlength=q))])
    blocks = [Xs[:, cuts[j] : cuts[j + 1]] for j in range(q)]
    return blocks, [(B * B).sum(axis=0) for B in blocks]


def _collapse_steps(blocks, sqs, means, classes, alpha, margin):
    """Run the §1.5 collapse steps for ``classes`` (in that order). Raises _Assumption on failure.

    Vectorised: one (Q+2)×Q by Q×N_j product per live class and step gives the cone coordinates
    (sign test) and, through |x-p|² = |x|² - 2p·x + |p|², the angles to the axis f. Collapsed
    classes are represented by their single apex point.
    """
    q = means.shape[0]
    reps = means.copy()
    done: list[int] = []
    steps = []
    for ell, c in enumerate(classes):
        xhat = reps.mean(axis=1)
        d = xhat - means[:, c]
        dn = float(np.linalg.norm(d))
        if dn <= POINT_COINCIDE_ATOL:
            raise _Assumption(ell, c, f"class {c} mean coincides with the barycentre of the representatives (A0)")
        f = d / dn
        p = means[:, c] + alpha * dn * f
        # needed half-angle: class-c points seen from p (backward), every other current point (forward)
        pp, fp = float(p @ p), float(f @ p)
        live = [j for j in range(q) if j not in done]
        cos_min = {}
        for j in live:
            M = np.vstack([f, p]) @ blocks[j]
            dist = np.sqrt(np.maximum(sqs[j] - 2.0 * M[1] + pp, 0.0))
            cosv = (M[0] - fp) / np.where(dist > 0, dist, 1.0)
            cosv = np.where(dist > 0, cosv, 1.0)
            cos_min[j] = float((-cosv).min()) if j == c else float(cosv.min())
        if done:
            Uo = reps[:, done] - p[:, None]
            cos_min[-1] = float(_angles(Uo, f).max())
            cos_min[-1] = math.cos(cos_min[-1])
        psi = float(np.arccos(np.clip(min(cos_min.values()), -1.0, 1.0))) + margin
        if psi >= math.pi / 2:
            raise _Assumption(
                ell,
                c,
                f"needed half-angle psi = {math.degrees(psi):.2f} deg >= 90 deg at step {ell + 1} "
                f"(class {c}): the clusters are not small/separated enough for this order (A1)",
                psi,
            )
        theta = math.atan((q - 1) * math.tan(psi))
        V = _simplex_generators(f, theta)
        W = np.linalg.inv(V)
        b = -W @ p
        mc, mo = math.inf, math.inf
        for j in live:
            C = W @ blocks[j] + b[:, None]
            if j == c:
                mc = float(-C.max())
            else:
                mo = min(mo, float(C.min()))
        if done:
            mo = min(mo, float((W @ reps[:, done] + b[:, None]).min()))
        st = _Step(c, p, V, W, b, psi, theta, mc, mo)
        if not st.passed:
            raise _Assumption(
                ell,
                c,
                f"strict sign test fails at step {ell + 1} (class {c}): collapsed margin {mc:.3g}, "
                f"others margin {mo:.3g} (A1)",
                psi,
            )
        steps.append(st)
        done.append(c)  # exact: tau = p on the backward cone, identity on the forward cone
        reps[:, c] = p
    return steps, reps


@dataclasses.dataclass
class ClusteringTest(Result):
    """Outcome of the clustering test:

    the class order found (or None), orders tried, the last failures (each ``{order, step, class, reason}`` naming the
    failed assumption), and the cones' angles and sign margins.
    """

    kind = "clustering_test"

    passes: bool = False
    order: list[int] | None = None
    tried: int = 0
    failures: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    psi_deg: list[float] = dataclasses.field(default_factory=list)
    theta_deg: list[float] = dataclasses.field(default_factory=list)
    margins: list[list[float]] = dataclasses.field(default_factory=list)


def clustering_test(
    X: np.ndarray, labels: np.ndarray, *, order: str | Sequence[int] = "auto", alpha: float = 0.2, margin: float = 0.05
) -> ClusteringTest:
    r"""Checkable clustering assumption (A0)+(A1) of spec §1.4:

    find a class order whose §1.5 cones pass the strict sign tests. ``order``: an explicit permutation, ``"identity"``,
    ``"greedy"`` (smallest needed angle first), ``"search"`` (all Q! orders, Q ≤ 6), or ``"auto"`` (identity, greedy,
    then search). ``passes`` False names the failed assumption in ``failures``.
    """
    X, labels, _, _ = _check_data(X, labels, None)
    q = X.shape[0]
    blocks, sqs = _blocks(X, labels, q)
    means = np.stack([B.mean(axis=1) for B in blocks], axis=1)
    d = _find_order(blocks, sqs, means, order, alpha, margin)[0]
    return ClusteringTest(status=Status.OK if d["passes"] else Status.INFEASIBLE, **d)


def _find_order(blocks, sqs, means, order, alpha, margin):
    q = means.shape[0]
    if not (0 < alpha < 1):
        raise InputError("alpha", f"must lie in (0, 1), got {alpha}")
    if not (0 <= margin < math.pi / 2):
        raise InputError("margin", f"must lie in [0, pi/2), got {margin}")
    fails: list[dict[str, Any]] = []
    sv = np.linalg.svd(means, compute_uv=False)
    if sv[-1] <= FLOAT64_RTOL * sv[0]:
        return {
            "passes": False,
            "order": None,
            "tried": 0,
            "failures": [
                {
                    "order": None,
                    "step": 0,
                    "class": None,
                    "reason": f"class means are linearly dependent (smallest singular value {sv[-1]:.3g}) (A0)",
                }
            ],
        }, None

    def attempt(perm):
        try:
            return _collapse_steps(blocks, sqs, means, list(perm), alpha, margin)[0]
        except _Assumption as e:
            fails.append({"order": [int(v) for v in perm], "step": e.step + 1, "class": int(e.cls), "reason": e.reason})
            return None

    def greedy():
        need = []
        for c in range(q):
            try:
                need.append(_collapse_steps(blocks, sqs, means, [c], alpha, 0.0)[0][0].psi)
            except _Assumption as e:
                need.append(math.inf if e.psi is None else e.psi)
        return [int(v) for v in np.argsort(need, kind="stable")]

    candidates: list[Any] = []
    if isinstance(order, str):
        if order not in ("auto", "identity", "greedy", "search"):
            raise InputError("order", f"unknown order {order!r}", "use auto, identity, greedy, search or a permutation")
        if order in ("auto", "identity"):
            candidates.append(list(range(q)))
        if order in ("auto", "greedy"):
            candidates.append("greedy")
        if order == "search" or (order == "auto" and q <= MAX_EXHAUSTIVE_Q):
            if q > MAX_EXHAUSTIVE_Q:
                raise InputError(
                    "order", f"exhaustive search over {q}! orders refused (Q > {MAX_EXHAUSTIVE_Q})", "use greedy"
                )
            candidates.append("search")
    else:
        perm = [int(v) for v in order]
        if sorted(perm) != list(range(q)):
            raise InputError("order", f"{perm} is not a permutation of 0..{q - 1}")
        candidates.append(perm)
    tried = 0
    seen = set()
    for cand in candidates:
        perms = itertools.permutations(range(q)) if cand == "search" else [greedy() if cand == "greedy" else cand]
        for perm in perms:
            if tuple(perm) in seen:
                continue
            seen.add(tuple(perm))
            tried += 1
            steps = attempt(perm)
            if steps is not None:
                return {
                    "passes": True,
                    "order": [int(v) for v in perm],
                    "tried": tried,
                    "failures": fails[-5:],
                    "psi_deg": [math.degrees(s.psi) for s in steps],
                    "theta_deg": [math.degrees(s.theta) for s in steps],
                    "margins": [[s.margin_collapsed, s.margin_others] for s in steps],
                }, steps
    return {"passes": False, "order": None, "tried": tried, "failures": fails[-5:]}, None


# ---------------------------------------------------------------------------------------------
# construction
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class ChenEwaldConstruction:
    """An explicit network: cumulative and layerwise parameters, the cones and their certificates."""

    Wc: list[np.ndarray]
    bc: list[np.ndarray]
    Ws: list[np.ndarray]
    bs: list[np.ndarray]
    order: list[int]
    collapsed: list[int]
    apexes: np.ndarray  # R: column j = representative of class j (apex if collapsed, else mean)
    psi: list[float]
    theta: list[float]
    margins: list[tuple[float, float]]
    cond_V: list[float]
    cond_R: float
    truncated: np.ndarray | None  # Z: the data after all truncations (input space; only for output='affine')

    @property
    def layers(self) -> int:
        """The number of hidden layers L."""
        return len(self.Ws) - 1


def construct_minimizer(
    X: np.ndarray,
    labels: np.ndarray,
    layers: int,
    *,
    Y: np.ndarray | None = None,
    order: str | Sequence[int] = "auto",
    alpha: float = 0.2,
    margin: float = 0.05,
    collapse: Sequence[int] | None = None,
    output: str = "apex",
) -> ChenEwaldConstruction:
    r"""The §1.5 construction.

    ``collapse`` = the subset S of classes to collapse (default: all, the zero-cost global minimizer; needs
    ``layers >= Q``). Layers beyond the collapses pass everything through (:math:`W_\ell=I`, :math:`b_\ell=\beta 1`,
    keeping collapsed points off the ReLU kink). ``output``: ``"apex"`` (:math:`W^{(L+1)}=YR_S^{-1}`, :math:`b=0`: maps
    representatives to labels) or ``"affine"`` (the least-squares affine output on the truncated data, spec §1.7).

    Raises :class:`InputError` naming the failed assumption when no order passes the sign tests.
    """
    X, labels, Y, _ = _check_data(X, labels, Y)
    q = X.shape[0]
    L = int(layers)
    S = sorted(set(range(q) if collapse is None else (int(c) for c in collapse)))
    if any(c < 0 or c >= q for c in S):
        raise InputError("collapse", f"classes must lie in 0..{q - 1}, got {S}")
    if L < len(S) or L < 1:
        raise InputError(
            "layers",
            f"L = {L} hidden layers cannot collapse {len(S)} classes (the construction needs L >= Q)",
            f"use --layers {max(len(S), 1)} or more",
        )
    if output not in ("apex", "affine"):
        raise InputError("output", f"unknown output {output!r}", "use apex or affine")
    if np.linalg.matrix_rank(Y) < q:
        raise InputError(
            "Y", "the label matrix must be invertible", "use distinct, linearly independent labels (e.g. I)"
        )
    blocks, sqs = _blocks(X, labels, q)
    means = np.stack([B.mean(axis=1) for B in blocks], axis=1)
    test, steps = _find_order(blocks, sqs, means, order, alpha, margin)
    if not test["passes"]:
        why = test["failures"][-1]["reason"] if test["failures"] else "no order tried"
        raise InputError(
            "data",
            f"clustering assumption fails for every order tried ({test['tried']}): {why}",
            "use smaller or better separated clusters (smaller --radius), or another --order",
        )
    full_order = test["order"]
    seq = [c for c in full_order if c in S]
    if seq != full_order:  # a proper subset: the full order's sub-sequence, else any order of S that passes
        steps = None
        perms = [seq] + ([list(p) for p in itertools.permutations(seq)] if len(seq) <= MAX_EXHAUSTIVE_Q else [])
        why = ""
        for perm in perms:
            try:
                steps, reps = _collapse_steps(blocks, sqs, means, perm, alpha, margin)
                seq = list(perm)
                break
            except _Assumption as e:
                why = e.reason
        if steps is None:
            raise InputError(
                "collapse",
                f"no order of the classes {seq} passes the sign tests: {why}",
                "use smaller or better separated clusters",
            )
    else:
        reps = means.copy()
        for st in steps:
            reps[:, st.cls] = st.apex
    Z = None
    if output == "affine":
        Z = X.copy()
        for st in steps:
            Z[:, labels == st.cls] = st.apex[:, None]
    Wc, bc = [], []
    if not steps:  # S = ∅: one positive shift so every activation is on the linear piece
        beta = float(max(0.0, -X.min())) + 1.0
        Wc.append(np.eye(q))
        bc.append(np.full(q, beta))
    for st in steps:
        Wc.append(st.W)
        bc.append(st.b)
    while len(Wc) < L:  # pass-through layers W_l = I, b_l = beta*1: every pre-activation stays >= beta > 0
        Wc.append(Wc[-1].copy())
        bc.append(bc[-1] + PASS_THROUGH_BIAS)
    R = reps
    cond_R = float(np.linalg.cond(R))
    if output == "apex":
        if not np.isfinite(cond_R) or cond_R > 1e12:
            raise InputError(
                "data",
                f"the representatives are (nearly) linearly dependent, cond(R) = {cond_R:.3g}",
                "use class means that are well linearly independent",
            )
        Wout = np.linalg.solve(R.T, Y.T).T
        bout = np.zeros(q)
    else:
        Wout, bout = _affine_ls(Z, Y[:, labels])
    Wc.append(Wout)
    bc.append(bout)
    Ws, bs = layerwise_parameters(Wc, bc)
    return ChenEwaldConstruction(
        Wc=Wc,
        bc=bc,
        Ws=Ws,
        bs=bs,
        order=full_order,
        collapsed=seq,
        apexes=R,
        psi=[s.psi for s in steps],
        theta=[s.theta for s in steps],
        margins=[(s.margin_collapsed, s.margin_others) for s in steps],
        cond_V=[float(np.linalg.cond(s.V)) for s in steps],
        cond_R=cond_R,
        truncated=Z,
    )


def _affine_ls(Z: np.ndarray, Yext: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares affine map Z -> Yext: returns (A, a) minimising |A Z + a 1ᵀ - Yext|."""
    M = np.vstack([Z, np.ones((1, Z.shape[1]))]).T
    sol, *_ = np.linalg.lstsq(M, Yext.T, rcond=None)
    return sol[:-1].T, sol[-1]


def configuration(X, labels, subset: Sequence[int], layers: int, **kw) -> ChenEwaldConstruction:
    """The configuration that collapses only the classes in ``subset`` (spec §1.7), affine LS output."""
    return construct_minimizer(X, labels, layers, collapse=subset, output="affine", **kw)


@dataclasses.dataclass
class ConfigurationCosts(Result):
    """Closed-form costs of a configuration: mean matching, optimal linear output, optimal affine output."""

    kind = "configuration_costs"

    mean_matching: float = float("nan")
    linear: float = float("nan")
    affine: float = float("nan")


def configuration_costs(
    X,
    labels,
    subset: Sequence[int],
    *,
    Y=None,
    norm: float | None = None,
    order="auto",
    alpha: float = 0.2,
    margin: float = 0.05,
) -> ConfigurationCosts:
    r"""Closed-form costs of configuration S (spec §1.7) from the truncated data :math:`Z`:

    * mean matching :math:`C^{mm}_S=\mathrm{norm}\sum_{j\notin S}\sum_i|YR_S^{-1}\Delta x_{j,i}|^2`,
    * optimal linear output :math:`C^{lin}_S=\mathrm{norm}\|Y^{ext}(I-\Pi_Z)\|^2`,
    * optimal affine output: the same with :math:`Z` replaced by :math:`[Z;1^\top]`.
    """
    X, labels, Y, _ = _check_data(X, labels, Y)
    q, n = X.shape
    norm = 1.0 / n if norm is None else float(norm)
    S = sorted(set(int(c) for c in subset))
    con = construct_minimizer(
        X, labels, max(len(S), 1), Y=Y, order=order, alpha=alpha, margin=margin, collapse=S, output="affine"
    )
    st = class_statistics(X, labels)
    dev = X - st.means[:, labels]
    A = np.linalg.solve(con.apexes.T, Y.T).T
    keep = ~np.isin(labels, S)
    mm = norm * float(((A @ dev[:, keep]) ** 2).sum())
    Yext = Y[:, labels]

    def resid(M):
        Qm, _ = np.linalg.qr(M.T)  # orthonormal basis of the row space of M
        return norm * float(((Yext - (Yext @ Qm) @ Qm.T) ** 2).sum())

    Z = con.truncated
    return ConfigurationCosts(mean_matching=mm, linear=resid(Z), affine=resid(np.vstack([Z, np.ones((1, n))])))


@dataclasses.dataclass
class ShallowBound(Result):
    """The shallow companion's explicit network, its cost (closed form and measured), the bound and the gap."""

    kind = "shallow_upper_bound"

    cost_upper_bound: float = float("nan")
    cost_measured: float = float("nan")
    cost_linear_optimum: float = float("nan")
    bound: float = float("nan")
    delta_p: float = float("nan")
    relative_gap: float = float("nan")
    gap_over_delta_p_sq: float | None = None
    weights: list[np.ndarray] = dataclasses.field(default_factory=list, repr=False)
    biases: list[np.ndarray] = dataclasses.field(default_factory=list, repr=False)


def shallow_upper_bound(X: np.ndarray, labels: np.ndarray, *, Y=None, norm: float | None = None) -> ShallowBound:
    r"""Shallow companion (arXiv:2309.10370; spec §1.8, our reconstruction) for M = Q:

    the network :math:`W_1=\bar X^{-1}`, :math:`b_1=\beta 1` (all pre-activations ≥ 1), :math:`W_2=Y`, :math:`b_2=-Yb_1`
    computes :math:`Y\bar X^{-1}x`; its cost
    :math:`C_{ub}=\mathrm{norm}\sum|Y\bar X^{-1}\Delta x|^2\le N\,\mathrm{norm}\,\|Y\|_{op}^2\delta_P^2`. The best cost
    in the same (linear-output) structure is :math:`C_{lin}=\mathrm{norm}\|Y^{ext}(I-\Pi_X)\|^2`; the relative gap
    :math:`(C_{ub}-C_{lin})/C_{ub}` is :math:`O(\delta_P^2)`. Returns closed forms, the cost measured by a forward pass,
    and the weights.
    """
    X, labels, Y, _ = _check_data(X, labels, Y)
    q, n = X.shape
    norm = 1.0 / n if norm is None else float(norm)
    st = class_statistics(X, labels)
    means = st.means
    W1 = np.linalg.inv(means)
    beta = float(max(0.0, -(W1 @ X).min())) + 1.0
    b1 = np.full(q, beta)
    W2, b2 = Y, -Y @ b1
    Yext = Y[:, labels]
    measured = norm * float(((forward([W1, W2], [b1, b2], X) - Yext) ** 2).sum())
    dev = X - means[:, labels]
    c_ub = norm * float(((Y @ W1 @ dev) ** 2).sum())
    Qm, _ = np.linalg.qr(X.T)
    c_lin = norm * float(((Yext - (Yext @ Qm) @ Qm.T) ** 2).sum())
    bound = n * norm * float(np.linalg.norm(Y, 2)) ** 2 * st.delta_p**2
    gap = (c_ub - c_lin) / c_ub if c_ub > TINY else 0.0
    return ShallowBound(
        cost_upper_bound=c_ub,
        cost_measured=measured,
        cost_linear_optimum=c_lin,
        bound=bound,
        delta_p=st.delta_p,
        relative_gap=gap,
        gap_over_delta_p_sq=gap / st.delta_p**2 if st.delta_p > 0 else None,
        weights=[W1, W2],
        biases=[b1, b2],
    )


# ---------------------------------------------------------------------------------------------
# torch: cost, Jacobian, Hessian, local minimality
# ---------------------------------------------------------------------------------------------


def flatten_params(Ws: Sequence[np.ndarray], bs: Sequence[np.ndarray]) -> np.ndarray:
    """Concatenate (W_1.ravel(), b_1, ..., W_{L+1}.ravel(), b_{L+1})."""
    return np.concatenate([np.concatenate([np.asarray(W).ravel(), np.asarray(b).ravel()]) for W, b in zip(Ws, bs)])


def unflatten_params(theta, q: int, layers: int):
    """Inverse of :func:`flatten_params` for width-Q nets (numpy or torch)."""
    Ws, bs, k = [], [], 0
    for _ in range(layers + 1):
        Ws.append(theta[k : k + q * q].reshape(q, q))
        k += q * q
        bs.append(theta[k : k + q])
        k += q
    return Ws, bs


@contextlib.contextmanager
def _few_threads(work: int, limit: int = 2_000_000):
    """Tiny torch problems run single-threaded:

    intra-op threads only add synchronisation (and spin badly on a loaded machine, ~25x slower measured); the previous
    thread count is restored.
    """
    import torch

    old = torch.get_num_threads()
    if work < limit and old > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if torch.get_num_threads() != old:
            torch.set_num_threads(old)


def _torch_forward(theta, X, q, layers):
    import torch

    Ws, bs = unflatten_params(theta, q, layers)
    h = X
    for k in range(layers + 1):
        h = Ws[k] @ h + bs[k][:, None]
        if k < layers:
            h = torch.relu(h)
    return h


def network_cost(theta, X, Yext, q: int, layers: int, norm: float):
    """Cost ``norm * |net(theta)(X) - Yext|²`` as a torch scalar (differentiable in ``theta``)."""
    return norm * ((_torch_forward(theta, X, q, layers) - Yext) ** 2).sum()


def output_jacobian(con: ChenEwaldConstruction, X: np.ndarray) -> np.ndarray:
    """Jacobian of all outputs w.r.t. the K layerwise parameters (reverse mode, one backward pass per output).

    Jacobian of all outputs (columns of X stacked, Q each) w.r.t. the K layerwise parameters (reverse mode, one
    backward pass per output: no torch.func warm-up, which costs seconds on first use).
    """
    import torch

    q, L = X.shape[0], con.layers
    th = torch.tensor(flatten_params(con.Ws, con.bs), dtype=torch.float64)
    Xt = torch.tensor(X, dtype=torch.float64)
    with _few_threads(Xt.numel() * th.numel()):
        J = torch.autograd.functional.jacobian(lambda t: _torch_forward(t, Xt, q, L).T.reshape(-1), th)
    return J.numpy()


def jacobian_rank(J: np.ndarray, rtol: float = RANK_RTOL) -> tuple[int, np.ndarray]:
    """Numerical rank (singular values above ``rtol * s_max``) and the singular values."""
    s = np.linalg.svd(J, compute_uv=False)
    return int((s > rtol * s[0]).sum()) if s.size and s[0] > 0 else 0, s


def local_minimality(
    con: ChenEwaldConstruction,
    X: np.ndarray,
    labels: np.ndarray,
    *,
    Y=None,
    norm=None,
    seed=0,
    perturbations: int = 100,
    radius: float = 1e-3,
    grad_tol: float = 1e-8,
    eig_tol: float = 1e-9,
    weights: np.ndarray | None = None,
    max_dense: int = MAX_DENSE_HESSIAN,
    hessian_always: bool = False,
) -> LocalMinResult:
    r"""Local-minimality verdict of a constructed network in the full parameter space.

    Local-minimality verdict of a constructed network in the full parameter space (all :math:`K` weights and
    biases), by :func:`tamelab.exact._local_min.local_min_verdict`: gradient, Hessian (dense up to ``max_dense``
    parameters, Lanczos above — never skipped), random perturbations, the higher-order test along the Hessian's
    null directions (on the same activation pattern), and two restricted analyses that can decide a degenerate
    Hessian:

    * zero cost (:math:`C\le` ``ZERO_COST``·(1 + |Y|²)): a global minimum, since :math:`C\ge0`;
    * every hidden pre-activation of every data point positive (margin > 0): near θ the network is an affine map
      :math:`x\mapsto Ax+c` on the data, the cost is the convex least-squares cost :math:`F(A,c)` of that map, and
      a critical θ has :math:`\nabla_{(A,c)}F=0` (the output layer's gradient), so :math:`C(\theta')=F(A',c')\ge
      \min F=C(\theta)` nearby: a (degenerate) local minimum. This is the argument of CE23 Thm 2.4.

    ``weights``: per-point weights of the squared residuals (default ``norm``; the paper's cost (2.36) squared
    uses :math:`1/N_j`). ``verdict`` is one of :data:`tamelab.exact._local_min.VERDICTS`.
    """
    import torch

    X, labels, Y, _ = _check_data(X, labels, Y)
    q, n = X.shape
    norm = 1.0 / n if norm is None else float(norm)
    w = np.full(n, norm) if weights is None else np.asarray(weights, float)
    L = con.layers
    th = torch.tensor(flatten_params(con.Ws, con.bs), dtype=torch.float64)
    Xt = torch.tensor(X, dtype=torch.float64)
    Yt = torch.tensor(Y[:, labels], dtype=torch.float64)
    wt = torch.tensor(w, dtype=torch.float64)

    def f(t):
        return (wt * ((_torch_forward(t, Xt, q, L) - Yt) ** 2).sum(0)).sum()

    def stratum(t):
        return _hidden_pattern(t, Xt, q, L)

    with _few_threads(Xt.numel() * th.numel()):
        return _local_min_core(
            f, th, con, X, Y, L, seed, perturbations, radius, grad_tol, eig_tol, max_dense, stratum, hessian_always
        )


def _hidden_pattern(t, X, q: int, layers: int) -> np.ndarray:
    """Activation pattern (pre-activation > 0) of every hidden unit on every data column."""
    import torch

    Ws, bs = unflatten_params(t, q, layers)
    h, pat = X, []
    with torch.no_grad():
        for k in range(layers):
            pre = Ws[k] @ h + bs[k][:, None]
            pat.append((pre > 0).cpu().numpy())
            h = torch.relu(pre)
    return np.concatenate(pat)


def _local_min_core(
    f,
    th,
    con,
    X,
    Y,
    L,
    seed,
    perturbations,
    radius,
    grad_tol,
    eig_tol,
    max_dense=MAX_DENSE_HESSIAN,
    stratum=None,
    hessian_always=False,
) -> LocalMinResult:
    """Kink margin, restricted analyses (zero cost, affine stratum) and the generic verdict."""
    h = X
    kink, all_active = math.inf, True
    for k in range(L):
        pre = con.Ws[k] @ h + con.bs[k][:, None]
        kink = min(kink, float(np.abs(pre).min()))
        all_active &= bool((pre > 0).all())
        h = np.maximum(pre, 0.0)
    c0 = float(f(th))
    zero = ZERO_COST * (1.0 + float((Y**2).sum()))
    gscale = grad_tol * (1.0 + float(np.linalg.norm(Y)))
    restricted = None
    if c0 <= zero:
        restricted = ("global_minimum", f"C = {c0:.3g} <= {zero:.3g} and C >= 0 everywhere")
    elif all_active and kink > 0:
        restricted = (
            "local_minimum",
            f"every hidden pre-activation is positive on the data (margin {kink:.3g}): the net "
            "is locally an affine map of the data whose output layer is least-squares optimal (gradient "
            f"<= {gscale:.3g}), so C cannot decrease nearby (CE23 Thm 2.4 argument)",
        )
    return local_min_verdict(
        f,
        th,
        grad_tol=gscale,
        eig_tol=eig_tol,
        kink_margin=kink,
        stratum=stratum,
        restricted=restricted,
        seed=seed,
        perturbations=perturbations,
        radius=radius,
        max_dense=max_dense,
        hessian_always=hessian_always,
    )


@dataclasses.dataclass
class GDBaseline(Result):
    """Final costs (on all data) of Adam runs from random initialisations, with their cost curves."""

    kind = "gd_baseline"

    gd_costs: list[float] = dataclasses.field(default_factory=list)
    curves: list[list[list[float]]] = dataclasses.field(default_factory=list, repr=False)
    runs: int = 0
    steps: int = 0
    lr: float = 0.0
    optimizer: str = "adam"
    train_points: int = 0


def gd_baseline(
    X,
    labels,
    layers: int,
    *,
    Y=None,
    norm=None,
    runs: int = 5,
    steps: int = 1000,
    lr: float = 1e-2,
    seed=0,
    max_points: int = 4000,
) -> GDBaseline:
    """Adam from ``runs`` seeded random inits for the same architecture; final costs on all data.

    Adam (full batch on at most ``max_points`` points, stratified) from ``runs`` seeded random inits
    (uniform ±1/√Q, PyTorch's default scale) for the same architecture; final costs evaluated on all data.
    The runs go in lockstep: run ``r`` is row ``r`` of one ``(runs, K)`` parameter tensor, the batched cost is the
    sum of the runs' costs (so each row receives its own run's gradient) and ``torch.optim.Adam`` is elementwise, so
    every row follows its own Adam run (tested against runs made one at a time); one Python step serves all runs.
    """
    import torch

    X, labels, Y, _ = _check_data(X, labels, Y)
    q, n = X.shape
    s = resolve_seed(seed)
    rng = np.random.default_rng(s)
    idx = np.arange(n) if n <= max_points else np.sort(rng.choice(n, size=max_points, replace=False))
    Xt = torch.tensor(X[:, idx], dtype=torch.float64)
    Yt = torch.tensor(Y[:, labels[idx]], dtype=torch.float64)
    nrm = 1.0 / len(idx)
    K = (layers + 1) * (q * q + q)
    eval_norm = 1.0 / n if norm is None else float(norm)
    with _few_threads(Xt.numel() * int(runs)):
        th0 = torch.stack([_gd_init(K, q, s + 7919 * (r + 1)) for r in range(int(runs))])
        th, curves = _adam_runs(th0, Xt, Yt, q, layers, nrm, steps, lr)
    finals = []
    for r in range(int(runs)):
        Ws, bs = unflatten_params(th[r].numpy(), q, layers)
        finals.append(eval_norm * float(((forward(Ws, bs, X) - Y[:, labels]) ** 2).sum()))
    return GDBaseline(
        seed=s, gd_costs=finals, curves=curves, runs=int(runs), steps=int(steps), lr=lr, train_points=int(len(idx))
    )


def _gd_init(K: int, q: int, gseed: int):
    """One run's initial parameters: uniform ±1/√Q (PyTorch's default scale), from its own generator."""
    import torch

    g = torch.Generator().manual_seed(gseed)
    return (torch.rand(K, generator=g, dtype=torch.float64) * 2 - 1) / math.sqrt(q)


def batched_network_costs(theta, X, Yext, q: int, layers: int, norm: float):
    """Costs ``norm * |net(theta_r)(X) - Yext|²`` of the rows ``theta_r`` of ``theta`` (``(R, K)`` → ``(R,)``)."""
    import torch

    R, h, k = theta.shape[0], X, 0
    for j in range(layers + 1):
        W = theta[:, k : k + q * q].reshape(R, q, q)
        k += q * q
        h = torch.matmul(W, h) + theta[:, k : k + q, None]
        k += q
        if j < layers:
            h = torch.relu(h)
    return norm * ((h - Yext) ** 2).sum(dim=(1, 2))


def _adam_runs(th0, Xt, Yt, q, layers, nrm, steps, lr):
    """Adam on every row of ``th0`` at once; returns the final rows and each run's cost curve ``[step, cost, s]``."""
    import torch

    th = th0.clone().requires_grad_(True)
    opt = torch.optim.Adam([th], lr=lr)
    curves: list[list[list[float]]] = [[] for _ in range(th.shape[0])]
    t0 = time.perf_counter()
    for k in range(int(steps)):
        opt.zero_grad()
        c = batched_network_costs(th, Xt, Yt, q, layers, nrm)
        c.sum().backward()
        opt.step()
        if k % max(1, steps // 20) == 0 or k == steps - 1:
            el = time.perf_counter() - t0
            for r, v in enumerate(c.detach().tolist()):
                curves[r].append([k, v, el])
    return th.detach(), curves


# ---------------------------------------------------------------------------------------------
# the full analysis
# ---------------------------------------------------------------------------------------------

_TEST_KEYS = ("passes", "order", "tried", "failures", "psi_deg", "theta_deg", "margins")
_LM_KEYS = (
    "gradient_norm",
    "kink_margin",
    "hessian_method",
    "hessian_min_eig",
    "hessian_max_eig",
    "hessian_negative",
    "hessian_zero",
    "higher_order_descent",
    "perturbations_decreasing",
    "perturbation_min_change",
    "restricted",
)


@dataclasses.dataclass
class ChenEwaldResult(Result):
    """Construction, certificate, degeneracy, configurations and the GD comparison."""

    kind = "chen_ewald"

    q: int = 0
    layers: int = 0
    per_class: int = 0
    n_total: int = 0
    radius: float = 0.0
    delta_p: float = 0.0
    norm: str = "1/N"
    order: list[int] | None = None
    cost: float | None = None
    cost_zero_threshold: float = 0.0
    max_output_error: float | None = None
    identity_error: float | None = None
    sign_margins: list[list[float]] = dataclasses.field(default_factory=list)
    psi_deg: list[float] = dataclasses.field(default_factory=list)
    theta_deg: list[float] = dataclasses.field(default_factory=list)
    cond_V_max: float | None = None
    cond_R: float | None = None
    n_parameters: int = 0
    jacobian_rank: int | None = None
    expected_rank: int = 0
    jacobian_points: int = 0
    jacobian_row_spread: float | None = None
    jacobian_singular_values: list[float] = dataclasses.field(default_factory=list)
    zero_cost_family_dimension: int | None = None
    configurations: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    configurations_note: str = ""
    gd_costs: list[float] = dataclasses.field(default_factory=list)
    gd: dict[str, Any] = dataclasses.field(default_factory=dict)
    construction_seconds: float = 0.0
    assumption: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class ChenEwaldWorkEstimate(Result):
    """Size of :func:`chen_ewald` estimated before it starts."""

    kind = "chen_ewald_work_estimate"

    parameters: int = 0  # K = (L+1)(Q²+Q)
    configurations: int = 0  # 2^Q when the configurations are analysed
    memory_bytes: float = 0.0  # data + weights + output Jacobian + dense Hessians
    jacobian_entries: float = 0.0
    gd_flops_per_step: float = 0.0  # 6 · points · K per Adam step


def chen_ewald_work_estimate(
    q: int,
    layers: int,
    n_points: int,
    *,
    jacobian_points: int = 3,
    configurations: bool = False,
    max_dense_hessian: int = MAX_DENSE_HESSIAN,
) -> ChenEwaldWorkEstimate:
    """Size of :func:`chen_ewald` before it starts:

    parameters ``K = (L+1)(Q²+Q)``, configurations analysed, and the memory (bytes) of the data, the weights (layerwise
    + cumulative), the output Jacobian (``Q·jacobian_points`` points × Q outputs × K) and a dense Hessian (K² when K ≤
    ``max_dense_hessian``).
    """
    K = (layers + 1) * (q * q + q)
    jac = q * jacobian_points * q * K
    hess = K * K if (configurations and K <= max_dense_hessian) else 0
    mem = 8.0 * (q * n_points + 2 * (layers + 1) * q * q + jac + hess)
    return ChenEwaldWorkEstimate(
        parameters=int(K),
        configurations=int(2**q if configurations else 0),
        memory_bytes=mem,
        jacobian_entries=float(jac),
        gd_flops_per_step=6.0 * n_points * K,
    )


#: default limits of :func:`chen_ewald` (parameters of the network, bytes of memory, configurations analysed).
CHEN_EWALD_MAX_PARAMETERS = 2_000_000
CHEN_EWALD_MAX_MEMORY = 4e9
CHEN_EWALD_MAX_CONFIGURATIONS = 64
CHEN_EWALD_MAX_GD_FLOPS = 1e12


def _int_arg(name, v, lo, fix):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise InputError(name, f"must be an integer >= {lo}, got {v!r}", fix)
    return int(v)


def chen_ewald(
    q: int = 3,
    layers: int = 3,
    per_class: int = 20,
    radius: float = 0.04,
    *,
    seed=0,
    X=None,
    labels=None,
    Y=None,
    order: str | Sequence[int] = "auto",
    alpha: float = 0.2,
    margin: float = 0.05,
    configurations: bool | None = None,
    perturbations: int = 100,
    jacobian_points: int = 3,
    gd_runs: int = 5,
    gd_steps: int = 1000,
    gd_lr: float = 1e-2,
    gd_max_points: int = 4000,
    max_dense_hessian: int = MAX_DENSE_HESSIAN,
    max_parameters: int = CHEN_EWALD_MAX_PARAMETERS,
    max_memory: float = CHEN_EWALD_MAX_MEMORY,
    max_configurations: int = CHEN_EWALD_MAX_CONFIGURATIONS,
    max_gd_flops: float = CHEN_EWALD_MAX_GD_FLOPS,
) -> ChenEwaldResult:
    """Construct the zero-cost minimizer on seeded clustered data (or on ``X, labels``) and analyse it.

    * ``cost``: measured by an independent plain layerwise forward pass (``norm = 1/N``);
    * ``jacobian_rank`` vs ``expected_rank = Q²`` (rows of one class are identical at the minimizer, so
      ``jacobian_points`` per class suffice; ``jacobian_row_spread`` certifies that; 0 skips the rank);
    * ``configurations`` (default when 2^Q ≤ 16): every S ⊆ {1..Q} with its closed-form and measured costs
      and a local-minimality verdict; ``gd_costs``: Adam from random inits, evaluated on all data.

    Resource guards (before any work, :class:`InputError` with the estimate): the network's parameters
    ``K = (L+1)(Q²+Q)`` above ``max_parameters``, the memory estimate (:func:`chen_ewald_work_estimate`) above
    ``max_memory`` bytes, more than ``max_configurations`` configurations, or a gradient-descent baseline above
    ``max_gd_flops`` floating-point operations (``gd_runs · gd_steps · 6 · points · K``).

    ``status`` is INFEASIBLE (with ``assumption``) when no class order passes the clustering test.
    """
    t0 = time.perf_counter()
    s = resolve_seed(seed)
    L = _int_arg("layers", layers, 1, "use --layers >= --q")
    perturbations = _int_arg("perturbations", perturbations, 0, "use 0 or more")
    jacobian_points = _int_arg("jacobian_points", jacobian_points, 0, "use 0 (skip the rank) or more")
    gd_runs = _int_arg("--gd-runs", gd_runs, 0, "use 0 or more")
    gd_steps = _int_arg("--gd-steps", gd_steps, 1, "use 1 or more")
    gd_max_points = _int_arg("gd_max_points", gd_max_points, 1, "use 1 or more")
    max_dense_hessian = _int_arg("max_dense_hessian", max_dense_hessian, 0, "use 0 or more")
    if not (isinstance(gd_lr, (int, float)) and math.isfinite(gd_lr) and gd_lr > 0):
        raise InputError("gd_lr", f"must be a finite number > 0, got {gd_lr!r}")
    if X is None:
        q = _int_arg("--q", q, 2, "pass --q 2 or more")
        per_class = _int_arg("--per-class", per_class, 1, "pass --per-class 1 or more")
        if not (isinstance(radius, (int, float)) and math.isfinite(radius) and radius >= 0):
            raise InputError("--radius", f"must be a finite number >= 0, got {radius!r}")
        n_est = q * per_class
    else:
        q, n_est = int(np.shape(X)[0]), int(np.shape(X)[1]) if np.ndim(X) == 2 else 0
    if L < q:
        raise InputError(
            "layers",
            f"L = {L} < Q = {q}: the zero-cost construction collapses one class per layer (needs L >= Q)",
            f"use --layers {q} or more",
        )
    do_conf = (2**q <= 16) if configurations is None else bool(configurations)
    est = chen_ewald_work_estimate(
        q, L, n_est, jacobian_points=jacobian_points, configurations=do_conf, max_dense_hessian=max_dense_hessian
    )
    if est.parameters > max_parameters:
        raise InputError(
            "max_parameters",
            f"Q = {q}, L = {L} gives K = (L+1)(Q²+Q) = {est.parameters:.3g} parameters, "
            f"above the limit {max_parameters:.3g}",
            "use a smaller --q/--layers or raise max_parameters",
        )
    if est.memory_bytes > max_memory:
        raise InputError(
            "max_memory",
            f"the analysis needs ~{est.memory_bytes / 1e9:.3g} GB (data, weights, a "
            f"{est.jacobian_entries:.3g}-entry Jacobian{', dense Hessians' if do_conf else ''}), above "
            f"{max_memory / 1e9:.3g} GB",
            "use fewer points/classes, jacobian_points=0, or raise max_memory",
        )
    if do_conf and 2**q > max_configurations:
        raise InputError(
            "configurations",
            f"2^Q = {2**q} configurations, above the limit {max_configurations}",
            "use --no-configurations or raise max_configurations",
        )
    gd_flops = gd_runs * gd_steps * 6.0 * min(n_est, gd_max_points) * est.parameters
    if gd_flops > max_gd_flops:
        raise InputError(
            "--gd-steps",
            f"the Adam baseline needs ~{gd_flops:.3g} flops ({gd_runs} runs × {gd_steps} steps, "
            f"K = {est.parameters:.3g}), above {max_gd_flops:.3g}",
            "use fewer --gd-runs/--gd-steps (0 runs skips it) or raise max_gd_flops",
        )
    if X is None:
        X, labels, Ydef = clustered_data(q, per_class, radius, seed=s)
        Y = Ydef if Y is None else Y
    X, labels, Y, counts = _check_data(X, labels, Y)
    q, n = X.shape
    st = class_statistics(X, labels)
    res = ChenEwaldResult(
        seed=s,
        q=q,
        layers=L,
        per_class=int(counts.min()) if counts.min() == counts.max() else -1,
        n_total=n,
        radius=st.delta,
        delta_p=st.delta_p,
        n_parameters=(L + 1) * (q * q + q),
        expected_rank=q * q,
    )
    Yext = Y[:, labels]
    norm = 1.0 / n
    res.cost_zero_threshold = ZERO_COST * (1.0 + float((Y**2).sum()))
    test = clustering_test(X, labels, order=order, alpha=alpha, margin=margin)
    res.assumption = {k: v for k, v in test.to_dict().items() if k in _TEST_KEYS}
    if not test.passes:
        res.status = Status.INFEASIBLE
        res.seconds = time.perf_counter() - t0
        return res
    tc = time.perf_counter()  # the construction, sign-test certificates included, for the order found
    con = construct_minimizer(X, labels, L, Y=Y, order=test.order, alpha=alpha, margin=margin)
    res.construction_seconds = time.perf_counter() - tc
    out = forward(con.Ws, con.bs, X)  # independent plain forward pass on the layerwise weights
    res.cost = norm * float(((out - Yext) ** 2).sum())
    res.max_output_error = float(np.abs(out - Yext).max())
    sub = np.concatenate([np.flatnonzero(labels == c)[:200] for c in range(q)])
    res.identity_error = float(
        np.abs(truncation_forward(con.Wc, con.bc, X[:, sub]) - forward(con.Ws, con.bs, X[:, sub])).max()
    )
    res.order, res.sign_margins = con.order, [list(m) for m in con.margins]
    res.psi_deg, res.theta_deg = [math.degrees(v) for v in con.psi], [math.degrees(v) for v in con.theta]
    res.cond_V_max, res.cond_R = max(con.cond_V), con.cond_R
    # degeneracy: Jacobian of the outputs at the minimizer
    rank = None
    if jacobian_points:
        jsub = np.concatenate([np.flatnonzero(labels == c)[:jacobian_points] for c in range(q)])
        J = output_jacobian(con, X[:, jsub])
        rank, sv = jacobian_rank(J)
        rows = J.reshape(len(jsub), q, -1)
        spread = 0.0
        for c in range(q):
            blk = rows[labels[jsub] == c]
            spread = max(spread, float(np.abs(blk - blk[:1]).max()))
        res.jacobian_rank, res.jacobian_points, res.jacobian_row_spread = rank, int(len(jsub)), spread
        res.jacobian_singular_values = sv[: q * q + 2].tolist()
        res.zero_cost_family_dimension = res.n_parameters - rank
    # configurations
    if do_conf:
        for k in range(q + 1):
            for S in itertools.combinations(range(q), k):
                try:
                    cfg = construct_minimizer(
                        X, labels, L, Y=Y, order=test.order, alpha=alpha, margin=margin, collapse=S, output="affine"
                    )
                    closed = configuration_costs(X, labels, S, Y=Y, order=test.order, alpha=alpha, margin=margin)
                except InputError as e:  # this subset cannot be collapsed by the cone construction (A1 fails)
                    res.configurations.append(
                        {
                            "classes": list(S),
                            "cost": None,
                            "cost_closed_form": None,
                            "local_min_verdict": "not_constructed",
                            "local_min_reason": str(e),
                        }
                    )
                    continue
                o = forward(cfg.Ws, cfg.bs, X)
                measured = norm * float(((o - Yext) ** 2).sum())
                lm = local_minimality(
                    cfg, X, labels, Y=Y, seed=s + k, perturbations=perturbations, max_dense=max_dense_hessian
                )
                lmd = lm.to_dict()
                res.configurations.append(
                    {
                        "classes": list(S),
                        "cost": measured,
                        "cost_closed_form": closed.affine,
                        "cost_mean_matching": closed.mean_matching,
                        "cost_linear_output": closed.linear,
                        "local_min_verdict": lm.verdict,
                        "local_min_reason": lm.reason,
                        **{k2: lmd[k2] for k2 in _LM_KEYS},
                    }
                )
        res.configurations_note = (
            "affine least-squares output; local_min_verdict from gradient, Hessian "
            + ("(dense) " if res.n_parameters <= max_dense_hessian else "(Lanczos) ")
            + f"{perturbations} perturbations of norm 1e-3, the higher-order test along the "
            "Hessian's null directions and the restricted analyses (zero cost, affine stratum)"
        )
    else:
        res.configurations_note = f"skipped: 2^Q = {2**q} configurations (pass configurations=True to force)"
    if gd_runs:
        gd = gd_baseline(X, labels, L, Y=Y, runs=gd_runs, steps=gd_steps, lr=gd_lr, seed=s, max_points=gd_max_points)
        res.gd_costs = list(gd.gd_costs)
        res.gd = {
            k: v for k, v in gd.to_dict().items() if k in ("runs", "steps", "lr", "optimizer", "train_points", "seed")
        }
    zero = res.cost <= res.cost_zero_threshold
    res.status = Status.OK if zero and rank in (None, q * q) else Status.UNCERTIFIED
    res.seconds = time.perf_counter() - t0
    return res
