"""liqrisk.pricing against QuantLib (independent reference) and the NumPy reference, plus edges.

QuantLib's BlackCalculator is the core of its AnalyticEuropeanEngine; it takes the forward,
the total stdev σ√T and the discount factor, so sub-day expiries need no intraday dates.
"""

import math

import numba
import numpy as np
import pytest
import QuantLib as ql

from liqrisk import pricing
from liqrisk.pricing import kernels, reference

SPOT = 60_000.0
HOUR = 1.0 / (365 * 24)
GREEKS = ("delta", "gamma", "vega", "theta", "rho")


def _grid(n=600, seed=20261123):
    """Seeded random options: ln(K/S) in ±2 (deep OTM/ITM), T from 1 hour to 3 years
    (plus exact 1-hour expiries), vol 0.05–1.5 (plus exact 150%), r and q nonzero."""
    rng = np.random.default_rng(seed)
    T = np.exp(rng.uniform(math.log(HOUR), math.log(3.0), n))
    T[::7] = HOUR
    vol = rng.uniform(0.05, 1.5, n)
    vol[::5] = 1.5
    return dict(S=np.full(n, SPOT), K=SPOT * np.exp(rng.uniform(-2.0, 2.0, n)), T=T,
                r=rng.uniform(-0.01, 0.12, n), q=rng.uniform(-0.03, 0.08, n), vol=vol,
                is_call=rng.integers(0, 2, n).astype(bool))


def _ql_calculator(S, K, T, r, q, vol, is_call):
    kind = ql.Option.Call if is_call else ql.Option.Put
    forward = S * math.exp((r - q) * T)
    return ql.BlackCalculator(ql.PlainVanillaPayoff(kind, K), forward, vol * math.sqrt(T),
                              math.exp(-r * T))


def _rows(grid):
    return zip(*(grid[k] for k in ("S", "K", "T", "r", "q", "vol", "is_call")))


def test_black_scholes_price_matches_quantlib_black_calculator_on_random_grid():
    grid = _grid()
    ql_price = np.array([_ql_calculator(*row).value() for row in _rows(grid)])
    price = pricing.black_scholes(grid["S"], grid["K"], grid["T"], grid["r"], grid["vol"],
                                  grid["is_call"], q=grid["q"])
    # relative for normal prices, absolute 1e-12·S for prices that are pure float noise
    np.testing.assert_allclose(price, ql_price, rtol=1e-10, atol=1e-12 * SPOT)
    assert (price < 1e-6 * SPOT).sum() > 50  # the grid does reach deep OTM


def test_all_five_greeks_match_quantlib_black_calculator_on_random_grid():
    grid = _grid()
    calcs = [(_ql_calculator(*row), row[0], row[2]) for row in _rows(grid)]
    expected = {
        "delta": [c.delta(S) for c, S, _ in calcs],
        "gamma": [c.gamma(S) for c, S, _ in calcs],
        "vega": [c.vega(T) for c, _, T in calcs],  # per 1.00 of vol
        "theta": [c.theta(S, T) for c, S, T in calcs],  # per year
        "rho": [c.rho(T) for c, _, T in calcs],  # per 1.00 of rate
    }
    got = pricing.greeks(grid["S"], grid["K"], grid["T"], grid["r"], grid["vol"],
                         grid["is_call"], q=grid["q"])
    for name in GREEKS:
        scale = np.max(np.abs(expected[name]))
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-9, atol=1e-13 * scale,
                                   err_msg=name)


def test_greeks_per_point_and_per_day_units():
    got = pricing.greeks(SPOT, 65_000.0, 30 / 365, 0.05, 0.6, True, q=0.01)
    assert got["vega_per_point"] == pytest.approx(got["vega"] / 100, rel=1e-15)
    assert got["theta_per_day"] == pytest.approx(got["theta"] / 365, rel=1e-15)
    calc = _ql_calculator(SPOT, 65_000.0, 30 / 365, 0.05, 0.01, 0.6, True)
    assert got["theta_per_day"] == pytest.approx(calc.thetaPerDay(SPOT, 30 / 365), rel=1e-10)


