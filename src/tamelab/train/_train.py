r"""The generic monitored training loop: any ``nn.Module``, any data form, pluggable recorders.

:func:`train` minimises the mean loss :math:`F(\theta)=\frac1n\sum_i\ell(f_\theta(x_i),y_i)` by
mini-batch steps :math:`\theta_{k+1}=\theta_k+u_k` where :math:`u_k` comes from an optimizer: a TameLab
transform (:mod:`tamelab.train._transforms`, e.g. :math:`u_k=-\alpha_k g_k` for SGD) or a
``torch.optim`` optimizer. After every step the recorders see the step (loss, gradient and update
norms, step size); after every epoch they may evaluate (see :mod:`tamelab.train._recorders`).

Determinism. The batch order of epoch ``e`` is ``numpy.random.default_rng([seed, e]).permutation(n)``
(in-memory data and map-style datasets/loaders); stochastic layers (dropout) draw from torch's global
generator re-seeded from ``(seed, e)`` inside :func:`torch.random.fork_rng`, so the caller's generator
is untouched. A run resumed from an epoch checkpoint (safetensors + JSON, never pickle: the model's
full ``state_dict``, the optimizer state, snapshots, recorder state and histories) reproduces the
uninterrupted run bitwise on the same device, dtype and thread count. Loaders with a custom batch
sampler, iterable datasets and lists of batches are iterated as given (``batch_order`` in the result
says which).

The caller's model is never modified (``inplace=False``): a copy is moved to ``device``/``dtype`` and
trained; it is ``result.model``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from .._progress import progress
from .._rng import resolve_seed
from ..errors import ComputationError, InputError
from ..inputs import Data, as_data, as_model, model_dtype, resolve_device
from ..losses import Loss, resolve_loss
from ..result import Result, Status, to_jsonable
from ._checkpoint import flatten_state, load_checkpoint, save_checkpoint, unflatten_state
from ._recorders import Recorder, StepInfo, resolve_recorders
from ._schedules import Schedule
from ._transforms import OPTIMIZERS, Transform, make_optimizer, tree_norm

__all__ = ["train", "TrainResult", "TrainContext"]

#: snapshots kept in memory are refused past this many bytes unless ``max_snapshot_bytes`` is raised.
MAX_SNAPSHOT_BYTES = 4 * 2**30


@dataclasses.dataclass
class TrainResult(Result):
    r"""A finished (or interrupted: status ``not_converged``) training run.

    JSON fields: ``config`` (the run's signature: model class, parameter shapes, loss, optimizer,
    epochs, batch size, seed, dtype, …, or the :class:`~tamelab.train.TrainConfig` of :func:`fit`),
    ``epochs_run``, ``steps``, ``final_loss`` (last recorded mini-batch loss), ``final_train_loss``,
    ``final_test_loss``, ``final_train_acc``/``final_test_acc`` (``None`` without integer labels),
    ``dist_init`` :math:`\|\theta_T-\theta_0\|`, ``path_length`` :math:`\sum_k\|\theta_{k+1}-\theta_k\|`,
    ``n_params`` (trainable), ``widths`` (plain Linear/ReLU MLPs, else empty), ``resumed_from_epoch``,
    ``loss``, ``optimizer``, ``device``, ``dtype``, ``batch_order`` (``seeded shuffle``, ``in order``
    or ``as given by the loader``), ``test_source`` (where the test data came from: ``file``, a seeded
    split, ``none`` — then the test numbers are NaN), ``recorders`` and ``exports`` (where monitors
    were logged).

    Not serialised: ``model`` (trained, eval mode, on ``device``), ``init_model``, ``train``/``test``
    (the data as given: a TameLab ``Dataset`` or :class:`~tamelab.inputs.Data`), ``history`` (arrays
    per key: per recorded step ``step``, ``epoch``, ``loss``, ``grad_norm``, ``lr``, ``param_norm``,
    ``dist_init``, ``path_length``; per evaluation ``acc_epoch``, ``train_loss``, ``test_loss``,
    ``train_acc``, ``test_acc``; plus custom recorders' keys), ``snapshots`` (trainable parameters, on
    the CPU, first = initialisation, last = final) and ``snapshot_steps``.
    """

    kind = "train"

    config: dict[str, Any] = dataclasses.field(default_factory=dict)
    epochs_run: int = 0
    steps: int = 0
    final_loss: float = float("nan")
    final_train_loss: float = float("nan")
    final_test_loss: float = float("nan")
    final_train_acc: float | None = None
    final_test_acc: float | None = None
    dist_init: float = 0.0
    path_length: float = 0.0
    n_params: int = 0
    widths: list[int] = dataclasses.field(default_factory=list)
    resumed_from_epoch: int | None = None
    loss: str = "cross_entropy"
    optimizer: str = ""
    device: str = "cpu"
    dtype: str = "float32"
    batch_order: str = "seeded shuffle"
    test_source: str | None = None
    recorders: list[str] = dataclasses.field(default_factory=list)
    exports: dict[str, str] = dataclasses.field(default_factory=dict)
    model: nn.Module | None = dataclasses.field(default=None, repr=False)
    init_model: nn.Module | None = dataclasses.field(default=None, repr=False)
    train: Any = dataclasses.field(default=None, repr=False)
    test: Any = dataclasses.field(default=None, repr=False)
    history: dict[str, np.ndarray] = dataclasses.field(default_factory=dict, repr=False)
    snapshots: list[dict[str, torch.Tensor]] = dataclasses.field(default_factory=list, repr=False)
    snapshot_steps: list[int] = dataclasses.field(default_factory=list, repr=False)

    def arrays(self) -> dict[str, np.ndarray]:
        out = {f"history_{k}": v for k, v in self.history.items()}
        out["snapshot_steps"] = np.asarray(self.snapshot_steps, dtype=np.int64)
        return out

    def save_model(self, path: str | Path) -> Path:
        """Write the trained model's ``state_dict`` as safetensors (:func:`tamelab.models.save`)."""
        from ..models import save

        if self.model is None:
            raise InputError("model", "this result holds no model", "train again")
        return save(self.model, path)


