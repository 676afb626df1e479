"""The ReLU'(0) study (Bertoin, Bolte, Gerchinovitz & Pauwels, NeurIPS 2021, arXiv:2106.12915).

:mod:`._ops` (ReLU with a chosen ReLU'(0), kink counters, emulated float16 nets) and
:mod:`.bertoin2021relu` (bifurcation-zone volume, paired training, the study and its plot).
"""

from ._ops import DTYPES as DTYPES
from ._ops import KinkCounter as KinkCounter
from ._ops import ReLUPrime as ReLUPrime
from ._ops import relu_prime as relu_prime
from ._ops import relu_prime_mlp as relu_prime_mlp
from .bertoin2021relu import BifurcationVolume as BifurcationVolume
from .bertoin2021relu import PairedTraining as PairedTraining
from .bertoin2021relu import ReluPrimeStudy as ReluPrimeStudy
from .bertoin2021relu import bifurcation_volume as bifurcation_volume
from .bertoin2021relu import paired_training as paired_training
from .bertoin2021relu import plot_relu_prime_zero as plot_relu_prime_zero
from .bertoin2021relu import relu_prime_zero_study as relu_prime_zero_study
from .bertoin2021relu import wilson_interval as wilson_interval

__all__ = [
    "relu_prime",
    "ReLUPrime",
    "KinkCounter",
    "relu_prime_mlp",
    "DTYPES",
    "bifurcation_volume",
    "BifurcationVolume",
    "paired_training",
    "PairedTraining",
    "relu_prime_zero_study",
    "ReluPrimeStudy",
    "plot_relu_prime_zero",
    "wilson_interval",
]
