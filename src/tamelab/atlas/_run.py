"""``AtlasRun``: everything an atlas section may use about the trained network.

Built by the atlas runner after training (``tamelab.train.fit``); sections
read it and return :class:`~tamelab.atlas.SectionContent`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from ..data import Dataset

__all__ = ["AtlasRun"]


@dataclasses.dataclass
class AtlasRun:
    """A trained run.

    Attributes:
        model: trained ReLU MLP (``nn.Sequential`` of Linear/ReLU), eval mode.
        init_model: the same architecture at initialisation.
        train, test: the datasets (``Dataset``: X float64, y int labels or Y targets).
        history: per-record arrays, at least ``step``, ``epoch``, ``loss``,
            ``grad_norm``, ``lr``, ``param_norm``, ``dist_init``, ``path_length``
            (and ``train_acc``/``test_acc`` per epoch for classifiers, with
            ``acc_epoch`` their epochs).
        snapshots: parameter ``state_dict`` copies along training (first = init,
            last = final), taken every ``snapshot_every`` steps.
        snapshot_steps: the optimisation step of each snapshot.
        loss: ``"cross_entropy"`` or ``"mse"``.
        config: the (validated) atlas config as a dict; ``seed`` the training seed.
        quick: True for CI-sized runs: sections must then keep their work small.
    """

    model: nn.Sequential
    init_model: nn.Sequential
    train: Dataset
    test: Dataset
    history: dict[str, np.ndarray]
    snapshots: list[dict[str, torch.Tensor]]
    snapshot_steps: list[int]
    loss: str = "cross_entropy"
    config: dict[str, Any] = dataclasses.field(default_factory=dict)
    seed: int = 0
    quick: bool = False
    out_dir: Path | None = None

    def loss_fn(self) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """Mean loss ``(outputs, targets) -> scalar`` matching ``loss``."""
        if self.loss == "cross_entropy":
            return nn.functional.cross_entropy
        return nn.functional.mse_loss

    def model_at(self, i: int) -> nn.Sequential:
        """A copy of the model with snapshot ``i``'s parameters."""
        import copy

        m = copy.deepcopy(self.model)
        m.load_state_dict(self.snapshots[i])
        return m.eval()


def atlas_run_from_training(res, *, quick: bool = False, out_dir: str | Path | None = None) -> AtlasRun:
    """Wrap a :class:`tamelab.train.TrainResult` as the input every atlas section reads."""
    return AtlasRun(
        model=res.model, init_model=res.init_model, train=res.train, test=res.test,
        history=res.history, snapshots=res.snapshots, snapshot_steps=res.snapshot_steps,
        loss=res.config.get("loss", "cross_entropy"), config=dict(res.config), seed=int(res.seed or 0),
        quick=quick, out_dir=Path(out_dir) if out_dir else None,
    )
