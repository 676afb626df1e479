"""The input contract: one way every capability takes a model, data, a loss, a device and a dtype.

Every public function that evaluates a model on data accepts

* ``model``: any :class:`torch.nn.Module` (:func:`as_model`);
* ``data``: tensors or NumPy arrays ``(X, y)``, a TameLab :class:`~tamelab.data.Dataset`, a
  ``torch.utils.data.Dataset`` or a ``DataLoader`` whose batches are tuples ``(x, y, ...)`` or dicts
  (``{"image": x, "label": y}``: the keys are found automatically or named with ``input_key`` /
  ``target_key``), or a :class:`Data` already built by :func:`as_data`;
* ``loss``: a name from :data:`tamelab.losses.LOSSES` or a callable ``(output, target) -> scalar``
  (:func:`tamelab.losses.resolve_loss`);
* ``device``: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"auto"`` (CUDA when present) or a
  ``torch.device`` (:func:`resolve_device`);
* ``dtype``: ``"float32"``/``"float64"`` or a torch dtype (:func:`resolve_dtype`).

Every problem is one :class:`~tamelab.errors.InputError` line naming the argument and the fix,
raised before any work starts.

Full-data quantities (losses, gradients, Hessians, bounds) must not depend on a loader's shuffling
or ``drop_last``: :func:`as_data` re-reads a map-style loader's dataset in order, with the
loader's batch size and ``collate_fn`` and every sample (see :attr:`Data.ordered`).
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, Sized, cast

import numpy as np
import torch
from torch import nn

from .errors import InputError
from .losses import Loss, resolve_loss

__all__ = [
    "Data",
    "as_data",
    "as_model",
    "resolve_device",
    "resolve_dtype",
    "model_on",
    "evaluate",
    "Evaluation",
    "INPUT_KEYS",
    "TARGET_KEYS",
    "resolve_loss",
]

#: dict-batch keys tried, in order, for the input when ``input_key`` is not given.
INPUT_KEYS = ("x", "input", "inputs", "image", "images", "img", "pixel_values", "features", "data", "X")
#: dict-batch keys tried, in order, for the target when ``target_key`` is not given.
TARGET_KEYS = ("y", "target", "targets", "label", "labels", "Y")

_DTYPES = {
    "float32": torch.float32,
    "float": torch.float32,
    "single": torch.float32,
    "float64": torch.float64,
    "double": torch.float64,
    "float16": torch.float16,
    "half": torch.float16,
    "bfloat16": torch.bfloat16,
}


# --------------------------------------------------------------------------------------------------
# device / dtype / model
# --------------------------------------------------------------------------------------------------
def resolve_device(device: str | torch.device | None = None, *, field: str = "device") -> torch.device:
    """``None``/``"cpu"`` → CPU; ``"auto"`` → CUDA if available else CPU; ``"cuda[:N]"`` checked to exist.

    >>> resolve_device(None)
    device(type='cpu')
    """
    if device is None:
        return torch.device("cpu")
    if isinstance(device, torch.device):
        dev = device
    elif isinstance(device, str):
        s = device.strip().lower()
        if s == "auto":
            return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
        try:
            dev = torch.device(s)
        except (RuntimeError, ValueError):
            raise InputError(field, f"unknown device {device!r}", "use cpu, cuda, cuda:N or auto") from None
    else:
        raise InputError(field, f"expected a device name, got {type(device).__name__}", "use cpu, cuda, cuda:N or auto")
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(
                field, f"{device!s} requested but CUDA is not available on this machine", "use cpu (or auto)"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InputError(
                field,
                f"{device!s}: only {torch.cuda.device_count()} CUDA device(s)",
                f"use cuda:0..cuda:{torch.cuda.device_count() - 1}",
            )
        return dev
    if dev.type == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise InputError(field, "mps requested but not available", "use cpu (or auto)")
        return dev
    raise InputError(field, f"unsupported device type {dev.type!r}", "use cpu, cuda, cuda:N or auto")


def resolve_dtype(
    dtype: str | torch.dtype | None = None,
    *,
    default: torch.dtype = torch.float32,
    allowed: Sequence[torch.dtype] = (torch.float32, torch.float64),
    field: str = "dtype",
) -> torch.dtype:
    """A dtype name or torch dtype, checked against ``allowed`` (default float32/float64).

    >>> resolve_dtype("float64")
    torch.float64
    """
    if dtype is None:
        dt = default
    elif isinstance(dtype, torch.dtype):
        dt = dtype
    elif isinstance(dtype, str):
        key = dtype.strip().lower().removeprefix("torch.")
        if key not in _DTYPES:
            raise InputError(field, f"unknown dtype {dtype!r}", f"use one of {', '.join(_dtype_names(allowed))}")
        dt = _DTYPES[key]
    else:
        raise InputError(
            field,
            f"expected a dtype name, got {type(dtype).__name__}",
            f"use one of {', '.join(_dtype_names(allowed))}",
        )
    if dt not in allowed:
        raise InputError(
            field,
            f"{str(dt).removeprefix('torch.')} is not supported here",
            f"use one of {', '.join(_dtype_names(allowed))}",
        )
    return dt


def _dtype_names(allowed: Sequence[torch.dtype]) -> list[str]:
    return [str(d).removeprefix("torch.") for d in allowed]


def as_model(model: Any, *, field: str = "model") -> nn.Module:
    """Check that ``model`` is an ``nn.Module`` with at least one floating parameter or buffer."""
    if not isinstance(model, nn.Module):
        raise InputError(
            field,
            f"expected a torch.nn.Module, got {type(model).__name__}",
            "pass the model object (load weights with tamelab.models.load_model)",
        )
    return model


def model_on(
    model: nn.Module,
    device: torch.device | str | None = None,
    dtype: torch.dtype | str | None = None,
    *,
    copy_model: bool = True,
) -> nn.Module:
    """``model`` on ``device`` with floating parameters/buffers in ``dtype``.

    The caller's model is never changed: a deep copy is moved unless it already has the requested
    device and dtype everywhere (or ``copy_model=False``).
    """
    as_model(model)
    dev = resolve_device(device) if device is not None else None
    dt = resolve_dtype(dtype) if dtype is not None else None
    tensors = list(model.parameters()) + list(model.buffers())
    same = all(
        (dev is None or t.device == dev or (dev.index is None and t.device.type == dev.type))
        and (dt is None or not t.is_floating_point() or t.dtype == dt)
        for t in tensors
    )
    if same:
        return model
    m = copy.deepcopy(model) if copy_model else model
    return m.to(device=dev, dtype=dt) if dt is not None else m.to(device=dev)


# --------------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------------
def _to_tensor(a: Any, field: str) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        return a
    if isinstance(a, np.ndarray):
        if a.dtype == object:
            raise InputError(field, "is an object array", "pass a numeric array")
        return torch.from_numpy(np.ascontiguousarray(a))
    if isinstance(a, (list, tuple)):
        try:
            return torch.as_tensor(np.asarray(a))
        except (TypeError, ValueError) as e:
            raise InputError(field, f"cannot be converted to a numeric array ({e})") from None
    raise InputError(field, f"expected a tensor or array, got {type(a).__name__}")


def _split_batch(batch: Any, input_key: str | None, target_key: str | None, *, field: str = "data") -> tuple[Any, Any]:
    """``(inputs, targets)`` of one batch: a tuple/list ``(x, y, ...)`` or a mapping."""
    if isinstance(batch, Mapping):
        keys = list(batch.keys())
        ik = input_key if input_key is not None else next((k for k in INPUT_KEYS if k in batch), None)
        tk = target_key if target_key is not None else next((k for k in TARGET_KEYS if k in batch), None)
        if ik is None or ik not in batch:
            raise InputError(
                "input_key",
                f"dict batches have keys {keys}; cannot tell which is the input",
                "pass input_key=... (CLI: --input-key)",
            )
        if tk is None or tk not in batch:
            raise InputError(
                "target_key",
                f"dict batches have keys {keys}; cannot tell which is the target",
                "pass target_key=... (CLI: --target-key)",
            )
        return batch[ik], batch[tk]
    if isinstance(batch, (tuple, list)):
        if len(batch) < 2:
            raise InputError(
                field,
                f"batches have {len(batch)} element(s); need (inputs, targets)",
                "yield (x, y) tuples or dicts with input and target keys",
            )
        return batch[0], batch[1]
    raise InputError(
        field,
        f"batches are {type(batch).__name__}; need (inputs, targets) tuples or dicts",
        "yield (x, y) tuples or dicts with input and target keys",
    )


def _check_pair(x: torch.Tensor, t: torch.Tensor, field: str) -> None:
    if x.ndim == 0 or x.shape[0] == 0:
        raise InputError(field, f"inputs have shape {tuple(x.shape)}", "need at least one sample (N, ...)")
    if t.ndim == 0 or t.shape[0] != x.shape[0]:
        raise InputError(field, f"{x.shape[0]} inputs but targets of shape {tuple(t.shape)}", "lengths must match")
    if not (
        x.is_floating_point() or x.dtype in (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.bool)
    ):
        raise InputError(field, f"inputs have dtype {x.dtype}", "pass numeric inputs")
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        raise InputError(field, "inputs contain NaN/inf values", "clean or impute the data")
    if t.is_floating_point() and not bool(torch.isfinite(t).all()):
        raise InputError(field, "targets contain NaN/inf values", "clean the targets")
    if t.dtype == torch.bool or t.is_complex():
        raise InputError(field, f"targets have dtype {t.dtype}", "use integer labels or float targets")


@dataclasses.dataclass
class Data:
    """Data normalised by :func:`as_data`: re-iterable batches of ``(inputs, targets)``.

    In-memory data (``X``, ``T`` set) are split into ``batch_size`` chunks in order; a loader is
    iterated as given (``ordered`` says whether its order is fixed). Integer targets are class
    labels (kept ``long``); floating targets follow ``dtype``.

    Attributes:
        X, T: in-memory inputs and targets (``None`` for a loader).
        loader: the re-iterable source of batches (``None`` in memory).
        n: number of samples (``None`` when a loader's length is unknown).
        batch_size: chunk size for in-memory data (``None``: one batch).
        name: a label for reports.
        ordered: the batch order is the same on every pass (in memory, or a re-read loader).
    """

    X: torch.Tensor | None = None
    T: torch.Tensor | None = None
    loader: Iterable[Any] | None = dataclasses.field(default=None, repr=False)
    n: int | None = None
    batch_size: int | None = None
    input_key: str | None = None
    target_key: str | None = None
    name: str = "data"
    ordered: bool = True

    @property
    def in_memory(self) -> bool:
        """Whether the samples are held as two tensors ``X``, ``T`` (else they stream from a loader)."""
        return self.X is not None

    def batches(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(x, t)`` on ``device``; floating inputs/targets cast to ``dtype`` (integer inputs too)."""
        dev = resolve_device(device) if device is not None else None
        if self.in_memory:
            X, T = cast(torch.Tensor, self.X), cast(torch.Tensor, self.T)
            bs = self.batch_size or int(X.shape[0])
            for i in range(0, int(X.shape[0]), bs):
                yield self._cast(X[i : i + bs], T[i : i + bs], dev, dtype)
            return
        seen = False
        for b in self.loader:  # type: ignore[union-attr]
            x, t = _split_batch(b, self.input_key, self.target_key)
            x, t = _to_tensor(x, "data: inputs"), _to_tensor(t, "data: targets")
            _check_pair(x, t, "data")
            seen = True
            yield self._cast(x, t, dev, dtype)
        if not seen:
            raise InputError("data", "the loader yielded no batches", "check the Dataset's length")

    @staticmethod
    def _cast(
        x: torch.Tensor, t: torch.Tensor, dev: torch.device | None, dtype: torch.dtype | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if dtype is not None:
            if x.is_floating_point() or x.dtype in (torch.uint8, torch.int8, torch.int16, torch.int32, torch.bool):
                x = x.to(dtype)
            if t.is_floating_point():
                t = t.to(dtype)
        if not t.is_floating_point() and t.dtype != torch.long:
            t = t.long()
        if dev is not None:
            x, t = x.to(dev), t.to(dev)
        return x, t

    def tensors(
        self,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        max_bytes: float = 8 * 2**30,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """All the data as two tensors (concatenating a loader's batches; refused past ``max_bytes``)."""
        if self.in_memory:
            X, T = cast(torch.Tensor, self.X), cast(torch.Tensor, self.T)
            x, t = self._cast(X, T, resolve_device(device) if device is not None else None, dtype)
            return x, t
        xs, ts, size = [], [], 0
        for x, t in self.batches(device, dtype):
            size += x.element_size() * x.numel() + t.element_size() * t.numel()
            if size > max_bytes:
                raise InputError(
                    "data",
                    f"holding all batches needs more than {max_bytes / 2**30:.1f} GiB",
                    "use a capability that streams batches, or a smaller data set",
                )
            xs.append(x)
            ts.append(t)
        return torch.cat(xs), torch.cat(ts)

    def first_batch(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The first batch (for shapes and tracing)."""
        return next(iter(self.batches(device, dtype)))

    def count(self) -> int:
        """Number of samples (iterates a loader of unknown length once)."""
        if self.n is None:
            self.n = sum(int(x.shape[0]) for x, _ in self.batches())
        return self.n

    @property
    def labels(self) -> bool:
        """Whether the targets are integer class labels (from the first batch)."""
        t = cast(torch.Tensor, self.T) if self.in_memory else self.first_batch()[1]
        return not t.is_floating_point()

    def subset(self, n: int) -> "Data":
        """The first ``n`` samples, in memory (for cheap estimates)."""
        X, T = [], []
        got = 0
        for x, t in self.batches():
            X.append(x[: n - got])
            T.append(t[: n - got])
            got += X[-1].shape[0]
            if got >= n:
                break
        return Data(torch.cat(X), torch.cat(T), n=got, batch_size=self.batch_size, name=self.name)


def as_data(
    data: Any,
    targets: Any = None,
    *,
    input_key: str | None = None,
    target_key: str | None = None,
    batch_size: int | None = None,
    name: str | None = None,
    field: str = "data",
) -> Data:
    """Normalise any supported data source to :class:`Data` (see the module docstring).

    Args:
        data: ``(X, y)``; ``X`` with ``targets=y``; a dict of arrays; a TameLab ``Dataset``; a torch
            ``Dataset`` or ``DataLoader`` (tuple or dict batches); a list of batches; or a :class:`Data`.
        targets: the targets when ``data`` is the inputs alone.
        input_key: key of the inputs in dict batches (found automatically among :data:`INPUT_KEYS` when
            not given).
        target_key: key of the targets in dict batches (found among :data:`TARGET_KEYS` when not given).
        batch_size: chunk in-memory data (and a torch ``Dataset``) into batches of this size.
        name: label for reports.
        field: the argument's name in error messages.

    >>> d = as_data((np.zeros((4, 3)), np.array([0, 1, 0, 1])))
    >>> d.n, d.X.dtype, d.T.dtype
    (4, torch.float64, torch.int64)
    """
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise InputError("batch_size", f"must be a positive integer, got {batch_size!r}")
    if isinstance(data, Data):
        if batch_size is not None and data.in_memory:
            return dataclasses.replace(data, batch_size=batch_size)
        return data
    from torch.utils.data import DataLoader, IterableDataset
    from torch.utils.data import Dataset as TorchDataset

    from .data import Dataset as TLDataset

    if isinstance(data, TLDataset):
        X = torch.from_numpy(data.X)
        T = torch.from_numpy(data.y) if data.y is not None else torch.from_numpy(data.Y)
        return _in_memory(X, T, batch_size, name or data.name, field)
    if targets is not None:
        return _in_memory(
            _to_tensor(data, f"{field}: X"), _to_tensor(targets, f"{field}: y"), batch_size, name or "data", field
        )
    if isinstance(data, (torch.Tensor, np.ndarray)):
        raise InputError(field, "got inputs without targets", "pass (X, y), or targets=y")
    if isinstance(data, Mapping):
        X, T = _split_batch(data, input_key, target_key, field=field)
        return _in_memory(_to_tensor(X, f"{field}: X"), _to_tensor(T, f"{field}: y"), batch_size, name or "data", field)
    if isinstance(data, tuple) and len(data) == 2 and all(isinstance(a, (torch.Tensor, np.ndarray)) for a in data):
        return _in_memory(
            _to_tensor(data[0], f"{field}: X"), _to_tensor(data[1], f"{field}: y"), batch_size, name or "data", field
        )
    if isinstance(data, DataLoader):
        loader, ordered = _ordered_loader(data)
        n = _len_or_none(loader.dataset) if not isinstance(loader.dataset, IterableDataset) else None
        d = Data(loader=loader, n=n, input_key=input_key, target_key=target_key, name=name or "loader", ordered=ordered)
        d.first_batch()  # validate keys and shapes now, before any work starts
        return d
    if isinstance(data, TorchDataset):
        if isinstance(data, IterableDataset):
            loader = DataLoader(data, batch_size=batch_size or 256)
            d = Data(
                loader=loader, n=None, input_key=input_key, target_key=target_key, name=name or "dataset", ordered=False
            )
        else:
            if _len_or_none(data) in (None, 0):
                raise InputError(field, "the Dataset is empty or has no __len__", "pass a non-empty map-style Dataset")
            loader = DataLoader(data, batch_size=batch_size or 256, shuffle=False)
            d = Data(
                loader=loader,
                n=len(cast(Sized, data)),
                input_key=input_key,
                target_key=target_key,
                name=name or type(data).__name__,
            )
        d.first_batch()
        return d
    if isinstance(data, (list, tuple)):
        if not data:
            raise InputError(field, "is empty")
        d = Data(loader=list(data), n=None, input_key=input_key, target_key=target_key, name=name or "batches")
        d.n = d.count()
        return d
    if isinstance(data, Iterator):
        raise InputError(
            field,
            "a one-shot iterator cannot be read more than once",
            "pass a DataLoader, a Dataset, a list of batches or (X, y)",
        )
    if isinstance(data, str):
        raise InputError(field, f"got the string {data!r}", "load named data with tamelab.data.load_data first")
    raise InputError(
        field,
        f"unsupported data type {type(data).__name__}",
        "pass (X, y) tensors/arrays, a Dataset, a DataLoader or a list of batches",
    )


def _len_or_none(obj: Any) -> int | None:
    try:
        return len(obj)
    except TypeError:
        return None


def _in_memory(X: torch.Tensor, T: torch.Tensor, batch_size: int | None, name: str, field: str) -> Data:
    _check_pair(X, T, field)
    if not T.is_floating_point():
        T = T.long()
        if bool((T < 0).any()):
            raise InputError(f"{field}: y", "labels must be >= 0", "use labels 0..C-1")
    return Data(X, T, n=int(X.shape[0]), batch_size=batch_size, name=name)


def _ordered_loader(loader: Any) -> tuple[Any, bool]:
    """A loader over the same map-style dataset in order, keeping every sample (no shuffle, no drop_last)."""
    from torch.utils.data import DataLoader, IterableDataset, SequentialSampler

    ds = loader.dataset
    if isinstance(ds, IterableDataset):
        return loader, False
    if isinstance(loader.sampler, SequentialSampler) and not loader.drop_last:
        return loader, True
    if loader.batch_size is None:  # a custom batch_sampler: re-batch in order with its first batch's size
        return loader, False
    return DataLoader(
        ds, batch_size=loader.batch_size, shuffle=False, drop_last=False, collate_fn=loader.collate_fn, num_workers=0
    ), True


# --------------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Evaluation:
    """Mean loss over all samples and, for classification, the accuracy (``None`` otherwise)."""

    loss: float
    accuracy: float | None
    n: int


def _correct(out: torch.Tensor, t: torch.Tensor, loss: Loss) -> int | None:
    if t.is_floating_point() or out.ndim != 2:
        return None
    if out.shape[1] == 1:
        return int(((out[:, 0] > 0).long() == t).sum())
    return int((out.argmax(1) == t).sum())


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: Any,
    loss: str | Callable[..., Any] | Loss | None = "cross_entropy",
    *,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    params: Mapping[str, torch.Tensor] | None = None,
) -> Evaluation:
    """Sample-weighted mean loss over every batch of ``data``, and the accuracy for integer labels.

    ``params`` (optional) replaces the model's parameters through ``torch.func.functional_call``.
    """
    from torch.func import functional_call

    lossf = resolve_loss(loss)
    d = as_data(data)
    dt = resolve_dtype(dtype) if dtype is not None else next((p.dtype for p in model.parameters()), torch.float32)
    dev = (
        resolve_device(device)
        if device is not None
        else next((p.device for p in model.parameters()), torch.device("cpu"))
    )
    total, n, correct, acc_ok = 0.0, 0, 0, True
    for x, t in d.batches(dev, dt):
        out = model(x) if params is None else functional_call(model, dict(params), (x,))
        k = int(x.shape[0])
        total += float(lossf(out, t)) * k
        n += k
        c = _correct(out, t, lossf)
        if c is None:
            acc_ok = False
        else:
            correct += c
    return Evaluation(total / n, (correct / n) if acc_ok else None, n)
