"""Multi-asset GARCH-filtered historical simulation (Barone-Adesi, Giannopoulos & Vosper 1999).

Each asset with daily history is filtered by its own GJR-GARCH(1,1)-t
(:func:`liqrisk.dynamics.garch.fit_garch`): standardised residuals ``z_t = (r_t − μ)/σ_t``.
A simulated day draws **one historical date** and
takes every asset's residual of that date (each asset's residuals re-centred and scaled to
mean 0, variance 1 on the table's dates), so the dependence between the assets (including
joint crashes) is the data's, not a correlation parameter. Each asset's residual is rescaled by
its own GARCH variance, which starts at its current level and follows its own recursion
(``h' = ω + (α + γ·1[ε<0])ε² + βh``).

Where the data come from, per asset:

* ``--vol-from ASSET=FILE`` (OHLC CSV; bars shorter than a day are reduced to daily closes):
  the fit, the residual dates and the current variance (the fit's one-step forecast) are the
  file's;
* else the bundled Bitstamp daily closes (BTC 2014-11-28 → 2020-01-17, ETH from 2017-11-09):
  fit and residual dates from there, the current variance from the market block's vol (the
  history is old: it supplies the dynamics and the shape of the shocks, the market the level);
* an asset with neither (an **assumption**, stated in the output): constant variance from the
  market block's vol, and on each historical date a residual drawn from the normal
  distribution conditional on the other assets' residuals of that date, with the correlation
  the portfolio's ``market.correlation`` gives (0 where it gives none) — one seeded draw per
  date, so it is resampled together with the date.

**Tails** (default, ``tails="gpd"``): the bootstrap alone can never move one step beyond the
largest historical residual; GARCH-EVT (McNeil & Frey 2000, :mod:`liqrisk.dynamics.evt`) fits a
generalized Pareto distribution to each tail of each asset's residuals (beyond the 10 %/90 %
quantiles) and draws each asset at the jittered rank cell of the bootstrapped date's residual
(:class:`~liqrisk.dynamics.paths.Bootstrap`): empirical in the body, GPD in the tails, joint
extremes still joint. ``tails="empirical"`` is plain FHS.

The residual table has one row per date on which every asset with history has a return; fewer
than :data:`MIN_DATES` common dates is an input error (the assets' histories do not overlap).
Steps are one day; a horizon shorter than a day is one step of that length with the day's
variance scaled by the fraction of the day (see :class:`~liqrisk.dynamics.paths.GarchVol`).

**Intraday filter** (issue 10): where an asset has bars of an hour or shorter — the bundled
Coinbase BTC-USD hourly file (:data:`BUNDLED_INTRADAY`), or a ``--vol-from`` file with intraday
bars — the same GJR-GARCH(1,1)-t is also fitted on its **hourly** closes
(:func:`intraday_history`), and horizons of a day or less run on hourly steps with the hourly
standardised residuals (:func:`fhs_model` with hourly histories). A daily shock scaled to 4/24
of a day has the daily distribution's kurtosis; four-hour moves are heavier-tailed and cluster
within the day (docs/calibration.md §4 measures both filters against the hourly history). The
hourly shocks keep the filter's units (:func:`fhs_model`: ω and h0 × the shocks' variance). The
hourly returns are not de-seasonalised by hour of day: on the selection period that changed the
4-hour log score by < 1 % (0.0878 → 0.0871) and the tail frequencies by < 5 %, held out it was
worse, and it would need a per-step variance factor in the book kernel (§4).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from liqrisk.diskcache import cached_arrays, key_of
from liqrisk.dynamics.ohlc import bundled_data_path, load_ohlc
from liqrisk.dynamics.evt import MIN_RESIDUALS, empirical_info
from liqrisk.dynamics.paths import Bootstrap, GarchVol, PathModel

BUNDLED = "btc_eth_usd_1d_bitstamp.csv"
BUNDLED_ASSETS = ("BTC", "ETH")
BUNDLED_INTRADAY = {"BTC": "btcusd_1h_coinbase.csv"}
"""The bundled intraday bars per asset (Coinbase BTC-USD hourly, 2017-07-01 → 2019-10-17)."""
DAY = 86400.0
HOUR = 3600.0
INTRADAY_MAX_HORIZON = 1 / 365
"""Horizons up to a day (years) run on the hourly filter where every asset with history has one."""
MIN_HOURS = 1440
"""Fewest hourly returns for an intraday filter (60 days); fewer: the daily filter runs."""
MIN_DATES = 250
"""Fewest common dates of the assets with history (about a year of daily returns)."""


class HistoryError(ValueError):
    """The assets' histories cannot be joined (too few common dates)."""


