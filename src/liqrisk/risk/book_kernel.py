"""The Monte Carlo kernel on the compiled book: generate price paths and evaluate every margin
pool of every account on every path and step, in one compiled call per chunk of paths.

Random numbers: every path (antithetic pair) has its own SFC64 stream, seeded from the run's
key and the path's index (SplitMix64 of key ⊕ index, NumPy's SFC64 warm-up of 12 rounds), so a
path's first k steps are the same whatever the horizon, the chunking or the thread count. The
first draw of a stream is the uniform that samples the path's liquidation step, then one
innovation per step and underlying: standard normal (NumPy's ziggurat, :func:`sfc64_normal`),
unit-variance Student-t (normal / √(χ²_ν/ν), χ² from Marsaglia–Tsang gamma variates) or a row
of bootstrap residuals, correlated by the Cholesky factor; Merton jumps draw a Poisson count by
inversion and a normal size. The increments are those of :mod:`liqrisk.dynamics.paths`
(``μΔt − v/2 + √v·z + J``, GJR-GARCH variance recursion).

Per path the whole path is drawn first (log offsets and prices of the simulated axes), then
each pool is walked over the steps: its equity and maintenance margin are evaluated by the
margin kernel's position functions at the step's prices (other axes at their marks; options
repriced with the time left; futures settled and options paid off at the first step at or after
their expiry — at the price interpolated log-linearly at the expiry time; the settled amount is
then held as cash in the settlement unit — an option's payoff in USD where its venue pays it so
(``pay_usd``), else in the coin — and the pool's t=0 boundaries no longer apply), and the
pool survives the step with the Brownian-bridge probability of not crossing its t=0 boundaries
(one factor per axis, see :mod:`liqrisk.risk.bridge`) times 1[equity − MM > 0]. A pool
whose path stays inside its safe box (:func:`safe_boxes_nb`) is healthy and beyond the bridge
range at every step, so its steps are skipped (same numbers). An account survives a step with
the bridge factor of its tightest boundaries while every pool is healthy. Positions are valued
and margined by the margin kernel's :func:`~liqrisk.margin.kernel.position_value_mm_nb`; only
settlement at expiry and funding are added here.

Functions called once per path, pool or block and not inlined are compiled with
``_nrt=False`` (numba's flag for code without reference counting; they allocate nothing): a
call passing twenty arrays otherwise spends ≈ 10–15 ns per array in atomic reference-count
updates on entry and exit — 300 ns per path for the path drawing alone, more than drawing a
one-step path, and the counters' cache lines bounce between the threads sharing the arrays.
"""
from __future__ import annotations

import numpy as np
from numba import njit, uint64

import liqrisk._jitcache  # noqa: F401,E402  (before any cached kernel: see its docstring)

from liqrisk.dynamics.paths import (_ALPHA, _BETA, _BOOTSTRAP, _EMIX, _EP, _EVT, _GAMMA, _H0, _JM,
                                    _JS, _KLO, _KUP, _LAM, _MU, _NORMAL, _OMEGA, _STUDENT, _TGS,
                                    _TJM, _TLAM, _TMIX, _TSHIFT, HALF_ULP, _sfc64_double,
                                    _sfc64_next, semi_draw, sfc64_normal)
from liqrisk.margin.base import (INVERSE, INVERSE_OPTION, LINEAR, MM_ENTRY_VALUE, MM_TIERS_AT_MARK,
                                 MM_WHOLE_TIER_FEE, NOTIONAL_QUOTE, NOTIONAL_SIZE)
from liqrisk.margin.kernel import (AMOUNT, AXIS, BASIS, CONTRACT, ENTRY, EXPIRY, IS_CALL, LEG_END,
                                   LEG_MM, LEG_START, POS_END, POS_START,
                                   QTY, SC_END, SC_START, SETTLE_AXIS, STRIKE, legs_state_nb,
                                   liquidated_value_nb, pool_state_nb, position_value_mm_nb, scenario_mm_nb,
                                   settle_price_nb)
from liqrisk.pricing.simd_math import expm1_nb
from liqrisk.risk.bridge import FAR, bridge_stay
from liqrisk.risk.tails import ROOM, insert_loss_nb



@njit(cache=True, nogil=True, inline="always")
def _splitmix(x):
    x = x + uint64(0x9E3779B97F4A7C15)
    z = x
    z = (z ^ (z >> uint64(30))) * uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> uint64(27))) * uint64(0x94D049BB133111EB)
    return x, z ^ (z >> uint64(31))


@njit(cache=True, nogil=True)
def seed_path(key, index, s):
    """SFC64 state ``s`` (uint64[4]) of stream ``index`` of the run ``key`` (uint64[2])."""
    x = key[0] ^ (uint64(index) * uint64(0xD1B54A32D192ED03))
    x, a = _splitmix(x ^ key[1])
    x, b = _splitmix(x)
    x, c = _splitmix(x)
    s[0], s[1], s[2], s[3] = a, b, c, uint64(1)
    for _ in range(12):
        _sfc64_next(s)


@njit(cache=True, nogil=True, inline="always")
def _gamma(s, k):
    """Gamma(k, 1) for k ≥ 1 (Marsaglia & Tsang 2000)."""
    d = k - 1.0 / 3.0
    c = 1.0 / np.sqrt(9.0 * d)
    while True:
        z = sfc64_normal(s)
        v = 1.0 + c * z
        if v <= 0.0:
            continue
        v = v * v * v
        u = _sfc64_double(s)
        if np.log(u) < 0.5 * z * z + d - d * v + d * np.log(v):
            return d * v


@njit(cache=True, nogil=True, inline="always")
def _poisson(s, lam):
    """Poisson(lam) by inversion of the product of uniforms (small lam: jumps per step)."""
    limit = np.exp(-lam)
    k, prod = 0, _sfc64_double(s)
    while prod > limit:
        k += 1
        prod *= _sfc64_double(s)
    return k


@njit(cache=True, nogil=True, inline="always")
def _correlate(chol, correlated, z, k):
    """``z[k] ← chol·z[k]`` in place (lower triangular: bottom row first)."""
    if correlated:
        for u in range(z.shape[1] - 1, -1, -1):
            acc = 0.0
            for w in range(u + 1):
                acc += chol[u, w] * z[k, w]
            z[k, u] = acc


@njit(cache=True, nogil=True, inline="always")
def _shifted(e, eta):
    """(e + η, log dP/dQ = −η·e − η²/2) of a standard normal ``e`` drawn under the measure Q
    that shifts it by ``eta`` ((e, 0) for η = 0). Applied to the independent normals, before
    :func:`_correlate`, the ratio is exact whatever the correlation (importance sampling)."""
    if eta == 0.0:
        return e, 0.0
    return e + eta, -eta * e - 0.5 * eta * eta


