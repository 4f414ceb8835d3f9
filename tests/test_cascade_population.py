"""Population inputs: the Hyperliquid docs example, the position table, the closed-form LP."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from liqrisk.cascade import PopulationError, from_frame, load_population
from liqrisk.cascade.liqprice import liquidation_map, liquidation_prices
from liqrisk.cascade.synthetic import SyntheticSpec, synthetic_population
from liqrisk.margin.binance import usdm_brackets, usdm_liquidation_price

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "populations"


def test_hyperliquid_docs_example_lp_matches_its_liquidation_px_2866_27():
    # Hyperliquid API docs' clearinghouseState example: isolated ETH long 0.0335 @ 2986.3,
    # maxLeverage 50 (MMR 1%), rawUsd −95.059824 → liquidationPx 2866.26936529.
    path = EXAMPLES / "hyperliquid_clearinghouse_docs_example.json"
    state = json.loads(path.read_text())
    pos = state["assetPositions"][0]["position"]
    pop = load_population(path)
    mark = float(pos["positionValue"]) / float(pos["szi"])
    lp = liquidation_prices(pop, np.array([mark]))
    assert lp[0] == pytest.approx(float(pos["liquidationPx"]), rel=1e-8)


def test_vectorised_lp_equals_binance_closed_form_of_liqrisk_margin():
    pop = synthetic_population(SyntheticSpec(n_accounts=1500, seed=3, reference_accounts=1500,
                                             open_interest_usd={"BTC": 1e8, "ETH": 5e7}))
    marks = np.array([91250.0, 3050.0])
    lp = liquidation_prices(pop, marks)
    tables = [usdm_brackets()["BTCUSDT"], usdm_brackets()["ETHUSDT"]]
    for j in range(0, pop.n_positions, 7):
        acc, a = pop.pos_account[j], pop.pos_asset[j]
        others = np.flatnonzero((pop.pos_account == acc) & (np.arange(pop.n_positions) != j))
        if pop.isolated[acc]:
            wb, tmm, upnl = pop.iso_margin[j], 0.0, 0.0
        else:
            wb = pop.collateral[acc]
            tmm = sum(float(tables[pop.pos_asset[o]].maintenance_margin(abs(pop.size[o]) * marks[pop.pos_asset[o]]))
                      for o in others)
            upnl = sum(pop.size[o] * (marks[pop.pos_asset[o]] - pop.entry[o]) for o in others)
        ref = usdm_liquidation_price(wb, tmm, upnl, both=(pop.size[j], pop.entry[j]), table=tables[a], mark=marks[a])
        if ref is None:
            assert np.isnan(lp[j])
        else:
            assert lp[j] == pytest.approx(ref, rel=1e-9)


def test_liquidation_map_puts_long_notional_below_and_short_above_the_mark():
    pop = synthetic_population(SyntheticSpec(n_accounts=2000, seed=1, reference_accounts=2000))
    m = liquidation_map(pop, np.array([91250.0, 3050.0]), "BTC", n_bins=40, span=0.5)
    below = m.edges[1:] <= 91250.0
    assert m.long[below].sum() > 0 and m.long[~below].sum() == 0
    assert m.short[~below].sum() > 0 and m.short[below].sum() == 0


def test_csv_example_loads_cross_and_isolated_units():
    pop = load_population(EXAMPLES / "small_book.csv")
    units = pop.compile()
    assert pop.n_accounts == 4 and pop.n_positions == 6
    assert units.n_units == 5                      # alice, carol cross; bob 2 + dave 1 isolated
    assert sorted(units.wallet.tolist()) == [4000.0, 6000.0, 9000.0, 25000.0, 40000.0]


@pytest.mark.parametrize("change,field", [
    ({"size": 0.0}, "size"), ({"entry": -1.0}, "entry"), ({"venue": "ftx"}, "venue"),
    ({"mode": "portfolio"}, "mode"), ({"isolated_margin": 0.0, "mode": "isolated"}, "isolated_margin"),
    ({"size": "abc"}, "size")])
def test_bad_rows_name_the_field(change, field):
    row = {"account_id": "x", "venue": "binance-usdm", "mode": "cross", "collateral_usd": 100.0, "asset": "BTC",
           "size": 1.0, "entry": 90000.0, "isolated_margin": 0.0}
    with pytest.raises(PopulationError) as e:
        from_frame(pd.DataFrame([{**row, **change}]))
    assert e.value.field == field


def test_synthetic_population_is_seeded_and_starts_healthy():
    a = synthetic_population(SyntheticSpec(n_accounts=5000, seed=9))
    b = synthetic_population(SyntheticSpec(n_accounts=5000, seed=9))
    np.testing.assert_array_equal(a.size, b.size)
    from liqrisk.cascade.kernels import unit_state_np
    eq, mm, live, *_ = unit_state_np(np.array([91250.0, 3050.0]), a.compile())
    assert (eq[live] > mm[live]).all()
    oi = np.abs(a.size[a.pos_asset == 0]).sum() * 91250.0
    assert 0.5 * 5e7 < oi < 1.5 * 5e7               # BTC OI 10bn per 1M accounts, scaled
