"""The cascade loop: exogenous path → marks → account check → venue liquidations → impact →
new marks, repeated within a step until no unit falls; insurance fund and ADL settle losses.

Per step ``t``: exogenous prices ``P0·path[t]``; the carried displacement (permanent part plus
the transient part decayed by ``exp(−resilience)``) sets the base; each round checks every unit
(:mod:`liqrisk.cascade.kernels`), sends the venue's orders into the book
(:mod:`liqrisk.cascade.impact`), fills them at the book-walk average and moves the marks.

Settlement of a round (Binance-style, docs/venues.md §1):

Every venue has its own insurance fund (:meth:`Scenario.funds`) and its own ADL: nothing a
bankruptcy on one venue sets off touches another venue's fund or accounts.

1. orders fill at the round's average price ``X``; the trader realises ``−dq·(X − entry)`` and
   pays the liquidation fee (fraction of filled notional, capped at remaining equity) to its
   venue's insurance fund; a fully liquidated trader keeps any equity left;
2. a full liquidation ending below zero is covered by its venue's fund, units in index order;
3. once that fund cannot cover a unit, the unit does not go to the book: it is closed by
   auto-deleveraging at its bankruptcy prices ``P_j = M_j·(1 + side_j·ρ)`` (one ``ρ`` per
   unit, so its wallet ends at exactly 0 after what the fund could still pay), against the
   opposite side of each asset **on the same venue** ranked by ``PnL% × margin ratio``
   (:func:`adl_score`), all at the volume-weighted bankruptcy price; quantity no counterparty
   can take is taken over by the venue at that price.

Money identity per step (tested to 1e-9): Σ Δwallet + Δfund + backstop = PnL settled at book
fills + PnL settled at ADL fills (see :class:`~liqrisk.cascade.result.CascadeResult`).
"""
from __future__ import annotations

import numpy as np

from liqrisk.cascade.impact import average_displacement, displacement
from liqrisk.cascade.kernels import FULL, liquidation_orders_nb, liquidation_orders_np, screen_nb, unit_state_np
from liqrisk.cascade.population import Population
from liqrisk.cascade.result import CascadeResult
from liqrisk.cascade.scenario import Scenario, ScenarioError
from liqrisk.cascade.venues import HYPERLIQUID_20PCT, rule_arrays

LEDGER = ("wallets", "insurance", "backstop", "book_pnl", "adl_pnl", "fees")


def _expand(ptr, units):
    """Position indices of ``units`` (CSR) and the local unit number of each."""
    counts = ptr[units + 1] - ptr[units]
    local = np.repeat(np.arange(len(units)), counts)
    return np.arange(counts.sum()) + np.repeat(ptr[units] - np.cumsum(counts) + counts, counts), local


def _cover(deficit, fund, venue):
    """Sequential cover of ``deficit`` (in order) by the fund of each entry's venue
    (``fund[venue[i]]``); venues never pay for each other."""
    out = np.zeros(len(deficit))
    for v in np.unique(venue):
        sel = venue == v
        d = deficit[sel]
        out[sel] = np.clip(fund[v] - (np.cumsum(d) - d), 0.0, d)
    return out


