"""GARCH fits (liqrisk.dynamics.garch) on simulated data with known parameters and on real BTC."""
import math

import numpy as np
import pytest
from arch import arch_model
from scipy import stats

from liqrisk.dynamics.garch import fit_garch
from liqrisk.dynamics.ohlc import bundled_data_path, load_ohlc


def simulate_gjr(n, omega, alpha, beta, gamma=0.0, nu=None, mu=0.0, seed=0):
    """r_t = mu + sqrt(h_t) z_t, h_t = omega + (alpha + gamma 1[e<0]) e_{t-1}^2 + beta h_{t-1};
    z standard normal or unit-variance Student t(nu).  Written from the model definition,
    independently of arch's simulator."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(n + 500) if nu is None else \
        rng.standard_t(nu, n + 500) * math.sqrt((nu - 2) / nu)
    h = omega / (1 - alpha - gamma / 2 - beta)
    e = np.empty(n + 500)
    for t in range(n + 500):
        e[t] = math.sqrt(h) * z[t]
        h = omega + (alpha + gamma * (e[t] < 0)) * e[t] ** 2 + beta * h
    return mu + e[500:]


TRUE = {"omega": 2e-6, "alpha": 0.08, "beta": 0.90}


@pytest.fixture(scope="module")
def sim_fit():
    returns = simulate_gjr(4000, **TRUE, mu=1e-4, seed=11)
    return returns, fit_garch(returns, bar_seconds=3600)


def test_garch_recovers_simulated_parameters_within_four_standard_errors(sim_fit):
    _, fit = sim_fit
    assert fit.converged
    for name, value in TRUE.items():
        assert abs(fit.params[name] - value) < 4 * fit.std_errors[name], name
    assert abs(fit.params["alpha"] - 0.08) < 0.03 and abs(fit.params["beta"] - 0.90) < 0.05
    true_long_run = math.sqrt(2e-6 / 0.02 * 8760)
    assert fit.unconditional_vol == pytest.approx(true_long_run, rel=0.25)


def test_gjr_t_recovers_asymmetry_and_tail_parameter():
    returns = simulate_gjr(5000, omega=1e-5, alpha=0.04, beta=0.88, gamma=0.10, nu=6.0, seed=5)
    fit = fit_garch(returns, kind="gjr", dist="t")
    assert fit.converged
    for name, value in {"alpha": 0.04, "gamma": 0.10, "beta": 0.88, "nu": 6.0}.items():
        assert abs(fit.params[name] - value) < 4 * fit.std_errors[name], name


def test_forecast_matches_closed_form_garch_recursion(sim_fit):
    """h_{T+1} = omega + alpha e_T^2 + beta h_T, then h_{T+k} = omega + (alpha + beta) h_{T+k-1}
    (Bollerslev 1986) from the fitted params -- not from arch's forecast code."""
    returns, fit = sim_fit
    p = fit.params
    e_last = returns[-1] - p["mu"]
    h = p["omega"] + p["alpha"] * e_last**2 + p["beta"] * fit.conditional_vol[-1] ** 2
    expected = []
    for _ in range(10):
        expected.append(h)
        h = p["omega"] + (p["alpha"] + p["beta"]) * h
    np.testing.assert_allclose(fit.forecast_variance(10), expected, rtol=1e-8)


def test_forecast_and_params_match_arch_on_x100_returns(sim_fit):
    returns, fit = sim_fit
    res = arch_model(100 * returns, mean="Constant", vol="GARCH", p=1, q=1, rescale=False).fit(disp="off")
    np.testing.assert_allclose(fit.forecast_variance(5),
                               res.forecast(horizon=5, reindex=False).variance.to_numpy()[-1] / 1e4,
                               rtol=1e-10)
    assert fit.params["omega"] == pytest.approx(res.params["omega"] / 1e4, rel=1e-12)
    assert fit.params["mu"] == pytest.approx(res.params["mu"] / 100, rel=1e-12)
    np.testing.assert_allclose(fit.conditional_vol, res.conditional_volatility / 100, rtol=1e-12)


def test_loglikelihood_is_on_the_original_return_scale(sim_fit):
    returns, fit = sim_fit
    direct = stats.norm.logpdf(returns, loc=fit.params["mu"], scale=fit.conditional_vol).sum()
    assert fit.loglikelihood == pytest.approx(direct, rel=1e-9)


def test_forecast_vol_averages_variance_over_the_horizon(sim_fit):
    _, fit = sim_fit  # hourly bars
    h = fit.forecast_variance(3)
    assert fit.forecast_vol(3600) == pytest.approx(math.sqrt(h[0] * 8760), rel=1e-12)
    # 2.5 bars: two full bars and half of the third
    assert fit.forecast_vol(2.5 * 3600) == pytest.approx(
        math.sqrt((h[0] + h[1] + 0.5 * h[2]) / 2.5 * 8760), rel=1e-12)
    assert fit.forecast_vol(30 * 86400) == pytest.approx(fit.unconditional_vol, rel=0.3)


