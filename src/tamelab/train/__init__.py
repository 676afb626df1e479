"""Monitored training: a generic loop for any model and data, recorders, exporters, optax-style
transforms, theory-backed schedules, and ``fit(config)`` for the built-in MLP."""

from ._device import DeviceComparison as DeviceComparison
from ._device import train_on_device as train_on_device
from ._export import LOGGERS as LOGGERS
from ._export import MLflowRecorder as MLflowRecorder
from ._export import TensorBoardRecorder as TensorBoardRecorder
from ._loop import TrainConfig as TrainConfig
from ._loop import estimate_memory as estimate_memory
from ._loop import fit as fit
from ._recorders import DEFAULT_RECORDERS as DEFAULT_RECORDERS
from ._recorders import RECORDERS as RECORDERS
from ._recorders import EvalRecorder as EvalRecorder
from ._recorders import GradNormRecorder as GradNormRecorder
from ._recorders import LossRecorder as LossRecorder
from ._recorders import LRRecorder as LRRecorder
from ._recorders import ParamNormRecorder as ParamNormRecorder
from ._recorders import PathLengthRecorder as PathLengthRecorder
from ._recorders import Recorder as Recorder
from ._recorders import StepInfo as StepInfo
from ._schedules import SCHEDULES as SCHEDULES
from ._schedules import Schedule as Schedule
from ._schedules import make_schedule as make_schedule
from ._schedules import schedule_sums as schedule_sums
from ._train import TrainContext as TrainContext
from ._train import TrainResult as TrainResult
from ._train import train as train
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
    # the generic loop and the config wrapper
    "train", "TrainResult", "TrainContext", "TrainConfig", "fit", "estimate_memory",
    # recorders and exporters
    "Recorder", "StepInfo", "LossRecorder", "GradNormRecorder", "LRRecorder", "ParamNormRecorder",
    "PathLengthRecorder", "EvalRecorder", "RECORDERS", "DEFAULT_RECORDERS",
    "TensorBoardRecorder", "MLflowRecorder", "LOGGERS",
    # devices
    "train_on_device", "DeviceComparison",
    # transforms
    "Transform", "sgd", "heavy_ball", "nag", "rmsprop", "adam", "rmsprop_dmu", "adam_dmu",
    "chain", "add_decayed_weights", "apply_updates", "tree_norm", "make_optimizer", "OPTIMIZERS",
    # schedules
    "Schedule", "make_schedule", "schedule_sums", "SCHEDULES",
]
