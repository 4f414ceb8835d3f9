"""what-if and advise print the user's ids and asset names as written (no rich markup, no emoji)."""
import json

from typer.testing import CliRunner

from liqrisk.cli import app

runner = CliRunner()
ID = "[red]desk[/red] :fire:"


def _file(tmp_path):
    doc = {"as_of": "2026-11-23T00:00:00Z", "market": {"BTC": {"mark": 91250.0, "vol": 0.52}},
           "accounts": [{"id": ID, "venue": "binance-usdm", "collateral": {"USDT": 5000},
                         "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 0.5, "entry": 90000}]}]}
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_what_if_prints_the_account_id_as_written(tmp_path):
    res = runner.invoke(app, ["what-if", _file(tmp_path), "--shock", "BTC=-5%"])
    assert res.exit_code == 0, res.output
    assert ID in res.output and "🔥" not in res.output


def test_advise_prints_the_account_id_as_written(tmp_path):
    res = runner.invoke(app, ["advise", _file(tmp_path), "--target", "distance>=1sd"])
    assert res.exit_code == 0, res.output
    assert ID in res.output and "🔥" not in res.output


def test_vol_prints_the_file_name_as_written(tmp_path):
    import shutil

    from liqrisk.dynamics.ohlc import bundled_data_path
    path = tmp_path / "[red]btc.csv"
    shutil.copy(bundled_data_path("btcusd_1d_coinbase.csv"), path)
    res = runner.invoke(app, ["vol", str(path)])
    assert res.exit_code == 0, res.output
    assert "[red]btc.csv" in res.output
