"""Tameness certificates: the o-minimal structure a traced network (+ loss) is definable in.

Spec ``shared/spec/tame-optimization.md`` §1. Modules: :mod:`._structures` (the lattice and the per-op facts),
:mod:`._trace` (fx / export tracing), :mod:`._intervals` (interval bounds), :mod:`.tameness` (the certificate).
"""

from ._structures import BOUNDED_OUTPUT as BOUNDED_OUTPUT
from ._structures import NONE as NONE
from ._structures import OP_FACTS as OP_FACTS
from ._structures import STRUCTURES as STRUCTURES
from ._structures import UNKNOWN as UNKNOWN
from ._structures import OpFact as OpFact
from ._structures import join as join
from ._structures import join_all as join_all
from ._structures import leq as leq
from ._structures import op_fact as op_fact
from ._structures import poly_bounded as poly_bounded
from .tameness import LOSSES as LOSSES
from .tameness import TamenessCertificate as TamenessCertificate
from .tameness import certify as certify

__all__ = [
    "certify",
    "TamenessCertificate",
    "LOSSES",
    "STRUCTURES",
    "NONE",
    "UNKNOWN",
    "join",
    "join_all",
    "leq",
    "poly_bounded",
    "OpFact",
    "OP_FACTS",
    "op_fact",
    "BOUNDED_OUTPUT",
]
