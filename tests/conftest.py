"""Shared test fixtures: a headless browser; the on-disk result cache of this run."""
import os
import tempfile

import pytest

# the run's own on-disk cache (liqrisk.diskcache), shared with the CLI subprocesses tests start:
# tests neither read nor write the user's ~/.cache/liqrisk
os.environ.setdefault("LIQRISK_CACHE_DIR", tempfile.mkdtemp(prefix="liqrisk-test-cache-"))

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
