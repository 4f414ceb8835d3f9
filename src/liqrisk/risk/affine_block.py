"""Monte Carlo of affine several-underlying pools that are their account's only pool, many paths
at once.

A cross pool of linear contracts and collateral whose MM is linear in each price between tier
floors has the health h(P) = hc + Σ_a f_a(P_a), f_a piecewise linear (the affine pieces of
:mod:`liqrisk.risk.book_kernel`). When it is its account's only pool and the account needs no
control variate, nothing on a path depends on any other pool, so the pool can be walked over a
block of :data:`BLOCK` paths with the paths in the innermost loops: LLVM then evaluates 4–8
paths per vector instruction (no calls, no branches: selects, and :func:`expm1_nb` for the
bridge). The arithmetic per path is that of :func:`~liqrisk.risk.book_kernel.affine_walk_nb`
in the same order (health, mid-step gradient, Gershgorin bound, the exact quadratic form on
the steps the bound does not settle, the Brownian-bridge factor), so the numbers are the
same. A block is skipped whole when the box of all its paths' prices passes
:func:`~liqrisk.risk.book_kernel.affine_path_beyond_nb` (then so does every path's box).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from liqrisk.margin.kernel import AXIS, BASIS, POS_END, POS_START, QTY, pool_state_nb
from liqrisk.pricing.simd_math import expm1_nb
from liqrisk.risk.book_kernel import (affine_health_nb, affine_path_beyond_nb, affine_piece_nb, gershgorin_nb,
                                      insert_loss_nb, path_rows_nb)
from liqrisk.risk.bridge import FAR

BLOCK = 128
"""Paths walked together: the block's state (health, gradients, survival) stays in the L1 cache."""


@njit(cache=True, nogil=True, error_model="numpy", _nrt=False)
def _walk_block(sl, nb, n_steps, hsteps, PB, SB, WB, UB, hc, bp, nbp, al, be, jlo, jhi, cdt, lam,
                h0, g0, hp, h1, gp, gk, gm, nrm, s2, ta, tb, q, surv, ptau, yb):
    """Walk the pool in slot ``sl`` over the block's ``nb`` paths (prices ``PB`` (n_steps + 1,
    n_ax, BLOCK), volatility ratios ``SB``, horizon weights ``WB`` (n_h, BLOCK), uniforms
    ``UB``); each axis' price stays in pieces ``jlo[a] … jhi[a]``. Writes ``yb`` (n_h, BLOCK)
    the weighted bridge-corrected liquidation probabilities at the horizons and ``ptau`` the
    sampled liquidation step (−1: none). The other arrays are work arrays. Each loop over the
    paths writes one array (LLVM vectorises a loop only when it can check its arrays' overlap
    cheaply); a path already liquidated keeps survival 0 whatever its later factors."""
    n_ax, n_h = PB.shape[1], hsteps.shape[0]
    for r in range(nb):
        hp[r] = h0
    for r in range(nb):
        surv[r] = 1.0
    for r in range(nb):
        ptau[r] = -1
    for a in range(n_ax):
        for r in range(nb):
            gp[a, r] = g0[a]
    bound = FAR * (1.0 + 1e-9) * lam
    jh = 0
    for k in range(1, n_steps + 1):
        for r in range(nb):
            h1[r] = hc[sl]
        for a in range(n_ax):                # the health and its exact gradient on the pieces
            j0, j1 = jlo[a], jhi[a]
            A0, B0 = al[sl, a, j0], be[sl, a, j0]
            if j0 == j1:
                for r in range(nb):
                    gk[a, r] = A0 * PB[k, a, r]
                for r in range(nb):
                    h1[r] += gk[a, r] + B0
            else:
                for r in range(nb):
                    ta[r] = A0
                for r in range(nb):
                    tb[r] = B0
                for j in range(j0, j1):
                    edge, A1, B1 = bp[sl, a, j], al[sl, a, j + 1], be[sl, a, j + 1]
                    for r in range(nb):
                        ta[r] = A1 if PB[k, a, r] >= edge else ta[r]
                    for r in range(nb):
                        tb[r] = B1 if PB[k, a, r] >= edge else tb[r]
                for r in range(nb):
                    gk[a, r] = ta[r] * PB[k, a, r]
                for r in range(nb):
                    h1[r] += gk[a, r] + tb[r]
        for r in range(nb):
            nrm[r] = 0.0
        for a in range(n_ax):                # mid-step gradient and the Gershgorin bound's |ḡ|²
            for r in range(nb):
                gm[a, r] = 0.5 * (gp[a, r] + gk[a, r]) * SB[k, a, r]
            for r in range(nb):
                nrm[r] += gm[a, r] * gm[a, r]
        need = 0
        for r in range(nb):
            need += (surv[r] > 0.0) & (h1[r] > 0.0) & (2.0 * hp[r] * h1[r] < bound * nrm[r])
        if need > 0:                         # the exact quadratic form where the bound does not settle it
            for r in range(nb):
                s2[r] = 0.0
            for a in range(n_ax):            # mid_variance_nb's order: the diagonal, then 2× each pair
                w = cdt[a, a]
                for r in range(nb):
                    s2[r] += gm[a, r] * gm[a, r] * w
                for c in range(a):
                    w = 2.0 * cdt[a, c]
                    for r in range(nb):
                        s2[r] += gm[a, r] * gm[c, r] * w
            for r in range(nb):              # health_bridge_stay, or 1 beyond the bound, or 0 at h ≤ 0
                x0, x1, v = hp[r], h1[r], s2[r]
                e = 2.0 * x0 * x1 / (v if v > 0.0 else 1.0)
                stay = -expm1_nb(-min(e, FAR))
                stay = stay if e < FAR else 1.0
                hb = 1.0 if v <= 0.0 else stay
                hb = 0.0 if x0 <= 0.0 else hb
                qq = 1.0 if 2.0 * x0 * x1 >= bound * nrm[r] else hb
                q[r] = 0.0 if x1 <= 0.0 else qq
        else:                                # every live path beyond the bridge's range or at h ≤ 0
            for r in range(nb):
                q[r] = 0.0 if h1[r] <= 0.0 else 1.0
        for r in range(nb):
            surv[r] *= q[r]
        for r in range(nb):
            ptau[r] = k if (ptau[r] < 0) & (surv[r] <= UB[r]) else ptau[r]
        hp, h1 = h1, hp
        gp, gk = gk, gp
        while jh < n_h and hsteps[jh] == k:
            for r in range(nb):
                yb[jh, r] = WB[jh, r] * (1.0 - surv[r])
            jh += 1


