"""Cascade populations from the portfolio input file (DESIGN.md, "The input file").

The cascade engine simulates linear USD-margined perps on ``binance-usdm``, ``hyperliquid`` and
``okx``; other venues/kinds in the file are skipped and listed in ``skipped``. Coin collateral is
valued once at the snapshot mark after its haircut (the engine's wallets are in USD). An isolated
position inside a cross account becomes its own isolated unit (``<id>#iso<n>``)."""
from __future__ import annotations

import pandas as pd

from liqrisk.cascade.population import Population, from_frame
from liqrisk.cascade.venues import VENUE_NAMES
from liqrisk.model import Portfolio
from liqrisk.margin.registry import rule_set_for


def population_rows(pf: Portfolio) -> tuple[list[dict], list[str]]:
    """Position-table rows for the cascade, and a line per skipped account/position."""
    rows, skipped = [], []
    for acc in pf.accounts:
        if acc.venue_name not in VENUE_NAMES:
            skipped.append(f"account '{acc.id}': venue '{acc.venue_name}' is not simulated by the cascade")
            continue
        rules = rule_set_for(acc.venue)
        wallet = sum(amount * (1 - haircut) * pf.price(ccy) for ccy, amount, haircut in acc.collateral_items())
        for n, pos in enumerate(acc.positions, 1):
            if pos.kind not in ("perp", "future") or rules.contract_of(pos) != 0:
                skipped.append(f"account '{acc.id}', position {n}: only linear perps are simulated")
                continue
            isolated = pos.margin is not None or acc.mode == "isolated"
            row = {"account_id": f"{acc.id}#iso{n}" if isolated and acc.mode == "cross" else acc.id,
                   "venue": acc.venue_name, "mode": "isolated" if isolated else "cross",
                   "collateral_usd": 0.0 if isolated and acc.mode == "cross" else wallet,
                   "asset": rules.underlying_of(pos), "size": pos.size, "entry": pos.entry,
                   "isolated_margin": pos.margin if isolated else 0.0}
            if pos.mmr is not None:
                row.update(mmr=pos.mmr, cum=pos.cum or 0.0)
            rows.append(row)
    return rows, skipped


def population_from_portfolio(pf: Portfolio) -> tuple[Population, list[str]]:
    """A cascade population from a validated portfolio file, with the skipped lines."""
    rows, skipped = population_rows(pf)
    return from_frame(pd.DataFrame(rows)), skipped
