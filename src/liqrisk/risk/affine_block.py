"""Monte Carlo of affine several-underlying pools that are their account's only pool, many paths
at once.

A cross pool of linear contracts and collateral whose MM is linear in each price between tier
floors has the health h(P) = hc + Σ_a f_a(P_a), f_a piecewise linear (the affine pieces of
:mod:`liqrisk.risk.book_kernel`). When it is its account's only pool and the account needs no
control variate, nothing on a path depends on any other pool, so a chunk's paths can be drawn
once and each such pool taken over all of them: the paths it must walk are walked by the
path-by-path engine's own :func:`~liqrisk.risk.book_kernel.affine_walk_nb` (so the numbers are
that engine's), the others are skipped because every one of their step factors is exactly 1 —
the health stays above 0 with ``2·h_{k−1}·h_k ≥ FAR·s²`` for a bound ``s²`` of the step's
variance ``ḡᵀ·cdt·ḡ``, so ``health_bridge_stay`` returns 1.0 (see :func:`_step_variance_cap`).
Cheapest test first: the box of all the pass's prices, a block of :data:`BLOCK` paths' box,
each path's own box (vectorised over the block's paths), each path's health at every step
(vectorised over the steps). A pool's losses over the pass are offered at once
(:func:`liqrisk.risk.tails.offer_losses_nb`) instead of path by path.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from liqrisk.pricing.simd_math import expm1_nb
from liqrisk.risk.book_kernel import (affine_path_beyond_nb, affine_piece_nb, affine_walk_nb, gershgorin_nb,
                                      liquidated_equity_nb, path_rows_nb)
from liqrisk.risk.bridge import FAR
from liqrisk.risk.tails import ROOM, offer_losses_nb

BLOCK = 128
"""Paths screened together (the lanes of the per-path box test)."""
PATH_BYTES = 8 << 20
"""Most memory one pass of a chunk's stored paths may take: a chunk with more is walked in
several passes."""


@njit(cache=True, nogil=True, error_model="numpy", _nrt=False)
def _step_variance_cap(sl, jlo, lo, hi, smn, smx, al, cdt):
    """A bound of every step's health variance ``ḡᵀ·cdt·ḡ`` on paths whose prices stay in
    [lo, hi] per axis, on the pieces ``jlo`` (slopes α_a), with volatility ratios in [smn, smx]:
    ``ḡ_a = α_a·m_a`` with the mid-step ``m_a = ½(P_{k−1} + P_k)·S_k`` in [lo·smn, hi·smx], so each
    term ``α_a α_c cdt_ac m_a m_c`` is at most its coefficient times the upper ends' product if
    the coefficient is positive, the lower ends' if it is negative. Plus 1e-12 × the sum of the
    terms' magnitudes: the computed variance's rounding (its terms may cancel); times FAR·(1 +
    1e-9) — the threshold ``2·h_{k−1}·h_k`` must reach."""
    s2, mag = 0.0, 0.0
    for a in range(lo.shape[0]):
        for c in range(lo.shape[0]):
            w = al[sl, a, jlo[a]] * al[sl, c, jlo[c]] * cdt[a, c]
            top = hi[a] * smx[a] * hi[c] * smx[c]
            s2 += w * top if w > 0.0 else w * (lo[a] * smn[a] * lo[c] * smn[c])
            mag += abs(w) * top
    return FAR * (1.0 + 1e-9) * (max(s2, 0.0) + 1e-12 * mag)


@njit(cache=True, nogil=True, error_model="numpy", _nrt=False)
def _box_beyond(sl, lo, hi, smn, smx, calm, hc, bp, nbp, al, be, gb, cdt, scap, jlo, jhi):
    """Every path whose prices stay in [lo, hi] per axis (volatility ratios in [smn, smx]) has
    all its step factors 1: on one piece per axis (``jlo``/``jhi`` set, also for the caller) the
    least health over the box (at its corners) against :func:`_step_variance_cap`; across
    pieces :func:`~liqrisk.risk.book_kernel.affine_path_beyond_nb` (``calm``: ratios ≤ ``scap``)."""
    one = True
    for a in range(lo.shape[0]):
        jlo[a] = affine_piece_nb(sl, a, lo[a], 0, bp, nbp)
        jhi[a] = affine_piece_nb(sl, a, hi[a], jlo[a], bp, nbp)
        one &= jlo[a] == jhi[a]
    if not one:
        return calm and affine_path_beyond_nb(sl, lo, hi, hc, bp, nbp, al, be, gb, cdt, scap)
    lb = hc[sl]
    for a in range(lo.shape[0]):
        A, B = al[sl, a, jlo[a]], be[sl, a, jlo[a]]
        lb += min(A * lo[a] + B, A * hi[a] + B)
    return lb > 0.0 and 2.0 * lb * lb >= _step_variance_cap(sl, jlo, lo, hi, smn, smx, al, cdt)


@njit(cache=True, nogil=True, error_model="numpy", _nrt=False)
def _boxes_beyond(sl, nb, LOB, HIB, hc, al, be, jlo, settle, lb, beyond):
    """``beyond[r]``: path r of the block, its box [LOB, HIB] (prices per axis, on the pieces
    ``jlo``), has a least health ``L`` (each f_a linear there: at an end) with ``2·L² ≥ settle``
    (the block's :func:`_step_variance_cap`). Returns how many are not; ``lb``: a work array."""
    for r in range(nb):
        lb[r] = hc[sl]
    for a in range(LOB.shape[0]):
        A, B = al[sl, a, jlo[a]], be[sl, a, jlo[a]]
        E = LOB if A >= 0.0 else HIB
        for r in range(nb):
            lb[r] += A * E[a, r] + B
    for r in range(nb):
        beyond[r] = (lb[r] > 0.0) & (2.0 * lb[r] * lb[r] >= settle)
    n = 0
    for r in range(nb):
        n += beyond[r]
    return nb - n


@njit(cache=True, nogil=True, error_model="numpy", _nrt=False)
def _steps_beyond(sl, n_steps, PT, hc, al, be, jlo, settle, H):
    """A path (prices ``PT`` (n_ax, n_steps + 1), each axis on its piece ``jlo``) on which the
    health stays > 0 with ``2·h_{k−1}·h_k ≥ settle`` at every step: every factor
    :func:`~liqrisk.risk.book_kernel.affine_walk_nb` would compute is 1 (the same health in the
    same arithmetic, vectorised over the steps). ``H`` (n_steps + 1): a work array."""
    for k in range(n_steps + 1):
        H[k] = hc[sl]
    for a in range(PT.shape[0]):
        A, B = al[sl, a, jlo[a]], be[sl, a, jlo[a]]
        for k in range(n_steps + 1):
            H[k] += A * PT[a, k] + B
    bad = 0
    for k in range(1, n_steps + 1):
        bad += (H[k] <= 0.0) | (2.0 * H[k - 1] * H[k] < settle)
    return bad == 0


@njit(cache=True, nogil=True, error_model="numpy", _nrt=False)
def _walk_steps(sl, n_steps, hsteps, PT, S, garch, u, wh, H, jlo, al, cdt, bound, yrow, M, nrm, s2, Q):
    """:func:`~liqrisk.risk.book_kernel.affine_walk_nb` on a path of one piece per axis (``jlo``,
    prices ``PT`` (n_ax, n_steps + 1), volatility ratios ``S``) whose health at every step ``H``
    is known (:func:`_steps_beyond`): every step's factor of
    :func:`~liqrisk.risk.book_kernel.affine_step_factor_nb` in the same arithmetic, vectorised over
    the steps (selects and :func:`expm1_nb`), then the survival and the sampled liquidation step
    along the path. Writes ``yrow`` (n_h), the weighted liquidation probabilities at the
    horizons; returns the sampled liquidation step (−1: none). ``M`` (n_ax, n_steps + 1),
    ``nrm``, ``s2``, ``Q`` (n_steps + 1): work arrays."""
    n_ax, n_h = PT.shape[0], hsteps.shape[0]
    for k in range(1, n_steps + 1):
        nrm[k] = 0.0
    for a in range(n_ax):                    # the mid-step gradients and |gm|²
        A = al[sl, a, jlo[a]]
        for k in range(1, n_steps + 1):
            M[a, k] = 0.5 * (A * PT[a, k - 1] + A * PT[a, k])
        if garch:
            for k in range(1, n_steps + 1):
                M[a, k] *= S[k, a]
        for k in range(1, n_steps + 1):
            nrm[k] += M[a, k] * M[a, k]
    for k in range(1, n_steps + 1):
        s2[k] = 0.0
    for a in range(n_ax):                    # mid_variance_nb's order: the diagonal, then 2× each pair
        w = cdt[a, a]
        for k in range(1, n_steps + 1):
            s2[k] += M[a, k] * M[a, k] * w
        for c in range(a):
            w = 2.0 * cdt[a, c]
            for k in range(1, n_steps + 1):
                s2[k] += M[a, k] * M[c, k] * w
    for k in range(1, n_steps + 1):          # the Gershgorin bound, else health_bridge_stay; 0 at h ≤ 0
        x0, x1, v = H[k - 1], H[k], s2[k]
        e = 2.0 * x0 * x1 / (v if v > 0.0 else 1.0)
        stay = -expm1_nb(-min(e, FAR))
        stay = stay if e < FAR else 1.0
        hb = 1.0 if v <= 0.0 else stay
        hb = 0.0 if x0 <= 0.0 else hb
        qq = 1.0 if 2.0 * x0 * x1 >= bound * nrm[k] else hb
        Q[k] = 0.0 if x1 <= 0.0 else qq
    surv, ptau, j = 1.0, -1, 0
    for k in range(1, n_steps + 1):
        if surv > 0.0:
            surv *= Q[k]
            if ptau < 0 and surv <= u:
                ptau = k
        while j < n_h and hsteps[j] == k:
            yrow[j] = wh[j] * (1.0 - surv)
            j += 1
        if surv == 0.0 and ptau >= 0:
            while j < n_h:                   # liquidated: nothing changes any more
                yrow[j] = wh[j]
                j += 1
            break
    return ptau


@njit(cache=True, nogil=True)
def solo_affine_chunk_nb(first, last, key, n_steps, dt, hsteps, anti, par, chol, code, nu, resid, garch,
                         correlated, jumps, ax_map, spot, scap, marks, pools, fee, ec, ek, v0, cdt,
                         screen, want_loss, n_bins, solo_b, solo_i, mslot, hc, bp, nbp, al, be,
                         reuse, XS, LRS, MNS, MXS, US, SS, arrs,
                         ps1, ps2, as1, as2, hist, top, top_n, top_min):
    """Paths ``first … last − 1`` of a run for the pools ``solo_b`` (rows of the run), each the
    only pool of the account ``solo_i`` (same position): adds to the chunk's sums exactly as
    :func:`~liqrisk.risk.book_kernel.book_chunk_nb` does for them (pool and account sums of the
    bridge-corrected liquidation probability, the sampled liquidation step's histogram, the K
    largest losses with ``want_loss``); the same draws (:func:`~liqrisk.risk.book_kernel.path_rows_nb`)
    and ``reuse`` store. The paths are drawn once per pass (at most :data:`PATH_BYTES`), then
    each pool is taken over them (module docstring); ``screen`` False walks every path."""
    n_ax, n_h = spot.shape[0], hsteps.shape[0]
    K = top.shape[2] // ROOM
    s = np.empty(4, dtype=np.uint64)
    z = np.zeros((n_steps, n_ax))
    jmp = np.zeros((n_steps, n_ax))
    X = np.zeros((n_steps + 1, n_ax))
    lr = np.zeros(n_steps + 1)
    mn, mx = np.zeros(n_ax), np.zeros(n_ax)
    S = np.ones((n_steps + 1, n_ax))
    v, sv = np.zeros(n_ax), np.zeros(n_ax)
    per_path = (n_steps + 1) * n_ax * 8 * (3 if garch else 2)
    n_blk = max(1, min(-(-(last - first) // BLOCK), PATH_BYTES // (per_path * BLOCK)))
    n_lane = n_blk * BLOCK
    PX = np.empty((n_lane, n_steps + 1, n_ax))          # per path: the rows affine_walk_nb reads
    PT = np.empty((n_lane, n_ax, n_steps + 1))          # per path, by axis: _steps_beyond's
    SX = np.ones((n_lane if garch else 1, n_steps + 1, n_ax))
    PH = np.empty((n_h, n_ax, n_lane))                  # the horizons' prices, by path: the losses
    WX, UX = np.empty((n_lane, n_h)), np.empty(n_lane)
    LOC, HIC = np.empty((n_blk, n_ax, BLOCK)), np.empty((n_blk, n_ax, BLOCK))
    calm = np.ones(n_blk, dtype=np.bool_)
    blo, bhi = np.empty((n_blk, n_ax)), np.empty((n_blk, n_ax))
    smn, smx = np.ones((n_blk, n_ax)), np.ones((n_blk, n_ax))
    lb, beyond = np.empty(BLOCK), np.zeros(BLOCK, dtype=np.bool_)
    H = np.empty(n_steps + 1)
    YL = np.zeros((n_h, n_lane))
    TL = np.full(n_lane, -1, dtype=np.int64)
    walked = np.empty(n_lane, dtype=np.int64)
    LS, EW, cand = np.empty((n_h, n_lane)), np.empty((n_h, n_lane)), np.empty(n_lane)
    qtr = np.ones(n_steps + 1)
    ys, eqh = np.zeros((pools.shape[0], n_h)), np.zeros((pools.shape[0], n_h))
    jlo, jhi, jc = np.zeros(n_ax, dtype=np.int64), np.zeros(n_ax, dtype=np.int64), np.zeros(n_ax, dtype=np.int64)
    gp, gk, gm = np.zeros(n_ax), np.zeros(n_ax), np.zeros(n_ax)
    gb, clo, chi, cmn, cmx = np.zeros(n_ax), np.zeros(n_ax), np.zeros(n_ax), np.ones(n_ax), np.ones(n_ax)
    prow = marks.copy()
    bound = FAR * (1.0 + 1e-9) * gershgorin_nb(cdt)
    M = np.zeros((n_ax, n_steps + 1))
    nrm, s2, Q = np.zeros(n_steps + 1), np.zeros(n_steps + 1), np.zeros(n_steps + 1)
    u = 0.0
    for p0 in range(first, last, n_lane):
        n_pass = min(n_lane, last - p0)
        nbk = -(-n_pass // BLOCK)
        for g in range(n_pass):              # the pass's paths, drawn in order
            bk, r = g // BLOCK, g % BLOCK
            if r == 0:
                calm[bk] = True
                for a in range(n_ax):
                    smn[bk, a], smx[bk, a] = 1.0, 1.0
            u = path_rows_nb(p0 + g, p0 + g - first, reuse, key, anti, u, n_steps, par, chol, code, nu, resid,
                             garch, correlated, jumps, s, z, jmp, v, sv, X, lr, mn, mx, S, XS, LRS, MNS, MXS, US, SS)
            UX[g] = u
            for j in range(n_h):
                WX[g, j] = np.exp(lr[hsteps[j]])
            for a in range(n_ax):
                LOC[bk, a, r] = spot[a] * np.exp(mn[a])
                HIC[bk, a, r] = spot[a] * np.exp(mx[a])
                PX[g, 0, a] = spot[a]
                PT[g, a, 0] = spot[a]
            for k in range(1, n_steps + 1):
                for a in range(n_ax):
                    x = spot[a] * np.exp(X[k, a])
                    PX[g, k, a] = x
                    PT[g, a, k] = x
                    if garch:
                        SX[g, k, a] = S[k, a]
                        smn[bk, a] = min(smn[bk, a], S[k, a])
                        smx[bk, a] = max(smx[bk, a], S[k, a])
                        calm[bk] &= S[k, a] <= scap
            for j in range(n_h):
                for a in range(n_ax):
                    PH[j, a, g] = PX[g, hsteps[j], a]
        calm_all = True
        for a in range(n_ax):
            clo[a], chi[a], cmn[a], cmx[a] = np.inf, -np.inf, 1.0, 1.0
        for bk in range(nbk):
            nb = min(BLOCK, n_pass - bk * BLOCK)
            for a in range(n_ax):
                blo[bk, a], bhi[bk, a] = np.inf, -np.inf
                for r in range(nb):
                    blo[bk, a] = min(blo[bk, a], LOC[bk, a, r])
                    bhi[bk, a] = max(bhi[bk, a], HIC[bk, a, r])
                clo[a], chi[a] = min(clo[a], blo[bk, a]), max(chi[a], bhi[bk, a])
                cmn[a], cmx[a] = min(cmn[a], smn[bk, a]), max(cmx[a], smx[bk, a])
            calm_all &= calm[bk]
        for n in range(solo_b.shape[0]):
            b, i = solo_b[n], solo_i[n]
            sl, p = mslot[b], pools[b]
            n_w = 0
            quiet = screen and _box_beyond(sl, clo, chi, cmn, cmx, calm_all, hc, bp, nbp, al, be, gb, cdt, scap,
                                           jlo, jhi)
            for bk in range(0 if quiet else nbk):
                nb, off = min(BLOCK, n_pass - bk * BLOCK), bk * BLOCK
                if screen and _box_beyond(sl, blo[bk], bhi[bk], smn[bk], smx[bk], calm[bk], hc, bp, nbp, al, be,
                                          gb, cdt, scap, jlo, jhi):
                    continue
                one = screen
                for a in range(n_ax):
                    jlo[a] = affine_piece_nb(sl, a, blo[bk, a], 0, bp, nbp)
                    jhi[a] = affine_piece_nb(sl, a, bhi[bk, a], jlo[a], bp, nbp)
                    one &= jlo[a] == jhi[a]
                settle = 0.0
                if one:                      # the paths beyond the bridge's range by their box
                    settle = _step_variance_cap(sl, jlo, blo[bk], bhi[bk], smn[bk], smx[bk], al, cdt)
                    if _boxes_beyond(sl, nb, LOC[bk], HIC[bk], hc, al, be, jlo, settle, lb, beyond) == 0:
                        continue
                for r in range(nb):
                    g = off + r
                    sg = g if garch else 0
                    if one:
                        if beyond[r] or _steps_beyond(sl, n_steps, PT[g], hc, al, be, jlo, settle, H):
                            continue
                        TL[g] = _walk_steps(sl, n_steps, hsteps, PT[g], SX[sg], garch, UX[g], WX[g], H, jlo, al, cdt,
                                            bound, ys[b], M, nrm, s2, Q)
                    else:
                        TL[g], _ = affine_walk_nb(b, sl, n_steps, hsteps, PX[g], UX[g], WX[g], ec[b], ek[b], hc, bp,
                                                  nbp, al, be, cdt, SX[sg], qtr, ys, eqh, jc, gp, gk, gm)
                    if TL[g] >= 0:
                        liquidated_equity_nb(b, p, TL[g], dt, hsteps, PX[g], fee[b], prow, ax_map, eqh, arrs)
                        for a in range(n_ax):
                            prow[ax_map[a]] = marks[ax_map[a]]
                    for j in range(n_h):
                        YL[j, g] = ys[b, j]
                        EW[j, g] = eqh[b, j]
                    walked[n_w] = g
                    n_w += 1
            _add_walked(b, i, n_w, walked, anti, n_steps, n_bins, YL, TL, WX, ps1, ps2, as1, as2, hist)
            if want_loss:
                _pass_losses(b, i, n_pass, n_w, walked, TL, hsteps, PH, EW, ec, ek, v0, LS)
                for j in range(n_h):
                    offer_losses_nb(top, top_n, top_min, i, j, LS[j], n_pass, K, cand)
            for t in range(n_w):             # the work rows back to "not walked"
                g = walked[t]
                TL[g] = -1
                for j in range(n_h):
                    YL[j, g] = 0.0


@njit(cache=True, nogil=True, _nrt=False)
def _add_walked(b, i, n_w, walked, anti, n_steps, n_bins, YL, TL, WX, ps1, ps2, as1, as2, hist):
    """Add the walked paths ``walked[:n_w]`` (ascending; the others' terms are 0) to pool b's and
    account i's sums in path order — of antithetic pairs, each pair once — and their sampled
    liquidation steps ``TL`` to the histogram (weights ``WX``)."""
    n_h = YL.shape[0]
    for t in range(n_w):
        g = walked[t]
        if TL[g] >= 0:
            hist[i, (TL[g] - 1) * n_bins // n_steps] += WX[g, n_h - 1]
    for j in range(n_h):
        last = -1
        for t in range(n_w):
            g = walked[t]
            if anti:
                g -= g % 2
                if g == last:
                    continue
                last = g
                y = 0.5 * (YL[j, g + 1] + YL[j, g])
            else:
                y = YL[j, g]
            ps1[b, j] += y
            ps2[b, j] += y * y
            as1[i, j] += y
            as2[i, j] += y * y


@njit(cache=True, nogil=True, _nrt=False)
def _pass_losses(b, i, n_pass, n_w, walked, TL, hsteps, PH, EW, ec, ek, v0, LS):
    """``LS[j, path]``: account ``i``'s loss at horizon j on each path of the pass, ``v0`` less
    the pool's equity there — affine (``ec + Σ ek·P``, prices ``PH``), or on the walked paths
    ``walked[:n_w]`` liquidated at step ``TL`` what liquidation left (``EW``) from that step on."""
    n_h, n_ax = PH.shape[0], PH.shape[1]
    for j in range(n_h):
        for g in range(n_pass):
            LS[j, g] = ec[b]
        for a in range(n_ax):
            w = ek[b, a]
            for g in range(n_pass):
                LS[j, g] += w * PH[j, a, g]
    for t in range(n_w):
        g = walked[t]
        for j in range(n_h):
            if 0 <= TL[g] <= hsteps[j]:
                LS[j, g] = EW[j, g]
    for j in range(n_h):
        for g in range(n_pass):
            LS[j, g] = v0[i] - LS[j, g]
