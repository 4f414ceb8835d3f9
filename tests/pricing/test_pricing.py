"""liqrisk.pricing against 60-digit mpmath, QuantLib and the NumPy reference, plus edges.

QuantLib's BlackCalculator is the core of its AnalyticEuropeanEngine; it takes the forward,
the total stdev σ√T and the discount factor, so sub-day expiries need no intraday dates.
Tolerances are the float64 error bounds of ``error_bounds`` (conditioning × ulps), plus, for
QuantLib, the absolute error of its normal CDF.
"""

import math

import numba
import numpy as np
import pytest
import QuantLib as ql
from scipy.special import ndtri

from tests.error_bounds import (EPS, ULPS_ONE, ULPS_TWO, assert_within, bsm_error_bounds,
                          density_condition, implied_vol_error_bound)
from liqrisk import pricing
from liqrisk.pricing import kernels, reference
from liqrisk.pricing.normal import norm_quantile_nb, norm_quantile_of_log_nb

pytestmark = pytest.mark.numerics

SPOT = 60_000.0
HOUR = 1.0 / (365 * 24)
GREEKS = ("delta", "gamma", "vega", "theta", "rho")
# QuantLib's normal CDF is ½(1 + erf(x/√2)) above 1e-8 and an asymptotic series below: its
# error is absolute, not relative — at most 1.3e-15 ≈ 6ε measured against 40-digit mpmath on
# [−40, 8], largest at the switch (x ≈ −5.6). A price carries it times e^{-rT}·(F + K).
QL_CDF_ABS = 8 * EPS
# Its normal density is set to 0 once the exponent −d²/2 is ≤ −690: an absolute error ≤ this.
QL_PDF_ABS = math.exp(-690.0) / math.sqrt(2 * math.pi)
IV_STOP = kernels._IV_REL_STEP_TOL  # our solver stops once a step is below this × σ√T
BRENT_RTOL = 1e-15  # the reference's brentq rtol


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


def _args(grid):
    return tuple(grid[k] for k in ("S", "K", "T", "r", "vol", "is_call"))


def _ql_error(grid):
    """Absolute error bound of QuantLib's BlackCalculator on each output, beyond ours.

    Its CDF and density errors (above), and its Greek formulas: delta, gamma, vega and rho are
    sums of ∂α/∂d1·∂d1/∂x·F and ∂β/∂d2·∂d2/∂x·K terms that cancel exactly only if
    F·n(d1) = K·n(d2); QuantLib evaluates n(d1) and n(d2) separately, each with the relative
    error ε·(1 + |d·Δd|) of ``density_condition``, and the cancellation multiplies it by the size
    of one term: n(d1)/s relative to delta, |d1|/s to gamma, |ln(F/K)|/s² to vega,
    τ·F·n(d1)/s to rho. Theta is built from value, delta and gamma, with the rates recovered as
    −ln(discount)/T and ln(F/S)/T (ε/T each, from rounded factors).
    """
    S, K, T, r, q, vol = (grid[k] for k in ("S", "K", "T", "r", "q", "vol"))
    ours = reference.greeks(*_args(grid), q=q)
    ours["price"] = reference.black_scholes(*_args(grid), q=q)
    F, disc_r, disc_q = S * np.exp((r - q) * T), np.exp(-r * T), np.exp(-q * T)
    sd = vol * np.sqrt(T)
    d1 = np.log(F / K) / sd + 0.5 * sd
    n1 = np.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi)
    pdf_err = EPS * density_condition(S, K, T, r, vol, q=q)
    err = {
        "price": QL_CDF_ABS * disc_r * (F + K),
        "delta": QL_CDF_ABS * disc_q + pdf_err * disc_q * n1 / sd,
        "gamma": QL_PDF_ABS * disc_q / (S * sd) + pdf_err * np.abs(ours["gamma"]) * (1 + np.abs(d1)) / sd,
        "vega": (QL_PDF_ABS * disc_q * S * np.sqrt(T)
                 + pdf_err * np.abs(ours["vega"]) * (1 + np.abs(np.log(F / K)) / sd**2)),
        "rho": QL_CDF_ABS * T * disc_r * K + pdf_err * T * disc_r * F * n1 / sd,
    }
    err["theta"] = (np.abs(r) * err["price"] + np.abs(r - q) * S * err["delta"]
                    + 0.5 * vol**2 * S**2 * err["gamma"]
                    + EPS * (np.abs(ours["price"]) + S * np.abs(ours["delta"])) / T)
    return err


