"""Calibration back-test of analyze's probability models on real daily BTC and ETH history, run by
the engine analyze runs (one compiled book per date, :func:`~liqrisk.risk.book_mc.book_liquidation_risk`).

At the close of every ``every``-th day ``t`` of a daily BTC/ETH file (default the bundled Bitstamp
closes, BTC 2014-11-28 → 2020-01-17, ETH from 2017-11-09) hypothetical Binance USDⓈ-M accounts
are opened at that close, P(liquidated within h days) is predicted from data up to the close of
``t`` only, and compared with what the next days' prices did.

Accounts (:func:`accounts`), for every asset with at least :data:`MIN_HISTORY` daily returns:

* **isolated** BTCUSDT / ETHUSDT perps, long and short, notional :data:`NOTIONAL` at the close,
  isolated margin ``notional/leverage``, leverage :data:`ISOLATED_LEVERAGES`;
* **cross**, once both assets have history: both legs in one cross pool, :data:`NOTIONAL` of each,
  collateral ``2·NOTIONAL/leverage`` USDT (leverage on the gross notional, :data:`CROSS_LEVERAGES`):
  long BTC / short ETH, long both, short both.

Inputs at date ``t``:

* the market block: marks = the closes, vol = RiskMetrics EWMA (λ 0.94) of the daily closes,
  ``market.correlation`` = the sample correlation of the last :data:`CORR_DAYS` daily log returns;
* ``gbm``, ``student``, ``merton``: analyze's own construction from that market block
  (:func:`liqrisk.analysis._path_model`: ν, jump parameters, steps of an hour);
* ``fhs``: each asset's GJR-GARCH(1,1)-t fitted on its daily closes from the file's first day to
  ``t`` (refitted at every date), its one-step forecast as today's variance, daily steps, GPD
  tails of the residuals up to ``t`` (fhs's default, :mod:`liqrisk.dynamics.evt`) — what
  ``analyze --vol-from BTC=F --vol-from ETH=F`` runs for a file ``F`` that ends at ``t``;
* ``vol_scale`` multiplies every model's volatility (the diffusion σ; for fhs ω and today's
  variance by its square): a deliberately mis-scaled model for comparison.

**Outcome** (:func:`realised`): the book's margin kernel at the next days' prices. An account is
liquidated within ``h`` days if on one of days 1 … h a margined pool has equity ≤ MM at the
**adverse intraday extremes** (the low of an asset it is long, the high of one it is short): exact
for the one-asset accounts (up to mark vs traded price, fees and funding), an **upper bound** for
the cross accounts (the two extremes need not occur at the same moment); the cross accounts are
also scored against the **daily closes**, a lower bound. Forecasts of one date share a market, and
7-day windows overlap when ``every`` < 7: the effective sample is smaller than the count. Horizons
and ``every`` are calendar days; a date whose window runs over a gap of the file is skipped (the
bundled file lacks 2019-03-20 … 2019-03-31; the GARCH fits and the EWMA take the return across
the gap as one day's, as analyze does with that file).

**Periods** (:data:`PERIODS`): the default model was chosen on the hourly back-test of 2017-07-01
→ 2019-10-17 (:mod:`liqrisk.risk.calibration`); every forecast after it or before it is held out.
The fixed parameters (ν, the jump parameters, the EWMA λ) are documented defaults, not fitted.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from liqrisk.dynamics.fhs import DAY, History, fhs_model, filtered_history
from liqrisk.dynamics.ohlc import DataError, bundled_data_path, load_ohlc
from liqrisk.dynamics.paths import ConstantVol, GarchVol, PathModel
from liqrisk.dynamics.volatility import ewma
from liqrisk.load import parse_portfolio
from liqrisk.margin import kernel as K
from liqrisk.margin.account import CompiledPortfolio
from liqrisk.risk.scores import Scores, score

DATA = "btc_eth_usd_1d_bitstamp.csv"
ASSETS = ("BTC", "ETH")
NOTIONAL = 10_000.0
ISOLATED_LEVERAGES = (3, 5, 10, 20)
CROSS_LEVERAGES = (3, 5, 10)
CROSS_BOOKS = {"long BTC / short ETH": (1, -1), "long both": (1, 1), "short both": (-1, -1)}
HORIZONS = (1, 7)
MODELS = ("gbm", "student", "merton", "fhs")
MIN_HISTORY = 365
"""Daily returns an asset needs before its first forecast (FHS needs 250 common dates)."""
CORR_DAYS = 365
PERIODS = {"held out, before": ("0001-01-01", "2017-06-30"),
           "selection (hourly back-test)": ("2017-07-01", "2019-10-17"),
           "held out, after": ("2019-10-18", "9999-12-31")}
EXTREMES, CLOSES = "intraday extremes", "daily closes (lower bound)"


@dataclass(frozen=True)
class Account:
    """One hypothetical account: its group (``set``), name, side (+1/−1) per asset and leverage."""

    set: str
    name: str
    sides: dict[str, int]
    leverage: float

    def document(self, marks: dict[str, float]) -> dict:
        """The account as an input-file entry, opened at ``marks``."""
        legs = [{"symbol": f"{a}USDT", "kind": "perp", "size": s * NOTIONAL / marks[a],
                 "entry": marks[a]} for a, s in self.sides.items()]
        doc = {"id": self.name, "venue": "binance-usdm", "mode": "cross", "positions": legs}
        if len(legs) == 1:
            legs[0]["margin"] = NOTIONAL / self.leverage
        else:
            doc["collateral"] = {"USDT": len(legs) * NOTIONAL / self.leverage}
        return doc


def accounts(assets: tuple[str, ...]) -> list[Account]:
    """The back-test's accounts for the assets that have history (module docstring)."""
    out = [Account(f"{a} isolated", f"{a} {'long' if s > 0 else 'short'} {lev}x", {a: s}, lev)
           for a in assets for lev in ISOLATED_LEVERAGES for s in (1, -1)]
    if set(ASSETS) <= set(assets):
        out += [Account("BTC+ETH cross", f"{book} {lev}x", dict(zip(ASSETS, sides)), lev)
                for book, sides in CROSS_BOOKS.items() for lev in CROSS_LEVERAGES]
    return out


