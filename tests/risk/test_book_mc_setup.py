"""The vectorised setup and result building of liqrisk.risk.book_mc against the per-account
loops they replaced (kept here as reference functions, verbatim but for names): the same
arrays bit for bit (dtype, shape and bytes), the same labels and result objects, on random
books of cross and isolated accounts and on the example portfolios."""
import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from liqrisk.dynamics.paths import gbm
from liqrisk.load import load_portfolio, parse_portfolio
from liqrisk.margin import kernel as K
from liqrisk.margin.account import CompiledPortfolio
from liqrisk.risk import book_mc as M
from liqrisk.risk.estimates import TIME_QUANTILES, YEAR_HOURS, ProbabilityEstimate, TimeHistogram

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.yaml"))
COINS = {"BTC": (60_000.0, 0.6), "ETH": (3_000.0, 0.75), "SOL": (150.0, 0.9), "DOGE": (0.2, 1.0)}


# ---- the replaced loops (HEAD 8530382 of book_mc.py) -------------------------------------------

def group_loop(cp, accounts, axes):
    arrays, marks = cp.arrays, cp.market.prices
    pools, margined, labels, fee, acc_start = [], [], [], [], [0]
    for i in accounts:
        plan = cp.plans[i]
        labels += M._pool_labels(plan)
        for p in plan.pools:
            pools.append(p)
            margined.append(arrays.margined(p))
            fee.append(plan.rules.params.liquidation_fee)
        acc_start.append(len(pools))
    pools = np.array(pools, dtype=np.int64)
    margined = np.array(margined, dtype=np.bool_)
    n_bp, n_ax = len(pools), len(axes)
    plo, phi = np.full((n_bp, n_ax), -np.inf), np.full((n_bp, n_ax), np.inf)
    pairs = [(b, a) for b in range(n_bp) if margined[b] for a in range(n_ax)]
    breached = np.zeros(n_bp, dtype=np.bool_)
    if pairs:
        down, up, now = K.nearest_boundaries_nb(
            pools[[b for b, _ in pairs]], np.array([axes[a] for _, a in pairs], dtype=np.int64),
            marks, True, K.coarse_grid(), K.fine_grid(), arrays.args())
        for (b, a), d, u, n in zip(pairs, down, up, now):
            breached[b] |= n
            if np.isfinite(d) and d > 0:
                plo[b, a] = math.log(d / marks[axes[a]])
            if np.isfinite(u):
                phi[b, a] = math.log(u / marks[axes[a]])
    acc_start = np.array(acc_start, dtype=np.int64)
    n_acc = len(accounts)
    dep = np.zeros((n_bp, n_ax), dtype=np.bool_)
    b = 0
    for i in accounts:
        for p in cp.plans[i].pools:
            dep[b] = [ax in cp.plans[i].pool_axes[p] for ax in axes]
            b += 1
    multi = margined & (dep.sum(axis=1) >= 2)
    alo, ahi = np.full((n_acc, n_ax), -np.inf), np.full((n_acc, n_ax), np.inf)
    blo, bhi = alo.copy(), ahi.copy()
    for i in range(n_acc):
        sl = slice(acc_start[i], acc_start[i + 1])
        if acc_start[i + 1] > acc_start[i]:
            alo[i], ahi[i] = plo[sl].max(axis=0), phi[sl].min(axis=0)
        one = np.arange(acc_start[i], acc_start[i + 1])[~multi[sl]]
        if len(one):
            blo[i], bhi[i] = plo[one].max(axis=0), phi[one].min(axis=0)
    rows, eq, mm, h0, g0 = M._t0_states(cp, pools, axes, dep)      # unchanged by the vectorisation
    health = np.where(margined[None, :], eq - mm, np.inf)
    v0 = np.add.reduceat(eq[0], acc_start[:-1]) if n_bp else np.zeros(n_acc)
    exposure = np.zeros((n_acc, n_ax))
    for i in range(n_acc):
        h = health[:, acc_start[i]:acc_start[i + 1]].min(axis=1) if acc_start[i + 1] > acc_start[i] \
            else np.zeros(len(rows))
        h = np.where(np.isfinite(h), h, 0.0)
        for a, ax in enumerate(axes):
            exposure[i, a] = (h[1 + 2 * a] - h[2 + 2 * a]) / (rows[1 + 2 * a, ax] - rows[2 + 2 * a, ax])
    screenable, affine, ec, ek, expiry = M._pool_structure(arrays, pools, margined, axes, marks)
    return M._Group(pools, margined, labels, np.array(fee), plo, phi, acc_start, alo, ahi, blo, bhi,
                    breached, v0, exposure, dep, screenable, affine, ec, ek, expiry, multi, h0, g0)


