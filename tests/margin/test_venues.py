"""Every published example of docs/venues.md, reproduced through the closed forms *and* through the
general numerical engine (which must agree with the closed forms to 1e-10 relative, REL)."""
import pytest

from tests.builders import portfolio
from liqrisk.margin.account import analyze_margin
from liqrisk.margin import binance, bitmex, bybit, deribit, hyperliquid, okx
from liqrisk.margin.tiers import TierTable

pytestmark = pytest.mark.numerics
# Engine vs closed form: the engine's bracket stops at 1e-12 relative; both sides round terms up
# to κ = (wallet + Σ gross notional)/(the position's notional) ≲ 10³ here, ~16·κ·ε ≤ 4e-12.
REL = 1e-10

# Binance USDⓈ-M FAQ, cross, one-way mode (docs/venues.md §1)
WB = 1_535_443.01
BTC = dict(q=109.488, ep=32_481.98, mark=31_967.27, mmr=0.025, cum=16_300.0)
ETH = dict(q=3_683.979, ep=1_456.84, mark=1_335.18, mmr=0.10, cum=135_365.0)


def _mm(p):
    return p["q"] * p["mark"] * p["mmr"] - p["cum"]


def _upnl(p):
    return p["q"] * (p["mark"] - p["ep"])


def test_binance_faq_cross_example_eth_liquidates_at_1153_26_closed_form():
    lp = binance.usdm_liquidation_price(WB, _mm(BTC), _upnl(BTC), both=(ETH["q"], ETH["ep"]),
                                        table=TierTable.flat(ETH["mmr"], ETH["cum"]))
    assert round(lp, 2) == 1153.26


def test_binance_faq_cross_example_btc_liquidates_at_26316_89_closed_form():
    lp = binance.usdm_liquidation_price(WB, _mm(ETH), _upnl(ETH), both=(BTC["q"], BTC["ep"]),
                                        table=TierTable.flat(BTC["mmr"], BTC["cum"]))
    assert round(lp, 2) == 26316.89


BINANCE_2021_BTCUSDT = [  # the 2021-03-18 table the FAQ examples use
    {"notional_floor": 0, "notional_cap": 50_000, "maint_margin_ratio": 0.004, "cum": 0},
    {"notional_floor": 50_000, "notional_cap": 250_000, "maint_margin_ratio": 0.005, "cum": 50},
    {"notional_floor": 250_000, "notional_cap": 1_000_000, "maint_margin_ratio": 0.01, "cum": 1_300},
    {"notional_floor": 1_000_000, "notional_cap": 10_000_000, "maint_margin_ratio": 0.025, "cum": 16_300},
    {"notional_floor": 10_000_000, "notional_cap": 20_000_000, "maint_margin_ratio": 0.05, "cum": 266_300},
]


def _faq_account(btc_override=True):
    btc_pos = {"symbol": "BTCUSDT", "kind": "perp", "size": BTC["q"], "entry": BTC["ep"]}
    if btc_override:
        btc_pos.update(mmr=BTC["mmr"], cum=BTC["cum"])
    venue = "binance-usdm" if btc_override else {"name": "binance-usdm", "brackets": {"BTCUSDT": BINANCE_2021_BTCUSDT}}
    return portfolio([{"id": "faq", "venue": venue, "mode": "cross", "collateral": {"USDT": WB},
                       "positions": [btc_pos, {"symbol": "ETHUSDT", "kind": "perp", "size": ETH["q"],
                                               "entry": ETH["ep"], "mmr": ETH["mmr"], "cum": ETH["cum"]}]}],
                     market={"BTC": {"mark": BTC["mark"], "vol": 0.8}, "ETH": {"mark": ETH["mark"], "vol": 0.9}})


