"""The portfolio input file (docs/design.md, "The input file"): one market snapshot and accounts.

Validation is two-staged: pydantic checks shapes, types and signs; :func:`semantic_problems`
checks what needs the whole file (known venue, priced collateral, live options, isolated margin).
What a venue accepts is its rule set's knowledge: the caller passes ``rules_for`` (venue spec →
rule set, raising ``ValueError`` for an unknown venue), so this module never imports the margin
layer (:mod:`liqrisk.load` wires the two together and converts to :mod:`liqrisk.model`).
Every problem becomes one line naming the account, the position and the field; the caller gets
all of them at once in an :class:`InputError`. The user's data is never mutated.
"""
from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Callable, Literal

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError,
                      field_validator, model_validator)

from liqrisk.io import limits
from liqrisk.io.documents import DocumentError, JsonItems, load_document
from liqrisk.io.limits import AMOUNT_MAX, FUNDING_MAX, LEVERAGE_RANGE, PRICE_RANGE, RATE_RANGE, VOL_RANGE

from liqrisk.model.market import STABLECOINS


RulesFor = Callable[[Any], Any]
"""venue (a name or a :class:`VenueSpec`) → its rule set; ``ValueError`` if unknown."""


class InputError(ValueError):
    """Bad input: ``problems`` holds one human-readable line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def _finite(v: float, positive: bool = False, nonzero: bool = False) -> float:
    if v is None:
        return v
    if not math.isfinite(v):
        raise ValueError("must be a finite number")
    if positive and v <= 0:
        raise ValueError("must be > 0")
    if nonzero and v == 0:
        raise ValueError("must not be 0 (signed: + long, − short)")
    return v


def _not_bool(v):
    """Strict numbers: ``true``/``false`` are not 1/0."""
    if isinstance(v, bool):
        raise ValueError("must be a number, not true/false")
    return v


def _between(lo: float, hi: float, what: str = ""):
    """A validator: ``lo ≤ |v| ≤ hi`` (sizes are signed; everything else is checked positive)."""
    def check(v):
        if v is not None and not lo <= abs(v) <= hi:
            raise ValueError(f"{abs(v):g} is outside the supported range [{lo:g}, {hi:g}]{what}")
        return v
    return AfterValidator(check)


# A finite number (not a bool); a numeric string such as YAML's 1e5 is read as its number.
Num = Annotated[float, BeforeValidator(_not_bool), AfterValidator(_finite)]
Price = Annotated[Num, Field(gt=0), _between(*PRICE_RANGE)]
Amount = Annotated[Num, Field(ge=0, le=AMOUNT_MAX)]
PositiveAmount = Annotated[Num, Field(gt=0, le=AMOUNT_MAX)]
Leverage = Annotated[Num, Field(ge=LEVERAGE_RANGE[0], le=LEVERAGE_RANGE[1])]
Vol = Annotated[Num, Field(ge=VOL_RANGE[0], le=VOL_RANGE[1])]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TierRow(_Strict):
    """One maintenance-margin tier (docs/venues.md §0). Notional in the venue's margin unit."""

    notional_floor: Amount
    notional_cap: Annotated[float, BeforeValidator(_not_bool), Field(gt=0)]   # .inf: the last tier is open
    maint_margin_ratio: Annotated[Num, Field(gt=0, lt=1)]
    cum: Amount | None = None
    max_leverage: Annotated[Num, Field(gt=0, le=LEVERAGE_RANGE[1])] | None = None
    unit: Literal["notional", "size"] = "notional"

    @model_validator(mode="after")
    def _ordered(self):
        if self.notional_cap <= self.notional_floor:
            raise ValueError("notional_cap must exceed notional_floor")
        return self


