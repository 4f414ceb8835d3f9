"""A venue's account population as struct-of-arrays, and the position-table loader.

Table format (CSV or Parquet, one row per position; an account spans several rows):

=================  =====================================================================
column             meaning
=================  =====================================================================
account_id         any string; rows with the same id form one account
venue              ``binance-usdm`` | ``hyperliquid`` | ``okx`` (liquidation rules, tiers)
mode               ``cross`` | ``isolated`` (one mode per account)
collateral_usd     cross: wallet balance (USD, excludes unrealised PnL); isolated: free
                   balance not assigned to any position (never at risk). Same on every row.
asset              underlying, e.g. ``BTC`` (linear USD-margined perp)
size               signed base units (+ long, − short), nonzero
entry              entry price (USD), > 0
isolated_margin    isolated positions: margin assigned to the position (USD, > 0); else 0
mmr, cum           optional flat tier override (MM = notional·mmr − cum)
max_leverage       optional Hyperliquid-style override: MMR = 1/(2·max_leverage)
=================  =====================================================================

Every population compiles to :class:`MarginUnits` for the engine: a cross account is one
margin unit holding all its positions; each isolated position is its own unit whose wallet is
its isolated margin.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from liqrisk.cascade.venues import VENUE_NAMES, default_tiers
from liqrisk.margin.tiers import TierTable

REQUIRED = ("account_id", "venue", "mode", "collateral_usd", "asset", "size", "entry")


class PopulationError(ValueError):
    """Bad population input; ``field`` names the offending column or key."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass
class TierRegistry:
    """Collects distinct tier tables and hands out their indices (positions store the index)."""

    tables: list[TierTable] = field(default_factory=list)
    keys: dict = field(default_factory=dict)

    def index(self, key, make) -> int:
        if key not in self.keys:
            self.keys[key] = len(self.tables)
            self.tables.append(make())
        return self.keys[key]

    def default(self, venue: str, asset: str) -> int:
        return self.index(("venue", venue, asset), lambda: default_tiers(venue, asset))

    def flat(self, mmr: float, cum: float = 0.0) -> int:
        return self.index(("flat", mmr, cum), lambda: TierTable.flat(mmr, cum))


@dataclass
class Population:
    """Accounts and positions as arrays. Amounts in USD, sizes signed base units."""

    assets: tuple[str, ...]
    venues: tuple[str, ...]
    tiers: tuple[TierTable, ...]
    account_id: np.ndarray   # (n_accounts,) str
    collateral: np.ndarray   # (n_accounts,) USD
    isolated: np.ndarray     # (n_accounts,) bool
    venue: np.ndarray        # (n_accounts,) int64 index into ``venues``
    pos_account: np.ndarray  # (n_positions,) int64
    pos_asset: np.ndarray    # (n_positions,) int64 index into ``assets``
    size: np.ndarray         # (n_positions,) signed base units
    entry: np.ndarray        # (n_positions,) USD
    iso_margin: np.ndarray   # (n_positions,) USD, 0 for cross positions
    pos_tier: np.ndarray     # (n_positions,) int64 index into ``tiers``

    @property
    def n_accounts(self) -> int:
        return len(self.account_id)

    @property
    def n_positions(self) -> int:
        return len(self.size)

    def compile(self) -> "MarginUnits":
        return MarginUnits.from_population(self)


