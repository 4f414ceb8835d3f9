"""NumPy reference of the margin kernel's pool state: equity and maintenance margin (USD) of
margin pools at many price rows, written from the rules (the docstrings of
:mod:`liqrisk.margin.kernel` and :mod:`liqrisk.margin.base`) with array operations only — tier
lookup by ``searchsorted``, options by the SciPy Black-76 reference — so that the numba kernel
(:func:`~liqrisk.margin.kernel.pools_states_nb`) can be tested against it on randomised books.


"""
from __future__ import annotations

import numpy as np

from liqrisk.margin.base import (INVERSE, INVERSE_OPTION, LINEAR, MM_DERIBIT_FUTURE,
                                 MM_DERIBIT_OPTION, MM_ENTRY_VALUE, MM_TIERS_AT_MARK,
                                 MM_WHOLE_TIER_FEE, NOTIONAL_COIN, NOTIONAL_FACE, NOTIONAL_QUOTE,
                                 NOTIONAL_SIZE)
from liqrisk.pricing.reference import black76


def _option_coin(P, K, T, r, vol, is_call):
    """Black-76 premium in coin (price / P); intrinsic at or after expiry."""
    P = np.asarray(P, float)
    if T <= 0:
        return np.maximum(P - K if is_call else K - P, 0.0) / P
    return np.asarray(black76(P, K, T, r, vol, is_call), float) / P


def position_state(a, i: int, prices: np.ndarray, settle: np.ndarray, t: float):
    """(value, MM) in USD of position ``i`` at each row of ``prices`` (n_rows, n_axes)."""
    P = prices[:, a.axis[i]] * a.basis[i]
    q, aq, c, code, mode = a.qty[i], abs(a.qty[i]), a.contract[i], a.mm_code[i], a.notional_mode[i]
    opt = (_option_coin(P, a.strike[i], a.expiry[i] - t, a.rate, a.vol[i], bool(a.is_call[i]))
           if c == INVERSE_OPTION else np.zeros_like(P))
    if c == INVERSE_OPTION:
        value = q * opt * settle
    elif c == LINEAR:
        value = q * (P - a.entry[i])
    else:
        value = q * (1.0 / a.entry[i] - 1.0 / P) * settle
    n = {NOTIONAL_QUOTE: aq * P, NOTIONAL_COIN: aq / P, NOTIONAL_FACE: np.full_like(P, aq),
         NOTIONAL_SIZE: np.full_like(P, a.p2[i])}[mode]
    lo, hi = a.tier_start[i], a.tier_end[i]
    if hi > lo:
        k = lo + np.maximum(np.searchsorted(a.t_floor[lo:hi], n, side="right") - 1, 0)
        mmr, cum = a.t_mmr[k], a.t_cum[k]
    else:
        mmr = cum = np.zeros_like(P)
    if code == MM_WHOLE_TIER_FEE:
        mm = (aq * P if c == LINEAR else aq / P * settle) * (mmr + a.p1[i])
    elif code == MM_TIERS_AT_MARK:
        mm = n * mmr - cum
        mm = mm * settle if mode == NOTIONAL_COIN else mm * settle / P if mode == NOTIONAL_FACE else mm
    elif code == MM_ENTRY_VALUE:
        mm = np.full_like(P, a.p1[i] * aq * a.entry[i]) if c == LINEAR else a.p1[i] * aq / a.entry[i] * settle
    elif code == MM_DERIBIT_FUTURE:
        size = aq / P
        mm = size * (a.p1[i] + a.p2[i] * size) * settle
    elif code == MM_DERIBIT_OPTION and q < 0:
        per = a.p1[i] + opt if a.is_call[i] else np.maximum(a.p1[i], a.p1[i] * opt) + opt
        mm = aq * per * settle
    else:
        mm = np.zeros_like(P)
    return value, mm


