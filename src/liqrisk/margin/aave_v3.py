"""Aave v3 (versions 3.0 … 3.3): health factor and liquidation calls.

Rule versions follow the protocol source, ``LiquidationLogic.sol``:

* health factor ``HF = Σ collateral_i·P_i·LT_i / Σ debt_j·P_j`` (``GenericLogic``), liquidatable
  iff HF < 1; the e-mode category's threshold and bonus replace the reserve's for its assets.
* close factor — **3.0–3.2** (aave-v3-core): 50% of the user's debt in the debt reserve
  (``DEFAULT_LIQUIDATION_CLOSE_FACTOR``), 100% when HF ≤ 0.95 (``CLOSE_FACTOR_HF_THRESHOLD``).
  **3.3** (aave-v3-origin): the whole reserve debt, unless the collateral *and* the debt reserve
  are each ≥ $2,000 (``MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD``) and HF > 0.95, then at most 50% of
  the user's *total* debt; a partial liquidation must leave ≥ $1,000 (``MIN_LEFTOVER_BASE``) of
  both debt and collateral (else it reverts, ``MUST_NOT_LEAVE_DUST``); when no collateral is left
  the remaining debt is burned as a reserve deficit (bad debt, ``DeficitCreated``).
* collateral seized (``_calculateAvailableCollateralToLiquidate``): ``debt·P_debt/P_coll ×
  bonus``, capped at the balance (then the debt repaid shrinks to ``balance·P_coll/P_debt/bonus``);
  protocol fee = ``liquidation_protocol_fee × (seized − seized/bonus)``, taken from the seized
  amount; the liquidator receives the rest.
* liquidation response in a cascade (:meth:`AaveV3.forced_sale`): the most profitable allowed
  call; the liquidator sells the collateral it receives and buys the debt it repays, at once;
  the protocol fee stays with the treasury, a 3.3 deficit is burned by it.

Parameters per reserve (``venue.reserves.<ASSET>``): ``liquidation_threshold`` (e.g. 0.83),
``liquidation_bonus`` (the multiplier, 1.05 for 10500 bps), ``liquidation_protocol_fee`` (0.1),
``ltv`` (informational). Bundled defaults are representative.
"""
from __future__ import annotations

from liqrisk.margin.base import LOAN_AAVE, LOAN_AAVE33
from liqrisk.margin.loan import ForcedSale, LoanRuleSet, values

VERSIONS = ("3.3", "3.2", "3.1", "3.0")
CLOSE_FACTOR_HF_THRESHOLD = 0.95
DEFAULT_CLOSE_FACTOR = 0.5
MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD = 2_000.0   # USD
MIN_LEFTOVER_BASE = MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD / 2