@dataclasses.dataclass
class TrainContext:
    """What recorders can read (and ``history``, which they write) during a run.

    Attributes:
        model: the model being trained (its parameters are current; train mode during steps).
        names, params: the trainable parameters' names and tensors (the live ``nn.Parameter`` objects).
        loss: the resolved :class:`~tamelab.losses.Loss`; device, dtype, seed, epochs, eval_every,
            record_every: the run's settings.
        train_data, test_data: :class:`~tamelab.inputs.Data` (``test_data`` may be ``None``);
            train_tensors, test_tensors: ``(X, T)`` on ``device`` for in-memory data, else ``None``.
        history: the shared history (key → list); step, epoch, path_length: the loop's counters.
        theta0_flat: the initial trainable parameters as one flat vector (on ``device``).
        optimizer, opt_state: the optimizer (a transform or a ``torch.optim`` optimizer) and, for a
            transform, its current state.
    """

    model: nn.Module
    names: list[str]
    params: list[nn.Parameter]
    loss: Loss
    device: torch.device
    dtype: torch.dtype
    seed: int
    epochs: int
    eval_every: int
    record_every: int
    train_data: Data
    test_data: Data | None
    train_tensors: tuple[torch.Tensor, torch.Tensor] | None
    test_tensors: tuple[torch.Tensor, torch.Tensor] | None
    theta0_flat: torch.Tensor
    optimizer: Any
    history: dict[str, list] = dataclasses.field(default_factory=dict)
    opt_state: Any = None
    step: int = 0
    epoch: int = 0
    path_length: float = 0.0
    resumed_step: int | None = None
    #: compute the per-step gradient/update norms and the path length (off when ``recorders=[]``)
    norms: bool = True
    signature: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def n_params(self) -> int:
        return int(self.theta0_flat.numel())

    def flat_params(self) -> torch.Tensor:
        """A copy of the trainable parameters as one flat vector (in ``names`` order)."""
        return torch.cat([p.detach().reshape(-1) for p in self.params])

    def param_dict(self) -> dict[str, torch.Tensor]:
        """Detached views of the trainable parameters (name → tensor; clone what you keep)."""
        return {k: p.detach() for k, p in zip(self.names, self.params)}


# --------------------------------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------------------------------
def _pos_int(name: str, v: Any, lo: int = 1) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise InputError(name, f"must be an integer >= {lo}, got {v!r}")
    return int(v)


def _check_lr(lr: Any) -> float | Schedule | Callable[[int], float]:
    if isinstance(lr, Schedule) or (callable(lr) and not isinstance(lr, (int, float))):
        return lr
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating)):
        raise InputError("lr", f"expected a number, a Schedule or a callable step -> lr, got {type(lr).__name__}")
    if not (math.isfinite(float(lr)) and float(lr) > 0):
        raise InputError("lr", f"must be a finite number > 0, got {lr!r}")
    return float(lr)


def _describe_lr(lr: Any) -> Any:
    if isinstance(lr, Schedule):
        return {"schedule": lr.name, "a": lr.a, "b": lr.b, "p": lr.p}
    if callable(lr):
        return getattr(lr, "__name__", "callable")
    return lr


