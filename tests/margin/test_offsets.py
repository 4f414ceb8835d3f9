"""Charges on matched offsets (OKX MR9; Bybit's vega-spread, delta-spread and USDT-USDC-spread
contingencies): OKX's published MR9 tier example, each charge against its published structure
(charge on the matched amount × factor × index, exact along the price axis), and properties of
the matching."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tests.builders import portfolio
from liqrisk.margin.account import CompiledPortfolio, analyze_margin
from liqrisk.margin.kernel import pools_states_nb
from liqrisk.margin.offsets import calendar_pairs, rates, stable_pairs
from liqrisk.margin.scenario import multiplied

MARK = 91_250.0
DEC, MAR = "2026-12-25T08:00:00Z", "2027-03-26T08:00:00Z"


def test_okx_mr9_published_example_is_the_marginal_tier_sum():
    # OKX (portfolio-margin rules of 2024-12-30): MR9 = 1M × 0.75% + 4M × 1.75% + 5M × 2.5% = 202,500 USD
    assert multiplied(10e6, [(0, 0.0075), (1e6, 0.0175), (5e6, 0.025)]) == pytest.approx(202_500, rel=1e-15)
    assert multiplied(0.5e6, [(0, 0.005), (1e6, 0.01)]) == pytest.approx(2_500, rel=1e-15)


def _account(venue, positions, pm=None):
    v = {"name": venue, "portfolio_margin": pm} if pm else venue
    return portfolio([{"id": "a", "venue": v, "mode": "portfolio", "collateral": {"USDT": 1e6},
                       "positions": positions}], market={"BTC": {"mark": MARK, "vol": 0.5}})


def _perp(symbol, size, **k):
    return {"symbol": symbol, "underlying": "BTC", "kind": "perp", "size": size, "entry": MARK, **k}


def _mm_along(pf, prices):
    cp = CompiledPortfolio(pf)
    grid = np.repeat(cp.market.prices[None, :], len(prices), axis=0)
    grid[:, 0] = prices
    return pools_states_nb(np.array(cp.plans[0].pools), grid, 0.0, cp.arrays.args())[1].sum(axis=1)


def _extra(venue, positions, key, factor, prices=(MARK, 0.8 * MARK, 1.3 * MARK)):
    """MM with the factor minus MM without it, along the price axis."""
    prices = np.array(prices)
    return _mm_along(_account(venue, positions, {key: factor}), prices) - \
        _mm_along(_account(venue, positions, {key: 0.0}), prices), prices


def test_okx_mr9_on_a_usdt_usdc_hedge_is_added_to_the_unit_at_the_first_tier_rate():
    # long 1 BTC USDT swap, short 1 BTC USDC swap: no MR1/MR6 loss; MR4 = 0.2% of each notional;
    # MR9 = 1% (the tier set here) of the 1-BTC hedge: unit = max(MR4 + MR9, MR7 = 0.45% of both)
    pos = [_perp("BTC-USDT-SWAP", 1.0), _perp("BTC-USDC-SWAP", -1.0)]
    res = analyze_margin(_account("okx", pos, {"mr9_tiers": [[0, 0.01]]}))[0]
    assert res.maintenance_margin == pytest.approx((2 * 0.002 + 0.01) * MARK, rel=1e-12)
    assert any("MR9 on the USDT-USDC hedge (1 BTC)" in n for n in res.portfolio_margin["notes"])


def test_bybit_vega_spread_is_days_between_expiries_times_hedged_contracts_times_factor_times_index():
    # Bybit: Days Difference × Vega Hedge Qty × 0.03% (BTC) × Index Price; long 2 Dec calls
    # against short 3 Mar puts: 2 contracts hedged over the 91 days between the expiries
    opt = lambda exp, k, kind, q: {"underlying": "BTC", "kind": "option", "expiry": exp, "strike": k,  # noqa: E731
                                   "type": kind, "size": q, "entry": 0.02}
    extra, prices = _extra("bybit-linear", [opt(DEC, 100_000, "call", 2.0), opt(MAR, 80_000, "put", -3.0)],
                           "vega_spread_factor", 0.0003)
    np.testing.assert_allclose(extra, 91 * 2 * 0.0003 * prices, rtol=1e-12)


def test_bybit_delta_spread_is_years_between_expiries_times_hedged_delta_times_factor_times_index():
    fut = lambda exp, q: {"symbol": "BTCUSDT", "underlying": "BTC", "kind": "future", "expiry": exp,  # noqa: E731
                          "size": q, "entry": MARK}
    extra, prices = _extra("bybit-linear", [fut(DEC, 1.5), fut(MAR, -1.0)], "delta_spread_factor", 0.075)
    np.testing.assert_allclose(extra, 91 / 365 * 1.0 * 0.075 * prices, rtol=1e-12)


@pytest.mark.parametrize("tiers", [[], [[1000, 0.01]], [[0, 0.01], [0, 0.02]], [[0, "x"]], "0.5%", [[0, 2.0]]])
def test_okx_bad_tier_tables_exit_2_naming_the_field(tiers):
    from liqrisk.io.portfolio import InputError
    with pytest.raises(InputError, match="field 'venue.portfolio_margin.mr9_tiers'"):
        _account("okx", [_perp("BTC-USDT-SWAP", 1.0)], {"mr9_tiers": tiers})


def test_bybit_usdt_usdc_spread_is_the_hedged_delta_times_factor_times_index():
    extra, prices = _extra("bybit-linear", [_perp("BTCUSDT", 1.0), _perp("BTCPERP", -0.6)],
                           "usdt_usdc_spread_factor", 0.005)
    np.testing.assert_allclose(extra, 0.6 * 0.005 * prices, rtol=1e-12)
    one_side, _ = _extra("bybit-linear", [_perp("BTCUSDT", 1.0), _perp("BTCPERP", 0.6)],
                         "usdt_usdc_spread_factor", 0.005)
    np.testing.assert_allclose(one_side, 0.0, atol=1e-9)     # nothing hedged: no charge


amounts = st.lists(st.tuples(st.integers(0, 4), st.floats(-10, 10, allow_nan=False)), min_size=1, max_size=8)
COINS = ("USDT", "USDC", "USD")


def _used_within_nets(legs, matches):
    net, used = {}, {}
    for g, x, _ in legs:
        net[g] = net.get(g, 0.0) + x
    for m in matches:
        assert m[2] > 0 and net[m[0]] * net[m[1]] < 0              # only opposite nets are matched
        for g in m[:2]:
            used[g] = used.get(g, 0.0) + m[2]
    assert all(u <= abs(net[g]) * (1 + 1e-12) for g, u in used.items())


@settings(max_examples=300, deadline=None)
@given(legs=amounts)
def test_matching_never_exceeds_a_groups_net_and_rates_carry_exactly_each_charge(legs):
    cal = [(g, x, k) for k, (g, x) in enumerate(legs)]
    matches = calendar_pairs(cal, lambda a, b: abs(a - b))
    _used_within_nets(cal, matches)
    coins = [(COINS[g % 3], x, k) for k, (g, x) in enumerate(legs)]
    _used_within_nets(coins, stable_pairs(coins, [("USDT", "USD"), ("USDT", "USDC"), ("USDC", "USD")]))
    r = rates(cal, matches, lambda m: m[2] * m[3])
    size = {k: abs(x) for _, x, k in cal}
    # Σ rate·size over both sides = the charge: half on each side
    assert sum(r[k] * size[k] for k in r) == pytest.approx(sum(m[2] * m[3] for m in matches), rel=1e-9, abs=1e-12)
