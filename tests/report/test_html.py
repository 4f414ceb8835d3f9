"""The HTML report in a real browser (headless Chromium via Playwright): every number in the
tables is the JSON's number (exact in ``data-value``, and the text shows it rounded), the
probability chart is on a log axis with sampled zeros drawn as upper bounds (no bars), tick labels
are rounded, and no title or cell reads None/NaN/undefined."""
import json
import math
import re
from pathlib import Path

import pytest

import liqrisk
from liqrisk.report.html import write_report

ROOT = Path(__file__).resolve().parents[2]


# plain FHS (empirical tails) cannot move one step beyond the largest historical shock, so the
# demo's far boundaries at 1h are sampled zeros (with GARCH-EVT tails, the default, none is left)
SAMPLED_ZEROS = {"horizons": ["1h", "1d", "7d"], "paths": 4000, "fhs_tails": "empirical"}


def _write(tmp_path_factory, name: str, **kw):
    res = liqrisk.analyze(ROOT / "examples" / name, seed=2, curves=True, **kw)
    path = tmp_path_factory.mktemp("report") / "report.html"
    write_report(res, path)
    return path, json.loads(res.to_json())


@pytest.fixture(scope="module", params=["multi_venue.yaml", "defi_loans.yaml", "deribit_portfolio_margin.yaml", "portfolio_margin_venues.yaml"])
def report(request, tmp_path_factory):
    """The demo with horizons (sampled zeros at 1h), the lending example (loan blocks) and the
    portfolio-margin example (scenario-margin block and risk-matrix heat-maps)."""
    kw = SAMPLED_ZEROS if request.param == "multi_venue.yaml" else {}
    return _write(tmp_path_factory, request.param, **kw)


@pytest.fixture(scope="module")
def multi_venue(tmp_path_factory):
    return _write(tmp_path_factory, "multi_venue.yaml", **SAMPLED_ZEROS)


def _open(browser, report):
    page = browser.new_page()
    page.set_default_timeout(120_000)  # plotly's 3 MB script on a loaded 2-core machine
    page.goto(report[0].as_uri())
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length > 0")
    return page


@pytest.fixture(scope="module")
def page(browser, report):
    page = _open(browser, report)
    yield page
    page.close()


def _lookup(doc: dict, key: str):
    """A dotted JSON path; keys may contain dots only as the last parts' numbers (ci95.0)."""
    node = doc
    parts = key.split(".")
    while parts:
        part = parts.pop(0)
        if isinstance(node, list):
            node = node[int(part)]
        elif part in node:
            node = node[part]
        else:                                   # a key with a dot inside (e.g. pool "isolated ETHUSDT")
            joined = part
            while parts and joined not in node:
                joined += "." + parts.pop(0)
            node = node[joined]
    return node


def _shown(text: str) -> tuple[float, float]:
    """The number a cell shows and the relative rounding its significant digits allow."""
    text = text.strip().rstrip("%").replace(",", "")
    mantissa = re.sub(r"[^0-9]", "", text.split("e")[0]).lstrip("0")
    return float(text), 0.5 * 10.0 ** (1 - max(len(mantissa), 1))


def test_every_table_number_is_the_json_number_and_its_text_rounds_it(page, report):
    _, doc = report
    cells = page.evaluate("""Array.from(document.querySelectorAll('section[data-account] td[data-key]')).map(td =>
        ({account: td.closest('section').dataset.account, key: td.dataset.key, value: td.dataset.value,
          text: td.textContent}))""")
    accounts = {a["id"]: a for a in doc["accounts"]}
    assert len(cells) > 10 * len(accounts) and {c["account"] for c in cells} == set(accounts)
    keys = {c["key"] for c in cells}
    assert {"equity", "initial_margin", "maintenance_margin", "margin_ratio"} <= keys
    if "binance-main" in accounts:
        assert {"liquidation.BTC.down", "probability.1d.p", "probability.1d.ci95.1", "risk.var99.1d",
                "exit.close_now_cost", "risk.model_range.1d.gbm", "risk.model_range.7d.merton"} <= keys
    elif any(a.get("loan") for a in accounts.values()):
        assert {"loan.health_factor", "loan.debt_usd"} <= keys
    else:
        assert {"portfolio_margin.initial_margin", "portfolio_margin.maintenance_margin"} <= keys
    for c in cells:
        want = _lookup(accounts[c["account"]], c["key"])
        assert json.loads(c["value"]) == want, c
        if isinstance(want, bool) or want is None:
            continue
        shown, rel = _shown(c["text"])
        if c["key"] == "margin_ratio":
            shown /= 100                                       # shown in %
        assert abs(shown - want) <= rel * abs(want) * (1 + 1e-9), c


