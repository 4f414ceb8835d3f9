"""Importers on recorded answers (ccxt's own response tests for Binance, Bybit, OKX and
Hyperliquid; Deribit's documented example): the imported portfolio loads, and the engine's numbers
on it agree with the venue's own (liquidation prices, maintenance margins)."""
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


DERIBIT_CCXT = json.loads((DATA / "deribit_ccxt_issue_positions.json").read_text())


def test_ccxt_deribit_recorded_position_matches_the_venue_maintenance_margin():
    """ccxt 4.5.5's unified BTC-PERPETUAL long (40 USD, mark 109266.97), recorded with
    ``contracts: null``: imported from Deribit's own ``info.size`` (it was dropped before), and the
    engine's maintenance margin equals Deribit's 3.661e-6 BTC within its 9-decimal rounding."""
    case = DERIBIT_CCXT["fetchPositions_btc_perpetual"]["parsedResponse"]
    assert case["contracts"] is None
    # the thread printed no balance and MM does not depend on it: an account of 1 BTC equity
    doc, _ = ccxt.from_dump({"exchange": "deribit", "positions": [case], "balance": {"total": {"BTC": 1.0}}})
    acc = doc["accounts"][0]
    assert (acc["venue"], acc["mode"]) == ("deribit", "cross")
    assert acc["positions"] == [{"kind": "perp", "size": 40.0, "entry": 112585.87, "symbol": "BTC-PERPETUAL",
                                 "leverage": 50.0}]
    assert doc["market"]["BTC"]["mark"] == float(case["info"]["mark_price"])
    assert acc["collateral"]["BTC"] == pytest.approx(1.0 - case["unrealizedPnl"], abs=1e-15)
    res = _accounts(doc)["deribit"]
    assert res["maintenance_margin"] == pytest.approx(case["maintenanceMargin"], abs=5e-10)
    # the native importer reads the same raw answer (ccxt's info) to the same position
    native, _ = deribit.from_response([case["info"]], collateral={"BTC": 1.0}, as_of=doc["as_of"])
    assert {k: native["accounts"][0]["positions"][0][k] for k in ("kind", "size", "entry", "symbol")} == \
        {k: acc["positions"][0][k] for k in ("kind", "size", "entry", "symbol")}


def test_ccxt_deribit_recorded_sol_future_needs_its_rate():
    """The recorded SOL-PERPETUAL 30 USD long (2022): Deribit charged 2% + 0.0005%·size
    (0.012070224 SOL), a rate liqrisk's rule set does not publish (BTC and ETH only). Refused,
    naming 'mmr', instead of BTC's 1% (half the venue's number). Given the venue's 2% base, the
    engine misses the slope term, 0.0005%·0.6034² = 1.8e-6 SOL, and the mark's rounding: Deribit's
    size_currency 0.603420186 implies a mark of 49.7166, printed 49.72 (8e-7 SOL)."""
    case = DERIBIT_CCXT["fetchPosition_sol_perpetual"]["parsedResponse"]
    with pytest.raises(InputError, match=r"SOL: give the position its maintenance rate 'mmr'"):
        ccxt.from_dump({"exchange": "deribit", "positions": [case], "balance": {"total": {"SOL": 1.0}}})
    doc = {"as_of": case["datetime"], "market": {"SOL": {"mark": case["markPrice"]}},
           "accounts": [{"id": "d", "venue": "deribit", "collateral": {"SOL": 1.0},
                         "positions": [{"kind": "perp", "symbol": "SOL-PERPETUAL", "size": 30.0,
                                        "entry": case["entryPrice"], "mmr": 0.02}]}]}
    assert _accounts(doc)["d"]["maintenance_margin"] == pytest.approx(case["maintenanceMargin"], abs=3e-6)


BINANCE = json.loads((DATA / "binance_ccxt_static.json").read_text())
BYBIT = json.loads((DATA / "bybit_ccxt_static.json").read_text())
OKX = json.loads((DATA / "okx_ccxt_static.json").read_text())


def _binance_dump(case: str, ccy: str) -> dict:
    """A recorded Binance cross position with the wallet ccxt reports as its ``collateral`` (ccxt
    backs it out of the venue's liquidation price); the balance total is that wallet + the PnL
    (ccxt's futures total is ``marginBalance``, the equity)."""
    positions = BINANCE[case]["parsedResponse"]
    p = positions[0]
    return {"exchange": "binance", "positions": positions,
            "balance": {"total": {ccy: p["collateral"] + p["unrealizedPnl"]}}}


