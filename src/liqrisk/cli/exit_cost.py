"""``liqrisk exit-cost``: what closing positions costs now, over a horizon, and per hour of urgency."""
from __future__ import annotations

import re

import typer

from liqrisk.cli._app import app
from liqrisk.cli import limits as L
from liqrisk.cli.errors import fail_on_bad_input, strict_json
from liqrisk.io import limits
from liqrisk.io.limits import AMOUNT_MAX, PRICE_RANGE, VOL_RANGE

_UNITS = {"m": 1 / 60, "h": 1.0, "d": 24.0}


def _horizon_hours(text: str) -> float:
    from liqrisk.liquidity.book import BookError
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([mhd]?)\s*", text)
    if not m or float(m.group(1)) <= 0:
        raise BookError(f"--horizon {text!r}: expected e.g. 30m, 1h, 2d")
    return float(m.group(1)) * _UNITS[m.group(2) or "h"]


def _position(text: str) -> tuple[str, float, float]:
    from liqrisk.liquidity.book import BookError
    parts = text.split(":")
    try:
        symbol, size, price = parts[0].strip(), float(parts[1]), float(parts[2])
    except (IndexError, ValueError):
        raise BookError(f"--position {text!r}: expected SYMBOL:SIZE:PRICE, e.g. BTC:-12.5:91250") from None
    if len(parts) != 3 or not symbol or not 0 < abs(size) <= AMOUNT_MAX \
            or not PRICE_RANGE[0] <= price <= PRICE_RANGE[1] or abs(size) * price > AMOUNT_MAX:
        raise BookError(f"--position {text!r}: need a symbol, a size with 0 < |size| ≤ {AMOUNT_MAX:g}, a price "
                        f"in [{PRICE_RANGE[0]:g}, {PRICE_RANGE[1]:g}] and a notional ≤ {AMOUNT_MAX:g}")
    return symbol, size, price


def _books(specs: list[str], positions):
    """--book UNDERLYING=PATH (a bare PATH when the positions have one underlying); a book's mid
    must be near the positions' price (an ETH book is no BTC book)."""
    from liqrisk.liquidity.book import BookError, check_book_mid, load_book
    from liqrisk.liquidity.synthetic import underlying_of
    if not specs:
        return None
    unds = {underlying_of(s) for s, _, _ in positions}
    books = {}
    for spec in specs:
        und, sep, path = spec.partition("=")
        if not sep:
            if len(specs) > 1 or len(unds) > 1:
                raise BookError(f"--book {spec!r}: with several underlyings write UNDERLYING=PATH")
            und, path = next(iter(unds)), spec
        und = underlying_of(und)
        book = load_book(path)
        for s, _, price in positions:
            if underlying_of(s) == und:
                check_book_mid(book, und, price)
        books[und] = book
    return books


def _check_options(participation: float, vol: float, stress: float, risk_aversion: float) -> None:
    import math

    from liqrisk.liquidity.book import BookError
    if not 0 < participation <= 1:
        raise BookError(f"--participation {participation:g}: must be in (0, 1] (a share of daily volume)")
    if not VOL_RANGE[0] <= vol <= VOL_RANGE[1]:
        raise BookError(f"--vol {vol:g}: must be in [{VOL_RANGE[0]:g}, {VOL_RANGE[1]:g}] (annualised, 0.55 = 55%)")
    if not 0 < stress <= 1000:
        raise BookError(f"--stress {stress:g}: must be in (0, 1000] (1 = today's book)")
    if not (math.isfinite(risk_aversion) and risk_aversion >= 0):
        raise BookError(f"--risk-aversion {risk_aversion:g}: must be a finite number ≥ 0")


def _portfolio_positions(file: str) -> list[tuple[str, list, float]]:
    """(account id, exit rows, vol) for every account of a portfolio file with futures/spot."""
    from liqrisk.analysis import exit_inputs
    from liqrisk.load import load_portfolio
    from liqrisk.margin.account import CompiledPortfolio
    cp = CompiledPortfolio(load_portfolio(file))
    out = []
    for i, r in enumerate(cp.margin_results()):
        _, rows, vol = exit_inputs(cp, i, r)
        if rows:
            out.append((r.id, rows, vol))
    return out


POSITIONS_ID = "command-line positions"


