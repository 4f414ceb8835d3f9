"""Population inputs on the compiled book: the Hyperliquid docs example, the position table,
the Binance closed form, synthetic populations, the liquidation map from the engine's boundaries."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from liqrisk.cascade import PopulationError, from_frame, load_population
from liqrisk.cascade.liqmap import boundaries, liquidation_maps
from liqrisk.cascade.synthetic import SyntheticSpec, synthetic_population
from liqrisk.margin.binance import usdm_brackets, usdm_liquidation_price
from liqrisk.margin.kernel import pools_states_nb

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "populations"


def test_hyperliquid_docs_example_boundary_matches_its_liquidation_px_2866_27():
    # Hyperliquid API docs' clearinghouseState example: isolated ETH long 0.0335 @ 2986.3,
    # maxLeverage 50 (MMR 1%), rawUsd −95.059824 → liquidationPx 2866.26936529.
    path = EXAMPLES / "hyperliquid_clearinghouse_docs_example.json"
    state = json.loads(path.read_text())
    pos = state["assetPositions"][0]["position"]
    pop = load_population(path)
    mark = float(pos["positionValue"]) / float(pos["szi"])
    _, _, _, down, up = boundaries(pop, np.array([mark]))
    assert down[0] == pytest.approx(float(pos["liquidationPx"]), rel=1e-8) and np.isnan(up[0])


def test_engine_boundaries_equal_the_binance_closed_form_on_a_synthetic_book():
    pop = synthetic_population(SyntheticSpec(n_accounts=1500, seed=3, reference_accounts=1500,
                                             open_interest_usd={"BTC": 1e8, "ETH": 5e7}))
    marks = np.array([91250.0, 3050.0])
    pair_of, pools, axes, down, up = boundaries(pop, marks)
    tables = [usdm_brackets()["BTCUSDT"], usdm_brackets()["ETHUSDT"]]
    a, pool = pop.arrays, pop.pos_pool()
    checked = 0
    for j in range(0, pop.n_positions, 7):
        p, ax = pool[j], a.axis[j]
        if a.pos_end[p] - a.pos_start[p] > 1 and np.sign(a.qty[a.pos_start[p]]) != np.sign(a.qty[a.pos_end[p] - 1]):
            continue                        # long BTC + short ETH: the pool's boundary is not one position's LP
        others = [o for o in range(a.pos_start[p], a.pos_end[p]) if o != j]
        tmm = sum(float(tables[a.axis[o]].maintenance_margin(abs(a.qty[o]) * marks[a.axis[o]])) for o in others)
        upnl = sum(a.qty[o] * (marks[a.axis[o]] - a.entry[o]) for o in others)
        ref = usdm_liquidation_price(a.const_usd[p], tmm, upnl, both=(a.qty[j], a.entry[j]), table=tables[ax],
                                     mark=marks[ax])
        got = down[pair_of[j]] if a.qty[j] > 0 else up[pair_of[j]]
        if ref is None:
            assert np.isnan(got)
        else:
            assert got == pytest.approx(ref, rel=1e-9)
            checked += 1
    assert checked > 100


def test_liquidation_map_puts_long_notional_below_and_short_above_the_mark():
    pop = synthetic_population(SyntheticSpec(n_accounts=2000, seed=1, reference_accounts=2000))
    m = liquidation_maps(pop, np.array([91250.0, 3050.0]), n_bins=40, span=0.5)[0]
    assert m.asset == "BTC"
    below = m.edges[1:] <= 91250.0
    assert m.long[below].sum() > 0 and m.long[~below].sum() == 0
    assert m.short[~below].sum() > 0 and m.short[below].sum() == 0


def test_csv_example_loads_cross_and_isolated_pools():
    pop = load_population(EXAMPLES / "small_book.csv")
    assert pop.n_accounts == 4 and pop.n_positions == 6
    assert pop.n_pools == 5                        # alice, carol cross; bob 2 + dave 1 isolated
    assert sorted(pop.arrays.const_usd.tolist()) == [4000.0, 6000.0, 9000.0, 25000.0, 40000.0]


@pytest.mark.parametrize("change,field", [
    ({"size": 0.0}, "size"), ({"entry": -1.0}, "entry"), ({"venue": "ftx"}, "venue"),
    ({"venue": "deribit"}, "venue"), ({"mode": "portfolio"}, "mode"),
    ({"isolated_margin": 0.0, "mode": "isolated"}, "isolated_margin"), ({"size": "abc"}, "size"),
    ({"asset": "NOPE"}, "asset")])
def test_bad_rows_name_the_field(change, field):
    row = {"account_id": "x", "venue": "binance-usdm", "mode": "cross", "collateral_usd": 100.0, "asset": "BTC",
           "size": 1.0, "entry": 90000.0, "isolated_margin": 0.0}
    with pytest.raises(PopulationError) as e:
        from_frame(pd.DataFrame([{**row, **change}]))
    assert e.value.field == field


@pytest.mark.parametrize("second", [{}, {"size": -1.0}, {"asset": "btc", "size": 2.0}])
def test_a_second_row_of_one_account_and_asset_is_refused(second):
    """Two rows of one account on one asset would be two legs margined gross (each on its own
    tier) where a one-way account holds one netted position — the portfolio loader refuses the same
    (found by the cascade fuzz campaign: a duplicated CSV row doubled the liquidated notional)."""
    row = {"account_id": "x", "venue": "binance-usdm", "mode": "cross", "collateral_usd": 100.0, "asset": "BTC",
           "size": 1.0, "entry": 90000.0, "isolated_margin": 0.0}
    other = {**row, "account_id": "y"}
    with pytest.raises(PopulationError, match=r"row 2: account 'x' already holds BTC on row 0; one row per account"):
        from_frame(pd.DataFrame([row, other, {**row, **second}]))
    assert from_frame(pd.DataFrame([row, other, {**row, "asset": "ETH", "entry": 3000.0}])).n_positions == 3


def test_every_linear_usd_venue_loads_from_a_table():
    rows = [{"account_id": v, "venue": v, "mode": "cross", "collateral_usd": 1e4, "asset": "BTC", "size": 0.5,
             "entry": 90000.0} for v in ("binance-usdm", "bybit-linear", "okx", "hyperliquid")]
    pop = from_frame(pd.DataFrame(rows))
    assert pop.venues == ("binance-usdm", "bybit-linear", "okx", "hyperliquid")
    assert [r.style for r in pop.responses] == [1, 0, 1, 2]


def test_synthetic_population_is_seeded_and_starts_healthy():
    a = synthetic_population(SyntheticSpec(n_accounts=5000, seed=9))
    b = synthetic_population(SyntheticSpec(n_accounts=5000, seed=9))
    np.testing.assert_array_equal(a.arrays.qty, b.arrays.qty)
    eq, mm = pools_states_nb(np.arange(a.n_pools), np.array([[91250.0, 3050.0]]), 0.0, a.arrays.args())
    assert (eq > mm).all()
    oi = np.abs(a.arrays.qty[a.arrays.axis == 0]).sum() * 91250.0
    assert 0.5 * 5e7 < oi < 1.5 * 5e7               # BTC OI 10bn per 1M accounts, scaled


def test_a_header_only_table_names_the_accounts_not_a_column():
    """Issue 9 (hand probes): a position table with its header and no rows said "account_id: no positions"."""
    df = pd.DataFrame({c: [] for c in ("account_id", "venue", "mode", "collateral_usd", "asset", "size", "entry")})
    with pytest.raises(PopulationError, match=r"^accounts: no positions: the table has a header and no rows$"):
        from_frame(df)
