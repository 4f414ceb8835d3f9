"""Numba kernels for Black-76 / Black-Scholes-Merton pricing, Greeks and implied volatility.

Scalar device functions (``black76_price_nb``, ``black76_delta_nb``, ``implied_vol_nb``,
``bsm_price_greeks_nb``) can be called from other ``@njit`` code; the ``*_vec`` kernels loop
over flat float64 arrays with ``prange``. The NumPy reference is ``liqrisk.pricing.reference``.

Conventions: time in years (ACT/365), rates continuously compounded, vol annualised decimal,
``is_call`` a bool or 0/1 number. The normal CDF is Cody's rational erfc
(``liqrisk.pricing.normal``), accurate relative to its size in both tails, fed with the one
Gaussian factor e^{-d1²/2} that also gives the density and, times F/K, e^{-d2²/2}.
Division by zero yields inf/NaN (``error_model="numpy"``), never an exception.
"""

import math

import numba
from numba import prange

import liqrisk._jitcache  # noqa: F401,E402  (before any cached kernel: see its docstring)

from liqrisk.pricing.normal import lower_quantile_nb, ncdf_inline_nb, ncdf_nb, ncdf_select_nb
from liqrisk.pricing.simd_math import exp_nb, log_nb, sqrt_nb

_device = numba.njit(cache=True, nogil=True, error_model="numpy")
_parallel = numba.njit(cache=True, nogil=True, error_model="numpy", parallel=True)
# Inlined into the caller at numba level, so that LLVM sees one straight-line loop body to vectorise
_inline = numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_3 = math.sqrt(3.0)
_LN_HALF = math.log(0.5)
_LN_LOWER_MAP = math.log(2.0 * math.pi / math.sqrt(27.0))
# Below this e^{-d1²/2} is subnormal or zero and e^{-d2²/2} = e^{-d1²/2}·F/K would lose its bits
_GAUSS_FACTOR_MIN = 1e-290
_IV_MAX_ITER = 64
_IV_REL_STEP_TOL = 1e-12  # remaining error in σ√T at the stop, relative
_IV_MIN_TIME_VALUE = 1e-14  # relative to the undiscounted price: below this the vol is noise
_IV_BLOCK = 512  # options per block of implied_vol_vec: the vectorised pass, then the clean-up


@_inline
def _year_fraction(T):
    """T clamped at 0 (expired options are valued at expiry); NaN is kept."""
    return 0.0 if T < 0.0 else T


@_inline
def _exp(x, straight):
    """e^x: the vectorisable ``simd_math.exp_nb`` in straight-line kernels, else the C library's."""
    return exp_nb(x) if straight else math.exp(x)


@_inline
def _black_terms(F, K, tau, vol, w, straight):
    """(N(w·d1), N(w·d2), n(d1)) of Black-76 with forward F, w = +1 call / -1 put.

    d1 = ln(F/K)/(σ√τ) + σ√τ/2, d2 = d1 − σ√τ (Black 1976). When σ√τ ≤ 0 or F·K = 0 the
    limits are returned: both probabilities are the step 1{w(F−K) > 0} (½ at the money), n = 0.
    ``straight`` (a constant at every call site, folded away after inlining) picks
    straight-line code — ``simd_math`` exp/log, ``ncdf_select_nb``, the limits selected, not
    branched to — for loops that LLVM vectorises; scalar callers keep the cheaper branches.
    """
    return _black_terms_sd(F, K, vol * math.sqrt(tau), w, straight, False)


