"""The ``Dataset`` container, validation of user arrays, and ``.npz`` files with or without a test split."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError

if TYPE_CHECKING:
    from .._rng import SeedLike

__all__ = ["Dataset", "validate_arrays", "load_npz", "save_npz", "seeded_split", "MAX_CLASSES"]

#: labels are refused past this many classes (``max(y) + 1``) unless ``max_classes`` is raised: a label
#: of 10⁹ would make a classifier with 10⁹ outputs (hundreds of GB) and one-hot targets of N × 10⁹.
MAX_CLASSES = 100_000


@dataclasses.dataclass
class Dataset:
    """A data set: float64 inputs ``X`` with integer labels ``y`` and/or real targets ``Y``.

    ``X`` is N×d (or N×C×H×W for images), ``y`` has shape (N,), ``Y`` is N×k. ``meta`` records where the
    data came from; for a train/test split ``meta["test_source"]`` says how the test part was made
    (``file``, ``folder``, a seeded split with its seed and fraction, or ``generator split``), so results
    can say whether a test number is really held out.
    """

    X: np.ndarray
    y: np.ndarray | None = None
    Y: np.ndarray | None = None
    name: str = "data"
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)
    max_classes: int = dataclasses.field(default=MAX_CLASSES, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.X, self.y, self.Y = validate_arrays(self.X, self.y, self.Y, source=self.name, max_classes=self.max_classes)

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def d(self) -> int:
        """Input dimension of one sample, flattened (``C·H·W`` for images)."""
        return int(np.prod(self.X.shape[1:]))

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one input sample (``(d,)`` for vectors, ``(C, H, W)`` for images)."""
        return tuple(int(s) for s in self.X.shape[1:])

    def flat(self) -> "Dataset":
        """The same data with every input flattened to a vector (for MLPs)."""
        if self.X.ndim == 2:
            return self
        return Dataset(
            self.X.reshape(self.n, -1),
            self.y,
            self.Y,
            name=self.name,
            meta=dict(self.meta),
            max_classes=self.max_classes,
        )

    @property
    def n_classes(self) -> int | None:
        return None if self.y is None else int(self.y.max()) + 1

    def subset(self, idx: np.ndarray, name: str | None = None) -> "Dataset":
        return Dataset(
            self.X[idx],
            None if self.y is None else self.y[idx],
            None if self.Y is None else self.Y[idx],
            name=name or self.name,
            meta=dict(self.meta),
            max_classes=self.max_classes,
        )

    def torch(self, dtype: Any = None, device: Any = None) -> tuple[Any, Any]:
        """``(X, target)`` as torch tensors on ``device`` (default CPU): labels (long) if present, else targets."""
        import torch

        from ..inputs import resolve_device

        dtype = dtype or torch.float32
        dev = resolve_device(device)
        X = torch.as_tensor(self.X, dtype=dtype, device=dev)
        if self.y is not None:
            return X, torch.as_tensor(self.y, dtype=torch.long, device=dev)
        return X, torch.as_tensor(self.Y, dtype=dtype, device=dev)


