"""Self-contained HTML (plotly, plotly.js inlined) for the advise layer: hedge back-test P&L
histograms and hedging error vs rebalance count, the stress heat-map, the cost-of-risk-reduction
frontier. Result dicts in, nothing computed."""
from __future__ import annotations

import numpy as np
from plotly.subplots import make_subplots


def hedge_html(d: dict) -> str:
    """Hedge back-test: P&L histogram, hedging error vs rebalances (with Derman–Kamal), worst
    margin ratio summary."""
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
    o, h = d["option"], d["hedge"]
    fig.update_layout(height=800, title=(
        f"{o['position']:+g} {o['type']} K={o['strike']:g}, {o['expiry_days']:g}d, σ={o['vol']:g} — hedged with "
        f"{h['instrument']} ({h['rebalances']} rebalances, {d['model']}, {d['paths']:,} paths): "
        f"liquidated {100 * d['liquidations']['fraction']:.2f}%, worst margin ratio {d['worst_margin_ratio']['max']:.3f}"))
    return fig.to_html(include_plotlyjs=True, full_html=True)
