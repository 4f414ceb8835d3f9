"""Collateral loans (Aave v3, Compound III, Maker) on the one engine: the protocols' published
examples and test vectors, the close-factor / dust / bonus rules of each Aave version (numbers
worked by hand from LiquidationLogic.sol), properties, and bad input."""
import math

import pytest
import yaml
from hypothesis import given, settings, strategies as st
from typer.testing import CliRunner

from tests.builders import portfolio
from liqrisk.cli import app
from liqrisk.margin import compound_v3, maker
from liqrisk.margin.account import analyze_margin

pytestmark = pytest.mark.numerics
# Engine vs closed form: the engine's bracket stops at 1e-12 relative; both sides round terms up
# to κ = (Σ collateral + Σ debt value)/(the moving asset's value) ≲ 10³ here, ~16·κ·ε ≤ 4e-12.
REL = 1e-10


def _aave(supplied, borrowed, version="3.3", market=None, reserves=None, e_mode=None):
    venue = {"name": "aave-v3", "version": version}
    if reserves:
        venue["reserves"] = reserves
    if e_mode:
        venue["e_mode"] = e_mode
    return analyze_margin(portfolio([{"id": "a", "venue": venue, "supplied": supplied, "borrowed": borrowed}],
                                    market=market or {"ETH": {"mark": 2_000.0, "vol": 0.7}}))[0]


def test_aave_docs_example_10000_eth_at_lt_80_with_6000_debt_has_hf_1_333():
    # Aave docs (health factor): $10,000 of ETH at liquidation threshold 80%, $6,000 borrowed → 1.333…
    res = _aave({"ETH": 5.0}, {"USDC": 6_000}, reserves={"ETH": {"liquidation_threshold": 0.8}})
    assert res.loan["health_factor"] == pytest.approx(10_000 * 0.8 / 6_000, rel=1e-12)
    assert not res.liquidatable_now and res.loan["liquidation_call"] is None
    # ETH liquidation price (others fixed): 5·P·0.8 = 6,000 → P = 1,500
    assert res.loan["liquidation_price"]["ETH"] == pytest.approx(1_500, rel=REL)
    assert res.liquidation["ETH"]["down"] == pytest.approx(1_500, rel=REL)


def test_aave_borrowed_asset_has_an_up_liquidation_price():
    # 2 BTC borrowed against 200,000 USDC of collateral (LT 0.78)
    res = _aave({"USDC": 200_000}, {"BTC": 2.0}, reserves={"USDC": {"liquidation_threshold": 0.78}},
                market={"BTC": {"mark": 60_000.0, "vol": 0.6}})
    # 200,000·0.78 = 2·P → P = 78,000
    assert res.loan["debt_liquidation_price"]["BTC"] == pytest.approx(78_000, rel=REL)


def test_aave_e_mode_threshold_and_bonus_replace_the_reserves():
    res = _aave({"ETH": 5.0}, {"USDC": 9_000}, e_mode={"liquidation_threshold": 0.93, "liquidation_bonus": 1.01,
                                                     "assets": ["ETH"], "label": "ETH correlated"})
    assert res.loan["health_factor"] == pytest.approx(10_000 * 0.93 / 9_000, rel=1e-12)


def _call(res, collateral="ETH", debt="USDC"):
    return next(c for c in res.loan["liquidation_call"]["calls"] if c["collateral"] == collateral and c["debt"] == debt)


@pytest.mark.parametrize("version", ["3.0", "3.1", "3.2"])
def test_aave_v3_0_to_3_2_close_factor_50_percent_above_hf_0_95(version):
    # 10 ETH @ 2,000 (LT 0.8, bonus 1.05, fee 10%) vs 16,500 USDC: HF = 16,000/16,500 = 0.9697 > 0.95
    reserves = {"ETH": {"liquidation_threshold": 0.8, "liquidation_bonus": 1.05, "liquidation_protocol_fee": 0.1}}
    res = _aave({"ETH": 10.0}, {"USDC": 16_500}, version=version, reserves=reserves)
    assert res.liquidatable_now
    c = _call(res)
    assert c["close_factor"] == 0.5 and c["debt_repaid"] == pytest.approx(8_250, rel=1e-12)
    seized = 8_250 / 2_000 * 1.05                       # 4.33125 ETH
    fee = 0.1 * (seized - seized / 1.05)
    assert c["collateral_seized"] == pytest.approx(seized, rel=1e-12)
    assert c["protocol_fee"] == pytest.approx(fee, rel=1e-12)
    assert c["liquidator_receives"] == pytest.approx(seized - fee, rel=1e-12)
    assert c["bad_debt_usd"] == 0.0


