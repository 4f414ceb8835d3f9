"""Properties of the cascade engine: zero impact, monotone in impact, amplification, a cascade
computed on paper, the money identity (or an error), numba = NumPy engine, per-venue insurance
funds and ADL, the ADL ranking."""
import re

import numpy as np
import pandas as pd
import pytest

from liqrisk.cascade import ConservationError, engine, from_frame, scenario_from_dict, simulate
from liqrisk.cascade.impact import CascadeImpact
from liqrisk.cascade.scenario import Scenario, ScenarioError, gap_path, linear_path
from liqrisk.cascade.synthetic import SyntheticSpec, synthetic_population
from liqrisk.liquidity.impact import LinearImpact
from liqrisk.margin.base import ADL_PNL_X_LEVERAGE, LiquidationResponse
from liqrisk.margin.binance import usdm_brackets, usdm_liquidation_price

P0 = {"BTC": 91250.0, "ETH": 3050.0}


def _scenario(moves, steps=10, kind="linear", model="sqrt", fund=1e9, **impact):
    return scenario_from_dict({
        "assets": {"BTC": {"price": P0["BTC"], "vol": 0.55}, "ETH": {"price": P0["ETH"], "vol": 0.7}},
        "shock": {"kind": kind, "steps": steps, "moves": moves},
        "impact": {"model": model, **impact}, "insurance_fund_usd": fund})


@pytest.fixture(scope="module")
def pop():
    return synthetic_population(SyntheticSpec(n_accounts=3000, seed=11, reference_accounts=3000,
                                              open_interest_usd={"BTC": 6e7, "ETH": 3e7}))


def _reference_lp_btc(pop):
    """Binance closed form per account along BTC (ETH at its mark), from liqrisk.margin.binance
    (independent of the engine's check): LP = (WB' + cum − side·Q·EP)/(Q·MMR − side·Q)."""
    btc, eth = usdm_brackets()["BTCUSDT"], usdm_brackets()["ETHUSDT"]
    a, pool = pop.arrays, pop.pos_pool()
    lp = {}
    for j in np.flatnonzero(a.axis == 0):
        p = pool[j]
        others = [o for o in range(a.pos_start[p], a.pos_end[p]) if o != j]
        tmm = sum(float(eth.maintenance_margin(abs(a.qty[o]) * P0["ETH"])) for o in others)
        upnl = sum(a.qty[o] * (P0["ETH"] - a.entry[o]) for o in others)
        lp[pop.account_id[pop.pool_account[p]]] = usdm_liquidation_price(
            a.const_usd[p], tmm, upnl, both=(a.qty[j], a.entry[j]), table=btc, mark=P0["BTC"])
    return lp


@pytest.mark.parametrize("kind,move", [("gap", -0.08), ("linear", -0.15)])
def test_zero_impact_liquidates_exactly_the_accounts_whose_lp_lies_inside_the_shock(pop, kind, move):
    r = simulate(pop, _scenario({"BTC": move}, steps=1 if kind == "gap" else 12, kind=kind, model="none"))
    low = P0["BTC"] * (1 + move)
    expected = {a for a, lp in _reference_lp_btc(pop).items() if lp is not None and low <= lp <= P0["BTC"]}
    assert len(expected) > 50
    assert set(r.liquidated_accounts.tolist()) == expected
    np.testing.assert_allclose(r.marks, r.exogenous)


def test_more_impact_or_less_depth_never_liquidates_fewer_accounts(pop):
    counts = [len(simulate(pop, _scenario({"BTC": -0.10}, y=y, resilience=0.2)).liquidated_accounts)
              for y in (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)]
    assert counts == sorted(counts) and counts[-1] > counts[0]
    sc = _scenario({"BTC": -0.10}, resilience=0.2)
    by_depth = [len(simulate(pop, Scenario(sc.name, sc.assets, sc.prices, sc.path, CascadeImpact(
        tuple(m.__class__(m.sigma, m.daily_volume * d) for m in sc.impact.models), 0.2), sc.insurance_fund)
    ).liquidated_accounts) for d in (4.0, 1.0, 0.25, 0.05)]
    assert by_depth == sorted(by_depth)