def test_binance_usdm_recorded_position_matches_the_venue():
    """BTCUSDT 0.009 long (ccxt's recorded fetchPositions): Binance's maintMargin 2.43009666
    (0.4% bracket of the bundled snapshot × notional) and liquidationPrice 64846.98753790."""
    case = BINANCE["fetchPositions_linear"]["parsedResponse"][0]
    doc, _ = ccxt.from_dump(_binance_dump("fetchPositions_linear", "USDT"))
    acc = doc["accounts"][0]
    assert (acc["venue"], acc["collateral"]) == ("binance-usdm", {"USDT": pytest.approx(case["collateral"], abs=1e-12)})
    assert acc["positions"] == [{"kind": "perp", "size": 0.009, "entry": 67445.9, "symbol": "BTCUSDT"}]
    assert doc["as_of"] == "2024-07-28T10:06:06Z" and doc["market"]["BTC"]["mark"] == case["markPrice"]
    res = _accounts(doc)["binance"]
    assert res["maintenance_margin"] == pytest.approx(float(case["info"]["maintMargin"]), abs=1e-8)   # truncated to 8 dp
    # dLP/dwallet = 1/(Q·(1 − MMR)) ≈ 112: the 8-decimal wallet moves the LP by < 1e-6
    assert res["positions"][0]["liquidation_price"] == pytest.approx(case["liquidationPrice"], abs=1e-5)


def test_binance_coinm_recorded_inverse_short_matches_the_venue():
    """BTCUSD_PERP 3 contracts × 100 USD short: Binance's liquidationPrice 72491.16879818."""
    case = BINANCE["fetchPositions_inverse"]["parsedResponse"][0]
    doc, _ = ccxt.from_dump(_binance_dump("fetchPositions_inverse", "BTC"))
    acc = doc["accounts"][0]
    assert acc["venue"] == "binance-coinm"
    assert acc["positions"][0] == {"kind": "perp", "size": -300.0, "entry": 68911.00000037, "symbol": "BTCUSD_PERP",
                                   "leverage": 20.0}
    res = _accounts(doc)["binance"]
    assert res["maintenance_margin"] == pytest.approx(case["maintenanceMargin"], rel=1e-6)
    # the wallet carries 8 decimals (±5e-9 BTC) and dLP/dwallet = LP/(Q/E − W) ≈ 1.8e7 USD per BTC
    assert res["positions"][0]["liquidation_price"] == pytest.approx(case["liquidationPrice"], abs=0.1)


MULTI = json.loads((DATA / "binance_multi_assets_docs_example.json").read_text())


def test_binance_multi_assets_mode_counts_other_assets_at_binances_bid_rate():
    """Multi-Assets mode (Binance's documented multiAssetsMargin and assetIndex answers): an ADA
    balance beside the recorded BTCUSDT long joins the USDⓈ-M cross account with haircut
    bidBuffer 0.1 and mark = its index, so the engine's equity counts it at Binance's own bidRate
    1.73661633 (8 decimals: 100 ADA within 1e-6). The 100 ADA are the test's."""
    dump = _binance_dump("fetchPositions_linear", "USDT")
    dump["balance"]["total"]["ADA"] = 100.0
    plain, notes = ccxt.from_dump(dump)
    assert "ADA" not in plain["accounts"][0]["collateral"] and any("100 ADA not imported" in n for n in notes)
    doc, notes = ccxt.from_dump({**dump, "multi_assets_margin": MULTI["multi_assets_margin"],
                                 "asset_index": MULTI["asset_index"]})
    acc = doc["accounts"][0]
    assert acc["collateral"]["ADA"] == {"amount": 100.0, "haircut": 0.1} and not notes
    assert doc["market"]["ADA"]["mark"] == float(MULTI["asset_index"]["index"])
    gain = _accounts(doc)["binance"]["equity"] - _accounts(plain)["binance"]["equity"]
    assert gain == pytest.approx(100 * float(MULTI["asset_index"]["bidRate"]), abs=1e-6)
    with pytest.raises(InputError, match="no 'ADAUSD'"):
        ccxt.from_dump({**dump, "multi_assets_margin": True, "asset_index": []})


def test_binance_recorded_balance_shape():
    """ccxt's recorded swap balance: both the ``total`` map and the per-currency block read."""
    bal = BINANCE["fetchBalance_linear_swap"]["parsedResponse"]
    assert ccxt._totals(bal) == {"USDT": 31.022612}
    assert ccxt._totals({k: v for k, v in bal.items() if k != "total"}) == {"USDT": 31.022612}


