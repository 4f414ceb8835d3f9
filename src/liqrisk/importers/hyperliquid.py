"""Hyperliquid ``clearinghouseState`` (info endpoint) → a portfolio document.

Wallet and isolated margins follow :func:`liqrisk.cascade.hyperliquid.clearinghouse_rows` (one
reading of the venue's answer for both the cascade and the portfolio); the mark of each coin is
``positionValue / |szi|``; the maintenance rate of each position is the venue rule's
``1/(2·maxLeverage)`` (:class:`liqrisk.margin.hyperliquid.Hyperliquid`). A file holds one state or
``{user: state}``; each user becomes one cross account (isolated positions carry their margin).
"""
from __future__ import annotations

from liqrisk.cascade.hyperliquid import clearinghouse_rows
from liqrisk.cascade.population import PopulationError
from liqrisk.importers import as_of_text, finish, number
from liqrisk.io.portfolio import InputError
from liqrisk.margin.hyperliquid import Hyperliquid


def from_state(data, as_of=None, vols: dict | None = None) -> tuple[dict, list[str]]:
    states = [("hyperliquid", data)] if isinstance(data, dict) and "assetPositions" in data else \
        list(data.items()) if isinstance(data, dict) else None
    if not states:
        raise InputError(["clearinghouseState: expected one state (with assetPositions) or {user: state}"])
    accounts, marks, times = [], {}, []
    for user, state in states:
        try:
            rows = clearinghouse_rows(str(user), state)
        except PopulationError as e:
            raise InputError([str(e) if f"user {user}:" in str(e) else f"user {user}: {e}"]) from None
        if not rows:
            continue
        cross = state.get("crossMarginSummary") or state.get("marginSummary") or {}     # checked by clearinghouse_rows
        wallet = next((r["collateral_usd"] for r in rows if r["mode"] == "cross"),
                      number(cross.get("accountValue", 0), f"user {user}: crossMarginSummary.accountValue"))
        positions = []
        for r in rows:
            lev = r["max_leverage"]
            pos = {"symbol": r["asset"], "kind": "perp", "size": r["size"], "entry": r["entry"],
                   "mmr": float(Hyperliquid.rows_to_table([(0.0, 1e18, lev)]).mmr[0])}
            if r["mode"] == "isolated":
                pos["margin"] = r["isolated_margin"]
            positions.append(pos)
        for k, ap in enumerate(state["assetPositions"]):
            p = ap.get("position", {})
            szi = number(p.get("szi"), f"user {user}: assetPositions[{k}].position.szi")
            if szi:
                marks.setdefault(str(p.get("coin")).upper(), number(p.get("positionValue"),
                                 f"user {user}: assetPositions[{k}].position.positionValue") / abs(szi))
        accounts.append({"id": str(user), "venue": "hyperliquid", "mode": "cross",
                         "collateral": {"USDC": wallet}, "positions": positions})
        if state.get("time"):
            times.append(number(state["time"], f"user {user}: time"))
    return finish(as_of_text(as_of if as_of is not None else (max(times) if times else None)), marks,
                  accounts, vols), []
