"""Hedges that meet a target, with their margin effect on the venue's own rules (the hedged
account is re-run on the engine):

* **perp / future**: the contract the account already trades on the underlying (or the venue's
  perp) sized to neutralise the account's delta there (d equity / d price by central
  differences on the margin kernel); the smallest fraction of that neutral size meeting the
  target is searched. In one-way mode it nets into a held position; an isolated hedge does not
  protect another pool (then it does not meet the target). Cost: the close-now cost of the order.
* **protective put** (venues that margin options, e.g. Deribit): strikes from the market smile at
  the target distance below the mark, at the current boundary and 10% out of the money, expiry
  the account's own option expiry (else 30 days); premium at the smile vol (Black-76), paid from
  the account's collateral in its currency; the smallest number of contracts meeting the target
  is searched per strike and the cheapest strike reported.
"""
from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

import numpy as np

from liqrisk.advise.changes import _credit
from liqrisk.advise.search import Action, smallest
from liqrisk.model import Instrument, Portfolio, Position

_PERP = {"binance-usdm": "{u}USDT", "bybit-linear": "{u}USDT", "okx": "{u}-USDT-SWAP", "hyperliquid": "{u}",
         "binance-coinm": "{u}USD_PERP", "bybit-inverse": "{u}USD"}


def account_delta(cp) -> dict[str, float]:
    """d(equity in USD)/d(price) per underlying of a one-account compiled portfolio (coin units),
    all of the account's pools on the margin kernel, 0.01% central bumps."""
    from liqrisk.margin import kernel as K
    plan = cp.plans[0]
    pools = np.array(plan.pools, dtype=np.int64)
    out = {}
    for ax in sorted(set().union(*plan.pool_axes.values())):
        rows = np.repeat(cp.market.prices[None, :], 2, axis=0)
        rows[0, ax] *= 1.0001
        rows[1, ax] *= 0.9999
        e = K.pools_states_nb(pools, rows, 0.0, cp.arrays.args())[0].sum(axis=1)
        out[cp.market.names[ax]] = float((e[0] - e[1]) / (rows[0, ax] - rows[1, ax]))
    return out


def _hedge_position(account, rules, und: str, coins: float, mark: float) -> Position | None:
    """A position of ``coins`` delta on ``und``: the account's own perp/future on it, else the
    venue's perp (sizes in the contract's units: base for linear, USD face for inverse)."""
    from liqrisk.margin.base import LINEAR
    held = [p for p in account.positions if p.kind in ("perp", "future") and rules.underlying_of(p) == und]
    if held:
        p = held[0]
        inst = p.instrument
    elif rules.name in _PERP:
        inst = Instrument("perp", _PERP[rules.name].format(u=und))
    else:
        return None
    probe = Position(inst, 1.0, mark)
    size = coins if rules.contract_of(probe) == LINEAR else coins * mark
    margin = None
    if account.mode == "isolated":
        margin = abs(coins) * mark / rules.params.default_leverage
        if rules.contract_of(probe) != LINEAR:
            margin /= mark
    return Position(inst, size, mark, margin=margin, position_side=held[0].position_side if held else None)


def perp_hedges(ev, account, now, cuts: dict[int, float] | None = None) -> list[Action]:
    """Perp/future hedges per underlying (module docstring). ``cuts``: position index → the
    smallest cut fraction found for it alone; a hedge that nets into that position (one-way
    mode) is the same trade, so its search starts from it."""
    from liqrisk.advise.changes import Add, Changes, apply
    from liqrisk.advise.deleverage import exit_cost
    from liqrisk.margin.account import CompiledPortfolio
    from liqrisk.margin.registry import rule_set_for
    pf1 = Portfolio(ev.portfolio.market, (account,))
    cp = CompiledPortfolio(pf1)
    rules = rule_set_for(account.venue)
    out = []
    for und, delta in account_delta(cp).items():
        if abs(delta) * cp.market.prices[cp.market.axis(und)] < 1.0:
            continue
        mark = float(cp.market.prices[cp.market.axis(und)])
        full = _hedge_position(account, rules, und, -delta, mark)
        if full is None:
            out.append(Action("hedge", f"no perp/future on {und} known for {rules.name}", math.nan, "", None,
                              "opening cost", False, None, None, "-"))
            continue

        def make(f, full=full):
            p = replace(full, size=full.size * f, margin=None if full.margin is None else full.margin * f)
            return apply(pf1, Changes(add=(Add(account.id, p.symbol or und, p.size, mark, p.kind),)))[0].accounts[0] \
                if p.expiry is None else replace(account, positions=account.positions + (p,))
        first = 1.0
        for k, p in enumerate(account.positions):
            if k in (cuts or {}) and p.instrument == full.instrument and p.size * full.size < 0 \
                    and p.position_side in (None, "both"):
                first = min(1.0, cuts[k] * abs(p.size) / abs(full.size))
        found = smallest(make, ev.gap, first, cap=1.0, digits=4, at_zero=ev.gap(account))
        f = found.x
        label = full.symbol or (f"{und} future {full.expiry:%d%b%y}".upper() if full.expiry is not None
                                else f"{und} {full.kind}")
        if f is None:
            after, ran = ev.after(make(1.0))
            out.append(Action("hedge", f"delta-neutral {label} {full.size:+,.6g}: does not reach the target",
                              full.size, "contracts", None, "opening cost", False, after, None, "search on the engine",
                              model=ran))
            continue
        size = full.size * f
        after, ran = ev.after(make(f))
        hedged = ev.margins(make(f))
        cost = _opening_cost(cp, now, und, -delta * f, mark)
        out.append(Action("hedge", f"{'sell' if size < 0 else 'buy'} {abs(size):,.6g} {label} "
                                   f"({f:.1%} of the delta-neutral {full.size:+,.6g})",
                          size, "contracts", cost, "opening cost", ev.target.meets(after), after, found.minimal,
                          "search on the engine", {"underlying": und, "account_delta": delta,
                                                   "initial_margin_after": hedged.initial_margin,
                                                   "maintenance_margin_after": hedged.maintenance_margin,
                                                   **found.evidence(full.size)}, ran))
    return out


