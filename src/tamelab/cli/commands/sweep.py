"""``tamelab sweep SWEEP.toml``: a grid over any command's config, serial or on Dask."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .._common import JSON_HELP, QUIET_HELP


def register(app: typer.Typer) -> None:
    @app.command("sweep")
    def sweep_cmd(
        sweep_file: Path = typer.Argument(..., help="TOML: command = '...', [base] config, [grid] lists"),
        out: Optional[Path] = typer.Option(None, "--out", help="output directory (default runs/sweep-<name>)"),
        executor: str = typer.Option("serial", "--executor", help="serial | dask"),
        workers: Optional[int] = typer.Option(None, "--workers", min=1, help="LocalCluster workers (dask)"),
        scheduler: Optional[str] = typer.Option(None, "--scheduler", help="existing Dask scheduler, e.g. tcp://10.0.0.5:8786"),
        json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
        quiet: bool = typer.Option(False, "--quiet", help=QUIET_HELP),
    ) -> None:
        """Expand a parameter grid, run every point once (cached by key), write results.parquet."""
        from ..._progress import set_quiet
        from ...config import load_toml
        from ...parallel import run_sweep
        from .._common import finish

        set_quiet(quiet or json_out)
        spec = load_toml(sweep_file)
        out_dir = out or Path("runs") / f"sweep-{sweep_file.stem}"
        if scheduler and executor == "serial":
            executor = "dask"
        res = run_sweep(spec, out_dir, executor=executor, workers=workers, scheduler=scheduler)
        finish("sweep", res, config={"sweep": spec, "executor": executor}, out=out_dir, json_out=json_out, quiet=quiet)
