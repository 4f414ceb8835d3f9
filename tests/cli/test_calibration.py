"""`liqrisk backtest-calibration` option and file checks (typer CliRunner)."""
from typer.testing import CliRunner

from liqrisk.cli import app
from liqrisk.dynamics.ohlc import bundled_data_path

runner = CliRunner()
MULTI = str(bundled_data_path("btc_eth_usd_1d_bitstamp.csv"))


def test_a_multi_asset_file_is_refused_without_suggesting_an_option_the_command_lacks():
    """The hourly back-test has no --asset: the message says which file it needs instead."""
    res = runner.invoke(app, ["backtest-calibration", "--hourly", "--file", MULTI])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "columns of several assets (btc, eth)" in res.stderr and "timestamp,open,high,low,close" in res.stderr
    assert "--asset" not in res.stderr and "choose" not in res.stderr
    assert "--asset" not in runner.invoke(app, ["backtest-calibration", "--help"]).output
