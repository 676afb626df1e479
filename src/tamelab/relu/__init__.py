"""Exact piecewise-linear geometry of ReLU networks: regions, bounds, hard functions."""

from ._bounds import Bound as Bound
from ._bounds import all_bounds as all_bounds
from ._bounds import montufar14_lower as montufar14_lower
from ._bounds import montufar17_upper as montufar17_upper
from ._bounds import serra_lower as serra_lower
from ._bounds import serra_upper as serra_upper
from ._bounds import zaslavsky as zaslavsky
from ._bounds import znl_upper as znl_upper
from ._regions import AlongResult as AlongResult
from ._regions import Box as Box
from ._regions import Plane as Plane
from ._regions import Region as Region
from ._regions import RegionsResult as RegionsResult
from ._regions import Segment as Segment
from ._regions import iter_regions_nd as iter_regions_nd
from ._regions import pattern_at as pattern_at
from ._regions import regions as regions
from ._regions import regions_along as regions_along
from ._nd import NDRegionsResult as NDRegionsResult
from ._nd import regions_nd as regions_nd
from .zhang2018tropical import TropicalForm as TropicalForm
from .zhang2018tropical import TropicalPoly as TropicalPoly
from .zhang2018tropical import boundary_ties as boundary_ties
from .zhang2018tropical import tropical as tropical
from .arora2018hard import H_net as H_net
from .arora2018hard import max_affine_net as max_affine_net
from .arora2018hard import zonotope_net as zonotope_net
from .arora2018hard import zonotope_piece_counts as zonotope_piece_counts
from .arora2018hard import zonotope_sublevel_polygon as zonotope_sublevel_polygon
from .arora2018hard import zonotope_vertices as zonotope_vertices
from .hanin2019complexity import hanin_rolnick as hanin_rolnick
from .hanin2019complexity import he_init_net as he_init_net
from .arora2018hard import from_layers as from_layers
from .arora2018hard import h_a_net as h_a_net
from .arora2018hard import pwl_1d_net as pwl_1d_net
from .arora2018hard import tent_net as tent_net

__all__ = [
    # regions
    "regions",
    "iter_regions_nd",
    "pattern_at",
    "Box",
    "Plane",
    "Segment",
    "Region",
    "RegionsResult",
    "regions_along",
    "AlongResult",
    "regions_nd",
    "NDRegionsResult",
    # bounds
    "all_bounds",
    "Bound",
    "serra_upper",
    "montufar17_upper",
    "znl_upper",
    "zaslavsky",
    "montufar14_lower",
    "serra_lower",
    # tropical form
    "tropical",
    "TropicalPoly",
    "TropicalForm",
    "boundary_ties",
    # constructions
    "from_layers",
    "tent_net",
    "pwl_1d_net",
    "h_a_net",
    "H_net",
    "zonotope_net",
    "zonotope_vertices",
    "zonotope_sublevel_polygon",
    "zonotope_piece_counts",
    "max_affine_net",
    # expected complexity at initialisation
    "hanin_rolnick",
    "he_init_net",
]
