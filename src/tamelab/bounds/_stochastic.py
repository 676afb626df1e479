r"""Stochastic networks of any ``nn.Module``.

Weights are sampled as flat vectors and evaluated with ``torch.func.functional_call`` (batched over
samples with ``torch.func.vmap``).

:class:`StochasticNet` fixes everything that is not sampled — buffers (BatchNorm running statistics)
and frozen parameters — to the values of one *reference* network (for a PAC-Bayes certificate: the
prior's, which is data-independent of the bound sample) and maps a flat vector :math:`\theta` of the
trainable parameters (``tamelab._params`` order) to :math:`x\mapsto f_\theta(x)`, in eval mode.

:func:`reinitialised` gives a data-independent network of the same architecture: every submodule's
``reset_parameters`` run under a seed; parameters or buffers no reset covers are refused by name.
"""

from __future__ import annotations

import copy
from typing import Callable, ContextManager

import torch
from torch import nn
from torch.func import functional_call, vmap

from .._numerics import BATCHED_FORWARD_ATOL, BATCHED_FORWARD_RTOL
from .._params import param_dict, unflatten
from ..errors import InputError, NotApplicableError

__all__ = ["StochasticNet", "reinitialised", "zero_one_errors", "classifier_kind", "fork_seeded"]

#: elements (not bytes) a batched Monte-Carlo evaluation may hold at once, by default (2^24 ≈ 17 M): on a CPU
#: smaller chunks stay closer to the caches (a BatchNorm CNN on digits: 1.3 s per 100 draws at 2^24, 2.5 s at
#: 2^26, 1.7 s at 2^22).
MC_CHUNK_ELEMENTS = 2**24


def fork_seeded(seed: int, device: torch.device) -> ContextManager[object]:
    """Context manager: torch's global RNG (CPU and ``device``) forked and seeded; restored on exit.

    For code that draws from the global generator (dropout, ``reset_parameters``) and must be reproducible
    without disturbing the caller's random state.

    Args:
        seed: the seed of the forked generators.
        device: a CUDA device forks its generator too; other devices use the CPU one.

    Returns:
        The context manager.
    """
    devs = [device] if device.type == "cuda" else []
    ctx = torch.random.fork_rng(devices=devs)

    class _C:
        def __enter__(self):
            ctx.__enter__()
            torch.manual_seed(seed)
            return self

        def __exit__(self, *a):
            return ctx.__exit__(*a)

    return _C()


def reinitialised(model: nn.Module, seed: int) -> nn.Module:
    """A copy of ``model`` with every parameter and buffer re-drawn by its module's own initialiser.

    Raises :class:`InputError` naming the first parameter/buffer that no ``reset_parameters`` (or
    ``_reset_parameters``/``reset_running_stats``) covers: its value would come from MODEL, which is
    not data-independent.
    """
    m = copy.deepcopy(model)
    dev = next((p.device for p in m.parameters()), torch.device("cpu"))
    covered: set[int] = set()
    with fork_seeded(seed, dev):
        for mod in m.modules():
            fn = getattr(mod, "reset_parameters", None) or getattr(mod, "_reset_parameters", None)
            if callable(fn):
                fn()
                covered.update(id(t) for t in mod.parameters(recurse=False))
                covered.update(id(t) for t in mod.buffers(recurse=False))
            elif callable(getattr(mod, "reset_running_stats", None)):
                mod.reset_running_stats()
                covered.update(id(t) for t in mod.buffers(recurse=False))
    for name, t in list(m.named_parameters()) + list(m.named_buffers()):
        if id(t) not in covered:
            raise InputError(
                "init_model",
                f"cannot re-initialise {name!r} data-independently (its module has no reset_parameters)",
                "pass init_model= (the network at initialisation) or init_seed with "
                "a model whose modules all have reset_parameters",
            )
    return m


def classifier_kind(out: torch.Tensor, y: torch.Tensor, *, field: str = "model output") -> str:
    """Classify a model output as ``"multiclass"``, ``"binary"`` or ``"binary_column"``, checking the labels.

    ``"multiclass"``: N×C logits, C ≥ 2; ``"binary"``: N scores; ``"binary_column"``: N×1 scores. A binary
    score predicts class 1 when > 0.

    Args:
        out: the model output on a batch.
        y: the integer class labels of that batch.
        field: the name used in error messages for the model output.

    Returns:
        The kind, one of the three strings above.

    Raises:
        NotApplicableError: real-valued targets, or an output shape that is not a classifier's.
        InputError: a label outside the classes the output can represent.
    """
    if y.is_floating_point():
        raise NotApplicableError(
            "data",
            "the certificate bounds the 0-1 error of a classifier; targets are real-valued",
            "pass integer class labels",
        )
    if out.ndim == 2 and out.shape[1] >= 2:
        if int(y.max()) >= out.shape[1]:
            raise InputError("data", f"label {int(y.max())} but the model has {out.shape[1]} outputs")
        return "multiclass"
    if out.ndim == 1 or (out.ndim == 2 and out.shape[1] == 1):
        if int(y.max()) > 1:
            raise InputError("data", f"a single-output model needs labels 0/1, got {int(y.max())}")
        return "binary" if out.ndim == 1 else "binary_column"
    raise NotApplicableError(
        field,
        f"output shape {tuple(out.shape)} is not N×C class scores",
        "the 0-1 error needs one score per class (or one binary score) per sample",
    )


