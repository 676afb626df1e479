r"""Chen–Muñoz Ewald in the paper's own parametrisation (CE23 = arXiv:2309.10639 v4, §2 and §4).

Beside the cone reconstruction of :mod:`tamelab.exact.chen2023ewald`, this module builds the networks of
Theorems 2.3–2.5 exactly as the paper writes them, for :math:`L = Q` hidden layers of width :math:`Q`,
layer :math:`\ell` serving class :math:`\ell` (in a class order :math:`\pi`):

* :math:`\bar x` = mean of the class means (2.7); :math:`f_j=-(\bar x_j-\bar x)/|\bar x_j-\bar x|` (2.49);
  :math:`\delta=\sup|\Delta x_{j,i}|` (2.14); :math:`u_Q=(1,\dots,1)`.
* :math:`\theta_{*,j}` (2.51): the smallest full opening angle of a cone at :math:`\bar x_j` with axis
  :math:`f_j` containing the balls :math:`B_{4\delta}(\bar x_{j'})`, :math:`j'\ne j`; (2.52) needs
  :math:`\max_j\theta_{*,j}<\pi`; :math:`\theta_*=\theta_0+\max_j\theta_{*,j}` (4.24);
  :math:`\theta_Q=2\arccos\sqrt{(Q-1)/Q}` (4.27), the widest cone about :math:`u_Q` inside the positive sector.
* :math:`W_*=\tilde R\,\mathrm{diag}(1,\lambda,\dots,\lambda)\tilde R^\top
  =\tfrac{u_Qu_Q^\top}{Q}+\lambda(I-\tfrac{u_Qu_Q^\top}{Q})`
  with :math:`\lambda=\tan(\theta_Q/2)/\tan(\theta_*/2)` if :math:`\theta_*>\theta_Q`, else 1 (4.28)–(4.29):
  :math:`\|W_*\|_{op}=1`, :math:`W_*u_Q=u_Q`.
* Cumulative parameters (4.56), (4.58) = (2.63)–(2.65): :math:`W^{(\ell)}=W_*R_\ell` with
  :math:`R_\ell\in SO(Q)`, :math:`R_\ell f_\ell=u_Q/|u_Q|` (the rotation in the plane of the two), and
  :math:`b^{(\ell)}=-W^{(\ell)}\bar x_\ell+\mu_\ell R_\ell f_\ell`; the apex is :math:`\bar x_\ell-\mu_\ell f_\ell`.
  Layerwise weights by (2.45) (:func:`~tamelab.exact.chen2023ewald.layerwise_parameters`).
* The intervals (2.78)–(2.79), with :math:`D` from (4.26): :math:`I_0=(-D,-2\delta|u_Q|)` (class
  :math:`\ell` collapses to its apex, Lemma 4.1) and :math:`I_1=(2\delta|u_Q|,\infty)` (layer :math:`\ell` is
  the identity on the data, Lemma 5.1). Because the pre-activation of a point :math:`z` at layer
  :math:`\ell` is :math:`a(z)+\mu_\ell u_Q/|u_Q|` with :math:`a(z)=W_*R_\ell(z-\bar x_\ell)`, the intervals on
  which the sign conditions *actually* hold are computed exactly as well (``exact_intervals``).
* Costs: the paper's (2.35)–(2.36) :math:`C_N=(\sum_j N_j^{-1}\sum_i|x^{(L+1)}_{j,i}-y_j|^2)^{1/2}` (class
  weighted, square root) and ours :math:`C=N^{-1}\sum|x^{(L+1)}-y|^2`. The *reduced cost* is
  :math:`\min_{W_{L+1},b_{L+1}}C_N` (a weighted affine least-squares fit of the truncated data).
* Closed form (2.85) with (2.80)–(2.83): :math:`\|Y|\Delta_2[s]|^{1/2}(1+\Delta_2[s])^{-1/2}\|_{HS}` with
  :math:`\Delta_1[s]=(X_0^{red})^{-1}\Delta X_0[s]` — built from the *untruncated* means — and, for
  comparison, the same formula with the truncated mean matrix :math:`((\tau X_0)^{red})^{-1}` (2.55).

# NOTE [paper vs measurement]: Thm 2.5 states that for every s the reduced cost is independent of µ on
# ∏ I_{s_j}. For mixed s the collapsed classes' columns of the truncated mean matrix are their apexes
# x̄_j − µ_j f_j, which move with µ_j, while (2.81) uses the untruncated means: the reduced cost depends on
# µ, and the constructed points are not critical. ``tests/test_exact_chen_ewald_paper.py`` and the claim
# ``chen-ewald-thm-2-5`` measure this; it is reported as a finding, not tuned away.

References:
    T. Chen, P. Muñoz Ewald, "Geometric structure of deep learning networks and construction of global L²
    minimizers", arXiv:2309.10639 (v4, 2024), Thms 2.3–2.5, eqs. (2.35)–(2.36), (2.49)–(2.85), (4.24)–(4.75).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Sequence

import numpy as np

from .._numerics import ZERO_COST
from ..errors import InputError
from ..result import Result, Status
from .chen2023ewald import _check_data, forward, layerwise_parameters, local_minimality
from ._local_min import LocalMinResult

__all__ = [
    "PaperGeometry",
    "PaperConstruction",
    "paper_geometry",
    "rotation_to_diagonal",
    "paper_construction",
    "paper_cost",
    "reduced_cost",
    "closed_form_cost",
    "paper_local_minimality",
    "classify_inputs",
    "truncate_inputs",
    "mu_inside",
    "all_s",
    "ConfigurationAnalysis",
    "PaperTheoremsResult",
    "analyse_configuration",
    "out_of_sample",
    "paper_theorems",
    "ZeroCostFamily",
    "zero_cost_family",
    "ReducedCost",
    "InputClassification",
    "OutOfSample",
]

#: θ₀ of (4.24): slack added to the largest needed opening angle (radians).
THETA0 = 0.05


@dataclasses.dataclass
class PaperGeometry(Result):
    """The data's quantities of CE23 §2.1 and §4.1 (see the module docstring for each symbol)."""

    kind = "chen_ewald_paper_geometry"

    means: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 0)))  # columns x̄_j (2.5)
    overall_mean: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))  # x̄ (2.7)
    f: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 0)))  # columns f_j (2.49)
    counts: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, int))
    delta: float = 0.0  # (2.14)
    c0: float = 0.0  # δ / min_j |x̄_j − x̄| (needs < 1/4)
    theta_star_j: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))  # (2.51), full angles
    theta_star: float = 0.0  # (4.24)
    theta_Q: float = 0.0  # (4.27)
    lam: float = 1.0  # (4.29)
    W_star: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 0)))  # (4.28)
    D: float = 0.0  # (4.26)
    I0: tuple[float, float] = (0.0, 0.0)  # (2.78)
    I1: tuple[float, float] = (0.0, math.inf)  # (2.79)
    assumption: str = ""  # why (2.12), (2.14), (2.52) or D > 2δ|u_Q| fails ("" if they hold)