@_inline
def _black_terms_sd(F, K, sd, w, straight, inline_cdf):
    """:func:`_black_terms` given sd = σ√τ (callers that reprice one option at many forwards
    compute it once); ``inline_cdf`` (a constant) inlines ``ncdf_nb`` — same value."""
    m = F / K
    d1 = (log_nb(m) if straight else math.log(m)) / sd + 0.5 * sd
    d2 = d1 - sd
    e1 = _exp(-0.5 * d1 * d1, straight)
    # e^{-d2²/2} = e^{-d1²/2}·e^{d1·sd − sd²/2} = e^{-d1²/2}·F/K (relative error ~ε·|ln F/K|)
    e2 = e1 * m if e1 > _GAUSS_FACTOR_MIN else _exp(-0.5 * d2 * d2, straight)
    if straight:
        n1, n2 = ncdf_select_nb(w * d1, e1), ncdf_select_nb(w * d2, e2)
    elif inline_cdf:
        n1, n2 = ncdf_inline_nb(w * d1, e1), ncdf_inline_nb(w * d2, e2)
    else:
        n1, n2 = ncdf_nb(w * d1, e1), ncdf_nb(w * d2, e2)
    moneyness = w * (F - K)
    step = 1.0 if moneyness > 0.0 else (0.5 if moneyness == 0.0 else 0.0)
    regular = (sd > 0.0) & (F > 0.0) & (K > 0.0)
    return (n1 if regular else step), (n2 if regular else step), (_INV_SQRT_2PI * e1 if regular else 0.0)


@_inline
def _black76_price(F, K, T, r, vol, is_call, straight):
    w = 1.0 if is_call else -1.0
    tau = _year_fraction(T)
    n1, n2, _ = _black_terms(F, K, tau, vol, w, straight)
    price = _exp(-r * tau, straight) * w * (F * n1 - K * n2)
    return price if (F >= 0.0) & (K >= 0.0) else math.nan


@_device
def black76_price_nb(F, K, T, r, vol, is_call):
    """Black-76 price e^{-rT}·w·(F·N(w·d1) − K·N(w·d2)) in the currency of F and K.

    T ≤ 0 gives the intrinsic value max(w(F−K), 0); vol ≤ 0 gives the discounted intrinsic value
    of the forward; F < 0 or K < 0 gives NaN.
    """
    return _black76_price(F, K, T, r, vol, is_call, False)


@_inline
def _black76_price_delta(F, K, sd, disc, w, straight):
    n1, n2, _ = _black_terms_sd(F, K, sd, w, straight, not straight)
    valid = (F >= 0.0) & (K >= 0.0)
    return (disc * w * (F * n1 - K * n2) if valid else math.nan), (disc * w * n1 if valid else math.nan)


@_inline
def black76_price_delta_nb(F, K, tau, sd, disc, w):
    """(price, forward delta) of Black-76 with the time terms given: ``tau`` = max(T, 0) (see
    ``_year_fraction``), ``sd`` = vol·√tau, ``disc`` = e^{-r·tau}, ``w`` = +1 call / −1 put.
    The same operations as :func:`black76_price_nb`, so the price is bit for bit its price; the
    delta is disc·w·N(w·d1) (at σ√τ = 0 the step, a subgradient of the kink). NaN for F < 0 or
    K < 0. Inlined, with the normal CDF: call it from kernels compiled with error_model="numpy"
    (a zero σ√τ divides by zero on the way to the limits)."""
    return _black76_price_delta(F, K, sd, disc, w, False)


@_inline
def black76_price_delta_straight_nb(F, K, sd, disc, w):
    """:func:`black76_price_delta_nb` as straight-line code (``simd_math`` exp and log,
    ``ncdf_select_nb``, the limits selected): a loop over many forwards or vols calling it
    compiles to SIMD code. Not the same bits as the scalar version: the exp and log are each
    within 1 ulp of the C library's, which moves a price by a few ulps of F and K (relative to
    the price itself: ≲ 1e-13 where it is not far out of the money; tests against the NumPy
    reference). Inlined: call it from kernels compiled with error_model="numpy"."""
    return _black76_price_delta(F, K, sd, disc, w, True)


