"""Monte Carlo speed, each against a plain NumPy peer in the same run.

    .venv/bin/python benchmarks/bench_montecarlo.py [--quick]

1. single underlying, path generation + first-passage check (fused numba kernel, 2 threads,
   through ``liquidation_risk`` so the post-processing is included) vs NumPy (normals → cumsum
   → running min), in path-steps per second, and the ceiling set by drawing the same normals
   alone (inline SFC64 ziggurat, as in the kernel; the machine is shared: compare numbers from the same run);
2. P(liquidation, 1d) for 10,000 cross accounts of 5 linear perps on 10,000 shared paths
   (batched kernel) vs NumPy matrix revaluation on a subset;
3. closed-form first passage for 1,000,000 isolated positions.
"""
from __future__ import annotations

import sys
import time

import numpy as np
from numba import njit

from liqrisk.dynamics.paths import (chunk_generators, gbm, map_chunks, sfc64_normal,
                                    sfc64_state)
from liqrisk.risk.first_passage import exit_probability, hit_probability
from liqrisk.risk.montecarlo import (LinearPerpBook, book_liquidation_probability,
                                     liquidation_risk)


@njit(nogil=True, cache=True)
def _normals_only(state, n_paths, n_steps):
    """The fused kernel's draws alone: inline SFC64 ziggurat into a buffer of n_steps."""
    z = np.empty(n_steps)
    acc = 0.0
    for _ in range(n_paths):
        for k in range(n_steps):
            z[k] = sfc64_normal(state)
        acc += z[0]
    return acc


class Isolated:
    """Isolated long, 20x, 0.4% MMR, prices normalised by the entry."""

    underlyings, spot, exposure = ["BTC"], np.array([1.0]), np.array([1.0])
    lp = (1 - 1 / 20) / (1 - 0.004)
    boundaries = [(0, lp, None)]

    def health(self, prices, t):
        p = prices[:, 0]
        return 1 / 20 + (p - 1) - 0.004 * p


def timed(fn, repeat=3):
    fn()
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(quick: bool) -> None:
    n_paths, n_steps = (100_000 if quick else 400_000), 24 * 7
    acc, model = Isolated(), gbm(0.6)
    horizon = n_steps / (365 * 24)
    t = timed(lambda: liquidation_risk(acc, model, [horizon], n_paths=n_paths, seed=1,
                                       method="plain"))
    print(f"1. fused kernel, 2 threads: {n_paths * n_steps / t:.3g} path-steps/s "
          f"({n_paths} paths x {n_steps} steps in {t:.3f}s)")
    t = timed(lambda: map_chunks(
        lambda c: _normals_only(sfc64_state(c[2]), c[1] - c[0], n_steps),
        chunk_generators(1, n_paths)))
    print(f"   ceiling, the same normal draws alone (numba, 2 threads): "
          f"{n_paths * n_steps / t:.3g} path-steps/s")

    def numpy_peer():
        rng = np.random.default_rng(1)
        s = 0.6 * np.sqrt(1 / 8760)
        hit = 0
        for _ in range(0, n_paths, 10_000):
            x = np.cumsum(-0.5 * s * s + s * rng.standard_normal((10_000, n_steps)), axis=1)
            hit += np.count_nonzero(x.min(axis=1) <= np.log(acc.lp))
        return hit
    t_np = timed(numpy_peer, 1)
    print(f"   NumPy peer:              {n_paths * n_steps / t_np:.3g} path-steps/s")

    rng = np.random.default_rng(0)
    n_acc, n_und = (2_000 if quick else 10_000), 5
    spot = np.array([60_000.0, 3_000.0, 150.0, 0.2, 600.0])
    size = rng.uniform(-1, 1, (n_acc, n_und)) * 5_000 / spot
    entry = spot * rng.uniform(0.97, 1.03, (n_acc, n_und))
    book = LinearPerpBook.from_positions(rng.uniform(600, 3_000, n_acc), size, entry,
                                         np.full((n_acc, n_und), 0.005),
                                         np.zeros((n_acc, n_und)))
    corr = 0.5 + 0.5 * np.eye(n_und)
    model5 = gbm([0.6, 0.75, 0.9, 1.0, 0.7], corr=corr)
    t0 = time.perf_counter()
    p, se = book_liquidation_probability(book, model5, spot, 1 / 365, n_paths=10_000, seed=2)
    t = time.perf_counter() - t0
    print(f"2. {n_acc} cross accounts x {n_und} perps, 10,000 paths x 24 steps, P(1d): {t:.2f}s "
          f"(mean p {p.mean():.3f}, max stderr {se.max():.4f})")
    from liqrisk.dynamics.paths import simulate
    sub = 500

    def numpy_book():
        incr = simulate(model5, 10_000, 24, 1 / 8760, seed=2)[0]
        prices = spot * np.exp(np.cumsum(incr, axis=1))
        out = np.zeros(sub)
        for a in range(0, 10_000, 1000):
            h = book.const[:sub] + prices[a:a + 1000] @ book.slope[:, :sub]
            out += (h <= 0).any(1).sum(0)
        return out
    t_np = timed(numpy_book, 1)
    print(f"   NumPy peer: {sub} accounts in {t_np:.2f}s -> {t_np * n_acc / sub:.1f}s for {n_acc}")

    n = 1_000_000
    lp = 60_000 * (1 - rng.uniform(0.005, 0.5, n))
    vol = rng.uniform(0.2, 1.5, n)
    t = timed(lambda: hit_probability(60_000.0, lp, vol, 1 / 365))
    print(f"3. closed form, 1,000,000 isolated positions (single barrier): {t:.3f}s")
    up = 60_000 * (1 + rng.uniform(0.005, 0.5, n))
    t = timed(lambda: exit_probability(60_000.0, lp, up, vol, 7 / 365), 1)
    print(f"   1,000,000 double-barrier positions, 7d: {t:.3f}s")


if __name__ == "__main__":
    main("--quick" in sys.argv)