class ContractTierRow(BaseModel):
    """One row of OKX's position tiers (``GET /api/v5/public/position-tiers``) under OKX's own
    field names; the response's other fields (instFamily, imr, …) are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    minSz: Amount
    maxSz: PositiveAmount
    mmr: Annotated[Num, Field(gt=0, lt=1)]
    maxLever: Annotated[Num, Field(gt=0, le=LEVERAGE_RANGE[1])] | None = None


class ContractTiers(_Strict):
    """Tiers as OKX publishes them: sizes in contracts with integer steps (tier 1 0–2,000,
    tier 2 2,001–…), and ``contract_value`` (ctVal: base coin per contract for linear swaps,
    USD per contract for inverse). Converted to position-size units, contracts × contract value
    (the unit of our ``size``): tier k covers sizes above tier k−1's maxSz up to its own maxSz,
    so a size between two integer steps (2,000.5 contracts) is in the upper tier, as at OKX. The
    rows carry the published bounds (floor = the previous maxSz); the rule set's table includes
    each maxSz in its tier (``TierTable.cap_inclusive``, set for tiers in contracts)."""

    contract_value: PositiveAmount
    tiers: list[ContractTierRow] = Field(min_length=1)

    def rows(self, symbol: str) -> list[TierRow]:
        tiers = sorted(self.tiers, key=lambda t: t.minSz)
        if tiers[0].minSz != 0:
            raise ValueError(f"{symbol}: the first tier must start at minSz 0")
        out, floor = [], 0.0
        for prev, t in zip([None] + tiers[:-1], tiers):
            if prev is not None:
                if not 0 <= t.minSz - prev.maxSz <= 1:
                    raise ValueError(f"{symbol}: tier minSz {t.minSz:g} does not follow the previous "
                                     f"maxSz {prev.maxSz:g} (OKX steps by one contract)")
                floor = prev.maxSz * self.contract_value
            out.append(TierRow(notional_floor=floor, notional_cap=t.maxSz * self.contract_value,
                               maint_margin_ratio=t.mmr, max_leverage=t.maxLever, unit="size"))
        return out


class VenueSpec(_Strict):
    """A venue name plus parameter overrides (parameters are data; docs/venues.md)."""

    name: str
    version: str | None = None
    brackets: dict[str, list[TierRow] | ContractTiers] | None = None
    taker_fee: Annotated[Num, Field(ge=0, lt=0.1)] | None = None
    liquidation_fee: Annotated[Num, Field(ge=0, lt=0.2)] | None = None
    default_leverage: Leverage | None = None
    # collateral loans: per-asset parameters under the protocol's own (snake_case) names, and
    # the account's e-mode category (Aave); which names a protocol takes is its rule set's check
    reserves: dict[str, dict[str, Num]] | None = None
    e_mode: "EModeSpec | None" = None
    # scenario (portfolio) margin parameters under the venue's own names (its rule set checks them)
    portfolio_margin: dict[str, Any] | None = None

    @field_validator("brackets")
    @classmethod
    def _contiguous(cls, v):
        if v is None:
            return v
        v = {symbol: rows.rows(symbol) if isinstance(rows, ContractTiers) else rows
             for symbol, rows in v.items()}
        for symbol, rows in v.items():
            _check_brackets(symbol, rows)
        return v


class EModeSpec(_Strict):
    """An Aave efficiency-mode category: its liquidation threshold and bonus apply to the listed
    collateral assets (fractions as decimals; bonus as the multiplier, e.g. 1.01)."""

    liquidation_threshold: float = Field(gt=0, lt=1)
    liquidation_bonus: float = Field(ge=1, lt=2)
    assets: list[str] = Field(min_length=1)
    label: str | None = None


VenueSpec.model_rebuild()


def _check_brackets(symbol: str, rows: list[TierRow]) -> None:
    """Tiers must start at 0, be contiguous, have non-decreasing MMR, and any given ``cum`` must
    be the deduction the recursion gives (cum_k = cum_{k−1} + floor_k·(MMR_k − MMR_{k−1})):
    another value makes MM jump or go negative at a tier edge."""
    rows = sorted(rows, key=lambda r: r.notional_floor)
    if not rows:
        raise ValueError(f"{symbol}: no tiers")
    if rows[0].notional_floor != 0:
        raise ValueError(f"{symbol}: the first tier must start at notional_floor 0")
    cum = 0.0
    for prev, row in zip([None] + rows[:-1], rows):
        if prev is not None:
            if abs(row.notional_floor - prev.notional_cap) > 1e-9 * max(1.0, prev.notional_cap):
                raise ValueError(f"{symbol}: tiers must be contiguous (cap {prev.notional_cap:g} "
                                 f"≠ next floor {row.notional_floor:g})")
            if row.maint_margin_ratio < prev.maint_margin_ratio:
                raise ValueError(f"{symbol}: maint_margin_ratio must not decrease from tier to tier")
            cum += row.notional_floor * (row.maint_margin_ratio - prev.maint_margin_ratio)
        if row.cum is not None and abs(row.cum - cum) > max(1e-6 * cum, 0.01):
            raise ValueError(f"{symbol}: cum {row.cum:g} at floor {row.notional_floor:g} is inconsistent "
                             f"with the tiers below (expected {cum:g})")


# A collateral balance; negative is a borrowed balance (a debt), accepted when the account's other
# collateral covers it (checked in semantic_problems).
Balance = Annotated[Num, Field(ge=-AMOUNT_MAX, le=AMOUNT_MAX)]


class CollateralSpec(_Strict):
    amount: Balance
    haircut: Annotated[Num, Field(ge=0, lt=1)] = 0.0


#: a dated contract name ``…-DDMMMYY`` (Bybit's USDC and USDT futures BTC-24MAR23 and
#: BTCUSDT-21FEB25, Deribit's BTC-27DEC24): both venues deliver at 08:00 UTC on that day
_DATED = re.compile(r"-(?P<day>\d{1,2})(?P<mon>JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)(?P<yy>\d{2})$")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def dated_symbol_expiry(symbol) -> datetime | None:
    """08:00 UTC on the day a dated contract name (:data:`_DATED`) gives; None for any other name
    or an impossible day (31FEB26)."""
    m = _DATED.search(symbol.upper()) if isinstance(symbol, str) else None
    try:
        return datetime(2000 + int(m["yy"]), _MONTHS.index(m["mon"]) + 1, int(m["day"]), 8,
                        tzinfo=timezone.utc) if m else None
    except ValueError:
        return None


class PositionSpec(_Strict):
    """One position. Sizes are signed (+ long, − short): linear in base units, inverse in USD
    face value, options in contracts of 1 underlying unit. A future named ``…-DDMMMYY`` without
    ``expiry`` expires at 08:00 UTC that day (:func:`dated_symbol_expiry`)."""

    kind: Literal["perp", "future", "option", "spot"]
    size: Annotated[Num, _between(0, AMOUNT_MAX)]
    entry: Price | None = None
    symbol: str | None = None
    underlying: str | None = None
    contract: Literal["linear", "inverse"] | None = None
    expiry: datetime | None = None
    strike: Price | None = None
    type: Literal["call", "put"] | None = None
    margin: Annotated[Amount, Field(gt=0)] | None = None
    mmr: Annotated[Num, Field(gt=0, lt=1)] | None = None
    cum: Amount | None = None
    leverage: Leverage | None = None
    mark: Price | None = None
    position_side: Literal["long", "short", "both"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _expiry_from_symbol(cls, data):
        if isinstance(data, dict) and data.get("kind") == "future" and data.get("expiry") is None:
            expiry = dated_symbol_expiry(data.get("symbol"))
            if expiry is not None:
                return {**data, "expiry": expiry}      # a copy: the user's data is not mutated
        return data

    @field_validator("size")
    @classmethod
    def _size(cls, v):
        return _finite(v, nonzero=True)

    @field_validator("expiry")
    @classmethod
    def _utc(cls, v):
        if v is not None and v.tzinfo is None:
            raise ValueError("must be timezone-aware (e.g. 2026-12-25T08:00:00Z)")
        return v

    @model_validator(mode="after")
    def _kind_fields(self):
        if self.symbol is None and self.underlying is None:
            raise ValueError("needs 'symbol' or 'underlying'")
        if self.kind in ("perp", "future", "option") and self.entry is None:
            raise ValueError("field 'entry' is required")
        if self.kind in ("future", "option") and self.expiry is None:
            raise ValueError(f"field 'expiry' is required for a {self.kind}")
        if self.kind == "option" and (self.strike is None or self.type is None):
            raise ValueError("an option needs 'strike' and 'type' (call|put)")
        if self.position_side == "long" and self.size < 0 or self.position_side == "short" and self.size > 0:
            raise ValueError(f"field 'size': sign contradicts position_side '{self.position_side}'")
        return self


class AccountSpec(_Strict):
    id: str = Field(min_length=1)
    venue: str | VenueSpec
    mode: Literal["cross", "isolated", "portfolio"] = "cross"
    collateral: dict[str, Balance | CollateralSpec] = Field(default_factory=dict)
    positions: list[PositionSpec] = Field(default_factory=list)
    leverage: Leverage | None = None
    # collateral loans (lending protocols): assets supplied as collateral and borrowed, in units
    supplied: dict[str, PositiveAmount] = Field(default_factory=dict)
    borrowed: dict[str, PositiveAmount] = Field(default_factory=dict)

    @property
    def venue_name(self) -> str:
        return self.venue if isinstance(self.venue, str) else self.venue.name

    def collateral_items(self) -> list[tuple[str, float, float]]:
        """(currency, amount, haircut) triples."""
        return [(c.upper(), a.amount, a.haircut) if isinstance(a, CollateralSpec)
                else (c.upper(), float(a), 0.0) for c, a in self.collateral.items()]

    def supplied_items(self) -> list[tuple[str, float]]:
        return [(c.upper(), float(a)) for c, a in self.supplied.items()]

    def borrowed_items(self) -> list[tuple[str, float]]:
        return [(c.upper(), float(a)) for c, a in self.borrowed.items()]


class FundingSpec(BaseModel):
    """Funding of the perps on an underlying: a historical series (``csv``: timestamp,rate per
    payment) or the venue's premium formula on impact prices (``impact_bid``, ``impact_ask``,
    against ``index`` or the underlying's index/mark)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    csv: str | None = None
    impact_bid: Price | None = None
    impact_ask: Price | None = None
    index: Price | None = None

    @model_validator(mode="after")
    def _one_model(self):
        premium = self.impact_bid is not None and self.impact_ask is not None
        if (self.csv is not None) == premium:
            raise ValueError("funding: give a rate per 8 h (number), {csv: FILE} or {impact_bid, impact_ask}")
        return self