@pytest.mark.parametrize("move,kind", [(-0.05, "gap"), (-0.15, "linear"), (-0.25, "linear")])
def test_amplification_is_at_least_one(pop, move, kind):
    r = simulate(pop, _scenario({"BTC": move, "ETH": 0.8 * move}, kind=kind, steps=1 if kind == "gap" else 20,
                                y=3.0, resilience=0.1))
    amp = r.amplification()
    assert amp["BTC"] >= 1.0 and amp["ETH"] >= 1.0


def _three_accounts(extra=()):
    rows = [{"account_id": name, "venue": "hyperliquid", "mode": "isolated", "collateral_usd": 0.0,
             "asset": "BTC", "size": 10.0, "entry": 100.0, "isolated_margin": m, "max_leverage": 10.0}
            for name, m in (("A", 100.0), ("B", 150.0), ("C", 200.0))]
    return from_frame(pd.DataFrame(rows + list(extra)))


def _paper_scenario(fund):
    # BTC 100 → 94 at step 1; Kyle impact λ = 1e-4 per USD: 10 BTC sold at 94 move the price 9.4%
    return Scenario("paper", ("BTC",), np.array([100.0]), gap_path(np.array([-0.06]), 1),
                    CascadeImpact((LinearImpact(1e-4),)), insurance_fund=fund)


def test_three_account_cascade_matches_the_paper_computation():
    # Three isolated longs, 10 BTC @ 100, MMR = 1/(2·10) = 5% (Hyperliquid, no fee, $940 < 100k so
    # full liquidation). Equity(P) = m + 10(P − 100), MM(P) = 0.5P → LP = (1000 − m)/9.5:
    #   A (m=100) 94.737, B (m=150) 89.474, C (m=200) 84.211.
    # Impact: displacement f(V) = c·V with c = λ·94 = 0.0094 per BTC of flow V; a fill from V0 to V1
    # averages c(V0+V1)/2.
    # Round 1, mark 94: only A falls (eq 40 ≤ MM 47). Fills 10 at 94(1 − 0.047) = 89.582;
    #   A's wallet 100 + 10(89.582 − 100) = −4.18 → fund pays 4.18. Mark 94(1 − 0.094) = 85.164.
    # Round 2: B falls (eq 1.64 ≤ 42.58), C holds (51.64 > 42.58). Fill 94(1 − 0.141) = 80.746;
    #   wallet 150 − 192.54 = −42.54 → fund pays. Mark 94(1 − 0.188) = 76.328.
    # Round 3: C falls (eq −36.72). Fill 94(1 − 0.235) = 71.91; wallet 200 − 280.9 = −80.9 → fund.
    #   Mark 94(1 − 0.282) = 67.492. Round 4: nobody left.
    # Fund 1000 − 4.18 − 42.54 − 80.9 = 872.38; liquidated notional 10(89.582 + 80.746 + 71.91)
    # = 2422.38; amplification (1 − 0.67492)/0.06 = 5.418.
    r = simulate(_three_accounts(), _paper_scenario(1000.0))
    assert r.rounds[1] == 3 and r.liquidations[1] == 3 and r.full_liquidations[1] == 3
    assert sorted(r.liquidated_accounts) == ["A", "B", "C"]
    assert r.marks[1, 0] == pytest.approx(67.492, rel=1e-12)
    assert r.insurance_fund[1] == pytest.approx(872.38, rel=1e-12)
    assert r.liquidated_notional[1, 0] == pytest.approx(2422.38, rel=1e-12)
    assert r.amplification()["BTC"] == pytest.approx(0.32508 / 0.06, rel=1e-12)
    assert r.ledger["book_pnl"][1] == pytest.approx(-(104.18 + 192.54 + 280.9), rel=1e-12)