@pytest.mark.parametrize("version,close_factor", [("3.2", 1.0), ("3.3", 1.0)])
def test_aave_close_factor_is_100_percent_at_or_below_hf_0_95(version, close_factor):
    # 10 ETH @ 2,000 vs 17,000 USDC: HF 0.941 ≤ 0.95 → the whole debt may be repaid
    res = _aave({"ETH": 10.0}, {"USDC": 17_000}, version=version,
                reserves={"ETH": {"liquidation_threshold": 0.8, "liquidation_bonus": 1.05}})
    c = _call(res)
    assert c["close_factor"] == close_factor and c["debt_repaid"] == pytest.approx(17_000, rel=1e-12)
    assert c["collateral_seized"] == pytest.approx(17_000 / 2_000 * 1.05, rel=1e-12)


def test_aave_v3_3_small_positions_are_fully_liquidatable_even_above_hf_0_95():
    # $1,990 of debt (< $2,000): v3.3 lifts the close factor to 100%; v3.2 keeps 50%
    reserves = {"ETH": {"liquidation_threshold": 0.8, "liquidation_bonus": 1.05}}
    for version, repaid in (("3.3", 1_990.0), ("3.2", 995.0)):
        res = _aave({"ETH": 1.2}, {"USDC": 1_990}, version=version, reserves=reserves)   # HF 0.965
        assert _call(res)["debt_repaid"] == pytest.approx(repaid, rel=1e-12)


def test_aave_v3_3_partial_liquidation_is_capped_at_50_percent_of_the_total_debt():
    # 1.4 ETH @ 2,000 ($2,800, LT 0.8) vs 2,300 USDC: HF 0.974 > 0.95 and both ≥ $2,000 → at most
    # 50% of the total debt, 1,150, leaving $1,150 of debt and $1,592.5 of collateral (≥ $1,000)
    reserves = {"ETH": {"liquidation_threshold": 0.8, "liquidation_bonus": 1.05}}
    c = _call(_aave({"ETH": 1.4}, {"USDC": 2_300}, reserves=reserves))
    assert c["allowed"] and c["close_factor"] == 0.5 and "limited_by" not in c
    assert c["debt_repaid"] == pytest.approx(1_150, rel=1e-12)


def test_aave_v3_3_dust_rule_limits_the_repayment_to_what_leaves_1000_of_debt():
    # 2.4 ETH @ 2,000 ($4,800) vs 2,100 USDC + 1,900 USDT: HF 3,840/4,000 = 0.96 > 0.95; the USDC
    # reserve ($2,100 ≥ $2,000) may repay up to 50% of the *total* debt, 2,000 — which would leave
    # $100 of USDC debt (< MIN_LEFTOVER_BASE $1,000, reverts): the most allowed is 2,100 − 1,000
    reserves = {"ETH": {"liquidation_threshold": 0.8, "liquidation_bonus": 1.05}}
    res = _aave({"ETH": 2.4}, {"USDC": 2_100, "USDT": 1_900}, reserves=reserves)
    usdc = _call(res, debt="USDC")
    assert usdc["allowed"] and usdc["debt_repaid"] == pytest.approx(1_100, rel=1e-12)
    assert "MIN_LEFTOVER_BASE" in usdc["limited_by"]
    # the USDT reserve ($1,900 < $2,000) has a 100% close factor: its whole debt, no dust question
    assert _call(res, debt="USDT")["debt_repaid"] == pytest.approx(1_900, rel=1e-12)
    # v3.2 has no dust rule: 50% of the reserve's own debt
    assert _call(_aave({"ETH": 2.4}, {"USDC": 2_100, "USDT": 1_900}, version="3.2", reserves=reserves),
                 debt="USDC")["debt_repaid"] == pytest.approx(1_050, rel=1e-12)


