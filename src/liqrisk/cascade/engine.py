"""The cascade loop on the compiled book: exogenous path → marks → pool check → venue
liquidations → impact → new marks, repeated within a step until no pool falls; insurance fund
and ADL settle losses.

Per step ``t`` (``t·step_hours`` after the snapshot; options are repriced with that much less
time): exogenous prices ``P0·path[t]``; the carried displacement (permanent part plus the
transient part decayed by ``exp(−resilience)``) sets the base; each round checks the pools
(:mod:`liqrisk.cascade.kernels`, the margin engine's pool state), sends the venues' orders into
the book (:mod:`liqrisk.cascade.impact`), fills them at the book-walk average and moves the
marks. Book axes the scenario does not list (a portfolio file's other underlyings and coins)
stay at the population's snapshot marks. Orders move the book in base units: linear sizes, the
face of inverse contracts divided by the mark; options are closed at their model value and do
not move the underlying's book.

Settlement of a round (Binance-style; every venue has its own insurance fund and its own ADL,
and nothing a bankruptcy on one venue sets off touches another venue's fund or accounts):

1. orders fill at the round's average price ``X``; the position's value at ``X`` is realised
   into its pool's wallet (USD, or the settlement coin at its price of the moment), the
   liquidation fee (fraction of the USD notional, capped at the remaining equity) goes to the
   venue's fund; a fully liquidated trader keeps any equity left;
2. a full liquidation ending below zero is covered by its venue's fund, pools in index order;
   what the fund cannot cover is the venue's (``backstop``);
3. with ``adl``, a pool the fund cannot cover does not go to the book: its positions are closed
   at the marks, what its venue's fund still holds is paid in, and the rest of its deficit is
   passed, with its futures, to the opposite side of the same venue and axis ranked by the
   venue's ADL score (:meth:`LiquidationResponse.adl_score`) — they close at the bankruptcy
   price; what no counterparty can take the venue takes over (``backstop``).

Collateral loans (lending-protocol accounts) are checked every round at its marks and, when
their health is below 1, liquidated by their protocol's response after the round's position
orders, their forced sales walking the same book (:mod:`liqrisk.cascade.loans`); the
liquidators' take is the ledger's ``liquidators`` term.

Funding (per asset, the forms of the portfolio's market block — a rate per 8 h, a CSV series of
rates per payment, or the venue's premium formula on impact prices against the index or the
asset's price — one schedule per asset and venue, :mod:`liqrisk.advise.funding`): at each
funding time of a pool's venue (every 8 h from the start, Hyperliquid hourly at a rate scaled to
its interval) within a step, every perp (a linear or inverse position without expiry) pays
``size × mark × rate`` — at the step's marks before its liquidation rounds — out of its pool's
wallet (a long pays a positive rate; the counterparty is outside the book).

Money identity per step, USD (:meth:`CascadeResult.conservation_error`): Σ Δwallet + Δfund +
backstop + liquidators = PnL realised at book fills + PnL realised at ADL marks + funding; the run stops with
:class:`ConservationError` if a step breaks it by more than 1e-9 of the gross flows.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from liqrisk.cascade.book import Population, usd_notional
from liqrisk.cascade.impact import average_displacement, displacement
from liqrisk.cascade.loans import execute, falling_sales, sale_flows
from liqrisk.cascade.kernels import (FULL, PARTIAL, liquidation_orders_nb, liquidation_orders_np,
                                     pool_states_serial_nb, position_values_nb, screen_bounds, screen_nb)
from liqrisk.cascade.result import CascadeResult
from liqrisk.cascade.scenario import Scenario, ScenarioError
from liqrisk.margin.base import INVERSE, INVERSE_OPTION, LINEAR, LIQ_FRACTION, NOTIONAL_SIZE

LEDGER = ("wallets", "insurance", "backstop", "book_pnl", "adl_pnl", "fees", "funding", "liquidators")
#: largest relative ledger residual a step may leave (float64 sums over ~1e6 flows stay far below)
CONSERVATION_TOL = 1e-9
SECONDS_PER_YEAR = 365.0 * 86400.0
#: the full screen looks this far ahead (fraction of each mark); until the marks have moved that
#: far, only its candidates can fall
SCREEN_PAD = 0.01


class ConservationError(RuntimeError):
    """The cascade's money identity failed: a bookkeeping defect, never a market outcome."""


