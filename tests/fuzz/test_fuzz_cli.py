"""Fuzzing the CLI with mutated bundled examples: every input exits 0 with a strict-JSON document
whose numbers pass the checks of ``harness.py``, or exits 2 with located ``error:`` lines, within
a time limit; never a traceback. Each --json input is run again for the terminal and the HTML
report (harness.run_rendered; ``LIQRISK_FUZZ_RENDER=0``: off).

Budget: LIQRISK_FUZZ_EXAMPLES examples per test (default 25, deterministic: derandomized seed);
e.g. ``LIQRISK_FUZZ_EXAMPLES=5000 pytest tests/fuzz`` for a long campaign (also
``python tests/fuzz/campaign.py``). A subprocess smoke test checks the real exit codes.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
import harness  # noqa: E402
import mutators as M  # noqa: E402

N = int(os.environ.get("LIQRISK_FUZZ_EXAMPLES", "25"))
FUZZ = settings(max_examples=N, derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))
FUZZ_SLOW = settings(FUZZ, max_examples=max(1, N // 5))     # advise: tens of engine runs per input
TMP = Path(tempfile.mkdtemp(prefix="liqrisk-fuzz-"))
TIME_LIMIT_S = float(os.environ.get("LIQRISK_FUZZ_TIME_LIMIT_S", "300"))   # a hang, not a loaded machine


def write_input(data: bytes | None, suffix: str, name: str = "input") -> str:
    """Write one input file (``None``: make a directory of that name instead)."""
    path = TMP / f"{name}{suffix}"
    if path.is_dir():
        path.rmdir()
    elif path.exists():
        path.unlink()
    if data is None:
        path.mkdir()
    else:
        path.write_bytes(data)
    return str(path)


def assert_good(args: list[str]) -> tuple[str, str]:
    category, detail, seconds = harness.run(args, TIME_LIMIT_S)
    if category not in ("ok", "rejected"):       # keep the inputs: the next example overwrites them
        kept = Path(tempfile.mkdtemp(prefix="liqrisk-fuzz-failure-"))
        for f in TMP.iterdir():
            if f.is_file():
                shutil.copy(f, kept / f.name)
        raise AssertionError(f"{category}: {detail} (args {args}; input files kept in {kept})")
    return category, detail


def assert_good_case(case) -> tuple[str, str]:
    kind, args = case
    return assert_good(args)


BOOKS = [str(M.EXAMPLES / "books" / "btc_book.json"), "BTC=" + str(M.EXAMPLES / "books" / "btc_book.json"),
         "ETH=" + str(M.EXAMPLES / "books" / "btc_book.json"), "BTC=/nonexistent.json", "BTC=" + str(M.EXAMPLES)]
HORIZONS = ["1d", "0d", "-1h", "1e400d", "400d", "30m", "abc", "7d", "100000w"]
PATHS = ["200", "80000000", "1000000000", "-5", "abc"]
ANALYZE_OPTIONS = {
    "--stress": M.CLI_NUMBERS, "--participation": M.CLI_NUMBERS, "--exit-horizon-hours": M.CLI_NUMBERS,
    "--drift": M.CLI_NUMBERS, "--seed": ["-1", "0", "7", "99999999999999999999"],
    "--horizon": HORIZONS, "--paths": ["100", "1000000000", "-5", "abc"],
    "--model": ["auto", "gbm", "student", "merton", "fhs", "nope"], "--book": BOOKS,
    "--max-accounts": ["1", "0", "-3"], "--max-file-mb": ["0.0001", "nan"],
    "--vol-from": ["OHLC", "BTC=OHLC", "SOL=OHLC", "XRP=OHLC", "BTC=/nonexistent.csv", "BTC=" + str(M.EXAMPLES),
                   "BTC=" + str(M.ROOT / "src" / "liqrisk" / "data" / "btc_eth_usd_1d_bitstamp.csv"), "=OHLC", "BTC="],
    "--range-paths": ["0", "100", "-1", "abc"],
}
"""Flag → values (OHLC: a mutated daily OHLC file written for the run)."""


@st.composite
def _csv_file(draw, rows: list[dict], name: str, kinds: list[str]) -> str:
    """A CSV file of ``rows`` after tree and text mutations (their kinds appended to ``kinds``)."""
    path, k = draw(_mutated_file(rows, ".csv", False, name))
    kinds += k
    return path


@st.composite
def portfolio_file(draw, kinds: list[str], mutate: bool = True) -> tuple[str, dict]:
    """(path, seed document) of a bundled portfolio, maybe mutated (structural: tree and text
    mutations; semantic: values only); its funding CSV too."""
    suffix, doc = draw(st.sampled_from(M.portfolio_seeds()))
    seed = doc
    how = draw(st.sampled_from(["structural", "semantic", "semantic", "none"])) if mutate else "none"
    if how == "structural":
        doc, k = draw(M.mutated_tree(doc))
        kinds += k
    elif how == "semantic":
        doc, k = draw(M.mutated_values(doc))
        kinds += k
    data, op = (draw(M.mutated_text(M.encode(doc, suffix), suffix)) if how == "structural"
                else (M.encode(doc, suffix).encode(), "none"))
    kinds.append(op)
    if data is not None and M.FUNDING_CSV.encode() in data:
        rows = M.funding_rows()
        if mutate and draw(st.booleans()):
            draw(_csv_file(rows, M.FUNDING_CSV[:-4], kinds))
        else:
            write_input(M.csv_text(rows).encode(), ".csv", M.FUNDING_CSV[:-4])
    return write_input(data, suffix), seed


@st.composite
def _options(draw, table: dict, kinds: list[str], max_size: int = 2) -> list[str]:
    out = []
    for opt in draw(st.lists(st.sampled_from(sorted(table)), max_size=max_size, unique=True)):
        values = table[opt]
        out += [opt, draw(st.sampled_from(values() if callable(values) else values))]
        kinds.append("semantic")
    return out


@st.composite
def analyze_args(draw):
    """(kind, args) of one ``analyze`` run."""
    kinds: list[str] = []
    path, _ = draw(portfolio_file(kinds))
    args = ["analyze", path, "--json"] + draw(_options(ANALYZE_OPTIONS, kinds))
    if "OHLC" in "".join(args):
        ohlc = draw(_csv_file(M.ohlc_rows(), "ohlc", kinds))
        args = [a.replace("OHLC", ohlc) for a in args]
    if "--horizon" in args and "--paths" not in args:
        args += ["--paths", "200"]
    if "--horizon" in args and "--range-paths" not in args:
        args += ["--range-paths", "0"]
    return M.kind_of(kinds), args


@FUZZ
@given(analyze_args())
def test_fuzz_analyze(case):
    assert_good_case(case)


@st.composite
def _mutated_file(draw, doc, suffix: str, values: bool, name: str, inputs: str = "portfolio") -> tuple[str, list[str]]:
    """(path, mutation kinds) of ``doc`` written after value mutations only (``values``) or tree
    and text mutations."""
    if values:
        doc, k = draw(M.mutated_values(doc, inputs=inputs))
        return write_input(M.encode(doc, suffix).encode(), suffix, name), k
    doc, k = draw(M.mutated_tree(doc))
    data, op = draw(M.mutated_text(M.encode(doc, suffix), suffix))
    return write_input(data, suffix, name), k + [op]


@st.composite
def cascade_args(draw):
    """(kind, args) of one ``cascade`` run: a scenario or a population (position CSV, Hyperliquid
    state, portfolio file) mutated in shape (tree and text mutations) or in values only (signs,
    huge and tiny magnitudes, NaN, words in number cells, other venues/modes/assets, an id given to
    another account, a duplicated row)."""
    kind = draw(st.sampled_from(["scenario", "csv", "hyperliquid", "portfolio"]))
    values = draw(st.booleans())
    scenario = draw(st.sampled_from(M.scenario_seeds()))
    if kind == "scenario":
        path, k = draw(_mutated_file(scenario, ".yaml", values, "scenario", "cascade"))
        args = ["cascade", path, "--json"]
        if draw(st.booleans()):
            args += ["--accounts", str(M.EXAMPLES / "populations" / "small_book.csv")]
        return M.kind_of(k), args
    scenario.pop("sweep", None)
    args = ["cascade", write_input(M.encode(scenario, ".yaml").encode(), ".yaml", "scenario"), "--json"]
    doc, suffix = {"csv": (M.population_rows(), ".csv"), "hyperliquid": (M.hyperliquid_seed(), ".json"),
                   "portfolio": M.portfolio_seeds()[0][::-1]}[kind]
    path, k = draw(_mutated_file(doc, suffix, values, "accounts", "portfolio" if kind == "portfolio" else "cascade"))
    return M.kind_of(k), args + ["--accounts", path]


@FUZZ
@given(cascade_args())
def test_fuzz_cascade(case):
    assert_good_case(case)


EXIT_COST_OPTIONS = {"--stress": M.CLI_NUMBERS, "--participation": M.CLI_NUMBERS, "--vol": M.CLI_NUMBERS,
                     "--risk-aversion": M.CLI_NUMBERS, "--horizon": ["1h", "0h", "abc", "1e400h"],
                     "--volume": ["SOL=2.5e7", "BTC=inf", "BTC=-1", "x"], "--book": BOOKS}


@st.composite
def exit_cost_args(draw):
    """(kind, args) of one ``exit-cost`` run (flags only: every input is a semantic one)."""
    size = draw(st.sampled_from(M.CLI_NUMBERS + ["1.5", "-2"] * 4))
    price = draw(st.sampled_from(M.CLI_NUMBERS + ["91250"] * 8))
    args = ["exit-cost", "--position", f"{draw(st.sampled_from(['BTC', 'ETH', 'SOL', '']))}:{size}:{price}", "--json"]
    return "semantic", args + draw(_options(EXIT_COST_OPTIONS, [], max_size=3))


@FUZZ
@given(exit_cost_args())
def test_fuzz_exit_cost(case):
    assert_good_case(case)


def _ids(doc) -> list[str]:
    accounts = doc.get("accounts") if isinstance(doc, dict) else None
    return [a["id"] for a in accounts if isinstance(a, dict) and isinstance(a.get("id"), str)] if isinstance(accounts, list) else []


AMOUNTS = ["0.5", "1", "-1", "0", "nan", "inf", "1e400", "1e308", "5e-324", "abc", ""]


@st.composite
def what_if_args(draw):
    """(kind, args) of one ``what-if`` run: a portfolio (maybe mutated) and the change flags."""
    kinds: list[str] = []
    path, seed = draw(portfolio_file(kinds))
    ids = _ids(seed) + ["nope", ""]
    symbols = ["BTCUSDT", "ETHUSDT", "BTC", "BTC-PERPETUAL", "NOPE", ""]
    acct, sym, amt = (lambda: draw(st.sampled_from(ids))), (lambda: draw(st.sampled_from(symbols))), \
        (lambda: draw(st.sampled_from(AMOUNTS)))
    moves = ["-10%", "+5%", "-100%", "-150%", "1e400%", "nan%", "-10", "abc", "", "+1e-300%"]
    table = {
        "--shock": lambda: [f"{u}={m}" for u in ("BTC", "ETH", "XRP", "") for m in moves],
        "--vol": lambda: [f"{u}={v}" for u in ("BTC", "SOL", "XRP") for v in ("+0.20", "-0.2", "-1", "nan", "+1e308", "x")],
        "--time": ["3d", "0d", "-1d", "1e400d", "abc", "400d", "8h", "100000w"],
        "--add": lambda: [f"{acct()}:{sym()}:{amt()}", f"{acct()}:{sym()}:{amt()}@{draw(st.sampled_from(AMOUNTS + ['90000']))}",
                          "::", "x"],
        "--reduce": lambda: [f"{acct()}:{sym()}:{draw(st.sampled_from(['0.5', '1', '0', '2', '-0.5', 'nan', 'x']))}", "x:y"],
        "--topup": lambda: [f"{acct()}:{draw(st.sampled_from(['USDT', 'BTC', 'ETHUSDT', 'USDC', 'XYZ', '']))}={amt()}",
                            "x", "a:b=c"],
        "--funding": lambda: [f"{u}={r}" for u in ("BTC", "ETH", "XRP") for r in ("0.0001", "-0.05", "nan", "1e9", "x")],
        "--horizon": HORIZONS, "--seed": ["-1", "0", "99999999999999999999"], "--paths": PATHS,
    }
    args = ["what-if", path, "--json"] + draw(_options(table, kinds, max_size=3))
    if "--paths" not in args:
        args += ["--paths", "200"]
    if draw(st.integers(0, 9)) == 0:
        args.append("--grid")
    return M.kind_of(kinds), args


@FUZZ
@given(what_if_args())
def test_fuzz_what_if(case):
    assert_good_case(case)


TARGETS = ["p(7d)<=1%", "distance>=3sd", "p(1d)<=5%", "p(7d)<=-1%", "p(0d)<=1%", "p(7d)<=200%", "p(7d)<=nan%",
           "distance>=nansd", "distance>=-3sd", "distance>=1e400sd", "p(1e400d)<=1%", "x", "", "p(7d)<=0%"]


@st.composite
def advise_args(draw):
    """(kind, args) of one ``advise`` run."""
    kinds: list[str] = []
    path, seed = draw(portfolio_file(kinds))
    args = ["advise", path, "--json", "--target", draw(st.sampled_from(TARGETS))]
    table = {"--account": _ids(seed) + ["nope", ""], "--model": ["gbm", "merton", "student", "fhs", "nope"],
             "--seed": ["-1", "0", "99999999999999999999"], "--paths": PATHS}
    args += draw(_options(table, kinds))
    if "--paths" not in args:
        args += ["--paths", "200"]
    kinds.append("semantic")        # the target
    if draw(st.booleans()) and "--account" not in args and _ids(seed):
        args += ["--account", _ids(seed)[0]]      # one account: a run stays short
    return M.kind_of(kinds), args


@FUZZ_SLOW
@given(advise_args())
def test_fuzz_advise(case):
    assert_good_case(case)


@st.composite
def size_args(draw):
    """(kind, args) of one ``size`` run: required flags from valid values or extremes."""
    def value(good):
        return draw(st.sampled_from([good] * 4 + M.CLI_NUMBERS))
    venue, symbol = draw(st.sampled_from([("binance-usdm", "BTCUSDT"), ("bybit-linear", "ETHUSDT"), ("okx", "BTC-USDT-SWAP"),
                                          ("hyperliquid", "BTC"), ("binance-coinm", "BTCUSD_PERP"), ("nope", "BTCUSDT"),
                                          ("binance-usdm", "NOPE"), ("deribit", "BTC-PERPETUAL"), ("aave-v3", "ETH")]))
    args = ["size", "--json", "--paths", draw(st.sampled_from(["200"] * 6 + PATHS)), "--venue", venue, "--symbol", symbol, "--leverage", value("10"),
            "--collateral", value("10000"), "--mark", value("91250"), "--vol", value("0.5"),
            "--target", draw(st.sampled_from(TARGETS))]
    args += draw(_options({"--side": ["long", "short", "both", ""], "--drift": M.CLI_NUMBERS, "--horizon": HORIZONS,
                           "--seed": ["-1", "99999999999999999999"]}, []))
    return "semantic", args


@FUZZ
@given(size_args())
def test_fuzz_size(case):
    assert_good_case(case)


@st.composite
def hedge_backtest_args(draw):
    """(kind, args) of one ``hedge-backtest`` run (few paths)."""
    def value(good, extra=()):
        return draw(st.sampled_from([good] * 4 + M.CLI_NUMBERS + list(extra)))
    args = ["hedge-backtest", "--json", "--paths", draw(st.sampled_from(["50"] * 6 + ["0", "1", "-1", "1000000000"])),
            "--spot", value("91250"), "--strike", value("100000"), "--expiry-days", value("30", ["1e-9", "36500"]),
            "--vol", value("0.5")]
    table = {"--rate": M.CLI_NUMBERS, "--type": ["call", "put", "x"], "--position": M.CLI_NUMBERS,
             "--rebalances": ["1", "0", "-1", "7", "1000000", "abc"], "--steps": ["50", "100", "7", "0", "-5", "100000000"],
             "--band": M.CLI_NUMBERS, "--hedge": ["perp", "spot", "x"], "--fee": M.CLI_NUMBERS, "--lot": M.CLI_NUMBERS,
             "--funding": M.CLI_NUMBERS, "--collateral": M.CLI_NUMBERS, "--venue": ["deribit", "binance-usdm", "nope", "aave-v3"],
             "--model": ["gbm", "merton", "student", "fhs", "history", "x"], "--seed": ["-1", "99999999999999999999"]}
    return "semantic", args + draw(_options(table, [], max_size=3))


@FUZZ
@given(hedge_backtest_args())
def test_fuzz_hedge_backtest(case):
    assert_good_case(case)


@st.composite
def policy_backtest_args(draw):
    """(kind, args) of one ``policy-backtest`` run: the one-perp account (maybe value-mutated) and flags."""
    kinds: list[str] = []
    doc = M.ONE_PERP
    if draw(st.booleans()):
        doc, kinds = draw(M.mutated_values(doc))
    args = ["policy-backtest", write_input(M.encode(doc, ".yaml").encode(), ".yaml", "policy"), "--json",
            "--account", draw(st.sampled_from(["iso"] * 4 + ["nope", ""]))]
    table = {"--cut-below": M.CLI_NUMBERS, "--topup-to": M.CLI_NUMBERS, "--days": M.CLI_NUMBERS + ["30", "400"],
             "--steps-per-day": ["24", "1", "0", "-1", "100000", "abc"], "--model": ["gbm", "history", "x"],
             "--paths": ["50", "0", "1000000000"], "--seed": ["-1", "99999999999999999999"]}
    args += draw(_options(table, kinds, max_size=3))
    if "--paths" not in args:
        args += ["--paths", "50"]
    return M.kind_of(kinds), args


@FUZZ
@given(policy_backtest_args())
def test_fuzz_policy_backtest(case):
    assert_good_case(case)


@st.composite
def import_args(draw):
    """(kind, args) of one ``import`` run: a recorded exchange answer mutated in shape or values,
    and the importer's flags."""
    importer, doc, required = draw(st.sampled_from(M.import_seeds()))
    path, kinds = draw(_mutated_file(doc, ".json", draw(st.booleans()), "answer", "import"))
    table = {"--vol": ["BTC=0.5", "ETH=nan", "SOL=-1", "BTC=1e400", "DOGE=0.5", "BTC", "=0.5"],
             "--as-of": ["2026-11-23T00:00:00Z", "2026-13-45", "", "1e400", "0"]}
    if importer == "ccxt":
        table |= {"--venue": ["binance-usdm", "bybit-linear", "okx", "deribit", "hyperliquid", "aave-v3", "nope"],
                  "--balance": ["equity", "wallet", "x"]}
    if importer == "deribit":
        table["--collateral"] = ["BTC=1", "BTC=-1", "BTC=nan", "ETH=1e400", "x"]
    args = ["import", importer, path] + required + draw(_options(table, kinds))
    return M.kind_of(kinds), args


