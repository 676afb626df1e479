r"""Non-vacuous PAC-Bayes certificates for stochastic networks.

Dziugaite & Roy (arXiv:1703.11008): a Gaussian posterior :math:`Q=N(\mu,\mathrm{diag}\,s^2)` around a
trained network, prior :math:`P=N(\mu_0,\sigma_P^2I)`, optimise a differentiable bound surrogate over
:math:`(\mu,\ln s)` by SGD with the reparametrisation trick, then certify with the exact kl-inverse.
Prior choices:

* ``prior="init"``: :math:`\mu_0` = the network at initialisation (data-independent); the bound
  sample is the whole training set.
* ``prior="data"`` (Pérez-Ortiz, Rivasplata, Shawe-Taylor & Szepesvári, arXiv:2007.12911): the
  training set is split; :math:`\mu_0` is a network trained on the *prior half only*, and the
  certificate uses only the other half.

# NOTE [prior variance]: σ_P is chosen from a fixed grid of ``len(PRIOR_SIGMAS)`` values, paid for by
# a union bound (δ / |grid|), instead of D&R's learned λ with the 6/(π² j²) grid — simpler, same validity.

Final certificate (total confidence :math:`1-\delta-\delta'`):
:math:`\bar e=\mathrm{kl}^{-1}(\hat e_N,\ln(2/\delta')/N)` (Monte-Carlo error of :math:`Q` on the bound
sample, :math:`N` posterior draws), then :math:`L(Q)\le\mathrm{kl}^{-1}(\bar e,(\mathrm{KL}+\ln\frac{2\sqrt n}{\delta/|grid|})/n)`.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from .._progress import progress
from .._rng import resolve_seed
from ..data import Dataset
from ..errors import InputError
from ..models import relu_layers
from ..result import Result, Status
from ._kl import kl_inv_upper
from ._pac_bayes import mc_error_bound

__all__ = ["PacBayesResult", "pac_bayes_certificate", "PRIOR_SIGMAS"]

PRIOR_SIGMAS = (0.003, 0.01, 0.03, 0.1)
P_MIN = 1e-4  # probabilities clamped for the bounded (rescaled) cross-entropy surrogate


@dataclasses.dataclass
class PacBayesResult(Result):
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
    prior: str = "init"
    prior_sigma: float = float("nan")
    components: dict[str, Any] = dataclasses.field(default_factory=dict)
    history: dict[str, list] = dataclasses.field(default_factory=dict)


def _flat(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).double()


def _forward(layers_shapes, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """ReLU MLP forward from a flat parameter vector (float64)."""
    h, i = X, 0
    for k, (o, n_in) in enumerate(layers_shapes):
        W = theta[i : i + o * n_in].view(o, n_in)
        i += o * n_in
        b = theta[i : i + o]
        i += o
        h = h @ W.T + b
        if k < len(layers_shapes) - 1:
            h = torch.relu(h)
    return h


def _err(logits, y) -> float:
    return float((logits.argmax(1) != y).double().mean())


def _train_mean_net(model, X, y, epochs, seed) -> nn.Module:
    m = copy.deepcopy(model).double()
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    n = X.shape[0]
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g)
        for lo in range(0, n, 64):
            idx = perm[lo : lo + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(m(X[idx]), y[idx]).backward()
            opt.step()
    return m


def pac_bayes_certificate(
    model: nn.Module,
    train: Dataset,
    test: Dataset | None = None,
    *,
    prior: str = "init",
    init_model: nn.Module | None = None,
    delta: float = 0.025,
    delta_mc: float = 0.01,
    mc_samples: int = 1000,
    epochs: int = 60,
    prior_epochs: int = 40,
    lr: float = 1e-3,
    seed: int | None = 0,
) -> PacBayesResult:
    """Optimise a Gaussian posterior and certify its risk; see the module docstring."""
    t0 = time.perf_counter()
    s = resolve_seed(seed)
    if not 0 < delta < 1:
        raise InputError("--delta", f"must be in (0, 1), got {delta}")
    if not 0 < delta_mc < 1:
        raise InputError("--delta-mc", f"must be in (0, 1), got {delta_mc}")
    if mc_samples < 1:
        raise InputError("--mc-samples", f"must be >= 1, got {mc_samples}")
    if train.y is None:
        raise InputError("--data", "needs integer class labels y (the certificate bounds the 0-1 error)")
    if train.n < 4:
        raise InputError("--data", f"only {train.n} training points", "need a non-empty bound sample")
    layers = relu_layers(model)
    shapes = [W.shape for W, _ in layers]
    if shapes[0][1] != train.d:
        raise InputError("MODEL", f"input width {shapes[0][1]} != data dimension {train.d}")
    torch.manual_seed(s)
    X = torch.as_tensor(train.X, dtype=torch.float64)
    y = torch.as_tensor(train.y)
    if prior == "init":
        if init_model is None:
            raise InputError("--prior init", "needs the network at initialisation", "pass --init-model FILE or --init-seed S")
        init_shapes = [W.shape for W, _ in relu_layers(init_model)]
        if init_shapes != shapes:
            raise InputError("--init-model", f"architecture {init_shapes} does not match the model {shapes}")
        mu0 = _flat(init_model)
        mu_init = _flat(model)
        Xb, yb = X, y
    elif prior == "data":
        perm = torch.randperm(train.n, generator=torch.Generator().manual_seed(s))
        half = train.n // 2
        pi, bi = perm[:half], perm[half:]
        start = init_model if init_model is not None else model
        prior_net = _train_mean_net(start, X[pi], y[pi], prior_epochs, s)
        mu0 = _flat(prior_net)
        mu_init = mu0.clone()
        Xb, yb = X[bi], y[bi]
    else:
        raise InputError("--prior", f"unknown prior {prior!r}", "use init or data")
    n = int(Xb.shape[0])
    p = mu0.numel()
    grid_pen = math.log(len(PRIOR_SIGMAS))
    Ahat = lambda kl: (kl + math.log(2 * math.sqrt(n) / delta) + grid_pen) / n  # noqa: E731
    best = None
    hist: dict[str, list] = {"sigma_prior": [], "bound_surrogate": []}
    for sp in progress(PRIOR_SIGMAS, desc="posterior"):
        lam = sp**2
        mu = mu_init.clone().requires_grad_(True)
        # posterior starts at the prior's scale: KL = ‖μ−μ0‖²/(2σ_P²) at step 0
        rho = torch.full((p,), math.log(sp), dtype=torch.float64, requires_grad=True)
        opt = torch.optim.Adam([{"params": [mu], "lr": lr}, {"params": [rho], "lr": 10 * lr}])
        g = torch.Generator().manual_seed(s + 1)
        for ep in range(epochs):
            perm = torch.randperm(n, generator=g)
            for lo in range(0, n, 128):
                idx = perm[lo : lo + 128]
                eps = torch.randn(p, dtype=torch.float64, generator=g)
                theta = mu + torch.exp(rho) * eps
                out = _forward(shapes, theta, Xb[idx])
                prob = torch.softmax(out, 1).gather(1, yb[idx, None]).clamp_min(P_MIN)
                loss01 = (-torch.log(prob)).mean() / math.log(1 / P_MIN)
                s2 = torch.exp(2 * rho)
                kl = 0.5 * ((s2.sum() + ((mu - mu0) ** 2).sum()) / lam - p + p * math.log(lam) - 2 * rho.sum())
                a = (kl + math.log(2 * math.sqrt(n) / delta) + grid_pen) / (2 * n)
                surrogate = (torch.sqrt(loss01 + a) + torch.sqrt(a)) ** 2  # quadratic bound (differentiable)
                opt.zero_grad()
                surrogate.backward()
                opt.step()
        with torch.no_grad():
            s2 = torch.exp(2 * rho)
            kl_val = float(0.5 * ((s2.sum() + ((mu - mu0) ** 2).sum()) / lam - p + p * math.log(lam) - 2 * rho.sum()))
            gmc = torch.Generator().manual_seed(s + 2)
            errs = []
            for _ in range(mc_samples):
                theta = mu + torch.exp(rho) * torch.randn(p, dtype=torch.float64, generator=gmc)
                errs.append(_err(_forward(shapes, theta, Xb), yb))
            e_mc = float(np.mean(errs))
            e_bar = mc_error_bound(e_mc, mc_samples, delta_mc)
            bound = kl_inv_upper(e_bar, Ahat(kl_val))
        hist["sigma_prior"].append(sp)
        hist["bound_surrogate"].append(bound)
        if best is None or bound < best[0]:
            best = (bound, sp, mu.detach().clone(), rho.detach().clone(), kl_val, e_mc, e_bar)
    bound, sp, mu, rho, kl_val, e_mc, e_bar = best
    test_err = mean_test = float("nan")
    with torch.no_grad():
        mean_train = _err(_forward(shapes, mu, Xb), yb)
        if test is not None and test.y is not None:
            Xt, yt = torch.as_tensor(test.X, dtype=torch.float64), torch.as_tensor(test.y)
            gte = torch.Generator().manual_seed(s + 3)
            test_err = float(np.mean([_err(_forward(shapes, mu + torch.exp(rho) * torch.randn(p, dtype=torch.float64, generator=gte), Xt), yt)
                                      for _ in range(min(mc_samples, 500))]))
            mean_test = _err(_forward(shapes, mu, Xt), yt)
    comps = {
        "kl_term": Ahat(kl_val), "log_term": math.log(2 * math.sqrt(n) / delta), "grid_penalty": grid_pen,
        "mc_error": e_mc, "mc_error_upper": e_bar, "posterior_sigma_mean": float(torch.exp(rho).mean()),
        "distance_to_prior": float((mu - mu0).norm()), "params": p,
    }
    return PacBayesResult(
        status=Status.OK, seed=s, seconds=time.perf_counter() - t0, bound=bound, empirical_error=e_mc,
        empirical_error_mc_bound=e_bar, test_error=test_err, mean_net_test_error=mean_test, mean_net_train_error=mean_train,
        kl=kl_val, n=n, delta=delta, delta_mc=delta_mc, confidence=1 - delta - delta_mc, mc_samples=mc_samples,
        prior=prior, prior_sigma=sp, components=comps, history=hist,
    )
