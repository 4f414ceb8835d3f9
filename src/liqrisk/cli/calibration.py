"""``liqrisk backtest-calibration``: predicted vs realised liquidation of hypothetical accounts on
real history — by default analyze's models on the compiled book, daily BTC and ETH, isolated
and cross (:mod:`liqrisk.backtest`); ``--hourly``: the 24h back-test of isolated BTC positions
on hourly bars (:mod:`liqrisk.risk.calibration`)."""
from __future__ import annotations

from pathlib import Path

import typer

from liqrisk.cli._app import app
from liqrisk.cli.errors import fail_on_bad_input, strict_json

MODEL_NAMES = "gbm, student_t, garch_fhs, garch_evt"
"""liqrisk.risk.calibration.MODELS, spelled out so --help does not import the models (a test
keeps the two equal)."""


BOOK_MODEL_NAMES = "gbm, student, merton, fhs"
"""liqrisk.backtest.MODELS (analyze's --model names), spelled out for --help the same way."""

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


def _check_daily(file, models, every, start, end, n_paths, seed, vol_scale) -> list[str]:
    """Problems of the daily back-test's options (the file is checked when it is read)."""
    import math
    from datetime import date
    from liqrisk.analysis import MODEL_ALIASES
    bad = [f"--model {m}: expected one of {BOOK_MODEL_NAMES}" for m in models or []
           if MODEL_ALIASES.get(m, m) not in BOOK_MODEL_NAMES.split(", ")]
    if not 1 <= every <= 365:
        bad.append(f"--every {every}: must be 1 … 365 days")
    for name, d in (("--start", start), ("--end", end)):
        try:
            d is None or date.fromisoformat(d)
        except ValueError:
            bad.append(f"{name} {d}: expected a date YYYY-MM-DD")
    if not 100 <= n_paths <= 1_000_000:
        bad.append(f"--n-paths {n_paths}: must be 100 … 1,000,000")
    if seed < 0:
        bad.append(f"--seed {seed}: must be ≥ 0")
    if not (math.isfinite(vol_scale) and 0 < vol_scale <= 10):
        bad.append(f"--vol-scale {vol_scale:g}: must be in (0, 10]")
    return bad


@app.command("backtest-calibration")
def backtest_calibration_cmd(
    file: Path = typer.Option(None, "--file", metavar="PATH", help="Daily OHLC CSV with btc_* and eth_* "
                              "columns (default: bundled Bitstamp 2014-11 → 2020-01); with --hourly an "
                              "hourly OHLC CSV (default: bundled Coinbase BTC-USD 2017-07 → 2019-10)."),
    hourly: bool = typer.Option(False, "--hourly", help="The hourly back-test of isolated BTC positions "
                                "(24h horizon, the closed-form and tabulated models)."),
    model: list[str] = typer.Option(None, "--model", "-m", metavar="MODEL",
                                    help=f"Model (repeatable): {BOOK_MODEL_NAMES}; with --hourly {MODEL_NAMES}."),
    every: int = typer.Option(7, metavar="N", help="Days between forecast dates."),
    start: str = typer.Option(None, metavar="DATE", help="First forecast date (YYYY-MM-DD)."),
    end: str = typer.Option(None, metavar="DATE", help="Last forecast date (YYYY-MM-DD)."),
    vol_scale: float = typer.Option(1.0, metavar="X", help="Multiply every model's vol (a mis-scaled model)."),
    notional: float = typer.Option(10_000.0, metavar="X", help="--hourly: position notional in USDT."),
    horizon: int = typer.Option(24, metavar="N", help="--hourly: horizon in hours (bars)."),
    refit_every: int = typer.Option(720, metavar="N", help="--hourly: bars between refits (GARCH, Student-t ν)."),
    n_paths: int = typer.Option(None, metavar="N", help="Monte Carlo paths per model and date (default "
                                "2000; --hourly: per table point, default 4096)."),
    seed: int = typer.Option(0, metavar="N", help="Random seed."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Reliability tables, Brier score, log score and calibration error of P(liquidated within
    the horizon): by default analyze's models (fhs the default) on Binance accounts opened at
    every N-th daily close of BTC and ETH — isolated longs and shorts, and cross accounts with
    both legs — over the period the default was chosen on and the periods held out."""
    from liqrisk.report.terminal import wide_console
    with fail_on_bad_input():
        if hourly:
            from liqrisk.risk.calibration import MODELS, backtest_calibration
            paths = 4096 if n_paths is None else n_paths     # `or`: --n-paths 0 ran the default (issue 9)
            _check_options(file, model, notional, horizon, refit_every, paths, seed)
            report = backtest_calibration(file, tuple(model or MODELS), notional=notional,
                                          horizon_hours=horizon, refit_every=refit_every,
                                          n_paths=paths, seed=seed)
        else:
            from liqrisk.io.portfolio import InputError
            n_paths = 2000 if n_paths is None else n_paths     # `or`: --n-paths 0 ran the default (issue 9)
            bad = _check_daily(file, model, every, start, end, n_paths, seed, vol_scale)
            if bad:
                raise InputError(bad)
            from liqrisk.analysis import MODEL_ALIASES
            from liqrisk.backtest import MODELS as BOOK_MODELS, backtest_book
            models = tuple(dict.fromkeys(MODEL_ALIASES.get(m, m) for m in model)) if model else BOOK_MODELS
            report = backtest_book(file, models, every, start, end, n_paths, seed, vol_scale)
        text = strict_json(report.to_dict(), indent=2) if as_json else None
    if as_json:
        typer.echo(text)
        return
    from liqrisk.report.calibration import render_book_backtest, render_hourly_backtest
    (render_hourly_backtest if hourly else render_book_backtest)(report, wide_console())