class _Optim:
    """The optimizer of a run: a TameLab transform or a ``torch.optim`` optimizer on the live parameters."""

    def __init__(
        self,
        optimizer: Any,
        lr: Any,
        params: list[nn.Parameter],
        names: list[str],
        source_params: dict[int, str] | None,
    ) -> None:
        self.torch_opt: torch.optim.Optimizer | None = None
        self.transform: Transform | None = None
        if isinstance(optimizer, str):
            if optimizer not in OPTIMIZERS:
                raise InputError(
                    "optimizer",
                    f"unknown optimizer {optimizer!r}",
                    f"use one of {', '.join(OPTIMIZERS)}, a Transform or a torch.optim optimizer",
                )
            self.transform = make_optimizer(optimizer, _check_lr(lr))
            self.describe = {"name": optimizer, "lr": _describe_lr(lr)}
        elif isinstance(optimizer, Transform):
            self.transform = optimizer
            self.describe = {"transform": optimizer.name}
        elif isinstance(optimizer, type) and issubclass(optimizer, torch.optim.Optimizer):
            lr = _check_lr(lr)
            if not isinstance(lr, float):
                raise InputError(
                    "lr",
                    "a torch.optim optimizer class takes a float lr",
                    "use a Transform for schedules, or pass an optimizer instance",
                )
            self._check_closure_free(optimizer)
            self.torch_opt = optimizer(params, lr=lr)
            self.describe = {"torch": optimizer.__name__, "defaults": _jsonable(self.torch_opt.defaults)}
        elif isinstance(optimizer, torch.optim.Optimizer):
            self._check_closure_free(type(optimizer))
            self.torch_opt = self._rebind(optimizer, params, names, source_params)
            self.describe = {"torch": type(optimizer).__name__, "defaults": _jsonable(optimizer.defaults)}
        else:
            raise InputError(
                "optimizer",
                f"expected an optimizer name, a Transform or a torch.optim optimizer, got {type(optimizer).__name__}",
                f"use one of {', '.join(OPTIMIZERS)}",
            )
        self.name = self.transform.name if self.transform is not None else type(self.torch_opt).__name__

    @staticmethod
    def _check_closure_free(cls: type) -> None:
        if issubclass(cls, torch.optim.LBFGS):
            raise InputError(
                "optimizer",
                "LBFGS needs a closure re-evaluating the loss, which this loop does not use",
                "use a first-order optimizer (sgd, adam, ... or a torch.optim one)",
            )

    @staticmethod
    def _rebind(
        opt: torch.optim.Optimizer, params: list[nn.Parameter], names: list[str], source_params: dict[int, str] | None
    ) -> torch.optim.Optimizer:
        if source_params is None:  # in place: the optimizer must hold the model's own parameters
            live = {id(p) for p in params}
            if any(id(p) not in live for g in opt.param_groups for p in g["params"]):
                raise InputError(
                    "optimizer",
                    "holds tensors that are not trainable parameters of the model",
                    "build the optimizer from model.parameters()",
                )
            return opt
        by_name = dict(zip(names, params))
        groups = []
        for g in opt.param_groups:
            ps = []
            for p in g["params"]:
                k = source_params.get(id(p))
                if k is None or k not in by_name:
                    raise InputError(
                        "optimizer",
                        "holds tensors that are not trainable parameters of the model",
                        "build the optimizer from model.parameters()",
                    )
                ps.append(by_name[k])
            groups.append({**{k: v for k, v in g.items() if k != "params"}, "params": ps})
        try:
            new = type(opt)(groups)
            new.load_state_dict(opt.state_dict())
        except (TypeError, ValueError, KeyError) as e:
            raise InputError(
                "optimizer",
                f"cannot rebuild {type(opt).__name__} on the training copy ({e})",
                "pass the class (optimizer=torch.optim.X, lr=...) or train with inplace=True",
            ) from None
        return new

    # state for checkpoints
    def state(self, opt_state: Any) -> Any:
        return opt_state if self.transform is not None else self.torch_opt.state_dict()

    def load(self, state: Any, device: torch.device) -> Any:
        if self.transform is not None:
            return _tree_to(state, device)
        self.torch_opt.load_state_dict(state)
        return None


def _tree_to(tree: Any, device: torch.device) -> Any:
    if isinstance(tree, torch.Tensor):
        return tree.to(device)
    if isinstance(tree, dict):
        return {k: _tree_to(v, device) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_tree_to(v, device) for v in tree]
    if isinstance(tree, tuple):
        return tuple(_tree_to(v, device) for v in tree)
    return tree


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(to_jsonable(obj)))


