"""``tamelab sweep SWEEP.toml``: a grid over any task's fields, serial or on Dask."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .._build import JSON_HELP, QUIET_HELP, print_payload


def register(app: typer.Typer) -> None:
    """Add ``tamelab sweep``."""

    @app.command("sweep")
    def sweep_cmd(
        sweep_file: Path = typer.Argument(..., help="TOML: command = '...', [base] fields, [grid] lists"),
        out: Optional[Path] = typer.Option(None, "--out", help="output directory (default runs/sweep-<file name>)"),
        executor: str = typer.Option("serial", "--executor", help="serial | dask"),
        workers: Optional[int] = typer.Option(None, "--workers", min=1, help="LocalCluster workers (dask)"),
        scheduler: Optional[str] = typer.Option(
            None, "--scheduler", help="existing Dask scheduler, e.g. tcp://10.0.0.5:8786"
        ),
        max_tasks: int = typer.Option(10_000, "--max-tasks", min=1, help="refuse grids with more points than this"),
        json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
        quiet: bool = typer.Option(False, "--quiet", help=QUIET_HELP),
    ) -> None:
        """Expand a parameter grid, run every point once (cached by key), write results.parquet."""
        from ..._progress import set_quiet
        from ...config import load_toml
        from ...runstore import dumps, runs_root
        from ...tasks import run_sweep

        set_quiet(quiet or json_out)
        spec = load_toml(sweep_file, field="SWEEP_FILE")
        out_dir = out or runs_root() / f"sweep-{sweep_file.stem}"
        res = run_sweep(
            spec,
            out_dir,
            executor=executor,
            workers=workers,
            scheduler=scheduler,
            max_tasks=max_tasks,
            source=sweep_file.name,
        )
        import json

        payload = json.loads(dumps(res.to_dict()))
        payload["run_dir"] = str(out_dir)
        print_payload("sweep", payload, json_out=json_out, quiet=quiet)
