"""Task ``bound``: a PAC-Bayes risk certificate for a Gaussian posterior around a model."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import field_validator

from ..errors import InputError
from ._load import load_task_data, load_task_model
from ._registry import Task, register_task
from ._spec import DataFields, ModelFields, SeedField, check_model_spec, option

__all__ = ["BoundConfig", "run_bound"]


class BoundConfig(ModelFields, DataFields, SeedField):
    """``tamelab bound MODEL``: optimise a Gaussian posterior around MODEL and certify its risk."""

    prior: Literal["data", "init"] = option("data", "data (prior trained on a held-out half) | init (prior at "
                                                    "initialisation)")
    init_model: str | None = option(None, "the network at initialisation (train writes OUT/init.safetensors)")
    init_seed: int | None = option(None, "regenerate the initialisation with tamelab.models.mlp(seed=S)", ge=0)
    delta: float = option(0.025, "confidence of the PAC-Bayes bound", gt=0, lt=1)
    delta_mc: float = option(0.01, "confidence of the Monte-Carlo error term", gt=0, lt=1)
    mc_samples: int = option(1000, "posterior samples of the Monte-Carlo error term", ge=1)
    epochs: int = option(60, "posterior optimisation epochs", ge=1)
    prior_epochs: int = option(40, "epochs of the data-dependent prior", ge=1)
    lr: float = option(1e-3, "learning rate of the posterior optimisation", gt=0)
    max_mc_samples: int = option(100_000, "refuse more Monte-Carlo samples than this (each a pass over the bound "
                                          "half)", ge=1, record=False)

    @field_validator("init_model")
    @classmethod
    def _init_model(cls, v: str | None) -> str | None:
        return None if v is None else check_model_spec(v, field="init_model")

    def check(self) -> None:
        """The Monte-Carlo budget; ``prior = "init"`` needs the initialisation."""
        if self.mc_samples > self.max_mc_samples:
            raise InputError("mc_samples", f"{self.mc_samples:.3g} samples, each a forward pass over the bound half "
                                           f"(limit {self.max_mc_samples:.3g})",
                             "use fewer --mc-samples or raise --max-mc-samples")
        if self.prior == "init" and self.init_model is None and self.init_seed is None:
            raise InputError("prior", "init needs the network at initialisation", "pass --init-model FILE or --init-seed S")


def run_bound(cfg: BoundConfig, *, out_dir: Any = None) -> Any:
    """The ``bound`` task: :func:`tamelab.bounds.pac_bayes_certificate` on the train/test split of ``data``."""
    from ..bounds import pac_bayes_certificate
    from ..models import mlp, widths_of

    model = load_task_model(cfg.model, cfg.weights)
    kw = dict(split_seed=cfg.split_seed, input_key=cfg.input_key, target_key=cfg.target_key)
    train = load_task_data(cfg.data, split="train", **kw)
    test = load_task_data(cfg.data, split="test", **kw)
    init = None
    if cfg.init_model:
        init = load_task_model(cfg.init_model, field="init_model")
    elif cfg.init_seed is not None:
        init = mlp(widths_of(model), seed=cfg.init_seed)
    # NOTE: pac_bayes_certificate names its arguments as CLI flags; the runner renames them to fields.
    return pac_bayes_certificate(model, train, test, prior=cfg.prior, init_model=init, delta=cfg.delta,
                                 delta_mc=cfg.delta_mc, mc_samples=cfg.mc_samples, epochs=cfg.epochs,
                                 prior_epochs=cfg.prior_epochs, lr=cfg.lr, seed=cfg.seed)


register_task(Task("bound", BoundConfig, run_bound,
                   "Optimise a Gaussian posterior around MODEL and print its PAC-Bayes risk certificate."))