class AaveV3(LoanRuleSet):
    name = "aave-v3"
    defaults_key = "aave-v3"
    versions = VERSIONS
    param_names = ("ltv", "liquidation_threshold", "liquidation_bonus", "liquidation_protocol_fee")
    collateral_needs = ("liquidation_threshold", "liquidation_bonus")
    bounds = {"ltv": (0.0, 1.0), "liquidation_threshold": (0.0, 0.9999), "liquidation_bonus": (1.0, 1.5),
              "liquidation_protocol_fee": (0.0, 1.0)}

    def _in_e_mode(self, asset: str) -> bool:
        e = self.params.e_mode
        return e is not None and asset in {a.upper() for a in e.assets}

    def weight(self, asset: str, account) -> float:
        if self._in_e_mode(asset):
            return float(self.params.e_mode.liquidation_threshold)
        return float(self.reserve(asset)["liquidation_threshold"])

    def bonus(self, asset: str) -> float:
        if self._in_e_mode(asset):
            return float(self.params.e_mode.liquidation_bonus)
        return float(self.reserve(asset)["liquidation_bonus"])

    def liquidation_rule(self) -> int:
        return LOAN_AAVE33 if self.version == "3.3" else LOAN_AAVE

    def liquidation_terms(self, asset: str) -> tuple[float, float]:
        return self.bonus(asset), float(self.reserve(asset).get("liquidation_protocol_fee", 0.0))

    def liquidation_call(self, account, prices, health_factor) -> dict:
        """The largest liquidation per (collateral, debt) pair, best for the liquidator first."""
        coll = values(account.supplied_items(), prices)
        debt = values(account.borrowed_items(), prices)
        units_c, units_d = dict(account.supplied_items()), dict(account.borrowed_items())
        calls = [self._call(c, d, units_c[c], units_d[d], prices[c], prices[d], coll, debt, health_factor)
                 for c in units_c for d in units_d]
        calls.sort(key=lambda x: -x["liquidator_profit_usd"])
        return {"protocol": f"aave-v3 {self.version}", "health_factor": health_factor, "calls": calls}

    def forced_sale(self, account, prices, health_factor):
        call = next((c for c in self.liquidation_call(account, prices, health_factor)["calls"] if c["allowed"]),
                    None)
        if call is None:
            return None
        c, d = call["collateral"], call["debt"]
        r, s, fee = call["debt_repaid"], call["collateral_seized"], call["protocol_fee"]
        out = ForcedSale(taken={c: s}, repaid={d: r}, protocol={c: fee}, liquidator={c: s - fee, d: -r},
                         sold={c: s - fee}, bought={d: r})
        if call["deficit_created"]:        # the debt left without collateral is burned by the protocol
            for a, units in account.borrowed_items():
                left = units - out.repaid.get(a, 0.0) if a == d else units
                out.repaid[a] = out.repaid.get(a, 0.0) + left
                out.protocol[a] = out.protocol.get(a, 0.0) - left
        coll_left = sum(u * prices[a] for a, u in account.supplied_items()) - s * prices[c]
        debt_left = sum(u * prices[a] for a, u in account.borrowed_items()) - \
            sum(u * prices[a] for a, u in out.repaid.items())
        out.full = coll_left <= 1e-12 * s * prices[c] or debt_left <= 1e-12 * r * prices[d]
        return out

    def _max_debt(self, c_usd, d_usd, total_debt, hf, units_d, p_d):
        if self.version != "3.3":
            cf = DEFAULT_CLOSE_FACTOR if hf > CLOSE_FACTOR_HF_THRESHOLD else 1.0
            return units_d * cf, cf
        if (c_usd >= MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD and d_usd >= MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD
                and hf > CLOSE_FACTOR_HF_THRESHOLD):
            cap = DEFAULT_CLOSE_FACTOR * total_debt
            if d_usd > cap:
                return cap / p_d, cap / d_usd
        return units_d, 1.0

    def _call(self, c, d, units_c, units_d, p_c, p_d, coll, debt, hf) -> dict:
        bonus = self.bonus(c)
        fee_share = float(self.reserve(c).get("liquidation_protocol_fee", 0.0))
        max_debt, close_factor = self._max_debt(coll[c], debt[d], sum(debt.values()), hf, units_d, p_d)
        repaid, seized_total = _seize(max_debt, p_d, p_c, units_c, bonus)
        out = {"collateral": c, "debt": d, "close_factor": close_factor, "liquidation_bonus": bonus}
        partial = repaid < units_d and seized_total < units_c
        if self.version == "3.3" and partial and (
                (units_d - repaid) * p_d < MIN_LEFTOVER_BASE or (units_c - seized_total) * p_c < MIN_LEFTOVER_BASE):
            # taking the maximum would leave dust: the most that still leaves $1,000 of each
            x = min(max_debt, units_d - MIN_LEFTOVER_BASE / p_d,
                    (units_c - MIN_LEFTOVER_BASE / p_c) * p_c / (p_d * bonus))
            if x <= 0:
                return {**out, "allowed": False, "reason": "MUST_NOT_LEAVE_DUST: no partial liquidation "
                        "leaves $1,000 of both debt and collateral, and the close factor forbids taking all",
                        "liquidator_profit_usd": 0.0}
            repaid, seized_total = _seize(x, p_d, p_c, units_c, bonus)
            out["limited_by"] = "MIN_LEFTOVER_BASE ($1,000 of debt and collateral must remain)"
        fee = fee_share * (seized_total - seized_total / bonus)
        receives = seized_total - fee
        no_collateral_left = seized_total * p_c >= sum(coll.values()) * (1 - 1e-12)
        remaining_debt = sum(debt.values()) - repaid * p_d
        bad_debt = remaining_debt if no_collateral_left else 0.0
        return {**out, "allowed": True, "debt_repaid": repaid, "debt_repaid_usd": repaid * p_d,
                "collateral_seized": seized_total, "protocol_fee": fee, "liquidator_receives": receives,
                "liquidator_receives_usd": receives * p_c,
                "liquidator_profit_usd": receives * p_c - repaid * p_d,
                "bad_debt_usd": bad_debt,
                "deficit_created": bool(bad_debt > 0 and self.version == "3.3")}


def _seize(debt_to_cover, p_debt, p_coll, balance, bonus) -> tuple[float, float]:
    """(debt repaid, collateral taken incl. the protocol fee) in units:
    ``_calculateAvailableCollateralToLiquidate``."""
    max_coll = debt_to_cover * p_debt / p_coll * bonus
    if max_coll > balance:
        return balance * p_coll / p_debt / bonus, balance
    return debt_to_cover, max_coll
