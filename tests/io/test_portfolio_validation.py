"""Bad input files through the CLI: exit status 2, one line per problem naming the account, the
position and the field, never a traceback. Plus the stable JSON shape of `analyze --json` and
that `parse_portfolio` never mutates the user's data."""
import copy
import json
import re
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
    # issue 9 (fuzz campaign): each was accepted and gave a null/non-finite or wrong number
    "bool-size": (_set(size=True), "position 2 (BTCUSDT)", "size"),
    "tiny-leverage": (_set(leverage=5e-324), "position 2 (BTCUSDT)", "leverage"),
    "huge-size": (_set(size=1e300), "position 2 (BTCUSDT)", "size"),
    "huge-notional": (_set(size=1e14), "position 2 (BTCUSDT)", "size"),
    "cum-inf": (_set(mmr=0.005, cum=float("inf")), "position 2 (BTCUSDT)", "cum"),
    "cum-makes-mm-negative": (_set(mmr=0.005, cum=1e6), "position 2 (BTCUSDT)", "cum"),
    "collateral-minus-1e308": (lambda d: _acct(d).update(collateral={"USDT": -1e308}), None, "collateral.USDT"),
    "uncovered-debt": (lambda d: _acct(d).update(collateral={"USDT": -1000}), None, "collateral.USDT"),
    "bool-collateral": (lambda d: _acct(d).update(collateral={"USDT": True}), None, "collateral.USDT"),
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


# ---- issue 9: one named regression per class of failure of the fuzz campaign --------------------

def _analyze(tmp_path, text: str | bytes, name="book.yaml", *args):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    res = runner.invoke(app, ["analyze", str(path), "--json", *args])
    _no_traceback(res, res.output)
    return res


def assert_rejected(res, *needles):
    """Exit 2, every output line an ``error:`` line, each needle named in the output."""
    assert res.exit_code == 2, res.output
    lines = [l for l in res.output.splitlines() if l.strip()]
    assert lines and all(l.startswith("error: ") for l in lines), res.output
    for needle in needles:
        assert needle in res.output, res.output
    return lines


def _base_yaml(**market) -> str:
    doc = copy.deepcopy(BASE)
    for k, v in market.items():
        doc["market"]["BTC"][k] = v
    return yaml.safe_dump(doc)


@pytest.mark.parametrize("text,name,needle", [
    ("x: " + "[" * 100 + "]" * 100, "deep.yaml", "--max-depth"),
    ("x: " + "[" * 5000 + "]" * 5000, "deep.yaml", "nesting depth"),            # libyaml's own cap (1000)
    ('{"x": ' + "[" * 100_000 + "]" * 100_000 + "}", "deep.json", "--max-depth")])
def test_deeply_nested_file_is_rejected_naming_the_depth_limit_not_a_recursion_error(tmp_path, text, name, needle):
    assert_rejected(_analyze(tmp_path, text, name), needle)


def test_yaml_alias_bomb_is_rejected_by_the_alias_limit_quickly(tmp_path):
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 12)]
    doc = "\n".join(lines) + "\n" + _base_yaml().replace("id: acct-x", "id: *a11")
    assert_rejected(_analyze(tmp_path, doc), "alias", "--max-alias-nodes")


def test_a_few_aliases_are_fine(tmp_path):
    doc = "defaults: &d {venue: binance-usdm, collateral: {USDT: 5000}}\n" + yaml.safe_dump(
        {k: v for k, v in BASE.items()})
    assert _analyze(tmp_path, doc.replace("defaults:", "# defaults:")).exit_code == 0


def test_duplicated_yaml_key_is_an_error_naming_both_lines(tmp_path):
    doc = _base_yaml() + "as_of: 2026-11-24T00:00:00Z\n"
    assert_rejected(_analyze(tmp_path, doc), "duplicated key 'as_of'", "first on line")


def test_duplicated_json_key_is_an_error(tmp_path):
    doc = json.dumps(BASE).replace('{"as_of"', '{"rate": 0.0, "rate": 0.01, "as_of"', 1)
    assert_rejected(_analyze(tmp_path, doc, "book.json"), "duplicated key 'rate'")


@pytest.mark.parametrize("data,needle", [(b"\x00\xff\xfe binary", "not UTF-8"), ("as_of: 1\n".encode("utf-16"), "UTF-16"),
                                         (b"", "empty"), (b"  \n\n", "empty")])
def test_undecodable_and_empty_files_are_input_errors(tmp_path, data, needle):
    assert_rejected(_analyze(tmp_path, data), needle)


