"""Which tier a notional exactly at a tier bound is in, per venue (``RuleSet.tier_cap_inclusive``,
docs/venues.md §0 "Tier bounds"): at the bound and one unit either side.

Sources (the published tiers and each venue's statement of which side holds the bound):

* KuCoin — API docs, ``GET /api/v1/contracts/risk-limit/ADAUSDTM`` (kucoin.com/docs/rest/
  futures-trading/risk-limit/get-futures-risk-limit-level): level 1 ``minRiskLimit`` 0,
  ``maxRiskLimit`` 500 "Upper limit (includes)", ``maintainMargin`` 2.5%, 20x; level 2 500–1,000
  at 25%, 2x. Version 2023 charges ``value × MMR`` of the level (no deduction).
* Gate — help centre "Risk Limit" (gate.com/help/futures/futures-logic/22162): BTCUSDT tier 1 risk
  limit 20,000 at 0.40%, tier 2 50,000 at 0.45%; "the user's position value cannot exceed the
  maximum limit of the chosen tier". Version 2025-07 tiered (deduction form), 2023 whole-position;
  both + the 0.075% taker fee.
* OKX — position tiers end at an included ``maxSz`` (tier 1 0–2,000, tier 2 from 2,001 contracts;
  tested in contracts in test_venues.py); here the same convention on a table in USD.
* Bybit — "the risk limit will limit the maximum position value you can hold"
  (bybit-exchange.github.io/doc-v3-offline/derivatives/unified/risk-limit); BTCUSDT level 1 holds
  up to 2,000,000 USDT at MMR 0.5% (100x), the next level 1% (Bybit's 2022 risk-limit adjustment).
* Hyperliquid — docs "Margin tiers" (hyperliquid.gitbook.io/hyperliquid-docs/trading/margin-tiers):
  BTC "0-150M: 40x, >150M: 20x".

Deduction-form tiers (Bybit, Hyperliquid, Gate 2025-07) make MM continuous at a bound, so there the tier shows
in its rate and maximum leverage; whole-position tiers (KuCoin, Gate 2023, OKX) jump in MM.
"""
import pytest

from tests.builders import portfolio
from liqrisk.margin.account import analyze_margin
from liqrisk.margin.registry import rule_set_for

pytestmark = pytest.mark.numerics


def _isolated(venue, symbol, value, leverage, und, brackets, **venue_kw):
    """One isolated long of notional ``value`` at entry = mark = 1 (size = value)."""
    spec = {"name": venue, "brackets": {symbol: brackets}, **venue_kw}
    pf = portfolio([{"id": "a", "venue": spec, "mode": "isolated",
                     "positions": [{"symbol": symbol, "kind": "perp", "size": value, "entry": 1.0,
                                    "margin": value / leverage, "leverage": leverage}]}],
                   market={und: {"mark": 1.0, "vol": 0.5}})
    return analyze_margin(pf)[0].positions[0]


ADAUSDTM = [{"notional_floor": 0, "notional_cap": 500, "maint_margin_ratio": 0.025, "max_leverage": 20},
            {"notional_floor": 500, "notional_cap": 1_000, "maint_margin_ratio": 0.25, "max_leverage": 2}]


@pytest.mark.parametrize("value, mmr", [(499.0, 0.025), (500.0, 0.025), (501.0, 0.25)])
def test_kucoin_level_includes_its_max_risk_limit(value, mmr):
    """Exactly 500 USDT is level 1 (2.5%); 501 is level 2 (25%): MM = value × MMR."""
    pos = _isolated("kucoin", "ADAUSDTM", value, 2, "ADA", ADAUSDTM, version="2023")
    assert pos.maintenance_margin == pytest.approx(value * mmr, rel=1e-12)


GATE_BTCUSDT = [{"notional_floor": 0, "notional_cap": 20_000, "maint_margin_ratio": 0.004, "max_leverage": 125},
                {"notional_floor": 20_000, "notional_cap": 50_000, "maint_margin_ratio": 0.0045,
                 "max_leverage": 111}]