def engine_assets(pop: Population, scenario: Scenario) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """(assets, start prices, asset of each book axis): the scenario's assets, then the book's
    other axes at the population's snapshot marks."""
    extra = [i for i, a in enumerate(pop.assets) if a not in scenario.assets]
    unpriced = [pop.assets[i] for i in extra if not np.isfinite(pop.marks[i])]
    if unpriced:
        raise ScenarioError("assets", f"population holds {unpriced[0]} but the scenario has no price for it")
    assets = scenario.assets + tuple(pop.assets[i] for i in extra)
    prices = np.concatenate([scenario.prices, pop.marks[extra]])
    return assets, prices, np.array([assets.index(a) for a in pop.assets], np.int64)


def _expand(start, end, pools):
    """Position indices of ``pools`` and the local pool number of each."""
    counts = end[pools] - start[pools]
    local = np.repeat(np.arange(len(pools)), counts)
    return np.arange(counts.sum()) + np.repeat(start[pools] - np.cumsum(counts) + counts, counts), local


def _cover(deficit, fund, venue):
    """Sequential cover of ``deficit`` (in order) by the fund of each entry's venue
    (``fund[venue[i]]``); venues never pay for each other."""
    out = np.zeros(len(deficit))
    for v in np.unique(venue):
        sel = venue == v
        d = deficit[sel]
        out[sel] = np.clip(fund[v] - (np.cumsum(d) - d), 0.0, d)
    return out