@pytest.mark.parametrize("kind, dist", [("garch", "normal"), ("gjr", "t")])
def test_fits_on_real_btc_daily_converge(kind, dist):
    bars = load_ohlc(bundled_data_path("btcusd_1d_coinbase.csv"))
    fit = fit_garch(bars.log_returns(), kind=kind, dist=dist, bar_seconds=bars.bar_seconds)
    assert fit.converged
    assert 0 < fit.params["alpha"] < 1 and 0 < fit.params["beta"] < 1
    assert fit.persistence <= 1.0 + 1e-6
    assert len(fit.conditional_vol) == len(fit.std_resid) == len(bars) - 1
    # unit variance; with nu ~ 3 the sample std of t residuals is itself very noisy
    assert np.std(fit.std_resid) == pytest.approx(1.0, abs=0.1 if dist == "normal" else 0.25)
    if dist == "t":
        assert 2 < fit.params["nu"] < 6  # BTC daily returns are fat-tailed
    assert "omega" in fit.summary()
    assert set(fit.to_dict()) >= {"params", "loglikelihood", "converged", "persistence"}


def test_bad_arguments_raise_value_error():
    r = simulate_gjr(100, **TRUE)
    with pytest.raises(ValueError, match="kind"):
        fit_garch(r, kind="egarch")
    with pytest.raises(ValueError, match="dist"):
        fit_garch(r, dist="skewt")
    with pytest.raises(ValueError, match="at least 50"):
        fit_garch(r[:10])


def test_a_fit_arch_flags_is_restarted_and_the_highest_likelihood_kept():
    """The first 16,800 hourly BTC returns, GJR-t on one BLAS thread (the fhs filter's setting): arch
    stops with code 8 (measured; the flag changes with the thread count — numerical noise on a flat
    ridge). fit_garch restarts from the stopped point and RESTART_STARTS and keeps the highest
    log-likelihood: 0.50 above arch's first fit (measured), still flagged, which it reports."""
    from threadpoolctl import threadpool_limits

    from liqrisk.dynamics.garch import RESTART_STARTS, SCALE
    r = load_ohlc(bundled_data_path("btcusd_1h_coinbase.csv")).log_returns()[:16800]
    r = r[np.isfinite(r)]
    with threadpool_limits(limits=1):
        first = arch_model(SCALE * r, mean="Constant", vol="GARCH", p=1, o=1, q=1, dist="t",
                           rescale=False).fit(disp="off", show_warning=False)
        fit = fit_garch(r, kind="gjr", dist="t", bar_seconds=3600)
    assert first.convergence_flag == 8                       # the window fails
    assert fit.restarts == 1 + len(RESTART_STARTS)
    assert fit.restart_gain == pytest.approx(fit.result.loglikelihood - first.loglikelihood, abs=1e-9)
    assert fit.restart_gain > 0.4
    assert fit.converged is (fit.result.convergence_flag == 0) is False
    assert fit.to_dict()["restarts"] == fit.restarts


def test_a_fit_that_converges_is_not_restarted():
    r = simulate_gjr(3000, gamma=0.02, **TRUE, seed=4)
    fit = fit_garch(r, kind="gjr", dist="normal")
    assert fit.converged and fit.restarts == 0 and fit.restart_gain == 0.0


def test_a_daily_fit_stopped_by_the_iteration_limit_is_refitted_to_convergence():
    """The first 59 daily returns of the bundled Coinbase file (a --vol-from file of 60 closes, the
    fewest file_history takes): arch stops at its iteration limit (code 9, measured); the kept
    restart converges, 101.8 log-likelihood above arch's first fit (measured)."""
    from threadpoolctl import threadpool_limits

    from liqrisk.dynamics.fhs import _daily_closes, daily_returns
    from liqrisk.dynamics.garch import SCALE
    r = daily_returns(*_daily_closes(load_ohlc(bundled_data_path("btcusd_1d_coinbase.csv"))))[:59]
    with threadpool_limits(limits=1):
        first = arch_model(SCALE * r, mean="Constant", vol="GARCH", p=1, o=1, q=1, dist="t",
                           rescale=False).fit(disp="off", show_warning=False)
        fit = fit_garch(r, kind="gjr", dist="t")
    assert first.convergence_flag == 9
    assert fit.converged and fit.restarts == 5
    assert fit.result.loglikelihood - first.loglikelihood == pytest.approx(fit.restart_gain) and fit.restart_gain > 100