def test_each_account_says_which_model_ran_why_and_how_the_model_range_was_obtained(page, report):
    _, doc = report
    lines = page.evaluate("""Array.from(document.querySelectorAll("section[data-account] p[data-key='risk.model']"))
        .map(p => ({account: p.closest('section').dataset.account, text: p.textContent}))""")
    with_risk = {a["id"]: a["risk"] for a in doc["accounts"] if "risk" in a}
    assert {x["account"] for x in lines} == set(with_risk)
    for x in lines:
        risk = with_risk[x["account"]]
        assert f"model {risk['model']}" in x["text"] and risk["model_info"]["why"] in x["text"]
        if "range" in risk["model_info"]:
            r = risk["model_info"]["range"]
            assert f"{r['paths']:,} paths" in x["text"] and all(m in x["text"] for m in r["models"])


def test_a_pool_estimate_below_one_over_paths_says_how_it_was_obtained(page, report):
    """Beside the pool table, each pool estimate below 1/paths that is not the account's own
    (a several-pool account's pool: its own estimate) with its estimator and interval."""
    _, doc = report
    said = dict(page.evaluate("""Array.from(document.querySelectorAll('section[data-account] p.pool-how'))
        .map(p => [p.closest('section').dataset.account, p.textContent])"""))
    want = {}
    for acc in doc["accounts"]:
        for label, by_h in (acc.get("pools") or {}).items():
            for h, e in by_h.items():
                if e["p"] < 1 / e["paths"] and e != acc["probability"][h]:
                    lo, hi = e["ci95"]
                    want.setdefault(acc["id"], []).append(
                        f"{label} {h} {e['p']:.3g} ({e['method']} of {e['paths']:,} paths, 95% [{lo:.3g}, {hi:.3g}])")
    assert set(said) == set(want)
    for account, parts in want.items():
        assert said[account] == "pool estimates below 1/paths: " + "; ".join(parts)
    if "binance-main" in {a["id"] for a in doc["accounts"]}:
        assert "binance-main" in want                  # its two pools at 1h: sampled zeros


def test_probability_charts_are_log_scaled_and_draw_sampled_zeros_as_upper_bounds(browser, multi_venue):
    _, doc = multi_venue
    page = _open(browser, multi_venue)
    charts = page.evaluate("""Array.from(document.querySelectorAll('.js-plotly-plot'))
        .filter(el => (el.layout.title.text || '').includes('P(liquidation)'))
        .map(el => ({title: el.layout.title.text, yaxis: el.layout.yaxis.type,
                     traces: el.data.map(t => ({type: t.type, name: t.name, x: t.x, y: t.y}))}))""")
    with_p = [a for a in doc["accounts"] if "probability" in a]
    assert len(charts) == len(with_p)
    zeros = models = 0
    for chart, acc in zip(charts, with_p):
        assert chart["yaxis"] == "log" and acc["id"] in chart["title"]
        assert all(t["type"] != "bar" for t in chart["traces"])
        points = {**acc["term_structure"], **acc["probability"]}
        for t in chart["traces"]:
            for h, y in zip(t["x"], t["y"]):
                if t["name"].startswith("pool "):
                    est = acc["pools"][t["name"].removeprefix("pool ")][h]
                    assert y == est["p"] and y >= 1e-12       # a pool's sampled zero is in the table only
                    continue
                if t["name"].startswith("model "):             # the model range
                    assert y == acc["risk"]["model_range"][h][t["name"].removeprefix("model ")] and y >= 1e-12
                    models += 1
                    continue
                est = points[h]
                if t["name"].startswith("no liquidated path"):          # a sampled zero, at its bound
                    assert est["p"] == 0 and y == est["ci95"][1]
                    zeros += 1
                elif t["name"] == "estimate below 1e-12":               # not a zero: at the axis' floor
                    assert 0 < est["p"] < 1e-12 and y == 1e-12
                else:
                    assert y == est["p"] and y >= 1e-12
    assert zeros > 0                                          # the demo has sampled zeros at 1h
    assert models > 0
    page.close()


def test_an_estimate_below_the_floor_is_not_drawn_as_a_sampled_zero(browser, tmp_path):
    """GBM's 4h probability of the demo's far boundaries is importance-sampled far below 1e-12
    (binance-hedge: ~1e-230) — a number, not a sampled zero: drawn at the axis' floor under its
    own name, never as 'no liquidated path' (which is kept for the zeros, at their 95% bound)."""
    res = liqrisk.analyze(ROOT / "examples" / "multi_venue.yaml", horizons=["4h"], paths=2000, seed=2,
                          model="gbm", range_paths=0)
    doc = json.loads(res.to_json())
    page = browser.new_page()
    page.goto(write_report(res, tmp_path / "r.html").as_uri())
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length > 0")
    traces = dict(page.evaluate("""Array.from(document.querySelectorAll('.js-plotly-plot'))
        .filter(el => (el.layout.title.text || '').includes('P(liquidation)'))
        .map(el => [el.layout.title.text.split(':')[0], el.data.map(t => [t.name, t.x, t.y])])"""))
    below = 0
    for acc in doc["accounts"]:
        points = {n: dict(zip(x, y)) for n, x, y in traces[acc["id"]]}
        for h, e in {**acc["term_structure"], **acc["probability"]}.items():
            if 0 < e["p"] < 1e-12:
                assert points["estimate below 1e-12"][h] == 1e-12
                assert h not in points.get("no liquidated path: upper bound", {})
                below += 1
            elif e["p"] == 0:
                assert points["no liquidated path: upper bound"][h] == e["ci95"][1]
                assert h not in points.get("estimate below 1e-12", {})
    assert below >= 3                    # binance-hedge, binance-coinm, deribit-options, …
    page.close()


