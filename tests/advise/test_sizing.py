"""Sizing: the largest size meets the target and 1% more misses it; Kelly f* = μ/σ²."""
import json

import pytest
from typer.testing import CliRunner

from liqrisk.advise.sizing import size_position
from liqrisk.cli import app


def test_largest_size_for_a_distance_target_is_maximal():
    r = size_position("binance-usdm", "BTCUSDT", 50, 10_000, "distance>=4sd", 91_250, 0.52)
    assert r.binding == "target" and r.target_minimal is True
    assert r.rows[0]["meets_target"] and r.target_size < r.leverage_cap


def test_leverage_binds_when_the_target_is_loose():
    r = size_position("binance-usdm", "BTCUSDT", 5, 10_000, "distance>=2sd", 91_250, 0.52)
    assert r.binding.startswith("leverage") and r.target_size == pytest.approx(10_000 * 5 / 91_250, rel=1e-5)


def test_kelly_closed_form_and_ruin_aware_kelly_below_the_cap():
    r = size_position("binance-usdm", "BTCUSDT", 10, 10_000, "distance>=3sd", 91_250, 0.5, drift=0.5)
    rows = {x["sizing"]: x for x in r.rows}
    f_star = 0.5 / 0.25 * 10_000 / 91_250
    assert rows["Kelly f* = μ/σ² (no liquidation)"]["coins"] == pytest.approx(f_star)
    k = rows["Kelly, liquidation as ruin"]["coins"]
    assert 0 < k <= r.leverage_cap
    assert rows["half Kelly"]["coins"] == pytest.approx(k / 2)


def test_cli_json_and_bad_input():
    runner = CliRunner()
    res = runner.invoke(app, ["size", "--venue", "okx", "--symbol", "BTC-USDT-SWAP", "--leverage", "20", "--collateral",
                              "5000", "--target", "distance>=3sd", "--mark", "91250", "--vol", "0.52", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["target_size"] > 0
    res = runner.invoke(app, ["size", "--venue", "nowhere", "--symbol", "X", "--leverage", "-1", "--collateral", "1",
                              "--target", "distance>=3sd", "--mark", "1", "--vol", "0.5"])
    assert res.exit_code == 2 and "Traceback" not in res.output


@pytest.mark.parametrize("flag, value", [("--vol", "5e-324"), ("--vol", "inf"), ("--mark", "1e300"), ("--mark", "nan"),
                                         ("--collateral", "1e400"), ("--leverage", "0.5"), ("--drift", "nan")])
def test_size_options_outside_their_range_are_named(flag, value):
    """A vol of 5e-324 used to divide by zero in the engine: every number is checked first."""
    args = {"--venue": "binance-usdm", "--symbol": "BTCUSDT", "--leverage": "10", "--collateral": "10000",
            "--target": "p(7d)<=1%", "--mark": "91250", "--vol": "0.5", flag: value}
    res = CliRunner().invoke(app, ["size", "--json", "--paths", "200", *[x for kv in args.items() for x in kv]])
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith(f"error: {flag} ") and "must be a finite number in" in res.stderr


def test_a_lending_protocol_is_not_a_venue_to_size_a_perp_on():
    res = CliRunner().invoke(app, ["size", "--json", "--paths", "200", "--venue", "aave-v3", "--symbol", "ETH",
                                   "--leverage", "10", "--collateral", "10000", "--target", "p(7d)<=1%",
                                   "--mark", "3050", "--vol", "0.5"])
    assert res.exit_code == 2 and res.stderr.startswith("error: --venue aave-v3: a lending protocol"), res.output


def test_progress_counts_the_engine_runs():
    seen = []
    size_position("binance-usdm", "BTCUSDT", 20, 10_000, "p(1d)<=1%", 91_250, 0.52, paths=500,
                  progress=lambda k, n: seen.append((k, n)))
    assert seen and [k for k, _ in seen] == list(range(1, len(seen) + 1)) and {n for _, n in seen} == {None}


def test_the_terminal_shows_an_infinite_distance_as_infinity():
    """Leverage 1: no liquidation price, the distance metric is +inf (JSON null); the terminal
    table printed "inf" (fuzzer's terminal runs, 2026-12-03)."""
    from typer.testing import CliRunner

    from liqrisk.cli import app
    args = ["size", "--venue", "binance-usdm", "--symbol", "BTCUSDT", "--leverage", "1", "--collateral", "10000",
            "--target", "distance>=3sd", "--mark", "91250", "--vol", "0.5"]
    doc = json.loads(CliRunner().invoke(app, args + ["--json"]).stdout)
    assert doc["rows"][0]["liquidation_price"] is None and doc["rows"][0]["metric"] is None
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    row = next(line for line in res.stdout.splitlines() if "largest meeting the target" in line)
    assert "inf" not in row and row.split("│")[5].strip() == "∞"
