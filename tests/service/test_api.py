"""The REST API: the same documents as the CLI, 422s that name the field, limits, the API key,
saved portfolios and their runs on SQLite and PostgreSQL, what-if arithmetic, cascade jobs."""
from __future__ import annotations

import copy
import json
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from liqrisk.analysis import ExitSettings, ProbabilitySettings, analyze
from liqrisk.service import create_app
from liqrisk.service.limits import Limits

from .conftest import DEMO


@pytest.fixture(scope="module")
def sqlite_client(tmp_path_factory):
    with TestClient(create_app(str(tmp_path_factory.mktemp("db") / "api.db"))) as c:
        yield c


def test_analyze_is_the_cli_json_document(sqlite_client, demo_doc):
    r = sqlite_client.post("/v1/analyze", params={"horizon": ["1d", "4h"], "paths": 500, "seed": 3}, json=demo_doc)
    assert r.status_code == 200, r.text
    expected = analyze(DEMO, ProbabilitySettings(["1d", "4h"], 500, 3, range_paths=None), ExitSettings()).to_dict()
    assert expected["accounts"][0]["risk"]["model_range"]        # the CLI's default: a model range
    assert r.json() == json.loads(json.dumps(expected))


def test_analyze_curves_and_input_not_mutated(sqlite_client, demo_doc):
    before = copy.deepcopy(demo_doc)
    r = sqlite_client.post("/v1/analyze", params={"curves": True}, json=demo_doc)
    assert r.status_code == 200
    curve = r.json()["curves"]["okx-cross"]["BTC"]
    assert len(curve["price"]) == len(next(iter(curve["pools"].values()))["equity"])
    assert demo_doc == before


@pytest.mark.parametrize("edit, expected", [
    (lambda d: d["accounts"][0]["positions"][0].update(size="x"),
     "account 'binance-main', position 1 (BTCUSDT), field 'size'"),
    (lambda d: d["accounts"][1].update(venue="nowhere"), "account 'binance-hedge', field 'venue': unknown venue"),
    (lambda d: d.pop("as_of"), "field 'as_of': missing"),
    (lambda d: d["market"]["BTC"].update(mark=-1), "market 'BTC', field 'mark'"),
])
def test_bad_portfolio_is_422_naming_the_field(sqlite_client, demo_doc, edit, expected):
    doc = copy.deepcopy(demo_doc)
    edit(doc)
    r = sqlite_client.post("/v1/analyze", json=doc)
    assert r.status_code == 422
    assert any(expected in d["msg"] for d in r.json()["detail"]), r.json()


@pytest.mark.parametrize("kwargs, status, where", [
    (dict(content=b"{not json", headers={"content-type": "application/json"}), 422, "body"),
    (dict(json=[1, 2]), 422, "body"),
    (dict(json={"as_of": "2026-01-01T00:00:00Z", "market": {}, "accounts": []}), 422, "accounts"),
])
def test_malformed_bodies_are_422(sqlite_client, kwargs, status, where):
    r = sqlite_client.post("/v1/analyze", **kwargs)
    assert r.status_code == status
    assert where in json.dumps(r.json()["detail"])


def test_limits(tmp_path, demo_doc):
    limits = Limits(body_bytes=20_000, accounts=5, path_steps=1e6)
    with TestClient(create_app(str(tmp_path / "l.db"), limits=limits)) as c:
        r = c.post("/v1/analyze", content=b"x" * 30_000, headers={"content-type": "application/json"})
        assert r.status_code == 413 and "20,000 bytes" in r.json()["detail"]
        r = c.post("/v1/analyze", json=demo_doc)             # 8 accounts
        assert r.status_code == 422 and "at most 5" in r.json()["detail"][0]["msg"]
        small = {**demo_doc, "accounts": demo_doc["accounts"][:2]}
        r = c.post("/v1/analyze", params={"horizon": "7d", "paths": 100_000}, json=small)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "paths"]
        assert "run-time budget" in r.json()["detail"][0]["msg"]
        r = c.post("/v1/analyze", params={"paths": 10}, json=small)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "paths"]
        # the model range's paths count: (100 + 3 other models × 10,000) × 24 steps × 2 accounts > 1e6
        r = c.post("/v1/analyze", params={"horizon": "1d", "paths": 100, "range_paths": 10_000}, json=small)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "paths"], r.text
        assert "(100 + 30,000 model-range) paths × 24 steps × 2 accounts = 1.44e+06" in r.json()["detail"][0]["msg"]
        r = c.post("/v1/analyze", params={"horizon": "1d", "paths": 100, "range_paths": 300_000}, json=small)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "range_paths"], r.text
        r = c.post("/v1/analyze", params={"horizon": "1d", "paths": 100, "range_paths": 0}, json=small)
        assert r.status_code == 200 and "model_range" not in r.json()["accounts"][0]["risk"], r.text
        chain = copy.deepcopy(small)
        chain["market"]["BTC"]["chain_csv"] = "/etc/passwd"
        r = c.post("/v1/analyze", json=chain)
        assert r.status_code == 422 and "reads no files" in r.json()["detail"][0]["msg"]


