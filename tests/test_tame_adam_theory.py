"""De–Mukherjee–Ullah RMSProp/ADAM guarantees (spec tame-optimization.md §6) and the ADAM-vs-NAG study."""

import json
import math

import numpy as np
import pytest
import torch

from tamelab import InputError
from tamelab.tame import (
    adam_vs_nag_study,
    check_theorem,
    log_finite_sum_problem,
    log_sum_problem,
    logistic_problem,
    min_hessian_eigenvalue,
    plot_adam_vs_nag,
    run_dmu,
    run_dmu_batch,
    sign_condition_violation,
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _numpy_dmu(grad, x0, alpha, beta1, beta2, xi, T):
    """Reference: the paper's recursion written out in numpy (§6.1)."""
    x, m, v, out = np.array(x0, float), 0.0, 0.0, []
    for _ in range(T):
        g = grad(x)
        out.append(np.linalg.norm(g))
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        x = x - alpha * m / (np.sqrt(v) + xi)
    return np.array(out), x


@pytest.mark.parametrize("beta1", [0.0, 0.9])
def test_run_dmu_matches_numpy_recursion(seed, beta1):
    pb = log_sum_problem(5)
    x0 = np.random.default_rng(seed).uniform(-5, 5, 5)
    r = run_dmu(pb, x0=x0, step_size=0.05, T=300, beta1=beta1, beta2=0.9, xi=0.5)
    ref, _ = _numpy_dmu(pb.grad, x0, 0.05, beta1, 0.9, 0.5, 300)
    np.testing.assert_allclose(r.grad_norms, ref, rtol=1e-12, atol=1e-300)
    assert r.min_grad_norm == pytest.approx(ref.min()) and r.seed == 0


def test_problem_constants_against_finite_differences(seed):
    rng = np.random.default_rng(seed)
    for pb in (log_sum_problem(4), log_finite_sum_problem(6, 3, seed=seed), logistic_problem(40, 3, seed=seed)):
        for _ in range(5):
            x = rng.uniform(-4, 4, pb.dim)
            h = 1e-6
            fd = np.array([(pb.f(x + h * e) - pb.f(x - h * e)) / (2 * h) for e in np.eye(pb.dim)])
            np.testing.assert_allclose(pb.grad(x), fd, atol=1e-7)
            assert np.linalg.norm(pb.grad(x)) <= pb.sigma + 1e-12
            # L-smoothness: ||grad(x) - grad(y)|| <= L ||x - y||
            y = x + rng.normal(scale=0.3, size=pb.dim)
            assert np.linalg.norm(pb.grad(x) - pb.grad(y)) <= pb.L * np.linalg.norm(x - y) + 1e-12
            if pb.component_grad is not None:
                mean = np.mean([pb.component_grad(x, p) for p in range(pb.n_components)], axis=0)
                np.testing.assert_allclose(mean, pb.grad(x), atol=1e-12)
    # the log-sum constants are attained: f'' = 2 at 0, |f'| = 1 at x = 1
    pb = log_sum_problem(3)
    assert np.linalg.norm(pb.grad(np.ones(3))) == pytest.approx(pb.sigma)


def test_rmsprop_theorem_formulas():
    c = check_theorem(
        "rmsprop", beta2=0.9, xi=1.0, smoothness=2.0, grad_bound=math.sqrt(10), dim=10, eps=0.1, gap=10.0, T=1000
    )
    assert c.applicable and c.failing == []
    assert c.step_size_theorem == pytest.approx(0.1 * 1.0 / (2.0 * math.sqrt(11.0)))
    assert c.steps_to_eps == pytest.approx(2 * 2 * 11 * 10 / (0.1 * 1.0 * 0.01))
    assert c.bound_min_grad_norm == pytest.approx(math.sqrt(2 * 2 * 11 * 10 / (0.1 * 1000)))
    assert "reconstructed" in c.constants_status
    a = c.step_size_theorem
    assert c.derived["steps_to_eps"] == pytest.approx((math.sqrt(10) + 1) * 10 / (a * (1 - 2 * a / 2) * 0.01))
    # wrong beta1 / wrong step: which condition fails is named
    bad = check_theorem("rmsprop", beta1=0.5, beta2=0.9, xi=1.0, step_size=0.3, smoothness=2.0, grad_bound=1.0, dim=1)
    assert not bad.applicable and set(bad.failing) == {"beta1 == 0 (RMSProp)", "step size == theorem step"}
    assert bad.status == "infeasible"
    big = check_theorem(
        "rmsprop", beta2=0.9, xi=1.0, step_size=1.5, smoothness=2.0, grad_bound=1.0, dim=1, T=10, gap=1.0
    )
    assert big.derived["applicable"] is False and "bound_min_grad_norm" not in big.derived  # alpha >= 2 xi / L


def test_stochastic_and_adam_conditions():
    c = check_theorem(
        "rmsprop_stochastic",
        beta2=0.9,
        xi=1.0,
        smoothness=2.0,
        grad_bound=2.0,
        dim=2,
        T=100,
        gap=3.0,
        sign_condition=True,
    )
    assert c.applicable
    assert c.step_size_theorem == pytest.approx(math.sqrt(2 * 1.0 * 0.1 * 3.0 / (4.0 * 2.0)) / 10)
    assert c.bound_min_grad_norm**4 == pytest.approx(2 * 2.0 * 4.0 * 5.0 * 3.0 / (0.1 * 1.0 * 100))
    c2 = check_theorem(
        "rmsprop_stochastic",
        beta2=0.9,
        xi=1.0,
        smoothness=2.0,
        grad_bound=2.0,
        dim=2,
        T=100,
        gap=3.0,
        sign_condition=False,
    )
    assert c2.failing == ["sign condition on component gradients"]
    # ADAM: beta1 = 0.99 violates beta1 < eps/(eps+sigma); small beta1 and large xi pass; constants flagged unavailable
    a = check_theorem("adam", beta1=0.99, beta2=0.999, xi=1e-8, smoothness=1.0, grad_bound=1.0, dim=3, eps=0.1)
    assert not a.applicable and "beta1 < eps/(eps+sigma)" in a.failing and "[X]" in a.constants_status
    eps, sig = 0.1, 1.0
    b1 = 0.5 * eps / (eps + sig)
    xi_min = sig**2 * b1 / (eps - b1 * (eps + sig))
    ok = check_theorem("adam", beta1=b1, beta2=0.9, xi=2 * xi_min, smoothness=1.0, grad_bound=sig, dim=3, eps=eps)
    assert ok.applicable and ok.steps_to_eps is None
    no = check_theorem("adam", beta1=b1, beta2=0.9, xi=0.5 * xi_min, smoothness=1.0, grad_bound=sig, dim=3, eps=eps)
    assert any(f.startswith("xi >") for f in no.failing)


@pytest.mark.parametrize(
    "kw, field",
    [
        ({"method": "sgd"}, "method"),
        ({"beta2": 1.0}, "beta2"),
        ({"xi": 0.0}, "xi"),
        ({"smoothness": -1}, "smoothness"),
        ({"dim": 0}, "dim"),
        ({"T": 0}, "T"),
        ({"step_size": float("nan")}, "step_size"),
        ({"beta1": -0.1}, "beta1"),
    ],
)
def test_check_theorem_bad_input(kw, field):
    args = {"method": "rmsprop", "beta2": 0.9, "xi": 1.0, "smoothness": 1.0, "grad_bound": 1.0, "dim": 2, **kw}
    with pytest.raises(InputError, match=field):
        check_theorem(args.pop("method"), **args)


@pytest.mark.parametrize("eps, xi, beta2", [(0.3, 1.0, 0.5), (0.1, 1.0, 0.9), (0.1, 0.1, 0.5), (0.03, 1.0, 0.9)])
def test_deterministic_rmsprop_hits_eps_within_both_bounds(seed, eps, xi, beta2):
    pb = log_sum_problem(10)
    x0 = np.random.default_rng(seed).uniform(-5, 5, 10)
    c = check_theorem(
        "rmsprop", beta2=beta2, xi=xi, smoothness=pb.L, grad_bound=pb.sigma, dim=10, eps=eps, gap=pb.f(x0)
    )
    r = run_dmu(pb, x0=x0, step_size=c.step_size_theorem, T=int(c.steps_to_eps), beta2=beta2, xi=xi, stop_eps=eps)
    assert r.hit_step is not None and r.hit_step <= c.steps_to_eps and r.hit_step <= c.derived["steps_to_eps"]


def test_derived_bound_holds_for_any_admissible_step(seed):
    rng = np.random.default_rng(seed)
    pb = logistic_problem(60, 4, seed=seed)  # f* = 0 is a lower bound, so gap = f(x1) is an upper bound
    for alpha in (0.05, 0.5, 1.5):
        xi = 1.0
        x0 = rng.uniform(-3, 3, 4)
        T = 200
        c = check_theorem(
            "rmsprop",
            beta2=0.9,
            xi=xi,
            step_size=alpha * 2 * xi / pb.L / 2,
            smoothness=pb.L,
            grad_bound=pb.sigma,
            dim=4,
            T=T,
            gap=pb.f(x0),
        )
        r = run_dmu(pb, x0=x0, step_size=c.inputs["step_size"], T=T, beta2=0.9, xi=xi)
        assert r.min_grad_norm <= c.derived["bound_min_grad_norm"]
        assert r.f_last <= r.f_first + 1e-12  # monotone decrease is what the descent lemma gives


def test_sign_condition_checker(seed):
    pb = log_finite_sum_problem(8, 3, seed=seed)
    pts = np.random.default_rng(seed).uniform(-3, 3, (20, 3))
    assert sign_condition_violation(pb, pts) == 0.0
    lg = logistic_problem(30, 3, seed=seed)
    assert sign_condition_violation(lg, pts) > 0.5  # labels of both signs: component gradients disagree
    with pytest.raises(InputError):
        sign_condition_violation(log_sum_problem(2), pts[:, :2])


def test_stochastic_rmsprop_within_guarantee(seed):
    pb = log_finite_sum_problem(20, 2, seed=seed)
    x0 = np.random.default_rng(seed).uniform(-5, 5, 2)
    T = 3000
    c = check_theorem(
        "rmsprop_stochastic",
        beta2=0.9,
        xi=1.0,
        smoothness=pb.L,
        grad_bound=pb.component_sigma,
        dim=2,
        T=T,
        gap=pb.f(x0),
        sign_condition=True,
    )
    r = run_dmu(pb, x0=x0, step_size=c.step_size_theorem, T=T, beta2=0.9, xi=1.0, stochastic=True, seed=seed)
    assert r.min_grad_norm**2 <= c.bound_min_grad_norm**2
    with pytest.raises(InputError, match="stochastic"):
        run_dmu(log_sum_problem(2), x0=np.ones(2), step_size=0.1, T=3, stochastic=True)


def _numpy_dmu_run(pb, run, stochastic):
    """Reference for one run of run_dmu_batch: the recursion in numpy, indices drawn up front, stop/T rules."""
    x, m, v, out, hit = np.array(run["x0"], float), 0.0, 0.0, [], None
    b1, b2, xi, a = run.get("beta1", 0.0), run.get("beta2", 0.9), run.get("xi", 1.0), run["step_size"]
    idx = np.random.default_rng(run.get("seed", 0)).integers(pb.n_components, size=run["T"]) if stochastic else None
    for t in range(run["T"]):
        out.append(np.linalg.norm(pb.grad(x)))
        if run.get("stop_eps") is not None and out[-1] <= run["stop_eps"]:
            hit = t + 1
            break
        g = pb.component_grad(x, int(idx[t])) if stochastic else pb.grad(x)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        x = x - a * m / (np.sqrt(v) + xi)
    return np.array(out), hit, pb.f(x)


@pytest.mark.parametrize("stochastic", [False, True])
def test_run_dmu_batch_rows_are_the_single_runs(seed, stochastic):
    """Rows with different step sizes, betas, xi, T and stopping tolerances follow their own recursion exactly."""
    pb = log_finite_sum_problem(6, 3, seed=seed)
    rng = np.random.default_rng(seed)
    runs = [
        {"x0": rng.uniform(-3, 3, 3), "step_size": 0.05, "T": 40, "beta2": 0.9, "xi": 0.5, "seed": 1},
        {"x0": rng.uniform(-3, 3, 3), "step_size": 0.2, "T": 300, "beta1": 0.5, "beta2": 0.99, "stop_eps": 0.3},
        {"x0": rng.uniform(-3, 3, 3), "step_size": 0.01, "T": 7, "xi": 2.0, "seed": 5},
        {"x0": np.zeros(3), "step_size": 0.1, "T": 50, "stop_eps": 1e-9},  # stops at once: gradient 0 at 0
    ]
    out = run_dmu_batch(pb, runs, stochastic=stochastic)
    for run, r in zip(runs, out):
        ref, hit, f_last = _numpy_dmu_run(pb, run, stochastic)
        np.testing.assert_allclose(r.grad_norms, ref, rtol=1e-12, atol=1e-300)
        assert r.steps == ref.size and r.hit_step == hit and r.f_last == pytest.approx(f_last, rel=1e-12)
        one = run_dmu(pb, **run, stochastic=stochastic)
        np.testing.assert_array_equal(one.grad_norms, r.grad_norms)
    assert out[3].hit_step == 1 and out[1].hit_step is not None and out[2].steps == 7
    # a problem whose gradient is not row-wise (logistic: A @ x) is evaluated row by row, with the same result
    lg = logistic_problem(30, 3, seed=seed)
    assert not lg.rowwise
    two = run_dmu_batch(lg, runs[:3], stochastic=stochastic)
    for run, r in zip(runs[:3], two):
        np.testing.assert_allclose(r.grad_norms, _numpy_dmu_run(lg, run, stochastic)[0], rtol=1e-12, atol=1e-300)


def test_run_dmu_batch_refuses_bad_runs():
    pb = log_sum_problem(2)
    ok = {"x0": np.ones(2), "step_size": 0.1, "T": 3}
    for runs, field in [
        ([], "runs"),
        ([{**ok, "lr": 0.1}], r"runs\[0\]"),
        ([{"x0": np.ones(2), "T": 3}], r"runs\[0\]"),
        ([ok, {**ok, "x0": np.ones(3)}], r"runs\[1\].x0"),
        ([{**ok, "T": 0}], r"runs\[0\].T"),
    ]:
        with pytest.raises(InputError, match=field):
            run_dmu_batch(pb, runs)


@pytest.fixture(scope="module")
def tiny_study():
    return adam_vs_nag_study(
        {
            "data": "digits",
            "seeds": [0],
            "epochs": 2,
            "hidden": [8],
            "grid_expansions": 0,
            "lrs": {"adam": [1e-3], "rmsprop": [1e-3], "nag": [0.1, 0.3]},
            "min_eig_every": 0,
        }
    )


def test_study_structure_and_reproducibility(tiny_study):
    r = tiny_study
    assert set(r.best) == {"adam_b1_0.99", "adam_b1_0.9", "rmsprop", "nag_0.9", "nag_0.99"}
    for b in r.best.values():
        assert len(b["curves"]["train_loss"]) == 3  # init + 2 epochs
        assert b["final_train_loss"] == pytest.approx(b["curves"]["train_loss"][-1])
    nag = r.runs["nag_0.9"]
    finals = {lr: v[0]["train_loss"][-1] for lr, v in nag.items()}
    assert r.best["nag_0.9"]["lr"] == float(min(finals, key=finals.get))
    c = r.conclusion
    assert c["adam_0.99_beats_nag_train"] == (c["adam_0.99_train_loss"] < c["nag_train_loss"])
    json.dumps(r.to_dict())
    assert r.min_eig == {} and "nag_min_eig_spearman" not in c  # min_eig_every = 0: off
    again = adam_vs_nag_study(
        {
            "data": "digits",
            "seeds": [0],
            "epochs": 2,
            "hidden": [8],
            "optimizers": ["nag_0.9"],
            "lrs": {"nag": [0.1, 0.3]},
            "min_eig_every": 0,
            "grid_expansions": 0,
        }
    )
    assert again.runs["nag_0.9"] == r.runs["nag_0.9"]  # seeded: bitwise identical
    fig = plot_adam_vs_nag(r)
    assert len(fig.axes) == 3 and len(fig.axes[0].lines) == 5


def test_study_extends_an_edge_grid_until_the_optimum_is_inside():
    """A grid whose best rate is its largest is extended by the grid's own ratio; the tuned rate is then interior (or
    the
    extension budget is spent and lr_at_grid_edge says so). The per-seed win counts match the per-seed finals."""
    cfg = {
        "data": "digits",
        "seeds": [0, 1],
        "epochs": 2,
        "hidden": [8],
        "optimizers": ["adam_b1_0.99", "nag_0.9"],
        "lrs": {"adam": [1e-4, 3e-4], "nag": [0.01, 0.03]},
        "min_eig_every": 0,
        "grid_expansions": 2,
    }
    r = adam_vs_nag_study(cfg)
    for name in ("adam_b1_0.99", "nag_0.9"):
        b = r.best[name]
        grid = b["grid"]
        assert len(grid) >= 3 and sorted(float(k) for k in r.runs[name]) == pytest.approx(grid)  # it was extended
        assert grid[2] / grid[1] == pytest.approx(grid[1] / grid[0])  # by the grid's ratio
        finals = {float(k): np.mean([s["train_loss"][-1] for s in v]) for k, v in r.runs[name].items()}
        assert b["lr"] == min(finals, key=finals.get)
        assert b["lr_at_grid_edge"] == (b["lr"] in (grid[0], grid[-1]))
        assert b["lr_at_grid_edge"] is False or len(grid) == 4  # interior, or both extensions spent
    c = r.conclusion
    a, n = r.best["adam_b1_0.99"], r.best[c["best_nag"]]
    wins = sum(x < y for x, y in zip(a["final_train_loss_per_seed"], n["final_train_loss_per_seed"]))
    assert c["adam_0.99_beats_nag_train_seeds"] == f"{wins}/2"
    assert c["lr_optima_inside_grids"] == (not a["lr_at_grid_edge"] and not n["lr_at_grid_edge"])


def test_study_initial_loss_is_independent_reference(tiny_study):
    # epoch-0 train loss = MSE of the seeded initial autoencoder, recomputed directly
    from tamelab.data import load_data
    from tamelab.models import mlp

    X = torch.as_tensor(load_data("digits", split="train", seed=0).X, dtype=torch.float32)
    m = mlp([64, 8, 64], seed=0, dtype=torch.float32)
    with torch.no_grad():
        ref = float(((m(X) - X) ** 2).mean())
    assert tiny_study.best["nag_0.9"]["curves"]["train_loss"][0] == pytest.approx(ref, rel=1e-6)


@pytest.mark.parametrize(
    "cfg, field",
    [
        ({"epochs": 0}, "epochs"),
        ({"hidden": [0]}, "hidden"),
        ({"seeds": [-1]}, "seeds"),
        ({"lrs": {"sgd": [1]}}, "lrs"),
        ({"lrs": {"adam": [-1]}}, "lrs.adam"),
        ({"bogus": 1}, "config"),
        ({"optimizers": ["lion"]}, "optimizers"),
        ({"min_eig_every": -1}, "min_eig_every"),
        ({"min_eig_every": 1.5}, "min_eig_every"),
        ({"min_eig_tol": 0.0}, "min_eig_tol"),
        ({"min_eig_max_dim": 1}, "min_eig_max_dim"),
        ({"data": "mnist"}, "data"),
        ({"grid_expansions": -1}, "grid_expansions"),
        ({"min_eig_for": ["sgd"]}, "min_eig_for"),
    ],
)
def test_study_bad_config(cfg, field):
    with pytest.raises(InputError, match=field):
        adam_vs_nag_study(cfg)
    with pytest.raises(InputError):
        plot_adam_vs_nag({})


def _dense_min_eig(model, X):
    """Independent reference: dense Hessian of the full-batch MSE by torch.func.hessian (float64), eigvalsh."""
    m = model.double()
    names = [k for k, _ in m.named_parameters()]
    shapes = [v.shape for _, v in m.named_parameters()]
    th = torch.cat([v.detach().reshape(-1) for _, v in m.named_parameters()])

    def F(t):
        ps, i = {}, 0
        for nm, sh in zip(names, shapes):
            n = int(np.prod(sh))
            ps[nm] = t[i : i + n].reshape(sh)
            i += n
        return torch.nn.functional.mse_loss(torch.func.functional_call(m, ps, (X,)), X)

    return float(torch.linalg.eigvalsh(torch.func.hessian(F)(th))[0])


def test_min_hessian_eigenvalue_along_runs_matches_dense_hessian():
    from tamelab.data import load_data
    from tamelab.models import mlp
    from tamelab.tame.theorems.de2018autoencoder import _train_autoencoder

    cfg = {
        "data": "digits",
        "seeds": [0],
        "epochs": 2,
        "hidden": [2],
        "optimizers": ["adam_b1_0.99", "nag_0.9"],
        "lrs": {"adam": [1e-3], "nag": [0.1, 0.3]},
        "min_eig_every": 1,
        "min_eig_tol": 1e-10,
        "min_eig_max_dim": 322,
        "grid_expansions": 0,
        "min_eig_for": ["nag", "adam"],
    }
    r = adam_vs_nag_study(cfg)
    me = r.min_eig
    nb = r.conclusion["best_nag"]
    assert set(me) == {"adam_b1_0.99", nb}
    X32 = torch.as_tensor(load_data("digits", split="train", seed=0).X, dtype=torch.float32)
    X = X32.double()
    # epoch 0: the seeded initial autoencoder, rebuilt here
    ref0 = _dense_min_eig(mlp([64, 2, 64], seed=0, dtype=torch.float32), X)
    for name in me:
        assert me[name]["epochs"] == [0, 1, 2] and me[name]["retrain_matches"] and all(me[name]["converged"])
        assert me[name]["lambda_min"][0] == pytest.approx(ref0, rel=1e-6)
    # last checkpoint of the best NAG run: parameters from the (bitwise reproducible) training loop, eigenvalue dense
    ck = {}
    _train_autoencoder(
        [64, 2, 64], nb, me[nb]["lr"], 0, 2, r.config["batch_size"], X32, X32, checkpoints=ck, checkpoint_epochs={2}
    )
    model = mlp([64, 2, 64], seed=0, dtype=torch.float32)
    model.load_state_dict(ck[2])
    assert me[nb]["lambda_min"][-1] == pytest.approx(_dense_min_eig(model, X), rel=1e-6)
    # the trend statistics are the rank correlations of the reported values
    from scipy import stats

    sp = stats.spearmanr(me[nb]["epochs"], me[nb]["lambda_min"])
    assert me[nb]["spearman"] == pytest.approx(sp.statistic) and me[nb]["spearman_p"] == pytest.approx(sp.pvalue)
    kt = stats.kendalltau(me[nb]["epochs"], me[nb]["lambda_min"])
    assert me[nb]["kendall"] == pytest.approx(kt.statistic) and me[nb]["kendall_p"] == pytest.approx(kt.pvalue)
    assert me[nb]["increasing_trend"] == bool(kt.statistic > 0 and kt.pvalue < 0.05)
    assert me[nb]["increasing_trend"] is False  # 3 checkpoints: exact Kendall p >= 1/3, never significant
    c = r.conclusion
    assert c["nag_min_eig_first"] == me[nb]["first"] and c["adam_0.99_min_eig_last"] == me["adam_b1_0.99"]["last"]
    json.dumps(r.to_dict())
    with pytest.raises(InputError, match="loss"):
        min_hessian_eigenvalue(model, X, X, loss="hinge")


def test_min_hessian_eigenvalue_input_contract_vs_dense():
    """NumPy data, a dict-batch loader and a callable loss give the same λ_min as a dense double-backward Hessian."""
    from torch.utils.data import DataLoader

    from tamelab.models import mlp

    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((20, 3)), rng.standard_normal((20, 2))
    model = mlp([3, 4, 2], seed=1, dtype=torch.float64)
    params = dict(model.named_parameters())

    def F(flat):
        p, i = {}, 0
        for k, v in params.items():
            p[k] = flat[i : i + v.numel()].view_as(v)
            i += v.numel()
        return ((torch.func.functional_call(model, p, (torch.as_tensor(X),)) - torch.as_tensor(Y)) ** 2).mean()

    theta = torch.cat([v.detach().reshape(-1) for v in params.values()])
    H = torch.autograd.functional.hessian(F, theta)
    assert torch.allclose(H, H.T, atol=1e-12)
    ref = float(torch.linalg.eigvalsh(H)[0])
    loader = DataLoader(
        [{"inputs": torch.as_tensor(X[i]), "targets": torch.as_tensor(Y[i])} for i in range(20)],
        batch_size=7,
        shuffle=True,
    )
    mse = lambda o, t: ((o - t) ** 2).mean()  # noqa: E731
    for data, loss in (((X, Y), "mse"), (loader, "mse"), ((X, Y), mse)):
        r = min_hessian_eigenvalue(model, data, loss=loss, tol=1e-10, max_dim=theta.numel())
        assert (
            r.converged
            and r.status.value == "ok"
            and r.extremal_certified
            and r.extremality in ("exact", "probabilistic")
        )
        assert r.lambda_min == pytest.approx(ref, rel=1e-7, abs=1e-10) and r.p == theta.numel()