def zero_one_errors(out: torch.Tensor, y: torch.Tensor, kind: str) -> torch.Tensor:
    """Per-sample 0/1 mistakes; ``out`` is ``(..., N, C)``, ``(..., N)`` or ``(..., N, 1)`` by ``kind``."""
    if kind == "multiclass":
        return out.argmax(-1) != y
    s = out.squeeze(-1) if kind == "binary_column" else out
    return (s > 0).long() != y


class StochasticNet:
    """``f(θ, x)`` for flat trainable-parameter vectors ``θ`` of ``reference`` (eval mode, constants fixed).

    Args:
        reference: the network whose architecture, buffers and frozen parameters define the predictor.
    """

    def __init__(self, reference: nn.Module) -> None:
        self.module = reference.eval()
        params = param_dict(reference, detach=True, trainable_only=True)
        if not params:
            raise InputError("model", "has no trainable parameters", "the posterior is over trainable parameters")
        self.names = list(params)
        self.shapes = {k: v.shape for k, v in params.items()}
        frozen = {k: v.detach() for k, v in reference.named_parameters() if k not in params}
        self.consts = {**frozen, **{k: v.detach() for k, v in reference.named_buffers()}}
        self.p = sum(s.numel() for s in self.shapes.values())
        self.vectorised: bool | None = None

    def __call__(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.module, ({**unflatten(theta, self.shapes)}, self.consts), (x,))

    def activation_elements(self, x1: torch.Tensor) -> int:
        """Elements of all leaf-module outputs for one input sample (memory estimate of a forward)."""
        tot = [0]

        def hook(_m, _i, o):
            if isinstance(o, torch.Tensor):
                tot[0] += o.numel()

        hs = [m.register_forward_hook(hook) for m in self.module.modules() if not list(m.children())]
        try:
            with torch.no_grad():
                self.module(x1[:1])
        finally:
            for h in hs:
                h.remove()
        return max(tot[0], 1)

    def _batched(self) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        return vmap(lambda th, x: self(th, x), in_dims=(0, None))

    def errors(
        self,
        mu: torch.Tensor,
        sigma: torch.Tensor,
        k: int,
        x: torch.Tensor,
        y: torch.Tensor,
        kind: str,
        gen: torch.Generator,
        *,
        max_elements: int = MC_CHUNK_ELEMENTS,
    ) -> torch.Tensor:
        """0-1 error rates on ``(x, y)`` of ``k`` draws ``θ = μ + σ⊙ε`` (ε from ``gen``), shape ``(k,)``.

        Sample ``i`` is the ``i``-th ``randn(p)`` draw of ``gen``, so the result does not depend on the chunking.
        """
        n = int(x.shape[0])
        act = self.activation_elements(x)
        per_theta = self.p + min(n, 4096) * act
        chunk = max(1, min(k, max_elements // max(per_theta, 1)))
        xb = max(1, min(n, max_elements // max(act * chunk, 1)))
        if self.vectorised is None:
            self.vectorised = self._try_vmap(mu, x)
        out = torch.empty(k, dtype=torch.float64, device=mu.device)
        with torch.no_grad():
            for lo in range(0, k, chunk):
                kk = min(chunk, k - lo)
                eps = torch.stack(
                    [torch.randn(self.p, generator=gen, device=mu.device, dtype=mu.dtype) for _ in range(kk)]
                )  # one draw per sample: independent of the chunk size
                th = mu + sigma * eps
                wrong = torch.zeros(kk, dtype=torch.float64, device=mu.device)
                for i in range(0, n, xb):
                    xi, yi = x[i : i + xb], y[i : i + xb]
                    if self.vectorised:
                        o = self._batched()(th, xi)
                    else:
                        o = torch.stack([self(t, xi) for t in th])
                    wrong += zero_one_errors(o, yi, kind).double().sum(-1)
                out[lo : lo + kk] = wrong / n
        return out

    def _try_vmap(self, mu: torch.Tensor, x: torch.Tensor) -> bool:
        try:
            with torch.no_grad():
                a = self._batched()(torch.stack([mu, mu]), x[:2])
                b = self(mu, x[:2])
            return bool(torch.allclose(a[0], b, rtol=BATCHED_FORWARD_RTOL, atol=BATCHED_FORWARD_ATOL))
        except (RuntimeError, NotImplementedError, ValueError):  # an op without a batching rule: loop instead
            return False
