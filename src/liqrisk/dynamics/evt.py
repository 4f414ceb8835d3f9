"""Generalized Pareto tails of standardised residuals: GARCH-EVT (McNeil & Frey 2000).

Filtered historical simulation (:mod:`liqrisk.dynamics.fhs`) draws only the residuals that
happened, so a simulated step can never go beyond the largest historical shock. McNeil & Frey
(2000, *J. Empirical Finance* 7, 271–300) keep the empirical distribution in the body and fit a
generalized Pareto distribution (GPD, Pickands–Balkema–de Haan) to the exceedances of each tail
over a high threshold: with the ``k`` largest of ``N`` residuals above the threshold
``u = z_(N−k)`` (the (k+1)-th largest),

    P(Z > u + y) = (k/N)·(1 + ξ·y/β)^(−1/ξ),   y ≥ 0      (−β·log for ξ = 0),

and the same for ``−Z`` in the lower tail. :data:`TAIL_FRACTION` = 10 % per tail, as in the brief
of issue 10 (McNeil & Frey use k = 100 of N = 1,000).

The fit is the maximum-likelihood estimate by the profile likelihood of Grimshaw (1993): with
``τ = ξ/β`` the MLE of ξ given τ is ``ξ(τ) = mean(log(1 + τ·y))``, so the likelihood is a
function of τ alone, ``ℓ(τ) = −k·(log(ξ(τ)/τ) + ξ(τ) + 1)``, maximised over
``τ > −1/max(y)`` on a grid and refined by golden section (numpy only: no scipy import).
Asymptotic standard errors (Smith 1987, ξ > −1/2): ``Var ξ̂ ≈ (1+ξ)²/k``,
``Var β̂ ≈ 2β²(1+ξ)/k``.

:func:`semiparametric` turns a residual column into the kernel's description of the
semi-parametric distribution (empirical body, GPD tails), **re-standardised** to mean 0 and
variance 1 in closed form (the GARCH recursion assumes unit-variance shocks; the fitted tails
move the mean and variance by a few per mille).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TAIL_FRACTION = 0.10
"""Share of the residuals in each GPD tail (exceedances over the 90 % / 10 % empirical quantiles)."""
MIN_RESIDUALS = 250
"""Fewest residuals with fitted tails (25 exceedances per tail): below, plain FHS (the empirical
distribution only) — a GPD fitted on fewer than ~25 points has a standard error of ξ above 0.2."""
MAX_XI = 0.45
"""A tail with ξ̂ ≥ this has (nearly) infinite variance — incompatible with unit-variance GARCH
shocks: that tail stays empirical (and the model says so)."""


@dataclass(frozen=True)
class GpdFit:
    """GPD fit of exceedances ``y ≥ 0``: shape ``xi``, scale ``beta``, the maximised
    log-likelihood, the number of exceedances and the asymptotic standard errors."""

    xi: float
    beta: float
    loglik: float
    k: int

    @property
    def se_xi(self) -> float:
        return (1.0 + self.xi) / math.sqrt(self.k)

    @property
    def se_beta(self) -> float:
        return self.beta * math.sqrt(2.0 * (1.0 + self.xi) / self.k)


def gpd_loglik(y: np.ndarray, xi: float, beta: float) -> float:
    """Log-likelihood of GPD(ξ, β) at exceedances ``y`` (−inf outside the support)."""
    y = np.asarray(y, float)
    if beta <= 0:
        return -math.inf
    t = 1.0 + xi * y / beta
    if np.any(t <= 0):
        return -math.inf
    if abs(xi) < 1e-12:
        return float(-len(y) * math.log(beta) - y.sum() / beta)
    return float(-len(y) * math.log(beta) - (1.0 + 1.0 / xi) * np.log(t).sum())


def _profile(y: np.ndarray, tau: float) -> tuple[float, float, float]:
    """(profile log-likelihood, ξ, β) at τ = ξ/β."""
    k = len(y)
    if abs(tau) * y.max() < 1e-10:                 # the exponential limit
        beta = float(y.mean())
        return -k * (math.log(beta) + 1.0), 0.0, beta
    xi = float(np.log1p(tau * y).mean())
    beta = xi / tau
    if beta <= 0:
        return -math.inf, xi, beta
    return -k * (math.log(beta) + xi + 1.0), xi, beta


def fit_gpd(y) -> GpdFit:
    """Maximum-likelihood GPD fit of exceedances ``y`` (≥ 0, at least 10 of them, not all 0) by
    the profile likelihood (module docstring)."""
    y = np.asarray(y, float)
    if len(y) < 10 or not np.all(np.isfinite(y)) or y.min() < 0 or y.max() <= 0:
        raise ValueError("fit_gpd: needs at least 10 finite exceedances >= 0, not all 0")
    ymax, ymean = float(y.max()), float(y.mean())
    lo = -1.0 / ymax * (1.0 - 1e-9)
    # grid: dense near the lower end (ξ < 0, bounded support) and logarithmic for τ > 0
    neg = lo * (1.0 - np.geomspace(1e-6, 1.0, 120))[:-1]
    pos = np.geomspace(1e-6, 1e3, 240) / ymean
    grid = np.concatenate([neg, [0.0], pos])
    ll = np.array([_profile(y, t)[0] for t in grid])
    i = int(np.argmax(ll))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    g = (math.sqrt(5.0) - 1.0) / 2.0
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = _profile(y, c)[0], _profile(y, d)[0]
    for _ in range(200):
        if abs(b - a) <= 1e-12 * (1.0 + abs(a) + abs(b)) / ymean:
            break
        if fc > fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = _profile(y, c)[0]
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = _profile(y, d)[0]
    cands = [grid[i], c, d]
    best = max(cands, key=lambda t: _profile(y, t)[0])
    ll_best, xi, beta = _profile(y, best)
    return GpdFit(xi, beta, float(gpd_loglik(y, xi, beta)), len(y))


def gpd_quantile(w, xi: float, beta: float):
    """Exceedance with survival ``w`` ∈ (0, 1]: ``β/ξ·(w^(−ξ) − 1)`` (``−β·log w`` at ξ = 0)."""
    w = np.asarray(w, float)
    if abs(xi) < 1e-9:
        return -beta * np.log(w)
    return beta / xi * (w ** (-xi) - 1.0)


def gpd_survival(y, xi: float, beta: float):
    """P(Y > y) of GPD(ξ, β)."""
    y = np.asarray(y, float)
    if abs(xi) < 1e-9:
        return np.exp(-y / beta)
    return np.maximum(1.0 + xi * y / beta, 0.0) ** (-1.0 / xi)


@dataclass(frozen=True)
class Tails:
    """The semi-parametric distribution of one residual column, standardised (mean 0, var 1):
    ``k_up`` / ``k_lo`` residuals in the upper / lower GPD tail (0: that tail empirical),
    thresholds ``u_up`` / ``u_lo`` and GPD parameters of the exceedances ``Z − u_up`` and
    ``u_lo − Z``; ``loc``/``scale`` the standardisation applied (``z' = (z − loc)/scale``) and
    the raw fits (of the column as given) for the report; ``note`` why a tail is empirical."""

    n: int
    k_up: int
    u_up: float
    xi_up: float
    beta_up: float
    k_lo: int
    u_lo: float
    xi_lo: float
    beta_lo: float
    loc: float
    scale: float
    fit_up: GpdFit | None
    fit_lo: GpdFit | None
    note: str = ""

    def survival(self, x):
        """P(Z > x) of the standardised distribution (x above the upper threshold: the GPD
        tail; below it the empirical body's step function is not given here)."""
        x = np.asarray(x, float)
        return self.k_up / self.n * gpd_survival(x - self.u_up, self.xi_up, self.beta_up)

    def cdf_lower(self, x):
        """P(Z < x) for x below the lower threshold."""
        x = np.asarray(x, float)
        return self.k_lo / self.n * gpd_survival(self.u_lo - x, self.xi_lo, self.beta_lo)

    def info(self) -> dict:
        """JSON-ready: per tail the GPD fit (``k`` exceedances beyond the ``quantile`` of the
        residuals, threshold in the residuals' units, ξ ± s.e., β ± s.e.) or, for a tail kept
        empirical, ``why``; the re-standardisation and the notes."""
        def one(f, k, u, xi, side):
            quantile = 1.0 - k / self.n if side == "upper" else k / self.n
            if f is None or k == 0:
                return {"fitted": False, "why": f"xi {xi:.2f} >= {MAX_XI}: kept empirical"}
            return {"k": int(k), "quantile": float(quantile), "threshold": float(u), "xi": float(f.xi),
                    "beta": float(f.beta), "se_xi": float(f.se_xi), "se_beta": float(f.se_beta), "side": side}
        out = {"model": "gpd",
               "method": "GPD tails beyond the 10%/90% empirical quantiles (McNeil & Frey 2000)",
               "n": self.n,
               "upper": one(self.fit_up, self.k_up, self.u_up * self.scale + self.loc, self.xi_up, "upper"),
               "lower": one(self.fit_lo, self.k_lo, self.u_lo * self.scale + self.loc, self.xi_lo, "lower"),
               "restandardised": {"loc": float(self.loc), "scale": float(self.scale)}}
        if self.note:
            out["note"] = self.note
        return out


def empirical_info(why: str) -> dict:
    """The ``tails`` entry of an asset whose shocks keep their empirical distribution (plain FHS),
    with the reason (the user's choice, or fewer than :data:`MIN_RESIDUALS` residuals)."""
    return {"model": "empirical", "why": why}


def _tail_moments(k, n, u, xi, beta, sign):
    """(mass, Σ mass·z, Σ mass·z²) of a GPD tail ``z = u + sign·Y``."""
    p = k / n
    m1 = beta / (1.0 - xi)
    m2 = 2.0 * beta * beta / ((1.0 - xi) * (1.0 - 2.0 * xi))
    return p, p * (u + sign * m1), p * (u * u + 2.0 * sign * u * m1 + m2)


def semiparametric(z: np.ndarray, fraction: float = TAIL_FRACTION) -> Tails | None:
    """The GPD-tailed distribution of residual column ``z`` (module docstring); None when it has
    fewer than :data:`MIN_RESIDUALS` values (plain FHS)."""
    z = np.asarray(z, float)
    n = len(z)
    if n < MIN_RESIDUALS:
        return None
    s = np.sort(z)
    k = int(math.floor(fraction * n))
    notes = []
    u_up, u_lo = float(s[n - k - 1]), float(s[k])
    fu = fit_gpd(s[n - k:] - u_up)
    fl = fit_gpd(u_lo - s[:k])
    ku, kl = k, k
    if fu.xi >= MAX_XI:
        ku = 0
        notes.append(f"upper tail xi {fu.xi:.2f} >= {MAX_XI}: kept empirical")
    if fl.xi >= MAX_XI:
        kl = 0
        notes.append(f"lower tail xi {fl.xi:.2f} >= {MAX_XI}: kept empirical")
    body = s[kl:n - ku]
    mass, m1, m2 = len(body) / n, body.sum() / n, (body * body).sum() / n
    for kk, f, u, sign in ((ku, fu, u_up, 1.0), (kl, fl, u_lo, -1.0)):
        if kk:
            a, b, c = _tail_moments(kk, n, u, f.xi, f.beta, sign)
            mass, m1, m2 = mass + a, m1 + b, m2 + c
    loc = m1
    scale = math.sqrt(max(m2 - m1 * m1, 1e-300))
    return Tails(n, ku, (u_up - loc) / scale, fu.xi, fu.beta / scale,
                 kl, (u_lo - loc) / scale, fl.xi, fl.beta / scale, loc, scale,
                 fu if ku else None, fl if kl else None, "; ".join(notes))
