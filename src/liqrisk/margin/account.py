"""Account margin: compile a validated portfolio into pools (struct-of-arrays) and produce the
per-account result — equity, initial and maintenance margin, margin ratio, every liquidation
boundary per underlying and each position's liquidation and bankruptcy price.

Conventions: ``collateral`` is the cross wallet (isolated margins are separate and given per
position as ``margin``, in the settlement currency); a position with ``margin`` is isolated even
in a cross account. Options are valued at their mark: from the vol model of the market block,
or — when the position gives ``mark`` (premium in coin) — at the implied vol of that mark, held
fixed (sticky strike) when the underlying moves.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from operator import attrgetter

import numpy as np

from liqrisk.margin import kernel as K
from liqrisk.margin.base import INVERSE_OPTION, LINEAR, MM_NONE, PositionTerms, RuleSet
from liqrisk.margin.registry import rule_set_for
from liqrisk.model import STABLECOINS, MarketState, Portfolio
from liqrisk.pricing import implied_vol
from liqrisk.pricing.kernels import black76_delta_nb

SECONDS_PER_YEAR = 365.0 * 86400.0


@dataclass
class PositionMargin:
    """One position's numbers; money in the account's settlement currency, prices in USD.
    ``liquidation_price``/``bankruptcy_price`` are on the position's own mark (a future with a
    ``mark`` override keeps its basis to the underlying); the account's ``liquidation`` block is
    on the underlying's mark."""

    symbol: str
    kind: str
    underlying: str
    size: float
    entry: float
    mark: float
    unrealized_pnl: float
    initial_margin: float
    maintenance_margin: float
    liquidation_price: float | None
    bankruptcy_price: float | None
    isolated: bool
    parameters: str = ""


@dataclass
class AccountMargin:
    """One account's margin state (the stable JSON keys of `liqrisk analyze`)."""

    id: str
    venue: str
    rule_version: str
    mode: str
    settlement_currency: str
    equity: float
    initial_margin: float
    maintenance_margin: float
    margin_ratio: float | None
    liquidatable_now: bool
    liquidation: dict[str, dict[str, float | None]]
    boundaries: dict[str, list[float]]
    distance: dict[str, dict[str, float | None]]
    positions: list[PositionMargin]
    loan: dict | None = None               # lending protocols: health factor, liquidation call
    portfolio_margin: dict | None = None   # scenario margin: IM, MM, worst scenario, risk matrix

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Market:
    """Prices (USD) and vol models per underlying axis."""

    names: list[str]
    prices: np.ndarray
    vol_models: list
    rate: float

    def axis(self, name: str) -> int:
        return self.names.index(name)

    def atm_vol(self, name: str, years: float = 1 / 365) -> float | None:
        model = self.vol_models[self.axis(name)]
        if model is None:
            return None
        return float(model.vol(self.prices[self.axis(name)], years, self.prices[self.axis(name)]))


@dataclass
class Plan:
    """What the compiler knows about one account: its pools and its positions' places."""

    account: object
    rules: RuleSet
    settlement: str
    settle_axis: int
    pools: list[int]
    cross_pool: int
    pool_axes: dict[int, set[int]]
    position_rows: list[int]
    position_pools: list[int]
    terms: list[PositionTerms]
    scenario: object | None = None     # the ScenarioSet of a portfolio-mode account


def market_from(state: MarketState, names: list[str] | None = None) -> Market:
    """The arrays of a market state along ``names`` (default: every quoted underlying)."""
    from liqrisk.dynamics.smile import vol_model_from_market
    names = list(state.quotes) if names is None else names
    missing = [n for n in names if n not in state.quotes]
    if missing:
        raise ValueError(f"market: no quote for {', '.join(missing)} (the compiled portfolio needs them)")
    models = [None if state.quotes[n].vol is None else vol_model_from_market(state.quotes[n].vol_block())
              for n in names]
    return Market(names, np.array([state.quotes[n].mark for n in names], dtype=float), models, state.rate)


