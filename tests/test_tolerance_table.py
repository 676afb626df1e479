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


ALLOWED: dict[str, list[str]] = {}

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
