"""`analyze`: the main question — margin, liquidation boundaries, probability of liquidation and
exit cost for every account of a portfolio file — as one result object that every surface
(CLI table, JSON, HTML, API) renders without computing anything of its own.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from liqrisk.io.portfolio import InputError
from liqrisk.load import load_portfolio
from liqrisk.margin.account import CompiledPortfolio
from liqrisk.model import Portfolio
from liqrisk.results import AccountResult, ExitResult, PortfolioAnalysis, RiskResult

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
    model: str = "gbm"
    drift: float = 0.0
    steps_per_day: int = 24
    vol_from: dict[str, str] | None = None   # underlying → OHLC CSV ("*" = the only underlying)
    risk: bool = True                        # VaR/ES of the loss (False: probabilities only, faster)


@dataclass(kw_only=True)
class ExitSettings:
    """Exit-cost settings (CLI: --exit-horizon, --participation, --stress); the order books are
    the market's (``MarketState.books``, CLI --book), synthetic where it has none."""

    horizon_hours: float = 1.0
    participation: float = 0.1
    stress: float = 1.0


CHUNK_ACCOUNTS = 500
"""Accounts per task of the process and Dask engines (and of the local engine, so that every
engine runs the same chunks)."""


def analyze(source: str | Path | dict | Portfolio, probability: ProbabilitySettings | None = None,
            exit: ExitSettings | None = None, curves: bool = False,
            progress: Callable[[int, int], None] | None = None, engine: str = "local",
            scheduler: str | None = None, chunk_accounts: int = CHUNK_ACCOUNTS) -> PortfolioAnalysis:
    """Analyse a portfolio (file path, decoded document or :class:`~liqrisk.model.Portfolio`).

    ``engine``: ``local`` (this process), ``process`` (a process pool) or ``dask`` (a Dask
    cluster at ``scheduler``, or a local one) — each runs chunks of ``chunk_accounts`` accounts
    and gives identical results: an account's numbers depend on its own positions, the market,
    the seed and its underlyings only (see :mod:`liqrisk.risk.book_mc`)."""
    from liqrisk.batch import ENGINES, account_chunks, get_executor
    if engine not in ENGINES:
        raise InputError([f"--engine '{engine}': expected one of {', '.join(ENGINES)}"])
    pf = load_portfolio(source)
    chunks = [(Portfolio(pf.market, pf.accounts[a:b]), probability, exit, curves)
              for a, b in account_chunks(len(pf.accounts), chunk_accounts)]
    if engine == "local":
        parts = [_analyze_chunk(c, progress) for c in chunks]
    else:
        with get_executor(engine, scheduler) as ex:
            parts = ex.map_chunks(_analyze_chunk, chunks)
    out = parts[0]
    for part in parts[1:]:
        out.accounts += part.accounts
        out.curves.update(part.curves)
        out.books = {**part.books, **out.books}
        out.notes += part.notes
    out.notes = list(dict.fromkeys(out.notes))
    return out


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


def _path_model(cp: CompiledPortfolio, names: list[str], s: ProbabilitySettings, notes: list[str]):
    """(path model, simulation step in years or None for the default) for an account's axes."""
    from liqrisk.dynamics import paths

    sigma = np.array([_sigma(cp, n, s) for n in names])
    corr = _correlation(cp.portfolio.market, names, notes) if len(names) > 1 else None
    if s.model == "gbm":
        return paths.gbm(sigma, corr=corr), None
    if s.model == "student":
        return paths.student_t(sigma, STUDENT_NU, corr=corr), None
    if s.model == "merton":
        jumps = paths.MertonJumps(MERTON_DEFAULTS["intensity"], MERTON_DEFAULTS["jump_mean"],
                                  MERTON_DEFAULTS["jump_std"])
        return paths.PathModel(paths.ConstantVol(sigma), jumps=jumps, corr=corr), None
    if len(names) > 1:
        raise _NotApplicable(f"--model fhs describes one underlying; this account moves with {', '.join(names)}")
    return _fhs_model(cp, names[0], sigma[0], s)


def _fhs_model(cp: CompiledPortfolio, name: str, sigma: float, s: ProbabilitySettings):
    """GJR-GARCH(1,1)-t filtered historical simulation fitted on hourly history (--vol-from, or the
    bundled Coinbase BTC-USD hourly bars), simulated on the fit's own bar. Without --vol-from the
    first step's variance is set from the market block's vol (the history is from 2017-2019), so
    the fit supplies the dynamics and the residuals, the market the current level."""
    from liqrisk.dynamics import paths
    from liqrisk.dynamics.garch import fit_garch
    from liqrisk.dynamics.ohlc import bundled_data_path, load_ohlc
    path = _vol_file(cp, name, s)
    if path:
        ohlc = load_ohlc(path)
    elif name == "BTC":
        ohlc = load_ohlc(bundled_data_path("btcusd_1h_coinbase.csv"))
    else:
        raise _NotApplicable(f"--model fhs for {name}: give --vol-from {name}=OHLC.csv (bundled hourly history is BTC only)")
    fit = fit_garch(np.diff(np.log(ohlc.close)), kind="gjr", dist="t", bar_seconds=ohlc.bar_seconds)
    bar_years = ohlc.bar_seconds / (365 * 86400)
    h0 = None if path else sigma ** 2 * bar_years
    return paths.garch_fhs(fit, h0=h0), bar_years


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


