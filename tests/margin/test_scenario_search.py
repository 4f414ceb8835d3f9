"""The certified scan of scenario (portfolio-margin) pools (kernel._scen_nearest): the same
nearest boundaries, bit for bit, as the plain scan of every grid point (nearest_boundaries_scan_nb)
on randomised Deribit, OKX, Bybit, SPAN and Binance books; the NumPy reference of the search
(reference.nearest_boundaries) within the tolerance derived below; its interval bounds and its
scenario pruning hold against a dense NumPy evaluation; and the nearest boundaries against a
dense scan across the kinks where the worst scenario changes."""
import numpy as np
import pytest

from tests.builders import portfolio
from liqrisk.margin import kernel as K
from liqrisk.margin import reference
from liqrisk.margin.account import CompiledPortfolio

MARK, ETH = 91_250.0, 3_050.0
MARKET = {"BTC": {"mark": MARK, "vol": 0.55}, "ETH": {"mark": ETH, "vol": 0.7}}
EXPIRIES = ["2026-11-27T08:00:00Z", "2026-12-25T08:00:00Z", "2027-03-26T08:00:00Z"]
VENUES = ["deribit", "okx", "bybit-linear", "span", "binance-usdm"]


def _option(rng, und, mark):
    return {"underlying": und, "kind": "option", "entry": 0.02, "expiry": str(rng.choice(EXPIRIES)),
            "strike": float(np.round(mark * rng.choice([0.75, 0.85, 0.95, 1.0, 1.1, 1.2, 1.35]), -1)),
            "type": str(rng.choice(["call", "put"])), "size": float(rng.choice([-1, 1]) * rng.uniform(0.1, 3))}


def _random_account(venue, seed, collateral_usd, name="r"):
    """One portfolio-mode account on ``venue``: up to 9 options and futures on BTC (and ETH where
    the venue nets several underlyings in one account)."""
    rng = np.random.default_rng(seed)
    unds = [("BTC", MARK)] + ([("ETH", ETH)] if venue in ("okx", "bybit-linear") else [])
    positions, pm = [], None
    for _ in range(9):
        und, mark = unds[rng.integers(len(unds))]
        if venue == "binance-usdm" or rng.random() < 0.3:
            size = float(rng.choice([-1, 1]) * rng.uniform(0.1, 2) * MARK / mark)
            if venue == "deribit":
                positions.append({"symbol": "BTC-PERPETUAL", "kind": "perp", "entry": mark, "size": size * mark})
            elif venue == "span":
                positions.append({"symbol": f"BTC{rng.choice(['Z6', 'H7', 'M7'])}", "underlying": "BTC",
                                  "kind": "future", "expiry": "2027-06-25T00:00:00Z", "entry": mark, "size": size})
            elif venue == "binance-usdm":
                inverse = rng.random() < 0.5
                positions.append({"symbol": "BTCUSD_PERP" if inverse else "BTCUSDT", "kind": "perp",
                                  "entry": mark * rng.uniform(0.9, 1.1), "size": size * mark if inverse else size})
            else:
                sym = {"okx": f"{und}-USDT-SWAP", "bybit-linear": f"{und}USDT"}[venue]
                positions.append({"symbol": sym, "underlying": und, "kind": "perp", "entry": mark, "size": size})
        else:
            positions.append(_option(rng, und, mark))
    seen = set()
    positions = [p for p in positions if (k := (p.get("symbol"), p["kind"], p.get("expiry"), p.get("strike"),
                                                p.get("type"), p.get("underlying"))) not in seen and not seen.add(k)]
    if venue == "deribit":
        collateral = {"BTC": collateral_usd / MARK}
    elif venue == "span":
        collateral = {"USD": collateral_usd}
        pm = {"price_scan_range": {"BTC": 0.12 * MARK}, "volatility_scan_range": {"BTC": 0.05}}
    elif venue == "binance-usdm":
        collateral = {"USDT": collateral_usd / 2, "BTC": collateral_usd / 2 / MARK}
    else:
        collateral = {"USDT": collateral_usd}
        pm = {"mr1_vol_shock_up": 0.3, "mr1_vol_shock_down": 0.2} if venue == "okx" else None
    v = {"name": venue, "portfolio_margin": pm} if pm else venue
    return {"id": name, "venue": v, "mode": "portfolio", "collateral": collateral, "positions": positions}


def _random_book(venue, seed, collateral_usd):
    return portfolio([_random_account(venue, seed, collateral_usd)], market=MARKET)


def _pairs(cp):
    pairs = [(p, ax) for plan in cp.plans for p in plan.pools for ax in sorted(plan.pool_axes[p])
             if cp.arrays.pos_end[p] > cp.arrays.pos_start[p]]
    return np.array([p for p, _ in pairs], np.int64), np.array([ax for _, ax in pairs], np.int64)


