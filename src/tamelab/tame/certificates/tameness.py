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

``sin``/``cos`` bounds come from :mod:`._intervals`: both arguments of binary ops count, and in-place ops (``add_``,
``+=``, ``x[i] = y``, ``inplace=True``) update the interval of the tensor they mutate and of its views.

**Modes.** A module may compute a different program in training and in evaluation mode (dropout, batch norm, or
``if self.training``). ``mode="both"`` (default) traces both and certifies their join; ``"train"``/``"eval"`` certify
one. The caller's model keeps its mode (every submodule's ``training`` flag is restored).

**Specialisation.** ``torch.fx`` graphs are generic in the input; a program fx cannot trace is exported with a symbolic
batch size, and if that fails (the graph depends on the batch size, e.g. a branch on ``x.shape[0]``) the certificate
is ``uncertified``: a trace of the example alone may have specialised data-dependent control flow away.

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
from ...losses import LOSSES as _REGISTRY
from ...result import Result, Status
from ._intervals import Intervals, is_bounded
from ._structures import NONE, UNKNOWN, join_all, op_fact, poly_bounded
from ._trace import Net, Program, canonical, node_arg, trace_program

__all__ = ["TamenessCertificate", "certify", "LOSSES"]

#: loss names accepted by :func:`certify`: the registry's (:data:`tamelab.losses.LOSSES`) and ``"none"``/``None``
#: (the network alone); a callable is accepted too
LOSSES = (*_REGISTRY, "none")


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
        mode: the modes certified (``"both"``, ``"train"``, ``"eval"``); ``modes``: the global class per mode;
        mode_dependent: the train and eval programs differ (the certificate is their join).
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
    mode: str = "both"
    modes: dict[str, str] = dataclasses.field(default_factory=dict)
    mode_dependent: bool = False
    why: str = ""

    kind = "tameness_certificate"


def _loss_fn(loss) -> tuple[Callable | None, str]:
    """The loss as a function fx can trace (built-ins: their ``torch.nn.functional`` form), and its name."""
    from ...losses import resolve_loss

    if loss is None or (isinstance(loss, str) and loss.strip().lower() == "none"):
        return None, "none"
    lossf = resolve_loss(loss)
    if lossf.builtin and lossf.torch_fn is not None:
        return lossf.torch_fn, lossf.name
    return lossf.fn, lossf.name


MODES = ("both", "train", "eval")


def certify(
    model: nn.Module, data, *, loss: str | Callable | None = None, mode: str = "both", device=None
) -> TamenessCertificate:
    """Certificate of definability of ``loss(model(x), y)`` (or ``model(x)`` when ``loss`` is None).

    Args:
        model: any ``nn.Module`` (not modified: its train/eval flags are restored).
        data: an example input batch (a tensor or array the model accepts), or any data form of
            :func:`tamelab.inputs.as_data` (``(X, y)``, a ``Dataset``, a ``DataLoader`` with tuple or dict batches):
            its first batch is traced, with its targets.
        loss: a loss name (:data:`tamelab.losses.LOSSES`), ``"none"``/``None`` (the network alone) or a callable
            ``(out, target) -> scalar``. With an example input alone the target is synthesised (class 0 for
            ``cross_entropy``/``nll``, zeros of the output's shape otherwise).
        mode: ``"both"`` (train and eval programs, joined), ``"train"`` or ``"eval"``.
        device: where the example is traced.

    Returns:
        :class:`TamenessCertificate`; ``status`` is ``ok`` iff the global class is an o-minimal structure of the lattice
        and the trace covers every input (no specialisation).

    Example:
        >>> from tamelab.models import mlp
        >>> certify(mlp([3, 4, 2]), torch.zeros(5, 3), loss="mse").structure
        'alg'
    """
    from ...inputs import as_model

    t0 = time.perf_counter()
    as_model(model)
    if mode not in MODES:
        raise InputError("mode", f"unknown mode {mode!r}", f"use one of {', '.join(MODES)}")
    loss_fn, loss_name = _loss_fn(loss)
    saved = [(m, m.training) for m in model.modules()]
    try:
        args = _example_args(model, data, loss_fn, loss_name, device)
        program = Net(model) if loss_fn is None else Program(model, loss_fn)
        res = TamenessCertificate(loss=loss_name, mode=mode)
        per_mode = [m for m in ("train", "eval") if mode in (m, "both")]
        records = {m: _certify_mode(program.train(m == "train"), args) for m in per_mode}
    finally:
        for m, training in saved:
            m.training = training
    _combine(res, records)
    res.seconds = time.perf_counter() - t0
    return res


