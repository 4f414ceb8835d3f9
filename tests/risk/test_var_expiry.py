"""VaR/ES of instruments that expire inside the horizon and of accounts already past their trigger
(issue 10, items 7 and 8), against numbers computed by hand from the inputs.

The loss at a horizon is the holder's stake at t=0 less the account's value there (docs/montecarlo.md,
"VaR and ES"): after an instrument's expiry its settled value (futures at the price at expiry,
options their payoff) stays put; a pool liquidatable at t=0 is liquidated at the marks.

Monte Carlo tolerances: under driftless GBM on hourly steps the price at an expiry that falls on a
step end is exactly S0·exp(−σ²τ/2 + σ√τ·Z); when the loss is a monotone function L(Z) of that one
normal, the engine's VaR99 (the ⌈0.99n⌉-th smallest of n iid losses) is L at an order statistic of
n iid normals, whose uniform U(m) is Beta(m, n − m + 1) — an exact band, 1e-6 each side."""
import math

import pytest
from scipy import stats

import liqrisk

AS_OF = "2026-11-23T00:00:00Z"
BTC = 91250.0
VOL = 0.6
TAU = 0.5 / 365                        # twelve hours: an expiry at the end of the 12th hourly step
N = 20_000


def _phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _call(S: float, K: float, T: float, vol: float) -> float:
    """Black–Scholes call, no rate (by hand)."""
    sd = vol * math.sqrt(T)
    d1 = (math.log(S / K) + sd * sd / 2) / sd
    return S * _phi(d1) - K * _phi(d1 - sd)


def _price(z: float) -> float:
    """The price at the expiry, twelve hours on, for the standard normal z."""
    sd = VOL * math.sqrt(TAU)
    return BTC * math.exp(-sd * sd / 2 + sd * z)


def _z_band(k: int, n: int, tail: float = 1e-6) -> tuple[float, float]:
    """The k-th smallest of n iid standard normals lies in this band but with probability 2·tail."""
    lo, hi = stats.beta.ppf([tail, 1 - tail], k, n - k + 1)
    return float(stats.norm.ppf(lo)), float(stats.norm.ppf(hi))


def _analyze(account: dict, horizons=("1d", "7d"), paths: int = N):
    doc = {"as_of": AS_OF, "market": {"BTC": {"mark": BTC, "vol": VOL}}, "accounts": [account]}
    return liqrisk.analyze(doc, horizons=list(horizons), paths=paths, seed=1, model="gbm",
                           range_paths=0).accounts[0]


def test_var_of_a_future_expiring_in_a_minute_is_at_most_the_margin_it_can_lose():
    """An isolated 2 BTC future expiring a minute after the snapshot with 2,281.25 USDT of margin:
    it settles within the minute, so nothing beyond that margin can be lost at any horizon (the
    engine's own max_loss says 2,281.25; before the fix VaR99(1d) was 12,811: the paths kept the
    future's P&L after its expiry)."""
    acc = _analyze({"id": "fut", "venue": "binance-usdm", "mode": "isolated",
                    "positions": [{"symbol": "BTCUSDT_261123", "kind": "future", "size": 2.0, "entry": BTC,
                                   "expiry": "2026-11-23T00:01:00Z", "margin": 2281.25}]}, paths=2000)
    assert acc.risk.max_loss == pytest.approx(2281.25)
    for h in ("1d", "7d"):
        assert acc.probability[h].p == 0.0                            # settled, never liquidated
        assert acc.risk.var99[h] <= acc.risk.es99[h] <= 2281.25 + 1e-6
    assert acc.risk.var99["1d"] == acc.risk.var99["7d"]             # settled: nothing moves after


def test_a_future_settled_inside_the_horizon_loses_what_its_settlement_took():
    """2 BTC long future (entry at the mark) expiring at 12 h, 50,000 USDT isolated margin (no
    liquidation within reach): the loss at 1 d and at 7 d is 2·(S0 − S_T), S_T the price at the
    expiry — VaR99 at the 1 % quantile of S_T, the same at both horizons and alone."""
    fut = {"id": "fut", "venue": "binance-usdm", "mode": "isolated",
           "positions": [{"symbol": "BTCUSDT_261123", "kind": "future", "size": 2.0, "entry": BTC,
                          "expiry": "2026-11-23T12:00:00Z", "margin": 50_000}]}
    acc = _analyze(fut)
    k = N - math.ceil(0.99 * N) + 1          # the loss falls as z rises: VaR is L at the k-th smallest z
    z_lo, z_hi = _z_band(k, N)
    lo, hi = 2 * (BTC - _price(z_hi)), 2 * (BTC - _price(z_lo))
    assert 8_500 < lo < hi < 10_000                                   # ≈ 2·S0·(1 − e^(−2.33·0.022))
    for h in ("1d", "7d"):
        assert acc.probability[h].p == 0.0
        assert lo <= acc.risk.var99[h] <= hi
        assert acc.risk.var99[h] <= acc.risk.es99[h] <= 2 * BTC
    assert acc.risk.var99["7d"] == acc.risk.var99["1d"] and acc.risk.es99["7d"] == acc.risk.es99["1d"]
    alone = _analyze(fut, horizons=("1d",))
    assert alone.risk.var99["1d"] == acc.risk.var99["1d"] and alone.risk.es99["1d"] == acc.risk.es99["1d"]