@njit(cache=True, nogil=True, inline="always")
def draw_step(s, code, nu, resid, chol, correlated, jumps, par, z, jump, k):
    """Step ``k``'s innovations ``z[k]`` (n_und) and jump sizes ``jump[k]`` from the stream ``s``
    (rows written in place: a row view per step would cost two reference counts); returns the
    step's log likelihood ratio dP/dQ under a measure change (0 without one, see
    :mod:`liqrisk.risk.measures`): rows drawn from the proposal table's CDF (``resid`` columns
    n, n+1), normal numerators shifted by ``_TSHIFT`` × the step's t scale, the t's Gamma
    variate from the mixture ``(1 − _TMIX)·Gamma(ν/2) + _TMIX·_TGS·Gamma(ν/2)``, jump counts
    and sizes drawn with the proposal intensity ``_TLAM`` and mean ``_TJM``."""
    n = z.shape[1]
    lr = 0.0
    if code == _BOOTSTRAP:
        nrows = resid.shape[0]
        evt = par[0, _EVT] > 0.0
        base = 2 * n if evt else n            # residual columns (and their ranks with GPD tails)
        ax, ua_up, ua_lo = -1, -1.0, -1.0
        if resid.shape[1] > base:
            if evt:
                for u in range(n):
                    if par[u, _EMIX] > 0.0:
                        ax = u
            eps = par[ax, _EMIX] if ax >= 0 else 0.0
            if ax >= 0 and _sfc64_double(s) < eps:
                # defensive mixture's tail part: the main axis' U uniform in its p*-tail
                pt = par[ax, _EP]
                d = nrows * abs(pt) * (_sfc64_double(s) + HALF_ULP)
                ua_up, ua_lo = (d, nrows - d) if pt > 0.0 else (nrows - d, d)
                row = int(resid[min(int(ua_lo), nrows - 1), base + 2])
            else:
                w = _sfc64_double(s)
                lo, hi = 0, nrows - 1
                while lo < hi:
                    mid = (lo + hi) // 2
                    if resid[mid, base] > w:
                        hi = mid
                    else:
                        lo = mid + 1
                row = lo
            if ax >= 0:
                if ua_up < 0.0:
                    v = _sfc64_double(s) + HALF_ULP
                    c = resid[row, n + ax]
                    ua_up, ua_lo = nrows - c - v, c + v
                # dP/dQ of the main axis' U: 1/((1 − ε)·N·q_row + ε·1[U in the tail]/p*)
                pt = par[ax, _EP]
                dens = (1.0 - eps) * np.exp(-resid[row, base + 1])
                if (ua_up if pt > 0.0 else ua_lo) < nrows * abs(pt):
                    dens += eps / abs(pt)
                lr -= np.log(dens)
            else:
                lr += resid[row, base + 1]
        else:
            row = int(_sfc64_double(s) * nrows)
        for u in range(n):
            z[k, u] = resid[row, u]
        if evt:
            for u in range(n):
                c = resid[row, n + u]
                if u == ax:
                    z[k, u] = semi_draw(par, u, c, ua_up, ua_lo, z[k, u], nrows)
                elif (par[u, _KUP] > 0.0 and c >= nrows - par[u, _KUP]) or c < par[u, _KLO]:
                    v = _sfc64_double(s) + HALF_ULP
                    z[k, u] = semi_draw(par, u, c, nrows - c - v, c + v, z[k, u], nrows)
    else:
        for u in range(n):
            e = sfc64_normal(s)
            scale = 1.0
            if code == _STUDENT:
                mix = par[u, _TMIX]
                if mix > 0.0:
                    # defensive mixture: with probability mix the χ² variate is scaled by _TGS
                    gs = par[u, _TGS]
                    heavy = _sfc64_double(s) < mix
                    g = _gamma(s, 0.5 * nu) * (gs if heavy else 1.0)
                    logr = -0.5 * nu * np.log(gs) - g * (1.0 / gs - 1.0)
                    a, b = np.log(1.0 - mix), np.log(mix) + logr
                    top = max(a, b)
                    lr -= top + np.log(np.exp(a - top) + np.exp(b - top))
                else:
                    g = _gamma(s, 0.5 * nu)
                scale = np.sqrt((nu - 2.0) / (2.0 * g))
            e, lrn = _shifted(e, par[u, _TSHIFT] * scale)
            lr += lrn
            z[k, u] = e * scale
        _correlate(chol, correlated, z, k)
    if jumps:
        for u in range(n):
            jump[k, u] = 0.0
            lam, lam_q = par[u, _LAM], par[u, _TLAM]
            if lam_q > 0.0:
                c = _poisson(s, lam_q)
                lr += c * np.log(lam / lam_q) + lam_q - lam
                if c > 0:
                    sd2 = c * par[u, _JS] * par[u, _JS]
                    jv = c * par[u, _TJM] + np.sqrt(c) * par[u, _JS] * sfc64_normal(s)
                    lr += ((jv - c * par[u, _TJM]) ** 2 - (jv - c * par[u, _JM]) ** 2) / (2.0 * sd2)
                    jump[k, u] = jv
            elif lam > 0.0:
                c = _poisson(s, lam)
                if c > 0:
                    jump[k, u] = c * par[u, _JM] + np.sqrt(c) * par[u, _JS] * sfc64_normal(s)
    return lr


GRADIENT_STEP = 1e-4
"""Log-price bump of the forward differences of a pool's health (relative error ≈ the bump
times the health's curvature over its slope: 1e-4 of the bridge exponent for linear books)."""
HEALTH_GATE = 9.0
"""A several-underlying pool's health gradient is re-computed at a step only where the bridge
exponent from its last gradient is below ``HEALTH_GATE·FAR`` (or every :data:`REFRESH_STEPS`):
a skipped step's factor is 1 unless the gradient tripled since it was last computed."""
REFRESH_STEPS = 24
GRADIENT_SPACING = 0.05
"""Largest log-price spacing of the points at which a safe box's gradient bound is sampled
(:func:`safe_boxes_nb`; at most 257 points per axis)."""


@njit(cache=True, nogil=True, _nrt=False)
def health_gradient_nb(p, prow, t, ax_map, dep, g, arrs):
    """``g[a]`` = ∂(equity − MM)/∂(log price of axis ``a``) of pool ``p`` at ``prow``, ``t``
    years in (forward differences of :data:`GRADIENT_STEP`; 0 on axes the pool does not move
    with, ``dep``). ``prow`` is restored; returns the health at ``prow``."""
    e, m = pool_state_nb(p, prow, t, arrs)
    hb = e - m
    for a in range(ax_map.shape[0]):
        g[a] = 0.0
        if not dep[a]:
            continue
        ma = ax_map[a]
        keep = prow[ma]
        prow[ma] = keep * np.exp(GRADIENT_STEP)
        e, m = pool_state_nb(p, prow, t, arrs)
        prow[ma] = keep
        g[a] = (e - m - hb) / GRADIENT_STEP
    return hb


@njit(cache=True, nogil=True, _nrt=False)
def affine_gradient_nb(p, prow, t, ax_loc, ek, pmm, g, arrs):
    """:func:`health_gradient_nb` of an affine pool (linear contracts and collateral: equity
    ``ec + Σ ek·P``) at the prices ``prow`` whose positions' MM there is ``pmm``: the equity's
    gradient ``ek_a·P_a`` exactly, the collateral's MM (``leg_mm·value``) exactly, each
    position's MM by a forward difference on its own price — one position valuation each
    instead of one pool valuation per axis."""
    pool_i, pos_i, pos_f, tiers, rate = arrs[0], arrs[2], arrs[3], arrs[4], arrs[8]
    leg_axis, leg_f = arrs[5], arrs[6]
    for a in range(g.shape[0]):
        g[a] = 0.0
    for m in range(ax_loc.shape[0]):
        a = ax_loc[m]
        if a >= 0:
            g[a] = ek[a] * prow[m]
    for j in range(pool_i[LEG_START, p], pool_i[LEG_END, p]):
        a = ax_loc[leg_axis[j]]
        if a >= 0:
            g[a] -= leg_f[LEG_MM, j] * leg_f[AMOUNT, j] * prow[leg_axis[j]]
    s_ax = pool_i[SETTLE_AXIS, p]
    up = np.exp(GRADIENT_STEP)
    for i in range(pool_i[POS_START, p], pool_i[POS_END, p]):
        m = pos_i[AXIS, i]
        a = ax_loc[m]
        if a < 0:
            continue
        keep = prow[m]
        prow[m] = keep * up
        settle = settle_price_nb(s_ax, pos_i[CONTRACT, i], prow[m], prow)
        _, m1 = position_value_mm_nb(i, prow[m] * pos_f[BASIS, i], settle, t, pos_i, pos_f, tiers, rate)
        prow[m] = keep
        g[a] -= (m1 - pmm[i]) / GRADIENT_STEP


@njit(cache=True, nogil=True, inline="always")
def _bridge_c(c_br, S, k, a, garch):
    """The bridge constant 2/(v·) of axis ``a`` over step ``k``: ``c_br[a]`` (of the first
    step's variance) divided by the step's variance ratio ``S[k, a]²`` under GARCH."""
    if garch:
        return c_br[a] / (S[k, a] * S[k, a])
    return c_br[a]


@njit(cache=True, nogil=True, inline="always")
def _step_variance(g0, g1, cdt, S, k):
    """Variance over step ``k`` of a health with gradient (g0 + g1)/2 in log prices whose step
    covariance is ``cdt`` scaled by the step's volatility ratios: ``cdt_ac·S[k, a]·S[k, c]``
    (``S`` = √(v_k/v_0) per axis, :func:`book_chunk_nb`; 1 for a constant variance)."""
    s2 = 0.0
    for a in range(cdt.shape[0]):
        ga = 0.5 * (g0[a] + g1[a]) * S[k, a]
        if ga == 0.0:
            continue
        for c in range(cdt.shape[0]):
            s2 += ga * 0.5 * (g0[c] + g1[c]) * S[k, c] * cdt[a, c]
    return s2


@njit(cache=True, nogil=True, inline="always")
def _variance_bound(g, cov):
    """``Σ_ac g_a·g_c·|cov_ac|``: with |gradient| bounds ``g``, a bound of the health's step
    variance under the covariance ``cov``."""
    s2 = 0.0
    for a in range(cov.shape[0]):
        for c in range(cov.shape[0]):
            s2 += g[a] * g[c] * abs(cov[a, c])
    return s2


@njit(cache=True, nogil=True, inline="always")
def health_bridge_stay(h0, h1, s2):
    """Probability that a Brownian bridge of step variance ``s2`` from health ``h0`` to ``h1``
    stays above 0: ``1 − exp(−2·h0·h1/s2)`` — the one-dimensional bridge of
    :mod:`liqrisk.risk.bridge` on the health's linearisation (for one axis and a linear health
    the same factor as the barrier's); 0 if an end is not above 0."""
    if h0 <= 0.0 or h1 <= 0.0:
        return 0.0
    if s2 <= 0.0:
        return 1.0
    a = 2.0 * h0 * h1 / s2
    return -expm1_nb(-a) if a < FAR else 1.0


@njit(cache=True, nogil=True, inline="always")
def mid_variance_nb(m, cdt):
    """``mᵀ·cdt·m``: the step variance of a health whose mid-step log-price gradient, scaled by
    the step's volatility ratios, is ``m`` (n_ax); ``cdt`` symmetric: per axis its diagonal term,
    then twice each pair with a lower axis (the order affine_block's lanes sum in)."""
    s2 = 0.0
    for a in range(cdt.shape[0]):
        s2 += m[a] * m[a] * cdt[a, a]
        for c in range(a):
            s2 += m[a] * m[c] * (2.0 * cdt[a, c])
    return s2


