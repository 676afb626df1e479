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
from tamelab.tame import (
    boundedness_hypothesis,
    convergence_report,
    ddkl_toy_run,
    min_norm_hull,
    minibatch_noise,
    monitored_sgd,
    sampled_stationarity,
    schedule_hypothesis,
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
    alpha = {
        "constant": np.full(500, a),
        "inv_t": a / (1 + t),
        "inv_sqrt_t": a / np.sqrt(1 + t),
        "robbins_monro": a / (b + t) ** p,
    }[cfg["schedule"]]
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


@pytest.mark.parametrize(
    "norms, verdict",
    [
        (lambda k: 5 - 1 / k, "holds"),  # converging norm
        (lambda k: 3 + 0 * k, "holds"),  # constant
        (lambda k: 1 + np.log(k), "violated"),  # linear in log k (spec: flag)
        (lambda k: np.sqrt(k), "violated"),  # polynomial growth
    ],
)
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
    assert st.noise_var_exact == pytest.approx(exact, rel=1e-10)
    assert st.full_grad_norm == pytest.approx(float(gbar.norm()), rel=1e-12)
    assert st.noise_var_resampled == pytest.approx(exact, rel=0.15)
    assert st.mean_ratio <= st.mean_ratio_threshold  # zero-mean test at false-alarm 1e-6
    # dof_eff against a dense eigen-decomposition of the per-sample covariance
    G = torch.stack([grad([i]) for i in range(n)])
    lam = np.linalg.eigvalsh(np.cov((G - G.mean(0)).numpy().T, bias=True))
    assert st.dof_eff == pytest.approx(lam.sum() ** 2 / (lam**2).sum(), rel=1e-8)
    assert st.finite_sum_gap < 1e-12
    full = minibatch_noise(model, params, X, T, loss, batch_size=n, resamples=10, seed=seed)
    assert full.noise_var_exact == 0.0 and full.mean_sq < 1e-28
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
        ref = _brute_min_norm(G)
        for method in ("wolfe", "nnls"):
            rho, lam, gap = min_norm_hull(G, method=method)  # legacy triple form
            assert rho == pytest.approx(ref, abs=1e-9), method
            assert lam.min() >= 0 and lam.sum() == pytest.approx(1.0) and abs(gap) < 1e-9
    with pytest.raises(InputError):
        min_norm_hull(np.zeros((0, 3)))


def test_gradient_sampling_spec_numbers(seed):
    # f(x) = |x1| + 2|x2| (spec §2.4): gradients (sign x1, 2 sign x2)
    def g(x):
        return torch.stack([torch.sign(x[0]), 2 * torch.sign(x[1])])

    x = torch.tensor([1e-3, 0.0], dtype=torch.float64)
    for eps in (1e-1, 1e-2):
        assert sampled_stationarity(g, x, eps=eps, m=40, seed=seed).rho < 1e-9
    assert sampled_stationarity(g, x, eps=1e-4, m=40, seed=seed).rho == pytest.approx(
        1.0, abs=1e-9
    )  # ball misses x1 = 0
    assert sampled_stationarity(
        g, torch.tensor([0.5, 0.0], dtype=torch.float64), eps=0.1, m=40, seed=seed
    ).rho == pytest.approx(1.0, abs=1e-9)
    r = sampled_stationarity(g, torch.tensor([0.5, 0.3], dtype=torch.float64), eps=0.1, m=10, seed=seed)
    assert r.rho == pytest.approx(math.sqrt(5), abs=1e-12)
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
        snapshots=snaps,
        snapshot_steps=list(range(0, 201, 25)),
        model=model,
        train=Dataset(X, None, Y),
        config={"optimizer": "sgd", "schedule": "inv_t", "lr": 0.1, "loss": "mse", "batch_size": 4, "widths": [d, k]},
    )
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
    # quadratic F: grad F(u) = grad F(theta) + H (u - theta), so the sampled-hull measure lies within lambda_max * eps
    # of the gradient norm at the snapshot (H = 2/(nk) [X 1]^T [X 1] (x) I_k)
    Xa = np.c_[X, np.ones(n)]
    lmax = 2 / (n * k) * np.linalg.eigvalsh(Xa.T @ Xa).max()
    checked = 0
    for e, vals in rep.rho.items():
        for gn, r in zip(rep.full_grad_norm, vals):
            if r is not None:
                assert gn - lmax * float(e) - 1e-12 <= r <= gn + lmax * float(e) + 1e-12
                checked += 1
    assert checked == 2 * 3


