"""``tamelab train``: train a ReLU MLP with monitors; writes model.safetensors + result.json."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Optional

import typer

from .._common import JSON_HELP, OUT_HELP, QUIET_HELP, finish, parse_ints


def train_task(config: dict[str, Any]) -> dict[str, Any]:
    """Sweep task: train with ``config`` (TrainConfig fields) and return the JSON result."""
    from ...train import fit

    return fit(config).to_dict()


def register(app: typer.Typer) -> None:
    from ...parallel import register_task

    register_task("train", train_task)

    @app.command("train")
    def train_cmd(
        data: str = typer.Option("digits", "--data", help="digits | clusters | moons | circles | spirals | teacher | FILE.npz"),
        out: Optional[str] = typer.Option(None, "--out", help=OUT_HELP),
        seed: Optional[int] = typer.Option(None, "--seed", min=0, help="initialisation and batch-order seed"),
        config: Optional[Path] = typer.Option(None, "--config", help="TOML file with TrainConfig fields"),
        widths: Optional[str] = typer.Option(None, "--widths", help="e.g. 64,64,64,10 (default: d,64,64,64,k)"),
        optimizer: Optional[str] = typer.Option(None, "--optimizer", help="sgd | heavy_ball | nag | rmsprop | adam | rmsprop_dmu | adam_dmu"),
        lr: Optional[float] = typer.Option(None, "--lr"),
        schedule: Optional[str] = typer.Option(None, "--schedule", help="constant | inv_t | inv_sqrt_t | robbins_monro"),
        epochs: Optional[int] = typer.Option(None, "--epochs", min=1),
        batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1),
        loss: Optional[str] = typer.Option(None, "--loss", help="cross_entropy | mse"),
        snapshot_every: Optional[int] = typer.Option(None, "--snapshot-every", min=0, help="steps between snapshots (0 = per epoch)"),
        resume: bool = typer.Option(False, "--resume", help="continue from DIR/checkpoint if present"),
        keep_checkpoint: bool = typer.Option(False, "--keep-checkpoint", help="keep DIR/checkpoint after success"),
        json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
        quiet: bool = typer.Option(False, "--quiet", help=QUIET_HELP),
    ) -> None:
        """Train a ReLU MLP (monitored, deterministic from --seed, resumable with --resume)."""
        from ..._progress import set_quiet
        from ...config import load_config
        from ...train import TrainConfig, fit

        set_quiet(quiet or json_out)
        over = {
            "data": data, "seed": seed, "optimizer": optimizer, "lr": lr, "schedule": schedule, "epochs": epochs,
            "batch_size": batch_size, "loss": loss, "snapshot_every": snapshot_every,
            "widths": parse_ints(widths, field="--widths") if widths else None,
        }
        cfg = load_config(TrainConfig, config, over)
        from .._common import default_out

        out_dir = Path(out) if out else default_out("train", cfg.model_dump())
        ckpt = out_dir / "checkpoint"
        res = fit(cfg, checkpoint_dir=ckpt, resume=resume)
        from safetensors.torch import save as st_save

        model_bytes = st_save({k: v.detach().contiguous() for k, v in res.model.state_dict().items()})
        finish("train", res.to_dict(), config=res.config, out=out_dir, json_out=json_out, quiet=quiet,
               arrays=res.arrays(), extra_files={"model.safetensors": model_bytes})
        if not keep_checkpoint:
            shutil.rmtree(ckpt, ignore_errors=True)