def test_api_key_on_every_route_but_healthz(tmp_path):
    with TestClient(create_app(str(tmp_path / "k.db"), api_key="s3cret")) as c:
        assert c.get("/healthz").status_code == 200
        for path in ("/", "/v1/portfolios", "/openapi.json", "/static/plotly.min.js"):
            assert c.get(path).status_code == 401, path
        assert c.post("/v1/analyze", json={}).status_code == 401
        assert c.get("/v1/portfolios", headers={"X-API-Key": "wrong"}).status_code == 401
        assert c.get("/v1/portfolios", headers={"X-API-Key": "s3cret"}).status_code == 200
        assert c.get("/v1/portfolios", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.get("/?api_key=s3cret").status_code == 200          # sets the cookie the page uses
        assert c.get("/v1/portfolios").status_code == 200


def test_serve_refuses_non_loopback_without_key():
    from typer.testing import CliRunner
    from liqrisk.cli import app
    r = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"], env={"LIQRISK_API_KEY": ""})
    assert r.exit_code == 2 and "api-key" in r.output


def test_saved_portfolios_and_runs(client, demo_doc):
    assert client.get("/healthz").json()["status"] == "ok"
    r = client.post("/v1/portfolios", json={"name": "demo", "document": demo_doc})
    assert r.status_code == 201
    pid = r.json()["id"]
    assert [p["name"] for p in client.get("/v1/portfolios").json()] == ["demo"]
    assert client.get(f"/v1/portfolios/{pid}").json()["document"] == demo_doc
    bad = copy.deepcopy(demo_doc)
    bad["accounts"][0]["positions"][0]["size"] = 0
    assert client.post("/v1/portfolios", json={"name": "bad", "document": bad}).status_code == 422
    assert client.put(f"/v1/portfolios/{pid}", json={"document": bad}).status_code == 422
    assert client.put(f"/v1/portfolios/{pid}", json={"name": "renamed"}).json()["name"] == "renamed"

    run = client.post(f"/v1/portfolios/{pid}/runs", params={"horizon": "1d", "paths": 200})
    assert run.status_code == 200
    stored = client.get(run.headers["location"]).json()
    assert stored["result"] == run.json() and stored["inputs"] == demo_doc
    assert stored["options"]["horizon"] == ["1d"] and stored["options"]["paths"] == 200
    runs = client.get(f"/v1/portfolios/{pid}/runs").json()
    assert [r["id"] for r in runs] == [stored["id"]]
    acc = run.json()["accounts"][0]
    assert runs[0]["summary"][acc["id"]]["1d"] == acc["probability"]["1d"]["p"]

    assert client.get("/v1/portfolios/999999").status_code == 404
    assert client.delete(f"/v1/portfolios/{pid}").status_code == 204
    assert client.get(f"/v1/portfolios/{pid}").status_code == 404
    assert client.get(run.headers["location"]).json()["portfolio_id"] is None   # the run stays on record


def test_what_if_moves_equity_by_size_times_price_change(sqlite_client, demo_doc):
    """okx-cross: linear perps 0.8 BTC and 5 ETH on a USDT wallet. A −10 % BTC move changes its
    equity by 0.8 × (−9,125) USD; a 1,000 USDT top-up adds 1,000 (arithmetic, not the engine)."""
    from liqrisk.advise.whatif import what_if
    body = {"portfolio": demo_doc, "shock": {"BTC": -0.10},
            "topup": [{"account": "okx-cross", "asset": "USDT", "amount": 1000}]}
    r = sqlite_client.post("/v1/what-if", json=body)
    assert r.status_code == 200, r.text
    before = {a["id"]: a for a in r.json()["before"]["accounts"]}
    after = {a["id"]: a for a in r.json()["after"]["accounts"]}
    assert after["okx-cross"]["equity"] - before["okx-cross"]["equity"] == pytest.approx(0.8 * -9125.0 + 1000, abs=1e-6)
    assert r.json() == json.loads(json.dumps(what_if(demo_doc, shock={"BTC": -0.10},
                                                     topup=["okx-cross:USDT=1000"]).to_dict()))
    every = sqlite_client.post("/v1/what-if", json={"portfolio": demo_doc, "shock": {"*": -0.05}}).json()
    assert every == json.loads(json.dumps(what_if(demo_doc, shock={u: -0.05 for u in ("BTC", "ETH", "SOL")}).to_dict()))
    vol = sqlite_client.post("/v1/what-if", params={"horizon": "1d", "paths": 300},
                             json={"portfolio": demo_doc, "vol": {"*": 0.3}}).json()
    assert vol["after"]["accounts"][0]["probability"]["1d"]["p"] > vol["before"]["accounts"][0]["probability"]["1d"]["p"]
    r = sqlite_client.post("/v1/what-if", json={"portfolio": demo_doc, "shock": {"DOGE": 0.1}})
    assert r.status_code == 422 and "DOGE" in r.json()["detail"][0]["msg"]


def test_advise_is_the_mitigation_document(sqlite_client):
    from liqrisk.advise.advice import advise
    doc = {"as_of": "2026-11-23T00:00:00Z", "market": {"BTC": {"mark": 91250.0, "vol": 0.52}},
           "accounts": [{"id": "okx-long", "venue": "okx", "collateral": {"USDT": 3000},
                         "positions": [{"symbol": "BTC-USDT-SWAP", "kind": "perp", "size": 1.0, "entry": 91250.0}]}]}
    r = sqlite_client.post("/v1/advise", params={"target": "distance>=3sd"}, json=doc)
    assert r.status_code == 200, r.text
    assert r.json() == json.loads(json.dumps(advise(doc, "distance>=3sd", paths=2000).to_dict()))
    assert r.json()["accounts"][0]["actions"]
    r = sqlite_client.post("/v1/advise", params={"target": "sometime"}, json=doc)
    assert r.status_code == 422


def test_parse_yaml_upload(sqlite_client, demo_doc):
    r = sqlite_client.post("/v1/parse", content=DEMO.read_bytes())
    assert r.status_code == 200 and r.json() == demo_doc
    r = sqlite_client.post("/v1/parse", content=b"as_of: [unclosed")
    assert r.status_code == 422


SCENARIO = {"name": "tiny", "assets": {"BTC": {"price": 91250, "vol": 0.55}, "ETH": {"price": 3050, "vol": 0.7}},
            "shock": {"kind": "linear", "steps": 5, "moves": {"BTC": -0.10}},
            "impact": {"model": "sqrt", "resilience": 0.1}, "insurance_fund_usd": 1e7,
            "population": {"synthetic": {"n_accounts": 400, "seed": 1}},
            "sweep": {"asset": "BTC", "moves": [-0.05, -0.10], "impact_scales": [1.0, 2.0], "chunk_size": 1}}


def _wait(client, jid, until=("done", "failed", "cancelled"), timeout=120):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        job = client.get(f"/v1/jobs/{jid}").json()
        if job["status"] in until:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {jid} still {job['status']}")


def test_cascade_job_runs_to_the_end_and_equals_the_cli(sqlite_client):
    from liqrisk.cascade.run import resolve_population, run_scenario
    from liqrisk.cascade.scenario import scenario_from_dict
    r = sqlite_client.post("/v1/cascade", json=SCENARIO)
    assert r.status_code == 202
    job = _wait(sqlite_client, r.json()["id"])
    assert job["status"] == "done" and job["progress"] == 1.0
    sc = scenario_from_dict(SCENARIO)
    expected = run_scenario(sc, resolve_population(sc)).to_dict()
    assert job["result"] == json.loads(json.dumps(expected))


def test_cascade_job_cancel_and_bad_scenarios(client):
    slow = copy.deepcopy(SCENARIO)
    slow["sweep"]["moves"] = [-0.01 * k for k in range(1, 40)]
    jid = client.post("/v1/cascade", json=slow).json()["id"]
    assert client.delete(f"/v1/jobs/{jid}").status_code == 200
    assert _wait(client, jid)["status"] == "cancelled"
    assert client.delete("/v1/jobs/999999").status_code == 404
    for bad, field in [({**SCENARIO, "population": {"accounts": "/etc/passwd"}}, "population"),
                       ({**SCENARIO, "shock": {"kind": "warp"}}, "shock.kind"),
                       ({**SCENARIO, "population": {"synthetic": {"n_accounts": 10 ** 9}}}, "n_accounts")]:
        r = client.post("/v1/cascade", json=bad)
        assert r.status_code == 422 and field in json.dumps(r.json()["detail"]), r.json()


def test_a_funding_file_is_refused_the_service_reads_no_files(sqlite_client, demo_doc, tmp_path):
    """A funding series given as a file (``{csv: PATH}``) made the service open a file of the
    server (found by the service fuzz target: ``/etc/passwd`` as ETH's funding was analysed, 200);
    refused like an option chain file, in portfolios and in cascade scenarios."""
    series = tmp_path / "funding.csv"
    series.write_text("timestamp,rate\n2026-11-22T00:00:00Z,0.0001\n2026-11-22T08:00:00Z,0.0001\n")
    doc = copy.deepcopy(demo_doc)
    doc["market"]["ETH"]["funding"] = {"csv": str(series)}
    r = sqlite_client.post("/v1/analyze", json=doc)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "market", "ETH", "funding", "csv"], r.text
    assert "reads no files" in r.json()["detail"][0]["msg"]
    r = sqlite_client.post("/v1/what-if", json={"portfolio": doc})
    assert r.status_code == 422 and "reads no files" in r.json()["detail"][0]["msg"]
    scenario = copy.deepcopy(SCENARIO)
    scenario["assets"]["BTC"]["funding"] = {"csv": str(series)}
    r = sqlite_client.post("/v1/cascade", json=scenario)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "assets", "BTC", "funding", "csv"], r.text