_SPAN = {"name": "span", "portfolio_margin": {"price_scan_range": {"BTC": 10_000},
                                              "volatility_scan_range": {"BTC": 0.05}}}


def _option_account(venue, size, **extra):
    return {"id": "opt", "venue": venue, "positions": [{"underlying": "BTC", "kind": "option",
                                                        "expiry": "2026-11-23T12:00:00Z", "strike": BTC,
                                                        "type": "call", "size": size, "entry": 0.01}], **extra}


@pytest.mark.parametrize("account", [_option_account(_SPAN, 1, mode="portfolio", collateral={"USD": 100_000}),
                                     _option_account("deribit", 1)], ids=["span-usd", "deribit-coin"])
def test_a_long_call_expiring_inside_the_horizon_risks_exactly_its_value_at_t0(account):
    """A long ATM call expiring at 12 h: it expires worthless on about half the paths, so VaR99 and
    ES99 at 1 d and 7 d are its whole value at t=0 — Black–Scholes, by hand (808.40 USD)."""
    c0 = _call(BTC, BTC, TAU, VOL)
    assert 800 < c0 < 820
    acc = _analyze(account, paths=4000)
    for h in ("1d", "7d"):
        assert acc.risk.var99[h] == pytest.approx(c0, rel=1e-9)
        assert acc.risk.es99[h] == pytest.approx(c0, rel=1e-9)


def test_a_short_usd_settled_call_loses_its_payoff_less_its_premium_after_expiry():
    """CME-SPAN short ATM call (USD-settled) expiring at 12 h, 100,000 USD of collateral (no
    liquidation within reach): the loss at 1 d and 7 d is max(S_T − K, 0) − C0, S_T the price at
    the expiry, paid in USD and then fixed — VaR99 at its 99 % quantile, the same at both
    horizons. (Held as coin after expiry, as the engine did for every option, the 7 d loss would
    carry six and a half more days of BTC moves.)"""
    acc = _analyze(_option_account(_SPAN, -1, mode="portfolio", collateral={"USD": 100_000}))
    c0 = _call(BTC, BTC, TAU, VOL)
    m = math.ceil(0.99 * N)                  # the loss rises with z: VaR is L at the m-th smallest z
    z_lo, z_hi = _z_band(m, N)
    lo, hi = _price(z_lo) - BTC - c0, _price(z_hi) - BTC - c0
    assert 3_700 < lo < hi < 4_300                                    # ≈ S0·(e^(2.33·0.022) − 1) − C0
    for h in ("1d", "7d"):
        assert acc.probability[h].p == 0.0
        assert lo <= acc.risk.var99[h] <= hi
        assert acc.risk.var99[h] <= acc.risk.es99[h] <= acc.risk.max_loss
    assert acc.risk.var99["7d"] == acc.risk.var99["1d"] and acc.risk.es99["7d"] == acc.risk.es99["1d"]


def test_an_underwater_account_can_lose_nothing_more_and_is_liquidated_at_time_zero():
    """1 BTC long, binance-usdm isolated, entry 5,000 above the mark on 1,250 of margin: equity
    −3,750 — already past its trigger with nothing of the holder's left (the deficit is the
    insurance fund's). VaR99 = ES99 = max_loss = 0 (was −3,750: a 'gain' of the deficit), p = 1,
    time to liquidation 0 (was half an hour: the middle of the first step)."""
    acc = _analyze({"id": "uw", "venue": "binance-usdm", "mode": "isolated",
                    "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": BTC + 5000,
                                   "margin": 1250}]}, paths=2000)
    assert acc.exit.equity_shortfall == pytest.approx(3750.0)
    assert acc.risk.max_loss == 0.0
    for h in ("1d", "7d"):
        assert acc.probability[h].p == 1.0 and acc.probability[h].method == "liquidatable-now"
        assert acc.risk.var99[h] == 0.0 and acc.risk.es99[h] == 0.0
    assert set(acc.risk.time_to_liquidation_quantiles_hours.values()) == {0.0}
    risk = acc.to_dict()["risk"]
    assert risk["max_loss"] == 0.0 and set(risk["time_to_liquidation_quantiles_hours"].values()) == {0.0}


