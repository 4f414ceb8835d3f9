"""Smallest top-up per collateral asset (and per isolated margin) that meets a target.

Closed form for a distance target: the pool's boundary must lie k daily sd from the mark, at
``P* = mark·e^{∓k·σ/√365}``. A pool's equity is its collateral plus what its positions are worth,
so at P* the missing amount is ``(MM − equity)(P*)`` in USD, divided by the asset's price at P*
(the asset may be the coin that moves). For a linear isolated position this is the venue's LP
formula solved for the margin; for a concave pool (futures only) the largest missing amount over
the boundary points is exact, since equity − MM ≥ 0 at both ends then holds in between. Pools
with options, and probability targets, are searched on the engine (a bracketing search with
common random numbers, :func:`~liqrisk.advise.search.smallest`), the closed form (if any) as the
first guess — for ``p(h)<=p*`` at the distance that gives p* for one GBM underlying
(:meth:`~liqrisk.advise.targets.Target.sd_equivalent`). Every answer is re-run on the engine.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from liqrisk.advise.changes import _credit
from liqrisk.advise.search import MINIMAL_CHECK, Action, round_up, smallest
from liqrisk.margin import kernel as K


def _boundary_points(cp, axes, k: float) -> list[tuple[int, float]]:
    """(axis, price) pairs at k daily sd below and above each mark."""
    out = []
    for ax in axes:
        name = cp.market.names[ax]
        sigma = cp.market.atm_vol(name)
        if not sigma:
            continue
        mark = cp.market.prices[ax]
        for sign in (-1.0, 1.0):
            out.append((ax, mark * math.exp(sign * k * sigma / math.sqrt(365))))
    return out


def closed_form(cp, pool: int, currency_axis: int | None, currency_usd: float, k: float) -> float:
    """Units of the currency missing in ``pool`` so that equity ≥ MM at every boundary point
    (0 when none is missing)."""
    axes = sorted(cp.plans[0].pool_axes[pool])
    pts = _boundary_points(cp, axes, k)
    if not pts:
        return 0.0
    prices = point_prices(cp, pts)
    unit = prices[:, currency_axis] if currency_axis is not None else np.full(len(pts), currency_usd)
    return float(max(0.0, np.max(-slack(cp, pool, prices) / unit)))


def point_prices(cp, pts: list[tuple[int, float]]) -> np.ndarray:
    """One row of market prices per boundary point: the marks with that point's axis moved."""
    prices = np.repeat(cp.market.prices[None, :], len(pts), axis=0)
    for r, (ax, x) in enumerate(pts):
        prices[r, ax] = x
    return prices


def slack(cp, pool: int, prices: np.ndarray) -> np.ndarray:
    """``equity − MM`` of ``pool`` at each row of ``prices`` (the kernel's pool state; < 0: liquidatable)."""
    eq, mm = K.pools_states_nb(np.array([pool], dtype=np.int64), prices, 0.0, cp.arrays.args())
    return eq[:, 0] - mm[:, 0]


