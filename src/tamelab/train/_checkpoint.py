"""Training checkpoints: one safetensors file (tensors + a JSON state in its header), never pickle.

A checkpoint holds the model's full ``state_dict`` (parameters *and* buffers, e.g. BatchNorm running
statistics), the optimizer state (a TameLab transform's state tree or a ``torch.optim`` optimizer's
``state_dict``), the parameter snapshots, the recorders' state and histories, and the run's
signature (the config it was written with). Nested state trees are split into tensors (stored in the
safetensors body) and JSON scalars (stored in the header), so every value round-trips exactly.

The tensors and the state that describes them are written in one file with one atomic rename:
whenever the process is killed, they cannot disagree. ``state.json`` beside it is a human-readable
copy of the header only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from ..errors import InputError
from ..runstore import atomic_write_bytes, atomic_write_json

__all__ = ["CHECKPOINT_FORMAT", "flatten_state", "unflatten_state", "save_checkpoint", "load_checkpoint"]

#: bumped when the layout changes; older checkpoints are refused with one line.
CHECKPOINT_FORMAT = 2


def flatten_state(prefix: str, obj: Any, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Split a state tree (dicts, lists, tuples, tensors, JSON scalars) into tensors and JSON entries."""
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj.detach().cpu().contiguous()
    elif isinstance(obj, dict):
        keys = list(obj)
        for k in keys:
            if not isinstance(k, (str, int)) or isinstance(k, bool) or "/" in str(k):
                raise InputError("checkpoint", f"state key {k!r} under {prefix!r} cannot be stored",
                                 "state trees need str (without '/') or int keys")
        meta[prefix] = {"__dict__": keys}  # insertion order matters for sums over the tree
        for k in keys:
            flatten_state(f"{prefix}/{k}", obj[k], tensors, meta)
    elif isinstance(obj, (list, tuple)):
        meta[prefix] = {"__list__": len(obj), "__tuple__": isinstance(obj, tuple)}
        for i, v in enumerate(obj):
            flatten_state(f"{prefix}/{i}", v, tensors, meta)
    elif obj is None or isinstance(obj, (bool, int, float, str)):
        meta[prefix] = obj
    else:
        raise InputError("checkpoint", f"state value of type {type(obj).__name__} under {prefix!r} cannot be stored",
                         "keep tensors, numbers, strings, lists and dicts in optimizer and recorder state")


def unflatten_state(prefix: str, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> Any:
    """Inverse of :func:`flatten_state`."""
    if prefix in tensors:
        return tensors[prefix]
    m = meta[prefix]
    if isinstance(m, dict) and "__dict__" in m:
        return {k: unflatten_state(f"{prefix}/{k}", tensors, meta) for k in m["__dict__"]}
    if isinstance(m, dict) and "__list__" in m:
        items = [unflatten_state(f"{prefix}/{i}", tensors, meta) for i in range(m["__list__"])]
        return tuple(items) if m.get("__tuple__") else items
    return m


def save_checkpoint(ckpt: Path, *, tensors: dict[str, torch.Tensor], state: dict[str, Any]) -> None:
    """Write ``tensors`` and the JSON ``state`` atomically to ``ckpt/state.safetensors``."""
    from safetensors.torch import save as st_save

    state = {"format": CHECKPOINT_FORMAT, **state}
    body = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    atomic_write_bytes(ckpt / "state.safetensors", st_save(body, metadata={"tamelab_state": json.dumps(state)}))
    atomic_write_json(ckpt / "state.json", state)


def load_checkpoint(ckpt: Path, signature: dict[str, Any], *, field: str = "--resume"
                    ) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    """``(tensors, state)`` of ``ckpt/state.safetensors``, or ``None`` when there is none.

    Raises :class:`InputError` for a file that is not a TameLab checkpoint, an older format, or one
    written with a different signature (naming the first differing field).
    """
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    f = ckpt / "state.safetensors"
    if not f.is_file():
        return None
    try:
        with safe_open(str(f), framework="pt") as fh:
            header = fh.metadata() or {}
        tensors = load_file(str(f))
    except (SafetensorError, OSError, ValueError) as e:
        raise InputError(field, f"{f} is not a readable checkpoint ({e})", "drop --resume to start afresh") from None
    if "tamelab_state" not in header:
        raise InputError(field, f"{f} is not a tamelab checkpoint", "drop --resume to start afresh")
    try:
        state = json.loads(header["tamelab_state"])
    except json.JSONDecodeError as e:
        raise InputError(field, f"{f} has a corrupt header ({e})", "drop --resume to start afresh") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise InputError(field, f"{f} was written by another version of TameLab (format "
                         f"{state.get('format') if isinstance(state, dict) else '?'}, need {CHECKPOINT_FORMAT})",
                         "drop --resume to start afresh")
    if state.get("signature") != signature:
        diff = _first_difference(state.get("signature"), signature)
        raise InputError(field, f"the checkpoint was written with a different config ({diff})",
                         "use the same config, or drop --resume")
    return tensors, state


def _first_difference(old: Any, new: dict[str, Any]) -> str:
    if not isinstance(old, dict):
        return "no config recorded"
    for k in sorted(set(old) | set(new)):
        if old.get(k, "<absent>") != new.get(k, "<absent>"):
            a, b = json.dumps(old.get(k, "<absent>"))[:60], json.dumps(new.get(k, "<absent>"))[:60]
            return f"field '{k}': {a} there, {b} here"
    return "no field differs"