@dataclass(frozen=True)
class History:
    """One asset's filtered history: dates (``datetime64[D]``, or ``datetime64[h]`` for an
    hourly filter, ``bar`` = :data:`HOUR`) of the returns, the
    standardised residuals, the GJR parameters (per-bar decimal units), the
    fit's one-step variance forecast, where the data came from and whether the likelihood
    optimiser reported convergence (arch's flag 0; a fit that did not is used, and said so), with
    the restarts a flagged fit got and the kept fit's log-likelihood gain over the first
    (:mod:`liqrisk.dynamics.garch`: the best likelihood of the starts is kept)."""

    dates: np.ndarray
    resid: np.ndarray
    params: dict
    forecast: float
    source: str
    converged: bool = True
    restarts: int = 0
    restart_gain: float = 0.0
    bar: float = DAY

    def fit_note(self) -> str:
        """How the GJR-GARCH fit was obtained (what the reports show beside a fit not converged)."""
        if self.converged and not self.restarts:
            return "converged"
        state = "converged" if self.converged else "arch's optimiser stopped early"
        return (f"{state} after {self.restarts} restarts; kept the highest likelihood of "
                f"{self.restarts + 1} starts (+{self.restart_gain:.3g} over the first)")


def _daily_closes(ohlc) -> tuple[np.ndarray, np.ndarray]:
    """(dates, closes): the last close of each UTC day (bars of a day or longer as they are)."""
    days = ohlc.timestamps.astype("datetime64[D]")
    last = np.r_[days[1:] != days[:-1], True]
    return days[last], ohlc.close[last]


@lru_cache(maxsize=1)
def _fit_versions() -> tuple[str, ...]:
    """The versions of the libraries the fit's numbers depend on (part of its cache key)."""
    from importlib.metadata import version
    return tuple(f"{m} {version(m)}" for m in ("arch", "numpy", "scipy"))


def _hourly_closes(ohlc) -> tuple[np.ndarray, np.ndarray]:
    """(hours, closes): the last close of each UTC hour of bars of an hour or shorter."""
    hours = ohlc.timestamps.astype("datetime64[h]")
    last = np.r_[hours[1:] != hours[:-1], True]
    return hours[last], ohlc.close[last]


def daily_returns(days: np.ndarray, close: np.ndarray, unit: str = "D") -> np.ndarray:
    """Log returns between consecutive ``close`` on ``days`` (ascending), each scaled to one day
    (``unit`` "h": one hour): a return over k days (hours) is divided by √k."""
    gap = np.diff(days.astype(f"datetime64[{unit}]").astype(np.int64)).astype(float)
    return np.diff(np.log(close)) / np.sqrt(gap)


