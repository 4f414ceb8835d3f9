"""The margin kernel: equity and maintenance margin of margin pools at any prices, and the
liquidation boundaries along each underlying's price axis.

A *pool* is what one liquidation trigger watches: the cross part of an account (wallet +
collateral + every cross position) or one isolated position with its margin. Positions and
collateral legs are struct-of-arrays (:class:`PoolArrays`) sorted by pool. Everything is
evaluated in USD; a coin-settled pool's amounts are converted at its settlement coin's price,
which does not move a root (equity − MM changes sign at the same price in any positive unit).

Boundary search (:func:`pool_boundaries_nb`): scan outward from the mark on a geometric grid,
bracket every sign change of ``equity − MM`` and refine it with the Illinois (regula falsi)
method to 1e-12 relative. For pools of linear and inverse futures only, ``equity − MM`` is
concave in the price (MM is convex: tiers in deduction form, perspective of a convex function for
inverse contracts, Deribit's quadratic MM), so a coarse grid cannot miss a root; pools with
options, which are not concave, are scanned on a fine grid (OKX whole-tier margin is concave too: its tier is fixed by position size).
The nearest boundaries of scenario (portfolio-margin) pools skip the grid points where interval
bounds prove the sign cannot change (:func:`_scen_nearest`): the plain scan's result, bit for bit,
from a few evaluations (docs/scenario_margin.md, "The certified scan").
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numba as nb

import liqrisk._jitcache  # noqa: F401,E402  (before any cached kernel: see its docstring)
import numpy as np

from liqrisk.margin.base import (INVERSE, INVERSE_OPTION, LINEAR, LOAN_AAVE33, LOAN_COMPOUND,
                                 LOAN_MAKER, LOAN_NONE, MM_DERIBIT_FUTURE,
                                 MM_DERIBIT_OPTION, MM_ENTRY_VALUE, MM_NONE, MM_TIERS_AT_MARK,
                                 MM_WHOLE_TIER_FEE, NOTIONAL_COIN, NOTIONAL_FACE, NOTIONAL_QUOTE,
                                 NOTIONAL_SIZE)
from liqrisk.pricing.kernels import (_year_fraction, black76_price_delta_nb, black76_price_delta_straight_nb,
                                      black76_price_nb)

MAX_ROOTS = 8
MAX_MULT_TIERS = 8                     # minimum-charge multiplier tiers per scenario pool
NET_HAIRCUT = 5 + 2 * MAX_MULT_TIERS   # pm_par column: 1 = haircut on each asset's net equity
PM_PAR = NET_HAIRCUT + 1               # columns of PoolArrays.pm_par

# ---- the packed layout: rows of the 2-D arrays that PoolArrays.args() passes to kernels --------
# per pool (columns = pools)
POS_START, POS_END, LEG_START, LEG_END, SETTLE_AXIS, DENSE, SC_START, SC_END = range(8)   # pool_i
CONST_USD, CONST_MM, PM0 = 0, 1, 2          # pool_f; rows PM0 … PM0 + PM_PAR − 1 hold pm_par
# pool_f rows after pm_par: a collateral loan's liquidation rule (see loan_equity_after_nb)
LOAN_RULE, LOAN_SCOLL, LOAN_SDEBT, LOAN_SLIQ, LOAN_SFEE = range(PM0 + PM_PAR, PM0 + PM_PAR + 5)
# per position (columns = positions)
AXIS, CONTRACT, MM_CODE, NOTIONAL_MODE, TIER_START, TIER_END, IS_CALL = range(7)          # pos_i
(QTY, ENTRY, BASIS, P1, P2, STRIKE, EXPIRY, VOL, SH_REL, SH_ABS, VOL_UP, VOL_DN, ROLL,
 MIN_CHARGE) = range(14)                                                                 # pos_f
T_FLOOR, T_MMR, T_CUM = range(3)            # tiers (columns = tiers, flattened)
AMOUNT, LEG_MM, LEG_LIQ, LEG_FEE = range(4)  # leg_f (columns = collateral legs)
SC_MOVE, SC_VOL, SC_WEIGHT, SC_DAMP = range(4)   # scen (columns = scenario rows)

_PACKED = {  # field → (packed array, row); PoolArrays' fields are views of these rows
    "pos_start": ("pool_i", POS_START), "pos_end": ("pool_i", POS_END),
    "leg_start": ("pool_i", LEG_START), "leg_end": ("pool_i", LEG_END),
    "settle_axis": ("pool_i", SETTLE_AXIS), "dense": ("pool_i", DENSE),
    "sc_start": ("pool_i", SC_START), "sc_end": ("pool_i", SC_END),
    "const_usd": ("pool_f", CONST_USD), "const_mm": ("pool_f", CONST_MM),
    "axis": ("pos_i", AXIS), "contract": ("pos_i", CONTRACT), "mm_code": ("pos_i", MM_CODE),
    "notional_mode": ("pos_i", NOTIONAL_MODE), "tier_start": ("pos_i", TIER_START),
    "tier_end": ("pos_i", TIER_END), "is_call": ("pos_i", IS_CALL),
    "qty": ("pos_f", QTY), "entry": ("pos_f", ENTRY), "basis": ("pos_f", BASIS), "p1": ("pos_f", P1),
    "p2": ("pos_f", P2), "strike": ("pos_f", STRIKE), "expiry": ("pos_f", EXPIRY), "vol": ("pos_f", VOL),
    "sh_rel": ("pos_f", SH_REL), "sh_abs": ("pos_f", SH_ABS), "vol_up": ("pos_f", VOL_UP),
    "vol_dn": ("pos_f", VOL_DN),
    "t_floor": ("tiers", T_FLOOR), "t_mmr": ("tiers", T_MMR), "t_cum": ("tiers", T_CUM),
    "leg_amount": ("leg_f", AMOUNT), "leg_mm": ("leg_f", LEG_MM),
    "leg_liq": ("leg_f", LEG_LIQ), "leg_fee": ("leg_f", LEG_FEE),
    "loan_rule": ("pool_f", LOAN_RULE), "loan_scoll": ("pool_f", LOAN_SCOLL),
    "loan_sdebt": ("pool_f", LOAN_SDEBT), "loan_sliq": ("pool_f", LOAN_SLIQ),
    "loan_sfee": ("pool_f", LOAN_SFEE),
    "sc_move": ("scen", SC_MOVE), "sc_vol": ("scen", SC_VOL), "sc_weight": ("scen", SC_WEIGHT),
    "sc_damp": ("scen", SC_DAMP),
}
_ROWS = {"pool_i": 8, "pool_f": PM0 + PM_PAR + 5, "pos_i": 7, "pos_f": 14, "tiers": 3, "leg_f": 4, "scen": 4}
_INT = ("pool_i", "pos_i")
LEG_FIELDS = tuple(name for name, (packed, _) in _PACKED.items() if packed == "leg_f")
"""PoolArrays' per-leg float fields (amount, MM, the loan terms): what a new leg must be given."""


