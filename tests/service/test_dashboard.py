"""The dashboard in a real browser (Debian chromium through Playwright): upload the demo
portfolio, the numbers shown are the API's, a what-if control changes them to the what-if
API's, a small cascade runs to the end, a saved portfolio's history is drawn. One screenshot
per view goes to $LIQRISK_ARTIFACTS (default: the test's tmp folder). The browser is the
session's one (tests/conftest.py): Playwright allows one sync instance per thread."""
from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml

from liqrisk.analysis import parse_horizon
from liqrisk.service.app import json_document
from liqrisk.service.loopback import free_port

from .conftest import DEMO

PARAMS = {"horizon": ["1d"], "paths": 300, "model": "gbm", "seed": 7, "curves": "true"}


def _serve(database: Path, api_key: str | None = None):
    """The app on a free loopback port in a thread: (url, stop)."""
    import uvicorn
    from liqrisk.service import create_app
    port = free_port()
    app = create_app(str(database), api_key=api_key)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(url + "/healthz").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)

    def stop():
        srv.should_exit = True
        thread.join(10)
    return url, stop


def _set_options(page, params=PARAMS, horizons="1d"):
    """The page's run options: paths, model, fhs tails (when ``params`` has them) and horizons."""
    page.fill("#paths", str(params["paths"]))
    page.select_option("#model", params["model"])
    if "fhs_tails" in params:
        page.select_option("#fhs-tails", params["fhs_tails"])
    page.fill("#horizons", horizons)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    url, stop = _serve(tmp_path_factory.mktemp("dash") / "dash.db")
    yield url
    stop()


