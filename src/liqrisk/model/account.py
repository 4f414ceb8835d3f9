"""Accounts (collateral, margin mode, venue and its parameters) and the portfolio of them."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from collections.abc import Mapping

from liqrisk.model.instrument import Position
from liqrisk.model.market import MarketState


@dataclass(frozen=True)
class Tier:
    """One maintenance-margin tier; bounds in the venue's margin unit (USD or coin), or with
    ``unit="size"`` in position-size units (contracts × contract value; OKX)."""

    notional_floor: float
    notional_cap: float
    maint_margin_ratio: float
    cum: float | None = None
    max_leverage: float | None = None
    unit: str = "notional"


@dataclass(frozen=True)
class EMode:
    """An Aave efficiency-mode category: threshold and bonus for its ``assets``."""

    liquidation_threshold: float
    liquidation_bonus: float
    assets: tuple[str, ...]
    label: str | None = None


@dataclass(frozen=True)
class Venue:
    """A venue's rule set by ``name`` (binance-usdm, okx, deribit, …) and the parameters a user
    overrides: tier ``brackets`` per symbol, fees (fractions of notional), default leverage, rule
    ``version``. ``None`` = the rule set's default."""

    name: str
    version: str | None = None
    brackets: Mapping[str, tuple[Tier, ...]] | None = None
    taker_fee: float | None = None
    liquidation_fee: float | None = None
    default_leverage: float | None = None
    reserves: Mapping[str, Mapping[str, float]] | None = None   # lending: per-asset parameters
    e_mode: "EMode | None" = None                                # Aave: the account's category
    portfolio_margin: Mapping[str, object] | None = None        # scenario-margin parameters

    def __post_init__(self):
        if self.brackets is not None:
            object.__setattr__(self, "brackets", {k: tuple(v) for k, v in self.brackets.items()})


@dataclass(frozen=True)
class Collateral:
    """``amount`` of ``currency`` in the cross wallet (negative: a debt); ``haircut`` the fraction
    of its value the venue does not count (debts take none)."""

    currency: str
    amount: float
    haircut: float = 0.0


@dataclass(frozen=True)
class Account:
    """One margin account: ``mode`` cross | isolated | portfolio, cross-wallet ``collateral``,
    ``positions`` and an account-wide ``leverage`` (initial margin) if given."""

    id: str
    venue: Venue
    mode: str = "cross"
    collateral: tuple[Collateral, ...] = ()
    positions: tuple[Position, ...] = ()
    leverage: float | None = None
    supplied: tuple[Collateral, ...] = ()    # lending: assets supplied (units)
    borrowed: tuple[Collateral, ...] = ()    # lending: assets borrowed (units, positive)

    def __post_init__(self):
        for name in ("collateral", "positions", "supplied", "borrowed"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    def supplied_items(self) -> list[tuple[str, float]]:
        return [(c.currency, c.amount) for c in self.supplied]

    def borrowed_items(self) -> list[tuple[str, float]]:
        return [(c.currency, c.amount) for c in self.borrowed]

    @property
    def venue_name(self) -> str:
        return self.venue.name

    def collateral_items(self) -> list[tuple[str, float, float]]:
        """(currency, amount, haircut) triples."""
        return [(c.currency, c.amount, c.haircut) for c in self.collateral]


@dataclass(frozen=True)
class Portfolio:
    """Accounts and the market snapshot they are valued in."""

    market: MarketState
    accounts: tuple[Account, ...]

    def __post_init__(self):
        object.__setattr__(self, "accounts", tuple(self.accounts))

    @property
    def as_of(self) -> datetime:
        return self.market.as_of

    def price(self, currency: str) -> float | None:
        return self.market.price(currency)

    def with_market(self, market: MarketState) -> "Portfolio":
        """The same accounts in another market."""
        return Portfolio(market, self.accounts)
