"""Task ``train``: a monitored, resumable training run (:func:`tamelab.train.fit`) into a run directory.

The run directory holds ``model.safetensors`` (the trained model) and ``init.safetensors`` (the same
network at initialisation, for a data-independent PAC-Bayes prior), written with
:func:`tamelab.models.save`, so ``hessian``, ``landscape``, ``connect``, ``bound`` (and a sweep over
a ``train`` sweep) can take them as ``MODEL``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import field_validator

from ..train import TrainConfig
from ._registry import Task, register_task
from ._spec import TaskConfig, check_data_spec, option, parse_int_list

__all__ = ["TrainTaskConfig", "run_train"]


class TrainTaskConfig(TrainConfig, TaskConfig):
    """``tamelab train``: the :class:`~tamelab.train.TrainConfig` fields, plus how the run is kept."""

    resume: bool = option(False, "continue from OUT/checkpoint if present", record=False)
    keep_checkpoint: bool = option(False, "keep OUT/checkpoint after success", record=False)
    log: list[Literal["tensorboard", "mlflow"]] = option(
        [], "export the monitors: tensorboard and/or mlflow", multiple=True, record=False
    )
    log_dir: str | None = option(
        None, "TensorBoard directory or MLflow tracking URI (default: OUT/tensorboard)", record=False
    )

    #: command-line help of the TrainConfig fields (whose descriptions live in tamelab.train).
    HELP: ClassVar[dict[str, str]] = {
        "data": "digits | mnist1d | a synthetic generator (moons, circles, spirals, clusters, teacher) | FILE.npz | "
        "an image folder",
        "n_samples": "samples to generate for mnist1d and the synthetic generators",
        "device": "cpu | cuda | cuda:N | auto",
        "max_memory_gb": "refuse runs whose estimated memory exceeds this (GiB)",
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
    def _widths_text(cls, v: Any) -> Any:
        return v if v is None else parse_int_list(v, field="widths")

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        from ..inputs import resolve_device

        resolve_device(v, field="device")
        return v

    def train_config(self) -> TrainConfig:
        """The plain :class:`~tamelab.train.TrainConfig` (what the checkpoint and the result record)."""
        return TrainConfig(**self.model_dump(include=set(TrainConfig.model_fields)))

    def recorded(self) -> dict[str, Any]:
        """The training config with the widths actually used is recorded by the result; here the fields."""
        return self.train_config().model_dump(mode="json")


def run_train(cfg: TrainTaskConfig, *, out_dir: Path | None = None) -> Any:
    """The ``train`` task: :func:`tamelab.train.fit`, checkpointing into ``out_dir/checkpoint``."""
    from ..train import fit

    ckpt = Path(out_dir) / "checkpoint" if out_dir is not None else None
    log_dir = cfg.log_dir or (
        str(Path(out_dir) / "tensorboard") if out_dir is not None and "tensorboard" in cfg.log else None
    )
    return fit(cfg.train_config(), checkpoint_dir=ckpt, resume=cfg.resume, log=list(cfg.log) or None, log_dir=log_dir)


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


register_task(
    Task(
        "train",
        TrainTaskConfig,
        run_train,
        "Train a ReLU MLP (monitored, deterministic from --seed, resumable with --resume); writes "
        "model.safetensors, init.safetensors and result.json.",
        models=_models,
        after=_after,
    )
)