@pytest.fixture
def artifacts(tmp_path):
    folder = Path(os.environ.get("LIQRISK_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _table(page) -> dict:
    """account id → {key: raw number shown}."""
    out = {}
    for row in page.query_selector_all("#accounts tbody tr"):
        out[row.get_attribute("data-account")] = {
            td.get_attribute("data-key"): td.get_attribute("data-value") for td in row.query_selector_all("td[data-key]")}
    return out


def _wait_analysis(page, before: str | None):
    page.wait_for_function("(b) => document.getElementById('status').dataset.done && "
                           "document.getElementById('status').dataset.done !== b", arg=before or "", timeout=120_000)


def _shown_equals(shown: dict, api: dict):
    for a in api["accounts"]:
        row = shown[a["id"]]
        assert float(row["equity"]) == a["equity"]
        assert float(row["maintenance_margin"]) == a["maintenance_margin"]
        assert float(row["p"]) == a["probability"]["1d"]["p"]


def test_dashboard_end_to_end(server, browser, demo_doc, artifacts):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server + "/")
    _set_options(page)
    page.set_input_files("#upload", str(DEMO))
    _wait_analysis(page, None)
    api = httpx.post(server + "/v1/analyze", params=PARAMS, json=demo_doc, timeout=120).json()
    shown = _table(page)
    assert set(shown) == {a["id"] for a in api["accounts"]}
    _shown_equals(shown, api)
    lights = page.eval_on_selector_all("[data-testid=light]", "els => els.map(e => e.dataset.light)")
    assert set(lights) <= {"green", "amber", "red"} and len(lights) == len(api["accounts"])
    page.locator("#view-accounts").screenshot(path=str(artifacts / "accounts.png"))
    page.click("tr[data-account='bybit-uta']")
    assert "bybit-uta" in page.inner_text("#account-title")
    page.wait_for_selector("#plot-ladder .main-svg")
    page.locator("#view-account").screenshot(path=str(artifacts / "account.png"))

    # what-if: −10 % on every underlying
    before = page.get_attribute("#status", "data-done")
    page.eval_on_selector("#shock-price", "el => { el.value = -10; el.dispatchEvent(new Event('input')); }")
    _wait_analysis(page, before)
    shocked = httpx.post(server + "/v1/what-if", params={**PARAMS, "curves": "false"}, timeout=120,
                         json={"portfolio": demo_doc, "shock": {"*": -0.1}}).json()["after"]
    after = _table(page)
    _shown_equals(after, shocked)
    assert after["okx-cross"]["equity"] != shown["okx-cross"]["equity"]
    assert page.is_visible("#whatif-badge")
    page.locator("#view-whatif").screenshot(path=str(artifacts / "whatif.png"))

    # a small cascade sweep to the end
    page.click("#cascade-run")
    page.wait_for_function("document.getElementById('cascade-status').dataset.final", timeout=120_000)
    assert page.get_attribute("#cascade-status", "data-final") == "done"
    assert page.eval_on_selector("#cascade-progress", "el => el.value") == 1
    jobs = httpx.get(server + "/v1/jobs/" + page.evaluate("String(state.job)")).json()
    total = sum(row[jobs["result"]["fields"].index("liquidated_usd")] for row in jobs["result"]["rows"])
    shown_total = float(page.get_attribute("#cascade-summary [data-key=liquidated_usd]", "data-value"))
    assert shown_total == pytest.approx(total, rel=1e-12)
    page.locator("#view-cascade").screenshot(path=str(artifacts / "cascade.png"))

    # save, record two runs, history chart
    page.fill("#save-name", "demo")
    page.click("#save")
    page.wait_for_function("document.getElementById('history-status').textContent.includes('runs recorded')")
    for n in (1, 2):
        page.click("#run-save")
        page.wait_for_function(f"document.getElementById('history-status').textContent.startsWith('{n} runs')",
                               timeout=120_000)
    pid = page.evaluate("state.savedId")
    assert len(httpx.get(f"{server}/v1/portfolios/{pid}/runs").json()) == 2
    page.wait_for_selector("#plot-history .main-svg")
    page.locator("#view-history").screenshot(path=str(artifacts / "history.png"))
    page.screenshot(path=str(artifacts / "dashboard_full.png"), full_page=True)
    assert not errors, errors
    for name in ("accounts", "account", "whatif", "cascade", "history"):
        assert (artifacts / f"{name}.png").stat().st_size > 1000


def test_demo_button_shows_the_demo_portfolio(server, browser, demo_doc):
    """A fresh checkout has the demo data one click away: the button loads examples/multi_venue.yaml."""
    assert httpx.get(server + "/v1/demo").json() == demo_doc
    page = browser.new_page()
    page.goto(server + "/")
    _set_options(page)
    page.click("#demo")
    _wait_analysis(page, None)
    assert set(_table(page)) == {a["id"] for a in demo_doc["accounts"]}


def test_tiny_probabilities_are_shown_as_a_bound_never_in_exponent_form(server, browser, tmp_path):
    """P(1d) of 7.6e-32 (importance sampling) is shown "< 0.01 %", as the terminal report shows a
    bound below its floor; the cell keeps the API's number; shares are 3 significant digits in %
    without an exponent, large or small."""
    doc = {"as_of": "2026-11-23T00:00:00Z", "market": {"BTC": {"mark": 91250.0, "vol": 0.52}},
           "accounts": [{"id": acc, "venue": "binance-usdm", "collateral": {"USDT": usdt},
                         "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": 91000}]}
                        for acc, usdt in (("safe", 25_000), ("edge", 9_000))]}
    path = tmp_path / "two.json"
    path.write_text(json.dumps(doc))
    api = {a["id"]: a for a in httpx.post(server + "/v1/analyze", params=PARAMS, json=doc, timeout=120).json()["accounts"]}
    assert 0 < api["safe"]["probability"]["1d"]["p"] < 1e-20 and 1e-4 < api["edge"]["probability"]["1d"]["p"] < 1e-2
    page = browser.new_page()
    page.goto(server + "/")
    _set_options(page)
    page.set_input_files("#upload", str(path))
    _wait_analysis(page, None)
    _shown_equals(_table(page), {"accounts": list(api.values())})
    text = {acc: page.inner_text(f"tr[data-account='{acc}'] td[data-key=p]") for acc in api}
    assert text["safe"] == "< 0.01 %"
    assert text["edge"] == f"{100 * api['edge']['probability']['1d']['p']:.3g} %"
    assert not re.search(r"\d[eE][+-]?\d", page.inner_text("#accounts"))
    shown = page.evaluate("[6.57e-40, 0, 1e-4, 0.0123, 0.99, 123.45, null].map(pct)")
    assert shown == ["< 0.01 %", "0 %", "0.01 %", "1.23 %", "99 %", "12,300 %", "—"]