def _same(x, y):
    return np.array_equal(x, y, equal_nan=True)


@pytest.mark.parametrize("venue", VENUES)
@pytest.mark.parametrize("seed", range(5))
def test_certified_scan_finds_the_plain_scans_boundaries_bit_for_bit(venue, seed):
    # at the mark and at moved markets (some accounts liquidatable there: the search from f ≤ 0),
    # on the fine and the coarse grid: the same down, up and now, to the last bit
    pf = _random_book(venue, seed, [8_000.0, 20_000.0, 60_000.0][seed % 3])
    cp = CompiledPortfolio(pf)
    pools, axes = _pairs(cp)
    args = cp.arrays.args()
    boundable = [K._scen_boundable(p, ax, args) for p, ax in zip(pools, axes)]
    assert all(boundable) == (venue != "binance-usdm")      # Binance's net-equity haircut: plain scan
    for scale in (0.7, 1.0, 1.4):
        prices = cp.market.prices * scale
        for coarse, fine in ((K.coarse_grid(), K.fine_grid()), (K.coarse_grid(), K.coarse_grid())):
            new = K.nearest_boundaries_nb(pools, axes, prices, True, coarse, fine, args)
            old = K.nearest_boundaries_scan_nb(pools, axes, prices, True, coarse, fine, args)
            for x, y in zip(new, old):
                assert _same(x, y), (venue, seed, scale, x, y)


def test_certified_scan_is_bit_identical_on_many_accounts_of_one_book():
    # many accounts in one call (the parallel chunks, a work row wide enough for every pool)
    accounts = [_random_account(v, s, 10_000.0 * (1 + s % 4), f"{v}-{s}") for v in ("deribit", "okx", "span")
                for s in range(6)]
    cp = CompiledPortfolio(portfolio(accounts, market=MARKET))
    pools, axes = _pairs(cp)
    args = cp.arrays.args()
    new = K.nearest_boundaries_nb(pools, axes, cp.market.prices, True, K.coarse_grid(), K.fine_grid(), args)
    old = K.nearest_boundaries_scan_nb(pools, axes, cp.market.prices, True, K.coarse_grid(), K.fine_grid(), args)
    assert all(_same(x, y) for x, y in zip(new, old))
    assert np.isfinite(new[0]).sum() + np.isfinite(new[1]).sum() > len(pools) // 2


def _slope(a, p, ax, prices, x):
    """|d(equity − MM)/dx| at x from the NumPy reference (central difference)."""
    h = 1e-6 * x
    rows = np.tile(prices, (2, 1))
    rows[:, ax] = x - h, x + h
    eq, mm = reference.pools_states(a, [p], rows)
    return abs((eq - mm)[1, 0] - (eq - mm)[0, 0]) / (2 * h)


@pytest.mark.parametrize("venue", VENUES[:4])
def test_nearest_boundaries_agree_with_the_numpy_reference(venue):
    # Tolerance: the kernel's root lies in a bracket of width ≤ 1e-12·x around a sign change of its
    # equity − MM, the reference's in one of ≤ 1e-13·x around a sign change of its own; the two
    # functions differ by at most δ (the kernel-vs-reference agreement of equity and MM, 1e-12 of
    # their size + 1e-7 USD, as the pool-state tests check), which moves a root by ≤ δ/|f'|.
    checked = 0
    for seed in range(8):
        accounts = [_random_account(venue, seed, collateral, f"r{collateral:g}") for collateral in (2e3, 1e4, 4e4)]
        cp = CompiledPortfolio(portfolio(accounts, market=MARKET))
        pools, axes = _pairs(cp)
        a, prices = cp.arrays, cp.market.prices
        down, up, now = K.nearest_boundaries_nb(pools, axes, prices, True, K.coarse_grid(), K.fine_grid(), a.args())
        for k, (p, ax) in enumerate(zip(pools, axes)):
            grid = K.fine_grid() if a.dense[p] else K.coarse_grid()
            ref = reference.nearest_boundaries(a, p, ax, prices, grid)
            assert now[k] == ref[2]
            for x, r in zip((down[k], up[k]), ref[:2]):
                assert np.isnan(x) == np.isnan(r)
                if np.isnan(x):
                    continue
                rows = np.tile(prices, (1, 1))
                rows[0, ax] = r
                eq, mm = reference.pools_states(a, [p], rows)
                delta = 1e-12 * (abs(eq[0, 0]) + abs(mm[0, 0])) + 1e-7
                assert abs(x - r) <= 1.1e-12 * r + delta / _slope(a, p, ax, prices, r), (venue, seed, x, r)
                checked += 1
        if checked >= 4:
            break
    assert checked >= 4


