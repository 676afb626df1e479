"""``tamelab neuromanifold`` and ``tamelab critical``: exact algebraic geometry of small networks."""

from __future__ import annotations

from typing import Any, Optional

import typer

from .._common import JSON_HELP, OUT_HELP, QUIET_HELP, finish, parse_ints


def neuromanifold_task(config: dict[str, Any]) -> dict[str, Any]:
    from ...algebraic import neuromanifold_dimension

    w = config["widths"]
    w = parse_ints(w, field="widths") if isinstance(w, str) else w
    return neuromanifold_dimension(w, int(config["power"]), seeds=int(config.get("seeds", 3)), seed=int(config.get("seed", 0)),
                                   check_float=bool(config.get("float", False))).to_dict()


def register(app: typer.Typer) -> None:
    from ...parallel import register_task

    register_task("neuromanifold", neuromanifold_task)

    @app.command("neuromanifold")
    def neuromanifold_cmd(
        widths: str = typer.Option(..., "--widths", help="d_0,...,d_h, e.g. 2,3,1"),
        power: int = typer.Option(..., "--power", help="activation t^r"),
        seeds: int = typer.Option(3, "--seeds", min=1, help="random points/parameters draws (max rank is kept)"),
        seed: int = typer.Option(0, "--seed", min=0),
        float_check: bool = typer.Option(False, "--float", help="also report the float64 SVD rank (gap-detected)"),
        out: Optional[str] = typer.Option(None, "--out", help=OUT_HELP),
        json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
        quiet: bool = typer.Option(False, "--quiet", help=QUIET_HELP),
    ) -> None:
        """Exact dimension of the neurovariety of a polynomial network (rank mod p) vs expected and ambient."""
        cfg = {"widths": parse_ints(widths, field="--widths"), "power": power, "seeds": seeds, "seed": seed, "float": float_check}
        finish("neuromanifold", neuromanifold_task(cfg), config=cfg, out=out, json_out=json_out, quiet=quiet)

    @app.command("critical")
    def critical_cmd(
        hidden: int = typer.Option(1, "--hidden", min=1, help="number of hidden layers H"),
        width: int = typer.Option(1, "--width", min=1, help="hidden width d"),
        dx: int = typer.Option(1, "--dx", min=1),
        dy: int = typer.Option(1, "--dy", min=1),
        reg: Optional[float] = typer.Option(None, "--reg", help="uniform regularisation (default: generic random rationals)"),
        seed: int = typer.Option(0, "--seed", min=0),
        out: Optional[str] = typer.Option(None, "--out", help=OUT_HELP),
        json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
        quiet: bool = typer.Option(False, "--quiet", help=QUIET_HELP),
    ) -> None:
        """All critical points of a regularised deep linear net (one data point) by Gröbner bases."""
        from ...algebraic import linear_net_critical_points

        cfg = {"hidden": hidden, "width": width, "dx": dx, "dy": dy, "reg": reg, "seed": seed}
        res = linear_net_critical_points(hidden, width, dx, dy, seed=seed, regularization=reg)
        finish("critical", res.to_dict(), config=cfg, out=out, json_out=json_out, quiet=quiet)
