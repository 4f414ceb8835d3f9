"""Rich terminal rendering of a :class:`~liqrisk.results.PortfolioAnalysis` (objects in, text
out: nothing is computed here)."""
from __future__ import annotations

import math
import sys

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text


def number(x, spec: str = ",.4g", missing: str = "-") -> str:
    """``x`` in ``spec``; ``missing`` for None or NaN (the JSON's null: not computed, e.g. the
    bps of a notional of 0), ∞ / −∞ for an infinite one (a distance with no liquidation price)."""
    if x is None or x != x:
        return missing
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    return format(x, spec)


def _num(x, digits=2) -> str:
    """Prices and USD amounts: thousands separators, 2 decimals below 10,000; small numbers
    (coin amounts) with ``max(digits, 4)`` significant digits."""
    if x is None or not math.isfinite(x):
        return number(x, missing="—")
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
    info = risk.model_info or {}
    how = f" ({info['why']})" if info.get("why") else ""
    if info.get("range"):
        how += (f"; other models on {info['range']['paths']:,} paths each, on {info['range']['steps_of']}'s time "
                f"steps (importance sampling below 1e-3; 0 = no liquidated path)")
    prob = Table(title=f"P(liquidation) term structure — model {risk.model}{how}", title_justify="left")
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


def _tail_side(side: str, t: dict) -> str:
    """One tail of an asset's fhs shocks: GPD ξ ± s.e. beyond its quantile, or why it is empirical."""
    if not t.get("fitted", True):
        return f"{side} empirical ({escape(t['why'])})"
    return (f"{side} ξ {t['xi']:.3f} ± {t['se_xi']:.3f} beyond the {100 * t['quantile']:.0f}% quantile "
            f"({t['threshold']:.3g}, {t['k']} residuals)")


def fhs_filters(info: dict) -> list[tuple[str, dict]]:
    """The GJR-GARCH filters of an fhs run (``risk.model_info``) with the horizons each ran:
    [("hourly, horizons ≤ 1d", its info), ("daily, horizons > 1d", info)] where the hourly
    filter ran (``model_info.intraday``), else [("daily", info)]."""
    if info.get("intraday"):
        return [(f"hourly, horizons {info['intraday'].get('horizons', '≤ 1d')}", info["intraday"]),
                ("daily, horizons > 1d", info)]
    return [("daily", info)] if info.get("bar", "1d") == "1d" else [("hourly", info)]


def fhs_lines(info: dict) -> list[str]:
    """Which GJR-GARCH filter ran for which horizons (:func:`fhs_filters`), and per filter and
    asset with history of an fhs run (``risk.model_info``): which tail model ran (GPD with
    ξ ± s.e. and the threshold quantile per tail, or empirical and why) and a GJR-GARCH fit
    whose optimiser did not converge, flagged."""
    filters = fhs_filters(info)
    out = ["fhs filter: " + "; ".join(
        f"{label} — " + ", ".join(f"{escape(n)} {escape(a['history'])}" for n, a in (f.get("assets") or {}).items()
                                   if a.get("history"))
        for label, f in filters)]
    for label, f in filters:
        which = f" ({label.split(',')[0]} filter)" if len(filters) > 1 else ""
        for name, a in (f.get("assets") or {}).items():
            if not a.get("history"):
                continue
            t = a.get("tails") or {}
            tails = ("GPD tails — " + "; ".join(_tail_side(side, t[side]) for side in ("lower", "upper"))
                     if t.get("model") == "gpd" else f"empirical tails ({escape(t.get('why', ''))})")
            fit = ("" if a.get("gjr_garch_converged", True)
                   else "; [bold yellow]GJR-GARCH fit NOT converged[/] (" + escape(a["gjr_garch_fit"]) + ")")
            out.append(f"fhs shocks {escape(name)}{which}: {tails}{fit}")
    return out


def _funding_line(f: dict) -> str:
    """What funding adds to P(liquidation), per horizon (same paths with and without it)."""
    rows = ", ".join(f"{h} {r['added']:+.3g} ({r['p']:.3g} vs {r['p_without_funding']:.3g} without)"
                     for h, r in f["by_horizon"].items())
    models = ", ".join(f"{k}: {v}" for k, v in f["models"].items())
    return f"funding ({models}) adds to P(liquidation): {rows}"


def rare_pool_estimates(a) -> list[tuple[str, str, object]]:
    """(pool, horizon, estimate) of the pool estimates below 1/paths that are not the account's
    own estimate (an account's only pool is; its method is in the probability table): how each
    was obtained is said beside the pool table — a rare pool of a several-pool account has its own
    importance-sampled estimate, a pool the method does not tilt (plain, antithetic, control; a
    model without a measure change) a sampled zero or a few paths' bridge mass."""
    own = a.probability or {}
    return [(label, h, e) for label, by_h in (a.pools or {}).items() for h, e in by_h.items()
            if e.paths and e.p < 1 / e.paths and e != own.get(h)]


