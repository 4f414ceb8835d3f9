"""`liqrisk analyze FILE`: margin, liquidation prices, probabilities and exit cost per account."""
from __future__ import annotations

import shutil
import sys
import tempfile
from dataclasses import replace
from typing import IO, TYPE_CHECKING, Annotated

import typer

from liqrisk.cli import limits as L
from liqrisk.cli._app import app
from liqrisk.cli.errors import fail_on_bad_input, print_problems, strict_json
from liqrisk.cli.progress import progress_bar
from liqrisk.io import limits

if TYPE_CHECKING:
    from liqrisk.model import Portfolio

MODEL_HELP = ("path model: auto (the calibrated default: fhs where an underlying has history, else gbm) | "
              "gbm | merton | student (= student_t) | fhs (= garch_fhs)")
"""--model of every command that estimates P(liquidation) with `analyze` (analyze, what-if, advise)."""


def _model_option(value: str) -> str:
    """--model checked when the command line is read, before any work and whether or not a
    probability is estimated (an unknown name was accepted by a run without one)."""
    from liqrisk.analysis import check_model
    from liqrisk.io.portfolio import InputError
    try:
        return check_model(value)
    except InputError as e:
        print_problems(e.problems)
        raise typer.Exit(2) from None


ModelOption = Annotated[str, typer.Option("--model", metavar="MODEL", help=MODEL_HELP, callback=_model_option)]
"""The --model option of analyze, what-if and advise (default ``"auto"`` in the signature)."""

FhsTailsOption = Annotated[str, typer.Option("--fhs-tails", metavar="TAILS", help=(
    "fhs shocks' tails: gpd (generalized Pareto beyond the 10%/90% residual quantiles, McNeil & Frey 2000) | "
    "empirical (plain FHS)"))]
"""The --fhs-tails option of analyze, what-if, advise and watch (default ``"gpd"`` in the
signature), checked by :func:`liqrisk.cli.limits.fhs_tails_problems` with the other options."""


def _json_file(parts) -> IO[str]:
    """The ``analyze --json`` document of the chunks ``parts`` ((result, document) pairs of
    :func:`~liqrisk.analysis.iter_analysis`) written to a temporary file as they come, the same
    bytes as ``json.dumps`` of the whole document; returned rewound once every chunk has passed
    its checks (nothing is printed from a run that fails)."""
    out = tempfile.TemporaryFile("w+", encoding="utf-8")
    notes: dict[str, None] = {}
    sep = ""
    for k, (_, doc) in enumerate(parts):
        if k == 0:
            out.write(f'{{"as_of": {strict_json(doc["as_of"])}, "accounts": [')
        for acc in doc["accounts"]:
            out.write(sep + strict_json(acc))
            sep = ", "
        notes.update(dict.fromkeys(doc["notes"]))
    out.write(f'], "notes": {strict_json(list(notes))}}}')
    out.seek(0)
    return out


def _with_books(specs: list[str]):
    """--book: each chunk's portfolio in its market with the order books (read once)."""
    from liqrisk.liquidity.book import load_book
    cache: dict[str, object] = {}

    def load(path):
        if path not in cache:
            cache[path] = load_book(path)
        return cache[path]

    return lambda pf: pf.with_market(replace(pf.market, books=_books(specs, pf, load)))


def _books(specs: list[str], pf: Portfolio, load_book):
    """--book UNDERLYING=PATH (a bare PATH only when the file's futures have one underlying);
    each book's mid must be near its underlying's mark (an ETH book is no BTC book)."""
    from liqrisk.io.portfolio import InputError
    from liqrisk.liquidity.book import check_book_mid
    from liqrisk.liquidity.synthetic import underlying_of
    from liqrisk.margin.registry import rule_set_for
    unds = sorted({rule_set_for(a.venue).underlying_of(p) for a in pf.accounts for p in a.positions
                   if p.kind != "option"})
    books = {}
    for spec in specs or []:
        und, sep, path = spec.partition("=")
        if not sep:
            if len(specs) > 1 or len(unds) != 1:
                raise InputError([f"--book {spec}: the file trades {', '.join(unds) or 'no futures'}; "
                                  f"say which underlying the book is for, e.g. --book BTC={spec}"])
            und, path = unds[0], spec
        und = underlying_of(und)
        if und not in pf.market.quotes:
            raise InputError([f"--book {spec}: no market entry for '{und}' in the file"])
        books[und] = check_book_mid(load_book(path), und, pf.market.quotes[und].mark)
    return books


def _check_options(horizons, paths, seed, drift, exit_horizon, participation, stress, range_paths=None,
                   fhs_tails="gpd") -> None:
    """Ranges of the numeric options and the fhs tails (one line per bad option; the rules the
    service and the Python API apply too)."""
    from liqrisk.io.portfolio import InputError
    bad = L.fhs_tails_problems(fhs_tails)
    if problem := limits.participation_problem(participation):
        bad.append(f"--participation {participation:g}: {problem}")
    if problem := limits.stress_problem(stress):
        bad.append(f"--stress {stress:g}: {problem}")
    if problem := limits.exit_horizon_problem(exit_horizon):
        bad.append(f"--exit-horizon-hours {exit_horizon:g}: {problem}")
    if problem := limits.drift_problem(drift):
        bad.append(f"--drift {drift:g}: {problem}")
    bad += L.seed_problems(seed)
    bad += L.simulation_problems(horizons, paths)
    if range_paths and not bad:     # each other model's run: checked deep in the engine, naming --paths
        bad += L.simulation_problems(horizons, range_paths, paths_flag="--range-paths")
    if bad:
        raise InputError(bad)


