"""Policy back-test: hold matches first passage through the engine's LP on the same paths; the
cut and top-up rules avoid liquidations at a cost."""
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from liqrisk.advise.policy import policy_backtest
from liqrisk.cli import app

DOC = {"as_of": "2026-11-23T00:00:00Z", "market": {"BTC": {"mark": 91_000.0, "vol": 0.6}},
       "accounts": [{"id": "iso", "venue": "binance-usdm", "mode": "isolated",
                     "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": 91_000,
                                    "margin": 9100, "mmr": 0.005, "cum": 0.0}]}]}


def test_hold_is_first_passage_through_the_engine_lp():
    from liqrisk.analysis import analyze
    from liqrisk.dynamics import paths as P
    r = policy_backtest(DOC, "iso", horizon_days=10, steps_per_day=24, paths=4000, seed=5)
    lp = analyze(DOC).accounts[0].liquidation["BTC"]["down"]
    x = P.simulate(P.gbm(0.6), 4000, 240, 10 / 365 / 240, 5)[0][:, :, 0]
    path_min = 91_000 * np.exp(np.minimum(np.cumsum(x, axis=1).min(axis=1), 0.0))
    assert r.policies["hold"]["liquidations"] == int((path_min <= lp).sum())


def test_policies_avoid_liquidations_at_a_cost():
    d = policy_backtest(DOC, "iso", cut_below=2, topup_to=3, horizon_days=20, paths=4000, seed=1).to_dict()
    hold, cut, top = d["policies"].values()
    assert hold["liquidations"] > 0
    assert cut["liquidations"] < hold["liquidations"] and cut["cost_mean"] > 0
    assert top["liquidations"] < hold["liquidations"] and top["capital_added_mean"] > 0
    assert hold["capital_added_mean"] == 0 and hold["cost_mean"] == 0


def test_history_and_cli(tmp_path):
    f = tmp_path / "p.json"
    f.write_text(json.dumps(DOC))
    res = CliRunner().invoke(app, ["policy-backtest", str(f), "--account", "iso", "--model", "history",
                                   "--paths", "300", "--days", "7", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["paths"] == 300
    res = CliRunner().invoke(app, ["policy-backtest", str(f), "--account", "nobody"])
    assert res.exit_code == 2 and "no account 'nobody'" in res.output


@pytest.mark.parametrize("flags, message", [
    (["--days", "nan"], "--days nan: must be a finite number in (0, 366]"),
    (["--days", "1e-300"], "--days 1e-300 × --steps-per-day 24: less than one monitoring step"),
    (["--steps-per-day", "0"], "--steps-per-day 0: must be"), (["--cut-below", "inf"], "--cut-below inf: must be"),
    (["--paths", "1000000", "--days", "300"], "above the limit path_steps = 2e+08 (use fewer --paths, --days or "
                                                "--steps-per-day, or raise it with --max-path-steps)"),
])
def test_policy_backtest_options_outside_their_range_are_named(tmp_path, flags, message):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(DOC))
    res = CliRunner().invoke(app, ["policy-backtest", str(path), "--account", DOC["accounts"][0]["id"], "--json", *flags])
    assert res.exit_code == 2 and message in res.stderr, res.output


def test_chunked_run_reports_progress_and_gives_the_one_call_numbers():
    """The paths run in chunks on threads: the numbers are those of one kernel call over every
    path (paths are independent) and the progress ends at policies × paths."""
    from liqrisk.advise import policy as M
    from liqrisk.dynamics import paths as P
    from liqrisk.load import load_portfolio
    from liqrisk.margin.account import CompiledPortfolio
    seen = []
    d = policy_backtest(DOC, "iso", horizon_days=5, paths=9000, seed=2, progress=lambda k, n: seen.append((k, n)))
    assert max(seen) == (27_000, 27_000) and len(seen) == 9
    cp = CompiledPortfolio(load_portfolio(DOC))
    a, i, pool = cp.arrays, cp.plans[0].position_rows[0], cp.plans[0].position_pools[0]
    incr = np.ascontiguousarray(P.simulate(P.gbm(0.6), 9000, 120, 5 / 365 / 120, 2)[0][:, :, 0])
    res = [np.empty(9000), np.empty(9000, dtype=np.bool_), np.empty(9000), np.empty(9000), np.empty(9000, np.int64)]
    rules = cp.plans[0].rules.params
    M.policy_paths_nb(incr, 91_000.0, i, a.const_usd[pool], a.pos_i, a.pos_f.copy(), a.tiers, M.HOLD, 0.0,
                      0.6 / np.sqrt(365), rules.taker_fee, rules.liquidation_fee, *res)
    assert d.policies["hold"]["liquidations"] == int(res[1].sum())
    assert d.policies["hold"]["pnl_mean"] == pytest.approx(float(res[0].mean()), rel=1e-12)