def _opening_cost(cp, result, und: str, coins: float, mark: float) -> float | None:
    """Close-now cost (USD) of an order of ``coins`` on ``und`` through the synthetic book."""
    from liqrisk.analysis import DEFAULT_EXIT_VOL
    from liqrisk.liquidity.book import BookError
    from liqrisk.liquidity.exit import exit_summary
    vol = cp.market.atm_vol(und) or DEFAULT_EXIT_VOL
    try:
        return float(exit_summary([(und, -coins, mark)], None, {und: vol}, 1.0, 0.1).close_now_cost)
    except BookError:
        return None


def put_hedges(ev, account, now) -> list[Action]:
    """Protective puts on each underlying with a down boundary (module docstring)."""
    from liqrisk.margin.account import CompiledPortfolio
    from liqrisk.margin.registry import rule_set_for
    from liqrisk.pricing import black76
    rules = rule_set_for(account.venue)
    pf1 = Portfolio(ev.portfolio.market, (account,))
    cp = CompiledPortfolio(pf1)
    as_of = ev.portfolio.as_of
    settlement = rules.settlement_currency(account)
    out = []
    for und, side in now.liquidation.items():
        ax = cp.market.axis(und)
        model = cp.market.vol_models[ax]
        if model is None or side["down"] is None:
            continue
        mark = float(cp.market.prices[ax])
        expiries = sorted({p.expiry for p in account.positions if p.kind == "option" and p.expiry > as_of})
        expiry = expiries[0] if expiries else as_of + timedelta(days=30)
        years = (expiry - as_of).total_seconds() / (365 * 86400)
        probe = Position(Instrument("option", None, und, None, expiry, mark, "put"), 1.0, 0.01)
        if rules.is_loan or rules.position_problems(probe, account):     # a loan's rules check no position
            why = "is a lending protocol (no options)" if rules.is_loan else "does not margin options"
            out.append(Action("put", f"{rules.name} {why}: a put held elsewhere does not move "
                                     f"this account's liquidation on {und}", math.nan, "", None, "premium",
                              False, None, None, "-"))
            break
        sigma = cp.market.atm_vol(und) or 0.5
        strikes = {round(mark * math.exp(-ev.target.level * sigma / math.sqrt(365)), -1) if ev.target.kind == "distance"
                   else None, round(side["down"], -1) if side["down"] else None, round(0.9 * mark, -1)} - {None}
        delta = abs(account_delta(cp).get(und, 0.0))
        best = None
        for K in sorted(strikes):
            vol = float(model.vol(K, years, mark))
            prem_usd = float(black76(mark, K, years, cp.market.rate, vol, False))
            prem = prem_usd / mark if settlement == und else prem_usd / (pf1.price(settlement) or 1.0)

            def make(n, K=K, prem=prem, prem_coin=prem_usd / mark):
                p = Position(Instrument("option", None, und, None, expiry, K, "put"), n, prem_coin)
                return replace(_credit(account, settlement, -n * prem), positions=account.positions + (p,))
            found = smallest(make, ev.gap, max(delta, 1e-6), cap=max(4 * delta, 1e-3), digits=4,
                             at_zero=ev.gap(account))
            if found.x is None:
                continue
            n = found.x
            cost = n * prem_usd
            if best is None or cost < best[0]:
                best = (cost, K, n, vol, prem_usd, make, found)
        if best is None:
            out.append(Action("put", f"no protective put on {und} up to 4× the delta meets the target", math.nan,
                              "contracts", None, "premium", False, None, None, "search on the engine"))
            continue
        cost, K, n, vol, prem_usd, make, found = best
        after, ran = ev.after(make(n))
        hedged = ev.margins(make(n))
        out.append(Action("put", f"buy {n:,.6g} {und} {K:,.0f} puts expiring {expiry:%Y-%m-%d} "
                                 f"(premium {prem_usd:,.2f} USD each at {vol:.1%} vol)",
                          n, "contracts", cost, "premium", ev.target.meets(after), after, found.minimal,
                          "search on the engine", {"underlying": und, "strike": K, "expiry": expiry.isoformat(),
                                                   "vol": vol, "premium_usd": prem_usd,
                                                   "premium_settlement": cost / (pf1.price(settlement) or 1.0),
                                                   "settlement_currency": settlement,
                                                   "initial_margin_after": hedged.initial_margin,
                                                   "maintenance_margin_after": hedged.maintenance_margin,
                                                   **found.evidence()}, ran))
    return out
