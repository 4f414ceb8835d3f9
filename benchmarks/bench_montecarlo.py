"""Monte Carlo speed, each against a plain NumPy peer in the same run.

    .venv/bin/python benchmarks/bench_montecarlo.py [--quick | --cross (section 2 alone, 2 rounds)]

1. one isolated BTCUSDT perp (20x long), P(liquidation, 7d) on the compiled book
   (``book_liquidation_risk``, plain estimator, 2 threads: path generation, margin kernel per
   step, Brownian bridge and the estimators) vs NumPy (normals → cumsum → running min against
   the same LP, discrete monitoring only), in path-steps per second, and the ceiling set by
   drawing the same normals alone (inline SFC64 ziggurat; the machine is shared: compare
   numbers from the same run);
2. P(liquidation, 1d) for 10,000 cross accounts of 5 linear perps on 10,000 shared paths,
   every pool evaluated by the margin kernel on the compiled book (book_liquidation_risk), vs
   the lean NumPy revaluation of the same accounts on a subset;
3. closed-form first passage for 1,000,000 isolated positions.
4.–5. ``liqrisk analyze`` wall time on the demo and on a file of 1,000 accounts × 10 positions;
6. peak memory of 1-day, 100-year and 1,000,000-day horizons (the last refused with exit 2).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit

from liqrisk.dynamics.paths import (chunk_generators, gbm, map_chunks, sfc64_normal,
                                    sfc64_state)
from liqrisk.risk.first_passage import exit_probability, hit_probability
from liqrisk.risk.book_mc import book_liquidation_risk
from timing import best_time

NAMES = ["BTC", "ETH", "SOL", "DOGE", "BNB"]
MARKS = np.array([60_000.0, 3_000.0, 150.0, 0.2, 600.0])
VOLS = np.array([0.6, 0.75, 0.9, 1.0, 0.7])
CORR = 0.5 + 0.5 * np.eye(5)


@njit(nogil=True, cache=True)
def _normals_only(state, n_paths, n_steps):
    """The draws of one normal per path-step alone: inline SFC64 ziggurat into a buffer of n_steps."""
    z = np.empty(n_steps)
    acc = 0.0
    for _ in range(n_paths):
        for k in range(n_steps):
            z[k] = sfc64_normal(state)
        acc += z[0]
    return acc


def isolated_book():
    """One Binance USDⓈ-M account holding one isolated BTCUSDT long at 20x, compiled."""
    from liqrisk.load import parse_portfolio
    from liqrisk.margin.account import CompiledPortfolio
    doc = {"as_of": "2026-11-23T00:00:00Z", "market": {"BTC": {"mark": 60_000.0, "vol": 0.6}},
           "accounts": [{"id": "iso", "venue": "binance-usdm", "mode": "isolated",
                         "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 0.1,
                                        "entry": 60_000.0, "margin": 300.0}]}]}
    return CompiledPortfolio(parse_portfolio(doc))


def cross_book(n_acc: int, rng):
    """n_acc Binance USDⓈ-M cross accounts, one perp on each of 5 underlyings (bundled or
    representative tiers), compiled once."""
    from liqrisk.load import parse_portfolio
    from liqrisk.margin.account import CompiledPortfolio
    accounts = []
    for i in range(n_acc):
        size = rng.uniform(-1, 1, 5) * 5_000 / MARKS
        entry = MARKS * rng.uniform(0.97, 1.03, 5)
        accounts.append({"id": f"a{i}", "venue": "binance-usdm", "collateral": {"USDT": float(rng.uniform(600, 3_000))},
                         "positions": [{"symbol": f"{n}USDT", "kind": "perp", "size": float(q), "entry": float(e)}
                                       for n, q, e in zip(NAMES, size, entry)]})
    doc = {"as_of": "2026-11-23T00:00:00Z",
           "market": {n: {"mark": float(m), "vol": float(v)} for n, m, v in zip(NAMES, MARKS, VOLS)},
           "accounts": accounts}
    return CompiledPortfolio(parse_portfolio(doc))


def numpy_cross_peer(cp, n_acc, model):
    """The lean NumPy version: paths (10,000 x 24 x 5), then per account the health
    W + Σ q(P − E) − Σ (|q|P·mmr − cum) with the tier by searchsorted; liquidated if ≤ 0 at a step."""
    from liqrisk.dynamics.paths import simulate
    a = cp.arrays
    prices = MARKS * np.exp(np.cumsum(simulate(model, 10_000, 24, 1 / 8760, seed=2)[0], axis=1))
    hits = np.zeros(n_acc)
    for k in range(n_acc):
        p = cp.plans[k].cross_pool
        rows = np.arange(a.pos_start[p], a.pos_end[p])
        h = np.full(prices.shape[:2], a.const_usd[p])
        for i in rows:
            P = prices[:, :, a.axis[i]]
            tiers = slice(a.tier_start[i], a.tier_end[i])
            floor, mmr, cum = a.t_floor[tiers], a.t_mmr[tiers], a.t_cum[tiers]
            n = abs(a.qty[i]) * P
            t = np.maximum(np.searchsorted(floor, n, side="right") - 1, 0)
            h += a.qty[i] * (P - a.entry[i]) - (n * mmr[t] - cum[t])
        hits[k] = np.mean((h <= 0).any(axis=1))
    return hits


def cli_wall(args, repeat=3) -> float:
    """Best wall time of ``liqrisk analyze ARGS`` in a fresh process (output discarded)."""
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([str(Path(sys.executable).with_name("liqrisk")), "analyze", *args], check=True,
                       stdout=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - t0)
    return best


def cli_peak_rss(args) -> tuple[float, int, str]:
    """(peak RSS [MB], exit code, stderr) of ``liqrisk analyze ARGS`` in a fresh process."""
    proc = subprocess.Popen([str(Path(sys.executable).with_name("liqrisk")), "analyze", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss / 1024, proc.returncode, err


def write_book_file(n_acc: int) -> str:
    """A JSON portfolio of n_acc Binance USDⓈ-M accounts × 10 positions (perps and quarterly
    futures on BTC/ETH/SOL/DOGE, 20% isolated, log-normal notionals), as bench_margin builds."""
    import json
    import tempfile
    names, marks, symbols = ["BTC", "ETH", "SOL", "DOGE"], [91_250.0, 3_050.0, 142.5, 0.182], \
        ["BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT"]
    expiries = ["2027-03-26", "2027-06-25", "2027-09-24"]
    rng = np.random.default_rng(1)
    accounts = []
    for i in range(n_acc):
        positions, held = [], [0] * 4
        for _ in range(10):
            j = int(rng.integers(0, 4))
            notional = float(np.exp(rng.normal(np.log(30_000), 1.4)))
            k, held[j] = held[j], held[j] + 1
            if k > len(expiries):
                continue
            contract = ({"symbol": symbols[j], "kind": "perp"} if k == 0 else
                        {"symbol": f"{symbols[j]}_{expiries[k - 1].replace('-', '')[2:]}", "kind": "future",
                         "expiry": f"{expiries[k - 1]}T08:00:00Z"})
            pos = {**contract, "size": float(rng.choice([-1, 1]) * notional / marks[j]),
                   "entry": float(marks[j] * np.exp(rng.normal(0, 0.04)))}
            if rng.random() < 0.2:
                pos["margin"] = notional / 10
            positions.append(pos)
        accounts.append({"id": f"a{i}", "venue": "binance-usdm", "collateral": {"USDT": 50_000.0},
                         "positions": positions})
    doc = {"as_of": "2026-11-23T00:00:00Z",
           "market": {n: {"mark": m, "vol": 0.6} for n, m in zip(names, marks)}, "accounts": accounts}
    path = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump(doc, path)
    path.close()
    return path.name


def single_position(n_paths: int, n_steps: int) -> None:
    """Section 1 (module docstring)."""
    cp, model = isolated_book(), gbm(0.6)
    lp = cp.margin_results()[0].positions[0].liquidation_price
    horizon = n_steps / (365 * 24)
    t = best_time(lambda: book_liquidation_risk(cp, [0], [0], model, [horizon], n_paths=n_paths,
                                                seed=1, method="plain"))
    print(f"1. book engine, one isolated perp, 2 threads: {n_paths * n_steps / t:.3g} path-steps/s "
          f"({n_paths} paths x {n_steps} steps in {t:.3f}s)")
    t = best_time(lambda: map_chunks(
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
            hit += np.count_nonzero(x.min(axis=1) <= np.log(lp / 60_000.0))
        return hit
    t_np = best_time(numpy_peer, 1)
    print(f"   NumPy peer:              {n_paths * n_steps / t_np:.3g} path-steps/s")


def cross_accounts(n_acc: int, rounds: int = 1) -> None:
    """Section 2 (module docstring), wall and CPU time of each round."""
    rng = np.random.default_rng(0)
    cp = cross_book(n_acc, rng)
    model5 = gbm(VOLS, corr=CORR)
    axes = list(range(len(NAMES)))
    book_liquidation_risk(cp, list(range(20)), axes, model5, [1 / 365], n_paths=2000, seed=2,
                          method="plain")                                   # compile / warm up
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        risks = book_liquidation_risk(cp, list(range(n_acc)), axes, model5, [1 / 365], n_paths=10_000,
                                      seed=2, method="plain")
        t, c = time.perf_counter() - t0, time.process_time() - c0
        p = np.array([r.probabilities[1 / 365].p for r in risks])
        print(f"2. {n_acc} cross accounts x {len(NAMES)} perps, 10,000 paths x 24 steps, P(1d), on the "
              f"compiled book: {t:.2f}s wall, {c:.2f}s CPU (mean p {p.mean():.5f})")
    sub = 200
    t_np = best_time(lambda: numpy_cross_peer(cp, sub, model5), 1)
    print(f"   NumPy peer (tiered MM vectorised over paths x steps, discrete monitoring): "
          f"{sub} accounts in {t_np:.2f}s -> {t_np * n_acc / sub:.1f}s for {n_acc}")


def main(quick: bool) -> None:
    single_position(100_000 if quick else 400_000, 24 * 7)
    cross_accounts(2_000 if quick else 10_000)
    rng = np.random.default_rng(0)

    n = 1_000_000
    lp = 60_000 * (1 - rng.uniform(0.005, 0.5, n))
    vol = rng.uniform(0.2, 1.5, n)
    t = best_time(lambda: hit_probability(60_000.0, lp, vol, 1 / 365))
    print(f"3. closed form, 1,000,000 isolated positions (single barrier): {t:.3f}s")
    up = 60_000 * (1 + rng.uniform(0.005, 0.5, n))
    t = best_time(lambda: exit_probability(60_000.0, lp, up, vol, 7 / 365), 1)
    print(f"   1,000,000 double-barrier positions, 7d: {t:.3f}s")

    demo = ["examples/multi_venue.yaml", "--horizon", "1d", "--horizon", "7d", "--paths", "20000", "--json"]
    print(f"4. liqrisk analyze {' '.join(demo[:-1])}: {cli_wall(demo):.2f}s wall (process start, "
          f"imports and the exit costs included; best of 3)")
    big = write_book_file(1_000 if not quick else 200)
    print(f"5. a file of {1_000 if not quick else 200} accounts x 10 positions: without horizons "
          f"{cli_wall([big, '--json']):.2f}s, --horizon 1d at the default 20,000 paths "
          f"{cli_wall([big, '--json', '--horizon', '1d'], 1):.2f}s wall")

    print("6. memory (peak RSS of the whole process):")
    for args in ([demo[0], "--horizon", "1d", "--paths", "200", "--json"],
                 [demo[0], "--horizon", "100y", "--paths", "200", "--max-horizon-days", "40000", "--json"],
                 [demo[0], "--horizon", "1000000d", "--paths", "200", "--max-horizon-days", "1e7", "--json"]):
        mb, rc, msg = cli_peak_rss(args)
        print(f"   {' '.join(args[1:-1])}: {mb:.0f} MB, exit {rc}" + (f" ({msg.strip()[:160]})" if rc else ""))


if __name__ == "__main__":
    if "--cross" in sys.argv:
        cross_accounts(10_000, rounds=2)
    else:
        main("--quick" in sys.argv)
