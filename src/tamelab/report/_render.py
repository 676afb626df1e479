"""Render a self-contained HTML report from a saved run directory (or an in-memory run document).

Only the run directory is read (``result.json``, ``figures/*.png``): a report can be re-rendered at any
time with ``tamelab report RUN_DIR``. Templates and CSS are package data; Jinja2 autoescaping is on,
so every string from a result is escaped; figures are embedded as base64 data URIs (no external
resource, no script). Only regular files inside ``RUN_DIR/figures`` are embedded (symbolic links and
anything resolving outside the run directory are refused, and the bytes must be a PNG); a
malformed ``result.json`` is one :class:`~tamelab.errors.InputError` line naming the field.
"""

from __future__ import annotations

import base64
import json
import os
import re
import stat
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Mapping

from ..errors import InputError
from ..result import SCHEMA_VERSION
from ..runstore import atomic_write_text, read_result
from .._format import fmt_seconds, fmt_value, humanize_key

__all__ = ["render_report", "write_report", "render_document", "load_document"]

_FIG_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*\.png$")
_PNG = b"\x89PNG\r\n\x1a\n"
_STATUS_TEXT = {
    "ok": "ok",
    "uncertified": "uncertified",
    "not_applicable": "not applicable",
    "failed": "failed",
}
_MAX_FIGURE_BYTES = 50 * 2**20


# --------------------------------------------------------------------------------------------------
# reading and validating result.json
# --------------------------------------------------------------------------------------------------
def _bad(field: str, problem: str) -> InputError:
    return InputError("RUN_DIR", f"result.json field '{field}' {problem}", "re-run the command that wrote it")


def _want(obj: Any, typ: type | tuple[type, ...], field: str, what: str) -> Any:
    if not isinstance(obj, typ) or (typ in (int, float, (int, float)) and isinstance(obj, bool)):
        raise _bad(field, f"must be {what}, got {type(obj).__name__}")
    return obj


def _check_section(s: Any, i: int) -> None:
    f = f"result.sections[{i}]"
    _want(s, dict, f, "an object")
    for k in ("id", "title", "status"):
        _want(s.get(k), str, f"{f}.{k}", "a string")
    for k in ("verdict", "reason", "error", "part"):
        if s.get(k) is not None:
            _want(s[k], str, f"{f}.{k}", "a string")
    for k in ("summary", "units", "data"):
        if s.get(k) is not None:
            _want(s[k], dict, f"{f}.{k}", "an object")
    if s.get("seconds") is not None:
        _want(s["seconds"], (int, float), f"{f}.seconds", "a number")
    if s.get("paragraphs") is not None:
        for j, p in enumerate(_want(s["paragraphs"], list, f"{f}.paragraphs", "a list")):
            _want(p, str, f"{f}.paragraphs[{j}]", "a string")
    for j, t in enumerate(_want(s.get("tables", []), list, f"{f}.tables", "a list")):
        _want(t, dict, f"{f}.tables[{j}]", "an object")
        _want(t.get("columns", []), list, f"{f}.tables[{j}].columns", "a list")
        for r, row in enumerate(_want(t.get("rows", []), list, f"{f}.tables[{j}].rows", "a list")):
            _want(row, list, f"{f}.tables[{j}].rows[{r}]", "a list")
        if t.get("caption") is not None:
            _want(t["caption"], str, f"{f}.tables[{j}].caption", "a string")
    for j, g in enumerate(_want(s.get("figures", []), list, f"{f}.figures", "a list")):
        _want(g, dict, f"{f}.figures[{j}]", "an object")
        _want(g.get("file", ""), str, f"{f}.figures[{j}].file", "a string")
        _want(g.get("caption", ""), str, f"{f}.figures[{j}].caption", "a string")


