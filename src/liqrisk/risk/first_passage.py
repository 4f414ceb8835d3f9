"""Closed-form first-passage probabilities of geometric Brownian motion.

``S_t = S_0·exp(ν t + σ W_t)`` with log drift ``ν = μ − σ²/2`` (μ = 0: a martingale price).
Times in years, σ annualised. All functions broadcast over arrays (1,000,000 positions in one
call); a barrier given as NaN / ±inf means "no barrier on that side".

* One barrier ``B`` at log distance ``b = ln(B/S_0)`` — reflection principle with drift
  (Harrison 1985, §1.8; Borodin & Salminen 2002, 2.1.1.4):
  lower (``b < 0``): ``P(min X ≤ b) = Φ((b − νT)/σ√T) + e^{2νb/σ²}·Φ((b + νT)/σ√T)``,
  upper (``b > 0``): ``P(max X ≥ b) = Φ((−b + νT)/σ√T) + e^{2νb/σ²}·Φ((−b − νT)/σ√T)``.
  The passage time is inverse-Gaussian, density ``|b|/(σ√(2πt³))·exp(−(b − νt)²/(2σ²t))``.
* Two barriers ``a < 0 < b`` (width ``L = b − a``, ``c = ν/σ²``, ``s = σ√T``): survival
  probability by the method of images when ``σ²T/L² ≤ 0.05`` (Kunitomo & Ikeda 1992):
  ``Σ_n e^{2ncL}[Φ((b−2nL−νT)/s) − Φ((a−2nL−νT)/s)]
        − e^{2c(b−nL)}[Φ((−b+2nL−νT)/s) − Φ((a−2b+2nL−νT)/s)]``,
  otherwise by the eigenfunction series (Cox & Miller 1965, §5.7) with ``x = −a``,
  ``k_n = nπ/L``:
  ``(2/L)·e^{−cx − ν²T/(2σ²)}·Σ_{n≥1} sin(k_n x)·e^{−σ²k_n²T/2}·k_n(1 − (−1)^n e^{cL})/(c² + k_n²)``.
  Both series are truncated where the omitted terms are below ``TRUNCATION_ERROR`` relative to
  their prefactor (images: ``|n| ≤ N`` with ``Φ(−((2N+1)L − |ν|T)/s) < 1e-15``; eigen:
  ``e^{−σ²k_N²T/2} < 1e-15``).
"""
from __future__ import annotations

import numpy as np
from scipy.special import ndtr

TRUNCATION_ERROR = 1e-12
"""Upper bound on the absolute error of the double-barrier series (drift-free case)."""

_IMAGES_MAX_TAU = 0.05
_Z_TAIL = 8.0  # Φ(−8) ≈ 6e-16


def _log_barrier(spot, barrier):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(np.asarray(barrier, float) / np.asarray(spot, float))


def hit_probability(spot, barrier, sigma, t_years, mu=0.0) -> np.ndarray:
    """P(GBM touches ``barrier`` within ``t_years``): below spot = a lower barrier, above = an
    upper barrier; 1 when the barrier is already breached or touched, 0 for NaN/inf."""
    b, sigma, t, mu = np.broadcast_arrays(_log_barrier(spot, barrier), np.asarray(sigma, float),
                                          np.asarray(t_years, float), np.asarray(mu, float))
    nu = mu - 0.5 * sigma ** 2
    sd = sigma * np.sqrt(t)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        sgn = np.where(b < 0, 1.0, -1.0)          # fold the upper case onto the lower one
        bb, nn = sgn * b, sgn * nu
        p = ndtr((bb - nn * t) / sd) + np.exp(2 * nn * bb / sigma ** 2) * ndtr((bb + nn * t) / sd)
    p = np.where(np.isfinite(b), p, 0.0)
    p = np.where(b == 0, 1.0, p)
    return np.clip(np.nan_to_num(p, nan=0.0), 0.0, 1.0)[()]