def control_barriers_loop(g, spot, sigma):
    n_acc = len(g.acc_start) - 1
    cv_ax = np.full(n_acc, -1, np.int64)
    cv_lo, cv_hi = np.full(n_acc, -np.inf), np.full(n_acc, np.inf)
    cb = np.full(n_acc, np.nan)
    for i in range(n_acc):
        a = int(np.argmax(np.abs(g.exposure[i] * spot * sigma)))
        cands = [b for b in (g.alo[i, a], g.ahi[i, a]) if np.isfinite(b)]
        if cands:
            cv_ax[i], cb[i] = a, min(cands, key=abs)
            if cb[i] < 0:
                cv_lo[i] = cb[i]
            else:
                cv_hi[i] = cb[i]
    return cv_ax, cb, cv_lo, cv_hi


def sub_group_loop(g, acc_sel):
    bsel = np.concatenate([np.arange(g.acc_start[i], g.acc_start[i + 1]) for i in acc_sel]) \
        if len(acc_sel) else np.zeros(0, np.int64)
    acc_start = np.concatenate([[0], np.cumsum([g.acc_start[i + 1] - g.acc_start[i] for i in acc_sel])]
                               ).astype(np.int64)
    return bsel, acc_start


def paying_loop(arrays, pools, f_row):
    return np.array([np.any(f_row[arrays.pos_start[p]:arrays.pos_end[p]] >= 0) for p in pools],
                    dtype=np.bool_).reshape(-1)


def clip_loop(e):
    return dataclasses.replace(e, ci95=(max(0.0, e.ci95[0]), min(1.0, e.ci95[1])))