@pytest.mark.parametrize("body, message", [
    (b"\x8c\xba{}", "body: not UTF-8 text (byte 0: b'\\x8c')"),
    (b"[" * 100_000 + b"]" * 100_000, "body: nesting: above the limit depth = 20"),
    (b"[" * 21 + b"]" * 21, "body: nesting depth 21: above the limit depth = 20"),
    (b'{"as_of": "2026-01-01T00:00:00Z", "as_of": "2026-11-23T00:00:00Z"}', "body: not valid JSON: duplicated key 'as_of'"),
])
def test_a_body_that_is_no_json_document_is_422_at_the_body(sqlite_client, body, message):
    """Not UTF-8 or nested deeper than Python's decoder goes: a bare 400 "There was an error
    parsing the body" (found by the service fuzz target); a duplicated key: the last one was used
    silently. Each is a 422 naming the body, as the portfolio loader does for a file."""
    for path in ("/v1/analyze", "/v1/what-if", "/v1/cascade"):
        r = sqlite_client.post(path, content=body, headers={"content-type": "application/json"})
        assert r.status_code == 422 and r.json()["detail"] == [{"loc": ["body"], "msg": message,
                                                                "type": "value_error"}], r.text


@pytest.mark.parametrize("change, loc, message", [
    ({"add": ["binance-main:BTCUSDT:0.1", "binance-main:BTCUSDT:x"]}, ["body", "add", 1],
     "add[1] 'binance-main:BTCUSDT:x' size: 'x' is not a number"),
    ({"reduce": ["binance-main:BTCUSDT:-0.5"]}, ["body", "reduce", 0],
     "reduce[0] 'binance-main:BTCUSDT:-0.5': fraction must be in (0, 1] (0.5 or 50%)"),
    ({"reduce": ["binance-main:NOPE:0.5"]}, ["body", "reduce", 0],
     "reduce[0]: account 'binance-main' holds no position 'NOPE'"),
])
def test_a_bad_what_if_change_is_422_at_its_body_field(sqlite_client, demo_doc, change, loc, message):
    """The changes parser names the CLI flag (``--add '…' size: …``); the API names the body
    field and item (found by the service fuzz target: such 422s named no field)."""
    r = sqlite_client.post("/v1/what-if", json={"portfolio": demo_doc, **change})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == loc, r.text
    assert r.json()["detail"][0]["msg"] == message


