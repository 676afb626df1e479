"""``tamelab study NAME``: the empirical studies of the tame-optimisation papers, each with a plot.

* ``relu-prime-zero`` — Bertoin, Bolte, Gerchinovitz & Pauwels (NeurIPS 2021): precision × ReLU'(0) on digits.
* ``adam-vs-nag`` — De, Mukherjee & Ullah (arXiv:1807.06766): Adam (large β1) vs NAG vs RMSProp on a digits autoencoder.
"""

from __future__ import annotations

from typing import Any, Optional

import typer

from .._common import JSON_HELP, OUT_HELP, QUIET_HELP, finish, parse_floats, parse_ints


def relu_prime_zero_task(config: dict[str, Any]) -> dict[str, Any]:
    from ...tame import relu_prime_zero_study

    return relu_prime_zero_study(config).to_dict()


def adam_vs_nag_task(config: dict[str, Any]) -> dict[str, Any]:
    from ...tame import adam_vs_nag_study

    return adam_vs_nag_study(config).to_dict()


def _figure(kind: str, res: dict[str, Any]) -> dict[str, bytes]:
    from ...atlas import fig_to_png

    if kind == "relu-prime-zero":
        from ...tame import plot_relu_prime_zero

        return {"relu_prime_zero.png": fig_to_png(plot_relu_prime_zero(res))}
    from ...tame import plot_adam_vs_nag

    return {"adam_vs_nag.png": fig_to_png(plot_adam_vs_nag(res))}


def register(app: typer.Typer) -> None:
    from ...parallel import register_task

    register_task("study-relu-prime-zero", relu_prime_zero_task)
    register_task("study-adam-vs-nag", adam_vs_nag_task)
    study = typer.Typer(help="Reproduce a paper's empirical study (writes result.json and a figure).", no_args_is_help=True)
    app.add_typer(study, name="study")

    @study.command("relu-prime-zero")
    def relu_prime_zero_cmd(
        seeds: str = typer.Option("0,1,2", "--seeds", help="comma-separated training seeds"),
        epochs: Optional[int] = typer.Option(None, "--epochs", min=1),
        dtypes: str = typer.Option("float16,float32,float64", "--dtypes", help="float16 (emulated), bfloat16, float32, float64"),
        s_values: str = typer.Option("0,1", "--s-values", help="values of ReLU'(0) to compare, in [0, 1]"),
        quick: bool = typer.Option(False, "--quick", help="CI-sized: fewer seeds, epochs and samples"),
        out: Optional[str] = typer.Option(None, "--out", help=OUT_HELP),
        json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
        quiet: bool = typer.Option(False, "--quiet", help=QUIET_HELP),
    ) -> None:
        """Train the same net with ReLU'(0)=0 and =1 in several precisions; count kinks hit; compare curves."""
        cfg: dict[str, Any] = {"seeds": parse_ints(seeds, field="--seeds"), "dtypes": [d.strip() for d in dtypes.split(",") if d.strip()],
                               "s_values": parse_floats(s_values, field="--s-values"), "quick": quick}
        if epochs is not None:
            cfg["epochs"] = epochs
        res = relu_prime_zero_task(cfg)
        finish("study-relu-prime-zero", res, config=cfg, out=out, json_out=json_out, quiet=quiet,
               figures=_figure("relu-prime-zero", res))

    @study.command("adam-vs-nag")
    def adam_vs_nag_cmd(
        seeds: str = typer.Option("0,1,2", "--seeds", help="comma-separated seeds"),
        epochs: Optional[int] = typer.Option(None, "--epochs", min=1),
        hidden: Optional[str] = typer.Option(None, "--hidden", help="autoencoder hidden widths, e.g. 32,16,32"),
        quick: bool = typer.Option(False, "--quick", help="CI-sized run"),
        out: Optional[str] = typer.Option(None, "--out", help=OUT_HELP),
        json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
        quiet: bool = typer.Option(False, "--quiet", help=QUIET_HELP),
    ) -> None:
        """Adam with β1 = 0.99 vs NAG vs RMSProp on a digits autoencoder (learning rates tuned per method)."""
        cfg: dict[str, Any] = {"seeds": parse_ints(seeds, field="--seeds"), "quick": quick}
        if epochs is not None:
            cfg["epochs"] = epochs
        if hidden:
            cfg["hidden"] = parse_ints(hidden, field="--hidden")
        res = adam_vs_nag_task(cfg)
        finish("study-adam-vs-nag", res, config=cfg, out=out, json_out=json_out, quiet=quiet, figures=_figure("adam-vs-nag", res))
