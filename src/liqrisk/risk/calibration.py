"""Back-test of predicted liquidation probabilities against real BTC history.

At the close of every hourly bar ``t`` (after ``min_history`` bars) we open hypothetical
isolated BTCUSDT positions, long and short, at each leverage, on Binance USDⓈ-M rules
(docs/venues.md §0–1): notional ``NOTIONAL`` = 10,000 USDT at the close (so every position sits in
the first BTCUSDT tier: 0.4%, cum 0), isolated margin ``IM = notional/leverage``, tiered MM
from ``binance_usdm_brackets_2026-09.json``; the liquidation price is the margin engine's (on a
compiled one-position account — Binance's closed form ``LP = (IM + cum − side·Q·EP)/(Q·MMR −
side·Q)``, tier selected at the liquidation notional ``Q·LP``, is the test oracle). With a fixed
notional, ``LP/EP`` is the same at every hour.

**Prediction** of P(liquidated within ``horizon_hours``) uses data up to the close of bar
``t`` only: returns ``ln C_{i+1}/C_i`` for ``i < t``.

* ``gbm`` — reflection-principle closed form with the EWMA vol (λ = ``ewma_lambda`` per hour)
  at bar t, zero drift.
* ``student_t`` — the same EWMA vol, unit-variance Student-t hourly innovations whose ν is
  re-estimated (MLE, location 0) on the EWMA-standardised returns before every refit point;
  Monte Carlo (hourly steps + Brownian bridge, the fused kernel's plain estimator) tabulated
  on a fixed vol grid.
* ``garch_fhs`` — GJR-GARCH(1,1) refitted every ``refit_every`` bars on all returns before
  the refit point (:func:`liqrisk.dynamics.garch.fit_garch`), conditional variance filtered
  forward with the fitted parameters, GARCH-filtered historical simulation from the fit's
  standardised residuals, tabulated on a fixed grid of the next-bar variance.
* ``garch_evt`` — the same with generalized Pareto tails fitted to the residuals beyond their
  10 %/90 % quantiles (GARCH-EVT, McNeil & Frey 2000: :mod:`liqrisk.dynamics.evt`), drawn as
  analyze's default fhs draws them.

Both Monte Carlo models interpolate a probability table on a fixed, data-independent state
grid (linear in log state), so a prediction depends on the past only. Grid points above the
largest state of a refit block are not simulated (they cannot enter the interpolation); at
each grid point one set of paths serves all positions (common random numbers, seeded by
``(seed, block, grid point)``).

**Outcome**: a long is liquidated if any of the next ``horizon_hours`` bars has
``low ≤ LP``, a short if ``high ≥ LP``. Intrabar crossings are judged by the bar's high/low of
the *traded* price (Coinbase BTC-USD); the mark-vs-last difference, funding payments and fees
are ignored. Overlapping 24h windows make outcomes strongly autocorrelated: the effective
sample is far smaller than the count.

**Scores** (:mod:`liqrisk.risk.scores`): Brier score with Murphy's decomposition, log score,
expected calibration error and the reliability table with binomial intervals. The
best-calibrated model is the one with the smallest REL.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import stats

from liqrisk.dynamics.garch import fit_garch
from liqrisk.dynamics.ohlc import OHLC, bundled_data_path, load_ohlc
from liqrisk.dynamics.paths import Bootstrap, GarchVol, PathModel, map_chunks, student_t
from liqrisk.dynamics.volatility import rolling_vol
from liqrisk.risk.bridge import bridge_survival
from liqrisk.risk.first_passage import hit_probability
from liqrisk.risk.scores import Scores, score

DATA = "btcusd_1h_coinbase.csv"
NOTIONAL = 10_000.0
LEVERAGES = (5, 10, 25)
MODELS = ("gbm", "student_t", "garch_fhs", "garch_evt")
HOURS_PER_YEAR = 8760
VOL_GRID = np.exp(np.linspace(np.log(0.1), np.log(4.0), 25))
"""Annualised vol grid (10% … 400%) on which the Monte Carlo models are tabulated."""


def isolated_lp_ratio(side: int, leverage: float, notional: float) -> float:
    """``LP/EP`` of an isolated BTCUSDT perp of ``notional`` USDT with margin ``notional/leverage``,
    found by the margin engine (Binance USDⓈ-M rules, bundled brackets: the tier is read at the
    notional at each price) on prices normalised by the entry (EP = mark = 1). A long without a
    positive LP (leverage ≤ 1) is never liquidated: 0.0."""
    from liqrisk.load import parse_portfolio
    from liqrisk.margin import kernel as K
    from liqrisk.margin.account import CompiledPortfolio
    cp = CompiledPortfolio(parse_portfolio({
        "as_of": "2026-01-01T00:00:00Z", "market": {"BTC": {"mark": 1.0, "vol": 0.5}},
        "accounts": [{"id": "backtest", "venue": "binance-usdm", "collateral": {"USDT": 0.0},
                      "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": side * notional,
                                     "entry": 1.0, "margin": notional / leverage}]}]}))
    pool = cp.plans[0].position_pools[0]
    down, up, _ = K.nearest_boundaries_nb(np.array([pool], np.int64), np.array([0], np.int64),
                                          cp.market.prices, True, K.coarse_grid(), K.fine_grid(),
                                          cp.arrays.args())
    lp = float(down[0] if side > 0 else up[0])
    if not np.isfinite(lp):
        if side > 0:
            return 0.0
        raise ValueError(f"no liquidation price (short, leverage {leverage})")
    return lp


@dataclass(frozen=True)
class Position:
    """One hypothetical isolated BTCUSDT position on prices normalised by the entry (EP = 1,
    notional in USDT); its liquidation price from the margin engine."""

    side: int
    leverage: float
    notional: float

    @property
    def name(self) -> str:
        return f"{'long' if self.side > 0 else 'short'} {self.leverage:g}x"

    @cached_property
    def lp_ratio(self) -> float:
        return isolated_lp_ratio(self.side, self.leverage, self.notional)

    def log_bounds(self) -> tuple[float, float]:
        """(lower, upper) log barrier relative to the entry (−inf / +inf: none)."""
        if self.side > 0:
            return (float(np.log(self.lp_ratio)) if self.lp_ratio > 0 else -np.inf), np.inf
        return -np.inf, float(np.log(self.lp_ratio))


def positions(leverages=LEVERAGES, notional=NOTIONAL) -> list[Position]:
    return [Position(side, lev, notional) for lev in leverages for side in (1, -1)]


def realised(ohlc: OHLC, pos: Position, horizon: int) -> np.ndarray:
    """1.0 where the position opened at the close of bar t is liquidated within the next
    ``horizon`` bars (low ≤ LP for longs, high ≥ LP for shorts); NaN where data runs out."""
    out = np.full(len(ohlc), np.nan)
    lp = ohlc.close[:-horizon] * pos.lp_ratio
    if pos.side > 0:
        out[:-horizon] = sliding_window_view(ohlc.low[1:], horizon).min(1) <= lp
    else:
        out[:-horizon] = sliding_window_view(ohlc.high[1:], horizon).max(1) >= lp
    return out


def _mc_tables(model_at, pos_list: list[Position], states: np.ndarray, horizon: int,
               n_paths: int, seed: tuple) -> np.ndarray:
    """P(liquidation within horizon), shape (n_states, n_positions), each column made
    non-decreasing in the state. One set of ``n_paths`` hourly paths per state (states in
    parallel threads) is shared by all positions (common random numbers): the estimate of each
    position is the fused kernel's plain one — Brownian-bridge survival against its LP with
    each step's own variance (GARCH: the path's conditional variance at that step), 0 after a
    discrete breach — on those paths."""
    dt = 1 / HOURS_PER_YEAR
    bounds = [p.log_bounds() for p in pos_list]

    def one(i):
        return hit_probabilities(model_at(states[i]), horizon, dt, bounds, n_paths, (*seed, i))

    return np.maximum.accumulate(np.array(map_chunks(one, range(len(states)))), axis=0)


def hit_probabilities(model: PathModel, n_steps: int, dt: float, bounds, n_paths: int, seed) -> list[float]:
    """P(the log price leaves (lo, hi) within ``n_steps`` of ``dt`` years) for each (lo, hi) of
    ``bounds`` (log offsets from the start), on one set of ``n_paths`` paths of ``model`` (one
    underlying) seeded by ``seed``: the fused kernel's plain estimator — Brownian-bridge survival
    with each step's own variance (GARCH: the path's conditional variance at that step), 0 after
    a discrete breach."""
    x = np.zeros((n_paths, n_steps + 1))
    incr = model.simulate(n_paths, n_steps, dt, np.random.SeedSequence(seed), threads=1)
    np.cumsum(incr[:, :, 0], axis=1, out=x[:, 1:])
    vol = model.volatility
    c = (2.0 / vol.path_variances(incr[:, :, 0], dt, float(np.ravel(model.mu)[0]) * dt)
         if isinstance(vol, GarchVol) else 2.0 / (model.sigma[0] ** 2 * dt))
    return [1.0 - float(np.mean(np.prod(bridge_survival(x[:, :-1], x[:, 1:], lo, hi, c), axis=1)))
            for lo, hi in bounds]


def window_moves(ohlc: OHLC, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """(up, down) per bar t: the largest log move over the next ``horizon`` bars from the close
    of t, up ``ln(max high / close_t)``, down ``−ln(min low / close_t)``; NaN where data runs out."""
    up, down = np.full(len(ohlc), np.nan), np.full(len(ohlc), np.nan)
    up[:-horizon] = np.log(sliding_window_view(ohlc.high[1:], horizon).max(1) / ohlc.close[:-horizon])
    down[:-horizon] = -np.log(sliding_window_view(ohlc.low[1:], horizon).min(1) / ohlc.close[:-horizon])
    return up, down


def daily_scale(ohlc: OHLC, lam: float = 0.94) -> np.ndarray:
    """Per bar: the RiskMetrics EWMA (λ ``lam``) sd of daily log returns between the last closes
    of UTC days, up to the day before the bar's day (seeded with the first 30 returns' variance);
    NaN on the first day. The market-block level of benchmarks/fhs_tails_4h.py."""
    days = ohlc.timestamps.astype("datetime64[D]")
    last = np.r_[days[1:] != days[:-1], True]
    dd, r = days[last], np.diff(np.log(ohlc.close[last]))
    var, v = np.empty(len(r)), r[:30].var()
    for i, x in enumerate(r):
        v = lam * v + (1 - lam) * x * x
        var[i] = v
    # day dd[i+1]'s sd (its return included) serves the bars of the next day, dd[i+2]
    sd = np.full(len(dd), np.nan)
    sd[2:] = np.sqrt(var[:-1])
    return sd[np.searchsorted(dd, days)]


def gjr_filter(params: dict, r: np.ndarray, h0: float) -> np.ndarray:
    """Next-bar variance after each return of ``r`` (length ``len(r)``): the GJR recursion
    ``h' = ω + (α + γ·1[e<0])e² + βh``, ``e = r − μ``, from ``h0`` (the variance of ``r[0]``)."""
    mu, omega, alpha, beta = params.get("mu", 0.0), params["omega"], params["alpha"], params["beta"]
    gamma = params.get("gamma", 0.0)
    h, out = h0, np.empty(len(r))
    for i, x in enumerate(r):
        e = x - mu
        h = omega + (alpha + gamma * (e < 0)) * e * e + beta * h
        out[i] = h
    return out


