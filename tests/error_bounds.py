"""Float64 error bounds of the Black-Scholes-Merton formulas: the tolerances of the pricing tests.

A tolerance here is ULPS · ε · B, where B is the first-order propagation of unit relative errors
(one ulp, ε = 2⁻⁵²) through the formula, i.e. the condition number of the quantity times its
size, and ULPS counts the roundings along the path. Nothing depends on the CPU: any two
correctly implemented float64 evaluations (each elementary function exp, log, sqrt, erfc within
a few ulps, in any order, with or without FMA or SIMD) differ by less than the sum of their
bounds. Notation: w = ±1 call/put, F = S·e^{(r−q)τ}, s = σ√τ, d1 = ln(F/K)/s + s/2, d2 = d1 − s,
N1 = N(w·d1), N2 = N(w·d2), n1 = n(d1); K·n(d2) = F·n1 exactly.

Price V = e^{-rτ}·w·(F·N1 − K·N2):
  * relative errors of F (the two exps and a division) and of N1, N2 (erfc, its argument
    scaling) enter as F·N1 and K·N2 — the cancellation between them is the conditioning of a
    deep out-of-the-money price, B/V grows like d1·d2·(|d1|+|d2|)/s;
  * a rounding of d1 moves d1 and d2 together and cancels to first order (F·n1 = K·n(d2));
    what does not cancel is the rounding of s and of d2 = d1 − s and the argument scaling of
    each N: F·n1·(s + |d1| + |d2|).
  B_V = e^{-rτ}·[F·N1 + K·N2 + F·n1·(s + |d1| + |d2|)].
The Greeks depend on d1 alone, so its absolute rounding error enters at first order:
  Δd1/ε ≤ D = (8 + |ln(F/K)|)/s + 3·(|d1| + s)
(ln of a ratio carrying ~8 roundings, then divided by s; the sum and s itself).
  delta = e^{-qτ}·w·N1:            B = e^{-qτ}·(N1 + n1·D)
  gamma = e^{-qτ}·n1/(S·s):        B = gamma·(1 + |d1|·D)      (n'(d)/n(d) = −d)
  vega  = e^{-qτ}·S·n1·√τ:         B = vega·(1 + |d1|·D)
  rho   = τ·e^{-rτ}·w·K·N2:        B = τ·e^{-rτ}·K·(N2 + n(d2)·(D + |d2| + s))
  theta = r·V − (r−q)·S·delta − vega·σ/(2τ): the three terms' bounds plus their roundings.
Implied vol: the solver inverts V(σ) = price. An error δ in the value it matches moves the
root by δ/vega (vega undiscounted per unit σ, F·n1·√τ): δ covers the price evaluation
(B_V of the out-of-the-money side), the undiscounting e^{rτ}·price and the intrinsic value
F − K removed from an in-the-money quote (rounding of F); plus the solver's stopping rule.
Underflow: an N or n below the smallest normal float carries an absolute error of that size.
"""

import numpy as np
from scipy.special import ndtr

EPS = np.finfo(float).eps
TINY = np.finfo(float).tiny  # smallest normal float: absolute error of an underflowing N or n

# Roundings allowed per float64 evaluation along each path (a few ulps per elementary
# function, ~10 operations); two independent implementations may differ by twice that.
ULPS_ONE = 16
ULPS_TWO = 2 * ULPS_ONE