class _State:
    """Mutable book of one run: the population's pool arrays with the run's own sizes, wallets
    and coin legs."""

    def __init__(self, pop: Population, scenario: Scenario):
        self.pop = pop
        self.assets, self.p0, self.axis_asset = engine_assets(pop, scenario)
        a = pop.arrays
        self.a = replace(a, qty=a.qty.copy(), p2=a.p2.copy(), const_usd=a.const_usd.copy(),
                         leg_amount=a.leg_amount.copy(), const_mm=a.const_mm.copy())
        self.loans = None if pop.loans is None else pop.loans.copy()
        self.args = self.a.args()
        self.pos_pool = pop.pos_pool()
        self.pos_asset = self.axis_asset[a.axis]
        self.leg_pool = np.repeat(np.arange(pop.n_pools), a.leg_end - a.leg_start)
        rs = pop.responses
        self.rules = {"style": np.array([r.style for r in rs], np.int64),
                      "min_tier": np.array([r.min_tier for r in rs], np.int64),
                      "threshold": np.array([r.threshold_usd for r in rs]),
                      "fraction": np.array([r.fraction for r in rs]),
                      "backstop": np.array([r.backstop_ratio for r in rs]),
                      "cooldown": np.array([r.cooldown_s for r in rs])}
        n, n_axes = pop.n_pools, len(pop.assets)
        self.grad, self.always = screen_bounds(a, n_axes)
        self.slack = np.full(n, -np.inf)           # unknown: check at the first round
        self.ref = np.zeros((n, n_axes))
        self.scan = np.empty(n, np.int64)
        self.all_pools = np.arange(n, dtype=np.int64)
        self.cand = None                           # candidates of the last full screen …
        self.m0 = None                             # … made at these book prices
        self.dq = np.zeros(len(a.qty))
        self.outcome = np.zeros(n, np.int8)
        self.touched = np.zeros(n, np.int64)
        self.cooldown_until = np.full(n, -np.inf)
        self.cooldown = np.zeros(n, np.bool_)

    def book(self, marks):
        """Prices per book axis from the engine's asset prices."""
        return marks[self.axis_asset]

    def invalidate(self, pools, candidates: bool = True):
        """Force a check of ``pools`` (their wallet or sizes changed); ``candidates=False`` when
        they may lie outside the current candidate list (which is then rebuilt)."""
        self.slack[pools] = -np.inf
        if not candidates:
            self.cand = None

    def screen(self, bp) -> int:
        """Pools to check at book prices ``bp`` into ``self.scan``: a full screen padded by
        ``SCREEN_PAD`` when the marks left the last one's pad (or when most pools had no known
        slack yet), then its candidates exactly."""
        if self.cand is None or (np.abs(bp - self.m0) > SCREEN_PAD * self.m0).any():
            k = screen_nb(self.all_pools, bp, SCREEN_PAD * bp, self.ref, self.slack, self.grad, self.always,
                          self.scan)
            cand = self.scan[:k].copy()
            self.m0 = bp.copy()
            self.cand = cand
            out = screen_nb(cand, bp, np.zeros(len(bp)), self.ref, self.slack, self.grad, self.always,
                            self.scan)
            if np.isneginf(self.slack[cand]).sum() > 0.1 * len(self.slack):
                self.cand = None                   # mostly unknown (the first round): afresh next round
            return out
        return screen_nb(self.cand, bp, np.zeros(len(bp)), self.ref, self.slack, self.grad, self.always,
                         self.scan)

    def orders(self, marks, t_years, backend):
        """(touched pools, outcome of each, dq of their positions, position idx, local pool)."""
        bp = self.book(marks)
        pr = self.pop.pool_response
        r = self.rules
        if backend == "numba":
            k = self.screen(bp)
            n = liquidation_orders_nb(self.scan[:k], bp, t_years, self.args, pr, r["style"], r["min_tier"],
                                      r["threshold"], r["fraction"], r["backstop"], self.cooldown,
                                      self.pop.liquidation_fee, self.ref, self.slack, self.dq, self.outcome,
                                      self.touched)
            touched = self.touched[:n].copy()
            outcome = self.outcome[touched]
            idx, local = _expand(self.a.pos_start, self.a.pos_end, touched)
            dq = self.dq[idx].copy()
            self.dq[idx] = 0.0
            self.outcome[touched] = 0
        elif backend == "numpy":
            dq_all, out_all, touched = liquidation_orders_np(bp, t_years, self.a, pr, r, self.cooldown,
                                                             self.pop.liquidation_fee)
            outcome = out_all[touched]
            idx, local = _expand(self.a.pos_start, self.a.pos_end, touched)
            dq = dq_all[idx]
        else:
            raise ValueError(f"unknown backend '{backend}' (numba | numpy)")
        return touched, outcome, dq, idx, local

    def loan_sales(self, marks, t_years) -> list:
        """The loan accounts falling at ``marks`` with their protocols' forced sales
        (:func:`liqrisk.cascade.loans.falling_sales`)."""
        if self.loans is None:
            return []
        bp = self.book(marks)
        eq, mm = self.pool_states(self.loans.pools, bp, t_years)
        return falling_sales(self.loans, eq, mm, bp)

    def resize(self, idx, dq):
        """Apply size changes (a size-fixed tier's notional scales with the size)."""
        a = self.a
        q = a.qty[idx]
        new = q + dq
        new[np.abs(new) <= 1e-12 * np.abs(q)] = 0.0
        scale = a.notional_mode[idx] == NOTIONAL_SIZE
        a.p2[idx[scale]] *= np.where(q[scale] != 0, new[scale] / np.where(q[scale] != 0, q[scale], 1.0), 0.0)
        a.qty[idx] = new

    def credit(self, pools, usd, bp) -> float:
        """Credit ``usd`` to the wallets of distinct ``pools`` (USD, or the settlement coin at
        ``bp``); returns the measured change of the wallets' USD value."""
        a, leg = self.a, self.pop.settle_leg[pools]
        coin = leg >= 0
        before = a.const_usd[pools].sum() + (a.leg_amount[leg[coin]] * bp[a.settle_axis[pools[coin]]]).sum()
        a.const_usd[pools[~coin]] += usd[~coin]
        a.leg_amount[leg[coin]] += usd[coin] / bp[a.settle_axis[pools[coin]]]
        after = a.const_usd[pools].sum() + (a.leg_amount[leg[coin]] * bp[a.settle_axis[pools[coin]]]).sum()
        return float(after - before)

    def pool_states(self, pools, bp, t_years):
        return pool_states_serial_nb(np.ascontiguousarray(pools, np.int64), bp, t_years, self.args)

    def values(self, idx, bp, t_years):
        return position_values_nb(np.ascontiguousarray(idx, np.int64), bp, t_years, self.pos_pool, self.args)

    def base_flow(self, idx, dq, marks):
        """Order flow in base units per engine asset (inverse face / mark; options: none)."""
        c = self.a.contract[idx]
        m = self.book(marks)[self.a.axis[idx]] * self.a.basis[idx]
        units = np.where(c == LINEAR, dq, np.where(c == INVERSE, dq / m, 0.0))
        return np.bincount(self.pos_asset[idx], units, minlength=len(self.assets)).astype(float)


