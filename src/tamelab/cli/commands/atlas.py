"""``tamelab atlas`` and ``tamelab report``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from .._common import JSON_HELP, QUIET_HELP, parse_ints  # noqa: F401


def register(app: typer.Typer) -> None:
    @app.command("atlas")
    def atlas_cmd(
        config: Optional[Path] = typer.Option(None, "--config", help="TOML config (default: the shipped default.toml)"),
        out: Path = typer.Option(Path("runs/atlas"), "--out", help="run directory to write"),
        quick: bool = typer.Option(False, "--quick", help="CI-sized sections"),
        sections: Optional[str] = typer.Option(None, "--sections", help="comma-separated section ids to run"),
        skip: Optional[str] = typer.Option(None, "--skip", help="comma-separated section ids to skip"),
        seed: Optional[int] = typer.Option(None, "--seed", min=0, help="training seed (overrides the config)"),
        epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="training epochs (overrides the config)"),
        json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
        quiet: bool = typer.Option(False, "--quiet", help=QUIET_HELP),
    ) -> None:
        """Train the configured model and write its geometric atlas (DIR/report.html)."""
        from ..._progress import set_quiet
        from ...atlas import default_config, run_atlas
        from ...config import load_toml
        from ...runstore import dumps

        set_quiet(quiet or json_out)
        data = default_config()
        if config is not None:
            user = load_toml(config)
            train = {**data.get("train", {}), **user.get("train", {})} if isinstance(user.get("train", {}), dict) else user["train"]
            data = {**data, **user, "train": train}
        if quick:
            data["quick"] = True
        if sections:
            data["sections"] = [s for s in sections.split(",") if s]
        if skip:
            data["skip"] = [s for s in skip.split(",") if s]
        if seed is not None:
            data["train"]["seed"] = seed
        if epochs is not None:
            data["train"]["epochs"] = epochs
        from ...atlas import AtlasConfig
        from ...config import validate

        cfg = validate(AtlasConfig, data, source=str(config) if config else "atlas config")
        res = run_atlas(cfg, out=out)
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
                t.add_row(s["title"], s["status"], f"{s['seconds']:.2f}")
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