def filtered_history(days: np.ndarray, close: np.ndarray, source: str, bar: float = DAY) -> History:
    """One asset's :class:`History` from its daily ``close`` on ``days``: the GJR-GARCH(1,1)-t fit,
    on one BLAS thread (the optimiser's last digits depend on the thread count, and every engine
    — local, process, Dask with its one-thread workers — must give the same numbers).
    A return over a gap of k > 1 days (missing bars: the bundled file has none from 2019-03-20
    to 2019-03-31) is fit as one day's with its variance scaled to a day, ``r/√k`` (a random
    walk's variance grows linearly in time), not as a one-day move.
    The fit is kept in the on-disk cache (:mod:`liqrisk.diskcache`) under the closes, the
    method and the versions of the libraries that compute it. ``bar`` :data:`HOUR`: ``days``
    are hours (``datetime64[h]``), the returns hourly (a gap of k hours scaled by 1/√k)."""
    unit = "D" if bar == DAY else "h"

    def fit() -> dict[str, np.ndarray]:
        from threadpoolctl import threadpool_limits

        from liqrisk.dynamics.garch import fit_garch
        with threadpool_limits(limits=1):
            f = fit_garch(daily_returns(days, close, unit), kind="gjr", dist="t", bar_seconds=bar)
        return {"resid": np.asarray(f.std_resid, float), "names": np.array(list(f.params)),
                "values": np.array(list(f.params.values()), float),
                "forecast": np.array(f.forecast_variance(1)[0], float), "converged": np.array(f.converged),
                "restarts": np.array(f.restarts), "restart_gain": np.array(f.restart_gain)}

    close = np.ascontiguousarray(close, dtype=float)
    key = key_of("fhs-filter gjr-t daily v4" if bar == DAY else "fhs-filter gjr-t hourly v1",
                 days.astype(f"datetime64[{unit}]").astype(np.int64).tobytes(), close.tobytes(), *_fit_versions())
    out = cached_arrays(key, fit)
    params = {str(n): float(v) for n, v in zip(out["names"], out["values"])}
    return History(days[1:], out["resid"], params, float(out["forecast"]), source, bool(out["converged"]),
                   int(out["restarts"]), float(out["restart_gain"]), bar)


@lru_cache(maxsize=8)
def bundled_history(asset: str) -> History:
    """The bundled daily history of ``asset`` (one of :data:`BUNDLED_ASSETS`), filtered once per
    process."""
    o = load_ohlc(bundled_data_path(BUNDLED), asset.lower())
    days, close = _daily_closes(o)
    return filtered_history(days, close, f"bundled Bitstamp daily closes {days[0]} → {days[-1]}")


def file_history(path: str) -> History:
    """The daily history of an OHLC file (``--vol-from``)."""
    o = load_ohlc(path)
    days, close = _daily_closes(o)
    if len(close) < 60:
        raise HistoryError(f"--vol-from {path}: {len(close)} daily closes; filtered historical "
                           f"simulation needs at least 60")
    return filtered_history(days, close, f"{o.source}: daily closes {days[0]} → {days[-1]}")


def hourly_history(ohlc, source: str) -> History | None:
    """The hourly filter of bars ``ohlc`` (hourly closes of bars of an hour or shorter): None
    when the bars are longer than an hour or give fewer than :data:`MIN_HOURS` hourly returns."""
    if ohlc.bar_seconds > HOUR:
        return None
    hours, close = _hourly_closes(ohlc)
    if len(close) <= MIN_HOURS:
        return None
    return filtered_history(hours, close, f"{source}: hourly closes {hours[0]} → {hours[-1]}", HOUR)


@lru_cache(maxsize=8)
def intraday_history(asset: str, path: str | None = None) -> History | None:
    """The hourly filter of ``asset``: of its ``--vol-from`` file ``path`` when given (None when
    that file's bars are daily or it is too short), else of the bundled intraday bars
    (:data:`BUNDLED_INTRADAY`; None for an asset without)."""
    if path is not None:
        o = load_ohlc(path)
        return hourly_history(o, o.source)
    if asset not in BUNDLED_INTRADAY:
        return None
    return hourly_history(load_ohlc(bundled_data_path(BUNDLED_INTRADAY[asset])),
                          f"bundled Coinbase {asset}-USD")


@dataclass(frozen=True)
class FhsSetup:
    """The path model of :func:`fhs_model` and what it assumed (``info``, JSON-ready)."""

    model: PathModel
    info: dict