def test_price_and_greeks_are_within_their_float64_bound_of_the_60_digit_truth():
    # The truth (mpmath, 60 digits) is exact to float64; ours may err by the formula's
    # conditioning × a few ulps and no more — in the far tail a relative 1e-9 (the cancellation
    # of F·N(d1) − K·N(d2)), ~1e-15 for ordinary options.
    grid = _grid(n=400, seed=29)
    truth = np.array([reference.price_greeks_60_digits(S, K, T, r, vol, c, q=q)
                      for S, K, T, r, q, vol, c in _rows(grid)])
    bound = bsm_error_bounds(*_args(grid), q=grid["q"])
    assert_within(pricing.black_scholes(*_args(grid), q=grid["q"]), truth[:, 0],
                  ULPS_ONE * bound["price"], "price")
    got = pricing.greeks(*_args(grid), q=grid["q"])
    for j, name in enumerate(GREEKS, start=1):
        assert_within(got[name], truth[:, j], ULPS_ONE * bound[name], name)


def test_black_scholes_price_matches_quantlib_black_calculator_on_random_grid():
    grid = _grid()
    ql_price = np.array([_ql_calculator(*row).value() for row in _rows(grid)])
    price = pricing.black_scholes(*_args(grid), q=grid["q"])
    bound = bsm_error_bounds(*_args(grid), q=grid["q"])["price"]
    assert_within(price, ql_price, ULPS_TWO * (bound + _ql_error(grid)["price"]), "price")
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
    got = pricing.greeks(*_args(grid), q=grid["q"])
    bound, ql_error = bsm_error_bounds(*_args(grid), q=grid["q"]), _ql_error(grid)
    for name in GREEKS:
        assert_within(got[name], expected[name], ULPS_TWO * (bound[name] + ql_error[name]), name)


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
    on_forward = dict(grid, S=F, q=grid["r"])
    bound = bsm_error_bounds(*_args(on_forward), q=grid["r"])["price"]
    assert_within(got, expected, ULPS_TWO * (bound + _ql_error(on_forward)["price"]), "black76")


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
    cases = [(days, strike, is_call) for days in (1, 7, 32, 365, 1095)
             for strike in (40_000.0, 91_000.0, 200_000.0) for is_call in (True, False)]
    expected = {"price": [], "delta": [], "vega": [], "rho": []}
    for days, strike, is_call in cases:
        option = ql.VanillaOption(
            ql.PlainVanillaPayoff(ql.Option.Call if is_call else ql.Option.Put, strike),
            ql.EuropeanExercise(today + days))
        option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
        for name, value in zip(expected, (option.NPV(), option.delta(), option.vega(), option.rho())):
            expected[name].append(value)
    days, strike, is_call = (np.array(column) for column in zip(*cases))
    grid = dict(S=np.full(days.size, spot), K=strike, T=days / 365, r=np.full(days.size, r),
                q=np.full(days.size, q), vol=np.full(days.size, vol), is_call=is_call)
    got = pricing.greeks(*_args(grid), q=q)
    got["price"] = pricing.black_scholes(*_args(grid), q=q)
    bound, ql_error = bsm_error_bounds(*_args(grid), q=q), _ql_error(grid)
    for name in expected:
        assert_within(got[name], expected[name], ULPS_TWO * (bound[name] + ql_error[name]), name)


