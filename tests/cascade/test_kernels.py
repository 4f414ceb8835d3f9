"""The numba pool check agrees with its NumPy reference (orders, outcomes, screening) on
synthetic populations and on a book of every venue, contract and mode."""
import numpy as np
import pytest

from tests.cascade.cases import every_venue_portfolio
from liqrisk.cascade.engine import _State
from liqrisk.cascade.impact import CascadeImpact
from liqrisk.cascade.kernels import (liquidation_orders_nb, liquidation_orders_np, screen_bounds, screen_nb,
                                     screen_np)
from liqrisk.cascade.portfolio import population_from_portfolio
from liqrisk.cascade.scenario import Scenario, gap_path
from liqrisk.cascade.synthetic import SyntheticSpec, synthetic_population
from liqrisk.margin.base import INVERSE, INVERSE_OPTION


def _state(pop):
    sc = Scenario("k", pop.assets, np.where(np.isfinite(pop.marks), pop.marks, 1.0) if np.isfinite(pop.marks).all()
                  else np.array([91250.0, 3050.0]), gap_path(np.zeros(len(pop.assets)), 1),
                  CascadeImpact(tuple(None for _ in pop.assets)))
    return _State(pop, sc)


def _synthetic(seed):
    return synthetic_population(SyntheticSpec(
        n_accounts=4000, seed=seed, venue_shares={"binance-usdm": 0.4, "hyperliquid": 0.4, "okx": 0.2},
        reference_accounts=4000, open_interest_usd={"BTC": 4e8, "ETH": 2e8}))


def _orders_both(st, bp, t=0.0):
    n_pools = st.pop.n_pools
    dq = np.zeros(st.pop.n_positions)
    outcome = np.zeros(n_pools, np.int8)
    touched = np.zeros(n_pools, np.int64)
    r = st.rules
    n = liquidation_orders_nb(np.arange(n_pools), bp, t, st.args, st.pop.pool_response, r["style"], r["min_tier"],
                              r["threshold"], r["fraction"], r["backstop"], st.cooldown, st.pop.liquidation_fee,
                              st.ref, st.slack, dq, outcome, touched)
    ref = liquidation_orders_np(bp, t, st.a, st.pop.pool_response, r, st.cooldown, st.pop.liquidation_fee)
    return (dq, outcome, touched[:n]), ref


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_numba_orders_equal_numpy_reference_over_mixed_venues(seed):
    st = _state(_synthetic(seed))
    rng = np.random.default_rng(seed)
    st.cooldown[:] = rng.random(st.pop.n_pools) < 0.3
    for move in (-0.02, -0.06, -0.12, 0.08):
        bp = np.array([91250.0, 3050.0]) * (1 + move * np.array([1.0, rng.uniform(0.5, 1.2)]))
        (dq, outcome, touched), (dq_np, out_np, touched_np) = _orders_both(st, bp)
        assert len(touched) > 0
        np.testing.assert_array_equal(touched, touched_np)
        np.testing.assert_array_equal(outcome, out_np)
        np.testing.assert_allclose(dq, dq_np, rtol=1e-12, atol=0)
        assert (outcome == 1).any() and (outcome == 2).any()   # both partial and full paths exercised


def test_numba_orders_equal_numpy_reference_on_every_venue_contract_and_mode():
    st = _state(population_from_portfolio(every_venue_portfolio()))
    marks = st.pop.marks
    seen = set()
    for move in np.linspace(-0.6, 0.8, 561):
        for t in (0.0, 7 / 365):
            bp = marks * np.exp(move * np.array([1.0, 0.9, 1.1]))
            (dq, outcome, touched), (dq_np, out_np, touched_np) = _orders_both(st, bp, t)
            np.testing.assert_array_equal(touched, touched_np)
            np.testing.assert_array_equal(outcome, out_np)
            np.testing.assert_allclose(dq, dq_np, rtol=1e-12, atol=0)
            seen |= set(outcome[touched].tolist())
    assert seen == {1, 2}


