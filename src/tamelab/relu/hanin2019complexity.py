r"""Expected linear-region statistics at initialisation (Hanin & Rolnick 2019).

*Complexity of Linear Regions in Deep Networks* (ICML 2019, arXiv:1901.09021) and *Deep ReLU
Networks Have Surprisingly Few Activation Patterns* (NeurIPS 2019, arXiv:1906.00904); spec
geometry.md §2.3 and §2.5.5. For He-initialised ReLU nets (weights :math:`N(0, 2/\text{fan-in})`,
biases :math:`N(0, \sigma_b^2)`) the number of regions met by a 1-D segment grows linearly in the
total number of neurons :math:`N` — not exponentially in depth — and the number of regions per
unit area of a 2-D slice scales like :math:`N^{n_0}` with :math:`n_0=2` there, again depth-independently.

Counts are exact (the segment walk / planar splitting of :mod:`tamelab.relu`), averaged over seeded
random networks.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from ._regions import Plane, Segment, regions

__all__ = ["he_init_net", "hanin_rolnick"]


def he_init_net(widths: Sequence[int], *, seed: int = 0, bias_std: float = 0.1) -> nn.Sequential:
    """ReLU MLP with weights ~ N(0, 2/fan_in), biases ~ N(0, bias_std²), float64 (spec §2.5.5)."""
    widths = [int(w) for w in widths]
    if len(widths) < 3 or min(widths) < 1:
        raise InputError("widths", f"need input, >= 1 hidden and output widths, all >= 1; got {widths}")
    g = torch.Generator().manual_seed(int(seed))
    mods: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        lin = nn.Linear(a, b, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.randn(b, a, generator=g, dtype=torch.float64) * np.sqrt(2.0 / a))
            lin.bias.copy_(torch.randn(b, generator=g, dtype=torch.float64) * bias_std)
        mods.append(lin)
        if i < len(widths) - 2:
            mods.append(nn.ReLU())
    return nn.Sequential(*mods)


@dataclasses.dataclass
class HaninRolnickStats:
    widths: list[int]
    neurons: int
    nets: int
    seed: int
    segment_length: float
    segment_regions: list[int]
    regions_per_neuron_mean: float
    regions_per_neuron_std: float
    plane_side: float | None = None
    plane_regions: list[int] | None = None
    regions_per_area_mean: float | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def hanin_rolnick(
    widths: Sequence[int],
    *,
    nets: int = 30,
    seed: int = 0,
    length: float = 4.0,
    bias_std: float = 0.1,
    plane_side: float | None = None,
) -> HaninRolnickStats:
    """Regions crossed by random segments (and per unit area of random 2-D slices) of He-initialised nets.

    Regions crossed by a random segment of ``length`` through 0 (and, if ``plane_side``, regions per
    unit area of a random 2-D slice ``[-side/2, side/2]²`` through 0), over ``nets`` seeded He-initialised nets.

    ``widths`` = (n0, n1, ..., nL, 1). Segment direction: uniform on the sphere, per net.
    """
    widths = [int(w) for w in widths]
    if nets < 1:
        raise InputError("nets", "need at least one network")
    N = sum(widths[1:-1])
    seg, pl = [], []
    for i in range(nets):
        model = he_init_net(widths, seed=seed + i, bias_std=bias_std)
        rng = np.random.default_rng([seed, i])
        u = rng.standard_normal(widths[0])
        u /= np.linalg.norm(u)
        seg.append(regions(model, Segment(-length / 2 * u, length / 2 * u), boundary=False).activation_regions)
        if plane_side:
            q, _ = np.linalg.qr(rng.standard_normal((widths[0], 2)))
            h = plane_side / 2
            dom = Plane(np.zeros(widths[0]), q[:, 0], q[:, 1], [(-h, -h), (h, -h), (h, h), (-h, h)])
            pl.append(regions(model, dom, boundary=False).activation_regions)
    ratio = np.asarray(seg, float) / N
    return HaninRolnickStats(
        widths=widths,
        neurons=N,
        nets=nets,
        seed=seed,
        segment_length=length,
        segment_regions=seg,
        regions_per_neuron_mean=float(ratio.mean()),
        regions_per_neuron_std=float(ratio.std()),
        plane_side=plane_side,
        plane_regions=pl or None,
        regions_per_area_mean=float(np.mean(pl) / plane_side**2) if pl else None,
    )
