"""``liqrisk vol``: historical volatility estimators and a GARCH forecast for an OHLC file."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from liqrisk.cli._app import app
from liqrisk.cli.errors import fail_on_bad_input, strict_json
from liqrisk.report.terminal import wide_console
from liqrisk.dynamics.garch import fit_garch
from liqrisk.dynamics.ohlc import load_ohlc
from liqrisk.dynamics.volatility import ESTIMATORS, estimate_all

FORECAST_HORIZONS_DAYS = {"1d": 1, "7d": 7, "30d": 30}


@app.command("vol")
def vol(
    file: Path = typer.Argument(..., help="OHLC CSV (timestamp,open,high,low,close,volume)."),
    estimator: list[str] = typer.Option(
        None, "--estimator", "-e", help=f"Estimator to show (repeatable): {', '.join(ESTIMATORS)}."),
    window: int = typer.Option(30, "--window", "-w", min=2, help="Bars in the 'last window' column."),
    garch: bool = typer.Option(True, "--garch/--no-garch", help="Fit GARCH(1,1) and forecast."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document instead of a table."),
    asset: str = typer.Option(None, "--asset", help="Asset prefix in a multi-asset file: btc | eth."),
) -> None:
    """Annualised volatility (365-day year) of an OHLC series by several estimators, over the
    whole file and its last window, plus a GARCH(1,1) forecast for 1, 7 and 30 days."""
    with fail_on_bad_input():
        bars = load_ohlc(file, asset=asset)
        names = tuple(estimator or ESTIMATORS)
        full = estimate_all(bars, estimators=names)
        last = estimate_all(bars, window, estimators=names)
        fit = fit_garch(bars.log_returns(), bar_seconds=bars.bar_seconds) if garch else None
        forecast = None if fit is None else {
            label: fit.forecast_vol(days * 86400.0) for label, days in FORECAST_HORIZONS_DAYS.items()}
        warnings = _range_warnings(full)
        if as_json:
            document = {"file": str(file), "asset": asset, "full_sample": full.to_dict(),
                        "last_window": last.to_dict(),
                        "garch": None if fit is None else {**fit.to_dict(), "forecast_vol_annualised": forecast},
                        "warnings": warnings}
            typer.echo(strict_json(document, indent=2))
            return

    console = wide_console()
    table = Table(title=f"{file.name}{f' ({asset})' if asset else ''}: {full.n_bars} bars of "
                        f"{bars.bar_seconds:g}s, {full.start} -> {full.end}")
    table.add_column("estimator")
    table.add_column("full sample, ann. %", justify="right")
    table.add_column(f"last {window} bars, ann. %", justify="right")
    for name in names:
        table.add_row(name, f"{100 * full[name]:.1f}", f"{100 * last[name]:.1f}")
    console.print(table)
    if fit is not None:
        garch_table = Table(title="GARCH(1,1) forecast: average vol over the horizon, ann. %")
        garch_table.add_column("model")
        for label in forecast:
            garch_table.add_column(label, justify="right")
        model = (f"alpha={fit.params['alpha']:.3f} beta={fit.params['beta']:.3f}"
                 f"{'' if fit.converged else ' (NOT CONVERGED)'}")
        garch_table.add_row(model, *(f"{100 * v:.1f}" for v in forecast.values()))
        console.print(garch_table)
    for line in warnings:
        console.print(f"[yellow]warning: {line}[/yellow]")
    if "ewma" in names:
        console.print("[dim]ewma is the current (last-bar) RiskMetrics estimate in both columns[/dim]")


def _range_warnings(full) -> list[str]:
    """Range-based estimators far above close-to-close usually mean a bad high/low tick."""
    if "close_to_close" not in full:
        return []
    base = full["close_to_close"]
    high = [n for n in ("parkinson", "garman_klass", "rogers_satchell", "yang_zhang") if n in full and full[n] > 2 * base]
    return ([f"{', '.join(high)} exceed twice close-to-close ({100 * base:.1f}%): check the file for bad "
             f"high/low ticks (range estimators are sensitive to a single bad bar)"] if high else [])
