"""Gate USDT-margined perpetual futures (linear), isolated and cross.

Rule version: Gate help centre "Liquidation price calculation" for USDT-margined contracts as
published in 2025 (and as Gate support stated it on 2023-07-02): liquidation when
``margin + uPnL ≤ position value at mark × (MMR + taker fee)`` with the MMR of the position's
risk-limit tier on the whole position, i.e. long ``LP = (EP − M/mult/pos)/[1 − (MMR + taker)]``,
short ``(EP + M/mult/pos)/[1 + (MMR + taker)]`` (:func:`fee_inclusive_linear_liquidation_price`).
Taker fee 0.075% (the rate the help centre quotes). Risk-limit tiers: representative defaults.
"""
from __future__ import annotations

from liqrisk.margin.base import LINEAR
from liqrisk.margin.fee_tier import WholeTierFeeRuleSet


class Gate(WholeTierFeeRuleSet):
    name = "gate"
    contract = LINEAR
    defaults_key = "gate"
    default_taker_fee = 0.00075
    default_leverage = 20.0
    #: a tier includes its ``risk_limit`` (Gate help centre "Risk Limit", futures-logic/22162:
    #: "the user's position value cannot exceed the maximum limit of the chosen tier"; API
    #: ``risk_limit`` = "Position risk limit" of the tier)
    tier_cap_inclusive = True