@_device
def black76_delta_nb(F, K, T, r, vol, is_call):
    """Black-76 forward delta ∂V/∂F = e^{-rT}·N(d1) (call), e^{-rT}·(N(d1) − 1) (put).

    Same edge handling as ``black76_price_nb``; at σ√T = 0 the delta is the step (½ at F = K).
    """
    if not (F >= 0.0 and K >= 0.0):
        return math.nan
    w = 1.0 if is_call else -1.0
    tau = _year_fraction(T)
    n1, _, _ = _black_terms(F, K, tau, vol, w, False)
    return math.exp(-r * tau) * w * n1


@_inline
def _bsm_forward(S, T, r, q, straight):
    tau = _year_fraction(T)
    return S * _exp(-q * tau, straight) / _exp(-r * tau, straight)


@_device
def bsm_forward_nb(S, T, r, q):
    """Forward S·e^{(r−q)T} written as S·e^{-qT}/e^{-rT}, exactly S when q = r."""
    return _bsm_forward(S, T, r, q, False)


@_inline
def _bsm_price_greeks(S, K, T, r, q, vol, is_call, straight):
    w = 1.0 if is_call else -1.0
    tau = _year_fraction(T)
    disc_r = _exp(-r * tau, straight)
    disc_q = _exp(-q * tau, straight)
    F = S * disc_q / disc_r
    n1, n2, pdf = _black_terms(F, K, tau, vol, w, straight)
    price = disc_r * w * (F * n1 - K * n2)
    delta = disc_q * w * n1
    sqrt_tau = math.sqrt(tau)
    vega = disc_q * S * pdf * sqrt_tau
    gamma = disc_q * pdf / (S * vol * sqrt_tau)
    decay = 0.5 * vega * vol / tau
    if not pdf > 0.0:  # T → 0⁺ limits; the expressions above are NaN or inf here (a select)
        vega = gamma = decay = 0.0
    theta = r * price - (r - q) * S * delta - decay
    rho = tau * disc_r * w * K * n2
    return price, delta, gamma, vega, theta, rho


@_device
def bsm_price_greeks_nb(S, K, T, r, q, vol, is_call):
    """Black-Scholes-Merton (price, delta, gamma, vega, theta, rho) with dividend/carry yield q.

    Units: delta ∂V/∂S, gamma ∂²V/∂S², vega ∂V/∂σ per 1.00 vol, theta −∂V/∂T per year,
    rho ∂V/∂r per 1.00 rate (Hull, Options Futures and Other Derivatives, ch. 19).
    T ≤ 0 is treated as T = 0 and the Greeks are their T → 0⁺ limits (gamma = vega = 0).
    """
    return _bsm_price_greeks(S, K, T, r, q, vol, is_call, False)


@_inline
def _invalid(S, K, vol):
    """Negative or NaN spot/forward, strike or vol: the vectorised API returns NaN.

    ``&``, not ``and``: numba's parfor alias analysis takes the booleans of a short-circuit
    ``and`` for aliases and then does not mark the loop's arrays noalias; LLVM would need runtime
    overlap checks between the output rows and the inputs and, on AVX-512 targets, gives up
    vectorising the loop (tests/pricing/test_vectorised.py, BENCHMARKS.md "Pricing")."""
    return not ((S >= 0.0) & (K >= 0.0) & (vol >= 0.0))


@_parallel
def bsm_price_vec(S, K, T, r, q, vol, is_call, out):
    """out[i] = Black-Scholes-Merton price; Black-76 is the case q = r with S = F. Straight-line
    body (invalid inputs selected to NaN, not branched around): LLVM vectorises the loop."""
    for i in prange(out.size):
        F = _bsm_forward(S[i], T[i], r[i], q[i], True)
        price = _black76_price(F, K[i], T[i], r[i], vol[i], is_call[i] != 0.0, True)
        out[i] = math.nan if _invalid(S[i], K[i], vol[i]) else price