@pytest.mark.parametrize("venue", VENUES[:4])
@pytest.mark.parametrize("seed", range(3))
def test_interval_bounds_and_scenario_pruning_hold_on_a_dense_numpy_scan(venue, seed):
    # the certificate: on [x_a, x_b] the NumPy reference's equity − MM lies within the bounds the
    # kernel derives from its two end rows (up to the rounding margin), and the worst scenario of
    # every dense point is among those the pruning keeps
    cp = CompiledPortfolio(_random_book(venue, seed, 20_000.0))
    a = cp.arrays
    args = a.args()
    p, ax = cp.plans[0].cross_pool, 0
    prices = cp.market.prices
    n_units = K._n_units(p, args)
    n_s = a.sc_end[p] - a.sc_start[p]
    width = K._scen_row_width(np.array([p]), 0, 1, args)
    b0, d0 = np.empty(64), np.empty(64)
    every = np.ones(n_units * n_s, bool)
    c, slope = K._legs_line(p, ax, prices, True, args)
    lanes = K._lane_buffer(a.pos_end[p] - a.pos_start[p], n_s)
    rng = np.random.default_rng(seed)
    for _ in range(12):
        xa = MARK * np.exp(rng.uniform(-1.5, 1.5))
        xb = xa * np.exp(rng.choice([0.003, 0.03, 0.3, 1.0]))
        ra, rb = np.zeros(width), np.zeros(width)
        for x, row in ((xa, ra), (xb, rb)):
            K._scen_point(p, ax, x, prices, c, slope, n_units, args, row, b0, d0, every, lanes)
        lo, hi = K._scen_bounds(ra, rb, p, n_units, args, every)
        tol = K._CERT_REL * max(ra[K._MAG], rb[K._MAG])
        xs = np.linspace(xa, xb, 1_001)
        rows = np.tile(prices, (len(xs), 1))
        rows[:, ax] = xs
        eq, mm = reference.pools_states(a, [p], rows)
        gap = (eq - mm)[:, 0]
        assert np.all(gap >= lo - tol) and np.all(gap <= hi + tol), (venue, seed, xa, xb, lo, gap.min())
        active = np.empty(n_units * n_s, bool)
        K._scen_active(ra, rb, p, n_units, args, every, active)
        for u, unit in enumerate(reference.scenario_units(a, p, rows, 0.0)):
            losses = -unit["pnl"]
            worst = losses.max(axis=1)
            kept = active[u * n_s:(u + 1) * n_s]
            # every scenario left out is below the worst by more than the margin at every point
            assert np.all(losses[:, ~kept] < np.maximum(worst, 0.0)[:, None] - 0.5 * tol)


def _dense_crossings(cp, grid):
    eq, mm = cp.curve(0, "BTC", grid)
    gap = eq - mm
    return np.nonzero(np.sign(gap[1:]) != np.sign(gap[:-1]))[0]


@pytest.mark.parametrize("venue", VENUES[:4])
@pytest.mark.parametrize("seed", range(4))
def test_nearest_boundaries_match_a_dense_scan_across_kinks(venue, seed):
    # books whose worst scenario changes along the scanned range (MM has kinks there) and that
    # are not liquidatable at the mark: the nearest dense crossing below and above the mark
    # brackets the nearest boundary found (a 60,001-point scan of ±4 in log-price)
    from liqrisk.margin.scenario import risk_matrix
    grid = MARK * np.exp(np.linspace(-4.0, 4.0, 60_001))
    for s in range(10 * seed, 10 * seed + 10):
        cp = CompiledPortfolio(_random_book(venue, s, [12_000.0, 30_000.0][s % 2]))
        res = cp.margin_results()[0]
        p = cp.plans[0].cross_pool
        prices = cp.market.prices.copy()
        worst = set()
        for x in grid[::3_000]:
            prices[0] = x
            worst.add(risk_matrix(cp.arrays, p, prices)["units"][0]["worst_index"])
        if res.liquidatable_now or len(worst) < 2:
            continue
        cross = _dense_crossings(cp, grid)
        below = [k for k in cross if grid[k + 1] <= MARK]
        above = [k for k in cross if grid[k] >= MARK]
        liq = res.liquidation["BTC"]
        for side, ks in (("down", below[-1:]), ("up", above[:1])):
            found = liq[side]
            if not ks:
                assert found is None or not grid[0] <= found <= grid[-1]
                continue
            k = ks[0]
            assert found is not None and grid[k] <= found <= grid[k + 1], (venue, s, side, found, grid[k])
        return
    raise AssertionError(f"no {venue} book with kinks among seeds {10 * seed}…{10 * seed + 9}")