@pytest.fixture(scope="module")
def sgd_run():
    return fit(
        {
            "epochs": 3,
            "widths": [64, 16, 10],
            "optimizer": "sgd",
            "lr": 2.0,
            "schedule": "robbins_monro",
            "schedule_b": 20.0,
            "schedule_p": 0.75,
            "seed": 3,
        }
    )


def test_report_end_to_end_sgd(sgd_run):
    rep = convergence_report(sgd_run, seed=1, rho_samples=4)
    v = rep.verdicts()
    assert v["M"] == v["A2"] == v["A3"] == v["B"] == "holds"
    a1 = boundedness_hypothesis(sgd_run.history["step"], sgd_run.history["param_norm"])
    assert v["A1"] == a1.verdict and rep.hypotheses[2].evidence == a1.evidence  # (A1) is the run's own record
    assert rep.applicable is (a1.verdict == "holds")
    # the stationarity measure at the last snapshot: the full-batch gradient norm, recomputed by plain autograd
    import copy

    m = copy.deepcopy(sgd_run.model).double()
    m.load_state_dict({k: v.double() for k, v in sgd_run.snapshots[-1].items()})
    Xt, yt = torch.as_tensor(sgd_run.train.X, dtype=torch.float64), torch.as_tensor(sgd_run.train.y)
    torch.nn.functional.cross_entropy(m(Xt), yt).backward()
    g = torch.sqrt(sum((p.grad**2).sum() for p in m.parameters()))
    assert rep.conclusion["stationarity_last"] == pytest.approx(float(g), rel=1e-10)
    assert len(rep.full_loss) == len(sgd_run.snapshots) == 4
    # full-batch loss at the final snapshot = the loop's own final train loss (float32 vs float64)
    assert rep.full_loss[-1] == pytest.approx(sgd_run.final_train_loss, rel=1e-5)
    assert rep.noise and all(x.noise_var_exact > 0 for x in rep.noise)
    d = json.loads(json.dumps(rep.to_dict()))
    assert d["kind"] == "convergence" and d["seed"] == 1 and len(d["hypotheses"]) == 5
    assert (
        rep.needs and "S_N" in rep.needs[0] and "monitored_sgd" in rep.needs[0]
    )  # fit() does not record per-step noise
    rep2 = convergence_report(sgd_run, seed=1, rho_samples=4)
    a, b = rep.to_dict(), rep2.to_dict()
    a.pop("seconds")
    b.pop("seconds")  # noqa: E702
    assert a == b  # deterministic given the seed


def test_report_flags_adam_and_constant_step():
    r = fit({"epochs": 1, "widths": [64, 8, 10], "optimizer": "adam", "seed": 0})
    rep = convergence_report(r, seed=0, rho_samples=2, noise_snapshots=1, rho_snapshots=1)
    v = rep.verdicts()
    assert v["M"] == "violated" and v["A2"] == "violated" and rep.applicable is False
    no_data = types.SimpleNamespace(
        history=r.history, snapshots=[], snapshot_steps=[], config=r.config, model=r.model, train=None
    )
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
    b = minibatch_noise(
        model,
        params,
        X,
        T,
        nn.functional.mse_loss,
        batch_size=8,
        resamples=16,
        seed=seed,
        chunk=32,
        dense_max=0,
        probes=200,
    )
    assert a.dof_method == "dense Gram" and b.dof_method.startswith("Hutchinson")
    assert b.noise_var_exact == pytest.approx(a.noise_var_exact, rel=1e-12)  # chunked scatter is exact either way
    assert b.dof_eff == pytest.approx(a.dof_eff, rel=0.35)


def test_noise_mean_test_detects_a_biased_oracle(seed):
    # loss = worst squared residual is not a finite average: E[batch gradient] != full gradient -> the test must fail
    model, params, X, T = _tiny(seed, n=40)
    biased = lambda out, t: ((out - t) ** 2).sum(1).max()  # noqa: E731
    st = minibatch_noise(model, params, X, T, biased, batch_size=2, resamples=400, seed=seed)
    assert st.finite_sum_gap > 1e-3
    assert st.mean_ratio > st.mean_ratio_threshold


# ----------------------------------------------------------------------------- per-step monitored SGD (spec §3.3)


def _lsq(seed, n=40, d=3, k=2):
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((n, d)), rng.standard_normal((n, k))
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, k)).double(), X, Y


