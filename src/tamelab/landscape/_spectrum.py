r"""Spectra of curvature operators: Lanczos eigenpairs, trace estimators, spectral density.

* :func:`top_eigenpairs` (:mod:`tamelab.landscape._eigen`) — certified extreme eigenpairs: residual
  certificates for "these are eigenpairs" and a deflated restart check for "these are the k extreme ones".
* :func:`lanczos` — plain Lanczos with **full re-orthogonalisation** (spurious copies of converged
  eigenvalues never appear), used by the spectral density.
* :func:`hutchinson`, :func:`hutchpp` (Meyer, Musco, Musco & Woodruff, arXiv:2010.09649) and
  :func:`xtrace` (Epperly, Tropp & Webber, arXiv:2301.07825) trace estimators with standard errors;
  :func:`diagonal` (Bekas et al.) estimate; :func:`~tamelab.landscape.hessian_trace` chooses the exact
  or the stochastic trace for a model.
* :func:`slq_density` — stochastic Lanczos quadrature (Ghorbani, Krishnan & Xiao,
  arXiv:1901.10159): nodes :math:`\theta_k`, weights :math:`\tau_k=Y_{1k}^2` (summing to 1), smoothed by a
  Gaussian of *variance* :math:`10^{-5}\max(1,\lambda_{\max}-\lambda_{\min})` on 10 000 points.

Every function takes an operator (a :class:`~tamelab.landscape.CurvatureOperator`, anything with
``matvec``/``matmat``, or a dense tensor) or a model with ``data=`` and ``loss=`` (and ``device=``,
``dtype=``, ``kind=``), from which it builds the operator (:func:`as_operator`). Probes are drawn on the
CPU from the seed and moved to the operator's device, so results do not depend on the device's RNG.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import torch
from torch import nn

from .._numerics import LANCZOS_BREAKDOWN_RTOL
from .._rng import resolve_seed
from ..errors import InputError
from ..result import Result, Status
from ._eigen import EigResult, _op_dtype_device, products
from ._eigen import top_eigenpairs as _top_eigenpairs

__all__ = [
    "DensityResult",
    "EigResult",
    "TraceResult",
    "as_operator",
    "diagonal",
    "hutchinson",
    "hutchpp",
    "lanczos",
    "slq_density",
    "top_eigenpairs",
    "xtrace",
]

#: probes multiplied per batched call (bounded memory: ``PROBE_BLOCK × n`` entries at a time).
PROBE_BLOCK = 16


def as_operator(op, data=None, loss=None, *, kind: str = "hessian", device=None, dtype=None, **kw):
    """``op`` itself, or the curvature operator of ``op`` when it is a model.

    ``op`` itself, or ``CurvatureOperator(op, loss, data, kind=, device=, dtype=, **kw)`` when ``op`` is a
    model (then ``data`` is required; ``loss`` defaults to cross-entropy).
    """
    if isinstance(op, nn.Module):
        from ._operators import CurvatureOperator

        if data is None:
            raise InputError(
                "data",
                "is required when a model is passed instead of an operator",
                "pass data=(X, y), a Dataset or a DataLoader",
            )
        return CurvatureOperator(
            op, loss if loss is not None else "cross_entropy", data, kind=kind, device=device, dtype=dtype, **kw
        )
    if data is not None or loss is not None:
        raise InputError(
            "data",
            "given with an operator (the operator already holds its data and loss)",
            "pass a model to build the operator from data and loss",
        )
    if not hasattr(op, "shape") or len(op.shape) != 2 or op.shape[0] != op.shape[1]:
        raise InputError("op", f"expected a square operator, a dense tensor or an nn.Module, got {type(op).__name__}")
    return op


def top_eigenpairs(
    op, k: int = 5, *, data=None, loss=None, kind: str = "hessian", device=None, dtype=None, **kwargs
) -> EigResult:
    """Top eigenpairs of ``op`` or of the curvature of a model.

    :func:`tamelab.landscape._eigen.top_eigenpairs` on ``op`` or on the curvature of a model
    (``top_eigenpairs(model, 5, data=(X, y), loss="cross_entropy", dtype="float64")``).
    """
    return _top_eigenpairs(as_operator(op, data, loss, kind=kind, device=device, dtype=dtype), k, **kwargs)


top_eigenpairs.__doc__ = (top_eigenpairs.__doc__ or "") + "\n" + (_top_eigenpairs.__doc__ or "")


def _rows(op, Z: torch.Tensor) -> torch.Tensor:
    """Products of the columns of ``Z`` (n × m) as rows (m × n), PROBE_BLOCK at a time."""
    return torch.cat(
        [products(op, Z[:, i : i + PROBE_BLOCK].T.contiguous()) for i in range(0, Z.shape[1], PROBE_BLOCK)]
    )


def _tridiag_eigh(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenpairs of the Lanczos tridiagonal (LAPACK stemr via SciPy).

    Eigenpairs of the Lanczos tridiagonal (LAPACK stemr via SciPy: ~0.2 ms at m=56, where a dense
    ``numpy.linalg.eigh`` took 16-48 ms on a busy 2-core machine through OpenBLAS threads).
    """
    from scipy.linalg import eigh_tridiagonal

    if len(a) == 1:
        return np.asarray(a, dtype=float), np.ones((1, 1))
    return eigh_tridiagonal(np.asarray(a, dtype=float), np.asarray(b, dtype=float))


