"""`analyze`: the main question — margin, liquidation boundaries, probability of liquidation and
exit cost for every account of a portfolio file — as one result object that every surface
(CLI table, JSON, HTML, API) renders without computing anything of its own.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from liqrisk._gc import cyclic_gc_paused
from liqrisk.io.portfolio import InputError
from liqrisk.load import portfolio_chunks
from liqrisk.margin.account import CompiledPortfolio
from liqrisk.model import Portfolio
from liqrisk.report.guards import analysis_problems
from liqrisk.results import AccountResult, ExitResult, PortfolioAnalysis, RiskResult
from liqrisk.results.base import plain

MODELS = ("gbm", "merton", "student", "fhs")
MODEL_ALIASES = {"student_t": "student", "garch_fhs": "fhs"}   # the names backtest-calibration uses
# documented defaults for the non-Gaussian models (annual jump intensity, log-jump mean/sd; t dof)
MERTON_DEFAULTS = dict(intensity=12.0, jump_mean=-0.01, jump_std=0.05)
STUDENT_NU = 3.5
DEFAULT_EXIT_VOL = 0.6     # annualised vol for exit costs when the market block gives none
LIQUIDATION_STRESS = 3.0   # books are assumed at least 3× thinner/wider when a liquidation fires
_HORIZON = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d|w|y)\s*$")
_UNIT_YEARS = {"m": 1 / (365 * 24 * 60), "min": 1 / (365 * 24 * 60), "h": 1 / (365 * 24),
               "d": 1 / 365, "w": 7 / 365, "y": 1.0}


def parse_horizon(text: str) -> float:
    """'1h', '4h', '1d', '7d', '2w', '30m' → years (ACT/365)."""
    m = _HORIZON.match(text)
    if not m or float(m.group(1)) <= 0:
        raise InputError([f"horizon '{text}': expected a positive number and a unit (m, h, d, w, y), e.g. 1d"])
    return float(m.group(1)) * _UNIT_YEARS[m.group(2)]


@dataclass
class ProbabilitySettings:
    """How probabilities are estimated (CLI: --horizon, --paths, --seed, --model, --drift)."""

    horizons: list[str]
    paths: int = 20_000
    seed: int = 7
    model: str = "auto"                      # auto: the calibrated default (see _models_for)
    drift: float = 0.0
    steps_per_day: int = 24
    vol_from: dict[str, str] | None = None   # underlying → OHLC CSV ("*" = the only underlying)
    range_paths: int | None = 0              # paths of the model range (None: min(paths, RANGE_PATHS), 0: none)
    risk: bool = True                        # VaR/ES of the loss (False: probabilities only, faster)
    fhs_tails: str = "gpd"                   # fhs shocks: gpd (GARCH-EVT tails) | empirical (plain FHS)


@dataclass(kw_only=True)
class ExitSettings:
    """Exit-cost settings (CLI: --exit-horizon, --participation, --stress); the order books are
    the market's (``MarketState.books``, CLI --book), synthetic where it has none."""

    horizon_hours: float = 1.0
    participation: float = 0.1
    stress: float = 1.0


CHUNK_ACCOUNTS = 2000
"""Accounts per task of the process and Dask engines (and of the local engine, so that every
engine runs the same chunks)."""


def iter_analysis(source: str | Path | dict | Portfolio, probability: ProbabilitySettings | None = None,
                  exit: ExitSettings | None = None, curves: bool = False,
                  progress: Callable[[int, int], None] | None = None, engine: str = "local",
                  scheduler: str | None = None, chunk_accounts: int = CHUNK_ACCOUNTS,
                  prepare: Callable[[Portfolio], Portfolio] | None = None
                  ) -> Iterator[tuple[PortfolioAnalysis, dict]]:
    """:func:`analyze` chunk by chunk of ``chunk_accounts`` accounts, in the file's order: each
    chunk's result and its JSON document (``to_dict``, output checks passed). Only a chunk (a
    window of two per worker on the process and Dask engines) is held at a time, so memory is
    bounded by the chunk, not the book. ``prepare``: applied to each chunk's portfolio before it
    is analysed (e.g. the CLI's --book order books). Input problems stop the analysis at the
    chunk where they are found; after the last chunk one :class:`InputError` lists every input
    problem of the file, else every output-check failure: a caller prints nothing until the
    iteration has ended without one."""
    from liqrisk.batch import ENGINES, get_executor
    if engine not in ENGINES:
        raise InputError([f"--engine '{engine}': expected one of {', '.join(ENGINES)}"])
    portfolios = portfolio_chunks(source, chunk_accounts)
    tasks = ((prepare(pf) if prepare else pf, probability, exit, curves) for pf in portfolios)
    problems = []
    with get_executor(engine, scheduler) as ex:
        run = partial(_analyze_chunk, progress=progress) if engine == "local" else _analyze_chunk
        for part in ex.imap_chunks(run, tasks):
            document = part.to_dict()
            problems += analysis_problems(document)   # a number the model could not compute is an error, never printed
            yield part, document
    if problems:
        raise InputError(problems)


