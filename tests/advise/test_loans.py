"""Advice for collateral loans: supply more collateral (top-up) or repay debt (deleverage),
checked against the protocols' published health formulas solved by hand here.

Aave v3: HF = Σ c_i·P_i·LT_i / Σ d_j·P_j, liquidatable when HF < 1 (GenericLogic). A distance
target k asks that no liquidation price (each collateral asset down with the others fixed, each
borrowed asset up) lies within k daily sd: at P*_i = P_i·e^{−k·σ_i/√365} the HF must stay ≥ 1.
Supplying x of asset A then needs, at the point where asset i moved,
W_i + x·P_A(i)·LT_A ≥ D, so x = max_i (D − W_i) / (P_A(i)·LT_A); repaying x of a stable debt needs
W_i ≥ D − x, so x = D − min_i W_i. Compound III: the same with the liquidate collateral factor."""
import json
import math

import pytest
from typer.testing import CliRunner

from liqrisk.advise.advice import advise
from liqrisk.cli import app

ETH, WSTETH, BTC = 3050.0, 3620.0, 91250.0
VOL = {"ETH": 0.68, "WSTETH": 0.69, "BTC": 0.52}
MARK = {"ETH": ETH, "WSTETH": WSTETH, "BTC": BTC}
LT = {"ETH": 0.83, "WSTETH": 0.81, "BTC": 0.78}


def _aave(supplied, borrowed, id="loan"):
    return {"id": id, "venue": {"name": "aave-v3", "version": "3.3", "reserves": {
        a: {"liquidation_threshold": LT[a], "liquidation_bonus": 1.05, "liquidation_protocol_fee": 0.1}
        for a in supplied}}, "supplied": supplied, "borrowed": borrowed}


def _doc(*accounts):
    return {"as_of": "2026-11-23T00:00:00Z",
            "market": {a: {"mark": MARK[a], "vol": VOL[a]} for a in MARK}, "accounts": list(accounts)}


def _star(asset, k):
    return MARK[asset] * math.exp(-k * VOL[asset] / math.sqrt(365))


def _weighted(supplied, moved=None, k=0.0, weight=LT):
    """Σ c·P·w with ``moved`` at its k-sd-down price, the others at their marks."""
    return sum(u * (_star(a, k) if a == moved else MARK[a]) * weight[a] for a, u in supplied.items())


def _actions(adv, kind):
    (a,) = adv.accounts
    return {x.details.get("currency"): x for x in a.actions if x.kind == kind}


def test_one_collateral_supply_and_repay_are_the_health_factor_solved_at_the_boundary():
    k, supplied, debt = 3.0, {"ETH": 10.0}, 25_900.0
    adv = advise(_doc(_aave(supplied, {"USDC": debt})), f"distance>={k:g}sd")
    (a,) = adv.accounts
    assert a.meets is False                      # HF now 0.977: liquidatable, distance 0
    supply, repay = _actions(adv, "topup")["ETH"], _actions(adv, "deleverage")["USDC"]
    p = _star("ETH", k)
    x_supply = (debt - _weighted(supplied, "ETH", k)) / (p * LT["ETH"])       # = 1.3840 ETH
    x_repay = debt - _weighted(supplied, "ETH", k)                             # = 3,148.8 USDC
    assert supply.amount == pytest.approx(x_supply, rel=1e-5) and supply.unit == "ETH"
    assert repay.amount == pytest.approx(x_repay, rel=1e-5) and repay.unit == "USDC"
    for x, usd in ((supply, x_supply * ETH), (repay, x_repay)):
        assert x.meets and x.minimal is True and x.method.startswith("closed form")
        assert x.cost_usd == pytest.approx(usd, rel=1e-5) and x.metric == pytest.approx(k, abs=1e-3)
        hf = x.details["health_factor"]
        assert hf["now"] == pytest.approx(10 * ETH * 0.83 / debt, rel=1e-9)
        assert hf["after"] == pytest.approx(ETH / p, rel=1e-4)     # HF at P* is 1: HF now = P/P*
    assert supply.description.startswith("supply 1.38") and "ETH" in supply.description
    assert repay.description.startswith("repay 3,148.") and "USDC" in repay.description
    assert [x.kind for x in a.actions[:2]] == ["deleverage", "topup"]         # 3,149 USD < 4,221 USD


