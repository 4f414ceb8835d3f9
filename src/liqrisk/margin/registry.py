"""Venue name → rule set, with the user's parameter overrides applied."""
from __future__ import annotations

from liqrisk.margin.base import RuleSet, UnknownVenue, VenueParams
from liqrisk.margin.binance import BinanceCOINM, BinanceUSDM
from liqrisk.margin.bitmex import BitMEX
from liqrisk.margin.bybit import VERSIONS as BYBIT_VERSIONS, BybitInverse, BybitLinear
from liqrisk.margin.deribit import Deribit
from liqrisk.margin.hyperliquid import Hyperliquid
from liqrisk.margin.okx import OKX
from liqrisk.margin.tiers import TierTable

RULE_SETS: dict[str, type[RuleSet]] = {cls.name: cls for cls in (
    BinanceUSDM, BinanceCOINM, BybitLinear, BybitInverse, OKX, Deribit, Hyperliquid, BitMEX)}


_TIER_FIELDS = ("notional_floor", "notional_cap", "maint_margin_ratio", "cum", "max_leverage")


def _tier_row(row) -> dict:
    """A tier (model :class:`~liqrisk.model.Tier` or the input file's row) as a plain dict."""
    return {k: getattr(row, k) for k in _TIER_FIELDS}


def rule_set_for(venue) -> RuleSet:
    """A rule set from a venue name or a venue (:class:`~liqrisk.model.Venue`, or the input
    file's ``VenueSpec``): name + overrides."""
    name = venue if isinstance(venue, str) else venue.name
    cls = RULE_SETS.get(name.lower())
    if cls is None:
        raise UnknownVenue(f"unknown venue '{name}' (known: {', '.join(sorted(RULE_SETS))})")
    params = VenueParams(taker_fee=cls.default_taker_fee, liquidation_fee=cls.default_liquidation_fee,
                         default_leverage=cls.default_leverage)
    if not isinstance(venue, str):
        if venue.version is not None:
            if not issubclass(cls, (BybitLinear, BybitInverse)) or venue.version not in BYBIT_VERSIONS:
                raise UnknownVenue(f"unknown rule version '{venue.version}' for '{name}'"
                                   + (f" (known: {', '.join(BYBIT_VERSIONS)})" if name.startswith("bybit") else ""))
            params.version = venue.version
        if venue.brackets:
            dedu = cls is not OKX
            params.brackets = {sym.upper(): TierTable.from_rows([_tier_row(r) for r in rows], deduction=dedu)
                               for sym, rows in venue.brackets.items()}
        for key in ("taker_fee", "liquidation_fee", "default_leverage"):
            if getattr(venue, key) is not None:
                setattr(params, key, getattr(venue, key))
    return cls(params)
