r"""Non-vacuous PAC-Bayes certificates for stochastic networks of any ``nn.Module``.

Dziugaite & Roy (arXiv:1703.11008): a Gaussian posterior :math:`Q=N(\mu,\mathrm{diag}\,s^2)` over the
trainable parameters, prior :math:`P=N(\mu_0,\sigma_P^2I)`; optimise a differentiable bound surrogate
over :math:`(\mu,\ln s)` by SGD with the reparametrisation trick, then certify the 0-1 risk with the
exact kl-inverse. Weights are sampled as flat vectors and evaluated with
``torch.func.functional_call`` (:class:`~tamelab.bounds._stochastic.StochasticNet`), so CNNs,
LayerNorm/GELU MLPs and BatchNorm networks (in eval mode) are all covered.

Priors (both data-independent of the bound sample — the premise of every PAC-Bayes bound):

* ``prior="data"`` (Pérez-Ortiz, Rivasplata, Shawe-Taylor & Szepesvári, arXiv:2007.12911): the
  training set is split with the seed; :math:`\mu_0` is a network trained on the *prior half only*,
  **starting from data-independent weights**: ``init_model`` (the network at initialisation) or the
  architecture re-initialised with ``init_seed`` (default: ``seed``). MODEL's trained weights are never
  used — they saw the bound half. The certificate uses only the other half.
* ``prior="init"``: :math:`\mu_0` = the network at initialisation (``init_model`` or ``init_seed``);
  the posterior starts at MODEL; the bound sample is the whole training set.

Everything that is not sampled (buffers such as BatchNorm running statistics, frozen parameters) is
taken from the prior's network, so the predictor family :math:`\theta\mapsto f_\theta` is fixed before
the bound sample is looked at.

The prior scale :math:`\sigma_P` ranges over ``PRIOR_SIGMAS`` (union bound: :math:`\delta/|grid|` each).
With :math:`N` posterior draws the Monte-Carlo error :math:`\hat e_N` is bounded by
:math:`\bar e=\mathrm{kl}^{-1}(\hat e_N,\ln(2/\delta'_k)/N)` and
:math:`L(Q)\le\mathrm{kl}^{-1}(\bar e,(\mathrm{KL}+\ln\frac{2\sqrt n}{\delta/|grid|})/n)`.

* ``mode="fast"`` (default): each candidate :math:`\sigma_P` is scored with a small *pilot* Monte-Carlo
  sample that is not part of the certificate; one fresh estimate of the chosen posterior then spends
  the whole :math:`\delta'`.
* ``mode="full"``: the Monte-Carlo term is estimated for all candidates and the best certified value
  kept, so :math:`\delta'` is split: :math:`\delta'/|grid|` each (charging the full :math:`\delta'` to
  every estimate would state :math:`1-\delta-\delta'` for what is only :math:`1-\delta-|grid|\,\delta'`).

Every failure probability is recorded where it is used (:class:`~tamelab.bounds.ConfidenceLedger`);
the stated confidence is ``1 − (what was spent)`` and a certificate that spends more than
:math:`\delta+\delta'` is not ``ok``.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import math
import time
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from .._numerics import ULP_RTOL, one_thread
from .._params import flatten, param_dict
from .._progress import progress
from .._rng import resolve_seed
from ..errors import InputError, NotApplicableError
from ..inputs import as_data, as_model, model_dtype, resolve_device
from ..losses import Loss, resolve_loss
from ..result import Result, Status
from ._confidence import ConfidenceLedger
from ._kl import kl_inv_upper
from ._pac_bayes import mc_error_bound
from ._stochastic import StochasticNet, classifier_kind, reinitialised

__all__ = [
    "PacBayesResult",
    "pac_bayes_certificate",
    "PRIOR_SIGMAS",
    "MODES",
    "MAX_WORK",
    "estimate_work",
    "WorkEstimate",
    "gaussian_kl_upper",
    "split_halves",
]

PRIOR_SIGMAS = (0.003, 0.01, 0.03, 0.1)
P_MIN = 1e-4  # probabilities clamped for the bounded (rescaled) cross-entropy surrogate
#: default budgets of the two modes (any of them can be overridden by its own argument).
MODES: dict[str, dict[str, int]] = {
    "fast": {"epochs": 3, "prior_epochs": 40, "mc_samples": 1000, "pilot_samples": 64, "test_mc_samples": 100},
    "full": {"epochs": 60, "prior_epochs": 40, "mc_samples": 1000, "pilot_samples": 0, "test_mc_samples": 500},
}
#: default limit on the estimated work, in sample-forward passes (one sample through the network once).
MAX_WORK = 1e9
#: a KL term below this share of the complexity term makes the certificate "in effect a hold-out bound".
HOLDOUT_KL_SHARE = 0.05


@dataclasses.dataclass
class PacBayesResult(Result):
    """A PAC-Bayes risk certificate for the 0-1 error of a Gaussian stochastic network.

    Attributes:
        bound: with probability ≥ ``confidence`` over the bound sample and the Monte-Carlo draws, the
            0-1 risk of the stochastic network Q is at most ``bound``.
        empirical_error: Monte-Carlo estimate of Q's 0-1 error on the bound sample.
        empirical_error_mc_bound: its upper confidence bound (the value that enters the kl-inverse).
        test_error, mean_net_test_error, mean_net_train_error: held-out errors (not part of the certificate).
        kl: KL(Q‖P) of the chosen posterior; ``n``: size of the bound sample.
        confidence: ``1 −`` the failure probabilities actually spent (``ledger``).
        prior, prior_start, prior_digest: the prior's kind, the data-independent weights it started from
            and a SHA-256 of its mean and constants (equal digests = bitwise equal priors).
        mode: ``fast`` or ``full``; ``ledger``: every failure probability spent; ``work``: the estimated
            sample-forward passes of each stage (checked against ``max_work`` before starting).
        note: plain-language reading (e.g. a negligible KL makes it in effect a hold-out bound).
    """

    kind = "pac_bayes"

    bound: float = 1.0
    empirical_error: float = float("nan")
    empirical_error_mc_bound: float = float("nan")
    test_error: float = float("nan")
    mean_net_test_error: float = float("nan")
    mean_net_train_error: float = float("nan")
    kl: float = float("nan")
    n: int = 0
    delta: float = 0.025
    delta_mc: float = 0.01
    confidence: float = 0.965
    mc_samples: int = 0
    prior: str = "data"
    prior_start: str = ""
    prior_digest: str = ""
    prior_sigma: float = float("nan")
    mode: str = "fast"
    loss: str = "cross_entropy"
    device: str = "cpu"
    dtype: str = "float32"
    ledger: list[dict] = dataclasses.field(default_factory=list)
    work: dict[str, float] = dataclasses.field(default_factory=dict)
    note: str = ""
    components: dict[str, Any] = dataclasses.field(default_factory=dict)
    history: dict[str, list] = dataclasses.field(default_factory=dict)


# ------------------------------------------------------------------------------------------------
# validation and work estimate
# ------------------------------------------------------------------------------------------------
def _int_arg(name: str, v: Any, minimum: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise InputError(name, f"must be an integer, got {type(v).__name__}")
    if isinstance(v, (float, np.floating)) and not (math.isfinite(v) and float(v).is_integer()):
        raise InputError(name, f"must be an integer, got {v}")
    if v < minimum:
        raise InputError(name, f"must be >= {minimum}, got {int(v)}")
    return int(v)


@dataclasses.dataclass
class WorkEstimate:
    """Sample-forward passes (one sample through the network once; a backward pass counts as two) per stage.

    ``est["total"]`` and ``est["Monte-Carlo"]`` read like a mapping.
    """

    stages: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def total(self) -> float:
        """Sample-forward passes summed over all stages."""
        return float(sum(self.stages.values()))

    @property
    def largest(self) -> str:
        """Name of the stage with the most sample-forward passes."""
        return max(self.stages, key=lambda k: self.stages[k])

    def __getitem__(self, key: str) -> float:
        return self.total if key == "total" else self.stages[key]

    def to_dict(self) -> dict[str, float]:
        """The stages and their ``"total"``, for JSON."""
        return {**self.stages, "total": self.total}


def estimate_work(
    *,
    n_prior: int,
    n_bound: int,
    n_test: int,
    epochs: int,
    prior_epochs: int,
    mc_samples: int,
    pilot_samples: int,
    test_mc_samples: int,
    grid: int,
    full: bool,
) -> WorkEstimate:
    """Sample-forward passes of each stage of :func:`pac_bayes_certificate` (checked against ``max_work``)."""
    mc = (grid * mc_samples if full else grid * pilot_samples + mc_samples) * n_bound
    return WorkEstimate(
        {
            "prior training": 3.0 * prior_epochs * n_prior,
            "posterior optimisation": 3.0 * grid * epochs * n_bound,
            "Monte-Carlo": float(mc),
            "test Monte-Carlo": float(test_mc_samples * n_test),
        }
    )


def _mc_delta(delta_mc: float, estimates: int) -> float:
    """Failure probability of each of ``estimates`` Monte-Carlo estimates the final choice may come from."""
    return delta_mc / estimates


# ------------------------------------------------------------------------------------------------
# losses
# ------------------------------------------------------------------------------------------------
def _bounded_surrogate(out: torch.Tensor, y: torch.Tensor, kind: str, lossf: Loss) -> torch.Tensor:
    """Training surrogate of the 0-1 error.

    Built-in classification losses become the cross-entropy rescaled to [0, 1] by clamping the probability
    of the true class at ``P_MIN``; a user loss is used as it is.
    """
    if lossf.builtin and lossf.name in ("cross_entropy", "nll", "bce_with_logits"):
        if kind == "multiclass":
            logp = torch.log_softmax(out, -1) if lossf.name == "cross_entropy" else out
            lp = logp.gather(-1, y[:, None]).squeeze(-1) if lossf.name != "bce_with_logits" else None
            if lp is not None:
                return (-lp.clamp_min(math.log(P_MIN))).mean() / math.log(1 / P_MIN)
        else:
            s = out.squeeze(-1) if kind == "binary_column" else out
            lp = torch.nn.functional.logsigmoid(torch.where(y.bool(), s, -s))
            return (-lp.clamp_min(math.log(P_MIN))).mean() / math.log(1 / P_MIN)
    return lossf(out, y)


def _gaussian_kl_t(mu, rho, mu0, lam: float) -> torch.Tensor:
    """KL(N(μ, diag e^{2ρ}) ‖ N(μ0, λI)) for the training objective (differentiable, the parameters' dtype)."""
    p = mu.numel()
    s2 = torch.exp(2 * rho)
    return 0.5 * ((s2.sum() + ((mu - mu0) ** 2).sum()) / lam - p + p * math.log(lam) - 2 * rho.sum())


def gaussian_kl_upper(mu: torch.Tensor, rho: torch.Tensor, mu0: torch.Tensor, lam: float) -> float:
    r"""The KL that enters the certificate, in float64 and rounded *up*.

    Per coordinate :math:`\tfrac12[(e^{u}-1-u)+(\mu-\mu_0)^2/\lambda]` with :math:`u=2\rho-\ln\lambda`
    (``expm1(u) − u`` has no cancellation at :math:`s^2\approx\lambda`, where the textbook form loses
    every digit in float32: 0.32 instead of 0.006 for 5,000 parameters). Each term is ≥ 0; the sum is
    inflated by ``(p + 4)·2⁻⁵²`` relative, a bound on the rounding of ``p`` additions and the terms.
    """
    u = 2 * rho.detach().double() - math.log(lam)
    d = (mu.detach().double() - mu0.detach().double()) ** 2 / lam
    terms = 0.5 * ((torch.expm1(u) - u).clamp_min(0) + d)
    p = terms.numel()
    return float(terms.sum()) * (1 + (p + 4) * 2.0**-52)


# ------------------------------------------------------------------------------------------------
# training loops (prior network; posterior)
# ------------------------------------------------------------------------------------------------
def _train_prior(
    net: nn.Module, X, y, lossf: Loss, epochs: int, lr: float, batch: int, seed: int, dev: torch.device
) -> nn.Module:
    """Train the prior network with Adam on the prior half only.

    Runs the generic loop :func:`tamelab.train.train` in train mode (BatchNorm statistics come from the
    prior half; no monitors).
    """
    from torch.utils.data import DataLoader, TensorDataset

    from ..train import train

    if epochs == 0:
        return net.eval()
    data: Any = (X, y)
    n = int(X.shape[0])
    if n % batch == 1 and n >= 2 and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules()):
        # BatchNorm cannot normalise a batch of one: drop that sample (a different one every epoch)
        data = DataLoader(TensorDataset(X, y), batch_size=batch, drop_last=True)
    res = train(
        net,
        data,
        loss=lossf,
        optimizer=torch.optim.Adam,
        lr=lr,
        epochs=epochs,
        batch_size=batch,
        seed=seed,
        device=dev,
        recorders=[],
        snapshot_every=None,
        inplace=True,
        desc="PAC-Bayes prior",
    )
    return res.model.eval()


