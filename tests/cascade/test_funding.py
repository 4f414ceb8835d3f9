"""Funding inside the cascade: paid out of the pool's wallet at each funding time of its venue
(Binance every 8 h, Hyperliquid hourly at the 8-hour rate / 8), with the money identity."""
import numpy as np
import pandas as pd
import pytest

from liqrisk.cascade import from_frame, scenario_from_dict, simulate
from liqrisk.cascade.impact import CascadeImpact
from liqrisk.cascade.scenario import Scenario, linear_path


def _pop(binance_margin: float):
    # Binance isolated long 10 @ 100, MMR 5%: MM = 50 USD; a Hyperliquid long 20 @ 100 with a
    # large margin only pays
    rows = [{"account_id": "A", "venue": "binance-usdm", "mode": "isolated", "collateral_usd": 0.0,
             "asset": "BTC", "size": 10.0, "entry": 100.0, "isolated_margin": binance_margin, "mmr": 0.05,
             "cum": 0.0},
            {"account_id": "H", "venue": "hyperliquid", "mode": "isolated", "collateral_usd": 0.0,
             "asset": "BTC", "size": 20.0, "entry": 100.0, "isolated_margin": 1000.0, "max_leverage": 10.0}]
    return from_frame(pd.DataFrame(rows))


def _flat(funding):
    return Scenario("flat", ("BTC",), np.array([100.0]), linear_path(np.array([0.0]), 30), CascadeImpact((None,)),
                    insurance_fund=1e6, funding=funding)


def test_funding_liquidates_at_the_third_8h_payment_and_hyperliquid_pays_hourly():
    """1% per 8 h: the Binance long pays 10·100·1% = $10 at 8, 16, 24 h; 25 USD above its MM it
    is liquidated at the third payment (step 24), never without funding. The Hyperliquid long
    pays 20·100·1%/8 = $2.50 every hour."""
    r = simulate(_pop(75.0), _flat({"BTC": 0.01}))
    assert list(r.liquidated_accounts) == ["A"] and r.liquidations[24] == 1 and r.liquidations.sum() == 1
    f = r.ledger["funding"]
    expected = np.full(31, -2.5)
    expected[0] = 0.0
    expected[[8, 16, 24]] -= 10.0
    np.testing.assert_allclose(f, expected, rtol=1e-12)
    assert np.all(r.conservation_error() <= 1e-9)
    assert simulate(_pop(75.0), _flat({})).liquidations.sum() == 0


def test_a_short_receives_and_the_scenario_file_takes_funding_per_asset():
    short = from_frame(pd.DataFrame([{"account_id": "S", "venue": "binance-usdm", "mode": "cross",
                                      "collateral_usd": 1000.0, "asset": "BTC", "size": -1.0, "entry": 100.0}]))
    r = simulate(short, _flat({"BTC": 0.01}))
    assert r.ledger["funding"].sum() == pytest.approx(3 * 1.0)
    sc = scenario_from_dict({"assets": {"BTC": {"price": 100.0, "vol": 0.5, "funding": 0.0002}},
                             "shock": {"kind": "linear", "steps": 8, "moves": {"BTC": 0.0}}})
    assert sc.funding == {"BTC": 0.0002}
    with pytest.raises(ValueError, match="assets.BTC"):
        scenario_from_dict({"assets": {"BTC": {"price": 100.0, "vol": 0.5, "funding": 0.5}},
                            "shock": {"kind": "gap", "moves": {"BTC": 0.0}}})


def _one(venue: str, size: float, entry: float, margin: float):
    return from_frame(pd.DataFrame([{"account_id": "A", "venue": venue, "mode": "isolated", "collateral_usd": 0.0,
                                     "asset": "BTC", "size": size, "entry": entry, "isolated_margin": margin,
                                     "max_leverage": 10.0}]))


def test_premium_form_pays_the_hyperliquid_example_hourly():
    """docs/mitigation.md (Hyperliquid's published example): impact bid 10,100 vs oracle 10,000 → premium 1% →
    F = 0.95% per 8 h → 0.11875% per hour: a 10 BTC long pays $118.75 each hour."""
    sc = scenario_from_dict({"assets": {"BTC": {"price": 10_000.0, "vol": 0.5,
                                                "funding": {"impact_bid": 10_100, "impact_ask": 10_200}}},
                             "shock": {"kind": "linear", "steps": 5, "moves": {"BTC": 0.0}},
                             "insurance_fund_usd": 1e6})
    r = simulate(_one("hyperliquid", 10.0, 10_000.0, 50_000.0), sc)
    np.testing.assert_allclose(r.ledger["funding"], [0.0] + [-118.75] * 5, rtol=1e-12)
    assert np.all(r.conservation_error() <= 1e-9)


def test_csv_series_is_paid_payment_by_payment_then_held(tmp_path):
    """A Binance long of 10 @ 100 with rates 1%, 2%, 0.5% per 8 h in a CSV: $10, $20, $5 at 8, 16,
    24 h, then the last rate held ($5 at 32 h)."""
    f = tmp_path / "f.csv"
    f.write_text("timestamp,rate\n2026-01-01T00:00:00Z,0.01\n2026-01-01T08:00:00Z,0.02\n2026-01-01T16:00:00Z,0.005\n")
    sc = scenario_from_dict({"assets": {"BTC": {"price": 100.0, "vol": 0.5, "funding": {"csv": str(f)}}},
                             "shock": {"kind": "linear", "steps": 33, "moves": {"BTC": 0.0}},
                             "insurance_fund_usd": 1e6})
    r = simulate(_one("binance-usdm", 10.0, 100.0, 500.0), sc)
    expected = np.zeros(34)
    expected[[8, 16, 24, 32]] = [-10.0, -20.0, -5.0, -5.0]
    np.testing.assert_allclose(r.ledger["funding"], expected, rtol=1e-12)
    with pytest.raises(ValueError, match="assets.BTC.funding"):
        scenario_from_dict({"assets": {"BTC": {"price": 100.0, "vol": 0.5, "funding": {"impact_bid": 101}}},
                            "shock": {"kind": "gap", "moves": {"BTC": 0.0}}})
