r"""Optimizers as composable pure transforms (optax style).

A :class:`Transform` has ``init(params) -> state`` and
``update(grads, state, params) -> (updates, state)``; parameters move by
``params + updates``. Diagnostics live in the state (``count``, ``lr``,
``grad_norm``, ``update_norm``), so a training loop can read them without
recomputing anything. Parameters are ``dict[str, Tensor]``.

Conventions of the framework optimizers are followed exactly (tests compare
with ``torch.optim`` step by step): SGD with (Nesterov) momentum, RMSprop,
Adam with bias correction. The De–Mukherjee–Ullah forms (arXiv:1807.06766,
spec tame-optimization.md §6.1) have :math:`\xi` *outside* the square root and
no bias correction:

.. math:: m_t=\beta_1m_{t-1}+(1-\beta_1)g_t,\quad v_t=\beta_2v_{t-1}+(1-\beta_2)g_t^2,\quad
          x_{t+1}=x_t-\alpha_t\,m_t/(\sqrt{v_t}+\xi).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import torch

from ..errors import InputError

__all__ = [
    "Transform",
    "sgd",
    "heavy_ball",
    "nag",
    "rmsprop",
    "adam",
    "rmsprop_dmu",
    "adam_dmu",
    "chain",
    "add_decayed_weights",
    "apply_updates",
    "tree_norm",
    "make_optimizer",
    "OPTIMIZERS",
]

Params = dict[str, torch.Tensor]
#: a step size: a number, a schedule ``t -> number``, or a tensor broadcasting against the parameters
#: (one step size per row, e.g. independent runs stacked as the rows of one iterate).
LR = float | torch.Tensor | Callable[[int], float]


@dataclasses.dataclass(frozen=True)
class Transform:
    init: Callable[[Params], dict[str, Any]]
    update: Callable[[Params, dict[str, Any], Params | None], tuple[Params, dict[str, Any]]]
    name: str = "transform"


def tree_norm(tree: Params) -> float:
    """Euclidean norm of all leaves together, accumulated in float64 (one fused reduction)."""
    vals = [v.reshape(-1) for v in tree.values()]
    if not vals:
        return 0.0
    return float(torch.linalg.vector_norm(torch.cat(vals), dtype=torch.float64))


def apply_updates(params: Params, updates: Params) -> Params:
    return {k: params[k] + updates[k] for k in params}


def _lr(lr: LR, t: int) -> float | torch.Tensor:
    if isinstance(lr, torch.Tensor):
        return lr
    return float(lr(t)) if callable(lr) else float(lr)


def _zeros(params: Params) -> Params:
    return {k: torch.zeros_like(v) for k, v in params.items()}


def _diag(state, grads, updates, lr):
    state["grad_norm"] = tree_norm(grads)
    state["update_norm"] = tree_norm(updates)
    state["lr"] = lr
    return state


def sgd(lr: LR) -> Transform:
    r"""Plain (stochastic) gradient descent: :math:`u_t = -\alpha_t g_t`."""

    def init(params):
        return {"count": 0}

    def update(grads, state, params=None):
        t = state["count"]
        a = _lr(lr, t)
        upd = {k: -a * g for k, g in grads.items()}
        return upd, _diag({**state, "count": t + 1}, grads, upd, a)

    return Transform(init, update, "sgd")


def _momentum(lr: LR, momentum: float, nesterov: bool, name: str) -> Transform:
    if not 0 <= momentum < 1:
        raise InputError("momentum", f"must be in [0, 1), got {momentum}")

    def init(params):
        return {"count": 0, "buf": _zeros(params)}

    def update(grads, state, params=None):
        t = state["count"]
        a = _lr(lr, t)
        # torch.optim.SGD: buf_1 = g_1; buf_t = mu buf_{t-1} + g_t
        buf = {k: (g.clone() if t == 0 else momentum * state["buf"][k] + g) for k, g in grads.items()}
        d = {k: g + momentum * buf[k] for k, g in grads.items()} if nesterov else buf
        upd = {k: -a * v for k, v in d.items()}
        return upd, _diag({"count": t + 1, "buf": buf}, grads, upd, a)

    return Transform(init, update, name)


def heavy_ball(lr: LR, momentum: float = 0.9) -> Transform:
    r"""Polyak heavy ball (torch SGD momentum): :math:`b_t=\mu b_{t-1}+g_t`, :math:`u_t=-\alpha_t b_t`."""
    return _momentum(lr, momentum, False, "heavy_ball")


def nag(lr: LR, momentum: float = 0.9) -> Transform:
    r"""Nesterov accelerated gradient (torch ``nesterov=True``): :math:`u_t=-\alpha_t(g_t+\mu b_t)`."""
    return _momentum(lr, momentum, True, "nag")


def rmsprop(lr: LR, alpha: float = 0.99, eps: float = 1e-8) -> Transform:
    r"""RMSProp (torch convention).

    :math:`v_t=\alpha v_{t-1}+(1-\alpha)g_t^2`, :math:`u_t=-\alpha_t g_t/(\sqrt{v_t}+\epsilon)`.
    """

    def init(params):
        return {"count": 0, "nu": _zeros(params)}

    def update(grads, state, params=None):
        t = state["count"]
        a = _lr(lr, t)
        nu = {k: alpha * state["nu"][k] + (1 - alpha) * g * g for k, g in grads.items()}
        upd = {k: -a * g / (nu[k].sqrt() + eps) for k, g in grads.items()}
        return upd, _diag({"count": t + 1, "nu": nu}, grads, upd, a)

    return Transform(init, update, "rmsprop")


def adam(lr: LR, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> Transform:
    """Adam with bias correction (Kingma & Ba, arXiv:1412.6980; torch convention)."""
    for nm, b in (("beta1", beta1), ("beta2", beta2)):
        if not 0 <= b < 1:
            raise InputError(nm, f"must be in [0, 1), got {b}")

    def init(params):
        return {"count": 0, "mu": _zeros(params), "nu": _zeros(params)}

    def update(grads, state, params=None):
        t = state["count"] + 1
        a = _lr(lr, t - 1)
        mu = {k: beta1 * state["mu"][k] + (1 - beta1) * g for k, g in grads.items()}
        nu = {k: beta2 * state["nu"][k] + (1 - beta2) * g * g for k, g in grads.items()}
        bc1, bc2 = 1 - beta1**t, 1 - beta2**t
        upd = {k: -(a / bc1) * mu[k] / (nu[k].sqrt() / bc2**0.5 + eps) for k in grads}
        return upd, _diag({"count": t, "mu": mu, "nu": nu}, grads, upd, a)

    return Transform(init, update, "adam")


def adam_dmu(
    lr: LR, beta1: float | torch.Tensor = 0.9, beta2: float | torch.Tensor = 0.999, xi: float | torch.Tensor = 1e-8
) -> Transform:
    """ADAM as analysed by De, Mukherjee & Ullah (arXiv:1807.06766): ξ outside the sqrt, no bias correction.

    The update is elementwise, so ``lr``, ``beta1``, ``beta2`` and ``xi`` may be tensors broadcasting against the
    parameters (one value per row when independent runs are stacked as rows, :func:`tamelab.tame.run_dmu_batch`).
    """
    c1, c2 = 1 - beta1, 1 - beta2  # once, not per step (tensors when the betas are)

    def init(params):
        return {"count": 0, "mu": _zeros(params), "nu": _zeros(params)}

    def update(grads, state, params=None):
        t = state["count"]
        a = _lr(lr, t)
        mu = {k: beta1 * state["mu"][k] + c1 * g for k, g in grads.items()}
        nu = {k: beta2 * state["nu"][k] + c2 * g * g for k, g in grads.items()}
        upd = {k: -a * mu[k] / (nu[k].sqrt() + xi) for k in grads}
        return upd, _diag({"count": t + 1, "mu": mu, "nu": nu}, grads, upd, a)

    return Transform(init, update, "adam_dmu")


def rmsprop_dmu(lr: LR, beta2: float = 0.999, xi: float = 1e-8) -> Transform:
    r"""RMSProp of De, Mukherjee & Ullah = :func:`adam_dmu` with :math:`\beta_1=0`."""
    t = adam_dmu(lr, 0.0, beta2, xi)
    return dataclasses.replace(t, name="rmsprop_dmu")


def add_decayed_weights(weight_decay: float) -> Transform:
    """Adds ``weight_decay * params`` to the incoming gradients (L2 / coupled decay)."""

    def init(params):
        return {}

    def update(grads, state, params=None):
        if weight_decay == 0 or params is None:
            return grads, state
        return {k: g + weight_decay * params[k] for k, g in grads.items()}, state

    return Transform(init, update, "add_decayed_weights")


def chain(*ts: Transform) -> Transform:
    """Compose transforms left to right; diagnostics of the last one are exposed at top level."""

    def init(params):
        return {"inner": [t.init(params) for t in ts]}

    def update(grads, state, params=None):
        new, g = [], grads
        for t, s in zip(ts, state["inner"]):
            g, s = t.update(g, s, params)
            new.append(s)
        out = {"inner": new}
        for key in ("count", "lr", "update_norm"):
            for s in reversed(new):
                if key in s:
                    out[key] = s[key]
                    break
        # the norm of the raw gradient is what the first transform saw
        out["grad_norm"] = new[0]["grad_norm"] if new and "grad_norm" in new[0] else tree_norm(grads)
        return g, out

    return Transform(init, update, "+".join(t.name for t in ts))


OPTIMIZERS = ("sgd", "heavy_ball", "nag", "rmsprop", "adam", "rmsprop_dmu", "adam_dmu")


def make_optimizer(name: str, lr: LR, *, momentum=0.9, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0) -> Transform:
    """Optimizer by name (the training config's ``optimizer`` field)."""
    if name == "sgd":
        base = sgd(lr)
    elif name == "heavy_ball":
        base = heavy_ball(lr, momentum)
    elif name == "nag":
        base = nag(lr, momentum)
    elif name == "rmsprop":
        base = rmsprop(lr, beta2, eps)
    elif name == "adam":
        base = adam(lr, beta1, beta2, eps)
    elif name == "rmsprop_dmu":
        base = rmsprop_dmu(lr, beta2, eps)
    elif name == "adam_dmu":
        base = adam_dmu(lr, beta1, beta2, eps)
    else:
        raise InputError("optimizer", f"unknown optimizer {name!r}", f"use one of {', '.join(OPTIMIZERS)}")
    return chain(add_decayed_weights(weight_decay), base) if weight_decay else base
