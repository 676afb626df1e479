"""Run directories, written atomically.

A run directory holds ``result.json`` (with ``schema_version``, config, seed,
versions, timings), ``arrays.npz``, ``model.safetensors`` when a model is
trained, ``figures/`` and ``report.html``. Every file is written to a
temporary sibling and renamed into place (``os.replace`` is atomic on POSIX),
so a killed run never leaves a half file. ``result.json`` is written last: its
presence marks a complete run.

Timing keys (any key named ``seconds``, ``*_seconds`` or ``timings``) are the
only part of the JSON that may differ between two runs with the same config
and seed; :func:`strip_timings` removes them for comparisons.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .errors import InputError
from .result import SCHEMA_VERSION, provenance, to_jsonable

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "atomic_write_npz",
    "write_run",
    "read_result",
    "read_arrays",
    "strip_timings",
    "dumps",
]


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


_UMASK = _umask()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same dir + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp creates 0600; results are ordinary files
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def dumps(obj: Any) -> str:
    """Deterministic strict JSON (sorted keys, no NaN literals)."""
    return json.dumps(to_jsonable(obj), indent=2, sort_keys=True, allow_nan=False) + "\n"


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, dumps(obj))


def atomic_write_npz(path: str | os.PathLike, arrays: Mapping[str, Any]) -> Path:
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    return atomic_write_bytes(path, buf.getvalue())


def write_run(
    out_dir: str | os.PathLike,
    result: Mapping[str, Any],
    *,
    command: str,
    config: Mapping[str, Any] | None = None,
    arrays: Mapping[str, Any] | None = None,
    figures: Mapping[str, bytes] | None = None,
    extra_files: Mapping[str, bytes] | None = None,
) -> dict[str, Any]:
    """Write a complete run directory and return the JSON document written.

    ``result`` is the capability's ``to_dict()``; it is wrapped with the
    command name, config, schema version and provenance. Figures are PNG bytes
    keyed by file name (saved under ``figures/``). ``result.json`` goes last.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError("--out", f"{out} exists and is not a directory", "choose another path")
    out.mkdir(parents=True, exist_ok=True)
    for name, data in (extra_files or {}).items():
        atomic_write_bytes(out / name, data)
    for name, data in (figures or {}).items():
        atomic_write_bytes(out / "figures" / name, data)
    if arrays:
        atomic_write_npz(out / "arrays.npz", arrays)
    doc = {
        "schema_version": SCHEMA_VERSION,
        "command": command,
        "config": dict(config or {}),
        "provenance": provenance(),
        "result": dict(result),
    }
    atomic_write_json(out / "result.json", doc)
    return json.loads(dumps(doc))


def read_result(run_dir: str | os.PathLike) -> dict[str, Any]:
    """Read ``result.json`` of a run directory with a clear error if absent."""
    p = Path(run_dir) / "result.json"
    if not p.is_file():
        raise InputError("RUN_DIR", f"{p} not found", "pass a directory written by a tamelab command")
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError("RUN_DIR", f"{p} is not valid JSON ({e.msg} at line {e.lineno})") from e
    if not isinstance(doc, dict) or "schema_version" not in doc:
        raise InputError("RUN_DIR", f"{p} has no schema_version", "it was not written by tamelab")
    if doc["schema_version"] > SCHEMA_VERSION:
        raise InputError(
            "RUN_DIR", f"schema_version {doc['schema_version']} is newer than this tamelab ({SCHEMA_VERSION})", "upgrade tamelab"
        )
    return doc


def read_arrays(run_dir: str | os.PathLike) -> dict[str, np.ndarray]:
    p = Path(run_dir) / "arrays.npz"
    if not p.is_file():
        return {}
    with np.load(p, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


_TIMING_KEYS = {"seconds", "timings", "provenance", "wall_seconds", "elapsed"}


def strip_timings(obj: Any) -> Any:
    """Remove timing/provenance keys recursively (for reproducibility checks)."""
    if isinstance(obj, dict):
        return {
            k: strip_timings(v)
            for k, v in obj.items()
            if k not in _TIMING_KEYS and not str(k).endswith("_seconds")
        }
    if isinstance(obj, list):
        return [strip_timings(v) for v in obj]
    return obj