def rotation_to_diagonal(f: np.ndarray) -> np.ndarray:
    r""":math:`R\in SO(Q)` with :math:`Rf=u_Q/|u_Q|` for a unit vector ``f``:

    the rotation in the plane of ``f`` and :math:`b=u_Q/|u_Q|`, computed stably as a product of two Householder
    reflections whose normals lie in that plane (a half turn in a plane containing :math:`b` when :math:`f=-b`).
    """
    f = np.asarray(f, float)
    f = f / np.linalg.norm(f)
    q = f.size
    b = np.full(q, 1.0 / math.sqrt(q))
    c = float(f @ b)
    eye = np.eye(q)
    if c > 0:  # reflect f to −b, then −b to b
        v = (f + b) / np.linalg.norm(f + b)
        return (eye - 2 * np.outer(b, b)) @ (eye - 2 * np.outer(v, v))
    v = (f - b) / np.linalg.norm(f - b)  # reflect f to b, then a reflection fixing b with normal in the plane
    w = f - c * b
    w -= (w @ b) * b
    if np.linalg.norm(w) < 1e-12:
        w = np.zeros(q)
        w[0], w[1] = 1.0, -1.0
    w /= np.linalg.norm(w)
    return (eye - 2 * np.outer(w, w)) @ (eye - 2 * np.outer(v, v))


def _cone_half_angle(apex: np.ndarray, axis: np.ndarray, centres: np.ndarray, r: float) -> float:
    """Smallest half-angle of the cone apex + C[axis] containing the balls B_r(centre).

    Smallest half-angle of the cone apex + C[axis] containing the balls B_r(centre) (inf if a ball holds the
    apex).
    """
    d = centres - apex[:, None]
    dist = np.linalg.norm(d, axis=0)
    if (dist <= r).any():
        return math.inf
    ang = np.arccos(np.clip(axis @ d / dist, -1.0, 1.0))
    return float((ang + np.arcsin(r / dist)).max())


