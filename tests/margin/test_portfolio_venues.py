"""Portfolio margin of OKX (risk units), against OKX's published parameters and its published
minimum-charge example; boundaries against a dense scan."""
import numpy as np
import pytest

from tests.builders import portfolio
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


# OKX API v5 docs, "Position builder (new)" (POST /api/v5/account/position-builder), response
# example: BTC-USDT-SWAP −10 contracts (−0.1 BTC, mark 97,093.7) and LTC-USDT-SWAP +10 (10 LTC,
# mark 102), borrowing in USDT; per risk unit (mr1 stress P&L grid, mr4, mr6 and its stress P&L,
# mr7, mmr, imr) and for the account (mr8, derivMmr, totalMmr, totalImr), as printed
OKX_PB = {"BTC": {"q": -0.1, "mark": 97_093.7, "grid": {0.04: -388.1369748240002, 0.08: -776.2739496480004,
                                                         0.12: -1164.4109244719994},
                  "mr6_pnl": (0.24, -2328.8218489440005), "mr6": 1164.4109244720003, "mr4": 19.4098073796,
                  "mr7": 43.67206660410001, "mmr": 1183.8207318516002, "imr": 1538.9669514070802},
          "LTC": {"q": 10.0, "mark": 102.0, "grid": {-0.06: -61.168909352399936, -0.12: -122.33781870480001,
                                                      -0.18: -183.50672805719995},
                  "mr6_pnl": (-0.36, -367.0134561144), "mr6": 183.5067280572, "mr4": 8.1562464,
                  "mr7": 7.1367156, "mmr": 191.6629744572, "imr": 249.16186679436}}
OKX_PB_DELTA = {"BTC": -9704.903689800001, "LTC": 1019.5308}
OKX_PB_LIABILITY = 78_553.21888979999         # USD (the USDT balance −78,589.37 × 0.99954)


def _okx_position_builder(prices):
    pos = [_perp(f"{u}-USDT-SWAP", r["q"], 100.0) for u, r in OKX_PB.items()]
    market = {u: {"mark": prices[u], "vol": 0.5} for u in OKX_PB}
    res = analyze_margin(_okx(pos, collateral={"USDT": -OKX_PB_LIABILITY, "USDC": 2e5}, market=market))[0]
    return res, {u["underlying"]: u for u in res.portfolio_margin["units"]}


def test_okx_reproduces_the_position_builder_docs_response_to_its_printed_precision():
    # OKX values MR4 and MR7 on the unit's cash delta (mark × USDT/USD: LTC's 1019.5308 = 10 × 102 ×
    # 0.99954, and the same rate gives BTC's −9704.9036898) and MR1 / MR6 on the USD value of its
    # stress moves (the ±4% entry of BTC's grid, ±6% of LTC's): one account at each basis
    usd = OKX_PB_DELTA["LTC"] / (OKX_PB["LTC"]["q"] * OKX_PB["LTC"]["mark"])
    assert OKX_PB["BTC"]["q"] * OKX_PB["BTC"]["mark"] * usd == pytest.approx(OKX_PB_DELTA["BTC"], rel=1e-15)
    at_delta, d_units = _okx_position_builder({u: r["mark"] * usd for u, r in OKX_PB.items()})
    first = {u: min(r["grid"], key=abs) for u, r in OKX_PB.items()}
    _, s_units = _okx_position_builder({u: r["grid"][first[u]] / first[u] / r["q"] for u, r in OKX_PB.items()})
    derivatives = 0.0
    for und, rec in OKX_PB.items():
        unit, d = s_units[und], d_units[und]
        at = lambda move: unit["matrix"][0][unit["move_labels"].index(f"{100 * move:+.4g}%")]  # noqa: E731
        for move, pnl in rec["grid"].items():           # the MR1 stress P&L, spot shock ±4/8/12% (LTC ±6/12/18%)
            assert at(move) == pytest.approx(pnl, rel=1e-12) and at(-move) == pytest.approx(-pnl, rel=1e-12)
        move, pnl = rec["mr6_pnl"]                       # MR6: half the loss of the extreme move ±24% (LTC ±36%)
        mr6 = -at(move)
        assert mr6 == pytest.approx(rec["mr6"], rel=1e-12) and mr6 == pytest.approx(-0.5 * pnl, rel=1e-12)
        assert d["roll_shock"] == pytest.approx(rec["mr4"], rel=1e-12)      # MR4: 0.2% (BTC) / 0.8% of |delta|
        assert d["min_charge_raw"] == pytest.approx(rec["mr7"], rel=1e-12)  # MR7: 0.45% / 0.7% of |delta|
        assert d["min_charge"] == d["min_charge_raw"]                        # first multiplier tier (×1)
        mmr = unit["worst_loss"] + d["roll_shock"]       # max(MR1, MR6) + MR4, MR7 below it
        assert mmr == pytest.approx(rec["mmr"], rel=1e-12) and 1.3 * mmr == pytest.approx(rec["imr"], rel=1e-12)
        derivatives += mmr
    units = sum(u["requirement"] for u in d_units.values())
    mr8_mm, mr8_im = at_delta.maintenance_margin - units, at_delta.initial_margin - 1.3 * units
    assert mr8_mm == pytest.approx(1571.064377796, rel=1e-12) and mr8_im == pytest.approx(7855.32188898, rel=1e-12)
    assert derivatives == pytest.approx(1375.4837063088003, rel=1e-12)
    assert derivatives + mr8_mm == pytest.approx(2946.5480841048, rel=1e-12)              # totalMmr
    assert 1.3 * derivatives + mr8_im == pytest.approx(9643.45070718144, rel=1e-12)       # totalImr
    # the liquidation cost of OKX's margin ratio (80.12 USD here) is not modelled: a borrowing account says so
    assert any("liquidation cost" in n for n in at_delta.portfolio_margin["notes"])
    # the same fraction of each unit's largest move (BTC 4/12, LTC 6/18) is one scenario
    assert len(set(d_units["BTC"]["move_labels"])) == len(d_units["BTC"]["move_labels"]) == 9


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


