"""`liqrisk vol` on the bundled data (typer CliRunner)."""
import json

import pytest
from typer.testing import CliRunner

from liqrisk.cli import app
from liqrisk.dynamics.ohlc import bundled_data_path, load_ohlc
from liqrisk.dynamics.volatility import ESTIMATORS, estimate_all

HOURLY = str(bundled_data_path("btcusd_1h_coinbase.csv"))
runner = CliRunner()


def test_table_shows_every_estimator_and_the_garch_forecast_row():
    result = runner.invoke(app, ["vol", HOURLY])
    assert result.exit_code == 0, result.output
    for name in ESTIMATORS:
        assert name in result.output
    assert "last 30 bars" in result.output
    assert "GARCH(1,1) forecast" in result.output and "30d" in result.output


def test_json_is_one_document_matching_the_library():
    result = runner.invoke(app, ["vol", HOURLY, "--json", "--window", "720",
                                 "-e", "parkinson", "-e", "yang_zhang"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    bars = load_ohlc(HOURLY)
    expected = estimate_all(bars, 720, estimators=("parkinson", "yang_zhang"))
    assert doc["last_window"]["vol_annualised"] == pytest.approx(dict(expected), rel=1e-12)
    assert doc["full_sample"]["n_bars"] == 20111 and doc["full_sample"]["bar_seconds"] == 3600
    forecast = doc["garch"]["forecast_vol_annualised"]
    assert set(forecast) == {"1d", "7d", "30d"} and all(0.1 < v < 3 for v in forecast.values())


def test_no_garch_and_asset_selection_on_the_bitstamp_file():
    path = str(bundled_data_path("btc_eth_usd_1d_bitstamp.csv"))
    result = runner.invoke(app, ["vol", path, "--asset", "eth", "--no-garch", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["garch"] is None and doc["full_sample"]["start"] == "2017-11-09T00:00:00"


@pytest.mark.parametrize("args, message", [
    (["vol", "/no/such/file.csv"], "no such file"),
    (["vol", str(bundled_data_path("btc_eth_usd_1d_bitstamp.csv"))],
     "btc_eth_usd_1d_bitstamp.csv: columns of several assets: choose one with --asset (btc | eth)"),
    (["vol", HOURLY, "-e", "vix", "--no-garch"], "unknown estimator 'vix'"),
])
def test_bad_input_exits_2_with_one_line_message(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.stderr.strip().count("\n") == 0 and message in result.stderr


def test_bad_bars_exit_2(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,open,high,low,close,volume\n"
                    "2024-01-01T00:00:00Z,100,90,95,92,1\n2024-01-01T01:00:00Z,92,93,91,92,1\n")
    result = runner.invoke(app, ["vol", str(path)])
    assert result.exit_code == 2
    assert result.stderr.strip() == ("error: bad.csv: line 2, column 'high': value 90 is below the low")


def test_bad_tick_in_the_bundled_daily_file_is_flagged():
    # the bundled Coinbase daily file has a bar with low 0.06 on 2017-04-15: range estimators explode
    import json
    from typer.testing import CliRunner
    from liqrisk.cli import app
    from liqrisk.dynamics.ohlc import bundled_data_path
    out = CliRunner().invoke(app, ["vol", str(bundled_data_path("btcusd_1d_coinbase.csv")), "--no-garch", "--json"])
    assert out.exit_code == 0
    assert any("bad high/low" in w for w in json.loads(out.stdout)["warnings"])


def test_a_window_longer_than_the_file_names_the_file_and_its_bar_count():
    daily = bundled_data_path("btcusd_1d_coinbase.csv")
    n = len(load_ohlc(daily))
    assert runner.invoke(app, ["vol", str(daily), "--window", str(n - 1), "--no-garch", "--json"]).exit_code == 0
    res = runner.invoke(app, ["vol", str(daily), "--window", str(n), "--no-garch"])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert res.stderr.startswith(f"error: btcusd_1d_coinbase.csv: --window {n} ") and f"{n} bars" in res.stderr