def _numpy_sgd(model, X, Y, *, steps, batch_size, alpha, K, seed):
    """Independent reference: SGD on F(W, b) = mean (X W^T + b - Y)^2 with closed-form gradients, the documented
    batch protocol (np.random.default_rng(seed).choice(n, b, replace=False) per step), and the exact second-order
    term sum alpha_k^2/2 d_k^T H d_k of the energy identity (F is quadratic)."""
    n, k = Y.shape
    W, b = model[0].weight.detach().numpy().copy(), model[0].bias.detach().numpy().copy()
    rng = np.random.default_rng(seed)

    def grad(W, b, idx):
        R = X[idx] @ W.T + b - Y[idx]
        return np.r_[(2 * R.T @ X[idx] / (len(idx) * k)).ravel(), 2 * R.sum(0) / (len(idx) * k)]

    def dHd(v):
        dW, db = v[: W.size].reshape(W.shape), v[W.size :]
        return 2 / (n * k) * float(((X @ dW.T + db) ** 2).sum())

    out = {
        "xi": [],
        "inner": [],
        "S": np.zeros(W.size + b.size),
        "second_order": 0.0,
        "F0": float(((X @ W.T + b - Y) ** 2).mean()),
    }
    for t in range(steps):
        d = grad(W, b, rng.choice(n, batch_size, replace=False))
        if t % K == 0:
            g = grad(W, b, np.arange(n))
            out["xi"].append(d - g)
            out["inner"].append(float(g @ d))
            out["S"] = out["S"] + K * alpha(t) * (d - g)
        out["second_order"] += alpha(t) ** 2 / 2 * dHd(d)
        W, b = W - alpha(t) * d[: W.size].reshape(W.shape), b - alpha(t) * d[W.size :]
    out["xi"] = np.array(out["xi"])
    out["FN"] = float(((X @ W.T + b - Y) ** 2).mean())
    return out