def _worker_cpu_seconds() -> float:
    """CPU time used so far by the service's job worker thread."""
    worker = next(t for t in threading.enumerate() if t.name.startswith("liqrisk-job"))
    return time.clock_gettime(time.pthread_getcpuclockid(worker.ident))


def test_cancel_stops_a_running_single_cascade(sqlite_client):
    """A single run of 5000 steps over 20,000 accounts (about 15 s of one core; 2,000 accounts took
    1.4 s on an idle EPYC, too short for a 50 ms poll to catch it below half-way): once it is stepping,
    DELETE stops the computation itself — the job is 'cancelled' part-way, its progress stays
    where it stopped, the worker thread uses no more CPU, and the next job runs at once."""
    long = {**SCENARIO, "name": "long", "shock": {"kind": "linear", "steps": 5000, "moves": {"BTC": -0.30}},
            "population": {"synthetic": {"n_accounts": 20_000, "seed": 1}}}
    del long["sweep"]
    jid = sqlite_client.post("/v1/cascade", json=long).json()["id"]
    t0 = time.monotonic()
    while (job := sqlite_client.get(f"/v1/jobs/{jid}").json())["progress"] <= 0.05:   # stepping, progress stored
        assert job["status"] in ("queued", "running") and time.monotonic() - t0 < 120, job
        time.sleep(0.05)
    assert sqlite_client.delete(f"/v1/jobs/{jid}").status_code == 200
    job = _wait(sqlite_client, jid, timeout=30)
    assert job["status"] == "cancelled" and job["error"] == "cancelled" and job["result"] is None
    assert 0.05 < job["progress"] < 0.5
    cpu = _worker_cpu_seconds()
    time.sleep(0.5)
    assert _worker_cpu_seconds() - cpu < 0.05                  # idle: the simulation is not running on
    assert sqlite_client.get(f"/v1/jobs/{jid}").json()["progress"] == job["progress"]
    assert _wait(sqlite_client, sqlite_client.post("/v1/cascade", json=SCENARIO).json()["id"])["status"] == "done"


def test_openapi_lists_the_routes(sqlite_client):
    spec = sqlite_client.get("/openapi.json").json()
    for path in ("/v1/analyze", "/v1/what-if", "/v1/advise", "/v1/cascade", "/v1/jobs/{rid}", "/v1/portfolios",
                 "/v1/portfolios/{pid}/runs", "/healthz"):
        assert path in spec["paths"]
    assert "PortfolioFile" in spec["components"]["schemas"]


