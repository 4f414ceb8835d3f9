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
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "multi_venue.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, db: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", "from liqrisk.cli import main; main()", "serve", "--port",
                             str(port), "--database-url", db], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)})
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start: " + proc.stderr.read().decode()[-2000:])


async def load(url: str, doc: dict, clients: int, seconds: float, max_requests: int, params: dict):
    latencies, errors, sent = [], [], 0
    deadline = time.monotonic() + seconds

    async def client(c: httpx.AsyncClient):
        nonlocal sent
        while time.monotonic() < deadline and sent < max_requests:
            sent += 1
            t0 = time.perf_counter()
            try:
                r = await c.post(url, json=doc, params=params)
                if r.status_code != 200:
                    errors.append(f"HTTP {r.status_code}: {r.text[:200]}")
                else:
                    latencies.append(time.perf_counter() - t0)
            except httpx.HTTPError as e:
                errors.append(f"{type(e).__name__}: {e}")

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=120, limits=limits) as c:
        t0 = time.monotonic()
        await asyncio.gather(*(client(c) for _ in range(clients)))
        wall = time.monotonic() - t0
    return latencies, errors, wall


def engine_alone(doc: dict, seconds: float) -> tuple[int, float]:
    from liqrisk.analysis import ExitSettings, analyze
    analyze(doc, None, ExitSettings())                     # warm (numba cache, imports)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        analyze(doc, None, ExitSettings())
        n += 1
    return n, time.perf_counter() - t0


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
        proc = start_server(port, str(Path(tmp) / "bench.db"))
        try:
            url = f"http://127.0.0.1:{port}/v1/analyze"
            httpx.post(url, json=doc, params=params, timeout=120)          # warm the server
            lat, errors, wall = asyncio.run(load(url, doc, args.clients, args.seconds, args.max_requests, params))
        finally:
            proc.terminate()
            proc.wait(30)
    n_peer, t_peer = engine_alone(doc, min(args.seconds, 10.0))
    load1 = os.getloadavg()[0]
    lat_ms = sorted(x * 1000 for x in lat)
    p = lambda q: lat_ms[min(len(lat_ms) - 1, int(q * len(lat_ms)))] if lat_ms else float("nan")  # noqa: E731
    print(f"| service, {args.clients} clients, {args.seconds:g} s | {len(lat):,} | {len(errors)} | "
          f"{p(0.50):.0f} | {p(0.99):.0f} | {len(lat) / wall:.1f} |")
    print(f"| **peer**: engine alone, 1 thread, no HTTP/DB | {n_peer:,} | 0 | "
          f"{1000 * t_peer / n_peer:.0f} | — | {n_peer / t_peer:.1f} |")
    print(f"load average (1 min) at the end: {load1:.1f}; mean latency {statistics.fmean(lat_ms):.0f} ms")
    if errors:
        print("first errors:", *errors[:5], sep="\n  ")
        sys.exit(1)


if __name__ == "__main__":
    main()
