"""Benchmark the margin kernel on a large synthetic book; prints a markdown table.

    .venv/bin/python benchmarks/bench_margin.py [--accounts 100000] [--threads 2]

Book: 100,000 Binance USDⓈ-M accounts × 10 positions over BTC/ETH/SOL/DOGE with the bundled
2026-09 brackets (per underlying: the perp, then quarterly futures — one position per contract,
as one-way mode requires); 20% of positions isolated (own pool), the rest in the account's
cross pool.
Built directly as :class:`liqrisk.margin.kernel.PoolArrays` (no pydantic). Timed: equity + MM
of every pool, and every cross/isolated liquidation boundary (``nearest_boundaries_nb`` over
every (pool, axis) pair). Goal: < 2 s on 2 cores.

Peers in the same run: the pydantic path (parse → compile → margin_results) on 1,000 accounts,
and a per-pair scipy ``brentq`` loop (NumPy equity − MM, bracket by the same outward scan) on a
subsample, extrapolated to the whole book; the two must agree to 1e-8 relative.
Times are the best of several repeats after a warm-up call (numba compiled, caches hot).
"""
from __future__ import annotations

import argparse
import datetime
import math
import time

import numba
import numpy as np
from scipy.optimize import brentq

from liqrisk.margin import kernel as K
from liqrisk.margin.base import LINEAR, MM_TIERS_AT_MARK, NOTIONAL_QUOTE
from liqrisk.margin.binance import usdm_brackets
from timing import best_time

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT"]
NAMES = ["BTC", "ETH", "SOL", "DOGE"]
MARKS = np.array([91_250.0, 3_050.0, 142.5, 0.182])
N_POS = 10
ISO_SHARE = 0.2


def synthetic_book(n_acc: int, seed: int = 0) -> tuple[K.PoolArrays, np.ndarray, np.ndarray]:
    """PoolArrays for ``n_acc`` accounts plus every (pool, axis) pair to solve."""
    rng = np.random.default_rng(seed)
    tables = usdm_brackets()
    t_floor, t_mmr, t_cum, seg = [], [], [], []
    for s in SYMBOLS:
        t = tables[s]
        seg.append((len(t_floor), len(t_floor) + len(t.floor)))
        t_floor += list(t.floor)
        t_mmr += list(t.mmr)
        t_cum += list(t.cum)
    seg = np.array(seg, dtype=np.int64)

    n = n_acc * N_POS
    axis = rng.integers(0, 4, n)
    notional = np.exp(rng.normal(math.log(30_000), 1.4, n))            # USDT, some in high tiers
    side = np.where(rng.random(n) < 0.55, 1.0, -1.0)
    mark = MARKS[axis]
    entry = mark * np.exp(rng.normal(0, 0.04, n))
    qty = side * notional / mark
    iso = rng.random(n) < ISO_SHARE
    owner = np.repeat(np.arange(n_acc), N_POS)

    # pools: one cross pool per account, then one per isolated position; positions sorted by pool
    n_iso = int(iso.sum())
    pool_of = np.where(iso, 0, owner)
    pool_of[iso] = n_acc + np.arange(n_iso)
    order = np.argsort(pool_of, kind="stable")
    axis, qty, entry, pool_of, iso, notional = (a[order] for a in (axis, qty, entry, pool_of, iso, notional))
    n_pools = n_acc + n_iso
    pos_start = np.searchsorted(pool_of, np.arange(n_pools), side="left")
    pos_end = np.searchsorted(pool_of, np.arange(n_pools), side="right")

    const = np.zeros(n_pools)
    cross_notional = np.bincount(pool_of[~iso], weights=notional[~iso], minlength=n_pools)[:n_acc]
    const[:n_acc] = cross_notional / np.exp(rng.uniform(math.log(2.0), math.log(25.0), n_acc))
    const[n_acc:] = notional[iso] / np.exp(rng.uniform(math.log(3.0), math.log(60.0), n_iso))

    m = len(qty)
    arrays = K.PoolArrays(
        pos_start=pos_start, pos_end=pos_end,
        leg_start=np.zeros(n_pools, dtype=np.int64), leg_end=np.zeros(n_pools, dtype=np.int64),
        const_usd=const, settle_axis=np.full(n_pools, -1, dtype=np.int64),
        dense=np.zeros(n_pools, dtype=np.int64),
        axis=axis.astype(np.int64), contract=np.full(m, LINEAR, dtype=np.int64), qty=qty, entry=entry,
        basis=np.ones(m), mm_code=np.full(m, MM_TIERS_AT_MARK, dtype=np.int64),
        notional_mode=np.full(m, NOTIONAL_QUOTE, dtype=np.int64),
        tier_start=seg[axis, 0].copy(), tier_end=seg[axis, 1].copy(),
        p1=np.zeros(m), p2=np.zeros(m), strike=np.zeros(m), is_call=np.zeros(m, dtype=np.bool_),
        expiry=np.zeros(m), vol=np.zeros(m),
        t_floor=np.array(t_floor), t_mmr=np.array(t_mmr), t_cum=np.array(t_cum),
        leg_axis=np.zeros(0, dtype=np.int64), leg_amount=np.zeros(0), rate=0.0)

    # (pool, axis) pairs: every axis a cross pool trades, the one axis of an isolated pool
    has = np.zeros((n_pools, 4), dtype=bool)
    has[pool_of, axis] = True
    pools, axes = np.nonzero(has)
    return arrays, pools.astype(np.int64), axes.astype(np.int64)