# --------------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------------
class _TrainBatches:
    """The training batches of each epoch, in a seeded order where the source allows it."""

    def __init__(
        self,
        data: Any,
        targets: Any,
        *,
        batch_size: int | None,
        shuffle: bool,
        input_key,
        target_key,
        device: torch.device,
        dtype: torch.dtype,
        seed: int,
    ) -> None:
        from torch.utils.data import DataLoader, IterableDataset
        from torch.utils.data import Dataset as TorchDataset

        self.device, self.dtype, self.seed, self.shuffle = device, dtype, seed, shuffle
        self.input_key, self.target_key = input_key, target_key
        self.tensors: tuple[torch.Tensor, torch.Tensor] | None = None
        self.map_ds = None
        self.data = as_data(data, targets, input_key=input_key, target_key=target_key, field="data")
        if self.data.in_memory:
            self.kind = "memory"
            self.batch_size = batch_size or 64
            self.tensors = self.data.tensors(device, dtype)
            self.n = int(self.tensors[0].shape[0])
        elif (
            isinstance(data, DataLoader)
            and not isinstance(data.dataset, IterableDataset)
            and data.batch_size is not None
            and len(data.dataset) > 0
        ):
            self.kind = "map"
            self.map_ds = data.dataset
            self.batch_size = batch_size or data.batch_size
            self.loader_kw = {
                "collate_fn": data.collate_fn,
                "drop_last": data.drop_last,
                "num_workers": data.num_workers,
                "pin_memory": data.pin_memory,
            }
            self.n = len(data.dataset)
        elif isinstance(data, TorchDataset) and not isinstance(data, IterableDataset):
            self.kind = "map"
            self.map_ds = data
            self.batch_size = batch_size or 64
            self.loader_kw = {}
            self.n = len(data)
        else:
            self.kind = "iter"
            self.batch_size = None
            self.n = self.data.count()
        if self.kind == "iter":
            self.order = "as given by the loader"
        else:
            self.order = "seeded shuffle" if shuffle else "in order"

    def epoch(self, epoch: int) -> Iterator[tuple[float, torch.Tensor, torch.Tensor]]:
        """``(fraction of the epoch before this batch, inputs, targets)`` on the device."""
        n, bs = self.n, self.batch_size
        perm = (
            np.random.default_rng([self.seed, epoch]).permutation(n) if self.shuffle and self.kind != "iter" else None
        )
        if self.kind == "memory":
            X, T = self.tensors
            for lo in range(0, n, bs):
                if perm is None:
                    yield lo / n, X[lo : lo + bs], T[lo : lo + bs]
                else:
                    idx = torch.as_tensor(perm[lo : lo + bs])
                    if idx.device != X.device:
                        idx = idx.to(X.device)
                    yield lo / n, X[idx], T[idx]
            return
        if self.kind == "map":
            from torch.utils.data import DataLoader

            order = perm.tolist() if perm is not None else list(range(n))
            g = torch.Generator().manual_seed(int(np.random.SeedSequence([self.seed, epoch, 1]).generate_state(1)[0]))
            loader = DataLoader(self.map_ds, batch_size=bs, sampler=order, generator=g, **self.loader_kw)
            source = Data(loader=loader, n=n, input_key=self.input_key, target_key=self.target_key)
        else:
            source = self.data
        seen = 0
        for x, t in source.batches(self.device, self.dtype):
            yield seen / n, x, t
            seen += int(x.shape[0])


def _test_data(test: Any, input_key, target_key, device, dtype):
    if test is None:
        return None, None, "none"
    d = as_data(test, input_key=input_key, target_key=target_key, field="test")
    tensors = d.tensors(device, dtype) if d.in_memory else None
    meta = getattr(test, "meta", None)
    src = meta.get("test_source") if isinstance(meta, dict) else None
    return d, tensors, src or "given"


