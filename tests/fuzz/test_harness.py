"""The fuzz harness's time limit never breaks the process it measures: the alarm waits while
numba compiles or a module imports (raised there it broke every later input of the run —
numba's 'no compiled object yet for pool_states_serial_nb', a partially initialised pandas)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import harness  # noqa: E402


def test_the_alarm_waits_until_a_numba_compile_is_done():
    from numba.core.compiler_lock import global_compiler_lock
    done = False
    with pytest.raises(harness.Hang):
        with harness._alarm(0.01):
            with global_compiler_lock:          # held by numba for the whole compile
                time.sleep(0.3)                 # the alarm fires here and must not raise
            done = True
            time.sleep(30)                      # ... it raises here instead
    assert done


def test_the_alarm_waits_until_an_import_is_done(tmp_path, monkeypatch):
    (tmp_path / "fuzz_probe_module.py").write_text(
        "import sys, harness\nINSIDE = harness._inside_compile_or_import(sys._getframe())\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import fuzz_probe_module
    assert fuzz_probe_module.INSIDE
    assert not harness._inside_compile_or_import(sys._getframe())


def test_a_cascade_document_with_null_marks_or_ledger_terms_is_wrong():
    """Null (a NaN the JSON writer turned into null) is no number the ledger identity holds for
    (the campaign's own check raised TypeError on one)."""
    terms = ("wallets", "insurance", "backstop", "liquidators", "book_pnl", "adl_pnl", "funding")
    doc = {"marks": {"BTC": [91250.0, None]}, "ledger_usd": {k: [0.0, None] for k in terms}}
    assert harness.check_numbers("cascade", doc) == ["mark of BTC null or ≤ 0", "ledger term null at step 1"]


# --- the plausibility oracles: each catches a planted wrong output ------------------------------
# The documents below are hand-made in the shape of README's `analyze --json` document (and the
# other commands' results); the right numbers are the fields' meaning (a probability is in [0, 1],
# IM ≥ MM, a long's liquidation price is below its mark …), the planted one breaks exactly one.

import copy  # noqa: E402
import json  # noqa: E402


def _account(**over):
    """One cross account, long 1 BTC perp at mark 91,250, 10 000 USDT: liquidation at 81,000
    (below the mark), P(1d) = 2 % with a 95 % interval that brackets it."""
    a = {"id": "acct", "equity": 10_000.0, "initial_margin": 9_125.0, "maintenance_margin": 365.0,
         "liquidatable_now": False, "loan": None,
         "liquidation": {"BTC": {"down": 81_000.0, "up": None}},
         "positions": [{"symbol": "BTCUSDT", "kind": "perp", "underlying": "BTC", "size": 1.0, "mark": 91_250.0,
                        "initial_margin": 9_125.0, "maintenance_margin": 365.0, "liquidation_price": 81_000.0,
                        "isolated": False}],
         "probability": {"1d": {"p": 0.02, "stderr": 0.01, "ci95": [0.0004, 0.0396], "paths": 200, "method": "plain"}},
         "pools": {"cross": {"1d": {"p": 0.02, "stderr": 0.01, "ci95": [0.0004, 0.0396], "paths": 200}}},
         "exit": {"close_now_cost": 24.0, "close_now_bps": 2.6, "liquidation_cost": 30.0, "insurance_shortfall": 0.0,
                  "time_to_exit_hours": 0.0016, "horizon_cost": 24.0, "cost_vs_exit_hours": {"0.0": 24.0, "1.0": 24.0}}}
    a.update(over)
    return a


def _analyze(**over):
    return {"as_of": "2026-11-23T00:00:00Z", "accounts": [_account(**over)], "notes": []}


def _planted(doc, path, value):
    doc = copy.deepcopy(doc)
    x = doc
    for k in path[:-1]:
        x = x[k]
    x[path[-1]] = value
    return doc


def test_the_unplanted_documents_pass():
    assert harness.check_numbers("analyze", _analyze()) == []


@pytest.mark.parametrize("path, value, words", [
    (("accounts", 0, "probability", "1d", "p"), 1.2, "outside [0, 1]"),
    (("accounts", 0, "probability", "1d", "p"), -0.01, "outside [0, 1]"),
    (("accounts", 0, "probability", "1d", "p"), float("nan"), "non-finite"),
    (("accounts", 0, "pools", "cross", "1d", "p"), 1.5, "outside [0, 1]"),
    (("accounts", 0, "probability", "1d", "ci95"), [0.03, 0.05], "does not bracket the estimate 0.02"),
    (("accounts", 0, "probability", "1d", "ci95"), [0.05, 0.01], "reversed"),
    (("accounts", 0, "probability", "1d", "ci95"), [0.0, 1.5], "not within [0, 1]"),
    (("accounts", 0, "probability", "1d", "ci95"), [0.01], "not an interval"),
    (("accounts", 0, "equity"), float("inf"), "equity = inf not a finite number"),
    (("accounts", 0, "maintenance_margin"), -1.0, "negative margin"),
    (("accounts", 0, "initial_margin"), 100.0, "initial margin 100.0 < maintenance margin 365.0"),
    (("accounts", 0, "positions", 0, "initial_margin"), 10.0, "initial margin 10.0 < maintenance margin 365.0"),
    (("accounts", 0, "positions", 0, "liquidation_price"), 95_000.0, "wrong side of its mark"),
    (("accounts", 0, "positions", 0, "liquidation_price"), -5.0, "≤ 0"),
    (("accounts", 0, "liquidation", "BTC", "down"), 95_000.0, "wrong side of the mark"),
    (("accounts", 0, "liquidation", "BTC", "up"), 0.0, "not a positive number"),
    (("accounts", 0, "exit", "close_now_cost"), -3.0, "not a finite number ≥ 0"),
    (("accounts", 0, "exit", "horizon_cost"), float("inf"), "non-finite"),
    (("accounts", 0, "exit", "cost_vs_exit_hours", "1.0"), -1.0, "< 0"),
])
def test_each_analyze_oracle_catches_its_planted_wrong_number(path, value, words):
    problems = harness.check_numbers("analyze", _planted(_analyze(), path, value))
    assert problems and any(words in p for p in problems), problems


def test_a_short_liquidated_below_its_mark_is_wrong_and_a_cross_leg_takes_its_symbols_net_side():
    """Binance hedge mode (examples/multi_venue.yaml's binance-hedge): long 20 and short 8 ETHUSDT
    in one cross pool show the net long's (down) price on both legs — right; alone, a short's
    price below its mark is wrong."""
    leg = {"symbol": "ETHUSDT", "kind": "perp", "underlying": "ETH", "mark": 3050.0, "initial_margin": 300.0,
           "maintenance_margin": 20.0, "liquidation_price": 1904.4, "isolated": False}
    hedged = _account(positions=[{**leg, "size": 20.0}, {**leg, "size": -8.0}],
                      liquidation={"ETH": {"down": 1904.4, "up": None}})
    assert harness.check_numbers("analyze", {"accounts": [hedged]}) == []
    short = _account(positions=[{**leg, "size": -8.0}], liquidation={"ETH": {"down": 1904.4, "up": None}})
    assert any("wrong side of its mark" in p for p in harness.check_numbers("analyze", {"accounts": [short]}))


def test_im_below_mm_is_allowed_where_the_run_says_why():
    """A leverage noted as above the venue's maximum keeps the IM as given (analysis._leverage_notes);
    a collateral loan has no IM; a liquidatable account may hold a margin below MM."""
    low = _planted(_analyze(), ("accounts", 0, "initial_margin"), 100.0)
    low = _planted(low, ("accounts", 0, "positions", 0, "initial_margin"), 100.0)
    assert harness.check_numbers("analyze", low)
    noted = {**low, "notes": ["account 'acct', position 1 (BTCUSDT): leverage 1000 exceeds the venue's maximum "
                              "150 at this notional"]}
    assert harness.check_numbers("analyze", noted) == []
    assert harness.check_numbers("analyze", _planted(low, ("accounts", 0, "loan"), {"health_factor": 1.5})) == []


def test_what_if_probabilities_and_exit_costs():
    side = {"equity": 10_000.0, "maintenance_margin": 365.0, "liquidatable_now": False,
            "liquidation": {"BTC": {"down": 81_000.0, "up": None}}, "probability": {"1d": 0.02},
            "exit_close_now_cost": 24.0}
    doc = {"accounts": [{"id": "acct", "before": side, "after": copy.deepcopy(side)}]}
    assert harness.check_numbers("what-if", doc) == []
    assert harness.check_numbers("what-if", _planted(doc, ("accounts", 0, "after", "probability", "1d"), 1.01))
    assert harness.check_numbers("what-if", _planted(doc, ("accounts", 0, "after", "exit_close_now_cost"), -1.0))


def test_shares_of_paths_are_in_the_unit_interval():
    hedge = {"paths": 50, "pnl_std": 1.0, "pnl_quantiles": {"0.01": -2.0, "0.5": 0.0, "0.99": 1.0},
             "margin_calls": {"paths": 13, "fraction": 0.26}, "liquidations": {"paths": 8, "fraction": 0.16}}
    assert harness.check_numbers("hedge-backtest", hedge) == []
    assert harness.check_numbers("hedge-backtest", _planted(hedge, ("liquidations", "fraction"), 1.16))
    hist = {"risk": {"time_to_liquidation_histogram": {"fraction": [0.5, 0.5]}}}
    assert harness.check_plausible(hist) == []
    assert harness.check_plausible(_planted(hist, ("risk", "time_to_liquidation_histogram", "fraction"), [0.5, 1.5]))


def test_policy_backtest_counts_and_probabilities():
    """30 liquidations of 50 paths is a probability of 0.6; avoided ≤ hold's liquidations."""
    pol = {"liquidation_probability": 0.6, "liquidations": 30, "liquidations_avoided": 0, "cost_mean": 0.0,
           "capital_added_mean": 0.0, "actions_mean": 0.0, "pnl_std": 1.0,
           "pnl_quantiles": {"0.01": -9100.0, "0.5": -9100.0, "0.99": 35336.0}}
    cut = {**pol, "liquidation_probability": 0.0, "liquidations": 0, "liquidations_avoided": 30}
    doc = {"paths": 50, "policies": {"hold": pol, "cut": cut}}
    assert harness.check_numbers("policy-backtest", doc) == []
    for path, value in ((("policies", "hold", "liquidation_probability"), 0.5),
                        (("policies", "cut", "liquidations_avoided"), 31),
                        (("policies", "hold", "liquidations"), 51),
                        (("policies", "cut", "cost_mean"), -1.0),
                        (("policies", "hold", "pnl_quantiles", "0.5"), -10_000.0)):
        assert harness.check_numbers("policy-backtest", _planted(doc, path, value)), path


def test_a_sweep_has_one_row_per_grid_point():
    """moves [-0.05, -0.1] × impact_scales [0, 1] = 4 rows, each scale a grid point."""
    scenario = {"sweep": {"asset": "BTC", "moves": [-0.05, -0.1], "impact_scales": [0.0, 1.0]}}
    fields = ["move", "impact_scale", "liquidated_usd"]
    rows = [[m, s, 1.0] for m in (-0.05, -0.1) for s in (0.0, 1.0)]
    doc = {"asset": "BTC", "fields": fields, "rows": rows}
    assert harness.check_numbers("cascade", doc, scenario) == []
    assert harness.check_numbers("cascade", {**doc, "rows": rows[:3]}, scenario) == [
        "sweep: 3 rows for a grid of 2 moves × 2 impact scales"]
    assert harness.check_numbers("cascade", {**doc, "rows": rows[:3] + [[-0.1, 2.0, 1.0]]}, scenario) == [
        "sweep: a row's impact scale is no grid point"]


def test_a_broken_cascade_ledger_identity_is_wrong():
    """wallets + insurance + backstop + liquidators = book_pnl + adl_pnl + funding at every step."""
    led = {"wallets": [0.0, -9000.0], "insurance": [0.0, -19907.6], "backstop": [0.0, 0.0],
           "liquidators": [0.0, 28907.6], "book_pnl": [0.0, 0.0], "adl_pnl": [0.0, 0.0], "funding": [0.0, 0.0]}
    doc = {"marks": {"BTC": [91250.0, 77538.0]}, "ledger_usd": led}
    assert harness.check_numbers("cascade", doc) == []
    assert harness.check_numbers("cascade", _planted(doc, ("ledger_usd", "liquidators", 1), 28000.0)) == [
        "ledger identity broken at step 1: -907.6"]


def test_non_strict_json_on_stdout_is_wrong(monkeypatch):
    """A command printing NaN (or Infinity) with exit 0 is counted wrong, not ok: the harness
    reads stdout with a JSON decoder that refuses the non-standard constants."""
    import typer
    fake = typer.Typer()

    @fake.command("analyze")
    def analyze(text: str):
        print(text)

    @fake.command("other")
    def other():  # a second command: typer then dispatches on the command name
        pass

    monkeypatch.setattr(harness, "app", fake)
    monkeypatch.setattr(harness, "_warm", True)
    assert harness.run(["analyze", json.dumps(_analyze())], 60)[0] == "ok"
    for text in ('{"accounts": [], "x": NaN}', '{"accounts": [], "x": Infinity}', '{"accounts": [], "x": -Infinity}'):
        category, detail, _ = harness.run(["analyze", text], 60)
        assert (category, detail.split(":")[0]) == ("wrong", "stdout is not strict JSON"), text
    planted = _planted(_analyze(), ("accounts", 0, "probability", "1d", "p"), 1.2)
    assert harness.run(["analyze", json.dumps(planted)], 60)[0] == "wrong"


# --- the terminal and HTML runs of a --json input: each failure kind is caught ------------------

def _fake_hedge(monkeypatch, render):
    """A fake ``hedge-backtest`` printing a valid document with --json and calling ``render(html)``
    without it (``html``: the --html path or None)."""
    import typer
    fake = typer.Typer()

    @fake.command("hedge-backtest")
    def hedge(as_json: bool = typer.Option(False, "--json"), html: str = typer.Option(None, "--html")):
        if as_json:
            print(json.dumps({"pnl_std": 1.0, "pnl_quantiles": {"0.01": -1.0, "0.99": 1.0}}))
            return
        render(html)

    @fake.command("other")
    def other():
        pass

    monkeypatch.setattr(harness, "app", fake)
    monkeypatch.setattr(harness, "_warm", True)
    return lambda: harness.run(["hedge-backtest", "--json"], 60, render=True)[:2]


def _write_html(html, text="<!DOCTYPE html><html><body>report</body></html>\n"):
    with open(html, "w") as f:
        f.write(text)


def test_a_terminal_run_that_prints_and_writes_its_report_is_ok(monkeypatch):
    run = _fake_hedge(monkeypatch, lambda html: (print("P&L std 1.0"), _write_html(html)))
    assert run() == ("ok", "")
    assert harness.run(["hedge-backtest", "--json"], 60, render=False)[0] == "ok"


def test_a_crash_only_in_the_terminal_or_html_writer_is_a_traceback(monkeypatch):
    def crash(html):
        print("P&L")
        f"{None:,.4g}"
    category, detail = _fake_hedge(monkeypatch, crash)()
    assert category == "traceback" and detail.startswith("terminal+html: TypeError: unsupported format string")


@pytest.mark.parametrize("render, words", [
    (lambda html: (print("worst margin ratio nan"), _write_html(html)), "a non-finite number shown"),
    (lambda html: (print("q99 -inf"), _write_html(html)), "a non-finite number shown"),
    (lambda html: print("P&L std 1.0"), "no HTML file written"),
    (lambda html: (print("P&L std 1.0"), _write_html(html, "<html><body>")), "does not end with </html>"),
    (lambda html: _write_html(html), "nothing printed"),
])
def test_a_terminal_run_showing_nan_or_without_a_whole_report_is_wrong(monkeypatch, render, words):
    category, detail = _fake_hedge(monkeypatch, render)()
    assert category == "wrong" and words in detail, detail


def test_a_terminal_run_rejecting_what_the_json_run_accepted_is_wrong(monkeypatch):
    """The analyze --html of a denormal size: --json ok, the HTML writer's NaN an exit 2."""
    import sys

    import typer

    def reject(html):
        sys.stderr.write("error: Out of range float values are not JSON compliant\n")
        raise typer.Exit(2)
    category, detail = _fake_hedge(monkeypatch, reject)()
    assert category == "wrong" and detail.startswith("--json run ok") and "terminal run rejected" in detail
    # "binance", "info", "Infinity" are words, not a non-finite number
    run = _fake_hedge(monkeypatch, lambda html: (print("binance-main info Infinity ∞ 1e+308"), _write_html(html)))
    assert run() == ("ok", "")


def test_vol_and_calibration_oracles_flag_planted_wrong_numbers():
    assert harness.check_numbers("vol", {"full_sample": {"vol_annualised": {"ewma": -0.1}}})
    assert not harness.check_numbers("vol", {"full_sample": {"vol_annualised": {"ewma": 0.5, "garch": None}}})
    for bad in ({"brier": 1.5}, {"predicted": -0.1}, {"realised": 2.0}, {"ece": -1e-9}, {"count": -1}):
        assert harness.check_numbers("backtest-calibration", {"results": [bad]}), bad
    assert not harness.check_numbers("backtest-calibration", {"results": [{"brier": 0.2, "ece": 0.01, "count": 3}]})


def test_a_text_command_that_exits_0_silently_is_wrong():
    """watch has no --json: its one run is judged as a terminal run."""
    class R:
        exception, exit_code, stdout, stderr = None, 0, "", ""
    assert harness._classify_json(["watch"], R, 0.1, 60)[0] == "wrong"
    R.stdout = "2026-12-03T16:01:59 evaluated (run 1), 0 alert(s)\n"
    assert harness._classify_json(["watch"], R, 0.1, 60)[0] == "ok"
    R.stdout = "ALERT p(1d)>=1% account a: nan\n"
    assert harness._classify_json(["watch"], R, 0.1, 60)[0] == "wrong"
