"""Portfolio-margin parameters with a value of the wrong type or out of range exit 2 naming the
field (before: "could not convert string to float" with no account or field, a ZeroDivisionError
traceback for Deribit's buckets_count 0, and negative ranges accepted silently)."""
import pytest
import yaml
from typer.testing import CliRunner

from liqrisk.cli import app

PERP = {"symbol": "BTCUSDT", "kind": "perp", "size": 0.1, "entry": 90_000}
DERIBIT_PERP = {"symbol": "BTC-PERPETUAL", "underlying": "BTC", "kind": "perp", "size": -1_000, "entry": 90_000}
SPAN = {"price_scan_range": {"BTC": 5_000}}


def _analyze(tmp_path, venue, pm):
    """``analyze --json`` of one BTC perp in portfolio mode on ``venue`` with parameters ``pm``."""
    acc = {"id": "desk", "venue": {"name": venue, "portfolio_margin": pm}, "mode": "portfolio",
           "collateral": {"BTC": 1.0} if venue == "deribit" else {"USDT": 10_000},
           "positions": [DERIBIT_PERP if venue == "deribit" else PERP]}
    path = tmp_path / "pm.yaml"
    path.write_text(yaml.safe_dump({"as_of": "2026-11-23T00:00:00Z", "market": {"BTC": {"mark": 90_000.0, "vol": 0.5}},
                                    "accounts": [acc]}))
    return CliRunner().invoke(app, ["analyze", str(path), "--json"])


@pytest.mark.parametrize("venue,pm,field", [
    ("deribit", {"buckets_count": 0}, "buckets_count"),            # was a ZeroDivisionError traceback
    ("deribit", {"buckets_count": 2.5}, "buckets_count"),
    ("deribit", {"mm_factor": "abc"}, "mm_factor"),
    ("deribit", {"price_range": -0.1}, "price_range"),              # was accepted
    ("deribit", {"pnl_offset": 2}, "pnl_offset"),
    ("deribit", {"extended_dampener": True}, "extended_dampener"),
    ("okx", {"mr6_factor": -0.5}, "mr6_factor"),
    ("okx", {"BTC": {"mr7_rate": "x"}}, "BTC.mr7_rate"),
    ("okx", {"mr1_price_moves": []}, "mr1_price_moves"),            # was "max() arg is an empty sequence"
    ("okx", {"mr1_price_moves": [0.04, 1.5]}, "mr1_price_moves[1]"),
    ("bybit-linear", {"im_factor": "abc"}, "im_factor"),
    ("bybit-linear", {"BTC": {"price_range": 0}}, "BTC.price_range"),
    ("span", {"price_scan_range": {"BTC": -100}}, "price_scan_range.BTC"),
    ("span", {"price_scan_range": {"BTC": "abc"}}, "price_scan_range.BTC"),
    ("span", {**SPAN, "short_option_minimum": "x"}, "short_option_minimum"),
    ("span", {**SPAN, "extreme_move_cover": 1.5}, "extreme_move_cover"),
    ("span", {**SPAN, "intra_spread_charges": {"BTCM7": 50}}, "intra_spread_charges.BTCM7"),
    ("span", {**SPAN, "inter_commodity_credits": [{"legs": {"BTC": 1, "ETH": 2}}]},
     "inter_commodity_credits[0].credit_rate"),
    ("span", {**SPAN, "inter_commodity_credits": [{"legs": {"BTC": 1}, "credit_rate": 0.5}]},
     "inter_commodity_credits[0].legs"),
    ("binance-usdm", {"liquidation_uni_mmr": -1}, "liquidation_uni_mmr"),   # was reported on position 1's MM
])
def test_bad_portfolio_margin_values_exit_2_naming_the_field(tmp_path, venue, pm, field):
    res = _analyze(tmp_path, venue, pm)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert f"account 'desk', field 'venue.portfolio_margin.{field}'" in res.output, res.output


@pytest.mark.parametrize("venue,pm", [
    ("deribit", {"buckets_count": 8, "price_range": 0.2, "pnl_offset": 0.4, "mm_factor": 1}),
    ("okx", {"mr6_factor": 0.5, "BTC": {"mr1_price_moves": [0.05, 0.1], "mr7_rate": 0.004}}),
    ("bybit-linear", {"im_factor": 1.5, "BTC": {"price_range": 0.12}}),
    ("span", {**SPAN, "intra_spread_charges": {"BTCM7/BTCU7": 50},
              "inter_commodity_credits": [{"legs": {"BTC": 1, "ETH": 2}, "credit_rate": 0.5}]}),
])
def test_good_portfolio_margin_values_are_accepted(tmp_path, venue, pm):
    # the checks refuse only what is out of range: the same accounts with valid values run
    res = _analyze(tmp_path, venue, pm)
    assert res.exit_code == 0, res.output