# --------------------------------------------------------------------------------------------------
# the loop
# --------------------------------------------------------------------------------------------------
def train(
    model: nn.Module,
    data: Any,
    *,
    targets: Any = None,
    loss: str | Callable | Loss = "cross_entropy",
    optimizer: str | Transform | torch.optim.Optimizer | type = "adam",
    lr: float | Schedule | Callable[[int], float] = 1e-3,
    epochs: int = 1,
    batch_size: int | None = None,
    test: Any = None,
    recorders: Sequence[Recorder | str] | None = None,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    seed: int | None = 0,
    shuffle: bool = True,
    snapshot_every: int | None = 0,
    record_every: int = 1,
    eval_every: int = 1,
    eval_batch_size: int = 8192,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    stop_after_epochs: int | None = None,
    log: str | Sequence[str] | None = None,
    log_dir: str | Path | None = None,
    input_key: str | None = None,
    target_key: str | None = None,
    inplace: bool = False,
    max_snapshot_bytes: float = MAX_SNAPSHOT_BYTES,
    config: dict[str, Any] | None = None,
    desc: str = "train",
) -> TrainResult:
    """Train ``model`` on ``data`` with monitors; see the module docstring.

    Args:
        model: any ``nn.Module`` (not modified unless ``inplace=True``; the trained copy is
            ``result.model``).
        data: training data in any form of :func:`tamelab.inputs.as_data` (``(X, y)`` tensors or
            arrays, ``X`` with ``targets=y``, a TameLab ``Dataset``, a torch ``Dataset``, a
            ``DataLoader`` with tuple or dict batches — keys found automatically or named with
            ``input_key``/``target_key`` —, a list of batches).
        targets: the targets when ``data`` is inputs only (``as_data(data, targets)``).
        loss: a name (``cross_entropy``, ``mse``, ``nll``, …) or a callable ``(output, target) -> mean``.
        optimizer: a name from :data:`tamelab.train.OPTIMIZERS` (with ``lr``), a
            :class:`~tamelab.train.Transform` (``tamelab.train.sgd(0.1)``, ``make_optimizer(...)``), a
            ``torch.optim`` optimizer instance built on ``model.parameters()`` (rebuilt on the training
            copy with its state) or class (built with ``lr``).
        lr: step size for a named optimizer or an optimizer class: a float, a
            :class:`~tamelab.train.Schedule` or a callable ``step -> lr`` (transforms only).
        epochs: passes over the data.
        batch_size: mini-batch size (default 64; a ``DataLoader``'s own).
        test: held-out data (any form above) evaluated with the training data by the ``eval`` recorder.
        recorders: recorder objects and/or built-in names (default: ``["default"]``, see
            :mod:`tamelab.train._recorders`); ``[]`` runs a bare loop (no per-step gradient/update norms
            for ``torch.optim`` optimizers; ``path_length`` is then NaN).
        device: ``cpu`` (default), ``cuda``, ``cuda:N``, ``auto``.
        dtype: ``float32``/``float64`` (default: the model's).
        seed: batch order and stochastic layers (``None`` draws one and records it).
        shuffle: seeded reshuffle every epoch (``False``: in order).
        snapshot_every: steps between parameter snapshots (0: one per epoch; ``None``: only the first
            and the last); refused when they would exceed ``max_snapshot_bytes``.
        record_every: per-step histories record every this many steps.
        eval_every: epochs between evaluations (the last epoch is always evaluated).
        eval_batch_size: evaluation chunk size.
        checkpoint_dir: write an atomic checkpoint there after every epoch.
        resume: continue from the checkpoint in ``checkpoint_dir`` (refused if it was written with another
            signature or initial model).
        stop_after_epochs: stop after this many epochs of this call (simulates an interruption; the
            result then has status ``not_converged``).
        log: ``"tensorboard"`` and/or ``"mlflow"``: export the monitors (:mod:`tamelab.train._export`).
        log_dir: the TensorBoard directory or the MLflow tracking URI.
        input_key: the input key of dict batches (found automatically when not given).
        target_key: the target key of dict batches.
        inplace: train the caller's ``model`` itself (moved to ``device``/``dtype``).
        max_snapshot_bytes: refuse a run whose parameter snapshots would exceed this many bytes.
        config: extra JSON fields recorded in ``result.config`` and compared on resume.
        desc: the label of the progress bar.

    Returns:
        :class:`TrainResult`.
    """
    t0 = time.perf_counter()
    # ---- validate everything before any work -------------------------------------------------
    src_model = as_model(model)
    dev = resolve_device(device)
    dt = model_dtype(src_model, dtype)
    lossf = resolve_loss(loss)
    epochs = _pos_int("epochs", epochs)
    if batch_size is not None:
        batch_size = _pos_int("batch_size", batch_size)
    record_every = _pos_int("record_every", record_every)
    eval_every = _pos_int("eval_every", eval_every)
    if snapshot_every is not None:
        snapshot_every = _pos_int("snapshot_every", snapshot_every, lo=0)
    if stop_after_epochs is not None:
        stop_after_epochs = _pos_int("stop_after_epochs", stop_after_epochs)
    if resume and checkpoint_dir is None:
        raise InputError("resume", "needs a checkpoint_dir", "pass checkpoint_dir=... (CLI: --out)")
    seed = resolve_seed(seed)
    recs = resolve_recorders(recorders)
    from ._export import export_recorders

    recs = resolve_recorders([*recs, *export_recorders(log, log_dir, checkpoint_dir)])

    if inplace:
        work = src_model.to(device=dev, dtype=dt)
        source_ids = None
    else:
        try:
            work = copy.deepcopy(src_model)
        except Exception as e:  # noqa: BLE001 - any failure to copy a user module is bad input
            raise InputError(
                "model",
                f"cannot be copied for training ({type(e).__name__}: {e})",
                "pass inplace=True to train it in place",
            ) from None
        work = work.to(device=dev, dtype=dt)
        source_ids = {id(p): k for k, p in src_model.named_parameters()}
    named = [(k, p) for k, p in work.named_parameters() if p.requires_grad]
    if not named:
        raise InputError("model", "has no trainable parameters (requires_grad=True)", "unfreeze some parameters")
    names = [k for k, _ in named]
    plist = [p for _, p in named]
    opt = _Optim(optimizer, lr, plist, names, source_ids)

    batches = _TrainBatches(
        data,
        targets,
        batch_size=batch_size,
        shuffle=shuffle,
        input_key=input_key,
        target_key=target_key,
        device=dev,
        dtype=dt,
        seed=seed,
    )
    test_d, test_t, test_source = _test_data(test, input_key, target_key, dev, dt)
    _trial(work, batches, test_d, lossf, dev, dt)

    n_params = sum(p.numel() for p in plist)
    n_snap = (
        2
        if snapshot_every is None
        else epochs + 2
        if snapshot_every == 0
        else epochs * math.ceil(batches.n / (batches.batch_size or batches.n)) // snapshot_every + 3
    )
    snap_bytes = n_snap * n_params * plist[0].element_size()
    if snap_bytes > max_snapshot_bytes:
        raise InputError(
            "snapshot_every",
            f"{n_snap} snapshots of {n_params:,} parameters need "
            f"{snap_bytes / 2**30:.1f} GiB (limit {max_snapshot_bytes / 2**30:.1f} GiB)",
            "snapshot less often (larger snapshot_every, or None) or raise max_snapshot_bytes",
        )

    signature = _jsonable(
        {
            "model": f"{type(src_model).__module__}.{type(src_model).__qualname__}",
            "parameters": {k: list(p.shape) for k, p in named},
            "loss": lossf.name,
            "optimizer": opt.describe,
            "epochs": epochs,
            "batch_size": batches.batch_size,
            "seed": seed,
            "dtype": str(dt).removeprefix("torch."),
            "shuffle": shuffle,
            "n_train": batches.n,
            "snapshot_every": snapshot_every,
            "record_every": record_every,
            "eval_every": eval_every,
            "recorders": [r.name for r in recs],
            **(config or {}),
        }
    )

    # ---- state ------------------------------------------------------------------------------
    init_model = copy.deepcopy(work).eval()
    snapshots = [{k: p.detach().to("cpu", copy=True) for k, p in named}]
    snapshot_steps = [0]
    theta0_flat = torch.cat([p.detach().reshape(-1) for p in plist]).clone()
    history: dict[str, list] = {"step": [], "epoch": []}
    for r in recs:
        for k in (*r.step_keys, *r.epoch_keys, *r.other_keys):
            history[k] = []
    ctx = TrainContext(
        model=work,
        names=names,
        params=plist,
        loss=lossf,
        device=dev,
        dtype=dt,
        seed=seed,
        epochs=epochs,
        eval_every=eval_every,
        record_every=record_every,
        train_data=batches.data,
        test_data=test_d,
        train_tensors=batches.tensors,
        test_tensors=test_t,
        theta0_flat=theta0_flat,
        optimizer=opt.torch_opt or opt.transform,
        history=history,
        signature=signature,
        norms=bool(recs),
    )
    ctx.opt_state = opt.transform.init(ctx.param_dict()) if opt.transform is not None else None
    start_epoch, resumed = 0, None
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if resume and ckpt is not None:
        loaded = load_checkpoint(ckpt, signature)
        if loaded is not None:
            try:
                start_epoch, resumed = _restore(loaded, ctx, opt, recs, snapshots, snapshot_steps)
            except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as e:
                if isinstance(e, InputError):
                    raise
                raise InputError(
                    "--resume",
                    f"the checkpoint in {ckpt} is incomplete or corrupt "
                    f"({type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''})",
                    "drop --resume to start afresh",
                ) from None

    for r in recs:
        r.start(ctx)
    work.train()
    epochs_this_call, last_epoch = 0, start_epoch - 1
    rng_devices = [dev.index if dev.index is not None else torch.cuda.current_device()] if dev.type == "cuda" else []
    try:
        for epoch in progress(range(start_epoch, epochs), desc=desc, total=epochs - start_epoch):
            ctx.epoch = epoch
            with torch.random.fork_rng(devices=rng_devices):
                torch.manual_seed(int(np.random.SeedSequence([seed, epoch, 2]).generate_state(1)[0]))
                for pos, x, t in batches.epoch(epoch):
                    info = _step(ctx, opt, x, t, epoch + pos)
                    for r in recs:
                        r.on_step(ctx, info)
                    if snapshot_every and ctx.step % snapshot_every == 0:
                        snapshots.append({k: p.detach().to("cpu", copy=True) for k, p in zip(names, plist)})
                        snapshot_steps.append(ctx.step)
            if snapshot_every == 0:
                snapshots.append({k: p.detach().to("cpu", copy=True) for k, p in zip(names, plist)})
                snapshot_steps.append(ctx.step)
            last_epoch = epoch
            for r in recs:
                r.on_epoch_end(ctx, epoch)
            work.train()
            if ckpt is not None:
                _save(ckpt, ctx, opt, recs, snapshots, snapshot_steps, signature, epoch)
            epochs_this_call += 1
            if stop_after_epochs is not None and epochs_this_call >= stop_after_epochs and epoch + 1 < epochs:
                break
    finally:
        for r in recs:
            r.finish(ctx)
    done = last_epoch + 1 == epochs
    if done and snapshot_steps[-1] != ctx.step:
        snapshots.append({k: p.detach().to("cpu", copy=True) for k, p in zip(names, plist)})
        snapshot_steps.append(ctx.step)
    work.eval()
    hist = {k: np.asarray(v, dtype=np.float64) for k, v in history.items()}

    def last(key: str) -> float:
        return float(hist[key][-1]) if key in hist and len(hist[key]) else float("nan")

    def acc(key: str) -> float | None:
        v = last(key)
        return None if math.isnan(v) else v

    dist = float(torch.linalg.vector_norm(ctx.flat_params() - theta0_flat, dtype=torch.float64))
    exports = {}
    for r in recs:
        exports.update(getattr(r, "export", {}) or {})
    return TrainResult(
        status=Status.OK if done else Status.NOT_CONVERGED,
        seed=seed,
        seconds=time.perf_counter() - t0,
        config=signature,
        epochs_run=last_epoch + 1,
        steps=ctx.step,
        final_loss=last("loss"),
        final_train_loss=last("train_loss"),
        final_test_loss=last("test_loss"),
        final_train_acc=acc("train_acc"),
        final_test_acc=acc("test_acc"),
        dist_init=dist,
        path_length=ctx.path_length if ctx.norms else math.nan,
        n_params=n_params,
        widths=_widths(work),
        resumed_from_epoch=resumed,
        loss=lossf.name,
        optimizer=opt.name,
        device=str(dev),
        dtype=str(dt).removeprefix("torch."),
        batch_order=batches.order,
        test_source=test_source,
        recorders=[r.name for r in recs],
        exports=exports,
        model=work,
        init_model=init_model,
        train=data if targets is None else batches.data,
        test=test,
        history=hist,
        snapshots=snapshots,
        snapshot_steps=snapshot_steps,
    )


