"""Smallest deleveraging that meets a target: cut one position, or all of them in proportion,
by the smallest fraction (searched on the engine; realised P&L and released isolated margin go
to the wallet, :mod:`liqrisk.advise.changes`), and the exit cost of the cut itself from the
liquidity layer (close-now cost through the synthetic book, USD). The cheapest cut is the one
with the least exit cost among those that meet the target."""
from __future__ import annotations

import math

from liqrisk.advise.changes import Changes, Reduce, apply
from liqrisk.advise.search import Action, smallest
from liqrisk.model import Portfolio


def _cut(pf1: Portfolio, fractions: dict[int, float]):
    acc = pf1.accounts[0]
    reds = tuple(Reduce(acc.id, "", min(f, 1.0), k) for k, f in fractions.items())
    return apply(pf1, Changes(reduce=reds))[0].accounts[0]


def exit_cost(cp, result, fractions: dict[int, float]) -> tuple[float | None, list[str]]:
    """Close-now cost (USD) of cutting ``fractions`` of the account's futures/spot positions, per
    underlying through its synthetic book, and what could not be costed (options; underlyings
    without a book calibration). Cost None when nothing was costed."""
    from liqrisk.analysis import exit_inputs
    from liqrisk.liquidity.book import BookError
    from liqrisk.liquidity.exit import exit_summary
    linear, rows, vols = exit_inputs(cp, 0, result)
    index = [k for k, p in enumerate(result.positions) if p.kind in ("perp", "future", "spot")]
    cut = [(und, size * fractions[k], mark) for k, (und, size, mark) in zip(index, rows) if k in fractions]
    not_costed = [f"{result.positions[k].symbol or result.positions[k].underlying}: options are not costed"
                  for k in fractions if result.positions[k].kind == "option"]
    total = None
    for u in dict.fromkeys(r[0] for r in cut):
        try:
            c = exit_summary([r for r in cut if r[0] == u], None, vols, 1.0, 0.1).close_now_cost
        except BookError as e:
            not_costed.append(str(e))
            continue
        total = (total or 0.0) + float(c)
    return total, not_costed


def deleverages(ev, account, now) -> list[Action]:
    from liqrisk.margin.account import CompiledPortfolio
    from liqrisk.margin.registry import rule_set_for
    if rule_set_for(account.venue).is_loan:
        from liqrisk.advise.loans import repayments
        return repayments(ev, account, now)
    pf1 = Portfolio(ev.portfolio.market, (account,))
    cp = CompiledPortfolio(pf1)
    sets = [({k: 1.0}, f"cut {p.symbol or p.kind + ' ' + (p.underlying or '')}") for k, p in enumerate(now.positions)
            if p.kind != "spot"]
    if len(sets) > 1:
        sets.append(({k: 1.0 for k, _ in enumerate(now.positions) if now.positions[k].kind != "spot"},
                     "cut every position in proportion"))
    out = []
    for base, what in sets:
        make = lambda f, base=base: _cut(pf1, {k: f for k in base})
        found = smallest(make, ev.gap, 0.5, cap=1.0, digits=4, at_zero=ev.gap(account))
        if found.x is None:
            continue
        f = found.x
        after, ran = ev.after(make(f))
        fractions = {k: f for k in base}
        cost, not_costed = exit_cost(cp, now, fractions)
        sizes = {now.positions[k].symbol or now.positions[k].underlying: now.positions[k].size * f for k in base}
        out.append(Action("deleverage", f"{what} by {f:.2%}", f, "fraction", cost, "exit cost", ev.target.meets(after),
                          after, found.minimal, "search on the engine",
                          {"cut_sizes": sizes, "not_costed": not_costed, "positions": sorted(base), **found.evidence()}, ran))
    return out