@dataclass(frozen=True, eq=False)
class Daily:
    """Daily bars of the assets on one calendar (NaN before an asset starts); loaded once per
    file and process (:func:`load_daily`), so that fits are cached per object."""

    days: np.ndarray
    high: dict[str, np.ndarray]
    low: dict[str, np.ndarray]
    close: dict[str, np.ndarray]
    source: str


@lru_cache(maxsize=4)
def load_daily(path: str | None = None) -> Daily:
    """The ``btc_*`` and ``eth_*`` columns of a daily OHLC file (default the bundled one)."""
    path = Path(path or bundled_data_path(DATA))
    bars = {a: load_ohlc(path, a.lower()) for a in ASSETS}
    for a, b in bars.items():
        if abs(b.bar_seconds - DAY) > 3600:
            raise DataError(f"{path.name}: {a} bars are {b.bar_seconds / 3600:g} h apart; the back-test "
                            f"needs daily bars (or --hourly)")
    days = np.union1d(*(b.timestamps.astype("datetime64[D]") for b in bars.values()))
    out = {f: {} for f in ("high", "low", "close")}
    for a, b in bars.items():
        at = np.searchsorted(days, b.timestamps.astype("datetime64[D]"))
        for f in out:
            out[f][a] = np.full(len(days), np.nan)
            out[f][a][at] = getattr(b, f)
    return Daily(days, out["high"], out["low"], out["close"], path.name)


@lru_cache(maxsize=1024)
def _history(daily: Daily, asset: str, t: int) -> History:
    """``asset``'s filtered history from its first close to the close of day ``t``."""
    c = daily.close[asset][: t + 1]
    ok = np.isfinite(c)
    days = daily.days[: t + 1][ok]
    return filtered_history(days, c[ok], f"{daily.source}: daily closes {days[0]} → {days[-1]}")


