"""The market a portfolio is valued in: one snapshot, swappable under the same portfolio."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

STABLECOINS = {"USD": 1.0, "USDT": 1.0, "USDC": 1.0, "BUSD": 1.0, "FDUSD": 1.0, "DAI": 1.0}
"""USD value of the stable coins when the market does not quote them."""


@dataclass(frozen=True)
class Quote:
    """One underlying: ``mark`` and ``index`` price (USD) and its volatility — a flat annualised
    number, or a surface block as the input file gives it (``{"term": …}``, ``{"smile": […]}``,
    ``{"chain_csv": path}``; read by :func:`liqrisk.dynamics.smile.vol_model_from_market`)."""

    mark: float
    index: float | None = None
    vol: float | Mapping[str, Any] | None = None

    def vol_block(self) -> dict | None:
        """The vol as a market block (``{"vol": 0.52}`` or the surface block), None without one."""
        if self.vol is None:
            return None
        return dict(self.vol) if isinstance(self.vol, Mapping) else {"vol": self.vol}


def _copy(mapping) -> dict:
    return dict(mapping or {})


@dataclass(frozen=True)
class MarketState:
    """Marks, index prices and vols per underlying (``quotes``), at ``as_of`` (UTC), with the
    risk-free ``rate`` (annual, continuous), optional order ``books`` per underlying
    (:class:`~liqrisk.liquidity.book.OrderBook`; exit costs use them, synthetic books elsewhere;
    CLI ``--book``), ``correlation`` of returns between underlyings (``{"BTC": {"SOL": 0.8}}``,
    one entry per pair; the Monte Carlo uses it, else the bundled BTC/ETH history, else 0) and
    the ``funding`` of the perps per underlying: a rate per 8 h, ``{"csv": path}`` or
    ``{"impact_bid": …, "impact_ask": …}`` (see :func:`liqrisk.advise.funding.model_of`)."""

    as_of: datetime
    quotes: Mapping[str, Quote]
    rate: float = 0.0
    books: Mapping[str, Any] = field(default_factory=dict)
    correlation: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    funding: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        for name in ("quotes", "books", "correlation", "funding"):
            object.__setattr__(self, name, _copy(getattr(self, name)))  # a copy: the caller's dict is never shared

    @property
    def names(self) -> list[str]:
        """The quoted underlyings, in input order."""
        return list(self.quotes)

    def price(self, currency: str) -> float | None:
        """USD price of a currency: its mark, else a stable coin at 1, else None."""
        c = currency.upper()
        if c in self.quotes:
            return self.quotes[c].mark
        return STABLECOINS.get(c)

    def with_marks(self, **marks: float) -> "MarketState":
        """The same market with new marks (index and vol kept), e.g. ``with_marks(BTC=80000)``."""
        quotes = dict(self.quotes)
        for name, mark in marks.items():
            q = quotes[name]
            quotes[name] = Quote(float(mark), q.index, q.vol)
        return MarketState(self.as_of, quotes, self.rate, self.books, self.correlation, self.funding)
