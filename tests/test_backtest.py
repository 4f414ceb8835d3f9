"""The daily book back-test: outcomes by the margin kernel against hand-computed Binance
liquidation conditions, and a small real-data run (JSON shape; a mis-scaled model scores worse)."""
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from liqrisk.backtest import (CLOSES, EXTREMES, HORIZONS, MODELS, Daily, accounts, backtest_book,
                              realised)
from liqrisk.cli import app
from liqrisk.load import parse_portfolio
from liqrisk.margin.account import CompiledPortfolio

# BTC 2018-01-06 → 2018-02-17: the first crash after the 2017 peak, seven weekly forecast dates
WINDOW = dict(start="2018-01-06", end="2018-02-17", every=7, n_paths=500)


def _book(names):
    accs = [a for a in accounts(("BTC", "ETH")) if a.name in names]
    marks = {"BTC": 10_000.0, "ETH": 500.0}
    doc = {"as_of": "2019-01-01T00:00:00Z", "market": {a: {"mark": m, "vol": 0.8} for a, m in marks.items()},
           "accounts": [a.document(marks) for a in accs]}
    return CompiledPortfolio(parse_portfolio(doc)), accs


def _daily(btc, eth):
    """Day 0 at the marks, then (low, high, close) ratios per day for each asset."""
    days = np.arange(np.datetime64("2019-01-01"), np.datetime64("2019-01-01") + 1 + len(btc))
    out = {f: {} for f in ("low", "high", "close")}
    for a, rows, m in (("BTC", btc, 10_000.0), ("ETH", eth, 500.0)):
        r = np.array([(1, 1, 1)] + list(rows), float) * m
        out["low"][a], out["high"][a], out["close"][a] = r[:, 0], r[:, 1], r[:, 2]
    return Daily(days, out["high"], out["low"], out["close"], "synthetic")


def test_isolated_long_is_liquidated_when_a_low_reaches_the_binance_lp():
    # 10x isolated long, first tier (MMR 0.4%, cum 0): LP/EP = (1 − 1/10)/(1 − 0.004)
    lp = 0.9 / 0.996
    cp, (acc,) = _book(["BTC long 10x"])
    flat = [(1, 1, 1)]
    for low, hit in ((lp * (1 + 1e-9), False), (lp * (1 - 1e-9), True)):
        daily = _daily(flat + [(low, 1.0, 1.0)] + flat * 5, flat * 7)
        ext, close = realised(cp, 0, acc, daily, 0, 7)
        assert list(ext) == [False] + [hit] * 6 and not close.any()


def test_cross_account_outcome_at_adverse_extremes_and_at_closes_by_hand():
    # 5x cross, 10,000 USDT per leg, collateral 4,000; MM 0.4% of each leg's notional.
    # long both: liquidated iff 4000 + 10000(b + e − 2) ≤ 40(b + e), i.e. b + e ≤ 1.60643
    # long BTC / short ETH: iff 4000 + 10000(b − e) ≤ 40(b + e)
    cp, accs = _book(["long both 5x", "long BTC / short ETH 5x"])
    both, pair = accs if accs[0].name == "long both 5x" else accs[::-1]
    i_both, i_pair = (accs.index(a) for a in (both, pair))
    daily = _daily(btc=[(0.81, 1.0, 0.9), (0.79, 1.0, 0.8), (1, 1, 1)],
                   eth=[(0.81, 1.19, 1.0), (0.81, 1.21, 0.8), (1, 1, 1)])
    ext, close = realised(cp, i_both, both, daily, 0, 3)
    assert list(ext) == [False, True, True]         # day 2: 0.79 + 0.81 = 1.60 at the lows
    assert list(close) == [False, True, True]       # day 2 closes 0.8 + 0.8 = 1.60
    ext, close = realised(cp, i_pair, pair, daily, 0, 3)
    assert list(ext) == [False, True, True]         # day 2: 4000 + 10000(0.79 − 1.21) < 0
    assert not close.any()                          # closes 0.8/0.8 and 1/1: equity 4000


@pytest.fixture(scope="module")
def calibrated():
    return backtest_book(models=("fhs",), **WINDOW)


def test_a_model_with_half_the_vol_scores_worse_on_real_btc_history(calibrated):
    half = backtest_book(models=("fhs",), vol_scale=0.5, **WINDOW)
    for a, b in zip(calibrated.results, half.results):
        assert (a.accounts, a.horizon_days, a.scores.n, a.scores.events) == \
               (b.accounts, b.horizon_days, b.scores.n, b.scores.events)
    pooled = [np.mean([getattr(r.scores, k) for r in x.results]) for x in (calibrated, half)
              for k in ("brier", "log_score")]
    assert pooled[2] > pooled[0] and pooled[3] > pooled[1]


def test_cli_json_document_of_a_small_real_run(calibrated):
    out = CliRunner().invoke(app, ["backtest-calibration", "--json", "--model", "fhs", "--start", WINDOW["start"],
                                   "--end", WINDOW["end"], "--n-paths", "500"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["dates"] == 7 and doc["first_date"] == "2018-01-06" and doc["last_date"] == "2018-02-17"
    assert doc["accounts"] == {"BTC isolated": [a.name for a in accounts(("BTC",))]}
    assert [(r["horizon_days"], r["outcome"], r["model"]) for r in doc["results"]] == \
           [(h, EXTREMES, "fhs") for h in HORIZONS]
    for r, mine in zip(doc["results"], calibrated.results):
        s = r["scores"]
        assert s["n"] == 7 * 8 == sum(row["count"] for row in s["table"])
        assert s == json.loads(json.dumps(mine.scores.to_dict()))      # the same run, exactly
        assert {"brier", "log_score", "ece", "reliability", "events"} <= set(s)
        assert all(set(row) == {"lo", "hi", "count", "events", "predicted", "realised", "ci95"} for row in s["table"])
    assert doc["best"][0]["lowest_log_score"] == "fhs"


def test_bad_options_exit_2_naming_the_option(tmp_path):
    out = CliRunner().invoke(app, ["backtest-calibration", "--model", "heston", "--every", "0", "--start", "2018-13-01"])
    assert out.exit_code == 2 and "Traceback" not in out.output
    for text in ("--model heston", "--every 0", "--start 2018-13-01"):
        assert text in out.output
    out = CliRunner().invoke(app, ["backtest-calibration", "--start", "2030-01-01"])
    assert out.exit_code == 2 and "no forecast date" in out.output
    hourly = tmp_path / "hourly.csv"
    cols = [f"{a}_{f}" for a in ("btc", "eth") for f in ("open", "high", "low", "close", "volume")]
    hourly.write_text("timestamp," + ",".join(cols) + "\n" + "".join(
        f"2019-01-01T0{h}:00:00Z," + ",".join(["100"] * 10) + "\n" for h in range(5)))
    out = CliRunner().invoke(app, ["backtest-calibration", "--file", str(hourly)])
    assert out.exit_code == 2 and "needs daily bars" in out.output and "Traceback" not in out.output


def test_help_names_the_book_models():
    from liqrisk.cli.calibration import BOOK_MODEL_NAMES
    assert BOOK_MODEL_NAMES == ", ".join(MODELS)