def analyze_document(source: str | Path | dict | Portfolio, probability: ProbabilitySettings | None = None,
                     exit: ExitSettings | None = None, curves: bool = False,
                     progress: Callable[[int, int], None] | None = None, engine: str = "local",
                     scheduler: str | None = None, chunk_accounts: int = CHUNK_ACCOUNTS,
                     prepare: Callable[[Portfolio], Portfolio] | None = None) -> tuple[PortfolioAnalysis, dict]:
    """:func:`analyze`, also returning the result's JSON document (``to_dict``) that the output
    checks have built and passed: the CLI and the service print it instead of building it twice.
    (The whole book's results are held; :func:`iter_analysis` streams them.)"""
    with cyclic_gc_paused():
        parts = list(iter_analysis(source, probability, exit, curves, progress, engine, scheduler, chunk_accounts,
                                   prepare))
    out, document = parts[0]
    for part, doc in parts[1:]:
        out.accounts += part.accounts
        out.curves.update(part.curves)
        out.books = {**part.books, **out.books}
        out.notes += part.notes
        document["accounts"] += doc["accounts"]
    out.notes = list(dict.fromkeys(out.notes))
    document["notes"] = plain(out.notes)
    return out, document


def analyze(source: str | Path | dict | Portfolio, probability: ProbabilitySettings | None = None,
            exit: ExitSettings | None = None, curves: bool = False,
            progress: Callable[[int, int], None] | None = None, engine: str = "local",
            scheduler: str | None = None, chunk_accounts: int = CHUNK_ACCOUNTS) -> PortfolioAnalysis:
    """Analyse a portfolio (file path, decoded document or :class:`~liqrisk.model.Portfolio`).

    ``engine``: ``local`` (this process), ``process`` (a process pool) or ``dask`` (a Dask
    cluster at ``scheduler``, or a local one) — each runs chunks of ``chunk_accounts`` accounts
    and gives identical results: an account's numbers depend on its own positions, the market,
    the seed and its underlyings only (see :mod:`liqrisk.risk.book_mc`). A result that fails the
    output checks (:func:`liqrisk.report.guards.analysis_problems`) raises :class:`InputError`
    naming the account and field."""
    return analyze_document(source, probability, exit, curves, progress, engine, scheduler, chunk_accounts)[0]


def _analyze_chunk(chunk, progress=None) -> PortfolioAnalysis:
    """One chunk of accounts (module-level: picklable for the process and Dask engines)."""
    pf, probability, exit, curves = chunk
    cp = CompiledPortfolio(pf)
    results = [AccountResult.of(m) for m in cp.margin_results()]
    out = PortfolioAnalysis(pf.as_of.isoformat().replace("+00:00", "Z"), results)
    out.notes += _leverage_notes(cp)
    for r in results:
        guessed = sorted({p.symbol for p in r.positions if p.parameters.startswith("representative")})
        if guessed:
            out.notes.append(f"account '{r.id}': maintenance-margin tiers of {', '.join(guessed)} are bundled "
                             f"representative defaults, not a venue snapshot — give venue.brackets or mmr/cum")
    if probability and probability.horizons:
        _add_probabilities(cp, results, probability, out, progress)
    if exit is not None:
        _add_exit(cp, results, exit, out)
    if curves:
        out.curves = {r.id: _curves(cp, i, r) for i, r in enumerate(results)}
    return out


def _leverage_notes(cp: CompiledPortfolio) -> list[str]:
    """A leverage above what the venue allows at the position's notional (IM is shown as given)."""
    out = []
    for plan in cp.plans:
        for n, (pos, t) in enumerate(zip(plan.account.positions, plan.terms), 1):
            lev = pos.leverage or plan.account.leverage
            if t is None or t.tiers is None or lev is None:
                continue
            price = cp.market.prices[cp.market.axis(plan.rules.underlying_of(pos))]
            allowed = float(t.tiers.max_leverage_at(t.tier_notional(price)))
            if lev > allowed:
                out.append(f"account '{plan.account.id}', position {n} ({pos.symbol or pos.underlying}): "
                           f"leverage {lev:g} exceeds the venue's maximum {allowed:g} at this notional")
    return out


def _curves(cp: CompiledPortfolio, i: int, r: AccountResult) -> dict:
    """Equity and MM of each margin pool along each underlying, on a grid that shows the mark and
    every boundary."""
    out = {}
    for name, bounds in r.boundaries.items():
        mark = cp.market.prices[cp.market.axis(name)]
        pts = [mark] + list(bounds)
        lo, hi = min(pts) * 0.7, max(pts) * 1.3
        grid = np.linspace(lo, hi, 400)
        out[name] = {"price": grid, "mark": mark, "pools": {
            label: {"equity": eq, "maintenance_margin": mm}
            for label, (eq, mm) in cp.pool_curves(i, name, grid).items()}}
    return out