class UnderlyingMarket(BaseModel):
    """Market data of one underlying: mark (and index) price in USD, a vol block, and the funding
    of its perps (a number: the rate per 8 h, a long pays when > 0; or a :class:`FundingSpec`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    mark: Price
    index: Price | None = None
    vol: Vol | None = None
    term: dict[str, list[Num]] | None = None
    smile: list[dict[str, Any]] | None = None
    chain_csv: str | None = None
    funding: Annotated[Num, Field(gt=-FUNDING_MAX, lt=FUNDING_MAX)] | FundingSpec | None = None


class PortfolioFile(_Strict):
    as_of: datetime
    market: dict[str, UnderlyingMarket]
    rate: Annotated[Num, Field(ge=RATE_RANGE[0], le=RATE_RANGE[1])] = 0.0
    correlation: dict[str, dict[str, Annotated[Num, Field(ge=-1, le=1)]]] = Field(default_factory=dict)
    accounts: list[AccountSpec] = Field(min_length=1)

    @field_validator("as_of")
    @classmethod
    def _as_of_utc(cls, v):
        return v.replace(tzinfo=timezone.utc) if v.tzinfo is None else v

    def price(self, currency: str) -> float | None:
        """USD price of a currency: market mark, stablecoins 1:1 unless the market gives one."""
        c = currency.upper()
        if c in self.market:
            return self.market[c].mark
        return STABLECOINS.get(c)


_BRANCH_TAGS = ("float", "int", "str", "bool", "list", "dict", "CollateralSpec", "VenueSpec")


def _is_branch_tag(key) -> bool:
    """Pydantic names the branch of a union it tried ('float', 'function-after[...]', 'VenueSpec')."""
    return isinstance(key, str) and (key in _BRANCH_TAGS or "[" in key or key.startswith(("function-", "constrained-")))


def _item(container, key):
    """``container[key]`` of the raw document, or None when it is not there (any shape)."""
    try:
        return container[key] if isinstance(container, (dict, list)) else None
    except (KeyError, IndexError, TypeError):
        return None


def _label(x, *keys) -> str | None:
    for k in keys:
        v = _item(x, k)
        if isinstance(v, (str, int, float)) and not isinstance(v, bool) and str(v):
            return str(v)[:60]
    return None


def _where(raw: dict, loc: tuple, first_account: int = 0) -> str:
    """Turn a pydantic error location into 'account X, position N (SYMBOL), field F' (an account
    without an id is '#k', counted in the file from ``first_account`` + 1)."""
    parts, fields = [], []
    i = 0
    while i < len(loc):
        key = loc[i]
        if key == "accounts" and i + 1 < len(loc) and isinstance(loc[i + 1], int) and not fields:
            acc = _item(raw.get("accounts"), loc[i + 1])
            name = _label(acc, "id")
            parts.append(f"account '{name}'" if name else f"account #{first_account + loc[i + 1] + 1}")
            i += 2
            if i + 1 < len(loc) and loc[i] == "positions" and isinstance(loc[i + 1], int):
                label = _label(_item(_item(acc, "positions"), loc[i + 1]), "symbol", "underlying")
                parts.append(f"position {loc[i + 1] + 1}" + (f" ({label})" if label else ""))
                i += 2
            continue
        if key == "market" and i + 1 < len(loc) and not fields and not parts:
            parts.append(f"market '{loc[i + 1]}'")
            i += 2
            continue
        if not _is_branch_tag(key):
            fields.append(str(key))
        i += 1
    if fields:
        parts.append("field '" + ".".join(fields) + "'")
    return ", ".join(parts) or "file"


def _problem_lines(raw: dict, errors: list[dict], first_account: int = 0) -> list[str]:
    """One line per problem. A value checked against a union (``venue: str | VenueSpec``,
    ``collateral: float | CollateralSpec``) fails every branch; keep the most specific error of a
    location and drop "should be a valid <type>" errors of the branches it did not mean."""
    items = []
    for e in errors:
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown field"
        elif e["type"] == "missing":
            msg = "missing"
        where = _where(raw, tuple(e["loc"]), first_account)
        mismatch = e["type"].endswith(("_type", "_parsing")) and bool(e["loc"]) and _is_branch_tag(e["loc"][-1])
        items.append((where, msg, mismatch))
    specific = {w for w, _, m in items if not m}          # locations with a non-type error
    parents = set()                                       # locations with an error further inside
    for w, _, _ in items:
        head, sep, field = w.rpartition("field '")
        names = field.rstrip("'").split(".")
        parents.update(head + sep + ".".join(names[:k]) + "'" for k in range(1, len(names)))
    lines, done = [], set()
    for where, msg, mismatch in items:
        if where in done or mismatch and (where in specific or where in parents):
            continue
        done.add(where)
        lines.append(f"{where}: {msg}")
    return lines


def count_problems(raw: dict) -> list[str]:
    """The accounts / positions limits, checked before anything is validated (bounded cost)."""
    lim = limits.current()
    accounts = raw.get("accounts")
    if not isinstance(accounts, (list, JsonItems)):
        return []
    out = []
    if len(accounts) > lim.max_accounts:
        out.append(lim.exceeded("max_accounts", f"file: {len(accounts):,} accounts"))
    n_pos = sum(len(a["positions"]) for a in accounts if isinstance(a, dict) and isinstance(a.get("positions"), list))
    if n_pos > lim.max_positions:
        out.append(lim.exceeded("max_positions", f"file: {n_pos:,} positions"))
    return out


def parse_portfolio(raw: Any, *, rules_for: RulesFor, first_account: int = 0) -> PortfolioFile:
    """Validate a decoded YAML/JSON document; raise :class:`InputError` listing every problem.
    ``first_account``: the file's index of ``raw``'s first account when ``raw`` holds a chunk of
    the file's accounts (problems name an account without an id by its place in the file)."""
    if not isinstance(raw, dict):
        raise InputError(["file: expected a mapping with 'as_of', 'market' and 'accounts'"])
    raw = dict(raw)
    too_many = count_problems(raw)
    if too_many:
        raise InputError(too_many)
    market = raw.get("market")
    for key in ("rate", "correlation"):       # market-wide entries beside the underlyings
        if isinstance(market, dict) and key in market:
            market = dict(market)
            raw.setdefault(key, market.pop(key))
            raw["market"] = market
    raw, problems = _upper_market_keys(raw)
    if problems:
        raise InputError(problems)
    try:
        pf = PortfolioFile.model_validate(raw)
    except ValidationError as err:
        lines = _problem_lines(raw, err.errors(), first_account)
        shown = set(lines)
        raise InputError(lines + [l for l in _semantic_problems_of_valid_parts(raw, rules_for)
                                  if l not in shown]) from None
    problems = semantic_problems(pf, rules_for)
    if problems:
        raise InputError(problems)
    return pf


