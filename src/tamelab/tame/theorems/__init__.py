"""Optimiser theorems: RMSProp/ADAM guarantees (De, Mukherjee & Ullah), the ADAM-vs-NAG study, λ_min of Hessians.

Modules: :mod:`.de2018convergence` (theorem conditions and the paper's algorithms on problems with known constants),
:mod:`.de2018autoencoder` (the autoencoder study), :mod:`._hessian` (smallest Hessian eigenvalue).
"""

from ._hessian import HessianEigenvalue as HessianEigenvalue
from ._hessian import min_hessian_eigenvalue as min_hessian_eigenvalue
from .de2018autoencoder import STUDY_OPTIMIZERS as STUDY_OPTIMIZERS
from .de2018autoencoder import AdamNagStudy as AdamNagStudy
from .de2018autoencoder import adam_vs_nag_study as adam_vs_nag_study
from .de2018autoencoder import plot_adam_vs_nag as plot_adam_vs_nag
from .de2018convergence import THEOREM_METHODS as THEOREM_METHODS
from .de2018convergence import DmuRun as DmuRun
from .de2018convergence import SmoothProblem as SmoothProblem
from .de2018convergence import TheoremCheck as TheoremCheck
from .de2018convergence import check_theorem as check_theorem
from .de2018convergence import log_finite_sum_problem as log_finite_sum_problem
from .de2018convergence import log_sum_problem as log_sum_problem
from .de2018convergence import logistic_problem as logistic_problem
from .de2018convergence import run_dmu as run_dmu
from .de2018convergence import run_dmu_batch as run_dmu_batch
from .de2018convergence import sign_condition_violation as sign_condition_violation

__all__ = [
    "check_theorem",
    "TheoremCheck",
    "THEOREM_METHODS",
    "SmoothProblem",
    "log_sum_problem",
    "log_finite_sum_problem",
    "logistic_problem",
    "run_dmu",
    "run_dmu_batch",
    "DmuRun",
    "sign_condition_violation",
    "adam_vs_nag_study",
    "AdamNagStudy",
    "plot_adam_vs_nag",
    "STUDY_OPTIMIZERS",
    "min_hessian_eigenvalue",
    "HessianEigenvalue",
]
