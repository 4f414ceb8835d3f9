"""Reference first-passage probabilities of the discretised path models, computed without the
Monte Carlo kernel: the kernel's estimator is E[1 − Π_k (1 − hit_k)] with, per step of log
increment density ``q``, ``hit_k = 1`` when ``X_k ≤ lo`` and otherwise the Brownian-bridge
crossing probability ``exp(−c (X_{k−1} − lo)(X_k − lo))`` (``c = 2/(σ² dt)``). Its expectation
is computed here by quadrature of the killed density on a grid (Student-t: scipy's t density;
Merton: the density conditional on the step's jump count is normal, summed with Poisson
weights), or — for a bootstrap model of ≤ 2 steps — by enumerating every sequence of rows.
"""
from __future__ import annotations

import numpy as np
from scipy import stats


def grid_first_passage(pdf, cdf, lo: float, n_steps: int, c: float, sd: float,
                       points_per_sd: int = 40, width_sd: float = 14.0) -> float:
    """P(a path started at 0 is killed below ``lo`` within ``n_steps``) for i.i.d. increments
    with density ``pdf`` / distribution ``cdf`` (vectorised), bridge constant ``c``; ``sd`` the
    increment's sd sets the grid (``points_per_sd`` per sd, from ``lo`` to ``width_sd``·√n·sd
    above 0). Killed mass is summed directly (no 1 − survival cancellation)."""
    h = sd / points_per_sd
    hi = width_sd * sd * np.sqrt(n_steps)
    x = lo + h * (np.arange(int((hi - lo) / h) + 1) + 0.5)          # midpoints above lo
    # survival density after one step from 0, and the mass killed in that step
    f = pdf(x) * (1.0 - np.exp(-c * (0.0 - lo) * (x - lo)))
    killed = cdf(lo) + h * np.sum(pdf(x) * np.exp(-c * (0.0 - lo) * (x - lo)))
    if n_steps == 1:
        return float(killed)
    d = x[:, None] - x[None, :]                                       # y − x
    bridge = np.exp(-c * (x[None, :] - lo) * (x[:, None] - lo))
    q = pdf(d)
    keep = h * q * (1.0 - bridge)                                     # [y, x]
    kill = cdf(lo - x) + h * np.sum(q * bridge, axis=0)               # per start x
    for _ in range(n_steps - 1):
        killed += h * kill @ f
        f = keep @ f
    return float(killed)


def student_step(nu: float, v: float):
    """(pdf, cdf, sd) of the kernel's Student-t increment ``−v/2 + √v·t_ν·√((ν−2)/ν)``."""
    t = stats.t(nu, loc=-0.5 * v, scale=np.sqrt(v * (nu - 2) / nu))
    return t.pdf, t.cdf, np.sqrt(v)


def merton_step(v: float, lam: float, m: float, s: float, kmax: int = 12):
    """(pdf, cdf, sd) of the kernel's Merton increment ``−λκ − v/2 + √v·z + Σ_{i≤k} J_i``,
    ``k ~ Poisson(lam)`` per step, ``J ~ N(m, s²)``: a Poisson mixture of normals."""
    kappa = np.exp(m + 0.5 * s * s) - 1.0
    w = stats.poisson.pmf(np.arange(kmax + 1), lam)
    parts = [(w[k], -lam * kappa - 0.5 * v + k * m, np.sqrt(v + k * s * s)) for k in range(kmax + 1)]

    def pdf(y):
        return sum(wk * stats.norm.pdf(y, mu, sd) for wk, mu, sd in parts)

    def cdf(y):
        return sum(wk * stats.norm.cdf(y, mu, sd) for wk, mu, sd in parts)

    return pdf, cdf, np.sqrt(v + lam * (m * m + s * s))


def bootstrap_first_passage(resid: np.ndarray, garch: tuple, lo: float, n_steps: int) -> float:
    """Exact expectation for a GJR-GARCH bootstrap of one asset over 1 or 2 steps: every
    sequence of residual rows, equally likely. ``garch`` = (omega, alpha, gamma, beta, h0) in
    per-step units; increments ``−h/2 + √h·z``; each step bridged (Brownian bridge, crossing
    ``exp(−2(x0 − lo)(x1 − lo)/h)``) with its own conditional variance h."""
    omega, alpha, gamma, beta, h0 = garch
    z = np.asarray(resid, float)
    e1 = np.sqrt(h0) * z
    x1 = -0.5 * h0 + e1
    hit1 = np.where(x1 <= lo, 1.0, np.exp(-2.0 / h0 * (0.0 - lo) * np.maximum(x1 - lo, 0.0)))
    if n_steps == 1:
        return float(hit1.mean())
    h1 = omega + (alpha + gamma * (e1 < 0)) * e1 * e1 + beta * h0
    x2 = x1[:, None] - 0.5 * h1[:, None] + np.sqrt(h1)[:, None] * z[None, :]
    hit2 = np.where(x2 <= lo, 1.0, np.exp(-2.0 / h1[:, None] * (x1[:, None] - lo) * np.maximum(x2 - lo, 0.0)))
    if n_steps != 2:
        raise ValueError("enumeration covers 1 or 2 steps")
    return float(hit1.mean() + ((1.0 - hit1)[:, None] * hit2).mean())


def semiparametric_one_step(z_sorted: np.ndarray, t, h0: float, lo: float, c: float) -> float:
    """Exact one-step expectation of the kernel's estimator for the GPD-tailed bootstrap of one
    asset (liqrisk.dynamics.evt.Tails ``t``, standardised residuals ``z_sorted`` ascending):
    the body's residuals each with mass 1/N, each tail's GPD quantile integrated over its
    survival ``w = e^{−s}`` (midpoint rule, step 2e-4 in s up to 80). Increment ``−h0/2 + √h0·z``,
    kill below ``lo``, bridge constant ``c``."""
    from liqrisk.dynamics.evt import gpd_quantile

    def hit(z):
        x = -0.5 * h0 + np.sqrt(h0) * z
        return np.where(x <= lo, 1.0, np.exp(-c * (0.0 - lo) * np.maximum(x - lo, 0.0)))

    n = len(z_sorted)
    body = z_sorted[t.k_lo:n - t.k_up]
    ds = 2e-4
    s = ds * (np.arange(int(80 / ds)) + 0.5)
    w = np.exp(-s)
    out = hit(body).sum() / n
    if t.k_up:
        out += t.k_up / n * ds * np.sum(hit(t.u_up + gpd_quantile(w, t.xi_up, t.beta_up)) * w)
    if t.k_lo:
        out += t.k_lo / n * ds * np.sum(hit(t.u_lo - gpd_quantile(w, t.xi_lo, t.beta_lo)) * w)
    return float(out)
