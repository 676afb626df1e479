"""Task ``train``: a monitored, resumable training run (:func:`tamelab.train.fit`) into a run directory.

The run directory holds ``model.safetensors`` (the trained model) and ``init.safetensors`` (the same
network at initialisation, for a data-independent PAC-Bayes prior), written with
:func:`tamelab.models.save`, so ``hessian``, ``landscape``, ``connect``, ``bound`` (and a sweep over
a ``train`` sweep) can take them as ``MODEL``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, ClassVar

from pydantic import field_validator

from ..errors import InputError
from ..train import TrainConfig
from ._registry import Task, register_task
from ._spec import TaskConfig, check_data_spec, option, parse_int_list

__all__ = ["TrainTaskConfig", "run_train", "training_memory", "check_checkpoint"]

_BYTES = {"float32": 4, "float64": 8}


def training_memory(widths: list[int], *, dtype: str = "float32", snapshots: int = 1) -> tuple[int, float]:
    """``(parameters, bytes)`` a training run of a ReLU MLP with ``widths`` holds at least.

    Parameters, gradients, two optimiser moments, the initial copy and every snapshot are each one
    copy of the parameter vector (activations of a batch are small beside them).

    >>> training_memory([2, 3, 1])
    (13, 312.0)
    """
    n = sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))
    return n, float(n * _BYTES.get(dtype, 8) * (5 + snapshots))


class TrainTaskConfig(TrainConfig, TaskConfig):
    """``tamelab train``: the :class:`~tamelab.train.TrainConfig` fields, plus how the run is kept."""

    resume: bool = option(False, "continue from OUT/checkpoint if present", record=False)
    keep_checkpoint: bool = option(False, "keep OUT/checkpoint after success", record=False)
    max_memory_gb: float = option(8.0, "refuse a network whose training needs more memory than this (GB)", gt=0,
                                  record=False)

    #: command-line help of the TrainConfig fields (whose descriptions live in tamelab.train).
    HELP: ClassVar[dict[str, str]] = {
        "data": "digits | a synthetic generator (moons, circles, spirals, clusters, teacher) | FILE.npz",
        "split_seed": "seed of the train/test split",
        "test_fraction": "fraction of the data held out for testing",
        "widths": "ReLU MLP widths, e.g. 64,64,64,10 (default: d,64,64,64,k)",
        "loss": "cross_entropy | mse",
        "optimizer": "sgd | heavy_ball | nag | rmsprop | adam | rmsprop_dmu | adam_dmu",
        "lr": "learning rate (the schedule's base step)",
        "momentum": "momentum of heavy_ball/nag",
        "beta1": "first-moment decay of adam",
        "beta2": "second-moment decay of rmsprop/adam",
        "eps": "denominator offset of rmsprop/adam",
        "weight_decay": "decoupled weight decay",
        "schedule": "constant | inv_t | inv_sqrt_t | robbins_monro",
        "schedule_b": "offset b of the decaying schedules",
        "schedule_p": "exponent p of robbins_monro",
        "epochs": "passes over the training data",
        "batch_size": "minibatch size",
        "seed": "initialisation and batch-order seed",
        "dtype": "float32 | float64",
        "snapshot_every": "steps between snapshots (0 = once per epoch)",
        "record_every": "steps between recorded monitors",
        "eval_every": "epochs between full train/test evaluations",
    }

    @field_validator("data")
    @classmethod
    def _data_exists(cls, v: str) -> str:
        return check_data_spec(v, field="data")

    @field_validator("widths", mode="before")
    @classmethod
    def _widths(cls, v: Any) -> Any:
        if v is None:
            return None
        w = parse_int_list(v, field="widths")
        if len(w) < 2:
            raise InputError("widths", f"needs at least the input and output widths, got {w}", "e.g. 64,64,10")
        if any(x < 1 for x in w):
            raise InputError("widths", f"every width must be >= 1, got {w}", "e.g. 64,64,10")
        return w

    def check(self) -> None:
        """The memory the network needs, within ``max_memory_gb``."""
        if not self.widths:
            return
        snaps = self.epochs + 1 if self.snapshot_every == 0 else 1
        n, need = training_memory(list(self.widths), dtype=self.dtype, snapshots=min(snaps, 10_000))
        if need > self.max_memory_gb * 1e9:
            raise InputError("widths", f"{self.widths} has {n:.3g} parameters: training needs about {need / 1e9:.3g} GB "
                                       f"(limit {self.max_memory_gb:g} GB)",
                             "use smaller widths or raise --max-memory-gb")

    def train_config(self) -> TrainConfig:
        """The plain :class:`~tamelab.train.TrainConfig` (what the checkpoint and the result record)."""
        return TrainConfig(**self.model_dump(include=set(TrainConfig.model_fields)))

    def recorded(self) -> dict[str, Any]:
        """The training config with the widths actually used is recorded by the result; here the fields."""
        return self.train_config().model_dump(mode="json")


def check_checkpoint(ckpt: Path) -> None:
    """Refuse (one line) a checkpoint that cannot be read, before any training."""
    f = ckpt / "state.safetensors"
    if ckpt.is_symlink():
        raise InputError("resume", f"{ckpt} is a symbolic link", "remove it, or drop --resume")
    if not f.exists():
        return
    try:
        from safetensors import safe_open

        with safe_open(str(f), framework="pt") as fh:
            meta = fh.metadata() or {}
            keys = list(fh.keys())
        state = json.loads(meta["tamelab_state"])
        if not isinstance(state, dict) or not keys:
            raise ValueError("empty state")
    except Exception as e:  # noqa: BLE001 - any failure to read means the same to the user
        raise InputError("resume", f"{f} is corrupt or not a tamelab checkpoint ({type(e).__name__})",
                         f"delete {ckpt} to start afresh, or drop --resume") from None


def run_train(cfg: TrainTaskConfig, *, out_dir: Path | None = None) -> Any:
    """The ``train`` task: :func:`tamelab.train.fit`, checkpointing into ``out_dir/checkpoint``."""
    from ..train import fit

    ckpt = Path(out_dir) / "checkpoint" if out_dir is not None else None
    if cfg.resume and ckpt is not None:
        check_checkpoint(ckpt)
    return fit(cfg.train_config(), checkpoint_dir=ckpt, resume=cfg.resume)


def _models(res: Any) -> dict[str, Any]:
    out = {}
    if getattr(res, "model", None) is not None:
        out["model.safetensors"] = res.model
    if getattr(res, "init_model", None) is not None:
        out["init.safetensors"] = res.init_model
    return out


def _after(cfg: TrainTaskConfig, out_dir: Path) -> None:
    if not cfg.keep_checkpoint:
        shutil.rmtree(Path(out_dir) / "checkpoint", ignore_errors=True)


register_task(Task("train", TrainTaskConfig, run_train,
                   "Train a ReLU MLP (monitored, deterministic from --seed, resumable with --resume); writes "
                   "model.safetensors, init.safetensors and result.json.", models=_models, after=_after))
