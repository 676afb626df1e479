"""Published claims, reproduced: registry, verdicts (holds / fails / not reproduced)."""

from ._registry import VERDICTS as VERDICTS
from ._registry import Claim as Claim
from ._registry import ClaimContext as ClaimContext
from ._registry import Measured as Measured
from ._registry import all_claims as all_claims
from ._registry import claim as claim
from ._registry import get_claim as get_claim
from ._registry import run_claim as run_claim

__all__ = ["Claim", "ClaimContext", "Measured", "claim", "all_claims", "get_claim", "run_claim", "VERDICTS"]
