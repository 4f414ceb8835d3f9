"""Bybit classic cross inverse: the maintenance margin holds the estimated fee to close at the
bankruptcy price (help centre "How to calculate Liquidation Price (Inverse Contract)",
help.bybit.com/hc/en-us/articles/360039261334):

    Q·(1/EP − 1/LP) = −(B − order margin − Q/EP·MMR − Q·0.00075/BP),  BP = 1.00075·Q/(Q/EP + B)

Published example: balance 0.5 BTC, long 10,000 contracts (USD) at 8,000, MMR 0.5%, no orders →
BP 5,718.57, "LP 5,739.50". The page's own equation with its own numbers gives 5,739.08
(Q/EP = 1.25, MM 0.00625, fee 10,000·0.00075/5,718.5714 = 0.00131151 BTC: 10,000/1.74243849);
the printed 5,739.50 is 7e-5 off it, which no rounding of the inputs explains, so the test holds
the engine to the equation and the bankruptcy price to the printed 5,718.57.
"""
import pytest

from tests.builders import portfolio
from liqrisk.margin import bybit
from liqrisk.margin.account import analyze_margin

pytestmark = pytest.mark.numerics


def _cross(version, size):
    pf = portfolio([{"id": "b", "venue": {"name": "bybit-inverse", "version": version, "taker_fee": 0.00075},
                     "mode": "cross", "collateral": {"BTC": 0.5},
                     "positions": [{"symbol": "BTCUSD", "kind": "perp", "size": size, "entry": 8_000.0,
                                    "mmr": 0.005}]}],
                   market={"BTC": {"mark": 8_000.0, "vol": 0.6}})
    return analyze_margin(pf)[0]


def test_published_bankruptcy_price_5718_57():
    assert round(bybit.classic_cross_inverse_bankruptcy(8_000, 10_000, 0.5, 0.00075), 2) == 5_718.57


def test_published_equation_solved_by_the_engine():
    """MM = 10,000/8,000·0.5% + 10,000·0.075%/BP BTC; the engine's root of equity − MM is the
    equation's LP (1e-12 search tolerance)."""
    acc = _cross("classic", 10_000.0)
    bp = 1.00075 * 10_000 / (1.25 + 0.5)
    assert acc.maintenance_margin == pytest.approx(0.00625 + 10_000 * 0.00075 / bp, rel=1e-12)
    lp = 10_000 / (1.25 + 0.5 - 0.00625 - 10_000 * 0.00075 / bp)
    assert round(lp, 2) == 5_739.08
    assert acc.positions[0].liquidation_price == pytest.approx(lp, rel=1e-10)
    assert bybit.classic_cross_inverse_liquidation(8_000, 10_000, 0.5, 0.005, 0.00075) == pytest.approx(lp, rel=1e-14)


def test_short_and_other_versions():
    """A short's fee is at its bankruptcy price above the mark, (1 − fee)·Q/(Q/EP − B), when B <
    Q/EP; the UTA versions charge no fee in this MM (unchanged)."""
    acc = _cross("classic", -20_000.0)         # Q/EP = 2.5 > B = 0.5: BP = 0.99925·20,000/2
    bp = 0.99925 * 20_000 / 2.0
    assert acc.maintenance_margin == pytest.approx(2.5 * 0.005 + 20_000 * 0.00075 / bp, rel=1e-12)
    assert acc.positions[0].liquidation_price == pytest.approx(
        bybit.classic_cross_inverse_liquidation(8_000, -20_000, 0.5, 0.005, 0.00075), rel=1e-10)
    assert _cross("uta-2024", 10_000.0).maintenance_margin == pytest.approx(0.00625, rel=1e-12)