def paper_geometry(X: np.ndarray, labels: np.ndarray, *, theta0: float = THETA0, mu_grid: int = 2000) -> PaperGeometry:
    """The quantities of CE23 (2.5)–(2.14), (2.49)–(2.52), (4.24)–(4.29) and the intervals (2.78)–(2.79)."""
    X, labels, _, counts = _check_data(X, labels, None)
    q = X.shape[0]
    means = np.stack([X[:, labels == j].mean(axis=1) for j in range(q)], axis=1)
    xbar = means.mean(axis=1)
    dev = X - means[:, labels]
    delta = float(np.linalg.norm(dev, axis=0).max())
    dist = np.linalg.norm(means - xbar[:, None], axis=0)
    why = []
    if (dist <= 0).any():
        why.append("a class mean equals the overall mean (f_j undefined)")
    f = -(means - xbar[:, None]) / np.where(dist > 0, dist, 1.0)
    per_class = np.array([np.linalg.norm(dev[:, labels == j], axis=0).max() for j in range(q)])
    if (per_class <= 0).any():
        why.append(f"classes {np.flatnonzero(per_class <= 0).tolist()} have no spread (ΔX_j = 0, excluded by (2.12))")
    c0 = delta / float(dist.min()) if dist.min() > 0 else math.inf
    if not c0 < 0.25:
        why.append(f"δ = {delta:.3g} is not below min|x̄_j − x̄|/4 (c0 = {c0:.3g}, (2.14) needs c0 < 1/4)")
    th_j = np.array(
        [2 * _cone_half_angle(means[:, j], f[:, j], np.delete(means, j, axis=1), 4 * delta) for j in range(q)]
    )
    if not th_j.max() < math.pi:
        why.append(f"the cone condition (2.52) fails: max θ*,j = {math.degrees(th_j.max()):.1f}° ≥ 180°")
    th_star = float(theta0 + th_j.max())
    th_Q = 2 * math.acos(math.sqrt((q - 1) / q))
    lam = math.tan(th_Q / 2) / math.tan(th_star / 2) if th_star > th_Q and th_star < math.pi else 1.0
    if th_star >= math.pi:
        lam = 0.0
    u = np.ones(q) / math.sqrt(q)
    W_star = np.outer(u, u) + lam * (np.eye(q) - np.outer(u, u))
    lo = 2 * delta * math.sqrt(q)
    # D of (4.26): the largest |µ| such that for every j the cone −µ f_j + C_θ*[f_j] (apex x̄_j − µ f_j) contains the
    # δ-balls about the other means, for all µ in (−D, −2δ|u_Q|); found on a fine grid and refined by bisection
    D = lo
    if th_star < math.pi:
        span = float(np.linalg.norm(means - xbar[:, None], axis=0).max()) * 4 + lo

        def ok(m):
            return all(
                _cone_half_angle(means[:, j] + m * f[:, j], f[:, j], np.delete(means, j, axis=1), delta) <= th_star / 2
                for j in range(q)
            )

        grid = np.linspace(lo, span, mu_grid)
        good = np.array([ok(m) for m in grid])
        if good[0]:
            k = int(np.argmin(good)) if not good.all() else len(grid) - 1
            a, b = grid[max(k - 1, 0)], grid[k]
            for _ in range(60):
                mid = 0.5 * (a + b)
                a, b = (mid, b) if ok(mid) else (a, mid)
            D = a
    if not D > lo:
        why.append(f"the interval I0 = (−D, −2δ|u_Q|) is empty (D = {D:.3g} ≤ 2δ|u_Q| = {lo:.3g})")
    return PaperGeometry(
        status=Status.OK if not why else Status.INFEASIBLE,
        means=means,
        overall_mean=xbar,
        f=f,
        counts=counts,
        delta=delta,
        c0=c0,
        theta_star_j=th_j,
        theta_star=th_star,
        theta_Q=th_Q,
        lam=lam,
        W_star=W_star,
        D=float(D),
        I0=(-float(D), -lo),
        I1=(lo, math.inf),
        assumption="; ".join(why),
    )


@dataclasses.dataclass
class PaperConstruction:
    """A network of CE23 Thms 2.3–2.5: cumulative and layerwise parameters, µ, s, the intervals and the certificates."""

    Wc: list[np.ndarray]
    bc: list[np.ndarray]
    Ws: list[np.ndarray]
    bs: list[np.ndarray]
    mu: np.ndarray  # µ_j of class j
    s: np.ndarray  # s_j = 0 (µ_j ∈ I0, collapse) or 1 (µ_j ∈ I1, identity)
    order: list[int]  # layer ℓ serves class order[ℓ]
    exact_intervals: list[tuple[float, float, float]]  # per layer: (collapse lo, collapse hi, identity lo), exact
    sign_margins: list[float]  # per layer: distance of µ_ℓ/√Q from the nearest failing sign (> 0 certifies)
    truncated: np.ndarray  # τ(X0): the data after the Q truncations (input space)
    truncated_means: np.ndarray  # (τ X0)^red: columns = truncated class means
    cond_truncated_means: float  # Thm 2.3 assumes τ rank preserving: this must be finite
    output: str  # "apex" (W = Y (X^red[µ])⁻¹, b = 0, Thm 2.3) or "ls" (weighted affine least squares)
    geometry: PaperGeometry

    @property
    def layers(self) -> int:
        """The number of hidden layers L."""
        return len(self.Ws) - 1

    @property
    def certified(self) -> bool:
        """Whether every layer's sign conditions hold strictly and the truncation is rank preserving.

        Every layer's sign conditions hold strictly (collapse for s = 0, identity on the data for s = 1) and the
        truncation is rank preserving (the truncated class means are linearly independent).
        """
        return all(m > 0 for m in self.sign_margins) and self.cond_truncated_means < 1e12