@dataclass
class PoolArrays:
    """Struct-of-arrays for pools, their positions and collateral legs (see module docstring).

    Built from named 1-D fields; kept as a few packed 2-D arrays (rows = fields, see the layout
    above) that :meth:`args` passes to the kernels, every named field a view of its row — so
    writing ``a.qty[i]`` or ``a.leg_amount[j]`` in place is what the kernels see, and
    ``dataclasses.replace`` packs a new, independent copy."""

    # per pool
    pos_start: np.ndarray
    pos_end: np.ndarray
    leg_start: np.ndarray
    leg_end: np.ndarray
    const_usd: np.ndarray       # stable collateral (USD, after haircut)
    settle_axis: np.ndarray     # −1: USD-settled; else the axis of the settlement coin
    dense: np.ndarray           # 1: scan finely (pools with options)
    # per position
    axis: np.ndarray
    contract: np.ndarray
    qty: np.ndarray
    entry: np.ndarray
    basis: np.ndarray
    mm_code: np.ndarray
    notional_mode: np.ndarray
    tier_start: np.ndarray
    tier_end: np.ndarray
    p1: np.ndarray
    p2: np.ndarray
    strike: np.ndarray
    is_call: np.ndarray
    expiry: np.ndarray
    vol: np.ndarray
    # tiers (flattened)
    t_floor: np.ndarray
    t_mmr: np.ndarray
    t_cum: np.ndarray
    # collateral legs priced by an axis
    leg_axis: np.ndarray
    leg_amount: np.ndarray
    rate: float = 0.0
    # ---- collateral loans: maintenance margin of collateral (USD per USD of value) -----------
    const_mm: np.ndarray | None = None   # per pool: MM of the stable collateral (USD)
    leg_mm: np.ndarray | None = None     # per leg: MM per USD of leg value (1 − LT); 0 for debts
    # ---- collateral loans: what liquidation leaves the holder (loan_equity_after_nb) ----------
    loan_rule: np.ndarray | None = None  # per pool: LOAN_* code of base.py (0: not a loan)
    loan_scoll: np.ndarray | None = None  # per pool: stable collateral supplied (USD)
    loan_sdebt: np.ndarray | None = None  # per pool: the largest stable debt reserve (USD)
    loan_sliq: np.ndarray | None = None  # per pool: the stable collateral's bonus / LF / chop
    loan_sfee: np.ndarray | None = None  # per pool: its protocol fee share (Aave)
    leg_liq: np.ndarray | None = None    # per leg: liquidation bonus (Aave), liquidation factor
    #                                      (Compound III), chop (Maker) of a collateral leg
    leg_fee: np.ndarray | None = None    # per leg: liquidation protocol fee share (Aave)
    # ---- scenario (portfolio) margin pools (see scenario_mm_nb) ------------------------------
    sc_start: np.ndarray | None = None   # per pool: scenario rows [sc_start, sc_end); empty → none
    sc_end: np.ndarray | None = None
    pm_par: np.ndarray | None = None     # per pool (n_pools, PM_PAR): pnl_offset, mm_factor, add,
    #                                      floor, then the unit minimum-charge multiplier tiers:
    #                                      count, floors (MAX_MULT_TIERS), multipliers (MAX_MULT_TIERS),
    #                                      then the net-haircut flag (see asset_haircut_nb)
    sh_rel: np.ndarray | None = None     # per position: price range as a fraction of the price
    sh_abs: np.ndarray | None = None     # per position: price range in price units (SPAN)
    vol_up: np.ndarray | None = None     # per position: vol in the vol-up / vol-down scenarios
    vol_dn: np.ndarray | None = None
    roll: np.ndarray | None = None       # per position (n_pos, 2): roll-shock (basis) rate and
    #                                      minimum-charge rate, per USD of coin size
    sc_move: np.ndarray | None = None    # per scenario: price move in units of the range
    sc_vol: np.ndarray | None = None     # per scenario: −1 vol down, 0 same, +1 vol up
    sc_weight: np.ndarray | None = None  # per scenario: weight of its P&L
    sc_damp: np.ndarray | None = None    # per scenario: dampener (USD) shrinking it toward 0

    def __post_init__(self):
        """Pack the fields (books without loans or scenario pools need not give the optional
        ones) and make every field a view of its packed row."""
        n_pools, n_pos = len(self.pos_start), len(self.axis)
        zeros = lambda n, dt=float: np.zeros(n, dtype=dt)
        defaults = dict(const_mm=zeros(n_pools), leg_mm=zeros(len(self.leg_axis)),
                        loan_rule=zeros(n_pools), loan_scoll=zeros(n_pools), loan_sdebt=zeros(n_pools),
                        loan_sliq=zeros(n_pools), loan_sfee=zeros(n_pools),
                        leg_liq=zeros(len(self.leg_axis)), leg_fee=zeros(len(self.leg_axis)),
                        sc_start=zeros(n_pools, np.int64), sc_end=zeros(n_pools, np.int64),
                        pm_par=np.zeros((n_pools, PM_PAR)), sh_rel=zeros(n_pos), sh_abs=zeros(n_pos),
                        vol_up=self.vol, vol_dn=self.vol, roll=np.zeros((n_pos, 2)),
                        sc_move=zeros(0), sc_vol=zeros(0, np.int64), sc_weight=zeros(0),
                        sc_damp=zeros(0))
        for name, value in defaults.items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        width = {"pool_i": n_pools, "pool_f": n_pools, "pos_i": n_pos, "pos_f": n_pos,
                 "tiers": len(self.t_floor), "leg_f": len(self.leg_axis), "scen": len(self.sc_move)}
        for packed, rows in _ROWS.items():
            setattr(self, packed, np.empty((rows, width[packed]), np.int64 if packed in _INT else float))
        for name, (packed, row) in _PACKED.items():
            getattr(self, packed)[row] = getattr(self, name)
            setattr(self, name, getattr(self, packed)[row])
        self.pool_f[PM0:PM0 + PM_PAR] = np.reshape(self.pm_par, (n_pools, PM_PAR)).T
        self.pm_par = self.pool_f[PM0:PM0 + PM_PAR].T
        self.pos_f[ROLL:ROLL + 2] = np.reshape(self.roll, (n_pos, 2)).T
        self.roll = self.pos_f[ROLL:ROLL + 2].T
        self.leg_axis = np.ascontiguousarray(self.leg_axis, dtype=np.int64)

    def margined(self, p: int) -> bool:
        """Whether pool ``p`` has a trigger: positions, or collateral carrying MM (a loan)."""
        return bool(self.pos_end[p] > self.pos_start[p] or self.const_mm[p] > 0
                    or np.any(self.leg_mm[self.leg_start[p]:self.leg_end[p]] > 0))

    def args(self):
        """What every kernel takes: (pool_i, pool_f, pos_i, pos_f, tiers, leg_axis, leg_f, scen,
        rate) — rows as in the layout above."""
        return (self.pool_i, self.pool_f, self.pos_i, self.pos_f, self.tiers, self.leg_axis, self.leg_f,
                self.scen, self.rate)


_jit = nb.njit(cache=True, nogil=True)
_inline = nb.njit(cache=True, nogil=True, inline="always")
# division by zero gives inf / NaN instead of raising: for kernels that inline the pricing code
_jit_np = nb.njit(cache=True, nogil=True, error_model="numpy")


@_inline
def _tier(n, lo, hi, tiers):
    """Flat index of the tier notional ``n`` falls in, within the table [lo, hi) (``lo`` if none)."""
    k = lo
    for j in range(lo, hi):
        if n >= tiers[T_FLOOR, j]:
            k = j
    return k


@_jit
def _value(contract, q, P, entry, settle, opt):
    """USD value of one position: uPnL from entry for futures, mark value for options
    (``opt`` = option price in coin per contract)."""
    if contract == INVERSE_OPTION:
        return q * opt * settle
    if contract == LINEAR:
        return q * (P - entry)
    return q * (1.0 / entry - 1.0 / P) * settle


@_jit
def _tier_notional(mode, aq, P, fixed):
    """The notional the tier table is read at (see NOTIONAL_* codes; ``fixed`` for NOTIONAL_SIZE)."""
    if mode == NOTIONAL_QUOTE:
        return aq * P
    if mode == NOTIONAL_COIN:
        return aq / P
    if mode == NOTIONAL_SIZE:
        return fixed
    return aq


@_jit
def _maintenance(code, mode, contract, q, P, entry, settle, opt, n, mmr, cum, p1, p2, is_call):
    """USD maintenance margin of one position from its tier's (``mmr``, ``cum``) at notional ``n``
    (the caller looks the tier up) and the code-specific parameters."""
    aq = abs(q)
    if code == MM_WHOLE_TIER_FEE:
        # OKX: the tier's rate (+ taker fee) on the whole notional at mark (coin value for inverse)
        return (aq * P if contract == LINEAR else aq / P * settle) * (mmr + p1)
    if code == MM_TIERS_AT_MARK:
        mm = n * mmr - cum
        if mode == NOTIONAL_COIN:
            return mm * settle
        if mode == NOTIONAL_FACE:
            return mm * settle / P
        return mm
    if code == MM_ENTRY_VALUE:
        return p1 * aq * entry if contract == LINEAR else p1 * aq / entry * settle
    if code == MM_DERIBIT_FUTURE:
        size = aq / P
        return size * (p1 + p2 * size) * settle
    if code == MM_DERIBIT_OPTION and q < 0:
        m = p1 + opt if is_call else max(p1, p1 * opt) + opt
        return aq * m * settle
    return 0.0


@_inline
def position_value_mm_nb(i, P, settle, t_elapsed, pos_i, pos_f, tiers, rate, with_mm=True):
    """(value, maintenance margin) in USD of position ``i`` at its contract price ``P`` (the
    axis price × basis): value = uPnL from entry for futures, mark value for options (repriced
    ``t_elapsed`` years after the snapshot); ``settle`` = USD price of the pool's settlement unit.
    The one place a position is valued and margined: every kernel calls it. ``with_mm`` False
    (bankruptcy searches): MM is not computed (0)."""
    contract = pos_i[CONTRACT, i]
    q = pos_f[QTY, i]
    is_call = pos_i[IS_CALL, i] != 0
    opt = 0.0
    if contract == INVERSE_OPTION:
        opt = black76_price_nb(P, pos_f[STRIKE, i], pos_f[EXPIRY, i] - t_elapsed, rate, pos_f[VOL, i],
                               is_call) / P
    value = _value(contract, q, P, pos_f[ENTRY, i], settle, opt)
    if not with_mm:
        return value, 0.0
    return value, _position_mm(i, P, settle, opt, pos_i, pos_f, tiers)


@_inline
def _position_mm(i, P, settle, opt, pos_i, pos_f, tiers):
    """USD maintenance margin of position ``i`` at contract price ``P`` (``opt`` = its option
    price in coin, 0 for futures): the tier lookup and :func:`_maintenance`."""
    contract = pos_i[CONTRACT, i]
    q = pos_f[QTY, i]
    mode = pos_i[NOTIONAL_MODE, i]
    n = _tier_notional(mode, abs(q), P, pos_f[P2, i])
    lo, hi = pos_i[TIER_START, i], pos_i[TIER_END, i]
    mmr = 0.0
    cum = 0.0
    if hi > lo:
        k = _tier(n, lo, hi, tiers)
        mmr = tiers[T_MMR, k]
        cum = tiers[T_CUM, k]
    return _maintenance(pos_i[MM_CODE, i], mode, contract, q, P, pos_f[ENTRY, i], settle, opt, n, mmr, cum,
                        pos_f[P1, i], pos_f[P2, i], pos_i[IS_CALL, i] != 0)


@_inline
def settle_price_nb(s_ax, contract, pa, prices):
    """USD price of a position's settlement unit: the pool's settlement coin (axis ``s_ax`` ≥ 0),
    else 1 for linear contracts and the axis price ``pa`` for coin-settled ones."""
    if s_ax >= 0:
        return prices[s_ax]
    return 1.0 if contract == LINEAR else pa


@_inline
def position_state_nb(i, prices, settle, t_elapsed, arrs):
    """(value, maintenance margin) in USD of position ``i`` at ``prices`` (one per axis), see
    :func:`position_value_mm_nb`."""
    pos_i, pos_f, tiers, rate = arrs[2], arrs[3], arrs[4], arrs[8]
    P = prices[pos_i[AXIS, i]] * pos_f[BASIS, i]
    return position_value_mm_nb(i, P, settle, t_elapsed, pos_i, pos_f, tiers, rate)


@_inline
def _multiplied(raw, pool_f, p):
    """A unit's minimum charge after pool ``p``'s multiplier tiers, applied incrementally (each
    tier's multiplier on the part of ``raw`` inside it; pm_par columns: count, floors, mults);
    no tiers: ``raw``."""
    n = int(pool_f[PM0 + 4, p])
    if n == 0:
        return raw
    out = 0.0
    for k in range(n):
        lo = pool_f[PM0 + 5 + k, p]
        hi = pool_f[PM0 + 6 + k, p] if k + 1 < n else math.inf
        if raw > lo:
            out += pool_f[PM0 + 5 + MAX_MULT_TIERS + k, p] * (min(raw, hi) - lo)
    return out


