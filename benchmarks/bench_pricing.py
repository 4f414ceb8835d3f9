"""Benchmark liqrisk.pricing against named peers in the same run; prints a markdown table.

    .venv/bin/python benchmarks/bench_pricing.py

Rows: price + five Greeks for 1,000,000 options (numba kernels on all threads and on one
thread, vs the NumPy/scipy.special.ndtr reference); implied vol for 100,000 options vs a
scipy brentq loop and QuantLib's blackFormulaImpliedStdDev on a 2,000-option subsample.
Times are the best of several repeats after a warm-up call (numba compiled, caches hot).
"""

import math
import time

import numba
import numpy as np
import QuantLib as ql

from liqrisk import pricing
from liqrisk.pricing import reference

N_GREEKS = 1_000_000
N_IV = 100_000
N_PEER = 2_000


def options(n, seed=0):
    """Crypto-like book: spot 60k, ln(K/S) ±1, T 1 hour–3 years, vol 5%–300%."""
    rng = np.random.default_rng(seed)
    return dict(S=np.full(n, 60_000.0), K=60_000.0 * np.exp(rng.uniform(-1.0, 1.0, n)),
                T=np.exp(rng.uniform(math.log(1 / 8760), math.log(3.0), n)), r=np.full(n, 0.03),
                vol=rng.uniform(0.05, 3.0, n), is_call=rng.integers(0, 2, n).astype(bool),
                q=np.full(n, 0.01))


def best_time(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def price_and_greeks(module, o):
    args = (o["S"], o["K"], o["T"], o["r"], o["vol"], o["is_call"])
    module.black_scholes(*args, q=o["q"])
    module.greeks(*args, q=o["q"])


def quantlib_implied_vol(price, forward, strike, T, r, is_call):
    """QuantLib's Black implied stdev / √T; NaN where QuantLib raises (no solution found)."""
    try:
        return ql.blackFormulaImpliedStdDev(ql.Option.Call if is_call else ql.Option.Put, strike,
                                            forward, price, math.exp(-r * T), 0.0,
                                            0.5 * math.sqrt(T), 1e-12, 100) / math.sqrt(T)
    except RuntimeError:
        return math.nan


def quantlib_implied_vols(price, o):
    forward = o["S"] * np.exp((o["r"] - o["q"]) * o["T"])
    return [quantlib_implied_vol(*row)
            for row in zip(price, forward, o["K"], o["T"], o["r"], o["is_call"])]


def main():
    rows = []
    threads = numba.get_num_threads()
    book = options(N_GREEKS)
    for label, n_threads in ((f"numba prange ({threads} threads)", threads), ("numba, 1 thread", 1)):
        numba.set_num_threads(n_threads)
        rows.append(("price + 5 Greeks", label, N_GREEKS,
                     best_time(lambda: price_and_greeks(pricing, book), 5)))
    numba.set_num_threads(threads)
    rows.append(("price + 5 Greeks", "NumPy + scipy.special.ndtr (reference)", N_GREEKS,
                 best_time(lambda: price_and_greeks(reference, book), 3)))

    book = options(N_IV, seed=1)
    args = (book["S"], book["K"], book["T"], book["r"], book["is_call"])
    price = pricing.black_scholes(*args[:4], book["vol"], book["is_call"], q=book["q"])
    iv = pricing.implied_vol(price, *args, q=book["q"])
    rows.append(("implied vol", f"numba prange ({threads} threads)", N_IV,
                 best_time(lambda: pricing.implied_vol(price, *args, q=book["q"]), 5)))
    sub = {k: v[:N_PEER] for k, v in book.items()}
    sub_args = (sub["S"], sub["K"], sub["T"], sub["r"], sub["is_call"])
    rows.append(("implied vol", "scipy brentq loop (reference)", N_PEER,
                 best_time(lambda: reference.implied_vol(price[:N_PEER], *sub_args, q=sub["q"]), 1)))
    rows.append(("implied vol", "QuantLib blackFormulaImpliedStdDev loop", N_PEER,
                 best_time(lambda: quantlib_implied_vols(price[:N_PEER], sub), 1)))

    print("| task | implementation | options | time [ms] | per option [µs] |")
    print("|---|---|---:|---:|---:|")
    for task, label, n, seconds in rows:
        print(f"| {task} | {label} | {n:,} | {seconds * 1e3:.1f} | {seconds / n * 1e6:.3f} |")
    forward = book["S"] * np.exp((book["r"] - book["q"]) * book["T"])
    intrinsic = np.exp(-book["r"] * book["T"]) * np.maximum(
        np.where(book["is_call"], forward - book["K"], book["K"] - forward), 0.0)
    resolved = price - intrinsic > 1e-8 * book["S"]
    print(f"\nimplied vol round trip, {resolved.sum():,} of {N_IV:,} options with time value "
          f"> 1e-8·S: max |iv - vol| = {np.abs(iv - book['vol'])[resolved].max():.1e}, "
          f"NaN = {np.isnan(iv[resolved]).sum()}; NaN elsewhere = {np.isnan(iv[~resolved]).sum()}")


if __name__ == "__main__":
    main()