def _terms(S, K, T, r, q, vol, is_call):
    S, K, T, r, q, vol, is_call = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (S, K, T, r, q, vol, is_call)))
    tau = np.where(T < 0, 0.0, T)
    w = np.where(is_call != 0, 1.0, -1.0)
    F = S * np.exp((r - q) * tau)
    sd = vol * np.sqrt(tau)
    regular = (sd > 0) & (F > 0) & (K > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_m = np.where(regular, np.log(F / K), 0.0)
        d1 = np.where(regular, log_m / np.where(regular, sd, 1.0) + 0.5 * sd, 0.0)
        D = np.where(regular, (8 + np.abs(log_m)) / np.where(regular, sd, 1.0)
                     + 3 * (np.abs(d1) + sd), 0.0)
    d2 = d1 - np.where(regular, sd, 0.0)
    n1 = np.where(regular, np.exp(-0.5 * d1 * d1) / np.sqrt(2 * np.pi), 0.0)
    n2 = np.where(regular, np.exp(-0.5 * d2 * d2) / np.sqrt(2 * np.pi), 0.0)
    step = np.where(w * (F - K) > 0, 1.0, np.where(F == K, 0.5, 0.0))
    N1 = np.where(regular, ndtr(w * d1), step)
    N2 = np.where(regular, ndtr(w * d2), step)
    return dict(S=S, K=K, tau=tau, r=r, q=q, vol=vol, w=w, F=F, sd=sd, d1=d1, d2=d2, n1=n1,
                n2=n2, N1=N1, N2=N2, D=D, disc_r=np.exp(-r * tau), disc_q=np.exp(-q * tau))


def _price_bound(t):
    """B_V · ε, plus the underflow floor of N1 and N2."""
    return (EPS * t["disc_r"] * (t["F"] * t["N1"] + t["K"] * t["N2"]
                                 + t["F"] * t["n1"] * (t["sd"] + np.abs(t["d1"]) + np.abs(t["d2"])))
            + TINY * t["disc_r"] * (t["F"] + t["K"]))


def bsm_error_bounds(S, K, T, r, vol, is_call, q=0.0):
    """ε·B plus the underflow floor, per output of ``pricing.black_scholes`` / ``greeks``."""
    t = _terms(S, K, T, r, q, vol, is_call)
    S, K, tau, r, q, vol, D, d1 = (t[k] for k in ("S", "K", "tau", "r", "q", "vol", "D", "d1"))
    sqrt_tau = np.sqrt(tau)
    price = t["disc_r"] * t["w"] * (t["F"] * t["N1"] - K * t["N2"])
    delta = t["disc_q"] * t["w"] * t["N1"]
    vega = t["disc_q"] * S * t["n1"] * sqrt_tau
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(t["sd"] > 0, t["disc_q"] / (S * t["sd"]), 0.0)  # gamma = scale · n1
        decay_rate = np.where(t["n1"] > 0, 0.5 * vol / tau, 0.0)
    b_price = _price_bound(t)
    b_delta = t["disc_q"] * (EPS * (t["N1"] + t["n1"] * D) + TINY)
    b_vega = (EPS * t["n1"] * (1 + np.abs(d1) * D) + TINY) * t["disc_q"] * S * sqrt_tau
    b = {
        "price": b_price,
        "delta": b_delta,
        "gamma": (EPS * t["n1"] * (1 + np.abs(d1) * D) + TINY) * scale,
        "vega": b_vega,
        "rho": tau * t["disc_r"] * K * (EPS * (t["N2"] + t["n2"] * (D + np.abs(t["d2"]) + t["sd"])) + TINY),
        "theta": (np.abs(r) * (b_price + EPS * np.abs(price))
                  + np.abs(r - q) * S * (b_delta + EPS * np.abs(delta))
                  + decay_rate * (b_vega + EPS * vega)),
    }
    b["vega_per_point"] = b["vega"] / 100
    b["theta_per_day"] = b["theta"] / 365
    return b


def density_condition(S, K, T, r, vol, q=0.0):
    """Relative error of n(d1) in ulps, 1 + |d1|·D (the rounding of d1 amplified by n'/n = −d)."""
    t = _terms(S, K, T, r, q, vol, 1.0)
    return 1 + np.abs(t["d1"]) * t["D"]


def implied_vol_error_bound(S, K, T, r, vol, is_call, q=0.0):
    """Δσ from the value the solver matches: (B_V(OTM) + e^{rτ}·price + F·1_ITM)/vega."""
    t = _terms(S, K, T, r, q, vol, is_call)
    otm = _terms(S, K, T, r, q, vol, t["F"] < t["K"])  # out-of-the-money side (time value)
    undiscounted_otm = _price_bound(otm) / t["disc_r"]
    itm = t["w"] * (t["F"] - t["K"]) > 0
    quote = t["w"] * (t["F"] * t["N1"] - t["K"] * t["N2"]) + np.where(itm, t["F"], 0.0)
    with np.errstate(divide="ignore"):
        return (undiscounted_otm + EPS * quote) / (t["F"] * t["n1"] * np.sqrt(t["tau"]))


def assert_within(got, expected, bound, name=""):
    """|got − expected| ≤ bound elementwise; NaN must match NaN, equal values always pass."""
    got, expected, bound = np.broadcast_arrays(*(np.asarray(a, dtype=float)
                                                 for a in (got, expected, bound)))
    nan = np.isnan(got) | np.isnan(expected)
    assert np.array_equal(np.isnan(got), np.isnan(expected)), f"{name}: NaN where the other is not"
    err = np.where(nan, 0.0, np.abs(got - expected))
    ok = (err <= bound) | (got == expected) | nan
    if not ok.all():
        i = np.flatnonzero(~ok)
        worst = i[np.argmax(err[i] / bound[i])]
        raise AssertionError(f"{name}: {len(i)} of {ok.size} outside the bound; worst index {worst}: "
                             f"got {got[worst]!r}, expected {expected[worst]!r}, "
                             f"error {err[worst]:.3e} = {err[worst] / bound[worst]:.3g} × bound")

