r"""Permutation alignment of ReLU MLPs (Git Re-Basin; Ainsworth, Hayase & Srinivasa, arXiv:2209.04836).

Weight matching maximises :math:`\sum\langle\theta^A,\pi(\theta^B)\rangle` by coordinate descent over the
hidden-layer permutations :math:`P_l`: for layer :math:`l`,
:math:`S_l=W^A_l(W^B_lP_{l-1}^\top)^\top+b^A_lb^{B\top}_l+W^{A\top}_{l+1}P_{l+1}W^B_{l+1}` and
:math:`P_l=\arg\max_P\langle S_l,P\rangle` (linear assignment), sweeping layers in random order until
no sweep improves the objective by more than 1e-12. Activation matching: :math:`P_l` from the
cross-correlation of post-ReLU activations on data. The permuted network computes the same function.
"""

from __future__ import annotations

import copy
import dataclasses
import time

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import nn

from .._numerics import one_thread
from .._rng import np_rng, resolve_seed
from ..errors import InputError
from ..models import relu_layers
from ..result import Result, Status

__all__ = ["weight_matching", "activation_matching", "permute_mlp", "AlignResult"]


@dataclasses.dataclass
class AlignResult(Result):
    kind = "alignment"

    permutations: list[list[int]] = dataclasses.field(default_factory=list)
    sweeps: int = 0
    objective_before: float = 0.0
    objective_after: float = 0.0
    max_function_change: float = 0.0
    model: nn.Module | None = dataclasses.field(default=None, repr=False)


def _check_pair(a, b):
    la, lb = relu_layers(a), relu_layers(b)
    if [W.shape for W, _ in la] != [W.shape for W, _ in lb]:
        raise InputError("models", f"architectures differ: {[W.shape for W, _ in la]} vs {[W.shape for W, _ in lb]}",
                         "alignment needs two MLPs with the same widths")
    return la, lb


def permute_mlp(model: nn.Module, perms: list[np.ndarray]) -> nn.Sequential:
    """Apply hidden-unit permutations (one per hidden layer) to a ReLU MLP; the function is unchanged."""
    m = copy.deepcopy(model)
    lins = [x for x in m if isinstance(x, nn.Linear)]
    if len(perms) != len(lins) - 1:
        raise InputError("perms", f"need {len(lins) - 1} permutations, got {len(perms)}")
    with torch.no_grad():
        for l, p in enumerate(perms):
            p = torch.as_tensor(np.asarray(p), dtype=torch.long)
            lins[l].weight.copy_(lins[l].weight[p])
            if lins[l].bias is not None:
                lins[l].bias.copy_(lins[l].bias[p])
            lins[l + 1].weight.copy_(lins[l + 1].weight[:, p])
    return m


def _objective(la, lb, perms):
    tot = 0.0
    prev = None
    for l, (W, b) in enumerate(lb):
        Wp, bp = W, b
        if l < len(perms):
            Wp, bp = Wp[perms[l]], bp[perms[l]]
        if prev is not None:
            Wp = Wp[:, prev]
        prev = perms[l] if l < len(perms) else None
        tot += float((la[l][0] * Wp).sum() + (la[l][1] * bp).sum())
    return tot


def _coordinate_descent(la, lb, perms, rng, max_sweeps):
    L = len(perms)
    sweeps = 0
    for sweeps in range(1, max_sweeps + 1):
        progress = False
        for l in rng.permutation(L):
            WA, bA = la[l]
            WB, bB = lb[l]
            WBin = WB[:, perms[l - 1]] if l > 0 else WB
            S = WA @ WBin.T + np.outer(bA, bB)
            WA2, WB2 = la[l + 1][0], lb[l + 1][0]
            WB2p = WB2[perms[l + 1]] if l + 1 < L else WB2
            S += WA2.T @ WB2p
            old = S[np.arange(len(perms[l])), perms[l]].sum()
            _, col = linear_sum_assignment(S, maximize=True)
            new = S[np.arange(len(col)), col].sum()
            if new > old + 1e-12:
                perms[l] = col
                progress = True
        if not progress:
            break
    return perms, sweeps


def weight_matching(model_a: nn.Module, model_b: nn.Module, *, max_sweeps: int = 100, seed=0, X=None,
                    restarts: int = 1) -> AlignResult:
    r"""Permute ``model_b``'s hidden units to match ``model_a`` (weight matching).

    Coordinate descent is a local method; ``restarts > 1`` adds runs from uniformly random initial
    permutations (seeded) and keeps the one with the largest objective :math:`\sum_l\langle W^A_l,
    P_lW^B_lP_{l-1}^\top\rangle` (the first run always starts from the identity, so more restarts never
    give a worse objective)."""
    t0 = time.perf_counter()
    if restarts < 1:
        raise InputError("restarts", f"must be >= 1, got {restarts}")
    la, lb = _check_pair(model_a, model_b)
    L = len(la) - 1
    s = resolve_seed(seed)
    rng = np_rng(s)
    ident = [np.arange(la[l][0].shape[0]) for l in range(L)]
    before = _objective(la, lb, ident)
    best = None
    with one_thread():  # small dense products and assignments: BLAS threads only add contention
        for r in range(restarts):
            init = [p.copy() for p in ident] if r == 0 else [rng.permutation(len(p)) for p in ident]
            perms_r, sweeps_r = _coordinate_descent(la, lb, init, rng, max_sweeps)
            obj = _objective(la, lb, perms_r)
            if best is None or obj > best[0] + 1e-12:
                best = (obj, perms_r, sweeps_r)
    _, perms, sweeps = best
    aligned = permute_mlp(model_b, perms)
    change = 0.0
    if X is not None:
        with torch.no_grad():
            change = float((aligned(X) - model_b(X)).abs().max())
    return AlignResult(status=Status.OK, seed=s, seconds=time.perf_counter() - t0, permutations=[p.tolist() for p in perms],
                       sweeps=sweeps, objective_before=before, objective_after=_objective(la, lb, perms),
                       max_function_change=change, model=aligned)


def activation_matching(model_a: nn.Module, model_b: nn.Module, X: torch.Tensor) -> AlignResult:
    """Per-layer linear assignment on the correlation of post-ReLU activations."""
    t0 = time.perf_counter()
    _check_pair(model_a, model_b)

    def acts(m):
        out, h = [], X
        mods = list(m)
        with torch.no_grad():
            for i, mod in enumerate(mods):
                h = mod(h)
                if isinstance(mod, nn.ReLU):
                    out.append(h.double().numpy())
        return out

    za, zb = acts(model_a), acts(model_b)
    perms = []
    for a, b in zip(za, zb):
        S = a.T @ b / a.shape[0]
        r, c = linear_sum_assignment(S, maximize=True)
        p = np.empty_like(c)
        p[r] = c
        perms.append(p)
    aligned = permute_mlp(model_b, perms)
    with torch.no_grad():
        change = float((aligned(X) - model_b(X)).abs().max())
    return AlignResult(status=Status.OK, seconds=time.perf_counter() - t0, permutations=[p.tolist() for p in perms],
                       sweeps=1, max_function_change=change, model=aligned)
