"""Benchmarks of the advise layer (not tests; results in BENCHMARKS.md).

    python benchmarks/bench_advise.py hedge      # 100,000 paths × 250 rebalances, vs NumPy
    python benchmarks/bench_advise.py advise     # advise on examples/multi_venue.yaml, vs one analyze
"""
from __future__ import annotations

import math
import sys

import numpy as np
from timing import cpu_timed_once


def bench_hedge(paths: int = 100_000, rebalances: int = 250, peer_paths: int = 10_000) -> None:
    from liqrisk.advise.hedging import HedgeSpec, hedge_backtest, hedge_paths_numpy
    spec = HedgeSpec(spot=90_000, strike=90_000, expiry_days=30, vol=0.55, position=-10, rebalances=rebalances,
                     fee=0.0005, liquidate=True)
    hedge_backtest(spec, 256, seed=0, curve=False)                 # compile / load the cache
    engine, cpu, result = cpu_timed_once(lambda: hedge_backtest(spec, paths, seed=1, curve=False))
    d = result.to_dict()
    x = np.random.default_rng(1).standard_normal((peer_paths, rebalances)) * 0.55 * math.sqrt(30 / 365 / rebalances)
    peer, peer_cpu, _ = cpu_timed_once(lambda: hedge_paths_numpy(x, spec, 1, 0.0005))
    scale = paths / peer_paths
    print(f"hedge back-test {paths:,} paths x {rebalances} rebalances (margin every step, Deribit rules): "
          f"numba {engine:.2f} s wall, {cpu:.2f} s CPU ({paths * rebalances / engine:.3g} path-steps/s); peer NumPy "
          f"loop over steps (no margin, scaled from {peer_paths:,}) {peer * scale:.2f} s wall, {peer_cpu * scale:.2f} s "
          f"CPU; pnl_std {d['pnl_std']:.1f} vs Derman-Kamal {d['derman_kamal_std']:.1f}")


def bench_advise(paths: int = 20_000) -> None:
    from pathlib import Path
    from liqrisk.advise.advice import advise
    from liqrisk.analysis import ProbabilitySettings, analyze
    demo = str(Path(__file__).resolve().parents[1] / "examples/multi_venue.yaml")
    advise(demo, "distance>=3sd", accounts=["bybit-uta"])          # compile / load the caches
    advise(demo, "p(7d)<=1%", paths=500, accounts=["bybit-uta"])
    for target in ("distance>=3sd", "p(7d)<=1%"):
        took, cpu, r = cpu_timed_once(lambda: advise(demo, target, paths=paths))
        missing = sum(not a.meets for a in r.accounts)
        print(f"advise {target}: {took:.2f} s wall, {cpu:.2f} s CPU, {r.evaluations} engine evaluations, "
              f"{missing} accounts advised")
    took, cpu, _ = cpu_timed_once(lambda: analyze(demo, ProbabilitySettings(["7d"], paths)))
    print(f"peer scale: one analyze of the demo with P(7d), {paths:,} paths: {took:.2f} s wall, {cpu:.2f} s CPU")


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)
    what = sys.argv[1:] or ["hedge", "advise"]
    if "hedge" in what:
        bench_hedge()
    if "advise" in what:
        bench_advise()
