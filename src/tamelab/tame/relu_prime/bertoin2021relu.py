r"""Numerical influence of ReLU'(0): Bertoin, Bolte, Gerchinovitz & Pauwels (NeurIPS 2021, arXiv:2106.12915).

Backpropagation through :math:`\mathrm{relu}` needs a value for :math:`\mathrm{relu}'(0)`; any
:math:`s\in[0,1]` is a valid choice (it selects an element of a conservative field, Bolte & Pauwels,
arXiv:1909.10300), and in exact arithmetic the set of parameters where the choice matters — the
*bifurcation zone* :math:`S=\{\theta:\ \text{backprop with } s=0 \text{ and } s=1 \text{ differ on some sample}\}` —
is Lebesgue-null. In floating point exact zeros of pre-activations are hit: systematically in 16 bits,
occasionally in 32 bits, essentially never in 64 bits.

The ops (:mod:`._ops`) and this module provide:

* :class:`ReLUPrime` / :func:`relu_prime`: ReLU whose backward uses ``s`` at exactly 0
  (a custom ``autograd.Function``, works under ``torch.func.grad``/``vmap``);
* :class:`KinkCounter`: forward hooks counting exact-zero inputs of every ReLU per step;
* :func:`bifurcation_volume`: Monte-Carlo estimate of the fraction of initialisations in S (protocol A of spec §4.4)
  with a Wilson 95 % interval;
* :func:`paired_training`: the same initialisation, batch order and step sizes with ``s=0`` and ``s=1``
  (protocol B), recording kinks, the parameter :math:`L^1` gap and accuracy per epoch;
* :func:`relu_prime_zero_study` (pure ``config -> dict``) and :func:`plot_relu_prime_zero`.

# NOTE [float16 on CPU]: float16 is *emulated* GPU-style (CPU float16 kernels are ~20x slower than float32):
# parameters, activations and gradients live on the float16 grid (float32 tensors rounded to float16 after
# every op); each matmul accumulates in float32 and is rounded to float16, then the bias is added and the
# sum rounded to float16 (spec §4.4 protocol B).
# ``bfloat16`` runs natively. float32 / float64 are native CPU kernels (BLAS reduction order matters:
# record the hardware; results in 32 bits are platform dependent).
# NOTE [volume]: we mark θ ∈ S at the first batch where the *first-layer* weight gradients differ bitwise
# (as in the authors' notebook), over one epoch of the training split.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from ..._numerics import one_thread
from ..._rng import resolve_seed
from ...errors import InputError
from ...result import Result, Status
from ._ops import DTYPES, KinkCounter, check_s, relu_prime_mlp

__all__ = [
    "bifurcation_volume",
    "BifurcationVolume",
    "paired_training",
    "PairedTraining",
    "relu_prime_zero_study",
    "ReluPrimeStudy",
    "plot_relu_prime_zero",
    "wilson_interval",
]


@dataclasses.dataclass
class BifurcationVolume(Result):
    """Fraction of initialisations in the bifurcation zone S (protocol A), with its Wilson 95 % interval."""

    kind = "relu_prime_bifurcation_volume"

    dtype: str = ""
    n_init: int = 0
    in_S: int = 0
    fraction: float = float("nan")
    wilson95: tuple[float, float] = (0.0, 1.0)
    exact_zeros_seen: int = 0
    first_batch_mean: float | None = None


@dataclasses.dataclass
class PairedTraining(Result):
    """One network per ReLU'(0) value trained from the same init and batch order (protocol B)."""

    kind = "relu_prime_paired_training"

    dtype: str = ""
    runs: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    param_l1_gap: float = float("nan")
    bitwise_identical: bool = False
    test_acc_diff_points: float = float("nan")


@dataclasses.dataclass
class ReluPrimeStudy(Result):
    """The precision × ReLU'(0) study (see :func:`relu_prime_zero_study`)."""

    kind = "relu_prime_zero_study"

    config: dict[str, Any] = dataclasses.field(default_factory=dict)
    volume: dict[str, BifurcationVolume] = dataclasses.field(default_factory=dict)
    training: dict[str, list[PairedTraining]] = dataclasses.field(default_factory=dict)
    summary: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    torch: str = ""
    note: str = ""


