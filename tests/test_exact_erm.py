"""Exact ERM (Arora et al.): dichotomy enumeration vs brute force, global optimality vs exhaustive search, certificates."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from scipy.optimize import linprog

from tamelab.errors import InputError
from tamelab.exact import dichotomies, dichotomy_count, erm_network, exact_erm
from tamelab.exact._qp import kkt_residual, solve_qp


def _separable(X, lab):
    """Independent check: an LP for s_j(a·x_j + b) >= 1."""
    s = np.where(lab, 1.0, -1.0)
    Xh = np.hstack([X, np.ones((len(X), 1))])
    r = linprog(np.zeros(Xh.shape[1]), A_ub=-(s[:, None] * Xh), b_ub=-np.ones(len(X)), bounds=[(None, None)] * Xh.shape[1],
                method="highs")
    return r.status == 0


@pytest.mark.parametrize("n, D", [(1, 5), (1, 7), (2, 5), (2, 7), (3, 6)])
def test_dichotomies_equal_brute_force_over_all_labellings(n, D):
    X = np.random.default_rng(n * 10 + D).standard_normal((D, n))
    got = {tuple(r) for r in dichotomies(X)}
    brute = {lab for lab in itertools.product([False, True], repeat=D) if _separable(X, np.array(lab))}
    assert got == brute
    assert len(got) == dichotomy_count(D, n)


def test_qp_matches_slsqp_and_certificate():
    from scipy.optimize import minimize

    rng = np.random.default_rng(0)
    M, y, G = rng.standard_normal((12, 5)), rng.standard_normal(12), rng.standard_normal((7, 5))
    Q, c = 2 * M.T @ M, -2 * M.T @ y
    z, f = solve_qp(Q, c, G)
    r = minimize(lambda v: 0.5 * v @ Q @ v + c @ v, np.zeros(5), constraints=[{"type": "ineq", "fun": lambda v: -G @ v}],
                 method="SLSQP", options={"ftol": 1e-15, "maxiter": 500})
    assert abs(f - r.fun) < 1e-7 * (1 + abs(f))
    k = kkt_residual(Q, c, G, z)
    assert k["kkt_residual"] < 1e-7
    k_bad = kkt_residual(Q, c, G, z + 0.1)  # a non-optimal point has a large residual
    assert k_bad["kkt_residual"] > 1e-3


def _grid_min_w1_n1(X, y, grid):
    """Exhaustive search for w = 1, n = 1: f(x) = s·relu(a x + b); for fixed (a, b) the best s is closed form."""
    best = np.mean(y**2)
    for a in grid:
        for b in grid:
            h = np.maximum(a * X[:, 0] + b, 0)
            hh = h @ h
            if hh > 0:
                s = (h @ y) / hh  # optimal output weight (any sign and scale: positive homogeneity)
                best = min(best, np.mean((s * h - y) ** 2))
    return best


@pytest.mark.parametrize("seed", range(4))
def test_erm_w1_equals_exhaustive_search(seed):
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((6, 1)), rng.standard_normal(6)
    r = exact_erm(X, y, 1, seed=seed)
    # dense grid over directions (a, b) on the circle: the optimum over the grid can only be >= the true one
    th = np.linspace(0, 2 * np.pi, 20001)
    best = np.mean(y**2)
    for a, b in zip(np.cos(th), np.sin(th)):
        h = np.maximum(a * X[:, 0] + b, 0)
        hh = h @ h
        if hh > 0:
            best = min(best, np.mean(((h @ y) / hh * h - y) ** 2))
    assert r.optimum <= best + 1e-9
    assert best - r.optimum < 1e-4  # the grid gets close to the certified optimum
    assert r.kkt_residual < 1e-6 and r.status.value == "ok"


@pytest.mark.parametrize("seed", range(3))
def test_erm_w2_below_every_restart_and_network_reproduces_value(seed):
    from tamelab.exact.arora2018erm import _restarts

    rng = np.random.default_rng(100 + seed)
    X, y = rng.standard_normal((7, 2)), rng.standard_normal(7)
    r = exact_erm(X, y, 2, seed=seed)
    assert r.optimum <= _restarts(X, y, 2, seed=seed + 50, restarts=30) + 1e-7
    import torch

    net = erm_network(r)
    f = net(torch.as_tensor(X)).detach().numpy()[:, 0]
    assert abs(np.mean((f - y) ** 2) - r.optimum) < 1e-7
    assert r.kkt_residual < 1e-6


def test_erm_planted_noiseless_is_zero():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((10, 2))
    y = np.maximum(X @ [1.0, -2.0] + 0.3, 0) - 0.7 * np.maximum(X @ [0.5, 1.0] - 0.1, 0)
    assert exact_erm(X, y, 2).optimum < 1e-9


def test_erm_bad_input_and_budget():
    X, y = np.zeros((5, 2)), np.zeros(5)
    with pytest.raises(InputError, match="--width"):
        exact_erm(X, y, 0)
    with pytest.raises(InputError, match="--loss"):
        exact_erm(X, y, 1, loss="exponential")
    with pytest.raises(InputError, match="NaN"):
        exact_erm(np.full((5, 2), np.nan), y, 1)
    with pytest.raises(InputError, match="--max-qps"):  # was accepted and returned optimum nan
        exact_erm(X, y, 1, max_qps=-1)
    with pytest.raises(InputError, match="--width"):
        exact_erm(X, y, 1.5)
    with pytest.raises(InputError, match="incumbent"):
        exact_erm(X, y, 1, incumbent=float("nan"))
    rng = np.random.default_rng(0)
    r = exact_erm(rng.standard_normal((12, 2)), rng.standard_normal(12), 2, max_qps=0, incumbent=10.0)
    assert r.status.value == "budget_exceeded"


def test_erm_cli(tmp_path, capsys):
    from tamelab.cli.main import main

    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 2))
    np.savez(tmp_path / "d.npz", X=X, Y=(X[:, :1] - X[:, 1:]))
    assert main(["erm", str(tmp_path / "d.npz"), "--width", "1", "--json", "--out", str(tmp_path / "run")]) == 0
    out = json.loads(capsys.readouterr().out)
    for k in ("optimum", "dichotomies", "qps_solved", "kkt_residual", "seconds"):
        assert k in out
    assert main(["erm", str(tmp_path / "d.npz"), "--width", "1", "--loss", "logistic"]) == 2  # labels are not ±1


def test_erm_ill_conditioned_case_reaches_zero_with_duality_gap():
    """Regression: HiGHS alone stopped at 2.2e-4 on this data (optimum 0, attained at |z| ≈ 400); the SQP polish and
    the duality-gap certificate catch it."""
    from tamelab.exact.arora2018erm import _restarts

    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 2))
    y = np.sign(X[:, 0] * X[:, 1] + 0.1)
    r = exact_erm(X, y, 2)
    assert r.optimum <= _restarts(X, y, 2, seed=9, restarts=30) + 1e-9
    assert r.optimum < 1e-9 and r.kkt["duality_gap"] <= 1e-8 and r.status.value == "ok"


@pytest.mark.parametrize("loss", ["hinge", "logistic"])
def test_erm_hinge_logistic_below_restarts_with_certificate(loss):
    from tamelab.exact.arora2018erm import _restarts, erm_loss

    rng = np.random.default_rng(4)
    X = rng.standard_normal((7, 2))
    y = np.where(X[:, 0] + 0.3 * rng.standard_normal(7) > 0, 1.0, -1.0)
    y[0] = -y[0]  # not linearly realisable by one unit: the optimum is positive
    for w in (1, 2):
        r = exact_erm(X, y, w, loss=loss)
        assert r.status.value == "ok" and r.kkt_residual < 1e-6
        assert r.optimum <= _restarts(X, y, w, seed=3, restarts=30, loss=loss) + 1e-7
        assert abs(erm_loss((np.asarray(r.A), np.asarray(r.b), np.asarray(r.a)), X, y, loss) - r.optimum) < 1e-7


def test_erm_hinge_needs_pm1_labels():
    with pytest.raises(InputError, match="labels"):
        exact_erm(np.zeros((4, 1)), np.array([0.0, 1.0, 0.0, 1.0]), 1, loss="hinge")


def test_erm_cli_hinge_maps_01_labels_to_pm1(tmp_path, capsys):
    from tamelab.cli.main import main

    rng = np.random.default_rng(4)
    X = rng.standard_normal((7, 2))
    lab = (X[:, 0] + 0.3 * rng.standard_normal(7) > 0).astype(int)
    lab[0] = 1 - lab[0]
    np.savez(tmp_path / "h.npz", X=X, y=lab)
    assert main(["erm", str(tmp_path / "h.npz"), "--width", "1", "--loss", "hinge", "--json", "--out", str(tmp_path / "r")]) == 0
    out = json.loads(capsys.readouterr().out)
    ref = exact_erm(X, 2.0 * lab - 1.0, 1, loss="hinge")
    assert out["status"] == "ok" and abs(out["optimum"] - ref.optimum) < 1e-9 and ref.optimum > 0


def test_erm_cli_json_stdout_is_pure_json_at_the_file_descriptor(tmp_path):
    # HiGHS prints a banner on the C-level stdout when constructed; capsys cannot see that, a pipe can
    import subprocess
    import sys

    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 2))
    np.savez(tmp_path / "d.npz", X=X, Y=(X[:, :1] - X[:, 1:]))
    p = subprocess.run([sys.executable, "-m", "tamelab.cli.main", "erm", str(tmp_path / "d.npz"), "--width", "1",
                        "--json", "--quiet", "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["qps_solved"] >= 1


# --- degenerate position (issue 17 item 1) ---------------------------------------------------------------

def _brute_force_erm(X, y, w):
    """Independent reference: every labelling of the points (not only the separable ones) for every unit and
    sign; on the closed constraint set the QP objective is the network loss, so the minimum over all of them
    is the global optimum. Each QP by SLSQP from the feasible point 0, pruned by its unconstrained
    least-squares value (a valid lower bound)."""
    from scipy.optimize import minimize

    D, n = X.shape
    Xh = np.hstack([X, np.ones((D, 1))])
    units = [(s, np.array(lab)) for s in (1.0, -1.0) for lab in itertools.product([False, True], repeat=D)]
    cands = []
    for combo in itertools.combinations_with_replacement(range(len(units)), w):
        M = np.zeros((D, w * (n + 1)))
        G = []
        for i, k in enumerate(combo):
            s, act = units[k]
            M[act, i * (n + 1):(i + 1) * (n + 1)] = s * Xh[act]
            Gi = np.zeros((D, w * (n + 1)))
            Gi[:, i * (n + 1):(i + 1) * (n + 1)] = np.where(act[:, None], -Xh, Xh)
            G.append(Gi)
        z, *_ = np.linalg.lstsq(M, y, rcond=None)
        cands.append((float(np.mean((M @ z - y) ** 2)), M, np.vstack(G)))
    cands.sort(key=lambda t: t[0])
    best = float(np.mean(y**2))
    for lb, M, G in cands:
        if lb >= best - 1e-12:
            break
        r = minimize(lambda v, M=M: np.mean((M @ v - y) ** 2), np.zeros(M.shape[1]),
                     jac=lambda v, M=M: 2 * M.T @ (M @ v - y) / D,
                     constraints=[{"type": "ineq", "fun": lambda v, G=G: -G @ v, "jac": lambda v, G=G: -G}],
                     method="SLSQP", options={"ftol": 1e-14, "maxiter": 1000})
        if (G @ r.x).max() <= 1e-9:
            best = min(best, float(np.mean((M @ r.x - y) ** 2)))
    return best


def test_erm_collinear_reproduction_issue17():
    """X = [[t, 0]], t = 0..4: the second feature is constant and the points collinear. Before the fix: status ok,
    optimum 2.605, while the solver's own restarts and brute force give 0.278."""
    X = np.array([[t, 0.0] for t in range(5)])
    y = np.array([1.18, -0.65, -1.8, -1.92, 2.07])
    r = exact_erm(X, y, 2)
    ref = _brute_force_erm(X, y, 2)
    assert abs(ref - 0.27848) < 1e-4
    assert r.status.value == "ok" and abs(r.optimum - ref) < 1e-6
    assert r.optimum <= r.incumbent_start + 1e-9 and r.certificate["optimum_below_every_incumbent"]
    assert r.affine_rank == 1 and not r.general_position and r.dichotomy_method == "filtered-exact"
    assert r.dichotomies == 10  # 2·(1 + 4): five distinct points on a line


