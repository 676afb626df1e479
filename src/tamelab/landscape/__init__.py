"""Curvature and loss-landscape geometry of any nn.Module:

operators, spectra, slices, barriers, mode connectivity, permutation alignment, trajectory PCA.
"""

from ._connect import BarrierResult as BarrierResult
from ._connect import ConnectResult as ConnectResult
from ._connect import barrier as barrier
from ._connect import connect_models as connect_models
from ._connect import plot_connectivity as plot_connectivity
from ._operators import CurvatureOperator as CurvatureOperator
from ._operators import flat_params as flat_params
from ._operators import set_flat_params as set_flat_params
from ._pca import trajectory_pca as trajectory_pca
from ._relu_trace import ce_ggn_diagonal as ce_ggn_diagonal
from ._relu_trace import ggn_diagonal as ggn_diagonal
from ._relu_trace import hessian_trace as hessian_trace
from ._relu_trace import second_order_premise as second_order_premise
from ._spectrum import DensityResult as DensityResult
from ._spectrum import EigResult as EigResult
from ._spectrum import TraceResult as TraceResult
from ._spectrum import as_operator as as_operator
from ._spectrum import diagonal as diagonal
from ._spectrum import hutchinson as hutchinson
from ._spectrum import hutchpp as hutchpp
from ._spectrum import lanczos as lanczos
from ._spectrum import slq_density as slq_density
from ._spectrum import top_eigenpairs as top_eigenpairs
from ._spectrum import xtrace as xtrace
from ._permutation_spec import Axis as Axis
from ._permutation_spec import PermutationSpec as PermutationSpec
from ._permutation_spec import derive_spec as derive_spec
from ._permutation_spec import mlp_spec as mlp_spec
from ._permutation_spec import permute as permute
from .ainsworth2023rebasin import AlignResult as AlignResult
from .ainsworth2023rebasin import matching_objective as matching_objective
from .ainsworth2023rebasin import resolve_spec as resolve_spec
from .ainsworth2023rebasin import activation_matching as activation_matching
from .ainsworth2023rebasin import permute_mlp as permute_mlp
from .ainsworth2023rebasin import weight_matching as weight_matching
from .garipov2018curves import CurveResult as CurveResult
from .garipov2018curves import curve_coefficients as curve_coefficients
from .garipov2018curves import fit_curve as fit_curve
from .li2018visualizing import InterpolationResult as InterpolationResult
from .li2018visualizing import SurfaceResult as SurfaceResult
from .li2018visualizing import filter_normalized_direction as filter_normalized_direction
from .li2018visualizing import interpolate as interpolate
from .li2018visualizing import PlaneResult as PlaneResult
from .li2018visualizing import loss_surface as loss_surface
from .li2018visualizing import model_direction as model_direction
from .li2018visualizing import TrajectorySurface as TrajectorySurface
from .li2018visualizing import plane_through_models as plane_through_models
from .li2018visualizing import trajectory_surface as trajectory_surface

__all__ = [
    # operators
    "CurvatureOperator",
    "flat_params",
    "set_flat_params",
    "ce_ggn_diagonal",
    "ggn_diagonal",
    "as_operator",
    # spectra
    "lanczos",
    "top_eigenpairs",
    "EigResult",
    "hutchinson",
    "hutchpp",
    "xtrace",
    "diagonal",
    "TraceResult",
    "slq_density",
    "DensityResult",
    "hessian_trace",
    "second_order_premise",
    # slices and barriers
    "filter_normalized_direction",
    "loss_surface",
    "SurfaceResult",
    "interpolate",
    "InterpolationResult",
    "model_direction",
    "plane_through_models",
    "PlaneResult",
    # connectivity and alignment
    "fit_curve",
    "curve_coefficients",
    "CurveResult",
    "weight_matching",
    "activation_matching",
    "permute_mlp",
    "AlignResult",
    "connect_models",
    "ConnectResult",
    "plot_connectivity",
    "barrier",
    "BarrierResult",
    "PermutationSpec",
    "Axis",
    "derive_spec",
    "mlp_spec",
    "permute",
    "resolve_spec",
    "matching_objective",
    # trajectories
    "trajectory_pca",
    "trajectory_surface",
    "TrajectorySurface",
]
