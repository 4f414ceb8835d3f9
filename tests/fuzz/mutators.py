"""Hypothesis strategies that mutate the bundled examples into bad (and good) inputs.

Structural mutations act on the decoded document (a tree of dicts/lists/scalars): replace a
value by an extreme or a wrong type, delete it, repeat a list element many times, bury it in
deep nesting, rename a key. Text mutations act on the encoded file: a duplicated key, a YAML
alias bomb, another encoding, binary junk, truncation, an empty file, a directory.
"""
from __future__ import annotations

import copy
import csv
import functools
import io
import json
from pathlib import Path

import yaml
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

EXTREMES = [float("nan"), float("inf"), float("-inf"), 0, -0.0, 5e-324, -5e-324, 1e308, -1e308, 1e-300,
            10 ** 400, -(10 ** 30), -1, 1, 2, 0.5, 1e15, 1e16, True, False, None, "", "x", "1e400", "-1",
            "2026-13-45", [], {}, [1, 2], {"a": 1}, "é" * 3, "x" * 5000]
CLI_NUMBERS = ["0", "-1", "nan", "inf", "-inf", "1e400", "2", "0.5", "1e-300", "5e-324", "1e9", "abc", ""]


def _yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _absolute_chain_paths(doc: dict) -> dict:
    for block in doc["market"].values():       # the fuzz inputs are written elsewhere
        if isinstance(block, dict) and "chain_csv" in block:
            block["chain_csv"] = str((EXAMPLES / block["chain_csv"]).resolve())
    return doc


FUNDING_CSV = "funding.csv"     # the market block's funding series, written (maybe mutated) beside the input


def market_rich_seed() -> dict:
    """``multi_venue.yaml`` with every market-block input the file format has: funding as a rate,
    a CSV series and the premium formula, and a correlation pair."""
    doc = _yaml(EXAMPLES / "multi_venue.yaml")
    doc["market"]["BTC"]["funding"] = 0.0001
    doc["market"]["ETH"]["funding"] = {"csv": FUNDING_CSV}
    doc["market"]["SOL"]["funding"] = {"impact_bid": 142.4, "impact_ask": 142.6}
    doc["market"]["correlation"] = {"BTC": {"SOL": 0.8}, "ETH": {"SOL": 0.7}}
    return doc


def portfolio_seeds() -> list[tuple[str, dict]]:
    """(suffix, document) of every bundled portfolio example (cross/isolated, options, portfolio
    margin, collateral loans) and one with every market-block input."""
    deribit = _absolute_chain_paths(json.loads((EXAMPLES / "deribit_options_2021-10-21.json").read_text()))
    return [(".yaml", _yaml(EXAMPLES / "multi_venue.yaml")), (".json", deribit), (".yaml", market_rich_seed()),
            (".yaml", _yaml(EXAMPLES / "portfolio_margin_venues.yaml")), (".yaml", _yaml(EXAMPLES / "defi_loans.yaml")),
            (".yaml", _absolute_chain_paths(_yaml(EXAMPLES / "deribit_portfolio_margin.yaml")))]


ONE_PERP = {"as_of": "2026-11-23T00:00:00Z", "market": {"BTC": {"mark": 91000.0, "vol": 0.6}},
            "accounts": [{"id": "iso", "venue": "binance-usdm", "mode": "isolated",
                          "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": 91000,
                                         "margin": 9100}]}]}
"""One isolated linear perp: what ``policy-backtest`` takes."""


def funding_rows() -> list[dict]:
    """An hourly funding series (timestamp,rate per payment) ending at the seeds' as_of."""
    return [{"timestamp": f"2026-11-22T{h:02d}:00:00Z", "rate": f"{0.0001 * (1 + h % 3):g}"} for h in range(24)]


def ohlc_rows(name: str = "btcusd_1d_coinbase.csv", n: int = 120) -> list[dict]:
    """The last ``n`` bars of a bundled OHLC file (default: 120 days of daily BTC, an input of
    --vol-from; ``btc_eth_usd_1d_bitstamp.csv``: btc_*/eth_* columns; ``btcusd_1h_coinbase.csv``)."""
    with open(ROOT / "src" / "liqrisk" / "data" / name) as f:
        return list(csv.DictReader(f))[-n:]


