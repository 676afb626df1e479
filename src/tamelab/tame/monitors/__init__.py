"""Convergence monitors: the DDKL hypotheses on a training run, monitored SGD, Łojasiewicz exponents.

Modules: :mod:`.davis2020stochastic` (hypothesis verdicts and the evidence for the DDKL conclusion; the tame toy),
:mod:`._sgd` (plain SGD with the per-step monitor), :mod:`._noise` (mini-batch noise, sampled stationarity, the
trajectory tests), :mod:`.attouch2009lojasiewicz` (Łojasiewicz exponents from trajectories and the rates they predict).
"""

from ..nonsmooth.wolfe1976nearest import min_norm_hull as min_norm_hull
from ._noise import NoiseEstimate as NoiseEstimate
from ._noise import SampledStationarity as SampledStationarity
from ._noise import minibatch_noise as minibatch_noise
from ._noise import sampled_stationarity as sampled_stationarity
from ._sgd import MonitoredRun as MonitoredRun
from ._sgd import monitored_sgd as monitored_sgd
from .attouch2009lojasiewicz import LOJASIEWICZ_CONVENTION as LOJASIEWICZ_CONVENTION
from .attouch2009lojasiewicz import LojasiewiczEstimate as LojasiewiczEstimate
from .attouch2009lojasiewicz import LojasiewiczProblem as LojasiewiczProblem
from .attouch2009lojasiewicz import gd_trajectory as gd_trajectory
from .attouch2009lojasiewicz import lojasiewicz_problems as lojasiewicz_problems
from .attouch2009lojasiewicz import estimate_lojasiewicz as estimate_lojasiewicz
from .attouch2009lojasiewicz import fit_tail_fstar as fit_tail_fstar
from .attouch2009lojasiewicz import power_gd_trajectory as power_gd_trajectory
from .attouch2009lojasiewicz import predicted_rate as predicted_rate
from .davis2020stochastic import VERDICTS as VERDICTS
from .davis2020stochastic import ConvergenceReport as ConvergenceReport
from .davis2020stochastic import Hypothesis as Hypothesis
from .davis2020stochastic import ToyRun as ToyRun
from .davis2020stochastic import boundedness_hypothesis as boundedness_hypothesis
from .davis2020stochastic import convergence_report as convergence_report
from .davis2020stochastic import ddkl_toy_run as ddkl_toy_run
from .davis2020stochastic import schedule_hypothesis as schedule_hypothesis
from .davis2020stochastic import stationarity_trend as stationarity_trend

__all__ = [
    "convergence_report",
    "ConvergenceReport",
    "Hypothesis",
    "schedule_hypothesis",
    "boundedness_hypothesis",
    "VERDICTS",
    "stationarity_trend",
    "monitored_sgd",
    "MonitoredRun",
    "minibatch_noise",
    "NoiseEstimate",
    "sampled_stationarity",
    "SampledStationarity",
    "ddkl_toy_run",
    "ToyRun",
    "min_norm_hull",
    "estimate_lojasiewicz",
    "LojasiewiczEstimate",
    "predicted_rate",
    "fit_tail_fstar",
    "power_gd_trajectory",
    "LOJASIEWICZ_CONVENTION",
    "LojasiewiczProblem",
    "lojasiewicz_problems",
    "gd_trajectory",
]
