"""``tamelab atlas`` and ``tamelab report``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from .._common import JSON_HELP, QUIET_HELP


def _flag(field: str) -> str:
    """How the ``atlas`` command names a field of :class:`tamelab.tasks.atlas.AtlasTaskConfig`."""
    from ...tasks.atlas import AtlasTaskConfig

    return AtlasTaskConfig.flag(field)


def _split_list(v: Optional[str]) -> Optional[list[str]]:
    return None if v is None else [s.strip() for s in v.split(",") if s.strip()]


def register(app: typer.Typer) -> None:
    """Add the ``atlas`` command to ``app``."""

    @app.command("atlas")
    def atlas_cmd(
        config: Optional[Path] = typer.Option(None, "--config", help="TOML config (default: the shipped default.toml)"),
        out: Path = typer.Option(Path("runs/atlas"), "--out", help="run directory to write"),
        model: Optional[str] = typer.Option(
            None,
            "--model",
            help="your model: package.module:factory (default: the built-in MLP of the config)",
        ),
        weights: Optional[Path] = typer.Option(None, "--weights", help="safetensors weights loaded into --model"),
        init_weights: Optional[Path] = typer.Option(
            None,
            "--init-weights",
            help="the --model's weights at initialisation (with --no-train: the PAC-Bayes prior's start)",
        ),
        data: Optional[str] = typer.Option(
            None,
            "--data",
            help="digits | mnist1d | a generator | FILE.npz | an image folder (overrides the config)",
        ),
        no_train: bool = typer.Option(False, "--no-train", help="atlas the --model as given (already trained)"),
        loss: Optional[str] = typer.Option(None, "--loss", help="loss name (cross_entropy, mse, nll, ...)"),
        device: Optional[str] = typer.Option(None, "--device", help="cpu | cuda | cuda:N | auto"),
        dtype: Optional[str] = typer.Option(None, "--dtype", help="float32 | float64"),
        fmt: str = typer.Option("png", "--format", help="also write every figure as svg or pdf (png: PNG only)"),
        quick: bool = typer.Option(False, "--quick", help="CI-sized sections"),
        sections: Optional[str] = typer.Option(None, "--sections", help="comma-separated section ids to run"),
        skip: Optional[str] = typer.Option(None, "--skip", help="comma-separated section ids to skip"),
        seed: Optional[int] = typer.Option(None, "--seed", min=0, help="training seed (overrides the config)"),
        epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="training epochs (overrides the config)"),
        json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
        quiet: bool = typer.Option(False, "--quiet", help=QUIET_HELP),
    ) -> None:
        """Write the geometric atlas (DIR/report.html) of the built-in MLP or of your --model."""
        from ..._progress import set_quiet
        from ...runstore import dumps
        from ...tasks import run_task

        set_quiet(quiet or json_out)
        given = {
            "atlas_config": None if config is None else str(config),
            "model": model,
            "weights": None if weights is None else str(weights),
            "init_weights": None if init_weights is None else str(init_weights),
            "data": data,
            "no_train": no_train or None,
            "loss": loss,
            "device": device,
            "dtype": dtype,
            "format": fmt,
            "quick": quick or None,
            "sections": _split_list(sections),
            "skip": _split_list(skip),
            "seed": seed,
            "epochs": epochs,
        }
        values = {k: v for k, v in given.items() if v is not None}
        run = run_task("atlas", values, out=out, source="command line", name=_flag)
        res = run.to_dict()
        payload = {**res, "run_dir": str(out)}
        if json_out:
            sys.stdout.write(dumps(payload))
        elif not quiet:
            from rich.console import Console
            from rich.table import Table

            t = Table(title=f"tamelab atlas → {out / 'report.html'}")
            for c in ("section", "status", "seconds"):
                t.add_column(c)
            for s in res["sections"]:
                t.add_row(s["title"], s["status"].replace("_", " "), f"{s['seconds']:.1f}")
            Console().print(t)

    @app.command("report")
    def report_cmd(
        run_dir: Path = typer.Argument(..., help="a run directory written by any tamelab command"),
        out: Optional[Path] = typer.Option(None, "--out", help="output HTML (default RUN_DIR/report.html)"),
    ) -> None:
        """Render RUN_DIR/report.html from the saved run directory."""
        from ...report import write_report

        p = write_report(run_dir, out)
        typer.echo(str(p))