def validate_arrays(
    X: Any, y: Any = None, Y: Any = None, *, source: str = "data", max_classes: int = MAX_CLASSES
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Validate and convert; raises one clear :class:`InputError` per problem.

    ``X`` must be N×d (or N×C×H×W, …), non-empty and finite; labels ``y`` integers in
    ``0..max_classes-1``; targets ``Y`` finite, N×k.
    """
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InputError(f"{source}: X", f"cannot be converted to floats ({e})") from e
    if X.ndim < 2:
        raise InputError(
            f"{source}: X", f"must be 2-D (N×d) or N×C×H×W, got shape {X.shape}", "reshape to (n_samples, n_features)"
        )
    if X.size == 0:
        raise InputError(f"{source}: X", f"is empty (shape {X.shape})", "provide at least one sample and one feature")
    if not np.isfinite(X).all():
        bad = int((~np.isfinite(X)).sum())
        raise InputError(f"{source}: X", f"contains {bad} NaN/inf values", "clean or impute the data")
    if y is None and Y is None:
        raise InputError(
            f"{source}", "has neither labels 'y' nor targets 'Y'", "store y (N int labels) or Y (N×k targets)"
        )
    if y is not None:
        y = np.asarray(y)
        if y.ndim != 1:
            raise InputError(f"{source}: y", f"must be 1-D integer labels, got shape {y.shape}")
        if y.shape[0] != X.shape[0]:
            raise InputError(
                f"{source}: y", f"has {y.shape[0]} labels but X has {X.shape[0]} rows", "lengths must match"
            )
        if not np.issubdtype(y.dtype, np.integer):
            if np.issubdtype(y.dtype, np.floating) and np.isfinite(y).all() and np.all(y == np.round(y)):
                y = y.astype(np.int64)
            else:
                raise InputError(
                    f"{source}: y", f"labels must be integers, got dtype {y.dtype}", "use Y for real-valued targets"
                )
        y = y.astype(np.int64)
        if y.min() < 0:
            raise InputError(f"{source}: y", "labels must be >= 0")
        top = int(y.max())
        if top >= max_classes:
            k = len(np.unique(y))
            raise InputError(
                f"{source}: y",
                f"labels reach {top:,}, i.e. {top + 1:,} classes, but only {k:,} distinct "
                f"labels occur among {len(y):,} samples (limit {max_classes:,} classes: a classifier "
                f"would need {top + 1:,} outputs)",
                "relabel to 0..K-1 (np.unique(y, return_inverse=True)), or raise max_classes",
            )
    if Y is not None:
        Y = np.asarray(Y, dtype=np.float64)
        if Y.ndim == 1:
            Y = Y[:, None]
        if Y.ndim != 2:
            raise InputError(f"{source}: Y", f"must be N×k, got shape {Y.shape}")
        if Y.shape[0] != X.shape[0]:
            raise InputError(f"{source}: Y", f"has {Y.shape[0]} rows but X has {X.shape[0]}", "lengths must match")
        if not np.isfinite(Y).all():
            raise InputError(f"{source}: Y", "contains NaN/inf values")
    return X, y, Y


def seeded_split(n: int, split: str, *, seed: int, test_fraction: float, source: str = "data") -> np.ndarray:
    """Sorted indices of the ``train``/``test`` part of a seeded random split of ``n`` samples.

    The permutation is ``numpy.random.default_rng(seed).permutation(n)``; the last
    ``round(n * test_fraction)`` (at least 1) of it is the test part.
    """
    if not 0 < test_fraction < 1:
        raise InputError("test_fraction", f"must be in (0, 1), got {test_fraction}")
    n_test = max(1, int(round(n * test_fraction)))
    if n - n_test < 1:
        raise InputError(
            source,
            f"has {n} sample(s): too few to split into train and test",
            "provide more samples, or X_test/y_test in the file",
        )
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[: n - n_test] if split == "train" else perm[n - n_test :])


def load_npz(
    path: str | os.PathLike[str],
    split: str = "all",
    *,
    seed: SeedLike = 0,
    test_fraction: float = 0.2,
    max_classes: int = MAX_CLASSES,
) -> Dataset:
    """Load ``X`` and ``y`` or ``Y`` from an ``.npz`` (no pickles allowed).

    Test data: ``X_test`` with ``y_test``/``Y_test`` when the file has them (``meta["test_source"] =
    "file"``); otherwise ``split="train"``/``"test"`` is a seeded random split of ``X`` recorded in
    ``meta`` (``test_source = "seeded split (seed S, test_fraction F)"``). ``split="all"`` is every
    sample (train and test together when the file has both).
    """
    from .._rng import resolve_seed

    if split not in ("train", "test", "all"):
        raise InputError("--split", f"unknown split {split!r}", "use train, test or all")
    p = Path(path)
    if not p.is_file():
        raise InputError("DATA", f"{p} not found", "pass a built-in data name, an .npz file or an image folder")
    try:
        with np.load(p, allow_pickle=False) as z:
            files = set(z.files)
            if "X" not in files:
                raise InputError(
                    "DATA", f"{p.name} has no array 'X' (found {sorted(files)})", "save X (N×d) and y or Y"
                )
            arrays = {k: z[k] for k in ("X", "y", "Y", "X_test", "y_test", "Y_test") if k in files}
    except (ValueError, OSError) as e:
        if isinstance(e, InputError):
            raise
        raise InputError("DATA", f"{p} is not a readable .npz ({e})") from e
    mc: dict[str, Any] = {"max_classes": max_classes}
    train = Dataset(arrays["X"], arrays.get("y"), arrays.get("Y"), name=p.stem, **mc)
    if "X_test" in arrays:
        if ("y" in arrays) != ("y_test" in arrays) or ("Y" in arrays) != ("Y_test" in arrays):
            raise InputError(
                "DATA",
                f"{p.name}: X_test needs the same kind of targets as X (found {sorted(arrays)})",
                "store y_test with y (or Y_test with Y)",
            )
        test = Dataset(arrays["X_test"], arrays.get("y_test"), arrays.get("Y_test"), name=f"{p.stem} (test)", **mc)
        if test.sample_shape != train.sample_shape:
            raise InputError(
                "DATA",
                f"{p.name}: X_test samples have shape {test.sample_shape}, X samples {train.sample_shape}",
                "use the same features in both",
            )
        meta: dict[str, Any] = {"source": str(p), "test_source": "file"}
        if split == "all":
            Y = None if train.Y is None else np.concatenate([train.Y, test.Y])
            y = None if train.y is None else np.concatenate([train.y, test.y])
            return Dataset(np.concatenate([train.X, test.X]), y, Y, name=p.stem, meta={**meta, "split": "all"}, **mc)
        ds = train if split == "train" else test
        return Dataset(ds.X, ds.y, ds.Y, name=p.stem, meta={**meta, "split": split}, **mc)
    if split == "all":
        return Dataset(
            train.X, train.y, train.Y, name=p.stem, meta={"source": str(p), "split": "all", "test_source": "none"}, **mc
        )
    s = resolve_seed(seed)
    idx = seeded_split(train.n, split, seed=s, test_fraction=test_fraction, source=f"DATA {p.name}")
    meta = {
        "source": str(p),
        "split": split,
        "split_seed": s,
        "test_fraction": test_fraction,
        "test_source": f"seeded split (seed {s}, test_fraction {test_fraction:g})",
    }
    return Dataset(
        train.X[idx],
        None if train.y is None else train.y[idx],
        None if train.Y is None else train.Y[idx],
        name=p.stem,
        meta=meta,
        **mc,
    )


def save_npz(ds: Dataset, path: str | os.PathLike[str], *, test: Dataset | None = None) -> Path:
    """Write ``ds`` (and ``test`` as ``X_test``/``y_test``/``Y_test``) atomically; :func:`load_npz` reads it."""
    from ..runstore import atomic_write_npz

    arrays = {"X": ds.X}
    if ds.y is not None:
        arrays["y"] = ds.y
    if ds.Y is not None:
        arrays["Y"] = ds.Y
    if test is not None:
        arrays["X_test"] = test.X
        if test.y is not None:
            arrays["y_test"] = test.y
        if test.Y is not None:
            arrays["Y_test"] = test.Y
    return atomic_write_npz(path, arrays)
