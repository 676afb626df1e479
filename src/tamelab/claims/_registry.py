"""The claim registry: each published claim, reproduced, with its verdict.

A claim is registered with the :func:`claim` decorator in a module under
``tamelab/claims/catalog/`` (one module per paper, named ``authorYEARkey.py``);
modules there are discovered automatically, so adding a claim edits no
central list. The decorated function receives a :class:`ClaimContext` and
returns a :class:`Measured`: the measured numbers and whether they match the
expectation (``holds=None`` means the claim could not be reproduced here).
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import time
import traceback
from typing import Any, Callable

from ..result import to_jsonable

__all__ = ["Claim", "ClaimContext", "Measured", "claim", "all_claims", "get_claim", "run_claim", "VERDICTS"]

VERDICTS = ("holds", "fails", "not reproduced")
#: where a claim's expected value comes from.
EXPECTED_FROM = ("paper", "theory", "regression")


@dataclasses.dataclass
class ClaimContext:
    """What a claim's run function may use: a seed and a quick (CI-sized) flag."""

    seed: int = 0
    quick: bool = False
    executor: Any = None


@dataclasses.dataclass
class Measured:
    """Measured values; ``holds`` True/False, or None when not reproducible here."""

    values: dict[str, Any]
    holds: bool | None
    note: str = ""


@dataclasses.dataclass
class Claim:
    id: str
    paper: str
    statement: str
    expected: Any
    fn: Callable[[ClaimContext], Measured] = dataclasses.field(repr=False)
    tags: tuple[str, ...] = ()
    slow: bool = False
    #: where the statement comes from: paper + theorem/table/equation (e.g. "arXiv:2309.10639 Thm 2.3").
    source: str | None = None
    #: where the expected value comes from: "paper" (printed in the paper), "theory" (derived), "regression".
    expected_from: str | None = None

    def run(self, ctx: ClaimContext | None = None) -> dict[str, Any]:
        ctx = ctx or ClaimContext()
        t0 = time.perf_counter()
        try:
            m = self.fn(ctx)
            if not isinstance(m, Measured):
                raise TypeError(f"claim {self.id} returned {type(m).__name__}, expected Measured")
            verdict = "not reproduced" if m.holds is None else ("holds" if m.holds else "fails")
            measured, note = m.values, m.note
        except Exception as e:  # a crashing claim is a finding, not a crash of the table
            verdict = "not reproduced"
            measured = {"error": f"{type(e).__name__}: {e}"}
            note = traceback.format_exc(limit=3)
        return to_jsonable(
            {
                "id": self.id,
                "paper": self.paper,
                "statement": self.statement,
                "expected": self.expected,
                "measured": measured,
                "verdict": verdict,
                "note": note,
                "tags": list(self.tags),
                "source": self.source,
                "expected_from": self.expected_from,
                "seed": ctx.seed,
                "seconds": time.perf_counter() - t0,
            }
        )


_REGISTRY: dict[str, Claim] = {}


def claim(
    id: str,
    *,
    paper: str,
    statement: str,
    expected: Any,
    tags: tuple[str, ...] = (),
    slow: bool = False,
    source: str | None = None,
    expected_from: str | None = None,
) -> Callable[[Callable[[ClaimContext], Measured]], Callable[[ClaimContext], Measured]]:
    """Register a claim. ``paper`` is an arXiv id (``arXiv:1611.01491``) or a citation; ``source`` names
    the theorem/table/equation; ``expected_from`` is one of :data:`EXPECTED_FROM`."""
    if expected_from is not None and expected_from not in EXPECTED_FROM:
        raise ValueError(f"claim {id!r}: expected_from must be one of {EXPECTED_FROM}, got {expected_from!r}")

    def deco(fn: Callable[[ClaimContext], Measured]):
        if id in _REGISTRY and _REGISTRY[id].fn is not fn:
            raise ValueError(f"duplicate claim id {id!r}")
        _REGISTRY[id] = Claim(id, paper, statement, expected, fn, tuple(tags), slow, source, expected_from)
        return fn

    return deco


_DISCOVERED = False


def _discover() -> None:
    global _DISCOVERED
    if _DISCOVERED:
        return
    from . import catalog

    for mod in sorted(pkgutil.iter_modules(catalog.__path__), key=lambda m: m.name):
        importlib.import_module(f"{catalog.__name__}.{mod.name}")
    _DISCOVERED = True


def all_claims() -> list[Claim]:
    _discover()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def get_claim(claim_id: str) -> Claim:
    _discover()
    from ..errors import InputError

    if claim_id not in _REGISTRY:
        raise InputError("claim id", f"unknown claim {claim_id!r}", "see 'tamelab claims list'")
    return _REGISTRY[claim_id]


def run_claim(claim_id: str, ctx: ClaimContext | None = None) -> dict[str, Any]:
    return get_claim(claim_id).run(ctx)
