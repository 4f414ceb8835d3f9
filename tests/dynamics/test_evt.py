"""GARCH-EVT tails (liqrisk.dynamics.evt) and their draw in the book kernel.

* the profile-likelihood GPD fit against known parameters on simulated exceedances (within 4
  asymptotic standard errors, Smith 1987: Var ξ̂ = (1+ξ)²/k, Var β̂ = 2β²(1+ξ)/k) and against
  scipy.stats.genpareto.fit (an independent optimiser of the same likelihood: ours is at least as
  high, and the two maxima coincide to a small fraction of a standard error);
* the kernel's draw (book_kernel.draw_step, the Monte Carlo's own step) against the
  semi-parametric distribution's closed-form survival function in both tails, its body against
  the empirical distribution, its joint extremes against the data's joint tail ranks, and its
  importance-sampled tail probabilities (defensive tail mixture) against the same closed form.
Binomial tolerances: 4 standard errors of the frequency at the closed-form probability.
"""
import math

import numpy as np
import pytest
from numba import njit

from liqrisk.dynamics import evt, paths
from liqrisk.dynamics.fhs import bundled_history, fhs_model
from liqrisk.risk.book_kernel import draw_step, seed_path
from liqrisk.risk.measures import proposal

pytestmark = pytest.mark.numerics


def _gpd_sample(xi, beta, k, seed):
    w = 1.0 - np.random.default_rng(seed).random(k)          # (0, 1]
    return evt.gpd_quantile(w, xi, beta)


@pytest.mark.parametrize("xi,beta", [(0.25, 0.6), (0.0, 1.0), (-0.2, 0.8), (0.13, 0.785)])
def test_gpd_fit_recovers_known_parameters_within_four_standard_errors(xi, beta):
    k = 4000
    f = evt.fit_gpd(_gpd_sample(xi, beta, k, seed=11))
    se_xi = (1 + xi) / math.sqrt(k)
    se_beta = beta * math.sqrt(2 * (1 + xi) / k)
    assert abs(f.xi - xi) < 4 * se_xi
    assert abs(f.beta - beta) < 4 * se_beta
    assert f.se_xi == pytest.approx((1 + f.xi) / math.sqrt(k))


def test_gpd_fit_at_least_matches_scipys_maximum_likelihood():
    from scipy import stats
    z = bundled_history("BTC").resid
    z = (z - z.mean()) / z.std()
    s = np.sort(z)
    k = len(s) // 10
    samples = [_gpd_sample(0.3, 0.5, 500, 5), _gpd_sample(-0.1, 1.0, 300, 6),
               s[-k:] - s[-k - 1], s[k] - s[:k]]
    for y in samples:
        ours = evt.fit_gpd(y)
        c, _, scale = stats.genpareto.fit(y, floc=0.0)
        theirs = evt.gpd_loglik(y, c, scale)
        assert ours.loglik >= theirs - 1e-7 * abs(theirs)
        assert ours.loglik == pytest.approx(evt.gpd_loglik(y, ours.xi, ours.beta), rel=1e-12)
        # scipy's Nelder–Mead stops at xtol 1e-4: the two maxima agree far inside one se
        assert abs(ours.xi - c) < 0.05 * ours.se_xi
        assert abs(ours.beta - scale) < 0.05 * ours.se_beta