TAILS = ("gpd", "empirical")
DEFAULT_TAILS = "gpd"
"""The shocks' tails (``liqrisk analyze --fhs-tails``): ``gpd`` — GARCH-EVT, generalized Pareto
tails fitted beyond each asset's 10 %/90 % residual quantiles (McNeil & Frey 2000,
:mod:`liqrisk.dynamics.evt`); ``empirical`` — plain FHS, the historical residuals only."""


def fhs_model(names: list[str], sigma: np.ndarray, histories: dict[str, History],
              corr: np.ndarray, seed: int = 0, tails: str = DEFAULT_TAILS) -> FhsSetup:
    """The joint FHS model of ``names`` (in that order). ``sigma``: annualised vol per asset
    (the current level for assets whose history is bundled, the constant vol of assets without
    history); ``histories``: the assets with history → :class:`History` (``source`` starting
    with "bundled" takes the level from ``sigma``); ``corr``: the correlation assumed between an
    asset without history and the others (rows/columns in ``names`` order); ``tails``: one of
    :data:`TAILS` — with ``gpd`` each asset with history gets GPD tails
    (:func:`liqrisk.dynamics.evt.semiparametric`; fewer than
    :data:`liqrisk.dynamics.evt.MIN_RESIDUALS` common dates cannot happen here, as
    :data:`MIN_DATES` is the same 250), the assets without history (normal given the others)
    keep their drawn residuals."""
    if tails not in TAILS:
        raise ValueError(f"tails: one of {', '.join(TAILS)}, got {tails!r}")
    known = [n for n in names if n in histories]
    if not known:
        raise HistoryError(f"no history for {', '.join(names)}")
    common = histories[known[0]].dates
    for n in known[1:]:
        common = np.intersect1d(common, histories[n].dates)
    if len(common) < MIN_DATES:
        raise HistoryError(f"the histories of {', '.join(known)} share {len(common)} dates "
                           f"(at least {MIN_DATES} needed): give --vol-from files that overlap")
    bars = {histories[n].bar for n in known}
    if len(bars) > 1:
        raise ValueError("fhs_model: the histories mix daily and hourly filters")
    bar_seconds = bars.pop()
    k = len(names)
    resid = np.zeros((len(common), k))
    omega, alpha, gamma, beta, h0, spread = (np.zeros(k) for _ in range(6))
    info = {"bar": "1d" if bar_seconds == DAY else "1h", "dates": f"{common[0]} → {common[-1]}",
            "n_dates": int(len(common)), "assets": {}}
    bar = bar_seconds / (365 * DAY)
    for j, n in enumerate(names):
        if n not in histories:
            omega[j] = h0[j] = sigma[j] ** 2 * bar
            continue
        h = histories[n]
        z = h.resid[np.isin(h.dates, common)]
        resid[:, j] = (z - z.mean()) / z.std()          # on the table's dates: the vol is h's
        spread[j] = z.std()
        p = h.params
        omega[j], alpha[j], gamma[j], beta[j] = p["omega"], p["alpha"], p.get("gamma", 0.0), p["beta"]
        bundled = h.source.startswith("bundled")
        h0[j] = sigma[j] ** 2 * bar if bundled else h.forecast
        info["assets"][n] = {"history": h.source, "gjr_garch": {x: float(p[x]) for x in
                                                                 ("omega", "alpha", "gamma", "beta")},
                             "gjr_garch_converged": h.converged, "gjr_garch_fit": h.fit_note(),
                             "vol": float(np.sqrt(h0[j] / bar)),
                             "vol_from": "market block" if bundled else "GARCH forecast of the file"}
    missing = [j for j, n in enumerate(names) if n not in histories]
    if missing:
        resid[:, missing] = _assumed_residuals(resid, [names.index(n) for n in known], missing,
                                               corr, seed)
        for j in missing:
            info["assets"][names[j]] = {
                "history": None, "vol": float(sigma[j]), "vol_from": "market block (constant)",
                "assumed": "no history: constant vol from the market block; residual on each "
                           "historical date normal given the other assets' residuals, correlation "
                           "from market.correlation",
                "correlation": {names[i]: float(corr[j, i]) for i in range(k) if i != j}}
    fitted = None
    if tails == "gpd":
        fitted = tuple(_tails_of(np.ascontiguousarray(resid[:, j]).tobytes()) if names[j] in histories
                       else None for j in range(k))
        for j, t in enumerate(fitted):
            if names[j] in histories:
                info["assets"][names[j]]["tails"] = t.info() if t is not None else empirical_info(
                    f"{len(common)} residuals < {MIN_RESIDUALS}: too few for a tail fit")
        if not any(t is not None for t in fitted):
            fitted = None
    else:
        for n in known:
            info["assets"][n]["tails"] = empirical_info("user choice: --fhs-tails empirical")
    info["tails"] = "gpd" if fitted is not None else "empirical"
    if bar_seconds != DAY:
        # hourly: shocks in the filter's units, r = σ_t·(z − z̄) (Barone-Adesi et al.), not
        # re-standardised to variance 1 — the kernel draws unit-variance shocks, so the GJR
        # recursion runs on c·h (ω and h0 × c; it is scale-equivariant), c the variance of the
        # shocks' distribution in the filter's units (the residuals', with GPD tails the
        # semi-parametric one's). With ν ≈ 3 that variance is set by a few residuals (BTC hourly:
        # 57 sd): unit variance would shrink every other shock (docs/calibration.md §4).
        for j, n in enumerate(names):
            if n in histories:
                t = fitted[j] if fitted is not None else None
                c = (spread[j] * (t.scale if t is not None else 1.0)) ** 2
                omega[j], h0[j] = omega[j] * c, h0[j] * c
                info["assets"][n]["shock_sd"] = float(np.sqrt(c))
    vol = GarchVol(omega, alpha, beta, h0, gamma, bar_seconds)
    return FhsSetup(PathModel(vol, Bootstrap(resid, fitted)), info)


