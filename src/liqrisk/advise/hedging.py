"""Delta-hedging back-test with margin accounting: an option position — or the options and
futures of one account of a portfolio file — hedged with the venue's perp (or the spot coin) at
a fixed frequency or when its delta leaves a band, on simulated or real paths, with the venue's
margin recomputed for the whole account at every step.

Accounting (USD, per path): the cash account starts at the collateral plus the premium of the
option position (a book: the account's stable collateral) and accrues at ``rate``
(continuously compounded). A rebalance trades the hedge to minus the book's delta — Σ over its
options of contracts × Black–Scholes spot delta at the option's own vol (the vol the margin
engine values it with), plus the fixed delta of its futures and perps — rounded to the lot,
paying the taker fee on the traded notional. A spot hedge pays for the coins from cash (Hull's
set-up); a perp hedge settles its P&L into cash at each rebalance and pays funding ``size ×
price × rate`` at each funding time. At every monitoring step the account — cash as stable
collateral, the book's coin collateral, every option repriced with its time left, the futures,
the hedge — is evaluated with the margin engine's position functions (the body of
:func:`~liqrisk.margin.kernel.pool_state_nb`, Deribit standard margin by default): margin ratio MM/equity; a margin call when
it reaches ``call_level``; a liquidation when equity ≤ MM, which closes everything at the
engine's values less the venue's liquidation fee on the closed notional. P&L = the equity at
the horizon (the first option expiry; later options at their value then) less the starting
equity grown at ``rate``, both without the coin collateral's own price move (it is not hedged).

References the tests reproduce: the hedging error of a delta-hedged option rebalanced N times
has std ≈ √(π/4)·vega·σ/√N (Derman & Kamal 1999, vega per 1.00 vol); Hull's worked weekly path
(Options, Futures and Other Derivatives, "simulation of delta hedging": cost $263.3k); a book's
P&L is the sum of its options' P&Ls on the same paths (no fees, lots or liquidation).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

import numpy as np
from numba import njit

import liqrisk._jitcache  # noqa: F401,E402  (before any cached kernel: see its docstring)

from liqrisk.advise.funding import FundingModel, FundingSchedule
from liqrisk.io import limits
from liqrisk.margin.base import INVERSE, INVERSE_OPTION, LINEAR
from liqrisk.margin import kernel as K
from liqrisk.margin.kernel import pool_state_nb
from liqrisk.results import Result, plain
from liqrisk.pricing.kernels import black76_delta_nb

MODELS = ("gbm", "merton", "student", "fhs", "history")
MAX_EXPIRY_DAYS = 3650.0   # ten years: beyond any listed option
MIN_EXPIRY_DAYS = 1 / 1440  # one minute: shorter, the expiry (as_of + days, whole microseconds) was as_of itself
LOT_MIN = 1e-12            # smallest non-zero hedge lot (underlying units): |target| / lot stays finite
_AS_OF = datetime(2026, 1, 1, tzinfo=timezone.utc)    # the margin book's own clock (only differences matter)


@dataclass(frozen=True)
class HedgeSpec:
    """What is hedged and how. Money in USD; ``position`` signed contracts of 1 underlying unit;
    ``band`` in underlying units per contract of |position| (None: fixed frequency)."""

    spot: float
    strike: float
    expiry_days: float
    vol: float
    rate: float = 0.0
    is_call: bool = True
    position: float = -1.0
    rebalances: int = 50
    steps: int | None = None          # monitoring steps (margin checks); default = rebalances
    band: float | None = None
    hedge: str = "perp"               # perp | spot
    fee: float | None = None          # taker fee rate (default: the venue's)
    lot: float = 0.0                  # hedge size increment (0: continuous)
    funding: FundingModel | None = None
    collateral: float | None = None   # USD; default: twice the maintenance margin at the start
    call_level: float = 0.8
    liquidate: bool = True
    venue: str = "deribit"
    underlying: str = "BTC"

    @property
    def years(self) -> float:
        return self.expiry_days / 365.0

    @property
    def n_steps(self) -> int:
        return self.steps or self.rebalances


def _check(spec: HedgeSpec, book: bool = False) -> None:
    """Every number finite and in its plausible range (io.limits), one line per bad option
    (``book``: the options are a portfolio account's, checked by its loader — their net
    ``position`` may be 0, a call spread or a long and a short of one strike)."""
    from liqrisk.io.limits import AMOUNT_MAX, FUNDING_MAX, PRICE_RANGE, RATE_RANGE, VOL_RANGE, out_of_range
    from liqrisk.io.portfolio import InputError
    checks = [("--spot", spec.spot, *PRICE_RANGE, False), ("--strike", spec.strike, *PRICE_RANGE, False),
              ("--vol", spec.vol, *VOL_RANGE, False),
              ("--rate", spec.rate, *RATE_RANGE, False), ("--lot", spec.lot, 0.0, AMOUNT_MAX, False)]
    checks += [c for c in (("--fee", spec.fee, 0.0, 0.1, False), ("--collateral", spec.collateral, 0.0, AMOUNT_MAX, False))
               if c[1] is not None]
    problems = [p for p in (out_of_range(*c) for c in checks) if p]
    if not MIN_EXPIRY_DAYS <= spec.expiry_days <= MAX_EXPIRY_DAYS:    # NaN fails; 1e-300 was "expired" of an
        problems.insert(2, f"--expiry-days {spec.expiry_days:g}: must be a finite number of days from one "   # inner
                        f"minute ({MIN_EXPIRY_DAYS:.6g}) to {MAX_EXPIRY_DAYS:g}")                    # account 'hedged'
    problems += [f"--funding {r:g}: must be a finite rate per 8 h with |rate| < {FUNDING_MAX:g}"   # the file's range
                 for r in (spec.funding.rates if spec.funding else ()) if not abs(r) < FUNDING_MAX]
    if 0 < spec.lot < LOT_MIN:        # target / lot overflowed: the hedge traded once, a size of 1e-303
        problems.append(f"--lot {spec.lot:g}: must be 0 (continuous) or at least {LOT_MIN:g}")
    if not book and (spec.position == 0 or not (math.isfinite(spec.position) and abs(spec.position) <= AMOUNT_MAX)):
        problems.append(f"--position {spec.position:g}: must be a non-zero number of contracts (+ long, − short), "
                        f"at most {AMOUNT_MAX:g} in size")
    elif not book and abs(spec.position) * spec.spot > AMOUNT_MAX:     # named the inner account 'hedged' before
        problems.append(f"--position {spec.position:g}: a notional of {abs(spec.position) * spec.spot:g} USD at "
                        f"--spot {spec.spot:g}, above the supported {AMOUNT_MAX:g}")
    if spec.steps is not None and spec.steps < 1:     # 0 was falsy: the rebalance count, silently (issue 9)
        problems.append(f"--steps: must be ≥ 1 (or left out: one per rebalance), got {spec.steps}")
    elif spec.rebalances < 1:
        problems.append(f"--rebalances: must be ≥ 1, got {spec.rebalances}")
    elif spec.n_steps % spec.rebalances:
        problems.append(f"--steps {spec.n_steps}: must be a multiple of --rebalances {spec.rebalances}")
    if spec.hedge not in ("perp", "spot"):
        problems.append(f"--hedge '{spec.hedge}': expected perp or spot")
    if spec.band is not None and not (0 < spec.band <= AMOUNT_MAX):
        problems.append(f"--band {spec.band:g}: must be a finite number in (0, {AMOUNT_MAX:g}]")
    if problems:
        raise InputError(problems)


@dataclass
class MarginBook:
    """The hedged account compiled by the margin engine (one cross pool) and what the kernel
    needs of it: the hedge's row (and its coin leg for a spot hedge), the options as per-option
    arrays, the fixed delta and closed notional of the other positions, the coin collateral
    left out of the P&L, the starting cash and equity (USD)."""

    arrays: object
    pool: int
    axis: int                   # the hedged underlying's axis
    marks: np.ndarray           # prices of every axis at the start
    hedge_row: int
    hedge_inverse: bool         # the hedge's size is USD face (inverse) rather than coins
    spot_leg: int               # leg holding a spot hedge's coins (−1: none)
    options: np.ndarray         # rows of the options
    static_delta: float         # coins: the futures' and perps' delta (constant)
    coins: float                # closed notional in coins (options and linear futures)
    fixed_usd: float            # closed notional in USD (inverse futures' face)
    coin_units: float           # coin collateral on the hedged axis (left out of the P&L)
    coin_const: float           # USD value of coin collateral on other axes
    cash0: float
    equity0: float | None       # P&L base (None: the collateral, set by the run)
    liquidation_fee: float
    taker_fee: float
    info: dict = field(default_factory=dict)


def _compiled(pf, venue_hint: str):
    """(compiled portfolio, plan, cross pool) of a one-account portfolio, refusing what the
    back-test does not evaluate (scenario margin, collateral loans, isolated positions)."""
    from liqrisk.io.portfolio import InputError
    from liqrisk.margin.account import CompiledPortfolio
    cp = CompiledPortfolio(pf)
    plan = cp.plans[0]
    a, p = cp.arrays, plan.cross_pool
    if a.sc_end[p] > a.sc_start[p] or a.const_mm[p] != 0 or np.any(a.leg_mm[a.leg_start[p]:a.leg_end[p]] != 0):
        raise InputError([f"{venue_hint}: the hedge back-test evaluates standard (not portfolio or "
                          f"collateral-loan) margin"])
    if any(q != p for q in plan.position_pools):
        raise InputError([f"{venue_hint}: the hedge back-test takes a cross account (every position in the "
                          f"cross margin pool)"])
    return cp, plan, p


def _book(cp, plan, pool, und: str, hedge_row: int, spot_leg: int, cash0: float, equity0, info) -> MarginBook:
    """The kernel's view of a compiled one-account book (see :class:`MarginBook`)."""
    a = cp.arrays
    ax = cp.market.axis(und)
    rows = [r for r in plan.position_rows if r >= 0 and r != hedge_row]
    options = np.array([r for r in rows if a.contract[r] == INVERSE_OPTION], np.int64)
    others = [r for r in rows if a.contract[r] != INVERSE_OPTION]
    marks = cp.market.prices.copy()
    s0 = float(marks[ax])
    legs = [j for j in range(a.leg_start[pool], a.leg_end[pool]) if j != spot_leg]
    coin_units = sum(a.leg_amount[j] for j in legs if a.leg_axis[j] == ax)
    coin_const = sum(a.leg_amount[j] * marks[a.leg_axis[j]] for j in legs if a.leg_axis[j] != ax)
    # the other positions' delta on the hedged axis: their engine value bumped by ±0.01%
    only = replace(a, qty=np.where(np.isin(np.arange(len(a.qty)), others), a.qty, 0.0),
                   const_usd=np.zeros_like(a.const_usd), leg_amount=np.zeros_like(a.leg_amount))
    bumped = np.repeat(marks[None, :], 2, axis=0)
    bumped[0, ax] *= 1.0001
    bumped[1, ax] *= 0.9999
    eq = K.pools_states_nb(np.array([pool], np.int64), bumped, 0.0, only.args())[0][:, 0]
    static = float((eq[0] - eq[1]) / (bumped[0, ax] - bumped[1, ax]))
    coins = float(sum(abs(a.qty[r]) for r in options)
                  + sum(abs(a.qty[r] * a.basis[r]) for r in others if a.contract[r] == LINEAR))
    fixed = float(sum(abs(a.qty[r]) for r in others if a.contract[r] == INVERSE))
    rules = plan.rules
    return MarginBook(a, pool, ax, marks, hedge_row, bool(a.contract[hedge_row] == INVERSE), spot_leg, options,
                      static, coins, fixed, float(coin_units), float(coin_const), cash0, equity0,
                      rules.params.liquidation_fee, rules.params.taker_fee, info)