@njit(cache=True, nogil=True, _nrt=False)
def gershgorin_nb(cdt):
    """The largest absolute row sum of ``cdt``: ``gᵀ·cdt·g ≤ it·|g|²`` (Gershgorin)."""
    lam = 0.0
    for a in range(cdt.shape[0]):
        row = 0.0
        for c in range(cdt.shape[0]):
            row += abs(cdt[a, c])
        lam = max(lam, row)
    return lam


# ---- affine pools on several axes: the health as a sum of piecewise-linear functions ----------
# A screenable affine pool (linear contracts and collateral, MM convex in each price) has
# h(P) = hc + Σ_a f_a(P_a) with f_a(P) = α_{a,j}·P + β_{a,j} on piece j of axis a, the pieces cut
# at the prices where a position's tier changes (book_mc._affine_pieces). Rows are the pools'
# ``mslot``: ``hc`` (n_m,), ``bp`` (n_m, n_ax, NB) breakpoints in price (ascending, ``nbp`` used),
# ``al``/``be`` (n_m, n_ax, NB + 1): piece j covers [bp[j − 1], bp[j]).

@njit(cache=True, nogil=True, inline="always")
def affine_piece_nb(sl, a, x, j, bp, nbp):
    """Index of the piece of axis ``a`` holding price ``x``, searched from piece ``j``."""
    n = nbp[sl, a]
    while j > 0 and x < bp[sl, a, j - 1]:
        j -= 1
    while j < n and x >= bp[sl, a, j]:
        j += 1
    return j


@njit(cache=True, nogil=True, inline="always")
def affine_health_nb(sl, P, hc, bp, nbp, al, be, jc, g):
    """Health ``hc + Σ_a α·P_a + β`` of slot ``sl`` at the axis prices ``P`` (n_ax) and its exact
    log-price gradient ``g[a] = α·P_a``; ``jc`` (n_ax) holds each axis' last piece (updated)."""
    h = hc[sl]
    for a in range(P.shape[0]):
        j = affine_piece_nb(sl, a, P[a], jc[a], bp, nbp)
        jc[a] = j
        ga = al[sl, a, j] * P[a]
        g[a] = ga
        h += ga + be[sl, a, j]
    return h


@njit(cache=True, nogil=True, inline="always")
def affine_path_beyond_nb(sl, plo, phi, hc, bp, nbp, al, be, gb, cdt, scap):
    """A path whose prices stay in [plo, phi] per axis (``spot·e^min``, ``spot·e^max`` of its log
    offsets) is beyond the health bridge's range at every step of the pool in slot ``sl``: with ``L = hc + Σ_a min(f_a(P_lo), f_a(P_hi))`` (each
    f_a is concave: the least health over the path's box is at its corners) and ``G_a = P_hi ×
    max |α|`` over the pieces spanned (≥ |g_a| at any price of the box), ``2·L² ≥ FAR·(1 + 1e-9)
    ·Σ G_a G_c |cdt_ac|`` bounds every step's exponent 2·h0·h1/(ḡᵀ·cdt·ḡ) below by FAR, so every
    step's factor is 1 (the 1e-9 covers the rounding of the sums). Under GARCH each G_a is taken
    ``scap`` times larger: the bound holds on a path whose steps' volatility ratios S[k, a] are all
    ≤ ``scap`` (the caller checks; ``scap`` = 1 for a constant variance)."""
    lb = hc[sl]
    for a in range(plo.shape[0]):
        lo, hi = plo[a], phi[a]
        j0 = affine_piece_nb(sl, a, lo, 0, bp, nbp)
        j1 = affine_piece_nb(sl, a, hi, j0, bp, nbp)
        lb += min(al[sl, a, j0] * lo + be[sl, a, j0], al[sl, a, j1] * hi + be[sl, a, j1])
        top = 0.0
        for j in range(j0, j1 + 1):
            top = max(top, abs(al[sl, a, j]))
        gb[a] = top * hi * scap
    return lb > 0.0 and 2.0 * lb * lb >= FAR * (1.0 + 1e-9) * _variance_bound(gb, cdt)


@njit(cache=True, nogil=True)
def affine_pieces_nb(pools, ok, loc, marks, axes, h0, pos_start, pos_end, leg_start, leg_end, leg_axis,
                     leg_amount, leg_mm, axis, qty, basis, entry, mm_code, notional_mode, tier_start, tier_end,
                     t_floor, t_mmr, t_cum, p1, p2, hc, bp, nbp, al, be):
    """The affine pieces of the pools ``pools`` flagged ``ok`` (every position on the run's axes
    linear with an MM form :func:`liqrisk.risk.book_mc._affine_pieces` accepts): per axis the
    breakpoints ``bp`` (ascending, ``nbp`` used) where a position's tier at mark changes
    (floor/(|q|·basis)), and on each piece the sums ``al``/``be`` of the terms' slopes and
    intercepts — collateral ``amount·(1 − leg_mm)·P``, then each position ``q·(basis·P − entry)``
    minus its MM — in that order; ``hc`` the health at the marks ``h0`` minus Σ f_a(mark). A pool
    with more breakpoints on an axis than ``bp`` holds gets ``ok`` False. ``loc``: the run's axis
    of each market axis (−1: not simulated)."""
    NB = bp.shape[2]
    n_ax = axes.shape[0]
    for r in range(pools.shape[0]):
        if not ok[r]:
            continue
        p = pools[r]
        m_all = 0
        for i in range(pos_start[p], pos_end[p]):
            m_all += max(tier_end[i] - tier_start[i] - 1, 0)
        tmp = np.empty(max(m_all, 1))
        for ax in range(n_ax):
            m = 0
            for i in range(pos_start[p], pos_end[p]):
                lo, hi = tier_start[i], tier_end[i]
                if loc[axis[i]] == ax and mm_code[i] == MM_TIERS_AT_MARK and notional_mode[i] == NOTIONAL_QUOTE \
                        and hi > lo:
                    for t in range(lo + 1, hi):
                        tmp[m] = t_floor[t] / (abs(qty[i]) * basis[i])
                        m += 1
            cuts = np.unique(tmp[:m])
            nu = cuts.shape[0]
            if nu > NB:
                ok[r] = False
                break
            nbp[r, ax] = nu
            for k in range(nu):
                bp[r, ax, k] = cuts[k]
            for j in range(leg_start[p], leg_end[p]):
                if loc[leg_axis[j]] == ax:
                    slope = leg_amount[j] * (1.0 - leg_mm[j])
                    for k in range(nu + 1):
                        al[r, ax, k] += slope
            for i in range(pos_start[p], pos_end[p]):
                if loc[axis[i]] != ax:
                    continue
                q, code, mode, lo, hi = qty[i], mm_code[i], notional_mode[i], tier_start[i], tier_end[i]
                aq = abs(q)
                vs, vc = q * basis[i], -q * entry[i]            # value q·(basis·P − entry)
                if code == MM_TIERS_AT_MARK and mode == NOTIONAL_QUOTE and hi > lo:
                    scale = aq * basis[i]
                    for k in range(nu + 1):
                        t = lo                   # the position's tier on piece k: its floors ≤ the piece's start
                        if k > 0:
                            while t + 1 < hi and t_floor[t + 1] / scale <= cuts[k - 1]:
                                t += 1
                        al[r, ax, k] += vs - scale * t_mmr[t]
                        be[r, ax, k] += vc + t_cum[t]
                    continue
                n_fix = p2[i] if mode == NOTIONAL_SIZE else aq
                t = lo
                for u in range(lo, hi):
                    if n_fix >= t_floor[u]:
                        t = u
                mmr, cum = (t_mmr[t], t_cum[t]) if hi > lo else (0.0, 0.0)
                slope, icpt = vs, vc
                if code == MM_TIERS_AT_MARK:
                    icpt = vc - (n_fix * mmr - cum)
                elif code == MM_WHOLE_TIER_FEE:
                    slope = vs - aq * basis[i] * (mmr + p1[i])
                elif code == MM_ENTRY_VALUE:
                    icpt = vc - p1[i] * aq * entry[i]
                for k in range(nu + 1):
                    al[r, ax, k] += slope
                    be[r, ax, k] += icpt
        if not ok[r]:
            continue
        f0 = 0.0
        for ax in range(n_ax):
            x = marks[axes[ax]]
            j = 0
            while j < nbp[r, ax] and bp[r, ax, j] <= x:
                j += 1
            f0 += al[r, ax, j] * x + be[r, ax, j]
        hc[r] = h0[r] - f0


@njit(cache=True, nogil=True, inline="always")
def affine_step_factor_nb(hp, h1, gp, gk, S, k, cdt, lam, gm):
    """The health bridge's factor of step ``k`` from health ``hp`` > 0 to ``h1`` > 0 with exact
    log-price gradients ``gp``, ``gk`` at its ends: the mid-step gradient ``gm`` = ½(gp + gk)·S_k;
    1 where ``2·hp·h1`` is beyond the bridge's range by the Gershgorin bound ``lam``·|gm|² (1e-9:
    the sums' rounding) — the factor health_bridge_stay gives there, without the quadratic form."""
    nrm = 0.0
    for a in range(gp.shape[0]):
        m = 0.5 * (gp[a] + gk[a]) * S[k, a]
        gm[a] = m
        nrm += m * m
    if 2.0 * hp * h1 >= FAR * (1.0 + 1e-9) * lam * nrm:
        return 1.0
    return health_bridge_stay(hp, h1, mid_variance_nb(gm, cdt))


