"""``liqrisk exit-cost``: what closing positions costs now, over a horizon, and per hour of urgency."""
from __future__ import annotations

import re

import typer

from liqrisk.cli._app import app
from liqrisk.cli import limits as L
from liqrisk.cli.errors import fail_on_bad_input
from liqrisk.io import limits
from liqrisk.io.limits import AMOUNT_MAX, PRICE_RANGE, VOL_RANGE, VOLUME_MIN

_UNITS = {"m": 1 / 60, "h": 1.0, "d": 24.0}


def _horizon_hours(text: str) -> float:
    from liqrisk.liquidity.book import BookError
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([mhd]?)\s*", text)
    if not m or float(m.group(1)) <= 0:
        raise BookError(f"--horizon {text!r}: expected e.g. 30m, 1h, 2d")
    hours = float(m.group(1)) * _UNITS[m.group(2) or "h"]
    if problem := limits.exit_horizon_problem(hours):
        raise BookError(f"--horizon {text!r}: {hours:g} hours; {problem} hours (366 days)")
    return hours


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


def _books(specs: list[str], unds: set[str]) -> dict:
    """--book UNDERLYING=PATH (a bare PATH when the positions have one underlying), each book
    loaded once; a book of an underlying no position has is refused (it was silently unused)."""
    from liqrisk.liquidity.book import BookError, load_book
    from liqrisk.liquidity.synthetic import underlying_of
    books = {}
    for spec in specs or []:
        und, sep, path = spec.partition("=")
        if not sep:
            if len(specs) > 1 or len(unds) != 1:
                raise BookError(f"--book {spec!r}: with several underlyings write UNDERLYING=PATH")
            und, path = next(iter(unds)), spec
        if underlying_of(und) not in unds:
            raise BookError(f"--book {spec!r}: no position on {underlying_of(und) or 'an empty underlying'} "
                            f"(underlyings: {', '.join(sorted(unds))})")
        books[underlying_of(und)] = load_book(path)
    return books


def _far_book(books: dict, rows) -> str | None:
    """Why a group's positions cannot use the given books: the first position whose price is far
    from its underlying's book mid (an ETH book is no BTC book), else None."""
    from liqrisk.liquidity.book import BookError, check_book_mid
    from liqrisk.liquidity.synthetic import underlying_of
    for sym, _, price in rows:
        und = underlying_of(sym)
        if und in books:
            try:
                check_book_mid(books[und], und, price)
            except BookError as exc:
                return str(exc)
    return None


def _check_options(participation: float, vol: float, stress: float, risk_aversion: float) -> None:
    import math

    from liqrisk.liquidity.book import BookError
    if problem := limits.participation_problem(participation):
        raise BookError(f"--participation {participation:g}: {problem}")
    if not VOL_RANGE[0] <= vol <= VOL_RANGE[1]:
        raise BookError(f"--vol {vol:g}: must be in [{VOL_RANGE[0]:g}, {VOL_RANGE[1]:g}] (annualised, 0.55 = 55%)")
    if problem := limits.stress_problem(stress):
        raise BookError(f"--stress {stress:g}: {problem}")
    if not (math.isfinite(risk_aversion) and risk_aversion >= 0):
        raise BookError(f"--risk-aversion {risk_aversion:g}: must be a finite number ≥ 0")


def _portfolio_positions(file: str) -> tuple[list[tuple[str, list, dict]], list[str]]:
    """(account id, exit rows, vol per underlying) for every account of a portfolio file with
    futures/spot, and one line per account holding options, which are not costed."""
    from liqrisk.analysis import exit_inputs
    from liqrisk.load import load_portfolio
    from liqrisk.margin.account import CompiledPortfolio
    cp = CompiledPortfolio(load_portfolio(file))
    out, notes = [], []
    for i, r in enumerate(cp.margin_results()):
        _, rows, vol = exit_inputs(cp, i, r)
        if rows:
            out.append((r.id, rows, vol))
        options = [p.symbol or p.underlying for p in r.positions if p.kind == "option"]
        if options:
            notes.append(f"account '{r.id}': options are not costed: {', '.join(options)}")
    return out, notes


