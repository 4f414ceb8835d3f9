"""Monte Carlo liquidation probabilities against closed forms, on simple accounts built here
(an isolated linear perp with Binance BTCUSDT tiers, an inverse perp, a two-asset cross
account, a short strangle repriced with Black-76)."""
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import norm

from liqrisk.dynamics.paths import gbm, merton, student_t
from liqrisk.margin.tiers import TierTable
from liqrisk.risk.first_passage import exit_probability, hit_probability
from liqrisk.risk.montecarlo import (TERM_STRUCTURE, ProbabilityEstimate, liquidation_probability,
                                     liquidation_risk)

pytestmark = pytest.mark.numerics

BRACKETS = Path(__file__).parents[2] / "src/liqrisk/margin/data/binance_usdm_brackets_2026-09.json"
BTC = TierTable.from_rows(json.loads(BRACKETS.read_text())["symbols"]["BTCUSDT"])
ETH = TierTable.from_rows(json.loads(BRACKETS.read_text())["symbols"]["ETHUSDT"])
HOUR = 1 / 8760


def linear_lp(wallet, size, entry, tiers):
    """Binance USDⓈ-M LP (docs/venues.md §0), tier chosen at the liquidation notional."""
    side, q = np.sign(size), abs(size)
    for mmr, cum, lo, hi in zip(tiers.mmr, tiers.cum, tiers.floor, tiers.cap):
        lp = (wallet + cum - side * q * entry) / (q * mmr - side * q)
        if lo <= q * lp < hi:
            return lp if lp > 0 else None
    return None


class IsolatedLinear:
    """An isolated linear perp: health = margin + q(P − EP) − MM(|q|P)."""

    def __init__(self, size, entry, leverage, tiers=BTC, mark=None):
        self.size, self.entry, self.tiers = size, entry, tiers
        self.margin = abs(size) * entry / leverage
        self.underlyings = ["BTC"]
        self.spot = np.array([mark or entry])
        lp = linear_lp(self.margin, size, entry, tiers)
        self.boundaries = [(0, lp, None) if size > 0 else (0, None, lp)]
        self.exposure = np.array([size])

    def health(self, prices, t_years):
        p = prices[:, 0]
        return (self.margin + self.size * (p - self.entry)
                - self.tiers.maintenance_margin(self.size * p))


class InversePerp:
    """Coin-margined inverse perp, N contracts of CS USD, health in coin (docs/venues.md §1)."""

    def __init__(self, contracts, entry, wallet_coin, mmr=0.004, cs=100.0):
        self.n, self.entry, self.wallet, self.mmr, self.cs = contracts, entry, wallet_coin, mmr, cs
        side = np.sign(contracts)
        face = abs(contracts) * cs
        self.underlyings, self.spot = ["BTC"], np.array([entry])
        lp = face * (mmr + side) / (wallet_coin + side * face / entry)
        self.boundaries = [(0, lp, None) if side > 0 else (0, None, lp)]
        self.exposure = np.array([contracts * cs / entry ** 2])

    def health(self, prices, t_years):
        p = prices[:, 0]
        face = self.n * self.cs
        return self.wallet + face * (1 / self.entry - 1 / p) - abs(face) / p * self.mmr


class CrossLinear:
    """Cross account of linear perps on several underlyings with tiered MM."""

    def __init__(self, wallet, sizes, entries, tiers):
        self.wallet, self.sizes, self.entries, self.tiers = wallet, np.array(sizes), \
            np.array(entries, float), tiers
        self.underlyings, self.spot = ["BTC", "ETH"][:len(sizes)], self.entries.copy()
        self.exposure = self.sizes.astype(float)
        self.boundaries = []
        for u in range(len(sizes)):
            f = lambda x, u=u: self.health(self._with(u, x)[None, :], 0.0)[0]
            lo = brentq(f, 1e-6 * self.spot[u], self.spot[u]) if f(1e-6 * self.spot[u]) < 0 \
                else None
            hi = brentq(f, self.spot[u], 1e3 * self.spot[u]) if f(1e3 * self.spot[u]) < 0 \
                else None
            self.boundaries.append((u, lo, hi))

    def _with(self, u, x):
        p = self.spot.copy()
        p[u] = x
        return p

    def health(self, prices, t_years):
        mm = sum(t.maintenance_margin(self.sizes[i] * prices[:, i])
                 for i, t in enumerate(self.tiers))
        return self.wallet + (prices - self.entries) @ self.sizes - mm


