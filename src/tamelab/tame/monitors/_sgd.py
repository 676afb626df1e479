r"""Plain mini-batch SGD with the per-step DDKL monitor (spec ``tame-optimization.md`` §3.3).

:func:`monitored_sgd` runs :math:`\theta_{k+1}=\theta_k-\alpha_kd_k` with i.i.d. uniform batches and records,
every K steps, the full-batch gradient and the noise :math:`\xi_k=d_k-\nabla F(\theta_k)`; from the record it
tests zero mean and bounded variance of the noise (A3), the Cauchy property of the weighted noise sum
:math:`S_N=\sum\alpha_k\xi_k`, and the energy identity. :func:`tamelab.tame.convergence_report` reads its run.

References:
    Davis, Drusvyatskiy, Kakade & Lee, FoCM 20 (2020), arXiv:1804.07795.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from ..._rng import SeedLike, resolve_seed
from ...errors import InputError
from ...result import Result, Status
from ._noise import NOISE_VAR_GROWTH, dyadic_windows, full_grad, model_and_data, noise_sum_stats, t_test_zero_mean

__all__ = ["MonitoredRun", "monitored_sgd", "ENERGY_REL_TOL"]

#: the energy identity counts as consistent below this relative residual (spec: << 1 for small full-batch steps)
ENERGY_REL_TOL = 0.1


@dataclasses.dataclass
class MonitoredRun(Result):
    r"""Plain mini-batch SGD run by :func:`monitored_sgd` with the per-step DDKL monitor (spec §3.3).

    It quacks like a :class:`tamelab.train.TrainResult` (``history``, ``snapshots``, ``snapshot_steps``,
    ``config``, ``model``, ``train``) so :func:`convergence_report` reads it, and it carries
    ``noise_monitor`` — the noise, weighted-noise-sum and energy-identity measurements — which makes
    (A3), the Cauchy test of :math:`S_N` and the energy row checkable there.

    Attributes:
        config: ``optimizer`` ("sgd"), ``schedule``/``lr``/``schedule_b``/``schedule_p``, ``loss``,
            ``batch_size``, ``steps``, ``noise_every`` (K), ``sampling`` ("iid"), ``dtype``.
        history: per step (``step`` = k + 1, after the update): ``lr`` (α_k), ``loss`` (batch loss at θ_k),
            ``param_norm`` (‖θ_{k+1}‖), ``kinks`` (exact zeros at ReLU inputs in the batch forward pass).
        noise_steps: the steps k (θ_k before its update) where the full-batch gradient was computed;
            ``noise_alpha``, ``noise_sq`` (‖ξ_k‖²), ``full_loss``, ``full_grad_norm``, ``inner`` (⟨ḡ_k, d_k⟩).
        noise_monitor: ``mean_test``, ``resample_tests``, ``variance``, ``noise_sum``, ``energy``, ``kinks``.
    """

    kind = "monitored_sgd"

    config: dict[str, Any] = dataclasses.field(default_factory=dict)
    history: dict[str, list] = dataclasses.field(default_factory=dict)
    snapshot_steps: list[int] = dataclasses.field(default_factory=list)
    noise_steps: list[int] = dataclasses.field(default_factory=list)
    noise_alpha: list[float] = dataclasses.field(default_factory=list)
    noise_sq: list[float] = dataclasses.field(default_factory=list)
    full_loss: list[float] = dataclasses.field(default_factory=list)
    full_grad_norm: list[float] = dataclasses.field(default_factory=list)
    inner: list[float] = dataclasses.field(default_factory=list)
    final_full_loss: float = float("nan")
    noise_monitor: dict[str, Any] = dataclasses.field(default_factory=dict)
    snapshots: list[dict[str, torch.Tensor]] = dataclasses.field(default_factory=list, repr=False)
    noise: np.ndarray | None = dataclasses.field(default=None, repr=False)
    noise_sum_path: np.ndarray | None = dataclasses.field(default=None, repr=False)
    model: Any = dataclasses.field(default=None, repr=False)
    train: Any = dataclasses.field(default=None, repr=False)
    loss_fn: Any = dataclasses.field(default=None, repr=False)

    def arrays(self) -> dict[str, np.ndarray]:
        out = {
            "noise_steps": np.asarray(self.noise_steps, dtype=np.int64),
            "noise_sq": np.asarray(self.noise_sq),
            "noise_alpha": np.asarray(self.noise_alpha),
            "inner": np.asarray(self.inner),
        }
        if self.noise is not None:
            out["noise"] = self.noise
        if self.noise_sum_path is not None:
            out["noise_sum_path"] = self.noise_sum_path
        return out


def _check_ints(**kw: tuple[Any, int]) -> None:
    for name, (v, lo) in kw.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise InputError(name, f"must be an integer >= {lo}, got {v!r}")


def monitored_sgd(
    model: nn.Module,
    data,
    targets=None,
    *,
    loss="mse",
    lr: float,
    schedule: str = "robbins_monro",
    schedule_b: float = 1.0,
    schedule_p: float = 0.75,
    steps: int,
    batch_size: int,
    noise_every: int = 1,
    seed: SeedLike = 0,
    dtype: torch.dtype | str = torch.float64,
    device=None,
    snapshots: int = 9,
    resamples: int = 100,
    keep_noise: bool | None = None,
    weight_decay: float = 0.0,
) -> MonitoredRun:
    r"""Plain mini-batch SGD :math:`\theta_{k+1}=\theta_k-\alpha_kd_k` with the per-step DDKL monitor (spec §3.3).

    :math:`d_k` is the gradient of the loss on a batch :math:`B_k` of ``batch_size`` distinct indices drawn
    uniformly, independently at every step (``np.random.default_rng(seed)``, ``rng.choice(n, b,
    replace=False)`` per step; ``batch_size = n`` is gradient descent on the data in order, ξ ≡ 0), so
    :math:`\mathbb E[d_k\mid\mathcal F_k]=\bar g_k:=\nabla F(\theta_k)` exactly: martingale-difference noise by
    construction, unlike per-epoch reshuffling. Every ``noise_every`` = K
    steps (k = 0, K, 2K, …) the full-batch gradient :math:`\bar g_k` is computed and recorded with

    * the noise :math:`\xi_k=d_k-\bar g_k`, :math:`\|\xi_k\|^2` and :math:`\langle\bar g_k,d_k\rangle`;
    * the weighted noise sum, **scaled by K**, :math:`S_N=K\sum_{k\le N,\,K\mid k}\alpha_k\xi_k` — exact for
      K = 1, else the every-K-th-term estimate of :math:`\sum_{k\le N}\alpha_k\xi_k` (same mean, K times its
      variance). Cauchy test over dyadic horizons: the observed increments :math:`\|S_N-S_{N/2}\|` and their
      quadratic variation :math:`Q_N=K(\sum_{N/2<k\le N}\alpha_k^2\|\xi_k\|^2)^{1/2}` (the scale of the increment
      for martingale differences). :math:`\alpha_k=c(k+k_0)^{-a}` gives :math:`Q_N\propto N^{1/2-a}`: shrinking
      for :math:`a>1/2`, growing like :math:`N^{1/2}` for a constant step. Verdict ``cauchy`` when the log–log
      slope of :math:`Q_N` is below ``CAUCHY_MAX_SLOPE`` and :math:`Q` decreased;
    * zero mean: per-coordinate t-tests of the recorded :math:`\xi_k` (a martingale-difference sequence),
      Bonferroni-combined, level ``NOISE_TTEST_LEVEL``; and the same test on ``resamples`` fresh batches at
      :math:`\theta_0` and :math:`\theta_N` (``np.random.default_rng([seed, 2])``);
    * boundedness of :math:`\mathbb E\|\xi\|^2`: mean of :math:`\|\xi_k\|^2` per dyadic window, bounded when the
      last is at most ``NOISE_VAR_GROWTH`` × the largest earlier one;
    * the energy identity (Lyapunov property, small steps):
      :math:`r=F(\theta_N)-F(\theta_0)+K\sum_{K\mid k}\alpha_k\langle\bar g_k,d_k\rangle`, relative to
      :math:`K\sum\alpha_k|\langle\bar g_k,d_k\rangle|`. For a quadratic :math:`F` with Hessian :math:`H` and K = 1,
      :math:`r=\sum_k\frac{\alpha_k^2}2d_k^\top Hd_k` exactly, so :math:`r/\text{scale}=O(\alpha)`.

    Exact kink hits (zeros at the inputs of ``nn.ReLU``/``ReLUPrime`` modules in the batch forward pass) are
    counted per step: zero everywhere means AD-SGD was plain SGD on this run (Bolte–Pauwels).

    Args:
        model: any ``nn.Module`` (copied to ``device``/``dtype``; the caller's model is not changed).
        data: any form of :func:`tamelab.inputs.as_data` (``(X, y)``, ``X`` with ``targets=y``, a
            ``Dataset``, a ``DataLoader`` with tuple or dict batches); the whole data is held in memory.
        targets: the targets when ``data`` holds only the inputs.
        loss: a name of :data:`tamelab.losses.LOSSES` or a callable ``(output, target) -> scalar`` (a mean over the
            batch: the finite-sum structure the monitor relies on).
        lr: the base step size of :func:`tamelab.train.make_schedule`.
        schedule: the step-size schedule (``robbins_monro``: ``lr / (schedule_b + k)**schedule_p``).
        schedule_b: the schedule's offset b.
        schedule_p: the schedule's exponent p.
        steps: number of SGD steps N.
        batch_size: b (``b = n`` gives full-batch GD, ξ ≡ 0).
        noise_every: K >= 1.
        seed: batch sampling seed (recorded).
        snapshots: parameter snapshots kept (evenly spaced, first and last included) for
            :func:`convergence_report`.
        dtype: the compute dtype (float64 by default).
        device: where the run computes.
        resamples: fresh batches per resampling t-test.
        keep_noise: keep the ξ vectors (default: when (N/K)·p <= 5e6).
        weight_decay: λ >= 0: the objective is :math:`F(\theta)+\frac\lambda2\|\theta\|^2` (coercive for λ > 0, so
            the iterates stay bounded, hypothesis (A1)); the noise ξ is unchanged, values and gradients include it.
    """
    from ...inputs import resolve_device, resolve_dtype
    from ...train import make_schedule

    t0 = time.perf_counter()
    _check_sgd_args(steps, batch_size, noise_every, snapshots, resamples, lr, weight_decay)
    sch = make_schedule(schedule, float(lr), b=float(schedule_b), p=float(schedule_p))
    dt = resolve_dtype(dtype, default=torch.float64)
    dev = resolve_device(device)
    m64, X, T, lossf = model_and_data(model, data, targets, loss, dtype=dt, device=dev)
    n = int(X.shape[0])
    if batch_size > n:
        raise InputError("batch_size", f"must be <= n = {n}, got {batch_size}")
    s = resolve_seed(seed)
    tr = _Trajectory(
        m64,
        X,
        T,
        lossf,
        sch,
        b=int(batch_size),
        K=int(noise_every),
        N=int(steps),
        seed=s,
        snapshots=int(snapshots),
        keep=keep_noise,
        wd=float(weight_decay),
    )
    tr.run()
    mon = tr.monitor(int(resamples))
    cfg = _sgd_config(
        schedule=schedule,
        lr=lr,
        schedule_b=schedule_b,
        schedule_p=schedule_p,
        loss_name=lossf.name,
        batch_size=batch_size,
        steps=steps,
        noise_every=noise_every,
        seed=s,
        dt=dt,
        dev=dev,
        n=n,
        p_dim=tr.p_dim,
        weight_decay=weight_decay,
    )
    run = _run_result(tr, mon, cfg, s, m64, X, T, lossf)
    run.seconds = time.perf_counter() - t0
    return run


def _check_sgd_args(
    steps: int, batch_size: int, noise_every: int, snapshots: int, resamples: int, lr: float, weight_decay: float
) -> None:
    """Refuse bad arguments of :func:`monitored_sgd` before any work (one :class:`InputError` naming the field)."""
    _check_ints(
        steps=(steps, 1),
        batch_size=(batch_size, 1),
        noise_every=(noise_every, 1),
        snapshots=(snapshots, 2),
        resamples=(resamples, 3),
    )
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise InputError("lr", f"must be a finite number > 0, got {lr!r}")
    if isinstance(weight_decay, bool) or not (isinstance(weight_decay, (int, float)) and weight_decay >= 0):
        raise InputError("weight_decay", f"must be a number >= 0, got {weight_decay!r}")


def _sgd_config(
    *,
    schedule: str,
    lr: float,
    schedule_b: float,
    schedule_p: float,
    loss_name: str,
    batch_size: int,
    steps: int,
    noise_every: int,
    seed: int,
    dt: torch.dtype,
    dev: torch.device,
    n: int,
    p_dim: int,
    weight_decay: float,
) -> dict[str, Any]:
    """The ``config`` of a :class:`MonitoredRun` (what :func:`convergence_report` reads)."""
    return {
        "optimizer": "sgd",
        "schedule": schedule,
        "lr": float(lr),
        "schedule_b": float(schedule_b),
        "schedule_p": float(schedule_p),
        "loss": loss_name,
        "batch_size": int(batch_size),
        "steps": int(steps),
        "noise_every": int(noise_every),
        "sampling": "iid",
        "seed": seed,
        "dtype": str(dt).replace("torch.", ""),
        "device": str(dev),
        "n": n,
        "p": p_dim,
        "weight_decay": float(weight_decay),
    }


def _run_result(tr: _Trajectory, mon: dict[str, Any], cfg: dict[str, Any], s: int, m64, X, T, lossf) -> MonitoredRun:
    """Pack the trajectory's record and the monitor's verdicts into a :class:`MonitoredRun`."""
    return MonitoredRun(
        status=Status.OK,
        seed=s,
        config=cfg,
        history=tr.hist,
        snapshot_steps=tr.snap_steps,
        noise_steps=tr.rec["k"],
        noise_alpha=tr.rec["alpha"],
        noise_sq=tr.rec["sq"],
        full_loss=tr.rec["F"],
        full_grad_norm=tr.rec["gn"],
        inner=tr.rec["inner"],
        final_full_loss=tr.FN,
        noise_monitor=mon,
        snapshots=tr.snaps,
        noise=tr.Xi,
        noise_sum_path=tr.Sp,
        model=m64,
        train=(X, T),
        loss_fn=lossf,
    )


class _Trajectory:
    """The SGD loop of :func:`monitored_sgd` and the measurements on its record."""

    def __init__(
        self, model, X, T, lossf, sch, *, b: int, K: int, N: int, seed: int, snapshots: int, keep, wd: float = 0.0
    ) -> None:
        self.model, self.X, self.T, self.lossf, self.sch, self.wd = model, X, T, lossf, sch, wd
        self.b, self.K, self.N, self.s, self.n = b, K, N, seed, int(X.shape[0])
        self.theta = {k: v.detach().clone() for k, v in model.named_parameters()}
        self.p_dim = sum(v.numel() for v in self.theta.values())
        n_rec = (N - 1) // K + 1
        self.keep = (n_rec * self.p_dim <= 5_000_000) if keep is None else bool(keep)
        self.snap_at = set(np.linspace(0, N, snapshots).round().astype(int).tolist())
        self.snaps: list[dict[str, torch.Tensor]] = []
        self.snap_steps: list[int] = []
        self.hist: dict[str, list] = {"step": [], "lr": [], "loss": [], "param_norm": [], "kinks": []}
        self.rec: dict[str, list] = {"k": [], "alpha": [], "sq": [], "F": [], "gn": [], "inner": []}
        self.xis: list[np.ndarray] = []
        self.S_path: list[np.ndarray] = []

    def grad_at(self, th, idx=None) -> tuple[float, torch.Tensor]:
        X, T = (self.X, self.T) if idx is None else (self.X[idx], self.T[idx])
        val, g = full_grad(self.model, th, X, T, self.lossf)
        if self.wd:
            flat = torch.cat([v.reshape(-1) for v in th.values()]).to(torch.float64)
            val, g = val + 0.5 * self.wd * float(flat @ flat), g.to(torch.float64) + self.wd * flat
        return val, g.to(torch.float64)

    def run(self) -> None:
        """Plain SGD by :func:`tamelab.train.train` on i.i.d.

        batches (:class:`_IidBatches`), monitored by :class:`_Monitor` (a recorder), with one intra-op thread (small
        kernels; restored afterwards).
        """
        from torch.utils.data import DataLoader, TensorDataset

        from ..._numerics import one_thread
        from ...train import add_decayed_weights, chain, sgd, train

        self.S = torch.zeros(self.p_dim, dtype=torch.float64, device=self.X.device)
        self.F0 = None
        opt = sgd(self.sch) if not self.wd else chain(add_decayed_weights(self.wd), sgd(self.sch))
        loader = DataLoader(TensorDataset(self.X, self.T), batch_sampler=_IidBatches(self.n, self.b, self.N, self.s))
        with one_thread():
            train(
                self.model,
                loader,
                loss=self.lossf,
                optimizer=opt,
                epochs=1,
                recorders=[_monitor(self)],
                seed=self.s,
                shuffle=False,
                snapshot_every=None,
                record_every=10**9,
                eval_every=10**9,
                dtype=self.X.dtype,
                device=self.X.device,
            )
        if self.N in self.snap_at:
            self._snapshot(self.N)
        self.FN = self.grad_at(self.theta)[0]
        self.Xi = np.stack(self.xis) if self.keep else None
        self.Sp = np.stack(self.S_path) if self.keep else None

    def on_step(self, k: int, d: torch.Tensor, a: float, batch_loss: float, kinks: int, kc) -> None:
        """Record SGD step k (from θ_k = ``self.theta`` with batch gradient ``d`` and step ``a`` to ``new``).

        SGD step k (θ_k = ``self.theta``, the batch gradient ``d`` at θ_k, the step ``a``), then θ_{k+1} =
        ``new``.
        """
        if k in self.snap_at:
            self._snapshot(k)
        flat = torch.cat([v.reshape(-1) for v in self.theta.values()]).to(torch.float64)
        if self.wd:
            d = d + self.wd * flat
            batch_loss = batch_loss + 0.5 * self.wd * float(flat @ flat)
        if k % self.K == 0:
            self.S = self._record(k, a, d, self.S)
            kc.step()  # the full-batch pass is not part of the SGD step
        self.hist["step"].append(k + 1)
        self.hist["lr"].append(a)
        self.hist["loss"].append(batch_loss)
        self.hist["kinks"].append(int(kinks))

    def after_step(self, new: dict[str, torch.Tensor]) -> None:
        self.theta = {k: v.detach().clone() for k, v in new.items()}
        self.hist["param_norm"].append(float(torch.sqrt(sum((v.double() ** 2).sum() for v in self.theta.values()))))

    def _snapshot(self, k: int) -> None:
        self.snaps.append({kk: v.clone() for kk, v in self.theta.items()})
        self.snap_steps.append(k)

    def _record(self, k: int, a: float, d: torch.Tensor, S: torch.Tensor) -> torch.Tensor:
        Fk, gbar = self.grad_at(self.theta)
        if self.F0 is None:
            self.F0 = Fk
        xi = d - gbar
        S = S + self.K * a * xi
        for key, v in (
            ("k", k),
            ("alpha", a),
            ("sq", float(xi @ xi)),
            ("F", Fk),
            ("gn", float(gbar.norm())),
            ("inner", float(gbar @ d)),
        ):
            self.rec[key].append(v)
        if self.keep:
            self.xis.append(xi.cpu().numpy())
            self.S_path.append(S.cpu().numpy().copy())
        return S

    def _draw(self, rng) -> torch.Tensor | None:
        if self.b >= self.n:
            return None
        return torch.as_tensor(rng.choice(self.n, self.b, replace=False), device=self.X.device)

    def monitor(self, resamples: int) -> dict[str, Any]:
        """The noise, weighted-noise-sum, energy and kink measurements on the record."""
        steps, alpha, sq = np.asarray(self.rec["k"]), np.asarray(self.rec["alpha"]), np.asarray(self.rec["sq"])
        mon: dict[str, Any] = {
            "noise_every": self.K,
            "recorded": len(self.rec["k"]),
            "p": self.p_dim,
            "sampling": "iid uniform batches (distinct indices), independent across steps",
        }
        mon["mean_test"] = (
            t_test_zero_mean(self.Xi)
            if self.Xi is not None
            else {"p_value": None, "rejects": None, "why": "noise vectors not kept (keep_noise=False)"}
        )
        mon["resample_tests"] = self._resample_tests(resamples)
        mon["variance"] = _variance(steps, sq)
        mon["noise_sum"] = {
            **noise_sum_stats(steps, alpha, self.Xi, sq, self.K, self.Sp),
            "S_N_norm": float(self.S.norm()),
        }
        first_order = self.K * float((alpha * np.asarray(self.rec["inner"])).sum())
        scale = self.K * float((alpha * np.abs(np.asarray(self.rec["inner"]))).sum())
        resid = self.FN - self.F0 + first_order
        rel = abs(resid) / scale if scale > 0 else (0.0 if resid == 0 else math.inf)
        mon["energy"] = {
            "F_0": self.F0,
            "F_N": self.FN,
            "sum_alpha_inner": first_order,
            "residual": resid,
            "relative_residual": rel,
            "scale": scale,
            "exact_sum": self.K == 1,
            "consistent": bool(rel < ENERGY_REL_TOL),
            "threshold": ENERGY_REL_TOL,
            "full_batch": self.b == self.n,
        }
        kk_ = np.asarray(self.hist["kinks"])
        mon["kinks"] = {
            "total": int(kk_.sum()),
            "steps_with_kinks": int((kk_ > 0).sum()),
            "ad_sgd_is_sgd": bool((kk_ == 0).all()),
        }
        return mon

    def _resample_tests(self, resamples: int) -> list[dict[str, Any]]:
        """Zero-mean t-tests on fresh batches at θ_0 and θ_N (``np.random.default_rng([seed, 2])``)."""
        rng2 = np.random.default_rng([self.s, 2])
        rts = []
        for label, th in (("theta_0", self.snaps[0]), ("theta_N", self.theta)):
            _, gb = self.grad_at(th)
            Z = np.stack([(self.grad_at(th, self._draw(rng2))[1] - gb).cpu().numpy() for _ in range(resamples)])
            rts.append(
                {"at": label, **t_test_zero_mean(Z), "resamples": resamples, "noise_var": float((Z**2).sum(1).mean())}
            )
        return rts


def _variance(steps: np.ndarray, sq: np.ndarray) -> dict[str, Any]:
    """E||xi||^2 bounded: mean of ||xi_k||^2 per dyadic window, last vs the largest earlier one."""
    wins = dyadic_windows(steps, min_points=2)
    wm = [float(sq[a:b].mean()) for _, a, b in wins]
    if len(wm) < 2:
        return {"window_mean_sq": wm, "max_sq": float(sq.max()), "bounded": None, "why": "need >= 2 windows"}
    prev = max(wm[:-1])
    growth = wm[-1] / prev if prev > 0 else (0.0 if wm[-1] == 0 else math.inf)
    return {
        "window_horizons": [w[0] for w in wins],
        "window_mean_sq": wm,
        "max_sq": float(sq.max()),
        "last_over_max_previous": growth,
        "bounded": bool(growth <= NOISE_VAR_GROWTH),
        "threshold": NOISE_VAR_GROWTH,
    }


class _IidBatches:
    """Batch sampler of :func:`monitored_sgd`:

    ``N`` batches of ``b`` distinct indices drawn uniformly and independently
    (``np.random.default_rng(seed).choice(n, b, replace=False)`` per step; ``b = n``: the data in order). Every pass
    restarts the generator, so every reading of the loader sees the same batches.
    """

    def __init__(self, n: int, b: int, N: int, seed: int) -> None:
        self.n, self.b, self.N, self.seed = n, b, N, seed

    def __iter__(self):
        rng = np.random.default_rng(self.seed)
        for _ in range(self.N):
            yield (rng.choice(self.n, self.b, replace=False) if self.b < self.n else np.arange(self.n)).tolist()

    def __len__(self) -> int:
        return self.N


def _monitor(tr: _Trajectory):
    """The :class:`tamelab.train.Recorder` that hands each SGD step of the training loop to ``tr``.

    The :class:`tamelab.train.Recorder` that hands each SGD step of the training loop to ``tr``, with the exact
    kink count of the step's forward pass (:class:`~tamelab.tame.relu_prime.KinkCounter` on the training model).
    """
    from ...train import Recorder
    from ..relu_prime._ops import KinkCounter

    class Monitor(Recorder):
        name = "ddkl_monitor"

        def start(self, ctx) -> None:
            self.kc = KinkCounter(ctx.model).__enter__()
            tr.model = ctx.model
            tr.theta = {k: v.detach().clone() for k, v in ctx.param_dict().items()}

        def on_step(self, ctx, info) -> None:
            kinks = sum(self.kc.step().values())
            d = torch.cat([info.grads[k].reshape(-1) for k in ctx.names]).to(torch.float64)
            tr.on_step(info.step - 1, d, float(info.lr), float(info.loss), kinks, self.kc)
            tr.after_step(ctx.param_dict())

        def finish(self, ctx) -> None:
            self.kc.__exit__(None, None, None)

    return Monitor()
