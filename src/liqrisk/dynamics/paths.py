"""Price-path models: a volatility part × an innovation part × a jump part (arch-style).

Every model simulates **log-price increments** ``x[p, k, u] = ln S_{k+1}/S_k`` for path ``p``,
step ``k``, underlying ``u`` over steps of ``dt`` years (ACT/365):

    x = μ·dt − v/2 − λ·dt·κ + √v · z + J

* volatility part — ``v`` the step variance: :class:`ConstantVol` (``σ²·dt``, σ annualised)
  or :class:`GarchVol` (GJR-GARCH(1,1) recursion per step, Glosten–Jagannathan–Runkle 1993:
  ``h' = ω + (α + γ·1[ε<0])·ε² + β·h``, ``ε = √h·z``);
* innovation part — ``z`` unit variance: :class:`Normal`, :class:`StudentT` (``t_ν·√((ν−2)/ν)``),
  :class:`Bootstrap` (rows of standardised residuals drawn with replacement — with
  :class:`GarchVol` this is GARCH-filtered historical simulation, Barone-Adesi et al. 1999);
* jump part — ``J``: :class:`MertonJumps` (Merton 1976: Poisson(λ·dt) jumps with log-size
  N(m, s²)), compensated by ``κ = e^{m+s²/2} − 1`` so that ``E[S_T] = S_0·e^{μT}``.

Several underlyings: normal / t innovations are correlated with the Cholesky factor of ``corr``
(one t mixing variable per underlying); bootstrap draws whole residual rows, which keeps their
empirical correlation. With μ = 0 a GBM/Merton price is a martingale; with t or bootstrap
innovations ``−v/2`` is the Gaussian convexity correction (exact only for normal z).

Random numbers: one :class:`numpy.random.SeedSequence` is spawned into one SFC64 stream per
chunk of :data:`CHUNK` paths, so results depend on the seed only — not on the thread count.
SFC64 because hot kernels can run its (tiny) state update inline: :func:`sfc64_normal` is
NumPy's ziggurat on the raw SFC64 output, bit for bit ``Generator(SFC64).standard_normal()``,
without the indirect call per draw that numba's ``Generator`` support goes through.
Chunks run on a thread pool over ``nogil`` numba kernels. :func:`simulate_numpy` is the NumPy
reference (identical draws for normal / t / bootstrap without jumps, statistically equal
otherwise).
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numba import njit, uint64

import liqrisk._jitcache  # noqa: F401,E402  (before any cached kernel: see its docstring)
from numba.np.random._constants import (fi_double, ki_double, wi_double, ziggurat_nor_inv_r,
                                         ziggurat_nor_r)

CHUNK = 4096
"""Paths per random stream (a multiple of 2, for antithetic pairs)."""

# columns of the per-underlying parameter table handed to the kernels
_OMEGA, _ALPHA, _GAMMA, _BETA, _H0, _LAM, _JM, _JS, _MU, _TILT = range(10)
# columns of a measure change for importance sampling (liqrisk.risk.measures): shift of the
# normal numerator before correlation (× the step's t scale), proposal jump intensity per step
# (0: none) and proposal jump mean, Student-t mixing: probability of a heavy step (0: none) and
# the scale of its χ² variate
_TSHIFT, _TLAM, _TJM, _TMIX, _TGS = range(10, 15)
# GPD tails of the bootstrap (GARCH-EVT, liqrisk.dynamics.evt): 1 when the residual table carries
# rank columns (on every row); per underlying the upper / lower tail's number of residuals (0:
# empirical), threshold, ξ and β (standardised units); under importance sampling the defensive
# tail mixture's probability (on the main axis only) and the signed tail probability p* of the
# proposal's tail draw (> 0 upper, < 0 lower)
_EVT, _KUP, _UUP, _XUP, _BUP, _KLO, _ULO, _XLO, _BLO, _EMIX, _EP = range(15, 26)
N_PAR = 26
_NORMAL, _STUDENT, _BOOTSTRAP = 0, 1, 2


@dataclass(frozen=True)
class ConstantVol:
    """Constant annualised volatility per underlying (decimal, 0.55 = 55%)."""

    sigma: np.ndarray | float

    def step_variance(self, n_und: int, dt_years: float) -> np.ndarray:
        return np.broadcast_to(np.asarray(self.sigma, float) ** 2 * dt_years, (n_und,)).copy()


@dataclass(frozen=True)
class GarchVol:
    """GJR-GARCH(1,1) variance recursion in per-step decimal-return units (one step = one bar
    of ``bar_seconds``); ``h0`` is the variance of the first simulated step. Parameters are
    numbers (every underlying alike) or arrays (one per underlying). A step shorter than the
    bar (a horizon shorter than one bar, simulated as one step) has the bar's variance scaled by
    the fraction of the bar."""

    omega: float | np.ndarray
    alpha: float | np.ndarray
    beta: float | np.ndarray
    h0: float | np.ndarray
    gamma: float | np.ndarray = 0.0
    bar_seconds: float = 86400.0

    @classmethod
    def from_fit(cls, fit, h0: float | None = None) -> "GarchVol":
        """From a :func:`liqrisk.dynamics.garch.fit_garch` result; ``h0`` defaults to its
        one-step forecast."""
        p = fit.params
        h = float(fit.forecast_variance(1)[0]) if h0 is None else h0
        return cls(p["omega"], p["alpha"], p["beta"], h, p.get("gamma", 0.0), fit.bar_seconds)

    @property
    def sigma(self) -> float | np.ndarray:
        """Annualised volatility of the first step."""
        v = np.sqrt(np.asarray(self.h0, float) * 365 * 86400 / self.bar_seconds)
        return float(v) if v.ndim == 0 else v

    def step_fraction(self, dt_years: float) -> float:
        """``dt`` as a fraction of the bar: 1, or less than 1 for one short step."""
        bar = self.bar_seconds / (365 * 86400)
        if np.isclose(dt_years, bar, rtol=1e-9):
            return 1.0
        if dt_years < bar:
            return dt_years / bar
        raise ValueError(f"GarchVol was fitted on {self.bar_seconds:.0f}s bars; "
                         f"simulate with dt_years={bar!r} (or one shorter step)")

    def step_variance(self, n_und: int, dt_years: float) -> np.ndarray:
        return np.broadcast_to(np.asarray(self.h0, float) * self.step_fraction(dt_years),
                               (n_und,)).copy()

    def path_variances(self, increments: np.ndarray, dt_years: float, mu_step: float = 0.0) -> np.ndarray:
        """Each step's conditional variance along simulated paths of one underlying, shape of
        ``increments`` (n_paths, n_steps): the recursion of :func:`path_increments` replayed on
        its output (``x = μ − v/2 + ε``), exact for paths without jumps. One underlying's
        parameters only (numbers, or arrays of one)."""
        f = self.step_fraction(dt_years)
        one = lambda x: np.asarray(x, float).item()     # noqa: E731
        omega, h0 = one(self.omega) * f, one(self.h0) * f
        alpha, beta, gamma = one(self.alpha), one(self.beta), one(self.gamma)
        v = np.empty_like(increments, dtype=float)
        h = np.full(increments.shape[0], h0)
        for k in range(increments.shape[1]):
            v[:, k] = h
            eps = increments[:, k] - mu_step + 0.5 * h
            h = omega + (alpha + np.where(eps < 0.0, gamma, 0.0)) * eps * eps + beta * h
        return v


@dataclass(frozen=True)
class Normal:
    """Standard normal innovations."""

    code = _NORMAL


@dataclass(frozen=True)
class StudentT:
    """Student-t innovations with ``nu > 2`` degrees of freedom, scaled to unit variance."""

    nu: float
    code = _STUDENT

    def __post_init__(self):
        if not self.nu > 2:
            raise ValueError(f"StudentT needs nu > 2 for a finite variance, got {self.nu}")


@dataclass(frozen=True)
class Bootstrap:
    """Rows of standardised residuals (shape (n, n_und) or (n,)), drawn with replacement.

    ``tails``: per column a :class:`liqrisk.dynamics.evt.Tails` (GPD tails, GARCH-EVT) or None
    (that column plain). With tails a drawn row gives each column the **rank cell** of its
    residual, ``U = (rank + V)/N`` with ``V`` uniform (a fresh one per column): in the body the
    draw is the residual itself (re-standardised), in a tail cell the GPD quantile at ``U`` — so
    every column's marginal is the semi-parametric distribution and the columns' joint ranks
    (joint extremes) are the data's, jittered within the cell."""

    residuals: np.ndarray
    tails: tuple | None = None
    code = _BOOTSTRAP

    @property
    def has_tails(self) -> bool:
        return self.tails is not None and any(t is not None for t in self.tails)

    def table(self) -> np.ndarray:
        """The kernel's table: the residual columns (re-standardised where a column has tails)
        and, with tails, one more column per residual column: the residual's 0-based rank.
        Computed once per object (the residuals are never changed): callers do not change it
        (it is not flagged read-only, which would give the kernels another array type to compile)."""
        return self._table

    @cached_property
    def _table(self) -> np.ndarray:
        r = np.asarray(self.residuals, float)
        r = r.reshape(len(r), -1)
        if not self.has_tails:
            return np.array(r, order="C")
        z, ranks = r.copy(), np.empty_like(r)
        for j in range(r.shape[1]):
            t = self.tails[j]
            if t is not None:
                z[:, j] = (r[:, j] - t.loc) / t.scale
            ranks[np.argsort(r[:, j], kind="stable"), j] = np.arange(len(r))
        return np.ascontiguousarray(np.column_stack([z, ranks]))

    def residual_columns(self) -> np.ndarray:
        """The (re-standardised) residual columns of :meth:`table`, without the ranks."""
        t = self.table()
        return t[:, :t.shape[1] // 2] if self.has_tails else t

    @cached_property
    def correlation(self) -> np.ndarray:
        """The residual columns' sample correlation (:func:`~liqrisk.dynamics.correlation.estimate_correlation`:
        einsum, the same sums on any BLAS thread count, so on every engine)."""
        from liqrisk.dynamics.correlation import estimate_correlation
        return estimate_correlation(self.residual_columns()).corr

    def derived(self, key, compute):
        """``compute()`` once per object and ``key``: values derived from the residuals alone
        (e.g. a tilt parameter for a boundary), reused by every run on them."""
        memo = self.__dict__.setdefault("_derived", {})
        if key not in memo:
            memo[key] = compute()
        return memo[key]


@dataclass(frozen=True)
class MertonJumps:
    """Poisson jumps: ``intensity`` per year, log jump size N(``mean``, ``std``²)."""

    intensity: float
    mean: float
    std: float

    @property
    def kappa(self) -> float:
        """``E[e^J] − 1``, the compensator per jump."""
        return float(np.exp(self.mean + 0.5 * self.std ** 2) - 1.0)


@dataclass(frozen=True)
class PathModel:
    """Volatility × innovations × jumps for ``n_underlyings`` assets with correlation ``corr``
    and annual log-price drift ``mu`` (added to the martingale drift; 0 = martingale)."""

    volatility: ConstantVol | GarchVol
    innovations: Normal | StudentT | Bootstrap = field(default_factory=Normal)
    jumps: MertonJumps | None = None
    corr: np.ndarray | None = None
    mu: np.ndarray | float = 0.0

    @property
    def n_underlyings(self) -> int:
        if self.corr is not None:
            return len(self.corr)
        return int(np.size(self.volatility.sigma))

    @property
    def sigma(self) -> np.ndarray:
        """Annualised diffusion volatility per underlying (of the first step for GARCH): the σ
        used by Brownian-bridge corrections and closed-form control variates."""
        return np.broadcast_to(np.asarray(self.volatility.sigma, float),
                               (self.n_underlyings,)).copy()

    @property
    def is_gaussian(self) -> bool:
        """Constant vol, normal innovations, no jumps: exactly GBM."""
        return (isinstance(self.volatility, ConstantVol) and isinstance(self.innovations, Normal)
                and self.jumps is None)

    def spec(self, dt_years: float, tilt: np.ndarray | None = None) -> "KernelSpec":
        """Compile to the arrays the kernels read. ``tilt``: importance-sampling shift of the
        standard normal innovations, in units of one step's standard deviation."""
        n = self.n_underlyings
        par = np.zeros((n, N_PAR))
        par[:, _OMEGA] = self.volatility.step_variance(n, dt_years)
        garch = isinstance(self.volatility, GarchVol)
        if garch:
            v = self.volatility
            f = v.step_fraction(dt_years)
            par[:, _OMEGA], par[:, _ALPHA], par[:, _GAMMA], par[:, _BETA] = \
                np.asarray(v.omega) * f, v.alpha, v.gamma, v.beta
            par[:, _H0] = np.asarray(v.h0) * f
        if self.jumps is not None:
            j = self.jumps
            par[:, _LAM], par[:, _JM], par[:, _JS] = j.intensity * dt_years, j.mean, j.std
        par[:, _MU] = np.asarray(self.mu, float) * dt_years
        if self.jumps is not None:
            par[:, _MU] -= self.jumps.intensity * dt_years * self.jumps.kappa
        chol = np.linalg.cholesky(np.asarray(self.corr, float)) if self.corr is not None \
            else np.eye(n)
        if tilt is not None:
            if not isinstance(self.innovations, Normal) or not np.allclose(chol, np.eye(n)):
                raise ValueError("importance sampling tilts uncorrelated normal innovations only")
            par[:, _TILT] = tilt
        inn = self.innovations
        if isinstance(inn, Bootstrap) and inn.has_tails:
            par[:, _EVT] = 1.0
            for u, t in enumerate(inn.tails):
                if t is not None:
                    par[u, _KUP:_BLO + 1] = (t.k_up, t.u_up, t.xi_up, t.beta_up,
                                             t.k_lo, t.u_lo, t.xi_lo, t.beta_lo)
        nu = inn.nu if isinstance(inn, StudentT) else 0.0
        resid = inn.table() if isinstance(inn, Bootstrap) else np.zeros((1, n))
        return KernelSpec(par, chol, inn.code, nu, resid, garch,
                          not np.array_equal(chol, np.eye(n)), self.jumps is not None)

    def simulate(self, n_paths: int, n_steps: int, dt_years: float, seed=None, *,
                 antithetic: bool = False, threads: int | None = None) -> np.ndarray:
        """Log-price increments, shape (n_paths, n_steps, n_underlyings)."""
        return simulate(self, n_paths, n_steps, dt_years, seed, antithetic=antithetic,
                        threads=threads)[0]


@dataclass(frozen=True)
class KernelSpec:
    """A model as kernel arrays: ``par`` (n_und, N_PAR) per-underlying parameters, ``chol``;
    ``resid`` the bootstrap rows (and, under a measure change of the rows, two more columns:
    the proposal's cumulative probability and the log likelihood ratio of each row)."""

    par: np.ndarray
    chol: np.ndarray
    innovation: int
    nu: float
    resid: np.ndarray
    garch: bool
    correlated: bool
    jumps: bool


def gbm(sigma, mu=0.0, corr=None) -> PathModel:
    """Geometric Brownian motion (correlated when ``corr`` is given)."""
    return PathModel(ConstantVol(sigma), corr=corr, mu=mu)


def merton(sigma, intensity, jump_mean, jump_std, mu=0.0) -> PathModel:
    """Merton (1976) jump-diffusion."""
    return PathModel(ConstantVol(sigma), jumps=MertonJumps(intensity, jump_mean, jump_std), mu=mu)


def student_t(sigma, nu, mu=0.0, corr=None) -> PathModel:
    """Constant vol with unit-variance Student-t innovations."""
    return PathModel(ConstantVol(sigma), StudentT(nu), corr=corr, mu=mu)


def garch_fhs(fit, h0: float | None = None, mu=0.0) -> PathModel:
    """GARCH-filtered historical simulation from a ``fit_garch`` result."""
    return PathModel(GarchVol.from_fit(fit, h0), Bootstrap(np.asarray(fit.std_resid)), mu=mu)


def as_seed_sequence(seed) -> np.random.SeedSequence:
    """Accept an int / None / SeedSequence / Generator and return a SeedSequence."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return seed.bit_generator.seed_seq
    return np.random.SeedSequence(seed)


def chunk_generators(seed, n_paths: int) -> list[tuple[int, int, np.random.Generator]]:
    """(start, stop, Generator) per chunk of :data:`CHUNK` paths, one SFC64 stream each."""
    starts = range(0, n_paths, CHUNK)
    seqs = as_seed_sequence(seed).spawn(len(starts))
    return [(a, min(a + CHUNK, n_paths), np.random.Generator(np.random.SFC64(s)))
            for a, s in zip(starts, seqs)]


def sfc64_state(rng: np.random.Generator) -> np.ndarray:
    """Copy of the 4-word state of an SFC64 ``rng``, for :func:`sfc64_normal`."""
    st = rng.bit_generator.state
    if st["bit_generator"] != "SFC64":
        raise TypeError(f"an SFC64 stream is needed, got {st['bit_generator']}")
    return np.array(st["state"]["state"], np.uint64)


def set_sfc64_state(rng: np.random.Generator, s: np.ndarray) -> None:
    """Write a state advanced by :func:`sfc64_normal` back into ``rng``."""
    st = rng.bit_generator.state
    st["state"]["state"] = np.asarray(s, np.uint64).copy()
    rng.bit_generator.state = st


@njit(cache=True, nogil=True, inline="always")
def _sfc64_next(s):
    """NumPy's ``sfc64_next`` on the state words ``s`` (uint64[4], updated in place)."""
    a, b, c, w = s[0], s[1], s[2], s[3]
    out = a + b + w
    s[3] = w + uint64(1)
    s[0] = b ^ (b >> uint64(11))
    s[1] = c + (c << uint64(3))
    s[2] = ((c << uint64(24)) | (c >> uint64(40))) + out
    return out


@njit(cache=True, nogil=True, inline="always")
def _sfc64_double(s):
    return (_sfc64_next(s) >> uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, nogil=True, inline="always")
def sfc64_normal(s):
    """One standard normal from the SFC64 state ``s``: NumPy's ``random_standard_normal``
    (ziggurat, 256 layers), so the same value and state as ``Generator(SFC64).standard_normal()``
    (tests/dynamics/test_paths.py checks it)."""
    while True:
        r = _sfc64_next(s)
        idx = r & uint64(0xff)
        r >>= uint64(8)
        rabs = (r >> uint64(1)) & uint64(0x000fffffffffffff)
        x = rabs * wi_double[idx]
        if r & uint64(1):
            x = -x
        if rabs < ki_double[idx]:
            return x
        if idx == 0:
            while True:
                xx = -ziggurat_nor_inv_r * np.log1p(-_sfc64_double(s))
                yy = -np.log1p(-_sfc64_double(s))
                if yy + yy > xx * xx:
                    if (rabs >> uint64(8)) & uint64(1):
                        return -(ziggurat_nor_r + xx)
                    return ziggurat_nor_r + xx
        elif ((fi_double[idx - 1] - fi_double[idx]) * _sfc64_double(s) + fi_double[idx]
              < np.exp(-0.5 * x * x)):
            return x


_POOLS: dict[int, ThreadPoolExecutor] = {}
"""The persistent thread pools of :func:`map_chunks`, by size (made on first use, once per
process: a pool per call cost two thread starts per run, ≈ 2 s of system time in a 1,000-account
analysis with a horizon)."""
_POOLS_PID = os.getpid()
_POOLS_LOCK = threading.Lock()
_IN_POOL = threading.local()


def _mark_worker():
    _IN_POOL.worker = True


def _pool(threads: int) -> ThreadPoolExecutor:
    """The process's pool of ``threads`` workers (a forked child makes its own)."""
    global _POOLS_PID
    with _POOLS_LOCK:
        if _POOLS_PID != os.getpid():
            _POOLS.clear()
            _POOLS_PID = os.getpid()
        pool = _POOLS.get(threads)
        if pool is None:
            pool = _POOLS[threads] = ThreadPoolExecutor(threads, "liqrisk-chunks", _mark_worker)
        return pool


def map_chunks(fn, chunks, threads: int | None = None) -> list:
    """Run ``fn(chunk)`` over chunks on a persistent thread pool of ``threads`` workers (default:
    the cores; kernels release the GIL); results in chunk order. Safe from several threads at
    once (they share the pool); a call from inside a chunk runs its chunks in that thread (a
    nested wait on the same pool could deadlock). If a chunk raises, the chunks not started are
    cancelled, the running ones awaited, and the first error in chunk order is raised."""
    chunks = list(chunks)
    threads = threads or os.cpu_count() or 1
    if threads <= 1 or len(chunks) <= 1 or getattr(_IN_POOL, "worker", False):
        return [fn(c) for c in chunks]
    futures = [_pool(threads).submit(fn, c) for c in chunks]
    try:
        return [f.result() for f in futures]
    except BaseException:
        for f in futures:
            f.cancel()
        wait(futures)
        raise


HALF_ULP = 0.5 / 9007199254740992.0
"""Added to a uniform on the 2^-53 grid [0, 1 − 2^-53]: a uniform strictly inside (0, 1)."""


@njit(cache=True, nogil=True, inline="always")
def gpd_exceedance(w, xi, beta):
    """GPD quantile of survival ``w`` ∈ (0, 1]: ``β/ξ·(w^(−ξ) − 1)`` (``−β·log w`` at ξ ≈ 0)."""
    if abs(xi) < 1e-9:
        return -beta * np.log(w)
    return beta / xi * (w ** (-xi) - 1.0)


@njit(cache=True, nogil=True, inline="always")
def semi_draw(par, u, c, d_up, d_lo, zbody, nrows):
    """Underlying ``u``'s draw in rank cell ``c`` (0-based, of ``nrows``) at ``U`` with
    ``d_up = N(1 − U)``, ``d_lo = N·U`` (both given, each exact where it is small): the GPD
    quantile in a tail cell, the residual ``zbody`` in the body (:class:`Bootstrap`)."""
    kup = par[u, _KUP]
    if kup > 0.0 and c >= nrows - kup:
        return par[u, _UUP] + gpd_exceedance(min(d_up / kup, 1.0), par[u, _XUP], par[u, _BUP])
    klo = par[u, _KLO]
    if klo > 0.0 and c < klo:
        return par[u, _ULO] - gpd_exceedance(min(d_lo / klo, 1.0), par[u, _XLO], par[u, _BLO])
    return zbody


@njit(cache=True, nogil=True, inline="always")
def draw_path(rng, code, nu, resid, chol, correlated, jumps, par, z, jump):
    """Fill one path's draws, step by step: innovations ``z`` (n_steps, n_und), correlated by
    the lower-triangular ``chol`` (in place, bottom row first), and jump sizes ``jump``."""
    n_steps, n = z.shape
    t_scale = np.sqrt((nu - 2.0) / nu) if code == _STUDENT else 1.0
    for k in range(n_steps):
        if code == _BOOTSTRAP:
            nrows = resid.shape[0]
            row = rng.integers(0, nrows)
            for u in range(n):
                z[k, u] = resid[row, u]
            if par[0, _EVT] > 0.0:
                for u in range(n):
                    c = resid[row, n + u]
                    if (par[u, _KUP] > 0.0 and c >= nrows - par[u, _KUP]) or c < par[u, _KLO]:
                        v = rng.random() + HALF_ULP
                        z[k, u] = semi_draw(par, u, c, nrows - c - v, c + v, z[k, u], nrows)
        else:
            for u in range(n):
                z[k, u] = (rng.standard_t(nu) * t_scale if code == _STUDENT
                           else rng.standard_normal())
            if correlated:
                for u in range(n - 1, -1, -1):
                    acc = 0.0
                    for w in range(u + 1):
                        acc += chol[u, w] * z[k, w]
                    z[k, u] = acc
        if jumps:
            for u in range(n):
                jump[k, u] = 0.0
                if par[u, _LAM] > 0.0:
                    c = rng.poisson(par[u, _LAM])
                    if c > 0:
                        jump[k, u] = c * par[u, _JM] + np.sqrt(c) * par[u, _JS] * \
                            rng.standard_normal()


@njit(cache=True, nogil=True, inline="always")
def path_increments(par, garch, jumps, z, jump, u, sign, out):
    """Log-price increments of underlying ``u`` for one path copy (``sign`` ±1: antithetic)
    into ``out`` (n_steps,); returns the importance-sampling log likelihood ratio
    ``Σ(−η·z − η²/2)`` of the tilted normals ``z + η``. GARCH state starts at ``h0``."""
    mu, tilt = par[u, _MU], par[u, _TILT]
    omega, alpha, gamma, beta = par[u, _OMEGA], par[u, _ALPHA], par[u, _GAMMA], par[u, _BETA]
    v = par[u, _H0] if garch else omega
    sv = np.sqrt(v)
    loglr = 0.0
    for k in range(out.shape[0]):
        zz = sign * z[k, u]
        if tilt != 0.0:
            loglr += -tilt * zz - 0.5 * tilt * tilt
            zz += tilt
        eps = sv * zz
        x = mu - 0.5 * v + eps
        if jumps:
            x += sign * jump[k, u]
        out[k] = x
        if garch:
            v = omega + (alpha + (gamma if eps < 0.0 else 0.0)) * eps * eps + beta * v
            sv = np.sqrt(v)
    return loglr


@njit(cache=True, nogil=True)
def _increments_kernel(rng, n_steps, par, chol, code, nu, resid, garch, correlated, jumps,
                       anti, out, loglr):
    n_paths, n = out.shape[0], par.shape[0]
    m = 2 if anti else 1
    z = np.zeros((n_steps, n))
    jump = np.zeros((n_steps, n))
    for p in range(0, n_paths, m):
        draw_path(rng, code, nu, resid, chol, correlated, jumps, par, z, jump)
        for s in range(min(m, n_paths - p)):
            lr = 0.0
            for u in range(n):
                lr += path_increments(par, garch, jumps, z, jump, u, 1.0 - 2.0 * s,
                                      out[p + s, :, u])
            loglr[p + s] = lr


def simulate(model: PathModel, n_paths: int, n_steps: int, dt_years: float, seed=None, *,
             antithetic: bool = False, tilt=None, threads: int | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """Log-price increments (n_paths, n_steps, n_und) and the importance-sampling log
    likelihood ratio per path (zeros without ``tilt``). Antithetic: paths 2i and 2i+1 use
    opposite innovations and jump sizes."""
    sp = model.spec(dt_years, tilt)
    out = np.empty((n_paths, n_steps, sp.par.shape[0]))
    loglr = np.zeros(n_paths)

    def run(chunk):
        a, b, rng = chunk
        simulate_chunk(sp, rng, n_steps, antithetic, out[a:b], loglr[a:b])

    map_chunks(run, chunk_generators(seed, n_paths), threads)
    return out, loglr


def simulate_chunk(spec: KernelSpec, rng: np.random.Generator, n_steps: int, antithetic: bool,
                   out: np.ndarray, loglr: np.ndarray) -> None:
    """Fill ``out`` (n, n_steps, n_und) with increments and ``loglr`` (n,) from one stream."""
    _increments_kernel(rng, n_steps, spec.par, spec.chol, spec.innovation, spec.nu, spec.resid,
                       spec.garch, spec.correlated, spec.jumps, antithetic, out, loglr)


def simulate_numpy(model: PathModel, n_paths: int, n_steps: int, dt_years: float, seed=None
                   ) -> np.ndarray:
    """NumPy reference for :func:`simulate` (no antithetic / tilt); same chunking and streams,
    so normal, t and bootstrap innovations without jumps give identical paths."""
    sp = model.spec(dt_years)
    if sp.par[0, _EVT] > 0:
        raise NotImplementedError("simulate_numpy: no reference for GPD-tailed bootstrap")
    n = sp.par.shape[0]
    out = np.empty((n_paths, n_steps, n))
    for a, b, rng in chunk_generators(seed, n_paths):
        shape = (b - a, n_steps, n)
        if sp.innovation == _BOOTSTRAP:
            z = sp.resid[rng.integers(0, len(sp.resid), shape[:2])]
        else:
            e = (rng.standard_t(sp.nu, shape) * np.sqrt((sp.nu - 2) / sp.nu)
                 if sp.innovation == _STUDENT else rng.standard_normal(shape))
            z = e @ sp.chol.T
        jump = np.zeros(shape)
        lam = sp.par[:, _LAM]
        if np.any(lam > 0):
            k = rng.poisson(lam, shape)
            jump = k * sp.par[:, _JM] + np.sqrt(k) * sp.par[:, _JS] * rng.standard_normal(shape)
        if sp.garch:
            h = np.broadcast_to(sp.par[:, _H0], (b - a, n)).copy()
            for t in range(n_steps):
                eps = np.sqrt(h) * z[:, t]
                out[a:b, t] = sp.par[:, _MU] - 0.5 * h + eps + jump[:, t]
                alpha = sp.par[:, _ALPHA] + np.where(eps < 0, sp.par[:, _GAMMA], 0.0)
                h = sp.par[:, _OMEGA] + alpha * eps ** 2 + sp.par[:, _BETA] * h
        else:
            v = sp.par[:, _OMEGA]
            out[a:b] = sp.par[:, _MU] - 0.5 * v + np.sqrt(v) * z + jump
    return out
