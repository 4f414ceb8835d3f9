"""VaR/ES of collateral loans: what a liquidation leaves the holder follows the protocol's own
liquidation (Aave v3 close factor, bonus and dust rules; Compound III absorb; Maker's penalty),
checked against numbers worked out by hand from the reserves here and against the margin engine's
``liquidation_call`` (the protocols' published rules, docs/loans.md).

Aave v3.3 (``LiquidationLogic.sol``): with both the collateral and the debt reserve ≥ $2,000 and
HF > 0.95 a liquidator repays at most 50 % of the total debt; it seizes ``repaid·bonus`` of
collateral (capped at the balance), so the holder loses ``seized − repaid`` = (bonus − 1)·repaid.
Compound III ``absorb``: all collateral goes, the debt is zeroed, the holder is credited
``max(Σ value·liquidation_factor − debt, 0)``."""
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats

import liqrisk
from liqrisk.load import load_portfolio
from liqrisk.margin import kernel as K
from liqrisk.margin import reference as R
from liqrisk.margin.account import compile_portfolio
from liqrisk.margin.registry import rule_set_for

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "defi_loans.yaml"
DOC = yaml.safe_load(EXAMPLE.read_text())
ETH = 3050.0
N = 4000


def _account(acc_id):
    return next(a for a in DOC["accounts"] if a["id"] == acc_id)


def _analyze(*accounts, horizons=("1d",), paths=N, model="gbm"):
    doc = {"as_of": DOC["as_of"], "market": DOC["market"], "accounts": list(accounts)}
    return liqrisk.analyze(doc, horizons=list(horizons), paths=paths, seed=1, model=model,
                           range_paths=0).accounts


def test_aave_stressed_var_is_the_liquidation_calls_bonus_part():
    """aave-stressed: 10 ETH at 3,050 (30,500), 25,900 USDC debt, LT 0.83, bonus 1.05:
    HF = 25,315 / 25,900 = 0.9774 (liquidatable now, > 0.95), both reserves ≥ $2,000, so the
    liquidator repays 50 % of the debt, 12,950 USDC, and seizes 12,950·1.05 = 13,597.5 USD of ETH
    (4.4582 ETH ≤ 10; 12,950 of debt and 16,902.5 of collateral are left, both ≥ $1,000): the
    holder loses 13,597.5 − 12,950 = 647.5 at the marks, on every path (liquidated now; before
    the fix VaR99 was 0)."""
    (acc,) = _analyze(_account("aave-stressed"), horizons=("1d", "7d"), paths=400)
    by_hand = 0.5 * 25_900 * 1.05 - 0.5 * 25_900
    assert by_hand == pytest.approx(647.5)
    call = acc.loan["liquidation_call"]["calls"][0]
    assert call["allowed"] and call["close_factor"] == 0.5
    engine = call["collateral_seized"] * ETH - call["debt_repaid_usd"]
    assert engine == pytest.approx(by_hand, rel=1e-12)
    assert acc.liquidatable_now and acc.risk.max_loss == pytest.approx(4600.0)
    for h in ("1d", "7d"):
        assert acc.risk.var99[h] == pytest.approx(by_hand, rel=1e-12)
        assert acc.risk.es99[h] == pytest.approx(by_hand, rel=1e-12)


def test_healthy_aave_account_var_is_price_risk_only():
    """10 ETH against 10,000 USDC (HF 2.53, liquidation price 1,205: 60 % down, ~26 daily sd):
    never liquidated within a day, so the loss is 10·(S0 − S_1d), S_1d lognormal (GBM, no drift):
    the engine's VaR99 is the ⌈0.99·n⌉-th smallest loss — inside the order-statistic band of the
    normal quantile (probability 2e-6 outside for iid draws; antithetic pairs only narrow it)."""
    acc = {"id": "healthy", "venue": _account("aave-stressed")["venue"], "supplied": {"ETH": 10},
           "borrowed": {"USDC": 10_000}}
    (res,) = _analyze(acc, paths=N)
    assert res.probability["1d"].p < 1e-9
    k = math.ceil(0.99 * N)
    lo, hi = stats.beta.ppf([1e-6, 1 - 1e-6], N - k + 1, k)     # rank of the z of the k-th loss
    sd = 0.68 * math.sqrt(1 / 365)
    loss = lambda u: 10 * ETH * (1 - math.exp(-sd * sd / 2 + sd * stats.norm.ppf(u)))
    assert loss(hi) <= res.risk.var99["1d"] <= loss(lo)


def test_aave_near_liquidation_var_within_the_holder_stake():
    """10 ETH, debt D for HF 1.02: the liquidation price is P* = D / 8.3 (1.96 % down, 0.55
    daily sd). At a liquidation with HF ≈ 1 the liquidator repays D/2 and seizes 0.525·D
    (< 10·P* = 1.2048·D), so the holder loses 10·(S0 − P_k) + 0.025·D at the liquidation price
    P_k. The loss never exceeds the stake (equity 10·S0 − D = max_loss); and the 1 % tail is of
    paths liquidated at or below P*: VaR99 ≥ 10·(S0 − P*) + 0.025·D."""
    D = 10 * ETH * 0.83 / 1.02
    acc = {"id": "near", "venue": _account("aave-stressed")["venue"], "supplied": {"ETH": 10},
           "borrowed": {"USDC": D}}
    (res,) = _analyze(acc, horizons=("1d", "7d"), paths=N)
    stake = 10 * ETH - D
    assert res.risk.max_loss == pytest.approx(stake)
    floor = 10 * (ETH - D / 8.3) + 0.025 * D
    for h in ("1d", "7d"):
        assert floor <= res.risk.var99[h] <= res.risk.es99[h] <= stake + 1e-6


