"""Back-test machinery: Binance isolated LP, realised outcomes, scores, no look-ahead."""
import numpy as np
import pytest

from liqrisk.dynamics.ohlc import OHLC, bundled_data_path, load_ohlc
from liqrisk.margin.binance import usdm_liquidation_price
from liqrisk.margin.tiers import TierTable
from liqrisk.risk.calibration import DATA, Position, isolated_lp_ratio, predict, realised

#: the engine's boundary is refined to 1e-12 relative; the closed form rounds at ~1e-15
ENGINE_VS_CLOSED_FORM = 1e-10


def _closed_form(side, leverage, notional):
    """Binance's isolated closed form (docs/venues.md) with the bundled BTCUSDT brackets, EP = 1."""
    import json
    from importlib.resources import files
    rows = json.loads(files("liqrisk.margin").joinpath("data/binance_usdm_brackets_2026-09.json").read_text())
    table = TierTable.from_rows(rows["symbols"]["BTCUSDT"])
    return usdm_liquidation_price(notional / leverage, 0.0, 0.0, both=(side * notional, 1.0), table=table, mark=1.0)


def test_isolated_lp_first_tier_by_hand():
    # 10x long, 10,000 USDT, tier 1 (MMR 0.4%, cum 0): LP/EP = (1 − 1/10)/(1 − 0.004)
    assert isolated_lp_ratio(1, 10, 10_000) == pytest.approx(0.9 / 0.996, rel=ENGINE_VS_CLOSED_FORM)
    assert isolated_lp_ratio(-1, 25, 10_000) == pytest.approx(1.04 / 1.004, rel=ENGINE_VS_CLOSED_FORM)


def test_isolated_lp_selects_the_tier_at_the_liquidation_notional():
    # 2,000,000 USDT long at 20x: liquidation notional ~1.9M lies in tier 3 (0.65%, cum 1,500)
    ratio = isolated_lp_ratio(1, 20, 2_000_000)
    assert ratio == pytest.approx((0.05 + 1_500 / 2_000_000 - 1) / (0.0065 - 1), rel=ENGINE_VS_CLOSED_FORM)


@pytest.mark.parametrize("side,leverage,notional", [(1, 5, 1e4), (-1, 5, 1e4), (1, 25, 1e4), (-1, 10, 3e6),
                                                    (1, 20, 2.5e5), (-1, 3, 8e6)])
def test_the_engine_s_liquidation_price_is_binance_s_closed_form(side, leverage, notional):
    assert isolated_lp_ratio(side, leverage, notional) == pytest.approx(
        _closed_form(side, leverage, notional), rel=ENGINE_VS_CLOSED_FORM)


def test_a_long_at_leverage_one_is_never_liquidated():
    assert isolated_lp_ratio(1, 1, 10_000) == 0.0
    assert Position(1, 1, 10_000).log_bounds() == (-np.inf, np.inf)


def test_realised_uses_the_next_bars_high_and_low():
    close = np.array([100.0, 100, 100, 100, 100])
    low = np.array([100.0, 99, 95, 100, 100])
    high = np.array([100.0, 101, 100, 104, 100])
    bars = OHLC.from_arrays(close, high, low, close, bar_seconds=3600)
    long10 = realised(bars, Position(1, 25, 10_000), horizon=2)     # LP 96.0
    short25 = realised(bars, Position(-1, 25, 10_000), horizon=2)   # LP 103.6
    np.testing.assert_array_equal(long10[:3], [1, 1, 0])
    np.testing.assert_array_equal(short25[:3], [0, 1, 1])
    assert np.isnan(long10[3:]).all()


@pytest.mark.parametrize("model", ["gbm", "student_t", "garch_fhs", "garch_evt"])
def test_predictions_use_no_future_data(model):
    full = load_ohlc(bundled_data_path(DATA))
    n, t = 1700, 1290
    # the long series with everything after bar t perturbed, and the series cut at bar t:
    # predictions up to bar t must be identical
    bump = np.where(np.arange(n) > t, 1.3, 1.0)
    bars = [OHLC(full.timestamps[:m], *(getattr(full, f)[:m] * bump[:m]
                                        for f in ("open", "high", "low", "close", "volume")),
                 full.bar_seconds) for m in (n, t + 1)]
    pos = [Position(1, 25, 10_000), Position(-1, 10, 10_000)]
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
    pos = [Position(1, 10, 10_000), Position(-1, 25, 10_000)]
    states, n = np.array([0.5, 0.9]), 4096
    tables = _mc_tables(gbm, pos, states, 24, n, (0, 3))
    for i, s in enumerate(states):
        for j, p in enumerate(pos):
            exact = float(hit_probability(1.0, p.lp_ratio, s, 24 / HOURS_PER_YEAR))
            assert abs(tables[i, j] - exact) <= 3 * np.sqrt(exact * (1 - exact) / n), (s, p.name)
