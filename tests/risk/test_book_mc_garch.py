"""The Brownian bridges of the book Monte Carlo under GJR-GARCH filtered historical simulation
use each step's own conditional variance (liqrisk.risk.book_kernel: ``c_br/S²`` and
``cdt·S_a·S_c``), checked against NumPy references on independent paths of the same model
(``liqrisk.dynamics.paths.simulate_numpy``, daily steps):

* one axis, an isolated long: per path ``1 − Π_k (1 − exp(−2(x_{k−1} − b)(x_k − b)/h_k))`` with
  ``h_k`` the day's GARCH variance, recomputed from the increments — the exact conditional
  crossing probability of a Brownian path with the day's variance pinned at the daily points;
* two axes, a cross pool long BTC and ETH: each day's path a correlated Brownian bridge (the
  day's covariance, the bootstrap table's correlation) sampled at 288 points, the pool's
  equity − MM evaluated at every point by the margin kernel; the discrete check misses
  crossings between points, by ≈ C/√m at m points a day (Broadie, Glasserman & Kou 1997), so
  the reference is extrapolated from the same paths' 144- and 288-point checks,
  ``P = P₂₈₈ + (P₂₈₈ − P₁₄₄)/(√2 − 1)``.

Tolerances: 3.5 standard errors of the difference (kernel and reference are independent runs),
plus, for the health bridge, its linearisation over a day (stated where used). Each test also
shows that the first step's variance on every step (the defect this replaced) is outside it."""
import math

import numpy as np
import pytest

from liqrisk.dynamics.fhs import bundled_history, fhs_model
from liqrisk.dynamics.paths import _ALPHA, _BETA, _GAMMA, _H0, _MU, _OMEGA, simulate_numpy
from liqrisk.load import parse_portfolio
from liqrisk.margin import kernel as K
from liqrisk.margin.account import CompiledPortfolio
from liqrisk.risk.book_mc import book_liquidation_risk

pytestmark = pytest.mark.numerics

DAY = 1 / 365
WEEK = 7 * DAY
BTC, ETH = 91250.0, 3050.0


def _variances(model, dx):
    """Each step's GARCH variance h_k (n_paths, n_steps, n_und) recomputed from the increments
    ``dx = μ − h/2 + √h·z``: ε = dx − μ + h/2, h ← ω + (α + γ·1[ε < 0])·ε² + β·h."""
    par = model.spec(DAY).par
    h = np.empty_like(dx)
    v = np.broadcast_to(par[:, _H0], dx[:, 0].shape).copy()
    for k in range(dx.shape[1]):
        h[:, k] = v
        eps = dx[:, k] - par[:, _MU] + 0.5 * v
        v = par[:, _OMEGA] + (par[:, _ALPHA] + np.where(eps < 0, par[:, _GAMMA], 0.0)) * eps ** 2 + par[:, _BETA] * v
    return h


def _mean_se(y):
    return float(y.mean()), float(y.std(ddof=1) / math.sqrt(len(y)))


def test_an_isolated_long_over_a_week_of_garch_days_is_bridged_with_each_days_variance():
    model = fhs_model(["BTC"], np.array([0.6]), {"BTC": bundled_history("BTC")}, np.eye(1),
                      tails="empirical").model
    doc = {"as_of": "2026-11-23T00:00:00Z", "market": {"BTC": {"mark": BTC, "vol": 0.6}},
           "accounts": [{"id": "a", "venue": "binance-usdm", "mode": "isolated",
                         "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": BTC,
                                        "margin": 0.15 * BTC}]}]}
    cp = CompiledPortfolio(parse_portfolio(doc))
    b = math.log(cp.margin_results()[0].positions[0].liquidation_price / BTC)
    est = book_liquidation_risk(cp, [0], [0], model, [WEEK], n_paths=1_000_000, seed=11, dt=DAY,
                                method="plain", risk=False)[0].probabilities[WEEK]
    dx = simulate_numpy(model, 1_000_000, 7, DAY, seed=12)
    x = np.concatenate([np.zeros((len(dx), 1)), np.cumsum(dx[:, :, 0], axis=1)], axis=1)
    h = _variances(model, dx)[:, :, 0]
    d0, d1 = x[:, :-1] - b, x[:, 1:] - b
    inside = (d0 > 0) & (d1 > 0)

    def estimate(v):
        stay = np.where(inside, -np.expm1(-2.0 * np.where(inside, d0 * d1, 0.0) / v), 0.0)
        return 1.0 - stay.prod(axis=1)
    y, y_first = estimate(h), estimate(h[:, :1])
    ref, se = _mean_se(y)
    assert 0.01 < ref < 0.2
    tol = 3.5 * math.hypot(est.stderr, se)
    assert abs(est.p - ref) < tol
    # the defect's expectation (the first day's variance on every day, on the same paths) is
    # outside the window by 3 of the kernel's standard errors: it would have failed
    gap, gap_se = _mean_se(y - y_first)
    assert gap - 3 * gap_se > tol + 3 * est.stderr