def test_black76_price_matches_quantlib_black_formula():
    grid = _grid(seed=7)
    F = grid["S"] * np.exp(grid["r"] * grid["T"])
    expected = [ql.blackFormula(ql.Option.Call if c else ql.Option.Put, K, f, v * math.sqrt(T),
                                math.exp(-r * T))
                for f, K, T, r, v, c in zip(F, grid["K"], grid["T"], grid["r"], grid["vol"],
                                            grid["is_call"])]
    got = pricing.black76(F, grid["K"], grid["T"], grid["r"], grid["vol"], grid["is_call"])
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12 * SPOT)


def test_black_scholes_matches_quantlib_analytic_european_engine_with_dates():
    # The full QuantLib stack (dates, flat curves, BSM process, AnalyticEuropeanEngine).
    today = ql.Date(23, ql.November, 2026)
    ql.Settings.instance().evaluationDate = today
    day_count = ql.Actual365Fixed()
    spot, r, q, vol = 91_250.0, 0.04, 0.015, 0.85
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(spot)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, q, day_count)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, r, day_count)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), vol, day_count)))
    for days in (1, 7, 32, 365, 1095):
        for strike in (40_000.0, 91_000.0, 200_000.0):
            for is_call in (True, False):
                option = ql.VanillaOption(
                    ql.PlainVanillaPayoff(ql.Option.Call if is_call else ql.Option.Put, strike),
                    ql.EuropeanExercise(today + days))
                option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
                T = days / 365
                got = pricing.greeks(spot, strike, T, r, vol, is_call, q=q)
                assert pricing.black_scholes(spot, strike, T, r, vol, is_call, q=q) == pytest.approx(
                    option.NPV(), rel=1e-10, abs=1e-9)
                assert got["delta"] == pytest.approx(option.delta(), rel=1e-9, abs=1e-12)
                assert got["vega"] == pytest.approx(option.vega(), rel=1e-9, abs=1e-9)
                assert got["rho"] == pytest.approx(option.rho(), rel=1e-9, abs=1e-9)


def test_implied_vol_matches_quantlib_black_formula_implied_stddev():
    grid = _grid(n=1500, seed=11)
    S, K, T, r, q, vol, is_call = (grid[k] for k in ("S", "K", "T", "r", "q", "vol", "is_call"))
    price = pricing.black_scholes(S, K, T, r, vol, is_call, q=q)
    F = S * np.exp((r - q) * T)
    w = np.where(is_call, 1.0, -1.0)
    time_value = price * np.exp(r * T) - np.maximum(w * (F - K), 0.0)
    otm = (w * (F - K) <= 0) & (time_value > 1e-8 * SPOT)
    expected = [ql.blackFormulaImpliedStdDev(ql.Option.Call if c else ql.Option.Put, k, f,
                                             p, math.exp(-rr * t), 0.0, 0.5 * math.sqrt(t), 1e-14,
                                             1000) / math.sqrt(t)
                for p, f, k, t, rr, c in zip(price[otm], F[otm], K[otm], T[otm], r[otm], is_call[otm])]
    got = pricing.implied_vol(price[otm], S[otm], K[otm], T[otm], r[otm], is_call[otm], q=q[otm])
    assert otm.sum() > 100
    # QuantLib's normal CDF is accurate to ~1e-16 absolute, not relative, so its far-tail
    # prices (time value ~1e-8·S) and implied vols are off by up to ~2e-10; the generating vol
    # is the sharper check.
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(got, vol[otm], rtol=0, atol=1e-10)


