"""Path models: moments against their closed forms, NumPy reference agreement, seeding."""
import numpy as np
import pytest

from liqrisk.dynamics.paths import (CHUNK, Bootstrap, ConstantVol, GarchVol, PathModel, gbm,
                                    merton, set_sfc64_state, sfc64_normal, sfc64_state, simulate,
                                    simulate_numpy, student_t)

DAY = 1 / 365
pytestmark = pytest.mark.numerics


@pytest.mark.parametrize("model", [
    gbm(0.6), student_t(0.6, 4.0), gbm([0.5, 0.8], corr=np.array([[1.0, 0.6], [0.6, 1.0]])),
    PathModel(ConstantVol(0.5), Bootstrap(np.random.default_rng(0).standard_t(5, 300))),
    PathModel(GarchVol(2e-6, 0.08, 0.9, 3e-5, gamma=0.04), Bootstrap(np.arange(-3.0, 4.0)))])
def test_numba_kernel_reproduces_the_numpy_reference_path_by_path(model):
    a = model.simulate(2 * CHUNK + 17, 30, DAY, seed=42)
    b = simulate_numpy(model, 2 * CHUNK + 17, 30, DAY, seed=42)
    # Each increment is drift + σ√dt·(L·z): a handful of roundings on terms no larger than the
    # largest increment (the GARCH variance recursion contracts, α + β < 1, so errors stay put).
    np.testing.assert_allclose(a, b, rtol=0, atol=64 * np.finfo(float).eps * np.abs(b).max())


def test_merton_kernel_and_numpy_reference_agree_in_distribution():
    m = merton(0.5, 12.0, -0.04, 0.08)
    a = m.simulate(40_000, 10, DAY, seed=1).sum(axis=(1, 2))
    b = simulate_numpy(m, 40_000, 10, DAY, seed=2).sum(axis=(1, 2))
    se = np.hypot(a.std(), b.std()) / np.sqrt(40_000)
    assert abs(a.mean() - b.mean()) < 4 * se
    assert abs(a.var() / b.var() - 1) < 0.05


def test_same_seed_same_paths_regardless_of_thread_count():
    m = student_t(0.7, 3.5)
    one = simulate(m, 3 * CHUNK, 12, DAY, seed=7, threads=1)[0]
    two = simulate(m, 3 * CHUNK, 12, DAY, seed=7, threads=2)[0]
    assert np.array_equal(one, two)
    assert not np.array_equal(one, simulate(m, 3 * CHUNK, 12, DAY, seed=8)[0])


def test_gbm_terminal_price_is_a_martingale_with_lognormal_variance():
    sigma, t, n = 0.8, 30 * DAY, 100_000
    x = gbm(sigma).simulate(n, 30, DAY, seed=3).sum(axis=(1, 2))
    assert abs(x.mean() + 0.5 * sigma ** 2 * t) < 4 * sigma * np.sqrt(t / n)
    assert x.var() == pytest.approx(sigma ** 2 * t, rel=0.02)
    s = np.exp(x)                       # E[S_T/S_0] = 1, Var = e^{σ²T} − 1
    assert abs(s.mean() - 1) < 4 * s.std() / np.sqrt(n)
    assert s.var() == pytest.approx(np.expm1(sigma ** 2 * t), rel=0.05)


def test_merton_moments_match_compound_poisson_formulas():
    sigma, lam, m, s, t, n = 0.4, 20.0, -0.05, 0.06, 10 * DAY, 100_000
    x = merton(sigma, lam, m, s).simulate(n, 10, DAY, seed=4).sum(axis=(1, 2))
    kappa = np.exp(m + s ** 2 / 2) - 1
    mean = (-0.5 * sigma ** 2 - lam * kappa) * t + lam * t * m
    var = sigma ** 2 * t + lam * t * (m ** 2 + s ** 2)
    assert abs(x.mean() - mean) < 4 * np.sqrt(var / n)
    assert x.var() == pytest.approx(var, rel=0.03)
    assert abs(np.exp(x).mean() - 1) < 4 * np.exp(x).std() / np.sqrt(n)   # compensated


