"""Published claims, reproduced: registry, verdicts (holds / fails / not reproduced), provenance, runs."""

from ..verdicts import Verdict as Verdict
from ._registry import EXPECTED_FROM as EXPECTED_FROM
from ._registry import Claim as Claim
from ._registry import ClaimContext as ClaimContext
from ._registry import ExpectedFrom as ExpectedFrom
from ._registry import Measured as Measured
from ._registry import all_claims as all_claims
from ._registry import claim as claim
from ._registry import get_claim as get_claim
from ._registry import run_claim as run_claim
from ._run import ClaimsRun as ClaimsRun
from ._run import group_by_paper as group_by_paper
from ._run import run_claims as run_claims

__all__ = [
    "Claim",
    "ClaimContext",
    "Measured",
    "claim",
    "all_claims",
    "get_claim",
    "run_claim",
    "run_claims",
    "ClaimsRun",
    "group_by_paper",
    "Verdict",
    "ExpectedFrom",
    "EXPECTED_FROM",
]
