"""The margin kernel against its NumPy reference on randomised books of every registered rule
set, and one contract every rule set must satisfy: IM ≥ MM ≥ 0; equity = MM at every reported
boundary; more collateral never moves a boundary closer; a larger size never moves it further."""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from liqrisk.load import parse_portfolio
from liqrisk.margin import kernel as K
from liqrisk.margin.account import CompiledPortfolio
from liqrisk.margin.base import INVERSE
from liqrisk.margin.reference import pools_states
from liqrisk.margin.registry import RULE_SETS

MARKS = {"BTC": 91_250.0, "ETH": 3_050.0}
# every rule set, and every portfolio-margin (scenario) mode of a cross/isolated rule set
VENUES = sorted(RULE_SETS) + sorted(f"{v}/portfolio" for v, cls in RULE_SETS.items()
                                    if cls.supports_portfolio and v != "span")


def _position(venue: str, size: float, entry_rel: float, kind: str = "perp") -> dict:
    """One BTC position in the venue's own terms: linear in BTC, inverse in USD face."""
    e = MARKS["BTC"] * entry_rel
    face = round(size * MARKS["BTC"] / 100) * 100 or 100.0 * np.sign(size)
    if kind == "option":            # Deribit, and every portfolio-margin mode
        return {"kind": "option", "underlying": "BTC", "expiry": "2026-12-25T08:00:00Z",
                "strike": round(e, -3), "type": "call" if size > 0 else "put", "size": -abs(size),
                "entry": 0.01}
    if venue == "deribit":
        return {"kind": "future", "underlying": "BTC", "expiry": "2026-12-25T08:00:00Z",
                "size": face, "entry": e}
    if venue == "span":
        return {"symbol": "BTCZ6", "underlying": "BTC", "kind": "future", "expiry": "2026-12-25T08:00:00Z",
                "size": size, "entry": e}
    symbol = {"binance-coinm": "BTCUSD_PERP", "bitmex": "XBTUSD", "bybit-inverse": "BTCUSD",
              "hyperliquid": "BTC", "okx": "BTC-USDT-SWAP", "kraken-futures": "PF_XBTUSD", "gate": "BTC_USDT",
              "kucoin": "XBTUSDTM"}.get(venue, "BTCUSDT")
    pos = {"symbol": symbol, "kind": "perp", "size": size, "entry": e}
    if RULE_SETS[venue].settles_in_coin:
        pos["size"] = face
    return pos


def _rules(venue: str):
    """The rule-set class of a VENUES entry."""
    return RULE_SETS[venue.partition("/")[0]]


def _collateral(venue: str, usd: float) -> dict:
    if RULE_SETS[venue].settles_in_coin:
        return {"BTC": usd / MARKS["BTC"]}
    return {{"hyperliquid": "USDC", "kraken-futures": "USD", "span": "USD"}.get(venue, "USDT"): usd}


def _book(venue, sizes, entries, usd, kinds=None):
    """A cross account on ``venue`` ("name/portfolio": its portfolio margin); for a lending
    protocol a loan: ``usd`` of ETH and BTC supplied, |sizes[0]|/3.2 × entries[0]/1.2 of it
    borrowed in the protocol's stable coin."""
    venue, _, pm = venue.partition("/")
    if RULE_SETS[venue].is_loan:
        debt = "DAI" if venue == "maker" else "USDC"
        coins = {"ETH": usd / MARKS["ETH"]} if venue == "maker" else \
            {"ETH": 0.6 * usd / MARKS["ETH"], "BTC": 0.4 * usd / MARKS["BTC"]}
        account = {"supplied": coins, "borrowed": {debt: usd * abs(sizes[0]) / 3.2 * entries[0] / 1.2}}
    else:
        with_options = venue == "deribit" or (pm and venue != "binance-usdm")   # Binance PM: futures
        kinds = (kinds if with_options else None) or ["perp"] * len(sizes)
        positions = [_position(venue, s, e, k) for s, e, k in zip(sizes, entries, kinds)]
        # one-way mode: one position per contract
        key = lambda p: (p["kind"], p.get("strike"), p.get("type"))
        positions = list({key(p): p for p in reversed(positions)}.values())[::-1]
        if venue != "deribit" and not pm:
            positions = positions[:1]
        account = {"mode": pm or "cross", "collateral": _collateral(venue, usd), "positions": positions}
        if venue == "span":                # a scenario-margin rule set: portfolio mode, its scan range
            account |= {"mode": "portfolio", "venue": {"name": "span", "portfolio_margin":
                                                       {"price_scan_range": {"BTC": 9000, "ETH": 400}}}}
    doc = {"as_of": "2026-11-23T00:00:00Z",
           "market": {"BTC": {"mark": MARKS["BTC"], "vol": 0.55}, "ETH": {"mark": MARKS["ETH"], "vol": 0.7}},
           "accounts": [{"id": "a", "venue": venue} | account]}
    return CompiledPortfolio(parse_portfolio(doc))