def test_monitored_sgd_noise_matches_numpy_closed_form(seed):
    model, X, Y = _lsq(seed)
    r = monitored_sgd(
        model,
        X,
        Y,
        loss="mse",
        schedule="robbins_monro",
        lr=1.0,
        schedule_b=10.0,
        schedule_p=0.75,
        steps=300,
        batch_size=4,
        noise_every=3,
        seed=seed,
    )
    ref = _numpy_sgd(model, X, Y, steps=300, batch_size=4, alpha=lambda t: (10.0 + t) ** -0.75, K=3, seed=seed)
    assert r.noise_steps == list(range(0, 300, 3))
    np.testing.assert_allclose(r.noise, ref["xi"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(r.noise_sq, (ref["xi"] ** 2).sum(1), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(r.noise_sum_path[-1], ref["S"], rtol=0, atol=1e-12)  # S_N = K sum alpha_k xi_k
    np.testing.assert_allclose(r.inner, ref["inner"], rtol=1e-10, atol=1e-14)
    assert r.final_full_loss == pytest.approx(ref["FN"], rel=1e-12) and r.full_loss[0] == pytest.approx(
        ref["F0"], rel=1e-14
    )
    assert r.history["lr"][:3] == pytest.approx([10.0**-0.75, 11.0**-0.75, 12.0**-0.75], rel=1e-15)
    assert r.config["noise_every"] == 3 and r.seed == seed and r.noise_monitor["kinks"]["ad_sgd_is_sgd"]
    # scaled energy identity with K = 3 uses the every-3rd-term estimate
    e = r.noise_monitor["energy"]
    assert e["sum_alpha_inner"] == pytest.approx(
        3 * sum(a * i for a, i in zip(r.noise_alpha, ref["inner"])), rel=1e-10, abs=1e-13
    )
    assert not e["exact_sum"]


@pytest.fixture(scope="module")
def lsq_runs():
    model, X, Y = _lsq(0)
    common = dict(loss="mse", steps=2000, batch_size=4, noise_every=1, seed=0)
    rm = monitored_sgd(
        model, X, Y, schedule="robbins_monro", lr=0.5 * 10**0.75, schedule_b=10.0, schedule_p=0.75, **common
    )
    const = monitored_sgd(model, X, Y, schedule="constant", lr=0.05, **common)
    return model, X, Y, rm, const


def test_noise_mean_zero_and_cauchy_decaying_vs_constant(lsq_runs):
    _, _, _, rm, const = lsq_runs
    for r in (rm, const):
        mon = r.noise_monitor
        assert mon["mean_test"]["rejects"] is False and mon["mean_test"]["p_value"] > 1e-3  # i.i.d. batches: zero mean
        assert all(t["rejects"] is False for t in mon["resample_tests"]) and len(mon["resample_tests"]) == 2
        assert mon["variance"]["bounded"] is True
    # alpha_k = c (k + 10)^-0.75: quadratic variation of S_N over (N/2, N] ~ N^(1/2 - 0.75) = N^-0.25: Cauchy
    a, c = rm.noise_monitor["noise_sum"], const.noise_monitor["noise_sum"]
    assert a["cauchy"] is True and -0.4 < a["qv_loglog_slope"] < -0.1
    assert a["increment_loglog_slope"] < 0  # the observed increments ||S_N - S_{N/2}|| shrink too
    # constant step: ~ N^(1/2): the increments ||S_N - S_{N/2}|| do not shrink
    assert c["cauchy"] is False and 0.35 < c["qv_loglog_slope"] < 0.65
    assert c["increment_loglog_slope"] > 0.2 and c["increments"][-1] > c["increments"][0]
    # the observed increments are of the size of their quadratic variation (martingale differences)
    for ns in (a, c):
        ratio = np.array(ns["increments"]) / np.array(ns["quadratic_variation"])
        assert 0.1 < np.exp(np.mean(np.log(ratio))) < 2.0


def test_energy_identity_exact_and_vanishing_with_step(lsq_runs):
    model, X, Y, rm, _ = lsq_runs
    n = X.shape[0]
    rels = []
    for a, N in ((0.05, 200), (0.025, 400), (0.0125, 800)):  # same total time N * alpha
        r = monitored_sgd(model, X, Y, schedule="constant", lr=a, steps=N, batch_size=n, noise_every=1, seed=0)
        ref = _numpy_sgd(model, X, Y, steps=N, batch_size=n, alpha=lambda t, a=a: a, K=1, seed=0)
        e = r.noise_monitor["energy"]
        # F quadratic: F(theta_N) - F(theta_0) + sum alpha <g, d> = sum alpha^2/2 d^T H d exactly
        assert e["residual"] == pytest.approx(ref["second_order"], rel=1e-9)
        assert e["full_batch"] and e["exact_sum"] and np.abs(r.noise).max() == 0.0
        rels.append(e["relative_residual"])
    assert rels[1] / rels[0] == pytest.approx(0.5, abs=0.05) and rels[2] / rels[1] == pytest.approx(0.5, abs=0.05)
    assert rels[2] < 0.01
    # mini-batch steps: the identity still holds with the per-step full gradient (K = 1), same closed form
    ref = _numpy_sgd(
        model, X, Y, steps=2000, batch_size=4, alpha=lambda t: 0.5 * 10**0.75 * (10.0 + t) ** -0.75, K=1, seed=0
    )
    assert rm.noise_monitor["energy"]["residual"] == pytest.approx(ref["second_order"], rel=1e-9)


def test_report_on_monitored_runs(lsq_runs):
    model, X, Y, rm, const = lsq_runs
    rep = convergence_report(rm, seed=0, rho_samples=4, lojasiewicz=False)
    v = rep.verdicts()
    assert v == {"M": "holds", "A2": "holds", "A1": "holds", "A3": "holds", "S": "holds", "B": "holds"}
    assert rep.needs == [] and rep.applicable is True
    a3 = next(h for h in rep.hypotheses if h.id == "A3")
    assert a3.evidence["monitored"]["trajectory_mean_test_p"] == rm.noise_monitor["mean_test"]["p_value"]
    assert rep.conclusion["energy_identity_relative_residual"] == rm.noise_monitor["energy"]["relative_residual"]
    assert rep.conclusion["ad_sgd_is_sgd"] is True
    # snapshots are the monitored run's own iterates: full loss at the last one = F(theta_N)
    assert rep.full_loss[-1] == pytest.approx(rm.final_full_loss, rel=1e-12)
    repc = convergence_report(const, seed=0, rho_samples=4, lojasiewicz=False)
    vc = repc.verdicts()
    assert vc["S"] == "violated" and vc["A2"] == "violated" and vc["A3"] == "holds" and repc.applicable is False
    gd = monitored_sgd(model, X, Y, schedule="inv_t", lr=0.05, steps=300, batch_size=X.shape[0], seed=0)
    repg = convergence_report(gd, seed=0, rho_samples=4, lojasiewicz=False)
    assert repg.verdicts()["A3"] == "holds" and repg.verdicts()["S"] == "holds"
    assert (
        repg.conclusion["energy_identity_consistent"] is True and repg.conclusion["energy_identity_full_batch"] is True
    )
    json.dumps(repg.to_dict())
    json.dumps(gd.to_dict())


def test_monitored_kink_counts_match_the_batches(seed):
    # a bias-free first layer and a zero input row: every hidden pre-activation of that row is exactly 0
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((12, 3))
    X[5] = 0.0
    y = rng.integers(0, 2, 12)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 4, bias=False), nn.ReLU(), nn.Linear(4, 2)).double()
    r = monitored_sgd(
        model, X, y, loss="cross_entropy", schedule="constant", lr=0.1, steps=40, batch_size=3, noise_every=4, seed=seed
    )
    brng = np.random.default_rng(seed)
    expect = [4 * int(5 in brng.choice(12, 3, replace=False)) for _ in range(40)]
    assert r.history["kinks"] == expect
    assert r.noise_monitor["kinks"]["steps_with_kinks"] == sum(e > 0 for e in expect)
    assert r.noise_monitor["kinks"]["ad_sgd_is_sgd"] is (sum(expect) == 0)


@pytest.mark.parametrize(
    "kw, field",
    [
        ({"loss": "hinge"}, "loss"),
        ({"steps": 0}, "steps"),
        ({"batch_size": 41}, "batch_size"),
        ({"noise_every": 0}, "noise_every"),
        ({"lr": -1.0}, "lr"),
        ({"schedule": "cosine"}, "schedule"),
        ({"resamples": 2}, "resamples"),
    ],
)
def test_monitored_sgd_bad_input(kw, field):
    model, X, Y = _lsq(0)
    args = {"loss": "mse", "lr": 0.1, "schedule": "constant", "steps": 5, "batch_size": 4, **kw}
    with pytest.raises(InputError, match=field):
        monitored_sgd(model, X, Y, **args)


def test_ddkl_toy_spec_numbers():
    """Spec §3.4 experiment 2: 20 runs, 1e5 steps, alpha_k = 0.1 (k+10)^-0.75, noise N(0, 0.1^2 I)."""
    r = ddkl_toy_run(seed=0)
    assert r.runs == 20 and r.steps == 100_000
    assert r.max_abs_x1_final < 5e-5  # spec: 1.6e-5
    assert r.max_dist_x2_to_pm1 < 1e-3  # spec: x2 in [-1.0001, 1.0002]
    assert 0 < r.n_at_plus_1 < 20  # split between the two minima
    c = ddkl_toy_run(seed=0, alpha=lambda k: 0.05)
    # constant step: the sign subgradient makes |x1| oscillate uniformly in [0, alpha]: tail mean alpha/2 = 0.025
    assert c.tail_mean_abs_x1 == pytest.approx(0.025, abs=0.003)  # spec: 0.025
    assert 0.04 < c.tail_max_abs_x1 < 0.1  # spec: 0.061
    assert c.tail_mean_abs_x1 > 1000 * r.tail_mean_abs_x1
    with pytest.raises(InputError, match="runs"):
        ddkl_toy_run(runs=0)


def test_monitored_sgd_and_report_input_contract(seed):
    """(X, Y) NumPy, a dict-batch DataLoader and a callable loss run the same SGD trajectory; the report takes data=
    in any form and a callable loss."""
    from torch.utils.data import DataLoader

    model, X, Y = _lsq(seed, n=24)
    common = dict(lr=0.2, schedule="inv_t", steps=60, batch_size=6, noise_every=2, seed=seed, snapshots=4, resamples=5)
    a = monitored_sgd(model, X, Y, loss="mse", **common)
    loader = DataLoader(
        [{"x": torch.as_tensor(X[i]), "y": torch.as_tensor(Y[i])} for i in range(24)], batch_size=5, shuffle=True
    )
    b = monitored_sgd(model, loader, loss=lambda o, t: ((o - t) ** 2).mean(), **common)
    assert np.array_equal(a.noise, b.noise) and a.final_full_loss == b.final_full_loss
    assert a.config["loss"] == "mse" and b.config["loss"] == "<lambda>" and b.config["device"] == "cpu"
    ra = convergence_report(a, seed=seed, rho_samples=3, noise_resamples=8, lojasiewicz=False)
    rb = convergence_report(
        b,
        data=loader,
        loss=torch.nn.functional.mse_loss,
        seed=seed,
        rho_samples=3,
        noise_resamples=8,
        lojasiewicz=False,
    )
    assert ra.full_loss == pytest.approx(rb.full_loss, rel=1e-12) and ra.verdicts() == rb.verdicts()
    assert ra.verdicts()["B"] == "holds" and ra.hypotheses[-1].evidence["structure"] == "alg"