def test_a_result_failing_the_output_checks_is_422_not_a_number(sqlite_client, demo_doc, monkeypatch):
    from tests.builders import break_first_account
    break_first_account(monkeypatch)
    r = sqlite_client.post("/v1/analyze", json=demo_doc)
    assert r.status_code == 422, r.text
    assert "field 'maintenance_margin'" in r.json()["detail"][0]["msg"]


@pytest.mark.parametrize("name, value", [
    ("stress", "0.05"), ("stress", "500"), ("stress", "1000"), ("stress", "0"), ("stress", "1000.5"),
    ("stress", "nan"), ("stress", "0.001"), ("stress", "1e-300"), ("participation", "1e-7"), ("participation", "1e-6"), ("participation", "1"),
    ("participation", "1.5"), ("model", "student_t"), ("model", "garch_fhs"), ("model", "bogus"),
    ("model", "GBM"), ("drift", "7"), ("drift", "-10"), ("drift", "10.5"), ("drift", "inf"),
    ("exit_horizon_hours", "1000"), ("exit_horizon_hours", "8784"), ("exit_horizon_hours", "0"),
    ("exit_horizon_hours", "9000"), ("fhs_tails", "gpd"), ("fhs_tails", "empirical"), ("fhs_tails", "GPD"),
    ("fhs_tails", "normal"),
])
def test_query_options_follow_the_cli_rules(sqlite_client, demo_doc, name, value):
    """The service's model, stress, participation, drift and exit_horizon_hours are the CLI's
    --model, --stress, --participation, --drift and --exit-horizon-hours: the same values pass,
    and a refusal is a 422 at ``["query", name]`` whose message is the CLI's line without the
    leading dashes. The service had its own copies: model names as a pydantic Literal, stress in
    [0.1, 100] where the CLI takes (0, 1000], drift in [-5, 5] (CLI [-10, 10]), exit horizon in
    (0, 720] h (CLI (0, 8784])."""
    from liqrisk.analysis import check_model
    from liqrisk.cli.limits import fhs_tails_problems
    from liqrisk.io import limits
    from liqrisk.io.portfolio import InputError
    if name == "fhs_tails":
        cli = fhs_tails_problems(value)[0].replace("--fhs-tails", name) if fhs_tails_problems(value) else None
    elif name == "model":
        try:
            check_model(value)
            cli = None
        except InputError as e:
            cli = e.problems[0].removeprefix("--")
    else:
        problem = getattr(limits, f"{name.removesuffix('_hours')}_problem")(float(value))
        cli = problem and f"{name} {float(value):g}: {problem}"
    small = {**demo_doc, "accounts": demo_doc["accounts"][:1]}
    r = sqlite_client.post("/v1/analyze", params={name: value}, json=small)
    if cli is None:
        assert r.status_code == 200, r.text
    else:
        assert r.status_code == 422 and r.json()["detail"] == [
            {"loc": ["query", name], "msg": cli, "type": "value_error"}], r.text
    if name in ("model", "fhs_tails"):
        r = sqlite_client.post("/v1/advise", params={"target": "distance>=1sd", name: value}, json=small)
        assert (r.status_code == 200) if cli is None else (
            r.status_code == 422 and r.json()["detail"][0] == {"loc": ["query", name], "msg": cli,
                                                               "type": "value_error"}), r.text


MODEL_NOPE = {"loc": ["query", "model"], "msg": "model 'nope': expected auto or one of gbm, merton, student, fhs",
              "type": "value_error"}
TAILS_T = {"loc": ["query", "fhs_tails"], "msg": "fhs_tails t: one of gpd, empirical", "type": "value_error"}
DRIFT_1E9 = {"loc": ["query", "drift"], "msg": "drift 1e+09: must be a finite annual return in [-10, 10]",
             "type": "value_error"}


@pytest.mark.parametrize("path, params, body, expected", [
    ("/v1/analyze", {"paths": 5, "model": "nope", "drift": "1e9"}, "small",
     [("query", "paths"), MODEL_NOPE, DRIFT_1E9]),
    ("/v1/what-if", {"model": "nope"}, {"add": "x"}, [("body", "add"), MODEL_NOPE]),
    ("/v1/what-if", {"model": "nope", "fhs_tails": "t"}, {"add": "x"}, [("body", "add"), MODEL_NOPE, TAILS_T]),
    ("/v1/advise", {"paths": "abc", "model": "nope", "drift": "1e9"}, "small",
     [("query", "target"), ("query", "paths"), MODEL_NOPE]),       # advise takes no drift: not reported
])
def test_a_refused_query_option_reports_the_shared_rule_errors_of_the_others(sqlite_client, demo_doc, path,
                                                                              params, body, expected):
    """Issue 9 (stop 20): when pydantic refused one part of a request (paths=5, a body field),
    the CLI's rules of the other query options were not reached, so a second request showed the
    next problem; now every problem is in the one 422 (each once)."""
    small = {**demo_doc, "accounts": demo_doc["accounts"][:1]}
    r = sqlite_client.post(path, params=params, json=small if body == "small" else {"portfolio": small, **body})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert [tuple(d["loc"]) if isinstance(e, tuple) else d for d, e in zip(detail, expected)] == expected, detail
    assert len(detail) == len(expected), detail


