"""The cascade reads the portfolio input file through the margin engine's compiler: every
venue, contract and mode becomes the cascade's book, nothing skipped, valued exactly as
``analyze`` values it."""
import numpy as np
import pytest

from tests.cascade.cases import every_venue_portfolio
from tests.builders import portfolio
from liqrisk.cascade import scenario_from_dict, simulate
from liqrisk.cascade.liqmap import boundaries
from liqrisk.cascade.population import load_population
from liqrisk.cascade.portfolio import population_from_portfolio
from liqrisk.margin.account import CompiledPortfolio
from liqrisk.margin.kernel import pools_states_nb
from liqrisk.margin.okx import isolated_linear_liquidation_price
from liqrisk.margin.registry import RULE_SETS


def _still(pop, fund=1e9, hours=0.0):
    return scenario_from_dict({"assets": {a: {"price": float(m), "vol": 0.5} for a, m in zip(pop.assets, pop.marks)},
                               "shock": {"kind": "gap", "steps": 1, "step_hours": hours, "moves": {}},
                               "impact": {"model": "none"}, "insurance_fund_usd": fund})


def test_every_account_and_position_of_the_file_is_on_the_book_valued_as_analyze_values_it():
    pf = every_venue_portfolio()
    pop = population_from_portfolio(pf)
    cp = CompiledPortfolio(pf)
    results = cp.margin_results()
    assert list(pop.account_id) == [acc.id for acc in pf.accounts]
    assert pop.n_positions == sum(len(acc.positions) for acc in pf.accounts)
    eq, mm = (x[0] for x in pools_states_nb(np.arange(pop.n_pools), pop.marks[None, :], 0.0, pop.arrays.args()))
    for i, r in enumerate(results):
        mine = pop.pool_account == i
        settle = cp.settle_usd(i)
        assert eq[mine].sum() / settle == pytest.approx(r.equity, rel=1e-12, abs=1e-12)
        assert mm[mine].sum() / settle == pytest.approx(r.maintenance_margin, rel=1e-12, abs=1e-12)
    assert set(RULE_SETS) == set(pop.venues)


def test_okx_isolated_boundary_is_the_published_margin_ratio_closed_form():
    # OKX: ratio = (margin + uPnL)/(notional·(MMR + taker fee)) = 1 → short LP = (EP + M/Q)/(1 + MMR + fee)
    pf = portfolio([{"id": "o", "venue": "okx", "mode": "isolated",
                     "positions": [{"symbol": "ETH-USDT-SWAP", "kind": "perp", "size": -20, "entry": 3000,
                                    "margin": 6000}]}])
    pop = population_from_portfolio(pf)
    mmr = float(pop.arrays.t_mmr[pop.arrays.tier_start[0]])
    _, _, _, down, up = boundaries(pop, pop.marks)
    assert up[0] == pytest.approx(isolated_linear_liquidation_price(3000, -20, 6000, mmr, 0.0005), rel=1e-10)
    eq, mm = pools_states_nb(np.array([1]), pop.marks[None, :], 0.0, pop.arrays.args())
    assert mm[0, 0] == pytest.approx(20 * 3050.0 * (mmr + 0.0005), rel=1e-14)     # the analyze number


def test_an_under_water_hyperliquid_long_has_no_boundary_and_falls_without_a_move():
    # Regression (the old cascade put its liquidation price above the mark): equity 40,000 +
    # 3·(91,250 − 105,000) = −1,250 < MM → liquidatable now, no boundary ahead.
    pf = portfolio([{"id": "hl", "venue": "hyperliquid", "collateral": {"USDC": 40000},
                     "positions": [{"symbol": "BTC", "kind": "perp", "size": 3.0, "entry": 105000}]}])
    pop = population_from_portfolio(pf)
    assert CompiledPortfolio(pf).margin_results()[0].liquidatable_now
    _, _, _, down, up = boundaries(pop, pop.marks)
    assert np.isnan(down).all() and np.isnan(up).all()
    r = simulate(pop, _still(pop))
    assert list(r.liquidated_accounts) == ["hl"] and r.full_liquidations[1] == 1


def test_load_population_accepts_the_example_portfolio_file_whole():
    pop = load_population("examples/multi_venue.yaml")
    assert pop.n_accounts == 8 and pop.n_positions == 16
    assert set(pop.assets) == {"BTC", "ETH", "SOL"}


def test_options_are_repriced_with_the_steps_time_and_coin_collateral_moves_with_its_price():
    pf = every_venue_portfolio()
    pop = population_from_portfolio(pf)
    d = list(pop.account_id).index("deribit-strangle")
    pools = np.flatnonzero(pop.pool_account == d)
    bp = pop.marks.copy()
    later = pools_states_nb(pools, bp[None, :], 7 / 365, pop.arrays.args())[0].sum()
    now = pools_states_nb(pools, bp[None, :], 0.0, pop.arrays.args())[0].sum()
    assert later > now                               # short options lose time value: equity rises
    r0 = simulate(pop, _still(pop, hours=0.0))
    r7 = simulate(pop, _still(pop, hours=7 * 24.0))
    assert r0.liquidations.sum() == 0 and r7.liquidations.sum() == 0
    coin = list(pop.account_id).index("coinm-cross")
    leg = pop.settle_leg[np.flatnonzero(pop.pool_account == coin)[0]]
    assert pop.arrays.leg_amount[leg] == 0.6          # the BTC wallet, valued at the BTC price




@pytest.mark.parametrize("fund", [0.0, 1e9])
def test_a_crash_on_every_venue_contract_and_mode_keeps_the_money_identity(fund):
    # With impact, partial and full liquidations of linear, inverse (coin wallets) and option
    # pools, fund cover and (fund 0) ADL: the ledger closes every step to 1e-9.
    pop = population_from_portfolio(every_venue_portfolio())
    sc = scenario_from_dict({
        "assets": {a: {"price": float(m), "vol": 0.6, "daily_volume": 50.0} for a, m in zip(pop.assets, pop.marks)},
        "shock": {"kind": "linear", "steps": 12, "step_hours": 2, "moves": {"BTC": -0.35, "ETH": 0.3, "SOL": -0.3}},
        "impact": {"model": "sqrt", "y": 2.0, "resilience": 0.2}, "insurance_fund_usd": fund})
    r = simulate(pop, sc)
    assert r.conservation_error().max() < 1e-9
    assert len(r.liquidated_accounts) >= 10 and (r.liquidations > r.full_liquidations).any()
    assert (r.marks[-1, 0] < r.exogenous[-1, 0]) and r.amplification()["BTC"] > 1.0
    if fund == 0.0:
        assert r.adl_events and r.ledger["adl_pnl"].any()