def test_an_account_past_its_trigger_says_what_it_costs_now_and_each_account_which_model_ran(server, browser,
                                                                                               tmp_path):
    """Issue 10 item 8 ('every surface'): an account with equity −3,750 USDT (1,000 USDT, long
    1 BTC bought 4,750 above the mark) shows LIQUIDATABLE NOW with its equity shortfall, the
    forced exit and the insurance shortfall — the API's numbers; the model line is the API's."""
    doc = {"as_of": "2026-11-23T00:00:00Z", "market": {"BTC": {"mark": 91250.0, "vol": 0.52}},
           "accounts": [{"id": "under", "venue": "binance-usdm", "collateral": {"USDT": 1000},
                         "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": 96000}]}]}
    path = tmp_path / "under.json"
    path.write_text(json.dumps(doc))
    api = httpx.post(server + "/v1/analyze", params=PARAMS, json=doc, timeout=120).json()["accounts"][0]
    page = browser.new_page()
    page.goto(server + "/")
    _set_options(page)
    page.set_input_files("#upload", str(path))
    _wait_analysis(page, None)
    facts = page.locator("#account-facts")
    text = facts.inner_text()
    assert text.startswith(f"model {api['risk']['model']} — {api['risk']['model_info']['why']}")
    assert "LIQUIDATABLE NOW: equity shortfall 3,750, forced exit now" in text
    for key in ("equity_shortfall", "liquidation_cost", "insurance_shortfall"):
        assert float(facts.locator(f"[data-key='exit.{key}']").get_attribute("data-value")) == api["exit"][key]
    assert api["exit"]["equity_shortfall"] == 96_000 - 91_250 - 1_000 and api["exit"]["insurance_shortfall"] >= 3_750
    page.close()


def test_the_tails_menu_reaches_the_engine(server, browser, tmp_path):
    """The Tails menu beside the model menu is the API's ``fhs_tails`` (the CLI's --fhs-tails):
    the table's P(4h) of an isolated ETH short is the API's under each choice, and the two differ
    (GPD 1.7e-4, plain FHS 2e-13)."""
    from tests.builders import ETH_SHORT, TAILS_HORIZON as H
    path = tmp_path / "eth.json"
    path.write_text(json.dumps(ETH_SHORT))
    page = browser.new_page()
    page.goto(server + "/")
    assert page.eval_on_selector_all("#fhs-tails option", "os => os.map(o => o.value)") == ["gpd", "empirical"]
    assert page.input_value("#fhs-tails") == "gpd"
    shown, before = {}, None
    for tails in ("gpd", "empirical"):
        params = {**PARAMS, "model": "auto", "paths": 2000, "fhs_tails": tails}
        _set_options(page, params, horizons=H)
        if before is None:
            page.set_input_files("#upload", str(path))
        else:
            page.click("#analyze")
        _wait_analysis(page, before)
        before = page.get_attribute("#status", "data-done")
        api = httpx.post(server + "/v1/analyze", params={**params, "horizon": [H], "range_paths": 0},
                         json=ETH_SHORT, timeout=120).json()["accounts"][0]
        shown[tails] = float(_table(page)["eth-short"]["p"])
        assert shown[tails] == api["probability"][H]["p"]
    assert shown["gpd"] > 1e3 * shown["empirical"], shown