class _NotApplicable(Exception):
    """The chosen model cannot describe this account (reported as a note, not an error)."""


DEFAULT_MODEL = "fhs"
"""The best-calibrated model of the back-tests (docs/calibration.md): the default wherever one
of the account's underlyings has history (bundled or --vol-from); GBM where none has."""


def _path_model(cp: CompiledPortfolio, names: list[str], model: str, s: ProbabilitySettings,
                notes: list[str]):
    """(path model, simulation step in years or None for the default, model info) for an
    account's axes under ``model``."""
    from liqrisk.dynamics import paths

    sigma = np.array([_sigma(cp, n, s) for n in names])
    if model == "fhs":
        return _fhs_model(cp, names, sigma, s, notes)
    corr = _correlation(cp, names, notes) if len(names) > 1 else None
    info = {"vol": {n: float(v) for n, v in zip(names, sigma)}}
    if corr is not None:
        info["correlation"] = corr.tolist()
    if model == "gbm":
        return paths.gbm(sigma, corr=corr), None, info
    if model == "student":
        return paths.student_t(sigma, STUDENT_NU, corr=corr), None, info | {"nu": STUDENT_NU}
    jumps = paths.MertonJumps(MERTON_DEFAULTS["intensity"], MERTON_DEFAULTS["jump_mean"],
                              MERTON_DEFAULTS["jump_std"])
    return (paths.PathModel(paths.ConstantVol(sigma), jumps=jumps, corr=corr), None,
            info | {"jumps": dict(MERTON_DEFAULTS)})


def _histories(cp: CompiledPortfolio, names: list[str], s: ProbabilitySettings) -> dict:
    """The daily histories of ``names`` that exist: --vol-from files, else the bundled ones."""
    from liqrisk.dynamics.fhs import BUNDLED_ASSETS, HistoryError, bundled_history, file_history
    out = {}
    for n in names:
        path = _vol_file(cp, n, s)
        try:
            if path:
                out[n] = file_history(path)
            elif n in BUNDLED_ASSETS:
                out[n] = bundled_history(n)
        except HistoryError as e:
            raise InputError([str(e)]) from None
    return out


def _fhs_model(cp: CompiledPortfolio, names: list[str], sigma: np.ndarray, s: ProbabilitySettings,
               notes: list[str]):
    """Multi-asset GJR-GARCH filtered historical simulation on daily bars
    (:mod:`liqrisk.dynamics.fhs`): same historical dates for all assets; assets without history
    get the stated assumption (market vol, ``market.correlation``)."""
    from liqrisk.dynamics.fhs import DAY, HistoryError, fhs_model
    hist = _histories(cp, names, s)
    if not hist:
        raise _NotApplicable(f"--model fhs: no history for {', '.join(names)} (bundled: BTC, ETH); "
                             f"give --vol-from {names[0]}=OHLC.csv")
    corr = _correlation(cp, names, notes, quiet=True) if len(names) > 1 else np.eye(1)
    try:
        setup = fhs_model(names, sigma, hist, corr, seed=s.seed, tails=s.fhs_tails)
    except HistoryError as e:
        raise InputError([str(e)]) from None
    _note_daily_steps(s.horizons, notes)
    for n, h in hist.items():
        note = (f"fhs: the GJR-GARCH fit of {n} ({h.source}) did not converge ({h.fit_note()}): "
                f"its filtered shocks and current variance are uncertain")
        if not h.converged and note not in notes:
            notes.append(note)
    assumed = [n for n in names if n not in hist]
    if assumed:
        note = (f"fhs: {', '.join(assumed)} without history — constant vol from the market block, "
                f"correlation with the other underlyings from market.correlation (0 where not given)")
        if note not in notes:
            notes.append(note)
    return setup.model, DAY / (365 * DAY), setup.info


def _fhs_intraday(cp: CompiledPortfolio, names: list[str], s: ProbabilitySettings, notes: list[str]):
    """(path model, hourly step in years, model info) of fhs on the **hourly** filter for the
    horizons of a day or less (:data:`liqrisk.dynamics.fhs.INTRADAY_MAX_HORIZON`), or None when
    an underlying with history has no intraday bars (its ``--vol-from`` file is daily, or no
    bundled hourly file): then those horizons run on the daily filter, as without intraday data.
    The info (``risk.model_info.intraday``) is :func:`liqrisk.dynamics.fhs.fhs_model`'s with
    ``horizons`` "≤ 1d"."""
    from liqrisk.dynamics.fhs import DAY, HOUR, HistoryError, fhs_model, intraday_history
    from liqrisk.dynamics.ohlc import DataError
    from liqrisk.dynamics.fhs import BUNDLED_ASSETS
    hist = {}
    for n in names:
        path = _vol_file(cp, n, s)
        if path is None and n not in BUNDLED_ASSETS:
            continue                        # no history at all: assumed under both filters
        try:
            h = intraday_history(n, path)
        except (HistoryError, DataError) as e:
            raise InputError([str(e)]) from None
        if h is None:
            note = (f"fhs: {n} has no intraday history ({'its --vol-from bars are longer than an hour or too few' if path else 'none bundled'}): "
                    f"horizons ≤ 1d of accounts moving with it run on the daily filter (one step of the day's variance × the fraction of the day), which "
                    f"under-predicts four-hour extremes (docs/calibration.md §4)")
            if note not in notes:
                notes.append(note)
            return None
        hist[n] = h
    if not hist:
        return None
    sigma = np.array([_sigma(cp, n, s) for n in names])
    corr = _correlation(cp, names, notes, quiet=True) if len(names) > 1 else np.eye(1)
    try:
        setup = fhs_model(names, sigma, hist, corr, seed=s.seed, tails=s.fhs_tails)
    except HistoryError as e:
        raise InputError([str(e)]) from None
    for n, h in hist.items():
        note = (f"fhs: the hourly GJR-GARCH fit of {n} ({h.source}) did not converge ({h.fit_note()}): "
                f"its filtered shocks and current variance are uncertain")
        if not h.converged and note not in notes:
            notes.append(note)
    return setup.model, HOUR / (365 * DAY), setup.info | {"horizons": "≤ 1d"}