def topups(ev, account, now) -> list[Action]:
    """Top-up actions for ``account`` (missing the target; ``now`` its result)."""
    from liqrisk.margin.account import CompiledPortfolio
    from liqrisk.margin.registry import rule_set_for
    from liqrisk.model import Portfolio
    pf = Portfolio(ev.portfolio.market, (account,))
    cp = CompiledPortfolio(pf)
    plan, arrays = cp.plans[0], cp.arrays
    rules = rule_set_for(account.venue)
    if rules.is_loan:
        from liqrisk.advise.loans import supplies
        return supplies(ev, account, now)
    settlement = rules.settlement_currency(account)
    equity_usd = max(abs(now.equity) * cp.settle_usd(0), 1.0)
    out = []
    targets = []
    if arrays.pos_end[plan.cross_pool] > arrays.pos_start[plan.cross_pool]:
        currencies = list(dict.fromkeys([c for c, _, _ in account.collateral_items()] + [settlement]))
        for c in currencies:
            price = pf.price(c)
            if price is None:
                continue
            targets.append((c, f"add {c} to the wallet", plan.cross_pool,
                            lambda x, c=c: _credit(account, c, x), c, price))
    for n, (pos, pool) in enumerate(zip(account.positions, plan.position_pools)):
        if pool == plan.cross_pool:
            continue
        label = pos.symbol or pos.underlying

        def grow(x, n=n):
            ps = list(account.positions)
            ps[n] = replace(ps[n], margin=ps[n].margin + x)
            return replace(account, positions=tuple(ps))
        targets.append((settlement, f"add {settlement} to the isolated margin of {label}", pool, grow,
                        f"{settlement} (isolated {label})", pf.price(settlement) or cp.settle_usd(0)))
    isolated = [t for t in targets if t[2] != plan.cross_pool]
    needs = {}                # the closed form: the answer (distance), a first guess (probability)
    for currency, _, pool, _, _, price in targets:
        axis = cp.market.axis(currency) if currency in cp.market.names else None
        needs[(currency, pool)] = round_up(closed_form(cp, pool, axis, price, ev.target.sd_equivalent()))
    if ev.target.kind == "distance" and len(isolated) > 1:
        out += _isolated_together(ev, cp, account, isolated)
    for currency, what, pool, make, unit, price in targets:
        guess = needs.get((currency, pool), 0.0)
        method = "search on the engine"
        if ev.target.kind == "distance" and not arrays.dense[pool]:
            method = "closed form (verified on the engine)"
            others = [p for (_, p), x in needs.items() if p != pool and x > 0 and not arrays.dense[p]]
            if guess == 0.0 or others:
                why = "this pool already meets the target" if guess == 0.0 else "another pool misses it too"
                out.append(Action("topup", f"{what}: not enough alone ({why})", math.nan, unit, None, "capital",
                                  False, None, None, method))
                continue
        found = smallest(make, ev.gap, guess or 0.1 * equity_usd / price, cap=1e3 * equity_usd / price,
                         at_zero=ev.gap(account))
        x = found.x
        if x is None:
            out.append(Action("topup", what + ": does not reach the target", math.nan, unit, None, "capital",
                              False, None, None, method))
            continue
        after, ran = ev.after(make(x))
        if method.startswith("closed") and not math.isclose(x, guess, rel_tol=1e-5):
            method = "search on the engine"
        out.append(Action("topup", f"{what}: {x:,.6g} {currency}", x, unit, x * price, "capital",
                          ev.target.meets(after), after, found.minimal, method, {"currency": currency, **found.evidence()}, ran))
    return out


def _isolated_together(ev, cp, account, isolated) -> list[Action]:
    """Several isolated pools missing a distance target: each pool's own closed-form top-up, all
    at once (pools are independent, so the sum is the smallest; 1% less on all misses)."""
    need = [(what, pool, round_up(closed_form(cp, pool, None if c not in cp.market.names else cp.market.axis(c),
                                              price, ev.target.level)), price, c)
            for c, what, pool, _, _, price in isolated]
    need = [n for n in need if n[2] > 0]
    if len(need) < 2:
        return []
    pools = {pool: x for _, pool, x, _, _ in need}

    def make(scale):
        ps = list(account.positions)
        for k, pool in enumerate(cp.plans[0].position_pools):
            if pool in pools:
                ps[k] = replace(ps[k], margin=ps[k].margin + scale * pools[pool])
        return replace(account, positions=tuple(ps))
    after, ran = ev.after(make(1.0))
    minimal = not ev.target.meets(ev.metric(make(MINIMAL_CHECK)))
    currency = need[0][4]
    total = sum(x for _, _, x, _, _ in need)
    text = "; ".join(f"{what.removeprefix('add ' + currency + ' to the ')} {x:,.6g}" for what, _, x, _, _ in need)
    return [Action("topup", f"add {currency} to every isolated margin that misses: {text}", total, currency,
                   sum(x * p for _, _, x, p, _ in need), "capital", ev.target.meets(after), after, minimal,
                   "closed form per pool (verified on the engine)",
                   {"currency": currency, "per_pool": {what: x for what, _, x, _, _ in need}}, ran)]