def _trial(model: nn.Module, batches: _TrainBatches, test: Data | None, lossf: Loss, dev, dt) -> None:
    """One forward pass and loss on two samples, in eval mode: shape and target errors become InputError."""
    if batches.tensors is not None:
        x, t = batches.tensors[0][:2], batches.tensors[1][:2]
    else:
        x, t = batches.data.first_batch(dev, dt)
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            try:
                out = model(x)
            except Exception as e:  # noqa: BLE001 - a user model rejecting the data is bad input
                raise InputError(
                    "model",
                    f"does not accept the data's inputs of shape {tuple(x.shape)} "
                    f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})",
                    "match the model's input shape, or name input_key=",
                ) from None
            if not isinstance(out, torch.Tensor):
                raise InputError(
                    "model",
                    f"returns {type(out).__name__}, not a tensor",
                    "wrap the model so that forward returns the output tensor",
                )
            try:
                val = lossf(out, t)
            except InputError:
                raise
            except Exception as e:  # noqa: BLE001
                raise InputError(
                    "loss",
                    f"{lossf.name} cannot compare outputs of shape {tuple(out.shape)} with "
                    f"targets of shape {tuple(t.shape)} and dtype {str(t.dtype).removeprefix('torch.')} "
                    f"({type(e).__name__})",
                    "choose a loss that fits the targets",
                ) from None
            if not isinstance(val, torch.Tensor) or val.numel() != 1:
                raise InputError(
                    "loss",
                    f"{lossf.name} returned {type(val).__name__} "
                    f"{tuple(val.shape) if isinstance(val, torch.Tensor) else ''}",
                    "the loss must return the mean over the batch (a scalar tensor)",
                )
    finally:
        model.train(was)


