"""Position sizing: the largest perp position on a venue, at a leverage and with a collateral,
that meets a P(liquidation) or distance target (searched on the engine: a one-position cross
account whose wallet is the collateral), next to the Kelly sizes with liquidation as ruin.

Kelly: for a log-utility trader with drift μ and vol σ (GBM) the growth-optimal notional is
``f*·collateral`` with ``f* = μ/σ²`` (no liquidation). With liquidation, the wealth at the
horizon is ``collateral + q·(S_h − P0)`` unless the path crosses the engine's liquidation
price LP(q) first, when it is what is left after the forced close
``max(collateral + q·(LP − P0) − fee·|q|·LP, 0)`` (ruin when nothing is left). The ruin-aware
Kelly size maximises the Monte Carlo mean of ``ln(W_h/collateral)`` over a grid of sizes on
common paths (daily monitoring); half and quarter Kelly are the usual fractional variants.
The leverage caps every size at ``collateral·L/P0`` (initial margin)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

from liqrisk.advise.search import MINIMAL_CHECK, round_up, smallest
from liqrisk.advise.targets import Evaluator, Target, one_numba_thread
from liqrisk.model import Account, Collateral, Instrument, MarketState, Portfolio, Position, Quote, Venue
from liqrisk.results import Result, plain

_AS_OF = datetime(2026, 1, 1, tzinfo=timezone.utc)


@dataclass
class Sizing(Result):
    venue: str
    symbol: str
    side: str
    leverage: float
    collateral: float
    mark: float
    vol: float
    target: str
    leverage_cap: float
    target_size: float | None
    binding: str
    target_minimal: bool | None
    rows: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _account(venue: str, symbol: str, size: float, mark: float, collateral: float, leverage: float,
             currency: str) -> Account:
    return Account("sized", Venue(venue), "cross", (Collateral(currency, collateral),),
                   (Position(Instrument("perp", symbol), size, mark, leverage=leverage),))


def size_position(venue: str, symbol: str, leverage: float, collateral: float, target: str, mark: float,
                  vol: float, side: str = "long", drift: float | None = None, horizon: str = "7d",
                  paths: int = 20_000, seed: int = 7, progress=None) -> Sizing:
    """The sizes (module docstring); ``collateral`` in the venue's settlement currency (USDT for
    linear venues), ``mark`` and ``vol`` of the symbol's underlying. ``progress(runs, None)``
    after each engine run (their number is not known in advance)."""
    from liqrisk.analysis import parse_horizon
    from liqrisk.io.portfolio import InputError
    from liqrisk.margin.registry import rule_set_for
    from liqrisk.io.limits import AMOUNT_MAX, DRIFT_MAX, LEVERAGE_RANGE, PRICE_RANGE, VOL_RANGE, out_of_range
    checks = [("--leverage", leverage, *LEVERAGE_RANGE, False), ("--collateral", collateral, 0.0, AMOUNT_MAX, True),
              ("--mark", mark, *PRICE_RANGE, False), ("--vol", vol, *VOL_RANGE, False)]
    if drift is not None:
        checks.append(("--drift", drift, -DRIFT_MAX, DRIFT_MAX, False))
    problems = [p for p in (out_of_range(*c) for c in checks) if p]
    if side not in ("long", "short"):
        problems.append(f"--side '{side}': expected long or short")
    if problems:
        raise InputError(problems)
    rules = rule_set_for(venue)
    if getattr(rules, "is_loan", False):
        raise InputError([f"--venue {venue}: a lending protocol (supplied/borrowed assets); size takes a "
                          f"derivatives venue with perps, e.g. binance-usdm"])
    probe = Position(Instrument("perp", symbol), 1.0, mark)
    und = rules.underlying_of(probe)
    currency = "USDT" if not rules.settles_in_coin else und
    market = MarketState(_AS_OF, {und: Quote(mark, None, vol)})
    t = Target.parse(target)
    ev = Evaluator(Portfolio(market, ()), t, paths, seed, "gbm", progress=progress)   # GBM, as the Kelly rows
    sign = 1.0 if side == "long" else -1.0
    linear = rules.contract_of(probe) == 0
    unit = 1.0 if linear else mark            # size units per coin (inverse: USD face)
    coins_cap = collateral * (1.0 if currency != und else mark) * leverage / mark
    make = lambda coins: _account(rules.name, symbol, sign * coins * unit, mark, collateral, leverage, currency)
    bad = [f"--symbol {symbol}: {m}" for m, _ in rules.position_problems(make(1.0).positions[0], make(1.0))]
    if bad:
        raise InputError(bad)
    with one_numba_thread():
        y = smallest(lambda y: make(coins_cap * (1 - y)), ev.gap, 1e-3, cap=1 - 1e-6, check=None).x
        if y is None:
            coins, binding, minimal = None, "no size meets the target", None
        elif ev.meets(make(coins_cap)):
            coins, binding, minimal = coins_cap, "leverage (initial margin)", None
        else:
            coins = coins_cap * (1 - y)
            binding, minimal = "target", not ev.meets(make(min(coins / MINIMAL_CHECK, coins_cap)))
        rows = [_row("largest meeting the target", coins, make, ev, unit)] if coins else []
        notes = []
        if drift is None:
            notes.append("Kelly sizes need --drift (annual expected return of the underlying)")
        else:
            rows += _kelly_rows(ev, make, rules, unit, collateral * (1.0 if currency != und else mark), mark, vol,
                                sign * drift, coins_cap, parse_horizon(horizon), seed)
    return Sizing(rules.name, symbol, side, leverage, collateral, mark, vol, t.text, coins_cap * unit,
                  None if coins is None else round_up(coins * unit, 6), binding, minimal, rows, notes)


def _row(label: str, coins: float, make, ev, unit: float, extra: dict | None = None) -> dict:
    r = ev.analyses([make(coins)])[0]
    d = r.distance[next(iter(r.distance))] if r.distance else {}
    metric = _metric(r, ev.target)
    return {"sizing": label, "size": coins * unit, "coins": coins, "metric": metric,
            "meets_target": None if metric is None else ev.target.meets(metric),
            "liquidation_price": next((v["down"] or v["up"] for v in r.liquidation.values()), None),
            "distance_daily_sd": d.get("down_daily_sd") or d.get("up_daily_sd"), **(extra or {})}


def _metric(r, t):
    from liqrisk.advise.targets import metric_of
    return metric_of(r, t)


def _kelly_rows(ev, make, rules, unit, wealth_usd, mark, vol, mu, coins_cap, years, seed) -> list[dict]:
    """f* = μ/σ² and the ruin-aware Kelly (module docstring) with its ½ and ¼ fractions."""
    n_steps = max(1, int(round(years * 365)))
    rng = np.random.default_rng(seed)
    dt = years / n_steps
    z = rng.standard_normal((4000, n_steps))
    log_s = np.cumsum((mu - 0.5 * vol ** 2) * dt + vol * math.sqrt(dt) * z, axis=1)
    S = mark * np.exp(log_s)
    fee = rules.params.liquidation_fee
    grid = np.linspace(0, coins_cap, 41)[1:]
    growth = [0.0]
    lps = [None]
    for c in grid:
        r = ev.margins(make(c))
        lp = next((v["down"] if mu > 0 else v["up"] for v in r.liquidation.values()), None)
        q = c if mu > 0 else -c
        w = wealth_usd + q * (S[:, -1] - mark)
        if lp is not None:
            hit = (S.min(axis=1) <= lp) if q > 0 else (S.max(axis=1) >= lp)
            left = max(wealth_usd + q * (lp - mark) - fee * c * lp, 0.0)
            w = np.where(hit, left, w)
        with np.errstate(divide="ignore"):
            growth.append(float(np.mean(np.log(np.maximum(w, 0.0) / wealth_usd))) / years)
        lps.append(lp)
    k = int(np.argmax(growth))
    kelly = float(np.concatenate([[0.0], grid])[k])
    f_star = abs(mu) / vol ** 2 * wealth_usd / mark
    rows = [{"sizing": "Kelly f* = μ/σ² (no liquidation)", "size": min(f_star, coins_cap) * unit, "coins": min(f_star, coins_cap),
             "uncapped_coins": f_star}]
    for label, f in (("Kelly, liquidation as ruin", 1.0), ("half Kelly", 0.5), ("quarter Kelly", 0.25)):
        if kelly * f > 0:
            rows.append(_row(label, kelly * f, make, ev, unit, {"growth_per_year": growth[k] if f == 1 else None}))
    return rows
