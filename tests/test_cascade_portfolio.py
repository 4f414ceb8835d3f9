"""The cascade reads the portfolio input file: linear perps of simulated venues become the
population, everything else is listed as skipped; isolated positions of cross accounts become
their own isolated units."""
import numpy as np

from conftest import portfolio
from liqrisk.cascade.portfolio import population_from_portfolio, population_rows
from liqrisk.cascade.population import load_population


def test_portfolio_accounts_map_to_cascade_rows_with_coin_collateral_valued_after_haircut():
    pf = portfolio([
        {"id": "a", "venue": "binance-usdm", "collateral": {"USDT": 1000, "BTC": {"amount": 0.1, "haircut": 0.1}},
         "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 0.5, "entry": 90000},
                       {"symbol": "ETHUSDT", "kind": "perp", "size": -2, "entry": 3000, "margin": 300}]},
        {"id": "d", "venue": "deribit", "collateral": {"BTC": 1},
         "positions": [{"kind": "future", "underlying": "BTC", "expiry": "2026-12-25T08:00:00Z",
                        "size": 10000, "entry": 90000}]}])
    rows, skipped = population_rows(pf)
    assert len(rows) == 2 and len(skipped) == 1 and "'d'" in skipped[0]
    cross, iso = rows
    assert cross["collateral_usd"] == 1000 + 0.1 * 0.9 * 91250 and cross["mode"] == "cross"
    assert iso["account_id"] == "a#iso2" and iso["mode"] == "isolated" and iso["isolated_margin"] == 300
    pop, _ = population_from_portfolio(pf)
    assert np.allclose(np.sort(pop.size), [-2, 0.5])


def test_load_population_accepts_the_example_portfolio_file():
    pop = load_population("examples/multi_venue.yaml")
    assert len(pop.size) == 9   # binance-main 3, binance-hedge 2, okx 2, hyperliquid 2
