"""Importers on recorded answers (ccxt's own response tests, Deribit's documented example) and on
ccxt's documented unified shapes: the imported portfolio loads, and the engine's numbers on it
agree with the venue's own (liquidation prices, equity)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from liqrisk.analysis import analyze
from liqrisk.cli import app
from liqrisk.importers import ccxt, deribit, hyperliquid
from liqrisk.io.portfolio import InputError

DATA = Path(__file__).resolve().parents[1] / "data" / "import"
HL = json.loads((DATA / "hyperliquid_ccxt_static.json").read_text())


def _accounts(doc):
    return {a["id"]: a.to_dict() if hasattr(a, "to_dict") else a for a in analyze(doc).to_dict()["accounts"]}


def test_hyperliquid_state_cross_liquidation_price_matches_the_venue():
    """Cross SOL short next to an ETH long: Hyperliquid's own liquidationPx 22881.19788911."""
    state = HL["short_position"]["httpResponse"]
    doc, _ = hyperliquid.from_state(state)
    acc = _accounts(doc)["hyperliquid"]
    sol = next(p for p in acc["positions"] if p["symbol"] == "SOL")
    # inputs carry 6 decimals (USDC): the LP moves by ~1e-6 / 0.505 per unit of rounding
    assert sol["liquidation_price"] == pytest.approx(22881.19788911, abs=1e-4)
    assert acc["maintenance_margin"] == pytest.approx(float(state["crossMaintenanceMarginUsed"]), abs=1e-6)
    assert acc["equity"] == pytest.approx(float(state["crossMarginSummary"]["accountValue"]), abs=1e-6)
    assert doc["as_of"] == "2024-10-10T13:51:54Z"


def test_ccxt_hyperliquid_isolated_position_matches_the_venue():
    """ccxt's parsed isolated HYPE short + ccxt's USDC total (= marginSummary.accountValue, as the
    recorded 'swap balance' case shows): Hyperliquid's liquidationPx 50.2724802381."""
    case = HL["isolated_short_position"]
    swap = HL["swap_balance"]
    assert swap["parsedResponse"]["total"]["USDC"] == float(swap["httpResponse"]["marginSummary"]["accountValue"])
    dump = {"exchange": "hyperliquid", "positions": case["parsedResponse"],
            "balance": {"total": {"USDC": float(case["httpResponse"]["marginSummary"]["accountValue"])}}}
    doc, _ = ccxt.from_dump(dump, as_of="2025-10-30T05:53:09Z")
    acc = doc["accounts"][0]
    assert acc["collateral"]["USDC"] == pytest.approx(float(case["httpResponse"]["crossMarginSummary"]["accountValue"]))
    pos = acc["positions"][0]
    assert (pos["symbol"], pos["size"], pos["mmr"]) == ("HYPE", -4.0, 0.05)
    assert doc["market"]["HYPE"]["mark"] == pytest.approx(192.58 / 4)
    res = _accounts(doc)["hyperliquid"]["positions"][0]
    assert res["liquidation_price"] == pytest.approx(50.2724802381, abs=1e-4)


def test_native_and_ccxt_hyperliquid_imports_agree():
    case = HL["isolated_short_position"]
    native, _ = hyperliquid.from_state(case["httpResponse"], as_of="2025-10-30T05:53:09Z")
    dump = {"exchange": "hyperliquid", "positions": case["parsedResponse"],
            "balance": {"total": {"USDC": float(case["httpResponse"]["marginSummary"]["accountValue"])}}}
    via_ccxt, _ = ccxt.from_dump(dump, as_of="2025-10-30T05:53:09Z")
    a, b = native["accounts"][0], via_ccxt["accounts"][0]
    assert a["collateral"]["USDC"] == pytest.approx(b["collateral"]["USDC"], abs=1e-9)
    assert a["positions"][0]["margin"] == pytest.approx(b["positions"][0]["margin"], abs=2e-4)   # rawUsd vs rounded PnL


