"""The Monte Carlo size bounds (longest horizon, paths × time steps) hold for every command that
simulates, each with its --max-* flag: 80 million paths used to run for hours."""
from pathlib import Path

import pytest
from typer.testing import CliRunner

from liqrisk.cli import app

DEMO = str(Path(__file__).resolve().parents[2] / "examples" / "multi_venue.yaml")
SIZE = ["size", "--venue", "binance-usdm", "--symbol", "BTCUSDT", "--leverage", "10", "--collateral", "10000",
        "--mark", "91250", "--vol", "0.5"]


@pytest.mark.parametrize("args, message", [
    (["what-if", DEMO, "--horizon", "1d", "--paths", "80000000"], "--paths 80000000 × 24 time steps: above the limit "
                                                                  "path_steps = 2e+08 (use fewer --paths or a shorter "
                                                                  "--horizon, or raise it with --max-path-steps)"),
    (["what-if", DEMO, "--horizon", "1d", "--paths", "1000", "--max-path-steps", "100"], "path_steps = 100"),
    (["what-if", DEMO, "--horizon", "400d"], "--horizon 400 days: above the limit horizon_days = 366 "
                                             "(use a shorter --horizon, or raise it with --max-horizon-days)"),
    (["advise", DEMO, "--target", "p(1d)<=1%", "--paths", "80000000"],
     "above the limit path_steps = 2e+08 (use fewer --paths or a shorter --target horizon, or raise it with "
     "--max-path-steps)"),
    (["advise", DEMO, "--target", "p(400d)<=1%"], "--target horizon 400 days: above the limit horizon_days = 366 "
                                                  "(use a shorter --target horizon, or raise it with --max-horizon-days)"),
    (SIZE + ["--target", "p(7d)<=1%", "--paths", "80000000"], "above the limit path_steps"),
    (SIZE + ["--target", "distance>=3sd", "--drift", "0.1", "--horizon", "400d"], "--horizon 400 days: above"),
])
def test_simulations_beyond_the_limits_are_refused_naming_the_flag(args, message):
    res = CliRunner().invoke(app, args + ["--json"])
    assert res.exit_code == 2 and res.stderr.startswith("error: ") and message in res.stderr, res.output


ONE_PERP = ('{"as_of": "2026-11-23T00:00:00Z", "market": {"BTC": {"mark": 91000.0, "vol": 0.6}}, "accounts": [{"id": '
            '"iso", "venue": "binance-usdm", "mode": "isolated", "positions": [{"symbol": "BTCUSDT", "kind": "perp", '
            '"size": 1.0, "entry": 91000, "margin": 9100}]}]}')
HEDGE = ["hedge-backtest", "--spot", "91250", "--strike", "100000", "--expiry-days", "30", "--vol", "0.5", "--paths", "50"]


@pytest.mark.parametrize("args", [
    ["what-if", DEMO, "--horizon", "1d", "--paths", "100"], ["advise", DEMO, "--target", "p(1d)<=1%"],
    ["advise", DEMO, "--target", "distance>=3sd"], HEDGE, ["policy-backtest", "ONE_PERP", "--account", "iso"],
    ["analyze", DEMO, "--horizon", "1d"], SIZE + ["--target", "p(7d)<=1%"],
])
def test_a_negative_seed_is_refused_naming_the_flag_by_every_command(tmp_path, args):
    """Issue 9 (hand probes): what-if, hedge-backtest and policy-backtest passed --seed -1 to
    numpy, which said only "expected non-negative integer"; advise with a distance target ran.
    Every command now has analyze's rule and line."""
    one = tmp_path / "one.json"
    one.write_text(ONE_PERP)
    res = CliRunner().invoke(app, [str(one) if a == "ONE_PERP" else a for a in args] + ["--seed", "-1", "--json"])
    assert res.exit_code == 2 and res.stderr == "error: --seed -1: must be ≥ 0\n", res.output


def test_range_paths_beyond_the_limit_is_refused_naming_range_paths():
    """--range-paths was checked only inside the engine, after the main run, by a message naming
    --horizon/--paths and a cap (2e9 path-steps) other than --max-path-steps' 2e8."""
    res = CliRunner().invoke(app, ["analyze", DEMO, "--horizon", "1d", "--paths", "200", "--range-paths",
                                   "99999999999", "--json"])
    assert res.exit_code == 2 and res.stderr == (
        "error: --range-paths 99999999999 × 24 time steps: above the limit path_steps = 2e+08 (use fewer "
        "--range-paths or a shorter --horizon, or raise it with --max-path-steps)\n"), res.output


def test_the_longest_horizon_itself_is_allowed():
    """366/365 × 365 = 366.00000000000006: ``--horizon 366d`` — README's longest horizon — was
    refused as above the limit of 366 days (issue 9, seed 13)."""
    from liqrisk.cli.limits import simulation_problems
    assert simulation_problems(["366d"], 100) == []
    assert simulation_problems(["8784h"], 100) == []
    assert simulation_problems(["367d"], 100) == ["--horizon 367 days: above the limit horizon_days = 366 (use a "
                                                  "shorter --horizon, or raise it with --max-horizon-days)"]