def upper_keys(block: dict, where: str) -> tuple[dict, list[str]]:
    """``block`` with its keys upper-cased, as every symbol of a portfolio is (collateral,
    supplied, borrowed, underlyings, reserves: ``btc`` is ``BTC``), and a problem for each pair of
    keys that then name the same thing (``btc`` and ``BTC``)."""
    out, first, problems = {}, {}, []
    for key, value in block.items():
        name = key.upper() if isinstance(key, str) else key
        if name in first:
            problems.append(f"{where}: keys '{first[name]}' and '{key}' both name '{name}' (symbols are "
                            f"not case-sensitive); give one")
            continue
        first[name], out[name] = key, value
    return out, problems


def _upper_market_keys(raw: dict) -> tuple[dict, list[str]]:
    """The document with ``market`` and ``correlation`` (both levels) keyed by upper-case names."""
    problems = []
    if isinstance(raw.get("market"), dict):
        given = raw["market"]
        market, problems = upper_keys(given, "field 'market'")
        raw = {**raw, "market": market}
        problems += [f"market '{key}': an underlying's name cannot hold '-', '_', '/' or ':' — they separate "
                     f"a symbol's parts (BTC-PERP, BTC/USDT, BTCUSD_PERP), so a position or a hedge could not "
                     f"name it; a Hyperliquid HIP-3 market is DEX:ASSET"
                     for key in given if isinstance(key, str) and _SEPARATORS.search(key)
                     and not _HIP3.fullmatch(key.upper())]
    if isinstance(raw.get("correlation"), dict):
        corr, more = upper_keys(raw["correlation"], "field 'correlation'")
        problems += more
        for a, row in list(corr.items()):
            if isinstance(row, dict):
                corr[a], more = upper_keys(row, f"field 'correlation.{a}'")
                problems += more
        raw = {**raw, "correlation": corr}
    return raw, problems