def simulate(population: Population, scenario: Scenario, backend: str = "numba",
             on_step=None) -> CascadeResult:
    """Run the cascade of ``scenario`` over ``population`` (``backend``: numba kernel or the
    NumPy reference of the pool check). ``on_step(fraction_done)`` is called after every step;
    an exception it raises stops the run there (the service's cancel and time limit)."""
    st = _State(population, scenario)
    A, T, As = len(st.assets), scenario.steps, len(scenario.assets)
    exo_path = np.hstack([scenario.prices * scenario.path, np.tile(st.p0[As:], (T + 1, 1))])
    marks_out = np.empty((T + 1, A))
    marks_out[0] = st.p0
    liq_notional = np.zeros((T + 1, A))
    n_liq = np.zeros(T + 1, np.int64)
    n_full = np.zeros(T + 1, np.int64)
    rounds = np.zeros(T + 1, np.int64)
    ledger = {k: np.zeros(T + 1) for k in LEDGER}
    liquidated = np.zeros(population.n_accounts, bool)
    adl_events: list[dict] = []
    fund = scenario.funds(population.venues)              # one fund per venue code
    fund_by_venue = np.empty((T + 1, len(fund)))
    fund_by_venue[0] = fund
    perm = np.zeros(A)
    trans = np.zeros(A)
    pad = A - As
    frac_pool = st.rules["style"][population.pool_response] == LIQ_FRACTION
    cooldown_s = st.rules["cooldown"][population.pool_response]
    schedule = _funding_schedule(st, scenario)
    for t in range(1, T + 1):
        exo = exo_path[t]
        t_years = t * scenario.step_hours * 3600.0 / SECONDS_PER_YEAR
        now_s = t * scenario.step_hours * 3600.0
        c, alpha, pf = (np.concatenate([x, np.full(pad, v)]) for x, v in
                        zip(scenario.impact.coefficients(scenario.prices * scenario.path[t]), (0.0, 1.0, 1.0)))
        trans *= np.exp(-scenario.impact.resilience)
        base = 1.0 + perm + trans
        flow = np.zeros(A)
        st.cooldown[:] = st.cooldown_until > now_s
        step = {k: 0.0 for k in LEDGER}
        if schedule is not None:
            _pay_funding(st, schedule, t, exo * np.maximum(base, 1e-9), step)
        for _ in range(scenario.max_rounds):
            marks = exo * np.maximum(base + displacement(c, alpha, flow), 1e-9)
            touched, outcome, dq, idx, local = st.orders(marks, t_years, backend)
            sales = st.loan_sales(marks, t_years)
            if len(touched) == 0 and not sales:
                break
            rounds[t] += 1
            fill = lambda f: exo * np.maximum(base + average_displacement(c, alpha, flow, flow + f), 1e-9)  # noqa: E731
            if len(touched):
                fund, dflow, notional = _settle(st, scenario, t, t_years, marks, fill, touched, outcome, dq, idx,
                                                local, fund, step, adl_events)
                flow += dflow
                liq_notional[t] += notional
                n_liq[t] += len(touched)
                n_full[t] += int((outcome == FULL).sum())
                liquidated[population.pool_account[touched]] = True
                st.invalidate(touched)
                part = touched[frac_pool[touched] & (outcome == PARTIAL)]
                st.cooldown[part] = True
                st.cooldown_until[part] = now_s + cooldown_s[part]
            if sales:
                fund, dflow, notional, pools, full = _settle_loans(st, sales, fill, fund, step)
                flow += dflow
                liq_notional[t] += notional
                n_liq[t] += len(pools)
                n_full[t] += int(full.sum())
                liquidated[population.pool_account[pools]] = True
        disp = displacement(c, alpha, flow)
        perm += pf * disp
        trans += (1.0 - pf) * disp
        marks_out[t] = exo * np.maximum(1.0 + perm + trans, 1e-9)
        fund_by_venue[t] = fund
        for k in LEDGER:
            ledger[k][t] = step[k]
        if on_step is not None:
            on_step(t / T)
    result = CascadeResult(scenario.name, st.assets, exo_path, marks_out, liq_notional, n_liq, n_full, rounds,
                           fund_by_venue.sum(axis=1), ledger, adl_events, population.account_id[liquidated],
                           population.n_accounts,
                           insurance_fund_by_venue={v: fund_by_venue[:, i] for i, v in enumerate(population.venues)})
    err = result.conservation_error()
    if (err > CONSERVATION_TOL).any():
        t = int(np.argmax(err))
        raise ConservationError(f"cascade '{scenario.name}': money identity broken at step {t} "
                                f"(residual {err[t]:.3g} of the gross flows)")
    return result


