"""Collateral loans in the cascade: each protocol's published liquidation rules reproduced through
the cascade's execution, the ledger's takes, and forced collateral sales feeding the book."""
import json

import numpy as np
import pytest
from typer.testing import CliRunner
from hypothesis import given, settings, strategies as st

from tests.builders import portfolio
from liqrisk.cascade import scenario_from_dict, simulate
from liqrisk.cli import app
from liqrisk.cascade.engine import _settle_loans, _State
from liqrisk.cascade.portfolio import population_from_portfolio
from liqrisk.margin.account import CompiledPortfolio
from liqrisk.margin.registry import rule_set_for
from liqrisk.model import Venue

AAVE_ETH = {"ETH": {"liquidation_threshold": 0.8, "liquidation_bonus": 1.05, "liquidation_protocol_fee": 0.1}}


def _gap(pf, moves, impact=None, fund=1e6):
    return scenario_from_dict({
        "assets": {a: {"price": q.mark, "vol": 0.5} for a, q in pf.market.quotes.items()},
        "shock": {"kind": "gap", "steps": 1, "step_hours": 0, "moves": moves},
        "impact": impact or {"model": "none"}, "insurance_fund_usd": fund})


def _aave(version, accounts=None):
    return portfolio(accounts or [{"id": "a", "venue": {"name": "aave-v3", "version": version, "reserves": AAVE_ETH},
                                   "supplied": {"ETH": 4}, "borrowed": {"USDC": 6000}}],
                     market={"ETH": {"mark": 2500.0, "vol": 0.6}})


@pytest.mark.parametrize("version", ["3.3", "3.0"])
@pytest.mark.parametrize("price,close_factor", [(1874.0, 0.5), (1700.0, 1.0)])
def test_aave_docs_account_liquidated_by_the_close_factor_bonus_and_fee_rules(version, price, close_factor):
    # Docs: $10,000 of ETH at LT 80 % against $6,000 → HF 1.333, HF = 1 at ETH 1,875. Below it:
    # close factor 50 % while HF > 0.95 (3.3: collateral and debt ≥ $2,000, 50 % of the total
    # debt), 100 % at HF ≤ 0.95; seized = repaid × 1.05 / P; fee = 10 % of the bonus part.
    pf = _aave(version)
    assert CompiledPortfolio(pf).margin_results()[0].loan["health_factor"] == pytest.approx(4 / 3, rel=1e-12)
    r = simulate(population_from_portfolio(pf), _gap(pf, {"ETH": price / 2500 - 1}))
    repaid = 6000 * close_factor
    seized = repaid * 1.05 / price
    fee = 0.1 * (seized - seized / 1.05)
    assert list(r.liquidated_accounts) == ["a"] and r.liquidations[1] == 1 and r.rounds[1] == 1
    assert r.full_liquidations[1] == (close_factor == 1.0)
    assert r.ledger["wallets"][1] == pytest.approx(repaid - seized * price, rel=1e-12)
    assert r.ledger["insurance"][1] == pytest.approx(fee * price, rel=1e-12)
    assert r.ledger["liquidators"][1] == pytest.approx((seized - fee) * price - repaid, rel=1e-12)
    assert r.liquidated_notional[1, 0] == pytest.approx((seized - fee) * price, rel=1e-12)


def test_compound_absorb_published_vector_leaves_the_user_0_000001_usdc():
    # Comet tests: 1 COMP $175 + 1 WETH $3,000 + 1 WBTC $41,000 at liquidation factor 1 against
    # 44,174.999999 USDC of debt → absorb leaves the user +0.000001 USDC; all collateral is sold.
    res = {a: {"liquidate_collateral_factor": 0.9, "liquidation_factor": 1.0} for a in ("COMP", "WETH", "WBTC")}
    pf = portfolio([{"id": "c", "venue": {"name": "compound-v3", "reserves": res},
                     "supplied": {"COMP": 1, "WETH": 1, "WBTC": 1}, "borrowed": {"USDC": 44174.999999}}],
                   market={"COMP": {"mark": 175.0}, "WETH": {"mark": 3000.0}, "WBTC": {"mark": 41000.0}})
    pop = population_from_portfolio(pf)
    st_ = _State(pop, _gap(pf, {}))
    sales = st_.loan_sales(st_.p0, 0.0)
    step = {k: 0.0 for k in ("wallets", "insurance", "backstop", "fees", "liquidators")}
    _, flow, notional, pools, full = _settle_loans(st_, sales, lambda f: st_.p0, np.zeros(1), step)
    assert st_.a.const_usd[pools[0]] == pytest.approx(0.000001, abs=1e-10)
    assert (st_.a.leg_amount == 0).all() and full.all()
    assert dict(zip(st_.assets, -flow)) == {"COMP": 1.0, "WETH": 1.0, "WBTC": 1.0}
    assert notional.sum() == pytest.approx(44175.0, rel=1e-15)


def test_compound_reserves_sell_absorbed_collateral_at_the_published_store_front_price():
    # Comet: storeFrontPriceFactor 0.5, COMP $200, liquidationFactor 0.6 → 200 USDC buys 1.25 COMP.
    # An account of 1.25 COMP against 240 USDC: the reserves get 200 for its collateral and pay its
    # 240 of debt (−40), the buyers keep 1.25·200 − 200 = 50.
    pf = portfolio([{"id": "c", "venue": {"name": "compound-v3", "reserves": {
        "COMP": {"liquidate_collateral_factor": 0.7, "liquidation_factor": 0.6},
        "USDC": {"store_front_price_factor": 0.5}}}, "supplied": {"COMP": 1.25}, "borrowed": {"USDC": 240}}],
        market={"COMP": {"mark": 200.0}})
    r = simulate(population_from_portfolio(pf), _gap(pf, {}))
    assert r.ledger["insurance"][1] == pytest.approx(200 - 240, rel=1e-12)
    assert r.ledger["liquidators"][1] == pytest.approx(50.0, rel=1e-12)
    assert r.full_liquidations[1] == 1


