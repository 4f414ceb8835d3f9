"""The terminal report prints what the user wrote: ids, asset names and notes are text, never
rich markup or emoji codes."""
from __future__ import annotations

from rich.console import Console

from liqrisk.analysis import analyze
from liqrisk.report import terminal
from tests.builders import portfolio


def test_markup_and_emoji_codes_in_user_strings_are_printed_as_written():
    pf = portfolio([{"id": "[red]desk[/red] :fire:", "venue": "binance-usdm", "collateral": {"USDT": 5000},
                     "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 0.5, "entry": 90000}]}])
    console = Console(record=True, width=200, emoji=False)
    terminal.render(analyze(pf), console)
    text = console.export_text()
    assert "[red]desk[/red] :fire:" in text
    assert "🔥" not in text


def test_the_default_console_does_not_turn_codes_into_emoji(capsys):
    pf = portfolio([{"id": "a :fire:", "venue": "binance-usdm", "collateral": {"USDT": 5000},
                     "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 0.5, "entry": 90000}]}])
    terminal.render(analyze(pf))
    out = capsys.readouterr().out
    assert "a :fire:" in out and "🔥" not in out
