"""Multi-asset filtered historical simulation (liqrisk.dynamics.fhs) and the calibrated default
model of `analyze`: the same historical dates for every asset (so the simulated dependence is the
data's), each asset rescaled to its current vol, a stated assumption for assets without history."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import liqrisk
from liqrisk.cli import app
from liqrisk.dynamics.fhs import BUNDLED, bundled_history, fhs_model
from liqrisk.dynamics.ohlc import bundled_data_path

ROOT = Path(__file__).resolve().parents[2]
DAY = 1 / 365


def test_one_day_of_the_joint_model_has_the_data_s_dependence_and_the_market_s_vols():
    """Rank (Spearman) correlation of simulated one-day BTC/ETH moves = that of the two assets'
    GJR-GARCH-t standardised residuals on their common dates, fitted here with ``arch`` directly
    (one simulated day is a monotone map of a drawn date's residuals), and each asset's simulated
    daily sd = its market vol · √(1/365)."""
    from arch import arch_model
    sigma = np.array([0.52, 0.68])
    setup = fhs_model(["BTC", "ETH"], sigma, {"BTC": bundled_history("BTC"), "ETH": bundled_history("ETH")},
                      np.eye(2))
    x = setup.model.simulate(200_000, 1, DAY, seed=3)[:, 0, :]
    df = pd.read_csv(bundled_data_path(BUNDLED), index_col="date")
    resid = {}
    for a in ("btc", "eth"):
        r = 100 * np.log(df[f"{a}_close"].dropna()).diff().dropna()
        fit = arch_model(r, mean="Constant", vol="GARCH", p=1, o=1, q=1, dist="t").fit(disp="off")
        resid[a] = fit.std_resid
    want = pd.DataFrame(resid).dropna().rank().corr().iloc[0, 1]
    got = pd.DataFrame(x).rank().corr().iloc[0, 1]
    # 200,000 draws from ~800 dates: the resampling error of a rank correlation ≈ (1 − ρ²)/√n
    assert got == pytest.approx(want, abs=0.005)
    assert np.std(x, axis=0) == pytest.approx(sigma * np.sqrt(DAY), rel=0.01)
    assert setup.info["n_dates"] == len(pd.DataFrame(resid).dropna())


def test_an_asset_without_history_gets_the_given_correlation_and_its_market_vol():
    sigma = np.array([0.52, 0.85])
    setup = fhs_model(["BTC", "SOL"], sigma, {"BTC": bundled_history("BTC")}, np.array([[1, 0.6], [0.6, 1]]))
    x = setup.model.simulate(200_000, 1, DAY, seed=5)[:, 0, :]
    z = setup.model.innovations.residuals
    assert np.corrcoef(z.T)[0, 1] == pytest.approx(0.6, abs=0.05)        # ~1,860 dates: se ≈ 0.015
    assert np.std(x[:, 1]) == pytest.approx(0.85 * np.sqrt(DAY), rel=0.05)
    assert "assumed" in setup.info["assets"]["SOL"]


def test_the_demo_s_eight_accounts_all_get_the_calibrated_default_and_say_so(tmp_path):
    res = liqrisk.analyze(ROOT / "examples" / "multi_venue.yaml", horizons=["1h", "1d"], paths=2000, seed=1)
    doc = json.loads(res.to_json())
    assert len(doc["accounts"]) == 8
    for acc in doc["accounts"]:
        risk = acc["risk"]
        assert risk["model"] == "fhs" and risk["model_info"]["name"] == "fhs", acc["id"]
        assert risk["model_info"]["bar"] == "1d"
        assert set(risk["model_range"]["1d"]) == {"gbm", "student", "merton"}
        # the 1h horizon is one step of an hour, not a day: less likely than a day
        assert acc["probability"]["1h"]["p"] <= acc["probability"]["1d"]["p"]
    assert any("SOL without history" in n for n in doc["notes"])


def _with_sol(tmp_path, market: dict, leg: dict) -> Path:
    """A portfolio file of two accounts: ``x``, cross ``leg`` + a SOL short, and ``sol``, a SOL
    long alone (SOL has no bundled history)."""
    doc = {"as_of": "2026-11-23T00:00:00Z", "market": market,
           "accounts": [{"id": "x", "venue": "binance-usdm", "mode": "cross", "collateral": {"USDT": 5000},
                         "positions": [leg, {"symbol": "SOLUSDT", "kind": "perp", "size": -50, "entry": 140}]},
                        {"id": "sol", "venue": "binance-usdm", "mode": "cross", "collateral": {"USDT": 500},
                         "positions": [{"symbol": "SOLUSDT", "kind": "perp", "size": 20, "entry": 140}]}]}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_model_fhs_runs_multi_underlying_accounts_and_refuses_one_without_history(tmp_path):
    path = _with_sol(tmp_path, {"BTC": {"mark": 91250.0, "vol": 0.52}, "SOL": {"mark": 142.5, "vol": 0.85},
                                "correlation": {"BTC": {"SOL": 0.7}}},
                     {"symbol": "BTCUSDT", "kind": "perp", "size": 0.2, "entry": 91000})
    out = CliRunner().invoke(app, ["analyze", str(path), "--json", "--horizon", "1d", "--paths", "1000",
                                   "--model", "fhs", "--range-paths", "0"])
    assert out.exit_code == 0, out.output
    res = json.loads(out.stdout)
    x, sol = res["accounts"]
    assert x["risk"]["model_info"]["assets"]["SOL"]["correlation"] == {"BTC": 0.7}
    assert "probability" not in sol and any("no history for SOL" in n for n in res["notes"])
    auto = json.loads(CliRunner().invoke(app, ["analyze", str(path), "--json", "--horizon", "1d",
                                               "--paths", "1000"]).stdout)
    assert [a["risk"]["model"] for a in auto["accounts"]] == ["fhs", "gbm"]


def test_a_correlation_that_is_not_positive_definite_is_a_clear_input_error(tmp_path):
    doc = yaml.safe_load((ROOT / "examples" / "multi_venue.yaml").read_text())
    doc["market"]["correlation"] = {"BTC": {"SOL": 0.99}, "ETH": {"SOL": -0.99}}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(doc))
    out = CliRunner().invoke(app, ["analyze", str(path), "--json", "--horizon", "1d", "--paths", "500",
                                   "--model", "gbm", "--range-paths", "0"])
    assert out.exit_code == 2 and "correlation" in out.output and "positive definite" in out.output
    doc["market"]["correlation"] = {"BTC": {"DOGE": 0.5}}
    path.write_text(yaml.safe_dump(doc))
    out = CliRunner().invoke(app, ["analyze", str(path), "--json"])
    assert out.exit_code == 2 and "correlation.BTC.DOGE" in out.output


def test_a_return_over_missing_days_is_scaled_to_one_day():
    """Closes on days 0, 1 and 5: the second return spans 4 days and counts as r/√4; the bundled
    file's 13-day hole (2019-03-19 → 2019-04-01) is one such return."""
    from liqrisk.dynamics.fhs import bundled_history, daily_returns
    days = np.array(["2020-01-01", "2020-01-02", "2020-01-06"], dtype="datetime64[D]")
    close = np.array([100.0, 110.0, 99.0])
    r = daily_returns(days, close)
    # log(b) − log(a) of closes ~100 carries ~2 ulp of log(100) ≈ 1e-15 absolute error
    assert r[0] == pytest.approx(np.log(1.1), abs=4e-15)
    assert r[1] == pytest.approx(np.log(0.9) / 2.0, abs=4e-15)
    h = bundled_history("BTC")
    assert np.datetime64("2019-04-01") in h.dates and np.datetime64("2019-03-25") not in h.dates


def test_a_garch_fit_that_did_not_converge_is_used_and_said_so(monkeypatch):
    """arch reports a likelihood optimisation that stopped early (flag ≠ 0, e.g. code 8 on short or
    odd windows); the fit is still used, but the run says so in its notes and model_info."""
    from tests.builders import unconverged_fits
    assert bundled_history("BTC").converged                  # the bundled daily history's fit converges
    unconverged_fits(monkeypatch)
    doc = {"as_of": "2026-11-23T00:00:00Z", "market": {"BTC": {"mark": 91250.0, "vol": 0.52}},
           "accounts": [{"id": "x", "venue": "binance-usdm", "collateral": {"USDT": 20000},
                         "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": 91000}]}]}
    out = json.loads(liqrisk.analyze(doc, horizons=["1d"], paths=500, model="fhs", range_paths=0).to_json())
    assert any(n.startswith("fhs: the GJR-GARCH fit of BTC") and "did not converge" in n for n in out["notes"])
    assert out["accounts"][0]["risk"]["model_info"]["assets"]["BTC"]["gjr_garch_converged"] is False


