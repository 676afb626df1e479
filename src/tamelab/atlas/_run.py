"""``AtlasRun``: everything an atlas section may use about the model, its data and its training.

Built by :func:`tamelab.atlas.atlas` (any model) or :func:`tamelab.atlas.run_atlas` (the built-in
MLP trained from a config); sections read it and return :class:`~tamelab.atlas.SectionContent`.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from ..errors import InputError, NotApplicableError
from ..inputs import Data
from ..losses import Loss

__all__ = ["AtlasRun"]


@dataclasses.dataclass
class AtlasRun:
    """The model an atlas is about, with its data, loss and (when trained by the atlas) its training.

    Attributes:
        model: the model (eval mode, on ``device`` in ``dtype``); trained when ``trained`` is True.
        train: the training data (:class:`~tamelab.inputs.Data`); ``test``: held-out data or ``None``.
        loss: the resolved loss (:class:`~tamelab.losses.Loss`: a built-in name or the user's callable).
        device, dtype: where and in which floating type the model lives.
        init_model: the model at initialisation (``None`` when the atlas did not train it and none was
            given): the data-independent PAC-Bayes prior and the start of interpolation plots.
        history: per-record training arrays (``step``, ``epoch``, ``loss``, ``grad_norm``, ``lr``,
            ``param_norm``, ``dist_init``, ``path_length``; per evaluation ``acc_epoch``,
            ``train_loss``, ``test_loss``, ``train_acc``, ``test_acc``); empty when not trained here.
        snapshots: trainable parameters along training (CPU copies; first = initialisation, last =
            final); ``snapshot_steps`` their optimisation steps. Buffers (BatchNorm running statistics)
            are not in snapshots: :meth:`model_at` takes them from the final model.
        config: the training signature (optimizer, lr, schedule, batch size, loss name, ...) or, for
            an untrained model, ``{"loss": name}``.
        train_result: the :class:`~tamelab.train.TrainResult` when the atlas trained the model.
        datasets: the TameLab :class:`~tamelab.data.Dataset` objects when the data came as such
            (``{"train": ..., "test": ...}``), else empty.
        seed: the atlas seed (training, directions, samples); quick: CI-sized work in every section.
        builtin: the model is the built-in MLP trained from a :class:`~tamelab.train.TrainConfig`.
        out_dir: the run directory being written.
    """

    model: nn.Module
    train: Data
    test: Data | None
    loss: Loss
    device: torch.device = dataclasses.field(default_factory=lambda: torch.device("cpu"))
    dtype: torch.dtype = torch.float32
    init_model: nn.Module | None = None
    history: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    snapshots: list[dict[str, torch.Tensor]] = dataclasses.field(default_factory=list)
    snapshot_steps: list[int] = dataclasses.field(default_factory=list)
    config: dict[str, Any] = dataclasses.field(default_factory=dict)
    train_result: Any = None
    datasets: dict[str, Any] = dataclasses.field(default_factory=dict)
    seed: int = 0
    quick: bool = False
    builtin: bool = False
    out_dir: Path | None = None
    retrain: Callable[[int], Any] | None = dataclasses.field(default=None, repr=False)
    _cache: dict[Any, Any] = dataclasses.field(default_factory=dict, repr=False)

    # ---------------------------------------------------------------------------------------------
    @property
    def trained(self) -> bool:
        """Whether the atlas trained the model (training history and snapshots exist)."""
        return bool(self.snapshots) and len(self.history.get("step", ())) > 0

    @property
    def classification(self) -> bool:
        """Whether the model is read as a classifier:

        integer labels with a classification loss (cross-entropy / NLL), or with a user's callable loss and one output
        score per class (N×C, C ≥ 2).
        """
        if "classification" not in self._cache:
            if not self.train.labels:
                c = False
            elif self.loss.builtin:
                c = self.loss.classification
            else:
                with torch.no_grad():
                    out = self.model(self.example_input(1))
                c = out.ndim == 2 and out.shape[1] >= 2
            self._cache["classification"] = bool(c)
        return self._cache["classification"]

    @property
    def loss_arg(self) -> str | Callable:
        """The loss as capabilities take it: the registry name for built-in losses, else the callable."""
        return self.loss.name if self.loss.builtin else self.loss.fn

    def loss_fn(self) -> Loss:
        """The mean loss ``(outputs, targets) -> scalar``."""
        return self.loss

    def require_training(self, what: str) -> None:
        """Raise :class:`~tamelab.errors.NotApplicableError` unless the atlas trained the model."""
        if not self.trained:
            raise NotApplicableError(
                what,
                "needs the training run (history and snapshots); the model was given already trained",
                "pass train_first=True (CLI: drop --no-train) to train it here",
            )

    def data_arg(self, split: str = "train", n: int | None = None) -> Any:
        """The data as a TameLab :class:`~tamelab.data.Dataset`: the form every capability takes.

        The data as a TameLab :class:`~tamelab.data.Dataset` (the one given, or the data read into memory
        as float64 inputs with integer labels ``y`` or real targets ``Y``; the first ``n`` samples when given):
        the form every capability takes.
        """
        ds = self.datasets.get(split)
        if ds is not None:
            return ds if n is None or n >= ds.n else ds.subset(np.arange(n))
        key = ("dataset", split, n)
        if key not in self._cache:
            from ..data import Dataset

            X, T = self.tensors(split, n=n, dtype=torch.float64)
            x = X.detach().cpu().numpy()
            t = T.detach().cpu().numpy()
            if T.is_floating_point():
                self._cache[key] = Dataset(x, Y=t.reshape(len(t), -1), name=self.train.name)
            else:
                self._cache[key] = Dataset(x, y=t, name=self.train.name)
        return self._cache[key]

    # ---------------------------------------------------------------------------------------------
    def tensors(
        self, split: str = "train", *, n: int | None = None, dtype: torch.dtype | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(X, T)`` of ``split`` on the run's device in ``dtype`` (cached).

        ``(X, T)`` of ``split`` on the run's device (the first ``n`` samples when given), floating
        inputs/targets in ``dtype`` (default: the run's); cached.
        """
        d = self.train if split == "train" else self.test
        if d is None:
            raise NotApplicableError(f"{split} data", "none was given", "pass test=... to the atlas")
        dt = dtype or self.dtype
        key = (split, n, dt)
        if key not in self._cache:
            src = d if n is None or (d.n is not None and n >= d.n) else d.subset(n)
            self._cache[key] = src.tensors(self.device, dt)
        return self._cache[key]

    def batches(
        self, split: str = "train", *, n: int | None = None, dtype: torch.dtype | None = None
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The data as a list of ``(x, t)`` batches (one batch for in-memory data)."""
        X, T = self.tensors(split, n=n, dtype=dtype)
        bs = 1024
        return [(X[i : i + bs], T[i : i + bs]) for i in range(0, int(X.shape[0]), bs)]

    def example_input(self, n: int = 2, dtype: torch.dtype | None = None) -> torch.Tensor:
        """The first ``n`` training inputs (for tracing and shapes)."""
        return self.tensors("train", n=n, dtype=dtype)[0][:n]

    @property
    def n_train(self) -> int:
        return int(self.train.count())

    @property
    def n_classes(self) -> int | None:
        """Number of outputs read as classes (``None`` for regression)."""
        if not self.classification:
            return None
        with torch.no_grad():
            return int(self.model(self.example_input(1)).shape[-1])

    @property
    def n_params(self) -> int:
        return int(sum(p.numel() for p in self.model.parameters() if p.requires_grad))

    # ---------------------------------------------------------------------------------------------
    def model_copy(self, dtype: torch.dtype | None = None) -> nn.Module:
        """A deep copy of the model in eval mode, in ``dtype`` (default: the run's)."""
        m = copy.deepcopy(self.model).eval()
        return m.to(dtype) if dtype is not None else m

    def state_at(self, i: int) -> dict[str, torch.Tensor]:
        """The full ``state_dict`` at snapshot ``i``: its trainable parameters, the final model's buffers."""
        state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        snap = self.snapshots[i]
        missing = [k for k in snap if k not in state]
        if missing:
            raise InputError("snapshots", f"snapshot {i} has parameters the model lacks: {missing[:3]}")
        for k, v in snap.items():
            state[k] = v.to(device=state[k].device, dtype=state[k].dtype)
        return state

    def model_at(self, i: int) -> nn.Module:
        """A copy of the model with snapshot ``i``'s parameters (buffers from the final model), eval mode."""
        m = copy.deepcopy(self.model)
        m.load_state_dict(self.state_at(i))
        return m.eval()

    def twin(self, seed: int) -> Any:
        """A second model trained like this one from an independent initialisation with ``seed``.

        A second model trained like this one from an independent initialisation with ``seed`` (a
        :class:`~tamelab.train.TrainResult`); not applicable when the atlas did not train the model.
        """
        if self.retrain is None:
            raise NotApplicableError(
                "twin model",
                "needs a second training run with another seed; the model was given already trained",
                "pass train_first=True (CLI: drop --no-train)",
            )
        return self.retrain(seed)