def exit_probability(spot, down, up, sigma, t_years, mu=0.0) -> np.ndarray:
    """P(GBM leaves (down, up) within ``t_years``); either side may be NaN/inf (no barrier),
    in which case this is :func:`hit_probability` of the other side."""
    arrays = np.broadcast_arrays(*(np.asarray(v, float) for v in
                                   (spot, down, up, sigma, t_years, mu)))
    shape = arrays[0].shape
    spot, down, up, sigma, t, mu = (np.ravel(v) for v in arrays)
    down = np.where(np.isfinite(down) & (down > 0), down, np.nan)
    up = np.where(np.isfinite(up), up, np.nan)
    has_d, has_u = ~np.isnan(down), ~np.isnan(up)
    p = np.where(has_d, hit_probability(spot, down, sigma, t, mu), 0.0)
    p = np.where(has_u & ~has_d, hit_probability(spot, up, sigma, t, mu), p)
    both = has_d & has_u
    if np.any(both):
        a, b = np.log(down[both] / spot[both]), np.log(up[both] / spot[both])
        inside = (a < 0) & (b > 0)
        surv = np.zeros_like(a)
        surv[inside] = _double_survival(a[inside], b[inside], sigma[both][inside],
                                        t[both][inside], mu[both][inside])
        p[both] = 1.0 - surv
    return np.clip(p, 0.0, 1.0).reshape(shape)[()]


def _double_survival(a, b, sigma, t, mu):
    """P(a < X_s < b for all s ≤ T), X_0 = 0; images or eigen series (module docstring)."""
    nu = mu - 0.5 * sigma ** 2
    width = b - a
    c = nu / sigma ** 2
    s = sigma * np.sqrt(t)
    tau = sigma ** 2 * t / width ** 2
    out = np.empty_like(a)
    img = tau <= _IMAGES_MAX_TAU
    if np.any(img):
        L, aa, bb, cc, ss, drift = width[img], a[img], b[img], c[img], s[img], (nu * t)[img]
        n_max = int(np.ceil(np.max(((_Z_TAIL * ss + np.abs(drift)) / L - 1) / 2))) + 1
        acc = np.zeros_like(L)
        for n in range(-n_max, n_max + 1):
            acc += np.exp(2 * n * cc * L) * (ndtr((bb - 2 * n * L - drift) / ss)
                                             - ndtr((aa - 2 * n * L - drift) / ss))
            acc -= np.exp(2 * cc * (bb - n * L)) * (ndtr((-bb + 2 * n * L - drift) / ss)
                                                    - ndtr((aa - 2 * bb + 2 * n * L - drift) / ss))
        out[img] = acc
    eig = ~img
    if np.any(eig):
        L, x, cc, sg, tt, nn = width[eig], -a[eig], c[eig], sigma[eig], t[eig], nu[eig]
        n_max = int(np.ceil(np.max(np.sqrt(2 * 34.6 / (np.pi ** 2 * tau[eig])))))
        acc = np.zeros_like(L)
        for n in range(1, n_max + 1):
            k = n * np.pi / L
            acc += (np.sin(k * x) * np.exp(-0.5 * sg ** 2 * k ** 2 * tt) * k
                    * (1 - (-1) ** n * np.exp(cc * L)) / (cc ** 2 + k ** 2))
        out[eig] = 2 / L * np.exp(-cc * x - 0.5 * nn ** 2 * tt / sg ** 2) * acc
    return np.clip(out, 0.0, 1.0)


def first_passage_density(t_years, spot, barrier, sigma, mu=0.0) -> np.ndarray:
    """Density (per year) of the first time GBM touches one ``barrier`` (inverse Gaussian)."""
    b = _log_barrier(spot, barrier)
    t = np.asarray(t_years, float)
    nu = mu - 0.5 * np.asarray(sigma, float) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.abs(b) / (sigma * np.sqrt(2 * np.pi * t ** 3)) * np.exp(
            -(b - nu * t) ** 2 / (2 * sigma ** 2 * t))
    return np.where(t > 0, f, 0.0)[()]


def first_passage_quantile(q, spot, down, up, sigma, mu=0.0, t_max=10.0) -> np.ndarray:
    """Time in years by which GBM has left (down, up) with probability ``q`` (unconditional):
    the ``q``-quantile of the exit time; ``inf`` when ``P(exit by t_max) < q``. 60 bisection
    steps in log time on :func:`exit_probability` (monotone in t)."""
    q, spot, down, up, sigma, mu = np.broadcast_arrays(*(np.asarray(v, float) for v in
                                                         (q, spot, down, up, sigma, mu)))
    lo = np.full(q.shape, np.log(1e-9))
    hi = np.full(q.shape, np.log(t_max))
    reachable = exit_probability(spot, down, up, sigma, t_max, mu) >= q
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        below = exit_probability(spot, down, up, sigma, np.exp(mid), mu) < q
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return np.where(reachable, np.exp(0.5 * (lo + hi)), np.inf)[()]

