"""``tamelab bound MODEL --data D``: a PAC-Bayes certificate for a Gaussian posterior around MODEL."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from .._common import JSON_HELP, OUT_HELP, QUIET_HELP, finish


def bound_task(config: dict[str, Any]) -> dict[str, Any]:
    from ...bounds import pac_bayes_certificate
    from ...data import load_data
    from ...errors import InputError
    from ...models import load, mlp, widths_of

    model = load(config["model"])
    train = load_data(config.get("data", "digits"), split="train", seed=config.get("split_seed", 0))
    test = load_data(config.get("data", "digits"), split="test", seed=config.get("split_seed", 0))
    init = None
    if config.get("init_model"):
        init = load(config["init_model"])
    elif config.get("init_seed") is not None:
        init = mlp(widths_of(model), seed=int(config["init_seed"]))
    if config.get("prior", "data") == "init" and init is None:
        raise InputError("--prior init", "needs the network at initialisation", "pass --init-model FILE or --init-seed S")
    res = pac_bayes_certificate(model, train, test, prior=config.get("prior", "data"), init_model=init,
                                delta=float(config.get("delta", 0.025)), delta_mc=float(config.get("delta_mc", 0.01)),
                                mc_samples=int(config.get("mc_samples", 1000)), epochs=int(config.get("epochs", 60)),
                                seed=int(config.get("seed", 0)))
    return res.to_dict()


def register(app: typer.Typer) -> None:
    from ...parallel import register_task

    register_task("bound", bound_task)

    @app.command("bound")
    def bound_cmd(
        model: Path = typer.Argument(..., help="ReLU MLP (.safetensors)"),
        data: str = typer.Option("digits", "--data"),
        prior: str = typer.Option("data", "--prior", help="data (prior trained on a held-out half) | init (prior at initialisation)"),
        init_model: Optional[Path] = typer.Option(None, "--init-model", help="the network at initialisation (for --prior init)"),
        init_seed: Optional[int] = typer.Option(None, "--init-seed", help="regenerate the init with tamelab.models.mlp(seed=S)"),
        delta: float = typer.Option(0.025, "--delta", help="confidence of the PAC-Bayes bound"),
        delta_mc: float = typer.Option(0.01, "--delta-mc", help="confidence of the Monte-Carlo error term"),
        mc_samples: int = typer.Option(1000, "--mc-samples"),
        epochs: int = typer.Option(60, "--epochs", help="posterior optimisation epochs"),
        seed: int = typer.Option(0, "--seed", min=0),
        out: Optional[str] = typer.Option(None, "--out", help=OUT_HELP),
        json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
        quiet: bool = typer.Option(False, "--quiet", help=QUIET_HELP),
    ) -> None:
        """Optimise a Gaussian posterior around MODEL and print its PAC-Bayes risk certificate."""
        from ..._progress import set_quiet

        set_quiet(quiet or json_out)
        cfg = {"model": str(model), "data": data, "prior": prior, "init_model": str(init_model) if init_model else None,
               "init_seed": init_seed, "delta": delta, "delta_mc": delta_mc, "mc_samples": mc_samples, "epochs": epochs, "seed": seed}
        finish("bound", bound_task(cfg), config=cfg, out=out, json_out=json_out, quiet=quiet)
