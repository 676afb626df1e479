r"""Connectivity of two trained models: barriers before/after permutation alignment, and on a Bézier curve.

One function composing :func:`~tamelab.landscape.weight_matching` (Ainsworth et al., arXiv:2209.04836),
:func:`~tamelab.landscape.interpolate` (barriers as defined in spec geometry.md §6: the mean-endpoint
barrier :math:`\max_t L(\theta_t)-\tfrac12(L_A+L_B)`, the linear one, and the accuracy barrier) on the
training *and* test data, and :func:`~tamelab.landscape.fit_curve` (Garipov et al., arXiv:1802.10026).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import torch
from torch import nn

from ..result import Result, Status
from .ainsworth2023rebasin import weight_matching
from .garipov2018curves import fit_curve
from .li2018visualizing import interpolate

__all__ = ["ConnectResult", "connect_models", "plot_connectivity"]


@dataclasses.dataclass
class ConnectResult(Result):
    kind = "connect"

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


def connect_models(model_a: nn.Module, model_b: nn.Module, X: torch.Tensor, T: torch.Tensor, *,
                   X_test: torch.Tensor | None = None, T_test: torch.Tensor | None = None, loss: str = "cross_entropy",
                   points: int = 25, curve_steps: int = 400, restarts: int = 1, seed: int = 0) -> ConnectResult:
    """Barriers between ``model_a`` and ``model_b`` on train (and test) data, raw and after weight matching;
    with ``curve_steps > 0`` also a quadratic Bézier curve from A to the aligned B trained on (X, T).
    Mismatched architectures raise ``InputError`` (from :func:`weight_matching`)."""
    t0 = time.perf_counter()
    al = weight_matching(model_a, model_b, seed=seed, X=X, restarts=restarts)
    raw = interpolate(model_a, model_b, X, T, loss=loss, points=points)
    ali = interpolate(model_a, al.model, X, T, loss=loss, points=points)
    r = ConnectResult(status=Status.OK, seed=seed, barrier_raw=raw.barrier_mean, barrier_aligned=ali.barrier_mean,
                      barrier_raw_linear=raw.barrier_linear, barrier_aligned_linear=ali.barrier_linear,
                      accuracy_barrier_raw=raw.accuracy_barrier, accuracy_barrier_aligned=ali.accuracy_barrier,
                      alignment_sweeps=al.sweeps, alignment_function_change=al.max_function_change, alphas=raw.alphas,
                      losses_raw=raw.losses, losses_aligned=ali.losses, aligned_model=al.model)
    if X_test is not None and T_test is not None and len(X_test):
        traw = interpolate(model_a, model_b, X_test, T_test, loss=loss, points=points)
        tali = interpolate(model_a, al.model, X_test, T_test, loss=loss, points=points)
        r.test_barrier_raw, r.test_barrier_aligned = traw.barrier_mean, tali.barrier_mean
        r.test_accuracy_barrier_raw, r.test_accuracy_barrier_aligned = traw.accuracy_barrier, tali.accuracy_barrier
        r.test_losses_raw, r.test_losses_aligned = traw.losses, tali.losses
    if curve_steps:
        lf = nn.functional.cross_entropy if loss == "cross_entropy" else nn.functional.mse_loss
        cv = fit_curve(model_a, al.model, X, T, loss_fn=lf, steps=curve_steps, seed=seed)
        r.barrier_curve, r.barrier_curve_line = cv.barrier_curve, cv.barrier_line
        r.curve_ts, r.losses_curve = list(np.asarray(cv.ts, dtype=float)), list(np.asarray(cv.losses_curve, dtype=float))
    r.seconds = time.perf_counter() - t0
    return r


def plot_connectivity(r: ConnectResult):
    """Loss along the straight line (raw, aligned; train and test) and along the Bézier curve."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    ax.plot(r.alphas, r.losses_raw, "o-", ms=3, label="line, raw (train)")
    ax.plot(r.alphas, r.losses_aligned, "s-", ms=3, label="line, aligned (train)")
    if r.test_losses_raw:
        ax.plot(r.alphas, r.test_losses_raw, "o--", ms=3, alpha=0.6, label="line, raw (test)")
        ax.plot(r.alphas, r.test_losses_aligned, "s--", ms=3, alpha=0.6, label="line, aligned (test)")
    if r.losses_curve:
        ax.plot(r.curve_ts, r.losses_curve, "^-", ms=3, label="Bézier curve, aligned (train)")
    ax.set_xlabel("t (0 = A, 1 = B)"); ax.set_ylabel("loss"); ax.legend(fontsize=7)
    ax.set_title("Mode connectivity")
    fig.tight_layout()
    return fig
