"""Adapter: saved Hyperliquid ``clearinghouseState`` answers → :class:`Population` (no network).

Shape (Hyperliquid info endpoint, "Retrieve a user's perpetuals account summary"):
``{"marginSummary", "crossMarginSummary": {"accountValue", "totalRawUsd", ...},
"assetPositions": [{"position": {"coin", "szi", "entryPx", "leverage": {"type", "value",
"rawUsd"}, "liquidationPx", "marginUsed", "positionValue", "unrealizedPnl", "maxLeverage"},
"type": "oneWay"}], "withdrawable", ...}``. A file holds one state, a list of states, or a
mapping user → state.

Mapping: MMR = 1/(2·maxLeverage) of the position (flat tier). Cross wallet =
``crossMarginSummary.accountValue − Σ cross unrealizedPnl``. Isolated margin (at entry basis) =
``leverage.rawUsd + szi·entryPx`` (rawUsd is the isolated cash net of the position's entry
notional), else ``marginUsed − unrealizedPnl``. An account with isolated and cross positions
becomes two accounts ``<user>`` (cross) and ``<user>:isolated``.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from liqrisk.cascade.book import Population
from liqrisk.cascade.population import PopulationError, from_frame


def _f(x, field: str) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        raise PopulationError(field, f"not a number: {x!r}") from None


def clearinghouse_rows(user: str, state: dict) -> list[dict]:
    """Position-table rows (see :mod:`liqrisk.cascade.population`) of one user's state."""
    if not isinstance(state, dict) or "assetPositions" not in state:
        raise PopulationError("assetPositions", f"user {user}: not a clearinghouseState")
    cross = state.get("crossMarginSummary") or state.get("marginSummary") or {}
    rows, cross_upnl = [], 0.0
    for k, ap in enumerate(state["assetPositions"]):
        p = ap.get("position", {})
        where = f"assetPositions[{k}].position"
        szi = _f(p.get("szi"), f"{where}.szi")
        if szi == 0:
            continue
        lev = p.get("leverage") or {}
        mode = lev.get("type", "cross")
        upnl = _f(p.get("unrealizedPnl", 0.0), f"{where}.unrealizedPnl")
        entry = _f(p.get("entryPx"), f"{where}.entryPx")
        row = {"account_id": user, "venue": "hyperliquid", "mode": mode, "asset": str(p.get("coin")).upper(),
               "size": szi, "entry": entry, "max_leverage": _f(p.get("maxLeverage"), f"{where}.maxLeverage")}
        if mode == "isolated":
            raw = lev.get("rawUsd")
            row["isolated_margin"] = (_f(raw, f"{where}.leverage.rawUsd") + szi * entry if raw is not None
                                      else _f(p.get("marginUsed"), f"{where}.marginUsed") - upnl)
            row["account_id"] = f"{user}:isolated"
        else:
            row["isolated_margin"] = 0.0
            cross_upnl += upnl
        rows.append(row)
    wallet = _f(cross.get("accountValue", 0.0), "crossMarginSummary.accountValue") - cross_upnl
    for r in rows:
        r["collateral_usd"] = wallet if r["mode"] == "cross" else 0.0
    return rows


def load_clearinghouse_states(path: str | Path) -> Population:
    """Read one state, a list of states or ``{user: state}`` from a JSON file."""
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as e:
        raise PopulationError("accounts", f"not valid JSON: {e}") from None
    if isinstance(data, dict) and "assetPositions" in data:
        items = [("user0", data)]
    elif isinstance(data, list):
        items = [(f"user{i}", s) for i, s in enumerate(data)]
    elif isinstance(data, dict):
        items = list(data.items())
    else:
        raise PopulationError("accounts", "expected a clearinghouseState, a list or a mapping")
    rows = [r for user, s in items for r in clearinghouse_rows(str(user), s)]
    if not rows:
        raise PopulationError("assetPositions", "no open positions")
    return from_frame(pd.DataFrame(rows))
