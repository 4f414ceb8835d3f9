"""Bad input files through the CLI: exit status 2, one line per problem naming the account, the
position and the field, never a traceback. Plus the stable JSON shape of `analyze --json` and
that `parse_portfolio` never mutates the user's data."""
import copy
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from liqrisk.cli import app
from liqrisk.io.portfolio import InputError
from liqrisk.load import parse_portfolio

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

BASE = {
    "as_of": "2026-11-23T00:00:00Z",
    "market": {"BTC": {"mark": 91250.0, "vol": 0.52}, "ETH": {"mark": 3050.0, "vol": 0.68}},
    "accounts": [
        {"id": "good-acct", "venue": "binance-usdm", "collateral": {"USDT": 5000},
         "positions": [{"symbol": "ETHUSDT", "kind": "perp", "size": 1.0, "entry": 3000}]},
        {"id": "acct-x", "venue": "binance-usdm", "mode": "cross", "collateral": {"USDT": 10000},
         "positions": [{"symbol": "ETHUSDT", "kind": "perp", "size": -2.0, "entry": 3100},
                       {"symbol": "BTCUSDT", "kind": "perp", "size": 0.5, "entry": 90000}]},
    ],
}
OPTION = {"kind": "option", "underlying": "BTC", "expiry": "2026-12-25T08:00:00Z", "strike": 90000,
          "type": "call", "size": -1, "entry": 0.01}


def _acct(d):
    return d["accounts"][1]


def _pos(d):
    return d["accounts"][1]["positions"][1]   # position 2 (BTCUSDT) of account 'acct-x'


def _set(**kw):
    return lambda d: _pos(d).update(kw)


def _pop(key):
    return lambda d: _pos(d).pop(key)


def _deribit_with(pos):
    return lambda d: _acct(d).update(venue="deribit", collateral={"BTC": 1.0},
                                     positions=[_acct(d)["positions"][0] | {"symbol": None, "underlying": "BTC",
                                                                            "kind": "perp", "size": 30000},
                                                pos])


# (mutation, position marker expected in the line, field expected in the line)
CASES = {
    "unknown-venue": (lambda d: _acct(d).update(venue="binanse"), None, "venue"),
    "unknown-kind": (_set(kind="swap"), "position 2 (BTCUSDT)", "kind"),
    "unknown-field": (_set(colour="red"), "position 2 (BTCUSDT)", "colour"),
    "missing-entry": (_pop("entry"), "position 2 (BTCUSDT)", "entry"),
    "missing-size": (_pop("size"), "position 2 (BTCUSDT)", "size"),
    "zero-size": (_set(size=0), "position 2 (BTCUSDT)", "size"),
    "negative-entry": (_set(entry=-90000), "position 2 (BTCUSDT)", "entry"),
    "zero-entry": (_set(entry=0), "position 2 (BTCUSDT)", "entry"),
    "nan-size": (_set(size=float("nan")), "position 2 (BTCUSDT)", "size"),
    "nan-entry": (_set(entry=float("nan")), "position 2 (BTCUSDT)", "entry"),
    "inf-size": (_set(size=float("inf")), "position 2 (BTCUSDT)", "size"),
    "string-size": (_set(size="lots"), "position 2 (BTCUSDT)", "size"),
    "negative-margin": (_set(margin=-5), "position 2 (BTCUSDT)", "margin"),
    "expired-option": (_deribit_with(OPTION | {"expiry": "2026-11-01T08:00:00Z"}), "position 2 (BTC)", "expiry"),
    "option-without-vol": (lambda d: (_deribit_with(OPTION)(d), d["market"]["BTC"].pop("vol")),
                           "position 2 (BTC)", "mark"),
    "option-mark-beyond-bounds": (_deribit_with(OPTION | {"mark": 5.0}), "position 2 (BTC)", "mark"),
    "isolated-without-margin": (lambda d: (_acct(d).update(mode="isolated"), _pos(d).update(margin=3000)),
                                "position 1 (ETHUSDT)", "margin"),
    "unpriced-collateral": (lambda d: _acct(d).update(collateral={"USDT": 100, "XYZ": 5}), None, "collateral.XYZ"),
    "nan-collateral": (lambda d: _acct(d).update(collateral={"USDT": float("nan")}), None, "collateral.USDT"),
    "symbol-without-brackets": (lambda d: (d["market"].update(PEPE={"mark": 1e-5}), _pos(d).update(symbol="PEPEUSDT")),
                                "position 2 (PEPEUSDT)", "symbol"),
    "unpriced-underlying": (lambda d: d["market"].pop("BTC"), "position 2 (BTCUSDT)", "symbol"),
    "bad-mode": (lambda d: _acct(d).update(mode="hedge"), None, "mode"),
    "bad-bracket-row": (lambda d: _acct(d).update(venue={"name": "binance-usdm", "brackets": {"BTCUSDT": [
        {"notional_floor": 0, "notional_cap": -1, "maint_margin_ratio": 0.004}]}}), None, "venue.brackets.BTCUSDT.0"),
    "option-on-linear-venue": (lambda d: _acct(d)["positions"].__setitem__(1, dict(OPTION)), "position 2 (BTC)", "kind"),
    "position-side-contradiction": (_set(position_side="short"), "position 2 (BTCUSDT)", "size"),
}


