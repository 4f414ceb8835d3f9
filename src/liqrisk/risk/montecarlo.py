"""Monte Carlo liquidation probability of an account over several horizons.

Each path of a :class:`~liqrisk.dynamics.paths.PathModel` is revalued with the account's
``health`` (equity − maintenance margin, settlement currency) at every monitoring step of
``dt`` years; the account is liquidated when health ≤ 0.

**Continuous monitoring** between steps uses the Brownian-bridge crossing probability against
the account's t=0 ``boundaries`` (Beaglehole, Dybvig & Zhou 1997; Glasserman 2004 §6.4): for a
barrier ``B`` and log-prices ``x_i, x_{i+1}`` on the same side of ``ln B``,
``p_step = exp(−2·(x_i − ln B)(x_{i+1} − ln B)/(σ²Δt))``, both sides of a two-sided
account are combined as ``(1 − p_down)(1 − p_up)`` and a path's liquidation probability is
``p_path = 1 − Π_i (1 − p_step,i)`` (0 survival after a discrete breach). The estimator averages
``p_path`` (a conditional expectation: lower variance than the hit indicator). It is exact for
GBM and one boundary. For multi-asset accounts the boundaries are those of each underlying
with the other marks at t=0, so the correction is an approximation that adds the probability
of crossing along one price axis between steps (only while the step ends on the safe side of
that t=0 boundary); liquidation at the monitoring times is decided by ``health`` alone. For GARCH models σ is the first step's volatility.

Variance reduction (``method``):

* ``antithetic`` — paths in pairs with opposite innovations; stderr from pair means.
* ``control`` — control variate ``X`` = the same bridge-corrected hit probability of the
  account's *main underlying* (largest ``|exposure·spot·σ|``) against its nearest boundary,
  whose expectation is :func:`~liqrisk.risk.first_passage.hit_probability` (exact under GBM);
  ``Y − β(X − E X)`` with ``β = Cov(Y, X)/Var(X)``. GBM models only.
* ``importance`` — the normal innovations of the main underlying are shifted by
  ``η = ln(B/S_0)/(σ√Δt·n)`` per step so that the mean path reaches the nearest boundary at
  the horizon (one run per horizon); each path is weighted by
  ``dP/dQ = exp(Σ(−η z − η²/2))``. Uncorrelated normal innovations only.
* ``auto`` — ``importance`` when the linearised probability at the longest horizon is
  < 1e-3 and the model allows it, ``control`` for other GBM models, else ``antithetic``.

A **fused kernel** handles accounts that depend on one underlying and are liquidated exactly
outside ``(down, up)`` (checked on a price grid at t=0 and at the last horizon): path
generation and the barrier check run together in numba, no path matrix is stored.

Time to liquidation is sampled (a crossing in a step happens with probability ``1 − q_step``)
and reported as quantiles conditional on liquidation before the last horizon. Equity at the
horizon: ``account.equity(prices, t)`` when the account has it, else ``health``; a liquidated
path keeps the value it had at its liquidation step. VaR/ES at 99% are of the loss
``value(t=0) − value(T)`` in settlement currency.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Callable, Protocol

import numpy as np
from numba import njit, vectorize

from liqrisk.dynamics.paths import (KernelSpec, PathModel, as_seed_sequence, chunk_generators,
                                    draw_path, map_chunks, path_increments, simulate_chunk)
from liqrisk.risk.first_passage import hit_probability

YEAR_HOURS = 365 * 24
TERM_STRUCTURE = {"1h": 1 / YEAR_HOURS, "4h": 4 / YEAR_HOURS, "1d": 1 / 365, "7d": 7 / 365,
                  "30d": 30 / 365}
"""Standard horizons (years)."""
TIME_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
METHODS = ("auto", "plain", "antithetic", "control", "importance")


class AccountHealth(Protocol):
    """What the margin engine hands to the risk layer for one account."""

    underlyings: list[str]
    spot: np.ndarray
    boundaries: list[tuple[int, float | None, float | None]]
    exposure: np.ndarray

    def health(self, prices: np.ndarray, t_years: float) -> np.ndarray:
        """prices (n_paths, n_und) -> equity − maintenance margin; liquidated when <= 0."""


@dataclass(frozen=True)
class ProbabilityEstimate:
    """A Monte Carlo probability with its standard error and 95% normal interval."""

    p: float
    stderr: float
    ci95: tuple[float, float]
    paths: int
    method: str

    @classmethod
    def from_samples(cls, samples: np.ndarray, method: str) -> "ProbabilityEstimate":
        p = float(np.mean(samples))
        se = float(np.std(samples, ddof=1) / np.sqrt(len(samples))) if len(samples) > 1 else 0.0
        return cls(p, se, (max(0.0, p - 1.96 * se), min(1.0, p + 1.96 * se)),
                   len(samples), method)

    def to_dict(self) -> dict:
        return asdict(self) | {"ci95": list(self.ci95)}


@dataclass(frozen=True)
class LiquidationRisk:
    """Term structure of liquidation probability, time-to-liquidation quantiles (years,
    conditional on liquidation before the last horizon) and the 99% VaR / ES of the loss of
    equity at each horizon (settlement currency)."""

    horizons_years: list[float]
    probabilities: dict[float, ProbabilityEstimate]
    time_to_liquidation: dict[float, float]
    var99: dict[float, float]
    es99: dict[float, float]
    method: str
    n_paths: int
    dt_years: float
    fused: bool

    def to_dict(self) -> dict:
        return {"horizons_years": self.horizons_years,
                "probabilities": {str(h): e.to_dict() for h, e in self.probabilities.items()},
                "time_to_liquidation_years": {str(q): v for q, v in
                                              self.time_to_liquidation.items()},
                "var99": {str(h): v for h, v in self.var99.items()},
                "es99": {str(h): v for h, v in self.es99.items()},
                "method": self.method, "n_paths": self.n_paths, "dt_years": self.dt_years,
                "fused": self.fused}


@njit(cache=True, nogil=True, inline="always")
def _bridge_q(x0, x1, lo, hi, c):
    """Probability that a Brownian bridge from ``x0`` to ``x1`` with ``c = 2/(σ²Δt)`` stays in
    (lo, hi); 0 if an end point is outside. One-sided crossings multiplied (module docstring)."""
    if x0 <= lo or x0 >= hi or x1 <= lo or x1 >= hi:
        return 0.0
    q = 1.0
    a = c * (x0 - lo) * (x1 - lo)
    if a < 50.0:
        q *= 1.0 - np.exp(-a)
    a = c * (hi - x0) * (hi - x1)
    if a < 50.0:
        q *= 1.0 - np.exp(-a)
    return q


bridge_survival = vectorize(["float64(float64, float64, float64, float64, float64)"],
                            cache=True)(_bridge_q.py_func)
"""Array version of the bridge survival probability (NumPy broadcasting)."""


@njit(cache=True, nogil=True)
def _barrier_kernel(rng, aux, n_steps, par, chol, code, nu, resid, garch, jumps, anti, lo, hi,
                    clo, chi, c, hsteps, y, xc, tau, xh, loglr):
    """Fused single-underlying path generation + barrier check, no path matrix: per path pair
    the draws fill a buffer of ``n_steps``, each copy is then walked once. Outputs per path:
    ``y[p, j]`` the bridge-corrected liquidation probability by horizon ``hsteps[j]``, ``xc``
    the same for the control barrier (clo, chi), ``c = 2/(σ²Δt)``, ``tau`` the sampled liquidation step (−1:
    none), ``xh`` the log-price at each horizon, frozen at the liquidation step."""
    n_paths = y.shape[0]
    m = 2 if anti else 1
    z = np.zeros((n_steps, 1))
    jump = np.zeros((n_steps, 1))
    inc = np.zeros(n_steps)
    for p in range(0, n_paths, m):
        draw_path(rng, code, nu, resid, chol, False, jumps, par, z, jump)
        for s in range(min(m, n_paths - p)):
            i = p + s
            loglr[i] = path_increments(par, garch, jumps, z, jump, 0, 1.0 - 2.0 * s, inc)
            x, xf, surv, survc, t, j = 0.0, 0.0, 1.0, 1.0, -1, 0
            for k in range(n_steps):
                x0 = x
                x += inc[k]
                q = _bridge_q(x0, x, lo, hi, c)
                if q < 1.0:
                    surv *= q
                    if t < 0 and aux.random() >= q:
                        t, xf = k + 1, x
                survc *= _bridge_q(x0, x, clo, chi, c)
                if k + 1 == hsteps[j]:
                    y[i, j], xc[i, j] = 1.0 - surv, 1.0 - survc
                    xh[i, j] = xf if t >= 0 else x
                    j += 1
            tau[i] = t


@dataclass
class _Samples:
    """Per-path results of one run: y/xc (n, n_h), w (n,), tau (n,) in steps (−1 none),
    value (n, n_h)."""

    y: np.ndarray
    xc: np.ndarray
    w: np.ndarray
    tau: np.ndarray
    value: np.ndarray


def _value_fn(account):
    return getattr(account, "equity", account.health)


def _log_bounds(account: AccountHealth, n_und: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-underlying log barriers relative to spot (−inf / +inf: none), nearest per side."""
    lo, hi = np.full(n_und, -np.inf), np.full(n_und, np.inf)
    for u, down, up in account.boundaries:
        if down is not None and down > 0:
            lo[u] = max(lo[u], np.log(down / account.spot[u]))
        if up is not None:
            hi[u] = min(hi[u], np.log(up / account.spot[u]))
    return lo, hi


