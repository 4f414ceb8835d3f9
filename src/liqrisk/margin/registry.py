"""Venue name → rule set, with the user's parameter overrides applied."""
from __future__ import annotations

from liqrisk.margin.base import RuleSet, UnknownVenue, VenueParams
from liqrisk.margin.aave_v3 import AaveV3
from liqrisk.margin.binance import BinanceCOINM, BinanceUSDM
from liqrisk.margin.bitget import Bitget
from liqrisk.margin.bitmex import BitMEX
from liqrisk.margin.bybit import BybitInverse, BybitLinear
from liqrisk.margin.compound_v3 import CompoundV3
from liqrisk.margin.deribit import Deribit
from liqrisk.margin.fee_tier import WholeTierFeeRuleSet
from liqrisk.margin.gate import Gate
from liqrisk.margin.hyperliquid import Hyperliquid
from liqrisk.margin.kraken_futures import KrakenFutures
from liqrisk.margin.kucoin import KuCoin
from liqrisk.margin.maker import Maker
from liqrisk.margin.okx import OKX
from liqrisk.margin.phemex import Phemex
from liqrisk.margin.span import Span
from liqrisk.margin.tiers import TierTable

RULE_SETS: dict[str, type[RuleSet]] = {cls.name: cls for cls in (
    BinanceUSDM, BinanceCOINM, BybitLinear, BybitInverse, OKX, Deribit, Hyperliquid, BitMEX,
    Gate, Bitget, KuCoin, Phemex, KrakenFutures, AaveV3, CompoundV3, Maker, Span)}


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
            if venue.version not in cls.versions:
                raise UnknownVenue(f"unknown rule version '{venue.version}' for '{name}'"
                                   + (f" (known: {', '.join(cls.versions)})" if cls.versions else ""))
            params.version = venue.version
        if venue.brackets:
            dedu = cls.brackets_deduct(params.version)     # a given cum kept as published, else derived
            params.brackets = {}
            for sym, rows in venue.brackets.items():
                by_size = any(getattr(r, "unit", "notional") == "size" for r in rows)
                if by_size and not issubclass(cls, WholeTierFeeRuleSet):
                    raise UnknownVenue(f"brackets '{sym}': tiers in contracts are OKX's form; "
                                       f"'{name}' reads its tiers at the notional")
                given = [i for i, r in enumerate(rows) if getattr(r, "cum", None) is not None]
                if given and not dedu:
                    raise UnknownVenue(f"brackets '{sym}' tier {given[0] + 1}: '{name}'"
                                       f"{' ' + params.version if params.version else ''} applies the tier "
                                       f"rate to the whole position: there is no 'cum' deduction")
                # tiers in contracts (OKX's format, ContractTiers) include their maxSz
                params.brackets[sym.upper()] = TierTable.from_rows(
                    [_tier_row(r) for r in rows], deduction=dedu, by_size=by_size,
                    cap_inclusive=by_size or cls.tier_cap_inclusive)
        for key in ("taker_fee", "liquidation_fee", "default_leverage"):
            if getattr(venue, key) is not None:
                setattr(params, key, getattr(venue, key))
        params.reserves = {a.upper(): dict(p) for a, p in (getattr(venue, "reserves", None) or {}).items()}
        params.e_mode = getattr(venue, "e_mode", None)
        params.portfolio_margin = dict(getattr(venue, "portfolio_margin", None) or {})
    return cls(params)
