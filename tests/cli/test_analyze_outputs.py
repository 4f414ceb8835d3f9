"""`analyze` for the terminal and the HTML report: valid input that the --json run accepts
is rendered too (the fuzz harness runs every --json input this way: tests/fuzz/harness.py)."""
import json
import re

import pytest
from typer.testing import CliRunner

from liqrisk.cli import app

TINY = """as_of: 2026-11-23T00:00:00Z
market: {BTC: {mark: 91250.0, vol: 0.52}, ETH: {mark: 3050.0, vol: 0.68}}
accounts:
  - id: tiny
    venue: binance-usdm
    collateral: {USDT: 25000}
    positions:
      - {symbol: BTCUSDT, kind: perp, size: 1.2, entry: 89000, leverage: 20}
      - {symbol: ETHUSDT, kind: perp, size: SIZE, entry: 3100, margin: 2000}
"""


@pytest.mark.parametrize("size", ["-5.0e-324", "1.0e-200"])
def test_a_position_of_a_size_whose_square_underflows_gets_its_html_report(tmp_path, size):
    """--json accepted it; --html computes the exit-cost curves, NaN there (0/0), and stopped
    with exit 2 on "Out of range float values are not JSON compliant" (fuzz, 2026-12-03)."""
    f = tmp_path / "p.yaml"
    f.write_text(TINY.replace("SIZE", size))
    assert CliRunner().invoke(app, ["analyze", str(f), "--json"]).exit_code == 0
    html = tmp_path / "r.html"
    res = CliRunner().invoke(app, ["analyze", str(f), "--html", str(html)])
    assert res.exit_code == 0, res.output
    assert "tiny" in res.stdout and not re.search(r"(?<![\w.])[-+]?(nan|inf)(?![\w(])", res.stdout, re.I)
    text = html.read_text()
    assert text.rstrip().endswith("</html>") and "NaN" not in text.split("<script")[0]
    costs = [json.loads(v) for v in re.findall(r"data-key='exit[^']*' data-value='([^']*)'", text)]
    assert costs and all(c is None or c == c for c in costs)
