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