def test_bundled_btc_tails_are_the_documented_fit():
    """The fit docs/calibration.md reports (10 % tails of the bundled BTC residuals), and the
    closed-form re-standardisation: mean 0, variance 1 by numerical integration of the quantile."""
    z = bundled_history("BTC").resid
    t = evt.semiparametric((z - z.mean()) / z.std())
    assert (t.k_up, t.k_lo, t.n) == (186, 186, 1864)
    assert t.fit_up.xi == pytest.approx(0.152, abs=5e-4) and t.fit_up.beta == pytest.approx(0.569, abs=5e-4)
    assert t.fit_lo.xi == pytest.approx(0.133, abs=5e-4) and t.fit_lo.beta == pytest.approx(0.784, abs=5e-4)
    # the standardised distribution's moments by quadrature of its quantile function
    zs = np.sort((z - z.mean()) / z.std())
    zs = (zs - t.loc) / t.scale
    body = zs[t.k_lo:t.n - t.k_up]
    s = np.linspace(0, 60, 600_001)[1:]                # w = e^{-s}: dense where the tail is far
    w, ds = np.exp(-s), s[1] - s[0]
    up = t.u_up + evt.gpd_quantile(w, t.xi_up, t.beta_up)
    lo = t.u_lo - evt.gpd_quantile(w, t.xi_lo, t.beta_lo)
    m1 = body.sum() / t.n + t.k_up / t.n * (up * w).sum() * ds + t.k_lo / t.n * (lo * w).sum() * ds
    m2 = ((body ** 2).sum() / t.n + t.k_up / t.n * (up ** 2 * w).sum() * ds
          + t.k_lo / t.n * (lo ** 2 * w).sum() * ds)
    assert abs(m1) < 2e-4 and m2 == pytest.approx(1.0, abs=2e-3)


def test_small_samples_fall_back_to_plain_fhs():
    z = np.random.default_rng(0).standard_normal(evt.MIN_RESIDUALS - 1)
    assert evt.semiparametric(z) is None
    assert evt.semiparametric(np.r_[z, 0.0]) is not None


@njit(cache=False)
def _draws(key, n_draws, n_und, code, resid, par):
    s = np.zeros(4, np.uint64)
    z = np.zeros((1, n_und))
    jump = np.zeros((1, n_und))
    chol = np.eye(n_und)
    out = np.empty((n_draws, n_und))
    lr = np.empty(n_draws)
    for i in range(n_draws):
        seed_path(key, i, s)
        lr[i] = draw_step(s, code, 0.0, resid, chol, False, False, par, z, jump, 0)
        out[i] = z[0]
    return out, lr


def _table(n=1500, seed=2):
    """Two correlated heavy-tailed residual columns (t₄ with a common factor), standardised."""
    rng = np.random.default_rng(seed)
    f = rng.standard_t(4, n)
    r = np.column_stack([f + 0.5 * rng.standard_t(4, n), f + 0.8 * rng.standard_t(4, n)])
    return (r - r.mean(0)) / r.std(0)


def _model(r):
    tails = tuple(evt.semiparametric(r[:, j]) for j in range(r.shape[1]))
    vol = paths.GarchVol(np.full(2, 1e-5), np.zeros(2), np.zeros(2), np.full(2, 4e-4))
    return paths.PathModel(vol, paths.Bootstrap(r, tails)), tails


KEY = np.array([12345, 678], np.uint64)


def test_kernel_draw_has_the_closed_form_gpd_tails_and_the_empirical_body():
    r = _table()
    model, tails = _model(r)
    sp = model.spec(1 / 365)
    m = 2_000_000
    z, lr = _draws(KEY, m, 2, sp.innovation, sp.resid, sp.par)
    assert np.all(lr == 0.0)
    for j, t in enumerate(tails):
        for p in (0.05, 0.01, 1e-3, 1e-4):
            # the level with survival p in the GPD tail (p < k/N = 0.1)
            x_up = t.u_up + evt.gpd_quantile(p / (t.k_up / t.n), t.xi_up, t.beta_up)
            x_lo = t.u_lo - evt.gpd_quantile(p / (t.k_lo / t.n), t.xi_lo, t.beta_lo)
            assert float(t.survival(x_up)) == pytest.approx(p, rel=1e-12)
            tol = 4 * math.sqrt(p * (1 - p) / m)
            assert abs(np.mean(z[:, j] > x_up) - p) < tol
            assert abs(np.mean(z[:, j] < x_lo) - p) < tol
        # beyond the largest residual: mass the plain bootstrap cannot have
        zmax = sp.resid[:, j].max()
        assert np.mean(z[:, j] > zmax) > 0
        assert abs(np.mean(z[:, j] > zmax) - float(t.survival(zmax))) < 4 * math.sqrt(float(t.survival(zmax)) / m)
        # the body: P(Z <= the c-th smallest residual) = (c + 1)/N exactly, at the median
        zs = np.sort(sp.resid[:, j])
        c = len(zs) // 2
        q = (c + 1) / len(zs)
        assert abs(np.mean(z[:, j] <= zs[c]) - q) < 4 * math.sqrt(q * (1 - q) / m)
    # joint extremes stay joint: both in their upper tail exactly when the drawn date's
    # residuals both rank in their top k (the rank cells)
    ranks = sp.resid[:, 2:]
    both = np.mean((ranks[:, 0] >= len(r) - tails[0].k_up) & (ranks[:, 1] >= len(r) - tails[1].k_up))
    got = np.mean((z[:, 0] > tails[0].u_up) & (z[:, 1] > tails[1].u_up))
    assert both > 0.03
    assert abs(got - both) < 4 * math.sqrt(both / m)


