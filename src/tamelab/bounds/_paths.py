r"""Weight-space path geometry along training.

Proxies motivated by Mukherjee's thesis ch. 6 (arXiv:2104.14033) and the prior-at-initialisation of
Dziugaite & Roy (arXiv:1703.11008); *not* a bound from the thesis.

For snapshots :math:`\theta_0,\dots,\theta_T`: per layer and globally the distance from initialisation
(Frobenius, spectral, relative), path length :math:`\ell_t=\sum_{s<t}\|\theta_{s+1}-\theta_s\|`,
straightness :math:`\|\theta_t-\theta_0\|/\ell_t`, the angle between consecutive displacements, the
cosine of :math:`\theta_t-\theta_0` with :math:`\theta_T-\theta_0`, and the KL
:math:`\|\theta_t-\theta_0\|^2/(2\lambda)` an isotropic Gaussian prior at init would charge.
"""

from __future__ import annotations

import dataclasses
import time
from typing import ItemsView, Iterator, KeysView

import numpy as np
import torch

from ..errors import InputError
from ..result import Result, Status

__all__ = ["path_geometry", "PathGeometry"]


@dataclasses.dataclass
class PathGeometry(Result):
    """Series along the snapshots (each an array of length T+1, or T−1 for consecutive angles).

    Read like a mapping (``pg["distance"]``, ``pg.items()``) for the series; keys: ``distance``,
    ``path_length``, ``straightness``, ``cos_to_final``, ``angle_consecutive_deg``, ``implied_kl`` and,
    per 2-D parameter ``k``, ``k/frobenius``, ``k/spectral``, ``k/relative``.
    """

    kind = "path_geometry"

    series: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    prior_sigma: float = 0.03
    snapshots: int = 0

    def __getitem__(self, key: str) -> np.ndarray:
        return self.series[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.series)

    def __contains__(self, key: object) -> bool:
        return key in self.series

    def keys(self) -> KeysView[str]:
        """Names of the series."""
        return self.series.keys()

    def items(self) -> ItemsView[str, np.ndarray]:
        """``(name, series)`` pairs."""
        return self.series.items()

    def arrays(self) -> dict[str, np.ndarray]:
        """The series for an ``.npz`` file (``/`` in parameter names becomes ``__``)."""
        return {k.replace("/", "__"): v for k, v in self.series.items()}

    def plot(self, ax=None):
        """Distance from the first snapshot and path length against the snapshot index (on ``ax`` when given);

        returns the figure.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            fig, ax = plt.subplots(figsize=(5.5, 3.4), layout="constrained")
        else:
            fig = ax.figure
        ax.plot(self.series["distance"], label="‖θ_t − θ_0‖")
        ax.plot(self.series["path_length"], label="path length Σ‖Δθ‖")
        ax.set_xlabel("snapshot")
        ax.set_ylabel("Euclidean norm in parameter space")
        ax.legend(fontsize=8)
        return fig


def path_geometry(snapshots: list[dict[str, torch.Tensor]], *, prior_sigma: float = 0.03) -> PathGeometry:
    r"""Geometry of the path :math:`\theta_0,\dots,\theta_T` traced by parameter snapshots.

    All parameters form one flat vector (float64) for the global series; every 2-D parameter also gets
    its own Frobenius, spectral and relative distance from initialisation. See the module docstring for
    the series.

    Args:
        snapshots: state dicts (name → tensor) of one model along training, the first at initialisation
            (e.g. ``TrainResult.snapshots``).
        prior_sigma: standard deviation :math:`\sigma` of the isotropic Gaussian prior at initialisation
            whose KL :math:`\|\theta_t-\theta_0\|^2/(2\sigma^2)` is reported as ``implied_kl``.

    Returns:
        A :class:`PathGeometry` (status ``ok``).

    Raises:
        InputError: fewer than two snapshots, snapshots of different models, or a bad ``prior_sigma``.
    """
    t0 = time.perf_counter()
    if len(snapshots) < 2:
        raise InputError("snapshots", "need at least two snapshots (initial and one more)")
    if not (prior_sigma > 0 and np.isfinite(prior_sigma)):
        raise InputError("prior_sigma", f"must be a finite number > 0, got {prior_sigma}")
    names = list(snapshots[0])
    if any(list(s) != names for s in snapshots):
        raise InputError("snapshots", "snapshots have different parameter names", "pass snapshots of one model")
    flat = np.stack([np.concatenate([s[k].detach().cpu().double().numpy().ravel() for k in names]) for s in snapshots])
    d0 = flat - flat[0]
    steps = np.diff(flat, axis=0)
    step_norm = np.linalg.norm(steps, axis=1)
    path = np.concatenate([[0.0], np.cumsum(step_norm)])
    dist = np.linalg.norm(d0, axis=1)
    final = d0[-1]
    cos_final = np.array(
        [
            float(v @ final / (np.linalg.norm(v) * np.linalg.norm(final))) if np.linalg.norm(v) > 0 else np.nan
            for v in d0
        ]
    )
    cos_consec = np.array(
        [
            float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
            if np.linalg.norm(a) * np.linalg.norm(b) > 0
            else np.nan
            for a, b in zip(steps[:-1], steps[1:])
        ]
    )
    out = {
        "distance": dist,
        "path_length": path,
        "straightness": np.where(path > 0, dist / np.maximum(path, 1e-300), 1.0),
        "cos_to_final": cos_final,
        "angle_consecutive_deg": np.degrees(np.arccos(np.clip(cos_consec, -1, 1))),
        "implied_kl": dist**2 / (2 * prior_sigma**2),
    }
    for k in names:
        if snapshots[0][k].ndim == 2:
            W0 = snapshots[0][k].detach().cpu().double().numpy()
            D = [s[k].detach().cpu().double().numpy() - W0 for s in snapshots]
            out[f"{k}/frobenius"] = np.array([np.linalg.norm(x) for x in D])
            out[f"{k}/spectral"] = np.array([np.linalg.norm(x, 2) for x in D])
            out[f"{k}/relative"] = out[f"{k}/frobenius"] / max(np.linalg.norm(W0), 1e-300)
    return PathGeometry(
        status=Status.OK,
        seconds=time.perf_counter() - t0,
        series=out,
        prior_sigma=prior_sigma,
        snapshots=len(snapshots),
    )