def test_screen_numba_equals_numpy_and_never_skips_a_falling_pool():
    for pop in (_synthetic(4), population_from_portfolio(every_venue_portfolio())):
        st = _state(pop)
        rng = np.random.default_rng(0)
        marks0 = st.book(st.p0)
        every, zero = np.arange(pop.n_pools), np.zeros(len(marks0))
        k0 = screen_nb(every, marks0, zero, st.ref, st.slack, st.grad, st.always, st.scan)
        assert k0 == pop.n_pools                             # nothing known yet: everything checked
        st.orders(st.p0, 0.0, "numba")                       # records slack at marks0
        for _ in range(8):
            bp = marks0 * (1 + rng.uniform(-0.15, 0.15, len(marks0)))
            pad = bp * rng.uniform(0.0, 0.02, len(bp))
            k = screen_nb(every, bp, pad, st.ref, st.slack, st.grad, st.always, st.scan)
            np.testing.assert_array_equal(st.scan[:k], screen_np(every, bp, pad, st.ref, st.slack, st.grad,
                                                                 st.always))
            cand = st.scan[:k].copy()
            _, _, touched = liquidation_orders_np(bp, 0.0, st.a, pop.pool_response, st.rules, st.cooldown,
                                                  pop.liquidation_fee)
            assert set(touched) <= set(cand)                 # the bound is conservative
            # within the pad, only the padded screen's candidates can fall
            near = bp + pad * rng.uniform(-1.0, 1.0, len(bp))
            _, _, touched = liquidation_orders_np(near, 0.0, st.a, pop.pool_response, st.rules, st.cooldown,
                                                  pop.liquidation_fee)
            k = screen_nb(cand, near, zero, st.ref, st.slack, st.grad, st.always, st.scan)
            assert set(touched) <= set(st.scan[:k])


def test_screen_inf_grad_pools_are_never_hidden_by_an_unmoved_mark():
    # grad = inf on an asset whose mark did not move used to give inf·0 = NaN and `slack <= NaN`
    # False: the pool was never re-checked, even when invalidated (slack = −inf).
    marks = np.array([90000.0, 3000.0])
    ref = np.array([[91000.0, 3000.0], [91000.0, 3000.0], [90000.0, 3000.0], [91000.0, 3000.0]])
    grad = np.array([[np.inf, np.inf], [np.inf, np.inf], [2.0, 1.0], [2.0, 1.0]])
    slack = np.array([5e3, -np.inf, 10.0, np.nan])
    always = np.array([False, False, False, False])
    out = np.empty(4, np.int64)
    every, zero = np.arange(4), np.zeros(2)
    k = screen_nb(every, marks, zero, ref, slack, grad, always, out)
    np.testing.assert_array_equal(out[:k], [0, 1, 3])     # moved inf-grad, invalidated, NaN slack
    np.testing.assert_array_equal(out[:k], screen_np(every, marks, zero, ref, slack, grad, always))
    ref[:] = marks                                          # nothing moved at all
    k = screen_nb(every, marks, zero, ref, slack, grad, always, out)
    np.testing.assert_array_equal(out[:k], [1, 3])
    always[0] = True                                        # the always-check flag wins
    k = screen_nb(every, marks, zero, ref, slack, grad, always, out)
    np.testing.assert_array_equal(out[:k], [0, 1, 3])
    np.testing.assert_array_equal(out[:k], screen_np(every, marks, zero, ref, slack, grad, always))


def test_screen_bounds_cover_linear_usd_pools_and_always_check_the_rest():
    pop = population_from_portfolio(every_venue_portfolio())
    grad, always = screen_bounds(pop.arrays, len(pop.assets))
    a, pool = pop.arrays, pop.pos_pool()
    unbounded = np.zeros(pop.n_pools, bool)
    unbounded[pool[(a.contract == INVERSE) | (a.contract == INVERSE_OPTION)]] = True
    unbounded |= (a.settle_axis >= 0) | (a.sc_end > a.sc_start)     # coin-settled, scenario pools
    assert unbounded.any() and (~unbounded & (a.pos_end > a.pos_start)).any()
    np.testing.assert_array_equal(always, unbounded)
    okx = pop.pool_venue == pop.venues.index("okx")          # OKX's tier is fixed by size: bounded
    assert np.isfinite(grad[okx & ~always]).all() and (okx & ~always).any()
    # the bound is a true Lipschitz bound of equity − MM along each axis (finite differences)
    st = _state(pop)
    pools = np.flatnonzero(~always & (a.pos_end > a.pos_start))
    for ax in range(len(pop.assets)):
        for h in (1e-4, 1e-2, 0.1):
            up, dn = pop.marks.copy(), pop.marks.copy()
            up[ax] *= 1 + h
            dn[ax] *= 1 - h
            e1, m1 = st.pool_states(pools, up, 0.0)
            e0, m0 = st.pool_states(pools, dn, 0.0)
            slope = np.abs((e1 - m1) - (e0 - m0)) / (up[ax] - dn[ax])
            assert (slope <= grad[pools, ax] * (1 + 1e-9) + 1e-9).all()
