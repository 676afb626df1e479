"""Command-line commands built from task configs: argument parsing over :mod:`tamelab.tasks`, nothing else.

Every field of a task's config becomes an option (``top_k`` → ``--top-k``; booleans
``--trace/--no-trace``; list fields as ``64,64,10`` or a repeated option) or, for the model/data a
command is about, a positional argument (also accepted as ``--model`` / ``--data``). Every command
also takes ``--config FILE.toml`` (the same fields as TOML keys), ``--out``, ``--json``, ``--quiet``
and, where the task draws a figure, ``--plot FILE.png``.

Precedence is explicit flag > config file > default, for every field: options default to "not
given", so a default can never override the file. Values are validated by the task's config (one
line naming the option, or the TOML field when the value came from the file).
"""

from __future__ import annotations

import inspect
import sys
from typing import Any, Callable, Optional

import typer

from ..errors import InputError
from ..tasks import Task, get_task
from ..tasks._spec import TaskConfig, cli_meta

__all__ = [
    "add_task_command",
    "run_from_cli",
    "merge_sources",
    "print_payload",
    "OUT_HELP",
    "JSON_HELP",
    "QUIET_HELP",
    "CONFIG_HELP",
]

OUT_HELP = "run directory to write (default: runs/<command>-<config hash>)"
JSON_HELP = "print the result as JSON on stdout"
QUIET_HELP = "no progress bars or summaries"
CONFIG_HELP = "TOML file with the command's fields (flags given here win over it)"


def _default_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return ""
    if isinstance(v, (list, tuple)):
        return ",".join(str(x) for x in v) if v else ""
    return str(v)


def _help(cfg: type[TaskConfig], name: str) -> str:
    f = cfg.model_fields[name]
    text = f.description or getattr(cfg, "HELP", {}).get(name, "")
    default = None if f.is_required() else f.default
    shown = _default_text(default)
    return f"{text} [default: {shown}]" if shown else text


def _metavar(ann: Any) -> str:
    """What a value looks like in ``--help``: ``N``, ``X``, ``a|b``, ``A,B,...`` or ``TEXT``."""
    import typing

    args = [a for a in typing.get_args(ann) if a is not type(None)]
    if typing.get_origin(ann) in (typing.Union, getattr(__import__("types"), "UnionType", None)) and len(args) == 1:
        ann = args[0]
    if typing.get_origin(ann) is typing.Literal:
        return "|".join(str(a) for a in typing.get_args(ann))
    if typing.get_origin(ann) in (list, tuple):
        inner = typing.get_args(ann)
        return "A,B,..." if not inner or typing.get_origin(inner[0]) is not list else '"A;B;..."'
    return {int: "N", float: "X"}.get(ann, "TEXT")


def _params(cfg: type[TaskConfig]) -> tuple[list[inspect.Parameter], dict[str, str]]:
    """The typer parameters of a config (positional, own fields, shared fields) and ``{parameter: field}``."""
    params: list[inspect.Parameter] = []
    fields: dict[str, str] = {}
    own = set(getattr(cfg, "__annotations__", {}))
    names = [n for n in cfg.model_fields if cli_meta(cfg, n)["cli"]]
    names.sort(key=lambda n: (not cli_meta(cfg, n)["positional"], n not in own))
    kw = inspect.Parameter.KEYWORD_ONLY
    for name in names:
        meta = cli_meta(cfg, name)
        ann = cfg.model_fields[name].annotation
        pname = f"f_{name}"
        fields[pname] = name
        help_text = _help(cfg, name)
        flag = "--" + name.replace("_", "-") if meta["positional"] else cfg.flag(name)
        if meta["positional"]:
            params.append(
                inspect.Parameter(
                    pname,
                    kw,
                    annotation=Optional[str],
                    default=typer.Argument(
                        None, metavar=meta["metavar"] or name.upper(), help=help_text, show_default=False
                    ),
                )
            )
            alias = f"a_{name}"
            fields[alias] = name
            params.append(
                inspect.Parameter(
                    alias,
                    kw,
                    annotation=Optional[str],
                    default=typer.Option(
                        None,
                        flag,
                        help=f"the same as {meta['metavar'] or name.upper()}",
                        show_default=False,
                        metavar=meta["metavar"] or name.upper(),
                    ),
                )
            )
        elif ann is bool or ann == Optional[bool]:
            params.append(
                inspect.Parameter(
                    pname,
                    kw,
                    annotation=Optional[bool],
                    default=typer.Option(
                        None, f"{flag}/--no-{flag.removeprefix('--')}", help=help_text, show_default=False
                    ),
                )
            )
        elif meta["multiple"]:
            params.append(
                inspect.Parameter(
                    pname,
                    kw,
                    annotation=Optional[list[str]],
                    default=typer.Option(
                        None,
                        flag,
                        help=help_text + " (repeatable)",
                        show_default=False,
                        metavar=meta["metavar"] or "TEXT",
                    ),
                )
            )
        else:
            params.append(
                inspect.Parameter(
                    pname,
                    kw,
                    annotation=Optional[str],
                    default=typer.Option(
                        None, flag, help=help_text, show_default=False, metavar=meta["metavar"] or _metavar(ann)
                    ),
                )
            )
    return params, fields


