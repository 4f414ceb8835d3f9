"""Self-contained HTML report (plotly.js inlined once) of a
:class:`~liqrisk.results.PortfolioAnalysis`. Per account: a summary table (equity, IM, MM, margin
ratio, every boundary with its distance, P per horizon with its interval and how it was obtained,
VaR/ES, exit cost), equity and maintenance margin against each underlying's price with the
boundaries and the mark, the probability term structure on a log axis (a sampled zero is drawn
as its upper bound, not as a bar), time to liquidation, the exit-cost curve; then the order books.

Objects in, HTML out: every number shown is a field of the result (nothing is computed here).
Each number in a table carries its exact value in ``data-value`` and its JSON path in
``data-key`` (``equity``, ``probability.1d.p`` …), so the page can be checked against the JSON.
"""
from __future__ import annotations

import html
import json
from pathlib import Path

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2")
FLOOR = 1e-12
"""Lowest probability drawn on the log axis; an estimate below it is shown as the bound ``< 1e-12``."""
PRICE_TICKS = ",.6~r"   # d3 formats: rounded to significant digits, never a 17-digit tick label
MONEY_TICKS = ",.4~r"
_CSS = ("body{font-family:sans-serif;max-width:1100px;margin:auto}"
        "table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
        "th{background:#f4f4f4}td.l,th.l{text-align:left}.alert{color:#c00;font-weight:bold}")


def _title(*parts) -> str:
    """Title words joined, skipping the missing ones (a title never reads "None")."""
    return " ".join(str(p) for p in parts if p not in (None, ""))


def _fmt(x, digits: int = 6) -> str:
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    return f"{x:,.{digits}g}"


def _cell(key: str, value, digits: int = 6, suffix: str = "") -> str:
    """A number cell with its exact value (``data-value``) and JSON path (``data-key``)."""
    exact = json.dumps(value, allow_nan=False)
    return (f"<td data-key='{html.escape(key)}' data-value='{html.escape(exact)}'>"
            f"{html.escape(_fmt(value, digits))}{suffix if value is not None else ''}</td>")


def _table(head: list[str], rows: list[str], cls: str) -> str:
    ths = "".join(f"<th{' class=l' if i == 0 else ''}>{html.escape(h)}</th>" for i, h in enumerate(head))
    return f"<table class='{cls}'><tr>{ths}</tr>{''.join(rows)}</table>"


def _margin_table(a) -> str:
    ccy = html.escape(a.settlement_currency)
    ratio = "—" if a.margin_ratio is None else f"{a.margin_ratio:.3%}"
    row = ("<tr>" + _cell("equity", a.equity) + _cell("initial_margin", a.initial_margin)
           + _cell("maintenance_margin", a.maintenance_margin)
           + f"<td data-key='margin_ratio' data-value='{json.dumps(a.margin_ratio)}'>{ratio}</td>"
           + f"<td class='l{' alert' if a.liquidatable_now else ''}' data-key='liquidatable_now' "
             f"data-value='{json.dumps(a.liquidatable_now)}'>{'LIQUIDATABLE NOW' if a.liquidatable_now else 'no'}</td></tr>")
    return _table([f"equity ({ccy})", "initial margin", "maintenance margin", "margin ratio (MM / equity)",
                   "liquidatable now"], [row], "margin")


def _boundary_table(a) -> str:
    rows = []
    for und, side in a.liquidation.items():
        d = a.distance[und]
        rows.append(f"<tr><td class=l>{html.escape(und)}</td>"
                    + _cell(f"liquidation.{und}.down", side["down"]) + _cell(f"distance.{und}.down_pct", d["down_pct"], 4)
                    + _cell(f"distance.{und}.down_daily_sd", d["down_daily_sd"], 4)
                    + _cell(f"liquidation.{und}.up", side["up"]) + _cell(f"distance.{und}.up_pct", d["up_pct"], 4)
                    + _cell(f"distance.{und}.up_daily_sd", d["up_daily_sd"], 4)
                    + f"<td class=l>{html.escape(', '.join(_fmt(b) for b in a.boundaries[und]) or 'none')}</td></tr>")
    return _table(["underlying", "liquidated below (USD)", "Δ% from mark", "daily SDs", "liquidated above (USD)",
                   "Δ% from mark", "daily SDs", "all boundaries"], rows, "boundaries")


def _how(e) -> str:
    """How a probability was obtained, in words: a sampled zero says it is a bound."""
    if e.p == 0:
        return f"no liquidated path of {e.paths:,}: p < {_fmt(e.ci95[1], 2)} (95%)"
    if e.p < FLOOR:
        return f"below {FLOOR:g} ({e.method})"
    return e.method


