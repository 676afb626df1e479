"""TOML configs validated by pydantic: a bad field gives one line naming it.

Precedence, everywhere (CLI commands, the atlas, sweeps): an explicit command-line flag wins over
the config file, which wins over the default (:func:`load_config`).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from pydantic import BaseModel, ValidationError

from .errors import InputError

__all__ = ["load_toml", "parse_toml", "validate", "load_config", "MAX_CONFIG_BYTES"]

M = TypeVar("M", bound=BaseModel)

#: config files larger than this are refused (a config is a few hundred bytes; this is a typo'd path).
MAX_CONFIG_BYTES = 4 * 2**20


def parse_toml(raw: bytes, *, source: str = "config", field: str = "--config") -> dict[str, Any]:
    """Parse TOML bytes; binary, non-UTF-8 or malformed input is one :class:`InputError` line.

    >>> parse_toml(b'lr = 0.1')
    {'lr': 0.1}
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(
            field,
            f"{source} is not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start})",
            "pass a TOML text file",
        ) from None
    if "\x00" in text:
        raise InputError(field, f"{source} contains NUL bytes: it is not a text file", "pass a TOML text file")
    try:
        out: dict[str, Any] = tomllib.loads(text)
        return out
    except tomllib.TOMLDecodeError as e:
        raise InputError(field, f"{source} is not valid TOML ({' '.join(str(e).split())})") from None
    except RecursionError:
        raise InputError(field, f"{source} is nested too deeply", "flatten the TOML tables") from None


def load_toml(path: str | os.PathLike[str], *, field: str = "--config") -> dict[str, Any]:
    """Read and parse a TOML file (see :func:`parse_toml`)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(field, f"{p} not found" if not p.exists() else f"{p} is not a file", "pass a TOML file")
    try:
        size = p.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise InputError(
                field,
                f"{p} is {size} bytes, more than a config can be (limit {MAX_CONFIG_BYTES})",
                "pass a TOML config file",
            )
        raw = p.read_bytes()
    except OSError as e:
        raise InputError(field, f"cannot read {p} ({e.strerror})") from None
    return parse_toml(raw, source=str(p), field=field)


def _default_name(source: str, loc: str) -> str:
    return f"{source} field '{loc}'"


def validate(model: type[M], data: Any, *, source: str = "config", name: Callable[[str], str] | None = None) -> M:
    """Validate ``data``; the first error becomes one ``InputError`` line.

    Args:
        model: the pydantic model class.
        data: the raw mapping (from TOML, JSON or the command line).
        source: where the data came from, for the message (``"c.toml"``, ``"sweep base"``).
        name: maps a dotted field location (``"train.lr"``) to the name the user wrote it under
            (``"--lr"`` on the command line); default ``"<source> field '<loc>'"``.
    """
    if not isinstance(data, Mapping):
        raise InputError(source, f"must be a table of fields, got {type(data).__name__}")
    try:
        return model.model_validate(dict(data))
    except ValidationError as e:
        errors = e.errors()
        # an unknown field first: a misspelt key explains the "missing" errors that follow from it
        err = next((x for x in errors if x["type"] == "extra_forbidden"), errors[0])
        loc = ".".join(str(x) for x in err["loc"])
        namer = name or (lambda x: _default_name(source, x))
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, InputError):  # raised by a validator: keep its words, name the field as written
            field = namer(loc) if loc else namer(cause.field)
            raise type(cause)(field, cause.problem, cause.fix) from None
        loc = loc or "(root)"
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        ctx = err.get("ctx") or {}
        allowed = ctx.get("expected")
        fix = f"allowed: {allowed}" if allowed else None
        if err["type"] in ("literal_error", "enum") and allowed:
            msg = f"{err.get('input')!r} is not allowed"
        if err["type"] == "extra_forbidden":
            fields = ", ".join(sorted(model.model_fields))
            msg, fix = "unknown field", f"allowed fields here: {fields}"
        raise InputError(namer(loc), msg, fix) from None


def load_config(
    model: type[M],
    path: str | os.PathLike[str] | None,
    overrides: Mapping[str, Any] | None = None,
    *,
    name: Callable[[str], str] | None = None,
) -> M:
    """Explicit ``overrides`` (not ``None``) > the TOML file at ``path`` > the model's defaults."""
    data = load_toml(path) if path else {}
    for k, v in (overrides or {}).items():
        if v is not None:
            data[k] = v
    return validate(model, data, source=str(path) if path else "config", name=name)
