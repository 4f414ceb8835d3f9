"""The batch pricing of scenario pools' shocked options (kernel._price_lanes: one lane per option
and scenario, priced in one vectorised straight-line loop) against the NumPy reference, and the
property the certified scan's bit-for-bit agreement with the plain scan rests on: a lane's price
and delta do not depend on where it sits in a batch (vector body, padding) or on the batch size.

Tolerance (derived): the straight-line exp and log are within 1 ulp of the truth, as are NumPy's;
the price e^{-rτ}·w·(F·N(w·d1) − K·N(w·d2)) then carries an absolute error of a few ε·(F + K)
from its two products, plus N′ ≤ 0.4 times the error of d1 = ln(F/K)/σ√τ + σ√τ/2, which is a few
ε·(1 + |ln(F/K)|/σ√τ); the delta the same without the factor F + K. 64 ε of each leaves a margin
of ~10 over what either side can round."""
import numpy as np
import pytest

from liqrisk.margin import kernel as K
from liqrisk.pricing import kernels as P
from liqrisk.pricing import reference

pytestmark = pytest.mark.numerics
EPS = np.finfo(float).eps


def _lanes(rng, n):
    F = 91_250.0 * np.exp(rng.uniform(-3.0, 3.0, n))
    Kx = 91_250.0 * np.exp(rng.uniform(-0.6, 0.6, n))
    sd = rng.choice([0.0, 1e-4, 0.05, 0.3, 1.2], n) * rng.uniform(0.5, 1.5, n)
    disc = np.exp(-rng.choice([0.0, 0.05], n) * 0.25)
    w = rng.choice([-1.0, 1.0], n)
    F[:3] = [0.0, Kx[1], 1e-12 * Kx[2]]        # a zero forward, at the money, the floor of a shock
    lanes = np.zeros((K._LANES, n + K._PAD))
    for row, v in ((K._L_F, F), (K._L_K, Kx), (K._L_SD, sd), (K._L_DISC, disc), (K._L_W, w)):
        lanes[row, :n] = v
    return lanes


def test_lane_prices_and_deltas_agree_with_the_numpy_reference():
    rng = np.random.default_rng(7)
    n = 4_001
    lanes = _lanes(rng, n)
    K._price_lanes(n, lanes)
    F, Kx, sd, disc, w = (lanes[r, :n] for r in (K._L_F, K._L_K, K._L_SD, K._L_DISC, K._L_W))
    r = -np.log(disc)                                  # τ = 1 year: σ = σ√τ, e^{-r} = disc
    price = reference.black76(F, Kx, 1.0, r, sd, w > 0)
    delta = reference.greeks(F, Kx, 1.0, r, sd, w > 0, q=r)["delta"]
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.where(sd > 0, np.abs(np.log(F / Kx)) / sd, 0.0)
    spread = np.where(np.isfinite(spread), spread, 0.0)
    assert np.all(np.abs(lanes[K._L_PRICE, :n] - price) <= 64 * EPS * (F + Kx) * (1 + spread))
    assert np.all(np.abs(lanes[K._L_DELTA, :n] - delta) <= 64 * EPS * (1 + spread))
    # and the scalar (C library exp/log) price of the rest of the kernel, to the same bound
    for t in range(0, n, 97):
        p0, d0 = P.black76_price_delta_nb(F[t], Kx[t], 1.0, sd[t], disc[t], w[t])
        assert abs(lanes[K._L_PRICE, t] - p0) <= 64 * EPS * (F[t] + Kx[t]) * (1 + spread[t])
        assert abs(lanes[K._L_DELTA, t] - d0) <= 64 * EPS * (1 + spread[t])


def test_a_lanes_bits_do_not_depend_on_its_place_in_the_batch():
    rng = np.random.default_rng(8)
    full = _lanes(rng, 40)
    K._price_lanes(40, full)
    for n in (1, 2, 7, 8, 9, 17, 33):
        for shift in (0, 3):
            part = np.zeros_like(full)
            part[:, :n] = np.roll(full, -shift, axis=1)[:, :n]
            K._price_lanes(n, part)
            expect = np.roll(full, -shift, axis=1)[K._L_PRICE:, :n]
            assert np.array_equal(part[K._L_PRICE:, :n], expect, equal_nan=True), (n, shift)