def rare_pool_text(label: str, h: str, e) -> str:
    """One :func:`rare_pool_estimates` entry in words: its value, estimator and 95% interval."""
    lo, hi = e.ci95
    return f"{label} {h} {e.p:.3g} ({e.method} of {e.paths:,} paths, 95% [{lo:.3g}, {hi:.3g}])"


def _pools_table(a) -> Table:
    title = "P(liquidation) per margin pool"
    pools = Table(title=title, title_justify="left", min_width=len(title))   # a narrow table wrapped its title
    horizons = list(a.probability)
    for col in ["pool"] + horizons:
        pools.add_column(col, justify="right")
    for label, by_h in a.pools.items():
        pools.add_row(escape(label), *(_p(by_h[h])[0] if h in by_h else "" for h in horizons))
    return pools


def _exit_lines(e) -> list[str]:
    out = []
    if e.close_now_cost is not None:
        out.append(f"exit (USD, {e.book} book): close now {_num(e.close_now_cost)} "
                   f"({e.close_now_bps:.1f} bp); over {e.horizon_hours:g} h {_num(e.horizon_cost)}; "
                   f"time to exit at the participation rate {e.time_to_exit_hours:.3g} h; forced "
                   f"liquidation cost {_num(e.liquidation_cost)}, insurance shortfall "
                   f"{_num(e.insurance_shortfall)}")
    if e.equity_shortfall is not None:
        out.append(f"[bold red]liquidatable now[/]: equity shortfall {_num(e.equity_shortfall)}, forced exit "
                   f"now {_num(e.liquidation_cost)}, insurance shortfall {_num(e.insurance_shortfall)} (USD)")
    out += [f"[yellow]exit not costed: {escape(line)}[/yellow]" for line in e.not_costed]
    return out


def _loan_parts(loan: dict) -> list:
    """Health factor, each asset's liquidation price, and what a liquidator may do now."""
    hf = loan["health_factor"]
    style = "bold white on red" if hf is not None and hf < 1 else "yellow" if hf is not None and hf < 1.2 else "green"
    out = [f"health factor [{style}]{'∞ (no debt)' if hf is None else f'{hf:.4f}'}[/]  collateral "
           f"{_num(loan['collateral_usd'])} USD  weighted {_num(loan['weighted_collateral_usd'])} USD  "
           f"debt {_num(loan['debt_usd'])} USD"]
    prices = {**{f"{escape(c)} (collateral)": v for c, v in loan["liquidation_price"].items()},
              **{f"{escape(c)} (debt)": v for c, v in loan["debt_liquidation_price"].items()}}
    if prices:
        out.append("liquidation price, others fixed: " + ", ".join(f"{k} {_num(v)}" for k, v in prices.items()))
    call = loan["liquidation_call"]
    if call is None:
        return out
    t = Table(title=f"liquidation now ({call['protocol']})", title_justify="left")
    if "calls" in call:                  # Aave: per (collateral, debt) pair
        for col in ("collateral", "debt", "close factor", "debt repaid", "collateral seized", "protocol fee",
                    "liquidator receives", "profit (USD)", "bad debt (USD)", ""):
            t.add_column(col, justify="right")
        for c in call["calls"]:
            if not c["allowed"]:
                t.add_row(escape(c["collateral"]), escape(c["debt"]), f"{c['close_factor']:g}", *[""] * 6,
                          escape(c["reason"]))
                continue
            t.add_row(escape(c["collateral"]), escape(c["debt"]), f"{c['close_factor']:g}", _num(c["debt_repaid"]),
                      _num(c["collateral_seized"], 6), _num(c["protocol_fee"], 6), _num(c["liquidator_receives"], 6),
                      _num(c["liquidator_profit_usd"]), _num(c["bad_debt_usd"]), c.get("limited_by", ""))
        return out + [t]
    for key, value in call.items():
        if key != "protocol" and not isinstance(value, dict):
            out.append(f"  {key}: {_num(value, 6) if isinstance(value, float) else value}")
    return out


