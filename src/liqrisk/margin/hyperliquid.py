"""Hyperliquid USDC perpetuals (linear), cross and isolated.

Rule version: Hyperliquid docs "Liquidations" / "Margin tiers" as published up to 2026-11:
``MMR = 1/(2·max_leverage)`` of the tier (deduction form across tiers); liquidation when
account value < maintenance margin; published price
``LP = price − side·margin_available/size/(1 − l·side)`` with ``l = MMR``.
Liquidations go to the book; positions > 100k USD are first liquidated 20% (30 s cooldown).
"""
from __future__ import annotations

from liqrisk.margin.base import LINEAR, LIQ_FRACTION, LiquidationResponse, RuleSet
from liqrisk.margin.tiers import TierTable


class Hyperliquid(RuleSet):
    name = "hyperliquid"
    contract = LINEAR
    #: a perpetual is named by its coin (BTC, kPEPE; API ``coin``), a HIP-3 market by
    #: ``dex:ASSET`` (xyz:TSLA); no coin ends in a quote (every perp is quoted in USDC)
    symbol_forms = ((r"(?![A-Z0-9]*USD[TC]?$)[A-Z0-9]+", "BTC, kPEPE"), (r"[A-Z0-9]+:[A-Z0-9]+", "XYZ:TSLA"))
    defaults_key = "hyperliquid"
    default_taker_fee = 0.00045
    default_liquidation_fee = 0.0
    default_leverage = 20.0
    #: a tier includes its upper bound: the docs' margin-tier tables read "0-150M: 40x, >150M: 20x"
    #: (hyperliquid.gitbook.io/hyperliquid-docs/trading/margin-tiers), so a notional of exactly
    #: 150M is in the 40x tier; the next table row's ``lowerBound`` is that tier's cap
    tier_cap_inclusive = True
    #: market orders to the book; positions > 100k USD first 20% with a 30 s cooldown; the
    #: backstop (liquidator vault) takes the account when equity < 2/3 of MM; ADL last
    liquidation_response = LiquidationResponse(style=LIQ_FRACTION, threshold_usd=100_000.0, fraction=0.2,
                                               backstop_ratio=2.0 / 3.0, cooldown_s=30.0)

    def settlement_currency(self, account) -> str:
        return "USDC"

    @classmethod
    def rows_to_table(cls, rows, deduction=True) -> TierTable:
        """Rows (lowerBound, next lowerBound, maxLeverage) → MMR = 1/(2·maxLeverage)."""
        return super().rows_to_table([(r[0], r[1], 1.0 / (2.0 * r[2]), r[2]) for r in rows])


def liquidation_price(price: float, size: float, margin_available: float, mmr: float) -> float | None:
    """The published Hyperliquid formula; ``size`` signed, ``margin_available`` = account value
    (cross) or isolated margin (isolated) minus the maintenance margin at ``price``."""
    side = 1.0 if size > 0 else -1.0
    lp = price - side * margin_available / abs(size) / (1 - mmr * side)
    return lp if lp > 0 else None
