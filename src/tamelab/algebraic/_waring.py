r"""Shallow polynomial networks as Waring sums, and their decomposition.

A width-:math:`k` network with activation :math:`t^d` and linear output is
:math:`p(x)=\sum_{i=1}^kc_i\langle w_i,x\rangle^d`, i.e. the symmetric tensor
:math:`T=\sum_ic_iw_i^{\otimes d}` with :math:`p(x)=T(x,\dots,x)`.

Recovery of the neurons (up to permutation and scaling :math:`w\mapsto sw`, :math:`c\mapsto c/s^d`):

* :math:`d=2`: eigendecomposition of :math:`Q=W^\top\mathrm{diag}(c)W` (not identifiable:
  compare functions, not weights);
* :math:`d\ge3`, :math:`k\le n`, independent :math:`w_i`: contract :math:`T` with :math:`d-3` random
  vectors to the cubic :math:`\sum_ic_i\langle w_i,a\rangle^{d-3}w_i^{\otimes3}` and apply Jennrich's
  simultaneous diagonalisation (Harshman 1970; Leurgans, Ross & Abel 1993):
  :math:`M_u=T(\cdot,\cdot,u)`, eigenvectors of :math:`M_uM_v^{+}` are the :math:`w_i`; then
  :math:`c` by least squares on :math:`\mathrm{vec}(T)`.

Generic Waring rank (Alexander–Hirschowitz 1995): :math:`\lceil\binom{n+d-1}{d}/n\rceil` for
:math:`d\ge3` except :math:`(n,d)\in\{(3,4),(4,4),(5,4),(5,3)\}` (one more); :math:`n` for :math:`d=2`.
"""

from __future__ import annotations

import dataclasses
import math
import string

import numpy as np

from .._numerics import WARING_RTOL
from .._rng import np_rng
from ..errors import InputError
from ..result import Result, Status

__all__ = [
    "waring_tensor",
    "evaluate_waring",
    "decompose",
    "WaringResult",
    "generic_waring_rank",
    "AH_EXCEPTIONS",
    "secant_dimension",
]

AH_EXCEPTIONS = {(3, 4): 6, (4, 4): 10, (5, 4): 15, (5, 3): 8}


def generic_waring_rank(n: int, d: int) -> int:
    if d == 1:
        return 1
    if d == 2:
        return n
    if (n, d) in AH_EXCEPTIONS:
        return AH_EXCEPTIONS[(n, d)]
    return -(-math.comb(n + d - 1, d) // n)


def secant_dimension(n: int, d: int, k: int) -> int:
    """Dimension of the affine cone over the k-th secant of the degree-d Veronese of P^{n-1}."""
    N = math.comb(n + d - 1, d)
    if d == 2:
        return min(k * n - math.comb(k, 2), N) if k < n else N
    defect = 1 if (n, d, k) in {(3, 4, 5), (4, 4, 9), (5, 4, 14), (5, 3, 7)} else 0
    return min(k * n, N) - defect


def waring_tensor(W: np.ndarray, c: np.ndarray, d: int) -> np.ndarray:
    r""":math:`T=\sum_ic_iw_i^{\otimes d}` for rows ``W[i]`` (shape ``(n,)*d``)."""
    W = np.asarray(W, float)
    letters = string.ascii_lowercase[:d]
    spec = ",".join(f"i{c}" for c in letters)
    return np.einsum(f"i,{spec}->{letters}", np.asarray(c, float), *([W] * d))


def evaluate_waring(W, c, d, X) -> np.ndarray:
    return ((np.asarray(X) @ np.asarray(W).T) ** d) @ np.asarray(c)


def _contract(T: np.ndarray, v: np.ndarray, times: int) -> np.ndarray:
    for _ in range(times):
        T = T @ v
    return T


@dataclasses.dataclass
class WaringResult(Result):
    kind = "waring"

    W: np.ndarray | None = dataclasses.field(default=None, repr=False)
    c: np.ndarray | None = dataclasses.field(default=None, repr=False)
    rank: int = 0
    degree: int = 0
    relative_residual: float = float("nan")
    max_imag: float = 0.0
    method: str = ""


def decompose(T: np.ndarray, k: int | None = None, *, seed=0, tol: float = 1e-8) -> WaringResult:
    """Recover ``(W, c)`` with ``T = Σ c_i w_i^{⊗d}`` (unit-norm rows ``w_i``); certificate = residual."""
    T = np.asarray(T, dtype=float)
    d = T.ndim
    n = T.shape[0]
    if d < 2 or any(s != n for s in T.shape):
        raise InputError("T", f"must be a symmetric tensor of shape (n,)*d with d >= 2, got {T.shape}")
    rng = np_rng(seed)
    if d == 2:
        Q = (T + T.T) / 2
        lam, U = np.linalg.eigh(Q)
        keep = np.abs(lam) > tol * max(1.0, np.abs(lam).max())
        if k is not None:
            keep = np.argsort(-np.abs(lam))[:k]
        W, c, imag, method = U[:, keep].T, lam[keep], 0.0, "eigendecomposition"
    else:
        if k is None:
            raise InputError("k", "the number of terms is needed for d >= 3")
        if k > n:
            raise InputError("k", f"Jennrich needs k <= n (got k={k}, n={n})", "k > n is out of scope")
        a = rng.standard_normal(n)
        C = _contract(T, a, d - 3)  # cubic Σ c_i <w_i,a>^{d-3} w_i^{⊗3}
        u, v = rng.standard_normal(n), rng.standard_normal(n)
        Mu, Mv = C @ u, C @ v
        ev, vec = np.linalg.eig(Mu @ np.linalg.pinv(Mv))
        order = np.argsort(-np.abs(ev))[:k]
        V = vec[:, order]
        imag = float(np.abs(V.imag).max())
        W = V.real.T
        W /= np.linalg.norm(W, axis=1, keepdims=True)
        method = "Jennrich" + (f" after {d - 3} contraction(s)" if d > 3 else "")
        A = np.stack([waring_tensor(W[i : i + 1], [1.0], d).ravel() for i in range(k)], axis=1)
        c = np.linalg.lstsq(A, T.ravel(), rcond=None)[0]
    R = waring_tensor(W, c, d)
    rel = float(np.linalg.norm(R - T) / max(np.linalg.norm(T), 1e-300))
    status = Status.OK if rel < WARING_RTOL else Status.UNCERTIFIED
    return WaringResult(
        status=status,
        seed=None,
        W=W,
        c=np.asarray(c),
        rank=len(c),
        degree=d,
        relative_residual=rel,
        max_imag=imag,
        method=method,
    )
