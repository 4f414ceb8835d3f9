"""A fuzz campaign outside the test suite: run N mutated inputs per command and count the
outcomes (ok / rejected / traceback / hang / wrong) per command and per kind of mutation
(structural: shape, types, encodings; semantic: values and flags of the right type; valid),
logging one line per failure (every outcome with --log-all). Every --json input is also run for the
terminal and, where the command has --html, the HTML report (harness.run_rendered; --no-render: off).

    PYTHONPATH=src python tests/fuzz/campaign.py --analyze 2200 --cascade 1500 --exit-cost 700 --seed 1
    PYTHONPATH=src python tests/fuzz/campaign.py --analyze 0 --cascade 0 --exit-cost 0 --service 100 --seed 1
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

import hypothesis
from hypothesis import HealthCheck, given, settings

sys.path.insert(0, str(Path(__file__).parent))
import harness  # noqa: E402
import mutators as M  # noqa: E402
import test_fuzz_cli as T  # noqa: E402


LOG_ALL = False
CATEGORIES = ("ok", "rejected", "traceback", "hang", "wrong")
COMMANDS = {"analyze": T.analyze_args, "cascade": T.cascade_args, "exit-cost": T.exit_cost_args,
            "what-if": T.what_if_args, "advise": T.advise_args, "size": T.size_args,
            "hedge-backtest": T.hedge_backtest_args, "policy-backtest": T.policy_backtest_args,
            "import": T.import_args, "exit-cost-one": T.exit_cost_one_args, "size-one": T.size_one_args,
            "hedge-backtest-one": T.hedge_backtest_one_args, "analyze-edge": T.analyze_edge_args,
            "what-if-edge": T.what_if_edge_args, "advise-edge": T.advise_edge_args,
            "policy-backtest-edge": T.policy_backtest_edge_args, "cascade-edge": T.cascade_edge_args,
            "vol": T.vol_args, "backtest-calibration": T.calibration_args, "watch": T.watch_args,
            **{f"service-{r}": (lambda r=r: M.service_request(r)) for r in ("analyze", "what-if", "advise", "cascade")}}
"""Command → strategy of (kind, args); ``service-*``: (kind, request) of a REST route (harness.run_service)."""
KEEP = Path("fuzz_failures")


def _keep_inputs(args: list[str]) -> list[str]:
    """Copy the failing run's input files next to the log (they are overwritten by the next run)."""
    import shutil
    KEEP.mkdir(exist_ok=True)
    out = []
    for a in args:
        p = Path(a)
        if p.is_file() and str(p).startswith(str(T.TMP)):
            n = len(list(KEEP.iterdir()))
            dest = KEEP / f"{n:05d}_{p.name}"
            shutil.copy(p, dest)
            a = str(dest.resolve())
        out.append(a)
    return out


def _keep_request(req: dict) -> dict:
    """The failing request with its body copied to a file (the log is JSON lines)."""
    KEEP.mkdir(exist_ok=True)
    dest = KEEP / f"{len(list(KEEP.iterdir())):05d}_body.json"
    dest.write_bytes(req["body"] or b"")
    return {**req, "body": str(dest.resolve())}


def campaign(name: str, strategy, n: int, seed: int, time_limit: float, log) -> collections.Counter:
    counts: collections.Counter = collections.Counter()

    @hypothesis.seed(seed)
    @settings(max_examples=n, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck), phases=["generate"])
    @given(strategy)
    def one(case):
        kind, args = case
        service = name.startswith("service-")
        category, detail, seconds = (harness.run_service if service else harness.run)(args, time_limit)
        counts[(kind, category)] += 1
        if category not in ("ok", "rejected"):
            args = _keep_request(args) if service else _keep_inputs(args)
        elif service:
            args = {**args, "body": f"{len(args['body'] or b'')} bytes"}
        if category not in ("ok", "rejected") or LOG_ALL:
            log.write(json.dumps({"command": name, "kind": kind, "category": category, "detail": detail, "args": args,
                                  "seconds": round(seconds, 2)}) + "\n")
            log.flush()

    one()
    return counts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--analyze", type=int, default=2200)
    ap.add_argument("--cascade", type=int, default=1500)
    ap.add_argument("--exit-cost", type=int, default=700)
    for name in list(COMMANDS)[3:]:
        ap.add_argument("--" + name, type=int, default=0)
    ap.add_argument("--service", type=int, default=0, help="N requests to each of the four service routes")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--log", default="fuzz_failures.jsonl")
    ap.add_argument("--log-all", action="store_true", help="log every outcome, not only failures")
    ap.add_argument("--no-render", action="store_true", help="--json runs only (no terminal/HTML run)")
    a = ap.parse_args()
    harness.RENDER = not a.no_render
    global LOG_ALL
    LOG_ALL = a.log_all
    t0 = time.time()
    allc: collections.Counter = collections.Counter()
    with open(a.log, "w") as log:
        for name, strategy in COMMANDS.items():
            n = getattr(a, name.replace("-", "_")) or (a.service if name.startswith("service-") else 0)
            if n:
                counts = campaign(name, strategy(), n, a.seed, a.time_limit, log)
                for kind in ("structural", "semantic", "valid"):
                    row = {c: counts[(kind, c)] for c in CATEGORIES if counts[(kind, c)]}
                    if row:
                        print(f"{name} {kind}: {row}", flush=True)
                allc.update(c for (_, c), k in counts.items() for _ in range(k))
    print(f"inputs {sum(allc.values())}: tracebacks {allc['traceback']}, hangs {allc['hang']}, "
          f"wrong {allc['wrong']}, ok {allc['ok']}, rejected {allc['rejected']} ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
