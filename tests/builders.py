"""Test helpers: build portfolios from small dicts."""
from liqrisk.load import parse_portfolio


def portfolio(accounts, market=None, as_of="2026-11-23T00:00:00Z", rate=0.0):
    """A validated model Portfolio from plain dicts (market defaults to BTC/ETH marks)."""
    market = market or {"BTC": {"mark": 91250.0, "vol": 0.52}, "ETH": {"mark": 3050.0, "vol": 0.68}}
    return parse_portfolio({"as_of": as_of, "market": market, "rate": rate, "accounts": accounts})


def break_first_account(monkeypatch, field: str = "maintenance_margin"):
    """Make every analysis set ``field`` of its first account to NaN, as a model that could not
    compute it would (the output checks must then refuse the result on every surface)."""
    import liqrisk.analysis as analysis
    real = analysis._analyze_chunk

    def broken(chunk, progress=None):
        out = real(chunk, progress)
        setattr(out.accounts[0], field, float("nan"))
        return out
    monkeypatch.setattr(analysis, "_analyze_chunk", broken)


ETH_SHORT = {"as_of": "2026-11-23T00:00:00Z", "market": {"ETH": {"mark": 3000.0, "vol": 0.7}},
             "accounts": [{"id": "eth-short", "venue": "binance-usdm", "collateral": {"USDT": 100},
                           "positions": [{"symbol": "ETHUSDT", "kind": "perp", "size": -10, "entry": 3100,
                                          "margin": 2000}]}]}
"""A document whose P(4h) is set by the fhs tails: an isolated ETH short ≈ 7 % from its
liquidation price (≈ 5 daily sd in 4 hours) — 1.7e-4 with GPD tails, 2e-13 with plain FHS
(beyond ETH's largest historical residual, on 2,000 paths, seed 7): every surface's test that
its ``fhs_tails`` reaches the engine runs it."""
TAILS_HORIZON = "4h"


def tails_p(fhs_tails: str, paths: int = 2000) -> float:
    """P(4h) of :data:`ETH_SHORT` by `analyze` with ``fhs_tails`` (the number each surface must show)."""
    from liqrisk.analysis import ProbabilitySettings, analyze
    s = ProbabilitySettings([TAILS_HORIZON], paths, 7, fhs_tails=fhs_tails)
    return analyze(parse_portfolio(ETH_SHORT), s).accounts[0].probability[TAILS_HORIZON].p


def unconverged_fits(monkeypatch) -> None:
    """Every bundled history's GJR-GARCH fit reported as not converged after 5 restarts (what a
    run then shows is under test, not when arch reports it)."""
    import dataclasses

    from liqrisk.dynamics import fhs
    real = fhs.bundled_history
    monkeypatch.setattr(fhs, "bundled_history", lambda n: dataclasses.replace(real(n), converged=False,
                                                                                     restarts=5, restart_gain=0.25))
