"""Per-pool probabilities of a several-pool account (issue 10, items 2 and 5): each margined
pool gets its own P(liquidation), importance-sampled where the pool is rare by the account's
rule applied to the pool — on the account's tilted run when the pool sets the account's tilt,
else on its own — so a rare pool's interval covers its closed form as the account's does,
whether or not the account itself is rare. Closed forms: the reflection principle for a pool
liquidated exactly when one price first touches its liquidation price (driftless GBM, by hand
in :func:`_hit`, the engine's :func:`hit_probability` for the other side)."""
import math

import numpy as np
import pytest

import liqrisk
from liqrisk.dynamics.paths import gbm, student_t
from liqrisk.load import parse_portfolio
from liqrisk.margin.account import CompiledPortfolio
from liqrisk.risk.book_mc import book_liquidation_risk
from liqrisk.risk.first_passage import hit_probability

AS_OF = "2026-11-23T00:00:00Z"
BTC, ETH = 91250.0, 3050.0
HOUR, DAY = 1 / 8760, 1 / 365

# an isolated 0.5 BTC long (LP ≈ 87,000, 1.52e-7 in 1h at 85 % vol) beside a cross ETH short
# (4,000 USDT: LP ≈ 3,436, 12.7 % above — 1.5e-60 in 1h, 7.6e-4 in 1d at 68 % vol); each pool
# moves with one price, so each is liquidated exactly when that price first touches its LP
MIX = {"as_of": AS_OF, "market": {"BTC": {"mark": BTC, "vol": 0.85}, "ETH": {"mark": ETH, "vol": 0.68}},
       "accounts": [{"id": "mix", "venue": "binance-usdm", "mode": "cross", "collateral": {"USDT": 4000},
                     "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 0.5, "entry": BTC, "margin": 2300},
                                   {"symbol": "ETHUSDT", "kind": "perp", "size": -10, "entry": ETH}]}]}


def _phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _hit(lp: float, vol: float, years: float) -> float:
    """Driftless GBM's first passage below ``lp`` from BTC (reflection principle, by hand)."""
    sd, b = vol * math.sqrt(years), math.log(lp / BTC)
    return _phi((b + sd * sd / 2) / sd) + math.exp(-b) * _phi((b - sd * sd / 2) / sd)


def _mix():
    cp = CompiledPortfolio(parse_portfolio(MIX))
    lp_btc, lp_eth = (p.liquidation_price for p in cp.margin_results()[0].positions)
    return cp, lp_btc, lp_eth


def _covers(e, exact) -> bool:
    return e.ci95[0] <= exact <= e.ci95[1]


def test_a_rare_isolated_pools_interval_covers_its_closed_form_as_the_accounts_does():
    """The isolated long is the account's rare event at 1h: the account is importance-sampled,
    and the pool's own estimate — the same tilted paths, each weighted by its likelihood ratio —
    matches the reflection principle too (before: 5.1e-15, 95% [0, 1.5e-14] by the CLI's seed,
    the untilted paths' bridge mass). The cross ETH short, 27 sds away within the hour, is
    tilted on its own and matches its closed form at 1.5e-60."""
    acc = liqrisk.analyze(MIX, horizons=["1h"], paths=20_000, seed=4, model="gbm", range_paths=0).accounts[0]
    exact = _hit(acc.positions[0].liquidation_price, 0.85, HOUR)
    assert 1e-7 < exact < 2e-7
    est = acc.probability["1h"]
    assert est.method == "importance" and abs(est.p - exact) < 4 * est.stderr
    pool = acc.pools["isolated BTCUSDT"]["1h"]
    assert pool.method == "importance" and _covers(pool, exact) and abs(pool.p - exact) < 4 * pool.stderr
    eth = float(hit_probability(ETH, acc.positions[1].liquidation_price, 0.68, HOUR))
    assert 1e-61 < eth < 1e-59
    cross = acc.pools["cross"]["1h"]
    assert cross.method == "importance" and abs(cross.p - eth) < 4 * cross.stderr
    for e in (est, pool, cross):
        assert 0.0 <= e.ci95[0] <= e.p <= e.ci95[1] <= 1.0