def _arrays(*accounts):
    doc = {"as_of": DOC["as_of"], "market": DOC["market"], "accounts": list(accounts)}
    pf = load_portfolio(doc)
    market, plans, arrays = compile_portfolio(pf)
    return pf, market, plans, arrays


def _after(plan, market, arrays, prices):
    p = plan.cross_pool
    eq, mm = K.pools_states_nb(np.array([p]), prices[None, :], 0.0, arrays.args())
    kern = K.loan_equity_after_nb(p, prices, eq[0, 0], mm[0, 0], arrays.args())
    ref = R.loan_equity_after(arrays, p, prices[None, :])[0]
    return eq[0, 0], mm[0, 0], kern, ref


def test_compound_absorb_leaves_the_credit_above_the_debt():
    """compound-usdc's 25 ETH + 1.2 BTC against 120,000 USDC at ETH 2,000, BTC 64,000: weighted
    collateral 25·2,000·0.90 + 1.2·64,000·0.85 = 110,280 < 120,000 (liquidatable); absorb credits
    0.95·(50,000 + 76,800) = 120,460, so the holder keeps 460 USDC (equity 6,800 before). At
    BTC 60,000 the credit 115,900 is short of the debt: the holder keeps nothing."""
    pf, market, plans, arrays = _arrays(_account("compound-usdc"))
    rules, acc = plans[0].rules, plans[0].account
    for btc, kept in ((64_000.0, 460.0), (60_000.0, 0.0)):
        prices = market.prices.copy()
        prices[market.axis("ETH")], prices[market.axis("BTC")] = 2000.0, btc
        eq, mm, kern, ref = _after(plans[0], market, arrays, prices)
        assert eq - mm < 0
        call = rules.liquidation_call(acc, {"ETH": 2000.0, "BTC": btc, "USDC": 1.0}, 0.0)
        assert call["user_base_balance_after"] == pytest.approx(kept, abs=1e-9)
        assert kern == pytest.approx(kept, abs=1e-9) and ref == pytest.approx(kept, abs=1e-9)


def test_compound_liquidatable_now_var_is_equity_minus_absorb_credit():
    """25 ETH + 1.2 BTC against 170,000 USDC at the marks: weighted 161,700 < 170,000; absorb
    credits 0.95·185,750 = 176,462.5, the holder keeps 6,462.5 of its 15,750 equity: VaR99 =
    ES99 = 9,287.5 at every horizon."""
    acc = {**_account("compound-usdc"), "id": "absorbed", "borrowed": {"USDC": 170_000}}
    (res,) = _analyze(acc, horizons=("1d", "7d"), paths=400)
    assert res.liquidatable_now
    for h in ("1d", "7d"):
        assert res.risk.var99[h] == pytest.approx(15_750 - 6_462.5, rel=1e-12)
        assert res.risk.es99[h] == pytest.approx(15_750 - 6_462.5, rel=1e-12)


@pytest.mark.parametrize("version", ["3.3", "3.2"])
def test_aave_kernel_and_reference_follow_liquidation_call(version):
    """Random Aave accounts (ETH, WSTETH, BTC collateral; one stable debt, so the pair choice is
    exactly the margin engine's) at random prices with HF < 1: the kernel, the NumPy reference and
    ``liquidation_call`` (equity − (seized·P_c − repaid) of the best allowed call, 0 floor) agree."""
    rng = np.random.default_rng(7)
    venue = {**_account("aave-eth-loop")["venue"], "version": version}
    n = 0
    for _ in range(60):
        supplied = {a: float(u) for a, u in zip(("ETH", "WSTETH", "BTC"), rng.uniform(0, [20, 8, 0.6]))
                    if rng.uniform() < 0.8}
        if not supplied:
            continue
        acc = {"id": "r", "venue": venue, "supplied": supplied, "borrowed": {"USDC": 1.0}}
        pf, market, plans, arrays = _arrays(acc)
        prices = market.prices * np.exp(rng.normal(0, 0.3, len(market.prices)))
        names = {a: float(prices[market.axis(a)]) for a in supplied}
        weighted = sum(u * names[a] * venue["reserves"][a]["liquidation_threshold"] for a, u in supplied.items())
        debt = weighted / rng.uniform(0.6, 0.999)
        acc["borrowed"] = {"USDC": debt}
        pf, market, plans, arrays = _arrays(acc)
        eq, mm, kern, ref = _after(plans[0], market, arrays, prices)
        hf = weighted / debt
        assert eq - mm < 0
        call = plans[0].rules.liquidation_call(plans[0].account, {**names, "USDC": 1.0}, hf)
        best = next((c for c in call["calls"] if c["allowed"]), None)
        lost = 0.0 if best is None else best["collateral_seized"] * names[best["collateral"]] - best["debt_repaid_usd"]
        want = max(eq - lost, 0.0)
        assert kern == pytest.approx(want, rel=1e-9, abs=1e-6)
        assert ref == pytest.approx(want, rel=1e-9, abs=1e-6)
        n += 1
    assert n > 30
