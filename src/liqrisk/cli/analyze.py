"""`liqrisk analyze FILE`: margin, liquidation prices, probabilities and exit cost per account."""
from __future__ import annotations

import sys

import typer

from liqrisk.cli._app import app
from liqrisk.cli.errors import fail_on_bad_input


def _books(specs: list[str]):
    from liqrisk.liquidity.book import load_book
    from liqrisk.liquidity.synthetic import underlying_of
    books = {}
    for spec in specs or []:
        und, sep, path = spec.partition("=")
        if not sep:
            path, und = spec, "BTC"
        books[underlying_of(und)] = load_book(path)
    return books or None


def _vol_files(specs: list[str] | None) -> dict[str, str] | None:
    """--vol-from BTC=btc.csv → {"BTC": "btc.csv"}; a bare path → {"*": path}."""
    out = {}
    for spec in specs or []:
        und, sep, path = spec.partition("=")
        if sep and und and "/" not in und:
            out[und.upper()] = path
        else:
            out["*"] = spec
    return out or None


@app.command("analyze")
def analyze_command(
    file: str = typer.Argument(..., help="portfolio file (YAML or JSON), see README"),
    as_json: bool = typer.Option(False, "--json", help="print exactly one JSON document"),
    html: str = typer.Option(None, "--html", help="write a self-contained HTML report here"),
    horizon: list[str] = typer.Option(None, "--horizon", help="probability horizon, e.g. 1d (repeatable)"),
    paths: int = typer.Option(20_000, "--paths", min=100, help="Monte Carlo paths per account"),
    seed: int = typer.Option(7, "--seed", help="random seed (results reproducible by seed)"),
    model: str = typer.Option("gbm", "--model", help="gbm | merton | student (= student_t) | fhs (= garch_fhs)"),
    drift: float = typer.Option(0.0, "--drift", help="annualised expected return (0: martingale)"),
    vol_from: list[str] = typer.Option(None, "--vol-from", help="OHLC CSV to estimate an underlying's vol "
                                       "from (EWMA): UNDERLYING=PATH, repeatable; a bare PATH if the file has one underlying"),
    book: list[str] = typer.Option(None, "--book", help="order book JSON/CSV, UNDERLYING=PATH form"),
    exit_horizon: float = typer.Option(1.0, "--exit-horizon-hours", help="time allowed to exit (the exit block's horizon_cost)"),
    participation: float = typer.Option(0.1, "--participation", help="share of daily volume"),
    stress: float = typer.Option(1.0, "--stress", help="spread/depth stress multiplier"),
) -> None:
    """Equity, initial and maintenance margin, margin ratio and every liquidation price per
    account; with --horizon, the probability of liquidation; always the exit cost."""
    from liqrisk.analysis import ExitSettings, ProbabilitySettings, analyze
    with fail_on_bad_input():
        prob = (ProbabilitySettings(horizon, paths, seed, model, drift, vol_from=_vol_files(vol_from))
                if horizon else None)
        ex = ExitSettings(_books(book), exit_horizon, participation, stress)
        if prob and not as_json:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
            with Progress(TextColumn("simulating"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                          TimeElapsedColumn(), console=Console(stderr=True), transient=True) as bar:
                task = bar.add_task("paths", total=None)
                result = analyze(file, prob, ex, curves=bool(html),
                                 progress=lambda done, total: bar.update(task, completed=done, total=total))
        else:
            result = analyze(file, prob, ex, curves=bool(html))
        if html:
            from liqrisk.report.html import write_report
            write_report(result, html)
    if as_json:
        sys.stdout.write(result.to_json() + "\n")
        return
    from rich.console import Console

    from liqrisk.report import terminal
    terminal.render(result)
    if html:
        Console().print(f"HTML report written to {html}")