def test_term_structure_on_a_log_axis_with_intervals_and_the_risk_matrix(server, browser, artifacts):
    """The account view of examples/portfolio_margin_venues.yaml (OKX, Bybit and Binance portfolio
    margin): P(liquidation) by horizon is drawn on a log axis, horizons in time order whatever
    order they were asked in (with the standard term structure the same paths give), each point the API's p with error bars reaching its 95 % interval;
    the risk matrix heatmap is the API's matrix (rows the vol scenarios, columns the price moves;
    Bybit's unmoved scenario, vol same and +0 %, is a P&L of exactly 0), and an account without
    one (Binance uniMMR has no scenario matrix) draws none. The exit-cost curve is the API's, on
    an axis from 0 (a cost flat to 1e-11 USD was drawn on an axis zoomed onto that noise, its tick
    labels the trailing digits of 40.8972390663)."""
    params = {**PARAMS, "horizon": ["7d", "1h", "1d"]}
    path = DEMO.parent / "portfolio_margin_venues.yaml"
    doc = json_document(yaml.safe_load(path.read_text()))
    api = {a["id"]: a for a in httpx.post(server + "/v1/analyze", params=params, json=doc, timeout=300).json()["accounts"]}
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server + "/")
    _set_options(page, params, ",".join(params["horizon"]))
    page.set_input_files("#upload", str(path))
    _wait_analysis(page, None)
    first = {acc: next(iter(a["probability"].values())) for acc, a in api.items()}   # the table's horizon
    _shown_equals(_table(page), {"accounts": [{**a, "probability": {"1d": first[acc]}} for acc, a in api.items()]})
    for acc in ("okx-pm", "bybit-pm", "binance-pm"):
        page.click(f"tr[data-account='{acc}']")
        page.wait_for_function(f"document.getElementById('account-title').textContent.startsWith('{acc}')")
        term = page.evaluate("(() => { const d = document.getElementById('plot-term'); return {type: "
                             "d.layout.yaxis.type, x: d.data[0].x, y: d.data[0].y, up: d.data[0].error_y.array, "
                             "down: d.data[0].error_y.arrayminus}; })()")
        prob = {**(api[acc].get("term_structure") or {}), **api[acc]["probability"]}   # the free term structure too
        assert term["type"] == "log" and term["x"] == sorted(prob, key=parse_horizon)
        assert {"1h", "1d", "7d"} <= set(term["x"]) and len(term["x"]) > 3
        floor = 1e-12
        for i, h in enumerate(term["x"]):
            p, (lo, hi) = prob[h]["p"], prob[h]["ci95"]
            assert lo <= p <= hi
            assert term["y"][i] == max(p, floor)
            assert term["up"][i] == pytest.approx(hi - p, rel=1e-12, abs=1e-300)
            assert term["down"][i] == pytest.approx(p - max(lo, floor), rel=1e-12, abs=1e-300)
        exit_plot = page.evaluate("(() => { const d = document.getElementById('plot-exit'); return {x: d.data[0].x, "
                                  "y: d.data[0].y, range: d._fullLayout.yaxis.range}; })()")
        curve = api[acc]["exit"]["cost_vs_exit_hours"]
        hours = sorted(curve, key=float)
        assert exit_plot["x"] == [float(h) for h in hours] and exit_plot["y"] == [curve[h] for h in hours]
        assert exit_plot["range"][0] == 0 and exit_plot["range"][1] >= max(curve.values())   # the axis starts at 0
        heatmaps = page.evaluate("[...document.querySelectorAll('#plot-matrix .js-plotly-plot')].map((d) => "
                                 "({z: d.data[0].z, x: d.data[0].x, y: d.data[0].y, type: d.data[0].type}))")
        units = (api[acc].get("portfolio_margin") or {}).get("units") or []
        assert [(h["type"], h["z"], h["x"], h["y"]) for h in heatmaps] == [
            ("heatmap", u["matrix"], u["move_labels"], u["vols"]) for u in units]
        if acc == "bybit-pm":
            unit, = units
            assert unit["matrix"][unit["vols"].index("vol same")][unit["move_labels"].index("+0%")] == 0.0
            page.locator("#view-account").screenshot(path=str(artifacts / "account_risk_matrix.png"))
    assert [acc for acc in api if (api[acc].get("portfolio_margin") or {}).get("units")] == ["okx-pm", "bybit-pm"]
    assert not errors, errors


def test_a_keyed_server_shows_the_dashboard_after_the_key_link(browser, tmp_path):
    """With an API key (as ``liqrisk serve --host 0.0.0.0 --api-key KEY`` runs it): the page
    without the key is a 401; opened once as ``/?api_key=KEY`` it loads Plotly, runs the demo and
    saves a portfolio through the cookie it was given — every request of the page is
    authorised without the page knowing the key."""
    url, stop = _serve(tmp_path / "keyed.db", api_key="k3y-dash")
    try:
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        assert page.goto(url + "/").status == 401
        assert page.goto(url + "/?api_key=k3y-dash").status == 200
        assert page.evaluate("typeof Plotly") == "object"
        _set_options(page)
        page.click("#demo")
        _wait_analysis(page, None)
        assert page.inner_text("#error") == ""
        assert len(page.query_selector_all("#accounts tbody tr")) == 8
        page.fill("#save-name", "keyed")
        page.click("#save")
        page.wait_for_function("document.getElementById('history-status').textContent.includes('runs recorded')")
        saved = httpx.get(url + "/v1/portfolios", headers={"X-API-Key": "k3y-dash"}).json()
        assert [p["name"] for p in saved] == ["keyed"]
        assert httpx.get(url + "/v1/portfolios").status_code == 401
        assert "k3y-dash" not in page.content()
        assert not errors, errors
    finally:
        stop()