def scenario_seeds() -> list[dict]:
    """Bundled scenarios, made small (few synthetic accounts, short sweeps) so one run is quick."""
    out = []
    for p in sorted((EXAMPLES / "scenarios").glob("*.yaml")):
        d = _yaml(p)
        pop = d.get("population") or {}
        if isinstance(pop.get("accounts"), str):           # the fuzz inputs are written elsewhere
            pop["accounts"] = str((p.parent / pop["accounts"]).resolve())
        synth = pop.get("synthetic")
        if isinstance(synth, dict):
            synth["n_accounts"] = min(int(synth.get("n_accounts", 300)), 300)
        if isinstance(d.get("sweep"), dict):
            d["sweep"]["moves"] = d["sweep"].get("moves", [-0.1])[:3]
            d["sweep"]["impact_scales"] = d["sweep"].get("impact_scales", [1.0])[:2]
        out.append(d)
    return out


def population_rows() -> list[dict]:
    with open(EXAMPLES / "populations" / "small_book.csv") as f:
        return list(csv.DictReader(f))


def hyperliquid_seed() -> dict:
    return json.loads((EXAMPLES / "populations" / "hyperliquid_clearinghouse_docs_example.json").read_text())


def _paths(doc):
    """Every location in a document (the root too), shallow ones first."""
    out, todo = [], [((), doc)]
    while todo:
        prefix, x = todo.pop(0)
        out.append(prefix)
        items = x.items() if isinstance(x, dict) else enumerate(x) if isinstance(x, list) else ()
        todo += [(prefix + (k,), v) for k, v in items]
        if len(out) > 5000:
            break
    return out


def _get(doc, path):
    for k in path:
        doc = doc[k]
    return doc


def _set(doc, path, value):
    if not path:
        return value
    _get(doc, path[:-1])[path[-1]] = value
    return doc


def _same_type(a, b) -> bool:
    """Both numbers (not bools), or both of one other type: a value change, not a shape change."""
    def kind(x):
        return "number" if isinstance(x, (int, float)) and not isinstance(x, bool) else type(x)
    return kind(a) == kind(b)


@st.composite
def mutated_tree(draw, doc, n_max: int = 3):
    """(``doc`` with 0..n_max mutations, their kinds): a kind is "semantic" for a value replaced
    by another of its type (a number by an extreme, a scaled number), "structural" otherwise
    (a type change, a deletion, a repetition, nesting, a renamed key)."""
    kinds: list[str] = []
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, n_max)) if draw(st.integers(0, 3)) else 0):   # 1 in 4: unmutated
        paths = _paths(doc)[1:] or [()]          # not the root: a whole-file type change is a text op
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["extreme", "extreme", "extreme", "delete", "repeat", "nest", "rename", "scale"]))
        target = _get(doc, path)
        if op == "extreme":
            value = copy.deepcopy(draw(st.sampled_from(EXTREMES)))
            kinds.append("semantic" if _same_type(value, target) else "structural")
            doc = _set(doc, path, value)
        elif op == "delete" and path:
            parent = _get(doc, path[:-1])
            del parent[path[-1]]
            kinds.append("structural")
        elif op == "repeat" and isinstance(target, list) and target:
            k = draw(st.sampled_from([2, 10, 200]))
            item = draw(st.sampled_from(target))
            target.extend(copy.deepcopy(item) for _ in range(k))
            kinds.append("structural")
        elif op == "nest":
            depth = draw(st.sampled_from([3, 25, 200]))
            value = target
            for _ in range(depth):
                value = [value]
            doc = _set(doc, path, value)
            kinds.append("structural")
        elif op == "rename" and path and isinstance(path[-1], str):
            parent = _get(doc, path[:-1])
            parent[path[-1] + draw(st.sampled_from(["_", "X", " "]))] = parent.pop(path[-1])
            kinds.append("structural")
        elif op == "scale" and isinstance(target, (int, float)) and not isinstance(target, bool):
            doc = _set(doc, path, target * draw(st.sampled_from([-1, 1e-9, 1e9, 1e300, 0])))
            kinds.append("semantic")
    return doc, kinds