@FUZZ
@given(import_args())
def test_fuzz_import(case):
    assert_good_case(case)


@st.composite
def _ohlc_file(draw, name: str, n: int, kinds: list[str]) -> str:
    """A bundled OHLC file's last ``n`` bars, as they are, or after value (cells to extremes,
    words, rows repeated) or tree and text mutations."""
    rows = M.ohlc_rows(name, n)
    how = draw(st.sampled_from(["structural", "semantic", "semantic", "none"]))
    if how == "none":
        kinds.append("none")
        return write_input(M.csv_text(rows).encode(), ".csv", "ohlc")
    path, k = draw(_mutated_file(rows, ".csv", how == "semantic", "ohlc"))
    kinds += k
    return path


VOL_FILES = [("btcusd_1d_coinbase.csv", 120, []), ("btcusd_1h_coinbase.csv", 200, []),
             ("btc_eth_usd_1d_bitstamp.csv", 150, ["--asset", "btc"]),
             ("btc_eth_usd_1d_bitstamp.csv", 150, ["--asset", "eth"])]
VOL_OPTIONS = {"-e": ["close_to_close", "ewma", "parkinson", "garman_klass", "rogers_satchell", "yang_zhang", "nope", ""],
               "-w": ["2", "30", "119", "120", "1000", "1", "0", "-3", "abc", "1e400"],
               "--asset": ["btc", "eth", "BTC", "sol", ""], "--no-garch": None, "--garch": None}


