"""Delta-hedging back-test against outside references: Hull's worked weekly path, the
Derman–Kamal hedging-error law, and the NumPy reference of the kernel; margin events on the
venue's rules."""
import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from liqrisk.advise.hedging import (HedgeSpec, derman_kamal_std, hedge_backtest, hedge_paths_numpy,
                                    history_increments, margin_book)
from liqrisk.cli import app
from liqrisk.io.portfolio import InputError

# Hull, Options, Futures and Other Derivatives, "simulation of delta hedging" (the path that ends
# in the money): weekly prices, S0 = 49, K = 50, r = 5%, σ = 20%, T = 20 weeks, 100,000 calls short
HULL_PATH = [49.00, 48.12, 47.37, 50.25, 51.75, 53.12, 53.00, 51.87, 51.38, 53.00, 49.88, 48.50, 49.88,
             50.37, 52.13, 51.88, 52.87, 54.87, 54.62, 55.87, 57.25]
HULL = HedgeSpec(spot=49, strike=50, expiry_days=20 * 365 / 52, vol=0.2, rate=0.05, position=-100_000,
                 rebalances=20, hedge="spot", fee=0.0, lot=100, liquidate=False, collateral=0.0)




def test_hull_weekly_path_cost_is_263_3k():
    """Hull: cumulative cost $5,263.3k, i.e. $263.3k net of the $5,000k strike received. Our P&L is
    the premium grown at r minus that cost; Hull's weekly interest r/52 vs our e^{r/52}: $33 apart."""
    incr = np.diff(np.log(HULL_PATH))[None, :]
    pnl, fees, trades = hedge_paths_numpy(incr, HULL, 1, 0.0)
    from liqrisk.pricing import black_scholes
    premium = float(black_scholes(49, 50, 20 / 52, 0.05, 0.2, True))
    assert premium * 1e5 == pytest.approx(240_053, abs=1)                 # Hull's BS value
    cost = premium * 1e5 * math.exp(0.05 * 20 / 52) - pnl[0]
    assert cost == pytest.approx(263_300, abs=100)
    # the numba kernel on the same path gives the same P&L
    res = _history_run(HULL, incr)
    assert res.pnl[0, 0] == pytest.approx(pnl[0], rel=1e-12, abs=1e-6)
    assert res.trades[0, 0] == trades[0]


def _history_run(spec, incr, book=None):
    """hedge_backtest on fixed increments (the history code path with our own path)."""
    from liqrisk.advise import hedging as H
    orig = H.history_increments
    H.history_increments = lambda s, n: incr
    try:
        return hedge_backtest(spec, paths=len(incr), model="history", book=book)
    finally:
        H.history_increments = orig


def test_kernel_matches_numpy_reference_with_fees_lots_and_rate():
    spec = HedgeSpec(spot=100, strike=95, expiry_days=20, vol=0.6, rate=0.03, is_call=False, position=3,
                     rebalances=10, steps=40, hedge="perp", fee=0.0005, lot=0.01, liquidate=False)
    rng = np.random.default_rng(3)
    incr = rng.standard_normal((64, 40)) * 0.6 * math.sqrt(20 / 365 / 40)
    res = _history_run(spec, incr)
    pnl, fees, trades = hedge_paths_numpy(incr, spec, 4, 0.0005)
    np.testing.assert_allclose(res.pnl[0], pnl, rtol=1e-11, atol=1e-9)
    np.testing.assert_allclose(res.fees[0], fees, rtol=1e-11)
    np.testing.assert_array_equal(res.trades[0], trades)


@pytest.mark.parametrize("n", [10, 40, 160])
def test_derman_kamal_hedging_error(n):
    """std(P&L) ≈ √(π/4)·vega·σ/√N under GBM at the model's own vol, mean ≈ 0. Tolerance: 4 standard
    errors of a sample std (delta method with the sample kurtosis) plus the discretisation bias of
    the law — the left-point sum over the 1/√(T−t) gamma singularity at the strike, at most
    |ζ(1/2)|/(π√(2N)) ≈ 0.33/√N relative."""
    spec = HedgeSpec(spot=100, strike=100, expiry_days=30, vol=0.5, position=-1, rebalances=n,
                     fee=0.0, liquidate=False)
    d = hedge_backtest(spec, paths=20_000, seed=11).to_dict()
    dk = derman_kamal_std(spec, n)
    assert d["derman_kamal_std"] == pytest.approx(dk)
    tol = 4 * d["pnl_std_stderr"] + 0.33 / math.sqrt(n) * dk
    assert abs(d["pnl_std"] - dk) <= tol, (d["pnl_std"], dk, tol)
    assert abs(d["pnl_mean"]) <= 4 * d["pnl_mean_stderr"]


