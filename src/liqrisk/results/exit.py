"""The result of ``liqrisk exit-cost``: what closing each account's futures (or the positions
given on the command line) costs now, over a horizon and per hour of urgency (USD)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from liqrisk.results.base import Result, plain


@dataclass
class AccountExit:
    """One account's (or the command-line positions') exit: ``summary`` is the
    :class:`~liqrisk.liquidity.exit.ExitSummary` (totals, cost curve, one row per position)."""

    id: str
    summary: Any

    def to_dict(self) -> dict:
        return {"id": self.id, **self.summary.to_dict()}


@dataclass
class ExitCostAnalysis(Result):
    """``accounts`` costed, in input order; ``skipped``: one line per account that could not be
    costed and why (no book for its underlying, an order larger than the stressed book), then one
    per account whose options were left out (options are not costed)."""

    accounts: list[AccountExit]
    skipped: list[str] = field(default_factory=list)
    currency: str = "USD"

    def to_dict(self) -> dict:
        """The documented JSON document of ``liqrisk exit-cost --json``."""
        return plain({"currency": self.currency, "accounts": [a.to_dict() for a in self.accounts],
                      "skipped": self.skipped})

    def to_frame(self):
        """One row per position: the account id and the position's fields (symbol, size, price,
        notional, close-now cost and bp, levels, worst price, unfilled, hours to exit, horizon
        cost and sd, book)."""
        import pandas as pd
        return pd.DataFrame([{"account": a.id, **p} for a in self.accounts for p in a.summary.positions])
