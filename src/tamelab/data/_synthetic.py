"""Seeded synthetic generators (nothing is downloaded)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .._rng import SeedLike, np_rng, resolve_seed
from ..errors import InputError
from ._dataset import Dataset

__all__ = ["gaussian_clusters", "teacher_student", "sparse_coding", "moons", "circles", "spirals", "digits"]


def digits(split: str = "train", *, seed: SeedLike = 0, test_fraction: float = 0.2) -> Dataset:
    """scikit-learn's shipped ``load_digits`` (1797×64, X/16, 10 classes).

    ``split`` is ``train``, ``test`` or ``all``; the split is a seeded
    stratified shuffle so the same seed always gives the same partition.
    """
    from sklearn.datasets import load_digits

    if split not in ("train", "test", "all"):
        raise InputError("--split", f"unknown split {split!r}", "use train, test or all")
    if not 0 < test_fraction < 1:
        raise InputError("test_fraction", f"must be in (0,1), got {test_fraction}")
    d = load_digits()
    X = d.data.astype(np.float64) / 16.0
    y = d.target.astype(np.int64)
    s = resolve_seed(seed)
    if split == "all":
        return Dataset(X, y, name="digits", meta={"split": "all", "seed": s, "test_source": "none"})
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=test_fraction, random_state=s, stratify=y)
    sel = np.sort(tr if split == "train" else te)
    return Dataset(
        X[sel],
        y[sel],
        name="digits",
        meta={
            "split": split,
            "seed": s,
            "test_fraction": test_fraction,
            "test_source": f"seeded stratified split (seed {s}, test_fraction {test_fraction:g})",
        },
    )


def gaussian_clusters(
    q: int = 3, per_class: int = 20, radius: float = 0.04, *, spread: float = 0.2, seed: SeedLike = 0
) -> Dataset:
    """Q well-separated Gaussian-like clusters in R^Q with exactly centred deviations.

    Means are ``I + spread·G`` (class j's mean is column j); in every class the deviations are exactly
    centred with largest norm ``radius`` (directions uniform, radii ∝ U^{1/Q} before centring).

    The Chen–Muñoz Ewald setting (constructive.md §1.10), and the one generator behind
    :func:`tamelab.exact.clustered_data` (same seed → same data): targets ``Y`` are the one-hot labels,
    ``y`` the class index, rows ordered class by class.
    """
    if q < 1 or per_class < 1:
        raise InputError("q/per_class", f"must be >= 1, got q={q}, per_class={per_class}")
    if not (radius >= 0 and np.isfinite(radius)):
        raise InputError("radius", f"must be a finite number >= 0, got {radius}")
    rng = np_rng(seed)
    means = np.eye(q) + spread * rng.standard_normal((q, q))
    D = rng.standard_normal((q, q, per_class))  # [class, coordinate, point]
    D *= (rng.random((q, 1, per_class)) ** (1.0 / q)) / np.linalg.norm(D, axis=1, keepdims=True)
    D -= D.mean(axis=2, keepdims=True)
    mx = np.linalg.norm(D, axis=1).max(axis=1, keepdims=True)[:, :, None]
    D = np.where(mx > 0, D * (radius / np.where(mx > 0, mx, 1.0)), 0.0)
    X = (means.T[:, :, None] + D).transpose(0, 2, 1).reshape(q * per_class, q)  # row j·per_class + i
    y = np.repeat(np.arange(q), per_class)
    return Dataset(X, y, np.eye(q)[y], name="clusters", meta={"means": means.T.tolist(), "radius": radius})


def teacher_student(
    n: int = 200, d: int = 2, widths: Sequence[int] = (4,), *, noise: float = 0.0, seed: SeedLike = 0
) -> Dataset:
    """Targets from a random ReLU teacher MLP ``d-widths-1`` (+ Gaussian noise)."""
    rng = np_rng(seed)
    X = rng.standard_normal((n, d))
    h = X
    dims = [d, *widths]
    for i in range(len(widths)):
        W = rng.standard_normal((dims[i + 1], dims[i])) / np.sqrt(dims[i])
        b = 0.1 * rng.standard_normal(dims[i + 1])
        h = np.maximum(h @ W.T + b, 0)
    a = rng.standard_normal(dims[-1])
    Y = h @ a + noise * rng.standard_normal(n)
    return Dataset(X, Y=Y[:, None], name="teacher", meta={"widths": list(widths), "noise": noise})


def sparse_coding(
    n: int = 64,
    h: int = 128,
    k: int = 3,
    samples: int = 1000,
    *,
    amin: float = 1.0,
    amax: float = 2.0,
    seed: SeedLike = 0,
) -> Dataset:
    """Planted sparse coding ``y = A* x*``: unit-norm Gaussian dictionary, k-sparse U[amin,amax] codes."""
    if not 1 <= k <= h:
        raise InputError("k", f"support size must be in [1, h={h}], got {k}")
    rng = np_rng(seed)
    A = rng.standard_normal((n, h))
    A /= np.linalg.norm(A, axis=0, keepdims=True)
    Xc = np.zeros((samples, h))
    for i in range(samples):
        S = rng.choice(h, size=k, replace=False)
        Xc[i, S] = rng.uniform(amin, amax, size=k)
    Y = Xc @ A.T
    return Dataset(Y, Y=Y, name="sparse-coding", meta={"A": A, "codes": Xc, "k": k})


def moons(n: int = 200, *, noise: float = 0.1, seed: SeedLike = 0) -> Dataset:
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=n, noise=noise, random_state=resolve_seed(seed))
    return Dataset(X, y, name="moons")


def circles(n: int = 200, *, noise: float = 0.05, factor: float = 0.5, seed: SeedLike = 0) -> Dataset:
    from sklearn.datasets import make_circles

    X, y = make_circles(n_samples=n, noise=noise, factor=factor, random_state=resolve_seed(seed))
    return Dataset(X, y, name="circles")


def spirals(n: int = 200, *, turns: float = 1.5, noise: float = 0.05, seed: SeedLike = 0) -> Dataset:
    """Two interleaved spirals in the plane."""
    rng = np_rng(seed)
    m = n // 2
    t = np.sqrt(rng.uniform(0, 1, m)) * turns * 2 * np.pi
    a = np.stack([t * np.cos(t), t * np.sin(t)], 1) / (turns * 2 * np.pi)
    X = np.vstack([a, -a]) + noise * rng.standard_normal((2 * m, 2))
    y = np.r_[np.zeros(m, int), np.ones(m, int)]
    return Dataset(X, y, name="spirals")
