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
from liqrisk.margin.base import (INVERSE, INVERSE_OPTION, LINEAR, LIQ_STEP_DOWN, MM_NONE,
                                 LiquidationResponse, PositionTerms)
from liqrisk.margin.fee_tier import WholeTierFeeRuleSet, fee_inclusive_linear_liquidation_price


class OKX(WholeTierFeeRuleSet):
    name = "okx"
    contract = LINEAR
    defaults_key = "okx"
    default_taker_fee = 0.0005
    default_leverage = 10.0
    #: partial liquidation (reduce by tiers) from tier 3 up; full at the bankruptcy price otherwise
    liquidation_response = LiquidationResponse(style=LIQ_STEP_DOWN, min_tier=2)

    def contract_of(self, pos) -> int:
        if pos.contract is not None or pos.kind == "option":
            return super().contract_of(pos)
        sym = (pos.symbol or "").upper()
        return INVERSE if "-USD-" in sym or sym.endswith("-USD") else LINEAR

    supports_portfolio = True

    def settlement_currency(self, account) -> str:
        if account.mode == "portfolio":
            return "USD"                  # one USD-valued account: linear, inverse and options
        inverse = [p for p in account.positions if self.contract_of(p) == INVERSE]
        return self.underlying_of(inverse[0]) if inverse else "USDT"

    def account_problems(self, account) -> list[str]:
        """Single-currency margin: USDT-margined (linear) and coin-margined (inverse) swaps live
        in separate accounts, and an inverse account holds its coin as margin. Portfolio margin
        is one multi-currency account."""
        if account.mode == "portfolio":
            return self._portfolio_problems(account)
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
        out = [p for p in super().position_problems(pos, account) if p[1] != "contract"]
        if account.mode == "portfolio":
            out = [p for p in out if p[1] != "kind" and p[1] != "symbol"]
            if pos.kind == "spot":
                out.append(("spot holdings of an OKX portfolio-margin account go in 'collateral'", "kind"))
            if pos.margin is not None:
                out.append(("portfolio margin has no isolated positions", "margin"))
        return out

    # ---- portfolio margin (risk units per underlying) -----------------------------------------
    def _portfolio_problems(self, account) -> list[str]:
        unds = {self.underlying_of(p) for p in account.positions}
        out = okx_pm.parameter_problems(self.params.portfolio_margin, unds)
        out += [f"field 'collateral.{c}': OKX portfolio margin models borrowing (MR8) in stable coins "
                f"only; a negative {c} balance is not supported" for c, a, _ in account.collateral_items()
                if a < 0 and c not in _STABLE]
        return out

    def _unit(self, pos) -> dict:
        return okx_pm.unit_parameters(self.underlying_of(pos), self.params.portfolio_margin)

    def terms(self, pos, account, years, vol) -> PositionTerms:
        if pos.kind == "option":
            return PositionTerms(contract=INVERSE_OPTION, qty=pos.size, entry=pos.entry, mm_code=MM_NONE,
                                 strike=pos.strike, is_call=pos.type == "call", expiry_years=years, vol=vol)
        if account.mode == "portfolio":
            return PositionTerms(contract=self.contract_of(pos), qty=pos.size, entry=pos.entry, mm_code=MM_NONE)
        return super().terms(pos, account, years, vol)

    def scenario_terms(self, pos, t, account):
        return okx_pm.position_terms(t, self._unit(pos))

    def scenario_set(self, account, terms):
        units = {self.underlying_of(p): self._unit(p) for p in account.positions}
        borrowed = -sum(a for c, a, _ in account.collateral_items() if a < 0)
        return okx_pm.scenario_set(units, okx_pm.account_parameters(self.params.portfolio_margin), borrowed,
                                   any(p.kind == "option" for p in account.positions))

    def parameter_source(self, pos) -> str:
        return super().parameter_source(pos) if pos.kind != "option" else "portfolio margin (risk unit)"


_STABLE = ("USDT", "USDC", "USD")


isolated_linear_liquidation_price = fee_inclusive_linear_liquidation_price
