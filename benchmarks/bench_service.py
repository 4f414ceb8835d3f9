"""Load test of `liqrisk serve` on loopback: N concurrent clients POST the demo portfolio to
/v1/analyze for a fixed time; errors, p50/p99 latency and throughput. Peer in the same run: the
engine alone (``liqrisk.analysis.analyze`` on the same document, in this process, one at a time),
which is what the service adds HTTP, validation and a database write to.

    .venv/bin/python benchmarks/bench_service.py --clients 50 --seconds 30

Bounded: stops after ``--seconds`` or ``--max-requests``; only 127.0.0.1 is contacted.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

from liqrisk.service.loopback import free_port, load, serve_process

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "multi_venue.yaml"


def engine_alone(doc: dict, seconds: float) -> tuple[int, float, float]:
    """(analyses done, wall seconds, CPU seconds of this process), after one warm-up analysis."""
    from liqrisk.analysis import ExitSettings, analyze
    analyze(doc, None, ExitSettings())                     # warm (numba cache, imports)
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        analyze(doc, None, ExitSettings())
        n += 1
    return n, time.perf_counter() - t0, time.process_time() - c0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads) so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--max-requests", type=int, default=200_000)
    ap.add_argument("--horizon", action="append", default=[], help="add probabilities (default: margin + exit only)")
    ap.add_argument("--paths", type=int, default=2000)
    args = ap.parse_args()
    from liqrisk.service.app import json_document
    doc = json_document(yaml.safe_load(DEMO.read_text()))
    params = {"horizon": args.horizon, "paths": args.paths} if args.horizon else {}
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        proc = serve_process(str(Path(tmp) / "bench.db"), port)
        try:
            url = f"http://127.0.0.1:{port}/v1/analyze"
            httpx.post(url, json=doc, params=params, timeout=120)          # warm the server
            cpu0 = cpu_seconds(proc.pid)
            lat, errors, wall = asyncio.run(load(url, doc, args.clients, args.seconds, args.max_requests, params))
            server_cpu = cpu_seconds(proc.pid) - cpu0
        finally:
            proc.terminate()
            proc.wait(30)
    n_peer, t_peer, peer_cpu = engine_alone(doc, min(args.seconds, 10.0))
    load1 = os.getloadavg()[0]
    lat_ms = sorted(x * 1000 for x in lat)
    p = lambda q: lat_ms[min(len(lat_ms) - 1, int(q * len(lat_ms)))] if lat_ms else float("nan")  # noqa: E731
    print(f"| service, {args.clients} clients, {args.seconds:g} s | {len(lat):,} | {len(errors)} | "
          f"{p(0.50):.0f} | {p(0.99):.0f} | {len(lat) / wall:.1f} |")
    print(f"| **peer**: engine alone, 1 thread, no HTTP/DB | {n_peer:,} | 0 | "
          f"{1000 * t_peer / n_peer:.0f} | — | {n_peer / t_peer:.1f} |")
    print(f"load average (1 min) at the end: {load1:.1f}; mean latency {statistics.fmean(lat_ms):.0f} ms")
    print(f"CPU per request: server {1000 * server_cpu / max(len(lat), 1):.0f} ms over {wall:.1f} s "
          f"({server_cpu / wall:.2f} cores busy); engine alone {1000 * peer_cpu / max(n_peer, 1):.0f} ms")
    if errors:
        print("first errors:", *errors[:5], sep="\n  ")
        sys.exit(1)


if __name__ == "__main__":
    main()
