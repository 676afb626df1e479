r"""Dimensions of neuromanifolds of polynomial networks (Kileel, Trager & Bruna, arXiv:1905.12207).

Architecture :math:`\mathbf d=(d_0,\dots,d_h)`, activation :math:`\rho_r(t)=t^r` after layers
:math:`1..h-1`, no biases: :math:`p_\theta(x)=W_h\rho_r(W_{h-1}\cdots\rho_r(W_1x))`. Each output is
a form of degree :math:`r^{h-1}` in :math:`d_0` variables; the ambient dimension is
:math:`A=d_h\binom{d_0+r^{h-1}-1}{r^{h-1}}`. The neurovariety's dimension is the generic rank of
the Jacobian of :math:`\theta\mapsto` coefficients, equal to the rank of the *evaluation* Jacobian
:math:`[\nabla_\theta p_{\theta,j}(x_s)]_{j,s}` at :math:`N_s\ge\binom{d_0+r^{h-1}-1}{r^{h-1}}+5`
generic points (evaluation = full-column-rank monomial matrix × coefficient Jacobian).

Expected dimension (parameters minus the rescaling symmetries, capped by :math:`A`):

.. math:: \mathrm{edim}=\min\Big(d_h+\sum_{i=0}^{h-1}(d_i-1)d_{i+1},\ A\Big).

We compute the rank *exactly* over GF(p) (:mod:`tamelab.algebraic._modp`) at random integer
parameters and points, max over seeds (a prime-field rank can only drop by bad luck), and cross-check
with a float64 SVD rank chosen at the largest singular-value gap.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Sequence

import numpy as np

from .._numerics import JACOBIAN_RANK_RTOL
from .._rng import resolve_seed
from ..errors import InputError
from ..result import Result, Status
from ._modp import P, matmul_mod, rank_mod, rand_mod

__all__ = [
    "NeuromanifoldResult",
    "neuromanifold_dimension",
    "expected_dimension",
    "ambient_dimension",
    "jacobian_mod_p",
    "float_rank",
    "MAX_JACOBIAN_ENTRIES",
    "filling_widths",
]

#: refuse exact computations whose Jacobian would exceed this many entries.
MAX_JACOBIAN_ENTRIES = 4_000_000


def _check(widths: Sequence[int], power: int) -> list[int]:
    w = [int(x) for x in widths]
    if len(w) < 2 or any(x < 1 for x in w):
        raise InputError("--widths", f"need >= 2 positive widths, got {list(widths)}", "e.g. 2,3,1")
    if int(power) != power or power < 1:
        raise InputError("--power", f"must be an integer >= 1, got {power}")
    return w


def ambient_dimension(widths: Sequence[int], power: int) -> int:
    """Dimension of the ambient space: ``d_L`` tuples of forms of degree ``r^(L-1)`` in ``d_0`` variables."""
    w = _check(widths, power)
    deg = power ** (len(w) - 2)
    return w[-1] * math.comb(w[0] + deg - 1, deg)


def expected_dimension(widths: Sequence[int], power: int) -> int:
    """Expected dimension ``min(d_L + Σ_i (d_i − 1) d_{i+1}, ambient)`` (parameters minus the rescaling symmetry)."""
    w = _check(widths, power)
    n = w[-1] + sum((w[i] - 1) * w[i + 1] for i in range(len(w) - 1))
    return min(n, ambient_dimension(w, power))


def jacobian_mod_p(
    widths: Sequence[int], power: int, rng: np.random.Generator, n_points: int | None = None, p: int = P
) -> np.ndarray:
    """Evaluation Jacobian mod p: rows (output j, point s), columns all weights (layer-major, row-major)."""
    w = _check(widths, power)
    h = len(w) - 1
    deg = power ** (h - 1)
    mon = math.comb(w[0] + deg - 1, deg)
    N = n_points or mon + 5
    Ws = [rand_mod(rng, (w[i + 1], w[i]), p) for i in range(h)]
    X = rand_mod(rng, (N, w[0]), p)
    hs, zs = [X], []
    for i in range(h - 1):
        z = matmul_mod(hs[-1], Ws[i].T, p)
        zs.append(z)
        a = np.ones_like(z)
        for _ in range(power):
            a = (a * z) % p
        hs.append(a)
    rows = []
    for j in range(w[-1]):
        grads = [None] * h
        # d out_j / d W_h[j', :] = [j'==j] h_{h-1}
        gW = np.zeros((N, w[-1], w[-2]), dtype=np.int64)
        gW[:, j, :] = hs[-1]
        grads[h - 1] = gW.reshape(N, -1)
        delta = np.broadcast_to(Ws[h - 1][j], (N, w[-2])).copy()  # d out_j / d h_{h-1}
        for i in range(h - 2, -1, -1):
            dz = np.full_like(zs[i], power % p)
            for _ in range(power - 1):
                dz = (dz * zs[i]) % p
            delta = (delta * dz) % p  # d out_j / d z_i
            grads[i] = ((delta[:, :, None] * hs[i][:, None, :]) % p).reshape(N, -1)
            if i > 0:
                delta = matmul_mod(delta, Ws[i], p)
        rows.append(np.concatenate(grads, axis=1))
    return np.concatenate(rows, axis=0)


def float_rank(widths: Sequence[int], power: int, seed: int = 0) -> tuple[int, float]:
    """Float64 SVD rank at the largest gap of log singular values; returns (rank, gap in decades)."""
    w = _check(widths, power)
    import torch

    rng = np.random.default_rng(seed)
    h = len(w) - 1
    deg = power ** (h - 1)
    N = math.comb(w[0] + deg - 1, deg) + 5
    Ws = [torch.tensor(rng.standard_normal((w[i + 1], w[i])) / np.sqrt(w[i]), dtype=torch.float64) for i in range(h)]
    X = torch.tensor(rng.standard_normal((N, w[0])), dtype=torch.float64)

    def f(*Wl):
        a = X
        for i, Wi in enumerate(Wl):
            a = a @ Wi.T
            if i < h - 1:
                a = a**power
        return a.T.reshape(-1)

    J = torch.cat([j.reshape(j.shape[0], -1) for j in torch.autograd.functional.jacobian(f, tuple(Ws))], dim=1).numpy()
    s = np.linalg.svd(J, compute_uv=False)
    s = s[s > 0]
    if s.size <= 1:
        return int(s.size), float("inf")
    ls = np.log10(s)
    gaps = ls[:-1] - ls[1:]
    k = int(np.argmax(gaps))
    if s[-1] / s[0] > JACOBIAN_RANK_RTOL:  # no gap: full rank
        return int(s.size), 0.0
    return k + 1, float(gaps[k])


@dataclasses.dataclass
class NeuromanifoldResult(Result):
    """The exact dimension of a neurovariety next to its expected and ambient dimensions, and the verdict."""

    kind = "neuromanifold"

    widths: list[int] = dataclasses.field(default_factory=list)
    power: int = 1
    dimension: int = 0
    expected: int = 0
    ambient: int = 0
    params: int = 0
    defective: bool = False
    filling: bool = False
    verdict: str = ""
    ranks_per_seed: list[int] = dataclasses.field(default_factory=list)
    prime: int = P
    jacobian_shape: list[int] = dataclasses.field(default_factory=list)
    float_rank: int | None = None
    float_gap_decades: float | None = None


def neuromanifold_dimension(
    widths: Sequence[int], power: int, *, seeds: int = 3, seed: int = 0, check_float: bool = False
) -> NeuromanifoldResult:
    r"""Exact dimension of the neurovariety :math:`V_{\mathbf d,r}` with its expected and ambient dimension."""
    t0 = time.perf_counter()
    w = _check(widths, power)
    s0 = resolve_seed(seed)
    A = ambient_dimension(w, power)
    n_params = sum(w[i] * w[i + 1] for i in range(len(w) - 1))
    deg = power ** (len(w) - 2)
    rows = w[-1] * (math.comb(w[0] + deg - 1, deg) + 5)
    if rows * n_params > MAX_JACOBIAN_ENTRIES:
        raise InputError(
            "--widths/--power",
            f"the exact Jacobian would have {rows}×{n_params} entries, over the budget of {MAX_JACOBIAN_ENTRIES}",
            "use fewer layers, a lower power, or smaller widths",
        )
    ranks = []
    shape = None
    for k in range(max(1, seeds)):
        J = jacobian_mod_p(w, power, np.random.default_rng([s0, k]))
        shape = list(J.shape)
        ranks.append(rank_mod(J))
    dim = max(ranks)
    edim = expected_dimension(w, power)
    fr = gap = None
    if check_float:
        fr, gap = float_rank(w, power, seed=s0)
    verdict = "defective" if dim < edim else ("filling" if dim == A else "non-filling")
    return NeuromanifoldResult(
        status=Status.OK,
        seed=s0,
        seconds=time.perf_counter() - t0,
        widths=w,
        power=int(power),
        dimension=dim,
        expected=edim,
        ambient=A,
        params=n_params,
        defective=dim < edim,
        filling=dim == A,
        verdict=verdict,
        ranks_per_seed=ranks,
        jacobian_shape=shape or [],
        float_rank=fr,
        float_gap_decades=gap,
    )


def filling_widths(d0: int, dh: int, power: int, max_width: int = 12) -> int | None:
    """Smallest hidden width d_1 with (d0, d1, dh) filling its ambient space (shallow case)."""
    for d1 in range(1, max_width + 1):
        if neuromanifold_dimension([d0, d1, dh], power, seeds=2).filling:
            return d1
    return None
