"""The ``tamelab`` command: a thin Typer app over plain Python functions.

Commands are discovered from ``tamelab/cli/commands/``: each module defines
``register(app)``. Errors: one line on stderr; exit 2 for bad input, 1 for a
failed computation.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

from ..errors import TameLabError

app = typer.Typer(
    name="tamelab",
    help="TameLab: computable, checkable geometry of deep networks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _root() -> None:
    """TameLab: computable, checkable geometry of deep networks."""


def _register_all() -> None:
    from . import commands

    for mod in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        m = importlib.import_module(f"{commands.__name__}.{mod.name}")
        reg = getattr(m, "register", None)
        if reg is not None:
            reg(app)


_register_all()


def _click_modules():
    """Typer >= 0.25 vendors click as ``typer._click``; older ones use ``click``."""
    mods = []
    try:
        import typer._click.exceptions as vendored

        mods.append(vendored)
    except ImportError:  # pragma: no cover
        pass
    try:
        import click.exceptions as plain

        mods.append(plain)
    except ImportError:  # pragma: no cover
        pass
    return mods


_CM = _click_modules()
_EXIT = tuple({getattr(m, "Exit") for m in _CM if hasattr(m, "Exit")} | {typer.Exit})
_CLICK_EXC = tuple({m.ClickException for m in _CM})
_ABORT = tuple({getattr(m, "Abort") for m in _CM if hasattr(m, "Abort")} | {typer.Abort})


def main(argv: list[str] | None = None) -> int:
    from .._threads import configure_threads

    configure_threads()  # one thread policy, before torch loads (tamelab._threads)
    import matplotlib

    matplotlib.use("Agg")
    try:
        rv = app(args=argv, prog_name="tamelab", standalone_mode=False)
    except _EXIT as e:
        return int(e.exit_code)
    except _CLICK_EXC as e:
        e.show()
        return int(e.exit_code)
    except _ABORT:
        print("error: aborted", file=sys.stderr)
        return 1
    except TameLabError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