def _grow(buf: torch.Tensor, rows: int) -> torch.Tensor:
    """Row-major basis storage (one contiguous row per vector), doubled when full."""
    if buf.shape[0] >= rows:
        return buf
    out = torch.zeros(max(rows, 2 * buf.shape[0]), buf.shape[1], dtype=buf.dtype, device=buf.device)
    out[: buf.shape[0]] = buf
    return out


def lanczos(op, m: int, v0: torch.Tensor, state: dict | None = None, *, keep_products: bool = False):
    r"""``m`` Lanczos steps with full re-orthogonalisation; returns ``(alpha, beta, V, state)``.

    Pass the returned ``state`` back with a larger ``m`` to *extend* the same Krylov space
    (no product is recomputed). With ``keep_products`` the raw products :math:`Hv_j` are kept in
    ``state["HV"]`` (one more n×m block), so the true residual :math:`\|H(Vy)-\theta Vy\|=\|(HV)y-\theta Vy\|`
    of any Ritz pair costs no further product (H is linear; only float rounding differs).
    """
    n = v0.numel()
    m = min(m, n)
    if state is None:
        cap = min(n, max(m, 64))
        z = {"dtype": v0.dtype, "device": v0.device}
        state = {
            "Vbuf": torch.zeros(cap, n, **z),
            "alpha": [],
            "beta": [],
            "next": v0 / v0.norm(),
            "gen": torch.Generator().manual_seed(12345),
            "HVbuf": torch.zeros(cap, n, **z) if keep_products else None,
        }
    alpha, beta, v = state["alpha"], state["beta"], state["next"]
    Vb = state["Vbuf"] = _grow(state["Vbuf"], m)
    HVb = state["HVbuf"]
    if HVb is not None:
        HVb = state["HVbuf"] = _grow(HVb, m)
    for j in range(len(alpha), m):
        Vb[j] = v
        Vj = Vb[: j + 1]
        w = products(op, v[None])[0].to(v.dtype)
        if HVb is not None:
            HVb[j] = w
        a = float(w @ v)
        w = w - a * v
        if j > 0:
            w = w - beta[j - 1] * Vb[j - 1]
        for _ in range(2):  # full re-orthogonalisation (twice is enough)
            w = w - Vj.T @ (Vj @ w)
        alpha.append(a)
        b = float(w.norm())
        if b < LANCZOS_BREAKDOWN_RTOL * max(1.0, abs(a)):
            # invariant subspace: continue with a random vector orthogonal to the basis
            r = torch.randn(n, dtype=torch.float64, generator=state["gen"]).to(dtype=v0.dtype, device=v0.device)
            r = r - Vj.T @ (Vj @ r)
            beta.append(0.0)
            v = r / r.norm()
        else:
            beta.append(b)
            v = w / b
    k = len(alpha)
    state.update(next=v, V=Vb[:k].T, HV=HVb[:k].T if HVb is not None else None)
    return np.array(alpha), np.array(beta[: k - 1]), state["V"], state


