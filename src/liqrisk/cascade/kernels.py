"""The account check of the cascade loop: which margin units fall, and what the venue sells.

A unit is liquidated when its equity ``wallet + Σ size·(mark − entry)`` is at or below its
maintenance margin ``Σ (|size|·mark·MMR_k − cum_k)`` (tier k at the mark notional; docs/venues.md §0).
The venue's response (:mod:`liqrisk.cascade.venues`):

* step-down venues reduce every position in tier ≥ ``min_tier`` to just below its tier floor
  (one bracket lower) if that leaves ``equity − fee > MM`` at the mark; otherwise close all;
* Hyperliquid sells 20% of positions above 100k USD once per time step (cooldown), closes all
  when no position is that large, and closes all (backstop) when equity < 2/3·MM.

Screening: only units whose last computed slack ``equity − MM`` (at their reference marks)
is within the Lipschitz bound ``Σ_a grad[u,a]·|mark_a − ref[u,a]|`` are re-checked
(:func:`screen_nb`); ``grad[u,a] = Σ |size|·(1 + max MMR)`` over the unit's positions in asset a
bounds how fast the slack can shrink (exact for deduction tiers). Units holding a
whole-position tier (OKX) are flagged ``always`` and checked at every round (their ``grad`` is
also ``inf``); an unmoved mark contributes 0 to the bound and a unit is skipped only when
``slack > bound`` holds, so no NaN can hide a unit.

Outputs: ``dq`` (signed change of each position, 0 where untouched), ``outcome`` per unit
(1 partial, 2 full) and the list of touched units. :func:`liquidation_orders_nb` (numba) and
:func:`liquidation_orders_np` (NumPy reference) agree (tests/test_cascade_kernels.py).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from liqrisk.cascade.venues import HYPERLIQUID_20PCT, STEP_DOWN_TIER

PARTIAL, FULL = 1, 2
#: a stepped-down position lands this fraction below its old tier's floor (inside the lower tier)
BELOW_FLOOR = 1e-9


@njit(cache=True, nogil=True)
def _tier(notional, lo, hi, t_floor):
    k = lo
    for i in range(lo + 1, hi):
        if notional >= t_floor[i]:
            k = i
        else:
            break
    return k


@njit(cache=True, nogil=True)
def screen_nb(marks, ref, slack, grad, always, out):
    """Write into ``out`` the units that may have fallen since their last check; return count.

    A unit is skipped only when its slack provably exceeds the bound: an asset whose mark did
    not move adds nothing (so ``grad = inf`` never meets a zero move, ``inf·0``), and a NaN
    slack or bound means "check"; ``always`` units are checked every time."""
    n = 0
    for u in range(len(slack)):
        if not always[u]:
            bound = 0.0
            for a in range(len(marks)):
                d = abs(marks[a] - ref[u, a])
                if d > 0.0:
                    bound += grad[u, a] * d
            if slack[u] > bound:
                continue
        out[n] = u
        n += 1
    return n


def screen_np(marks, ref, slack, grad, always):
    """NumPy reference of :func:`screen_nb`."""
    d = np.abs(marks - ref)
    with np.errstate(invalid="ignore"):
        bound = np.where(d > 0, grad * d, 0.0).sum(axis=1)
    return np.flatnonzero(always | ~(slack > bound))


@njit(cache=True, nogil=True)
def liquidation_orders_nb(scan, marks, ptr, wallet, venue, cooldown, asset, size, entry, tier,
                          tier_ptr, t_floor, t_mmr, t_cum, v_style, v_fee, v_min_tier,
                          v_threshold, v_fraction, v_backstop, ref, slack, dq, outcome, touched):
    """Check the units in ``scan`` at ``marks`` (recording their slack and reference marks);
    write orders into ``dq``/``outcome``/``touched`` (caller's buffers, ``dq`` zero on entry)
    and return the number of touched units."""
    n_touched = 0
    for u in scan:
        a, b = ptr[u], ptr[u + 1]
        eq = wallet[u]
        mm = 0.0
        live = False
        for j in range(a, b):
            s = size[j]
            if s == 0.0:
                continue
            live = True
            m = marks[asset[j]]
            eq += s * (m - entry[j])
            k = _tier(abs(s) * m, tier_ptr[tier[j]], tier_ptr[tier[j] + 1], t_floor)
            mm += abs(s) * m * t_mmr[k] - t_cum[k]
        slack[u] = eq - mm if live else np.inf
        ref[u, :] = marks
        if not live or eq > mm:
            continue
        v = venue[u]
        kind = FULL
        if v_style[v] == STEP_DOWN_TIER:
            mm_after = 0.0
            fee = 0.0
            reduced = False
            for j in range(a, b):
                s = size[j]
                if s == 0.0:
                    continue
                m = marks[asset[j]]
                n = abs(s) * m
                lo = tier_ptr[tier[j]]
                k = _tier(n, lo, tier_ptr[tier[j] + 1], t_floor)
                if k - lo >= v_min_tier[v]:
                    target = t_floor[k] * (1.0 - BELOW_FLOOR)
                    dq[j] = -np.sign(s) * (n - target) / m
                    fee += v_fee[v] * (n - target)
                    mm_after += target * t_mmr[k - 1] - t_cum[k - 1]
                    reduced = True
                else:
                    mm_after += n * t_mmr[k] - t_cum[k]
            if reduced and eq - fee > mm_after:
                kind = PARTIAL
        elif v_style[v] == HYPERLIQUID_20PCT and eq >= v_backstop[v] * mm:
            if cooldown[u]:
                continue
            for j in range(a, b):
                if abs(size[j]) * marks[asset[j]] > v_threshold[v]:
                    dq[j] = -v_fraction[v] * size[j]
                    kind = PARTIAL
        if kind == FULL:
            for j in range(a, b):
                dq[j] = -size[j]
        outcome[u] = kind
        touched[n_touched] = u
        n_touched += 1
    return n_touched


def tier_index_np(notional, tier, tier_ptr, t_floor):
    """Global tier index (into the concatenated tier arrays) of each position's notional."""
    k = np.empty(len(notional), np.int64)
    for t in np.unique(tier):
        sel = tier == t
        lo, hi = tier_ptr[t], tier_ptr[t + 1]
        k[sel] = lo + np.clip(np.searchsorted(t_floor[lo:hi], notional[sel], side="right") - 1, 0, hi - lo - 1)
    return k


def unit_state_np(marks, units, size=None, wallet=None):
    """Equity, maintenance margin and live flag per unit, plus per-position (notional, global
    tier, MM) — vectorised over all positions of ``units`` (a :class:`MarginUnits`)."""
    size = units.size if size is None else size
    wallet = units.wallet if wallet is None else wallet
    unit = units.unit_of_position()
    m = marks[units.asset]
    n = np.abs(size) * m
    k = tier_index_np(n, units.tier, units.tier_ptr, units.t_floor)
    mm_pos = np.where(size != 0, n * units.t_mmr[k] - units.t_cum[k], 0.0)
    nu = len(wallet)
    eq = wallet + np.bincount(unit, size * (m - units.entry), minlength=nu)
    mm = np.bincount(unit, mm_pos, minlength=nu)
    live = np.bincount(unit, size != 0, minlength=nu) > 0
    return eq, mm, live, n, k, mm_pos


def liquidation_orders_np(marks, units, size, wallet, cooldown, rules):
    """NumPy reference of :func:`liquidation_orders_nb`: returns (dq, outcome, touched)."""
    eq, mm, live, n, k, mm_pos = unit_state_np(marks, units, size, wallet)
    unit = units.unit_of_position()
    v = units.venue
    style = rules["style"][v]
    flagged = live & (eq <= mm)
    pv = v[unit]
    step = (style[unit] == STEP_DOWN_TIER) & (size != 0)
    can = step & (k - units.tier_ptr[units.tier] >= rules["min_tier"][pv])
    target = units.t_floor[k] * (1.0 - BELOW_FLOOR)
    nu = len(wallet)
    fee = np.bincount(unit, np.where(can, rules["fee"][pv] * (n - target), 0.0), minlength=nu)
    mm_after = np.bincount(unit, np.where(can, target * units.t_mmr[k - 1] - units.t_cum[k - 1], mm_pos),
                           minlength=nu)
    reduced = np.bincount(unit, can, minlength=nu) > 0
    step_partial = (style == STEP_DOWN_TIER) & reduced & (eq - fee > mm_after)
    big = (style[unit] == HYPERLIQUID_20PCT) & (n > rules["threshold"][pv])
    hl_ok = (style == HYPERLIQUID_20PCT) & (eq >= rules["backstop"][v] * mm)
    act = flagged & ~(hl_ok & cooldown)
    hl_partial = hl_ok & (np.bincount(unit, big, minlength=nu) > 0)
    partial = act & (step_partial | hl_partial)
    full = act & ~partial
    with np.errstate(invalid="ignore", divide="ignore"):
        part_dq = np.where(can, -np.sign(size) * (n - target) / marks[units.asset],
                           np.where(big, -rules["fraction"][pv] * size, 0.0))
    dq = np.where(full[unit], -size, np.where(partial[unit], part_dq, 0.0))
    outcome = np.where(full, FULL, np.where(partial, PARTIAL, 0)).astype(np.int8)
    return dq, outcome, np.flatnonzero(act)
