"""``tamelab erm DATA.npz --width W``: the global ERM optimum of a one-hidden-layer ReLU net (Arora et al.)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from .._common import JSON_HELP, OUT_HELP, QUIET_HELP, finish


def erm_task(config: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    from ...data import load_data
    from ...errors import InputError
    from ...exact.arora2018erm import exact_erm
    from ...parallel import get_executor

    ds = load_data(config["data"], split="all")
    if ds.Y is not None and ds.Y.shape[1] == 1:
        y = ds.Y[:, 0]
    elif ds.y is not None and ds.Y is None:
        y = ds.y.astype(float)
    else:
        raise InputError("data", "exact ERM needs scalar targets", "store y (N,) or Y (N×1) in the .npz")
    if config.get("loss", "squared") != "squared" and ds.Y is None and set(np.unique(y)) <= {0.0, 1.0}:
        y = 2.0 * y - 1.0  # class labels {0, 1} (the .npz convention) → {−1, +1}
    ex = get_executor(config.get("executor", "serial"), workers=config.get("workers"), scheduler=config.get("scheduler"))
    r = exact_erm(ds.X, y, int(config["width"]), loss=config.get("loss", "squared"), max_qps=int(config.get("max_qps", 2_000_000)),
                  executor=ex, seed=int(config.get("seed", 0)))
    return r.to_dict()


def register(app: typer.Typer) -> None:
    from ...parallel import register_task

    register_task("erm", erm_task)

    @app.command("erm")
    def erm_cmd(
        data: Path = typer.Argument(..., help=".npz with X (D×n) and scalar targets y or Y (D×1)"),
        width: int = typer.Option(..., "--width", min=1, help="hidden units w"),
        loss: str = typer.Option("squared", "--loss", help="squared | hinge | logistic (hinge/logistic: labels y in {0,1} or Y in {-1,+1})"),
        max_qps: int = typer.Option(2_000_000, "--max-qps", help="refuse above this many QPs after pruning"),
        executor: str = typer.Option("serial", "--executor", help="serial | dask"),
        workers: Optional[int] = typer.Option(None, "--workers", min=1),
        scheduler: Optional[str] = typer.Option(None, "--scheduler", help="existing Dask scheduler address"),
        seed: int = typer.Option(0, "--seed", min=0, help="seed of the restarts that give the first incumbent"),
        out: Optional[str] = typer.Option(None, "--out", help=OUT_HELP),
        json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
        quiet: bool = typer.Option(False, "--quiet", help=QUIET_HELP),
    ) -> None:
        """Global optimum over all sign patterns and data dichotomies, one convex QP each, with its KKT certificate."""
        cfg = {"data": str(data), "width": width, "loss": loss, "max_qps": max_qps, "executor": executor,
               "workers": workers, "scheduler": scheduler, "seed": seed}
        finish("erm", erm_task(cfg), config=cfg, out=out, json_out=json_out, quiet=quiet)
