"""Helpers shared by the hand-written CLI commands (``atlas``, ``report``, ``claims``).

Task commands are built from their configs (:mod:`tamelab.cli._build`); the commands that are not
tasks yet write their run directory with :func:`finish`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from .._progress import set_quiet
from ..runstore import RunLock, write_run
from ..tasks import default_out
from ..tasks._spec import parse_int_list, parse_number_list
from ._build import JSON_HELP, OUT_HELP, QUIET_HELP, print_payload

__all__ = ["finish", "default_out", "parse_floats", "parse_ints", "OUT_HELP", "JSON_HELP", "QUIET_HELP"]


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
    """Write the run directory (under its lock), then print JSON (``--json``) or a short summary."""
    set_quiet(quiet or json_out)
    out_dir = Path(out) if out else default_out(command, config)
    with RunLock(out_dir):
        doc = write_run(
            out_dir, result, command=command, config=config, arrays=arrays, figures=figures, extra_files=extra_files
        )
    payload = dict(doc["result"])
    payload["run_dir"] = str(out_dir)
    print_payload(command, payload, json_out=json_out, quiet=quiet)
    return payload


def parse_floats(text: str, *, field: str, n: int | None = None) -> list[float]:
    """Comma-separated finite numbers (``"0.5,1"``)."""
    return parse_number_list(text, field=field, n=n)


def parse_ints(text: str, *, field: str) -> list[int]:
    """Comma-separated integers (``"2,3,1"``)."""
    return parse_int_list(text, field=field)
