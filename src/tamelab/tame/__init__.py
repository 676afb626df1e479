"""Tame optimisation: tameness certificates, nonsmooth stationarity, ReLU'(0), convergence monitors and theorems.

Spec: ``shared/spec/tame-optimization.md`` §1–6. See ``docs/tame.md`` and ``docs/tame-convergence.md``.
"""

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
from .bertoin2021relu import DTYPES as DTYPES
from .bertoin2021relu import KinkCounter as KinkCounter
from .bertoin2021relu import ReLUPrime as ReLUPrime
from .bertoin2021relu import bifurcation_volume as bifurcation_volume
from .bertoin2021relu import paired_training as paired_training
from .bertoin2021relu import plot_relu_prime_zero as plot_relu_prime_zero
from .bertoin2021relu import relu_prime as relu_prime
from .bertoin2021relu import relu_prime_mlp as relu_prime_mlp
from .bertoin2021relu import relu_prime_zero_study as relu_prime_zero_study
from .bertoin2021relu import wilson_interval as wilson_interval
from .burke2005sampling import GradientSamplingResult as GradientSamplingResult
from .burke2005sampling import gradient_sampling_minimize as gradient_sampling_minimize
from .certify import LOSSES as LOSSES
from .certify import TamenessCertificate as TamenessCertificate
from .certify import certify as certify
from .davis2020stochastic import VERDICTS as VERDICTS
from .davis2020stochastic import ConvergenceReport as ConvergenceReport
from .davis2020stochastic import Hypothesis as Hypothesis
from .davis2020stochastic import boundedness_hypothesis as boundedness_hypothesis
from .davis2020stochastic import MonitoredRun as MonitoredRun
from .davis2020stochastic import convergence_report as convergence_report
from .davis2020stochastic import ddkl_toy_run as ddkl_toy_run
from .davis2020stochastic import monitored_sgd as monitored_sgd
from .davis2020stochastic import minibatch_noise as minibatch_noise
from .davis2020stochastic import sampled_stationarity as sampled_stationarity
from .davis2020stochastic import schedule_hypothesis as schedule_hypothesis
from .de2018convergence import THEOREM_METHODS as THEOREM_METHODS
from .de2018convergence import DmuRun as DmuRun
from .de2018convergence import SmoothProblem as SmoothProblem
from .de2018convergence import TheoremCheck as TheoremCheck
from .de2018convergence import adam_vs_nag_study as adam_vs_nag_study
from .de2018convergence import check_theorem as check_theorem
from .de2018convergence import log_finite_sum_problem as log_finite_sum_problem
from .de2018convergence import log_sum_problem as log_sum_problem
from .de2018convergence import min_hessian_eigenvalue as min_hessian_eigenvalue
from .de2018convergence import logistic_problem as logistic_problem
from .de2018convergence import plot_adam_vs_nag as plot_adam_vs_nag
from .de2018convergence import run_dmu as run_dmu
from .de2018convergence import sign_condition_violation as sign_condition_violation
from .goldstein import MIN_NORM_METHODS as MIN_NORM_METHODS
from .goldstein import GoldsteinResult as GoldsteinResult
from .goldstein import MinNormPoint as MinNormPoint
from .goldstein import ad_clarke_probe as ad_clarke_probe
from .goldstein import ad_vs_clarke_examples as ad_vs_clarke_examples
from .goldstein import goldstein_stationarity as goldstein_stationarity
from .goldstein import min_norm_hull as min_norm_hull
from .goldstein import min_norm_hull_exact as min_norm_hull_exact
from .goldstein import model_loss_function as model_loss_function
from .goldstein import sample_ball as sample_ball
from .goldstein import stationarity as stationarity
from .lojasiewicz import LOJASIEWICZ_CONVENTION as LOJASIEWICZ_CONVENTION
from .lojasiewicz import LojasiewiczEstimate as LojasiewiczEstimate
from .lojasiewicz import estimate_lojasiewicz as estimate_lojasiewicz
from .lojasiewicz import fit_tail_fstar as fit_tail_fstar
from .lojasiewicz import power_gd_trajectory as power_gd_trajectory
from .lojasiewicz import predicted_rate as predicted_rate

__all__ = [
    # tameness certificate
    "certify", "TamenessCertificate", "LOSSES", "STRUCTURES", "NONE", "UNKNOWN", "join", "join_all", "leq",
    "poly_bounded", "OpFact", "OP_FACTS", "op_fact",
    # nonsmooth stationarity
    "goldstein_stationarity", "GoldsteinResult", "min_norm_hull", "min_norm_hull_exact", "MinNormPoint", "sample_ball",
    "model_loss_function", "stationarity", "ad_clarke_probe", "ad_vs_clarke_examples", "MIN_NORM_METHODS",
    "gradient_sampling_minimize", "GradientSamplingResult",
    # ReLU'(0)
    "relu_prime", "ReLUPrime", "KinkCounter", "relu_prime_mlp", "bifurcation_volume", "paired_training",
    "relu_prime_zero_study", "plot_relu_prime_zero", "wilson_interval", "DTYPES",
    # convergence monitor (DDKL)
    "convergence_report", "ConvergenceReport", "Hypothesis", "schedule_hypothesis", "boundedness_hypothesis",
    "minibatch_noise", "sampled_stationarity", "VERDICTS", "monitored_sgd", "MonitoredRun", "ddkl_toy_run",
    # Łojasiewicz
    "estimate_lojasiewicz", "LojasiewiczEstimate", "predicted_rate", "fit_tail_fstar", "power_gd_trajectory",
    "LOJASIEWICZ_CONVENTION",
    # RMSProp / Adam theory
    "check_theorem", "TheoremCheck", "THEOREM_METHODS", "SmoothProblem", "log_sum_problem", "log_finite_sum_problem",
    "logistic_problem", "run_dmu", "DmuRun", "sign_condition_violation", "adam_vs_nag_study", "plot_adam_vs_nag",
    "min_hessian_eigenvalue",
]