@_inline
def asset_haircut_nb(p, prices, arrs):
    """USD haircut of a pool whose collateral rates apply to each coin's *net* equity (Binance
    portfolio margin): per coin a with haircut h = the ``leg_mm`` of its legs of amount ≥ 0,
    ``h·max(E_a, 0) − Σ h·(those legs' values)``, E_a = Σ its legs (balances − loans) + the USD
    value of the inverse (coin-settled) positions on its axis. The second term undoes the linear
    leg MM ``leg_mm·value`` the pool state adds for those legs, so that the pool's
    ``equity − MM`` carries ``Σ_a min(E_a·cr_a, E_a)`` (cr = 1 − h) as the adjusted equity."""
    pool_i, pos_i, pos_f, leg_axis, leg_f = arrs[0], arrs[2], arrs[3], arrs[5], arrs[6]
    cut = 0.0
    j0 = pool_i[LEG_START, p]
    j_end = pool_i[LEG_END, p]
    while j0 < j_end:
        a = leg_axis[j0]
        j1 = j0
        h = 0.0
        E = 0.0
        linear = 0.0
        while j1 < j_end and leg_axis[j1] == a:
            value = leg_f[AMOUNT, j1] * prices[a]
            E += value
            if leg_f[AMOUNT, j1] >= 0.0:
                h = leg_f[LEG_MM, j1]
                linear += h * value
            j1 += 1
        if h > 0.0:
            for i in range(pool_i[POS_START, p], pool_i[POS_END, p]):
                if pos_i[AXIS, i] == a and pos_i[CONTRACT, i] == INVERSE:
                    E += pos_f[QTY, i] * (1.0 / pos_f[ENTRY, i] - 1.0 / (prices[a] * pos_f[BASIS, i])) * prices[a]
            cut += h * max(E, 0.0) - linear
        j0 = j1
    return cut


@_inline
def _size_usd(contract, aq, P, settle):
    """A position's USD size for its roll-shock and minimum-charge rates: |q|·P linear, |face|
    inverse (|q|·settle/P), |q|·settle options."""
    return aq * P if contract == LINEAR else (aq * settle / P if contract == INVERSE else aq * settle)


@_inline
def _adjusted(v, damp, offset):
    """A scenario's weighted P&L ``v`` shrunk toward 0 by its dampener (USD, if > 0), gains
    times ``pnl_offset``: non-decreasing in ``v`` when ``offset`` ≥ 0."""
    if damp > 0.0:
        v = math.copysign(max(abs(v) - damp, 0.0), v)
    if v > 0.0:
        v *= offset
    return v


# the shocked options of a risk unit are priced together: one *lane* per (option, scenario), rows
# of the lane array (_LANES, options × scenarios + _PAD): shocked forward before and after its
# floor, strike, σ√τ, e^{-rτ}, ±1 (call / put), then the price and the forward delta
_L_RAW, _L_F, _L_K, _L_SD, _L_DISC, _L_W, _L_PRICE, _L_DELTA = range(8)
_LANES = 8
_PAD = 8      # lanes are priced in whole blocks of 8 (AVX-512): no scalar remainder loop


@_inline
def _lane_buffer(n_pos, n_s):
    return np.empty((_LANES, n_pos * n_s + _PAD))


@_inline
def _option_lanes_time(i, t_elapsed, pos_f, rate, is_call):
    """(strike, e^{-rτ}, ±1, σ√τ at the vol, vol up and vol down) of option ``i``, ``t_elapsed``
    years on."""
    tau = _year_fraction(pos_f[EXPIRY, i] - t_elapsed)
    root = math.sqrt(tau)
    return (pos_f[STRIKE, i], math.exp(-rate * tau), 1.0 if is_call else -1.0, pos_f[VOL, i] * root,
            pos_f[VOL_UP, i] * root, pos_f[VOL_DN, i] * root)


@_inline
def _put_lane(lanes, n, s, P, i, pos_f, scen, terms):
    """Lane ``n``: option ``i`` (contract price ``P``, ``terms`` of :func:`_option_lanes_time`) in
    scenario row ``s``: the shocked forward ``max(P·(1 + m·sh_rel) + m·sh_abs, 1e-12·P)`` and
    its σ√τ (vol up / same / down)."""
    K, disc, w, sd0, sd_up, sd_dn = terms
    mv = scen[SC_MOVE, s]
    raw = P * (1.0 + mv * pos_f[SH_REL, i]) + mv * pos_f[SH_ABS, i]
    dv = scen[SC_VOL, s]
    lanes[_L_RAW, n] = raw
    lanes[_L_F, n] = max(raw, 1e-12 * P)
    lanes[_L_K, n] = K
    lanes[_L_SD, n] = sd_up if dv > 0 else (sd_dn if dv < 0 else sd0)
    lanes[_L_DISC, n] = disc
    lanes[_L_W, n] = w


@_jit_np
def _price_lanes(n, lanes):
    """Black-76 price and forward delta of the first ``n`` lanes in one straight-line loop that
    LLVM vectorises (``black76_price_delta_straight_nb``), padded to whole blocks with copies of
    lane 0: every shocked option of every scenario pool is priced here."""
    m = (n + _PAD - 1) // _PAD * _PAD
    for t in range(n, m):
        for r in range(_L_PRICE):
            lanes[r, t] = lanes[r, 0]
    for t in range(m):
        lanes[_L_PRICE, t], lanes[_L_DELTA, t] = black76_price_delta_straight_nb(
            lanes[_L_F, t], lanes[_L_K, t], lanes[_L_SD, t], lanes[_L_DISC, t], lanes[_L_W, t])


@_jit_np
def scenario_mm_nb(p, prices, t_elapsed, arrs):
    """Maintenance margin (USD) of scenario pool ``p`` at ``prices``: per risk unit (the pool's
    positions on one axis, contiguous) ``max(worst loss + roll shock, minimum charge)``, summed
    over units, then ``mm_factor·max(Σ + add, floor)``.

    Scenario s moves each position's price to ``P·(1 + m·sh_rel) + m·sh_abs`` (m = sc_move[s])
    and its vol to vol_up / vol / vol_dn (sc_vol = +1 / 0 / −1); the unit's P&L is summed over
    its positions and weighted (sc_weight), shrunk toward 0 by sc_damp (USD), gains scaled by
    ``pnl_offset``; the worst loss is max(0, −min over scenarios). Coin-settled pools value a
    scenario's coin P&L at today's coin price; in a USD-settled pool an option's P&L is its USD
    premium change. Per unit, with size_usd = |q|·P linear, |face| inverse, |q|·settle options:
    roll shock Σ roll[i, 0]·size_usd; minimum charge = the multiplier tiers (:func:`_multiplied`)
    of Σ roll[i, 1]·size_usd. A pool flagged in pm_par[:, NET_HAIRCUT] adds
    :func:`asset_haircut_nb` (outside mm_factor and floor)."""
    pool_i, pool_f, pos_i, pos_f, scen, rate = arrs[0], arrs[1], arrs[2], arrs[3], arrs[7], arrs[8]
    s0, s1 = pool_i[SC_START, p], pool_i[SC_END, p]
    offset, factor = pool_f[PM0 + 0, p], pool_f[PM0 + 1, p]
    add, floor = pool_f[PM0 + 2, p], pool_f[PM0 + 3, p]
    s_ax = pool_i[SETTLE_AXIS, p]
    agg = np.empty(s1 - s0)
    total = 0.0
    i0 = pool_i[POS_START, p]
    i_end = pool_i[POS_END, p]
    lanes = _lane_buffer(i_end - i0, s1 - s0)
    while i0 < i_end:
        a = pos_i[AXIS, i0]
        i1 = i0
        while i1 < i_end and pos_i[AXIS, i1] == a:
            i1 += 1
        # the unit's shocked options, every scenario, priced in one vectorised pass
        n = 0
        for i in range(i0, i1):
            if pos_i[CONTRACT, i] == INVERSE_OPTION:
                terms = _option_lanes_time(i, t_elapsed, pos_f, rate, pos_i[IS_CALL, i] != 0)
                for s in range(s0, s1):
                    _put_lane(lanes, n, s, prices[a] * pos_f[BASIS, i], i, pos_f, scen, terms)
                    n += 1
        _price_lanes(n, lanes)
        agg[:] = 0.0
        roll_u = 0.0
        charge = 0.0
        n = 0
        for i in range(i0, i1):
            # P&L of position i in each scenario: price P → P1, vol → v1, settled at today's
            # ``settle`` (coin P&L × today's coin price)
            contract = pos_i[CONTRACT, i]
            q = pos_f[QTY, i]
            P = prices[a] * pos_f[BASIS, i]
            settle = prices[s_ax] if s_ax >= 0 else (1.0 if contract == LINEAR else P)
            if contract == INVERSE_OPTION:
                o0 = black76_price_nb(P, pos_f[STRIKE, i], pos_f[EXPIRY, i] - t_elapsed, rate, pos_f[VOL, i],
                                      pos_i[IS_CALL, i] != 0) / P
                for s in range(s0, s1):
                    o1 = lanes[_L_PRICE, n]
                    agg[s - s0] += q * ((o1 / lanes[_L_F, n] - o0) * settle if s_ax >= 0 else o1 - o0 * P)
                    n += 1
            else:
                for s in range(s0, s1):
                    m = scen[SC_MOVE, s]
                    P1 = max(P * (1.0 + m * pos_f[SH_REL, i]) + m * pos_f[SH_ABS, i], 1e-12 * P)
                    if contract == LINEAR:
                        agg[s - s0] += q * (P1 - P)
                    else:
                        agg[s - s0] += q * (1.0 / P - 1.0 / P1) * settle
            size_usd = _size_usd(contract, abs(q), P, settle)
            roll_u += pos_f[ROLL, i] * size_usd
            charge += pos_f[MIN_CHARGE, i] * size_usd
        worst = 0.0
        for s in range(s0, s1):
            worst = max(worst, -_adjusted(agg[s - s0] * scen[SC_WEIGHT, s], scen[SC_DAMP, s], offset))
        total += max(worst + roll_u, _multiplied(charge, pool_f, p))
        i0 = i1
    mm = factor * max(total + add, floor)
    if pool_f[PM0 + NET_HAIRCUT, p] > 0.0:
        mm += asset_haircut_nb(p, prices, arrs)
    return mm