def _funding_schedule(st, scenario: Scenario):
    """(key per position, rates): ``key[i]`` the (asset, venue) funding model of position ``i``
    (−1: pays none — not a perp, or no funding on its asset) and ``rates[key, t]`` what one unit
    of notional pays at the funding times in step t ((t−1)·h, t·h] — the Monte Carlo's
    :meth:`~liqrisk.advise.funding.FundingSchedule.per_step` on the cascade's steps; None when
    nothing pays (or the steps take no time)."""
    from liqrisk.advise.funding import YEAR_HOURS, FundingSchedule, model_of
    if not scenario.funding or scenario.step_hours <= 0:
        return None
    a, pop = st.a, st.pop
    perp = (a.expiry == 0.0) & ((a.contract == LINEAR) | (a.contract == INVERSE))
    n_venues = len(pop.venues)
    code = st.pos_asset * n_venues + pop.pool_venue[st.pos_pool]
    used = np.unique(code[perp & np.isin(st.pos_asset, [k for k, x in enumerate(st.assets) if x in scenario.funding])])
    if len(used) == 0:
        return None
    models = [model_of(scenario.funding[st.assets[c // n_venues]], pop.venues[c % n_venues], None,
                       float(scenario.prices[c // n_venues])) for c in used]
    key = np.full(len(code), -1, np.int64)
    hit = perp & np.isin(code, used)
    key[hit] = np.searchsorted(used, code[hit])
    _, rates = FundingSchedule.of(models).per_step(scenario.step_hours / YEAR_HOURS, scenario.steps)
    return (key, rates) if np.any(rates != 0.0) else None


def _pay_funding(st, schedule, t, marks, step):
    """Funding due in step ``t`` paid out of the pools' wallets (module docstring)."""
    key, rates = schedule
    rate = np.where(key >= 0, rates[np.maximum(key, 0), t], 0.0)
    idx = np.flatnonzero((rate != 0.0) & (st.a.qty != 0.0))
    if len(idx) == 0:
        return
    a, bp = st.a, st.book(marks)
    price = bp[a.axis[idx]] * a.basis[idx]
    usd = usd_notional(a.contract[idx], a.qty[idx], price) * np.sign(a.qty[idx]) * rate[idx]
    pools, local = np.unique(st.pos_pool[idx], return_inverse=True)
    paid = st.credit(pools, -np.bincount(local, usd, minlength=len(pools)), bp)
    step["wallets"] += paid
    step["funding"] += paid
    st.invalidate(pools, candidates=False)


def _money(st, pools, idx, local, dq, bp, t_years):
    """At book prices ``bp``: per-position realised value of ``dq`` (USD), per-pool fee paid
    (capped at the remaining equity) and pool equity before the fills."""
    n = len(pools)
    value, _ = st.values(idx, bp, t_years)
    q = st.a.qty[idx]
    realised = np.where(q != 0, value * (-dq / np.where(q != 0, q, 1.0)), 0.0)
    price = bp[st.a.axis[idx]] * st.a.basis[idx]
    fee = st.pop.liquidation_fee[idx] * usd_notional(st.a.contract[idx], dq, price)
    equity, _ = st.pool_states(pools, bp, t_years)
    fee_paid = np.minimum(np.bincount(local, fee, minlength=n), np.maximum(equity, 0.0))
    return realised, fee_paid, equity


def _settle(st, sc, t, t_years, marks, fill, touched, outcome, dq, idx, local, fund, step, adl_events):
    """Settle one round; returns (funds per venue, book flow per asset, liquidated notional per asset)."""
    A, nu = len(st.assets), len(touched)
    vu = st.pop.pool_venue[touched]
    full = outcome == FULL
    bflow = st.base_flow(idx, dq, marks)
    bp = st.book(fill(bflow))
    money = _money(st, touched, idx, local, dq, bp, t_years)    # every order to the book
    adl = np.zeros(nu, bool)
    if sc.adl:
        deficit = np.where(full, np.maximum(money[1] - money[2], 0.0), 0.0)
        adl = full & (deficit > _cover(deficit, fund, vu) * (1 + 1e-12) + 1e-9)
    book = ~adl[local]
    if adl.any():                                                # the ADL pools stay off the book
        bflow = st.base_flow(idx[book], dq[book], marks)
        bp = st.book(fill(bflow))
        money = _money(st, touched, idx, local, dq, bp, t_years)
    realised, fee_paid, equity = money
    fee_paid = np.where(adl, 0.0, fee_paid)
    deficit = np.where(full & ~adl, np.maximum(fee_paid - equity, 0.0), 0.0)
    cover = _cover(deficit, fund, vu)
    uncovered = deficit - cover
    fund = fund + np.bincount(vu, fee_paid - cover, minlength=len(fund))
    step["insurance"] += (fee_paid - cover).sum()        # the flow itself: a large fund's balance
    credit = np.bincount(local[book], realised[book], minlength=nu) - fee_paid + cover + uncovered
    step["wallets"] += st.credit(touched[~adl], credit[~adl], bp)
    step["book_pnl"] += realised[book].sum()
    step["fees"] += fee_paid.sum()
    step["backstop"] -= uncovered.sum()
    price = bp[st.a.axis[idx]] * st.a.basis[idx]
    notional = np.bincount(st.pos_asset[idx[book]], usd_notional(st.a.contract[idx[book]], dq[book], price[book]),
                           minlength=A).astype(float)
    st.resize(idx[book], dq[book])
    if adl.any():
        fund, adl_notional = _deleverage(st, sc, t, t_years, st.book(marks), touched, adl, fund, step, adl_events)
        notional += adl_notional
    return fund, bflow, notional


def _settle_loans(st, sales, fill, fund, step):
    """Execute the loans' forced sales at the fill of their book flow (after the round's position
    orders); returns (funds per venue, book flow per asset, liquidated notional per asset, pools,
    full flag of each). The protocol's take goes to its fund, a loss it cannot cover to backstop."""
    lb = st.loans
    dflow = sale_flows(lb, sales, st.axis_asset, len(st.assets))
    m = execute(lb, st.a, sales, st.book(fill(dflow)))
    pools = lb.pools[[k for k, _ in sales]]
    vu = st.pop.pool_venue[pools]
    gain, loss = np.maximum(m["protocol"], 0.0), np.maximum(-m["protocol"], 0.0)
    cover = _cover(loss, fund, vu)
    fund = fund + np.bincount(vu, gain - cover, minlength=len(fund))
    step["insurance"] += (gain - cover).sum()
    step["fees"] += gain.sum()
    step["backstop"] -= (loss - cover).sum()
    step["wallets"] += m["wallet"].sum()
    step["liquidators"] += m["liquidator"].sum()
    notional = np.bincount(st.axis_asset, m["sold_usd"].sum(axis=0), minlength=len(st.assets)).astype(float)
    return fund, dflow, notional, pools, np.array([sale.full for _, sale in sales])


def _deleverage(st, sc, t, t_years, bp, touched, adl, fund, step, adl_events):
    """Close the ADL pools at the marks ``bp``: their venue's fund pays what it still holds, the
    rest of each deficit goes with its futures (by USD notional) to ranked opposite positions of
    the same venue and axis, the remainder to the venue."""
    a = st.a
    pools = touched[adl]
    pidx, plocal = _expand(a.pos_start, a.pos_end, pools)
    vu = st.pop.pool_venue[pools]
    eq, _ = st.pool_states(pools, bp, t_years)
    cover = _cover(np.maximum(-eq, 0.0), fund, vu)
    fund = fund - np.bincount(vu, cover, minlength=len(fund))
    step["insurance"] -= cover.sum()
    deficit = np.maximum(-eq - cover, 0.0)
    value, _ = st.values(pidx, bp, t_years)
    q = a.qty[pidx]
    price = bp[a.axis[pidx]] * a.basis[pidx]
    n = np.where((a.contract[pidx] != INVERSE_OPTION) & (q != 0), usd_notional(a.contract[pidx], q, price), 0.0)
    n_pool = np.bincount(plocal, n, minlength=len(pools))
    share = deficit[plocal] * np.where(n_pool[plocal] > 0, n / np.where(n_pool > 0, n_pool, 1.0)[plocal], 0.0)
    step["backstop"] -= deficit[n_pool <= 0].sum()
    credit = np.bincount(plocal, value, minlength=len(pools)) + cover + deficit
    step["wallets"] += st.credit(pools, credit, bp)
    step["adl_pnl"] += value.sum()
    busy = np.zeros(st.pop.n_pools, bool)
    busy[touched] = True
    legs_usd = np.bincount(st.leg_pool, a.leg_amount * bp[a.leg_axis], minlength=st.pop.n_pools)
    pv = vu[plocal]
    for venue in np.unique(pv):
        for axis in np.unique(a.axis[pidx]):
            for side in (1.0, -1.0):
                mine = (pv == venue) & (a.axis[pidx] == axis) & (np.sign(q) == side) & (n > 0)
                if mine.any():
                    _adl_group(st, sc, t, t_years, bp, venue, axis, side, pools[plocal[mine][0]], q[mine], n[mine],
                               price[mine], share[mine], busy, legs_usd, step, adl_events)
    notional = np.bincount(st.pos_asset[pidx], n, minlength=len(st.assets)).astype(float)
    a.qty[pidx] = 0.0
    return fund, notional


def _adl_group(st, sc, t, t_years, bp, venue, axis, side, pool0, q, n, price, share, busy, legs_usd, step,
               adl_events):
    """ADL of one bankrupt side of ``axis`` on ``venue`` (sizes ``q``, USD notionals ``n``,
    deficits ``share``) against that venue's opposite side."""
    a = st.a
    N, D = n.sum(), share.sum()
    cand = np.flatnonzero((st.pop.pool_venue[st.pos_pool] == venue) & (a.axis == axis) & (np.sign(a.qty) == -side)
                          & (a.contract != INVERSE_OPTION) & ~busy[st.pos_pool])
    cp = st.pos_pool[cand]
    upnl, _ = st.values(cand, bp, t_years)
    upools, inv = np.unique(cp, return_inverse=True)
    eq, mm = st.pool_states(upools, bp, t_years)
    n_c = usd_notional(a.contract[cand], a.qty[cand], bp[axis] * a.basis[cand])
    wallet = a.const_usd[upools] + legs_usd[upools]
    response = st.pop.responses[st.pop.pool_response[pool0]]
    score = response.adl_score(upnl, wallet[inv], eq[inv], mm[inv], n_c)
    order = np.lexsort((cand, -score))
    take = np.clip(N - (np.cumsum(n_c[order]) - n_c[order]), 0.0, n_c[order])
    hit = take > 0
    rows, f = order[hit], take[hit] / n_c[order][hit]
    realised = upnl[rows] * f
    transfer = D * take[hit] / N
    hit_pools = np.unique(cp[rows])
    credit = np.bincount(np.searchsorted(hit_pools, cp[rows]), realised - transfer, minlength=len(hit_pools))
    step["wallets"] += st.credit(hit_pools, credit, bp)
    step["adl_pnl"] += realised.sum()
    taken = take.sum() / N
    step["backstop"] -= D * (1.0 - taken)
    st.resize(cand[rows], -a.qty[cand[rows]] * f)
    st.invalidate(hit_pools, candidates=False)
    qty = np.abs(q).sum()
    adl_events.append({"step": t, "venue": st.pop.venues[venue], "asset": st.assets[st.axis_asset[axis]],
                       "bankrupt_side": "long" if side > 0 else "short", "quantity": float(qty),
                       "price": float((n * price).sum() / N * (1.0 + side * D / N)),
                       "counterparties": int(hit.sum()), "venue_takeover": float(qty * (1.0 - taken))})
