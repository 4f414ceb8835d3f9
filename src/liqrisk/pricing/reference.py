"""Plain NumPy/SciPy reference for ``liqrisk.pricing`` (same conventions, no numba), and the
60-digit mpmath truth of the closed forms.

Used by the tests (kernels must agree to ~1e-12 relative) and as the benchmark's named peer.
Closed forms: Black (1976), Merton (1973), Greeks as in Hull, ch. 19. Implied vol: Brent's
method (``scipy.optimize.brentq``) on the log of the normalised out-of-the-money price,
one option at a time.
"""

import numpy as np
from scipy.special import ndtr


def _terms(F, K, tau, vol, w):
    """(N(w·d1), N(w·d2), n(d1)) with the σ√τ = 0 / F·K = 0 limits (step, step, 0)."""
    sd = vol * np.sqrt(tau)
    regular = (sd > 0) & (F > 0) & (K > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        d1 = np.where(regular, np.log(F / K) / sd + 0.5 * sd, 0.0)
    step = np.where(w * (F - K) > 0, 1.0, np.where(F == K, 0.5, 0.0))
    n1 = np.where(regular, ndtr(w * d1), step)
    n2 = np.where(regular, ndtr(w * (d1 - sd)), step)
    pdf = np.where(regular, np.exp(-0.5 * d1 * d1) / np.sqrt(2 * np.pi), 0.0)
    return n1, n2, pdf


def _setup(S, K, T, r, q, vol, is_call):
    S, K, T, r, q, vol, is_call = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (S, K, T, r, q, vol, is_call)))
    tau = np.where(T < 0, 0.0, T)
    invalid = ~((S >= 0) & (K >= 0) & (vol >= 0))
    w = np.where(is_call != 0, 1.0, -1.0)
    return S, K, tau, r, q, vol, w, invalid


def black_scholes(S, K, T, r, vol, is_call, q=0.0):
    """Black-Scholes-Merton price e^{-rT}·w·(F·N(w·d1) − K·N(w·d2)), F = S·e^{(r−q)T}."""
    S, K, tau, r, q, vol, w, invalid = _setup(S, K, T, r, q, vol, is_call)
    disc_r, disc_q = np.exp(-r * tau), np.exp(-q * tau)
    F = S * disc_q / disc_r
    n1, n2, _ = _terms(F, K, tau, vol, w)
    return np.where(invalid, np.nan, disc_r * w * (F * n1 - K * n2))


def black76(F, K, T, r, vol, is_call):
    """Black-76 price on a forward F."""
    return black_scholes(F, K, T, r, vol, is_call, q=r)


def greeks(S, K, T, r, vol, is_call, q=0.0):
    """Price and analytic Greeks: delta, gamma, vega (per 1.00 vol), theta (per year), rho (per 1.00)."""
    S, K, tau, r, q, vol, w, invalid = _setup(S, K, T, r, q, vol, is_call)
    disc_r, disc_q = np.exp(-r * tau), np.exp(-q * tau)
    F = S * disc_q / disc_r
    n1, n2, pdf = _terms(F, K, tau, vol, w)
    sqrt_tau = np.sqrt(tau)
    price = disc_r * w * (F * n1 - K * n2)
    with np.errstate(divide="ignore", invalid="ignore"):
        gamma = np.where(pdf > 0, disc_q * pdf / (S * vol * sqrt_tau), 0.0)
        decay = np.where(pdf > 0, S * disc_q * pdf * vol / (2 * sqrt_tau), 0.0)
    result = {
        "price": price,
        "delta": disc_q * w * n1,
        "gamma": gamma,
        "vega": S * disc_q * pdf * sqrt_tau,
        "theta": r * price - (r - q) * S * disc_q * w * n1 - decay,
        "rho": tau * disc_r * w * K * n2,
    }
    result = {name: np.where(invalid, np.nan, value) for name, value in result.items()}
    result["vega_per_point"] = result["vega"] / 100
    result["theta_per_day"] = result["theta"] / 365
    return result