@njit(cache=True, nogil=True, error_model="numpy", _nrt=False)
def _beyond_lanes(sl, nb, LOB, HIB, CB, hc, al, be, jlo, cdt, scap, lb, G, vb, skip):
    """``skip[r]``: path r's box [LOB, HIB] (prices, per axis) lies on one piece per axis (``jlo``)
    and is beyond the health bridge's range at every step — the test of
    :func:`~liqrisk.risk.book_kernel.affine_path_beyond_nb`, for all the block's paths at once
    (a path under GARCH only if its steps' volatility ratios stay ≤ ``scap``, ``CB[r]``).
    ``lb``, ``G`` (n_ax, BLOCK), ``vb``: work arrays."""
    n_ax = LOB.shape[0]
    for r in range(nb):
        lb[r] = hc[sl]
    for a in range(n_ax):
        A, B = al[sl, a, jlo[a]], be[sl, a, jlo[a]]
        for r in range(nb):
            lb[r] += min(A * LOB[a, r] + B, A * HIB[a, r] + B)
        for r in range(nb):
            G[a, r] = abs(A) * HIB[a, r] * scap
    for r in range(nb):
        vb[r] = 0.0
    for a in range(n_ax):
        for c in range(n_ax):
            w = abs(cdt[a, c])
            for r in range(nb):
                vb[r] += G[a, r] * G[c, r] * w
    for r in range(nb):
        skip[r] = CB[r] & (lb[r] > 0.0) & (2.0 * lb[r] * lb[r] >= FAR * (1.0 + 1e-9) * vb[r])


