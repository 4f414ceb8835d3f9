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


@pytest.mark.xfail(strict=True, reason="risk/book_mc._pool_estimate: a several-pool account's pools come from "
                                       "the untilted paths even where the account is importance-sampled")
def test_a_rare_isolated_pools_interval_covers_its_closed_form_as_the_accounts_does():
    """An isolated 0.5 BTC long (LP ≈ 87,000) beside a cross ETH short, BTC vol 0.85, 1h under
    GBM: the isolated pool is liquidated exactly when BTC first touches its LP — the reflection
    principle, 1.52e-7. The account's importance-sampled estimate matches it; the pool's own
    estimate must too (measured at 20,000 paths: 5.1e-15, 95% [0, 1.5e-14] by the CLI's seed; this seed: upper bound 3.3e-9)."""
    doc = {"as_of": AS_OF, "market": {"BTC": {"mark": BTC, "vol": 0.85}, "ETH": {"mark": 3050.0, "vol": 0.68}},
           "accounts": [{"id": "mix", "venue": "binance-usdm", "mode": "cross", "collateral": {"USDT": 4000},
                         "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 0.5, "entry": BTC,
                                        "margin": 2300},
                                       {"symbol": "ETHUSDT", "kind": "perp", "size": -10, "entry": 3050}]}]}
    acc = liqrisk.analyze(doc, horizons=["1h"], paths=20_000, seed=4, model="gbm", range_paths=0).accounts[0]
    exact = _hit(acc.positions[0].liquidation_price, 0.85, 1 / 8760)
    assert 1e-7 < exact < 2e-7
    est = acc.probability["1h"]
    assert abs(est.p - exact) < 4 * est.stderr                          # holds today
    pool = acc.pools["isolated BTCUSDT"]["1h"]
    assert pool.ci95[0] <= exact <= pool.ci95[1]