def test_implied_vol_matches_quantlib_black_formula_implied_stddev():
    grid = _grid(n=1500, seed=11)
    S, K, T, r, q, vol, is_call = (grid[k] for k in ("S", "K", "T", "r", "q", "vol", "is_call"))
    price = pricing.black_scholes(S, K, T, r, vol, is_call, q=q)
    F = S * np.exp((r - q) * T)
    w = np.where(is_call, 1.0, -1.0)
    time_value = price * np.exp(r * T) - np.maximum(w * (F - K), 0.0)
    otm = (w * (F - K) <= 0) & (time_value > 1e-8 * SPOT)
    expected = np.array([ql.blackFormulaImpliedStdDev(ql.Option.Call if c else ql.Option.Put, k, f,
                                                      p, math.exp(-rr * t), 0.0, 0.5 * math.sqrt(t),
                                                      1e-14, 1000) / math.sqrt(t)
                         for p, f, k, t, rr, c in zip(price[otm], F[otm], K[otm], T[otm], r[otm],
                                                      is_call[otm])])
    got = pricing.implied_vol(price[otm], S[otm], K[otm], T[otm], r[otm], is_call[otm], q=q[otm])
    assert otm.sum() > 100
    sub = {k: v[otm] for k, v in grid.items()}
    ours = ULPS_TWO * implied_vol_error_bound(*_args(sub), q=sub["q"]) + IV_STOP * got
    # QuantLib matches its own price (CDF error absolute, see QL_CDF_ABS) to 1e-14 in σ√T.
    vega_stdev = sub["S"] * np.exp((sub["r"] - sub["q"]) * sub["T"]) * reference.greeks(
        *_args(sub), q=sub["q"])["vega"] / (sub["S"] * np.sqrt(sub["T"]))
    quantlib = (ULPS_TWO * _ql_error(sub)["price"] * np.exp(sub["r"] * sub["T"]) / vega_stdev
                + 1e-14) / np.sqrt(sub["T"])
    assert_within(got, expected, ours + quantlib, "vs QuantLib")
    assert_within(got, vol[otm], ours, "vs the generating vol")


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
        T = days / 365
        iv = pricing.implied_vol(option.NPV(), spot, strike, T, r, is_call, q=q)
        one = dict(S=spot, K=strike, T=T, r=r, q=q, vol=vol, is_call=is_call)
        # QuantLib's NPV errs by its CDF error (QL_CDF_ABS); its solver stops at 1e-13 in vol.
        bound = (ULPS_TWO * (implied_vol_error_bound(*_args(one), q=q)
                             + _ql_error(one)["price"] / pricing.greeks(*_args(one), q=q)["vega"])
                 + IV_STOP * vol)
        assert abs(iv - vol) <= bound
        assert abs(iv - ql_iv) <= bound + 1e-13


def test_inverse_option_price_is_quantlib_black76_usd_price_divided_by_forward():
    grid = _grid(seed=3)
    F, K, T, r, vol, c = (grid[k] for k in ("S", "K", "T", "r", "vol", "is_call"))
    usd = np.array([ql.blackFormula(ql.Option.Call if ci else ql.Option.Put, k, f,
                                    v * math.sqrt(t), math.exp(-rr * t))
                    for f, k, t, rr, v, ci in zip(F, K, T, r, vol, c)])
    on_forward = dict(grid, q=r)
    usd_bound = bsm_error_bounds(*_args(on_forward), q=r)["price"] + _ql_error(on_forward)["price"]
    assert_within(pricing.inverse_option_price(F, K, T, r, vol, c), usd / F,
                  ULPS_TWO * (usd_bound / F + EPS * np.abs(usd / F)), "coin price")


