"""The book Monte Carlo under GARCH-EVT filtered historical simulation (GPD tails, the default
fhs) against the one-step closed form of the same model (tests/first_passage_grid.py:
semiparametric_one_step — the body enumerated, the GPD tails integrated), plain and
importance-sampled, at p ≈ 5 % and p ≈ 1e-6; and importance sampling against plain Monte Carlo
over a week of GARCH steps at a moderate p. Tolerances: 3.5 of the estimate's own standard
errors (both estimates' for the comparison of two)."""
import math

import numpy as np
import pytest
from tests.first_passage_grid import semiparametric_one_step

from liqrisk.dynamics.fhs import bundled_history, fhs_model
from liqrisk.risk.book_mc import book_liquidation_risk
from tests.risk.test_measures import BTC, SIGMA, _isolated_long

pytestmark = pytest.mark.numerics

DAY = 1 / 365


def _setup():
    s = fhs_model(["BTC"], np.array([SIGMA]), {"BTC": bundled_history("BTC")}, np.eye(1))
    assert s.model.innovations.has_tails
    return s.model


def _reference(model, lo):
    t = model.innovations.tails[0]
    z = np.sort(model.innovations.residual_columns()[:, 0])
    h0 = float(np.asarray(model.volatility.h0).ravel()[0])
    return semiparametric_one_step(z, t, h0, lo, 2 / h0)


def _one_day(cp, model, method, n_paths=100_000, seed=1, horizon=DAY):
    return book_liquidation_risk(cp, [0], [0], model, [horizon], n_paths=n_paths, seed=seed, dt=DAY,
                                 method=method, risk=False)[0].probabilities[horizon]


@pytest.mark.parametrize("method", ["plain", "importance"])
def test_one_step_at_five_percent_matches_the_closed_form(method):
    model = _setup()
    cp, lo = _isolated_long(0.058 * BTC)
    ref = _reference(model, lo)
    assert 0.03 < ref < 0.08
    est = _one_day(cp, model, method)
    assert est.method == method
    assert abs(est.p - ref) < 3.5 * est.stderr
    assert est.stderr < 0.05 * ref


def test_one_step_at_one_in_a_million_by_importance_sampling():
    model = _setup()
    cp, lo = _isolated_long(0.5 * BTC)
    ref = _reference(model, lo)
    assert 1e-7 < ref < 1e-5
    # the plain bootstrap's largest loss (-7.45 sd) is far from this boundary: only the tails reach it
    z = model.innovations.residual_columns()[:, 0]
    h0 = float(np.asarray(model.volatility.h0).ravel()[0])
    assert -0.5 * h0 + math.sqrt(h0) * z.min() > lo + 0.1
    est = _one_day(cp, model, "auto")
    assert est.method == "importance"
    assert est.stderr < 0.05 * est.p
    assert abs(est.p - ref) < 3.5 * est.stderr


def test_importance_sampling_agrees_with_plain_over_a_week_of_garch_steps():
    model = _setup()
    cp, lo = _isolated_long(0.25 * BTC)
    week = 7 * DAY
    plain = _one_day(cp, model, "plain", n_paths=200_000, seed=3, horizon=week)
    tilted = _one_day(cp, model, "importance", n_paths=100_000, seed=4, horizon=week)
    assert tilted.method == "importance"
    assert 2e-3 < plain.p < 5e-2
    assert abs(plain.p - tilted.p) < 3.5 * math.hypot(plain.stderr, tilted.stderr)