def test_implied_vol_matches_quantlib_vanilla_option_implied_volatility():
    today = ql.Date(23, ql.November, 2026)
    ql.Settings.instance().evaluationDate = today
    day_count = ql.Actual365Fixed()
    spot, r, q = 3_050.0, 0.05, 0.02
    spot_quote = ql.QuoteHandle(ql.SimpleQuote(spot))
    curves = [ql.YieldTermStructureHandle(ql.FlatForward(today, rate, day_count)) for rate in (q, r)]
    for days, strike, vol, is_call in [(1, 3_300.0, 1.2, True), (7, 2_500.0, 0.45, False),
                                       (30, 3_050.0, 0.05, True), (90, 6_000.0, 2.5, True),
                                       (1095, 1_000.0, 0.8, False), (365, 2_000.0, 0.7, True)]:
        process = ql.BlackScholesMertonProcess(spot_quote, *curves, ql.BlackVolTermStructureHandle(
            ql.BlackConstantVol(today, ql.NullCalendar(), vol, day_count)))
        option = ql.VanillaOption(
            ql.PlainVanillaPayoff(ql.Option.Call if is_call else ql.Option.Put, strike),
            ql.EuropeanExercise(today + days))
        option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
        ql_iv = option.impliedVolatility(option.NPV(), process, 1e-13, 1000, 1e-4, 5.0)
        iv = pricing.implied_vol(option.NPV(), spot, strike, days / 365, r, is_call, q=q)
        assert iv == pytest.approx(ql_iv, abs=1e-9)
        assert iv == pytest.approx(vol, abs=1e-10)


def test_inverse_option_price_is_quantlib_black76_usd_price_divided_by_forward():
    grid = _grid(seed=3)
    F, K, T, r, vol, c = (grid[k] for k in ("S", "K", "T", "r", "vol", "is_call"))
    usd = np.array([ql.blackFormula(ql.Option.Call if ci else ql.Option.Put, k, f,
                                    v * math.sqrt(t), math.exp(-rr * t))
                    for f, k, t, rr, v, ci in zip(F, K, T, r, vol, c)])
    # atol 1e-15 coin ≈ 1e-15·F: QuantLib's normal CDF loses relative accuracy in the far tail
    np.testing.assert_allclose(pricing.inverse_option_price(F, K, T, r, vol, c), usd / F,
                               rtol=1e-10, atol=1e-15)


def test_inverse_delta_is_forward_times_derivative_of_coin_price():
    # Δ_coin = F·∂V_coin/∂F = ∂V_coin/∂ln F: central difference in ln F of QuantLib's
    # Black-76 price / F (Deribit's premium-adjusted delta, r = 0 and r ≠ 0).
    grid = _grid(n=200, seed=5)
    F, K, T, vol, c = (grid[k] for k in ("S", "K", "T", "vol", "is_call"))
    for r in (0.0, 0.07):
        def coin_value(f):
            return np.array([ql.blackFormula(ql.Option.Call if ci else ql.Option.Put, k, fi,
                                             v * math.sqrt(t), math.exp(-r * t)) / fi
                             for fi, k, t, v, ci in zip(f, K, T, vol, c)])
        h = 1e-6
        finite_difference = (coin_value(F * math.exp(h)) - coin_value(F * math.exp(-h))) / (2 * h)
        np.testing.assert_allclose(pricing.inverse_delta(F, K, T, r, vol, c), finite_difference,
                                   rtol=0, atol=2e-8)


def test_inverse_delta_at_zero_rate_is_deribit_n_d1_minus_premium():
    F, K, T, vol = 90_000.0, 100_000.0, 33 / 365, 0.55
    d1 = (math.log(F / K) + 0.5 * vol**2 * T) / (vol * math.sqrt(T))
    n_d1 = 0.5 * math.erfc(-d1 / math.sqrt(2))
    for is_call, forward_delta in ((True, n_d1), (False, n_d1 - 1.0)):
        premium = pricing.inverse_option_price(F, K, T, 0.0, vol, is_call)
        assert pricing.inverse_delta(F, K, T, 0.0, vol, is_call) == pytest.approx(
            forward_delta - premium, rel=1e-13)


