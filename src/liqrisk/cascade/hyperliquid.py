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

import math
from pathlib import Path

import pandas as pd

from liqrisk.cascade.book import Population
from liqrisk.cascade.population import PopulationError, from_frame
from liqrisk.io import limits
from liqrisk.io.limits import AMOUNT_MAX


def _f(x, field: str) -> float:
    """A number of the state: a JSON number or numeric text (the API sends both), finite."""
    if isinstance(x, bool) or not isinstance(x, (int, float, str)):
        raise PopulationError(field, f"not a number: {str(x)[:60]!r}")
    try:
        v = float(x)
    except (ValueError, OverflowError):
        raise PopulationError(field, f"not a number: {str(x)[:60]!r}") from None
    if not math.isfinite(v) or abs(v) > AMOUNT_MAX:
        raise PopulationError(field, f"{v:g} is not a finite number of magnitude ≤ {AMOUNT_MAX:g}")
    return v


def _mapping(x, field: str) -> dict:
    if x is None:
        return {}
    if not isinstance(x, dict):
        raise PopulationError(field, "must be an object")
    return x


def clearinghouse_rows(user: str, state: dict) -> list[dict]:
    """Position-table rows (see :mod:`liqrisk.cascade.population`) of one user's state."""
    if not isinstance(state, dict) or "assetPositions" not in state:
        raise PopulationError("assetPositions", f"user {user}: not a clearinghouseState")
    if not isinstance(state["assetPositions"], list):
        raise PopulationError("assetPositions", f"user {user}: must be a list")
    cross = _mapping(state.get("crossMarginSummary") or state.get("marginSummary"), f"user {user}: crossMarginSummary")
    rows, cross_upnl = [], 0.0
    for k, ap in enumerate(state["assetPositions"]):
        where = f"user {user}: assetPositions[{k}].position"
        p = _mapping(_mapping(ap, f"user {user}: assetPositions[{k}]").get("position"), where)
        szi = _f(p.get("szi"), f"{where}.szi")
        if szi == 0:
            continue
        lev = _mapping(p.get("leverage"), f"{where}.leverage")
        mode = lev.get("type", "cross")
        if mode not in ("cross", "isolated"):
            raise PopulationError(f"{where}.leverage.type", f"must be cross or isolated, got {str(mode)[:40]!r}")
        if not isinstance(p.get("coin"), str) or not p["coin"]:
            raise PopulationError(f"{where}.coin", "must be a coin name")
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
    wallet = _f(cross.get("accountValue", 0.0), f"user {user}: crossMarginSummary.accountValue") - cross_upnl
    for r in rows:
        r["collateral_usd"] = wallet if r["mode"] == "cross" else 0.0
    return rows


def load_clearinghouse_states(path: str | Path) -> Population:
    """Read one state, a list of states or ``{user: state}`` from a JSON file."""
    from liqrisk.io.documents import DocumentError, load_document
    try:
        data = load_document(path, "Hyperliquid state file")
    except DocumentError as e:
        raise PopulationError("accounts", str(e)) from None
    if isinstance(data, dict) and "assetPositions" in data:
        items = [("user0", data)]
    elif isinstance(data, list):
        items = [(f"user{i}", s) for i, s in enumerate(data)]
    elif isinstance(data, dict):
        items = list(data.items())
    else:
        raise PopulationError("accounts", "expected a clearinghouseState, a list or a mapping")
    lim = limits.current()
    if len(items) > lim.max_population:
        raise PopulationError("accounts", lim.exceeded("max_population", f"{len(items):,} users"))
    rows = [r for user, s in items for r in clearinghouse_rows(str(user), s)]
    if not rows:
        raise PopulationError("assetPositions", "no open positions")
    return from_frame(pd.DataFrame(rows))