@st.composite
def vol_args(draw):
    """(kind, args) of one ``vol`` run: a bundled OHLC file (daily, hourly, two-asset; ≤ 200
    bars), maybe mutated, and its flags."""
    kinds: list[str] = []
    name, n, extra = draw(st.sampled_from(VOL_FILES))
    args = ["vol", draw(_ohlc_file(name, n, kinds)), "--json"] + extra
    for opt in draw(st.lists(st.sampled_from(sorted(VOL_OPTIONS)), max_size=2, unique=True)):
        args += [opt] if VOL_OPTIONS[opt] is None else [opt, draw(st.sampled_from(VOL_OPTIONS[opt]))]
        kinds.append("semantic")
    return M.kind_of(kinds), args


CALIBRATION_OPTIONS = {
    "-m": ["gbm", "student", "merton", "fhs", "nope", ""], "--every": ["30", "90", "1000", "0", "-1", "abc"],
    "--start": ["2018-09-01", "2019-06-01", "2030-01-01", "2019-13-45", "x"],
    "--end": ["2019-01-01", "2018-09-01", "2000-01-01", "2019-02-30"],
    "--vol-scale": ["1", "0", "-1", "1e-300", "1e300", "nan", "abc"], "--n-paths": ["100", "99", "1000001", "abc"],
    "--seed": ["0", "-1", "99999999999999999999"]}