def margin_book(spec: HedgeSpec) -> MarginBook:
    """Option + hedge future + a coin leg (the spot hedge's) in one cross account on
    ``spec.venue``, compiled by the public pipeline (the hedge's size, the leg and the cash are
    set per path by the kernel; the cash starts at the collateral plus the premium)."""
    from liqrisk.load import parse_portfolio
    from liqrisk.pricing import black_scholes

    expiry = _AS_OF + timedelta(days=spec.expiry_days)
    premium = float(black_scholes(spec.spot, spec.strike, spec.years, spec.rate, spec.vol, spec.is_call))
    und = spec.underlying
    doc = {"as_of": _AS_OF, "market": {und: {"mark": spec.spot, "vol": spec.vol}}, "rate": spec.rate,
           "accounts": [{"id": "hedged", "venue": spec.venue, "mode": "cross", "collateral": {und: 1.0},
                         "positions": [
                             {"kind": "option", "underlying": und, "expiry": expiry, "strike": spec.strike,
                              "type": "call" if spec.is_call else "put", "size": spec.position,
                              "entry": max(premium / spec.spot, 1e-9)},
                             {"kind": "future", "underlying": und, "expiry": expiry, "size": spec.spot,
                              "entry": spec.spot}]}]}
    cp, plan, pool = _compiled(parse_portfolio(doc), f"--venue {spec.venue}")
    a = cp.arrays
    a.const_usd[pool] = 0.0
    a.leg_amount[a.leg_start[pool]] = 0.0
    return _book(cp, plan, pool, und, plan.position_rows[1], int(a.leg_start[pool]), 0.0, None, {})