def _control_barrier(account: AccountHealth, sigma: np.ndarray):
    """(main underlying, log barrier) of the linearised exposure: the underlying with the
    largest |exposure·spot·σ| and its nearest boundary (None if it has none)."""
    u = int(np.argmax(np.abs(np.asarray(account.exposure) * account.spot * sigma)))
    lo, hi = _log_bounds(account, len(account.spot))
    cands = [b for b in (lo[u], hi[u]) if np.isfinite(b)]
    return u, (min(cands, key=abs) if cands else None)


def _is_interval_account(account: AccountHealth, t_max: float) -> bool:
    """One underlying and {health > 0} = (down, up) on a 400-point log grid (spot/50 … 50·spot)
    at t=0 and t=t_max (so the boundaries can be checked inside the fused kernel)."""
    if len(account.spot) != 1:
        return False
    lo, hi = _log_bounds(account, 1)
    grid = account.spot[0] * np.exp(np.linspace(-np.log(50), np.log(50), 400))
    inside = (np.log(grid / account.spot[0]) > lo[0]) & (np.log(grid / account.spot[0]) < hi[0])
    near = np.isclose(np.log(grid / account.spot[0])[:, None], [lo[0], hi[0]], atol=2e-2).any(1)
    return all(np.array_equal((account.health(grid[:, None], t) > 0)[~near], inside[~near])
               for t in (0.0, t_max))