@_inline
def legs_state_nb(p, prices, arrs):
    """(equity, MM) in USD of pool ``p``'s collateral at ``prices``: the stable part and every
    leg at its axis price, legs carrying MM ``leg_mm·value`` (collateral loans)."""
    pool_i, pool_f, leg_axis, leg_f = arrs[0], arrs[1], arrs[5], arrs[6]
    eq = pool_f[CONST_USD, p]
    mm = pool_f[CONST_MM, p]
    for j in range(pool_i[LEG_START, p], pool_i[LEG_END, p]):
        value = leg_f[AMOUNT, j] * prices[leg_axis[j]]
        eq += value
        mm += leg_f[LEG_MM, j] * value
    return eq, mm


AAVE_HF_FULL = 0.95            # CLOSE_FACTOR_HF_THRESHOLD (margin/aave_v3.py)
AAVE_MIN_BASE = 2_000.0        # MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD (USD, 3.3)
AAVE_MIN_LEFTOVER = 1_000.0    # MIN_LEFTOVER_BASE (USD, 3.3)


@_jit
def _aave_call(vc, b, fee, vd, debt, hf, rule):
    """(allowed, liquidator profit, holder loss) of the largest Aave liquidation of collateral
    reserve worth ``vc`` (bonus ``b``, protocol fee share ``fee``) against debt reserve ``vd`` of
    ``debt`` in all at health factor ``hf`` (USD; :meth:`liqrisk.margin.aave_v3.AaveV3._call`)."""
    if rule == LOAN_AAVE33:
        md = vd
        if vc >= AAVE_MIN_BASE and vd >= AAVE_MIN_BASE and hf > AAVE_HF_FULL and vd > 0.5 * debt:
            md = 0.5 * debt
    else:
        md = vd * (0.5 if hf > AAVE_HF_FULL else 1.0)
    repaid, seized = md, md * b
    if seized > vc:
        repaid, seized = vc / b, vc
    if rule == LOAN_AAVE33 and repaid < vd and seized < vc and \
            (vd - repaid < AAVE_MIN_LEFTOVER or vc - seized < AAVE_MIN_LEFTOVER):
        x = min(md, vd - AAVE_MIN_LEFTOVER, (vc - AAVE_MIN_LEFTOVER) / b)
        if x <= 0.0:                   # MUST_NOT_LEAVE_DUST: this pair cannot be liquidated
            return False, 0.0, 0.0
        repaid, seized = x, x * b
        if seized > vc:
            repaid, seized = vc / b, vc
    return True, seized * (1.0 - fee * (1.0 - 1.0 / b)) - repaid, seized - repaid


@_jit
def loan_equity_after_nb(p, prices, eq, mm, arrs):
    """What the protocol's liquidation leaves the holder of collateral-loan pool ``p`` (USD, ≥ 0)
    at ``prices`` where its equity is ``eq`` and MM ``mm`` (the holder's health ``eq − mm`` ≤ 0):

    * Aave v3 (``LOAN_AAVE``, ``LOAN_AAVE33``): ``eq −`` the bonus part ``seized − repaid`` of the
      liquidation call the liquidator profits from most (close factor, bonus, protocol fee, dust
      rules of the version, as :meth:`~liqrisk.margin.aave_v3.AaveV3.liquidation_call`; the stable
      debts are one candidate reserve, the largest); no collateral left: 0 (the rest is bad debt).
    * Compound III (``LOAN_COMPOUND``): ``absorb`` takes all the collateral and the debt, the
      holder keeps ``max(Σ value·liquidation_factor − debt, 0)`` as a base balance.
    * Maker (``LOAN_MAKER``): ``eq − (chop − 1)·debt`` (the whole vault barked).

    Allocates nothing; the loan parameters are rows of ``pool_f`` / ``leg_f`` (LOAN_*, LEG_LIQ,
    LEG_FEE)."""
    pool_i, pool_f, leg_axis, leg_f = arrs[0], arrs[1], arrs[5], arrs[6]
    rule = int(pool_f[LOAN_RULE, p])
    j0, j1 = pool_i[LEG_START, p], pool_i[LEG_END, p]
    scoll, sdmax = pool_f[LOAN_SCOLL, p], pool_f[LOAN_SDEBT, p]
    coll, debt, credit, chop = scoll, scoll - pool_f[CONST_USD, p], scoll * pool_f[LOAN_SLIQ, p], 1.0
    if scoll > 0.0:
        chop = pool_f[LOAN_SLIQ, p]
    for j in range(j0, j1):
        v = leg_f[AMOUNT, j] * prices[leg_axis[j]]
        if v > 0.0:
            coll += v
            credit += v * leg_f[LEG_LIQ, j]
            chop = max(chop, leg_f[LEG_LIQ, j]) if rule == LOAN_MAKER else chop
        else:
            debt -= v
    if rule == LOAN_COMPOUND:
        return max(credit - debt, 0.0)
    if rule == LOAN_MAKER:
        return max(eq - (chop - 1.0) * debt, 0.0)
    if debt <= 0.0:
        return max(eq, 0.0)
    hf = (eq - mm + debt) / debt
    best, loss, found = 0.0, 0.0, False
    for jc in range(j0 - 1, j1):                    # j0 − 1: the stable collateral
        if jc < j0:
            vc, b, fee = scoll, pool_f[LOAN_SLIQ, p], pool_f[LOAN_SFEE, p]
        else:
            vc, b, fee = leg_f[AMOUNT, jc] * prices[leg_axis[jc]], leg_f[LEG_LIQ, jc], leg_f[LEG_FEE, jc]
        if vc <= 0.0 or b <= 0.0:
            continue
        for jd in range(j0 - 1, j1):                # j0 − 1: the largest stable debt reserve
            vd = sdmax if jd < j0 else -leg_f[AMOUNT, jd] * prices[leg_axis[jd]]
            if vd <= 0.0:
                continue
            ok, profit, lost = _aave_call(vc, b, fee, vd, debt, hf, rule)
            if ok and (not found or profit > best):
                best, loss, found = profit, lost, True
    return max(eq - loss, 0.0)


@_jit
def liquidated_value_nb(p, prices, eq, mm, fee, notional, arrs):
    """What liquidation at ``prices`` leaves pool ``p`` (USD) whose equity there is ``eq``, MM
    ``mm``: a collateral loan what its protocol's liquidation leaves the holder
    (:func:`loan_equity_after_nb`), any other pool ``max(0, min(equity, MM) − fee·notional)`` (the
    venue's liquidation fee on the positions' notional; a shortfall is the insurance fund's). The
    one rule of the Monte Carlo's t=0 and path liquidations."""
    if arrs[1][LOAN_RULE, p] != LOAN_NONE:
        return loan_equity_after_nb(p, prices, eq, mm, arrs)
    return max(0.0, min(eq, mm) - fee * notional)


@_inline
def pool_state_nb(p, prices, t_elapsed, arrs):
    """(equity, maintenance margin) of pool ``p`` in USD at ``prices`` (one per axis),
    ``t_elapsed`` years after the snapshot (options are repriced with less time). Collateral legs
    carry MM ``leg_mm·value`` (collateral loans); scenario pools add :func:`scenario_mm_nb`."""
    pool_i, pos_i, pos_f, tiers, rate = arrs[0], arrs[2], arrs[3], arrs[4], arrs[8]
    eq, mm = legs_state_nb(p, prices, arrs)
    s_ax = pool_i[SETTLE_AXIS, p]
    for i in range(pool_i[POS_START, p], pool_i[POS_END, p]):
        pa = prices[pos_i[AXIS, i]]
        settle = settle_price_nb(s_ax, pos_i[CONTRACT, i], pa, prices)
        v, m = position_value_mm_nb(i, pa * pos_f[BASIS, i], settle, t_elapsed, pos_i, pos_f, tiers, rate)
        eq += v
        mm += m
    if pool_i[SC_END, p] > pool_i[SC_START, p]:
        mm += scenario_mm_nb(p, prices, t_elapsed, arrs)
    return eq, mm


@_jit
def positions_states_nb(prices, t_elapsed, arrs):
    """(value, maintenance margin) in USD of every position at ``prices`` (one row): two arrays
    in position order — what :func:`position_state_nb` gives for each, in one call."""
    pool_i, pos_i = arrs[0], arrs[2]
    n_pos = pos_i.shape[1]
    value = np.empty(n_pos)
    mm = np.empty(n_pos)
    for p in range(pool_i.shape[1]):
        s_ax = pool_i[SETTLE_AXIS, p]
        for i in range(pool_i[POS_START, p], pool_i[POS_END, p]):
            settle = settle_price_nb(s_ax, pos_i[CONTRACT, i], prices[pos_i[AXIS, i]], prices)
            value[i], mm[i] = position_state_nb(i, prices, settle, t_elapsed, arrs)
    return value, mm


@nb.njit(cache=True, nogil=True, parallel=True)
def pools_states_nb(pools, prices, t_elapsed, arrs):
    """(equity, MM) in USD of each of ``pools`` at each row of ``prices`` (n_rows, n_axes):
    two (n_rows, n_pools) arrays; parallel over every (row, pool) pair. Callers reduce them
    (sum for account totals, min of equity − MM for the account's health)."""
    n_rows, n_pools = prices.shape[0], pools.shape[0]
    eq = np.empty((n_rows, n_pools))
    mm = np.empty((n_rows, n_pools))
    for k in nb.prange(n_rows * n_pools):
        r, j = k // n_pools, k % n_pools
        eq[r, j], mm[r, j] = pool_state_nb(pools[j], prices[r], t_elapsed, arrs)
    return eq, mm


@_inline
def _gap(p, x, ax, prices, with_mm, t_elapsed, arrs):
    saved = prices[ax]
    prices[ax] = x
    eq, mm = pool_state_nb(p, prices, t_elapsed, arrs)
    prices[ax] = saved
    return eq - mm if with_mm else eq