def _correlation(market, names: list[str], notes: list[str]) -> np.ndarray:
    """Correlation of ``names``' returns: the market's ``correlation`` where it gives a pair,
    else BTC/ETH from the bundled Bitstamp daily history, other pairs 0 (noted)."""
    corr, assumed = np.eye(len(names)), set()
    given = lambda a, b: (market.correlation.get(a) or {}).get(b, (market.correlation.get(b) or {}).get(a))
    for i, a in enumerate(names):
        for j in range(i + 1, len(names)):
            rho = given(a, names[j])
            if rho is None and {a, names[j]} == {"BTC", "ETH"}:
                rho = _btc_eth_correlation()
            if rho is None:
                assumed |= {a, names[j]} - {"BTC", "ETH"} or {a, names[j]}
                rho = 0.0
            corr[i, j] = corr[j, i] = rho
    if assumed:
        note = f"correlation of {', '.join(n for n in names if n in assumed)} with other underlyings assumed 0 " \
               f"(no bundled history)"
        if note not in notes:
            notes.append(note)
    return corr


@lru_cache(maxsize=1)
def _btc_eth_correlation() -> float:
    """BTC/ETH correlation of daily log returns, bundled Bitstamp history (all complete days)."""
    from liqrisk.dynamics.correlation import estimate_correlation
    from liqrisk.dynamics.ohlc import bundled_columns
    cols = bundled_columns("btc_eth_usd_1d_bitstamp.csv")
    est = estimate_correlation({"BTC": cols["btc_close"], "ETH": cols["eth_close"]})
    return float(np.asarray(est.corr)[0, 1])


def _add_probabilities(cp, results, s: ProbabilitySettings, out: PortfolioAnalysis, progress):
    """Probability, per-pool probability, time to liquidation and VaR/ES blocks of every account,
    on the compiled book: accounts that move with the same underlyings share one path model
    and one simulation (their numbers depend on the seed and their underlyings only)."""
    from liqrisk.advise.funding import book_schedule, funding_block
    from liqrisk.risk.book_mc import SimulationTooLarge, book_liquidation_risk
    from liqrisk.risk.montecarlo import TERM_STRUCTURE

    s.model = MODEL_ALIASES.get(s.model, s.model)
    if s.model not in MODELS:
        raise InputError([f"--model '{s.model}': expected one of {', '.join(MODELS)}"])
    if not math.isfinite(s.drift):
        raise InputError([f"--drift {s.drift}: expected a finite annualised return, e.g. 0.1"])
    years = {h: parse_horizon(h) for h in s.horizons}
    # the standard term structure within the requested window comes free from the same paths
    term = {k: v for k, v in TERM_STRUCTURE.items() if v <= max(years.values()) * (1 + 1e-9)}
    all_years = sorted(set(years.values()) | set(term.values()))
    schedule = book_schedule(cp)          # perp funding from the market block, None without
    groups: dict[tuple, list[int]] = {}
    for i, plan in enumerate(cp.plans):
        axes = tuple(sorted(set().union(*plan.pool_axes.values())))
        if axes:
            groups.setdefault(axes, []).append(i)
    for axes, idx in groups.items():
        names = [cp.market.names[a] for a in axes]
        try:
            model, dt = _path_model(cp, names, s, out.notes)
        except _NotApplicable as e:
            out.notes += [f"account '{results[i].id}': no probability — {e}" for i in idx]
            continue
        run = dict(n_paths=s.paths, seed=s.seed, drift=s.drift, steps_per_day=s.steps_per_day, dt=dt)
        paying = [i for i in idx if schedule is not None and schedule.pays(cp.plans[i])]
        try:
            risks = book_liquidation_risk(cp, idx, list(axes), model, all_years, progress=progress,
                                          risk=s.risk, funding=schedule, **run)
            # the same paths and estimators at zero funding: how much of the risk funding adds
            unfunded = dict(zip(paying, book_liquidation_risk(cp, paying, list(axes), model, all_years,
                                                                risk=False, funding=schedule.zero(), **run))) \
                if paying else {}
        except SimulationTooLarge as e:
            raise InputError([f"--horizon/--paths: {e}"]) from None
        for i, risk in zip(idx, risks):
            _probability_blocks(results[i], risk, years, term, s.model)
            if i in unfunded:
                results[i].funding = funding_block(schedule, cp.plans[i], risk, unfunded[i], {**term, **years})


def _probability_blocks(r: AccountResult, risk, years: dict, term: dict, model: str) -> None:
    r.probability = {h: risk.probabilities[y] for h, y in years.items()}
    r.term_structure = {h: risk.probabilities[y] for h, y in term.items()}
    r.pools = {label: {h: est[y] for h, y in years.items()} for label, est in risk.pools.items()}
    r.risk = RiskResult(
        model=model, var99={h: risk.var99.get(y) for h, y in years.items()},
        es99={h: risk.es99.get(y) for h, y in years.items()},
        time_to_liquidation_quantiles_hours={str(q): v * 365 * 24 for q, v in risk.time_to_liquidation.items()},
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