@_parallel
def bsm_price_greeks_vec(S, K, T, r, q, vol, is_call, out):
    """out[:, i] = (price, delta, gamma, vega, theta, rho) of ``bsm_price_greeks_nb``, vega/100,
    theta/365 (out has 8 rows); one pass, in straight-line code (invalid inputs selected to
    NaN): LLVM vectorises the loop."""
    for i in prange(out.shape[1]):
        price, delta, gamma, vega, theta, rho = _bsm_price_greeks(
            S[i], K[i], T[i], r[i], q[i], vol[i], is_call[i] != 0.0, True)
        invalid = _invalid(S[i], K[i], vol[i])
        out[0, i] = math.nan if invalid else price
        out[1, i] = math.nan if invalid else delta
        out[2, i] = math.nan if invalid else gamma
        out[3, i] = math.nan if invalid else vega
        out[4, i] = math.nan if invalid else theta
        out[5, i] = math.nan if invalid else rho
        out[6, i] = out[3, i] / 100.0
        out[7, i] = out[4, i] / 365.0


@_parallel
def inverse_delta_vec(F, K, T, r, vol, is_call, out):
    """out[i] = Black-76 delta − Black-76 price / F (premium-adjusted coin delta); F ≤ 0 → NaN."""
    for i in prange(out.size):
        if _invalid(F[i], K[i], vol[i]) or not F[i] > 0.0:
            out[i] = math.nan
        else:
            call = is_call[i] != 0.0
            premium_coin = black76_price_nb(F[i], K[i], T[i], r[i], vol[i], call) / F[i]
            out[i] = black76_delta_nb(F[i], K[i], T[i], r[i], vol[i], call) - premium_coin


@_inline
def _log(x, straight):
    """ln x: the vectorisable ``simd_math.log_nb`` in straight-line kernels, else the C library's."""
    return log_nb(x) if straight else math.log(x)


@_inline
def _ncdf(z, e, straight):
    """N(z) given e = e^{-z²/2}: ``ncdf_select_nb`` in straight-line kernels, else ``ncdf_nb``."""
    return ncdf_select_nb(z, e) if straight else ncdf_nb(z, e)


@_inline
def _normalised_otm_call(x, s, up, down, straight):
    """Normalised OTM call b = e^{x/2}N(d1) − e^{-x/2}N(d2), d1,2 = x/s ± s/2, x ≤ 0, s = σ√T;
    its gap to the upper bound e^{x/2} − b = e^{x/2}N(−d1) + e^{-x/2}N(d2) (no cancellation);
    and ∂b/∂s = e^{x/2}·n(d1). ``up``, ``down`` = e^{±x/2}; e^{-d2²/2} = e^{-d1²/2}·e^{x}.
    N(d1) and N(−d1) come from one evaluation of the tail N(−|d1|).
    """
    d1 = x / s + 0.5 * s
    d2 = d1 - s
    e1 = _exp(-0.5 * d1 * d1, straight)
    e2 = e1 * (up * up) if e1 > _GAUSS_FACTOR_MIN else _exp(-0.5 * d2 * d2, straight)
    tail = _ncdf(-abs(d1), e1, straight)
    n_d1, n_minus_d1 = (tail, 1.0 - tail) if d1 < 0.0 else (1.0 - tail, tail)
    n_d2 = _ncdf(d2, e2, straight)
    return (up * n_d1 - down * n_d2, up * n_minus_d1 + down * n_d2, _INV_SQRT_2PI * up * e1)


