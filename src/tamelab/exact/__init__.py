"""Constructions and exact solvers, each returning the certificate that proves its answer.

Spec: ``shared/spec/constructive.md``, ``shared/spec/geometry.md`` §5. See ``docs/exact-constructions.md``
and ``docs/exact-solvers.md``.
"""

from ._dichotomies import DichotomySet as DichotomySet
from ._dichotomies import enumerate_dichotomies as enumerate_dichotomies
from .arora2018erm import ERM_MAX_ENUMERATION as ERM_MAX_ENUMERATION
from .arora2018erm import ERM_MAX_QPS as ERM_MAX_QPS
from .arora2018erm import erm_work_estimate as erm_work_estimate
from .arora2018erm import ERMWorkEstimate as ERMWorkEstimate
from .arora2018erm import ERMResult as ERMResult
from .arora2018erm import dichotomies as dichotomies
from .arora2018erm import dichotomy_count as dichotomy_count
from .arora2018erm import erm_loss as erm_loss
from .arora2018erm import erm_network as erm_network
from .arora2018erm import exact_erm as exact_erm
from .karmakar2020gate import GateRun as GateRun
from .karmakar2020gate import gate_constants as gate_constants
from .karmakar2020gate import laplace_inputs as laplace_inputs
from .karmakar2020gate import train_relu_gate as train_relu_gate
from .rangamani2018sparse import SparseCodingPoint as SparseCodingPoint
from .rangamani2018sparse import autoencoder_gradient as autoencoder_gradient
from .rangamani2018sparse import plot_sparse_coding as plot_sparse_coding
from .rangamani2018sparse import sparse_coding_data as sparse_coding_data
from .rangamani2018sparse import sparse_coding_trend as sparse_coding_trend
from ._deep_linear import classify_critical_point as classify_critical_point
from ._deep_linear import deep_linear_critical_points as deep_linear_critical_points
from ._deep_linear import deep_linear_gd as deep_linear_gd
from ._deep_linear import deep_linear_gradient as deep_linear_gradient
from ._deep_linear import deep_linear_hessian as deep_linear_hessian
from ._deep_linear import deep_linear_loss as deep_linear_loss
from ._deep_linear import deep_linear_optimum as deep_linear_optimum
from ._deep_linear import CriticalPoint as CriticalPoint
from ._deep_linear import CriticalPointClass as CriticalPointClass
from ._deep_linear import DeepLinearGD as DeepLinearGD
from ._deep_linear import DeepLinearOptimum as DeepLinearOptimum
from ._deep_linear import LinearStatistics as LinearStatistics
from ._deep_linear import linear_statistics as linear_statistics
from ._local_min import LocalMinResult as LocalMinResult
from ._local_min import local_min_verdict as local_min_verdict
from .chen2023ewald import chen_ewald as chen_ewald
from .chen2023ewald import chen_ewald_work_estimate as chen_ewald_work_estimate
from .chen2023ewald import ChenEwaldWorkEstimate as ChenEwaldWorkEstimate
from .chen2023ewald import ClassStatistics as ClassStatistics
from .chen2023ewald import ClusteringTest as ClusteringTest
from .chen2023ewald import ConfigurationCosts as ConfigurationCosts
from .chen2023ewald import GDBaseline as GDBaseline
from .chen2023ewald import ShallowBound as ShallowBound
from .chen2023ewald_paper import PaperConstruction as PaperConstruction
from .chen2023ewald_paper import PaperGeometry as PaperGeometry
from .chen2023ewald_paper import PaperTheoremsResult as PaperTheoremsResult
from .chen2023ewald_paper import analyse_configuration as analyse_configuration
from .chen2023ewald_paper import classify_inputs as classify_inputs
from .chen2023ewald_paper import closed_form_cost as closed_form_cost
from .chen2023ewald_paper import out_of_sample as out_of_sample
from .chen2023ewald_paper import paper_construction as paper_construction
from .chen2023ewald_paper import paper_cost as paper_cost
from .chen2023ewald_paper import paper_geometry as paper_geometry
from .chen2023ewald_paper import paper_theorems as paper_theorems
from .chen2023ewald_paper import reduced_cost as reduced_cost
from .chen2023ewald_paper import zero_cost_family as zero_cost_family
from .chen2023ewald import ChenEwaldConstruction as ChenEwaldConstruction
from .chen2023ewald import ChenEwaldResult as ChenEwaldResult
from .chen2023ewald import class_statistics as class_statistics
from .chen2023ewald import clustered_data as clustered_data
from .chen2023ewald import clustering_test as clustering_test
from .chen2023ewald import cone_of as cone_of
from .chen2023ewald import configuration as configuration
from .chen2023ewald import configuration_costs as configuration_costs
from .chen2023ewald import construct_minimizer as construct_minimizer
from .chen2023ewald import cumulative_parameters as cumulative_parameters
from .chen2023ewald import flatten_params as flatten_params
from .chen2023ewald import forward as forward
from .chen2023ewald import gd_baseline as gd_baseline
from .chen2023ewald import jacobian_rank as jacobian_rank
from .chen2023ewald import layerwise_parameters as layerwise_parameters
from .chen2023ewald import local_minimality as local_minimality
from .chen2023ewald import network_cost as network_cost
from .chen2023ewald import output_jacobian as output_jacobian
from .chen2023ewald import shallow_upper_bound as shallow_upper_bound
from .chen2023ewald import truncate as truncate
from .chen2023ewald import truncation_forward as truncation_forward
from .chen2023ewald import unflatten_params as unflatten_params

