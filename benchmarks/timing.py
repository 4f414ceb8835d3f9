"""The one timing harness of the benchmark scripts (run as `python benchmarks/bench_*.py`)."""
import math
import time


def best_time(fn, repeats=3, warmup=True):
    """Least wall time [s] of ``repeats`` calls of ``fn()``, after one untimed call when
    ``warmup`` (JIT compilation, caches); the minimum is the least noisy estimate on a shared
    machine."""
    if warmup:
        fn()
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def timed_once(fn):
    """(wall time [s], result) of one call of ``fn()``."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def cpu_timed_once(fn):
    """(wall time [s], CPU time of the process over the call [s], result) of one call of
    ``fn()``: on a loaded machine the CPU seconds are the steadier measure."""
    cpu = time.process_time()
    wall, result = timed_once(fn)
    return wall, time.process_time() - cpu, result
