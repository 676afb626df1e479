"""``tamelab sweep``: a parameter grid over any registered task, through an executor.

A sweep file (TOML)::

    command = "train"              # a registered task (tamelab.parallel.all_tasks())
    [base]                         # the task's config shared by all grid points
    data = "moons"
    epochs = 3
    [grid]                         # lists: the Cartesian product is swept
    lr = [0.01, 0.001]
    seed = [0, 1, 2]

Each grid point's task key is ``sha256(task, canonical config JSON, seed, tamelab version)``;
its result is cached atomically under ``OUT/tasks/<key>.json``, so a finished task is
never recomputed. The table (grid parameters + flattened scalar results + key) is
written to ``OUT/results.parquet``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .. import __version__
from ..errors import InputError
from ..runstore import atomic_write_bytes, atomic_write_json, dumps
from ._executor import get_executor
from ._tasks import get_task

__all__ = ["SweepSpec", "expand", "task_key", "run_sweep"]


class SweepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: str
    base: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(default_factory=dict)


def expand(spec: SweepSpec) -> list[dict[str, Any]]:
    for k, v in spec.grid.items():
        if not isinstance(v, list) or not v:
            raise InputError(f"sweep field 'grid.{k}'", "must be a non-empty list")
    keys = sorted(spec.grid)
    return [{**spec.base, **dict(zip(keys, combo))} for combo in itertools.product(*(spec.grid[k] for k in keys))]


def task_key(command: str, config: dict[str, Any]) -> str:
    canon = json.dumps({"task": command, "config": config, "seed": config.get("seed"), "version": __version__},
                       sort_keys=True, default=str)
    return hashlib.sha256(canon.encode()).hexdigest()[:20]


def _run_cached(args: tuple[str, dict[str, Any], str]) -> dict[str, Any]:
    """Top-level (picklable) task body: run unless the cached result exists."""
    command, config, cache_file = args
    p = Path(cache_file)
    if p.is_file():
        return json.loads(p.read_text())
    res = get_task(command)(config)
    doc = json.loads(dumps(res))
    atomic_write_json(p, doc)
    return doc


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        elif isinstance(v, (int, float, str, bool)) or v is None:
            out[key] = v
    return out


def run_sweep(spec: SweepSpec | dict[str, Any], out: str | Path, *, executor: str = "serial",
              workers: int | None = None, scheduler: str | None = None) -> dict[str, Any]:
    """Run the sweep; returns ``{"rows": n, "computed": k, "cached": n-k, "table": path, "keys": [...]}``."""
    import pandas as pd

    from ..config import validate

    spec = spec if isinstance(spec, SweepSpec) else validate(SweepSpec, spec, source="sweep")
    get_task(spec.command)  # unknown command → InputError before any work
    points = expand(spec)
    ex = get_executor(executor, workers=workers, scheduler=scheduler)  # bad executor args fail before any write
    out = Path(out)
    try:
        (out / "tasks").mkdir(parents=True, exist_ok=True)
        keys = [task_key(spec.command, c) for c in points]
        cache = [out / "tasks" / f"{k}.json" for k in keys]
        cached_before = sum(p.is_file() for p in cache)
        results = ex.map(_run_cached, [(spec.command, c, str(p)) for c, p in zip(points, cache)], desc="sweep")
    finally:
        ex.close()
    rows = []
    for c, k, r in zip(points, keys, results):
        row = {f"param.{g}": c[g] for g in sorted(spec.grid)}
        row.update(_flatten(r, "result."))
        row["key"] = k
        rows.append(row)
    df = pd.DataFrame(rows)
    import io

    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    atomic_write_bytes(out / "results.parquet", buf.getvalue())
    return {"command": spec.command, "rows": len(rows), "computed": len(rows) - cached_before, "cached": cached_before,
            "table": str(out / "results.parquet"), "keys": keys, "executor": executor}
