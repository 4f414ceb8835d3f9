"""Run the CLI in-process on one input and classify the outcome.

The property every input must satisfy: exit 0 with one strict-JSON document whose numbers pass
the checks below, or exit 2 with ``error: …`` lines (a bounded number of them), within a time
limit; never a traceback. The checks are written here from the documented meaning of the fields,
independently of the product's own output guards. A ``--json`` input is then run again for the
terminal (rich tables, width 160, NO_COLOR) and, where the command has one, with ``--html``
(:func:`run_rendered`): the same outcome as the --json run, no traceback, no NaN/inf shown, a
whole HTML file.
"""
from __future__ import annotations

import json
import math
import os
import re
import signal
import sys
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

from typer.testing import CliRunner

from liqrisk.cli import app

TIME_LIMIT_S = 60.0
MAX_ERROR_LINES = 51     # the printer's cap plus its count line
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WARM_UP = (   # valid runs of every command, untimed: imports and numba compiles are not the input's time
    ["analyze", str(EXAMPLES / "multi_venue.yaml"), "--json", "--horizon", "1d", "--paths", "200"],
    ["cascade", str(EXAMPLES / "scenarios" / "btc_gap_15.yaml"), "--accounts",
     str(EXAMPLES / "populations" / "small_book.csv"), "--json"],
    ["cascade", str(EXAMPLES / "scenarios" / "btc_sweep.yaml"), "--accounts",
     str(EXAMPLES / "populations" / "small_book.csv"), "--json"],
    ["exit-cost", "--position", "BTC:1:91250", "--json"],
    ["what-if", str(EXAMPLES / "multi_venue.yaml"), "--json", "--shock", "BTC=-10%", "--horizon", "1d", "--paths", "200"],
    ["advise", str(EXAMPLES / "multi_venue.yaml"), "--json", "--target", "p(1d)<=1%", "--paths", "200",
     "--account", "binance-main"],
    ["size", "--json", "--venue", "binance-usdm", "--symbol", "BTCUSDT", "--leverage", "10", "--collateral", "10000",
     "--target", "p(7d)<=1%", "--mark", "91250", "--vol", "0.5", "--paths", "200"],
    ["hedge-backtest", "--json", "--spot", "91250", "--strike", "100000", "--expiry-days", "30", "--vol", "0.5",
     "--paths", "50"],
    ["policy-backtest", "ONE_PERP", "--account", "iso", "--json", "--paths", "50"],
)
_warm = False


class Hang(Exception):
    pass


def _inside_compile_or_import(frame) -> bool:
    """True while the main thread is compiling numba code or importing a module. An exception
    raised there by the alarm leaves the process broken for every later input: numba swallows it
    in its object-code callback and then fails with 'no compiled object yet for …', an import
    leaves a partially initialised module ('partially initialized module pandas …')."""
    lock = sys.modules.get("numba.core.compiler_lock")
    if lock is not None and lock.global_compiler_lock.is_locked():
        return True
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


@contextmanager
def _alarm(seconds: float):
    def fire(signum, frame):
        if _inside_compile_or_import(frame):
            signal.setitimer(signal.ITIMER_REAL, 0.05)     # raise once the compile or import is done
            return
        raise Hang()
    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _reject_constant(name):
    raise ValueError(f"non-strict JSON constant {name}")


