"""An exchange-sized book through ``liqrisk analyze --engine local|process|dask``: margin,
boundaries, exit costs and P(1d) with VaR/ES of every account, the whole CLI path (read,
validate, compile, simulate, strict JSON to stdout).

    .venv/bin/python benchmarks/bench_engines.py [--accounts 1000000] [--paths 2000] [--range-paths N]
                                                 [--engines local,process,dask]

File (JSON, the batch format): N accounts cycling over Binance USDⓈ-M cross (BTC + ETH perps),
Binance isolated (one BTC perp), OKX cross (BTC + SOL swaps) and Bybit linear cross (ETH perp), sizes
and entries drawn from a seeded generator. Each engine runs the same file in a fresh process
with 2 workers where it has workers; reported: wall time, accounts per second, the largest
process's peak RSS and the SHA-256 of the JSON written — equal on every engine (each chunk
carries its own seeds). No peer: no other tool runs this; the local engine is the baseline.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MARKS = {"BTC": 91_250.0, "ETH": 3_050.0, "SOL": 142.5}


def write_book(n_acc: int, path: Path) -> int:
    """Write the book, streamed account by account; returns the number of positions."""
    rng = np.random.default_rng(7)
    n_pos = 0
    with path.open("w") as f:
        f.write('{"as_of": "2026-11-23T00:00:00Z", "market": {'
                + ", ".join(f'"{k}": {{"mark": {m}, "vol": {v}}}' for (k, m), v in zip(MARKS.items(), (0.5, 0.7, 0.85)))
                + '}, "accounts": [')
        for i in range(n_acc):
            kind = i % 4
            q = rng.uniform(0.3, 1.0, 2) * rng.choice([-1, 1], 2)
            e = rng.uniform(0.95, 1.05, 2)
            if kind == 0:
                acc = {"venue": "binance-usdm", "collateral": {"USDT": round(float(rng.uniform(2e3, 2e4)), 2)},
                       "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": round(float(q[0] * 0.5), 4),
                                      "entry": round(MARKS["BTC"] * e[0], 1)},
                                     {"symbol": "ETHUSDT", "kind": "perp", "size": round(float(q[1] * 10), 3),
                                      "entry": round(MARKS["ETH"] * e[1], 2)}]}
            elif kind == 1:
                size = round(float(q[0] * 0.2), 4)
                acc = {"venue": "binance-usdm", "mode": "isolated",
                       "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": size,
                                      "entry": round(MARKS["BTC"] * e[0], 1),
                                      "margin": round(abs(size) * MARKS["BTC"] * float(rng.uniform(0.04, 0.3)), 2)}]}
            elif kind == 2:
                acc = {"venue": "okx", "collateral": {"USDT": round(float(rng.uniform(2e3, 2e4)), 2)},
                       "positions": [{"symbol": "BTC-USDT-SWAP", "kind": "perp", "size": round(float(q[0] * 0.4), 4),
                                      "entry": round(MARKS["BTC"] * e[0], 1)},
                                     {"symbol": "SOL-USDT-SWAP", "kind": "perp", "size": round(float(q[1] * 100), 2),
                                      "entry": round(MARKS["SOL"] * e[1], 3)}]}
            else:
                acc = {"venue": "bybit-linear", "collateral": {"USDT": round(float(rng.uniform(1e3, 1e4)), 2)},
                       "positions": [{"symbol": "ETHUSDT", "kind": "perp", "size": round(float(q[0] * 8), 3),
                                      "entry": round(MARKS["ETH"] * e[0], 2)}]}
            n_pos += len(acc["positions"])
            f.write(("," if i else "") + json.dumps({"id": f"a{i}", **acc}))
        f.write("]}")
    return n_pos


def run(path: Path, engine: str, paths: int, range_paths: int | None, n_acc: int, n_pos: int) -> tuple[float, str]:
    """(wall seconds, SHA-256 of stdout) of one CLI run in a fresh process (a failed run stops the benchmark)."""
    cmd = [str(Path(sys.executable).with_name("liqrisk")), "analyze", str(path), "--json", "--horizon", "1d",
           "--paths", str(paths), "--engine", engine, "--max-accounts", str(n_acc), "--max-positions", str(n_pos),
           "--max-file-mb", str(max(20.0, path.stat().st_size / 1e6 + 1))] \
        + ([] if range_paths is None else ["--range-paths", str(range_paths)])
    digest = hashlib.sha256()
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as err, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err) as proc:
        for block in iter(lambda: proc.stdout.read(1 << 20), b""):
            digest.update(block)
        proc.wait()
        if proc.returncode:
            err.seek(0)
            sys.exit(f"{engine}: exit {proc.returncode}\n{err.read().decode()[-2000:]}")
    return time.perf_counter() - t0, digest.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=1_000_000)
    ap.add_argument("--paths", type=int, default=2_000)
    ap.add_argument("--range-paths", type=int, default=None, help="the CLI's --range-paths (default: the CLI's)")
    ap.add_argument("--engines", default="local,process,dask")
    a = ap.parse_args()
    path = Path(tempfile.mkdtemp()) / "book.json"
    n_pos = write_book(a.accounts, path)
    print(f"{a.accounts:,} accounts, {n_pos:,} positions, {path.stat().st_size / 1e6:.0f} MB JSON; "
          f"P(1d) at {a.paths:,} paths, model range {'default' if a.range_paths is None else a.range_paths} paths; load average {os.getloadavg()[0]:.1f} at the start")
    print("\n| engine | wall [s] | accounts/s | largest process RSS [MB] | JSON SHA-256 |\n|---|---:|---:|---:|---|")
    for engine in a.engines.split(","):
        seconds, sha = run(path, engine, a.paths, a.range_paths, a.accounts, n_pos)
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024      # the largest so far
        print(f"| {engine} | {seconds:.1f} | {a.accounts / seconds:,.0f} | {rss:,.0f} | `{sha[:16]}` |",
              flush=True)
    path.unlink()


if __name__ == "__main__":
    main()