def account_book(portfolio, account: str, hedge: str = "perp") -> tuple[MarginBook, dict]:
    """One cross account of a portfolio file with a hedge added on its options' underlying —
    the venue's perp where it lists one (:data:`liqrisk.advise.hedges._PERP`), else a future
    expiring with the first option — and what a :class:`HedgeSpec` takes from it: spot, the first
    expiry (the horizon), the underlying's ATM vol, the rate (``spec_fields``)."""
    from liqrisk.advise.hedges import _PERP
    from liqrisk.io.portfolio import InputError
    from liqrisk.load import load_portfolio
    from liqrisk.margin.registry import rule_set_for
    from liqrisk.model import Instrument, Portfolio, Position
    pf = load_portfolio(portfolio)
    acc = next((x for x in pf.accounts if x.id == account), None)
    if acc is None:
        raise InputError([f"--account: no account '{account}' (accounts: {', '.join(x.id for x in pf.accounts)})"])
    rules = rule_set_for(acc.venue)
    options = [p for p in acc.positions if p.kind == "option"]
    unds = sorted({rules.underlying_of(p) for p in options})
    if len(unds) != 1:
        raise InputError([f"account '{account}': the hedge back-test hedges the options of one underlying; "
                          f"it holds options on {', '.join(unds) or 'nothing'}"])
    if hedge != "perp":
        raise InputError([f"--hedge {hedge}: a portfolio account is hedged with a perp or future"])
    und = unds[0]
    expiry = min(p.expiry for p in options)
    years = (expiry - pf.as_of).total_seconds() / (365 * 86400)
    if not years > 0:
        raise InputError([f"account '{account}': its first option expired at {expiry.isoformat()}"])
    mark = pf.market.quotes[und].mark
    if rules.name in _PERP:
        probe = Position(Instrument("perp", _PERP[rules.name].format(u=und)), 1.0, mark)
        pos = replace(probe, size=mark) if rules.contract_of(probe) != LINEAR else probe
    else:
        pos = Position(Instrument("future", None, und, None, expiry), mark, mark)
    hedged = replace(acc, positions=acc.positions + (pos,))
    cp, plan, pool = _compiled(Portfolio(pf.market, (hedged,)), f"account '{account}'")
    a = cp.arrays
    row = plan.position_rows[-1]
    vol = cp.market.atm_vol(und, years)
    if not vol:
        raise InputError([f"market '{und}', field 'vol': needed for the hedge back-test"])
    start = replace(a, qty=a.qty.copy())
    start.qty[row] = 0.0
    legs = range(a.leg_start[pool], a.leg_end[pool])
    coin0 = sum(a.leg_amount[j] * cp.market.prices[a.leg_axis[j]] for j in legs)
    eq0 = float(K.pools_states_nb(np.array([pool], np.int64), cp.market.prices[None, :], 0.0, start.args())[0][0, 0])
    info = {"account": account, "venue": rules.name, "hedge": pos.symbol or f"{und} future {expiry:%Y-%m-%d}",
            "options": [{"type": p.type, "strike": p.strike, "expiry": p.expiry.isoformat(), "size": p.size}
                        for p in options],
            "other_positions": [p.symbol or f"{p.kind} {rules.underlying_of(p)}" for p in acc.positions
                                if p.kind != "option"]}
    book = _book(cp, plan, pool, und, row, -1, float(a.const_usd[pool]), eq0 - coin0, info)
    first = options[0]
    fields = dict(spot=mark, strike=first.strike, expiry_days=years * 365, vol=vol, rate=cp.market.rate,
                  is_call=first.type == "call", position=sum(p.size for p in options), venue=rules.name,
                  underlying=und)
    return book, fields


