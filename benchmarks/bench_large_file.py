"""A large portfolio *file* through the whole CLI path: ``liqrisk analyze FILE --json`` (read,
validate, compile, margin, exit cost of every account, strict JSON), no horizons.

    .venv/bin/python benchmarks/bench_large_file.py [--accounts 10000] [--positions 10]

File: N Binance USDⓈ-M cross accounts × 10 perps in hedge mode (BTC/ETH/SOL legs with
``position_side``), 10,000 USDT each, JSON (the batch format) and the same document as YAML.
Stages are timed in-process on the same file: decode, validation (pydantic + whole-file checks),
margin (compile + kernel), exit costs, JSON output. Peer in the same run: the decode alone
(``json.loads`` / libyaml ``CSafeLoader``), the floor of any reader.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from timing import timed_once


def document(n_acc: int, n_pos: int) -> dict:
    legs = [("BTCUSDT", 0.01, 90_000.0), ("ETHUSDT", 0.1, 3_000.0), ("SOLUSDT", 1.0, 140.0)]
    accounts = []
    for i in range(n_acc):
        positions = []
        for j in range(n_pos):
            symbol, unit, entry = legs[j % 3]
            side = "long" if (j // 3) % 2 == 0 else "short"
            positions.append({"symbol": symbol, "kind": "perp", "size": unit * (1 + j) * (1 if side == "long" else -1),
                              "entry": entry, "position_side": side})
        accounts.append({"id": f"a{i}", "venue": "binance-usdm", "collateral": {"USDT": 10_000}, "positions": positions})
    return {"as_of": "2026-11-23T00:00:00Z", "accounts": accounts,
            "market": {"BTC": {"mark": 91_250, "vol": 0.5}, "ETH": {"mark": 3_050, "vol": 0.7},
                       "SOL": {"mark": 142, "vol": 0.8}}}


def stages(path: Path) -> dict:
    from liqrisk.analysis import ExitSettings, analyze
    from liqrisk.cli.errors import strict_json
    from liqrisk.io.documents import load_document
    from liqrisk.load import parse_portfolio
    from liqrisk.margin.account import CompiledPortfolio
    t = {}
    t["decode (strict reader)"], raw = timed_once(lambda: load_document(path))
    t["validate + model"], pf = timed_once(lambda: parse_portfolio(raw))
    t["compile + margin"], _ = timed_once(lambda: CompiledPortfolio(pf).margin_results())
    t["analyze (margin + exit costs)"], result = timed_once(lambda: analyze(pf, None, ExitSettings()))
    t["strict JSON"], _ = timed_once(lambda: strict_json(result.to_dict()))
    return t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=10_000)
    ap.add_argument("--positions", type=int, default=10)
    a = ap.parse_args()
    doc = document(a.accounts, a.positions)
    folder = Path(tempfile.mkdtemp())
    files = {"json": folder / "big.json", "yaml": folder / "big.yaml"}
    files["json"].write_text(json.dumps(doc))
    files["yaml"].write_text(yaml.safe_dump(doc, sort_keys=False))
    print(f"{a.accounts:,} accounts × {a.positions} positions; JSON {files['json'].stat().st_size / 1e6:.1f} MB, "
          f"YAML {files['yaml'].stat().st_size / 1e6:.1f} MB")
    print("\n| format | stage | time [s] |\n|---|---|---:|")
    for fmt, path in files.items():
        seconds, _ = timed_once(lambda: json.loads(path.read_text()) if fmt == "json"
                                else yaml.load(path.read_text(), Loader=yaml.CSafeLoader))
        print(f"| {fmt} | **peer**: bare decode ({'json.loads' if fmt == 'json' else 'libyaml CSafeLoader'}) "
              f"| {seconds:.2f} |")
        for stage, seconds in stages(path).items():
            print(f"| {fmt} | {stage} | {seconds:.2f} |")
        seconds, res = timed_once(lambda: subprocess.run(
            [sys.executable, "-c", "from liqrisk.cli import main; main()", "analyze", str(path), "--json"],
            capture_output=True, text=True))
        print(f"| {fmt} | whole CLI run `liqrisk analyze FILE --json` (exit {res.returncode}) | {seconds:.2f} |",
              flush=True)


if __name__ == "__main__":
    main()