def _note_daily_steps(horizons: list[str], notes: list[str]) -> None:
    """FHS steps are days: a horizon longer than a day that is not a whole number of days runs
    as a whole number of days (the engine's rounding: 36h → 1 day, 60h → 2); say so."""
    from liqrisk.dynamics.fhs import DAY
    from liqrisk.risk.book_mc import _horizon_dts
    day = DAY / (365 * DAY)
    for h in horizons:
        y = parse_horizon(h)
        step, n = _horizon_dts([y], 24, day)[y]
        if step == day and abs(n * day - y) > 1e-9 * y:
            note = (f"fhs: horizon {h} runs as {n} day{'s' if n > 1 else ''} (the model's step is one "
                    f"day; the horizon is rounded to whole days)")
            if note not in notes:
                notes.append(note)


def _vol_file(cp: CompiledPortfolio, name: str, s: ProbabilitySettings) -> str | None:
    """The OHLC file --vol-from gives for ``name`` (UNDERLYING=PATH; a bare PATH only when the
    portfolio has a single underlying — one file cannot describe several assets)."""
    if not s.vol_from:
        return None
    if name in s.vol_from:
        return s.vol_from[name]
    if "*" in s.vol_from:
        if len(cp.market.names) > 1:
            raise InputError([f"--vol-from {s.vol_from['*']}: the portfolio has {', '.join(cp.market.names)}; "
                              f"say which asset the file is, e.g. --vol-from BTC={s.vol_from['*']}"])
        return s.vol_from["*"]
    return None


def _sigma(cp: CompiledPortfolio, name: str, s: ProbabilitySettings) -> float:
    """Annualised vol for ``name``: EWMA of its --vol-from file, else the market block's ATM vol."""
    path = _vol_file(cp, name, s)
    if path:
        from liqrisk.dynamics.ohlc import load_ohlc
        from liqrisk.dynamics.volatility import ewma
        o = load_ohlc(path)
        return float(ewma(o.close, bar_seconds=o.bar_seconds))
    v = cp.market.atm_vol(name)
    if v is None:
        raise InputError([f"market '{name}', field 'vol': needed for probabilities (or pass --vol-from {name}=FILE)"])
    return v


def _correlation(cp: CompiledPortfolio, names: list[str], notes: list[str], quiet: bool = False) -> np.ndarray:
    """Correlation of ``names``: ``market.correlation`` where the portfolio gives it, else
    BTC/ETH from the bundled Bitstamp daily history, else 0 (noted unless ``quiet``)."""
    given = cp.portfolio.market.correlation
    corr = np.eye(len(names))
    if "BTC" in names and "ETH" in names:
        i, j = names.index("BTC"), names.index("ETH")
        corr[i, j] = corr[j, i] = _bundled_btc_eth_correlation()
    assumed = []
    for i, a in enumerate(names):
        for j, b in enumerate(names[:i]):
            rho = given.get(a, {}).get(b, given.get(b, {}).get(a))
            if rho is not None:
                corr[i, j] = corr[j, i] = rho
            elif {a, b} != {"BTC", "ETH"}:
                assumed.append(f"{b}/{a}")
    if np.linalg.eigvalsh(corr)[0] <= 0:
        raise InputError([f"market, field 'correlation': the correlation of {', '.join(names)} is not "
                          f"positive definite"])
    if assumed and not quiet:
        note = f"correlation {', '.join(assumed)} assumed 0 (no bundled history; give market.correlation)"
        if note not in notes:
            notes.append(note)
    return corr