@njit(cache=True, nogil=True)
def hedge_paths_nb(incr, s0, T, r, everys, band, lot, fee, spot_hedge, f_rate, f_interval, f_first, call_level,
                   liquidate, liq_fee, pool, ax, marks, hedge_row, hedge_inverse, spot_leg, o_qty, o_strike,
                   o_expiry, o_vol, o_call, static_delta, contracts, coins, fixed_usd, coin_units, coin_const,
                   cash0, equity0, arrs, pnl, fees, funding, trades, worst, call_step, liq_step):
    """Hedge every path of ``incr`` (n_paths, n_steps) log increments once per rebalance
    interval in ``everys`` (steps between rebalances; with ``band`` > 0 the first entry's
    monitoring grid is used and a rebalance happens when |target − hedge| > band·``contracts``).
    ``arrs``: the book's arrays (``PoolArrays.args()``) with this call's own copies of
    ``const_usd``, ``qty``, ``entry`` and ``leg_amount``, where the kernel writes the path's cash,
    hedge and spot coins. Writes the (len(everys), n_paths) outputs: P&L, fees, funding paid,
    trade count, worst margin ratio, first margin-call step and liquidation step (−1: none)."""
    pool_f, pos_f, leg_f = arrs[1], arrs[3], arrs[6]
    n_paths, n_steps = incr.shape
    n_opt = o_qty.shape[0]
    dt = T / n_steps
    grow = math.exp(r * dt)
    carry = np.empty((n_steps + 1, n_opt))      # e^{rτ} per step and option (spot delta on F = S·e^{rτ})
    for k in range(n_steps + 1):
        for o in range(n_opt):
            carry[k, o] = math.exp(r * (o_expiry[o] - k * dt))
    prices = marks.copy()
    n_rates = f_rate.shape[0]
    for e in range(everys.shape[0]):
        every = everys[e]
        for p in range(n_paths):
            S = s0
            cash = cash0
            h = 0.0
            entry = s0
            fee_sum = fund_sum = 0.0
            n_tr = 0
            w = 0.0
            c_step = l_step = -1
            t_next = f_first
            nf = 0
            for k in range(n_steps + 1):
                t = k * dt
                if k < n_steps:
                    target = static_delta
                    for o in range(n_opt):
                        c = carry[k, o]
                        target += o_qty[o] * c * black76_delta_nb(S * c, o_strike[o], o_expiry[o] - t, r, o_vol[o],
                                                                  o_call[o])
                    target = -target
                    if lot > 0.0:
                        target = round(target / lot) * lot
                    if band > 0.0:
                        rebalance = k == 0 or abs(target - h) > band * contracts
                    else:
                        rebalance = k % every == 0
                else:                                   # the horizon: the hedge is closed
                    target = 0.0
                    rebalance = h != 0.0
                if rebalance and target != h:
                    trade = target - h
                    if spot_hedge:
                        cash -= trade * S
                    else:
                        cash += h * (S - entry)
                        entry = S
                    c = abs(trade) * S * fee
                    cash -= c
                    fee_sum += c
                    if k < n_steps:
                        n_tr += 1
                    h = target
                # the account on the venue's rules: the margin engine's pool state with this
                # path's cash, hedge and spot coins written into the call's own arrays
                pool_f[K.CONST_USD, pool] = cash
                pos_f[K.QTY, hedge_row] = 0.0 if spot_hedge else (h * entry if hedge_inverse else h)
                pos_f[K.ENTRY, hedge_row] = entry
                if spot_leg >= 0:
                    leg_f[K.AMOUNT, spot_leg] = h if spot_hedge else 0.0
                prices[ax] = S
                eq, mm = pool_state_nb(pool, prices, t, arrs)
                if k == n_steps:
                    pnl[e, p] = eq - coin_units * S - coin_const - equity0 * math.exp(r * T)
                    break
                ratio = mm / eq if eq > 0.0 else np.inf
                if ratio > w:
                    w = ratio
                if ratio >= call_level and c_step < 0:
                    c_step = k
                if liquidate and eq - mm <= 0.0:
                    l_step = k
                    wealth = eq - liq_fee * ((abs(h) + coins) * S + fixed_usd) - coin_units * S - coin_const
                    pnl[e, p] = wealth * math.exp(r * (T - t)) - equity0 * math.exp(r * T)
                    break
                S *= math.exp(incr[p, k])
                cash *= grow
                while t_next <= t + dt * (1.0 + 1e-9):
                    pay = h * S * f_rate[min(nf, n_rates - 1)]
                    cash -= pay
                    fund_sum += pay
                    nf += 1
                    t_next += f_interval
            fees[e, p] = fee_sum
            funding[e, p] = fund_sum
            trades[e, p] = n_tr
            worst[e, p] = w
            call_step[e, p] = c_step
            liq_step[e, p] = l_step
    return 0