def _run(account, model: PathModel, n_paths, dt, hsteps, seed, anti, tilt, fused, progress):
    """Simulate ``n_paths`` over ``max(hsteps)`` steps and collect :class:`_Samples`."""
    sp: KernelSpec = model.spec(dt, tilt)
    n_und, n_h, n_steps = len(account.spot), len(hsteps), int(hsteps[-1])
    sigma = model.sigma
    c = 2.0 / (sigma ** 2 * dt)
    lo, hi = _log_bounds(account, n_und)
    cu, cb = _control_barrier(account, sigma)
    clo = cb if cb is not None and cb < 0 else -np.inf
    chi = cb if cb is not None and cb > 0 else np.inf
    out = _Samples(np.empty((n_paths, n_h)), np.empty((n_paths, n_h)), np.zeros(n_paths),
                   np.empty(n_paths, np.int64), np.empty((n_paths, n_h)))
    chunks = chunk_generators(seed, n_paths)
    done = [0]
    logx = np.empty((n_paths, n_h, n_und))

    def fused_chunk(chunk):
        a, b, rng = chunk
        aux = np.random.Generator(np.random.PCG64(rng.bit_generator.seed_seq.spawn(1)[0]))
        _barrier_kernel(rng, aux, n_steps, sp.par, sp.chol, sp.innovation, sp.nu, sp.resid,
                        sp.garch, sp.jumps, anti, lo[0], hi[0], clo, chi, c[0], hsteps, out.y[a:b],
                        out.xc[a:b], out.tau[a:b], logx[a:b, :, 0], out.w[a:b])

    def general_chunk(chunk):
        a, b, rng = chunk
        aux = np.random.Generator(np.random.PCG64(rng.bit_generator.seed_seq.spawn(1)[0]))
        n = b - a
        incr = np.empty((n, n_steps, n_und))
        simulate_chunk(sp, rng, n_steps, anti, incr, out.w[a:b])
        x = np.zeros((n, n_und))
        surv, survc = np.ones(n), np.ones(n)
        tau = np.full(n, -1, np.int64)
        xf = np.zeros((n, n_und))
        j = 0
        for k in range(n_steps):
            x1 = x + incr[:, k]
            inside = (x > lo) & (x < hi) & (x1 > lo) & (x1 < hi)
            q = np.prod(np.where(inside, bridge_survival(x, x1, lo, hi, c), 1.0), axis=1)
            q = np.where(account.health(account.spot * np.exp(x1), (k + 1) * dt) > 0, q, 0.0)
            surv *= q
            new = (tau < 0) & (aux.random(n) >= q)
            tau[new], xf[new] = k + 1, x1[new]
            survc *= bridge_survival(x[:, cu], x1[:, cu], clo, chi, c[cu])
            x = x1
            if k + 1 == hsteps[j]:
                out.y[a:b, j], out.xc[a:b, j] = 1 - surv, 1 - survc
                logx[a:b, j] = np.where((tau >= 0)[:, None], xf, x)
                j += 1
        out.tau[a:b] = tau

    def run(chunk):
        (fused_chunk if fused else general_chunk)(chunk)
        done[0] += chunk[1] - chunk[0]
        if progress is not None:
            progress(done[0], n_paths)

    map_chunks(run, chunks, threads=None if fused else 1)
    value = _value_fn(account)
    for j in range(n_h):
        out.value[:, j] = value(account.spot * np.exp(logx[:, j]), hsteps[j] * dt)
    out.w = np.exp(out.w)
    return out