def test_bybit_balance_total_is_the_wallet():
    """ccxt's recorded Bybit unified balance: ``total`` is ``walletBalance`` (USDT 3322.25896609,
    equity 3304.29766609), so the importer must not take the positions' PnL off it again."""
    bal = BYBIT["fetchBalance_unified"]
    usdt = next(c for c in bal["httpResponse"]["result"]["list"][0]["coin"] if c["coin"] == "USDT")
    assert bal["parsedResponse"]["total"]["USDT"] == float(usdt["walletBalance"]) != float(usdt["equity"])
    positions = BYBIT["fetchPositions_linear"]["parsedResponse"]
    doc, notes = ccxt.from_dump({"exchange": "bybit", "positions": positions, "balance": bal["parsedResponse"]})
    acc = doc["accounts"][0]
    assert acc["venue"] == "bybit-linear" and acc["collateral"] == {"USDT": float(usdt["walletBalance"])}
    assert acc["positions"] == [{"kind": "perp", "size": 1.2, "entry": 64.59947917, "symbol": "LTCUSDT", "leverage": 6.0}]
    assert doc["market"]["LTC"]["mark"] == 71.1
    assert doc["as_of"] == "2025-01-14T14:47:03Z"          # the balance's timestamp, the latest in the dump
    assert any("USDC" in n for n in notes)
    res = _accounts(doc)["bybit"]
    # the engine's PnL at the mark, 1.2 × (71.1 − 64.59947917), against Bybit's 6-decimal unrealisedPnl
    assert res["equity"] == pytest.approx(float(usdt["walletBalance"]) + positions[0]["unrealizedPnl"], abs=1e-6)


@pytest.mark.parametrize("version, expected", [
    ("uta-2024", "positionMM"),      # the rule in force when Bybit recorded it (updatedTime 2023-11-14)
    ("uta-2026", 1.2 * 71.1 * 0.01),  # the default: tiered MM at the mark, no fee term
])
def test_bybit_recorded_position_maintenance_margin(version, expected):
    """Bybit's recorded LTCUSDT 1.2 long (UTA, 6x, MMR 1%): ``positionMM`` 0.81072399 is Bybit's
    published MM, entry value × MMR + the taker fee to close at the bankruptcy price
    (77.519375 × 1% + 1.2 × 64.59947917 × (1 − 1/6) × 0.055% = 0.81072346); ``positionIM``
    12.95542633 carries the same fee over value/6. Bybit's fee is 5.3e-7 above the formula's
    (its positionIM's by 7.9e-7), a residual the record does not explain; 1e-6 leaves it and still
    tells the 0.0355 fee and the 0.0425 mark-based difference apart."""
    info = BYBIT["fetchPositions_linear"]["parsedResponse"][0]["info"]
    target = float(info["positionMM"]) if expected == "positionMM" else expected
    doc, _ = ccxt.from_dump({"exchange": "bybit", "positions": BYBIT["fetchPositions_linear"]["parsedResponse"],
                             "balance": BYBIT["fetchBalance_unified"]["parsedResponse"]})
    doc["accounts"][0]["venue"] = {"name": "bybit-linear", "version": version}
    assert _accounts(doc)["bybit"]["maintenance_margin"] == pytest.approx(target, abs=1e-6)


def test_okx_recorded_isolated_inverse_matches_the_venue():
    """BTC-USD-SWAP 1 × 100 USD isolated long: OKX's ``margin`` (ccxt collateral) excludes the
    PnL; the engine's root of ``margin + uPnL = notional·(MMR + taker)`` is OKX's liqPx
    69536.6125000014 less one price tick (0.1): the digits past the tick agree to 1e-9."""
    case = OKX["fetchPosition_inverse_isolated"]["parsedResponse"]
    equity = case["collateral"] + case["unrealizedPnl"]        # an account holding only this position
    doc, _ = ccxt.from_dump({"exchange": "okx", "positions": [case], "balance": {"total": {"BTC": equity}}})
    acc = doc["accounts"][0]
    assert (acc["venue"], acc["mode"], acc["collateral"]) == ("okx", "isolated", {})
    pos = acc["positions"][0]
    assert (pos["symbol"], pos["size"], pos["margin"]) == ("BTC-USD-SWAP", 100.0, case["collateral"])
    res = _accounts(doc)["okx"]
    notional = 100 / case["markPrice"]
    # OKX's mmr field is the tier rate × notional; our maintenance adds the taker fee of closing
    assert res["maintenance_margin"] == pytest.approx(case["maintenanceMargin"] + 0.0005 * notional, rel=1e-9)
    assert case["liquidationPrice"] - res["positions"][0]["liquidation_price"] == pytest.approx(0.1, abs=1e-6)


