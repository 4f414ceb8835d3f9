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
* ``auto`` — chosen per horizon: ``importance`` for the horizons whose linearised (closed
  form) probability is < 1e-3 when the model allows it, ``control`` for the other horizons of
  GBM models (one shared run up to the last of them), else ``antithetic``.

An estimate is never reported without an error bar: a sampled p = 0 (or 1) with stderr 0
carries the one-sided 95% rule-of-three bound ``3/n`` (n independent samples) in ``ci95`` and
``" (no hits)"`` (``" (all hit)"``) in its ``method``; only an account without any boundary on
the fused kernel (exactly 0 by construction) reports ``method="no-boundary"`` with ci95 (0, 0).

A **fused kernel** handles accounts that depend on one underlying and are liquidated exactly
outside ``(down, up)`` (checked on a price grid at t=0 and at the last horizon): path
generation and the barrier check run together in numba, no path matrix is stored. For
constant-vol normal innovations without jumps a specialised kernel draws its normals inline
from the chunk's SFC64 state (:func:`~liqrisk.dynamics.paths.sfc64_normal`, the same values as
``Generator(SFC64).standard_normal``), skips the bridge term while a step stays ≥ √(38/c) from every barrier (where it is exactly 1.0
in double precision) and stops walking a path at a discrete breach; it gives the same numbers
as the generic kernel and the general engine on the same streams. Streams are per chunk of
paths (:func:`~liqrisk.dynamics.paths.chunk_generators`), so results depend on the seed only.

Time to liquidation is sampled with one uniform ``u`` per path: the first step at which the
path's survival probability falls to ``u`` or below
and reported as quantiles and as a histogram in hours (weighted counts per bin of whole
steps), both conditional on liquidation before the last horizon. A liquidation sampled in
step k is dated at the *middle* of that step, ``(k − ½)·Δt`` (the crossing lies somewhere in
((k−1)Δt, kΔt]; dating it at the end biased the quantiles up by ~Δt/2): the resolution is ±Δt/2,
no finer within-step interpolation is done. Shrink ``dt`` (``n_steps_per_day``) when this
resolution matters. Horizons that
round to the same number of steps share that step's estimates. Equity at the
horizon: ``account.equity(prices, t)`` when the account has it, else ``health``; a liquidated
path keeps the value it had at its liquidation step. VaR/ES at 99% are of the loss
``value(t=0) − value(T)`` in settlement currency.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Callable, Protocol

import numpy as np
from numba import njit

from liqrisk.dynamics.paths import (_MU, _NORMAL, _OMEGA, _TILT, KernelSpec, PathModel,
                                    as_seed_sequence, chunk_generators, draw_path, map_chunks,
                                    path_increments, set_sfc64_state, sfc64_normal,
                                    sfc64_state, simulate_chunk)
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
    """Term structure of liquidation probability, time-to-liquidation quantiles (years) and
    histogram (hours; both conditional on liquidation before the last horizon) and the 99%
    VaR / ES of the loss of equity at each horizon (settlement currency).

    ``time_to_liquidation`` values are step midpoints ``(k − ½)·dt_years``: a liquidation inside
    a monitoring step is dated at its middle, so the quantiles resolve ±½ step (module
    docstring); the histogram bins are whole steps for the same reason."""

    horizons_years: list[float]
    probabilities: dict[float, ProbabilityEstimate]
    time_to_liquidation: dict[float, float]
    var99: dict[float, float]
    es99: dict[float, float]
    method: str
    n_paths: int
    dt_years: float
    fused: bool
    time_histogram: TimeHistogram | None = None

    def to_dict(self) -> dict:
        return {"horizons_years": self.horizons_years,
                "probabilities": {str(h): e.to_dict() for h, e in self.probabilities.items()},
                "time_to_liquidation_years": {str(q): v for q, v in
                                              self.time_to_liquidation.items()},
                "var99": {str(h): v for h, v in self.var99.items()},
                "es99": {str(h): v for h, v in self.es99.items()},
                "time_to_liquidation_histogram":
                    self.time_histogram.to_dict() if self.time_histogram else None,
                "method": self.method, "n_paths": self.n_paths, "dt_years": self.dt_years,
                "fused": self.fused}


