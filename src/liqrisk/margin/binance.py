"""Binance USDⓈ-M (linear) and COIN-M (inverse) futures.

Rule version: Binance Futures "How to Calculate Liquidation Price" (USDⓈ-M and COIN-M FAQ,
as published up to 2026-11), one-way and hedge mode, cross and isolated. Maintenance margin is
tiered (deduction form) and evaluated at the mark price; brackets from
``GET /fapi/v1/leverageBracket`` (USDⓈ-M snapshot 2026-09 bundled) and ``/dapi/v1/leverageBracket``.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

import numpy as np

from liqrisk.margin import binance_pm
from liqrisk.margin.base import INVERSE, LINEAR, LIQ_STEP_DOWN, LiquidationResponse, PositionTerms, RuleSet

#: Binance liquidation process: one IOC order reducing the position to a lower bracket (from
#: bracket 2 up); otherwise the whole position goes to the insurance fund at the bankruptcy price;
#: ADL last, ranked by PnL% × margin ratio. Clearance fee = ``liquidation_fee`` (0.5% default).
BINANCE_LIQUIDATION = LiquidationResponse(style=LIQ_STEP_DOWN, min_tier=1)
from liqrisk.margin.tiers import TierTable


@lru_cache(maxsize=None)
def usdm_brackets() -> dict[str, TierTable]:
    """The bundled USDⓈ-M brackets (binance_usdm_brackets_2026-09.json)."""
    raw = json.loads(resources.files("liqrisk.margin").joinpath(
        "data/binance_usdm_brackets_2026-09.json").read_text())
    return {s: TierTable.from_rows(rows) for s, rows in raw["symbols"].items()}


class BinanceUSDM(RuleSet):
    """Binance USDⓈ-M: linear, USDT-margined; default leverage 20×, clearance fee 0.5%.
    ``mode: portfolio`` is Binance portfolio margin (uniMMR over USDⓈ-M, COIN-M and margin
    loans, :mod:`liqrisk.margin.binance_pm`)."""

    name = "binance-usdm"
    contract = LINEAR
    #: perpetuals BTCUSDT, BTCUSDC, ETHBTC, 1000PEPEUSDT; delivery futures BTCUSDT_261225
    #: (exchangeInfo ``symbol``). ``[^\W_]``: a letter or digit of any script (Binance lists
    #: names in Chinese characters, 币安人生USDT)
    symbol_forms = ((r"[^\W_]+(?:USDT|USDC|BUSD|BTC)", "BTCUSDT"), (r"[^\W_]+(?:USDT|USDC)_\d{6}", "BTCUSDT_261225"))
    liquidation_response = BINANCE_LIQUIDATION
    default_source = "Binance leverageBracket API snapshot 2026-09 (bundled)"
    supports_portfolio = True

    # ---- portfolio margin -------------------------------------------------------------------
    def _pm(self) -> dict:
        return binance_pm.parameters(self.params.portfolio_margin)

    @staticmethod
    def _coinm(pos, account) -> bool:
        """A COIN-M position of a portfolio-margin account (``contract: inverse`` or a COIN-M
        symbol such as BTCUSD_PERP / BTCUSD_261225)."""
        return account.mode == "portfolio" and (pos.contract == "inverse" or (
            pos.contract is None and re.fullmatch(r"[A-Z0-9]+USD_[A-Z0-9]+", (pos.symbol or "").upper()) is not None))

    def settlement_currency(self, account) -> str:
        return "USD" if account.mode == "portfolio" else super().settlement_currency(account)

    def borrows(self, account) -> bool:
        return account.mode == "portfolio"

    def account_problems(self, account) -> list[str]:
        if account.mode != "portfolio":
            return super().account_problems(account)
        return binance_pm.account_problems(self._pm(), account)

    def position_problems(self, pos, account):
        if not self._coinm(pos, account):
            return super().position_problems(pos, account)
        return BinanceCOINM(self.params).position_problems(pos, account)

    def terms(self, pos, account, years, vol) -> PositionTerms:
        if self._coinm(pos, account):
            return BinanceCOINM(self.params).terms(pos, account, years, vol)
        return super().terms(pos, account, years, vol)

    def scenario_terms(self, pos, t, account) -> dict:
        """Brackets × liquidation_uni_mmr: the pool's MM is the liquidation requirement."""
        return {"tiers": binance_pm.scaled(t.tiers, float(self._pm()["liquidation_uni_mmr"]))}

    def collateral_legs(self, account):
        if account.mode != "portfolio":
            return None
        coins = [self.underlying_of(p) for p in account.positions if self._coinm(p, account)]
        return binance_pm.collateral_legs(account, self._pm(), coins)

    def scenario_set(self, account, terms):
        return binance_pm.scenario_set(self._pm())

    def initial_margin(self, t, pos, account, price):
        """USD in portfolio margin (COIN-M: face / leverage)."""
        if account.mode == "portfolio" and t.contract == INVERSE:
            return abs(t.qty) / self.leverage(pos, account)
        return super().initial_margin(t, pos, account, price)

    def portfolio_block(self, plan, arrays, market) -> dict:
        from liqrisk.margin.kernel import pool_state_nb, position_state_nb
        prices, args = market.prices, arrays.args()
        k = float(self._pm()["liquidation_uni_mmr"])
        coin_pnl, usdm_pnl, mm = {}, 0.0, 0.0
        for pos, row, t in zip(plan.account.positions, plan.position_rows, plan.terms):
            P = float(prices[arrays.axis[row]])
            value, pmm = position_state_nb(row, prices, 1.0 if t.contract == LINEAR else P, 0.0, args)
            mm += pmm / k
            if t.contract == INVERSE:
                coin = self.underlying_of(pos)
                coin_pnl[coin] = coin_pnl.get(coin, 0.0) + value / P
            else:
                usdm_pnl += value
        eq, req = pool_state_nb(plan.cross_pool, prices, 0.0, args)
        named = {n: float(x) for n, x in zip(market.names, prices)}
        return binance_pm.block(plan.account, self._pm(), named, mm, coin_pnl, usdm_pnl, eq - req)

    def table_key(self, pos) -> str:
        return pos.symbol.upper() if pos.symbol else self.underlying_of(pos) + "USDT"

    def parameter_source(self, pos) -> str:
        source = super().parameter_source(pos)
        symbol = (pos.symbol or "").upper()
        if source == self.default_source and symbol and symbol not in usdm_brackets():
            return f"{self.underlying_of(pos)}USDT brackets of the bundled 2026-09 snapshot used for {symbol}"
        return source

    def default_table(self, pos, keys) -> TierTable:
        brackets = usdm_brackets()
        for k in keys + [self.underlying_of(pos) + "USDT"]:
            if k in brackets:
                return brackets[k]
        raise KeyError(f"no Binance brackets bundled for '{keys[0]}' (bundled: "
                       f"{', '.join(sorted(brackets))}); give venue.brackets or a per-position 'mmr'")


