"""The model layer: plain frozen dataclasses for what a portfolio *is* (instrument terms,
positions, accounts with their collateral and venue parameters) and for the market it is valued
in (:class:`MarketState`). No validation (that is :mod:`liqrisk.io`) and no maths (that is
:mod:`liqrisk.margin` and below): ``io`` produces these objects, ``margin`` compiles them.

Conventions: sizes signed (+ long, − short; linear in base units, inverse in USD face, options in
contracts of one underlying unit); prices in USD; coin amounts in the coin; time UTC, ACT/365;
vol annualised (0.52 = 52 %).
"""
from liqrisk.model.account import Account, Collateral, EMode, Portfolio, Tier, Venue
from liqrisk.model.instrument import Instrument, Position
from liqrisk.model.market import STABLECOINS, MarketState, Quote

__all__ = ["Account", "Collateral", "EMode", "Instrument", "MarketState", "Portfolio", "Position", "Quote",
           "STABLECOINS", "Tier", "Venue"]