class Builder:
    """Accumulates pools, positions, collateral legs and tiers; emits :class:`PoolArrays`."""

    def __init__(self, market: Market):
        self.market = market
        self.pool_rows: list[list] = []   # [const_usd, settle_axis, dense, const_mm, loan_rule,
        #                                    loan_scoll, loan_sdebt, loan_sliq, loan_sfee]
        self.pos_rows: list[tuple] = []   # (pool, axis, terms)
        self.legs: list[tuple] = []       # (pool, axis, amount, mm per USD of value, liq, fee)
        self.scenarios: dict[int, tuple[list[tuple], tuple]] = {}   # pool → (rows, pm_par)
        self.scoll_max: dict[int, float] = {}     # loan pool → its largest stable collateral (USD)
        self.tiers_f: list[float] = []
        self.tiers_m: list[float] = []
        self.tiers_c: list[float] = []

    def new_pool(self, settle_axis: int) -> int:
        self.pool_rows.append([0.0, settle_axis, 0, 0.0, 0, 0.0, 0.0, 0.0, 0.0])
        return len(self.pool_rows) - 1

    def add_amount(self, pool: int, currency: str, amount: float, price_of, mm_rate: float = 0.0,
                   liq: tuple[float, float] = (0.0, 0.0)) -> None:
        """Collateral: stable coins into the constant, coins as a leg priced by their axis;
        ``mm_rate`` = maintenance margin per USD of its value (a loan's 1 − liquidation threshold),
        ``liq`` a loan collateral's (bonus / liquidation factor / chop, protocol fee share). A
        loan's stable collateral is summed (the terms of the largest kept), of its stable debts the
        largest reserve is kept (:func:`liqrisk.margin.kernel.loan_equity_after_nb`)."""
        if currency in self.market.names:
            self.legs.append((pool, self.market.axis(currency), amount, mm_rate, *liq))
        else:
            row, usd = self.pool_rows[pool], amount * price_of(currency)
            row[0] += usd
            row[3] += mm_rate * usd
            if row[4] and usd > 0:
                if usd > self.scoll_max.get(pool, 0.0):
                    self.scoll_max[pool] = usd
                    row[7], row[8] = liq
                row[5] += usd
            elif row[4]:
                row[6] = max(row[6], -usd)

    def set_loan_rule(self, pool: int, code: int) -> None:
        """Make ``pool`` a collateral loan liquidated by rule ``code`` (``LOAN_*``, base.py)."""
        self.pool_rows[pool][4] = code

    def set_scenarios(self, pool: int, rows: list[tuple], pm_par: tuple, dense: bool) -> None:
        """Make ``pool`` a scenario-margin pool: rows of (move, vol code, weight, dampener USD) and
        (pnl_offset, mm_factor, add, floor) (see :func:`liqrisk.margin.kernel.scenario_mm_nb`)."""
        self.scenarios[pool] = (rows, pm_par)
        self.pool_rows[pool][2] = max(self.pool_rows[pool][2], int(dense))

    def add_position(self, pool: int, axis: int, t: PositionTerms) -> int:
        self.pos_rows.append((pool, axis, t))
        if t.contract == INVERSE_OPTION:
            self.pool_rows[pool][2] = 1
        return len(self.pos_rows) - 1

    def build(self) -> tuple[K.PoolArrays, np.ndarray]:
        """The arrays (positions sorted by pool) and each input position row's index in them."""
        # by pool, then axis: a scenario pool's risk units (one per axis) are contiguous
        order = sorted(range(len(self.pos_rows)), key=lambda i: self.pos_rows[i][:2])
        where = np.empty(len(order), dtype=np.int64)
        where[order] = np.arange(len(order))
        rows = [self.pos_rows[i] for i in order]
        n_pools = len(self.pool_rows)
        pools_of = np.array([r[0] for r in rows], dtype=np.int64)
        pos_start = np.searchsorted(pools_of, np.arange(n_pools), side="left")
        pos_end = np.searchsorted(pools_of, np.arange(n_pools), side="right")
        legs = sorted(self.legs)
        leg_pools = np.array([l[0] for l in legs], dtype=np.int64)
        tier_start, tier_end = [], []
        for _, _, t in rows:
            tier_start.append(len(self.tiers_f))
            if t.tiers is not None:
                self.tiers_f += list(t.tiers.floor)
                self.tiers_m += list(t.tiers.mmr)
                self.tiers_c += list(t.tiers.cum)
            tier_end.append(len(self.tiers_f))
        columns = ("contract", "qty", "entry", "basis", "mm_code", "notional_mode", "p1", "p2", "strike",
                   "is_call", "expiry_years", "vol", "sh_rel", "sh_abs", "roll", "min_charge")
        table = list(zip(*map(attrgetter(*columns), (t for _, _, t in rows)))) or [()] * len(columns)
        by_name = dict(zip(columns, table))
        f = lambda attr, dt=float: np.array(by_name[attr], dtype=dt)
        sc_start, sc_end, pm_par, sc = np.zeros(n_pools, np.int64), np.zeros(n_pools, np.int64), \
            np.zeros((n_pools, K.PM_PAR)), []
        for p, (sc_rows, par) in sorted(self.scenarios.items()):
            sc_start[p] = len(sc)
            sc += sc_rows
            sc_end[p] = len(sc)
            pm_par[p] = par
        col = lambda k, dt=float: np.array([r[k] for r in sc], dtype=dt)
        vols = f("vol")
        arrays = K.PoolArrays(
            pos_start=pos_start, pos_end=pos_end,
            leg_start=np.searchsorted(leg_pools, np.arange(n_pools), side="left"),
            leg_end=np.searchsorted(leg_pools, np.arange(n_pools), side="right"),
            const_usd=np.array([r[0] for r in self.pool_rows], dtype=float),
            settle_axis=np.array([r[1] for r in self.pool_rows], dtype=np.int64),
            dense=np.array([r[2] for r in self.pool_rows], dtype=np.int64),
            axis=np.array([r[1] for r in rows], dtype=np.int64),
            contract=f("contract", np.int64), qty=f("qty"), entry=f("entry"), basis=f("basis"),
            mm_code=f("mm_code", np.int64), notional_mode=f("notional_mode", np.int64),
            tier_start=np.array(tier_start, dtype=np.int64), tier_end=np.array(tier_end, dtype=np.int64),
            p1=f("p1"), p2=f("p2"), strike=f("strike"), is_call=f("is_call", np.bool_),
            expiry=f("expiry_years"), vol=vols,
            t_floor=np.array(self.tiers_f, dtype=float), t_mmr=np.array(self.tiers_m, dtype=float),
            t_cum=np.array(self.tiers_c, dtype=float),
            leg_axis=np.array([l[1] for l in legs], dtype=np.int64),
            leg_amount=np.array([l[2] for l in legs], dtype=float), rate=self.market.rate,
            const_mm=np.array([r[3] for r in self.pool_rows], dtype=float),
            leg_mm=np.array([l[3] for l in legs], dtype=float),
            leg_liq=np.array([l[4] for l in legs], dtype=float),
            leg_fee=np.array([l[5] for l in legs], dtype=float),
            **{k: np.array([r[c] for r in self.pool_rows], dtype=float) for k, c in
               (("loan_rule", 4), ("loan_scoll", 5), ("loan_sdebt", 6), ("loan_sliq", 7), ("loan_sfee", 8))},
            sc_start=sc_start, sc_end=sc_end, pm_par=pm_par, sh_rel=f("sh_rel"), sh_abs=f("sh_abs"),
            vol_up=np.array([v if t.vol_up is None else t.vol_up for v, (_, _, t) in zip(vols, rows)], dtype=float),
            vol_dn=np.array([v if t.vol_dn is None else t.vol_dn for v, (_, _, t) in zip(vols, rows)], dtype=float),
            roll=np.column_stack([f("roll"), f("min_charge")]).reshape(-1, 2), sc_move=col(0), sc_vol=col(1, np.int64), sc_weight=col(2), sc_damp=col(3))
        return arrays, where