def test_inverse_delta_is_forward_times_derivative_of_coin_price():
    # Δ_coin = F·∂V_coin/∂F = ∂V_coin/∂ln F: central difference in ln F of QuantLib's
    # Black-76 price / F (Deribit's premium-adjusted delta, r = 0 and r ≠ 0).
    grid = _grid(n=200, seed=5)
    F, K, T, vol, c = (grid[k] for k in ("S", "K", "T", "vol", "is_call"))
    sd = vol * np.sqrt(T)
    d1 = np.log(F / K) / sd + 0.5 * sd
    for r in (0.0, 0.07):
        def coin_value(f):
            return np.array([ql.blackFormula(ql.Option.Call if ci else ql.Option.Put, k, fi,
                                             v * math.sqrt(t), math.exp(-r * t)) / fi
                             for fi, k, t, v, ci in zip(f, K, T, vol, c)])
        h = 1e-6
        finite_difference = (coin_value(F * math.exp(h)) - coin_value(F * math.exp(-h))) / (2 * h)
        got = pricing.inverse_delta(F, K, T, r, vol, c)
        # Central difference: truncation h²/6·|∂³V_coin/∂x³| (x = ln F), with
        # ∂³V_coin/∂x³ = −e^{-rT}·n(d1)·(d1/s² + 1/s) + Δ_coin (bounded on [x − h, x + h] by
        # doubling); rounding: QuantLib's absolute price error (CDF) / F, times 1/h.
        disc, pdf = np.exp(-r * T), np.exp(-0.5 * (np.abs(d1) - h / sd).clip(0) ** 2) / math.sqrt(2 * math.pi)
        truncation = h**2 / 3 * (disc * pdf * (np.abs(d1) / sd**2 + 1 / sd) + np.abs(got))
        rounding = QL_CDF_ABS * disc * (F + K) / F / h + EPS * np.abs(coin_value(F)) / h
        assert_within(got, finite_difference, ULPS_TWO * rounding + truncation, f"r={r}")


def test_inverse_delta_at_zero_rate_is_deribit_n_d1_minus_premium():
    F, K, T, vol = 90_000.0, 100_000.0, 33 / 365, 0.55
    d1 = (math.log(F / K) + 0.5 * vol**2 * T) / (vol * math.sqrt(T))
    n_d1 = 0.5 * math.erfc(-d1 / math.sqrt(2))
    for is_call, forward_delta in ((True, n_d1), (False, n_d1 - 1.0)):
        premium = pricing.inverse_option_price(F, K, T, 0.0, vol, is_call)
        bound = bsm_error_bounds(F, K, T, 0.0, vol, is_call, q=0.0)
        assert abs(pricing.inverse_delta(F, K, T, 0.0, vol, is_call) - (forward_delta - premium)) <= (
            ULPS_TWO * (bound["delta"] + bound["price"] / F))


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
    # Two float64 evaluations of the same formulas (libm / numba vs NumPy / scipy.special):
    # each within its conditioning bound, so they differ by at most twice that, on any CPU.
    g = _edge_grid()
    args = (g["S"], g["K"], g["T"], g["r"], g["vol"], g["is_call"])
    with np.errstate(invalid="ignore", divide="ignore"):
        bound, bound_76 = bsm_error_bounds(*args, q=g["q"]), bsm_error_bounds(*args, q=g["r"])
        coin = ULPS_TWO * bound_76["price"] / np.abs(g["S"])
    assert_within(pricing.black_scholes(*args, q=g["q"]), reference.black_scholes(*args, q=g["q"]),
                  ULPS_TWO * bound["price"], "price")
    assert_within(pricing.black76(*args), reference.black76(*args), ULPS_TWO * bound_76["price"],
                  "black76")
    got, expected = pricing.greeks(*args, q=g["q"]), reference.greeks(*args, q=g["q"])
    for name in ("price", *GREEKS, "vega_per_point", "theta_per_day"):
        assert_within(got[name], expected[name], ULPS_TWO * bound[name], name)
    assert_within(pricing.inverse_option_price(*args), reference.inverse_option_price(*args), coin,
                  "coin price")
    assert_within(pricing.inverse_delta(*args), reference.inverse_delta(*args),
                  coin + ULPS_TWO * bound_76["delta"], "coin delta")


def test_numba_implied_vol_agrees_with_brent_reference():
    g = _grid(n=300, seed=17)
    args = (g["S"], g["K"], g["T"], g["r"], g["is_call"])
    price = pricing.black_scholes(g["S"], g["K"], g["T"], g["r"], g["vol"], g["is_call"], q=g["q"])
    expected = reference.implied_vol(price, *args, q=g["q"])
    bound = ULPS_TWO * implied_vol_error_bound(*_args(g), q=g["q"]) + (IV_STOP + BRENT_RTOL) * expected
    assert_within(pricing.implied_vol(price, *args, q=g["q"]), expected, bound, "implied vol")