def _probability_table(a) -> str:
    risk, rows = a.risk, []
    others = sorted({m for by_m in risk.model_range.values() for m in by_m})
    for h in a.horizons():
        e, block = a.estimate(h), "probability" if h in (a.probability or {}) else "term_structure"
        spread = risk.model_range.get(h) or {}
        rows.append(f"<tr><td class=l>{html.escape(h)}</td>" + _cell(f"{block}.{h}.p", e.p, 4)
                    + _cell(f"{block}.{h}.ci95.0", e.ci95[0], 3) + _cell(f"{block}.{h}.ci95.1", e.ci95[1], 3)
                    + _cell(f"{block}.{h}.stderr", e.stderr, 2) + _cell(f"{block}.{h}.paths", e.paths)
                    + f"<td class=l>{html.escape(_how(e))}</td>"
                    + (_cell(f"risk.var99.{h}", risk.var99[h]) if h in risk.var99 else "<td>—</td>")
                    + (_cell(f"risk.es99.{h}", risk.es99[h]) if h in risk.es99 else "<td>—</td>")
                    + "".join(_cell(f"risk.model_range.{h}.{m}", spread[m], 3) if m in spread else "<td>—</td>"
                              for m in others) + "</tr>")
    head = ["horizon", "P(liquidation)", "95% low", "95% high", "stderr", "paths", "how", "VaR99 (USD)",
            "ES99 (USD)"] + [f"{m} (model range)" for m in others]
    table = _table(head, rows, "probability")
    if a.pools:
        hs = list(a.probability)
        prow = [f"<tr><td class=l>{html.escape(label)}</td>"
                + "".join(_cell(f"pools.{label}.{h}.p", by_h[h].p, 4) if h in by_h else "<td></td>" for h in hs)
                + "</tr>" for label, by_h in a.pools.items()]
        table += _table(["margin pool"] + hs, prow, "pools")
        from liqrisk.report.terminal import rare_pool_estimates, rare_pool_text
        rare = rare_pool_estimates(a)
        if rare:
            table += ("<p class=pool-how>pool estimates below 1/paths: "
                      + html.escape("; ".join(rare_pool_text(*x) for x in rare)) + "</p>")
        drivers = [f"{h}: {d}" for h, d in risk.driver.items() if d]
        if drivers:
            table += f"<p>pool driving the account's probability — {html.escape('; '.join(drivers))}</p>"
    if risk.model == "fhs":
        table += _fhs_table(risk.model_info or {})
    return _model_line(risk) + table


def _fhs_table(info: dict) -> str:
    """Per asset with history of an fhs run: the tail model that ran (GPD ξ ± s.e. beyond the
    threshold quantile per tail, or empirical and why) and whether the GJR-GARCH fit converged
    (a fit that did not is flagged)."""
    from liqrisk.report.terminal import fhs_filters
    rows = []
    for label, f in fhs_filters(info):
        prefix = "risk.model_info.intraday" if f is not info else "risk.model_info"
        rows += _fhs_rows(f, label, prefix)
    head = ["asset", "tails", "lower ξ", "± s.e.", "quantile", "threshold", "upper ξ", "± s.e.", "quantile",
            "threshold", "GJR-GARCH filter", "history", "GJR-GARCH converged", "GJR-GARCH fit"]
    return _table(head, rows, "fhs-tails") if rows else ""


def _fhs_rows(info: dict, label: str, prefix: str) -> list[str]:
    """The rows of :func:`_fhs_table` of one filter (``label``; keys under ``prefix``)."""
    rows = []
    for name, a in (info.get("assets") or {}).items():
        if not a.get("history"):
            continue
        key, t = f"{prefix}.assets.{name}", a.get("tails") or {}
        cells = ""
        for side in ("lower", "upper"):
            tail = t.get(side) if t.get("model") == "gpd" else {"fitted": False, "why": t.get("why", "")}
            if tail.get("fitted", True):
                k = f"{key}.tails.{side}"
                cells += (_cell(f"{k}.xi", tail["xi"], 3) + _cell(f"{k}.se_xi", tail["se_xi"], 2)
                          + _cell(f"{k}.quantile", tail["quantile"], 3) + _cell(f"{k}.threshold", tail["threshold"], 4))
            else:
                cells += f"<td class=l colspan=4>empirical: {html.escape(tail['why'])}</td>"
        ok = a.get("gjr_garch_converged", True)
        fit = _cell(f"{key}.gjr_garch_converged", ok)
        if not ok:
            fit = fit.replace("<td ", "<td class=alert ", 1)
        rows.append(f"<tr><td class=l>{html.escape(name)}</td><td class=l>{html.escape(t.get('model', ''))}</td>"
                    + cells + f"<td class=l>{html.escape(label)}</td><td class=l>{html.escape(a['history'])}</td>"
                    + fit + f"<td class=l>{html.escape(a['gjr_garch_fit'])}</td></tr>")
    return rows