def _pairs(v: np.ndarray, anti: bool) -> np.ndarray:
    return v.reshape(-1, 2).mean(1) if anti and len(v) % 2 == 0 else v


def _estimate(s: _Samples, j: int, method: str, anti: bool, control_mean: float | None):
    y = s.y[:, j] * s.w
    if method == "control" and control_mean is not None:
        x = s.xc[:, j]
        vx = np.var(x)
        beta = np.cov(y, x)[0, 1] / vx if vx > 0 else 0.0
        y = y - beta * (x - control_mean)
    return ProbabilityEstimate.from_samples(_pairs(y, anti), method)


def _weighted_quantile(v, w, q):
    o = np.argsort(v)
    c = np.cumsum(w[o])
    return float(v[o][min(np.searchsorted(c, q * c[-1]), len(v) - 1)])


def liquidation_risk(account: AccountHealth, model: PathModel,
                     horizons_years: list[float] | None = None, n_paths: int = 100_000,
                     n_steps_per_day: int = 24, dt: float | None = None, seed=None,
                     method: str = "auto", drift: float = 0.0,
                     progress: Callable[[int, int], None] | None = None,
                     fused: bool | None = None) -> LiquidationRisk:
    """Liquidation probability term structure, time-to-liquidation quantiles and VaR/ES.

    ``horizons_years`` default :data:`TERM_STRUCTURE`; each is rounded to a whole number of
    steps of ``dt`` years (default ``1/(365·n_steps_per_day)``). ``drift`` is the annual
    price drift μ (0: martingale). ``progress(done, total)`` is called after every chunk.
    ``fused``: use the fused single-underlying kernel (None: when the account qualifies)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    horizons = sorted(horizons_years or TERM_STRUCTURE.values())
    dt = dt or 1 / (365 * n_steps_per_day)
    hsteps = np.maximum(1, np.round(np.array(horizons) / dt)).astype(np.int64)
    model = replace(model, mu=drift)
    sigma = model.sigma
    cu, cb = _control_barrier(account, sigma)
    if not np.all(account.health(account.spot[None, :], 0.0) > 0):
        one = ProbabilityEstimate(1.0, 0.0, (1.0, 1.0), 0, "already-liquidated")
        return LiquidationRisk(horizons, {h: one for h in horizons}, {q: 0.0 for q in
                               TIME_QUANTILES}, {}, {}, "already-liquidated", 0, dt, False)
    control_means = ([float(hit_probability(1.0, np.exp(cb), sigma[cu], hsteps[j] * dt, drift))
                      for j in range(len(horizons))] if cb is not None else None)
    tiltable = model.is_gaussian and model.corr is None and cb is not None
    if method == "auto":
        method = ("importance" if tiltable and control_means[-1] < 1e-3 else
                  "control" if model.is_gaussian and cb is not None else "antithetic")
    if method == "importance" and not tiltable:
        raise ValueError("importance sampling needs an uncorrelated GBM model and a boundary")
    if method == "control" and not (model.is_gaussian and cb is not None):
        raise ValueError("the control variate needs a GBM model and a boundary")
    anti = method == "antithetic"
    if fused is None:
        fused = _is_interval_account(account, horizons[-1])
    v0 = float(_value_fn(account)(account.spot[None, :], 0.0)[0])
    seeds = as_seed_sequence(seed)
    probs, var99, es99 = {}, {}, {}
    if method == "importance":
        runs = []
        for j, child in enumerate(seeds.spawn(len(horizons))):
            tilt = np.zeros(len(account.spot))
            tilt[cu] = cb / (sigma[cu] * np.sqrt(dt) * hsteps[j])
            runs.append((_run(account, model, n_paths, dt, hsteps[j:j + 1], child, False, tilt,
                              fused, progress), 0))
    else:
        s = _run(account, model, n_paths, dt, hsteps, seeds, anti, None, fused, progress)
        runs = [(s, j) for j in range(len(horizons))]
    for h, (s, j) in zip(horizons, runs):
        probs[h] = _estimate(s, j, method, anti, control_means[j] if control_means else None)
        loss = v0 - s.value[:, j]
        var99[h] = _weighted_quantile(loss, s.w, 0.99)
        tail = loss >= var99[h]
        es99[h] = float(np.sum(loss[tail] * s.w[tail]) / np.sum(s.w[tail]))
    last = runs[-1][0]
    hit = last.tau >= 0
    ttl = {q: (_weighted_quantile(last.tau[hit] * dt, last.w[hit], q) if hit.any() else np.inf)
           for q in TIME_QUANTILES}
    return LiquidationRisk(horizons, probs, ttl, var99, es99, method, n_paths, dt, fused)


def liquidation_probability(account: AccountHealth, model: PathModel,
                            horizons_years: list[float], n_paths: int = 100_000,
                            n_steps_per_day: int = 24, dt: float | None = None, seed=None,
                            method: str = "auto", drift: float = 0.0,
                            progress: Callable[[int, int], None] | None = None
                            ) -> dict[float, ProbabilityEstimate]:
    """P(liquidated within each horizon) — the probabilities of :func:`liquidation_risk`."""
    return liquidation_risk(account, model, horizons_years, n_paths, n_steps_per_day, dt, seed,
                            method, drift, progress).probabilities


@dataclass(frozen=True)
class LinearPerpBook:
    """Many cross accounts of linear perps as struct-of-arrays. With each position's MM tier
    fixed at its t=0 notional, health is affine in the marks:
    ``health_a(P) = const_a + Σ_u slope[u, a]·P_u`` with
    ``const = WB − Σ q·EP + Σ cum`` and ``slope = q − |q|·MMR`` (VENUES.md §0–1)."""

    const: np.ndarray
    slope: np.ndarray

    @classmethod
    def from_positions(cls, wallet, size, entry, mmr, cum) -> "LinearPerpBook":
        """``wallet`` (n_acc,); ``size``, ``entry``, ``mmr``, ``cum`` (n_acc, n_und), one net
        position per underlying (size 0: none)."""
        size, entry = np.asarray(size, float), np.asarray(entry, float)
        const = np.asarray(wallet, float) - np.sum(size * entry, 1) + np.sum(cum, 1)
        slope = size - np.abs(size) * np.asarray(mmr, float)
        return cls(const, np.ascontiguousarray(slope.T))


@njit(cache=True, nogil=True)
def _linear_book_kernel(log_incr, spot, const, slope, hits):
    """Add to ``hits[a]`` the paths on which account a's health is ≤ 0 at some step."""
    n_paths, n_steps, n_und = log_incr.shape
    n_acc = const.shape[0]
    h = np.empty(n_acc)
    dead = np.zeros(n_acc, np.bool_)
    x = np.empty(n_und)
    for p in range(n_paths):
        dead[:] = False
        x[:] = 0.0
        for k in range(n_steps):
            h[:] = const
            for u in range(n_und):
                x[u] += log_incr[p, k, u]
                pu = spot[u] * np.exp(x[u])
                for a in range(n_acc):
                    h[a] += slope[u, a] * pu
            for a in range(n_acc):
                dead[a] |= h[a] <= 0.0
        for a in range(n_acc):
            hits[a] += dead[a]


def book_liquidation_probability(book: LinearPerpBook, model: PathModel, spot,
                                 horizon_years: float, n_paths: int = 10_000,
                                 n_steps_per_day: int = 24, seed=None,
                                 threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(p, stderr) per account of P(health ≤ 0 at a monitoring step within the horizon), all
    accounts revalued on the same paths of each underlying. Discrete monitoring (no bridge
    correction: accounts are many-asset); chunks of paths run on threads."""
    dt = 1 / (365 * n_steps_per_day)
    n_steps = max(1, int(round(horizon_years / dt)))
    sp = model.spec(dt)
    spot = np.asarray(spot, float)

    def run(chunk):
        a, b, rng = chunk
        incr = np.empty((b - a, n_steps, len(spot)))
        simulate_chunk(sp, rng, n_steps, False, incr, np.zeros(b - a))
        hits = np.zeros(len(book.const), np.int64)
        _linear_book_kernel(incr, spot, book.const, book.slope, hits)
        return hits

    p = np.sum(map_chunks(run, chunk_generators(seed, n_paths), threads), axis=0) / n_paths
    return p, np.sqrt(p * (1 - p) / n_paths)
