"""Image folders: ``root/<class>/<image files>`` read with Pillow into N×C×H×W float arrays.

Layout. Each sub-folder of ``root`` is a class; labels are the positions of the class names in
sorted order (``meta["classes"]``). Files are read in sorted order. If ``root`` has exactly the
sub-folders ``train`` and ``test`` (each laid out as above, with the same class names), they are the
splits (``meta["test_source"] = "folder"``); otherwise the test split is a seeded random split,
recorded in ``meta``. Names starting with ``.`` (``.DS_Store``) are skipped; any other file that is
not an image (by extension) is refused by name, and so are files directly under ``root``.

Pixels. 8-bit values scaled to ``[0, 1]``; grayscale images give one channel, colour images three
(``mode="auto"`` picks RGB when any image is in colour; ``"L"``/``"RGB"`` force it; alpha is
dropped). Every image must have the same size unless ``size=(H, W)`` resizes them (bilinear). The
memory of the array is estimated from the image headers before any pixel is decoded and refused past
``max_bytes``. Decoded folders are cached in memory (keyed by the files' names, sizes and
modification times), so loading the train and the test split decodes once.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .._rng import SeedLike, resolve_seed
from ..errors import InputError
from ._dataset import Dataset, seeded_split

__all__ = ["image_folder", "IMAGE_EXTENSIONS", "MAX_IMAGE_BYTES"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm")
#: the decoded float64 array is refused past this many bytes unless ``max_bytes`` is raised.
MAX_IMAGE_BYTES = 4 * 2**30


def _classes(root: Path, field: str) -> list[tuple[str, list[Path]]]:
    out = []
    stray = [e.name for e in sorted(root.iterdir()) if not e.name.startswith(".") and not e.is_dir()]
    if stray:
        raise InputError(
            field,
            f"{root / stray[0]} is a file directly in the image folder",
            "put every image in a sub-folder named after its class: ROOT/<class>/<image>",
        )
    for d in sorted(e for e in root.iterdir() if e.is_dir() and not e.name.startswith(".")):
        files = []
        for f in sorted(d.iterdir()):
            if f.name.startswith("."):
                continue
            if f.is_dir() or f.suffix.lower() not in IMAGE_EXTENSIONS:
                raise InputError(
                    field,
                    f"{f} is not an image file",
                    f"keep only images ({', '.join(IMAGE_EXTENSIONS)}) in the class folders",
                )
            files.append(f)
        if not files:
            raise InputError(field, f"class folder {d} has no images", "remove it or add images")
        out.append((d.name, files))
    if not out:
        raise InputError(field, f"{root} has no class sub-folders", "lay it out as ROOT/<class>/<image files>")
    return out


def _fingerprint(files: Sequence[Path]) -> tuple[tuple[str, int, int], ...]:
    return tuple((str(f), (st := f.stat()).st_size, st.st_mtime_ns) for f in files)


def _read(files: tuple[Path, ...], size: tuple[int, int] | None, mode: str, max_bytes: float, field: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    # headers only: sizes and colour modes, and the memory bound, before decoding any pixel
    sizes, colour = [], False
    for f in files:
        try:
            with Image.open(f) as im:
                sizes.append(im.size)  # (W, H)
                colour |= im.mode not in ("1", "L", "LA", "I", "I;16", "F", "P") or (
                    im.mode == "P" and im.palette is not None and im.palette.mode == "RGB"
                )
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as e:
            raise InputError(
                field, f"{f} cannot be read as an image ({type(e).__name__}: {e})", "remove or replace the file"
            ) from None
    if size is None:
        if len(set(sizes)) > 1:
            i = next(i for i, s in enumerate(sizes) if s != sizes[0])
            raise InputError(
                field,
                f"images differ in size: {files[0].name} is {sizes[0][1]}×{sizes[0][0]}, "
                f"{files[i]} is {sizes[i][1]}×{sizes[i][0]}",
                "pass size=(H, W) to resize them all",
            )
        H, W = sizes[0][1], sizes[0][0]
    else:
        H, W = size
    m = mode if mode != "auto" else ("RGB" if colour else "L")
    C = 3 if m == "RGB" else 1
    need = len(files) * C * H * W * 8
    if need > max_bytes:
        raise InputError(
            field,
            f"{len(files):,} images of {C}×{H}×{W} need {need / 2**30:.1f} GiB as float64 "
            f"(limit {max_bytes / 2**30:.1f} GiB)",
            "pass a smaller size=(H, W), or raise max_bytes",
        )
    X = np.empty((len(files), C, H, W), dtype=np.float64)
    for i, f in enumerate(files):
        try:
            with Image.open(f) as im:
                im = im.convert(m)
                if im.size != (W, H):
                    im = im.resize((W, H), Image.Resampling.BILINEAR)
                a = np.asarray(im, dtype=np.float64) / 255.0
        except (OSError, ValueError, Image.DecompressionBombError) as e:
            raise InputError(
                field, f"{f} cannot be decoded ({type(e).__name__}: {e})", "remove or replace the file"
            ) from None
        X[i] = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
    X.setflags(write=False)
    return X


@functools.lru_cache(maxsize=4)
def _cached(
    fingerprint: tuple[tuple[str, int, int], ...], size: Any, mode: str, max_bytes: float, field: str
) -> np.ndarray:
    return _read(tuple(Path(f) for f, _, _ in fingerprint), size, mode, max_bytes, field)


def _load_tree(
    root: Path, size: Any, mode: str, max_bytes: float, field: str, classes: list[str] | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    tree = _classes(root, field)
    names = [c for c, _ in tree]
    if classes is not None and names != classes:
        raise InputError(
            field,
            f"{root} has classes {names}, the training folder {classes}",
            "use the same class folders in train/ and test/",
        )
    files = [f for _, fs in tree for f in fs]
    y = np.concatenate([np.full(len(fs), j, dtype=np.int64) for j, (_, fs) in enumerate(tree)])
    X = _cached(_fingerprint(files), size, mode, float(max_bytes), field)
    return X, y, names


def image_folder(
    root: str | os.PathLike[str],
    split: str = "all",
    *,
    size: Sequence[int] | None = None,
    mode: str = "auto",
    seed: SeedLike = 0,
    test_fraction: float = 0.2,
    max_bytes: float = MAX_IMAGE_BYTES,
    field: str = "--data",
) -> Dataset:
    """Load an image folder (see the module docstring) as a :class:`Dataset` with ``X`` of shape N×C×H×W.

    Args:
        root: the folder (``root/<class>/<images>``, or ``root/train/<class>/…`` + ``root/test/<class>/…``).
        split: ``train``, ``test`` or ``all``.
        size: ``(H, W)`` to resize every image to; without it all images must have the same size.
        mode: ``auto``, ``L`` (grayscale, C = 1) or ``RGB`` (C = 3).
        seed: seed of the split when the folder has no ``train``/``test`` sub-folders.
        test_fraction: fraction held out by that seeded split.
        max_bytes: refuse folders whose float64 array would exceed this.
        field: the argument name used in error messages (the CLI's ``--data``).

    Returns:
        The :class:`Dataset` (``meta`` holds the class names and where the test split came from).

    Raises:
        InputError: not a directory, an unknown split or mode, unreadable images, mismatched sizes,
            or an array larger than ``max_bytes``.
    """
    p = Path(root)
    if not p.is_dir():
        raise InputError(field, f"{p} is not a directory", "pass ROOT laid out as ROOT/<class>/<image files>")
    if split not in ("train", "test", "all"):
        raise InputError("--split", f"unknown split {split!r}", "use train, test or all")
    if mode not in ("auto", "L", "RGB"):
        raise InputError("mode", f"unknown image mode {mode!r}", "use auto, L or RGB")
    if size is not None:
        try:
            size = (int(size[0]), int(size[1]))
        except (TypeError, ValueError, IndexError):
            raise InputError("size", f"expected (H, W), got {size!r}") from None
        if min(size) < 1:
            raise InputError("size", f"must be positive, got {size}")
    subdirs = {e.name for e in p.iterdir() if e.is_dir() and not e.name.startswith(".")}
    if subdirs == {"train", "test"}:
        Xtr, ytr, classes = _load_tree(p / "train", size, mode, max_bytes, field)
        Xte, yte, _ = _load_tree(p / "test", size, mode, max_bytes, field, classes)
        if Xtr.shape[1:] != Xte.shape[1:]:
            if size is None:
                raise InputError(
                    field,
                    f"train images are {Xtr.shape[1:]}, test images {Xte.shape[1:]}",
                    "pass size=(H, W) and mode='RGB' or 'L'",
                )
            raise InputError(
                field,
                f"train images have {Xtr.shape[1]} channel(s), test images {Xte.shape[1]}",
                "pass mode='RGB' or mode='L'",
            )
        meta: dict[str, Any] = {"source": str(p), "classes": classes, "test_source": "folder", "split": split}
        if split == "all":
            return Dataset(np.concatenate([Xtr, Xte]), np.concatenate([ytr, yte]), name=p.name, meta=meta)
        X, y = (Xtr, ytr) if split == "train" else (Xte, yte)
        return Dataset(X.copy(), y, name=p.name, meta=meta)
    X, y, classes = _load_tree(p, size, mode, max_bytes, field)
    meta = {"source": str(p), "classes": classes, "split": split}
    if split == "all":
        return Dataset(X.copy(), y, name=p.name, meta={**meta, "test_source": "none"})
    s = resolve_seed(seed)
    idx = seeded_split(len(y), split, seed=s, test_fraction=test_fraction, source=f"{field} {p.name}")
    meta.update(
        {
            "split_seed": s,
            "test_fraction": test_fraction,
            "test_source": f"seeded split (seed {s}, test_fraction {test_fraction:g})",
        }
    )
    return Dataset(X[idx], y[idx], name=p.name, meta=meta)
