"""The standard normal CDF for the numba kernels, with the Gaussian factor supplied by the caller.

``ncdf_nb(z, e)`` returns N(z) given ``e = exp(−z²/2)``. Black-Scholes needs that exponential
anyway (the density n(d1) for the Greeks, and n(d2) = n(d1)·F/K), so a price with all its
Greeks costs one ``exp`` for both probabilities and the density instead of two ``erfc`` calls
and an ``exp``.

Method: W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23
(1969) 631–637, as in his CALERF routine: with u = |z|/√2,
  * u ≤ 0.46875: erf(u) = u·A(u²)/B(u²), N(z) = ½ ± ½·erf(u);
  * 0.46875 < u ≤ 4: erfc(u) = e^{−u²}·C(u)/D(u);
  * u > 4: erfc(u) = e^{−u²}/u·(1/√π − u⁻²·P(u⁻²)/Q(u⁻²));
and N(−|z|) = ½·erfc(u), N(|z|) = 1 − ½·erfc(u). Cody's approximations are accurate to
< 2e-16 relative in each interval; the result is within a few ulps of N(z) in both tails
relative to its own size (tests: against 60-digit mpmath), except for the rounding of e itself:
a relative error δ of e (≈ ε·z²/2 from rounding z²/2) is passed on unchanged — the same
argument-rounding error any erfc-based N(z) carries.

``norm_quantile_nb`` is the inverse, N⁻¹(p), to about 1e-7 relative (M. J. Wichura, "Algorithm
AS 241: The percentage points of the normal distribution", Appl. Statist. 37 (1988) 477–484,
PPND7): a starting guess for the implied-vol solver, never a result. ``lower_quantile_nb`` is the
same for p ≤ ½ in straight-line form (every piece evaluated, one selected), for the vectorised
implied-vol pass.
"""

import math

import numba

import liqrisk._jitcache  # noqa: F401,E402  (before any cached kernel: see its docstring)
from liqrisk.pricing.simd_math import sqrt_nb

_device = numba.njit(cache=True, nogil=True, error_model="numpy")
_inline = numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")  # see kernels

_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)


@_inline
def _erf_small(u):
    """erf(u) for |u| ≤ 0.46875 (Cody's first interval)."""
    y = u * u
    num = ((((0.185777706184603153 * y + 3.16112374387056560) * y + 113.864154151050156) * y
            + 377.485237685302021) * y + 3209.37758913846947)
    den = ((((y + 23.6012909523441209) * y + 244.024637934444173) * y + 1282.61652607737228) * y
           + 2844.23683343917062)
    return u * num / den


@_inline
def _erfc_scaled_middle(u):
    """e^{u²}·erfc(u) for 0.46875 < u ≤ 4 (Cody's second interval)."""
    num = ((((((((2.15311535474403846e-8 * u + 0.564188496988670089) * u + 8.88314979438837594) * u
                + 66.1191906371416295) * u + 298.635138197400131) * u + 881.952221241769090) * u
             + 1712.04761263407058) * u + 2051.07837782607147) * u + 1230.33935479799725)
    den = ((((((((u + 15.7449261107098347) * u + 117.693950891312499) * u + 537.181101862009858) * u
               + 1621.38957456669019) * u + 3290.79923573345963) * u + 4362.61909014324716) * u
            + 3439.36767414372164) * u + 1230.33935480374942)
    return num / den


@_inline
def _erfc_scaled_tail(u):
    """e^{u²}·erfc(u) for u > 4 (Cody's third interval)."""
    y = 1.0 / (u * u)
    num = (((((0.0163153871373020978 * y + 0.305326634961232344) * y + 0.360344899949804439) * y
             + 0.125781726111229246) * y + 0.0160837851487422766) * y + 6.58749161529837803e-4)
    den = (((((y + 2.56852019228982242) * y + 1.87295284992346047) * y + 0.527905102951428412) * y
            + 0.0605183413124413191) * y + 0.00233520497626869185)
    return (_INV_SQRT_PI - y * num / den) / u


