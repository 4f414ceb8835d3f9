"""``liqrisk cascade``: JSON and HTML output; bad input exits 2 with one line naming the field."""
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from liqrisk.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

SMALL = """name: t
assets: {BTC: {price: 91250, vol: 0.55}, ETH: {price: 3050, vol: 0.7}}
shock: {kind: gap, steps: 3, moves: {BTC: -0.2}}
impact: {model: sqrt, stress: 3}
insurance_fund_usd: 1.0e6
"""


def test_json_and_html_for_the_csv_example(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(SMALL)
    html = tmp_path / "r.html"
    res = runner.invoke(app, ["cascade", str(f), "--accounts", str(ROOT / "examples/populations/small_book.csv"),
                              "--json", "--html", str(html)])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["n_accounts"] == 4 and len(d["marks"]["BTC"]) == 4 and d["liquidation_maps"]
    assert "bob" in d["liquidated_accounts"]
    text = html.read_text()
    assert "Liquidation map BTC" in text and len(text) > 1_000_000    # plotly.js inlined


def test_sweep_runs_on_the_process_engine(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(SMALL + "population: {synthetic: {n_accounts: 500, seed: 1}}\n"
                         "sweep: {asset: BTC, moves: [-0.05, -0.1], impact_scales: [1, 2], chunk_size: 2}\n")
    res = runner.invoke(app, ["cascade", str(f), "--engine", "process", "--json"])
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.stdout)["rows"]) == 4