books = st.tuples(st.sampled_from(VENUES),
                  st.lists(st.floats(-3, 3).filter(lambda x: abs(x) > 0.01), min_size=1, max_size=3),
                  st.lists(st.floats(0.8, 1.2), min_size=3, max_size=3),
                  st.floats(2_000, 200_000), st.lists(st.sampled_from(["future", "option"]), min_size=3, max_size=3))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book=books, shocks=st.lists(st.floats(-1.5, 1.5), min_size=8, max_size=8), t=st.floats(0, 0.05))
def test_kernel_pool_state_agrees_with_the_numpy_reference_on_random_books(book, shocks, t):
    venue, sizes, entries, usd, kinds = book
    cp = _book(venue, sizes, entries, usd, kinds)
    a = cp.arrays
    prices = cp.market.prices * np.exp(np.array(shocks).reshape(4, 2))
    pools = np.arange(len(a.pos_start), dtype=np.int64)
    eq_nb, mm_nb = K.pools_states_nb(pools, prices, t, a.args())
    eq_np, mm_np = pools_states(a, pools, prices, t)
    # both sum the same terms in the same order; they differ by rounding of the individual
    # terms (ulps) and the Black-76 implementations (≤ 1e-11 relative): scale by the gross size
    gross = np.abs(a.const_usd[pools]) + np.array(
        [sum(abs(a.qty[i]) * (1.0 if a.contract[i] == INVERSE else prices[:, a.axis[i]].max())
             for i in range(a.pos_start[p], a.pos_end[p])) for p in pools])
    np.testing.assert_allclose(eq_nb, eq_np, rtol=0, atol=1e-10 * gross.max() + 1e-9)
    np.testing.assert_allclose(mm_nb, mm_np, rtol=0, atol=1e-10 * gross.max() + 1e-9)


def _loan_with_more_collateral(venue, size, entry, usd, more):
    """The same debt with ``more`` times the supplied coins."""
    return _book(venue, [size / more], [entry] * 3, usd * more).margin_results()[0]


def _bounds(res):
    return {u: (b["down"], b["up"]) for u, b in res.liquidation.items()}


contract_books = st.tuples(st.sampled_from(VENUES), st.floats(-3, 3).filter(lambda x: abs(x) > 0.05),
                           st.floats(0.9, 1.1), st.floats(3, 40))


@pytest.mark.parametrize("venue", VENUES)
def test_every_rule_set_is_registered_with_a_sample_book(venue):
    res = _book(venue, [1.0], [1.0, 1.0, 1.0], 30_000).margin_results()[0]
    assert (res.positions or _rules(venue).is_loan) and res.maintenance_margin > 0


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book=contract_books, more=st.floats(1.05, 3.0), k=st.floats(1.05, 3.0))
def test_every_rule_set_satisfies_the_margin_contract(book, more, k):
    venue, size, entry, lev = book
    usd = abs(size) * MARKS["BTC"] / lev
    cp = _book(venue, [size], [entry] * 3, usd)
    r = cp.margin_results()[0]
    # IM ≥ MM ≥ 0 (per position and in total); lending protocols have no initial margin (their
    # borrow limit plays that part): MM ≥ 0 there
    for p in r.positions:
        assert p.initial_margin >= p.maintenance_margin * (1 - 1e-12) >= 0
    assert r.maintenance_margin >= 0
    assert _rules(venue).is_loan or r.initial_margin >= r.maintenance_margin
    # equity = MM at every reported boundary (relative to the gross notional there)
    for und, xs in r.boundaries.items():
        for x in xs:
            eq, mm = cp.curve(0, und, [x])
            # the root is refined to 1e-12 relative in price: |d(eq − MM)/dP|·δP ≲ gross·1e-12
            coin = _rules(venue).settles_in_coin
            gross = sum(abs(pp.size) * (x if not coin else 1.0 if pp.kind == "option" else 1 / x)
                        for pp in r.positions) + abs(eq[0])
            assert abs(eq[0] - mm[0]) <= 1e-9 * gross, (venue, x, eq, mm)
    axis = "ETH" if _rules(venue).is_loan else "BTC"
    mark = MARKS[axis]
    b0 = _bounds(r)[axis]
    richer = _bounds(_book(venue, [size], [entry] * 3, usd * more).margin_results()[0])[axis]
    bigger = _book(venue, [size * k], [entry] * 3, usd).margin_results()[0]
    if _rules(venue).is_loan:
        # a loan's "more collateral" keeps the debt: scale the supplied coins, not both
        richer = _bounds(_loan_with_more_collateral(venue, size, entry, usd, more))[axis]
    for side in (0, 1):
        x0, x1, x2 = b0[side], richer[side], _bounds(bigger)[axis][side]
        if x0 is None or r.liquidatable_now:
            continue
        # more collateral: never closer to the mark (or the boundary disappears)
        assert x1 is None or abs(math.log(x1 / mark)) >= abs(math.log(x0 / mark)) * (1 - 1e-9)
        # larger size: never further (or liquidatable now)
        if not bigger.liquidatable_now:
            assert x2 is not None and abs(math.log(x2 / mark)) <= abs(math.log(x0 / mark)) * (1 + 1e-9) + 1e-12