def _optimise_posterior(
    snet: StochasticNet,
    mu_start,
    mu0,
    sp: float,
    Xb,
    yb,
    kind: str,
    lossf: Loss,
    *,
    epochs: int,
    lr: float,
    batch: int,
    log_term: float,
    gen: torch.Generator,
):
    """Adam on the quadratic-bound surrogate (sqrt(L + a) + sqrt(a))², a = (KL + log_term)/(2n)."""
    lam = sp**2
    n = int(Xb.shape[0])
    mu = mu_start.clone().requires_grad_(True)
    # the posterior starts at the prior's scale: KL = ‖μ−μ0‖²/(2σ_P²) at step 0
    rho = torch.full_like(mu_start, math.log(sp)).requires_grad_(True)
    opt = torch.optim.Adam([{"params": [mu], "lr": lr}, {"params": [rho], "lr": 10 * lr}])
    last = float("nan")
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen, device=gen.device)
        for lo in range(0, n, batch):
            idx = perm[lo : lo + batch]
            eps = torch.randn(mu.shape, generator=gen, device=mu.device, dtype=mu.dtype)
            theta = mu + torch.exp(rho) * eps
            L = _bounded_surrogate(snet(theta, Xb[idx]), yb[idx], kind, lossf).clamp_min(0)
            a = (_gaussian_kl_t(mu, rho, mu0, lam) + log_term) / (2 * n)
            obj = (torch.sqrt(L + a) + torch.sqrt(a)) ** 2
            opt.zero_grad(set_to_none=True)
            obj.backward()
            opt.step()
            last = float(obj.detach())
    return mu.detach(), rho.detach(), gaussian_kl_upper(mu, rho, mu0, lam), last