def times_loop(hist, n_steps, dt):
    nb = hist.shape[1]
    start = -(-np.arange(nb + 1) * n_steps // nb)
    total = hist.sum(axis=1)
    cum = np.cumsum(hist, axis=1)
    mid = 0.5 * (start[:-1] + start[1:]) * dt
    ttl = {}
    for q in TIME_QUANTILES:
        k = np.minimum((cum < q * total[:, None]).sum(axis=1), nb - 1)
        ttl[q] = np.where(total > 0, mid[k], math.inf)
    show = np.unique(np.round(np.linspace(0, nb, min(48, nb) + 1)).astype(int))
    cnt = np.stack([hist[:, a:b].sum(axis=1) for a, b in zip(show[:-1], show[1:])], axis=1)
    frac = np.where(total[:, None] > 0, cnt / np.where(total > 0, total, 1.0)[:, None], 0.0)
    edges = [float(start[k]) * dt * YEAR_HOURS for k in show]
    return [(TimeHistogram(list(edges), cnt[i].tolist(), frac[i].tolist(), int(round(total[i]))),
             {q: float(ttl[q][i]) for q in TIME_QUANTILES}) for i in range(len(hist))]


# ---- books ----------------------------------------------------------------------------------

def random_book(seed, n_acc=60):
    """Cross and isolated Binance/Bybit/OKX accounts (one perp per coin) on up to 4 coins, coin collateral (the
    cross pool moves with it), some accounts close to or past liquidation."""
    rng = np.random.default_rng(seed)
    names = list(COINS)
    accounts = []
    for i in range(n_acc):
        venue = ["binance-usdm", "bybit-linear", "okx"][int(rng.integers(0, 3))]
        positions = []
        for c in rng.permutation(names)[: int(rng.integers(0, len(names) + 1))]:
            mark = COINS[c][0]
            pos = {"symbol": f"{c}-USDT-SWAP" if venue == "okx" else f"{c}USDT", "kind": "perp", "size": float(rng.uniform(-1, 1) * 20_000 / mark),
                   "entry": float(mark * rng.uniform(0.9, 1.1))}
            if rng.random() < 0.3:
                pos["margin"] = float(abs(pos["size"]) * mark * rng.uniform(0.02, 0.3))
            positions.append(pos)
        coll = {"USDT": float(rng.uniform(0, 8_000))}
        if rng.random() < 0.3:
            coll["BTC"] = float(rng.uniform(0, 0.1))
        accounts.append({"id": f"a{i}", "venue": venue, "collateral": coll, "positions": positions})
    doc = {"as_of": "2026-11-23T00:00:00Z",
           "market": {c: {"mark": m, "vol": v} for c, (m, v) in COINS.items()}, "accounts": accounts}
    return CompiledPortfolio(parse_portfolio(doc))


def all_axes(cp):
    return sorted(set().union(*(s for plan in cp.plans for s in plan.pool_axes.values())))


def books():
    for seed in range(4):
        yield f"random{seed}", random_book(seed)
    for path in EXAMPLES:
        yield path.name, CompiledPortfolio(load_portfolio(path))


BOOKS = list(books())


def same_array(x, y):
    x, y = np.asarray(x), np.asarray(y)
    return x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()


def group_differences(g, h):
    """The fields in which two groups differ (labels by ==, arrays by dtype, shape and bytes)."""
    return [f.name for f in dataclasses.fields(M._Group) if f.name != "memo" and not (
        getattr(g, f.name) == getattr(h, f.name) if f.name == "labels"
        else same_array(getattr(g, f.name), getattr(h, f.name)))]


@pytest.mark.parametrize("name,cp", BOOKS, ids=[n for n, _ in BOOKS])
def test_group_is_the_loops_bit_for_bit(name, cp):
    axes = all_axes(cp)
    rng = np.random.default_rng(1)
    accounts = list(range(len(cp.plans)))
    subsets = [accounts, accounts[::-1], list(rng.permutation(accounts)[: max(1, len(accounts) // 2)]), []]
    for sub in subsets:
        for ax in (axes, axes[:1], axes[::-1]):
            assert group_differences(M._group(cp, sub, ax), group_loop(cp, sub, ax)) == []


@pytest.mark.parametrize("name,cp", BOOKS, ids=[n for n, _ in BOOKS])
def test_control_barriers_sub_groups_and_paying_are_the_loops(name, cp):
    axes = all_axes(cp)
    g = M._group(cp, list(range(len(cp.plans))), axes)
    spot, sigma = cp.market.prices[np.array(axes)], np.linspace(0.5, 1.0, len(axes))
    for x, y in zip(M._control_barriers(g, spot, sigma), control_barriers_loop(g, spot, sigma)):
        assert same_array(x, y)
    rng = np.random.default_rng(2)
    n_acc = len(cp.plans)
    for sel in (np.arange(n_acc), rng.permutation(n_acc)[: n_acc // 2], np.zeros(0, np.int64),
                np.array([n_acc - 1, 0, n_acc - 1])):
        for x, y in zip(M._sub_group(g, sel), sub_group_loop(g, sel)):
            assert same_array(x, y)
    for p_pay in (0.0, 0.3, 1.0):
        f_row = np.where(rng.random(len(cp.arrays.qty)) < p_pay, 0, -1).astype(np.int64)
        assert same_array(M._paying(cp.arrays, g.pools, f_row), paying_loop(cp.arrays, g.pools, f_row))


def test_a_sub_group_can_fail_the_comparison():
    """The comparison can fail: a group of other accounts is not the loop's."""
    cp = BOOKS[0][1]
    axes = all_axes(cp)
    assert group_differences(M._group(cp, [0, 1, 2], axes), group_loop(cp, [0, 1, 3], axes)) != []


def test_clip_is_the_replace_it_skips():
    n = 1000
    cases = [(0.0, 1.0), (-0.0, 1.0), (0.0, 0.5), (0.1, 0.9), (-0.2, 0.3), (0.5, 1.2), (math.nan, 0.5),
             (0.2, math.nan), (np.float64(0.0), np.float64(1.0)), (np.float64(0.1), np.float64(0.2)),
             (np.float64(-0.1), np.float64(1.1)), (1e-300, 1.0 - 1e-16), (0.0, 0.0), (1.0, 1.0)]
    for lo, hi in cases:
        e = ProbabilityEstimate(0.3, 0.01, (lo, hi), n, "control")
        assert repr(M._clip(e)) == repr(clip_loop(e))
        assert all(type(a) is type(b) for a, b in zip(M._clip(e).ci95, clip_loop(e).ci95))
        assert [math.copysign(1, a) for a in M._clip(e).ci95 if a == a] == \
            [math.copysign(1, a) for a in clip_loop(e).ci95 if a == a]


@pytest.mark.parametrize("n_steps", [1, 7, 24, 240, 1000])
def test_times_to_liquidation_are_the_loops(n_steps):
    rng = np.random.default_rng(n_steps)
    nb = min(M.HIST_BINS, n_steps)
    hist = rng.random((50, nb)) * (rng.random((50, 1)) < 0.7) * rng.integers(0, 3, (50, nb))
    assert repr(M._times_to_liquidation(hist, n_steps, 1 / 8760)) == repr(times_loop(hist, n_steps, 1 / 8760))


@pytest.mark.parametrize("kept", [1, 2, 9, 11, 101, 1001])
def test_the_tails_mean_of_all_accounts_is_each_accounts(kept):
    """ES: the mean over axis 1 of (accounts, kept) is each row's own mean (pairwise sums
    alike), on the sorted, sliced array of _run."""
    rng = np.random.default_rng(kept)
    top = rng.standard_normal((300, 3, kept + 7)) * 10.0 ** rng.integers(-3, 6, (300, 3, 1))
    top = -np.sort(-top, axis=2)[:, :, :kept]
    for j in range(3):
        whole = top[:, j].mean(axis=1).tolist()
        assert whole == [float(top[i, j].mean()) for i in range(300)]


def risks_of(cp, method, seed=5):
    axes = all_axes(cp)
    model = gbm(np.array([cp.market.atm_vol(cp.market.names[a]) for a in axes]))
    return M.book_liquidation_risk(cp, list(range(len(cp.plans))), axes, model, [1 / 365, 7 / 365],
                                   n_paths=400, seed=seed, method=method)


@pytest.mark.parametrize("method", ["plain", "auto"])
def test_a_whole_run_is_deterministic_and_the_per_account_numbers_are_the_loops(method):
    """On a random book: two runs give the same objects; each account's VaR, ES, max loss and
    liquidatable-now flag are the loop's from the same group (the kept losses re-read per
    account is what the old loop did — here through a second, per-account run)."""
    cp = BOOKS[1][1]
    a, b = risks_of(cp, method), risks_of(cp, method)
    assert repr([dataclasses.asdict(r) for r in a]) == repr([dataclasses.asdict(r) for r in b])
    g = group_loop(cp, list(range(len(cp.plans))), all_axes(cp))
    # max loss = the holder's stake: a pool past its trigger counts at max(equity, 0) (docs/montecarlo.md)
    eq0 = M._t0_states(cp, g.pools, all_axes(cp), g.dep)[1][0]
    deficits = 0
    for i, r in enumerate(a):
        own = range(g.acc_start[i], g.acc_start[i + 1])
        assert r.liquidatable_now == bool(np.any(g.breached[own.start:own.stop]))
        stake = sum(max(float(eq0[b]), 0.0) if g.breached[b] else float(eq0[b]) for b in own)
        assert r.max_loss == pytest.approx(max(stake, 0.0), rel=1e-12, abs=1e-9)
        deficits += stake != pytest.approx(float(g.v0[i]), rel=1e-12, abs=1e-9)
    assert deficits > 0                      # the book has an underwater pool beside others
