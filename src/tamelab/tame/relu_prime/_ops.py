r"""ReLU with a chosen ReLU'(0), kink counting hooks and float16-emulated networks (Bertoin et al. 2021).

* :class:`ReLUPrime` / :func:`relu_prime`: ReLU whose backward uses ``s`` at exactly 0
  (a custom ``autograd.Function``, works under ``torch.func.grad``/``vmap``);
* :class:`KinkCounter`: forward hooks counting exact-zero inputs of every ReLU per step;
* :func:`relu_prime_mlp`: ReLU MLPs in float16 (emulated GPU-style), bfloat16, float32 or float64.

# NOTE [float16 on CPU]: float16 is *emulated* GPU-style (CPU float16 kernels are ~20x slower than float32):
# parameters, activations and gradients live on the float16 grid (float32 tensors rounded to float16 after
# every op); each matmul accumulates in float32 and is rounded to float16, then the bias is added and the
# sum rounded to float16 (spec §4.4 protocol B).

References:
    Bertoin, Bolte, Gerchinovitz & Pauwels, NeurIPS 2021, arXiv:2106.12915.
"""

from __future__ import annotations

import copy
from typing import Any, Sequence

import torch
from torch import nn

from ...errors import InputError

__all__ = ["relu_prime", "ReLUPrime", "KinkCounter", "relu_prime_mlp", "DTYPES", "check_s"]

#: precisions understood by the study (float16 is emulated, see the module NOTE)
DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32, "float64": torch.float64}


class _ReLUPrimeFn(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(z, s):
        return torch.relu(z)

    @staticmethod
    def setup_context(ctx, inputs, output):
        z, s = inputs
        ctx.save_for_backward(z)
        ctx.s = float(s)

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        d = (z > 0).to(g.dtype)
        if ctx.s != 0.0:
            d = d + ctx.s * (z == 0).to(g.dtype)
        return g * d, None


def check_s(s) -> float:
    if isinstance(s, bool) or not isinstance(s, (int, float)) or not 0.0 <= float(s) <= 1.0:
        raise InputError("s", f"ReLU'(0) must be a number in [0, 1], got {s!r}", "use 0, 1 or any value in between")
    return float(s)


def relu_prime(z: torch.Tensor, s: float = 0.0) -> torch.Tensor:
    """``relu(z)`` whose backward pass uses derivative ``s`` at exactly ``z == 0`` (0 below, 1 above).

    Example:
        >>> z = torch.zeros(1, requires_grad=True)
        >>> relu_prime(z, 0.5).sum().backward(); float(z.grad)
        0.5
    """
    return _ReLUPrimeFn.apply(z, check_s(s))


class ReLUPrime(nn.Module):
    """``nn.ReLU`` with ReLU'(0) = ``s`` ∈ [0, 1].

    Declares ``tame_op = "relu"`` for :func:`tamelab.tame.certify.certify`.
    """

    tame_op = "relu"

    def __init__(self, s: float = 0.0) -> None:
        super().__init__()
        self.s = check_s(s)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return _ReLUPrimeFn.apply(z, self.s)

    def extra_repr(self) -> str:
        return f"s={self.s}"


class KinkCounter:
    """Count exact-zero inputs of every ReLU (``nn.ReLU`` or :class:`ReLUPrime`) in ``model`` via forward hooks.

    Use as a context manager; ``counts`` maps layer name → total exact zeros seen, ``per_step`` is a list of
    ``{layer: count}`` (one entry per :meth:`step`), ``total`` the grand total, ``seen`` the number of
    pre-activations inspected.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.counts: dict[str, int] = {}
        self.seen = 0
        self.per_step: list[dict[str, int]] = []
        self._cur: dict[str, int] = {}
        self._handles: list[Any] = []

    def _hook(self, name):
        def h(mod, inputs, output):
            z = inputs[0]
            c = int((z == 0).sum())
            self.seen += z.numel()
            self.counts[name] = self.counts.get(name, 0) + c
            self._cur[name] = self._cur.get(name, 0) + c

        return h

    def __enter__(self) -> "KinkCounter":
        for name, mod in self.model.named_modules():
            if isinstance(mod, (nn.ReLU, ReLUPrime)):
                self.counts.setdefault(name, 0)
                self._handles.append(mod.register_forward_hook(self._hook(name)))
        return self

    def step(self) -> dict[str, int]:
        """Close the current step's tally and return it."""
        cur, self._cur = self._cur, {}
        self.per_step.append(cur)
        return cur

    @property
    def total(self) -> int:
        return int(sum(self.counts.values()))

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []


# ------------------------------------------------------------------------------------------ networks
class _Round16(torch.autograd.Function):
    """Round float32 values to the float16 grid (forward and backward): float16 storage emulated in float32."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x):
        return x.to(torch.float16).to(torch.float32)

    @staticmethod
    def setup_context(ctx, inputs, output):
        pass

    @staticmethod
    def backward(ctx, g):
        return g.to(torch.float16).to(torch.float32)


def _r16(x: torch.Tensor) -> torch.Tensor:
    return _Round16.apply(x)


class _EmulatedLinear(nn.Module):
    """float16 Linear, GPU-style:

    fp16 values (stored on the fp16 grid in float32 tensors, because CPU fp16 kernels are very slow), matmul accumulated
    in float32 and rounded to fp16, then the fp16 bias add rounded to fp16. Gradients are rounded to fp16 on the way
    back.
    """

    fp16_emulated = True

    def __init__(self, lin: nn.Linear) -> None:
        super().__init__()
        self.weight = nn.Parameter(lin.weight.detach().to(torch.float16).to(torch.float32).clone())
        self.bias = nn.Parameter(lin.bias.detach().to(torch.float16).to(torch.float32).clone())

    def forward(self, x):
        return _r16(_r16(_r16(x) @ self.weight.T) + self.bias)


def relu_prime_mlp(
    widths: Sequence[int], s: float, *, seed: int = 0, dtype: str = "float32", init: nn.Sequential | None = None
) -> nn.Sequential:
    """ReLU MLP (``Linear, ReLUPrime(s), ..., Linear``) with PyTorch's default init under ``seed``.

    The init is drawn in float64 and rounded to ``dtype``, so every precision and every ``s`` start from the same
    network (bitwise within one precision). Pass ``init`` to copy an existing float64 network instead.
    """
    from ...models import mlp

    if dtype not in DTYPES:
        raise InputError("dtypes", f"unknown dtype {dtype!r}", f"use {', '.join(DTYPES)}")
    base = init if init is not None else mlp(widths, seed=seed, dtype=torch.float64)
    layers: list[nn.Module] = []
    for mod in base:
        if isinstance(mod, nn.Linear):
            if dtype == "float16":
                layers.append(_EmulatedLinear(mod))
            else:
                layers.append(copy.deepcopy(mod).to(DTYPES[dtype]))
        else:
            layers.append(ReLUPrime(s))
    return nn.Sequential(*layers)
