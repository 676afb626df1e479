"""The ``tamelab`` command: argument parsing over :mod:`tamelab.tasks`.

Commands are discovered from ``tamelab/cli/commands/``: each module defines ``register(app)``;
every registered task without a hand-written command gets one built from its config
(:mod:`tamelab.cli._build`). Errors are one line on stderr: exit 2 for bad input (including an
unknown option, with the ``--help`` hint), 1 for a failed computation, 130 for Ctrl-C
(``interrupted``; a run with a checkpoint stays resumable).

This module imports nothing heavy at import time, so Ctrl-C during start-up is caught too.
"""

from __future__ import annotations

import sys
from typing import Any, Optional

__all__ = ["main", "build_app"]

_APP: Any = None


def _version_callback(value: bool) -> None:
    if value:
        import typer

        from .. import __version__

        typer.echo(f"tamelab {__version__}")
        raise typer.Exit()


def build_app() -> Any:
    """The Typer app with every command registered (built once)."""
    global _APP
    if _APP is not None:
        return _APP
    import importlib
    import pkgutil

    import typer

    app = typer.Typer(
        name="tamelab",
        help="TameLab: computable, checkable geometry of deep networks.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )

    @app.callback()
    def _root(
        version: Optional[bool] = typer.Option(
            None, "--version", is_eager=True, callback=_version_callback, help="print the version and exit"
        ),
    ) -> None:
        """TameLab: computable, checkable geometry of deep networks."""

    from . import commands

    for mod in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: (m.name == "tasks", m.name)):
        m = importlib.import_module(f"{commands.__name__}.{mod.name}")
        reg = getattr(m, "register", None)
        if reg is not None:
            reg(app)
    _APP = app
    return app


def __getattr__(name: str) -> Any:
    if name == "app":
        return build_app()
    raise AttributeError(name)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _run(argv: list[str]) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import typer
    import typer.main

    from ..errors import TameLabError

    try:
        import typer._click.exceptions as cx
    except ImportError:  # pragma: no cover - older typer: plain click
        import click.exceptions as cx  # type: ignore[no-redef]
    exits = tuple({typer.Exit, *(m.Exit for m in (cx,) if hasattr(m, "Exit"))})
    aborts = tuple({typer.Abort, *(m.Abort for m in (cx,) if hasattr(m, "Abort"))})

    cmd = typer.main.get_command(build_app())
    try:
        with cmd.make_context("tamelab", list(argv)) as ctx:
            rv = cmd.invoke(ctx)
    except exits as e:
        return int(getattr(e, "exit_code", 0) or 0)
    except cx.NoArgsIsHelpError as e:
        print(e.format_message())
        return 0
    except cx.UsageError as e:
        print(f"error: {_one_line(e.format_message())} (see '{_command_path(cmd, argv)} --help')", file=sys.stderr)
        return 2
    except aborts as e:
        if isinstance(e.__context__, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        print("error: aborted", file=sys.stderr)
        return 1
    except cx.ClickException as e:
        print(f"error: {_one_line(e.format_message())}", file=sys.stderr)
        return int(e.exit_code)
    except TameLabError as e:
        print(f"error: {_one_line(str(e))}", file=sys.stderr)
        return int(e.exit_code)
    return rv if isinstance(rv, int) else 0


def _command_path(group: Any, argv: list[str]) -> str:
    """``tamelab <command> [<sub-command>]`` as far as ``argv`` names existing (sub-)commands."""
    path, cur = ["tamelab"], group
    for tok in argv:
        sub = getattr(cur, "commands", None)
        if not sub or tok not in sub:
            break
        path.append(tok)
        cur = sub[tok]
    return " ".join(path)


def _show_warning(
    message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: str | None = None
) -> None:
    print(f"warning: {_one_line(str(message))}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run ``tamelab`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    import warnings

    args = sys.argv[1:] if argv is None else list(argv)
    previous = warnings.showwarning
    try:
        warnings.showwarning = _show_warning
        return _run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = previous


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