RENDER = os.environ.get("LIQRISK_FUZZ_RENDER", "1") != "0"
"""Also run each ``--json`` input for the terminal (and the HTML report where the command writes
one): ``LIQRISK_FUZZ_RENDER=0`` turns it off."""
HTML_COMMANDS = {"analyze", "cascade", "advise", "hedge-backtest", "what-if"}
"""Commands with ``--html PATH`` (what-if: only with ``--grid``; cascade: only a single run)."""
RENDER_ENV = {"NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "160"}
_HTML_DIR = None
_NON_FINITE = re.compile(r"(?<![\w.])[-+]?(nan|inf)(?![\w(])", re.IGNORECASE)


def _invoke(args: list[str], time_limit: float, env=None):
    """(CliRunner result or None on a hang, seconds)."""
    runner = CliRunner(env=env)
    t0 = time.perf_counter()
    try:
        with _alarm(time_limit):
            res = runner.invoke(app, args, catch_exceptions=True)
    except Hang:
        return None, time.perf_counter() - t0
    dt = time.perf_counter() - t0
    if isinstance(res.exception, Hang) or dt >= time_limit:     # the alarm may land inside a numba call
        return None, dt
    return res, dt


def _crash(res) -> str | None:
    """The traceback of a run, or None."""
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        import traceback
        tb = "".join(traceback.format_exception(res.exception))
        return tb.strip().splitlines()[-1] + " @ " + _origin(res.exception)
    if "Traceback" in res.stdout + res.stderr:
        return (res.stdout + res.stderr)[-300:]
    return None


def _classify_exit2(err: str) -> tuple[str, str]:
    """An exit-2 run: rejected with located ``error:`` lines, or wrong."""
    lines = [l for l in err.splitlines() if l.strip()]
    errors = [l for l in lines if l.startswith("error: ") and len(l) > len("error: ")]
    if not errors:
        return "wrong", f"exit 2 without an 'error: …' line: {err[:200]!r}"
    if len(errors) > MAX_ERROR_LINES:
        return "wrong", f"{len(errors)} error lines (not capped)"
    if len(set(errors)) != len(errors):
        return "wrong", "a problem printed twice"
    if any("╭" in l or "│" in l for l in lines):
        return "wrong", "a rich box around an error"
    stray = [l for l in lines if not l.startswith(("error: ", "note: ", "warning: ")) and "Warning: " not in l
             and not l.startswith("  ")]      # a Python warning and its source line are not ours
    if stray:
        return "wrong", f"a line that is no 'error: …' line: {stray[0][:200]!r}"
    return "rejected", errors[0][:200]


TEXT_COMMANDS = {"watch"}
"""Commands without ``--json``: their one run is the terminal run (:func:`_text_problem`)."""


def run(args: list[str], time_limit: float = TIME_LIMIT_S, render: bool | None = None) -> tuple[str, str, float]:
    """(category, detail, seconds): category is ok | rejected | traceback | hang | wrong. With
    ``render`` (default ``RENDER``) a ``--json`` input runs a second time without ``--json``
    (and with ``--html`` where the command has it): see :func:`run_rendered`."""
    warm_up()
    res, dt = _invoke(args, time_limit)
    if res is None:
        return "hang", f"> {time_limit:g} s", dt
    category, detail, doc = _classify_json(args, res, dt, time_limit)
    render = RENDER if render is None else render
    if render and args[0] == "import" and category == "ok":      # the imported file, analysed and shown
        r_category, r_detail, r_dt = run_rendered(["analyze", _imported_file(res.stdout), "--json"], time_limit)
        if r_category != "ok":
            r_category, r_detail = "wrong" if r_category == "rejected" else r_category, \
                f"import → analyze: {r_category}: {r_detail[:200]}"
        return r_category, r_detail, dt + r_dt
    if not render or "--json" not in args or category not in ("ok", "rejected"):
        return category, detail, dt
    r_category, r_detail, r_dt = run_rendered(args, time_limit, doc)
    dt += r_dt
    if r_category not in ("ok", "rejected"):
        return r_category, r_detail, dt
    if r_category != category:
        return "wrong", (f"--json run {category} ({detail[:150]}) but the terminal run {r_category}"
                         f"{': ' + r_detail[:150] if r_detail else ''}"), dt
    return category, detail, dt


def rendered_args(args: list[str], doc=None) -> tuple[list[str], Path | None]:
    """``args`` without ``--json``, with ``--html FILE`` where the command writes a report for
    this input (``doc``: the --json run's document, for a cascade sweep); (args, FILE or None)."""
    global _HTML_DIR
    out = [a for a in args if a != "--json"]
    command = args[0]
    html = command in HTML_COMMANDS and "--html" not in args
    if command == "what-if" and "--grid" not in args:
        html = False         # --html makes the grid; without --grid the run is another computation
    if command == "cascade":
        scenario = _scenario_of(args)
        sweep = isinstance(doc, dict) and "rows" in doc or isinstance(scenario, dict) and "sweep" in scenario
        html = html and not sweep
    if not html:
        return out, None
    if _HTML_DIR is None:
        import tempfile
        _HTML_DIR = Path(tempfile.mkdtemp(prefix="liqrisk-fuzz-html-"))
    path = _HTML_DIR / "report.html"
    path.unlink(missing_ok=True)
    return out + ["--html", str(path)], path


def run_rendered(args: list[str], time_limit: float = TIME_LIMIT_S, doc=None) -> tuple[str, str, float]:
    """The input of a ``--json`` run, for the terminal (rich, width 160, no colour) and, where
    the command has ``--html``, the HTML report: ok (exit 0, some output, no NaN or inf shown, a
    whole HTML file written), rejected (exit 2 with located lines, as a --json run), traceback,
    hang or wrong. Details start with "terminal:"."""
    r_args, html = rendered_args(args, doc)
    res, dt = _invoke(r_args, time_limit, env=RENDER_ENV)
    where = "terminal" + ("+html" if html else "")
    if res is None:
        return "hang", f"{where}: > {time_limit:g} s", dt
    crash = _crash(res)
    if crash:
        return "traceback", f"{where}: {crash}", dt
    if res.exit_code == 2:
        category, detail = _classify_exit2(res.stderr)
        return category, (f"{where}: {detail}" if category != "rejected" else detail), dt
    problem = _text_problem(res, where)
    if problem:
        return "wrong", problem, dt
    if html is not None:
        if not html.is_file():
            return "wrong", f"{where}: exit 0 but no HTML file written", dt
        with open(html, "rb") as f:
            f.seek(max(0, html.stat().st_size - 64))
            tail = f.read().strip().lower()
        if not tail.endswith(b"</html>"):
            return "wrong", f"{where}: the HTML file does not end with </html>: {tail[-40:]!r}", dt
    return "ok", "", dt


def _text_problem(res, where: str) -> str | None:
    """What is wrong with a terminal run that did not crash or exit 2: another exit code, exit 0
    with nothing printed, a NaN or inf shown; None when nothing."""
    if res.exit_code != 0:
        return f"{where}: exit code {res.exit_code}: {(res.stdout + res.stderr)[-200:]!r}"
    if not res.stdout.strip():
        return f"{where}: exit 0 with nothing printed"
    m = _NON_FINITE.search(res.stdout)
    if m:
        line = next(l for l in res.stdout.splitlines() if m.group(0) in l)
        return f"{where}: a non-finite number shown: {line.strip()[:200]!r}"
    return None


def _imported_file(text: str) -> str:
    """The portfolio an ``import`` printed, written to a file (the next import overwrites it)."""
    global _HTML_DIR
    if _HTML_DIR is None:
        import tempfile
        _HTML_DIR = Path(tempfile.mkdtemp(prefix="liqrisk-fuzz-html-"))
    path = _HTML_DIR / "imported.yaml"
    path.write_text(text)
    return str(path)


def _classify_json(args: list[str], res, dt: float, time_limit: float) -> tuple[str, str, object]:
    """(category, detail, document or None) of a finished run (the --json one; a text command's
    only run)."""
    crash = _crash(res)
    if crash:
        return "traceback", crash, None
    out, err = res.stdout, res.stderr
    if args[0] in TEXT_COMMANDS and res.exit_code != 2:
        problem = _text_problem(res, "terminal")
        return ("wrong", problem, None) if problem else ("ok", "", None)
    if res.exit_code == 0:
        if dt > time_limit:
            return "hang", f"{dt:.0f} s", None
        if args[0] == "import":
            problems = _check_import(out)
            return ("wrong", problems[0], None) if problems else ("ok", "", None)
        try:
            doc = json.loads(out, parse_constant=_reject_constant)
        except ValueError as e:
            return "wrong", f"stdout is not strict JSON: {e}", None
        problems = check_numbers(args[0], doc, _scenario_of(args))
        return ("wrong", problems[0], doc) if problems else ("ok", "", doc)
    if res.exit_code == 2:
        return (*_classify_exit2(err), None)
    return "wrong", f"exit code {res.exit_code}: {(out + err)[-200:]!r}", None


def warm_up() -> None:
    """Run ``WARM_UP`` once per process, without a time limit (a cold numba cache on a loaded
    machine compiles for minutes; that is not a hang of the input)."""
    global _warm
    if _warm:
        return
    import tempfile

    from mutators import ONE_PERP
    one_perp = Path(tempfile.mkdtemp(prefix="liqrisk-warm-")) / "one_perp.json"
    one_perp.write_text(json.dumps(ONE_PERP))
    for args in WARM_UP:
        res = CliRunner().invoke(app, [str(one_perp) if a == "ONE_PERP" else a for a in args])
        if res.exit_code != 0:
            raise RuntimeError(f"warm-up run {args} failed: {res.output[-500:]}")
    _warm = True


def _origin(exc: BaseException) -> str:
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    return f"{last.tb_frame.f_code.co_filename.split('src/')[-1]}:{last.tb_lineno}" if last else "?"


def _finite(x) -> bool:
    return x is None or isinstance(x, (int, float)) and math.isfinite(x)


def check_numbers(command: str, doc, scenario=None) -> list[str]:
    """Problems of a successful run's document (empty when it passes): the command's own checks
    and, for every command, the plausibility checks of :func:`check_plausible` (``scenario``: the
    decoded scenario of a ``cascade`` run, for the sweep's grid)."""
    checks = {"analyze": _check_analyze, "cascade": _check_cascade, "what-if": _check_what_if,
              "advise": _check_advise, "size": _check_size, "hedge-backtest": _check_hedge_backtest,
              "exit-cost": _check_exit_cost, "policy-backtest": _check_policy_backtest, "vol": _check_vol,
              "backtest-calibration": _check_calibration}
    out = checks[command](doc) if command in checks else []
    out += check_plausible(doc)
    if command == "cascade" and isinstance(scenario, dict):
        out += _check_sweep_grid(doc, scenario)
    return out


def _scenario_of(args: list[str]):
    """The decoded scenario file of a ``cascade`` run (None when it is not a mapping that reads)."""
    if not args or args[0] != "cascade" or len(args) < 2:
        return None
    import yaml
    try:
        with open(args[1], "rb") as f:
            doc = yaml.safe_load(f.read(2_000_000))
    except Exception:  # noqa: BLE001 — an input the run accepted but this reader does not: no grid check
        return None
    return doc if isinstance(doc, dict) else None


# --- plausibility of accepted outputs ("silently wrong") ----------------------------------------
# Written from the fields' meaning (README's analyze document, results/*), independently of the
# product's own output guards; each has a planted-wrong-output test in test_harness.py.

_TOL = 1e-9
PROBABILITY_KEYS = {"p", "liquidation_probability", "fraction"}
"""Keys whose number (or list of numbers) is a probability or a share of paths, wherever they are."""
PROBABILITY_BLOCKS = {"probability", "term_structure"}
"""Keys whose mapping holds probabilities per horizon: numbers (what-if) or {p, ci95, …}."""


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _walk(doc, path=()):
    """(path, key, value) of every mapping entry in ``doc``."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield path, k, v
            yield from _walk(v, path + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _walk(v, path + (i,))


def _where(path) -> str:
    return ".".join(str(k) for k in path) or "document"


def _in_unit(v) -> bool:
    return _number(v) and math.isfinite(v) and -_TOL <= v <= 1 + _TOL


def check_plausible(doc) -> list[str]:
    """Every number finite (a JSON writer that lets NaN/inf through breaks strictness elsewhere;
    here a Python float from a decoded document); every probability finite and in [0, 1] — the
    keys of PROBABILITY_KEYS anywhere, the per-horizon blocks of PROBABILITY_BLOCKS (pools'
    too); an estimate's ``ci95`` = [lo, hi] with 0 ≤ lo ≤ p ≤ hi ≤ 1 (a sampled zero's
    rule-of-three bound is an interval [0, 3/n] around p = 0)."""
    out = []
    for path, k, v in _walk(doc):
        w = _where(path + (k,))
        if _number(v) and not math.isfinite(v):
            out.append(f"{w}: non-finite number {v}")
            continue
        if k in PROBABILITY_KEYS and k != "fraction" and v is not None and not isinstance(v, dict) \
                and not _in_unit(v):
            out.append(f"{w}: probability {v} outside [0, 1]")
        if k == "fraction" and v is not None:
            values = v if isinstance(v, list) else [v]
            if any(x is not None and not _in_unit(x) for x in values):
                out.append(f"{w}: fraction {v} outside [0, 1]")
        if k in PROBABILITY_BLOCKS and isinstance(v, dict) or (len(path) >= 1 and path[-1] == "pools"
                                                              and isinstance(v, dict)):
            for h, est in v.items():
                if _number(est) and not _in_unit(est):
                    out.append(f"{w}.{h}: probability {est} outside [0, 1]")
        if k == "ci95" and v is not None:
            out += _check_ci(w, v, _parent(doc, path))
    return out


def _parent(doc, path):
    for k in path:
        doc = doc[k]
    return doc


def _check_ci(where: str, ci, est: dict) -> list[str]:
    if not (isinstance(ci, list) and len(ci) == 2 and all(_number(x) for x in ci)):
        return [f"{where}: not an interval [lo, hi]: {ci}"]
    lo, hi = ci
    if not (_in_unit(lo) and _in_unit(hi)) or lo > hi + _TOL:
        return [f"{where}: interval {ci} not within [0, 1] or reversed"]
    p = est.get("p") if isinstance(est, dict) else None
    if _number(p) and not lo - _TOL * (1 + abs(p)) <= p <= hi + _TOL * (1 + abs(p)):
        return [f"{where}: interval {ci} does not bracket the estimate {p}"]
    return []


def _over_leveraged(notes, account_id) -> set:
    """Position numbers (1-based) of ``account_id`` whose leverage the run noted as above the
    venue's maximum (its initial margin is then as given, below the venue's: analysis._leverage_notes)."""
    import re
    out = set()
    for n in notes or []:
        m = re.match(r"account '(.*)', position (\d+) .*exceeds the venue's maximum", str(n))
        if m and m.group(1) == account_id:
            out.add(int(m.group(2)))
    return out


def _check_margins_and_boundaries(w: str, a: dict, notes) -> list[str]:
    """Equity and margins finite; IM ≥ MM (account and position; not where the leverage is noted
    as above the venue's maximum, nor while liquidatable: a margin given below MM, nor for a
    collateral loan); the
    account's boundaries positive, ``down`` below the mark and ``up`` above it (on the
    underlying's mark); a not-liquidatable perp or future's liquidation price on the side that
    hurts it (an isolated one's own size, a cross one's symbol's net size: README's "venue's
    displayed cross price"): below its mark for a long, above for a short."""
    out = []
    eq, im, mm = a.get("equity"), a.get("initial_margin"), a.get("maintenance_margin")
    for name, v in (("equity", eq), ("initial_margin", im), ("maintenance_margin", mm)):
        if v is not None and not (_number(v) and math.isfinite(v)):
            out.append(f"{w}: {name} = {v} not a finite number")
    liquidatable = bool(a.get("liquidatable_now"))
    noted = _over_leveraged(notes, a.get("id"))
    loan = a.get("loan") is not None      # a collateral loan has no initial margin (IM 0: docs/loans.md)
    if _number(im) and _number(mm) and im < mm * (1 - _TOL) - _TOL and not noted and not liquidatable and not loan:
        out.append(f"{w}: initial margin {im} < maintenance margin {mm}")
    net: dict = {}              # a cross position's price is on the side that hurts its symbol's net position
    for p in a.get("positions") or []:
        if not p.get("isolated") and _number(p.get("size")):
            net[p.get("symbol")] = net.get(p.get("symbol"), 0.0) + p["size"]
    for n, p in enumerate(a.get("positions") or [], 1):
        pim, pmm = p.get("initial_margin"), p.get("maintenance_margin")
        if _number(pim) and _number(pmm) and pim < pmm * (1 - _TOL) - _TOL and n not in noted and not liquidatable \
                and not loan:
            out.append(f"{w} position {n} ({p.get('symbol')}): initial margin {pim} < maintenance margin {pmm}")
        lp, mark, size = p.get("liquidation_price"), p.get("mark"), p.get("size")
        if not p.get("isolated") and p.get("symbol") in net:
            size = net[p.get("symbol")]
        if lp is None or not all(_number(x) for x in (lp, mark, size)) or liquidatable:
            continue
        if lp <= 0:
            out.append(f"{w} position {n} ({p.get('symbol')}): liquidation price {lp} ≤ 0")
        elif p.get("kind") in ("perp", "future") and size != 0 and \
                (lp > mark * (1 + _TOL) if size > 0 else lp < mark * (1 - _TOL)):
            out.append(f"{w} position {n} ({p.get('symbol')}): liquidation price {lp} on the wrong side of "
                       f"its mark {mark} for size {size}")
    marks = {}
    for p in a.get("positions") or []:
        if p.get("kind") == "perp" and _number(p.get("mark")) and p.get("underlying"):
            marks.setdefault(p["underlying"], p["mark"])
    for und, sides in (a.get("liquidation") or {}).items():
        for side, price in (sides or {}).items():
            if price is None:
                continue
            if not _number(price) or price <= 0:
                out.append(f"{w}: liquidation {und} {side} = {price} not a positive number")
            elif und in marks and not liquidatable and \
                    (price > marks[und] * (1 + _TOL) if side == "down" else price < marks[und] * (1 - _TOL)):
                out.append(f"{w}: liquidation {und} {side} = {price} on the wrong side of the mark {marks[und]}")
    return out


def _check_exit_block(w: str, ex) -> list[str]:
    """An exit block's costs and times finite and ≥ 0 (or null)."""
    out = []
    for k in ("close_now_cost", "close_now_bps", "liquidation_cost", "insurance_shortfall", "time_to_exit_hours",
              "horizon_cost", "horizon_sd", "equity_shortfall"):
        v = (ex or {}).get(k)
        if v is not None and not (_number(v) and math.isfinite(v) and v >= -_TOL * (1 + abs(v))):
            out.append(f"{w}: exit {k} = {v} not a finite number ≥ 0")
    for t, c in ((ex or {}).get("cost_vs_exit_hours") or {}).items():
        if c is not None and not (_number(c) and c >= -_TOL * (1 + abs(c))):
            out.append(f"{w}: exit cost at {t} h = {c} < 0")
    return out


def _check_sweep_grid(doc: dict, scenario: dict) -> list[str]:
    """A sweep's rows are its grid: len(moves) × len(impact_scales) rows (one move per asset when
    ``moves`` is not given, impact scale 1 when ``impact_scales`` is not), each a grid point."""
    grid = scenario.get("sweep")
    if not isinstance(grid, dict) or "rows" not in doc:
        return []
    moves, scales = grid.get("moves"), grid.get("impact_scales")
    n_moves = len(moves) if isinstance(moves, list) else 1
    n_scales = len(scales) if isinstance(scales, list) else 1
    rows = doc.get("rows") or []
    if len(rows) != n_moves * n_scales:
        return [f"sweep: {len(rows)} rows for a grid of {n_moves} moves × {n_scales} impact scales"]
    fields = doc.get("fields") or []
    if isinstance(scales, list) and "impact_scale" in fields and all(_number(x) for x in scales):
        i = fields.index("impact_scale")
        if any(not any(abs(r[i] - float(s)) <= 1e-12 * (1 + abs(s)) for s in scales) for r in rows):
            return ["sweep: a row's impact scale is no grid point"]
    return []


def _check_import(text: str) -> list[str]:
    """An import prints a portfolio file (YAML) that the portfolio loader accepts as it is."""
    import yaml

    from liqrisk.io.portfolio import InputError
    from liqrisk.load import parse_portfolio
    try:
        parse_portfolio(yaml.safe_load(text))
    except (yaml.YAMLError, InputError) as e:
        return [f"the imported file does not load: {str(e)[:200]}"]
    return []


def _check_vol(doc: dict) -> list[str]:
    """Every annualised vol (an estimator's, a GARCH forecast's) ≥ 0 or null (too few bars)."""
    out = []
    for path, k, v in _walk(doc):
        if any(isinstance(p, str) and "vol" in p for p in path + (k,)) and _number(v) and v < 0:
            out.append(f"{_where(path + (k,))}: a volatility of {v}")
    return out


def _check_calibration(doc: dict) -> list[str]:
    """Brier scores, a reliability bin's bounds and its predicted and realised frequencies in
    [0, 1]; log scores, calibration errors, the Murphy terms and counts ≥ 0."""
    out = []
    for path, k, v in _walk(doc):
        if not _number(v):
            continue
        w = _where(path + (k,))
        if k in ("brier", "predicted", "realised", "lo", "hi") and not _in_unit(v):
            out.append(f"{w}: {k} {v} outside [0, 1]")
        elif k in ("log_score", "ece", "reliability", "resolution", "uncertainty", "n", "count", "events") and v < 0:
            out.append(f"{w}: {k} {v} < 0")
    return out


def _check_account_state(where: str, s: dict) -> list[str]:
    """A what-if side (before/after): margin ≥ 0, liquidatable_now consistent, p in [0, 1]."""
    out = []
    eq, mm = s.get("equity"), s.get("maintenance_margin")
    if not isinstance(eq, (int, float)) or not isinstance(mm, (int, float)):
        return [f"{where}: equity/MM not numbers: {eq}, {mm}"]
    if mm < 0:
        out.append(f"{where}: negative maintenance margin {mm}")
    if eq < mm * (1 - 1e-9) - 1e-9 and mm > 0 and s.get("liquidatable_now") is False:
        out.append(f"{where}: liquidatable_now false with equity {eq} < MM {mm}")
    for h, p in (s.get("probability") or {}).items():
        if p is not None and not 0 <= p <= 1:
            out.append(f"{where}: probability {h} = {p} outside [0, 1]")
    for u, sides in (s.get("liquidation") or {}).items():
        for side, price in (sides or {}).items():
            if price is not None and price <= 0:
                out.append(f"{where}: liquidation price {u} {side} = {price} ≤ 0")
    c = s.get("exit_close_now_cost")
    if c is not None and not (_number(c) and math.isfinite(c) and c >= 0):
        out.append(f"{where}: exit cost {c} not a finite number ≥ 0")
    if not (math.isfinite(eq) and math.isfinite(mm)):
        out.append(f"{where}: equity/MM not finite: {eq}, {mm}")
    return out


def _check_what_if(doc: dict) -> list[str]:
    out = []
    for a in doc.get("accounts", []):
        for side in ("before", "after"):
            if isinstance(a.get(side), dict):
                out += _check_account_state(f"account {a.get('id')!r} {side}", a[side])
    return out


def _check_advise(doc: dict) -> list[str]:
    """A probability metric lies in [0, 1], a top-up is ≥ 0, a deleveraging fraction in [0, 1]
    (a hedge's amount is signed contracts)."""
    out = []
    prob = str(doc.get("target", "")).startswith("p(")
    for a in doc.get("accounts", []):
        for x in [a] + list(a.get("actions") or []):
            m = x.get("metric")
            if prob and m is not None and not 0 <= m <= 1:
                out.append(f"account {a.get('id')!r}: probability metric {m} outside [0, 1]")
            amount, kind = x.get("amount"), x.get("kind")
            if amount is not None and (kind == "topup" and amount < 0 or kind == "deleverage" and not 0 <= amount <= 1):
                out.append(f"account {a.get('id')!r}: {kind} amount {amount} out of range")
    return out


def _check_size(doc: dict) -> list[str]:
    out = []
    ts = doc.get("target_size")
    if ts is not None and ts < 0:
        out.append(f"target size {ts} < 0")
    for r in doc.get("rows", []):
        if r.get("size") is not None and r["size"] < 0:
            out.append(f"row {r.get('sizing')!r}: size {r['size']} < 0")
        if r.get("liquidation_price") is not None and r["liquidation_price"] <= 0:
            out.append(f"row {r.get('sizing')!r}: liquidation price {r['liquidation_price']} ≤ 0")
    return out


def _check_exit_cost(doc: dict) -> list[str]:
    """Costs, their spread and times ≥ 0; a position's notional |size| × price, its unfilled part
    within [0, |size|], its worst fill on the far side of the price (a long is closed by selling);
    an account's close-now cost the sum of its positions'."""
    out = []
    for a in doc.get("accounts", []):
        w = f"account {a.get('id')!r}"
        for k in ("close_now_cost", "close_now_bps", "time_to_exit_hours", "horizon_cost", "horizon_sd"):
            if a.get(k) is not None and a[k] < 0:
                out.append(f"{w}: {k} = {a[k]} < 0")
        for t, c in (a.get("curve") or {}).items():
            if c is not None and c < 0:
                out.append(f"{w}: cost curve at {t} h = {c} < 0")
        total = 0.0
        for p in a.get("positions", []):
            size, price = p.get("size"), p.get("price")
            if p.get("close_now_cost") is None or size is None or price is None:
                total = None
                continue
            if p["close_now_cost"] < 0:
                out.append(f"{w} {p.get('symbol')}: close-now cost {p['close_now_cost']} < 0")
            if p.get("notional") is not None and abs(p["notional"] - abs(size) * price) > 1e-9 * abs(size) * price:
                out.append(f"{w} {p.get('symbol')}: notional {p['notional']} ≠ |size| × price")
            u = p.get("unfilled")
            if u is not None and not -1e-12 <= u <= abs(size) * (1 + 1e-12):
                out.append(f"{w} {p.get('symbol')}: unfilled {u} outside [0, |size|]")
            wp = p.get("worst_price")
            if wp is not None and (wp > price * (1 + 1e-12) if size > 0 else wp < price * (1 - 1e-12)):
                out.append(f"{w} {p.get('symbol')}: worst fill {wp} on the wrong side of {price}")
            if total is not None:
                total += p["close_now_cost"]
        if total is not None and a.get("close_now_cost") is not None and \
                abs(total - a["close_now_cost"]) > 1e-9 * (1 + abs(total)):
            out.append(f"{w}: close-now cost {a['close_now_cost']} ≠ the sum of its positions' {total}")
    return out


def _check_policy_backtest(doc: dict) -> list[str]:
    """Per policy: liquidations ≤ paths, the liquidation probability their share, avoided ≤ the
    hold policy's liquidations, costs and capital ≥ 0, quantiles non-decreasing."""
    out = []
    n = doc.get("paths")
    hold = ((doc.get("policies") or {}).get("hold") or {}).get("liquidations")
    for name, p in (doc.get("policies") or {}).items():
        liq, prob = p.get("liquidations"), p.get("liquidation_probability")
        if _number(n) and _number(liq) and not 0 <= liq <= n:
            out.append(f"policy {name!r}: {liq} liquidations of {n} paths")
        if _number(n) and n > 0 and _number(liq) and _number(prob) and abs(prob - liq / n) > 1e-9:
            out.append(f"policy {name!r}: liquidation probability {prob} ≠ {liq}/{n}")
        av = p.get("liquidations_avoided")
        if _number(av) and _number(hold) and not 0 <= av <= hold:
            out.append(f"policy {name!r}: {av} liquidations avoided of the hold policy's {hold}")
        for k in ("cost_mean", "capital_added_mean", "actions_mean", "pnl_std"):
            if _number(p.get(k)) and p[k] < -_TOL:
                out.append(f"policy {name!r}: {k} = {p[k]} < 0")
        q = [v for _, v in sorted((p.get("pnl_quantiles") or {}).items(), key=lambda kv: float(kv[0]))]
        if any(not _number(v) for v in q) or any(b < a - 1e-9 * (1 + abs(a)) for a, b in zip(q, q[1:])):
            out.append(f"policy {name!r}: P&L quantiles not non-decreasing: {q}")
    return out


def _check_hedge_backtest(doc: dict) -> list[str]:
    """Spreads and standard errors ≥ 0, quantiles non-decreasing, fractions in [0, 1]."""
    out = []
    for k in ("pnl_std", "pnl_mean_stderr", "pnl_std_stderr", "transaction_costs_mean", "trades_mean"):
        if doc.get(k) is not None and doc[k] < 0:
            out.append(f"{k} = {doc[k]} < 0")
    q = [v for _, v in sorted((doc.get("pnl_quantiles") or {}).items(), key=lambda kv: float(kv[0]))]
    if any(v is None for v in q) or any(b < a - 1e-9 * (1 + abs(a)) for a, b in zip(q, q[1:])):
        out.append(f"P&L quantiles not non-decreasing: {q}")
    for k in ("margin_calls", "liquidations"):
        f = (doc.get(k) or {}).get("fraction")
        if f is not None and not 0 <= f <= 1:
            out.append(f"{k}.fraction = {f} outside [0, 1]")
    if sum((doc.get("pnl_histogram") or {}).get("counts", [])) not in (0, doc.get("paths")):
        out.append("P&L histogram counts do not add up to the paths")
    return out


def _check_analyze(doc: dict) -> list[str]:
    out = []
    for a in doc.get("accounts", []):
        w = f"account {a.get('id')!r}"
        eq, im, mm = a.get("equity"), a.get("initial_margin"), a.get("maintenance_margin")
        if not all(isinstance(v, (int, float)) for v in (eq, im, mm)):
            out.append(f"{w}: equity/IM/MM not numbers: {eq}, {im}, {mm}")
            continue
        if im < 0 or mm < 0:
            out.append(f"{w}: negative margin IM {im} MM {mm}")
        if eq < mm * (1 - 1e-9) - 1e-9 and a.get("positions") and not a.get("liquidatable_now"):
            out.append(f"{w}: liquidatable_now false with equity {eq} < MM {mm}")
        for p in a.get("positions", []):
            if (p.get("maintenance_margin") or 0) < 0 or (p.get("initial_margin") or 0) < 0:
                out.append(f"{w}: position {p.get('symbol')} with a negative margin")
        for block in ("probability", "term_structure"):
            for h, prob in (a.get(block) or {}).items():
                if not 0 <= prob["p"] <= 1 or not all(0 <= v <= 1 for v in prob.get("ci95", [])):
                    out.append(f"{w}: {block} {h} = {prob} outside [0, 1]")
        out += _check_margins_and_boundaries(w, a, doc.get("notes"))
        out += _check_exit_block(w, a.get("exit"))
    return out


def _check_cascade(doc: dict) -> list[str]:
    """A single run: marks > 0, liquidated notional ≥ 0, the money identity wallets + insurance +
    backstop + liquidators − book_pnl − adl_pnl − funding = 0 per step (result.py); a sweep: rows
    of numbers or null."""
    out = []
    for a, path in (doc.get("marks") or {}).items():
        if any(x is None or x <= 0 for x in path):
            out.append(f"mark of {a} null or ≤ 0")
    for a, path in (doc.get("liquidated_notional_usd") or {}).items():
        if any(x is None or x < 0 for x in path):
            out.append(f"liquidated notional of {a} null or < 0")
    led = doc.get("ledger_usd")
    if isinstance(led, dict) and led:
        terms = [led.get(k) for k in ("wallets", "insurance", "backstop", "liquidators", "book_pnl", "adl_pnl",
                                      "funding")]
        if all(isinstance(t, list) for t in terms):
            for step, row in enumerate(zip(*terms)):
                if None in row:
                    out.append(f"ledger term null at step {step}")
                    break
                resid = sum(row[:4]) - sum(row[4:])
                if abs(resid) > 1e-6 * (1 + sum(abs(x) for x in row)):
                    out.append(f"ledger identity broken at step {step}: {resid:g}")
                    break
    if "rows" in doc and not doc["rows"]:
        out.append("a sweep with no rows")
    return out


# --- the REST service -------------------------------------------------------------------------
# One app per process on a SQLite file (as tests/service builds it), called in-process through
# FastAPI's TestClient. The property: 2xx with a strict-JSON document whose numbers pass the
# checks above (a cascade job: polled until it ends; done → its result checked, failed → its
# error must be a located line, not an "internal error"); 4xx with a ``detail`` naming a field
# path; never a 5xx or an exception; within the time limit.

SERVICE_CHECKS = {"/v1/analyze": "analyze", "/v1/what-if": "what-if", "/v1/advise": "advise", "/v1/cascade": "cascade"}
SERVICE_WARM_UP = (("/v1/analyze", [("horizon", "1d"), ("paths", "200")]), ("/v1/what-if", [("paths", "200")]),
                   ("/v1/advise", [("target", "distance>=3sd")]), ("/v1/cascade", []))
_client = None


def service_client():
    """The process's TestClient (its app made and warmed up on the first call)."""
    global _client
    if _client is None:
        import tempfile

        from fastapi.testclient import TestClient

        from liqrisk.service import create_app
        db = Path(tempfile.mkdtemp(prefix="liqrisk-fuzz-service-")) / "fuzz.db"
        client = TestClient(create_app(str(db)), raise_server_exceptions=True)
        client.__enter__()                      # the lifespan: migrate, start the job worker
        _client = client
        _warm_service()
    return _client


def _warm_service() -> None:
    import mutators as M
    doc = M.service_portfolio_seeds()[0]
    for path, params in SERVICE_WARM_UP:
        body = {"portfolio": doc} if path == "/v1/what-if" else M.service_scenario_seeds()[0] \
            if path == "/v1/cascade" else doc
        category, detail, _ = run_service({"method": "POST", "path": path, "params": params,
                                           "body": M.json_body(body)}, time_limit=None)
        if category != "ok":
            raise RuntimeError(f"service warm-up {path} failed: {category}: {detail}")


_LOCATED = __import__("re").compile(r"^[^\s:][^:]{0,160}: \S|field '")


def _located(entry) -> bool:
    """A 4xx ``detail`` entry names a field path: a ``loc`` below the body or query, or (the
    validator's lines, all at ``["body"]``) a message that starts with its location."""
    if not isinstance(entry, dict) or not isinstance(entry.get("loc"), list) or not entry.get("msg"):
        return False
    loc, msg = entry["loc"], str(entry["msg"])
    return len(loc) > 1 or entry.get("type") != "value_error" and loc == ["body"] or bool(_LOCATED.search(msg))


def _classify_4xx(res) -> tuple[str, str]:
    try:
        detail = res.json().get("detail")
    except (ValueError, AttributeError):
        return "wrong", f"{res.status_code} without a JSON detail: {res.text[:200]!r}"
    if res.status_code in (413, 429) and isinstance(detail, str) and detail:
        return "rejected", f"{res.status_code} {detail[:200]}"
    if res.status_code != 422 or not isinstance(detail, list) or not detail:
        return "wrong", f"{res.status_code} {str(detail)[:200]}"
    bad = [e for e in detail if not _located(e)]
    if bad:
        return "wrong", f"422 naming no field: {str(bad[0])[:200]}"
    first = detail[0]
    return "rejected", f"422 {first['loc']}: {str(first['msg'])[:200]}"


def _poll_job(client, rid: int, deadline: float | None, scenario=None) -> tuple[str, str]:
    """Wait for cascade job ``rid`` to end; classify its outcome (cancel it at the deadline)."""
    while True:
        job = client.get(f"/v1/jobs/{rid}")
        if job.status_code != 200:
            return "wrong", f"GET /v1/jobs/{rid}: {job.status_code} {job.text[:200]!r}"
        d = job.json()
        if d["status"] == "done":
            try:
                doc = json.loads(job.text, parse_constant=_reject_constant)
            except ValueError as e:
                return "wrong", f"job result is not strict JSON: {e}"
            problems = check_numbers("cascade", doc["result"], scenario)
            return ("wrong", problems[0]) if problems else ("ok", "")
        if d["status"] in ("failed", "cancelled"):
            error = str(d.get("error") or "")
            if "over the job time limit" in error:
                return "hang", error
            if error.startswith("internal error") or not error:
                return "traceback", f"job failed: {error[:300]}"
            return "rejected", f"job failed: {error[:200]}"
        if deadline is not None and time.perf_counter() > deadline:
            client.delete(f"/v1/jobs/{rid}")
            while client.get(f"/v1/jobs/{rid}").json()["status"] in ("queued", "running"):
                time.sleep(0.05)        # the next input must not wait behind this one
            return "hang", "job still running at the time limit"
        time.sleep(0.02)


def run_service(req: dict, time_limit: float | None = TIME_LIMIT_S) -> tuple[str, str, float]:
    """(category, detail, seconds) of one request {"method", "path", "params", "body"} to the
    service (``time_limit`` None: unbounded, for the warm-up)."""
    global _client
    client = service_client()
    t0 = time.perf_counter()
    deadline = None if time_limit is None else t0 + time_limit
    try:
        with _alarm(time_limit) if time_limit is not None else nullcontext():
            res = client.request(req["method"], req["path"], params=req["params"], content=req["body"],
                                 headers={"content-type": "application/json"})
    except Hang:
        _client = None      # the request runs on in the app's thread: later inputs get a new app
        return "hang", f"> {time_limit:g} s", time.perf_counter() - t0
    except Exception as e:  # noqa: BLE001 — a server exception re-raised by the TestClient
        import traceback
        tb = "".join(traceback.format_exception(e))
        return "traceback", tb.strip().splitlines()[-1][:300] + " @ " + _origin(e), time.perf_counter() - t0
    if req["path"] == "/v1/cascade" and res.status_code == 202:
        try:
            scenario = json.loads(req["body"])
        except (ValueError, TypeError):
            scenario = None
        category, detail = _poll_job(client, res.json()["id"], deadline, scenario)
        return category, detail, time.perf_counter() - t0
    dt = time.perf_counter() - t0
    if time_limit is not None and dt >= time_limit:      # the alarm may wait for a compile
        return "hang", f"{dt:.0f} s", dt
    if res.status_code >= 500:
        return "traceback", f"{res.status_code}: {res.text[:300]!r}", dt
    if 400 <= res.status_code < 500:
        return (*_classify_4xx(res), dt)
    if res.status_code not in (200, 202):
        return "wrong", f"status {res.status_code}: {res.text[:200]!r}", dt
    try:
        doc = json.loads(res.text, parse_constant=_reject_constant)
    except ValueError as e:
        return "wrong", f"response is not strict JSON: {e}", dt
    problems = check_numbers(SERVICE_CHECKS[req["path"]], doc)
    return ("wrong", problems[0], dt) if problems else ("ok", "", dt)
