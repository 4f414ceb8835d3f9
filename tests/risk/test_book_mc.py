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
from liqrisk.dynamics.paths import gbm, student_t
from liqrisk.load import parse_portfolio
from liqrisk.margin.account import CompiledPortfolio
from liqrisk.risk.book_mc import SimulationTooLarge, book_liquidation_risk
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
        assert r.pools["isolated BTCUSDT"][h] == r.probabilities[h] or method == "auto"


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
    for i in (0, 3, 6):
        axes = sorted(set().union(*cp.plans[i].pool_axes.values()))
        model = gbm(np.array([cp.market.atm_vol(cp.market.names[a]) for a in axes]))
        on, off = (book_liquidation_risk(cp, [i], axes, model, [1 / 365, 3 / 365], n_paths=3000, seed=1,
                                         method="plain", screen=s)[0] for s in (True, False))
        assert on.probabilities == off.probabilities and on.pools == off.pools
        assert on.var99 == off.var99 and on.es99 == off.es99
