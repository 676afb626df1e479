r"""Recorders: what the training loop monitors, as pluggable objects.

The loop (:func:`tamelab.train.train`) calls every recorder at fixed points:

* ``start(ctx)`` once, before the first step (also after a resume);
* ``on_step(ctx, info)`` after every optimisation step (``info.recorded`` is true every
  ``record_every`` steps: per-step histories append then);
* ``on_epoch_end(ctx, epoch)`` after every epoch, before the checkpoint is written;
* ``finish(ctx)`` once at the end of the call.

Recorders write into the shared history ``ctx.history`` (a dict of lists) under the keys they
declare: ``step_keys`` get exactly one value per recorded step (aligned with ``history["step"]``),
``epoch_keys`` one value per evaluated epoch (aligned with ``history["acc_epoch"]``); a recorder
with its own cadence declares ``other_keys``. Any state a recorder needs to continue after a resume
is returned by ``state_dict()`` (tensors, numbers, strings, lists, dicts) and restored by
``load_state_dict``; histories are checkpointed by the loop.

Built-in recorders (names accepted in ``recorders=[...]``):

================  ==================================================================================
``loss``          mini-batch loss :math:`\ell(\theta_k; B_k)`
``grad_norm``     :math:`\|g_k\|`, the mini-batch gradient norm (the transform's own, not recomputed)
``lr``            the step size :math:`\alpha_k`
``param_norm``    :math:`\|\theta_k\|` and :math:`\|\theta_k-\theta_0\|` (``dist_init``), batched
``path_length``   :math:`\sum_{s<k}\|\theta_{s+1}-\theta_s\|`
``eval``          per epoch (every ``eval_every``, always the last): full train/test loss and accuracy
``default``       all of the above
================  ==================================================================================

Spec: ``tame-optimization.md`` §3.3 (what a monitor records).
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

import torch

from .._numerics import mean_cross_entropy
from ..errors import InputError
from ..models import linear_relu_forward, linear_relu_modules

if TYPE_CHECKING:  # pragma: no cover
    from ._train import TrainContext

__all__ = [
    "Recorder", "StepInfo", "LossRecorder", "GradNormRecorder", "LRRecorder", "ParamNormRecorder",
    "PathLengthRecorder", "EvalRecorder", "RECORDERS", "DEFAULT_RECORDERS", "resolve_recorders",
]


@dataclasses.dataclass
class StepInfo:
    r"""What one optimisation step hands to the recorders.

    Attributes:
        step: steps taken so far (1 after the first step).
        epoch: the epoch (0-based); ``epoch_pos`` = epoch + fraction of the epoch's samples seen
            before this batch.
        loss: the mini-batch loss before the update (a float; finite, or the loop stops).
        grad_norm: :math:`\|g_k\|` (float64 accumulation), ``update_norm`` :math:`\|\theta_{k+1}-\theta_k\|`,
            ``lr`` the step size used.
        recorded: whether per-step histories record this step (every ``record_every`` steps).
        grads: the mini-batch gradient (parameter name → tensor); ``inputs``/``targets``/``output``
            the batch and the model's output on it (detached).
    """

    step: int
    epoch: int
    epoch_pos: float
    loss: float
    grad_norm: float
    update_norm: float
    lr: float
    recorded: bool
    grads: dict[str, torch.Tensor] = dataclasses.field(repr=False, default_factory=dict)
    inputs: torch.Tensor | None = dataclasses.field(repr=False, default=None)
    targets: torch.Tensor | None = dataclasses.field(repr=False, default=None)
    output: torch.Tensor | None = dataclasses.field(repr=False, default=None)


class Recorder:
    """Base class of recorders: override the hooks you need (see the module docstring).

    Class attributes:
        name: a short name (unique among the run's recorders; used in checkpoints and results).
        step_keys / epoch_keys / other_keys: the history keys this recorder writes.
        order: recorders run in increasing ``order`` (exporters use 100 so they see finished rows).
    """

    name: str = "recorder"
    step_keys: tuple[str, ...] = ()
    epoch_keys: tuple[str, ...] = ()
    other_keys: tuple[str, ...] = ()
    order: int = 0

    def start(self, ctx: "TrainContext") -> None:  # noqa: B027 - optional hook
        """Called once before the first step of this call (after a resume too)."""

    def on_step(self, ctx: "TrainContext", info: StepInfo) -> None:  # noqa: B027
        """Called after every optimisation step."""

    def on_epoch_end(self, ctx: "TrainContext", epoch: int) -> None:  # noqa: B027
        """Called after every epoch, before the checkpoint."""

    def finish(self, ctx: "TrainContext") -> None:  # noqa: B027
        """Called once at the end of the call (also when it stops early)."""

    def state_dict(self) -> dict[str, Any]:
        """State to checkpoint (tensors, numbers, strings, lists, dicts)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:  # noqa: B027
        """Restore :meth:`state_dict` after a resume."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class _ScalarRecorder(Recorder):
    attr = ""

    def on_step(self, ctx, info):
        if info.recorded:
            ctx.history[self.step_keys[0]].append(getattr(info, self.attr))


class LossRecorder(_ScalarRecorder):
    """The mini-batch loss of each recorded step (``history["loss"]``)."""

    name, step_keys, attr = "loss", ("loss",), "loss"


class GradNormRecorder(_ScalarRecorder):
    r"""The mini-batch gradient norm :math:`\|g_k\|` (``history["grad_norm"]``)."""

    name, step_keys, attr = "grad_norm", ("grad_norm",), "grad_norm"


class LRRecorder(_ScalarRecorder):
    r"""The step size :math:`\alpha_k` (``history["lr"]``)."""

    name, step_keys, attr = "lr", ("lr",), "lr"


class PathLengthRecorder(Recorder):
    r"""The path length :math:`\sum_{s<k}\|\theta_{s+1}-\theta_s\|` (``history["path_length"]``), summed
    over every step (recorded every ``record_every``) by the loop."""

    name, step_keys = "path_length", ("path_length",)

    def on_step(self, ctx, info):
        if info.recorded:
            ctx.history["path_length"].append(ctx.path_length)


#: parameter norms are computed for this many recorded steps at once (one ``cat`` per step, four ops per
#: batch: on CPU a ``_foreach`` op costs ~1.5 µs per tensor, which made per-step norms ~8 % of an epoch);
#: the pending flat vectors are capped by ``PENDING_BYTES``.
NORM_BATCH = 8
PENDING_BYTES = 64 * 2**20


class ParamNormRecorder(Recorder):
    r""":math:`\|\theta_k\|` (``param_norm``) and :math:`\|\theta_k-\theta_0\|` (``dist_init``).

    The flat parameter vector of each recorded step is kept; every :data:`NORM_BATCH` recorded steps
    (and at every epoch end) the norms of all of them come from four ops (stack, two reductions in
    the parameters' dtype, one subtraction). Entries are NaN until filled; they are all filled when
    an epoch ends, before a checkpoint is written.
    """

    name, step_keys = "param_norm", ("param_norm", "dist_init")

    def __init__(self, batch: int | None = None) -> None:
        self.batch = batch
        self._pending: list[torch.Tensor] = []

    def start(self, ctx):
        n_bytes = max(1, ctx.n_params * ctx.theta0_flat.element_size())
        b = NORM_BATCH if self.batch is None else self.batch
        self._norm_batch = max(1, min(b, PENDING_BYTES // n_bytes))
        self._pending = []

    def on_step(self, ctx, info):
        if not info.recorded:
            return
        self._pending.append(ctx.flat_params())
        ctx.history["param_norm"].append(math.nan)
        ctx.history["dist_init"].append(math.nan)
        if len(self._pending) >= self._norm_batch:
            self._flush(ctx)

    def _flush(self, ctx) -> None:
        if not self._pending:
            return
        K = len(self._pending)
        S = torch.stack(self._pending)
        # in the parameters' own dtype: an upcast made each reduction ~10x slower; torch's float32
        # reductions are blocked/pairwise, so the relative error stays at float32 rounding level
        pn = torch.linalg.vector_norm(S, dim=1)
        dn = torch.linalg.vector_norm(S.sub_(ctx.theta0_flat), dim=1)
        ctx.history["param_norm"][-K:] = pn.tolist()
        ctx.history["dist_init"][-K:] = dn.tolist()
        self._pending.clear()

    def on_epoch_end(self, ctx, epoch):
        self._flush(ctx)

    def finish(self, ctx):
        self._flush(ctx)


def plain_mlp_logits_t(model, X: torch.Tensor) -> torch.Tensor | None:
    """C×N logits of a plain Linear/ReLU ``Sequential`` by :func:`tamelab.models.linear_relu_forward`
    (1.27 -> 1.03 ms for the evaluation of both digits splits); ``None`` for any other model."""
    mods = linear_relu_modules(model)
    if mods is None:
        return None
    with torch.inference_mode():
        return linear_relu_forward(mods, X, logits_t=True)


def _n_correct(out: torch.Tensor, t: torch.Tensor) -> int | None:
    """Correct predictions for integer labels (argmax, or the sign of a single logit); ``None`` otherwise."""
    if t.is_floating_point() or out.ndim != 2:
        return None
    if out.shape[1] == 1:
        return int(((out[:, 0] > 0).long() == t).sum())
    return int((out.argmax(1) == t).sum())


class EvalRecorder(Recorder):
    r"""Full-data train and test loss and accuracy after every ``every``-th epoch and after the last.

    History: ``acc_epoch`` (the epoch count after which it was measured), ``train_loss``,
    ``test_loss``, ``train_acc``, ``test_acc`` (NaN where there is no test data or no labels).

    In-memory data are evaluated in chunks of ``batch_size`` samples (one forward over train and test
    together when both fit one chunk); loaders are read in order with
    :func:`tamelab.inputs.evaluate`. Plain Linear/ReLU MLPs with the built-in cross-entropy use the
    direct ``addmm`` path and a fused log-sum-exp (:func:`tamelab._numerics.mean_cross_entropy`).
    The model is in ``eval()`` mode while it is evaluated. Losses are sample-weighted means of the
    per-chunk means (the loss must be a mean over the batch).
    """

    name = "eval"
    epoch_keys = ("acc_epoch", "train_loss", "test_loss", "train_acc", "test_acc")

    def __init__(self, every: int | None = None, batch_size: int = 8192) -> None:
        if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
            raise InputError("eval_every", f"must be an integer >= 1, got {every!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InputError("eval_batch_size", f"must be an integer >= 1, got {batch_size!r}")
        self.every = every
        self.batch_size = batch_size

    def start(self, ctx):
        self._every = self.every if self.every is not None else ctx.eval_every
        tr, te = ctx.train_tensors, ctx.test_tensors
        self._all = None
        if tr is not None and te is not None and tr[0].shape[0] + te[0].shape[0] <= self.batch_size:
            self._all = torch.cat([tr[0], te[0]])  # one forward pass evaluates both splits

    def on_epoch_end(self, ctx, epoch):
        if (epoch + 1) % self._every != 0 and epoch + 1 != ctx.epochs:
            return
        (trl, tra), (tel, tea) = self.evaluate(ctx)
        h = ctx.history
        h["acc_epoch"].append(epoch + 1)
        h["train_loss"].append(trl)
        h["test_loss"].append(tel)
        h["train_acc"].append(math.nan if tra is None else tra)
        h["test_acc"].append(math.nan if tea is None else tea)

    def evaluate(self, ctx) -> list[tuple[float, float | None]]:
        """``[(train_loss, train_acc), (test_loss, test_acc)]`` at the current parameters."""
        model = ctx.model
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                if self._all is not None:
                    n_tr = ctx.train_tensors[0].shape[0]
                    T = (ctx.train_tensors[1], ctx.test_tensors[1])
                    return self._eval_tensor(ctx, self._all, None, split=(n_tr, T))
                res = [self._eval_split(ctx, ctx.train_tensors, ctx.train_data)]
                if ctx.test_data is None:
                    res.append((math.nan, None))
                else:
                    res.append(self._eval_split(ctx, ctx.test_tensors, ctx.test_data))
                return res
        finally:
            model.train(was_training)

    def _eval_split(self, ctx, tensors, data) -> tuple[float, float | None]:
        if tensors is not None:
            return self._eval_tensor(ctx, tensors[0], tensors[1])[0]
        from ..inputs import evaluate

        ev = evaluate(ctx.model, data, ctx.loss, device=ctx.device, dtype=ctx.dtype)
        return ev.loss, ev.accuracy

    def _fast(self, ctx, T: torch.Tensor) -> bool:
        return ctx.loss.builtin and ctx.loss.name == "cross_entropy" and not T.is_floating_point()

    def _chunk(self, ctx, x: torch.Tensor, t: torch.Tensor, fast: bool) -> tuple[float, int | None]:
        """Mean loss and number correct (``None`` without labels) on one chunk."""
        out_t = plain_mlp_logits_t(ctx.model, x) if fast else None
        if out_t is not None:
            return mean_cross_entropy(out_t, t, class_dim=0)
        out = ctx.model(x)
        if fast:
            return mean_cross_entropy(out, t)
        return float(ctx.loss(out, t)), _n_correct(out, t)

    def _eval_tensor(self, ctx, X, T, split=None) -> list[tuple[float, float | None]]:
        """Evaluate ``X`` (all at once or in chunks); with ``split=(n_train, (T_train, T_test))`` one
        forward pass over ``X`` is cut into the two splits."""
        if split is not None:
            n_tr, Ts = split
            fast = all(self._fast(ctx, Tk) for Tk in Ts)
            out_t = plain_mlp_logits_t(ctx.model, X) if fast else None
            out = ctx.model(X) if out_t is None else None
            res = []
            for sl, Tk in ((slice(0, n_tr), Ts[0]), (slice(n_tr, None), Ts[1])):
                if len(Tk) == 0:
                    res.append((math.nan, None))
                    continue
                if out_t is not None:
                    lv, c = mean_cross_entropy(out_t[:, sl], Tk, class_dim=0)
                elif fast:
                    lv, c = mean_cross_entropy(out[sl], Tk)
                else:
                    lv, c = float(ctx.loss(out[sl], Tk)), _n_correct(out[sl], Tk)
                res.append((lv, None if c is None else c / len(Tk)))
            return res
        fast = self._fast(ctx, T)
        n = int(X.shape[0])
        if n <= self.batch_size:
            lv, c = self._chunk(ctx, X, T, fast)
            return [(lv, None if c is None else c / n)]
        total, correct = 0.0, 0
        for lo in range(0, n, self.batch_size):
            x, t = X[lo: lo + self.batch_size], T[lo: lo + self.batch_size]
            lv, c = self._chunk(ctx, x, t, fast)
            total += lv * len(t)
            correct = None if c is None or correct is None else correct + c
        return [(total / n, None if correct is None else correct / n)]

    def __repr__(self) -> str:
        return f"EvalRecorder(every={self.every})"


#: built-in recorders by name.
RECORDERS: dict[str, type[Recorder]] = {
    "loss": LossRecorder, "grad_norm": GradNormRecorder, "lr": LRRecorder,
    "param_norm": ParamNormRecorder, "path_length": PathLengthRecorder, "eval": EvalRecorder,
}
#: the names ``"default"`` expands to, in history order.
DEFAULT_RECORDERS = ("loss", "grad_norm", "lr", "param_norm", "path_length", "eval")


def resolve_recorders(recorders: Any, *, field: str = "recorders") -> list[Recorder]:
    """Recorder objects from ``None`` (the defaults), names from :data:`RECORDERS`/``"default"`` and
    :class:`Recorder` instances; duplicate names or history keys are refused."""
    if recorders is None:
        recorders = ["default"]
    if isinstance(recorders, (str, Recorder)):
        recorders = [recorders]
    try:
        items = list(recorders)
    except TypeError:
        raise InputError(field, f"expected a list of recorders, got {type(recorders).__name__}",
                         f"use names from {', '.join(['default', *RECORDERS])} or Recorder objects") from None
    out: list[Recorder] = []
    for r in items:
        if isinstance(r, str):
            if r == "default":
                out.extend(RECORDERS[k]() for k in DEFAULT_RECORDERS)
            elif r in RECORDERS:
                out.append(RECORDERS[r]())
            else:
                raise InputError(field, f"unknown recorder {r!r}",
                                 f"use one of {', '.join(['default', *RECORDERS])} or a Recorder object")
        elif isinstance(r, Recorder):
            out.append(r)
        else:
            raise InputError(field, f"{type(r).__name__} is not a Recorder",
                             "subclass tamelab.train.Recorder and override on_step/on_epoch_end")
    names: set[str] = set()
    keys: set[str] = {"step", "epoch"}
    for r in out:
        if r.name in names:
            raise InputError(field, f"two recorders are named {r.name!r}", "give each recorder a distinct name")
        names.add(r.name)
        for k in (*r.step_keys, *r.epoch_keys, *r.other_keys):
            if k in keys:
                raise InputError(field, f"history key {k!r} is written by two recorders", "rename one of the keys")
            keys.add(k)
    return sorted(out, key=lambda r: r.order)
