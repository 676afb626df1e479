"""Task ``bound``: a PAC-Bayes risk certificate for a Gaussian posterior around a model."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import field_validator

from ..errors import InputError
from ._load import load_task_data, load_task_model
from ._registry import Task, register_task
from ._spec import DataFields, DeviceField, LossField, ModelFields, SeedField, check_model_spec, option

__all__ = ["BoundConfig", "run_bound"]


class BoundConfig(ModelFields, DataFields, LossField, SeedField, DeviceField):
    """``tamelab bound MODEL``: optimise a Gaussian posterior around MODEL and certify its 0-1 risk."""

    prior: Literal["data", "init"] = option(
        "data", "data (prior trained on a held-out half) | init (prior at initialisation)"
    )
    init_model: str | None = option(None, "the network at initialisation (train writes OUT/init.safetensors)")
    init_seed: int | None = option(
        None, "re-initialise MODEL's architecture with this seed as the data-independent start", ge=0
    )
    delta: float = option(0.025, "failure probability of the PAC-Bayes bound", gt=0, lt=1)
    delta_mc: float = option(0.01, "failure probability of the Monte-Carlo error term", gt=0, lt=1)
    mode: Literal["fast", "full"] = option(
        "fast",
        "fast (seconds on digits) | full (longer optimisation and Monte-Carlo estimates); both are valid certificates",
    )
    mc_samples: int | None = option(None, "posterior samples of the Monte-Carlo error term (default: the mode's)", ge=1)
    epochs: int | None = option(None, "posterior optimisation epochs (default: the mode's)", ge=1)
    prior_epochs: int | None = option(None, "epochs of the data-dependent prior (default: the mode's)", ge=0)
    lr: float = option(1e-3, "learning rate of the posterior optimisation", gt=0)
    dtype: Literal["float32", "float64"] | None = option(
        None, "precision of the stochastic network (default: the model's)"
    )
    max_work: float = option(1e9, "refuse runs estimated above this many sample-forward passes", gt=0, record=False)

    @field_validator("init_model")
    @classmethod
    def _init_model(cls, v: str | None) -> str | None:
        return None if v is None else check_model_spec(v, field="init_model")

    def check(self) -> None:
        """``prior = "init"`` needs the initialisation."""
        if self.prior == "init" and self.init_model is None and self.init_seed is None:
            raise InputError(
                "prior", "init needs the network at initialisation", "pass --init-model FILE or --init-seed S"
            )
        if self.delta + self.delta_mc >= 1:
            raise InputError("delta", f"delta + delta_mc must be < 1, got {self.delta + self.delta_mc}")


def run_bound(cfg: BoundConfig, *, out_dir: Any = None) -> Any:
    """The ``bound`` task: :func:`tamelab.bounds.pac_bayes_certificate` on the train/test split of ``data``."""
    from ..bounds import pac_bayes_certificate

    model = load_task_model(cfg.model, cfg.weights)
    kw: dict[str, Any] = dict(split_seed=cfg.split_seed, input_key=cfg.input_key, target_key=cfg.target_key)
    train = load_task_data(cfg.data, split="train", **kw)
    test = load_task_data(cfg.data, split="test", **kw)
    init = load_task_model(cfg.init_model, field="init_model") if cfg.init_model else None
    return pac_bayes_certificate(
        model,
        train,
        test,
        loss=cfg.loss,
        prior=cfg.prior,
        init_model=init,
        init_seed=cfg.init_seed,
        delta=cfg.delta,
        delta_mc=cfg.delta_mc,
        mode=cfg.mode,
        mc_samples=cfg.mc_samples,
        epochs=cfg.epochs,
        prior_epochs=cfg.prior_epochs,
        lr=cfg.lr,
        device=cfg.device,
        dtype=cfg.dtype,
        seed=cfg.seed,
        max_work=cfg.max_work,
    )


register_task(
    Task(
        "bound",
        BoundConfig,
        run_bound,
        "Optimise a Gaussian posterior around MODEL and print its PAC-Bayes risk certificate.",
    )
)
