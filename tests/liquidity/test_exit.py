"""LVaR, liquidation loss, exit-cost curve, exit_summary and the exit-cost CLI."""
import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from liqrisk.cli import app
from liqrisk.liquidity.book import BookError, OrderBook
from liqrisk.liquidity.exit import exit_cost_curve, exit_summary, liquidation_loss
from liqrisk.liquidity.impact import LinearImpact, SquareRootImpact
from liqrisk.liquidity.lvar import bangia_lvar, endogenous_lvar
from liqrisk.liquidity.synthetic import synthetic_book

BOOK = OrderBook([[100, 1], [99, 2], [98, 3]], [[101, 1], [102, 2], [104, 4]], name="hand")


def test_bangia_worked_example():
    """P = $1m, sigma_r = 2%, z = 2.33, mean spread 10 bp, sd 5 bp, a = 3:
    VaR = 1e6 (1 - e^-0.0466) = 45,530.9..., COL = 0.5e6 (0.001 + 0.0015) = 1,250."""
    r = bangia_lvar(1e6, 0.02, 0.001, 0.0005, z=2.33, a=3.0)
    assert float(r.market_var) == pytest.approx(1e6 * (1 - math.exp(-0.0466)), rel=1e-14)
    assert round(float(r.market_var), 1) == 45530.9
    assert float(r.liquidity_cost) == pytest.approx(1250.0, rel=1e-14)
    assert float(r.lvar) == pytest.approx(46780.9, abs=0.1)
    assert r.to_dict()["method"] == "bangia"


def test_endogenous_lvar_adds_the_book_walk_of_the_own_size():
    r = endogenous_lvar(2.5, 100.5, 0.02, BOOK)
    assert float(r.liquidity_cost) == pytest.approx(2.5 * 1.1, rel=1e-12)  # avg 99.4 vs mid 100.5


def test_forced_long_fill_crosses_bankruptcy_and_shortfall_hits_the_fund():
    """Long 2.5 liquidated at 100.5 (the book's mid): avg 99.4, bankruptcy 99.8 ->
    shortfall 2.5 * 0.4 = 1.0; fee 1% of 2.5 * 99.4; impact 2.5 * 1.1."""
    r = liquidation_loss([2.5, 10.0], 100.5, 99.8, 0.01, BOOK)
    assert r.avg_fill_price[0] == pytest.approx(99.4, rel=1e-14)
    assert r.fee[0] == pytest.approx(2.485) and r.impact_cost[0] == pytest.approx(2.75)
    assert bool(r.crosses_bankruptcy[0]) and r.shortfall[0] == pytest.approx(1.0)
    assert r.unfilled[1] == pytest.approx(4.0) and r.currency == "quote" and r.book_source == "snapshot"


def test_inverse_short_loss_in_coin():
    """Short $1,000 face at liquidation price 100 (10 coins), square-root slippage 0.3%:
    avg 100.3 > bankruptcy 100.2 -> shortfall 1000 (1/100.2 - 1/100.3) coin."""
    imp = SquareRootImpact(sigma=0.03 * math.sqrt(365), daily_volume=1000.0)
    r = liquidation_loss(-1000.0, 100.0, 100.2, 0.005, imp, inverse=True)
    assert float(r.avg_fill_price) == pytest.approx(100.3, rel=1e-12)
    assert float(r.impact_cost) == pytest.approx(1000 * (1 / 100 - 1 / 100.3), rel=1e-12)
    assert float(r.fee) == pytest.approx(0.005 * 1000 / 100.3, rel=1e-12)
    assert float(r.shortfall) == pytest.approx(1000 * (1 / 100.2 - 1 / 100.3), rel=1e-12)
    assert bool(r.crosses_bankruptcy) and r.currency == "coin"


