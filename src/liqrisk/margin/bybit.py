"""Bybit linear (USDT) and inverse (coin) contracts.

Rule versions (choose with ``venue: {name: bybit-linear, version: ...}``):

* ``uta-2026`` (default): Unified Trading Account as published in 2026 — maintenance margin
  tiered and evaluated at the mark (the Binance form), cross and isolated; inverse isolated
  closed form :func:`uta2026_isolated_inverse` (the engine matches it with no extra margin; the
  published ``extra/(1 ± taker)`` term — extra margin net of the closing fee — is not modelled,
  and tier deductions are kept in USD, which matters from tier 2 on).
* ``uta-2024``: UTA isolated margin with MM on the *entry* value, in the deduction form of the
  risk-limit tier containing it (Bybit help centre "Maintenance Margin (USDT Contract)" /
  "(Inverse Contract)": ``MM = position value·MMR − MM deduction``; the deduction is 0 in tier 1):
  linear ``LP = EP − side·(IM + extra − MM_entry)/Q``; inverse ``LP = Qty/(PV + IM − MM)``.
  A linear position's MM holds Bybit's estimated fee to close at the bankruptcy price
  (:func:`close_fee_rate`), as Bybit publishes it and reports it in ``positionMM``; the position
  margin Bybit holds (``positionIM``) carries the same fee, so the published ``LP`` is unchanged
  when ``margin`` is that position margin.
* ``classic``: classic account, MM on entry value (deduction form as above): linear
  ``LP = EP·(1 − side·(IMR − MMR)) − side·(extra + deduction)/Q``; inverse
  ``LP_long = EP·L/(L + 1 − MMR·L)`` in tier 1, ``Qty/(PV + IM − MM)`` in general. A cross inverse
  position's MM also holds the fee to close at its bankruptcy price, ``Q·taker/BP`` coin
  (:func:`classic_cross_inverse_bankruptcy`, :func:`classic_cross_inverse_liquidation`); the
  classic cross linear fee term is not modelled (no published formula found).
Bankruptcy price (isolated, linear): ``EP·(1 − side·IMR)``.
"""
from __future__ import annotations

import re

from liqrisk.margin import bybit_pm
from liqrisk.margin.risk_unit import RiskUnitPortfolio
from liqrisk.margin.base import (ADL_PNL_X_LEVERAGE, INVERSE, LINEAR, MM_ENTRY_VALUE, NOTIONAL_FACE,
                                 NOTIONAL_QUOTE, LiquidationResponse, PositionTerms, RuleSet,
                                 entry_value_rate, underlying_from_symbol)

VERSIONS = ("uta-2026", "uta-2024", "classic")
#: Bybit's own contract names (API v5 "symbol" enum): BTCUSDT USDT perpetual, BTCUSDT-21FEB25 USDT
#: futures, BTCPERP USDC perpetual, BTC-24MAR23 USDC futures, BTCUSD inverse perpetual, BTCUSDH23
#: inverse futures (H, M, U, Z: first to fourth quarter; 23: 2023). The two forms the generic
#: parser does not read: the PERP suffix and the quarter code (whose delivery day the name omits)
_OWN_NAME = re.compile(r"^(?P<base>[A-Z0-9]+?)(?:PERP|USD[HMUZ]\d{2})$")


