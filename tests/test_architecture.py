"""Layering: geometry and algorithm code never imports the CLI, the report or Dask;
public packages re-export a declared ``__all__``."""

import ast
import importlib
import pathlib

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "tamelab"
GEOMETRY = ["models", "data", "train", "relu", "landscape", "curvature", "tame", "exact", "algebraic", "bounds", "testing"]
FORBIDDEN = ("tamelab.cli", "tamelab.report", "tamelab.atlas", "dask", "distributed")


def _imports(path: pathlib.Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg_parts = ["tamelab", *path.relative_to(SRC).parent.parts]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg_parts[: len(pkg_parts) - node.level + 1]
                yield ".".join(base + ([node.module] if node.module else []))
            else:
                yield node.module or ""


@pytest.mark.parametrize("pkg", [p for p in GEOMETRY if (SRC / p).is_dir()])
def test_geometry_never_imports_cli_report_or_dask(pkg):
    bad = []
    for f in sorted((SRC / pkg).rglob("*.py")):
        for mod in _imports(f):
            if any(mod == x or mod.startswith(x + ".") for x in FORBIDDEN):
                bad.append(f"{f.relative_to(SRC)} imports {mod}")
    assert not bad, bad


@pytest.mark.parametrize("pkg", ["tamelab", "tamelab.models", "tamelab.data", "tamelab.claims", "tamelab.atlas", "tamelab.parallel"]
                         + [f"tamelab.{p}" for p in GEOMETRY if (SRC / p / "__init__.py").is_file()])
def test_public_facade_exports_resolve(pkg):
    mod = importlib.import_module(pkg)
    names = getattr(mod, "__all__", None)
    assert names is not None, f"{pkg} has no __all__"
    for n in names:
        assert hasattr(mod, n), f"{pkg}.__all__ lists {n!r} which does not exist"
