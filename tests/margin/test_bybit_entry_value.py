"""Bybit's maintenance margin on the entry value (versions ``classic`` and ``uta-2024``) in the
deduction form of its risk-limit tier, ``MM = position value·MMR − MM deduction`` (Bybit help
centre "Maintenance Margin (USDT Contract)" and "(Inverse Contract)"), through the engine, its
closed forms, the cascade and the boundaries.

The help centre's illustrations publish the tier tables and the positions (XYZUSDT: tiers
0–1,000 2%, –2,000 2.5%, –3,000 3%, –4,000 3.5%, –5,000 4%, long 100 contracts at 35 USDT, 10x;
XYZUSD: 0–10 XYZ 1%, –20 2%, –30 3%, –40 4%, –50 5%, long 10,000 USD contracts at 400, 10x); the
MM and liquidation prices below are computed by hand from those tables as the marginal sum of
each slice at its own tier's rate (which is what the deduction encodes), not read from Bybit.
"""
import numpy as np
import pytest

from tests.builders import portfolio
from liqrisk.cascade import scenario_from_dict, simulate
from liqrisk.cascade.liqmap import boundaries
from liqrisk.cascade.portfolio import population_from_portfolio
from liqrisk.margin import bybit
from liqrisk.margin.account import analyze_margin

pytestmark = pytest.mark.numerics
# the engine's boundary search stops at 1e-12 relative; hand sums are exact in decimals
REL = 1e-10

XYZUSDT = [{"notional_floor": lo, "notional_cap": lo + 1_000, "maint_margin_ratio": r}
           for lo, r in zip(range(0, 5_000, 1_000), (0.02, 0.025, 0.03, 0.035, 0.04))]
# XYZUSD's coin tiers read at the position value PV = face/EP: our inverse tables are in USD face,
# so at the entry price 400 the 10-XYZ steps are 4,000-USD steps
XYZUSD_FACE = [{"notional_floor": lo, "notional_cap": lo + 4_000, "maint_margin_ratio": r}
               for lo, r in zip(range(0, 20_000, 4_000), (0.01, 0.02, 0.03, 0.04, 0.05))]
XYZ = {"XYZ": {"mark": 35.0, "vol": 0.9}}


def _isolated(venue, version, symbol, size, entry, margin, lev, brackets=None, market=None):
    spec = {"name": venue, "version": version, **({"brackets": brackets} if brackets else {})}
    return portfolio([{"id": "b", "venue": spec, "mode": "isolated",
                       "positions": [{"symbol": symbol, "kind": "perp", "size": size, "entry": entry,
                                      "margin": margin, "leverage": lev}]}],
                     market=market or {"BTC": {"mark": entry, "vol": 0.6}})


@pytest.mark.parametrize("version", ["classic", "uta-2024"])
def test_published_xyzusdt_tier_4_position_holds_mm_92_5_and_liquidates_at_32_425(version):
    """Position value 3,500 (tier 4): MM = 1,000·2% + 1,000·2.5% + 1,000·3% + 500·3.5% = 92.5
    = 3,500·3.5% − deduction 30; IM 350, so LP = 35 − (350 − 92.5)/100 = 32.425 (the rate alone,
    122.5, gave 32.725). UTA 2024 adds the fee to close at the bankruptcy price to MM and to the
    position margin Bybit holds (3,500·(1 − 1/10)·0.055%), which leaves the LP unchanged."""
    fee = 3_500 * (1 - 1 / 10) * 0.00055 if version == "uta-2024" else 0.0
    pf = _isolated("bybit-linear", version, "XYZUSDT", 100, 35, 350 + fee, 10, {"XYZUSDT": XYZUSDT}, XYZ)
    pos = analyze_margin(pf)[0].positions[0]
    assert pos.maintenance_margin == pytest.approx(92.5 + fee, rel=1e-12)
    assert pos.liquidation_price == pytest.approx(32.425, rel=REL)
    assert bybit.uta2024_isolated_linear(35, 100, 10, 0.035, mm_deduction=30) == pytest.approx(32.425, rel=1e-14)
    assert bybit.classic_isolated_linear(35, 100, 10, 0.035, mm_deduction=30)[0] == pytest.approx(32.425, rel=1e-14)


@pytest.mark.parametrize("version,fn", [("classic", bybit.classic_isolated_inverse),
                                        ("uta-2024", bybit.uta2024_isolated_inverse)])
def test_published_xyzusd_inverse_tier_3_position_holds_mm_0_45_xyz(version, fn):
    """PV = 10,000/400 = 25 XYZ (tier 3): MM = 10·1% + 10·2% + 5·3% = 0.45 XYZ = 25·3% − 0.3;
    IM 2.5 XYZ, LP = 10,000/(25 + 2.5 − 0.45) = 369.685767… (the rate alone, 0.75, gave
    10,000/26.75)."""
    lp = 10_000 / (25 + 2.5 - 0.45)
    pf = _isolated("bybit-inverse", version, "XYZUSD", 10_000, 400, 2.5, 10, {"XYZUSD": XYZUSD_FACE},
                   {"XYZ": {"mark": 400.0, "vol": 0.9}})
    pos = analyze_margin(pf)[0].positions[0]
    assert pos.maintenance_margin == pytest.approx(0.45, rel=1e-12)
    assert pos.liquidation_price == pytest.approx(lp, rel=REL)
    assert fn(400, 10_000, 10, 0.03, mm_deduction=0.3) == pytest.approx(lp, rel=1e-14)


