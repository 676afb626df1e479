"""The ``Dataset`` container and validation of user arrays."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError

__all__ = ["Dataset", "validate_arrays", "load_npz", "save_npz"]


@dataclasses.dataclass
class Dataset:
    """Inputs ``X`` (N×d float64) with integer labels ``y`` (N,) and/or targets ``Y`` (N×k)."""

    X: np.ndarray
    y: np.ndarray | None = None
    Y: np.ndarray | None = None
    name: str = "data"
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.X, self.y, self.Y = validate_arrays(self.X, self.y, self.Y, source=self.name)

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def d(self) -> int:
        return int(self.X.shape[1])

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
        )

    def torch(self, dtype=None):
        """``(X, target)`` as torch tensors: labels (long) if present, else targets."""
        import torch

        dtype = dtype or torch.float32
        X = torch.as_tensor(self.X, dtype=dtype)
        if self.y is not None:
            return X, torch.as_tensor(self.y, dtype=torch.long)
        return X, torch.as_tensor(self.Y, dtype=dtype)


def validate_arrays(X, y=None, Y=None, *, source: str = "data"):
    """Validate and convert; raises one clear :class:`InputError` per problem."""
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InputError(f"{source}: X", f"cannot be converted to floats ({e})") from e
    if X.ndim != 2:
        raise InputError(f"{source}: X", f"must be 2-D (N×d), got shape {X.shape}", "reshape to (n_samples, n_features)")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise InputError(f"{source}: X", f"is empty (shape {X.shape})", "provide at least one sample and one feature")
    if not np.isfinite(X).all():
        bad = int((~np.isfinite(X)).sum())
        raise InputError(f"{source}: X", f"contains {bad} NaN/inf values", "clean or impute the data")
    if y is None and Y is None:
        raise InputError(f"{source}", "has neither labels 'y' nor targets 'Y'", "store y (N int labels) or Y (N×k targets)")
    if y is not None:
        y = np.asarray(y)
        if y.ndim != 1:
            raise InputError(f"{source}: y", f"must be 1-D integer labels, got shape {y.shape}")
        if y.shape[0] != X.shape[0]:
            raise InputError(f"{source}: y", f"has {y.shape[0]} labels but X has {X.shape[0]} rows", "lengths must match")
        if not np.issubdtype(y.dtype, np.integer):
            if np.issubdtype(y.dtype, np.floating) and np.isfinite(y).all() and np.all(y == np.round(y)):
                y = y.astype(np.int64)
            else:
                raise InputError(f"{source}: y", f"labels must be integers, got dtype {y.dtype}", "use Y for real-valued targets")
        y = y.astype(np.int64)
        if y.min() < 0:
            raise InputError(f"{source}: y", "labels must be >= 0")
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


def load_npz(path: str | os.PathLike) -> Dataset:
    """Load ``X`` and ``y`` or ``Y`` from an ``.npz`` (no pickles allowed)."""
    p = Path(path)
    if not p.is_file():
        raise InputError("DATA", f"{p} not found", "pass 'digits', a synthetic generator name, or an .npz file")
    try:
        with np.load(p, allow_pickle=False) as z:
            files = set(z.files)
            if "X" not in files:
                raise InputError("DATA", f"{p.name} has no array 'X' (found {sorted(files)})", "save X (N×d) and y or Y")
            return Dataset(z["X"], z["y"] if "y" in files else None, z["Y"] if "Y" in files else None, name=p.stem)
    except (ValueError, OSError) as e:
        if isinstance(e, InputError):
            raise
        raise InputError("DATA", f"{p} is not a readable .npz ({e})") from e


def save_npz(ds: Dataset, path: str | os.PathLike) -> Path:
    from ..runstore import atomic_write_npz

    arrays = {"X": ds.X}
    if ds.y is not None:
        arrays["y"] = ds.y
    if ds.Y is not None:
        arrays["Y"] = ds.Y
    return atomic_write_npz(path, arrays)