HOURLY_OPTIONS = {"-m": ["gbm", "student_t", "garch_fhs", "garch_evt", "fhs"], "--horizon": ["24", "1", "0", "-1", "100000"],
                  "--refit-every": ["720", "1", "0", "100000"], "--notional": ["10000", "0", "-5", "1e300", "nan"],
                  "--n-paths": ["100", "99", "abc"], "--vol-scale": ["1", "0", "nan"]}


@st.composite
def calibration_args(draw):
    """(kind, args) of one ``backtest-calibration`` run on a small file: 500 daily bars of BTC and
    ETH (every 60 days: a few forecast dates) or 2,300 hourly bars (``--hourly``, just past the
    2,160 bars of history it needs), 100 paths; maybe mutated, and its flags."""
    kinds: list[str] = []
    hourly = draw(st.integers(0, 3)) == 0
    if hourly:
        args = ["backtest-calibration", "--hourly", "--file", draw(_ohlc_file("btcusd_1h_coinbase.csv", 2300, kinds)),
                "--json"]
        opts = draw(_options(HOURLY_OPTIONS, kinds))
    else:
        args = ["backtest-calibration", "--file", draw(_ohlc_file("btc_eth_usd_1d_bitstamp.csv", 500, kinds)), "--json"]
        opts = draw(_options(CALIBRATION_OPTIONS, kinds))
        if "--every" not in opts:
            args += ["--every", "60"]
    if "--n-paths" not in opts:
        args += ["--n-paths", "100"]
    return M.kind_of(kinds), args + opts