_FAR = 38.0
"""Bridge exponents ``a = c·(x0 − B)(x1 − B)`` at or above this are skipped: ``1 − e^−38`` rounds
to exactly 1.0 in double precision, so skipping them changes no result."""


@njit(cache=True, nogil=True, inline="always")
def bridge_stay(x0, x1, lo, hi, c, outside):
    """Probability that a Brownian bridge from ``x0`` to ``x1`` with ``c = 2/(σ²Δt)`` stays in
    (lo, hi); ``outside`` if an end point is not inside (0 here; 1 where the discrete health
    check decides, as on the compiled book). One-sided crossings multiplied (module docstring)."""
    if x0 <= lo or x0 >= hi or x1 <= lo or x1 >= hi:
        return outside
    q = 1.0
    a = c * (x0 - lo) * (x1 - lo)
    if a < _FAR:
        q *= 1.0 - np.exp(-a)
    a = c * (hi - x0) * (hi - x1)
    if a < _FAR:
        q *= 1.0 - np.exp(-a)
    return q


@njit(cache=True, nogil=True, inline="always")
def _bridge_q(x0, x1, lo, hi, c):
    """:func:`bridge_stay`, 0 outside."""
    return bridge_stay(x0, x1, lo, hi, c, 0.0)


@njit(cache=True, nogil=True, inline="always")
def _bridge_q_flat(x0, x1, lo, hi, c):
    """:func:`_bridge_q` without data-dependent branches, for the steps near a barrier where
    those are unpredictable; the same value (``a`` clipped to [0, _FAR]: ``1 − e^−_FAR`` is
    exactly 1.0, and a clipped negative ``a`` is outside, 0). The clip also keeps ``exp`` off
    its slow under/overflow path."""
    inside = (x0 > lo) & (x1 > lo) & (x0 < hi) & (x1 < hi)
    q = 1.0
    if lo > -np.inf:                      # same every step: predictable
        q = 1.0 - np.exp(-min(max(c * (x0 - lo) * (x1 - lo), 0.0), _FAR))
    if hi < np.inf:
        q *= 1.0 - np.exp(-min(max(c * (hi - x0) * (hi - x1), 0.0), _FAR))
    return q if inside else 0.0


def bridge_survival(x0, x1, lo, hi, c) -> np.ndarray:
    """:func:`_bridge_q` on arrays (NumPy broadcasting; a ufunc compiled at import cost every
    command ~0.3 s warm and ~2 s on a cold cache)."""
    x0, x1 = np.broadcast_arrays(np.asarray(x0, dtype=float), np.asarray(x1, dtype=float))
    inside = (x0 > lo) & (x1 > lo) & (x0 < hi) & (x1 < hi)
    with np.errstate(invalid="ignore", over="ignore"):
        a_lo = c * (x0 - lo) * (x1 - lo)
        a_hi = c * (hi - x0) * (hi - x1)
    q = np.where(a_lo < _FAR, 1.0 - np.exp(-np.where(a_lo < _FAR, a_lo, 0.0)), 1.0)
    q = q * np.where(a_hi < _FAR, 1.0 - np.exp(-np.where(a_hi < _FAR, a_hi, 0.0)), 1.0)
    return np.where(inside, q, 0.0)


