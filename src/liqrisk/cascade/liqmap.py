"""Liquidation boundaries of every pool and the liquidation map, from the margin engine.

Each (pool, axis) pair of the book is searched by the engine's boundary search
(:func:`~liqrisk.margin.kernel.nearest_boundaries_nb`): the nearest price below and above the
mark, the other marks fixed, where the pool's equity meets its maintenance margin — the same
numbers ``analyze`` reports. A pool already at or past its trigger has no boundary ahead.
The map puts the USD notional of each pool's positions on the axis (longs and shorts apart) at
the boundary where the pool is liquidated, with no impact.
"""
from __future__ import annotations

import numpy as np

from liqrisk.cascade.book import Population, usd_notional
from liqrisk.cascade.result import LiquidationMap
from liqrisk.margin.kernel import coarse_grid, fine_grid, nearest_boundaries_nb


def boundaries(pop: Population, prices: np.ndarray):
    """(pair of each position, pool and axis of each pair, down, up boundary per pair; NaN:
    none) at book ``prices`` (one per book axis)."""
    a = pop.arrays
    key = pop.pos_pool() * len(pop.assets) + a.axis
    pairs, pair_of = np.unique(key, return_inverse=True)
    pools, axes = pairs // len(pop.assets), pairs % len(pop.assets)
    down, up, now = nearest_boundaries_nb(pools, axes, np.asarray(prices, float), True, coarse_grid(),
                                          fine_grid(), a.args())
    down, up = np.where(now, np.nan, down), np.where(now, np.nan, up)
    return pair_of, pools, axes, down, up


def liquidation_maps(pop: Population, prices: np.ndarray, n_bins: int = 60, span: float = 0.3) -> list:
    """One :class:`LiquidationMap` per book axis holding positions: notional at the boundary,
    per bin within ``mark·(1 ± span)``."""
    a = pop.arrays
    pair_of, _, _, down, up = boundaries(pop, prices)
    live = a.qty != 0
    out = []
    for ax in np.unique(a.axis[live]):
        sel = live & (a.axis == ax)
        edges = prices[ax] * np.linspace(1.0 - span, 1.0 + span, n_bins + 1)
        long, short = np.zeros(n_bins), np.zeros(n_bins)
        for b in (down[pair_of[sel]], up[pair_of[sel]]):
            ok = np.isfinite(b)
            q, c, basis = a.qty[sel][ok], a.contract[sel][ok], a.basis[sel][ok]
            notional = usd_notional(c, q, b[ok] * basis)
            long += np.histogram(b[ok][q > 0], edges, weights=notional[q > 0])[0]
            short += np.histogram(b[ok][q < 0], edges, weights=notional[q < 0])[0]
        out.append(LiquidationMap(pop.assets[ax], float(prices[ax]), edges, long, short))
    return out