NUMBERS = [x for x in EXTREMES if isinstance(x, (int, float)) and not isinstance(x, bool)]
SCALES = [-1, 0, 1e-9, 1e9, 1e300, 0.999, 1.001, 10, 0.1]


def _words(docs) -> dict[str, list[str]]:
    """Every non-numeric string value each key takes in ``docs`` (venue names, modes, kinds,
    option types, ids, shock kinds …)."""
    out: dict[str, set] = {}
    todo = list(docs)
    while todo:
        x = todo.pop()
        if isinstance(x, dict):
            for k, v in x.items():
                if isinstance(v, str) and not _number_text(v):
                    out.setdefault(k, set()).add(v)
                todo.append(v)
        elif isinstance(x, list):
            todo += x
    return {k: sorted(v) for k, v in out.items()}


@functools.cache
def vocabulary(inputs: str = "portfolio") -> dict[str, list[str]]:
    """The words of the bundled portfolios, ("cascade") of the scenarios, the position table and
    the Hyperliquid state, or ("import") of the recorded exchange answers."""
    docs = {"portfolio": lambda: [d for _, d in portfolio_seeds()],
            "cascade": lambda: scenario_seeds() + population_rows() + [hyperliquid_seed()],
            "import": lambda: [d for _, d, _ in import_seeds()]}[inputs]()
    return _words(docs)


def _number_text(x) -> bool:
    """A string that reads as a number (CSV cells, Hyperliquid's quoted decimals)."""
    try:
        float(x)
    except (TypeError, ValueError):
        return False
    return isinstance(x, str)


NUMBER_TEXTS = ["nan", "NaN", "inf", "-inf", "1e400", "-1e400", "1e308", "-1e308", "5e-324", "-5e-324", "0", "-0",
                "1e-300", "1e15", "1e16", "-1"]
"""Number cells as a CSV or a quoted-decimal JSON writes them: non-finite, huge, tiny, signs."""
WRONG_TEXTS = ["abc", "true", "", " ", "1,5", "0x10", "[1]", "None", "1e", "é", "1 000"]
"""Words in a number's place."""


@st.composite
def mutated_values(draw, doc, n_max: int = 3, inputs: str = "portfolio"):
    """(``doc`` with 1..n_max value mutations, their kinds). Semantic (the shape and types stay):
    a number (or a number written as text) to an extreme, a sign flip or a scaled copy; a word to
    another value its key takes in the bundled ``inputs`` (another venue, mode, kind, asset, id: an
    id of one account given to another's row); a list element duplicated (the same position or
    account twice). Structural: a word in a number-as-text's place."""
    doc = copy.deepcopy(doc)
    words = vocabulary(inputs)
    kinds: list[str] = []
    for _ in range(draw(st.integers(1, n_max))):
        paths = _paths(doc)      # again after each mutation: a duplicated element shifts the indices
        leaves = [p for p in paths[1:] if _same_type(_get(doc, p), 0.0) or _number_text(_get(doc, p))
                  or isinstance(_get(doc, p), str) and isinstance(p[-1], str) and len(words.get(p[-1], [])) > 1]
        lists = [p for p in paths if isinstance(_get(doc, p), list) and _get(doc, p)]
        if not leaves:
            break
        if lists and draw(st.integers(0, 5)) == 0:
            target = _get(doc, draw(st.sampled_from(lists)))
            target.insert(draw(st.integers(0, len(target))), copy.deepcopy(draw(st.sampled_from(target))))
            kinds.append("semantic")
            continue
        path = draw(st.sampled_from(leaves))
        value = _get(doc, path)
        if isinstance(value, str) and not _number_text(value) and len(words.get(path[-1], [])) > 1:
            value = draw(st.sampled_from(words[path[-1]]))
            kinds.append("semantic")
        elif isinstance(value, str):      # a number as text (or a word an earlier mutation put there)
            how = draw(st.sampled_from(["extreme", "extreme", "scale", "word"]))
            if how == "scale" and _number_text(value):
                value = repr(float(value) * draw(st.sampled_from(SCALES)))
            else:
                value = draw(st.sampled_from(WRONG_TEXTS if how == "word" else NUMBER_TEXTS))
            kinds.append("structural" if how == "word" else "semantic")
        elif draw(st.booleans()):
            value = draw(st.sampled_from(NUMBERS))
            kinds.append("semantic")
        else:
            scale = draw(st.sampled_from(SCALES))
            value = value * scale if abs(value) < 1e308 else value      # 10**400 × a float overflows
            kinds.append("semantic")
        doc = _set(doc, path, value)
    return doc, kinds