@njit(cache=True, nogil=True, _nrt=False)
def affine_walk_nb(b, sl, n_steps, hsteps, PX, u, wh, ec_b, ek_b, hc, bp, nbp, al, be, cdt, S, qrow, ys,
                   eqh, jc, gp, gk, gm):
    """One path of the affine several-axis pool ``p`` (row ``b`` of the run, slot ``sl``) on the
    prices ``PX`` (n_steps + 1, n_ax): every step's health and exact gradient from the pieces
    (:func:`affine_health_nb`) instead of a valuation of each position, the health bridge
    (:func:`health_bridge_stay`) between steps; liquidated at a step where the health is ≤ 0.
    Writes ``qrow`` (the step factors), ``ys[b]`` at the horizons as :func:`book_chunk_nb` does
    and ``eqh[b]`` at the horizons before the sampled liquidation step (equity ``ec + Σ ek·P``;
    from that step on the caller's :func:`liquidated_equity_nb`: the margin kernel allocates,
    which code compiled without reference counting may not call); returns (sampled liquidation
    step or −1, step of certain liquidation or n_steps + 1). ``jc`` (int, n_ax), ``gp``, ``gk``,
    ``gm`` (n_ax): work arrays."""
    n_ax, n_h = PX.shape[1], hsteps.shape[0]
    lam = gershgorin_nb(cdt)                 # ḡᵀ·cdt·ḡ ≤ lam·|ḡ|²
    for a in range(n_ax):
        jc[a] = 0
    hp = affine_health_nb(sl, PX[0], hc, bp, nbp, al, be, jc, gp)
    surv, ptau, kdead, j = 1.0, -1, n_steps + 1, 0
    for k in range(1, n_steps + 1):
        if surv > 0.0:
            h1 = affine_health_nb(sl, PX[k], hc, bp, nbp, al, be, jc, gk)
            if h1 <= 0.0:
                q = 0.0
                kdead = k
            else:
                q = affine_step_factor_nb(hp, h1, gp, gk, S, k, cdt, lam, gm)
            qrow[k] = q
            for a in range(n_ax):
                gp[a] = gk[a]
            hp = h1
            surv *= q
            if ptau < 0 and surv <= u:
                ptau = k
        while j < n_h and hsteps[j] == k:
            ys[b, j] = wh[j] * (1.0 - surv)
            if ptau < 0:
                e = ec_b
                for a in range(n_ax):
                    e += ek_b[a] * PX[k, a]
                eqh[b, j] = e
            j += 1
        if surv == 0.0 and ptau >= 0:
            while j < n_h:                   # liquidated: nothing changes any more
                ys[b, j] = wh[j]
                j += 1
            break
    return ptau, kdead


@njit(cache=True, nogil=True)
def liquidated_equity_nb(b, p, k, dt, hsteps, PX, fee_b, prow, ax_map, eqh, arrs):
    """What liquidation at step ``k`` leaves pool ``p`` (row ``b``): :func:`liquidated_value_nb`
    (max(0, min(equity, MM) − fee·notional); a collateral loan what its protocol's liquidation
    leaves the holder) by the margin kernel at the step's prices ``PX[k]`` (set in ``prow``, the
    other axes as they are there), written to ``eqh[b]`` at the horizons from step k on."""
    pool_i, pos_i, pos_f = arrs[0], arrs[2], arrs[3]
    for a in range(PX.shape[1]):
        prow[ax_map[a]] = PX[k, a]
    eq, mm = pool_state_nb(p, prow, k * dt, arrs)
    notional = 0.0
    for i in range(pool_i[POS_START, p], pool_i[POS_END, p]):
        notional += abs(pos_f[QTY, i]) * prow[pos_i[AXIS, i]] * pos_f[BASIS, i]
    frozen = liquidated_value_nb(p, prow, eq, mm, fee_b, notional, arrs)
    for j in range(hsteps.shape[0]):
        if hsteps[j] >= k:
            eqh[b, j] = frozen


