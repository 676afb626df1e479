"""Seeds: one way to turn ``seed`` (int, Generator or None) into generators.

Every result records the integer seed it ran with; ``None`` draws a fresh seed
from OS entropy *and records it*, so every run is reproducible after the fact.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, TypeVar

import numpy as np
import torch

from .errors import InputError

__all__ = ["resolve_seed", "np_rng", "torch_gen", "seeded", "SeedLike"]

SeedLike = int | np.random.Generator | None
F = TypeVar("F", bound=Callable[..., Any])


def resolve_seed(seed: SeedLike) -> int:
    """Return an int seed in [0, 2**32); ``None`` draws one from entropy."""
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**32))
    if isinstance(seed, (bool,)) or not isinstance(seed, (int, np.integer)):
        raise InputError("seed", f"expected an int, a numpy Generator or None, got {type(seed).__name__}")
    if seed < 0:
        raise InputError("seed", f"must be >= 0, got {seed}")
    return int(seed) % (2**32)


def np_rng(seed: SeedLike) -> np.random.Generator:
    """A numpy Generator; a Generator passes through unchanged."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(resolve_seed(seed))


def torch_gen(seed: SeedLike) -> torch.Generator:
    """A CPU torch Generator seeded from ``seed``."""
    g = torch.Generator()
    g.manual_seed(resolve_seed(seed))
    return g


def seeded(fn: F) -> F:
    """Decorator: resolve the ``seed`` argument to an int before the call.

    The wrapped function always sees an ``int`` seed, so it can record it in
    its result (networkx ``py_random_state`` style).
    """
    sig = inspect.signature(fn)
    if "seed" not in sig.parameters:
        raise TypeError(f"{fn.__name__} has no 'seed' parameter")

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        bound = sig.bind_partial(*args, **kwargs)
        bound.arguments["seed"] = resolve_seed(bound.arguments.get("seed", sig.parameters["seed"].default))
        return fn(*bound.args, **bound.kwargs)

    return wrapper  # type: ignore[return-value]
