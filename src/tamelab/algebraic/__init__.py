"""Algebraic geometry of networks: neuromanifold dimensions, Waring decompositions, critical points."""

from ._critical import CriticalResult as CriticalResult
from ._critical import HomotopyCount as HomotopyCount
from ._critical import critical_points_homotopy as critical_points_homotopy
from ._critical import count_standard_monomials as count_standard_monomials
from ._critical import linear_net_critical_points as linear_net_critical_points
from ._homotopy import HomotopyResult as HomotopyResult
from ._homotopy import PolySystem as PolySystem
from ._homotopy import solve_total_degree as solve_total_degree
from ._modp import P as P
from ._modp import rank_mod as rank_mod
from ._waring import AH_EXCEPTIONS as AH_EXCEPTIONS
from ._waring import WaringResult as WaringResult
from ._waring import decompose as decompose
from ._waring import evaluate_waring as evaluate_waring
from ._waring import generic_waring_rank as generic_waring_rank
from ._waring import secant_dimension as secant_dimension
from ._waring import waring_tensor as waring_tensor
from .kileel2019neuromanifold import NeuromanifoldResult as NeuromanifoldResult
from .kileel2019neuromanifold import ambient_dimension as ambient_dimension
from .kileel2019neuromanifold import expected_dimension as expected_dimension
from .kileel2019neuromanifold import filling_widths as filling_widths
from .kileel2019neuromanifold import float_rank as float_rank
from .kileel2019neuromanifold import neuromanifold_dimension as neuromanifold_dimension

#: spec geometry.md §3.4: (widths, power) -> exact dimension of the neurovariety.
KTB_TABLE = [
    ((2, 2, 1), 2, 3),
    ((3, 2, 1), 2, 5),
    ((4, 2, 1), 2, 7),
    ((4, 3, 1), 2, 9),
    ((3, 3, 1), 3, 9),
    ((3, 4, 1), 3, 10),
    ((5, 7, 1), 3, 34),
    ((5, 8, 1), 3, 35),
    ((3, 5, 1), 4, 14),
    ((4, 9, 1), 4, 34),
    ((5, 14, 1), 4, 69),
    ((2, 2, 2), 2, 6),
    ((3, 3, 3), 2, 15),
    ((4, 4, 4), 2, 28),
    ((2, 2, 2, 1), 2, 5),
    ((3, 2, 2, 1), 2, 7),
    ((3, 3, 3, 1), 2, 12),
    ((2, 1, 2, 1), 2, 2),
    ((3, 1, 3, 1), 2, 3),
    ((2, 2, 2, 2), 3, 8),
]

__all__ = [
    # neuromanifolds
    "neuromanifold_dimension",
    "NeuromanifoldResult",
    "expected_dimension",
    "ambient_dimension",
    "float_rank",
    "filling_widths",
    "KTB_TABLE",
    "rank_mod",
    "P",
    # Waring
    "waring_tensor",
    "evaluate_waring",
    "decompose",
    "WaringResult",
    "generic_waring_rank",
    "secant_dimension",
    "AH_EXCEPTIONS",
    # critical points
    "linear_net_critical_points",
    "CriticalResult",
    "count_standard_monomials",
    "critical_points_homotopy",
    "HomotopyCount",
    "solve_total_degree",
    "PolySystem",
    "HomotopyResult",
]