@lru_cache(maxsize=1)
def _bundled_btc_eth_correlation() -> float:
    """BTC/ETH correlation of the complete days of the bundled Bitstamp daily file (once per
    process: every account holding both asks)."""
    from liqrisk.dynamics.correlation import estimate_correlation
    from liqrisk.dynamics.ohlc import bundled_columns
    cols = bundled_columns("btc_eth_usd_1d_bitstamp.csv")
    est = estimate_correlation({"BTC": cols["btc_close"], "ETH": cols["eth_close"]})
    return float(np.asarray(est.corr)[0, 1])


def _models_for(cp: CompiledPortfolio, names: list[str], s: ProbabilitySettings) -> tuple[str, list[str]]:
    """(the model that runs, the other models of the range) for an account moving with ``names``:
    ``auto`` is :data:`DEFAULT_MODEL` where one of them has history, else GBM."""
    from liqrisk.dynamics.fhs import BUNDLED_ASSETS
    has_history = any(n in BUNDLED_ASSETS or _vol_file(cp, n, s) for n in names)
    main = s.model if s.model != "auto" else (DEFAULT_MODEL if has_history else "gbm")
    others = [m for m in MODELS if m != main and (m != "fhs" or has_history)]
    return main, others


MODEL_NAMES = ("auto", *MODELS, *MODEL_ALIASES)
"""Every name ``--model`` (and the service's ``model``) accepts."""


def model_problem(name: str) -> str | None:
    """Why ``name`` is no path model (None: it is ``auto``, one of MODELS or an alias of one):
    the one rule of ``--model`` and of the service's ``model``."""
    return None if name in MODEL_NAMES else f"expected auto or one of {', '.join(MODELS)}"


def fhs_tails_problem(tails: str) -> str | None:
    """Why ``tails`` is no choice of fhs shocks (None: one of :data:`liqrisk.dynamics.fhs.TAILS`):
    the one rule of ``--fhs-tails`` (every command that simulates), of the service's query option
    and of the Python API's ``fhs_tails``."""
    from liqrisk.dynamics.fhs import TAILS
    return None if tails in TAILS else f"one of {', '.join(TAILS)}"


def check_model(name: str) -> str:
    """The path model ``name`` with its alias resolved (``student_t`` → ``student``); an
    InputError naming ``--model`` unless :func:`model_problem` passes it."""
    if problem := model_problem(name):
        raise InputError([f"--model '{name}': {problem}"])
    return MODEL_ALIASES.get(name, name)


def probability_years(s: ProbabilitySettings) -> dict[str, float]:
    """Check the settings (``s.model`` resolved, :func:`check_model`; the fhs tails,
    :func:`fhs_tails_problem`; a finite drift) and return
    horizon → years: the start of every probability estimate (analyze, advise)."""
    s.model = check_model(s.model)
    if problem := fhs_tails_problem(s.fhs_tails):        # the service's line (the CLI's names the flag)
        raise InputError([f"fhs_tails {s.fhs_tails}: {problem}"])
    if not math.isfinite(s.drift):
        raise InputError([f"--drift {s.drift}: expected a finite annualised return, e.g. 0.1"])
    return {h: parse_horizon(h) for h in s.horizons}


def account_axes(cp: CompiledPortfolio, i: int) -> tuple[int, ...]:
    """The market axes account ``i`` of the compiled book moves with (empty: no simulated price)."""
    return tuple(sorted(set().union(*cp.plans[i].pool_axes.values())))


def simulate(cp: CompiledPortfolio, idx: list[int], axes: tuple[int, ...], s: ProbabilitySettings,
             years: list[float], notes: list[str], model: str | None = None, paths: int | None = None,
             risk: bool | None = None, funding=None, progress=None, path_models: dict | None = None,
             steps_of: str | None = None, pools: bool = True):
    """(model name, the book's risk per account of ``idx``, model info) of accounts that move with
    ``axes``, on ``years``: the one orchestration of a probability run (analyze's main and range
    models, advise's one-horizon evaluations). ``model`` None: the main model of
    :func:`_models_for`; ``paths`` None: ``s.paths``; ``risk`` None: ``s.risk`` (VaR/ES);
    ``path_models``: a cache of path models by (model, underlyings) — a path model depends on the
    market only; ``steps_of``: run on that model's time steps per horizon instead of the model's
    own (the model range runs on the main model's, so that the range shows the models and not
    their step sizes); ``pools`` False: no pool's own tilted run (the range reads the accounts'
    numbers only). Raises :class:`_NotApplicable` when the model cannot describe the accounts."""
    from liqrisk.risk.book_mc import SimulationTooLarge, book_liquidation_risk, merge_risks
    names = [cp.market.names[a] for a in axes]
    model = model or _models_for(cp, names, s)[0]
    runs, info = _runs(cp, names, model, s, years, notes, path_models)
    if steps_of is not None and steps_of != model:
        runs = [(runs[0][0], d, ys) for _, d, ys in _runs(cp, names, steps_of, s, years, notes, path_models)[0]]
    try:
        risks = [book_liquidation_risk(cp, idx, list(axes), m, ys, n_paths=paths or s.paths, seed=s.seed,
                                       drift=s.drift, steps_per_day=s.steps_per_day, dt=d, progress=progress,
                                       risk=s.risk if risk is None else risk, funding=funding, pools=pools)
                 for m, d, ys in runs]
    except SimulationTooLarge as e:
        raise InputError([f"--horizon/--paths: {e}"]) from None
    return model, risks[0] if len(risks) == 1 else [merge_risks(*r) for r in zip(*risks)], info


