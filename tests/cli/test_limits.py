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