def test_tick_labels_are_rounded_and_nothing_reads_none(page):
    ticks = page.evaluate("Array.from(document.querySelectorAll('.xtick text, .ytick text')).map(t => t.textContent)")
    assert ticks
    for t in ticks:
        digits = re.sub(r"[^0-9]", "", t.split("e")[0].replace("\u2212", "-"))
        assert len(digits.strip("0")) <= 6, t                 # never a 17-digit float
    titles = page.evaluate("Array.from(document.querySelectorAll('.gtitle, h1, h2, th')).map(t => t.textContent)")
    body = page.evaluate("document.body.innerText")
    for text in titles + [body]:
        assert not re.search(r"\b(None|NaN|undefined|null)\b", text), text[:200]


def test_an_account_past_its_trigger_is_flagged(browser, tmp_path):
    doc = {"as_of": "2026-11-23T00:00:00Z", "market": {"BTC": {"mark": 91250.0, "vol": 0.52}},
           "accounts": [{"id": "under-water", "venue": "binance-usdm", "collateral": {"USDT": 1000},
                         "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 1, "entry": 96000}]}]}
    res = liqrisk.analyze(doc, curves=True)
    assert res.accounts[0].liquidatable_now and res.accounts[0].equity < 0
    path = write_report(res, tmp_path / "r.html")
    page = browser.new_page()
    page.goto(path.as_uri())
    cell = page.locator("td[data-key='liquidatable_now']")
    assert cell.inner_text() == "LIQUIDATABLE NOW" and json.loads(cell.get_attribute("data-value")) is True
    assert page.locator("td[data-key='margin_ratio']").inner_text() == "—"
    # the deficit, the forced exit and the insurance loss, as in the terminal and the JSON: equity
    # is the 1,000 USDT wallet plus the long's loss of 96,000 − 91,250, so the shortfall is 3,750
    exit_ = json.loads(res.to_json())["accounts"][0]["exit"]
    short = page.locator("td[data-key='exit.equity_shortfall']")
    assert json.loads(short.get_attribute("data-value")) == pytest.approx(96_000 - 91_250 - 1_000)
    assert short.inner_text() == "3,750" and short.get_attribute("class") == "alert"
    for key in ("liquidation_cost", "insurance_shortfall"):
        cell = page.locator(f"td[data-key='exit.{key}']")
        assert json.loads(cell.get_attribute("data-value")) == exit_[key] > 0
    assert exit_["insurance_shortfall"] >= 3_750
    page.close()


@pytest.mark.parametrize("tails", ["gpd", "empirical"])
def test_the_tail_model_per_asset_and_an_unconverged_garch_fit_are_shown(browser, tmp_path, monkeypatch, tails):
    """The fhs table: per asset the tail model that ran — GPD ξ, its s.e., the threshold quantile
    and the threshold (the JSON's numbers) or 'empirical: why' — and the GJR-GARCH fit's
    convergence, a fit that did not converge drawn as an alert."""
    from tests.builders import ETH_SHORT, TAILS_HORIZON, unconverged_fits
    unconverged_fits(monkeypatch)
    res = liqrisk.analyze(ETH_SHORT, horizons=[TAILS_HORIZON], paths=500, model="fhs", range_paths=0,
                          fhs_tails=tails)
    info = json.loads(res.to_json())["accounts"][0]["risk"]["model_info"]["assets"]["ETH"]
    page = browser.new_page()
    page.goto(write_report(res, tmp_path / "r.html").as_uri())
    row = page.locator("table.fhs-tails tr").nth(1)
    cells = row.locator("td").all_inner_texts()
    assert cells[:2] == ["ETH", tails]
    key = "risk.model_info.assets.ETH"
    flag = row.locator(f"td[data-key='{key}.gjr_garch_converged']")
    assert flag.inner_text() == "no" and flag.get_attribute("class") == "alert"
    assert cells[-1] == info["gjr_garch_fit"] == ("arch's optimiser stopped early after 5 restarts; kept the highest "
                                                  "likelihood of 6 starts (+0.25 over the first)")
    if tails == "gpd":
        for side in ("lower", "upper"):
            for field in ("xi", "se_xi", "quantile", "threshold"):
                cell = row.locator(f"td[data-key='{key}.tails.{side}.{field}']")
                assert json.loads(cell.get_attribute("data-value")) == info["tails"][side][field]
        assert row.locator(f"td[data-key='{key}.tails.lower.quantile']").inner_text() == "0.0991"   # 78 of 787
    else:
        assert cells[2:4] == ["empirical: user choice: --fhs-tails empirical"] * 2
    page.close()