@pytest.mark.parametrize("override", [True, False], ids=["mmr-override", "2021-bracket-table"])
def test_binance_faq_cross_example_through_the_engine(override):
    res = analyze_margin(_faq_account(override))[0]
    assert round(res.liquidation["ETH"]["down"], 2) == 1153.26
    assert round(res.liquidation["BTC"]["down"], 2) == 26316.89
    btc, eth = res.positions
    assert btc.liquidation_price == pytest.approx(res.liquidation["BTC"]["down"], rel=1e-12)
    assert res.maintenance_margin == pytest.approx(_mm(BTC) + _mm(ETH), rel=1e-12)
    assert res.equity == pytest.approx(WB + _upnl(BTC) + _upnl(ETH), rel=1e-12)
    assert res.margin_ratio == pytest.approx(res.maintenance_margin / res.equity)


def test_binance_isolated_tier_is_selected_at_the_liquidation_notional():
    # 12 BTC long @ 30,000 with 20,000 USDT isolated: notional at mark 360k (tier 1% / cum 1,300
    # of the 2021 table) but at the liquidation price ~28,3xx → 340k, still tier 3; with 3 BTC
    # less margin the LP notional falls below 250k → tier 0.5%/50. The engine and the closed form
    # must pick the tier that contains the LP notional.
    table = TierTable.from_rows(BINANCE_2021_BTCUSDT)
    for margin, size, entry, mark in [(20_000, 12, 30_000, 30_000), (60_000, 10, 30_000, 26_000),
                                      (3_000, 9, 28_000, 28_100)]:
        lp = binance.usdm_liquidation_price(margin, 0, 0, both=(size, entry), table=table, mark=mark)
        pf = portfolio([{"id": "iso", "venue": {"name": "binance-usdm", "brackets": {"BTCUSDT": BINANCE_2021_BTCUSDT}},
                         "mode": "isolated", "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": size,
                                                            "entry": entry, "margin": margin}]}],
                       market={"BTC": {"mark": mark, "vol": 0.6}})
        engine = analyze_margin(pf)[0].positions[0].liquidation_price
        assert engine == pytest.approx(lp, rel=REL)
        mmr, cum = table.rate_and_cum(size * lp)
        assert margin + size * (lp - entry) == pytest.approx(size * lp * mmr - cum, rel=1e-9)


def test_binance_coinm_closed_form_matches_engine_cross_long():
    table = TierTable.from_rows([{"notional_floor": 0, "notional_cap": 5, "maint_margin_ratio": 0.004},
                                 {"notional_floor": 5, "notional_cap": 1e9, "maint_margin_ratio": 0.005}])
    contracts, cs, ep, wb = 1_500, 100.0, 90_100.0, 0.8
    lp = binance.coinm_liquidation_price(wb, 0, 0, cs, both=(contracts, ep), table=table, mark=91_250)
    pf = portfolio([{"id": "cm", "venue": {"name": "binance-coinm", "brackets": {"BTCUSD": [
        {"notional_floor": 0, "notional_cap": 5, "maint_margin_ratio": 0.004},
        {"notional_floor": 5, "notional_cap": 1e9, "maint_margin_ratio": 0.005}]}},
        "collateral": {"BTC": wb}, "positions": [{"symbol": "BTCUSD_PERP", "kind": "perp",
                                                  "size": contracts * cs, "entry": ep}]}])
    assert analyze_margin(pf)[0].positions[0].liquidation_price == pytest.approx(lp, rel=REL)


def test_bybit_classic_isolated_long_50x_liquidates_at_9850_and_short_40x_at_8160():
    assert bybit.classic_isolated_linear(10_000, 1, 50, 0.005)[0] == pytest.approx(9_850)
    assert bybit.classic_isolated_linear(8_000, -1, 40, 0.005)[0] == pytest.approx(8_160)
    assert bybit.classic_isolated_linear(10_000, 1, 50, 0.005)[1] == pytest.approx(9_800)