def _model_line(risk) -> str:
    """Which model ran and why, and how the model range was obtained."""
    info = risk.model_info or {}
    text = f"model <b>{html.escape(risk.model)}</b>"
    if info.get("why"):
        text += f" — {html.escape(info['why'])}"
    if info.get("range"):
        text += (f"; model range: {html.escape(', '.join(info['range']['models']))} on "
                 f"{info['range']['paths']:,} paths each on {html.escape(info['range']['steps_of'])}'s time steps "
                 f"(importance sampling below 1e-3; 0 = no liquidated path)")
    assumed = [n for n, a in (info.get("assets") or {}).items() if a.get("assumed")]
    if assumed:
        text += f"; {html.escape(', '.join(assumed))}: no history, assumed (see notes)"
    return f"<p data-key='risk.model'>{text}</p>"


def _shortfall_cell(shortfall) -> str:
    """An account liquidatable now: its equity shortfall (−equity when negative), flagged when
    positive; nothing for an account that is not liquidatable now (None)."""
    if shortfall is None:
        return ""
    cell = _cell("exit.equity_shortfall", shortfall)
    return cell.replace("<td ", "<td class=alert ", 1) if shortfall > 0 else cell


def _exit_table(e) -> str:
    if e.close_now_cost is None:
        short = (_table(["equity shortfall (USD)"], [f"<tr>{_shortfall_cell(e.equity_shortfall)}</tr>"], "exit")
                 if e.equity_shortfall is not None else "")
        return short + "".join(f"<p>exit not costed: {html.escape(n)}</p>" for n in e.not_costed)
    row = ("<tr>" + _cell("exit.close_now_cost", e.close_now_cost) + _cell("exit.close_now_bps", e.close_now_bps, 4)
           + _cell("exit.horizon_cost", e.horizon_cost) + _cell("exit.horizon_hours", e.horizon_hours)
           + _cell("exit.time_to_exit_hours", e.time_to_exit_hours, 4) + _cell("exit.liquidation_cost", e.liquidation_cost)
           + _cell("exit.insurance_shortfall", e.insurance_shortfall)
           + f"<td class=l>{html.escape(e.book or '')}</td>"
           + _shortfall_cell(e.equity_shortfall) + "</tr>")
    head = ["close now (USD)", "close now (bp)", "over the exit horizon (USD)", "exit horizon (h)",
            "time to exit (h)", "forced liquidation cost (USD)", "insurance shortfall (USD)", "book"]
    if e.equity_shortfall is not None:           # liquidatable now: −equity, the deficit the exit starts from
        head.append("equity shortfall (USD)")
    return (_table(head, [row], "exit")
            + "".join(f"<p>exit not costed: {html.escape(n)}</p>" for n in e.not_costed))


def _block_table(name: str, block: dict) -> str:
    """A result block the rule set adds (``loan``, ``portfolio_margin``): its numbers, and those
    of its one-level sub-blocks (``liquidation_price.ETH``), one row each."""
    rows = []
    for key, value in block.items():
        items = value.items() if isinstance(value, dict) else [(None, value)]
        for sub, v in items:
            path = f"{name}.{key}" + (f".{sub}" if sub is not None else "")
            label = key.replace("_", " ") + (f" {sub}" if sub is not None else "")
            if isinstance(v, (int, float)) and not isinstance(v, bool) or v is None:
                rows.append(f"<tr><td class=l>{html.escape(label)}</td>{_cell(path, v)}</tr>")
            elif isinstance(v, str):
                rows.append(f"<tr><td class=l>{html.escape(label)}</td><td class=l>{html.escape(v)}</td></tr>")
    return _table([name.replace("_", " "), "value"], rows, name)


def _vertical_lines(lines: list[tuple[float, dict, str]]) -> dict:
    """Layout ``shapes`` and ``annotations`` of vertical lines (x, line style, label at the top):
    what ``Figure.add_vline`` draws, given at once (add_vline re-validates the layout per line)."""
    return {"shapes": [dict(type="line", x0=x, x1=x, xref="x", y0=0, y1=1, yref="y domain", line=line)
                       for x, line, _ in lines],
            "annotations": [dict(text=text, showarrow=False, x=x, xanchor="left", xref="x", y=1, yanchor="top",
                                 yref="y domain") for x, _, text in lines]}