def _option_vol(pos, market: Market, axis: int, years: float) -> float:
    F = market.prices[axis]
    if pos.mark is not None:
        iv = implied_vol(pos.mark * F, F, pos.strike, years, market.rate, pos.type == "call", q=market.rate)
        if np.isfinite(iv):
            return float(iv)
        raise ValueError(f"mark {pos.mark} is outside the no-arbitrage bounds of this option")
    model = market.vol_models[axis]
    if model is None:
        raise ValueError("no vol in the market block for this underlying and no option 'mark'")
    return float(model.vol(pos.strike, years, F))


def _years_to_expiry(pos, as_of) -> float:
    return (pos.expiry - as_of).total_seconds() / SECONDS_PER_YEAR if pos.expiry is not None else 0.0


def _market_terms(pos, market: Market, axis: int, years: float) -> dict:
    """The fields of a position's terms that come from the market (option vol and time to expiry,
    the basis of a future whose ``mark`` is given), as :class:`PositionTerms` keyword arguments.
    Futures carry their time to expiry too (the Monte Carlo settles them there; 0: perpetual)."""
    if pos.kind == "option":
        return {"vol": _option_vol(pos, market, axis, years), "expiry_years": years}
    return {"basis": pos.mark / market.prices[axis] if pos.mark is not None else 1.0,
            "expiry_years": years}


