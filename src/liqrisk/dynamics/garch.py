"""GARCH(1,1) and GJR-GARCH(1,1) volatility models, fitted with the ``arch`` package.

Model (Bollerslev 1986; Glosten, Jagannathan & Runkle 1993), per bar t with returns r_t:
    r_t = mu + e_t,   e_t = sigma_t z_t,   z_t ~ N(0, 1) or standardised Student t(nu)
    sigma^2_t = omega + (alpha + gamma 1[e_{t-1} < 0]) e^2_{t-1} + beta sigma^2_{t-1}
(gamma = 0 for plain GARCH).  Estimation, standard errors and forecasts are ``arch``'s
(K. Sheppard, arch.univariate); returns are scaled by 100 before fitting, as ``arch`` recommends,
and every reported number is scaled back to the original units (log returns per bar).

**An optimiser that stops early.** ``arch``'s SLSQP reports a flag ≠ 0 (code 8, "positive
directional derivative for linesearch"; code 9, "iteration limit reached") on some windows. Measured
on the bundled data (2026-12-02, arch 8.0.0, one BLAS thread; ``benchmarks/garch_convergence.py``):
of 6,714 GJR-t fits of daily returns (BTC/ETH Bitstamp, BTC Coinbase daily, BTC hourly reduced to
daily; expanding and rolling 250/500/1000-day windows every 2 days) none was flagged, of 3,335
rolling windows of 59–249 days 3 (Coinbase's first days: codes 9, 9, 8). Of the hourly back-test's
windows of hourly BTC returns, GJR-normal 0 of 75, GJR-t **8 of 75** (code 8). On those 8,
restarting from the stopped point, with 2,000 iterations or a tolerance of 1e-8 left the flag (7
of 8) and the likelihood (±0.006); the restarts that did end with flag 0 had a *lower*
log-likelihood than the flagged fit (by 0.05–0.74), and the best of eight starting points was
higher than the flagged fit by 0–0.50 (5 of 8 windows higher) with the parameters within 0.7 %;
the flag also comes and goes with the BLAS thread count — a line search stalled on a flat ridge
near the optimum, not a bad fit, and chasing flag 0 would keep a worse fit. A code 9 fit can be far off: on
the first 59 Coinbase daily returns the kept restart is 101.8 log-likelihood above it (all three
flagged daily windows end with a converged restart). So a flagged fit is refitted
from :data:`RESTART_STARTS` (and the stopped point); the fit with the **highest likelihood** is
kept, whatever its flag (on the 8 hourly windows: +0.089, +0.38, +0.50 in three, within 6e-5 in
the others, all still flagged); ``converged`` is the kept fit's flag, ``restarts`` the starts tried and
``restart_gain`` its log-likelihood over the first fit's (what a report shows).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from arch import arch_model
from arch.utility.exceptions import StartingValueWarning
from arch.univariate.base import ARCHModelResult

from liqrisk.dynamics.volatility import periods_per_year

SCALE = 100.0
KINDS = {"garch": 0, "gjr": 1}  # kind -> order o of the asymmetric (GJR) term
DISTRIBUTIONS = ("normal", "t")
_PARAM_NAMES = {"mu": "mu", "omega": "omega", "alpha[1]": "alpha", "gamma[1]": "gamma",
                "beta[1]": "beta", "nu": "nu"}
_SCALE_POWER = {"mu": 1, "omega": 2}  # mu scales like returns, omega like variances
RESTART_STARTS = ((0.05, 0.05, 0.90, 5.0), (0.10, 0.00, 0.85, 4.0), (0.03, 0.02, 0.94, 6.0),
                  (0.15, 0.10, 0.70, 3.5))
"""(alpha, gamma, beta, nu) of the restarts of a flagged fit (module docstring); mu starts at the
mean, omega at the variance times 1 − persistence (gamma and nu dropped where the model has none)."""


@dataclass(frozen=True)
class GarchFit:
    """A fitted GARCH model.  Units: ``params`` in log-return units per bar (``omega`` is a
    per-bar variance), ``conditional_vol`` per bar (not annualised), forecasts as stated."""

    kind: str
    dist: str
    bar_seconds: float
    params: dict[str, float]
    std_errors: dict[str, float]
    std_resid: np.ndarray
    conditional_vol: np.ndarray
    loglikelihood: float
    converged: bool
    result: ARCHModelResult = field(repr=False)
    restarts: int = 0                # starts tried after a flagged first fit (module docstring)
    restart_gain: float = 0.0        # the kept fit's log-likelihood minus the first fit's

    @property
    def persistence(self) -> float:
        """alpha + beta + gamma/2 (symmetric innovations): the decay rate of variance shocks."""
        return self.params["alpha"] + self.params["beta"] + 0.5 * self.params.get("gamma", 0.0)

    @property
    def unconditional_vol(self) -> float:
        """Long-run vol, annualised: sqrt(omega / (1 - persistence)); inf if not stationary."""
        if self.persistence >= 1.0:
            return float("inf")
        variance = self.params["omega"] / (1.0 - self.persistence)
        return float(np.sqrt(variance * periods_per_year(self.bar_seconds)))

    def forecast_variance(self, steps: int) -> np.ndarray:
        """Per-bar conditional variance forecasts for 1..``steps`` bars after the last return."""
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        forecast = self.result.forecast(horizon=int(steps), reindex=False)
        return forecast.variance.to_numpy()[-1] / SCALE**2

    def forecast_vol(self, horizon_seconds: float) -> float:
        """Annualised vol over the next ``horizon_seconds``: sqrt(forecast total variance / horizon
        in years).  A fractional last bar contributes in proportion to the time it covers."""
        bars = horizon_seconds / self.bar_seconds
        if bars <= 0:
            raise ValueError(f"horizon_seconds must be positive, got {horizon_seconds}")
        steps = int(np.ceil(bars))
        weights = np.minimum(1.0, bars - np.arange(steps))
        total = float(np.sum(weights * self.forecast_variance(steps)))
        return float(np.sqrt(total / bars * periods_per_year(self.bar_seconds)))

    def summary(self) -> str:
        """``arch``'s estimation summary (parameters on the x100-scaled returns)."""
        return str(self.result.summary())

    def to_dict(self) -> dict:
        """JSON-ready dict with stable keys."""
        return {"kind": self.kind, "dist": self.dist, "bar_seconds": self.bar_seconds,
                "params": dict(self.params), "std_errors": dict(self.std_errors),
                "loglikelihood": self.loglikelihood, "converged": self.converged,
                "restarts": self.restarts, "restart_gain": self.restart_gain,
                "persistence": self.persistence,
                "unconditional_vol_annualised": self.unconditional_vol}