def hedge_paths_numpy(incr, spec: HedgeSpec, every: int, fee: float):
    """NumPy reference of :func:`hedge_paths_nb`'s P&L, fees and trade counts (fixed frequency,
    no margin, no funding): vectorised over paths, a Python loop over steps."""
    from liqrisk.pricing import black_scholes, greeks
    n, m = incr.shape
    T, dt = spec.years, spec.years / m
    S = np.full(n, spec.spot)
    cash = np.full(n, -spec.position * float(black_scholes(spec.spot, spec.strike, T, spec.rate,
                                                             spec.vol, spec.is_call)))
    h = np.zeros(n)
    entry = S.copy()
    fees = np.zeros(n)
    trades = np.zeros(n, dtype=np.int64)
    for k in range(m):
        if k % every == 0:
            target = -spec.position * np.asarray(greeks(S, spec.strike, T - k * dt, spec.rate, spec.vol,
                                                        spec.is_call)["delta"])
            if spec.lot > 0:
                target = np.round(target / spec.lot) * spec.lot
            trade = target - h
            moved = trade != 0
            if spec.hedge == "spot":
                cash -= trade * S
            else:
                cash += np.where(moved, h * (S - entry), 0.0)
                entry = np.where(moved, S, entry)
            c = np.abs(trade) * S * fee
            cash -= c
            fees += c
            trades += moved
            h = target
        S = S * np.exp(incr[:, k])
        cash *= math.exp(spec.rate * dt)
    payoff = np.maximum(S - spec.strike, 0) if spec.is_call else np.maximum(spec.strike - S, 0)
    cash += h * S if spec.hedge == "spot" else h * (S - entry)
    close = np.abs(h) * S * fee
    return cash - close + spec.position * payoff, fees + close, trades


def derman_kamal_std(spec: HedgeSpec, rebalances: int) -> float:
    """√(π/4)·|position|·vega·σ/√N: the hedging-error std of N rebalances (Derman & Kamal 1999)."""
    from liqrisk.pricing import greeks
    vega = float(greeks(spec.spot, spec.strike, spec.years, spec.rate, spec.vol, spec.is_call)["vega"])
    return math.sqrt(math.pi / 4) * abs(spec.position) * vega * spec.vol / math.sqrt(rebalances)