def test_openapi_states_the_shared_option_rules(sqlite_client):
    """The schema documents the rules the service applies (schemathesis generates from it)."""
    from liqrisk.analysis import MODEL_ALIASES, MODELS
    from liqrisk.io.limits import DRIFT_MAX, EXIT_HORIZON_MAX_HOURS, PARTICIPATION_MIN, STRESS_MAX, STRESS_MIN
    spec = sqlite_client.get("/openapi.json").json()
    params = {p["name"]: p["schema"] for p in spec["paths"]["/v1/analyze"]["post"]["parameters"]}
    assert params["stress"]["minimum"] == STRESS_MIN and params["stress"]["maximum"] == STRESS_MAX
    assert params["participation"]["minimum"] == PARTICIPATION_MIN and params["participation"]["maximum"] == 1
    assert (params["drift"]["minimum"], params["drift"]["maximum"]) == (-DRIFT_MAX, DRIFT_MAX)
    assert params["exit_horizon_hours"]["maximum"] == EXIT_HORIZON_MAX_HOURS
    assert set(params["model"]["enum"]) == {"auto", *MODELS, *MODEL_ALIASES}
    from liqrisk.dynamics.fhs import DEFAULT_TAILS, TAILS
    assert params["fhs_tails"]["enum"] == list(TAILS) and params["fhs_tails"]["default"] == DEFAULT_TAILS
    advise = {p["name"]: p["schema"] for p in spec["paths"]["/v1/advise"]["post"]["parameters"]}
    assert advise["model"] == params["model"] and advise["fhs_tails"] == params["fhs_tails"]
    what_if = {p["name"]: p["schema"] for p in spec["paths"]["/v1/what-if"]["post"]["parameters"]}
    assert what_if["fhs_tails"] == params["fhs_tails"]


@pytest.mark.parametrize("tails", ["gpd", "empirical"])
def test_fhs_tails_reaches_the_engine_on_every_route(sqlite_client, tails):
    """/v1/analyze, /v1/what-if, /v1/advise and a saved portfolio's run give `analyze`'s P(4h)
    under the ``fhs_tails`` asked for (GPD 1.7e-4, plain FHS 2e-13: the choice is not dropped)."""
    from tests.builders import ETH_SHORT, TAILS_HORIZON as H, tails_p
    want = tails_p(tails)
    assert want != tails_p({"gpd": "empirical", "empirical": "gpd"}[tails])
    q = {"horizon": H, "paths": 2000, "range_paths": 0, "fhs_tails": tails}
    a = sqlite_client.post("/v1/analyze", params=q, json=ETH_SHORT).json()["accounts"][0]
    assert a["probability"][H]["p"] == want and a["risk"]["model_info"]["tails"] == tails
    w = sqlite_client.post("/v1/what-if", params=q, json={"portfolio": ETH_SHORT}).json()
    assert w["accounts"][0]["before"]["probability"][H] == want
    adv = sqlite_client.post("/v1/advise", params={"target": f"p({H})<=50%", "paths": 2000, "fhs_tails": tails},
                             json=ETH_SHORT).json()
    assert adv["accounts"][0]["metric"] == want
    pid = sqlite_client.post("/v1/portfolios", json={"name": "tails", "document": ETH_SHORT}).json()["id"]
    run = sqlite_client.post(f"/v1/portfolios/{pid}/runs", params=q)
    assert run.json()["accounts"][0]["probability"][H]["p"] == want
    assert sqlite_client.get(run.headers["location"]).json()["options"]["fhs_tails"] == tails


