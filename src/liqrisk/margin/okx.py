"""OKX perpetual/expiry swaps, isolated and cross (single-currency margin mode).

Rule version: OKX "Margin ratio and liquidation" help pages as published up to 2026-11. The
position tier's MMR applies to the *whole* position (no deduction); the liquidation trigger adds
the taker fee of closing: ``ratio = (margin + uPnL)/(notional_at_mark·(MMR + taker_fee))``,
liquidated at ratio ≤ 100%. Linear ``BTC-USDT-SWAP`` (USDT), inverse ``BTC-USD-SWAP`` (coin,
size in USD face). Our *maintenance_margin* therefore includes the fee term. OKX counts tiers
in position size (contracts), so the tier does not move with the price: we read our USD tier
table at the position's size valued at entry (|Q|·EP linear, USD face inverse).
"""
from __future__ import annotations

from liqrisk.margin.base import (INVERSE, LINEAR, MM_WHOLE_TIER_FEE, NOTIONAL_SIZE, PositionTerms,
                                 RuleSet)
from liqrisk.margin.tiers import TierTable


class OKX(RuleSet):
    name = "okx"
    contract = LINEAR
    defaults_key = "okx"
    default_taker_fee = 0.0005
    default_leverage = 10.0

    def contract_of(self, pos) -> int:
        if pos.contract is not None or pos.kind == "option":
            return super().contract_of(pos)
        sym = (pos.symbol or "").upper()
        return INVERSE if "-USD-" in sym or sym.endswith("-USD") else LINEAR

    def settlement_currency(self, account) -> str:
        if any(self.contract_of(p) == INVERSE for p in account.positions):
            return self.underlying_of(account.positions[0])
        return "USDT"

    @staticmethod
    def rows_to_table(rows, deduction=False) -> TierTable:
        return RuleSet.rows_to_table(rows, deduction=False)

    def tier_table(self, pos) -> TierTable:
        t = super().tier_table(pos)
        return TierTable(t.floor, t.cap, t.mmr, 0 * t.cum, t.max_leverage, deduction=False)

    def terms(self, pos, account, years, vol) -> PositionTerms:
        contract = self.contract_of(pos)
        size_notional = abs(pos.size) * pos.entry if contract == LINEAR else abs(pos.size)
        return PositionTerms(contract=contract, qty=pos.size, entry=pos.entry,
                             mm_code=MM_WHOLE_TIER_FEE, tiers=self.tier_table(pos),
                             notional_mode=NOTIONAL_SIZE, p1=self.params.taker_fee, p2=size_notional)


def isolated_linear_liquidation_price(entry: float, qty: float, margin: float, mmr: float,
                                      taker_fee: float) -> float | None:
    """Solve the OKX isolated margin ratio = 1 (published): long ``(EP − M/Q)/(1 − MMR − fee)``,
    short ``(EP + M/Q)/(1 + MMR + fee)``."""
    q = abs(qty)
    lp = ((entry - margin / q) / (1 - mmr - taker_fee) if qty > 0
          else (entry + margin / q) / (1 + mmr + taker_fee))
    return lp if lp > 0 else None
