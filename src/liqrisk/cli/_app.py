"""The Typer application shared by the command modules. Command modules import only what their
options need at import time (``liqrisk --help`` stays fast); the work is imported when a command
runs."""
import typer

from liqrisk import __version__

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Liquidation risk of crypto derivatives portfolios.")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"liqrisk {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """liqrisk: where am I liquidated, how likely is it, what would the exit cost."""