def test_liquidation_loss_is_vectorised_and_stress_only_adds_loss():
    b = synthetic_book(91250, 0.55)
    sizes = np.linspace(-500, 500, 11)
    calm = liquidation_loss(sizes, 80000, 79000, 0.005, b, 1.0)
    hard = liquidation_loss(sizes, 80000, 79000, 0.005, b, 3.0)
    assert calm.total_loss.shape == (11,) and (hard.impact_cost >= calm.impact_cost).all()


def test_exit_curve_starts_at_the_book_walk_and_falls_with_time():
    b = synthetic_book(91250, 0.55)
    c = exit_cost_curve([-300.0, 20.0], 91250, 0.55, b, 150_000)
    now = b.cost([300.0, -20.0], 91250)
    np.testing.assert_allclose(c.expected_cost[:, 0], now)
    assert (np.diff(c.expected_cost, axis=1) <= 1e-9).all() and (c.dcost_dhours <= 1e-9).all()
    stressed = exit_cost_curve([-300.0, 20.0], 91250, 0.55, b, 150_000, stress=2.0)
    assert (stressed.expected_cost > c.expected_cost).all()
    assert c.book_source == "synthetic"


def test_exit_summary_fields_for_the_analyze_command():
    s = exit_summary([("BTCUSDT", -12.5, 91250.0)], None, 0.55, 1.0, 0.1, 1.0)
    assert s.book == "synthetic" and set(s.curve) >= {0.0, 1.0}
    assert s.close_now_cost == pytest.approx(s.curve[0.0])
    assert s.time_to_exit_hours == pytest.approx(24 * 12.5 / (0.1 * 150_000))
    assert json.loads(json.dumps(s.to_dict()))["positions"][0]["book_source"] == "synthetic"


