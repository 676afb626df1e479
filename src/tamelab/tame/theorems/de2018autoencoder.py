r"""The ADAM-vs-NAG autoencoder study of De, Mukherjee & Ullah (arXiv:1807.06766, §5).

Fully connected ReLU autoencoders trained with mini-batch ADAM (β1 ∈ {0.99, 0.9}), RMSProp and NAG, each
learning rate tuned on a grid; the smallest Hessian eigenvalue along the best runs.

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

_STUDY_DEFAULTS = {"seeds": [0, 1, 2], "epochs": 40, "hidden": [32, 16, 32], "batch_size": 64,
                   "lrs": {"adam": [3e-4, 1e-3, 3e-3, 1e-2, 3e-2], "rmsprop": [3e-4, 1e-3, 3e-3, 1e-2],
                            "nag": [0.03, 0.1, 0.3, 1.0, 3.0]}}
_QUICK = {"seeds": [0], "epochs": 8, "lrs": {"adam": [1e-3, 3e-3, 1e-2], "rmsprop": [1e-3, 3e-3], "nag": [0.1, 0.3, 1.0]},
          "min_eig_every": 4}
#: an increasing trend of λ_min is reported when Kendall's tau > 0 with (two-sided, exact for small n) p below this level
MIN_EIG_TREND_LEVEL = 0.05
#: defaults of the smallest-Hessian-eigenvalue observation (spec §6.3/§6.4): every 5 epochs in the full study, every 4 of
#: the 8 quick epochs (about 40 Lanczos HVPs per checkpoint on the 64-32-16-32-64 autoencoder: ~1 s in all)
_MIN_EIG_DEFAULTS = {"min_eig_every": 5, "min_eig_tol": 1e-3, "min_eig_max_dim": 300}
#: optimiser variants compared: name -> (family, kwargs)
STUDY_OPTIMIZERS = {
    "adam_b1_0.99": ("adam", {"beta1": 0.99, "beta2": 0.999, "eps": 1e-8}),
    "adam_b1_0.9": ("adam", {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}),
    "rmsprop": ("rmsprop", {"alpha": 0.99, "eps": 1e-8}),
    "nag_0.9": ("nag", {"momentum": 0.9}),
    "nag_0.99": ("nag", {"momentum": 0.99}),
}


def _study_config(config: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise InputError("config", f"must be a dict, got {type(config).__name__}")
    allowed = {"seeds", "epochs", "hidden", "lrs", "quick", "batch_size", "optimizers", *_MIN_EIG_DEFAULTS}
    extra = set(config) - allowed
    if extra:
        raise InputError("config", f"unknown keys {sorted(extra)}", f"use {sorted(allowed)}")
    quick = bool(config.get("quick", False))
    cfg = {**_STUDY_DEFAULTS, **_MIN_EIG_DEFAULTS, **(_QUICK if quick else {}), **{k: v for k, v in config.items() if v is not None}}
    cfg["quick"] = quick
    seeds = cfg["seeds"]
    seeds = [seeds] if isinstance(seeds, int) else list(seeds)
    if not seeds or any(not isinstance(s, (int, np.integer)) or s < 0 for s in seeds):
        raise InputError("seeds", f"need non-negative integers, got {cfg['seeds']!r}")
    cfg["seeds"] = [int(s) for s in seeds]
    if not (isinstance(cfg["epochs"], (int, np.integer)) and 1 <= cfg["epochs"] <= 10000):
        raise InputError("epochs", f"must be an integer in [1, 10000], got {cfg['epochs']!r}")
    hid = cfg["hidden"]
    hid = [hid] if isinstance(hid, int) else list(hid)
    if not hid or any(not isinstance(h, (int, np.integer)) or h < 1 for h in hid):
        raise InputError("hidden", f"need positive integer widths, got {cfg['hidden']!r}", "e.g. [32, 16, 32]")
    cfg["hidden"] = [int(h) for h in hid]
    lrs = cfg["lrs"]
    if isinstance(lrs, (list, tuple)):
        lrs = {fam: list(lrs) for fam in ("adam", "rmsprop", "nag")}
    if not isinstance(lrs, dict):
        raise InputError("lrs", f"must be a list or a dict family -> list, got {lrs!r}", "e.g. {'adam': [1e-3], 'nag': [0.1]}")
    lrs = {**_STUDY_DEFAULTS["lrs"], **lrs}
    for fam, v in lrs.items():
        if fam not in ("adam", "rmsprop", "nag"):
            raise InputError("lrs", f"unknown family {fam!r}", "use adam, rmsprop, nag")
        if not v or any(not (isinstance(x, (int, float)) and x > 0) for x in v):
            raise InputError(f"lrs.{fam}", f"need positive learning rates, got {v!r}")
    cfg["lrs"] = {k: [float(x) for x in v] for k, v in lrs.items()}
    opts = cfg.get("optimizers", list(STUDY_OPTIMIZERS))
    bad = [o for o in opts if o not in STUDY_OPTIMIZERS]
    if bad:
        raise InputError("optimizers", f"unknown {bad}", f"use a subset of {list(STUDY_OPTIMIZERS)}")
    cfg["optimizers"] = list(opts)
    if not (isinstance(cfg["batch_size"], (int, np.integer)) and cfg["batch_size"] >= 1):
        raise InputError("batch_size", f"must be an integer >= 1, got {cfg['batch_size']!r}")
    me = cfg["min_eig_every"]
    if isinstance(me, bool) or not isinstance(me, (int, np.integer)) or me < 0:
        raise InputError("min_eig_every", f"must be an integer >= 0 (epochs between checkpoints; 0 = off), got {me!r}")
    tol = cfg["min_eig_tol"]
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not (0 < tol < 1):
        raise InputError("min_eig_tol", f"must be a number in (0, 1) (relative Lanczos residual), got {tol!r}")
    md = cfg["min_eig_max_dim"]
    if isinstance(md, bool) or not isinstance(md, (int, np.integer)) or md < 2:
        raise InputError("min_eig_max_dim", f"must be an integer >= 2 (largest Krylov dimension), got {md!r}")
    cfg["min_eig_every"], cfg["min_eig_tol"], cfg["min_eig_max_dim"] = int(me), float(tol), int(md)
    return cfg


def _train_autoencoder(widths, opt_name, lr, seed, epochs, batch_size, Xtr, Xte,
                       checkpoints: dict[int, dict[str, torch.Tensor]] | None = None,
                       checkpoint_epochs: set[int] | None = None) -> dict[str, list[float]]:
    from ...models import mlp
    from ...train import adam, apply_updates, nag, rmsprop

    fam, kw = STUDY_OPTIMIZERS[opt_name]
    opt = {"adam": adam, "rmsprop": rmsprop, "nag": nag}[fam](lr, **kw)
    model = mlp(widths, seed=seed, dtype=torch.float32)
    params = {k: v.detach().clone() for k, v in model.named_parameters()}
    state = opt.init(params)
    names = list(params)
    mse = torch.nn.functional.mse_loss

    def full(p):
        q = {k: v.clone().requires_grad_(True) for k, v in p.items()}
        val = mse(torch.func.functional_call(model, q, (Xtr,)), Xtr)
        g = torch.autograd.grad(val, [q[k] for k in names])
        with torch.no_grad():
            te = float(mse(torch.func.functional_call(model, p, (Xte,)), Xte))
        return float(val.detach()), float(torch.sqrt(sum((x.double() ** 2).sum() for x in g))), te

    rec = {"train_loss": [], "test_loss": [], "grad_norm": []}
    tl, gn, te = full(params)
    for k, v in zip(rec, (tl, te, gn)):
        rec[k].append(v)
    if checkpoints is not None and 0 in (checkpoint_epochs or ()):
        checkpoints[0] = {k: v.detach().clone() for k, v in params.items()}
    n = Xtr.shape[0]
    for e in range(epochs):
        perm = np.random.default_rng([seed, e]).permutation(n)
        for lo in range(0, n, batch_size):
            idx = torch.as_tensor(perm[lo:lo + batch_size])
            q = {k: v.clone().requires_grad_(True) for k, v in params.items()}
            xb = Xtr[idx]
            val = mse(torch.func.functional_call(model, q, (xb,)), xb)
            g = dict(zip(names, torch.autograd.grad(val, [q[k] for k in names])))
            upd, state = opt.update(g, state, params)
            params = apply_updates(params, upd)
        tl, gn, te = full(params)
        if not math.isfinite(tl):
            rec["train_loss"].append(math.inf); rec["test_loss"].append(math.inf); rec["grad_norm"].append(math.inf)  # noqa: E702
            break
        for k, v in zip(rec, (tl, te, gn)):
            rec[k].append(v)
        if checkpoints is not None and e + 1 in (checkpoint_epochs or ()):
            checkpoints[e + 1] = {k: v.detach().clone() for k, v in params.items()}
    return rec


def _min_eig_trend(widths, name, lr, seed, cfg, Xtr, Xte, stored_curve) -> dict[str, Any]:
    """Retrain the (deterministic) run with checkpoints and measure λ_min of the full-batch Hessian at each."""
    from scipy import stats

    from ...models import mlp

    every, epochs = cfg["min_eig_every"], cfg["epochs"]
    ep = sorted(set(range(0, epochs + 1, every)) | {epochs})
    ck: dict[int, dict[str, torch.Tensor]] = {}
    with one_thread():
        rec = _train_autoencoder(widths, name, lr, seed, epochs, cfg["batch_size"], Xtr, Xte, checkpoints=ck, checkpoint_epochs=set(ep))
    model = mlp(widths, seed=seed, dtype=torch.float32)
    rows = []
    for e in sorted(ck):
        model.load_state_dict(ck[e])
        r = min_hessian_eigenvalue(model, Xtr, Xtr, tol=cfg["min_eig_tol"], max_dim=cfg["min_eig_max_dim"], seed=seed)
        rows.append({"epoch": e, "lambda_min": r.lambda_min, "residual": r.residual, "converged": r.converged,
                     "hvps": r.hvps})
    lam = [r["lambda_min"] for r in rows]
    out: dict[str, Any] = {"lr": float(lr), "seed": int(seed), "epochs": [r["epoch"] for r in rows], "lambda_min": lam,
                           "residuals": [r["residual"] for r in rows], "converged": [r["converged"] for r in rows],
                           "hvps": [r["hvps"] for r in rows], "retrain_matches": rec["train_loss"] == stored_curve,
                           "first": lam[0] if lam else None, "last": lam[-1] if lam else None}
    if len(lam) >= 3 and np.ptp(lam) > 0:
        sp = stats.spearmanr(out["epochs"], lam)
        kt = stats.kendalltau(out["epochs"], lam)
        out.update(spearman=float(sp.statistic), spearman_p=float(sp.pvalue), kendall=float(kt.statistic), kendall_p=float(kt.pvalue))
        # Kendall's p-value is exact for small n (no ties); Spearman's uses a t approximation (p = 0 at n = 3)
        out["increasing_trend"] = bool(kt.statistic > 0 and kt.pvalue < MIN_EIG_TREND_LEVEL)
    else:
        out.update(spearman=None, spearman_p=None, kendall=None, kendall_p=None, increasing_trend=None)
    return out


def adam_vs_nag_study(config: dict) -> AdamNagStudy:
    r"""ADAM (β1 ∈ {0.99, 0.9}) vs RMSProp vs NAG (momentum ∈ {0.9, 0.99}) on a digits autoencoder.

    Fully connected ReLU autoencoder ``64 → hidden… → 64`` (``tamelab.models.mlp``), MSE to the
    input, mini-batches, per-epoch full-batch train/test loss and gradient norm. Each optimiser's
    learning rate is tuned on the grid ``lrs[family]`` by mean final train loss over ``seeds``
    (spec §6.3: "ADAM with β1 = 0.99 beats a carefully tuned NAG").

    Args:
        config: ``seeds`` (list or int), ``epochs``, ``hidden`` (widths), ``lrs`` (list for all
            families or ``{"adam"|"rmsprop"|"nag": [...]}``), ``quick`` (CI-sized defaults);
            optional ``batch_size`` (64), ``optimizers`` (subset of :data:`STUDY_OPTIMIZERS`);
            ``min_eig_every`` (epochs between Hessian checkpoints; 5 by default, 4 in quick mode, 0 = off),
            ``min_eig_tol`` (relative Lanczos residual, 1e-3), ``min_eig_max_dim`` (Krylov dimension cap, 300).

    **Smallest Hessian eigenvalue** (spec §6.3: "NAG … iterates show an increasing trend of the minimum
    Hessian eigenvalue"; report, do not assert): the best NAG run and the best ADAM β1 = 0.99 run (first
    seed, their tuned lr) are retrained — bitwise reproducible, ``retrain_matches`` checks it — with
    parameter checkpoints every ``min_eig_every`` epochs (epoch 0 and the last included), and
    :func:`min_hessian_eigenvalue` of the full-batch float64 training MSE is computed at each. The trend
    is the Spearman and Kendall rank correlation of :math:`\lambda_{\min}` with the epoch, with p-values
    (``increasing_trend``: Kendall's τ > 0 at exact p < ``MIN_EIG_TREND_LEVEL`` = 0.05), and the first/last values.

    Returns:
        A JSON-ready dict: ``config``, ``runs`` (optimiser → lr → per-seed curves), ``best``
        (optimiser → best lr and its mean curves/final numbers), ``ranking`` (by final train loss),
        ``conclusion`` (the measured comparison, incl. ``nag_min_eig_*``/``adam_0.99_min_eig_*``),
        ``min_eig`` (optimiser → checkpoint epochs, ``lambda_min``, residuals, converged, trend), ``seconds``.
    """
    from ...data import load_data

    t0 = time.perf_counter()
    cfg = _study_config(config)
    tr = load_data("digits", split="train", seed=0)
    te = load_data("digits", split="test", seed=0)
    Xtr = torch.as_tensor(tr.X, dtype=torch.float32)
    Xte = torch.as_tensor(te.X, dtype=torch.float32)
    widths = [64, *cfg["hidden"], 64]
    runs: dict[str, dict[str, list[dict[str, list[float]]]]] = {}
    best: dict[str, dict[str, Any]] = {}
    for name in cfg["optimizers"]:
        fam = STUDY_OPTIMIZERS[name][0]
        runs[name] = {}
        for lr in cfg["lrs"][fam]:
            with one_thread():
                runs[name][repr(lr)] = [_train_autoencoder(widths, name, lr, s, cfg["epochs"], cfg["batch_size"], Xtr, Xte)
                                        for s in cfg["seeds"]]
        finals = {k: float(np.mean([r["train_loss"][-1] for r in v])) for k, v in runs[name].items()}
        lr_best = min(finals, key=lambda k: (finals[k], float(k)))
        rs = runs[name][lr_best]
        curves = {key: np.mean([r[key] for r in rs], axis=0).tolist() if len({len(r[key]) for r in rs}) == 1 else None
                  for key in ("train_loss", "test_loss", "grad_norm")}
        grid = sorted(cfg["lrs"][fam])
        best[name] = {"lr": float(lr_best), "final_train_loss": finals[lr_best],
                      "lr_at_grid_edge": len(grid) > 1 and float(lr_best) in (grid[0], grid[-1]),
                      "final_test_loss": float(np.mean([r["test_loss"][-1] for r in rs])),
                      "final_grad_norm": float(np.mean([r["grad_norm"][-1] for r in rs])),
                      "final_train_loss_per_seed": [r["train_loss"][-1] for r in rs], "curves": curves}
    ranking = sorted(best, key=lambda k: best[k]["final_train_loss"])
    concl: dict[str, Any] = {"ranking_by_train_loss": ranking}
    nags = [k for k in best if k.startswith("nag")]
    if "adam_b1_0.99" in best and nags:
        nb = min(nags, key=lambda k: best[k]["final_train_loss"])
        a = best["adam_b1_0.99"]
        concl.update({
            "best_nag": nb, "adam_0.99_train_loss": a["final_train_loss"], "nag_train_loss": best[nb]["final_train_loss"],
            "adam_0.99_test_loss": a["final_test_loss"], "nag_test_loss": best[nb]["final_test_loss"],
            "adam_0.99_beats_nag_train": a["final_train_loss"] < best[nb]["final_train_loss"],
            "adam_0.99_beats_nag_test": a["final_test_loss"] < best[nb]["final_test_loss"],
            "nag_smaller_grad_norm": best[nb]["final_grad_norm"] < a["final_grad_norm"],
        })
        if "adam_b1_0.9" in best:
            concl["adam_0.99_beats_adam_0.9_train"] = a["final_train_loss"] < best["adam_b1_0.9"]["final_train_loss"]
    # smallest Hessian eigenvalue along the best NAG run and the best ADAM beta1 = 0.99 run (report, not asserted)
    min_eig: dict[str, Any] = {}
    if cfg["min_eig_every"] > 0:
        targets = [k for k in ("adam_b1_0.99",) if k in best]
        if nags:
            targets.append(min(nags, key=lambda k: best[k]["final_train_loss"]))
        s0 = cfg["seeds"][0]
        for name in targets:
            lr_key = repr(best[name]["lr"])
            stored = runs[name][lr_key][0]["train_loss"]
            min_eig[name] = _min_eig_trend(widths, name, best[name]["lr"], s0, cfg, Xtr, Xte, stored)
        for name, tag in ((concl.get("best_nag"), "nag"), ("adam_b1_0.99", "adam_0.99")):
            if name in min_eig:
                me = min_eig[name]
                concl.update({f"{tag}_min_eig_first": me["first"], f"{tag}_min_eig_last": me["last"],
                              f"{tag}_min_eig_spearman": me["spearman"], f"{tag}_min_eig_kendall": me["kendall"],
                              f"{tag}_min_eig_increasing": me["increasing_trend"]})
    return AdamNagStudy(status=Status.OK, seed=cfg["seeds"][0], seconds=time.perf_counter() - t0, config=cfg,
                        widths=widths, runs=runs, best=best, ranking=ranking, conclusion=concl, min_eig=min_eig,
                        provenance_note="framework ADAM (bias-corrected, eps inside); NAG = torch nesterov convention; "
                        "digits split seed 0")


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
        ax.set_yscale("log"); ax.set_xlabel("epoch"); ax.set_title(t)  # noqa: E702
    axes[0].legend(fontsize=7)
    fig.suptitle("Digits autoencoder " + "-".join(map(str, result.get("widths", []))) + ": ADAM vs RMSProp vs NAG", fontsize=9)
    return fig
