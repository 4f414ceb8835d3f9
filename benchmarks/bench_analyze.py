"""`liqrisk analyze FILE --json` (no horizons) on files of N accounts × 10 positions (Binance
perps and quarterly futures on BTC/ETH/SOL/DOGE, 20% isolated; bench_montecarlo's
``write_book_file``): the whole command (a subprocess, warm: wall and CPU seconds), then its
stages in one process — loading the file, margin + every boundary on each engine (``local``,
``process``, ``dask``: identical results checked), and the exit costs of every account in one
vectorised pass per underlying (``liquidity.exit.exit_costs``) against the named peer: the same
close-now and cost curves computed position by position, each on its own synthetic book at its
own price (what ``analyze`` did before the batch), timed on ``--peer`` accounts and scaled.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_analyze.py [--accounts 1000 10000]
        [--engines local process dask] [--peer 200] [--no-cli]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from bench_montecarlo import write_book_file
from bench_startup import run_command
from timing import timed_once

from liqrisk.analysis import DEFAULT_EXIT_VOL, ExitSettings, _add_exit, _exit_rows, analyze
from liqrisk.liquidity.exit import CURVE_HOURS, exit_cost_curve
from liqrisk.liquidity.impact import DAILY_VOLUME
from liqrisk.liquidity.synthetic import synthetic_book
from liqrisk.load import load_portfolio
from liqrisk.margin.account import CompiledPortfolio
from liqrisk.results import AccountResult, PortfolioAnalysis

ROOT = Path(__file__).resolve().parents[1]


def per_position_exit(cp: CompiledPortfolio, results, accounts) -> np.ndarray:
    """Peer: close-now cost per account, every position on its own book at its own price."""
    out = np.zeros(len(accounts))
    for k, i in enumerate(accounts):
        _, rows = _exit_rows(cp, i, results[i])
        for und, size, price in rows:
            if und not in DAILY_VOLUME or size == 0:
                continue
            vol = cp.market.atm_vol(und) or DEFAULT_EXIT_VOL
            curve = exit_cost_curve(size, price, vol, synthetic_book(price, vol, 1.0, und), DAILY_VOLUME[und],
                                    sorted(set(CURVE_HOURS) | {1.0}))
            out[k] += curve.expected_cost[0, 0]
    return out


def bench(n: int, engines: list[str], n_peer: int, cli: bool) -> None:
    path = write_book_file(n)
    print(f"\n### {n:,} accounts × 10 positions (load average {os.getloadavg()[0]:.1f})\n")
    print("| step | time [s] |\n|---|---:|")
    t_load, pf = timed_once(lambda: load_portfolio(path))
    print(f"| load + validate the file | {t_load:.2f} |")
    first = None
    for engine in engines:
        t, res = timed_once(lambda: analyze(pf, None, None, engine=engine))
        doc = res.to_dict()
        assert first is None or doc == first, f"engine {engine} disagrees"
        first = first or doc
        print(f"| margin + all boundaries, `--engine {engine}` | {t:.2f} |")
    cp = CompiledPortfolio(pf)
    results = [AccountResult.of(m) for m in cp.margin_results()]
    out = PortfolioAnalysis("", results)
    t_exit, _ = timed_once(lambda: _add_exit(cp, results, ExitSettings(), out))
    print(f"| exit costs of every account (`exit_costs`, vectorised) | {t_exit:.2f} |")
    idx = np.random.default_rng(0).choice(n, min(n_peer, n), replace=False)
    t_peer, peer = timed_once(lambda: per_position_exit(cp, results, idx))
    mine = np.array([results[i].exit.close_now_cost or 0.0 for i in idx])
    costed = np.array([results[i].exit.close_now_cost is not None for i in idx])
    assert np.allclose(mine[costed], peer[costed], rtol=1e-10), "vectorised exit disagrees with the peer"
    print(f"| **peer**: close-now + curve position by position, own book each (scaled from {len(idx):,}) | "
          f"{t_peer * n / len(idx):.2f} |")
    if cli:                  # numba's cache is warm from the steps above
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        cmd = [sys.executable, "-c", "import sys; from liqrisk.cli import main; sys.argv[0] = 'liqrisk'; main()",
               "analyze", path, "--json"]
        wall, cpu = run_command(cmd, env)
        print(f"| `liqrisk analyze FILE --json`, whole command | {wall:.2f} (CPU {cpu:.2f}) |")
    os.unlink(path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, nargs="+", default=[1000, 10_000])
    ap.add_argument("--engines", nargs="+", default=["local", "process", "dask"])
    ap.add_argument("--peer", type=int, default=200)
    ap.add_argument("--no-cli", action="store_true", help="skip the whole-command subprocess run")
    a = ap.parse_args()
    for n in a.accounts:
        bench(n, a.engines, a.peer, not a.no_cli)


if __name__ == "__main__":
    main()