class BinanceCOINM(RuleSet):
    """Binance COIN-M: inverse, coin-margined; sizes in USD face (contracts × 100 USD for BTCUSD,
    × 10 for alts); brackets on the coin notional face/mark."""

    name = "binance-coinm"
    contract = INVERSE
    symbol_forms = ((r"[A-Z0-9]+USD_PERP", "BTCUSD_PERP"), (r"[A-Z0-9]+USD_\d{6}", "BTCUSD_261225"))
    liquidation_response = BINANCE_LIQUIDATION
    settles_in_coin = True
    defaults_key = "binance-coinm"

    def table_key(self, pos) -> str:
        return self.underlying_of(pos) + "USD"


def _select_tier_fixed_point(lp_of, tables_and_sizes, start_notionals, max_iter=50):
    """Iterate LP → tier at the LP notional → LP until the tiers stop changing (docs/venues.md §0:
    the tier must be selected at the liquidation notional)."""
    notionals = list(start_notionals)
    seen = set()
    lp = np.nan
    for _ in range(max_iter):
        rates = [t.rate_and_cum(n) for t, n in zip((ts for ts, _ in tables_and_sizes), notionals)]
        key = tuple(float(m) for m, _ in rates)
        lp = lp_of([float(m) for m, _ in rates], [float(c) for _, c in rates])
        if not np.isfinite(lp) or lp <= 0:
            return None
        new = [size_fn(lp) for _, size_fn in tables_and_sizes]
        new_key = tuple(float(t.rate_and_cum(n)[0]) for (t, _), n in zip(tables_and_sizes, new))
        if new_key == key or key in seen:
            return lp
        seen.add(key)
        notionals = new
    return lp


