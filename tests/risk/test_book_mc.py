"""Monte Carlo on the compiled book (liqrisk.risk.book_mc) against closed forms, and the
properties issue-level users rely on: per-pool probabilities, estimates inside [0, 1] and
independent of the other horizons requested, instruments that stop at expiry, VaR/ES that
never exceed what can be lost."""
import json
import math

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st
from typer.testing import CliRunner

from liqrisk.analysis import ProbabilitySettings, analyze
from liqrisk.cli import app
from liqrisk.dynamics.paths import gbm, merton, student_t
from liqrisk.load import parse_portfolio
from liqrisk.margin.account import CompiledPortfolio
from liqrisk.risk.book_mc import SimulationTooLarge, book_liquidation_risk
from liqrisk.risk.estimates import TERM_STRUCTURE
from liqrisk.risk.first_passage import exit_probability, hit_probability

AS_OF = "2026-11-23T00:00:00Z"
BTC = 91250.0


def _book(positions, collateral=None, market=None, mode="cross", venue="binance-usdm"):
    acc = {"id": "a", "venue": venue, "mode": mode, "positions": positions}
    if collateral:
        acc["collateral"] = collateral
    doc = {"as_of": AS_OF, "market": market or {"BTC": {"mark": BTC, "vol": 0.6}}, "accounts": [acc]}
    return CompiledPortfolio(parse_portfolio(doc))


def _risk(cp, horizons, model=None, **kw):
    axes = sorted(set().union(*cp.plans[0].pool_axes.values()))
    model = model or gbm(np.array([cp.market.atm_vol(cp.market.names[a]) for a in axes]))
    return book_liquidation_risk(cp, [0], axes, model, horizons, **kw)[0]


def within(est, exact, k=3.0):
    return abs(est.p - exact) <= k * est.stderr + 1e-12


