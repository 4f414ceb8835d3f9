"""Almgren & Chriss (2000), "Optimal execution of portfolio transactions", J. Risk 3(2) 5-39.

Discrete model, linear impact, no drift (alpha = 0). Time unit: whatever ``sigma`` and ``eta``
are quoted in (the paper: days). Selling ``X`` units in ``N`` intervals of tau = T / N:

    permanent g(v) = gamma * v, temporary h(v) = epsilon * sgn(v) + eta * v,  eta~ = eta - gamma*tau/2
    E[x] = gamma X^2 / 2 + epsilon sum|n_k| + (eta~ / tau) sum n_k^2          (paper eq. 6, linear)
    V[x] = sigma^2 tau sum_{k=1}^{N} x_k^2                                    (paper eq. 5)
    optimal x_j = X sinh(kappa (T - t_j)) / sinh(kappa T),
    2 (cosh(kappa tau) - 1) / tau^2 = lambda sigma^2 / eta~                   (paper eqs. 18-19)
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class ACSchedule:
    """An execution schedule: holdings x_j at t_j (j = 0..N), trades n_k = x_{k-1} - x_k,
    expected cost E and variance V of the implementation shortfall (quote currency)."""

    times: np.ndarray
    holdings: np.ndarray
    trades: np.ndarray
    kappa: float
    expected_cost: float
    variance: float

    def to_dict(self) -> dict:
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Frontier:
    """Efficient frontier: one (E, V) per risk aversion lambda."""

    risk_aversion: np.ndarray
    expected_cost: np.ndarray
    variance: np.ndarray

    def to_dict(self) -> dict:
        return {k: v.tolist() for k, v in asdict(self).items()}


@dataclass(frozen=True)
class ACModel:
    """sigma: price vol per sqrt(time unit); eta: temporary impact (price per unit per unit/time);
    gamma: permanent impact (price per unit); epsilon: fixed cost per unit (half spread + fees)."""

    sigma: float
    eta: float
    gamma: float = 0.0
    epsilon: float = 0.0

    @classmethod
    def from_spread_volume(cls, price: float, sigma_annual: float, spread: float,
                           daily_volume: float, days_per_year: float = 250.0) -> ACModel:
        """The paper's calibration (sec. 4, "a sample stock"): sigma = price * sigma_annual /
        sqrt(days_per_year) per day^0.5; epsilon = spread / 2; 1% of daily volume costs one
        spread of temporary impact, 10% moves the price one spread permanently."""
        return cls(sigma=price * sigma_annual / np.sqrt(days_per_year), eta=spread / (0.01 * daily_volume),
                   gamma=spread / (0.1 * daily_volume), epsilon=spread / 2)

    def kappa(self, risk_aversion, tau):
        """Decay rate kappa (1 / time unit) from 2 (cosh(kappa tau) - 1) / tau^2 = lambda sigma^2 / eta~."""
        eta_t = self.eta - 0.5 * self.gamma * tau
        return np.arccosh(1.0 + 0.5 * risk_aversion * self.sigma**2 / eta_t * tau**2) / tau

    def schedule_cost(self, trades, horizon: float) -> tuple[float, float]:
        """E and V of any schedule of equal intervals selling ``sum(trades)`` (eqs. 5-6)."""
        n = np.asarray(trades, float)
        tau = horizon / len(n)
        x = n.sum() - np.cumsum(n)
        e = (0.5 * self.gamma * n.sum() ** 2 + self.epsilon * np.abs(n).sum()
             + (self.eta - 0.5 * self.gamma * tau) / tau * np.sum(n**2))
        return float(e), float(self.sigma**2 * tau * np.sum(x**2))

    def optimal(self, size: float, horizon: float, n_steps: int, risk_aversion: float) -> ACSchedule:
        """Optimal trajectory minimising E + lambda V (lambda = 0: straight line)."""
        t = np.linspace(0.0, horizon, n_steps + 1)
        kappa = float(self.kappa(risk_aversion, horizon / n_steps))
        if kappa * horizon < 1e-8:
            x = size * (1 - t / horizon)
        else:   # sinh(k(T-t))/sinh(kT) = (e^{-kt} - e^{-k(2T-t)}) / (1 - e^{-2kT}): no overflow
            x = size * (np.exp(-kappa * t) - np.exp(-kappa * (2 * horizon - t))) / -np.expm1(-2 * kappa * horizon)
        x[0], x[-1] = size, 0.0
        e, v = self.schedule_cost(-np.diff(x), horizon)
        return ACSchedule(t, x, -np.diff(x), kappa, e, v)

    def expected_variance(self, size, horizon, n_steps, risk_aversion):
        """Closed-form E and V of the optimal trajectory (paper eq. 20), broadcasting over all
        arguments; size may be an array of positions (>= 0 units to sell)."""
        x, T, N, lam = np.broadcast_arrays(*(np.asarray(a, float) for a in (size, horizon, n_steps, risk_aversion)))
        tau = T / N
        eta_t = self.eta - 0.5 * self.gamma * tau
        k = self.kappa(lam, tau)
        linear = k * T < 1e-6
        # kappa*tau >= 700: e^{-kappa tau} underflows, the schedule is "all in the first slice"
        # to double precision; clipping keeps the forms below finite (kappa may be inf)
        k = np.where(linear, 1.0, np.minimum(k, 700.0 / tau))
        a, b = k * T, k * tau                      # b <= a
        # paper eq. 20 with every sinh/cosh ratio rewritten in e^{-a}, e^{-b} (finite for any a):
        #   sinh(2a)/sinh(a)^2 = 2 coth(a),  sinh(b)/sinh(a)^2 = 2 (e^{b-2a} - e^{-b-2a}) / (1-e^{-2a})^2
        #   cosh(a-b)/(sinh(a) sinh(b)) = 2 (e^{-2b} + e^{-2a}) / ((1-e^{-2a})(1-e^{-2b}))
        #   1/sinh(a)^2 = 4 e^{-2a} / (1-e^{-2a})^2
        one_a, one_b = -np.expm1(-2 * a), -np.expm1(-2 * b)
        e2a = np.exp(-2 * a)
        coth = (1 + e2a) / one_a
        sb_sa2 = 2 * (np.exp(b - 2 * a) - np.exp(-b - 2 * a)) / one_a**2
        e_temp = eta_t * x**2 * np.tanh(0.5 * b) * (coth / tau + T * sb_sa2 / tau**2)
        v = 0.5 * self.sigma**2 * x**2 * (2 * tau * (np.exp(-2 * b) + e2a) / (one_a * one_b)
                                          - 4 * T * e2a / one_a**2)
        e_temp = np.where(linear, eta_t * x**2 / T, e_temp)
        v = np.where(linear, self.sigma**2 * x**2 * tau * (N - 1) * (2 * N - 1) / (6 * N), v)
        return 0.5 * self.gamma * x**2 + self.epsilon * np.abs(x) + e_temp, v

    def frontier(self, size: float, horizon: float, n_steps: int, risk_aversion) -> Frontier:
        """E and V along a grid of risk aversions (the efficient frontier, paper sec. 2.4)."""
        lam = np.asarray(risk_aversion, float)
        e, v = self.expected_variance(size, horizon, n_steps, lam)
        return Frontier(lam, e, v)


def time_to_liquidate(size, daily_volume, participation):
    """Days to trade |size| at ``participation`` (fraction of market volume) of ``daily_volume``."""
    return np.abs(np.asarray(size, float)) / (participation * daily_volume)