def kind_of(kinds) -> str:
    """One input's class: structural if any mutation was, else semantic if any, else valid."""
    kinds = set(kinds) - {"none"}
    return "structural" if kinds - {"semantic"} else "semantic" if kinds else "valid"


def encode(doc, suffix: str) -> str:
    """Text of a document as YAML, JSON (JSON keeps NaN/Infinity as Python writes them) or CSV
    (a list of rows)."""
    import sys
    if suffix == ".csv":
        return csv_text(doc if isinstance(doc, list) else [doc])
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))
    try:
        if suffix == ".json":
            return json.dumps(doc, default=str)
        return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=10 ** 9)
    except yaml.YAMLError:
        return json.dumps(doc, default=str)
    finally:
        sys.setrecursionlimit(limit)


def _bomb(depth: int) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, depth):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


TEXT_OPS = ["none"] * 6 + ["duplicate_key", "alias_bomb", "utf16", "latin1", "binary", "truncate", "empty",
                           "bom", "directory", "deep_nesting"]


@st.composite
def mutated_text(draw, text: str, suffix: str, ops=TEXT_OPS):
    """(bytes or None for a directory, op name) of ``text`` after one text-level mutation of ``ops``."""
    op = draw(st.sampled_from(ops))
    if op == "duplicate_key":
        lines = text.splitlines()
        if suffix == ".json":
            text = text.replace("{", '{"as_of": "2026-01-01T00:00:00Z", ', 1) if text.startswith("{") else text
        elif lines:
            first_key = next((l for l in lines if l and not l.startswith((" ", "#", "-"))), lines[0])
            text = "\n".join(lines + [first_key]) + "\n"
    elif op == "alias_bomb" and suffix != ".json":
        depth = draw(st.sampled_from([3, 9, 12]))
        lines = text.splitlines()
        key = next((i for i, l in enumerate(lines) if l.strip().startswith(("name:", "- id:", "id:"))), None)
        text = _bomb(depth) + "\n".join(lines)
        if key is not None:
            k = key + depth
            lines2 = text.splitlines()
            lhs = lines2[k].split(":")[0]
            lines2[k] = f"{lhs}: *a{depth - 1}"
            text = "\n".join(lines2) + "\n"
    if op == "deep_nesting":
        n = draw(st.sampled_from([900, 5000, 100_000]))
        return (text.rstrip() + "\n" if suffix != ".json" else "") .encode() + \
            (("x: " if suffix != ".json" else "") + "[" * n + "]" * n).encode(), op
    if op == "utf16":
        return text.encode("utf-16"), op
    if op == "latin1":
        return ("# café ümlaut\n" + text).encode("latin-1", "replace"), op
    if op == "binary":
        return bytes(draw(st.binary(min_size=1, max_size=200))) + text.encode()[:100], op
    if op == "truncate":
        return text.encode()[: draw(st.integers(0, max(0, len(text) - 1)))], op
    if op == "empty":
        return b"", op
    if op == "bom":
        return b"\xef\xbb\xbf" + text.encode(), op
    if op == "directory":
        return None, op
    return text.encode(), op


