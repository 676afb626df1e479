r"""PCA of optimisation trajectories (Li et al., arXiv:1712.09913).

Rows :math:`d_i=\theta_i-\theta_n` (snapshots relative to the final point). # NOTE [centring]: like the
reference code (scikit-learn) we *mean-centre* the rows before the SVD; coordinates are the projections
of the uncentred :math:`d_i` on the two principal axes, so the final point sits at the origin.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["trajectory_pca"]


def trajectory_pca(snapshots: list[dict[str, torch.Tensor]], *, ignore_1d: bool = True) -> dict:
    names = list(snapshots[0])
    keep = [k for k in names if not (ignore_1d and snapshots[0][k].dim() <= 1)]
    M = np.stack([np.concatenate([s[k].detach().double().numpy().ravel() for k in keep]) for s in snapshots])
    D = M[:-1] - M[-1]
    Dc = D - D.mean(axis=0, keepdims=True)
    U, S, Vt = np.linalg.svd(Dc, full_matrices=False)
    var = S**2 / max((S**2).sum(), 1e-300)
    axes = Vt[:2]
    coords = np.vstack([D @ axes.T, np.zeros((1, 2))])
    dirs = []
    for a in axes:
        d, i = {}, 0
        for k in names:
            if k in keep:
                n = snapshots[0][k].numel()
                d[k] = torch.as_tensor(a[i : i + n].reshape(snapshots[0][k].shape), dtype=snapshots[0][k].dtype)
                i += n
            else:
                d[k] = torch.zeros_like(snapshots[0][k])
        dirs.append(d)
    return {"explained_variance_ratio": var[:2].tolist(), "coords": coords, "directions": dirs}