def _semantic_problems_of_valid_parts(raw: dict, rules_for: RulesFor) -> list[str]:
    """When some accounts fail validation, still check the ones that pass (so every problem of
    the file is reported at once, not one round at a time)."""
    good = []
    accounts = raw.get("accounts")
    for acc in accounts if isinstance(accounts, list) else []:
        try:
            AccountSpec.model_validate(acc)
            good.append(acc)
        except (ValidationError, TypeError):
            continue
    if not good:
        return []
    try:
        partial = PortfolioFile.model_validate({**raw, "accounts": good})
    except ValidationError:
        return []            # as_of or market invalid: already reported
    return semantic_problems(partial, rules_for)


def semantic_problems(pf: PortfolioFile, rules_for: RulesFor) -> list[str]:
    """Checks that need the whole file: venue known, underlying priced, options alive,
    isolated positions margined, collateral priced."""
    out: list[str] = _market_problems(pf)
    seen: set[str] = set()
    for acc in pf.accounts:
        where = f"account '{acc.id}'"
        if acc.id in seen:
            out.append(f"{where}, field 'id': duplicate account id")
        seen.add(acc.id)
        try:
            rules = rules_for(acc.venue)
        except ValueError as e:
            out.append(f"{where}, field 'venue': {e}")
            continue
        for ccy, _, _ in acc.collateral_items():
            if pf.price(ccy) is None:
                out.append(f"{where}, field 'collateral.{ccy}': no price for {ccy} in 'market'")
        out += [f"{where}, {p}" for p in _debt_problems(pf, acc)]
        for key, items in (("supplied", acc.supplied_items()), ("borrowed", acc.borrowed_items())):
            for ccy, _ in items:
                if pf.price(ccy) is None:
                    out.append(f"{where}, field '{key}.{ccy}': no price for {ccy} in 'market'")
            if items and not getattr(rules, "is_loan", False) and not (key == "borrowed" and rules.borrows(acc)):
                out.append(f"{where}, field '{key}': '{rules.name}' is not a lending protocol "
                           f"(supplied/borrowed are for aave-v3, compound-v3, maker; use 'collateral')")
        if acc.mode == "portfolio" and not rules.supports_portfolio:
            out.append(f"{where}, field 'mode': portfolio margin is not implemented for "
                       f"venue '{rules.name}' (use cross or isolated)")
        out += [f"{where}, {p}" for p in rules.account_problems(acc)]
        out += [f"{where}, {p}" for p in _duplicate_legs(acc, rules)]
        for n, pos in enumerate(acc.positions, 1):
            label = pos.symbol or pos.underlying
            pwhere = f"{where}, position {n} ({label})"
            for msg, field in rules.position_problems(pos, acc):
                out.append(f"{pwhere}, field '{field}': {msg}")
            und = rules.underlying_of(pos)
            if und is not None and und not in pf.market:
                out.append(f"{pwhere}, field 'symbol': no market entry for underlying '{und}'")
            if pos.expiry is not None and pos.expiry <= pf.as_of:
                out.append(f"{pwhere}, field 'expiry': expired ({pos.expiry.isoformat()} ≤ as_of)")
            elif pos.kind == "option" and und in pf.market:
                out += [f"{pwhere}, {p}" for p in _option_problems(pf, pos, und)]
            if und in pf.market:
                out += [f"{pwhere}, {p}" for p in _size_problems(pf, pos, rules, und, acc)]
            if pos.kind != "spot" and pos.margin is None and acc.mode == "isolated":
                out.append(f"{pwhere}, field 'margin': an isolated position needs its margin")
    return out