@pytest.mark.parametrize("value, mmr", [(19_999.0, 0.004), (20_000.0, 0.004), (20_001.0, 0.0045)])
def test_gate_2023_tier_includes_its_risk_limit(value, mmr):
    """Version 2023: a position value of exactly 20,000 USDT is tier 1: MM = value × (MMR + 0.075%
    taker) on the whole value."""
    pos = _isolated("gate", "BTC_USDT", value, 50, "BTC", GATE_BTCUSDT, version="2023")
    assert pos.maintenance_margin == pytest.approx(value * (mmr + 0.00075), rel=1e-12)


@pytest.mark.parametrize("value, mmr, deduction", [(19_999.0, 0.004, 0.0), (20_000.0, 0.004, 0.0),
                                                   (20_001.0, 0.0045, 10.0)])
def test_gate_2025_07_tier_includes_its_risk_limit(value, mmr, deduction):
    """Version 2025-07 (tiered): MM = value × (MMR_k + taker) − deduction_k, deduction 20,000 ×
    (0.45% − 0.40%) = 10 in tier 2. Continuous at 20,000, so the tier shows one unit above (the
    tier-2 form there exceeds tier 1's by 1 × 0.05%) and in the rate and maximum leverage below."""
    pos = _isolated("gate", "BTC_USDT", value, 50, "BTC", GATE_BTCUSDT)
    assert pos.maintenance_margin == pytest.approx(value * (mmr + 0.00075) - deduction, rel=1e-12)


OKX_USD = [{"notional_floor": 0, "notional_cap": 500_000, "maint_margin_ratio": 0.004},
           {"notional_floor": 500_000, "notional_cap": 2_000_000, "maint_margin_ratio": 0.006}]


@pytest.mark.parametrize("value, mmr", [(499_999.0, 0.004), (500_000.0, 0.004), (500_001.0, 0.006)])
def test_okx_tier_in_usd_includes_its_cap(value, mmr):
    """OKX's maxSz is in its tier; a USD table (read at the size valued at entry) follows it."""
    pos = _isolated("okx", "BTC-USDT-SWAP", value, 10, "BTC", OKX_USD)
    assert pos.maintenance_margin == pytest.approx(value * (mmr + 0.0005), rel=1e-12)


@pytest.mark.parametrize("venue, rows, bound, below, above", [
    # (floor, cap, MMR, max leverage) rows as the rule set reads its bundled tables
    ("bybit-linear", [(0, 2_000_000, 0.005, 100), (2_000_000, 4_000_000, 0.01, 57.14)],
     2_000_000, (0.005, 100), (0.01, 57.14)),
    ("gate", [(0, 20_000, 0.004, 125), (20_000, 50_000, 0.0045, 111)], 20_000, (0.004, 125), (0.0045, 111)),
    ("hyperliquid", [(0, 150_000_000, 40), (150_000_000, 1e15, 20)],
     150_000_000, (1 / 80, 40), (1 / 40, 20)),
])
def test_deduction_tiers_include_their_cap(venue, rows, bound, below, above):
    """At the bound and one unit below: the lower tier's rate and maximum leverage; one unit
    above: the next tier's (MM itself is continuous there)."""
    table = rule_set_for(venue).rows_to_table(rows)
    for n, (mmr, lev) in ((bound - 1, below), (bound, below), (bound + 1, above)):
        assert float(table.rate_and_cum(n)[0]) == pytest.approx(mmr, rel=1e-12)
        assert float(table.max_leverage_at(n)) == lev


def test_user_brackets_follow_the_venue_convention():
    """Brackets given in the input file are read with the venue's convention too: the same
    rows put exactly 500 in the lower tier on KuCoin and in the upper one on Bitget (whose
    text does not say; the default [floor, cap))."""
    from liqrisk.io.portfolio import VenueSpec
    for name, expected in (("kucoin", 0.025), ("bitget", 0.25)):
        rules = rule_set_for(VenueSpec(name=name, brackets={"X": ADAUSDTM}))
        assert float(rules.params.brackets["X"].rate_and_cum(500.0)[0]) == expected