# ---- the NumPy / scipy peer ---------------------------------------------------------------------

def _gap_numpy(a: K.PoolArrays, p: int, ax: int, x: float) -> float:
    """equity − MM of pool p with axis ax at price x (NumPy, linear USDⓈ-M positions only)."""
    sl = slice(a.pos_start[p], a.pos_end[p])
    prices = MARKS.copy()
    prices[ax] = x
    P = prices[a.axis[sl]]
    q = a.qty[sl]
    n = np.abs(q) * P
    mm = 0.0
    for ni, lo, hi in zip(n, a.tier_start[sl], a.tier_end[sl]):
        k = lo + max(np.searchsorted(a.t_floor[lo:hi], ni, side="right") - 1, 0)
        mm += ni * a.t_mmr[k] - a.t_cum[k]
    return a.const_usd[p] + float(np.sum(q * (P - a.entry[sl]))) - mm


def brentq_boundaries(a: K.PoolArrays, pools, axes, grid):
    """Nearest boundary below/above the mark per pair: outward scan on ``grid`` + brentq."""
    down, up = np.full(len(pools), np.nan), np.full(len(pools), np.nan)
    for k, (p, ax) in enumerate(zip(pools, axes)):
        mark = MARKS[ax]
        f = lambda x: _gap_numpy(a, p, ax, x)
        f0 = f(mark)
        for direction, out in ((-1.0, down), (1.0, up)):
            x_prev, f_prev = mark, f0
            for g in grid:
                x = mark * math.exp(direction * g)
                fx = f(x)
                if (fx > 0) != (f_prev > 0):
                    lo, hi = (x, x_prev) if x < x_prev else (x_prev, x)
                    out[k] = brentq(f, lo, hi, xtol=1e-14 * hi, rtol=1e-15, maxiter=200)
                    break
                x_prev, f_prev = x, fx
    return down, up


