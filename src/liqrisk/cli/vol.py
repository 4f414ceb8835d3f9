"""``liqrisk vol``: historical volatility estimators and a GARCH forecast for an OHLC file."""
from __future__ import annotations

from pathlib import Path

import typer

from liqrisk.cli._app import app
from liqrisk.cli.errors import fail_on_bad_input, strict_json

ESTIMATOR_NAMES = "close_to_close, ewma, parkinson, garman_klass, rogers_satchell, yang_zhang"
"""liqrisk.dynamics.volatility.ESTIMATORS, spelled out so --help does not import NumPy (a test
keeps the two equal)."""


@app.command("vol")
def vol(
    file: Path = typer.Argument(..., metavar="FILE", help="OHLC CSV (timestamp,open,high,low,close,volume)."),
    estimator: list[str] = typer.Option(
        None, "--estimator", "-e", metavar="NAME", help=f"Estimator to show (repeatable): {ESTIMATOR_NAMES}."),
    window: int = typer.Option(30, "--window", "-w", min=2, metavar="N", help="Bars in the 'last window' column."),
    garch: bool = typer.Option(True, "--garch/--no-garch", help="Fit GARCH(1,1) and forecast."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document instead of a table."),
    asset: str = typer.Option(None, "--asset", metavar="PREFIX", help="Asset prefix in a multi-asset file: btc | eth."),
) -> None:
    """Annualised volatility (365-day year) of an OHLC series by several estimators, over the
    whole file and its last window, plus a GARCH(1,1) forecast for 1, 7 and 30 days."""
    from liqrisk.dynamics.volatility import ESTIMATORS
    from liqrisk.results.vol import vol_analysis
    with fail_on_bad_input():
        result = vol_analysis(file, estimator or ESTIMATORS, window, garch, asset)
        text = strict_json(result.to_dict(), indent=2) if as_json else None
    if as_json:
        typer.echo(text)
        return
    _render(result, file)


def _render(result, file: Path) -> None:
    from rich.markup import escape
    from rich.table import Table

    from liqrisk.report.terminal import wide_console
    full, last, fit = result.full_sample, result.last_window, result.garch
    console = wide_console()
    table = Table(title=escape(f"{file.name}{f' ({result.asset})' if result.asset else ''}") + f": {full.n_bars} bars of "
                        f"{result.bar_seconds:g}s, {full.start} -> {full.end}")
    table.add_column("estimator")
    table.add_column("full sample, ann. %", justify="right")
    table.add_column(f"last {result.window} bars, ann. %", justify="right")
    for name in result.estimators:
        table.add_row(name, f"{100 * full[name]:.1f}", f"{100 * last[name]:.1f}")
    console.print(table)
    if fit is not None:
        garch_table = Table(title="GARCH(1,1) forecast: average vol over the horizon, ann. %")
        garch_table.add_column("model")
        for label in result.forecast:
            garch_table.add_column(label, justify="right")
        model = (f"alpha={fit.params['alpha']:.3f} beta={fit.params['beta']:.3f}"
                 f"{'' if fit.converged else ' (NOT CONVERGED)'}")
        garch_table.add_row(model, *(f"{100 * v:.1f}" for v in result.forecast.values()))
        console.print(garch_table)
    for line in result.warnings:
        console.print(f"[yellow]warning: {escape(line)}[/yellow]")
    if "ewma" in result.estimators:
        console.print("[dim]ewma is the current (last-bar) RiskMetrics estimate in both columns[/dim]")
