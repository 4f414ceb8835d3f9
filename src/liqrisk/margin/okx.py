"""OKX perpetual/expiry swaps, isolated and cross (single-currency margin mode).

Rule version: OKX "Margin ratio and liquidation" help pages as published up to 2026-11. The
position tier's MMR applies to the *whole* position (no deduction); the liquidation trigger adds
the taker fee of closing: ``ratio = (margin + uPnL)/(notional_at_mark·(MMR + taker_fee))``,
liquidated at ratio ≤ 100%. Linear ``BTC-USDT-SWAP`` (USDT), inverse ``BTC-USD-SWAP`` (coin,
size in USD face). Our *maintenance_margin* therefore includes the fee term. OKX counts tiers
in position size (contracts), so the tier does not move with the price: we read our USD tier
table at the position's size valued at entry (|Q|·EP linear, USD face inverse).
``mode: portfolio`` is OKX portfolio margin (risk units, :mod:`liqrisk.margin.okx_pm`).
"""
from __future__ import annotations

from liqrisk.margin import okx_pm
from liqrisk.margin.base import INVERSE, LINEAR, LIQ_STEP_DOWN, LiquidationResponse
from liqrisk.margin.risk_unit import RiskUnitPortfolio
from liqrisk.margin.fee_tier import WholeTierFeeRuleSet, fee_inclusive_linear_liquidation_price


class OKX(RiskUnitPortfolio, WholeTierFeeRuleSet):
    name = "okx"
    contract = LINEAR
    symbol_forms = ((r"[A-Z0-9]+-USD[TC]?-SWAP", "BTC-USDT-SWAP, BTC-USD-SWAP"),
                    (r"[A-Z0-9]+-USD[TC]?-\d{6}", "BTC-USD-261225"))
    defaults_key = "okx"
    default_taker_fee = 0.0005
    default_leverage = 10.0
    #: a tier includes its ``maxSz`` (GET /api/v5/public/position-tiers: integer steps, tier 1
    #: minSz 0 – maxSz 2,000, tier 2 minSz 2,001: 2,000 contracts is tier 1)
    tier_cap_inclusive = True
    #: partial liquidation (reduce by tiers) from tier 3 up; full at the bankruptcy price otherwise
    liquidation_response = LiquidationResponse(style=LIQ_STEP_DOWN, min_tier=2)

    def contract_of(self, pos) -> int:
        if pos.contract is not None or pos.kind == "option":
            return super().contract_of(pos)
        sym = (pos.symbol or "").upper()
        return INVERSE if "-USD-" in sym or sym.endswith("-USD") else LINEAR

    pm = okx_pm

    def settlement_currency(self, account) -> str:
        if account.mode == "portfolio":
            return super().settlement_currency(account)
        inverse = [p for p in account.positions if self.contract_of(p) == INVERSE]
        return self.underlying_of(inverse[0]) if inverse else super().settlement_currency(account)

    def account_problems(self, account) -> list[str]:
        """Single-currency margin: USDT-margined (linear) and coin-margined (inverse) swaps live
        in separate accounts, and an inverse account holds its coin as margin (portfolio margin:
        one multi-currency account, :mod:`~liqrisk.margin.risk_unit`)."""
        if account.mode == "portfolio":
            return super().account_problems(account)
        kinds = {self.contract_of(p) for p in account.positions if p.kind != "spot"}
        if kinds == {LINEAR, INVERSE}:
            return ["field 'positions': linear (USDT) and inverse (coin) OKX swaps are margined in "
                    "different currencies; put them in separate accounts"]
        if kinds == {INVERSE}:
            coins = sorted({self.underlying_of(p) for p in account.positions})
            if len(coins) > 1:
                return [f"field 'positions': inverse swaps on {', '.join(coins)} need one account per coin"]
            return [f"field 'collateral.{c}': a {coins[0]}-margined OKX account holds {coins[0]}, not {c}"
                    for c, _, _ in account.collateral_items() if c != coins[0]]
        return []

    def position_problems(self, pos, account):
        return [p for p in super().position_problems(pos, account) if p[1] != "contract"]


isolated_linear_liquidation_price = fee_inclusive_linear_liquidation_price
