"""Per-account results: the margin state (:class:`~liqrisk.margin.account.AccountMargin`) plus the
answers to the other questions — probability of liquidation per horizon, risk (VaR/ES, time to
liquidation, which model), and the cost of exiting. Money: margin fields in the account's
settlement currency; ``risk`` and ``exit`` in USD."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from liqrisk.margin.account import AccountMargin
from liqrisk.results.base import Result, plain


@dataclass
class RiskResult(Result):
    """Risk of one account from the Monte Carlo. ``var99``/``es99``: 99 % value at risk and
    expected shortfall of the equity loss per horizon (USD); time-to-liquidation quantiles (hours)
    and histogram, conditional on liquidation; ``model`` the path model that ran, ``model_info``
    how it was set up and why, ``model_range`` per horizon the probability under each other
    applicable model (model risk); ``driver`` per horizon the margin pool with the largest
    probability (None: none liquidated; 0 when liquidatable now); ``max_loss`` the holder's stake at
    t=0 — the equity, a pool's deficit (equity below 0) not counted — the most that can be lost
    (the loss of a liquidated pool stops at its liquidation point, fee charged, never below 0)."""

    model: str
    var99: dict[str, float | None]
    es99: dict[str, float | None]
    time_to_liquidation_quantiles_hours: dict[str, float | None]
    time_to_liquidation_histogram: dict | None = None
    currency: str = "USD"
    model_info: dict[str, Any] | None = None
    model_range: dict[str, dict[str, float]] = field(default_factory=dict)
    driver: dict[str, str | None] = field(default_factory=dict)
    max_loss: float | None = None

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        for optional in ("time_to_liquidation_histogram", "model_info", "model_range", "driver", "max_loss"):
            if d[optional] is None or (not d[optional] and optional != "max_loss"):   # a max loss of 0 is one
                d.pop(optional)
        return plain(d)


@dataclass
class ExitResult(Result):
    """What getting out costs (USD): ``close_now_cost`` (one market order through the book) and
    in bp of notional, ``horizon_cost`` spread over ``horizon_hours``, time to exit at the
    participation rate, the forced ``liquidation_cost`` at the boundaries and the
    ``insurance_shortfall`` (loss beyond the margin), the cost-vs-time curve, which ``book``
    (snapshot | synthetic) and what was ``not_costed``. Costs are None when nothing was costed.
    An account already liquidatable is costed as liquidated now at the marks, and
    ``equity_shortfall`` is −equity when its equity is negative (0 otherwise; None when not
    liquidatable now)."""

    close_now_cost: float | None
    close_now_bps: float | None
    liquidation_cost: float | None
    insurance_shortfall: float | None
    time_to_exit_hours: float | None
    horizon_hours: float
    horizon_cost: float | None
    book: str | None
    currency: str = "USD"
    cost_vs_exit_hours: dict[float, float] = field(default_factory=dict)
    not_costed: list[str] = field(default_factory=list)
    equity_shortfall: float | None = None


def _fields(obj) -> dict:
    """A flat dataclass's fields (no deep copy: ``asdict`` copies every value)."""
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


@dataclass
class AccountResult(AccountMargin, Result):
    """An account's margin state plus, when they were asked for, ``probability`` per requested
    horizon (estimates with ``p``, ``stderr``, ``ci95``, ``paths``, ``method``), the standard
    ``term_structure`` horizons within the window, ``pools`` (per margin pool — "cross",
    "isolated ETHUSDT" — the same per horizon), ``risk``, ``exit`` and ``funding`` (when a perp
    pays funding: P with and without it per horizon, :func:`liqrisk.advise.funding.funding_block`)."""

    probability: dict[str, Any] | None = None
    term_structure: dict[str, Any] | None = None
    pools: dict[str, dict[str, Any]] | None = None
    risk: RiskResult | None = None
    exit: ExitResult | None = None
    funding: dict[str, Any] | None = None

    @classmethod
    def of(cls, margin: AccountMargin) -> "AccountResult":
        """An account result holding ``margin`` and no other answer yet."""
        return cls(**{f.name: getattr(margin, f.name) for f in fields(AccountMargin)})

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(AccountMargin)}
        d["positions"] = [_fields(p) for p in self.positions]
        for block in ("probability", "term_structure", "pools", "risk", "exit", "funding"):
            if getattr(self, block) is not None:
                d[block] = getattr(self, block)
        return plain(d)

    def horizons(self) -> list[str]:
        """Every horizon with a probability (requested and term structure), shortest first."""
        from liqrisk.analysis import parse_horizon
        return sorted({**(self.term_structure or {}), **(self.probability or {})}, key=parse_horizon)

    def estimate(self, horizon: str):
        """The probability estimate at ``horizon`` (requested or term structure)."""
        return {**(self.term_structure or {}), **(self.probability or {})}[horizon]

    def to_frame(self):
        """One row per position (the account's id, venue and settlement currency repeated)."""
        import pandas as pd
        rows = [{"account": self.id, "venue": self.venue, "currency": self.settlement_currency, **_fields(p)}
                for p in self.positions]
        return pd.DataFrame(rows)