def _runs(cp: CompiledPortfolio, names: list[str], model: str, s: ProbabilitySettings, years: list[float],
          notes: list[str], path_models: dict | None):
    """([(path model, step in years or None for the default, horizons)], model info) of
    ``model`` on ``years``: one run, or for fhs with intraday history the horizons ≤ 1 day on the
    hourly filter and the others on the daily one. ``path_models``: see :func:`simulate`."""
    def cached(key, build):
        if path_models is None:
            return build()
        if key not in path_models:
            path_models[key] = build()
        return path_models[key]

    path_model, dt, info = cached((model, tuple(names)), lambda: _path_model(cp, names, model, s, notes))
    if model != "fhs":
        return [(path_model, dt, list(years))], info
    from liqrisk.dynamics.fhs import INTRADAY_MAX_HORIZON
    short = [y for y in years if y <= INTRADAY_MAX_HORIZON * (1 + 1e-9)]
    intraday = cached(("fhs-intraday", tuple(names)), lambda: _fhs_intraday(cp, names, s, notes)) if short else None
    if intraday is None:
        return [(path_model, dt, list(years))], info
    long = [y for y in years if y not in short]
    return ([(intraday[0], intraday[1], short)] + ([(path_model, dt, long)] if long else []),
            info | {"intraday": intraday[2]})


def _add_probabilities(cp, results, s: ProbabilitySettings, out: PortfolioAnalysis, progress):
    """Probability, per-pool probability, time to liquidation and VaR/ES blocks of every account,
    on the compiled book: accounts that move with the same underlyings share one path model
    and one simulation (their numbers depend on the seed and their underlyings only). The other
    applicable models run on ``range_paths`` paths for the model range (probabilities only)."""
    from liqrisk.advise.funding import book_schedule
    from liqrisk.risk.estimates import TERM_STRUCTURE

    years = probability_years(s)
    # the standard term structure within the requested window comes free from the same paths
    term = {k: v for k, v in TERM_STRUCTURE.items() if v <= max(years.values()) * (1 + 1e-9)}
    all_years = sorted(set(years.values()) | set(term.values()))
    schedule = book_schedule(cp)          # perp funding from the market block, None without
    groups: dict[tuple, list[int]] = {}
    for i in range(len(cp.plans)):
        axes = account_axes(cp, i)
        if axes:
            groups.setdefault(axes, []).append(i)
    range_paths = min(s.paths, RANGE_PATHS) if s.range_paths is None else s.range_paths
    path_models: dict = {}
    from liqrisk.risk.book_mc import reuse_setup
    with reuse_setup():            # one t=0 set-up per group for all its models' runs
        for axes, idx in groups.items():
            _group_probabilities(cp, results, s, out, progress, axes, idx, years, term, all_years, schedule,
                                 range_paths, path_models)


def _group_probabilities(cp, results, s, out, progress, axes, idx, years, term, all_years, schedule, range_paths,
                         path_models):
    """:func:`_add_probabilities` of the accounts ``idx`` that move with ``axes``."""
    from liqrisk.advise.funding import funding_block
    names = [cp.market.names[a] for a in axes]
    main, others = _models_for(cp, names, s)
    try:
        _, risks, info = simulate(cp, idx, axes, s, all_years, out.notes, main, funding=schedule,
                                  progress=progress, path_models=path_models)
    except _NotApplicable as e:
        out.notes += [f"account '{results[i].id}': no probability — {e}" for i in idx]
        return
    info = {"name": main, "why": "chosen (--model)" if s.model != "auto" else
            ("default: best calibrated in the back-tests (docs/calibration.md)" if main == DEFAULT_MODEL
             else "default where no underlying has history (GBM)")} | info
    spread = {}
    if range_paths >= 2:
        for m in others:
            spread[m] = simulate(cp, idx, axes, s, all_years, out.notes, m, range_paths, risk=False,
                                 path_models=path_models, steps_of=main, pools=False)[1]
        info["range"] = {"paths": range_paths, "models": others, "steps_of": main}
    paying = [i for i in idx if schedule is not None and schedule.pays(cp.plans[i])]
    # the same paths and estimators at zero funding: how much of the risk funding adds
    unfunded = dict(zip(paying, simulate(cp, paying, axes, s, all_years, out.notes, main, risk=False,
                                         funding=schedule.zero(), path_models=path_models)[1])) if paying else {}
    for k, (i, risk) in enumerate(zip(idx, risks)):
        _probability_blocks(results[i], risk, years, term, main)
        results[i].risk.model_info = info
        results[i].risk.model_range = {h: {m: spread[m][k].probabilities[y].p for m in spread}
                                       for h, y in {**term, **years}.items()} if spread else {}
        if i in unfunded:
            results[i].funding = funding_block(schedule, cp.plans[i], risk, unfunded[i], {**term, **years})


