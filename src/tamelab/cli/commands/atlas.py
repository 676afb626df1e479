"""``tamelab atlas`` and ``tamelab report``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer

from .._common import JSON_HELP, QUIET_HELP

# [train] fields that only describe the built-in MLP (refused with --model when the user sets them)
_BUILTIN_ONLY = ("widths",)


def _merge_config(config: Optional[Path]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(default config with the user's file merged in, the user's own [train] table)."""
    from ...atlas import default_config
    from ...config import load_toml
    from ...errors import InputError

    data = default_config()
    user_train: dict[str, Any] = {}
    if config is not None:
        user = load_toml(config)
        if "train" in user and not isinstance(user["train"], dict):
            raise InputError(
                f"{config} field 'train'", "must be a table", "write [train] with its fields"
            )
        user_train = dict(user.get("train", {}))
        data = {**data, **user, "train": {**data.get("train", {}), **user_train}}
    return data, user_train


def _split_list(v: Optional[str]) -> Optional[list[str]]:
    return None if v is None else [s.strip() for s in v.split(",") if s.strip()]


def register(app: typer.Typer) -> None:
    """Add the ``atlas`` command to ``app``."""
    @app.command("atlas")
    def atlas_cmd(
        config: Optional[Path] = typer.Option(
            None, "--config", help="TOML config (default: the shipped default.toml)"
        ),
        out: Path = typer.Option(Path("runs/atlas"), "--out", help="run directory to write"),
        model: Optional[str] = typer.Option(
            None,
            "--model",
            help="your model: package.module:factory (default: the built-in MLP of the config)",
        ),
        weights: Optional[Path] = typer.Option(
            None, "--weights", help="safetensors weights loaded into --model"
        ),
        init_weights: Optional[Path] = typer.Option(
            None,
            "--init-weights",
            help="the --model's weights at "
            "initialisation (with --no-train: the PAC-Bayes prior's start)",
        ),
        data: Optional[str] = typer.Option(
            None,
            "--data",
            help="digits | mnist1d | a generator | FILE.npz | an image "
            "folder (overrides the config)",
        ),
        no_train: bool = typer.Option(
            False, "--no-train", help="atlas the --model as given (already trained)"
        ),
        loss: Optional[str] = typer.Option(
            None, "--loss", help="loss name (cross_entropy, mse, nll, ...)"
        ),
        device: Optional[str] = typer.Option(None, "--device", help="cpu | cuda | cuda:N | auto"),
        dtype: Optional[str] = typer.Option(None, "--dtype", help="float32 | float64"),
        fmt: str = typer.Option(
            "png", "--format", help="also write every figure as svg or pdf (png: PNG only)"
        ),
        quick: bool = typer.Option(False, "--quick", help="CI-sized sections"),
        sections: Optional[str] = typer.Option(
            None, "--sections", help="comma-separated section ids to run"
        ),
        skip: Optional[str] = typer.Option(
            None, "--skip", help="comma-separated section ids to skip"
        ),
        seed: Optional[int] = typer.Option(
            None, "--seed", min=0, help="training seed (overrides the config)"
        ),
        epochs: Optional[int] = typer.Option(
            None, "--epochs", min=1, help="training epochs (overrides the config)"
        ),
        json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
        quiet: bool = typer.Option(False, "--quiet", help=QUIET_HELP),
    ) -> None:
        """Write the geometric atlas (DIR/report.html) of the built-in MLP or of your --model."""
        from ..._progress import set_quiet
        from ...atlas import AtlasConfig
        from ...config import validate
        from ...errors import InputError
        from ...runstore import dumps

        set_quiet(quiet or json_out)
        src = str(config) if config else "atlas config"
        cfg_data, user_train = _merge_config(config)
        if fmt not in ("png", "svg", "pdf"):
            raise InputError("--format", f"unknown figure format {fmt!r}", "use png, svg or pdf")
        if model is None:
            for flag, given in (
                ("--no-train", no_train),
                ("--weights", weights is not None),
                ("--init-weights", init_weights is not None),
            ):
                if given:
                    raise InputError(
                        flag, "only applies with --model", "pass --model package.module:factory"
                    )
        if quick:
            cfg_data["quick"] = True
        if sections is not None:
            cfg_data["sections"] = _split_list(sections)
        if skip is not None:
            cfg_data["skip"] = _split_list(skip)
        cfg_data["format"] = fmt
        for key, val in (
            ("seed", seed),
            ("epochs", epochs),
            ("data", data),
            ("loss", loss),
            ("device", device),
            ("dtype", dtype),
        ):
            if val is not None:
                cfg_data["train"][key] = val
        if model is not None:
            # the loss may be any registered name with --model; validate the rest of the config as usual
            loss_name = cfg_data["train"].pop("loss", "cross_entropy")
            bad = [k for k in _BUILTIN_ONLY if k in user_train]
            if bad:
                raise InputError(
                    f"{src} field 'train.{bad[0]}'",
                    "describes the built-in MLP",
                    "remove it when atlassing --model",
                )
            cfg = validate(AtlasConfig, cfg_data, source=src)
            if init_weights is not None and not no_train:
                raise InputError(
                    "--init-weights",
                    "only applies with --no-train",
                    "without --no-train the atlas trains the model and knows its initialisation",
                )
            res = _atlas_of_model(
                cfg,
                model=model,
                weights=weights,
                init_weights=init_weights,
                loss=loss_name,
                no_train=no_train,
                out=out,
            )
        else:
            from ...atlas import run_atlas

            cfg = validate(AtlasConfig, cfg_data, source=src)
            res = run_atlas(cfg, out=out)
        payload = {**res, "run_dir": str(out)}
        if json_out:
            sys.stdout.write(dumps(payload))
        elif not quiet:
            from rich.console import Console
            from rich.table import Table

            t = Table(title=f"tamelab atlas → {out / 'report.html'}")
            for c in ("section", "status", "seconds"):
                t.add_column(c)
            for s in res["sections"]:
                t.add_row(s["title"], s["status"].replace("_", " "), f"{s['seconds']:.1f}")
            Console().print(t)

    @app.command("report")
    def report_cmd(
        run_dir: Path = typer.Argument(..., help="a run directory written by any tamelab command"),
        out: Optional[Path] = typer.Option(
            None, "--out", help="output HTML (default RUN_DIR/report.html)"
        ),
    ) -> None:
        """Render RUN_DIR/report.html from the saved run directory."""
        from ...report import write_report

        p = write_report(run_dir, out)
        typer.echo(str(p))