def _normalised_otm_call(x, s):
    """b(x, s) = e^{x/2}N(x/s + s/2) − e^{-x/2}N(x/s − s/2)."""
    return np.exp(x / 2) * ndtr(x / s + s / 2) - np.exp(-x / 2) * ndtr(x / s - s / 2)


def _implied_vol_one(price, F, K, T, r, w):
    if not (T > 0 and F > 0 and K > 0 and price >= 0):
        return np.nan
    undiscounted = price * np.exp(r * T)
    time_value = undiscounted - max(w * (F - K), 0.0)
    x = -abs(np.log(F / K))
    beta = time_value / np.sqrt(F * K)
    if not (time_value > 1e-14 * undiscounted and 0 < beta < np.exp(x / 2)):  # as the kernel
        return np.nan
    hi = 1.0
    while _normalised_otm_call(x, hi) < beta:
        hi *= 2
    from scipy.optimize import brentq   # the reference's root finder: loaded only when used
    with np.errstate(divide="ignore"):  # b underflows to 0 near the lower bracket end
        stdev = brentq(lambda s: np.log(_normalised_otm_call(x, s)) - np.log(beta),
                       1e-3 * hi * np.finfo(float).eps ** 0.5, hi, xtol=1e-300, rtol=1e-15,
                       maxiter=500)
    return stdev / np.sqrt(T)


def implied_vol(price, S, K, T, r, is_call, q=0.0):
    """Implied vol by Brent's method per option (slow; a reference, not a production path)."""
    price, S, K, T, r, q, is_call = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (price, S, K, T, r, q, is_call)))
    F = S * np.exp(-q * T) / np.exp(-r * T)  # as kernels.bsm_forward_nb
    vols = [_implied_vol_one(*args) for args in zip(price.ravel(), F.ravel(), K.ravel(), T.ravel(),
                                                     r.ravel(), np.where(is_call.ravel() != 0, 1.0, -1.0))]
    return np.asarray(vols).reshape(price.shape)


def price_greeks_60_digits(S, K, T, r, vol, is_call, q=0.0):
    """(price, delta, gamma, vega, theta, rho) of one option from the closed forms evaluated
    at 60 significant digits (mpmath, a dev dependency), rounded to float64: the truth that
    float64 implementations are measured against."""
    import mpmath

    with mpmath.workdps(60):
        S, K, T, r, q, vol = map(mpmath.mpf, (S, K, T, r, q, vol))
        w = 1 if is_call else -1
        F, sd = S * mpmath.exp((r - q) * T), vol * mpmath.sqrt(T)
        d1 = mpmath.log(F / K) / sd + sd / 2
        d2 = d1 - sd
        pdf = mpmath.npdf(d1)
        price = mpmath.exp(-r * T) * w * (F * mpmath.ncdf(w * d1) - K * mpmath.ncdf(w * d2))
        delta = mpmath.exp(-q * T) * w * mpmath.ncdf(w * d1)
        vega = mpmath.exp(-q * T) * S * pdf * mpmath.sqrt(T)
        return tuple(float(v) for v in (price, delta, mpmath.exp(-q * T) * pdf / (S * sd), vega,
                                        r * price - (r - q) * S * delta - vega * vol / (2 * T),
                                        T * mpmath.exp(-r * T) * w * K * mpmath.ncdf(w * d2)))


def inverse_option_price(F, K, T, r, vol, is_call):
    """Coin price: Black-76 USD price / F."""
    F = np.asarray(F, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(F > 0, black76(F, K, T, r, vol, is_call) / F, np.nan)


def inverse_delta(F, K, T, r, vol, is_call):
    """Premium-adjusted coin delta: Black-76 delta − coin price."""
    g = greeks(F, K, T, r, vol, is_call, q=r)
    return np.where(np.asarray(F) > 0, g["delta"] - inverse_option_price(F, K, T, r, vol, is_call), np.nan)
