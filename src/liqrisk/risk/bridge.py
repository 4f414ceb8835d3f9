"""Brownian-bridge probability that a log-price stays inside its liquidation interval between
two monitoring steps.

For a barrier ``B`` and log-prices ``x0, x1`` at the ends of a step of ``Δt`` years, both on the
safe side, the probability of a crossing in between is ``exp(−c·(x0 − B)(x1 − B))`` with
``c = 2/(σ²Δt)`` (Beaglehole, Dybvig & Zhou 1997; Glasserman 2004 §6.4), exact for GBM; the two
sides of an interval ``(lo, hi)`` are combined as ``(1 − p_lo)(1 − p_hi)`` (the product neglects
crossing both sides within one step). Multiplying these factors over the steps of a path gives
its survival probability: the Monte Carlo estimator averages ``1 − Π q`` over paths, a
conditional expectation with a smaller variance than the hit indicator.
"""
from __future__ import annotations

import numpy as np
from numba import njit

import liqrisk._jitcache  # noqa: F401,E402  (before any cached kernel: see its docstring)

FAR = 38.0
"""Bridge exponents ``a = c·(x0 − B)(x1 − B)`` at or above this are skipped: ``1 − e^−38`` rounds
to exactly 1.0 in double precision, so skipping them changes no result. Each factor is computed
as ``−expm1(−a)``, accurate to an ulp or two relative for every ``a`` (``1 − exp(−a)`` loses
``eps/a`` relative to cancellation when ``a`` is small, and NumPy's and libm's ``exp`` differ in
the last ulp, so the two implementations would disagree there)."""


@njit(cache=True, nogil=True, inline="always")
def bridge_stay(x0, x1, lo, hi, c, outside):
    """Probability that a Brownian bridge from ``x0`` to ``x1`` with ``c = 2/(σ²Δt)`` stays in
    (lo, hi); ``outside`` if an end point is not inside (0: the step breached; 1 where a discrete
    health check decides instead, as on the compiled book). Sides multiplied (module docstring)."""
    if x0 <= lo or x0 >= hi or x1 <= lo or x1 >= hi:
        return outside
    q = 1.0
    a = c * (x0 - lo) * (x1 - lo)
    if a < FAR:
        q *= -np.expm1(-a)
    a = c * (hi - x0) * (hi - x1)
    if a < FAR:
        q *= -np.expm1(-a)
    return q


def bridge_survival(x0, x1, lo, hi, c) -> np.ndarray:
    """:func:`bridge_stay` with 0 outside, on arrays (NumPy broadcasting; not a compiled ufunc,
    whose compilation cost every command ~0.3 s warm and ~2 s on a cold cache)."""
    x0, x1 = np.broadcast_arrays(np.asarray(x0, dtype=float), np.asarray(x1, dtype=float))
    inside = (x0 > lo) & (x1 > lo) & (x0 < hi) & (x1 < hi)
    with np.errstate(invalid="ignore", over="ignore"):     # outside points: masked at the end
        a_lo = c * (x0 - lo) * (x1 - lo)
        a_hi = c * (hi - x0) * (hi - x1)
        q = np.where(a_lo < FAR, -np.expm1(-np.where(a_lo < FAR, a_lo, 0.0)), 1.0)
        q = q * np.where(a_hi < FAR, -np.expm1(-np.where(a_hi < FAR, a_hi, 0.0)), 1.0)
    return np.where(inside, q, 0.0)
