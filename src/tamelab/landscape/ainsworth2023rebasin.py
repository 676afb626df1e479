r"""Permutation alignment of any network with a permutation spec (Git Re-Basin weight matching).

Permutation alignment of any network with a permutation spec (Git Re-Basin; Ainsworth, Hayase &
Srinivasa, arXiv:2209.04836, §3.2 "weight matching", Algorithm 1).

Weight matching maximises :math:`J(\pi)=\sum_w\langle\theta^A_w,\pi(\theta^B)_w\rangle` over the
permutations :math:`\pi=(P_1,\dots,P_K)` of a :class:`~tamelab.landscape.PermutationSpec` (MLP layers,
conv channels, BatchNorm, residual streams, LayerNorm features — derived from a ``torch.fx`` trace by
:func:`~tamelab.landscape.derive_spec` or given explicitly). Coordinate descent: for one permutation
:math:`P_k` with all others fixed,

.. math:: S_k=\sum_{(w,a)\,:\,P_k\text{ on axis }a\text{ of }w}\;
          \operatorname{mat}_a(\theta^A_w)\,\operatorname{mat}_a\bigl(\pi_{\setminus(w,a)}(\theta^B)_w\bigr)^{\!\top},
          \qquad P_k\leftarrow\arg\max_P\langle S_k,P\rangle

(an exact linear assignment, SciPy's Jonker–Volgenant), sweeping the permutations in a seeded random
order until a sweep changes nothing. A change is accepted only if it increases :math:`J` itself (for a
tensor carrying :math:`P_k` on two axes, e.g. a stream-to-stream weight, :math:`J` is quadratic in
:math:`P_k` and :math:`S_k` only its linearisation).

Certificates (``AlignResult.optimality``):

* ``"coordinate-wise"``: the last sweep proved every permutation optimal *given the others* by an
  exact assignment — a block-coordinate local optimum, not a global one (the joint problem is NP-hard);
* ``"global (exhaustive)"`` (``exhaustive=True``, tiny networks): every combination of all but one
  permutation enumerated, the last solved exactly;
* the aligned model computes the same function as B: ``max_function_change`` on data is part of the
  result and a change above tolerance makes the status ``uncertified`` (a wrong spec).

Activation matching (MLPs): :math:`P_l` from the cross-correlation of post-ReLU activations on data.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
import time
from typing import Any, Mapping

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import nn

from .._numerics import one_thread
from .._rng import np_rng, resolve_seed
from ..errors import InputError
from ..models import relu_layers
from ..result import Result, Status
from ._permutation_spec import (
    PermutationSpec,
    _index_axis,
    _state,
    apply_permutations,
    derive_spec,
    eval_output,
    identity_permutations,
    mlp_spec,
    permute,
)

__all__ = [
    "weight_matching",
    "activation_matching",
    "permute_mlp",
    "AlignResult",
    "resolve_spec",
    "matching_objective",
    "ALIGN_FUNCTION_RTOL",
]

#: relative output change (vs 1 + max|f_B|) above which an alignment is not certified, by dtype.
ALIGN_FUNCTION_RTOL = {torch.float64: 1e-10, torch.float32: 1e-5}
#: relative improvement of the matching objective that counts as progress (vs |J| + 1).
MATCH_RTOL = 1e-12


@dataclasses.dataclass
class AlignResult(Result):
    r"""A permutation of model B's hidden units that aligns it with model A.

    Attributes:
        permutations: permutation name → index list (new unit ``i`` of B = old unit ``perm[i]``).
        spec: the permutation spec used (see :class:`~tamelab.landscape.PermutationSpec`).
        objective_before, objective_after: :math:`\sum_w\langle\theta^A_w,\pi(\theta^B)_w\rangle` at
            the identity and at the result.
        optimality: what is certified about the optimum (see the module docstring).
        converged: the last coordinate-descent sweep changed nothing.
        max_function_change: ``max|f_{π(B)}(x) − f_B(x)|`` on the data given (0 without data).
        model: the aligned copy of B.
    """

    kind = "alignment"

    permutations: dict[str, list[int]] = dataclasses.field(default_factory=dict)
    spec: dict = dataclasses.field(default_factory=dict)
    sweeps: int = 0
    objective_before: float = 0.0
    objective_after: float = 0.0
    optimality: str = ""
    converged: bool = True
    max_function_change: float = 0.0
    model: nn.Module | None = dataclasses.field(default=None, repr=False)


# ------------------------------------------------------------------------------------------------
# spec resolution
# ------------------------------------------------------------------------------------------------
def _example_input(model: nn.Module, data: Any, example_input: Any, dtype, device) -> Any:
    if example_input is not None:
        return example_input
    if data is not None:
        from ..inputs import as_data

        return as_data(data).first_batch(device, dtype)[0][:8]
    first = next(
        (m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Embedding))), None
    )
    if isinstance(first, nn.Linear):
        return torch.randn(2, first.in_features, dtype=dtype, device=device)
    if isinstance(first, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        nd = len(first.kernel_size)
        return torch.randn(2, first.in_channels, *([16] * nd), dtype=dtype, device=device)
    raise InputError("example_input", "cannot guess the model's input shape", "pass example_input= or data=")


def _is_plain_mlp(model: nn.Module) -> bool:
    from ._permutation_spec import _ELEMENTWISE_MODULES

    if type(model) is not nn.Sequential:
        return False
    mods = list(model)
    return (
        bool(mods)
        and isinstance(mods[-1], nn.Linear)
        and all(
            type(m) is nn.Linear
            or (isinstance(m, _ELEMENTWISE_MODULES) and not isinstance(m, (nn.Softmax, nn.LogSoftmax)))
            for m in mods
        )
    )


def resolve_spec(
    model: nn.Module,
    spec: PermutationSpec | Mapping | None = None,
    *,
    data: Any = None,
    example_input: Any = None,
    check: bool = True,
) -> PermutationSpec:
    """The permutation spec to use for ``model``: given, derived from a plain ``Sequential``, or traced.

    ``spec`` as given (checked against the model), the MLP spec of a plain ``Sequential`` of Linear and
    elementwise layers, or :func:`derive_spec` on a traced example input (certified on it unless
    ``check=False``).
    """
    st = _state(model)
    if spec is not None:
        sp = PermutationSpec.from_dict(spec)
        sp.validate(st)
        return sp
    if _is_plain_mlp(model):
        return mlp_spec(model)
    p = next((t for t in model.parameters() if t.is_floating_point()), None)
    dt, dev = (p.dtype, p.device) if p is not None else (torch.float32, torch.device("cpu"))
    return derive_spec(model, _example_input(model, data, example_input, dt, dev), check=check)


def matching_objective(
    model_a: nn.Module,
    model_b: nn.Module,
    spec: PermutationSpec,
    perms: Mapping[str, Any] | None = None,
    *,
    include_buffers: bool = False,
) -> float:
    r""":math:`\sum_w\langle\theta^A_w,\pi(\theta^B)_w\rangle` over the parameters (and buffers)."""
    A, B = _state(model_a), _state(model_b)
    names = _objective_names(model_a, include_buffers)
    Bp = apply_permutations(B, spec, perms if perms is not None else identity_permutations(spec))
    return float(sum((A[k].double() * Bp[k].double()).sum() for k in names))


def _objective_names(model: nn.Module, include_buffers: bool) -> list[str]:
    names = [k for k, v in model.named_parameters() if v.is_floating_point()]
    if include_buffers:
        names += [k for k, v in model.named_buffers() if v.is_floating_point()]
    return names


# ------------------------------------------------------------------------------------------------
# coordinate descent on a spec
# ------------------------------------------------------------------------------------------------
class _Matcher:
    def __init__(self, A: dict, B: dict, spec: PermutationSpec, names: list[str]) -> None:
        self.spec = spec
        self.names = set(names)
        self.A = {k: A[k] for k in names}
        self.B = {k: B[k] for k in names}
        self.p2a = {p: [t for t in lst if t[0] in self.names] for p, lst in spec.perm_to_axes().items()}
        self.self_coupled = {p for p, lst in self.p2a.items() if len({t[0] for t in lst}) < len(lst)}
        self.Amat = {(w, a): self._mat(self.A[w], a, spec.perms[p]) for p, lst in self.p2a.items() for w, a, _ in lst}
        # |J| <= ‖θ_A‖‖θ_B‖ (Cauchy–Schwarz): the scale of the progress test
        self.scale = 1.0 + math.sqrt(
            sum(float(t.norm()) ** 2 for t in self.A.values()) * sum(float(t.norm()) ** 2 for t in self.B.values())
        )

    @staticmethod
    def _mat(t: torch.Tensor, axis: int, n: int) -> torch.Tensor:
        return t.movedim(axis, 0).reshape(n, -1)

    def permuted(self, perms: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
        sub = PermutationSpec(self.spec.perms, {k: v for k, v in self.spec.axes.items() if k in self.names})
        return apply_permutations(self.B, sub, perms)

    def objective_of(self, Bp: Mapping[str, torch.Tensor]) -> float:
        return float(sum((self.A[k] * Bp[k]).sum() for k in self.A))

    def cost(self, p: str, perms: Mapping[str, np.ndarray], Bp: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``S[i, j] = Σ ⟨A's unit i, B's original unit j⟩`` with every other permutation applied.

        Undoing ``P_k`` on its axes is a column reordering of the product with the fully permuted B.
        """
        n = self.spec.perms[p]
        S = None
        for w, a, _inner in self.p2a[p]:
            c = self.Amat[(w, a)] @ self._mat(Bp[w], a, n).T
            S = c if S is None else S + c
        inv = torch.as_tensor(np.argsort(perms[p]), dtype=torch.long, device=S.device)
        return S[:, inv]

    def touched_objective(self, p: str, Bp: Mapping[str, torch.Tensor]) -> float:
        return float(sum((self.A[w] * Bp[w]).sum() for w in {t[0] for t in self.p2a[p]}))

    def reapply(self, p: str, old: np.ndarray, new: np.ndarray, Bp: dict) -> dict:
        """``Bp`` with ``P_k`` changed from ``old`` to ``new`` on its axes:

        new unit ``i`` is original unit ``new[i]``, which sits at position ``old⁻¹[new[i]]`` of ``Bp``.
        """
        out = dict(Bp)
        idx = torch.as_tensor(np.argsort(old)[new], dtype=torch.long, device=next(iter(Bp.values())).device)
        for w, a, inner in self.p2a[p]:
            out[w] = _index_axis(out[w], a, idx, inner)
        return out

    def descend(
        self, perms: dict[str, np.ndarray], rng: np.random.Generator, max_sweeps: int
    ) -> tuple[dict[str, np.ndarray], int, bool, float]:
        keys = [p for p in self.spec.perms if self.p2a[p]]
        Bp = self.permuted(perms)
        sweeps, converged = 0, False
        for sweeps in range(1, max_sweeps + 1):  # noqa: B007 (the count is returned)
            changed = False
            for i in rng.permutation(len(keys)):
                p = keys[i]
                S = self.cost(p, perms, Bp).cpu().numpy()
                _, col = linear_sum_assignment(S, maximize=True)
                cur = perms[p]
                if np.array_equal(col, cur):
                    continue
                rows = np.arange(len(col))
                if p in self.self_coupled:
                    Bn = self.reapply(p, cur, col, Bp)
                    gain = self.touched_objective(p, Bn) - self.touched_objective(p, Bp)
                else:
                    gain = float(S[rows, col].sum() - S[rows, cur].sum())
                    Bn = None
                if gain > MATCH_RTOL * self.scale:
                    Bp = Bn if Bn is not None else self.reapply(p, cur, col, Bp)
                    perms[p] = col
                    changed = True
            if not changed:
                converged = True
                break
        return perms, sweeps, converged, self.objective_of(Bp)

    def exhaustive(self, max_enumeration: int) -> dict[str, np.ndarray]:
        keys = [p for p in self.spec.perms if self.p2a[p]]
        free_cands = [p for p in keys if p not in self.self_coupled]
        if not free_cands:
            raise InputError("exhaustive", "every permutation is self-coupled; no exact inner assignment")
        free = max(free_cands, key=lambda p: self.spec.perms[p])
        rest = [p for p in keys if p != free]
        count = math.prod(math.factorial(self.spec.perms[p]) for p in rest)
        if count > max_enumeration:
            raise InputError(
                "exhaustive",
                f"{count:.3g} combinations of {rest} exceed max_enumeration={max_enumeration}",
                f"raise max_enumeration to {count} or use coordinate descent",
            )
        best, best_val = None, -math.inf
        base = identity_permutations(self.spec)
        for combo in itertools.product(*[itertools.permutations(range(self.spec.perms[p])) for p in rest]):
            perms = dict(base, **{p: np.array(c) for p, c in zip(rest, combo)})
            Bp = self.permuted(perms)
            S = self.cost(free, perms, Bp).cpu().numpy()
            _, col = linear_sum_assignment(S, maximize=True)
            perms[free] = col
            val = self.objective_of(self.permuted(perms))
            if val > best_val + MATCH_RTOL * self.scale:
                best, best_val = perms, val
        return best