@_jit
def _illinois(lo, hi, flo, fhi, side, x, fx):
    """One Illinois (modified regula falsi) bracket update with the new point (x, fx): replace
    the end on fx's side; halve the kept end's value when the same end moves twice in a row."""
    if (fx > 0) == (fhi > 0):
        if side == 1:
            flo *= 0.5
        return lo, x, flo, fx, 1
    if side == -1:
        fhi *= 0.5
    return x, hi, fx, fhi, -1


@_jit
def _refine(p, lo, hi, flo, fhi, ax, prices, with_mm, t_elapsed, arrs):
    """Illinois regula falsi on a bracket [lo, hi] with f(lo)·f(hi) < 0."""
    side = 0
    for _ in range(200):
        x = (lo * fhi - hi * flo) / (fhi - flo)
        if not (lo < x < hi):
            x = 0.5 * (lo + hi)
        fx = _gap(p, x, ax, prices, with_mm, t_elapsed, arrs)
        if fx == 0.0:
            return x
        lo, hi, flo, fhi, side = _illinois(lo, hi, flo, fhi, side, x, fx)
        if hi - lo <= 1e-12 * hi:
            break
        # probe just across the end that moved: on piecewise-affine gaps regula falsi lands on
        # the root from one side only and would need ~40 Illinois halvings to close the bracket
        d = 0.4e-12 * hi
        xn = x - d if side == 1 else x + d
        if lo < xn < hi:
            fn = _gap(p, xn, ax, prices, with_mm, t_elapsed, arrs)
            if fn == 0.0:
                return xn
            if (fn > 0) == (fhi > 0):
                hi, fhi = xn, fn
            else:
                lo, flo = xn, fn
            if hi - lo <= 1e-12 * hi:
                break
    return lo if abs(flo) < abs(fhi) else hi


@_jit
def pool_boundaries_nb(p, ax, prices, with_mm, t_elapsed, grid, roots, arrs):
    """Every root of (equity − MM) — or of equity when ``with_mm`` is False (bankruptcy) — along
    axis ``ax`` of pool ``p`` with the other prices fixed, on the log-offsets ``grid`` (ascending,
    > 0) applied on both sides of the mark. Fills ``roots`` (ascending), returns their count."""
    mark = prices[ax]
    n = 0
    for direction in (-1.0, 1.0):
        x_prev = mark
        f_prev = _gap(p, mark, ax, prices, with_mm, t_elapsed, arrs)
        for g in grid:
            x = mark * math.exp(direction * g)
            f = _gap(p, x, ax, prices, with_mm, t_elapsed, arrs)
            if (f > 0) != (f_prev > 0) and n < MAX_ROOTS:
                if x < x_prev:
                    r = _refine(p, x, x_prev, f, f_prev, ax, prices, with_mm, t_elapsed, arrs)
                else:
                    r = _refine(p, x_prev, x, f_prev, f, ax, prices, with_mm, t_elapsed, arrs)
                roots[n] = r
                n += 1
            x_prev, f_prev = x, f
    roots[:n] = np.sort(roots[:n])
    return n


# ---- nearest boundaries of scenario pools: the scan with certified skips -------------------------
# A scenario pool's equity − MM costs (1 + scenarios) Black-76 evaluations per option and point, and
# the plain scan evaluates every grid point up to the first sign change (the whole grid on a side
# with none). Here the scan evaluates a few grid points and skips the ones between two evaluated
# points a, b when an interval bound proves equity − MM keeps its sign on all of [x_a, x_b] — so
# the first grid point where the sign changes is the one the plain scan finds, and the bracket,
# its refinement (the same Illinois steps on the same values) and the boundary are bit for bit
# the plain scan's (tested). The bound: along the axis every term of the equity and of each
# scenario's P&L is affine in x (futures, legs, positions on other axes, roll and minimum-charge
# sizes) or q × a convex function of x (an option's value and its shocked value are Black-76
# prices at forwards affine in x, convex in the forward: gamma ≥ 0), so each of those sums is
# convex + concave + affine; on [x_a, x_b] the convex part lies above its two end tangents (the
# deltas) and below its chord, the concave part the other way round; the MM formula is monotone in
# every scenario P&L (weights' signs taken into account), roll shock and minimum charge, so the
# bounds pass through it. Pools where that does not hold (see _scen_boundable) keep the plain scan.

# one evaluated point (a row of the work array): x, equity − MM, equity, the equity's convex part
# and slope, concave part and slope, a magnitude for the rounding margin; then per risk unit u its
# roll shock and raw minimum charge at _UNITS + 2u (+1); then per unit and scenario s the P&L and
# its convex / concave parts and slopes (5 values) from _units_end(n_units) + 5·(u·n_s + s).
_X, _F, _EQ, _E_CV, _E_CVD, _E_CC, _E_CCD, _MAG, _UNITS = range(9)
_CERT_REL = 1e-9     # margin of a certified sign, relative to the magnitude of the terms summed
_STEP0 = 16          # first stride of the certified scan (grid points), ×4 per stride
# the widest stride upward in log-price: the rounding margin of a bound is relative to the larger
# end's magnitude (∝ x far above the mark), so an interval from 2× to 10¹²× the mark cannot be
# certified even where equity − MM grows with x; kernel.FAR_OFFSETS are 10⁴ apart, each takes a
# stride of its own (below the mark the magnitudes tend to constants: no limit)
_MAX_SPAN = math.log(1e4) * (1.0 + 1e-12)


@_inline
def _units_end(n_units):
    return _UNITS + 2 * n_units


@_jit
def _n_units(p, arrs):
    """Risk units of pool ``p`` (runs of its positions on one axis)."""
    pool_i, pos_i = arrs[0], arrs[2]
    n = 0
    for i in range(pool_i[POS_START, p], pool_i[POS_END, p]):
        if i == pool_i[POS_START, p] or pos_i[AXIS, i] != pos_i[AXIS, i - 1]:
            n += 1
    return n


@_jit
def _scen_boundable(p, ax, arrs):
    """Whether the certified scan applies to scenario pool ``p`` along axis ``ax``: MM formula
    monotone (mm_factor, pnl_offset and charge multipliers ≥ 0, no net-equity haircut) and every
    position on the axis without MM of its own, its value and scenario P&L affine or q × convex in
    the axis price: options and inverse futures settled in the axis coin (or in USD), inverse
    futures moved by ``sh_rel`` only, options of a coin-settled pool too."""
    pool_i, pool_f, pos_i, pos_f = arrs[0], arrs[1], arrs[2], arrs[3]
    if not (pool_f[PM0 + NET_HAIRCUT, p] <= 0.0 and pool_f[PM0 + 0, p] >= 0.0 and pool_f[PM0 + 1, p] >= 0.0):
        return False
    for k in range(int(pool_f[PM0 + 4, p])):
        if not pool_f[PM0 + 5 + MAX_MULT_TIERS + k, p] >= 0.0:
            return False
    s_ax = pool_i[SETTLE_AXIS, p]
    for i in range(pool_i[POS_START, p], pool_i[POS_END, p]):
        if pos_i[AXIS, i] != ax:
            continue
        contract = pos_i[CONTRACT, i]
        if pos_i[MM_CODE, i] != MM_NONE:
            return False
        if contract == LINEAR:
            continue
        if contract != INVERSE and contract != INVERSE_OPTION:
            return False
        if s_ax >= 0 and s_ax != ax:
            return False
        if pos_f[SH_ABS, i] != 0.0 and (contract == INVERSE or s_ax >= 0):
            return False
    return True


@_jit
def _floor_band(p, ax, arrs):
    """(lowest, highest) axis price where a scenario price ``max(P·(1 + m·sh_rel) + m·sh_abs,
    1e-12·P)`` of a position on the axis switches branch (only with ``sh_abs``); (inf, 0): none.
    Intervals reaching across that band are not certified (the P&L is not affine there)."""
    pool_i, pos_i, pos_f, scen = arrs[0], arrs[2], arrs[3], arrs[7]
    lo, hi = math.inf, 0.0
    for i in range(pool_i[POS_START, p], pool_i[POS_END, p]):
        if pos_i[AXIS, i] != ax or pos_f[SH_ABS, i] == 0.0:
            continue
        for s in range(pool_i[SC_START, p], pool_i[SC_END, p]):
            m = scen[SC_MOVE, s]
            slope = pos_f[BASIS, i] * (1.0 + m * pos_f[SH_REL, i] - 1e-12)
            if slope != 0.0:
                x = -m * pos_f[SH_ABS, i] / slope
                if x > 0.0:
                    lo, hi = min(lo, x), max(hi, x)
    return lo, hi


@_jit
def _legs_line(p, ax, prices, with_mm, arrs):
    """(c, slope): pool ``p``'s stable collateral and legs as c + slope·x along axis ``ax``
    (legs on other axes at their prices; with MM: net of the legs' MM)."""
    pool_i, pool_f, leg_axis, leg_f = arrs[0], arrs[1], arrs[5], arrs[6]
    c = pool_f[CONST_USD, p] - (pool_f[CONST_MM, p] if with_mm else 0.0)
    slope = 0.0
    for j in range(pool_i[LEG_START, p], pool_i[LEG_END, p]):
        w = leg_f[AMOUNT, j] * (1.0 - leg_f[LEG_MM, j]) if with_mm else leg_f[AMOUNT, j]
        if leg_axis[j] == ax:
            slope += w
        else:
            c += w * prices[leg_axis[j]]
    return c, slope


@_inline
def _add_part(row, j, q, value, slope):
    """Add q × (a convex function) with ``value`` and ``slope`` to the convex part at row[j]
    (q > 0) or the concave part at row[j + 2]."""
    k = j if q > 0.0 else j + 2
    row[k] += value
    row[k + 1] += slope


