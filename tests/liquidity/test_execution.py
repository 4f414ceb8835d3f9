"""Impact models and Almgren & Chriss (2000) on the paper's sample stock (sec. 4):
X = 1e6 shares, S0 = 50, sigma = 0.95 $/share/day^0.5, eta = 2.5e-6, epsilon = 0.0625,
gamma = 2.5e-7, T = 5 days, N = 5."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from liqrisk.liquidity.almgren_chriss import ACModel, time_to_liquidate
from liqrisk.liquidity.impact import LinearImpact, SquareRootImpact

PAPER = ACModel(sigma=0.95, eta=2.5e-6, gamma=2.5e-7, epsilon=0.0625)
X, T, N = 1e6, 5.0, 5


def test_paper_calibration_rules_give_the_papers_parameters():
    """30% annual vol, $50, spread 1/8, 5m shares a day, 250-day year -> the paper's values."""
    m = ACModel.from_spread_volume(price=50, sigma_annual=0.30, spread=0.125, daily_volume=5e6)
    assert round(m.sigma, 2) == 0.95
    assert (m.eta, m.gamma, m.epsilon) == pytest.approx((2.5e-6, 2.5e-7, 0.0625), rel=1e-12)


def test_straight_line_schedule_by_hand_arithmetic():
    """gamma X^2/2 = 125,000; epsilon X = 62,500; eta~ X^2 / T = 2.375e-6 * 1e12 / 5 = 475,000;
    V = 0.9025 * (8e5^2 + 6e5^2 + 4e5^2 + 2e5^2) = 1.083e12."""
    s = PAPER.optimal(X, T, N, 0.0)
    np.testing.assert_allclose(s.trades, [2e5] * 5, rtol=1e-14)
    assert s.expected_cost == pytest.approx(662_500.0, rel=1e-14)
    assert s.variance == pytest.approx(1.083e12, rel=1e-14)
    e, v = PAPER.expected_variance(X, T, N, 0.0)
    assert (e, v) == pytest.approx((662_500.0, 1.083e12), rel=1e-14)


def test_selling_everything_at_once_costs_2_5625m_with_no_variance():
    """epsilon X + eta X^2 / tau = 62,500 + 2,500,000 (the minimum-variance end of the frontier)."""
    assert PAPER.schedule_cost([X, 0, 0, 0, 0], T) == pytest.approx((2_562_500.0, 0.0))


@pytest.mark.parametrize("lam", [1e-6, 2e-6, 1e-5])
def test_closed_form_E_V_equal_the_sums_on_the_optimal_trajectory(lam):
    s = PAPER.optimal(X, T, N, lam)
    e, v = PAPER.expected_variance(X, T, N, lam)
    assert (float(e), float(v)) == pytest.approx((s.expected_cost, s.variance), rel=1e-12)


def test_lambda_1e6_gives_kappa_about_0_6_per_day():
    """kappa from 2(cosh(kappa) - 1) = lambda sigma^2 / eta~ = 0.38, by hand: arccosh(1.19)."""
    assert PAPER.kappa(1e-6, 1.0) == pytest.approx(np.arccosh(1.19), rel=1e-14)
    assert round(float(PAPER.kappa(1e-6, 1.0)), 1) == 0.6


@pytest.mark.parametrize("lam", [0.0, 1e-6, 2e-6])
def test_trajectory_solves_the_first_order_conditions(lam):
    """Independent check: minimise E + lambda V over x_1..x_{N-1} by solving the tridiagonal
    normal equations (eta~/tau)(2x_j - x_{j-1} - x_{j+1}) + lambda sigma^2 tau x_j = 0."""
    tau, eta_t = T / N, PAPER.eta - 0.5 * PAPER.gamma * T / N
    a = np.diag(np.full(N - 1, 2 * eta_t / tau + lam * PAPER.sigma**2 * tau))
    a += np.diag(np.full(N - 2, -eta_t / tau), 1) + np.diag(np.full(N - 2, -eta_t / tau), -1)
    rhs = np.zeros(N - 1)
    rhs[0] = eta_t / tau * X
    np.testing.assert_allclose(PAPER.optimal(X, T, N, lam).holdings[1:-1], np.linalg.solve(a, rhs), rtol=1e-10)