def _step(ctx: TrainContext, opt: _Optim, x: torch.Tensor, t: torch.Tensor, epoch_pos: float) -> StepInfo:
    model, plist, names = ctx.model, ctx.params, ctx.names
    if opt.transform is not None:
        out = model(x)
        loss = ctx.loss(out, t)
        lv = loss.item()
        _check_finite(lv, ctx)
        grads = torch.autograd.grad(loss, plist, allow_unused=True)
        g = {k: (gi if gi is not None else torch.zeros_like(p)) for k, gi, p in zip(names, grads, plist)}
        updates, ctx.opt_state = opt.transform.update(g, ctx.opt_state, ctx.param_dict())
        with torch.no_grad():
            for k, p in zip(names, plist):
                p.add_(updates[k])
        st = ctx.opt_state if isinstance(ctx.opt_state, dict) else {}
        gn = st.get("grad_norm")
        un = st.get("update_norm")  # computed by the transform already: don't pay twice
        gn = gn if gn is not None else tree_norm(g)
        un = un if un is not None else tree_norm(updates)
        lr_v = float(st.get("lr", math.nan))
    else:
        o = opt.torch_opt
        o.zero_grad(set_to_none=True)
        out = model(x)
        loss = ctx.loss(out, t)
        lv = loss.item()
        _check_finite(lv, ctx)
        loss.backward()
        g = {k: (p.grad.detach() if p.grad is not None else torch.zeros_like(p)) for k, p in zip(names, plist)}
        # norms in the parameters' own dtype (torch's reductions are blocked/pairwise: relative error at the
        # dtype's rounding level); a float64 upcast made these two reductions ~10x slower, ~15 % of a step
        if ctx.norms:
            gn = float(torch.linalg.vector_norm(torch.cat([v.reshape(-1) for v in g.values()])))
            before = ctx.flat_params()
            o.step()
            un = float(torch.linalg.vector_norm(ctx.flat_params().sub_(before)))
        else:  # no recorder reads them: a bare optimisation loop (e.g. the PAC-Bayes prior)
            o.step()
            gn = un = math.nan
        lr_v = float(o.param_groups[0].get("lr", math.nan))
    ctx.step += 1
    if ctx.norms:
        ctx.path_length += un
    recorded = ctx.step % ctx.record_every == 0
    if recorded:
        ctx.history["step"].append(ctx.step)
        ctx.history["epoch"].append(epoch_pos)
    return StepInfo(
        step=ctx.step,
        epoch=ctx.epoch,
        epoch_pos=epoch_pos,
        loss=lv,
        grad_norm=float(gn),
        update_norm=float(un),
        lr=lr_v,
        recorded=recorded,
        grads=g,
        inputs=x,
        targets=t,
        output=out.detach(),
    )


