"""Error types shared by every capability.

``InputError`` is bad input (the CLI prints one line and exits 2);
``ComputationError`` is a failure of the computation itself (exit 1).
Messages are one line: they name the field and say how to fix it.
"""

from __future__ import annotations

__all__ = ["TameLabError", "InputError", "NotApplicableError", "ComputationError"]


class TameLabError(Exception):
    """Base class of all TameLab errors."""

    exit_code = 1


class InputError(TameLabError, ValueError):
    """Bad input: names the offending field and the fix. CLI exit code 2."""

    exit_code = 2

    def __init__(self, field: str, problem: str, fix: str | None = None) -> None:
        self.field = field
        self.problem = problem
        self.fix = fix
        msg = f"{field}: {problem}"
        if fix:
            msg += f" ({fix})"
        super().__init__(msg)


class NotApplicableError(InputError):
    """The mathematics of a capability does not apply to this model or data.

    For example exact linear regions of a GELU network. Reports show it as "not applicable: <why>"; the CLI
    exits 2 with the one line.
    """

    def __init__(self, field: str, problem: str, fix: str | None = None) -> None:
        super().__init__(field, problem, fix)


class ComputationError(TameLabError, RuntimeError):
    """The computation failed (did not converge, non-finite values, ...). CLI exit code 1."""

    exit_code = 1
