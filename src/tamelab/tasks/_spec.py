"""Task configs: one pydantic model per command, the single source of its fields and defaults.

Every field is at once a TOML key (``[base]`` of a sweep, ``--config`` files) and a command-line
option (``top_k`` ↔ ``--top-k``); :func:`option` records how it appears on the command line.
Validation (types, ranges, allowed values, files that must exist) happens here, before any work,
and every failure is one :class:`~tamelab.errors.InputError` line naming the field.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..errors import InputError

__all__ = [
    "TaskConfig",
    "option",
    "cli_meta",
    "ModelFields",
    "DataFields",
    "LossField",
    "SeedField",
    "DeviceField",
    "check_model_spec",
    "check_data_spec",
    "builtin_data",
    "parse_number_list",
    "parse_int_list",
    "FLOAT_DTYPES",
]

#: dtypes a floating-point computation may be asked for on the command line.
FLOAT_DTYPES = ("float32", "float64")

_FACTORY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def option(
    default: Any = ...,
    help: str = "",
    *,
    positional: bool = False,
    flag: str | None = None,
    multiple: bool = False,
    cli: bool = True,
    metavar: str | None = None,
    output: str | None = None,
    record: bool = True,
    **constraints: Any,
) -> Any:
    """A config field with its command-line form.

    Args:
        default: the default (``...``: required).
        help: one line for ``--help`` and the docs.
        positional: a command-line argument (``MODEL``) instead of an option.
        flag: the option name when it is not ``--<field-name>`` (``"--float"`` for ``float_check``).
        multiple: a repeatable option (``--through B --through C``) for a list field.
        cli: ``False`` keeps the field out of the command line (TOML/Python only).
        metavar: the placeholder shown in ``--help``.
        output: ``"file"`` or ``"dir"``: a path the task writes, checked before any work.
        record: ``False`` for how a run is kept rather than what it computes (``resume``, resource
            limits): left out of ``result.json``'s config and of a sweep's task keys.
        **constraints: pydantic ``Field`` constraints (``ge``, ``gt``, ``le``, ...).
    """
    meta: Any = {
        "positional": positional,
        "flag": flag,
        "multiple": multiple,
        "cli": cli,
        "metavar": metavar,
        "output": output,
        "record": record,
    }
    return Field(default, description=help, json_schema_extra={"cli": meta}, **constraints)


def cli_meta(model: type[BaseModel], name: str) -> dict[str, Any]:
    """The command-line metadata recorded by :func:`option` for field ``name``."""
    extra = model.model_fields[name].json_schema_extra
    meta = extra.get("cli") if isinstance(extra, dict) else None
    base: dict[str, Any] = {
        "positional": False,
        "flag": None,
        "multiple": False,
        "cli": True,
        "metavar": None,
        "output": None,
        "record": True,
    }
    if isinstance(meta, dict):
        base.update(meta)
    return base


class TaskConfig(BaseModel):
    """Base of every task config: unknown fields and non-finite numbers are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_assignment=True)

    @classmethod
    def flag(cls, name: str) -> str:
        """How field ``name`` is written on the command line (``--top-k``, or ``MODEL`` for an argument)."""
        if name not in cls.model_fields:
            return "--" + name.replace("_", "-")
        meta = cli_meta(cls, name)
        if meta["positional"]:
            return name.upper()
        return meta["flag"] or "--" + name.replace("_", "-")

    @classmethod
    def field_of(cls, flag: str) -> str | None:
        """The field written as ``flag`` on the command line (inverse of :meth:`flag`), else ``None``."""
        for name in cls.model_fields:
            if flag in (cls.flag(name), name):
                return name
        return None

    def recorded(self) -> dict[str, Any]:
        """The fields that determine the result (JSON types): what ``result.json`` and task keys record."""
        keep = {n for n in type(self).model_fields if cli_meta(type(self), n)["record"]}
        return self.model_dump(mode="json", include=keep)

    def outputs(self) -> dict[str, tuple[str, str]]:
        """``{field: (path, "file" | "dir")}`` for every output path set in this config."""
        out = {}
        for name in type(self).model_fields:
            kind = cli_meta(type(self), name)["output"]
            value = getattr(self, name)
            if kind and value:
                out[name] = (str(value), kind)
        return out

    def check(self) -> None:
        """Checks that need more than one field or the file system (resource guards); run before any work."""


# ------------------------------------------------------------------------------------------------
# parsing of command-line lists ("64,64,10", "0,0;1,0;0,1") inside validators
# ------------------------------------------------------------------------------------------------
def parse_number_list(value: Any, *, field: str, n: int | None = None) -> list[float]:
    """A list of finite floats from a list or a comma-separated string."""
    if isinstance(value, str):
        parts = [p for p in value.replace(" ", "").split(",") if p != ""]
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            raise InputError(field, f"{value!r} is not a comma-separated list of numbers") from None
    elif isinstance(value, (list, tuple)):
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            raise InputError(field, f"{value!r} is not a list of numbers")
        vals = [float(v) for v in value]
    else:
        raise InputError(field, f"expected a list of numbers, got {type(value).__name__}")
    if not all(math.isfinite(v) for v in vals):
        raise InputError(field, f"{value!r} contains NaN or inf", "use finite numbers")
    if n is not None and len(vals) != n:
        raise InputError(field, f"expected {n} numbers, got {len(vals)} in {value!r}")
    return vals