@pytest.mark.parametrize("version,entry,size,lev,close_fee,expected", [
    ("classic", 10_000, 1, 50, 0.0, 9_850), ("classic", 8_000, -1, 40, 0.0, 8_160),
    # UTA 2024: MM and the position margin Bybit holds both carry the fee to close at the
    # bankruptcy price (20,000·(1 − 1/50)·0.055% = 10.78 USDT), which leaves IM − MM and the LP as published
    ("uta-2024", 20_000, 1, 50, 10.78, 19_700)])
def test_bybit_published_isolated_examples_through_the_engine(version, entry, size, lev, close_fee, expected):
    pf = portfolio([{"id": "b", "venue": {"name": "bybit-linear", "version": version}, "mode": "isolated",
                     "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": size, "entry": entry,
                                    "margin": abs(size) * entry / lev + close_fee, "leverage": lev,
                                    "mmr": 0.005}]}],
                   market={"BTC": {"mark": entry, "vol": 0.6}})
    assert analyze_margin(pf)[0].positions[0].liquidation_price == pytest.approx(expected, rel=REL)


def test_bybit_uta_2024_published_example_closed_form_19700():
    assert bybit.uta2024_isolated_linear(20_000, 1, 50, 0.005) == pytest.approx(19_700)


@pytest.mark.parametrize("version,fn", [("classic", bybit.classic_isolated_inverse),
                                        ("uta-2024", bybit.uta2024_isolated_inverse),
                                        ("uta-2026", bybit.uta2026_isolated_inverse)])
@pytest.mark.parametrize("face", [100_000, -100_000])
def test_bybit_inverse_isolated_closed_forms_match_engine(version, fn, face):
    ep, lev, mmr = 90_000.0, 25.0, 0.005
    pf = portfolio([{"id": "b", "venue": {"name": "bybit-inverse", "version": version}, "mode": "isolated",
                     "positions": [{"symbol": "BTCUSD", "kind": "perp", "size": face, "entry": ep,
                                    "margin": abs(face) / ep / lev, "leverage": lev, "mmr": mmr}]}])
    assert analyze_margin(pf)[0].positions[0].liquidation_price == pytest.approx(fn(ep, face, lev, mmr), rel=REL)


@pytest.mark.parametrize("size", [0.8, -0.8])
def test_okx_isolated_linear_closed_form_matches_engine(size):
    pf = portfolio([{"id": "o", "venue": "okx", "mode": "isolated",
                     "positions": [{"symbol": "BTC-USDT-SWAP", "kind": "perp", "size": size, "entry": 90_500,
                                    "margin": 3_000}]}])
    res = analyze_margin(pf)[0].positions[0]
    lp = okx.isolated_linear_liquidation_price(90_500, size, 3_000, 0.004, 0.0005)
    assert res.liquidation_price == pytest.approx(lp, rel=REL)


@pytest.mark.parametrize("size", [3.0, -3.0])
def test_hyperliquid_published_formula_matches_engine_cross(size):
    price, collateral = 91_250.0, 40_000.0
    pf = portfolio([{"id": "h", "venue": "hyperliquid", "collateral": {"USDC": collateral},
                     "positions": [{"symbol": "BTC", "kind": "perp", "size": size, "entry": price}]}])
    res = analyze_margin(pf)[0]
    mmr = 1 / (2 * 40)  # BTC 40x → 1.25%
    available = collateral - abs(size) * price * mmr
    assert res.positions[0].liquidation_price == pytest.approx(
        hyperliquid.liquidation_price(price, size, available, mmr), rel=REL)


@pytest.mark.parametrize("face", [-200_000, 200_000])
def test_bitmex_isolated_prices_match_engine(face):
    ep, lev = 93_000.0, 10.0
    pf = portfolio([{"id": "x", "venue": "bitmex", "mode": "isolated",
                     "positions": [{"symbol": "XBTUSD", "kind": "perp", "size": face, "entry": ep,
                                    "margin": abs(face) / ep / lev, "leverage": lev}]}])
    pos = analyze_margin(pf)[0].positions[0]
    lp, bp = bitmex.isolated_prices(ep, face, 1 / lev, 0.005)
    assert pos.liquidation_price == pytest.approx(lp, rel=REL)
    assert pos.bankruptcy_price == pytest.approx(bp, rel=REL)


