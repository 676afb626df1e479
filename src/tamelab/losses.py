r"""The loss registry: one place that turns a loss *name* or a *callable* into a loss.

Every capability that evaluates a loss takes ``loss=`` as a name from :data:`LOSSES` or as a
callable ``(output, target) -> scalar`` (the mean over the batch), and resolves it with
:func:`resolve_loss`. An unknown name is an :class:`~tamelab.errors.InputError`, never a silent
fallback.

Built-in losses (all are means over the batch, as ``torch.nn.functional`` computes them):

====================  ===========================================================  ==============
name                  value                                                        targets
====================  ===========================================================  ==============
``cross_entropy``     :math:`-\frac1N\sum_i \log\operatorname{softmax}(f(x_i))_{y_i}`  class labels
``nll``               :math:`-\frac1N\sum_i f(x_i)_{y_i}` (``f`` returns log-probs)  class labels
``mse``               :math:`\frac1{Nk}\sum_{i,j}(f(x_i)_j-Y_{ij})^2`               real (labels → one-hot)
``l1``                :math:`\frac1{Nk}\sum_{i,j}|f(x_i)_j-Y_{ij}|`                 real (labels → one-hot)
``huber``             smooth L1 with :math:`\delta=1`                              real (labels → one-hot)
``bce_with_logits``   binary cross-entropy on logits                               real in [0, 1]
====================  ===========================================================  ==============

For the regression losses integer labels are one-hot encoded to the output's width (the
convention of the training loop). For ``cross_entropy``/``nll`` the target must be integer class
labels.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Literal

import torch
import torch.nn.functional as F

from .errors import InputError

__all__ = ["Loss", "LOSSES", "resolve_loss", "loss_names"]

TargetKind = Literal["labels", "real", "any"]


def _as_real_targets(out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Integer labels → one-hot of the output's width; real targets reshaped to the output's shape."""
    if not t.is_floating_point():
        if out.ndim != 2:
            raise InputError(
                "loss",
                f"integer labels need a 2-D output (N×C), got output shape {tuple(out.shape)}",
                "pass real-valued targets Y of the output's shape",
            )
        return F.one_hot(t.long(), out.shape[1]).to(out.dtype)
    t = t.to(out.dtype)
    if t.shape != out.shape and t.numel() == out.numel():
        t = t.reshape(out.shape)
    return t


def _cross_entropy(out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out, t)


def _nll(out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return F.nll_loss(out, t)


def _mse(out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(out, _as_real_targets(out, t))


def _l1(out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return F.l1_loss(out, _as_real_targets(out, t))


def _huber(out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return F.smooth_l1_loss(out, _as_real_targets(out, t))


def _bce(out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    t = t.to(out.dtype)
    if t.shape != out.shape and t.numel() == out.numel():
        t = t.reshape(out.shape)
    return F.binary_cross_entropy_with_logits(out, t)


@dataclasses.dataclass(frozen=True)
class Loss:
    """A resolved loss: ``loss(output, target)`` is the mean loss over the batch.

    Attributes:
        name: registry name, or the callable's ``__name__`` (``"callable"`` if it has none).
        fn: the function ``(output, target) -> scalar tensor``.
        targets: ``"labels"`` (integer class labels), ``"real"`` (real targets; labels one-hot) or
            ``"any"`` (a user callable: TameLab does not inspect the targets).
        builtin: whether ``fn`` comes from the registry (fast paths may specialise on built-ins).
        torch_fn: for a built-in, the ``torch.nn.functional`` function it computes (what a tracer records and
            what specialised kernels key on; ``fn`` adds the target conversion); ``None`` for a user's loss.
        smooth: whether the loss is C¹ in the prediction (no kinks to count: the nonsmooth analysis of
            :mod:`tamelab.tame.nonsmooth` skips it); ``False`` for a user's loss (unknown, so checked).
    """

    name: str
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = dataclasses.field(repr=False, compare=False)
    targets: TargetKind = "any"
    builtin: bool = False
    torch_fn: Callable[..., torch.Tensor] | None = dataclasses.field(default=None, repr=False, compare=False)
    smooth: bool = False

    def __call__(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The mean loss of ``output`` against ``target`` (a 0-dimensional tensor)."""
        return self.fn(output, target)

    @property
    def classification(self) -> bool:
        """Whether the output is read as class scores (accuracy = argmax agreement)."""
        return self.name in ("cross_entropy", "nll")


#: name → :class:`Loss`; the one loss registry of the package.
LOSSES: dict[str, Loss] = {
    "cross_entropy": Loss("cross_entropy", _cross_entropy, "labels", True, F.cross_entropy, smooth=True),
    "nll": Loss("nll", _nll, "labels", True, F.nll_loss, smooth=True),
    "mse": Loss("mse", _mse, "real", True, F.mse_loss, smooth=True),
    "l1": Loss("l1", _l1, "real", True, F.l1_loss),
    "huber": Loss("huber", _huber, "real", True, F.smooth_l1_loss, smooth=True),
    "bce_with_logits": Loss("bce_with_logits", _bce, "real", True, F.binary_cross_entropy_with_logits, smooth=True),
}

_ALIASES = {
    "ce": "cross_entropy",
    "crossentropy": "cross_entropy",
    "cross-entropy": "cross_entropy",
    "squared": "mse",
    "l2": "mse",
    "smooth_l1": "huber",
    "bce": "bce_with_logits",
}


def loss_names() -> list[str]:
    """The registered loss names (aliases excluded)."""
    return sorted(LOSSES)


def resolve_loss(
    loss: str | Callable[..., Any] | Loss | None, *, default: str | None = "cross_entropy", field: str = "loss"
) -> Loss:
    """Turn a loss name, a callable or a :class:`Loss` into a :class:`Loss`.

    Args:
        loss: a name from :data:`LOSSES` (or an alias such as ``"ce"``), a callable
            ``(output, target) -> scalar`` such as ``torch.nn.functional.cross_entropy`` or an
            ``nn.Module`` loss (``nn.CrossEntropyLoss()``), or ``None`` for ``default``.
        default: the name used for ``None``; ``None`` makes a loss mandatory.
        field: the argument's name in error messages (``"--loss"`` on the command line).

    Raises:
        InputError: unknown name, a loss module with ``reduction="none"``, or a non-callable.

    >>> resolve_loss("ce").name
    'cross_entropy'
    >>> resolve_loss(lambda o, t: ((o - t) ** 2).mean()).targets
    'any'
    """
    if loss is None:
        if default is None:
            raise InputError(field, "is required", f"use one of {', '.join(loss_names())} or a callable")
        loss = default
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str):
        key = loss.strip().lower()
        key = _ALIASES.get(key, key)
        if key not in LOSSES:
            raise InputError(
                field,
                f"unknown loss {loss!r}",
                f"use one of {', '.join(loss_names())} or a callable (output, target) -> scalar",
            )
        return LOSSES[key]
    if isinstance(loss, torch.nn.Module):
        red = getattr(loss, "reduction", "mean")
        if red == "none":
            raise InputError(field, f"{type(loss).__name__} has reduction='none'", "use reduction='mean'")
        return Loss(type(loss).__name__, loss, "any", False)
    if callable(loss):
        return Loss(getattr(loss, "__name__", "callable"), loss, "any", False)
    raise InputError(
        field,
        f"expected a loss name or a callable, got {type(loss).__name__}",
        f"use one of {', '.join(loss_names())} or a callable (output, target) -> scalar",
    )
