"""``tamelab construct chen-ewald``: explicit zero-cost minimizers of deep ReLU nets on clustered data."""

from __future__ import annotations

from typing import Any, Optional

import typer

from .._common import JSON_HELP, OUT_HELP, QUIET_HELP, finish


def chen_ewald_task(config: dict[str, Any]) -> dict[str, Any]:
    """Pure task: build the Chen–Muñoz Ewald minimizer on seeded clustered data and analyse it."""
    from ...errors import InputError
    from ...exact.chen2023ewald import chen_ewald

    q, layers = int(config["q"]), int(config["layers"])
    if q < 2:
        raise InputError("--q", f"need at least 2 classes, got {q}", "pass --q 2 or more")
    if layers < q:
        raise InputError("--layers", f"L = {layers} < Q = {q}: the construction collapses one class per layer (needs L >= Q)",
                         f"pass --layers {q} or more")
    if int(config["per_class"]) < 1:
        raise InputError("--per-class", f"must be >= 1, got {config['per_class']}")
    if not float(config["radius"]) >= 0:
        raise InputError("--radius", f"must be >= 0, got {config['radius']}")
    conf = config.get("configurations")
    res = chen_ewald(q, layers, int(config["per_class"]), float(config["radius"]), seed=int(config.get("seed", 0)),
                     order=config.get("order", "auto"), alpha=float(config.get("alpha", 0.2)),
                     margin=float(config.get("margin", 0.05)), configurations=None if conf is None else bool(conf),
                     gd_runs=int(config.get("gd_runs", 5)), gd_steps=int(config.get("gd_steps", 1000)))
    if not res.ok and res.assumption and not res.assumption.get("passes", True):
        why = res.assumption["failures"][-1]["reason"] if res.assumption.get("failures") else "no order passes"
        raise InputError("--radius", f"clustering assumption fails: {why}", "use a smaller --radius (clusters must be small and separated)")
    return res.to_dict()


def register(app: typer.Typer) -> None:
    from ...parallel import register_task

    register_task("construct-chen-ewald", chen_ewald_task)
    construct_app = typer.Typer(help="Explicit constructions of global minimizers, with certificates.", no_args_is_help=True)
    app.add_typer(construct_app, name="construct")

    @construct_app.command("chen-ewald")
    def chen_ewald_cmd(
        q: int = typer.Option(3, "--q", help="number of classes Q (= input dim = width = output dim)"),
        layers: int = typer.Option(3, "--layers", help="hidden layers L (needs L >= Q)"),
        per_class: int = typer.Option(20, "--per-class", help="points per class (N = Q * per_class in total)"),
        radius: float = typer.Option(0.04, "--radius", help="class radius delta = max |x - class mean|"),
        order: str = typer.Option("auto", "--order", help="class order: auto | identity | greedy | search"),
        alpha: float = typer.Option(0.2, "--alpha", help="apex distance fraction in (0,1)"),
        margin: float = typer.Option(0.05, "--margin", help="cone angle margin (radians)"),
        configurations: Optional[bool] = typer.Option(None, "--configurations/--no-configurations",
                                                      help="analyse all 2^Q collapse subsets (default: when 2^Q <= 16)"),
        gd_runs: int = typer.Option(5, "--gd-runs", min=0, help="Adam runs from random inits for comparison"),
        gd_steps: int = typer.Option(1000, "--gd-steps", min=1),
        seed: int = typer.Option(0, "--seed", min=0),
        out: Optional[str] = typer.Option(None, "--out", help=OUT_HELP),
        json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
        quiet: bool = typer.Option(False, "--quiet", help=QUIET_HELP),
    ) -> None:
        """Construct the Chen–Muñoz Ewald zero-cost minimizer (arXiv:2309.10639) and certify it."""
        from ..._progress import set_quiet

        set_quiet(quiet or json_out)
        cfg = {"q": q, "layers": layers, "per_class": per_class, "radius": radius, "order": order, "alpha": alpha,
               "margin": margin, "configurations": configurations, "gd_runs": gd_runs, "gd_steps": gd_steps, "seed": seed}
        finish("construct-chen-ewald", chen_ewald_task(cfg), config=cfg, out=out, json_out=json_out, quiet=quiet)