def _vol_files(specs: list[str] | None) -> dict[str, str] | None:
    """--vol-from BTC=btc.csv → {"BTC": "btc.csv"}; a bare path → {"*": path}."""
    out = {}
    for spec in specs or []:
        und, sep, path = spec.partition("=")
        if sep and und and "/" not in und:
            out[und.upper()] = path
        else:
            out["*"] = spec
    return out or None


@app.command("analyze")
def analyze_command(
    file: str = typer.Argument(..., metavar="FILE", help="portfolio file (YAML or JSON), see README"),
    as_json: bool = typer.Option(False, "--json", help="print exactly one JSON document"),
    html: str = typer.Option(None, "--html", metavar="PATH", help="write a self-contained HTML report here"),
    horizon: list[str] = typer.Option(None, "--horizon", metavar="DURATION", help="probability horizon, e.g. 1d (repeatable)"),
    paths: int = typer.Option(20_000, "--paths", min=100, metavar="N", help="Monte Carlo paths per account"),
    seed: int = typer.Option(7, "--seed", metavar="N", help="random seed (results reproducible by seed)"),
    model: ModelOption = "auto",
    range_paths: int = typer.Option(None, "--range-paths", min=0, metavar="N", help="paths of each other model in the "
                                    "model range (default min(--paths, 4000); 0: no range)"),
    drift: float = typer.Option(0.0, "--drift", metavar="X", help="annualised expected return (0: martingale)"),
    vol_from: list[str] = typer.Option(None, "--vol-from", metavar="[UND=]PATH", help="OHLC CSV to estimate an underlying's vol "
                                       "from (EWMA): UNDERLYING=PATH, repeatable; a bare PATH if the file has one underlying"),
    fhs_tails: FhsTailsOption = "gpd",
    book: list[str] = typer.Option(None, "--book", metavar="[UND=]PATH", help="order book JSON/CSV, UNDERLYING=PATH form"),
    exit_horizon: float = typer.Option(1.0, "--exit-horizon-hours", metavar="X", help="time allowed to exit (the exit block's horizon_cost)"),
    participation: float = typer.Option(0.1, "--participation", metavar="X", help="share of daily volume"),
    stress: float = typer.Option(1.0, "--stress", metavar="X", help="spread/depth stress multiplier"),
    engine: str = typer.Option("local", "--engine", metavar="ENGINE", help="local | process | dask: where chunks of "
                               "accounts run (identical results)"),
    scheduler: str = typer.Option(None, "--scheduler", metavar="ADDRESS", help="Dask scheduler address for --engine dask "
                                  "(default: a local cluster)"),
    max_file_mb: L.MaxFileMb = None, max_depth: L.MaxDepth = None, max_alias_nodes: L.MaxAliasNodes = None,
    max_accounts: L.MaxAccounts = None, max_positions: L.MaxPositions = None,
    max_path_steps: L.MaxPathSteps = None, max_horizon_days: L.MaxHorizonDays = None,
) -> None:
    """Equity, initial and maintenance margin, margin ratio and every liquidation price per
    account; with --horizon, the probability of liquidation; always the exit cost."""
    from liqrisk._gc import cyclic_gc_paused
    from liqrisk.analysis import ExitSettings, ProbabilitySettings, analyze_document, iter_analysis
    stream = as_json and not html
    with fail_on_bad_input(), cyclic_gc_paused(), limits.using(
            max_file_mb=max_file_mb, max_depth=max_depth, max_alias_nodes=max_alias_nodes, max_accounts=max_accounts,
            max_positions=max_positions, max_path_steps=max_path_steps, max_horizon_days=max_horizon_days):
        _check_options(horizon, paths, seed, drift, exit_horizon, participation, stress, range_paths, fhs_tails)
        prob = (ProbabilitySettings(horizon, paths, seed, model, drift, vol_from=_vol_files(vol_from),
                                    range_paths=range_paths, fhs_tails=fhs_tails) if horizon else None)
        prepare = _with_books(book) if book else None
        ex = ExitSettings(horizon_hours=exit_horizon, participation=participation, stress=stress)
        with progress_bar("simulating", quiet=as_json or not prob) as tick:
            if stream:
                out = _json_file(iter_analysis(file, prob, ex, engine=engine, scheduler=scheduler, progress=tick,
                                               prepare=prepare))
            else:
                result, document = analyze_document(file, prob, ex, curves=bool(html), engine=engine,
                                                    scheduler=scheduler, progress=tick, prepare=prepare)
        text = strict_json(document) if as_json and not stream else None
        if html:
            from liqrisk.report.html import write_report
            write_report(result, html)
    if as_json:
        if stream:
            shutil.copyfileobj(out, sys.stdout)
        sys.stdout.write((text or "") + "\n")
        return
    from rich.console import Console
    from rich.markup import escape

    from liqrisk.report import terminal
    terminal.render(result)
    if html:
        Console(emoji=False).print(f"HTML report written to {escape(str(html))}")
