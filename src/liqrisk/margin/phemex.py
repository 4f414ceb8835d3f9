"""Phemex USDT-M perpetual futures (linear), isolated and cross.

Rule version: Phemex help centre "How are liquidation prices calculated" and "Leverage, IM and MM
(USDT-M)" as published up to 2025: maintenance margin tiered in the deduction form,
``MM = position value·MMR − maintenance amount`` (published: BTCUSDT position value 3,000,000
with tier 1 up to 2,000,000 at 0.50% and tier 2 at 0.75% → MM 17,500), evaluated on the *open*
(entry) value, so the isolated linear price is ``LV = OV ± OV·MMR ∓ OV/Lev``, ``LP = LV/Q``
(long: ``EP·(1 + MMR − 1/L)``). Tiers: BTCUSDT as recorded from ``GET /public/products``
(``riskLimitsV2``, 2,000,000 … 20,000,000 USDT, 2023; :mod:`~liqrisk.margin.recorded`), its first
two tiers the published ones; other symbols representative.
"""
from __future__ import annotations

from liqrisk.margin.base import LINEAR, MM_ENTRY_VALUE, PositionTerms, RuleSet, entry_value_rate


class Phemex(RuleSet):
    name = "phemex"
    contract = LINEAR
    #: USDT-M perpetuals BTCUSDT, u1000PEPEUSDT (API ``symbol``)
    symbol_forms = ((r"[A-Z0-9]+USDT", "BTCUSDT"),)
    defaults_key = "phemex"
    default_taker_fee = 0.0006
    default_leverage = 20.0

    def terms(self, pos, account, years, vol) -> PositionTerms:
        """MM on the open value in the deduction form of its tier, as a rate on that value."""
        return PositionTerms(contract=LINEAR, qty=pos.size, entry=pos.entry, mm_code=MM_ENTRY_VALUE,
                             p1=entry_value_rate(self.tier_table(pos), abs(pos.size) * pos.entry))


def isolated_linear_liquidation_price(entry: float, qty: float, leverage: float, mmr: float) -> float:
    """Phemex published isolated linear: long ``(OV + OV·MMR − OV/L)/Q``, short
    ``(OV − OV·MMR + OV/L)/Q`` with OV = Q·EP."""
    side = 1.0 if qty > 0 else -1.0
    ov = abs(qty) * entry
    return (ov + side * (ov * mmr - ov / leverage)) / abs(qty)
