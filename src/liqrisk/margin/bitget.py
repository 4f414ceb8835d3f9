"""Bitget USDT-M perpetual futures (linear), isolated and cross.

Rule version: Bitget "Futures: estimated liquidation price" (2025-09-18): isolated
``LP = [margin − size·EP·direction]/[size·(MMR + TakerFeeRatio − direction)]`` (direction +1 long,
−1 short) — the fee-inclusive whole-position form (:mod:`liqrisk.margin.fee_tier`); liquidation
when margin rate ``(position margin + uPnL)/position value at mark`` reaches MMR + fee. Cross
mode: every cross position shares the account assets. The 2025-11-10 tiered MM of classic
accounts is not modelled. Position tiers: BTCUSDT as recorded from ``GET /api/v2/mix/market/
query-position-lever`` on 2026-09-25 (:mod:`~liqrisk.margin.recorded`), other symbols
representative defaults.
"""
from __future__ import annotations

from liqrisk.margin.base import LINEAR
from liqrisk.margin.fee_tier import WholeTierFeeRuleSet


class Bitget(WholeTierFeeRuleSet):
    name = "bitget"
    contract = LINEAR
    #: USDT-M perpetuals BTCUSDT (API v2 ``symbol``)
    symbol_forms = ((r"[A-Z0-9]+USDT", "BTCUSDT"),)
    defaults_key = "bitget"
    default_taker_fee = 0.0006
    default_leverage = 20.0
