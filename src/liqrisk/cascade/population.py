"""A venue's account population as struct-of-arrays, and the position-table loader.

Table format (CSV or Parquet, one row per position; an account spans several rows):

=================  =====================================================================
column             meaning
=================  =====================================================================
account_id         any string; rows with the same id form one account (one row per asset)
venue              a linear USD-margined rule set: ``binance-usdm`` | ``bybit-linear`` |
                   ``hyperliquid`` | ``okx`` | … (tiers, liquidation response, fee)
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

Every population becomes the margin engine's book (:mod:`liqrisk.cascade.book`): a cross
account is one margin pool holding all its positions; each isolated position is its own pool
whose wallet is its isolated margin. Coin-margined venues, inverse contracts, options and coin
collateral come in portfolio files (YAML/JSON, the ``analyze`` input), which this loader accepts
too.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from liqrisk.cascade.book import Population, book_from_rows
from liqrisk.io import limits
from liqrisk.io.limits import AMOUNT_MAX, PRICE_RANGE
from liqrisk.margin.base import LINEAR
from liqrisk.margin.registry import RULE_SETS

REQUIRED = ("account_id", "venue", "mode", "collateral_usd", "asset", "size", "entry")
#: venues a position table can hold: linear, USD-settled rule sets
TABLE_VENUES = tuple(n for n, cls in RULE_SETS.items() if cls.contract == LINEAR and not cls.settles_in_coin)


class PopulationError(ValueError):
    """Bad population input; ``field`` names the offending column or key."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


def _column(df: pd.DataFrame, name: str, kind, optional: bool = False) -> np.ndarray:
    """A numeric column as an array; an optional absent column is all-NaN, and NaN (an empty
    cell) is allowed in it. Text and true/false are not numbers; ±inf never is."""
    if optional and name not in df:
        return np.full(len(df), np.nan)
    col = df[name]
    if col.dtype == bool:
        raise PopulationError(name, "contains true/false, not numbers")
    if col.dtype.kind in "mM":          # a Parquet date or duration column would cast to nanoseconds
        raise PopulationError(name, f"contains dates or durations ({col.dtype}), not numbers")
    try:
        out = col.to_numpy(dtype=kind)
    except (ValueError, TypeError, OverflowError):
        row = next(i for i, v in enumerate(col.to_numpy(object)) if not _is_number(v))
        raise PopulationError(name, f"row {row}: {str(col.iloc[row])[:40]!r} is not a number") from None
    bad = np.isinf(out) if optional else ~np.isfinite(out)
    if bad.any():
        raise PopulationError(name, f"row {int(np.argmax(bad))}: missing or not finite")
    return out


def _is_number(v) -> bool:
    try:
        float(v)
        return not isinstance(v, bool)
    except (TypeError, ValueError, OverflowError):
        return False


# column → (lo, hi) of |value| (NaN allowed in the optional columns)
_RANGES = {"size": (0, AMOUNT_MAX), "entry": PRICE_RANGE, "collateral_usd": (0, AMOUNT_MAX),
           "isolated_margin": (0, AMOUNT_MAX), "mmr": (0, 1), "cum": (0, AMOUNT_MAX), "max_leverage": (1, 1000)}


def _check_ranges(columns: dict) -> None:
    for name, values in columns.items():
        lo, hi = _RANGES[name]
        v = np.abs(values) if name == "size" else values
        bad = (v < lo) | (v > hi)
        if bad.any():
            row = int(np.argmax(bad))
            raise PopulationError(name, f"row {row}: {values[row]:g} is outside the supported range [{lo:g}, {hi:g}]")