# ------------------------------------------------------------------------------------------------
# the certificate
# ------------------------------------------------------------------------------------------------
def _same_architecture(a: nn.Module, b: nn.Module, field: str) -> None:
    pa, pb = param_dict(a, trainable_only=True), param_dict(b, trainable_only=True)
    sa, sb = {k: tuple(v.shape) for k, v in pa.items()}, {k: tuple(v.shape) for k, v in pb.items()}
    if sa != sb:
        diff = next((k for k in {**sa, **sb} if sa.get(k) != sb.get(k)), "?")
        raise InputError(
            field,
            f"architecture does not match the model (parameter {diff!r}: {sb.get(diff)} vs {sa.get(diff)})",
            "pass the same architecture at initialisation",
        )


def split_halves(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The data-prior split: ``(prior_idx, bound_idx)``, a seeded permutation of ``range(n)`` cut at ``n // 2``."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[: n // 2], perm[n // 2 :]


def _digest(mu0: torch.Tensor, consts: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256(mu0.detach().cpu().contiguous().numpy().tobytes())
    for k in sorted(consts):
        h.update(k.encode())
        h.update(consts[k].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def pac_bayes_certificate(
    model: nn.Module,
    train: Any,
    test: Any = None,
    *,
    loss: str | Callable | Loss | None = "cross_entropy",
    prior: str = "data",
    init_model: nn.Module | None = None,
    init_seed: int | None = None,
    delta: float = 0.025,
    delta_mc: float = 0.01,
    mode: str = "fast",
    full: bool | None = None,
    mc_samples: int | None = None,
    epochs: int | None = None,
    prior_epochs: int | None = None,
    pilot_samples: int | None = None,
    test_mc_samples: int | None = None,
    lr: float = 1e-3,
    batch_size: int = 128,
    prior_batch_size: int = 64,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    input_key: str | None = None,
    target_key: str | None = None,
    seed: int | None = 0,
    max_work: float = MAX_WORK,
) -> PacBayesResult:
    """Optimise a Gaussian posterior over ``model``'s parameters and certify its 0-1 risk.

    Args:
        model: any ``nn.Module`` classifier (N×C logits, or one binary score per sample).
        train: training data in any form of :func:`tamelab.inputs.as_data` (integer class labels).
        test: optional held-out data (its errors are reported, not certified).
        loss: training objective of the prior network and the posterior (a name or a callable);
            the *bound* is always on the 0-1 error. ``cross_entropy``/``nll``/``bce_with_logits``
            use the bounded (clamped, rescaled) cross-entropy surrogate of Dziugaite & Roy.
        prior: ``"data"`` (prior trained on half the training set) or ``"init"``.
        init_model: the data-independent starting weights (see the module docstring).
        init_seed: seed of the re-initialised architecture when ``init_model`` is not given (``prior="data"``
            defaults to ``seed``).
        delta: failure probability of the PAC-Bayes step.
        delta_mc: failure probability of the Monte-Carlo step.
        mode: ``"fast"`` (default, seconds on digits) or ``"full"``: longer optimisation and Monte-Carlo
            estimates for every prior scale. Both are valid certificates.
        full: ``True`` is ``mode="full"``, ``False`` is ``mode="fast"`` (overrides ``mode`` when given).
        mc_samples: override the mode's Monte-Carlo sample budget of the certified error.
        epochs: override the mode's posterior-optimisation epochs.
        prior_epochs: override the mode's prior-training epochs.
        pilot_samples: override the mode's pilot samples (posterior selection; not part of the certificate).
        test_mc_samples: override the mode's Monte-Carlo samples of the reported test error.
        lr: Adam learning rate of the posterior and the prior.
        batch_size: mini-batch size of the posterior optimisation.
        prior_batch_size: mini-batch size of the prior training.
        device: where the stochastic network is evaluated (default: the model's); the certificate is for
            the network as computed there.
        dtype: precision of that evaluation (default: the model's).
        input_key: the input key of dict batches (see :func:`tamelab.inputs.as_data`).
        target_key: the target key of dict batches.
        seed: every random choice (split, training order, posterior draws) derives from it.
        max_work: refuse before starting when the estimated sample-forward passes exceed it.

    Returns:
        A :class:`PacBayesResult`: the certified bound, its ingredients and the work done.

    Raises:
        InputError: a bad argument (named), or estimated work above ``max_work``.
        NotApplicableError: the model is not a classifier or the targets are not class labels.
    """
    t0 = time.perf_counter()
    s = resolve_seed(seed)
    # ---- validation, before any work ----
    if prior not in ("data", "init"):
        raise InputError("prior", f"unknown prior {prior!r}", "use 'data' or 'init'")
    if full is not None:
        mode = "full" if full else "fast"
    if mode not in MODES:
        raise InputError("mode", f"unknown mode {mode!r}", "use 'fast' or 'full'")
    for name, v in (("delta", delta), ("delta_mc", delta_mc)):
        if not isinstance(v, (int, float)) or not 0 < v < 1:
            raise InputError(name, f"must be in (0, 1), got {v}")
    if delta + delta_mc >= 1:
        raise InputError("delta + delta_mc", f"must be < 1, got {delta + delta_mc}")
    budget = dict(MODES[mode])
    for name, v in (
        ("mc_samples", mc_samples),
        ("epochs", epochs),
        ("prior_epochs", prior_epochs),
        ("pilot_samples", pilot_samples),
        ("test_mc_samples", test_mc_samples),
    ):
        if v is not None:
            budget[name] = _int_arg(name, v, 1 if name == "mc_samples" else 0)
    if mode == "fast" and budget["pilot_samples"] < 1:
        raise InputError("pilot_samples", "must be >= 1 in fast mode (it scores the prior scales)")
    batch_size = _int_arg("batch_size", batch_size, 1)
    prior_batch_size = _int_arg("prior_batch_size", prior_batch_size, 1)
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise InputError("lr", f"must be a finite number > 0, got {lr}")
    if not (isinstance(max_work, (int, float)) and max_work > 0):
        raise InputError("max_work", f"must be > 0, got {max_work}")
    if init_seed is not None:
        init_seed = _int_arg("init_seed", init_seed, 0)
    as_model(model)
    lossf = resolve_loss(loss)
    params0 = list(model.parameters())
    dev = resolve_device(device) if device is not None else (params0[0].device if params0 else torch.device("cpu"))
    dt = model_dtype(model, dtype)
    tr = as_data(train, input_key=input_key, target_key=target_key, field="train")
    X, Y = tr.tensors(dev, dt)
    if Y.is_floating_point():
        raise NotApplicableError(
            "train",
            "targets are real-valued; the certificate bounds the 0-1 error of a classifier",
            "pass integer class labels",
        )
    n_all = int(X.shape[0])
    if n_all < 4:
        raise InputError("train", f"only {n_all} training points", "need a non-empty bound sample")
    Xt = Yt = None
    if test is not None:
        Xt, Yt = as_data(test, input_key=input_key, target_key=target_key, field="test").tensors(dev, dt)
    if prior == "data":
        n_prior, n_bound = n_all // 2, n_all - n_all // 2
    else:
        n_prior, n_bound = 0, n_all
    work = estimate_work(
        n_prior=n_prior,
        n_bound=n_bound,
        n_test=0 if Xt is None else int(Xt.shape[0]),
        epochs=budget["epochs"],
        prior_epochs=budget["prior_epochs"] if prior == "data" else 0,
        mc_samples=budget["mc_samples"],
        pilot_samples=budget["pilot_samples"],
        test_mc_samples=budget["test_mc_samples"],
        grid=len(PRIOR_SIGMAS),
        full=mode == "full",
    )
    if work.total > max_work:
        worst = work.largest
        raise InputError(
            "mc_samples/epochs",
            f"estimated {work.total:.3g} sample-forward passes ({worst}: "
            f"{work[worst]:.3g}) exceed max_work={max_work:.3g}",
            f"lower mc_samples/epochs, or raise max_work to {work.total:.3g}",
        )
    if init_model is not None:
        if init_model is model:
            raise InputError(
                "init_model",
                "is MODEL itself; a trained network is not data-independent",
                "pass the network at initialisation, or init_seed=S",
            )
        _same_architecture(model, init_model, "init_model")
        pm, pi_ = param_dict(model, trainable_only=True), param_dict(init_model, trainable_only=True)
        if all(torch.equal(pm[k].detach().cpu(), pi_[k].detach().cpu()) for k in pm):
            raise InputError(
                "init_model",
                "has the same weights as MODEL; a trained network is not data-independent",
                "pass the network at initialisation, or init_seed=S",
            )

    def start_network() -> tuple[nn.Module, str]:
        if init_model is not None:
            return copy.deepcopy(init_model).to(device=dev, dtype=dt), "init_model"
        if init_seed is None and prior == "init":
            raise InputError(
                "init_model",
                "prior='init' needs the network at initialisation",
                "pass init_model=... or init_seed=S (CLI: --init-model FILE or --init-seed S)",
            )
        si = init_seed if init_seed is not None else s
        return reinitialised(copy.deepcopy(model).to(device=dev, dtype=dt), si), f"reinitialised(seed={si})"

    # small dense kernels in Python loops: on a shared CPU, OpenMP threads only add contention
    with one_thread() if dev.type == "cpu" else contextlib.nullcontext():
        # ---- the prior ----
        if prior == "init":
            prior_net, start = start_network()
            prior_net.eval()
            Xb, yb = X, Y
            mu_start = flatten(param_dict(copy.deepcopy(model).to(device=dev, dtype=dt), trainable_only=True))
        else:
            pi, bi = (t.to(dev) for t in split_halves(n_all, s))
            net, start = start_network()
            prior_net = _train_prior(net, X[pi], Y[pi], lossf, budget["prior_epochs"], lr, prior_batch_size, s, dev)
            Xb, yb = X[bi], Y[bi]
            mu_start = None
        snet = StochasticNet(prior_net)
        mu0 = flatten(param_dict(prior_net, trainable_only=True)).detach()
        if mu_start is None:
            mu_start = mu0.clone()
        digest = _digest(mu0, snet.consts)
        with torch.no_grad():
            kind = classifier_kind(snet(mu0, Xb[:2]), yb)
        n, p, grid = int(Xb.shape[0]), snet.p, len(PRIOR_SIGMAS)
        ledger = ConfidenceLedger(delta + delta_mc)
        delta_j = [
            ledger.spend(f"PAC-Bayes kl bound with prior scale {sp} (grid of {grid})", delta / grid)
            for sp in PRIOR_SIGMAS
        ]
        log_terms = [math.log(2 * math.sqrt(n) / d) for d in delta_j]

        # ---- posterior for each prior scale ----
        hist: dict[str, list] = {"sigma_prior": [], "surrogate": [], "kl": [], "score": []}
        cands = []
        gpost = torch.Generator(device=dev).manual_seed(s + 1)
        for j, sp in enumerate(progress(PRIOR_SIGMAS, desc="posterior")):
            mu, rho, kl, sur = _optimise_posterior(
                snet,
                mu_start,
                mu0,
                sp,
                Xb,
                yb,
                kind,
                lossf,
                epochs=budget["epochs"],
                lr=lr,
                batch=batch_size,
                log_term=log_terms[j],
                gen=gpost,
            )
            cands.append((sp, mu, rho, kl))
            hist["sigma_prior"].append(sp)
            hist["surrogate"].append(sur)
            hist["kl"].append(kl)

        def certify(j: int, k: int, gen_seed: int, d_mc: float):
            sp, mu, rho, kl = cands[j]
            g = torch.Generator(device=dev).manual_seed(gen_seed)
            e = float(snet.errors(mu, torch.exp(rho), k, Xb, yb, kind, g).mean())
            e_bar = mc_error_bound(e, k, d_mc)
            return kl_inv_upper(e_bar, (kl + log_terms[j]) / n), e, e_bar

        if mode == "full":
            d_each = _mc_delta(delta_mc, grid)
            res = []
            for j, sp in enumerate(PRIOR_SIGMAS):
                d = ledger.spend(f"Monte-Carlo error at prior scale {sp} (estimated for all {grid})", d_each)
                res.append(certify(j, budget["mc_samples"], s + 2 + j, d))
                hist["score"].append(res[-1][0])
            jb = int(np.argmin([r[0] for r in res]))
            bound, e_mc, e_bar = res[jb]
        else:
            scores = []
            for j, (_, mu, rho, kl) in enumerate(cands):  # pilot: a selection heuristic, not part of the certificate
                g = torch.Generator(device=dev).manual_seed(s + 100 + j)
                e_p = float(snet.errors(mu, torch.exp(rho), budget["pilot_samples"], Xb, yb, kind, g).mean())
                scores.append(kl_inv_upper(e_p, (kl + log_terms[j]) / n))
            hist["score"] = scores
            jb = int(np.argmin(scores))
            d = ledger.spend(
                f"Monte-Carlo error of the chosen posterior (fresh draws, prior scale {PRIOR_SIGMAS[jb]})",
                _mc_delta(delta_mc, 1),
            )
            bound, e_mc, e_bar = certify(jb, budget["mc_samples"], s + 2, d)
        sp, mu, rho, kl_val = cands[jb]

        # ---- held-out numbers (not part of the certificate) ----
        test_err = mean_test = float("nan")
        with torch.no_grad():
            from ._stochastic import zero_one_errors

            mean_train = float(zero_one_errors(snet(mu, Xb), yb, kind).double().mean())
            if Xt is not None and budget["test_mc_samples"] > 0:
                g = torch.Generator(device=dev).manual_seed(s + 3)
                test_err = float(snet.errors(mu, torch.exp(rho), budget["test_mc_samples"], Xt, Yt, kind, g).mean())
                mean_test = float(zero_one_errors(snet(mu, Xt), Yt, kind).double().mean())
        kl_share = kl_val / (kl_val + log_terms[jb])
        comps = {
            "kl_term": (kl_val + log_terms[jb]) / n,
            "log_term": log_terms[jb],
            "grid_penalty": math.log(grid),
            "kl_share": kl_share,
            "mc_error": e_mc,
            "mc_error_upper": e_bar,
            "posterior_sigma_mean": float(torch.exp(rho).mean()),
            "distance_to_prior": float((mu - mu0).norm()),
            "params": p,
            "mc_vectorised": bool(snet.vectorised),
        }
        note = ""
        if kl_share < HOLDOUT_KL_SHARE:
            note = (
                f"KL(Q‖P) = {kl_val:.3g} is {100 * kl_share:.2g}% of the complexity term: the posterior barely "
                "moved from the prior, so the certificate is in effect a hold-out (test-set) bound on the prior's "
                "network "
                "evaluated on the bound half, not evidence about what training on that half learned."
            )
        finite = all(math.isfinite(v) for v in (bound, e_mc, e_bar, kl_val))
        ok = ledger.check() and finite and 0 <= bound <= 1 and bound >= e_bar - ULP_RTOL
        if not ledger.check():
            note = (
                f"confidence accounting failed: spent {ledger.total:.6g} > δ + δ' = {delta + delta_mc:.6g}. " + note
            ).strip()
    return PacBayesResult(
        status=Status.OK if ok else Status.UNCERTIFIED,
        seed=s,
        seconds=time.perf_counter() - t0,
        bound=bound,
        empirical_error=e_mc,
        empirical_error_mc_bound=e_bar,
        test_error=test_err,
        mean_net_test_error=mean_test,
        mean_net_train_error=mean_train,
        kl=kl_val,
        n=n,
        delta=delta,
        delta_mc=delta_mc,
        confidence=ledger.confidence,
        mc_samples=budget["mc_samples"],
        prior=prior,
        prior_start=start,
        prior_digest=digest,
        prior_sigma=sp,
        mode=mode,
        loss=lossf.name,
        device=str(dev),
        dtype=str(dt).removeprefix("torch."),
        ledger=ledger.to_list(),
        work=work.to_dict(),
        note=note,
        components=comps,
        history=hist,
    )