@njit(cache=True, nogil=True, _nrt=False)
def draw_path_nb(path, key, anti, u, n_steps, par, chol, code, nu, resid, garch, correlated, jumps,
                 s, z, jmp, v, sv, X, lr, mn, mx, S):
    """Draw path ``path`` of a run: log offsets ``X`` (n_steps + 1, n_ax), cumulative log
    likelihood ratio ``lr``, each axis' lowest and highest offset ``mn``/``mx`` and, under GARCH,
    the steps' volatility ratios ``S`` = √(v_k/v_0); returns the path's liquidation-step uniform.
    Antithetic (``anti``): an odd path mirrors the previous one's draws — ``z``, ``jmp`` (the
    work arrays (n_steps, n_ax)) and ``u`` as they were left by it. ``s`` (uint64[4]), ``v``,
    ``sv`` (n_ax): work arrays. The draws are the module docstring's."""
    n_ax = X.shape[1]
    sign = 1.0
    if anti and path % 2 == 1:
        sign = -1.0
    if sign > 0:
        seed_path(key, path // 2 if anti else path, s)
        u = _sfc64_double(s)
    for a in range(n_ax):
        v[a] = par[a, _H0] if garch else par[a, _OMEGA]
        sv[a] = np.sqrt(v[a])
        X[0, a] = 0.0
        mn[a] = 0.0
        mx[a] = 0.0
    loglr = 0.0
    for k in range(n_steps):
        if sign > 0 and code == _NORMAL and not jumps:
            # the common case written here: inside draw_step's other cases it ran 3× slower
            for a in range(n_ax):
                zn, lrn = _shifted(sfc64_normal(s), par[a, _TSHIFT])
                z[k, a] = zn
                loglr += lrn
            _correlate(chol, correlated, z, k)
        elif sign > 0:
            loglr += draw_step(s, code, nu, resid, chol, correlated, jumps, par, z, jmp, k)
        for a in range(n_ax):
            zz = sign * z[k, a]
            sd = sv[a]
            if garch:
                sd = np.sqrt(v[a])
                S[k + 1, a] = sd / sv[a]
            eps = sd * zz
            xn = X[k, a] + par[a, _MU] - 0.5 * v[a] + eps
            if jumps:
                xn += sign * jmp[k, a]
            X[k + 1, a] = xn
            mn[a] = min(mn[a], xn)
            mx[a] = max(mx[a], xn)
            if garch:
                v[a] = (par[a, _OMEGA] + (par[a, _ALPHA] + (par[a, _GAMMA] if eps < 0.0 else 0.0))
                        * eps * eps + par[a, _BETA] * v[a])
        lr[k + 1] = loglr
    return u


@njit(cache=True, nogil=True, _nrt=False)
def path_rows_nb(path, row, reuse, key, anti, u, n_steps, par, chol, code, nu, resid, garch, correlated, jumps,
                 s, z, jmp, v, sv, X, lr, mn, mx, S, XS, LRS, MNS, MXS, US, SS):
    """The liquidation-step uniform of path ``path``, its rows in the work arrays ``X``, ``lr``,
    ``mn``, ``mx``, ``S``: with ``reuse`` 0 drawn, 1 drawn and copied to row ``row`` of the
    caller's store (``XS`` … ``SS``), 2 copied from that row. Compiled without reference counting
    (``_nrt=False``, as :func:`draw_path_nb`): called once per path, a call passing these ~20 arrays
    cost ≈ 300 ns in reference-count updates — more than drawing a one-step path."""
    n_ax = X.shape[1]
    if reuse == 2:
        for k in range(n_steps + 1):
            lr[k] = LRS[row, k]
            for a in range(n_ax):
                X[k, a] = XS[row, k, a]
                if garch:
                    S[k, a] = SS[row, k, a]
        for a in range(n_ax):
            mn[a], mx[a] = MNS[row, a], MXS[row, a]
        return US[row]
    u = draw_path_nb(path, key, anti, u, n_steps, par, chol, code, nu, resid, garch, correlated, jumps,
                     s, z, jmp, v, sv, X, lr, mn, mx, S)
    if reuse == 1:
        for k in range(n_steps + 1):
            LRS[row, k] = lr[k]
            for a in range(n_ax):
                XS[row, k, a] = X[k, a]
                if garch:
                    SS[row, k, a] = S[k, a]
        for a in range(n_ax):
            MNS[row, a], MXS[row, a] = mn[a], mx[a]
        US[row] = u
    return u


@njit(cache=True, nogil=True)
def book_chunk_nb(first, last, key, n_steps, dt, hsteps, anti, par, chol, code, nu, resid, garch,
                  correlated, jumps, ax_map, ax_loc, spot, c_br, scap, marks, pools, margined, fee, now, frozen0,
                  pay_usd, plo, phi, safe, boxed, slo, shi, hsafe, hlo, hhi, affine, ec, ek, mslot, dep, h0, g0, cdt,
                  txlo, tdx, TD, TG, acc_start, alo, ahi, cv_ax, cv_lo, cv_hi, v0,
                  want_loss, n_bins, f_row, f_rate, reuse, XS, LRS, MNS, MXS, US, SS,
                  arrs, ps1, ps2, as1, as2, ax1, ax2, axy, hist, top, top_n, top_min,
                  fast, hc, bp, nbp, al, be, walk_b, walk_i):
    """Paths ``first … last − 1`` of a run; adds to the chunk's sums (module docstring):
    per pool ``ps1/ps2`` (n_pools, n_h) Σ w·y and Σ (w·y)² of the bridge-corrected liquidation
    probability y; per account ``as1/as2`` the same, ``ax1/ax2/axy`` Σx, Σx², Σx·y of the
    control variate x (bridge hit probability of axis ``cv_ax`` against (cv_lo, cv_hi));
    ``hist`` (n_acc, n_bins) weights of the sampled liquidation step; with ``want_loss``,
    ``top``, ``top_n``, ``top_min`` (:func:`liqrisk.risk.tails.tail_store`) the K largest losses
    ``v0 − equity at the horizon``. Antithetic: samples are pair means.

    ``now`` (n_pools): pools liquidatable at t=0 — liquidated at the marks before the first step
    (sampled liquidation step 1, probability 1), keeping ``frozen0`` (what liquidation leaves at
    the marks) at every horizon. ``pay_usd`` (n_pools): the pool's options pay their payoff in
    USD at expiry (else in the coin, held at its price from then on).

    Per path the whole path is drawn first, then each pool is walked over the steps. A pool
    flagged ``safe`` whose path stays inside its box [slo, shi] (log offsets per axis) is
    healthy and beyond the bridge range at every step (see :func:`safe_boxes_nb`): it is only
    valued at the horizons (by ``ec + Σ ek·P`` when its equity is ``affine``). A pool flagged
    ``hsafe`` whose path stays inside its healthy box [hlo, hhi] has equity − MM > 0 at every
    step but may be within the bridge range: its bridge factors are computed from the path alone
    and it is valued only at its sampled liquidation step and, with ``want_loss``, at the
    horizons unless ``affine`` — the same numbers as the full walk.

    ``boxed``: pools with a box whether or not ``safe`` (screening) is on — a several-axis
    pool's steps with both ends in it are skipped in both modes, so the gradient it carries
    out of the box is the same with and without screening.

    Several underlyings: a pool with ``mslot[b] ≥ 0`` moves with two or more simulated axes; its
    bridge factor is that of its health ``h = equity − MM`` (:func:`health_bridge_stay`, from
    ``h0`` (n_pools) and ``g0`` (n_pools, n_ax) at t=0 and ``cdt``, the step covariance of the
    log offsets) instead of per-axis t=0 boundaries (each found with the other prices at their
    marks: a BTC long / ETH short pair far from liquidation along the pair's correlated moves is
    close to BTC's own boundary). Its factors per step are kept in row ``mslot[b]`` of a trace
    that the account's survival multiplies in; the account's ``alo``/``ahi`` are then those of
    its single-axis pools only. ``dep`` (n_pools, n_ax): the pool moves with the axis. A step
with both ends in the pool's safe box, or — for a pool with bound tables (``txlo``, ``tdx``,
``TD``, ``TG`` in row ``mslot[b]``, :func:`health_tables_nb`; a row of zeros in ``tdx``: none) — whose
lower bounds l0, l1 of the health at its ends and upper bounds G of the gradient's size over
the ends' cells satisfy ``2·l0·l1 ≥ FAR·Σ G_a·G_c·|cdt_ac|`` (≥ the step variance ḡᵀ·cdt·ḡ),
is beyond the bridge range: factor 1, not valued.

    ``fast`` (n_pools): 1 for an affine several-axis pool walked on its pieces (``hc``, ``bp``,
    ``nbp``, ``al``, ``be`` in row ``mslot[b]``, :func:`affine_walk_nb`) instead of valuing its
    positions, 2 the same with its whole path skipped when :func:`affine_path_beyond_nb` holds
    (screening), 0 otherwise.

    Funding: a position with ``f_row[i] ≥ 0`` pays ``f_rate[f_row[i], k]`` (the rates of its
    funding times in step k's interval) at step k on the step's price — ``qty·P·rate`` USD
    (linear) or ``qty·rate/P`` coins (inverse) — out of its pool, cumulated along the path; the
    caller walks such pools at every step (not ``safe``, not ``affine``).

    GARCH: the bridges over step k use that step's conditional variance v_k per axis, not the
    first step's v_0 that ``c_br`` (2/v_0 per axis) and ``cdt`` are of: ``c_br/S²`` and
    ``cdt_ac·S_a·S_c`` with ``S[k, a]`` = √(v_k/v_0) (1 at the first step and for a constant
    variance, whose numbers are therefore unchanged). The boxes and bound tables (``safe``,
    ``boxed``, :func:`_path_beyond`) are computed by the caller for a step variance of
    ``scap²·v_0``: they apply to a path (``safe``, the tables' whole-path test) only when every
    step's S ≤ ``scap``, to a step (``boxed``) when its S ≤ ``scap``; the tables' per-step test
    scales its gradient bounds by the step's own S (exact).

    Path reuse: with ``reuse`` 1 each path (row ``path − first``) is drawn into the caller's
    arrays ``XS`` (n, n_steps + 1, n_ax: log offsets), ``LRS`` (n, n_steps + 1), ``MNS``/``MXS``
    (n, n_ax: the path's lowest and highest log offset), ``US`` (n: the liquidation-step
    uniform) and, under GARCH, ``SS`` (n, n_steps + 1, n_ax: the volatility ratios S); with
    ``reuse`` 2 they are read from there instead of drawn — the same numbers for another book on
    the same run (0: drawn into the kernel's own buffers).

    Only the pools ``walk_b`` and accounts ``walk_i`` (rows of the run, ascending) are walked and
    summed: the others are left to :func:`liqrisk.risk.affine_block.solo_affine_chunk_nb`."""
    pool_i, pos_i, pos_f, tiers, rate = arrs[0], arrs[2], arrs[3], arrs[4], arrs[8]
    n_ax, n_bp, n_h = ax_map.shape[0], pools.shape[0], hsteps.shape[0]
    n_acc = acc_start.shape[0] - 1
    K = top.shape[2] // ROOM
    big = n_steps + 1
    s = np.empty(4, dtype=np.uint64)
    prow = marks.copy()
    z = np.zeros((n_steps, n_ax))
    jmp = np.zeros((n_steps, n_ax))
    X = np.zeros((n_steps + 1, n_ax))
    PX = np.zeros((n_steps + 1, n_ax))
    PX[0, :] = spot
    lr = np.zeros(n_steps + 1)
    S = np.ones((n_steps + 1, n_ax))         # per step and axis √(v_k/v_0) (GARCH; else 1)
    v = np.zeros(n_ax)
    sv = np.zeros(n_ax)
    mn = np.zeros(n_ax)
    mx = np.zeros(n_ax)
    wh = np.ones(n_h)
    kdead = np.zeros(n_bp, dtype=np.int64)
    kexp = np.zeros(n_bp, dtype=np.int64)
    ptau = np.zeros(n_bp, dtype=np.int64)
    inside = np.zeros(n_bp, dtype=np.bool_)
    ys = np.zeros((n_bp, n_h))
    eqh = np.zeros((n_bp, n_h))
    ya = np.zeros((n_acc, n_h))
    xa = np.zeros((n_acc, n_h))
    ys_prev = np.zeros((n_bp, n_h))
    ya_prev = np.zeros((n_acc, n_h))
    xa_prev = np.zeros((n_acc, n_h))
    settled = np.full(pos_f.shape[1], np.nan)
    fcum = np.zeros(pos_f.shape[1])
    pmm = np.zeros(pos_f.shape[1])           # each position's MM at the step valued last
    n_slots = 0
    for b in range(n_bp):
        n_slots = max(n_slots, mslot[b] + 1)
    qtr = np.ones((n_slots, n_steps + 1))    # bridge factors per step of several-axis pools
    gp = np.zeros(n_ax)
    gk = np.zeros(n_ax)
    gm = np.zeros(n_ax)
    gb = np.zeros(n_ax)
    jc = np.zeros(n_ax, dtype=np.int64)
    pmn = np.zeros(n_ax)
    pmx = np.zeros(n_ax)
    hp, kg, t, hp_ok = 0.0, 0, 0.0, True
    u = 0.0
    for path in range(first, last):
        sign = 1.0
        if anti and path % 2 == 1:
            sign = -1.0
        r = path - first
        u = path_rows_nb(path, r, reuse, key, anti, u, n_steps, par, chol, code, nu, resid, garch, correlated,
                         jumps, s, z, jmp, v, sv, X, lr, mn, mx, S, XS, LRS, MNS, MXS, US, SS)
        for j in range(n_h):
            wh[j] = np.exp(lr[hsteps[j]])
        # the screening (boxes, bound tables) holds for steps whose variance is ≤ scap²·v_0
        calm = True
        if garch:
            for k in range(1, n_steps + 1):
                for a in range(n_ax):
                    calm &= S[k, a] <= scap
        px_rows = 0                  # prices PX computed: 0 none, 1 the horizon rows, 2 all rows
        pbox = False                 # pmn, pmx: the path's lowest and highest price per axis
        # ---- each pool along the path ------------------------------------------------------
        for b in walk_b:
            p = pools[b]
            sl = mslot[b]
            if now[b]:                       # liquidatable at t=0: liquidated at the marks
                inside[b] = False
                kdead[b] = 1
                kexp[b] = big
                ptau[b] = 1
                if sl >= 0:
                    qtr[sl, :] = 1.0
                for j in range(n_h):
                    ys[b, j] = wh[j]
                    eqh[b, j] = frozen0[b]
                continue
            ok = safe[b] and calm
            if ok:
                for a in range(n_ax):
                    ok &= slo[b, a] <= mn[a] and mx[a] <= shi[b, a]
            inside[b] = ok
            if sl >= 0:
                qtr[sl, :] = 1.0
                # the whole path beyond the bridge range by the bound tables: as safe on this
                # path (not ``inside``: the account is still walked, as after a full walk)
                if fast[b] == 2:             # the same from the affine pieces (exact bounds)
                    if calm and not pbox:    # the path's price range, once per path
                        for a in range(n_ax):
                            pmn[a], pmx[a] = spot[a] * np.exp(mn[a]), spot[a] * np.exp(mx[a])
                        pbox = True
                    ok = ok or (calm and affine_path_beyond_nb(sl, pmn, pmx, hc, bp, nbp, al, be, gb, cdt, scap))
                else:
                    ok = ok or (calm and _path_beyond(sl, mn, mx, h0[b], txlo, tdx, TD, TG, gb, cdt, scap))
            kdead[b] = big
            kexp[b] = big
            ptau[b] = -1
            if ok and not want_loss:
                for j in range(n_h):
                    ys[b, j] = 0.0
                continue
            # prices from the log offsets, only where they are needed (one exp per row and axis)
            if px_rows < 2 and not ok:
                for k in range(1, n_steps + 1):
                    for a in range(n_ax):
                        PX[k, a] = spot[a] * np.exp(X[k, a])
                px_rows = 2
            elif px_rows == 0:
                for j in range(n_h):
                    for a in range(n_ax):
                        PX[hsteps[j], a] = spot[a] * np.exp(X[hsteps[j], a])
                px_rows = 1
            if ok and affine[b]:
                for j in range(n_h):
                    ys[b, j] = 0.0
                    e = ec[b]
                    for a in range(n_ax):
                        e += ek[b, a] * PX[hsteps[j], a]
                    eqh[b, j] = e
                continue
            if fast[b] > 0:                  # an affine several-axis pool: walked on its pieces
                ptau[b], kdead[b] = affine_walk_nb(b, sl, n_steps, hsteps, PX, u, wh, ec[b], ek[b], hc, bp,
                                                   nbp, al, be, cdt, S, qtr[sl], ys, eqh, jc, gp, gk, gm)
                if ptau[b] >= 0:
                    liquidated_equity_nb(b, p, ptau[b], dt, hsteps, PX, fee[b], prow, ax_map, eqh, arrs)
                continue
            i0, i1, s_ax = pool_i[POS_START, p], pool_i[POS_END, p], pool_i[SETTLE_AXIS, p]
            for i in range(i0, i1):
                settled[i] = np.nan
                fcum[i] = 0.0
            surv = 1.0
            frozen = 0.0
            eq, mm, notional = 0.0, 0.0, 0.0
            hin = not ok and hsafe[b] and sl < 0
            tb = False                       # bounds per cell (health_tables_nb)
            if sl >= 0:
                for a in range(n_ax):
                    tb |= tdx[sl, a] > 0.0
            sbox = not ok and sl >= 0 and (boxed[b] or tb)
            if sl >= 0:                      # the health bridge starts from t=0
                hp = h0[b]
                hp_ok = True
                for a in range(n_ax):
                    gp[a] = g0[b, a]
                kg = 0
            if hin:
                for a in range(n_ax):
                    hin &= hlo[b, a] <= mn[a] and mx[a] <= hhi[b, a]
            j = 0
            jh = 0
            k = 0
            while True:
                if ok:                       # safe on this path: the horizon steps only
                    while jh < n_h and hsteps[jh] <= k:
                        jh += 1
                    if jh == n_h:
                        break
                    k = hsteps[jh]
                else:
                    k += 1
                    if k > n_steps:
                        break
                hq = 1.0
                hval = True
                t = k * dt
                inb = sbox
                if sbox:                     # a step inside the safe box: healthy, factor 1
                    inb = boxed[b]
                    for a in range(n_ax):
                        inb &= slo[b, a] <= X[k - 1, a] <= shi[b, a] and slo[b, a] <= X[k, a] <= shi[b, a] \
                            and S[k, a] <= scap
                    if not inb and tb:
                        # or the step's health and gradient bounds put it beyond the bridge range
                        for a in range(n_ax):
                            gb[a] = 0.0
                        l0 = _health_floor(sl, X, k - 1, h0[b], txlo, tdx, TD, TG, gb)
                        l1 = _health_floor(sl, X, k, h0[b], txlo, tdx, TD, TG, gb)
                        if l0 > 0.0 and l1 > 0.0:
                            for a in range(n_ax):
                                gb[a] *= S[k, a]
                            inb = 2.0 * l0 * l1 >= FAR * _variance_bound(gb, cdt)
                    if inb:
                        hval = want_loss and not affine[b] and j < n_h and hsteps[j] == k
                    elif not hp_ok:          # the health where the path left the box
                        for a in range(n_ax):
                            prow[ax_map[a]] = PX[k - 1, a]
                        e0, m0 = pool_state_nb(p, prow, t - dt, arrs)
                        hp = e0 - m0
                        hp_ok = True
                if hin:                      # healthy on this path: the bridge factor only
                    if surv > 0.0 and k < kexp[b]:
                        for a in range(n_ax):
                            hq *= bridge_stay(X[k - 1, a], X[k, a], plo[b, a], phi[b, a],
                                              _bridge_c(c_br, S, k, a, garch), 1.0)
                    # valued only where a number needs it: the sampled liquidation step and, for
                    # the loss, the horizons (an affine pool's equity there is ec + Σ ek·P)
                    hval = (ptau[b] < 0 and surv * hq <= u) or \
                        (want_loss and not affine[b] and j < n_h and hsteps[j] == k)
                if hval:
                    for a in range(n_ax):
                        prow[ax_map[a]] = PX[k, a]
                    eq, mm = legs_state_nb(p, prow, arrs)
                    notional = 0.0
                    for i in range(i0, i1):
                        ci = pos_i[CONTRACT, i]
                        qi = pos_f[QTY, i]
                        pa = prow[pos_i[AXIS, i]]
                        P = pa * pos_f[BASIS, i]
                        settle = settle_price_nb(s_ax, ci, pa, prow)
                        T = pos_f[EXPIRY, i]
                        if T > 0.0 and t >= T and settled[i] != settled[i]:
                            # settle at the price at expiry: log-linear between the step's ends
                            PT = P
                            la = ax_loc[pos_i[AXIS, i]]
                            if la >= 0:
                                f = min(max(1.0 - (t - T) / dt, 0.0), 1.0)
                                PT = spot[la] * np.exp(X[k - 1, la] + f * (X[k, la] - X[k - 1, la])) * pos_f[BASIS, i]
                            if ci == LINEAR:
                                settled[i] = qi * (PT - pos_f[ENTRY, i])
                            elif ci == INVERSE:
                                settled[i] = qi * (1.0 / pos_f[ENTRY, i] - 1.0 / PT)
                            else:            # the payoff, in USD or in coin (held at its price)
                                strike = pos_f[STRIKE, i]
                                pay = PT - strike if pos_i[IS_CALL, i] else strike - PT
                                settled[i] = qi * max(pay, 0.0) if pay_usd[b] else qi * max(pay, 0.0) / PT
                            kexp[b] = min(kexp[b], k)
                        if settled[i] == settled[i]:
                            eq += settled[i] * (1.0 if ci == LINEAR or (ci == INVERSE_OPTION and pay_usd[b])
                                                else settle)
                            continue
                        if f_row[i] >= 0:
                            fr = f_rate[f_row[i], k]
                            if fr != 0.0:
                                fcum[i] += qi * P * fr if ci == LINEAR else qi * fr / P
                            eq -= fcum[i] * (1.0 if ci == LINEAR else settle)
                        val, mmi = position_value_mm_nb(i, P, settle, t, pos_i, pos_f, tiers, rate)
                        pmm[i] = mmi
                        eq += val
                        mm += mmi
                        notional += abs(qi) if ci == INVERSE else abs(qi) * P
                    if pool_i[SC_END, p] > pool_i[SC_START, p]:
                        mm += scenario_mm_nb(p, prow, t, arrs)
                if margined[b] and not ok and surv > 0.0:
                    q = 1.0
                    if hin:
                        q = hq
                    elif inb:
                        q = 1.0
                    elif eq - mm <= 0.0:
                        q = 0.0
                        kdead[b] = k
                    elif k < kexp[b] and sl >= 0:
                        h1 = eq - mm
                        if not affine[b] or k - kg >= REFRESH_STEPS or \
                                2.0 * hp * h1 < HEALTH_GATE * FAR * _step_variance(gp, gp, cdt, S, k):
                            if affine[b]:
                                affine_gradient_nb(p, prow, t, ax_loc, ek[b], pmm, gk, arrs)
                            else:
                                health_gradient_nb(p, prow, t, ax_map, dep[b], gk, arrs)
                            q = health_bridge_stay(hp, h1, _step_variance(gp, gk, cdt, S, k))
                            for a in range(n_ax):
                                gp[a] = gk[a]
                            kg = k
                        qtr[sl, k] = q
                    elif k < kexp[b]:
                        for a in range(n_ax):
                            q *= bridge_stay(X[k - 1, a], X[k, a], plo[b, a], phi[b, a],
                                             _bridge_c(c_br, S, k, a, garch), 1.0)
                    surv *= q
                    if ptau[b] < 0 and surv <= u:
                        ptau[b] = k
                        frozen = liquidated_value_nb(p, prow, eq, mm, fee[b], notional, arrs)
                if sl >= 0:
                    hp = eq - mm
                    hp_ok = hval
                while j < n_h and hsteps[j] == k:
                    ys[b, j] = wh[j] * (1.0 - surv)
                    if ptau[b] < 0 and affine[b] and kexp[b] == big:
                        # the same arithmetic as a screened pool: results do not depend on
                        # whether this path left the box (which depends on the run's length);
                        # once a position has settled the valuation's equity (its settled cash)
                        eq = ec[b]
                        for a in range(n_ax):
                            eq += ek[b, a] * PX[k, a]
                    eqh[b, j] = frozen if ptau[b] >= 0 else eq
                    j += 1
                if surv == 0.0 and ptau[b] >= 0 and not ok:
                    while j < n_h:           # liquidated: nothing changes any more
                        ys[b, j] = wh[j]
                        eqh[b, j] = frozen
                        j += 1
                    break
            for jj in range(j, n_h):         # a safe pool valued at the horizons only
                ys[b, jj] = 0.0
        # ---- accounts: healthy while every pool is, bridge on their tightest boundaries ------
        for i in walk_i:
            kd, ke, all_in, n_m, one, several = big, big, True, 0, -1, False
            for b in range(acc_start[i], acc_start[i + 1]):
                if margined[b]:
                    kd = min(kd, kdead[b])
                    if mslot[b] < 0:
                        ke = min(ke, kexp[b])
                    several |= mslot[b] >= 0
                    all_in &= inside[b]
                    n_m += 1
                    one = b
            for j in range(n_h):
                ya[i, j] = 0.0
                xa[i, j] = 0.0
            if not all_in:
                asurv, csurv, atau, j = 1.0, 1.0, -1, 0
                ca = cv_ax[i]
                # one margined pool: the account's bounds are the pool's, so its survival is the
                # pool's, step by step (the same products); only the control is walked here
                own = n_m != 1
                if not own:
                    atau = ptau[one]
                    for jj in range(n_h):
                        ya[i, jj] = ys[one, jj]
                for k in range(1, n_steps + 1):
                    if own and asurv > 0.0:
                        q = 0.0 if k >= kd else 1.0
                        if q > 0.0 and k < ke:
                            for a in range(n_ax):
                                q *= bridge_stay(X[k - 1, a], X[k, a], alo[i, a], ahi[i, a],
                                                 _bridge_c(c_br, S, k, a, garch), 1.0)
                        if q > 0.0 and several:
                            for b in range(acc_start[i], acc_start[i + 1]):
                                if mslot[b] >= 0:
                                    q *= qtr[mslot[b], k]
                        asurv *= q
                        if atau < 0 and asurv <= u:
                            atau = k
                    if ca >= 0 and csurv > 0.0:
                        if X[k, ca] <= cv_lo[i] or X[k, ca] >= cv_hi[i]:
                            csurv = 0.0
                        else:
                            csurv *= bridge_stay(X[k - 1, ca], X[k, ca], cv_lo[i], cv_hi[i], c_br[ca], 1.0)
                    while j < n_h and hsteps[j] == k:
                        if own:
                            ya[i, j] = wh[j] * (1.0 - asurv)
                        xa[i, j] = 1.0 - csurv
                        j += 1
                    if j == n_h or ((not own or asurv == 0.0) and (ca < 0 or csurv == 0.0)):
                        break
                for jj in range(j, n_h):
                    if own:
                        ya[i, jj] = wh[jj] * (1.0 - asurv)
                    xa[i, jj] = 1.0 - csurv
                if atau >= 0:
                    hist[i, (atau - 1) * n_bins // n_steps] += wh[n_h - 1]
            if not want_loss:
                continue
            for j in range(n_h):
                value = 0.0
                for b in range(acc_start[i], acc_start[i + 1]):
                    value += eqh[b, j]
                insert_loss_nb(top, top_n, top_min, i, j, v0[i] - value, K)
        # ---- this path's samples ------------------------------------------------------------
        if anti and sign > 0:
            ys_prev[:, :] = ys
            ya_prev[:, :] = ya
            xa_prev[:, :] = xa
            continue
        for jj in range(n_h):
            for b in walk_b:
                y = 0.5 * (ys[b, jj] + ys_prev[b, jj]) if anti else ys[b, jj]
                ps1[b, jj] += y
                ps2[b, jj] += y * y
            for i in walk_i:
                y = 0.5 * (ya[i, jj] + ya_prev[i, jj]) if anti else ya[i, jj]
                xx = 0.5 * (xa[i, jj] + xa_prev[i, jj]) if anti else xa[i, jj]
                as1[i, jj] += y
                as2[i, jj] += y * y
                ax1[i, jj] += xx
                ax2[i, jj] += xx * xx
                axy[i, jj] += xx * y


@njit(cache=True, nogil=True)
def _along_axis(p, prices, marks, ax_map, a, x, one, g, arrs):
    """(equity − MM, |∂/∂ log price of axis a|) of pool ``p`` with axis ``a`` at log offset ``x``
    and the other prices at their ``marks`` (``one``: the mask of axis ``a``; ``prices`` holds the
    marks on entry and on return)."""
    ma = ax_map[a]
    prices[ma] = marks[ma] * np.exp(x)
    h = health_gradient_nb(p, prices, 0.0, ax_map, one, g, arrs)
    prices[ma] = marks[ma]
    return h, abs(g[a])


@njit(cache=True, nogil=True)
def health_tables_nb(pools, ax_map, marks, dep, txlo, tdx, TD, TG, arrs):
    """Per-cell health bounds of affine several-axis pools for :func:`_health_floor`: along each
    axis ``a`` the pool moves with, cells ``c`` = [x_c, x_c+1] of log offsets, x_c = txlo[b, a] +
    c·tdx[b, a] (tdx > 0; 0 on other axes), other prices at their marks:
    ``TD[b, a, c]`` = min(h(x_c), h(x_c+1)) − h(0) and ``TG[b, a, c]`` = e^tdx ×
    max(|g(x_c)|, |g(x_c+1)|), g the health's gradient along ``a``.

    Why they bound (the pools are affine and screenable: linear contracts and collateral only,
    tier rates non-decreasing): the health is separable, ``h(x) = h(0) + Σ_a (h(x_a·e_a) − h(0))``,
    and along each axis ``ek·P − Σ MM(P)`` with every MM convex in the price P, i.e. concave in P:
    its minimum over a cell is at one of the cell's ends, so ``h(0) + Σ_a TD[a, cell of x_a]``
    ≤ h(x). Between tier bounds the gradient in log price is the price times a constant, so |g|
    grows along a piece: at a point of a cell it is at most |g| at the cell's right end (same
    piece) or, past a tier bound inside the cell, e^tdx × |g| at its left end — tier bounds are
    ≥ 10 % apart in notional, so a cell of ≤ :data:`GRADIENT_SPACING` holds at most one."""
    prices = marks.copy()
    n_ax, n_c = ax_map.shape[0], TD.shape[2]
    g = np.zeros(n_ax)
    one = np.zeros(n_ax, dtype=np.bool_)
    hs = np.zeros(n_c + 1)
    gs = np.zeros(n_c + 1)
    for b in range(pools.shape[0]):
        p = pools[b]
        e, m = pool_state_nb(p, prices, 0.0, arrs)
        h0 = e - m
        for a in range(n_ax):
            if not dep[b, a]:
                continue
            one[:] = False
            one[a] = True
            for c in range(n_c + 1):
                hs[c], gs[c] = _along_axis(p, prices, marks, ax_map, a, txlo[b, a] + c * tdx[b, a], one, g, arrs)
            grow = np.exp(tdx[b, a])
            for c in range(n_c):
                TD[b, a, c] = min(hs[c], hs[c + 1]) - h0
                TG[b, a, c] = grow * max(gs[c], gs[c + 1])


@njit(cache=True, nogil=True, inline="always")
def _path_beyond(sl, mn, mx, h0, txlo, tdx, TD, TG, gb, cdt, scap):
    """A several-axis pool with bound tables ``sl`` (:func:`health_tables_nb`) is beyond the
    bridge range at every step of a path whose log offsets stay in [mn, mx] per axis when the
    health's lower bound over that box, ``L = h0 + Σ_a min TD[a, c]`` over the cells c the box
    spans on axis a, and the largest gradient bounds there, ``G_a = max TG[a, c]``, satisfy
    ``2·L² ≥ FAR·Σ (scap·G_a)·(scap·G_c)·|cdt_ac|``: on a path whose steps' volatility ratios
    are all ≤ ``scap`` (the caller checks), each step's own test in :func:`book_chunk_nb` (its
    ends' floors l0, l1 ≥ L, its G·S[k] ≤ these; the same floating-point sums in the same order,
    rounding being monotone) would then pass at every step, so the walk can be skipped with the
    same numbers. False when the box leaves the tables or the pool has none."""
    lb = h0
    tables = False
    for a in range(mn.shape[0]):
        gb[a] = 0.0
        w = tdx[sl, a]
        if w == 0.0:
            continue
        tables = True
        c0 = int(np.floor((mn[a] - txlo[sl, a]) / w))
        c1 = int(np.floor((mx[a] - txlo[sl, a]) / w))
        if c0 < 0 or c1 >= TD.shape[2]:
            return False
        lo = np.inf
        for c in range(c0, c1 + 1):
            lo = min(lo, TD[sl, a, c])
            gb[a] = max(gb[a], TG[sl, a, c])
        gb[a] *= scap
        lb += lo
    return tables and lb > 0.0 and 2.0 * lb * lb >= FAR * _variance_bound(gb, cdt)


@njit(cache=True, nogil=True, inline="always")
def _health_floor(sl, X, k, h0, txlo, tdx, TD, TG, gb):
    """Lower bound of the health of the pool with tables ``sl`` (:func:`health_tables_nb`) at
    the log offsets ``X[k]`` (−inf outside the tables); raises ``gb[a]`` to the bound of |g_a|
    of the cells."""
    lb = h0
    for a in range(X.shape[1]):
        w = tdx[sl, a]
        if w == 0.0:
            continue
        c = int(np.floor((X[k, a] - txlo[sl, a]) / w))
        if c < 0 or c >= TD.shape[2]:
            return -np.inf
        lb += TD[sl, a, c]
        gb[a] = max(gb[a], TG[sl, a, c])
    return lb


@njit(cache=True, nogil=True)
def safe_boxes_nb(pools, ax_map, marks, scale, dfar, dep, plo, phi, cand, ok, slo, shi, cabs, arrs):
    """Boxes of log offsets per axis in which each pool flagged ``ok`` is certainly healthy and
    beyond the bridge range (≥ ``dfar`` from its t=0 boundaries): the largest ``r`` of ``cand``
    (descending) for which the box ``[max(−r·scale, plo + dfar), min(r·scale, phi − dfar)]`` on
    the pool's axes (``dep``; other axes unbounded) has a positive lower bound of equity − MM.
    The bound is exact for the pools the caller flags (separable across axes and concave along
    each: futures whose value and margin depend on their own axis, see
    :mod:`liqrisk.margin.kernel`): the minimum over a box is ``h(m) + Σ_a (min(h(lo_a), h(hi_a))
    − h(m))``. ``ok`` is cleared where no ``r`` works.

    With ``cabs`` (|step covariance| of the log prices) not all zero, the box must also be beyond
    the range of the health bridge (:func:`health_bridge_stay`, for pools moving with several
    axes): its health bound ``lb`` must satisfy ``2·lb² ≥ FAR·Σ_ab G_a·G_b·cabs_ab``, which bounds
    the step variance ``ḡᵀCḡ`` of every step inside the box, with ``G_a`` = ``e^Δ`` × the largest
    |gradient| along axis ``a`` at points spanning the box ``Δ`` ≤ :data:`GRADIENT_SPACING` apart.
    The bound is exact for the pools screened (separable health: the gradient along ``a``
    depends on ``x_a`` only; for linear and inverse contracts and coin collateral it is the price
    times a constant between tier bounds, so |g| ≤ e^Δ·|g| at the nearer sample point on the
    piece's left, provided no two tier bounds lie within Δ — tiers are ≥ 10% apart in notional)."""
    prices = marks.copy()
    n_ax = ax_map.shape[0]
    g = np.zeros(n_ax)
    top = np.zeros(n_ax)
    one = np.zeros(n_ax, dtype=np.bool_)
    health = False
    for a in range(n_ax):
        for c in range(n_ax):
            health |= cabs[a, c] > 0.0
    for b in range(pools.shape[0]):
        if not ok[b]:
            continue
        p = pools[b]
        e, m = pool_state_nb(p, prices, 0.0, arrs)
        h0 = e - m
        found = False
        for r in cand:
            lb = h0
            valid = h0 > 0.0
            for a in range(n_ax):
                if not valid:
                    break
                if not dep[b, a]:
                    slo[b, a], shi[b, a] = -np.inf, np.inf
                    continue
                lo = max(-r * scale[a], plo[b, a] + dfar[a])
                hi = min(r * scale[a], phi[b, a] - dfar[a])
                if not (lo < 0.0 < hi):
                    valid = False
                    break
                slo[b, a], shi[b, a] = lo, hi
                ma = ax_map[a]
                prices[ma] = marks[ma] * np.exp(lo)
                e, m = pool_state_nb(p, prices, 0.0, arrs)
                hl = e - m
                prices[ma] = marks[ma] * np.exp(hi)
                e, m = pool_state_nb(p, prices, 0.0, arrs)
                hh = e - m
                prices[ma] = marks[ma]
                lb += min(hl, hh) - h0
            if valid and lb > 0.0 and health:
                for a in range(n_ax):
                    top[a] = 0.0
                    if not dep[b, a]:
                        continue
                    one[:] = False
                    one[a] = True
                    width = shi[b, a] - slo[b, a]
                    n_pts = min(int(np.ceil(width / GRADIENT_SPACING)) + 1, 257)
                    grow = np.exp(width / (n_pts - 1))
                    for r_ in range(n_pts):
                        x = slo[b, a] + width * r_ / (n_pts - 1)
                        _, ga = _along_axis(p, prices, marks, ax_map, a, x, one, g, arrs)
                        top[a] = max(top[a], grow * ga)
                valid = 2.0 * lb * lb >= FAR * _variance_bound(top, cabs)
            if valid and lb > 0.0:
                found = True
                break
        ok[b] = found


@njit(cache=True, nogil=True)
def design_roots_nb(pools, ax_map, marks, M, bump, n_iter, far, Z, found, arrs):
    """Hasofer–Lind–Rackwitz–Fiessler roots of each pool's health ``h(σ∘LZ) = 0`` at t = 0 for
    :func:`liqrisk.risk.book_mc._design_points`, in the space of the independent normals Z of a
    one-year move (log offsets ``x = M·Z``, ``M`` = diag(σ)·L, other prices at their ``marks``):
    from Z = 0, ``Z ← ((∇H·Z − H)/|∇H|²)·∇H`` with ``∇H = Mᵀ∇ₓh`` by central differences of
    ``bump`` in log price, at most ``n_iter`` times; ``found[b]`` where the step moved by at most
    1e-9 of max(1, |Z|) (``Z[b]`` the root), not where the gradient vanished or |Z| > ``far``."""
    n_ax = ax_map.shape[0]
    prow = marks.copy()
    z = np.zeros(n_ax)
    x = np.zeros(n_ax)
    dh = np.zeros(n_ax)
    grad = np.zeros(n_ax)
    new = np.zeros(n_ax)
    for b in range(pools.shape[0]):
        p = pools[b]
        found[b] = False
        for a in range(n_ax):
            z[a] = 0.0
        for _ in range(n_iter):
            for a in range(n_ax):
                acc = 0.0
                for c in range(n_ax):
                    acc += M[a, c] * z[c]
                x[a] = acc
                prow[ax_map[a]] = marks[ax_map[a]] * np.exp(acc)
            e, m = pool_state_nb(p, prow, 0.0, arrs)
            h = e - m
            for a in range(n_ax):
                ma = ax_map[a]
                prow[ma] = marks[ma] * np.exp(x[a] + bump)
                e, m = pool_state_nb(p, prow, 0.0, arrs)
                hu = e - m
                prow[ma] = marks[ma] * np.exp(x[a] - bump)
                e, m = pool_state_nb(p, prow, 0.0, arrs)
                prow[ma] = marks[ma] * np.exp(x[a])
                dh[a] = (hu - (e - m)) / (2.0 * bump)
            nn, gz = 0.0, 0.0
            for c in range(n_ax):
                acc = 0.0
                for a in range(n_ax):
                    acc += M[a, c] * dh[a]
                grad[c] = acc
                nn += acc * acc
                gz += acc * z[c]
            if not (nn > 0.0 and np.isfinite(nn)):
                break
            f = (gz - h) / nn
            n_new, n_dif = 0.0, 0.0
            for c in range(n_ax):
                new[c] = f * grad[c]
                n_new += new[c] * new[c]
                n_dif += (new[c] - z[c]) ** 2
            n_new = np.sqrt(n_new)
            if n_new > far:
                break
            if np.sqrt(n_dif) <= 1e-9 * max(1.0, n_new):
                for c in range(n_ax):
                    Z[b, c] = new[c]
                found[b] = True
                break
            for c in range(n_ax):
                z[c] = new[c]
        for a in range(n_ax):
            prow[ax_map[a]] = marks[ax_map[a]]
