"""Differential test against the margin engine: with zero impact, a gap to just beyond an
account's reported liquidation boundary (``analyze``'s number, per underlying and direction)
liquidates it in the cascade, and a gap to just inside does not — for every venue, margin mode
and contract the engine accepts, collateral loans of every lending protocol included (their
collateral's liquidation price down, a borrowed coin's up)."""
import numpy as np
import pytest

from tests.cascade.cases import MARKET, every_venue_accounts, every_venue_portfolio
from liqrisk.cascade import scenario_from_dict, simulate
from liqrisk.cascade.portfolio import population_from_portfolio
from liqrisk.margin.account import CompiledPortfolio
from liqrisk.margin.registry import RULE_SETS

#: boundaries are refined to 1e-12 relative; 1e-7 is far outside that and far inside any tier edge
EPS = 1e-7


def _gap(asset, price):
    return scenario_from_dict({
        "assets": {a: {"price": m["mark"], "vol": m["vol"]} for a, m in MARKET.items()},
        "shock": {"kind": "gap", "steps": 1, "step_hours": 0, "moves": {asset: price / MARKET[asset]["mark"] - 1}},
        "impact": {"model": "none"}, "insurance_fund_usd": 1e12})


@pytest.fixture(scope="module")
def book():
    pf = every_venue_portfolio()
    return population_from_portfolio(pf), CompiledPortfolio(pf).margin_results()


#: (account, underlying, side, boundary) for every boundary analyze reports
CASES = [(r.id, und, side, b[side]) for r in CompiledPortfolio(every_venue_portfolio()).margin_results()
         for und, b in r.liquidation.items() for side in ("down", "up") if b[side] is not None]


@pytest.mark.parametrize("account,und,side,boundary", CASES)
def test_a_gap_just_beyond_the_reported_boundary_liquidates_and_just_inside_does_not(book, account, und, side,
                                                                                     boundary):
    pop, _ = book
    out = -1.0 if side == "down" else 1.0
    beyond = simulate(pop, _gap(und, boundary * (1 + out * EPS)))
    inside = simulate(pop, _gap(und, boundary * (1 - out * EPS)))
    assert account in set(beyond.liquidated_accounts)
    assert account not in set(inside.liquidated_accounts)


def test_the_cases_cover_every_venue_mode_and_contract(book):
    pop, results = book
    ids = {c[0] for c in CASES}
    covered = {(r.venue, r.mode) for r in results if r.id in ids}
    assert ids == {acc["id"] for acc in every_venue_accounts()}
    assert {v for v, _ in covered} == set(RULE_SETS)
    assert {m for _, m in covered} == {"cross", "isolated", "portfolio"}
    assert np.isin(pop.arrays.contract, [0, 1, 2]).all() and len(set(pop.arrays.contract.tolist())) == 3