# bundled BTC tiers (representative): 0–2M 0.5%, 2M–4M 1% (deduction 10,000), 4M–6M 1.5% (30,000)
TIERED = [  # (version, size, entry, leverage, MMR, deduction): tiers 1, 2 and 3, long and short
    ("classic", 10, 100_000, 10, 0.005, 0.0), ("classic", -30, 100_000, 20, 0.01, 10_000.0),
    ("classic", 50, 100_000, 10, 0.015, 30_000.0), ("uta-2024", -50, 100_000, 10, 0.015, 30_000.0),
    ("uta-2024", 30, 100_000, 20, 0.01, 10_000.0)]


@pytest.mark.parametrize("version,size,entry,lev,mmr,ded", TIERED)
def test_linear_closed_forms_with_the_tier_deduction_match_the_engine(version, size, entry, lev, mmr, ded):
    """Tier 3 long 50 @ 100,000, 10x: LP = 100,000·(1 − 0.1 + 0.015) − 30,000/50 = 90,900."""
    fee = abs(size) * entry * bybit.close_fee_rate(size, lev, 0.00055) if version == "uta-2024" else 0.0
    pf = _isolated("bybit-linear", version, "BTCUSDT", size, entry, abs(size) * entry / lev + fee, lev)
    pos = analyze_margin(pf)[0].positions[0]
    assert pos.maintenance_margin == pytest.approx(abs(size) * entry * mmr - ded + fee, rel=1e-12)
    lp = bybit.classic_isolated_linear(entry, size, lev, mmr, mm_deduction=ded)[0]
    assert lp == pytest.approx(bybit.uta2024_isolated_linear(entry, size, lev, mmr, mm_deduction=ded), rel=1e-14)
    assert pos.liquidation_price == pytest.approx(lp, rel=REL)
    if (version, size) == ("classic", 50):
        assert lp == pytest.approx(90_900, rel=1e-14)


@pytest.mark.parametrize("version", ["classic", "uta-2024"])
@pytest.mark.parametrize("face", [3_000_000, -5_000_000])
def test_inverse_closed_forms_with_the_tier_deduction_match_the_engine(version, face):
    """USD-face tiers at entry: the coin deduction is the table's USD deduction / EP."""
    ep, lev = 100_000.0, 10.0
    mmr, ded_usd = (0.01, 10_000.0) if abs(face) == 3_000_000 else (0.015, 30_000.0)
    fn = bybit.classic_isolated_inverse if version == "classic" else bybit.uta2024_isolated_inverse
    pf = _isolated("bybit-inverse", version, "BTCUSD", face, ep, abs(face) / ep / lev, lev)
    pos = analyze_margin(pf)[0].positions[0]
    assert pos.maintenance_margin == pytest.approx((abs(face) * mmr - ded_usd) / ep, rel=1e-12)
    assert pos.liquidation_price == pytest.approx(fn(ep, face, lev, mmr, mm_deduction=ded_usd / ep), rel=REL)


def test_cascade_and_boundaries_liquidate_tiered_positions_at_the_closed_form_price():
    """A zero-impact gap just beyond each closed-form LP liquidates the account in the cascade and
    just inside does not; the cascade's boundary search returns the same prices."""
    accounts = [{"id": f"{v}-{q:g}", "venue": {"name": "bybit-linear", "version": v}, "mode": "isolated",
                 "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": q, "entry": e,
                                "margin": abs(q) * e / lev, "leverage": lev}]}
                for v, q, e, lev, _, _ in TIERED]
    market = {"BTC": {"mark": 100_000.0, "vol": 0.6}}
    pop = population_from_portfolio(portfolio(accounts, market=market))
    expected = {}
    for (v, q, e, lev, mmr, ded), acc in zip(TIERED, accounts):
        fee = abs(q) * e * bybit.close_fee_rate(q, lev, 0.00055) if v == "uta-2024" else 0.0
        expected[acc["id"]] = bybit.uta2024_isolated_linear(e, q, lev, mmr, mm_deduction=ded - fee)
    _, pools, _, down, up = boundaries(pop, np.array([100_000.0]))
    for p, d, u in zip(pools, down, up):
        lp = expected[pop.account_id[pop.pool_account[p]]]
        assert (d if lp < 100_000 else u) == pytest.approx(lp, rel=REL)
    for acc_id, lp in expected.items():
        out = 1.0 if lp > 100_000 else -1.0
        hit = [set(simulate(pop, scenario_from_dict({
            "assets": {"BTC": {"price": 100_000.0, "vol": 0.6}},
            "shock": {"kind": "gap", "steps": 1, "step_hours": 0, "moves": {"BTC": lp * (1 + s * 1e-7) / 1e5 - 1}},
            "impact": {"model": "none"}, "insurance_fund_usd": 1e12})).liquidated_accounts) for s in (out, -out)]
        assert acc_id in hit[0] and acc_id not in hit[1]