def from_frame(df: pd.DataFrame) -> Population:
    """Build a population from a position table (columns in the module docstring)."""
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise PopulationError(missing[0], "required column missing")
    if len(df) == 0:
        raise PopulationError("accounts", "no positions: the table has a header and no rows")   # was "account_id: …"
    lim = limits.current()
    if len(df) > lim.max_population:
        raise PopulationError("accounts", lim.exceeded("max_population", f"{len(df):,} positions"))
    df = df.reset_index(drop=True)
    for name in ("account_id", "venue", "mode", "asset"):
        empty = df[name].isna().to_numpy() | (df[name].astype(object).astype(str).str.strip() == "").to_numpy()
        if empty.any():
            raise PopulationError(name, f"row {int(np.argmax(empty))}: missing")
    size, entry = _column(df, "size", float), _column(df, "entry", float)
    coll = _column(df, "collateral_usd", float)
    iso = _column(df, "isolated_margin", float) if "isolated_margin" in df else np.zeros(len(df))
    for name, bad in (("size", size == 0), ("entry", entry <= 0), ("collateral_usd", coll < 0),
                      ("isolated_margin", iso < 0)):
        if bad.any():
            raise PopulationError(name, f"row {int(np.argmax(bad))}: invalid value")
    _check_ranges({"size": size, "entry": entry, "collateral_usd": coll, "isolated_margin": iso})
    mode = df["mode"].astype(str).str.lower().to_numpy()
    if not np.isin(mode, ("cross", "isolated")).all():
        raise PopulationError("mode", f"row {int(np.argmax(~np.isin(mode, ('cross', 'isolated'))))}: "
                                      "must be 'cross' or 'isolated'")
    venue_s = df["venue"].astype(str).str.lower().to_numpy()
    if not np.isin(venue_s, TABLE_VENUES).all():
        row = int(np.argmax(~np.isin(venue_s, TABLE_VENUES)))
        raise PopulationError("venue", f"row {row}: unknown venue '{venue_s[row]}' for a position table "
                                       f"(known: {', '.join(TABLE_VENUES)}; coin-margined venues, inverse "
                                       f"contracts and options: use a portfolio file)")
    if ((mode == "isolated") & (iso <= 0)).any():
        raise PopulationError("isolated_margin", f"row {int(np.argmax((mode == 'isolated') & (iso <= 0)))}:"
                                                 " isolated positions need a positive isolated_margin")
    ids = df["account_id"].astype(str).to_numpy().astype(str)
    acc_ids, pos_account = np.unique(ids, return_inverse=True)
    if len(acc_ids) > lim.max_population:
        raise PopulationError("account_id", lim.exceeded("max_population", f"{len(acc_ids):,} accounts"))
    first = np.unique(pos_account, return_index=True)[1]
    for name, vals in (("mode", mode), ("venue", venue_s), ("collateral_usd", coll)):
        if (vals != vals[first][pos_account]).any():
            row = int(np.argmax(vals != vals[first][pos_account]))
            raise PopulationError(name, f"row {row}: differs between rows of account '{ids[row]}'")
    assets_s = df["asset"].astype(str).str.upper().to_numpy().astype(str)
    assets, pos_asset = np.unique(assets_s, return_inverse=True)
    _, first_leg, leg = np.unique(pos_account * len(assets) + pos_asset, return_index=True, return_inverse=True)
    if (first_leg[leg] != np.arange(len(df))).any():
        row = int(np.argmax(first_leg[leg] != np.arange(len(df))))
        raise PopulationError("asset", f"row {row}: account '{ids[row]}' already holds {assets_s[row]} on row "
                                       f"{first_leg[leg][row]}; one row per account and asset (net them; "
                                       "hedge-mode legs need a portfolio file with position_side)")
    venues = tuple(v for v in TABLE_VENUES if v in set(venue_s))
    mmr, cum, lev = (_column(df, c, float, True) for c in ("mmr", "cum", "max_leverage"))
    if (lev < 1).any():
        raise PopulationError("max_leverage", f"row {int(np.argmax(lev < 1))}: must be ≥ 1")
    _check_ranges({"mmr": mmr, "cum": cum, "max_leverage": lev})
    if ((mmr <= 0) | (mmr >= 1)).any():
        raise PopulationError("mmr", f"row {int(np.argmax((mmr <= 0) | (mmr >= 1)))}: must be in (0, 1)")
    negative_mm = np.isfinite(mmr) & np.isfinite(cum) & (cum > np.abs(size) * entry * mmr)
    if negative_mm.any():
        row = int(np.argmax(negative_mm))
        raise PopulationError("cum", f"row {row}: cum {cum[row]:g} exceeds notional × mmr "
                                     f"(the maintenance margin would be negative)")
    try:
        return book_from_rows(acc_ids, venues, pd.Categorical(venue_s[first], categories=venues).codes,
                              mode[first] == "isolated", coll[first], pos_account, assets, pos_asset, size, entry,
                              np.where(mode == "isolated", iso, 0.0), mmr, cum, lev)
    except KeyError as e:
        raise PopulationError("asset", str(e.args[0])) from None


def load_population(path: str | Path) -> Population:
    """Load ``.csv``/``.parquet`` position tables or a saved Hyperliquid ``clearinghouseState``
    ``.json`` (see :mod:`liqrisk.cascade.hyperliquid`)."""
    from liqrisk.io.documents import DocumentError, check_file, read_text
    path = Path(path)
    if not path.exists():
        raise PopulationError("accounts", f"file not found: {path}")
    suffix = path.suffix.lower()
    try:
        check_file(path, "population file")
        is_portfolio = suffix in (".yaml", ".yml") or suffix == ".json" and '"accounts"' in read_text(path)[:100_000]
    except DocumentError as e:
        raise PopulationError("accounts", str(e)) from None
    if is_portfolio:
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
    """A portfolio input file (YAML/JSON, the ``analyze`` input): every account, nothing skipped."""
    from liqrisk.cascade.portfolio import population_from_portfolio
    from liqrisk.io.portfolio import InputError
    from liqrisk.load import load_portfolio
    try:
        return population_from_portfolio(load_portfolio(path))
    except InputError as e:
        raise PopulationError("accounts", "; ".join(e.problems)) from None
    except PopulationError:
        raise
    except ValueError as e:           # an option mark the engine cannot invert, …
        raise PopulationError("accounts", str(e)) from None