def _certify_mode(program: nn.Module, args: tuple) -> dict[str, Any]:
    """Trace one mode and read the op facts: ``{ops, offending, tracer, errors, specialised, signature}``."""
    graph, modules, tracer, errors, specialised = trace_program(program, args)
    out: dict[str, Any] = {
        "tracer": tracer or None,
        "errors": errors,
        "specialised": specialised,
        "ops": [],
        "offending": [],
        "signature": None,
    }
    if graph is None:
        return out
    tmp = TamenessCertificate()
    iv = Intervals()
    for node in graph.nodes:
        if node.op not in ("placeholder", "output", "get_attr"):
            _add_node(tmp, node, modules, iv)
    out["ops"], out["offending"] = tmp.ops, tmp.offending_ops
    out["signature"] = [(r["canonical"], r["global"], r["local"]) for r in tmp.ops]
    return out


def _combine(res: TamenessCertificate, records: dict[str, dict[str, Any]]) -> None:
    """The certificate of the (joined) modes: classes, flags, status and reason."""
    first = next(iter(records.values()))
    if any(r["tracer"] is None for r in records.values()):
        res.status = Status.UNCERTIFIED
        errs = next(r["errors"] for r in records.values() if r["tracer"] is None)
        res.why = "could not trace the program: " + " | ".join(errs)
        return
    res.tracer = first["tracer"]
    res.mode_dependent = len({str(r["signature"]) for r in records.values()}) > 1
    for m, r in records.items():
        tagged = [{**op, "mode": m} for op in r["ops"]] if res.mode_dependent else r["ops"]
        if m == next(iter(records)) or res.mode_dependent:
            res.ops += tagged
            res.offending_ops += [f"[{m}] {o}" if res.mode_dependent else o for o in r["offending"]]
        res.modes[m] = join_all((op["global"] for op in r["ops"]), "alg")
    _verdict(res)
    if res.mode_dependent:
        res.why += (
            "; train and eval programs differ ("
            + ", ".join(f"{m}: {s}" for m, s in res.modes.items())
            + "), certified: their join"
        )
    special = [r["specialised"] for r in records.values() if r["specialised"]]
    if special:
        res.status = Status.UNCERTIFIED
        res.why = f"uncertified: {special[0]}; " + res.why
    errors = first["errors"]
    if errors:
        res.why += f" [traced with torch.export after: {errors[0]}]"


def _example_args(model: nn.Module, data, loss_fn, loss_name: str, device) -> tuple:
    """``(x,)`` or ``(x, target)``: the example input (or the first batch of ``data``) and a target for the loss."""
    import numpy as np

    from ...inputs import as_data, resolve_device

    dev = (
        resolve_device(device)
        if device is not None
        else next((p.device for p in model.parameters()), torch.device("cpu"))
    )
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), None)
    target = None
    if isinstance(data, np.ndarray):
        data = torch.as_tensor(data)
    if isinstance(data, torch.Tensor):
        x = data.to(dev)
        if x.is_floating_point() and dtype is not None:
            x = x.to(dtype)
    else:
        x, target = as_data(data).first_batch(dev, dtype)
    if x.ndim >= 1 and x.shape[0] == 1:  # a batch of 1 is special to torch.export's symbolic sizes: use 2 copies
        x = torch.cat([x, x])
        target = torch.cat([target, target]) if target is not None and target.ndim >= 1 else target
    with torch.no_grad():
        try:
            out = model(x)
        except Exception as e:  # noqa: BLE001
            raise InputError(
                "data",
                f"the model raised {type(e).__name__} on the example input: {e}",
                "pass an input of the shape/dtype the model expects",
            ) from None
    if loss_fn is None:
        return (x,)
    if target is None or (loss_name in ("mse", "l1", "huber", "bce_with_logits") and not target.is_floating_point()):
        target = _synthetic_target(out, loss_name)
    return (x, target)


