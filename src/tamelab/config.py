"""TOML configs validated by pydantic: a bad field gives one line naming it."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .errors import InputError

__all__ = ["load_toml", "validate", "load_config"]

M = TypeVar("M", bound=BaseModel)


def load_toml(path: str | os.PathLike) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise InputError("--config", f"{p} not found")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise InputError("--config", f"{p} is not valid TOML ({e})") from e


def validate(model: type[M], data: dict[str, Any], *, source: str = "config") -> M:
    """Validate ``data``; the first error becomes one ``InputError`` line."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or "(root)"
        msg = err["msg"]
        ctx = err.get("ctx") or {}
        allowed = ctx.get("expected")
        fix = f"allowed: {allowed}" if allowed else None
        if err["type"] == "extra_forbidden":
            fields = ", ".join(sorted(model.model_fields))
            msg, fix = "unknown field", f"allowed fields here: {fields}"
        raise InputError(f"{source} field '{loc}'", msg, fix) from None


def load_config(model: type[M], path: str | os.PathLike | None, overrides: dict[str, Any] | None = None) -> M:
    data = load_toml(path) if path else {}
    for k, v in (overrides or {}).items():
        if v is not None:
            data[k] = v
    return validate(model, data, source=str(path) if path else "config")
