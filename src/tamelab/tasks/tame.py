"""Tasks ``certify``, ``stationarity`` and the two empirical studies of the tame-optimisation papers."""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import field_validator

from ..errors import InputError
from ._load import load_task_data, load_task_model
from ._registry import Annotated, Task, register_task
from ._spec import DataFields, ModelFields, SeedField, TaskConfig, option, parse_int_list, parse_number_list

__all__ = [
    "CertifyConfig",
    "run_certify",
    "StationarityConfig",
    "run_stationarity",
    "ReluPrimeZeroConfig",
    "run_relu_prime_zero",
    "AdamVsNagConfig",
    "run_adam_vs_nag",
    "input_width",
]


def input_width(model: Any) -> int:
    """The input width of a model whose first parametrised layer is ``nn.Linear``."""
    from torch import nn

    for mod in model.modules():
        if isinstance(mod, nn.Linear):
            return int(mod.in_features)
    raise InputError("input_dim", "cannot infer the input width (no Linear layer)", "pass --input-dim D")


class CertifyConfig(ModelFields):
    """``tamelab certify MODEL``: the smallest known o-minimal structure the network (+ loss) is definable in."""

    loss: str = option("cross_entropy", "a registry loss name, or none (the network alone)")
    input_dim: int | None = option(None, "input width (default: the first Linear layer's)", ge=1)

    @field_validator("loss")
    @classmethod
    def _loss(cls, v: str) -> str:
        if v.strip().lower() == "none":
            return "none"
        from ..losses import resolve_loss

        return resolve_loss(v, field="loss").name


def run_certify(cfg: CertifyConfig, *, out_dir: Any = None) -> Any:
    """The ``certify`` task: :func:`tamelab.tame.certify` on a zero input batch of the model's width."""
    from ..losses import resolve_loss
    from ..tame import LOSSES, certify

    model = load_task_model(cfg.model, cfg.weights)
    d = cfg.input_dim or input_width(model)
    dtype = next((p.dtype for p in model.parameters()), torch.float32)
    if cfg.loss == "none":
        loss: Any = None
    else:
        # certify knows the definability of the losses it names; any other registry loss goes as a callable
        loss = cfg.loss if cfg.loss in LOSSES else resolve_loss(cfg.loss)
    res = certify(model, torch.zeros(2, d, dtype=dtype), loss=loss)
    return Annotated(res, {"input_dim": d})


class StationarityConfig(ModelFields, DataFields, SeedField):
    """``tamelab stationarity MODEL``: Goldstein ε-stationarity of the full-batch loss by gradient sampling."""

    split: Literal["train", "test", "all"] = option("train", "which part of the data: train | test | all")
    loss: Literal["cross_entropy", "mse"] = option("cross_entropy", "cross_entropy | mse")
    eps: float = option(1e-3, "radius ε of the Goldstein ε-subdifferential (parameter space)", gt=0)
    samples: int = option(100, "number m of sampled gradients", ge=1)


def run_stationarity(cfg: StationarityConfig, *, out_dir: Any = None) -> Any:
    """The ``stationarity`` task: :func:`tamelab.tame.stationarity`."""
    from ..tame import stationarity

    model = load_task_model(cfg.model, cfg.weights)
    data = load_task_data(
        cfg.data, split=cfg.split, split_seed=cfg.split_seed, input_key=cfg.input_key, target_key=cfg.target_key
    )
    res = stationarity(model, data, loss=cfg.loss, eps=cfg.eps, m=cfg.samples, seed=cfg.seed)
    return Annotated(res, {"data": cfg.data, "split": cfg.split, "n": data.n})


class _StudyFields(TaskConfig):
    """Fields of every study: the seeds it averages over and the training epochs."""

    seeds: list[int] = option([0, 1, 2], "comma-separated training seeds")
    epochs: int | None = option(None, "training epochs (default: the study's)", ge=1)

    @field_validator("seeds", mode="before")
    @classmethod
    def _seeds(cls, v: Any) -> Any:
        s = parse_int_list(v, field="seeds")
        if not s or min(s) < 0:
            raise InputError("seeds", f"need one or more seeds >= 0, got {s}")
        return s