def csv_text(rows: list[dict]) -> str:
    cols = list(dict.fromkeys(k for r in rows if isinstance(r, dict) for k in r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols or ["x"], extrasaction="ignore")
    w.writeheader()
    for r in rows:
        if isinstance(r, dict):
            w.writerow({k: v for k, v in r.items() if isinstance(k, str)})
    return buf.getvalue()


IMPORTS = ROOT / "tests" / "data" / "import"


def import_seeds() -> list[tuple[str, dict, list[str]]]:
    """(importer, recorded exchange answer, its required flags) of the recorded answers the
    importer tests use: ccxt dumps of Binance, Bybit, OKX, Hyperliquid and Deribit, Deribit's
    get_positions example, a Hyperliquid clearinghouseState."""
    def rec(name):
        return json.loads((IMPORTS / f"{name}.json").read_text())
    binance, bybit, okx = rec("binance_ccxt_static"), rec("bybit_ccxt_static"), rec("okx_ccxt_static")
    hl, deribit = rec("hyperliquid_ccxt_static"), rec("deribit_ccxt_issue_positions")
    linear = binance["fetchPositions_linear"]["parsedResponse"]
    okx_iso = okx["fetchPosition_inverse_isolated"]["parsedResponse"]
    return [
        ("ccxt", {"exchange": "binance", "positions": linear,
                  "balance": {"total": {"USDT": linear[0]["collateral"] + linear[0]["unrealizedPnl"]}}}, []),
        ("ccxt", {"exchange": "bybit", "positions": bybit["fetchPositions_linear"]["parsedResponse"],
                  "balance": bybit["fetchBalance_unified"]["parsedResponse"]}, []),
        ("ccxt", {"exchange": "okx", "positions": [okx_iso],
                  "balance": {"total": {"BTC": okx_iso["collateral"] + okx_iso["unrealizedPnl"]}}}, []),
        ("ccxt", {"exchange": "hyperliquid", "positions": hl["isolated_short_position"]["parsedResponse"],
                  "balance": {"total": {"USDC": float(hl["isolated_short_position"]["httpResponse"]["marginSummary"]
                                                      ["accountValue"])}}}, []),
        ("ccxt", {"exchange": "deribit", "positions": [deribit["fetchPositions_btc_perpetual"]["parsedResponse"]],
                  "balance": {"total": {"BTC": 1.0}}}, []),
        ("deribit", rec("deribit_get_positions_docs_example"), ["--collateral", "BTC=0.01"]),
        ("hyperliquid", hl["short_position"]["httpResponse"], ["--vol", "SOL=0.9"]),
    ]


# The REST service (POST /v1/analyze, /v1/what-if, /v1/advise, /v1/cascade): requests are
# (method, path, query parameters, JSON body bytes); the body is a mutated document encoded as
# Python's json writes it (NaN/Infinity literals and huge integers included: FastAPI decodes them).

def json_body(doc) -> bytes:
    """A document as the body of a request (NaN, Infinity and 10**400 kept as json.dumps writes them)."""
    import sys
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))
    try:
        return json.dumps(doc, default=str).encode()
    finally:
        sys.setrecursionlimit(limit)


def service_portfolio_seeds() -> list[dict]:
    """The bundled portfolios as the JSON documents the API takes (YAML timestamps as text; an
    option chain file replaced by a flat vol, a funding file by a rate)."""
    def plain(x):
        if isinstance(x, dict):
            return {str(k): plain(v) for k, v in x.items()}
        if isinstance(x, list):
            return [plain(v) for v in x]
        return x.isoformat().replace("+00:00", "Z") if hasattr(x, "isoformat") else x
    out = []
    for _, d in portfolio_seeds():
        d = plain(d)
        for block in d["market"].values():      # no files (the service reads none): a flat vol, a rate
            if isinstance(block, dict) and block.pop("chain_csv", None) is not None:
                block.setdefault("vol", 0.6)
            if isinstance(block, dict) and isinstance(block.get("funding"), dict) and "csv" in block["funding"]:
                block["funding"] = 0.0001
        out.append(d)
    return out


def service_scenario_seeds() -> list[dict]:
    """The bundled scenarios with a small synthetic population (the service reads no files)."""
    out = []
    for d in scenario_seeds():
        d = json.loads(json.dumps(d, default=str))
        pop = d.get("population") if isinstance(d.get("population"), dict) else {}
        synth = pop.get("synthetic") if isinstance(pop.get("synthetic"), dict) else {}
        d["population"] = {"synthetic": {**synth, "n_accounts": min(int(synth.get("n_accounts", 200)), 200),
                                         "seed": synth.get("seed", 1)}}
        out.append(d)
    return out


