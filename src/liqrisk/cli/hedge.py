"""`liqrisk hedge-backtest`: an option delta-hedged with the venue's perp (or spot) on simulated
or real paths, with the venue's margin at every step."""
from __future__ import annotations

import json
import sys

import typer

from liqrisk.cli._app import app
from liqrisk.cli.errors import fail_on_bad_input
from liqrisk.cli.progress import progress_bar
from liqrisk.cli import limits as L
from liqrisk.io import limits


MAX_PATHS = 1_000_000    # the back-tests keep a few numbers per path and rebalance count in memory


@app.command("hedge-backtest")
def hedge_backtest_command(
    spot: float = typer.Option(None, "--spot", help="underlying price now (USD)"),
    strike: float = typer.Option(None, "--strike", help="strike (USD)"),
    expiry_days: float = typer.Option(None, "--expiry-days", help="time to expiry (days, ACT/365)"),
    vol: float = typer.Option(None, "--vol", help="implied vol used for deltas and the model (0.55 = 55%; "
                                                  "with --file: the path model's, default the ATM vol)"),
    rate: float = typer.Option(0.0, "--rate", help="interest rate, continuously compounded"),
    kind: str = typer.Option("call", "--type", metavar="call|put", help="call | put"),
    position: float = typer.Option(-1.0, "--position", help="contracts of 1 underlying unit (+ long, − short)"),
    rebalances: int = typer.Option(50, "--rebalances", help="rebalances over the option's life (fixed frequency)"),
    steps: int = typer.Option(None, "--steps", help="monitoring steps (margin checks; a multiple of --rebalances)"),
    band: float = typer.Option(None, "--band", help="rebalance when |target − hedge| exceeds this delta per contract instead"),
    hedge: str = typer.Option("perp", "--hedge", metavar="perp|spot", help="perp | spot"),
    fee: float = typer.Option(None, "--fee", help="taker fee rate per traded notional (default: the venue's)"),
    lot: float = typer.Option(0.0, "--lot", help="hedge size increment (underlying units)"),
    funding: float = typer.Option(0.0, "--funding", help="perp funding rate per 8 h (decimal; a long pays when > 0)"),
    collateral: float = typer.Option(None, "--collateral", help="USD collateral (default: 2× the starting maintenance margin)"),
    venue: str = typer.Option("deribit", "--venue", metavar="VENUE", help="margin rules of the account"),
    file: str = typer.Option(None, "--file", metavar="PATH", help="portfolio file: hedge the options (and futures) of --account"),
    account: str = typer.Option(None, "--account", metavar="ID", help="with --file: the cross account whose options are hedged"),
    paths: int = typer.Option(10_000, "--paths", min=1, max=MAX_PATHS, help="simulated paths (or real-history windows)"),
    model: str = typer.Option("gbm", "--model", metavar="MODEL", help="gbm | merton | student | fhs | history (bundled hourly "
                              "BTC); default gbm, not analyze's auto: the published hedging-error results it is checked against are for GBM"),
    seed: int = typer.Option(7, "--seed", help="random seed"),
    as_json: bool = typer.Option(False, "--json", help="print exactly one JSON document"),
    html: str = typer.Option(None, "--html", metavar="PATH", help="write a self-contained HTML report here"),
    max_path_steps: L.MaxPathSteps = None,
) -> None:
    """P&L distribution, hedging error vs rebalance count (with Derman–Kamal), transaction costs,
    funding, margin calls, liquidations and the worst margin ratio."""
    from liqrisk.advise.funding import FundingModel
    from liqrisk.advise.hedging import HedgeSpec, account_book, hedge_backtest, hedged_text, worst_ratio_text
    from liqrisk.io.portfolio import InputError
    with fail_on_bad_input(), limits.using(max_path_steps=max_path_steps):
        L.check_seed(seed)
        if kind not in ("call", "put"):
            raise ValueError(f"--type '{kind}': expected call or put")
        fund = FundingModel.constant(funding) if funding else None
        book = None
        if file or account:
            if not (file and account):
                raise InputError(["--file and --account go together (the account of the file to hedge)"])
            book, terms = account_book(file, account, hedge)
            spec = HedgeSpec(**{**terms, "vol": vol or terms["vol"]}, rebalances=rebalances, steps=steps, band=band,
                             hedge=hedge, fee=fee, lot=lot, funding=fund)
        else:
            missing = [f"--{n}" for n, v in (("spot", spot), ("strike", strike), ("expiry-days", expiry_days),
                                             ("vol", vol)) if v is None]
            if missing:
                raise InputError([f"{', '.join(missing)}: needed for one option (or give --file and --account)"])
            spec = HedgeSpec(spot, strike, expiry_days, vol, rate, kind == "call", position, rebalances, steps,
                             band, hedge, fee, lot, fund, collateral, venue=venue)
        with progress_bar("hedging", quiet=as_json) as tick:
            result = hedge_backtest(spec, paths, model, seed, progress=tick, book=book)
        d = result.to_dict()
        if html:
            from liqrisk.advise.html import hedge_html
            with open(html, "w") as f:
                f.write(hedge_html(d))
    if as_json:
        sys.stdout.write(json.dumps(d) + "\n")
        return
    from rich.markup import escape
    from rich.table import Table

    from liqrisk.report.terminal import wide_console
    console = wide_console()
    t = Table(title=f"delta hedge of {escape(hedged_text(d))} with {escape(str(hedge))}, {d['model']}, {d['paths']:,} paths (USD)")
    for col in ("rebalances", "P&L mean", "P&L std", "Derman–Kamal std", "fees mean"):
        t.add_column(col, justify="right")
    for c in d["hedging_error_vs_rebalances"]:
        t.add_row(f"{c['rebalances']}", f"{c['pnl_mean']:,.4g}", f"{c['pnl_std']:,.4g}",
                  "-" if c["derman_kamal_std"] is None else f"{c['derman_kamal_std']:,.4g}",
                  f"{c['transaction_costs_mean']:,.4g}")
    console.print(t)
    q = d["pnl_quantiles"]
    console.print(f"P&L quantiles 1%/50%/99%: {q['0.01']:,.4g} / {q['0.5']:,.4g} / {q['0.99']:,.4g}; "
                  f"funding paid {d['funding_paid_mean']:,.4g}; trades {d['trades_mean']:.1f}; collateral "
                  f"{d['hedge']['collateral']:,.2f}")
    console.print(f"margin calls on {100 * d['margin_calls']['fraction']:.2f}% of paths, liquidations on "
                  f"{100 * d['liquidations']['fraction']:.2f}%; worst margin ratio {worst_ratio_text(d['worst_margin_ratio']['max'])}")
    if html:
        console.print(f"HTML report written to {escape(str(html))}")