def weight_matching(
    model_a: nn.Module,
    model_b: nn.Module,
    *,
    spec: PermutationSpec | Mapping | None = None,
    data: Any = None,
    example_input: Any = None,
    X: torch.Tensor | None = None,
    max_sweeps: int = 100,
    seed: int | None = 0,
    restarts: int = 1,
    exhaustive: bool = False,
    max_enumeration: int = 200_000,
    include_buffers: bool = False,
    device: str | torch.device | None = None,
    check_samples: int = 32,
) -> AlignResult:
    r"""Permute ``model_b``'s hidden units (a permutation spec) to match ``model_a`` by weight matching.

    Args:
        model_a: the reference network (any ``nn.Module`` the spec covers).
        model_b: the network whose hidden units are permuted; same architecture as ``model_a``.
        spec: a :class:`~tamelab.landscape.PermutationSpec` (or its dict form); default: derived.
        data: data in any form of :func:`tamelab.inputs.as_data`: used to derive the spec (shape tracing)
            and to certify that the aligned model computes the same function as B.
        example_input: an input batch used to trace the spec (default: taken from ``data``).
        X: a bare input batch, used as ``data`` when ``data`` is not given.
        max_sweeps: coordinate-descent sweeps per restart.
        restarts: restart 0 starts from the identity, the others from seeded random permutations; the best
            objective is kept.
        seed: seed of the random restarts.
        exhaustive: enumerate all permutations but one (tiny networks; refused past ``max_enumeration``).
        max_enumeration: the most permutations ``exhaustive`` may enumerate.
        include_buffers: also match BatchNorm running statistics (they are always permuted).
        device: where the products run (default: model A's device).
        check_samples: how many of the data's first inputs the function certificate evaluates.
    """
    t0 = time.perf_counter()
    if isinstance(restarts, bool) or not isinstance(restarts, int) or restarts < 1:
        raise InputError("restarts", f"must be >= 1, got {restarts}")
    if isinstance(max_sweeps, bool) or not isinstance(max_sweeps, int) or max_sweeps < 1:
        raise InputError("max_sweeps", f"must be >= 1, got {max_sweeps}")
    sa, sb = _state(model_a), _state(model_b)
    if {k: tuple(v.shape) for k, v in sa.items()} != {k: tuple(v.shape) for k, v in sb.items()}:
        diff = next((k for k in {**sa, **sb} if k not in sa or k not in sb or sa[k].shape != sb[k].shape), "?")
        raise InputError(
            "models",
            f"architectures differ (first difference: {diff!r})",
            "alignment needs two models with the same parameter names and shapes",
        )
    if data is None and X is not None:
        data = X
    xin = None
    if data is not None:
        from ..inputs import as_data

        p = next(model_b.parameters())
        if isinstance(check_samples, bool) or not isinstance(check_samples, int) or check_samples < 1:
            raise InputError("check_samples", f"must be an integer >= 1, got {check_samples}")
        xin = as_data(data).first_batch(p.device, p.dtype)[0] if not isinstance(data, torch.Tensor) else data
        xin = xin[:check_samples]
    # with data, the derived spec is certified below on the permutation actually found (the function check)
    sp = resolve_spec(
        model_a,
        spec,
        data=None,
        example_input=example_input if example_input is not None else (xin[:2] if xin is not None else None),
        check=xin is None,
    )
    s = resolve_seed(seed)
    rng = np_rng(s)
    from ..inputs import resolve_device

    dev = resolve_device(device) if device is not None else next(iter(sa.values())).device
    names = _objective_names(model_a, include_buffers)
    A = {k: sa[k].detach().to(dev, torch.float64) for k in names}
    B = {k: sb[k].detach().to(dev, torch.float64) for k in names}
    M = _Matcher(A, B, sp, names)
    ident = identity_permutations(sp)
    before = M.objective_of(B)
    # small products and assignments: on a shared CPU, threads only contend
    with one_thread() if dev.type == "cpu" else contextlib.nullcontext():
        if exhaustive:
            perms = M.exhaustive(max_enumeration)
            sweeps, converged, optimality = 0, True, "global (exhaustive)"
            after = M.objective_of(M.permuted(perms))
        else:
            best = None
            for r in range(restarts):
                init = (
                    {p: v.copy() for p, v in ident.items()}
                    if r == 0
                    else {p: rng.permutation(n) for p, n in sp.perms.items()}
                )
                pr, sw, conv, obj = M.descend(init, rng, max_sweeps)
                if best is None or obj > best[0] + MATCH_RTOL * M.scale:
                    best = (obj, pr, sw, conv)
            after, perms, sweeps, converged = best
            if not converged:
                optimality = "not converged"
            elif M.self_coupled:
                optimality = (
                    f"coordinate-wise for the linearised objective ({sorted(M.self_coupled)} act on two axes "
                    "of one tensor)"
                )
            else:
                optimality = "coordinate-wise (each permutation optimal given the others, exact assignment)"
    aligned = permute(model_b, perms, sp, state=sb)
    change = 0.0
    status = Status.OK if converged else Status.NOT_CONVERGED
    if xin is not None:
        fb, fa = eval_output(model_b, xin), eval_output(aligned, xin)
        change = float((fa - fb).abs().max())
        tol = ALIGN_FUNCTION_RTOL.get(fb.dtype, 1e-5) * (1 + float(fb.abs().max()))
        if not change <= tol:
            status = Status.UNCERTIFIED
    return AlignResult(
        status=status,
        seed=s,
        seconds=time.perf_counter() - t0,
        permutations={p: [int(i) for i in v] for p, v in perms.items()},
        spec=sp.to_dict(),
        sweeps=sweeps,
        objective_before=before,
        objective_after=after,
        optimality=optimality,
        converged=converged,
        max_function_change=change,
        model=aligned,
    )


