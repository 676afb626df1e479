r"""The full-batch loss of a model as a function of its flat parameters, and its Goldstein ε-stationarity.

:func:`model_loss_function` returns :math:`f(\theta)=\mathrm{loss}(\mathrm{model}(X;\theta),T)` together with the
number of exact kink hits of the evaluation: the model (any ``nn.Module`` that ``torch.fx`` can trace) is run by a
counting fx interpreter (:mod:`tamelab.tame.nonsmooth._kinks`) and the loss's own kinks are counted too (``l1``:
prediction == target; a callable loss is traced the same way). :func:`stationarity` is the model-level entry point
of :func:`~tamelab.tame.nonsmooth.goldstein1977optimization.goldstein_stationarity`.
"""

from __future__ import annotations

import copy
from typing import Callable

import torch
from torch import nn

from ..._params import flatten, param_dict, unflatten
from ..._rng import SeedLike
from .goldstein1977optimization import GoldsteinResult, goldstein_stationarity

__all__ = ["model_loss_function", "stationarity"]


class _LossOnly(nn.Module):
    def __init__(self, fn: Callable) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, out, target):
        return self.fn(out, target)


def _loss_kinks(lossf) -> tuple[Callable | None, str]:
    """``(g, "")`` with ``g(out, target, recorder) -> value`` recording the loss's nonsmooth points.

    ``(None, why)`` when the loss's kinks cannot be checked.
    """
    from ._kinks import kink_counted

    if lossf.smooth:  # C¹ in the prediction (a field of the loss registry): no kinks to record
        return (lambda o, t, rec: lossf(o, t)), ""
    if lossf.builtin and lossf.name == "l1":

        def l1(o, t, rec):
            rec.add("l1_loss", None, (o, t.reshape(o.shape).to(o.dtype)), {})
            return lossf(o, t)

        return l1, ""
    counted, why = kink_counted(_LossOnly(lossf.fn))
    if counted is None:
        return None, f"loss {lossf.name}: {why}"

    def traced(o, t, rec):
        with counted.recording(rec):
            return counted(o, t)[0]

    return traced, ""


def model_loss_function(
    model: nn.Module,
    X: torch.Tensor,
    T: torch.Tensor,
    loss="cross_entropy",
    *,
    dtype: torch.dtype | None = None,
    params: dict[str, torch.Tensor] | None = None,
) -> tuple[Callable, torch.Tensor, bool, str]:
    """``(f, θ0, kinks_checked, why)``: the full-batch loss as a function of the flat parameter vector.

    ``f(θ) -> (loss, kinks)``, where ``kinks`` counts the kink hits of the whole evaluation in θ (every nonsmooth op
    of the traced model and the loss, evaluated under forward-mode AD: a tie counts only where the tied quantities
    move differently with θ; :mod:`tamelab.tame.nonsmooth._kinks`). ``f.screen`` is the same function with a cheaper
    count that counts every tie (an upper bound, used to find the points that need the exact count). When the
    program cannot be traced, or contains a nonsmooth op without a kink rule, ``kinks`` is always 0 and
    ``kinks_checked`` is False with the reason ``why``. Works under ``torch.func.vmap`` / ``grad``. The model is
    copied (eval mode, ``dtype`` if given); ``params`` (name → tensor) replaces its parameters at θ0.
    """
    from torch.func import functional_call

    from ...losses import resolve_loss
    from ._kinks import Recorder, counted_jvp, counted_screen, kink_counted

    lossf = resolve_loss(loss)
    m = copy.deepcopy(model).eval()
    if dtype is not None:
        m = m.to(dtype)
    p0 = {k: (params[k].detach().to(v) if params is not None and k in params else v) for k, v in param_dict(m).items()}
    theta0 = flatten(p0)
    counted, why = kink_counted(m, constant_inputs=True)  # X is data: the variables are the parameters
    lk, why_loss = _loss_kinks(lossf)
    checked = counted is not None and lk is not None
    zero = torch.zeros((), dtype=torch.int64)
    gm_names = set(dict(counted.named_parameters())) if counted is not None else set()

    def run(th, rec):
        p = unflatten(th, p0)
        if counted is None:
            out = functional_call(m, p, (X,))
        else:
            with counted.recording(rec):
                out, _ = functional_call(counted, {f"gm.{n}": v for n, v in p.items() if f"gm.{n}" in gm_names}, (X,))
        return lossf(out, T) if lk is None else lk(out, T, rec)

    def f(th):
        if counted is None:  # kinks not checkable: no forward-mode pass
            return run(th, Recorder()), zero
        rec = Recorder()
        return counted_jvp(lambda t: run(t, rec), (th,), rec)

    def screen(th):
        if counted is None:
            return run(th, Recorder()), zero
        rec = Recorder()
        return counted_screen(lambda t: run(t, rec), (th,), rec)

    f.screen = screen  # same value, a tie count >= f's (0 proves no kink) without the forward-mode pass
    return f, theta0, checked, "; ".join(w for w in (why, why_loss) if w)


def stationarity(
    model: nn.Module,
    data,
    targets=None,
    *,
    loss="cross_entropy",
    eps: float = 1e-3,
    m: int = 100,
    seed: SeedLike = 0,
    dtype: torch.dtype | str = torch.float64,
    device=None,
    chunk: int = 128,
    assume_differentiable: bool = False,
) -> GoldsteinResult:
    """Goldstein ε-stationarity certificate of the full-batch loss of ``model`` on ``data`` at its current parameters.

    Args:
        model: any ``nn.Module`` (copied; evaluated in eval mode). Kinks are detected for every model ``torch.fx``
            can trace; otherwise the result is ``uncertified`` (see :func:`goldstein_stationarity`).
        data: any form of :func:`tamelab.inputs.as_data` (``(X, y)``, a ``Dataset``, a ``DataLoader`` with
            tuple or dict batches, NumPy arrays); held in memory.
        targets: the targets when ``data`` holds only the inputs.
        loss: a loss name (:data:`tamelab.losses.LOSSES`) or a callable ``(output, target) -> scalar``.
        eps: radius of the gradient sampling.
        m: number of gradient samples.
        seed: seed of the gradient sampling.
        dtype: the compute dtype.
        device: where it computes.
        chunk: samples per batched gradient evaluation.
        assume_differentiable: accept the result as ``ok`` when kinks cannot be checked (see
            :func:`goldstein_stationarity`).
    """
    from ..monitors._noise import model_and_data

    m64, X, T, lossf = model_and_data(model, data, targets, loss, dtype=dtype, device=device)
    f, theta0, checked, why = model_loss_function(m64, X, T, lossf)
    return goldstein_stationarity(
        f,
        theta0,
        eps=eps,
        m=m,
        seed=seed,
        has_aux=True,
        chunk=chunk,
        assume_differentiable=assume_differentiable,
        kinks_checked=checked,
        kinks_why=why,
    )