def _market(daily: Daily, assets, t: int) -> dict:
    """The market block at the close of day ``t`` (data up to that close only)."""
    m = {a: {"mark": float(daily.close[a][t]),
             "vol": ewma(daily.close[a][: t + 1][np.isfinite(daily.close[a][: t + 1])])}
         for a in assets}
    if len(assets) > 1:
        r = np.diff(np.log(np.column_stack([daily.close[a][t - CORR_DAYS: t + 1] for a in assets])), axis=0)
        m["correlation"] = {assets[1]: {assets[0]: float(np.corrcoef(r.T)[0, 1])}}
    return m


def _scaled(model: PathModel, c: float) -> PathModel:
    """``model`` with its volatility multiplied by ``c``."""
    v = model.volatility
    if isinstance(v, ConstantVol):
        return replace(model, volatility=replace(v, sigma=np.asarray(v.sigma, float) * c))
    assert isinstance(v, GarchVol)
    return replace(model, volatility=replace(v, omega=np.asarray(v.omega) * c * c, h0=np.asarray(v.h0) * c * c))


def _model(cp: CompiledPortfolio, daily: Daily, t: int, names: list[str], name: str, seed):
    """(path model, step in years or None) of analyze's model ``name`` at day ``t``."""
    from liqrisk.analysis import ProbabilitySettings, _path_model
    if name != "fhs":
        model, dt, _ = _path_model(cp, names, name, ProbabilitySettings(["1d"], seed=seed), [])
        return model, dt
    sigma = np.array([cp.market.atm_vol(n) for n in names])
    hist = {n: _history(daily, n, t) for n in names}
    return fhs_model(names, sigma, hist, np.eye(len(names)), seed=seed).model, DAY / (365 * DAY)


