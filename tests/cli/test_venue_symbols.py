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
from liqrisk.margin.registry import RULE_SETS

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
    # issue 9 (stop 20): these venues had no forms, and any name was read by its underlying
    ("binance-usdm", "BTC", "BTCUSDT, BTCUSDT_261225", "1000PEPEUSDT"),
    ("binance-usdm", "BTCUSD_PERP", "BTCUSDT, BTCUSDT_261225", "BTCUSDT_261225"),
    ("bybit-linear", "BTC-PERP", "BTCUSDT, BTCPERP, BTCUSDT-25DEC26, BTC-25DEC26", "BTCPERP"),
    ("hyperliquid", "BTCUSDT", "BTC, kPEPE, XYZ:TSLA", "BTC"),
    ("bitmex", "BTC", "XBTUSD", "XBTUSD"),
    ("gate", "BTCUSDT", "BTC_USDT, BTC_USDT_20261225", "BTC_USDT"),
    ("bitget", "BTC-USDT-SWAP", "BTCUSDT", "BTCUSDT"),
    ("kucoin", "BTCUSDT", "XBTUSDTM", "XBTUSDTM"),
    ("phemex", "BTC", "BTCUSDT", "BTCUSDT"),
    ("kraken-futures", "XBTUSD", "PF_XBTUSD, FF_XBTUSD_261225", "PF_XBTUSD"),
])
def test_venues_with_a_naming_grammar_refuse_other_names(venue, symbol, forms, good):
    """binance-coinm and bybit-inverse sized BTCUSDT as their inverse contract, okx as a linear
    swap: the name is now checked against the venue's forms (RuleSet.symbol_forms)."""
    coin = RULE_SETS[venue].settles_in_coin
    base = ["size", "--json", "--venue", venue, "--collateral", "1" if coin else "10000",
            "--leverage", "10", "--mark", "91250", "--vol", "0.5", "--target", "distance>=3sd", "--paths", "200"]
    res = runner.invoke(app, base + ["--symbol", symbol])
    assert res.exit_code == 2, res.output
    assert res.stderr.strip() == f"error: --symbol {symbol}: not a {venue} contract name ({venue} lists {forms})"
    assert runner.invoke(app, base + ["--symbol", good]).exit_code == 0


def test_a_kraken_futures_name_is_read_by_its_coin():
    """PF_XBTUSD and FF_ETHUSD_261225 are BTC and ETH (the generic parser read the prefix PF as
    the coin, so Kraken's own names had no price)."""
    from liqrisk.margin.registry import rule_set_for
    from liqrisk.model import Instrument, Position
    rules = rule_set_for("kraken-futures")
    assert [rules.underlying_of(Position(Instrument(k, s), 1.0, 1.0)) for k, s in
            (("perp", "PF_XBTUSD"), ("future", "FF_ETHUSD_261225"), ("perp", "pf_solusd"))] == ["BTC", "ETH", "SOL"]