BODY_OPS = ["duplicate_key", "utf16", "latin1", "binary", "truncate", "empty", "bom", "deep_nesting"]


@st.composite
def mutated_body(draw, doc, inputs: str = "portfolio") -> tuple[bytes, list[str]]:
    """(body, mutation kinds) of ``doc``: unmutated, value mutations, tree mutations, or one
    text mutation of its JSON (not JSON, other encodings, deep nesting, a duplicated key)."""
    how = draw(st.sampled_from(["none", "semantic", "semantic", "structural", "text"]))
    if how == "semantic":
        doc, kinds = draw(mutated_values(doc, inputs=inputs))
        return json_body(doc), kinds
    if how == "structural":
        doc, kinds = draw(mutated_tree(doc))
        return json_body(doc), kinds
    if how == "text":
        data, _ = draw(mutated_text(json_body(doc).decode(), ".json", BODY_OPS))
        return data, ["structural"]
    return json_body(doc), []


QUERY_NUMBERS = ["0", "-1", "nan", "inf", "-inf", "1e400", "2", "0.5", "1e-300", "5e-324", "1e9", "abc", "",
                 "99999999999999999999"]
ANALYZE_QUERY = {
    "horizon": ["1d", "7d", "4h", "0d", "-1h", "1e400d", "400d", "30m", "abc", "", "100000w"],
    "paths": ["200", "100", "99", "1000000000", "-5", "abc", "1e3"], "seed": ["0", "-1", "4294967296", "abc"],
    "model": ["auto", "gbm", "merton", "student", "student_t", "fhs", "garch_fhs", "nope", ""],
    "drift": QUERY_NUMBERS, "exit_horizon_hours": QUERY_NUMBERS, "participation": QUERY_NUMBERS,
    "stress": QUERY_NUMBERS, "curves": ["true", "false", "x", "1"],
}
"""Query parameter → values of /v1/analyze and /v1/what-if (AnalyzeOptions)."""


@st.composite
def query(draw, table: dict, kinds: list[str], base: dict, max_size: int = 3) -> list[tuple[str, str]]:
    """``base`` with up to ``max_size`` parameters of ``table`` set (or repeated) to drawn values."""
    params = dict(base)
    extra = []
    for name in draw(st.lists(st.sampled_from(sorted(table)), max_size=max_size, unique=True)):
        value = draw(st.sampled_from(table[name]))
        kinds.append("semantic")
        if name == "horizon" and draw(st.booleans()):
            extra.append((name, value))          # repeatable: one more horizon
        else:
            params[name] = value
    return list(params.items()) + extra


def _service_ids(doc) -> list[str]:
    accounts = doc.get("accounts") if isinstance(doc, dict) else None
    return [a["id"] for a in accounts if isinstance(a, dict) and isinstance(a.get("id"), str)] \
        if isinstance(accounts, list) else []


WHAT_IF_VALUES = [-0.1, 0.05, -1, -1.5, 0, 1e308, float("nan"), float("inf"), 10 ** 400, 5e-324, "x", None, True]


