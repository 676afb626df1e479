r"""The ADAM-vs-NAG autoencoder study of De, Mukherjee & Ullah (arXiv:1807.06766, §5).

Fully connected ReLU autoencoders trained with mini-batch ADAM (β1 ∈ {0.99, 0.9}), RMSProp and NAG (momentum 0.9,
0.99), each learning rate tuned on a grid that is *extended until the optimum lies inside it*; per-seed final losses
and gradient norms, and the smallest Hessian eigenvalue along the best NAG and ADAM runs.

The paper's statements (abstract of arXiv:1807.06766): at β1 = 0.99 ADAM reaches lower training and test losses than
a carefully tuned NAG on most autoencoders ("and large enough nets if using mini-batches", v1); NAG reduces the
gradient norm better, and its iterates show an increasing trend of the smallest Hessian eigenvalue.

# NOTE [scale]: the paper trains MNIST autoencoders (784-wide inputs, hidden widths up to 1000) for many epochs; this
# machine has two busy CPU cores. The full study uses MNIST-1D (40 inputs, ``n_samples`` = 8000 generated offline)
# with hidden widths 256-32-256, mini-batches of 128, 3 seeds and 20 epochs; the quick study digits (64 inputs).

References:
    De, Mukherjee & Ullah, *Convergence guarantees for RMSProp and ADAM in non-convex optimization and
    an empirical comparison to Nesterov acceleration*, arXiv:1807.06766 (ICLR 2019 version).
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import numpy as np
import torch

from ..._numerics import one_thread
from ...errors import InputError
from ...result import Result, Status
from ._hessian import min_hessian_eigenvalue

__all__ = ["adam_vs_nag_study", "AdamNagStudy", "plot_adam_vs_nag", "STUDY_OPTIMIZERS"]


@dataclasses.dataclass
class AdamNagStudy(Result):
    """The ADAM-vs-NAG study (see :func:`adam_vs_nag_study`)."""

    kind = "adam_vs_nag_study"

    config: dict[str, Any] = dataclasses.field(default_factory=dict)
    widths: list[int] = dataclasses.field(default_factory=list)
    runs: dict[str, Any] = dataclasses.field(default_factory=dict)
    best: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    ranking: list[str] = dataclasses.field(default_factory=list)
    conclusion: dict[str, Any] = dataclasses.field(default_factory=dict)
    min_eig: dict[str, Any] = dataclasses.field(default_factory=dict)
    provenance_note: str = ""


# ----------------------------------------------------------------------------- ADAM vs NAG autoencoder study

_STUDY_DEFAULTS: dict[str, Any] = {
    "data": "mnist1d",
    "n_samples": 8000,
    "seeds": [0, 1, 2],
    "epochs": 20,
    "hidden": [256, 32, 256],
    "batch_size": 128,
    "lrs": {"adam": [1e-4, 3e-4, 1e-3, 3e-3], "rmsprop": [1e-4, 3e-4, 1e-3, 3e-3], "nag": [0.01, 0.03, 0.1, 0.3]},
    "grid_expansions": 2,
}
_QUICK: dict[str, Any] = {
    "data": "digits",
    "seeds": [0],
    "epochs": 6,
    "batch_size": 64,
    "grid_expansions": 1,
    "min_eig_every": 3,
    "min_eig_tol": 5e-2,
    "min_eig_max_dim": 60,
    "min_eig_for": ["nag"],
    "optimizers": ["adam_b1_0.99", "nag_0.9", "nag_0.99"],
    "lrs": {"adam": [1e-3, 3e-3, 9e-3], "rmsprop": [3e-4, 1e-3, 3e-3], "nag": [0.1, 0.3, 0.9]},
}
#: an increasing trend of λ_min is reported when Kendall's tau > 0 with (two-sided, exact for small n) p below this
#: level
MIN_EIG_TREND_LEVEL = 0.05
#: defaults of the smallest-Hessian-eigenvalue observation (spec §6.3/§6.4): checkpoints every 5 epochs (4 of the
#: quick 8)
_MIN_EIG_DEFAULTS = {"min_eig_every": 5, "min_eig_tol": 1e-3, "min_eig_max_dim": 150, "min_eig_for": ["nag"]}
#: optimiser variants compared: name -> (family, kwargs)
STUDY_OPTIMIZERS = {
    "adam_b1_0.99": ("adam", {"beta1": 0.99, "beta2": 0.999, "eps": 1e-8}),
    "adam_b1_0.9": ("adam", {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}),
    "rmsprop": ("rmsprop", {"alpha": 0.99, "eps": 1e-8}),
    "nag_0.9": ("nag", {"momentum": 0.9}),
    "nag_0.99": ("nag", {"momentum": 0.99}),
}
_DATA = ("digits", "mnist1d")


def _int_list(cfg: dict[str, Any], key: str, lo: int) -> list[int]:
    v = cfg[key]
    v = [v] if isinstance(v, int) else list(v)
    if not v or any(isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < lo for x in v):
        raise InputError(key, f"need integers >= {lo}, got {cfg[key]!r}")
    return [int(x) for x in v]


def _check_int(cfg: dict[str, Any], key: str, lo: int, hi: int = 10**9) -> int:
    v = cfg[key]
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
        raise InputError(key, f"must be an integer in [{lo}, {hi}], got {v!r}")
    return int(v)


def _check_lrs(lrs) -> dict[str, list[float]]:
    if isinstance(lrs, (list, tuple)):
        lrs = {fam: list(lrs) for fam in ("adam", "rmsprop", "nag")}
    if not isinstance(lrs, dict):
        raise InputError(
            "lrs", f"must be a list or a dict family -> list, got {lrs!r}", "e.g. {'adam': [1e-3], 'nag': [0.1]}"
        )
    lrs = {**_STUDY_DEFAULTS["lrs"], **lrs}
    for fam, v in lrs.items():
        if fam not in ("adam", "rmsprop", "nag"):
            raise InputError("lrs", f"unknown family {fam!r}", "use adam, rmsprop, nag")
        if not v or any(not (isinstance(x, (int, float)) and x > 0) for x in v):
            raise InputError(f"lrs.{fam}", f"need positive learning rates, got {v!r}")
    return {k: sorted(float(x) for x in v) for k, v in lrs.items()}


def _study_config(config: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise InputError("config", f"must be a dict, got {type(config).__name__}")
    allowed = {"quick", "optimizers", *_STUDY_DEFAULTS, *_MIN_EIG_DEFAULTS}
    extra = set(config) - allowed
    if extra:
        raise InputError("config", f"unknown keys {sorted(extra)}", f"use {sorted(allowed)}")
    quick = bool(config.get("quick", False))
    cfg = {
        **_STUDY_DEFAULTS,
        **_MIN_EIG_DEFAULTS,
        **(_QUICK if quick else {}),
        **{k: v for k, v in config.items() if v is not None},
        "quick": quick,
    }
    if cfg["data"] not in _DATA:
        raise InputError("data", f"unknown data {cfg['data']!r}", f"use one of {', '.join(_DATA)}")
    cfg["seeds"], cfg["hidden"] = _int_list(cfg, "seeds", 0), _int_list(cfg, "hidden", 1)
    for key, lo, hi in (
        ("epochs", 1, 10000),
        ("batch_size", 1, 10**9),
        ("grid_expansions", 0, 10),
        ("n_samples", 100, 10**6),
        ("min_eig_every", 0, 10**6),
        ("min_eig_max_dim", 2, 10**6),
    ):
        cfg[key] = _check_int(cfg, key, lo, hi)
    cfg["lrs"] = _check_lrs(cfg["lrs"])
    opts = cfg.get("optimizers", list(STUDY_OPTIMIZERS))
    bad = [o for o in opts if o not in STUDY_OPTIMIZERS]
    if bad:
        raise InputError("optimizers", f"unknown {bad}", f"use a subset of {list(STUDY_OPTIMIZERS)}")
    cfg["optimizers"] = list(opts)
    tol = cfg["min_eig_tol"]
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not (0 < tol < 1):
        raise InputError("min_eig_tol", f"must be a number in (0, 1) (relative Lanczos residual), got {tol!r}")
    cfg["min_eig_tol"] = float(tol)
    if not set(cfg["min_eig_for"]) <= {"nag", "adam"}:
        raise InputError("min_eig_for", f"must be a subset of ['nag', 'adam'], got {cfg['min_eig_for']!r}")
    return cfg


def _mnist1d(n: int) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-1D inputs (train, test) generated offline:

    ``tamelab.data.load_data("mnist1d")`` when it exists, else ``mnist1d.data.make_dataset`` directly (never
    ``get_dataset``, which downloads), global RNG state restored.
    """
    from ...data import load_data

    try:
        return load_data("mnist1d", split="train", seed=0, n=n).X, load_data("mnist1d", split="test", seed=0, n=n).X
    except (TypeError, InputError):
        pass
    import random

    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError:
        raise InputError(
            "data", "mnist1d needs the 'mnist1d' package", "pip install mnist1d, or use data='digits'"
        ) from None
    args = get_dataset_args()
    args.num_samples, args.seed = int(n), 0
    state = random.getstate(), np.random.get_state()
    try:
        d = make_dataset(args)
    finally:
        random.setstate(state[0])
        np.random.set_state(state[1])
    return np.asarray(d["x"]), np.asarray(d["x_test"])


