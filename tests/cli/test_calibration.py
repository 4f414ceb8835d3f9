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


def test_the_daily_backtest_prints_the_file_name_as_written(tmp_path):
    """The file name went to rich unescaped: ``[red]`` was eaten as markup, ``:fire:`` became 🔥."""
    import shutil
    path = tmp_path / "[red]daily :fire:.csv"
    shutil.copy(MULTI, path)
    res = runner.invoke(app, ["backtest-calibration", "--file", str(path), "--start", "2019-06-01", "--end",
                              "2019-07-01", "--n-paths", "100", "--model", "gbm"])
    assert res.exit_code == 0, res.output
    assert "[red]daily :fire:.csv" in res.stdout and "🔥" not in res.stdout


def test_zero_paths_are_refused_not_replaced_by_the_default():
    """Issue 9 (hand probes): ``--n-paths 0`` was falsy, so the run took the default (2000, hourly
    4096) and exited 0, while ``--n-paths 1`` was refused as outside 100 … 1,000,000."""
    for args in (["--start", "2019-06-01", "--end", "2019-07-01"], ["--hourly"]):
        res = runner.invoke(app, ["backtest-calibration", "--json", "--n-paths", "0", *args])
        assert res.exit_code == 2 and res.stderr == "error: --n-paths 0: must be 100 … 1,000,000\n", res.output
