"""Every answer says which path model its "after" probability ran under; with --model auto a
cut that removes every position with price history (BTC, ETH: bundled) leaves an account on
SOL alone, which runs GBM — flagged as a switch, and the same model what-if reports."""
import json

import pytest
from typer.testing import CliRunner

from liqrisk.advise.advice import advise
from liqrisk.advise.whatif import what_if
from liqrisk.cli import app

DOC = {"as_of": "2026-11-23T00:00:00Z",
       "market": {"BTC": {"mark": 91_000.0, "vol": 0.5}, "SOL": {"mark": 140.0, "vol": 0.8}},
       "accounts": [{"id": "iso", "venue": "binance-usdm", "mode": "isolated",
                     "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": 91_000, "margin": 2500},
                                   {"symbol": "SOLUSDT", "kind": "perp", "size": 10.0, "entry": 140, "margin": 1000}]}]}


def test_a_cut_to_an_account_without_history_reports_gbm_and_the_switch():
    adv = advise(DOC, "p(7d)<=1%", paths=4000, seed=3)
    a = adv.accounts[0]
    assert a.model == "fhs" and not a.meets
    cut = next(x for x in a.actions if x.description.startswith("cut BTCUSDT"))
    assert cut.meets and cut.amount == 1.0
    w = what_if(DOC, reduce=["iso:BTCUSDT:1"], horizons=["7d"], paths=4000, seed=3, exit=False)
    after = w.side_by_side()[0]["after"]
    assert cut.model == after["model"] == "gbm" and cut.details["model_switch"] == "fhs → gbm"
    assert cut.metric == pytest.approx(after["probability"]["7d"], rel=1e-12)
    kept = [x for x in a.actions if x.model == "fhs"]
    assert kept and all("model_switch" not in x.details for x in kept)


def test_the_switch_is_in_the_json_and_the_table(tmp_path):
    path = tmp_path / "iso.json"
    path.write_text(json.dumps(DOC))
    args = ["advise", str(path), "--target", "p(7d)<=1%", "--paths", "4000", "--seed", "3"]
    r = CliRunner().invoke(app, args + ["--json"])
    assert r.exit_code == 0, r.output
    acts = json.loads(r.output)["accounts"][0]["actions"]
    cut = next(x for x in acts if x["description"].startswith("cut BTCUSDT"))
    assert cut["model"] == "gbm" and cut["details"]["model_switch"] == "fhs → gbm"
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "gbm (was fhs)" in r.output and "after's model" in r.output