@dataclass
class HedgeBacktest(Result):
    """Per-path outputs (rows: the rebalance counts of ``rebalance_counts``, first = the main
    one) and what they summarise to (``to_dict``). Money in USD."""

    spec: HedgeSpec
    model: str
    seed: int
    rebalance_counts: list[int]
    pnl: np.ndarray
    fees: np.ndarray
    funding: np.ndarray
    trades: np.ndarray
    worst_ratio: np.ndarray
    call_step: np.ndarray
    liq_step: np.ndarray
    collateral: float
    premium: float
    notes: list[str] = field(default_factory=list)
    book: dict | None = None          # the portfolio account hedged (None: the option of ``spec``)

    def to_dict(self) -> dict:
        s = self.spec
        n = self.pnl.shape[1]
        main = self.pnl[0]
        dt_days = s.expiry_days / s.n_steps
        std = float(np.std(main, ddof=1)) if n > 1 else 0.0
        calls, liqs = self.call_step[0] >= 0, self.liq_step[0] >= 0
        events = [{"path": int(p), "kind": kind, "step": int(st[p]), "day": float(st[p] * dt_days)}
                  for kind, st in (("margin_call", self.call_step[0]), ("liquidation", self.liq_step[0]))
                  for p in np.flatnonzero(st >= 0)[:20]]
        hist, edges = np.histogram(main, bins=60)
        one = self.book is None or len(self.book["options"]) == 1
        return plain({
            "model": self.model, "seed": self.seed, "paths": n, "currency": "USD",
            "option": {"type": "call" if s.is_call else "put", "spot": s.spot, "strike": s.strike,
                       "expiry_days": s.expiry_days, "vol": s.vol, "rate": s.rate, "position": s.position,
                       "premium": self.premium} if self.book is None else None,
            "book": self.book, "horizon_days": s.expiry_days,
            "hedge": {"instrument": s.hedge, "venue": s.venue, "rebalances": s.rebalances,
                      "monitoring_steps": s.n_steps, "band": s.band, "lot": s.lot, "collateral": self.collateral},
            "pnl_mean": float(np.mean(main)), "pnl_std": std,
            "pnl_mean_stderr": std / math.sqrt(n) if n > 1 else None,
            "pnl_std_stderr": _std_stderr(main),
            "derman_kamal_std": derman_kamal_std(s, s.rebalances) if one else None,
            "pnl_quantiles": {str(q): float(np.quantile(main, q)) for q in (0.01, 0.05, 0.5, 0.95, 0.99)},
            "pnl_histogram": {"edges": edges.tolist(), "counts": hist.tolist()},
            "transaction_costs_mean": float(np.mean(self.fees[0])),
            "funding_paid_mean": float(np.mean(self.funding[0])),
            "trades_mean": float(np.mean(self.trades[0])),
            "margin_calls": {"paths": int(calls.sum()), "fraction": float(calls.mean())},
            "liquidations": {"paths": int(liqs.sum()), "fraction": float(liqs.mean()),
                             "median_day": float(np.median(self.liq_step[0][liqs]) * dt_days) if liqs.any() else None},
            "worst_margin_ratio": {"max": float(np.max(self.worst_ratio[0])),
                                   "median": float(np.median(self.worst_ratio[0])),
                                   "q99": _ratio_quantile(self.worst_ratio[0], 0.99)},
            "events": events,
            "hedging_error_vs_rebalances": [
                {"rebalances": N, "pnl_std": float(np.std(self.pnl[i], ddof=1)) if n > 1 else 0.0,
                 "pnl_mean": float(np.mean(self.pnl[i])), "derman_kamal_std": derman_kamal_std(s, N) if one else None,
                 "transaction_costs_mean": float(np.mean(self.fees[i]))}
                for i, N in enumerate(self.rebalance_counts)],
            "notes": self.notes})


def _ratio_quantile(ratio: np.ndarray, q: float) -> float:
    """Quantile of margin ratios (MM / equity, ≥ 0, +inf on a path whose equity reached 0):
    +inf where NumPy's interpolation meets +inf (it returns NaN there: inf − inf, inf · 0)."""
    with np.errstate(invalid="ignore"):
        v = float(np.quantile(ratio, q))
    return math.inf if math.isnan(v) and not np.isnan(ratio).any() else v


def hedged_text(d: dict) -> str:
    """What a back-test document (:meth:`HedgeBacktest.to_dict`) hedged, for people: the option
    (its ``option`` block) or the portfolio account (its ``book`` block; ``option`` is null)."""
    o, b = d["option"], d["book"]
    if b is None:
        return f"{o['position']:+g} {o['type']} K={o['strike']:g} ({o['expiry_days']:g}d, σ={o['vol']:g})"
    return f"account '{b['account']}' ({len(b['options'])} options, {d['horizon_days']:.3g}d)"