def _edge_grid():
    """The random grid plus expired, zero-vol, zero-spot/strike, negative and NaN inputs."""
    grid = _grid(n=400, seed=13)
    edges = dict(S=[SPOT, SPOT, SPOT, 0.0, SPOT, -1.0, SPOT, SPOT, np.nan, SPOT],
                 K=[50_000.0, 70_000.0, SPOT, 50_000.0, 0.0, SPOT, -5.0, SPOT, SPOT, SPOT],
                 T=[0.0, -0.5, 0.1, 0.2, 0.3, 0.1, 0.1, 0.1, 0.1, 0.1],
                 r=[0.05] * 10, q=[0.02] * 10,
                 vol=[0.5, 0.5, 0.0, 0.5, 0.5, 0.5, 0.5, -0.1, 0.5, 0.5],
                 is_call=[True, False] * 5)
    return {k: np.concatenate([grid[k], np.asarray(edges[k], dtype=grid[k].dtype)]) for k in grid}


def test_numba_prices_and_greeks_agree_with_numpy_reference():
    # Far-tail prices (< 1e-10·S) carry the cancellation of F·N(d1) − K·N(d2), so a one-ulp
    # difference between math.erfc / np.log and scipy's ndtr grows there: atol 1e-20·S.
    g = _edge_grid()
    args = (g["S"], g["K"], g["T"], g["r"], g["vol"], g["is_call"])
    np.testing.assert_allclose(pricing.black_scholes(*args, q=g["q"]),
                               reference.black_scholes(*args, q=g["q"]), rtol=1e-12, atol=1e-20 * SPOT)
    np.testing.assert_allclose(pricing.black76(*args), reference.black76(*args), rtol=1e-12,
                               atol=1e-20 * SPOT)
    got, expected = pricing.greeks(*args, q=g["q"]), reference.greeks(*args, q=g["q"])
    for name in (*GREEKS, "vega_per_point", "theta_per_day"):
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-12, atol=1e-300,
                                   err_msg=name)
    np.testing.assert_allclose(pricing.inverse_option_price(*args),
                               reference.inverse_option_price(*args), rtol=1e-12, atol=1e-20)
    np.testing.assert_allclose(pricing.inverse_delta(*args), reference.inverse_delta(*args),
                               rtol=1e-12, atol=1e-15)


def test_numba_implied_vol_agrees_with_brent_reference():
    g = _grid(n=300, seed=17)
    args = (g["S"], g["K"], g["T"], g["r"], g["is_call"])
    price = pricing.black_scholes(g["S"], g["K"], g["T"], g["r"], g["vol"], g["is_call"], q=g["q"])
    np.testing.assert_allclose(pricing.implied_vol(price, *args, q=g["q"]),
                               reference.implied_vol(price, *args, q=g["q"]), rtol=1e-12)


def test_expired_options_are_worth_intrinsic_value():
    S, K = np.array([110.0, 90.0, 100.0]), 100.0
    for T in (0.0, -1.0):
        np.testing.assert_array_equal(pricing.black_scholes(S, K, T, 0.05, 0.5, True, q=0.03),
                                      [10.0, 0.0, 0.0])
        np.testing.assert_array_equal(pricing.black76(S, K, T, 0.05, 0.5, False), [0.0, 10.0, 0.0])
    expired = pricing.greeks(S, K, 0.0, 0.05, 0.5, True)
    np.testing.assert_array_equal(expired["delta"], [1.0, 0.0, 0.5])
    np.testing.assert_array_equal(expired["gamma"], 0.0)
    np.testing.assert_array_equal(expired["vega"], 0.0)


