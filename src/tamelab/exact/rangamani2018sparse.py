r"""Autoencoders that do sparse coding (Rangamani, Mukherjee, Basu, Ganapathy, Arora, Chin & Tran, arXiv:1708.03735).

Generative model (spec constructive.md §3.2): :math:`y=A^*x^*` with an overcomplete incoherent dictionary
:math:`A^*\in\mathbb R^{n\times h}` (unit-norm Gaussian columns) and :math:`k`-sparse codes with uniform
support and i.i.d. non-zeros in :math:`[a_{\min},a_{\max}]`. Tied ReLU autoencoder
:math:`r=\sigma(Wy-\varepsilon)`, :math:`\hat y=W^\top r`, loss :math:`L=\tfrac12\|y-\hat y\|^2`, whose
gradient (with :math:`e=\hat y-y`) is

.. math:: \nabla_{W_i}L=r_i\,e+\mathbf 1\{W_i\cdot y>\varepsilon\}\,(W_i\cdot e)\,y .

The paper's claims: near :math:`W=A^{*\top}` the ReLU layer recovers the support of :math:`x^*` w.h.p., the
expected gradient is asymptotically negligible at every point of a small neighbourhood of :math:`A^*`, and
(experimentally) :math:`A^*` is a local minimum. Measured here by Monte Carlo with support size
:math:`k=\lceil h^p\rceil` (the paper's sparsity model), :math:`h=2n`, :math:`\varepsilon=4\sqrt{k\ln h/n}` (our
scaling): the support-recovery rate and :math:`\|\mathbb E\nabla L\|_F` at :math:`A^{*\top}` and at random points of
its :math:`\delta`-neighbourhood (rows :math:`A^*_i+\delta u_i`, :math:`|u_i|=1`, renormalised), as :math:`n` grows.
The norm of the *expected* gradient is estimated without Monte-Carlo bias: with the sample split into :math:`K`
chunks with mean gradients :math:`G_1..G_K`, :math:`\frac1{K(K-1)}\sum_{i\ne j}\langle G_i,G_j\rangle` is unbiased for
:math:`\|\mathbb E\nabla L\|_F^2` (the plain :math:`\|\bar G\|_F` is inflated by the sampling noise, whose norm does
not shrink with :math:`n`). :func:`local_minimum_descent` repeats the paper's experiment: gradient descent on fresh
mini-batches from :math:`A^{*\top}+\delta`-noise, tracking the direction of every row. The gradient is checked
against autograd in tests.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ..errors import InputError

__all__ = [
    "sparse_coding_data",
    "autoencoder_gradient",
    "SparseCodingPoint",
    "sparse_coding_trend",
    "plot_sparse_coding",
    "support_size",
    "expected_gradient_norm",
    "GradientNorm",
    "neighbourhood_point",
    "DescentRun",
    "local_minimum_descent",
    "row_direction_distance",
]


#: ε = EPS_SCALE·√(k ln h / n) (our scaling: above the interference level, shrinking with n).
EPS_SCALE = 4.0


def support_size(h: int, p: float) -> int:
    """The paper's sparsity: support size h^p (rounded up), 0 < p < 1."""
    if not 0 < p < 1:
        raise InputError("p", f"the support size is h^p with 0 < p < 1, got p = {p}")
    return int(np.ceil(h**p - 1e-9))


def sparse_coding_data(n: int, h: int, k: int, N: int, *, seed: int = 0, a_min: float = 1.0, a_max: float = 2.0):
    """(A* (n×h, unit columns), X* (h×N, k-sparse), Y = A* X*)."""
    if not (1 <= k <= h) or n < 1 or N < 1:
        raise InputError("k", f"need 1 <= k <= h and n, N >= 1 (n={n}, h={h}, k={k}, N={N})")
    g = np.random.default_rng(seed)
    A = g.standard_normal((n, h))
    A /= np.linalg.norm(A, axis=0, keepdims=True)
    X = _sparse_codes(h, k, N, g, a_min, a_max)
    return A, X, A @ X