def usdm_liquidation_price(wallet: float, tmm_other: float, upnl_other: float,
                           both: tuple[float, float] = (0.0, 0.0), long: tuple[float, float] = (0.0, 0.0),
                           short: tuple[float, float] = (0.0, 0.0), table: TierTable | None = None,
                           mark: float | None = None) -> float | None:
    """Binance USDⓈ-M liquidation price (published formula, one-way and hedge mode).

    ``both = (signed size, entry)`` for one-way mode; ``long``/``short = (|size|, entry)`` for
    hedge mode. ``wallet`` = WB (cross wallet, or the isolated wallet with tmm/upnl = 0). Tiers
    are selected at the liquidation notional. Returns None where the formula gives ≤ 0.
    """
    pos_b, ep_b = both
    side = 1.0 if pos_b >= 0 else -1.0
    q_b, q_l, q_s = abs(pos_b), abs(long[0]), abs(short[0])

    def lp_of(mmrs, cums):
        m_b, m_l, m_s = mmrs
        cum = sum(c for c, q in zip(cums, (q_b, q_l, q_s)) if q)
        num = wallet - tmm_other + upnl_other + cum - side * q_b * ep_b - q_l * long[1] + q_s * short[1]
        den = q_b * m_b + q_l * m_l + q_s * m_s - side * q_b - q_l + q_s
        return num / den if den != 0 else np.nan

    m = mark or ep_b or long[1] or short[1]
    parts = [(table, lambda lp, q=q: q * lp) for q in (q_b, q_l, q_s)]
    return _select_tier_fixed_point(lp_of, parts, [q_b * m, q_l * m, q_s * m])


def coinm_liquidation_price(wallet: float, tmm_other: float, upnl_other: float, contract_size: float,
                            both: tuple[float, float] = (0.0, 0.0), long: tuple[float, float] = (0.0, 0.0),
                            short: tuple[float, float] = (0.0, 0.0), table: TierTable | None = None,
                            mark: float | None = None) -> float | None:
    """Binance COIN-M liquidation price (published formula). Positions in contracts, amounts in
    coin, tiers on the coin notional contracts·CS/LP, selected at the liquidation price."""
    pos_b, ep_b = both
    side = 1.0 if pos_b >= 0 else -1.0
    q_b, q_l, q_s = abs(pos_b), abs(long[0]), abs(short[0])
    cs = contract_size

    def lp_of(mmrs, cums):
        m_b, m_l, m_s = mmrs
        cum = sum(c for c, q in zip(cums, (q_b, q_l, q_s)) if q)
        num = q_b * m_b + q_l * m_l + q_s * m_s + side * q_b + q_l - q_s
        den = ((wallet - tmm_other + upnl_other + cum) / cs
               + (side * q_b / ep_b if q_b else 0.0) + (q_l / long[1] if q_l else 0.0)
               - (q_s / short[1] if q_s else 0.0))
        return num / den if den != 0 else np.nan

    m = mark or ep_b or long[1] or short[1]
    parts = [(table, lambda lp, q=q: q * cs / lp) for q in (q_b, q_l, q_s)]
    return _select_tier_fixed_point(lp_of, parts, [q_b * cs / m, q_l * cs / m, q_s * cs / m])