def test_error_halves_when_rebalances_quadruple():
    spec = HedgeSpec(spot=100, strike=100, expiry_days=30, vol=0.5, position=-1, rebalances=160, fee=0.0,
                     liquidate=False)
    curve = {c["rebalances"]: c["pnl_std"] for c in hedge_backtest(spec, 20_000, seed=5).to_dict()
             ["hedging_error_vs_rebalances"]}
    assert curve[40] / curve[160] == pytest.approx(2.0, rel=0.08)
    assert curve[10] / curve[40] == pytest.approx(2.0, rel=0.08)


def test_thin_collateral_is_liquidated_on_the_venue_rules():
    """A short call with little collateral over its maintenance margin: some paths are called
    and liquidated; with ample collateral none."""
    spec = HedgeSpec(spot=100, strike=100, expiry_days=30, vol=0.8, position=-1, rebalances=30,
                     collateral=22.0, fee=0.0)
    r = hedge_backtest(spec, 4000, seed=2)
    d = r.to_dict()
    assert 0 < d["liquidations"]["fraction"] < 1
    assert d["margin_calls"]["paths"] >= d["liquidations"]["paths"]
    assert d["worst_margin_ratio"]["max"] >= 1.0
    assert any(e["kind"] == "liquidation" for e in d["events"])
    roomy = hedge_backtest(HedgeSpec(**{**spec.__dict__, "collateral": 1e6}), 4000, seed=2).to_dict()
    assert roomy["liquidations"]["paths"] == 0


def test_margin_ratio_is_the_engine_ratio_of_the_same_account():
    """At the first step the back-test's margin ratio equals `analyze`'s margin ratio for the same
    Deribit account written as a portfolio file (cash as BTC collateral, the hedge as a future)."""
    from liqrisk.load import parse_portfolio
    from liqrisk.margin.account import analyze_margin
    from liqrisk.pricing import black_scholes, greeks
    spec = HedgeSpec(spot=90_000, strike=95_000, expiry_days=30, vol=0.55, position=-2, rebalances=1,
                     collateral=30_000, fee=0.0, liquidate=False)
    r = _history_run(spec, np.zeros((1, 1)))
    premium = float(black_scholes(90_000, 95_000, 30 / 365, 0.0, 0.55, True))
    h = 2 * float(greeks(90_000, 95_000, 30 / 365, 0.0, 0.55, True)["delta"])
    pf = parse_portfolio({"as_of": "2026-01-01T00:00:00Z", "market": {"BTC": {"mark": 90_000, "vol": 0.55}},
                          "accounts": [{"id": "a", "venue": "deribit", "collateral": {"BTC": (30_000 + 2 * premium) / 90_000},
                                        "positions": [
                                            {"kind": "option", "underlying": "BTC", "expiry": "2026-01-31T00:00:00Z",
                                             "strike": 95_000, "type": "call", "size": -2, "entry": premium / 90_000},
                                            {"kind": "future", "underlying": "BTC", "expiry": "2026-01-31T00:00:00Z",
                                             "size": h * 90_000, "entry": 90_000}]}]})
    ratio = analyze_margin(pf)[0].margin_ratio
    assert r.worst_ratio[0, 0] == pytest.approx(ratio, rel=1e-12)


def test_deribit_margin_book_is_the_venue_account():
    book = margin_book(HedgeSpec(spot=90_000, strike=100_000, expiry_days=30, vol=0.5, position=-2))
    from liqrisk.margin.base import INVERSE, INVERSE_OPTION, MM_DERIBIT_OPTION
    a = book.arrays
    assert a.contract[book.hedge_row] == INVERSE
    opt = [i for i in range(len(a.contract)) if a.contract[i] == INVERSE_OPTION]
    assert a.mm_code[opt[0]] == MM_DERIBIT_OPTION and a.qty[opt[0]] == -2


