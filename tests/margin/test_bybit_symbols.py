"""Bybit's own contract names (API v5 "symbol" enum): BTCUSDT USDT perpetual, BTCUSDT-21FEB25 USDT
futures, BTCPERP USDC perpetual, BTC-24MAR23 USDC futures, BTCUSD inverse perpetual, BTCUSDH23
inverse futures (H/M/U/Z = quarter, 23 = 2023). Bybit's futures expire at 08:00 UTC on their
settlement day (help centre "Introduction to Inverse Futures Contracts": "Contract Expiry Time:
08:00:00 UTC on the settlement date")."""
from datetime import datetime, timezone

import pytest

from tests.builders import portfolio
from liqrisk.io.portfolio import InputError
from liqrisk.margin.account import analyze_margin

BTC = {"BTC": {"mark": 91_250.0, "vol": 0.52}, "ETH": {"mark": 3_050.0, "vol": 0.68}}


def _account(venue, pos, collateral):
    return {"id": "b", "venue": venue, "collateral": collateral, "positions": [pos]}


def _result(venue, pos, collateral):
    return analyze_margin(portfolio([_account(venue, pos, collateral)], market=BTC))[0]


@pytest.mark.parametrize("symbol,same_as", [("BTCPERP", "BTCUSDT"), ("ETHPERP", "ETHUSDT")])
def test_a_usdc_perpetual_is_margined_as_the_usdt_perpetual_on_its_underlying(symbol, same_as):
    """Same underlying, same risk-limit tiers: the same maintenance margin and liquidation price."""
    und = same_as[:-4]
    size = 2.0 if und == "BTC" else 40.0
    got, want = (_result("bybit-linear", {"symbol": s, "kind": "perp", "size": size, "entry": BTC[und]["mark"]},
                         {"USDC": 25_000.0}) for s in (symbol, same_as))
    assert got.maintenance_margin == want.maintenance_margin > 0
    assert got.positions[0].liquidation_price == pytest.approx(want.positions[0].liquidation_price, rel=1e-15)
    assert list(got.liquidation) == [und]


@pytest.mark.parametrize("symbol,venue,size,expiry", [
    ("BTC-27DEC26", "bybit-linear", 1.0, datetime(2026, 12, 27, 8, tzinfo=timezone.utc)),     # USDC futures
    ("BTCUSDT-26MAR27", "bybit-linear", 1.0, datetime(2027, 3, 26, 8, tzinfo=timezone.utc)),  # USDT futures
    ("ETH-5JUN27", "bybit-linear", 10.0, datetime(2027, 6, 5, 8, tzinfo=timezone.utc))])      # one-digit day
def test_a_dated_future_takes_its_expiry_from_its_name(symbol, venue, size, expiry):
    pos = {"symbol": symbol, "kind": "future", "size": size, "entry": 90_000.0 if "BTC" in symbol else 3_000.0}
    pf = portfolio([_account(venue, pos, {"USDT": 20_000.0})], market=BTC)
    assert pf.accounts[0].positions[0].expiry == expiry
    assert "expiry" not in pos                      # the input is not mutated
    res = analyze_margin(pf)[0]
    assert list(res.liquidation) == [symbol.split("-")[0].removesuffix("USDT")]


def test_an_inverse_quarterly_future_is_read_by_its_quarter_code_and_needs_its_expiry():
    """BTCUSDZ26 is BTC's inverse future for the fourth quarter of 2026; the name does not give
    the settlement day (Bybit has settled a December contract on a Friday before the last), so
    ``expiry`` stays required, and with it the future is margined like the inverse perpetual."""
    pos = {"symbol": "BTCUSDZ26", "kind": "future", "size": -50_000.0, "entry": 92_000.0}
    with pytest.raises(InputError, match=r"BTCUSDZ26\): field 'expiry' is required for a future"):
        portfolio([_account("bybit-inverse", pos, {"BTC": 0.5})], market=BTC)
    dated = _result("bybit-inverse", {**pos, "expiry": "2026-12-25T08:00:00Z"}, {"BTC": 0.5})
    perp = _result("bybit-inverse", {**pos, "symbol": "BTCUSD", "kind": "perp"}, {"BTC": 0.5})
    assert dated.positions[0].liquidation_price == pytest.approx(perp.positions[0].liquidation_price, rel=1e-15)


@pytest.mark.parametrize("symbol", ["BTC-31FEB27", "BTC-27DEC", "BTCUSD27DEC26"])
def test_a_name_without_a_valid_day_still_needs_the_expiry(symbol):
    pos = {"symbol": symbol, "kind": "future", "size": 1.0, "entry": 90_000.0}
    with pytest.raises(InputError, match="field 'expiry' is required for a future"):
        portfolio([_account("bybit-linear", pos, {"USDT": 20_000.0})], market=BTC)


@pytest.mark.parametrize("symbol, kind, coin", [("BTC-26DEC26", "future", "USDC"), ("BTCPERP", "perp", "USDC"),
                                                ("BTCUSDT-26DEC26", "future", "USDT")])
def test_a_usdc_future_settles_in_usdc_at_its_own_price(symbol, kind, coin):
    """Bybit's USDC futures (BTC-26DEC26) and perpetuals settle in USDC, valued at the USDC mark
    (0.999 USD here) like the account's USDC collateral: 10,000 USDC + long 1 BTC @ 90,000 at mark
    91,250 is 9,990 + 1,250 USD of equity, MM 91,250 × 0.5% (tier 1) = 456.25 USD, both reported
    in USDC (÷ 0.999); the USDT future's twin stays in USDT at 1."""
    usd = 0.999 if coin == "USDC" else 1.0
    market = dict(BTC, USDC={"mark": 0.999, "vol": 0.01})
    acc = analyze_margin(portfolio([_account("bybit-linear", {"symbol": symbol, "kind": kind, "size": 1.0,
                                                              "entry": 90_000.0}, {coin: 10_000.0})],
                                   market=market))[0]
    assert acc.settlement_currency == coin
    assert acc.equity == pytest.approx((10_000.0 * usd + 1_250.0) / usd, rel=1e-12)
    assert acc.maintenance_margin == pytest.approx(91_250.0 * 0.005 / usd, rel=1e-12)