class ReluPrimeZeroConfig(_StudyFields):
    """``tamelab study relu-prime-zero``: precision × ReLU'(0) (Bertoin et al., NeurIPS 2021) on digits."""

    dtypes: list[Literal["float16", "bfloat16", "float32", "float64"]] = option(
        ["float16", "float32", "float64"], "float16 (emulated), bfloat16, float32, float64"
    )
    s_values: list[float] = option([0.0, 1.0], "values of ReLU'(0) to compare, in [0, 1]")
    quick: bool = option(False, "CI-sized: fewer seeds, epochs and samples")

    @field_validator("dtypes", mode="before")
    @classmethod
    def _dtypes(cls, v: Any) -> Any:
        return [d.strip() for d in v.split(",") if d.strip()] if isinstance(v, str) else v

    @field_validator("s_values", mode="before")
    @classmethod
    def _s(cls, v: Any) -> Any:
        s = parse_number_list(v, field="s_values")
        if not s or not all(0 <= x <= 1 for x in s):
            raise InputError("s_values", f"values of ReLU'(0) must lie in [0, 1], got {s}")
        return s


def _study_config(cfg: TaskConfig) -> dict[str, Any]:
    return {k: v for k, v in cfg.model_dump().items() if v is not None}


def run_relu_prime_zero(cfg: ReluPrimeZeroConfig, *, out_dir: Any = None) -> dict[str, Any]:
    """The study :func:`tamelab.tame.relu_prime_zero_study` (a JSON-ready dict)."""
    from ..tame import relu_prime_zero_study

    return relu_prime_zero_study(_study_config(cfg)).to_dict()


def _relu_prime_zero_figures(res: dict[str, Any], cfg: ReluPrimeZeroConfig) -> dict[str, Any]:
    from ..tame import plot_relu_prime_zero

    return {"relu_prime_zero": plot_relu_prime_zero(res)}


class AdamVsNagConfig(_StudyFields):
    """``tamelab study adam-vs-nag``: Adam (β1 = 0.99) vs NAG vs RMSProp on a digits autoencoder."""

    hidden: list[int] | None = option(None, "autoencoder hidden widths, e.g. 32,16,32")
    quick: bool = option(False, "CI-sized run")

    @field_validator("hidden", mode="before")
    @classmethod
    def _hidden(cls, v: Any) -> Any:
        if v is None:
            return None
        h = parse_int_list(v, field="hidden")
        if not h or min(h) < 1:
            raise InputError("hidden", f"widths must be >= 1, got {h}")
        return h


def run_adam_vs_nag(cfg: AdamVsNagConfig, *, out_dir: Any = None) -> dict[str, Any]:
    """The study :func:`tamelab.tame.adam_vs_nag_study` (a JSON-ready dict)."""
    from ..tame import adam_vs_nag_study

    return adam_vs_nag_study(_study_config(cfg)).to_dict()


def _adam_vs_nag_figures(res: dict[str, Any], cfg: AdamVsNagConfig) -> dict[str, Any]:
    from ..tame import plot_adam_vs_nag

    return {"adam_vs_nag": plot_adam_vs_nag(res)}


register_task(
    Task(
        "certify",
        CertifyConfig,
        run_certify,
        "Tameness certificate: the smallest known o-minimal structure the network (+ loss) is definable in.",
    )
)
register_task(
    Task(
        "stationarity",
        StationarityConfig,
        run_stationarity,
        "Goldstein ε-stationarity certificate of the full-batch loss by gradient sampling (min-norm hull QP).",
    )
)
register_task(
    Task(
        "study-relu-prime-zero",
        ReluPrimeZeroConfig,
        run_relu_prime_zero,
        "Train the same net with ReLU'(0)=0 and =1 in several precisions; count kinks hit; compare curves.",
        figures=_relu_prime_zero_figures,
    )
)
register_task(
    Task(
        "study-adam-vs-nag",
        AdamVsNagConfig,
        run_adam_vs_nag,
        "Adam with β1 = 0.99 vs NAG vs RMSProp on a digits autoencoder (learning rates tuned per method).",
        figures=_adam_vs_nag_figures,
    )
)