def test_real_history_windows():
    spec = HedgeSpec(spot=100, strike=100, expiry_days=7, vol=0.6, position=-1, rebalances=42)
    x = history_increments(spec, 500)
    assert x.shape == (500, 42)
    d = hedge_backtest(spec, 500, model="history").to_dict()
    assert d["paths"] == 500 and math.isfinite(d["pnl_std"]) and d["notes"]


def test_cli_json_and_html(tmp_path):
    html = tmp_path / "h.html"
    res = CliRunner().invoke(app, ["hedge-backtest", "--spot", "100", "--strike", "100", "--expiry-days", "30",
                                   "--vol", "0.5", "--type", "call", "--position", "-1", "--rebalances", "20",
                                   "--paths", "2000", "--model", "gbm", "--seed", "1", "--json", "--html", str(html)])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert {"pnl_mean", "pnl_std", "derman_kamal_std"} <= set(d)
    assert "Hedging error" in html.read_text()


def test_zero_collateral_is_liquidated_at_once_and_its_infinite_margin_ratio_is_printed(tmp_path):
    """--collateral 0: every path's equity reaches 0 at the first step, the margin ratio is +inf
    (JSON null). The terminal and the HTML printed it with a format for numbers and raised a
    TypeError; the 99 % quantile came from an interpolation inf − inf with a NumPy warning."""
    args = ["hedge-backtest", "--spot", "91250", "--strike", "100000", "--expiry-days", "30", "--vol", "0.5",
            "--paths", "50", "--collateral", "0"]
    res = CliRunner().invoke(app, args + ["--html", str(tmp_path / "h.html")])
    assert res.exit_code == 0, res.output
    assert "liquidations on 100.00%; worst margin ratio ∞ (equity reached 0)" in " ".join(res.stdout.split())
    assert "RuntimeWarning" not in res.stderr
    assert "worst margin ratio \\u221e (equity reached 0)" in (tmp_path / "h.html").read_text()
    d = json.loads(CliRunner().invoke(app, args + ["--json"]).stdout)
    assert d["liquidations"]["fraction"] == 1.0 and d["worst_margin_ratio"] == {"max": None, "median": None, "q99": None}


def test_cli_bad_input_exits_2():
    res = CliRunner().invoke(app, ["hedge-backtest", "--spot", "-1", "--strike", "100", "--expiry-days", "30",
                                   "--vol", "0.5", "--rebalances", "7", "--steps", "10"])
    assert res.exit_code == 2
    assert "--spot" in res.output and "--steps" in res.output and "Traceback" not in res.output


@pytest.mark.parametrize("flag, value, message", [
    ("--spot", "5e-324", "--spot 4.94066e-324: must be a finite number in [1e-12, 1e+12]"),
    ("--vol", "1e300", "--vol 1e+300: must be a finite number in [1e-08, 10]"),
    ("--lot", "nan", "--lot nan: must be"), ("--fee", "-1", "--fee -1: must be"),
    ("--funding", "5", "--funding 5: must be"), ("--collateral", "-1", "--collateral -1: must be"),
    ("--steps", "100000000", "above the limit path_steps"),
    # a notional above 1e15 was refused naming "account 'hedged', position 1 (BTC), field 'size'" (by hand, 2026-12-03)
    ("--position", "1e11", "--position 1e+11: a notional of 9.125e+15 USD at --spot 91250, above the supported 1e+15"),
])
def test_hedge_backtest_options_outside_their_range_are_named(flag, value, message):
    """Extreme numbers are refused before any path is drawn; --paths 1e9 (a hang) is a usage error."""
    base = ["hedge-backtest", "--json", "--paths", "50", "--spot", "91250", "--strike", "100000", "--expiry-days", "30",
            "--vol", "0.5"]
    i = base.index(flag) if flag in base else len(base)
    args = base[:i] + base[i + 2:]
    res = CliRunner().invoke(app, args + [flag, value])
    assert res.exit_code == 2 and message in res.stderr, res.output
    huge = CliRunner().invoke(app, base[:2] + ["--paths", "1000000000"] + base[4:])
    assert huge.exit_code == 2 and "--paths" in huge.stderr


def _book_doc(options, collateral_btc=2.0, positions=()):
    return {"as_of": "2026-01-01T00:00:00Z", "market": {"BTC": {"mark": 90_000, "vol": 0.55}},
            "accounts": [{"id": "opt", "venue": "deribit", "collateral": {"BTC": collateral_btc},
                          "positions": [{"kind": "option", "underlying": "BTC", "expiry": "2026-01-31T00:00:00Z",
                                         "strike": k, "type": t, "size": q, "entry": 0.01} for k, t, q in options]
                                       + list(positions)}]}


