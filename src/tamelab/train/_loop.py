r"""The monitored, deterministic, resumable training loop.

Records per step (every ``record_every`` steps) the mini-batch loss, the
gradient norm, the step size, the parameter norm, the distance from
initialisation :math:`\|\theta_t-\theta_0\|` and the path length
:math:`\sum_{s<t}\|\theta_{s+1}-\theta_s\|`; per epoch the full train/test loss
and accuracy; and keeps parameter snapshots every ``snapshot_every`` steps
(plus the initial and final parameters) for later geometry.

Determinism: the initial weights come from ``tamelab.models.mlp(seed=seed)``
and the batch order of epoch ``e`` from ``numpy.random.default_rng([seed, e])``,
so a run resumed from an epoch checkpoint reproduces the uninterrupted run
bitwise. Checkpoints are safetensors (tensors) + JSON (everything else): no
pickle is ever written or read.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from .._numerics import mean_cross_entropy
from .._progress import progress
from .._rng import resolve_seed
from ..data import Dataset, load_data
from ..errors import ComputationError, InputError
from ..models import linear_relu_forward, linear_relu_modules, mlp
from ..result import Result, Status
from ..runstore import atomic_write_bytes, atomic_write_json
from ._schedules import make_schedule
from ._transforms import apply_updates, make_optimizer, tree_norm

__all__ = ["TrainConfig", "TrainResult", "fit"]


class TrainConfig(BaseModel):
    """Training configuration (TOML table ``[train]`` in atlas configs)."""

    model_config = ConfigDict(extra="forbid")

    data: str = "digits"
    split_seed: int = Field(0, ge=0)
    test_fraction: float = Field(0.2, gt=0, lt=1)
    widths: list[int] | None = Field(None, description="ReLU MLP widths; default [d, 64, 64, 64, k]")
    loss: Literal["cross_entropy", "mse"] = "cross_entropy"
    optimizer: Literal["sgd", "heavy_ball", "nag", "rmsprop", "adam", "rmsprop_dmu", "adam_dmu"] = "adam"
    lr: float = Field(1e-3, gt=0)
    momentum: float = Field(0.9, ge=0, lt=1)
    beta1: float = Field(0.9, ge=0, lt=1)
    beta2: float = Field(0.999, ge=0, lt=1)
    eps: float = Field(1e-8, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    schedule: Literal["constant", "inv_t", "inv_sqrt_t", "robbins_monro"] = "constant"
    schedule_b: float = Field(1.0, gt=0)
    schedule_p: float = Field(1.0, gt=0)
    epochs: int = Field(20, ge=1, le=100000)
    batch_size: int = Field(64, ge=1)
    seed: int = Field(0, ge=0)
    dtype: Literal["float32", "float64"] = "float32"
    snapshot_every: int = Field(0, ge=0, description="steps between snapshots; 0 = once per epoch")
    record_every: int = Field(1, ge=1)
    eval_every: int = Field(1, ge=1, description="epochs between full-batch train/test evaluations (the last epoch "
                                                 "is always evaluated); each costs one forward pass over all the data")


@dataclasses.dataclass
class TrainResult(Result):
    """A finished training run. Model, datasets and snapshots are not serialised to JSON."""

    kind = "train"

    config: dict[str, Any] = dataclasses.field(default_factory=dict)
    epochs_run: int = 0
    steps: int = 0
    final_loss: float = float("nan")
    final_train_loss: float = float("nan")
    final_test_loss: float = float("nan")
    final_train_acc: float | None = None
    final_test_acc: float | None = None
    dist_init: float = 0.0
    path_length: float = 0.0
    n_params: int = 0
    widths: list[int] = dataclasses.field(default_factory=list)
    resumed_from_epoch: int | None = None
    model: nn.Sequential | None = dataclasses.field(default=None, repr=False)
    init_model: nn.Sequential | None = dataclasses.field(default=None, repr=False)
    train: Dataset | None = dataclasses.field(default=None, repr=False)
    test: Dataset | None = dataclasses.field(default=None, repr=False)
    history: dict[str, np.ndarray] = dataclasses.field(default_factory=dict, repr=False)
    snapshots: list[dict[str, torch.Tensor]] = dataclasses.field(default_factory=list, repr=False)
    snapshot_steps: list[int] = dataclasses.field(default_factory=list, repr=False)

    def arrays(self) -> dict[str, np.ndarray]:
        out = {f"history_{k}": v for k, v in self.history.items()}
        out["snapshot_steps"] = np.asarray(self.snapshot_steps, dtype=np.int64)
        return out


_STEP_KEYS = ("step", "epoch", "loss", "grad_norm", "lr", "param_norm", "dist_init", "path_length")
_EPOCH_KEYS = ("acc_epoch", "train_loss", "test_loss", "train_acc", "test_acc")


def _targets(ds: Dataset, loss: str, k: int, dtype) -> torch.Tensor:
    if loss == "cross_entropy":
        if ds.y is None:
            raise InputError("loss", "cross_entropy needs integer labels y", "use loss='mse' for targets Y")
        return torch.as_tensor(ds.y, dtype=torch.long)
    if ds.Y is not None:
        return torch.as_tensor(ds.Y, dtype=dtype)
    return torch.nn.functional.one_hot(torch.as_tensor(ds.y), k).to(dtype)


#: parameter norms are computed for this many recorded steps at once (one ``cat`` per step, four ops per
#: batch: on CPU a ``_foreach`` op costs ~1.5 µs per tensor, which made per-step norms ~8 % of an epoch);
#: the pending flat vectors are capped by ``_PENDING_BYTES``.
_NORM_BATCH = 8
_PENDING_BYTES = 64 * 2**20


def _flush_norms(pending: list[torch.Tensor], theta0: torch.Tensor, hist: dict[str, list]) -> None:
    r"""Fill the last ``len(pending)`` entries of ``param_norm`` (:math:`\|\theta_k\|`) and ``dist_init``
    (:math:`\|\theta_k-\theta_0\|`) from the pending flat parameter vectors."""
    if not pending:
        return
    K = len(pending)
    S = torch.stack(pending)
    # in the parameters' own dtype: an upcast (dtype=float64) made each reduction ~10x slower; torch's
    # float32 reductions are blocked/pairwise, so the relative error stays at float32 rounding level
    pn = torch.linalg.vector_norm(S, dim=1)
    dn = torch.linalg.vector_norm(S.sub_(theta0), dim=1)
    hist["param_norm"][-K:] = pn.tolist()
    hist["dist_init"][-K:] = dn.tolist()
    pending.clear()


def _plain_mlp_logits_t(model, X: torch.Tensor) -> torch.Tensor | None:
    """C×N logits of a plain Linear/ReLU ``Sequential`` by :func:`tamelab.models.linear_relu_forward`
    (1.27 -> 1.03 ms for the evaluation of both digits splits); ``None`` for any other model."""
    mods = linear_relu_modules(model)
    if mods is None:
        return None
    with torch.inference_mode():
        return linear_relu_forward(mods, X, logits_t=True)


def _evaluate_both(model, Xall, n_train, Ttr, Tte, loss_fn, classify):
    fast = classify and loss_fn is torch.nn.functional.cross_entropy
    out_t = _plain_mlp_logits_t(model, Xall) if fast else None
    if out_t is None:
        with torch.no_grad():
            out = model(Xall)
    res = []
    for sl, T in ((slice(0, n_train), Ttr), (slice(n_train, None), Tte)):
        if len(T) == 0:
            res.append((float("nan"), None))
            continue
        if out_t is not None:
            lv, correct = mean_cross_entropy(out_t[:, sl], T, class_dim=0)
            res.append((lv, correct / len(T)))
            continue
        o = out[sl]
        if fast:
            lv, correct = mean_cross_entropy(o, T)
            res.append((lv, correct / len(T)))
        else:
            res.append((float(loss_fn(o, T)), float((o.argmax(1) == T).double().mean()) if classify else None))
    return res


def _params(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def _flatten_state(prefix: str, obj: Any, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Split an optimizer state tree into tensors (safetensors) and JSON scalars."""
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj.detach().contiguous()
    elif isinstance(obj, dict):
        meta[prefix] = {"__dict__": list(obj)}  # insertion order matters for sums
        for k, v in obj.items():
            _flatten_state(f"{prefix}/{k}", v, tensors, meta)
    elif isinstance(obj, list):
        meta[prefix] = {"__list__": len(obj)}
        for i, v in enumerate(obj):
            _flatten_state(f"{prefix}/{i}", v, tensors, meta)
    else:
        meta[prefix] = obj