def test_exhausted_fund_deleverages_the_profitable_short_at_the_bankruptcy_price():
    # As above with a fund of 50 and a short D (20 @ 100, isolated 500): after A and B the fund
    # holds 50 − 4.18 − 42.54 = 3.28 < C's deficit, so C is closed by ADL at its bankruptcy price
    # at mark 76.328: equity −36.72, fund pays 3.28, ρ = 33.44/763.28, P = 76.328(1 + ρ) = 79.672.
    # D buys back 10 at 79.672: realised 10(100 − 79.672) = 203.28; C's wallet ends at 0.
    d = {"account_id": "D", "venue": "hyperliquid", "mode": "isolated", "collateral_usd": 0.0, "asset": "BTC",
         "size": -20.0, "entry": 100.0, "isolated_margin": 500.0, "max_leverage": 10.0}
    r = simulate(_three_accounts([d]), _paper_scenario(50.0))
    (ev,) = r.adl_events
    assert ev["bankrupt_side"] == "long" and ev["counterparties"] == 1 and ev["venue_takeover"] == 0
    assert ev["quantity"] == pytest.approx(10.0) and ev["price"] == pytest.approx(79.672, rel=1e-12)
    assert r.insurance_fund[1] == pytest.approx(0.0, abs=1e-9)
    assert r.marks[1, 0] == pytest.approx(94 * (1 - 0.188), rel=1e-12)   # C never hit the book
    assert r.ledger["adl_pnl"][1] == pytest.approx(-203.28 + 203.28, abs=1e-9)
    assert r.conservation_error().max() < 1e-9


def test_a_step_with_a_non_finite_ledger_term_breaks_the_money_identity(pop):
    """NaN flows compared as 'not above the tolerance' and the run passed with null marks and
    ledger in its JSON (fuzz campaign: a scenario vol of 1e308); now such a step is a broken
    identity and the run stops."""
    from dataclasses import replace
    r = simulate(pop, _scenario({"BTC": -0.12, "ETH": -0.1}, steps=4, fund=1e5, y=3.0))
    wallets = r.ledger["wallets"].copy()
    wallets[2] = np.nan
    err = replace(r, ledger={**r.ledger, "wallets": wallets}).conservation_error()
    assert err[2] == np.inf and np.isfinite(np.delete(err, 2)).all()


@pytest.mark.parametrize("fund", [0.0, 2e5, 1e9])
def test_money_identity_holds_every_step_to_1e9_relative(fund):
    pop = synthetic_population(SyntheticSpec(
        n_accounts=3000, seed=5, reference_accounts=3000, open_interest_usd={"BTC": 6e7, "ETH": 3e7},
        venue_shares={"binance-usdm": 0.5, "hyperliquid": 0.3, "okx": 0.2}))
    r = simulate(pop, _scenario({"BTC": -0.2, "ETH": -0.15}, steps=20, fund=fund, y=4.0, resilience=0.1))
    assert r.liquidations.sum() > 100
    assert r.conservation_error().max() < 1e-9
    if fund == 0.0:
        assert len(r.adl_events) > 0 and r.ledger["adl_pnl"].any()


def test_numba_and_numpy_engines_agree(pop):
    sc = _scenario({"BTC": -0.12, "ETH": -0.1}, steps=8, fund=1e5, y=3.0, resilience=0.2)
    a, b = simulate(pop, sc, backend="numba"), simulate(pop, sc, backend="numpy")
    np.testing.assert_allclose(a.marks, b.marks, rtol=1e-12)
    np.testing.assert_array_equal(a.liquidations, b.liquidations)
    np.testing.assert_allclose(a.insurance_fund, b.insurance_fund, rtol=1e-12)


def test_a_btc_shock_reaches_eth_through_cross_accounts(pop):
    r = simulate(pop, _scenario({"BTC": -0.15}, steps=10, y=3.0))
    assert r.exogenous[-1, 1] == P0["ETH"] and r.marks[:, 1].min() < P0["ETH"] * 0.999