def mu_inside(geo: PaperGeometry, s: Sequence[int], *, where: float = 0.5) -> np.ndarray:
    """A µ inside the paper's box ∏ I_{s_j}:

    the point at fraction ``where`` ∈ (0, 1) of I0 (log-scale) or at (1 + where)·2δ|u_Q|·2 inside I1.
    """
    lo0, hi0 = geo.I0
    lo1 = geo.I1[0]
    out = []
    for sj in s:
        if int(sj) == 0:
            out.append(-math.exp(math.log(-hi0) + where * (math.log(-lo0) - math.log(-hi0))))
        else:
            out.append(lo1 * (1.5 + 2.0 * where))
    return np.asarray(out, float)


def _weighted_affine_ls(Z: np.ndarray, T: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(A, c) minimising Σ_k w_k |A z_k + c − t_k|² (weights w > 0)."""
    sw = np.sqrt(w)
    M = np.vstack([Z, np.ones((1, Z.shape[1]))]).T * sw[:, None]
    sol, *_ = np.linalg.lstsq(M, (T * sw[None, :]).T, rcond=None)
    return sol[:-1].T, sol[-1]


def paper_construction(
    X: np.ndarray,
    labels: np.ndarray,
    mu: Sequence[float],
    *,
    Y=None,
    order: Sequence[int] | None = None,
    output: str = "auto",
    layers: int | None = None,
    geometry: PaperGeometry | None = None,
    theta0: float = THETA0,
) -> PaperConstruction:
    r"""Build the CE23 network for the given :math:`\mu` (one value per class):

    cumulative weights :math:`W_*R_\ell`, biases :math:`-W_*R_\ell\bar x_\ell+\mu_\ell R_\ell f_\ell`, then the output
    layer — ``"apex"`` (:math:`Y(X_0^{red}[\mu])^{-1}`, :math:`b=0`; Thm 2.3, needs every class collapsed), ``"ls"``
    (the weighted affine least-squares output that attains the reduced cost), ``"auto"`` (apex when every
    :math:`\mu_j<0` collapses its class, else ls). ``layers`` > Q adds pass-through layers (:math:`W_\ell=I`,
    :math:`b_\ell=\beta 1` keeping everything positive). ``s_j`` is read off the exact sign conditions (collapse → 0,
    identity → 1); ``sign_margins`` certify them (> 0).
    """
    X, labels, Y, counts = _check_data(X, labels, Y)
    q, n = X.shape
    geo = geometry if geometry is not None else paper_geometry(X, labels, theta0=theta0)
    mu = np.asarray(mu, float).reshape(-1)
    if mu.shape != (q,) or not np.isfinite(mu).all():
        raise InputError("mu", f"need {q} finite values (one per class), got {mu.tolist()}")
    order = list(range(q)) if order is None else [int(v) for v in order]
    if sorted(order) != list(range(q)):
        raise InputError("order", f"{order} is not a permutation of 0..{q - 1}")
    L = q if layers is None else int(layers)
    if L < q:
        raise InputError("layers", f"L = {L} < Q = {q}: the paper's construction uses one layer per class", f"use {q}")
    if output not in ("auto", "apex", "ls"):
        raise InputError("output", f"unknown output {output!r}", "use auto, apex or ls")
    sq = math.sqrt(q)
    Z = X.copy()
    Wc, bc, ints, margins = [], [], [], []
    s = np.ones(q, int)
    for c in order:
        R = rotation_to_diagonal(geo.f[:, c])
        W = geo.W_star @ R
        a = W @ (Z - geo.means[:, [c]])  # pre-activation minus µ u/|u|, every point
        own = labels == c
        # exact intervals for µ_c: collapse (−√Q min_{others} a, −√Q max_{own} a), identity (−√Q min_all a, ∞)
        c_lo = -sq * float(a[:, ~own].min()) if (~own).any() else -math.inf
        c_hi = -sq * float(a[:, own].max())
        i_lo = -sq * float(a.min())
        ints.append((c_lo, c_hi, i_lo))
        m = float(mu[c])
        if m < 0:
            s[c] = 0
            margins.append(min(m - c_lo, c_hi - m) / sq)
        else:
            margins.append((m - i_lo) / sq)
        b = -W @ geo.means[:, c] + m * (R @ geo.f[:, c])
        Wc.append(W)
        bc.append(b)
        Z = np.linalg.solve(W, np.maximum(W @ Z + b[:, None], 0.0) - b[:, None])
    while len(Wc) < L:  # pass-through layers: W_ℓ = I, b_ℓ = β1 with β keeping every pre-activation ≥ 1
        H = Wc[-1] @ Z + bc[-1][:, None]
        Wc.append(Wc[-1].copy())
        bc.append(bc[-1] + max(0.0, 1.0 - float(H.min())))
    Tm = np.stack([Z[:, labels == j].mean(axis=1) for j in range(q)], axis=1)
    out = output
    if out == "auto":
        out = "apex" if (s == 0).all() else "ls"
    cond = float(np.linalg.cond(Tm))
    if out == "apex":
        if not (s == 0).all():
            raise InputError(
                "output", "the apex output (Thm 2.3) needs every class collapsed (every µ_j in I0)", "use ls"
            )
        if not cond < 1e12:
            raise InputError(
                "mu",
                f"the truncated class means are linearly dependent at this µ (cond {cond:.3g}): τ is not "
                "rank preserving, which Thm 2.3 assumes",
                "choose another µ inside I0",
            )
        Wo, bo = np.linalg.solve(Tm.T, Y.T).T, np.zeros(q)
    else:
        Wo, bo = _weighted_affine_ls(Z, Y[:, labels], 1.0 / counts[labels])
    Wc.append(Wo)
    bc.append(bo)
    Ws, bs = layerwise_parameters(Wc, bc)
    return PaperConstruction(
        Wc=Wc,
        bc=bc,
        Ws=Ws,
        bs=bs,
        mu=mu,
        s=s,
        order=order,
        exact_intervals=ints,
        sign_margins=margins,
        truncated=Z,
        truncated_means=Tm,
        cond_truncated_means=cond,
        output=out,
        geometry=geo,
    )


def truncate_inputs(con: PaperConstruction, X: np.ndarray) -> np.ndarray:
    r""":math:`\tau_{W^{(L)},b^{(L)}}(x)`: new inputs (columns) through the Q truncations of the construction."""
    Z = np.asarray(X, float)
    for W, b in zip(con.Wc[:-1], con.bc[:-1]):
        Z = np.linalg.solve(W, np.maximum(W @ Z + b[:, None], 0.0) - b[:, None])
    return Z


def paper_cost(out: np.ndarray, labels: np.ndarray, Y: np.ndarray) -> float:
    r"""CE23 (2.36): :math:`C_N=(\sum_j N_j^{-1}\sum_i|x^{(L+1)}_{j,i}-y_j|^2)^{1/2}`."""
    counts = np.bincount(labels, minlength=Y.shape[1])
    r = ((out - Y[:, labels]) ** 2).sum(axis=0)
    return float(math.sqrt(float((r / counts[labels]).sum())))


@dataclasses.dataclass
class ReducedCost(Result):
    """The reduced cost at one µ:

    the paper's C_N minimised over the output layer, the same with b^(L+1) = 0, our 1/N cost of the same network, and
    whether the construction's sign conditions hold.
    """

    kind = "chen_ewald_reduced_cost"

    paper: float = float("nan")
    paper_linear_output: float = float("nan")
    ours: float = float("nan")
    certified: bool = False


def reduced_cost(X, labels, mu, *, Y=None, order=None, geometry: PaperGeometry | None = None) -> ReducedCost:
    r"""The reduced cost at μ (weighted affine least squares), the same with a linear output, and our 1/N cost.

    The reduced cost :math:`\min_{W_{L+1},b_{L+1}}C_N` at :math:`\mu` (weighted affine least squares, measured by a
    plain layerwise forward pass), the same with a linear output (:math:`b^{(L+1)}=0` in cumulative form) and
    our :math:`1/N` cost of the same network.
    """
    X, labels, Y, counts = _check_data(X, labels, Y)
    con = paper_construction(X, labels, mu, Y=Y, order=order, output="ls", geometry=geometry)
    out = forward(con.Ws, con.bs, X)
    Z, T, w = con.truncated, Y[:, labels], 1.0 / counts[labels]
    A, *_ = np.linalg.lstsq((Z * np.sqrt(w)).T, (T * np.sqrt(w)).T, rcond=None)
    lin = float(math.sqrt(float((((A.T @ Z - T) ** 2).sum(0) * w).sum())))
    return ReducedCost(
        paper=paper_cost(out, labels, Y),
        paper_linear_output=lin,
        ours=float(((out - T) ** 2).sum()) / X.shape[1],
        certified=bool(con.certified),
    )


def closed_form_cost(X, labels, s: Sequence[int], *, Y=None, truncated_means: np.ndarray | None = None) -> float:
    r"""CE23 (2.85):

    :math:`\|Y|\Delta_2[s]|^{1/2}(1+\Delta_2[s])^{-1/2}\|_{HS}` with (2.80)–(2.83),
    :math:`\Delta_1[s]=(X_0^{red})^{-1}\Delta X_0[s]` (untruncated means, as printed); pass ``truncated_means`` to use
    :math:`((\tau X_0)^{red})^{-1}` instead (the form (2.55) of Thm 2.3).
    """
    X, labels, Y, counts = _check_data(X, labels, Y)
    q = X.shape[0]
    means = np.stack([X[:, labels == j].mean(axis=1) for j in range(q)], axis=1)
    dX = X - means[:, labels]
    keep = np.asarray(s, int)[labels] == 1
    dX = np.where(keep[None, :], dX, 0.0)
    Xr = means if truncated_means is None else np.asarray(truncated_means, float)
    D1 = np.linalg.solve(Xr, dX)
    D2 = (D1 / counts[labels][None, :]) @ D1.T
    ev, V = np.linalg.eigh((D2 + D2.T) / 2)
    ev = np.clip(ev, 0.0, None)
    M = Y @ V @ np.diag(np.sqrt(ev / (1.0 + ev))) @ V.T
    return float(np.linalg.norm(M))


def paper_local_minimality(
    con: PaperConstruction,
    X,
    labels,
    *,
    Y=None,
    seed=0,
    perturbations: int = 100,
    radius: float = 1e-3,
    hessian_always: bool = True,
) -> LocalMinResult:
    """Local-minimality verdict of the constructed network in the full parameter space, for the paper's cost.

    Local-minimality verdict of the constructed network in the full parameter space, for the paper's cost (2.36)
    squared (same minimisers; the root is not differentiable at 0).
    """
    X, labels, Y, counts = _check_data(X, labels, Y)
    return local_minimality(
        con,
        X,
        labels,
        Y=Y,
        seed=seed,
        perturbations=perturbations,
        radius=radius,
        weights=1.0 / counts[labels],
        hessian_always=hessian_always,
    )


@dataclasses.dataclass
class InputClassification(Result):
    """Classes of new inputs by the network and by the metric d of (2.62), both distance tables (Q × M), τ(x)."""

    kind = "chen_ewald_classification"

    network: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, int))
    metric: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, int))
    d_network: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 0)))
    d_metric: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 0)))
    truncated: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 0)))


def classify_inputs(con: PaperConstruction, X_new: np.ndarray, *, Y=None) -> InputClassification:
    r"""CE23 (2.61)–(2.62): how the constructed network classifies new inputs.

    Returns the class chosen by the network (:math:`\arg\min_j|x^{(L+1)}(x)-y_j|`, plain layerwise forward pass), the
    class of the nearest truncated class mean :math:`\bar x_j[\mu_j]` to :math:`\tau(x)` in the metric
    :math:`d(x,x')=|Y(X_0^{red}[\mu])^{-1}(x-x')|` (2.62), both distance tables and :math:`\tau(x)`.
    """
    X_new = np.asarray(X_new, float)
    q = X_new.shape[0]
    Y = np.eye(q) if Y is None else np.asarray(Y, float)
    out = forward(con.Ws, con.bs, X_new)
    d_net = np.linalg.norm(out[:, None, :] - Y[:, :, None], axis=0)  # (Q, M)
    Z = truncate_inputs(con, X_new)
    Minv = np.linalg.inv(con.truncated_means)
    d_metric = np.linalg.norm(Y @ Minv @ (Z[:, None, :] - con.truncated_means[:, :, None]).reshape(q, -1), axis=0)
    d_metric = d_metric.reshape(q, -1)
    return InputClassification(
        network=d_net.argmin(axis=0), metric=d_metric.argmin(axis=0), d_network=d_net, d_metric=d_metric, truncated=Z
    )


def all_s(q: int) -> list[tuple[int, ...]]:
    """Every s ∈ {0, 1}^Q (the configurations of Thm 2.5)."""
    return list(itertools.product((0, 1), repeat=q))


@dataclasses.dataclass
class ConfigurationAnalysis:
    """One s ∈ {0,1}^Q of Thm 2.5: the µ-scan of the reduced cost inside ∏ I_{s_j} and the full-space verdict."""

    s: list[int]
    mu: list[float]
    certified: bool  # every sign condition of the construction holds at every scanned µ
    reduced_cost: float  # C_N at µ (min over the output layer)
    scan_min: float
    scan_max: float
    scan_relative_spread: float  # (max − min) / max over the scanned µ
    scan_points: int
    single_coordinate_scan: list[list[float]]  # [µ_j, C_N] along the first collapsed coordinate (empty if none)
    closed_form_printed: float  # (2.85) with (X0^red)^{-1}: the paper's formula
    closed_form_truncated_means: float  # (2.85) with ((τX0)^red)^{-1} at µ
    linear_output_cost: float  # the min over W_{L+1} with b^(L+1) = 0 (what (2.85) evaluates)
    verdict: str
    reason: str
    gradient_norm: float
    hessian_min_eig: float | None
    hessian_negative: int | None
    hessian_zero: int | None


@dataclasses.dataclass
class ZeroCostFamily(Result):
    """Thm 2.3 measured:

    the cost over random µ in the paper's box I0^Q (and its far corner), the Jacobian rank at the box's centre (rank <
    K: degenerate) and the full-space verdict there.
    """

    kind = "chen_ewald_zero_cost_family"

    samples: int = 0
    max_cost: float = float("nan")  # ours (1/N)
    fraction_zero: float = float("nan")  # fraction of samples with cost <= ZERO_COST·(1 + |Y|²)
    fraction_certified: float = float("nan")  # fraction whose sign conditions all hold
    worst_mu: list[float] = dataclasses.field(default_factory=list)
    jacobian_rank: int = 0
    n_parameters: int = 0
    verdict_at_centre: str = ""


def zero_cost_family(
    X, labels, *, Y=None, geometry: PaperGeometry | None = None, samples: int = 20, seed=0, perturbations: int = 20
) -> ZeroCostFamily:
    """Thm 2.3 on the paper's construction (see :class:`ZeroCostFamily`)."""
    from .chen2023ewald import jacobian_rank, output_jacobian

    X, labels, Y, _ = _check_data(X, labels, Y)
    q, n = X.shape
    geo = geometry if geometry is not None else paper_geometry(X, labels)
    rng = np.random.default_rng(seed)
    zero = ZERO_COST * (1.0 + float((Y**2).sum()))
    costs, certs, mus = [], [], []
    for k in range(int(samples)):  # random µ in the paper's box I0^Q, the last one at its far corner (µ_j near −D)
        w = rng.uniform(0.02, 0.98, q) if k < samples - 1 else np.full(q, 0.98)
        m = np.array([mu_inside(geo, [0], where=float(wj))[0] for wj in w])
        con = paper_construction(X, labels, m, Y=Y, geometry=geo, output="ls")
        costs.append(float(((forward(con.Ws, con.bs, X) - Y[:, labels]) ** 2).sum()) / n)
        certs.append(con.certified)
        mus.append(m.tolist())
    k = int(np.argmax(costs))
    con = paper_construction(X, labels, mu_inside(geo, [0] * q), Y=Y, geometry=geo)
    sub = np.concatenate([np.flatnonzero(labels == c)[:3] for c in range(q)])
    lm = paper_local_minimality(con, X, labels, Y=Y, seed=seed, perturbations=perturbations)
    return ZeroCostFamily(
        seed=int(seed),
        samples=int(samples),
        max_cost=float(costs[k]),
        fraction_zero=float(np.mean(np.asarray(costs) <= zero)),
        fraction_certified=float(np.mean(certs)),
        worst_mu=mus[k],
        jacobian_rank=jacobian_rank(output_jacobian(con, X[:, sub]))[0],
        n_parameters=(q + 1) * (q * q + q),
        verdict_at_centre=lm.verdict,
    )


@dataclasses.dataclass
class PaperTheoremsResult(Result):
    """CE23 Thms 2.3–2.5 measured on one data set: geometry, one row per s, and the out-of-sample checks."""

    kind = "chen_ewald_paper"

    q: int = 0
    n_parameters: int = 0
    geometry: dict = dataclasses.field(default_factory=dict)
    configurations: list[ConfigurationAnalysis] = dataclasses.field(default_factory=list)
    zero_cost: ZeroCostFamily | None = None
    out_of_sample: OutOfSample | None = None


def _scan_points(geo: PaperGeometry, s, k: int, rng) -> list[np.ndarray]:
    pts = [mu_inside(geo, s, where=w) for w in np.linspace(0.05, 0.95, k)]
    pts += [np.array([mu_inside(geo, [sj], where=float(rng.uniform(0.02, 0.98)))[0] for sj in s]) for _ in range(k)]
    return pts


def analyse_configuration(
    X,
    labels,
    s: Sequence[int],
    *,
    Y=None,
    geometry: PaperGeometry | None = None,
    scan: int = 5,
    seed=0,
    perturbations: int = 50,
) -> ConfigurationAnalysis:
    """Thm 2.5 for one s:

    the reduced cost at 2·``scan`` µ inside ∏ I_{s_j} (a diagonal sweep and random points), a sweep of the first
    collapsed coordinate across I0, the closed forms, and the full-space local-minimality verdict at the box's centre
    (paper's cost (2.36) squared; gradient, Hessian, perturbations).
    """
    X, labels, Y, _ = _check_data(X, labels, Y)
    geo = geometry if geometry is not None else paper_geometry(X, labels)
    rng = np.random.default_rng(seed)
    s = [int(v) for v in s]
    mu = mu_inside(geo, s)
    con = paper_construction(X, labels, mu, Y=Y, output="ls", geometry=geo)
    r0 = reduced_cost(X, labels, mu, Y=Y, geometry=geo)
    vals, cert = [], con.certified
    for m in _scan_points(geo, s, scan, rng):
        r = reduced_cost(X, labels, m, Y=Y, geometry=geo)
        vals.append(r.paper)
        cert &= r.certified
    sweep = []
    if 0 in s:
        j = s.index(0)
        for w in np.linspace(0.02, 0.98, 9):
            m = mu.copy()
            m[j] = mu_inside(geo, [0], where=float(w))[0]
            sweep.append([float(m[j]), reduced_cost(X, labels, m, Y=Y, geometry=geo).paper])
    lm = paper_local_minimality(con, X, labels, Y=Y, seed=seed, perturbations=perturbations)
    vmax = max(vals)
    return ConfigurationAnalysis(
        s=s,
        mu=mu.tolist(),
        certified=bool(cert),
        reduced_cost=r0.paper,
        scan_min=min(vals),
        scan_max=vmax,
        scan_relative_spread=(vmax - min(vals)) / vmax if vmax > 1e-12 else 0.0,
        scan_points=len(vals),
        single_coordinate_scan=sweep,
        closed_form_printed=closed_form_cost(X, labels, s, Y=Y),
        closed_form_truncated_means=closed_form_cost(X, labels, s, Y=Y, truncated_means=con.truncated_means),
        linear_output_cost=r0.paper_linear_output,
        verdict=lm.verdict,
        reason=lm.reason,
        gradient_norm=lm.gradient_norm,
        hessian_min_eig=lm.hessian_min_eig,
        hessian_negative=lm.hessian_negative,
        hessian_zero=lm.hessian_zero,
    )


@dataclasses.dataclass
class OutOfSample(Result):
    """(2.61)–(2.68) on fresh inputs (see :func:`out_of_sample`)."""

    kind = "chen_ewald_out_of_sample"

    ball_to_point_max_error: float = float("nan")
    ball_correct_fraction: float = float("nan")
    network_equals_metric_fraction: float = float("nan")
    distance_tables_max_difference: float = float("nan")
    fresh_inputs: int = 0
    fresh_ball_points: int = 0
    certified: bool = False


def out_of_sample(
    X, labels, *, Y=None, geometry: PaperGeometry | None = None, samples: int = 200, seed=0, spread: float = 0.6
) -> OutOfSample:
    r"""CE23 (2.61)–(2.68) on fresh inputs, for the zero-cost network (µ at the centre of :math:`I_0^Q`):

    * (2.68): fresh points drawn in each open ball :math:`B_\delta(\bar x_j)` map to the one point
      :math:`\bar x_j-\mu_jf_j` (max error) and are classified as class j (fraction);
    * (2.61): on fresh inputs anywhere (Gaussian about :math:`\bar x`, scale ``spread``) the network's class
      :math:`\arg\min_j|x^{(L+1)}-y_j|` equals the nearest truncated mean in the metric d (fraction, and the
      largest difference between the two distance tables).
    """
    X, labels, Y, _ = _check_data(X, labels, Y)
    q = X.shape[0]
    geo = geometry if geometry is not None else paper_geometry(X, labels)
    mu = mu_inside(geo, [0] * q)
    con = paper_construction(X, labels, mu, Y=Y, output="apex", geometry=geo)
    rng = np.random.default_rng(seed)
    pts, lab = [], []
    for j in range(q):
        d = rng.standard_normal((q, samples))
        d *= (0.999 * geo.delta * rng.random(samples) ** (1.0 / q)) / np.linalg.norm(d, axis=0)
        pts.append(geo.means[:, [j]] + d)
        lab += [j] * samples
    P, lab = np.hstack(pts), np.asarray(lab)
    Z = truncate_inputs(con, P)
    target = geo.means - mu[None, :] * geo.f
    c_ball = classify_inputs(con, P, Y=Y)
    G = geo.overall_mean[:, None] + spread * rng.standard_normal((q, q * samples))
    c = classify_inputs(con, G, Y=Y)
    return OutOfSample(
        seed=int(seed),
        ball_to_point_max_error=float(np.abs(Z - target[:, lab]).max()),
        ball_correct_fraction=float((c_ball.network == lab).mean()),
        network_equals_metric_fraction=float((c.network == c.metric).mean()),
        distance_tables_max_difference=float(np.abs(c.d_network - c.d_metric).max()),
        fresh_inputs=int(G.shape[1]),
        fresh_ball_points=int(P.shape[1]),
        certified=bool(con.certified),
    )


def paper_theorems(
    X, labels, *, Y=None, seed=0, scan: int = 5, box_samples: int = 20, perturbations: int = 50, samples: int = 200
) -> PaperTheoremsResult:
    """Measure CE23 Thms 2.3–2.5 and (2.61)–(2.68) on the data (L = Q):

    geometry and intervals, the zero cost over random µ in I0^Q with the Jacobian rank (degeneracy), every s ∈ {0,1}^Q
    (:func:`analyse_configuration`), and the out-of-sample checks (:func:`out_of_sample`).
    """
    import time

    t0 = time.perf_counter()
    X, labels, Y, _ = _check_data(X, labels, Y)
    q, n = X.shape
    geo = paper_geometry(X, labels)
    res = PaperTheoremsResult(
        seed=int(seed),
        q=q,
        n_parameters=(q + 1) * (q * q + q),
        geometry={
            k: v
            for k, v in geo.to_dict().items()
            if k in ("delta", "c0", "theta_star", "theta_Q", "lam", "D", "I0", "I1", "assumption")
        },
    )
    if geo.status is not Status.OK:
        res.status = Status.INFEASIBLE
        res.seconds = time.perf_counter() - t0
        return res
    fam = zero_cost_family(X, labels, Y=Y, geometry=geo, samples=box_samples, seed=seed, perturbations=perturbations)
    res.zero_cost = fam
    res.configurations = [
        analyse_configuration(X, labels, s, Y=Y, geometry=geo, scan=scan, seed=seed, perturbations=perturbations)
        for s in all_s(q)
    ]
    res.out_of_sample = out_of_sample(X, labels, Y=Y, geometry=geo, samples=samples, seed=seed)
    res.seconds = time.perf_counter() - t0
    return res
