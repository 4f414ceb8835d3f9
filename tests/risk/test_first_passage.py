"""Closed-form first passage of GBM: internal consistency and independent references."""
import numpy as np
import pytest
from scipy.integrate import quad
from scipy.stats import norm

from liqrisk.risk.first_passage import (exit_probability, first_passage_density,
                                        first_passage_quantile, hit_probability)


def test_driftless_log_price_reflection_principle_is_twice_the_terminal_tail():
    # with mu = sigma^2/2 the log-price is a driftless BM: P(min <= b) = 2 Phi(b / sigma sqrt T)
    sigma, t = 0.6, 0.1
    b = np.log(0.85)
    assert hit_probability(1.0, 0.85, sigma, t, mu=0.5 * sigma ** 2) == pytest.approx(
        2 * norm.cdf(b / (sigma * np.sqrt(t))), rel=1e-12)


@pytest.mark.parametrize("barrier,mu", [(80.0, 0.0), (80.0, 0.7), (125.0, 0.0), (125.0, -0.4)])
def test_density_integrates_to_the_probability(barrier, mu):
    integral = quad(lambda t: first_passage_density(t, 100.0, barrier, 0.7, mu), 0, 0.3,
                    limit=200)[0]
    assert integral == pytest.approx(hit_probability(100.0, barrier, 0.7, 0.3, mu), rel=1e-7)


def test_vectorised_over_a_million_positions_and_edge_cases():
    rng = np.random.default_rng(0)
    n = 1_000_000
    lp = 100 * (1 - rng.uniform(0.005, 0.5, n))
    p = hit_probability(100.0, lp, rng.uniform(0.2, 1.5, n), 1 / 365)
    assert p.shape == (n,) and np.all((p >= 0) & (p <= 1))
    assert hit_probability(100.0, 100.0, 0.5, 0.1) == 1.0
    assert hit_probability(100.0, np.nan, 0.5, 0.1) == 0.0
    assert exit_probability(100.0, np.nan, np.nan, 0.5, 0.1) == 0.0


def test_double_barrier_tends_to_single_barrier_when_the_other_is_far():
    single = hit_probability(100.0, 90.0, 0.5, 0.05)
    assert exit_probability(100.0, 90.0, 1e6, 0.5, 0.05) == pytest.approx(single, abs=1e-12)
    assert exit_probability(100.0, 1e-6, 110.0, 0.5, 0.05) == pytest.approx(
        hit_probability(100.0, 110.0, 0.5, 0.05), abs=1e-12)


def test_double_barrier_series_agrees_across_the_image_eigen_switch():
    # the same quantity just below / above sigma^2 T / L^2 = 0.05 (images vs eigen series)
    sigma, down, up = 0.8, 90.0, 112.0
    width = np.log(up / down)
    t = 0.05 * width ** 2 / sigma ** 2
    p = exit_probability(100.0, down, up, sigma, np.array([t * (1 - 1e-9), t * (1 + 1e-9)]),
                         mu=0.3)
    assert p[0] == pytest.approx(p[1], abs=1e-9)


def test_double_barrier_driftless_classic_series():
    # Cox & Miller: survival of driftless BM started mid-interval = sum over odd n
    sigma, t = 0.5, 0.2
    a, b = np.log(0.9), -np.log(0.9)          # log-price has drift -sigma^2/2; cancel with mu
    width = b - a
    n = np.arange(1, 400, 2)
    surv = np.sum(4 / (n * np.pi) * np.sin(n * np.pi / 2)
                  * np.exp(-(n * np.pi) ** 2 * sigma ** 2 * t / (2 * width ** 2)))
    assert exit_probability(1.0, 0.9, 1 / 0.9, sigma, t, mu=0.5 * sigma ** 2) == pytest.approx(
        1 - surv, abs=1e-12)


def test_quantile_inverts_the_distribution():
    q = first_passage_quantile(np.array([0.01, 0.2, 0.6]), 100.0, 80.0, 130.0, 0.9)
    np.testing.assert_allclose(exit_probability(100.0, 80.0, 130.0, 0.9, q), [0.01, 0.2, 0.6],
                               rtol=1e-8)
    assert first_passage_quantile(0.9, 100.0, 50.0, np.nan, 0.2, t_max=1.0) == np.inf
