"""The account check of the cascade loop: which margin pools fall, and what their venue sells.

A pool falls when its equity is at or below its maintenance margin, both from the margin
engine's :func:`~liqrisk.margin.kernel.pool_state_nb` on the one compiled book (every rule set,
contract and collateral leg; options repriced at the step's time). What the venue then does is
its rule set's :class:`~liqrisk.margin.base.LiquidationResponse`:

* ``LIQ_STEP_DOWN`` — every position in tier ≥ ``min_tier`` is reduced to just below its tier's
  floor (one bracket lower); kept if that leaves ``equity − fee > MM`` (MM from the kernel at the
  reduced sizes), otherwise everything is closed;
* ``LIQ_FRACTION`` — positions above ``threshold_usd`` are reduced by ``fraction`` (not again
  while the pool is in cooldown); everything when none is that large or equity <
  ``backstop_ratio``·MM;
* ``LIQ_FUTURES_FIRST`` — the futures are closed; the options too unless that leaves
  ``equity − fee > MM``;
* ``LIQ_FULL`` — everything is closed.

Screening: only pools whose last slack ``equity − MM`` is within the Lipschitz bound
``Σ_a grad[p,a]·|mark_a − ref[p,a]|`` are re-checked (:func:`screen_nb`; the engine screens
all pools with a pad, then only that candidate list while the marks stay within the pad). :func:`screen_bounds`
gives ``grad`` where the slope of the slack is bounded in closed form (USD pools of linear
contracts with continuous tiers, entry-value MM or size-fixed tiers, and stable or coin
collateral, loans included); every other pool (inverse, options, coin-settled, scenario margin,
whole-position tiers read at the mark) is ``always`` checked. An unmoved mark adds 0 to the bound and a pool is skipped only when
``slack > bound``, so no NaN can hide a pool.

:func:`liquidation_orders_nb` (numba) and :func:`liquidation_orders_np` (NumPy over the margin
kernel's ``pools_states_nb``) agree (tests/cascade/test_kernels.py).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
from numba import njit

import liqrisk._jitcache  # noqa: F401,E402  (before any cached kernel: see its docstring)

from liqrisk.margin.base import (INVERSE, INVERSE_OPTION, LINEAR, LIQ_FRACTION, LIQ_FUTURES_FIRST,
                                 LIQ_STEP_DOWN, MM_ENTRY_VALUE, MM_TIERS_AT_MARK, MM_WHOLE_TIER_FEE,
                                 NOTIONAL_COIN, NOTIONAL_QUOTE, NOTIONAL_SIZE)
from liqrisk.margin import kernel as K
from liqrisk.margin.kernel import _tier, _tier_notional, pool_state_nb, pools_states_nb, position_state_nb

PARTIAL, FULL = 1, 2
#: a stepped-down position lands this fraction below its old tier's floor (inside the lower tier)
BELOW_FLOOR = 1e-9


@njit(cache=True, nogil=True)
def screen_nb(pools, marks, pad, ref, slack, grad, always, out):
    """Write into ``out`` those of ``pools`` that may have fallen since their last check, or
    would once the marks move ``pad`` further (per axis, ≥ 0); return the count.

    A pool is skipped only when its slack provably exceeds the bound
    ``Σ_a grad·(|mark_a − ref_a| + pad_a)``: an axis with no move and no pad adds nothing (so
    ``grad = inf`` never meets a zero, ``inf·0``), and a NaN slack or bound means "check";
    ``always`` pools are checked every time."""
    n = 0
    for u in pools:
        if not always[u]:
            bound = 0.0
            for a in range(len(marks)):
                d = abs(marks[a] - ref[u, a]) + pad[a]
                if d > 0.0:
                    bound += grad[u, a] * d
            if slack[u] > bound:
                continue
        out[n] = u
        n += 1
    return n


def screen_np(pools, marks, pad, ref, slack, grad, always):
    """NumPy reference of :func:`screen_nb`."""
    d = np.abs(marks - ref[pools]) + pad
    with np.errstate(invalid="ignore"):
        bound = np.where(d > 0, grad[pools] * d, 0.0).sum(axis=1)
    return pools[always[pools] | ~(slack[pools] > bound)]


def screen_bounds(a, n_axes: int) -> tuple[np.ndarray, np.ndarray]:
    """(grad (n_pools, n_axes), always (n_pools,)) for :func:`screen_nb` from the pool arrays
    ``a``. Sizes only shrink during a cascade, so bounds from the opening sizes stay valid."""
    n_pools = len(a.const_usd)
    pool = np.repeat(np.arange(n_pools), a.pos_end - a.pos_start)
    mmr_max = np.zeros(len(a.qty))
    continuous = np.ones(len(a.qty), bool)
    for lo, hi in set(zip(a.tier_start.tolist(), a.tier_end.tolist())):
        if hi <= lo:
            continue
        sel = a.tier_start == lo
        f, m, c = a.t_floor[lo:hi], a.t_mmr[lo:hi], a.t_cum[lo:hi]
        jump = np.abs(f[1:] * (m[:-1] - m[1:]) - (c[:-1] - c[1:]))
        continuous[sel] = bool((jump <= 1e-9 * np.maximum(1.0, f[1:] * m[1:])).all())
        mmr_max[sel] = m.max()
    code, mode = a.mm_code, a.notional_mode
    slope = np.where(code == MM_WHOLE_TIER_FEE, mmr_max + a.p1, np.where(code == MM_ENTRY_VALUE, 0.0, mmr_max))
    ok = (a.contract == LINEAR) & (
        ((code == MM_TIERS_AT_MARK) & (mode == NOTIONAL_QUOTE) & continuous)
        | (code == MM_ENTRY_VALUE) | ((code == MM_WHOLE_TIER_FEE) & (mode == NOTIONAL_SIZE)))
    g = np.where(ok, np.abs(a.qty) * a.basis * (1.0 + slope), np.inf)
    grad = np.zeros((n_pools, n_axes))
    np.add.at(grad, (pool, a.axis), g)
    leg_pool = np.repeat(np.arange(n_pools), a.leg_end - a.leg_start)
    np.add.at(grad, (leg_pool, a.leg_axis), np.abs(a.leg_amount) * (1.0 + np.abs(a.leg_mm)))
    always = (np.bincount(pool, ~ok, minlength=n_pools) > 0) | (a.settle_axis >= 0) | (a.sc_end > a.sc_start)
    return grad, always


@njit(cache=True, nogil=True)
def _notional_usd(contract, aq, price):
    """USD notional: inverse contracts their face, linear contracts and options |q|·P."""
    return aq if contract == INVERSE else aq * price


@njit(cache=True, nogil=True)
def _set_sizes(a, b, qty, p2, notional_mode, new_qty):
    """Set positions a … b−1 to ``new_qty`` (a size-fixed tier's p2 scales with the size)."""
    for j in range(a, b):
        if notional_mode[j] == NOTIONAL_SIZE and qty[j] != 0.0:
            p2[j] *= new_qty[j - a] / qty[j]
        qty[j] = new_qty[j - a]


@njit(cache=True, nogil=True)
def liquidation_orders_nb(scan, prices, t, arrs, pool_resp, r_style, r_min_tier, r_threshold, r_fraction,
                          r_backstop, cooldown, fee, ref, slack, dq, outcome, touched):
    """Check the pools in ``scan`` at ``prices`` (one per book axis) and ``t`` years, recording
    their slack and reference prices; write orders into ``dq``/``outcome``/``touched`` (caller's
    buffers, ``dq`` zero on entry) and return the number of touched pools."""
    pool_i, pos_i, pos_f, tiers = arrs[0], arrs[2], arrs[3], arrs[4]
    pos_start, pos_end, axis, contract = pool_i[K.POS_START], pool_i[K.POS_END], pos_i[K.AXIS], pos_i[K.CONTRACT]
    notional_mode, tier_start, tier_end = pos_i[K.NOTIONAL_MODE], pos_i[K.TIER_START], pos_i[K.TIER_END]
    qty, basis, p2, t_floor = pos_f[K.QTY], pos_f[K.BASIS], pos_f[K.P2], tiers[K.T_FLOOR]
    n_touched = 0
    for p in scan:
        a, b = pos_start[p], pos_end[p]
        ref[p, :] = prices
        live = False
        for j in range(a, b):
            live |= qty[j] != 0.0
        if not live:
            slack[p] = np.inf
            continue
        eq, mm = pool_state_nb(p, prices, t, arrs)
        slack[p] = eq - mm
        if eq > mm:
            continue
        r = pool_resp[p]
        style = r_style[r]
        kind = FULL
        if style == LIQ_FRACTION and eq >= r_backstop[r] * mm:
            if cooldown[p]:
                continue
            for j in range(a, b):
                if _notional_usd(contract[j], abs(qty[j]), prices[axis[j]] * basis[j]) > r_threshold[r]:
                    dq[j] = -r_fraction[r] * qty[j]
                    kind = PARTIAL
        elif style == LIQ_STEP_DOWN or style == LIQ_FUTURES_FIRST:
            fee_sum = 0.0
            reduced = False
            for j in range(a, b):
                q = qty[j]
                if q == 0.0:
                    continue
                P = prices[axis[j]] * basis[j]
                if style == LIQ_STEP_DOWN:
                    lo = tier_start[j]
                    n = _tier_notional(notional_mode[j], abs(q), P, p2[j])
                    k = _tier(n, lo, tier_end[j], tiers)
                    if tier_end[j] <= lo or k - lo < r_min_tier[r] or not n > 0.0:
                        continue
                    d = -q * (1.0 - t_floor[k] * (1.0 - BELOW_FLOOR) / n)
                elif contract[j] != INVERSE_OPTION:
                    d = -q
                else:
                    continue
                dq[j] = d
                fee_sum += fee[j] * _notional_usd(contract[j], abs(d), P)
                reduced = True
            if reduced:
                saved_q = qty[a:b].copy()
                saved_p2 = p2[a:b].copy()
                _set_sizes(a, b, qty, p2, notional_mode, saved_q + dq[a:b])
                left = False
                for j in range(a, b):
                    left |= qty[j] != 0.0
                mm_after = pool_state_nb(p, prices, t, arrs)[1]
                qty[a:b] = saved_q
                p2[a:b] = saved_p2
                if left and eq - fee_sum > mm_after:
                    kind = PARTIAL
        if kind == FULL:
            for j in range(a, b):
                dq[j] = -qty[j]
        outcome[p] = kind
        touched[n_touched] = p
        n_touched += 1
    return n_touched


@njit(cache=True, nogil=True)
def pool_states_serial_nb(pools, prices, t, arrs):
    """(equity, MM) in USD of ``pools`` at one price vector: the margin kernel's pool state in
    one thread (the cascade's small per-round batches; a parallel region per round would wait
    for busy cores)."""
    eq = np.empty(len(pools))
    mm = np.empty(len(pools))
    for k in range(len(pools)):
        eq[k], mm[k] = pool_state_nb(pools[k], prices, t, arrs)
    return eq, mm


@njit(cache=True, nogil=True)
def position_values_nb(idx, prices, t, pos_pool, arrs):
    """USD value (uPnL from entry for futures, mark value for options) and USD price of the
    settlement unit of positions ``idx`` at ``prices``, as the margin kernel values them."""
    settle_axis, axis, contract = arrs[0][K.SETTLE_AXIS], arrs[2][K.AXIS], arrs[2][K.CONTRACT]
    value = np.empty(len(idx))
    settle = np.empty(len(idx))
    for k in range(len(idx)):
        i = idx[k]
        s_ax = settle_axis[pos_pool[i]]
        s = prices[s_ax] if s_ax >= 0 else (1.0 if contract[i] == LINEAR else prices[axis[i]])
        value[k] = position_state_nb(i, prices, s, t, arrs)[0]
        settle[k] = s
    return value, settle


# ---- NumPy reference ------------------------------------------------------------------------------

def _tier_notional_np(a, qty, price):
    aq = np.abs(qty)
    m = a.notional_mode
    return np.where(m == NOTIONAL_QUOTE, aq * price, np.where(m == NOTIONAL_COIN, aq / price,
                                                              np.where(m == NOTIONAL_SIZE, a.p2, aq)))


def tier_index_np(n, lo, hi, t_floor):
    """Flat tier index of each notional ``n`` in its table [lo, hi): the last tier whose floor it
    reaches (the margin kernel's rule), ``lo`` if none."""
    k = lo.copy()
    last = max(len(t_floor) - 1, 0)
    for d in range(int((hi - lo).max(initial=0))):
        j = lo + d
        k = np.where((j < hi) & (n >= t_floor[np.minimum(j, last)]), j, k)
    return k


def liquidation_orders_np(prices, t, a, pool_resp, rules, cooldown, fee):
    """NumPy reference of :func:`liquidation_orders_nb` on the pool arrays ``a`` (current sizes):
    returns (dq, outcome per pool, touched pools)."""
    n_pools = len(a.const_usd)
    pools = np.arange(n_pools)
    pool = np.repeat(pools, a.pos_end - a.pos_start)
    eq, mm = (x[0] for x in pools_states_nb(pools, prices[None, :], t, a.args()))
    live = np.bincount(pool, a.qty != 0, minlength=n_pools) > 0
    r = pool_resp
    style = rules["style"][r]
    P = prices[a.axis] * a.basis
    notional = np.where(a.contract == INVERSE, np.abs(a.qty), np.abs(a.qty) * P)
    n = _tier_notional_np(a, a.qty, P)
    k = tier_index_np(n, a.tier_start, a.tier_end, a.t_floor)
    rp = r[pool]
    with np.errstate(divide="ignore", invalid="ignore"):
        step = (style[pool] == LIQ_STEP_DOWN) & (a.qty != 0) & (a.tier_end > a.tier_start) & \
            (k - a.tier_start >= rules["min_tier"][rp]) & (n > 0)
        d_step = -a.qty * (1.0 - a.t_floor[np.minimum(k, max(len(a.t_floor) - 1, 0))] * (1.0 - BELOW_FLOOR) / n)
    fut = (style[pool] == LIQ_FUTURES_FIRST) & (a.qty != 0) & (a.contract != INVERSE_OPTION)
    d_red = np.where(step, d_step, np.where(fut, -a.qty, 0.0))
    red = step | fut
    fee_sum = np.bincount(pool, np.where(red, fee * np.where(a.contract == INVERSE, np.abs(d_red),
                                                               np.abs(d_red) * P), 0.0), minlength=n_pools)
    new_q = a.qty + d_red
    new_p2 = np.where((a.notional_mode == NOTIONAL_SIZE) & (a.qty != 0), a.p2 * new_q / np.where(a.qty != 0, a.qty, 1),
                      a.p2)
    _, mm_after = (x[0] for x in pools_states_nb(pools, prices[None, :], t, replace(a, qty=new_q, p2=new_p2).args()))
    left = np.bincount(pool, new_q != 0, minlength=n_pools) > 0
    reduced = np.bincount(pool, red, minlength=n_pools) > 0
    flagged = live & (eq <= mm)
    red_ok = reduced & left & (eq - fee_sum > mm_after)
    frac = (style == LIQ_FRACTION) & (eq >= rules["backstop"][r] * mm)
    big = (style[pool] == LIQ_FRACTION) & (notional > rules["threshold"][rp])
    frac_partial = frac & (np.bincount(pool, big, minlength=n_pools) > 0)
    act = flagged & ~(frac & cooldown)
    partial = act & (red_ok | frac_partial)
    full = act & ~partial
    part_dq = np.where(big, -rules["fraction"][rp] * a.qty, d_red)
    dq = np.where(full[pool], -a.qty, np.where(partial[pool], part_dq, 0.0))
    outcome = np.where(full, FULL, np.where(partial, PARTIAL, 0)).astype(np.int8)
    return dq, outcome, np.flatnonzero(act)
