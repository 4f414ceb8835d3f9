"""Back-test machinery: Binance isolated LP, realised outcomes, scores, no look-ahead."""
import numpy as np
import pytest

from liqrisk.dynamics.ohlc import OHLC, bundled_data_path, load_ohlc
from liqrisk.risk.calibration import (DATA, Position, binance_tiers, isolated_lp_ratio, predict,
                                      realised)


def test_isolated_lp_first_tier_by_hand():
    # 10x long, 10,000 USDT, tier 1 (MMR 0.4%, cum 0): LP/EP = (1 − 1/10)/(1 − 0.004)
    tiers = binance_tiers()
    assert isolated_lp_ratio(1, 10, 10_000, tiers) == pytest.approx(0.9 / 0.996, rel=1e-12)
    assert isolated_lp_ratio(-1, 25, 10_000, tiers) == pytest.approx(1.04 / 1.004, rel=1e-12)


def test_isolated_lp_selects_the_tier_at_the_liquidation_notional():
    # 2,000,000 USDT long at 20x: liquidation notional ~1.9M lies in tier 3 (0.65%, cum 1,500)
    tiers = binance_tiers()
    ratio = isolated_lp_ratio(1, 20, 2_000_000, tiers)
    assert ratio == pytest.approx((0.05 + 1_500 / 2_000_000 - 1) / (0.0065 - 1), rel=1e-12)
    pos = Position(1, 20, 2_000_000, tiers)
    assert pos.health(np.array([[ratio]]), 0.0)[0] == pytest.approx(0.0, abs=1e-6)


def test_realised_uses_the_next_bars_high_and_low():
    close = np.array([100.0, 100, 100, 100, 100])
    low = np.array([100.0, 99, 95, 100, 100])
    high = np.array([100.0, 101, 100, 104, 100])
    bars = OHLC.from_arrays(close, high, low, close, bar_seconds=3600)
    tiers = binance_tiers()
    long10 = realised(bars, Position(1, 25, 10_000, tiers), horizon=2)     # LP 96.0
    short25 = realised(bars, Position(-1, 25, 10_000, tiers), horizon=2)   # LP 103.6
    np.testing.assert_array_equal(long10[:3], [1, 1, 0])
    np.testing.assert_array_equal(short25[:3], [0, 1, 1])
    assert np.isnan(long10[3:]).all()


@pytest.mark.parametrize("model", ["gbm", "student_t", "garch_fhs"])
def test_predictions_use_no_future_data(model):
    full = load_ohlc(bundled_data_path(DATA))
    n, t = 1700, 1290
    # the long series with everything after bar t perturbed, and the series cut at bar t:
    # predictions up to bar t must be identical
    bump = np.where(np.arange(n) > t, 1.3, 1.0)
    bars = [OHLC(full.timestamps[:m], *(getattr(full, f)[:m] * bump[:m]
                                        for f in ("open", "high", "low", "close", "volume")),
                 full.bar_seconds) for m in (n, t + 1)]
    tiers = binance_tiers()
    pos = [Position(1, 25, 10_000, tiers), Position(-1, 10, 10_000, tiers)]
    kw = dict(min_history=800, refit_every=400, n_paths=512)
    a, b = (predict(x, model, pos, **kw) for x in bars)
    np.testing.assert_array_equal(a[: t + 1], b)
    assert np.isfinite(b[800:]).all()


def test_shared_path_tables_match_the_reflection_principle_under_gbm():
    """Under GBM the bridge-corrected estimate is unbiased for continuous monitoring: each table
    entry is within 3 standard errors of the closed form (the sd of a conditional expectation is
    at most the indicator's, sqrt(p(1 − p)/n))."""
    from liqrisk.dynamics.paths import gbm
    from liqrisk.risk.calibration import HOURS_PER_YEAR, _mc_tables
    from liqrisk.risk.first_passage import hit_probability
    tiers = binance_tiers()
    pos = [Position(1, 10, 10_000, tiers), Position(-1, 25, 10_000, tiers)]
    states, n = np.array([0.5, 0.9]), 4096
    tables = _mc_tables(gbm, pos, states, 24, n, (0, 3))
    for i, s in enumerate(states):
        for j, p in enumerate(pos):
            exact = float(hit_probability(1.0, p.lp_ratio, s, 24 / HOURS_PER_YEAR))
            assert abs(tables[i, j] - exact) <= 3 * np.sqrt(exact * (1 - exact) / n), (s, p.name)
