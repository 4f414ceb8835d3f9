"""Bias of the health-bridge gate of ``book_chunk_nb`` (issue 10): P(horizon) of several-underlying
cross books with the gate as it is beside the gate off, on the same paths (same seed: common random
numbers, so the difference is the gate's bias alone), in units of the run's standard error.

The gate (``book_kernel.HEALTH_GATE``, ``REFRESH_STEPS``): an affine several-axis pool walked by
valuing its positions re-computes its health gradient at a step only where the bridge exponent from
its last gradient is below HEALTH_GATE·FAR (or every REFRESH_STEPS steps); otherwise the step's
factor is 1. Pools walked on their affine pieces (``book_mc.AFFINE_FAST``) and ``affine_block`` have
no gate (exact gradient every step, a Gershgorin bound instead). So two sets are run:

* ``walk``: BTC long + ETH short (and similar) perps on Binance / OKX / Hyperliquid cross accounts
  with ``book_mc.AFFINE_FAST = False`` — every affine several-axis pool through the gated walk;
* ``default``: cross books that reach the gate with the default settings — a dated future expiring
  inside the horizon (not walked on pieces).

The gate is turned off in a subprocess that sets ``REFRESH_STEPS = 0`` on the module before any
kernel compiles (numba freezes globals at compile time) with ``NUMBA_CACHE_DIR`` pointed to a fresh
temporary directory (the on-disk cache is keyed on the source, not on the patched constant), so
book_kernel.py is not edited and its default numbers do not change.

    PYTHONPATH=src .venv/bin/python benchmarks/health_gate_bias.py [--paths 20000] [--seed 7]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

AS_OF = "2026-11-23T00:00:00Z"
MARKET = {"BTC": {"mark": 91250.0, "vol": 0.52}, "ETH": {"mark": 3050.0, "vol": 0.68},
          "SOL": {"mark": 142.5, "vol": 0.85}}
VENUES = {"binance-usdm": ("BTCUSDT", "ETHUSDT", "SOLUSDT", "USDT"),
          "okx": ("BTC-USDT-SWAP", "ETH-USDT-SWAP", "SOL-USDT-SWAP", "USDT"),
          "hyperliquid": ("BTC", "ETH", "SOL", "USDC")}
# (name, sizes BTC/ETH/SOL, collaterals): the collaterals put P(1d) between ~1e-4 and ~0.3
SHAPES = [("btcL-ethS", (1.0, -30.0, 0.0), (6000, 8000, 10000, 12000)),
          ("btcL-ethL", (0.6, 15.0, 0.0), (6000, 8000, 10000, 12000)),
          ("btcL-ethS-solS", (1.0, -20.0, -200.0), (6500, 8000, 10000, 12000))]


def books(kind: str) -> dict:
    """The portfolio document of set ``kind`` (walk | default)."""
    accounts = []
    for venue, (b, e, s, coin) in VENUES.items():
        for name, sizes, colls in SHAPES:
            for c in colls:
                pos = [{"symbol": sym, "kind": "perp", "size": q, "entry": MARKET[u]["mark"]}
                       for sym, q, u in zip((b, e, s), sizes, ("BTC", "ETH", "SOL")) if q]
                if kind == "default":
                    if venue != "binance-usdm":
                        continue
                    # the BTC leg as a quarterly future expiring 8 h into the run
                    pos[0] = {"symbol": "BTCUSDT_261123", "kind": "future", "expiry": "2026-11-23T08:00:00Z",
                              "size": sizes[0], "entry": MARKET["BTC"]["mark"]}
                accounts.append({"id": f"{venue}:{name}:{c}", "venue": venue, "mode": "cross",
                                 "collateral": {coin: c}, "positions": pos})
    return {"as_of": AS_OF, "market": MARKET, "rate": 0.0, "accounts": accounts}


RUNS = [("gbm", ["1d", "3d"]), ("fhs", ["1d", "7d"])]


def worker(kind: str, gate: bool, paths: int, seed: int) -> None:
    """Print the JSON {account: {model/horizon: [p, stderr, method]}} of set ``kind``."""
    from liqrisk.risk import book_kernel
    if not gate:
        book_kernel.REFRESH_STEPS = 0        # every step re-computes the gradient: no gate
    from liqrisk.analysis import ProbabilitySettings, analyze
    from liqrisk.risk import book_mc
    book_mc.AFFINE_FAST = kind != "walk"
    out: dict = {}
    for model, hs in RUNS:
        res = analyze(books(kind), ProbabilitySettings(hs, paths, seed, model, 0.0, range_paths=0, risk=False))
        for acc in res.accounts:
            for h in hs:
                e = acc.probability[h]
                out.setdefault(acc.id, {})[f"{model} {h}"] = [e.p, e.stderr, e.method]
    print(json.dumps(out))


def run(kind: str, gate: bool, paths: int, seed: int, cache: str | None) -> dict:
    env = dict(os.environ)
    if cache:
        env["NUMBA_CACHE_DIR"] = cache
    cmd = [sys.executable, __file__, "--worker", kind, "--gate", "on" if gate else "off",
           "--paths", str(paths), "--seed", str(seed)]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def compare(kind: str, paths: int, seed: int, cache: str) -> list[tuple]:
    """Rows (account, run, p gated, p ungated, stderr, difference in stderr, identical)."""
    on, off = run(kind, True, paths, seed, None), run(kind, False, paths, seed, cache)
    rows = []
    for acc, runs in on.items():
        for key, (p, se, method) in runs.items():
            q = off[acc][key][0]
            rows.append((acc, key, method, p, q, se, (p - q) / se if se > 0 else 0.0, p == q))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--worker", choices=("walk", "default"))
    ap.add_argument("--gate", choices=("on", "off"), default="on")
    ap.add_argument("--sets", default="walk,default")
    a = ap.parse_args()
    if a.worker:
        return worker(a.worker, a.gate == "on", a.paths, a.seed)
    with tempfile.TemporaryDirectory(prefix="liqrisk-nogate-") as cache:
        for kind in a.sets.split(","):
            rows = compare(kind, a.paths, a.seed, cache)
            print(f"\n### set {kind}: {a.paths:,} paths, seed {a.seed}\n")
            print("| account | model, horizon | method | P gated | P gate off | stderr | Δ / stderr | identical |")
            print("|---|---|---|---:|---:|---:|---:|---|")
            for acc, key, method, p, q, se, z, same in rows:
                print(f"| {acc} | {key} | {method} | {p:.6e} | {q:.6e} | {se:.2e} | {z:+.2e} | {'yes' if same else 'no'} |")
            live = [r for r in rows if 1e-4 <= r[3] <= 0.3]
            print(f"\n{len(rows)} estimates ({len(live)} with 1e-4 ≤ P ≤ 0.3): {sum(r[7] for r in rows)} identical, "
                  f"max |Δ|/stderr {max(abs(r[6]) for r in rows):.2e}, max |Δ|/P "
                  f"{max((abs(r[3] - r[4]) / r[4] for r in rows if r[4] > 0), default=0.0):.2e}")


if __name__ == "__main__":
    main()