def test_aave_v3_3_bad_debt_is_a_deficit_when_no_collateral_is_left():
    # 1 ETH @ 2,000 vs 2,500 USDC: HF 0.64 → 100%; all 1 ETH seized repays 2,000/1.05 = 1,904.76;
    # the remaining 595.24 has no collateral behind it: burned as a deficit in 3.3, bad debt before
    reserves = {"ETH": {"liquidation_threshold": 0.8, "liquidation_bonus": 1.05}}
    for version in ("3.3", "3.2"):
        c = _call(_aave({"ETH": 1.0}, {"USDC": 2_500}, version=version, reserves=reserves))
        assert c["collateral_seized"] == pytest.approx(1.0, rel=1e-12)
        assert c["debt_repaid"] == pytest.approx(2_000 / 1.05, rel=1e-12)
        if version == "3.3":
            assert c["bad_debt_usd"] == pytest.approx(2_500 - 2_000 / 1.05, rel=1e-12)
            assert c["deficit_created"]


def test_compound_v3_buy_collateral_published_vector_200_usdc_buys_1_25_comp():
    # Comet tests: storeFrontPriceFactor 0.5, COMP $200, liquidationFactor 0.6 → 200 USDC buys 1.25 COMP
    assert compound_v3.buy_collateral_amount(200, 200, 0.5, 0.6) == pytest.approx(1.25, rel=1e-15)


def test_compound_v3_absorb_published_vector_leaves_the_user_0_000001_usdc():
    # Comet absorb test: 1 COMP ($175) + 1 WETH ($3,000) + 1 WBTC ($41,000), liquidationFactor 1,
    # debt 44,174.999999 USDC → the user is left with +0.000001 USDC
    reserves = {a: {"liquidate_collateral_factor": 0.8, "liquidation_factor": 1.0} for a in ("COMP", "WETH", "WBTC")}
    pf = portfolio([{"id": "c", "venue": {"name": "compound-v3", "reserves": reserves},
                     "supplied": {"COMP": 1, "WETH": 1, "WBTC": 1}, "borrowed": {"USDC": 44_174.999999}}],
                   market={"COMP": {"mark": 175.0}, "WETH": {"mark": 3_000.0}, "WBTC": {"mark": 41_000.0}})
    res = analyze_margin(pf)[0]
    assert res.liquidatable_now
    call = res.loan["liquidation_call"]
    assert call["user_base_balance_after"] == pytest.approx(0.000001, abs=1e-9)
    assert call["bad_debt_usd"] == 0.0
    # liquidatable iff Σ c·P·liquidateCF < debt: 44,175·0.8 = 35,340
    assert res.loan["weighted_collateral_usd"] == pytest.approx(35_340, rel=1e-12)


def test_maker_published_vault_unsafe_at_4_tab_110_lot_40_top_5():
    # dog tests: mat 2, chop 1.1, 40 gold and 100 DAI of debt; gold $5 → safe (spot = 2.5·40 = 100);
    # gold $4 → unsafe; bark: tab 110 DAI, lot 40, top = 4 × buf 1.25 = 5
    def vault(price):
        pf = portfolio([{"id": "m", "venue": {"name": "maker", "reserves": {"GOLD": {"mat": 2, "chop": 1.1, "buf": 1.25, "dust": 0}}},
                         "supplied": {"GOLD": 40}, "borrowed": {"DAI": 100}}], market={"GOLD": {"mark": price}})
        return analyze_margin(pf)[0]
    safe, unsafe = vault(5.0), vault(4.0)
    assert not safe.liquidatable_now or safe.loan["health_factor"] == pytest.approx(1.0)
    assert safe.loan["liquidation_price"]["GOLD"] is None or safe.loan["liquidation_price"]["GOLD"] == pytest.approx(5.0)
    assert unsafe.liquidatable_now
    b = unsafe.loan["liquidation_call"]
    assert (b["tab"], b["lot"], b["top"]) == (pytest.approx(110), pytest.approx(40), pytest.approx(5))
    assert vault(6.0).loan["liquidation_price"]["GOLD"] == pytest.approx(5.0, rel=REL)


def test_maker_partial_bark_takes_the_whole_vault_when_the_rest_would_be_dust():
    # room 60 DAI: dart = 60/1.1 = 54.5 → what remains (45.5 DAI) < dust 56 → the whole vault
    assert maker.bark(40, 100, 4, 1.1, dust=56, room=60)["debt_taken"] == pytest.approx(100)
    assert maker.bark(40, 100, 4, 1.1, dust=60, room=50)["reason"] == "Dog/liquidation-limit-hit"
    part = maker.bark(40, 100, 4, 1.1, dust=10, room=55)
    assert part["debt_taken"] == pytest.approx(50) and part["lot"] == pytest.approx(20)