def black76(f, k, t, vol, call):
    sd = vol * np.sqrt(np.maximum(t, 1e-12))
    d1 = (np.log(f / k) + 0.5 * sd ** 2) / sd
    c = f * norm.cdf(d1) - k * norm.cdf(d1 - sd)
    return np.where(call, c, c - f + k)


class ShortStrangle:
    """Short 1 call + 1 put (1 BTC each, USD-settled), cash collateral, MM = 10% of the
    underlying notional + mark of the options; liquidated on both sides."""

    def __init__(self, cash, spot, k_put, k_call, expiry, vol):
        self.cash, self.kp, self.kc, self.expiry, self.vol = cash, k_put, k_call, expiry, vol
        self.underlyings, self.spot = ["BTC"], np.array([spot])
        f = lambda x: self.health(np.array([[x]]), 0.0)[0]
        self.boundaries = [(0, brentq(f, 1.0, spot), brentq(f, spot, 10 * spot))]
        self.exposure = np.array([-(self._value(spot * 1.0001, 0) - self._value(spot * 0.9999, 0))
                                  / (spot * 2e-4)])

    def _value(self, p, t):
        tau = self.expiry - t
        return black76(p, self.kc, tau, self.vol, True) + black76(p, self.kp, tau, self.vol, False)

    def health(self, prices, t_years):
        p = prices[:, 0]
        v = self._value(p, t_years)
        return self.cash - v - (0.10 * p + v)


def within(est: ProbabilityEstimate, exact, k=3.0, floor=1e-12):
    return abs(est.p - exact) <= k * max(est.stderr, floor)


@pytest.mark.parametrize("leverage,hours,side", [
    (2, 720, 1), (5, 168, -1), (10, 24, 1), (20, 24, -1), (50, 4, 1), (125, 1, -1), (125, 4, 1)])
def test_isolated_linear_mc_matches_reflection_principle(leverage, hours, side):
    acc = IsolatedLinear(side * 0.1, 60_000.0, leverage)
    lp = acc.boundaries[0][1] or acc.boundaries[0][2]
    sigma, t = 0.6, hours * HOUR
    # 2x over 30d: p ≈ 8.7e-5, i.e. ~2 hits in 20,000 paths, where the sample stderr is itself
    # unreliable (it failed ~1 seed in 5 with PCG64 as with SFC64 streams): 10x the paths there
    n = 200_000 if leverage == 2 else 20_000
    est = liquidation_probability(acc, gbm(sigma), [t], n_paths=n, seed=leverage,
                                  method="antithetic")[t]
    assert within(est, hit_probability(60_000.0, lp, sigma, t))


def test_inverse_long_mc_matches_closed_form_with_drift():
    acc = InversePerp(1000, 50_000.0, wallet_coin=0.2)
    lp = acc.boundaries[0][1]
    t = 7 / 365
    est = liquidation_probability(acc, gbm(0.8), [t], n_paths=20_000, seed=3, method="plain",
                                  drift=0.5)[t]
    assert within(est, hit_probability(50_000.0, lp, 0.8, t, mu=0.5))


class Corridor:
    """Liquidated outside (down, up), time-independent: an exact double barrier."""

    def __init__(self, spot, down, up):
        self.underlyings, self.spot = ["BTC"], np.array([spot])
        self.boundaries, self.exposure = [(0, down, up)], np.array([0.0])
        self.down, self.up = down, up

    def health(self, prices, t_years):
        return np.minimum(prices[:, 0] - self.down, self.up - prices[:, 0])


@pytest.mark.parametrize("fused", [True, False])
def test_double_barrier_mc_matches_series(fused):
    acc = Corridor(60_000.0, 54_000.0, 64_000.0)
    hs = [1 / 365, 7 / 365]
    r = liquidation_risk(acc, gbm(0.6), hs, n_paths=20_000, seed=2, method="plain", fused=fused)
    assert r.fused == fused
    for h in hs:
        assert within(r.probabilities[h], exit_probability(60_000.0, 54_000.0, 64_000.0, 0.6, h))


def test_short_strangle_is_bounded_by_its_t0_double_barrier():
    acc = ShortStrangle(cash=22_000.0, spot=60_000.0, k_put=50_000.0, k_call=70_000.0,
                        expiry=0.25, vol=0.6)
    (_, down, up), = acc.boundaries
    t = 7 / 365
    r = liquidation_risk(acc, gbm(0.6), [t], n_paths=20_000, seed=11, method="plain", fused=False)
    fixed = exit_probability(60_000.0, down, up, 0.6, t)   # boundaries frozen at t=0
    est = r.probabilities[t]
    assert 0.5 * fixed < est.p < fixed + 3 * est.stderr
    assert np.isfinite(r.var99[t]) and r.es99[t] >= r.var99[t]


