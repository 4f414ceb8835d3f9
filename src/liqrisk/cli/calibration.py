"""``liqrisk backtest-calibration``: predicted vs realised 24h liquidation of hypothetical
isolated BTC positions on hourly history (:mod:`liqrisk.risk.calibration`)."""
from __future__ import annotations

from pathlib import Path

import typer

from liqrisk.cli._app import app
from liqrisk.cli.errors import fail_on_bad_input, strict_json

MODEL_NAMES = "gbm, student_t, garch_fhs"
"""liqrisk.risk.calibration.MODELS, spelled out so --help does not import the models (a test
keeps the two equal)."""


MIN_HISTORY = 2160     # bars before the first prediction (backtest_calibration's default)


def _check_options(file, models, notional, horizon, refit_every, n_paths, seed) -> None:
    """Option ranges, and a file of hourly bars long enough for one prediction."""
    import math

    from liqrisk.dynamics.ohlc import DataError, load_ohlc
    from liqrisk.io.portfolio import InputError
    from liqrisk.risk.calibration import MODELS
    bad = [f"--model {m}: expected one of {MODEL_NAMES}" for m in models or [] if m not in MODELS]
    if not (math.isfinite(notional) and 0 < notional <= 1e12):
        bad.append(f"--notional {notional:g}: must be in (0, 1e12] USDT")
    if not 1 <= horizon <= 24 * 30:
        bad.append(f"--horizon {horizon}: must be 1 … 720 hours")
    if refit_every < 1:
        bad.append(f"--refit-every {refit_every}: must be ≥ 1 bar")
    if not 100 <= n_paths <= 1_000_000:
        bad.append(f"--n-paths {n_paths}: must be 100 … 1,000,000")
    if seed < 0:
        bad.append(f"--seed {seed}: must be ≥ 0")
    if bad:
        raise InputError(bad)
    if file is not None:
        bars = load_ohlc(file)
        if abs(bars.bar_seconds - 3600) > 60:
            raise DataError(f"{file}: bars are {bars.bar_seconds / 3600:g} h apart; the back-test needs hourly bars")
        if len(bars) < MIN_HISTORY + horizon + 1:
            raise DataError(f"{file}: {len(bars)} bars; the back-test needs at least {MIN_HISTORY + horizon + 1} "
                            f"({MIN_HISTORY} of history before the first prediction, then the horizon)")


@app.command("backtest-calibration")
def backtest_calibration_cmd(
    file: Path = typer.Option(None, "--file", metavar="PATH", help="Hourly OHLC CSV (default: bundled "
                                                   "Coinbase BTC-USD 2017-07 → 2019-10)."),
    model: list[str] = typer.Option(None, "--model", "-m", metavar="MODEL",
                                    help=f"Model (repeatable): {MODEL_NAMES}."),
    notional: float = typer.Option(10_000.0, metavar="X", help="Position notional in USDT."),
    horizon: int = typer.Option(24, metavar="N", help="Horizon in hours (bars)."),
    refit_every: int = typer.Option(720, metavar="N", help="Bars between refits (GARCH, Student-t ν)."),
    n_paths: int = typer.Option(4096, metavar="N", help="Monte Carlo paths per table point."),
    seed: int = typer.Option(0, metavar="N", help="Random seed."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Reliability table and Brier score of P(liquidated within the horizon) for isolated
    long/short BTCUSDT positions at 5x, 10x, 25x opened at every hour (Binance rules)."""
    from liqrisk.report.terminal import wide_console
    from liqrisk.risk.calibration import MODELS, backtest_calibration
    with fail_on_bad_input():
        _check_options(file, model, notional, horizon, refit_every, n_paths, seed)
        report = backtest_calibration(file, tuple(model or MODELS), notional=notional,
                                      horizon_hours=horizon, refit_every=refit_every,
                                      n_paths=n_paths, seed=seed)
        text = strict_json(report.to_dict(), indent=2) if as_json else None
    if as_json:
        typer.echo(text)
        return
    console = wide_console()
    for m in report.models:
        console.print(scores_table(f"{m.model} ({m.seconds:.0f}s)", m.scores))
    console.print(f"best calibrated (smallest REL): [bold]{report.best_calibrated}[/bold]")


def scores_table(title: str, s):
    """One model's reliability table (bins, count, events, mean predicted, realised with its
    95% binomial interval) titled with its scores (:class:`liqrisk.risk.scores.Scores`)."""
    from rich.table import Table
    table = Table(title=f"{title}: Brier {s.brier:.5f} = REL {s.reliability:.5f} − RES "
                        f"{s.resolution:.5f} + UNC {s.uncertainty:.5f}, log score {s.log_score:.4f}, "
                        f"ECE {s.ece:.4f} (n={s.n}, events {s.events})")
    for col in ("predicted bucket", "count", "events", "mean predicted", "realised", "95% interval"):
        table.add_column(col, justify="right")
    for r in s.table:
        table.add_row(f"[{r.lo:g}, {r.hi:g})", str(r.count), str(r.events), f"{r.predicted:.4f}",
                      f"{r.realised:.4f}", f"[{r.ci95[0]:.4f}, {r.ci95[1]:.4f}]")
    return table