def _flat_params(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1).to(torch.float64) for p in model.parameters()])


def wilson_interval(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion k/n (95 % by default)."""
    if n <= 0:
        return (0.0, 1.0)
    ph = k / n
    den = 1 + z * z / n
    c = (ph + z * z / (2 * n)) / den
    h = z * math.sqrt(ph * (1 - ph) / n + z * z / (4 * n * n)) / den
    return (0.0 if k == 0 else max(0.0, c - h), 1.0 if k == n else min(1.0, c + h))


# ------------------------------------------------------------------------------------------- protocols


def _upcast(out: torch.Tensor) -> torch.Tensor:
    """Loss in float32 for 16-bit outputs (as mixed-precision training does), else in the output's dtype."""
    return out.float() if out.dtype in (torch.float16, torch.bfloat16) else out


def _batches(n: int, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    perm = np.random.default_rng([seed, epoch, 7]).permutation(n)
    return [perm[i : i + batch_size] for i in range(0, n, batch_size)]


@one_thread()  # tiny, latency-bound kernels
def bifurcation_volume(
    X: np.ndarray,
    y: np.ndarray,
    *,
    widths: Sequence[int],
    dtype: str,
    n_init: int,
    batch_size: int,
    seed: int = 0,
    max_samples: int | None = None,
) -> BifurcationVolume:
    r"""Fraction of initialisations in the bifurcation zone S (spec §4.1, §4.4 protocol A).

    For each initialisation (seeds ``[seed, i]``), sweep one epoch of mini-batches (seeded order) and mark θ ∈ S at
    the first batch where the first-layer weight gradients of the ``s=0`` and ``s=1`` networks differ bitwise.
    Returns ``fraction``, ``in_S``, ``wilson95``, ``exact_zeros_seen`` (in the s=0 network), ``first_batch_mean``.
    """
    Xt_all = torch.as_tensor(X)
    yt_all = torch.as_tensor(y, dtype=torch.long)
    n = X.shape[0] if max_samples is None else min(max_samples, X.shape[0])
    in_S, zeros_seen, first_batch = 0, 0, []
    for i in range(n_init):
        init_seed = int(np.random.default_rng([seed, i]).integers(0, 2**31))
        m0 = relu_prime_mlp(widths, 0.0, seed=init_seed, dtype=dtype)
        m1 = relu_prime_mlp(widths, 1.0, seed=init_seed, dtype=dtype)
        wdt = m0[0].weight.dtype
        hit = None
        with KinkCounter(m0) as kc:
            for b, idx in enumerate(_batches(n, batch_size, init_seed, 0)):
                xb, yb = Xt_all[idx].to(wdt), yt_all[idx]
                grads = []
                for mm in (m0, m1):
                    mm.zero_grad(set_to_none=True)
                    nn.functional.cross_entropy(_upcast(mm(xb)), yb).backward()
                    grads.append(mm[0].weight.grad)
                if not torch.equal(grads[0], grads[1]):
                    hit = b
                    break
        zeros_seen += kc.total
        if hit is not None:
            in_S += 1
            first_batch.append(hit)
    lo, hi = wilson_interval(in_S, n_init)
    return BifurcationVolume(
        seed=seed,
        dtype=dtype,
        n_init=n_init,
        in_S=in_S,
        fraction=in_S / max(n_init, 1),
        wilson95=(lo, hi),
        exact_zeros_seen=zeros_seen,
        first_batch_mean=float(np.mean(first_batch)) if first_batch else None,
    )


@torch.no_grad()
def _accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    wdt = next(model.parameters()).dtype
    return float((model(X.to(wdt)).float().argmax(1) == y).double().mean())


@one_thread()  # tiny, latency-bound kernels
def paired_training(
    train,
    test,
    *,
    widths: Sequence[int],
    dtype: str,
    s_values: Sequence[float] = (0.0, 1.0),
    seed: int = 0,
    epochs: int = 30,
    batch_size: int = 32,
    lr: float = 0.05,
) -> PairedTraining:
    """Train one network per ``s`` from the same init with the same batch order (plain SGD, spec §4.4 protocol B).

    Returns, per ``s`` (key ``str(float(s))``): kinks per epoch (exact zeros hit in training forward passes), train
    loss, train/test accuracy per epoch; the parameter L¹ gap between the first and last ``s`` runs and
    ``bitwise_identical``.
    """
    Xtr, ytr = torch.as_tensor(train.X), torch.as_tensor(train.y, dtype=torch.long)
    Xte, yte = torch.as_tensor(test.X), torch.as_tensor(test.y, dtype=torch.long)
    from ...models import mlp

    base = mlp(widths, seed=seed, dtype=torch.float64)
    models = {s: relu_prime_mlp(widths, s, dtype=dtype, init=base) for s in s_values}
    runs: dict[str, Any] = {}
    for s, model in models.items():
        wdt = next(model.parameters()).dtype
        emulated = dtype == "float16"
        rec = {"kinks_per_epoch": [], "train_loss": [], "test_acc": [], "train_acc": []}
        with KinkCounter(model) as kc:
            for ep in range(epochs):
                before = kc.total
                losses = []
                for idx in _batches(Xtr.shape[0], batch_size, seed, ep):
                    model.zero_grad(set_to_none=True)
                    loss = nn.functional.cross_entropy(_upcast(model(Xtr[idx].to(wdt))), ytr[idx])
                    loss.backward()
                    with torch.no_grad():
                        for p in model.parameters():
                            p -= (lr * p.grad).to(p.dtype)  # update in the storage precision
                            if emulated:
                                p.copy_(p.to(torch.float16).to(torch.float32))
                    losses.append(float(loss.detach()))
                rec["kinks_per_epoch"].append(kc.total - before)
                rec["train_loss"].append(float(np.mean(losses)))
                saved = kc.counts.copy(), kc.seen
                rec["test_acc"].append(_accuracy(model, Xte, yte))
                rec["train_acc"].append(_accuracy(model, Xtr, ytr))
                kc.counts, kc.seen = saved  # evaluation passes are not training kinks
            rec["kinks_total"] = kc.total
            rec["preactivations_seen"] = kc.seen
        rec["params"] = _flat_params(model)
        runs[str(float(s))] = rec
    keys = list(runs)
    gap = float((runs[keys[0]]["params"] - runs[keys[-1]]["params"]).abs().sum()) if len(keys) > 1 else 0.0
    identical = bool(torch.equal(runs[keys[0]]["params"], runs[keys[-1]]["params"])) if len(keys) > 1 else True
    for r in runs.values():
        r.pop("params")
    return PairedTraining(
        seed=seed,
        dtype=dtype,
        runs=runs,
        param_l1_gap=gap,
        bitwise_identical=identical,
        test_acc_diff_points=100 * abs(runs[keys[0]]["test_acc"][-1] - runs[keys[-1]]["test_acc"][-1]),
    )


_DEFAULTS: dict[str, Any] = {
    "seeds": [0, 1, 2, 3],
    "epochs": 30,
    "dtypes": ["float16", "float32", "float64"],
    "s_values": [0.0, 1.0],
    "batch_size": 32,
    "lr": 0.05,
    "widths": [64, 128, 128, 128, 10],
    "volume_inits": 100,
    "volume_widths": [64, 256, 256, 256, 10],
    "volume_batch_size": 128,
    "volume_samples": 1500,
    "data": "digits",
    "split_seed": 0,
    "quick": False,
}
_QUICK: dict[str, Any] = {
    "seeds": [0],
    "epochs": 2,
    "volume_inits": 8,
    "volume_widths": [64, 128, 128, 10],
    "volume_samples": 512,
}


def _validate(config: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise InputError("config", f"expected a dict, got {type(config).__name__}")
    unknown = set(config) - set(_DEFAULTS)
    if unknown:
        raise InputError("config", f"unknown key(s) {sorted(unknown)}", f"allowed keys: {', '.join(sorted(_DEFAULTS))}")
    cfg = dict(_DEFAULTS)
    if config.get("quick"):
        cfg.update(_QUICK)
    cfg.update(config)
    for d in cfg["dtypes"]:
        if d not in DTYPES:
            raise InputError("dtypes", f"unknown dtype {d!r}", f"use a subset of {', '.join(DTYPES)}")
    for s in cfg["s_values"]:
        check_s(s)
    if len(cfg["s_values"]) < 2:
        raise InputError("s_values", "need at least two values of ReLU'(0) to compare", "e.g. [0, 1]")
    for k in ("epochs", "batch_size", "volume_inits", "volume_batch_size", "volume_samples"):
        if (
            not isinstance(cfg[k], (int, np.integer))
            or isinstance(cfg[k], bool)
            or cfg[k] < (0 if k in ("volume_inits", "epochs") else 1)
        ):
            raise InputError(k, f"must be a non-negative integer, got {cfg[k]!r}")
    if not (isinstance(cfg["lr"], (int, float)) and cfg["lr"] > 0):
        raise InputError("lr", f"must be > 0, got {cfg['lr']!r}")
    if not cfg["seeds"]:
        raise InputError("seeds", "need at least one seed")
    cfg["seeds"] = [resolve_seed(int(s)) for s in cfg["seeds"]]
    for k in ("widths", "volume_widths"):
        w = [int(v) for v in cfg[k]]
        if len(w) < 2 or any(v < 1 for v in w):
            raise InputError(k, f"need >= 2 positive widths, got {cfg[k]!r}", "e.g. [64, 128, 10]")
        cfg[k] = w
    return cfg


def relu_prime_zero_study(config: dict) -> ReluPrimeStudy:
    r"""The Bertoin et al. study on digits: precision × ReLU'(0) (spec §4.4).

    Config keys (defaults = spec §4.4; ``quick: True`` shrinks seeds/epochs/volume): ``seeds``, ``epochs``, ``dtypes``
    (``float16`` emulated, ``bfloat16``, ``float32``, ``float64``), ``s_values``, ``batch_size``, ``lr``, ``widths``
    (input 64 … output 10), ``volume_inits``, ``volume_widths``, ``volume_batch_size``, ``volume_samples``, ``data``,
    ``split_seed``, ``quick``.

    Returns a :class:`ReluPrimeStudy` (``to_dict()`` for JSON): ``config``; ``volume`` per dtype (fraction of inits
    in the bifurcation zone with Wilson
    interval, exact zeros seen); ``training`` per dtype: per seed the paired runs (kinks per epoch, loss and accuracy
    curves, L¹ gap, bitwise identity); ``summary`` per dtype (kinks min/max, gap min/max, max accuracy difference,
    all_bitwise_identical, kink rate per pre-activation); ``seconds``; ``note``.
    """
    from ...data import load_data

    t0 = time.perf_counter()
    cfg = _validate(config)
    train = load_data(cfg["data"], split="train", seed=cfg["split_seed"])
    test = load_data(cfg["data"], split="test", seed=cfg["split_seed"])
    if train.y is None:
        raise InputError("data", "the study needs a classification dataset with labels", "use digits")
    if cfg["widths"][0] != train.d or cfg["volume_widths"][0] != train.d:
        raise InputError("widths", f"first width must equal the data dimension {train.d}")
    res = ReluPrimeStudy(
        status=Status.OK,
        seed=cfg["seeds"][0],
        config=cfg,
        torch=torch.__version__,
        note="float16 is emulated (fp16 storage, fp32 matmul accumulation, rounded to fp16); "
        "bfloat16/float32/float64 are native CPU kernels. Exact kink counts depend on BLAS and "
        "hardware.",
    )
    for dt in cfg["dtypes"]:
        if cfg["volume_inits"] > 0:
            res.volume[dt] = bifurcation_volume(
                train.X,
                train.y,
                widths=cfg["volume_widths"],
                dtype=dt,
                n_init=cfg["volume_inits"],
                batch_size=cfg["volume_batch_size"],
                seed=cfg["seeds"][0],
                max_samples=cfg["volume_samples"],
            )
        res.training[dt] = [
            paired_training(
                train,
                test,
                widths=cfg["widths"],
                dtype=dt,
                s_values=cfg["s_values"],
                seed=s,
                epochs=cfg["epochs"],
                batch_size=cfg["batch_size"],
                lr=cfg["lr"],
            )
            for s in cfg["seeds"]
        ]
        res.summary[dt] = _summary(res.training[dt], cfg, res.volume.get(dt))
    res.seconds = time.perf_counter() - t0
    return res


def _summary(per_seed: list[PairedTraining], cfg: dict[str, Any], volume: BifurcationVolume | None) -> dict[str, Any]:
    kinks = [r["kinks_total"] for p in per_seed for r in p.runs.values()]
    seen = [r["preactivations_seen"] for p in per_seed for r in p.runs.values()]
    gaps = [p.param_l1_gap for p in per_seed]
    acc = (
        {str(s): float(np.mean([p.runs[str(float(s))]["test_acc"][-1] for p in per_seed])) for s in cfg["s_values"]}
        if cfg["epochs"] > 0
        else {}
    )
    return {
        "kinks_min": int(min(kinks)),
        "kinks_max": int(max(kinks)),
        "kinks_mean": float(np.mean(kinks)),
        "kink_rate": float(sum(kinks) / max(sum(seen), 1)),
        "param_l1_gap_min": float(min(gaps)),
        "param_l1_gap_max": float(max(gaps)),
        "all_bitwise_identical": all(p.bitwise_identical for p in per_seed),
        "max_test_acc_diff_points": float(max(p.test_acc_diff_points for p in per_seed)),
        "final_test_acc": acc,
        "volume_fraction": volume.fraction if volume is not None else None,
    }


def plot_relu_prime_zero(result: ReluPrimeStudy | dict):
    """Figure: kinks per epoch, training-loss curves (s=0 solid, s=1 dashed) and test accuracy, per precision.

    ``result`` is the :class:`ReluPrimeStudy` or its ``to_dict()``.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    if isinstance(result, Result):
        result = result.to_dict()
    if "training" not in result:
        raise InputError("result", "has no 'training' entry", "pass the result of relu_prime_zero_study")
    dts = list(result["training"])
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.6))
    colors = dict(zip(dts, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for dt in dts:
        for k, p in enumerate(result["training"][dt]):
            for j, (s, r) in enumerate(p["runs"].items()):
                ep = np.arange(1, len(r["train_loss"]) + 1)
                ls = "-" if j == 0 else "--"
                lab = f"{dt}, s={s}" if k == 0 else None
                ax[0].plot(ep, np.asarray(r["kinks_per_epoch"]) + 0.5, ls, color=colors[dt], label=lab, lw=1)
                ax[1].plot(ep, r["train_loss"], ls, color=colors[dt], label=lab, lw=1)
                ax[2].plot(ep, 100 * np.asarray(r["test_acc"]), ls, color=colors[dt], label=lab, lw=1)
    ax[0].set_yscale("log")
    ax[0].set_title("exact zeros hit per epoch (+0.5)")  # noqa: E702
    ax[1].set_yscale("log")
    ax[1].set_title("training loss")  # noqa: E702
    ax[2].set_title("test accuracy (%)")
    for a in ax:
        a.set_xlabel("epoch")
    ax[1].legend(fontsize=7)
    fig.suptitle("ReLU'(0) ∈ {0,1} across precisions (Bertoin et al. 2021)", fontsize=10)
    fig.tight_layout()
    return fig
