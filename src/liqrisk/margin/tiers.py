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

**Which tier a notional exactly at a bound is in** is the venue's convention, data of its rule set
(``RuleSet.tier_cap_inclusive``, docs/venues.md §0): tiers ``[floor, cap)`` (the bound opens the
next tier) or ``(floor, cap]`` (the bound is the tier's own maximum: KuCoin's ``maxRiskLimit``
"includes" it, OKX's ``maxSz``). The table stores as ``floor`` the least notional of each tier — the
published floor, or for ``cap_inclusive`` tables the next float above it — so that one rule,
"the last tier whose floor the notional reaches", is the lookup everywhere (here, the margin
kernel, its NumPy reference and the cascade) for both conventions.
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
    cap_inclusive: bool = False    # floor[k ≥ 1] is one float above the published bound

    @classmethod
    def from_rows(cls, rows: list[dict], deduction: bool = True, by_size: bool = False,
                  cap_inclusive: bool = False) -> "TierTable":
        """Build from dict rows with keys notional_floor, notional_cap, maint_margin_ratio and
        optionally cum and max_leverage (floors as published). A missing ``cum`` is derived by
        the recursion above from the published floors; a given ``cum`` is kept as published
        (venues round it). ``cap_inclusive``: a notional equal to a tier's cap is in that tier."""
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
        return cls(least_notional(floor, cap_inclusive), cap, mmr, cum, lev, deduction, by_size,
                   cap_inclusive)

    @classmethod
    def flat(cls, mmr: float, cum: float = 0.0, max_leverage: float = np.inf) -> "TierTable":
        """A single tier covering every notional (a per-position override)."""
        return cls(np.array([0.0]), np.array([np.inf]), np.array([float(mmr)]),
                   np.array([float(cum)]), np.array([float(max_leverage)]), True)

    def tier_index(self, notional) -> np.ndarray:
        """Index of the tier containing each |notional|: the last whose (least-notional) floor it
        reaches, so ``[floor, cap)`` tiers, or ``(floor, cap]`` for a ``cap_inclusive`` table; the
        last tier is extended to infinity. The kernel's ``_tier`` is the same rule."""
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


def least_notional(floor: np.ndarray, cap_inclusive: bool) -> np.ndarray:
    """The least notional of each tier from the published floors: the floor itself, or where a
    tier includes its cap (so the next tier starts just above it) the next float above the floor
    (tier 1 keeps 0)."""
    floor = np.asarray(floor, dtype=float)
    if not cap_inclusive or len(floor) < 2:
        return floor
    return np.concatenate([floor[:1], np.nextafter(floor[1:], np.inf)])


def cumulative_deduction(floor: np.ndarray, mmr: np.ndarray) -> np.ndarray:
    """``cum_1 = 0, cum_k = cum_{k−1} + floor_k·(MMR_k − MMR_{k−1})`` (docs/venues.md §0)."""
    steps = np.concatenate([[0.0], floor[1:] * np.diff(mmr)])
    return np.cumsum(steps)
