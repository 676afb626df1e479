"""Render a claims run as the documentation table (Markdown) or a small HTML page, grouped by paper.

::

    tamelab claims run --all --json --workers 2 > RUN.json
    python -m tamelab.claims.docs RUN.json > docs/claims.md
    python -m tamelab.claims.docs RUN.json --html > claims.html

The input is the ``--json`` output of ``tamelab claims run`` or the ``result.json`` of its run directory.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
from pathlib import Path
from typing import Any

from ..verdicts import Verdict

__all__ = ["load_run", "render_markdown", "render_html", "main"]

_ORDER = {Verdict.FAILS: 0, Verdict.NOT_REPRODUCED: 1, Verdict.HOLDS: 2}


def load_run(path: str | Path) -> dict[str, Any]:
    """A claims run document (``{"claims": [...], "summary": ..., ...}``) from a ``--json`` dump or a run dir."""
    p = Path(path)
    if p.is_dir():
        p = p / "result.json"
    doc = json.loads(p.read_text(encoding="utf-8"))
    if "claims" not in doc and isinstance(doc.get("result"), dict):
        doc = {**doc["result"], "provenance": doc.get("provenance"), "config": doc.get("config")}
    if not isinstance(doc.get("claims"), list):
        from ..errors import InputError

        raise InputError("RUN.json", f"{p} holds no 'claims' list", "pass the output of 'tamelab claims run --json'")
    return doc


def _num(x: Any) -> Any:
    if isinstance(x, float):
        return float(f"{x:.4g}")
    if isinstance(x, dict):
        return {k: _num(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_num(v) for v in x]
    return x


def _compact(x: Any, limit: int) -> str:
    s = json.dumps(_num(x), ensure_ascii=False, separators=(", ", ": "))
    return s if len(s) <= limit else s[: limit - 1] + "…"


#: internal references (design-spec sections, tracker issues) rewritten for readers of the published table.
_INTERNAL = [
    (re.compile(r"\s*\((?:see )?spec\b[^()]*\)"), ""),
    (re.compile(r"\s*\((?:see )?issue \d+[^()]*\)", re.I), ""),
    (re.compile(r"\bissue \d+:?\s*", re.I), ""),
    (re.compile(r"\bthe spec measured\b"), "we measured"),
    (re.compile(r"\bspec values\b"), "reference values"),
    (re.compile(r"\b(?:the )?spec(?: [\w-]+(?:\.md)?)?,? ?(?:§ ?[\w.–-]*\d\w*|E\d+)"), "TameLab's design notes"),
    (re.compile(r"\b([Tt])he spec's reading\b"), r"\1he stricter reading"),
    (re.compile(r"\b([Tt])he spec's values\b"), r"\1he design notes' values"),
    (re.compile(r"\b([Tt])he spec's\b"), r"\1he design notes'"),
    (re.compile(r"\bthe spec\b"), "TameLab's reference"),
]


def public(text: str) -> str:
    """``text`` without internal references (design-spec sections, issue numbers): what a reader can follow."""
    for pat, rep in _INTERNAL:
        text = pat.sub(rep, text)
    return text


def _cell(s: str) -> str:
    return " ".join(public(str(s)).split()).replace("|", "\\|")


def _why(row: dict[str, Any], limit: int = 600) -> str:
    note = row.get("note") or ""
    if row.get("measured", {}).get("error"):
        note = row["measured"]["error"]
    note = " ".join(note.split())
    return note if len(note) <= limit else note[: limit - 1] + "…"


def _groups(doc: dict[str, Any]) -> list[dict[str, Any]]:
    if doc.get("papers"):
        return doc["papers"]
    from ._run import group_by_paper

    return group_by_paper(doc["claims"])


def _cpu(doc: dict[str, Any]) -> float:
    return float(sum(r.get("cpu_seconds") or 0.0 for r in doc["claims"]))


def _timing(
    doc: dict[str, Any],
    command: str | None,
    quick: dict[str, Any] | None,
    quick_command: str | None,
    load: str | None,
    notes: list[str] | None = None,
) -> list[str]:
    """The run-time section: wall time of the full (and quick) run, with the commands, CPU seconds, slowest claims."""

    def line(d: dict[str, Any], cmd: str | None, what: str) -> str:
        wall = d.get("seconds")
        w = f"{wall:.0f} s wall ({wall / 60:.1f} min)" if isinstance(wall, (int, float)) else "wall time not recorded"
        ex = f", executor {d.get('executor')}" + (f" × {d['workers']}" if d.get("workers") else "")
        return (
            f"- **{what}**: {w}, {_cpu(d):.0f} CPU seconds summed over the claims{ex}"
            + (f" — `{cmd}`" if cmd else "")
            + "."
        )

    out = ["## Run time", ""]
    out.append(line(doc, command, "quick run" if doc.get("quick") else "full run"))
    if quick is not None:
        out.append(line(quick, quick_command, "quick run" if quick.get("quick") else "full run"))
    if load:
        out.append(f"- Machine: {load}")
    out += [f"- {public(n)}" for n in notes or ()]
    slow = sorted(doc["claims"], key=lambda r: -(r.get("seconds") or 0.0))[:10]
    out += [
        "",
        "Slowest claims of the table's run (wall / CPU seconds): "
        + ", ".join(f"`{r['id']}` {r.get('seconds', 0):.0f} / {r.get('cpu_seconds') or 0:.0f}" for r in slow)
        + ".",
        "",
    ]
    return out


def render_markdown(
    doc: dict[str, Any],
    *,
    command: str | None = None,
    quick: dict[str, Any] | None = None,
    quick_command: str | None = None,
    load: str | None = None,
    notes: str | None = None,
    timing_notes: list[str] | None = None,
) -> str:
    """The Markdown page: summary, run time, one table per paper, then the negative findings with their explanation.

    ``quick`` is a second (quick) run whose wall time is stated beside the table's; ``load`` describes the machine
    (cores, load average); ``notes`` is the path of a companion page (constructions, criteria) linked from the top.
    """
    rows = {r["id"]: r for r in doc["claims"]}
    s = doc.get("summary", {})
    lines = [
        "# Claims: published statements, reproduced",
        "",
        "<!-- generated by `python -m tamelab.claims.docs RUN.json > docs/claims.md`; do not edit by hand -->",
        "",
        f"{len(rows)} claims — "
        + ", ".join(f"**{v}** {k}" for k, v in s.items())
        + f" (seed {doc.get('seed', '?')}, {'quick' if doc.get('quick') else 'full'} run"
        + (f", {doc['seconds']:.0f} s wall" if isinstance(doc.get("seconds"), (int, float)) else "")
        + (
            f", executor {doc['executor']}" + (f" × {doc['workers']}" if doc.get("workers") else "")
            if doc.get("executor")
            else ""
        )
        + ").",
        "",
        f"Regenerate: `{command or 'tamelab claims run --all --json --workers 2 > RUN.json'}`, then "
        "`python -m tamelab.claims.docs RUN.json > docs/claims.md`.",
        "",
        "Columns: *source* is the paper's theorem / table / equation; *from* says where the expected value comes "
        "from — `paper` (printed there), `theory` (derived), `regression` (our own earlier value). Each claim has "
        "a test that feeds it a wrong implementation or constant and sees it fail (the two claims that cannot be "
        "checked here, because the source text is unavailable, are `not reproduced` by construction).",
        "",
    ]
    if notes:
        lines += [
            f"How each claim is measured — constructions, criteria fixed in advance, what could not be "
            f"retrieved — is in [{notes}]({notes}).",
            "",
        ]
    lines += _timing(doc, command, quick, quick_command, load, timing_notes)
    for g in _groups(doc):
        lines += [
            f"## {_cell(g.get('title') or g['group'])}",
            "",
            "| claim | statement | source (from) | expected | measured | verdict | why |",
            "|---|---|---|---|---|---|---|",
        ]
        for cid in g["claims"]:
            r = rows[cid]
            lines.append(
                "| "
                + " | ".join(
                    _cell(x)
                    for x in (
                        f"`{cid}`",
                        r.get("statement", ""),
                        f"{r.get('source') or r.get('paper')} ({r.get('expected_from') or '?'})",
                        _compact(r.get("expected"), 220),
                        _compact(r.get("measured"), 420),
                        f"**{r['verdict']}**",
                        _why(r),
                    )
                )
                + " |"
            )
        lines.append("")
    neg = sorted((r for r in rows.values() if r["verdict"] != "holds"), key=lambda r: (_ORDER[r["verdict"]], r["id"]))
    lines += ["## Negative findings", ""]
    if not neg:
        lines.append("None: every claim holds in this run.")
    for r in neg:
        src = r.get("source") or r.get("paper")
        lines.append(public(f"- `{r['id']}` — **{r['verdict']}** ({src}): {_why(r, 1200)}"))
    lines.append("")
    return "\n".join(lines)


def render_html(doc: dict[str, Any]) -> str:
    """A self-contained HTML page with the same tables (one section per paper)."""

    def e(x: Any) -> str:
        return html.escape(public(str(x)))

    rows = {r["id"]: r for r in doc["claims"]}
    colour = {Verdict.HOLDS: "#1a7f37", Verdict.FAILS: "#cf222e", Verdict.NOT_REPRODUCED: "#9a6700"}
    out = [
        "<!doctype html><meta charset='utf-8'><title>TameLab claims</title>",
        "<style>body{font:14px system-ui;margin:2em}table{border-collapse:collapse;width:100%}"
        "td,th{border:1px solid #ccc;padding:4px;vertical-align:top}code{font-size:12px}</style>",
        "<h1>Claims</h1><p>" + e(", ".join(f"{v} {k}" for k, v in doc.get("summary", {}).items())) + "</p>",
    ]
    for g in _groups(doc):
        out.append(
            f"<h2>{e(g.get('title') or g['group'])}</h2><table><tr><th>claim</th><th>statement</th>"
            "<th>source (from)</th><th>expected</th><th>measured</th><th>verdict</th><th>why</th></tr>"
        )
        for cid in g["claims"]:
            r = rows[cid]
            out.append(
                "<tr>"
                + "".join(
                    f"<td>{c}</td>"
                    for c in (
                        f"<code>{e(cid)}</code>",
                        e(r.get("statement", "")),
                        e(f"{r.get('source') or r.get('paper')} ({r.get('expected_from') or '?'})"),
                        f"<code>{e(_compact(r.get('expected'), 400))}</code>",
                        f"<code>{e(_compact(r.get('measured'), 800))}</code>",
                        f"<b style='color:{colour[r['verdict']]}'>{e(r['verdict'])}</b>",
                        e(_why(r, 1200)),
                    )
                )
                + "</tr>"
            )
        out.append("</table>")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m tamelab.claims.docs RUN.json [--html] [--quick-run QUICK.json] ...``: print the page."""
    ap = argparse.ArgumentParser(prog="python -m tamelab.claims.docs", description=__doc__.splitlines()[0])
    ap.add_argument("run", help="claims run JSON (tamelab claims run --json) or its run directory")
    ap.add_argument("--html", action="store_true", help="HTML instead of Markdown")
    ap.add_argument("--command", default=None, help="the command that produced RUN.json (printed in the page)")
    ap.add_argument("--quick-run", default=None, help="a quick run's JSON: its wall time is stated beside the table's")
    ap.add_argument("--quick-command", default=None, help="the command that produced the quick run")
    ap.add_argument("--load", default=None, help="the machine and its load while the runs ran (printed in the page)")
    ap.add_argument("--notes", default=None, help="companion page (relative link) with the claims' constructions")
    ap.add_argument(
        "--timing-note",
        action="append",
        default=None,
        help="a further line for the run-time section (e.g. a full run measured separately); repeatable",
    )
    a = ap.parse_args(argv)
    doc = load_run(a.run)
    quick = load_run(a.quick_run) if a.quick_run else None
    sys.stdout.write(
        render_html(doc)
        if a.html
        else render_markdown(
            doc,
            command=a.command,
            quick=quick,
            quick_command=a.quick_command,
            load=a.load,
            notes=a.notes,
            timing_notes=a.timing_note,
        )
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