def _cross_longs():
    doc = {"as_of": "2026-11-23T00:00:00Z",
           "market": {"BTC": {"mark": BTC, "vol": VOLS[0]}, "ETH": {"mark": ETH, "vol": VOLS[1]}},
           "accounts": [{"id": "a", "venue": "binance-usdm", "mode": "cross", "collateral": {"USDT": COLLATERAL},
                         "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": BTC},
                                       {"symbol": "ETHUSDT", "kind": "perp", "size": 30.0, "entry": ETH}]}]}
    return CompiledPortfolio(parse_portfolio(doc))


COLLATERAL = 15_000.0
VOLS = (0.3, 0.35)


def _fine_bridge(cp, axes, x_days, v_days, corr, m, seed):
    """Per path: (crossed at one of m points a day, at one of the m/2 even ones) of the pool's
    equity − MM along daily Brownian bridges between the daily log offsets ``x_days`` (n,
    days + 1, 2) with per-day variances ``v_days`` (n, days, 2) and correlation ``corr``; the
    same normals for the same ``seed``."""
    n = len(x_days)
    chol = np.linalg.cholesky(corr)
    pools = np.array([cp.plans[0].cross_pool], np.int64)
    marks, args = cp.market.prices, cp.arrays.args()
    rng = np.random.default_rng(seed)
    frac = np.arange(1, m + 1) / m
    hit, hit_half = np.zeros(n, np.bool_), np.zeros(n, np.bool_)
    for k in range(x_days.shape[1] - 1):
        x0, x1 = x_days[:, k], x_days[:, k + 1]
        # W_j − (j/m)·W_m + the straight line; W's step covariance diag(√v)·corr·diag(√v)/m
        w = np.cumsum(rng.standard_normal((n, m, 2)) @ chol.T, axis=1) * np.sqrt(v_days[:, k] / m)[:, None, :]
        pts = x0[:, None, :] + frac[None, :, None] * ((x1 - x0)[:, None, :] - w[:, -1:, :]) + w
        rows = np.repeat(marks[None, :], n * m, axis=0)
        rows[:, axes] *= np.exp(pts.reshape(-1, 2))
        eq, mm = K.pools_states_nb(pools, rows, 0.0, args)
        dead = (eq[:, 0] - mm[:, 0] <= 0.0).reshape(n, m)
        hit |= dead.any(axis=1)
        hit_half |= dead[:, 1::2].any(axis=1)
    return hit, hit_half