@pytest.mark.parametrize("label_seed", range(8))
def test_erm_collinear_every_label_seed(label_seed):
    X = np.array([[t, 0.0] for t in range(5)])
    y = np.random.default_rng(label_seed).standard_normal(5) * 1.5
    r = exact_erm(X, y, 2)
    assert r.status.value == "ok"
    assert abs(r.optimum - _brute_force_erm(X, y, 2)) < 1e-6


def _degenerate_data(rng, kind, D, n):
    if kind == "constant-feature":
        X = rng.integers(-3, 4, size=(D, n)).astype(float)
        X[:, -1] = 0.75
    elif kind == "collinear":
        X = np.outer(rng.integers(-3, 4, D), rng.integers(1, 3, n)) + 0.5 * rng.integers(-2, 3, n)
    elif kind == "duplicates":
        X = rng.integers(-2, 3, size=(D, n)).astype(float)
        X[1] = X[0]
        X[-1] = X[2]
    elif kind == "coplanar":
        B = rng.integers(-2, 3, size=(2, n)).astype(float)
        X = rng.integers(-2, 3, size=(D, 2)) @ B + 0.25
    else:  # grid ties: few distinct coordinates, several points on each grid line
        X = rng.integers(0, 2, size=(D, n)).astype(float)
    return X.astype(float)