def _common_params(task: Task) -> list[inspect.Parameter]:
    kw = inspect.Parameter.KEYWORD_ONLY
    ps = [
        inspect.Parameter(
            "o_config",
            kw,
            annotation=Optional[str],
            default=typer.Option(None, "--config", help=CONFIG_HELP, metavar="FILE.toml"),
        ),
        inspect.Parameter(
            "o_out", kw, annotation=Optional[str], default=typer.Option(None, "--out", help=OUT_HELP, metavar="DIR")
        ),
    ]
    if task.figures is not None:
        ps.append(
            inspect.Parameter(
                "o_format",
                kw,
                annotation=str,
                default=typer.Option("png", "--format", help="figure format: png | svg | pdf", metavar="png|svg|pdf"),
            )
        )
        ps.append(
            inspect.Parameter(
                "o_plot",
                kw,
                annotation=Optional[str],
                default=typer.Option(None, "--plot", help="also write the figure to this PNG file", metavar="FILE.png"),
            )
        )
    ps += [
        inspect.Parameter(
            "o_check",
            kw,
            annotation=bool,
            default=typer.Option(
                False, "--check", help="validate the fields and output paths, print the resolved config; run nothing"
            ),
        ),
        inspect.Parameter("o_json", kw, annotation=bool, default=typer.Option(False, "--json", help=JSON_HELP)),
        inspect.Parameter("o_quiet", kw, annotation=bool, default=typer.Option(False, "--quiet", help=QUIET_HELP)),
    ]
    return ps


def add_task_command(app: typer.Typer, task_name: str, *, name: str | None = None) -> None:
    """Add the command for task ``task_name`` to ``app`` (as ``name``, default the task's name)."""
    task = get_task(task_name)
    params, fields = _params(task.config)
    params += _common_params(task)

    def command(**kw: Any) -> None:
        task = get_task(task_name)  # looked up when run: a task re-registered later is the one that runs
        values: dict[str, Any] = {}
        spelled: dict[str, str] = {}
        for pname, field in fields.items():
            v = kw.get(pname)
            if v is None or (isinstance(v, (list, tuple)) and not v):
                continue
            if field in values and values[field] != v:
                raise InputError(
                    task.config.flag(field),
                    f"given twice with different values ({values[field]!r}, {v!r})",
                    "give it once",
                )
            values[field] = list(v) if isinstance(v, (list, tuple)) else v
            if pname.startswith("a_"):  # the option form of a positional argument (--model for MODEL)
                spelled[field] = "--" + field.replace("_", "-")
        run_from_cli(
            task,
            values,
            config=kw.get("o_config"),
            out=kw.get("o_out"),
            plot=kw.get("o_plot"),
            json_out=bool(kw.get("o_json")),
            quiet=bool(kw.get("o_quiet")),
            check=bool(kw.get("o_check")),
            spelled=spelled,
            figure_format=str(kw.get("o_format") or "png"),
        )

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    command.__doc__ = task.help or (task.config.__doc__ or "").strip()
    command.__name__ = f"{(name or task.name).replace('-', '_')}_cmd"
    app.command(name or task.name, help=command.__doc__)(command)


def merge_sources(
    task: Task, values: dict[str, Any], config: str | None, spelled: dict[str, str] | None = None
) -> tuple[dict[str, Any], Callable[[str], str]]:
    """The fields to validate (flag > ``--config`` file; defaults fill the rest) and how to name each.

    A field is named by its option when it was given on the command line (or defaulted), and by its
    TOML key when it came from the file.
    """
    from ..config import load_toml

    file_data = load_toml(config) if config else {}
    data = {**file_data, **values}

    def name(field: str) -> str:
        if field in values or field not in file_data:
            return (spelled or {}).get(field) or task.config.flag(field)
        return f"{config} field '{field}'"

    return data, name


def run_from_cli(
    task: Task,
    values: dict[str, Any],
    *,
    config: str | None,
    out: str | None,
    plot: str | None,
    json_out: bool,
    quiet: bool,
    check: bool = False,
    spelled: dict[str, str] | None = None,
    figure_format: str = "png",
) -> dict[str, Any]:
    """Merge flag > ``--config`` file > default, run the task into its run directory, print the result.

    With ``check`` only validate (fields, resource guards, output paths) and print the resolved config.
    """
    from .._progress import set_quiet
    from ..tasks import prepare, run_task

    set_quiet(quiet or json_out)
    data, name = merge_sources(task, values, config, spelled)
    source = str(config) if config else "command line"
    if check:
        _, cfg, out_dir = prepare(task, data, out=out, plot=plot, source=source, name=name)
        payload = {"command": task.name, "config": cfg.model_dump(mode="json"), "run_dir": str(out_dir), "ok": True}
        print_payload(task.name, payload, json_out=True, quiet=quiet)
        return payload
    run = run_task(task, data, out=out, plot=plot, source=source, name=name, figure_format=figure_format)
    payload = run.to_dict()
    print_payload(task.name, payload, json_out=json_out, quiet=quiet)
    return payload


def print_payload(command: str, payload: dict[str, Any], *, json_out: bool, quiet: bool) -> None:
    """``--json``: the result document on stdout; otherwise a short table (unless ``--quiet``)."""
    from ..runstore import dumps

    if json_out:
        sys.stdout.write(dumps(payload))
    elif not quiet:
        _summary(command, payload)


def _summary(command: str, payload: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"tamelab {command}", show_header=False)
    for k, v in payload.items():
        if isinstance(v, (int, float, str, bool)) or v is None:
            t.add_row(str(k), str(v))
        elif isinstance(v, list) and len(v) <= 8 and all(isinstance(x, (int, float, str)) for x in v):
            t.add_row(str(k), ", ".join(f"{x:.6g}" if isinstance(x, float) else str(x) for x in v))
    Console(stderr=False).print(t)


def task_group(app: typer.Typer, group: str, help: str, members: dict[str, str]) -> None:
    """A sub-command group (``tamelab construct chen-ewald``) over the tasks in ``members`` (command → task)."""
    sub = typer.Typer(help=help, no_args_is_help=True)
    app.add_typer(sub, name=group)
    for cmd, task in members.items():
        add_task_command(sub, task, name=cmd)
