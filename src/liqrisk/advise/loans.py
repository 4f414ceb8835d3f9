"""Top-up and deleveraging of a collateral loan (aave-v3, compound-v3, maker): supply more of a
collateral asset, or repay part of a debt, each the smallest amount (in the asset's units) that
meets the target, verified on the engine like every answer.

The loan is the kernel's pool with ``equity − MM = Σ c·P·w − Σ d·P`` (:mod:`liqrisk.margin.loan`),
linear in every amount: supplying x of asset A adds ``x·P_A·w_A``, repaying x of debt B adds
``x·P_B``. So for a distance target — every liquidation price (each collateral down, each debt up,
the others fixed) at least k daily sd from the mark — the amount is the closed form
``max over the boundary points of −slack₀ / (slack₁ − slack₀)·h``, slack the pool's ``equity − MM``
at the points from the kernel at amount 0 and at a step h (the engine's valuation; no formula of
its own). For a probability target the closed form at the target's sd-equivalent is the first
guess of the search on the engine. Which asset to supply: every supplied asset is an action,
ranked by its USD cost (the cheapest first); repaying costs the debt repaid (USD).
"""
from __future__ import annotations

import math

import numpy as np

from liqrisk.advise.changes import _repay, _supply
from liqrisk.advise.search import Action, round_up, smallest
from liqrisk.advise.topup import _boundary_points, point_prices, slack


def linear_need(ev, account, make, step: float, k: float) -> float:
    """Units of a change linear in ``equity − MM`` (``make(x)``: the account changed by x) that
    leave no liquidation boundary within ``k`` daily sd: 0 when none is missing, inf when the
    change does not raise the slack where it is short (a weight of 0)."""
    from liqrisk.margin.account import CompiledPortfolio
    from liqrisk.model import Portfolio
    cp0, cp1 = (CompiledPortfolio(Portfolio(ev.portfolio.market, (a,))) for a in (account, make(step)))
    pts = _boundary_points(cp0, sorted(cp0.plans[0].pool_axes[cp0.plans[0].cross_pool]), k)
    if not pts:
        return 0.0
    prices = point_prices(cp0, pts)
    pool = cp0.plans[0].cross_pool
    s0, s1 = slack(cp0, pool, prices), slack(cp1, cp1.plans[0].cross_pool, prices)
    short = s0 < 0
    if not short.any():
        return 0.0
    per_unit = (s1[short] - s0[short]) / step
    if not (per_unit > 0).all():
        return math.inf
    return float(np.max(-s0[short] / per_unit))


def supplies(ev, account, now) -> list[Action]:
    """Per supplied asset: the smallest supply of it that meets the target."""
    out = []
    for asset, units in account.supplied_items():
        price = ev.portfolio.price(asset)
        if price is None:
            continue
        out.append(_smallest_change(ev, account, now, "topup", f"supply {asset}", asset, price,
                                    lambda x, a=asset: _supply(account, a, x), 1.0,
                                    1e3 * max(now.loan["collateral_usd"], 1.0) / price))
    return out


def repayments(ev, account, now) -> list[Action]:
    """Per borrowed asset: the smallest repayment of it (at most the whole debt) that meets the target."""
    from liqrisk.margin.registry import rule_set_for
    floor = rule_set_for(account.venue).debt_floor(account)
    out = []
    for asset, units in account.borrowed_items():
        price = ev.portfolio.price(asset)
        if price is None:
            continue

        def repaid(x, units=units, price=price):     # what would leave a dusty debt repays it all
            return units if 0 < (units - x) * price < floor else x
        out.append(_smallest_change(ev, account, now, "deleverage", f"repay {asset} debt", asset, price,
                                    lambda x, a=asset, r=repaid: _repay(account, a, r(x)), units, units, repaid))
    return out


def _smallest_change(ev, account, now, kind, what, asset, price, make, step, cap, amount=lambda x: x) -> Action:
    """The action of the smallest ``make(x)``, x in (0, ``cap``] units of ``asset``, that meets the
    target; ``amount(x)``: the units that ``make(x)`` changes (a repayment rounded up to the whole
    debt when the rest would be below the protocol's minimum)."""
    distance = ev.target.kind == "distance"
    guess = round_up(linear_need(ev, account, make, step, ev.target.sd_equivalent()))
    method = "closed form (verified on the engine)" if distance else "search on the engine"
    if distance and not math.isfinite(guess):
        return Action(kind, f"{what}: does not reach the target (it does not raise the health factor)",
                      math.nan, asset, None, "capital", False, None, None, method)
    first = guess if 0 < guess < cap else 0.1 * cap
    found = smallest(make, ev.gap, first, cap=cap, at_zero=ev.gap(account))
    if found.x is None:
        alone = "the whole debt repaid" if kind == "deleverage" else "any amount"
        return Action(kind, f"{what}: does not reach the target ({alone} misses it)", math.nan, asset, None,
                      "capital", False, None, None, "search on the engine")
    x = found.x
    if not (distance and math.isclose(x, guess, rel_tol=1e-5)):
        method = "search on the engine"
    after, ran = ev.after(make(x))
    floor = {} if amount(x) == x else {"debt_floor": f"{x:,.6g} {asset} would leave less than the protocol's "
                                                     f"minimum debt: repaid in full"}
    x = amount(x)
    hf_now, hf_after = now.loan["health_factor"], ev.margins(make(x)).loan["health_factor"]
    hf = f"health factor {_hf(hf_now)} → {_hf(hf_after)}"
    verb = what.split()[0]
    return Action(kind, f"{verb} {x:,.6g} {asset}{' of debt' if kind == 'deleverage' else ''} ({hf})", x, asset,
                  x * price, "capital", ev.target.meets(after), after, found.minimal, method,
                  {"currency": asset, "health_factor": {"now": hf_now, "after": hf_after}, **floor, **found.evidence()}, ran)


def _hf(v: float | None) -> str:
    return "∞ (no debt)" if v is None else f"{v:.4f}"
