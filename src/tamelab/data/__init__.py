"""Data: digits, synthetic generators, ``.npz`` files; one loader for all by name."""

from __future__ import annotations

from pathlib import Path

from .._rng import SeedLike
from ..errors import InputError
from ._dataset import Dataset as Dataset
from ._dataset import load_npz as load_npz
from ._dataset import save_npz as save_npz
from ._dataset import validate_arrays as validate_arrays
from ._synthetic import circles as circles
from ._synthetic import digits as digits
from ._synthetic import gaussian_clusters as gaussian_clusters
from ._synthetic import moons as moons
from ._synthetic import sparse_coding as sparse_coding
from ._synthetic import spirals as spirals
from ._synthetic import teacher_student as teacher_student

GENERATORS = {
    "clusters": gaussian_clusters,
    "teacher": teacher_student,
    "sparse-coding": sparse_coding,
    "moons": moons,
    "circles": circles,
    "spirals": spirals,
}


def load_data(spec: str, *, split: str = "train", seed: SeedLike = 0, test_fraction: float = 0.2) -> Dataset:
    """Load data by name: ``digits``, a generator name, or a path to an ``.npz``.

    For generators ``split`` selects a seeded 80/20 partition (``all`` = everything).
    """
    if spec == "digits":
        return digits(split, seed=seed, test_fraction=test_fraction)
    if spec in GENERATORS:
        ds = GENERATORS[spec](seed=seed)
        if split == "all":
            return ds
        if split not in ("train", "test"):
            raise InputError("--split", f"unknown split {split!r}", "use train, test or all")
        import numpy as np

        rng = np.random.default_rng(12345)
        perm = rng.permutation(ds.n)
        cut = int(round(ds.n * (1 - test_fraction)))
        return ds.subset(np.sort(perm[:cut] if split == "train" else perm[cut:]))
    if spec.endswith(".npz") or Path(spec).exists():
        return load_npz(spec)
    raise InputError("--data", f"unknown data {spec!r}", f"use digits, one of {sorted(GENERATORS)}, or a path to an .npz")


__all__ = [
    "Dataset", "load_data", "load_npz", "save_npz", "validate_arrays", "GENERATORS",
    "digits", "gaussian_clusters", "teacher_student", "sparse_coding", "moons", "circles", "spirals",
]