def test_deribit_option_margin_published_vectors_short_put_and_call_im_0_105():
    im, _ = deribit.option_margin([0, 1], [90_000, 110_000], 100_000, 0.005, -1)
    assert im == pytest.approx([0.105, 0.105])


def test_deribit_option_mm_formulas():
    _, mm = deribit.option_margin([1, 0, 0], [110_000, 90_000, 90_000], 100_000, [0.005, 0.005, 2.0], -1)
    assert mm == pytest.approx([0.080, 0.080, 0.15 + 2.0])


def test_deribit_futures_margin_formula():
    im, mm = deribit.future_margin(1_000_000, 100_000)   # 10 BTC
    assert im == pytest.approx(10 * (0.02 + 0.00005 * 10))
    assert mm == pytest.approx(10 * (0.01 + 0.00005 * 10))


def _short_strangle(collateral_btc):
    """Deribit: short 3 × 100k calls and 3 × 80k puts (Dec 2026) against ``collateral_btc``."""
    option = {"kind": "option", "underlying": "BTC", "expiry": "2026-12-25T08:00:00Z", "size": -3}
    return analyze_margin(portfolio([{"id": "d", "venue": "deribit", "collateral": {"BTC": collateral_btc},
                                      "positions": [dict(option, strike=100_000, type="call", entry=0.015),
                                                    dict(option, strike=80_000, type="put", entry=0.012)]}]))[0]


def test_short_strangle_has_a_down_and_an_up_boundary():
    res = _short_strangle(1.0)
    down, up = res.liquidation["BTC"]["down"], res.liquidation["BTC"]["up"]
    assert down is not None and up is not None and down < 91_250 < up
    call, put = res.positions
    assert call.liquidation_price == pytest.approx(up) and put.liquidation_price == pytest.approx(down)


def test_under_margined_strangle_is_liquidatable_now_and_reports_no_boundary():
    res = _short_strangle(0.6)
    assert res.liquidatable_now and res.equity < res.maintenance_margin
    assert res.liquidation["BTC"] == {"down": None, "up": None}


# ---- review findings (each was a silently wrong number) ---------------------------------------

