"""BitMEX XBTUSD-style inverse perpetuals (1 USD contracts), isolated.

Rule version: BitMEX "Risk Limits" and "Liquidation" pages as published up to 2026-11:
risk-limit steps raise MM and IM together — ``MM = base_mm + steps·step_rate``,
``IM = 1/leverage + steps·step_rate`` with steps = ceil((entry value − base limit)/step size)⁺.
MM is charged on the entry value; ``BP_long = EP/(1 + IMR)``, ``LP_long = EP/(1 + IMR − MMR)``
(shorts: signs flipped). Fees/funding may be folded into IMR/MMR by the user.
"""
from __future__ import annotations

import math

from liqrisk.margin.base import INVERSE, MM_ENTRY_VALUE, PositionTerms, RuleSet

BASE_MM = 0.005
STEP_RATE = 0.005
BASE_LIMIT_BTC = 200.0
STEP_SIZE_BTC = 100.0


def risk_limit_steps(entry_value_btc: float) -> int:
    """Number of risk-limit steps above the base limit for a position's entry value (coin)."""
    return max(0, math.ceil((entry_value_btc - BASE_LIMIT_BTC) / STEP_SIZE_BTC))


class BitMEX(RuleSet):
    name = "bitmex"
    contract = INVERSE
    default_source = "published risk-limit steps (base 200 BTC, step 100 BTC, +0.5%)"
    settles_in_coin = True
    default_leverage = 10.0
    default_taker_fee = 0.00075
    #: inverse perpetuals XBTUSD (API ``symbol``: the root XBT, ETH… then the quote)
    symbol_forms = ((r"[A-Z0-9]+USD", "XBTUSD"),)

    def position_problems(self, pos, account):
        if problem := self.symbol_problem(pos):
            return [(problem, "symbol")]
        out = [("options are not supported on 'bitmex'", "kind")] if pos.kind == "option" else []
        if pos.contract == "linear":
            out.append(("bitmex trades inverse contracts only", "contract"))
        return out

    def tier_table(self, pos):
        raise NotImplementedError("BitMEX uses risk-limit steps, not tiers")

    def parameter_source(self, pos) -> str:
        return "position override (mmr)" if pos.mmr is not None else self.default_source

    def _rates(self, pos, account) -> tuple[float, float]:
        steps = risk_limit_steps(abs(pos.size) / pos.entry)
        mmr = pos.mmr if pos.mmr is not None else BASE_MM + steps * STEP_RATE
        imr = 1.0 / self.leverage(pos, account) + steps * STEP_RATE
        return mmr, imr

    def terms(self, pos, account, years, vol) -> PositionTerms:
        mmr, _ = self._rates(pos, account)
        return PositionTerms(contract=INVERSE, qty=pos.size, entry=pos.entry,
                             mm_code=MM_ENTRY_VALUE, p1=mmr)

    def initial_margin(self, t, pos, account, price):
        _, imr = self._rates(pos, account)
        return abs(pos.size) / pos.entry * imr


def isolated_prices(entry: float, face: float, imr: float, mmr: float) -> tuple[float, float]:
    """(liquidation, bankruptcy) prices of an isolated inverse position (published form)."""
    if face > 0:
        return entry / (1 + imr - mmr), entry / (1 + imr)
    return entry / (1 - imr + mmr), entry / (1 - imr)
