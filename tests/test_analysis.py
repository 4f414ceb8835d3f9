"""`liqrisk analyze`: the probability and exit blocks, the HTML report, horizon parsing."""
import json

import pytest
import yaml
from typer.testing import CliRunner

from liqrisk.analysis import ExitSettings, parse_horizon
from liqrisk.cli import app
from liqrisk.io.portfolio import InputError

SMALL = {"as_of": "2026-11-23T00:00:00Z", "market": {"BTC": {"mark": 91250.0, "vol": 0.52}},
         "accounts": [{"id": "iso", "venue": "binance-usdm", "mode": "isolated",
                       "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": 91250,
                                      "margin": 9125.0}]}]}


@pytest.fixture
def small_file(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(SMALL))
    return str(path)


def test_horizons_keep_the_keys_given_on_the_command_line_and_carry_error_bars(small_file):
    out = CliRunner().invoke(app, ["analyze", small_file, "--json", "--horizon", "1d", "--horizon", "7d",
                                   "--paths", "4000", "--seed", "3"])
    assert out.exit_code == 0, out.output
    acc = json.loads(out.stdout)["accounts"][0]
    assert list(acc["probability"]) == ["1d", "7d"]
    for est in acc["probability"].values():
        assert set(est) >= {"p", "stderr", "ci95", "paths", "method"}
        assert est["ci95"][0] <= est["p"] <= est["ci95"][1]
    assert acc["probability"]["1d"]["p"] <= acc["probability"]["7d"]["p"]
    assert set(acc["exit"]) >= {"close_now_cost", "close_now_bps", "liquidation_cost", "insurance_shortfall",
                                "time_to_exit_hours", "book"}
    assert acc["exit"]["book"] == "synthetic"


def test_same_seed_gives_identical_probabilities(small_file):
    args = ["analyze", small_file, "--json", "--horizon", "1d", "--paths", "2000", "--seed", "11"]
    a, b = (json.loads(CliRunner().invoke(app, args).stdout) for _ in range(2))
    assert a["accounts"][0]["probability"] == b["accounts"][0]["probability"]


def test_html_report_is_self_contained_and_marks_the_liquidation_price(small_file, tmp_path):
    html = tmp_path / "r.html"
    out = CliRunner().invoke(app, ["analyze", small_file, "--html", str(html)])
    assert out.exit_code == 0, out.output
    text = html.read_text()
    assert "<script src=" not in text and "Plotly" in text
    lp = json.loads(CliRunner().invoke(app, ["analyze", small_file, "--json"]).stdout)[
        "accounts"][0]["positions"][0]["liquidation_price"]
    assert f"liq {lp:,.2f}" in text


@pytest.mark.parametrize("text,years", [("1h", 1 / 8760), ("4h", 4 / 8760), ("1d", 1 / 365), ("7d", 7 / 365),
                                        ("2w", 14 / 365), ("30m", 0.5 / 8760)])
def test_parse_horizon(text, years):
    assert parse_horizon(text) == pytest.approx(years)


@pytest.mark.parametrize("bad", ["", "1", "-1d", "1x", "0d"])
def test_bad_horizon_is_an_input_error(bad):
    with pytest.raises(InputError):
        parse_horizon(bad)


@pytest.mark.parametrize("model", ["merton", "student", "fhs"])
def test_every_model_gives_an_estimate_for_a_single_btc_position(small_file, model):
    out = CliRunner().invoke(app, ["analyze", small_file, "--json", "--horizon", "1d", "--paths", "2000",
                                   "--model", model])
    assert out.exit_code == 0, out.output
    est = json.loads(out.stdout)["accounts"][0]["probability"]["1d"]
    assert 0 < est["p"] < 1 and est["stderr"] > 0


def test_fhs_runs_a_multi_asset_account_on_the_same_historical_dates(tmp_path):
    two = dict(SMALL, market={"BTC": {"mark": 91250.0, "vol": 0.52}, "ETH": {"mark": 3050.0, "vol": 0.7}})
    two["accounts"] = [{"id": "x", "venue": "binance-usdm", "collateral": {"USDT": 20000},
                        "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 1, "entry": 91250},
                                      {"symbol": "ETHUSDT", "kind": "perp", "size": -10, "entry": 3050}]}]
    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump(two))
    out = CliRunner().invoke(app, ["analyze", str(path), "--json", "--horizon", "1d", "--paths", "1000",
                                   "--model", "fhs"])
    doc = json.loads(out.stdout)
    info = doc["accounts"][0]["risk"]["model_info"]
    assert info["name"] == "fhs" and set(info["assets"]) == {"BTC", "ETH"} and info["n_dates"] > 700
    assert 0 <= doc["accounts"][0]["probability"]["1d"]["p"] <= 1


