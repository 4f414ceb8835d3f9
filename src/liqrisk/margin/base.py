"""What every venue rule set provides, and the codes the margin kernel understands.

A rule set turns one input position into a :class:`PositionTerms` record (how its PnL, value
and maintenance margin depend on the price) and gives its initial margin at the current mark.
The kernel (:mod:`liqrisk.margin.kernel`) evaluates those records along any price axis; closed
forms published by a venue live in that venue's module and are tested against the kernel.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np

from liqrisk.margin.offsets import settle_coin
from liqrisk.margin.recorded import default_recording
from liqrisk.margin.tiers import TierTable

# contract codes: how a position's value depends on its price P
LINEAR, INVERSE, INVERSE_OPTION = 0, 1, 2
# maintenance-margin codes
MM_TIERS_AT_MARK = 0     # tiered (deduction form) on the notional at mark
MM_ENTRY_VALUE = 1       # p1 × notional at entry (Bybit classic / UTA-2024, BitMEX, Phemex,
                         # KuCoin 2023); a tier's deduction is folded into p1 (entry_value_rate)
MM_WHOLE_TIER_FEE = 2    # OKX: tier MMR on the whole notional + taker fee
MM_DERIBIT_FUTURE = 3    # Deribit: size_coin·(a + b·size_coin)
MM_DERIBIT_OPTION = 4    # Deribit standard option margin (short only)
MM_NONE = 5              # no margin of its own: the pool's scenario margin covers it
# how the tier table's notional is measured
NOTIONAL_QUOTE = 0       # |Q|·P (linear, USD)
NOTIONAL_COIN = 1        # face/P (inverse, coin)
NOTIONAL_FACE = 2        # face (inverse, USD face)
NOTIONAL_SIZE = 3        # fixed: the tier is chosen by position size (OKX), value in p2

# what a liquidation of a collateral-loan pool leaves the holder (kernel.loan_equity_after_nb)
LOAN_NONE = 0            # not a loan: max(0, min(equity, MM) − fee·notional)
LOAN_AAVE = 1            # Aave v3.0–3.2: close factor 50% of the debt reserve, 100% at HF ≤ 0.95
LOAN_AAVE33 = 2          # Aave v3.3: whole reserve unless both ≥ $2,000 and HF > 0.95, dust rules
LOAN_COMPOUND = 3        # Compound III absorb: the holder keeps max(Σ value·LF − debt, 0)
LOAN_MAKER = 4           # Maker bark: the penalty (chop − 1)·debt

_QUOTES = ("USDT", "USDC", "BUSD", "FDUSD", "USD")

# liquidation-response styles: what a venue does to a margin pool whose equity reached its MM
LIQ_FULL = 0             # close every position of the pool in the book
LIQ_STEP_DOWN = 1        # bring positions in tier ≥ min_tier just below their tier floor (one IOC
                         # order) if that leaves equity − fee > MM; else close all (Binance, OKX)
LIQ_FRACTION = 2         # reduce positions above threshold_usd by fraction, once per cooldown;
                         # close all when none is that large or equity < backstop_ratio·MM (Hyperliquid)
LIQ_FUTURES_FIRST = 3    # close the futures first; the options too if that does not restore
                         # equity − fee > MM (Deribit: incremental, futures before options)
# ADL rankings of the counterparties of a bankrupt position
ADL_PNL_X_MARGIN_RATIO = 0   # Binance: PnL% × margin ratio
ADL_PNL_X_LEVERAGE = 1       # Bybit: PnL% × effective leverage


@dataclass(frozen=True)
class LiquidationResponse:
    """A venue's liquidation response as data (the cascade executes it; docs/venues.md describes each; rule
    versions are named in each venue module). ``min_tier`` is 0-based; ``threshold_usd`` and
    ``fraction`` are the partial-liquidation size and share, ``backstop_ratio`` the equity/MM
    ratio below which the venue takes over; ``cooldown`` in seconds between partial liquidations."""

    style: int = LIQ_FULL
    min_tier: int = 1
    threshold_usd: float = 100_000.0
    fraction: float = 0.2
    backstop_ratio: float = 0.0
    cooldown_s: float = 0.0
    adl_ranking: int = ADL_PNL_X_MARGIN_RATIO

    def adl_score(self, upnl, wallet, equity, mm, notional) -> np.ndarray:
        """Rank of counterparty positions (higher is deleveraged first), all USD arrays:
        ``PnL% = max(0, uPnL)/max(1, WB)`` times the margin ratio ``MM/(WB + uPnL)`` (Binance) or
        the effective leverage ``notional/(WB + uPnL)`` (Bybit); 0 when ``WB + uPnL ≤ 0`` or
        without profit (never NaN)."""
        other = mm if self.adl_ranking == ADL_PNL_X_MARGIN_RATIO else notional
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ratio = np.where(equity > 0, other / np.where(equity > 0, equity, 1.0), 0.0)
            pnl = np.maximum(upnl, 0.0) / np.maximum(wallet, 1.0)
            return np.where(pnl > 0, pnl * ratio, 0.0)


@dataclass
class PositionTerms:
    """Everything the kernel needs about one position (units in the docstring of each field)."""

    contract: int
    qty: float                 # signed: base units (linear), USD face (inverse), contracts (options)
    entry: float               # entry price (USD) or premium (coin) for options
    mm_code: int
    tiers: TierTable | None = None
    notional_mode: int = NOTIONAL_QUOTE
    p1: float = 0.0            # code-specific parameter (fee, rate, Deribit a, option MM base)
    p2: float = 0.0            # code-specific parameter (Deribit b)
    strike: float = 0.0
    is_call: bool = False
    expiry_years: float = 0.0
    vol: float = 0.0
    basis: float = 1.0         # position mark / underlying mark, held fixed along the axis
    # scenario (portfolio) margin: price range (fraction of price, or price units), shocked
    # vols (None: unchanged), roll-shock and minimum-charge rates per USD of coin size
    # (kernel.scenario_mm_nb)
    sh_rel: float = 0.0
    sh_abs: float = 0.0
    vol_up: float | None = None
    vol_dn: float | None = None
    roll: float = 0.0
    min_charge: float = 0.0

    def tier_notional(self, price: float) -> float:
        """The notional the tier table is read at, with the underlying at ``price`` (the kernel's
        ``_tier_notional`` for one position)."""
        p = price * self.basis
        return {NOTIONAL_QUOTE: abs(self.qty) * p, NOTIONAL_COIN: abs(self.qty) / p,
                NOTIONAL_FACE: abs(self.qty), NOTIONAL_SIZE: self.p2}[self.notional_mode]


@dataclass
class VenueParams:
    """Parameters a user may override per venue (docs/venues.md: parameters are data)."""

    brackets: dict[str, TierTable] = field(default_factory=dict)
    taker_fee: float = 0.0005
    liquidation_fee: float = 0.005
    default_leverage: float = 20.0
    version: str | None = None
    reserves: dict[str, dict[str, float]] = field(default_factory=dict)   # lending protocols
    e_mode: object | None = None                                          # Aave e-mode category
    portfolio_margin: dict = field(default_factory=dict)                  # scenario margin


def entry_value_rate(table: TierTable, notional: float) -> float:
    """``p1`` of :data:`MM_ENTRY_VALUE` for a position whose tier is read at its entry
    ``notional`` n: ``(n·MMR_k − cum_k)/n``, so that the kernel's ``p1·|q|·entry`` is
    ``|q|·entry·MMR − deduction`` (linear) and ``p1·face/entry`` is ``(face·MMR − deduction)/entry``
    coin (inverse, table in USD face); a whole-position table (cum ≡ 0) gives the tier's rate.
    The tier 1 rate when n = 0."""
    mmr, cum = table.rate_and_cum(notional)
    return float(mmr - cum / notional) if notional > 0 else float(mmr)


class UnknownVenue(ValueError):
    pass


@lru_cache(maxsize=None)
def venue_defaults() -> dict:
    """The bundled default parameter tables (``margin/data/venue_defaults.json``)."""
    return json.loads(resources.files("liqrisk.margin").joinpath("data/venue_defaults.json").read_text())


@lru_cache(maxsize=65536)
def underlying_from_symbol(symbol: str) -> str:
    """BTCUSDT, BTC-USDT-SWAP, BTCUSD_PERP, BTC-PERP, XBTUSD, BTC-25DEC26 → BTC.

    A Hyperliquid HIP-3 market ``dex:ASSET`` (``xyz:TSLA``, a builder-deployed perp with its
    own oracle) is its own underlying, ``XYZ:TSLA``: never the dex name, never another dex's
    ``TSLA``.
    """
    s = symbol.upper()
    if re.fullmatch(r"[A-Z0-9]+:[A-Z0-9]+", s):
        return s
    s = re.split(r"[-_/:]", s)[0] if re.search(r"[-_/:]", s) else s
    for q in _QUOTES:
        if s.endswith(q) and len(s) > len(q):
            s = s[: -len(q)]
            break
    return "BTC" if s == "XBT" else s


class RuleSet:
    """Base rule set. Subclasses (one module per venue) set the class attributes and override the
    few methods that differ. Docstrings name the published rule version they follow."""

    name: str = ""
    contract: int = LINEAR
    supports_portfolio = False
    is_loan = False                  # lending protocol: supplied/borrowed assets, a health factor
    settles_in_coin = False
    #: options pay their payoff at expiry in USD (a stable coin: CME, Bybit's USDC options), not in
    #: the coin (Deribit, OKX's coin-margined options) — the Monte Carlo holds it as USD or as coin
    options_pay_usd = False
    versions: tuple[str, ...] = ()   # published rule versions a user may choose (venue.version)
    default_taker_fee = 0.0005
    default_liquidation_fee = 0.005
    default_leverage = 20.0

    def __init__(self, params: VenueParams | None = None):
        self.params = params or VenueParams(taker_fee=self.default_taker_fee,
                                            liquidation_fee=self.default_liquidation_fee,
                                            default_leverage=self.default_leverage)

    @property
    def version(self) -> str | None:
        """The rule version in force: the account's ``venue.version``, else the newest published
        one (``versions[0]``); None for a venue with one version."""
        return self.params.version or (self.versions[0] if self.versions else None)

    # ---- identification -------------------------------------------------------------------
    def underlying_of(self, pos) -> str | None:
        return (pos.underlying or underlying_from_symbol(pos.symbol)).upper()

    def contract_of(self, pos) -> int:
        if pos.kind == "option":
            return INVERSE_OPTION
        if pos.contract is not None:
            return INVERSE if pos.contract == "inverse" else LINEAR
        return self.contract

    def settlement_currency(self, account) -> str:
        """Linear venues: the stable coin the account's contracts settle in (USDC for USDC
        perpetuals and futures, :func:`~liqrisk.margin.offsets.settle_coin`), USDT when they are
        USDT contracts or mixed; coin-margined venues: the coin of the positions."""
        if not self.settles_in_coin:
            coins = {settle_coin(p, self.contract_of(p) != LINEAR, "USDT") for p in account.positions
                     if p.kind in ("perp", "future")}
            return "USDC" if coins == {"USDC"} else "USDT"
        unds = {self.underlying_of(p) for p in account.positions if p.kind != "spot"}
        if len(unds) == 1:
            return unds.pop()
        coins = [c for c, _, _ in account.collateral_items() if c not in _QUOTES]
        return coins[0] if coins else "BTC"

    def account_problems(self, account) -> list[str]:
        """Problems of a whole account ("field '…': message" lines). Coin-margined venues keep one
        wallet per coin: an account must hold one coin's contracts and that coin as collateral."""
        if not self.settles_in_coin:
            return []
        coins = sorted({self.underlying_of(p) for p in account.positions if p.kind != "spot"})
        out = []
        if len(coins) > 1:
            out.append(f"field 'positions': {self.name} margins each coin separately; contracts on "
                       f"{', '.join(coins)} need one account per coin")
        coin = coins[0] if len(coins) == 1 else None
        for ccy, _, _ in account.collateral_items():
            if coin is not None and ccy != coin:
                out.append(f"field 'collateral.{ccy}': a {coin}-margined {self.name} account holds {coin} "
                           f"as margin, not {ccy}")
        return out

    symbol_forms: tuple[tuple[str, str], ...] = ()
    """The venue's names of its perpetuals and futures: (pattern of the upper-cased symbol, an
    example) per form. Empty: no grammar here yet — any name is read by its underlying."""

    def symbol_problem(self, pos) -> str | None:
        """Why a perp's or future's ``symbol`` is none of :attr:`symbol_forms` (None: it is one,
        or the venue has none, or no symbol is given). A name of another venue's form was read by
        its underlying and margined as this venue's contract (BTCUSDT on an inverse venue)."""
        if not self.symbol_forms or pos.symbol is None or pos.kind not in ("perp", "future"):
            return None
        sym = pos.symbol.upper()
        if any(re.fullmatch(pattern, sym) for pattern, _ in self.symbol_forms):
            return None
        return f"not a {self.name} contract name ({self.name} lists {', '.join(e for _, e in self.symbol_forms)})"

    def position_problems(self, pos, account) -> list[tuple[str, str]]:
        """(message, field) pairs for positions this venue cannot hold."""
        out = []
        if problem := self.symbol_problem(pos):
            return [(problem, "symbol")]
        if pos.contract is not None and pos.kind != "option" and \
                (INVERSE if pos.contract == "inverse" else LINEAR) != self.contract:
            out.append((f"{self.name} trades {'linear' if self.contract == LINEAR else 'inverse'} "
                        f"contracts only", "contract"))
        if pos.kind == "option":
            out.append((f"options are not supported on '{self.name}' (use deribit)", "kind"))
        if pos.kind in ("perp", "future") and pos.mmr is None:
            try:
                self.tier_table(pos)
            except KeyError as e:
                out.append((str(e.args[0]), "symbol"))
        return out

    # ---- parameters -------------------------------------------------------------------------
    def table_key(self, pos) -> str:
        return self.underlying_of(pos)

    def tier_table(self, pos) -> TierTable:
        """The tiers for this position: a per-position override, the user's venue brackets, or
        the bundled defaults."""
        if pos.mmr is not None:
            return TierTable.flat(pos.mmr, pos.cum or 0.0)
        keys = [k for k in (pos.symbol.upper() if pos.symbol else None, self.table_key(pos)) if k]
        for k in keys:
            if k in self.params.brackets:
                return self.params.brackets[k]
        return self.default_table(pos, keys)

    default_source = "representative default table (verify against the venue, override)"

    def parameter_source(self, pos) -> str:
        """Where this position's maintenance-margin parameters come from."""
        if pos.mmr is not None:
            return "position override (mmr/cum)"
        keys = [k for k in (pos.symbol.upper() if pos.symbol else None, self.table_key(pos)) if k]
        if any(k in self.params.brackets for k in keys):
            return "venue override (brackets)"
        recorded = default_recording(self.name, pos.symbol)
        return recorded.describe() if recorded is not None else self.default_source

    tier_cap_inclusive = False
    """Whether a notional exactly at a tier's cap is in that tier (the venue's tiers are
    ``(floor, cap]``) rather than the next (``[floor, cap)``, the default where the venue's text
    does not say). Set per venue from its docs or API (docs/venues.md §0, "Tier bounds")."""

    def default_table(self, pos, keys) -> TierTable:
        """The bundled tiers: the venue's recorded table of this exact symbol
        (:mod:`~liqrisk.margin.recorded`), else the representative table of its key or ``*``."""
        recorded = default_recording(self.name, pos.symbol)
        if recorded is not None:
            return self.rows_to_table(recorded.rows)
        table = venue_defaults().get(self.defaults_key, {})
        for k in keys + ["*"]:
            if k in table:
                return self.rows_to_table(table[k])
        raise KeyError(f"no maintenance-margin tiers for '{keys[0]}' on {self.name}; give "
                       f"venue.brackets or a per-position 'mmr'")

    defaults_key = ""

    @classmethod
    def brackets_deduct(cls, version: str | None) -> bool:
        """Whether the user's brackets of rule ``version`` (None: the default) have a deduction
        (``cum``: kept as given, derived from the floors where missing) rather than a whole-position
        rate (no ``cum``)."""
        return True

    @classmethod
    def rows_to_table(cls, rows, deduction=True) -> TierTable:
        """A table from bundled rows (floor, cap, MMR, max leverage), bounds as the venue counts them."""
        return TierTable.from_rows([{"notional_floor": r[0], "notional_cap": r[1],
                                     "maint_margin_ratio": r[2], "max_leverage": r[3]} for r in rows],
                                   deduction=deduction, cap_inclusive=cls.tier_cap_inclusive)

    # ---- scenario (portfolio) margin: rule sets with supports_portfolio override these ---------
    def scenario_terms(self, pos, t: PositionTerms, account) -> dict:
        """Fields of a position's terms in ``mode: portfolio`` (range, shocked vols, roll rate)."""
        return {}

    def scenario_set(self, account, terms):
        """The :class:`~liqrisk.margin.scenario.ScenarioSet` of a portfolio-mode account."""
        raise NotImplementedError(f"{self.name} has no portfolio margin")

    def borrows(self, account) -> bool:
        """Whether the account may give ``borrowed`` assets (margin loans) without being a lending
        protocol."""
        return False

    def collateral_legs(self, account) -> list[tuple[str, float, float]] | None:
        """(asset, amount, MM per USD of value) collateral legs when the rule set values collateral
        itself (Binance portfolio margin); None: balances after their haircut."""
        return None

    def portfolio_block(self, plan, arrays, market) -> dict | None:
        """The result's ``portfolio_margin`` block when it is not a risk matrix (None: it is)."""
        return None

    def leverage(self, pos, account) -> float:
        return pos.leverage or account.leverage or self.params.default_leverage

    # ---- liquidation response (what the venue does when a pool falls) ---------------------------
    liquidation_response = LiquidationResponse()
    """Default: close the whole pool in the book, ADL ranked by PnL% × margin ratio. A rule set
    overrides this attribute (or makes it a property) to declare its venue's process."""

    def liquidation_fee(self, underlying: str) -> float:
        """Liquidation (clearance) fee, fraction of the liquidated USD notional, paid to the
        venue's insurance fund."""
        return float(self.params.liquidation_fee)

    # ---- per-position terms -------------------------------------------------------------------
    def terms(self, pos, account, as_of_years_to_expiry: float, vol: float) -> PositionTerms:
        """Default: tiered MM at mark, linear or inverse as the venue trades."""
        contract = self.contract_of(pos)
        return PositionTerms(contract=contract, qty=pos.size, entry=pos.entry,
                             mm_code=MM_TIERS_AT_MARK, tiers=self.tier_table(pos),
                             notional_mode=NOTIONAL_QUOTE if contract == LINEAR else NOTIONAL_COIN)

    def initial_margin(self, t: PositionTerms, pos, account, price: float) -> float:
        """Initial margin at the current mark in the settlement currency: notional / leverage."""
        lev = self.leverage(pos, account)
        if t.contract == LINEAR:
            return abs(t.qty) * price / lev
        return abs(t.qty) / price / lev