def test_okx_cross_account_with_an_unmoved_second_asset_is_liquidated_by_both_backends():
    # Regression: OKX whole-position tiers have grad = inf; ETH not moving gave inf·0 = NaN in the
    # numba screen and the account (1 BTC @ 90k + 0.1 ETH @ 3k, 10k collateral) was never checked
    # again — no liquidation at equity −8,000. Equity 10k + (P − 90k) meets MM ≈ 0.4% of notional
    # just below 80.3k: step 6 of a linear −20% over 10 steps (P = 79,200).
    rows = [{"account_id": "X", "venue": "okx", "mode": "cross", "collateral_usd": 10000.0, "asset": a,
             "size": q, "entry": e} for a, q, e in (("BTC", 1.0, 90000.0), ("ETH", 0.1, 3000.0))]
    pop = from_frame(pd.DataFrame(rows))
    sc = Scenario("okx", ("BTC", "ETH"), np.array([90000.0, 3000.0]), linear_path(np.array([-0.2, 0.0]), 10),
                  CascadeImpact((None, None)), insurance_fund=1e6)
    a, b = simulate(pop, sc, backend="numba"), simulate(pop, sc, backend="numpy")
    assert list(a.liquidated_accounts) == ["X"] == list(b.liquidated_accounts)
    np.testing.assert_array_equal(a.liquidations, b.liquidations)
    assert a.liquidations[6] == 1 and a.liquidations.sum() == 1
    np.testing.assert_allclose(a.insurance_fund, b.insurance_fund, rtol=1e-12)
    np.testing.assert_allclose(a.liquidated_notional, b.liquidated_notional, rtol=1e-12)


def _two_venue_book():
    # A: Binance isolated long 10 @ 100 (margin 100, MMR 5%) goes bankrupt at a 12% gap.
    # B: Binance short 5 (the only same-venue counterparty); H: Hyperliquid short 20, far more
    # profitable and leveraged, must never be deleveraged for a Binance bankruptcy.
    rows = [{"account_id": "A", "venue": "binance-usdm", "mode": "isolated", "collateral_usd": 0.0,
             "asset": "BTC", "size": 10.0, "entry": 100.0, "isolated_margin": 100.0, "mmr": 0.05, "cum": 0.0},
            {"account_id": "B", "venue": "binance-usdm", "mode": "isolated", "collateral_usd": 0.0,
             "asset": "BTC", "size": -5.0, "entry": 95.0, "isolated_margin": 200.0, "mmr": 0.05, "cum": 0.0},
            {"account_id": "H", "venue": "hyperliquid", "mode": "isolated", "collateral_usd": 0.0,
             "asset": "BTC", "size": -20.0, "entry": 100.0, "isolated_margin": 500.0, "max_leverage": 10.0}]
    return from_frame(pd.DataFrame(rows))


class _Capture(engine._State):
    last = None

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        _Capture.last = self


@pytest.mark.parametrize("fund", [0.0, {"binance-usdm": 0.0, "hyperliquid": 1e9}])
def test_a_binance_bankruptcy_never_touches_hyperliquid_accounts_or_fund(monkeypatch, fund):
    monkeypatch.setattr(engine, "_State", _Capture)
    pop = _two_venue_book()
    sc = Scenario("x", ("BTC",), np.array([100.0]), gap_path(np.array([-0.12]), 1), CascadeImpact((None,)),
                  insurance_fund=fund)
    r = simulate(pop, sc)
    st = _Capture.last
    # A at 88: equity 100 − 120 = −20, Binance fund 0 → ADL at the bankruptcy price 90 against B (5);
    # the other 5 are taken over by Binance, H is not a candidate.
    (ev,) = r.adl_events
    assert ev["venue"] == "binance-usdm" and ev["counterparties"] == 1
    assert ev["price"] == pytest.approx(90.0) and ev["venue_takeover"] == pytest.approx(5.0)
    h = np.flatnonzero(pop.account_id == "H")[0]
    (hp,) = np.flatnonzero(pop.pool_account == h)
    np.testing.assert_array_equal(st.a.qty[st.a.pos_start[hp]:st.a.pos_end[hp]], [-20.0])
    assert st.a.const_usd[hp] == 500.0
    np.testing.assert_array_equal(r.insurance_fund_by_venue["hyperliquid"], sc.funds(("hyperliquid",))[0])
    np.testing.assert_array_equal(r.insurance_fund_by_venue["binance-usdm"], 0.0)
    assert r.conservation_error().max() < 1e-12


