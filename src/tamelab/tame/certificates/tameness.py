r"""Tameness certificate: the smallest known o-minimal structure a network (and its loss) is definable in.

Algorithm (spec ``tame-optimization.md`` §1.5):

1. trace ``loss(model(x), y)`` into a graph of primitive ops (``torch.fx``; fallback ``torch.export``);
2. read, for each node, its fact from the operation table (:mod:`tamelab.tame.certificates._structures`):
   global class, local class, local Lipschitz continuity, continuity;
3. the program's global class is the lattice join of the node classes (closure rules §1.3:
   composition, sums, products, quotients, finite max, finite sums over a dataset stay in
   the structure), the local class the join of the local classes;
4. flags ``locally_lipschitz`` (all nodes; DDKL / Bolte–Pauwels need it), ``poly_bounded``
   (global class in {alg, an}), ``finite_sum`` (the traced loss is a finite average).

``sin``/``cos`` are restricted-analytic (``an``) only when the tracer can prove their input lies in a
bounded interval (interval propagation from ``tanh``, ``sigmoid``, ``clamp``, ``softmax``, ... through
shape ops and arithmetic with constants); otherwise the program is definable in **no** o-minimal
structure globally (``NONE``) though still tame (``an`` on bounded boxes).

An op with no recorded fact makes the certificate ``UNKNOWN`` / :attr:`Status.UNCERTIFIED` naming the
op; a program that cannot be traced is :attr:`Status.UNCERTIFIED` with the tracer's error — never an
exception. A custom module can declare its definability by a class attribute ``tame_op`` naming a
registry entry (e.g. ``tame_op = "relu"``); such modules are kept as leaves of the trace.

# NOTE [programs, not functions]: definability belongs to the function but the tracer sees a program;
# two programs for one function may get different certificates (spec §1.7). The certificate is per program.

References:
    Davis, Drusvyatskiy, Kakade & Lee, arXiv:1804.07795; Bolte & Pauwels, arXiv:1909.10300;
    van den Dries & Miller, Duke Math. J. 84 (1996) (geometric categories and o-minimal structures).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable

import torch
from torch import nn

from ...errors import InputError
from ...result import Result, Status
from ._intervals import interval_of, propagate
from ._structures import NONE, UNKNOWN, join_all, op_fact, poly_bounded
from ._trace import Net, Program, canonical, node_arg, trace_program

__all__ = ["TamenessCertificate", "certify", "LOSSES"]

#: loss names accepted by :func:`certify` (``"none"``/``None`` = the network alone; a callable is accepted too)
LOSSES = ("cross_entropy", "nll", "mse", "l1", "huber", "bce_with_logits", "none")


@dataclasses.dataclass
class TamenessCertificate(Result):
    """Definability certificate of a traced program.

    Attributes:
        structure: global class (``alg``, ``an``, ``exp``, ``an,exp``, ``pfaff``, ``P(an)``, ``NONE``, ``UNKNOWN``).
        local_structure: join of the local (bounded-box) classes: the program is tame when this is o-minimal.
        locally_lipschitz, continuous: all nodes are; ``poly_bounded``: structure in {alg, an}.
        finite_sum: the traced loss is a finite average over the given batch (True for every traced loss).
        offending_ops: ``"node (target): reason"`` for each node whose class is ``NONE``/``UNKNOWN``
            or that breaks local Lipschitz continuity.
        ops: one record per computational node (node, op, target, canonical, global, local, flags, reason).
        tracer: ``"fx"``, ``"export"`` or ``None`` (not traceable); ``why``: a one-line explanation of the status.
    """

    structure: str = UNKNOWN
    local_structure: str = UNKNOWN
    locally_lipschitz: bool = False
    continuous: bool = False
    poly_bounded: bool = False
    finite_sum: bool = True
    loss: str = "none"
    offending_ops: list[str] = dataclasses.field(default_factory=list)
    ops: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    tracer: str | None = None
    why: str = ""

    kind = "tameness_certificate"


_TRACEABLE = {"cross_entropy": nn.functional.cross_entropy, "nll": nn.functional.nll_loss,
              "mse": nn.functional.mse_loss, "l1": nn.functional.l1_loss, "huber": nn.functional.smooth_l1_loss,
              "bce_with_logits": nn.functional.binary_cross_entropy_with_logits}


def _loss_fn(loss) -> tuple[Callable | None, str]:
    """The loss as a function fx can trace (built-ins: their ``torch.nn.functional`` form), and its name."""
    from ...losses import resolve_loss

    if loss is None or (isinstance(loss, str) and loss.strip().lower() == "none"):
        return None, "none"
    lossf = resolve_loss(loss)
    if lossf.builtin:
        return _TRACEABLE[lossf.name], lossf.name
    return lossf.fn, lossf.name


def certify(model: nn.Module, example_input: torch.Tensor, *, loss: str | Callable | None = None) -> TamenessCertificate:
    """Certificate of definability of ``loss(model(x), y)`` (or ``model(x)`` when ``loss`` is None).

    Args:
        model: any ``nn.Module``.
        example_input: an input batch the model accepts (used to trace and to build example targets).
        loss: ``"cross_entropy"`` (integer labels), ``"mse"``, ``"none"``/``None`` or a callable ``(out, target) -> scalar``
            (it receives a target of the output's shape).

    Returns:
        :class:`TamenessCertificate`; ``status`` is ``ok`` iff the global class is an o-minimal structure of the lattice.

    Example:
        >>> from tamelab.models import mlp
        >>> certify(mlp([3, 4, 2]), torch.zeros(5, 3), loss="mse").structure
        'alg'
    """
    t0 = time.perf_counter()
    loss_fn, loss_name = _loss_fn(loss)
    args = _example_args(model, example_input, loss_fn, loss_name)
    program = (Net(model) if loss_fn is None else Program(model, loss_fn)).eval()
    graph, modules, tracer, errors = trace_program(program, args)
    res = TamenessCertificate(loss=loss_name)
    if graph is None:
        res.status = Status.UNCERTIFIED
        res.why = "could not trace the program: " + " | ".join(errors)
        res.seconds = time.perf_counter() - t0
        return res
    res.tracer = tracer
    bounds: dict = {}
    for node in graph.nodes:
        if node.op not in ("placeholder", "output", "get_attr"):
            _add_node(res, node, modules, bounds)
    _verdict(res)
    if errors:
        res.why += f" [traced with torch.export after: {errors[0]}]"
    res.seconds = time.perf_counter() - t0
    return res


def _example_args(model: nn.Module, example_input, loss_fn, loss_name: str) -> tuple:
    """``(x,)`` or ``(x, target)`` with a target of the right kind for the loss (checked by one forward pass)."""
    if not isinstance(model, nn.Module):
        raise InputError("model", f"expected a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(example_input, torch.Tensor):
        raise InputError("example_input", f"expected a torch.Tensor, got {type(example_input).__name__}",
                         "pass a batch the model accepts, e.g. torch.zeros(1, d)")
    with torch.no_grad():
        try:
            out = model(example_input)
        except Exception as e:  # noqa: BLE001
            raise InputError("example_input", f"the model raised {type(e).__name__} on it: {e}",
                             "pass an input of the shape/dtype the model expects") from None
    if loss_fn is None:
        return (example_input,)
    if loss_name in ("cross_entropy", "nll"):
        if not isinstance(out, torch.Tensor) or out.ndim < 1:
            raise InputError("loss", "cross_entropy needs logits of shape (N, C)", "use --loss mse or none")
        target = torch.zeros(out.shape[0] if out.ndim > 1 else (), dtype=torch.long)
    else:
        target = torch.zeros_like(out)
    return (example_input, target)


def _call_context(name: str, node, mod: nn.Module | None, bounds: dict) -> tuple[str, dict[str, Any]]:
    """The op name (normalised) and the keyword arguments :func:`op_fact` needs for this call."""
    kw: dict[str, Any] = {}
    if name in ("sin", "cos"):
        first = node.args[0] if node.args else None
        kw["input_bounded"] = interval_of(first, bounds) is not None
    elif name in ("pow", "float_power"):
        e = node_arg(node, 1, "exponent")
        kw["exponent"] = e if isinstance(e, (int, float)) and not isinstance(e, bool) else "variable"
    elif name == "gelu":
        kw["approximate"] = getattr(mod, "approximate", None) if mod is not None else node.kwargs.get("approximate", "none")
    elif name in ("clamp", "clip"):
        if node.op == "call_module":
            kw["clamp_bounds"] = None
        else:
            lo, hi = node_arg(node, 1, "min"), node_arg(node, 2, "max")
            kw["clamp_bounds"] = (_num(lo), _num(hi))
    elif name in ("getattr_shape", "size", "dim", "numel", "sym_size"):
        name = "size"
    return name, kw


def _num(v):
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _add_node(res: TamenessCertificate, node, modules: dict[str, nn.Module], bounds: dict) -> None:
    """Look up the node's fact, propagate its interval bound and record it in ``res``."""
    name, target = canonical(node, modules)
    mod = modules.get(node.target) if node.op == "call_module" else None
    name, kw = _call_context(name, node, mod, bounds)
    fact = op_fact(name, **kw)
    if fact is None:
        g, l_, fl, fc = UNKNOWN, UNKNOWN, False, False
        reason = f"no definability fact recorded for op {name!r}"
    else:
        g, l_, fl, fc, reason = fact.global_, fact.local, fact.locally_lipschitz, fact.continuous, fact.reason
    bounds[node] = propagate(name, node, fact, bounds, mod)
    res.ops.append({"node": node.name, "op": node.op, "target": target, "canonical": name, "global": g, "local": l_,
                    "locally_lipschitz": fl, "continuous": fc, "reason": reason,
                    "output_bounds": list(bounds[node]) if bounds[node] is not None else None})
    if g in (NONE, UNKNOWN) or not fl:
        res.offending_ops.append(f"{node.name} ({name}): {reason}")


def _verdict(res: TamenessCertificate) -> None:
    """Join the node facts into the program's classes, flags, status and reason."""
    glob = join_all((r["global"] for r in res.ops), "alg")
    loc = join_all((r["local"] for r in res.ops), "alg")
    lip = all(r["locally_lipschitz"] for r in res.ops)
    res.structure, res.local_structure = glob, loc
    res.locally_lipschitz, res.continuous = lip, all(r["continuous"] for r in res.ops)
    res.poly_bounded = poly_bounded(glob)
    if glob == UNKNOWN:
        unknown = sorted({r["canonical"] for r in res.ops if r["global"] == UNKNOWN})
        res.status = Status.UNCERTIFIED
        res.why = f"uncertified: no definability fact for op(s) {', '.join(unknown)}"
    elif glob == NONE:
        bad = sorted({r["canonical"] for r in res.ops if r["global"] == NONE})
        res.status = Status.UNCERTIFIED
        res.why = (f"uncertified: op(s) {', '.join(bad)} are definable in no o-minimal structure on their (unbounded) "
                   f"domain; locally the program is {loc}" + (" (tame)" if loc not in (NONE, UNKNOWN) else ""))
    else:
        res.status = Status.OK
        res.why = f"definable in {glob} (join of {len(res.ops)} op facts); tame, locally {loc}"
        if not lip:
            res.why += "; NOT locally Lipschitz (DDKL / Bolte–Pauwels hypotheses fail)"
