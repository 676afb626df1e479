"""Sweeps: a parameter grid over any registered task, through an executor (serial or Dask).

A sweep file (TOML)::

    command = "train"              # a registered task (tamelab.tasks.all_tasks())
    [base]                         # the task's fields shared by all grid points
    data = "moons"
    epochs = 3
    [grid]                         # lists: the Cartesian product is swept
    lr = [0.01, 0.001]
    seed = [0, 1, 2]

A grid value may also be ``{ from_sweep = "runs/sweep-train", file = "model.safetensors" }``: the
files of every grid point of an earlier sweep, in its table's order, so sweeps chain (``train``
then ``hessian`` over the trained models).

Before anything is written, the whole grid is checked: its size (``max_tasks``), every field of
every point (an unknown or bad field is one line naming ``base.<field>`` or ``grid.<field>``), the
output directory and the executor. Then each grid point runs as an ordinary task into its own run
directory ``OUT/tasks/<key>/`` (``result.json``, ``arrays.npz``, ``figures/``, model files); the key
is ``sha256(task, recorded config, seed, tamelab version)``. A point whose ``result.json`` exists
is not recomputed; a corrupt one is recomputed with a warning. ``OUT/results.parquet`` has one row
per point: ``param.<field>`` for the grid fields, ``result.<key>`` for every scalar of the result
and every 1-D numeric list (a list column, e.g. ``result.eigenvalues``), ``run_dir``, ``key`` and
``file.<name>`` for the files a task keeps; nested results stay in each ``result.json`` and arrays
in each ``arrays.npz``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import itertools
import json
import math
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from pydantic import BaseModel, ConfigDict, Field

from ..errors import InputError
from ..result import Result, Status
from ..runstore import RunLock, atomic_write_bytes, check_out_dir, read_result, write_run
from ._registry import GenericConfig, Task, get_task
from ._runner import rename_error, run_task

__all__ = ["SweepSpec", "SweepResult", "SweepWarning", "grid_size", "iter_points", "task_key", "run_sweep", "MAX_TASKS"]

#: default limit on the number of grid points of one sweep (raise with ``max_tasks`` / ``--max-tasks``).
MAX_TASKS = 10_000


class SweepWarning(UserWarning):
    """Something in a sweep's directory was not as left (e.g. a corrupt cached result, recomputed)."""


class FromSweep(BaseModel):
    """A grid value taken from an earlier sweep: ``file`` of each of its grid points."""

    model_config = ConfigDict(extra="forbid")

    from_sweep: str
    file: str = "model.safetensors"


class SweepSpec(BaseModel):
    """A sweep file: ``command``, ``[base]`` fields and ``[grid]`` lists."""

    model_config = ConfigDict(extra="forbid")

    command: str
    base: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any] | FromSweep] = Field(default_factory=dict)


@dataclasses.dataclass
class SweepResult(Result):
    """A finished sweep.

    Attributes:
        command: the task swept.
        rows: grid points (rows of ``results.parquet``).
        computed: points computed by this call; ``cached``: points whose result was already there.
        recomputed: keys of points whose cached result was corrupt (recomputed).
        table: path of ``results.parquet``.
        keys: the task key of every point, in table order.
        executor: ``serial`` or ``dask``.
    """

    kind = "sweep"

    command: str = ""
    rows: int = 0
    computed: int = 0
    cached: int = 0
    recomputed: list[str] = dataclasses.field(default_factory=list)
    table: str = ""
    keys: list[str] = dataclasses.field(default_factory=list)
    executor: str = "serial"


def grid_size(spec: SweepSpec) -> int:
    """Number of grid points (the product of the list lengths), computed without expanding the grid."""
    return math.prod(len(v) for v in spec.grid.values() if isinstance(v, list))


