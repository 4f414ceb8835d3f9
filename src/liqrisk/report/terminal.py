"""Rich terminal rendering of a :class:`~liqrisk.results.PortfolioAnalysis` (objects in, text
out: nothing is computed here)."""
from __future__ import annotations

import sys

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table


def _num(x, digits=2) -> str:
    """Prices and USD amounts: thousands separators, 2 decimals below 10,000; small numbers
    (coin amounts) with ``max(digits, 4)`` significant digits."""
    if x is None:
        return "—"
    if abs(x) >= 1e4:
        return f"{x:,.0f}"
    return f"{x:,.{digits}f}" if abs(x) >= 1 else f"{x:.{max(digits, 4)}g}"


def _ratio_style(ratio) -> str:
    if ratio is None or ratio >= 1:
        return "bold white on red"
    return "red" if ratio >= 0.8 else "yellow" if ratio >= 0.5 else "green"


def _p(e) -> tuple[str, str, str]:
    """(p, stderr, interval) of an estimate; p below 1e-12 is shown as a bound (JSON keeps it)."""
    lo, hi = e.ci95
    if 0 < e.p < 1e-12 and hi < 1e-12:
        return "< 1e-12", "", ""
    return f"{e.p:.4g}", f"{e.stderr:.2g}", f"[{lo:.3g}, {hi:.3g}]"


def _probability_table(a) -> Table:
    risk = a.risk
    others = bool(risk.model_range)
    prob = Table(title=f"P(liquidation) term structure — model {risk.model}", title_justify="left")
    cols = ["horizon", "p", "stderr", "95% interval", "paths", "method", "VaR99 (USD)", "ES99 (USD)"]
    for col in cols + (["other models"] if others else []):
        prob.add_column(col, justify="right")
    for h in a.horizons():
        e = a.estimate(h)
        row = [h, *_p(e), str(e.paths), e.method, _num(risk.var99.get(h)), _num(risk.es99.get(h))]
        if others:
            spread = risk.model_range.get(h) or {}
            row.append(", ".join(f"{m} {p:.3g}" for m, p in spread.items()) or "")
        prob.add_row(*row)
    return prob


def _pools_table(a) -> Table:
    pools = Table(title="P(liquidation) per margin pool", title_justify="left")
    horizons = list(a.probability)
    for col in ["pool"] + horizons:
        pools.add_column(col, justify="right")
    for label, by_h in a.pools.items():
        pools.add_row(label, *(_p(by_h[h])[0] if h in by_h else "" for h in horizons))
    return pools


def _exit_lines(e) -> list[str]:
    out = []
    if e.close_now_cost is not None:
        out.append(f"exit (USD, {e.book} book): close now {_num(e.close_now_cost)} "
                   f"({e.close_now_bps:.1f} bp); over {e.horizon_hours:g} h {_num(e.horizon_cost)}; "
                   f"time to exit at the participation rate {e.time_to_exit_hours:.3g} h; forced "
                   f"liquidation cost {_num(e.liquidation_cost)}, insurance shortfall "
                   f"{_num(e.insurance_shortfall)}")
    out += [f"[yellow]exit not costed: {line}[/yellow]" for line in e.not_costed]
    return out


def account_panel(a) -> Panel:
    """One :class:`~liqrisk.results.AccountResult`: headline numbers, liquidation boundaries,
    positions, and the probability / risk / exit blocks it carries."""
    ccy = a.settlement_currency
    money = 6 if ccy not in ("USDT", "USDC", "USD") else 2   # decimals for coin vs dollar amounts
    ratio = a.margin_ratio
    head = Table.grid(padding=(0, 2))
    head.add_row(f"equity [b]{_num(a.equity, money)}[/b] {ccy}",
                 f"IM {_num(a.initial_margin, money)}", f"MM {_num(a.maintenance_margin, money)}",
                 f"margin ratio [{_ratio_style(ratio)}]{'—' if ratio is None else f'{100 * ratio:.1f}%'}[/]",
                 "[bold red]LIQUIDATABLE NOW[/]" if a.liquidatable_now else "")
    liq = Table(title="liquidation boundaries (other marks fixed)", title_justify="left", expand=False)
    for col in ("underlying", "down", "Δ%", "daily SDs away", "up", "Δ%", "daily SDs away", "all boundaries"):
        liq.add_column(col, justify="right")
    for und, b in a.liquidation.items():
        d = a.distance[und]
        liq.add_row(und, _num(b["down"]), _num(d["down_pct"]), _num(d["down_daily_sd"]),
                    _num(b["up"]), _num(d["up_pct"]), _num(d["up_daily_sd"]),
                    ", ".join(_num(x) for x in a.boundaries[und]) or "none")
    pos = Table(title="positions", title_justify="left")
    for col in ("symbol", "kind", "size", "entry", "mark", f"uPnL ({ccy})", "IM", "MM", "liq. price",
                "bankr. price", ""):
        pos.add_column(col, justify="right")
    for p in a.positions:
        pos.add_row(p.symbol, p.kind, f"{p.size:,.6g}", _num(p.entry), _num(p.mark),
                    _num(p.unrealized_pnl, money), _num(p.initial_margin, money),
                    _num(p.maintenance_margin, money),
                    _num(p.liquidation_price), _num(p.bankruptcy_price), "isolated" if p.isolated else "cross")
    parts = [head, liq, pos]
    if a.probability is not None:
        parts.append(_probability_table(a))
        if a.pools:
            parts.append(_pools_table(a))
        q = a.risk.time_to_liquidation_quantiles_hours
        if q and all(v is not None for v in q.values()):
            parts.append("time to liquidation if liquidated (hours): " +
                         ", ".join(f"q{float(k) * 100:g}={v:,.1f}" for k, v in q.items()))
    if a.exit is not None:
        parts += _exit_lines(a.exit)
    title = f"[b]{a.id}[/b] · {a.venue} ({a.rule_version}) · {a.mode} · settles in {ccy}"
    return Panel(Group(*parts), title=title, title_align="left")


def wide_console() -> Console:
    """A console that keeps full tables when output is piped (rich would squeeze them to 80)."""
    return Console() if sys.stdout.isatty() else Console(width=160)


def render(analysis, console: Console | None = None) -> None:
    """Print every account of a :class:`~liqrisk.results.PortfolioAnalysis`."""
    console = console or wide_console()
    console.print(f"[b]liqrisk analyze[/b] — snapshot {analysis.as_of}")
    for a in analysis.accounts:
        console.print(account_panel(a))
    for note in analysis.notes:
        console.print(f"[dim]note: {note}[/dim]")
