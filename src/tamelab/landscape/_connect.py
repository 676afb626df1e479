r"""Connectivity of two trained models:

loss barriers before/after permutation alignment, on the training and test data, and on a Bézier curve — for any
architecture a permutation spec covers.

* Linear path :math:`\theta(t)=(1-t)\theta_A+t\theta_B` over the parameters **and** the floating
  buffers (BatchNorm running statistics interpolate with the weights). ``bn="reset"`` instead
  recomputes every BatchNorm's running statistics at each :math:`t` on the training data (the
  "reset BN statistics" of Git Re-Basin's ResNet experiments, arXiv:2209.04836 §5, App. A.3).
* Barriers: the mean-endpoint barrier :math:`\max_tL(\theta(t))-\tfrac12(L_A+L_B)`,
  the linear one :math:`\max_t[L(\theta(t))-((1-t)L_A+tL_B)]` and, for classifiers, the accuracy
  barrier :math:`\tfrac12(a_A+a_B)-\min_ta(\theta(t))`. The grid maximum is refined by golden-section
  search between its neighbours.
* :func:`connect_models` composes :func:`~tamelab.landscape.weight_matching` (Ainsworth et al.),
  :func:`barrier` on train and test data and :func:`~tamelab.landscape.fit_curve` (Garipov et al.,
  arXiv:1802.10026).
"""

from __future__ import annotations

import copy
import dataclasses
import time
from typing import Any, Callable, Mapping

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from ..inputs import as_data, evaluate, resolve_device, resolve_dtype
from ..losses import Loss, resolve_loss
from ..result import Result, Status
from .ainsworth2023rebasin import weight_matching
from .garipov2018curves import fit_curve

__all__ = ["ConnectResult", "BarrierResult", "barrier", "connect_models", "plot_connectivity", "interpolated_state"]

BN_MODES = ("interpolate", "reset")


@dataclasses.dataclass
class BarrierResult(Result):
    """Loss (and accuracy) along the straight line from A (t = 0) to B (t = 1) and its barriers."""

    kind = "barrier"

    alphas: list[float] = dataclasses.field(default_factory=list)
    losses: list[float] = dataclasses.field(default_factory=list)
    accuracies: list[float] = dataclasses.field(default_factory=list)
    barrier_mean: float = float("nan")
    barrier_linear: float = float("nan")
    accuracy_barrier: float = float("nan")
    argmax_alpha: float = float("nan")
    bn: str = "interpolate"


def _float_state(model: nn.Module) -> dict[str, torch.Tensor]:
    st = {k: v.detach() for k, v in model.named_parameters()}
    st.update({k: v.detach() for k, v in model.named_buffers() if v.is_floating_point()})
    return st


def interpolated_state(
    sa: Mapping[str, torch.Tensor], sb: Mapping[str, torch.Tensor], t: float
) -> dict[str, torch.Tensor]:
    """``(1 − t)·A + t·B`` for every floating tensor (parameters and buffers)."""
    return {k: (1 - t) * sa[k] + t * sb[k] for k in sa}


def _check_pair(a: nn.Module, b: nn.Module) -> None:
    sa, sb = _float_state(a), _float_state(b)
    if {k: tuple(v.shape) for k, v in sa.items()} != {k: tuple(v.shape) for k, v in sb.items()}:
        raise InputError("models", "have different architectures", "interpolation needs identical parameter shapes")


def _bn_modules(m: nn.Module) -> list[nn.Module]:
    return [x for x in m.modules() if isinstance(x, nn.modules.batchnorm._BatchNorm)]


def _reset_bn(net: nn.Module, data, dev, dt) -> None:
    """Recompute BatchNorm running statistics on ``data`` (cumulative average over all batches)."""
    bns = _bn_modules(net)
    if not bns:
        return
    saved = [(b, b.momentum) for b in bns]
    for b in bns:
        b.reset_running_stats()
        b.momentum = None
        b.train()
    with torch.no_grad():
        for x, _ in data.batches(dev, dt):
            net(x)
    for b, mom in saved:
        b.momentum = mom
        b.eval()


class _Line:
    """Loss/accuracy at points of the segment A → B (a private network copy in eval mode)."""

    def __init__(self, a: nn.Module, b: nn.Module, data, lossf: Loss, bn: str, bn_data, dev, dt) -> None:
        self.net = copy.deepcopy(a).to(device=dev, dtype=dt).eval()
        self.sa = {k: v.to(dev, dt) for k, v in _float_state(a).items()}
        self.sb = {k: v.to(dev, dt) for k, v in _float_state(b).items()}
        self.live = {**dict(self.net.named_parameters()), **dict(self.net.named_buffers())}
        self.data, self.lossf, self.bn, self.bn_data, self.dev, self.dt = data, lossf, bn, bn_data, dev, dt

    def __call__(self, t: float) -> tuple[float, float | None]:
        with torch.no_grad():
            for k, v in interpolated_state(self.sa, self.sb, t).items():
                self.live[k].copy_(v)
        if self.bn == "reset":
            _reset_bn(self.net, self.bn_data, self.dev, self.dt)
        ev = evaluate(self.net, self.data, self.lossf, device=self.dev, dtype=self.dt)
        return ev.loss, ev.accuracy


