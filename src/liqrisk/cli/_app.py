"""The Typer application shared by the command modules. Command modules import only what their
options need at import time (``liqrisk --help`` stays fast); the work is imported when a command
runs."""
import sys

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

from liqrisk import __version__

try:                                   # typer ≥ 0.24 ships its own copy of click
    from typer._click import exceptions as _exc
except ImportError:                    # pragma: no cover
    from click import exceptions as _exc


class _PlainErrors(TyperGroup):
    """Usage errors (a bad option value, a missing argument) as one ``error: …`` line and exit
    status 2, like every other bad input; no rich box, no traceback."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except _exc.NoArgsIsHelpError as e:
            sys.stdout.write(e.format_message() + "\n")
            rv = 0
        except _exc.ClickException as e:
            hint = f" (see '{e.ctx.command_path} --help')" if getattr(e, "ctx", None) is not None else ""
            sys.stderr.write(f"error: {e.format_message()}{hint}\n")
            rv = e.exit_code
        except typer.Abort:
            sys.stderr.write("error: aborted\n")
            rv = 1
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


_LABELS = {"int": "N", "float": "X"}


class _PlainCommand(TyperCommand):
    """Help shows every value by a label — the option's own (``ASSET=PCT``,
    ``ACCOUNT:SYMBOL:SIZE[@ENTRY]``) or ``N`` / ``X`` / ``PATH`` / ``TEXT`` by type, an argument
    by its upper-case name — never typer's ``<str>`` / ``<list[str]>`` type names."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for p in self.params:
            if isinstance(p, TyperArgument):
                p.metavar = p.metavar or p.name.upper()
                p.display_type_rich = lambda ctx: None      # typer appends the type to the name
            elif p.metavar is None and not getattr(p, "is_flag", False):
                p.metavar = _LABELS.get(p.bare_type(), "PATH" if p.type_descriptor.is_path else "TEXT")


class LiqriskTyper(typer.Typer):
    """A Typer whose commands are :class:`_PlainCommand` (the app and its sub-apps)."""

    def command(self, *args, cls=None, **kwargs):
        return super().command(*args, cls=cls or _PlainCommand, **kwargs)


# plain (not rich) help: value labels instead of types, no boxes
app = LiqriskTyper(cls=_PlainErrors, add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  pretty_exceptions_enable=False,
                  help="Liquidation risk of crypto derivatives portfolios.")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"liqrisk {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """liqrisk: where am I liquidated, how likely is it, what would the exit cost."""