def _margin_figure(a, und: str, curve: dict) -> go.Figure:
    fig = go.Figure()
    for k, (label, pool) in enumerate(curve["pools"].items()):
        color = _COLORS[k % len(_COLORS)]
        fig.add_scatter(x=curve["price"], y=pool["equity"], name=f"{label}: equity", line_color=color)
        fig.add_scatter(x=curve["price"], y=pool["maintenance_margin"], name=f"{label}: maintenance margin",
                        line=dict(color=color, dash="dash"))
    lines = [(curve["mark"], dict(dash="dot"), "mark")]
    lines += [(b, dict(color="red"), f"liq {b:,.2f}") for b in a.boundaries.get(und, [])]
    fig.update_layout(_vertical_lines(lines))
    fig.update_layout(title=_title(f"{a.id}: equity vs MM along {und}", f"({a.settlement_currency})"),
                      xaxis=dict(title=f"{und} price (USD)", tickformat=PRICE_TICKS),
                      yaxis=dict(title=a.settlement_currency, tickformat=MONEY_TICKS),
                      height=380, margin=dict(l=60, r=20, t=50, b=40))
    return fig


def _probability_figure(a) -> go.Figure:
    """P per horizon on a log axis: estimates with their 95% interval; a sampled zero (or an
    estimate below :data:`FLOOR`) as a downward triangle at its upper bound; the other models'
    estimates and each margin pool's, when the result carries them."""
    hs = a.horizons()
    est = [a.estimate(h) for h in hs]
    shown = [(h, e) for h, e in zip(hs, est) if e.p >= FLOOR]
    zeros = [(h, e.ci95[1]) for h, e in zip(hs, est) if e.p == 0]
    below = [(h, FLOOR) for h, e in zip(hs, est) if 0 < e.p < FLOOR]
    fig = go.Figure()
    if shown:
        fig.add_scatter(x=[h for h, _ in shown], y=[e.p for _, e in shown], mode="markers+lines",
                        name=f"{a.risk.model} estimate", error_y=dict(
                            type="data", symmetric=False, array=[e.ci95[1] - e.p for _, e in shown],
                            arrayminus=[e.p - max(e.ci95[0], FLOOR) for _, e in shown]))
    # a sampled zero at its 95% bound; an estimate below the axis' floor (not a zero: its value
    # and method are in the table) at the floor
    for bounds, name in ((zeros, "no liquidated path: upper bound"), (below, f"estimate below {FLOOR:g}")):
        if bounds:
            fig.add_scatter(x=[h for h, _ in bounds], y=[b for _, b in bounds], mode="markers", name=name,
                            marker=dict(symbol="triangle-down-open", size=12),
                            text=[f"p < {b:.2g}" for _, b in bounds], hoverinfo="x+text")
    models = sorted({m for h in hs for m in (a.risk.model_range.get(h) or {})})
    for m in models:
        pts = [(h, a.risk.model_range[h][m]) for h in hs if (a.risk.model_range.get(h) or {}).get(m, 0) >= FLOOR]
        fig.add_scatter(x=[h for h, _ in pts], y=[p for _, p in pts], mode="markers", name=f"model {m}",
                        marker=dict(symbol="x"))
    for label, by_h in (a.pools or {}).items():
        pts = [(h, by_h[h].p) for h in hs if h in by_h and by_h[h].p >= FLOOR]   # zeros: in the table
        if pts:
            fig.add_scatter(x=[h for h, _ in pts], y=[p for _, p in pts], mode="markers+lines",
                            name=f"pool {label}", line=dict(dash="dot"))
    fig.update_layout(title=f"{a.id}: P(liquidation) by horizon (95% intervals; ▽ = upper bound: a sampled zero's, "
                            f"or {FLOOR:g} for a smaller estimate)",
                      xaxis=dict(title="horizon", type="category", categoryorder="array", categoryarray=hs),
                      yaxis=dict(title="probability", type="log", exponentformat="power", dtick=1),
                      height=340)
    return fig


def _ttl_figure(a) -> go.Figure | None:
    hist = a.risk.time_to_liquidation_histogram
    if not hist or not sum(hist.get("counts", [])):
        return None
    edges, counts = hist["edges_hours"], hist["counts"]
    mids = [(lo + hi) / 2 for lo, hi in zip(edges[:-1], edges[1:])]
    fig = go.Figure(go.Bar(x=mids, y=counts, width=[hi - lo for lo, hi in zip(edges[:-1], edges[1:])]))
    fig.update_layout(title=f"{a.id}: time to liquidation, liquidated paths (hours)",
                      xaxis=dict(title="hours", tickformat=MONEY_TICKS),
                      yaxis=dict(title="weight", tickformat=MONEY_TICKS), height=300)
    return fig


