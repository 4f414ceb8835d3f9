"""A server killed with SIGKILL and started again on the same database still has every saved
portfolio and every finished run (SQLite file and PostgreSQL); a job it was running is marked
failed, not left 'running' forever."""
from __future__ import annotations

import signal
import time

import httpx

from liqrisk.service.loopback import free_port, serve_process

SLOW = {"name": "slow", "assets": {"BTC": {"price": 91250, "vol": 0.55}, "ETH": {"price": 3050, "vol": 0.7}},
        "shock": {"kind": "linear", "steps": 5, "moves": {"BTC": -0.1}}, "impact": {"model": "sqrt"},
        "insurance_fund_usd": 1e7, "population": {"synthetic": {"n_accounts": 300, "seed": 1}},
        "sweep": {"asset": "BTC", "moves": [-0.001 * k for k in range(1, 300)], "chunk_size": 1}}


def test_kill_and_restart_keeps_portfolios_and_runs(database_url, demo_doc):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = serve_process(database_url, port)
    try:
        pid = httpx.post(base + "/v1/portfolios", json={"name": "demo", "document": demo_doc}).json()["id"]
        run = httpx.post(f"{base}/v1/portfolios/{pid}/runs", timeout=120)
        assert run.status_code == 200
        run_url = base + run.headers["location"]
        stored = httpx.get(run_url).json()
        job = httpx.post(base + "/v1/cascade", json=SLOW).json()["id"]
        t0 = time.monotonic()
        while httpx.get(f"{base}/v1/jobs/{job}").json()["status"] != "running" and time.monotonic() - t0 < 60:
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    proc = serve_process(database_url, port)
    try:
        assert httpx.get(f"{base}/v1/portfolios/{pid}").json()["document"] == demo_doc
        assert httpx.get(run_url).json() == stored
        assert [r["id"] for r in httpx.get(f"{base}/v1/portfolios/{pid}/runs").json()] == [stored["id"]]
        after = httpx.get(f"{base}/v1/jobs/{job}").json()
        assert after["status"] in ("failed", "done")
        if after["status"] == "failed":
            assert "interrupted" in after["error"]
    finally:
        proc.terminate()
        proc.wait(30)