def _cost_groups(groups, books, horizon_hours, participation, stress, risk_aversion, volumes):
    """[(id, ExitSummary or the reason it could not be costed)] for groups (id, rows, vols) that
    share their vols: every group's positions in one vectorised pass per underlying."""
    from liqrisk.liquidity.exit import check_exit_settings, exit_costs
    from liqrisk.liquidity.synthetic import underlying_of
    vols = {}
    for _, rows, v in groups:
        vols.update({underlying_of(u): x for u, x in v.items()} if isinstance(v, dict)
                    else {underlying_of(s): v for s, _, _ in rows})
    check_exit_settings(vols, horizon_hours, participation, stress)
    flat = [(k, *row) for k, (_, rows, _) in enumerate(groups) for row in rows]
    costs = exit_costs([f[0] for f in flat], [underlying_of(f[1]) for f in flat], [f[1] for f in flat],
                       [f[2] for f in flat], [f[3] for f in flat], books, vols, horizon_hours, participation,
                       stress, risk_aversion, volumes, n_groups=len(groups))
    tot = costs.totals()
    out = []
    for k, (name, rows, _) in enumerate(groups):
        problem = _far_book(books, rows) or costs.error[k]
        out.append((name, problem if problem else costs.summary(k, tot)))
    return out


POSITIONS_ID = "command-line positions"


def exit_cost_analysis(file: str | None, positions: list[tuple[str, float, float]], book_specs: list[str] | None,
                       horizon_hours: float, participation: float, vol: float, stress: float = 1.0,
                       risk_aversion: float = 0.0, volumes: dict[str, float] | None = None):
    """The :class:`~liqrisk.results.exit.ExitCostAnalysis` of every account of ``file`` (vols from
    its market block) and of the command-line ``positions`` (SYMBOL, SIZE, PRICE at ``vol``).
    BookError when the command-line positions, or every account, cannot be costed."""
    from liqrisk.liquidity.book import BookError
    from liqrisk.liquidity.synthetic import underlying_of
    from liqrisk.results.exit import AccountExit, ExitCostAnalysis
    accounts, option_notes = _portfolio_positions(file) if file else ([], [])
    given = [(POSITIONS_ID, positions, vol)] if positions else []
    books = _books(book_specs, {underlying_of(s) for _, rows, _ in accounts + given for s, _, _ in rows})
    result = ExitCostAnalysis([])
    for groups in (accounts, given):      # the command-line positions have their own --vol
        for name, summary in _cost_groups(groups, books, horizon_hours, participation, stress, risk_aversion,
                                          volumes):
            if not isinstance(summary, str):
                result.accounts.append(AccountExit(name, summary))
            elif name == POSITIONS_ID or not file:
                raise BookError(summary)
            else:
                result.skipped.append(f"account '{name}' not costed: {summary}")
    if not result.accounts:
        raise BookError("; ".join(result.skipped) or f"{file}: no account holds a perp, future, spot position or "
                        f"loan to cost (options are not costed)")
    result.skipped += option_notes
    return result