def _load(cfg: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, str]:
    from ...data import load_data

    if cfg["data"] == "digits":
        Xtr, Xte, note = (
            load_data("digits", split="train", seed=0).X,
            load_data("digits", split="test", seed=0).X,
            "scikit-learn digits (8x8), split seed 0",
        )
    else:
        Xtr, Xte = _mnist1d(cfg["n_samples"])
        note = f"MNIST-1D, {cfg['n_samples']} samples generated offline (seed 0), 80/20 split"
    return torch.as_tensor(Xtr, dtype=torch.float32), torch.as_tensor(Xte, dtype=torch.float32), note


def _recorder(Xtr, Xte, checkpoints, checkpoint_epochs):
    """A :class:`tamelab.train.Recorder`:

    per epoch (and at epoch 0) the full-batch train MSE, its gradient norm and the test MSE, and parameter checkpoints
    at ``checkpoint_epochs``; it keeps the run's history (``.history``) so a run stopped by a non-finite loss still has
    its curves.
    """
    from ...train import Recorder

    class AutoencoderRecorder(Recorder):
        name = "autoencoder"
        other_keys = ("ae_train_loss", "ae_test_loss", "ae_grad_norm")
        history: dict[str, list] = {}

        def _record(self, ctx, epoch: int) -> None:
            mse = ctx.loss  # the training loss: tamelab.losses "mse"
            p = {k: v.detach().clone().requires_grad_(True) for k, v in ctx.param_dict().items()}
            val = mse(torch.func.functional_call(ctx.model, p, (Xtr,)), Xtr)
            g = torch.autograd.grad(val, list(p.values()))
            with torch.no_grad():
                te = float(mse(torch.func.functional_call(ctx.model, ctx.param_dict(), (Xte,)), Xte))
            h = ctx.history
            h["ae_train_loss"].append(float(val.detach()))
            h["ae_test_loss"].append(te)
            h["ae_grad_norm"].append(float(torch.sqrt(sum((x.double() ** 2).sum() for x in g))))
            if checkpoints is not None and epoch in (checkpoint_epochs or ()):
                checkpoints[epoch] = {k: v.detach().clone() for k, v in ctx.param_dict().items()}

        def start(self, ctx) -> None:
            self.history = ctx.history
            self._record(ctx, 0)

        def on_epoch_end(self, ctx, epoch: int) -> None:
            self._record(ctx, epoch + 1)

    return AutoencoderRecorder()