@st.composite
def what_if_changes(draw, seed: dict, kinds: list[str]) -> dict:
    """The change fields of a /v1/what-if body (WhatIfIn), valid or extreme."""
    ids = _service_ids(seed) + ["nope", ""]
    unds = ["BTC", "ETH", "SOL", "XRP", "*", ""]
    out: dict = {}
    for key in draw(st.lists(st.sampled_from(["shock", "vol", "time", "topup", "add", "reduce"]), max_size=3,
                             unique=True)):
        kinds.append("semantic")
        if key in ("shock", "vol"):
            out[key] = {draw(st.sampled_from(unds)): draw(st.sampled_from(WHAT_IF_VALUES + [0.2, -0.05]))}
        elif key == "time":
            out[key] = draw(st.sampled_from(["3d", "8h", "0d", "-1d", "1e400d", "abc", "400d", "100000w", None, 5]))
        elif key == "topup":
            out[key] = [{"account": draw(st.sampled_from(ids)),
                         "asset": draw(st.sampled_from(["USDT", "BTC", "USDC", "ETHUSDT", "XYZ", ""])),
                         "amount": draw(st.sampled_from(WHAT_IF_VALUES + [1000.0, 1e14]))}]
        elif key == "add":
            out[key] = [f"{draw(st.sampled_from(ids))}:{draw(st.sampled_from(['BTCUSDT', 'ETHUSDT', 'BTC', 'NOPE']))}:"
                        f"{draw(st.sampled_from(['0.5', '-1', '0', 'nan', '1e400', 'x']))}"
                        + draw(st.sampled_from(["", "@90000", "@0", "@nan", "@-1"]))]
        else:
            out[key] = [f"{draw(st.sampled_from(ids))}:{draw(st.sampled_from(['BTCUSDT', 'ETHUSDT', 'NOPE']))}:"
                        f"{draw(st.sampled_from(['0.5', '1', '0', '2', '-0.5', 'nan', 'x']))}"]
    return out


SERVICE_TARGETS = ["p(7d)<=1%", "distance>=3sd", "p(1d)<=5%", "p(7d)<=-1%", "p(0d)<=1%", "p(7d)<=200%",
                   "p(7d)<=nan%", "distance>=nansd", "distance>=-3sd", "distance>=1e400sd", "p(1e400d)<=1%", "x", "",
                   "p(7d)<=0%", "p(400d)<=1%"]


@st.composite
def service_request(draw, route: str):
    """(kind, request) of one call of ``route`` (analyze | what-if | advise | cascade): a request
    is {"method", "path", "params": [(name, value)], "body": bytes}."""
    kinds: list[str] = []
    if route == "cascade":
        body, k = draw(mutated_body(draw(st.sampled_from(service_scenario_seeds())), "cascade"))
        return kind_of(k), {"method": "POST", "path": "/v1/cascade", "params": [], "body": body}
    seed = draw(st.sampled_from(service_portfolio_seeds()))
    if route == "what-if":
        body_doc = {"portfolio": seed, **draw(what_if_changes(seed, kinds))}
        body, k = draw(mutated_body(body_doc))
        params = draw(query(ANALYZE_QUERY, kinds, {"paths": "200"}))
    elif route == "advise":
        body, k = draw(mutated_body(seed))
        kinds.append("semantic")           # the target
        params = draw(query({"paths": ANALYZE_QUERY["paths"], "seed": ANALYZE_QUERY["seed"],
                             "model": ANALYZE_QUERY["model"]}, kinds,
                            {"target": draw(st.sampled_from(SERVICE_TARGETS)), "paths": "200"}, max_size=2))
    else:
        body, k = draw(mutated_body(seed))
        params = draw(query(ANALYZE_QUERY, kinds, {"paths": "200"}))
    return kind_of(kinds + k), {"method": "POST", "path": f"/v1/{route}", "params": params, "body": body}


# --- numbers at their edges (issue 9: the last campaign's blind spot) ---------------------------
# Two faults the seed-9 campaign missed were found by hand: a sweep's impact_scales [0, …] under
# the sqrt model (ZeroDivisionError) and `exit-cost --horizon 1e26d` (accepted, an absurd
# result). The generators below try every numeric flag and every numeric field of a scenario or
# portfolio file at its edges, one at a time on an otherwise valid run.

NUMBER_EDGES = ["0", "-0", "0.0", "+0", "5e-324", "-5e-324", "1e-320", "1e-300", "1e-12", "1e-9", "1e-6", "0.999999",
                "1", "1.000001", "-1", "-1e-300", "2", "10", "1e6", "1e15", "1e16", "1e26", "1e300", "1e308", "1.8e308",
                "-1e308", "1e400", "-1e400", "99999999999999999999", "nan", "NaN", "-nan", "+nan", "NAN", "inf", "+inf",
                "-inf", "Inf", "INF", "infinity", "Infinity", "-Infinity", "1_000", "0x10", " 1", "1 ", "1e", "e5", ".",
                "", "abc", "١", "1,5"]