def test_positions_say_where_their_margin_parameters_come_from_and_guesses_are_noted():
    from liqrisk.analysis import analyze
    res = analyze("examples/multi_venue.yaml").to_dict()
    by_id = {a["id"]: a for a in res["accounts"]}
    assert by_id["binance-main"]["positions"][0]["parameters"].startswith("Binance leverageBracket API")
    assert by_id["okx-cross"]["positions"][0]["parameters"].startswith("representative")
    assert any("'okx-cross'" in n and "representative" in n for n in res["notes"])
    assert not any("'binance-main'" in n and "representative" in n for n in res["notes"])


def test_leverage_above_the_venue_maximum_is_noted(tmp_path):
    doc = dict(SMALL, accounts=[{"id": "lev", "venue": "binance-usdm", "collateral": {"USDT": 100_000},
                                 "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 40, "entry": 91250,
                                                "leverage": 125}]}])
    path = tmp_path / "lev.yaml"
    path.write_text(yaml.safe_dump(doc))
    notes = json.loads(CliRunner().invoke(app, ["analyze", str(path), "--json"]).stdout)["notes"]
    assert any("'lev'" in n and "leverage 125" in n for n in notes)   # 3.65M notional: max 50x


def test_options_example_on_the_real_2021_smile_loads_and_has_two_sided_boundaries():
    from liqrisk.analysis import analyze
    res = analyze("examples/deribit_options_2021-10-21.json").to_dict()
    strangle = res["accounts"][0]
    down, up = strangle["liquidation"]["BTC"]["down"], strangle["liquidation"]["BTC"]["up"]
    assert down < 66_000 < up                      # a short strangle liquidates on both sides
    call, put = strangle["positions"]
    assert call["liquidation_price"] == pytest.approx(up) and put["liquidation_price"] == pytest.approx(down)


@pytest.mark.parametrize("size,margin", [(1.0, 9125.0), (-2.0, 9125.0), (5.0, 30_000.0)])
def test_analyze_probability_matches_the_first_passage_closed_form_at_the_engines_lp(tmp_path, size, margin):
    """End to end: margin engine LP → Monte Carlo through the account's health function, vs the
    reflection-principle probability of hitting that LP (GBM, zero drift)."""
    from liqrisk.analysis import ProbabilitySettings, analyze
    from liqrisk.risk.first_passage import hit_probability
    doc = dict(SMALL, accounts=[{"id": "iso", "venue": "binance-usdm", "mode": "isolated",
                                 "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": size,
                                                "entry": 91250, "margin": margin}]}])
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(doc))
    acc = analyze(str(path), ProbabilitySettings(["1d", "7d"], paths=20_000, seed=5, model="gbm")).accounts[0]
    lp = acc.positions[0].liquidation_price
    for h, years in (("1d", 1 / 365), ("7d", 7 / 365)):
        est = acc.probability[h]
        exact = float(hit_probability(91250.0, lp, 0.52, years, 0.0))
        assert abs(est.p - exact) <= 3 * est.stderr + 0.02 * exact, (h, est, exact)


def test_every_account_has_an_exit_block_and_says_what_it_did_not_cost():
    from liqrisk.analysis import analyze
    res = analyze("examples/deribit_options_2021-10-21.json", exit=ExitSettings()).to_dict()
    strangle = res["accounts"][0]["exit"]
    assert strangle["close_now_cost"] is None and len(strangle["not_costed"]) == 2   # two options
    multi = {a["id"]: a["exit"] for a in analyze("examples/multi_venue.yaml", exit=ExitSettings()).to_dict()["accounts"]}
    assert multi["binance-main"]["close_now_cost"] > 0                               # BTC still costed
    assert any("SOL" in line for line in multi["binance-main"]["not_costed"])


def test_exit_horizon_sets_the_horizon_cost(small_file):
    def horizon_cost(hours):
        out = CliRunner().invoke(app, ["analyze", small_file, "--json", "--exit-horizon-hours", str(hours),
                                       "--stress", "3"])
        return json.loads(out.stdout)["accounts"][0]["exit"]
    now, day = horizon_cost(0.25), horizon_cost(24)
    assert now["horizon_hours"] == 0.25 and day["horizon_hours"] == 24
    assert day["horizon_cost"] <= now["horizon_cost"] <= now["close_now_cost"] * (1 + 1e-9)


def test_vol_from_needs_the_asset_when_the_portfolio_has_several(tmp_path):
    out = CliRunner().invoke(app, ["analyze", "examples/multi_venue.yaml", "--json", "--horizon", "1d",
                                   "--paths", "1000", "--vol-from", "src/liqrisk/data/btcusd_1h_coinbase.csv"])
    assert out.exit_code == 2 and "BTC=" in out.output
    out = CliRunner().invoke(app, ["analyze", "examples/multi_venue.yaml", "--json", "--horizon", "1d",
                                   "--paths", "1000", "--vol-from", "BTC=src/liqrisk/data/btcusd_1h_coinbase.csv"])
    assert out.exit_code == 0, out.output


