"""Model files: safetensors of a ReLU MLP's ``state_dict``. Never unpickles."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import InputError
from ..runstore import atomic_write_bytes

__all__ = ["save", "load", "from_state_dict", "load_model", "load_weights", "is_relu_mlp", "FORMAT_KEY"]

_KEY = re.compile(r"^(\d+)\.(weight|bias)$")


#: safetensors metadata key naming what the file holds: ``relu-mlp`` (a ``Sequential`` of Linear/ReLU ending in a
#: Linear: :func:`load` rebuilds it from the weights alone) or ``state-dict:<class>`` (any other module: the file
#: holds only its weights, and loading needs the factory, ``load_model("pkg.mod:factory", weights=...)``).
FORMAT_KEY = "tamelab_format"


def is_relu_mlp(model: nn.Module) -> bool:
    """Whether ``model`` is ``Sequential(Linear, ReLU, ..., Linear)``: the layout a weights-only file can rebuild."""
    if type(model) is not nn.Sequential or len(model) == 0 or len(model) % 2 == 0:
        return False
    return all(type(m) is (nn.Linear if i % 2 == 0 else nn.ReLU) for i, m in enumerate(model))


def save(model: nn.Module, path: str | os.PathLike[str]) -> Path:
    """Save a model's ``state_dict`` as safetensors (atomically), tagged with what :func:`load` can rebuild.

    A ReLU MLP (:func:`is_relu_mlp`) is tagged ``relu-mlp`` and loads from the file alone; any other module is
    tagged ``state-dict``: its architecture is not in the file, so :func:`load` refuses it (a Tanh MLP would
    otherwise come back as a ReLU MLP, a different function) and ``load_model(factory, weights=path)`` loads it.
    """
    from safetensors.torch import save as st_save

    sd = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    fmt = "relu-mlp" if is_relu_mlp(model) else f"state-dict:{type(model).__name__}"
    # one metadata key: safetensors writes metadata in hash order, so two keys would make the bytes differ per process
    return atomic_write_bytes(path, st_save(sd, metadata={FORMAT_KEY: fmt}))


def from_state_dict(sd: dict[str, torch.Tensor], *, source: str = "state_dict") -> nn.Sequential:
    """Rebuild ``Linear, ReLU, ..., Linear`` from ``0.weight, 0.bias, 2.weight, ...``.

    Any other layout is rejected with an :class:`InputError` naming the key.
    """
    if not sd:
        raise InputError(source, "contains no tensors", "save a model with tamelab.models.save")
    idx: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in sd.items():
        m = _KEY.match(k)
        if not m:
            raise InputError(
                f"{source} key '{k}'",
                "is not of the form '<index>.weight' or '<index>.bias'",
                "expected a Sequential of Linear/ReLU",
            )
        i = int(m.group(1))
        if i % 2 != 0:
            raise InputError(f"{source} key '{k}'", f"index {i} is odd: odd positions must be parameter-free ReLUs")
        idx.setdefault(i, {})[m.group(2)] = v
    order = sorted(idx)
    if order != list(range(0, 2 * len(order), 2)):
        raise InputError(
            f"{source} keys", f"layer indices {order} are not 0,2,4,...", "layers must alternate Linear/ReLU"
        )
    layers: list[nn.Module] = []
    prev_out = None
    for j, i in enumerate(order):
        p = idx[i]
        if "weight" not in p:
            raise InputError(f"{source} key '{i}.weight'", "missing")
        W = p["weight"]
        for key, t in ((f"{i}.weight", W), (f"{i}.bias", p.get("bias"))):
            if t is not None and not t.is_floating_point():
                raise InputError(
                    f"{source} key '{key}'",
                    f"has dtype {str(t.dtype).removeprefix('torch.')}; weights must be floating point",
                    "save float32 or float64 tensors",
                )
        if W.dtype in (torch.float16, torch.bfloat16):  # half precisions: upcast (exactly) for the geometry
            W = W.float()
            if p.get("bias") is not None:
                p["bias"] = p["bias"].float()
        if W.ndim != 2:
            raise InputError(f"{source} key '{i}.weight'", f"has shape {tuple(W.shape)}; a Linear weight must be 2-D")
        if prev_out is not None and W.shape[1] != prev_out:
            raise InputError(
                f"{source} key '{i}.weight'", f"input width {W.shape[1]} != previous output width {prev_out}"
            )
        b = p.get("bias")
        if b is not None and (b.ndim != 1 or b.shape[0] != W.shape[0]):
            raise InputError(f"{source} key '{i}.bias'", f"has shape {tuple(b.shape)}, expected ({W.shape[0]},)")
        if not torch.isfinite(W).all() or (b is not None and not torch.isfinite(b).all()):
            raise InputError(f"{source} layer {i}", "contains NaN or inf")
        lin = nn.Linear(W.shape[1], W.shape[0], bias=b is not None, dtype=W.dtype)
        with torch.no_grad():
            lin.weight.copy_(W)
            if b is not None:
                lin.bias.copy_(b)
        layers.append(lin)
        if j < len(order) - 1:
            layers.append(nn.ReLU())
        prev_out = W.shape[0]
    return nn.Sequential(*layers)


def load(path: str | os.PathLike[str]) -> nn.Sequential:
    """Load a ReLU MLP from a safetensors file (no pickle is ever read)."""
    p = Path(path)
    sd, meta = _read_safetensors(p, "MODEL", "pass a .safetensors file written by 'tamelab train'")
    fmt, _, cls = meta.get(FORMAT_KEY, "relu-mlp").partition(":")
    if fmt != "relu-mlp":
        raise InputError(
            "MODEL",
            f"{p.name} holds the weights of a {cls or 'custom'} module, not a ReLU MLP: the file does not "
            "record its architecture",
            "load it with its factory: --model package.module:factory --weights FILE "
            "(Python: tamelab.models.load_model('pkg.mod:factory', weights=FILE))",
        )
    return from_state_dict(sd, source=p.name)


def _read_safetensors(
    p: Path, field: str, fix: str = "pass a .safetensors file"
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors and the header's ``__metadata__`` (``{}`` when absent) of a safetensors file, in one read.

    The one reader of weight files: a missing or unreadable file (a pickle, a truncated header) is one
    :class:`InputError` line naming ``field``.
    """
    if not p.is_file():
        raise InputError(field, f"{p} not found", fix)
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(p), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError) as e:
        raise InputError(
            field,
            f"{p} is not a readable safetensors file ({e})",
            "pickled .pt files are not accepted: save with safetensors.torch.save_file",
        ) from e


