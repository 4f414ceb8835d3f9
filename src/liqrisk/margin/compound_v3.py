"""Compound III (Comet): one base asset borrowed against collateral assets.

Rule version: Comet as deployed since 2022 (``Comet.sol``): an account is liquidatable when it
borrows and ``Σ collateral_i·P_i·liquidateCollateralFactor_i + base_balance·P_base < 0``
(``isLiquidatable``). ``absorb`` takes *all* its collateral into the protocol's reserves, credits
``Σ collateral_i·P_i·liquidationFactor_i`` against the debt (any excess becomes a base balance
for the user; a shortfall is paid by the reserves: bad debt), and the reserves sell the
collateral through ``buyCollateral`` at ``P·(1 − storeFrontPriceFactor·(1 − liquidationFactor))``.

Parameters (``venue.reserves.<ASSET>``, Comet's names in snake_case): collateral assets
``borrow_collateral_factor``, ``liquidate_collateral_factor``, ``liquidation_factor``; the base
asset (the one borrowed) ``store_front_price_factor``. Bundled defaults are representative.

Liquidation response in a cascade (:meth:`CompoundV3.forced_sale`): ``absorb``, then the
reserves sell all the absorbed collateral through ``buyCollateral`` at once; the buyers keep the
store-front discount and sell the collateral into the market.
"""
from __future__ import annotations

from liqrisk.margin.base import LOAN_COMPOUND
from liqrisk.margin.loan import ForcedSale, LoanRuleSet, values


class CompoundV3(LoanRuleSet):
    name = "compound-v3"
    defaults_key = "compound-v3"
    param_names = ("borrow_collateral_factor", "liquidate_collateral_factor", "liquidation_factor",
                   "store_front_price_factor")
    collateral_needs = ("liquidate_collateral_factor", "liquidation_factor")
    bounds = {k: (0.0, 1.0) for k in param_names}

    def weight(self, asset: str, account) -> float:
        return float(self.reserve(asset)["liquidate_collateral_factor"])

    def account_problems(self, account) -> list[str]:
        out = super().account_problems(account)
        if len(account.borrowed_items()) > 1:
            out.append("field 'borrowed': a Compound III market lends one base asset; one account per market")
        return out

    def liquidation_rule(self) -> int:
        return LOAN_COMPOUND

    def liquidation_terms(self, asset: str) -> tuple[float, float]:
        return float(self.reserve(asset)["liquidation_factor"]), 0.0

    def liquidation_call(self, account, prices, health_factor) -> dict:
        """``absorb``: every collateral seized, the debt zeroed."""
        (base, units_debt), = account.borrowed_items()
        debt_usd = units_debt * prices[base]
        seized = values(account.supplied_items(), prices)
        credit = sum(v * float(self.reserve(a)["liquidation_factor"]) for a, v in seized.items())
        sf = float(self.reserve(base).get("store_front_price_factor", 0.0))
        return {"protocol": "compound-v3 absorb", "base": base, "debt_absorbed": units_debt,
                "debt_absorbed_usd": debt_usd, "collateral_seized": dict(account.supplied_items()),
                "collateral_credit_usd": credit,
                "user_base_balance_after": max(credit - debt_usd, 0.0) / prices[base],
                "bad_debt_usd": max(debt_usd - credit, 0.0),
                "buy_collateral_price": {a: prices[a] * (1 - sf * (1 - float(self.reserve(a)["liquidation_factor"])))
                                         for a in seized}}

    def forced_sale(self, account, prices, health_factor):
        call = self.liquidation_call(account, prices, health_factor)
        base, debt, excess = call["base"], call["debt_absorbed"], call["user_base_balance_after"]
        taken = call["collateral_seized"]
        keep = {a: call["buy_collateral_price"][a] / prices[a] for a in taken}   # the reserves' share
        return ForcedSale(taken=dict(taken), repaid={base: debt}, credited={base: excess},
                          protocol={**{a: u * keep[a] for a, u in taken.items()}, base: -(debt + excess)},
                          liquidator={a: u * (1.0 - keep[a]) for a, u in taken.items()}, sold=dict(taken),
                          full=True)


def absorb_credit(collateral_usd: dict[str, float], liquidation_factor: dict[str, float]) -> float:
    """USD credited for absorbed collateral: ``Σ value_i·liquidationFactor_i``."""
    return sum(v * liquidation_factor[a] for a, v in collateral_usd.items())


def buy_collateral_amount(base_amount: float, price: float, store_front_price_factor: float,
                          liquidation_factor: float) -> float:
    """Collateral units ``buyCollateral`` gives for ``base_amount`` of the base asset:
    ``base / (P·(1 − storeFrontPriceFactor·(1 − liquidationFactor)))``."""
    return base_amount / (price * (1 - store_front_price_factor * (1 - liquidation_factor)))