@_inline
def _regions(beta, x, straight):
    """(e^{x/2}, e^{-x/2}, s_c, b(s_c), beta < b(s_c), the objective's target) of the normalised
    OTM call price beta at x ≤ 0: s_c = √(2|x|) is the inflection point of b(s), below which
    the solver works on ln b − ln β, above on ln(b_max − β) − ln(b_max − b), b_max = e^{x/2}.
    b(s_c) from one normal CDF: d1 = 0, d2 = −s_c, e^{-s_c²/2} = e^{x}."""
    up = _exp(0.5 * x, straight)
    down = 1.0 / up
    s_c = sqrt_nb(-2.0 * x)
    b_c = 0.5 * up - down * _ncdf(-s_c, up * up, straight)
    lower = beta < b_c
    ln_target = _log(beta if lower else up - beta, straight)
    return up, down, s_c, b_c, lower, ln_target


@_inline
def _starting_stdev(beta, x, s_c, b_c, up, lower, ln_target, straight):
    """A starting σ√T for the normalised OTM call price beta, no Black evaluation: on the side
    of the inflection point s_c = √(2|x|) where beta lies, the tightest of two one-sided guesses.

    Below s_c (b convex, both overestimate): the tangent at s_c, and the inverse of Jäckel's
    lower map f(s) = 2π|x|/√27 · N(−|x|/(√3·s))³ ("Let's Be Rational", Wilmott 2015), the
    s → 0 asymptote of b, taken at f = beta. Above s_c (b concave, both underestimate): the
    tangent at s_c, and the inverse of b_max − b ≈ 2N(−s/2) (exact at x = 0). Either way one
    lower normal quantile N⁻¹(p), p ≤ ½; ``ln_target`` is ln beta below s_c, ln(b_max − beta)
    above. Written as selects: straight-line when ``straight``.
    """
    tangent = s_c + (beta - b_c) / (_INV_SQRT_2PI * up)  # ∂b/∂s at s_c = e^{x/2}·n(0)
    ln_p = ((ln_target - _LN_LOWER_MAP - _log(-x, straight)) / 3.0 if lower  # p = N(−|x|/(√3·s))
            else ln_target + _LN_HALF)  # p = N(−s/2)
    p = _exp(ln_p, straight) if lower else 0.5 * (up - beta)
    quantile = lower_quantile_nb(p, ln_p)
    start = tangent if tangent > 0.0 else s_c
    below = min(start, x / (_SQRT_3 * quantile)) if ln_p < _LN_HALF else start
    return below if lower else max(tangent, -2.0 * quantile)


@_inline
def _householder_step(x, s, up, down, lower, ln_target, straight):
    """(b(s), the order-4 Householder step Δ from s, the constant C of its error ≈ C·Δ⁴) on the
    objective of the region (``_regions``): g = ln b − ln β below s_c, ln(b_max − β) −
    ln(b_max − b) above; all derivatives follow from ∂b/∂s = e^{x/2}·n(d1). C is bounded by the
    sum of its terms' magnitudes."""
    b, gap, vega = _normalised_otm_call(x, s, up, down, straight)
    # b^(k)/b' for k = 2, 3, 4, from (ln b')' = −d1·∂d1/∂s = x²/s³ − s/4
    x2 = x * x
    s2 = s * s
    c1 = x2 / (s2 * s) - 0.25 * s
    c1_prime = -3.0 * x2 / (s2 * s2) - 0.25
    c2 = c1 * c1 + c1_prime
    c3 = c1 * c2 + 2.0 * c1 * c1_prime + 12.0 * x2 / (s2 * s2 * s)
    # g' = u·sign and g^(k)/g' (k = 2, 3, 4); u = ∂ln b/∂s below s_c, ∂ln(b_max − b)/∂s above
    sign = -1.0 if lower else 1.0
    u = vega / (b if lower else gap)
    g = sign * (ln_target - _log(b if lower else gap, straight))
    su = sign * u
    h2 = c1 + su
    h3 = c2 + 3.0 * c1 * su + 2.0 * u * u
    h4 = c3 + su * (4.0 * c2 + 3.0 * c1 * c1 + su * (12.0 * c1 + 6.0 * su))
    newton = -g / u
    step = newton * (1.0 + 0.5 * h2 * newton) / (1.0 + newton * (h2 + h3 * newton / 6.0))
    error_constant = abs(h2 * h2 * h2) / 8.0 + abs(h2 * h3) / 6.0 + abs(h4) / 24.0
    return b, step, error_constant