@pytest.mark.parametrize("kind", ["constant-feature", "collinear", "duplicates", "coplanar", "ties"])
def test_dichotomies_degenerate_position_equal_brute_force(kind, seed):
    rng = np.random.default_rng(seed)
    for _ in range(4):
        D, n = int(rng.integers(3, 8)), int(rng.integers(1, 4))
        X = _degenerate_data(rng, kind, D, n)
        got = {tuple(r) for r in dichotomies(X)}
        brute = {lab for lab in itertools.product([False, True], repeat=D) if _separable(X, np.array(lab))}
        assert got == brute, (kind, X)


@pytest.mark.parametrize("kind", ["constant-feature", "collinear", "duplicates", "coplanar", "ties"])
def test_erm_degenerate_data_equals_brute_force(kind, seed):
    """Randomised adversarial: degenerate inputs (ties in y too), widths 1 and 2, against the brute force."""
    rng = np.random.default_rng(1000 + seed)
    for w, D in ((1, 6), (2, 5)):
        n = 2 if kind != "coplanar" else 3
        X = _degenerate_data(rng, kind, D, n)
        y = np.round(rng.standard_normal(D), 1)
        y[-1] = y[0]  # tied targets
        r = exact_erm(X, y, w, seed=seed)
        ref = _brute_force_erm(X, y, w)
        assert r.status.value == "ok", r.reason
        assert abs(r.optimum - ref) < 1e-6 * (1 + ref), (kind, w, X, y, r.optimum, ref)