def _binance_faq(btc=40_000.0, eth=2_000.0, pm=None):
    # Binance portfolio-margin FAQ: USDT 1,000 + USDⓈ-M wallet 5,000; BTC 0.1 (loan 0.04) + COIN-M
    # wallet 0.1; ETH 20 (loan 15); BTCUSDT perp short 0.05 @ 52,000, quarterly long 0.04 @
    # 52,350 (mark 42,000), BTCUSD perp long 10,000 USD @ 50,000; every MMR 0.5%
    par = {"collateral_rates": {"BTC": 0.95, "ETH": 0.9}} | (pm or {})
    return portfolio([{"id": "b", "venue": {"name": "binance-usdm", "portfolio_margin": par}, "mode": "portfolio",
                       "collateral": {"USDT": 6_000, "BTC": 0.2, "ETH": 20}, "borrowed": {"BTC": 0.04, "ETH": 15},
                       "positions": [
                           {"symbol": "BTCUSDT", "kind": "perp", "size": -0.05, "entry": 52_000, "mmr": 0.005},
                           {"symbol": "BTCUSDT_261225", "underlying": "BTC", "kind": "future",
                            "expiry": "2026-12-25T08:00:00Z", "size": 0.04, "entry": 52_350,
                            "mark": 42_000 * btc / 40_000, "mmr": 0.005},
                           {"symbol": "BTCUSD_PERP", "kind": "perp", "size": 10_000, "entry": 50_000, "mmr": 0.005}]}],
                     market={"BTC": {"mark": btc, "vol": 0.5}, "ETH": {"mark": eth, "vol": 0.6}})


def test_binance_portfolio_margin_reproduces_the_faq_equity_and_maintenance_margin():
    res = analyze_margin(_binance_faq())[0]
    pm = res.portfolio_margin
    # FAQ: USDT equity 6,186, BTC equity 0.11, ETH 5; futures MM 10 + 8.4 USDT and 0.00125 BTC;
    # margin loans at 10% (3×): 0.004 BTC and 1.5 ETH
    assert pm["assets"]["USDT"]["equity"] == pytest.approx(6_186, rel=1e-12)
    assert pm["assets"]["BTC"]["equity"] == pytest.approx(0.11, rel=1e-12)
    assert pm["assets"]["ETH"]["equity"] == pytest.approx(5, rel=1e-12)
    assert pm["futures_mm"] == pytest.approx(10 + 8.4 + 0.00125 * 40_000, rel=1e-12)
    assert pm["margin_loan_mm"] == pytest.approx(0.004 * 40_000 + 1.5 * 2_000, rel=1e-12)
    adjusted = 6_186 + 0.11 * 40_000 * 0.95 + 5 * 2_000 * 0.9
    assert pm["adjusted_equity"] == pytest.approx(adjusted, rel=1e-12)
    mm = 10 + 8.4 + 50 + 160 + 3_000
    assert pm["uni_mmr"] == pytest.approx(adjusted / mm, rel=1e-12) and pm["band"] == "healthy"
    # the kernel's pool state is adjusted equity − 1.05 × MM (liquidation at uniMMR ≤ 1.05)
    assert pm["kernel_gap"] == pytest.approx(adjusted - 1.05 * mm, rel=1e-12)
    assert res.equity - res.maintenance_margin == pytest.approx(pm["kernel_gap"], rel=1e-12)