def _run(tmp_path, doc, name="book.yaml"):
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    res = runner.invoke(app, ["analyze", str(path), "--json"])
    return res, res.output


def _no_traceback(res, out):
    assert "Traceback" not in out
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)


@pytest.mark.parametrize("case", list(CASES))
def test_bad_file_exits_2_with_one_line_naming_account_position_and_field(tmp_path, case):
    mutate, position, field = CASES[case]
    doc = copy.deepcopy(BASE)
    mutate(doc)
    res, out = _run(tmp_path, doc)
    _no_traceback(res, out)
    assert res.exit_code == 2, out
    lines = [l for l in out.splitlines() if l.strip()]
    assert lines and all(l.startswith("error: ") for l in lines), out
    hits = [l for l in lines if f"field '{field}" in l]
    assert len(hits) == 1, out                       # one line for the one problem
    line = hits[0]
    assert "account 'acct-x'" in line
    if position:
        assert position in line
    assert "good-acct" not in out                    # only the broken account is blamed
    assert not out.lstrip().startswith("{")          # no JSON on failure


def test_several_problems_give_one_line_each(tmp_path):
    doc = copy.deepcopy(BASE)
    _pos(doc).update(size=0, entry=-1)
    _acct(doc)["positions"][0]["kind"] = "swap"
    res, out = _run(tmp_path, doc)
    _no_traceback(res, out)
    assert res.exit_code == 2
    lines = out.strip().splitlines()
    assert len(lines) == 3, out
    assert any("position 1 (ETHUSDT), field 'kind'" in l for l in lines)
    assert any("position 2 (BTCUSDT), field 'size'" in l for l in lines)
    assert any("position 2 (BTCUSDT), field 'entry'" in l for l in lines)


def test_naive_as_of_string_is_read_as_utc_not_a_traceback(tmp_path):
    doc = copy.deepcopy(BASE)
    doc["as_of"] = "2026-11-23T00:00:00"                     # quoted: a string, not a YAML timestamp
    _deribit_with(OPTION)(doc)
    res, out = _run(tmp_path, doc)
    _no_traceback(res, out)
    assert res.exit_code == 0, out
    assert json.loads(out)["as_of"] == "2026-11-23T00:00:00Z"


@pytest.mark.parametrize("text,needle", [
    ("as_of: [2026, \n  market: {BTC: \n", "not valid YAML"),
    ("accounts: [{id: a, venue: okx\n", "not valid YAML"),
    ("", "the file is empty"),
    ("# only a comment\n", "expected a mapping"),
    ("- just\n- a list\n", "expected a mapping"),
])
def test_bad_yaml_exits_2_with_one_line(tmp_path, text, needle):
    res, out = _run(tmp_path, text)
    _no_traceback(res, out)
    assert res.exit_code == 2
    assert len(out.strip().splitlines()) == 1 and needle in out


def test_bad_json_exits_2_with_one_line(tmp_path):
    res, out = _run(tmp_path, '{"as_of": ', name="book.json")
    _no_traceback(res, out)
    assert res.exit_code == 2
    assert len(out.strip().splitlines()) == 1 and "not valid JSON" in out and "book.json" in out


def test_missing_file_exits_2_naming_the_file(tmp_path):
    res = runner.invoke(app, ["analyze", str(tmp_path / "nowhere.yaml"), "--json"])
    _no_traceback(res, res.output)
    assert res.exit_code == 2
    assert len(res.output.strip().splitlines()) == 1
    assert "nowhere.yaml" in res.output and "cannot read" in res.output


# ---- the JSON output -------------------------------------------------------------------------

ACCOUNT_KEYS = {"id", "venue", "mode", "settlement_currency", "equity", "initial_margin",
                "maintenance_margin", "margin_ratio", "liquidation", "positions"}
POSITION_KEYS = {"symbol", "kind", "size", "entry", "mark", "unrealized_pnl", "initial_margin",
                 "maintenance_margin", "liquidation_price", "bankruptcy_price"}


def _num_or_none(x):
    return x is None or isinstance(x, (int, float))


