"""A validated input file (:class:`~liqrisk.io.portfolio.PortfolioFile`, pydantic) → the model
layer's frozen dataclasses (:mod:`liqrisk.model`). Pure field mapping: every check happened in
validation, nothing is computed here."""
from __future__ import annotations

from liqrisk.io.portfolio import AccountSpec, PortfolioFile, PositionSpec, UnderlyingMarket, VenueSpec
from liqrisk.model import (Account, Collateral, EMode, Instrument, MarketState, Portfolio, Position,
                           Quote, Tier, Venue)

_VOL_SURFACE = ("term", "smile", "chain_csv")


def quote(m: UnderlyingMarket) -> Quote:
    """Mark, index and the vol block (flat number or the one surface block given)."""
    surface = {k: getattr(m, k) for k in _VOL_SURFACE if getattr(m, k) is not None}
    if surface and m.vol is not None:
        surface["vol"] = m.vol            # kept: the vol model rejects a block with two vols
    return Quote(m.mark, m.index, surface or m.vol)


def venue(v: str | VenueSpec) -> Venue:
    if isinstance(v, str):
        return Venue(v)
    brackets = None if v.brackets is None else {
        sym: tuple(Tier(**r.model_dump()) for r in rows) for sym, rows in v.brackets.items()}
    e_mode = None if v.e_mode is None else EMode(v.e_mode.liquidation_threshold, v.e_mode.liquidation_bonus,
                                                 tuple(a.upper() for a in v.e_mode.assets), v.e_mode.label)
    reserves = None if v.reserves is None else {a.upper(): dict(p) for a, p in v.reserves.items()}
    return Venue(v.name, v.version, brackets, v.taker_fee, v.liquidation_fee, v.default_leverage,
                 reserves, e_mode, v.portfolio_margin)


def position(p: PositionSpec) -> Position:
    inst = Instrument(p.kind, p.symbol, p.underlying, p.contract, p.expiry, p.strike, p.type)
    return Position(inst, p.size, p.entry, p.margin, p.mmr, p.cum, p.leverage, p.mark, p.position_side)


def account(a: AccountSpec) -> Account:
    return Account(a.id, venue(a.venue), a.mode,
                   tuple(Collateral(c, amount, haircut) for c, amount, haircut in a.collateral_items()),
                   tuple(position(p) for p in a.positions), a.leverage,
                   tuple(Collateral(c, amount) for c, amount in a.supplied_items()),
                   tuple(Collateral(c, amount) for c, amount in a.borrowed_items()))


def portfolio(pf: PortfolioFile) -> Portfolio:
    funding = {name: m.funding if isinstance(m.funding, float) else m.funding.model_dump(exclude_none=True)
               for name, m in pf.market.items() if m.funding is not None}
    market = MarketState(pf.as_of, {name: quote(m) for name, m in pf.market.items()}, pf.rate,
                         correlation=pf.correlation, funding=funding)
    return Portfolio(market, tuple(account(a) for a in pf.accounts))