def barrier(
    model_a: nn.Module,
    model_b: nn.Module,
    data: Any,
    targets: Any = None,
    *,
    loss: str | Callable | Loss | None = "cross_entropy",
    points: int = 25,
    refine: bool = True,
    bn: str = "interpolate",
    bn_data: Any = None,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    input_key: str | None = None,
    target_key: str | None = None,
) -> BarrierResult:
    """Loss barrier on the straight line between two models (parameters and buffers interpolated).

    ``data``/``bn_data`` take any form of :func:`tamelab.inputs.as_data`; ``bn="reset"`` recomputes
    BatchNorm statistics at every point on ``bn_data`` (default: ``data``).
    """
    t0 = time.perf_counter()
    if bn not in BN_MODES:
        raise InputError("bn", f"unknown mode {bn!r}", f"use one of {', '.join(BN_MODES)}")
    if isinstance(points, bool) or not isinstance(points, int) or points < 3:
        raise InputError("points", f"must be an integer >= 3, got {points}")
    _check_pair(model_a, model_b)
    lossf = resolve_loss(loss)
    d = as_data(data, targets, input_key=input_key, target_key=target_key)
    bd = as_data(bn_data, input_key=input_key, target_key=target_key) if bn_data is not None else d
    p = next(model_a.parameters())
    dev = resolve_device(device) if device is not None else p.device
    dt = resolve_dtype(dtype, default=p.dtype if p.dtype in (torch.float32, torch.float64) else torch.float32)
    line = _Line(model_a, model_b, d, lossf, bn, bd, dev, dt)
    al = np.linspace(0, 1, points)
    vals = [line(float(a)) for a in al]
    Ls = np.array([v[0] for v in vals])
    As = [v[1] for v in vals]
    La, Lb = Ls[0], Ls[-1]
    i = int(np.argmax(Ls - 0.5 * (La + Lb)))
    amax, lmax = float(al[i]), float(Ls[i])
    if refine and 0 < i < points - 1:
        lo, hi = al[i - 1], al[i + 1]
        gr = (np.sqrt(5) - 1) / 2
        for _ in range(30):
            c, e = hi - gr * (hi - lo), lo + gr * (hi - lo)
            if line(float(c))[0] > line(float(e))[0]:
                hi = e
            else:
                lo = c
        a2 = float(0.5 * (lo + hi))
        l2 = line(a2)[0]
        if l2 > lmax:
            amax, lmax = a2, l2
    lin = float(np.max(Ls - ((1 - al) * La + al * Lb)))
    accb = float(0.5 * (As[0] + As[-1]) - min(As)) if all(a is not None for a in As) else float("nan")
    finite = bool(np.all(np.isfinite(Ls)))
    return BarrierResult(
        status=Status.OK if finite else Status.FAILED,
        seconds=time.perf_counter() - t0,
        alphas=al.tolist(),
        losses=Ls.tolist(),
        accuracies=[float("nan") if a is None else a for a in As],
        barrier_mean=lmax - 0.5 * (La + Lb),
        barrier_linear=max(lin, lmax - ((1 - amax) * La + amax * Lb)),
        accuracy_barrier=accb,
        argmax_alpha=amax,
        bn=bn,
    )


@dataclasses.dataclass
class ConnectResult(Result):
    """Loss barriers between two models, before and after aligning B to A, and on a Bézier curve.

    Barriers between two models, before and after aligning B to A, on train (and test) data, and on a
    Bézier curve from A to the aligned B.
    """

    kind = "connect"

    def plot(self, ax=None):
        """Loss along the line (raw and aligned) and the Bézier curve (:func:`plot_connectivity`)."""
        return plot_connectivity(self, ax=ax)

    barrier_raw: float = float("nan")
    barrier_aligned: float = float("nan")
    barrier_raw_linear: float = float("nan")
    barrier_aligned_linear: float = float("nan")
    accuracy_barrier_raw: float = float("nan")
    accuracy_barrier_aligned: float = float("nan")
    test_barrier_raw: float = float("nan")
    test_barrier_aligned: float = float("nan")
    test_accuracy_barrier_raw: float = float("nan")
    test_accuracy_barrier_aligned: float = float("nan")
    alignment_sweeps: int = 0
    alignment_function_change: float = float("nan")
    alignment_optimality: str = ""
    alignment_objective: list[float] = dataclasses.field(default_factory=list)
    permutation_spec: dict = dataclasses.field(default_factory=dict)
    bn: str = "interpolate"
    alphas: list[float] = dataclasses.field(default_factory=list)
    losses_raw: list[float] = dataclasses.field(default_factory=list)
    losses_aligned: list[float] = dataclasses.field(default_factory=list)
    test_losses_raw: list[float] = dataclasses.field(default_factory=list)
    test_losses_aligned: list[float] = dataclasses.field(default_factory=list)
    barrier_curve: float | None = None
    barrier_curve_line: float | None = None
    curve_ts: list[float] = dataclasses.field(default_factory=list)
    losses_curve: list[float] = dataclasses.field(default_factory=list)
    aligned_model: nn.Module | None = dataclasses.field(default=None, repr=False)