@_inline
def _converged(step, s_new, error_constant):
    """The stop without another evaluation: |Δ| below 1e-12·s, or the error estimate C·Δ⁴
    below it with |Δ| ≤ 5% of s (where the expansion holds)."""
    size = abs(step)
    size2 = size * size
    return (size <= _IV_REL_STEP_TOL * s_new) | (
        (size <= 0.05 * s_new) & (error_constant * (size2 * size2) <= _IV_REL_STEP_TOL * s_new))


@_inline
def _bisect(lo, hi, s):
    """The safeguard step when Householder's leaves the bracket (lo, hi): its midpoint, or twice
    the larger of lo and s while hi is unbounded."""
    return 0.5 * (lo + hi) if hi < math.inf else 2.0 * max(lo, s)


@_device
def normalised_implied_stdev_nb(beta, x):
    """Total implied stdev s = σ√T of a normalised OTM call price beta = C/√(FK), x = ln(F/K) ≤ 0.

    Householder iterations of order 4 (Jäckel, "Let's Be Rational") inside a bisection bracket,
    on the objective that Jäckel ("By Implication", Wilmott 2006) shows to be well scaled in each
    region split at the inflection point s_c = √(2|x|): ln b − ln β below it,
    ln(b_max − β) − ln(b_max − b) above; all derivatives follow from ∂b/∂s = e^{x/2}·n(d1).
    A step Δ of an order-4 method leaves an error ≈ C·Δ⁴ with C from the derivatives at hand:
    the solver stops, without another evaluation, once |C|·Δ⁴ (C bounded by the sum of its
    terms' magnitudes, and only with |Δ| ≤ 5% of s, where the expansion holds) or |Δ| itself is
    below 1e-12·s. On average 1.8 evaluations of b per option (benchmark book).
    Returns (s, the number of evaluations of b); s is NaN unless 0 < beta < b_max = e^{x/2}.
    """
    up, down, s_c, b_c, lower, ln_target = _regions(beta, x, False)
    if not (0.0 < beta < up):
        return math.nan, 0
    lo, hi = (0.0, s_c) if lower else (s_c, math.inf)
    s = _starting_stdev(beta, x, s_c, b_c, up, lower, ln_target, False)
    for evaluations in range(1, _IV_MAX_ITER + 1):
        b, step, error_constant = _householder_step(x, s, up, down, lower, ln_target, False)
        if b == beta:
            return s, evaluations
        if b < beta:
            lo = s
        else:
            hi = s
        s_new = s + step
        if not lo < s_new < hi:
            s = _bisect(lo, hi, s)
            continue
        if _converged(step, s_new, error_constant):
            return s_new, evaluations
        s = s_new
    return s, _IV_MAX_ITER


@_inline
def _vectorised_step(beta, x, up, down, lower, ln_target, s, lo, hi, done):
    """One iteration of ``normalised_implied_stdev_nb``'s loop as selects, on the state
    (s, bracket lo < s < hi, done): once done, s stays where it stopped (the step is computed
    and discarded; lo and hi no longer matter)."""
    b, step, error_constant = _householder_step(x, s, up, down, lower, ln_target, True)
    lo = s if b < beta else lo
    hi = s if b > beta else hi
    s_new = s + step
    inside = (lo < s_new) & (s_new < hi)
    s_next = s_new if inside else _bisect(lo, hi, s)
    return (s if done else s_next), lo, hi, done | (inside & _converged(step, s_new, error_constant))


