"""Cascade benchmarks (a script; run ``python benchmarks/bench_cascade.py [--quick]``).

1. 1,000,000 synthetic accounts (Binance rules; 70% cross, 20% of those BTC+ETH), BTC −15%
   linear over 60 steps, square-root impact: the numba engine on the compiled book, end to end
   (compile excluded); building the book from the population's arrays timed apart.
2. Scaling 10k → 100k → 1M accounts.
3. Named peer in the same run: the unscreened check (``backend="numpy"``,
   :func:`liqrisk.cascade.kernels.liquidation_orders_np`: the margin kernel's parallel
   ``pools_states_nb`` over every pool plus the NumPy response) — one full check of the 1M
   population, and the whole 60-step run at 100k accounts.
4. Sweep of N scenarios (BTC move × impact scale) over a small population on the local engine
   vs a 2-worker Dask ``LocalCluster`` (chunks of 50 scenarios).
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from liqrisk.batch import DaskExecutor, LocalExecutor
from liqrisk.cascade import scenario_from_dict, simulate
from liqrisk.cascade.engine import _State
from liqrisk.cascade.kernels import liquidation_orders_np
from liqrisk.cascade.sweep import sweep
from liqrisk.cascade.synthetic import SyntheticSpec, synthetic_population
from timing import best_time, timed_once


def scenario(steps=60, move=-0.15):
    return scenario_from_dict({
        "name": "bench", "assets": {"BTC": {"price": 91250, "vol": 0.55}, "ETH": {"price": 3050, "vol": 0.7}},
        "shock": {"kind": "linear", "steps": steps, "moves": {"BTC": move}},
        "impact": {"model": "sqrt", "stress": 2.0, "resilience": 0.1}, "insurance_fund_usd": 5e8})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=1_000_000)
    ap.add_argument("--sweep-scenarios", type=int, default=1000)
    ap.add_argument("--sweep-accounts", type=int, default=2000)
    ap.add_argument("--quick", action="store_true", help="100k accounts, 200-scenario sweep")
    a = ap.parse_args()
    if a.quick:
        a.accounts, a.sweep_scenarios = 100_000, 200
    out = {}
    sc = scenario()
    simulate(synthetic_population(SyntheticSpec(n_accounts=1000, seed=0)), sc)   # compile / load cache
    sizes = sorted({10_000, 100_000, a.accounts} & set(range(a.accounts + 1)))
    for n in sizes:
        build, pop = timed_once(lambda: synthetic_population(SyntheticSpec(n_accounts=n, seed=1)))
        sec, r = timed_once(lambda: simulate(pop, sc))
        out[f"numba_{n}"] = {"seconds": sec, "build_seconds": build, "positions": pop.n_positions,
                             "rounds": int(r.rounds.sum()),
                             "liquidations": int(r.liquidations.sum()),
                             "amplification_btc": r.amplification()["BTC"]}
        print(f"numba engine  {n:>9,} accounts  {sec:7.2f} s (population + book {build:.2f} s)  rounds {r.rounds.sum()}  "
              f"liquidations {r.liquidations.sum():,}  amplification {r.amplification()['BTC']:.3f}")
        if n == min(100_000, a.accounts):
            sec_np, _ = timed_once(lambda: simulate(pop, sc, backend="numpy"))
            out[f"numpy_{n}"] = {"seconds": sec_np}
            print(f"numpy peer    {n:>9,} accounts  {sec_np:7.2f} s  (same run, NumPy account check)")
        if n == a.accounts:
            st = _State(pop, sc)
            marks = sc.prices * 0.9
            st.orders(sc.prices, 0.0, "numba")
            t_nb = best_time(lambda: st.orders(marks, 0.0, "numba"), 5, warmup=False)
            t_np = best_time(lambda: liquidation_orders_np(st.book(marks), 0.0, st.a, pop.pool_response, st.rules,
                                                           st.cooldown, pop.liquidation_fee), 3, warmup=False)
            out["one_check"] = {"numba_screened_s": t_nb, "numpy_full_s": t_np}
            print(f"one account check at {n:,}: numba (screened) {1e3 * t_nb:.1f} ms, numpy {1e3 * t_np:.1f} ms")
    pop = synthetic_population(SyntheticSpec(n_accounts=a.sweep_accounts, seed=2))
    sc20 = scenario(steps=20)
    moves = np.linspace(-0.02, -0.25, a.sweep_scenarios // 10)
    scales = np.linspace(0.5, 5.0, 10)
    t_local, local = timed_once(lambda: sweep(pop, sc20, "BTC", moves, scales, LocalExecutor(), chunk_size=50))
    ex = DaskExecutor(n_workers=2)
    try:
        sweep(pop, sc20, "BTC", moves[:2], scales[:1], ex, chunk_size=1)        # warm the workers
        t_dask, dask = timed_once(lambda: sweep(pop, sc20, "BTC", moves, scales, ex, chunk_size=50))
    finally:
        ex.close()
    same = bool(np.array_equal(local.rows, dask.rows))
    out["sweep"] = {"scenarios": len(local.rows), "accounts": a.sweep_accounts, "steps": 20,
                    "local_s": t_local, "dask_2_workers_s": t_dask, "identical": same}
    print(f"sweep {len(local.rows)} scenarios × {a.sweep_accounts:,} accounts × 20 steps: local {t_local:.1f} s, "
          f"dask 2 workers {t_dask:.1f} s, identical results: {same}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