def test_fused_kernel_and_general_engine_agree_on_the_same_paths():
    acc = IsolatedLinear(0.1, 60_000.0, 20)
    t = [HOUR * 24, HOUR * 96]
    runs = [liquidation_risk(acc, student_t(0.7, 4.0), t, n_paths=8192, seed=5, method="plain",
                             fused=f) for f in (True, False)]
    for h in t:
        assert runs[0].probabilities[h].p == pytest.approx(runs[1].probabilities[h].p, abs=1e-12)


def test_two_asset_cross_account_control_variate_is_unbiased_and_reduces_variance():
    acc = CrossLinear(2_000.0, [0.5, -5.0], [60_000.0, 3_000.0], [BTC, ETH])
    model = gbm([0.6, 0.8], corr=np.array([[1.0, 0.3], [0.3, 1.0]]))
    t = 1 / 365
    plain = liquidation_probability(acc, model, [t], n_paths=20_000, seed=9, method="plain")[t]
    cv = liquidation_probability(acc, model, [t], n_paths=20_000, seed=9, method="control")[t]
    assert abs(plain.p - cv.p) < 3 * np.hypot(plain.stderr, cv.stderr)
    assert cv.stderr < plain.stderr


def test_reported_stderr_matches_spread_across_30_seeds():
    acc = IsolatedLinear(0.1, 60_000.0, 25)
    t = 1 / 365
    est = [liquidation_probability(acc, gbm(0.6), [t], n_paths=4096, seed=s, method="plain")[t]
           for s in range(30)]
    spread = np.std([e.p for e in est], ddof=1)
    reported = np.mean([e.stderr for e in est])
    # the sample sd of 30 estimates has a relative error of about 1/sqrt(58) = 13%
    assert 0.6 < spread / reported < 1.4


def test_importance_sampling_rare_case_matches_plain_mc_with_100x_paths():
    acc = IsolatedLinear(0.1, 60_000.0, 10)         # LP 9.6% below: P(1d) ~ 1e-6 at 40% vol
    t = 1 / 365
    exact = hit_probability(60_000.0, acc.boundaries[0][1], 0.4, t)
    assert 1e-7 < exact < 1e-5
    imp = liquidation_probability(acc, gbm(0.4), [t], n_paths=100_000, seed=1,
                                  method="importance")[t]
    assert imp.stderr < 0.1 * imp.p
    assert within(imp, exact)


def test_importance_sampling_vs_plain_with_100x_paths_on_a_moderately_rare_case():
    acc = IsolatedLinear(-0.1, 60_000.0, 25)
    t = 4 * HOUR
    imp = liquidation_probability(acc, gbm(0.5), [t], n_paths=10_000, seed=4,
                                  method="importance")[t]
    plain = liquidation_probability(acc, gbm(0.5), [t], n_paths=1_000_000, seed=4,
                                    method="plain")[t]
    assert abs(imp.p - plain.p) < 3 * np.hypot(imp.stderr, plain.stderr)
    assert imp.stderr < 2 * plain.stderr


def test_fat_tails_and_jumps_raise_the_short_horizon_probability():
    acc = IsolatedLinear(0.1, 60_000.0, 25)
    t = 4 * HOUR
    p = {name: liquidation_probability(acc, m, [t], n_paths=40_000, seed=8)[t].p
         for name, m in [("gbm", gbm(0.6)), ("t", student_t(0.6, 3.0)),
                         ("merton", merton(0.6, 20.0, -0.03, 0.04))]}
    assert p["t"] > p["gbm"] and p["merton"] > p["gbm"]


def test_term_structure_result_is_monotone_and_serialisable():
    acc = IsolatedLinear(0.1, 60_000.0, 20)
    seen = []
    r = liquidation_risk(acc, gbm(0.6), n_paths=8192, seed=0,
                         progress=lambda done, total: seen.append((done, total)))
    ps = [r.probabilities[h].p for h in sorted(TERM_STRUCTURE.values())]
    assert ps == sorted(ps)
    assert seen[-1] == (8192, 8192)
    q = list(r.time_to_liquidation.values())
    assert q == sorted(q) and q[-1] <= 30 / 365
    # auto chooses per horizon: the LP is 4.6% away, so 1h and 4h are rare (IS), 1d+ are not
    methods = [r.probabilities[h].method for h in sorted(TERM_STRUCTURE.values())]
    assert methods == ["importance"] * 2 + ["control"] * 3
    d = json.loads(json.dumps(r.to_dict()))
    assert d["method"] == "importance+control"
    assert d["time_to_liquidation_histogram"]["edges_hours"][-1] == pytest.approx(720.0)