def _binance_coin_heavy(btc=40_000.0):
    # a BTC balance plus a COIN-M long: the BTC equity turns negative on the way down (the
    # collateral rate stops applying there), USDT loan at 5× (8%)
    return portfolio([{"id": "c", "venue": {"name": "binance-usdm", "portfolio_margin": {
        "collateral_rates": {"BTC": 0.9}, "margin_loan_leverage": 5}}, "mode": "portfolio",
        "collateral": {"USDT": 3_000, "BTC": 0.05}, "borrowed": {"USDT": 1_000},
        "positions": [{"symbol": "BTCUSD_PERP", "kind": "perp", "size": 20_000, "entry": 40_000},
                      {"symbol": "BTCUSDT", "kind": "perp", "size": 0.1, "entry": 40_000}]}],
        market={"BTC": {"mark": btc, "vol": 0.5}})


def test_binance_liquidation_boundary_is_where_uni_mmr_reaches_1_05_across_the_equity_sign_change():
    cp = CompiledPortfolio(_binance_coin_heavy())
    res = cp.margin_results()[0]
    down = res.liquidation["BTC"]["down"]
    assert down is not None and down < 40_000 / (0.55 / 0.5)      # below where BTC equity turns < 0
    at = analyze_margin(_binance_coin_heavy(down))[0].portfolio_margin
    assert at["uni_mmr"] == pytest.approx(1.05, rel=1e-9)
    assert at["assets"]["BTC"]["equity"] < 0
    # and against a dense scan of the kernel
    grid = 40_000 * np.exp(np.linspace(np.log(0.05), np.log(20), 40_001))
    eq, mm = cp.curve(0, "BTC", grid)
    crossings = np.nonzero(np.sign((eq - mm)[1:]) != np.sign((eq - mm)[:-1]))[0]
    assert len(crossings) == len(res.boundaries["BTC"])
    for k, r in zip(crossings, res.boundaries["BTC"]):
        assert grid[k] <= r <= grid[k + 1]


def _binance_coinm_quarterly():
    # a COIN-M quarterly whose mark is off the index (basis 1.01) beside a BTC balance
    return portfolio([{"id": "q", "venue": "binance-usdm", "mode": "portfolio", "collateral": {"BTC": 0.02},
                       "positions": [{"symbol": "BTCUSD_261225", "underlying": "BTC", "kind": "future",
                                      "expiry": "2026-12-25T08:00:00Z", "size": 30_000, "entry": 41_000,
                                      "mark": 40_400}]}], market={"BTC": {"mark": 40_000.0, "vol": 0.5}})


@pytest.mark.parametrize("book", [_binance_faq, _binance_coin_heavy, _binance_coinm_quarterly])
def test_binance_net_haircut_kernel_agrees_with_the_numpy_reference(book):
    from liqrisk.margin import kernel as K
    from liqrisk.margin.reference import pools_states
    cp = CompiledPortfolio(book())
    a = cp.arrays
    rng = np.random.default_rng(1)
    prices = cp.market.prices * np.exp(rng.normal(0, 0.6, (64, len(cp.market.prices))))
    pools = np.arange(len(a.pos_start), dtype=np.int64)
    eq_nb, mm_nb = K.pools_states_nb(pools, prices, 0.0, a.args())
    eq_np, mm_np = pools_states(a, pools, prices)
    scale = 1e-12 * (np.abs(eq_np) + np.abs(mm_np) + 1e5)
    assert np.all(np.abs(eq_nb - eq_np) <= scale) and np.all(np.abs(mm_nb - mm_np) <= scale)
    # and the kernel's gap at the mark is the rules' adjusted equity − 1.05 × MM
    pm = cp.margin_results()[0].portfolio_margin
    assert pm["kernel_gap"] == pytest.approx(pm["adjusted_equity"] - 1.05 * pm["maintenance_margin"], rel=1e-12)