def test_a_rare_pool_of_an_account_that_is_not_rare_is_tilted_on_its_own():
    """At 1d the account (p ≈ 0.29, the isolated long) takes the control variate; its cross ETH
    short is rare (7.6e-4) and gets its own importance-sampled estimate, which covers the
    closed form with an error bar ≪ the plain one's √(p/n) ≈ 2e-4."""
    cp, lp_btc, lp_eth = _mix()
    r = book_liquidation_risk(cp, [0], [0, 1], gbm(np.array([0.85, 0.68])), [DAY], n_paths=20_000, seed=3,
                              risk=False)[0]
    assert r.probabilities[DAY].method == "control"
    cross, iso = r.pools["cross"][DAY], r.pools["isolated BTCUSDT"][DAY]
    exact = float(hit_probability(ETH, lp_eth, 0.68, DAY))
    assert 5e-4 < exact < 1e-3
    assert cross.method == "importance" and abs(cross.p - exact) < 4 * cross.stderr
    assert cross.stderr < 0.2 * math.sqrt(exact / 20_000)
    assert iso.method == "plain" and abs(iso.p - _hit(lp_btc, 0.85, DAY)) < 4 * iso.stderr


@pytest.mark.parametrize("corr", [None, 0.6])
def test_a_weighted_pool_estimate_agrees_with_the_untilted_one_where_the_pool_is_not_rare(corr):
    """``importance`` tilts every pool at 1d — the isolated long on the account's run (it sets the
    account's tilt), the cross short on its own — though neither is rare (0.29, 7.6e-4): each
    pool's likelihood-ratio-weighted estimate agrees with the untilted estimate of an
    independent run (other seeds' paths) within 4 joint standard errors, and with its closed
    form (the marginal law of each price: correlation changes neither)."""
    cp, lp_btc, lp_eth = _mix()
    c = None if corr is None else np.array([[1.0, corr], [corr, 1.0]])
    model = gbm(np.array([0.85, 0.68]), corr=c)
    run = lambda method: book_liquidation_risk(cp, [0], [0, 1], model, [DAY], n_paths=20_000, seed=11,  # noqa: E731
                                               method=method, risk=False)[0].pools
    tilted, plain = run("importance"), run("plain")
    exact = {"isolated BTCUSDT": _hit(lp_btc, 0.85, DAY), "cross": float(hit_probability(ETH, lp_eth, 0.68, DAY))}
    for label, p in exact.items():
        w, u = tilted[label][DAY], plain[label][DAY]
        assert w.method == "importance" and u.method == "plain"
        assert abs(w.p - u.p) < 4 * math.hypot(w.stderr, u.stderr)
        assert abs(w.p - p) < 4 * w.stderr


def test_a_fat_tailed_models_weighted_pool_estimates_agree_with_its_antithetic_ones():
    """Student-t (ν = 4): no closed form, so each pool's estimate under ``importance`` (the
    model's own measure change along the pool's axis, :func:`~liqrisk.risk.measures.proposal`)
    against the antithetic estimate of an independent run, within 4 joint standard errors."""
    cp, _, _ = _mix()
    model = student_t(np.array([0.85, 0.68]), 4.0)
    run = lambda method: book_liquidation_risk(cp, [0], [0, 1], model, [DAY], n_paths=20_000, seed=2,  # noqa: E731
                                               method=method, risk=False)[0].pools
    tilted, anti = run("importance"), run("antithetic")
    for label in ("isolated BTCUSDT", "cross"):
        w, u = tilted[label][DAY], anti[label][DAY]
        assert w.method == "importance" and u.method == "antithetic" and u.p > 0
        assert abs(w.p - u.p) < 4 * math.hypot(w.stderr, u.stderr)


