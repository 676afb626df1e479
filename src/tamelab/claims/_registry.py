"""The claim registry: each published claim, reproduced, with its verdict.

A claim is registered with the :func:`claim` decorator in a module under
``tamelab/claims/catalog/`` (one module per paper, named ``authorYEARkey.py``);
modules there are discovered automatically, so adding a claim edits no
central list. The decorated function receives a :class:`ClaimContext` and
returns a :class:`Measured`: the measured numbers and whether they match the
expectation (``holds=None`` means the claim could not be reproduced here).

Every claim says where it comes from: ``source`` (paper and theorem / table /
equation) and ``expected_from`` (:class:`ExpectedFrom`: the expected value is
printed in the paper, derived by theory, or our own earlier measurement).
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import pkgutil
import sys
import time
import traceback
from typing import Any, Callable

from ..result import to_jsonable
from ..verdicts import Verdict

__all__ = [
    "Claim",
    "ClaimContext",
    "Measured",
    "claim",
    "all_claims",
    "get_claim",
    "run_claim",
    "Verdict",
    "ExpectedFrom",
    "EXPECTED_FROM",
]


class ExpectedFrom(str, enum.Enum):
    """Where a claim's expected value comes from."""

    #: a number or statement printed in the paper
    PAPER = "paper"
    #: derived (by the paper's theorem with our constants, or by us)
    THEORY = "theory"
    #: our own earlier measurement (a regression value, not a published one)
    REGRESSION = "regression"


#: the allowed ``expected_from`` strings.
EXPECTED_FROM = tuple(e.value for e in ExpectedFrom)


@dataclasses.dataclass
class ClaimContext:
    """What a claim's run function may use: a seed and a quick (CI-sized) flag."""

    seed: int = 0
    quick: bool = False


@dataclasses.dataclass
class Measured:
    """Measured values; ``holds`` True/False, or None when not reproducible here."""

    values: dict[str, Any]
    holds: bool | None
    note: str = ""


@dataclasses.dataclass
class Claim:
    """A registered claim: the statement, its provenance and the function that measures it."""

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

    @property
    def module(self) -> str:
        """The catalog module (``authorYEARkey``) that registers the claim: the paper group."""
        return self.fn.__module__.rsplit(".", 1)[-1]

    @property
    def paper_title(self) -> str:
        """First line of the catalog module's docstring (the paper's citation)."""
        doc = getattr(sys.modules.get(self.fn.__module__), "__doc__", None) or ""
        return doc.strip().splitlines()[0].rstrip(".") if doc.strip() else self.paper

    def describe(self) -> dict[str, Any]:
        """The claim without a run (what ``tamelab claims list`` shows)."""
        return {
            "id": self.id,
            "paper": self.paper,
            "source": self.source,
            "expected_from": self.expected_from,
            "statement": self.statement,
            "expected": to_jsonable(self.expected),
            "tags": list(self.tags),
            "slow": self.slow,
            "group": self.module,
            "group_title": self.paper_title,
        }

    def run(self, ctx: ClaimContext | None = None) -> dict[str, Any]:
        """Run the claim; a crash is recorded as ``not reproduced`` with the error (a finding, not a crash)."""
        ctx = ctx or ClaimContext()
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            m = self.fn(ctx)
            if not isinstance(m, Measured):
                raise TypeError(f"claim {self.id} returned {type(m).__name__}, expected Measured")
            if m.holds not in (True, False, None):
                raise TypeError(f"claim {self.id}: Measured.holds must be True, False or None, got {m.holds!r}")
            verdict = Verdict.of_claim(m.holds)
            measured, note = m.values, m.note
        except Exception as e:  # a crashing claim is a finding, not a crash of the table
            verdict = Verdict.NOT_REPRODUCED
            measured = {"error": f"{type(e).__name__}: {e}"}
            note = traceback.format_exc(limit=3)
        return to_jsonable(
            {
                "id": self.id,
                "paper": self.paper,
                "source": self.source,
                "expected_from": self.expected_from,
                "statement": self.statement,
                "expected": self.expected,
                "measured": measured,
                "verdict": verdict,
                "note": note,
                "tags": list(self.tags),
                "group": self.module,
                "seed": ctx.seed,
                "quick": ctx.quick,
                "seconds": time.perf_counter() - t0,
                # CPU seconds of this process: comparable between runs on a loaded machine, unlike wall time
                "cpu_seconds": time.process_time() - c0,
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
    """Register a claim.

    ``paper`` is an arXiv id (``arXiv:1611.01491``) or a citation; ``source`` names the paper's
    theorem / table / equation the statement comes from; ``expected_from`` is one of
    :data:`EXPECTED_FROM` (``paper``, ``theory``, ``regression``).
    """
    if expected_from is not None:
        try:
            expected_from = ExpectedFrom(expected_from).value
        except ValueError:
            raise ValueError(
                f"claim {id!r}: expected_from must be one of {EXPECTED_FROM}, got {expected_from!r}"
            ) from None
    if source is not None and not str(source).strip():
        raise ValueError(f"claim {id!r}: source must name the paper's theorem/table/equation, got an empty string")

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
    """Every registered claim, sorted by id."""
    _discover()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def get_claim(claim_id: str) -> Claim:
    """The claim with this id (``InputError`` naming ``tamelab claims list`` if unknown)."""
    _discover()
    from ..errors import InputError

    if claim_id not in _REGISTRY:
        raise InputError("claim id", f"unknown claim {claim_id!r}", "see 'tamelab claims list'")
    return _REGISTRY[claim_id]


def run_claim(claim_id: str, ctx: ClaimContext | None = None) -> dict[str, Any]:
    """Run one claim by id and return its JSON row."""
    return get_claim(claim_id).run(ctx)