def _portfolio_margin_parts(pm: dict) -> list:
    """IM, MM, margin ratio, the worst scenario and each risk unit's matrix (Binance: uniMMR,
    its band and each asset's equity)."""
    if "uni_mmr" in pm:
        out = [f"portfolio margin ({pm['model']}): uniMMR [b]{_num(pm['uni_mmr'], 4)}[/b] ({pm['band']}; "
               f"liquidation at ≤ {pm['bands']['liquidation_at_or_below']:g})  adjusted equity "
               f"{_num(pm['adjusted_equity'])}  MM {_num(pm['maintenance_margin'])} (futures "
               f"{_num(pm['futures_mm'])}, margin loans {_num(pm['margin_loan_mm'])})"]
        t = Table(title="assets", title_justify="left")
        for col in ("asset", "equity", "collateral rate", "adjusted equity (USD)"):
            t.add_column(col, justify="right")
        for name, x in pm["assets"].items():
            t.add_row(escape(name), _num(x["equity"], 6), f"{x['collateral_rate']:g}", _num(x["adjusted_equity_usd"]))
        return out + [f"[yellow]note: {escape(n)}[/yellow]" for n in pm["notes"]] + [t]
    out = [f"portfolio margin ({pm['model']}): IM {_num(pm['initial_margin'], 6)}  MM "
           f"{_num(pm['maintenance_margin'], 6)}  worst scenario [b]{pm['worst_scenario']}[/b]"]
    out += [f"[yellow]note: {escape(n)}[/yellow]" for n in pm["notes"]]
    for unit in pm["units"]:
        m = Table(title=f"risk matrix {escape(unit['underlying'])} (P&L, {pm['currency']}; worst "
                        f"{unit['worst_scenario']})", title_justify="left")
        m.add_column("vol", justify="right")
        for label in unit["move_labels"]:
            m.add_column(label, justify="right")
        for vol, row in zip(unit["vols"], unit["matrix"]):
            m.add_row(vol, *("" if v is None else _num(v, 6) for v in row))
        out.append(m)
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
        liq.add_row(escape(und), _num(b["down"]), _num(d["down_pct"]), _num(d["down_daily_sd"]),
                    _num(b["up"]), _num(d["up_pct"]), _num(d["up_daily_sd"]),
                    ", ".join(_num(x) for x in a.boundaries[und]) or "none")
    pos = Table(title="positions", title_justify="left")
    for col in ("symbol", "kind", "size", "entry", "mark", f"uPnL ({ccy})", "IM", "MM", "liq. price",
                "bankr. price", ""):
        pos.add_column(col, justify="right")
    for p in a.positions:
        pos.add_row(escape(p.symbol), p.kind, f"{p.size:,.6g}", _num(p.entry), _num(p.mark),
                    _num(p.unrealized_pnl, money), _num(p.initial_margin, money),
                    _num(p.maintenance_margin, money),
                    _num(p.liquidation_price), _num(p.bankruptcy_price), "isolated" if p.isolated else "cross")
    parts = [head, liq] + ([pos] if a.positions else [])
    if a.loan is not None:
        parts += _loan_parts(a.loan)
    if a.portfolio_margin is not None:
        parts += _portfolio_margin_parts(a.portfolio_margin)
    if a.probability is not None:
        parts.append(_probability_table(a))
        if a.risk.model == "fhs":
            parts += fhs_lines(a.risk.model_info or {})
        if a.funding:
            parts.append(_funding_line(a.funding))
        if a.pools:
            parts.append(_pools_table(a))
            rare = rare_pool_estimates(a)
            if rare:
                parts.append("pool estimates below 1/paths: " +
                             "; ".join(escape(rare_pool_text(*x)) for x in rare))
            drivers = {h: d for h, d in (a.risk.driver or {}).items() if d}
            if drivers and len(a.pools) > 1:
                parts.append("driven by: " + ", ".join(f"{h} {escape(d)}" for h, d in drivers.items()))
        q = a.risk.time_to_liquidation_quantiles_hours
        if q and all(v is not None for v in q.values()):
            parts.append("time to liquidation if liquidated (hours): " +
                         ", ".join(f"q{float(k) * 100:g}={v:,.1f}" for k, v in q.items()))
    if a.exit is not None:
        parts += _exit_lines(a.exit)
    title = Text.from_markup(f"[b]{escape(a.id)}[/b] · {a.venue} ({a.rule_version}) · {a.mode} · settles in "
                             f"{escape(ccy)}", emoji=False)
    return Panel(Group(*parts), title=title, title_align="left")


def wide_console() -> Console:
    """A console that keeps full tables when output is piped (rich would squeeze them to 80)."""
    return Console(emoji=False) if sys.stdout.isatty() else Console(width=160, emoji=False)


def render(analysis, console: Console | None = None) -> None:
    """Print every account of a :class:`~liqrisk.results.PortfolioAnalysis`."""
    console = console or wide_console()
    console.print(f"[b]liqrisk analyze[/b] — snapshot {analysis.as_of}")
    for a in analysis.accounts:
        console.print(account_panel(a))
    for note in analysis.notes:
        console.print(f"[dim]note: {escape(note)}[/dim]")
