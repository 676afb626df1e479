r"""MNIST-1D (Greydanus & Kobak, arXiv:2011.14439), generated procedurally and offline.

Each sample is one of ten 12-point 1-D digit templates, padded, dilated, scaled, translated, with
correlated and i.i.d. noise and a shear, resampled to 40 points; the data set is centred and scaled
to unit standard deviation (``mnist1d.data.make_dataset`` of the ``mnist1d`` package, whose source
defines the construction). Classes are balanced: ``n/10`` samples each, shuffled.

Only ``make_dataset`` is called: never ``get_dataset``, which downloads a pickle from the web and
writes/reads pickles. ``make_dataset`` seeds NumPy's and Python's *global* generators; they are saved
and restored around the call, so loading MNIST-1D does not change the caller's random state.
Generated arrays are cached in memory only (keyed by ``n`` and ``seed``; nothing is written to disk).

The package's default construction is ``n = 5000`` with seed 42 and a 4000/1000 train/test split;
here ``seed`` is the generation seed (``load_data("mnist1d", seed=...)``) and ``test_fraction`` the
last fraction of the shuffled samples (0.2 reproduces the package's own split).
"""

from __future__ import annotations

import functools
import random

import numpy as np

from .._rng import SeedLike, resolve_seed
from ..errors import InputError
from ._dataset import Dataset

__all__ = ["mnist1d", "MNIST1D_MAX_SAMPLES"]

#: largest ``n`` generated without raising ``max_samples`` (~0.3 ms of CPU per sample; 1e6 ≈ 5 min).
MNIST1D_MAX_SAMPLES = 1_000_000


@functools.lru_cache(maxsize=4)
def _generate(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError:  # pragma: no cover - mnist1d is a dependency
        raise InputError("--data", "mnist1d needs the 'mnist1d' package", "pip install mnist1d") from None
    args = get_dataset_args()
    args.num_samples = n
    args.seed = seed
    args.train_split = 1.0  # we cut the split ourselves (same cut as the package's for 0.8)
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        d = make_dataset(args)
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    X = np.asarray(d["x"], dtype=np.float64)
    y = np.asarray(d["y"], dtype=np.int64)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


def mnist1d(split: str = "train", *, n: int = 5000, seed: SeedLike = 42, test_fraction: float = 0.2,
            max_samples: int = MNIST1D_MAX_SAMPLES) -> Dataset:
    """MNIST-1D: ``n`` samples of 40 features, 10 balanced classes (see the module docstring).

    Args:
        split: ``train`` (the first ``1 - test_fraction`` of the shuffled samples), ``test`` (the rest)
            or ``all``.
        n: number of samples, a multiple of 10 (e.g. 70000); generation takes ~0.3 ms per sample.
        seed: generation seed (same seed → identical arrays).
        test_fraction: fraction of samples in the test split.
        max_samples: refuse larger ``n`` (a resource guard; raise it deliberately).

    >>> ds = mnist1d("all", n=20, seed=0)
    >>> ds.X.shape, sorted(set(ds.y.tolist())) == list(range(10))
    ((20, 40), True)
    """
    if split not in ("train", "test", "all"):
        raise InputError("--split", f"unknown split {split!r}", "use train, test or all")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 10 or n % 10:
        raise InputError("n_samples", f"mnist1d needs a positive multiple of 10 samples (balanced classes), got {n!r}",
                         "e.g. 5000 or 70000")
    if n > max_samples:
        raise InputError("n_samples", f"mnist1d with {n:,} samples would take ~{n * 3e-4 / 60:.0f} min to generate "
                         f"and {n * 40 * 8 / 2**20:.0f} MiB (limit {max_samples:,})",
                         "use fewer samples or raise max_samples")
    if not 0 < test_fraction < 1:
        raise InputError("test_fraction", f"must be in (0, 1), got {test_fraction}")
    s = resolve_seed(seed)
    X, y = _generate(int(n), s)
    cut = int(n * (1 - test_fraction))
    if cut < 1 or cut >= n:
        raise InputError("test_fraction", f"{test_fraction} leaves an empty split of {n} samples")
    sel = slice(0, n) if split == "all" else slice(0, cut) if split == "train" else slice(cut, n)
    meta = {"split": split, "seed": s, "n": int(n), "test_fraction": test_fraction,
            "test_source": "none" if split == "all" else f"generator split (last {test_fraction:g} of the samples)",
            "generator": "mnist1d.data.make_dataset"}
    return Dataset(X[sel].copy(), y[sel].copy(), name="mnist1d", meta=meta)