@_device
def ncdf_nb(z, e):
    """N(z) given e = exp(−z²/2) (see the module docstring); NaN in, NaN out."""
    return ncdf_inline_nb(z, e)


@_inline
def ncdf_inline_nb(z, e):
    """``ncdf_nb`` inlined into the caller (a kernel compiled with error_model="numpy"): the
    same operations, so the same value, without the call."""
    u = abs(z) * _INV_SQRT_2
    if u <= 0.46875:
        half = 0.5 * _erf_small(u)
        return 0.5 + half if z > 0.0 else 0.5 - half
    tail = 0.5 * e * (_erfc_scaled_middle(u) if u <= 4.0 else _erfc_scaled_tail(u))  # N(−|z|)
    return 1.0 - tail if z > 0.0 else tail


@_inline
def ncdf_select_nb(z, e):
    """``ncdf_nb`` without branches, for loops LLVM vectorises: all three of Cody's intervals
    are evaluated (arguments clamped into them) and the right one selected; same value."""
    u = abs(z) * _INV_SQRT_2
    half = 0.5 * _erf_small(min(u, 0.46875))
    middle, far = _erfc_scaled_middle(min(u, 4.0)), _erfc_scaled_tail(max(u, 4.0))
    tail = 0.5 * e * (middle if u <= 4.0 else far)
    near = 0.5 + half if z > 0.0 else 0.5 - half
    return near if u <= 0.46875 else (1.0 - tail if z > 0.0 else tail)


@_device
def norm_cdf_nb(z):
    """Standard normal CDF N(z), full relative accuracy in the lower tail."""
    return ncdf_nb(z, math.exp(-0.5 * z * z))


@_inline
def _quantile_central(q):
    """N⁻¹(½ + q) for |q| ≤ 0.425 (PPND7's central piece)."""
    r = 0.180625 - q * q
    return (q * (((59.109374720 * r + 159.29113202) * r + 50.434271938) * r + 3.3871327179)
            / (((67.187563600 * r + 78.757757664) * r + 17.895169469) * r + 1.0))


@_inline
def _quantile_tail(ln_p):
    """N⁻¹(p) for p = e^{ln_p} < 0.075, from r = √(−ln p): PPND7's two tail pieces (r ≤ 5 and
    r > 5), both evaluated and one selected, so that the code is straight-line."""
    r = sqrt_nb(-ln_p)
    near = r - 1.6
    far = r - 5.0
    v_near = ((((0.17023821103 * near + 1.3067284816) * near + 2.7568153900) * near + 1.4234372777)
              / ((0.12021132975 * near + 0.73700164250) * near + 1.0))
    v_far = ((((0.017337203997 * far + 0.42868294337) * far + 3.0812263860) * far + 6.6579051150)
             / ((0.012258202635 * far + 0.24197894225) * far + 1.0))
    return -(v_near if r <= 5.0 else v_far)


@_device
def norm_quantile_nb(p):
    """N⁻¹(p) for 0 < p < 1 to about 1e-7 relative (Wichura's PPND7)."""
    q = p - 0.5
    if abs(q) <= 0.425:
        return _quantile_central(q)
    tail = _quantile_tail(math.log(p if q < 0.0 else 1.0 - p))
    return tail if q < 0.0 else -tail


@_inline
def lower_quantile_nb(p, ln_p):
    """N⁻¹(p) for 0 < p ≤ ½ given both p and ln_p = ln p: the central piece reads p, the tail
    pieces ln p (so p may have underflowed to 0 in the tail). Straight-line (every piece
    evaluated, one selected): for loops that LLVM vectorises."""
    central = _quantile_central(p - 0.5)
    tail = _quantile_tail(ln_p)
    return central if p >= 0.5 - 0.425 else tail


@_device
def norm_quantile_of_log_nb(ln_p):
    """N⁻¹(e^{ln_p}) for ln_p ≤ ln ½, without forming p in the tail (no underflow)."""
    return lower_quantile_nb(math.exp(ln_p), ln_p)
