"""Self-contained HTML report of a cascade (plotly, plotly.js inlined): price paths,
liquidations per step, insurance fund, liquidation maps."""
from __future__ import annotations

import numpy as np
from plotly.subplots import make_subplots

from liqrisk.cascade.result import CascadeResult


def cascade_html(r: CascadeResult) -> str:
    """The report as one HTML string (no external requests)."""
    n_maps = max(len(r.liquidation_maps), 1)
    fig = make_subplots(rows=3 + n_maps, cols=1, vertical_spacing=0.05, subplot_titles=(
        "Price (% of start): mark vs exogenous", "Liquidated notional per step (USD)",
        "Insurance fund (USD)", *[f"Liquidation map {m.asset} (USD at LP)" for m in r.liquidation_maps]))
    steps = np.arange(len(r.marks))
    for i, a in enumerate(r.assets):
        fig.add_scatter(x=steps, y=100 * r.marks[:, i] / r.marks[0, i], name=f"{a} mark", row=1, col=1)
        fig.add_scatter(x=steps, y=100 * r.exogenous[:, i] / r.exogenous[0, i], name=f"{a} exogenous",
                        line={"dash": "dot"}, row=1, col=1)
        fig.add_bar(x=steps, y=r.liquidated_notional[:, i], name=f"{a} liquidated", row=2, col=1)
    fig.add_scatter(x=steps, y=r.insurance_fund, name="insurance fund", row=3, col=1)
    for k, m in enumerate(r.liquidation_maps):
        mid = 0.5 * (m.edges[1:] + m.edges[:-1])
        fig.add_bar(x=mid, y=m.long, name=f"{m.asset} longs", row=4 + k, col=1)
        fig.add_bar(x=mid, y=-m.short, name=f"{m.asset} shorts", row=4 + k, col=1)
    amp = ", ".join(f"{a} {v:.2f}×" for a, v in r.amplification().items() if v is not None)
    fig.update_layout(height=300 * (3 + n_maps), barmode="relative",
                      title=f"Cascade '{r.scenario}': {len(r.liquidated_accounts):,} of {r.n_accounts:,} "
                            f"accounts liquidated, amplification {amp or 'n/a'}")
    return fig.to_html(include_plotlyjs=True, full_html=True)
