"""Properties of the general margin engine (``analyze_margin``) that hold for every account:
monotonicity in collateral and size, continuity of the liquidation price across tier edges,
agreement with the Binance closed forms, and equity = MM at every reported boundary."""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from tests.builders import portfolio
from liqrisk.margin import binance
from liqrisk.margin.account import CompiledPortfolio, analyze_margin
from liqrisk.margin.binance import usdm_brackets

pytestmark = pytest.mark.numerics
MARKS = {"BTC": 91_250.0, "ETH": 3_050.0}
# Engine vs closed form: the engine's bracket stops at 1e-12 relative; both sides round terms up
# to κ = (wallet + Σ gross notional)/(the position's notional) ≲ 10³ here, ~16·κ·ε ≤ 4e-12.
REL = 1e-10
FAST = settings(max_examples=25, deadline=None, derandomize=True)
BTCUSDT = usdm_brackets()["BTCUSDT"]
ETHUSDT = usdm_brackets()["ETHUSDT"]

# ---- strategies ---------------------------------------------------------------------------------

side = st.sampled_from([-1.0, 1.0])
offset = st.floats(-0.08, 0.08)          # entry = mark · (1 + offset)


@st.composite
def linear_positions(draw, venue):
    """One perp on BTC and/or ETH (one-way mode: one position per contract); notionals 2k–4M USD
    (several Binance brackets)."""
    out = []
    for und in draw(st.lists(st.sampled_from(["BTC", "ETH"]), min_size=1, max_size=2, unique=True)):
        notional = draw(st.floats(2e3, 4e6))
        sym = und + "USDT" if venue == "binance-usdm" else und
        out.append({"symbol": sym, "kind": "perp", "size": draw(side) * notional / MARKS[und],
                    "entry": MARKS[und] * (1 + draw(offset))})
    return out


@st.composite
def coinm_positions(draw):
    """BTCUSD_PERP: one position (one-way mode) or a long and a short leg (hedge mode); USD face
    1k–20M (coin notional crosses the 5/10/20/50 BTC tiers)."""
    sides = draw(st.sampled_from([[1.0], [-1.0], [1.0, -1.0]]))
    legs = [{"symbol": "BTCUSD_PERP", "kind": "perp", "size": sd * draw(st.floats(1e3, 2e7)),
             "entry": MARKS["BTC"] * (1 + draw(offset))} for sd in sides]
    if len(legs) == 2:
        for leg in legs:
            leg["position_side"] = "long" if leg["size"] > 0 else "short"
    return legs


def _gross(positions, venue):
    if venue == "binance-coinm":
        return sum(abs(p["size"]) for p in positions) / MARKS["BTC"]          # coin
    return sum(abs(p["size"]) * MARKS[p["symbol"][:3]] for p in positions)   # USD


@st.composite
def cross_accounts(draw):
    venue = draw(st.sampled_from(["binance-usdm", "hyperliquid", "binance-coinm"]))
    positions = draw(coinm_positions() if venue == "binance-coinm" else linear_positions(venue))
    ccy = {"binance-usdm": "USDT", "hyperliquid": "USDC", "binance-coinm": "BTC"}[venue]
    wallet = _gross(positions, venue) / draw(st.floats(1.5, 40.0))           # 1.5×–40× leverage
    return venue, ccy, positions, wallet


def _cross(venue, ccy, positions, wallet):
    return portfolio([{"id": "a", "venue": venue, "mode": "cross", "collateral": {ccy: wallet},
                       "positions": positions}])


def _bounds(res):
    return {und: (b["down"], b["up"]) for und, b in res.liquidation.items()}


def _not_closer(before, after, mark):
    """``after`` is no closer to the mark than ``before`` on each side (None = no boundary)."""
    (d0, u0), (d1, u1) = before, after
    if d0 is None:
        assert d1 is None
    else:
        assert d1 is None or d1 <= d0 * (1 + 1e-10)
    if u0 is None:
        assert u1 is None
    else:
        assert u1 is None or u1 >= u0 * (1 - 1e-10)


# ---- 1. more collateral never moves a boundary closer ------------------------------------------

@FAST
@given(cross_accounts(), st.floats(1.01, 3.0))
def test_more_cross_collateral_never_moves_a_boundary_closer(acct, factor):
    venue, ccy, positions, wallet = acct
    r0 = analyze_margin(_cross(venue, ccy, positions, wallet))[0]
    r1 = analyze_margin(_cross(venue, ccy, positions, wallet * factor))[0]
    assume(not r0.liquidatable_now)
    assert not r1.liquidatable_now
    for und in r0.liquidation:
        _not_closer(_bounds(r0)[und], _bounds(r1)[und], MARKS[und])