def test_a_directory_is_an_input_error(tmp_path):
    (tmp_path / "dir.yaml").mkdir()
    res = runner.invoke(app, ["analyze", str(tmp_path / "dir.yaml"), "--json"])
    _no_traceback(res, res.output)
    assert_rejected(res, "is a directory")


def test_wrong_types_of_accounts_and_positions_are_reported_not_a_type_error(tmp_path):
    doc = copy.deepcopy(BASE)
    doc["accounts"] = [1, "x", {"id": "p", "venue": "okx", "positions": {"a": 1}}, doc["accounts"][0]]
    assert_rejected(_analyze(tmp_path, yaml.safe_dump(doc)), "account #1", "account 'p', field 'positions'")


@pytest.mark.parametrize("market,field", [({"vol": 5e-324}, "vol"), ({"vol": 50.0}, "vol"), ({"mark": 5e-324}, "mark"),
                                          ({"mark": 1e300}, "mark"), ({"vol": float("nan")}, "vol")])
def test_market_numbers_outside_the_supported_range_are_rejected(tmp_path, market, field):
    assert_rejected(_analyze(tmp_path, _base_yaml(**market)), "market 'BTC'", f"field '{field}'")


def test_rate_nan_is_rejected(tmp_path):
    doc = copy.deepcopy(BASE)
    doc["rate"] = float("nan")
    assert_rejected(_analyze(tmp_path, yaml.safe_dump(doc)), "field 'rate'")


def test_a_debt_covered_by_other_collateral_is_accepted():
    doc = copy.deepcopy(BASE)
    _acct(doc)["collateral"] = {"USDT": -1000, "BTC": 1}
    account = parse_portfolio(doc).accounts[1]
    assert {c: a for c, a, _ in account.collateral_items()} == {"USDT": -1000.0, "BTC": 1.0}


def test_too_many_accounts_exit_2_naming_the_limit_and_the_flag_raises_it(tmp_path):
    doc = yaml.safe_dump(BASE)
    assert_rejected(_analyze(tmp_path, doc, "book.yaml", "--max-accounts", "1"), "accounts = 1", "--max-accounts")
    assert _analyze(tmp_path, doc, "book.yaml", "--max-accounts", "2").exit_code == 0


def test_a_file_above_the_size_limit_is_rejected_before_it_is_parsed(tmp_path):
    big = "# padding\n" * 2_100_000 + yaml.safe_dump(BASE)                   # ~21 MB > 20 MB default
    assert_rejected(_analyze(tmp_path, big), "file_mb = 20", "--max-file-mb")


def test_a_huge_invalid_file_prints_its_first_problems_and_a_count(tmp_path):
    doc = copy.deepcopy(BASE)
    doc["accounts"] = [{"id": f"a{i}", "venue": "binance-usdm", "positions": [
        {"symbol": "BTCUSDT", "kind": "perp", "size": 0, "entry": -1}]} for i in range(500)]
    lines = assert_rejected(_analyze(tmp_path, json.dumps(doc), "book.json"), "more problems")
    assert len(lines) == 51 and len(set(lines)) == 51


def test_paths_times_steps_and_horizon_are_bounded(tmp_path):
    doc = yaml.safe_dump(BASE)
    assert_rejected(_analyze(tmp_path, doc, "book.yaml", "--horizon", "400d"), "--max-horizon-days")
    assert_rejected(_analyze(tmp_path, doc, "book.yaml", "--horizon", "30d", "--paths", "10000000"), "--max-path-steps")


@pytest.mark.parametrize("args,needle", [(["--stress", "0"], "--stress"), (["--participation", "2"], "--participation"),
                                         (["--exit-horizon-hours", "nan"], "--exit-horizon-hours"),
                                         (["--drift", "inf"], "--drift"), (["--seed", "-1"], "--seed")])
def test_bad_option_values_exit_2_not_an_all_null_exit_block(tmp_path, args, needle):
    assert_rejected(_analyze(tmp_path, yaml.safe_dump(BASE), "book.yaml", *args), needle)


def test_a_bare_book_path_for_a_multi_underlying_file_must_say_which_underlying(tmp_path):
    book = str(ROOT / "examples/books/btc_book.json")
    assert_rejected(_analyze(tmp_path, yaml.safe_dump(BASE), "book.yaml", "--book", book), "BTC=")


def test_a_book_far_from_the_mark_is_rejected(tmp_path):
    book = str(ROOT / "examples/books/btc_book.json")          # a BTC book (~91,250) given for ETH (3,050)
    assert_rejected(_analyze(tmp_path, yaml.safe_dump(BASE), "book.yaml", "--book", f"ETH={book}"), "another market")