@njit(cache=True, nogil=True)
def _barrier_kernel(rng, u, n_steps, par, chol, code, nu, resid, garch, jumps, anti, lo, hi,
                    clo, chi, c, hsteps, y, xc, tau, xh, loglr):
    """Fused single-underlying path generation + barrier check, no path matrix: per path pair
    the draws fill a buffer of ``n_steps``, each copy is then walked once. Outputs per path:
    ``y[p, j]`` the bridge-corrected liquidation probability by horizon ``hsteps[j]``, ``xc``
    the same for the control barrier (clo, chi) — computed only when it differs from (lo, hi),
    else a copy of ``y`` —, ``c = 2/(σ²Δt)``, ``tau`` the sampled liquidation step (−1:
    none): the first step whose survival ``Π q`` falls to ``u[p]`` or below (one uniform per
    path: ``P(tau ≤ k) = 1 − Π_{i≤k} q_i``), ``xh`` the log-price at each horizon, frozen at the liquidation step. Any model;
    :func:`_gbm_barrier_kernel` is the faster special case of normal innovations."""
    n_paths, n_h = y.shape
    m = 2 if anti else 1
    ctrl = clo != lo or chi != hi
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
                if surv > 0.0:
                    q = _bridge_q(x0, x, lo, hi, c)
                    if q < 1.0:
                        surv *= q
                        if t < 0 and surv <= u[i]:
                            t, xf = k + 1, x
                if ctrl:
                    survc *= _bridge_q(x0, x, clo, chi, c)
                while j < n_h and k + 1 == hsteps[j]:     # horizons may share a step
                    y[i, j] = 1.0 - surv
                    xc[i, j] = 1.0 - survc if ctrl else 1.0 - surv
                    xh[i, j] = xf if t >= 0 else x
                    j += 1
            tau[i] = t


@njit(cache=True, nogil=True)
def _gbm_barrier_kernel(state, u, n_steps, drift, sv, tilt, anti, lo, hi, clo, chi, c, hsteps,
                        y, xc, tau, xh, loglr):
    """:func:`_barrier_kernel` for constant-vol normal innovations without jumps (same draws,
    same outputs, bit for bit): increment ``drift + sv·(±z + tilt)`` with ``drift = μΔt − v/2``.
    The normals are drawn inline from the chunk's SFC64 ``state`` (:func:`sfc64_normal`, the
    same values as ``rng.standard_normal()``; ``state`` is advanced in place), one path (pair)
    at a time into a buffer of ``n_steps``; the walk skips the bridge test
    while both end points of a step are farther than ``√(_FAR/c)`` from every barrier (the
    crossing factor is then exactly 1.0) and stops at a discrete breach when there is no
    separate control barrier (the path's draws are already consumed, so the stream is unchanged).
    Importance-sampling log likelihood ratio ``−tilt·(±Σz) − n·tilt²/2``."""
    n_paths, n_h = y.shape
    m = 2 if anti else 1
    ctrl = clo != lo or chi != hi
    dfar = np.sqrt(_FAR / c)
    flo, fhi = lo + dfar, hi - dfar
    if ctrl:
        flo, fhi = max(flo, clo + dfar), min(fhi, chi - dfar)
    half_tt = 0.5 * tilt * tilt * n_steps
    z = np.empty(n_steps)
    for p in range(0, n_paths, m):
        for k in range(n_steps):
            z[k] = sfc64_normal(state)
        sz = 0.0
        if tilt != 0.0:
            for k in range(n_steps):
                sz += z[k]
        for s in range(min(m, n_paths - p)):
            i = p + s
            sign = 1.0 - 2.0 * s
            loglr[i] = -tilt * sign * sz - half_tt
            x, xf, surv, survc, t, k = 0.0, 0.0, 1.0, 1.0, -1, 0
            far = flo < 0.0 < fhi
            for j in range(n_h):
                kend = hsteps[j]
                if surv == 0.0 and not ctrl:
                    k = kend
                while k < kend:
                    x0 = x
                    x = x0 + (drift + sv * (sign * z[k] + tilt))
                    k += 1
                    was_far = far
                    far = flo < x < fhi
                    if was_far and far:
                        continue
                    if surv > 0.0:
                        surv *= _bridge_q_flat(x0, x, lo, hi, c)
                        if t < 0 and surv <= u[i]:
                            t, xf = k, x
                    if ctrl:
                        survc *= _bridge_q_flat(x0, x, clo, chi, c)
                    elif surv == 0.0:
                        break
                y[i, j] = 1.0 - surv
                xc[i, j] = 1.0 - survc if ctrl else 1.0 - surv
                xh[i, j] = xf if t >= 0 else x
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

    gaussian = sp.innovation == _NORMAL and not sp.garch and not sp.jumps
    drift = sp.par[0, _MU] - 0.5 * sp.par[0, _OMEGA]

    def uniforms(rng, n):
        """One uniform per path, for sampling its liquidation step (own stream per chunk)."""
        return np.random.Generator(np.random.SFC64(rng.bit_generator.seed_seq.spawn(1)[0])
                                   ).random(n)

    def fused_chunk(chunk):
        a, b, rng = chunk
        u = uniforms(rng, b - a)
        if gaussian:
            state = sfc64_state(rng)
            _gbm_barrier_kernel(state, u, n_steps, drift, np.sqrt(sp.par[0, _OMEGA]),
                                sp.par[0, _TILT], anti, lo[0], hi[0], clo, chi, c[0], hsteps,
                                out.y[a:b], out.xc[a:b], out.tau[a:b], logx[a:b, :, 0],
                                out.w[a:b])
            set_sfc64_state(rng, state)
        else:
            _barrier_kernel(rng, u, n_steps, sp.par, sp.chol, sp.innovation, sp.nu, sp.resid,
                            sp.garch, sp.jumps, anti, lo[0], hi[0], clo, chi, c[0], hsteps,
                            out.y[a:b], out.xc[a:b], out.tau[a:b], logx[a:b, :, 0], out.w[a:b])

    def general_chunk(chunk):
        a, b, rng = chunk
        n = b - a
        u = uniforms(rng, n)
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
            new = (tau < 0) & (surv <= u)
            tau[new], xf[new] = k + 1, x1[new]
            survc *= bridge_survival(x[:, cu], x1[:, cu], clo, chi, c[cu])
            x = x1
            while j < n_h and k + 1 == hsteps[j]:         # horizons may share a step
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