def adl_score(upnl, wallet, equity, mm):
    """Binance ADL ranking of counterparty positions: ``PnL% × margin ratio`` with
    ``PnL% = max(0, uPnL)/max(1, wallet)`` and ``margin ratio = MM/(WB + uPnL)``, 0 when
    ``WB + uPnL ≤ 0``; a position without profit scores 0 (never NaN)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.where(equity > 0, mm / np.where(equity > 0, equity, 1.0), 0.0)
        pnl = np.maximum(upnl, 0.0) / np.maximum(wallet, 1.0)
        return np.where(pnl > 0, pnl * ratio, 0.0)


class _State:
    """Mutable arrays of one run."""

    def __init__(self, pop: Population, scenario: Scenario):
        missing = [a for a in pop.assets if a not in scenario.assets]
        if missing:
            raise ScenarioError("assets", f"population holds {missing[0]} but the scenario has no price for it")
        self.u = pop.compile()
        amap = np.array([scenario.assets.index(a) for a in pop.assets], np.int64)
        self.asset = amap[self.u.asset]
        self.size = self.u.size.copy()
        self.wallet = self.u.wallet.copy()
        self.rules = rule_arrays(pop.venues)
        self.venues = pop.venues
        self.venue = self.u.venue                             # per unit
        self.fee = self.rules["fee"][self.u.venue][self.u.unit_of_position()]  # per position
        self.n_assets = len(scenario.assets)
        self.dq = np.zeros(len(self.size))
        self.outcome = np.zeros(len(self.wallet), np.int8)
        self.touched = np.zeros(len(self.wallet), np.int64)
        self.cooldown = np.zeros(len(self.wallet), np.bool_)
        self.slack = np.full(len(self.wallet), -np.inf)      # unknown: check at the first round
        self.ref = np.zeros((len(self.wallet), self.n_assets))
        mmr_max = np.maximum.reduceat(self.u.t_mmr, self.u.tier_ptr[:-1])
        dedu = np.array([t.deduction for t in pop.tiers])
        g = np.abs(self.size) * (1.0 + mmr_max[self.u.tier])
        whole = ~dedu[self.u.tier]
        g[whole] = np.inf
        unit = self.u.unit_of_position()
        # whole-position tiers (OKX): no Lipschitz bound, so these units are checked every round
        self.always = np.bincount(unit, whole, minlength=len(self.wallet)) > 0
        self.grad = np.zeros((len(self.wallet), self.n_assets))
        np.add.at(self.grad, (unit, self.asset), g)
        self.scan = np.empty(len(self.wallet), np.int64)

    def invalidate(self, units):
        """Force a check of ``units`` (their wallet or positions changed)."""
        self.slack[units] = -np.inf

    def orders(self, marks, backend):
        """(touched units, outcome of each, dq of their positions, position idx, local unit)."""
        u, r = self.u, self.rules
        if backend == "numba":
            k = screen_nb(marks, self.ref, self.slack, self.grad, self.always, self.scan)
            n = liquidation_orders_nb(self.scan[:k], marks, u.ptr, self.wallet, u.venue, self.cooldown,
                                      self.asset, self.size, u.entry, u.tier, u.tier_ptr, u.t_floor, u.t_mmr,
                                      u.t_cum, r["style"], r["fee"], r["min_tier"], r["threshold"],
                                      r["fraction"], r["backstop"], self.ref, self.slack, self.dq,
                                      self.outcome, self.touched)
            touched = self.touched[:n].copy()
            outcome = self.outcome[touched]
            idx, local = _expand(u.ptr, touched)
            dq = self.dq[idx].copy()
            self.dq[idx] = 0.0
            self.outcome[touched] = 0
        elif backend == "numpy":
            view = _AssetView(u, self.asset)
            dq_all, out_all, touched = liquidation_orders_np(marks, view, self.size, self.wallet,
                                                             self.cooldown, r)
            outcome = out_all[touched]
            idx, local = _expand(u.ptr, touched)
            dq = dq_all[idx]
        else:
            raise ValueError(f"unknown backend '{backend}' (numba | numpy)")
        return touched, outcome, dq, idx, local


class _AssetView:
    """``MarginUnits`` with asset indices remapped to the scenario's assets."""

    def __init__(self, units, asset):
        self.__dict__.update(units.__dict__)
        self.asset = asset
        self._unit = units.unit_of_position()

    def unit_of_position(self):
        return self._unit


