"""DDKL convergence monitor (spec tame-optimization.md §3): hypotheses, noise, gradient sampling."""

import itertools
import json
import math
import types

import numpy as np
import pytest
import torch
from torch import nn

from tamelab import InputError
from tamelab.data import Dataset
from tamelab.tame.davis2020stochastic import (
    boundedness_hypothesis, convergence_report, min_norm_hull, minibatch_noise, sampled_stationarity, schedule_hypothesis,
)
from tamelab.train import fit


pytestmark = pytest.mark.usefixtures("one_torch_thread")


SCHEDULE_CASES = [
    ({"schedule": "constant", "lr": 0.1}, "violated"),
    ({"schedule": "inv_t", "lr": 0.5}, "holds"),
    ({"schedule": "inv_sqrt_t", "lr": 0.5}, "violated"),
    ({"schedule": "robbins_monro", "lr": 1.0, "schedule_b": 10.0, "schedule_p": 0.75}, "holds"),
    ({"schedule": "robbins_monro", "lr": 1.0, "schedule_b": 1.0, "schedule_p": 1.0}, "holds"),
    ({"schedule": "robbins_monro", "lr": 1.0, "schedule_b": 1.0, "schedule_p": 0.5}, "violated"),
    ({"schedule": "robbins_monro", "lr": 1.0, "schedule_b": 1.0, "schedule_p": 1.5}, "violated"),
]


@pytest.mark.parametrize("cfg, verdict", SCHEDULE_CASES, ids=lambda x: str(x))
def test_schedule_verdict_is_analytic(cfg, verdict):
    h = schedule_hypothesis(cfg, steps=500)
    assert h.id == "A2" and h.verdict == verdict
    # partial sums against a direct evaluation of the formula
    a, b, p = cfg["lr"], cfg.get("schedule_b", 1.0), cfg.get("schedule_p", 1.0)
    t = np.arange(500, dtype=float)
    alpha = {"constant": np.full(500, a), "inv_t": a / (1 + t), "inv_sqrt_t": a / np.sqrt(1 + t),
             "robbins_monro": a / (b + t) ** p}[cfg["schedule"]]
    assert h.evidence["partial_sum"] == pytest.approx(alpha.sum(), rel=1e-12)
    assert h.evidence["partial_sum_sq"] == pytest.approx((alpha**2).sum(), rel=1e-12)
    if cfg["schedule"] == "constant":
        assert "sum alpha^2 = inf" in h.why and h.evidence["o_1_over_log_k"] is False


def test_schedule_recorded_lr_mismatch_is_not_checkable():
    cfg = {"schedule": "inv_t", "lr": 0.5}
    steps = np.arange(1, 11)
    ok = schedule_hypothesis(cfg, 10, 0.5 / steps, steps)
    assert ok.verdict == "holds" and ok.evidence["recorded_lr_max_rel_deviation"] < 1e-15
    bad = schedule_hypothesis(cfg, 10, np.full(10, 0.5), steps)
    assert bad.verdict == "not checkable"


@pytest.mark.parametrize("norms, verdict", [
    (lambda k: 5 - 1 / k, "holds"),            # converging norm
    (lambda k: 3 + 0 * k, "holds"),            # constant
    (lambda k: 1 + np.log(k), "violated"),     # linear in log k (spec: flag)
    (lambda k: np.sqrt(k), "violated"),        # polynomial growth
])
def test_boundedness_on_synthetic_histories(norms, verdict):
    k = np.arange(1, 5001, dtype=float)
    h = boundedness_hypothesis(k, norms(k))
    assert h.verdict == verdict, h.why
    assert h.evidence["max_param_norm"] == pytest.approx(float(np.max(norms(k))))


def _tiny(seed, n=6, d=3, k=2):
    rng = np.random.default_rng(seed)
    X = torch.as_tensor(rng.standard_normal((n, d)))
    T = torch.as_tensor(rng.standard_normal((n, k)))
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(d, k)).double()
    params = {n_: v.detach() for n_, v in model.named_parameters()}
    return model, params, X, T


