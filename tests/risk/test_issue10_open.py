"""Issue 10 properties the engine does not have yet (audit of 2026-12-03, notes/audit10.md),
written as strict expected failures: each states the property with a number from outside the
engine, and turns into a failure (XPASS) the day the engine gets it — then drop the marker."""
import math

import pytest

import liqrisk

AS_OF = "2026-11-23T00:00:00Z"
BTC = 91250.0


def _phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _hit(lp: float, vol: float, years: float) -> float:
    """Driftless GBM's first passage below ``lp`` from BTC (reflection principle, by hand)."""
    sd, b = vol * math.sqrt(years), math.log(lp / BTC)
    return _phi((b + sd * sd / 2) / sd) + math.exp(-b) * _phi((b - sd * sd / 2) / sd)


@pytest.mark.xfail(strict=True, reason="risk/book_mc: after a future's expiry the VaR/ES paths keep its P&L "
                                       "(the liquidation test stops at expiry, the loss does not)")
def test_var_of_a_future_expiring_in_a_minute_is_at_most_the_margin_it_can_lose():
    """An isolated 2 BTC future expiring a minute after the snapshot with 2,281.25 USDT of margin:
    it settles within the minute, so nothing beyond that margin can be lost at any horizon (the
    engine's own max_loss says 2,281.25; measured: VaR99(1d) 12,811, ES99 14,693, VaR99(7d) 32,211)."""
    doc = {"as_of": AS_OF, "market": {"BTC": {"mark": BTC, "vol": 0.6}},
           "accounts": [{"id": "fut", "venue": "binance-usdm", "mode": "isolated",
                         "positions": [{"symbol": "BTCUSDT_261123", "kind": "future", "size": 2.0, "entry": BTC,
                                        "expiry": "2026-11-23T00:01:00Z", "margin": 2281.25}]}]}
    acc = liqrisk.analyze(doc, horizons=["1d", "7d"], paths=2000, seed=1, model="gbm", range_paths=0).accounts[0]
    assert acc.risk.max_loss == pytest.approx(2281.25)
    for h in ("1d", "7d"):
        assert acc.probability[h].p == 0.0                            # settled, never liquidated
        assert acc.risk.var99[h] <= acc.risk.es99[h] <= 2281.25 + 1e-6