def simulate(population: Population, scenario: Scenario, backend: str = "numba") -> CascadeResult:
    """Run the cascade of ``scenario`` over ``population`` (``backend``: numba kernel or the
    NumPy reference of the account check)."""
    st = _State(population, scenario)
    A, T = st.n_assets, scenario.steps
    p0 = scenario.prices
    exo_path = p0 * scenario.path
    marks_out = np.empty((T + 1, A))
    marks_out[0] = p0
    liq_notional = np.zeros((T + 1, A))
    n_liq = np.zeros(T + 1, np.int64)
    n_full = np.zeros(T + 1, np.int64)
    rounds = np.zeros(T + 1, np.int64)
    fund_path = np.empty(T + 1)
    ledger = {k: np.zeros(T + 1) for k in LEDGER}
    liquidated = np.zeros(population.n_accounts, bool)
    adl_events: list[dict] = []
    fund = scenario.funds(population.venues)              # one fund per venue code
    fund_by_venue = np.empty((T + 1, len(fund)))
    fund_by_venue[0] = fund
    fund_path[0] = fund.sum()
    perm = np.zeros(A)
    trans = np.zeros(A)
    for t in range(1, T + 1):
        exo = exo_path[t]
        c, alpha, pf = scenario.impact.coefficients(exo)
        trans *= np.exp(-scenario.impact.resilience)
        base = 1.0 + perm + trans
        flow = np.zeros(A)
        st.cooldown[:] = False
        w0, f0 = st.wallet.sum(), fund.sum()
        step = {k: 0.0 for k in LEDGER}
        for _ in range(scenario.max_rounds):
            marks = exo * np.maximum(base + displacement(c, alpha, flow), 1e-9)
            touched, outcome, dq, idx, local = st.orders(marks, backend)
            if len(touched) == 0:
                break
            rounds[t] += 1
            fill = lambda f: exo * np.maximum(base + average_displacement(c, alpha, flow, flow + f), 1e-9)  # noqa: E731
            fund, dflow, notional = _settle(st, scenario, t, marks, fill, touched, outcome, dq, idx, local,
                                            fund, step, adl_events)
            flow += dflow
            liq_notional[t] += notional
            n_liq[t] += len(touched)
            n_full[t] += int((outcome == FULL).sum())
            liquidated[st.u.unit_account[touched]] = True
            st.invalidate(touched)
            hl = st.rules["style"][st.u.venue[touched]] == HYPERLIQUID_20PCT
            st.cooldown[touched[hl & (outcome != FULL)]] = True
        disp = displacement(c, alpha, flow)
        perm += pf * disp
        trans += (1.0 - pf) * disp
        marks_out[t] = exo * np.maximum(1.0 + perm + trans, 1e-9)
        fund_path[t] = fund.sum()
        fund_by_venue[t] = fund
        step["wallets"] = st.wallet.sum() - w0
        step["insurance"] = fund.sum() - f0
        for k in LEDGER:
            ledger[k][t] = step[k]
    return CascadeResult(scenario.name, scenario.assets, exo_path, marks_out, liq_notional, n_liq, n_full,
                         rounds, fund_path, ledger, adl_events, population.account_id[liquidated],
                         population.n_accounts,
                         insurance_fund_by_venue={v: fund_by_venue[:, i] for i, v in enumerate(population.venues)})


def _money(st, wallet, idx, local, dq, X, n_units):
    """Per-position realised PnL and fee; per-unit wallet after fills at ``X`` (fee capped at
    the remaining equity)."""
    a, s, ep = st.asset[idx], st.size[idx], st.u.entry[idx]
    realised = -dq * (X[a] - ep)
    fee = st.fee[idx] * np.abs(dq) * X[a]
    R = np.bincount(local, realised, minlength=n_units)
    equity = wallet + R + np.bincount(local, (s + dq) * (X[a] - ep), minlength=n_units)
    fee_paid = np.minimum(np.bincount(local, fee, minlength=n_units), np.maximum(equity, 0.0))
    return realised, fee_paid, wallet + R - fee_paid


def _settle(st, sc, t, marks, fill, touched, outcome, dq, idx, local, fund, step, adl_events):
    """Settle one round; returns (funds per venue, book flow per asset, liquidated notional per asset)."""
    A, nu = st.n_assets, len(touched)
    a = st.asset[idx]
    vu = st.venue[touched]
    W = st.wallet[touched]
    full = outcome == FULL
    adl = np.zeros(nu, bool)
    if sc.adl:
        X1 = fill(np.bincount(a, dq, minlength=A))
        deficit = np.where(full, np.maximum(-_money(st, W, idx, local, dq, X1, nu)[2], 0.0), 0.0)
        adl = full & (deficit > _cover(deficit, fund, vu) * (1 + 1e-12) + 1e-9)
    book = ~adl[local]
    bflow = np.bincount(a[book], dq[book], minlength=A).astype(float)
    X = fill(bflow)
    realised, fee_paid, W_new = _money(st, W, idx, local, dq, X, nu)
    fee_paid = np.where(adl, 0.0, fee_paid)
    deficit = np.where(full & ~adl, np.maximum(-W_new, 0.0), 0.0)
    cover = _cover(deficit, fund, vu)
    uncovered = deficit - cover
    fund = fund + np.bincount(vu, fee_paid - cover, minlength=len(fund))
    st.wallet[touched[~adl]] = (W_new + cover + uncovered)[~adl]
    step["book_pnl"] += realised[book].sum()
    step["fees"] += fee_paid.sum()
    step["backstop"] -= uncovered.sum()
    notional = np.bincount(a[book], np.abs(dq[book]) * X[a[book]], minlength=A).astype(float)
    moved = idx[book]
    st.size[moved] += dq[book]
    st.size[moved[np.abs(st.size[moved]) <= 1e-12 * np.abs(st.u.size[moved])]] = 0.0
    if adl.any():
        fund, adl_notional = _deleverage(st, sc, t, marks, touched, adl, fund, step, adl_events)
        notional += adl_notional
    return fund, bflow, notional