def _synthetic_target(out, loss_name: str) -> torch.Tensor:
    if loss_name in ("cross_entropy", "nll"):
        if not isinstance(out, torch.Tensor) or out.ndim < 1:
            raise InputError("loss", f"{loss_name} needs logits of shape (N, C)", "use --loss mse or none")
        return torch.zeros(out.shape[0] if out.ndim > 1 else (), dtype=torch.long, device=out.device)
    return torch.zeros_like(out)


def _call_context(name: str, node, mod: nn.Module | None, iv: Intervals) -> tuple[str, dict[str, Any]]:
    """The op name (normalised) and the keyword arguments :func:`op_fact` needs for this call."""
    kw: dict[str, Any] = {}
    if name in ("sin", "cos"):
        kw["input_bounded"] = is_bounded(iv.get(node.args[0] if node.args else None))
    elif name in ("pow", "float_power"):
        e = node_arg(node, 1, "exponent")
        kw["exponent"] = e if isinstance(e, (int, float)) and not isinstance(e, bool) else "variable"
    elif name == "gelu":
        kw["approximate"] = (
            getattr(mod, "approximate", None) if mod is not None else node.kwargs.get("approximate", "none")
        )
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


def _add_node(res: TamenessCertificate, node, modules: dict[str, nn.Module], iv: Intervals) -> None:
    """Look up the node's fact, propagate its interval bound and record it in ``res``."""
    name, target = canonical(node, modules)
    mod = modules.get(node.target) if node.op == "call_module" else None
    name, kw = _call_context(name, node, mod, iv)
    fact = op_fact(name, **kw)
    arg_bound = iv.get(node.args[0]) if name in ("sin", "cos") and node.args else None
    if fact is None:
        g, l_, fl, fc = UNKNOWN, UNKNOWN, False, False
        reason = f"no definability fact recorded for op {name!r}"
    else:
        g, l_, fl, fc, reason = fact.global_, fact.local, fact.locally_lipschitz, fact.continuous, fact.reason
    bound = iv.add(name, node, fact, mod)
    from torch.fx import Node

    inputs = [a.name for a in node.args if isinstance(a, Node)]
    res.ops.append(
        {
            "node": node.name,
            "op": node.op,
            "target": target,
            "canonical": name,
            "inputs": inputs,
            "global": g,
            "local": l_,
            "locally_lipschitz": fl,
            "continuous": fc,
            "reason": reason,
            "output_bounds": list(bound) if is_bounded(bound) else None,
        }
    )
    if arg_bound is not None:  # the interval of the input *when sin/cos reads it* (after in-place mutations)
        res.ops[-1]["input_bounds"] = list(arg_bound) if is_bounded(arg_bound) else None
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
        res.why = (
            f"uncertified: op(s) {', '.join(bad)} are definable in no o-minimal structure on their (unbounded) "
            f"domain; locally the program is {loc}" + (" (tame)" if loc not in (NONE, UNKNOWN) else "")
        )
    else:
        res.status = Status.OK
        res.why = f"definable in {glob} (join of {len(res.ops)} op facts); tame, locally {loc}"
        if not lip:
            res.why += "; NOT locally Lipschitz (DDKL / Bolte–Pauwels hypotheses fail)"
