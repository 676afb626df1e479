"""``tamelab certify MODEL`` (tameness certificate) and ``tamelab stationarity MODEL`` (Goldstein ε-stationarity)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from .._common import JSON_HELP, OUT_HELP, QUIET_HELP, finish


def _load_model(path: str):
    from ...errors import InputError
    from ...models import load

    if not Path(path).is_file():
        raise InputError("MODEL", f"no such file {path!r}", "pass a .safetensors file written by tamelab train")
    return load(path)


def _input_dim(model) -> int:
    from torch import nn

    from ...errors import InputError

    for mod in model.modules():
        if isinstance(mod, nn.Linear):
            return int(mod.in_features)
    raise InputError("--input-dim", "cannot infer the input width (no Linear layer)", "pass --input-dim D")


def certify_task(config: dict[str, Any]) -> dict[str, Any]:
    import torch

    from ...errors import InputError
    from ...tame import LOSSES, certify

    model = _load_model(config["model"])
    loss = config.get("loss", "cross_entropy")
    if loss not in LOSSES:
        raise InputError("--loss", f"unknown loss {loss!r}", f"use {'|'.join(LOSSES)}")
    d = config.get("input_dim") or _input_dim(model)
    if int(d) < 1:
        raise InputError("--input-dim", f"must be >= 1, got {d}")
    dtype = next(model.parameters()).dtype
    res = certify(model, torch.zeros(2, int(d), dtype=dtype), loss=None if loss == "none" else loss)
    out = res.to_dict()
    out["input_dim"] = int(d)
    return out


def stationarity_task(config: dict[str, Any]) -> dict[str, Any]:
    from ...data import load_data
    from ...tame import stationarity

    model = _load_model(config["model"])
    data = load_data(config.get("data", "digits"), split=config.get("split", "train"), seed=int(config.get("split_seed", 0)))
    res = stationarity(model, data, loss=config.get("loss", "cross_entropy"), eps=float(config.get("eps", 1e-3)),
                       m=int(config.get("samples", 100)), seed=int(config.get("seed", 0)))
    out = res.to_dict()
    out.update({"data": config.get("data", "digits"), "split": config.get("split", "train"), "n": data.n})
    return out


def register(app: typer.Typer) -> None:
    from ...parallel import register_task

    register_task("certify", certify_task)
    register_task("stationarity", stationarity_task)

    @app.command("certify")
    def certify_cmd(
        model: Path = typer.Argument(..., help="network (.safetensors, tamelab.models.save)"),
        loss: str = typer.Option("cross_entropy", "--loss", help="cross_entropy | mse | none (the network alone)"),
        input_dim: Optional[int] = typer.Option(None, "--input-dim", help="input width (default: inferred from the first Linear)"),
        out: Optional[str] = typer.Option(None, "--out", help=OUT_HELP),
        json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
        quiet: bool = typer.Option(False, "--quiet", help=QUIET_HELP),
    ) -> None:
        """Tameness certificate: the smallest known o-minimal structure the network (+ loss) is definable in."""
        from ..._progress import set_quiet

        set_quiet(quiet or json_out)
        cfg = {"model": str(model), "loss": loss, "input_dim": input_dim}
        finish("certify", certify_task(cfg), config=cfg, out=out, json_out=json_out, quiet=quiet)

    @app.command("stationarity")
    def stationarity_cmd(
        model: Path = typer.Argument(..., help="network (.safetensors)"),
        data: str = typer.Option("digits", "--data"),
        split: str = typer.Option("train", "--split", help="train | test | all"),
        loss: str = typer.Option("cross_entropy", "--loss", help="cross_entropy | mse"),
        eps: float = typer.Option(1e-3, "--eps", help="radius ε of the Goldstein ε-subdifferential (parameter space)"),
        samples: int = typer.Option(100, "--samples", help="number m of sampled gradients"),
        seed: int = typer.Option(0, "--seed", min=0),
        out: Optional[str] = typer.Option(None, "--out", help=OUT_HELP),
        json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
        quiet: bool = typer.Option(False, "--quiet", help=QUIET_HELP),
    ) -> None:
        """Goldstein ε-stationarity certificate of the full-batch loss by gradient sampling (min-norm hull QP)."""
        from ..._progress import set_quiet

        set_quiet(quiet or json_out)
        cfg = {"model": str(model), "data": data, "split": split, "loss": loss, "eps": eps, "samples": samples, "seed": seed}
        finish("stationarity", stationarity_task(cfg), config=cfg, out=out, json_out=json_out, quiet=quiet)