def test_a_two_axis_cross_pool_over_a_week_of_garch_days_matches_a_288_point_daily_bridge():
    """The health bridge linearises equity − MM over a day: for linear contracts h'' ≈ h' per
    unit log price, so over a day's move (2–3 % here) the exponent is off by a few per cent —
    allowed as 5 % of P beside the Monte Carlo error (seen: +1.7 %, one standard error). The
    account starts calm (30 % / 35 % vol, below where the fits' recursions go: the mean variance
    of day 7 is 1.4× (BTC) and 4.1× (ETH) day 1's), so the variance rises along the paths and
    the first day's variance on every day understates P by 16 %, beyond that."""
    cp = _cross_longs()
    hist = {"BTC": bundled_history("BTC"), "ETH": bundled_history("ETH")}
    model = fhs_model(["BTC", "ETH"], np.array(VOLS), hist, np.eye(2), tails="empirical").model
    axes = sorted(cp.plans[0].pool_axes[cp.plans[0].cross_pool])
    assert axes == [cp.market.names.index("BTC"), cp.market.names.index("ETH")]
    est = book_liquidation_risk(cp, [0], axes, model, [WEEK], n_paths=100_000, seed=21, dt=DAY,
                                method="plain", risk=False)[0].probabilities[WEEK]
    n = 30_000
    dx = simulate_numpy(model, n, 7, DAY, seed=22)
    x = np.concatenate([np.zeros((n, 1, 2)), np.cumsum(dx, axis=1)], axis=1)
    h = _variances(model, dx)
    corr = np.corrcoef(model.innovations.table(), rowvar=False)

    def extrapolated(v):      # P = P_288 + (P_288 − P_144)/(√2 − 1), per path
        full, half = _fine_bridge(cp, axes, x, v, corr, 288, 23)
        return full + (full.astype(float) - half) / (math.sqrt(2.0) - 1.0)
    y = extrapolated(h)
    y_first = extrapolated(np.broadcast_to(h[:, :1], h.shape))
    ref, se = _mean_se(y)
    assert 0.01 < ref < 0.2
    tol = 3.5 * math.hypot(est.stderr, se) + 0.05 * ref
    assert abs(est.p - ref) < tol
    # the defect's expectation (first day's variance on every day, the same bridges) is outside
    # the window by 3 of a kernel estimate's standard errors: it would have failed
    gap, gap_se = _mean_se(y - y_first)
    assert gap - 3 * gap_se > tol + 3 * est.stderr


def test_screening_under_garch_skips_steps_without_changing_any_number():
    """A week of daily GARCH steps on the multi-venue book's BTC/ETH accounts (cross, isolated,
    several-axis health bridges): the boxes and tables, computed for 4× the first step's
    variance and applied only where the path's variance stays below it, change nothing."""
    from liqrisk.load import load_portfolio
    cp = CompiledPortfolio(load_portfolio("examples/multi_venue.yaml"))
    hist = {"BTC": bundled_history("BTC"), "ETH": bundled_history("ETH")}
    done = 0
    for i in range(len(cp.plans)):
        axes = sorted(set().union(*cp.plans[i].pool_axes.values()))
        names = [cp.market.names[a] for a in axes]
        if not axes or not set(names) <= set(hist):
            continue
        model = fhs_model(names, np.array([cp.market.atm_vol(n) for n in names]), hist, np.eye(len(names))).model
        on, off = (book_liquidation_risk(cp, [i], axes, model, [DAY, WEEK], n_paths=3000, seed=1, dt=DAY,
                                         method="plain", screen=s)[0] for s in (True, False))
        assert on.probabilities == off.probabilities and on.pools == off.pools
        assert on.var99 == off.var99 and on.es99 == off.es99
        done += 1
    assert done >= 4


def test_reused_garch_paths_carry_their_variances():
    """Within ``reuse_paths`` a second run reads the paths (and their steps' variance ratios)
    back from the store: the same numbers as drawing them, for a two-axis health bridge over a
    week of GARCH days."""
    from liqrisk.risk.book_mc import reuse_paths
    cp = _cross_longs()
    hist = {"BTC": bundled_history("BTC"), "ETH": bundled_history("ETH")}
    model = fhs_model(["BTC", "ETH"], np.array(VOLS), hist, np.eye(2), tails="empirical").model
    axes = sorted(cp.plans[0].pool_axes[cp.plans[0].cross_pool])

    def run():
        return book_liquidation_risk(cp, [0], axes, model, [DAY, WEEK], n_paths=4000, seed=5, dt=DAY,
                                     method="plain")[0]
    fresh = run()
    with reuse_paths():
        kept, reread = run(), run()
    for r in (kept, reread):
        assert r.probabilities == fresh.probabilities and r.var99 == fresh.var99 and r.es99 == fresh.es99
    assert 0.0 < fresh.probabilities[WEEK].p < 1.0
