"""Modules that once fooled the tameness certificate: the wrong answers its tests and the audit feed it.

Each forward is tame only if the certificate sees what really runs: a binary ``torch.max`` (a piecewise
selection, not a reduction), an in-place op hiding the value ``sin`` reads, a branch on ``self.training`` (the
certified graph must be the one in the mode asked for), and a branch on the batch size (a trace at one batch size
says nothing about another). :func:`tamelab.tame.certify` must refuse or qualify each
(``tests/test_tame_certify.py``, ``tests/test_certificate_audit.py``, ``benchmarks/audit_certificates.py``).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["BinaryMax", "InPlace", "SinWhenTraining", "BatchBranch", "TAMENESS_COUNTEREXAMPLES"]


class BinaryMax(nn.Module):
    """``sin(max(tanh z, z))``: a binary max, whose input bounds are those of both arguments."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``sin(max(tanh z, z))``."""
        return torch.sin(torch.max(torch.tanh(z), z))


class InPlace(nn.Module):
    """``h = tanh z; h += z; sin h``: ``sin`` reads the value after the in-place add, not ``tanh z``."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``sin(tanh z + z)``, the sum made in place."""
        h = torch.tanh(z)
        h.add_(z)
        return torch.sin(h)


class SinWhenTraining(nn.Module):
    """``sin`` in training mode, ``relu`` in eval mode: the certified graph depends on the mode."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 3)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``sin(lin z)`` when training, ``relu(lin z)`` in eval mode."""
        h = self.lin(z)
        return torch.sin(h) if self.training else torch.relu(h)


class BatchBranch(SinWhenTraining):
    """``sin`` only for batches larger than 4: a trace at one batch size does not cover the others."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``sin(lin z)`` for batches larger than 4, ``lin z`` otherwise."""
        h = self.lin(z)
        return torch.sin(h) if z.shape[0] > 4 else h


#: (name, class) of each counterexample, in the order the audit prints them.
TAMENESS_COUNTEREXAMPLES: tuple[tuple[str, type[nn.Module]], ...] = (
    ("sin(max(tanh z, z))", BinaryMax),
    ("tanh(z).add_(z); sin", InPlace),
    ("sin if self.training", SinWhenTraining),
    ("branch on batch > 4", BatchBranch),
)