@dataclasses.dataclass
class TraceResult(Result):
    """A Hessian/GGN trace: ``trace`` ± ``stderr`` (0 when ``exact``), how it was computed and why.

    Attributes:
        method: ``"ggn-diagonal"`` (exact for second-order piecewise-linear models), ``"unit-vectors"``
            (n products with the basis vectors: exact), ``"hutch++"``, ``"hutchinson"``, ``"xtrace"``.
        exact: the value is the trace up to float rounding (no sampling error).
        premise: why the exact GGN-diagonal path does or does not apply (see :func:`hessian_trace`).
        hvps: products used.
    """

    kind = "trace"

    trace: float = float("nan")
    stderr: float = float("nan")
    method: str = ""
    hvps: int = 0
    exact: bool = False
    premise: str = ""
    n: int = 0


def _probes(n, m, dtype, gen, dist="rademacher", device=None):
    if dist == "rademacher":
        Z = (torch.randint(0, 2, (n, m), generator=gen, dtype=torch.int64) * 2 - 1).to(dtype)
    else:
        Z = torch.randn(n, m, dtype=torch.float64, generator=gen).to(dtype)
    return Z.to(device) if device is not None else Z


def _prep(op, data, loss, kind, device, dtype, m, seed, what="m"):
    op = as_operator(op, data, loss, kind=kind, device=device, dtype=dtype)
    if not isinstance(m, (int, np.integer)) or m < 1:
        raise InputError(what, f"must be a positive integer, got {m!r}")
    dt, dev = _op_dtype_device(op)
    return op, resolve_seed(seed), int(op.shape[0]), dt, dev


def hutchinson(
    op,
    m: int = 100,
    *,
    seed=0,
    dist: str = "rademacher",
    data=None,
    loss=None,
    kind: str = "hessian",
    device=None,
    dtype=None,
) -> TraceResult:
    """Girard–Hutchinson: mean of ``v^T H v``; stderr = sample std / sqrt(m)."""
    t0 = time.perf_counter()
    op, s, n, dt, dev = _prep(op, data, loss, kind, device, dtype, m, seed)
    Z = _probes(n, m, dt, torch.Generator().manual_seed(s), dist, dev)
    HZ = _rows(op, Z)
    vals = (Z.T * HZ).sum(1).to(torch.float64).cpu().numpy()
    return TraceResult(
        status=Status.OK,
        seed=s,
        seconds=time.perf_counter() - t0,
        trace=float(vals.mean()),
        stderr=float(vals.std(ddof=1) / math.sqrt(m)) if m > 1 else float("inf"),
        method="hutchinson",
        hvps=m,
        n=n,
    )