@pytest.mark.parametrize("change,field", [
    ({"collateral": {"USDT": 1_000, "BTC": -0.1}}, "collateral.BTC"),
    ({"venue": {"name": "binance-usdm", "portfolio_margin": {"margin_loan_leverage": 4}}},
     "venue.portfolio_margin.margin_loan_leverage"),
    ({"venue": {"name": "binance-usdm", "portfolio_margin": {"collateral_rates": {"BTC": 1.5}}}},
     "venue.portfolio_margin.collateral_rates.BTC"),
])
def test_binance_portfolio_bad_input_names_the_field(change, field):
    from liqrisk.io.portfolio import InputError
    acc = {"id": "x", "venue": "binance-usdm", "mode": "portfolio", "collateral": {"USDT": 1_000},
           "positions": [_perp("BTCUSDT", 0.01, MARK)]} | change
    with pytest.raises(InputError, match=f"field '{field}'"):
        portfolio([acc])


def _random_options_book(venue, seed, collateral_usd):
    """Up to 8 BTC options and futures of one account on ``venue`` in portfolio mode."""
    rng = np.random.default_rng(seed)
    positions, seen = [], set()
    for _ in range(8):
        if rng.random() < 0.3:
            positions.append({"symbol": {"okx": "BTC-USDT-SWAP", "bybit-linear": "BTCUSDT"}.get(venue),
                              "underlying": "BTC", "kind": "perp", "entry": MARK,
                              "size": float(rng.choice([-1, 1]) * rng.uniform(0.1, 2))})
            if venue == "deribit":
                positions[-1] |= {"symbol": "BTC-PERPETUAL", "size": positions[-1]["size"] * MARK}
        else:
            positions.append({"underlying": "BTC", "kind": "option", "entry": 0.02,
                              "expiry": str(rng.choice(["2026-11-27T08:00:00Z", "2026-12-25T08:00:00Z",
                                                        "2027-03-26T08:00:00Z"])),
                              "strike": float(rng.choice([70_000, 80_000, 90_000, 100_000, 110_000, 120_000])),
                              "type": str(rng.choice(["call", "put"])),
                              "size": float(rng.choice([-1, 1]) * rng.uniform(0.1, 3))})
    unique = [p for p in positions if (k := (p["kind"], p.get("expiry"), p.get("strike"), p.get("type"))) not in seen
              and not seen.add(k)]
    ccy = "BTC" if venue == "deribit" else "USDT"
    amount = collateral_usd / MARK if venue == "deribit" else collateral_usd
    return portfolio([{"id": "r", "venue": venue, "mode": "portfolio", "collateral": {ccy: amount},
                       "positions": unique}], market={"BTC": {"mark": MARK, "vol": 0.55}})


@pytest.mark.parametrize("venue", ["deribit", "okx", "bybit-linear"])
@pytest.mark.parametrize("seed", range(4))
def test_the_boundary_grid_finds_every_boundary_of_a_dense_scan(venue, seed):
    # the search scans 159 points a side (fine at the mark, ~3% of the distance far out) and
    # brackets only the sign changes it sees: it must find every root a 30,001-point scan finds
    for collateral in (15_000.0, 40_000.0):
        cp = CompiledPortfolio(_random_options_book(venue, seed, collateral))
        res = cp.margin_results()[0]
        if res.liquidatable_now:
            continue
        grid = MARK * np.exp(np.linspace(-9.0, 9.0, 30_001))       # the search reaches ±9.08
        eq, mm = cp.curve(0, "BTC", grid)
        crossings = np.nonzero(np.sign((eq - mm)[1:]) != np.sign((eq - mm)[:-1]))[0]
        found = [r for r in res.boundaries["BTC"] if grid[0] <= r <= grid[-1]]
        assert len(found) == len(crossings), (venue, seed, collateral)
        for k, r in zip(crossings, found):
            assert grid[k] <= r <= grid[k + 1]