def test_erm_certificate_refuses_an_optimum_above_an_incumbent(monkeypatch):
    """Feed the solver a wrong answer: drop dichotomies (the old degenerate-position bug) and check that the
    global part of the certificate refuses."""
    import tamelab.exact.arora2018erm as mod

    X = np.array([[t, 0.0] for t in range(5)])
    y = np.array([1.18, -0.65, -1.8, -1.92, 2.07])
    real = mod.enumerate_dichotomies

    def crippled(Xa):
        ds = real(Xa)
        keep = ds.labels.sum(1) <= 1  # only the dichotomies with at most one active point
        return dataclasses.replace(ds, labels=ds.labels[keep])

    import dataclasses

    monkeypatch.setattr(mod, "enumerate_dichotomies", crippled)
    r = mod.exact_erm(X, y, 2)
    assert r.status.value == "uncertified"
    assert not r.certificate["optimum_below_every_incumbent"] and "incumbent" in r.reason


def test_erm_resource_guard_refuses_400_rows_before_work():
    import time

    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    with pytest.raises(InputError, match="max_enumeration") as e:
        exact_erm(rng.standard_normal((400, 2)), rng.standard_normal(400), 2)
    assert time.perf_counter() - t0 < 2.0
    assert "combinations" in str(e.value)
    from tamelab.exact.arora2018erm import erm_work_estimate

    est = erm_work_estimate(400, 2, 2)
    assert est.dichotomies == dichotomy_count(400, 2) and est.combinations > 10**10


def test_claim_arora_holds_and_fails_on_a_wrong_enumeration(monkeypatch):
    """The registered claim holds with the real solver and fails when the enumeration misses degenerate dichotomies."""
    import dataclasses

    import tamelab.exact.arora2018erm as mod
    from tamelab.claims import get_claim
    from tamelab.claims._registry import ClaimContext

    c = get_claim("arora-exact-erm-below-every-restart")
    assert c.source and c.expected_from == "theory"
    ok = c.fn(ClaimContext(seed=0, quick=True))
    assert ok.holds is True
    real = mod.enumerate_dichotomies

    def old_style(X):  # the pre-fix behaviour on a line: only rays from independent subsets, off-ray points inactive
        ds = real(X)
        if ds.affine_rank < X.shape[1]:
            keep = ds.labels.sum(1) <= 1
            return dataclasses.replace(ds, labels=ds.labels[keep])
        return ds

    monkeypatch.setattr(mod, "enumerate_dichotomies", old_style)
    bad = c.fn(ClaimContext(seed=0, quick=True))
    assert bad.holds is False