@st.composite
def isolated_positions(draw):
    und = draw(st.sampled_from(["BTC", "ETH"]))
    notional = draw(st.floats(5e3, 5e6))
    pos = {"symbol": und + "USDT", "kind": "perp", "size": draw(side) * notional / MARKS[und],
           "entry": MARKS[und] * (1 + draw(offset)), "margin": notional / draw(st.floats(1.5, 60.0))}
    return und, pos


def _isolated(pos):
    return portfolio([{"id": "i", "venue": "binance-usdm", "mode": "isolated", "positions": [pos]}])


def _isolated_before_after(pos, changed):
    """(after, lp before, lp after) of an isolated position and its changed copy; the draw is
    discarded when the position is liquidatable before the change."""
    p0, p1 = analyze_margin(_isolated(pos))[0], analyze_margin(_isolated(changed))[0]
    assume(not p0.liquidatable_now)
    return p1, p0.positions[0].liquidation_price, p1.positions[0].liquidation_price


@FAST
@given(isolated_positions(), st.floats(1.01, 3.0))
def test_more_isolated_margin_never_moves_the_position_lp_closer(iso, factor):
    _, pos = iso
    _, lp0, lp1 = _isolated_before_after(pos, dict(pos, margin=pos["margin"] * factor))
    if lp0 is None:
        assert lp1 is None
    elif pos["size"] > 0:
        assert lp1 is None or lp1 <= lp0 * (1 + 1e-10)
    else:
        assert lp1 is None or lp1 >= lp0 * (1 - 1e-10)


# ---- 2. a larger position never moves a boundary further away ----------------------------------

def _not_further(before, after, now_after) -> bool:
    """True when no boundary moved away from the mark (or the boundary reached the mark)."""
    (d0, u0), (d1, u1) = before, after
    if now_after:
        return True
    down_ok = d0 is None or (d1 is not None and d1 >= d0 * (1 - 1e-10))
    up_ok = u0 is None or (u1 is not None and u1 <= u0 * (1 + 1e-10))
    return down_ok and up_ok


@FAST
@given(cross_accounts(), st.floats(1.01, 4.0))
def test_scaling_every_size_up_never_moves_a_cross_boundary_further(acct, k):
    venue, ccy, positions, wallet = acct
    r0 = analyze_margin(_cross(venue, ccy, positions, wallet))[0]
    r1 = analyze_margin(_cross(venue, ccy, [dict(p, size=p["size"] * k) for p in positions], wallet))[0]
    assume(not r0.liquidatable_now)
    for und in r0.liquidation:
        assert _not_further(_bounds(r0)[und], _bounds(r1)[und], r1.liquidatable_now), (und, r0, r1)


@FAST
@given(isolated_positions(), st.floats(1.01, 4.0))
def test_scaling_an_isolated_size_up_never_moves_its_lp_further(iso, k):
    _, pos = iso
    p1, lp0, lp1 = _isolated_before_after(pos, dict(pos, size=pos["size"] * k))
    if p1.liquidatable_now or lp0 is None:
        return
    assert lp1 is not None
    assert (lp1 >= lp0 * (1 - 1e-10)) if pos["size"] > 0 else (lp1 <= lp0 * (1 + 1e-10))


# ---- 3. continuity across tier edges, and the closed form everywhere -----------------------------

@settings(max_examples=8, deadline=None, derandomize=True)
@given(st.integers(1, 4), side, st.floats(0.05, 0.45), st.floats(-0.03, 0.03))
def test_isolated_lp_is_continuous_across_a_bracket_edge_and_equals_the_closed_form(edge_k, s, dist, off):
    mark = MARKS["BTC"]
    edge = BTCUSDT.floor[edge_k]                         # 300k, 800k, 3M, 12M
    lp_edge = mark * (1 - s * dist)                      # the LP at which Q·LP hits the edge
    q = edge / lp_edge
    entry = mark * (1 + off)
    mmr, cum = BTCUSDT.rate_and_cum(edge)                # continuous at the edge: either tier works
    m_edge = q * lp_edge * mmr - cum - s * q * (lp_edge - entry)
    assume(m_edge > 0.02 * q * mark)
    margins = np.linspace(0.85 * m_edge, 1.15 * m_edge, 241)
    pf = portfolio([{"id": f"m{j}", "venue": "binance-usdm", "mode": "isolated",
                     "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": s * q, "entry": entry,
                                    "margin": float(m)}]} for j, m in enumerate(margins)],
                   market={"BTC": {"mark": mark, "vol": 0.5}})
    res = analyze_margin(pf)
    assume(not any(r.liquidatable_now for r in res))
    lps = np.array([r.positions[0].liquidation_price for r in res], dtype=float)
    assert np.all(np.isfinite(lps))
    # the sweep really crosses the edge
    notionals = q * lps
    assert notionals.min() < edge < notionals.max()
    # Lipschitz: |dLP/dm| = 1/(Q·|MMR − side|) ≤ 1/(Q·(1 − max MMR of the tiers touched))
    k_lo, k_hi = BTCUSDT.tier_index(notionals.min()), BTCUSDT.tier_index(notionals.max())
    lip = 1.0 / (q * (1.0 - BTCUSDT.mmr[min(k_lo, k_hi): max(k_lo, k_hi) + 1].max()))
    assert np.all(np.abs(np.diff(lps)) <= lip * np.diff(margins) * (1 + 1e-7))
    # and monotone in the margin (long LP falls, short LP rises)
    assert np.all(s * np.diff(lps) < 0)
    for m, lp in zip(margins, lps):
        closed = binance.usdm_liquidation_price(float(m), 0.0, 0.0, both=(s * q, entry), table=BTCUSDT, mark=mark)
        assert lp == pytest.approx(closed, rel=REL)


