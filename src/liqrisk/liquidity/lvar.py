"""Liquidity-adjusted value at risk.

Exogenous (Bangia, Diebold, Schuermann & Stroughair 1999, "Modeling liquidity risk", in
*Extremes and Integrated Risk Management*, Risk Books):

    VaR  = P * (1 - exp(mu_r - z * sigma_r))           long (P > 0), parametric, log-normal price
    VaR  = |P| * (exp(mu_r + z * sigma_r) - 1)         short (P < 0): the loss is a price rise
    COL  = 1/2 * |P| * (mu_S + a * sigma_S)            mu_S, sigma_S: mean, sd of relative spread
    LVaR = VaR + COL

Endogenous: COL replaced by the cost of closing the position's own size at once through a book
or an impact model (anything with ``cost(order, price)`` and ``stressed(s)``).
All functions broadcast over arrays; money in the quote currency.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class LVaRResult:
    market_var: np.ndarray
    liquidity_cost: np.ndarray
    lvar: np.ndarray
    method: str

    def to_dict(self) -> dict:
        return {k: (np.asarray(v).tolist() if k != "method" else v) for k, v in asdict(self).items()}


def market_var(value, sigma_return, z=2.33, mu_return=0.0):
    """One-sided VaR of a position of signed value ``value`` (quote currency; < 0 short) with
    log-normal price, ``sigma_r`` over the VaR horizon (2.33: 99%). Long: the z-quantile fall,
    ``P (1 - exp(mu_r - z sigma_r))``; short: the z-quantile rise, ``|P| (exp(mu_r + z sigma_r) - 1)``."""
    value = np.asarray(value, float)
    mu, sig = np.asarray(mu_return, float), np.asarray(sigma_return, float)
    return np.where(value >= 0, value * -np.expm1(mu - z * sig), -value * np.expm1(mu + z * sig))


def bangia_lvar(value, sigma_return, spread_mean, spread_sd, z=2.33, a=3.0, mu_return=0.0) -> LVaRResult:
    """Bangia et al. (1999) LVaR of a signed position value (< 0 short); ``a`` scales the
    spread sd (the paper finds 2-4.5 for 99%)."""
    var = market_var(value, sigma_return, z, mu_return)
    col = 0.5 * np.abs(np.asarray(value, float)) * (np.asarray(spread_mean, float) + a * np.asarray(spread_sd, float))
    return LVaRResult(var, col, var + col, "bangia")


def endogenous_lvar(size, price, sigma_return, liquidity, z=2.33, stress=1.0) -> LVaRResult:
    """VaR of the signed position ``size * price`` (a short loses on the upside quantile)
    plus the cost of closing ``size`` at once with ``liquidity``."""
    size, price = np.asarray(size, float), np.asarray(price, float)
    var = market_var(size * price, sigma_return, z)
    col = liquidity.stressed(stress).cost(-size, price)
    return LVaRResult(var, col, var + col, "endogenous")
