"""A symbol the venue does not list is refused, naming the flag (size) or the position (a
portfolio), with the forms the venue lists: ``size --venue deribit --symbol BTCUSDT`` sized
Deribit's inverse perpetual (1.1e9 USD face on 10,000 BTC of collateral), and an analyze of a
Deribit account holding ``BTCUSDT`` ran as if it held BTC-PERPETUAL."""
import copy
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from liqrisk.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
SIZE = ["size", "--json", "--venue", "deribit", "--collateral", "1", "--leverage", "10", "--mark", "91250",
        "--vol", "0.5", "--target", "distance>=3sd", "--paths", "200"]
FORMS = "deribit lists perpetuals as COIN-PERPETUAL (BTC-PERPETUAL), futures as COIN-DDMMMYY (BTC-25DEC26), " \
        "options as COIN-DDMMMYY-STRIKE-C|P (BTC-25DEC26-100000-C)"


@pytest.mark.parametrize("symbol, message", [
    ("BTCUSDT", f"error: --symbol BTCUSDT: not a deribit instrument name ({FORMS})"),
    ("BTC-PERP", f"error: --symbol BTC-PERP: not a deribit instrument name ({FORMS})"),
    ("BTC-25DEC26", "error: --symbol BTC-25DEC26: a deribit future, not a perp"),
    ("BTC_USDC-PERPETUAL", "error: --symbol BTC_USDC-PERPETUAL: linear (USDC) contracts on deribit are not "
                           "supported yet"),
])
def test_size_refuses_a_symbol_deribit_does_not_list(symbol, message):
    res = runner.invoke(app, SIZE + ["--symbol", symbol])
    assert res.exit_code == 2, res.output
    assert res.stderr.strip() == message, res.stderr


def test_size_takes_deribits_own_names():
    for symbol in ("BTC-PERPETUAL", "eth-perpetual"):
        res = runner.invoke(app, SIZE + ["--symbol", symbol])
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout)["leverage_cap"] > 0


def test_a_deribit_account_holding_a_binance_symbol_is_refused(tmp_path):
    doc = yaml.safe_load((ROOT / "examples" / "multi_venue.yaml").read_text())
    acc = next(a for a in doc["accounts"] if a["venue"] == "deribit")
    acc["positions"].append({"symbol": "BTCUSDT", "kind": "perp", "size": 10000, "entry": 90000})
    n = len(acc["positions"])
    f = tmp_path / "p.yaml"
    f.write_text(yaml.safe_dump(doc))
    res = runner.invoke(app, ["analyze", str(f)])
    assert res.exit_code == 2, res.output
    assert res.stderr.strip() == (f"error: account '{acc['id']}', position {n} (BTCUSDT), field 'symbol': "
                                  f"not a deribit instrument name ({FORMS})"), res.stderr


@pytest.mark.parametrize("venue, symbol, forms, good", [
    ("binance-coinm", "BTCUSDT", "BTCUSD_PERP, BTCUSD_261225", "BTCUSD_PERP"),
    ("bybit-inverse", "BTCUSDT", "BTCUSD, BTCUSDZ26", "BTCUSD"),
    ("okx", "BTCUSDT", "BTC-USDT-SWAP, BTC-USD-SWAP, BTC-USD-261225", "BTC-USDT-SWAP"),
    ("okx", "BTC-PERPETUAL", "BTC-USDT-SWAP, BTC-USD-SWAP, BTC-USD-261225", "BTC-USD-SWAP"),
])
def test_venues_with_a_naming_grammar_refuse_other_names(venue, symbol, forms, good):
    """binance-coinm and bybit-inverse sized BTCUSDT as their inverse contract, okx as a linear
    swap: the name is now checked against the venue's forms (RuleSet.symbol_forms)."""
    base = ["size", "--json", "--venue", venue, "--collateral", "1" if venue != "okx" else "10000",
            "--leverage", "10", "--mark", "91250", "--vol", "0.5", "--target", "distance>=3sd", "--paths", "200"]
    res = runner.invoke(app, base + ["--symbol", symbol])
    assert res.exit_code == 2, res.output
    assert res.stderr.strip() == f"error: --symbol {symbol}: not a {venue} contract name ({venue} lists {forms})"
    assert runner.invoke(app, base + ["--symbol", good]).exit_code == 0