RANGE_PATHS = 4_000
"""Paths per other model of the model range (probabilities only: their importance sampling and
control variates make a few thousand paths enough for the range)."""


def _probability_blocks(r: AccountResult, risk, years: dict, term: dict, model: str) -> None:
    r.probability = {h: risk.probabilities[y] for h, y in years.items()}
    r.term_structure = {h: risk.probabilities[y] for h, y in term.items()}
    r.pools = {label: {h: est[y] for h, y in years.items()} for label, est in risk.pools.items()}
    r.risk = RiskResult(
        model=model, var99={h: risk.var99.get(y) for h, y in years.items()},
        es99={h: risk.es99.get(y) for h, y in years.items()},
        time_to_liquidation_quantiles_hours={str(q): v * 365 * 24 if math.isfinite(v) else None  # none liquidated
                                              for q, v in risk.time_to_liquidation.items()},
        time_to_liquidation_histogram=risk.time_histogram.to_dict(),
        driver={h: risk.driver[y] for h, y in years.items()}, max_loss=risk.max_loss)


def _add_exit(cp, results, s: ExitSettings, out: PortfolioAnalysis):
    """The ``exit`` block of every account: each underlying's futures/spot are costed on its own
    book; an underlying without a book (or options, which are not costed) is listed in
    ``not_costed`` instead of dropping the whole account. Every account's positions are costed
    together, in one vectorised pass per underlying (:func:`~liqrisk.liquidity.exit.exit_costs`)."""
    from liqrisk.liquidity.exit import exit_costs

    vols: dict[str, float] = {}
    keys, group, und, size, price, forced, now = {}, [], [], [], [], [], []
    for i, r in enumerate(results):
        linear, rows = _exit_rows(cp, i, r)
        for u, base, mark in rows:
            group.append(keys.setdefault((i, u), len(keys)))
            und.append(u), size.append(base), price.append(mark)
            if u not in vols:
                vols[u] = cp.market.atm_vol(u) or DEFAULT_EXIT_VOL
        fee = cp.plans[i].rules.params.liquidation_fee
        forced += [(keys[i, u], b, lp, bp, fee) for b, lp, bp, u in _forced_exits(r, linear, rows)]
        if r.liquidatable_now:
            now += [(keys[i, u], b, p, p, fee) for (u, b, p), _ in zip(rows, linear)]
    books = cp.portfolio.market.books
    costs = exit_costs(group, und, und, size, price, books, vols, s.horizon_hours, s.participation, s.stress,
                       n_groups=len(keys))
    tot = costs.totals()
    for k, (i, u) in enumerate(keys):
        if costs.error[k] is None and u not in out.books:
            first = int(np.argmax(costs.used & (costs.group == k)))
            out.books[u] = _depth(books.get(u), u, costs.price[first], vols[u], s)
    unds = [u for _, u in keys]
    liq, short = _liquidation_losses(forced, unds, costs.error, books, vols, s)
    now_fee, now_impact = _liquidation_losses(now, unds, costs.error, books, vols, s, parts=True)
    by_account: dict[int, list[int]] = {}
    for k, (i, _) in enumerate(keys):
        by_account.setdefault(i, []).append(k)
    for i, r in enumerate(results):
        ks = by_account.get(i, [])
        ok = [k for k in ks if costs.error[k] is None]
        not_costed = [f"{p.symbol}: options are not costed" for p in r.positions if p.kind == "option"]
        not_costed += [costs.error[k] for k in ks if costs.error[k] is not None]
        cost, shortfall, deficit = sum(liq[k] for k in ok), sum(short[k] for k in ok), None
        if r.liquidatable_now:   # liquidated now, at the marks: the fee is not collected from nothing
            equity = r.equity * cp.settle_usd(i)
            impact = sum(now_impact[k] for k in ok)
            cost, shortfall, deficit = sum(now_fee[k] for k in ok) + impact, max(0.0, impact - equity), max(0.0, -equity)
        r.exit = _exit_block(tot, ok, cost, shortfall, not_costed, costs.hours, s)
        if deficit is not None:
            r.exit.equity_shortfall = deficit


