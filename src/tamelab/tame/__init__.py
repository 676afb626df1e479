"""Tame optimisation: tameness certificates, nonsmooth stationarity, convergence monitors, optimiser theorems, ReLU'(0).

Five topics, one subpackage each (spec ``shared/spec/tame-optimization.md`` §1–6; docs ``docs/tame.md`` and
``docs/tame-convergence.md``):

* :mod:`.certificates` — the tameness certificate (o-minimal structure of a traced network + loss);
* :mod:`.nonsmooth` — Goldstein ε-stationarity by gradient sampling, the BLO optimiser, AD vs Clarke;
* :mod:`.monitors` — the DDKL convergence report, monitored SGD, Łojasiewicz exponents;
* :mod:`.theorems` — RMSProp/ADAM guarantees (De–Mukherjee–Ullah), the ADAM-vs-NAG study, λ_min of Hessians;
* :mod:`.relu_prime` — the ReLU'(0) study (Bertoin et al. 2021).

The old module paths ``tamelab.tame.certify``, ``.goldstein``, ``.davis2020stochastic``, ``.de2018convergence``,
and ``.bertoin2021relu`` still import (compatibility re-exports).
"""

# compatibility modules first: importing a submodule later would rebind ``tamelab.tame.certify`` to the module
from . import certify as _compat_certify  # noqa: F401
from .certificates import BOUNDED_OUTPUT as BOUNDED_OUTPUT
from .certificates import LOSSES as LOSSES
from .certificates import NONE as NONE
from .certificates import OP_FACTS as OP_FACTS
from .certificates import STRUCTURES as STRUCTURES
from .certificates import UNKNOWN as UNKNOWN
from .certificates import OpFact as OpFact
from .certificates import TamenessCertificate as TamenessCertificate
from .certificates import certify as certify
from .certificates import join as join
from .certificates import join_all as join_all
from .certificates import leq as leq
from .certificates import op_fact as op_fact
from .certificates import poly_bounded as poly_bounded
from .monitors import LOJASIEWICZ_CONVENTION as LOJASIEWICZ_CONVENTION
from .monitors import VERDICTS as VERDICTS
from .monitors import ConvergenceReport as ConvergenceReport
from .monitors import Hypothesis as Hypothesis
from .monitors import LojasiewiczEstimate as LojasiewiczEstimate
from .monitors import LojasiewiczProblem as LojasiewiczProblem
from .monitors import gd_trajectory as gd_trajectory
from .monitors import lojasiewicz_problems as lojasiewicz_problems
from .monitors import MonitoredRun as MonitoredRun
from .monitors import NoiseEstimate as NoiseEstimate
from .monitors import SampledStationarity as SampledStationarity
from .monitors import ToyRun as ToyRun
from .monitors import boundedness_hypothesis as boundedness_hypothesis
from .monitors import convergence_report as convergence_report
from .monitors import ddkl_toy_run as ddkl_toy_run
from .monitors import estimate_lojasiewicz as estimate_lojasiewicz
from .monitors import fit_tail_fstar as fit_tail_fstar
from .monitors import minibatch_noise as minibatch_noise
from .monitors import monitored_sgd as monitored_sgd
from .monitors import power_gd_trajectory as power_gd_trajectory
from .monitors import predicted_rate as predicted_rate
from .monitors import sampled_stationarity as sampled_stationarity
from .monitors import schedule_hypothesis as schedule_hypothesis
from .monitors import stationarity_trend as stationarity_trend
from .nonsmooth import MIN_NORM_METHODS as MIN_NORM_METHODS
from .nonsmooth import AdClarkeProbe as AdClarkeProbe
from .nonsmooth import GoldsteinResult as GoldsteinResult
from .nonsmooth import GradientSamplingResult as GradientSamplingResult
from .nonsmooth import MinNormPoint as MinNormPoint
from .nonsmooth import ad_clarke_probe as ad_clarke_probe
from .nonsmooth import ad_vs_clarke_examples as ad_vs_clarke_examples
from .nonsmooth import goldstein_stationarity as goldstein_stationarity
from .nonsmooth import gradient_sampling_minimize as gradient_sampling_minimize
from .nonsmooth import min_norm_hull as min_norm_hull
from .nonsmooth import min_norm_hull_exact as min_norm_hull_exact
from .nonsmooth import model_loss_function as model_loss_function
from .nonsmooth import sample_ball as sample_ball
from .nonsmooth import stationarity as stationarity
from .relu_prime import DTYPES as DTYPES
from .relu_prime import KinkCounter as KinkCounter
from .relu_prime import ReLUPrime as ReLUPrime
from .relu_prime import ReluPrimeStudy as ReluPrimeStudy
from .relu_prime import bifurcation_volume as bifurcation_volume
from .relu_prime import paired_training as paired_training
from .relu_prime import plot_relu_prime_zero as plot_relu_prime_zero
from .relu_prime import relu_prime as relu_prime
from .relu_prime import relu_prime_mlp as relu_prime_mlp
from .relu_prime import relu_prime_zero_study as relu_prime_zero_study
from .relu_prime import wilson_interval as wilson_interval
from .theorems import THEOREM_METHODS as THEOREM_METHODS
from .theorems import AdamNagStudy as AdamNagStudy
from .theorems import DmuRun as DmuRun
from .theorems import HessianEigenvalue as HessianEigenvalue
from .theorems import SmoothProblem as SmoothProblem
from .theorems import TheoremCheck as TheoremCheck
from .theorems import adam_vs_nag_study as adam_vs_nag_study
from .theorems import check_theorem as check_theorem
from .theorems import log_finite_sum_problem as log_finite_sum_problem
from .theorems import log_sum_problem as log_sum_problem
from .theorems import logistic_problem as logistic_problem
from .theorems import min_hessian_eigenvalue as min_hessian_eigenvalue
from .theorems import plot_adam_vs_nag as plot_adam_vs_nag
from .theorems import run_dmu as run_dmu
from .theorems import run_dmu_batch as run_dmu_batch
from .theorems import sign_condition_violation as sign_condition_violation

