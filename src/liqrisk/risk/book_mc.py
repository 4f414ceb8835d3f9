"""Monte Carlo liquidation risk of accounts of the compiled book (:mod:`liqrisk.margin.account`):
every pool of every account evaluated on every path and step inside
:func:`~liqrisk.risk.book_kernel.book_chunk_nb` (no Python per step).

What is estimated, per account and horizon (steps of ``dt``; each horizon's numbers depend on
the seed, the horizon and ``dt`` only — never on which other horizons or accounts are run):

* **P(liquidation)** of the account (any pool) and of each of its margined pools (the cross
  part, each isolated position; per pool below), the bridge-corrected conditional expectation of
  :mod:`liqrisk.risk.bridge`; ``driver`` names the pool with the largest probability.
  Variance reduction per horizon (``auto``: for GBM, correlated or not, importance sampling
  when the account is rare — the main underlying's closed form < 1e-3, or for an account with a
  pool moving with several underlyings the first passage of its health at its design point
  (:func:`_design_points`) 2Φ̄(d) < 1e-3 — else the control variate; antithetic pairs for
  Student-t, plain sampling for the asymmetric models (bootstrap,
  jumps), and their importance sampling
  (:mod:`liqrisk.risk.measures`) when the antithetic estimate is < 1e-3) — and a variance-reduced estimate whose value or 95% interval
  leaves [0, 1] is not used: the plain estimate of the same run is reported instead. The rare
  accounts of one horizon share a tilted run per (axis, side, boundary distance rounded to the
  grid :data:`IS_GRID`) or (design direction rounded to :data:`DIR_GRID`, distance): unbiased
  for any tilt, the variance grows by ≈ e^{ε²d²}·2Φ̄(−εd) for a relative tilt error ε at d
  standard deviations (docs/montecarlo.md).
* **P(liquidation) per pool** (``pools``): an account's only margined pool is liquidated exactly
  when the account is — one event, the account's estimate. In an account with several, each
  margined pool's own bridge-corrected probability, with the account's rule applied to the pool
  (:func:`_pool_tilts`): where the pool is rare — its own design point's 2Φ̄(d) in an account
  tilted towards one, else the first-passage closed form of its nearer boundary on the axis its
  health moves with most (:func:`_pool_barriers`), for the other models its sampled estimate,
  < 1e-3 (``importance``: every pool with a tilt) — importance sampling towards its own point or
  boundary: on the account's tilted run when that is the account's tilt too (the pool that sets
  it), else on its own bucket's run (shared by the pools and accounts of the bucket). The
  estimate is Σ w·y / n over the run's n paths, y the path's bridge-corrected liquidation
  probability of the pool and w the path's likelihood ratio dP/dQ (the kernels' per-pool
  sums), with its sample standard error; otherwise the plain (antithetic) estimate of the
  untilted run — no control variate per pool. As the account's: a tilted estimate outside
  [0, 1] is not used, the 95% normal interval is clipped to [0, 1], a sampled 0 or 1 carries
  the rule-of-three bound.
* **time to liquidation** quantiles and histogram (conditional on liquidation before the last
  horizon), from the untilted run; 0 for an account liquidatable now.
* **VaR99 / ES99** of the loss ``stake(0) − value(T)`` (USD), the value including what
  liquidation does: a pool liquidated on a path keeps ``max(0, min(equity, MM) − fee·notional)``
  from its liquidation step on (the loss stops at the liquidation point, the venue's liquidation
  fee is charged and a shortfall below zero is the insurance fund's); a pool past its trigger at
  t=0 keeps that amount at the marks on every path (liquidated now); after an instrument's expiry
  its settled value counts. The stake is the equity at t=0 with the deficit of each pool past its
  trigger not counted (:func:`_liquidated_now`), so the loss never exceeds it (``max_loss``).
  VaR = the ⌈0.99·n⌉-th smallest loss, ES = the mean of the worst ``n − ⌈0.99·n⌉ + 1`` losses.

Cost and memory: paths run in chunks on threads (nogil kernel); memory per thread is one path
(steps × underlyings) and a few numbers per pool and account.
``paths × steps`` is bounded by :data:`MAX_PATH_STEPS`.
"""
from __future__ import annotations

import contextlib
import itertools
import math
import threading
from dataclasses import dataclass, field, replace

import numpy as np

from liqrisk._gc import cyclic_gc_paused
from liqrisk.dynamics.paths import Bootstrap, GarchVol, PathModel, as_seed_sequence, map_chunks
from liqrisk.margin import kernel as K
from liqrisk.margin.base import (INVERSE, LINEAR, MM_ENTRY_VALUE, MM_NONE, MM_TIERS_AT_MARK, MM_WHOLE_TIER_FEE,
                                 NOTIONAL_COIN, NOTIONAL_FACE, NOTIONAL_QUOTE, NOTIONAL_SIZE)
from liqrisk.risk.affine_block import solo_affine_chunk_nb
from liqrisk.risk.tails import kept_losses, largest_losses, tail_store
from liqrisk.risk.book_kernel import (GRADIENT_SPACING, affine_pieces_nb, book_chunk_nb, design_roots_nb,
                                     health_tables_nb, safe_boxes_nb)
from liqrisk.risk.bridge import FAR as _FAR
from liqrisk.risk.first_passage import hit_probability
from liqrisk.risk.measures import MeasureChange, proposal
from liqrisk.risk.estimates import (METHODS, TIME_QUANTILES, YEAR_HOURS, ProbabilityEstimate,
                                    TimeHistogram, no_silent_zero)

MAX_PATH_STEPS = 2_000_000_000
"""Largest paths × steps of one run (about 10 minutes of one core for a small account)."""
MAX_STEPS = 2_000_000
"""Largest number of steps of one path (a path is held whole: ~32 bytes per step and underlying)."""
IS_THRESHOLD = 1e-3
HIST_BINS = 240


class SimulationTooLarge(ValueError):
    """paths × steps (or steps) above the documented limit."""


@dataclass
class AccountRisk:
    """Monte Carlo results of one account (see module docstring). Money in USD."""

    probabilities: dict[float, ProbabilityEstimate]
    pools: dict[str, dict[float, ProbabilityEstimate]]
    driver: dict[float, str | None]
    time_to_liquidation: dict[float, float]
    time_histogram: TimeHistogram
    var99: dict[float, float]
    es99: dict[float, float]
    max_loss: float
    method: str
    n_paths: int
    dt_years: dict[float, float]
    liquidatable_now: bool = False


@dataclass
class _Group:
    """The accounts of one run: local pool list, bounds, controls (all on the run's axes)."""

    pools: np.ndarray
    margined: np.ndarray
    labels: list[str]
    fee: np.ndarray
    plo: np.ndarray
    phi: np.ndarray
    acc_start: np.ndarray
    alo: np.ndarray           # (n_acc, n_axes): tightest t=0 boundaries of all margined pools
    ahi: np.ndarray
    blo: np.ndarray           # the same of the single-axis pools (the account's per-axis bridge)
    bhi: np.ndarray
    breached: np.ndarray
    v0: np.ndarray
    exposure: np.ndarray
    dep: np.ndarray           # (n_pools, n_axes): the pool moves with the axis
    screenable: np.ndarray    # separable and concave along each axis (safe_boxes_nb applies)
    affine: np.ndarray        # equity = ec + Σ ek·P (linear contracts and collateral only)
    ec: np.ndarray
    ek: np.ndarray
    expiry: np.ndarray        # per pool: first expiry of its positions (years; inf: none)
    multi: np.ndarray         # margined and moving with several axes (health bridge)
    h0: np.ndarray            # equity − MM at t=0 (USD)
    g0: np.ndarray            # (n_pools, n_axes) its gradient in log prices at t=0
    memo: dict = field(default_factory=dict)   # per-pool boxes and tables of its runs (_per_pool)


def _pool_labels(plan) -> list[str]:
    """"cross" and "isolated SYMBOL" per pool of the account (+ long/short, then #n, when two
    isolated pools would share a label)."""
    def iso(p, detail):
        pos = plan.account.positions[plan.position_pools.index(p)]
        name = f"isolated {pos.symbol or plan.rules.underlying_of(pos)}"
        return name + (f" {'long' if pos.size > 0 else 'short'}" if detail else "")
    labels = ["cross" if p == plan.cross_pool else iso(p, False) for p in plan.pools]
    labels = [l if labels.count(l) == 1 or l == "cross" else iso(p, True) for l, p in zip(labels, plan.pools)]
    return [l if labels.count(l) == 1 else f"{l} #{labels[:k].count(l) + 1}" for k, l in enumerate(labels)]