def _estimate(s: _Samples, j: int, method: str, anti: bool, control_mean: float | None,
              exact_zero: bool = False) -> ProbabilityEstimate:
    y = s.y[:, j] * s.w
    if method == "control" and control_mean is not None:
        x = s.xc[:, j]
        vx = np.var(x)
        beta = np.cov(y, x)[0, 1] / vx if vx > 0 else 0.0
        y = y - beta * (x - control_mean)
    est = _no_silent_zero(ProbabilityEstimate.from_samples(_pairs(y, anti), method), exact_zero)
    # the error bar is computed over independent antithetic pairs; report the paths simulated
    return replace(est, paths=2 * est.paths) if anti else est


def _no_silent_zero(est: ProbabilityEstimate, exact_zero: bool) -> ProbabilityEstimate:
    """Never an estimate without an error bar: a sampled p = 0 (or 1) with stderr 0 gets the
    one-sided 95% bound of the rule of three, ``3/n`` over the ``n`` independent samples, in
    ``ci95`` and says so in ``method``. ``exact_zero``: p = 0 holds by construction (no
    boundary and exact interval check), reported as such."""
    if est.stderr > 0 or est.paths == 0:
        return est
    bound = min(1.0, 3.0 / est.paths)
    if est.p == 0.0:
        if exact_zero:
            return replace(est, method="no-boundary")
        return replace(est, ci95=(0.0, bound), method=f"{est.method} (no hits)")
    if est.p == 1.0:
        return replace(est, ci95=(1.0 - bound, 1.0), method=f"{est.method} (all hit)")
    return est


def _weighted_quantiles(v: np.ndarray, w: np.ndarray, qs) -> list[float]:
    """Lower weighted quantiles: the smallest ``v`` whose cumulative weight reaches ``q·Σw``.
    Equal weights: order statistics by partial sort (same values as a full sort)."""
    n = len(v)
    if n == 0:
        return [np.inf for _ in qs]
    if w[0] > 0 and np.all(w == w[0]):
        # cumsum of equal weights is exact only for w = 1; use ranks: the first rank i with
        # (i + 1)·w ≥ q·n·w, i.e. i = ceil(q·n) − 1
        idx = [min(max(int(np.ceil(q * n)) - 1, 0), n - 1) for q in qs]
        part = np.partition(v, sorted(set(idx)))
        return [float(part[i]) for i in idx]
    o = np.argsort(v)
    c = np.cumsum(w[o])
    return [float(v[o][min(np.searchsorted(c, q * c[-1]), n - 1)]) for q in qs]