def test_calibration_model_names_are_accepted_by_analyze(small_file):
    out = CliRunner().invoke(app, ["analyze", small_file, "--json", "--horizon", "1d", "--paths", "1000",
                                   "--model", "student_t"])
    assert out.exit_code == 0 and json.loads(out.stdout)["accounts"][0]["risk"]["model"] == "student"


def _many_accounts(n: int, seed: int = 5) -> dict:
    """Binance accounts with BTC/ETH perps (some isolated) and SOL (no synthetic book); a few
    under water (past their trigger: liquidated now)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    marks = {"BTC": 91_250.0, "ETH": 3_050.0, "SOL": 142.5}
    accounts = []
    for i in range(n):
        positions = []
        for und in rng.choice(list(marks), size=int(rng.integers(1, 4)), replace=False):
            pos = {"symbol": f"{und}USDT", "kind": "perp", "entry": marks[und] * float(np.exp(rng.normal(0, 0.05))),
                   "size": float(rng.choice([-1, 1]) * np.exp(rng.normal(np.log(50_000), 1.0)) / marks[und])}
            if rng.random() < 0.3:
                pos["margin"] = abs(pos["size"]) * marks[und] / 10
            positions.append(pos)
        collateral = float(np.exp(rng.normal(np.log(20_000), 1.0))) if rng.random() > 0.1 else 100.0
        accounts.append({"id": f"a{i}", "venue": "binance-usdm", "collateral": {"USDT": collateral},
                         "positions": positions})
    return {"as_of": "2026-11-23T00:00:00Z", "market": {u: {"mark": m, "vol": 0.6} for u, m in marks.items()},
            "accounts": accounts}


def test_exit_blocks_of_a_whole_file_equal_each_account_analysed_alone():
    """Exit costs are computed for all accounts together (one pass per underlying): each
    account's block (close-now, curve, forced exits at the boundaries, liquidation now, what was
    not costed) is the one it gets when analysed on its own."""
    from liqrisk import analyze
    doc = _many_accounts(40)
    whole = analyze(doc).to_dict()["accounts"]
    assert any(a["liquidatable_now"] for a in whole) and any(a["exit"]["not_costed"] for a in whole)
    assert any(a["exit"]["liquidation_cost"] for a in whole)
    for acc, alone in zip(doc["accounts"], whole):
        single = analyze({**doc, "accounts": [acc]}).to_dict()["accounts"][0]["exit"]
        a, b = _flat(single), _flat(alone["exit"])
        nums = {k for k, v in a.items() if isinstance(v, float)}
        assert {k: v for k, v in a.items() if k not in nums} == {k: v for k, v in b.items() if k not in nums}
        assert {k: a[k] for k in nums} == pytest.approx({k: b[k] for k in nums}, rel=1e-12)


def _flat(d: dict, prefix: str = "") -> dict:
    """A nested dict as {path: leaf} (pytest.approx compares flat mappings)."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}/"))
        else:
            out[prefix + k] = v
    return out


def test_a_book_given_on_the_command_line_is_the_market_s_book(tmp_path):
    from dataclasses import replace

    from liqrisk import analyze
    from liqrisk.liquidity.book import load_book
    from liqrisk.load import load_portfolio
    out = CliRunner().invoke(app, ["analyze", "examples/multi_venue.yaml", "--json", "--stress", "3",
                                   "--book", "BTC=examples/books/btc_book.json"])
    assert out.exit_code == 0, out.output
    pf = load_portfolio("examples/multi_venue.yaml")
    pf = pf.with_market(replace(pf.market, books={"BTC": load_book("examples/books/btc_book.json")}))
    api = analyze(pf, stress=3.0).to_dict()
    assert json.loads(out.stdout) == json.loads(json.dumps(api))
    assert any(a["exit"]["book"] == "snapshot" for a in api["accounts"] if a.get("exit"))


def test_fhs_says_when_a_horizon_is_rounded_to_whole_days():
    from liqrisk.analysis import ProbabilitySettings, analyze
    from tests.builders import portfolio
    pf = portfolio([{"id": "a", "venue": "binance-usdm", "collateral": {"USDT": 1e4},
                     "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": 91250.0}]}])
    out = analyze(pf, ProbabilitySettings(["12h", "36h", "60h", "2d"], paths=500, risk=False))
    assert out.accounts[0].risk.model_info["name"] == "fhs"
    rounded = [n for n in out.notes if n.startswith("fhs: horizon")]
    assert len(rounded) == 2 and "36h runs as 1 day " in rounded[0] and "60h runs as 2 days" in rounded[1]
