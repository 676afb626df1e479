"""One tolerance table: a comparison in ``src/`` does not hide a tolerance in a float literal.

A tolerance is a named constant in :mod:`tamelab._numerics` or a documented argument. This test
finds float literals with ``0 < |x| <= 1e-3`` (tolerance-sized) inside comparisons (``a < 1e-9``,
``abs(x - y) <= 1e-12 * s``) and in the ``rtol``/``atol`` of ``isclose``/``allclose`` calls, in every
module but ``_numerics.py`` itself.

``ALLOWED`` lists the offenders that existed when the test was written, by file and by the source
text of the comparison (the line number, in the comment, is informative only: the entries survive
unrelated edits above them). Shrink it as the literals move into ``_numerics.py``; never grow it.
"""

from __future__ import annotations

import ast
import functools
import pathlib

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "tamelab"
LIMIT = 1e-3
CALLS = ("isclose", "allclose", "assert_allclose")


@functools.lru_cache(maxsize=4)
def offenders(root: pathlib.Path = SRC) -> list[tuple[str, int, str]]:
    """``(file, line, source of the comparison)`` for every tolerance-sized float literal in a comparison."""
    hits = []
    for f in sorted(root.rglob("*.py")):
        if f.name == "_numerics.py":
            continue
        src = f.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.Compare):
                parts: list[ast.AST] = [node]
            elif isinstance(node, ast.Call):
                fn = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                parts = (
                    [k.value for k in node.keywords if k.arg in ("rtol", "atol")] + node.args[2:] if fn in CALLS else []
                )
            else:
                continue
            found = [
                c
                for p in parts
                for c in ast.walk(p)
                if isinstance(c, ast.Constant) and isinstance(c.value, float) and 0 < abs(c.value) <= LIMIT
            ]
            if found:
                seg = " ".join((ast.get_source_segment(src, node) or "").split())
                hits.append((str(f.relative_to(root)), found[0].lineno, seg))
    return sorted(hits)


def test_no_new_tolerance_literals_in_comparisons():
    new = [f"{f}:{line}: {seg}" for f, line, seg in offenders() if seg not in ALLOWED.get(f, ())]
    assert not new, (
        "tolerance literals in comparisons (name them in tamelab._numerics or make them a documented "
        "argument):\n" + "\n".join(new)
    )


def test_the_allowlist_only_shrinks():
    """Every allowed entry still exists (remove it from ALLOWED once its literal is gone)."""
    now: dict[str, set[str]] = {}
    for f, _, seg in offenders():
        now.setdefault(f, set()).add(seg)
    stale = [f"{f}: {seg}" for f, segs in ALLOWED.items() for seg in segs if seg not in now.get(f, set())]
    assert not stale, "fixed: remove from ALLOWED:\n" + "\n".join(stale)


def test_the_scanner_finds_a_literal(tmp_path):
    (tmp_path / "m.py").write_text(
        "def f(x, y):\n    return abs(x - y) < 1e-9 or math.isclose(x, y, rel_tol=0.1, "
        "abs_tol=2.0)\nz = np.allclose(a, b, atol=1e-12)\nw = x > 0.5\n"
    )
    hits = offenders(tmp_path)
    assert [(h[1], h[2][:20]) for h in hits] == [(2, "abs(x - y) < 1e-9"), (3, "np.allclose(a, b, at")]


