"""Deribit's estimated liquidation price of a recorded account against the engine's.

No recorded ``private/get_positions`` answer in reach holds the account's equity beside its
``estimated_liquidation_price`` (the docs example and the two ccxt threads print positions only,
tests/data/import/README.md), and the price depends on it. The recorded
``private/get_account_summary`` of ccxt pull request 19524 holds both: the equity and
``estimated_liquidation_ratio_map`` — by Deribit's definition the estimated liquidation price of
each future position divided by its market price — with the position's size as its delta.

What the answer omits: the mark, the entry price and the instrument. None matters: with the
equity E fixed at the mark M and the size s = N/M in BTC, ``E + s − s/r = (s/r)·(1% + 0.005%·s/r)``
holds the ratio r = LP/M alone (checked at two marks), and every BTC perpetual or future carries
that maintenance margin. What bounds the agreement: the delta is printed to 9 decimals
(0.001829663 ± 5e-10, 2.7e-7 relative) and r is proportional to s to first order (E ≫ s), the
equity's 8 decimals add 5e-11; float64 adds nothing near that. The price lies 5·10⁴ below the
mark: past the 10⁴ of the boundary search's near grid, inside its far offsets (10⁸, 10¹²,
``kernel.FAR_OFFSETS``), so ``analyze`` reports it; the root of the engine's own equity − MM curve
(brentq) is checked too.
"""
import json
from pathlib import Path

import pytest
from scipy.optimize import brentq

from tests.builders import portfolio
from liqrisk.margin.account import CompiledPortfolio

pytestmark = pytest.mark.numerics
SUMMARY = json.loads((Path(__file__).parents[1] / "data" / "import" / "deribit_ccxt_pr_account_summary.json")
                     .read_text())["info"]
DELTA_ROUNDING = 5e-10 / 0.001829663 + 5e-9 / 98.99618501


@pytest.mark.parametrize("mark", [27_000.0, 90_000.0])
def test_recorded_estimated_liquidation_ratio_is_the_engines_liquidation_price_over_the_mark(mark):
    equity, size = float(SUMMARY["margin_balance"]), float(SUMMARY["delta_total_map"]["btc_usd"])
    assert float(SUMMARY["options_delta"]) == 0 and not SUMMARY["cross_collateral_enabled"]
    pf = portfolio([{"id": "d", "venue": "deribit", "collateral": {"BTC": equity},
                     "positions": [{"symbol": "BTC-PERPETUAL", "kind": "perp", "size": size * mark, "entry": mark}]}],
                   market={"BTC": {"mark": mark, "vol": 0.5}}, as_of="2023-10-11T00:00:00Z")
    cp = CompiledPortfolio(pf)
    result = cp.margin_results()[0]
    assert result.maintenance_margin == pytest.approx(float(SUMMARY["maintenance_margin"]), abs=5e-9)

    def gap(price):
        eq, mm = cp.curve(0, "BTC", [price])
        return float(eq[0] - mm[0])
    lp = brentq(gap, 1e-7 * mark, mark, xtol=1e-300, rtol=1e-15)
    reported = float(SUMMARY["estimated_liquidation_ratio_map"]["btc_usd"])
    assert lp / mark == pytest.approx(reported, rel=DELTA_ROUNDING)
    # what analyze reports: the boundary search's root (1e-12 relative) and the position's price
    assert result.liquidation["BTC"]["down"] == pytest.approx(lp, rel=1e-11)
    assert result.positions[0].liquidation_price / mark == pytest.approx(reported, rel=DELTA_ROUNDING)
