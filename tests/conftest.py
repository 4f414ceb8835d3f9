"""Shared test helpers: build portfolios from small dicts; a headless browser."""
import os

import pytest

from liqrisk.load import parse_portfolio


def portfolio(accounts, market=None, as_of="2026-11-23T00:00:00Z", rate=0.0):
    """A validated model Portfolio from plain dicts (market defaults to BTC/ETH marks)."""
    market = market or {"BTC": {"mark": 91250.0, "vol": 0.52}, "ETH": {"mark": 3050.0, "vol": 0.68}}
    return parse_portfolio({"as_of": as_of, "market": market, "rate": rate, "accounts": accounts})


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright. Missing Chromium skips the test on a
    developer machine and fails it in CI (env CI set), where ``.ci/run`` installs it."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} missing in CI (.ci/run installs the Debian 'chromium' package)")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium); CI runs this test")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
