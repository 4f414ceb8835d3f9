"""The real server on loopback, as a user runs it, for the restart and load tests and the load
benchmark: start ``liqrisk serve`` as a child process, and put bounded concurrent load on it
(127.0.0.1 only)."""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time

import httpx


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_process(database_url: str, port: int, timeout: float = 120.0) -> subprocess.Popen:
    """The running server process (this interpreter, this ``sys.path``); raises
    ``RuntimeError`` with the server's stderr if it exits or does not answer in ``timeout`` s."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.Popen([sys.executable, "-c", "from liqrisk.cli import main; main()", "serve", "--port",
                             str(port), "--database-url", database_url], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("server exited: " + proc.stderr.read().decode()[-2000:])
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server did not answer /healthz within {timeout:g} s")


async def load(url: str, doc: dict, clients: int, seconds: float, max_requests: int,
               params: dict | None = None) -> tuple[list[float], list[str], float]:
    """``clients`` concurrent keep-alive clients POST ``doc`` to ``url`` until ``seconds`` pass
    or ``max_requests`` are sent: (latencies of the 200 answers [s], errors, wall time [s])."""
    latencies, errors, sent = [], [], 0
    deadline = time.monotonic() + seconds

    async def client(c: httpx.AsyncClient):
        nonlocal sent
        while time.monotonic() < deadline and sent < max_requests:
            sent += 1
            t0 = time.perf_counter()
            try:
                r = await c.post(url, json=doc, params=params or {})
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
