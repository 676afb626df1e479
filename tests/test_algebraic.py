import math

import numpy as np
import pytest
import sympy as sp

from tamelab import InputError
from tamelab.algebraic import (
    KTB_TABLE,
    decompose,
    evaluate_waring,
    expected_dimension,
    float_rank,
    generic_waring_rank,
    linear_net_critical_points,
    neuromanifold_dimension,
    rank_mod,
    secant_dimension,
    waring_tensor,
)
from tamelab.algebraic._modp import P, matmul_mod
from tamelab.cli.main import main


def test_rank_mod_p_matches_exact_rational_rank(seed):
    rng = np.random.default_rng(seed)
    for m, n, r in [(6, 5, 3), (8, 8, 8), (5, 9, 2), (7, 4, 0)]:
        A = rng.integers(-5, 6, size=(m, r)) @ rng.integers(-5, 6, size=(r, n)) if r else np.zeros((m, n), int)
        assert rank_mod(A) == sp.Matrix(A.tolist()).rank()


def test_matmul_mod_matches_python_ints(seed):
    rng = np.random.default_rng(seed)
    A, B = rng.integers(0, P, (4, 20000)), rng.integers(0, P, (20000, 3))
    ref = [[sum(int(a) * int(b) for a, b in zip(A[i], B[:, j])) % P for j in range(3)] for i in range(4)]
    assert matmul_mod(A, B).tolist() == ref


@pytest.mark.parametrize("widths, r, dim", KTB_TABLE, ids=[f"{w}^{r}" for w, r, _ in KTB_TABLE])
def test_ktb_table_exact(widths, r, dim, seed):
    res = neuromanifold_dimension(widths, r, seeds=2, seed=seed)
    assert res.dimension == dim
    assert res.defective == (dim < res.expected)


def test_exact_rank_agrees_with_float_svd_on_well_conditioned_cases():
    for w, r in [((2, 2, 1), 2), ((3, 2, 1), 2), ((3, 3, 3), 2), ((5, 7, 1), 3), ((3, 3, 3, 1), 2)]:
        fr, gap = float_rank(w, r, seed=1)
        assert fr == neuromanifold_dimension(w, r).dimension, w


def test_shallow_closed_forms(seed):
    # r = 2, d1 <= d0: dim = d0 d1 - C(d1, 2); r >= 3: min(d0 d1, C(d0+r-1, r)) except AH cases
    for d0 in (2, 3, 4, 5):
        for d1 in range(1, d0 + 1):
            assert neuromanifold_dimension([d0, d1, 1], 2, seed=seed).dimension == d0 * d1 - math.comb(d1, 2)
    for d0, r, d1 in [(3, 3, 2), (4, 3, 4), (2, 5, 3), (3, 4, 5)]:
        assert neuromanifold_dimension([d0, d1, 1], r).dimension == secant_dimension(d0, r, d1)
    assert expected_dimension([5, 7, 1], 3) == 35


def test_budget_error():
    with pytest.raises(InputError, match="budget"):
        neuromanifold_dimension([6, 6, 6, 6, 1], 3)


def test_generic_waring_ranks_table():
    table = {2: [2, 2, 3, 3, 4], 3: [3, 4, 6, 7, 10], 4: [4, 5, 10, 14, 21], 5: [5, 8, 15, 26, 42]}
    for n, row in table.items():
        assert [generic_waring_rank(n, d) for d in (2, 3, 4, 5, 6)] == row


@pytest.mark.parametrize("n, k, d", [(5, 4, 3), (4, 4, 3), (6, 3, 4), (4, 2, 5)])
def test_jennrich_recovers_planted_neurons(n, k, d, seed):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((k, n))
    c = rng.uniform(0.5, 2, k) * rng.choice([-1, 1], k)
    T = waring_tensor(W, c, d)
    res = decompose(T, k, seed=seed)
    assert res.ok and res.relative_residual < 1e-10
    Wn = W / np.linalg.norm(W, axis=1, keepdims=True)
    cos = np.abs(Wn @ res.W.T)
    assert np.allclose(np.sort(cos.max(axis=1)), 1, atol=1e-10)  # every true direction recovered
    X = rng.standard_normal((20, n))
    assert np.allclose(evaluate_waring(res.W, res.c, d, X), evaluate_waring(W, c, d, X), rtol=1e-9, atol=1e-9)


def test_quadratic_decomposition_matches_function(seed):
    rng = np.random.default_rng(seed)
    W, c = rng.standard_normal((3, 4)), rng.standard_normal(3)
    res = decompose(waring_tensor(W, c, 2))
    X = rng.standard_normal((10, 4))
    assert res.rank == 3 and np.allclose(evaluate_waring(res.W, res.c, 2, X), evaluate_waring(W, c, 2, X))


@pytest.mark.parametrize(
    "arch, count", [((1, 1, 1, 1), 5), ((1, 1, 2, 1), 5), ((1, 1, 1, 2), 9), ((1, 2, 1, 1), 9), ((2, 1, 1, 1), 17)]
)
def test_critical_point_counts(arch, count, seed):
    r = linear_net_critical_points(*arch, seed=seed)
    assert r.complex_count == count
    # certificate: every real point found is critical (gradient ~ 0) and the origin is among them
    assert all(p["gradient_norm"] < 1e-9 for p in r.real_points)
    assert any(max(abs(v) for v in p["point"]) < 1e-12 for p in r.real_points)
    assert r.real_count <= count and r.minima >= 1


