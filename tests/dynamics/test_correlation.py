"""Correlation estimates and the nearest correlation matrix (liqrisk.dynamics.correlation)."""
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from liqrisk.dynamics.correlation import estimate_correlation, nearest_psd
from liqrisk.dynamics.ohlc import bundled_data_path, load_ohlc

BITSTAMP = bundled_data_path("btc_eth_usd_1d_bitstamp.csv")


def test_nearest_correlation_matrix_reproduces_higham_2002_example():
    """Higham (2002), IMA J. Numer. Anal. 22(3), section 4: the nearest correlation matrix to
    [[1,1,0],[1,1,1],[0,1,1]] has off-diagonals 0.7607, 0.1573, 0.7607."""
    x = nearest_psd([[1, 1, 0], [1, 1, 1], [0, 1, 1]])
    np.testing.assert_allclose(x, [[1, 0.7607, 0.1573], [0.7607, 1, 0.7607], [0.1573, 0.7607, 1]],
                               atol=5e-5)
    assert np.linalg.eigvalsh(x)[0] >= -1e-12


@settings(max_examples=40, deadline=None)
@given(arrays(float, (4, 4), elements=st.floats(-1, 1)))
def test_nearest_psd_returns_a_correlation_matrix(a):
    x = nearest_psd(a + a.T)
    assert np.allclose(x, x.T) and np.allclose(np.diag(x), 1.0)
    assert np.linalg.eigvalsh(x)[0] >= -1e-10


def test_nearest_psd_leaves_a_valid_correlation_matrix_unchanged():
    c = np.array([[1.0, 0.5, -0.2], [0.5, 1.0, 0.3], [-0.2, 0.3, 1.0]])
    np.testing.assert_allclose(nearest_psd(c), c, atol=1e-12)


NOISE = np.random.default_rng(0).standard_normal((12, 3)) * 1e-3


@settings(max_examples=30, deadline=None)
@given(arrays(float, (12, 3), elements=st.floats(-0.1, 0.1)), st.sampled_from([None, 0.94, 0.5]))
def test_estimates_are_positive_semidefinite(returns, lam):
    returns = returns + NOISE  # hypothesis likes constant columns, which have no correlation
    corr, vols, names = estimate_correlation(returns, ewma_lambda=lam)
    assert np.linalg.eigvalsh(corr)[0] >= -1e-10
    assert np.allclose(np.diag(corr), 1.0) and (np.abs(corr) <= 1 + 1e-12).all()
    assert names == ("x0", "x1", "x2") and (vols > 0).all()


def test_sample_estimate_matches_numpy_and_annualises_vols():
    rng = np.random.default_rng(1)
    returns = rng.standard_normal((300, 3)) * [0.01, 0.02, 0.03]
    est = estimate_correlation(returns, bar_seconds=3600)
    np.testing.assert_allclose(est.corr, np.corrcoef(returns, rowvar=False), atol=1e-12)
    np.testing.assert_allclose(est.vols, returns.std(axis=0, ddof=1) * math.sqrt(8760), rtol=1e-12)
    np.testing.assert_allclose(est.covariance, np.cov(returns, rowvar=False) * 8760, rtol=1e-10)


def test_ewma_estimate_matches_riskmetrics_weighted_sums():
    rng = np.random.default_rng(2)
    r = rng.standard_normal((50, 2)) * 0.02
    lam = 0.94
    w = lam ** np.arange(49, -1, -1)
    cov = np.array([[np.sum(w * r[:, i] * r[:, j]) / w.sum() for j in range(2)] for i in range(2)])
    est = estimate_correlation(r, ewma_lambda=lam)
    assert est.corr[0, 1] == pytest.approx(cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1]), rel=1e-12)
    np.testing.assert_allclose(est.vols, np.sqrt(np.diag(cov) * 365), rtol=1e-12)


def test_recovers_known_correlation_of_simulated_returns():
    rho, n = 0.6, 5000
    rng = np.random.default_rng(3)
    z = rng.standard_normal((n, 2)) @ np.linalg.cholesky([[1, rho], [rho, 1]]).T
    est = estimate_correlation(z)
    assert abs(est.corr[0, 1] - rho) < 4 * (1 - rho**2) / math.sqrt(n)


def test_btc_eth_bitstamp_uses_overlapping_dates_only():
    btc, eth = load_ohlc(BITSTAMP, asset="btc"), load_ohlc(BITSTAMP, asset="eth")
    from_bars = estimate_correlation({"btc": btc, "eth": eth})
    frame = pd.read_csv(BITSTAMP)  # aligned closes, NaN before ETH was listed
    from_closes = estimate_correlation({"btc": frame["btc_close"].to_numpy(),
                                        "eth": frame["eth_close"].to_numpy()})
    assert from_bars.n_obs == from_closes.n_obs == len(eth) - 1 == 787
    np.testing.assert_allclose(from_bars.corr, from_closes.corr, rtol=1e-12)
    assert from_bars.names == ("btc", "eth")
    assert 0.5 < from_bars.corr[0, 1] < 0.95
    assert from_bars.vols[1] > from_bars.vols[0]  # ETH more volatile than BTC
    assert np.linalg.eigvalsh(estimate_correlation({"btc": btc, "eth": eth}, ewma_lambda=0.94).corr)[0] >= 0


def test_bad_input_raises_value_error():
    with pytest.raises(ValueError, match="2-D"):
        estimate_correlation(np.zeros(5))
    with pytest.raises(ValueError, match="same length"):
        estimate_correlation({"a": [1.0, 2.0, 3.0], "b": [1.0, 2.0]})
    with pytest.raises(ValueError, match="zero variance"):
        estimate_correlation(np.column_stack([np.zeros(10), np.arange(10.0)]))
