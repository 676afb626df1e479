"""The one verdict vocabulary of the package.

Two kinds of judgement are printed by TameLab, and both use :class:`Verdict`:

* a **claim** of a paper, reproduced by :mod:`tamelab.claims`: ``holds``, ``fails`` or
  ``not reproduced`` (:data:`CLAIM_VERDICTS`);
* a **hypothesis** of a theorem, checked on a run (e.g. the hypotheses of Davis–Drusvyatskiy–
  Kakade–Lee in :mod:`tamelab.tame`): ``holds``, ``violated`` or ``not checkable``
  (:data:`HYPOTHESIS_VERDICTS`).

``Verdict`` is a ``str`` enum, so ``Verdict.HOLDS == "holds"`` and JSON output is unchanged.

>>> Verdict("not reproduced") is Verdict.NOT_REPRODUCED
True
>>> Verdict.HOLDS == "holds"
True
>>> Verdict.of_claim(None).value
'not reproduced'
"""

from __future__ import annotations

import enum

__all__ = ["Verdict", "CLAIM_VERDICTS", "HYPOTHESIS_VERDICTS"]


class Verdict(str, enum.Enum):
    """A judgement on a claim or on a hypothesis; each member carries a plain-language message."""

    HOLDS = "holds"
    FAILS = "fails"
    NOT_REPRODUCED = "not reproduced"
    VIOLATED = "violated"
    NOT_CHECKABLE = "not checkable"

    def __str__(self) -> str:
        return self.value

    @property
    def message(self) -> str:
        """One plain sentence saying what the verdict means."""
        return _MESSAGES[self]

    @classmethod
    def of_claim(cls, holds: bool | None) -> Verdict:
        """The verdict of a claim whose measurement matched (True), did not (False), or could not run (None)."""
        if holds is None:
            return cls.NOT_REPRODUCED
        return cls.HOLDS if holds else cls.FAILS

    @classmethod
    def of_hypothesis(cls, holds: bool | None) -> Verdict:
        """The verdict of a hypothesis that holds (True), is violated (False) or cannot be checked (None)."""
        if holds is None:
            return cls.NOT_CHECKABLE
        return cls.HOLDS if holds else cls.VIOLATED


_MESSAGES = {
    Verdict.HOLDS: "the measurement agrees with the statement",
    Verdict.FAILS: "the measurement contradicts the statement",
    Verdict.NOT_REPRODUCED: "the measurement could not be made here",
    Verdict.VIOLATED: "the hypothesis does not hold on this run, so the theorem predicts nothing here",
    Verdict.NOT_CHECKABLE: "the hypothesis cannot be checked from what was recorded",
}

#: verdicts of a reproduced claim (:mod:`tamelab.claims`), in display order.
CLAIM_VERDICTS: tuple[Verdict, ...] = (Verdict.HOLDS, Verdict.FAILS, Verdict.NOT_REPRODUCED)
#: verdicts of a theorem's hypothesis checked on a run, in display order.
HYPOTHESIS_VERDICTS: tuple[Verdict, ...] = (Verdict.HOLDS, Verdict.VIOLATED, Verdict.NOT_CHECKABLE)
