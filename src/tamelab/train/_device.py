r"""Train on an accelerator and compare with a CPU float64 reference run.

:func:`train_on_device` runs :func:`tamelab.train.train` twice on the same model, data, seed and
batch order — once on ``device`` in ``dtype`` (e.g. CUDA float32), once on the CPU in float64 — and
compares the final parameters, :math:`\|\theta^{dev}_T-\theta^{ref}_T\|/\|\theta^{ref}_T\|`, and the
per-step loss histories. Rounding differences grow along the trajectory, so the check is meant for a
few epochs of a smooth optimiser (SGD by default) on a deterministic model (no dropout: the two
devices' random streams differ). ``benchmarks/device_check.py`` calls it when CUDA is present.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import torch

from ..result import Result, Status

__all__ = ["train_on_device", "DeviceComparison"]


@dataclasses.dataclass
class DeviceComparison(Result):
    """Result of :func:`train_on_device`.

    Attributes:
        device, dtype: the run checked; reference_device, reference_dtype: the reference run.
        steps: optimisation steps in each run.
        param_rel_diff: :math:`\\|\\theta^{dev}_T-\\theta^{ref}_T\\|/\\|\\theta^{ref}_T\\|` (all trainable
            parameters as one vector, compared in float64).
        loss_max_rel_diff: the largest relative difference of the recorded mini-batch losses.
        final_train_loss, reference_final_train_loss: full-data training loss after the last epoch.
        rtol: the tolerance both differences are held to; status ``ok`` when both are below it,
            ``uncertified`` otherwise.
        seconds_device, seconds_reference: wall time of each run.
    """

    kind = "device_check"

    device: str = "cpu"
    dtype: str = "float32"
    reference_device: str = "cpu"
    reference_dtype: str = "float64"
    steps: int = 0
    param_rel_diff: float = float("nan")
    loss_max_rel_diff: float = float("nan")
    final_train_loss: float = float("nan")
    reference_final_train_loss: float = float("nan")
    rtol: float = 0.0
    seconds_device: float = 0.0
    seconds_reference: float = 0.0


def train_on_device(model: torch.nn.Module, data: Any, *, device: str = "cuda", dtype: str = "float32",
                    reference_device: str = "cpu", reference_dtype: str = "float64", epochs: int = 2,
                    optimizer: Any = "sgd", lr: float = 0.05, rtol: float | None = None,
                    **train_kwargs: Any) -> DeviceComparison:
    """Train ``model`` on ``device``/``dtype`` and on ``reference_device``/``reference_dtype``; compare.

    Args:
        model, data: as for :func:`tamelab.train.train` (the caller's model is not modified).
        device, dtype: the run to check (default CUDA float32).
        reference_device, reference_dtype: the reference (default CPU float64).
        epochs, optimizer, lr: a short, smooth run (default 2 epochs of SGD with step 0.05).
        rtol: tolerance on the relative parameter and loss differences; default ``1e-3`` for a
            float32 run, ``1e-9`` for float64 against float64 (documented, not a hidden constant).
        **train_kwargs: passed to both :func:`~tamelab.train.train` calls (``loss``, ``batch_size``,
            ``test``, ``seed``, ...; no checkpoints or exporters).

    >>> import torch
    >>> m = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    >>> X, y = torch.randn(32, 3), torch.randint(0, 2, (32,))
    >>> train_on_device(m, (X, y), device="cpu", dtype="float64", epochs=1).ok
    True
    """
    from ..inputs import resolve_dtype
    from ._train import train

    dt = resolve_dtype(dtype)
    if rtol is None:
        rtol = 1e-9 if dt == torch.float64 else 1e-3
    t0 = time.perf_counter()
    a = train(model, data, device=device, dtype=dtype, epochs=epochs, optimizer=optimizer, lr=lr, **train_kwargs)
    t1 = time.perf_counter()
    b = train(model, data, device=reference_device, dtype=reference_dtype, epochs=epochs, optimizer=optimizer,
              lr=lr, **train_kwargs)
    t2 = time.perf_counter()
    fa = torch.cat([v.reshape(-1).double() for v in a.snapshots[-1].values()])
    fb = torch.cat([v.reshape(-1).double() for v in b.snapshots[-1].values()])
    prd = float((fa - fb).norm() / fb.norm().clamp_min(torch.finfo(torch.float64).tiny))
    la, lb = a.history.get("loss", np.zeros(0)), b.history.get("loss", np.zeros(0))
    lrd = float(np.max(np.abs(la - lb) / np.maximum(np.abs(lb), np.finfo(np.float64).tiny))) if len(lb) else 0.0
    ok = np.isfinite(prd) and np.isfinite(lrd) and prd <= rtol and lrd <= rtol
    return DeviceComparison(
        status=Status.OK if ok else Status.UNCERTIFIED, seed=a.seed, seconds=t2 - t0, device=a.device,
        dtype=a.dtype, reference_device=b.device, reference_dtype=b.dtype, steps=a.steps, param_rel_diff=prd,
        loss_max_rel_diff=lrd, final_train_loss=a.final_train_loss, reference_final_train_loss=b.final_train_loss,
        rtol=float(rtol), seconds_device=t1 - t0, seconds_reference=t2 - t1,
    )
