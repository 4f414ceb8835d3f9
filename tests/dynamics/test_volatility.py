"""OHLC loading and the historical vol estimators of liqrisk.dynamics.volatility."""
import math

import numpy as np
import pandas as pd
import pytest

from liqrisk.dynamics.ohlc import OHLC, DataError, bundled_data_path, load_ohlc
from liqrisk.dynamics.volatility import (ESTIMATORS, SECONDS_PER_YEAR, close_to_close, estimate_all,
                                         ewma, garman_klass, parkinson, rogers_satchell,
                                         rolling_vol, yang_zhang)

RANGE_BASED = ("parkinson", "garman_klass", "rogers_satchell")
WINDOWED = ("close_to_close",) + RANGE_BASED + ("yang_zhang",)


# --- loading ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, asset, n, bar_seconds, first", [
    ("btcusd_1h_coinbase.csv", None, 20111, 3600.0, "2017-07-01T11:00:00"),
    ("btcusd_1d_coinbase.csv", None, 1770, 86400.0, "2014-12-01T00:00:00"),
    ("btc_eth_usd_1d_bitstamp.csv", "btc", 1865, 86400.0, "2014-11-28T00:00:00"),
    ("btc_eth_usd_1d_bitstamp.csv", "eth", 788, 86400.0, "2017-11-09T00:00:00"),
])
def test_bundled_files_load_with_counts_from_provenance(name, asset, n, bar_seconds, first):
    bars = load_ohlc(bundled_data_path(name), asset=asset)
    assert len(bars) == n  # PROVENANCE.md row counts; ETH starts 2017-11-09
    assert bars.bar_seconds == bar_seconds
    assert bars.timestamps.dtype == np.dtype("datetime64[s]")
    assert str(bars.timestamps[0]) == first
    assert np.isfinite(bars.close).all() and (bars.low <= bars.high).all()


def test_bundled_data_path_unknown_name_lists_available_files():
    with pytest.raises(FileNotFoundError, match="btcusd_1h_coinbase.csv"):
        bundled_data_path("nope.csv")


GOOD = ["timestamp,open,high,low,close,volume",
        "2024-01-01T00:00:00Z,100,110,90,105,1",
        "2024-01-01T01:00:00Z,105,112,101,110,2",
        "2024-01-01T02:00:00Z,110,115,108,109,3"]