# ---- 4. two-asset cross accounts equal the Binance closed form ----------------------------------

@FAST
@given(side, st.floats(2e4, 6e6), offset, side, st.floats(2e4, 6e6), offset, st.floats(2.0, 30.0),
       st.sampled_from(["BTC", "ETH"]))
def test_cross_boundary_equals_binance_closed_form_with_other_positions_folded_into_the_wallet(
        s_b, n_b, o_b, s_e, n_e, o_e, lev, axis):
    btc = {"symbol": "BTCUSDT", "kind": "perp", "size": s_b * n_b / MARKS["BTC"], "entry": MARKS["BTC"] * (1 + o_b)}
    eth = {"symbol": "ETHUSDT", "kind": "perp", "size": s_e * n_e / MARKS["ETH"], "entry": MARKS["ETH"] * (1 + o_e)}
    wallet = (n_b + n_e) / lev
    res = analyze_margin(_cross("binance-usdm", "USDT", [btc, eth], wallet))[0]
    assume(not res.liquidatable_now)
    this, other = (btc, eth) if axis == "BTC" else (eth, btc)
    o_und = "ETH" if axis == "BTC" else "BTC"
    o_table = ETHUSDT if axis == "BTC" else BTCUSDT
    o_notional = abs(other["size"]) * MARKS[o_und]
    tmm_other = float(o_table.maintenance_margin(o_notional))
    upnl_other = other["size"] * (MARKS[o_und] - other["entry"])
    closed = binance.usdm_liquidation_price(wallet, tmm_other, upnl_other, both=(this["size"], this["entry"]),
                                            table=BTCUSDT if axis == "BTC" else ETHUSDT, mark=MARKS[axis])
    down, up = res.liquidation[axis]["down"], res.liquidation[axis]["up"]
    engine, beyond = (down, up) if this["size"] > 0 else (up, down)
    assert beyond is None                                   # one boundary per linear position
    if closed is None or closed < MARKS[axis] * 1e-4:
        assert engine is None
    else:
        assert engine == pytest.approx(closed, rel=REL)
        pos = res.positions[0 if axis == "BTC" else 1]
        assert pos.liquidation_price == pytest.approx(closed, rel=REL)


# ---- 5. equity − MM ≈ 0 at every reported boundary -----------------------------------------------

@FAST
@given(cross_accounts())
def test_equity_equals_maintenance_margin_at_every_reported_boundary(acct):
    venue, ccy, positions, wallet = acct
    pf = _cross(venue, ccy, positions, wallet)
    res = analyze_margin(pf)[0]
    assume(not res.liquidatable_now)
    cp = CompiledPortfolio(pf)
    for und, b in res.liquidation.items():
        for x in (b["down"], b["up"]):
            if x is None:
                continue
            eq, mm = cp.curve(0, und, [x])
            # scale: the account's gross notional at the boundary in the settlement unit
            gross = _gross(positions, venue) * (MARKS["BTC"] / x if venue == "binance-coinm" else 1.0)
            assert abs(eq[0] - mm[0]) <= 1e-9 * gross + 1e-12
            # and just inside the boundary the account is healthy, just outside it is not
            inside = x * (1.0 + 1e-6 if x < MARKS[und] else 1.0 - 1e-6)
            outside = x * (1.0 - 1e-6 if x < MARKS[und] else 1.0 + 1e-6)
            e_in, m_in = cp.curve(0, und, [inside])
            e_out, m_out = cp.curve(0, und, [outside])
            assert e_in[0] > m_in[0] and e_out[0] < m_out[0]