__all__ = [
    # Chen–Muñoz Ewald explicit minimizers (arXiv:2309.10639, 2405.07098)
    "truncate", "cumulative_parameters", "layerwise_parameters", "forward", "truncation_forward",
    "cone_of", "clustered_data", "class_statistics", "clustering_test", "ChenEwaldConstruction",
    "construct_minimizer", "configuration", "configuration_costs", "output_jacobian", "jacobian_rank",
    "flatten_params", "unflatten_params", "network_cost", "local_minimality", "shallow_upper_bound",
    "gd_baseline", "ChenEwaldResult", "chen_ewald", "ClassStatistics", "ClusteringTest", "ConfigurationCosts",
    "GDBaseline", "ShallowBound", "chen_ewald_work_estimate", "ChenEwaldWorkEstimate",
    # the paper's own construction (arXiv:2309.10639 v4 §2, §4)
    "PaperGeometry", "PaperConstruction", "PaperTheoremsResult", "paper_geometry", "paper_construction", "paper_cost",
    "reduced_cost", "closed_form_cost", "analyse_configuration", "zero_cost_family", "out_of_sample", "classify_inputs",
    "paper_theorems",
    # local-minimum verdicts
    "LocalMinResult", "local_min_verdict",
    # deep linear networks (Baldi–Hornik 1989, Kawaguchi 2016)
    "DeepLinearOptimum", "deep_linear_optimum", "deep_linear_loss", "deep_linear_gradient",
    "deep_linear_hessian", "deep_linear_critical_points", "classify_critical_point", "deep_linear_gd",
    "linear_statistics", "LinearStatistics", "CriticalPointClass", "CriticalPoint", "DeepLinearGD",
    # exact ERM for one-hidden-layer ReLU nets (arXiv:1611.01491)
    "exact_erm", "ERMResult", "dichotomies", "dichotomy_count", "erm_loss", "erm_network", "ERM_MAX_QPS",
    "ERM_MAX_ENUMERATION", "erm_work_estimate", "ERMWorkEstimate", "enumerate_dichotomies", "DichotomySet",
    # ReLU gate in linear time (arXiv:2005.04211)
    "train_relu_gate", "GateRun", "gate_constants", "laplace_inputs",
    # sparse-coding autoencoders (arXiv:1708.03735)
    "sparse_coding_data", "autoencoder_gradient", "sparse_coding_trend", "SparseCodingPoint", "plot_sparse_coding",
]