WATCH_RULES = ["p(1d)>=1%", "margin_ratio>=80%", "margin_ratio>=0%", "p(7d)>=0%", "p(1d)>=200%", "x", "margin_ratio>=nan%"]
WATCH_OPTIONS = {"--every": ["1s", "1h", "0s", "-1s", "abc", "1e400d"], "--paths": ["200", "99", "abc"],
                 "--seed": ["0", "-1"], "--fhs-tails": ["gpd", "empirical", "nope"]}


@st.composite
def watch_args(draw):
    """(kind, args) of one ``watch`` check (``--max-checks 1``, a fresh SQLite database): a
    bundled portfolio, maybe mutated, and maybe a ``--market`` snapshot (its market block, maybe
    mutated); rules and flags. No --json: its terminal output is the run (harness.TEXT_COMMANDS)."""
    kinds: list[str] = []
    path, seed = draw(portfolio_file(kinds))
    db = TMP / "watch.db"
    db.unlink(missing_ok=True)
    args = ["watch", path, "--max-checks", "1", "--database-url", f"sqlite:///{db}"]
    for rule in draw(st.lists(st.sampled_from(WATCH_RULES), min_size=1, max_size=2, unique=True)):
        args += ["--alert", rule]
    if draw(st.booleans()) and isinstance(seed.get("market"), dict):
        market = {k: v for k, v in seed["market"].items() if k not in ("rate", "correlation")}
        snap, k = draw(_mutated_file(market, ".yaml", draw(st.booleans()), "snapshot"))
        args += ["--market", snap]
        kinds += k
    opts = draw(_options(WATCH_OPTIONS, kinds))
    args += opts + ([] if "--every" in opts else ["--every", "1s"]) + ([] if "--paths" in opts else ["--paths", "200"])
    return M.kind_of(kinds), args


@FUZZ
@given(vol_args())
def test_fuzz_vol(case):
    assert_good_case(case)


@FUZZ_SLOW
@given(calibration_args())
def test_fuzz_backtest_calibration(case):
    assert_good_case(case)


@FUZZ_SLOW
@given(watch_args())
def test_fuzz_watch(case):
    assert_good_case(case)