def _train_autoencoder(
    widths,
    opt_name,
    lr,
    seed,
    epochs,
    batch_size,
    Xtr,
    Xte,
    checkpoints: dict[int, dict[str, torch.Tensor]] | None = None,
    checkpoint_epochs: set[int] | None = None,
) -> dict[str, list[float]]:
    """One autoencoder run by :func:`tamelab.train.train`, with per-epoch losses and gradient norm.

    One autoencoder run by :func:`tamelab.train.train` (seeded reshuffle per epoch, the optimiser's transform),
    with the per-epoch full-batch train loss, test loss and gradient norm; a diverged run ends with ``inf``.
    """
    from ...errors import ComputationError
    from ...models import mlp
    from ...train import adam, nag, rmsprop, train

    fam, kw = STUDY_OPTIMIZERS[opt_name]
    opt = {"adam": adam, "rmsprop": rmsprop, "nag": nag}[fam](lr, **kw)
    rec = _recorder(Xtr, Xte, checkpoints, checkpoint_epochs)
    try:
        train(
            mlp(widths, seed=seed, dtype=torch.float32),
            (Xtr, Xtr),
            loss="mse",
            optimizer=opt,
            epochs=epochs,
            batch_size=batch_size,
            recorders=[rec],
            seed=seed,
            shuffle=True,
            snapshot_every=None,
            record_every=10**9,
            eval_every=10**9,
        )
        diverged = False
    except ComputationError:
        diverged = True
    h = rec.history
    out = {
        "train_loss": list(h["ae_train_loss"]),
        "test_loss": list(h["ae_test_loss"]),
        "grad_norm": list(h["ae_grad_norm"]),
    }
    if diverged or not math.isfinite(out["train_loss"][-1]):
        n = len(out["train_loss"]) if math.isfinite(out["train_loss"][-1]) else len(out["train_loss"]) - 1
        out = {k: v[:n] + [math.inf] for k, v in out.items()}
    return out