def autoencoder_gradient(
    W: torch.Tensor, Y: torch.Tensor, eps: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean gradient over the columns of Y (closed form above), the hidden codes R and the mean loss."""
    Z = W @ Y
    R = torch.relu(Z - eps)
    E = W.T @ R - Y
    G = (R @ E.T + ((Z > eps).to(W.dtype) * (W @ E)) @ Y.T) / Y.shape[1]
    return G, R, 0.5 * (E**2).sum(0).mean()


@dataclasses.dataclass
class GradientNorm:
    """‖E∇L‖_F estimated from ``chunks`` independent chunk means:

    ``norm`` (unbiased for the square, clipped at 0), ``naive`` (norm of the overall mean, biased upward by noise) and
    ``noise`` (the noise norm of the overall mean).
    """

    norm: float
    naive: float
    noise: float
    chunks: int


def expected_gradient_norm(W: torch.Tensor, Y: torch.Tensor, eps: float, chunks: int = 4) -> GradientNorm:
    """Unbiased estimate of ‖E∇L(W)‖_F² from ``chunks`` disjoint column blocks of ``Y`` (module docstring)."""
    N = Y.shape[1]
    if chunks < 2 or N < chunks:
        raise InputError("chunks", f"need 2 <= chunks <= samples, got {chunks} chunks for {N} samples")
    Gs = [autoencoder_gradient(W, Y[:, i * N // chunks : (i + 1) * N // chunks], eps)[0] for i in range(chunks)]
    S = sum(Gs)
    tot, own = float((S * S).sum()), sum(float((g * g).sum()) for g in Gs)
    sq = (tot - own) / (chunks * (chunks - 1))
    naive = float(torch.linalg.norm(S)) / chunks
    return GradientNorm(float(np.sqrt(max(sq, 0.0))), naive, float(np.sqrt(max(naive**2 - sq, 0.0))), chunks)


def neighbourhood_point(A: np.ndarray, delta: float, rng: np.random.Generator) -> np.ndarray:
    """W with rows A*_i + δ·u_i (u_i uniform on the sphere), renormalised to unit length:

    a random point of the δ-neighbourhood of A*ᵀ (row distance ≤ δ before renormalisation).
    """
    P = rng.standard_normal(A.T.shape)
    P /= np.linalg.norm(P, axis=1, keepdims=True)
    W = A.T + delta * P
    return W / np.linalg.norm(W, axis=1, keepdims=True)


def _recovery(R: torch.Tensor, X: np.ndarray) -> float:
    return float(((R.numpy() > 0) == (X > 0)).all(0).mean())


@dataclasses.dataclass
class SparseCodingPoint:
    """One size n of the sparse-coding study: support recovery and the expected gradient at A* and nearby."""

    n: int
    h: int
    k: int
    samples: int
    eps: float
    support_recovery: float
    grad_norm_at_A: float
    loss_at_A: float
    delta: float = 0.0
    neighbours: int = 0
    #: max over the sampled neighbourhood points of the unbiased ‖E∇L‖_F, and the min support recovery there.
    grad_norm_neighbourhood: float = float("nan")
    support_recovery_neighbourhood: float = float("nan")
    #: the plain (noise-inflated) ‖mean gradient‖_F at A*, for comparison.
    grad_norm_at_A_naive: float = float("nan")


def sparse_coding_trend(
    ns=(128, 256, 512, 1024),
    *,
    p: float = 0.15,
    samples: int = 4000,
    seed: int = 0,
    delta: float = 0.05,
    neighbours: int = 3,
    chunks: int = 4,
) -> list[SparseCodingPoint]:
    """For each n (h = 2n, k = ⌈h^p⌉):

    support recovery and the unbiased ‖E∇L‖_F at W = A*ᵀ and at ``neighbours`` random points of its δ-neighbourhood.
    """
    out = []
    for n in ns:
        h = 2 * n
        k = support_size(h, p)
        A, X, Y = sparse_coding_data(n, h, k, samples, seed=seed)
        eps = EPS_SCALE * np.sqrt(k * np.log(h) / n)
        Yt = torch.as_tensor(Y)
        W = torch.as_tensor(A.T.copy())
        _, R, L = autoencoder_gradient(W, Yt, eps)
        g = expected_gradient_norm(W, Yt, eps, chunks)
        rng = np.random.default_rng([seed, n, 1])
        gn, rec = [], []
        for _ in range(neighbours):
            Wn = torch.as_tensor(neighbourhood_point(A, delta, rng))
            gn.append(expected_gradient_norm(Wn, Yt, eps, chunks).norm)
            rec.append(_recovery(torch.relu(Wn @ Yt - eps), X))
        out.append(
            SparseCodingPoint(
                n,
                h,
                k,
                samples,
                float(eps),
                _recovery(R, X),
                g.norm,
                float(L),
                delta,
                neighbours,
                max(gn) if gn else float("nan"),
                min(rec) if rec else float("nan"),
                g.naive,
            )
        )
    return out


def row_direction_distance(W: np.ndarray, A: np.ndarray) -> float:
    """Mean over rows of ‖W_i/|W_i| − A*_i‖ (rows and columns already matched: no permutation search)."""
    Wn = W / np.linalg.norm(W, axis=1, keepdims=True)
    return float(np.linalg.norm(Wn - A.T, axis=1).mean())


@dataclasses.dataclass
class DescentRun:
    """Gradient descent from A*ᵀ + δ-noise: direction distance to A*, mean row norm and loss every ``every`` steps."""

    n: int
    h: int
    k: int
    eps: float
    delta: float
    lr: float
    steps: int
    batch: int
    direction_distance: list[float]
    row_norm: list[float]
    loss: list[float]
    seed: int

    @property
    def distance_ratio(self) -> float:
        """Final / initial direction distance (≤ 1: GD did not move the rows' directions away from A*)."""
        return self.direction_distance[-1] / self.direction_distance[0]


def local_minimum_descent(
    n: int = 128,
    *,
    p: float = 0.15,
    delta: float = 0.1,
    lr: float = 0.1,
    steps: int = 200,
    batch: int = 1000,
    seed: int = 0,
    every: int = 10,
) -> DescentRun:
    """The paper's 'A* is a local minimum' experiment:

    start at A*ᵀ + δ·(random unit rows), run gradient descent on fresh mini-batches (an estimate of the expected
    gradient, no sample reuse), and track how far the rows' directions are from A*. Row norms are free: they grow to
    compensate the bias −ε.
    """
    h = 2 * n
    k = support_size(h, p)
    A, _, _ = sparse_coding_data(n, h, k, 1, seed=seed)
    eps = EPS_SCALE * np.sqrt(k * np.log(h) / n)
    rng = np.random.default_rng([seed, 2])
    P = rng.standard_normal((h, n))
    P /= np.linalg.norm(P, axis=1, keepdims=True)
    W = torch.as_tensor(A.T + delta * P)
    dist, norms, losses = [row_direction_distance(W.numpy(), A)], [float(W.norm(dim=1).mean())], []
    for t in range(steps):
        Y = torch.as_tensor(A @ _sparse_codes(h, k, batch, rng))
        G, _, L = autoencoder_gradient(W, Y, eps)
        W = W - lr * G
        if (t + 1) % every == 0 or t + 1 == steps:
            dist.append(row_direction_distance(W.numpy(), A))
            norms.append(float(W.norm(dim=1).mean()))
            losses.append(float(L))
    return DescentRun(n, h, k, float(eps), delta, lr, steps, batch, dist, norms, losses, seed)


def _sparse_codes(h: int, k: int, N: int, rng: np.random.Generator, a_min: float = 1.0, a_max: float = 2.0):
    """X* (h×N): k-sparse columns, uniform support, non-zeros i.i.d. U[a_min, a_max]."""
    X = np.zeros((h, N))
    supp = np.argsort(rng.random((N, h)), axis=1)[:, :k]
    X[supp.T, np.arange(N)[None, :]] = rng.uniform(a_min, a_max, size=(k, N))
    return X


def plot_sparse_coding(points: list[SparseCodingPoint]):
    """Support recovery and expected-gradient norms against n (two panels); returns the figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = [p.n for p in points]
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.4))
    ax[0].plot(ns, [p.support_recovery for p in points], "o-")
    ax[0].set_xscale("log", base=2)
    ax[0].set_xlabel("n")
    ax[0].set_ylabel("support recovered")
    ax[0].set_ylim(-0.02, 1.02)
    ax[1].loglog(ns, [p.grad_norm_at_A for p in points], "o-", label="at A*")
    ax[1].loglog(ns, [p.grad_norm_neighbourhood for p in points], "s--", label="δ-neighbourhood (max)")
    ax[1].set_xlabel("n")
    ax[1].set_ylabel("‖E ∇L‖_F")
    ax[1].legend(fontsize=8)
    fig.tight_layout()
    return fig