def test_several_collaterals_each_asset_at_its_own_price_and_the_cheapest_first():
    """ETH + WSTETH + BTC against USDC: the binding point of each supply is the asset whose
    liquidation price is nearest (moved alone); supplying the moving asset counts at its P*."""
    k, supplied, debt = 4.0, {"ETH": 20.0, "WSTETH": 8.0, "BTC": 0.3}, 92_000.0
    adv = advise(_doc(_aave(supplied, {"USDC": debt})), f"distance>={k:g}sd")
    tops = _actions(adv, "topup")
    assert set(tops) == set(supplied)
    for asset in supplied:
        need = max((debt - _weighted(supplied, i, k)) / ((_star(asset, k) if asset == i else MARK[asset]) * LT[asset])
                   for i in supplied)
        assert tops[asset].amount == pytest.approx(need, rel=1e-5), asset
        assert tops[asset].meets and tops[asset].minimal is True
    usd = {a: tops[a].amount * MARK[a] for a in supplied}
    cheapest = min(usd, key=usd.get)
    first_topup = next(x for x in adv.accounts[0].actions if x.kind == "topup")
    assert first_topup.details["currency"] == cheapest
    repay = _actions(adv, "deleverage")["USDC"]
    assert repay.amount == pytest.approx(debt - min(_weighted(supplied, i, k) for i in supplied), rel=1e-5)


def test_compound_uses_the_liquidate_collateral_factor():
    lcf = {"ETH": 0.90, "BTC": 0.85}
    acc = {"id": "c", "venue": {"name": "compound-v3", "reserves": {
        "ETH": {"borrow_collateral_factor": 0.83, "liquidate_collateral_factor": 0.90, "liquidation_factor": 0.95},
        "BTC": {"borrow_collateral_factor": 0.80, "liquidate_collateral_factor": 0.85, "liquidation_factor": 0.95}}},
        "supplied": {"ETH": 25.0, "BTC": 1.2}, "borrowed": {"USDC": 158_000.0}}
    k = 3.0
    adv = advise(_doc(acc), f"distance>={k:g}sd")
    w = lambda i: _weighted(acc["supplied"], i, k, lcf)  # noqa: E731
    need = max((158_000 - w(i)) / ((_star("BTC", k) if i == "BTC" else BTC) * lcf["BTC"]) for i in ("ETH", "BTC"))
    assert _actions(adv, "topup")["BTC"].amount == pytest.approx(need, rel=1e-5)
    assert _actions(adv, "deleverage")["USDC"].amount == pytest.approx(158_000 - min(w("ETH"), w("BTC")), rel=1e-5)


def test_a_debt_in_a_moving_asset_is_repaid_against_its_up_boundary():
    """WSTETH supplied, ETH borrowed: the boundaries are WSTETH down and ETH up. Repaying x ETH
    needs, at ETH's up point P⁺ and at WSTETH's down point, W ≥ (d − x)·P_ETH(point)."""
    k, c, d = 3.0, 10.0, 9.6
    adv = advise(_doc(_aave({"WSTETH": c}, {"ETH": d})), f"distance>={k:g}sd")
    up = ETH * math.exp(k * VOL["ETH"] / math.sqrt(365))
    need = max(d - c * WSTETH * LT["WSTETH"] / up, d - c * _star("WSTETH", k) * LT["WSTETH"] / ETH)
    repay = _actions(adv, "deleverage")["ETH"]
    assert repay.amount == pytest.approx(need, rel=1e-5) and repay.meets and repay.cost_usd == pytest.approx(need * ETH)