_SEPARATORS = re.compile(r"[-_/:]")          # what underlying_from_symbol splits a symbol on
_HIP3 = re.compile(r"[A-Z0-9]+:[A-Z0-9]+")    # ... except a HIP-3 market, its own underlying


def _market_problems(pf: PortfolioFile) -> list[str]:
    """Each market block's vol model must build (term/smile/chain_csv checked here, not mid-run);
    ``market.correlation`` names quoted underlyings, pairs of two different ones, agreeing
    where both orders are given."""
    from liqrisk.dynamics.ohlc import DataError
    from liqrisk.dynamics.smile import vol_model_from_market
    out = []
    for a, row in pf.correlation.items():
        for b, rho in row.items():
            where = f"market, field 'correlation.{a}.{b}'"
            if a not in pf.market or b not in pf.market:
                out.append(f"{where}: no market entry for '{a if a not in pf.market else b}'")
            elif a == b and rho != 1:
                out.append(f"{where}: the correlation of an underlying with itself is 1")
            elif pf.correlation.get(b, {}).get(a, rho) != rho:
                out.append(f"{where}: {rho:g} but correlation.{b}.{a} is {pf.correlation[b][a]:g}")
    for name, m in pf.market.items():
        block = m.model_dump(exclude_none=True, exclude={"mark", "index"})
        if not block:
            continue
        try:
            model = vol_model_from_market(block)
            atm = float(model.vol(m.mark, 1 / 365, m.mark))
        except (ValueError, DataError, OSError) as e:
            out.append(f"market '{name}', field '{next(iter(block))}': {str(e).splitlines()[0]}")
            continue
        if not VOL_RANGE[0] <= atm <= VOL_RANGE[1]:
            out.append(f"market '{name}', field '{next(iter(block))}': ATM vol {atm:g} is outside the "
                       f"supported range [{VOL_RANGE[0]:g}, {VOL_RANGE[1]:g}]")
    return out


