"""Portfolio margin of OKX (risk units), against OKX's published parameters and its published
minimum-charge example; boundaries against a dense scan."""
import numpy as np
import pytest

from conftest import portfolio
from liqrisk.margin.account import CompiledPortfolio, analyze_margin
from liqrisk.margin.scenario import multiplied

MARK = 91_250.0


def _okx(positions, pm=None, collateral=None, market=None):
    venue = {"name": "okx", "portfolio_margin": pm} if pm else "okx"
    return portfolio([{"id": "o", "venue": venue, "mode": "portfolio", "collateral": collateral or {"USDT": 1e6},
                       "positions": positions}],
                     market=market or {"BTC": {"mark": MARK, "vol": 0.5}, "SOL": {"mark": 200.0, "vol": 0.8},
                                       "AVAX": {"mark": 30.0, "vol": 0.8}, "LTC": {"mark": 100.0, "vol": 0.7}})


def _perp(symbol, size, entry):
    return {"symbol": symbol, "kind": "perp", "size": size, "entry": entry}


def test_okx_mr7_multiplier_tiers_reproduce_the_published_example():
    # OKX (scaling-factor logic): MR = max(MR1, MR2, MR6) + MR3 + MR4 + MR5 = 40,000 USD, raw MR7
    # 30,000 USD, tiers [0, 10,000] ×1, (10,000, 70,000] ×2 → MR7 = 10,000 + 20,000·2 = 50,000 and
    # the unit's MMR = max(MR, MR7) = 50,000
    old_tiers = [[0, 1], [10_000, 2], [70_000, 4], [170_000, 6], [300_000, 8], [470_000, 10], [700_000, 12]]
    assert multiplied(30_000, old_tiers) == 50_000
    n = 250_000.0                                       # USD notional of a BTC perp at the mark
    pm = {"mr1_price_moves": [0.04, 0.08, 0.16], "mr6_price_move": 0.32, "mr4_min_rate": 0.0,
          "mr7_rate": 30_000 / n, "mr7_tiers": old_tiers}
    res = analyze_margin(_okx([_perp("BTC-USDT-SWAP", n / MARK, MARK)], pm))[0]
    unit = res.portfolio_margin["units"][0]
    assert unit["worst_loss"] == pytest.approx(40_000, rel=1e-12)
    assert unit["min_charge_raw"] == pytest.approx(30_000, rel=1e-12)
    assert unit["min_charge"] == pytest.approx(50_000, rel=1e-12)
    assert res.maintenance_margin == pytest.approx(50_000, rel=1e-12)
    # a smaller raw charge (15,000 → 10,000 + 5,000·2 = 20,000) leaves MR = 40,000 binding
    res = analyze_margin(_okx([_perp("BTC-USDT-SWAP", n / MARK, MARK)], pm | {"mr7_rate": 15_000 / n}))[0]
    assert res.portfolio_margin["units"][0]["min_charge"] == pytest.approx(20_000, rel=1e-12)
    assert res.maintenance_margin == pytest.approx(40_000, rel=1e-12)


@pytest.mark.parametrize("und,symbol,mr1,mr6,mr4", [
    ("BTC", "BTC-USDT-SWAP", 0.12, 0.24, 0.002),    # BTC/ETH: ±0/4/8/12%, extreme ±24%
    ("LTC", "LTC-USDT-SWAP", 0.18, 0.36, 0.008),    # mid caps: ±0/6/12/18%, extreme ±36%
    ("SOL", "SOL-USDT-SWAP", 0.25, 0.36, 0.008),    # others for MR1, mid for MR6
    ("AVAX", "AVAX-USDT-SWAP", 0.25, 0.50, 0.008),  # others: ±0/8/16/25%, extreme ±50%
])
def test_okx_unit_of_a_perp_is_max_of_spot_shock_and_half_the_extreme_move_plus_basis(und, symbol, mr1, mr6, mr4):
    # OKX 2025-01-06 parameters: MR1 = the move's loss, MR6 = 0.5 × the extreme move's loss; the
    # perpetual's MR4 floor; MR7 (0.45% / 0.7% of the notional) is below both
    price = {"BTC": MARK, "LTC": 100.0, "SOL": 200.0, "AVAX": 30.0}[und]
    q = -20_000 / price
    res = analyze_margin(_okx([_perp(symbol, q, price)]))[0]
    notional = 20_000
    assert res.maintenance_margin == pytest.approx(notional * (max(mr1, 0.5 * mr6) + mr4), rel=1e-12)
    assert res.initial_margin == pytest.approx(1.3 * res.maintenance_margin, rel=1e-12)
    assert res.portfolio_margin["worst_scenario"].startswith(f"{und} MR")