class _Bybit(RuleSet):
    defaults_key = "bybit"
    default_leverage = 10.0
    default_taker_fee = 0.00055
    #: the position is taken over and closed; ADL ranked by profit × effective leverage
    liquidation_response = LiquidationResponse(adl_ranking=ADL_PNL_X_LEVERAGE)
    versions = VERSIONS
    #: a tier includes its ``riskLimitValue``: "the risk limit will limit the maximum position
    #: value you can hold" (bybit-exchange.github.io/doc-v3-offline/derivatives/unified/risk-limit);
    #: GET /v5/market/risk-limit gives ``riskLimitValue`` as the tier's position limit
    tier_cap_inclusive = True

    def underlying_of(self, pos) -> str | None:
        """BTCPERP, BTCUSDH23 → BTC; other names as every venue's (BTCUSDT-21FEB25, BTC-24MAR23 → BTC)."""
        if pos.underlying:
            return pos.underlying.upper()
        m = _OWN_NAME.match(pos.symbol.upper())
        return m.group("base") if m else underlying_from_symbol(pos.symbol)

    def terms(self, pos, account, years, vol) -> PositionTerms:
        contract = self.contract_of(pos)
        table = self.tier_table(pos)
        if self.version == "uta-2026":
            return PositionTerms(contract=contract, qty=pos.size, entry=pos.entry, mm_code=0,
                                 tiers=table,
                                 notional_mode=NOTIONAL_QUOTE if contract == LINEAR else NOTIONAL_FACE)
        # MM on the entry value in the deduction form: entry value·MMR − deduction of its tier
        rate = entry_value_rate(table, abs(pos.size) * pos.entry if contract == LINEAR else abs(pos.size))
        if self.version == "uta-2024" and contract == LINEAR:
            rate += close_fee_rate(pos.size, self.leverage(pos, account), self.params.taker_fee)
        if self.version == "classic" and contract == INVERSE and account.mode == "cross" and pos.margin is None:
            bp = classic_cross_inverse_bankruptcy(pos.entry, pos.size, self._cross_balance(pos, account),
                                                  self.params.taker_fee)
            rate += 0.0 if bp is None else self.params.taker_fee * pos.entry / bp
        return PositionTerms(contract=contract, qty=pos.size, entry=pos.entry,
                             mm_code=MM_ENTRY_VALUE, p1=rate)

    def _cross_balance(self, pos, account) -> float:
        """The coin balance a classic cross inverse position's bankruptcy price is computed with: the
        account's coin collateral (Bybit's published one-position case; order margin 0), shared by
        several cross positions in proportion to their entry value (our assumption)."""
        coin = self.underlying_of(pos)
        balance = sum(a for c, a, _ in account.collateral_items() if c == coin)
        cross = [p for p in account.positions if p.kind in ("perp", "future") and p.margin is None
                 and self.underlying_of(p) == coin]
        total = sum(abs(p.size) / p.entry for p in cross)
        return balance * (abs(pos.size) / pos.entry) / total if total > 0 else balance


class BybitLinear(RiskUnitPortfolio, _Bybit):
    """Bybit USDT perpetuals/futures (linear); ``mode: portfolio`` is the unified account's
    portfolio margin with USDC options (:mod:`liqrisk.margin.bybit_pm`)."""

    pm = bybit_pm

    name = "bybit-linear"
    options_pay_usd = True           # USDC options (portfolio mode)
    contract = LINEAR
    #: :data:`_OWN_NAME`'s list: USDT and USDC perpetuals, USDT and USDC futures
    symbol_forms = ((r"[A-Z0-9]+(?:USDT|USDC|PERP)", "BTCUSDT, BTCPERP"),
                    (r"[A-Z0-9]+(?:USDT)?-\d{1,2}(?:JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)\d{2}",
                     "BTCUSDT-25DEC26, BTC-25DEC26"))


class BybitInverse(_Bybit):
    """Bybit inverse perpetuals/futures (coin-margined, size in USD face)."""

    name = "bybit-inverse"
    contract = INVERSE
    symbol_forms = ((r"[A-Z0-9]+USD", "BTCUSD"), (r"[A-Z0-9]+USD[HMUZ]\d{2}", "BTCUSDZ26"))
    settles_in_coin = True


def close_fee_rate(qty: float, leverage: float, taker_fee: float) -> float:
    """Bybit's estimated fee to close a linear position, per unit of entry value: the taker fee at
    the bankruptcy price, ``(1 − side/L)·taker`` (long ``Q·EP·(1 − 1/L)·fee``, short ``(1 + 1/L)``)."""
    side = 1.0 if qty > 0 else -1.0
    return (1.0 - side / leverage) * taker_fee


def classic_cross_inverse_bankruptcy(entry: float, face: float, balance: float, taker_fee: float) -> float | None:
    """Bybit classic cross inverse bankruptcy price, where the coin equity has fallen to the fee to
    close there (help centre "How to calculate Liquidation Price (Inverse Contract)"): long
    ``(1 + fee)·Q/(Q/EP + B)``, short ``(1 − fee)·Q/(Q/EP − B)`` (None when B ≥ Q/EP), B the
    available balance (coin). Published: B 0.5 BTC, long 10,000 USD @ 8,000, fee 0.075% → 5,718.57."""
    q = abs(face)
    if face > 0:
        return (1 + taker_fee) * q / (q / entry + balance)
    return (1 - taker_fee) * q / (q / entry - balance) if q / entry > balance else None