def _debt_problems(pf: PortfolioFile, acc: AccountSpec) -> list[str]:
    """A negative balance is a debt: the account's other collateral must be worth more."""
    debts = [(c, a) for c, a, _ in acc.collateral_items() if a < 0]
    if not debts or any(pf.price(c) is None for c, _, _ in acc.collateral_items()):
        return []
    assets = sum(a * (1 - h) * pf.price(c) for c, a, h in acc.collateral_items() if a > 0)
    owed = -sum(a * pf.price(c) for c, a in debts)
    if owed < assets:
        return []
    return [f"field 'collateral.{debts[0][0]}': a negative balance (a debt of {owed:,.2f} USD) must be "
            f"covered by the account's other collateral (worth {assets:,.2f} USD after haircuts)"]


def _size_problems(pf: PortfolioFile, pos: PositionSpec, rules, und: str, acc: AccountSpec) -> list[str]:
    """Notional within the supported range; a per-position ``cum`` must not make MM negative."""
    mark = pf.market[und].mark
    inverse = pos.kind != "option" and (pos.contract == "inverse" or rules.settles_in_coin)   # size = USD face
    notional = abs(pos.size) if inverse else abs(pos.size) * mark          # USD (inverse: face)
    if notional > AMOUNT_MAX:
        return [f"field 'size': notional {notional:g} USD is above the supported {AMOUNT_MAX:g}"]
    if pos.mmr is not None and pos.cum and pos.kind in ("perp", "future"):
        n = rules.terms(pos, acc, 0.0, 0.0).tier_notional(mark)           # in the tier's own unit
        if n * pos.mmr < pos.cum:
            return [f"field 'cum': {pos.cum:g} exceeds notional × mmr = {n * pos.mmr:g} at the mark "
                    f"(the maintenance margin would be negative)"]
    return []