def test_okx_mr8_borrowing_is_2_percent_of_mm_and_10_percent_of_im():
    res = analyze_margin(_okx([_perp("BTC-USDT-SWAP", 0.1, MARK)], collateral={"USDT": 50_000, "USDC": -10_000}))[0]
    units = res.portfolio_margin["units"][0]["requirement"]
    assert res.maintenance_margin == pytest.approx(units + 0.02 * 10_000, rel=1e-12)
    assert res.initial_margin == pytest.approx(1.3 * units + 0.10 * 10_000, rel=1e-12)


def test_okx_risk_unit_nets_linear_and_inverse_swaps_of_one_underlying():
    # one BTC unit: a USDT-margined long against a coin-margined short of the same USD size
    hedged = analyze_margin(_okx([_perp("BTC-USDT-SWAP", 1.0, MARK), _perp("BTC-USD-SWAP", -MARK, MARK)]))[0]
    outright = analyze_margin(_okx([_perp("BTC-USDT-SWAP", 1.0, MARK)]))[0]
    assert hedged.maintenance_margin < 0.25 * outright.maintenance_margin


def _okx_options(collateral):
    opts = [(80_000, "put", 3.0), (100_000, "call", -2.0), (95_000, "call", 1.0), (70_000, "put", -4.0)]
    pos = [{"underlying": "BTC", "kind": "option", "expiry": "2026-12-25T08:00:00Z", "strike": k, "type": t,
            "size": q, "entry": 0.01} for k, t, q in opts] + [_perp("BTC-USDT-SWAP", 0.5, MARK)]
    return _okx(pos, {"mr1_vol_shock_up": 0.3, "mr1_vol_shock_down": 0.2}, collateral={"USDT": collateral})


@pytest.mark.parametrize("collateral", [9_000.0, 20_000.0])
def test_okx_options_unit_boundaries_match_a_dense_scan(collateral):
    cp = CompiledPortfolio(_okx_options(collateral))
    res = cp.margin_results()[0]
    assert not res.liquidatable_now
    grid = MARK * np.exp(np.linspace(np.log(0.05), np.log(50), 40_001))
    eq, mm = cp.curve(0, "BTC", grid)
    gap = eq - mm
    crossings = np.nonzero(np.sign(gap[1:]) != np.sign(gap[:-1]))[0]
    found = res.boundaries["BTC"]
    assert len(found) == len(crossings) > 0
    for k, r in zip(crossings, found):
        assert grid[k] <= r <= grid[k + 1]
    assert res.portfolio_margin["units"][0]["vols"] == ["vol up", "vol same", "vol down"]


def _bybit(positions, pm=None, collateral=None):
    venue = {"name": "bybit-linear", "portfolio_margin": pm} if pm else "bybit-linear"
    return portfolio([{"id": "b", "venue": venue, "mode": "portfolio", "collateral": collateral or {"USDT": 1e6},
                       "positions": positions}], market={"BTC": {"mark": MARK, "vol": 0.5}})


@pytest.mark.parametrize("pm,stress", [(None, 0.10), ({"price_range": 0.15}, 0.15)])
def test_bybit_btc_price_stress_is_10_percent_since_2025_01_10_and_15_before(pm, stress):
    # Bybit: BTC/ETH price stress ±10% since 2025-01-10 (±15% before); plus the perpetual
    # contingency Σ|qty|·factor·index; IM = MM × im_factor
    res = analyze_margin(_bybit([_perp("BTCUSDT", -2.0, MARK)], pm))[0]
    n = 2.0 * MARK
    assert res.maintenance_margin == pytest.approx(n * (stress + 0.005), rel=1e-12)
    assert res.initial_margin == pytest.approx(1.25 * res.maintenance_margin, rel=1e-12)
    assert res.portfolio_margin["worst_scenario"] == "BTC +1×range"
    assert res.portfolio_margin["units"][0]["move_labels"][-1] == f"+{100 * stress:g}%"


