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
    "claims/catalog/ainsworth2023rebasin.py": [
        "de < 1e-9",  # line 41
        "dout < 1e-12",  # line 41
        "err < 1e-8",  # line 126
    ],
    "claims/catalog/arora2018erm.py": [
        "r.kkt_residual < 1e-6",  # line 53
        "r.optimum <= best + 1e-7",  # line 53
        "r.optimum < 1e-9",  # line 57
        "r.optimum <= best + 1e-7",  # line 70
    ],
    "claims/catalog/arora2018relu.py": [
        "form.max_abs_error < 1e-12 * 100",  # line 169
        "err < 1e-12",  # line 243
    ],
    "claims/catalog/baldi1989linear.py": [
        "-1e-9 <= rel < 1e-6",  # line 49
        "err < 1e-3",  # line 49
        "c.loss > opt.loss * (1 + 1e-9)",  # line 114
        'max(abs(v) for v in p["point"]) < 1e-12',  # line 120
        'p["loss"] > glob + 1e-9',  # line 121
        "abs(glob - 0.144818819) < 1e-8",  # line 122
    ],
    "claims/catalog/bolte2021conservative.py": [
        "abs(hull_g[0] - 1.0) <= 1e-12",  # line 40
        "abs(hull_g[1] - 1.0) <= 1e-12",  # line 40
        "abs(r - 1.0) <= 1e-12",  # line 41
        "abs(r.rho - math.sqrt(5)) <= 1e-9",  # line 94
        "abs(r.rho - want) <= 1e-9",  # line 94
    ],
    "claims/catalog/burke2005sampling.py": [
        "max(gaps) < 1e-5",  # line 67
        "max_x < 1e-6",  # line 67
        "r.rho <= 1e-6",  # line 67
    ],
    "claims/catalog/chen2023ewald.py": [
        "g <= cost + 1e-6",  # line 154
        "cost < 1e-20",  # line 171
        'r["cost_upper_bound"] <= r["bound"] * (1 + 1e-12)',  # line 212
        'abs(r["cost_measured"] - r["cost_upper_bound"]) <= 1e-9 * r["cost_upper_bound"]',  # line 213
        "a.scan_relative_spread <= 1e-10",  # line 331
        "fix <= 1e-12",  # line 331
        "a.linear_output_cost > 1e-12",  # line 404
        "a.scan_relative_spread <= 1e-10",  # line 407
        "r.ball_to_point_max_error <= 1e-12",  # line 455
        "r.distance_tables_max_difference <= 1e-10",  # line 458
    ],
    "claims/catalog/davis2020stochastic.py": [
        "abs(rm(0) - 10**0.75 * rm_sched(0)) < 1e-12",  # line 41
        "d2 < 1e-3",  # line 46
        "max_x1 < 1e-3",  # line 46
    ],
    "claims/catalog/dziugaite2017nonvacuous.py": [
        "k > min(quad_bound(e, kl, nn, dd), classic_bound(e, kl, nn, dd)) + 1e-12",  # line 71
        'abs(vals["kl"] - 0.079339) < 1e-6',  # line 83
        'abs(vals["classic"] - 0.149714) < 1e-6',  # line 84
        'abs(vals["quad"] - 0.103435) < 1e-6',  # line 85
        'abs(lam_b - vals["quad"]) < 1e-12',  # line 86
    ],
    "claims/catalog/karmakar2020gate.py": [
        "mean[keep] - sigmas * se[keep] <= B[keep] * (1 + 1e-9)",  # line 27
        "r.errors <= r.bound * (1 + 1e-12)",  # line 54
        "max(finals) < 1e-6",  # line 63
        "floors[0] >= 1e-6",  # line 116
        "sg.errors > 1e-8",  # line 151
        "tr.errors > 1e-8",  # line 151
    ],
    "claims/catalog/mehta2018critical.py": [
        'max(abs(v) for v in p["point"]) < 1e-12',  # line 91
        "abs(z.imag) < 1e-12",  # line 94
        'abs(p["loss"] - glob) < 1e-9',  # line 97
        "abs(glob - 0.144818819) < 1e-8",  # line 100
        "abs(glob - closed) < 1e-10",  # line 100
        'abs(origin[0]["loss"] - 0.5) < 1e-12',  # line 101
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


def test_every_named_tolerance_is_used():
    """The table holds no dead names (a name nobody imports is a tolerance nobody applies)."""
    import re

    text = (SRC / "_numerics.py").read_text(encoding="utf-8")
    names = re.findall(r"^([A-Z][A-Z0-9_]+) =", text, re.M)
    others = "\n".join(f.read_text(encoding="utf-8") for f in SRC.rglob("*.py") if f.name != "_numerics.py")
    unused = [n for n in names if not re.search(rf"\b{n}\b", others)]
    assert not unused, f"named in _numerics but never used: {unused}"
