"""Tiered maintenance margin, written once and shared by every venue.

Two published mechanisms (docs/venues.md §0):

* **deduction ("tax-bracket") form** — Binance, Bybit, Hyperliquid:
  ``MM(n) = n·MMR_k − cum_k`` with k the tier containing the notional ``n`` and
  ``cum_1 = 0, cum_k = cum_{k−1} + floor_k·(MMR_k − MMR_{k−1})``. Continuous at tier edges and
  equal to the marginal sum ``Σ_j (min(n, cap_j) − floor_j)⁺·MMR_j``.
* **whole-position form** — OKX: the tier's MMR applies to the whole notional (no deduction),
  so MM jumps at tier edges.

A :class:`TierTable` holds one symbol's tiers as arrays (struct-of-arrays); every function here
broadcasts over notionals.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TierTable:
    """Tiers of one symbol, ascending. Notional in the venue's margin unit (USD(T) for linear,
    USD face for inverse contracts whose MM is charged in coin), or, with ``by_size``, in
    position-size units (base coin linear, USD face inverse: contracts × contract value), read
    at the position's size whatever the price (OKX's published tiers)."""

    floor: np.ndarray
    cap: np.ndarray
    mmr: np.ndarray
    cum: np.ndarray
    max_leverage: np.ndarray
    deduction: bool = True
    by_size: bool = False

    @classmethod
    def from_rows(cls, rows: list[dict], deduction: bool = True, by_size: bool = False) -> "TierTable":
        """Build from dict rows with keys notional_floor, notional_cap, maint_margin_ratio and
        optionally cum and max_leverage. A missing ``cum`` is derived by the recursion above;
        a given ``cum`` is kept as published (venues round it)."""
        rows = sorted(rows, key=lambda r: float(r["notional_floor"]))
        floor = np.array([float(r["notional_floor"]) for r in rows])
        cap = np.array([float(r["notional_cap"]) for r in rows])
        mmr = np.array([float(r["maint_margin_ratio"]) for r in rows])
        lev = np.array([float(r.get("max_leverage") or np.inf) for r in rows])
        if deduction:
            derived = cumulative_deduction(floor, mmr)
            cum = np.array([float(r["cum"]) if r.get("cum") is not None else d
                            for r, d in zip(rows, derived)])
        else:
            cum = np.zeros_like(mmr)
        return cls(floor, cap, mmr, cum, lev, deduction, by_size)

    @classmethod
    def flat(cls, mmr: float, cum: float = 0.0, max_leverage: float = np.inf) -> "TierTable":
        """A single tier covering every notional (a per-position override)."""
        return cls(np.array([0.0]), np.array([np.inf]), np.array([float(mmr)]),
                   np.array([float(cum)]), np.array([float(max_leverage)]), True)

    def tier_index(self, notional) -> np.ndarray:
        """Index of the tier whose [floor, cap) range contains each |notional|; the last tier
        is extended to infinity."""
        n = np.abs(np.asarray(notional, dtype=float))
        return np.clip(np.searchsorted(self.floor, n, side="right") - 1, 0, len(self.floor) - 1)

    def maintenance_margin(self, notional) -> np.ndarray:
        """Maintenance margin for each |notional| (same unit as the notional)."""
        n = np.abs(np.asarray(notional, dtype=float))
        k = self.tier_index(n)
        return n * self.mmr[k] - self.cum[k]

    def rate_and_cum(self, notional) -> tuple[np.ndarray, np.ndarray]:
        """(MMR, cum) of the tier containing each |notional|."""
        k = self.tier_index(notional)
        return self.mmr[k], self.cum[k]

    def max_leverage_at(self, notional) -> np.ndarray:
        """Maximum leverage allowed for each |notional|."""
        return self.max_leverage[self.tier_index(notional)]


def cumulative_deduction(floor: np.ndarray, mmr: np.ndarray) -> np.ndarray:
    """``cum_1 = 0, cum_k = cum_{k−1} + floor_k·(MMR_k − MMR_{k−1})`` (docs/venues.md §0)."""
    steps = np.concatenate([[0.0], floor[1:] * np.diff(mmr)])
    return np.cumsum(steps)
