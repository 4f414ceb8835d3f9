"""GARCH(1,1) and GJR-GARCH(1,1) volatility models, fitted with the ``arch`` package.

Model (Bollerslev 1986; Glosten, Jagannathan & Runkle 1993), per bar t with returns r_t:
    r_t = mu + e_t,   e_t = sigma_t z_t,   z_t ~ N(0, 1) or standardised Student t(nu)
    sigma^2_t = omega + (alpha + gamma 1[e_{t-1} < 0]) e^2_{t-1} + beta sigma^2_{t-1}
(gamma = 0 for plain GARCH).  Estimation, standard errors and forecasts are ``arch``'s
(K. Sheppard, arch.univariate); returns are scaled by 100 before fitting, as ``arch`` recommends,
and every reported number is scaled back to the original units (log returns per bar).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from arch import arch_model
from arch.univariate.base import ARCHModelResult

from liqrisk.dynamics.volatility import periods_per_year

SCALE = 100.0
KINDS = {"garch": 0, "gjr": 1}  # kind -> order o of the asymmetric (GJR) term
DISTRIBUTIONS = ("normal", "t")
_PARAM_NAMES = {"mu": "mu", "omega": "omega", "alpha[1]": "alpha", "gamma[1]": "gamma",
                "beta[1]": "beta", "nu": "nu"}
_SCALE_POWER = {"mu": 1, "omega": 2}  # mu scales like returns, omega like variances


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
        total = float(weights @ self.forecast_variance(steps))
        return float(np.sqrt(total / bars * periods_per_year(self.bar_seconds)))

    def summary(self) -> str:
        """``arch``'s estimation summary (parameters on the x100-scaled returns)."""
        return str(self.result.summary())

    def to_dict(self) -> dict:
        """JSON-ready dict with stable keys."""
        return {"kind": self.kind, "dist": self.dist, "bar_seconds": self.bar_seconds,
                "params": dict(self.params), "std_errors": dict(self.std_errors),
                "loglikelihood": self.loglikelihood, "converged": self.converged,
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
    result = model.fit(disp="off")
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
                    loglikelihood, result.convergence_flag == 0, result)