def load_weights(model: nn.Module, path: str | os.PathLike[str], *, field: str = "--weights") -> nn.Module:
    """Load a safetensors ``state_dict`` into ``model`` (strict: names and shapes must match)."""
    sd, _ = _read_safetensors(Path(path), field)
    own = model.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    if missing or unexpected:
        raise InputError(
            field,
            f"keys do not match the model (missing {missing[:4]}, unexpected {unexpected[:4]})",
            "save the same architecture's state_dict",
        )
    for k, v in sd.items():
        if own[k].shape != v.shape:
            raise InputError(f"{field} key '{k}'", f"has shape {tuple(v.shape)}, the model has {tuple(own[k].shape)}")
        if v.is_floating_point() and not bool(torch.isfinite(v).all()):
            raise InputError(f"{field} key '{k}'", "contains NaN or inf")
    model.load_state_dict(sd)
    return model


def load_model(
    spec: str | os.PathLike[str],
    weights: str | os.PathLike[str] | None = None,
    *,
    kwargs: dict[str, Any] | None = None,
    field: str = "--model",
) -> nn.Module:
    """A model from a file or a factory.

    ``spec`` is either a ``.safetensors`` file written by :func:`save` for a ReLU MLP (TameLab's
    built-in format; ``weights`` must be ``None``), or ``package.module:factory``: the factory is
    imported and called with ``kwargs`` and must return an ``nn.Module``; ``weights`` (safetensors,
    never a pickle) are then loaded into it strictly. The module is imported as Python code: it must
    be importable (on ``sys.path`` or in the current directory).
    """
    s = str(spec)
    if ":" not in s or Path(s).exists():
        if weights is not None:
            raise InputError(
                "--weights",
                "only applies to a factory model (package.module:factory)",
                "drop --weights, or pass --model package.module:factory",
            )
        return load(s)
    mod_name, _, attr = s.partition(":")
    if not mod_name or not attr or not all(part.isidentifier() for part in mod_name.split(".") + attr.split(".")):
        raise InputError(field, f"{s!r} is not of the form package.module:factory")
    import importlib
    import sys

    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as e:
        raise InputError(field, f"cannot import {mod_name!r} ({e})", "check the module path and PYTHONPATH") from None
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)
    obj = mod
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise InputError(field, f"{mod_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if isinstance(obj, nn.Module):
        model = obj
    elif callable(obj):
        model = obj(**(kwargs or {}))
    else:
        raise InputError(field, f"{s!r} is neither an nn.Module nor a factory")
    if not isinstance(model, nn.Module):
        raise InputError(field, f"{s!r} returned {type(model).__name__}, not an nn.Module")
    if weights is not None:
        load_weights(model, weights)
    return model
