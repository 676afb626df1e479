"""Exact linear algebra over the prime field GF(p), vectorised in NumPy int64.

``P = 33554393`` (the largest prime below 2**25): products of two residues are
< 2**50, so a dot product of up to 8192 terms fits in int64 before reduction.
A rank computed mod p equals the rational rank unless p divides a minor —
probability ≲ degree / p per random draw; callers take the max over seeds.
"""

from __future__ import annotations

import numpy as np

__all__ = ["P", "matmul_mod", "rank_mod", "rand_mod"]

P = 33_554_393
_CHUNK = 8192


def matmul_mod(A: np.ndarray, B: np.ndarray, p: int = P) -> np.ndarray:
    """``A @ B mod p`` for int64 residues, reducing every ``_CHUNK`` terms."""
    A = np.asarray(A, dtype=np.int64) % p
    B = np.asarray(B, dtype=np.int64) % p
    k = A.shape[-1]
    out = np.zeros(A.shape[:-1] + B.shape[1:], dtype=np.int64)
    for lo in range(0, k, _CHUNK):
        out = (out + (A[..., lo : lo + _CHUNK] @ B[lo : lo + _CHUNK]) % p) % p
    return out


def rank_mod(M: np.ndarray, p: int = P) -> int:
    """Rank of an integer matrix over GF(p) by Gaussian elimination (row-vectorised)."""
    A = np.array(M, dtype=np.int64) % p
    m, n = A.shape
    r = 0
    for c in range(n):
        if r == m:
            break
        piv = np.nonzero(A[r:, c])[0]
        if piv.size == 0:
            continue
        i = r + int(piv[0])
        if i != r:
            A[[r, i]] = A[[i, r]]
        inv = pow(int(A[r, c]), p - 2, p)
        A[r] = (A[r] * inv) % p
        f = A[:, c].copy()
        f[r] = 0
        nz = np.nonzero(f)[0]
        if nz.size:
            A[nz] = (A[nz] - (f[nz, None] * A[r][None, :]) % p) % p
        r += 1
    return r


def rand_mod(rng: np.random.Generator, shape, p: int = P) -> np.ndarray:
    return rng.integers(0, p, size=shape, dtype=np.int64)
