"""`liqrisk watch` option checks (typer CliRunner)."""
from pathlib import Path

from typer.testing import CliRunner

from liqrisk.cli import app

DEMO = str(Path(__file__).resolve().parents[2] / "examples" / "multi_venue.yaml")


def test_a_negative_seed_is_refused_naming_the_flag(tmp_path):
    """Issue 9 (hand probes): ``watch --seed -1`` reached numpy at the first check: "error:
    expected non-negative integer", no flag named."""
    res = CliRunner().invoke(app, ["watch", DEMO, "--every", "1s", "--max-checks", "1", "--seed", "-1", "--alert",
                                   "p(1d)>=1%", "--database-url", f"sqlite:///{tmp_path / 'w.db'}"])
    assert res.exit_code == 2 and res.stderr == "error: --seed -1: must be ≥ 0\n", res.output


def test_a_market_snapshot_keyed_in_lower_case_replaces_the_files_entry(tmp_path):
    """The snapshot's ``btc`` is the file's ``BTC`` (market keys are upper-cased like every
    symbol): it overrides that entry — before, both stayed and the file's mark was used."""
    import json
    doc = {"as_of": "2026-11-23T00:00:00Z", "market": {"BTC": {"mark": 91000.0, "vol": 0.5}},
           "accounts": [{"id": "a", "venue": "binance-usdm", "collateral": {"USDT": 5000},
                         "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": 90000}]}]}
    (tmp_path / "p.json").write_text(json.dumps(doc))
    for snap, fires in (("btc: {mark: 91000, vol: 0.5}\n", False), ("btc: {mark: 85500, vol: 0.5}\n", True)):
        (tmp_path / "m.yaml").write_text(snap)
        res = CliRunner().invoke(app, ["watch", str(tmp_path / "p.json"), "--market", str(tmp_path / "m.yaml"),
                                       "--every", "1s", "--max-checks", "1", "--alert", "margin_ratio>=50%",
                                       "--database-url", f"sqlite:///{tmp_path / (str(fires) + '.db')}"])
        assert res.exit_code == 0, res.output
        assert ("0 alert(s)" not in res.output) is fires, res.output


def test_a_last_check_on_bad_input_exits_2(tmp_path):
    """Fuzzing watch (fixes27, campaign seed 27): a portfolio or --market snapshot the loader
    refuses (a mark of 3e303, a vol of -5e-324) printed its error: line and exited 0 after
    --max-checks 1. The watch still goes on after a bad check; its exit is 2 when the last was."""
    import json
    doc = {"as_of": "2026-11-23T00:00:00Z", "market": {"BTC": {"mark": 3.05e303, "vol": 0.5}},
           "accounts": [{"id": "a", "venue": "binance-usdm", "collateral": {"USDT": 5000},
                         "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": 90000}]}]}
    (tmp_path / "p.json").write_text(json.dumps(doc))
    res = CliRunner().invoke(app, ["watch", str(tmp_path / "p.json"), "--every", "1s", "--max-checks", "1",
                                   "--alert", "margin_ratio>=50%", "--database-url", f"sqlite:///{tmp_path / 'w.db'}"])
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith("error: market 'BTC', field 'mark'") and not res.stdout.strip(), res.output