def scenario_units(a, p: int, prices: np.ndarray, t: float) -> list[dict]:
    """The risk units of scenario pool ``p`` (its positions on one axis, in book order) at each
    row of ``prices`` (n_rows, n_axes): ``axis``; ``pnl`` (n_rows, n_scenarios) USD, each
    scenario's P&L after its weight, its dampener and ``pnl_offset`` on gains; ``roll`` and
    ``raw`` (n_rows) the roll shock and the minimum charge before the multiplier tiers (the rule
    of :func:`~liqrisk.margin.kernel.scenario_mm_nb`)."""
    s0, s1 = a.sc_start[p], a.sc_end[p]
    offset = a.pm_par[p][0]
    s_ax = a.settle_axis[p]
    rows = np.arange(a.pos_start[p], a.pos_end[p])
    move, vdir = a.sc_move[s0:s1], a.sc_vol[s0:s1]
    units = []
    for ax in dict.fromkeys(a.axis[rows]):
        agg = np.zeros((len(prices), s1 - s0))
        roll = np.zeros(len(prices))
        raw = np.zeros(len(prices))
        for i in rows[a.axis[rows] == ax]:
            P = prices[:, ax] * a.basis[i]
            settle = prices[:, s_ax] if s_ax >= 0 else (np.ones_like(P) if a.contract[i] == LINEAR else P)
            P1 = np.maximum(P[:, None] * (1.0 + move * a.sh_rel[i]) + move * a.sh_abs[i], 1e-12 * P[:, None])
            if a.contract[i] == INVERSE_OPTION:
                T = a.expiry[i] - t
                v1 = np.where(vdir > 0, a.vol_up[i], np.where(vdir < 0, a.vol_dn[i], a.vol[i]))
                c0 = _option_coin(P, a.strike[i], T, a.rate, a.vol[i], bool(a.is_call[i]))
                c1 = np.stack([_option_coin(P1[:, s], a.strike[i], T, a.rate, v1[s], bool(a.is_call[i]))
                               for s in range(s1 - s0)], axis=1)
                agg += (a.qty[i] * (c1 - c0[:, None]) * settle[:, None] if s_ax >= 0
                        else a.qty[i] * (c1 * P1 - (c0 * P)[:, None]))
            elif a.contract[i] == LINEAR:
                agg += a.qty[i] * (P1 - P[:, None])
            else:
                agg += a.qty[i] * (1.0 / P[:, None] - 1.0 / P1) * settle[:, None]
            aq = abs(a.qty[i])
            size_usd = aq * P if a.contract[i] == LINEAR else (aq * settle / P if a.contract[i] == INVERSE
                                                               else aq * settle)
            roll += a.roll[i, 0] * size_usd
            raw += a.roll[i, 1] * size_usd
        v = agg * a.sc_weight[s0:s1]
        damp = a.sc_damp[s0:s1]
        v = np.where(damp > 0, np.sign(v) * np.maximum(np.abs(v) - damp, 0.0), v)
        units.append({"axis": int(ax), "pnl": np.where(v > 0, v * offset, v), "roll": roll, "raw": raw})
    return units


def multiplied_charge(a, p: int, raw):
    """A unit's minimum charge ``raw`` after pool ``p``'s multiplier tiers
    (:func:`liqrisk.margin.scenario.multiplied`)."""
    from liqrisk.margin.kernel import MAX_MULT_TIERS
    from liqrisk.margin.scenario import multiplied
    n_t = int(a.pm_par[p][4])
    tiers = list(zip(a.pm_par[p][5:5 + n_t], a.pm_par[p][5 + MAX_MULT_TIERS:5 + MAX_MULT_TIERS + n_t]))
    return multiplied(raw, tiers)


def scenario_mm(a, p: int, prices: np.ndarray, t: float) -> np.ndarray:
    """Scenario (portfolio) margin of pool ``p`` per row: per risk unit ``max(worst loss + roll
    shock, minimum charge after the multiplier tiers)``, summed, then ``mm_factor·max(Σ + add,
    floor)``, plus the net-equity haircut where the pool has one."""
    from liqrisk.margin.kernel import NET_HAIRCUT
    factor, add, floor = a.pm_par[p][1:4]
    total = np.zeros(len(prices))
    for u in scenario_units(a, p, prices, t):
        total += np.maximum(np.maximum(0.0, -u["pnl"].min(axis=1)) + u["roll"], multiplied_charge(a, p, u["raw"]))
    mm = factor * np.maximum(total + add, floor)
    if a.pm_par[p][NET_HAIRCUT] > 0:
        mm += asset_haircut(a, p, prices)
    return mm