"""A numeric flag's value as a user may type it: zero (signed), tiny and denormal, near one, huge,
beyond float range, non-finite in every spelling float() and YAML take, and text that is no number."""
INT_EDGES = ["0", "-0", "1", "2", "-1", "99", "100", "101", "200", "1.5", "1e3", "2e2", "+5", "0x10", "1_000",
             "2147483648", "4294967296", "9223372036854775808", "99999999999999999999", "nan", "inf", "", "abc"]
"""An integer flag's value (paths, seeds, steps, limits): signs, boundaries, floats, overflow."""
DURATION_EDGES = ["0s", "0m", "0h", "0d", "0w", "1s", "1m", "30m", "1h", "1.5h", "1d", "7d", "1w", "1y", "2y", "365d",
                  "366d", "367d", "8784h", "8785h", "525600m", "527041m", "52w", "53w", "1e-300h", "1e-9d", "1e26d",
                  "1e308d", "1e400d", "-1d", "-0d", "nand", "NaNd", "infd", "Infinityd", "1d1h", "1D", "1H", " 1d",
                  "1d ", "d", "1", "", "1_0d", "0x10d", "1e2h", "١d", "100000w", "1e5d", "9999999999999999999d"]
"""A duration (--horizon, --time, p(HORIZON) targets): zero in every unit, the 366-day bounds,
tiny, huge (1e26d), non-finite, odd spellings."""
FIELD_EDGES = [0, -0.0, 0.0, 5e-324, -5e-324, 1e-320, 1e-300, 1e-12, 1e-9, 1e-6, 0.999999, 1, 1.000001, -1, -1e-300,
               2, 10, 1e6, 1e15, 1e16, 1e26, 1e300, 1e308, -1e308, 10 ** 30, 10 ** 400, -(10 ** 400),
               float("nan"), float("inf"), float("-inf"), "nan", ".nan", ".inf", "-.inf", "Infinity", "1e400", "1e26"]
"""A file's numeric field at its edges: numbers (10**400 is an integer no float holds) and
numeric text (YAML 1.1 reads 1e26 without a dot as text, a quoted decimal as a CSV or an
exchange writes it)."""


def _numeric_leaves(doc) -> list[tuple]:
    """Paths of every number (not a bool) and every number written as text in ``doc`` (list
    elements too: a sweep's moves and impact_scales, a tier table's rows)."""
    return [p for p in _paths(doc)[1:] if _same_type(_get(doc, p), 0.0) or _number_text(_get(doc, p))]


@st.composite
def edge_field(draw, doc, focus: str | None = None) -> tuple[dict, list[str]]:
    """(``doc`` with one numeric field set to one of FIELD_EDGES, kinds): semantic when the value
    stays a number of the field's kind (number or numeric text), structural otherwise. ``focus``:
    a top-level key whose fields are drawn 1 time in 3 (a sweep's few grid numbers among a
    scenario's many: the impact_scales [0, …] fault sat there)."""
    doc = copy.deepcopy(doc)
    leaves = _numeric_leaves(doc)
    focused = [p for p in leaves if p[0] == focus]
    if focused and draw(st.integers(0, 2)) == 0:
        leaves = focused
    if not leaves:
        return doc, []
    path = draw(st.sampled_from(leaves))
    old = _get(doc, path)
    value = draw(st.sampled_from(FIELD_EDGES))
    if isinstance(old, str) and not isinstance(value, str):
        value = repr(value) if isinstance(value, float) else str(value)     # a number cell stays text
    kind = "semantic" if (_same_type(old, value) or isinstance(old, str) and _number_text(value)) else "structural"
    return _set(doc, path, value), [kind]


def encode_yaml_edges(doc) -> str:
    """YAML of ``doc`` with the text values '.nan', '.inf', '-.inf' written bare (YAML's own
    non-finite floats, which a quoted string is not)."""
    text = encode(doc, ".yaml")
    for s in (".nan", ".inf", "-.inf"):
        text = text.replace(f"'{s}'", s)
    return text