def test_noise_second_moment_equals_brute_force_over_all_batches(seed):
    model, params, X, T = _tiny(seed)
    loss = nn.functional.mse_loss
    n, b = 6, 2

    def grad(idx):
        p = {k: v.clone().requires_grad_(True) for k, v in params.items()}
        val = loss(torch.func.functional_call(model, p, (X[idx],)), T[idx])
        return torch.cat([g.reshape(-1) for g in torch.autograd.grad(val, list(p.values()))])

    gbar = grad(list(range(n)))
    exact = np.mean([float(((grad(list(c)) - gbar) ** 2).sum()) for c in itertools.combinations(range(n), b)])
    st = minibatch_noise(model, params, X, T, loss, batch_size=b, resamples=4000, seed=seed)
    assert st["noise_var_exact"] == pytest.approx(exact, rel=1e-10)
    assert st["full_grad_norm"] == pytest.approx(float(gbar.norm()), rel=1e-12)
    assert st["noise_var_resampled"] == pytest.approx(exact, rel=0.15)
    assert st["mean_ratio"] <= st["mean_ratio_threshold"]  # zero-mean test at false-alarm 1e-6
    # dof_eff against a dense eigen-decomposition of the per-sample covariance
    G = torch.stack([grad([i]) for i in range(n)])
    lam = np.linalg.eigvalsh(np.cov((G - G.mean(0)).numpy().T, bias=True))
    assert st["dof_eff"] == pytest.approx(lam.sum() ** 2 / (lam**2).sum(), rel=1e-8)
    assert st["finite_sum_gap"] < 1e-12
    full = minibatch_noise(model, params, X, T, loss, batch_size=n, resamples=10, seed=seed)
    assert full["noise_var_exact"] == 0.0 and full["mean_sq"] < 1e-28
    with pytest.raises(InputError, match="batch_size"):
        minibatch_noise(model, params, X, T, loss, batch_size=0)


def _brute_min_norm(G):
    """Exhaustive active-set reference: min over supports of the affine-hull minimiser with lambda >= 0."""
    m = G.shape[0]
    best = math.inf
    for r in range(1, m + 1):
        for S in itertools.combinations(range(m), r):
            Gs = G[list(S)]
            K = Gs @ Gs.T
            A = np.block([[2 * K, np.ones((r, 1))], [np.ones((1, r)), np.zeros((1, 1))]])
            try:
                sol = np.linalg.solve(A, np.r_[np.zeros(r), 1.0])
            except np.linalg.LinAlgError:
                continue
            lam = sol[:r]
            if np.all(lam >= -1e-12):
                best = min(best, float(np.linalg.norm(Gs.T @ lam)))
    return best


def test_min_norm_hull_against_exhaustive_active_sets(seed):
    rng = np.random.default_rng(seed)
    for _ in range(20):
        m, p = int(rng.integers(1, 7)), int(rng.integers(2, 5))
        G = rng.standard_normal((m, p)) + rng.uniform(-1, 1, p)
        rho, lam, gap = min_norm_hull(G)
        assert rho == pytest.approx(_brute_min_norm(G), abs=1e-9)
        assert lam.min() >= 0 and lam.sum() == pytest.approx(1.0) and abs(gap) < 1e-9
    with pytest.raises(InputError):
        min_norm_hull(np.zeros((0, 3)))


def test_gradient_sampling_spec_numbers(seed):
    # f(x) = |x1| + 2|x2| (spec §2.4): gradients (sign x1, 2 sign x2)
    def g(x):
        return torch.stack([torch.sign(x[0]), 2 * torch.sign(x[1])])

    x = torch.tensor([1e-3, 0.0], dtype=torch.float64)
    for eps in (1e-1, 1e-2):
        assert sampled_stationarity(g, x, eps=eps, m=40, seed=seed)["rho"] < 1e-9
    assert sampled_stationarity(g, x, eps=1e-4, m=40, seed=seed)["rho"] == pytest.approx(1.0, abs=1e-9)  # ball misses x1 = 0
    assert sampled_stationarity(g, torch.tensor([0.5, 0.0], dtype=torch.float64), eps=0.1, m=40, seed=seed)["rho"] == pytest.approx(1.0, abs=1e-9)
    r = sampled_stationarity(g, torch.tensor([0.5, 0.3], dtype=torch.float64), eps=0.1, m=10, seed=seed)
    assert r["rho"] == pytest.approx(math.sqrt(5), abs=1e-12)
    with pytest.raises(InputError):
        sampled_stationarity(g, x, eps=0.0)


