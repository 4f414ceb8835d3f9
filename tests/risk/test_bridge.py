"""The Brownian-bridge factor: the NumPy array version agrees with the compiled one the book
kernel uses, on both sides, outside the interval and beyond the skipped range."""
import numpy as np
import pytest
from numba import njit

from liqrisk.risk.bridge import FAR, bridge_stay, bridge_survival

pytestmark = pytest.mark.numerics


@njit(cache=False)
def _compiled(x0, x1, lo, hi, c):
    out = np.empty(x0.size)
    for i in range(x0.size):
        out[i] = bridge_stay(x0[i], x1[i], lo, hi, c, 0.0)
    return out


@pytest.mark.parametrize("lo,hi", [(-0.05, np.inf), (-np.inf, 0.04), (-0.05, 0.04), (-np.inf, np.inf)])
def test_numpy_bridge_survival_agrees_with_the_compiled_bridge(lo, hi):
    rng = np.random.default_rng(0)
    x0, x1 = rng.normal(0, 0.03, (2, 20_000))
    c = 2.0 / (0.6 ** 2 / 8760)
    got, ref = bridge_survival(x0, x1, lo, hi, c), _compiled(x0, x1, lo, hi, c)
    # each factor is −expm1(−a): a is three rounded products (≤ 1.5 ulp relative), 1 − e^(−a) has a
    # relative condition number a·e^(−a)/(1 − e^(−a)) ≤ 1 in a, expm1 is within an ulp and two factors
    # are multiplied: ≤ ~6 ulps whatever the CPU's exp (1 − exp(−a) would lose eps/a for small a)
    np.testing.assert_allclose(got, ref, rtol=8 * np.finfo(float).eps, atol=0)
    assert np.all(got[(x0 <= lo) | (x1 <= lo) | (x0 >= hi) | (x1 >= hi)] == 0.0)
    if np.isfinite(lo) and not np.isfinite(hi):      # beyond the skipped range: exactly 1
        far = (x0 > lo) & (x1 > lo) & (c * (x0 - lo) * (x1 - lo) >= FAR)
        assert far.any() and np.all(got[far] == 1.0)