def hutchpp(
    op, m: int = 99, *, seed=0, n_boot: int = 10, data=None, loss=None, kind: str = "hessian", device=None, dtype=None
) -> TraceResult:
    """Hutch++ with ``m`` products (m/3 sketch, m/3 projection, m/3 Hutchinson on the deflated rest).

    Standard error: the Hutchinson part's sample std / sqrt(m/3) (the low-rank part is deterministic
    given the sketch).
    """
    t0 = time.perf_counter()
    op, s, n, dt, dev = _prep(op, data, loss, kind, device, dtype, m, seed)
    g = torch.Generator().manual_seed(s)
    k = max(1, m // 3)
    S = _probes(n, k, dt, g, device=dev)
    Y = _rows(op, S).T
    Q, _ = torch.linalg.qr(Y)
    HQ = _rows(op, Q).T
    t_low = float(torch.trace(Q.T @ HQ))
    G = _probes(n, m - 2 * k if m - 2 * k > 0 else k, dt, g, device=dev)
    G = G - Q @ (Q.T @ G)
    vals = (G.T * _rows(op, G)).sum(1).to(torch.float64).cpu().numpy()
    return TraceResult(
        status=Status.OK,
        seed=s,
        seconds=time.perf_counter() - t0,
        trace=t_low + float(vals.mean()),
        stderr=float(vals.std(ddof=1) / math.sqrt(len(vals))) if len(vals) > 1 else float("inf"),
        method="hutch++",
        hvps=2 * k + G.shape[1],
        n=n,
    )


def xtrace(
    op, m: int = 100, *, seed=0, data=None, loss=None, kind: str = "hessian", device=None, dtype=None
) -> TraceResult:
    """XTrace (Epperly, Tropp & Webber, arXiv:2301.07825) with ``m`` products:

    the exchangeable average over i of tr(Q_i^T H Q_i) + ω_i^T P_i H P_i ω_i, where Q_i spans H Ω without column i.
    Every term is computed from Y = HΩ and Z = HQ (2k products, k = m/2); stderr from the k exchangeable estimates.
    """
    t0 = time.perf_counter()
    op, s, n, dt, dev = _prep(op, data, loss, kind, device, dtype, m, seed)
    k = max(2, m // 2)
    Om = _probes(n, k, dt, torch.Generator().manual_seed(s), device=dev)
    Y = _rows(op, Om).T
    Q, R = torch.linalg.qr(Y)
    Z = _rows(op, Q).T
    M = Q.T @ Z
    M = (M + M.T) / 2
    S = torch.linalg.inv(R).T
    U = S / S.norm(dim=0, keepdim=True)
    trM = float(torch.trace(M))
    ests = []
    for i in range(k):
        u, w = U[:, i], Om[:, i]
        c = Q.T @ w
        uc = float(u @ c)
        pw = w - Q @ c + Q @ u * uc
        hpw = Y[:, i] - Z @ c + Z @ u * uc
        ests.append(trM - float(u @ M @ u) + float(pw @ hpw))
    ests = np.array(ests)
    return TraceResult(
        status=Status.OK,
        seed=s,
        seconds=time.perf_counter() - t0,
        trace=float(ests.mean()),
        stderr=float(ests.std(ddof=1) / math.sqrt(k)),
        method="xtrace",
        hvps=2 * k,
        n=n,
    )


def diagonal(
    op, m: int = 100, *, seed=0, data=None, loss=None, kind: str = "hessian", device=None, dtype=None
) -> np.ndarray:
    """Stochastic diagonal estimate ``E[v ⊙ Hv]`` with Rademacher probes (NumPy, on the CPU)."""
    op, s, n, dt, dev = _prep(op, data, loss, kind, device, dtype, m, seed)
    Z = _probes(n, m, dt, torch.Generator().manual_seed(s), device=dev)
    return ((Z.T * _rows(op, Z)).sum(0) / m).cpu().numpy()


@dataclasses.dataclass
class DensityResult(Result):
    kind = "density"

    nodes: list[list[float]] = dataclasses.field(default_factory=list)
    weights: list[list[float]] = dataclasses.field(default_factory=list)
    grid: np.ndarray | None = dataclasses.field(default=None, repr=False)
    density: np.ndarray | None = dataclasses.field(default=None, repr=False)
    sigma2: float = 0.0
    hvps: int = 0

    def arrays(self):
        return {"density_grid": self.grid, "density": self.density}


def slq_density(
    op,
    m: int = 80,
    n_probes: int = 1,
    *,
    seed=0,
    n_grid: int = 10000,
    data=None,
    loss=None,
    kind: str = "hessian",
    device=None,
    dtype=None,
) -> DensityResult:
    """Spectral density by stochastic Lanczos quadrature (Gauss quadrature exact to degree 2m−1 per probe)."""
    t0 = time.perf_counter()
    op, s, n, dt, dev = _prep(op, data, loss, kind, device, dtype, m, seed)
    if not isinstance(n_probes, (int, np.integer)) or n_probes < 1:
        raise InputError("n_probes", f"must be a positive integer, got {n_probes!r}")
    g = torch.Generator().manual_seed(s)
    nodes, weights = [], []
    used = 0
    for _ in range(n_probes):
        v = _probes(n, 1, dt, g, device=dev)[:, 0]
        a, b, _, _ = lanczos(op, m, v)
        used += len(a)
        th, Y = _tridiag_eigh(a, b)
        nodes.append(th.tolist())
        weights.append((Y[0, :] ** 2).tolist())
    allth = np.concatenate([np.array(x) for x in nodes])
    lo, hi = allth.min() - 0.01, allth.max() + 0.01
    sigma2 = 1e-5 * max(1.0, allth.max() - allth.min())
    grid = np.linspace(lo, hi, n_grid)
    dens = np.zeros_like(grid)
    for th, w in zip(nodes, weights):
        for t, ww in zip(th, w):
            dens += ww * np.exp(-((grid - t) ** 2) / (2 * sigma2)) / math.sqrt(2 * math.pi * sigma2)
    dens /= n_probes
    dens /= np.trapezoid(dens, grid) if hasattr(np, "trapezoid") else np.trapz(dens, grid)
    return DensityResult(
        status=Status.OK,
        seed=s,
        seconds=time.perf_counter() - t0,
        nodes=nodes,
        weights=weights,
        grid=grid,
        density=dens,
        sigma2=sigma2,
        hvps=used,
    )