def test_report_on_linear_least_squares_matches_closed_form(seed):
    rng = np.random.default_rng(seed)
    n, d, k = 12, 3, 2
    X, Y = rng.standard_normal((n, d)), rng.standard_normal((n, k))
    model = nn.Sequential(nn.Linear(d, k)).double()
    snaps = []
    for _ in range(9):
        W, b = rng.standard_normal((k, d)), rng.standard_normal(k)
        snaps.append({"0.weight": torch.as_tensor(W), "0.bias": torch.as_tensor(b)})
    steps = np.arange(1, 201, dtype=float)
    run = types.SimpleNamespace(
        history={"step": steps, "lr": 0.1 / steps, "param_norm": 2 - 1 / steps, "loss": np.ones(200)},
        snapshots=snaps, snapshot_steps=list(range(0, 201, 25)), model=model, train=Dataset(X, None, Y),
        config={"optimizer": "sgd", "schedule": "inv_t", "lr": 0.1, "loss": "mse", "batch_size": 4, "widths": [d, k]})
    rep = convergence_report(run, seed=seed, rho_samples=4, lojasiewicz=False)
    for s, F, gn in zip(snaps, rep.full_loss, rep.full_grad_norm):
        W, b = s["0.weight"].numpy(), s["0.bias"].numpy()
        R = X @ W.T + b - Y
        assert F == pytest.approx((R**2).mean(), rel=1e-12)
        gW, gb = 2 * R.T @ X / (n * k), 2 * R.sum(0) / (n * k)
        assert gn == pytest.approx(math.sqrt((gW**2).sum() + (gb**2).sum()), rel=1e-10)
    assert rep.verdicts() == {"M": "holds", "A2": "holds", "A1": "holds", "A3": "holds", "B": "holds"}
    assert rep.hypotheses[-1].evidence["structure"] == "alg"
    assert rep.applicable is True and rep.seed == seed


@pytest.fixture(scope="module")
def sgd_run():
    return fit({"epochs": 3, "widths": [64, 16, 10], "optimizer": "sgd", "lr": 2.0, "schedule": "robbins_monro",
                "schedule_b": 20.0, "schedule_p": 0.75, "seed": 3})


def test_report_end_to_end_sgd(sgd_run):
    rep = convergence_report(sgd_run, seed=1, rho_samples=4)
    v = rep.verdicts()
    assert v["M"] == v["A2"] == v["A3"] == v["B"] == "holds"
    assert v["A1"] in ("holds", "violated")
    assert len(rep.full_loss) == len(sgd_run.snapshots) == 4
    # full-batch loss at the final snapshot = the loop's own final train loss (float32 vs float64)
    assert rep.full_loss[-1] == pytest.approx(sgd_run.final_train_loss, rel=1e-5)
    assert rep.noise and all(x["noise_var_exact"] > 0 for x in rep.noise)
    d = json.loads(json.dumps(rep.to_dict()))
    assert d["kind"] == "convergence" and d["seed"] == 1 and len(d["hypotheses"]) == 5
    assert rep.needs and "S_N" in rep.needs[0]
    rep2 = convergence_report(sgd_run, seed=1, rho_samples=4)
    a, b = rep.to_dict(), rep2.to_dict()
    a.pop("seconds"); b.pop("seconds")  # noqa: E702
    assert a == b  # deterministic given the seed


def test_report_flags_adam_and_constant_step():
    r = fit({"epochs": 1, "widths": [64, 8, 10], "optimizer": "adam", "seed": 0})
    rep = convergence_report(r, seed=0, rho_samples=2, noise_snapshots=1, rho_snapshots=1)
    v = rep.verdicts()
    assert v["M"] == "violated" and v["A2"] == "violated" and rep.applicable is False
    no_data = types.SimpleNamespace(history=r.history, snapshots=[], snapshot_steps=[], config=r.config, model=r.model, train=None)
    rep2 = convergence_report(no_data)
    assert rep2.verdicts()["A3"] == "not checkable" and rep2.status != "ok"
    with pytest.raises(InputError, match="train_result"):
        convergence_report(object())


def test_noise_hutchinson_dof_close_to_dense(seed):
    rng = np.random.default_rng(seed)
    X = torch.as_tensor(rng.standard_normal((80, 5)))
    T = torch.as_tensor(rng.standard_normal((80, 3)))
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3)).double()
    params = {k: v.detach() for k, v in model.named_parameters()}
    a = minibatch_noise(model, params, X, T, nn.functional.mse_loss, batch_size=8, resamples=16, seed=seed, chunk=32)
    b = minibatch_noise(model, params, X, T, nn.functional.mse_loss, batch_size=8, resamples=16, seed=seed, chunk=32,
                        dense_max=0, probes=200)
    assert a["dof_method"] == "dense Gram" and b["dof_method"].startswith("Hutchinson")
    assert b["noise_var_exact"] == pytest.approx(a["noise_var_exact"], rel=1e-12)  # chunked scatter is exact either way
    assert b["dof_eff"] == pytest.approx(a["dof_eff"], rel=0.35)


def test_noise_mean_test_detects_a_biased_oracle(seed):
    # loss = worst squared residual is not a finite average: E[batch gradient] != full gradient -> the test must fail
    model, params, X, T = _tiny(seed, n=40)
    biased = lambda out, t: ((out - t) ** 2).sum(1).max()  # noqa: E731
    st = minibatch_noise(model, params, X, T, biased, batch_size=2, resamples=400, seed=seed)
    assert st["finite_sum_gap"] > 1e-3
    assert st["mean_ratio"] > st["mean_ratio_threshold"]