def test_okx_recorded_linear_position_and_a_contract_size_that_contradicts_the_notional():
    """OKX LTC-USDT-SWAP: with the market's contractSize 0.001 the size is 0.001 LTC; ccxt's
    recorded fetchPosition parsed without markets says contractSize 1 while its own notional is
    0.2027 USD for 2 contracts — imported as is that is 1000× the position: refused, naming it."""
    doc, _ = ccxt.from_dump({"exchange": "okx", "positions": OKX["fetchPositions_linear_swap"]["parsedResponse"],
                             "balance": {"total": {"USDT": 10.0}}})
    pos = doc["accounts"][0]["positions"][0]
    assert (pos["symbol"], pos["size"], pos["position_side"]) == ("LTC-USDT-SWAP", 0.001, "long")
    with pytest.raises(InputError, match=r"contractSize is wrong"):
        ccxt.from_dump({"exchange": "okx", "positions": [OKX["fetchPosition_linear"]["parsedResponse"]],
                        "balance": {"total": {"USDT": 10.0}}})


def test_several_exchanges_in_one_dump():
    dump = {"accounts": [_binance_dump("fetchPositions_linear", "USDT"), _binance_dump("fetchPositions_inverse", "BTC"),
                         {"exchange": "bybit", "positions": BYBIT["fetchPositions_linear"]["parsedResponse"],
                          "balance": BYBIT["fetchBalance_unified"]["parsedResponse"]}]}
    dump["accounts"][1]["account"] = "binance-coin"
    doc, _ = ccxt.from_dump(dump)
    assert {a["id"]: a["venue"] for a in doc["accounts"]} == {
        "binance": "binance-usdm", "binance-coin": "binance-coinm", "bybit": "bybit-linear"}
    assert set(doc["market"]) == {"BTC", "LTC"}


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.update(exchange="kraken"), "not supported"),
    (lambda d: d["positions"][0].update(contractSize=None), "contractSize"),
    (lambda d: d["positions"][0].update(contractSize=100), "contractSize is wrong"),
    (lambda d: d["positions"][0].update(symbol="BTCUSDT"), "not a ccxt derivatives symbol"),
    (lambda d: d.update(balance={}), "no 'USDT' total"),
    (lambda d: d["positions"][0].update(entryPrice="abc"), "entryPrice"),
    # an integer beyond float range (JSON has no bound; seed 14 of the fuzz campaign: OverflowError)
    (lambda d: d["positions"][0].update(entryPrice=10 ** 400), "entryPrice: not finite"),
])
def test_ccxt_bad_dumps_name_the_field(edit, message):
    d = _binance_dump("fetchPositions_linear", "USDT")
    d["positions"] = json.loads(json.dumps(d["positions"]))
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


@pytest.mark.parametrize("importer", ["ccxt", "deribit", "hyperliquid"])
@pytest.mark.parametrize("data, message", [
    (b"[" * 100_000 + b"]" * 100_000, "nesting: above the limit depth = 20 (raise it with --max-depth)"),
    (b"\x93\x00\xc3garbage", "not UTF-8 text (byte 0"),
    (b"", "the file is empty"),
    (b'{"a": 1, "a": 2}', "not valid JSON: duplicated key 'a'"),
])
def test_a_saved_answer_that_is_no_json_document_is_one_located_line(tmp_path, importer, data, message):
    """Read like every input file (found by the fuzz campaign: a RecursionError traceback on deep
    nesting, a bare codec message on binary data)."""
    path = tmp_path / "answer.json"
    path.write_bytes(data)
    r = CliRunner().invoke(app, ["import", importer, str(path)])
    assert r.exit_code == 2 and not isinstance(r.exception, Exception), r.exception
    assert r.stderr.startswith(f"error: {path}: {message}") and len(r.stderr.splitlines()) == 1, r.stderr


def _binance(**change) -> dict:
    dump = _binance_dump("fetchPositions_linear", "USDT")
    return {**dump, "positions": [{**dump["positions"][0], **change.pop("position", {})}], **change}


