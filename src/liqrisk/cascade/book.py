"""The cascade's accounts on the margin engine's compiled book.

A :class:`Population` is the margin engine's :class:`~liqrisk.margin.kernel.PoolArrays`
(accounts → margin pools → positions, struct-of-arrays, evaluated by
:func:`~liqrisk.margin.kernel.pool_state_nb`) plus what the cascade needs beside it: the account
and venue of each pool, each venue's liquidation response (declared by its rule set,
:attr:`~liqrisk.margin.base.RuleSet.liquidation_response`) and each position's liquidation fee.

Every input ends here: portfolio files through :func:`~liqrisk.margin.account.compile_portfolio`
(every venue, contract and mode the margin engine accepts), position tables, Hyperliquid states
and synthetic populations through :func:`book_from_rows`, which builds the pool arrays in
vectorised form (no per-account Python): the rule set's ``terms`` is called once per group of
rows sharing venue, asset and overrides, with the group's sizes and entries as arrays (a rule
set whose ``terms`` needs scalars is called row by row).

A pool's wallet is in its settlement currency: USD pools hold it in ``const_usd``; a
coin-settled pool holds it as the collateral leg on its settlement coin's axis
(:attr:`Population.settle_leg`), so realised PnL, fees and insurance-fund cover are credited in
the coin at the price of the moment.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import SimpleNamespace

import numpy as np
import pandas as pd

from liqrisk.margin.base import INVERSE, INVERSE_OPTION, LiquidationResponse
from liqrisk.margin.kernel import LEG_FIELDS, PoolArrays
from liqrisk.margin.registry import rule_set_for

#: per-position fields of PositionTerms that become arrays
_TERM_FIELDS = ("contract", "qty", "entry", "basis", "mm_code", "notional_mode", "p1", "p2", "strike",
                "is_call", "expiry_years", "vol")
_DTYPES = {"contract": np.int64, "mm_code": np.int64, "notional_mode": np.int64, "is_call": np.bool_}


@dataclass
class Population:
    """Accounts on one compiled book (amounts USD unless a pool settles in a coin)."""

    arrays: PoolArrays
    assets: tuple[str, ...]          # price axes of the book (underlyings and collateral coins)
    marks: np.ndarray                # (n_axes,) snapshot marks, USD; NaN where the input gives none
    account_id: np.ndarray           # (n_accounts,) str
    pool_account: np.ndarray         # (n_pools,) int64 account of each pool
    venues: tuple[str, ...]          # rule-set names; each venue has its own insurance fund and ADL
    pool_venue: np.ndarray           # (n_pools,) int64 index into ``venues``
    responses: tuple[LiquidationResponse, ...]
    pool_response: np.ndarray        # (n_pools,) int64 index into ``responses``
    liquidation_fee: np.ndarray      # (n_positions,) fraction of the liquidated USD notional
    loans: object = None             # LoanBook of the collateral loans (liqrisk.cascade.loans), None: none
    settle_leg: np.ndarray = field(init=False)   # (n_pools,) leg holding a coin pool's wallet, −1: USD

    def __post_init__(self):
        self.arrays, self.settle_leg = _with_settlement_legs(self.arrays)

    @property
    def n_accounts(self) -> int:
        return len(self.account_id)

    @property
    def n_pools(self) -> int:
        return len(self.pool_account)

    @property
    def n_positions(self) -> int:
        return len(self.arrays.qty)

    def pos_pool(self) -> np.ndarray:
        """Pool of each position."""
        a = self.arrays
        return np.repeat(np.arange(self.n_pools), a.pos_end - a.pos_start)

    def pos_account(self) -> np.ndarray:
        return self.pool_account[self.pos_pool()]

    def isolated_pools(self) -> np.ndarray:
        """True for pools that are not their account's first (cross) pool."""
        first = np.r_[True, self.pool_account[1:] != self.pool_account[:-1]]
        return ~first


def usd_notional(contract, qty, price):
    """USD notional of ``qty`` (signed, in the position's units): inverse contracts their USD
    face |q|, linear contracts and options |q|·P."""
    return np.where(contract == INVERSE, np.abs(qty), np.abs(qty) * price)