def worst_ratio_text(ratio: float | None) -> str:
    """A worst margin ratio for people: JSON carries +inf (equity reached 0) as null."""
    return "∞ (equity reached 0)" if ratio is None or ratio == math.inf else f"{ratio:.3f}"


def _std_stderr(x: np.ndarray) -> float | None:
    """Standard error of the sample standard deviation: s·√((κ − 1)/(4n)), κ the kurtosis
    (delta method; κ = 3 gives the normal s/√(2n))."""
    n = len(x)
    if n < 4:
        return None
    c = x - x.mean()
    m2 = np.mean(c ** 2)
    if m2 == 0:
        return 0.0
    kurt = np.mean(c ** 4) / m2 ** 2
    return float(math.sqrt(m2) * math.sqrt(max(kurt - 1.0, 0.0) / (4 * n)))


def _counts(spec: HedgeSpec, curve: bool) -> list[int]:
    """The main rebalance count, then (``curve``) coarser ones on the same grid (÷2, ÷4, …) for the
    hedging-error curve (fixed frequency only)."""
    if spec.band is not None or not curve:
        return [spec.rebalances]
    out = [spec.rebalances]
    n = spec.rebalances
    while n % 2 == 0 and n // 2 >= 1 and len(out) < 5:
        n //= 2
        out.append(n)
    return out


def _path_model(name: str, spec: HedgeSpec, drift: float):
    """(PathModel, substeps per monitoring step) for a simulated model name."""
    from liqrisk.analysis import MERTON_DEFAULTS, STUDENT_NU
    from liqrisk.dynamics import paths
    if name == "gbm":
        return paths.gbm(spec.vol, mu=drift), 1
    if name == "student":
        return paths.student_t(spec.vol, STUDENT_NU, mu=drift), 1
    if name == "merton":
        return paths.merton(spec.vol, MERTON_DEFAULTS["intensity"], MERTON_DEFAULTS["jump_mean"],
                            MERTON_DEFAULTS["jump_std"], mu=drift), 1
    from liqrisk.dynamics.garch import fit_garch
    from liqrisk.dynamics.ohlc import bundled_data_path, load_ohlc
    ohlc = load_ohlc(bundled_data_path("btcusd_1h_coinbase.csv"))
    fit = fit_garch(np.diff(np.log(ohlc.close)), kind="gjr", dist="t", bar_seconds=ohlc.bar_seconds)
    return paths.garch_fhs(fit, h0=spec.vol ** 2 / (365 * 24), mu=drift), _hours_per_step(spec)


def _hours_per_step(spec: HedgeSpec) -> int:
    from liqrisk.io.portfolio import InputError
    hours = spec.expiry_days * 24 / spec.n_steps
    k = round(hours)
    if k < 1 or abs(hours - k) > 1e-6 * hours:
        raise InputError([f"hourly data: a monitoring step of {hours:.4g} h is not a whole number of hours "
                          f"(choose --expiry-days × 24 divisible by the steps)"])
    return k


def history_increments(spec: HedgeSpec, n_paths: int) -> np.ndarray:
    """Log increments of the bundled hourly BTC-USD closes (Coinbase, 2017-07…) in windows of the
    option's life, summed to the monitoring step; ``n_paths`` windows with evenly spaced starts
    (overlapping when the history is short)."""
    from liqrisk.dynamics.ohlc import bundled_data_path, load_ohlc
    from liqrisk.io.portfolio import InputError
    k = _hours_per_step(spec)
    x = np.diff(np.log(load_ohlc(bundled_data_path("btcusd_1h_coinbase.csv")).close))
    span = k * spec.n_steps
    if span > len(x):
        raise InputError([f"--expiry-days {spec.expiry_days:g}: longer than the bundled history ({len(x)} h)"])
    starts = np.unique(np.linspace(0, len(x) - span, n_paths).astype(np.int64))
    c = np.concatenate([[0.0], np.cumsum(x)])
    idx = starts[:, None] + k * np.arange(spec.n_steps + 1)[None, :]
    return np.diff(c[idx], axis=1)