# ------------------------------------------------------------------------------------------------
# MLP helpers (kept: activation matching and the ReLU-MLP permutation used by claims and tests)
# ------------------------------------------------------------------------------------------------
def permute_mlp(model: nn.Module, perms: list[np.ndarray]) -> nn.Sequential:
    """Apply hidden-unit permutations (one per hidden layer) to a ReLU MLP; the function is unchanged."""
    sp = mlp_spec(model)
    if len(perms) != len(sp.perms):
        raise InputError("perms", f"need {len(sp.perms)} permutations, got {len(perms)}")
    return permute(model, {f"P{i}": np.asarray(p) for i, p in enumerate(perms)}, sp)


def _objective(la, lb, perms):
    """Matching objective of two ReLU MLPs given as ``relu_layers`` lists (one permutation per hidden layer)."""
    tot = 0.0
    prev = None
    for ell, (W, b) in enumerate(lb):
        Wp, bp = W, b
        if ell < len(perms):
            Wp, bp = Wp[perms[ell]], bp[perms[ell]]
        if prev is not None:
            Wp = Wp[:, prev]
        prev = perms[ell] if ell < len(perms) else None
        tot += float((la[ell][0] * Wp).sum() + (la[ell][1] * bp).sum())
    return tot


def activation_matching(model_a: nn.Module, model_b: nn.Module, X: torch.Tensor) -> AlignResult:
    """Per-layer linear assignment on the correlation of post-ReLU activations (ReLU MLPs)."""
    t0 = time.perf_counter()
    la, lb = relu_layers(model_a), relu_layers(model_b)
    if [W.shape for W, _ in la] != [W.shape for W, _ in lb]:
        raise InputError(
            "models",
            f"architectures differ: {[W.shape for W, _ in la]} vs {[W.shape for W, _ in lb]}",
            "alignment needs two MLPs with the same widths",
        )

    def acts(m):
        out, h = [], X
        with torch.no_grad():
            for mod in m:
                h = mod(h)
                if isinstance(mod, nn.ReLU):
                    out.append(h.double().cpu().numpy())
        return out

    perms = []
    for a, b in zip(acts(model_a), acts(model_b)):
        S = a.T @ b / a.shape[0]
        r, c = linear_sum_assignment(S, maximize=True)
        p = np.empty_like(c)
        p[r] = c
        perms.append(p)
    aligned = permute_mlp(model_b, perms)
    with torch.no_grad():
        change = float((aligned(X) - model_b(X)).abs().max())
    sp = mlp_spec(model_b)
    return AlignResult(
        status=Status.OK,
        seconds=time.perf_counter() - t0,
        permutations={f"P{i}": p.tolist() for i, p in enumerate(perms)},
        spec=sp.to_dict(),
        sweeps=1,
        max_function_change=change,
        optimality="activation matching (no optimality claim)",
        model=aligned,
    )