def _exit_figure(a) -> go.Figure | None:
    curve = a.exit.cost_vs_exit_hours
    if not curve:
        return None
    hours = sorted(curve, key=float)
    fig = go.Figure(go.Scatter(x=[float(h) for h in hours], y=[curve[h] for h in hours], mode="lines+markers"))
    fig.update_layout(title=_title(f"{a.id}: exit cost vs time allowed", a.exit.book and f"({a.exit.book} book)"),
                      xaxis=dict(title="hours to exit", tickformat=MONEY_TICKS),
                      yaxis=dict(title="expected cost (USD)", tickformat=MONEY_TICKS), height=320)
    return fig


def _depth_figure(und: str, depth: dict) -> go.Figure:
    fig = go.Figure()
    fig.add_scatter(x=depth["bids"]["price"], y=depth["bids"]["cumulative"], name="bids", line_shape="hv")
    fig.add_scatter(x=depth["asks"]["price"], y=depth["asks"]["cumulative"], name="asks", line_shape="hv")
    fig.update_layout(title=f"{und} book depth ({depth['source']}, stress {depth['stress']:g})",
                      xaxis=dict(title="price (USD)", tickformat=PRICE_TICKS),
                      yaxis=dict(title=f"cumulative size ({und})", tickformat=MONEY_TICKS), height=320)
    return fig


def _heatmap_figures(a) -> list[go.Figure]:
    """The portfolio-margin risk matrix of each risk unit as a heat-map (P&L; losses red)."""
    pm = a.portfolio_margin
    if not pm:
        return []
    figs = []
    for unit in pm["units"]:
        fig = go.Figure(go.Heatmap(z=unit["matrix"], x=unit["move_labels"], y=unit["vols"], colorscale="RdYlGn",
                                   zmid=0, colorbar_title=pm["currency"], hoverongaps=False))
        fig.update_layout(title=f"{a.id}: {pm['model']}, {unit['underlying']} — worst "
                                f"{unit['worst_scenario']} (loss {unit['worst_loss']:,.6g} {pm['currency']})",
                          xaxis_title="price move", height=300, margin=dict(l=70, r=20, t=50, b=40))
        figs.append(fig)
    return figs


def _section(a, curves: dict) -> str:
    figs = [_margin_figure(a, und, c) for und, c in curves.items()] + _heatmap_figures(a)
    parts = [_margin_table(a), _boundary_table(a)]
    parts += [_block_table(name, block) for name, block in (("loan", a.loan), ("portfolio_margin", a.portfolio_margin))
              if block is not None]
    if a.probability is not None:
        parts.append(_probability_table(a))
        figs += [f for f in (_probability_figure(a), _ttl_figure(a)) if f is not None]
    if a.exit is not None:
        parts.append(_exit_table(a.exit))
        figs += [f for f in (_exit_figure(a),) if f is not None]
    title = _title(a.id, "—", a.venue, f"({a.mode}, settles in {a.settlement_currency})")
    return (f"<section data-account='{html.escape(a.id)}'><h2>{html.escape(title)}</h2>" + "".join(parts)
            + "".join(f.to_html(full_html=False, include_plotlyjs=False) for f in figs) + "</section>")


def report_html(analysis) -> str:
    """The report of a :class:`~liqrisk.results.PortfolioAnalysis` (built with ``curves`` for the
    margin charts) as one HTML document with no external requests."""
    blocks = [_section(a, analysis.curves.get(a.id, {})) for a in analysis.accounts]
    depth = "".join(_depth_figure(und, d).to_html(full_html=False, include_plotlyjs=False)
                    for und, d in analysis.books.items())
    if depth:
        blocks.append(f"<section><h2>Order books used for exit costs</h2>{depth}</section>")
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in analysis.notes)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>liqrisk report {html.escape(analysis.as_of)}"
            f"</title><script>{get_plotlyjs()}</script><style>{_CSS}</style></head><body>"
            f"<h1>liqrisk — liquidation risk report</h1><p>snapshot {html.escape(analysis.as_of)}</p>"
            f"{''.join(blocks)}<h3>Notes</h3><ul>{notes}</ul></body></html>")


def write_report(analysis, path: str | Path) -> Path:
    """Write :func:`report_html` of ``analysis`` to ``path``."""
    out = Path(path)
    out.write_text(report_html(analysis))
    return out
