"""Cheap deterministic tasks used to exercise sweeps (and as examples)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ._tasks import register_task


def ridge_task(config: dict[str, Any]) -> dict[str, Any]:
    """Ridge regression on a seeded problem: returns the training loss and weight norm.

    Test hooks: ``marker_dir`` counts calls (one file per call); ``die_once`` makes the
    first attempt of this grid point kill its own worker process (``os._exit``), to test
    that a sweep survives the loss of a worker.
    """
    seed, lam, n = int(config.get("seed", 0)), float(config.get("lam", 0.1)), int(config.get("n", 50))
    marker = config.get("marker_dir")
    if marker:
        d = Path(marker)
        d.mkdir(parents=True, exist_ok=True)
        tag = f"{seed}-{lam}-{n}"
        if config.get("die_once") and not (d / f"died-{tag}").exists():
            (d / f"died-{tag}").write_text("x")
            os._exit(1)
        (d / f"call-{tag}-{os.getpid()}-{len(list(d.iterdir()))}").write_text("x")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 5))
    y = X @ rng.standard_normal(5) + 0.1 * rng.standard_normal(n)
    w = np.linalg.solve(X.T @ X + lam * np.eye(5), X.T @ y)
    return {"loss": float(np.mean((X @ w - y) ** 2)), "w_norm": float(np.linalg.norm(w)), "seed": seed}


register_task("ridge", ridge_task)
