"""Forecast scores against hand-computed values and direct counts."""
import math

import numpy as np
import pytest
from scipy import stats

from liqrisk.risk.scores import BINS, LOG_FLOOR, clopper_pearson, score


def test_brier_and_log_score_of_four_forecasts_by_hand():
    s = score([0.1, 0.8, 0.5, 0.0], [0, 1, 1, 1])
    assert s.brier == pytest.approx((0.1**2 + 0.2**2 + 0.5**2 + 1.0) / 4, rel=1e-15)
    # the sure-wrong 0 pays −ln(LOG_FLOOR), not infinity
    assert s.log_score == pytest.approx(-(math.log(0.9) + math.log(0.8) + math.log(0.5)
                                          + math.log(LOG_FLOOR)) / 4, rel=1e-14)
    assert (s.n, s.events) == (4, 3)


def test_ece_and_murphy_decomposition_for_forecasts_constant_in_each_bin():
    p = np.repeat([0.005, 0.4], 100)
    o = np.r_[np.ones(3), np.zeros(97), np.ones(50), np.zeros(50)]
    s = score(p, o)
    assert s.ece == pytest.approx(0.5 * 0.025 + 0.5 * 0.1, rel=1e-12)
    assert s.reliability == pytest.approx(0.5 * 0.025**2 + 0.5 * 0.1**2, rel=1e-12)
    base = 53 / 200
    assert s.resolution == pytest.approx(0.5 * (0.03 - base) ** 2 + 0.5 * (0.5 - base) ** 2, rel=1e-12)
    assert s.brier == pytest.approx(s.reliability - s.resolution + s.uncertainty, abs=1e-15)


def test_reliability_rows_equal_a_direct_count_and_the_exact_binomial_interval():
    rng = np.random.default_rng(1)
    p = np.r_[rng.uniform(0, 1, 2000) ** 3, 0.0, 1.0, 0.001]       # edges: 0, 1 and a bin edge
    o = (rng.uniform(size=len(p)) < p).astype(float)
    s = score(p, o)
    edges = np.array(BINS)
    for r in s.table:
        m = (p >= r.lo) & ((p < r.hi) | ((r.hi == 1.0) & (p == 1.0)))
        assert r.count == m.sum() and r.events == o[m].sum()
        assert r.predicted == pytest.approx(p[m].mean(), rel=1e-12)
        # scipy's exact interval solves for the bound by root-finding (tolerance ~1e-12 absolute);
        # ours is the beta quantile in closed form
        ci = stats.binomtest(r.events, r.count).proportion_ci(method="exact")
        assert r.ci95 == pytest.approx((ci.low, ci.high), rel=1e-7, abs=1e-11)
    assert sum(r.count for r in s.table) == len(p)
    assert {r.lo for r in s.table} <= set(edges[:-1])
    assert clopper_pearson(0, 10)[0] == 0.0 and clopper_pearson(10, 10)[1] == 1.0


def test_empty_or_mismatched_forecasts_are_rejected():
    with pytest.raises(ValueError, match="as many forecasts"):
        score([0.1, 0.2], [1])