def _min_eig_trend(widths, name, lr, seed, cfg, Xtr, Xte, stored_curve) -> dict[str, Any]:
    """Retrain the (deterministic) run with checkpoints and measure λ_min of the full-batch Hessian at each."""
    from scipy import stats

    from ...models import mlp

    every, epochs = cfg["min_eig_every"], cfg["epochs"]
    ep = sorted(set(range(0, epochs + 1, every)) | {epochs})
    ck: dict[int, dict[str, torch.Tensor]] = {}
    with one_thread():
        rec = _train_autoencoder(
            widths, name, lr, seed, epochs, cfg["batch_size"], Xtr, Xte, checkpoints=ck, checkpoint_epochs=set(ep)
        )
    model = mlp(widths, seed=seed, dtype=torch.float32)
    rows = []
    for e in sorted(ck):
        model.load_state_dict(ck[e])
        r = min_hessian_eigenvalue(model, Xtr, Xtr, tol=cfg["min_eig_tol"], max_dim=cfg["min_eig_max_dim"], seed=seed)
        rows.append(
            {"epoch": e, "lambda_min": r.lambda_min, "residual": r.residual, "converged": r.converged, "hvps": r.hvps}
        )
    lam = [r["lambda_min"] for r in rows]
    out: dict[str, Any] = {
        "lr": float(lr),
        "seed": int(seed),
        "epochs": [r["epoch"] for r in rows],
        "lambda_min": lam,
        "residuals": [r["residual"] for r in rows],
        "converged": [r["converged"] for r in rows],
        "hvps": [r["hvps"] for r in rows],
        "retrain_matches": rec["train_loss"] == stored_curve,
        "first": lam[0] if lam else None,
        "last": lam[-1] if lam else None,
    }
    if len(lam) >= 3 and np.ptp(lam) > 0:
        sp = stats.spearmanr(out["epochs"], lam)
        kt = stats.kendalltau(out["epochs"], lam)
        out.update(
            spearman=float(sp.statistic),
            spearman_p=float(sp.pvalue),
            kendall=float(kt.statistic),
            kendall_p=float(kt.pvalue),
        )
        # Kendall's p-value is exact for small n (no ties); Spearman's uses a t approximation (p = 0 at n = 3)
        out["increasing_trend"] = bool(kt.statistic > 0 and kt.pvalue < MIN_EIG_TREND_LEVEL)
    else:
        out.update(spearman=None, spearman_p=None, kendall=None, kendall_p=None, increasing_trend=None)
    return out


def _summary(rs: list[dict[str, list[float]]], lr: float, grid: list[float]) -> dict[str, Any]:
    curves = {
        key: np.mean([r[key] for r in rs], axis=0).tolist() if len({len(r[key]) for r in rs}) == 1 else None
        for key in ("train_loss", "test_loss", "grad_norm")
    }
    return {
        "lr": float(lr),
        "final_train_loss": float(np.mean([r["train_loss"][-1] for r in rs])),
        "lr_at_grid_edge": len(grid) > 1 and float(lr) in (grid[0], grid[-1]),
        "grid": list(grid),
        "final_test_loss": float(np.mean([r["test_loss"][-1] for r in rs])),
        "final_grad_norm": float(np.mean([r["grad_norm"][-1] for r in rs])),
        "final_train_loss_per_seed": [r["train_loss"][-1] for r in rs],
        "final_test_loss_per_seed": [r["test_loss"][-1] for r in rs],
        "final_grad_norm_per_seed": [r["grad_norm"][-1] for r in rs],
        "curves": curves,
    }


