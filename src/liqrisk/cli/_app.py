"""The Typer application shared by the command modules."""
import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Liquidation risk of crypto derivatives portfolios.")


@app.callback()
def _root() -> None:
    """liqrisk: where am I liquidated, how likely is it, what would the exit cost."""