def test_student_t_innovations_have_unit_variance_and_t_kurtosis():
    nu, sigma = 6.0, 0.5
    x = student_t(sigma, nu).simulate(200_000, 1, DAY, seed=5)[:, 0, 0]
    z = (x + 0.5 * sigma ** 2 * DAY) / (sigma * np.sqrt(DAY))
    assert z.var() == pytest.approx(1.0, rel=0.02)
    excess = np.mean(z ** 4) / np.mean(z ** 2) ** 2 - 3
    assert excess == pytest.approx(6 / (nu - 4), rel=0.25)       # 3.0 for nu = 6


def test_correlation_is_recovered():
    corr = np.array([[1.0, 0.7, -0.3], [0.7, 1.0, 0.1], [-0.3, 0.1, 1.0]])
    x = gbm([0.5, 0.7, 0.9], corr=corr).simulate(50_000, 4, DAY, seed=6).reshape(-1, 3)
    np.testing.assert_allclose(np.corrcoef(x.T), corr, atol=0.015)


def test_garch_variance_follows_the_recursion_towards_its_long_run_level():
    omega, alpha, beta = 1e-6, 0.1, 0.85
    h0 = 10 * omega / (1 - alpha - beta)
    x = PathModel(GarchVol(omega, alpha, beta, h0)).simulate(50_000, 40, DAY, seed=7)[:, :, 0]
    expected = omega / (1 - alpha - beta) + (alpha + beta) ** np.arange(40) * (
        h0 - omega / (1 - alpha - beta))
    np.testing.assert_allclose(x.var(axis=0), expected, rtol=0.06)


def test_antithetic_pairs_mirror_the_innovations():
    x = gbm(0.5).simulate(10, 5, DAY, seed=8, antithetic=True)
    mu = -0.5 * 0.25 * DAY
    np.testing.assert_allclose(x[0::2] - mu, -(x[1::2] - mu), atol=1e-15)


def test_garch_refuses_a_step_different_from_its_bar():
    with pytest.raises(ValueError, match="bars"):
        PathModel(GarchVol(1e-6, 0.1, 0.8, 1e-5, bar_seconds=3600)).simulate(10, 2, DAY, 0)


def test_inline_sfc64_normals_are_numpys_draws_and_advance_the_stream():
    from numba import njit

    @njit
    def draw(s, n):
        return np.array([sfc64_normal(s) for _ in range(n)])

    rng = np.random.Generator(np.random.SFC64(np.random.SeedSequence(11)))
    ref = np.random.Generator(np.random.SFC64(np.random.SeedSequence(11)))
    s = sfc64_state(rng)
    assert np.array_equal(draw(s, 200_000), ref.standard_normal(200_000))   # tails included
    set_sfc64_state(rng, s)
    assert rng.standard_normal() == ref.standard_normal()
    with pytest.raises(TypeError):
        sfc64_state(np.random.Generator(np.random.PCG64(1)))


def test_garch_path_variances_replay_the_kernels_recursion():
    """Replaying the recursion on the kernel's own paths recovers each step's variance: the
    standardised shocks come out as the unit normals the kernel drew (mean 0, variance 1 at every
    step, for a variance that grows 10× along the path), and an independently built path is
    recovered to rounding (24 steps of a contracting recursion: relative error ≲ 1e-13)."""
    vol = GarchVol(1e-6, 0.25, 0.8, 1e-5, gamma=0.1)         # explosive: variance rises on average
    mu = 0.3
    x = PathModel(vol, mu=mu).simulate(40_000, 24, DAY, seed=11)[:, :, 0]
    v = vol.path_variances(x, DAY, mu * DAY)
    z = (x - mu * DAY + 0.5 * v) / np.sqrt(v)
    assert v[:, -1].mean() > 5 * v[:, 0].mean()
    # 40,000 draws: s.e. of a mean 0.005, of a variance 0.007 — 5 s.e. bounds
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=0.025)
    np.testing.assert_allclose(z.var(axis=0), 1.0, atol=0.035)
    e = np.random.default_rng(3).standard_normal((5, 24))
    h, built, want = np.full(5, vol.h0), np.empty((5, 24)), np.empty((5, 24))
    for k in range(24):
        eps = np.sqrt(h) * e[:, k]
        want[:, k], built[:, k] = h, mu * DAY - 0.5 * h + eps
        h = vol.omega + (vol.alpha + np.where(eps < 0, vol.gamma, 0.0)) * eps ** 2 + vol.beta * h
    np.testing.assert_allclose(vol.path_variances(built, DAY, mu * DAY), want, rtol=1e-11)
