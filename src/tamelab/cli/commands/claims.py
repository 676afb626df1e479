"""``tamelab claims list|run``: the published claims, reproduced, with verdicts (logic in :mod:`tamelab.claims`)."""

from __future__ import annotations

from typing import Any, Optional

import typer

from ...verdicts import Verdict
from .._build import print_payload
from .._common import JSON_HELP, OUT_HELP, QUIET_HELP

_COLOUR = {Verdict.HOLDS: "green", Verdict.FAILS: "red", Verdict.NOT_REPRODUCED: "yellow"}


def _flag(field: str) -> str:
    """How ``claims run`` names a field of :class:`tamelab.tasks.claims.ClaimsConfig`."""
    from ...tasks.claims import ClaimsConfig

    return {"ids": "IDS", "all": "--all"}.get(field) or ClaimsConfig.flag(field)


def register(app: typer.Typer) -> None:
    """Add the ``claims`` command group (``list``, ``run``) to ``app``."""
    claims_app = typer.Typer(help="Published claims, reproduced: expected, measured, verdict.", no_args_is_help=True)
    app.add_typer(claims_app, name="claims")

    @claims_app.command("list")
    def list_cmd(json_out: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
        """List registered claims with their source (paper, theorem) and where the expected value comes from."""
        import sys

        from ...claims import all_claims
        from ...runstore import dumps

        rows = [c.describe() for c in all_claims()]
        if json_out:
            sys.stdout.write(dumps({"claims": rows}))
            return
        from rich.console import Console
        from rich.table import Table

        t = Table(title=f"{len(rows)} claims")
        for col in ("id", "source", "expected from", "statement"):
            t.add_column(col, overflow="fold")
        for r in sorted(rows, key=lambda r: (r["group"], r["id"])):
            t.add_row(
                r["id"],
                r["source"] or f"[red]missing[/] ({r['paper']})",
                r["expected_from"] or "[red]missing[/]",
                r["statement"],
            )
        Console().print(t)

    @claims_app.command("run")
    def run_cmd(
        ids: Optional[list[str]] = typer.Argument(None, help="claim ids (see 'tamelab claims list')"),
        all_: bool = typer.Option(False, "--all", help="run every registered claim"),
        tag: Optional[list[str]] = typer.Option(None, "--tag", help="run claims with this tag (repeatable)"),
        quick: bool = typer.Option(False, "--quick", help="CI-sized versions of each claim"),
        no_slow: bool = typer.Option(False, "--no-slow", help="skip claims marked slow"),
        seed: int = typer.Option(0, "--seed", min=0, help="seed passed to every claim"),
        executor: Optional[str] = typer.Option(
            None, "--executor", help="serial | dask (default: dask when --workers > 1)"
        ),
        workers: Optional[int] = typer.Option(None, "--workers", min=1, help="run claims in N worker processes (Dask)"),
        scheduler: Optional[str] = typer.Option(None, "--scheduler", help="existing Dask scheduler tcp://host:port"),
        out: Optional[str] = typer.Option(None, "--out", help=OUT_HELP),
        json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
        quiet: bool = typer.Option(False, "--quiet", help=QUIET_HELP),
    ) -> None:
        """Run claims and print each verdict: expected, measured, holds / fails / not reproduced."""
        from ..._progress import set_quiet
        from ...tasks import run_task

        set_quiet(quiet or json_out)
        given = {
            "ids": ids or [],
            "all": all_,
            "tags": tag or [],
            "quick": quick,
            "seed": seed,
            "no_slow": no_slow,
            "executor": executor,
            "workers": workers,
            "scheduler": scheduler,
        }
        run = run_task("claims", given, out=out, source="command line", name=_flag)
        res = run.to_dict()
        print_payload("claims", res, json_out=json_out, quiet=True)
        if not json_out and not quiet:
            _print_table(res)

    def _print_table(res: dict[str, Any]) -> None:
        import json

        from rich.console import Console
        from rich.table import Table

        con = Console()
        con.print(f"claims: {', '.join(f'{k} {v}' for k, v in res['summary'].items())}  ({res['seconds']:.0f} s)")
        by_id = {r["id"]: r for r in res["claims"]}
        for g in res["papers"]:
            t = Table(title=g["title"], title_justify="left")
            for col in ("id", "source", "expected", "measured", "verdict"):
                t.add_column(col, overflow="fold")
            for cid in g["claims"]:
                r = by_id[cid]
                src = f"{r['source'] or r['paper']} [dim]({r['expected_from'] or '?'})[/]"
                t.add_row(
                    cid,
                    src,
                    json.dumps(r["expected"], default=str)[:200],
                    json.dumps(r["measured"], default=str)[:300],
                    f"[{_COLOUR[r['verdict']]}]{r['verdict']}[/]",
                )
            con.print(t)