def _liquidation_losses(fills, unds, errors, books, vols, s: ExitSettings, parts=False):
    """Per exit group (account × underlying), the summed forced fills ``(group, base size,
    liquidation price, bankruptcy price, fee rate)`` at stressed liquidity (at least
    LIQUIDATION_STRESS): (total loss, insurance shortfall), or with ``parts`` (fee, impact);
    fills of groups not costed count 0. One vectorised call per underlying; the synthetic book
    is the same at every mid in relative terms, so one book at mid 1 serves every price. USD."""
    from liqrisk.liquidity.exit import liquidation_loss
    from liqrisk.liquidity.synthetic import synthetic_book
    a, b = np.zeros(len(unds)), np.zeros(len(unds))
    fills = [f for f in fills if errors[f[0]] is None]
    if not fills:
        return a, b
    g = np.array([f[0] for f in fills], dtype=np.int64)
    size, lp, bp, fee = (np.array([f[k] for f in fills], float) for k in range(1, 5))
    und = np.array([unds[k] for k in g], dtype=object)
    for u in dict.fromkeys(und.tolist()):
        m = und == u
        book = books.get(u) or synthetic_book(1.0, vols[u], 1.0, u)
        loss = liquidation_loss(size[m], lp[m], bp[m], fee[m], book, stress=max(s.stress, LIQUIDATION_STRESS))
        first, second = (loss.fee, loss.total_loss - loss.fee) if parts else (loss.total_loss, loss.shortfall)
        a += np.bincount(g[m], first, minlength=len(unds))
        b += np.bincount(g[m], second, minlength=len(unds))
    return a, b


def _exit_block(tot: dict, ok: list[int], liq_cost: float, shortfall: float, not_costed: list[str], hours,
                s: ExitSettings) -> ExitResult:
    """Sum an account's costed exit groups (positions exit in parallel: time is the longest)."""
    if not ok:
        return ExitResult(None, None, None, None, None, s.horizon_hours, None, None, not_costed=not_costed)
    now, notional = float(tot["close_now_cost"][ok].sum()), float(tot["notional"][ok].sum())
    return ExitResult(
        close_now_cost=now, close_now_bps=1e4 * now / notional, liquidation_cost=float(liq_cost),
        insurance_shortfall=float(shortfall), time_to_exit_hours=float(tot["time_to_exit_hours"][ok].max()),
        horizon_hours=s.horizon_hours, horizon_cost=float(tot["horizon_cost"][ok].sum()),
        book="synthetic" if tot["synthetic"][ok].any() else "snapshot",
        cost_vs_exit_hours=dict(zip(hours.tolist(), tot["curve"][ok].sum(axis=0).tolist())), not_costed=not_costed)


def exit_inputs(cp: CompiledPortfolio, i: int, r: AccountResult):
    """Account ``i``'s futures/spot positions, their (underlying, signed base size, mark) rows for
    the exit-cost model (inverse USD face converted to coin at the mark) and the ATM vol per
    underlying (DEFAULT_EXIT_VOL when the market block has none). Options are not costed."""
    linear, rows = _exit_rows(cp, i, r)
    return linear, rows, {und: cp.market.atm_vol(und) or DEFAULT_EXIT_VOL for und, _, _ in rows}


def _exit_rows(cp: CompiledPortfolio, i: int, r: AccountResult):
    """(futures/spot positions, exit rows) of account ``i`` (see :func:`exit_inputs`)."""
    from liqrisk.margin.base import INVERSE
    pairs = [(p, t) for p, t in zip(r.positions, cp.plans[i].terms) if p.kind in ("perp", "future", "spot")]
    linear = [p for p, _ in pairs]
    rows = [(p.underlying, p.size / p.mark if t is not None and t.contract == INVERSE else p.size, p.mark)
            for p, t in pairs]
    acc = cp.plans[i].account
    if cp.plans[i].rules.is_loan:       # unwinding a loan: sell the collateral, buy back the debt
        legs = acc.supplied_items() + [(c, -u) for c, u in acc.borrowed_items()]
        rows += [(c, u, float(cp.market.prices[cp.market.axis(c)])) for c, u in legs if c in cp.market.names]
    return linear, rows


def _depth(book, und: str, mark: float, vol: float, s: ExitSettings) -> dict:
    """Cumulative depth (base units) by price of the (stressed) book used for ``und``: ``book``,
    else the synthetic one at ``mark``."""
    from liqrisk.liquidity.synthetic import synthetic_book
    book = (book or synthetic_book(mark, vol, 1.0, und)).stressed(s.stress)
    bids, asks = np.asarray(book.bids, float), np.asarray(book.asks, float)
    return {"source": book.book_source, "stress": s.stress,
            "bids": {"price": bids[:, 0], "cumulative": np.cumsum(bids[:, 1])},
            "asks": {"price": asks[:, 0], "cumulative": np.cumsum(asks[:, 1])}}


def _forced_exits(r: AccountResult, positions, rows):
    """(base size, liquidation price, bankruptcy price, underlying) of each forced close: isolated
    positions alone; cross positions netted per underlying (they go at one boundary together)."""
    out, net = [], {}
    for p, (_, base_size, _) in zip(positions, rows):
        if p.liquidation_price is None or p.bankruptcy_price is None:
            continue
        if p.isolated:
            out.append((base_size, p.liquidation_price, p.bankruptcy_price, p.underlying))
        else:
            key = (p.underlying, p.liquidation_price, p.bankruptcy_price)
            net[key] = net.get(key, 0.0) + base_size
    out += [(size, lp, bp, und) for (und, lp, bp), size in net.items() if size != 0]
    return out