def check_document(doc: Any) -> dict[str, Any]:
    """Check the shape of a run document (``result.json``); every problem is one ``InputError`` line."""
    _want(doc, dict, "(top level)", "an object")
    if "schema_version" not in doc:
        raise InputError("RUN_DIR", "result.json has no schema_version", "it was not written by tamelab")
    v = _want(doc["schema_version"], int, "schema_version", "an integer")
    if v < 1:
        raise _bad("schema_version", f"must be >= 1, got {v}")
    if v > SCHEMA_VERSION:
        raise InputError(
            "RUN_DIR",
            f"schema_version {v} is newer than this tamelab ({SCHEMA_VERSION})",
            "upgrade tamelab",
        )
    if doc.get("command") is not None:
        _want(doc["command"], str, "command", "a string")
    for k in ("config", "provenance", "result"):
        if doc.get(k) is not None:
            _want(doc[k], dict, k, "an object")
    res = doc.get("result") or {}
    if res.get("sections") is not None:
        for i, s in enumerate(_want(res["sections"], list, "result.sections", "a list")):
            _check_section(s, i)
    return doc


def load_document(run_dir: str | os.PathLike) -> dict[str, Any]:
    """Read ``RUN_DIR/result.json`` and check the shape of what the report renders.

    Read ``RUN_DIR/result.json`` (:func:`tamelab.runstore.read_result` checks the file and its top
    level) and check the shape of what the report renders; any problem is one ``InputError`` line.
    """
    run = Path(run_dir)
    if not run.is_dir():
        raise InputError("RUN_DIR", f"{run} is not a directory", "pass a directory written by a tamelab command")
    return check_document(read_result(run))


def _dir_figures(run_dir: Path) -> Callable[[str], bytes | None]:
    """Figure loader: regular PNG files directly inside ``run_dir/figures``, nothing else."""
    root = run_dir.resolve()
    figdir = root / "figures"

    def load(file: str) -> bytes | None:
        if not isinstance(file, str) or not _FIG_NAME.match(file):
            return None  # only bare file names: no directories, no traversal
        if figdir.is_symlink() or not figdir.is_dir():
            return None
        p = figdir / file
        try:
            st = os.lstat(p)
            if not stat.S_ISREG(st.st_mode) or st.st_size > _MAX_FIGURE_BYTES:
                return None  # symbolic links, devices, FIFOs and huge files are never embedded
            if not p.resolve().is_relative_to(root):
                return None
            fd = os.open(p, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "rb") as fh:
                if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                    return None
                data = fh.read(_MAX_FIGURE_BYTES + 1)
        except OSError:
            return None
        return data if data.startswith(_PNG) and len(data) <= _MAX_FIGURE_BYTES else None

    return load


# --------------------------------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------------------------------
def _env():
    import jinja2

    def loader(name: str) -> str:
        return resources.files("tamelab.report").joinpath("templates", name).read_text("utf-8")

    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(loader),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = fmt_value
    env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=1, sort_keys=True, default=str, ensure_ascii=False)
    return env


def _src(data: bytes | None) -> str | None:
    if not data or not data.startswith(_PNG):
        return None
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _acc_line(res: Mapping[str, Any]) -> str | None:
    parts = []
    for split in ("train", "test"):
        a = res.get(f"{split}_accuracy")
        if isinstance(a, (int, float)) and not isinstance(a, bool):
            parts.append(f"{fmt_value(float(a), '%')} {split}")
    return ", ".join(parts) or None


def _loss_line(res: Mapping[str, Any]) -> str | None:
    parts = []
    for split in ("train", "test"):
        v = res.get(f"{split}_loss")
        if isinstance(v, (int, float, str)) and not isinstance(v, bool):
            parts.append(f"{fmt_value(v)} {split}")
    return ", ".join(parts) or None