def _weighted_quantile(v, w, q):
    return _weighted_quantiles(v, w, [q])[0]


@dataclass(frozen=True)
class TimeHistogram:
    """Sampled liquidation times conditional on liquidation before the last horizon: bin
    ``edges_hours`` (whole monitoring steps; a liquidation sampled in step k, i.e. in
    ((k−1)Δt, kΔt], falls in the bin containing that step), ``counts`` the summed path weights
    (plain path counts without importance sampling), ``fraction`` = counts / total (sums to 1
    when any path was liquidated) and ``paths`` the number of liquidated paths."""

    edges_hours: list[float]
    counts: list[float]
    fraction: list[float]
    paths: int

    def to_dict(self) -> dict:
        return asdict(self)


def _time_histogram(tau: np.ndarray, w: np.ndarray, n_steps: int, dt: float,
                    max_bins: int = 48) -> TimeHistogram:
    step_edges = np.unique(np.round(np.linspace(0, n_steps, min(max_bins, n_steps) + 1)))
    hit = tau >= 0
    counts, _ = np.histogram(tau[hit] - 0.5, bins=step_edges, weights=w[hit])
    total = counts.sum()
    fraction = counts / total if total > 0 else np.zeros_like(counts)
    return TimeHistogram([float(e) * dt * YEAR_HOURS for e in step_edges], counts.tolist(),
                         fraction.tolist(), int(hit.sum()))