def _atlas_of_model(
    cfg,
    *,
    model: str,
    weights: Optional[Path],
    init_weights: Optional[Path],
    loss: str,
    no_train: bool,
    out: Path,
) -> dict[str, Any]:
    """``--model``: load the factory model (and weights), load the data, call :func:`tamelab.atlas.atlas`."""
    from ...atlas import TrainSettings, atlas
    from ...data import load_data
    from ...models import load_model

    t = cfg.train
    kw: dict[str, Any] = {"seed": t.split_seed, "test_fraction": t.test_fraction}
    if t.n_samples is not None:
        kw["n"] = t.n_samples
    train = load_data(t.data, split="train", **kw)
    test = load_data(t.data, split="test", **kw)
    m = load_model(model, weights=str(weights) if weights is not None else None)
    init = (
        load_model(model, weights=str(init_weights), field="--init-weights")
        if init_weights is not None
        else None
    )
    settings = (
        False
        if no_train
        else TrainSettings(
            optimizer=t.optimizer,
            lr=t.lr,
            epochs=t.epochs,
            batch_size=t.batch_size,
            snapshot_every=t.snapshot_every,
        )
    )
    res = atlas(
        m,
        train,
        test,
        loss=loss,
        out=out,
        device=t.device,
        dtype=t.dtype,
        train_first=settings,
        init_model=init,
        sections=cfg.sections or None,
        skip=cfg.skip or None,
        quick=cfg.quick,
        seed=t.seed,
        format=cfg.format,
        name=str(t.data),
    )
    return res.to_dict()
