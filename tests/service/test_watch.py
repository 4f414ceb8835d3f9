"""`liqrisk watch`: evaluates only on change, stores each evaluation, fires each rule once per
crossing to a webhook receiver on loopback, and does not fire again after a restart."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import yaml
from typer.testing import CliRunner

from liqrisk.io.portfolio import InputError
from liqrisk.service.store import Store
from liqrisk.service.watch import Watcher, parse_duration, parse_rule


def _portfolio(path, collateral: float, mark: float = 91250.0):
    path.write_text(yaml.safe_dump({
        "as_of": "2026-11-23T00:00:00Z", "market": {"BTC": {"mark": mark, "vol": 0.52}},
        "accounts": [{"id": "okx-long", "venue": "okx", "collateral": {"USDT": collateral},
                      "positions": [{"symbol": "BTC-USDT-SWAP", "kind": "perp", "size": 1.0, "entry": 91250.0}]}]}))


@pytest.fixture
def receiver():
    got = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    srv = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/hook", got
    srv.shutdown()


def test_rules_and_durations():
    r = parse_rule("p(1d)>=1%")
    assert (r.horizon, r.op, r.threshold) == ("1d", ">=", 0.01)
    assert parse_rule(" margin_ratio > 0.8 ").horizon is None
    assert parse_duration("60s") == 60 and parse_duration("5m") == 300 and parse_duration("250ms") == 0.25
    for bad in ("p(1x)>=1%", "p1d>=1", "margin_ratio=>1"):
        with pytest.raises(InputError):
            parse_rule(bad)
    with pytest.raises(InputError):
        parse_duration("soon")


def test_alert_once_per_crossing(database_url, tmp_path, receiver):
    url, got = receiver
    file = tmp_path / "book.yaml"
    store = Store(database_url)
    store.migrate()
    rules = [parse_rule("p(1d)>=1%")]
    w = Watcher(store, str(file), rules, paths=400, webhook=url)

    _portfolio(file, 50_000)                      # far from liquidation
    first = w.check()
    assert first["alerts"] == [] and first["result"]["accounts"][0]["probability"]["1d"]["p"] < 0.01
    assert w.check() is None                      # unchanged: not re-evaluated
    _portfolio(file, 1_500)                       # about 2 % from liquidation: crosses
    crossed = w.check()
    assert [a["account"] for a in crossed["alerts"]] == ["okx-long"] and len(got) == 1
    assert got[0]["alert"] == "p(1d)>=1%" and got[0]["value"] >= 0.01 and crossed["alerts"][0]["delivered"] == "200"
    _portfolio(file, 1_400)                       # still above: no second alert
    assert w.check()["alerts"] == [] and len(got) == 1
    _portfolio(file, 50_000)                      # back below: re-armed
    assert w.check()["alerts"] == []
    _portfolio(file, 1_500)
    assert len(w.check()["alerts"]) == 1 and len(got) == 2

    restarted = Watcher(store, str(file), rules, paths=400, webhook=url)
    assert restarted.check()["alerts"] == [] and len(got) == 2      # state survives the restart
    runs = [r for r in store.runs(source=str(file.resolve())) if r.kind == "watch"]
    assert len(runs) == 6 and len(store.alerts(source=str(file.resolve()))) == 2
    assert all(a.delivered == "200" for a in store.alerts())
    store.close()


def test_market_snapshot_change_triggers_evaluation(tmp_path):
    file, market = tmp_path / "book.yaml", tmp_path / "market.yaml"
    _portfolio(file, 3_000)
    market.write_text(yaml.safe_dump({"BTC": {"mark": 91250.0, "vol": 0.52}}))
    store = Store(str(tmp_path / "w.db"))
    store.migrate()
    w = Watcher(store, str(file), [parse_rule("margin_ratio>=50%")], market=str(market))
    assert w.check()["alerts"] == []
    market.write_text(yaml.safe_dump({"BTC": {"mark": 89000.0, "vol": 0.52}}))   # equity 3000 − 2250 = 750
    out = w.check()
    assert out["result"]["accounts"][0]["equity"] == pytest.approx(750.0)
    assert [a["account"] for a in out["alerts"]] == ["okx-long"]
    store.close()


def test_watch_cli_saved_portfolio(tmp_path, receiver):
    url, got = receiver
    db = str(tmp_path / "cli.db")
    file = tmp_path / "book.yaml"
    _portfolio(file, 1_500)
    store = Store(db)
    store.migrate()
    from liqrisk.service.app import json_document
    pid = store.add_portfolio("risky", json_document(yaml.safe_load(file.read_text()))).id
    store.close()
    from liqrisk.cli import app
    r = CliRunner().invoke(app, ["watch", str(pid), "--every", "10ms", "--alert", "p(1d)>=1%", "--paths", "300",
                                 "--webhook", url, "--database-url", db, "--max-checks", "3"])
    assert r.exit_code == 0, r.output
    assert r.output.count("evaluated") == 1 and "ALERT p(1d)>=1% account okx-long" in r.output and len(got) == 1
    r = CliRunner().invoke(app, ["watch", str(file), "--alert", "p(1d)>>1", "--database-url", db])
    assert r.exit_code == 2 and "expected p(HORIZON)" in r.output