@dataclass
class MarginUnits:
    """Engine layout: positions grouped by margin unit (CSR ``ptr``), tiers concatenated
    (``tier_ptr`` into ``t_floor``/``t_mmr``/``t_cum``)."""

    ptr: np.ndarray
    unit_account: np.ndarray
    wallet: np.ndarray
    venue: np.ndarray
    pos_index: np.ndarray  # population position index of each unit-ordered position
    asset: np.ndarray
    size: np.ndarray
    entry: np.ndarray
    tier: np.ndarray
    tier_ptr: np.ndarray
    t_floor: np.ndarray
    t_mmr: np.ndarray
    t_cum: np.ndarray

    @classmethod
    def from_population(cls, pop: Population) -> "MarginUnits":
        iso_pos = pop.isolated[pop.pos_account]
        # cross positions share their account's unit; isolated positions get their own
        n_acc = pop.n_accounts
        unit_key = np.where(iso_pos, n_acc + np.arange(pop.n_positions), pop.pos_account)
        order = np.argsort(unit_key, kind="stable")
        keys, first, counts = np.unique(unit_key[order], return_index=True, return_counts=True)
        unit_account = np.where(keys < n_acc, keys, pop.pos_account[order][first])
        wallet = np.where(keys < n_acc, pop.collateral[np.minimum(keys, n_acc - 1)],
                          pop.iso_margin[order][first])
        ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        tier_ptr = np.concatenate([[0], np.cumsum([len(t.floor) for t in pop.tiers])]).astype(np.int64)
        cat = lambda name: np.concatenate([getattr(t, name) for t in pop.tiers]).astype(float)  # noqa: E731
        return cls(ptr, unit_account.astype(np.int64), wallet.astype(float),
                   pop.venue[unit_account].astype(np.int64), order.astype(np.int64),
                   pop.pos_asset[order].astype(np.int64), pop.size[order].astype(float),
                   pop.entry[order].astype(float), pop.pos_tier[order].astype(np.int64),
                   tier_ptr, cat("floor"), cat("mmr"), cat("cum"))

    @property
    def n_units(self) -> int:
        return len(self.wallet)

    def unit_of_position(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_units), np.diff(self.ptr))


def _column(df: pd.DataFrame, name: str, kind, optional: bool = False) -> np.ndarray:
    """A column as an array; an optional absent column is all-NaN, and NaN is allowed in it."""
    if optional and name not in df:
        return np.full(len(df), np.nan)
    try:
        out = df[name].to_numpy(dtype=kind)
    except (ValueError, TypeError):
        raise PopulationError(name, "contains values that are not numbers") from None
    if kind is float and not optional and not np.all(np.isfinite(out)):
        raise PopulationError(name, f"row {int(np.argmin(np.isfinite(out)))}: missing or not finite")
    return out


def _tier_indices(reg: TierRegistry, venue_s, assets_s, mmr, cum, lev) -> np.ndarray:
    """Tier-table index per row: a flat override (mmr/cum, or max_leverage) or the venue default."""
    flat = np.isfinite(mmr) | np.isfinite(lev)
    eff_mmr = np.where(np.isfinite(mmr), mmr, 1.0 / (2.0 * np.where(np.isfinite(lev), lev, 1.0)))
    eff_cum = np.where(np.isfinite(mmr) & np.isfinite(cum), cum, 0.0)
    index = np.empty(len(mmr), np.int64)
    keys = pd.DataFrame({"f": flat, "v": venue_s, "a": assets_s, "m": np.where(flat, eff_mmr, 0.0),
                         "c": np.where(flat, eff_cum, 0.0)})
    for (f, v, a, m, c), rows in keys.groupby(["f", "v", "a", "m", "c"], sort=False).indices.items():
        if f:
            index[rows] = reg.flat(float(m), float(c))
            continue
        try:
            index[rows] = reg.default(v, a)
        except KeyError as e:
            raise PopulationError("asset", f"row {int(rows[0])}: {e.args[0]}") from None
    return index