@njit(cache=True, nogil=True, error_model="numpy", _nrt=False)
def _gather(nw, idx, garch, PB, SB, WB, UB, PW, SW, WW, UW):
    """Copy the block's paths ``idx[:nw]`` (prices, volatility ratios, weights, uniforms) to the
    first ``nw`` lanes of ``PW``, ``SW``, ``WW``, ``UW``."""
    for k in range(PB.shape[0]):
        for a in range(PB.shape[1]):
            for t in range(nw):
                PW[k, a, t] = PB[k, a, idx[t]]
            if garch:
                for t in range(nw):
                    SW[k, a, t] = SB[k, a, idx[t]]
    for j in range(WB.shape[0]):
        for t in range(nw):
            WW[j, t] = WB[j, idx[t]]
    for t in range(nw):
        UW[t] = UB[idx[t]]


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
    largest losses with ``want_loss``); the same draws (:func:`~liqrisk.risk.book_kernel.path_rows_nb`) and ``reuse`` store."""
    pool_i, pos_i, pos_f = arrs[0], arrs[2], arrs[3]
    n_ax, n_h = spot.shape[0], hsteps.shape[0]
    K = top.shape[2]
    s = np.empty(4, dtype=np.uint64)
    z = np.zeros((n_steps, n_ax))
    jmp = np.zeros((n_steps, n_ax))
    X = np.zeros((n_steps + 1, n_ax))
    lr = np.zeros(n_steps + 1)
    mn, mx = np.zeros(n_ax), np.zeros(n_ax)
    S = np.ones((n_steps + 1, n_ax))
    v, sv = np.zeros(n_ax), np.zeros(n_ax)
    PB = np.empty((n_steps + 1, n_ax, BLOCK))
    SB = np.ones((n_steps + 1, n_ax, BLOCK))
    WB = np.empty((n_h, BLOCK))
    UB = np.empty(BLOCK)
    LOB, HIB = np.empty((n_ax, BLOCK)), np.empty((n_ax, BLOCK))
    hp, h1, nrm, s2 = np.empty(BLOCK), np.empty(BLOCK), np.empty(BLOCK), np.zeros(BLOCK)
    ta, tb, q, surv = np.empty(BLOCK), np.empty(BLOCK), np.empty(BLOCK), np.empty(BLOCK)
    gp, gk, gm = np.empty((n_ax, BLOCK)), np.empty((n_ax, BLOCK)), np.empty((n_ax, BLOCK))
    ptau = np.empty(BLOCK, dtype=np.int64)
    yb, yw = np.zeros((n_h, BLOCK)), np.zeros((n_h, BLOCK))
    PW, SW = np.empty((n_steps + 1, n_ax, BLOCK)), np.ones((n_steps + 1, n_ax, BLOCK))
    WW, UW = np.empty((n_h, BLOCK)), np.empty(BLOCK)
    CB, skip = np.ones(BLOCK, dtype=np.bool_), np.zeros(BLOCK, dtype=np.bool_)
    lb, vb = np.empty(BLOCK), np.empty(BLOCK)
    idx, ptw = np.zeros(BLOCK, dtype=np.int64), np.empty(BLOCK, dtype=np.int64)
    eqb = np.empty((n_h, BLOCK))
    jlo, jhi = np.zeros(n_ax, dtype=np.int64), np.zeros(n_ax, dtype=np.int64)
    jc = np.zeros(n_ax, dtype=np.int64)
    g0, gb, lo, hi = np.zeros(n_ax), np.zeros(n_ax), np.zeros(n_ax), np.zeros(n_ax)
    prow = marks.copy()
    lam = gershgorin_nb(cdt)
    u = 0.0
    for b0 in range(first, last, BLOCK):
        nb = min(BLOCK, last - b0)
        calm = True
        for r in range(nb):
            CB[r] = True
            u = path_rows_nb(b0 + r, b0 + r - first, reuse, key, anti, u, n_steps, par, chol, code, nu, resid,
                             garch, correlated, jumps, s, z, jmp, v, sv, X, lr, mn, mx, S, XS, LRS, MNS, MXS, US, SS)
            UB[r] = u
            for j in range(n_h):
                WB[j, r] = np.exp(lr[hsteps[j]])
            for a in range(n_ax):
                PB[0, a, r] = spot[a]
                LOB[a, r] = spot[a] * np.exp(mn[a])
                HIB[a, r] = spot[a] * np.exp(mx[a])
            for k in range(1, n_steps + 1):
                for a in range(n_ax):
                    PB[k, a, r] = spot[a] * np.exp(X[k, a])
                    if garch:
                        SB[k, a, r] = S[k, a]
                        CB[r] &= S[k, a] <= scap
            calm &= CB[r]
        for a in range(n_ax):
            lo[a], hi[a] = np.inf, -np.inf
            for r in range(nb):
                lo[a] = min(lo[a], LOB[a, r])
                hi[a] = max(hi[a], HIB[a, r])
        for n in range(solo_b.shape[0]):
            b, i = solo_b[n], solo_i[n]
            sl, p = mslot[b], pools[b]
            walk = not (screen and calm and affine_path_beyond_nb(sl, lo, hi, hc, bp, nbp, al, be, gb, cdt, scap))
            for r in range(nb):
                ptau[r] = -1
            for j in range(n_h):
                for r in range(nb):
                    yb[j, r] = 0.0
            if walk:
                one = True
                for a in range(n_ax):
                    jlo[a] = affine_piece_nb(sl, a, lo[a], 0, bp, nbp)
                    jhi[a] = affine_piece_nb(sl, a, hi[a], jlo[a], bp, nbp)
                    jc[a] = 0
                    one &= jlo[a] == jhi[a]
                nw = nb
                if screen and one:           # the paths beyond the bridge's range by their own box
                    _beyond_lanes(sl, nb, LOB, HIB, CB, hc, al, be, jlo, cdt, scap, lb, gm, vb, skip)
                    nw = 0
                    for r in range(nb):
                        if not skip[r]:
                            idx[nw] = r
                            nw += 1
                h0 = affine_health_nb(sl, spot, hc, bp, nbp, al, be, jc, g0)
                if nw == nb:                 # every path walked: in place
                    _walk_block(sl, nb, n_steps, hsteps, PB, SB, WB, UB, hc, bp, nbp, al, be, jlo, jhi, cdt,
                                lam, h0, g0, hp, h1, gp, gk, gm, nrm, s2, ta, tb, q, surv, ptau, yb)
                elif nw > 0:                 # the others gathered into the first nw lanes
                    _gather(nw, idx, garch, PB, SB, WB, UB, PW, SW, WW, UW)
                    _walk_block(sl, nw, n_steps, hsteps, PW, SW, WW, UW, hc, bp, nbp, al, be, jlo, jhi, cdt,
                                lam, h0, g0, hp, h1, gp, gk, gm, nrm, s2, ta, tb, q, surv, ptw, yw)
                    for t in range(nw):
                        ptau[idx[t]] = ptw[t]
                    for j in range(n_h):
                        for t in range(nw):
                            yb[j, idx[t]] = yw[j, t]
            if want_loss:                    # equity at the horizons: affine, or frozen at liquidation
                for j in range(n_h):
                    kh = hsteps[j]
                    for r in range(nb):
                        e = ec[b]
                        for a in range(n_ax):
                            e += ek[b, a] * PB[kh, a, r]
                        eqb[j, r] = e
                for r in range(nb):
                    kt = ptau[r]
                    if kt < 0:
                        continue
                    for a in range(n_ax):
                        prow[ax_map[a]] = PB[kt, a, r]
                    eq, mm = pool_state_nb(p, prow, kt * dt, arrs)
                    notional = 0.0
                    for ii in range(pool_i[POS_START, p], pool_i[POS_END, p]):
                        notional += abs(pos_f[QTY, ii]) * prow[pos_i[AXIS, ii]] * pos_f[BASIS, ii]
                    frozen = max(0.0, min(eq, mm) - fee[b] * notional)
                    for j in range(n_h):
                        if hsteps[j] >= kt:
                            eqb[j, r] = frozen
                for a in range(n_ax):
                    prow[ax_map[a]] = marks[ax_map[a]]
                for r in range(nb):
                    for j in range(n_h):
                        loss = v0[i] - eqb[j, r]
                        if top_n[i, j] < K or loss > top_min[i, j]:     # else not among the K largest
                            insert_loss_nb(top, top_n, top_min, i, j, loss, K)
            for r in range(nb):
                if ptau[r] >= 0:
                    hist[i, (ptau[r] - 1) * n_bins // n_steps] += WB[n_h - 1, r]
            for j in range(n_h):
                step = 2 if anti else 1
                for r in range(0, nb, step):
                    y = 0.5 * (yb[j, r + 1] + yb[j, r]) if anti else yb[j, r]
                    ps1[b, j] += y
                    ps2[b, j] += y * y
                    as1[i, j] += y
                    as2[i, j] += y * y
