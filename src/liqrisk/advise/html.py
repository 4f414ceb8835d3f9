"""Self-contained HTML (plotly, plotly.js inlined) for the advise layer: hedge back-test P&L
histograms and hedging error vs rebalance count, the stress heat-map, the cost-of-risk-reduction
frontier. Result dicts in, nothing computed."""
from __future__ import annotations

import numpy as np
from plotly.subplots import make_subplots


def hedge_html(d: dict) -> str:
    """Hedge back-test: P&L histogram, hedging error vs rebalances (with Derman–Kamal), worst
    margin ratio summary."""
    from liqrisk.advise.hedging import hedged_text, worst_ratio_text
    fig = make_subplots(rows=2, cols=1, vertical_spacing=0.12, subplot_titles=(
        "P&L at expiry (USD)", "Hedging error vs rebalance count (log–log)"))
    e = np.asarray(d["pnl_histogram"]["edges"])
    fig.add_bar(x=0.5 * (e[1:] + e[:-1]), y=d["pnl_histogram"]["counts"], name="paths", row=1, col=1)
    curve = d["hedging_error_vs_rebalances"]
    n = [c["rebalances"] for c in curve]
    fig.add_scatter(x=n, y=[c["pnl_std"] for c in curve], mode="lines+markers", name="std(P&L)", row=2, col=1)
    fig.add_scatter(x=n, y=[c["derman_kamal_std"] for c in curve], mode="lines", line={"dash": "dash"},
                    name="√(π/4)·vega·σ/√N", row=2, col=1)
    fig.update_xaxes(type="log", row=2, col=1, title_text="rebalances")
    fig.update_yaxes(type="log", row=2, col=1, title_text="USD")
    h = d["hedge"]
    fig.update_layout(height=800, title=(
        f"{hedged_text(d)} — hedged with "
        f"{h['instrument']} ({h['rebalances']} rebalances, {d['model']}, {d['paths']:,} paths): "
        f"liquidated {100 * d['liquidations']['fraction']:.2f}%, worst margin ratio {worst_ratio_text(d['worst_margin_ratio']['max'])}"))
    return fig.to_html(include_plotlyjs=True, full_html=True)


def stress_html(grid: dict, title: str = "Stress grid") -> str:
    """Heat-maps of the margin ratio (MM / equity; ≥ 1 or blank = liquidatable / equity ≤ 0) per
    underlying and account over price move × vol shift."""
    panels = [(und, acc, g, block["vol_shifts"]) for und, block in grid["underlyings"].items()
              for acc, g in block["accounts"].items()]
    fig = make_subplots(rows=max(len(panels), 1), cols=1, vertical_spacing=0.3 / max(len(panels), 1),
                        subplot_titles=[f"{acc}: margin ratio vs {und} move × vol shift" for und, acc, _, _ in panels])
    moves = [f"{100 * m:+.0f}%" for m in grid["moves"]]
    for k, (und, acc, g, shifts) in enumerate(panels, 1):
        z = [[None if v is None else min(v, 2.0) for v in row] for row in g["ratio"]]
        fig.add_heatmap(x=moves, y=[f"{s:+.2f}" for s in shifts], z=z, zmin=0, zmax=1.5, colorscale="RdYlGn_r",
                        showscale=k == 1, colorbar={"title": "MM/equity"}, row=k, col=1,
                        hovertemplate="move %{x}, vol %{y}: ratio %{z:.3f}<extra></extra>")
    fig.update_layout(height=260 * max(len(panels), 1), title=title)
    return fig.to_html(include_plotlyjs=True, full_html=True)


def frontier_html(d: dict) -> str:
    """Cost of risk reduction: per account, each action's cost (USD) against the target metric
    it reaches (those that meet the target are filled)."""
    accounts = [a for a in d["accounts"] if a["actions"]]
    fig = make_subplots(rows=max(len(accounts), 1), cols=1, vertical_spacing=0.3 / max(len(accounts), 1),
                        subplot_titles=[f"{a['id']}: cost vs {d['metric']} (now {a['metric']:.4g})" for a in accounts])
    for k, a in enumerate(accounts, 1):
        pts = [x for x in a["actions"] if x["cost_usd"] is not None and x["metric"] is not None]
        for kind in dict.fromkeys(x["kind"] for x in pts):
            sel = [x for x in pts if x["kind"] == kind]
            fig.add_scatter(x=[x["cost_usd"] for x in sel], y=[min(x["metric"], 1e3) for x in sel], mode="markers",
                            name=f"{a['id']}: {kind}", text=[x["description"] for x in sel],
                            marker={"size": 11, "symbol": ["circle" if x["meets"] else "circle-open" for x in sel]},
                            row=k, col=1)
        fig.update_xaxes(type="log", title_text="cost (USD)", row=k, col=1)
    fig.update_layout(height=320 * max(len(accounts), 1), title=f"Cost of risk reduction — target {d['target']}")
    return fig.to_html(include_plotlyjs=True, full_html=True)