@pytest.mark.parametrize("spec", ["BTC:1e400:1", "BTC:1:1e400", "BTC:nan:91250", "BTC:1e300:91250"])
def test_exit_cost_position_must_be_finite_and_in_range(spec):
    res = runner.invoke(app, ["exit-cost", "--position", spec, "--json"])
    _no_traceback(res, res.output)
    assert_rejected(res, "--position")


def test_usage_errors_are_one_plain_line_and_help_has_no_type_noise():
    res = runner.invoke(app, ["analyze", "x.yaml", "--paths", "abc"])
    assert res.exit_code == 2 and res.output.startswith("error: ") and "╭" not in res.output
    assert len(res.output.strip().splitlines()) == 1
    help_text = runner.invoke(app, ["analyze", "--help"]).output
    assert "<bool>" not in help_text and "╭" not in help_text


def test_output_guard_flags_a_liquidatable_flag_that_contradicts_equity_and_mm():
    from liqrisk.report.guards import analysis_problems
    doc = {"accounts": [{"id": "a", "equity": 10.0, "initial_margin": 1.0, "maintenance_margin": 50.0,
                         "liquidatable_now": False, "positions": [{"initial_margin": 1.0, "maintenance_margin": 50.0}]}]}
    assert any("liquidatable_now" in p for p in analysis_problems(doc))
    doc["accounts"][0]["maintenance_margin"] = -1.0
    assert any("maintenance_margin" in p for p in analysis_problems(doc))


def test_strict_json_refuses_nan_naming_where():
    from liqrisk.cli.errors import OutputError, strict_json
    with pytest.raises(OutputError, match="accounts\\[0\\].equity"):
        strict_json({"accounts": [{"equity": float("nan")}]})


# ---- cascade inputs ----------------------------------------------------------------------------

SCENARIO = {"name": "t", "assets": {"BTC": {"price": 91250, "vol": 0.55, "daily_volume": 150000},
                                    "ETH": {"price": 3050, "vol": 0.7, "daily_volume": 3e6}},
            "shock": {"kind": "gap", "steps": 3, "moves": {"BTC": -0.1}}, "population": {"synthetic": {"n_accounts": 200, "seed": 1}}}


def _cascade(tmp_path, scenario, *args, name="s.yaml"):
    path = tmp_path / name
    if isinstance(scenario, (bytes, str)):
        path.write_bytes(scenario if isinstance(scenario, bytes) else scenario.encode())
    else:
        path.write_text(yaml.safe_dump(scenario))
    res = runner.invoke(app, ["cascade", str(path), "--json", *args])
    _no_traceback(res, res.output)
    return res


def _scenario(**changes):
    d = copy.deepcopy(SCENARIO)
    for dotted, v in changes.items():
        *head, last = dotted.split("__")
        node = d
        for k in head:
            node = node.setdefault(k, {})
        node[last] = v
    return d


def test_cascade_binary_scenario_file_is_an_input_error(tmp_path):
    assert_rejected(_cascade(tmp_path, b"\x89PNG\r\n\x1a\n\x00\xff"), "not UTF-8")


def test_cascade_deeply_nested_scenario_is_an_input_error(tmp_path):
    assert_rejected(_cascade(tmp_path, "name: " + "[" * 100 + "]" * 100), "--max-depth")
    assert_rejected(_cascade(tmp_path, "name: " + "[" * 5000 + "]" * 5000), "nesting depth")


@pytest.mark.parametrize("corr", [-1.0, -0.9, 1.0])
def test_cascade_correlation_that_is_not_a_valid_matrix_is_rejected_not_a_linalg_error(tmp_path, corr):
    d = _scenario(shock__noise={"vol": 0.01, "correlation": corr, "seed": 1},
                  assets__SOL={"price": 140, "vol": 0.8, "daily_volume": 1e6})
    assert_rejected(_cascade(tmp_path, d), "shock.noise.correlation")


@pytest.mark.parametrize("change,field", [({"shock__steps": 10 ** 400}, "shock.steps"), ({"shock__steps": True}, "shock.steps"),
                                          ({"adl": "no"}, "adl"), ({"shock__kind": ["gap"]}, "shock.kind"),
                                          ({"assets__BTC__daily_volume": -1e-308}, "assets.BTC.daily_volume"),
                                          ({"shock__kind": "historical", "shock__start": "2018-13-45"}, "shock.start"),
                                          ({"sweep": {"moves": [-0.1], "impact_scales": []}}, "sweep.impact_scales"),
                                          ({"sweep": {"moves": [float("nan")]}}, "sweep.moves"),
                                          ({"population": {"synthetic": {"n_accounts": 10 ** 12}}}, "n_accounts")])