def test_haircut_applies_to_assets_not_to_debts():
    def lp(haircut):
        pf = portfolio([{"id": "h", "venue": "binance-usdm",
                         "collateral": {"USDT": {"amount": -50_000, "haircut": haircut}, "BTC": 1},
                         "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 0.5, "entry": 90_000}]}],
                       market={"BTC": {"mark": 100_000, "vol": 0.5}})
        return analyze_margin(pf)[0]
    assert lp(0.5).equity == pytest.approx(lp(0.0).equity) == pytest.approx(-50_000 + 100_000 + 5_000)
    assert lp(0.5).liquidation["BTC"]["down"] == pytest.approx(lp(0.0).liquidation["BTC"]["down"])


def test_an_account_past_its_trigger_reports_no_boundary_not_its_recovery_price():
    pf = portfolio([{"id": "x", "venue": "binance-usdm", "collateral": {"USDT": 100},
                     "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 1, "entry": 95_000}]}],
                   market={"BTC": {"mark": 90_000, "vol": 0.5}})
    res = analyze_margin(pf)[0]
    assert res.liquidatable_now
    assert res.liquidation["BTC"] == {"down": None, "up": None} and res.boundaries["BTC"] == []


def test_okx_tier_is_fixed_by_position_size_so_no_liquidation_zone_appears_above_a_long():
    pf = portfolio([{"id": "o", "venue": "okx", "mode": "isolated",
                     "positions": [{"symbol": "BTC-USDT-SWAP", "kind": "perp", "size": 4.9999, "entry": 100_000,
                                    "margin": 2_300}]}], market={"BTC": {"mark": 100_000, "vol": 0.5}})
    res = analyze_margin(pf)[0]
    mmr = 0.004   # 499,990 USD at entry: tier 1 (< 500,000) of the bundled OKX BTC table, at any price
    assert res.liquidation["BTC"]["up"] is None
    assert res.positions[0].liquidation_price == pytest.approx(
        okx.isolated_linear_liquidation_price(100_000, 4.9999, 2_300, mmr, 0.0005), rel=REL)


def test_future_with_a_basis_reports_its_liquidation_price_on_its_own_mark():
    pf = portfolio([{"id": "d", "venue": "deribit", "collateral": {"BTC": 0.1},
                     "positions": [{"kind": "future", "underlying": "BTC", "expiry": "2026-12-25T08:00:00Z",
                                    "size": 100_000, "entry": 100_000, "mark": 101_000}]}],
                   market={"BTC": {"mark": 100_000, "vol": 0.5}})
    pos = analyze_margin(pf)[0].positions[0]
    # equity 0.1 + 1e5·(1/1e5 − 1/F) = MM = x·(0.01 + 0.00005·x), x = 1e5/F (BTC) → 1.1 = 1.01x + 0.00005x²
    # (−b + √(b² + 4ac)) cancels ~10⁴-fold: the closed form itself is good to ~2e-12
    x = (-1.01 + (1.01 ** 2 + 4 * 0.00005 * 1.1) ** 0.5) / (2 * 0.00005)
    assert pos.liquidation_price == pytest.approx(100_000 / x, rel=REL)


def test_collateral_only_pool_reports_no_liquidation_boundary():
    pf = portfolio([{"id": "s", "venue": "binance-usdm", "collateral": {"USDT": -50_000, "BTC": 1},
                     "positions": [{"symbol": "ETHUSDT", "kind": "perp", "size": 0.1, "entry": 3050,
                                    "margin": 100}]}])
    res = analyze_margin(pf)[0]
    assert res.liquidation["BTC"] == {"down": None, "up": None}   # the cross part holds no position
    assert res.boundaries["BTC"] == []
    assert res.positions[0].liquidation_price is not None


def test_hyperliquid_docs_clearinghouse_example_isolated_eth_liquidates_at_2866_27():
    # Hyperliquid API docs, clearinghouseState example (examples/populations/…docs_example.json):
    # ETH long szi 0.0335 @ entryPx 2986.3, isolated, maxLeverage 50 (MMR = 1/(2·50) = 1%),
    # positionValue 100.02765, unrealizedPnl −0.0134, marginUsed 4.967826 → liquidationPx 2866.26936529.
    mark = 100.02765 / 0.0335
    pf = portfolio([{"id": "hl", "venue": "hyperliquid", "mode": "isolated",
                     "positions": [{"symbol": "ETH", "kind": "perp", "size": 0.0335, "entry": 2986.3,
                                    "margin": 4.967826 + 0.0134, "mmr": 0.01}]}],
                   market={"ETH": {"mark": mark, "vol": 0.6}})
    # LP = (EP − margin/Q)/(1 − MMR): the published inputs are rounded (marginUsed to 1e-6,
    # unrealizedPnl to 1e-4 USD), which moves LP by up to (0.5e-6 + 0.5e-4)/(Q·(1 − MMR)).
    rounding = (0.5e-6 + 0.5e-4) / (0.0335 * (1 - 0.01)) + 0.5e-8
    assert analyze_margin(pf)[0].positions[0].liquidation_price == pytest.approx(2866.26936529, abs=rounding)


def test_binance_coinm_faq_maintenance_margin_100_contracts_at_25000_is_0_0016_btc():
    # Binance FAQ "How to Calculate Liquidation Price of COIN-M Futures Contracts": 100 BTCUSD
    # contracts (100 USD each) at mark 25,000 → notional 0.4 BTC, level 1 (0.4%) → MM 0.0016 BTC.
    pf = portfolio([{"id": "cm", "venue": "binance-coinm", "collateral": {"BTC": 1},
                     "positions": [{"symbol": "BTCUSD_PERP", "kind": "perp", "size": 100 * 100, "entry": 25_000}]}],
                   market={"BTC": {"mark": 25_000, "vol": 0.6}})
    res = analyze_margin(pf)[0]
    assert res.positions[0].maintenance_margin == pytest.approx(0.0016, rel=1e-12)
    assert res.maintenance_margin == pytest.approx(0.0016, rel=1e-12)


def _hip3(market):
    return portfolio([{"id": "hip3", "venue": "hyperliquid", "mode": "isolated",
                       "positions": [{"symbol": "xyz:TSLA", "kind": "perp", "size": 10.0, "entry": 400.0,
                                      "margin": 500.0, "mmr": 0.05}]}], market=market)


def test_hyperliquid_hip3_market_is_its_own_underlying_never_the_dex_name():
    # A HIP-3 perp ``xyz:TSLA`` (builder dex "xyz") was priced off a market entry "XYZ".
    from liqrisk.io.portfolio import InputError
    with pytest.raises(InputError, match="no market entry for underlying 'XYZ:TSLA'"):
        _hip3({"XYZ": {"mark": 1.0, "vol": 0.5}, "TSLA": {"mark": 1.0, "vol": 0.5}})
    pos = analyze_margin(_hip3({"XYZ:TSLA": {"mark": 410.0, "vol": 0.5}}))[0].positions[0]
    # published isolated formula at the market's own mark: margin available = 500 + 10·(410 − 400) − MM
    available = 500.0 + 10 * (410.0 - 400.0) - 10 * 410.0 * 0.05
    assert pos.liquidation_price == pytest.approx(hyperliquid.liquidation_price(410.0, 10.0, available, 0.05),
                                                  rel=REL)


def test_hyperliquid_default_eth_table_is_todays_25x_not_the_2024_docs_example_50x():
    # The docs example above (2024-02-22, maxLeverage 50 → MMR 1%) gives 2,866.27; the default
    # table is today's ETH tier (25x → MMR 2%): the same position then liquidates at the published
    # formula's 2,895.52, and the engine says where its parameters come from.
    mark = 100.02765 / 0.0335
    pf = portfolio([{"id": "hl", "venue": "hyperliquid", "mode": "isolated",
                     "positions": [{"symbol": "ETH", "kind": "perp", "size": 0.0335, "entry": 2986.3,
                                    "margin": 4.967826 + 0.0134}]}],
                   market={"ETH": {"mark": mark, "vol": 0.6}})
    pos = analyze_margin(pf)[0].positions[0]
    mmr = 1 / (2 * 25)
    available = 4.967826 + 0.0134 + 0.0335 * (mark - 2986.3) - 0.0335 * mark * mmr
    assert pos.liquidation_price == pytest.approx(hyperliquid.liquidation_price(mark, 0.0335, available, mmr),
                                                  rel=REL)
    assert round(pos.liquidation_price, 2) == 2895.52


OKX_BTC_USDT_SWAP_TIERS = {  # as OKX's position-tiers endpoint returns them (strings, contracts)
    "contract_value": 0.01,  # ctVal of BTC-USDT-SWAP: 0.01 BTC per contract
    "tiers": [{"tier": "1", "minSz": "0", "maxSz": "2000", "mmr": "0.004", "imr": "0.008", "maxLever": "125"},
              {"tier": "2", "minSz": "2001", "maxSz": "10000", "mmr": "0.006", "imr": "0.01", "maxLever": "100"},
              {"tier": "3", "minSz": "10001", "maxSz": "20000", "mmr": "0.01", "imr": "0.02", "maxLever": "50"}],
}


def _okx_isolated(size, entry, margin, tiers):
    return portfolio([{"id": "okx", "venue": {"name": "okx", "brackets": {"BTC-USDT-SWAP": tiers}},
                       "mode": "isolated", "positions": [{"symbol": "BTC-USDT-SWAP", "kind": "perp",
                                                          "size": size, "entry": entry, "margin": margin}]}],
                     market={"BTC": {"mark": entry, "vol": 0.6}})


@pytest.mark.parametrize("contracts, mmr", [(2000, 0.004), (2000.5, 0.006), (2001, 0.006), (10_000, 0.006),
                                            (10_000.01, 0.01)])
@pytest.mark.parametrize("entry", [30_000.0, 90_000.0])
def test_okx_tiers_in_contracts_are_read_at_contracts_times_contract_value_at_any_price(contracts, mmr, entry):
    # OKX counts tiers in contracts with integer steps (cap 2000, next floor 2001): a size of
    # 2000 contracts = 20 BTC is tier 1, anything above is tier 2, whatever the price.
    size, margin = contracts * 0.01, contracts * 0.01 * entry / 20
    pos = analyze_margin(_okx_isolated(size, entry, margin, OKX_BTC_USDT_SWAP_TIERS))[0].positions[0]
    assert pos.liquidation_price == pytest.approx(
        okx.isolated_linear_liquidation_price(entry, size, margin, mmr, 0.0005), rel=REL)


def test_okx_contract_tiers_with_a_gap_or_on_a_notional_venue_are_named_input_errors():
    from liqrisk.io.portfolio import InputError
    gap = {"contract_value": 0.01, "tiers": [dict(OKX_BTC_USDT_SWAP_TIERS["tiers"][0]),
                                             dict(OKX_BTC_USDT_SWAP_TIERS["tiers"][1], minSz="2003")]}
    with pytest.raises(InputError, match="BTC-USDT-SWAP: tier minSz 2003 does not follow the previous maxSz 2000"):
        _okx_isolated(20.0, 90_000.0, 90_000.0, gap)
    with pytest.raises(InputError, match="field 'venue'.*tiers in contracts are OKX's form"):
        portfolio([{"id": "b", "venue": {"name": "binance-usdm", "brackets": {"BTCUSDT": OKX_BTC_USDT_SWAP_TIERS}},
                    "mode": "isolated", "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0,
                                                       "entry": 90_000.0, "margin": 9_000.0}]}])


@pytest.mark.parametrize("venue, symbol", [("okx", "BTC-USDT-SWAP"), ("bitget", "BTCUSDT"), ("kucoin", "XBTUSDTM"),
                                           ({"name": "gate", "version": "2023"}, "BTC_USDT")])
def test_a_cum_in_the_brackets_of_a_whole_position_venue_is_refused_by_name(venue, symbol):
    """Issue 9 (stop 20): these venues apply the tier's rate to the whole position, so a ``cum``
    in the user's brackets was dropped without a word (OKX: MM 45,625·(1% + 0.05%) = 479.06
    with a given cum of 60, as if none were given)."""
    from liqrisk.io.portfolio import InputError
    venue = venue if isinstance(venue, dict) else {"name": venue}
    rows = [{"notional_floor": 0, "notional_cap": 10_000, "maint_margin_ratio": 0.004},
            {"notional_floor": 10_000, "notional_cap": 1e6, "maint_margin_ratio": 0.01, "cum": 60}]
    acct = {"id": "w", "venue": venue | {"brackets": {symbol: rows}}, "collateral": {"USDT": 10_000},
            "positions": [{"symbol": symbol, "kind": "perp", "size": 0.5, "entry": 90_000}]}
    with pytest.raises(InputError, match=rf"account 'w', field 'venue': brackets '{symbol}' tier 2: "
                                         rf"'{venue['name']}'.* applies the tier rate to the whole position: "
                                         "there is no 'cum' deduction"):
        portfolio([acct])
    rows[1].pop("cum")
    assert portfolio([acct]).accounts[0].venue.name == venue["name"]        # the same rows without cum run