def parse_int_list(value: Any, *, field: str) -> list[int]:
    """A list of integers from a list or a comma-separated string (``"2,3,1"``)."""
    if isinstance(value, str):
        try:
            return [int(p) for p in value.replace(" ", "").split(",") if p != ""]
        except ValueError:
            raise InputError(field, f"{value!r} is not a comma-separated list of integers", "e.g. 2,3,1") from None
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return [int(v) for v in value]
    raise InputError(field, f"{value!r} is not a list of integers", "e.g. [2, 3, 1]")


# ------------------------------------------------------------------------------------------------
# models, data, loss, device: shared fields with their checks
# ------------------------------------------------------------------------------------------------
def check_model_spec(spec: str, *, field: str = "model") -> str:
    """A model file that exists, or a ``package.module:factory`` reference (imported only at run time)."""
    s = str(spec).strip()
    if not s:
        raise InputError(field, "is empty", "pass a .safetensors file or package.module:factory")
    p = Path(s)
    if p.exists() or s.endswith(".safetensors") or "/" in s or ":" not in s:
        if not p.is_file():
            raise InputError(
                field,
                f"{s} not found" if not p.exists() else f"{s} is not a file",
                "pass a .safetensors file written by 'tamelab train', or package.module:factory",
            )
        return s
    if not _FACTORY.match(s):
        raise InputError(field, f"{s!r} is not of the form package.module:factory")
    return s


def builtin_data() -> list[str]:
    """The names ``--data`` accepts besides files (``digits``, the synthetic generators, ...)."""
    from .. import data as _data

    names = {"digits", *getattr(_data, "GENERATORS", {})}
    for attr in ("BUILTIN", "DATASETS", "BUILTIN_DATA"):
        extra = getattr(_data, attr, None)
        if isinstance(extra, (dict, list, tuple, set, frozenset)):
            names.update(str(k) for k in extra)
    return sorted(names)


def check_data_spec(spec: str, *, field: str = "data") -> str:
    """A built-in data name, an existing ``.npz`` file, or an existing image folder."""
    s = str(spec).strip()
    names = builtin_data()
    if s in names:
        return s
    p = Path(s)
    if s.endswith(".npz"):
        if not p.is_file():
            raise InputError(field, f"{s} not found", "pass an existing .npz with X and y (or Y)")
        return s
    if p.is_dir():
        return s  # an image folder: its loader checks the layout
    if p.is_file():
        raise InputError(field, f"{s} is not an .npz file", f"use {', '.join(names)}, an .npz or an image folder")
    raise InputError(field, f"unknown data {s!r}", f"use {', '.join(names)}, an .npz file or an image folder")


class ModelFields(TaskConfig):
    """A model given as a file (the built-in MLP format) or as ``package.module:factory`` + weights."""

    model: str = option(
        ...,
        "a .safetensors file written by 'tamelab train', or package.module:factory",
        positional=True,
        metavar="MODEL",
    )
    weights: str | None = option(None, "safetensors weights loaded into a factory MODEL (package.module:factory)")

    @field_validator("model")
    @classmethod
    def _model(cls, v: str) -> str:
        return check_model_spec(v, field="model")

    @field_validator("weights")
    @classmethod
    def _weights(cls, v: str | None) -> str | None:
        if v is not None and not Path(v).is_file():
            raise InputError("weights", f"{v} not found", "pass a .safetensors file")
        return v

    @model_validator(mode="after")
    def _weights_need_factory(self) -> ModelFields:
        if self.weights is not None and Path(self.model).is_file():
            raise InputError(
                "weights",
                "only applies to a factory model (package.module:factory)",
                "drop --weights, or pass MODEL as package.module:factory",
            )
        return self


class DeviceField(TaskConfig):
    """Where the computation runs."""

    device: str = option("cpu", "cpu | cuda | cuda:N | auto (CUDA when present)")

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        from ..inputs import resolve_device

        resolve_device(v, field="device")
        return v


class DataFields(TaskConfig):
    """Data by name (built-in), an ``.npz`` file (arrays named by ``input_key``/``target_key``) or an image folder."""

    data: str = option("digits", "digits | a synthetic generator (moons, ...) | FILE.npz | an image folder")
    split: Literal["train", "test", "all"] = option("train", "which part of the data: train | test | all")
    split_seed: int = option(0, "seed of the train/test split", ge=0)
    input_key: str | None = option(None, "name of the input array in an .npz (default X)")
    target_key: str | None = option(None, "name of the label/target array in an .npz (default y, else Y)")

    @field_validator("data")
    @classmethod
    def _data(cls, v: str) -> str:
        return check_data_spec(v, field="data")

    @model_validator(mode="after")
    def _keys_need_npz(self) -> DataFields:
        if (self.input_key or self.target_key) and not str(self.data).endswith(".npz"):
            which = "input_key" if self.input_key else "target_key"
            raise InputError(which, "only applies to .npz data", "drop it, or pass --data FILE.npz")
        return self


class LossField(TaskConfig):
    """A loss from the registry (:data:`tamelab.losses.LOSSES`), by name or alias."""

    loss: str = option(
        "cross_entropy", "loss by registry name: cross_entropy | nll | mse | l1 | huber | bce_with_logits"
    )

    @field_validator("loss")
    @classmethod
    def _loss(cls, v: str) -> str:
        from ..losses import resolve_loss

        return resolve_loss(v, field="loss").name


class SeedField(TaskConfig):
    """The seed of every random choice of the task (recorded in the result)."""

    seed: int = option(0, "seed of every random choice (recorded in the result)", ge=0)
