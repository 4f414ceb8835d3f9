"""`liqrisk what-if FILE`: the analysis before and after trades, top-ups, market moves and time."""
from __future__ import annotations

import sys

import typer

from liqrisk.cli import limits as L
from liqrisk.cli._app import app
from liqrisk.cli.analyze import FhsTailsOption, ModelOption
from liqrisk.cli.errors import fail_on_bad_input
from liqrisk.cli.progress import progress_bar
from liqrisk.io import limits


def _fmt(x, spec=",.4g") -> str:
    from liqrisk.report.terminal import number
    return number(x, spec)


def _arrow(b, a, spec=",.4g") -> str:
    return f"{_fmt(b, spec)} → {_fmt(a, spec)}"


def _model(b, a) -> str:
    """The path model that ran before and after (one name when the same; '-': no probability)."""
    return b or "-" if b == a else f"{b or '-'} → {a or '-'}"


@app.command("what-if")
def what_if_command(
    file: str = typer.Argument(..., help="portfolio file (YAML or JSON)"),
    shock: list[str] = typer.Option(None, "--shock", metavar="ASSET=PCT", help="price move, e.g. BTC=-10% (repeatable)"),
    vol: list[str] = typer.Option(None, "--vol", metavar="ASSET=SHIFT", help="implied-vol shift, e.g. BTC=+0.20 (repeatable)"),
    time: str = typer.Option(None, "--time", metavar="DURATION", help="time passing, e.g. 3d (options decay, funding is settled)"),
    add: list[str] = typer.Option(None, "--add", metavar="ACCOUNT:SYMBOL:SIZE[@ENTRY]", help="ACCOUNT:SYMBOL:SIZE[@ENTRY] perp trade (repeatable)"),
    reduce: list[str] = typer.Option(None, "--reduce", metavar="ACCOUNT:SYMBOL:FRACTION", help="ACCOUNT:SYMBOL:FRACTION cut (repeatable)"),
    topup: list[str] = typer.Option(None, "--topup", metavar="ACCOUNT:ASSET=AMOUNT", help="ACCOUNT:ASSET=AMOUNT (asset: a currency or an isolated symbol)"),
    funding: list[str] = typer.Option(None, "--funding", metavar="ASSET=RATE", help="funding rate per 8 h, e.g. BTC=0.0001 (with --time)"),
    horizon: list[str] = typer.Option(None, "--horizon", metavar="DURATION", help="probability horizon, e.g. 7d (repeatable)"),
    paths: int = typer.Option(20_000, "--paths", min=100, help="Monte Carlo paths per account"),
    seed: int = typer.Option(7, "--seed", help="random seed (the same before and after)"),
    model: ModelOption = "auto",
    fhs_tails: FhsTailsOption = "gpd",
    grid: bool = typer.Option(False, "--grid", help="stress grid: margin ratio over price × vol per underlying"),
    as_json: bool = typer.Option(False, "--json", help="print exactly one JSON document"),
    html: str = typer.Option(None, "--html", metavar="PATH", help="write the stress heat-map (with --grid) here"),
    max_path_steps: L.MaxPathSteps = None, max_horizon_days: L.MaxHorizonDays = None,
) -> None:
    """Margin, boundaries, P(liquidation) per horizon and exit cost before and after the changes."""
    from liqrisk.advise.whatif import what_if
    with fail_on_bad_input(), limits.using(max_path_steps=max_path_steps, max_horizon_days=max_horizon_days):
        L.check_simulation(horizon, paths)
        L.refuse(L.seed_problems(seed) + L.fhs_tails_problems(fhs_tails))
        with progress_bar("simulating", quiet=as_json) as tick:
            r = what_if(file, shock, vol, time, add, reduce, topup, funding, horizon, paths, seed, model,
                        grid=grid or bool(html), progress=tick, fhs_tails=fhs_tails)
        if html:
            from liqrisk.advise.html import stress_html
            with open(html, "w") as f:
                f.write(stress_html(r.grid.to_dict(), "What-if stress grid: " + "; ".join(r.changes)))
    if as_json:
        sys.stdout.write(r.to_json() + "\n")
        return
    from rich.table import Table
    from rich.markup import escape

    from liqrisk.report.terminal import wide_console
    console = wide_console()
    console.print("changes: " + escape("; ".join(r.changes) or "none"))
    t = Table(title="before → after")
    for col in ("account", "ccy", "equity", "margin ratio", "nearest liquidation (down / up)",
                *[f"P({h})" for h in horizon or []], *(["model"] if horizon else []), "exit now (USD)"):
        t.add_column(col)
    for row in r.side_by_side():
        b, a = row["before"], row["after"]
        liq = "; ".join(f"{escape(u)} {_fmt(b['liquidation'][u]['down'])}/{_fmt(b['liquidation'][u]['up'])} → "
                        f"{_fmt(a['liquidation'][u]['down'])}/{_fmt(a['liquidation'][u]['up'])}" for u in b["liquidation"])
        t.add_row(escape(row["id"]), escape(row["settlement_currency"]), _arrow(b["equity"], a["equity"]),
                  _arrow(b["margin_ratio"], a["margin_ratio"], ".3f") + (" LIQ" if a["liquidatable_now"] else ""),
                  liq, *[_arrow(b["probability"].get(h), a["probability"].get(h), ".3%") for h in horizon or []],
                  *([_model(b["model"], a["model"])] if horizon else []),
                  _arrow(b["exit_close_now_cost"], a["exit_close_now_cost"], ",.0f"))
    console.print(t)
    for n in r.notes + r.after.notes:
        console.print(f"note: {escape(n)}")
    if r.grid is not None:
        g = r.grid.to_dict()
        for und, block in g["underlyings"].items():
            v0 = block["vol_shifts"].index(0.0)
            gt = Table(title=f"margin ratio vs {escape(und)} move (vol shift 0; full grid in --json / --html)")
            gt.add_column("account")
            for m in g["moves"]:
                gt.add_column(f"{100 * m:+.0f}%", justify="right")
            for acc, cell in block["accounts"].items():
                gt.add_row(escape(acc), *["LIQ" if liq else _fmt(x, ".2f") for x, liq in
                                  zip(cell["ratio"][v0], cell["liquidatable"][v0])])
            console.print(gt)
    if html:
        console.print(f"HTML heat-map written to {escape(str(html))}")
