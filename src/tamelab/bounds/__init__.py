"""Generalization certificates: PAC-Bayes bounds, kl-inverse, posterior optimisation, path geometry."""

from ._confidence import ConfidenceLedger as ConfidenceLedger
from ._kl import KL_INV_TOL as KL_INV_TOL
from ._kl import kl_binary as kl_binary
from ._kl import kl_inv_lower as kl_inv_lower
from ._kl import kl_inv_upper as kl_inv_upper
from ._pac_bayes import best_lambda_bound as best_lambda_bound
from ._pac_bayes import catoni_bound as catoni_bound
from ._pac_bayes import catoni_grid_bound as catoni_grid_bound
from ._pac_bayes import classic_bound as classic_bound
from ._pac_bayes import dr_penalty as dr_penalty
from ._pac_bayes import gaussian_kl as gaussian_kl
from ._pac_bayes import kl_bound as kl_bound
from ._pac_bayes import lambda_bound as lambda_bound
from ._pac_bayes import langford_seeger_bound as langford_seeger_bound
from ._pac_bayes import mc_error_bound as mc_error_bound
from ._pac_bayes import mcallester_bound as mcallester_bound
from ._pac_bayes import prior_variance_grid as prior_variance_grid
from ._pac_bayes import quad_bound as quad_bound
from ._paths import PathGeometry as PathGeometry
from ._paths import path_geometry as path_geometry
from ._stochastic import StochasticNet as StochasticNet
from ._stochastic import reinitialised as reinitialised
from .dziugaite2017nonvacuous import MAX_WORK as MAX_WORK
from .dziugaite2017nonvacuous import MODES as MODES
from .dziugaite2017nonvacuous import PRIOR_SIGMAS as PRIOR_SIGMAS
from .dziugaite2017nonvacuous import PacBayesResult as PacBayesResult
from .dziugaite2017nonvacuous import WorkEstimate as WorkEstimate
from .dziugaite2017nonvacuous import estimate_work as estimate_work
from .dziugaite2017nonvacuous import pac_bayes_certificate as pac_bayes_certificate

__all__ = [
    # kl
    "kl_binary", "kl_inv_upper", "kl_inv_lower", "KL_INV_TOL",
    # bounds
    "kl_bound", "classic_bound", "mcallester_bound", "quad_bound", "lambda_bound", "best_lambda_bound",
    "catoni_bound", "catoni_grid_bound", "langford_seeger_bound", "gaussian_kl", "prior_variance_grid", "dr_penalty",
    "mc_error_bound",
    # certificates and paths
    "pac_bayes_certificate", "PacBayesResult", "PRIOR_SIGMAS", "MODES", "MAX_WORK", "estimate_work", "WorkEstimate",
    "ConfidenceLedger",
    "StochasticNet", "reinitialised", "path_geometry", "PathGeometry",
]
