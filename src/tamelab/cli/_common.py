"""Helpers shared by every CLI command: output, run directories, errors.

Each command module under ``tamelab/cli/commands/`` defines
``register(app: typer.Typer)`` and adds its command(s); it parses arguments,
calls one plain Python function and hands the result to :func:`finish`.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any, Mapping

from .._progress import set_quiet
from ..runstore import dumps, write_run

__all__ = ["finish", "default_out", "parse_floats", "parse_ints", "OUT_HELP", "JSON_HELP", "QUIET_HELP"]

OUT_HELP = "run directory to write (default: runs/<command>-<config hash>)"
JSON_HELP = "print the result as JSON on stdout"
QUIET_HELP = "no progress bars or summaries"


def default_out(command: str, config: Mapping[str, Any]) -> Path:
    """Deterministic default run directory: ``runs/<command>-<hash of config>``."""
    h = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return Path("runs") / f"{command}-{h}"


def finish(
    command: str,
    result: Mapping[str, Any],
    *,
    config: Mapping[str, Any],
    out: str | Path | None,
    json_out: bool,
    quiet: bool,
    arrays: Mapping[str, Any] | None = None,
    figures: Mapping[str, bytes] | None = None,
    extra_files: Mapping[str, bytes] | None = None,
) -> dict[str, Any]:
    """Write the run directory, then print JSON (``--json``) or a short summary.

    With ``--json`` stdout carries exactly the result document (the capability's
    keys at top level, plus ``run_dir``).
    """
    set_quiet(quiet or json_out)
    out_dir = Path(out) if out else default_out(command, config)
    doc = write_run(out_dir, result, command=command, config=config, arrays=arrays, figures=figures, extra_files=extra_files)
    payload = dict(doc["result"])
    payload["run_dir"] = str(out_dir)
    if json_out:
        sys.stdout.write(dumps(payload))
    elif not quiet:
        _summary(command, payload)
    return payload


def _summary(command: str, payload: Mapping[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"tamelab {command}", show_header=False)
    for k, v in payload.items():
        if isinstance(v, (int, float, str, bool)) or v is None:
            t.add_row(str(k), str(v))
        elif isinstance(v, list) and len(v) <= 8 and all(isinstance(x, (int, float, str)) for x in v):
            t.add_row(str(k), ", ".join(f"{x:.6g}" if isinstance(x, float) else str(x) for x in v))
    Console(stderr=False).print(t)


def parse_floats(text: str, *, field: str, n: int | None = None) -> list[float]:
    from ..errors import InputError

    try:
        vals = [float(x) for x in text.replace(" ", "").split(",") if x != ""]
    except ValueError:
        raise InputError(field, f"{text!r} is not a comma-separated list of numbers") from None
    if n is not None and len(vals) != n:
        raise InputError(field, f"expected {n} numbers, got {len(vals)} in {text!r}")
    return vals


def parse_ints(text: str, *, field: str) -> list[int]:
    from ..errors import InputError

    try:
        return [int(x) for x in text.replace(" ", "").split(",") if x != ""]
    except ValueError:
        raise InputError(field, f"{text!r} is not a comma-separated list of integers", "e.g. 2,3,1") from None
