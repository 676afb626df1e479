"""Models the benchmarks share, built in one place.

``cnn28`` is the CNN of the issue "Performance at scale" (1×28×28 → Conv 8 → BN → ReLU → MaxPool → Conv 16 → BN →
ReLU → MaxPool → Linear 10, 9k parameters), used by ``bench_hessian_scale.py`` and ``device_check.py``;
``randomize_batchnorm`` gives its BatchNorm layers non-trivial statistics so eval mode is not the identity.
"""

from __future__ import annotations

import torch
from torch import nn


def cnn28() -> nn.Sequential:
    """The benchmarks' CNN for 1×28×28 inputs (initialised from torch's global generator)."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 7 * 7, 10),
    )


def randomize_batchnorm(m: nn.Module, g: torch.Generator, *, affine: bool = False) -> nn.Module:
    """Running mean ~ N(0, 0.1²), running var ~ U[0.5, 1.5] (and, with ``affine``, weight ~ U[0.8, 1.2], bias ~
    N(0, 0.1²)) in every BatchNorm2d, drawn from ``g`` layer by layer; returns ``m`` in eval mode."""
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.normal_(0, 0.1, generator=g)
                mod.running_var.uniform_(0.5, 1.5, generator=g)
                if affine:
                    mod.weight.uniform_(0.8, 1.2, generator=g)
                    mod.bias.normal_(0, 0.1, generator=g)  # (loss-landscapes divides by zero on an all-zero bias)
    return m.eval()
