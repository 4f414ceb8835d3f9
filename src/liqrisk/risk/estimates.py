"""A Monte Carlo probability with its error bar, the time-to-liquidation histogram, and the
standard horizons and estimator names of the probability engine
(:func:`liqrisk.risk.book_mc.book_liquidation_risk`).

An estimate is never reported without an error bar: a sampled p = 0 (or 1) has a sample
standard error of 0, so it carries the one-sided 95% bound of the rule of three, ``3/n`` over
the ``n`` independent samples (Hanley & Lippman-Hand 1983), in ``ci95`` and says so in
``method`` (``" (no hits)"`` / ``" (all hit)"``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

YEAR_HOURS = 365 * 24
TERM_STRUCTURE = {"1h": 1 / YEAR_HOURS, "4h": 4 / YEAR_HOURS, "1d": 1 / 365, "7d": 7 / 365,
                  "30d": 30 / 365}
"""Standard horizons (years)."""
TIME_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
METHODS = ("auto", "plain", "antithetic", "control", "importance")


@dataclass(frozen=True)
class ProbabilityEstimate:
    """A Monte Carlo probability with its standard error and 95% normal interval; ``paths`` the
    paths simulated, ``method`` the estimator used."""

    p: float
    stderr: float
    ci95: tuple[float, float]
    paths: int
    method: str

    def to_dict(self) -> dict:
        return asdict(self) | {"ci95": list(self.ci95)}


def no_silent_zero(est: ProbabilityEstimate) -> ProbabilityEstimate:
    """``est`` with the rule-of-three bound when it is a sampled 0 or 1 without an error bar
    (module docstring); ``est.paths`` are the independent samples."""
    if est.stderr > 0 or est.paths == 0:
        return est
    bound = min(1.0, 3.0 / est.paths)
    if est.p == 0.0:
        return replace(est, ci95=(0.0, bound), method=f"{est.method} (no hits)")
    if est.p == 1.0:
        return replace(est, ci95=(1.0 - bound, 1.0), method=f"{est.method} (all hit)")
    return est


@dataclass(frozen=True)
class TimeHistogram:
    """Sampled liquidation times conditional on liquidation before the last horizon: bin
    ``edges_hours`` (whole monitoring steps; a liquidation sampled in step k, i.e. in
    ((k−1)Δt, kΔt], falls in the bin containing that step), ``counts`` the summed path weights,
    ``fraction`` = counts / total (sums to 1 when any path was liquidated) and ``paths`` the
    number of liquidated paths."""

    edges_hours: list[float]
    counts: list[float]
    fraction: list[float]
    paths: int

    def to_dict(self) -> dict:
        return asdict(self)