def fit_garch(returns, kind: str = "garch", dist: str = "normal",
              bar_seconds: float = 86400.0) -> GarchFit:
    """Fit a constant-mean GARCH(1,1) (``kind="garch"``) or GJR-GARCH(1,1) (``"gjr"``) with
    normal or Student-t (``dist="t"``) innovations to per-bar log returns."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if dist not in DISTRIBUTIONS:
        raise ValueError(f"dist must be one of {', '.join(DISTRIBUTIONS)}, got {dist!r}")
    r = np.asarray(returns, dtype=float)
    if r.ndim != 1 or len(r) < 50 or not np.isfinite(r).all():
        raise ValueError("returns must be a 1-D array of at least 50 finite values")

    model = arch_model(SCALE * r, mean="Constant", vol="GARCH", p=1, o=KINDS[kind], q=1,
                       dist=dist, rescale=False)
    result = model.fit(disp="off", show_warning=False)
    first, restarts = result, 0
    if result.convergence_flag != 0:
        for start in [np.asarray(result.params, float)] + [_start(SCALE * r, kind, dist, *s) for s in RESTART_STARTS]:
            with warnings.catch_warnings():     # a start outside arch's constraints: arch starts from its own
                warnings.simplefilter("ignore", StartingValueWarning)
                again = model.fit(disp="off", show_warning=False, starting_values=start)
            restarts += 1
            if again.loglikelihood > result.loglikelihood:
                result = again
    params, std_errors = {}, {}
    for arch_name, value in result.params.items():
        name = _PARAM_NAMES[arch_name]
        unscale = SCALE ** _SCALE_POWER.get(name, 0)
        params[name] = float(value) / unscale
        std_errors[name] = float(result.std_err[arch_name]) / unscale
    # the density of r = x / 100 gains a Jacobian factor 100 per observation
    loglikelihood = float(result.loglikelihood) + len(r) * np.log(SCALE)
    return GarchFit(kind, dist, float(bar_seconds), params, std_errors,
                    np.asarray(result.std_resid, dtype=float),
                    np.asarray(result.conditional_volatility, dtype=float) / SCALE,
                    loglikelihood, result.convergence_flag == 0, result, restarts,
                    float(result.loglikelihood - first.loglikelihood))


def _start(x: np.ndarray, kind: str, dist: str, alpha: float, gamma: float, beta: float, nu: float) -> np.ndarray:
    """Starting values (arch's order: mu, omega, alpha, [gamma], beta, [nu]) for scaled returns ``x``."""
    gamma = gamma if KINDS[kind] else 0.0
    omega = float(np.var(x)) * (1.0 - alpha - gamma / 2.0 - beta)
    return np.array([float(np.mean(x)), omega, alpha, *([gamma] if KINDS[kind] else []), beta,
                     *([nu] if dist == "t" else [])])
