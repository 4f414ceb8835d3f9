"""Closed-form liquidation prices of every position, and the liquidation map.

Along one asset's axis, the other marks fixed, a unit falls where
``W' + side·Q·(P − EP) = Q·P·MMR_k − cum_k`` with ``W' = wallet + Σ_other (uPnL − MM)``
(Binance USDⓈ-M closed form, docs/venues.md §0/§1; the same algebra gives Hyperliquid's published
LP): ``LP = (W' + cum_k − side·Q·EP)/(Q·MMR_k − side·Q)`` for the tier k whose notional range
contains ``Q·LP``. No valid tier or ``LP ≤ 0`` → NaN (no liquidation price). Whole-position
tier tables (OKX) can liquidate at a tier edge where no per-tier root exists; those give NaN.
"""
from __future__ import annotations

import numpy as np

from liqrisk.cascade.kernels import unit_state_np
from liqrisk.cascade.population import Population
from liqrisk.cascade.result import LiquidationMap


def liquidation_prices(pop: Population, marks: np.ndarray) -> np.ndarray:
    """LP of each population position (USD; NaN where none), ``marks`` aligned with ``pop.assets``."""
    u = pop.compile()
    eq, mm, _, _, _, mm_pos = unit_state_np(marks, u)
    unit = u.unit_of_position()
    s, ep = u.size, u.entry
    q, side = np.abs(s), np.sign(s)
    w_other = (eq - mm)[unit] - s * (marks[u.asset] - ep) + mm_pos
    lo, hi = u.tier_ptr[u.tier], u.tier_ptr[u.tier + 1]
    lp = np.full(len(s), np.nan)
    for k in range(int((hi - lo).max())):
        g = np.minimum(lo + k, hi - 1)
        ok_k = lo + k < hi
        with np.errstate(divide="ignore", invalid="ignore"):
            cand = (w_other + u.t_cum[g] - side * q * ep) / (q * u.t_mmr[g] - side * q)
        cap = np.where(lo + k + 1 < hi, u.t_floor[np.minimum(lo + k + 1, len(u.t_floor) - 1)], np.inf)
        n = q * cand
        valid = ok_k & (cand > 0) & (n >= u.t_floor[g]) & (n < cap) & np.isnan(lp)
        lp[valid] = cand[valid]
    out = np.full(len(s), np.nan)
    out[u.pos_index] = lp
    return out


def liquidation_map(pop: Population, marks: np.ndarray, asset: str, n_bins: int = 60,
                    span: float = 0.3) -> LiquidationMap:
    """Notional (at the LP) of ``asset`` positions per LP bin within ``mark·(1 ± span)``."""
    i = pop.assets.index(asset)
    lp = liquidation_prices(pop, marks)
    sel = (pop.pos_asset == i) & np.isfinite(lp)
    edges = marks[i] * np.linspace(1.0 - span, 1.0 + span, n_bins + 1)
    notional = np.abs(pop.size[sel]) * lp[sel]
    long = np.histogram(lp[sel][pop.size[sel] > 0], edges, weights=notional[pop.size[sel] > 0])[0]
    short = np.histogram(lp[sel][pop.size[sel] < 0], edges, weights=notional[pop.size[sel] < 0])[0]
    return LiquidationMap(asset, float(marks[i]), edges, long, short)
