"""exp and log as straight-line float64 code, so that LLVM vectorises the loops that call them.

numba lowers ``math.exp``/``math.log`` to calls of the C library, one element at a time, which
keeps a loop scalar (numba's vector math needs Intel's SVML, not installed here). These
versions are polynomials plus integer work on the float's bits, with no branch (edge cases are
selects), so a ``prange`` loop over them compiles to AVX2/AVX-512 (SSE2 under
``NUMBA_CPU_NAME=generic``) code that evaluates 4–8 options at once.

* ``exp_nb``: x = k·ln 2 + r with |r| ≤ ln 2 / 2 (Cody–Waite: ln 2 in two parts, the first
  exact times k), e^r by its Taylor polynomial of degree 13 (truncation < 5e-18), times 2^k
  applied as two factors so that subnormal results round once. Within 1 ulp of the truth on
  [−745, 709.78] (tests: against 60-digit mpmath); 0 below, inf above, NaN for NaN.
* ``log_nb``: x = 2^k·m with √½ ≤ m < √2, ln m = 2·atanh(f/(2+f)), f = m − 1, with the minimax
  coefficients of fdlibm's ``__ieee754_log`` (Sun Microsystems, 1993) — the method of every
  common C library; within 1 ulp. Subnormal x are scaled by 2^54 first; ln 0 = −inf,
  ln x = NaN for x < 0, ln inf = inf.
* ``expm1_nb``: e^x − 1 without the cancellation near 0: for |x| < ln 2 its Taylor polynomial
  x·Σ_{n≤16} x^n/(n+1)! (truncation < 1e-18 relative), else ``exp_nb(x) − 1`` (|e^x − 1| ≥ ½
  there, so the subtraction loses at most a bit); within 2 ulp, both branches computed and one
  selected.
* ``sqrt_nb``: the correctly rounded √x of the hardware (LLVM's intrinsic, not the C call).
"""

import math

import numba
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

_device = numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
"""Inlined into the caller's numba IR: a call (which LLVM cannot always inline across numba's
modules) would keep the caller's loop scalar."""


@intrinsic
def _bits(typingctx, x):
    """The IEEE-754 bits of a float64 as an int64 (a bit cast, no conversion)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@intrinsic
def sqrt_nb(typingctx, x):
    """√x of a float64 as LLVM's sqrt intrinsic (one vsqrtpd/sqrtsd, correctly rounded; NaN for
    x < 0). numba calls the C library's sqrt, which may set errno and so keeps a loop scalar
    wherever LLVM cannot prove the argument non-negative."""
    def codegen(context, builder, signature, args):
        sqrt = builder.module.declare_intrinsic("llvm.sqrt", [ir.DoubleType()])
        return builder.call(sqrt, args)
    return types.float64(types.float64), codegen


@intrinsic
def _float(typingctx, i):
    """The float64 whose IEEE-754 bits are the int64 i."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


_INV_LN2 = 1.0 / math.log(2.0)
_LN2_HI = 6.93147180369123816490e-01  # 32 significant bits: k·_LN2_HI is exact for |k| < 2^21
_LN2_LO = 1.90821492927058770002e-10  # ln 2 − _LN2_HI
_ROUND = 6755399441055744.0  # 1.5·2^52: y + _ROUND rounds y to an integer held in the low bits
_EXP_TAYLOR = tuple(1.0 / math.factorial(n) for n in range(13, -1, -1))
_EXPM1_TAYLOR = tuple(1.0 / math.factorial(n + 1) for n in range(16, -1, -1))
_EXPM1_SMALL = math.log(2.0)
_SCALE_SUBNORMAL = 2.0 ** 54
_TINY = 2.2250738585072014e-308  # smallest normal float64
_LOG_BIAS = 0x3FF0000000000000 - 0x3FE6A09E00000000  # moves [√½, √2) onto one binade
_MANTISSA = 0x000FFFFFFFFFFFFF
_LOG_BASE = 0x3FE6A09E00000000
# fdlibm e_log.c: ln(1+f) = f − f²/2 + s·(f²/2 + R(s²)), s = f/(2+f), R to 2^-58.45
_LG1, _LG2, _LG3, _LG4 = (6.666666666666735130e-01, 3.999999999940941908e-01,
                          2.857142874366239149e-01, 2.222219843214978396e-01)
_LG5, _LG6, _LG7 = 1.818357216161805012e-01, 1.531383769920937332e-01, 1.479819860511658591e-01


@_device
def exp_nb(x):
    """e^x, branch-free (module docstring)."""
    clamped = min(max(x, -746.0), 710.0)
    shifted = clamped * _INV_LN2 + _ROUND
    k = _bits(shifted) - _bits(_ROUND)
    kf = shifted - _ROUND
    r = (clamped - kf * _LN2_HI) - kf * _LN2_LO
    p = _EXP_TAYLOR[0]
    for c in _EXP_TAYLOR[1:]:
        p = p * r + c
    half = k >> 1
    y = p * _float((half + 1023) << 52) * _float((k - half + 1023) << 52)
    return y if x == x else x


@_device
def expm1_nb(x):
    """e^x − 1, branch-free (module docstring)."""
    p = _EXPM1_TAYLOR[0]
    for c in _EXPM1_TAYLOR[1:9]:             # two short loops: LLVM unrolls each (one long one it
        p = p * x + c                        # keeps as a loop, which keeps the caller's loop scalar)
    for c in _EXPM1_TAYLOR[9:]:
        p = p * x + c
    return p * x if abs(x) < _EXPM1_SMALL else exp_nb(x) - 1.0


@_device
def log_nb(x):
    """ln x, branch-free (module docstring)."""
    subnormal = x < _TINY
    bits = _bits(x * _SCALE_SUBNORMAL if subnormal else x) + _LOG_BIAS
    k = (bits >> 52) - (1023 + 54 if subnormal else 1023)
    f = _float((bits & _MANTISSA) + _LOG_BASE) - 1.0
    half_f2 = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    r = w * (_LG2 + w * (_LG4 + w * _LG6)) + z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    kf = float(k)
    y = s * (half_f2 + r) + kf * _LN2_LO - half_f2 + f + kf * _LN2_HI
    if x == 0.0:
        y = -math.inf
    if x < 0.0:
        y = math.nan
    return y if x < math.inf else x