def test_each_venue_has_its_own_fund_and_adl_on_a_mixed_population(monkeypatch):
    # Hyperliquid's fund is (practically) unlimited, Binance's and OKX's are empty: ADL happens on
    # Binance/OKX only, and no Hyperliquid account that was not itself liquidated changes at all.
    monkeypatch.setattr(engine, "_State", _Capture)
    pop = synthetic_population(SyntheticSpec(
        n_accounts=3000, seed=5, reference_accounts=3000, open_interest_usd={"BTC": 6e7, "ETH": 3e7},
        venue_shares={"binance-usdm": 0.5, "hyperliquid": 0.3, "okx": 0.2}))
    sc = scenario_from_dict({
        "assets": {"BTC": {"price": P0["BTC"], "vol": 0.55}, "ETH": {"price": P0["ETH"], "vol": 0.7}},
        "shock": {"kind": "linear", "steps": 20, "moves": {"BTC": -0.2, "ETH": -0.15}},
        "impact": {"model": "sqrt", "y": 4.0, "resilience": 0.1},
        "insurance_fund_usd": {"binance-usdm": 0.0, "okx": 0.0, "hyperliquid": 1e9}})
    r = simulate(pop, sc)
    st = _Capture.last
    assert len(r.adl_events) > 0 and {e["venue"] for e in r.adl_events} <= {"binance-usdm", "okx"}
    assert any(e["counterparties"] > 0 for e in r.adl_events)
    hl_pools = np.flatnonzero(np.asarray(pop.venues)[pop.pool_venue] == "hyperliquid")
    spared = hl_pools[~np.isin(pop.account_id[pop.pool_account[hl_pools]], r.liquidated_accounts)]
    assert len(spared) > 100
    np.testing.assert_array_equal(st.a.const_usd[spared], pop.arrays.const_usd[spared])
    pos = np.isin(pop.pos_pool(), spared)
    np.testing.assert_array_equal(st.a.qty[pos], pop.arrays.qty[pos])
    assert np.diff(r.insurance_fund_by_venue["hyperliquid"]).min() < 0     # it paid its own deficits
    np.testing.assert_allclose(sum(r.insurance_fund_by_venue.values()), r.insurance_fund, rtol=1e-12)
    assert r.conservation_error().max() < 1e-9


def test_insurance_fund_usd_accepts_a_number_per_venue_or_a_mapping():
    base = {"assets": {"BTC": {"price": 100.0, "vol": 0.5}}, "shock": {"moves": {"BTC": -0.1}}}
    assert list(scenario_from_dict({**base, "insurance_fund_usd": 5.0}).funds(("okx", "hyperliquid"))) == [5.0, 5.0]
    sc = scenario_from_dict({**base, "insurance_fund_usd": {"okx": 3.0}})
    assert list(sc.funds(("binance-usdm", "okx"))) == [0.0, 3.0]
    with pytest.raises(ScenarioError, match="insurance_fund_usd.ftx"):
        scenario_from_dict({**base, "insurance_fund_usd": {"ftx": 1.0}})
    with pytest.raises(ScenarioError, match="insurance_fund_usd.okx"):
        scenario_from_dict({**base, "insurance_fund_usd": {"okx": -1.0}})