def iter_points(base: Mapping[str, Any], grid: Mapping[str, list[Any]]) -> Iterator[dict[str, Any]]:
    """The grid points, lazily, in a fixed order (grid fields sorted by name, last varying fastest)."""
    keys = sorted(grid)
    for combo in itertools.product(*(grid[k] for k in keys)):
        yield {**base, **dict(zip(keys, combo))}


def task_key(command: str, config: Mapping[str, Any]) -> str:
    """``sha256(task, canonical config JSON, seed, tamelab version)`` (20 hex digits)."""
    from .. import __version__

    canon = json.dumps(
        {"task": command, "config": dict(config), "seed": config.get("seed"), "version": __version__},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(canon.encode()).hexdigest()[:20]


def _run_point(args: tuple[Task, dict[str, Any], str]) -> dict[str, Any]:
    """Top-level (picklable) body of one grid point: the cached result, or run the task into ``run_dir``."""
    task, config, run_dir = args
    recomputed = False
    if (Path(run_dir) / "result.json").exists():
        try:
            doc = read_result(run_dir)
            if doc.get("command") == task.name:
                return {"result": doc["result"], "cached": True, "recomputed": False}
        except InputError:
            pass
        recomputed = True
    run = run_task(task, config, out=run_dir)
    return {"result": run.document["result"], "cached": False, "recomputed": recomputed}


def _resolve_grid(spec: SweepSpec, source: str) -> dict[str, list[Any]]:
    grid: dict[str, list[Any]] = {}
    for k, v in spec.grid.items():
        if isinstance(v, FromSweep):
            grid[k] = _from_sweep(v, f"{source} field 'grid.{k}'")
        else:
            if not v:
                raise InputError(f"{source} field 'grid.{k}'", "must be a non-empty list")
            grid[k] = list(v)
    return grid


def _from_sweep(v: FromSweep, field: str) -> list[str]:
    import pandas as pd

    table = Path(v.from_sweep) / "results.parquet"
    if not table.is_file():
        raise InputError(field, f"{table} not found", "run that sweep first (from_sweep names its --out)")
    try:
        df = pd.read_parquet(table, columns=["run_dir"])
    except Exception:  # noqa: BLE001 - any unreadable table is the same problem to the user
        raise InputError(field, f"{table} is not a sweep table", "run that sweep again") from None
    files = [str(Path(d) / v.file) for d in df["run_dir"]]
    missing = [f for f in files if not Path(f).is_file()]
    if missing:
        raise InputError(
            field,
            f"{len(missing)} of {len(files)} points of {v.from_sweep} have no {v.file} (e.g. {missing[0]})",
            "sweep a task that keeps that file (e.g. train)",
        )
    return files


def _namer(source: str, grid: Mapping[str, Any]) -> Callable[[str], str]:
    def name(field: str) -> str:
        where = "grid" if field in grid else "base"
        return f"{source} field '{where}.{field}'"

    return name


_NUMERIC_STR = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _cell(v: Any) -> Any:
    if isinstance(v, str) and v in _NUMERIC_STR:
        return _NUMERIC_STR[v]
    return v


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Scalars and 1-D numeric lists of a result document, with dotted keys."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        elif isinstance(v, (int, float, str, bool)) or v is None:
            out[key] = _cell(v)
        elif isinstance(v, list) and all(
            (isinstance(x, (int, float)) and not isinstance(x, bool)) or (isinstance(x, str) and x in _NUMERIC_STR)
            for x in v
        ):
            out[key] = [float(_cell(x)) for x in v]
    return out


def _table_bytes(rows: list[dict[str, Any]]) -> bytes:
    import pandas as pd

    df = pd.DataFrame(rows)
    for col in df.columns:  # a column with lists in some rows and scalars in others is kept as JSON text
        kinds = {type(x).__name__ for x in df[col] if x is not None and not (isinstance(x, float) and math.isnan(x))}
        if "list" in kinds and len(kinds) > 1:
            df[col] = [None if x is None else json.dumps(x) for x in df[col]]
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def run_sweep(
    spec: SweepSpec | Mapping[str, Any],
    out: str | Path,
    *,
    executor: str = "serial",
    workers: int | None = None,
    scheduler: str | None = None,
    max_tasks: int = MAX_TASKS,
    source: str = "sweep",
) -> SweepResult:
    """Validate the whole sweep, then run every grid point once (cached by key) and write the table.

    Args:
        spec: a :class:`SweepSpec` or the parsed TOML.
        out: the sweep's directory (``tasks/`` and ``results.parquet`` inside).
        executor: ``serial`` or ``dask``.
        workers: size of a local Dask cluster.
        scheduler: address of an existing Dask scheduler (implies ``dask``).
        max_tasks: refuse grids with more points than this.
        source: the sweep file's name, for error messages.

    Raises:
        InputError: any bad field, file, grid size, output directory or scheduler, before anything
            is written.
    """
    import time

    from ..config import validate
    from ..parallel import get_executor

    t0 = time.perf_counter()
    spec = spec if isinstance(spec, SweepSpec) else validate(SweepSpec, spec, source=source)
    task = get_task(spec.command, field=f"{source} field 'command'")
    fields = set(task.config.model_fields)
    if task.config is not GenericConfig:
        for where, fields_there in (("base", spec.base), ("grid", spec.grid)):
            for k in fields_there:
                if k not in fields:
                    raise InputError(
                        f"{source} field '{where}.{k}'",
                        f"unknown field of task {task.name!r}",
                        f"allowed fields here: {', '.join(sorted(fields))}",
                    )
    n = grid_size(spec)
    if n > max_tasks:
        raise InputError(
            f"{source} field 'grid'",
            f"{n:.3g} grid points (limit {max_tasks})",
            "sweep a smaller grid or raise --max-tasks",
        )
    grid = _resolve_grid(spec, source)
    name = _namer(source, grid)
    points, keys = [], []
    for p in iter_points(spec.base, grid):
        cfg = task.validate(p, source=source, name=name)
        try:
            cfg.check()
        except InputError as e:
            raise rename_error(e, task.config, name) from None
        rec = cfg.recorded()
        points.append(cfg.model_dump(mode="json"))
        keys.append(task_key(task.name, rec))
    out = Path(out)
    check_out_dir(out)
    if scheduler and executor == "serial":
        executor = "dask"
    ex = get_executor(executor, workers=workers, scheduler=scheduler)  # an unreachable scheduler fails here
    try:
        with RunLock(out):
            dirs = [out / "tasks" / k for k in keys]
            results = ex.map(_run_point, [(task, c, str(d)) for c, d in zip(points, dirs)], desc="sweep")
            recomputed = [k for k, r in zip(keys, results) if r["recomputed"]]
            for k in recomputed:
                warnings.warn(
                    f"tasks/{k}: the cached result was corrupt and has been recomputed", SweepWarning, stacklevel=2
                )
            rows = []
            for c, k, d, r in zip(points, keys, dirs, results):
                row: dict[str, Any] = {f"param.{g}": c.get(g) for g in sorted(grid)}
                row.update(_flatten(r["result"], "result."))
                row["key"], row["run_dir"] = k, str(d)
                for f in sorted(d.glob("*.safetensors")):
                    row[f"file.{f.name}"] = str(f)
                rows.append(row)
            table = out / "results.parquet"
            atomic_write_bytes(table, _table_bytes(rows))
            cached = sum(r["cached"] for r in results)
            res = SweepResult(
                status=Status.OK,
                seconds=time.perf_counter() - t0,
                command=task.name,
                rows=len(rows),
                computed=len(rows) - cached,
                cached=cached,
                recomputed=recomputed,
                table=str(table),
                keys=keys,
                executor=executor,
            )
            write_run(out, res.to_dict(), command="sweep", config=spec.model_dump(mode="json"))
    finally:
        ex.close()
    return res
