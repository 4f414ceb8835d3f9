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
    k0 = screen_nb(marks0, st.ref, st.slack, st.grad, st.scan)
    assert k0 == len(st.wallet)                        # nothing known yet: everything checked
    st.orders(marks0, "numba")                         # records slack at marks0
    for _ in range(5):
        marks = marks0 * (1 + rng.uniform(-0.1, 0.1, 2))
        k = screen_nb(marks, st.ref, st.slack, st.grad, st.scan)
        np.testing.assert_array_equal(st.scan[:k], screen_np(marks, st.ref, st.slack, st.grad))
        _, _, touched = liquidation_orders_np(marks, _AssetView(st.u, st.asset), st.size, st.wallet,
                                              st.cooldown, st.rules)
        assert set(touched) <= set(st.scan[:k])       # the bound is conservative