def _atlas_overview(res: Mapping[str, Any], sections: list[dict[str, Any]]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    g = res.get
    model = str(g("model") or "?")
    rows.append(("Model", f"{model}: {g('architecture')}" if g("architecture") else model))
    if isinstance(g("n_params"), int):
        rows.append(("Parameters", f"{fmt_value(g('n_params'))} trainable"))
    data = str(g("data") or "?")
    shape = g("input_shape")
    desc = f"{data}: {fmt_value(g('n_train'))} training samples"
    if g("n_test"):
        desc += f", {fmt_value(g('n_test'))} test samples"
    if isinstance(shape, list) and shape:
        desc += f"; input shape {'×'.join(str(s) for s in shape)}"
    if g("n_classes"):
        desc += f"; {g('n_classes')} classes"
    rows.append(("Data", desc))
    if g("test_source"):
        rows.append(("Test data", str(g("test_source"))))
    rows.append(("Loss", f"{g('loss') or '?'} (mean over samples)"))
    acc = _acc_line(res)
    if acc:
        rows.append(("Accuracy", acc))
    loss = _loss_line(res)
    if loss:
        rows.append(("Final loss", loss))
    tr = g("training") if isinstance(g("training"), dict) else None
    if g("trained") and tr:
        cfg = tr.get("config") if isinstance(tr.get("config"), dict) else {}
        opt = tr.get("optimizer") or cfg.get("optimizer") or "?"
        rows.append(
            (
                "Training",
                f"trained here: {fmt_value(tr.get('epochs_run'))} epochs, "
                f"{fmt_value(tr.get('steps'))} steps, {opt if isinstance(opt, str) else fmt_value(opt)}"
                f"{', lr ' + fmt_value(cfg.get('lr')) if isinstance(cfg.get('lr'), (int, float)) else ''}",
            )
        )
    elif g("trained") is False:
        rows.append(
            (
                "Training",
                "given already trained (sections that need the training run are not applicable)",
            )
        )
    tsec = g("seconds")
    if isinstance(tsec, (int, float)) and not isinstance(tsec, bool):
        t = f"{fmt_seconds(float(tsec))} in all"
        trs = g("training_seconds")
        if isinstance(trs, (int, float)) and trs:
            t += f"; training {fmt_seconds(float(trs))}"
        secs = sum(float(s.get("seconds") or 0) for s in sections)
        if sections:
            t += f"; sections {fmt_seconds(secs)}"
        rows.append(("Time", t))
    where = [str(x) for x in (g("device"), g("dtype")) if x]
    if where:
        rows.append(("Device", ", ".join(where)))
    counts: dict[str, int] = {}
    for s in sections:
        counts[s["status"]] = counts.get(s["status"], 0) + 1
    if sections:
        rows.append(("Sections", ", ".join(f"{n} {_STATUS_TEXT.get(k, k)}" for k, n in counts.items())))
    if g("seed") is not None:
        rows.append(("Seed", fmt_value(g("seed"))))
    return rows


def _generic_overview(res: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for k, v in res.items():
        if isinstance(v, (dict, list)) or k in ("schema_version", "kind", "sections"):
            continue
        unit = "s" if (k == "seconds" or k.endswith("_seconds")) else None
        rows.append((humanize_key(k), fmt_value(v, unit)))
    return rows


def _prepare_section(s: dict[str, Any], figure_bytes: Callable[[str], bytes | None]) -> dict[str, Any]:
    units = s.get("units") or {}
    summ = s.get("summary") or {}
    order = s.get("summary_order")
    keys = [k for k in order if k in summ] if isinstance(order, list) else []
    keys += [k for k in summ if k not in keys]
    summary = [(k, fmt_value(summ[k], units.get(k) if isinstance(units.get(k), str) else None)) for k in keys]
    figs = []
    for f in s.get("figures") or []:
        file = f.get("file", "")
        figs.append({"src": _src(figure_bytes(file)), "caption": f.get("caption", ""), "file": file})
    tables = []
    for t in s.get("tables") or []:
        tables.append(
            {
                "caption": t.get("caption") or "",
                "columns": [str(c) for c in t.get("columns", [])],
                "rows": [[fmt_value(c) for c in r] for r in t.get("rows", [])],
            }
        )
    status = s.get("status", "?")
    verdict = s.get("verdict") or ""
    if not verdict and status == "not_applicable":
        verdict = f"Not applicable: {s.get('reason') or 'no reason given'}."
    if not verdict and status == "failed":
        verdict = "This section failed; its error is shown below."
    return {
        "id": re.sub(r"[^A-Za-z0-9_-]", "-", str(s.get("id", "section"))),
        "title": s.get("title", "?"),
        "status": status,
        "status_text": _STATUS_TEXT.get(status, status),
        "verdict": verdict,
        "reason": s.get("reason"),
        "error": s.get("error"),
        "traceback": s.get("traceback"),
        "seconds": fmt_seconds(float(s["seconds"])) if isinstance(s.get("seconds"), (int, float)) else None,
        "summary": summary,
        "paragraphs": [str(p) for p in s.get("paragraphs") or []],
        "tables": tables,
        "figures": figs,
        "part": s.get("part") if s.get("part") in ("model", "reference") else "model",
    }


def render_document(doc: Mapping[str, Any], figure_bytes: Callable[[str], bytes | None]) -> str:
    """The report HTML for a run document (the content of ``result.json``);

    ``figure_bytes(file)`` returns a figure's PNG bytes or ``None``.
    """
    doc = check_document(json.loads(json.dumps(doc, default=str)))
    res = doc.get("result") or {}
    command = doc.get("command") or "?"
    raw_sections = res.get("sections") or []
    sections = [_prepare_section(s, figure_bytes) for s in raw_sections]
    is_atlas = res.get("kind") == "atlas" or command == "atlas"
    overview = _atlas_overview(res, raw_sections) if is_atlas else _generic_overview(res)
    nested = {k: v for k, v in res.items() if k != "sections" and isinstance(v, (dict, list))} if not is_atlas else {}
    loose = []
    if not sections:
        seen = set()
        for k, v in res.items():  # figures named by the result (e.g. "plot": "figures/x.png")
            if isinstance(v, str) and v.endswith(".png"):
                name = Path(v).name
                if name not in seen:
                    seen.add(name)
                    src = _src(figure_bytes(name))
                    if src:
                        loose.append({"src": src, "caption": humanize_key(k), "file": name})
        for name in sorted(getattr(figure_bytes, "names", lambda: [])()):
            if name not in seen:
                src = _src(figure_bytes(name))
                if src:
                    loose.append({"src": src, "caption": Path(name).stem, "file": name})
    raw = {k: v for k, v in doc.items()}
    if is_atlas:
        raw = {**raw, "result": {k: v for k, v in res.items() if k != "sections"}}
    prov = doc.get("provenance") or {}
    css = resources.files("tamelab.report").joinpath("static", "report.css").read_text("utf-8")
    title = f"TameLab {command}" + (
        f": {res.get('model')} on {res.get('data')}" if is_atlas and res.get("model") else ""
    )
    return (
        _env()
        .get_template("report.html.j2")
        .render(
            title=title,
            command=command,
            prov=prov,
            overview=overview,
            is_atlas=is_atlas,
            model_sections=[s for s in sections if s["part"] == "model"],
            reference_sections=[s for s in sections if s["part"] == "reference"],
            sections=sections,
            nested=nested,
            loose_figures=loose,
            raw=raw,
            config=doc.get("config") or {},
            css=css,
            schema_version=doc.get("schema_version"),
        )
    )


def render_report(run_dir: str | os.PathLike) -> str:
    """Return the report HTML for ``run_dir`` (atlas or any other command)."""
    run = Path(run_dir)
    doc = load_document(run)
    loader = _dir_figures(run)

    def names() -> list[str]:
        figdir = run / "figures"
        if figdir.is_symlink() or not figdir.is_dir():
            return []
        return [p.name for p in figdir.iterdir() if _FIG_NAME.match(p.name)]

    loader.names = names  # type: ignore[attr-defined]
    return render_document(doc, loader)


def write_report(run_dir: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Render and write ``report.html`` (atomically); returns its path."""
    run = Path(run_dir)
    if not run.is_dir():
        raise InputError("RUN_DIR", f"{run} is not a directory", "pass a directory written by a tamelab command")
    target = Path(out) if out else run / "report.html"
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise InputError("--out", f"{target} is a symbolic link or not a regular file", "choose another path")
    html = render_report(run)
    return atomic_write_text(target, html)
