"""Task ``atlas``: the geometric atlas (``report.html``) of the built-in MLP or of any model.

What ``tamelab atlas`` does, as a task a sweep can run: the atlas TOML (default: the shipped
``default.toml``) merged with the fields given here, then :func:`tamelab.atlas.run_atlas` (the built-in
MLP trained from the config) or, with ``model``, :func:`tamelab.atlas.atlas` on that model. The atlas
writes its own run directory (figures, ``model.safetensors``, ``report.html``, ``result.json`` last).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import field_validator, model_validator

from ..errors import InputError
from ._registry import Task, register_task
from ._spec import DeviceField, TaskConfig, option

__all__ = ["AtlasTaskConfig", "run_atlas_task", "atlas_config_dict"]

#: ``[train]`` fields that only describe the built-in MLP (refused with ``model`` when the user sets them).
BUILTIN_ONLY = ("widths",)


class AtlasTaskConfig(TaskConfig):
    """``tamelab atlas``: every section of the atlas on the built-in MLP (trained from the config) or a model."""

    atlas_config: str | None = option(
        None, "TOML atlas config (default: the shipped default.toml)", flag="--config", metavar="FILE.toml"
    )
    model: str | None = option(
        None, "your model: package.module:factory (default: the built-in MLP of the config)", metavar="MODEL"
    )
    weights: str | None = option(None, "safetensors weights loaded into MODEL")
    init_weights: str | None = option(
        None, "MODEL's weights at initialisation (with no_train: the PAC-Bayes prior's start)"
    )
    data: str | None = option(
        None, "digits | mnist1d | a generator | FILE.npz | an image folder (overrides the config)"
    )
    no_train: bool = option(False, "atlas MODEL as given (already trained)")
    loss: str | None = option(None, "loss name (cross_entropy, mse, nll, ...)")
    device: str | None = option(None, DeviceField.model_fields["device"].description or "")
    dtype: Literal["float32", "float64"] | None = option(None, "float32 | float64")
    format: Literal["png", "svg", "pdf"] = option("png", "also write every figure as svg or pdf (png: PNG only)")
    quick: bool = option(False, "CI-sized sections")
    sections: list[str] | None = option(None, "section ids to run (default: all)")
    skip: list[str] | None = option(None, "section ids to skip")
    seed: int | None = option(None, "training seed (overrides the config)", ge=0)
    epochs: int | None = option(None, "training epochs (overrides the config)", ge=1)

    @field_validator("sections", "skip", mode="before")
    @classmethod
    def _names(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [s.strip() for s in v.split(",") if s.strip()]
        return v

    @model_validator(mode="after")
    def _model_flags(self) -> AtlasTaskConfig:
        if self.model is None:
            for name, given in (
                ("no_train", self.no_train),
                ("weights", self.weights is not None),
                ("init_weights", self.init_weights is not None),
            ):
                if given:
                    raise InputError(name, "only applies with --model", "pass --model package.module:factory")
        for name in ("weights", "init_weights"):
            v = getattr(self, name)
            if v is not None and not Path(v).is_file():
                raise InputError(name, f"{v} not found", "pass a .safetensors file")
        return self

    def check(self) -> None:
        """The merged atlas config validates (before any work)."""
        atlas_config_dict(self)


def atlas_config_dict(cfg: AtlasTaskConfig) -> tuple[Any, str]:
    """The validated :class:`tamelab.atlas.AtlasConfig` (atlas TOML + this config's fields) and the loss name."""
    from ..atlas import AtlasConfig, default_config
    from ..config import load_toml, validate

    data = default_config()
    user_train: dict[str, Any] = {}
    src = str(cfg.atlas_config) if cfg.atlas_config else "atlas config"
    if cfg.atlas_config is not None:
        user = load_toml(cfg.atlas_config, field="--config")
        if "train" in user and not isinstance(user["train"], dict):
            raise InputError(f"{src} field 'train'", "must be a table", "write [train] with its fields")
        user_train = dict(user.get("train", {}))
        data = {**data, **user, "train": {**data.get("train", {}), **user_train}}
    if cfg.quick:
        data["quick"] = True
    if cfg.sections is not None:
        data["sections"] = list(cfg.sections)
    if cfg.skip is not None:
        data["skip"] = list(cfg.skip)
    data["format"] = cfg.format
    for key in ("seed", "epochs", "data", "loss", "device", "dtype"):
        val = getattr(cfg, key)
        if val is not None:
            data["train"][key] = val
    loss = "cross_entropy"
    if cfg.model is not None:
        # any registered loss with a model; the rest of the config is validated as usual
        loss = data["train"].pop("loss", "cross_entropy")
        bad = [k for k in BUILTIN_ONLY if k in user_train]
        if bad:
            raise InputError(
                f"{src} field 'train.{bad[0]}'", "describes the built-in MLP", "remove it when atlassing --model"
            )
    acfg = validate(AtlasConfig, data, source=src)
    if cfg.init_weights is not None and not cfg.no_train:
        raise InputError(
            "init_weights",
            "only applies with --no-train",
            "without --no-train the atlas trains the model and knows its initialisation",
        )
    return acfg, loss


def run_atlas_task(cfg: AtlasTaskConfig, *, out_dir: Any = None) -> dict[str, Any]:
    """The ``atlas`` task: write the atlas into ``out_dir`` and return the ``result`` of its ``result.json``."""
    from ..atlas import run_atlas

    acfg, loss = atlas_config_dict(cfg)
    if out_dir is None:
        from ._runner import default_out

        out_dir = default_out("atlas", cfg)
    if cfg.model is None:
        return run_atlas(acfg, out=out_dir)
    return _atlas_of_model(acfg, cfg, loss=loss, out=Path(out_dir))


def _atlas_of_model(acfg: Any, cfg: AtlasTaskConfig, *, loss: str, out: Path) -> dict[str, Any]:
    """``model``: load the factory model (and weights), load the data, call :func:`tamelab.atlas.atlas`."""
    from ..atlas import TrainSettings, atlas
    from ..data import load_data
    from ..models import load_model

    t = acfg.train
    kw: dict[str, Any] = {"seed": t.split_seed, "test_fraction": t.test_fraction}
    if t.n_samples is not None:
        kw["n"] = t.n_samples
    train = load_data(t.data, split="train", **kw)
    test = load_data(t.data, split="test", **kw)
    assert cfg.model is not None
    m = load_model(cfg.model, weights=cfg.weights)
    init = load_model(cfg.model, weights=cfg.init_weights, field="--init-weights") if cfg.init_weights else None
    settings: Any = (
        False
        if cfg.no_train
        else TrainSettings(
            optimizer=t.optimizer, lr=t.lr, epochs=t.epochs, batch_size=t.batch_size, snapshot_every=t.snapshot_every
        )
    )
    res = atlas(
        m,
        train,
        test,
        loss=loss,
        out=out,
        device=t.device,
        dtype=t.dtype,
        train_first=settings,
        init_model=init,
        sections=acfg.sections or None,
        skip=acfg.skip or None,
        quick=acfg.quick,
        seed=t.seed,
        format=acfg.format,
        name=str(t.data),
    )
    return dict(res.to_dict())


register_task(
    Task(
        "atlas",
        AtlasTaskConfig,
        run_atlas_task,
        "Write the geometric atlas (DIR/report.html) of the built-in MLP or of your --model.",
        writes_run_dir=True,
    )
)