@_inline
def _vectorised_stdev(beta, x):
    """(s, converged) of the solver of ``normalised_implied_stdev_nb`` run for exactly two
    evaluations in straight-line code (``_vectorised_step``; written out twice, not looped, so
    that the option loop around it is innermost and LLVM vectorises it). ``converged`` is also
    True, with s NaN, where there is no solution (beta outside (0, b_max)); False means "not
    yet", for the scalar solver to finish."""
    up, down, s_c, b_c, lower, ln_target = _regions(beta, x, True)
    s = _starting_stdev(beta, x, s_c, b_c, up, lower, ln_target, True)
    lo = 0.0 if lower else s_c
    hi = s_c if lower else math.inf
    valid = (0.0 < beta) & (beta < up)
    s, lo, hi, done = _vectorised_step(beta, x, up, down, lower, ln_target, s, lo, hi, not valid)
    s, lo, hi, done = _vectorised_step(beta, x, up, down, lower, ln_target, s, lo, hi, done)
    return (s if valid else math.nan), done


@_inline
def _normalised_otm_price(price, F, K, T, r, is_call, straight):
    w = 1.0 if is_call else -1.0
    undiscounted = price * _exp(r * T, straight)
    time_value = undiscounted - max(w * (F - K), 0.0)  # = the OTM option (put-call parity)
    valid = ((T > 0.0) & (F > 0.0) & (K > 0.0) & (price >= 0.0)
             & (time_value > _IV_MIN_TIME_VALUE * undiscounted))
    beta = time_value / sqrt_nb(F * K)
    x = -abs(_log(F / K, straight))  # OTM put at x = OTM call at −x
    return (beta if valid else math.nan), (x if valid else 0.0)


@_device
def normalised_otm_price_nb(price, F, K, T, r, is_call):
    """(beta, x): the out-of-the-money time value of a Black-76 price discounted at r,
    normalised, beta = C/√(FK), and x = −|ln(F/K)|; beta is NaN for T ≤ 0, F ≤ 0, K ≤ 0, a
    negative price, or a time value below 1e-14 of the price (vega too small to identify the vol).
    """
    return _normalised_otm_price(price, F, K, T, r, is_call, False)


@_device
def implied_vol_nb(price, F, K, T, r, is_call):
    """Black-76 implied vol of a price discounted at r; NaN outside the no-arbitrage bounds
    max(w(F−K), 0)·e^{-rT} < price < (F for calls, K for puts)·e^{-rT}, for T ≤ 0, F ≤ 0, K ≤ 0,
    or when the time value is below 1e-14 of the price (vega too small to identify the vol).
    """
    beta, x = normalised_otm_price_nb(price, F, K, T, r, is_call)
    return normalised_implied_stdev_nb(beta, x)[0] / math.sqrt(T)


@_parallel
def implied_vol_vec(price, S, K, T, r, q, is_call, out):
    """out[i] = Black-Scholes-Merton implied vol (forward S·e^{(r−q)T}), by blocks of _IV_BLOCK
    options: a straight-line pass that LLVM vectorises takes every option through the starting
    guess and two Householder steps (``_vectorised_stdev``; 99.8% of the benchmark
    book's solvable options have stopped by then), marking the rest −1; then the scalar
    ``implied_vol_nb`` solves those few from the start."""
    for block in prange((out.size + _IV_BLOCK - 1) // _IV_BLOCK):
        start = block * _IV_BLOCK
        stop = min(start + _IV_BLOCK, out.size)
        for i in range(start, stop):
            F = _bsm_forward(S[i], T[i], r[i], q[i], True)
            beta, x = _normalised_otm_price(price[i], F, K[i], T[i], r[i], is_call[i] != 0.0, True)
            s, done = _vectorised_stdev(beta, x)
            out[i] = s / sqrt_nb(T[i]) if done else -1.0
        for i in range(start, stop):
            if out[i] < 0.0:
                F = bsm_forward_nb(S[i], T[i], r[i], q[i])
                out[i] = implied_vol_nb(price[i], F, K[i], T[i], r[i], is_call[i] != 0.0)
