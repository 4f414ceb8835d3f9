"""Instrument terms and positions (what is held, not what it is worth)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Instrument:
    """Contract terms. ``kind``: perp | future | option | spot; ``symbol`` as the venue lists it
    (BTCUSDT, BTC-USDT-SWAP) or ``underlying`` (BTC); ``contract`` linear | inverse when the venue
    trades both; options carry ``strike`` (USD), ``type`` call | put and ``expiry`` (UTC)."""

    kind: str
    symbol: str | None = None
    underlying: str | None = None
    contract: str | None = None
    expiry: datetime | None = None
    strike: float | None = None
    type: str | None = None


def _term(name: str) -> property:
    return property(lambda self: getattr(self.instrument, name), doc=f"``instrument.{name}``")


@dataclass(frozen=True)
class Position:
    """A signed holding of one instrument. ``entry``: entry price (USD), or the premium paid in
    coin per option contract; ``margin``: isolated margin in the settlement currency (a position
    with a margin is isolated). Overrides that reproduce what a venue shows today: ``mmr``/``cum``
    (a flat tier), ``leverage`` (initial margin), ``mark`` (futures: a basis to the underlying held
    fixed; options: the premium in coin whose implied vol is used), ``position_side`` (hedge mode).

    The instrument's terms read through (``position.kind`` = ``position.instrument.kind``), so
    rule sets see one flat record."""

    instrument: Instrument
    size: float
    entry: float | None = None
    margin: float | None = None
    mmr: float | None = None
    cum: float | None = None
    leverage: float | None = None
    mark: float | None = None
    position_side: str | None = None

    kind = _term("kind")
    symbol = _term("symbol")
    underlying = _term("underlying")
    contract = _term("contract")
    expiry = _term("expiry")
    strike = _term("strike")
    type = _term("type")