def liquidation_risk(account: AccountHealth, model: PathModel,
                     horizons_years: list[float] | None = None, n_paths: int = 100_000,
                     n_steps_per_day: int = 24, dt: float | None = None, seed=None,
                     method: str = "auto", drift: float = 0.0,
                     progress: Callable[[int, int], None] | None = None,
                     fused: bool | None = None) -> LiquidationRisk:
    """Liquidation probability term structure, time-to-liquidation quantiles and histogram,
    VaR/ES.

    ``horizons_years`` default :data:`TERM_STRUCTURE`; each is rounded to a whole number of
    steps of ``dt`` years (default ``1/(365·n_steps_per_day)``; horizons on the same step get
    the same estimate). Time-to-liquidation quantiles are dated at the middle of the monitoring
    step (±``dt``/2; module docstring). ``drift`` is the annual
    price drift μ (0: martingale). ``progress(done, total)`` is called after every chunk (of
    each run). ``fused``: use the fused single-underlying kernel (None: when the account
    qualifies). ``method="auto"`` chooses per horizon (module docstring); every estimate's own
    ``method`` says what was used, ``LiquidationRisk.method`` lists them in horizon order."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    horizons = sorted(horizons_years or TERM_STRUCTURE.values())
    n_h = len(horizons)
    dt = dt or 1 / (365 * n_steps_per_day)
    hsteps = np.maximum(1, np.round(np.array(horizons) / dt)).astype(np.int64)
    model = replace(model, mu=drift)
    sigma = model.sigma
    cu, cb = _control_barrier(account, sigma)
    if not np.all(account.health(account.spot[None, :], 0.0) > 0):
        one = ProbabilityEstimate(1.0, 0.0, (1.0, 1.0), 0, "already-liquidated")
        return LiquidationRisk(horizons, {h: one for h in horizons}, {q: 0.0 for q in
                               TIME_QUANTILES}, {}, {}, "already-liquidated", 0, dt, False,
                               TimeHistogram([0.0, float(hsteps[-1] * dt * YEAR_HOURS)], [0.0],
                                             [0.0], 0))
    control_means = ([float(hit_probability(1.0, np.exp(cb), sigma[cu], hsteps[j] * dt, drift))
                      for j in range(n_h)] if cb is not None else None)
    tiltable = model.is_gaussian and model.corr is None and cb is not None
    if method == "auto":
        other = "control" if model.is_gaussian and cb is not None else "antithetic"
        methods = ["importance" if tiltable and control_means[j] < 1e-3 else other
                   for j in range(n_h)]
    else:
        methods = [method] * n_h
    if "importance" in methods and not tiltable:
        raise ValueError("importance sampling needs an uncorrelated GBM model and a boundary")
    if "control" in methods and not (model.is_gaussian and cb is not None):
        raise ValueError("the control variate needs a GBM model and a boundary")
    if fused is None:
        fused = _is_interval_account(account, horizons[-1])
    lo, hi = _log_bounds(account, len(account.spot))
    exact_zero = fused and not (np.isfinite(lo).any() or np.isfinite(hi).any())
    v0 = float(_value_fn(account)(account.spot[None, :], 0.0)[0])
    seeds = as_seed_sequence(seed)
    runs: list = [None] * n_h                       # (samples, column) per horizon
    shared = [j for j in range(n_h) if methods[j] != "importance"]
    if shared:
        # one run for all non-IS horizons, up to the last of them (same streams as before)
        anti = methods[shared[0]] == "antithetic"
        s = _run(account, model, n_paths, dt, hsteps[:shared[-1] + 1], seeds, anti, None, fused,
                 progress)
        for j in shared:
            runs[j] = (s, j)
    if len(shared) < n_h:
        for j, child in enumerate(seeds.spawn(n_h)):
            if methods[j] != "importance":
                continue
            if j > 0 and methods[j - 1] == "importance" and hsteps[j] == hsteps[j - 1]:
                runs[j] = runs[j - 1]               # same step count: the same estimate
                continue
            tilt = np.zeros(len(account.spot))
            tilt[cu] = cb / (sigma[cu] * np.sqrt(dt) * hsteps[j])
            runs[j] = (_run(account, model, n_paths, dt, hsteps[j:j + 1], child, False, tilt,
                            fused, progress), 0)
    # VaR/ES describe the whole equity distribution: never read them from a run tilted towards
    # the boundary (its likelihood-ratio weights leave the untilted tail nearly empty)
    plain = runs[shared[-1]][0] if shared and shared[-1] == n_h - 1 else None
    if plain is None and "importance" in methods:
        plain = _run(account, model, n_paths, dt, hsteps, seeds.spawn(n_h + 1)[-1], False, None,
                     fused, None)
    probs, var99, es99 = {}, {}, {}
    for i, (h, (s, j), m) in enumerate(zip(horizons, runs, methods)):
        probs[h] = _estimate(s, j, m, m == "antithetic",
                             control_means[i] if control_means else None, exact_zero)
        if m == "importance":
            s, j = plain, i
        loss = v0 - s.value[:, j]
        var99[h] = _weighted_quantile(loss, s.w, 0.99)
        tail = loss >= var99[h]
        tail_weight = np.sum(s.w[tail])
        # importance-sampled runs can leave the untilted tail with no weight: report no ES (NaN)
        es99[h] = float(np.sum(loss[tail] * s.w[tail]) / tail_weight) if tail_weight > 0 else float("nan")
    last = runs[-1][0]
    hit = last.tau >= 0
    ttl = dict(zip(TIME_QUANTILES, _weighted_quantiles((last.tau[hit] - 0.5) * dt, last.w[hit],
                                                       TIME_QUANTILES)))
    hist = _time_histogram(last.tau, last.w, int(hsteps[-1]), dt)
    label = "+".join(dict.fromkeys(e.method for e in probs.values()))
    return LiquidationRisk(horizons, probs, ttl, var99, es99, label, n_paths, dt, fused, hist)


def liquidation_probability(account: AccountHealth, model: PathModel,
                            horizons_years: list[float], n_paths: int = 100_000,
                            n_steps_per_day: int = 24, dt: float | None = None, seed=None,
                            method: str = "auto", drift: float = 0.0,
                            progress: Callable[[int, int], None] | None = None
                            ) -> dict[float, ProbabilityEstimate]:
    """P(liquidated within each horizon) — the probabilities of :func:`liquidation_risk`."""
    return liquidation_risk(account, model, horizons_years, n_paths, n_steps_per_day, dt, seed,
                            method, drift, progress).probabilities
