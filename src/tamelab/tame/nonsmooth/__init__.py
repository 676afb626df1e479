"""Nonsmooth stationarity: Goldstein ε-subdifferentials by gradient sampling, the BLO optimiser, AD vs Clarke.

Modules: :mod:`.wolfe1976nearest` (the min-norm point of a hull, with its KKT certificate and an exact rational
reference), :mod:`.goldstein1977optimization` (the gradient-sampling certificate), :mod:`._kinks` (exact kink hits of
any fx-traceable program), :mod:`._model` (the certificate for a model's full-batch loss), :mod:`.burke2005sampling`
(the Burke–Lewis–Overton optimiser), :mod:`.bolte2021conservative` (AD outputs vs the Clarke subdifferential).
"""

from ._kinks import KinkCounted as KinkCounted
from ._kinks import kink_counted as kink_counted
from ._model import model_loss_function as model_loss_function
from ._model import stationarity as stationarity
from .bolte2021conservative import AdClarkeProbe as AdClarkeProbe
from .bolte2021conservative import ad_clarke_probe as ad_clarke_probe
from .bolte2021conservative import ad_vs_clarke_examples as ad_vs_clarke_examples
from .burke2005sampling import GradientSamplingResult as GradientSamplingResult
from .burke2005sampling import gradient_sampling_minimize as gradient_sampling_minimize
from .goldstein1977optimization import GoldsteinResult as GoldsteinResult
from .goldstein1977optimization import check_radius as check_radius
from .goldstein1977optimization import goldstein_stationarity as goldstein_stationarity
from .goldstein1977optimization import sample_ball as sample_ball
from .wolfe1976nearest import MIN_NORM_METHODS as MIN_NORM_METHODS
from .wolfe1976nearest import MinNormPoint as MinNormPoint
from .wolfe1976nearest import min_norm_hull as min_norm_hull
from .wolfe1976nearest import min_norm_hull_exact as min_norm_hull_exact

__all__ = [
    "goldstein_stationarity",
    "GoldsteinResult",
    "check_radius",
    "sample_ball",
    "min_norm_hull",
    "min_norm_hull_exact",
    "MinNormPoint",
    "MIN_NORM_METHODS",
    "model_loss_function",
    "stationarity",
    "kink_counted",
    "KinkCounted",
    "ad_clarke_probe",
    "AdClarkeProbe",
    "ad_vs_clarke_examples",
    "gradient_sampling_minimize",
    "GradientSamplingResult",
]