def test_vol_from_gives_an_asset_without_bundled_history_the_calibrated_default(tmp_path):
    """``--vol-from SOL=FILE``: a SOL-only account runs fhs on the file's history (not GBM), and an
    ETH+SOL cross account bootstraps only the dates the bundled ETH history (2017-11 → 2020-01)
    and the SOL file share — here a SOL file made of the Coinbase BTC daily closes from 2016 on
    (→ 2019-10), so the common dates are known from pandas alone."""
    src = pd.read_csv(ROOT / "src" / "liqrisk" / "data" / "btcusd_1d_coinbase.csv")
    sol = src[src.timestamp >= "2016-01-01"]
    sol_file = tmp_path / "sol_1d.csv"
    sol.to_csv(sol_file, index=False)
    bitstamp = pd.read_csv(bundled_data_path(BUNDLED))
    sol_days = set(pd.to_datetime(sol.timestamp).dt.strftime("%Y-%m-%d").iloc[1:])    # days with a return
    eth = bitstamp.dropna(subset=["eth_close"])
    common = sorted(sol_days & set(eth.date.iloc[1:]))
    path = _with_sol(tmp_path, {"ETH": {"mark": 3050.0, "vol": 0.68}, "SOL": {"mark": 142.5, "vol": 0.85}},
                     {"symbol": "ETHUSDT", "kind": "perp", "size": 6, "entry": 3000})
    out = CliRunner().invoke(app, ["analyze", str(path), "--json", "--horizon", "7d", "--paths", "500",
                                   "--range-paths", "0", "--vol-from", f"SOL={sol_file}"])
    assert out.exit_code == 0, out.output
    x, only_sol = json.loads(out.stdout)["accounts"]
    for acc in (x, only_sol):
        info = acc["risk"]["model_info"]
        assert acc["risk"]["model"] == "fhs" and info["why"].startswith("default")
        assert info["assets"]["SOL"]["history"].startswith(f"{sol_file}: daily closes")
        assert "assumed" not in info["assets"]["SOL"]
    assert len(sol_days) == len(sol) - 1 and only_sol["risk"]["model_info"]["n_dates"] == len(sol_days)
    assert x["risk"]["model_info"]["n_dates"] == len(common) < min(len(sol_days), len(eth) - 1)
    assert x["risk"]["model_info"]["dates"] == f"{common[0]} → {common[-1]}"
    without = json.loads(CliRunner().invoke(app, ["analyze", str(path), "--json", "--horizon", "7d", "--paths",
                                                  "500", "--range-paths", "0"]).stdout)["accounts"]
    assert [a["risk"]["model"] for a in without] == ["fhs", "gbm"]