def test_cascade_scenario_values_of_the_wrong_type_or_range_name_the_field(tmp_path, change, field):
    assert_rejected(_cascade(tmp_path, _scenario(**change)), field)


def test_cascade_synthetic_population_without_eth_says_what_to_add(tmp_path):
    d = _scenario()
    del d["assets"]["ETH"]
    assert_rejected(_cascade(tmp_path, d), "population.synthetic.prices", "ETH", "'assets'")


def test_cascade_sweep_json_is_strict_with_one_row_per_grid_point(tmp_path):
    d = _scenario(sweep={"moves": [0.0, -0.05], "impact_scales": [1.0, 2.0]})
    res = _cascade(tmp_path, d)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output, parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    assert len(doc["rows"]) == 4


@pytest.mark.parametrize("state,field", [
    ({"assetPositions": [{"position": 5}]}, "assetPositions[0].position"),
    ({"assetPositions": [{"position": {"coin": "ETH", "szi": True, "entryPx": "1"}}]}, "szi"),
    ({"assetPositions": [{"position": {"coin": "ETH", "szi": "1e400", "entryPx": "1"}}]}, "szi"),
    ({"assetPositions": [{"position": {"coin": ["ETH"], "szi": "1", "entryPx": "1", "maxLeverage": 50}}]}, "coin"),
    ({"assetPositions": {"a": 1}}, "assetPositions"),
    ({"assetPositions": [{"position": {"coin": "ETH", "szi": "1", "entryPx": "3000", "maxLeverage": 50,
                                       "leverage": {"type": "hedge"}}}]}, "leverage.type")])
def test_cascade_hyperliquid_state_of_wrong_types_names_the_field(tmp_path, state, field):
    accounts = tmp_path / "hl.json"
    accounts.write_text(json.dumps(state))
    assert_rejected(_cascade(tmp_path, _scenario(), "--accounts", str(accounts)), field)


@pytest.mark.parametrize("csv_text,field", [
    ("account_id,venue,mode,collateral_usd,asset,size,entry\na,binance-usdm,cross,1e400,BTC,1,90000\n", "collateral_usd"),
    ("account_id,venue,mode,collateral_usd,asset,size,entry\na,binance-usdm,cross,100,BTC,True,90000\n", "size"),
    ("account_id,venue,mode,collateral_usd,asset,size,entry\na,binance-usdm,cross,100,BTC,1,1" + "0" * 400 + "\n", "entry"),
    ("account_id,venue,mode,collateral_usd,asset,size,entry\na,binance-usdm,cross,100,BTC,1,5e-324\n", "entry"),
    ("account_id,venue,mode,collateral_usd,asset,size,entry,mmr,cum\na,binance-usdm,cross,100,BTC,1,90000,0.005,1e6\n", "cum")])
def test_cascade_position_table_values_out_of_range_name_the_column(tmp_path, csv_text, field):
    accounts = tmp_path / "p.csv"
    accounts.write_text(csv_text)
    assert_rejected(_cascade(tmp_path, _scenario(), "--accounts", str(accounts)), field)


def test_cascade_accounts_directory_is_an_input_error(tmp_path):
    (tmp_path / "pop.csv").mkdir()
    assert_rejected(_cascade(tmp_path, _scenario(), "--accounts", str(tmp_path / "pop.csv")), "directory")


def test_unreachable_dask_scheduler_is_one_line_exit_2():
    pytest.importorskip("dask.distributed")
    res = runner.invoke(app, ["cascade", str(ROOT / "examples/scenarios/btc_sweep.yaml"), "--engine", "dask",
                              "--scheduler", "tcp://127.0.0.1:9", "--json"])
    _no_traceback(res, res.output)
    assert_rejected(res, "--scheduler", "cannot reach the Dask scheduler")


def test_backtest_calibration_with_a_daily_file_says_it_needs_hourly_bars():
    res = runner.invoke(app, ["backtest-calibration", "--hourly", "--file", str(ROOT / "src/liqrisk/data/btcusd_1d_coinbase.csv")])
    _no_traceback(res, res.output)
    assert_rejected(res, "hourly")


# ---- population bound: exchange-scale, separate from the per-portfolio-file limits -------------