@pytest.mark.parametrize("b_sd", [-9.0, -2.0, 12.0])
def test_importance_sampled_tail_draw_is_unbiased_for_the_closed_form(b_sd):
    """The measure change of a one-step boundary ``b_sd`` sds away (defensive mixture: the row
    tilt and a draw in the GPD tail beyond the boundary) gives E_Q[dP/dQ·1(Z beyond x)] = the
    closed-form tail at several levels, and E_Q[dP/dQ] = 1."""
    r = _table()
    model, tails = _model(r)
    dt = 1 / 365
    sd = float(np.sqrt(4e-4))
    b = b_sd * sd
    mc = proposal(model, 0, b, dt, 1)
    assert mc.tail_mix is not None and mc.tail_mix[0] == 0.5
    sp = mc.spec(model, dt)
    m = 400_000
    z, lr = _draws(KEY, m, 2, sp.innovation, sp.resid, sp.par)
    w = np.exp(lr)
    assert abs(w.mean() - 1.0) < 4 * w.std() / math.sqrt(m)
    t = tails[0]
    x_b = (b + 0.5 * sd * sd) / sd
    levels = [x_b, x_b + (0.5 if b > 0 else -0.5), (t.u_up if b > 0 else t.u_lo) * 1.5]
    for x in levels:
        hit = (z[:, 0] > x) if b > 0 else (z[:, 0] < x)
        p = float(t.survival(x) if b > 0 else t.cdf_lower(x))
        est = np.mean(w * hit)
        se = np.std(w * hit) / math.sqrt(m)
        assert abs(est - p) < 4 * se + 1e-15
        if x == x_b:
            assert se < 0.02 * p                     # the tail draw makes the far tail cheap
    # the other axis keeps its law under the measure change (joint ranks of the drawn rows)
    t1 = tails[1]
    x1 = t1.u_lo - evt.gpd_quantile(0.1, t1.xi_lo, t1.beta_lo)
    p1 = float(t1.cdf_lower(x1))
    est = np.mean(w * (z[:, 1] < x1))
    assert abs(est - p1) < 4 * np.std(w * (z[:, 1] < x1)) / math.sqrt(m)


def test_fhs_model_gives_both_bundled_assets_gpd_tails_and_empirical_is_plain():
    h = {"BTC": bundled_history("BTC"), "ETH": bundled_history("ETH")}
    s = fhs_model(["BTC", "ETH"], np.array([0.5, 0.7]), h, np.eye(2))
    inn = s.model.innovations
    assert inn.has_tails and s.info["tails"] == "gpd"
    assert s.info["assets"]["ETH"]["tails"]["upper"]["k"] == len(inn.residuals) // 10
    plain = fhs_model(["BTC", "ETH"], np.array([0.5, 0.7]), h, np.eye(2), tails="empirical")
    assert not plain.model.innovations.has_tails and plain.info["tails"] == "empirical"
    np.testing.assert_array_equal(plain.model.innovations.table(), inn.residuals)
    with pytest.raises(ValueError):
        fhs_model(["BTC"], np.array([0.5]), h, np.eye(1), tails="normal")