@_jit_np
def _scen_point(p, ax, x, prices, c, slope, n_units, arrs, row, b0, d0, active, lanes):
    """equity − MM of scenario pool ``p`` with axis ``ax`` at ``x`` — the arithmetic of the plain
    scan's evaluation (:func:`position_value_mm_nb` of every position, then
    :func:`scenario_mm_nb`), in the same order, so the same bits — and in ``row`` the parts the
    interval bound needs (layout above). ``b0``, ``d0``: scratch per position (price, delta);
    ``lanes``: scratch of :func:`_price_lanes` (:func:`_lane_buffer`).
    Only the scenarios flagged in ``active`` (per unit and scenario) are computed: the others
    must be known not to be their unit's worst (:func:`_scen_active`); their parts are left 0."""
    pool_i, pool_f, pos_i, pos_f, tiers, leg_axis, leg_f, scen, rate = arrs
    s_ax = pool_i[SETTLE_AXIS, p]
    s0, s1 = pool_i[SC_START, p], pool_i[SC_END, p]
    n_s = s1 - s0
    i_start, i_end = pool_i[POS_START, p], pool_i[POS_END, p]
    row[_X] = x
    for j in range(_E_CV, row.shape[0]):
        row[j] = 0.0
    g = c + slope * x
    mag = abs(c) + abs(slope * x)
    for i in range(i_start, i_end):
        a = pos_i[AXIS, i]
        contract = pos_i[CONTRACT, i]
        q = pos_f[QTY, i]
        pa = x if a == ax else prices[a]
        if s_ax >= 0:
            settle = x if s_ax == ax else prices[s_ax]
        else:
            settle = 1.0 if contract == LINEAR else pa
        P = pa * pos_f[BASIS, i]
        opt = 0.0
        if contract == INVERSE_OPTION:
            tau = _year_fraction(pos_f[EXPIRY, i] - 0.0)
            w = 1.0 if pos_i[IS_CALL, i] != 0 else -1.0
            b, d = black76_price_delta_nb(P, pos_f[STRIKE, i], tau, pos_f[VOL, i] * math.sqrt(tau),
                                          math.exp(-rate * tau), w)
            opt = b / P
            b0[i - i_start] = opt
            d0[i - i_start] = d
            mag += abs(q) * pos_f[STRIKE, i] / P * abs(settle) * (1 + n_s)
        v = _value(contract, q, P, pos_f[ENTRY, i], settle, opt)
        m = _position_mm(i, P, settle, opt, pos_i, pos_f, tiers)
        mag += abs(v) + abs(m)
        v -= m
        g += v
        if contract == INVERSE_OPTION and a == ax:          # q·B(x·basis)/basis: q × convex
            _add_part(row, _E_CV, q, v, q * d0[i - i_start])
    row[_EQ] = g
    # ---- scenario MM: scenario_mm_nb's loops -----------------------------------------------------
    offset, factor = pool_f[PM0 + 0, p], pool_f[PM0 + 1, p]
    add, floor = pool_f[PM0 + 2, p], pool_f[PM0 + 3, p]
    base = _units_end(n_units)
    total = 0.0
    sc_mag = 0.0
    w_sum = 0.0                     # Σ|weight| and the range of moves (rounding margin)
    m_lo = m_hi = 0.0
    for s in range(s0, s1):
        w_sum += abs(scen[SC_WEIGHT, s])
        m_lo, m_hi = min(m_lo, scen[SC_MOVE, s]), max(m_hi, scen[SC_MOVE, s])
    back = np.empty(4)              # per unit: the unshocked values' part of every scenario
    rows_act = np.empty(n_s, dtype=np.int64)
    u = 0
    i0 = i_start
    while i0 < i_end:
        a = pos_i[AXIS, i0]
        i1 = i0
        while i1 < i_end and pos_i[AXIS, i1] == a:
            i1 += 1
        on_axis = a == ax
        j0 = base + 5 * u * n_s
        n_act = 0                       # the unit's active scenario rows
        for s in range(s0, s1):
            if active[u * n_s + s - s0]:
                rows_act[n_act] = s
                n_act += 1
        # the unit's shocked options in the active scenarios, priced in one vectorised pass
        n = 0
        for i in range(i0, i1):
            if pos_i[CONTRACT, i] == INVERSE_OPTION:
                terms = _option_lanes_time(i, 0.0, pos_f, rate, pos_i[IS_CALL, i] != 0)
                P = (x if on_axis else prices[a]) * pos_f[BASIS, i]
                for t in range(n_act):
                    _put_lane(lanes, n, rows_act[t], P, i, pos_f, scen, terms)
                    n += 1
        _price_lanes(n, lanes)
        n = 0
        roll_u = 0.0
        charge = 0.0
        back[:] = 0.0
        for i in range(i0, i1):
            contract = pos_i[CONTRACT, i]
            q = pos_f[QTY, i]
            P = (x if on_axis else prices[a]) * pos_f[BASIS, i]
            settle = (x if s_ax == ax else prices[s_ax]) if s_ax >= 0 else (1.0 if contract == LINEAR else P)
            is_opt = contract == INVERSE_OPTION
            if is_opt:
                o0 = b0[i - i_start]
                K = pos_f[STRIKE, i]
                part = 1 if q > 0.0 else 3  # the shocked value: convex part (q > 0) or concave part
                # sizes of the shocked and unshocked values summed: calls ≤ F, puts ≤ K (in coin
                # per coin of forward, at the lowest scenario price, when coin-settled)
                unit_price = settle if s_ax >= 0 else P      # USD per coin of the option's value
                e_lo = P * (1.0 + m_lo * pos_f[SH_REL, i]) + m_lo * pos_f[SH_ABS, i]
                e_hi = P * (1.0 + m_hi * pos_f[SH_REL, i]) + m_hi * pos_f[SH_ABS, i]
                if s_ax >= 0:
                    low = max(min(e_lo, e_hi), 1e-12 * P)
                    sc_mag += w_sum * abs(q) * abs(settle) * (2.0 + K / low + K / P)
                else:
                    sc_mag += w_sum * abs(q) * (max(e_lo, e_hi, P) + P + 2.0 * K)
                if on_axis:             # −q·o0·(settle or P) = −q·B(P)·const: q × convex, slope −q·Δ0·…
                    k = 0 if -q > 0.0 else 2
                    back[k] += -q * o0 * unit_price
                    back[k + 1] += -q * d0[i - i_start] * (1.0 if s_ax >= 0 else pos_f[BASIS, i])
                for t in range(n_act):
                    s = rows_act[t]
                    P1, o1, d1 = lanes[_L_F, n], lanes[_L_PRICE, n], lanes[_L_DELTA, n]
                    j = j0 + 5 * (s - s0)
                    if s_ax >= 0:
                        r1 = o1 / P1
                        row[j] += q * ((r1 - o0) * settle)
                        shocked, d_shocked = q * r1 * settle, q * d1
                    else:
                        row[j] += q * (o1 - o0 * P)
                        dp1 = pos_f[BASIS, i] * (1.0 + scen[SC_MOVE, s] * pos_f[SH_REL, i]) \
                            if lanes[_L_RAW, n] >= 1e-12 * P else 1e-12 * pos_f[BASIS, i]
                        shocked, d_shocked = q * o1, q * d1 * dp1
                    if on_axis:
                        row[j + part] += shocked
                        row[j + part + 1] += d_shocked
                    n += 1
            else:
                for t in range(n_act):
                    s = rows_act[t]
                    mv = scen[SC_MOVE, s]
                    P1 = max(P * (1.0 + mv * pos_f[SH_REL, i]) + mv * pos_f[SH_ABS, i], 1e-12 * P)
                    j = j0 + 5 * (s - s0)
                    if contract == LINEAR:
                        row[j] += q * (P1 - P)
                        sc_mag += abs(scen[SC_WEIGHT, s] * q * (P1 - P))
                    else:
                        row[j] += q * (1.0 / P - 1.0 / P1) * settle
                        sc_mag += abs(scen[SC_WEIGHT, s] * q * (1.0 / P - 1.0 / P1) * settle)
            size_usd = _size_usd(contract, abs(q), P, settle)
            roll_u += pos_f[ROLL, i] * size_usd
            charge += pos_f[MIN_CHARGE, i] * size_usd
        worst = 0.0
        for t in range(n_act):
            s = rows_act[t]
            j = j0 + 5 * (s - s0)
            worst = max(worst, -_adjusted(row[j] * scen[SC_WEIGHT, s], scen[SC_DAMP, s], offset))
            for k in range(4):
                row[j + 1 + k] += back[k]
        row[_UNITS + 2 * u] = roll_u
        row[_UNITS + 2 * u + 1] = charge
        unit_mm = _multiplied(charge, pool_f, p)
        total += max(worst + roll_u, unit_mm)
        sc_mag += roll_u + unit_mm
        u += 1
        i0 = i1
    g -= factor * max(total + add, floor)
    row[_F] = g
    row[_MAG] = mag + factor * max(1.0, offset) * sc_mag + factor * (abs(add) + abs(floor))
    return g


@_inline
def _tangents_chord_lb(xa, xb, cva, cvb, sa, sb, ra, rb):
    """Lower bound on [xa, xb] of cv + r, cv convex (values cva, cvb, slopes sa, sb at the ends),
    r concave (values ra, rb): the larger of cv's end tangents plus r's chord, minimised (at an
    end or where the tangents cross)."""
    chord = (rb - ra) / (xb - xa)
    at_a = max(cva, cvb + sb * (xa - xb)) + ra
    at_b = max(cva + sa * (xb - xa), cvb) + rb
    lb = min(at_a, at_b)
    if sb != sa:
        xs = (cvb - sb * xb - cva + sa * xa) / (sa - sb)
        if xa < xs < xb:
            lb = min(lb, cva + sa * (xs - xa) + ra + chord * (xs - xa))
    return lb


@_inline
def _part_bounds(ra, rb, j, ta, tb):
    """(lower, upper) bound on [ra[_X], rb[_X]] of a sum of convex, concave and affine terms
    whose values at the ends are ``ta``, ``tb``: columns ``j`` … ``j + 3`` hold its convex part
    and slope, then its concave part and slope (the rest is affine)."""
    xa, xb = ra[_X], rb[_X]
    lb = _tangents_chord_lb(xa, xb, ra[j], rb[j], ra[j + 1], rb[j + 1], ta - ra[j], tb - rb[j])
    ub = -_tangents_chord_lb(xa, xb, -ra[j + 2], -rb[j + 2], -ra[j + 3], -rb[j + 3],
                             ra[j + 2] - ta, rb[j + 2] - tb)
    return lb, ub