def _deleverage(st, sc, t, marks, touched, adl, fund, step, adl_events):
    """Close the ADL units at their bankruptcy prices against ranked opposite positions of the
    same venue (each unit's deficit paid first by what its venue's fund still holds)."""
    A = st.n_assets
    units = touched[adl]
    pidx, plocal = _expand(st.u.ptr, units)
    s, a, ep = st.size[pidx], st.asset[pidx], st.u.entry[pidx]
    W = st.wallet[units]
    n = len(units)
    vu = st.venue[units]
    eq_m = W + np.bincount(plocal, s * (marks[a] - ep), minlength=n)
    cover = _cover(np.maximum(-eq_m, 0.0), fund, vu)
    fund = fund - np.bincount(vu, cover, minlength=len(fund))
    gross = np.bincount(plocal, np.abs(s) * marks[a], minlength=n)
    rho = (-eq_m - cover) / gross
    price = marks[a] * (1.0 + np.sign(s) * rho[plocal])
    realised = s * (price - ep)
    st.wallet[units] = W + np.bincount(plocal, realised, minlength=n) + cover
    step["adl_pnl"] += realised.sum()
    notional = np.bincount(a, np.abs(s) * price, minlength=A)
    eq, mm, live, *_ = unit_state_np(marks, _AssetView(st.u, st.asset), st.size, st.wallet)
    busy = np.zeros(len(st.wallet), bool)
    busy[touched] = True
    unit = st.u.unit_of_position()
    pv = vu[plocal]                                   # venue of each bankrupt position
    pos_venue = st.venue[unit]
    for venue in np.unique(pv):
        for asset in range(A):
            for side in (1.0, -1.0):
                _adl_one(st, sc, t, marks, s, a, price, pv, pos_venue, unit, busy, eq, mm, venue, asset,
                         side, adl_events, step)
    st.size[pidx] = 0.0
    return fund, notional


def _adl_one(st, sc, t, marks, s, a, price, pv, pos_venue, unit, busy, eq, mm, venue, asset, side,
             adl_events, step):
    """ADL of the bankrupt ``side`` of ``asset`` on ``venue`` against that venue's opposite side."""
    mine = (pv == venue) & (a == asset) & (np.sign(s) == side)
    if not mine.any():
        return
    qty = np.abs(s[mine]).sum()
    vwap = (np.abs(s[mine]) * price[mine]).sum() / qty
    cand = np.flatnonzero((pos_venue == venue) & (st.asset == asset) & (np.sign(st.size) == -side)
                          & ~busy[unit])
    cu = unit[cand]
    upnl = st.size[cand] * (marks[asset] - st.u.entry[cand])
    score = adl_score(upnl, st.wallet[cu], eq[cu], mm[cu])
    order = cand[np.lexsort((cand, -score))]
    avail = np.abs(st.size[order])
    take = np.clip(qty - (np.cumsum(avail) - avail), 0.0, avail)
    hit = order[take > 0]
    dq_c = side * take[take > 0]          # counterparties trade the bankrupt side's way back
    r_c = -dq_c * (vwap - st.u.entry[hit])
    np.add.at(st.wallet, unit[hit], r_c)
    st.size[hit] += dq_c
    st.invalidate(unit[hit])
    step["adl_pnl"] += r_c.sum()
    adl_events.append({"step": t, "venue": st.venues[venue], "asset": sc.assets[asset],
                       "bankrupt_side": "long" if side > 0 else "short", "quantity": float(qty),
                       "price": float(vwap), "counterparties": int(len(hit)),
                       "venue_takeover": float(qty - take.sum())})