def test_a_sweep_at_impact_scale_0_is_the_scenario_without_impact(tmp_path):
    """Scale 0 = infinite depth (it divided a daily volume by zero: a traceback before)."""
    f = tmp_path / "s.yaml"
    population = "population: {synthetic: {n_accounts: 500, seed: 1}}\n"
    f.write_text(SMALL + population + "sweep: {asset: BTC, moves: [-0.1], impact_scales: [0, 1]}\n")
    res = runner.invoke(app, ["cascade", str(f), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    zero, one = (dict(zip(doc["fields"], row)) for row in doc["rows"])
    g = tmp_path / "none.yaml"
    g.write_text(SMALL.replace("model: sqrt", "model: none") + population
                 + "sweep: {asset: BTC, moves: [-0.1], impact_scales: [1]}\n")
    res = runner.invoke(app, ["cascade", str(g), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    (none,) = (dict(zip(doc["fields"], row)) for row in doc["rows"])
    assert zero == {**none, "impact_scale": 0.0}
    assert one["liquidated_usd"] > zero["liquidated_usd"]   # impact does something at scale 1


@pytest.mark.parametrize("edit,field", [
    (("moves: {BTC: -0.2}", "moves: {BTC: abc}"), "shock.moves.BTC"),
    (("kind: gap", "kind: spiral"), "shock.kind"),
    (("price: 91250", "price: -5"), "assets.BTC.price"),
    (("model: sqrt", "model: magic"), "impact.model"),
    (("name: t", "nme: t"), "nme"),
])
def test_bad_scenario_exits_2_naming_the_field(tmp_path, edit, field):
    f = tmp_path / "s.yaml"
    f.write_text(SMALL.replace(*edit))
    res = runner.invoke(app, ["cascade", str(f), "--accounts", str(ROOT / "examples/populations/small_book.csv")])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines() if hasattr(res, "stderr") else res.output.strip().splitlines()
    assert len(lines) == 1 and field in lines[0] and "Traceback" not in res.output


@pytest.mark.parametrize("stress", ["0", "-1", "1001", "5e-324", "1e-300", "0.00099"])
def test_a_scenario_stress_follows_the_rule_of_the_stress_flag(tmp_path, stress):
    """``impact.stress: 0`` was accepted (the bound was ≥ 0) while ``analyze --stress 0`` is
    refused: both are in [0.001, 1000] now, and say so in the same words (issue 9: 5e-324 ran
    with an infinite depth, ``--stress 1e-300`` stopped on a crossed synthetic book naming no flag)."""
    f = tmp_path / "s.yaml"
    f.write_text(SMALL.replace("stress: 3", f"stress: {stress}"))
    res = runner.invoke(app, ["cascade", str(f), "--accounts", str(ROOT / "examples/populations/small_book.csv")])
    flag = runner.invoke(app, ["analyze", str(ROOT / "examples/multi_venue.yaml"), "--stress", stress])
    assert res.exit_code == 2 and flag.exit_code == 2
    rule = "must be in [0.001, 1000] (1 = today's book)"
    assert res.stderr.strip().splitlines() == [f"error: impact.stress: {float(stress):g}: {rule}"]
    assert rule in flag.stderr


def test_bad_accounts_file_exits_2_naming_the_column(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(SMALL)
    bad = tmp_path / "a.csv"
    bad.write_text("account_id,venue,mode,collateral_usd,asset,size\nx,binance-usdm,cross,1,BTC,1\n")
    res = runner.invoke(app, ["cascade", str(f), "--accounts", str(bad)])
    assert res.exit_code == 2 and "entry" in res.output and "Traceback" not in res.output


def test_the_analyze_portfolio_file_runs_whole_and_json_lists_the_liquidated_accounts(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(SMALL)
    res = runner.invoke(app, ["cascade", str(f), "--accounts", str(ROOT / "examples/multi_venue.yaml"), "--json"])
    assert res.exit_code == 0, res.output
    assert "skips" not in res.output
    d = json.loads(res.stdout)
    assert d["n_accounts"] == 8 and d["assets"] == ["BTC", "ETH", "SOL"]      # SOL held at the file's mark
    assert set(d["liquidated_accounts"]) <= {"binance-main", "binance-hedge", "binance-coinm", "bybit-uta",
                                             "okx-cross", "hyperliquid-vault", "deribit-options", "bitmex-xbt"}
    assert len(d["liquidated_accounts"]) == d["n_liquidated_accounts"] > 0
    assert d["marks"]["SOL"] == [142.5] * 4


def test_a_broken_money_identity_stops_the_run_with_one_line(tmp_path, monkeypatch):
    from liqrisk.cascade import engine, run
    f = tmp_path / "s.yaml"
    f.write_text(SMALL)

    def broken(*args, **kwargs):
        raise engine.ConservationError("cascade 't': money identity broken at step 1 (residual inf of the gross flows)")
    monkeypatch.setattr(run, "run_scenario", broken)
    res = runner.invoke(app, ["cascade", str(f), "--accounts", str(ROOT / "examples/populations/small_book.csv"),
                              "--json"])
    assert res.exit_code == 2 and not isinstance(res.exception, Exception), res.exception
    assert res.stderr == "error: result check: cascade 't': money identity broken at step 1 (residual inf of the " \
                         "gross flows)\n"


def test_the_sweep_table_shows_an_undefined_amplification_as_a_dash(tmp_path):
    """A sweep move of 0: the amplification (mark move ÷ exogenous move) is undefined, JSON null;
    the terminal table printed it as "nan" (fuzzer's terminal runs, 2026-12-03)."""
    f = tmp_path / "s.yaml"
    f.write_text(SMALL + "population: {synthetic: {n_accounts: 200, seed: 1}}\n"
                         "sweep: {asset: BTC, moves: [0, -0.1], impact_scales: [1]}\n")
    doc = json.loads(runner.invoke(app, ["cascade", str(f), "--json"]).stdout)
    rows = [dict(zip(doc["fields"], row)) for row in doc["rows"]]
    assert rows[0]["amplification"] is None and rows[1]["amplification"] > 0
    res = runner.invoke(app, ["cascade", str(f)])
    assert res.exit_code == 0, res.output
    assert "nan" not in res.stdout.lower()
    zero = next(line for line in res.stdout.splitlines() if line.startswith("│ 0 "))
    assert zero.split("│")[7].strip() == "-"          # the amplification column
