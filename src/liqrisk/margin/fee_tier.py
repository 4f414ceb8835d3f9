"""Whole-position tier rate plus the closing fee — the trigger OKX, Gate, Bitget and KuCoin publish.

A linear position is liquidated when ``margin + uPnL ≤ |Q|·P·(MMR + fee)``: the MMR of the
position's tier applies to the whole notional at mark (no ``cum`` deduction) and the venue adds
the fee of closing it (taker or liquidation fee rate). Solving at the mark gives the published
isolated closed form :func:`fee_inclusive_linear_liquidation_price`. The tier is read at the
position's size valued at entry (venues count tiers in contracts), so it does not move with price.
"""
from __future__ import annotations

from dataclasses import replace

from liqrisk.margin.base import LINEAR, MM_WHOLE_TIER_FEE, NOTIONAL_SIZE, PositionTerms, RuleSet
from liqrisk.margin.tiers import TierTable


class WholeTierFeeRuleSet(RuleSet):
    """Rule sets whose maintenance margin is ``notional_at_mark·(MMR_tier + fee)``."""

    @classmethod
    def brackets_deduct(cls, version: str | None) -> bool:
        return False

    @classmethod
    def rows_to_table(cls, rows, deduction=False) -> TierTable:
        return super().rows_to_table(rows, deduction=False)

    def tier_table(self, pos) -> TierTable:
        t = super().tier_table(pos)
        return replace(t, cum=0 * t.cum, deduction=False)

    def position_problems(self, pos, account):
        out = super().position_problems(pos, account)
        if pos.cum is not None:
            out.append((f"{self.name} applies the tier rate to the whole position: there is no 'cum' "
                        f"deduction", "cum"))
        return out

    def closing_fee(self) -> float:
        """The fee rate the trigger adds to the MMR (taker fee unless the venue says otherwise)."""
        return self.params.taker_fee

    def terms(self, pos, account, years, vol) -> PositionTerms:
        contract, tiers = self.contract_of(pos), self.tier_table(pos)
        size_notional = (abs(pos.size) * pos.entry if contract == LINEAR and not tiers.by_size
                         else abs(pos.size))
        return PositionTerms(contract=contract, qty=pos.size, entry=pos.entry,
                             mm_code=MM_WHOLE_TIER_FEE, tiers=tiers,
                             notional_mode=NOTIONAL_SIZE, p1=self.closing_fee(), p2=size_notional)


def fee_inclusive_linear_liquidation_price(entry: float, qty: float, margin: float, mmr: float,
                                           fee: float) -> float | None:
    """Isolated linear LP solving ``margin + Q·(P − EP) = |Q|·P·(MMR + fee)``: long
    ``(EP − M/Q)/(1 − MMR − fee)``, short ``(EP + M/Q)/(1 + MMR + fee)`` (OKX, Gate, Bitget and
    KuCoin publish this form). None where it is ≤ 0."""
    q = abs(qty)
    lp = ((entry - margin / q) / (1 - mmr - fee) if qty > 0
          else (entry + margin / q) / (1 + mmr + fee))
    return lp if lp > 0 else None