@settings(max_examples=40, deadline=None)
@given(st.floats(1, 1e7), st.floats(0.1, 20), st.integers(1, 60), st.floats(0, 1e-5))
def test_trajectory_sells_exactly_x(x, t, n, lam):
    s = PAPER.optimal(x, t, n, lam)
    assert s.trades.sum() == pytest.approx(x, rel=1e-12)
    assert s.holdings[0] == x and s.holdings[-1] == 0 and (s.trades >= -1e-9 * x).all()


def test_efficient_frontier_is_decreasing_and_convex():
    f = PAPER.frontier(X, T, N, np.concatenate([[0.0], np.geomspace(1e-8, 1e-4, 60)]))
    assert (np.diff(f.expected_cost) > 0).all() and (np.diff(f.variance) < 0).all()
    order = np.argsort(f.variance)
    v, e = f.variance[order], f.expected_cost[order]
    slopes = np.diff(e) / np.diff(v)
    assert (np.diff(slopes) >= -1e-12 * np.abs(slopes[:-1])).all()  # E(V) convex


def test_square_root_impact_hand_example():
    """1% of daily volume at sigma_day = 2%, Y = 1: impact = 0.02 * sqrt(0.01) = 0.2%."""
    m = SquareRootImpact(sigma=0.02 * np.sqrt(365), daily_volume=150_000.0)
    assert m.slippage(-1500.0) == pytest.approx(0.002, rel=1e-12)
    assert m.cost(np.array([-1500.0, 1500.0]), 90_000.0) == pytest.approx([0.002 * 1500 * 90_000] * 2)
    assert m.permanent(1500.0) == pytest.approx(0.002 * 2 / 3)
    # stress thins depth: volume / s, so the square-root impact grows by sqrt(s), not s
    assert m.stressed(2.0).cost(1500.0, 90_000.0) == pytest.approx(np.sqrt(2) * m.cost(1500.0, 90_000.0))


def test_square_root_stress_is_the_daily_volume_thinned():
    m = SquareRootImpact(sigma=0.6, daily_volume=150_000.0)
    s = m.stressed(4.0)
    assert s.daily_volume == 150_000.0 / 4 and s.y == m.y
    q = np.array([1.0, 100.0, -2500.0])
    np.testing.assert_allclose(s.slippage(q), SquareRootImpact(0.6, 150_000.0 / 4).slippage(q), rtol=1e-15)
    np.testing.assert_allclose(s.slippage(q), 2.0 * m.slippage(q), rtol=1e-14)


def test_linear_kyle_impact_hand_example():
    m = LinearImpact(kyle_lambda=1e-9)  # 1 bp per $100k
    assert m.slippage(10.0, 1e4) == pytest.approx(1e-4)
    assert m.cost(-10.0, 1e4) == pytest.approx(1e-4 * 1e5)


def test_time_to_liquidate_at_participation():
    assert time_to_liquidate(-15_000.0, 150_000.0, 0.1) == pytest.approx(1.0)


@pytest.mark.parametrize("lam,n", [(1.0, 50), (1.0, 500), (1e3, 50), (1e3, 500), (1e-4, 500)])
def test_closed_form_stays_finite_for_large_kappa_t_and_matches_the_schedule_sums(lam, n):
    """kappa T from 30 to 5,000 (sinh(2 kappa T) overflows above ~355): the closed forms equal
    the sums over the optimal trajectory (eqs. 5-6), which is itself computed without overflow."""
    m = ACModel.from_spread_volume(price=50, sigma_annual=0.30, spread=0.125, daily_volume=5e6)
    s = m.optimal(X, T, n, lam)
    assert np.isfinite(s.holdings).all() and s.holdings[0] == X and s.holdings[-1] == 0
    e, v = m.expected_variance(X, T, n, lam)
    assert np.isfinite(e) and np.isfinite(v)
    assert float(e) == pytest.approx(s.expected_cost, rel=1e-10)
    assert float(v) == pytest.approx(s.variance, rel=1e-8, abs=1e-9)


def test_infinite_kappa_limit_is_selling_in_the_first_slice():
    """eta~ -> 0+ with lambda > 0: kappa = inf; the optimum is everything in the first slice."""
    m = ACModel(sigma=1.0, eta=1e-300, gamma=0.0, epsilon=0.1)
    e, v = m.expected_variance(100.0, 1.0, 10, 1e-3)
    assert float(v) == 0.0 and float(e) == pytest.approx(0.1 * 100.0 + 1e-300 * 100.0**2 / 0.1)