@app.command("exit-cost")
def exit_cost(
    file: str = typer.Argument(None, metavar="FILE", help="portfolio file (YAML/JSON); every account's futures are costed"),
    position: list[str] = typer.Option(None, "--position", "-p", metavar="SYM:SIZE:PRICE",
                                       help="SYMBOL:SIZE:PRICE, size signed base units (repeatable)."),
    book: list[str] = typer.Option(None, "--book", metavar="[UND=]PATH", help="ccxt-shaped JSON or side,price,amount CSV; "
                                   "BTC=PATH form for several underlyings. Default: synthetic book."),
    horizon: str = typer.Option("1h", "--horizon", metavar="TEXT", help="Time allowed to exit: 30m, 1h, 2d."),
    participation: float = typer.Option(0.1, "--participation", metavar="X", help="Share of market volume."),
    vol: float = typer.Option(0.55, "--vol", metavar="X", help="Annualised volatility (0.55 = 55%)."),
    stress: float = typer.Option(1.0, "--stress", metavar="X", help="Spread x stress, depth / stress."),
    risk_aversion: float = typer.Option(0.0, "--risk-aversion", metavar="X", help="Almgren-Chriss lambda, 1/USD."),
    volume: list[str] = typer.Option(None, "--volume", metavar="TEXT", help="daily volume in base units, UNDERLYING=V "
                                     "(defaults exist for BTC and ETH only; repeatable)"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    max_file_mb: L.MaxFileMb = None, max_depth: L.MaxDepth = None, max_alias_nodes: L.MaxAliasNodes = None,
    max_accounts: L.MaxAccounts = None, max_positions: L.MaxPositions = None,
) -> None:
    """Cost of closing positions now (one market order through the book), over the horizon
    (Almgren-Chriss schedule), time to exit at a participation rate, and the cost-vs-time curve.
    Positions come from FILE (per account, vol from its market block) and/or --position."""
    from rich.console import Console

    from liqrisk.liquidity.book import BookError
    from liqrisk.liquidity.exit import exit_summary
    with fail_on_bad_input(), limits.using(max_file_mb=max_file_mb, max_depth=max_depth, max_alias_nodes=max_alias_nodes,
                                           max_accounts=max_accounts, max_positions=max_positions):
        _check_options(participation, vol, stress, risk_aversion)
        if not file and not position:
            raise BookError("give a portfolio FILE or at least one --position SYMBOL:SIZE:PRICE")
        groups = _portfolio_positions(file) if file else []
        if position:
            groups.append((POSITIONS_ID, [_position(p) for p in position], vol))
        volumes = _volumes(volume)
        summaries, skipped = [], []
        for name, rows, v in groups:
            try:
                summaries.append((name, exit_summary(rows, _books(book, rows), v, _horizon_hours(horizon),
                                                     participation, stress, risk_aversion, volumes)))
            except BookError as exc:
                if name == POSITIONS_ID or not file:
                    raise
                skipped.append(f"account '{name}' not costed: {exc}")
        if not summaries:
            raise BookError("; ".join(skipped))
        text = strict_json({"currency": "USD", "accounts": [{"id": name, **s.to_dict()} for name, s in summaries],
                            "skipped": skipped}) if as_json else None
    if as_json:
        typer.echo(text)
        return
    for name, summary in summaries:
        _render(name, summary, stress, horizon, participation)
    for line in skipped:
        Console(stderr=True).print(f"[yellow]note: {line}[/yellow]")


def _volumes(specs: list[str] | None) -> dict[str, float]:
    from liqrisk.liquidity.book import BookError
    from liqrisk.liquidity.synthetic import underlying_of
    out = {}
    for spec in specs or []:
        und, sep, value = spec.partition("=")
        try:
            out[underlying_of(und)] = float(value)
        except ValueError:
            raise BookError(f"--volume {spec!r}: expected UNDERLYING=DAILY_VOLUME, e.g. SOL=2.5e7") from None
        if not sep or not 0 < out[underlying_of(und)] <= AMOUNT_MAX:
            raise BookError(f"--volume {spec!r}: expected UNDERLYING=DAILY_VOLUME with 0 < volume ≤ {AMOUNT_MAX:g}")
    return out


def _render(name, summary, stress, horizon, participation) -> None:
    from rich.table import Table

    from liqrisk.report.terminal import wide_console
    console = wide_console()
    console.rule(f"[b]{name}[/b]")
    table = Table(title=f"Exit cost, {summary.book} book, stress {stress:g}, horizon {horizon}")
    for col in ("position", "notional USD", "close now USD", "bps", "levels", "unfilled",
                f"hours to exit at {100 * participation:g}% of volume", f"cost over {horizon} USD",
                "sd USD", "book"):
        table.add_column(col, justify="left" if col in ("position", "book") else "right")
    for r in summary.positions:
        table.add_row(f"{r['symbol']} {r['size']:+g} @ {r['price']:,.2f}", f"{r['notional']:,.0f}",
                      f"{r['close_now_cost']:,.2f}", f"{r['close_now_bps']:.2f}", str(r["levels"]),
                      f"[red]{r['unfilled']:g}[/red]" if r["unfilled"] else "0",
                      f"{r['time_to_exit_hours']:.2f}", f"{r['horizon_cost']:,.2f}",
                      f"{r['horizon_sd']:,.0f}", r["book_source"])
    table.add_row("total", "", f"{summary.close_now_cost:,.2f}", f"{summary.close_now_bps:.2f}", "", "",
                  f"{summary.time_to_exit_hours:.2f}", f"{summary.horizon_cost:,.2f}", f"{summary.horizon_sd:,.0f}",
                  summary.book, style="bold")
    console.print(table)
    curve = Table(title="Expected exit cost vs time allowed (d cost / d hour: value of one hour less urgency)")
    for col in ("hours", "expected cost", "d cost / d hour"):
        curve.add_column(col, justify="right")
    for h, cost in summary.curve.items():
        curve.add_row(f"{h:g}", f"{cost:,.2f}", f"{summary.dcost_dhours[h]:,.2f}")
    console.print(curve)
    if summary.book == "synthetic":
        console.print("[yellow]synthetic book: depth and spread modelled from 2017-2019 data "
                      "(docs/liquidity.md), not observed[/yellow]")