def classic_cross_inverse_liquidation(entry: float, face: float, balance: float, mmr: float,
                                      taker_fee: float) -> float | None:
    """The published classic cross inverse equation solved for LP: the coin equity
    ``B + side·Q·(1/EP − 1/LP)`` equals ``Q/EP·MMR + Q·fee/BP`` (MM on the entry value plus the
    fee to close at the bankruptcy price). Published example: B 0.5, long 10,000 @ 8,000, MMR 0.5%,
    fee 0.075% → its equation gives 5,739.08 (the help centre prints 5,739.50)."""
    bp = classic_cross_inverse_bankruptcy(entry, face, balance, taker_fee)
    q, side = abs(face), (1.0 if face > 0 else -1.0)
    cushion = balance - q / entry * mmr - (q * taker_fee / bp if bp else 0.0)
    den = q / entry + side * cushion
    return q / den if den > 0 else None


def classic_isolated_linear(entry: float, qty: float, leverage: float, mmr: float,
                            extra_margin: float = 0.0, mm_deduction: float = 0.0) -> tuple[float, float]:
    """(liquidation, bankruptcy) price of a classic-account isolated linear position:
    ``LP = EP·(1 − side·(IMR − MMR)) − side·(extra + deduction)/Q`` (deduction in USDT, tier ≥ 2).
    Published: long 1 BTC @ 10,000, 50×, MMR 0.5% → 9,850; short 1 @ 8,000, 40× → 8,160."""
    side = 1.0 if qty > 0 else -1.0
    imr = 1.0 / leverage
    lp = entry * (1 - side * (imr - mmr)) - side * (extra_margin + mm_deduction) / abs(qty)
    bp = entry * (1 - side * imr) - side * extra_margin / abs(qty)
    return lp, bp


def uta2024_isolated_linear(entry: float, qty: float, leverage: float, mmr: float,
                            extra_margin: float = 0.0, mm_deduction: float = 0.0) -> float:
    """UTA isolated linear with MM on entry value: ``LP = EP − side·(IM − MM)/Q − side·extra/Q``,
    ``MM = Q·EP·MMR − deduction`` (USDT). Published: long 1 BTC @ 20,000, 50×, MMR 0.5% → 19,700."""
    side = 1.0 if qty > 0 else -1.0
    q = abs(qty)
    im, mm = q * entry / leverage, q * entry * mmr - mm_deduction
    return entry - side * (im - mm + extra_margin) / q


def classic_isolated_inverse(entry: float, face: float, leverage: float, mmr: float,
                             mm_deduction: float = 0.0) -> float:
    """Classic inverse isolated: long ``EP·L/(L + 1 − MMR·L)``, short ``EP·L/(L − 1 + MMR·L)``;
    from tier 2 on, with the deduction d (coin) and PV = face/EP, long ``face/(PV·(L + 1 − MMR·L)/L
    + d)``, short ``face/(PV·(L − 1 + MMR·L)/L − d)``."""
    side = 1.0 if face > 0 else -1.0
    pv = abs(face) / entry
    return abs(face) / (pv * (leverage + side * (1 - mmr * leverage)) / leverage + side * mm_deduction)


def uta2024_isolated_inverse(entry: float, face: float, leverage: float, mmr: float,
                             mm_deduction: float = 0.0) -> float | None:
    """UTA-2024 inverse isolated: long ``Qty/(PV + IM − MM)``, short ``Qty/(PV − IM + MM)`` with
    PV = Qty/EP, IM = PV/L, MM = PV·MMR − deduction (coin)."""
    q = abs(face)
    pv = q / entry
    im, mm = pv / leverage, pv * mmr - mm_deduction
    den = pv + (im - mm) if face > 0 else pv - (im - mm)
    return q / den if den > 0 else None


def uta2026_isolated_inverse(entry: float, face: float, leverage: float, mmr: float,
                             extra_margin: float = 0.0, taker_fee: float = 0.0,
                             mm_deduction: float = 0.0) -> float | None:
    """Bybit UTA isolated inverse, as published in 2026 ("Liquidation Price Calculation under
    Isolated Mode"): long ``Q·(MMR + 1)/[Q/EP + Q/EP/L + extra/(1 + fee) + ded]``, short
    ``Q·(1 − MMR)/[Q/EP − Q/EP/L − extra/(1 − fee) − ded]`` (Q in USD, extra and deduction in
    coin) — the Binance COIN-M form with MM at the liquidation price."""
    q = abs(face)
    pv, im = q / entry, q / entry / leverage
    if face > 0:
        den = pv + im + extra_margin / (1 + taker_fee) + mm_deduction
        return q * (mmr + 1) / den
    den = pv - im - extra_margin / (1 - taker_fee) - mm_deduction
    return q * (1 - mmr) / den if den > 0 else None
