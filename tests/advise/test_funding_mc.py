"""Funding inside the Monte Carlo on the compiled book: paid out of the position's pool at each
funding time, on Hyperliquid's worked example (a 10 BTC long at 10,000 pays $118.75 per hour)."""
import numpy as np
import pytest

from liqrisk.advise.funding import FundingModel, FundingSchedule
from liqrisk.dynamics import paths
from liqrisk.load import parse_portfolio
from liqrisk.margin import kernel as K
from liqrisk.margin.account import CompiledPortfolio
from liqrisk.risk.book_mc import book_liquidation_risk

HOUR = 1 / (365 * 24)
PAY = 118.75                     # USD per hour: 10 BTC × 10,000 × 0.11875% (Hyperliquid docs)


def _book(mode: str, cash: float):
    pos = {"symbol": "BTC", "kind": "perp", "size": 10.0, "entry": 10_000.0}
    acc = {"id": "hl", "venue": "hyperliquid", "mode": mode, "positions": [pos]}
    if mode == "isolated":
        pos["margin"] = cash
    else:
        acc["collateral"] = {"USDC": cash}
    doc = {"as_of": "2026-11-23T00:00:00Z", "market": {"BTC": {"mark": 10_000.0, "vol": 0.5}}, "accounts": [acc]}
    return CompiledPortfolio(parse_portfolio(doc))


def _health(cp) -> float:
    """equity − MM of the position's pool (USD)."""
    pool = np.array([cp.plans[0].position_pools[0]], dtype=np.int64)
    eq, mm = K.pools_states_nb(pool, cp.market.prices[None, :], 0.0, cp.arrays.args())
    return float(eq[0, 0] - mm[0, 0])


def _schedule(cp):
    m = FundingModel.from_premium(10_100, 10_150, 10_000, "hyperliquid", cp.portfolio.as_of)
    models = [None] * len(cp.arrays.qty)
    models[cp.plans[0].position_rows[0]] = m
    return FundingSchedule.of(models)


@pytest.mark.parametrize("mode", ["cross", "isolated"])
def test_funding_liquidates_a_still_market_after_the_predicted_hour(mode):
    """No price move (vol 1e-6): with 30.5 hours of funding as the margin buffer the account
    survives 30 hourly payments of $118.75 and is liquidated by the 31st — in the wallet (cross)
    or out of the isolated margin — and never without funding."""
    probe = _book(mode, 10_000.0)
    cash = 10_000.0 - _health(probe) + 30.5 * PAY
    cp = _book(mode, cash)
    assert _health(cp) == pytest.approx(30.5 * PAY, rel=1e-9)
    model = paths.gbm(np.array([1e-6]))
    hs = [30 * HOUR, 31 * HOUR]
    with_f = book_liquidation_risk(cp, [0], [0], model, hs, 64, seed=1, funding=_schedule(cp), risk=False)[0]
    without = book_liquidation_risk(cp, [0], [0], model, hs, 64, seed=1, risk=False)[0]
    assert with_f.probabilities[hs[0]].p == 0.0 and with_f.probabilities[hs[1]].p == 1.0
    assert without.probabilities[hs[1]].p == 0.0


def test_per_step_rates_on_the_funding_grid():
    """8-hourly funding from 08:00 (as of 00:00) on 1-hour steps: paid at steps 8, 16, 24, the
    series' rates in order, the last one held; a 15-minute grid pays at step 32."""
    m = FundingModel((0.001, 0.002), 8.0, 8.0, "test")
    s = FundingSchedule.of([None, m])
    row, rate = s.per_step(HOUR, 24)
    assert list(row) == [-1, 0]
    assert np.flatnonzero(rate[0]).tolist() == [8, 16, 24]
    assert rate[0, [8, 16, 24]].tolist() == [0.001, 0.002, 0.002]
    row, rate = s.per_step(HOUR / 4, 40)
    assert np.flatnonzero(rate[0]).tolist() == [32]


def _doc(cash: float, funding) -> dict:
    return {"as_of": "2026-11-23T00:00:00Z",
            "market": {"BTC": {"mark": 10_000.0, "vol": 1e-6, "funding": funding}},
            "accounts": [{"id": "hl", "venue": "hyperliquid", "mode": "cross", "collateral": {"USDC": cash},
                          "positions": [{"symbol": "BTC", "kind": "perp", "size": 10.0, "entry": 10_000.0}]}]}


def test_analyze_says_what_funding_adds_json_and_terminal(tmp_path):
    """The portfolio file's premium input (impact bid 10,100, ask 10,150 vs index 10,000) gives
    Hyperliquid's $118.75 an hour; with 30.5 hours of buffer: P(1d) = 0 and P(7d) = 1 with
    funding, 0 without — in the JSON ``funding`` block and on the terminal. GBM at vol 1e-6 is the
    still market this needs (the calibrated default, FHS, mean-reverts the vol to its history's)."""
    import json
    import yaml
    from typer.testing import CliRunner
    from liqrisk.analysis import ProbabilitySettings, analyze
    from liqrisk.cli import app
    premium = {"impact_bid": 10_100.0, "impact_ask": 10_150.0, "index": 10_000.0}
    cash = 10_000.0 - _health(_book("cross", 10_000.0)) + 30.5 * PAY
    r = analyze(_doc(cash, premium), ProbabilitySettings(["1d", "7d"], 64, 1, model="gbm")).accounts[0]
    f = r.funding["by_horizon"]
    assert f["1d"] == {"p": 0.0, "p_without_funding": 0.0, "added": 0.0}
    assert f["7d"] == {"p": 1.0, "p_without_funding": 0.0, "added": 1.0}
    assert r.funding["models"] == {"BTC": "premium (hyperliquid)"}
    path = tmp_path / "hl.yaml"
    path.write_text(yaml.safe_dump(_doc(cash, premium)))
    out = CliRunner().invoke(app, ["analyze", str(path), "--horizon", "7d", "--paths", "100", "--model", "gbm", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["accounts"][0]["funding"]["by_horizon"]["7d"]["added"] == 1.0
    out = CliRunner().invoke(app, ["analyze", str(path), "--horizon", "7d", "--paths", "100", "--model", "gbm"])
    assert "funding" in out.output and "adds to P(liquidation)" in out.output


def test_constant_and_csv_funding_from_the_file(tmp_path):
    """A constant 0.95% per 8 h is Hyperliquid's 0.11875% an hour (same liquidation hour); a CSV
    series of hourly rates replays in order; a bad funding block names the field (exit 2)."""
    from typer.testing import CliRunner
    from liqrisk.analysis import ProbabilitySettings, analyze
    from liqrisk.cli import app
    import yaml
    cash = 10_000.0 - _health(_book("cross", 10_000.0)) + 30.5 * PAY
    for funding in (0.0095, None):
        if funding is None:
            csv = tmp_path / "f.csv"
            rows = [f"2026-11-23T{h:02d}:00:00Z,0.0011875" for h in range(24)]
            csv.write_text("timestamp,rate\n" + "\n".join(rows) + "\n")
            funding = {"csv": str(csv)}
        r = analyze(_doc(cash, funding), ProbabilitySettings(["30h", "31h"], 64, 1, model="gbm")).accounts[0]
        assert (r.probability["30h"].p, r.probability["31h"].p) == (0.0, 1.0), funding
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_doc(cash, {"impact_bid": 10_100.0})))
    out = CliRunner().invoke(app, ["analyze", str(path)])
    assert out.exit_code == 2 and "funding" in out.output
