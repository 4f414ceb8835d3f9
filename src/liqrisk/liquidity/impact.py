"""Market-impact models. One pattern (scikit-learn style: parameters in the constructor):

    model.slippage(order, price)  relative shortfall of the average fill vs ``price`` (fraction)
    model.cost(order, price)      quote-currency cost = slippage * |order| * price
    model.permanent(order, price) relative price move that stays after the trade
    model.stressed(s)             the same model with depth thinned by ``s``

``order`` is signed base units (scalar or array; the sign does not change the cost).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

#: Order-of-magnitude 24h volumes (base units) of the most liquid USDT perpetuals
#: (Binance BTCUSDT ~ $10-15bn/day, ETHUSDT ~ $8-10bn/day in 2025). Assumptions, not data:
#: override with the venue's own figure.
DAILY_VOLUME = {"BTC": 150_000.0, "ETH": 3_000_000.0}


@dataclass(frozen=True)
class LinearImpact:
    """Kyle (1985) linear impact: the whole order fills at a price moved by ``kyle_lambda * |order|
    * price`` (``kyle_lambda`` in relative move per quote unit, the unit of Amihud's ILLIQ).
    ``permanent_fraction`` of the move stays (Kyle: all of it)."""

    kyle_lambda: float
    permanent_fraction: float = 1.0
    book_source: str = "model"

    def slippage(self, order, price):
        return self.kyle_lambda * np.abs(np.asarray(order, float)) * np.asarray(price, float)

    def cost(self, order, price):
        return self.slippage(order, price) * np.abs(np.asarray(order, float)) * np.asarray(price, float)

    def permanent(self, order, price):
        return self.permanent_fraction * self.slippage(order, price)

    def stressed(self, stress: float) -> LinearImpact:
        return replace(self, kyle_lambda=self.kyle_lambda * stress)


@dataclass(frozen=True)
class SquareRootImpact:
    """Square-root law: relative impact ``Y * sigma_daily * sqrt(|Q| / V)`` with ``V`` the daily
    volume (base units) and ``sigma_daily = sigma_annual / sqrt(365)`` (Tóth et al. 2011,
    Phys. Rev. X 1, 021006: Y of order 1; Almgren et al. 2005 for equities). The whole order is
    charged the peak impact (conservative); after the trade about 2/3 of it remains
    (Bershova & Rakhlin 2013; Bouchaud et al. 2018 ch. 12), ``permanent_fraction``."""

    sigma: float
    daily_volume: float
    y: float = 1.0
    permanent_fraction: float = 2.0 / 3.0
    book_source: str = "model"

    @classmethod
    def for_underlying(cls, underlying: str, sigma: float, **kw) -> SquareRootImpact:
        """Defaults for ``"BTC"``/``"ETH"`` from :data:`DAILY_VOLUME`, Y = 1."""
        return cls(sigma=sigma, daily_volume=DAILY_VOLUME[underlying], **kw)

    def slippage(self, order, price=None):
        q = np.abs(np.asarray(order, float))
        return self.y * self.sigma / np.sqrt(365.0) * np.sqrt(q / self.daily_volume)

    def cost(self, order, price):
        return self.slippage(order) * np.abs(np.asarray(order, float)) * np.asarray(price, float)

    def permanent(self, order, price=None):
        return self.permanent_fraction * self.slippage(order)

    def stressed(self, stress: float) -> SquareRootImpact:
        """Depth thinned by ``stress`` as everywhere else: the daily volume divided by
        ``stress``, i.e. impact times ``sqrt(stress)`` (Y is left unchanged)."""
        return replace(self, daily_volume=self.daily_volume / stress)
