"""Layering: imports flow one way, core → parallel → capabilities → tasks/claims/atlas/report → cli.

Every module of every package is checked: a module may import from its own layer or a lower one,
never from a higher one; nothing but ``cli`` imports ``cli``; only ``parallel/_dask.py`` imports
Dask; public packages re-export a declared ``__all__``.
"""

import ast
import importlib
import pathlib

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "tamelab"

#: the floors, lowest first; a top-level module or package of tamelab belongs to exactly one.
LAYERS = {
    "core": [
        "errors",
        "result",
        "_format",
        "verdicts",
        "_numerics",
        "_params",
        "_rng",
        "_threads",
        "_progress",
        "_typing",
        "_checks",
        "config",
        "runstore",
        "inputs",
        "losses",
        "models",
        "data",
    ],
    "parallel": ["parallel"],
    "capabilities": ["train", "tame", "relu", "exact", "landscape", "algebraic", "bounds", "testing"],
    "composition": ["tasks", "claims", "atlas", "report"],
    "cli": ["cli", "__main__"],
}
LEVEL = {name: i for i, names in enumerate(LAYERS.values()) for name in names}
DASK = ("dask", "distributed")


def _units():
    """Every top-level module/package of tamelab (except the facade ``__init__``)."""
    for p in sorted(SRC.iterdir()):
        if p.name.startswith(".") or p.name == "__pycache__" or p.name == "__init__.py":
            continue
        if p.is_dir() and (p / "__init__.py").is_file():
            yield p.name
        elif p.suffix == ".py":
            yield p.stem


def _files(unit, src=SRC):
    p = src / unit
    return sorted(p.rglob("*.py")) if p.is_dir() else [src / f"{unit}.py"]


def _imports(path: pathlib.Path, src=SRC):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg_parts = ["tamelab", *path.relative_to(src).parent.parts]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg_parts[: len(pkg_parts) - node.level + 1]
                if node.module:
                    yield ".".join(base + [node.module])
                else:
                    for a in node.names:
                        yield ".".join(base + [a.name])
            else:
                yield node.module or ""


def _target(mod: str) -> str | None:
    """The tamelab unit an import refers to (``None`` for third-party or the facade)."""
    parts = mod.split(".")
    if parts[0] != "tamelab" or len(parts) < 2 or parts[1] == "__version__":
        return None
    return parts[1]


def test_every_unit_has_a_layer():
    unknown = [u for u in _units() if u not in LEVEL]
    assert not unknown, f"place these in a layer of tests/test_architecture.py: {unknown}"


def test_layers_list_only_existing_units():
    existing = set(_units())
    optional = {"_threads", "_typing", "_checks", "testing"}  # names reserved for modules helpers may add
    ghosts = [n for n in LEVEL if n not in existing and n not in optional]
    assert not ghosts, f"the layer table names modules that do not exist: {ghosts}"


def _upward(unit, src=SRC):
    bad = []
    for f in _files(unit, src):
        for mod in _imports(f, src):
            t = _target(mod)
            if t is None or t == unit or t not in LEVEL:
                continue
            if LEVEL[t] > LEVEL[unit]:
                bad.append(f"{f.relative_to(src)} imports {mod} ({t} is above {unit})")
    return bad


@pytest.mark.parametrize("unit", sorted(_units()))
def test_imports_flow_down(unit):
    bad = _upward(unit)
    assert not bad, bad


@pytest.mark.parametrize("unit", sorted(u for u in _units() if u not in ("cli", "__main__")))
def test_nothing_below_imports_cli(unit):
    bad = [f"{f.relative_to(SRC)} imports {m}" for f in _files(unit) for m in _imports(f) if _target(m) == "cli"]
    assert not bad, bad


def test_parallel_sits_below_the_capabilities():
    assert LEVEL["parallel"] < min(LEVEL[c] for c in LAYERS["capabilities"])
    bad = [
        f"{f.relative_to(SRC)} imports {m}"
        for f in _files("parallel")
        for m in _imports(f)
        if _target(m) not in (None, "parallel") and LEVEL.get(_target(m), 99) > LEVEL["errors"]
    ]
    assert not bad, bad


def test_only_the_dask_executor_imports_dask():
    bad = []
    for unit in _units():
        for f in _files(unit):
            if f == SRC / "parallel" / "_dask.py":
                continue
            bad += [f"{f.relative_to(SRC)} imports {m}" for m in _imports(f) if m.split(".")[0] in DASK]
    assert not bad, bad


def test_the_checker_sees_a_violation(tmp_path):
    """The scanner resolves relative imports and flags upward ones (a test that cannot fail is a defect)."""
    pkg = tmp_path / "landscape"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "_x.py").write_text(
        "from .._params import flat_params\nfrom ..tasks import run_task\nfrom .. import cli\nimport tamelab.atlas\n"
    )
    bad = _upward("landscape", src=tmp_path)
    assert len(bad) == 3 and all("landscape/_x.py" in b for b in bad), bad
    assert any("tamelab.cli" in b for b in bad) and any("tamelab.tasks" in b for b in bad)


PUBLIC = [
    "tamelab",
    "tamelab.models",
    "tamelab.data",
    "tamelab.claims",
    "tamelab.atlas",
    "tamelab.parallel",
    "tamelab.tasks",
    "tamelab.verdicts",
]


@pytest.mark.parametrize(
    "pkg", PUBLIC + [f"tamelab.{p}" for p in LAYERS["capabilities"] if (SRC / p / "__init__.py").is_file()]
)
def test_public_facade_exports_resolve(pkg):
    mod = importlib.import_module(pkg)
    names = getattr(mod, "__all__", None)
    assert names is not None, f"{pkg} has no __all__"
    for n in names:
        assert hasattr(mod, n), f"{pkg}.__all__ lists {n!r} which does not exist"