QUARTERLIES = [datetime.date(2026 + (11 + 3 * i) // 12, (11 + 3 * i) % 12 + 1, 25)
               for i in range(10)]        # 25 Dec 2026, 25 Mar 2027, … (all after as_of)


def pydantic_path(n_acc: int) -> float:
    """parse_portfolio → CompiledPortfolio → margin_results for n_acc accounts (seconds)."""
    from liqrisk.load import parse_portfolio
    from liqrisk.margin.account import CompiledPortfolio
    rng = np.random.default_rng(1)
    accounts = []
    for i in range(n_acc):
        positions, held = [], [0] * len(SYMBOLS)
        for _ in range(N_POS):
            j = int(rng.integers(0, 4))
            notional = float(np.exp(rng.normal(math.log(30_000), 1.4)))
            # one-way mode: one position per contract — the perp first, then quarterly futures
            k, held[j] = held[j], held[j] + 1
            contract = ({"symbol": SYMBOLS[j], "kind": "perp"} if k == 0 else
                        {"symbol": f"{SYMBOLS[j]}_{QUARTERLIES[k - 1]:%y%m%d}", "kind": "future",
                         "expiry": f"{QUARTERLIES[k - 1]:%Y-%m-%d}T08:00:00Z"})
            pos = {**contract, "size": float(rng.choice([-1, 1]) * notional / MARKS[j]),
                   "entry": float(MARKS[j] * np.exp(rng.normal(0, 0.04)))}
            if rng.random() < ISO_SHARE:
                pos["margin"] = notional / 10
            positions.append(pos)
        accounts.append({"id": f"a{i}", "venue": "binance-usdm", "collateral": {"USDT": 50_000.0},
                         "positions": positions})
    raw = {"as_of": "2026-11-23T00:00:00Z", "market": {n: {"mark": float(m), "vol": 0.6} for n, m in zip(NAMES, MARKS)},
           "accounts": accounts}
    small = dict(raw, accounts=accounts[:2])
    CompiledPortfolio(parse_portfolio(small)).margin_results()          # warm-up (numba compile)
    t0 = time.perf_counter()
    CompiledPortfolio(parse_portfolio(raw)).margin_results()
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--peer", type=int, default=2_000, help="pairs in the brentq subsample")
    ap.add_argument("--pydantic", type=int, default=1_000)
    args = ap.parse_args()
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))

    t0 = time.perf_counter()
    a, pools, axes = synthetic_book(args.accounts)
    t_build = time.perf_counter() - t0
    n_pools, n_pos = len(a.pos_start), len(a.qty)
    coarse, fine = K.coarse_grid(), K.fine_grid()
    all_pools = np.arange(n_pools, dtype=np.int64)
    arrs = a.args()

    def margin():
        return K.pools_states_nb(all_pools, MARKS[None, :], 0.0, arrs)

    def boundaries():
        return K.nearest_boundaries_nb(pools, axes, MARKS, True, coarse, fine, arrs)

    def both():
        margin()
        boundaries()

    t_margin = best_time(margin)
    t_bound = best_time(boundaries)
    t_both = best_time(both)
    down, up, now = boundaries()

    # peer on a subsample
    rng = np.random.default_rng(3)
    sub = np.sort(rng.choice(len(pools), size=min(args.peer, len(pools)), replace=False))
    t0 = time.perf_counter()
    bd, bu = brentq_boundaries(a, pools[sub], axes[sub], coarse)
    t_peer = (time.perf_counter() - t0) * len(pools) / len(sub)
    rel = []
    for x, y in ((down[sub], bd), (up[sub], bu)):
        assert np.array_equal(np.isnan(x), np.isnan(y)), "engine and brentq disagree on which boundaries exist"
        ok = ~np.isnan(x)
        rel.append(np.abs(x[ok] / y[ok] - 1))
    max_rel = float(np.max(np.concatenate(rel))) if sum(len(r) for r in rel) else 0.0
    assert max_rel < 1e-8, max_rel

    t_pyd = pydantic_path(args.pydantic) if args.pydantic else math.nan

    threads = numba.get_num_threads()
    print(f"book: {args.accounts:,} accounts × {N_POS} positions = {n_pos:,} positions, "
          f"{n_pools:,} pools ({n_pools - args.accounts:,} isolated), {len(pools):,} (pool, axis) pairs; "
          f"built in {t_build:.2f} s; numba threads {threads}")
    print(f"boundaries found: {np.isfinite(down).sum():,} down, {np.isfinite(up).sum():,} up, "
          f"{int(now.sum()):,} pairs liquidatable now\n")
    print("| step | engine | time (s) | per pair (µs) |")
    print("|---|---|---:|---:|")
    print(f"| equity + MM, all {n_pools:,} pools | numba `pools_states_nb` | {t_margin:.3f} | |")
    print(f"| all boundaries, {len(pools):,} pairs | numba `nearest_boundaries_nb` | {t_bound:.3f} | "
          f"{1e6 * t_bound / len(pools):.2f} |")
    print(f"| **margin + all boundaries** (goal < 2 s) | numba | **{t_both:.3f}** | |")
    print(f"| all boundaries (extrapolated from {len(sub):,} pairs) | scipy brentq loop | {t_peer:.1f} | "
          f"{1e6 * t_peer / len(pools):.0f} |")
    print(f"| {args.pydantic:,} accounts parse + compile + margin_results | pydantic path | {t_pyd:.2f} | |")
    print(f"\nengine vs brentq on the subsample: max relative difference {max_rel:.2e} (tolerance 1e-8); "
          f"speed-up over brentq {t_peer / t_bound:.0f}×; goal {'met' if t_both < 2 else 'MISSED'}")


if __name__ == "__main__":
    main()