def test_options_left_to_the_scalar_clean_up_agree_with_brent_reference():
    # implied_vol_vec's vectorised pass stops after two evaluations of the normalised price; the
    # options the scalar solver needs three or more for are finished by the scalar pass. Find
    # them (30 of 20,000 here) in an array of 40 blocks of 512 (the last one partial, the launch
    # parallel) and check them against brentq like every other option.
    g = _grid(n=20_000, seed=5)
    price = pricing.black_scholes(g["S"], g["K"], g["T"], g["r"], g["vol"], g["is_call"], q=g["q"])
    forward = g["S"] * np.exp((g["r"] - g["q"]) * g["T"])
    evaluations = np.array([
        kernels.normalised_implied_stdev_nb(*kernels.normalised_otm_price_nb(p, f, k, t, r, c))[1]
        for p, f, k, t, r, c in zip(price, forward, g["K"], g["T"], g["r"], g["is_call"])])
    hard = evaluations >= 3
    assert hard.sum() >= 20
    got = pricing.implied_vol(price, g["S"], g["K"], g["T"], g["r"], g["is_call"], q=g["q"])[hard]
    sub = {k: v[hard] for k, v in g.items()}
    expected = reference.implied_vol(price[hard], sub["S"], sub["K"], sub["T"], sub["r"],
                                     sub["is_call"], q=sub["q"])
    bound = ULPS_TWO * implied_vol_error_bound(*_args(sub), q=sub["q"]) + (IV_STOP + BRENT_RTOL) * expected
    assert_within(got, expected, bound, "implied vol after the scalar clean-up")


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
    assert_within(pricing.black_scholes(S, K, T, r, 0.0, True, q=q), expected,
                  ULPS_TWO * bsm_error_bounds(S, K, T, r, 0.0, True, q=q)["price"], "zero vol")


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
        price_bound = bsm_error_bounds(forwards, 100.0, expiries, 0.0, 0.6, is_call)["price"]
        delta_bound = bsm_error_bounds(forwards, 100.0, expiries, 0.0, 0.0, is_call)["delta"]
        assert abs(_reprice_along_path(forwards, expiries, 100.0, is_call) - expected) <= (
            ULPS_TWO * (price_bound + delta_bound).sum() + 4 * EPS * abs(expected))
    assert kernels.black76_price_nb(110.0, 100.0, 0.5, 0.05, -0.3, True) == pytest.approx(
        math.exp(-0.025) * 10.0, rel=1e-15)


def test_implied_vol_of_a_price_that_underflows_when_normalised_is_nan_in_kernel_and_reference():
    # A deep OTM put worth 7.9e-320 (subnormal): price/√(F·K) rounds to 0, no vol is identified.
    args = (7.9436e-320, 60_000.0, 56_341.552108648946, 0.0004340524672982941, 0.03, False)
    assert np.isnan(pricing.implied_vol(*args, q=0.01))
    assert np.isnan(reference.implied_vol(*args, q=0.01))


def test_normal_quantile_starting_guess_is_within_wichura_ppnd7_accuracy_of_scipy_ndtri():
    # Wichura (1988) gives PPND7 as accurate to about 1 part in 10⁷; the solver only starts from it.
    p = np.concatenate([np.logspace(-300, -1, 600), np.linspace(0.01, 0.99, 600), 1 - np.logspace(-16, -2, 100)])
    got = np.array([norm_quantile_nb(v) for v in p])
    assert_within(got, ndtri(p), 2e-7 * np.maximum(1.0, np.abs(ndtri(p))), "N⁻¹(p)")
    lower = p[p <= 0.5]
    from_log = np.array([norm_quantile_of_log_nb(v) for v in np.log(lower)])
    assert_within(from_log, ndtri(lower), 2e-7 * np.abs(ndtri(lower)), "N⁻¹(e^ln p)")
