r"""Autoencoders that do sparse coding (Rangamani, Mukherjee, Basu, Ganapathy, Arora, Chin & Tran, arXiv:1708.03735).

Generative model (spec constructive.md §3.2): :math:`y=A^*x^*` with an overcomplete incoherent dictionary
:math:`A^*\in\mathbb R^{n\times h}` (unit-norm Gaussian columns) and :math:`k`-sparse codes with uniform
support and i.i.d. non-zeros in :math:`[a_{\min},a_{\max}]`. Tied ReLU autoencoder
:math:`r=\sigma(Wy-\varepsilon)`, :math:`\hat y=W^\top r`, loss :math:`L=\tfrac12\|y-\hat y\|^2`, whose
gradient (with :math:`e=\hat y-y`) is

.. math:: \nabla_{W_i}L=r_i\,e+\mathbf 1\{W_i\cdot y>\varepsilon\}\,(W_i\cdot e)\,y .

The paper's claims: near :math:`W=A^{*\top}` the ReLU layer recovers the support of :math:`x^*` w.h.p. and
the expected gradient is asymptotically negligible. Measured here by Monte Carlo: the support-recovery
rate and :math:`\|\mathbb E\nabla L\|_F` at :math:`A^{*\top}` and at a perturbed point, as :math:`n` grows
(:math:`h=2n`, :math:`\varepsilon=4\sqrt{k\ln h/n}`). The gradient is checked against autograd in tests.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ..errors import InputError

__all__ = ["sparse_coding_data", "autoencoder_gradient", "SparseCodingPoint", "sparse_coding_trend", "plot_sparse_coding"]


def sparse_coding_data(n: int, h: int, k: int, N: int, *, seed: int = 0, a_min: float = 1.0, a_max: float = 2.0):
    """(A* (n×h, unit columns), X* (h×N, k-sparse), Y = A* X*)."""
    if not (1 <= k <= h) or n < 1 or N < 1:
        raise InputError("k", f"need 1 <= k <= h and n, N >= 1 (n={n}, h={h}, k={k}, N={N})")
    g = np.random.default_rng(seed)
    A = g.standard_normal((n, h))
    A /= np.linalg.norm(A, axis=0, keepdims=True)
    X = np.zeros((h, N))
    supp = np.argsort(g.random((N, h)), axis=1)[:, :k]
    X[supp.T, np.arange(N)[None, :]] = g.uniform(a_min, a_max, size=(k, N))
    return A, X, A @ X


def autoencoder_gradient(W: torch.Tensor, Y: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean gradient over the columns of Y (closed form above), the hidden codes R and the mean loss."""
    Z = W @ Y
    R = torch.relu(Z - eps)
    E = W.T @ R - Y
    G = (R @ E.T + ((Z > eps).to(W.dtype) * (W @ E)) @ Y.T) / Y.shape[1]
    return G, R, 0.5 * (E**2).sum(0).mean()


@dataclasses.dataclass
class SparseCodingPoint:
    n: int
    h: int
    k: int
    samples: int
    eps: float
    support_recovery: float
    grad_norm_at_A: float
    grad_norm_perturbed: float
    loss_at_A: float


def sparse_coding_trend(ns=(128, 256, 512, 1024), *, k: int = 3, samples: int = 4000, seed: int = 0,
                        perturb: float = 0.5) -> list[SparseCodingPoint]:
    """Support recovery and ‖E∇L‖_F at W = A*ᵀ (and at A*ᵀ + perturb·random unit rows) for each n (h = 2n)."""
    out = []
    for n in ns:
        h = 2 * n
        A, X, Y = sparse_coding_data(n, h, k, samples, seed=seed)
        eps = 4.0 * np.sqrt(k * np.log(h) / n)
        W = torch.as_tensor(A.T.copy())
        Yt = torch.as_tensor(Y)
        G, R, L = autoencoder_gradient(W, Yt, eps)
        rec = float(((R.numpy() > 0) == (X > 0)).all(0).mean())
        P = np.random.default_rng([seed, 1]).standard_normal((h, n))
        P /= np.linalg.norm(P, axis=1, keepdims=True)
        G2, _, _ = autoencoder_gradient(W + perturb * torch.as_tensor(P), Yt, eps)
        out.append(SparseCodingPoint(n, h, k, samples, float(eps), rec, float(torch.linalg.norm(G)), float(torch.linalg.norm(G2)),
                                     float(L)))
    return out


def plot_sparse_coding(points: list[SparseCodingPoint]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = [p.n for p in points]
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.4))
    ax[0].plot(ns, [p.support_recovery for p in points], "o-")
    ax[0].set_xscale("log", base=2); ax[0].set_xlabel("n"); ax[0].set_ylabel("support recovered"); ax[0].set_ylim(-0.02, 1.02)
    ax[1].loglog(ns, [p.grad_norm_at_A for p in points], "o-", label="at A*")
    ax[1].loglog(ns, [p.grad_norm_perturbed for p in points], "s--", label="perturbed")
    ax[1].set_xlabel("n"); ax[1].set_ylabel("‖E ∇L‖_F"); ax[1].legend(fontsize=8)
    fig.tight_layout()
    return fig
