"""KuCoin version ``2023``: MM on the entry value at the rate of the risk-limit level containing
it, on the *whole* value (no deduction, unlike Bybit's and Phemex's tiers).

Sources: the help centre's ``MM = HP·Vol·S·MMRate`` ("How to Calculate the Liquidation Price for
KuCoin Contracts") and "How to Calculate Futures Liquidation Price" (300,000 USDT is level 1 at
0.4% → 1,200 USDT); the recorded response of ``GET /api/v1/contracts/risk-limit/ADAUSDTM`` in
KuCoin's API docs, which publishes each level as a rate only: level 1 ``minRiskLimit`` 0,
``maxRiskLimit`` 500 (upper limit included), ``maintainMargin`` 0.025, max leverage 20; level 2
500–1,000, 0.25, 2x. The level-2 numbers below are computed by hand from that response with the
help centre's formula.
"""
import pytest

from tests.builders import portfolio
from liqrisk.margin import kucoin
from liqrisk.margin.account import analyze_margin

pytestmark = pytest.mark.numerics
# the engine's boundary search stops at 1e-12 relative; the hand numbers are exact in decimals
REL = 1e-10

# the recorded ADAUSDTM levels as published (level 2's minRiskLimit 500); the KuCoin rule set
# includes each maxRiskLimit in its level (tier_cap_inclusive), so 500 USDT is level 1
ADAUSDTM = [{"notional_floor": 0, "notional_cap": 500, "maint_margin_ratio": 0.025, "max_leverage": 20},
            {"notional_floor": 500, "notional_cap": 1_000,
             "maint_margin_ratio": 0.25, "max_leverage": 2}]


def _isolated(symbol, size, entry, margin, lev, brackets=None):
    spec = {"name": "kucoin", "version": "2023", **({"brackets": brackets} if brackets else {})}
    und = "ADA" if symbol.startswith("ADA") else "BTC"
    pf = portfolio([{"id": "k", "venue": spec, "mode": "isolated",
                     "positions": [{"symbol": symbol, "kind": "perp", "size": size, "entry": entry,
                                    "margin": margin, "leverage": lev}]}],
                   market={und: {"mark": entry, "vol": 0.9}})
    return analyze_margin(pf)[0].positions[0]


@pytest.mark.parametrize("size,lp", [(800.0, 0.75), (-800.0, 1.25)])
def test_level_2_charges_its_rate_on_the_whole_position_value(size, lp):
    """800 ADA at 1 USDT, 2x: value 800 is level 2, MM = 800·25% = 200 USDT (a deduction form
    would give 800·25% − 500·(25% − 2.5%) = 87.5); IM 400, LP = 1 ∓ (400 − 200)/800."""
    pos = _isolated("ADAUSDTM", size, 1.0, 400.0, 2, {"ADAUSDTM": ADAUSDTM})
    assert pos.maintenance_margin == pytest.approx(200.0, rel=1e-12)
    assert pos.liquidation_price == pytest.approx(lp, rel=REL)
    assert kucoin.isolated_2023_liquidation_price(1.0, size, 2, 0.25) == pytest.approx(lp, rel=1e-14)


@pytest.mark.parametrize("value,mm", [(400.0, 10.0), (500.0, 12.5)])
def test_level_1_up_to_its_included_upper_limit(value, mm):
    """400 and exactly 500 USDT (maxRiskLimit, included) are level 1: MM = value·2.5%."""
    pos = _isolated("ADAUSDTM", value, 1.0, value / 20, 20, {"ADAUSDTM": ADAUSDTM})
    assert pos.maintenance_margin == pytest.approx(mm, rel=1e-12)


# the help centre's level 1 as it states it: 300,000 USDT is in level 1, at 0.4% (the bundled
# XBTUSDTM levels, recorded from KuCoin's API specification, end level 1 at 100,000 USDT: the
# levels have moved between versions, tests/margin/test_recorded_tiers.py)
HELP_CENTRE_LEVEL_1 = [{"notional_floor": 0, "notional_cap": 300_000, "maint_margin_ratio": 0.004,
                        "max_leverage": 125}]


def test_published_300000_usdt_level_1_position_holds_1200_usdt():
    """10,000 contracts × 0.001 BTC at 30,000 = 300,000 USDT, level 1 at 0.4% → MM 1,200 USDT."""
    pos = _isolated("XBTUSDTM", 10.0, 30_000.0, 300_000 / 20, 20, {"XBTUSDTM": HELP_CENTRE_LEVEL_1})
    assert pos.maintenance_margin == pytest.approx(1_200.0, rel=1e-12)