def test_a_pool_that_sets_the_accounts_tilt_shares_its_run(monkeypatch):
    """One untilted run and two tilted ones at 1h: the account's (towards the isolated long's
    LP), which also gives the long's estimate, and the cross short's own."""
    import liqrisk.risk.book_mc as bm
    cp, _, _ = _mix()
    runs, real = [], bm._run
    monkeypatch.setattr(bm, "_run", lambda *a, **kw: runs.append(a[10]) or real(*a, **kw))
    r = book_liquidation_risk(cp, [0], [0, 1], gbm(np.array([0.85, 0.68])), [HOUR], n_paths=2000, seed=1,
                              risk=False)[0]
    assert len(runs) == 3 and runs[0] is None and all(t is not None for t in runs[1:])
    assert r.probabilities[HOUR].method == r.pools["isolated BTCUSDT"][HOUR].method == "importance"
    assert r.pools["cross"][HOUR].method == "importance"


def test_a_rare_pools_95_interval_covers_its_closed_form_at_the_nominal_rate():
    """40 seeds of 4,000 paths, correlated (ρ = 0.6): the isolated long at 1h (on the account's
    tilted run) and the cross short at 1d (on its own, beside the account's control variate).
    With true coverage 0.95 the number covered X ~ Binomial(40, 0.95) has P(X ≤ 33) = 0.0007;
    an interval that covers half the time passes with P(X ≥ 34 | 0.5) = 4e-6. (The untilted
    estimates covered 15 and 36 of 40: the long's sampled zeros carry the rule-of-three bound,
    which covers, a few paths' bridge mass far below 1/n an interval that does not; measured
    with the per-pool tilts: 39 and 39.)"""
    cp, lp_btc, lp_eth = _mix()
    model = gbm(np.array([0.85, 0.68]), corr=np.array([[1.0, 0.6], [0.6, 1.0]]))
    iso_p, cross_p = _hit(lp_btc, 0.85, HOUR), float(hit_probability(ETH, lp_eth, 0.68, DAY))
    covered = np.zeros(2, int)
    for seed in range(40):
        r = book_liquidation_risk(cp, [0], [0, 1], model, [HOUR, DAY], n_paths=4000, seed=seed, risk=False)[0]
        iso, cross = r.pools["isolated BTCUSDT"][HOUR], r.pools["cross"][DAY]
        assert iso.method == cross.method == "importance"
        covered += [_covers(iso, iso_p), _covers(cross, cross_p)]
    assert covered.min() >= 34, covered


def test_a_pool_beside_a_several_underlying_pool_is_tilted_towards_its_own_design_point():
    """With a cross BTC long + ETH long (a pool on two prices: the account is tilted towards a
    design point) an isolated BTC short is rare at 1h: its own point (b/σ)·L[BTC], its own run;
    it matches the reflection principle above its LP, correlated at ρ = 0.7."""
    doc = {"as_of": AS_OF, "market": MIX["market"],
           "accounts": [{"id": "pair", "venue": "binance-usdm", "mode": "cross", "collateral": {"USDT": 30_000},
                         "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": BTC},
                                       {"symbol": "ETHUSDT", "kind": "perp", "size": 10.0, "entry": ETH},
                                       {"symbol": "BTCUSDT", "kind": "perp", "size": -0.5, "entry": BTC,
                                        "margin": 4000, "position_side": "short"}]}]}
    cp = CompiledPortfolio(parse_portfolio(doc))
    lp = [p.liquidation_price for p in cp.margin_results()[0].positions if p.size < 0][0]
    model = gbm(np.array([0.85, 0.68]), corr=np.array([[1.0, 0.7], [0.7, 1.0]]))
    r = book_liquidation_risk(cp, [0], [0, 1], model, [HOUR], n_paths=20_000, seed=5, risk=False)[0]
    iso = next(v[HOUR] for k, v in r.pools.items() if k.startswith("isolated"))
    exact = float(hit_probability(BTC, lp, 0.85, HOUR))
    assert exact < 1e-3
    assert iso.method == "importance" and abs(iso.p - exact) < 4 * iso.stderr
