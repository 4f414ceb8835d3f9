"""Gate USDT-margined perpetual futures (linear), isolated and cross.

Rule versions (``venue: {name: gate, version: ...}``):

* ``2025-07`` (default; Gate moved its futures to it in batches from 2025-07-29): the
  maintenance margin is **tiered** ("gradient") on the position value at mark, in the deduction
  form ``MM = value·MMR_k − deduction_k`` of the risk-limit tier k containing the value, plus the
  taker fee of closing it: liquidation when ``margin + uPnL ≤ value·(MMR_k + taker) − deduction_k``.
  Gate's contract pages: "calculated using a tiered approach … the MMR of the lowest tier,
  applying the next tier's MMR only to the portion exceeding the previous limit"; API v4
  ``GET /futures/{settle}/risk_limit_tiers`` gives each tier's ``deduction`` ("maintenance margin
  quick calculation deduction amount"), which in the API docs' example response equals
  ``deduction_k = deduction_{k−1} + risk_limit_{k−1}·(MMR_k − MMR_{k−1})`` (derived here from the
  tiers, :func:`~liqrisk.margin.tiers.cumulative_deduction`). Isolated closed form
  :func:`tiered_fee_linear_liquidation_price`. The closing-fee term is kept from ``2023``
  (inferred: no stored Gate text restates the trigger after the upgrade).
* ``2023``: help centre "Liquidation price calculation" as Gate support stated it on 2023-07-02:
  ``margin + uPnL ≤ value·(MMR + taker fee)`` with the MMR of the tier containing the entry value
  on the *whole* value, ``LP = (EP ∓ M/mult/pos)/[1 ∓ (MMR + taker)]``
  (:func:`~liqrisk.margin.fee_tier.fee_inclusive_linear_liquidation_price`).

Taker fee 0.075% (the rate the help centre quotes). Risk-limit tiers: BTC_USDT as recorded from
``GET /futures/usdt/risk_limit_tiers`` on 2026-09-25 (its first five tiers, to 3,000,000 USDT;
:mod:`~liqrisk.margin.recorded`), other contracts representative defaults.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from liqrisk.margin.base import LINEAR, MM_TIERS_AT_MARK, NOTIONAL_QUOTE, PositionTerms, RuleSet
from liqrisk.margin.fee_tier import WholeTierFeeRuleSet
from liqrisk.margin.tiers import TierTable, cumulative_deduction

VERSIONS = ("2025-07", "2023")


class Gate(WholeTierFeeRuleSet):
    name = "gate"
    contract = LINEAR
    #: USDT perpetuals BTC_USDT, delivery futures BTC_USDT_20261225 (API ``contract``)
    symbol_forms = ((r"[A-Z0-9]+_USDT", "BTC_USDT"), (r"[A-Z0-9]+_USDT_\d{8}", "BTC_USDT_20261225"))
    defaults_key = "gate"
    default_taker_fee = 0.00075
    default_leverage = 20.0
    versions = VERSIONS
    #: a tier includes its ``risk_limit`` (Gate help centre "Risk Limit", futures-logic/22162:
    #: "the user's position value cannot exceed the maximum limit of the chosen tier"; API
    #: ``risk_limit`` = "Position risk limit" of the tier)
    tier_cap_inclusive = True

    @classmethod
    def brackets_deduct(cls, version: str | None) -> bool:
        """``2025-07``: the user's brackets keep a given ``cum`` (Gate's ``deduction``) as
        Binance's do; ``2023``: whole-position rates."""
        return (version or VERSIONS[0]) != "2023"

    def tier_table(self, pos) -> TierTable:
        """``2023``: the whole-position table (no deduction). ``2025-07``: the same tiers with the
        deduction of each: the user's brackets as given (a ``cum`` kept, a missing one derived from
        the floors, as Binance's), the bundled tiers' derived from the published bounds (a tier's
        floor is the previous tier's ``risk_limit``, the stored cap); a per-position
        ``mmr``/``cum`` is taken as given."""
        if self.version == "2023":
            return super().tier_table(pos)
        t = RuleSet.tier_table(self, pos)
        if t.deduction:
            return t
        published_floor = np.concatenate([[0.0], t.cap[:-1]])
        return replace(t, cum=cumulative_deduction(published_floor, t.mmr), deduction=True)

    def position_problems(self, pos, account):
        if self.version == "2023":
            return super().position_problems(pos, account)
        out = RuleSet.position_problems(self, pos, account)
        if pos.kind in ("perp", "future") and pos.mmr is None and not out and self.tier_table(pos).by_size:
            out.append(("gate 2025-07 reads its tiers at the position value in USDT: give brackets "
                        "as notional, or use version 2023 for tiers in contracts", "symbol"))
        return out

    def terms(self, pos, account, years, vol) -> PositionTerms:
        if self.version == "2023":
            return super().terms(pos, account, years, vol)
        # value·(MMR_k + fee) − deduction_k: the fee raises every rate and leaves the deductions
        # (which depend on rate differences only) unchanged, so the table stays continuous
        t = self.tier_table(pos)
        return PositionTerms(contract=LINEAR, qty=pos.size, entry=pos.entry, mm_code=MM_TIERS_AT_MARK,
                             tiers=replace(t, mmr=t.mmr + self.closing_fee()),
                             notional_mode=NOTIONAL_QUOTE)


def tiered_fee_linear_liquidation_price(entry: float, qty: float, margin: float, mmr: float,
                                        fee: float, deduction: float) -> float | None:
    """Isolated linear LP solving ``margin + Q·(P − EP) = |Q|·P·(MMR + fee) − deduction`` (Gate
    ``2025-07``, the tier k of the value at the LP): long ``(EP − (M + d)/Q)/(1 − MMR − fee)``,
    short ``(EP + (M + d)/|Q|)/(1 + MMR + fee)`` — the ``2023`` form with the margin raised by the
    tier's deduction. None where it is ≤ 0."""
    q = abs(qty)
    cushion = (margin + deduction) / q
    lp = (entry - cushion) / (1 - mmr - fee) if qty > 0 else (entry + cushion) / (1 + mmr + fee)
    return lp if lp > 0 else None