def _check_finite(lv: float, ctx: TrainContext) -> None:
    if not math.isfinite(lv):
        raise ComputationError(
            f"non-finite training loss at step {ctx.step} (epoch {ctx.epoch}); lower the learning rate"
        )


def _widths(model: nn.Module) -> list[int]:
    from ..models import linear_relu_modules

    mods = linear_relu_modules(model)
    if mods is None:
        return []
    lin = [m for m in mods if isinstance(m, nn.Linear)]
    return [lin[0].in_features] + [m.out_features for m in lin]


def _save(
    ckpt: Path,
    ctx: TrainContext,
    opt: _Optim,
    recs: list[Recorder],
    snapshots,
    snapshot_steps,
    signature: dict,
    epoch: int,
) -> None:
    tensors: dict[str, torch.Tensor] = {f"model/{k}": v for k, v in ctx.model.state_dict().items()}
    opt_meta: dict[str, Any] = {}
    flatten_state("opt", opt.state(ctx.opt_state), tensors, opt_meta)
    rec_meta: dict[str, Any] = {}
    for r in recs:
        flatten_state(f"rec/{r.name}", r.state_dict(), tensors, rec_meta)
    for i, snap in enumerate(snapshots):
        for k, v in snap.items():
            tensors[f"snap/{i}/{k}"] = v
    state = {
        "signature": signature,
        "epoch": epoch,
        "step": ctx.step,
        "path_length": ctx.path_length,
        "history": {k: [float(x) for x in v] for k, v in ctx.history.items()},
        "opt_meta": opt_meta,
        "rec_meta": rec_meta,
        "n_snapshots": len(snapshots),
        "snapshot_steps": snapshot_steps,
    }
    save_checkpoint(ckpt, tensors=tensors, state=state)


def _restore(
    loaded, ctx: TrainContext, opt: _Optim, recs: list[Recorder], snapshots: list, snapshot_steps: list
) -> tuple[int, int]:
    tensors, st = loaded
    init = snapshots[0]
    for k, v in init.items():
        ck = tensors.get(f"snap/0/{k}")
        if ck is None or ck.shape != v.shape or ck.dtype != v.dtype or not torch.equal(ck, v):
            raise InputError(
                "--resume",
                "the checkpoint was written from a different initial model",
                "pass the same initial model (and seed), or drop --resume",
            )
    sd = {k[len("model/") :]: v for k, v in tensors.items() if k.startswith("model/")}
    try:
        ctx.model.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        raise InputError(
            "--resume",
            f"the checkpoint's model state does not fit the model ({str(e).splitlines()[0]})",
            "drop --resume to start afresh",
        ) from None
    ctx.opt_state = opt.load(unflatten_state("opt", tensors, st["opt_meta"]), ctx.device)
    for r in recs:
        if f"rec/{r.name}" in st["rec_meta"] or f"rec/{r.name}" in tensors:
            r.load_state_dict(unflatten_state(f"rec/{r.name}", tensors, st["rec_meta"]))
    ctx.history.clear()
    ctx.history.update({k: list(v) for k, v in st["history"].items()})
    snapshots.clear()
    snapshots.extend([{k: tensors[f"snap/{i}/{k}"] for k in init} for i in range(st["n_snapshots"])])
    snapshot_steps[:] = st["snapshot_steps"]
    ctx.step, ctx.path_length = st["step"], st["path_length"]
    ctx.resumed_step = st["step"]
    return st["epoch"] + 1, st["epoch"]
