"""Importers: saved exchange answers → a portfolio document (the input file's schema).

* :mod:`.ccxt` — ccxt's unified ``fetch_positions()`` + ``fetch_balance()`` (+ ``fetch_markets()``)
  for Binance, Bybit, OKX, Deribit and Hyperliquid;
* :mod:`.deribit` — Deribit ``private/get_positions`` (+ ``private/get_account_summary``);
* :mod:`.hyperliquid` — Hyperliquid ``clearinghouseState``;
* :mod:`.live` — the same ccxt calls made with the user's own read-only credentials (optional).

Every importer returns ``(document, notes)``; :func:`finish` validates the document with the
portfolio loader, so an import that would not load fails here, naming the field.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from liqrisk.io.portfolio import InputError


def as_of_text(value, where: str = "as_of", required: bool = False) -> str:
    """ISO 8601 UTC from a datetime, an ISO string or epoch milliseconds; now if None (unless
    ``required``). A value that is no time is an InputError naming ``where``."""
    if value is None and required:
        raise InputError([f"{where}: missing"])
    if value is None:
        t = datetime.now(timezone.utc)
    elif isinstance(value, datetime):
        t = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            t = datetime.fromtimestamp(float(value) / 1000.0, timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise InputError([f"{where}: {value!r} is not a time in epoch milliseconds"]) from None
    else:
        try:
            t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise InputError([f"{where}: '{value}' is not an ISO 8601 time"]) from None
        t = t if t.tzinfo else t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def number(x, where: str, positive: bool = False) -> float:
    """A finite number from a JSON value (exchanges send numbers as strings)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise InputError([f"{where}: not a number: {x!r}"]) from None
    except OverflowError:                     # an integer beyond float range (JSON allows any)
        raise InputError([f"{where}: not finite: {str(x)[:40]}…"]) from None
    if v != v or v in (float("inf"), float("-inf")) or (positive and v <= 0):
        raise InputError([f"{where}: {'must be > 0' if positive else 'not finite'}: {x!r}"])
    return v


def mapping(x, where: str) -> dict:
    """``x`` if it is a JSON object (absent: an empty one), else InputError naming ``where``
    (saved answers are untrusted: a number where an object belongs is a located line)."""
    if x is None:
        return {}
    if not isinstance(x, dict):
        raise InputError([f"{where}: expected an object ({{...}}), got {type(x).__name__} {str(x)[:40]!r}"])
    return x


def finish(as_of: str, marks: dict[str, float], accounts: list[dict], vols: dict[str, float] | None) -> dict:
    """The portfolio document, validated by the loader (raises InputError naming the field)."""
    from liqrisk.load import parse_portfolio
    if not accounts:
        raise InputError(["positions: no open positions to import"])
    market = {u: {"mark": m, **({"vol": vols[u]} if vols and u in vols else {})} for u, m in sorted(marks.items())}
    for u in sorted(set(vols or {}) - set(market)):
        raise InputError([f"--vol {u}: no position on {u} (underlyings: {', '.join(sorted(market))})"])
    doc = {"as_of": as_of, "market": market, "accounts": accounts}
    parse_portfolio(doc)
    return doc


def read_json(path: str | Path):
    """A saved exchange answer, read like every input file (io.documents: size and nesting
    bounds, UTF-8, duplicated keys, directories and empty files are one located line)."""
    from liqrisk.io.documents import DocumentError, parse_document, read_text
    try:
        return parse_document(read_text(path, "saved exchange answer"), "json", str(path))
    except DocumentError as e:
        raise InputError([str(e)]) from None