def test_real_exit_codes_in_a_subprocess(tmp_path):
    """The installed entry point: 0 for a good file, 2 and one plain line for a bad one."""
    env = {**os.environ, "PYTHONPATH": str(M.ROOT / "src")}
    cmd = [sys.executable, "-c", "from liqrisk.cli import main; main()"]
    good = subprocess.run(cmd + ["analyze", str(M.EXAMPLES / "multi_venue.yaml"), "--json"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert good.returncode == 0 and good.stdout.startswith("{")
    bad = tmp_path / "bad.yaml"
    bad.write_text("as_of: 2026-11-23T00:00:00Z\nmarket: {BTC: {mark: .nan}}\naccounts: []\n")
    res = subprocess.run(cmd + ["analyze", str(bad)], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert all(line.startswith("error: ") for line in res.stderr.splitlines())
    usage = subprocess.run(cmd + ["analyze", str(bad), "--paths", "5"], capture_output=True, text=True, env=env,
                           timeout=300)
    assert usage.returncode == 2 and "╭" not in usage.stderr and "--paths" in usage.stderr


# --- one flag at a time -------------------------------------------------------------------------
# The flag-only commands with several extremes per input stop at the first bad flag (~95 % of
# the inputs above): here every input is a valid run with exactly one flag value (or one field of
# one input file) changed, so the checks behind the first one are reached.

NUMS = M.CLI_NUMBERS + ["-0", "1e308", "-1e308", "1e-320", "1e15", "1e16"]
BOOK = json.loads((M.EXAMPLES / "books" / "btc_book.json").read_text())
EXIT_COST_BASE = {"--position": "BTC:1.5:91250", "--horizon": "1h", "--participation": "0.1", "--vol": "0.55",
                  "--stress": "1", "--risk-aversion": "0"}
EXIT_COST_ONE = {
    "--position": [f"{s}:1.5:91250" for s in ("ETH", "SOL", "", "BTCUSDT", "XRP", "btc", "BTC-PERPETUAL")]
    + [f"BTC:{x}:91250" for x in NUMS] + [f"BTC:1.5:{x}" for x in NUMS] + ["BTC:1.5", "BTC:1.5:91250:1", "", "::"],
    "--horizon": ["0h", "1m", "30m", "2d", "366d", "367d", "1e400h", "abc", "-1h", "", "1e-9h", "100000w"],
    "--participation": NUMS + ["1", "1.0000001", "1e-12"],
    "--vol": NUMS + ["1e-8", "10", "10.1", "9.99e-9"],
    "--stress": NUMS + ["1000", "1000.1", "1e-9"],
    "--risk-aversion": NUMS + ["1e-6", "1e-3"],
    "--volume": ["BTC=2.5e4", "BTC=0", "BTC=-1", "BTC=nan", "BTC=inf", "BTC=1e400", "BTC=5e-324", "BTC=1e15",
                 "BTC=1e16", "ETH=1e5", "BTC", "=5", "BTC=abc", "btc=1e4"],
    "--book": BOOKS + ["BTC=BOOK"],
}
"""Flag → values, each tried alone on a valid run (BOOK: the example book, one value mutated)."""
SIZE_BASE = {"--venue": "binance-usdm", "--symbol": "BTCUSDT", "--leverage": "10", "--collateral": "10000",
             "--target": "distance>=3sd", "--mark": "91250", "--vol": "0.5", "--paths": "200"}
SIZE_ONE = {
    "--venue": ["bybit-linear", "okx", "hyperliquid", "binance-coinm", "nope", "deribit", "aave-v3", ""],
    "--symbol": ["ETHUSDT", "NOPE", "BTCUSD_PERP", "BTC", "", "btcusdt"],
    "--leverage": NUMS + ["1", "0.999", "125", "126", "1000", "1001", "1e-9"],
    "--collateral": NUMS + ["0.01", "1e14"],
    "--target": TARGETS + ["distance>=0sd", "p(7d)<=100%", "p(1h)<=1%", "p(366d)<=1%", "p(367d)<=1%", "p(7d)<=1e-9%"],
    "--mark": NUMS + ["1e-12", "1e12", "1.1e12"],
    "--vol": NUMS + ["1e-8", "10", "10.1"],
    "--side": ["long", "short", "both", "", "LONG"],
    "--drift": NUMS + ["10", "10.1", "-10"],
    "--horizon": HORIZONS,
    "--paths": PATHS + ["100", "99"],
    "--seed": ["-1", "0", "99999999999999999999", "4294967296"],
}
"""(--venue and --symbol are drawn as a pair of the lists, one of them changed.)"""
HEDGE_BASE = {"--spot": "91250", "--strike": "100000", "--expiry-days": "30", "--vol": "0.5", "--paths": "50"}
HEDGE_ONE = {
    "--spot": NUMS + ["1e-12", "1e12"], "--strike": NUMS + ["1e-12", "1e12"],
    "--expiry-days": NUMS + ["1e-9", "3650", "3650.1", "36500"], "--vol": NUMS + ["1e-8", "10", "10.1"],
    "--rate": NUMS + ["1", "-1", "1.01"], "--type": ["call", "put", "x", "", "CALL"], "--position": NUMS,
    "--rebalances": ["1", "0", "-1", "7", "30", "1000000", "abc"], "--steps": ["50", "100", "7", "0", "-5", "100000000"],
    "--band": NUMS, "--hedge": ["perp", "spot", "x"], "--fee": NUMS + ["0.0005", "1", "1.01"], "--lot": NUMS,
    "--funding": NUMS + ["0.1", "-0.1", "0.0999"], "--collateral": NUMS,
    "--venue": ["deribit", "binance-usdm", "okx", "nope", "aave-v3", "hyperliquid"],
    "--model": ["gbm", "merton", "student", "fhs", "history", "x"], "--seed": ["-1", "99999999999999999999"],
    "--paths": ["1", "2", "0", "-1", "1000000000", "abc"],
}


def _flags(d: dict) -> list[str]:
    return [x for kv in d.items() for x in kv]


@st.composite
def _one_flag(draw, base: dict, table: dict) -> tuple[dict, str | None]:
    """(``base`` with one flag of ``table`` set to one of its values, the flag) — 1 in 8 unchanged."""
    if draw(st.integers(0, 7)) == 0:
        return dict(base), None
    flag = draw(st.sampled_from(sorted(table)))
    return {**base, flag: draw(st.sampled_from(table[flag]))}, flag


@st.composite
def _one_field_file(draw, doc, suffix: str, name: str) -> tuple[str, list[str]]:
    """``doc`` with one value mutated (a number to an extreme or scaled, a word to another of its
    key's words, a list element duplicated), written to a file."""
    doc, kinds = draw(M.mutated_values(doc, n_max=1))
    return write_input(M.encode(doc, suffix).encode(), suffix, name), kinds


@st.composite
def exit_cost_one_args(draw):
    """(kind, args) of ``exit-cost``: a valid run (one position, or a portfolio file) with one
    flag or one field of the book or portfolio file changed."""
    what = draw(st.sampled_from(["flag"] * 6 + ["book", "portfolio"]))
    if what == "portfolio":
        seed = draw(st.sampled_from([d for _, d in M.portfolio_seeds()[:2]]))
        path, kinds = draw(_one_field_file(seed, ".json", "exitcost"))
        return M.kind_of(kinds), ["exit-cost", path, "--json"]
    if what == "book":
        path, kinds = draw(_one_field_file(BOOK, ".json", "book"))
        return M.kind_of(kinds), ["exit-cost", "--json", *_flags(EXIT_COST_BASE), "--book", f"BTC={path}"]
    flags, flag = draw(_one_flag(EXIT_COST_BASE, EXIT_COST_ONE))
    if flags.get("--book") == "BTC=BOOK":
        flags["--book"] = "BTC=" + write_input(M.encode(BOOK, ".json").encode(), ".json", "book")
    return ("semantic" if flag else "valid"), ["exit-cost", "--json", *_flags(flags)]


@st.composite
def size_one_args(draw):
    """(kind, args) of ``size``: a valid run with one flag changed."""
    base = dict(SIZE_BASE)
    if draw(st.booleans()):
        base["--target"] = "p(7d)<=1%"          # the Monte Carlo search as well as the closed form
    flags, flag = draw(_one_flag(base, SIZE_ONE))
    return ("semantic" if flag else "valid"), ["size", "--json", *_flags(flags)]


@st.composite
def hedge_backtest_one_args(draw):
    """(kind, args) of ``hedge-backtest``: a valid run with one flag changed, or the options of a
    portfolio file's account with one field of the file changed."""
    if draw(st.integers(0, 5)) == 0:
        seed = json.loads(json.dumps(M.portfolio_seeds()[1][1]))      # Deribit options, cross
        path, kinds = draw(_one_field_file(seed, ".json", "hedge"))
        account = next((a.get("id") for a in seed["accounts"] if a.get("mode", "cross") == "cross"), "")
        return M.kind_of(kinds), ["hedge-backtest", "--json", "--file", path, "--account", account, "--paths", "50"]
    flags, flag = draw(_one_flag(HEDGE_BASE, HEDGE_ONE))
    return ("semantic" if flag else "valid"), ["hedge-backtest", "--json", *_flags(flags)]


@FUZZ
@given(exit_cost_one_args())
def test_fuzz_exit_cost_one_flag(case):
    assert_good_case(case)


@FUZZ
@given(size_one_args())
def test_fuzz_size_one_flag(case):
    assert_good_case(case)


@FUZZ
@given(hedge_backtest_one_args())
def test_fuzz_hedge_backtest_one_flag(case):
    assert_good_case(case)


# --- numbers at their edges, one at a time --------------------------------------------------------
# Every numeric flag of every command (and the durations) at M.NUMBER_EDGES / M.INT_EDGES /
# M.DURATION_EDGES, or one numeric field of the input file at M.FIELD_EDGES, on an otherwise
# valid run (issue 9: the faults found by hand after the seed-9 campaign were both of this kind).

EDGE = M.NUMBER_EDGES
PCT = [f"{x}%" for x in EDGE[:30]] + ["nan%", "inf%", "-inf%", "%", "1e26%"]
MULTI = str(M.EXAMPLES / "multi_venue.yaml")
ANALYZE_BASE = {"--horizon": "1d", "--paths": "200", "--range-paths": "0"}
ANALYZE_EDGE = {
    "--horizon": M.DURATION_EDGES, "--paths": M.INT_EDGES, "--seed": M.INT_EDGES, "--range-paths": M.INT_EDGES,
    "--drift": EDGE, "--stress": EDGE, "--participation": EDGE, "--exit-horizon-hours": EDGE,
    "--max-file-mb": EDGE, "--max-depth": M.INT_EDGES, "--max-alias-nodes": M.INT_EDGES,
    "--max-accounts": M.INT_EDGES, "--max-positions": M.INT_EDGES, "--max-path-steps": EDGE,
    "--max-horizon-days": EDGE,
}
WHAT_IF_BASE = {"--paths": "200", "--horizon": "1d"}
WHAT_IF_EDGE = {
    "--shock": [f"BTC={x}" for x in PCT] + [f"BTC=-{x}%" for x in ("99", "99.9999", "100", "1e-300")],
    "--vol": [f"BTC=+{x}" for x in EDGE] + [f"BTC=-{x}" for x in ("0.52", "0.5199999", "1e-300")],
    "--time": M.DURATION_EDGES, "--horizon": M.DURATION_EDGES, "--paths": M.INT_EDGES, "--seed": M.INT_EDGES,
    "--topup": [f"binance-main:USDT={x}" for x in EDGE], "--add": [f"binance-main:BTCUSDT:{x}" for x in EDGE]
    + [f"binance-main:BTCUSDT:0.5@{x}" for x in EDGE], "--reduce": [f"binance-main:BTCUSDT:{x}" for x in EDGE],
    "--funding": [f"BTC={x}" for x in EDGE], "--drift": EDGE,
}
ADVISE_BASE = {"--target": "distance>=3sd", "--account": "binance-main", "--paths": "200"}
ADVISE_EDGE = {
    "--target": [f"p({d})<=1%" for d in M.DURATION_EDGES] + [f"p(1d)<={x}" for x in PCT + EDGE]
    + [f"distance>={x}sd" for x in EDGE],
    "--paths": M.INT_EDGES, "--seed": M.INT_EDGES,
}
POLICY_BASE = {"--account": "iso", "--paths": "50"}
POLICY_EDGE = {"--cut-below": EDGE, "--topup-to": EDGE, "--days": EDGE, "--steps-per-day": M.INT_EDGES,
               "--paths": M.INT_EDGES, "--seed": M.INT_EDGES, "--max-path-steps": EDGE, "--max-horizon-days": EDGE}
CASCADE_EDGE = {"--max-population": M.INT_EDGES, "--max-file-mb": EDGE, "--max-depth": M.INT_EDGES}
# the flag-only commands: the existing one-flag tables, every number also at the edges
for _table, _skip in ((EXIT_COST_ONE, ()), (SIZE_ONE, ()), (HEDGE_ONE, ())):
    for _flag, _values in _table.items():
        if _values is NUMS or (isinstance(_values, list) and set(NUMS) <= set(_values)):
            _table[_flag] = list(dict.fromkeys(_values + EDGE))
EXIT_COST_ONE["--horizon"] = list(dict.fromkeys(EXIT_COST_ONE["--horizon"] + M.DURATION_EDGES))
EXIT_COST_ONE["--position"] += [f"BTC:{x}:91250" for x in EDGE] + [f"BTC:1.5:{x}" for x in EDGE]
SIZE_ONE["--horizon"] = M.DURATION_EDGES
SIZE_ONE["--target"] = SIZE_ONE["--target"] + ADVISE_EDGE["--target"]
SIZE_ONE["--paths"] = SIZE_ONE["--paths"] + M.INT_EDGES
SIZE_ONE["--seed"] = M.INT_EDGES
HEDGE_ONE["--paths"] = ["1", "2", "0", "-1", "1000000000", "abc", "1.5", "1e3", "99999999999999999999", ""]
HEDGE_ONE["--seed"] = HEDGE_ONE["--rebalances"] = HEDGE_ONE["--steps"] = M.INT_EDGES


@st.composite
def _edge_portfolio(draw, seeds, name: str) -> tuple[str, list[str]]:
    """A bundled portfolio with one numeric field at an edge, written as YAML or JSON."""
    suffix, doc = draw(st.sampled_from(seeds))
    doc, kinds = draw(M.edge_field(doc))
    text = M.encode_yaml_edges(doc) if suffix == ".yaml" else M.encode(doc, ".json")
    if M.FUNDING_CSV in text:
        write_input(M.csv_text(M.funding_rows()).encode(), ".csv", M.FUNDING_CSV[:-4])
    return write_input(text.encode(), suffix, name), kinds


@st.composite
def analyze_edge_args(draw):
    """(kind, args) of ``analyze``: a valid run (multi_venue, 1d, 200 paths) with one numeric
    flag at an edge, or a bundled portfolio with one numeric field at an edge."""
    if draw(st.integers(0, 2)) == 0:
        path, kinds = draw(_edge_portfolio(M.portfolio_seeds(), "edge"))
        return M.kind_of(kinds), ["analyze", path, "--json", *_flags(ANALYZE_BASE)]
    flags, flag = draw(_one_flag(ANALYZE_BASE, ANALYZE_EDGE))
    return ("semantic" if flag else "valid"), ["analyze", MULTI, "--json", *_flags(flags)]


@st.composite
def what_if_edge_args(draw):
    """(kind, args) of ``what-if`` on multi_venue: one change flag (or option) at an edge."""
    flags, flag = draw(_one_flag(WHAT_IF_BASE, WHAT_IF_EDGE))
    return ("semantic" if flag else "valid"), ["what-if", MULTI, "--json", *_flags(flags)]


@st.composite
def advise_edge_args(draw):
    """(kind, args) of ``advise`` on multi_venue's binance-main: the target, paths or seed at an edge."""
    flags, flag = draw(_one_flag(ADVISE_BASE, ADVISE_EDGE))
    return ("semantic" if flag else "valid"), ["advise", MULTI, "--json", *_flags(flags)]


@st.composite
def policy_backtest_edge_args(draw):
    """(kind, args) of ``policy-backtest`` on the one-perp account: one flag, or one field of the
    file, at an edge."""
    doc, kinds = M.ONE_PERP, []
    if draw(st.integers(0, 2)) == 0:
        doc, kinds = draw(M.edge_field(doc))
        flags = dict(POLICY_BASE)
    else:
        flags, flag = draw(_one_flag(POLICY_BASE, POLICY_EDGE))
        kinds = ["semantic"] if flag else []
    path = write_input(M.encode_yaml_edges(doc).encode(), ".yaml", "policy")
    return M.kind_of(kinds), ["policy-backtest", path, "--json", *_flags(flags)]


@st.composite
def cascade_edge_args(draw):
    """(kind, args) of ``cascade``: a bundled scenario (small population; its sweep kept or one
    added over BTC) with one numeric field at an edge (a sweep's move or impact scale included),
    or a position table / Hyperliquid state with one at an edge, or a --max-* flag at an edge."""
    scenario = draw(st.sampled_from(M.scenario_seeds()))
    if "sweep" not in scenario and draw(st.booleans()) and "BTC" in (scenario.get("assets") or {}):
        scenario["sweep"] = {"asset": "BTC", "moves": [-0.05, -0.1], "impact_scales": [0.5, 1.0]}
    what = draw(st.sampled_from(["scenario"] * 4 + ["csv", "hyperliquid", "flag"]))
    kinds: list[str] = []
    accounts: list[str] = []
    if what == "scenario":
        scenario, kinds = draw(M.edge_field(scenario, focus="sweep"))
    elif what in ("csv", "hyperliquid"):
        scenario.pop("sweep", None)
        doc, suffix = (M.population_rows(), ".csv") if what == "csv" else (M.hyperliquid_seed(), ".json")
        doc, kinds = draw(M.edge_field(doc))
        accounts = ["--accounts", write_input(M.encode(doc, suffix).encode(), suffix, "accounts")]
    path = write_input(M.encode_yaml_edges(scenario).encode(), ".yaml", "scenario")
    args = ["cascade", path, "--json", *accounts]
    if what == "flag":
        flags, flag = draw(_one_flag({}, CASCADE_EDGE))
        args += _flags(flags)
        kinds = ["semantic"] if flag else []
    return M.kind_of(kinds), args


@FUZZ
@given(analyze_edge_args())
def test_fuzz_analyze_edges(case):
    assert_good_case(case)


@FUZZ
@given(what_if_edge_args())
def test_fuzz_what_if_edges(case):
    assert_good_case(case)


@FUZZ_SLOW
@given(advise_edge_args())
def test_fuzz_advise_edges(case):
    assert_good_case(case)


@FUZZ
@given(policy_backtest_edge_args())
def test_fuzz_policy_backtest_edges(case):
    assert_good_case(case)


@FUZZ
@given(cascade_edge_args())
def test_fuzz_cascade_edges(case):
    assert_good_case(case)