__all__ = [
    # tameness certificate
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
    # nonsmooth stationarity
    "goldstein_stationarity",
    "GoldsteinResult",
    "min_norm_hull",
    "min_norm_hull_exact",
    "MinNormPoint",
    "sample_ball",
    "model_loss_function",
    "stationarity",
    "ad_clarke_probe",
    "AdClarkeProbe",
    "ad_vs_clarke_examples",
    "MIN_NORM_METHODS",
    "gradient_sampling_minimize",
    "GradientSamplingResult",
    # ReLU'(0)
    "relu_prime",
    "ReLUPrime",
    "KinkCounter",
    "relu_prime_mlp",
    "bifurcation_volume",
    "paired_training",
    "relu_prime_zero_study",
    "ReluPrimeStudy",
    "plot_relu_prime_zero",
    "wilson_interval",
    "DTYPES",
    # convergence monitors (DDKL, Łojasiewicz)
    "convergence_report",
    "ConvergenceReport",
    "Hypothesis",
    "schedule_hypothesis",
    "boundedness_hypothesis",
    "stationarity_trend",
    "minibatch_noise",
    "NoiseEstimate",
    "sampled_stationarity",
    "SampledStationarity",
    "VERDICTS",
    "monitored_sgd",
    "MonitoredRun",
    "ddkl_toy_run",
    "ToyRun",
    "estimate_lojasiewicz",
    "LojasiewiczEstimate",
    "predicted_rate",
    "fit_tail_fstar",
    "power_gd_trajectory",
    "LOJASIEWICZ_CONVENTION",
    "LojasiewiczProblem",
    "lojasiewicz_problems",
    "gd_trajectory",
    # optimiser theorems (RMSProp / ADAM)
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
    "min_hessian_eigenvalue",
    "HessianEigenvalue",
]