def test_bybit_every_factor_is_a_parameter_and_the_short_option_is_repriced_in_usd():
    from liqrisk.pricing.reference import black76
    pm = {"price_range": 0.08, "price_steps": 4, "vol_range_up": 0.4, "vol_range_down": 0.2,
          "futures_contingency_factor": 0.01, "short_option_contingency_factor": 0.02, "im_factor": 1.5}
    call = {"underlying": "BTC", "kind": "option", "expiry": "2026-12-25T08:00:00Z", "strike": 95_000,
            "type": "call", "size": -3.0, "entry": 0.01}
    res = analyze_margin(_bybit([call], pm))[0]
    T = (32 + 8 / 24) / 365                            # 2026-11-23 00:00 → 2026-12-25 08:00
    v0 = black76(MARK, 95_000, T, 0.0, 0.5, True)
    # the short call's worst scenario: price +8%, vol up 40%, its USD premium change × 3
    worst = 3 * (black76(MARK * 1.08, 95_000, T, 0.0, 0.5 * 1.4, True) - v0)
    unit = res.portfolio_margin["units"][0]
    assert unit["worst_loss"] == pytest.approx(worst, rel=1e-9)
    assert unit["worst_scenario"] == "+1×range vol up"
    assert res.maintenance_margin == pytest.approx(worst + 3 * 0.02 * MARK, rel=1e-9)
    assert res.initial_margin == pytest.approx(1.5 * res.maintenance_margin, rel=1e-12)
    assert len(unit["move_labels"]) == 9 and unit["vols"] == ["vol up", "vol same", "vol down"]


@pytest.mark.parametrize("venue,pm,field", [
    ("okx", {"mr7_rte": 0.1}, "venue.portfolio_margin.mr7_rte"),
    ("okx", {"ETH": {"mr7_rate": 0.1}}, "venue.portfolio_margin.ETH"),
    ("bybit-linear", {"BTC": {"price_rnge": 0.1}}, "venue.portfolio_margin.BTC.price_rnge"),
    ("bybit-linear", {"price_steps": 0}, "venue.portfolio_margin.price_steps"),
])
def test_portfolio_margin_bad_parameters_are_rejected_naming_the_field(venue, pm, field):
    from liqrisk.io.portfolio import InputError
    with pytest.raises(InputError, match=f"field '{field}'"):
        portfolio([{"id": "x", "venue": {"name": venue, "portfolio_margin": pm}, "mode": "portfolio",
                    "collateral": {"USDT": 1000}, "positions": [_perp("BTCUSDT", 0.1, MARK)]}])


def test_span_options_scan_16_scenarios_with_vol_scan_and_short_option_minimum():
    # CME SPAN with an option: long 1 future + short 1 call, price scan range 10,000, vol scan 5
    # points; the 14 price × vol scenarios count in full, ±2 ranges (vol unchanged) at 35%
    from liqrisk.pricing.reference import black76
    F, K, vol, T = 90_000.0, 95_000.0, 0.5, (32 + 8 / 24) / 365
    pm = {"price_scan_range": {"BTC": 10_000}, "volatility_scan_range": {"BTC": 0.05}}
    positions = [{"symbol": "BTCZ6", "underlying": "BTC", "kind": "future", "expiry": "2027-06-25T00:00:00Z",
                  "size": 1, "entry": F},
                 {"underlying": "BTC", "kind": "option", "expiry": "2026-12-25T08:00:00Z", "strike": K,
                  "type": "call", "size": -1, "entry": 0.01}]
    market = {"BTC": {"mark": F, "vol": vol}}
    res = analyze_margin(portfolio([{"id": "s", "venue": {"name": "span", "portfolio_margin": pm},
                                     "mode": "portfolio", "collateral": {"USD": 100_000}, "positions": positions}],
                                   market=market))[0]
    v0 = black76(F, K, T, 0.0, vol, True)
    rows = [(m, dv, 1.0) for m in (0, 1 / 3, -1 / 3, 2 / 3, -2 / 3, 1, -1) for dv in (0.05, -0.05)]
    rows += [(2, 0.0, 0.35), (-2, 0.0, 0.35)]
    pnl = [w * (m * 10_000 - (black76(F + m * 10_000, K, T, 0.0, vol + dv, True) - v0)) for m, dv, w in rows]
    assert res.portfolio_margin["maintenance_margin"] == pytest.approx(-min(pnl), rel=1e-9)
    # short-option minimum: 1,000 per short option floors the requirement of a far OTM short call
    far = positions[1] | {"strike": 300_000}
    res = analyze_margin(portfolio([{"id": "s", "venue": {"name": "span", "portfolio_margin": pm |
                                                          {"short_option_minimum": 1_000}},
                                     "mode": "portfolio", "collateral": {"USD": 100_000}, "positions": [far]}],
                                   market=market))[0]
    assert res.portfolio_margin["maintenance_margin"] == pytest.approx(1_000, rel=1e-12)
