"""what-if and advise run the model `analyze` runs: with no --model the calibrated default per
account (fhs where an underlying has bundled history, else gbm — docs/calibration.md), each
output says which one ran, and the probabilities are analyze's to the last bit (one engine, one
seeded stream); --model gbm still gives GBM's numbers."""
import json

import pytest
from typer.testing import CliRunner

from liqrisk.advise.advice import advise
from liqrisk.analysis import ProbabilitySettings, analyze
from liqrisk.cli import app

RUN = ["--horizon", "7d", "--paths", "2000", "--seed", "5"]
DEFAULT = {"btc": "fhs", "sol": "gbm"}        # BTC has bundled daily history, SOL has none


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    """A 20× BTC long and a 10× SOL short on cross wallets: P(7d) well inside (0, 1) for both."""
    doc = {"as_of": "2026-11-23T00:00:00Z",
           "market": {"BTC": {"mark": 91_000.0, "vol": 0.5}, "SOL": {"mark": 142.5, "vol": 0.85}},
           "accounts": [
               {"id": "btc", "venue": "binance-usdm", "mode": "cross", "collateral": {"USDT": 7000},
                "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": 90_000, "leverage": 20}]},
               {"id": "sol", "venue": "binance-usdm", "mode": "cross", "collateral": {"USDT": 3500},
                "positions": [{"symbol": "SOLUSDT", "kind": "perp", "size": -150, "entry": 140.0, "leverage": 10}]}]}
    path = tmp_path_factory.mktemp("book") / "book.json"
    path.write_text(json.dumps(doc))
    return doc, str(path)


def _cli(*args) -> dict:
    res = CliRunner().invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def _analyze(path, *model) -> dict:
    """analyze's model and P(7d) per account (no model range: the range runs after the main model)."""
    d = _cli("analyze", path, *RUN, "--range-paths", "0", *model)
    return {a["id"]: (a["risk"]["model"], a["probability"]["7d"]["p"]) for a in d["accounts"]}


def test_what_if_without_model_runs_analyzes_default_per_account(book):
    _, path = book
    ref = _analyze(path)
    assert {k: m for k, (m, _) in ref.items()} == DEFAULT
    assert all(0 < p < 1 for _, p in ref.values())
    d = _cli("what-if", path, *RUN, "--shock", "SOL=+5%")
    rows = {r["id"]: r for r in d["accounts"]}
    for acc, (model, p) in ref.items():
        assert rows[acc]["before"]["model"] == rows[acc]["after"]["model"] == model
        assert rows[acc]["before"]["probability"]["7d"] == p          # the same engine and stream
    assert rows["sol"]["after"]["probability"]["7d"] > ref["sol"][1]   # the shock moves the short
    out = CliRunner().invoke(app, ["what-if", path, *RUN])
    assert out.exit_code == 0 and "model" in out.output and "fhs" in out.output and "gbm" in out.output


def test_what_if_model_gbm_gives_gbms_numbers(book):
    _, path = book
    gbm = _analyze(path, "--model", "gbm")
    rows = {r["id"]: r["before"] for r in _cli("what-if", path, *RUN, "--model", "gbm")["accounts"]}
    assert {k: (r["model"], r["probability"]["7d"]) for k, r in rows.items()} == gbm
    assert gbm["btc"][1] != _analyze(path)["btc"][1]                  # the flag chose another model


@pytest.mark.parametrize("model", [None, "gbm"])
def test_advise_metric_is_analyzes_probability_under_the_same_model(book, model):
    """A target every account meets: the metric (P(7d) now) and the reported model, per account,
    against analyze of the same book with the same seed and paths."""
    doc, path = book
    kw = {} if model is None else {"model": model}
    adv = advise(doc, "p(7d)<=99%", paths=2000, seed=5, **kw)
    ref = analyze(doc, ProbabilitySettings(["7d"], 2000, 5, model or "auto")).accounts
    assert [(a.id, a.model, a.metric) for a in adv.accounts] == \
        [(r.id, r.risk.model, r.probability["7d"].p) for r in ref]
    assert [a.model for a in adv.accounts] == (list(DEFAULT.values()) if model is None else ["gbm", "gbm"])
    assert all(a.meets for a in adv.accounts)


def test_advise_cli_says_which_model_ran(book):
    _, path = book
    d = _cli("advise", path, "--target", "p(7d)<=99%", "--paths", "2000", "--seed", "5")
    assert {a["id"]: a["model"] for a in d["accounts"]} == DEFAULT
    out = CliRunner().invoke(app, ["advise", path, "--target", "p(7d)<=99%", "--paths", "2000", "--seed", "5"])
    assert out.exit_code == 0 and "model fhs" in out.output and "model gbm" in out.output
    d = _cli("advise", path, "--target", "distance>=1sd")                # no probability: no model ran
    assert all(a["model"] is None for a in d["accounts"])
