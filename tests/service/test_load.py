"""The load test in smoke size (benchmarks/bench_service.py is the full one, recorded in
BENCHMARKS.md): a real ``liqrisk serve`` on loopback, 16 concurrent clients POSTing the demo
portfolio to /v1/analyze, 32 requests in all — every one answers 200 with the same document,
and the database (SQLite file and PostgreSQL) holds every run. No timing is asserted."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import httpx

from liqrisk.service.loopback import free_port, load, serve_process
from liqrisk.service.store import Store

CLIENTS, REQUESTS = 16, 32


def test_concurrent_analyses_all_succeed_and_are_all_stored(database_url, demo_doc):
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1/analyze"
    proc = serve_process(database_url, port)
    try:
        first = httpx.post(url, json=demo_doc, timeout=120)
        assert first.status_code == 200
        # in a thread of its own: a session's Playwright (browser tests) keeps an event loop in this one
        with ThreadPoolExecutor(1) as pool:
            latencies, errors, _ = pool.submit(asyncio.run, load(url, demo_doc, CLIENTS, 600.0, REQUESTS)).result()
    finally:
        proc.terminate()
        proc.wait(30)
    assert errors == [] and len(latencies) == REQUESTS
    store = Store(database_url)
    try:
        runs = store.runs(kind="analyze", limit=10 * REQUESTS)
    finally:
        store.close()
    assert len(runs) == REQUESTS + 1 and len({r.id for r in runs}) == REQUESTS + 1
    assert all(r.status == "done" and r.inputs == demo_doc and r.result == first.json() for r in runs)