def test_cli_exit_cost_json_with_the_example_book():
    out = CliRunner().invoke(app, ["exit-cost", "--position", "BTC:-12.5:91250",
                                   "--book", "examples/books/btc_book.json", "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)["accounts"][0]
    assert doc["book"] == "snapshot" and doc["positions"][0]["levels"] >= 1


def test_cli_exit_cost_of_every_account_of_a_portfolio_file():
    out = CliRunner().invoke(app, ["exit-cost", "examples/multi_venue.yaml", "--json", "--stress", "2"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    ids = [a["id"] for a in doc["accounts"]]
    assert "binance-hedge" in ids and "binance-main" not in ids      # SOL has no synthetic calibration
    assert any("binance-main" in line and "SOL" in line for line in doc["skipped"])
    hedge = doc["accounts"][ids.index("binance-hedge")]
    assert hedge["book"] == "synthetic" and hedge["close_now_cost"] > 0


@pytest.mark.parametrize("args", [["--position", "BTC:abc:1"], ["--position", "BTC:1:1", "--book", "missing.json"],
                                  ["--position", "BTC:1:91250", "--horizon", "soon"],
                                  ["--position", "DOGE:1:0.1"], ["--position", "BTC:1:91250", "--participation", "0"]])
def test_cli_bad_input_exits_2_with_one_line(args):
    out = CliRunner().invoke(app, ["exit-cost", *args])
    assert out.exit_code == 2 and "Traceback" not in out.output
    assert len(out.output.strip().splitlines()) == 1


def test_short_market_var_is_the_upside_quantile():
    """A short loses when the price rises: VaR99 = |P| (e^{z sigma} - 1) > P (1 - e^{-z sigma})."""
    r_long = endogenous_lvar(10.0, 90_000.0, 0.05, LinearImpact(1e-9))
    r_short = endogenous_lvar(-10.0, 90_000.0, 0.05, LinearImpact(1e-9))
    assert float(r_long.market_var) == pytest.approx(9e5 * (1 - math.exp(-2.33 * 0.05)), rel=1e-14)
    assert float(r_short.market_var) == pytest.approx(9e5 * (math.exp(2.33 * 0.05) - 1), rel=1e-14)
    assert float(r_short.liquidity_cost) == pytest.approx(float(r_long.liquidity_cost))
    b = bangia_lvar(np.array([1e6, -1e6]), 0.02, 0.001, 0.0005)
    np.testing.assert_allclose(b.market_var, [1e6 * -math.expm1(-0.0466), 1e6 * math.expm1(0.0466)], rtol=1e-14)
    np.testing.assert_allclose(b.liquidity_cost, [1250.0, 1250.0], rtol=1e-14)


def test_exit_curve_never_costs_an_order_beyond_the_book_as_filled():
    """BOOK shows 6 on the bid, 7 on the ask: selling 6 is costed, selling 60 or 600 or buying 8 is NaN at every horizon
    (not the cost of the 6 that fill)."""
    c = exit_cost_curve([6.0, 60.0, 600.0, -8.0], 100.5, 0.6, BOOK, 1000.0)
    assert np.isfinite(c.expected_cost[0]).all() and np.isfinite(c.sd[0]).all()
    assert c.expected_cost[0, 0] == pytest.approx(1 * 0.5 + 2 * 1.5 + 3 * 2.5)
    assert np.isnan(c.expected_cost[1:]).all() and np.isnan(c.sd[1:]).all()
    assert np.isnan(c.dcost_dhours[1:]).all()
    # stress thins the book: 6 no longer fits at stress 2 (3 visible)
    assert np.isnan(exit_cost_curve(6.0, 100.5, 0.6, BOOK, 1000.0, stress=2.0).expected_cost).all()


def test_exit_summary_refuses_an_order_larger_than_the_stressed_book():
    with pytest.raises(BookError) as err:
        exit_summary([("BTCUSDT", 600.0, 100.0)], BOOK, 0.6, 4, 0.1)
    msg = str(err.value)
    assert "\n" not in msg and "BTCUSDT" in msg and "594 unfilled" in msg and "depth 6" in msg
    with pytest.raises(BookError, match="ask depth 3.5"):
        exit_summary([("BTCUSDT", -5.0, 100.0)], BOOK, 0.6, 4, 0.1, stress=2.0)
    ok = exit_summary([("BTCUSDT", 6.0, 100.5)], BOOK, 0.6, 4, 0.1)
    assert ok.positions[0]["unfilled"] == 0 and math.isfinite(ok.close_now_bps)


def test_exit_summary_skips_zero_sizes():
    s = exit_summary([("BTCUSDT", 0.0, 90000.0), ("ETHUSDT", 10.0, 3000.0)], None, 0.6, 4, 0.1)
    assert [r["symbol"] for r in s.positions] == ["ETHUSDT"] and math.isfinite(s.close_now_bps)
    with pytest.raises(BookError, match="no positions"):
        exit_summary([("BTCUSDT", 0.0, 90000.0)], None, 0.6, 4, 0.1)


def test_exit_curve_large_risk_aversion_uses_the_closed_form_not_a_fallback():
    """lambda = 1e-4 gives kappa T far above 355 on long horizons: the curve stays at the AC
    value (below the book walk) instead of jumping back to the close-now cost."""
    b = synthetic_book(90000, 0.6, 1.0, "BTC")
    c = exit_cost_curve(50.0, 90000, 0.6, b, 150_000, risk_aversion=1e-4)
    e = c.expected_cost[0]
    assert np.isfinite(e).all() and np.isfinite(c.sd[0]).all()
    assert (e[1:] < e[0]).all() and e[-1] == pytest.approx(e[-2], rel=1e-9)


def _reference_group(rows, vols, books, horizon, participation, stress):
    """One group costed position by position, each on its own book built at its own price
    (the per-position path the vectorised exit_costs replaces): (error, close now, curve,
    time to exit) or the first failing position's problem."""
    from liqrisk.liquidity.impact import DAILY_VOLUME
    hours = sorted({0.0, 0.25, 1.0, 4.0, 24.0, 72.0, horizon})
    now, curve, t_exit, first_error = 0.0, np.zeros(len(hours)), 0.0, None
    for sym, und, size, price in rows:
        try:
            book = books[und] if und in books else synthetic_book(price, vols[und], 1.0, und)
        except BookError as exc:
            return str(exc), None
        if size == 0:
            continue
        c = exit_cost_curve(size, price, vols[und], book, DAILY_VOLUME[und], hours, stress)
        if np.isnan(c.expected_cost).any():
            return f"{sym}: closing", None
        now += c.expected_cost[0, 0]
        curve += c.expected_cost[0]
        t_exit = max(t_exit, 24 * abs(size) / (participation * DAILY_VOLUME[und]))
    if first_error is None and not any(r[2] for r in rows):
        return "no positions", None
    return None, (now, curve, t_exit)


@pytest.mark.parametrize("with_book", [False, True])
def test_exit_costs_of_many_groups_equal_each_position_costed_on_its_own_book(with_book):
    """300 random accounts of BTC/ETH futures (basis ±3%, some sizes 0, a few too large for the
    stressed book) and SOL (no calibration): every account's totals equal the per-position
    curves on per-position books, summed; a failing account reports its first failing position."""
    from liqrisk.liquidity.exit import exit_costs
    rng = np.random.default_rng(3)
    marks, vols = {"BTC": 91_250.0, "ETH": 3_050.0, "SOL": 142.5}, {"BTC": 0.55, "ETH": 0.7, "SOL": 0.9}
    books = {"BTC": OrderBook([[91_240 - 10 * k, 2.0] for k in range(50)],
                              [[91_260 + 10 * k, 2.0] for k in range(50)], name="btc")} if with_book else {}
    groups = []
    for _ in range(300):
        rows = []
        for j in range(int(rng.integers(1, 7))):
            und = rng.choice(["BTC", "BTC", "ETH", "ETH", "SOL"] if rng.random() < 0.1 else ["BTC", "ETH"])
            scale = {"BTC": 5.0, "ETH": 150.0, "SOL": 100.0}[und] * (2000 if rng.random() < 0.03 else 1)
            size = 0.0 if rng.random() < 0.1 else float(rng.normal(0, scale))
            rows.append((f"{und}-{j}", str(und), size, marks[und] * float(np.exp(rng.normal(0, 0.01)))))
        groups.append(rows)
    flat = [(k, *r) for k, rows in enumerate(groups) for r in rows]
    costs = exit_costs([f[0] for f in flat], [f[2] for f in flat], [f[1] for f in flat], [f[3] for f in flat],
                       [f[4] for f in flat], books, vols, horizon_hours=2.0, participation=0.1, stress=2.0)
    tot = costs.totals()
    n_ok = 0
    for k, rows in enumerate(groups):
        error, ref = _reference_group(rows, vols, books, 2.0, 0.1, 2.0)
        if error is None:
            n_ok += 1
            assert costs.error[k] is None
            np.testing.assert_allclose(tot["close_now_cost"][k], ref[0], rtol=1e-11)
            np.testing.assert_allclose(tot["curve"][k], ref[1], rtol=1e-11)
            assert tot["time_to_exit_hours"][k] == pytest.approx(ref[2], rel=1e-14)
            assert costs.summary(k, tot).close_now_cost == pytest.approx(ref[0], rel=1e-11)
        else:
            assert costs.error[k].startswith(error)
    assert 200 < n_ok < 300          # both kinds of account occur


def test_exit_cost_result_is_typed_and_is_what_the_cli_prints():
    from liqrisk.cli.exit_cost import exit_cost_analysis
    from liqrisk.results.exit import ExitCostAnalysis
    res = exit_cost_analysis("examples/multi_venue.yaml", [("BTC", -2.0, 91_250.0)], None, 1.0, 0.1, 0.55, 2.0)
    assert isinstance(res, ExitCostAnalysis)
    out = CliRunner().invoke(app, ["exit-cost", "examples/multi_venue.yaml", "-p", "BTC:-2:91250", "--json",
                                   "--stress", "2"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == json.loads(res.to_json())
    frame = res.to_frame()
    assert len(frame) == sum(len(a.summary.positions) for a in res.accounts)
    assert frame["close_now_cost"].sum() == pytest.approx(sum(a.summary.close_now_cost for a in res.accounts))
    assert list(frame["account"])[-1] == "command-line positions"


@pytest.mark.parametrize("size", [5e-324, -1e-200, 1e-170])
def test_exit_curve_of_a_size_whose_square_underflows_is_its_close_now_cost(size):
    """|size|² = 0 in floating point (a denormal or a 1e-200 size, which the portfolio loader
    accepts): the impact coefficient was 0/0 and every horizon's cost NaN, so analyze --html
    stopped on "Out of range float values are not JSON compliant" (fuzz, 2026-12-03). The cost
    at any horizon is the close-now cost (the book walk of a near-zero order: ≈ half the spread
    × size, here ≤ 1e-150 USD)."""
    b = synthetic_book(91250, 0.55)
    c = exit_cost_curve([size, 1.0], 91250, 0.55, b, 150_000)
    assert np.isfinite(c.expected_cost).all() and np.isfinite(c.sd).all() and np.isfinite(c.dcost_dhours).all()
    np.testing.assert_allclose(c.expected_cost[0], b.cost([-size], 91250)[0], rtol=0, atol=1e-150)
    assert (c.sd[0] == 0).all()
    ref = exit_cost_curve([1.0], 91250, 0.55, b, 150_000)       # the other position is not affected
    np.testing.assert_array_equal(c.expected_cost[1], ref.expected_cost[0])


def test_cli_exit_cost_of_a_file_without_a_costed_position_names_the_file(tmp_path):
    """Only options (not costed): the message was the bare class name "BookError"."""
    f = tmp_path / "options.yaml"
    f.write_text("as_of: 2026-11-23T00:00:00Z\nmarket:\n  BTC: {mark: 91250.0, vol: 0.52}\naccounts:\n"
                 "  - id: o\n    venue: deribit\n    mode: cross\n    collateral: {BTC: 1.5}\n    positions:\n"
                 "      - {kind: option, underlying: BTC, expiry: 2026-12-25T08:00:00Z, strike: 100000, type: call,"
                 " size: -2, entry: 0.015}\n")
    out = CliRunner().invoke(app, ["exit-cost", str(f)])
    assert out.exit_code == 2 and "Traceback" not in out.output
    assert out.stderr.startswith(f"error: {f}: no account") and "options are not costed" in out.stderr


def test_cli_exit_cost_terminal_shows_the_bps_of_a_zero_notional_as_a_dash():
    """5e-324 ETH at 0.5: the notional is 0, its bps 0/0 (JSON null); the terminal printed
    "nan" (fuzzer's terminal runs, 2026-12-03)."""
    args = ["exit-cost", "--position", "ETH:5e-324:0.5"]
    doc = json.loads(CliRunner().invoke(app, args + ["--json"]).stdout)
    assert doc["accounts"][0]["positions"][0]["close_now_bps"] is None
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "nan" not in res.stdout.lower()
    row = next(line for line in res.stdout.splitlines() if line.startswith("│ ETH"))
    assert row.split("│")[4].strip() == "-"


def test_exit_cost_names_the_options_it_leaves_out():
    """exit-cost costed the Deribit desk's futures and dropped its five options without a word
    (analyze said "options are not costed"); now a note per account names them."""
    out = CliRunner().invoke(app, ["exit-cost", "examples/deribit_portfolio_margin.yaml", "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert [a["id"] for a in doc["accounts"]] == ["pm-desk", "same-desk-standard-margin"]
    assert doc["skipped"] == [f"account '{a}': options are not costed: BTC-26NOV21-80000-C, BTC-26NOV21-50000-P, "
                              f"BTC-26NOV21-70000-C, BTC-31DEC21-60000-P, BTC-31DEC21-90000-C"
                              for a in ("pm-desk", "same-desk-standard-margin")]
    text = CliRunner().invoke(app, ["exit-cost", "examples/defi_loans.yaml"])
    assert "options are not costed" not in text.output        # no options there: no such note
