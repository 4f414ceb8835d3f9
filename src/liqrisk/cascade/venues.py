"""Venue liquidation rules as small integer codes and parameter arrays for the cascade kernels.

Rule versions follow docs/venues.md (as published up to 2026-11):

* ``binance-usdm`` — partial liquidation by stepping a position down one bracket (one IOC
  order); full liquidation if that does not restore ``equity > MM``. Clearance fee 0.5%.
* ``okx`` — the same tier step-down, only from tier 3 up (1-based); whole-position MMR.
* ``hyperliquid`` — positions above 100k USD are first liquidated 20% with a 30 s cooldown
  (one engine time step here); backstop (full) when equity < 2/3 of MM; no liquidation fee.

Tier tables and fees come from :mod:`liqrisk.margin` (the rule sets' bundled defaults).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from types import SimpleNamespace

import numpy as np

from liqrisk.margin.registry import rule_set_for
from liqrisk.margin.tiers import TierTable

#: Liquidation styles understood by the kernels.
STEP_DOWN_TIER = 0
HYPERLIQUID_20PCT = 1


@dataclass(frozen=True)
class VenueRule:
    """One venue's liquidation parameters (kernel inputs)."""

    name: str
    style: int
    fee_rate: float            # liquidation fee, fraction of liquidated notional, paid to the fund
    partial_min_tier: int = 1  # 0-based tier from which a step-down is tried (STEP_DOWN_TIER)
    partial_threshold_usd: float = 100_000.0  # HYPERLIQUID_20PCT: positions above this …
    partial_fraction: float = 0.2             # … are first reduced by this fraction
    backstop_ratio: float = 2.0 / 3.0         # full liquidation when equity < ratio·MM


VENUE_NAMES = ("binance-usdm", "hyperliquid", "okx")


@lru_cache(maxsize=None)
def venue_rule(name: str) -> VenueRule:
    """The rule for a venue name in :data:`VENUE_NAMES` (fees from the margin rule sets)."""
    if name not in VENUE_NAMES:
        raise KeyError(f"unknown cascade venue '{name}' (known: {', '.join(VENUE_NAMES)})")
    fee = float(rule_set_for(name).params.liquidation_fee)
    if name == "hyperliquid":
        return VenueRule(name, HYPERLIQUID_20PCT, fee)
    return VenueRule(name, STEP_DOWN_TIER, fee, partial_min_tier=2 if name == "okx" else 1)


@lru_cache(maxsize=None)
def default_tiers(venue: str, asset: str) -> TierTable:
    """The margin rule set's bundled tier table for a perp on ``asset`` (e.g. BTC → BTCUSDT)."""
    pos = SimpleNamespace(mmr=None, cum=None, symbol=None, underlying=asset, kind="perp", contract=None)
    return rule_set_for(venue).tier_table(pos)


def rule_arrays(names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Per-venue-code parameter arrays (index = venue code = position in ``names``)."""
    rules = [venue_rule(n) for n in names]
    return {
        "style": np.array([r.style for r in rules], np.int64),
        "fee": np.array([r.fee_rate for r in rules]),
        "min_tier": np.array([r.partial_min_tier for r in rules], np.int64),
        "threshold": np.array([r.partial_threshold_usd for r in rules]),
        "fraction": np.array([r.partial_fraction for r in rules]),
        "backstop": np.array([r.backstop_ratio for r in rules]),
    }