def _interp(table: np.ndarray, grid: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.interp(np.log(x), np.log(grid), table)


def predict(ohlc: OHLC, model: str, pos_list: list[Position], horizon: int = 24,
            min_history: int = 2160, refit_every: int = 720, ewma_lambda: float = 0.97,
            n_paths: int = 4096, seed: int = 0) -> np.ndarray:
    """Predicted probabilities, shape (n_bars, n_positions), NaN before ``min_history``.
    Row t uses closes up to bar t only."""
    n = len(ohlc)
    out = np.full((n, len(pos_list)), np.nan)
    r = ohlc.log_returns()
    vol = rolling_vol(ohlc, "ewma", 1, lam=ewma_lambda)      # annualised, causal, per bar
    t_years = horizon / HOURS_PER_YEAR
    if model == "gbm":
        for j, pos in enumerate(pos_list):
            out[min_history:, j] = hit_probability(1.0, pos.lp_ratio, vol[min_history:], t_years)
        return out
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    for b, start in enumerate(range(min_history, n, refit_every)):
        rows = slice(start, min(start + refit_every, n))
        past = r[:start]                                      # ends at close `start`
        if model == "student_t":
            z = past[1:] / (vol[1:start] / np.sqrt(HOURS_PER_YEAR))
            nu = max(2.1, stats.t.fit(z[np.isfinite(z)][-8760:], floc=0)[0])
            state, grid = vol[rows], VOL_GRID
            model_at = lambda s, nu=nu: student_t(s, nu)     # noqa: E731
        else:
            fit = fit_garch(past[-8760 * 2:], kind="gjr", bar_seconds=ohlc.bar_seconds)
            state = _garch_filter(fit, r, start, rows.stop)
            grid = VOL_GRID ** 2 / HOURS_PER_YEAR
            boot = Bootstrap(fit.std_resid)
            if model == "garch_evt":
                from liqrisk.dynamics.evt import semiparametric
                boot = Bootstrap(fit.std_resid, (semiparametric(np.asarray(fit.std_resid, float)),))
            model_at = lambda h, fit=fit, boot=boot: PathModel(GarchVol.from_fit(fit, h), boot)   # noqa: E731
        x = np.clip(state, grid[0], grid[-1])
        # interpolation reads only the grid points up to the first one ≥ max(state), and the
        # running maximum of the table only points below: the rest is not simulated (per-point
        # seeds: the same table as with the full grid)
        used = min(len(grid), int(np.searchsorted(np.log(grid), np.log(x).max())) + 1)
        tables = _mc_tables(model_at, pos_list, grid[:used], horizon, n_paths, (seed, b))
        for j in range(len(pos_list)):
            out[rows, j] = _interp(tables[:, j], grid[:used], x)
    return out


def _garch_filter(fit, r: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Next-bar variance at the close of bars start … stop−1: the fit's one-step forecast at
    ``start``, then ``h' = ω + (α + γ·1[e<0])e² + βh`` with ``e = r − μ``."""
    h0 = float(fit.forecast_variance(1)[0])
    return np.r_[h0, gjr_filter(fit.params, r[start:stop - 1], h0)] if stop - start > 1 else np.array([h0])


@dataclass(frozen=True)
class ModelCalibration:
    """Scores of one model pooled over all positions, plus Brier per position."""

    model: str
    scores: Scores
    brier_by_position: dict[str, float]
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CalibrationReport:
    """The back-test: setup, one :class:`ModelCalibration` per model, the best-calibrated."""

    data: str
    bars: int
    first_prediction: str
    notional: float
    horizon_hours: int
    lp_ratios: dict[str, float]
    models: list[ModelCalibration]
    best_calibrated: str

    def to_dict(self) -> dict:
        return asdict(self) | {"models": [m.to_dict() for m in self.models]}


def backtest_calibration(path: str | Path | None = None, models=MODELS, leverages=LEVERAGES,
                         notional: float = NOTIONAL, horizon_hours: int = 24,
                         min_history: int = 2160, refit_every: int = 720,
                         ewma_lambda: float = 0.97, n_paths: int = 4096,
                         seed: int = 0) -> CalibrationReport:
    """Run the back-test on an hourly OHLC file (default the bundled Coinbase BTC-USD)."""
    ohlc = load_ohlc(path or bundled_data_path(DATA))
    pos_list = positions(leverages, notional)
    outcome = np.column_stack([realised(ohlc, p, horizon_hours) for p in pos_list])
    results = []
    for model in models:
        t0 = time.perf_counter()
        pred = predict(ohlc, model, pos_list, horizon_hours, min_history, refit_every,
                       ewma_lambda, n_paths, seed)
        ok = np.isfinite(pred) & np.isfinite(outcome)
        by_pos = {p.name: float(np.mean((pred[ok[:, j], j] - outcome[ok[:, j], j]) ** 2))
                  for j, p in enumerate(pos_list)}
        results.append(ModelCalibration(model, score(pred[ok], outcome[ok]), by_pos,
                                        time.perf_counter() - t0))
    return CalibrationReport(str(path or DATA), len(ohlc), str(ohlc.timestamps[min_history]),
                             notional, horizon_hours, {p.name: p.lp_ratio for p in pos_list},
                             results, min(results, key=lambda m: m.scores.reliability).model)
