"""Delta-hedging back-test with margin accounting: an option position hedged with the venue's
perp (or the spot coin) at a fixed frequency or when its delta leaves a band, on simulated or
real paths, with the venue's margin recomputed for option and hedge together at every step.

Accounting (USD, per path): the cash account starts at the collateral plus the premium of the
option position and accrues at ``rate`` (continuously compounded). A rebalance trades the hedge
to ``−position·Δ`` (Black–Scholes delta at the model vol, rounded to the lot), paying the taker
fee on the traded notional. A spot hedge pays for the coins from cash (Hull's set-up); a perp
hedge settles its P&L into cash at each rebalance and pays funding ``size × price × rate`` at
each funding time. P&L = final cash − collateral·e^{rT} + position × payoff. At every monitoring
step the account — cash as stable collateral, the coin leg (spot hedge), the option, the perp as
the venue's future — is evaluated by the margin kernel (:func:`~liqrisk.margin.kernel.
pool_state_nb`, Deribit standard margin by default): margin ratio MM/equity; a margin call when
it reaches ``call_level``; a liquidation when equity ≤ MM, which closes everything at the
kernel's values less the venue's liquidation fee on the closed notional.

References the tests reproduce: the hedging error of a delta-hedged option rebalanced N times
has std ≈ √(π/4)·vega·σ/√N (Derman & Kamal 1999, vega per 1.00 vol); Hull's worked weekly path
(Options, Futures and Other Derivatives, "simulation of delta hedging": cost $263.3k).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np
from numba import njit

from liqrisk.advise.funding import FundingModel, FundingSchedule
from liqrisk.io import limits
from liqrisk.margin.base import INVERSE_OPTION, LINEAR
from liqrisk.margin.kernel import _maintenance, _tier, _tier_notional, _value
from liqrisk.results import Result, plain
from liqrisk.pricing.kernels import black76_delta_nb, black76_price_nb, bsm_price_greeks_nb

MODELS = ("gbm", "merton", "student", "fhs", "history")
MAX_EXPIRY_DAYS = 3650.0   # ten years: beyond any listed option
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


def _check(spec: HedgeSpec) -> None:
    """Every number finite and in its plausible range (io.limits), one line per bad option."""
    from liqrisk.io.limits import AMOUNT_MAX, FUNDING_MAX, PRICE_RANGE, RATE_RANGE, VOL_RANGE, out_of_range
    from liqrisk.io.portfolio import InputError
    checks = [("--spot", spec.spot, *PRICE_RANGE, False), ("--strike", spec.strike, *PRICE_RANGE, False),
              ("--expiry-days", spec.expiry_days, 0.0, MAX_EXPIRY_DAYS, True), ("--vol", spec.vol, *VOL_RANGE, False),
              ("--rate", spec.rate, *RATE_RANGE, False), ("--lot", spec.lot, 0.0, AMOUNT_MAX, False)]
    checks += [c for c in (("--fee", spec.fee, 0.0, 0.1, False), ("--collateral", spec.collateral, 0.0, AMOUNT_MAX, False))
               if c[1] is not None]
    checks += [("--funding", r, -FUNDING_MAX, FUNDING_MAX, False) for r in (spec.funding.rates if spec.funding else ())
               if not abs(r) < FUNDING_MAX]       # the portfolio file's range: |rate per 8 h| < 0.1
    problems = [p for p in (out_of_range(*c) for c in checks) if p]
    if spec.position == 0 or not (math.isfinite(spec.position) and abs(spec.position) <= AMOUNT_MAX):
        problems.append(f"--position {spec.position:g}: must be a non-zero number of contracts (+ long, − short), "
                        f"at most {AMOUNT_MAX:g} in size")
    if spec.rebalances < 1:
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
    """The hedged account compiled by the margin engine, with the places the kernel changes."""

    arrays: object
    pool: int
    option_row: int
    future_row: int
    leg: int
    liquidation_fee: float
    taker_fee: float


def margin_book(spec: HedgeSpec) -> MarginBook:
    """Option + hedge future + a coin leg in one cross account on ``spec.venue``, compiled by
    the public pipeline (the numbers the kernel changes per path are placeholders here)."""
    from liqrisk.margin.account import CompiledPortfolio
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
    cp = CompiledPortfolio(parse_portfolio(doc))
    plan = cp.plans[0]
    rules = plan.rules
    a, p = cp.arrays, plan.cross_pool
    if a.sc_end[p] > a.sc_start[p] or a.const_mm[p] != 0 or np.any(a.leg_mm[a.leg_start[p]:a.leg_end[p]] != 0):
        from liqrisk.io.portfolio import InputError
        raise InputError([f"--venue {spec.venue}: the hedge back-test evaluates standard (not portfolio or "
                          f"collateral-loan) margin"])
    return MarginBook(cp.arrays, plan.cross_pool, plan.position_rows[0], plan.position_rows[1],
                      int(cp.arrays.leg_start[plan.cross_pool]), rules.params.liquidation_fee,
                      rules.params.taker_fee)


@njit(cache=True, nogil=True)
def hedge_paths_nb(incr, s0, strike, T, r, vol, is_call, pos, everys, band, lot, fee, spot_hedge,
                   f_rate, f_interval, f_first, collateral, call_level, liquidate, liq_fee,
                   pool, jf, arrs, pnl, fees, funding, trades, worst, call_step, liq_step):
    """Hedge every path of ``incr`` (n_paths, n_steps) log increments once per rebalance
    interval in ``everys`` (steps between rebalances; with ``band`` > 0 the first entry's
    monitoring grid is used and a rebalance happens when |target − hedge| > band·|pos|). Writes
    the (len(everys), n_paths) outputs: P&L, fees, funding paid, trade count, worst margin
    ratio, first margin-call step and liquidation step (−1: none)."""
    n_paths, n_steps = incr.shape
    dt = T / n_steps
    grow = math.exp(r * dt)
    (pos_start, pos_end, leg_start, leg_end, const_usd, settle_axis, axis, contract, qty0, entry0, basis,
     mm_code, notional_mode, tier_start, tier_end, p1, p2, strike_, is_call_, expiry, vol_, t_floor, t_mmr,
     t_cum, leg_axis, leg_amount, rate) = arrs[:27]
    qty, ent = qty0.copy(), entry0.copy()
    s_ax = settle_axis[pool]
    v0 = bsm_price_greeks_nb(s0, strike, T, r, 0.0, vol, is_call)[0]
    n_rates = f_rate.shape[0]
    for e in range(everys.shape[0]):
        every = everys[e]
        for p in range(n_paths):
            S = s0
            cash = collateral - pos * v0
            h = 0.0
            entry = s0
            fee_sum = fund_sum = 0.0
            n_tr = 0
            w = 0.0
            c_step = l_step = -1
            t_next = f_first
            nf = 0
            liquidated = False
            for k in range(n_steps):
                t = k * dt
                tau = T - t
                carry = math.exp(r * tau)           # spot delta = e^{rτ}·(Black-76 delta on F = S·e^{rτ})
                delta = carry * black76_delta_nb(S * carry, strike, tau, r, vol, is_call)
                target = -pos * delta
                if lot > 0.0:
                    target = round(target / lot) * lot
                if band > 0.0:
                    rebalance = k == 0 or abs(target - h) > band * abs(pos)
                else:
                    rebalance = k % every == 0
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
                    n_tr += 1
                    h = target
                # the account on the venue's rules: cash, coin leg (spot hedge), option, future —
                # the margin kernel's position valuation, with this path's hedge and cash (one
                # function body: see the note above _nearest_chunk in margin/kernel.py; standard
                # margin only — margin_book refuses scenario pools and collateral loans)
                qty[jf] = 0.0 if spot_hedge else h * entry
                ent[jf] = entry
                eq = cash + (h * S if spot_hedge else 0.0)
                mm = 0.0
                for i in range(pos_start[pool], pos_end[pool]):
                    P = S * basis[i]
                    settle = S if s_ax >= 0 else (1.0 if contract[i] == LINEAR else P)
                    opt = 0.0
                    if contract[i] == INVERSE_OPTION:
                        opt = black76_price_nb(P, strike_[i], expiry[i] - t, rate, vol_[i], is_call_[i]) / P
                    nn = _tier_notional(notional_mode[i], abs(qty[i]), P, p2[i])
                    kt = _tier(nn, tier_start[i], tier_end[i], t_floor)
                    tiered = tier_end[i] > tier_start[i]
                    eq += _value(contract[i], qty[i], P, ent[i], settle, opt)
                    mm += _maintenance(mm_code[i], notional_mode[i], contract[i], qty[i], P, ent[i], settle,
                                       opt, nn, t_mmr[kt] if tiered else 0.0, t_cum[kt] if tiered else 0.0,
                                       p1[i], p2[i], is_call_[i])
                ratio = mm / eq if eq > 0.0 else np.inf
                if ratio > w:
                    w = ratio
                if ratio >= call_level and c_step < 0:
                    c_step = k
                if liquidate and eq - mm <= 0.0:
                    l_step = k
                    wealth = eq - liq_fee * (abs(h) + abs(pos)) * S
                    pnl[e, p] = wealth * math.exp(r * (T - t)) - collateral * math.exp(r * T)
                    liquidated = True
                    break
                S *= math.exp(incr[p, k])
                cash *= grow
                while t_next <= t + dt * (1.0 + 1e-9):
                    pay = h * S * f_rate[min(nf, n_rates - 1)]
                    cash -= pay
                    fund_sum += pay
                    nf += 1
                    t_next += f_interval
            if not liquidated:
                payoff = max(S - strike, 0.0) if is_call else max(strike - S, 0.0)
                cash += h * S if spot_hedge else h * (S - entry)
                c = abs(h) * S * fee
                fee_sum += c
                pnl[e, p] = cash - c + pos * payoff - collateral * math.exp(r * T)
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
        return plain({
            "model": self.model, "seed": self.seed, "paths": n, "currency": "USD",
            "option": {"type": "call" if s.is_call else "put", "spot": s.spot, "strike": s.strike,
                       "expiry_days": s.expiry_days, "vol": s.vol, "rate": s.rate, "position": s.position,
                       "premium": self.premium},
            "hedge": {"instrument": s.hedge, "venue": s.venue, "rebalances": s.rebalances,
                      "monitoring_steps": s.n_steps, "band": s.band, "lot": s.lot, "collateral": self.collateral},
            "pnl_mean": float(np.mean(main)), "pnl_std": std,
            "pnl_mean_stderr": std / math.sqrt(n) if n > 1 else None,
            "pnl_std_stderr": _std_stderr(main),
            "derman_kamal_std": derman_kamal_std(s, s.rebalances),
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
                                   "q99": float(np.quantile(self.worst_ratio[0], 0.99))},
            "events": events,
            "hedging_error_vs_rebalances": [
                {"rebalances": N, "pnl_std": float(np.std(self.pnl[i], ddof=1)) if n > 1 else 0.0,
                 "pnl_mean": float(np.mean(self.pnl[i])), "derman_kamal_std": derman_kamal_std(s, N),
                 "transaction_costs_mean": float(np.mean(self.fees[i]))}
                for i, N in enumerate(self.rebalance_counts)],
            "notes": self.notes})


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
                   drift: float | None = None, curve: bool = True, progress=None) -> HedgeBacktest:
    """Run the back-test (module docstring). ``model``: a path model (gbm, merton, student, fhs;
    drift default the rate: risk-neutral) or ``history`` (the bundled real hourly BTC path).
    ``curve``: also re-hedge the same paths at ½, ¼, … of the rebalances (hedging error vs N)."""
    from liqrisk.dynamics import paths as P
    from liqrisk.io.portfolio import InputError
    _check(spec)
    if model not in MODELS:
        raise InputError([f"--model '{model}': expected one of {', '.join(MODELS)}"])
    book = margin_book(spec)
    fee = book.taker_fee if spec.fee is None else spec.fee
    sched = FundingSchedule.of([spec.funding if spec.hedge == "perp" else None])
    counts = _counts(spec, curve)
    everys = np.array([spec.n_steps // c for c in counts], dtype=np.int64)
    collateral = _default_collateral(spec, book) if spec.collateral is None else spec.collateral
    notes = []
    if model == "history":
        incr = history_increments(spec, paths)
        chunks = [(0, len(incr), None)]
        notes.append(f"real path: {len(incr)} windows of the bundled hourly BTC-USD history, rescaled to spot")
    else:
        pm, sub = _path_model(model, spec, spec.rate if drift is None else drift)
        lim = limits.current()
        if paths * spec.n_steps * sub > lim.max_path_steps:
            raise InputError([lim.exceeded("max_path_steps", f"--paths {paths:,} × {spec.n_steps * sub:,} time steps")])
        chunks = P.chunk_generators(seed, paths)
        incr = None
    n = chunks[-1][1]
    out = {k: np.empty((len(counts), n)) for k in ("pnl", "fees", "funding", "worst")}
    out |= {k: np.empty((len(counts), n), dtype=np.int64) for k in ("trades", "call", "liq")}
    dt = spec.years / spec.n_steps
    done = [0]

    def run(chunk):
        a, b, rng = chunk
        if rng is None:
            x = incr
        else:
            sp = pm.spec(dt / sub)
            x = np.empty((b - a, spec.n_steps * sub, 1))
            P.simulate_chunk(sp, rng, spec.n_steps * sub, False, x, np.zeros(b - a))
            x = x[:, :, 0].reshape(b - a, spec.n_steps, sub).sum(axis=2)
        views = [out[k][:, a:b] for k in ("pnl", "fees", "funding", "trades", "worst", "call", "liq")]
        tmp = [np.empty_like(v) for v in views]
        hedge_paths_nb(np.ascontiguousarray(x), spec.spot, spec.strike, spec.years, spec.rate, spec.vol,
                       spec.is_call, spec.position, everys, spec.band or 0.0, spec.lot, fee,
                       spec.hedge == "spot", sched.rate[0], sched.interval[0], sched.first[0], collateral,
                       spec.call_level, spec.liquidate, book.liquidation_fee, book.pool, book.future_row,
                       book.arrays.args(), *tmp)
        for v, t in zip(views, tmp):
            v[...] = t
        done[0] += b - a
        if progress:
            progress(done[0], n)

    P.map_chunks(run, chunks)
    from liqrisk.pricing import black_scholes
    premium = float(black_scholes(spec.spot, spec.strike, spec.years, spec.rate, spec.vol, spec.is_call))
    return HedgeBacktest(spec, model, seed, counts, out["pnl"], out["fees"], out["funding"], out["trades"],
                         out["worst"], out["call"], out["liq"], collateral, premium, notes)


def _default_collateral(spec: HedgeSpec, book: MarginBook) -> float:
    """Twice the maintenance margin of the freshly hedged account (USD), at least the premium."""
    from liqrisk.margin.kernel import pool_state_nb as state
    from liqrisk.pricing import greeks
    a = list(book.arrays.args())
    h = -spec.position * float(greeks(spec.spot, spec.strike, spec.years, spec.rate, spec.vol,
                                      spec.is_call)["delta"])
    const, qty, leg = a[4].copy(), a[8].copy(), a[25].copy()
    const[book.pool], leg[book.leg] = 0.0, 0.0
    qty[book.future_row] = h * spec.spot if spec.hedge == "perp" else 0.0
    if spec.hedge == "spot":
        leg[book.leg] = h
    a[4], a[8], a[25] = const, qty, leg
    _, mm = state(book.pool, np.array([spec.spot]), 0.0, tuple(a))
    from liqrisk.pricing import black_scholes
    premium = float(black_scholes(spec.spot, spec.strike, spec.years, spec.rate, spec.vol, spec.is_call))
    return float(max(2.0 * mm, abs(spec.position) * premium, 1.0))