def connect_models(
    model_a: nn.Module,
    model_b: nn.Module,
    train: Any,
    targets: Any = None,
    *,
    test: Any = None,
    X_test: torch.Tensor | None = None,
    T_test: torch.Tensor | None = None,
    loss: str | Callable | Loss | None = "cross_entropy",
    spec: Any = None,
    points: int = 25,
    curve_steps: int = 400,
    restarts: int = 1,
    seed: int = 0,
    bn: str = "interpolate",
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    input_key: str | None = None,
    target_key: str | None = None,
) -> ConnectResult:
    """Barriers between ``model_a`` and ``model_b`` on train (and test) data, raw and after weight matching;

    with ``curve_steps > 0`` also a quadratic Bézier curve from A to the aligned B trained on the train data.

    Data take any form of :func:`tamelab.inputs.as_data` (``connect_models(a, b, X, T)`` still works);
    ``spec`` is the permutation spec (default: derived, see :func:`~tamelab.landscape.derive_spec`).
    Mismatched architectures raise ``InputError``.
    """
    t0 = time.perf_counter()
    if bn not in BN_MODES:
        raise InputError("bn", f"unknown mode {bn!r}", f"use one of {', '.join(BN_MODES)}")
    if isinstance(curve_steps, bool) or not isinstance(curve_steps, int) or curve_steps < 0:
        raise InputError("curve_steps", f"must be an integer >= 0, got {curve_steps}")
    d = as_data(train, targets, input_key=input_key, target_key=target_key, field="train")
    if test is None and X_test is not None and T_test is not None and len(X_test):
        test = (X_test, T_test)
    dtest = as_data(test, input_key=input_key, target_key=target_key, field="test") if test is not None else None
    lossf = resolve_loss(loss)
    al = weight_matching(model_a, model_b, spec=spec, data=d, seed=seed, restarts=restarts, device=device)
    kw = dict(loss=lossf, points=points, bn=bn, bn_data=d, device=device, dtype=dtype)
    raw = barrier(model_a, model_b, d, **kw)
    ali = barrier(model_a, al.model, d, **kw)
    r = ConnectResult(
        status=Status.OK if al.status == Status.OK else al.status,
        seed=seed,
        barrier_raw=raw.barrier_mean,
        barrier_aligned=ali.barrier_mean,
        barrier_raw_linear=raw.barrier_linear,
        barrier_aligned_linear=ali.barrier_linear,
        accuracy_barrier_raw=raw.accuracy_barrier,
        accuracy_barrier_aligned=ali.accuracy_barrier,
        alignment_sweeps=al.sweeps,
        alignment_function_change=al.max_function_change,
        alignment_optimality=al.optimality,
        alignment_objective=[al.objective_before, al.objective_after],
        permutation_spec=al.spec,
        bn=bn,
        alphas=raw.alphas,
        losses_raw=raw.losses,
        losses_aligned=ali.losses,
        aligned_model=al.model,
    )
    if dtest is not None:
        traw = barrier(model_a, model_b, dtest, **kw)
        tali = barrier(model_a, al.model, dtest, **kw)
        r.test_barrier_raw, r.test_barrier_aligned = traw.barrier_mean, tali.barrier_mean
        r.test_accuracy_barrier_raw, r.test_accuracy_barrier_aligned = traw.accuracy_barrier, tali.accuracy_barrier
        r.test_losses_raw, r.test_losses_aligned = traw.losses, tali.losses
    if curve_steps:
        cv = fit_curve(model_a, al.model, d, loss=lossf, steps=curve_steps, seed=seed, device=device, dtype=dtype)
        r.barrier_curve, r.barrier_curve_line = cv.barrier_curve, cv.barrier_line
        r.curve_ts = list(np.asarray(cv.ts, dtype=float))
        r.losses_curve = list(np.asarray(cv.losses_curve, dtype=float))
    r.seconds = time.perf_counter() - t0
    return r


def plot_connectivity(r: ConnectResult, ax=None):
    """Loss along the straight line (raw, aligned; train and test) and along the Bézier curve (on ``ax`` when given);

    returns the figure.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 3.6), layout="constrained")
    else:
        fig = ax.figure
    ax.plot(r.alphas, r.losses_raw, "o-", ms=3, label="line, raw (train)")
    ax.plot(r.alphas, r.losses_aligned, "s-", ms=3, label="line, aligned (train)")
    if r.test_losses_raw:
        ax.plot(r.alphas, r.test_losses_raw, "o--", ms=3, alpha=0.6, label="line, raw (test)")
        ax.plot(r.alphas, r.test_losses_aligned, "s--", ms=3, alpha=0.6, label="line, aligned (test)")
    if r.losses_curve:
        ax.plot(r.curve_ts, r.losses_curve, "^-", ms=3, label="Bézier curve, aligned (train)")
    ax.set_xlabel("t (0 = A, 1 = B)")
    ax.set_ylabel("loss")
    ax.legend(fontsize=7)
    ax.set_title("Mode connectivity")
    return fig