def _duplicate_legs(acc: AccountSpec, rules) -> list[str]:
    """One-way mode holds one position per contract: a second leg on the same contract without
    ``position_side`` (hedge mode) would be margined gross instead of net."""
    seen: dict[tuple, int] = {}
    out = []
    for n, pos in enumerate(acc.positions, 1):
        if pos.kind == "spot" or pos.position_side in ("long", "short"):
            continue
        key = (rules.underlying_of(pos), (pos.symbol or "").upper(), pos.kind, pos.expiry, pos.strike, pos.type)
        if key in seen:
            out.append(f"position {n} ({pos.symbol or pos.underlying}), field 'position_side': same contract "
                       f"as position {seen[key]}; net them (one-way mode) or set position_side long/short "
                       f"on both (hedge mode)")
        else:
            seen[key] = n
    return out


def _option_problems(pf: PortfolioFile, pos: PositionSpec, und: str) -> list[str]:
    """An option needs a vol: its own 'mark' (premium in coin, inside the no-arbitrage bounds)
    or a vol block for its underlying in 'market' (checked here, not as an error mid-analysis)."""
    from liqrisk.pricing import implied_vol

    m = pf.market[und]
    # entry is the premium paid per contract in coin: a call is worth < 1 coin, a put < K/S coins
    cap = 1.0 if pos.type == "call" else pos.strike / m.mark
    if pos.entry >= cap * 3:
        return [f"field 'entry': {pos.entry:g} is not a premium in coin per contract (a {pos.type} "
                f"is worth < {cap:.4g} {und}; a USD price?)"]
    if pos.mark is None:
        if m.vol is None and m.term is None and m.smile is None and m.chain_csv is None:
            return [f"field 'mark': no vol for '{und}' in 'market' (give market.{und}.vol or the option's 'mark')"]
        return []
    years = (pos.expiry - pf.as_of).total_seconds() / (365.0 * 86400.0)
    iv = implied_vol(pos.mark * m.mark, m.mark, pos.strike, years, pf.rate, pos.type == "call", q=pf.rate)
    if not math.isfinite(float(iv)):
        return [f"field 'mark': {pos.mark} is outside the no-arbitrage bounds of this option"]
    return []


def read_document(path: str | Path, lazy_accounts: bool = False) -> Any:
    """The decoded YAML or JSON document of a portfolio file (relative ``chain_csv`` paths made
    relative to the file's folder); unreadable or undecodable files (and the bounds of
    :mod:`liqrisk.io.limits`) are an :class:`InputError`. ``lazy_accounts``: a JSON file's
    accounts come as a :class:`~liqrisk.io.documents.JsonItems` (decoded when sliced)."""
    p = Path(path)
    try:
        raw = load_document(p, "portfolio file", lazy_array="accounts" if lazy_accounts else None)
    except DocumentError as e:
        raise InputError([str(e)]) from None
    if isinstance(raw, dict) and isinstance(raw.get("as_of"), datetime) and raw["as_of"].tzinfo is None:
        raw = {**raw, "as_of": raw["as_of"].replace(tzinfo=timezone.utc)}
    return _relative_to(raw, p.parent)


def load_portfolio(path: str | Path, *, rules_for: RulesFor) -> PortfolioFile:
    """Read and validate a YAML or JSON portfolio file."""
    return parse_portfolio(read_document(path), rules_for=rules_for)


def _relative_to(raw, folder: Path):
    """A copy of the document whose relative ``chain_csv`` paths point next to the input file."""
    market = raw.get("market") if isinstance(raw, dict) else None
    if not isinstance(market, dict):
        return raw
    fixed = {}
    for name, block in market.items():
        if isinstance(block, dict) and isinstance(block.get("chain_csv"), str) \
                and not Path(block["chain_csv"]).is_absolute():
            block = {**block, "chain_csv": str(folder / block["chain_csv"])}
        fixed[name] = block
    return {**raw, "market": fixed}