def test_an_account_past_its_trigger_loses_what_liquidation_at_the_marks_takes():
    """1 BTC long isolated on 2,000 of margin, entry 500 above the mark, MM 2 % of the notional
    (1,825 > the equity of 1,500: liquidatable now), liquidation fee 0.5 %: liquidated at the
    marks it keeps 1,500 − 0.005·91,250 = 1,043.75 on every path, so VaR99 = ES99 = 456.25 at
    every horizon, out of a stake of 1,500; time to liquidation 0."""
    acc = _analyze({"id": "now", "venue": {"name": "binance-usdm", "liquidation_fee": 0.005}, "mode": "isolated",
                    "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": BTC + 500,
                                   "margin": 2000, "mmr": 0.02}]}, paths=2000)
    assert acc.risk.max_loss == pytest.approx(1500.0)
    for h in ("1d", "7d"):
        assert acc.probability[h].method == "liquidatable-now"
        assert acc.risk.var99[h] == pytest.approx(0.005 * BTC, rel=1e-12)
        assert acc.risk.es99[h] == pytest.approx(0.005 * BTC, rel=1e-12)
    assert set(acc.risk.time_to_liquidation_quantiles_hours.values()) == {0.0}


def test_an_underwater_isolated_pool_beside_a_healthy_cross_pool_costs_the_holder_nothing_more():
    """The underwater isolated long above (equity −3,750) beside a cross BTC short of 0.5 BTC on
    20,000 USDT: the holder's stake is the cross pool's 20,000 (the isolated deficit is not the
    holder's), so max_loss is 20,000 and the loss is the cross pool's alone — a short of 0.5 BTC
    far from its boundary over 1 d: VaR99 at the 99 % quantile of 0.5·(S_1d − S0)."""
    acc = _analyze({"id": "two", "venue": "binance-usdm", "mode": "cross", "collateral": {"USDT": 20_000},
                    "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": BTC + 5000,
                                   "margin": 1250},
                                  {"symbol": "BTCUSDT", "kind": "perp", "size": -0.5, "entry": BTC,
                                   "position_side": "short"}]}, horizons=("1d",))
    assert acc.risk.max_loss == pytest.approx(20_000.0)
    sd = VOL * math.sqrt(1 / 365)
    m = math.ceil(0.99 * N)
    z_lo, z_hi = _z_band(m, N)
    lo, hi = (0.5 * BTC * (math.exp(-sd * sd / 2 + sd * z) - 1) for z in (z_lo, z_hi))
    assert 3_200 < lo < hi < 3_700
    assert acc.probability["1d"].method == "liquidatable-now"
    assert lo <= acc.risk.var99["1d"] <= hi
    assert acc.risk.var99["1d"] <= acc.risk.es99["1d"] <= 20_000.0


def test_a_future_settled_in_a_cross_pool_on_two_underlyings_keeps_its_settled_value():
    """The 2 BTC future expiring at 12 h in a cross pool beside a 0.001 ETH perp (a pool on two
    underlyings, walked with the health bridge — no piece walk or affine_block for a pool with an
    expiry in the run), 50,000 USDT: the loss at 1 d and 7 d is the future's settled 2·(S0 − S_T)
    plus the ETH perp's (sd below 1 USD at 7 d, against a band some 700 USD wide)."""
    doc = {"as_of": AS_OF, "market": {"BTC": {"mark": BTC, "vol": VOL}, "ETH": {"mark": 3050.0, "vol": 0.65}},
           "accounts": [{"id": "x", "venue": "binance-usdm", "mode": "cross", "collateral": {"USDT": 50_000},
                         "positions": [{"symbol": "BTCUSDT_261123", "kind": "future", "size": 2.0, "entry": BTC,
                                        "expiry": "2026-11-23T12:00:00Z"},
                                       {"symbol": "ETHUSDT", "kind": "perp", "size": 0.001, "entry": 3050.0}]}]}
    acc = liqrisk.analyze(doc, horizons=["1d", "7d"], paths=N, seed=1, model="gbm", range_paths=0).accounts[0]
    k = N - math.ceil(0.99 * N) + 1
    z_lo, z_hi = _z_band(k, N)
    lo, hi = 2 * (BTC - _price(z_hi)) - 5, 2 * (BTC - _price(z_lo)) + 5
    for h in ("1d", "7d"):
        assert lo <= acc.risk.var99[h] <= hi


def test_var_before_an_expiry_does_not_depend_on_a_longer_horizon_past_it():
    """The 12 h future's twin expiring at 3 d: VaR99/ES99 at 1 d (before the expiry) are the same
    alone — a run of 24 steps in which the pool has no expiry and may be screened — as beside 7 d
    (a run through the expiry that values the pool at every step)."""
    fut = {"id": "fut", "venue": "binance-usdm", "mode": "isolated",
           "positions": [{"symbol": "BTCUSDT_261126", "kind": "future", "size": 2.0, "entry": BTC,
                          "expiry": "2026-11-26T00:00:00Z", "margin": 20_000}]}
    both, alone = _analyze(fut, paths=4000), _analyze(fut, horizons=("1d",), paths=4000)
    assert alone.risk.var99["1d"] == both.risk.var99["1d"] and alone.risk.es99["1d"] == both.risk.es99["1d"]
    assert alone.probability["1d"] == both.probability["1d"]
    assert both.risk.var99["1d"] < both.risk.var99["7d"] <= both.risk.es99["7d"] <= 20_000
