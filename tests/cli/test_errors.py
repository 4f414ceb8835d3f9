"""Bad input is printed as one ``error: …`` line per problem, also when the message comes from a
library with newlines in it (pandas' tokenizer error on a funding file that is no CSV)."""
from typer.testing import CliRunner

from liqrisk.cli import app


def test_a_multi_line_message_is_printed_on_one_line(tmp_path):
    series = tmp_path / "funding.csv"
    series.write_text("timestamp\n2026-11-22T00:00:00Z\n2026-11-22T08:00:00Z,1,2,3\n")   # a ragged row
    doc = tmp_path / "p.yaml"
    doc.write_text(f"""as_of: 2026-11-23T00:00:00Z
market:
  ETH: {{mark: 3050, vol: 0.6, funding: {{csv: {series}}}}}
accounts:
  - id: a
    venue: binance-usdm
    collateral: {{USDT: 5000}}
    positions: [{{symbol: ETHUSDT, kind: perp, size: 1, entry: 3000}}]
""")
    res = CliRunner().invoke(app, ["what-if", str(doc), "--json", "--time", "1d"])
    assert res.exit_code == 2, res.output
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: funding file {series}: cannot read ("), res.stderr
    assert lines[0].endswith(")")