def _with_settlement_legs(a: PoolArrays) -> tuple[PoolArrays, np.ndarray]:
    """Give every coin-settled pool a collateral leg on its settlement axis (amount 0 if it had
    none) and return the arrays with the index of that leg per pool (−1 for USD pools)."""
    n_pools = len(a.const_usd)
    leg_pool = np.repeat(np.arange(n_pools), a.leg_end - a.leg_start)
    coin = np.flatnonzero(a.settle_axis >= 0)
    has = np.zeros(n_pools, bool)
    has[leg_pool[a.leg_axis == a.settle_axis[leg_pool]]] = True
    need = coin[~has[coin]]
    if len(need):
        leg_pool = np.concatenate([leg_pool, need])
        order = np.argsort(leg_pool, kind="stable")
        leg_pool = leg_pool[order]
        per_leg = {name: np.concatenate([getattr(a, name), np.zeros(len(need))])[order]   # amount, MM, loan terms: 0
                   for name in LEG_FIELDS}
        a = replace(a, leg_axis=np.concatenate([a.leg_axis, a.settle_axis[need]])[order], **per_leg,
                    leg_start=np.searchsorted(leg_pool, np.arange(n_pools), side="left"),
                    leg_end=np.searchsorted(leg_pool, np.arange(n_pools), side="right"))
    settle_leg = np.full(n_pools, -1, np.int64)
    own = np.flatnonzero(a.leg_axis == a.settle_axis[leg_pool])
    settle_leg[leg_pool[own[::-1]]] = own[::-1]            # the first such leg of each pool
    return a, settle_leg


# ---- position tables → book ----------------------------------------------------------------------

def _proxy(size, entry, asset, mmr, cum):
    """A duck-typed input position (the fields rule sets read) for one group of rows."""
    pos = SimpleNamespace(kind="perp", size=size, entry=entry, symbol=None, underlying=asset, contract=None,
                          mmr=mmr, cum=cum, leverage=None, margin=None, mark=None, expiry=None, strike=None,
                          type=None, position_side=None)
    acc = SimpleNamespace(id="", mode="cross", leverage=None, positions=[pos], collateral_items=lambda: [])
    return pos, acc


def _group_terms(rules, asset, size, entry, mmr, cum, tables: list) -> tuple[dict, np.ndarray]:
    """Per-position term arrays of one group of rows and the index of each position's tier table
    in ``tables`` (appended to)."""
    n = len(size)
    try:
        t = rules.terms(*_proxy(size, entry, asset, mmr, cum), 0.0, 0.0)
        cols = {f: np.broadcast_to(np.asarray(getattr(t, f), dtype=_DTYPES.get(f, float)), (n,))
                for f in _TERM_FIELDS}
        tables.append(t.tiers)
        return cols, np.full(n, len(tables) - 1, np.int64)
    except (TypeError, ValueError):
        pass
    rows = [rules.terms(*_proxy(float(s), float(e), asset, mmr, cum), 0.0, 0.0) for s, e in zip(size, entry)]
    cols = {f: np.array([getattr(t, f) for t in rows], dtype=_DTYPES.get(f, float)) for f in _TERM_FIELDS}
    tables.extend(t.tiers for t in rows)
    return cols, np.arange(len(tables) - n, len(tables), dtype=np.int64)