def asset_haircut(a, p: int, prices: np.ndarray) -> np.ndarray:
    """Per row: Σ over coins of ``h·max(E, 0)`` minus the linear ``h·value`` of its legs of
    amount ≥ 0 (the rule of :func:`~liqrisk.margin.kernel.asset_haircut_nb`)."""
    legs = np.arange(a.leg_start[p], a.leg_end[p])
    rows = np.arange(a.pos_start[p], a.pos_end[p])
    cut = np.zeros(len(prices))
    for ax in dict.fromkeys(a.leg_axis[legs]):
        on = legs[a.leg_axis[legs] == ax]
        assets = on[a.leg_amount[on] >= 0]
        h = a.leg_mm[assets[-1]] if len(assets) else 0.0
        if h <= 0:
            continue
        P = prices[:, ax]
        E = a.leg_amount[on].sum() * P
        for i in rows[(a.axis[rows] == ax) & (a.contract[rows] == INVERSE)]:
            E += a.qty[i] * (1 / a.entry[i] - 1 / (P * a.basis[i])) * P
        cut += h * np.maximum(E, 0.0) - h * a.leg_amount[assets].sum() * P
    return cut


def pools_states(a, pools, prices, t: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(equity, MM) in USD, each (n_rows, n_pools), of ``pools`` at the rows of ``prices`` —
    the NumPy twin of :func:`~liqrisk.margin.kernel.pools_states_nb`."""
    prices = np.atleast_2d(np.asarray(prices, float))
    eq = np.zeros((len(prices), len(pools)))
    mm = np.zeros_like(eq)
    for j, p in enumerate(pools):
        eq[:, j] = a.const_usd[p]
        mm[:, j] = a.const_mm[p]
        for k in range(a.leg_start[p], a.leg_end[p]):
            value = a.leg_amount[k] * prices[:, a.leg_axis[k]]
            eq[:, j] += value
            mm[:, j] += a.leg_mm[k] * value
        s_ax = a.settle_axis[p]
        for i in range(a.pos_start[p], a.pos_end[p]):
            settle = (prices[:, s_ax] if s_ax >= 0 else
                      np.ones(len(prices)) if a.contract[i] == LINEAR else prices[:, a.axis[i]])
            v, m = position_state(a, i, prices, settle, t)
            eq[:, j] += v
            mm[:, j] += m
        if a.sc_end[p] > a.sc_start[p]:
            mm[:, j] += scenario_mm(a, p, prices, t)
    return eq, mm


def nearest_boundaries(a, p: int, ax: int, prices, grid, rel: float = 1e-13) -> tuple[float, float, bool]:
    """(down, up, liquidatable now) of pool ``p`` along axis ``ax`` — the NumPy twin of
    :func:`~liqrisk.margin.kernel.nearest_boundaries_nb` for one pair: ``equity − MM`` of
    :func:`pools_states` on the whole outward grid ``mark·e^{±grid}`` at once, the first grid point
    where its sign differs from the mark's, then bisection of that bracket to ``rel`` relative
    (NaN: no sign change on the grid)."""
    prices = np.asarray(prices, float)

    def gap(xs):
        rows = np.tile(prices, (len(xs), 1))
        rows[:, ax] = xs
        eq, mm = pools_states(a, [p], rows)
        return (eq - mm)[:, 0]

    mark = prices[ax]
    f0 = gap(np.array([mark]))[0]
    out = []
    for direction in (-1.0, 1.0):
        xs = mark * np.exp(direction * np.asarray(grid, float))
        f = gap(xs)
        change = (f > 0) != (f0 > 0)
        if not change.any():
            out.append(np.nan)
            continue
        k = int(np.argmax(change))
        lo, hi = (xs[k - 1], f[k - 1]) if k else (mark, f0), (xs[k], f[k])
        (x_in, f_in), (x_out, _) = lo, hi
        while abs(x_out - x_in) > rel * max(x_in, x_out):
            mid = 0.5 * (x_in + x_out)
            fm = gap(np.array([mid]))[0]
            if (fm > 0) == (f_in > 0):
                x_in, f_in = mid, fm
            else:
                x_out = mid
        out.append(0.5 * (x_in + x_out))
    return out[0], out[1], bool(f0 <= 0)


def loan_equity_after(a, p: int, prices) -> np.ndarray:
    """What the protocol's liquidation leaves the holder of collateral-loan pool ``p`` (USD) at
    each row of ``prices`` — the NumPy twin of :func:`~liqrisk.margin.kernel.loan_equity_after_nb`,
    written from the rules of :mod:`liqrisk.margin.aave_v3` (every (collateral, debt) pair as an
    array, the liquidator's most profitable allowed call), ``compound_v3`` (absorb) and ``maker``
    (the penalty on the whole debt)."""
    from liqrisk.margin.base import LOAN_AAVE33, LOAN_COMPOUND, LOAN_MAKER
    prices = np.atleast_2d(np.asarray(prices, float))
    legs = np.arange(a.leg_start[p], a.leg_end[p])
    val = a.leg_amount[legs][None, :] * prices[:, a.leg_axis[legs]]          # (rows, legs)
    rule, scoll, sdebt = int(a.loan_rule[p]), a.loan_scoll[p], a.loan_sdebt[p]
    coll_v = np.column_stack([np.full(len(prices), scoll), np.where(val > 0, val, 0.0)])
    bonus = np.concatenate([[a.loan_sliq[p]], a.leg_liq[legs]])
    share = np.concatenate([[a.loan_sfee[p]], a.leg_fee[legs]])
    debt_v = np.column_stack([np.full(len(prices), sdebt), np.where(val < 0, -val, 0.0)])
    coll = coll_v.sum(axis=1)
    debt = (scoll - a.const_usd[p]) + debt_v[:, 1:].sum(axis=1)
    eq = coll - debt
    if rule == LOAN_COMPOUND:
        return np.maximum((coll_v * bonus).sum(axis=1) - debt, 0.0)
    if rule == LOAN_MAKER:
        chop = bonus[np.argmax(coll_v[0] > 0)] if np.any(coll_v[0] > 0) else 1.0
        return np.maximum(eq - (chop - 1.0) * debt, 0.0)
    weighted = (coll_v[:, 1:] * (1.0 - a.leg_mm[legs])).sum(axis=1) + scoll - a.const_mm[p]
    hf = weighted / np.where(debt > 0, debt, np.inf)
    vc, vd = coll_v[:, :, None], debt_v[:, None, :]                           # (rows, c, d)
    b, f = bonus[None, :, None], share[None, :, None]
    total, h = debt[:, None, None], hf[:, None, None]
    if rule == LOAN_AAVE33:
        cap = (vc >= 2000.0) & (vd >= 2000.0) & (h > 0.95) & (vd > 0.5 * total)
        md = np.where(cap, 0.5 * total, vd)
    else:
        md = vd * np.where(h > 0.95, 0.5, 1.0)
    bb = np.where(b > 0, b, 1.0)

    def seize(x):
        capped = x * bb > vc
        return np.where(capped, vc / bb, x), np.where(capped, vc, x * bb)
    repaid, seized = seize(md)
    allowed = (vc > 0) & (vd > 0) & (b > 0)
    if rule == LOAN_AAVE33:
        dust = (repaid < vd) & (seized < vc) & ((vd - repaid < 1000.0) | (vc - seized < 1000.0))
        x = np.minimum(np.minimum(md, vd - 1000.0), (vc - 1000.0) / bb)
        r2, s2 = seize(np.maximum(x, 0.0))
        allowed &= ~(dust & (x <= 0))
        repaid, seized = np.where(dust, r2, repaid), np.where(dust, s2, seized)
    profit = np.where(allowed, seized * (1 - f * (1 - 1 / bb)) - repaid, -np.inf).reshape(len(prices), -1)
    lost = (seized - repaid).reshape(len(prices), -1)
    best = np.argmax(profit, axis=1)
    loss = np.where(np.isfinite(profit.max(axis=1)), lost[np.arange(len(prices)), best], 0.0)
    return np.where(debt > 0, np.maximum(eq - loss, 0.0), np.maximum(eq, 0.0))