def realised(cp: CompiledPortfolio, i: int, acc: Account, daily: Daily, t: int,
             horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Liquidated by day 1 … ``horizon`` after ``t`` (cumulative, bool arrays): at the adverse
    intraday extremes and at the closes, by the book's margin kernel."""
    days = slice(t + 1, t + 1 + horizon)
    ext = np.repeat(cp.market.prices[None, :], horizon, axis=0)
    close = ext.copy()
    for a, side in acc.sides.items():
        ax = cp.market.axis(a)
        ext[:, ax] = (daily.low if side > 0 else daily.high)[a][days]
        close[:, ax] = daily.close[a][days]
    plan = cp.plans[i]
    pools = np.array([p for p in plan.pools if cp.arrays.margined(p)], dtype=np.int64)
    eq, mm = K.pools_states_nb(pools, np.vstack([ext, close]), 0.0, cp.arrays.args())
    hit = ((eq - mm) <= 0).any(axis=1)
    return np.logical_or.accumulate(hit[:horizon]), np.logical_or.accumulate(hit[horizon:])


def _period(day) -> str:
    return next(p for p, (lo, hi) in PERIODS.items() if np.datetime64(lo) <= day <= np.datetime64(hi))


@dataclass(frozen=True)
class Calibration:
    """The scores of one model on one account set, outcome, period and horizon."""

    accounts: str
    outcome: str
    period: str
    horizon_days: int
    model: str
    scores: Scores


@dataclass(frozen=True)
class BookBacktest:
    """The back-test's setup and every :class:`Calibration` (see the module docstring)."""

    data: str
    first_date: str
    last_date: str
    dates: int
    every_days: int
    n_paths: int
    seed: int
    vol_scale: float
    periods: dict[str, tuple[str, str]]
    accounts: dict[str, list[str]]
    results: list[Calibration]
    seconds: dict[str, float]

    def best(self) -> list[dict]:
        """Per account set, outcome, period and horizon: the models with the lowest log score
        and with the lowest ECE."""
        keys = dict.fromkeys((c.accounts, c.outcome, c.period, c.horizon_days) for c in self.results)
        out = []
        for k in keys:
            group = [c for c in self.results if (c.accounts, c.outcome, c.period, c.horizon_days) == k]
            out.append(dict(zip(("accounts", "outcome", "period", "horizon_days"), k)) |
                       {"lowest_log_score": min(group, key=lambda c: c.scores.log_score).model,
                        "lowest_ece": min(group, key=lambda c: c.scores.ece).model})
        return out

    def to_dict(self) -> dict:
        return asdict(self) | {"best": self.best()}


def forecast_days(daily: Daily, every: int, start: str | None = None, end: str | None = None) -> list[int]:
    """Day indices of the forecasts: every ``every``-th calendar day from the first on which BTC
    has :data:`MIN_HISTORY` returns, within [start, end], whose next ``max(HORIZONS)`` days are
    all in the file (a window over a gap of the file is not observed: no forecast)."""
    first = int(np.argmax(np.isfinite(daily.close["BTC"]))) + MIN_HISTORY
    h = max(HORIZONS)
    lo = np.datetime64(start or "0001-01-01")
    hi = np.datetime64(end or "9999-12-31")
    d = daily.days
    return [t for t in range(first, len(d) - h) if (d[t] - d[first]).astype(int) % every == 0
            and lo <= d[t] <= hi and (d[t + h] - d[t]).astype(int) == h]


def backtest_book(path: str | Path | None = None, models=MODELS, every: int = 7,
                  start: str | None = None, end: str | None = None, n_paths: int = 2000,
                  seed: int = 0, vol_scale: float = 1.0) -> BookBacktest:
    """Run the back-test (module docstring) on the forecast dates of :func:`forecast_days`."""
    from liqrisk.risk.book_mc import book_liquidation_risk
    daily = load_daily(str(path) if path else None)
    days = forecast_days(daily, every, start, end)
    if not days:
        raise ValueError(f"no forecast date in {start or 'the start'} … {end or 'the end'} with "
                         f"{MIN_HISTORY} days of history and {max(HORIZONS)} days after")
    years = [h / 365 for h in HORIZONS]
    rows = []            # (set, period, horizon, outcome kind) → (prediction per model, outcome)
    seconds = dict.fromkeys(models, 0.0)
    names_by_set: dict[str, list[str]] = {}
    for t in days:
        assets = tuple(a for a in ASSETS if np.isfinite(daily.close[a][: t + 1]).sum() > MIN_HISTORY)
        accs = accounts(assets)
        market = _market(daily, assets, t)
        cp = CompiledPortfolio(parse_portfolio({"as_of": f"{daily.days[t] + 1}T00:00:00Z",
                                                "market": market,
                                                "accounts": [a.document({x: market[x]["mark"] for x in assets})
                                                             for a in accs]}))
        pred = {m: np.zeros((len(accs), len(HORIZONS))) for m in models}
        groups: dict[tuple, list[int]] = {}
        for i, plan in enumerate(cp.plans):
            groups.setdefault(tuple(sorted(set().union(*plan.pool_axes.values()))), []).append(i)
        for m in models:
            t0 = time.perf_counter()
            for axes, idx in groups.items():
                names = [cp.market.names[a] for a in axes]
                model, dt = _model(cp, daily, t, names, m, seed)
                risks = book_liquidation_risk(cp, idx, list(axes), _scaled(model, vol_scale), years,
                                              n_paths=n_paths, seed=(seed, t), dt=dt, risk=False)
                for i, r in zip(idx, risks):
                    pred[m][i] = [r.probabilities[y].p for y in years]
            seconds[m] += time.perf_counter() - t0
        period = _period(daily.days[t])
        for i, acc in enumerate(accs):
            names_by_set.setdefault(acc.set, [])
            if acc.name not in names_by_set[acc.set]:
                names_by_set[acc.set].append(acc.name)
            ext, close = realised(cp, i, acc, daily, t, max(HORIZONS))
            kinds = [(EXTREMES, ext)] + ([(CLOSES, close)] if len(acc.sides) > 1 else [])
            for j, h in enumerate(HORIZONS):
                for kind, hit in kinds:
                    rows.append(((acc.set, kind, period, h), {m: pred[m][i, j] for m in models}, hit[h - 1]))
    keys = dict.fromkeys(k for k, _, _ in rows)
    results = []
    for k in keys:
        sel = [(p, o) for kk, p, o in rows if kk == k]
        o = np.array([x for _, x in sel], float)
        for m in models:
            results.append(Calibration(*k, m, score(np.array([p[m] for p, _ in sel]), o)))
    return BookBacktest(daily.source, str(daily.days[days[0]]), str(daily.days[days[-1]]), len(days),
                        every, n_paths, seed, vol_scale, PERIODS, names_by_set, results, seconds)
