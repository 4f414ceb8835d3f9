"""Start-up cost of the command line: ``liqrisk --help`` and ``liqrisk analyze FILE --json`` (no
horizons, warm: numba's on-disk cache filled by a first run), wall and CPU seconds, against the
floors a CLI on this stack cannot go below, measured in the same run: the interpreter alone, a
one-command Typer app's ``--help``, and loading one cached numba function (what every margin
computation pays once per process). ``--before SRC`` adds rows for another source tree (e.g. an
export of an older commit) run the same way; ``--demo`` adds ``make demo``'s command (two
horizons, 10,000 paths, the HTML report), whose output is checked identical across the trees.

    .venv/bin/python benchmarks/bench_startup.py [--repeat 7] [--before /tmp/before/src] [--demo]
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = str(ROOT / "examples" / "multi_venue.yaml")
TYPER_FLOOR = "import typer\napp = typer.Typer()\n@app.command()\ndef run(x: int = 1):\n    'one command'\napp()\n"
DEMO = ["--horizon", "1d", "--horizon", "7d", "--paths", "10000", "--html"]
NUMBA_FLOOR = ("from numba import njit\n@njit(cache=True, nogil=True)\ndef f(x):\n    return x + 1.0\nf(1.0)\n")


def run_command(cmd: list[str], env: dict, stdout=subprocess.DEVNULL) -> tuple[float, float]:
    """(wall, CPU of the child) seconds of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=stdout, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _measure(label: str, cmd: list[str], src: str | None, repeat: int) -> bytes:
    """Print the table row of ``cmd`` run ``repeat`` times warm; return its output."""
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src
    with tempfile.TemporaryFile() as out:                    # warm: numba cache, OS file cache
        run_command(cmd, env, stdout=out)
        out.seek(0)
        text = out.read()
    runs = [run_command(cmd, env) for _ in range(repeat)]
    walls, cpus = [w for w, _ in runs], [c for _, c in runs]
    print(f"| {label} | {min(walls):.3f} | {statistics.median(walls):.3f} | {min(cpus):.3f} |", flush=True)
    return text


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--before", help="another source tree (its src/ folder) to time the same way")
    ap.add_argument("--demo", action="store_true", help="also time make demo's command")
    a = ap.parse_args()
    py = sys.executable
    cli = [py, "-c", "import sys; from liqrisk.cli import main; sys.argv[0] = 'liqrisk'; main()"]
    here = str(ROOT / "src")
    with tempfile.TemporaryDirectory() as tmp:
        typer_floor, numba_floor = Path(tmp, "typer_floor.py"), Path(tmp, "numba_floor.py")
        typer_floor.write_text(TYPER_FLOOR)
        numba_floor.write_text(NUMBA_FLOOR)
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
        print("| command | wall min [s] | wall median [s] | CPU min [s] |\n|---|---:|---:|---:|")
        _measure("floor: `python -c pass`", [py, "-c", "pass"], None, a.repeat)
        _measure("floor: one-command Typer app `--help`", [py, str(typer_floor), "--help"], None, a.repeat)
        _measure("floor: import numba + load one cached function", [py, str(numba_floor)], None, a.repeat)
        trees = [("this tree", here)] + ([("before", a.before)] if a.before else [])
        demo = cli + ["analyze", EXAMPLE, *DEMO, str(Path(tmp, "demo_report.html"))]
        outputs = {}
        for name, src in trees:
            _measure(f"{name}: `import liqrisk`", [py, "-c", "import liqrisk"], src, a.repeat)
            _measure(f"{name}: `liqrisk --help`", cli + ["--help"], src, a.repeat)
            outputs[name] = _measure(f"{name}: `liqrisk analyze multi_venue.yaml --json`",
                                     cli + ["analyze", EXAMPLE, "--json"], src, a.repeat)
            if a.demo:
                outputs[name] += _measure(f"{name}: `make demo` (analyze {' '.join(DEMO)} PATH)", demo, src,
                                          a.repeat)
        if len(outputs) > 1:
            print("\noutput identical across the trees:", len(set(outputs.values())) == 1)


if __name__ == "__main__":
    main()
