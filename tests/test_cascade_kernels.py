"""The numba account check agrees with its NumPy reference (orders, outcomes, screening)."""
import numpy as np
import pytest

from liqrisk.cascade.engine import _AssetView, _State
from liqrisk.cascade.kernels import liquidation_orders_nb, liquidation_orders_np, screen_nb, screen_np
from liqrisk.cascade.scenario import gap_path, Scenario
from liqrisk.cascade.impact import CascadeImpact
from liqrisk.cascade.synthetic import SyntheticSpec, synthetic_population


def _state(seed):
    pop = synthetic_population(SyntheticSpec(
        n_accounts=4000, seed=seed, venue_shares={"binance-usdm": 0.4, "hyperliquid": 0.4, "okx": 0.2},
        reference_accounts=4000, open_interest_usd={"BTC": 4e8, "ETH": 2e8}))
    sc = Scenario("k", ("BTC", "ETH"), np.array([91250.0, 3050.0]), gap_path(np.zeros(2), 1),
                  CascadeImpact((None, None)))
    return _State(pop, sc)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_numba_orders_equal_numpy_reference_over_mixed_venues(seed):
    st = _state(seed)
    rng = np.random.default_rng(seed)
    u, r = st.u, st.rules
    st.cooldown[:] = rng.random(len(st.wallet)) < 0.3
    for move in (-0.02, -0.06, -0.12, 0.08):
        marks = np.array([91250.0, 3050.0]) * (1 + move * np.array([1.0, rng.uniform(0.5, 1.2)]))
        dq = np.zeros(len(st.size))
        outcome = np.zeros(len(st.wallet), np.int8)
        touched = np.zeros(len(st.wallet), np.int64)
        n = liquidation_orders_nb(np.arange(len(st.wallet)), marks, u.ptr, st.wallet, u.venue, st.cooldown,
                                  st.asset, st.size, u.entry, u.tier, u.tier_ptr, u.t_floor, u.t_mmr, u.t_cum,
                                  r["style"], r["fee"], r["min_tier"], r["threshold"], r["fraction"],
                                  r["backstop"], st.ref, st.slack, dq, outcome, touched)
        dq_np, out_np, touched_np = liquidation_orders_np(marks, _AssetView(u, st.asset), st.size, st.wallet,
                                                          st.cooldown, r)
        assert n > 0
        np.testing.assert_array_equal(touched[:n], touched_np)
        np.testing.assert_array_equal(outcome, out_np)
        np.testing.assert_allclose(dq, dq_np, rtol=1e-12, atol=0)
        assert (outcome == 1).any() and (outcome == 2).any()   # both partial and full paths exercised


def test_screen_numba_equals_numpy_and_never_skips_a_falling_unit():
    st = _state(4)
    rng = np.random.default_rng(0)
    marks0 = np.array([91250.0, 3050.0])
    k0 = screen_nb(marks0, st.ref, st.slack, st.grad, st.always, st.scan)
    assert k0 == len(st.wallet)                        # nothing known yet: everything checked
    st.orders(marks0, "numba")                         # records slack at marks0
    for _ in range(5):
        marks = marks0 * (1 + rng.uniform(-0.1, 0.1, 2))
        k = screen_nb(marks, st.ref, st.slack, st.grad, st.always, st.scan)
        np.testing.assert_array_equal(st.scan[:k], screen_np(marks, st.ref, st.slack, st.grad, st.always))
        _, _, touched = liquidation_orders_np(marks, _AssetView(st.u, st.asset), st.size, st.wallet,
                                              st.cooldown, st.rules)
        assert set(touched) <= set(st.scan[:k])       # the bound is conservative


def test_screen_whole_position_tier_units_are_never_hidden_by_an_unmoved_mark():
    # grad = inf on an asset whose mark did not move used to give inf·0 = NaN and `slack <= NaN`
    # False: the unit was never re-checked, even when invalidated (slack = −inf).
    marks = np.array([90000.0, 3000.0])
    ref = np.array([[91000.0, 3000.0], [91000.0, 3000.0], [90000.0, 3000.0], [91000.0, 3000.0]])
    grad = np.array([[np.inf, np.inf], [np.inf, np.inf], [2.0, 1.0], [2.0, 1.0]])
    slack = np.array([5e3, -np.inf, 10.0, np.nan])
    always = np.array([False, False, False, False])
    out = np.empty(4, np.int64)
    k = screen_nb(marks, ref, slack, grad, always, out)
    np.testing.assert_array_equal(out[:k], [0, 1, 3])     # moved inf-grad, invalidated, NaN slack
    np.testing.assert_array_equal(out[:k], screen_np(marks, ref, slack, grad, always))
    ref[:] = marks                                          # nothing moved at all
    k = screen_nb(marks, ref, slack, grad, always, out)
    np.testing.assert_array_equal(out[:k], [1, 3])
    always[0] = True                                        # the always-check flag wins
    k = screen_nb(marks, ref, slack, grad, always, out)
    np.testing.assert_array_equal(out[:k], [0, 1, 3])
    np.testing.assert_array_equal(out[:k], screen_np(marks, ref, slack, grad, always))


def test_okx_units_are_flagged_always_checked_and_others_are_not():
    st = _state(5)
    okx = np.asarray(st.u.venue) == st.venues.index("okx")
    assert okx.any() and st.always[okx].all() and not st.always[~okx].any()
    assert np.isfinite(st.grad[~okx]).all()