def from_frame(df: pd.DataFrame) -> Population:
    """Build a population from a position table (columns in the module docstring)."""
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise PopulationError(missing[0], "required column missing")
    if len(df) == 0:
        raise PopulationError("account_id", "no positions")
    df = df.reset_index(drop=True)
    size, entry = _column(df, "size", float), _column(df, "entry", float)
    coll = _column(df, "collateral_usd", float)
    iso = _column(df, "isolated_margin", float) if "isolated_margin" in df else np.zeros(len(df))
    for name, bad in (("size", size == 0), ("entry", entry <= 0), ("collateral_usd", coll < 0),
                      ("isolated_margin", iso < 0)):
        if bad.any():
            raise PopulationError(name, f"row {int(np.argmax(bad))}: invalid value")
    mode = df["mode"].astype(str).str.lower().to_numpy()
    if not np.isin(mode, ("cross", "isolated")).all():
        raise PopulationError("mode", f"row {int(np.argmax(~np.isin(mode, ('cross', 'isolated'))))}: "
                                      "must be 'cross' or 'isolated'")
    venue_s = df["venue"].astype(str).str.lower().to_numpy()
    if not np.isin(venue_s, VENUE_NAMES).all():
        row = int(np.argmax(~np.isin(venue_s, VENUE_NAMES)))
        raise PopulationError("venue", f"row {row}: unknown venue '{venue_s[row]}' "
                                       f"(known: {', '.join(VENUE_NAMES)})")
    if ((mode == "isolated") & (iso <= 0)).any():
        raise PopulationError("isolated_margin", f"row {int(np.argmax((mode == 'isolated') & (iso <= 0)))}:"
                                                 " isolated positions need a positive isolated_margin")
    ids = df["account_id"].astype(str).to_numpy()
    acc_ids, pos_account = np.unique(ids, return_inverse=True)
    first = np.unique(pos_account, return_index=True)[1]
    for name, vals in (("mode", mode), ("venue", venue_s), ("collateral_usd", coll)):
        if (vals != vals[first][pos_account]).any():
            row = int(np.argmax(vals != vals[first][pos_account]))
            raise PopulationError(name, f"row {row}: differs between rows of account '{ids[row]}'")
    assets_s = df["asset"].astype(str).str.upper().to_numpy()
    assets, pos_asset = np.unique(assets_s, return_inverse=True)
    venues = tuple(v for v in VENUE_NAMES if v in set(venue_s))
    mmr, cum, lev = (_column(df, c, float, True) for c in ("mmr", "cum", "max_leverage"))
    if (lev < 1).any():
        raise PopulationError("max_leverage", f"row {int(np.argmax(lev < 1))}: must be ≥ 1")
    reg = TierRegistry()
    tier = _tier_indices(reg, venue_s, assets_s, mmr, cum, lev)
    return Population(tuple(assets), venues, tuple(reg.tables), acc_ids, coll[first],
                      mode[first] == "isolated",
                      pd.Categorical(venue_s[first], categories=venues).codes.astype(np.int64),
                      pos_account.astype(np.int64), pos_asset.astype(np.int64), size, entry,
                      np.where(mode == "isolated", iso, 0.0), tier)


def to_frame(pop: Population) -> pd.DataFrame:
    """The position table of a population (tier overrides are not written back)."""
    a = pop.pos_account
    return pd.DataFrame({
        "account_id": pop.account_id[a], "venue": np.asarray(pop.venues)[pop.venue[a]],
        "mode": np.where(pop.isolated[a], "isolated", "cross"), "collateral_usd": pop.collateral[a],
        "asset": np.asarray(pop.assets)[pop.pos_asset], "size": pop.size, "entry": pop.entry,
        "isolated_margin": pop.iso_margin})


def load_population(path: str | Path) -> Population:
    """Load ``.csv``/``.parquet`` position tables or a saved Hyperliquid ``clearinghouseState``
    ``.json`` (see :mod:`liqrisk.cascade.hyperliquid`)."""
    path = Path(path)
    if not path.exists():
        raise PopulationError("accounts", f"file not found: {path}")
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml") or suffix == ".json" and '"accounts"' in path.read_text()[:100_000]:
        return _from_portfolio_file(path)
    if suffix == ".json":
        from liqrisk.cascade.hyperliquid import load_clearinghouse_states
        return load_clearinghouse_states(path)
    try:
        df = pd.read_parquet(path) if suffix in (".parquet", ".pq") else pd.read_csv(path)
    except Exception as e:  # noqa: BLE001 — any reader failure is a bad input file
        raise PopulationError("accounts", f"cannot read {path.name}: {e}") from None
    return from_frame(df)


def _from_portfolio_file(path: Path) -> Population:
    """A portfolio input file (YAML/JSON) as a population; skipped positions are listed on stderr."""
    import sys

    from liqrisk.cascade.portfolio import population_from_portfolio
    from liqrisk.io.portfolio import InputError
    from liqrisk.load import load_portfolio
    try:
        pop, skipped = population_from_portfolio(load_portfolio(path))
    except InputError as e:
        raise PopulationError("accounts", "; ".join(e.problems)) from None
    for line in skipped:
        sys.stderr.write(f"note: cascade skips {line}\n")
    return pop