@pytest.mark.parametrize("edit, line, column", [
    ((2, "2024-01-01T01:00:00Z,105,112,101,-1,2"), 3, "close"),             # non-positive price
    ((2, "2024-01-01T01:00:00Z,105,100,101,100.5,2"), 3, "high"),           # high < low
    ((3, "2024-01-01T00:30:00Z,110,115,108,109,3"), 4, "timestamp"),        # unsorted
    ((3, "2024-01-01T01:00:00Z,110,115,108,109,3"), 4, "timestamp"),        # duplicate
    ((1, "2024-01-01T00:00:00Z,100,110,90,abc,1"), 2, "close"),             # not a number
    ((1, "2024-01-01T00:00:00Z,100,104,90,105,1"), 2, "high"),              # close above high
])
def test_bad_rows_raise_one_line_error_naming_file_line_and_column(tmp_path, edit, line, column):
    rows = list(GOOD)
    rows[edit[0]] = edit[1]
    path = tmp_path / "bars.csv"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError) as info:
        load_ohlc(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("bars.csv: ")
    assert f"line {line}" in message and f"'{column}'" in message


def test_missing_column_is_named(tmp_path):
    path = tmp_path / "bars.csv"
    path.write_text("\n".join(row.rsplit(",", 1)[0] for row in GOOD) + "\n")
    with pytest.raises(DataError, match="bars.csv: missing column 'volume'"):
        load_ohlc(path)
    assert issubclass(DataError, ValueError)


def test_errors_name_the_file_line_past_blank_lines_and_long_rows(tmp_path):
    path = tmp_path / "bars.csv"
    path.write_text("\n".join([GOOD[0], GOOD[1], "", GOOD[2].replace(",101,", ",abc,"), GOOD[3]]) + "\n")
    with pytest.raises(DataError, match="bars.csv: line 4, column 'low': value 'abc' is not a number"):
        load_ohlc(path)
    path.write_text("\n".join([GOOD[0], GOOD[1], GOOD[2] + ",7", GOOD[3]]) + "\n")
    with pytest.raises(DataError, match="bars.csv: line 3: 7 fields, the header has 6"):
        load_ohlc(path)


def test_timestamps_with_an_offset_are_converted_to_utc_and_naive_ones_are_utc(tmp_path):
    path = tmp_path / "bars.csv"
    stamps = ["2024-01-01", "2024-01-01T03:30:00+02:00", "2024-01-01 02:00:00Z"]
    path.write_text("\n".join([GOOD[0]] + [t + r[r.index(","):] for t, r in zip(stamps, GOOD[1:])]) + "\n")
    bars = load_ohlc(path)
    assert [str(t) for t in bars.timestamps] == ["2024-01-01T00:00:00", "2024-01-01T01:30:00", "2024-01-01T02:00:00"]
    assert bars.bar_seconds == 3600.0 and bars.close.tolist() == [105.0, 110.0, 109.0]  # median of 90, 30 min


# --- hand-computed example from the published formulas ---------------------------------------
# Three bars given by their log-prices relative to the open (u = ln H/O, d = ln L/O, c = ln C/O);
# bar 3 opens 0.005 above bar 2's close (an opening jump).
U, D, C = (0.03, 0.01, 0.02), (-0.01, -0.04, -0.02), (0.02, -0.03, 0.01)
JUMP = (0.0, 0.0, 0.005)


def _hand_bars():
    log_open = np.cumsum(np.array(JUMP) + np.concatenate(([0.0], C[:-1]))) + math.log(100.0)
    o = np.exp(log_open)
    return o, o * np.exp(U), o * np.exp(D), o * np.exp(C)


def test_estimators_match_hand_computation_from_published_formulas():
    o, h, lo, c = _hand_bars()
    year = 365.0  # daily bars, 24/7
    # Parkinson (1980): ranges u - d = 0.04, 0.05, 0.04
    park = (0.04**2 + 0.05**2 + 0.04**2) / 3 / (4 * math.log(2))
    # Garman-Klass (1980): 0.5 (u - d)^2 - (2 ln 2 - 1) c^2
    g = 2 * math.log(2) - 1
    gk = (0.5 * 0.04**2 - g * 0.02**2 + 0.5 * 0.05**2 - g * 0.03**2 + 0.5 * 0.04**2 - g * 0.01**2) / 3
    # Rogers-Satchell (1991): u(u - c) + d(d - c) = 0.0006, 0.0008, 0.0008
    rs = (0.0006 + 0.0008 + 0.0008) / 3
    # close-to-close: returns c2 = -0.03 and jump + c3 = 0.015, mean -0.0075, n - 1 = 1
    cc = (-0.03 + 0.0075) ** 2 + (0.015 + 0.0075) ** 2
    # Yang-Zhang (2000) on bars 2-3 (n = 2): V_o = var(0, 0.005), V_c = var(-0.03, 0.01),
    # V_RS = 0.0008, k = 0.34 / (1.34 + 3 / 1)
    k = 0.34 / (1.34 + 3.0)
    yz = 2 * 0.0025**2 + k * 2 * 0.02**2 + (1 - k) * 0.0008
    # RiskMetrics EWMA, lambda = 0.5: weights 1 (last return) and 0.5, normalised
    ew = (0.015**2 + 0.5 * 0.03**2) / 1.5

    def ann(v):
        return math.sqrt(v * year)
    assert parkinson(h, lo) == pytest.approx(ann(park), rel=1e-12)
    assert garman_klass(o, h, lo, c) == pytest.approx(ann(gk), rel=1e-12)
    assert rogers_satchell(o, h, lo, c) == pytest.approx(ann(rs), rel=1e-12)
    assert close_to_close(c) == pytest.approx(ann(cc), rel=1e-12)
    assert yang_zhang(o, h, lo, c) == pytest.approx(ann(yz), rel=1e-12)
    assert ewma(c, lam=0.5) == pytest.approx(ann(ew), rel=1e-12)


def test_annualisation_uses_365_days_for_any_bar_size():
    o, h, lo, c = _hand_bars()
    daily = parkinson(h, lo, bar_seconds=86400)
    assert parkinson(h, lo, bar_seconds=3600) == pytest.approx(daily * math.sqrt(24), rel=1e-12)
    assert parkinson(h, lo, bar_seconds=300) == pytest.approx(daily * math.sqrt(288), rel=1e-12)


# --- simulated GBM OHLC -------------------------------------------------------------------------

def simulate_ohlc(rng, n_bars, sigma, *, steps=32, drift=0.0, jump_sd=0.0) -> OHLC:
    """GBM bars with per-bar log vol ``sigma`` and drift ``drift``, each bar built from ``steps``
    increments; the high and low of each increment are drawn exactly from the Brownian bridge
    between its end points (max = (a + b + sqrt((b - a)^2 - 2 s^2 dt ln U)) / 2), so the bar's
    range is that of the continuous path.  ``jump_sd``: normal jump between a close and the next
    open.  One bar = one year of ``bar_seconds`` so annualised vol = per-bar vol."""
    dt = 1.0 / steps
    inc = drift * dt + sigma * math.sqrt(dt) * rng.standard_normal((n_bars, steps))
    path = np.concatenate([np.zeros((n_bars, 1)), np.cumsum(inc, axis=1)], axis=1)
    a, b = path[:, :-1], path[:, 1:]
    spread = lambda: np.sqrt((b - a) ** 2 - 2 * sigma**2 * dt * np.log(rng.random(a.shape)))  # noqa: E731
    high = (0.5 * (a + b + spread())).max(axis=1)
    low = (0.5 * (a + b - spread())).min(axis=1)
    close = path[:, -1]
    log_open = np.cumsum(jump_sd * rng.standard_normal(n_bars) + np.concatenate(([0.0], close[:-1])))
    return OHLC.from_arrays(*(100 * np.exp(log_open + x) for x in (0.0, high, low, close)),
                            bar_seconds=SECONDS_PER_YEAR)


REPS, WINDOW, SIGMA = 500, 20, 0.02


def _replicated_variances(**kwargs) -> dict[str, np.ndarray]:
    """Variance estimates on REPS non-overlapping windows of WINDOW bars."""
    bars = simulate_ohlc(np.random.default_rng(20000), REPS * WINDOW + 1, SIGMA, **kwargs)
    ends = np.arange(WINDOW, REPS * WINDOW + 1, WINDOW)
    return {name: rolling_vol(bars, name, WINDOW)[ends] ** 2 for name in WINDOWED}


@pytest.fixture(scope="module")
def gbm_estimates():
    return _replicated_variances()


def _within(estimates: np.ndarray, target: float, n_se: float = 4.0) -> bool:
    return abs(estimates.mean() - target) < n_se * estimates.std(ddof=1) / math.sqrt(len(estimates))


@pytest.mark.parametrize("name", WINDOWED)
def test_each_estimator_is_unbiased_for_gbm_variance(gbm_estimates, name):
    assert _within(gbm_estimates[name], SIGMA**2)


# Efficiency relative to close-to-close (variance ratio), zero drift, no opening jumps:
# Parkinson 1980: 5.2; Garman-Klass 1980: 7.4; Rogers-Satchell (Rogers, Satchell & Yoon 1994): ~6;
# Yang-Zhang 2000: above RS when there are no opening jumps (measured here: 5.4, 8.2, 6.5, 7.7).
# The lower bounds leave room for the sampling error of a variance ratio over REPS windows.
@pytest.mark.parametrize("name, at_least", [
    ("parkinson", 4.0), ("garman_klass", 5.5), ("rogers_satchell", 4.5), ("yang_zhang", 4.5)])
def test_range_estimators_are_more_efficient_than_close_to_close(gbm_estimates, name, at_least):
    ratio = gbm_estimates["close_to_close"].var() / gbm_estimates[name].var()
    assert ratio > at_least


def test_with_drift_rs_and_yz_stay_unbiased_but_parkinson_and_gk_do_not():
    """Yang & Zhang (2000): RS and YZ are independent of the drift; Parkinson and GK are not."""
    est = _replicated_variances(drift=2.0 * SIGMA)
    for name in ("close_to_close", "rogers_satchell", "yang_zhang"):
        assert _within(est[name], SIGMA**2), name
    for name in ("parkinson", "garman_klass"):
        assert est[name].mean() > SIGMA**2 + 4 * est[name].std() / math.sqrt(REPS), name


def test_with_opening_jumps_yz_recovers_total_variance_and_rs_the_intrabar_part():
    """Yang & Zhang (2000): with opening jumps of variance f, YZ estimates sigma^2 + f."""
    est = _replicated_variances(jump_sd=SIGMA)
    assert _within(est["yang_zhang"], 2 * SIGMA**2)
    assert _within(est["close_to_close"], 2 * SIGMA**2)
    assert _within(est["rogers_satchell"], SIGMA**2)


def test_ewma_is_unbiased_on_gbm():
    bars = simulate_ohlc(np.random.default_rng(7), 20001, SIGMA, steps=4)
    series = rolling_vol(bars, "ewma", 1) ** 2
    assert series[100:].mean() == pytest.approx(SIGMA**2, rel=0.05)


# --- rolling versions against independent implementations --------------------------------------

@pytest.fixture(scope="module")
def bars_500():
    return simulate_ohlc(np.random.default_rng(3), 500, 0.01, steps=8, drift=0.002, jump_sd=0.002)


def test_rolling_close_to_close_and_ewma_match_pandas(bars_500):
    r = pd.Series(np.log(bars_500.close)).diff()
    scale = math.sqrt(365 * 86400 / bars_500.bar_seconds)
    np.testing.assert_allclose(rolling_vol(bars_500, "close_to_close", 20),
                               r.rolling(20).std() * scale, rtol=1e-9)
    expected = np.sqrt((r**2).iloc[1:].ewm(alpha=1 - 0.94, adjust=True).mean()) * scale
    np.testing.assert_allclose(rolling_vol(bars_500, "ewma", 20)[1:], expected, rtol=1e-9)


SCALAR = {
    "close_to_close": lambda b: close_to_close(b.close, bar_seconds=b.bar_seconds),
    "parkinson": lambda b: parkinson(b.high, b.low, bar_seconds=b.bar_seconds),
    "garman_klass": lambda b: garman_klass(b.open, b.high, b.low, b.close, bar_seconds=b.bar_seconds),
    "rogers_satchell": lambda b: rogers_satchell(b.open, b.high, b.low, b.close, bar_seconds=b.bar_seconds),
    "yang_zhang": lambda b: yang_zhang(b.open, b.high, b.low, b.close, bar_seconds=b.bar_seconds),
}


@pytest.mark.parametrize("name", WINDOWED)
def test_rolling_equals_the_full_sample_estimator_on_each_window(bars_500, name):
    window = 25
    rolled = rolling_vol(bars_500, name, window)
    extra = 0 if name in RANGE_BASED else 1  # the close before the window
    first = window - 1 + extra
    assert np.isnan(rolled[:first]).all() and np.isfinite(rolled[first:]).all()
    for t in (first, 100, 499):
        window_bars = OHLC.from_arrays(*(x[t + 1 - window - extra: t + 1] for x in
                                         (bars_500.open, bars_500.high, bars_500.low, bars_500.close)),
                                       bar_seconds=bars_500.bar_seconds)
        assert rolled[t] == pytest.approx(SCALAR[name](window_bars), rel=1e-9)


def test_estimate_all_is_a_mapping_with_the_last_rolling_value(bars_500):
    est = estimate_all(bars_500, window=50)
    assert list(est) == list(ESTIMATORS) and len(est) == 6
    for name in ESTIMATORS:
        assert est[name] == pytest.approx(rolling_vol(bars_500, name, 50)[-1], rel=1e-12)
    d = est.to_dict()
    assert d["vol_annualised"] == dict(est) and d["window"] == 50 and d["n_bars"] == 50
    with pytest.raises(ValueError, match="unknown estimator"):
        estimate_all(bars_500, estimators=["nope"])


def test_real_btc_hourly_estimators_agree_with_close_to_close():
    """On the bundled Coinbase hourly bars (no bad ticks) every OHLC estimator lands within 10% of
    close-to-close; rolling 30-day windows over 20k bars are finite once full."""
    bars = load_ohlc(bundled_data_path("btcusd_1h_coinbase.csv"))
    est = estimate_all(bars)
    for name in RANGE_BASED + ("yang_zhang",):
        assert est[name] == pytest.approx(est["close_to_close"], rel=0.10)
    for name in ESTIMATORS:
        assert np.isfinite(rolling_vol(bars, name, 720)[720:]).all()