def compile_portfolio(pf: Portfolio) -> tuple[Market, list[Plan], K.PoolArrays]:
    """Pools and arrays for every account of a validated portfolio."""
    market = market_from(pf.market)
    b = Builder(market)
    plans = []
    price_of = lambda c: pf.price(c)
    for acc in pf.accounts:
        rules = rule_set_for(acc.venue)
        settlement = rules.settlement_currency(acc)
        settle_axis = market.axis(settlement) if settlement in market.names else -1
        cross = b.new_pool(settle_axis)
        pools, pool_axes = [cross], {cross: set()}
        legs = rules.collateral_legs(acc)
        if legs is None:                 # debts: no haircut
            legs = [(c, a * (1 - h) if a > 0 else a, 0.0) for c, a, h in acc.collateral_items()]
        for ccy, amount, mm_rate in legs:
            b.add_amount(cross, ccy, amount, price_of, mm_rate)
            if ccy in market.names:
                pool_axes[cross].add(market.axis(ccy))
        if rules.is_loan:                # collateral legs carry MM (1 − weight); debts are negative
            b.set_loan_rule(cross, rules.liquidation_rule())
            for ccy, units in acc.supplied_items():
                b.add_amount(cross, ccy, units, price_of, 1.0 - rules.weight(ccy, acc),
                             rules.liquidation_terms(ccy))
            for ccy, units in acc.borrowed_items():
                b.add_amount(cross, ccy, -units, price_of)
            pool_axes[cross] |= {market.axis(c) for c, _ in acc.supplied_items() + acc.borrowed_items()
                                 if c in market.names}
        rows, ppools, terms = [], [], []
        for pos in acc.positions:
            und = rules.underlying_of(pos)
            axis = market.axis(und)
            if pos.kind == "spot":
                b.add_amount(cross, und, pos.size, price_of)
                pool_axes[cross].add(axis)
                rows.append(-1), ppools.append(cross), terms.append(None)
                continue
            years = _years_to_expiry(pos, pf.as_of)
            priced = _market_terms(pos, market, axis, years)
            t = replace(rules.terms(pos, acc, years, priced.get("vol", 0.0)), **priced)
            if acc.mode == "portfolio":
                t = replace(t, **rules.scenario_terms(pos, t, acc))
            isolated = acc.mode != "portfolio" and (pos.margin is not None or acc.mode == "isolated")
            pool = cross
            if isolated:
                pool = b.new_pool(settle_axis)
                pools.append(pool)
                pool_axes[pool] = set()
                b.add_amount(pool, settlement, pos.margin, price_of)
                if settlement in market.names:
                    pool_axes[pool].add(market.axis(settlement))
            pool_axes[pool].add(axis)
            rows.append(b.add_position(pool, axis, t)), ppools.append(pool), terms.append(t)
        plan = Plan(acc, rules, settlement, settle_axis, pools, cross, pool_axes, rows, ppools, terms)
        if acc.mode == "portfolio":
            plan.scenario = rules.scenario_set(acc, terms)
            b.set_scenarios(cross, plan.scenario.rows(), plan.scenario.pm_par(),
                            dense=any(t is not None and t.contract == INVERSE_OPTION for t in terms))
        plans.append(plan)
    arrays, where = b.build()
    for plan in plans:
        plan.position_rows = [int(where[r]) if r >= 0 else -1 for r in plan.position_rows]
    return market, plans, arrays


def _delta(t: PositionTerms, market: Market, axis: int) -> float:
    """Signed price exposure direction of a position: size for futures, size × Black-76 forward
    delta for options (the scalar device function: one option does not pay for loading the
    vectorised Greeks kernel, ~11 s of a cold compile)."""
    if t.contract != INVERSE_OPTION:
        return t.qty
    return t.qty * float(black76_delta_nb(market.prices[axis], t.strike, t.expiry_years, market.rate, t.vol,
                                          t.is_call))


