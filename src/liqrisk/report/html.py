"""Self-contained HTML report (plotly.js inlined once) for a portfolio analysis: per account,
equity and maintenance margin against each underlying's price with the liquidation boundaries
and the mark; the probability term structure; the exit-cost curve."""
from __future__ import annotations

import html
from pathlib import Path

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs


_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2")


def _margin_figure(account: dict, und: str, curve: dict) -> go.Figure:
    fig = go.Figure()
    for k, (label, pool) in enumerate(curve["pools"].items()):
        color = _COLORS[k % len(_COLORS)]
        fig.add_scatter(x=curve["price"], y=pool["equity"], name=f"{label}: equity", line_color=color)
        fig.add_scatter(x=curve["price"], y=pool["maintenance_margin"], name=f"{label}: maintenance margin",
                        line=dict(color=color, dash="dash"))
    fig.add_vline(x=curve["mark"], line_dash="dot", annotation_text="mark")
    for b in account["boundaries"].get(und, []):
        fig.add_vline(x=b, line_color="red", annotation_text=f"liq {b:,.2f}")
    fig.update_layout(title=f"{account['id']}: equity vs MM along {und} ({account['settlement_currency']})",
                      xaxis_title=f"{und} price (USD)", yaxis_title=account["settlement_currency"],
                      height=380, margin=dict(l=50, r=20, t=50, b=40))
    return fig


def _probability_figure(account: dict) -> go.Figure:
    from liqrisk.analysis import parse_horizon
    block = {**account.get("term_structure", {}), **account["probability"]}
    hs = sorted(block, key=parse_horizon)
    p = [block[h]["p"] for h in hs]
    up = [block[h]["ci95"][1] - block[h]["p"] for h in hs]
    down = [block[h]["p"] - block[h]["ci95"][0] for h in hs]
    fig = go.Figure(go.Bar(x=hs, y=p, error_y=dict(type="data", symmetric=False, array=up, arrayminus=down)))
    fig.update_layout(title=f"{account['id']}: P(liquidation) term structure (95% intervals)",
                      yaxis_title="probability", height=320)
    return fig


def _ttl_figure(account: dict) -> go.Figure | None:
    hist = account.get("risk", {}).get("time_to_liquidation_histogram")
    if not hist or not sum(hist.get("counts", [])):
        return None
    edges, counts = hist["edges_hours"], hist["counts"]
    mids = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:])]
    fig = go.Figure(go.Bar(x=mids, y=counts, width=[b - a for a, b in zip(edges[:-1], edges[1:])]))
    fig.update_layout(title=f"{account['id']}: time to liquidation, liquidated paths (hours)",
                      xaxis_title="hours", yaxis_title="weight", height=300)
    return fig


def _depth_figure(und: str, depth: dict) -> go.Figure:
    fig = go.Figure()
    fig.add_scatter(x=depth["bids"]["price"], y=depth["bids"]["cumulative"], name="bids", line_shape="hv")
    fig.add_scatter(x=depth["asks"]["price"], y=depth["asks"]["cumulative"], name="asks", line_shape="hv")
    fig.update_layout(title=f"{und} book depth ({depth['source']}, stress {depth['stress']:g})",
                      xaxis_title="price (USD)", yaxis_title=f"cumulative size ({und})", height=320)
    return fig


def _exit_figure(account: dict) -> go.Figure:
    curve = account["exit"]["cost_vs_exit_hours"]
    hours = sorted(curve, key=float)
    fig = go.Figure(go.Scatter(x=[float(h) for h in hours], y=[curve[h] for h in hours], mode="lines+markers"))
    fig.update_layout(title=f"{account['id']}: exit cost vs time allowed ({account['exit']['book']} book)",
                      xaxis_title="hours to exit", yaxis_title="expected cost (USD)", height=320)
    return fig