def test_zero_vol_is_discounted_intrinsic_value_of_the_forward():
    S, K, T, r, q = 100.0, np.array([90.0, 120.0]), 0.5, 0.05, 0.01
    forward = S * math.exp((r - q) * T)
    expected = math.exp(-r * T) * np.maximum(forward - K, 0.0)
    np.testing.assert_allclose(pricing.black_scholes(S, K, T, r, 0.0, True, q=q), expected, rtol=1e-14)


def test_invalid_inputs_give_nan_not_exceptions():
    bad = pricing.black_scholes([-1.0, 100.0, 100.0, np.nan], [100.0, -1.0, 100.0, 100.0], 0.5,
                                0.0, [0.5, 0.5, -0.2, 0.5], True)
    assert np.isnan(bad).all()
    assert np.isnan(pricing.greeks(-1.0, 100.0, 0.5, 0.0, 0.5, True)["gamma"])
    assert np.isnan(pricing.inverse_option_price(0.0, 100.0, 0.5, 0.0, 0.5, True))
    assert np.isnan(pricing.inverse_delta(0.0, 100.0, 0.5, 0.0, 0.5, True))
    assert np.isnan(pricing.implied_vol([1.0, 1.0], [100.0, -100.0], 100.0, [0.0, 0.5], 0.0, True)).all()


def test_implied_vol_is_nan_outside_no_arbitrage_bounds():
    S, K, T, r, q = 100.0, 90.0, 0.25, 0.03, 0.01
    forward, discount = S * math.exp((r - q) * T), math.exp(-r * T)
    call_floor, call_cap = discount * (forward - K), discount * forward
    put_cap = discount * K
    prices = [call_floor * (1 - 1e-9), call_floor, call_cap * (1 + 1e-12), call_cap * 1.01]
    assert np.isnan(pricing.implied_vol(prices, S, K, T, r, True, q=q)).all()
    assert np.isnan(pricing.implied_vol([-1e-3, 0.0, put_cap * (1 + 1e-12)], S, K, T, r, False, q=q)).all()


def test_scalar_calls_return_floats_and_arrays_broadcast():
    assert isinstance(pricing.black_scholes(100.0, 100.0, 1.0, 0.0, 0.5, True), float)
    assert isinstance(pricing.greeks(100.0, 100.0, 1.0, 0.0, 0.5, True)["vega"], float)
    assert isinstance(pricing.implied_vol(10.0, 100.0, 100.0, 1.0, 0.0, True), float)
    strikes, expiries = np.array([[90.0], [100.0], [110.0]]), np.array([0.1, 0.5, 1.0, 2.0])
    assert pricing.black76(100.0, strikes, expiries, 0.0, 0.5, [True, False, True, False]).shape == (3, 4)
    assert pricing.greeks(100.0, strikes, expiries, 0.0, 0.5, True)["theta_per_day"].shape == (3, 4)


@numba.njit
def _reprice_along_path(forwards, times_to_expiry, strike, is_call):
    total = 0.0
    for F, T in zip(forwards, times_to_expiry):
        total += kernels.black76_price_nb(F, strike, T, 0.0, 0.6, is_call)
        total += kernels.black76_delta_nb(F, strike, T, 0.0, 0.0, is_call)
    return total


def test_device_functions_are_callable_from_user_kernels_up_to_expiry():
    forwards, expiries = np.array([95.0, 105.0, 110.0]), np.array([0.01, 0.0, -0.01])
    for is_call in (True, 1, False, 0):
        expected = (pricing.black76(forwards, 100.0, expiries, 0.0, 0.6, is_call).sum()
                    + reference.greeks(forwards, 100.0, expiries, 0.0, 0.0, is_call, q=0.0)["delta"].sum())
        assert _reprice_along_path(forwards, expiries, 100.0, is_call) == pytest.approx(expected, rel=1e-14)
    assert kernels.black76_price_nb(110.0, 100.0, 0.5, 0.05, -0.3, True) == pytest.approx(
        math.exp(-0.025) * 10.0, rel=1e-15)
