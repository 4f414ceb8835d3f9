"""Funding formulas against the venues' published rules and Hyperliquid's worked example."""
from datetime import datetime, timezone

import numpy as np
import pytest

from liqrisk.advise.funding import (VENUE_FUNDING, FundingModel, FundingSchedule, funding_payment, funding_rate,
                                    mean_premium, next_funding_hours, premium_index)


def test_hyperliquid_docs_example():
    """Impact bid 10,100 vs oracle 10,000 → P = 1% → F = 0.95% per 8 h → 0.11875% paid hourly → a
    10 BTC long pays $118.75 per hour (Hyperliquid funding docs)."""
    p = float(premium_index(10_100, 10_150, 10_000))
    assert p == pytest.approx(0.01)
    hl = VENUE_FUNDING["hyperliquid"]
    rate = funding_rate(p, hl)
    assert rate == pytest.approx(0.0095 / 8, rel=1e-12)
    assert funding_payment(10, 10_000, rate) == pytest.approx(118.75, rel=1e-12)
    m = FundingModel.from_premium(10_100, 10_150, 10_000, "hyperliquid")
    assert m.rates[0] == pytest.approx(0.0011875) and m.interval_hours == 1.0


def test_hyperliquid_hourly_cap_4pct():
    assert funding_rate(2.0, VENUE_FUNDING["hyperliquid"]) == pytest.approx(0.04)


def test_binance_rate_is_the_interest_rate_inside_the_clamp_band():
    """Binance: with I = 0.01% the funding rate is exactly 0.01% whenever the premium lies within
    [−0.04%, +0.06%] (the published consequence of the ±0.05% clamp), else P ∓ 0.05%."""
    b = VENUE_FUNDING["binance-usdm"]
    for p in (-0.0004, 0.0, 0.0003, 0.0006):
        assert funding_rate(p, b) == pytest.approx(0.0001, abs=1e-15)
    assert funding_rate(0.002, b) == pytest.approx(0.002 - 0.0005)
    assert funding_rate(-0.001, b) == pytest.approx(-0.001 + 0.0005)


def test_premium_index_discount_side():
    assert float(premium_index(9_900, 9_950, 10_000)) == pytest.approx(-0.005)
    assert float(premium_index(9_990, 10_010, 10_000)) == 0.0


def test_linear_weighted_mean_premium_weights_latest_most():
    """Bybit/Binance: weights 1…n on the samples (latest heaviest)."""
    s = [0.0, 0.0, 0.003]
    assert mean_premium(s, "linear") == pytest.approx(0.003 * 3 / 6)
    assert mean_premium(s, "equal") == pytest.approx(0.001)


def test_funding_times_on_the_utc_grid_and_cumulative():
    as_of = datetime(2026, 11, 23, 5, 0, tzinfo=timezone.utc)
    assert next_funding_hours(as_of, 8) == pytest.approx(3.0)       # 08:00 UTC
    m = FundingModel.constant(0.0001, 8, as_of)
    assert m.cumulative(2.9) == 0.0
    assert m.cumulative(3.0) == pytest.approx(0.0001)
    assert m.cumulative(72.0) == pytest.approx(9 * 0.0001)           # 08:00 … 00:00 three days later


def test_csv_series_and_schedule_arrays(tmp_path):
    f = tmp_path / "f.csv"
    f.write_text("timestamp,rate\n2026-01-01T00:00:00Z,0.0001\n2026-01-01T08:00:00Z,0.0003\n"
                 "2026-01-01T16:00:00Z,-0.0002\n")
    m = FundingModel.from_csv(f)
    assert m.interval_hours == pytest.approx(8.0) and m.rates == (0.0001, 0.0003, -0.0002)
    assert m.cumulative(8 * 5) == pytest.approx(0.0001 + 0.0003 - 0.0002 * 3)
    s = FundingSchedule.of([m, None, FundingModel.constant(0.0002)])
    assert s.rate.shape == (3, 3)
    np.testing.assert_allclose(s.rate[2], 0.0002)
    assert s.interval[0] == pytest.approx(8 / 8760) and np.isinf(s.first[1])


def test_csv_bad_rate_names_row(tmp_path):
    from liqrisk.io.portfolio import InputError
    f = tmp_path / "f.csv"
    f.write_text("timestamp,rate\n2026-01-01T00:00:00Z,0.5\n")
    with pytest.raises(InputError, match="row 2"):
        FundingModel.from_csv(f)


def test_perp_hedge_pays_funding_in_the_backtest():
    """The long perp hedging a short deep-in-the-money call (delta 1) pays a positive rate at every
    funding time: 8 days = 24 payments every 8 h of 1 × 100 × 0.1%."""
    from liqrisk.advise.hedging import HedgeSpec, hedge_backtest
    spec = HedgeSpec(spot=100, strike=50, expiry_days=8, vol=1e-6, is_call=True, position=-1, rebalances=24,
                     fee=0.0, liquidate=False, funding=FundingModel((0.001,), 8.0, 8.0))
    d = hedge_backtest(spec, 8, seed=1).to_dict()
    assert d["funding_paid_mean"] == pytest.approx(24 * 1.0 * 100 * 0.001, rel=1e-6)
