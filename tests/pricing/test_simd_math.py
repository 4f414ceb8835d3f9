"""liqrisk.pricing.simd_math (the vectorisable exp, expm1 and log) against 40-digit mpmath."""

import mpmath
import numba
import numpy as np
import pytest

from liqrisk.pricing.simd_math import exp_nb, expm1_nb, log_nb

pytestmark = pytest.mark.numerics


@numba.njit
def _apply(function, x):
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = function(x[i])
    return out


def _ulps(got, x, truth):
    """|got − truth| in units of the spacing of the correctly rounded truth."""
    with mpmath.workdps(40):
        exact = np.array([float(truth(mpmath.mpf(float(v)))) for v in x])
    return np.abs(got - exact) / np.spacing(np.abs(exact))


def test_exp_is_within_one_ulp_of_the_correctly_rounded_value_down_to_subnormal_results():
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(-745.0, 709.7, 2000), rng.uniform(-1.0, 1.0, 1000),
                        rng.uniform(-745.1, -708.0, 300), [0.0, -0.0, 1e-300, 709.78]])
    assert _ulps(_apply(exp_nb, x), x, mpmath.exp).max() <= 1.0


def test_expm1_is_within_two_ulps_near_zero_and_across_the_branch_point():
    rng = np.random.default_rng(9)
    x = np.concatenate([rng.uniform(-40.0, 40.0, 2000), rng.uniform(-0.75, 0.75, 2000),
                        np.exp(rng.uniform(-700.0, -1.0, 500)) * rng.choice([-1.0, 1.0], 500),
                        np.nextafter(np.log(2.0), [-1.0, 2.0]), np.nextafter(-np.log(2.0), [-1.0, 2.0]),
                        [1e-300, -1e-300, 5e-324, np.log(2.0), -np.log(2.0)]])
    assert _ulps(_apply(expm1_nb, x), x, mpmath.expm1).max() <= 2.0
    np.testing.assert_array_equal(_apply(expm1_nb, np.array([0.0, -np.inf, -800.0])), [0.0, -1.0, -1.0])


def test_log_is_within_one_ulp_of_the_correctly_rounded_value_including_subnormal_inputs():
    rng = np.random.default_rng(8)
    x = np.concatenate([np.exp(rng.uniform(-700.0, 700.0, 2000)), rng.uniform(0.5, 2.0, 1000),
                        1.0 + rng.uniform(-1e-6, 1e-6, 200), [5e-324, 1e-310, 2.2250738585072014e-308, 2.0]])
    assert _ulps(_apply(log_nb, x), x, mpmath.log).max() <= 1.0


def test_exp_and_log_edge_values_are_the_ieee_limits():
    exp_edges = _apply(exp_nb, np.array([np.nan, np.inf, -np.inf, 710.0, -746.0, 0.0]))
    np.testing.assert_array_equal(exp_edges, [np.nan, np.inf, 0.0, np.inf, 0.0, 1.0])
    log_edges = _apply(log_nb, np.array([np.nan, np.inf, 0.0, -1.0, -np.inf, 1.0]))
    np.testing.assert_array_equal(log_edges, [np.nan, np.inf, -np.inf, np.nan, np.nan, 0.0])