@_inline
def _loss_bounds(ra, rb, u, s, si, n_units, n_s, offset, scen):
    """(lower, upper) bound on [ra[_X], rb[_X]] of unit ``u``'s loss in scenario row ``s`` (the
    pool's ``si``-th), −(its weighted, dampened, offset P&L): :func:`_adjusted` is
    non-decreasing."""
    j = _units_end(n_units) + 5 * (u * n_s + si)
    a_lo, a_hi = _part_bounds(ra, rb, j + 1, ra[j], rb[j])
    wt = scen[SC_WEIGHT, s]
    y_lo, y_hi = (wt * a_lo, wt * a_hi) if wt >= 0.0 else (wt * a_hi, wt * a_lo)
    return -_adjusted(y_hi, scen[SC_DAMP, s], offset), -_adjusted(y_lo, scen[SC_DAMP, s], offset)


@_jit
def _scen_active(ra, rb, p, n_units, arrs, within, active):
    """Flag in ``active`` the scenarios of each unit (among those flagged in ``within``) that
    may be its worst somewhere on [ra[_X], rb[_X]]: a loss whose upper bound is below the largest
    lower bound (or 0) by more than the rounding margin is never the maximum there, nor on any
    part of the interval, so leaving it out of :func:`_scen_point` and of the bounds of the
    parts changes no bit of a result."""
    pool_i, pool_f, scen = arrs[0], arrs[1], arrs[7]
    s0, s1 = pool_i[SC_START, p], pool_i[SC_END, p]
    n_s = s1 - s0
    offset = pool_f[PM0 + 0, p]
    tol = _CERT_REL * max(ra[_MAG], rb[_MAG])
    for u in range(n_units):
        floor = 0.0
        for s in range(s0, s1):
            if within[u * n_s + s - s0]:
                floor = max(floor, _loss_bounds(ra, rb, u, s, s - s0, n_units, n_s, offset, scen)[0])
        for s in range(s0, s1):
            j = u * n_s + s - s0
            active[j] = within[j] and (_loss_bounds(ra, rb, u, s, s - s0, n_units, n_s, offset, scen)[1]
                                       >= floor - tol)


@_jit
def _scen_bounds(ra, rb, p, n_units, arrs, within):
    """(lower, upper) bound of equity − MM of scenario pool ``p`` on [ra[_X], rb[_X]] (ra[_X] <
    rb[_X]) from the two evaluated rows: equity and every scenario P&L bounded by tangents and
    chords, then the MM formula's monotonicity (see the section comment); only the scenarios
    flagged in ``within`` (the others are known not to be the worst there, :func:`_scen_active`).

    The roll shocks R = Σ_u roll_u are affine along the axis (sizes |q|·x, |q|, constants), and
    grow with x as the equity does (an option's roll shock is |q|·x USD in a coin-settled pool):
    bounding equity and MM apart would pair the equity at one end with the roll shock at the
    other, which fails on every wide interval far from the mark. So with MM = factor·max(R + Σ_u
    max(worst_u, charge_u − roll_u) + add, floor), equity − MM = min(E − factor·R − factor·(Σ_u
    max(…) + add), E − factor·floor), and E − factor·R is bounded as one convex + concave +
    affine sum."""
    pool_i, pool_f, scen = arrs[0], arrs[1], arrs[7]
    s0, s1 = pool_i[SC_START, p], pool_i[SC_END, p]
    n_s = s1 - s0
    offset, factor = pool_f[PM0 + 0, p], pool_f[PM0 + 1, p]
    add, floor = pool_f[PM0 + 2, p], pool_f[PM0 + 3, p]
    rest_lo = rest_hi = 0.0         # Σ_u max(worst_u, charge_u − roll_u), bounds
    roll_a = roll_b = 0.0           # R at the two ends
    for u in range(n_units):
        worst_lo = worst_hi = 0.0
        for s in range(s0, s1):
            if not within[u * n_s + s - s0]:
                continue
            loss_lo, loss_hi = _loss_bounds(ra, rb, u, s, s - s0, n_units, n_s, offset, scen)
            worst_hi = max(worst_hi, loss_hi)
            worst_lo = max(worst_lo, loss_lo)
        k = _UNITS + 2 * u
        roll_a += ra[k]
        roll_b += rb[k]
        rest_lo += max(worst_lo, _multiplied(min(ra[k + 1], rb[k + 1]), pool_f, p) - max(ra[k], rb[k]))
        rest_hi += max(worst_hi, _multiplied(max(ra[k + 1], rb[k + 1]), pool_f, p) - min(ra[k], rb[k]))
    e_lo, e_hi = _part_bounds(ra, rb, _E_CV, ra[_EQ], rb[_EQ])
    j_lo, j_hi = _part_bounds(ra, rb, _E_CV, ra[_EQ] - factor * roll_a, rb[_EQ] - factor * roll_b)
    return (min(j_lo - factor * (rest_hi + add), e_lo - factor * floor),
            min(j_hi - factor * (rest_lo + add), e_hi - factor * floor))


@_jit
def _scen_nearest(k, p, ax, prices, grid, down, up, now, arrs, work, b0, d0):
    """Nearest boundaries of scenario pool ``p`` along ``ax`` (pair ``k``): the plain scan's
    result, found with certified skips (section comment). ``work``: (len(grid) + 2, row width).

    Per side: strides of _STEP0, ×4 each (upward at most _MAX_SPAN wide), from the last point
    reached; an interval not certified is halved (left half first) until the first grid point
    where the sign changes is pinned between neighbours. The midpoints and the refinement
    evaluate only the scenarios that can be the worst in their interval (:func:`_scen_active`)."""
    mark = prices[ax]
    n_grid = grid.shape[0]
    n_units = _n_units(p, arrs)
    c, slope = _legs_line(p, ax, prices, True, arrs)
    band_lo, band_hi = _floor_band(p, ax, arrs)
    n_flags = n_units * (arrs[0][SC_END, p] - arrs[0][SC_START, p])
    every = np.ones(n_flags, dtype=np.bool_)
    have = np.zeros(n_grid + 1, dtype=np.bool_)
    stack = np.empty((64, 2), dtype=np.int64)
    masks = np.empty((64, n_flags), dtype=np.bool_)
    active = np.empty(n_flags, dtype=np.bool_)
    lanes = _lane_buffer(arrs[0][POS_END, p] - arrs[0][POS_START, p], arrs[0][SC_END, p] - arrs[0][SC_START, p])
    f0 = _scen_point(p, ax, mark, prices, c, slope, n_units, arrs, work[0], b0, d0, every, lanes)
    now[k] = f0 <= 0.0
    positive = f0 > 0
    scratch = work[n_grid + 1]
    for side in range(2):
        direction = -1.0 if side == 0 else 1.0
        have[:] = False
        have[0] = True
        first = -1
        j = 0
        stride = _STEP0
        while j < n_grid and first < 0:
            h = min(j + stride, n_grid)
            g_j = grid[j - 1] if j > 0 else 0.0
            while side == 1 and h > j + 1 and grid[h - 1] - g_j > _MAX_SPAN:
                h -= 1
            if not have[h]:
                _scen_point(p, ax, mark * math.exp(direction * grid[h - 1]), prices, c, slope, n_units, arrs,
                            work[h], b0, d0, every, lanes)
                have[h] = True
            stack[0, 0], stack[0, 1] = j, h
            masks[0, :] = every
            depth = 1
            while depth > 0:
                depth -= 1
                lo, hi = stack[depth, 0], stack[depth, 1]
                changed = (work[hi, _F] > 0) != positive
                if hi == lo + 1:
                    if changed:
                        first = hi
                        break
                    continue
                ra, rb = (work[lo], work[hi]) if side == 1 else (work[hi], work[lo])
                if not changed and (rb[_X] < band_lo or ra[_X] > band_hi):
                    f_lo, f_hi = _scen_bounds(ra, rb, p, n_units, arrs, masks[depth])
                    tol = _CERT_REL * max(ra[_MAG], rb[_MAG])
                    if (f_lo > tol) if positive else (f_hi < -tol):
                        continue
                _scen_active(ra, rb, p, n_units, arrs, masks[depth], active)
                mid = (lo + hi) // 2
                if not have[mid]:
                    _scen_point(p, ax, mark * math.exp(direction * grid[mid - 1]), prices, c, slope, n_units,
                                arrs, work[mid], b0, d0, active, lanes)
                    have[mid] = True
                stack[depth, 0], stack[depth, 1] = mid, hi
                masks[depth, :] = active
                stack[depth + 1, 0], stack[depth + 1, 1] = lo, mid
                masks[depth + 1, :] = active
                depth += 2
            j = h
            stride *= 4
        if first < 0:
            continue
        x, f = work[first, _X], work[first, _F]
        x_prev, f_prev = work[first - 1, _X], work[first - 1, _F]
        if x < x_prev:
            lo_x, hi_x, flo, fhi = x, x_prev, f, f_prev
            _scen_active(work[first], work[first - 1], p, n_units, arrs, masks[depth], active)
        else:
            lo_x, hi_x, flo, fhi = x_prev, x, f_prev, f
            _scen_active(work[first - 1], work[first], p, n_units, arrs, masks[depth], active)
        # the plain scan's refinement (Illinois + the probe across the moved end), step for step,
        # each point with only the scenarios that can be the worst inside the bracket
        side_ = 0
        r = math.nan
        for it in range(200):
            x = (lo_x * fhi - hi_x * flo) / (fhi - flo)
            if not (lo_x < x < hi_x):
                x = 0.5 * (lo_x + hi_x)
            fx = _scen_point(p, ax, x, prices, c, slope, n_units, arrs, scratch, b0, d0, active, lanes)
            if fx == 0.0:
                r = x
                break
            lo_x, hi_x, flo, fhi, side_ = _illinois(lo_x, hi_x, flo, fhi, side_, x, fx)
            if hi_x - lo_x <= 1e-12 * hi_x or it == 199:
                break
            xn = x - 0.4e-12 * hi_x if side_ == 1 else x + 0.4e-12 * hi_x
            if lo_x < xn < hi_x:
                fn = _scen_point(p, ax, xn, prices, c, slope, n_units, arrs, scratch, b0, d0, active, lanes)
                if fn == 0.0:
                    r = xn
                    break
                if (fn > 0) == (fhi > 0):
                    hi_x, fhi = xn, fn
                else:
                    lo_x, flo = xn, fn
                if hi_x - lo_x <= 1e-12 * hi_x:
                    break
        if math.isnan(r):
            r = lo_x if abs(flo) < abs(fhi) else hi_x
        if side == 0:
            down[k] = r
        else:
            up[k] = r


