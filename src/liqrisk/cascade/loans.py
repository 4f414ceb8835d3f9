"""Collateral loans (lending-protocol accounts) in the cascade: their check and forced sales.

A loan account is one margin pool of the compiled book with no positions: each supplied coin a
collateral leg carrying MM ``1 − w`` (its health weight), each borrowed coin a negative leg,
stable coins in the pool's constant (:mod:`liqrisk.margin.loan`). It falls when its health is
below 1 — the margin kernel's ``equity − MM < 0``, strictly, as every protocol states it (Aave
HF < 1, Comet ``isLiquidatable``, Maker ``ink·spot < art·rate``) — at the round's marks, which are
the protocols' oracle prices. Its protocol's liquidation response
(:meth:`~liqrisk.margin.loan.LoanRuleSet.forced_sale`, beside each rule set) gives the asset flows;
this module executes them: the account's supply and debt change, what the liquidator, keepers or
the reserves' buyers sell goes into the cascade's book like any forced sale (and what they buy
for the debt they repay comes out of it), all at the round's fill prices.

Ledger (USD, at the fill prices): ``wallets`` gets the change of each account's supply minus debt,
``insurance`` the protocol's take (its own fund: treasury, reserves or surplus buffer; a loss it
cannot cover is ``backstop``), ``liquidators`` the liquidators' take; the flows conserve every
asset's units, so nothing else moves.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from liqrisk.model import STABLECOINS


@dataclass
class LoanBook:
    """The loan accounts of a population, one row per (pool, asset): ``units`` signed (+ supplied,
    − borrowed), where it lives in the pool arrays (``leg`` index, or −1: the pool's stable
    constant at ``price``), and the weight of supplied stable coins in ``const_mm``."""

    pools: np.ndarray          # (n_loans,) pool of each loan account
    rules: list                # (n_loans,) its LoanRuleSet
    row_start: np.ndarray      # (n_loans,) rows [row_start, row_end) of each
    row_end: np.ndarray
    asset: list                # (n_rows,) asset name
    supplied: np.ndarray       # (n_rows,) bool: a supply row (else debt)
    units: np.ndarray          # (n_rows,) signed units now
    axis: np.ndarray           # (n_rows,) book axis, −1 for stable coins
    leg: np.ndarray            # (n_rows,) leg index in the pool arrays, −1 for stable coins
    price: np.ndarray          # (n_rows,) USD price of stable rows (NaN for coins)
    mm_rate: np.ndarray        # (n_rows,) MM per USD of a supplied row (1 − w), 0 for debt

    def __len__(self) -> int:
        return len(self.pools)

    def copy(self) -> "LoanBook":
        return LoanBook(self.pools, self.rules, self.row_start, self.row_end, self.asset, self.supplied,
                        self.units.copy(), self.axis, self.leg, self.price, self.mm_rate)

    def row_prices(self, bp) -> np.ndarray:
        """USD price of every row at book prices ``bp``."""
        return np.where(self.axis >= 0, bp[np.maximum(self.axis, 0)], self.price)

    def account(self, k: int):
        """Loan ``k`` now, as the rule set reads an account (its supplied and borrowed items)."""
        rows = range(self.row_start[k], self.row_end[k])
        sup = [(self.asset[r], float(self.units[r])) for r in rows if self.supplied[r] and self.units[r] > 0]
        bor = [(self.asset[r], float(-self.units[r])) for r in rows if self.units[r] < 0]
        return SimpleNamespace(supplied_items=lambda: sup, borrowed_items=lambda: bor, positions=[])


def loan_book(plans, arrays, names) -> LoanBook | None:
    """The loan rows of compiled ``plans`` on ``arrays`` (book axes ``names``); None without loans."""
    loans = [plan for plan in plans if plan.rules.is_loan]
    if not loans:
        return None
    rows = {k: [] for k in ("asset", "supplied", "units", "axis", "leg", "price", "mm_rate")}
    start, end = [], []
    for plan in loans:
        p, acc = plan.cross_pool, plan.account
        start.append(len(rows["asset"]))
        for sign, items in ((1.0, acc.supplied_items()), (-1.0, acc.borrowed_items())):
            for a, u in items:
                ax = names.index(a) if a in names else -1
                legs = [j for j in range(arrays.leg_start[p], arrays.leg_end[p]) if arrays.leg_axis[j] == ax]
                for key, v in (("asset", a), ("supplied", sign > 0), ("units", sign * u), ("axis", ax),
                               ("leg", legs[0] if ax >= 0 else -1),
                               ("price", np.nan if ax >= 0 else STABLECOINS.get(a, 1.0)),
                               ("mm_rate", 1.0 - plan.rules.weight(a, acc) if sign > 0 else 0.0)):
                    rows[key].append(v)
        end.append(len(rows["asset"]))
    return LoanBook(np.array([plan.cross_pool for plan in loans], np.int64), [plan.rules for plan in loans],
                    np.array(start, np.int64), np.array(end, np.int64), rows["asset"],
                    np.array(rows["supplied"], bool), np.array(rows["units"], float),
                    np.array(rows["axis"], np.int64), np.array(rows["leg"], np.int64),
                    np.array(rows["price"], float), np.array(rows["mm_rate"], float))


def falling_sales(lb: LoanBook, eq, mm, bp) -> list[tuple[int, object]]:
    """(loan index, ForcedSale) of every loan whose health is below 1 (``eq − mm < 0`` from the
    kernel at book prices ``bp``, one entry per loan) and that its protocol can liquidate."""
    out = []
    prices = lb.row_prices(bp)
    for k in np.flatnonzero(eq - mm < 0):
        rows = range(lb.row_start[k], lb.row_end[k])
        debt = sum(-lb.units[r] * prices[r] for r in rows if lb.units[r] < 0)
        if debt <= 0:
            continue
        sale = lb.rules[k].forced_sale(lb.account(k), {lb.asset[r]: float(prices[r]) for r in rows},
                                       float((eq[k] - mm[k] + debt) / debt))
        if sale is not None:
            out.append((int(k), sale))
    return out


def sale_flows(lb: LoanBook, sales, axis_asset, n_assets: int) -> np.ndarray:
    """Net base units the sales put into each engine asset's book (sold − bought; stable coins
    have no book)."""
    flow = np.zeros(n_assets)
    for k, sale in sales:
        for r in range(lb.row_start[k], lb.row_end[k]):
            if lb.axis[r] >= 0:
                a = lb.asset[r]
                flow[axis_asset[lb.axis[r]]] += sale.bought.get(a, 0.0) - sale.sold.get(a, 0.0)
    return flow


def execute(lb: LoanBook, arrays, sales, bp) -> dict[str, np.ndarray]:
    """Apply ``sales`` to the loan rows and the pool arrays (legs, stable constant and its MM);
    per sale, at book prices ``bp`` (USD): the account's measured change (``wallet``), the
    protocol's and the liquidators' takes and the USD sold into the books per axis (``sold_usd``,
    (n_sales, n_axes))."""
    prices = lb.row_prices(bp)
    n = len(sales)
    out = {k: np.zeros(n) for k in ("wallet", "protocol", "liquidator")}
    out["sold_usd"] = np.zeros((n, len(bp)))
    for i, (k, sale) in enumerate(sales):
        rows = range(lb.row_start[k], lb.row_end[k])
        p = lb.pools[k]
        before = _value(arrays, p, bp)
        for r in rows:
            a = lb.asset[r]
            d = -sale.taken.get(a, 0.0) + sale.repaid.get(a, 0.0) + sale.credited.get(a, 0.0)
            if d == 0.0:
                continue
            new = lb.units[r] + d
            if abs(new) <= 1e-12 * max(abs(lb.units[r]), abs(d)):
                new = 0.0                      # fully taken or repaid: no float dust left behind
            d = new - lb.units[r]
            lb.units[r] = new
            if lb.leg[r] >= 0:
                arrays.leg_amount[lb.leg[r]] = new
            else:
                arrays.const_usd[p] += d * prices[r]
                arrays.const_mm[p] += d * prices[r] * lb.mm_rate[r]
            if lb.axis[r] >= 0:
                out["sold_usd"][i, lb.axis[r]] += sale.sold.get(a, 0.0) * prices[r]
        stable = [r for r in rows if lb.leg[r] < 0]    # the kernel's loan terms of the stable part
        if stable:
            arrays.loan_scoll[p] = sum(max(lb.units[r], 0.0) * prices[r] for r in stable)
            arrays.loan_sdebt[p] = max(max(-lb.units[r], 0.0) * prices[r] for r in stable)
        out["wallet"][i] = _value(arrays, p, bp) - before
        price_of = {lb.asset[r]: prices[r] for r in rows}
        for key in ("protocol", "liquidator"):
            out[key][i] = sum(u * price_of[a] for a, u in getattr(sale, key).items())
    return out


def _value(a, p, bp) -> float:
    """A loan pool's supply minus debt in USD at book prices ``bp``."""
    legs = slice(a.leg_start[p], a.leg_end[p])
    return float(a.const_usd[p] + (a.leg_amount[legs] * bp[a.leg_axis[legs]]).sum())
