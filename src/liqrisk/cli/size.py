"""`liqrisk size`: the largest position meeting a target, next to Kelly sizes with liquidation as ruin."""
from __future__ import annotations

import sys

import typer

from liqrisk.cli import limits as L
from liqrisk.cli._app import app
from liqrisk.cli.errors import fail_on_bad_input
from liqrisk.cli.progress import progress_bar
from liqrisk.io import limits


@app.command("size")
def size_command(
    venue: str = typer.Option(..., "--venue", metavar="VENUE", help="rule set, e.g. binance-usdm"),
    symbol: str = typer.Option(..., "--symbol", metavar="SYMBOL", help="perp symbol as the venue lists it, e.g. BTCUSDT"),
    leverage: float = typer.Option(..., "--leverage", help="leverage (initial margin = notional / leverage)"),
    collateral: float = typer.Option(..., "--collateral", help="wallet in the settlement currency (USDT; the coin for coin-margined)"),
    target: str = typer.Option(..., "--target", metavar="TARGET", help='"p(7d)<=1%" or "distance>=3sd"'),
    mark: float = typer.Option(..., "--mark", help="mark price of the underlying (USD)"),
    vol: float = typer.Option(..., "--vol", help="annualised vol of the underlying (0.55 = 55%)"),
    side: str = typer.Option("long", "--side", metavar="SIDE", help="long | short"),
    drift: float = typer.Option(None, "--drift", help="annual expected return, for the Kelly sizes"),
    horizon: str = typer.Option("7d", "--horizon", metavar="DURATION", help="Kelly horizon (liquidation within it is ruin)"),
    paths: int = typer.Option(20_000, "--paths", min=100, help="Monte Carlo paths (probability targets)"),
    seed: int = typer.Option(7, "--seed", help="random seed"),
    as_json: bool = typer.Option(False, "--json", help="print exactly one JSON document"),
    max_path_steps: L.MaxPathSteps = None, max_horizon_days: L.MaxHorizonDays = None,
) -> None:
    """Largest size meeting the target (engine search) and Kelly / fractional Kelly, side by side."""
    from liqrisk.advise.sizing import size_position
    from liqrisk.advise.targets import Target
    with fail_on_bad_input(), limits.using(max_path_steps=max_path_steps, max_horizon_days=max_horizon_days):
        target_horizon = Target.parse(target).horizon
        L.check_simulation([target_horizon] if target_horizon else [], paths, "--target horizon")
        L.check_simulation([horizon], paths if drift is not None else 0)   # parsed even when unused
        L.check_seed(seed)
        with progress_bar("sizing (engine runs)", quiet=as_json) as tick:
            r = size_position(venue, symbol, leverage, collateral, target, mark, vol, side, drift, horizon, paths,
                              seed, progress=tick)
    if as_json:
        sys.stdout.write(r.to_json() + "\n")
        return
    from rich.markup import escape
    from rich.table import Table

    from liqrisk.report.terminal import number, wide_console
    console = wide_console()
    console.print(f"{r.venue} {escape(str(r.symbol))} {r.side}, leverage {r.leverage:g}, collateral {r.collateral:,.6g}: "
                  f"leverage allows {r.leverage_cap:,.6g}; target {r.target} allows "
                  f"{'-' if r.target_size is None else format(r.target_size, ',.6g')} (binding: {r.binding})")
    t = Table(title="sizes (contract units)")
    for col in ("sizing", "size", "liquidation price", "distance (daily sd)", "target metric", "meets"):
        t.add_column(col)
    for row in r.rows:
        t.add_row(row["sizing"], f"{row['size']:,.6g}", "-" if row.get("liquidation_price") is None
                  else f"{row['liquidation_price']:,.2f}", "-" if row.get("distance_daily_sd") is None
                  else f"{row['distance_daily_sd']:.2f}", number(row.get("metric"), ".4g"),
                  "-" if "meets_target" not in row else ("yes" if row["meets_target"] else "no"))
    console.print(t)
    for n in r.notes:
        console.print(f"note: {escape(n)}")