def test_maker_published_vault_barked_at_4_raises_tab_110_with_the_penalty_to_the_surplus():
    # dog.sol tests: mat 2, chop 1.1, 40 gold / 100 DAI; safe at $5, unsafe at $4 → tab 110.
    # Keepers buy 110/4 = 27.5 gold and sell it; the surplus gets 110 − 100 = 10.
    pf = portfolio([{"id": "m", "venue": {"name": "maker", "reserves": {"GOLD": {"mat": 2, "chop": 1.1, "buf": 1.25}}},
                     "supplied": {"GOLD": 40}, "borrowed": {"DAI": 100}}], market={"GOLD": {"mark": 5.0}})
    pop = population_from_portfolio(pf)
    assert simulate(pop, _gap(pf, {})).liquidations.sum() == 0
    r = simulate(pop, _gap(pf, {"GOLD": -0.2}))
    assert r.full_liquidations[1] == 1
    assert r.liquidated_notional[1, 0] == pytest.approx(110.0, rel=1e-12)
    assert r.ledger["insurance"][1] == pytest.approx(10.0, rel=1e-12)
    assert r.ledger["wallets"][1] == pytest.approx(-10.0, rel=1e-12)


def test_a_loan_forced_sale_moves_the_book_through_another_loans_boundary():
    # A's boundary is ETH 2,500, B's 2,375. A gap to 2,490 liquidates A alone without impact; with
    # linear impact A's collateral sale pushes ETH below 2,375 and B falls in the same step.
    acc = lambda i, debt: {"id": i, "venue": {"name": "aave-v3", "reserves": AAVE_ETH},  # noqa: E731
                           "supplied": {"ETH": 10}, "borrowed": {"USDC": debt}}
    pf = _aave("3.3", [acc("A", 20000), acc("B", 19000)])
    pop = population_from_portfolio(pf)
    alone = simulate(pop, _gap(pf, {"ETH": 2490 / 2500 - 1}))
    assert list(alone.liquidated_accounts) == ["A"]
    hit = simulate(pop, _gap(pf, {"ETH": 2490 / 2500 - 1}, {"model": "linear", "kyle_lambda": {"ETH": 2e-5}}))
    assert list(hit.liquidated_accounts) == ["A", "B"] and hit.marks[1, 0] < 2375


PROTOCOLS = {
    "aave-v3": ({"ETH": 0.0, "BTC": 0.0}, {"USDC": 0.0, "USDT": 0.0}),
    "compound-v3": ({"ETH": 0.0, "BTC": 0.0}, {"USDC": 0.0}),
    "maker": ({"ETH": 0.0}, {"DAI": 0.0}),
}


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(sorted(PROTOCOLS)), version=st.sampled_from(["3.0", "3.3"]),
       amounts=st.lists(st.floats(0.01, 1e4), min_size=4, max_size=4),
       prices=st.lists(st.floats(1.0, 1e5), min_size=3, max_size=3))
def test_every_forced_sale_conserves_each_assets_units(name, version, amounts, prices):
    rules = rule_set_for(Venue(name, version=version if name == "aave-v3" else None))
    sup, bor = (list(x) for x in PROTOCOLS[name])
    if name == "aave-v3" and amounts[3] > 5e3:
        bor = ["ETH"]                                  # a coin borrowed against BTC
        sup = ["BTC"]
    p = {"ETH": prices[0], "BTC": prices[1], "USDC": 1.0, "USDT": 1.0, "DAI": 1.0}
    supplied = [(a, amounts[i]) for i, a in enumerate(sup)]
    borrowed = [(a, amounts[2 + i] * prices[2]) for i, a in enumerate(bor)]
    acc = type("A", (), {"supplied_items": lambda s: supplied, "borrowed_items": lambda s: borrowed,
                         "positions": []})()
    weighted = sum(u * p[a] * rules.weight(a, acc) for a, u in supplied)
    debt = sum(u * p[a] for a, u in borrowed)
    sale = rules.forced_sale(acc, p, weighted / debt)
    if sale is None:
        return
    for a, x in sale.imbalance().items():
        scale = max([abs(v) for d in (sale.taken, sale.repaid, sale.credited) for v in d.values()] + [1.0])
        assert abs(x) <= 1e-12 * scale, (a, x)
    held = dict(supplied)
    owed = dict(borrowed)
    assert all(0 <= u <= held[a] * (1 + 1e-12) for a, u in sale.taken.items())
    assert all(0 <= u <= owed[a] * (1 + 1e-12) for a, u in sale.repaid.items())


def test_the_cli_cascades_the_example_loan_accounts():
    res = CliRunner().invoke(app, ["cascade", "examples/scenarios/eth_crash_defi.yaml", "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert set(d["liquidated_accounts"]) == {"aave-eth-loop", "aave-stressed", "compound-usdc"}
    assert sum(d["ledger_usd"]["liquidators"]) > 0 and sum(d["liquidated_notional_usd"]["ETH"]) > 0