@lru_cache(maxsize=64)
def _tails_of(column: bytes):
    """The GPD-tailed distribution of one residual column (its float64 bytes): the fit takes
    ~20 ms, and advise / what-if / the back-tests build the same assets' model many times."""
    from liqrisk.dynamics.evt import semiparametric
    return semiparametric(np.frombuffer(column, dtype=float))


def _assumed_residuals(resid, known, missing, corr, seed) -> np.ndarray:
    """Residuals of the assets without history: ``z_m = B·z_k + L·ε`` per date, the normal
    distribution of ``z_m`` given the known residuals ``z_k`` (ε standard normal, seeded),
    ``B = C_mk C_kk⁻¹``, ``L Lᵀ = C_mm − B C_km``; ``C_kk`` the residuals' sample correlation,
    ``C_mk``, ``C_mm`` from ``corr``."""
    c = np.asarray(corr, float)
    zk = resid[:, known]
    ckk = np.atleast_2d(np.einsum("tk,tj->kj", zk, zk) / len(zk))   # the data's (mean 0, var 1 columns)
    cmk, cmm = c[np.ix_(missing, known)], c[np.ix_(missing, missing)]
    b = np.linalg.solve(ckk, cmk.T).T
    cond = cmm - b @ cmk.T
    try:
        low = np.linalg.cholesky(cond)
    except np.linalg.LinAlgError:
        raise HistoryError("market.correlation: not a valid (positive definite) correlation matrix") from None
    eps = np.random.default_rng(seed).standard_normal((len(resid), len(missing)))
    # einsum's own loops, not BLAS: the same sums whatever the BLAS thread count
    return np.einsum("tk,mk->tm", resid[:, known], b) + np.einsum("tj,mj->tm", eps, low)
