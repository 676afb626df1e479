r"""``fit(config)``: train TameLab's built-in ReLU MLP on built-in or file data from a config.

A thin wrapper over the generic loop :func:`tamelab.train.train`: it validates a
:class:`TrainConfig` (TOML table ``[train]`` in atlas configs; every bad field is one
:class:`~tamelab.errors.InputError` naming it), loads the data (:func:`tamelab.data.load_data`),
builds ``tamelab.models.mlp(widths, seed=seed)``, estimates the memory the run needs (refused past
``max_memory_gb``), and calls :func:`~tamelab.train.train` with the configured transform and
schedule. Everything the loop guarantees holds: the same seed gives bitwise-identical runs, a run
resumed from its checkpoint equals the uninterrupted one, no pickle is read or written.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal, Sequence

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .._rng import resolve_seed
from ..errors import InputError
from ._schedules import make_schedule
from ._train import TrainResult, train

__all__ = ["TrainConfig", "fit", "estimate_memory"]

_FINITE = {"allow_inf_nan": False}


class TrainConfig(BaseModel):
    """Training configuration (TOML table ``[train]`` in atlas configs; ``tamelab train --config``).

    Every float must be finite (``lr = inf`` is refused); ``widths`` must list at least the input and
    output widths, each >= 1; the run's memory (:func:`estimate_memory`) must stay under
    ``max_memory_gb``.
    """

    model_config = ConfigDict(extra="forbid")

    data: str = Field("digits", description="digits | mnist1d | a generator name | FILE.npz | an image folder")
    n_samples: int | None = Field(None, ge=1, description="samples to generate for mnist1d and the synthetic "
                                                          "generators (default: each generator's own)")
    split_seed: int = Field(0, ge=0)
    test_fraction: float = Field(0.2, gt=0, lt=1, **_FINITE)
    widths: list[int] | None = Field(None, description="ReLU MLP widths [d, h1, ..., k]; default [d, 64, 64, 64, k]")
    loss: Literal["cross_entropy", "mse"] = "cross_entropy"
    optimizer: Literal["sgd", "heavy_ball", "nag", "rmsprop", "adam", "rmsprop_dmu", "adam_dmu"] = "adam"
    lr: float = Field(1e-3, gt=0, **_FINITE)
    momentum: float = Field(0.9, ge=0, lt=1, **_FINITE)
    beta1: float = Field(0.9, ge=0, lt=1, **_FINITE)
    beta2: float = Field(0.999, ge=0, lt=1, **_FINITE)
    eps: float = Field(1e-8, gt=0, **_FINITE)
    weight_decay: float = Field(0.0, ge=0, **_FINITE)
    schedule: Literal["constant", "inv_t", "inv_sqrt_t", "robbins_monro"] = "constant"
    schedule_b: float = Field(1.0, gt=0, **_FINITE)
    schedule_p: float = Field(1.0, gt=0, **_FINITE)
    epochs: int = Field(20, ge=1, le=100000)
    batch_size: int = Field(64, ge=1)
    seed: int = Field(0, ge=0)
    dtype: Literal["float32", "float64"] = "float32"
    device: str = Field("cpu", description="cpu | cuda | cuda:N | auto")
    snapshot_every: int = Field(0, ge=0, description="steps between snapshots; 0 = once per epoch")
    record_every: int = Field(1, ge=1)
    eval_every: int = Field(1, ge=1, description="epochs between full-batch train/test evaluations (the last epoch "
                                                 "is always evaluated); each costs one forward pass over all the data")
    max_memory_gb: float = Field(4.0, gt=0, **_FINITE, description="refuse runs whose estimated memory (parameters, "
                                                                  "gradients, optimizer state, snapshots) exceeds this")

    @field_validator("widths")
    @classmethod
    def _widths(cls, v: list[int] | None) -> list[int] | None:
        if v is None:
            return v
        if len(v) < 2:
            raise ValueError(f"needs at least the input and output widths, got {v} "
                             "(omit widths for the default [d, 64, 64, 64, k])")
        bad = [i for i, w in enumerate(v) if w < 1]
        if bad:
            raise ValueError(f"layer {bad[0]} has width {v[bad[0]]}; every width must be >= 1")
        return v


_STATE_COPIES = {"sgd": 0, "heavy_ball": 1, "nag": 1, "rmsprop": 1, "adam": 2, "rmsprop_dmu": 2, "adam_dmu": 2}


def estimate_memory(widths: Sequence[int], *, dtype: str = "float32", optimizer: str = "adam", epochs: int = 1,
                    batch_size: int = 64, n_samples: int = 0, snapshot_every: int = 0,
                    steps_per_epoch: int = 1) -> dict[str, float]:
    r"""Bytes a :func:`fit` run of a ReLU MLP needs, before anything is allocated.

    :math:`P=\sum_i (w_i+1)\,w_{i+1}` parameters, held as parameters, gradient, update, optimizer
    state (0–2 copies) and snapshots; plus activations of one batch and of one evaluation pass
    (:math:`\sum_i w_i` per sample). Returns the parameter count and the bytes of each part.
    """
    item = 8 if dtype == "float64" else 4
    P = sum((int(a) + 1) * int(b) for a, b in zip(widths[:-1], widths[1:]))
    n_snap = epochs + 2 if snapshot_every == 0 else epochs * steps_per_epoch // snapshot_every + 3
    per_sample = sum(int(w) for w in widths)
    parts = {
        "parameters": P * item * (3 + _STATE_COPIES.get(optimizer, 2)),
        "snapshots": P * item * n_snap,
        "activations": per_sample * item * (2 * batch_size + min(n_samples, 8192)),
    }
    return {"n_params": float(P), **{k: float(v) for k, v in parts.items()}, "total": float(sum(parts.values()))}


def _check_memory(cfg: TrainConfig, widths: Sequence[int], n: int) -> None:
    est = estimate_memory(widths, dtype=cfg.dtype, optimizer=cfg.optimizer, epochs=cfg.epochs,
                          batch_size=cfg.batch_size, n_samples=n, snapshot_every=cfg.snapshot_every,
                          steps_per_epoch=max(1, math.ceil(max(n, 1) / cfg.batch_size)))
    if est["total"] > cfg.max_memory_gb * 2**30:
        raise InputError("config field 'widths'", f"{widths} has {est['n_params']:.3g} parameters; the run would "
                         "need about "
                         f"{est['total'] / 2**30:.3g} GiB (limit max_memory_gb = {cfg.max_memory_gb:g})",
                         "use narrower layers, or raise max_memory_gb in the config")


def fit(
    cfg: TrainConfig | dict[str, Any] | None = None,
    *,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    stop_after_epochs: int | None = None,
    log: str | Sequence[str] | None = None,
    log_dir: str | Path | None = None,
) -> TrainResult:
    """Train the built-in ReLU MLP described by ``cfg`` with monitors (see the module docstring).

    Args:
        cfg: a :class:`TrainConfig` (or a dict validated into one).
        checkpoint_dir: where to write an atomic checkpoint after every epoch.
        resume: continue from the checkpoint in ``checkpoint_dir`` if there is one.
        stop_after_epochs: stop after this many epochs *of this call* (a test hook that simulates an
            interrupted run; the result then has status ``NOT_CONVERGED``).
        log, log_dir: export the monitors to TensorBoard/MLflow (see :func:`tamelab.train.train`).
    """
    from ..config import validate
    from ..data import load_data
    from ..models import mlp
    from ._transforms import make_optimizer

    if cfg is None:
        cfg = TrainConfig()
    elif isinstance(cfg, dict):
        cfg = validate(TrainConfig, cfg, source="train config")
    if cfg.widths:  # refuse an impossible architecture before loading (or generating) any data
        _check_memory(cfg, cfg.widths, 0)
    seed = resolve_seed(cfg.seed)
    kw = {"seed": cfg.split_seed, "test_fraction": cfg.test_fraction}
    if cfg.n_samples is not None:
        kw["n"] = cfg.n_samples
    train_ds = load_data(cfg.data, split="train", field="data (--data)", **kw)
    test_ds = load_data(cfg.data, split="test", field="data (--data)", **kw)
    # the built-in MLP takes flat vectors: images (N×C×H×W) are flattened; a CNN is trained with train()
    train_ds, test_ds = train_ds.flat(), test_ds.flat()
    classify = cfg.loss == "cross_entropy"
    if classify and train_ds.y is None:
        raise InputError("loss", f"cross_entropy needs integer labels y; {cfg.data!r} has real targets Y",
                         "use loss = 'mse'")
    k_out = (train_ds.n_classes if train_ds.y is not None and (classify or train_ds.Y is None)
             else train_ds.Y.shape[1])
    if classify and test_ds.y is not None and test_ds.n:
        k_out = max(k_out, int(test_ds.y.max()) + 1)
    widths = list(cfg.widths) if cfg.widths else [train_ds.d, 64, 64, 64, k_out]
    if widths[0] != train_ds.d:
        raise InputError("config field 'widths'",
                         f"first width {widths[0]} != input dimension {train_ds.d} of {cfg.data!r}",
                         f"use widths starting with {train_ds.d}")
    if widths[-1] != k_out:
        raise InputError("config field 'widths'", f"last width {widths[-1]} != {k_out} outputs needed by {cfg.data!r}",
                         f"use widths ending with {k_out}")
    _check_memory(cfg, widths, train_ds.n + test_ds.n)
    cfg_dict = cfg.model_dump()
    cfg_dict["widths"] = widths

    def pairs(ds):
        if ds is None or ds.n == 0:
            return None
        return (ds.X, ds.Y) if not classify and ds.Y is not None else ds

    sched = make_schedule(cfg.schedule, cfg.lr, b=cfg.schedule_b, p=cfg.schedule_p)
    opt = make_optimizer(cfg.optimizer, sched, momentum=cfg.momentum, beta1=cfg.beta1, beta2=cfg.beta2, eps=cfg.eps,
                         weight_decay=cfg.weight_decay)
    dtype = "float64" if cfg.dtype == "float64" else "float32"
    import torch

    model = mlp(widths, seed=seed, dtype=torch.float64 if dtype == "float64" else torch.float32)
    res = train(model, pairs(train_ds), test=pairs(test_ds), loss=cfg.loss, optimizer=opt, epochs=cfg.epochs,
                batch_size=cfg.batch_size, seed=seed, dtype=dtype, device=cfg.device,
                snapshot_every=cfg.snapshot_every, record_every=cfg.record_every, eval_every=cfg.eval_every,
                checkpoint_dir=checkpoint_dir, resume=resume, stop_after_epochs=stop_after_epochs,
                log=log, log_dir=log_dir, inplace=True, config=cfg_dict)
    res.config = cfg_dict
    res.widths = widths
    res.train, res.test = train_ds, test_ds
    res.test_source = test_ds.meta.get("test_source", "split")
    return res