def test_time_to_liquidation_median_matches_closed_form_quantile():
    from liqrisk.risk.first_passage import first_passage_quantile
    acc = IsolatedLinear(0.1, 60_000.0, 20)
    lp, t = acc.boundaries[0][1], 30 / 365
    r = liquidation_risk(acc, gbm(0.6), [t], n_paths=20_000, seed=3, method="plain")
    p_t = hit_probability(60_000.0, lp, 0.6, t)
    # conditional median = unconditional quantile at p_t / 2; one step (1h) resolution
    exact = first_passage_quantile(p_t / 2, 60_000.0, lp, np.nan, 0.6)
    assert abs(r.time_to_liquidation[0.5] - exact) < 0.05 * exact + HOUR


def test_auto_chooses_the_method_per_horizon_and_the_rare_horizon_has_an_error_bar():
    acc = IsolatedLinear(0.1, 60_000.0, 7)          # LP 13.9% below the mark
    lp, hs = acc.boundaries[0][1], [1 / 365, 7 / 365]
    r = liquidation_risk(acc, gbm(0.4), hs, n_paths=20_000, seed=1)
    one, seven = r.probabilities[hs[0]], r.probabilities[hs[1]]
    assert hit_probability(60_000.0, lp, 0.4, hs[0]) < 1e-3 <= hit_probability(60_000.0, lp,
                                                                               0.4, hs[1])
    assert (one.method, seven.method) == ("importance", "control")
    assert one.p > 0 and 0 < one.stderr < 0.1 * one.p
    for h in hs:
        assert within(r.probabilities[h], hit_probability(60_000.0, lp, 0.4, h))