@app.command("exit-cost")
def exit_cost(
    file: str = typer.Argument(None, metavar="FILE", help="portfolio file (YAML/JSON); every account's futures are costed"),
    position: list[str] = typer.Option(None, "--position", "-p", metavar="SYM:SIZE:PRICE",
                                       help="SYMBOL:SIZE:PRICE, size signed base units (repeatable)."),
    book: list[str] = typer.Option(None, "--book", metavar="[UND=]PATH", help="ccxt-shaped JSON or side,price,amount CSV; "
                                   "BTC=PATH form for several underlyings. Default: synthetic book."),
    horizon: str = typer.Option("1h", "--horizon", metavar="DURATION", help="Time allowed to exit: 30m, 1h, 2d "
                                 "(at most 366d)."),
    participation: float = typer.Option(0.1, "--participation", metavar="X", help="Share of market volume."),
    vol: float = typer.Option(0.55, "--vol", metavar="X", help="Annualised volatility (0.55 = 55%)."),
    stress: float = typer.Option(1.0, "--stress", metavar="X", help="Spread x stress, depth / stress."),
    risk_aversion: float = typer.Option(0.0, "--risk-aversion", metavar="X", help="Almgren-Chriss lambda, 1/USD."),
    volume: list[str] = typer.Option(None, "--volume", metavar="ASSET=V", help="daily volume in base units, UNDERLYING=V "
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
    with fail_on_bad_input(), limits.using(max_file_mb=max_file_mb, max_depth=max_depth, max_alias_nodes=max_alias_nodes,
                                           max_accounts=max_accounts, max_positions=max_positions):
        _check_options(participation, vol, stress, risk_aversion)
        if not file and not position:
            raise BookError("give a portfolio FILE or at least one --position SYMBOL:SIZE:PRICE")
        result = exit_cost_analysis(file, [_position(p) for p in position or []], book, _horizon_hours(horizon),
                                    participation, vol, stress, risk_aversion, _volumes(volume))
        text = result.to_json() if as_json else None
    if as_json:
        typer.echo(text)
        return
    for a in result.accounts:
        _render(a.id, a.summary, stress, horizon, participation)
    for line in result.skipped:
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
        if not sep or not und.strip() or not VOLUME_MIN <= out[underlying_of(und)] <= AMOUNT_MAX:
            raise BookError(f"--volume {spec!r}: expected UNDERLYING=DAILY_VOLUME with {VOLUME_MIN:g} ≤ volume ≤ "
                            f"{AMOUNT_MAX:g} (base units)")
    return out


def _render(name, summary, stress, horizon, participation) -> None:
    from rich.markup import escape
    from rich.table import Table

    from liqrisk.report.terminal import number, wide_console
    console = wide_console()
    console.rule(f"[b]{escape(str(name))}[/b]")
    table = Table(title=f"Exit cost, {summary.book} book, stress {stress:g}, horizon {horizon}")
    for col in ("position", "notional USD", "close now USD", "bps", "levels", "unfilled",
                f"hours to exit at {100 * participation:g}% of volume", f"cost over {horizon} USD",
                "sd USD", "book"):
        table.add_column(col, justify="left" if col in ("position", "book") else "right")
    for r in summary.positions:
        table.add_row(escape(f"{r['symbol']} {r['size']:+g} @ {r['price']:,.2f}"), number(r['notional'], ",.0f"),
                      number(r['close_now_cost'], ",.2f"), number(r['close_now_bps'], ".2f"), str(r["levels"]),
                      f"[red]{r['unfilled']:g}[/red]" if r["unfilled"] else "0",
                      number(r['time_to_exit_hours'], ".2f"), number(r['horizon_cost'], ",.2f"),
                      number(r['horizon_sd'], ",.0f"), escape(str(r["book_source"])))
    table.add_row("total", "", number(summary.close_now_cost, ",.2f"), number(summary.close_now_bps, ".2f"), "", "",
                  number(summary.time_to_exit_hours, ".2f"), number(summary.horizon_cost, ",.2f"),
                  number(summary.horizon_sd, ",.0f"), escape(str(summary.book)), style="bold")
    console.print(table)
    curve = Table(title="Expected exit cost vs time allowed (d cost / d hour: value of one hour less urgency)")
    for col in ("hours", "expected cost", "d cost / d hour"):
        curve.add_column(col, justify="right")
    for h, cost in summary.curve.items():
        curve.add_row(f"{h:g}", number(cost, ",.2f"), number(summary.dcost_dhours[h], ",.2f"))
    console.print(curve)
    if summary.book == "synthetic":
        console.print("[yellow]synthetic book: depth and spread modelled from 2017-2019 data "
                      "(docs/liquidity.md), not observed[/yellow]")
