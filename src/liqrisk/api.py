"""The Python API: one call per question, typed results (see README, "Python API").

    import liqrisk
    res = liqrisk.analyze("examples/multi_venue.yaml", horizons=["1d", "7d"], paths=20_000, seed=1)
    res.account("binance-main").liquidation["BTC"]["down"]
    res.to_frame()                                  # one row per account (pandas)
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

from liqrisk.analysis import ExitSettings, ProbabilitySettings, analyze as _analyze
from liqrisk.load import load_portfolio
from liqrisk.model import Portfolio
from liqrisk.results import CascadeAnalysis, PortfolioAnalysis

__all__ = ["analyze", "load_portfolio", "simulate_cascade"]


def analyze(source: str | Path | dict | Portfolio, horizons: Sequence[str] = (), *, model: str | None = None,
            paths: int = 20_000, seed: int = 7, drift: float = 0.0, vol_from: dict[str, str] | None = None,
            books: dict | None = None, exit_horizon_hours: float = 1.0, participation: float = 0.1,
            stress: float = 1.0, curves: bool = False, range_paths: int | None = None,
            fhs_tails: str = "gpd", progress: Callable[[int, int], None] | None = None) -> PortfolioAnalysis:
    """Margin, every liquidation boundary, the exit cost and — with ``horizons`` ("1h", "1d",
    "7d", …) — the probability of liquidation of every account of ``source`` (a YAML/JSON path,
    a decoded document, or a :class:`~liqrisk.model.Portfolio`), as ``liqrisk analyze`` does.

    ``model``: path model (auto | gbm | merton | student | fhs; None = auto, the calibrated
    default), ``range_paths`` per other model of the model range (None: as the CLI, 0: none),
    ``fhs_tails`` the fhs shocks (gpd: GARCH-EVT tails, empirical: plain FHS), ``paths`` per
    account, ``seed`` (results reproducible by seed), ``drift`` (annualised), ``vol_from``
    (underlying → OHLC CSV to estimate its vol from), ``books`` (underlying → order book, else
    synthetic; added to the market's ``books``), the exit horizon, participation rate and book stress, ``curves`` (equity and MM
    along each price axis, for the HTML report), ``progress(done, total)``."""
    prob = None
    if horizons:
        prob = ProbabilitySettings(list(horizons), paths, seed, drift=drift, vol_from=vol_from,
                                   range_paths=range_paths, fhs_tails=fhs_tails)
        if model is not None:
            prob.model = model
    if books:
        pf = load_portfolio(source)
        source = pf.with_market(replace(pf.market, books={**pf.market.books, **books}))
    return _analyze(source, prob, ExitSettings(horizon_hours=exit_horizon_hours, participation=participation,
                                               stress=stress), curves=curves, progress=progress)


def simulate_cascade(scenario: str | Path | dict, accounts: str | Path | None = None,
                     executor=None) -> CascadeAnalysis:
    """A liquidation cascade (or the scenario's sweep) as ``liqrisk cascade`` runs it:
    ``scenario`` a YAML path or decoded document, ``accounts`` a population file (CSV/Parquet,
    Hyperliquid state, or a portfolio file) unless the scenario names its population;
    ``executor`` for sweeps (:func:`liqrisk.batch.get_executor`)."""
    from liqrisk.cascade.run import resolve_population, run_scenario
    from liqrisk.cascade.scenario import load_scenario, scenario_from_dict
    if isinstance(scenario, dict):
        sc, base = scenario_from_dict(scenario), None
    else:
        sc, base = load_scenario(scenario), Path(scenario).parent
    return CascadeAnalysis(run_scenario(sc, resolve_population(sc, accounts, base), executor))