def _tune(name: str, cfg: dict[str, Any], widths, Xtr, Xte) -> tuple[dict[str, list], dict[str, Any]]:
    """Train ``name`` on its grid, extending the grid past an edge optimum ``grid_expansions`` times at most."""
    grid = list(cfg["lrs"][STUDY_OPTIMIZERS[name][0]])
    runs: dict[str, list] = {}

    def train(lr):
        with one_thread():
            runs[repr(lr)] = [
                _train_autoencoder(widths, name, lr, s, cfg["epochs"], cfg["batch_size"], Xtr, Xte)
                for s in cfg["seeds"]
            ]

    for lr in grid:
        train(lr)
    for i in range(cfg["grid_expansions"] + 1):
        finals = {float(k): float(np.mean([r["train_loss"][-1] for r in v])) for k, v in runs.items()}
        best = min(finals, key=lambda k: (finals[k], k))
        if len(grid) < 2 or best not in (grid[0], grid[-1]) or i == cfg["grid_expansions"]:
            break
        step = grid[1] / grid[0] if best == grid[0] else grid[-1] / grid[-2]
        new = best / step if best == grid[0] else best * step
        grid = sorted(grid + [new])
        train(new)
    return runs, _summary(runs[repr(best)], best, grid)


def _compare(best: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """ADAM β1 = 0.99 against the best NAG, per seed and on average (the paper's statements)."""
    concl: dict[str, Any] = {"ranking_by_train_loss": sorted(best, key=lambda k: best[k]["final_train_loss"])}
    nags = [k for k in best if k.startswith("nag")]
    if "adam_b1_0.99" not in best or not nags:
        return concl
    nb = min(nags, key=lambda k: best[k]["final_train_loss"])
    a, n = best["adam_b1_0.99"], best[nb]
    wins = [x < y for x, y in zip(a["final_train_loss_per_seed"], n["final_train_loss_per_seed"])]
    gwins = [y < x for x, y in zip(a["final_grad_norm_per_seed"], n["final_grad_norm_per_seed"])]
    concl.update(
        {
            "best_nag": nb,
            "adam_0.99_train_loss": a["final_train_loss"],
            "nag_train_loss": n["final_train_loss"],
            "adam_0.99_test_loss": a["final_test_loss"],
            "nag_test_loss": n["final_test_loss"],
            "adam_0.99_beats_nag_train": a["final_train_loss"] < n["final_train_loss"],
            "adam_0.99_beats_nag_train_seeds": f"{sum(wins)}/{len(wins)}",
            "adam_0.99_beats_nag_test": a["final_test_loss"] < n["final_test_loss"],
            "nag_grad_norm": n["final_grad_norm"],
            "adam_0.99_grad_norm": a["final_grad_norm"],
            "nag_smaller_grad_norm": n["final_grad_norm"] < a["final_grad_norm"],
            "nag_smaller_grad_norm_seeds": f"{sum(gwins)}/{len(gwins)}",
            "lr_optima_inside_grids": not (a["lr_at_grid_edge"] or n["lr_at_grid_edge"]),
        }
    )
    if "adam_b1_0.9" in best:
        concl["adam_0.99_beats_adam_0.9_train"] = a["final_train_loss"] < best["adam_b1_0.9"]["final_train_loss"]
    return concl


def adam_vs_nag_study(config: dict) -> AdamNagStudy:
    r"""ADAM (β1 ∈ {0.99, 0.9}) vs RMSProp vs NAG (momentum ∈ {0.9, 0.99}) on a wide autoencoder, mini-batches.

    Fully connected ReLU autoencoder ``d → hidden… → d`` (``tamelab.models.mlp``), MSE to the input, mini-batches,
    per-epoch full-batch train/test loss and gradient norm. Each optimiser's learning rate is tuned by mean final
    train loss over ``seeds``; when the best rate is at an edge of its grid, the grid is extended by one more rate
    in that direction (at most ``grid_expansions`` times), so the reported optimum lies inside the grid unless
    ``lr_at_grid_edge`` says otherwise.

    Args:
        config: ``data`` (``"mnist1d"`` or ``"digits"``), ``n_samples`` (MNIST-1D), ``seeds``, ``epochs``,
            ``hidden`` (widths), ``batch_size``, ``lrs`` (list for all families or ``{"adam"|"rmsprop"|"nag": [...]}``),
            ``grid_expansions``, ``optimizers`` (subset of :data:`STUDY_OPTIMIZERS`), ``quick`` (CI-sized defaults);
            ``min_eig_every`` (epochs between Hessian checkpoints; 0 = off), ``min_eig_tol``, ``min_eig_max_dim``,
            ``min_eig_for`` (``["nag", "adam"]``: along which best runs).

    **Smallest Hessian eigenvalue**: the best NAG run and the best ADAM β1 = 0.99 run (first seed, their tuned lr)
    are retrained — bitwise reproducible, ``retrain_matches`` checks it — with checkpoints every ``min_eig_every``
    epochs, and :func:`min_hessian_eigenvalue` of the full-batch float64 training MSE is computed at each; the trend
    is Kendall's τ with the epoch (``increasing_trend``: τ > 0 at p < ``MIN_EIG_TREND_LEVEL``).

    Returns:
        :class:`AdamNagStudy`: ``runs`` (optimiser → lr → per-seed curves), ``best`` (optimiser → tuned lr, grid,
        mean curves, per-seed finals), ``ranking``, ``conclusion`` (incl. per-seed win counts and ``nag_min_eig_*``),
        ``min_eig``.
    """
    t0 = time.perf_counter()
    cfg = _study_config(config)
    Xtr, Xte, note = _load(cfg)
    widths = [int(Xtr.shape[1]), *cfg["hidden"], int(Xtr.shape[1])]
    runs, best = {}, {}
    for name in cfg["optimizers"]:
        runs[name], best[name] = _tune(name, cfg, widths, Xtr, Xte)
    concl = _compare(best)
    min_eig: dict[str, Any] = {}
    if cfg["min_eig_every"] > 0:
        want = {"adam": "adam_b1_0.99", "nag": concl.get("best_nag")}
        targets = [want[k] for k in ("adam", "nag") if k in cfg["min_eig_for"] and want[k] in best]
        for name in targets:
            stored = runs[name][repr(best[name]["lr"])][0]["train_loss"]
            min_eig[name] = _min_eig_trend(widths, name, best[name]["lr"], cfg["seeds"][0], cfg, Xtr, Xte, stored)
        for name, tag in ((concl.get("best_nag"), "nag"), ("adam_b1_0.99", "adam_0.99")):
            if name in min_eig:
                me = min_eig[name]
                concl.update(
                    {
                        f"{tag}_min_eig_first": me["first"],
                        f"{tag}_min_eig_last": me["last"],
                        f"{tag}_min_eig_spearman": me["spearman"],
                        f"{tag}_min_eig_kendall": me["kendall"],
                        f"{tag}_min_eig_kendall_p": me["kendall_p"],
                        f"{tag}_min_eig_increasing": me["increasing_trend"],
                    }
                )
    return AdamNagStudy(
        status=Status.OK,
        seed=cfg["seeds"][0],
        seconds=time.perf_counter() - t0,
        config=cfg,
        widths=widths,
        runs=runs,
        best=best,
        ranking=concl["ranking_by_train_loss"],
        conclusion=concl,
        min_eig=min_eig,
        provenance_note=f"framework ADAM (bias-corrected, eps inside); NAG = torch nesterov convention; data: {note}",
    )


def plot_adam_vs_nag(result: AdamNagStudy | dict):
    """Training-loss and gradient-norm curves (best learning rate per optimiser, mean over seeds).

    ``result`` is the :class:`AdamNagStudy` or its ``to_dict()``.
    """
    import matplotlib

    if isinstance(result, Result):
        result = result.to_dict()
    if "best" not in result:
        raise InputError("result", "has no 'best' entry", "pass the dict returned by adam_vs_nag_study")
    from matplotlib.figure import Figure

    matplotlib.rcParams.setdefault("figure.dpi", 100)
    fig = Figure(figsize=(12, 3.6))
    axes = fig.subplots(1, 3)
    for name, b in result["best"].items():
        c = b["curves"]
        if c.get("train_loss") is None:
            continue
        ep = np.arange(len(c["train_loss"]))
        lab = f"{name} (lr {b['lr']:g})"
        axes[0].plot(ep, c["train_loss"], label=lab)
        axes[1].plot(ep, c["test_loss"], label=lab)
        axes[2].plot(ep, c["grad_norm"], label=lab)
    for ax, t in zip(axes, ("train loss (full batch)", "test loss", "‖∇F‖ (full batch)")):
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_title(t)  # noqa: E702
    axes[0].legend(fontsize=7)
    data = result.get("config", {}).get("data", "")
    fig.suptitle(
        f"{data} autoencoder " + "-".join(map(str, result.get("widths", []))) + ": ADAM vs RMSProp vs NAG", fontsize=9
    )
    return fig