def _hurting_side(plan: Plan, market: Market) -> list[int]:
    """0 (down) or 1 (up) per position: the direction that hurts it. Futures on one symbol in one
    pool share their net direction (Binance hedge mode shows one cross price per symbol)."""
    net: dict[tuple, float] = {}
    keys = []
    for pos, pool, t in zip(plan.account.positions, plan.position_pools, plan.terms):
        if t is None:
            keys.append(None)
            continue
        axis = market.axis(plan.rules.underlying_of(pos))
        key = (pool, pos.symbol or id(pos)) if t.contract != INVERSE_OPTION else (pool, id(pos))
        net[key] = net.get(key, 0.0) + _delta(t, market, axis)
        keys.append(key)
    return [None if k is None else (0 if net[k] > 0 else 1) for k in keys]


class CompiledPortfolio:
    """A validated portfolio compiled once; answers margin, curve and health questions."""

    def __init__(self, pf: Portfolio):
        self.portfolio = pf
        self.market, self.plans, self.arrays = compile_portfolio(pf)

    def with_market(self, market: MarketState) -> "CompiledPortfolio":
        """The same book re-valued in another market (marks, vols, rate, time ``as_of``): pools,
        positions and tiers are kept, only the market arrays and each position's market-dependent
        terms (option vol and time to expiry, futures basis) are recomputed. ``market`` must quote
        every underlying the book uses."""
        new = object.__new__(CompiledPortfolio)
        new.portfolio = self.portfolio.with_market(market)
        new.market = market_from(market, self.market.names)
        columns = {k: getattr(self.arrays, k).copy() for k in ("vol", "expiry", "basis", "vol_up", "vol_dn", "roll")}
        new.plans = []
        for plan in self.plans:
            terms = []
            for pos, row, t in zip(plan.account.positions, plan.position_rows, plan.terms):
                if t is not None:
                    axis = new.market.axis(plan.rules.underlying_of(pos))
                    t = replace(t, **_market_terms(pos, new.market, axis, _years_to_expiry(pos, market.as_of)))
                    if plan.scenario is not None:      # shocked vols and roll rate follow vol and expiry
                        t = replace(t, **plan.rules.scenario_terms(pos, t, plan.account))
                        columns["vol_up"][row] = t.vol if t.vol_up is None else t.vol_up
                        columns["vol_dn"][row] = t.vol if t.vol_dn is None else t.vol_dn
                        columns["roll"][row] = (t.roll, t.min_charge)
                    columns["vol"][row], columns["expiry"][row], columns["basis"][row] = t.vol, t.expiry_years, t.basis
                terms.append(t)
            new.plans.append(replace(plan, terms=terms))
        new.arrays = replace(self.arrays, rate=market.rate, **columns)
        return new

    def margin_results(self) -> list[AccountMargin]:
        """Margin, liquidation boundaries and per-position prices for every account."""
        arrays, prices = self.arrays, self.market.prices
        coarse, fine = K.coarse_grid(), K.fine_grid()
        # one batched kernel call for every (pool, axis) pair, for liquidation and bankruptcy
        # a pool without positions (collateral only) has no maintenance margin to breach
        pairs = [(p, ax) for plan in self.plans for p in plan.pools for ax in sorted(plan.pool_axes[p])
                 if arrays.margined(p)]
        pools = np.array([p for p, _ in pairs], dtype=np.int64)
        axes = np.array([a for _, a in pairs], dtype=np.int64)
        liq = _unless_breached(K.nearest_boundaries_nb(pools, axes, prices, True, coarse, fine,
                                                       arrays.args()))
        bkr = _unless_breached(K.nearest_boundaries_nb(pools, axes, prices, False, coarse, fine,
                                                       arrays.args()))
        index = {pair: k for k, pair in enumerate(pairs)}
        # every pool's and position's state now, in two kernel calls (not one call per item)
        every = np.arange(len(arrays.pos_start), dtype=np.int64)
        pool_eq, pool_mm = (x[0] for x in K.pools_states_nb(every, prices[None, :], 0.0, arrays.args()))
        states = (pool_eq, pool_mm, *K.positions_states_nb(prices, 0.0, arrays.args()))
        return [_account_result(plan, self.market, arrays, liq, bkr, index, fine, states) for plan in self.plans]

    def settle_usd(self, i: int) -> float:
        """USD price of account ``i``'s settlement currency now."""
        plan = self.plans[i]
        return (self.market.prices[plan.settle_axis] if plan.settle_axis >= 0
                else STABLECOINS.get(plan.settlement, 1.0))

    def curve(self, i: int, underlying: str, grid, pools=None) -> tuple[np.ndarray, np.ndarray]:
        """Account ``i``'s equity and maintenance margin (settlement currency, at each price's own
        settlement value) along ``grid`` prices of ``underlying``, other marks fixed; summed over
        ``pools`` (default: all of the account's pools)."""
        plan, ax = self.plans[i], self.market.axis(underlying)
        grid = np.asarray(grid, dtype=float)
        prices = np.repeat(self.market.prices[None, :], len(grid), axis=0)
        prices[:, ax] = grid
        pools = np.array(plan.pools if pools is None else pools, dtype=np.int64)
        eq, mm = (x.sum(axis=1) for x in K.pools_states_nb(pools, prices, 0.0, self.arrays.args()))
        settle = prices[:, plan.settle_axis] if plan.settle_axis >= 0 else self.settle_usd(i)
        return eq / settle, mm / settle

    def pool_curves(self, i: int, underlying: str, grid) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Equity and MM along ``underlying`` per margin pool that moves with it: "cross" and
        "isolated <symbol>" (each is liquidated on its own)."""
        plan, ax = self.plans[i], self.market.axis(underlying)
        out = {}
        for p in plan.pools:
            if ax not in plan.pool_axes[p] or not self.arrays.margined(p):
                continue
            if p == plan.cross_pool:
                label = "cross"
            else:
                pos = plan.account.positions[plan.position_pools.index(p)]
                label = f"isolated {pos.symbol or plan.rules.underlying_of(pos)}"
            out[label] = self.curve(i, underlying, grid, [p])
        return out


def _unless_breached(result):
    """A pool already at or past its trigger has no boundary ahead: the first sign change the
    search finds from there is where it would be healthy again, not a liquidation price."""
    down, up, now = result
    down, up = down.copy(), up.copy()
    down[now] = np.nan
    up[now] = np.nan
    return down, up, now


def analyze_margin(pf: Portfolio) -> list[AccountMargin]:
    """Margin, liquidation boundaries and per-position prices for every account."""
    return CompiledPortfolio(pf).margin_results()


def _nan_to_none(x) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _account_result(plan: Plan, market: Market, arrays: K.PoolArrays, liq, bkr, index, fine, states) -> AccountMargin:
    """``states``: (equity, MM) per pool and (value, MM) per position at the marks, in USD."""
    acc, rules = plan.account, plan.rules
    prices = market.prices
    pool_eq, pool_mm, pos_value, pos_mm = states
    settle_usd = prices[plan.settle_axis] if plan.settle_axis >= 0 else STABLECOINS.get(plan.settlement, 1.0)
    equity = mm = 0.0
    liquidatable = False
    for p in plan.pools:
        e, m = float(pool_eq[p]), float(pool_mm[p])
        equity, mm = equity + e, mm + m
        liquidatable |= e - m <= 0 and arrays.margined(p)
    positions, im_total = [], 0.0
    sides = _hurting_side(plan, market)
    for pos, row, pool, t, pick in zip(acc.positions, plan.position_rows, plan.position_pools,
                                       plan.terms, sides):
        und = rules.underlying_of(pos)
        axis = market.axis(und)
        if t is None:
            positions.append(PositionMargin(pos.symbol or und, "spot", und, pos.size, 0.0, prices[axis],
                                            0.0, 0.0, 0.0, None, None, False))
            continue
        s_ax = arrays.settle_axis[pool]
        settle = prices[s_ax] if s_ax >= 0 else (1.0 if t.contract == LINEAR else prices[axis])
        value, pmm = float(pos_value[row]), float(pos_mm[row])
        mark = prices[axis] * t.basis
        if t.contract == INVERSE_OPTION:
            premium = value / settle / t.qty
            upnl_settle = t.qty * (premium - t.entry) * settle / settle_usd
            im = _option_im(t, prices[axis], premium)
            shown_mark = pos.mark if pos.mark is not None else premium
        else:
            upnl_settle = value / settle_usd
            im = rules.initial_margin(t, pos, acc, mark)
            shown_mark = mark
        isolated = pool != plan.cross_pool
        if isolated and pos.leverage is None and acc.leverage is None:
            im = pos.margin
        if plan.scenario is not None and plan.scenario.im_factor is not None:
            im = 0.0                       # the pool's scenario requirement is the account's IM
        im_total += im
        k = index[(pool, axis)]
        positions.append(PositionMargin(
            symbol=pos.symbol or _label(pos), kind=pos.kind, underlying=und, size=pos.size,
            entry=pos.entry, mark=float(shown_mark), unrealized_pnl=float(upnl_settle),
            initial_margin=float(im), maintenance_margin=float(pmm / settle_usd),
            liquidation_price=_nan_to_none(liq[pick][k] * t.basis),
            bankruptcy_price=_nan_to_none(bkr[pick][k] * t.basis),
            isolated=isolated, parameters=(f"scenario margin ({plan.scenario.model})" if t.mm_code == MM_NONE
                                           else rules.parameter_source(pos))))
    liquidation, boundaries, distance = {}, {}, {}
    for axis in sorted(set().union(*plan.pool_axes.values())):
        name = market.names[axis]
        downs = [liq[0][index[(p, axis)]] for p in plan.pools if (p, axis) in index]
        ups = [liq[1][index[(p, axis)]] for p in plan.pools if (p, axis) in index]
        d = max((float(x) for x in downs if math.isfinite(x)), default=None)
        u = min((float(x) for x in ups if math.isfinite(x)), default=None)
        liquidation[name] = {"down": d, "up": u}
        boundaries[name] = _all_boundaries(plan, arrays, market, axis, fine, liq, index)
        distance[name] = _distances(market, name, d, u)
    equity_s, mm_s = equity / settle_usd, mm / settle_usd
    loan = _loan_block(plan, market, equity, mm, liquidation) if rules.is_loan else None
    pm = None
    if plan.scenario is not None:
        pm = rules.portfolio_block(plan, arrays, market) or _portfolio_margin_block(plan, arrays, market, equity,
                                                                                    settle_usd)
        if pm["initial_margin"] is not None:
            im_total = pm["initial_margin"]
        if "liquidation_requirement" in pm:    # the rule set's own equity and requirement (same gap)
            equity_s, mm_s = pm["adjusted_equity"] / settle_usd, pm["liquidation_requirement"] / settle_usd
    return AccountMargin(
        id=acc.id, venue=rules.name, rule_version=getattr(rules, "version", None) or "current",
        mode=acc.mode, settlement_currency=plan.settlement, equity=float(equity_s),
        initial_margin=float(im_total), maintenance_margin=float(mm_s),
        margin_ratio=float(mm_s / equity_s) if equity_s > 0 else None,
        liquidatable_now=bool(liquidatable), liquidation=liquidation, boundaries=boundaries,
        distance=distance, positions=positions, loan=loan, portfolio_margin=pm)


def _portfolio_margin_block(plan: Plan, arrays, market: Market, equity: float, settle_usd: float) -> dict:
    """IM, MM, margin ratio, worst scenario and the whole risk matrix of a portfolio-mode account
    (the NumPy reference :func:`~liqrisk.margin.scenario.risk_matrix`, in the settlement currency)."""
    from liqrisk.margin.scenario import risk_matrix
    sset = plan.scenario
    rm = risk_matrix(arrays, plan.cross_pool, market.prices)
    moves = sorted(set(sset.moves))
    vol_rows = [v for v in (1, 0, -1) if v in sset.vols]
    units = []
    for u in rm["units"]:
        cell = {(m, v): float(x) / settle_usd for m, v, x in zip(sset.moves, sset.vols, u["pnl"])}
        name = market.names[u["axis"]]
        units.append({"underlying": name, "move_labels": [sset.move_label(m, name) for m in moves],
                      "vols": [{1: "vol up", 0: "vol same", -1: "vol down"}[v] for v in vol_rows],
                      "matrix": [[cell.get((m, v)) for m in moves] for v in vol_rows],
                      "worst_loss": u["worst_loss"] / settle_usd, "worst_scenario": sset.labels[u["worst_index"]],
                      **{k: u[k] / settle_usd for k in ("roll_shock", "min_charge_raw", "min_charge", "requirement")}})
    worst = max(units, key=lambda u: u["worst_loss"]) if units else None
    mm = float(rm["mm"]) / settle_usd
    im = float(sset.initial_margin(rm["requirement"])) / settle_usd
    eq = equity / settle_usd
    return {"model": sset.model, "currency": plan.settlement, "initial_margin": im, "maintenance_margin": mm,
            "margin_ratio": mm / eq if eq > 0 else None,
            "risk_matrix_margin": rm["requirement"] / settle_usd, "roll_shock": rm["roll_shock"] / settle_usd,
            "worst_scenario": None if worst is None else f"{worst['underlying']} {worst['worst_scenario']}",
            "units": units, "notes": list(sset.notes)}


def _loan_block(plan: Plan, market: Market, equity: float, mm: float, liquidation: dict) -> dict:
    """Health factor ``Σ c·P·w / Σ d·P`` from the kernel's pool state (``equity − MM`` is the
    weighted collateral minus the debt), each collateral asset's liquidation price (others fixed),
    each borrowed asset's, and what a liquidator may do when HF < 1."""
    acc, rules = plan.account, plan.rules
    price = lambda c: float(market.prices[market.axis(c)]) if c in market.names else STABLECOINS.get(c, 1.0)
    prices = {c: price(c) for c, _ in acc.supplied_items() + acc.borrowed_items()}
    debt = sum(u * prices[c] for c, u in acc.borrowed_items())
    weighted = equity - mm + debt
    hf = weighted / debt if debt > 0 else None
    block = {
        "health_factor": hf, "collateral_usd": equity + debt, "debt_usd": debt,
        "weighted_collateral_usd": weighted,
        "weights": {c: rules.weight(c, acc) for c, _ in acc.supplied_items()},
        "liquidation_price": {c: liquidation.get(c, {}).get("down") for c, _ in acc.supplied_items()
                              if c in market.names},
        "debt_liquidation_price": {c: liquidation.get(c, {}).get("up") for c, _ in acc.borrowed_items()
                                   if c in market.names},
        "parameters": {c: rules.reserve_source(c) for c, _ in acc.supplied_items() + acc.borrowed_items()},
        "liquidation_call": None}
    if hf is not None and hf < 1.0:
        block["liquidation_call"] = rules.liquidation_call(acc, prices, hf)
    return block