def hedge_backtest(spec: HedgeSpec, paths: int = 10_000, model: str = "gbm", seed: int = 7,
                   drift: float | None = None, curve: bool = True, progress=None,
                   book: MarginBook | None = None) -> HedgeBacktest:
    """Run the back-test (module docstring). ``model``: a path model (gbm, merton, student, fhs;
    drift default the rate: risk-neutral) or ``history`` (the bundled real hourly BTC path).
    ``curve``: also re-hedge the same paths at ½, ¼, … of the rebalances (hedging error vs N).
    ``book``: a portfolio account (:func:`account_book`; ``spec`` then gives the path model, the
    horizon and the hedging rules), else the option of ``spec``."""
    from liqrisk.dynamics import paths as P
    from liqrisk.io.portfolio import InputError
    from liqrisk.pricing import black_scholes
    _check(spec, book is not None)
    if model not in MODELS:
        raise InputError([f"--model '{model}': expected one of {', '.join(MODELS)}"])
    premium = float(black_scholes(spec.spot, spec.strike, spec.years, spec.rate, spec.vol, spec.is_call))
    if book is None:
        book = margin_book(spec)
        collateral = _default_collateral(spec, book) if spec.collateral is None else spec.collateral
        book = replace(book, cash0=collateral - spec.position * premium, equity0=collateral)
    else:
        collateral = book.cash0 + book.coin_units * spec.spot + book.coin_const
    fee = book.taker_fee if spec.fee is None else spec.fee
    sched = FundingSchedule.of([spec.funding if spec.hedge == "perp" else None])
    counts = _counts(spec, curve)
    everys = np.array([spec.n_steps // c for c in counts], dtype=np.int64)
    notes = []
    if model == "history":
        incr = history_increments(spec, paths)
        chunks = [(0, len(incr), None)]
        notes.append(f"real path: {len(incr)} windows of the bundled hourly BTC-USD history, rescaled to spot")
    else:
        pm, sub = _path_model(model, spec, spec.rate if drift is None else drift)
        lim = limits.current()
        if paths * spec.n_steps * sub > lim.max_path_steps:
            raise InputError([lim.exceeded("max_path_steps", f"--paths {paths:,} × {spec.n_steps * sub:,} time steps",
                                           "fewer --paths or --steps")])
        chunks = P.chunk_generators(seed, paths)
        incr = None
    n = chunks[-1][1]
    out = {k: np.empty((len(counts), n)) for k in ("pnl", "fees", "funding", "worst")}
    out |= {k: np.empty((len(counts), n), dtype=np.int64) for k in ("trades", "call", "liq")}
    dt = spec.years / spec.n_steps
    a = book.arrays
    o = book.options
    opts = (a.qty[o].copy(), a.strike[o].copy(), a.expiry[o].copy(), a.vol[o].copy(), a.is_call[o].copy())
    done = [0]

    def run(chunk):
        lo, hi, rng = chunk
        if rng is None:
            x = incr
        else:
            sp = pm.spec(dt / sub)
            x = np.empty((hi - lo, spec.n_steps * sub, 1))
            P.simulate_chunk(sp, rng, spec.n_steps * sub, False, x, np.zeros(hi - lo))
            x = x[:, :, 0].reshape(hi - lo, spec.n_steps, sub).sum(axis=2)
        views = [out[k][:, lo:hi] for k in ("pnl", "fees", "funding", "trades", "worst", "call", "liq")]
        tmp = [np.empty_like(v) for v in views]
        mine = replace(a, const_usd=a.const_usd.copy(), qty=a.qty.copy(), entry=a.entry.copy(),
                       leg_amount=a.leg_amount.copy())         # this thread's cash, hedge and spot coins
        hedge_paths_nb(np.ascontiguousarray(x), spec.spot, spec.years, spec.rate, everys, spec.band or 0.0,
                       spec.lot, fee, spec.hedge == "spot", sched.rate[0], sched.interval[0], sched.first[0],
                       spec.call_level, spec.liquidate, book.liquidation_fee, book.pool, book.axis, book.marks,
                       book.hedge_row, book.hedge_inverse, book.spot_leg, *opts, book.static_delta,
                       float(np.abs(opts[0]).sum()), book.coins, book.fixed_usd, book.coin_units, book.coin_const,
                       book.cash0, book.equity0, mine.args(), *tmp)
        for v, t in zip(views, tmp):
            v[...] = t
        done[0] += hi - lo
        if progress:
            progress(done[0], n)

    P.map_chunks(run, chunks)
    return HedgeBacktest(spec, model, seed, counts, out["pnl"], out["fees"], out["funding"], out["trades"],
                         out["worst"], out["call"], out["liq"], collateral, premium, notes,
                         book.info or None)


def _default_collateral(spec: HedgeSpec, book: MarginBook) -> float:
    """Twice the maintenance margin of the freshly hedged account (USD), at least the premium."""
    from liqrisk.pricing import black_scholes, greeks
    a = book.arrays
    h = -spec.position * float(greeks(spec.spot, spec.strike, spec.years, spec.rate, spec.vol,
                                      spec.is_call)["delta"])
    hedged = replace(a, const_usd=np.zeros_like(a.const_usd), qty=a.qty.copy(), leg_amount=np.zeros_like(a.leg_amount))
    hedged.qty[book.hedge_row] = h * spec.spot if spec.hedge == "perp" else 0.0
    if spec.hedge == "spot":
        hedged.leg_amount[book.spot_leg] = h
    mm = K.pools_states_nb(np.array([book.pool], np.int64), book.marks[None, :], 0.0, hedged.args())[1][0, 0]
    premium = float(black_scholes(spec.spot, spec.strike, spec.years, spec.rate, spec.vol, spec.is_call))
    return float(max(2.0 * mm, abs(spec.position) * premium, 1.0))
