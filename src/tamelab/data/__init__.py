"""Data: digits, MNIST-1D, synthetic generators, ``.npz`` files, image folders; one loader for all by name."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .._rng import SeedLike
from ..errors import InputError
from ._dataset import MAX_CLASSES as MAX_CLASSES
from ._dataset import Dataset as Dataset
from ._dataset import load_npz as load_npz
from ._dataset import save_npz as save_npz
from ._dataset import seeded_split as seeded_split
from ._dataset import validate_arrays as validate_arrays
from ._images import IMAGE_EXTENSIONS as IMAGE_EXTENSIONS
from ._images import image_folder as image_folder
from ._mnist1d import mnist1d as mnist1d
from ._synthetic import circles as circles
from ._synthetic import digits as digits
from ._synthetic import gaussian_clusters as gaussian_clusters
from ._synthetic import moons as moons
from ._synthetic import sparse_coding as sparse_coding
from ._synthetic import spirals as spirals
from ._synthetic import teacher_student as teacher_student

GENERATORS: dict[str, Callable[..., Dataset]] = {
    "clusters": gaussian_clusters,
    "teacher": teacher_student,
    "sparse-coding": sparse_coding,
    "moons": moons,
    "circles": circles,
    "spirals": spirals,
}

#: the names :func:`load_data` accepts besides paths.
BUILTIN = ("digits", "mnist1d", *GENERATORS)

#: the fixed seed of the generators' 80/20 train/test split (the data themselves follow ``seed``).
GENERATOR_SPLIT_SEED = 12345


def data_choices() -> str:
    """The accepted ``--data`` values, for messages and help texts."""
    return f"{', '.join(BUILTIN)}, a path to an .npz file, or an image folder (ROOT/<class>/<images>)"


def load_data(
    spec: str,
    *,
    split: str = "train",
    seed: SeedLike = 0,
    test_fraction: float = 0.2,
    n: int | None = None,
    size: Sequence[int] | None = None,
    field: str = "--data",
) -> Dataset:
    """Load data by name or path.

    Args:
        spec: ``digits`` (scikit-learn's 8×8 digits), ``mnist1d`` (generated offline, any ``n``), a
            generator name (:data:`GENERATORS`), a path to an ``.npz`` (``X`` + ``y``/``Y``, optionally
            ``X_test`` + ``y_test``/``Y_test``), or a directory laid out as ``ROOT/<class>/<images>``.
        split: ``train``, ``test`` or ``all``.
        seed: the split seed (digits, ``.npz``, image folders) or the generation seed (mnist1d, generators).
        test_fraction: fraction held out when the split is made here.
        n: number of samples for mnist1d and the generators that take one.
        size: ``(H, W)`` to resize the images of an image folder to.
        field: the argument name used in error messages (the CLI's ``--data``).

    Returns:
        The :class:`Dataset`; where the test split comes from is recorded in ``meta["test_source"]``.

    Raises:
        InputError: an unknown name, a missing or malformed file, or an unknown split.
    """
    if not isinstance(spec, (str, Path)):
        raise InputError(field, f"expected a data name or path, got {type(spec).__name__}", f"use {data_choices()}")
    spec = str(spec)
    if split not in ("train", "test", "all"):
        raise InputError("--split", f"unknown split {split!r}", "use train, test or all")
    if n is not None and spec not in ("mnist1d", *GENERATORS):
        raise InputError("n_samples", f"{spec!r} has a fixed size", "use n_samples only with mnist1d or a generator")
    if size is not None and not Path(spec).is_dir():
        raise InputError("size", "only applies to image folders")
    if spec == "digits":
        return digits(split, seed=seed, test_fraction=test_fraction)
    if spec == "mnist1d":
        return mnist1d(split, seed=seed, test_fraction=test_fraction, **({"n": n} if n is not None else {}))
    if spec in GENERATORS:
        gen = GENERATORS[spec]
        kw = {}
        if n is not None:
            if "n" not in inspect.signature(gen).parameters:
                takes = [k for k, g in GENERATORS.items() if "n" in inspect.signature(g).parameters]
                raise InputError(
                    "n_samples",
                    f"the {spec} generator does not take a sample count",
                    f"use n_samples with mnist1d or one of {', '.join(takes)}",
                )
            kw["n"] = n
        ds = gen(seed=seed, **kw)
        if split == "all":
            ds.meta = {**ds.meta, "test_source": "none"}
            return ds
        if not 0 < test_fraction < 1:
            raise InputError("test_fraction", f"must be in (0, 1), got {test_fraction}")
        perm = np.random.default_rng(GENERATOR_SPLIT_SEED).permutation(ds.n)
        cut = int(round(ds.n * (1 - test_fraction)))
        if not 0 < cut < ds.n:
            raise InputError(
                "n_samples", f"{ds.n} samples are too few to split into train and test", "generate more samples"
            )
        out = ds.subset(np.sort(perm[:cut] if split == "train" else perm[cut:]))
        out.meta = {
            **out.meta,
            "split": split,
            "test_source": f"seeded split (seed {GENERATOR_SPLIT_SEED}, test_fraction {test_fraction:g})",
        }
        return out
    p = Path(spec)
    if p.is_dir():
        return image_folder(p, split, size=size, seed=seed, test_fraction=test_fraction, field=field)
    if spec.endswith(".npz") or p.is_file():
        if p.is_file() and p.suffix != ".npz":
            raise InputError(field, f"{p} is not an .npz file", f"use {data_choices()}")
        return load_npz(p, split, seed=seed, test_fraction=test_fraction)
    raise InputError(field, f"unknown data {spec!r}", f"use {data_choices()}")


__all__ = [
    "Dataset",
    "load_data",
    "load_npz",
    "save_npz",
    "validate_arrays",
    "seeded_split",
    "GENERATORS",
    "BUILTIN",
    "data_choices",
    "MAX_CLASSES",
    "IMAGE_EXTENSIONS",
    "digits",
    "mnist1d",
    "image_folder",
    "gaussian_clusters",
    "teacher_student",
    "sparse_coding",
    "moons",
    "circles",
    "spirals",
]