@pytest.mark.parametrize("path", ["/v1/analyze", "/v1/what-if", "/v1/cascade"])
def test_a_json_body_is_decoded_once(sqlite_client, demo_doc, monkeypatch, path):
    """The Guard's decode (UTF-8, duplicated keys, depth) is the one the route reads: the body
    text goes through ``json.loads`` once (it was decoded again by FastAPI)."""
    body = {"/v1/analyze": demo_doc, "/v1/what-if": {"portfolio": demo_doc, "shock": {"BTC": -0.1}},
            "/v1/cascade": {"nope": 1}}[path]
    text = json.dumps(body)
    seen, loads = [], json.loads

    def counting(s, *args, **kwargs):
        if s in (text, text.encode()):
            seen.append(1)
        return loads(s, *args, **kwargs)
    monkeypatch.setattr(json, "loads", counting)
    r = sqlite_client.post(path, content=text, headers={"content-type": "application/json"})
    monkeypatch.setattr(json, "loads", loads)
    assert r.status_code == {"/v1/cascade": 422}.get(path, 200), r.text[:300]
    assert len(seen) == 1, f"{len(seen)} decodes"


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/vnd.liqrisk+json"])
def test_every_json_content_type_gets_the_body_checks(sqlite_client, content_type):
    """FastAPI decodes ``application/*+json`` bodies too: they get the Guard's checks (a
    duplicated key was used silently under such a content type)."""
    body = b'{"as_of": "2026-01-01T00:00:00Z", "as_of": "2026-11-23T00:00:00Z"}'
    r = sqlite_client.post("/v1/analyze", content=body, headers={"content-type": content_type})
    assert r.status_code == 422 and r.json()["detail"] == [
        {"loc": ["body"], "msg": "body: not valid JSON: duplicated key 'as_of'", "type": "value_error"}], r.text


def _cli_json(args: list[str]) -> dict:
    from typer.testing import CliRunner
    from liqrisk.cli import app
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)


@pytest.mark.parametrize("route", ["analyze", "what-if", "advise", "cascade", "cascade sweep"])
def test_every_route_answers_the_cli_json_document_of_the_demo(client, demo_doc, route, tmp_path):
    """The issue's rule, checked against the command line itself (its ``--json`` output, not the
    library call behind it): the demo portfolio through /v1/analyze, /v1/what-if and
    /v1/advise, and a cascade scenario (a single run and a sweep) through a job, give the
    documents `liqrisk analyze|what-if|advise|cascade FILE --json` prints for the same options.
    A single cascade run's job left out the ``liquidated_accounts`` ids the CLI prints, and
    /v1/what-if had no ``funding`` (the CLI's ``--funding``, settled with ``--time``). On SQLite
    and PostgreSQL (a job's result is read back from the database)."""
    demo = str(DEMO)
    if route == "analyze":
        params = {"horizon": ["1d", "4h"], "paths": 500, "seed": 3, "model": "gbm"}
        api = client.post("/v1/analyze", params=params, json=demo_doc)
        cli = _cli_json(["analyze", demo, "--json", "--horizon", "1d", "--horizon", "4h", "--paths", "500",
                         "--seed", "3", "--model", "gbm"])
    elif route == "what-if":
        api = client.post("/v1/what-if", params={"horizon": "1d", "paths": 400, "model": "gbm"}, json={
            "portfolio": demo_doc, "shock": {"BTC": -0.1}, "vol": {"ETH": 0.2}, "time": "2d", "funding": {"BTC": 3e-4},
            "topup": [{"account": "okx-cross", "asset": "USDT", "amount": 1000}],
            "reduce": ["binance-main:SOLUSDT:0.5"]})
        cli = _cli_json(["what-if", demo, "--json", "--shock", "BTC=-10%", "--vol", "ETH=+0.2", "--time", "2d",
                         "--funding", "BTC=0.0003", "--topup", "okx-cross:USDT=1000", "--reduce", "binance-main:SOLUSDT:0.5", "--horizon", "1d",
                         "--paths", "400", "--model", "gbm"])
    elif route == "advise":
        api = client.post("/v1/advise", params={"target": "distance>=3sd", "paths": 2000}, json=demo_doc)
        cli = _cli_json(["advise", demo, "--json", "--target", "distance>=3sd", "--paths", "2000"])
    else:
        scenario = copy.deepcopy(SCENARIO)
        if route == "cascade":
            del scenario["sweep"]
        path = tmp_path / "scenario.yaml"
        path.write_text(json.dumps(scenario))
        r = client.post("/v1/cascade", json=scenario)
        assert r.status_code == 202, r.text
        job = _wait(client, r.json()["id"])
        assert job["status"] == "done", job
        api = job["result"]
        cli = _cli_json(["cascade", str(path), "--json"])
        assert ("rows" in cli) == (route == "cascade sweep")
        if route == "cascade":
            assert len(cli["liquidated_accounts"]) == cli["n_liquidated_accounts"] > 0
    if route in ("analyze", "what-if", "advise"):
        assert api.status_code == 200, api.text
        api = api.json()
    assert api == cli