def book_from_rows(account_id, venues, acc_venue, acc_isolated, collateral, pos_account, asset_names,
                   pos_asset, size, entry, iso_margin, mmr=None, cum=None, max_leverage=None) -> Population:
    """The book of a position table given as arrays (linear USD-margined perps).

    Per account: id, venue code into ``venues`` (rule-set names), isolated flag, collateral (USD:
    the cross wallet; for isolated accounts a free balance that is never at risk). Per position
    (any order): account index, asset index into ``asset_names``, signed size (base units), entry
    (USD), isolated margin, optional flat MM overrides ``mmr``/``cum`` or ``max_leverage`` (MMR =
    1/(2·max_leverage), Hyperliquid's rule); NaN = none. A cross account is one pool, each isolated
    position its own. Raises KeyError when a venue has no tiers for an asset.
    """
    n_acc, n_pos = len(account_id), len(size)
    nan = np.full(n_pos, np.nan)
    mmr = nan if mmr is None else np.asarray(mmr, float)
    cum = nan if cum is None else np.asarray(cum, float)
    lev = nan if max_leverage is None else np.asarray(max_leverage, float)
    with np.errstate(divide="ignore"):
        mmr = np.where(np.isfinite(mmr), mmr, 1.0 / (2.0 * lev))             # NaN stays NaN
    cum = np.where(np.isfinite(mmr), np.where(np.isfinite(cum), cum, 0.0), np.nan)
    acc_venue = np.asarray(acc_venue, np.int64)
    pos_account = np.asarray(pos_account, np.int64)
    key = np.where(np.asarray(acc_isolated)[pos_account], n_acc + np.arange(n_pos), pos_account)
    order = np.argsort(key, kind="stable")
    keys, first, counts = np.unique(key[order], return_index=True, return_counts=True)
    pool_account = np.where(keys < n_acc, keys, pos_account[order][first]).astype(np.int64)
    const = np.where(keys < n_acc, np.asarray(collateral, float)[np.minimum(keys, n_acc - 1)],
                     np.asarray(iso_margin, float)[order][first])
    rules = [rule_set_for(v) for v in venues]
    s, e = np.asarray(size, float)[order], np.asarray(entry, float)[order]
    a, m, c = np.asarray(pos_asset, np.int64)[order], mmr[order], cum[order]
    cols = {f: np.empty(n_pos, _DTYPES.get(f, float)) for f in _TERM_FIELDS}
    tables: list = []
    tid = np.empty(n_pos, np.int64)
    fee = np.empty(n_pos)
    groups = pd.DataFrame({"v": acc_venue[pos_account][order], "a": a, "m": np.nan_to_num(m, nan=-1.0),
                           "c": np.nan_to_num(c, nan=-1.0)}).groupby(["v", "a", "m", "c"], sort=False).indices
    for (v, ai, mi, ci), rows in groups.items():
        asset = str(asset_names[ai])
        g, tid[rows] = _group_terms(rules[v], asset, s[rows], e[rows], None if mi < 0 else float(mi),
                                    None if mi < 0 else float(ci), tables)
        for f in _TERM_FIELDS:
            cols[f][rows] = g[f]
        fee[rows] = rules[v].liquidation_fee(asset)
    arrays = assemble(const, np.full(len(keys), -1, np.int64), np.repeat(np.arange(len(keys)), counts), a, cols,
                      tables, tid, np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    pool_venue = acc_venue[pool_account]
    return Population(arrays, tuple(str(x) for x in asset_names), np.full(len(asset_names), np.nan),
                      np.asarray(account_id), pool_account, tuple(venues), pool_venue,
                      tuple(r.liquidation_response for r in rules), pool_venue.copy(), fee)


def assemble(const_usd, settle_axis, pool_of_pos, axis, cols, tables, tid, leg_pool, leg_axis, leg_amount,
             rate: float = 0.0) -> PoolArrays:
    """Pool arrays from per-pool, per-position (sorted by pool) and per-leg arrays; ``tid`` is
    each position's index into ``tables`` (TierTable or None)."""
    n_pools = len(const_usd)
    length = np.array([0 if t is None else len(t.floor) for t in tables], np.int64)
    offset = np.concatenate([[0], np.cumsum(length)])[:-1]
    cat = lambda name: np.concatenate([np.asarray(getattr(t, name), float) for t in tables  # noqa: E731
                                       if t is not None] or [np.empty(0)])
    order = np.argsort(leg_pool, kind="stable")
    leg_pool = np.asarray(leg_pool)[order]
    per_pos = {("expiry" if f == "expiry_years" else f): np.ascontiguousarray(cols[f]) for f in _TERM_FIELDS}
    return PoolArrays(
        pos_start=np.searchsorted(pool_of_pos, np.arange(n_pools), side="left"),
        pos_end=np.searchsorted(pool_of_pos, np.arange(n_pools), side="right"),
        leg_start=np.searchsorted(leg_pool, np.arange(n_pools), side="left"),
        leg_end=np.searchsorted(leg_pool, np.arange(n_pools), side="right"),
        const_usd=np.asarray(const_usd, float), settle_axis=np.asarray(settle_axis, np.int64),
        dense=(np.bincount(pool_of_pos, cols["contract"] == INVERSE_OPTION, minlength=n_pools) > 0).astype(np.int64),
        axis=np.asarray(axis, np.int64), **per_pos,
        tier_start=offset[tid], tier_end=offset[tid] + length[tid],
        t_floor=cat("floor"), t_mmr=cat("mmr"), t_cum=cat("cum"),
        leg_axis=np.asarray(leg_axis, np.int64)[order], leg_amount=np.asarray(leg_amount, float)[order],
        rate=float(rate))
