"""``tamelab claims list|run``: the published claims, reproduced, with verdicts."""

from __future__ import annotations

from collections import Counter
from typing import Any, Optional

import typer

from .._common import JSON_HELP, OUT_HELP, QUIET_HELP, finish


def _run_one(args: tuple[str, int, bool]) -> dict[str, Any]:
    """Top-level (picklable) runner for one claim, for the executor."""
    from ...claims import ClaimContext, run_claim

    cid, seed, quick = args
    return run_claim(cid, ClaimContext(seed=seed, quick=quick))


def run_claims(
    ids: list[str] | None = None,
    *,
    all_: bool = False,
    tags: list[str] | None = None,
    seed: int = 0,
    quick: bool = False,
    include_slow: bool = True,
    executor: str = "serial",
    workers: int | None = None,
    scheduler: str | None = None,
) -> dict[str, Any]:
    """Run claims (by id, by tag, or all) and return ``{"claims": [...], "summary": {...}}``."""
    from ...claims import all_claims, get_claim
    from ...errors import InputError
    from ...parallel import get_executor

    if ids:
        selected = [get_claim(i) for i in ids]
    elif all_ or tags:
        selected = [c for c in all_claims() if not tags or set(tags) & set(c.tags)]
    else:
        raise InputError("claims run", "no claims selected", "pass claim ids, --tag T, or --all")
    if not include_slow:
        selected = [c for c in selected if not c.slow]
    ex = get_executor(executor, workers=workers, scheduler=scheduler)
    try:
        rows = ex.map(_run_one, [(c.id, seed, quick) for c in selected], desc="claims")
    finally:
        ex.close()
    counts = Counter(r["verdict"] for r in rows)
    summary = {v: counts.get(v, 0) for v in ("holds", "fails", "not reproduced")}
    return {"claims": rows, "summary": summary, "seed": seed, "quick": quick}


def register(app: typer.Typer) -> None:
    claims_app = typer.Typer(help="Published claims, reproduced: expected, measured, verdict.", no_args_is_help=True)
    app.add_typer(claims_app, name="claims")

    @claims_app.command("list")
    def list_cmd(json_out: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
        """List registered claims."""
        import sys

        from ...claims import all_claims
        from ...runstore import dumps

        rows = [
            {"id": c.id, "paper": c.paper, "statement": c.statement, "expected": c.expected, "tags": list(c.tags), "slow": c.slow}
            for c in all_claims()
        ]
        if json_out:
            sys.stdout.write(dumps({"claims": rows}))
            return
        from rich.console import Console
        from rich.table import Table

        t = Table(title=f"{len(rows)} claims")
        for col in ("id", "paper", "statement"):
            t.add_column(col, overflow="fold")
        for r in rows:
            t.add_row(r["id"], r["paper"], r["statement"])
        Console().print(t)

    @claims_app.command("run")
    def run_cmd(
        ids: Optional[list[str]] = typer.Argument(None, help="claim ids (see 'tamelab claims list')"),
        all_: bool = typer.Option(False, "--all", help="run every registered claim"),
        tag: Optional[list[str]] = typer.Option(None, "--tag", help="run claims with this tag (repeatable)"),
        quick: bool = typer.Option(False, "--quick", help="CI-sized versions of each claim"),
        no_slow: bool = typer.Option(False, "--no-slow", help="skip claims marked slow"),
        seed: int = typer.Option(0, "--seed", min=0, help="seed passed to every claim"),
        executor: str = typer.Option("serial", "--executor", help="serial | dask"),
        workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Dask LocalCluster workers"),
        scheduler: Optional[str] = typer.Option(None, "--scheduler", help="existing Dask scheduler tcp://host:port"),
        out: Optional[str] = typer.Option(None, "--out", help=OUT_HELP),
        json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
        quiet: bool = typer.Option(False, "--quiet", help=QUIET_HELP),
    ) -> None:
        """Run claims and print each verdict: expected, measured, holds / fails / not reproduced."""
        from ..._progress import set_quiet

        set_quiet(quiet or json_out)
        cfg = {"ids": ids or [], "all": all_, "tags": tag or [], "quick": quick, "seed": seed, "no_slow": no_slow}
        res = run_claims(
            ids, all_=all_, tags=tag, seed=seed, quick=quick, include_slow=not no_slow,
            executor=executor, workers=workers, scheduler=scheduler,
        )
        finish("claims", res, config=cfg, out=out, json_out=json_out, quiet=True)
        if not json_out and not quiet:
            _print_table(res)

    def _print_table(res: dict[str, Any]) -> None:
        import json

        from rich.console import Console
        from rich.table import Table

        t = Table(title="claims: " + ", ".join(f"{k} {v}" for k, v in res["summary"].items()))
        for col in ("id", "expected", "measured", "verdict"):
            t.add_column(col, overflow="fold")
        colour = {"holds": "green", "fails": "red", "not reproduced": "yellow"}
        for r in res["claims"]:
            meas = json.dumps(r["measured"], default=str)
            t.add_row(r["id"], json.dumps(r["expected"], default=str)[:200], meas[:300], f"[{colour[r['verdict']]}]{r['verdict']}[/]")
        Console().print(t)
