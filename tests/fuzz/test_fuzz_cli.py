"""Fuzzing the CLI with mutated bundled examples: every input exits 0 with a strict-JSON document
whose numbers pass the checks of ``harness.py``, or exits 2 with located ``error:`` lines, within
a time limit; never a traceback.

Budget: LIQRISK_FUZZ_EXAMPLES examples per test (default 25, deterministic: derandomized seed);
e.g. ``LIQRISK_FUZZ_EXAMPLES=5000 pytest tests/fuzz`` for a long campaign (also
``python tests/fuzz/campaign.py``). A subprocess smoke test checks the real exit codes.
"""
from __future__ import annotations

import os
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
    assert category in ("ok", "rejected"), f"{category}: {detail} (args {args})"
    return category, detail


ANALYZE_OPTIONS = {
    "--stress": M.CLI_NUMBERS, "--participation": M.CLI_NUMBERS, "--exit-horizon-hours": M.CLI_NUMBERS,
    "--drift": M.CLI_NUMBERS, "--seed": ["-1", "0", "7", "99999999999999999999"],
    "--horizon": ["1d", "0d", "-1h", "1e400d", "400d", "30m", "abc", "7d", "100000w"],
    "--paths": ["100", "1000000000", "-5", "abc"], "--model": ["gbm", "student", "merton", "fhs", "nope"],
    "--book": [str(M.EXAMPLES / "books" / "btc_book.json"), "BTC=" + str(M.EXAMPLES / "books" / "btc_book.json"),
               "ETH=" + str(M.EXAMPLES / "books" / "btc_book.json"), "BTC=/nonexistent.json", "BTC=" + str(M.EXAMPLES)],
    "--max-accounts": ["1", "0", "-3"], "--max-file-mb": ["0.0001", "nan"],
}


@st.composite
def analyze_args(draw):
    suffix, doc = draw(st.sampled_from(M.portfolio_seeds()))
    doc = draw(M.mutated_tree(doc)) if draw(st.booleans()) else doc
    data, _ = draw(M.mutated_text(M.encode(doc, suffix), suffix))
    args = ["analyze", write_input(data, suffix), "--json"]
    for opt in draw(st.lists(st.sampled_from(sorted(ANALYZE_OPTIONS)), max_size=2, unique=True)):
        args += [opt, draw(st.sampled_from(ANALYZE_OPTIONS[opt]))]
    if "--horizon" in args and "--paths" not in args:
        args += ["--paths", "200"]
    return args


@FUZZ
@given(analyze_args())
def test_fuzz_analyze(args):
    assert_good(args)


@st.composite
def cascade_args(draw):
    kind = draw(st.sampled_from(["scenario", "csv", "hyperliquid", "portfolio"]))
    scenario = draw(st.sampled_from(M.scenario_seeds()))
    if kind == "scenario":
        scenario = draw(M.mutated_tree(scenario))
        data, _ = draw(M.mutated_text(M.encode(scenario, ".yaml"), ".yaml"))
        args = ["cascade", write_input(data, ".yaml", "scenario"), "--json"]
        if draw(st.booleans()):
            args += ["--accounts", str(M.EXAMPLES / "populations" / "small_book.csv")]
        return args
    scenario.pop("sweep", None)
    args = ["cascade", write_input(M.encode(scenario, ".yaml").encode(), ".yaml", "scenario"), "--json"]
    if kind == "csv":
        rows = draw(M.mutated_tree(M.population_rows()))
        data, _ = draw(M.mutated_text(M.csv_text(rows if isinstance(rows, list) else [rows]), ".csv"))
        return args + ["--accounts", write_input(data, ".csv", "accounts")]
    if kind == "hyperliquid":
        state = draw(M.mutated_tree(M.hyperliquid_seed()))
        data, _ = draw(M.mutated_text(M.encode(state, ".json"), ".json"))
        return args + ["--accounts", write_input(data, ".json", "accounts")]
    suffix, doc = M.portfolio_seeds()[0]
    data, _ = draw(M.mutated_text(M.encode(draw(M.mutated_tree(doc)), suffix), suffix))
    return args + ["--accounts", write_input(data, suffix, "accounts")]


@FUZZ
@given(cascade_args())
def test_fuzz_cascade(args):
    assert_good(args)


EXIT_COST_OPTIONS = {"--stress": M.CLI_NUMBERS, "--participation": M.CLI_NUMBERS, "--vol": M.CLI_NUMBERS,
                     "--risk-aversion": M.CLI_NUMBERS, "--horizon": ["1h", "0h", "abc", "1e400h"],
                     "--volume": ["SOL=2.5e7", "BTC=inf", "BTC=-1", "x"]}


@st.composite
def exit_cost_args(draw):
    size = draw(st.sampled_from(M.CLI_NUMBERS + ["1.5", "-2"]))
    price = draw(st.sampled_from(M.CLI_NUMBERS + ["91250"]))
    args = ["exit-cost", "--position", f"{draw(st.sampled_from(['BTC', 'ETH', 'SOL', '']))}:{size}:{price}", "--json"]
    for opt in draw(st.lists(st.sampled_from(sorted(EXIT_COST_OPTIONS)), max_size=2, unique=True)):
        args += [opt, draw(st.sampled_from(EXIT_COST_OPTIONS[opt]))]
    if draw(st.booleans()):
        args += ["--book", draw(st.sampled_from(ANALYZE_OPTIONS["--book"]))]
    return args


@FUZZ
@given(exit_cost_args())
def test_fuzz_exit_cost(args):
    assert_good(args)


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