def test_serve_off_loopback_runs_an_app_that_wants_the_key_on_every_route(monkeypatch, tmp_path):
    """``liqrisk serve --host 0.0.0.0 --api-key KEY`` (or the key in LIQRISK_API_KEY) hands uvicorn
    an app that answers 401 on every route it has — each API route with its own method, the
    dashboard, the static files, the schema — and 200 on /healthz; with the key the same routes
    are served (uvicorn itself is not started: its ``run`` is replaced by a recorder)."""
    import uvicorn
    from fastapi.routing import APIRoute
    from starlette.routing import Mount
    from typer.testing import CliRunner
    from liqrisk.cli import app as cli
    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    for args, env in ((["--api-key", "k3y"], {}), ([], {"LIQRISK_API_KEY": "k3y"})):
        seen.clear()
        r = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--port", "8123", "--database-url",
                                     str(tmp_path / "k.db"), *args], env=env)
        assert r.exit_code == 0, r.output
        assert (seen["host"], seen["port"]) == ("0.0.0.0", 8123)
        with TestClient(seen["app"]) as c:
            calls = []
            for route in seen["app"].routes:
                if isinstance(route, Mount):
                    calls.append(("GET", route.path + "/dashboard.js"))
                    continue
                path = route.path.replace("{pid}", "1").replace("{rid}", "1")
                calls += [(m, path) for m in sorted(getattr(route, "methods", None) or {"GET"}) if m != "HEAD"]
            assert len([1 for r in seen["app"].routes if isinstance(r, APIRoute)]) >= 19
            for method, path in calls:
                status = c.request(method, path, json={}).status_code
                assert status == (200 if path == "/healthz" else 401), (method, path, status)
            keyed = {"X-API-Key": "k3y"}
            for path in ("/", "/static/dashboard.js", "/static/plotly.min.js", "/openapi.json", "/v1/portfolios",
                         "/v1/demo"):
                assert c.get(path, headers=keyed).status_code == 200, path
            assert c.get("/v1/portfolios", headers={"X-API-Key": "k3y-not"}).status_code == 401


BOMB = "".join(f"{k}: &{k} [{', '.join([f'*{p}' if p else '1'] * 9)}]\n"
               for p, k in zip(["", *"abcdefg"], "abcdefgh"))        # 9**8 = 43 million leaves from 300 bytes


@pytest.mark.parametrize("body, message", [
    (BOMB.encode(), "file: YAML aliases expand the document (an alias bomb?): above the limit alias_nodes = 100000"),
    (b"[" * 5000 + b"]" * 5000, "file: not valid YAML: exceeded maximum nesting depth (line 1, column 1001)"),
    (b"a:\n" + b"".join(b"  " * i + b"- \n" for i in range(1, 30)), "file: line 21: nesting depth 21: above the "
                                                                     "limit depth = 20"),
    (b"\x8c\xba", "file: not UTF-8 text (byte 0: b'\\x8c')"),
    (b"as_of: 1\nas_of: 2\n", "file: not valid YAML: duplicated key 'as_of' (first on line 1) (line 2, column 1)"),
])
def test_an_uploaded_text_is_read_as_the_cli_reads_a_file(tmp_path, body, message):
    """/v1/parse (the dashboard's upload and paste) decoded the text with ``yaml.safe_load``: a
    5,000-deep list was a RecursionError, a 500; a 300-byte alias bomb was expanded (9**8 nodes:
    the server's memory and minutes of CPU); a duplicated key kept its last value silently. Now
    the portfolio loader's rules for a file: each is one 422 line at the body, at once."""
    assert len(BOMB) < 400 and BOMB.count("*") == 63
    with TestClient(create_app(str(tmp_path / "p.db")), raise_server_exceptions=False) as c:
        t0 = time.monotonic()
        r = c.post("/v1/parse", content=body)
        assert time.monotonic() - t0 < 10
    assert r.status_code == 422 and r.json()["detail"] == [{"loc": ["body"], "msg": message,
                                                            "type": "value_error"}], r.text


@pytest.mark.parametrize("path, params, loc, message", [
    ("/v1/analyze", {"horizon": ["1d", "1e308d"]}, ["query", "horizon"],
     "horizon '1e308d': expected a positive number and a unit (m, h, d, w, y), e.g. 1d"),
    ("/v1/analyze", {"horizon": "-1d"}, ["query", "horizon"],
     "horizon '-1d': expected a positive number and a unit (m, h, d, w, y), e.g. 1d"),
    ("/v1/what-if", {"horizon": "0d"}, ["query", "horizon"],
     "horizon '0d': expected a positive number and a unit (m, h, d, w, y), e.g. 1d"),
    ("/v1/advise", {"target": "p(1d)<=200%"}, ["query", "target"],
     "target 'p(1d)<=200%': the probability must be in (0, 1), e.g. p(7d)<=1%"),
    ("/v1/advise", {"target": "p(2x)<=1%"}, ["query", "target"],
     "horizon '2x': expected a positive number and a unit (m, h, d, w, y), e.g. 1d"),
])
def test_a_bad_horizon_or_target_is_422_at_its_query_field(sqlite_client, demo_doc, path, params, loc, message):
    """A refused horizon or advice target was a 422 at ``["body"]`` (the portfolio), the target's
    line naming the CLI flag ``--target``; now at the query parameter, in the CLI's words."""
    small = {**demo_doc, "accounts": demo_doc["accounts"][:1]}
    r = sqlite_client.post(path, params=params, json={"portfolio": small} if path == "/v1/what-if" else small)
    assert r.status_code == 422 and r.json()["detail"] == [{"loc": loc, "msg": message, "type": "value_error"}], r.text
