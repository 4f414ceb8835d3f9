"""KuCoin USDT-margined perpetual futures (linear), isolated and cross.

Rule versions (``venue: {name: kucoin, version: ...}``):

* ``2025-05`` (default; KuCoin upgraded isolated margin on 2025-05-22): maintenance margin on
  the *mark* value plus the fee of closing, ``LP = (notional − margin)/[Q·(1 − side·MMR −
  side·fee)]`` — the fee-inclusive form of :mod:`liqrisk.margin.fee_tier`. KuCoin's published
  cross-margin reference price (help centre "Liquidation Price in Cross Margin Mode") allocates
  the total margin to positions by mark value (``AMR``) and uses the taker fee:
  :func:`cross_reference_liquidation_price`.
* ``2023``: isolated with MM on the *entry* value, ``LP = EP ∓ (IM − MM)/(Vol·S)``,
  ``MM = HP·Vol·S·MMRate`` (help centre "How to Calculate the Liquidation Price for KuCoin
  Contracts"; published example: short 5 × 0.001 BTC @ 28,000, 100×, MMR 0.4% → 28,168).
  ``MMRate`` is the maintenance margin rate of the risk-limit level containing the position value
  and applies to the *whole* value: no deduction (unlike Bybit's and Phemex's tiers). KuCoin
  publishes a level as only ``minRiskLimit``/``maxRiskLimit``/``maintainMargin`` rate
  (``GET /api/v1/contracts/risk-limit/{symbol}``, no deduction field), and its help centre
  charges ``position value × MMR`` of the level ("How to Calculate Futures Liquidation Price":
  300,000 USDT in level 1 at 0.4% → 1,200 USDT).
Risk-limit levels: XBTUSDTM as KuCoin's API specification gives ``GET /api/v1/contracts/risk-limit/
XBTUSDTM`` (twelve levels, ≈ 2024-10; :mod:`~liqrisk.margin.recorded`), other symbols
representative defaults.
"""
from __future__ import annotations

from liqrisk.margin.base import (LINEAR, MM_ENTRY_VALUE, PositionTerms, entry_value_rate,
                                 underlying_from_symbol)
from liqrisk.margin.fee_tier import WholeTierFeeRuleSet

VERSIONS = ("2025-05", "2023")


class KuCoin(WholeTierFeeRuleSet):
    name = "kucoin"
    contract = LINEAR
    #: USDT-margined perpetuals XBTUSDTM, ETHUSDTM and USDC-margined XBTUSDCM (API ``symbol``)
    symbol_forms = ((r"[A-Z0-9]+USD[TC]M", "XBTUSDTM"),)
    defaults_key = "kucoin"
    default_taker_fee = 0.0006
    default_leverage = 20.0
    versions = VERSIONS
    #: a level includes its ``maxRiskLimit`` (KuCoin API docs, GET /api/v1/contracts/risk-limit/
    #: {symbol}: "maxRiskLimit — Upper limit (includes)"; ADAUSDTM level 1 0–500, level 2 from 500)
    tier_cap_inclusive = True

    def underlying_of(self, pos) -> str | None:
        """KuCoin symbols end in M (XBTUSDTM, ETHUSDTM)."""
        if pos.underlying:
            return pos.underlying.upper()
        s = pos.symbol.upper()
        return underlying_from_symbol(s[:-1] if s.endswith(("USDTM", "USDCM", "USDM")) else s)

    def terms(self, pos, account, years, vol) -> PositionTerms:
        if self.version == "2025-05":
            return super().terms(pos, account, years, vol)
        # the whole-position table has no deduction (cum ≡ 0): p1 is the level's MMR
        return PositionTerms(contract=LINEAR, qty=pos.size, entry=pos.entry, mm_code=MM_ENTRY_VALUE,
                             p1=entry_value_rate(self.tier_table(pos), abs(pos.size) * pos.entry))


def isolated_2023_liquidation_price(entry: float, qty: float, leverage: float, mmr: float) -> float:
    """KuCoin 2023 isolated linear: ``LP = EP − side·(IM − MM)/Q`` with IM = EP·Q/L, MM = EP·Q·MMR."""
    side = 1.0 if qty > 0 else -1.0
    q = abs(qty)
    return entry - side * (entry * q / leverage - entry * q * mmr) / q


def cross_reference_liquidation_price(mark: float, qty: float, amr: float, mmr: float,
                                      taker_fee: float) -> float:
    """KuCoin's published cross-margin reference price of one linear position:
    ``(MV − |MV|·AMR)/(1 − side·MMR − side·fee)/Q`` with MV = Q·mark (signed) and AMR = total
    cross margin / Σ|MV| — the isolated fee-inclusive price of that position with margin |MV|·AMR."""
    side = 1.0 if qty > 0 else -1.0
    mv = qty * mark
    return (mv - abs(mv) * amr) / (1 - side * mmr - side * taker_fee) / qty
