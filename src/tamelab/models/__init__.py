"""Models: ReLU MLPs (the file format), deep linear, polynomial, tied autoencoders."""

from ._io import from_state_dict as from_state_dict
from ._io import load as load
from ._io import load_model as load_model
from ._io import load_weights as load_weights
from ._io import save as save
from ._mlp import is_relu_mlp as is_relu_mlp
from ._mlp import linear_relu_forward as linear_relu_forward
from ._mlp import linear_relu_modules as linear_relu_modules
from ._mlp import mlp as mlp
from ._mlp import relu_layers as relu_layers
from ._mlp import widths_of as widths_of
from ._other import Power as Power
from ._pwl import Affine as Affine
from ._pwl import Max as Max
from ._pwl import PWLNet as PWLNet
from ._pwl import ReLU as ReLU
from ._pwl import from_layers as from_layers
from ._lower import as_pwl as as_pwl
from ._lower import lower as lower
from ._other import TiedAutoencoder as TiedAutoencoder
from ._other import linear_net as linear_net
from ._other import poly_net as poly_net

__all__ = [
    # ReLU MLPs
    "mlp",
    "relu_layers",
    "is_relu_mlp",
    "widths_of",
    "linear_relu_modules",
    "linear_relu_forward",
    # files
    "save",
    "load",
    "from_state_dict",
    "load_model",
    "load_weights",
    # piecewise-linear programs (exact geometry)
    "PWLNet",
    "Affine",
    "ReLU",
    "Max",
    "from_layers",
    "lower",
    "as_pwl",
    # other families
    "linear_net",
    "poly_net",
    "Power",
    "TiedAutoencoder",
]