def _group(cp, accounts: list[int], axes: list[int]) -> _Group:
    """Pools, t=0 boundaries (log offsets on the run's axes), breaches and exposures. One Python
    pass over the accounts collects their pools, labels, fees and pool axes; the rest is array
    work over all pools at once (per-account segments by ``ufunc.at``)."""
    arrays, marks = cp.arrays, cp.market.prices
    pools, n_pools, labels, fees, axsets = [], [], [], [], []
    for i in accounts:
        plan = cp.plans[i]
        ps = plan.pools
        pools += ps
        n_pools.append(len(ps))
        fees.append(plan.rules.params.liquidation_fee)
        labels += ["cross"] if len(ps) == 1 and ps[0] == plan.cross_pool else _pool_labels(plan)
        axsets += [plan.pool_axes[p] for p in ps]
    pools = np.array(pools, dtype=np.int64)
    n_pools = np.array(n_pools, dtype=np.int64)
    n_bp, n_ax, n_acc = len(pools), len(axes), len(accounts)
    acc_start = np.concatenate([[0], np.cumsum(n_pools)]).astype(np.int64)
    owner = np.repeat(np.arange(n_acc), n_pools)              # the account of each pool
    fee = np.repeat(np.array(fees), n_pools) if n_acc else np.array([])
    legs, lown = _rows_of(arrays.leg_start[pools], arrays.leg_end[pools])
    margined = (arrays.pos_end[pools] > arrays.pos_start[pools]) | (arrays.const_mm[pools] > 0) | \
        (np.bincount(lown, weights=arrays.leg_mm[legs] > 0, minlength=n_bp) > 0)
    plo, phi = np.full((n_bp, n_ax), -np.inf), np.full((n_bp, n_ax), np.inf)
    breached = np.zeros(n_bp, dtype=np.bool_)
    pb = np.repeat(np.flatnonzero(margined), n_ax)           # (pool, axis) pairs, pool-major
    pa = np.tile(np.arange(n_ax), len(pb) // max(n_ax, 1))
    ax_map = np.array(axes, dtype=np.int64)
    if len(pb):
        down, up, now = K.nearest_boundaries_nb(pools[pb], ax_map[pa], marks, True, K.coarse_grid(),
                                                K.fine_grid(), arrays.args())
        breached = np.bincount(pb, weights=now, minlength=n_bp) > 0
        # math.log (libm) on each ratio, as the loop did: NumPy's SIMD log may differ in the last bit
        for bound, side, ok in ((down, plo, np.isfinite(down) & (down > 0)), (up, phi, np.isfinite(up))):
            ratio = bound[ok] / marks[ax_map[pa[ok]]]
            side[pb[ok], pa[ok]] = [math.log(x) for x in ratio.tolist()]
    flat = np.fromiter(itertools.chain.from_iterable(axsets), np.int64,
                       count=sum(len(s) for s in axsets))
    fown = np.repeat(np.arange(n_bp), [len(s) for s in axsets])
    inside = (flat >= 0) & (flat < len(marks))
    loc = _axis_loc(len(marks), axes)[flat[inside]]
    dep = np.zeros((n_bp, n_ax), dtype=np.bool_)
    dep[fown[inside][loc >= 0], loc[loc >= 0]] = True
    multi = margined & (dep.sum(axis=1) >= 2)
    alo, ahi = np.full((n_acc, n_ax), -np.inf), np.full((n_acc, n_ax), np.inf)
    np.maximum.at(alo, owner, plo)
    np.minimum.at(ahi, owner, phi)
    blo, bhi = np.full((n_acc, n_ax), -np.inf), np.full((n_acc, n_ax), np.inf)
    np.maximum.at(blo, owner[~multi], plo[~multi])
    np.minimum.at(bhi, owner[~multi], phi[~multi])
    rows, eq, mm, h0, g0 = _t0_states(cp, pools, axes, dep)
    health = np.where(margined[None, :], eq - mm, np.inf)
    v0 = np.add.reduceat(eq[0], acc_start[:-1]) if n_bp else np.zeros(n_acc)
    h = np.full((n_acc, len(rows)), np.inf)                 # least pool health of each account
    np.minimum.at(h, owner, health.T)
    h = np.where(np.isfinite(h), h, 0.0)                    # (an account without pools: 0)
    exposure = np.zeros((n_acc, n_ax))
    for a, ax in enumerate(axes):
        exposure[:, a] = (h[:, 1 + 2 * a] - h[:, 2 + 2 * a]) / (rows[1 + 2 * a, ax] - rows[2 + 2 * a, ax])
    screenable, affine, ec, ek, expiry = _pool_structure(arrays, pools, margined, axes, marks)
    return _Group(pools, margined, labels, fee, plo, phi, acc_start, alo, ahi, blo, bhi,
                  breached, v0, exposure, dep, screenable, affine, ec, ek, expiry, multi, h0, g0)


def _t0_states(cp, pools, axes, dep):
    """(price rows, equity, MM, health h0, its gradient g0 in log prices) of ``pools`` at t=0:
    row 0 the marks, rows 1 + 2a and 2 + 2a axis ``a`` bumped 0.01% up and down (central
    differences; g0 is 0 on axes a pool does not move with, ``dep``)."""
    marks, n_ax = cp.market.prices, len(axes)
    rows = np.repeat(marks[None, :], 1 + 2 * n_ax, axis=0)
    for a, ax in enumerate(axes):
        rows[1 + 2 * a, ax] *= 1.0001
        rows[2 + 2 * a, ax] *= 0.9999
    eq, mm = K.pools_states_nb(pools, rows, 0.0, cp.arrays.args())
    g0 = np.zeros((len(pools), n_ax))
    for a in range(n_ax):
        g0[:, a] = ((eq[1 + 2 * a] - mm[1 + 2 * a]) - (eq[2 + 2 * a] - mm[2 + 2 * a])) / math.log(1.0001 / 0.9999)
    return rows, eq, mm, eq[0] - mm[0], np.where(dep, g0, 0.0)


def _liquidated_now(cp, g: _Group):
    """(now, frozen0, stake) of the group: per pool whether it is liquidatable at t=0
    (``breached``) and what liquidation at the marks leaves it,
    :func:`~liqrisk.margin.kernel.liquidated_value_nb` — ``max(0, min(equity, MM) −
    fee·notional)``, a collateral loan what its protocol's liquidation leaves the holder — (0 for
    the others); per account the holder's stake at t=0, the equity with
    each liquidatable pool's deficit (−equity when negative) not counted — a pool's deficit is
    the insurance fund's, so the loss is measured from the stake (docs/montecarlo.md, VaR and
    ES). Kept in ``g.memo``."""
    if "now" not in g.memo:
        now = g.breached & g.margined
        frozen0, stake = np.zeros(len(g.pools)), g.v0.copy()
        sel = np.flatnonzero(now)
        if len(sel):
            a, marks = cp.arrays, cp.market.prices
            eq, mm = K.pools_states_nb(g.pools[sel], marks[None, :], 0.0, a.args())
            eq, mm = eq[0], mm[0]
            # the notional the walk charges the fee on: USD face (inverse), |q|·P (the others)
            rows, own = _rows_of(a.pos_start[g.pools[sel]], a.pos_end[g.pools[sel]])
            size = np.where(a.contract[rows] == INVERSE, np.abs(a.qty[rows]),
                            np.abs(a.qty[rows]) * marks[a.axis[rows]] * a.basis[rows])
            notional = np.bincount(own, weights=size, minlength=len(sel))
            args = a.args()
            frozen0[sel] = [K.liquidated_value_nb(int(q), marks, e, m, f, n, args) for q, e, m, f, n in
                            zip(g.pools[sel], eq, mm, g.fee[sel], notional)]
            owner = np.repeat(np.arange(len(g.acc_start) - 1), np.diff(g.acc_start))
            np.add.at(stake, owner[sel], np.maximum(-eq, 0.0))
        g.memo["now"] = (now, frozen0, stake)
    return g.memo["now"]


def _pays_usd(cp, g: _Group) -> np.ndarray:
    """Per pool of the group: its venue pays options' payoffs in USD
    (:attr:`~liqrisk.margin.base.RuleSet.options_pay_usd`). Kept in ``g.memo``."""
    if "usd" not in g.memo:
        flag = np.zeros(len(cp.arrays.pos_start), np.bool_)
        for plan in cp.plans:
            if plan.rules.options_pay_usd:
                flag[plan.pools] = True
        g.memo["usd"] = flag[g.pools]
    return g.memo["usd"]


def _rows_of(start, end):
    """(rows, owner): the concatenated index ranges start[k] … end[k] − 1 and the k of each."""
    counts = end - start
    owner = np.repeat(np.arange(len(start)), counts)
    offset = np.cumsum(counts) - counts
    return np.arange(counts.sum()) - np.repeat(offset - start, counts), owner


def _axis_loc(n_market: int, axes) -> np.ndarray:
    """The run's axis of each market axis (−1: not simulated)."""
    loc = np.full(n_market, -1, np.int64)
    loc[np.asarray(axes, dtype=np.int64)] = np.arange(len(axes))
    return loc


def _inner_tier_rows(a, rows):
    """(tier rows, owner): every tier row but the first of each book position ``rows``, and the
    index into ``rows`` of its position."""
    t, own = _rows_of(a.tier_start[rows], a.tier_end[rows])
    inner = t > a.tier_start[rows][own]
    return t[inner], own[inner]


def _tiers_rising_continuous(a, rows) -> np.ndarray:
    """Per book position of ``rows``: tier rates non-decreasing and MM continuous in the price —
    one tier, a tier fixed by the size, or tiers in deduction form whose deductions join the
    pieces at every tier floor (``|Δ| ≤ 1e-9·max(1, largest floor) + 1e-9·|right piece|``; a jump at
    a floor — the whole notional at the next rate — would put a pool's least health inside an
    interval, not at one of its ends)."""
    t, own = _inner_tier_rows(a, rows)
    n = len(rows)
    floor = a.t_floor[t]
    left = floor * a.t_mmr[t - 1] - a.t_cum[t - 1]
    right = floor * a.t_mmr[t] - a.t_cum[t]
    big = np.ones(n)
    np.maximum.at(big, own, floor)
    joined = np.abs(left - right) <= 1e-9 * big[own] + 1e-9 * np.abs(right)
    broken = np.bincount(own, weights=~joined, minlength=n) > 0
    falling = np.bincount(own, weights=~(a.t_mmr[t] >= a.t_mmr[t - 1]), minlength=n) > 0
    code, single = a.mm_code[rows], a.tier_end[rows] - a.tier_start[rows] <= 1
    continuous = single | (a.notional_mode[rows] == NOTIONAL_SIZE) | np.isin(code, (MM_ENTRY_VALUE, MM_NONE)) | \
        ((code == MM_TIERS_AT_MARK) & ~broken)
    return continuous & ~falling


def _pool_structure(a, pools, margined, axes, marks):
    """Per pool: screenable (no options, scenario margin or loans on other axes; every coin-
    settled non-linear position on its settlement axis; tier rates non-decreasing and MM
    continuous, :func:`_tiers_rising_continuous` — so that
    equity − MM is separable across axes and concave along each), affine equity (linear
    contracts and collateral only: ``ec + Σ ek·P``), and the first expiry of its positions."""
    n, n_ax = len(pools), len(axes)
    loc = _axis_loc(len(marks), axes)
    rows, own = _rows_of(a.pos_start[pools], a.pos_end[pools])
    expiry = np.full(n, np.inf)
    np.minimum.at(expiry, own, np.where(a.expiry[rows] > 0, a.expiry[rows], np.inf))
    s_ax = a.settle_axis[pools][own]
    linear = a.contract[rows] == LINEAR
    good = _tiers_rising_continuous(a, rows) & (linear | (s_ax < 0) | (a.axis[rows] == s_ax))
    all_good = np.bincount(own, weights=~good, minlength=n) == 0
    affine = np.bincount(own, weights=~linear, minlength=n) == 0
    screenable = ((a.dense[pools] == 0) & (a.sc_end[pools] == a.sc_start[pools]) & all_good) | ~margined
    ec, ek = np.where(affine, a.const_usd[pools], 0.0), np.zeros((n, n_ax))
    legs, lown = _rows_of(a.leg_start[pools], a.leg_end[pools])
    on, lax = affine[lown], loc[a.leg_axis[legs]]
    sim = on & (lax >= 0)
    np.add.at(ek, (lown[sim], lax[sim]), a.leg_amount[legs][sim])
    off = on & (lax < 0)
    np.add.at(ec, lown[off], a.leg_amount[legs][off] * marks[a.leg_axis[legs][off]])
    on, pax = affine[own], loc[a.axis[rows]]
    q, sim = a.qty[rows], on & (pax >= 0)
    np.add.at(ek, (own[sim], pax[sim]), q[sim] * a.basis[rows][sim])
    # position by position as a loop would: −q·entry, then q·mark·basis off the run's axes (else 0)
    cash = np.stack([-q * a.entry[rows], np.where(pax < 0, q * (marks[a.axis[rows]] * a.basis[rows]), 0.0)], axis=1)
    np.add.at(ec, np.repeat(own[on], 2), cash[on].ravel())
    return screenable, affine, ec, ek, expiry


SAFE_RADII = np.array([8.0, 6.0, 4.0, 3.0, 2.0, 1.5, 1.0, 0.5])
"""Candidate half-widths of a pool's safe box, in standard deviations of the horizon's move."""


VARIANCE_CAP = 4.0
"""Under GARCH the conditional variance of a step varies along the path: the boxes and bound
tables that skip steps beyond the bridge range are computed for a step variance of
``VARIANCE_CAP`` × the first step's and apply only to paths (steps) whose variance stays below
it (the kernel walks the others); a square, so that its root 2 — the cap on the kernel's
volatility ratios — is exact."""


def _variance_cap(model: PathModel, n_steps: int) -> float:
    """The step-variance cap (× the first step's) the run's screening assumes: 1 for a constant
    variance or a run of one step (the first step's is every step's), else :data:`VARIANCE_CAP`."""
    return VARIANCE_CAP if isinstance(model.volatility, GarchVol) and n_steps > 1 else 1.0


HEALTHY_MARGIN = 1e-3
"""Least log distance of a healthy box from a pool's t=0 boundaries (its health bound must be
positive there; the bridge factor is computed inside it)."""


def _safe_boxes(cp, g: _Group, bsel, axes, model, dt, n_steps, healthy: bool = False):
    """(safe, slo, shi) of the pools ``bsel`` for a run of ``n_steps`` of ``dt``: boxes beyond
    the bridge range (per axis; for a pool moving with several axes, of its health bridge), or
    with ``healthy`` boxes where only equity − MM > 0 is certain (at least
    :data:`HEALTHY_MARGIN` inside the boundaries; single-axis pools only). The bridge range is
    that of a step variance of :func:`_variance_cap` × the model's first step's."""
    n_ax = len(axes)
    ok = g.screenable[bsel] & (g.expiry[bsel] > (n_steps + 1) * dt)
    multi = g.multi[bsel]
    if healthy:
        ok &= ~multi
    slo, shi = np.full((len(bsel), n_ax), -np.inf), np.full((len(bsel), n_ax), np.inf)
    margined = g.margined[bsel]
    sigma = model.sigma
    scale = sigma * math.sqrt(n_steps * dt)
    near = np.full(len(sigma), HEALTHY_MARGIN)
    cap = _variance_cap(model, n_steps)
    for several in (False, True):
        sub = np.flatnonzero(ok & margined & (multi == several))
        if not len(sub):
            continue
        dfar = near if healthy or several else np.sqrt(_FAR * sigma ** 2 * dt * cap / 2.0)
        cabs = np.abs(step_covariance(model, dt)) * cap if several else np.zeros((n_ax, n_ax))
        okm = ok[sub].copy()
        lo, hi = slo[sub].copy(), shi[sub].copy()
        safe_boxes_nb(g.pools[bsel][sub], np.array(axes, np.int64), cp.market.prices, scale, dfar,
                      g.dep[bsel][sub], g.plo[bsel][sub], g.phi[bsel][sub], SAFE_RADII, okm, lo, hi,
                      cabs, cp.arrays.args())
        ok[sub], slo[sub], shi[sub] = okm, lo, hi
    return ok, slo, shi


TABLE_CELLS = 128
"""Cells per axis of a several-axis pool's bound tables (:func:`_health_tables`): 1/8 of a
standard deviation of the run's move each (≈ 0.6 of a step's at 24 steps a day); 256 were no
faster on the 200 × 10 benchmark (BENCHMARKS.md), and a table costs 2·(cells + 1) valuations of
the pool per axis (≈ 0.6 ms per pool of 10 positions on 4 axes) and 16 bytes per cell."""


def _per_pool(g: _Group, key, bsel, compute):
    """``compute(sub)`` — a tuple of arrays whose first axis runs over the group's pools
    ``sub`` — for the pools ``bsel``, each pool's rows computed once per ``key`` and kept in
    ``g.memo``: a pool's safe boxes and bound tables depend on the pool, the model, ``dt`` and
    the number of steps only, not on the other pools of the run, so the importance runs of one
    call (one per bucket of rare accounts, thousands on 1,000 accounts × 10) reuse the main
    run's instead of recomputing them (the same numbers)."""
    if not len(bsel):
        return compute(bsel)
    done, vals = g.memo.setdefault(key, (np.zeros(len(g.pools), np.bool_), []))
    need = np.unique(bsel[~done[bsel]])
    if len(need):
        new = compute(need)
        if not vals and len(need) == len(g.pools):      # every pool at once: its rows are the kept ones
            vals.extend(new)
        else:
            if not vals:
                vals.extend(np.zeros((len(g.pools),) + x.shape[1:], x.dtype) for x in new)
            for v, x in zip(vals, new):
                v[need] = x
        done[need] = True
    if len(bsel) == len(g.pools) and np.array_equal(bsel, np.arange(len(g.pools))):
        return tuple(vals)        # every pool in order: the kept rows themselves (read-only use)
    return tuple(v[bsel] for v in vals)


def _health_tables(cp, g: _Group, bsel, axes, sigma, dt, n_steps, eligible):
    """Bound tables (txlo, tdx, TD, TG) per several-axis pool of ``bsel`` (row: its ``mslot``)
    for :func:`~liqrisk.risk.book_kernel.health_tables_nb`: ``eligible`` ones (affine,
    screenable, no expiry within the run) get :data:`TABLE_CELLS` cells per axis they move with,
    centred on the mark, spanning ± the largest safe radius in standard deviations of the run's
    move, each at most :data:`GRADIENT_SPACING` wide; the others a row of zeros in ``tdx``."""
    multi = g.multi[bsel]
    n_ax = len(axes)
    n_m = int(multi.sum())
    txlo, tdx = np.zeros((n_m, n_ax)), np.zeros((n_m, n_ax))
    rows = np.flatnonzero(eligible[multi])
    n_c = TABLE_CELLS if len(rows) else 0
    TD, TG = np.zeros((n_m, n_ax, n_c)), np.zeros((n_m, n_ax, n_c))
    if not len(rows):
        return txlo, tdx, TD, TG
    width = np.minimum(2.0 * SAFE_RADII.max() * sigma * math.sqrt(n_steps * dt) / n_c, GRADIENT_SPACING)
    ax_map, args = np.array(axes, np.int64), cp.arrays.args()

    def tables(sub):              # of the group's pools sub, on the thread pool (nogil)
        dep = g.dep[sub]
        w = np.where(dep, width, 0.0)
        lo = -0.5 * n_c * w
        d, gg = np.zeros((len(sub), n_ax, n_c)), np.zeros((len(sub), n_ax, n_c))
        pools = g.pools[sub]

        def part(c):
            a, b = c
            health_tables_nb(pools[a:b], ax_map, cp.market.prices, dep[a:b], lo[a:b], w[a:b], d[a:b],
                             gg[a:b], args)

        size = max(64, -(-len(sub) // 16))
        map_chunks(part, [(a, min(a + size, len(sub))) for a in range(0, len(sub), size)])
        return lo, w, d, gg

    got = _per_pool(g, ("tables", dt, n_steps), bsel[multi][rows], tables)
    if len(rows) == n_m:          # every several-axis pool has tables: no second copy of them
        return got
    txlo[rows], tdx[rows], TD[rows], TG[rows] = got
    return txlo, tdx, TD, TG


AFFINE_PIECES = 48
"""Most tier breakpoints per axis of a pool walked on its affine pieces (:func:`_affine_pieces`;
Binance's 12-tier BTC table on four positions of one underlying needs 44); a pool with more is
walked by valuing its positions."""
AFFINE_FAST = True
"""Walk screenable affine several-axis pools on their pieces (:func:`_affine_pieces`,
``affine_walk_nb``): False values every position at every step (the reference of the tests)."""

SOLO_BLOCKS = True
"""Take an affine several-axis pool that is its account's only pool (and the account has no
control variate) over a chunk's paths at once, walking only the paths its screens leave
(:mod:`liqrisk.risk.affine_block`) instead of path by path: the same numbers, faster."""


def _affine_pieces(cp, g: _Group, sub, axes):
    """(ok, hc, bp, nbp, al, be) of the group's pools ``sub``: each pool's health as
    ``hc + Σ_a f_a(P_a)``, f_a(P) = al[a, j]·P + be[a, j] on the piece j of axis a between
    the breakpoints ``bp[a, j − 1]`` and ``bp[a, j]`` (ascending prices, ``nbp[a]`` of them) —
    exact for pools of linear contracts and collateral whose MM per position is linear in its
    price between tier floors: tiers at mark on the USD notional (breakpoints at floor/(|q|·basis)),
    a tier fixed by size, entry-value or no MM; collateral ``amount·(1 − leg_mm)·P``. ``ok`` is
    False for other pools (inverse, options, scenario margin, Deribit MM, notional in coins or
    face, unsorted floors, more than :data:`AFFINE_PIECES` breakpoints on an axis). ``hc`` puts
    the pool's health at the marks by the margin kernel minus Σ f_a(mark), so everything not on
    the run's axes (and constant terms) is in it."""
    a, marks = cp.arrays, cp.market.prices
    n, n_ax, nb = len(sub), len(axes), AFFINE_PIECES
    loc = _axis_loc(len(marks), axes)
    pools = np.asarray(g.pools[sub], dtype=np.int64).reshape(-1)
    hc, nbp = np.zeros(n), np.zeros((n, n_ax), np.int64)
    bp, al, be = np.full((n, n_ax, nb), np.inf), np.zeros((n, n_ax, nb + 1)), np.zeros((n, n_ax, nb + 1))
    # the forms walked on pieces, for every position on the run's axes
    rows, own = _rows_of(a.pos_start[pools], a.pos_end[pools])
    code, mode, lo, hi = a.mm_code[rows], a.notional_mode[rows], a.tier_start[rows], a.tier_end[rows]
    t, town = _inner_tier_rows(a, rows)
    unsorted = np.bincount(town, weights=a.t_floor[t] - a.t_floor[t - 1] < 0, minlength=len(rows)) > 0
    form = (a.contract[rows] == LINEAR) & ~np.isin(mode, (NOTIONAL_COIN, NOTIONAL_FACE)) & \
        np.isin(code, (MM_TIERS_AT_MARK, MM_WHOLE_TIER_FEE, MM_ENTRY_VALUE, MM_NONE)) & \
        ~((code == MM_WHOLE_TIER_FEE) & (mode == NOTIONAL_QUOTE) & (hi - lo > 1)) & ~unsorted
    bad = (loc[a.axis[rows]] >= 0) & ~form
    ok = (np.bincount(own, weights=bad, minlength=n) == 0) & (a.dense[pools] == 0) & \
        (a.sc_end[pools] <= a.sc_start[pools])
    ax, h0 = np.asarray(axes, dtype=np.int64), np.asarray(g.h0[sub], float).reshape(-1)

    def part(c):                  # rows s:e, on the thread pool (nogil)
        s, e = c
        affine_pieces_nb(pools[s:e], ok[s:e], loc, marks, ax, h0[s:e], a.pos_start, a.pos_end, a.leg_start,
                         a.leg_end, a.leg_axis, a.leg_amount, a.leg_mm, a.axis, a.qty, a.basis, a.entry, a.mm_code,
                         a.notional_mode, a.tier_start, a.tier_end, a.t_floor, a.t_mmr, a.t_cum, a.p1, a.p2,
                         hc[s:e], bp[s:e], nbp[s:e], al[s:e], be[s:e])

    size = max(512, -(-n // 8))
    map_chunks(part, [(s, min(s + size, n)) for s in range(0, n, size)])
    return ok, hc, bp, nbp, al, be


def step_covariance(model: PathModel, dt: float) -> np.ndarray:
    """Covariance of one step's log-price moves (σ_a σ_b ρ_ab dt) the health bridge uses: the
    model's correlation, the bootstrap table's for filtered historical simulation, else none."""
    sd = model.sigma * math.sqrt(dt)
    n = len(sd)
    corr = np.eye(n)
    if model.corr is not None:
        corr = np.asarray(model.corr, float)
    elif isinstance(model.innovations, Bootstrap) and n > 1:
        corr = model.innovations.correlation[:n, :n]
    return corr * np.outer(sd, sd)


def _key(seed, *tag) -> np.ndarray:
    """Run key (uint64[2]) from the seed and a tag (independent streams per tag)."""
    base = as_seed_sequence(seed)
    ss = np.random.SeedSequence(base.entropy, spawn_key=tuple(base.spawn_key) + tuple(tag))
    return ss.generate_state(2, np.uint64)


@dataclass
class _Sums:
    ps1: np.ndarray
    ps2: np.ndarray
    as1: np.ndarray
    as2: np.ndarray
    ax1: np.ndarray
    ax2: np.ndarray
    axy: np.ndarray
    hist: np.ndarray
    top: np.ndarray          # (n_acc, n_h, K) the K largest losses over all paths
    n: int                   # independent samples (pairs when antithetic)


def _sub_group(g: _Group, acc_sel):
    """(bsel, acc_start) of the accounts ``acc_sel`` (indices into the group): their pools'
    indices into the group, account after account, and where each account starts in them."""
    acc_sel = np.asarray(acc_sel, dtype=np.int64)
    lo, hi = g.acc_start[acc_sel], g.acc_start[acc_sel + 1]
    return _rows_of(lo, hi)[0].astype(np.int64), np.concatenate([[0], np.cumsum(hi - lo)]).astype(np.int64)


def _paying(a, pools, f_row) -> np.ndarray:
    """Per pool of ``pools``: whether any of its positions pays funding (``f_row`` ≥ 0)."""
    rows, own = _rows_of(a.pos_start[pools], a.pos_end[pools])
    return np.bincount(own, weights=f_row[rows] >= 0, minlength=len(pools)) > 0


def _run(cp, g: _Group, acc_sel: np.ndarray, axes, model: PathModel, dt: float, hsteps,
         n_paths: int, key, anti: bool, tilt, cv_ax, cv_lo, cv_hi, want_loss: bool = True,
         screen: bool = True, funding=None) -> _Sums:
    """One simulation of the accounts ``acc_sel`` (indices into the group) over hsteps[-1];
    ``want_loss``: collect the loss tails (VaR/ES); ``screen``: skip the steps of pools whose
    path stays in their safe box (the same numbers, faster); ``funding``: see
    :func:`book_liquidation_risk`."""
    n_steps = int(hsteps[-1])
    if n_steps > MAX_STEPS or n_paths * n_steps > MAX_PATH_STEPS:
        raise SimulationTooLarge(
            f"{n_paths:,} paths × {n_steps:,} steps of {dt * YEAR_HOURS:.3g} h exceeds the limit "
            f"of {MAX_PATH_STEPS:,} path-steps ({MAX_STEPS:,} steps per path): use fewer paths, "
            f"a shorter horizon or fewer steps per day")
    if anti and tilt is not None:
        raise ValueError("a tilted run is not antithetic (the pair would mirror the shifted normals)")
    sp = model.spec(dt) if tilt is None else tilt.spec(model, dt)
    sigma = model.sigma
    c_br = 2.0 / (sigma ** 2 * dt)
    # local sub-group of the selected accounts
    bsel, acc_start = _sub_group(g, acc_sel)
    n_bp, n_acc, n_h = len(bsel), len(acc_sel), len(hsteps)
    kept = kept_losses(n_paths) if want_loss else 1
    multi = g.multi[bsel]
    mslot = np.where(multi, np.cumsum(multi) - 1, -1).astype(np.int64)
    cdt = step_covariance(model, dt)
    arrays = cp.arrays
    f_row, f_rate = (np.full(len(arrays.qty), -1, np.int64), np.zeros((1, 1))) if funding is None \
        else funding.per_step(dt, n_steps)
    paying = np.zeros(n_bp, np.bool_)
    if funding is not None:       # pools paying funding are walked at every step (path-dependent cash)
        paying = _paying(arrays, g.pools[bsel], f_row)
    affine = g.affine[bsel] & ~paying
    eligible = affine & g.screenable[bsel] & (g.expiry[bsel] > (n_steps + 1) * dt)
    pieces = _per_pool(g, ("pieces",), bsel[multi], lambda sub: _affine_pieces(cp, g, sub, axes))
    on = pieces[0] & eligible[multi] & AFFINE_FAST
    fast = np.zeros(n_bp, np.int64)
    fast[np.flatnonzero(multi)[on]] = 2 if screen else 1
    # an affine several-axis pool that is its account's only pool, in an account without a control
    # variate: walked many paths at once (affine_block), the rest path by path (book_chunk_nb)
    n_own = np.diff(acc_start)
    first_b = acc_start[:-1]
    now, frozen0, stake = _liquidated_now(cp, g)
    now, frozen0, pay_usd = now[bsel], frozen0[bsel], _pays_usd(cp, g)[bsel]
    solo_i = np.flatnonzero((n_own == 1) & (np.asarray(cv_ax) < 0) & SOLO_BLOCKS)
    solo_i = solo_i[(fast[first_b[solo_i]] > 0) & ~now[first_b[solo_i]]]
    solo_b = first_b[solo_i].astype(np.int64)
    walk_i = np.setdiff1d(np.arange(n_acc), solo_i).astype(np.int64)
    walk_b = np.setdiff1d(np.arange(n_bp), solo_b).astype(np.int64)
    # the safe boxes of the pools walked path by path (affine_block screens its own paths)
    safe, slo, shi = np.zeros(n_bp, np.bool_), np.zeros((n_bp, len(axes))), np.zeros((n_bp, len(axes)))
    hsafe, hlo, hhi = safe.copy(), slo.copy(), shi.copy()
    safe[walk_b], slo[walk_b], shi[walk_b] = _per_pool(
        g, ("safe", dt, n_steps), bsel[walk_b], lambda sub: _safe_boxes(cp, g, sub, axes, model, dt, n_steps))
    hsafe[walk_b], hlo[walk_b], hhi[walk_b] = _per_pool(
        g, ("healthy", dt, n_steps), bsel[walk_b],
        lambda sub: _safe_boxes(cp, g, sub, axes, model, dt, n_steps, healthy=True))
    safe &= ~paying
    boxed = safe & multi              # per-step skips of several-axis pools: in both modes
    safe &= screen
    hsafe &= screen & g.margined[bsel] & ~paying
    tables = _health_tables(cp, g, bsel, axes, sigma, dt, n_steps, eligible & (fast == 0))
    spot = cp.market.prices[np.array(axes)]
    if anti:
        n_paths += n_paths % 2
    size = max(1024, -(-n_paths // 16))
    size += size % 2
    chunks = [(a, min(a + size, n_paths)) for a in range(0, n_paths, size)]
    ax_map = np.array(axes, dtype=np.int64)
    ax_loc = _axis_loc(len(cp.market.prices), axes)
    n_bins = min(HIST_BINS, n_steps)
    store, reuse, store_key = _path_store(key, sp, spot, dt, n_steps, n_paths, anti, len(axes))
    scap = math.sqrt(_variance_cap(model, n_steps))

    # the losses are measured from the holder's stake at t=0 (the equity but for deficits)
    pools, fee, ec, ek, v0 = g.pools[bsel], g.fee[bsel], g.ec[bsel], g.ek[bsel], stake[acc_sel]

    tails = {}    # per worker thread, its chunks' K largest losses: a set, whatever the order they came in

    def chunk(c):
        first, last = c
        out = dict(ps1=np.zeros((n_bp, n_h)), ps2=np.zeros((n_bp, n_h)),
                   as1=np.zeros((n_acc, n_h)), as2=np.zeros((n_acc, n_h)),
                   ax1=np.zeros((n_acc, n_h)), ax2=np.zeros((n_acc, n_h)),
                   axy=np.zeros((n_acc, n_h)), hist=np.zeros((n_acc, n_bins)))
        if threading.get_ident() not in tails:
            tails[threading.get_ident()] = tail_store(n_acc, n_h, kept)
        top, top_n, top_min = tails[threading.get_ident()]
        rows, mode = tuple(x[first:last] if reuse else x for x in store), reuse
        if len(walk_i) and len(solo_i) and not reuse:     # drawn once: kept for affine_block
            rows, mode = _store_arrays(last - first, n_steps, len(axes), sp.garch), 1
        if len(walk_i):
            book_chunk_nb(first, last, key, n_steps, dt, hsteps, anti, sp.par, sp.chol, sp.innovation,
                          sp.nu, sp.resid, sp.garch, sp.correlated, sp.jumps, ax_map, ax_loc, spot, c_br,
                          scap, cp.market.prices, pools, g.margined[bsel], fee, now, frozen0, pay_usd, g.plo[bsel],
                          g.phi[bsel], safe, boxed, slo, shi, hsafe, hlo, hhi, affine, ec, ek,
                          mslot, g.dep[bsel], g.h0[bsel], g.g0[bsel], cdt, *tables,
                          acc_start, g.blo[acc_sel], g.bhi[acc_sel], cv_ax, cv_lo, cv_hi,
                          v0, want_loss, n_bins, f_row, f_rate, mode, *rows, arrays.args(), out["ps1"],
                          out["ps2"], out["as1"], out["as2"], out["ax1"], out["ax2"], out["axy"], out["hist"],
                          top, top_n, top_min, fast, *pieces[1:], walk_b, walk_i)
        if len(solo_i):                      # the store written by book_chunk_nb is read back
            solo_affine_chunk_nb(first, last, key, n_steps, dt, hsteps, anti, sp.par, sp.chol, sp.innovation,
                                 sp.nu, sp.resid, sp.garch, sp.correlated, sp.jumps, ax_map, spot, scap,
                                 cp.market.prices, pools, fee, ec, ek, v0, cdt, screen, want_loss, n_bins,
                                 solo_b, solo_i, mslot, *pieces[1:], 2 if mode == 1 and len(walk_i) else mode,
                                 *rows, arrays.args(), out["ps1"], out["ps2"], out["as1"], out["as2"],
                                 out["hist"], top, top_n, top_min)
        return out

    parts = map_chunks(chunk, chunks)
    if reuse == 1:
        _REUSE[store_key] = store
    total = {k: sum(p[k] for p in parts) for k in parts[0]}
    top = largest_losses([t[0] for t in tails.values()], kept)
    return _Sums(**total, top=top, n=n_paths // 2 if anti else n_paths)


_REUSE: dict | None = None
"""Paths kept for reuse while :func:`reuse_paths` is active: run key → kernel path arrays
(least recently used first)."""
REUSE_BYTES = 1 << 30
"""Most memory the kept paths may take (oldest dropped first)."""
_NO_STORE = (np.zeros((1, 1, 1)), np.zeros((1, 1)), np.zeros((1, 1)), np.zeros((1, 1)), np.zeros(1),
             np.zeros((1, 1, 1)))


@contextlib.contextmanager
def reuse_paths():
    """Within this block a run whose paths were drawn before — same seed, model, step, number of
    steps and paths, spot — reads them back instead of drawing them again (the kernel's
    ``reuse``): for searches that evaluate many changed versions of one account (``advise``).
    The numbers are the same as without; the paths take up to :data:`REUSE_BYTES`."""
    global _REUSE
    outer = _REUSE
    _REUSE = {} if outer is None else outer
    try:
        yield
    finally:
        _REUSE = outer


_GROUPS: dict | None = None
"""The accounts' t=0 set-ups (:class:`_Group`) kept while :func:`reuse_setup` is active."""


@contextlib.contextmanager
def reuse_setup():
    """Within this block the runs of one compiled book that is not changed — the main model,
    the model range and the no-funding run of ``analyze`` — share each set of accounts' t=0
    set-up (pools, boundaries, exposures: independent of the model) instead of recomputing it;
    keyed by the book, the accounts, the axes and the marks. The numbers are the same."""
    global _GROUPS
    outer = _GROUPS
    _GROUPS = {} if outer is None else outer
    try:
        yield
    finally:
        _GROUPS = outer


def _setup(cp, accounts: list[int], axes: list[int]) -> _Group:
    """:func:`_group`, from :func:`reuse_setup`'s store when active (its per-run memo fresh)."""
    if _GROUPS is None:
        return _group(cp, accounts, axes)
    key = (id(cp), tuple(accounts), tuple(axes), cp.market.prices.tobytes())
    if key not in _GROUPS:
        _GROUPS[key] = (cp, _group(cp, accounts, axes))      # cp kept: its id stays unique
    return replace(_GROUPS[key][1], memo={})


def _path_store(key, sp, spot, dt, n_steps, n_paths, anti, n_ax):
    """(arrays, reuse mode, key) of a run: the kept paths (mode 2), new arrays to keep them in
    (mode 1, kept once the run has finished) or placeholders (mode 0: not reusing). Tilted runs
    too: ``sp.par`` holds the measure change (its bootstrap rows ``sp.resid``), the paths their
    likelihood ratios; GARCH paths also their steps' volatility ratios."""
    if _REUSE is None:
        return _NO_STORE, 0, None
    k = (key.tobytes(), sp.par.tobytes(), sp.chol.tobytes(), int(sp.innovation), float(sp.nu),
         hash(np.ascontiguousarray(sp.resid).tobytes()), bool(sp.garch), bool(sp.correlated),
         bool(sp.jumps), spot.tobytes(), float(dt), int(n_steps), int(n_paths), bool(anti))
    if k in _REUSE:
        _REUSE[k] = _REUSE.pop(k)                                # most recently used last
        return _REUSE[k], 2, k
    need = n_paths * ((n_steps + 1) * ((2 if sp.garch else 1) * n_ax + 1) + 2 * n_ax + 1) * 8
    if need > REUSE_BYTES:
        return _NO_STORE, 0, None
    while _REUSE and sum(sum(x.nbytes for x in v) for v in _REUSE.values()) + need > REUSE_BYTES:
        del _REUSE[next(iter(_REUSE))]
    return _store_arrays(n_paths, n_steps, n_ax, sp.garch), 1, k


def _store_arrays(n_paths, n_steps, n_ax, garch):
    """Empty arrays for the kernels' path store (``reuse``) of ``n_paths`` paths."""
    shape = (n_paths, n_steps + 1)
    return (np.empty(shape + (n_ax,)), np.empty(shape), np.empty((n_paths, n_ax)), np.empty((n_paths, n_ax)),
            np.empty(n_paths), np.empty(shape + (n_ax,)) if garch else _NO_STORE[5])


def _estimate(s1, s2, n, method) -> ProbabilityEstimate:
    p = float(s1 / n)
    var = max(0.0, (s2 - n * p * p) / (n - 1)) if n > 1 else 0.0
    se = math.sqrt(var / n)
    return ProbabilityEstimate(p, se, (max(0.0, p - 1.96 * se), min(1.0, p + 1.96 * se)), n, method)


def _control(s: _Sums, i, j, mean, n) -> ProbabilityEstimate | None:
    """Control-variate estimate ``ȳ − β(x̄ − E x)``, β = Cov(y, x)/Var(x)."""
    y, x = float(s.as1[i, j] / n), float(s.ax1[i, j] / n)
    vx = (s.ax2[i, j] - n * x * x) / (n - 1)
    if not vx > 0:
        return None
    vy = max(0.0, (s.as2[i, j] - n * y * y) / (n - 1))
    cov = (s.axy[i, j] - n * x * y) / (n - 1)
    beta = cov / vx
    p = y - beta * (x - mean)
    resid = vy - cov * cov / vx
    if not resid > 1e-9 * vy:
        # y = a + b·x on every path: the sample cannot show what the control misses (other
        # pools, other axes), so a zero error bar would be over-confident — not used
        return None
    se = math.sqrt(resid / n)
    return ProbabilityEstimate(p, se, (p - 1.96 * se, p + 1.96 * se), n, "control")


def _inside_unit(e: ProbabilityEstimate | None) -> bool:
    """A variance-reduced estimate is used only when it and its 95% interval lie in [0, 1]."""
    return e is not None and 0.0 <= e.ci95[0] and e.ci95[1] <= 1.0 and 0.0 <= e.p <= 1.0


def _control_barriers(g: _Group, spot, sigma):
    """(cv_ax, cb, cv_lo, cv_hi) per account: the run axis of its main underlying (largest
    |exposure·spot·σ|, the first on a tie; −1: no finite t=0 boundary on it), the nearer of its
    two boundaries there (log offset; the lower on a tie of |·|; NaN: none) and that boundary as
    the control's lower (< 0) or upper barrier (else ∓inf)."""
    n_acc = len(g.acc_start) - 1
    a = np.argmax(np.abs(g.exposure * spot * sigma), axis=1).astype(np.int64)
    lo, hi = g.alo[np.arange(n_acc), a], g.ahi[np.arange(n_acc), a]
    flo, fhi = np.isfinite(lo), np.isfinite(hi)
    has = flo | fhi
    cb = np.where(has, np.where(fhi & (~flo | (np.abs(hi) < np.abs(lo))), hi, lo), np.nan)
    cv_ax = np.where(has, a, -1).astype(np.int64)
    return cv_ax, cb, np.where(has & (cb < 0), cb, -np.inf), np.where(has & ~(cb < 0), cb, np.inf)


def _pool_barriers(g: _Group, sigma):
    """(pax, pcb) per pool: the run axis its health moves with most (largest |∂h/∂ln P·σ| at
    t=0 among the axes it moves with, the first on a tie; −1: no finite non-zero t=0 boundary
    there, or a volatility of 0) and its nearer boundary on it (log offset; the lower on a tie
    of |·|; NaN: none) — the pool's
    own version of the account's control barrier (:func:`_control_barriers`), towards which a
    rare pool is tilted when it has no design point (:func:`_pool_tilts`)."""
    n_bp = len(g.pools)
    a = np.argmax(np.where(g.dep, np.abs(g.g0 * sigma), -1.0), axis=1).astype(np.int64) if n_bp \
        else np.zeros(0, np.int64)
    lo, hi = g.plo[np.arange(n_bp), a], g.phi[np.arange(n_bp), a]
    flo, fhi = np.isfinite(lo), np.isfinite(hi)
    has = (flo | fhi) & g.margined
    cb = np.where(has, np.where(fhi & (~flo | (np.abs(hi) < np.abs(lo))), hi, lo), np.nan)
    has &= (cb != 0.0) & (np.asarray(sigma, float)[a] > 0)     # a price that moves, not at its boundary
    return np.where(has, a, -1).astype(np.int64), np.where(has, cb, np.nan)


def _pool_tilts(g: _Group, pools, pts, pax, pcb, zdist, axes, sigma, T, d, n_h, drift, method,
                gaussian, tiltable, plain_p):
    """{bucket: pools} of ``pools`` (margined pools of several-pool accounts, not breached) to be
    tilted on their own at a horizon of ``n_h`` steps of ``d`` (T years) — the account's rule
    (:func:`_liquidation_risk`) applied to the pool: a pool of an account tilted towards a design
    point goes towards its own (``pts``, :func:`_design_points`), rare when 2Φ̄(r/√T) < 1e-3;
    else along its own main axis towards its nearer boundary there (:func:`_pool_barriers`),
    rare when that boundary's first-passage closed form is (GBM) or its sampled estimate
    ``plain_p`` (other models) is < 1e-3. ``auto`` tilts the rare pools, ``importance`` every
    pool that has a tilt, the other methods none. The bucket is the account's (:func:`_tilt_bucket`,
    :data:`DIR_GRID`) of the same numbers: the pool that sets its account's tilt shares its run."""
    out = {}
    if method not in ("auto", "importance") or not len(pools):
        return out
    pools = np.asarray(pools, np.int64)
    owner = np.repeat(np.arange(len(g.acc_start) - 1), np.diff(g.acc_start))
    r = pts["r"][pools] if pts else np.full(len(pools), np.nan)
    design = np.isfinite(zdist[owner[pools]]) & np.isfinite(r)
    axis = ~design & (pax[pools] >= 0) & (tiltable | (not gaussian))
    rare = np.zeros(len(pools), np.bool_)
    if method == "importance":
        rare[:] = True
    else:
        # the account's arithmetic (math.erfc): the pool that sets the account's point decides alike
        rare[design] = [math.erfc(x / math.sqrt(2.0 * T)) < IS_THRESHOLD for x in r[design].tolist()]
        if gaussian:
            ax = pax[pools[axis]]
            rare[axis] = np.asarray(hit_probability(1.0, np.exp(pcb[pools[axis]]), sigma[ax], T, drift)) \
                < IS_THRESHOLD
        else:
            rare[axis] = np.asarray(plain_p)[axis] < IS_THRESHOLD
    for t in np.flatnonzero(rare & (design | axis)).tolist():
        b = int(pools[t])
        if design[t]:
            q = tuple(int(c) for c in np.rint(pts["u"][b] * DIR_GRID))
            key = (n_h, -1) + _tilt_bucket(float(r[t]), 1.0, d, n_h) + (q,)
        else:
            a = int(pax[b])
            key = (n_h, int(axes[a])) + _tilt_bucket(float(pcb[b]), sigma[a], d, n_h) + ((),)
        out.setdefault(key, []).append(b)
    return out


def _horizon_dts(horizons, steps_per_day, dt):
    """Per horizon: its step (given ``dt``: ``dt``, or one step of the horizon when it is
    shorter; else min(1/(365·steps_per_day), horizon/4)) and its number of steps."""
    out = {}
    for h in horizons:
        d = min(dt, h) if dt else min(1.0 / (365 * steps_per_day), h / 4)
        out[h] = (d, max(1, int(round(h / d))))
    return out


def book_liquidation_risk(cp, accounts: list[int], axes: list[int], model: PathModel,
                          horizons_years: list[float], n_paths: int = 20_000, seed=None,
                          method: str = "auto", drift: float = 0.0, steps_per_day: int = 24,
                          dt: float | None = None, progress=None, risk: bool = True,
                          screen: bool = True, funding=None, pools: bool = True) -> list[AccountRisk]:
    """Liquidation risk of ``accounts`` (plan indices of ``cp``) whose prices move along the
    market ``axes`` under ``model`` (one dimension per axis, in that order); see the module
    docstring. ``dt`` fixes the step of every horizon (a GARCH model's bar); ``risk=False``
    skips VaR/ES (NaN); ``screen=False`` walks every pool over every step (same numbers).
    ``funding``: perp funding paid out of each position's pool at its funding times, an object
    whose ``per_step(dt, n_steps)`` gives (row per book position or −1, rate per row and step)
    — :class:`liqrisk.advise.funding.FundingSchedule`. The t=0 boundaries the Brownian-bridge
    factor uses do not move with the funding paid (the step check does). ``pools=False``: no
    tilted run of a pool's own (its estimate is then that of the untilted paths) — for callers
    that read only the accounts' probabilities (the model range)."""
    with cyclic_gc_paused():         # thousands of result objects, none in a cycle
        return _liquidation_risk(cp, accounts, axes, model, horizons_years, n_paths, seed, method, drift,
                                 steps_per_day, dt, progress, risk, screen, funding, pools)


def _liquidation_risk(cp, accounts, axes, model, horizons_years, n_paths, seed, method, drift, steps_per_day,
                      dt, progress, risk, screen, funding, pools) -> list[AccountRisk]:
    """:func:`book_liquidation_risk` with the cyclic garbage collector paused."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if not math.isfinite(drift):
        raise ValueError(f"drift must be a finite number, got {drift!r}")
    if n_paths < 2:
        raise ValueError("at least 2 paths are needed for an error bar")
    horizons = sorted(set(horizons_years))
    model = replace(model, mu=drift)
    sigma = model.sigma
    g = _setup(cp, accounts, axes)
    n_acc = len(accounts)
    # control barrier per account: the main underlying (largest |exposure·spot·σ|), nearest side
    spot = cp.market.prices[np.array(axes)]
    cv_ax, cb, cv_lo, cv_hi = _control_barriers(g, spot, sigma)
    gaussian = model.is_gaussian
    # importance sampling tilts towards the t=0 boundary, which funding moves: not with funding
    tiltable = gaussian and funding is None
    # accounts with a pool moving with several underlyings: tilt towards their design point
    pts = {}                         # the pools' own design points (their per-pool tilts)
    zdir, zdist = _design_points(cp, g, axes, model, pts) if tiltable and method in ("auto", "importance") \
        else (None, np.full(n_acc, np.nan))
    # the pools estimated on their own (several margined pools in the account), their own tilts
    own_pools = _several_pool_pools(g)
    own_pools = own_pools[~g.breached[own_pools]]
    pax, pcb = _pool_barriers(g, sigma)
    if method == "control" and not gaussian:
        raise ValueError(f"method '{method}' needs a GBM model")
    # antithetic pairs (z, −z; J, −J) keep the law only of symmetric innovations: not of
    # bootstrapped residuals (skewed) nor of jumps with a non-zero mean
    symmetric = model.jumps is None and not isinstance(model.innovations, Bootstrap)
    if method == "antithetic" and not symmetric:
        raise ValueError("method 'antithetic' needs symmetric innovations (no bootstrap, no jumps)")
    anti = method == "antithetic" or (method == "auto" and not gaussian and symmetric)
    steps = _horizon_dts(horizons, steps_per_day, dt)
    by_dt: dict[float, list[float]] = {}
    for h in horizons:
        by_dt.setdefault(steps[h][0], []).append(h)
    results = [dict(p={}, pools={}, var={}, es={}, methods=[]) for _ in range(n_acc)]
    all_acc = np.arange(n_acc)
    # the control's sums are walked only where a control estimate can be chosen (no other number
    # reads them): not for plain, antithetic or importance runs, nor auto on a non-Gaussian model
    cv_run = cv_ax if method == "control" or (method == "auto" and gaussian) else np.full(n_acc, -1, np.int64)
    last_run = None
    done = [0]
    marg = g.margined.tolist()
    starts = g.acc_start.tolist()
    acc_margined = [[b for b in range(starts[i], starts[i + 1]) if marg[b]] for i in range(n_acc)]
    v0 = _liquidated_now(cp, g)[2].tolist()            # the holders' stakes: what can be lost
    for d, hs in sorted(by_dt.items()):
        hsteps = np.array(sorted({steps[h][1] for h in hs}), dtype=np.int64)
        s = _run(cp, g, all_acc, axes, model, d, hsteps, n_paths, _key(seed, 0), anti, None,
                 cv_run, cv_lo, cv_hi, want_loss=risk, screen=screen, funding=funding)
        if hs[-1] == horizons[-1]:
            last_run = (s, d, hsteps)
        todo, rare, pool_rare = [], {}, {}
        for h in hs:
            j = int(np.searchsorted(hsteps, steps[h][1]))
            T = steps[h][1] * d
            for i in range(n_acc):
                plain = _estimate(s.as1[i, j], s.as2[i, j], s.n, "antithetic" if anti else "plain")
                barrier = cv_ax[i] >= 0
                # the main axis' closed form: for auto's choice and the control (else unused)
                mean = (float(hit_probability(1.0, math.exp(cb[i]), sigma[cv_ax[i]], T, drift))
                        if barrier and method in ("auto", "control") else None)
                design = bool(np.isfinite(zdist[i]))
                can_tilt = (tiltable and (design or barrier)) or (not gaussian and barrier)
                want = method
                if method == "auto":
                    # rare: the first passage of the health's linearisation at the design point
                    # (a 1-D Brownian motion zdist/√T sd away: 2Φ̄(d)), else the main axis'
                    # closed form; the sampled estimate for the other models
                    rare_i = (math.erfc(zdist[i] / math.sqrt(2.0 * T)) < IS_THRESHOLD if design
                              else mean is not None and (mean < IS_THRESHOLD if gaussian else plain.p < IS_THRESHOLD))
                    want = ("importance" if can_tilt and rare_i
                            else "control" if gaussian and mean is not None else plain.method)
                if want == "importance" and not can_tilt:
                    want = plain.method
                if want == "importance":
                    n_h = int(steps[h][1])
                    if design:
                        q = tuple(int(c) for c in np.rint(zdir[i] * DIR_GRID))
                        key = (n_h, -1) + _tilt_bucket(zdist[i], 1.0, d, n_h) + (q,)
                    else:
                        key = (n_h, int(axes[cv_ax[i]])) + _tilt_bucket(cb[i], sigma[cv_ax[i]], d, n_h) + ((),)
                    rare.setdefault(key, []).append(i)
                todo.append((h, j, i, plain, mean, want))
            n_h = int(steps[h][1])
            own_p = [float(s.ps1[b, j] / s.n) for b in own_pools.tolist()] if not gaussian else None
            for key, bs in (_pool_tilts(g, own_pools, pts, pax, pcb, zdist, axes, sigma, T, d, n_h, drift,
                                        method, gaussian, tiltable, own_p) if pools else {}).items():
                pool_rare.setdefault(key, []).extend(bs)
        tilted, pool_tilted = _importance(cp, g, rare, axes, model, d, n_paths, seed, sigma, cv_lo, cv_hi,
                                          funding, pool_rare)
        # per horizon of the run: the worst, least and mean of each account's kept losses
        tails = [(s.top[:, j, 0].tolist(), s.top[:, j, -1].tolist(), s.top[:, j].mean(axis=1).tolist())
                 for j in range(len(hsteps))] if risk else None
        for h, j, i, plain, mean, want in todo:
            r = results[i]
            choice = plain
            if want == "importance":
                choice = tilted.get((steps[h][1], i)) or plain
            elif want == "control" and mean is not None:
                cv = _control(s, i, j, mean, s.n)
                choice = cv if _inside_unit(cv) else plain
            if choice is not plain and not _inside_unit(choice):
                choice = plain
            choice = no_silent_zero(_clip(choice))
            if anti and not choice.method.startswith("importance"):
                choice = replace(choice, paths=2 * choice.paths)
            r["p"][h] = choice
            r["methods"].append(choice.method)
            margined = acc_margined[i]
            # an account's only pool that can be liquidated is liquidated exactly when the account
            # is: one event, one estimate (the account's, importance-sampled or not); several:
            # each its own, tilted where it is rare (the same rule as the account's)
            r["pools"][h] = ({g.labels[margined[0]]: choice} if len(margined) == 1 else
                             {g.labels[b]: _pool_choice(s, b, j, anti, pool_tilted.get((steps[h][1], b)))
                              for b in margined})
            if not risk:
                r["var"][h] = r["es"][h] = math.nan
                continue
            worst, least, avg = tails[j]
            r["var"][h] = least[i]
            # the mean of values in [VaR, stake] lies there (clipped: rounding of the sum)
            r["es"][h] = min(max(avg[i], least[i]), max(worst[i], v0[i]))
        done[0] += 1
        if progress is not None:
            progress(done[0] * n_paths, len(by_dt) * n_paths)
    s, d, hsteps = last_run
    out = []
    times = _times_to_liquidation(s.hist, int(hsteps[-1]), d)
    owner = np.repeat(np.arange(n_acc), np.diff(g.acc_start))
    acc_now = (np.bincount(owner, weights=g.breached, minlength=n_acc) > 0).tolist()
    dt_years = {h: steps[h][0] for h in horizons}
    for i in range(n_acc):
        r = results[i]
        now = acc_now[i]
        probs, pools = r["p"], r["pools"]
        if now:
            one = ProbabilityEstimate(1.0, 0.0, (1.0, 1.0), n_paths, "liquidatable-now")
            probs = {h: one for h in horizons}
            for h in horizons:
                for b in range(g.acc_start[i], g.acc_start[i + 1]):
                    if g.breached[b]:
                        pools[h][g.labels[b]] = one
        driver = {h: (max(pools[h], key=lambda k: pools[h][k].p) if pools[h] and
                      max(e.p for e in pools[h].values()) > 0 else None) for h in horizons}
        hist, ttl = times[i]
        if now:                      # liquidated at t=0, on every path
            ttl = {q: 0.0 for q in ttl}
        out.append(AccountRisk(probs, {lab: {h: pools[h][lab] for h in horizons} for lab in pools[horizons[0]]},
                               driver, ttl, hist, r["var"], r["es"], max(v0[i], 0.0),
                               "+".join(dict.fromkeys(e.method for e in probs.values())),
                               n_paths, dict(dt_years), now))
    return out


def merge_risks(*parts: AccountRisk) -> AccountRisk:
    """One account's :class:`AccountRisk` of runs on disjoint horizons (fhs: the hourly filter
    for horizons ≤ 1 day, the daily one beyond): each horizon's numbers from its run; the
    time to liquidation from the run of the longest horizon."""
    last = max(parts, key=lambda r: max(r.probabilities))
    union = lambda f: {k: v for r in parts for k, v in f(r).items()}     # noqa: E731
    return AccountRisk(union(lambda r: r.probabilities),
                       {lab: union(lambda r: r.pools[lab]) for lab in last.pools},
                       union(lambda r: r.driver), last.time_to_liquidation, last.time_histogram,
                       union(lambda r: r.var99), union(lambda r: r.es99), last.max_loss,
                       "+".join(dict.fromkeys(m for r in parts for m in r.method.split("+"))),
                       last.n_paths, union(lambda r: r.dt_years), last.liquidatable_now)


def _clip(e: ProbabilityEstimate) -> ProbabilityEstimate:
    """``e`` with its interval clipped to [0, 1]: ``e`` itself when clipping changes nothing
    (ends inside, or exactly the float +0.0 / 1.0 that clipping would put there)."""
    lo, hi = e.ci95
    if (lo > 0.0 or (type(lo) is float and lo == 0.0 and math.copysign(1.0, lo) > 0)) and \
            (hi < 1.0 or (type(hi) is float and hi == 1.0)):
        return e
    return replace(e, ci95=(max(0.0, lo), min(1.0, hi)))


def _pool_estimate(s: _Sums, b, j, anti) -> ProbabilityEstimate:
    e = _estimate(s.ps1[b, j], s.ps2[b, j], s.n, "antithetic" if anti else "plain")
    return replace(e, paths=2 * e.paths) if anti else e


def _pool_choice(s: _Sums, b, j, anti, tilted: ProbabilityEstimate | None) -> ProbabilityEstimate:
    """Pool ``b``'s estimate at horizon column ``j`` of the untilted run ``s``: its own
    importance-sampled one (``tilted``, :func:`_importance`) where there is one inside [0, 1] (as
    the account's), else the plain (antithetic) one; clipped, with the rule of three on a sampled
    0 or 1."""
    e = tilted if _inside_unit(tilted) else _pool_estimate(s, b, j, anti)
    return no_silent_zero(_clip(e))


IS_GRID = 1.15
"""Ratio of neighbouring points of the tilt grid: a rare account's boundary distance
``d = |b|/(σ√(n·dt))`` (standard deviations of the horizon's move) is rounded to the nearest
``IS_GRID**k`` (relative error ε in [1/√1.15 − 1, √1.15 − 1] = [−6.7 %, +7.2 %]: error bars up to
≈ 1.12× an exact tilt's, docs/montecarlo.md) and all accounts of one (horizon, axis,
side, k) share one tilted run (docs/montecarlo.md)."""


def _tilt_bucket(b: float, sigma_u: float, dt: float, n_steps: int) -> tuple[int, int]:
    """(side ±1, grid index k) of a boundary at log offset ``b`` for ``n_steps`` of ``dt``
    (:data:`IS_GRID`): from the account's own boundary only."""
    d = abs(b) / (sigma_u * math.sqrt(n_steps * dt))
    return (1 if b > 0 else -1), int(round(math.log(d) / math.log(IS_GRID)))


DIR_GRID = 16
"""A design point's direction (unit vector in the space of the independent normals) is rounded
to multiples of 1/DIR_GRID per component before accounts share a tilted run: the direction moves
by at most √n/(2·DIR_GRID) (4.4 % on 2 axes, 6.3 % on 4), which for a half-space d sds away
multiplies the second moment by at most exp((d·√n/32)²) — 1.05 at d = 5 on 2 axes, below the
magnitude grid's e^{ε²d²} (docs/montecarlo.md). (64 until stop 29: nearly every two-asset
account had a direction of its own, so a run of its own.)"""
DESIGN_ITERATIONS = 50
GRADIENT_BUMP = 1e-4
"""Log-price half-bump of the design point's central differences."""
DESIGN_FAR = 100.0
"""A design point farther than this (sds of a one-year move) is treated as none: no horizon
of the engine (≤ 366 days, ≥ 4 steps a year) comes near it."""


def _design_points(cp, g: _Group, axes, model: PathModel, pool_points: dict | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(u, r) per account of the group with a margined pool moving with several axes (others:
    r = NaN): its design point r·u, ``u`` a unit vector, in the space of the independent
    standard normals Z of a one-year move — log offsets ``x = σ∘(L·Z)``, ``L`` the Cholesky
    factor of the model's correlation — so that for a horizon T it is ``r/√T`` sds of the
    horizon's move away, in the direction u.

    The design point is the point of the liquidation set nearest to the origin in Z (the most
    likely point of the set under N(0, I)): for each several-axis pool, the nearest root of its
    health ``h(σ∘LZ) = 0`` (other prices at their marks, t = 0) by the Hasofer–Lind–Rackwitz–
    Fiessler iteration ``Z ← ((∇H·Z − H)/|∇H|²)·∇H``, ``∇H = Lᵀ(σ∘∇ₓh)`` (central differences
    of 1e-4 in log price) — whose first step from 0 is the minimum-norm point of the health's
    t=0 linearisation; for each single-axis pool of the account its nearest boundary ``b`` on
    axis a, ``(b/σ_a)·L[a]`` (exact: ``L[a]`` has unit norm); the nearest of them. Shifting the
    independent normals of each of n steps by ``(r/√T)·u/√n`` makes the mean path reach it at
    the horizon: for a half-space of a Gaussian the mean shift to its dominating point is the
    large-deviations optimal exponential tilt (Sadowsky & Bucklew 1990, IEEE Trans. Inf. Theory
    36(3); Glasserman, Heidelberger & Shahabuddin 1999, Math. Finance 9(2), and Glasserman 2004,
    §4.6) and HL-RF finds it for the curved boundary (Hasofer & Lind 1974; Rackwitz & Fiessler
    1978; the FORM design point of structural reliability) — the curvature matters: a long
    pool's health is linear in the price, not in its log, and a tilt 20 % short of a boundary
    5 sds away costs a factor ≈ e^{(0.2·5)²} ≈ 3 in variance.

    Which direction: the nearest point in Z, not the steepest way down in price space. For the
    linearised boundary ``h0 + ∇h·x = 0`` it is ``Z* = −h0·Mᵀ∇h/|Mᵀ∇h|²`` (M = diag(σ)·L), i.e.
    the log prices move by ``x* = M·Z* = −h0·Σ∇h/(∇hᵀΣ∇h)`` (Σ = MMᵀ: the covariance times the
    gradient, the minimum Mahalanobis distance); a shift along ∇h itself (or along the per-axis
    boundary distances) pushes against the correlation and is farther from the likeliest paths.
    A pool whose iteration does not converge (a kink of its margin tiers on the way, no root
    within :data:`DESIGN_FAR`) contributes no point; an account with none is tilted along its
    main axis as a single-axis one.

    ``pool_points``: filled with each pool's own point, ``u`` (n_pools, n_ax) and ``r``
    (n_pools; NaN: none) — a several-axis pool's root, a single-axis pool's nearest
    ``(b/σ_a)·L[a]`` of its own boundaries — for the margined pools of accounts with two or more
    of them (the per-pool tilts of :func:`_pool_tilts`; the account's point is the nearest of its
    pools' and the same numbers, so the pool that sets it shares its tilted run)."""
    n_acc, n_ax = len(g.acc_start) - 1, len(axes)
    u, r = np.zeros((n_acc, n_ax)), np.full(n_acc, np.nan)
    if pool_points is not None:
        pool_points.update(u=np.zeros((len(g.pools), n_ax)), r=np.full(len(g.pools), np.nan))
    if not np.any(g.multi):
        return u, r
    corr = np.eye(n_ax) if model.corr is None else np.asarray(model.corr, float)
    chol = np.linalg.cholesky(corr)
    M = model.sigma[:, None] * chol                       # x = M·Z for a one-year move
    args, marks, ax_map = cp.arrays.args(), cp.market.prices, np.array(axes, np.int64)
    # every root in compiled chunks (design_roots_nb): the per-pool Python loop of parallel
    # pool valuations cost 3 ms a call on a loaded machine, 2.2 s CPU of 100 accounts x 10
    todo = np.flatnonzero(g.multi & (g.h0 > 0))
    Z, found = np.zeros((len(g.pools), n_ax)), np.zeros(len(g.pools), np.bool_)
    Zt, ft = np.zeros((len(todo), n_ax)), np.zeros(len(todo), np.bool_)
    pools_t = g.pools[todo]
    size = max(16, -(-len(todo) // 8))

    def part(c):
        a, b = c
        design_roots_nb(pools_t[a:b], ax_map, marks, M, GRADIENT_BUMP, DESIGN_ITERATIONS, DESIGN_FAR,
                        Zt[a:b], ft[a:b], args)

    map_chunks(part, [(a, min(a + size, len(todo))) for a in range(0, len(todo), size)])
    Z[todo], found[todo] = Zt, ft
    for i in range(n_acc):
        b0, b1 = g.acc_start[i], g.acc_start[i + 1]
        points = [Z[b] for b in range(b0, b1) if found[b]]
        points += [(bound / model.sigma[a]) * chol[a] for a in range(n_ax)
                   for bound in (g.blo[i, a], g.bhi[i, a]) if np.isfinite(bound)]
        points = [z for z in points if np.linalg.norm(z) > 0]
        if points:
            z = min(points, key=np.linalg.norm)
            r[i] = float(np.linalg.norm(z))
            u[i] = z / r[i]
    if pool_points is not None:
        for b in _several_pool_pools(g):
            if g.multi[b]:
                points = [Z[b]] if found[b] else []
            else:
                points = [(bound / model.sigma[a]) * chol[a] for a in range(n_ax)
                          for bound in (g.plo[b, a], g.phi[b, a]) if np.isfinite(bound)]
            points = [z for z in points if np.linalg.norm(z) > 0]
            if points:
                z = min(points, key=np.linalg.norm)
                pool_points["r"][b] = float(np.linalg.norm(z))
                pool_points["u"][b] = z / pool_points["r"][b]
    return u, r


def _several_pool_pools(g: _Group) -> np.ndarray:
    """The margined pools of the accounts with two or more margined pools (each gets its own
    estimate; an account's only margined pool is the account)."""
    owner = np.repeat(np.arange(len(g.acc_start) - 1), np.diff(g.acc_start))
    n_m = np.bincount(owner, weights=g.margined, minlength=len(g.acc_start) - 1)
    return np.flatnonzero(g.margined & (n_m[owner] >= 2))


def _zigzag(k: int) -> int:
    """k ≥ 0 → 2k, k < 0 → −2k − 1: a grid index as the non-negative int a SeedSequence spawn key needs."""
    return 2 * k if k >= 0 else -2 * k - 1


def _importance(cp, g, buckets, axes, model, dt, n_paths, seed, sigma, cv_lo, cv_hi, funding=None,
                pool_buckets=None):
    """Importance-sampling estimates {(n_steps, account): estimate} of the rare accounts,
    ``buckets`` {(n_steps, market axis, side, k, q): accounts} (:func:`_tilt_bucket`): one run
    per bucket. An axis bucket (``q`` empty) is tilted towards the grid point's boundary
    ``b = side·IS_GRID**k·σ√(n·dt)`` on the axis by the model's measure change
    (:func:`~liqrisk.risk.measures.proposal`; GBM: the independent normals shifted along the
    axis' row of the Cholesky factor so that the mean path reaches ``b`` at the horizon); a
    design bucket (market axis −1, GBM only) towards the design point ``IS_GRID**k·q/|q|`` in
    sds of the horizon's move of the independent normals (:func:`_design_points`,
    :data:`DIR_GRID`): each step's normals shifted by ``IS_GRID**k·q/(|q|·√n)``. Weights dP/dQ
    of the independent normals (docs/montecarlo.md). The run's key depends on the seed,
    ``n_steps`` and the bucket only and its paths not on the accounts in it: an account's
    estimate is the same alone or in any book. A model without a measure change gives no
    estimate (None).

    ``pool_buckets`` {bucket: pools (indices into the group)}: the pools tilted on their own
    (:func:`_pool_tilts`), on the bucket's run — the account's own when the pool sets the
    account's tilt; the run walks the pools' accounts too. Their estimates, the weighted mean
    Σ w·y / n of each path's bridge-corrected liquidation probability y of the pool times the
    path's likelihood ratio w (the kernel's per-pool sums), come back as a second dict
    {(n_steps, pool): estimate}."""
    out, pout = {}, {}
    pool_buckets = pool_buckets or {}
    owner = np.repeat(np.arange(len(g.acc_start) - 1), np.diff(g.acc_start))
    for key_b in sorted(set(buckets) | set(pool_buckets)):
        n_steps, ax, side, k, q = key_b
        accs, pools = buckets.get(key_b, []), pool_buckets.get(key_b, [])
        if q:
            u = np.array(q, float)
            tilt = MeasureChange(IS_GRID ** k / math.sqrt(n_steps) * u / np.linalg.norm(u))
            key = _key(seed, 2, n_steps, _zigzag(k), *map(_zigzag, q))
        else:
            cu = axes.index(ax)
            tilt = proposal(model, cu, side * IS_GRID ** k * sigma[cu] * math.sqrt(n_steps * dt), dt, n_steps)
            key = _key(seed, 1, n_steps, ax, int(side > 0), _zigzag(k))
        if tilt is None:
            continue
        sel = np.array(accs, np.int64)
        if pools:                    # ascending, as the accounts of a horizon's buckets are
            sel = np.array(sorted(set(accs) | set(owner[pools].tolist())), np.int64)
        s = _run(cp, g, sel, axes, model, dt, np.array([n_steps], np.int64), n_paths, key, False, tilt,
                 np.full(len(sel), -1, np.int64), cv_lo[sel], cv_hi[sel], want_loss=False, funding=funding)
        row = {i: r for r, i in enumerate(sel.tolist())}
        for i in accs:
            out[(n_steps, i)] = _estimate(s.as1[row[i], 0], s.as2[row[i], 0], s.n, "importance")
        if pools:
            local = {b: r for r, b in enumerate(_sub_group(g, sel)[0].tolist())}
            for b in pools:
                pout[(n_steps, b)] = _estimate(s.ps1[local[b], 0], s.ps2[local[b], 0], s.n, "importance")
    return out, pout


def _times_to_liquidation(hist: np.ndarray, n_steps: int, dt: float):
    """Per account (rows of ``hist``): the histogram (≤ 48 bins of whole steps) and lower
    quantiles (years) of the sampled liquidation time. Kernel bin k holds the liquidations in
    steps s with ``(s − 1)·n_bins // n_steps == k``, i.e. in ((lo)Δt, (hi)Δt] for lo, hi = the
    bin's first and next step offsets; a quantile is dated at the middle of its bin — (s − ½)·Δt
    when bins are single steps."""
    nb = hist.shape[1]
    start = -(-np.arange(nb + 1) * n_steps // nb)          # ceil(k·n_steps/nb)
    total = hist.sum(axis=1)
    cum = np.cumsum(hist, axis=1)
    mid = 0.5 * (start[:-1] + start[1:]) * dt
    ttl = {}
    for q in TIME_QUANTILES:
        k = np.minimum((cum < q * total[:, None]).sum(axis=1), nb - 1)      # searchsorted, left
        ttl[q] = np.where(total > 0, mid[k], math.inf)
    show = np.unique(np.round(np.linspace(0, nb, min(48, nb) + 1)).astype(int))
    cnt = np.stack([hist[:, a:b].sum(axis=1) for a, b in zip(show[:-1], show[1:])], axis=1)
    frac = np.where(total[:, None] > 0, cnt / np.where(total > 0, total, 1.0)[:, None], 0.0)
    edges = [float(start[k]) * dt * YEAR_HOURS for k in show]
    ttl = {q: v.tolist() for q, v in ttl.items()}
    return [(TimeHistogram(list(edges), c, f, int(round(t))), {q: ttl[q][i] for q in TIME_QUANTILES})
            for i, (c, f, t) in enumerate(zip(cnt.tolist(), frac.tolist(), total.tolist()))]