ALLOWED: dict[str, list[str]] = {
    "algebraic/_critical.py": [
        "np.abs(sol.imag).max() > 1e-6 * max(1.0, np.abs(sol).max())",  # line 154
        "ev.min() > 1e-10",  # line 169
        "np.allclose(z, q, atol=1e-9)",  # line 164
        "ev.min() < -1e-10",  # line 169
    ],
    "algebraic/_waring.py": [
        "rel < 1e-6",  # line 123
    ],
    "algebraic/kileel2019neuromanifold.py": [
        "s[-1] / s[0] > 1e-8",  # line 127
    ],
    "bounds/_stochastic.py": [
        "torch.allclose(a[0], b, rtol=1e-5, atol=1e-6)",  # line 181
    ],
    "bounds/dziugaite2017nonvacuous.py": [
        "bound >= e_bar - 1e-15",  # line 518
    ],
    "claims/catalog/ainsworth2023rebasin.py": [
        "dout < 1e-12",  # line 40
        "de < 1e-9",  # line 40
        "err < 1e-8",  # line 101
    ],
    "claims/catalog/arora2018erm.py": [
        "r.optimum < 1e-9",  # line 42
        "r.optimum <= best + 1e-7",  # line 50
        "r.optimum <= best + 1e-7",  # line 38
        "r.kkt_residual < 1e-6",  # line 38
    ],
    "claims/catalog/arora2018relu.py": [
        "form.max_abs_error < 1e-12 * 100",  # line 103
        "err < 1e-12",  # line 147
    ],
    "claims/catalog/attouch2009lojasiewicz.py": [
        "abs(est.theta_slope - th) < 1e-3",  # line 36
    ],
    "claims/catalog/baldi1989linear.py": [
        "abs(glob - 0.144818819) < 1e-8",  # line 109
        "-1e-9 <= rel < 1e-6",  # line 46
        "err < 1e-3",  # line 46
        'max(abs(v) for v in p["point"]) < 1e-12',  # line 107
        'p["loss"] > glob + 1e-9',  # line 108
        "c.loss > opt.loss * (1 + 1e-9)",  # line 101
    ],
    "claims/catalog/bolte2021conservative.py": [
        "abs(r.rho - want) <= 1e-9",  # line 75
        "abs(r.rho - math.sqrt(5)) <= 1e-9",  # line 75
    ],
    "claims/catalog/burke2005sampling.py": [
        "max_x < 1e-6",  # line 58
        "r.rho <= 1e-6",  # line 58
        "max(gaps) < 1e-5",  # line 58
    ],
    "claims/catalog/chen2023ewald.py": [
        "fix <= 1e-12",  # line 331
        "a.scan_relative_spread <= 1e-10",  # line 331
        "g <= cost + 1e-6",  # line 154
        "a.scan_relative_spread <= 1e-10",  # line 407
        "r.ball_to_point_max_error <= 1e-12",  # line 455
        "r.distance_tables_max_difference <= 1e-10",  # line 458
        "cost < 1e-20",  # line 171
        'r["cost_upper_bound"] <= r["bound"] * (1 + 1e-12)',  # line 212
        'abs(r["cost_measured"] - r["cost_upper_bound"]) <= 1e-9 * r["cost_upper_bound"]',  # line 213
        "a.linear_output_cost > 1e-12",  # line 404
    ],
    "claims/catalog/davis2020stochastic.py": [
        "abs(rm(0) - 10**0.75 * rm_sched(0)) < 1e-12",  # line 35
        "max_x1 < 1e-3",  # line 40
        "d2 < 1e-3",  # line 40
    ],
    "claims/catalog/dziugaite2017nonvacuous.py": [
        "k > min(quad_bound(e, kl, nn, dd), classic_bound(e, kl, nn, dd)) + 1e-12",  # line 54
        'abs(vals["kl"] - 0.079339) < 1e-6',  # line 58
        'abs(vals["classic"] - 0.149714) < 1e-6',  # line 58
        'abs(vals["quad"] - 0.103435) < 1e-6',  # line 58
        'abs(lam_b - vals["quad"]) < 1e-12',  # line 59
    ],
    "claims/catalog/karmakar2020gate.py": [
        "max(finals) < 1e-6",  # line 33
        "r.errors <= r.bound + 1e-12",  # line 29
    ],
    "claims/catalog/mehta2018critical.py": [
        'max(abs(v) for v in p["point"]) < 1e-12',  # line 42
        "abs(glob - 0.144818819) < 1e-8",  # line 48
        'abs(origin[0]["loss"] - 0.5) < 1e-12',  # line 48
        'abs(p["loss"] - glob) < 1e-9',  # line 45
    ],
    "exact/_deep_linear.py": [
        "lam[-1] <= 1e-12 * max(1.0, lam[0])",  # line 331
        "abs(loss - closed) <= 1e-9 * scale",  # line 216
        "gn <= 1e-7 * scale * max(1.0, float(np.linalg.norm(X)))",  # line 216
        "abs(l0 - opt.loss_closed_form) <= 1e-9 * max(1.0, float((Y * Y).sum()))",  # line 278
        "gaps.min() <= 1e-9 * max(1.0, abs(lam[0]))",  # line 328
    ],
    "exact/_local_min.py": [
        "asym > 1e-8 * max(1.0, scale)",  # line 120
    ],
    "exact/_qp.py": [
        "(G @ zp).max(initial=0.0) <= 1e-10 * (1 + np.abs(zp).max())",  # line 104
    ],
    "exact/arora2018erm.py": [
        "pre >= -1e-12",  # line 168
        "pre <= 1e-12",  # line 168
        "abs(net - (f + const)) < 1e-7 * (1 + abs(net))",  # line 383
        "s > 1e-12 * max(1.0, s[0] if s.size else 0.0)",  # line 282
        'kkt.get("duality_gap", 0.0) <= 1e-8 * (1 + abs(f + const))',  # line 382
    ],
    "exact/chen2023ewald.py": [
        "vv > 1e-24",  # line 215
        "sv[-1] <= 1e-12 * sv[0]",  # line 351
        "dn <= 1e-14",  # line 267
        "c_ub > 1e-300",  # line 609
    ],
    "exact/chen2023ewald_paper.py": [
        "np.linalg.norm(w) < 1e-12",  # line 128
        "vmax > 1e-12",  # line 644
    ],
    "exact/karmakar2020gate.py": [
        "e > 1e-13",  # line 65
    ],
    "landscape/_spectrum.py": [
        "b < 1e-12 * max(1.0, abs(a))",  # line 89
        "est <= tol * np.maximum(np.abs(th[sel]), 1e-300)",  # line 158
        "r <= tol * max(abs(float(t)), 1e-300)",  # line 166
    ],
    "landscape/li2018visualizing.py": [
        "cy <= 1e-12 * max(n1, math.sqrt(_dot(d2, d2)))",  # line 365
    ],
    "relu/_regions.py": [
        "nrm > 1e-14",  # line 318
        "np.linalg.norm(A, axis=1) > 1e-14",  # line 342
        "nrm > 1e-14",  # line 383
        "ln >= 1e-9",  # line 491
        "gap <= 1e-6 * max(dom_vol, 1e-300)",  # line 521
        "abs(s) > 1e-14",  # line 552
        "abs(va) <= 1e-12",  # line 574
        "va > 1e-12",  # line 576
        "vb < -1e-12",  # line 576
        "va < -1e-12",  # line 576
        "vb > 1e-12",  # line 576
        "val[i] >= val[m] - 1e-12",  # line 557
    ],
    "relu/zhang2018tropical.py": [
        "err <= 1e-9 * scale",  # line 268
        "eq[n] > 1e-12",  # line 154
    ],
    "tame/_structures.py": [
        "abs(float(Fraction(r).limit_denominator(max_den)) - r) <= 1e-15 * max(1.0, abs(r))",  # line 211
    ],
    "tame/davis2020stochastic.py": [
        "sd > 1e-300",  # line 477
        "dev > 1e-6",  # line 144
        "mean_sq < 1e-28",  # line 337
        "np.abs(mu) <= 1e-300",  # line 479
        "mp.lam > 1e-12",  # line 365
    ],
    "tame/de2018convergence.py": [
        "abs(a - a_th) <= 1e-9 * a_th",  # line 158
        "abs(a - a_th) <= 1e-9 * a_th",  # line 190
    ],
    "tame/goldstein.py": [
        "q <= 1e-30 * scale",  # line 171
        "alpha <= 1e-15",  # line 189
        "w > 1e-15",  # line 193
        "gap <= 1e-15 * max(1.0, float(lam @ grad))",  # line 224
        "shift.rho > 1e-6 * scale",  # line 515
        "alpha > 1e-15",  # line 186
        'dd["support_sampled_hull"] >= dd["one_sided_derivative"] - 1e-4 * scale',  # line 516
        "clarke[0] - 1e-12 <= ad <= clarke[1] + 1e-12",  # line 555
    ],
    "tame/lojasiewicz.py": [
        "F.min() < fs - 1e-12 * max(1.0, abs(fs))",  # line 247
    ],
}


if __name__ == "__main__":  # print today's offenders in ALLOWED's format (to review a shrink)
    by: dict[str, list[tuple[int, str]]] = {}
    for f, line, seg in offenders():
        by.setdefault(f, []).append((line, seg))
    print("ALLOWED: dict[str, list[str]] = {")
    for f in sorted(by):
        print(f"    {f!r}: [")
        for line, seg in by[f]:
            print(f"        {seg!r},  # line {line}")
        print("    ],")
    print("}")
