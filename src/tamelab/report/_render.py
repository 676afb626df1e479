"""Render a self-contained HTML report from a saved run directory.

Only the run directory is read (``result.json``, ``figures/*.png``): a report
can be re-rendered at any time with ``tamelab report RUN_DIR``. Templates and
CSS are package data; Jinja2 autoescaping is on, so every string from a result
is escaped; figures are embedded as base64 data URIs (no external resource).
"""

from __future__ import annotations

import base64
import json
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..runstore import atomic_write_text, read_result

__all__ = ["render_report", "write_report"]

_FIG_NAME = re.compile(r"^[A-Za-z0-9_.-]+\.png$")


def _env():
    import jinja2

    loader = jinja2.FunctionLoader(lambda name: resources.files("tamelab.report").joinpath("templates", name).read_text("utf-8"))
    env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = _fmt
    env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=1, sort_keys=True, default=str)
    return env


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, dict)):
        s = json.dumps(v, default=str)
        return s if len(s) <= 160 else s[:157] + "…"
    return str(v)


def _embed(run_dir: Path, file: str) -> str | None:
    if not _FIG_NAME.match(Path(file).name):
        return None
    p = run_dir / "figures" / Path(file).name
    if not p.is_file():
        return None
    return "data:image/png;base64," + base64.b64encode(p.read_bytes()).decode("ascii")


def render_report(run_dir: str | os.PathLike) -> str:
    """Return the report HTML for ``run_dir`` (atlas or any other command)."""
    run = Path(run_dir)
    doc = read_result(run)
    res = doc.get("result", {})
    sections = []
    for s in res.get("sections", []) if isinstance(res.get("sections"), list) else []:
        figs = []
        for f in s.get("figures", []):
            figs.append({"src": _embed(run, f.get("file", "")), "caption": f.get("caption", ""), "file": f.get("file", "")})
        sections.append({**s, "figures": figs})
    scalars = {k: v for k, v in res.items() if k != "sections" and not isinstance(v, (dict, list))}
    nested = {k: v for k, v in res.items() if k != "sections" and isinstance(v, (dict, list))}
    loose = []
    if not sections:
        figdir = run / "figures"
        for p in sorted(figdir.glob("*.png")) if figdir.is_dir() else []:
            loose.append({"src": _embed(run, p.name), "caption": p.stem, "file": p.name})
    css = resources.files("tamelab.report").joinpath("static", "report.css").read_text("utf-8")
    return _env().get_template("report.html.j2").render(
        doc=doc, command=doc.get("command", "?"), config=doc.get("config", {}), prov=doc.get("provenance", {}),
        scalars=scalars, nested=nested, sections=sections, loose_figures=loose, css=css,
    )


def write_report(run_dir: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Render and write ``report.html`` (atomically); returns its path."""
    run = Path(run_dir)
    if not run.is_dir():
        raise InputError("RUN_DIR", f"{run} is not a directory")
    html = render_report(run)
    return atomic_write_text(Path(out) if out else run / "report.html", html)