@app.command("policy-backtest")
def policy_backtest_command(
    file: str = typer.Argument(..., help="portfolio file (YAML or JSON)"),
    account: str = typer.Option(..., "--account", metavar="ID", help="the account (one linear perp)"),
    cut_below: float = typer.Option(2.0, "--cut-below", help="cut 50% when the boundary is under this many daily sd"),
    topup_to: float = typer.Option(3.0, "--topup-to", help="top up to this many daily sd"),
    days: float = typer.Option(30.0, "--days", help="horizon (days)"),
    steps_per_day: int = typer.Option(24, "--steps-per-day", help="monitoring steps per day"),
    paths: int = typer.Option(10_000, "--paths", min=1, max=MAX_PATHS, help="paths (or real-history windows)"),
    model: str = typer.Option("gbm", "--model", metavar="MODEL", help="gbm | history (bundled hourly BTC); default gbm, "
                              "not analyze's auto: the policy kernel runs GBM paths or real BTC windows only"),
    seed: int = typer.Option(7, "--seed", help="random seed"),
    as_json: bool = typer.Option(False, "--json", help="print exactly one JSON document"),
    max_path_steps: L.MaxPathSteps = None, max_horizon_days: L.MaxHorizonDays = None,
) -> None:
    """Hold vs cut-on-distance vs top-up-to-distance on the same paths: liquidations avoided,
    cost paid, capital added, P&L distribution."""
    from liqrisk.advise.policy import policy_backtest
    with fail_on_bad_input(), limits.using(max_path_steps=max_path_steps, max_horizon_days=max_horizon_days):
        L.check_seed(seed)
        with progress_bar("policies × paths", quiet=as_json) as tick:
            r = policy_backtest(file, account, cut_below, topup_to, days, steps_per_day, paths, model, seed,
                                progress=tick)
    if as_json:
        sys.stdout.write(r.to_json() + "\n")
        return
    from rich.markup import escape
    from rich.table import Table

    from liqrisk.report.terminal import wide_console
    console = wide_console()
    t = Table(title=f"'{escape(account)}' over {days:g} days, {r.model}, {r.paths:,} paths (USD)")
    for col in ("policy", "P(liquidation)", "avoided", "cost", "capital added", "P&L mean", "P&L 1%", "P&L 99%"):
        t.add_column(col, justify="right")
    for name, p in r.policies.items():
        t.add_row(name, f"{p['liquidation_probability']:.3%}", f"{p['liquidations_avoided']:,}", f"{p['cost_mean']:,.2f}",
                  f"{p['capital_added_mean']:,.2f}", f"{p['pnl_mean']:,.2f}", f"{p['pnl_quantiles']['0.01']:,.2f}",
                  f"{p['pnl_quantiles']['0.99']:,.2f}")
    console.print(t)