def test_a_probability_target_is_searched_on_the_engine_and_verified():
    adv = advise(_doc(_aave({"ETH": 10.0}, {"USDC": 25_900.0})), "p(7d)<=5%", paths=2000)
    tops, repays = _actions(adv, "topup"), _actions(adv, "deleverage")
    for x in (tops["ETH"], repays["USDC"]):
        assert x.meets and x.minimal is True and x.metric <= 0.05 and x.method == "search on the engine"
        assert x.details["health_factor"]["after"] > 1
    # the same P distance: supply and repay reach the same HF up to the search's tolerance
    assert tops["ETH"].details["health_factor"]["after"] == pytest.approx(
        repays["USDC"].details["health_factor"]["after"], rel=0.01)


def test_a_debt_that_remains_after_repaying_another_in_full_says_so():
    adv = advise(_doc(_aave({"ETH": 10.0}, {"USDC": 25_000.0, "USDT": 100.0})), "distance>=3sd")
    (a,) = adv.accounts
    texts = [x.description for x in a.actions if x.kind == "deleverage" and not x.meets]
    assert texts == ["repay USDT debt: does not reach the target (the whole debt repaid misses it)"]
    assert _actions(adv, "deleverage")["USDC"].meets


def test_cli_advise_on_a_loan_names_the_asset_and_the_amount(tmp_path):
    from pathlib import Path
    ex = str(Path(__file__).resolve().parents[2] / "examples/defi_loans.yaml")
    res = CliRunner().invoke(app, ["advise", ex, "--target", "distance>=3sd", "--account", "aave-stressed", "--json"])
    assert res.exit_code == 0, res.output
    (a,) = json.loads(res.stdout)["accounts"]
    met = {x["kind"]: x for x in a["actions"] if x["meets"]}
    assert met["topup"]["unit"] == "ETH" and met["topup"]["amount"] == pytest.approx(1.38401, rel=1e-5)
    assert met["deleverage"]["unit"] == "USDC" and met["deleverage"]["amount"] == pytest.approx(3148.79, rel=1e-5)
    res = CliRunner().invoke(app, ["advise", ex, "--target", "distance>=3sd", "--account", "aave-stressed"])
    assert res.exit_code == 0, res.output
    assert "supply 1.38401 ETH" in res.output and "repay 3,148.79 USDC of debt" in res.output


def test_what_if_topup_on_a_loan_supplies_the_asset():
    from pathlib import Path
    ex = str(Path(__file__).resolve().parents[2] / "examples/defi_loans.yaml")
    res = CliRunner().invoke(app, ["what-if", ex, "--topup", "aave-stressed:ETH=1.38401", "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    (a,) = [x for x in d["accounts"] if x["id"] == "aave-stressed"]
    assert "after" in a and not a["after"]["liquidatable_now"], a


def test_maker_vault_weight_is_one_over_mat_and_a_dusty_rest_is_repaid_in_full():
    """Maker: unsafe when ink·P/mat < debt. Supply: x = debt·mat/P* − ink. Repay: x = debt −
    ink·P*/mat, unless what is left is below ``dust`` (Vat/dust): then the whole debt."""
    def vault(debt, dust):
        return {"id": "v", "venue": {"name": "maker", "reserves": {"ETH": {"mat": 1.5, "chop": 1.13, "dust": dust}}},
                "supplied": {"ETH": 10.0}, "borrowed": {"DAI": debt}}
    k, p = 3.0, _star("ETH", 3.0)
    adv = advise(_doc(vault(20_000.0, 0.0)), "distance>=3sd")
    assert _actions(adv, "topup")["ETH"].amount == pytest.approx(20_000 * 1.5 / p - 10, rel=1e-5)
    repay = _actions(adv, "deleverage")["DAI"]
    assert repay.amount == pytest.approx(20_000 - 10 * p / 1.5, rel=1e-5) and "debt_floor" not in repay.details
    left = 10 * p / 1.5                                   # the debt the target allows: 18,274 DAI
    adv = advise(_doc(vault(20_000.0, left + 1000)), f"distance>={k:g}sd")
    repay = _actions(adv, "deleverage")["DAI"]
    assert repay.amount == 20_000.0 and repay.meets and "minimum debt" in repay.details["debt_floor"]
