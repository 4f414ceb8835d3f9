"""Market keys are symbols like every other in a portfolio: upper-cased (``btc`` is ``BTC``, as
collateral, supplied, borrowed and underlyings are); two keys naming one underlying, or a key
with a symbol separator (``[b]BTC[/b]``: no position or hedge could name it), exit 2 naming the
key as written; user-given names print literally (no rich markup)."""
import copy
import json

import pytest
from typer.testing import CliRunner

from liqrisk.cli import app

runner = CliRunner()
DOC = {"as_of": "2026-11-23T00:00:00Z", "market": {"BTC": {"mark": 91000.0, "vol": 0.5}, "ETH": {"mark": 3000.0, "vol": 0.6}},
       "correlation": {"BTC": {"ETH": 0.8}},
       "accounts": [{"id": "a", "venue": "binance-usdm", "collateral": {"USDT": 5000, "ETH": 1},
                     "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": 90000}]}]}


def _run(tmp_path, doc, *args):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc))
    return runner.invoke(app, [args[0], str(path), *args[1:]])


def _keyed(rename):
    doc = copy.deepcopy(DOC)
    doc["market"] = {rename.get(k, k): v for k, v in doc["market"].items()}
    doc["correlation"] = {rename.get(a, a): {rename.get(b, b): r for b, r in row.items()}
                          for a, row in doc["correlation"].items()}
    return doc


def test_a_lower_case_market_key_prices_the_positions_and_collateral_on_it(tmp_path):
    """Before: 'no market entry for underlying BTC' and 'no price for ETH' for keys btc / eth."""
    want = _run(tmp_path, DOC, "analyze", "--json", "--horizon", "1d", "--paths", "500")
    got = _run(tmp_path, _keyed({"BTC": "btc", "ETH": "Eth"}), "analyze", "--json", "--horizon", "1d", "--paths", "500")
    assert want.exit_code == 0 and got.exit_code == 0, got.output
    a, b = json.loads(want.stdout)["accounts"][0], json.loads(got.stdout)["accounts"][0]
    assert b["equity"] == a["equity"] == pytest.approx(5000 + 3000 + 1000)
    assert b["liquidation"] == a["liquidation"] and b["probability"] == a["probability"]


def test_two_keys_for_one_underlying_exit_2_naming_both(tmp_path):
    doc = copy.deepcopy(DOC)
    doc["market"]["btc"] = {"mark": 80000.0, "vol": 0.5}
    res = _run(tmp_path, doc, "analyze")
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "keys 'BTC' and 'btc' both name 'BTC'" in res.output, res.output


@pytest.mark.parametrize("key", ["[b]BTC[/b]", "btc-perp", "BTC/USD", "BTC_X"])
def test_a_key_with_a_symbol_separator_exits_2_naming_it_as_written(tmp_path, key):
    doc = copy.deepcopy(DOC)
    doc["market"][key] = {"mark": 91000.0, "vol": 0.5}
    res = _run(tmp_path, doc, "analyze")
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert f"market '{key}': an underlying's name cannot hold" in res.output, res.output


def test_a_hip3_market_key_is_still_accepted(tmp_path):
    doc = copy.deepcopy(DOC)
    doc["market"]["xyz:TSLA"] = {"mark": 400.0, "vol": 0.6}
    assert _run(tmp_path, doc, "analyze", "--json").exit_code == 0


def test_markup_in_ids_keys_and_symbols_prints_literally(tmp_path):
    doc = copy.deepcopy(DOC)
    doc["market"]["[I]SOL"] = {"mark": 150.0, "vol": 0.8}
    doc["accounts"][0]["id"] = "[red]desk[/red] :fire:"
    doc["accounts"][0]["positions"].append({"underlying": "[i]sol", "kind": "perp", "size": -10, "entry": 150,
                                            "mmr": 0.01, "cum": 0})
    for args in (("analyze",), ("advise", "--target", "distance>=8sd"), ("what-if", "--shock", "[I]SOL=+5%")):
        res = _run(tmp_path, doc, *args)
        assert res.exit_code == 0, (args, res.output)
        assert "[red]desk[/red] :fire:" in res.output and "🔥" not in res.output, args
        assert "[I]SOL" in res.output, args


def test_advise_and_what_if_trade_a_position_given_by_its_underlying(tmp_path):
    """A perp given as ``underlying: BTC`` (no symbol): the hedge was an ``--add BTC`` that made a
    new contract named 'BTC' — exit 2 "not a binance-usdm contract name" for advise on a valid file
    — and the hedge label formatted its missing expiry (TypeError). The trade nets into it."""
    doc = copy.deepcopy(DOC)
    doc["accounts"][0]["positions"] = [{"underlying": "BTC", "kind": "perp", "size": 1.0, "entry": 90000,
                                        "mmr": 0.005, "cum": 0}]
    res = _run(tmp_path, doc, "advise", "--target", "distance>=8sd", "--json")
    assert res.exit_code == 0, res.output
    hedges = [x for x in json.loads(res.stdout)["accounts"][0]["actions"] if x["kind"] == "hedge"]
    assert hedges and hedges[0]["meets"] and "BTC perp" in hedges[0]["description"]
    res = _run(tmp_path, doc, "what-if", "--add", "a:BTC:-0.5", "--json")
    assert res.exit_code == 0, res.output
    a = json.loads(res.stdout)["accounts"][0]
    assert a["before"]["maintenance_margin"] == pytest.approx(91000 * 0.005)
    assert a["after"]["maintenance_margin"] == pytest.approx(0.5 * 91000 * 0.005)   # netted: 0.5 BTC at its mmr
