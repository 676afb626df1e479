r"""Piecewise-linear networks as a straight-line program of affine maps, ReLUs and maxima.

A :class:`PWLNet` is the form every exact-geometry routine works on. Node 0 is the (flattened)
input :math:`x\in\mathbb R^{d}`; every later node is a vector computed from earlier nodes by one of

* :class:`Affine`: :math:`y=\sum_k A_k\,y_{s_k}+b` (several sources express residual additions);
* :class:`ReLU`: :math:`y=\max(y_s,\ \alpha y_s)` elementwise (``slope`` :math:`\alpha`, 0 for ReLU,
  :math:`0<\alpha<1` for LeakyReLU);
* :class:`Max`: :math:`y_i=\max_{j\in G_i}(y_s)_j` (max pooling; ``groups`` is an ``out × k`` index
  array into the source).

On any set where every ReLU sign and every arg-max is fixed, each node is an affine function of
:math:`x`; that is what the region algorithms propagate. A plain Linear/ReLU MLP is
``[Affine(0), ReLU, Affine, ReLU, …, Affine]`` (:func:`from_layers`). Torch models are lowered to this
form by :func:`tamelab.models.lower` (torch.fx), which refuses anything that is not piecewise linear
by name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

__all__ = ["Affine", "Max", "PWLNet", "ReLU", "from_layers"]


@dataclasses.dataclass
class Affine:
    """``y = Σ_k A[k] @ node[sources[k]] + b``."""

    sources: list[int]
    A: list[np.ndarray]
    b: np.ndarray

    @property
    def width(self) -> int:
        return int(self.b.shape[0])


@dataclasses.dataclass
class ReLU:
    """``y = max(node[source], slope * node[source])`` elementwise."""

    source: int
    slope: float = 0.0


@dataclasses.dataclass
class Max:
    """``y[i] = max_j node[source][groups[i, j]]``."""

    source: int
    groups: np.ndarray


Node = Affine | ReLU | Max


@dataclasses.dataclass
class PWLNet:
    """A piecewise-linear network: ``nodes[0]`` is the input placeholder (``None``), ``output`` a node index.

    Attributes:
        in_shape: the model's input shape without the batch dimension (the input is flattened
            row-major to ``in_dim`` coordinates).
        nodes: ``[None, node1, node2, ...]`` in topological order.
        widths: the width of every node (``widths[0] == in_dim``).
        output: index of the output node.
        names: optional name of every node (the torch layer it came from), for messages.
        out_shape: the model's output shape without the batch dimension (default ``(out_dim,)``).
    """

    in_shape: tuple[int, ...]
    nodes: list[Node | None]
    widths: list[int]
    output: int
    names: list[str] | None = None
    out_shape: tuple[int, ...] | None = None

    @property
    def in_dim(self) -> int:
        return int(self.widths[0])

    @property
    def out_dim(self) -> int:
        return int(self.widths[self.output])

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Evaluate on rows of ``X`` (``N × in_dim``) in float64 — the reference the lowering is tested with."""
        return self.values(X)[self.output]

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return self.forward(np.atleast_2d(np.asarray(X, dtype=np.float64)))

    def values(self, X: np.ndarray) -> list[np.ndarray]:
        """Every node's value on rows of ``X`` (float64), ``values[0]`` the flattened input."""
        vals: list[np.ndarray] = [np.asarray(X, dtype=np.float64).reshape(len(X), -1)]
        for node in self.nodes[1:]:
            if isinstance(node, Affine):
                y = np.broadcast_to(node.b, (len(X), node.width)).copy()
                for s, A in zip(node.sources, node.A):
                    y += vals[s] @ A.T
            elif isinstance(node, ReLU):
                z = vals[node.source]
                y = np.maximum(z, node.slope * z)
            else:
                y = vals[node.source][:, node.groups].max(axis=2)
            vals.append(y)
        return vals

    def patterns(self, X: np.ndarray) -> np.ndarray:
        """Activation patterns of the rows of ``X``:

        for every ReLU unit ``[z > 0]`` and for every Max group the position of its (first) maximum, in node order
        (``N × n_neurons``, int16).
        """
        vals = self.values(X)
        cols = []
        for node in self.nodes[1:]:
            if isinstance(node, ReLU):
                cols.append(vals[node.source] > 0)
            elif isinstance(node, Max):
                cols.append(vals[node.source][:, node.groups].argmax(axis=2))
        if not cols:
            return np.zeros((len(vals[0]), 0), dtype=np.int16)
        return np.hstack(cols).astype(np.int16)

    def is_mlp(self) -> bool:
        """``[Affine(0), ReLU, Affine, ReLU, ..., Affine]`` with single sources and slope 0."""
        for i, n in enumerate(self.nodes[1:], start=1):
            want = Affine if i % 2 == 1 else ReLU
            if not isinstance(n, want):
                return False
            if isinstance(n, Affine) and n.sources != [i - 1]:
                return False
            if isinstance(n, ReLU) and (n.source != i - 1 or n.slope != 0.0):
                return False
        return self.output == len(self.nodes) - 1 and isinstance(self.nodes[-1], Affine)

    def mlp_layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """``[(W, b), ...]`` of a program that :meth:`is_mlp`."""
        return [(n.A[0], n.b) for n in self.nodes[1:] if isinstance(n, Affine)]

    def relu_nodes(self) -> list[int]:
        """Indices of the ReLU nodes (the neurons whose signs define activation patterns)."""
        return [i for i, n in enumerate(self.nodes) if isinstance(n, ReLU)]

    @property
    def n_neurons(self) -> int:
        """Number of scalar nonlinearities (ReLU units plus max groups)."""
        return sum(self.widths[i] for i, n in enumerate(self.nodes) if isinstance(n, (ReLU, Max)))


def from_layers(layers: Sequence[tuple[np.ndarray, np.ndarray]], *, slope: float = 0.0) -> PWLNet:
    """The MLP ``W_L relu(… relu(W_1 x + b_1) …) + b_L`` from its ``(W, b)`` pairs."""
    d = int(np.asarray(layers[0][0]).shape[1])
    nodes: list[Node | None] = [None]
    widths = [d]
    for i, (W, b) in enumerate(layers):
        W = np.asarray(W, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        nodes.append(Affine([len(nodes) - 1], [W], b))
        widths.append(int(W.shape[0]))
        if i < len(layers) - 1:
            nodes.append(ReLU(len(nodes) - 1, slope))
            widths.append(int(W.shape[0]))
    return PWLNet((d,), nodes, widths, len(nodes) - 1)