def _book_run(doc, paths=3000, seed=4, **kw):
    from liqrisk.advise.hedging import account_book
    book, terms = account_book(doc, "opt")
    spec = HedgeSpec(**terms, rebalances=20, liquidate=False, **kw)
    return hedge_backtest(spec, paths, seed=seed, book=book), spec


def test_one_option_file_gives_the_single_option_numbers():
    """The same option from a portfolio file (BTC collateral, its move left out of the P&L) and
    from --spot/--strike: the same P&L, fees and trades on the same paths."""
    r, spec = _book_run(_book_doc([(95_000, "call", -2)]), fee=0.0005)
    assert spec.expiry_days == pytest.approx(30) and spec.vol == pytest.approx(0.55)
    one = hedge_backtest(HedgeSpec(spot=90_000, strike=95_000, expiry_days=30, vol=0.55, position=-2,
                                   rebalances=20, fee=0.0005, liquidate=False), 3000, seed=4)
    np.testing.assert_allclose(r.pnl, one.pnl, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(r.fees, one.fees, rtol=1e-12)
    np.testing.assert_array_equal(r.trades, one.trades)
    d = r.to_dict()
    assert d["derman_kamal_std"] == pytest.approx(one.to_dict()["derman_kamal_std"])
    assert d["book"]["account"] == "opt" and len(d["book"]["options"]) == 1


def test_book_pnl_is_the_sum_of_its_options():
    """Without fees, lots or liquidation the hedge is linear in the positions: a short call and a
    short put in one account earn, path by path, the sum of each hedged alone."""
    r, _ = _book_run(_book_doc([(95_000, "call", -1), (85_000, "put", -3)]), fee=0.0)
    alone = [hedge_backtest(HedgeSpec(spot=90_000, strike=k, expiry_days=30, vol=0.55, is_call=c, position=q,
                                      rebalances=20, fee=0.0, liquidate=False), 3000, seed=4).pnl
             for k, c, q in ((95_000, True, -1), (85_000, False, -3))]
    np.testing.assert_allclose(r.pnl, alone[0] + alone[1], rtol=1e-9, atol=1e-6)
    assert r.to_dict()["derman_kamal_std"] is None


def test_book_margin_ratio_is_the_engine_ratio_of_the_whole_account():
    """Step 0 of a book with a future and two options: the back-test's margin ratio is
    `analyze`'s for the same account holding the hedge (a future of minus the book's delta: the
    options' Black–Scholes deltas and the future's face/entry)."""
    from liqrisk.advise.hedging import account_book
    from liqrisk.load import parse_portfolio
    from liqrisk.margin.account import analyze_margin
    from liqrisk.pricing import greeks
    fut = {"kind": "future", "underlying": "BTC", "expiry": "2026-03-27T08:00:00Z", "size": 30_000, "entry": 88_000}
    doc = _book_doc([(100_000, "call", -2), (80_000, "put", 1)], 1.5, [fut])
    book, terms = account_book(doc, "opt")
    r = _history_run(HedgeSpec(**terms, rebalances=1, fee=0.0, liquidate=False), np.zeros((1, 1)), book)
    t = 30 / 365
    delta = sum(q * float(greeks(90_000, k, t, 0.0, 0.55, c)["delta"]) for k, c, q in
                ((100_000, True, -2), (80_000, False, 1))) + 30_000 / 88_000
    hedge = {"kind": "future", "underlying": "BTC", "expiry": "2026-01-31T00:00:00Z", "size": -delta * 90_000,
             "entry": 90_000}
    doc["accounts"][0]["positions"].append(hedge)
    assert r.worst_ratio[0, 0] == pytest.approx(analyze_margin(parse_portfolio(doc))[0].margin_ratio, rel=1e-12)


def test_cli_hedges_the_demo_deribit_account(tmp_path):
    from pathlib import Path
    demo = str(Path(__file__).resolve().parents[2] / "examples/multi_venue.yaml")
    res = CliRunner().invoke(app, ["hedge-backtest", "--file", demo, "--account", "deribit-options", "--rebalances",
                                   "32", "--paths", "1000", "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert len(d["book"]["options"]) == 2 and d["book"]["other_positions"] and math.isfinite(d["pnl_std"])
    bad = CliRunner().invoke(app, ["hedge-backtest", "--file", demo, "--account", "okx-cross"])
    assert bad.exit_code == 2 and "okx-cross" in bad.output and "Traceback" not in bad.output
    none = CliRunner().invoke(app, ["hedge-backtest", "--strike", "100"])
    assert none.exit_code == 2 and "--spot" in none.output


@pytest.mark.parametrize("days", ["1e-300", "0.0006", "0", "nan", "3650.1"])
def test_an_expiry_under_a_minute_or_over_ten_years_is_refused_naming_the_flag(days):
    """Issue 9 (hand probes): --expiry-days 1e-300 passed the (0, 3650] check, the expiry (as_of
    + days, whole microseconds) was as_of itself, and the run stopped with "account 'hedged',
    position 1 (BTC), field 'expiry': expired" — an account the user never named."""
    res = CliRunner().invoke(app, ["hedge-backtest", "--spot", "91250", "--strike", "100000", "--expiry-days", days,
                                   "--vol", "0.5", "--paths", "50", "--json"])
    assert res.exit_code == 2 and res.stderr == (f"error: --expiry-days {float(days):g}: must be a finite number of "
                                                 "days from one minute (0.000694444) to 3650\n"), res.output


def test_a_one_minute_option_is_hedged():
    res = CliRunner().invoke(app, ["hedge-backtest", "--spot", "91250", "--strike", "91250", "--expiry-days",
                                   str(1 / 1440), "--vol", "0.5", "--paths", "50", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["option"]["expiry_days"] == 1 / 1440


@pytest.mark.parametrize("steps", ["0", "-5"])
def test_zero_monitoring_steps_are_refused_not_replaced(steps):
    """Issue 9 (edge fuzz, seed 11): --steps 0 was falsy, so the run took one step per rebalance
    (50) and exit 0 — a value the user gave, silently replaced."""
    res = CliRunner().invoke(app, ["hedge-backtest", "--spot", "91250", "--strike", "100000", "--expiry-days", "30",
                                   "--vol", "0.5", "--paths", "50", "--steps", steps, "--json"])
    assert res.exit_code == 2 and res.stderr == (
        f"error: --steps: must be ≥ 1 (or left out: one per rebalance), got {steps}\n"), res.output


def test_an_account_is_hedged_for_the_terminal_and_the_html_report(tmp_path):
    """--file/--account with --html: the report's title read the single option's block, null for
    an account (TypeError: 'NoneType' object is not subscriptable, found by the fuzzer's terminal
    and HTML runs, 2026-12-03). Title and table name the account in both."""
    from pathlib import Path
    demo = str(Path(__file__).resolve().parents[2] / "examples/multi_venue.yaml")
    html = tmp_path / "h.html"
    res = CliRunner().invoke(app, ["hedge-backtest", "--file", demo, "--account", "deribit-options", "--paths", "50",
                                   "--html", str(html)])
    assert res.exit_code == 0, res.output
    assert "delta hedge of account 'deribit-options' (2 options, 32.3d)" in res.stdout
    assert "account 'deribit-options' (2 options, 32.3d) \\u2014 hedged with" in html.read_text()


def test_options_of_an_account_whose_sizes_sum_to_zero_are_hedged():
    """A short call and a long put of the same size: the net contract count is 0 and the run was
    refused as "--position 0: must be a non-zero number of contracts" — a flag not given with
    --file. The account's options are hedged; their P&L is the sum of each hedged alone."""
    r, _ = _book_run(_book_doc([(95_000, "call", -2), (85_000, "put", 2)]), fee=0.0)
    alone = [hedge_backtest(HedgeSpec(spot=90_000, strike=k, expiry_days=30, vol=0.55, is_call=c, position=q,
                                      rebalances=20, fee=0.0, liquidate=False), 3000, seed=4).pnl
             for k, c, q in ((95_000, True, -2), (85_000, False, 2))]
    np.testing.assert_allclose(r.pnl, alone[0] + alone[1], rtol=1e-9, atol=1e-6)
    with pytest.raises(InputError, match="--position 0"):      # one option given by flags: still refused
        hedge_backtest(HedgeSpec(spot=90_000, strike=95_000, expiry_days=30, vol=0.55, position=0), 10)