@pytest.mark.parametrize("asset, field", [({"vol": 1e300}, "assets.BTC.vol: out of range: 1e+300 (allowed [1e-06, 10.0])"),
                                          ({"daily_volume": 1e300}, "assets.BTC.daily_volume: out of range")])
def test_an_asset_vol_or_volume_beyond_the_supported_range_is_refused(asset, field):
    """The sqrt impact model's vol has the portfolio loader's bound (≤ 1000 %): a vol of 1e300 was
    accepted and pushed BTC to the price floor in one step (found by the cascade value mutations)."""
    base = {"assets": {"BTC": {"price": P0["BTC"], "vol": 0.55, **asset}},
            "shock": {"kind": "gap", "steps": 2, "moves": {"BTC": -0.1}}, "impact": {"model": "sqrt"}}
    with pytest.raises(ScenarioError, match=re.escape(field)):
        scenario_from_dict(base)


def test_adl_score_is_zero_without_margin_balance_and_never_nan():
    # Binance: margin ratio = MM / (WB + uPnL), 0 when WB + uPnL ≤ 0; PnL% = max(0, uPnL)/max(1, WB).
    upnl = np.array([50.0, 50.0, 0.0, 0.0, 10.0, -5.0, 50.0])
    wallet = np.array([100.0, 100.0, 100.0, 0.0, 0.5, 100.0, -80.0])
    equity = np.array([150.0, -10.0, 0.0, 0.0, 10.5, 95.0, -30.0])
    mm = np.array([30.0, 30.0, 0.0, 5.0, 1.0, 10.0, 40.0])
    notional = np.array([300.0, 300.0, 100.0, 50.0, 21.0, 100.0, 400.0])
    score = LiquidationResponse().adl_score(upnl, wallet, equity, mm, notional)
    assert np.isfinite(score).all()
    np.testing.assert_allclose(score, [0.5 * 0.2, 0.0, 0.0, 0.0, 10.0 * (1 / 10.5), 0.0, 0.0])
    # Bybit: PnL% × effective leverage (notional / margin balance)
    bybit = LiquidationResponse(adl_ranking=ADL_PNL_X_LEVERAGE).adl_score(upnl, wallet, equity, mm, notional)
    np.testing.assert_allclose(bybit, [0.5 * 2.0, 0.0, 0.0, 0.0, 10.0 * 2.0, 0.0, 0.0])


def test_a_broken_ledger_stops_the_run_with_an_error(monkeypatch):
    # A bookkeeping defect (a wallet credited 1 USD more than settled) must not give a result.
    original = engine._State.credit
    monkeypatch.setattr(engine._State, "credit", lambda self, pools, usd, bp: original(self, pools, usd + 1.0, bp))
    with pytest.raises(ConservationError, match="money identity broken at step 1"):
        simulate(_three_accounts(), _paper_scenario(1000.0))


@pytest.mark.parametrize("noise, field", [
    ({"vol": 5e-324, "correlation": 0.85}, "shock.noise.vol: 4.94066e-324: must be 0 (no noise) or in [1e-08, 1]"),
    ({"vol": 1e-8, "correlation": 0.9999999999999999}, "shock.noise.correlation: 0.9999999999999999: too close"),
])
def test_noise_whose_covariance_is_not_positive_definite_in_floats_names_the_field(noise, field):
    """A per-step noise vol of 5e-324 (its square underflows to 0) or a correlation one ulp below 1
    passed the range checks and then failed in the Cholesky factorisation: 'Matrix is not positive
    definite', naming no field (found by the service fuzz target)."""
    base = {"assets": {"BTC": {"price": 100.0, "vol": 0.5}, "ETH": {"price": 10.0, "vol": 0.5}},
            "shock": {"kind": "linear", "steps": 5, "moves": {"BTC": -0.1}, "noise": noise}}
    with pytest.raises(ScenarioError, match=re.escape(field)):
        scenario_from_dict(base)
