"""Synthetic order books calibrated to the packaged OHLCV series (no real book ships offline).

Model (documented in docs/liquidity.md), for volatility sigma (annualised) and stress s >= 1:

    spread(sigma, s) = S_ref * (sigma / sigma_ref) * s                 (relative, ask - bid over mid)
    depth(sigma, s)  = D_ref * (sigma_ref / sigma) / s                 (base units per unit of
                                                                        relative distance beyond the touch)

S_ref: Corwin & Schultz (2012) high-low spread estimator; D_ref = 1 / Amihud (2002) illiquidity
(|log return| per base unit traded), both on the last 90 days of Coinbase hourly BTC/USD.
ETH is scaled from BTC by the ratio of the same estimators on Bitstamp daily BTC and ETH.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from liqrisk.dynamics.ohlc import bundled_columns
from liqrisk.liquidity.book import BookError, OrderBook

_K = 3.0 - 2.0 * np.sqrt(2.0)


def corwin_schultz_spread(high, low) -> float:
    """Corwin & Schultz (2012, J. Finance 67(2), eqs. 14, 18) mean relative spread from
    consecutive bar pairs; two-bar estimates averaged unclipped, then floored at 0."""
    high, low = np.asarray(high, float), np.asarray(low, float)
    beta = np.log(high[:-1] / low[:-1]) ** 2 + np.log(high[1:] / low[1:]) ** 2
    gamma = np.log(np.maximum(high[:-1], high[1:]) / np.minimum(low[:-1], low[1:])) ** 2
    alpha = (np.sqrt(2 * beta) - np.sqrt(beta)) / _K - np.sqrt(gamma / _K)
    return max(float(np.mean(2 * (np.exp(alpha) - 1) / (1 + np.exp(alpha)))), 0.0)


def amihud_illiquidity(close, volume) -> float:
    """Amihud (2002) illiquidity mean(|r_t| / volume_t), r = log return, volume in base units
    (bars with zero volume skipped). Unit: relative price move per base unit traded."""
    close, volume = np.asarray(close, float), np.asarray(volume, float)
    r, v = np.abs(np.diff(np.log(close))), volume[1:]
    return float(np.mean(r[v > 0] / v[v > 0]))


def realised_vol(close, periods_per_year: float) -> float:
    """Annualised standard deviation of log returns."""
    return float(np.std(np.diff(np.log(np.asarray(close, float))), ddof=1) * np.sqrt(periods_per_year))


@dataclass(frozen=True)
class BookCalibration:
    """Reference spread (relative), depth (base units per unit relative distance), vol."""

    spread_ref: float
    depth_ref: float
    sigma_ref: float
    source: str

    def spread(self, sigma: float, stress: float = 1.0) -> float:
        return self.spread_ref * sigma / self.sigma_ref * stress

    def depth(self, sigma: float, stress: float = 1.0) -> float:
        return self.depth_ref * self.sigma_ref / sigma / stress


@lru_cache(maxsize=None)
def calibration(underlying: str) -> BookCalibration:
    """Calibration for ``"BTC"`` or ``"ETH"`` (see module docstring)."""
    if underlying not in ("BTC", "ETH"):
        raise BookError(f"no synthetic-book calibration for {underlying!r} (BTC, ETH); give a book")
    hourly = bundled_columns("btcusd_1h_coinbase.csv", 90 * 24)
    btc = BookCalibration(corwin_schultz_spread(hourly["high"], hourly["low"]),
                          1.0 / amihud_illiquidity(hourly["close"], hourly["volume"]),
                          realised_vol(hourly["close"], 24 * 365),
                          "Coinbase BTC/USD hourly, last 90 days to 2019-10-17")
    if underlying == "BTC":
        return btc
    daily = bundled_columns("btc_eth_usd_1d_bitstamp.csv", 365)
    ratio = [e / b for e, b in zip(_estimates(daily, "eth"), _estimates(daily, "btc"))]
    return BookCalibration(btc.spread_ref * ratio[0], btc.depth_ref / ratio[1], btc.sigma_ref * ratio[2],
                           "BTC calibration scaled by Bitstamp ETH/BTC daily ratios, 365 days to 2020-01-17")


def _estimates(daily: dict[str, np.ndarray], a: str) -> tuple[float, float, float]:
    return (corwin_schultz_spread(daily[f"{a}_high"], daily[f"{a}_low"]),
            amihud_illiquidity(daily[f"{a}_close"], daily[f"{a}_volume"]),
            realised_vol(daily[f"{a}_close"], 365))


def underlying_of(symbol: str) -> str:
    """``BTCUSDT``, ``BTC-PERP``, ``btc`` -> ``BTC``; the base asset of a symbol."""
    s = symbol.upper()
    for base in ("BTC", "ETH"):
        if s.startswith(base):
            return base
    return s.split("-")[0].split("/")[0]


@lru_cache(maxsize=4096)
def synthetic_book(mid: float, sigma: float, stress: float = 1.0, underlying: str = "BTC",
                   level_bps: float = 1.0, extent: float = 0.10) -> OrderBook:
    """Book around ``mid`` with levels every ``level_bps`` out to ``extent`` (relative) beyond
    the touch, each holding depth(sigma, stress) * level_bps * 1e-4 base units. Cached: the same
    book serves every account with the same mark (an OrderBook is immutable)."""
    if not (mid > 0 and sigma > 0 and stress > 0):
        raise BookError(f"synthetic book needs mid, sigma, stress > 0 (got {mid}, {sigma}, {stress})")
    cal = calibration(underlying)
    dist = cal.spread(sigma, stress) / 2 + np.arange(int(round(extent * 1e4 / level_bps))) * level_bps * 1e-4
    amount = np.full_like(dist, cal.depth(sigma, stress) * level_bps * 1e-4)
    return OrderBook(np.column_stack([mid * (1 - dist), amount]), np.column_stack([mid * (1 + dist), amount]),
                     None, "synthetic", f"synthetic {underlying} (sigma={sigma:g}, stress={stress:g})")
