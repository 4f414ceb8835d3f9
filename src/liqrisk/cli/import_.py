"""`liqrisk import ccxt|deribit|hyperliquid FILE`: saved exchange answers → a portfolio file."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
import yaml

from liqrisk.cli import limits as L
from liqrisk.cli._app import LiqriskTyper, app
from liqrisk.cli.errors import fail_on_bad_input
from liqrisk.io import limits

import_app = LiqriskTyper(no_args_is_help=True, help="Turn saved exchange answers into a portfolio file "
                                                    "(validated; review vols before analysing).")
app.add_typer(import_app, name="import")

_OUT = typer.Option(None, "-o", "--output", help="write here (.yaml or .json); default: stdout (YAML)")
_AS_OF = typer.Option(None, "--as-of", metavar="TIME", help="snapshot time (ISO 8601); default: the dump's, else now")
_VOL = typer.Option(None, "--vol", metavar="ASSET=VOL", help="annualised vol of an underlying, UNDERLYING=0.55 (repeatable)")


def _pairs(specs: list[str] | None, option: str) -> dict[str, float]:
    out = {}
    for spec in specs or []:
        key, sep, value = spec.partition("=")
        try:
            out[key.strip().upper()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not key.strip():
            typer.echo(f"error: {option} {spec}: expected NAME=NUMBER", err=True)
            raise typer.Exit(2)
    return out


def _as_of(value: str | None) -> str | None:
    """The ``--as-of`` flag as ISO 8601 UTC (None: the importer's default); an InputError naming
    the flag, not the file's ``as_of`` field, when it is no time."""
    from liqrisk.importers import as_of_text
    return None if value is None else as_of_text(value, "--as-of")


def _write(doc: dict, notes: list[str], output: Path | None) -> None:
    for n in notes:
        typer.echo(f"note: {n}", err=True)
    text = json.dumps(doc, indent=1) if output and output.suffix.lower() == ".json" else \
        yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)
        typer.echo(f"wrote {output} ({len(doc['accounts'])} accounts)", err=True)


@import_app.command("ccxt")
def ccxt_command(
    dump: str = typer.Argument(..., help="saved {exchange, positions, balance, markets} JSON; with --live: the ccxt exchange id"),
    venue: str = typer.Option(None, "--venue", metavar="VENUE", help="liqrisk venue for every position (default: from the exchange and contract)"),
    output: Path = _OUT, as_of: str = _AS_OF, vol: list[str] = _VOL,
    balance: str = typer.Option(None, "--balance", metavar="KIND", help="equity: the balance totals include PnL (ccxt's "
                                "convention but on Bybit); wallet: they are the wallet (Bybit); default: "
                                "the exchange's convention"),
    live: bool = typer.Option(False, "--live", help="fetch now with your own read-only API keys "
                              "(env LIQRISK_CCXT_KEY / LIQRISK_CCXT_SECRET; needs the ccxt extra)"),
    max_file_mb: L.MaxFileMb = None, max_depth: L.MaxDepth = None,
) -> None:
    """ccxt's fetch_positions() + fetch_balance() (+ fetch_markets()) → portfolio."""
    from liqrisk.importers import ccxt, read_json
    from liqrisk.margin.registry import RULE_SETS
    if balance not in (None, "equity", "wallet"):
        typer.echo("error: --balance: equity or wallet", err=True)
        raise typer.Exit(2)
    if venue is not None and venue not in RULE_SETS:
        typer.echo(f"error: --venue {venue}: unknown venue (known: {', '.join(RULE_SETS)})", err=True)
        raise typer.Exit(2)
    with fail_on_bad_input(), limits.using(max_file_mb=max_file_mb, max_depth=max_depth):
        if live:
            from liqrisk.importers.live import fetch_dump
            data = fetch_dump(dump)
        else:
            data = read_json(dump)
        doc, notes = ccxt.from_dump(data, venue, _as_of(as_of), _pairs(vol, "--vol"), balance)
    _write(doc, notes, output)


@import_app.command("deribit")
def deribit_command(
    file: str = typer.Argument(..., help="private/get_positions answer, or {positions, account_summaries}"),
    collateral: list[str] = typer.Option(None, "--collateral", metavar="CCY=AMOUNT", help="wallet of a currency, BTC=1.5 (repeatable)"),
    output: Path = _OUT, as_of: str = _AS_OF, vol: list[str] = _VOL,
    max_file_mb: L.MaxFileMb = None, max_depth: L.MaxDepth = None,
) -> None:
    """Deribit private/get_positions (+ get_account_summary) → portfolio."""
    from liqrisk.importers import deribit, read_json
    with fail_on_bad_input(), limits.using(max_file_mb=max_file_mb, max_depth=max_depth):
        doc, notes = deribit.from_response(read_json(file), _pairs(collateral, "--collateral"), _as_of(as_of),
                                           _pairs(vol, "--vol"))
    _write(doc, notes, output)


@import_app.command("hyperliquid")
def hyperliquid_command(
    file: str = typer.Argument(..., help="clearinghouseState answer, or {user: state}"),
    output: Path = _OUT, as_of: str = _AS_OF, vol: list[str] = _VOL,
    max_file_mb: L.MaxFileMb = None, max_depth: L.MaxDepth = None,
) -> None:
    """Hyperliquid clearinghouseState → portfolio."""
    from liqrisk.importers import hyperliquid, read_json
    with fail_on_bad_input(), limits.using(max_file_mb=max_file_mb, max_depth=max_depth):
        doc, notes = hyperliquid.from_state(read_json(file), _as_of(as_of), _pairs(vol, "--vol"))
    _write(doc, notes, output)
