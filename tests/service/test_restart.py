"""A server killed with SIGKILL and started again on the same database still has every saved
portfolio and every finished run (SQLite file and PostgreSQL); a job it was running is marked
failed, not left 'running' forever."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from .conftest import free_port

SLOW = {"name": "slow", "assets": {"BTC": {"price": 91250, "vol": 0.55}, "ETH": {"price": 3050, "vol": 0.7}},
        "shock": {"kind": "linear", "steps": 5, "moves": {"BTC": -0.1}}, "impact": {"model": "sqrt"},
        "insurance_fund_usd": 1e7, "population": {"synthetic": {"n_accounts": 300, "seed": 1}},
        "sweep": {"asset": "BTC", "moves": [-0.001 * k for k in range(1, 300)], "chunk_size": 1}}


def _start(url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.Popen([sys.executable, "-c", "from liqrisk.cli import main; main()", "serve", "--port",
                             str(port), "--database-url", url], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 120:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode())
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("server did not start")


def test_kill_and_restart_keeps_portfolios_and_runs(database_url, demo_doc):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start(database_url, port)
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
    proc = _start(database_url, port)
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