def test_maker_auction_curves_published_vectors():
    # abaci tests: linear 1000 → 0 over 3600 s falls 100 every 360 s; exponential with
    # cut = e^(ln ½ / 900) halves the price every 900 s
    assert maker.auction_price("linear", 1_000, 360, tau=3_600) == pytest.approx(900)
    assert maker.auction_price("linear", 1_000, 3_600, tau=3_600) == 0
    cut = math.exp(math.log(0.5) / 900)
    assert maker.auction_price("exponential", 1_000, 900, cut=cut) == pytest.approx(500, rel=1e-12)
    assert maker.auction_price("stairstep", 1_000, 1_799, step=900, cut=0.5) == pytest.approx(500)
    assert maker.needs_redo(399, 1_000, 100, tail=3_600, cusp=0.4)


@settings(max_examples=40, deadline=None)
@given(eth=st.floats(0.5, 50), debt=st.floats(100, 50_000), k=st.floats(1.01, 3.0))
def test_health_factor_rises_with_collateral_and_falls_with_debt(eth, debt, k):
    base = _aave({"ETH": eth}, {"USDC": debt}).loan["health_factor"]
    assert _aave({"ETH": eth * k}, {"USDC": debt}).loan["health_factor"] > base
    assert _aave({"ETH": eth}, {"USDC": debt * k}).loan["health_factor"] < base


def _cli(tmp_path, account, market=None):
    doc = {"as_of": "2026-11-23T00:00:00Z", "market": market or {"ETH": {"mark": 2_000.0, "vol": 0.7}},
           "accounts": [account]}
    path = tmp_path / "loan.yaml"
    path.write_text(yaml.safe_dump(doc))
    res = CliRunner().invoke(app, ["analyze", str(path), "--json"])
    assert "Traceback" not in res.output
    return res


@pytest.mark.parametrize("account,field", [
    ({"id": "x", "venue": "aave-v3", "supplied": {"FOO": 1.0}, "borrowed": {"USDC": 10}}, "supplied.FOO"),
    ({"id": "x", "venue": "aave-v3", "supplied": {"ETH": -1.0}, "borrowed": {"USDC": 10}}, "supplied.ETH"),
    ({"id": "x", "venue": {"name": "aave-v3", "reserves": {"ETH": {"liq_threshold": 0.8}}},
      "supplied": {"ETH": 1.0}}, "venue.reserves.ETH.liq_threshold"),
    ({"id": "x", "venue": {"name": "aave-v3", "version": "2.0"}, "supplied": {"ETH": 1.0}}, "venue"),
    ({"id": "x", "venue": "binance-usdm", "supplied": {"ETH": 1.0}}, "supplied"),
    ({"id": "x", "venue": "hyperliquid", "mode": "portfolio", "collateral": {"USDC": 100}}, "mode"),
])
def test_bad_loan_input_exits_2_naming_the_field(tmp_path, account, field):
    res = _cli(tmp_path, account)
    assert res.exit_code == 2, res.output
    assert f"field '{field}'" in res.output, res.output


@pytest.mark.parametrize("venue", ["aave-v3", "compound-v3", "maker"])
def test_derivatives_positions_on_a_lending_protocol_are_one_located_line_not_a_traceback(venue):
    """A perp and an option on a lending venue used to reach the derivatives tier lookup
    (IndexError on the protocol's reserve table)."""
    from liqrisk.io.portfolio import InputError
    with pytest.raises(InputError) as err:
        portfolio([{"id": "x", "venue": venue, "mode": "cross", "collateral": {"BTC": 1.0}, "positions": [
            {"kind": "perp", "symbol": "BTC-PERPETUAL", "underlying": "BTC", "size": -1000, "entry": 90000},
            {"kind": "option", "underlying": "BTC", "expiry": "2026-12-25T08:00:00Z", "strike": 80000,
             "type": "call", "size": -1, "entry": 0.01}]}])
    assert any(p.startswith("account 'x', field 'positions':") and "lending protocol" in p for p in err.value.problems)
