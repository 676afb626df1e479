"""Loading what a task config names: the model (file or factory), the data, as the capabilities take them."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import InputError

__all__ = ["load_task_model", "load_task_data", "data_tensors", "check_accepts", "check_targets"]


def load_task_model(
    model: str,
    weights: str | None = None,
    *,
    device: str = "cpu",
    dtype: torch.dtype | None = None,
    field: str = "model",
) -> nn.Module:
    """The model of a config: a built-in MLP file or ``package.module:factory`` (+ weights), in eval mode."""
    from ..inputs import model_on
    from ..models import load_model

    m = load_model(model, weights=weights, field=field)
    if dtype is None and device == "cpu":
        return m.eval()
    return model_on(m, device, dtype).eval()


def _npz_with_keys(path: str, input_key: str | None, target_key: str | None) -> Any:
    from ..data import Dataset

    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as z:
            files = list(z.files)
            ik = input_key or "X"
            if ik not in files:
                raise InputError("input_key", f"{p.name} has no array {ik!r} (found {files})")
            tk = target_key or ("y" if "y" in files else "Y")
            if tk not in files:
                raise InputError("target_key", f"{p.name} has no array {tk!r} (found {files})")
            X, t = z[ik], z[tk]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        if isinstance(e, InputError):
            raise
        raise InputError("data", f"{p} is not a readable .npz ({type(e).__name__})") from None
    X = X.reshape(X.shape[0], -1) if X.ndim > 2 else X
    try:
        if np.issubdtype(t.dtype, np.integer) and t.ndim == 1:
            return Dataset(X, y=t, name=p.stem)
        return Dataset(X, Y=t, name=p.stem)
    except InputError:
        raise
    except (ValueError, TypeError) as e:
        raise InputError(
            "data",
            f"{p.name}: arrays {ik!r}/{tk!r} are not numeric data ({type(e).__name__})",
            "store numbers: inputs N×d, integer labels (N,) or targets N×k",
        ) from None


def load_task_data(
    data: str, *, split: str = "train", split_seed: int = 0, input_key: str | None = None, target_key: str | None = None
) -> Any:
    """A TameLab :class:`~tamelab.data.Dataset` for ``--data`` (built-in name, ``.npz`` or image folder)."""
    from ..data import load_data

    if input_key or target_key:
        return _npz_with_keys(data, input_key, target_key)
    try:
        return load_data(data, split=split, seed=split_seed)
    except InputError:
        raise
    except (EOFError, zipfile.BadZipFile, ValueError, TypeError) as e:  # damaged or odd file contents: bad input
        raise InputError(
            "data",
            f"{data} could not be read ({type(e).__name__}: {' '.join(str(e).split())[:120]})",
            "store X (N×d numbers) and y (N integer labels) or Y (N×k numbers)",
        ) from None


def data_tensors(
    ds: Any, *, dtype: torch.dtype = torch.float32, device: str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(X, T)`` tensors of a data set (integer labels stay ``long``), through the input contract."""
    from ..inputs import as_data

    return as_data(ds).tensors(device, dtype)


def check_accepts(model: nn.Module, X: torch.Tensor, *, field: str = "data") -> int:
    """Run one sample through ``model``; a shape mismatch is an :class:`InputError`. Returns the output width."""
    try:
        with torch.no_grad():
            out = model(X[:1])
    except (RuntimeError, ValueError, TypeError, IndexError) as e:
        msg = " ".join(str(e).split())[:160]
        raise InputError(
            field,
            f"MODEL does not accept these inputs ({tuple(X.shape[1:])} features per sample): {msg}",
            "use data of the model's input width",
        ) from None
    return int(out.shape[-1]) if out.ndim else 1


def check_targets(loss: Any, T: torch.Tensor, *, field: str = "data") -> None:
    """Class-label losses need integer labels: real-valued targets are one :class:`InputError` line."""
    if getattr(loss, "targets", "any") == "labels" and T.is_floating_point():
        raise InputError(
            field,
            f"has real-valued targets; loss {loss.name} needs integer class labels",
            "use --loss mse, or data with labels y",
        )