def _unflatten_state(prefix: str, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> Any:
    if prefix in tensors:
        return tensors[prefix]
    m = meta[prefix]
    if isinstance(m, dict) and "__dict__" in m:
        return {k: _unflatten_state(f"{prefix}/{k}", tensors, meta) for k in m["__dict__"]}
    if isinstance(m, dict) and "__list__" in m:
        return [_unflatten_state(f"{prefix}/{i}", tensors, meta) for i in range(m["__list__"])]
    return m


def _save_checkpoint(ckpt: Path, *, epoch, step, params, opt_state, history, snapshots, snapshot_steps, path_len, cfg_dict):
    from safetensors.torch import save as st_save

    tensors: dict[str, torch.Tensor] = {f"param/{k}": v.contiguous() for k, v in params.items()}
    meta: dict[str, Any] = {}
    _flatten_state("opt", opt_state, tensors, meta)
    for i, snap in enumerate(snapshots):
        for k, v in snap.items():
            tensors[f"snap/{i}/{k}"] = v.contiguous()
    state = {"epoch": epoch, "step": step, "opt_meta": meta, "history": {k: list(map(float, v)) for k, v in history.items()},
             "n_snapshots": len(snapshots), "snapshot_steps": snapshot_steps, "path_length": path_len, "config": cfg_dict}
    # One file, one atomic rename: tensors and the state that describes them can never
    # disagree, whenever the process is killed. state.json is a human-readable copy only.
    atomic_write_bytes(ckpt / "state.safetensors", st_save(tensors, metadata={"tamelab_state": json.dumps(state)}))
    atomic_write_json(ckpt / "state.json", state)


def _load_checkpoint(ckpt: Path, cfg_dict: dict) -> dict[str, Any] | None:
    from safetensors import safe_open
    from safetensors.torch import load_file

    if not (ckpt / "state.safetensors").is_file():
        return None
    with safe_open(str(ckpt / "state.safetensors"), framework="pt") as fh:
        header = fh.metadata() or {}
    if "tamelab_state" not in header:
        raise InputError("--resume", f"{ckpt / 'state.safetensors'} is not a tamelab checkpoint", "drop --resume to start afresh")
    meta = json.loads(header["tamelab_state"])
    if meta["config"] != cfg_dict:
        raise InputError("--resume", "the checkpoint was written with a different config", "use the same config, or drop --resume")
    tensors = load_file(str(ckpt / "state.safetensors"))
    params = {k[len("param/"):]: v for k, v in tensors.items() if k.startswith("param/")}
    snaps: list[dict[str, torch.Tensor]] = [{} for _ in range(meta["n_snapshots"])]
    for k, v in tensors.items():
        if k.startswith("snap/"):
            _, i, name = k.split("/", 2)
            snaps[int(i)][name] = v
    return {
        "epoch": meta["epoch"], "step": meta["step"], "params": params,
        "opt_state": _unflatten_state("opt", tensors, meta["opt_meta"]),
        "history": {k: list(v) for k, v in meta["history"].items()},
        "snapshots": snaps, "snapshot_steps": meta["snapshot_steps"], "path_length": meta["path_length"],
    }


def fit(
    cfg: TrainConfig | dict[str, Any] | None = None,
    *,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    stop_after_epochs: int | None = None,
) -> TrainResult:
    """Train a ReLU MLP with monitors; see the module docstring.

    Args:
        cfg: a :class:`TrainConfig` (or a dict validated into one).
        checkpoint_dir: where to write an atomic checkpoint after every epoch.
        resume: continue from the checkpoint in ``checkpoint_dir`` if there is one.
        stop_after_epochs: stop after this many epochs *of this call* (a test hook
            that simulates an interrupted run; the result then has status
            ``NOT_CONVERGED``).
    """
    from ..config import validate

    if cfg is None:
        cfg = TrainConfig()
    elif isinstance(cfg, dict):
        cfg = validate(TrainConfig, cfg, source="train config")
    t0 = time.perf_counter()
    seed = resolve_seed(cfg.seed)
    dtype = torch.float64 if cfg.dtype == "float64" else torch.float32
    train = load_data(cfg.data, split="train", seed=cfg.split_seed, test_fraction=cfg.test_fraction)
    test = load_data(cfg.data, split="test", seed=cfg.split_seed, test_fraction=cfg.test_fraction)
    classify = cfg.loss == "cross_entropy"
    k_out = (train.n_classes if train.y is not None and (classify or train.Y is None) else train.Y.shape[1])
    if classify and test.y is not None:
        k_out = max(k_out, int(test.y.max()) + 1)
    widths = list(cfg.widths) if cfg.widths else [train.d, 64, 64, 64, k_out]
    if widths[0] != train.d:
        raise InputError("widths", f"first width {widths[0]} != input dimension {train.d} of {cfg.data!r}", f"use widths starting with {train.d}")
    if widths[-1] != k_out:
        raise InputError("widths", f"last width {widths[-1]} != {k_out} outputs needed by {cfg.data!r}", f"use widths ending with {k_out}")
    cfg_dict = cfg.model_dump()
    cfg_dict["widths"] = widths

    model = mlp(widths, seed=seed, dtype=dtype)
    init_model = copy.deepcopy(model).eval()
    loss_fn = nn.functional.cross_entropy if classify else nn.functional.mse_loss
    Xtr = torch.as_tensor(train.X, dtype=dtype)
    Ttr = _targets(train, cfg.loss, k_out, dtype)
    Xte = torch.as_tensor(test.X, dtype=dtype)
    Tte = _targets(test, cfg.loss, k_out, dtype)

    sched = make_schedule(cfg.schedule, cfg.lr, b=cfg.schedule_b, p=cfg.schedule_p)
    opt = make_optimizer(cfg.optimizer, sched, momentum=cfg.momentum, beta1=cfg.beta1, beta2=cfg.beta2, eps=cfg.eps, weight_decay=cfg.weight_decay)
    params = _params(model)
    theta0 = {k: v.clone() for k, v in params.items()}
    opt_state = opt.init(params)
    hist: dict[str, list[float]] = {k: [] for k in _STEP_KEYS + _EPOCH_KEYS}
    snapshots = [copy.deepcopy(params)]
    snapshot_steps = [0]
    step, start_epoch, path_len, resumed = 0, 0, 0.0, None
    ckpt = Path(checkpoint_dir) if checkpoint_dir else None
    if resume and ckpt is not None:
        state = _load_checkpoint(ckpt, cfg_dict)
        if state is not None:
            # keep the parameter order of the model: norms are sums in this order (bitwise resume)
            params = {k: state["params"][k] for k in params}
            opt_state, hist = state["opt_state"], state["history"]
            snapshots = [{k: snap[k] for k in params} for snap in state["snapshots"]]
            snapshot_steps, path_len = state["snapshot_steps"], state["path_length"]
            step, start_epoch = state["step"], state["epoch"] + 1
            resumed = state["epoch"]

    Xall = torch.cat([Xtr, Xte])  # one forward pass evaluates both splits
    names = list(params)
    theta0_flat = torch.cat([theta0[k].reshape(-1) for k in names])
    n_params = sum(v.numel() for v in params.values())
    pending: list[torch.Tensor] = []
    norm_batch = max(1, min(_NORM_BATCH, _PENDING_BYTES // max(1, n_params * theta0_flat.element_size())))
    epochs_this_call = 0
    last_epoch = start_epoch - 1
    n = train.n
    for epoch in progress(range(start_epoch, cfg.epochs), desc="train", total=cfg.epochs - start_epoch):
        perm = np.random.default_rng([seed, epoch]).permutation(n)
        for lo in range(0, n, cfg.batch_size):
            idx = torch.as_tensor(perm[lo : lo + cfg.batch_size])
            p_req = {k: v.clone().requires_grad_(True) for k, v in params.items()}
            out = torch.func.functional_call(model, p_req, (Xtr[idx],))
            loss = loss_fn(out, Ttr[idx])
            lv = loss.item()
            if not math.isfinite(lv):
                raise ComputationError(f"non-finite training loss at step {step} (epoch {epoch}); lower the learning rate")
            grads = dict(zip(names, torch.autograd.grad(loss, [p_req[k] for k in names])))
            updates, opt_state = opt.update(grads, opt_state, params)
            params = apply_updates(params, updates)
            step += 1
            un = opt_state.get("update_norm")  # computed by the transform already: don't pay twice
            path_len += un if un is not None else tree_norm(updates)
            if step % cfg.record_every == 0:
                hist["step"].append(step)
                hist["epoch"].append(epoch + lo / n)
                hist["loss"].append(lv)
                hist["grad_norm"].append(opt_state["grad_norm"])
                hist["lr"].append(opt_state["lr"])
                # parameter norms: filled in batches of recorded steps (see _flush_norms)
                pending.append(torch.cat([params[k].reshape(-1) for k in names]))
                hist["param_norm"].append(float("nan"))
                hist["dist_init"].append(float("nan"))
                hist["path_length"].append(path_len)
                if len(pending) >= norm_batch:
                    _flush_norms(pending, theta0_flat, hist)
            if cfg.snapshot_every and step % cfg.snapshot_every == 0:
                snapshots.append({k: v.clone() for k, v in params.items()})
                snapshot_steps.append(step)
        _flush_norms(pending, theta0_flat, hist)
        if not cfg.snapshot_every:
            snapshots.append({k: v.clone() for k, v in params.items()})
            snapshot_steps.append(step)
        last_epoch = epoch
        if (epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs:
            model.load_state_dict(params, strict=False)
            (trl, tra), (tel, tea) = _evaluate_both(model, Xall, len(Xtr), Ttr, Tte, loss_fn, classify)
            hist["acc_epoch"].append(epoch + 1)
            hist["train_loss"].append(trl)
            hist["test_loss"].append(tel)
            hist["train_acc"].append(tra if tra is not None else float("nan"))
            hist["test_acc"].append(tea if tea is not None else float("nan"))
        if ckpt is not None:
            _save_checkpoint(ckpt, epoch=epoch, step=step, params=params, opt_state=opt_state, history=hist,
                             snapshots=snapshots, snapshot_steps=snapshot_steps, path_len=path_len, cfg_dict=cfg_dict)
        epochs_this_call += 1
        if stop_after_epochs is not None and epochs_this_call >= stop_after_epochs and epoch + 1 < cfg.epochs:
            break
    done = last_epoch + 1 == cfg.epochs
    if done and snapshot_steps[-1] != step:
        snapshots.append({k: v.clone() for k, v in params.items()})
        snapshot_steps.append(step)
    model.load_state_dict(params, strict=False)
    model.eval()
    history = {k: np.asarray(v, dtype=np.float64) for k, v in hist.items()}
    return TrainResult(
        status=Status.OK if done else Status.NOT_CONVERGED,
        seed=seed, seconds=time.perf_counter() - t0, config=cfg_dict,
        epochs_run=last_epoch + 1, steps=step,
        final_loss=hist["loss"][-1] if hist["loss"] else float("nan"),
        final_train_loss=hist["train_loss"][-1] if hist["train_loss"] else float("nan"),
        final_test_loss=hist["test_loss"][-1] if hist["test_loss"] else float("nan"),
        final_train_acc=hist["train_acc"][-1] if classify and hist["train_acc"] else None,
        final_test_acc=hist["test_acc"][-1] if classify and hist["test_acc"] else None,
        dist_init=tree_norm({k: params[k] - theta0[k] for k in names}), path_length=path_len,
        n_params=n_params, widths=widths, resumed_from_epoch=resumed,
        model=model, init_model=init_model, train=train, test=test, history=history,
        snapshots=snapshots, snapshot_steps=snapshot_steps,
    )