DERIBIT_DOC = json.loads((DATA / "deribit_get_positions_docs_example.json").read_text())


@pytest.mark.parametrize("importer, answer, message", [
    ("ccxt", _binance(balance=float("inf")), "binance balance: expected an object ({...}), got float 'inf'"),
    ("ccxt", _binance(balance="x"), "binance balance: expected an object"),
    ("ccxt", {**_binance(), "positions": [5]}, "binance position 1: expected an object"),
    ("ccxt", _binance(position={"info": [1]}), "binance position 1 (BTC/USDT:USDT): info: expected an object"),
    ("ccxt", _binance(position={"symbol": ["BTC"]}), "position symbol ['BTC']: expected a ccxt unified symbol"),
    ("ccxt", _binance(markets=5), "markets: expected an object"),
    ("ccxt", _binance(markets={"BTC/USDT:USDT": {"type": "swap"}}), "markets['BTC/USDT:USDT']: 'base' must be"),
    ("ccxt", _binance(as_of=1e300), "as_of: 1e+300 is not a time in epoch milliseconds"),
    ("deribit", {**DERIBIT_DOC, "result": [1]}, "position 1: expected an object"),
    ("deribit", {**DERIBIT_DOC, "result": [{**DERIBIT_DOC["result"][0], "instrument_name": "BTC-45JAN24"}]},
     "position 1 (BTC-45JAN24): instrument_name has no valid expiry date"),
    ("deribit", {**DERIBIT_DOC, "result": [{**DERIBIT_DOC["result"][0], "instrument_name": "BTC-1ABC24"}]},
     "position 1 (BTC-1ABC24): instrument_name has no valid expiry date"),
    ("deribit", {"positions": DERIBIT_DOC, "account_summaries": 5}, "account_summaries: expected a list"),
    ("hyperliquid", {**HL["short_position"]["httpResponse"], "crossMarginSummary": 5, "marginSummary": None},
     "user hyperliquid: crossMarginSummary: must be an object\n"),
    ("hyperliquid", {**HL["short_position"]["httpResponse"], "time": "soon"}, "user hyperliquid: time: not a number"),
])
def test_a_saved_answer_of_the_wrong_shape_is_one_located_line(tmp_path, importer, answer, message):
    """Saved answers are untrusted: a number where an object belongs, a bad date in an instrument
    name (found by the fuzz campaign: AttributeError tracebacks in the ccxt and Deribit importers)."""
    path = tmp_path / "answer.json"
    path.write_text(json.dumps(answer))
    extra = ["--collateral", "BTC=1"] if importer == "deribit" else []
    r = CliRunner().invoke(app, ["import", importer, str(path), *extra])
    assert r.exit_code == 2 and not isinstance(r.exception, Exception), r.exception
    assert r.stderr.startswith(f"error: {message}") and len(r.stderr.splitlines()) == 1, r.stderr


def test_an_unknown_venue_flag_is_named_as_the_flag(tmp_path):
    path = tmp_path / "answer.json"
    path.write_text(json.dumps(_binance()))
    r = CliRunner().invoke(app, ["import", "ccxt", str(path), "--venue", "nope"])
    assert r.exit_code == 2 and r.stderr.startswith("error: --venue nope: unknown venue (known: ") and \
        len(r.stderr.splitlines()) == 1, r.stderr


@pytest.mark.parametrize("importer", ["ccxt", "deribit", "hyperliquid"])
@pytest.mark.parametrize("flag", ["0", "2026-13-45", ""])
def test_a_bad_as_of_flag_is_named_as_the_flag(tmp_path, importer, flag):
    """``--as-of 0`` was reported as the file's field (``as_of: '0' is not …``); an empty one was
    silently replaced by the dump's time (ccxt)."""
    answer = {"ccxt": _binance(), "deribit": DERIBIT_DOC, "hyperliquid": HL["short_position"]["httpResponse"]}[importer]
    path = tmp_path / "answer.json"
    path.write_text(json.dumps(answer))
    extra = {"ccxt": [], "deribit": ["--collateral", "BTC=1"], "hyperliquid": ["--vol", "SOL=0.9"]}[importer]
    r = CliRunner().invoke(app, ["import", importer, str(path), *extra, "--as-of", flag])
    assert r.exit_code == 2 and not isinstance(r.exception, Exception), r.exception
    assert r.stderr == f"error: --as-of: '{flag}' is not an ISO 8601 time\n", r.stderr