def test_spurious_minimum_example():
    r = linear_net_critical_points(2, 1, 1, 1, regularization=0.1, x=[1], y=[1])
    mins = sorted(p["loss"] for p in r.real_points if p["kind"] == "minimum")
    assert mins[0] == pytest.approx(0.144818819, abs=1e-9)
    assert mins[-1] == pytest.approx(0.5, abs=1e-12)  # the origin: strict local, not global
    t = 0.964158
    assert abs(t**4 - t + 0.1) < 1e-5


def test_unregularised_is_refused():
    with pytest.raises(InputError, match="not zero-dimensional"):
        linear_net_critical_points(1, 1, 1, 1, regularization=0, real=False)


def test_cli(tmp_path, capsys):
    import json

    assert main(["neuromanifold", "--widths", "3,3,3,1", "--power", "2", "--json", "--out", str(tmp_path / "a")]) == 0
    d = json.loads(capsys.readouterr().out)
    assert (d["dimension"], d["expected"], d["ambient"], d["defective"]) == (12, 15, 15, True)
    assert main(["neuromanifold", "--widths", "3,x", "--power", "2"]) == 2
    assert main(["neuromanifold", "--widths", "3,2,1", "--power", "0", "--out", str(tmp_path / "b")]) == 2
    assert main(["critical", "--hidden", "2", "--json", "--out", str(tmp_path / "c")]) == 0
    assert json.loads(capsys.readouterr().out)["complex_count"] == 17


# --- homotopy continuation: an independent count ------------------------------------------------------------


def _solve(exprs, gens, **kw):
    from tamelab.algebraic._homotopy import PolySystem, solve_total_degree

    return solve_total_degree(PolySystem.from_sympy(exprs, gens), **kw)


def test_homotopy_known_roots(seed):
    x, y = sp.symbols("x y")
    r = _solve([x**3 - 2 * x + 1], [x], seed=seed)
    assert r.ok and r.n_distinct == 3 and r.n_real == 3
    want = sorted([1.0, (-1 + 5**0.5) / 2, (-1 - 5**0.5) / 2])
    assert np.allclose(sorted(r.roots[:, 0].real), want, atol=1e-12)
    r = _solve([x**2 + y**2 - 4, x * y - 1], [x, y], seed=seed)  # four real intersections of a circle and a hyperbola
    assert r.ok and (r.n_distinct, r.n_real) == (4, 4)
    assert np.allclose([abs(a * b - 1) + abs(a * a + b * b - 4) for a, b in r.roots], 0, atol=1e-12)
    r = _solve([x**2 + 1, y - x], [x, y], seed=seed)  # two complex conjugate solutions, no real one
    assert r.ok and (r.n_distinct, r.n_real) == (2, 0)
    r = _solve([x**2 - y, x * y - 2], [x, y], seed=seed)  # x³ = 2: Bézout 4, three finite roots, one at infinity
    assert r.ok and (r.n_distinct, r.n_real, r.n_diverged) == (3, 1, 1)
    assert np.allclose(sorted(np.abs(r.roots[:, 0])), [2 ** (1 / 3)] * 3, atol=1e-12)


def test_homotopy_solutions_at_infinity_only(seed):
    x, y = sp.symbols("x y")
    r = _solve([x + y - 1, x + y - 2], [x, y], seed=seed)  # parallel lines: the only solution is at infinity
    assert r.ok and r.n_distinct == 0 and r.n_diverged == 1


def test_homotopy_refuses_a_singular_root_and_a_budget(seed):
    x, y = sp.symbols("x y")
    r = _solve([(x - 1) ** 2 * (x + 2), y - x], [x, y], seed=seed)  # a double root stalls its paths: not certified
    assert not r.ok and r.n_failed >= 1
    with pytest.raises(InputError, match="homotopy paths"):
        _solve([x**5 - 1, y**5 - 1], [x, y], max_paths=20)


@pytest.mark.parametrize(
    "arch, nc, nc_star", [((1, 1, 1, 1), 5, 4), ((1, 1, 1, 2), 9, 8), ((1, 2, 1, 1), 9, 0), ((2, 1, 1, 1), 17, 16)]
)
def test_homotopy_counts_agree_with_groebner_and_publication(arch, nc, nc_star, seed):
    from tamelab.algebraic import critical_points_homotopy

    h = critical_points_homotopy(*arch, seed=seed)
    g = linear_net_critical_points(*arch, seed=seed)
    assert h.ok and h.paths_failed == 0
    assert h.complex_count == g.complex_count == nc  # distinct (homotopy) = with multiplicity (Gröbner): all simple
    assert h.real_count == g.real_count  # float eigen-solutions of the Gröbner quotient vs real homotopy end points
    assert h.nonzero_count == nc_star  # Bharadwaj's NC* column (all coordinates non-zero)