def _heatmap_figures(account: dict) -> list[go.Figure]:
    """The portfolio-margin risk matrix of each risk unit as a heat-map (P&L; losses red)."""
    pm = account.get("portfolio_margin")
    if not pm:
        return []
    figs = []
    for unit in pm["units"]:
        fig = go.Figure(go.Heatmap(z=unit["matrix"], x=unit["move_labels"], y=unit["vols"], colorscale="RdYlGn",
                                   zmid=0, colorbar_title=pm["currency"], hoverongaps=False))
        fig.update_layout(title=f"{account['id']}: {pm['model']}, {unit['underlying']} — worst "
                                f"{unit['worst_scenario']} (loss {unit['worst_loss']:,.6g} {pm['currency']})",
                          xaxis_title="price move", height=300, margin=dict(l=70, r=20, t=50, b=40))
        figs.append(fig)
    return figs


def _fmt(x) -> str:
    return "—" if x is None else f"{x:,.6g}"


def _summary_table(a: dict) -> str:
    """Headline numbers and the liquidation boundaries of one account as an HTML table."""
    ratio = "—" if a["margin_ratio"] is None else f"{100 * a['margin_ratio']:.2f}%"
    head = (f"<p>equity <b>{_fmt(a['equity'])}</b> · IM {_fmt(a['initial_margin'])} · MM "
            f"{_fmt(a['maintenance_margin'])} · margin ratio <b>{ratio}</b>"
            + (" · <b style='color:#c00'>LIQUIDATABLE NOW</b>" if a["liquidatable_now"] else "") + "</p>")
    if a.get("portfolio_margin"):
        pm = a["portfolio_margin"]
        head += (f"<p>portfolio margin ({html.escape(pm['model'])}): IM {_fmt(pm['initial_margin'])} · MM "
                 f"{_fmt(pm['maintenance_margin'])} · worst scenario <b>{html.escape(str(pm['worst_scenario']))}</b></p>")
    if a.get("loan"):
        loan = a["loan"]
        head += (f"<p>health factor <b>{_fmt(loan['health_factor'])}</b> · collateral "
                 f"{_fmt(loan['collateral_usd'])} USD · debt {_fmt(loan['debt_usd'])} USD</p>")
    rows = "".join(
        f"<tr><td>{html.escape(u)}</td><td>{_fmt(b['down'])}</td><td>{_fmt(a['distance'][u]['down_pct'])}</td>"
        f"<td>{_fmt(b['up'])}</td><td>{_fmt(a['distance'][u]['up_pct'])}</td></tr>"
        for u, b in a["liquidation"].items())
    return (head + "<table><tr><th>underlying</th><th>liquidated below</th><th>Δ%</th>"
            f"<th>liquidated above</th><th>Δ%</th></tr>{rows}</table>")


def write_report(analysis, path: str | Path) -> Path:
    """Write the report for a :class:`~liqrisk.results.PortfolioAnalysis` built with curves."""
    data = analysis.to_dict()
    blocks = []
    for a in data["accounts"]:
        figs = [_margin_figure(a, und, c) for und, c in analysis.curves.get(a["id"], {}).items()]
        figs += _heatmap_figures(a)
        if "probability" in a:
            figs.append(_probability_figure(a))
            ttl = _ttl_figure(a)
            if ttl is not None:
                figs.append(ttl)
        if "exit" in a:
            figs.append(_exit_figure(a))
        blocks.append(f"<section><h2>{html.escape(a['id'])} — {html.escape(a['venue'])} "
                      f"({html.escape(a['mode'])}, settles in {html.escape(a['settlement_currency'])})</h2>"
                      + _summary_table(a)
                      + "".join(f.to_html(full_html=False, include_plotlyjs=False) for f in figs)
                      + "</section>")
    depth = "".join(_depth_figure(und, d).to_html(full_html=False, include_plotlyjs=False)
                    for und, d in analysis.books.items())
    if depth:
        blocks.append(f"<section><h2>Order books used for exit costs</h2>{depth}</section>")
    doc = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>liqrisk report {data['as_of']}</title>"
           f"<script>{get_plotlyjs()}</script><style>body{{font-family:sans-serif;max-width:1100px;margin:auto}}"
           f"table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}</style></head><body><h1>liqrisk — liquidation risk report</h1>"
           f"<p>snapshot {html.escape(data['as_of'])}</p>{''.join(blocks)}"
           f"<h3>Notes</h3><ul>{''.join(f'<li>{html.escape(n)}</li>' for n in data['notes'])}</ul></body></html>")
    out = Path(path)
    out.write_text(doc)
    return out