def _label(pos) -> str:
    if pos.kind == "option":
        return f"{pos.underlying}-{pos.expiry:%d%b%y}-{pos.strike:g}-{pos.type[0].upper()}".upper()
    if pos.kind == "future":
        return f"{pos.underlying}-{pos.expiry:%d%b%y}".upper()
    return pos.underlying


def _option_im(t: PositionTerms, spot: float, premium: float) -> float:
    from liqrisk.margin.deribit import option_margin
    im, _ = option_margin(t.is_call, t.strike, spot, premium, t.qty)
    return float(im)


def _all_boundaries(plan: Plan, arrays, market: Market, axis: int, fine, liq, index) -> list[float]:
    """Every liquidation boundary of every pool of the account on this axis (ascending). A
    concave pool has at most its nearest down and up boundary (already found); pools with options
    are scanned on the fine grid for all of them."""
    out = []
    roots = np.empty(K.MAX_ROOTS)
    for p in plan.pools:
        if (p, axis) not in index:
            continue
        if liq[2][index[(p, axis)]]:
            continue                                   # breached already: no boundary ahead
        if arrays.dense[p]:
            n = K.pool_boundaries_nb(p, axis, market.prices.copy(), True, 0.0, fine, roots, arrays.args())
            out += [float(r) for r in roots[:n]]
        else:
            k = index[(p, axis)]
            out += [float(x) for x in (liq[0][k], liq[1][k]) if math.isfinite(x)]
    return sorted(out)


def _distances(market: Market, name: str, down, up) -> dict:
    """Distance from the mark to each boundary in % of mark and in daily standard deviations
    (log distance / (σ·sqrt(1/365)), σ the ATM vol of the market block)."""
    mark = market.prices[market.axis(name)]
    sigma = market.atm_vol(name)
    out = {}
    for key, x in (("down", down), ("up", up)):
        out[f"{key}_pct"] = None if x is None else float(100 * (x / mark - 1))
        out[f"{key}_daily_sd"] = (None if x is None or not sigma
                                  else float(abs(math.log(x / mark)) / (sigma * math.sqrt(1 / 365))))
    return out