def test_json_output_is_one_document_with_the_stable_shape():
    res = runner.invoke(app, ["analyze", str(ROOT / "examples" / "multi_venue.yaml"), "--json"])
    _no_traceback(res, res.output)
    assert res.exit_code == 0, res.output
    doc, end = json.JSONDecoder().raw_decode(res.output)
    assert res.output[end:].strip() == ""                    # exactly one JSON document
    assert {"as_of", "accounts"} <= set(doc)
    assert isinstance(doc["as_of"], str) and doc["as_of"].startswith("2026-11-23")
    raw = yaml.safe_load((ROOT / "examples" / "multi_venue.yaml").read_text())
    assert [a["id"] for a in doc["accounts"]] == [a["id"] for a in raw["accounts"]]
    for acc, spec in zip(doc["accounts"], raw["accounts"]):
        assert ACCOUNT_KEYS <= set(acc), acc["id"]
        for k in ("equity", "initial_margin", "maintenance_margin"):
            assert isinstance(acc[k], (int, float))
        if acc["margin_ratio"] is not None:
            assert acc["margin_ratio"] == pytest.approx(acc["maintenance_margin"] / acc["equity"], rel=1e-12)
        else:
            assert acc["equity"] <= 0
        assert acc["liquidation"]
        for und, side in acc["liquidation"].items():
            assert isinstance(und, str) and set(side) == {"down", "up"}
            assert _num_or_none(side["down"]) and _num_or_none(side["up"])
        assert len(acc["positions"]) == len(spec["positions"])
        for pos in acc["positions"]:
            assert POSITION_KEYS <= set(pos)
            assert isinstance(pos["symbol"], str) and isinstance(pos["kind"], str)
            for k in ("size", "entry", "mark", "unrealized_pnl", "initial_margin", "maintenance_margin"):
                assert isinstance(pos[k], (int, float)), (acc["id"], k)
            assert _num_or_none(pos["liquidation_price"]) and _num_or_none(pos["bankruptcy_price"])


def test_parse_portfolio_does_not_mutate_the_input():
    raw = yaml.safe_load((ROOT / "examples" / "multi_venue.yaml").read_text())
    assert "rate" in raw["market"]                            # the path that moves 'rate' up a level
    before = copy.deepcopy(raw)
    parse_portfolio(raw)
    assert raw == before
    bad = copy.deepcopy(BASE)
    _pos(bad)["size"] = 0
    before = copy.deepcopy(bad)
    with pytest.raises(InputError):
        parse_portfolio(bad)
    assert bad == before


@pytest.mark.parametrize("account,field", [
    ({"venue": "binance-coinm", "collateral": {"BTC": 1, "ETH": 10},
      "positions": [{"symbol": "BTCUSD_PERP", "kind": "perp", "size": 100000, "entry": 90000},
                    {"symbol": "ETHUSD_PERP", "kind": "perp", "size": -30000, "entry": 3000}]}, "positions"),
    ({"venue": "binance-coinm", "collateral": {"USDT": 10000},
      "positions": [{"symbol": "BTCUSD_PERP", "kind": "perp", "size": 100000, "entry": 90000}]}, "collateral.USDT"),
    ({"venue": "okx", "collateral": {"USDT": 10000},
      "positions": [{"symbol": "BTC-USD-SWAP", "kind": "perp", "size": 9000, "entry": 90000},
                    {"symbol": "ETH-USDT-SWAP", "kind": "perp", "size": 1, "entry": 3000}]}, "positions"),
    ({"venue": "binance-usdm", "collateral": {"USDT": 10000},
      "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 10, "entry": 90000},
                    {"symbol": "BTCUSDT", "kind": "perp", "size": -10, "entry": 90000}]}, "position_side"),
    ({"venue": "binance-usdm", "collateral": {"USDT": 10000},
      "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 1, "entry": 90000, "contract": "inverse"}]},
     "contract"),
    ({"venue": "binance-usdm", "collateral": {"USDT": 10000}, "leverage": -10,
      "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 1, "entry": 90000}]}, "leverage"),
    ({"venue": "deribit", "collateral": {"BTC": 1},
      "positions": [{"kind": "option", "underlying": "BTC", "expiry": "2026-12-25T08:00:00Z", "strike": 100000,
                     "type": "call", "size": 1, "entry": 5000}]}, "entry"),
    ({"venue": {"name": "binance-usdm", "brackets": {"BTCUSDT": [
        {"notional_floor": 0, "notional_cap": 50000, "maint_margin_ratio": 0.004},
        {"notional_floor": 50000, "notional_cap": 1e9, "maint_margin_ratio": 0.005, "cum": 5000}]}},
      "collateral": {"USDT": 10000},
      "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 1, "entry": 90000}]}, "brackets"),
], ids=["coinm-two-coins", "coinm-usdt-collateral", "okx-linear-and-inverse", "one-way-duplicate-legs",
        "contract-not-traded", "negative-account-leverage", "option-entry-in-usd", "inconsistent-cum"])
def test_inputs_that_would_give_silently_wrong_numbers_are_rejected(tmp_path, account, field):
    doc = copy.deepcopy(BASE)
    doc["accounts"][1] = {"id": "acct-x", "mode": "cross", **account}
    res, out = _run(tmp_path, doc)
    _no_traceback(res, out)
    assert res.exit_code == 2
    lines = [l for l in out.splitlines() if l.startswith("error:")]
    assert lines and all("acct-x" in l for l in lines) and any(field in l for l in lines), out


def test_shape_errors_and_whole_file_errors_are_reported_in_one_run(tmp_path):
    doc = copy.deepcopy(BASE)
    doc["accounts"][0]["positions"][0]["size"] = 0                    # shape error (pydantic)
    doc["accounts"][1]["venue"] = "kraken"                             # whole-file error (semantic)
    res, out = _run(tmp_path, doc)
    _no_traceback(res, out)
    assert res.exit_code == 2
    assert "good-acct" in out and "'size'" in out and "acct-x" in out and "kraken" in out
