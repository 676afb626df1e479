"""Run one task into a run directory: validate → check outputs → lock → run → write (``result.json`` last).

This is what ``tamelab <command>`` does and what a sweep does for each grid point:

1. the config is validated (unknown fields, types, ranges, files that must exist);
2. resource guards and every output path (the run directory, ``--plot``) are checked;
3. an exclusive lock is taken on the run directory (a second run on it refuses);
4. the task runs; its figures are drawn and its models saved with :func:`tamelab.models.save`;
5. ``arrays.npz``, ``figures/`` and finally ``result.json`` are written atomically.

Any bad input is one :class:`~tamelab.errors.InputError` line raised before step 3, and a failed
run leaves a run directory it created empty-handed (removed).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import time
from pathlib import Path
from typing import Any, Callable, Mapping

from ..errors import InputError
from ..runstore import RunLock, check_out_dir, check_out_file, dumps, runs_root, write_run
from ._registry import Task, get_task, result_dict
from ._spec import TaskConfig

#: file formats a task's figures can be written in.
FIGURE_FORMATS = ("png", "svg", "pdf")

__all__ = ["FIGURE_FORMATS", "TaskRun", "run_task", "default_out", "figure_bytes", "rename_error", "prepare"]


@dataclasses.dataclass
class TaskRun:
    """A finished task: its validated config, its result object and the run directory written."""

    task: str
    config: TaskConfig
    result: Any
    out_dir: Path | None
    document: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The ``result`` part of ``result.json`` plus ``run_dir`` (what ``--json`` prints)."""
        payload = dict(self.document.get("result") or json.loads(dumps(result_dict(self.result))))
        payload["run_dir"] = None if self.out_dir is None else str(self.out_dir)
        return payload


def default_out(task: str, config: TaskConfig | Mapping[str, Any]) -> Path:
    """Deterministic default run directory: ``runs/<task>-<hash of the config>`` (``$TAMELAB_RUNS`` for ``runs``)."""
    data = config.recorded() if isinstance(config, TaskConfig) else dict(config)
    h = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return runs_root() / f"{task}-{h}"


def figure_bytes(fig: Any, fmt: str = "png") -> bytes:
    """Render a matplotlib figure (or pass bytes through) and close it."""
    if isinstance(fig, (bytes, bytearray)):
        return bytes(fig)
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    try:
        fig.savefig(buf, format=fmt, dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    return buf.getvalue()


def rename_error(err: InputError, config: type[TaskConfig], name: Callable[[str], str] | None) -> InputError:
    """The same error with its field named as the user wrote it.

    ``--top-k`` on the command line, ``base.top_k`` in a sweep: capabilities name their arguments
    either as options or as fields; this maps both.
    """
    if name is None or not err.field:
        return err
    head, sep, rest = err.field.partition(" ")
    field = head if head in config.model_fields else config.field_of(head)
    if field is None:
        return err
    new = type(err)(name(field) + sep + rest, err.problem, err.fix)
    new.__cause__ = err.__cause__
    return new


def prepare(
    task: str | Task,
    config: TaskConfig | Mapping[str, Any] | None = None,
    *,
    out: str | Path | None = None,
    plot: str | Path | None = None,
    source: str = "config",
    name: Callable[[str], str] | None = None,
) -> tuple[Task, TaskConfig, Path]:
    """Steps 1–2: the task, its validated config and the checked run directory. Writes nothing."""
    t = get_task(task)
    cfg = t.validate(config, source=source, name=name)
    try:
        cfg.check()
        out_dir = Path(out) if out else default_out(t.name, cfg)
        check_out_dir(out_dir)
        for field, (path, kind) in cfg.outputs().items():
            if kind == "dir":
                check_out_dir(path, field=field)
            else:
                check_out_file(path, field=field)
        if plot:
            check_out_file(plot, field="--plot")
    except InputError as e:
        raise rename_error(e, t.config, name) from None
    return t, cfg, out_dir


def run_task(
    task: str | Task,
    config: TaskConfig | Mapping[str, Any] | None = None,
    *,
    out: str | Path | None = None,
    plot: str | Path | None = None,
    source: str = "config",
    name: Callable[[str], str] | None = None,
    figure_format: str = "png",
) -> TaskRun:
    """Validate, run and write one task (see the module docstring); returns the :class:`TaskRun`.

    Args:
        task: a registered task name (``tamelab.tasks.all_tasks()``) or a :class:`Task`.
        config: the task's config (its class, or a mapping of its fields; ``None``: defaults).
        out: the run directory (default ``runs/<task>-<config hash>``).
        plot: also copy the task's first figure to this file.
        source: where the config came from, for error messages.
        name: how to name a field in an error (``--top-k`` on the command line).
        figure_format: ``png`` (default; what ``report.html`` embeds), ``svg`` or ``pdf``.
    """
    if figure_format not in FIGURE_FORMATS:
        raise InputError("--format", f"unknown figure format {figure_format!r}", f"use {' | '.join(FIGURE_FORMATS)}")
    t, cfg, out_dir = prepare(task, config, out=out, plot=plot, source=source, name=name)
    with RunLock(out_dir):
        t0 = time.perf_counter()
        try:
            result = t.run(cfg, out_dir=out_dir)
        except InputError as e:
            raise rename_error(e, t.config, name) from None
        seconds = time.perf_counter() - t0
        if hasattr(result, "seconds") and not getattr(result, "seconds", 0.0):
            result.seconds = seconds
        if t.writes_run_dir:
            from ..runstore import read_result

            doc = read_result(out_dir, field="--out")
        else:
            doc = _write(t, cfg, result, out_dir, plot=plot, fmt=figure_format)
    return TaskRun(t.name, cfg, result, out_dir, doc)


def _write(
    t: Task, cfg: TaskConfig, result: Any, out_dir: Path, *, plot: str | Path | None, fmt: str = "png"
) -> dict[str, Any]:
    drawn = t.figures(result, cfg) if t.figures else {}
    figs = {f"{k}.{fmt}": figure_bytes(v, fmt) for k, v in drawn.items()}
    models = t.models(result) if t.models else {}
    if models:
        from ..models import save

        for fname, module in models.items():
            save(module, out_dir / fname)
    arrays = result.arrays() if hasattr(result, "arrays") else None
    doc = write_run(
        out_dir, result_dict(result), command=t.name, config=cfg.recorded(), arrays=arrays or None, figures=figs
    )
    if plot and figs:
        from ..runstore import atomic_write_bytes

        atomic_write_bytes(plot, next(iter(figs.values())))
    if t.after is not None:
        t.after(cfg, out_dir)
    return doc
