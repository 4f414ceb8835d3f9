"""Flags checked whether or not the run uses them, and with ranges that keep every reported number
finite — found by the one-flag-at-a-time fuzz of exit-cost, size and hedge-backtest (tests/fuzz, issue 9): each
of these ran with exit 0 (a null time to exit without a note, a flag silently ignored) or named
no flag."""
from pathlib import Path

import pytest
from typer.testing import CliRunner

from liqrisk.cli import app

ROOT = Path(__file__).resolve().parents[2]
BOOK = str(ROOT / "examples" / "books" / "btc_book.json")
EXIT = ["exit-cost", "--json", "--position", "BTC:1.5:91250"]
SIZE = ["size", "--json", "--venue", "binance-usdm", "--symbol", "BTCUSDT", "--leverage", "10", "--collateral",
        "10000", "--mark", "91250", "--vol", "0.5", "--paths", "200"]
runner = CliRunner()


@pytest.mark.parametrize("args, message", [
    (EXIT + ["--volume", "=5"], "error: --volume '=5': expected UNDERLYING=DAILY_VOLUME with 1e-08 ≤ volume ≤ 1e+15"),
    (EXIT + ["--volume", "BTC=5e-324"], "error: --volume 'BTC=5e-324': expected UNDERLYING=DAILY_VOLUME"),
    (EXIT + ["--participation", "5e-324"], "error: --participation 4.94066e-324: must be in [1e-06, 1]"),
    (EXIT + ["--horizon", "367d"], "error: --horizon '367d': 8808 hours; must be in (0, 8784] hours (366 days)"),
    (EXIT + ["--horizon", "1" + "0" * 26 + "d"], "error: --horizon '1" + "0" * 26 + "d': 2.4e+27 hours; must be in"),
    (EXIT + ["--book", f"ETH={BOOK}"], f"error: --book 'ETH={BOOK}': no position on ETH (underlyings: BTC)"),
    (SIZE + ["--target", "distance>=3sd", "--horizon", "abc"], "error: horizon 'abc': expected a positive number"),
    (SIZE + ["--target", "p(7d)<=1%", "--seed", "-1"], "error: --seed -1: must be ≥ 0"),
    (["hedge-backtest", "--json", "--spot", "91250", "--strike", "100000", "--expiry-days", "30", "--vol", "0.5",
      "--paths", "50", "--lot", "5e-324"], "error: --lot 4.94066e-324: must be 0 (continuous) or at least 1e-12"),
    (["hedge-backtest", "--json", "--spot", "91250", "--strike", "100000", "--expiry-days", "30", "--vol", "0.5",
      "--paths", "50", "--funding", "0.1"], "error: --funding 0.1: must be a finite rate per 8 h with |rate| < 0.1"),
    (["analyze", str(ROOT / "examples" / "multi_venue.yaml"), "--participation", "1e-7"],
     "error: --participation 1e-07: must be in [1e-06, 1] (a share of daily volume)"),
    # issue 10: --drift nan gave p = 1 and --drift -1000 gave 0.29 (every path liquidated in step 1)
    *((["analyze", str(ROOT / "examples" / "multi_venue.yaml"), "--horizon", "1d", "--drift", d],
      f"error: --drift {d}: must be a finite annual return in [-10, 10]") for d in ("nan", "-1000", "inf", "10.5")),
])
def test_a_bad_flag_is_refused_naming_it(args, message):
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith(message) and len(res.stderr.splitlines()) == 1, res.stderr


def test_the_bounds_themselves_still_run():
    for args in (EXIT + ["--volume", "BTC=1e-8", "--participation", "1e-6"], EXIT + ["--book", f"BTC={BOOK}"],
                 EXIT + ["--horizon", "366d"],
                 SIZE + ["--target", "distance>=3sd", "--horizon", "30m"]):
        res = runner.invoke(app, args)
        assert res.exit_code == 0, (args, res.output)