@pytest.mark.parametrize("path", sorted((ROOT / "examples/scenarios").glob("*.yaml")), ids=lambda p: p.name)
def test_every_bundled_scenario_population_is_within_the_default_bounds(path):
    from liqrisk.cascade.run import resolve_population
    from liqrisk.cascade.scenario import load_scenario
    sc = load_scenario(path)
    assert resolve_population(sc, None, path.parent).n_accounts >= 1


def test_a_population_is_bounded_by_max_population_not_by_the_portfolio_file_limit(tmp_path):
    table = ROOT / "examples/populations/small_book.csv"
    n = len({line.split(",")[0] for line in table.read_text().splitlines()[1:]})
    ok = _cascade(tmp_path, _scenario(), "--accounts", str(table), "--max-accounts", "1", "--max-positions", "1")
    assert ok.exit_code == 0, ok.output
    assert_rejected(_cascade(tmp_path, _scenario(), "--accounts", str(table), "--max-population", str(n - 1)),
              "--max-population")
    assert_rejected(_cascade(tmp_path, _scenario(), "--max-population", "199"),
              "population.synthetic.n_accounts", "--max-population")
    states = tmp_path / "hl.json"
    states.write_text(json.dumps([json.loads((ROOT / "examples/populations/"
                                              "hyperliquid_clearinghouse_docs_example.json").read_text())] * 3))
    assert_rejected(_cascade(tmp_path, _scenario(), "--accounts", str(states), "--max-population", "2"),
              "3 users", "--max-population")


# ---- option chain, OHLC and Parquet columns: ranges, not just signs -------------------------------

CHAIN_HEADER = "expiry_id,ttm_years,forward,strike,option_type,bid_iv,ask_iv\n"


@pytest.mark.parametrize("row,column,shown", [
    ("1m,0.1,1e308,90000,P,0.6,0.7", "forward", "1e+308"), ("1m,0.1,5e-324,90000,P,0.6,0.7", "forward", "4.94066e-324"),
    ("1m,0.1,91000,1e308,P,0.6,0.7", "strike", "1e+308"), ("1m,0.1,91000,90000,P,5e-324,0.7", "bid_iv", "4.94066e-324"),
    ("1m,1e308,91000,90000,P,0.6,0.7", "ttm_years", "1e+308"), ("1m,0.1,91000,,P,0.6,0.7", "strike", "empty"),
    ("1m,0.1,91000,90000,X,0.6,0.7", "option_type", "'X'"), ("1m,0.1,91000,90000,,0.6,0.7", "option_type", "empty")])
def test_chain_values_outside_their_ranges_name_line_column_and_value(tmp_path, row, column, shown):
    from liqrisk.dynamics.ohlc import DataError
    from liqrisk.dynamics.smile import load_chain_csv
    path = tmp_path / "chain.csv"
    path.write_text(CHAIN_HEADER + row + "\n")
    with pytest.raises(DataError, match=rf"chain.csv: line 2, column '{column}': value {re.escape(shown)} ") as e:
        load_chain_csv(path)
    assert "np." not in str(e.value)


@pytest.mark.parametrize("price,needle", [("5e-324", "price range"), ("1e308", "price range"), ("-1", "positive price")])
def test_ohlc_prices_outside_the_supported_range_are_rejected(tmp_path, price, needle):
    from liqrisk.dynamics.ohlc import DataError, load_ohlc
    path = tmp_path / "bars.csv"
    path.write_text("timestamp,open,high,low,close,volume\n" + "".join(
        f"2024-01-01T{h:02d}:00:00Z,{price},{price},{price},{price},1\n" for h in range(5)))
    with pytest.raises(DataError, match=f"bars.csv: line 2, column 'open': .*{needle}"):
        load_ohlc(path)


def test_a_parquet_date_column_is_not_read_as_nanoseconds(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pd.read_csv(ROOT / "examples/populations/small_book.csv")
    frame["size"] = pd.Timestamp("1970-01-01 00:00:01")     # 1e9 ns: inside the size range
    frame.to_parquet(tmp_path / "pop.parquet")
    assert_rejected(_cascade(tmp_path, _scenario(), "--accounts", str(tmp_path / "pop.parquet")), "size", "dates")


def test_vol_of_two_bars_names_the_file_and_the_minimum(tmp_path):
    path = tmp_path / "bars.csv"
    path.write_text("timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,1,1,1,1\n"
                    "2024-01-01T01:00:00Z,1,1,1,1,1\n")
    res = runner.invoke(app, ["vol", str(path), "--json"])
    _no_traceback(res, res.output)
    assert_rejected(res, "bars.csv: 2 bars", "at least 3")
