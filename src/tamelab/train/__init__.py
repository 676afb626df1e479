"""Monitored training: optax-style transforms, theory-backed schedules, a resumable loop."""

from ._loop import TrainConfig as TrainConfig
from ._loop import TrainResult as TrainResult
from ._loop import fit as fit
from ._schedules import SCHEDULES as SCHEDULES
from ._schedules import Schedule as Schedule
from ._schedules import make_schedule as make_schedule
from ._schedules import schedule_sums as schedule_sums
from ._transforms import OPTIMIZERS as OPTIMIZERS
from ._transforms import Transform as Transform
from ._transforms import adam as adam
from ._transforms import adam_dmu as adam_dmu
from ._transforms import add_decayed_weights as add_decayed_weights
from ._transforms import apply_updates as apply_updates
from ._transforms import chain as chain
from ._transforms import heavy_ball as heavy_ball
from ._transforms import make_optimizer as make_optimizer
from ._transforms import nag as nag
from ._transforms import rmsprop as rmsprop
from ._transforms import rmsprop_dmu as rmsprop_dmu
from ._transforms import sgd as sgd
from ._transforms import tree_norm as tree_norm

__all__ = [
    # training loop
    "TrainConfig", "TrainResult", "fit",
    # transforms
    "Transform", "sgd", "heavy_ball", "nag", "rmsprop", "adam", "rmsprop_dmu", "adam_dmu",
    "chain", "add_decayed_weights", "apply_updates", "tree_norm", "make_optimizer", "OPTIMIZERS",
    # schedules
    "Schedule", "make_schedule", "schedule_sums", "SCHEDULES",
]
