"""Export the monitored quantities where users already look: TensorBoard and MLflow.

Both are recorders that run after all the others (``order = 100``). At the end of every epoch they
write the history rows added since the last export: per-step keys (``loss``, ``grad_norm``, ``lr``,
``param_norm``, ``dist_init``, ``path_length`` and custom recorders' step keys) as ``step/<key>`` at
the global step of the row, per-evaluation keys (``train_loss``, ``test_acc``, …) as ``epoch/<key>``
at the global step at the end of that epoch. NaN entries (no test data, no labels) are skipped.

* TensorBoard: ``torch.utils.tensorboard.SummaryWriter`` (needs the ``tensorboard`` package:
  ``pip install tamelab[tensorboard]``). A resumed run reopens the directory with ``purge_step`` set
  to the checkpoint's step + 1, so rows written after the checkpoint by the interrupted run are
  dropped instead of duplicated.
* MLflow (``pip install mlflow`` or ``mlflow-skinny``): one run per training call in the experiment
  ``experiment`` (default ``tamelab``) of the tracking URI ``log_dir`` (``None``: MLflow's own default,
  e.g. ``MLFLOW_TRACKING_URI``); the run's signature is logged as parameters, metrics in batches.

A requested exporter whose package is missing is an :class:`~tamelab.errors.InputError` naming the
package, raised before training starts.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

from ..errors import InputError
from ._recorders import Recorder

__all__ = ["TensorBoardRecorder", "MLflowRecorder", "export_recorders", "LOGGERS"]

#: values of ``train(log=...)``.
LOGGERS = ("tensorboard", "mlflow")


class _Exporter(Recorder):
    """Writes new history rows at every epoch end; remembers how many rows of each key it wrote."""

    order = 100

    def __init__(self) -> None:
        self._written: dict[str, int] = {}
        self._epoch_steps: list[int] = []
        self.export: dict[str, str] = {}

    def _rows(self, ctx) -> list[tuple[str, float, int]]:
        """``(tag, value, step)`` for every history row not yet written."""
        h = ctx.history
        out: list[tuple[str, float, int]] = []
        steps = h.get("step", [])
        epoch_keys = {"acc_epoch", "train_loss", "test_loss", "train_acc", "test_acc"}
        n_eval = len(h.get("acc_epoch", []))
        while len(self._epoch_steps) < n_eval:  # the global step at which each evaluation happened
            self._epoch_steps.append(ctx.step)
        for key, vals in h.items():
            if key in ("step", "epoch", "acc_epoch"):
                continue
            start = self._written.get(key, 0)
            if key in epoch_keys:
                at = self._epoch_steps
                tag = f"epoch/{key}"
            elif len(vals) == len(steps):
                at = steps
                tag = f"step/{key}"
            else:  # a custom key with its own cadence: row index as the step
                at = list(range(len(vals)))
                tag = f"other/{key}"
            for i in range(start, len(vals)):
                v = float(vals[i])
                if math.isfinite(v):
                    out.append((tag, v, int(at[i])))
            self._written[key] = len(vals)
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"written": dict(self._written), "epoch_steps": list(self._epoch_steps)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._written = {k: int(v) for k, v in state.get("written", {}).items()}
        self._epoch_steps = [int(s) for s in state.get("epoch_steps", [])]


def _require(package: str, extra: str) -> None:
    import importlib.util

    if importlib.util.find_spec(package) is None:
        raise InputError("log", f"{extra} logging needs the '{package}' package, which is not installed",
                         f"pip install {package}  (or pip install 'tamelab[{extra}]')")


class TensorBoardRecorder(_Exporter):
    """Write the monitors as TensorBoard scalars into ``log_dir`` (see the module docstring)."""

    name = "tensorboard"

    def __init__(self, log_dir: str | Path) -> None:
        super().__init__()
        _require("tensorboard", "tensorboard")
        if log_dir is None:
            raise InputError("log_dir", "TensorBoard logging needs a directory", "pass log_dir=...")
        self.log_dir = Path(log_dir)
        if self.log_dir.exists() and not self.log_dir.is_dir():
            raise InputError("log_dir", f"{self.log_dir} exists and is not a directory", "choose another log_dir")
        self._writer = None

    def start(self, ctx) -> None:
        from torch.utils.tensorboard import SummaryWriter

        purge = ctx.resumed_step + 1 if ctx.resumed_step is not None else None
        self._writer = SummaryWriter(str(self.log_dir), purge_step=purge)
        self.export = {"tensorboard": str(self.log_dir)}

    def on_epoch_end(self, ctx, epoch) -> None:
        for tag, v, step in self._rows(ctx):
            self._writer.add_scalar(tag, v, step)
        self._writer.flush()

    def finish(self, ctx) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class MLflowRecorder(_Exporter):
    """Log the monitors to an MLflow run (see the module docstring)."""

    name = "mlflow"

    def __init__(self, tracking_uri: str | Path | None = None, *, experiment: str = "tamelab",
                 run_name: str | None = None) -> None:
        super().__init__()
        _require("mlflow", "mlflow")
        self.tracking_uri = _as_uri(tracking_uri)
        self.experiment = experiment
        self.run_name = run_name
        self.run_id: str | None = None
        self._client = None

    def start(self, ctx) -> None:
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        try:
            client = MlflowClient(self.tracking_uri)
            exp = client.get_experiment_by_name(self.experiment)
            eid = exp.experiment_id if exp is not None else client.create_experiment(self.experiment)
            if self.run_id is None:  # a resumed run continues the MLflow run recorded in the checkpoint
                run = client.create_run(eid, run_name=self.run_name, tags={"tamelab.seed": str(ctx.seed)})
                self.run_id = run.info.run_id
                self._log_params(client, ctx)
        except MlflowException as e:
            raise InputError("log_dir", f"MLflow cannot use tracking URI {self.tracking_uri!r} "
                             f"({str(e).splitlines()[0][:200]})",
                             "pass an MLflow tracking URI, e.g. sqlite:///mlflow.db or http://host:5000") from None
        self._client = client
        self.export = {"mlflow": f"{self.tracking_uri or 'default'} run {self.run_id}"}

    def _log_params(self, client, ctx) -> None:
        import json

        from mlflow.entities import Param

        sig = getattr(ctx, "signature", None) or {}
        params = [Param(str(k)[:250], (v if isinstance(v, str) else json.dumps(v))[:500]) for k, v in sig.items()]
        for lo in range(0, len(params), 100):  # MLflow's batch limit for params
            client.log_batch(self.run_id, params=params[lo: lo + 100])

    def on_epoch_end(self, ctx, epoch) -> None:
        from mlflow.entities import Metric

        rows = self._rows(ctx)
        ts = 0  # a fixed timestamp keeps reruns identical; MLflow orders by step
        for lo in range(0, len(rows), 1000):  # MLflow's batch limit
            self._client.log_batch(self.run_id, metrics=[Metric(tag, v, ts, s) for tag, v, s in rows[lo: lo + 1000]])

    def finish(self, ctx) -> None:
        if self._client is not None and self.run_id is not None:
            done = ctx.epoch + 1 == ctx.epochs
            self._client.set_terminated(self.run_id, status="FINISHED" if done else "KILLED")
            self._client = None

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "run_id": self.run_id or ""}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.run_id = state.get("run_id") or None


def _as_uri(uri: str | Path | None) -> str | None:
    if uri is None:
        return None
    s = str(uri)
    if "://" in s or s.startswith(("sqlite:", "databricks", "file:")):
        return s
    return Path(s).resolve().as_uri()


def export_recorders(log: str | Sequence[str] | None, log_dir: str | Path | None,
                     checkpoint_dir: str | Path | None = None) -> list[Recorder]:
    """Recorders for ``train(log=..., log_dir=...)``; the TensorBoard directory defaults to
    ``<checkpoint_dir>/../tensorboard`` when a checkpoint directory is given."""
    if log is None:
        return []
    names = [log] if isinstance(log, str) else list(log)
    out: list[Recorder] = []
    for n in names:
        if n == "tensorboard":
            d = log_dir if log_dir is not None else (Path(checkpoint_dir).parent / "tensorboard"
                                                     if checkpoint_dir is not None else None)
            out.append(TensorBoardRecorder(d))
        elif n == "mlflow":
            out.append(MLflowRecorder(log_dir))
        else:
            raise InputError("log", f"unknown logger {n!r}", f"use one of {', '.join(LOGGERS)}")
    if len(out) > 1 and log_dir is not None:
        raise InputError("log_dir", "is ambiguous with two loggers",
                         "pass TensorBoardRecorder(dir) and MLflowRecorder(uri) in recorders= instead")
    return out