@_jit
def _scen_row_width(pools, lo_k, hi_k, arrs):
    """Width of the certified scan's work rows for pairs lo_k … hi_k − 1 (0: no scenario pool)."""
    pool_i = arrs[0]
    width = 0
    for k in range(lo_k, hi_k):
        p = pools[k]
        n_s = pool_i[SC_END, p] - pool_i[SC_START, p]
        if n_s > 0:
            n_u = _n_units(p, arrs)
            width = max(width, _units_end(n_u) + 5 * n_u * n_s)
    return width


# ---- nearest boundaries: the hot path ------------------------------------------------------------
# Written as one function with ONE evaluation site driven by a small state machine: the positions
# that move with the axis are re-valued at each point, the rest summed once.

_MARK, _SCAN, _REFINE, _NUDGE = 0, 1, 2, 3


@_jit
def _nearest_chunk(lo_k, hi_k, pools, axes, prices, with_mm, coarse, fine, down, up, now, arrs, bounded):
    """Nearest boundaries of pairs lo_k … hi_k − 1 (one thread), the same search as
    :func:`pool_boundaries_nb` (outward scan on the grid, Illinois regula falsi to 1e-12) with
    three savings: the part of the pool that does not move with the axis is summed once per pair;
    each side's scan stops at its first sign change (the nearest boundary); and after each
    Illinois step a probe just across the moved end closes the bracket (on piecewise-affine gaps
    regula falsi approaches the root from one side and needs ~40 halvings otherwise). With
    ``bounded``, scenario pools that allow it are scanned with certified skips
    (:func:`_scen_nearest`: the same result, bit for bit, from far fewer evaluations)."""
    pool_i, pool_f, pos_i, pos_f, tiers, leg_axis, leg_f, scen, rate = arrs
    width = 1
    for k in range(lo_k, hi_k):
        width = max(width, pool_i[POS_END, pools[k]] - pool_i[POS_START, pools[k]])
    idx = np.empty(width, dtype=np.int64)
    b0 = np.empty(width)
    d0 = np.empty(width)
    work = np.empty((max(fine.shape[0], coarse.shape[0]) + 2,
                     max(1, _scen_row_width(pools, lo_k, hi_k, arrs) if bounded and with_mm else 1)))
    px = prices.copy()
    for k in range(lo_k, hi_k):
        ax = axes[k]
        p = pools[k]
        s_ax = pool_i[SETTLE_AXIS, p]
        mark = prices[ax]
        grid = fine if pool_i[DENSE, p] else coarse
        n_grid = grid.shape[0]
        scen_pool = with_mm and pool_i[SC_END, p] > pool_i[SC_START, p]
        c, slope = _legs_line(p, ax, prices, with_mm, arrs)
        if bounded and scen_pool and _scen_boundable(p, ax, arrs):
            _scen_nearest(k, p, ax, prices, grid, down, up, now, arrs, work, b0, d0)
            continue
        n = 0
        for i in range(pool_i[POS_START, p], pool_i[POS_END, p]):
            idx[n] = i
            n += 1
        state = _MARK
        x = mark
        f0 = 0.0
        direction = -1.0
        j = 0
        x_prev = f_prev = lo = hi = flo = fhi = 0.0
        side = 0
        it = 0
        while True:
            # ---- the one evaluation site: g = (equity − MM) or equity at prices[ax] = x -------
            c_start = c
            g = c + slope * x
            n_moving = 0
            for t in range(n):
                i = idx[t]
                a = pos_i[AXIS, i]
                moving = a == ax or s_ax == ax
                pa = x if a == ax else prices[a]
                if s_ax >= 0:
                    settle = x if s_ax == ax else prices[s_ax]
                else:
                    settle = 1.0 if pos_i[CONTRACT, i] == LINEAR else pa
                v, m = position_value_mm_nb(i, pa * pos_f[BASIS, i], settle, 0.0, pos_i, pos_f, tiers, rate,
                                            with_mm)
                v -= m
                if state == _MARK and not moving and not scen_pool:
                    c += v                       # fixed along this axis: summed once
                else:
                    g += v
                    if state == _MARK:
                        idx[n_moving] = i
                        n_moving += 1
            if scen_pool:                        # scenario pool: MM is not a sum over positions
                px[ax] = x
                g -= scenario_mm_nb(p, px, 0.0, arrs)
                px[ax] = prices[ax]
            f = g
            # ---- what to evaluate next -----------------------------------------------------------
            done_side = False
            if state == _MARK:
                n = n_moving
                f0 = f + (c - c_start)           # g started from c before the fixed part was added
                now[k] = f0 <= 0.0
                state = _SCAN
                direction = -1.0
                j = 0
                x_prev, f_prev = mark, f0
            elif state == _SCAN:
                if (f > 0) != (f_prev > 0):
                    if x < x_prev:
                        lo, hi, flo, fhi = x, x_prev, f, f_prev
                    else:
                        lo, hi, flo, fhi = x_prev, x, f_prev, f
                    state = _REFINE
                    side = 0
                    it = 0
                else:
                    x_prev, f_prev = x, f
                    j += 1
                    if j >= n_grid:
                        done_side = True
            else:
                if f == 0.0:
                    lo, hi, flo, fhi = x, x, 0.0, 0.0
                    done_side = True
                elif state == _REFINE:
                    lo, hi, flo, fhi, side = _illinois(lo, hi, flo, fhi, side, x, f)
                    it += 1
                    if hi - lo <= 1e-12 * hi or it >= 200:
                        done_side = True
                    else:
                        xn = x - 0.4e-12 * hi if side == 1 else x + 0.4e-12 * hi
                        if lo < xn < hi:
                            state = _NUDGE
                            x = xn
                            continue
                else:                            # _NUDGE
                    if (f > 0) == (fhi > 0):
                        hi, fhi = x, f
                    else:
                        lo, flo = x, f
                    state = _REFINE
                    if hi - lo <= 1e-12 * hi:
                        done_side = True
                if done_side and state != _SCAN:
                    r = lo if abs(flo) < abs(fhi) else hi
                    if direction < 0:
                        down[k] = r
                    else:
                        up[k] = r
            if done_side:
                if direction > 0:
                    break
                direction = 1.0
                state = _SCAN
                j = 0
                x_prev, f_prev = mark, f0
            if state == _SCAN:
                x = mark * math.exp(direction * grid[j])
            else:                                # _REFINE: next regula falsi point
                x = (lo * fhi - hi * flo) / (fhi - flo)
                if not (lo < x < hi):
                    x = 0.5 * (lo + hi)
    return 0


_CHUNK = 256     # pairs per parallel task


@nb.njit(cache=True, nogil=True, parallel=True)
def _nearest_all(pools, axes, prices, with_mm, coarse, fine, arrs, bounded):
    m = pools.shape[0]
    down = np.full(m, np.nan)
    up = np.full(m, np.nan)
    now = np.zeros(m, dtype=np.bool_)
    n_chunks = (m + _CHUNK - 1) // _CHUNK
    for c in nb.prange(n_chunks):
        _nearest_chunk(c * _CHUNK, min(m, (c + 1) * _CHUNK), pools, axes, prices, with_mm, coarse, fine,
                       down, up, now, arrs, bounded)
    return down, up, now


@_jit
def nearest_boundaries_nb(pools, axes, prices, with_mm, coarse, fine, arrs):
    """For many (pool, axis) pairs: the nearest boundary below and above the mark (NaN: none)
    and whether the pool is already liquidatable. Parallel over chunks of pairs; scenario pools
    are scanned with certified skips where they allow it (:func:`_scen_nearest`)."""
    return _nearest_all(pools, axes, prices, with_mm, coarse, fine, arrs, True)


@_jit
def nearest_boundaries_scan_nb(pools, axes, prices, with_mm, coarse, fine, arrs):
    """:func:`nearest_boundaries_nb` with the plain scan for every pool (every grid point up to
    the first sign change): the reference the certified scan is tested against, bit for bit."""
    return _nearest_all(pools, axes, prices, with_mm, coarse, fine, arrs, False)


#: log-offsets past 10⁴× the mark, scanned only by a side with no boundary nearer: an inverse
#: (coin-margined) account holding many coins against a small long has its boundary far below the
#: mark (equity in coin falls as Q/P). Searched to 10¹²× either side; beyond that "none".
FAR_OFFSETS = (math.log(1e8), math.log(1e12))


def coarse_grid() -> np.ndarray:
    """Log-offsets doubling from 0.5% to ln(1e4) (12 points), then :data:`FAR_OFFSETS`. Enough for
    concave pools: there (equity − MM) > 0 on one interval around the mark, so each side has at
    most one root and the first grid point past it brackets it."""
    g = 0.005 * 2.0 ** np.arange(12)
    return np.concatenate([g[g < math.log(1e4)], [math.log(1e4)], FAR_OFFSETS])


def fine_grid() -> np.ndarray:
    """Log-offsets for pools that need not be concave (options, scenario margin), up to ln(1e4):
    the first step 0.25%, each next one 0.25% + 3% of the offset already reached — fine at the
    mark (44 points within ±25%), ~3% of the distance far out (159 points a side; a grid of
    0.25%·1.004^k steps took 690) — then :data:`FAR_OFFSETS`. A pair of roots closer together
    than the local step could be missed (past 10⁴×, any pair between two far offsets); the
    dense-scan tests bound that within ±25% (docs/scenario_margin.md)."""
    g = [0.0025]
    while g[-1] < math.log(1e4):
        g.append(1.03 * g[-1] + 0.0025)
    return np.array(g[:-1] + list(FAR_OFFSETS))