def test_a_sampled_zero_carries_the_rule_of_three_bound():
    acc = IsolatedLinear(0.1, 60_000.0, 7)
    hs = [1 / 365, 7 / 365]
    r = liquidation_risk(acc, gbm(0.4), hs, n_paths=20_000, seed=1, method="control")
    est = r.probabilities[hs[0]]                    # no path comes near the LP within 1d
    assert est.p == 0.0 and est.stderr == 0.0
    assert est.ci95 == (0.0, 3 / 20_000) and est.method == "control (no hits)"
    assert r.probabilities[hs[1]].method == "control"
    anti = liquidation_probability(acc, gbm(0.4), hs, n_paths=20_000, seed=1,
                                   method="antithetic")[hs[0]]
    # antithetic: `paths` counts simulated paths, the bound is over the independent pairs
    assert anti.ci95 == (0.0, 3 / (anti.paths // 2)) and anti.method == "antithetic (no hits)"


class NoBoundary:
    """Health 1 + P: never liquidated, no boundary."""

    underlyings, spot, exposure = ["BTC"], np.array([60_000.0]), np.array([1.0])
    boundaries = [(0, None, None)]

    def health(self, prices, t_years):
        return 1.0 + prices[:, 0]


def test_an_exact_zero_without_boundary_is_reported_as_such():
    r = liquidation_risk(NoBoundary(), gbm(0.6), [1 / 365], n_paths=4096, seed=0)
    est = r.probabilities[1 / 365]
    assert r.fused and (est.p, est.stderr, est.ci95) == (0.0, 0.0, (0.0, 0.0))
    assert est.method == "no-boundary"
    assert r.time_histogram.paths == 0 and sum(r.time_histogram.counts) == 0


def test_time_to_liquidation_histogram_counts_liquidated_paths_in_hour_bins():
    acc = IsolatedLinear(0.1, 60_000.0, 20)
    hs = [1 / 365, 7 / 365]
    r = liquidation_risk(acc, gbm(0.6), hs, n_paths=8192, seed=3, method="plain")
    th = r.time_histogram
    assert th.edges_hours[0] == 0.0 and th.edges_hours[-1] == pytest.approx(168.0)
    assert np.all(np.diff(th.edges_hours) > 0) and len(th.counts) == len(th.edges_hours) - 1
    assert sum(th.counts) == th.paths > 0 and sum(th.fraction) == pytest.approx(1.0)
    # the fraction by 24h matches P(1d)/P(7d); the median bin holds the quantile
    cum = np.cumsum(th.fraction)
    by_1d = cum[np.searchsorted(th.edges_hours, 24.0) - 1]
    ratio = r.probabilities[hs[0]].p / r.probabilities[hs[1]].p
    assert by_1d == pytest.approx(ratio, abs=0.03)
    med = r.time_to_liquidation[0.5] * 8760
    k = np.searchsorted(cum, 0.5)
    assert th.edges_hours[k] <= med <= th.edges_hours[k + 1]
    d = json.loads(json.dumps(r.to_dict()))["time_to_liquidation_histogram"]
    assert d["counts"] == th.counts and d["edges_hours"] == th.edges_hours
    # importance sampling: weighted counts
    imp = liquidation_risk(acc, gbm(0.6), [4 * HOUR], n_paths=8192, seed=3,
                           method="importance").time_histogram
    assert sum(imp.fraction) == pytest.approx(1.0) and sum(imp.counts) < imp.paths


@pytest.mark.parametrize("method", ["plain", "antithetic", "importance"])
def test_fused_gbm_kernel_and_general_engine_agree_on_the_same_paths(method):
    acc = Corridor(60_000.0, 56_000.0, 66_000.0)
    hs = [HOUR * 5, HOUR * 24, HOUR * 60]
    runs = [liquidation_risk(acc, gbm(0.7), hs, n_paths=6000, seed=5, method=method,
                             fused=f) for f in (True, False)]
    for h in hs:
        assert runs[0].probabilities[h].p == pytest.approx(runs[1].probabilities[h].p,
                                                           rel=1e-9, abs=1e-15)


def test_fused_results_depend_on_the_seed_only_not_on_the_thread_count(monkeypatch):
    import liqrisk.risk.montecarlo as mc
    acc = IsolatedLinear(-0.1, 60_000.0, 20)
    kw = dict(horizons_years=[HOUR * 12, HOUR * 48], n_paths=3 * 4096 + 10, seed=7)
    a = liquidation_risk(acc, gbm(0.6), **kw).to_dict()
    serial = mc.map_chunks
    monkeypatch.setattr(mc, "map_chunks", lambda fn, chunks, threads=None: serial(fn, chunks, 1))
    b = liquidation_risk(acc, gbm(0.6), **kw).to_dict()
    assert a == b
    assert liquidation_risk(acc, gbm(0.6), **(kw | {"seed": 8})).to_dict() != a


@pytest.mark.parametrize("model,fused", [(student_t(0.8, 4), None), (student_t(0.8, 4), False),
                                         (gbm(0.8), False), (gbm(0.8), True)])
def test_horizons_rounding_to_the_same_step_give_identical_estimates(model, fused):
    """One step per day: 1h, 4h and 1d all round to step 1. Every engine must write each of
    those columns (regression: the step loop advanced one horizon per step, leaving columns
    unwritten or shifted, so the term structure fell with the horizon)."""
    acc = IsolatedLinear(0.1, 60_000.0, 50)
    hs = sorted(TERM_STRUCTURE.values())
    r = liquidation_risk(acc, model, hs, n_paths=4000, seed=1, n_steps_per_day=1,
                         method="plain", fused=fused)
    ps = [r.probabilities[h].p for h in hs]
    assert ps[0] == ps[1] == ps[2] and ps == sorted(ps) and ps[-1] > ps[0] > 0
    assert r.var99[hs[0]] == r.var99[hs[1]] == r.var99[hs[2]]
    assert r.es99[hs[0]] == r.es99[hs[1]] == r.es99[hs[2]]
    one = liquidation_risk(acc, model, [1 / 365], n_paths=4000, seed=1, n_steps_per_day=1,
                           method="plain", fused=fused)
    e = one.probabilities[1 / 365]       # other draws (30 steps per path above): within noise
    assert abs(e.p - ps[2]) < 4 * np.hypot(e.stderr, r.probabilities[hs[2]].stderr)


def test_auto_with_horizons_on_the_same_step_reuses_the_importance_run():
    acc = IsolatedLinear(0.1, 60_000.0, 20)
    hs = [1 * HOUR, 1.2 * HOUR, 4 * HOUR]          # 1h and 1.2h round to the same step
    r = liquidation_risk(acc, gbm(0.6), hs, n_paths=4096, seed=2)
    a, b = r.probabilities[hs[0]], r.probabilities[hs[1]]
    assert a.method == b.method == "importance" and a == b