def test_deribit_docs_example():
    raw = json.loads((DATA / "deribit_get_positions_docs_example.json").read_text())
    doc, _ = deribit.from_response(raw, collateral={"BTC": 0.01}, as_of="2019-11-21T00:00:00Z")
    pos = doc["accounts"][0]["positions"][0]
    rec = raw["result"][0]
    assert pos == {"size": 50.0, "entry": 7440.18, "kind": "perp", "symbol": "BTC-PERPETUAL"}
    assert doc["market"]["BTC"]["mark"] == rec["index_price"]
    # the docs' own numbers say size is USD face: size_currency = size / mark_price
    assert pos["size"] / rec["mark_price"] == pytest.approx(rec["size_currency"], rel=1e-6)
    with pytest.raises(InputError, match="account_summary"):
        deribit.from_response(raw)


def test_ccxt_unified_shapes_for_each_venue():
    """Sizes are contracts × contractSize, venues and contract names follow the exchange, and the
    engine's equity of every account equals the balance total ccxt reported (equity)."""
    dump = json.loads((DATA / "ccxt_unified_constructed.json").read_text())
    doc, notes = ccxt.from_dump(dump)
    accs = {a["id"]: a for a in doc["accounts"]}
    assert {k: a["venue"] for k, a in accs.items()} == {
        "binance-usdt": "binance-usdm", "binance-btc": "binance-coinm", "okx": "okx", "bybit": "bybit-linear",
        "deribit": "deribit"}
    assert [p["symbol"] for p in accs["binance-usdt"]["positions"]] == ["BTCUSDT", "ETHUSDT"]
    assert accs["binance-btc"]["positions"][0]["size"] == 1500 * 100          # USD face
    assert accs["okx"]["positions"][0]["size"] == pytest.approx(80 * 0.01)    # contractSize from markets
    assert accs["binance-usdt"]["positions"][1]["margin"] == 2500 - 500
    assert accs["bybit"]["mode"] == "isolated" and accs["bybit"]["collateral"] == {}
    assert any("BNB" in n for n in notes)
    result = _accounts(doc)
    totals = {(d.get("account") or d["exchange"]): d["balance"] for d in dump["accounts"]}
    assert result["binance-usdt"]["equity"] == pytest.approx(totals["binance"]["total"]["USDT"], rel=1e-12)
    assert result["binance-btc"]["equity"] == pytest.approx(totals["binance"]["total"]["BTC"], rel=1e-12)
    assert result["okx"]["equity"] == pytest.approx(totals["okx"]["USDT"]["total"], rel=1e-12)
    assert result["deribit"]["equity"] == pytest.approx(totals["deribit"]["total"]["BTC"], rel=1e-12)


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.update(exchange="kraken"), "not supported"),
    (lambda d: d["positions"][0].update(contractSize=None), "contractSize"),
    (lambda d: d["positions"][0].update(symbol="BTCUSDT"), "not a ccxt derivatives symbol"),
    (lambda d: d.update(balance={}), "no 'USDT' total"),
    (lambda d: d["positions"][0].update(entryPrice="abc"), "entryPrice"),
])
def test_ccxt_bad_dumps_name_the_field(edit, message):
    d = json.loads((DATA / "ccxt_unified_constructed.json").read_text())["accounts"][0]
    edit(d)
    with pytest.raises(InputError, match=message):
        ccxt.from_dump(d)


def test_cli_import_writes_a_loadable_file(tmp_path):
    out = tmp_path / "hl.yaml"
    state = tmp_path / "state.json"
    state.write_text(json.dumps(HL["short_position"]["httpResponse"]))
    r = CliRunner().invoke(app, ["import", "hyperliquid", str(state), "--vol", "SOL=0.9", "--vol", "ETH=0.7",
                                 "-o", str(out)])
    assert r.exit_code == 0, r.output
    doc = yaml.safe_load(out.read_text())
    assert doc["market"]["SOL"]["vol"] == 0.9
    r = CliRunner().invoke(app, ["analyze", str(out), "--json"])
    assert r.exit_code == 0
    r = CliRunner().invoke(app, ["import", "ccxt", str(tmp_path / "missing.json")])
    assert r.exit_code == 2 and "cannot read" in r.output
    r = CliRunner().invoke(app, ["import", "hyperliquid", str(state), "--vol", "DOGE=0.5"])
    assert r.exit_code == 2 and "DOGE" in r.output
