"""``CompiledPortfolio.with_market`` re-values the compiled book in another market exactly as
compiling the file afresh in that market does — scenario (portfolio) margin pools included, whose
shocked vols and roll rates follow the vol and the time to expiry."""
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from liqrisk.advise.changes import shifted_quote
from liqrisk.advise.stress import PRICE_MOVES, stress_grid
from liqrisk.advise.whatif import what_if
from liqrisk.load import load_portfolio
from liqrisk.margin.account import CompiledPortfolio
from tests.cascade.cases import every_venue_portfolio

ROOT = Path(__file__).resolve().parents[2]
PM_DESK = ROOT / "examples/deribit_portfolio_margin.yaml"


def _shifted(market, name, shift, days=0.0):
    return replace(market, as_of=market.as_of + timedelta(days=days),
                   quotes={**market.quotes, name: shifted_quote(market.quotes[name], shift, name)})


def _same(got, want):
    for g, w in zip(got, want):
        assert g.maintenance_margin == pytest.approx(w.maintenance_margin, rel=1e-12, abs=1e-15), g.id
        assert g.equity == pytest.approx(w.equity, rel=1e-12, abs=1e-15), g.id
        for und, sides in w.liquidation.items():
            for side, x in sides.items():
                y = g.liquidation[und][side]
                assert (x is None and y is None) or y == pytest.approx(x, rel=1e-9), (g.id, und, side)


@pytest.mark.parametrize("shift,days", [(0.15, 0.0), (-0.1, 0.0), (0.0, 20.0)])
def test_with_market_equals_compiling_in_that_market_for_portfolio_margin(shift, days):
    for pf in (load_portfolio(str(PM_DESK)), every_venue_portfolio()):
        market = _shifted(pf.market, "BTC", shift, days)
        before = CompiledPortfolio(pf)
        _same(before.with_market(market).margin_results(), CompiledPortfolio(pf.with_market(market)).margin_results())
    assert any(r.mode == "portfolio" for r in before.margin_results())


def test_the_stress_grid_vol_column_of_a_pm_desk_is_what_if_with_that_vol():
    grid = stress_grid(CompiledPortfolio(load_portfolio(str(PM_DESK)))).to_dict()["underlyings"]["BTC"]
    v = next(k for k, s in enumerate(grid["vol_shifts"]) if s > 0)
    want = what_if(str(PM_DESK), vol=[f"BTC={grid['vol_shifts'][v]:+g}"], exit=False).after.account("pm-desk")
    k = PRICE_MOVES.index(0.0)
    assert grid["accounts"]["pm-desk"]["ratio"][v][k] == pytest.approx(want.margin_ratio, rel=1e-9)