@pytest.mark.parametrize("method", ["plain", "auto"])
def test_isolated_long_matches_the_reflection_principle_at_the_engines_lp(method):
    cp = _book([{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": BTC, "margin": BTC / 15}])
    lp = cp.margin_results()[0].positions[0].liquidation_price
    hs = [1 / 365, 7 / 365]
    r = _risk(cp, hs, n_paths=20_000, seed=3, method=method)
    for h in hs:
        assert within(r.probabilities[h], float(hit_probability(BTC, lp, 0.6, h)))
        assert r.pools["isolated BTCUSDT"][h] == r.probabilities[h]     # its only pool: one event


def test_two_isolated_pools_any_pool_is_the_double_barrier_and_each_pool_its_own_barrier():
    """An isolated long and an isolated short on BTC: the long is liquidated below its LP, the
    short above its LP, the account when either is — the double-barrier exit probability."""
    cp = _book([{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": BTC, "margin": BTC / 12},
                {"symbol": "BTCUSDT", "kind": "perp", "size": -1.0, "entry": BTC, "margin": BTC / 12,
                 "position_side": "short"}], mode="isolated")
    res = cp.margin_results()[0]
    lo, hi = (p.liquidation_price for p in res.positions)
    h = 2 / 365
    r = _risk(cp, [h], n_paths=40_000, seed=5, method="plain")
    assert within(r.probabilities[h], float(exit_probability(BTC, lo, hi, 0.6, h)))
    pools = r.pools
    assert len(pools) == 2
    down, up = (pools[k][h] for k in pools)
    assert within(down, float(hit_probability(BTC, lo, 0.6, h)))
    assert within(up, float(hit_probability(BTC, hi, 0.6, h)))
    assert r.driver[h] in pools


def test_negative_probability_case_of_the_issue_stays_in_the_unit_interval_and_ignores_other_horizons(tmp_path):
    """Isolated BTC long beside an ETH short, BTC vol 0.85, --horizon 1h --horizon 7d: every p
    and interval in [0, 1], and p(1h) identical whether or not 7d is requested (same seed)."""
    doc = {"as_of": AS_OF, "market": {"BTC": {"mark": BTC, "vol": 0.85}, "ETH": {"mark": 3050.0, "vol": 0.68}},
           "accounts": [{"id": "mix", "venue": "binance-usdm", "mode": "cross", "collateral": {"USDT": 4000},
                         "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 0.5, "entry": BTC,
                                        "margin": 2300},
                                       {"symbol": "ETHUSDT", "kind": "perp", "size": -10, "entry": 3050}]}]}
    path = tmp_path / "mix.yaml"
    path.write_text(yaml.safe_dump(doc))
    both = analyze(str(path), ProbabilitySettings(["1h", "7d"], paths=8000, seed=4)).accounts[0].to_dict()
    alone = analyze(str(path), ProbabilitySettings(["1h"], paths=8000, seed=4)).accounts[0].to_dict()
    assert both["probability"]["1h"] == alone["probability"]["1h"]
    assert both["risk"]["var99"]["1h"] == alone["risk"]["var99"]["1h"]
    for block in (both["probability"], both["term_structure"], *both["pools"].values()):
        for est in block.values():
            assert 0.0 <= est["ci95"][0] <= est["p"] <= est["ci95"][1] <= 1.0, est


def test_a_future_expiring_in_a_minute_is_not_liquidated_after_settlement():
    fut = {"symbol": "BTCUSDT_261123", "kind": "future", "size": 2.0, "entry": BTC,
           "expiry": "2026-11-23T00:01:00Z", "margin": BTC / 40}
    perp = dict(fut, symbol="BTCUSDT", kind="perp")
    perp.pop("expiry")
    r_perp = _risk(_book([perp]), [1 / 365], n_paths=4000, seed=1, method="plain")
    r_fut = _risk(_book([fut]), [1 / 365], n_paths=4000, seed=1, method="plain")
    assert r_perp.probabilities[1 / 365].p > 0.2
    assert r_fut.probabilities[1 / 365].p == 0.0


def test_a_short_option_pays_off_at_expiry_and_stops_carrying_margin():
    """A short call expiring in 2 hours on Deribit: after expiry the account holds its coin
    collateral minus the payoff; a 3-day horizon then sees only moves of the collateral."""
    cp = _book([{"kind": "option", "underlying": "BTC", "expiry": "2026-11-23T02:00:00Z", "strike": 95000,
                 "type": "call", "size": -1, "entry": 0.01}], collateral={"BTC": 0.3}, venue="deribit")
    r = _risk(cp, [3 / 365], n_paths=4000, seed=2, method="plain")
    assert r.probabilities[3 / 365].p < 0.01
    assert r.var99[3 / 365] <= r.max_loss + 1e-9


def test_drift_nan_is_rejected_and_an_extreme_drift_liquidates_every_path_in_step_one(tmp_path):
    cp = _book([{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": BTC, "margin": BTC / 20}])
    with pytest.raises(ValueError, match="drift"):
        _risk(cp, [1 / 365], n_paths=1000, drift=float("nan"))
    r = _risk(cp, [1 / 365, 7 / 365], n_paths=2000, seed=1, drift=-1000.0)
    for est in r.probabilities.values():
        assert est.p == 1.0 and est.ci95[1] == 1.0
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"as_of": AS_OF, "market": {"BTC": {"mark": BTC, "vol": 0.6}},
                                    "accounts": [{"id": "a", "venue": "binance-usdm", "collateral": {"USDT": 1e4},
                                                  "positions": [{"symbol": "BTCUSDT", "kind": "perp",
                                                                 "size": 1.0, "entry": BTC}]}]}))
    out = CliRunner().invoke(app, ["analyze", str(path), "--json", "--horizon", "1d", "--drift", "nan"])
    assert out.exit_code == 2 and "drift" in out.output and "Traceback" not in out.output


def test_a_horizon_beyond_the_path_step_limit_is_a_clear_error(tmp_path):
    cp = _book([{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": BTC, "margin": BTC / 20}])
    with pytest.raises(SimulationTooLarge, match="path-steps"):
        _risk(cp, [1_000_000 / 365], n_paths=200)


def test_results_depend_on_the_seed_not_on_the_thread_count(monkeypatch):
    import liqrisk.risk.book_mc as bm
    cp = _book([{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": BTC, "margin": BTC / 20}])
    kw = dict(n_paths=5000, seed=9, method="plain")
    a = _risk(cp, [1 / 365], **kw)
    serial = bm.map_chunks
    monkeypatch.setattr(bm, "map_chunks", lambda fn, chunks, threads=None: serial(fn, chunks, 1))
    b = _risk(cp, [1 / 365], **kw)
    assert a.probabilities == b.probabilities and a.var99 == b.var99
    assert _risk(cp, [1 / 365], **(kw | {"seed": 10})).probabilities != a.probabilities


def test_the_shared_thread_pool_serves_several_threads_and_nested_calls():
    """map_chunks keeps one pool per process: runs from several threads at once (the service's
    workers) give the numbers of a run alone, a map_chunks inside a chunk runs in that thread
    instead of waiting on the pool it occupies, and a chunk's error reaches the caller."""
    from concurrent.futures import ThreadPoolExecutor
    from liqrisk.dynamics.paths import map_chunks
    cp = _book([{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": BTC, "margin": BTC / 20}])
    kw = dict(n_paths=5000, seed=9, method="plain")
    alone = _risk(cp, [1 / 365], **kw)
    with ThreadPoolExecutor(4) as callers:
        together = list(callers.map(lambda _: _risk(cp, [1 / 365], **kw), range(4)))
    assert all(r.probabilities == alone.probabilities and r.var99 == alone.var99 for r in together)
    nested = map_chunks(lambda c: map_chunks(lambda x: 10 * c + x, range(3)), range(4))
    assert nested == [[10 * c + x for x in range(3)] for c in range(4)]

    def fail(c):
        if c == 2:
            raise ValueError("chunk 2")
        return c
    with pytest.raises(ValueError, match="chunk 2"):
        map_chunks(fail, range(8))
    assert map_chunks(lambda c: c, range(8)) == list(range(8))


def test_fat_tailed_model_runs_on_the_book_with_antithetic_pairs():
    cp = _book([{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": BTC, "margin": BTC / 25}])
    lp = cp.margin_results()[0].positions[0].liquidation_price
    h = 1 / 365
    r = _risk(cp, [h], model=student_t(0.6, 3.5), n_paths=20_000, seed=2)
    g = _risk(cp, [h], n_paths=20_000, seed=2, method="plain")
    assert r.probabilities[h].method == "antithetic" and r.probabilities[h].paths == 20_000
    assert within(g.probabilities[h], float(hit_probability(BTC, lp, 0.6, h)))
    assert 0 < r.probabilities[h].p < 1


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lev=st.floats(3, 60), side=st.sampled_from([1.0, -1.0]), cross=st.booleans(),
       extra=st.floats(0, 5000))
def test_var_and_es_never_exceed_the_most_that_can_be_lost_and_ignore_other_horizons(lev, side, cross, extra):
    pos = {"symbol": "BTCUSDT", "kind": "perp", "size": side, "entry": BTC}
    if cross:
        cp = _book([pos], collateral={"USDT": BTC / lev + extra})
    else:
        cp = _book([dict(pos, margin=BTC / lev)], collateral={"USDT": extra} if extra else None)
    one = _risk(cp, [1 / 365], n_paths=2000, seed=1, method="plain")
    both = _risk(cp, [1 / 365, 7 / 365], n_paths=2000, seed=1, method="plain")
    assert one.var99[1 / 365] == both.var99[1 / 365] and one.es99[1 / 365] == both.es99[1 / 365]
    for h in both.var99:
        assert both.var99[h] <= both.es99[h] <= both.max_loss * (1 + 1e-12) + 1e-9
        p = both.probabilities[h]
        assert 0.0 <= p.ci95[0] <= p.p <= p.ci95[1] <= 1.0


def test_analyze_json_carries_per_pool_probabilities_and_the_driver():
    out = CliRunner().invoke(app, ["analyze", "examples/multi_venue.yaml", "--json", "--horizon", "7d",
                                   "--paths", "4000"])
    assert out.exit_code == 0, out.output
    acc = {a["id"]: a for a in json.loads(out.stdout)["accounts"]}["binance-main"]
    pools = acc["pools"]
    assert set(pools) == {"cross", "isolated ETHUSDT"}
    assert acc["risk"]["driver"]["7d"] == "isolated ETHUSDT"
    p, se = acc["probability"]["7d"]["p"], acc["probability"]["7d"]["stderr"]
    assert pools["cross"]["7d"]["p"] < pools["isolated ETHUSDT"]["7d"]["p"] <= p + 3 * se
    assert math.isfinite(acc["risk"]["max_loss"])


def test_an_account_past_its_trigger_reports_shortfall_forced_exit_and_insurance_loss(tmp_path):
    """Equity −3,750 USDT (1,000 wallet, long 1 BTC bought 4,750 above the mark): liquidatable
    now, equity shortfall 3,750, a positive forced-exit cost and an insurance shortfall of at
    least the deficit — in JSON and in the terminal; P = 1 at every horizon."""
    doc = {"as_of": AS_OF, "market": {"BTC": {"mark": BTC, "vol": 0.6}},
           "accounts": [{"id": "under", "venue": "binance-usdm", "collateral": {"USDT": 1000},
                         "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": BTC + 4750}]}]}
    path = tmp_path / "under.yaml"
    path.write_text(yaml.safe_dump(doc))
    out = CliRunner().invoke(app, ["analyze", str(path), "--json", "--horizon", "1d", "--paths", "1000"])
    acc = json.loads(out.stdout)["accounts"][0]
    assert acc["liquidatable_now"] and acc["equity"] == pytest.approx(-3750.0)
    e = acc["exit"]
    assert e["equity_shortfall"] == pytest.approx(3750.0)
    assert e["liquidation_cost"] > 0 and e["insurance_shortfall"] >= 3750.0
    assert acc["probability"]["1d"]["p"] == 1.0 and acc["probability"]["1d"]["method"] == "liquidatable-now"
    text = CliRunner().invoke(app, ["analyze", str(path)]).output
    assert "liquidatable now" in text and "3,750" in text


def test_screening_skips_steps_without_changing_any_number():
    """multi-venue book (cross, isolated, coin-margined, options, futures): the same results with
    the safe-box screening on and off."""
    from liqrisk.load import load_portfolio
    cp = CompiledPortfolio(load_portfolio("examples/multi_venue.yaml"))
    for i in (0, 1, 3, 5, 6):         # 1 and 5: cross pools moving with BTC and ETH (health bridge)
        axes = sorted(set().union(*cp.plans[i].pool_axes.values()))
        model = gbm(np.array([cp.market.atm_vol(cp.market.names[a]) for a in axes]))
        on, off = (book_liquidation_risk(cp, [i], axes, model, [1 / 365, 3 / 365], n_paths=3000, seed=1,
                                         method="plain", screen=s)[0] for s in (True, False))
        assert on.probabilities == off.probabilities and on.pools == off.pools
        assert on.var99 == off.var99 and on.es99 == off.es99


def test_a_shared_setup_gives_the_numbers_of_a_fresh_one_for_every_model():
    """reuse_setup: the runs of several models and steps on one book share the accounts' t=0
    set-up; each gives what it gives alone (the per-run boxes and tables are not shared)."""
    from liqrisk.load import load_portfolio
    from liqrisk.risk.book_mc import reuse_setup
    cp = CompiledPortfolio(load_portfolio("examples/multi_venue.yaml"))
    idx, axes = [2, 6, 7], [0]                      # coin-margined, options desk, BitMEX isolated
    sigma = np.array([cp.market.atm_vol("BTC")])
    runs = [(gbm(sigma), None), (student_t(sigma, 4.0), None), (gbm(1.5 * sigma), 1 / 365)]

    def run(model, dt):
        return book_liquidation_risk(cp, idx, axes, model, [1 / 365, 7 / 365], n_paths=2000, seed=3, dt=dt)

    alone = [run(m, dt) for m, dt in runs]
    with reuse_setup():
        shared = [run(m, dt) for m, dt in runs]
    for a, b in zip(alone, shared):
        for x, y in zip(a, b):
            assert x.probabilities == y.probabilities and x.pools == y.pools
            assert x.var99 == y.var99 and x.es99 == y.es99


# --- closed forms and estimator properties on one-position books (ported from the per-step
# engine this one replaced); every tolerance is a multiple of the Monte Carlo standard error.
# Those marked numerics run again on numba's generic x86-64 target in .ci/run.

def _isolated(size, leverage, vol=0.6):
    """An isolated Binance BTCUSDT perp at the mark, margin = notional / leverage, and its LP."""
    cp = _book([{"symbol": "BTCUSDT", "kind": "perp", "size": size, "entry": BTC,
                 "margin": abs(size) * BTC / leverage}], market={"BTC": {"mark": BTC, "vol": vol}})
    return cp, cp.margin_results()[0].positions[0].liquidation_price


@pytest.mark.numerics
@pytest.mark.parametrize("leverage,hours,side,method", [
    (2, 720, 1, "importance"), (5, 168, -1, "antithetic"), (10, 24, 1, "antithetic"),
    (20, 24, -1, "antithetic"), (50, 4, 1, "antithetic"), (125, 1, -1, "antithetic"),
    (125, 4, 1, "antithetic")])
def test_isolated_perp_matches_the_reflection_principle_by_side_leverage_and_horizon(leverage, hours, side, method):
    """2x over 30 days is p ≈ 1e-4 (a handful of hits in 20,000 paths, where the sample stderr
    is itself unreliable): importance sampling there."""
    cp, lp = _isolated(side * 0.1, leverage)
    h = hours / 8760
    est = _risk(cp, [h], n_paths=20_000, seed=leverage, method=method).probabilities[h]
    assert est.method == method
    assert within(est, float(hit_probability(BTC, lp, 0.6, h)))


@pytest.mark.numerics
def test_inverse_long_matches_the_closed_form_with_drift():
    """Binance COIN-M BTCUSD_PERP, 1,000 contracts × 100 USD, 0.2 BTC isolated margin: LP from
    the venue's inverse formula face·(1 + mmr)/(margin + face/entry), then P(hit) of GBM with
    drift μ = 0.5 (first passage of a Brownian motion with drift μ − σ²/2)."""
    face, margin, mmr = 100_000.0, 0.2, 0.004
    cp = _book([{"symbol": "BTCUSD_PERP", "kind": "perp", "size": face, "entry": BTC, "margin": margin}],
               market={"BTC": {"mark": BTC, "vol": 0.8}}, venue="binance-coinm")
    lp = cp.margin_results()[0].positions[0].liquidation_price
    assert lp == pytest.approx(face * (1 + mmr) / (margin + face / BTC), rel=1e-12)
    h = 7 / 365
    est = _risk(cp, [h], n_paths=20_000, seed=3, method="plain", drift=0.5).probabilities[h]
    assert within(est, float(hit_probability(BTC, lp, 0.8, h, mu=0.5)))
    assert est.p < float(hit_probability(BTC, lp, 0.8, h)) - 3 * est.stderr   # an upward drift: fewer hits


def test_short_strangle_is_bounded_by_its_t0_double_barrier():
    """Deribit short put 75k + short call 110k (3 months), 0.4 BTC: options repriced at every
    step; time decay only widens the healthy interval, so P(7d) is below the exit probability of
    the t=0 boundaries (and not far below it over a week)."""
    cp = _book([{"kind": "option", "underlying": "BTC", "expiry": "2027-02-23T00:00:00Z", "strike": k,
                 "type": t, "size": -1, "entry": 0.01} for k, t in ((75_000, "put"), (110_000, "call"))],
               collateral={"BTC": 0.4}, venue="deribit")
    down, up = cp.margin_results()[0].boundaries["BTC"]
    h = 7 / 365
    r = _risk(cp, [h], n_paths=20_000, seed=11, method="plain")
    fixed = float(exit_probability(BTC, down, up, 0.6, h))
    est = r.probabilities[h]
    assert 0.5 * fixed < est.p < fixed + 3 * est.stderr
    assert math.isfinite(r.var99[h]) and r.es99[h] >= r.var99[h]


def test_two_asset_cross_account_control_variate_is_unbiased_and_reduces_variance():
    cp = _book([{"symbol": "BTCUSDT", "kind": "perp", "size": 0.5, "entry": BTC},
                {"symbol": "ETHUSDT", "kind": "perp", "size": -5.0, "entry": 3050.0}],
               collateral={"USDT": 2_500.0},
               market={"BTC": {"mark": BTC, "vol": 0.6}, "ETH": {"mark": 3050.0, "vol": 0.8}})
    model = gbm([0.6, 0.8], corr=np.array([[1.0, 0.3], [0.3, 1.0]]))
    h = 1 / 365
    plain, cv = (_risk(cp, [h], model=model, n_paths=20_000, seed=9, method=m).probabilities[h]
                 for m in ("plain", "control"))
    assert cv.method == "control" and 0.01 < plain.p < 0.99
    assert abs(plain.p - cv.p) < 3 * np.hypot(plain.stderr, cv.stderr)
    assert cv.stderr < plain.stderr


def _hedged_pair(collateral):
    """(compiled book, y*) of a Binance cross BTC long 1 / ETH short 24 with ``collateral`` USDT
    at 60 % vols: y* is the common log move of both prices at which equity − MM = 0."""
    from scipy.optimize import brentq
    from liqrisk.margin import kernel as K
    market = {"BTC": {"mark": BTC, "vol": 0.6}, "ETH": {"mark": 3050.0, "vol": 0.6}}
    cp = _book([{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": BTC},
                {"symbol": "ETHUSDT", "kind": "perp", "size": -24.0, "entry": 3050.0}],
               collateral={"USDT": collateral}, market=market)
    pools = np.array(cp.plans[0].pools, np.int64)

    def health(y):
        eq, mm = K.pools_states_nb(pools, cp.market.prices[None, :] * math.exp(y), 0.0, cp.arrays.args())
        return float((eq - mm).min())
    return cp, brentq(health, -1.0, 0.0, xtol=1e-14)


@pytest.mark.numerics
@pytest.mark.parametrize("method", ["plain", "auto"])
def test_a_hedged_pair_moving_together_is_liquidated_at_its_net_exposures_barrier(method):
    """A cross BTC long / ETH short whose prices move together (equal vols, ρ = 0.9999): both
    prices are ≈ mark·e^Y for one GBM log move Y, so the account is liquidated when Y first
    reaches the level y* where equity − MM = 0 at (BTC·e^y*, ETH·e^y*) — the reflection
    principle's closed form at y*. Each price alone would breach at a 2.6 % move; per-axis t=0
    boundaries (the bridge this one replaced) gave 0.94 instead of 0.088 at 7 days. Tolerance: 3.5
    standard errors plus 1e-3 for ρ < 1 (the pair's spread adds 0.4 % to the health's variance:
    the barrier is 1.74 sd away at 7 days, so P moves by 2φ(1.74)·1.74·0.002 ≈ 6e-4)."""
    cp, y_star = _hedged_pair(3_000.0)
    model = gbm([0.6, 0.6], corr=np.array([[1.0, 0.9999], [0.9999, 1.0]]))
    hs = [7 / 365, 14 / 365]
    r = _risk(cp, hs, model=model, n_paths=20_000, seed=5, method=method)
    for h in hs:
        exact = float(hit_probability(1.0, math.exp(y_star), 0.6, h))
        assert exact > 0.01
        assert abs(r.probabilities[h].p - exact) <= 3.5 * r.probabilities[h].stderr + 1e-3


@pytest.mark.numerics
def test_a_rare_liquidation_of_the_correlated_hedged_pair_is_importance_sampled_at_its_design_point():
    """The hedged pair with 3,150 USDT: y* is 4.92 sd of the 1-day move away, p ≈ 1e-6 by the
    reflection principle. ``auto`` tilts the independent normals towards the pair's design point
    (before this, correlated GBM had no importance sampling and 1e5 plain paths saw no hit).
    The design point is |y*|/σ sds of a one-year move away (HL-RF on the curved boundary: the
    health is linear in the prices, not in their logs; 1e-3 for the spread direction's share).
    Relative standard error < 10 % with 1e5 paths; 3.5 error bars of the closed form (an IS
    error bar is itself noisy, ±15–20 % from seed to seed, as in the bucketed-tilt test).
    ρ = 1 − 1e-6 instead of 0.9999: the spread's share of the health's variance,
    2(1 − ρ)|g_B·g_E|/(g_B + g_E)² ≈ 4e-5 (g the exposures, 91k and −73k USD), moves p by
    ≈ d²·2e-5 ≈ 5e-4 of itself — negligible beside the error bar."""
    from liqrisk.risk import book_mc
    cp, y_star = _hedged_pair(3_150.0)
    rho = 1 - 1e-6
    model = gbm([0.6, 0.6], corr=np.array([[1.0, rho], [rho, 1.0]]))
    h = 1 / 365
    exact = float(hit_probability(1.0, math.exp(y_star), 0.6, h))
    assert 3e-7 < exact < 3e-6
    g = book_mc._group(cp, [0], [0, 1])
    _, r = book_mc._design_points(cp, g, [0, 1], model)
    assert r[0] == pytest.approx(abs(y_star) / 0.6, rel=1e-3)
    est = _risk(cp, [h], model=model, n_paths=100_000, seed=5).probabilities[h]
    assert est.method == "importance" and est.stderr < 0.1 * est.p
    assert within(est, exact, 3.5)


def _long_pair(collateral):
    """A Binance cross BTC long 0.5 / ETH long 5 with ``collateral`` USDT, 60 % / 80 % vols."""
    return _book([{"symbol": "BTCUSDT", "kind": "perp", "size": 0.5, "entry": BTC},
                  {"symbol": "ETHUSDT", "kind": "perp", "size": 5.0, "entry": 3050.0}],
                 collateral={"USDT": collateral},
                 market={"BTC": {"mark": BTC, "vol": 0.6}, "ETH": {"mark": 3050.0, "vol": 0.8}})


@pytest.mark.parametrize("collateral,n_imp,n_plain,lo,hi", [(4_000.0, 20_000, 20_000, 0.02, 0.1),
                                                            (7_000.0, 20_000, 2_000_000, 1e-4, 4e-4)])
def test_correlated_importance_sampling_agrees_with_plain_sampling(collateral, n_imp, n_plain, lo, hi):
    """A cross BTC long / ETH long at ρ = 0.7 (no closed form): the design-point tilt (method
    importance) and plain sampling of other paths agree within 3 combined standard errors —
    at p ≈ 0.05 with as many paths (the estimator is unbiased: the weights are dP/dQ of the
    independent normals, exact for any tilt) and at p ≈ 2e-4 against 100× the plain paths
    (plain relative error ≈ 1/√(2e6·2e-4) = 5 %; ≈ 4 s of one core)."""
    model = gbm([0.6, 0.8], corr=np.array([[1.0, 0.7], [0.7, 1.0]]))
    h = 1 / 365
    imp, plain = (_risk(_long_pair(collateral), [h], model=model, n_paths=n, seed=s, method=m,
                        risk=False).probabilities[h]
                  for s, m, n in ((2, "importance", n_imp), (3, "plain", n_plain)))
    assert imp.method == "importance" and lo < plain.p < hi
    assert abs(imp.p - plain.p) < 3 * np.hypot(imp.stderr, plain.stderr)
    assert imp.stderr < plain.stderr


def test_analyze_samples_a_rare_btc_sol_cross_account_under_gbm_by_importance(tmp_path):
    """BTC + SOL in one cross pool with 30,000 USDT under --model gbm (correlation assumed 0):
    P(1d) ≈ 1e-6, where plain sampling of 2,000 paths sees no hit — importance sampling
    towards the pool's design point gives it with an error bar."""
    doc = {"as_of": AS_OF, "market": {"BTC": {"mark": BTC, "vol": 0.52}, "SOL": {"mark": 142.5, "vol": 0.85}},
           "accounts": [{"id": "btc-sol", "venue": "binance-usdm", "mode": "cross", "collateral": {"USDT": 30_000},
                         "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 2.0, "entry": BTC},
                                       {"symbol": "SOLUSDT", "kind": "perp", "size": 500.0, "entry": 142.5}]}]}
    path = tmp_path / "book.yaml"
    path.write_text(yaml.safe_dump(doc))
    out = CliRunner().invoke(app, ["analyze", str(path), "--json", "--horizon", "1d", "--model", "gbm",
                                   "--paths", "2000", "--range-paths", "0"])
    assert out.exit_code == 0, out.output
    one = json.loads(out.stdout)["accounts"][0]["probability"]["1d"]
    assert one["method"] == "importance" and 1e-8 < one["p"] < 1e-4 and 0 < one["stderr"] < 0.2 * one["p"]


def _random_cross_book(rng, log_usd, collateral):
    """(compiled book, its _group on all axes, the cross pool's index) of one Binance cross
    account: a perp on each of BTC, ETH, SOL and DOGE, random side, notional lognormal around
    e^log_usd USD, entry within 10 % of the mark, 60 % vols."""
    from liqrisk.risk import book_mc
    names, marks = ["BTC", "ETH", "SOL", "DOGE"], [91_250.0, 3_050.0, 142.5, 0.182]
    market = {n: {"mark": m, "vol": 0.6} for n, m in zip(names, marks)}
    positions = [{"symbol": f"{n}USDT", "kind": "perp", "size": float(rng.choice([-1, 1]) * rng.lognormal(log_usd, 1.5) / m),
                  "entry": m * float(rng.uniform(0.9, 1.1))} for n, m in zip(names, marks)]
    cp = _book(positions, collateral=collateral, market=market)
    g = book_mc._group(cp, [0], list(range(len(cp.market.names))))
    return cp, g, int(np.flatnonzero(g.multi)[0])


def test_an_affine_pools_cheap_health_gradient_is_the_pools_own_finite_difference():
    """affine_gradient_nb (equity and collateral MM exact, each position's MM bumped on its own
    price) against health_gradient_nb (the whole pool bumped per axis) on cross books of perps
    and dated futures on four underlyings with coin collateral, at random prices across tiers.
    Both are forward differences of the same MM with the same bump; they differ by the equity's
    curvature in log price (e^x: ½·GRADIENT_STEP relative) — tolerance 1e-4 of the gross."""
    from liqrisk.margin import kernel as K
    from liqrisk.risk.book_kernel import affine_gradient_nb, health_gradient_nb
    rng = np.random.default_rng(4)
    for trial in range(5):
        cp, g, b = _random_cross_book(rng, 11, {"USDT": 20_000.0, "BTC": 0.2})
        axes = list(range(len(cp.market.names)))
        assert g.affine[b]
        p = int(g.pools[b])
        arrs = cp.arrays.args()
        for _ in range(20):
            prow = cp.market.prices * np.exp(rng.normal(0, 0.3, len(axes)))
            pmm = K.positions_states_nb(prow, 0.0, arrs)[1]
            cheap, full = np.zeros(len(axes)), np.zeros(len(axes))
            affine_gradient_nb(p, prow.copy(), 0.0, np.arange(len(axes)), g.ek[b], pmm, cheap, arrs)
            health_gradient_nb(p, prow.copy(), 0.0, np.array(axes), g.dep[b], full, arrs)
            gross = np.abs(g.ek[b]) * prow                 # USD per unit log move, per axis
            assert np.all(np.abs(cheap - full) <= 1e-4 * (gross + 1.0))


def test_a_several_axis_pools_bound_tables_bound_its_health_and_gradient_everywhere():
    """health_tables_nb / _health_floor on cross books of perps on four underlyings (sizes
    across Binance's tiers, USDT and BTC collateral): at random log offsets inside the tables
    (±8 standard deviations of a 30-day move: many tier floors inside cells) the floor is at most
    the pool's health by the margin kernel, and each axis' gradient bound at least |the
    gradient| the Monte Carlo kernel uses there (affine_gradient_nb)."""
    from liqrisk.margin import kernel as K
    from liqrisk.risk.book_kernel import _health_floor, affine_gradient_nb
    from liqrisk.risk import book_mc
    rng = np.random.default_rng(8)
    sigma, dt, n_steps = np.full(4, 0.6), 1 / 365 / 24, 720
    for trial in range(5):
        cp, g, b = _random_cross_book(rng, 12, {"USDT": 50_000.0, "BTC": 0.5})
        axes = list(range(len(cp.market.names)))
        bsel = np.arange(len(g.pools))
        txlo, tdx, TD, TG = book_mc._health_tables(cp, g, bsel, axes, sigma, dt, n_steps, g.affine & g.screenable)
        sl = int(np.cumsum(g.multi)[b] - 1)
        assert np.all(tdx[sl] > 0)
        p, arrs = int(g.pools[b]), cp.arrays.args()
        span = TD.shape[2] * tdx[sl]
        for _ in range(400):
            X = (txlo[sl] + rng.uniform(0.0, 1.0, 4) * span)[None, :]
            prow = cp.market.prices * np.exp(X[0])
            eq, mm = K.pool_state_nb(p, prow, 0.0, arrs)
            gb = np.zeros(4)
            floor = _health_floor(sl, X, 0, g.h0[b], txlo, tdx, TD, TG, gb)
            assert floor <= (eq - mm) + 1e-9 * (abs(eq) + mm)
            pmm = K.positions_states_nb(prow, 0.0, arrs)[1]
            grad = np.zeros(4)
            affine_gradient_nb(p, prow.copy(), 0.0, np.arange(4), g.ek[b], pmm, grad, arrs)
            assert np.all(np.abs(grad) <= gb)


def _dated_cross_book(rng, collateral):
    """(compiled book, _group, cross pool index) of a Binance cross account holding, on each of
    BTC, ETH, SOL and DOGE, a perp and one to two dated futures (random sides, notionals lognormal
    around 150,000 USD: several tiers apart), with ``collateral``."""
    from liqrisk.risk import book_mc
    names, marks = ["BTC", "ETH", "SOL", "DOGE"], [91_250.0, 3_050.0, 142.5, 0.182]
    market = {n: {"mark": m, "vol": 0.6} for n, m in zip(names, marks)}
    positions = []
    for n, m in zip(names, marks):
        for k, exp in enumerate(["", "2027-03-26", "2027-06-25"][:int(rng.integers(2, 4))]):
            c = {"symbol": f"{n}USDT", "kind": "perp"} if not k else \
                {"symbol": f"{n}USDT_{exp.replace('-', '')[2:]}", "kind": "future", "expiry": f"{exp}T08:00:00Z"}
            positions.append({**c, "size": float(rng.choice([-1, 1]) * rng.lognormal(12, 1.5) / m),
                              "entry": m * float(rng.uniform(0.9, 1.1))})
    cp = _book(positions, collateral=collateral, market=market)
    g = book_mc._group(cp, [0], list(range(len(names))))
    return cp, g, int(np.flatnonzero(g.multi)[0])


def _pieces_numpy(P, hc, bp, nbp, al, be):
    """NumPy reference of affine_health_nb: (health, gradient) of one slot at prices P."""
    j = [int(np.searchsorted(bp[a, :nbp[a]], P[a], side="right")) for a in range(len(P))]
    g = np.array([al[a, j[a]] * P[a] for a in range(len(P))])
    return hc + sum(g[a] + be[a, j[a]] for a in range(len(P))), g


def test_an_affine_pools_pieces_are_its_health_by_the_margin_kernel_and_by_numpy():
    """_affine_pieces / affine_health_nb on cross books of perps and dated futures on four
    underlyings (several positions per axis, notionals across Binance's tiers, USDT and BTC
    collateral), at random prices spanning many tier floors: the health equals the margin
    kernel's equity − MM (pool_state_nb) and the lean NumPy formula W + Σ q(P − E) −
    (|q|·P·mmr − cum) with tiers by searchsorted (bench_montecarlo's peer) to 1e-12 of the gross
    (rounding of sums of ~20 terms), the piece search equals a NumPy searchsorted reference from
    any start piece, and the gradient α·P is the central difference of the kernel's health (the
    health is linear in P on a piece: exact but for rounding, and a tier floor inside the bump)."""
    from liqrisk.margin import kernel as K
    from liqrisk.risk import book_mc
    from liqrisk.risk.book_kernel import affine_health_nb
    rng = np.random.default_rng(11)
    for trial in range(6):
        cp, g, b = _dated_cross_book(rng, {"USDT": 60_000.0, "BTC": 0.3})
        axes = list(range(4))
        ok, hc, bp, nbp, al, be = book_mc._affine_pieces(cp, g, np.array([b]), axes)
        assert ok[0] and np.all(nbp[0] >= 9)
        a, p, arrs = cp.arrays, int(g.pools[b]), cp.arrays.args()
        rows = range(a.pos_start[p], a.pos_end[p])
        for _ in range(300):
            prow = cp.market.prices * np.exp(rng.normal(0, 0.6, 4))
            eq, mm = K.pool_state_nb(p, prow, 0.0, arrs)
            jc = rng.integers(0, nbp[0] + 1)
            grad = np.zeros(4)
            h = affine_health_nb(0, prow, hc, bp, nbp, al, be, jc, grad)
            h_np, g_np = _pieces_numpy(prow, hc[0], bp[0], nbp[0], al[0], be[0])
            lean = 60_000.0 + 0.3 * prow[0] * (1 - a.leg_mm[a.leg_start[p]])
            gross = 60_000.0 + 0.3 * prow[0]
            for i in rows:
                P = prow[a.axis[i]] * a.basis[i]
                t = slice(a.tier_start[i], a.tier_end[i])
                n = abs(a.qty[i]) * P
                k = max(int(np.searchsorted(a.t_floor[t], n, side="right")) - 1, 0)
                lean += a.qty[i] * (P - a.entry[i]) - (n * a.t_mmr[t][k] - a.t_cum[t][k])
                gross += n + abs(a.qty[i] * a.entry[i])
            for other in (eq - mm, h_np, lean):
                assert abs(h - other) <= 1e-12 * gross
            assert np.array_equal(grad, g_np)
            for ax in range(4):
                up, dn = prow.copy(), prow.copy()
                up[ax] *= math.exp(1e-6)
                dn[ax] *= math.exp(-1e-6)
                cd = (np.subtract(*K.pool_state_nb(p, up, 0.0, arrs)) -
                      np.subtract(*K.pool_state_nb(p, dn, 0.0, arrs))) / 2e-6
                kink = np.any(np.abs(np.log(bp[0, ax, :nbp[0, ax]] / prow[ax])) < 1e-6)
                assert kink or abs(grad[ax] - cd) <= 1e-6 * gross + 1e-9 * abs(grad[ax])


@pytest.mark.numerics
def test_walking_affine_pools_on_their_pieces_agrees_with_valuing_every_position():
    """The same runs (plain GBM, correlated, 1 and 3 days of hourly steps) with the affine pools
    walked on their pieces (exact health and gradient at every step) and by valuing every
    position (book_mc.AFFINE_FAST False: the forward-difference gradient of 1e-4 and the gate
    that skips a gradient where the exponent is ≥ 9·38): on the same paths the estimates differ
    only through the bridge exponents a, which the forward difference's gradient puts off by a
    relative ε ≤ 1e-4 (GRADIENT_STEP), so a step's crossing probability e^{−a} changes by the
    factor e^{∓a·ε}: by ≤ 1e-3 of itself on the steps that carry probability (a ≤ 10; steps
    with a ≥ 10 add < 5e-5 each), and a hit at a step is the same on both — |Δp| ≤ 1e-3·p + 1e-9
    (seen: ≤ 1.4e-5 relative on the 100 × 10 benchmark file). The loss tails (VaR/ES) are the
    same, and screening on and off give the same numbers on the pieces too (the whole-path bound
    is exact)."""
    from liqrisk.risk import book_mc
    rng = np.random.default_rng(5)
    model = gbm([0.6] * 4, corr=0.5 + 0.5 * np.eye(4))
    for collateral in (15_000.0, 40_000.0):
        cp, g, b = _dated_cross_book(rng, {"USDT": collateral})
        hs = [1 / 365, 3 / 365]
        run = lambda **kw: book_liquidation_risk(cp, [0], list(range(4)), model, hs, n_paths=4000, seed=3,
                                                 method="plain", **kw)[0]
        fast, fast_off = run(), run(screen=False)
        assert fast.probabilities == fast_off.probabilities and fast.var99 == fast_off.var99
        book_mc.AFFINE_FAST = False
        try:
            walk = run()
        finally:
            book_mc.AFFINE_FAST = True
        for h in hs:
            p, q = fast.probabilities[h].p, walk.probabilities[h].p
            assert 0 < q < 1 and abs(p - q) <= 1e-3 * q + 1e-9
            assert fast.var99[h] == walk.var99[h] and fast.es99[h] == walk.es99[h]


def test_reported_stderr_matches_the_spread_across_30_seeds():
    cp, _ = _isolated(0.1, 25)
    h = 1 / 365
    est = [_risk(cp, [h], n_paths=4096, seed=s, method="plain").probabilities[h] for s in range(30)]
    spread = np.std([e.p for e in est], ddof=1)
    reported = np.mean([e.stderr for e in est])
    # the sample sd of 30 estimates has a relative standard error of 1/sqrt(58) = 13%: ±3 of it
    assert 0.6 < spread / reported < 1.4


@pytest.mark.numerics
def test_importance_sampling_matches_the_closed_form_on_a_rare_case():
    cp, lp = _isolated(0.1, 10, vol=0.4)            # LP 9.6% below: P(1d) ~ 1e-6 at 40% vol
    h = 1 / 365
    exact = float(hit_probability(BTC, lp, 0.4, h))
    assert 1e-7 < exact < 1e-5
    est = _risk(cp, [h], n_paths=100_000, seed=1, method="importance").probabilities[h]
    assert est.method == "importance" and est.stderr < 0.1 * est.p
    # an IS error bar is itself noisy (heavy-tailed weights: the z-score's spread over 12 seeds
    # measured 1.3): 3.5 of them, as in test_measures
    assert within(est, exact, 3.5)


def test_importance_sampling_beats_plain_sampling_with_100x_the_paths():
    cp, lp = _isolated(-0.1, 25, vol=0.5)
    h = 4 / 8760
    exact = float(hit_probability(BTC, lp, 0.5, h))
    imp = _risk(cp, [h], n_paths=10_000, seed=4, method="importance").probabilities[h]
    plain = _risk(cp, [h], n_paths=1_000_000, seed=4, method="plain").probabilities[h]
    assert within(imp, exact) and within(plain, exact)
    assert imp.stderr < 2 * plain.stderr


def test_fat_tails_and_jumps_raise_the_short_horizon_probability_above_gbms_closed_form():
    cp, lp = _isolated(0.1, 25)                     # LP 3.6% below: 2.8 sd of a 4h move
    h = 4 / 8760
    exact = float(hit_probability(BTC, lp, 0.6, h))
    est = {name: _risk(cp, [h], model=m, n_paths=40_000, seed=8).probabilities[h]
           for name, m in [("gbm", gbm(0.6)), ("t", student_t(0.6, 3.0)),
                           ("merton", merton(0.6, 20.0, -0.03, 0.04))]}
    assert within(est["gbm"], exact)
    for name in ("t", "merton"):
        assert est[name].p > exact + 3 * est[name].stderr, name


def test_term_structure_follows_the_closed_form_with_the_method_auto_chooses():
    """The standard horizons on a 20x long (LP 4.6% below): 1h and 4h are rare (importance
    sampling), 1d and beyond are not; every horizon within 3 stderr of the reflection principle,
    the time-to-liquidation quantiles ordered inside the last horizon, progress reported."""
    cp, lp = _isolated(0.1, 20)
    hs = sorted(TERM_STRUCTURE.values())
    seen = []
    r = _risk(cp, hs, n_paths=8192, seed=0, progress=lambda done, total: seen.append((done, total)))
    assert [r.probabilities[h].method for h in hs][:2] == ["importance"] * 2
    assert all(r.probabilities[h].method != "importance" for h in hs[2:])
    for h in hs:
        assert within(r.probabilities[h], float(hit_probability(BTC, lp, 0.6, h))), h
    assert seen[-1][0] == seen[-1][1] > 0
    q = list(r.time_to_liquidation.values())
    assert q == sorted(q) and q[-1] <= hs[-1]
    assert r.time_histogram.edges_hours[-1] == pytest.approx(720.0)


def test_time_to_liquidation_median_matches_the_first_passage_law():
    """The exact conditional first-passage CDF F(t) = P(hit by t)/P(hit by T) at the sampled
    median is 1/2 within 3 standard errors of an empirical median (0.5/√n_hit) and half a
    histogram bin (the quantile is dated at its bin's middle)."""
    cp, lp = _isolated(0.1, 20)
    T = 30 / 365
    r = _risk(cp, [T], n_paths=20_000, seed=3, method="plain")
    med, n_hit = r.time_to_liquidation[0.5], r.time_histogram.paths
    half_bin = 0.5 * 720 / 240 / 8760               # 720 hourly steps in the kernel's 240 bins
    F = lambda t: float(hit_probability(BTC, lp, 0.6, t) / hit_probability(BTC, lp, 0.6, T))
    tol = 3 * 0.5 / math.sqrt(n_hit)
    assert F(med - half_bin) - tol <= 0.5 <= F(med + half_bin) + tol


def test_auto_samples_the_rare_horizon_by_importance_and_gives_it_an_error_bar():
    cp, lp = _isolated(0.1, 7, vol=0.4)             # LP 13.9% below the mark
    hs = [1 / 365, 7 / 365]
    assert hit_probability(BTC, lp, 0.4, hs[0]) < 1e-3 <= hit_probability(BTC, lp, 0.4, hs[1])
    r = _risk(cp, hs, n_paths=20_000, seed=1)
    one, seven = r.probabilities[hs[0]], r.probabilities[hs[1]]
    assert one.method == "importance" and seven.method != "importance"
    assert one.p > 0 and 0 < one.stderr < 0.1 * one.p
    for h in hs:
        assert within(r.probabilities[h], float(hit_probability(BTC, lp, 0.4, h)))


@pytest.mark.parametrize("method", ["plain", "antithetic"])
def test_a_sampled_zero_carries_the_rule_of_three_bound(method):
    """No path comes within the bridge range of an LP 13.9% below in 1 day at 40% vol: p is an
    exact sampled 0, reported with the one-sided 95% bound 3/n over the independent samples
    (pairs when antithetic, while ``paths`` counts the paths simulated)."""
    cp, _ = _isolated(0.1, 7, vol=0.4)
    h = 1 / 365
    est = _risk(cp, [h], n_paths=20_000, seed=1, method=method).probabilities[h]
    assert est.p == 0.0 and est.stderr == 0.0 and est.paths == 20_000
    n = 20_000 // 2 if method == "antithetic" else 20_000
    assert est.ci95 == (0.0, 3 / n) and est.method == f"{method} (no hits)"


def test_time_histogram_counts_the_liquidated_paths_in_hour_bins():
    cp, _ = _isolated(0.1, 20)
    hs = [1 / 365, 7 / 365]
    r = _risk(cp, hs, n_paths=8192, seed=3, method="plain")
    th = r.time_histogram
    edges = np.array(th.edges_hours)
    assert edges[0] == 0.0 and edges[-1] == pytest.approx(168.0)
    assert np.all(np.diff(edges) > 0) and len(th.counts) == len(edges) - 1
    assert sum(th.counts) == pytest.approx(th.paths) and th.paths > 0
    assert sum(th.fraction) == pytest.approx(1.0)
    # the fraction liquidated by 24h is P(1d)/P(7d) of the same paths, up to the sampling of
    # each path's liquidation step (binomial over the liquidated paths)
    cum = np.cumsum(th.fraction)
    k = int(np.flatnonzero(np.isclose(edges, 24.0))[0])
    ratio = r.probabilities[hs[0]].p / r.probabilities[hs[1]].p
    assert abs(cum[k - 1] - ratio) < 3 * math.sqrt(ratio * (1 - ratio) / th.paths)
    med = r.time_to_liquidation[0.5] * 8760
    b = int(np.searchsorted(cum, 0.5))
    assert edges[b] <= med <= edges[b + 1]


def _second_moment(mu, d):
    """E_Q[(L·1{max W ≥ d})²] of Brownian motion over unit time tilted by drift μ (reflection
    principle: e^{μ²}[Φ̄(d+μ) + e^{−2dμ}Φ̄(d−μ)])."""
    from scipy.special import ndtr
    return math.exp(mu * mu) * (ndtr(-(d + mu)) + math.exp(-2 * d * mu) * ndtr(-(d - mu)))


@pytest.mark.numerics
def test_a_bucketed_tilt_matches_the_closed_form_at_1e_6_within_a_stated_factor_of_the_exact_error_bar(monkeypatch):
    """A 10x long whose LP is d = 1.15^11.52 = 5.00 sd of the 1d move away: the grid point is
    1.15^12 (relative tilt error ε = 1.15^0.48 − 1 = +6.9 %, near the largest). The estimate
    agrees with the reflection principle (p ≈ 6e-7) and its error bar, averaged over 4 seeds, is
    within 1.3× an exact tilt's (grid 1 + 1e-9): for the tilted indicator the second moment
    M(μ) above gives √(M(d(1+ε))/M(d)) = 1.185; the bridge-corrected estimate measured 1.07 over
    these 4 seeds and 1.12 over 12; one IS error bar varies by ±15–20 % from seed to seed
    (heavy-tailed weights)."""
    import liqrisk.risk.book_mc as bm
    h = 1 / 365
    cp, lp = _isolated(0.1, 10)
    d = bm.IS_GRID ** 11.52
    vol = abs(math.log(lp / BTC)) / (d * math.sqrt(h))
    exact_p = float(hit_probability(BTC, lp, vol, h))
    assert 4e-7 < exact_p < 2e-6
    assert bm._tilt_bucket(math.log(lp / BTC), vol, h / 24, 24) == (-1, 12)
    eps = bm.IS_GRID ** 0.48 - 1
    assert 1.17 < math.sqrt(_second_moment(d * (1 + eps), d) / _second_moment(d, d)) < 1.20

    def runs():
        return [_risk(cp, [h], model=gbm(vol), n_paths=50_000, seed=s, method="importance").probabilities[h]
                for s in range(4)]
    bucketed = runs()
    monkeypatch.setattr(bm, "IS_GRID", 1 + 1e-9)
    exact = runs()
    assert all(e.method == "importance" and within(e, exact_p, 3.5) for e in bucketed + exact)
    assert np.mean([e.stderr for e in bucketed]) < 1.3 * np.mean([e.stderr for e in exact])


def test_an_accounts_importance_estimate_is_the_same_alone_and_in_a_50_account_book(monkeypatch):
    """Rare accounts share a tilted run per (horizon, axis, side, grid point); the run's key and
    paths do not depend on who else is in it, so an account's numbers are those it gets alone."""
    import liqrisk.risk.book_mc as bm
    accounts = [{"id": f"a{k}", "venue": "binance-usdm", "mode": "isolated",
                 "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 0.1 if k % 2 else -0.1,
                                "entry": BTC, "margin": 0.1 * BTC / (6 + k / 10)}]} for k in range(50)]
    cp = CompiledPortfolio(parse_portfolio({"as_of": AS_OF, "market": {"BTC": {"mark": BTC, "vol": 0.4}},
                                            "accounts": accounts}))
    runs, real = [], bm._run
    monkeypatch.setattr(bm, "_run", lambda cp, g, sel, *a, **kw: runs.append(list(sel)) or real(cp, g, sel, *a, **kw))
    model, hs = gbm(0.4), [1 / 365]
    book = book_liquidation_risk(cp, list(range(50)), [0], model, hs, n_paths=4000, seed=5)
    tilted = runs[1:]
    assert sorted(sum(tilted, [])) == list(range(50)) and len(tilted) < 35
    for k in (7, 30):
        assert any(k in sel and len(sel) > 1 for sel in tilted)
        alone = book_liquidation_risk(cp, [k], [0], model, hs, n_paths=4000, seed=5)[0]
        assert book[k].probabilities[hs[0]].method == "importance"
        assert alone.probabilities == book[k].probabilities


def _solo_cross_book(n_acc, seed):
    """n_acc Binance cross accounts, each a perp on BTC, ETH and SOL (random sides, notionals
    lognormal around 20,000 USD, some across tier floors), every fourth also holding an isolated
    BTC future long (so it is not its cross pool alone): both kernels run in one call."""
    rng = np.random.default_rng(seed)
    names, marks = ["BTC", "ETH", "SOL"], [91_250.0, 3_050.0, 142.5]
    accounts = []
    for i in range(n_acc):
        pos = [{"symbol": f"{n}USDT", "kind": "perp", "size": float(rng.choice([-1, 1]) * rng.lognormal(10, 1.2) / m),
                "entry": m * float(rng.uniform(0.97, 1.03))} for n, m in zip(names, marks)]
        if i % 4 == 3:
            pos.append({"symbol": "BTCUSDT_270326", "kind": "future", "expiry": "2027-03-26T08:00:00Z", "size": 0.05,
                        "entry": BTC, "margin": 600.0})
        accounts.append({"id": f"a{i}", "venue": "binance-usdm", "collateral": {"USDT": float(rng.uniform(800, 6000))},
                         "positions": pos})
    doc = {"as_of": AS_OF, "market": {n: {"mark": m, "vol": 0.7} for n, m in zip(names, marks)},
           "accounts": accounts}
    return CompiledPortfolio(parse_portfolio(doc))


@pytest.mark.parametrize("case", ["gbm-plain", "gbm-importance", "student-antithetic", "fhs-garch"])
def test_cross_pools_walked_in_blocks_of_paths_give_the_numbers_of_the_path_by_path_walk(case):
    """An affine cross pool that is its account's only pool is walked over blocks of paths at
    once (book_mc.SOLO_BLOCKS, liqrisk.risk.affine_block): the same arithmetic per path as the
    path-by-path affine walk, so every number — probabilities and their errors, per pool, VaR/ES,
    the liquidation-time histogram — is identical with the blocks on and off, whatever the model
    (plain, tilted, antithetic pairs, GARCH variance ratios) and with accounts of both kinds in
    one run."""
    from liqrisk.dynamics.fhs import bundled_history, fhs_model
    from liqrisk.risk import book_mc
    cp = _solo_cross_book(24, 11)
    if case == "fhs-garch":
        hist = {a: bundled_history(a) for a in ("BTC", "ETH")}
        model, axes = fhs_model(["BTC", "ETH"], np.array([0.7, 0.7]), hist, np.eye(2), tails="empirical").model, [0, 1]
        # SOL not simulated: held at its mark (the pools still move with two axes)
    elif case == "student-antithetic":
        model, axes = student_t([0.7] * 3, 4.0, corr=0.5 + 0.5 * np.eye(3)), [0, 1, 2]
    else:
        model, axes = gbm([0.7] * 3, corr=0.5 + 0.5 * np.eye(3)), [0, 1, 2]
    method = {"gbm-plain": "plain", "gbm-importance": "importance", "student-antithetic": "antithetic",
              "fhs-garch": "auto"}[case]
    run = lambda: book_liquidation_risk(cp, list(range(24)), axes, model, [1 / 24 / 365, 1 / 365, 3 / 365],
                                        n_paths=1000, seed=4, method=method)
    blocks = run()
    book_mc.SOLO_BLOCKS = False
    try:
        paths = run()
    finally:
        book_mc.SOLO_BLOCKS = True
    hits = 0
    for a, b in zip(blocks, paths):
        assert a.probabilities == b.probabilities and a.pools == b.pools
        assert a.var99 == b.var99 and a.es99 == b.es99
        assert a.time_histogram == b.time_histogram
        hits += sum(e.p > 0 for e in a.probabilities.values())
    assert hits >= 10                        # the comparison is not of zeros


def _pool_structure_loop(a, pools, margined, axes, marks):
    """The per-pool loop that book_mc._pool_structure replaced (the reference)."""
    from liqrisk.margin.base import LINEAR, MM_ENTRY_VALUE, MM_NONE, MM_TIERS_AT_MARK, NOTIONAL_SIZE

    def continuous(i):
        lo, hi = a.tier_start[i], a.tier_end[i]
        if hi - lo <= 1 or a.notional_mode[i] == NOTIONAL_SIZE or a.mm_code[i] in (MM_ENTRY_VALUE, MM_NONE):
            return True
        if a.mm_code[i] != MM_TIERS_AT_MARK:
            return False
        n, r, c = a.t_floor[lo + 1:hi], a.t_mmr[lo:hi], a.t_cum[lo:hi]
        return bool(np.allclose(n * r[:-1] - c[:-1], n * r[1:] - c[1:], rtol=1e-9, atol=1e-9 * max(1.0, n.max())))
    loc = {ax: k for k, ax in enumerate(axes)}
    n = len(pools)
    screenable, affine = np.zeros(n, np.bool_), np.zeros(n, np.bool_)
    ec, ek, expiry = np.zeros(n), np.zeros((n, len(axes))), np.full(n, np.inf)
    for b, p in enumerate(pools):
        rows = range(a.pos_start[p], a.pos_end[p])
        s_ax = a.settle_axis[p]
        expiry[b] = min([a.expiry[i] for i in rows if a.expiry[i] > 0], default=np.inf)
        rising = all(np.all(np.diff(a.t_mmr[a.tier_start[i]:a.tier_end[i]]) >= 0) and continuous(i) for i in rows)
        own_axis = all(a.contract[i] == LINEAR or s_ax < 0 or a.axis[i] == s_ax for i in rows)
        screenable[b] = (not a.dense[p] and a.sc_end[p] == a.sc_start[p] and rising and own_axis) or not margined[b]
        affine[b] = all(a.contract[i] == LINEAR for i in rows)
        if affine[b]:
            ec[b] = a.const_usd[p]
            for j in range(a.leg_start[p], a.leg_end[p]):
                if a.leg_axis[j] in loc:
                    ek[b, loc[a.leg_axis[j]]] += a.leg_amount[j]
                else:
                    ec[b] += a.leg_amount[j] * marks[a.leg_axis[j]]
            for i in rows:
                ec[b] -= a.qty[i] * a.entry[i]
                if a.axis[i] in loc:
                    ek[b, loc[a.axis[i]]] += a.qty[i] * a.basis[i]
                else:
                    ec[b] += a.qty[i] * (marks[a.axis[i]] * a.basis[i])
    return screenable, affine, ec, ek, expiry


def test_pool_structure_vectorised_over_pools_equals_the_loop_on_every_example():
    """book_mc._pool_structure (screenable, affine, equity coefficients, first expiry) computed
    for all pools at once equals the per-pool loop, bit for bit, on every example portfolio
    (inverse, options, portfolio margin, loans, tiers of every form) and a random cross book,
    for the first axis alone and for every axis simulated."""
    import glob
    from liqrisk.load import load_portfolio
    from liqrisk.risk.book_mc import _pool_structure
    books = [CompiledPortfolio(load_portfolio(f)) for f in sorted(glob.glob("examples/*.yaml"))]
    books += [_solo_cross_book(40, 3), _dated_cross_book(np.random.default_rng(2), {"USDT": 9_000.0, "BTC": 0.3})[0]]
    checked = 0
    for cp in books:
        a = cp.arrays
        pools = np.arange(len(a.pos_start))
        margined = np.array([a.margined(p) for p in pools], dtype=np.bool_)
        for axes in ([0], list(range(len(cp.market.prices)))):
            new = _pool_structure(a, pools, margined, axes, cp.market.prices)
            old = _pool_structure_loop(a, pools, margined, axes, cp.market.prices)
            for x, y in zip(new, old):
                np.testing.assert_array_equal(x, y)
            checked += int((~new[0]).sum() + new[1].sum())
    assert len(books) >= 6 and checked > 0
