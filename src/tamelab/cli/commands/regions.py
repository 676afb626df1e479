"""``tamelab regions MODEL (--box LO,HI | --plane "x0;x1;x2" | --segment "a;b")``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from .._common import JSON_HELP, OUT_HELP, QUIET_HELP, finish, parse_floats


def _points(text: str, field: str, n: int) -> list[list[float]]:
    from ...errors import InputError

    parts = [p for p in text.split(";") if p.strip()]
    if len(parts) != n:
        raise InputError(field, f"expected {n} points separated by ';', got {len(parts)}", 'e.g. "0,0;1,0;0,1"')
    return [parse_floats(p, field=field) for p in parts]


def regions_task(config: dict[str, Any]) -> dict[str, Any]:
    from ...errors import InputError
    from ...models import load, widths_of
    from ...relu import Box, Plane, Segment, regions

    model = load(config["model"])
    d = widths_of(model)[0]
    given = [k for k in ("box", "plane", "segment") if config.get(k)]
    if len(given) != 1:
        raise InputError("domain", "give exactly one of --box, --plane, --segment")
    if config.get("box"):
        lo, hi = parse_floats(config["box"], field="--box", n=2)
        if not lo < hi:
            raise InputError("--box", f"need LO < HI, got {lo}, {hi}")
        dom = Plane.box2d(lo, hi) if d == 2 else (Box(lo, hi, d) if d > 2 else Segment([lo], [hi]))
    elif config.get("plane"):
        x0, x1, x2 = _points(config["plane"], "--plane", 3)
        for p in (x0, x1, x2):
            if len(p) != d:
                raise InputError("--plane", f"points need {d} coordinates")
        dom = Plane.through(x0, x1, x2, margin=float(config.get("margin", 0.25)))
    else:
        a, b = _points(config["segment"], "--segment", 2)
        dom = Segment(a, b)
    r = regions(model, dom, mode=config.get("mode", "float"))
    out = r.to_dict()
    out["_regions"] = r
    return out


def register(app: typer.Typer) -> None:
    from ...parallel import register_task

    register_task("regions", lambda c: {k: v for k, v in regions_task(c).items() if k != "_regions"})

    @app.command("regions")
    def regions_cmd(
        model: Path = typer.Argument(..., help="ReLU MLP (.safetensors)"),
        box: Optional[str] = typer.Option(None, "--box", help="LO,HI: the box [LO,HI]^d (d=2: exact plane splitting; d>2: LP traversal)"),
        plane: Optional[str] = typer.Option(None, "--plane", help='"x0;x1;x2": the plane through three inputs'),
        segment: Optional[str] = typer.Option(None, "--segment", help='"a;b": the segment from a to b'),
        mode: str = typer.Option("float", "--mode", help="float | exact (rational arithmetic; segment/plane)"),
        plot: Optional[Path] = typer.Option(None, "--plot", help="PNG of the partition with the decision boundary (2-D)"),
        data: Optional[str] = typer.Option(None, "--data", help="draw these data points on the plot (2-D inputs)"),
        out: Optional[str] = typer.Option(None, "--out", help=OUT_HELP),
        json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
        quiet: bool = typer.Option(False, "--quiet", help=QUIET_HELP),
    ) -> None:
        """Count activation and linear regions exactly, next to every known bound."""
        cfg = {"model": str(model), "box": box, "plane": plane, "segment": segment, "mode": mode}
        res = regions_task(cfg)
        r = res.pop("_regions")
        figs = {}
        if plot:
            from ...atlas import fig_to_png
            from ...relu._plot import plot_partition

            X = None
            if data:
                from ...data import load_data

                X = load_data(data, split="all").X
            figs["partition.png"] = fig_to_png(plot_partition(r, X=X if (X is not None and X.shape[1] == 2 and box) else None))
            Path(plot).write_bytes(figs["partition.png"])
        finish("regions", res, config=cfg, out=out, json_out=json_out, quiet=quiet, figures=figs)

    register_tropical(app)


def tropical_task(config: dict[str, Any]) -> dict[str, Any]:
    from ...models import load
    from ...relu import tropical

    form = tropical(load(config["model"]), prune=bool(config.get("prune", True)), seed=int(config.get("seed", 0)))
    out = form.to_dict()
    if config.get("cells"):
        out["cells"] = [form.cells(k) for k in range(len(form.F))]
    if config.get("monomials"):
        out["F"] = [{"exponents": p.exponents.tolist(), "coeffs": p.coeffs.tolist()} for p in form.F]
        out["G"] = [{"exponents": p.exponents.tolist(), "coeffs": p.coeffs.tolist()} for p in form.G]
    return out


def register_tropical(app: typer.Typer) -> None:
    from ...parallel import register_task

    register_task("tropical", tropical_task)

    @app.command("tropical")
    def tropical_cmd(
        model: Path = typer.Argument(..., help="ReLU MLP (.safetensors)"),
        prune: bool = typer.Option(True, "--prune/--no-prune", help="drop dominated monomials after every layer"),
        cells: bool = typer.Option(False, "--cells", help="also count the cells of the common refinement of F and G (one LP per pair)"),
        monomials: bool = typer.Option(False, "--monomials", help="include every monomial (exponents, coefficients) in the JSON"),
        seed: int = typer.Option(0, "--seed", min=0, help="seed of the random points of the F - G = f check"),
        out: Optional[str] = typer.Option(None, "--out", help=OUT_HELP),
        json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
        quiet: bool = typer.Option(False, "--quiet", help=QUIET_HELP),
    ) -> None:
        """Tropical form F - G of a ReLU network (Zhang–Naitzat–Lim): monomial counts, upper-hull check, identity error."""
        cfg = {"model": str(model), "prune": prune, "cells": cells, "monomials": monomials, "seed": seed}
        finish("tropical", tropical_task(cfg), config=cfg, out=out, json_out=json_out, quiet=quiet)
