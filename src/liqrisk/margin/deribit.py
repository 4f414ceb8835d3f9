"""Deribit standard margin: inverse (coin-settled) futures and options; ``mode: portfolio`` is the
PME risk matrix of :mod:`liqrisk.margin.deribit_pm`.

Rule version: Deribit "Standard margin" as in force since 2022-01-11 (futures) and the options
standard-margin rules published up to 2026-11 (docs/venues.md §4). Futures 10 USD/contract (sizes in
USD face), options 1 coin/contract, everything margined in the coin. Liquidation as soon as the
maintenance margin exceeds equity (balance + futures PnL + options value).
"""
from __future__ import annotations

import re

import numpy as np

from liqrisk.margin import deribit_pm
from liqrisk.margin.scenario import value_problems
from liqrisk.margin.base import (INVERSE, INVERSE_OPTION, LIQ_FUTURES_FIRST, MM_DERIBIT_FUTURE,
                                 MM_DERIBIT_OPTION, LiquidationResponse, PositionTerms, RuleSet)

# futures: IM = size·(IM_BASE + slope·size), MM = size·(MM_BASE + slope·size), size in coin
FUTURE_SLOPE = {"BTC": 0.00005, "ETH": 0.000004}
FUTURE_IM_BASE, FUTURE_MM_BASE = 0.02, 0.01
OPTION_MM_BASE = 0.075
OPTION_IM_BASE, OPTION_IM_FLOOR = 0.15, 0.10
LIQUIDATION_FEE = {"BTC": 0.0075, "ETH": 0.009}

INSTRUMENT_NAME = re.compile(r"^(?P<und>[A-Z]+)(?:_(?P<quote>[A-Z]+))?-(?:(?P<perp>PERPETUAL)|(?P<day>\d{1,2})"
                             r"(?P<mon>[A-Z]{3})(?P<yy>\d{2})(?:-(?P<strike>[\d.d]+)-(?P<type>[CP]))?)$")
"""Deribit's instrument names: ``BTC-PERPETUAL`` (``BTC_USDC-PERPETUAL`` linear), ``BTC-27DEC24``
(expiry 08:00 UTC), ``BTC-27DEC24-100000-C`` (a strike ``1d5`` is 1.5)."""
INSTRUMENT_FORMS = ("perpetuals as COIN-PERPETUAL (BTC-PERPETUAL), futures as COIN-DDMMMYY (BTC-25DEC26), "
                    "options as COIN-DDMMMYY-STRIKE-C|P (BTC-25DEC26-100000-C)")


def symbol_problem(symbol: str | None, kind: str) -> str | None:
    """Why ``symbol`` is not a Deribit instrument of ``kind`` (None: it is, or no symbol: the
    position is given by underlying and expiry). Any other name was read by its underlying
    (``BTCUSDT`` → BTC) and margined as Deribit's inverse contract."""
    if symbol is None:
        return None
    m = INSTRUMENT_NAME.match(symbol.upper())
    if m is None:
        return f"not a deribit instrument name (deribit lists {INSTRUMENT_FORMS})"
    if m["quote"]:
        return "linear (USDC) contracts on deribit are not supported yet"
    found = "perp" if m["perp"] else "option" if m["type"] else "future"
    return None if found == kind else f"a deribit {found}, not a{'n' if kind == 'option' else ''} {kind}"


def option_margin(is_call, strike, spot, mark_coin, contracts):
    """(IM, MM) in coin of Deribit option positions (vectorised). Long options carry none.
    Short call IM ``max(0.15 − OTM/S, 0.10) + mark``, MM ``0.075 + mark``; short put IM
    ``max(max(0.15 − OTM/S, 0.10) + mark, MM)``, MM ``max(0.075, 0.075·mark) + mark``."""
    is_call, strike, spot, mark_coin, contracts = np.broadcast_arrays(
        *(np.asarray(x, dtype=float) for x in (is_call, strike, spot, mark_coin, contracts)))
    otm = np.where(is_call > 0, np.maximum(0.0, strike - spot), np.maximum(0.0, spot - strike))
    base = np.maximum(OPTION_IM_BASE - otm / spot, OPTION_IM_FLOOR) + mark_coin
    mm = np.where(is_call > 0, OPTION_MM_BASE + mark_coin,
                  np.maximum(OPTION_MM_BASE, OPTION_MM_BASE * mark_coin) + mark_coin)
    im = np.where(is_call > 0, base, np.maximum(base, mm))
    short = np.where(contracts < 0, -contracts, 0.0)
    return im * short, mm * short


def future_margin(face, price, underlying="BTC"):
    """(IM, MM) in coin of Deribit futures: size_coin·(2% + b·size_coin), size_coin·(1% + b·size_coin)."""
    size = np.abs(np.asarray(face, dtype=float)) / price
    b = FUTURE_SLOPE.get(underlying, 0.0)      # other coins: refused unless the position gives 'mmr'
    return size * (FUTURE_IM_BASE + b * size), size * (FUTURE_MM_BASE + b * size)


class Deribit(RuleSet):
    name = "deribit"
    contract = INVERSE
    default_source = "published standard-margin formulas"

    def parameter_source(self, pos) -> str:
        return "position override (mmr)" if pos.mmr is not None else self.default_source
    settles_in_coin = True
    default_liquidation_fee = 0.0075
    default_taker_fee = 0.0005
    #: incremental liquidation as soon as MM > margin balance: futures first, then options
    liquidation_response = LiquidationResponse(style=LIQ_FUTURES_FIRST)

    def liquidation_fee(self, underlying: str) -> float:
        """BTC 0.75%, ETH 0.9% of the liquidated notional (to the insurance fund), unless the
        venue block overrides ``liquidation_fee``."""
        if self.params.liquidation_fee != self.default_liquidation_fee:
            return float(self.params.liquidation_fee)
        return LIQUIDATION_FEE.get(underlying, self.default_liquidation_fee)

    supports_portfolio = True

    def _pm_parameters(self, account) -> dict:
        return deribit_pm.parameters(self.settlement_currency(account), self.params.portfolio_margin)

    def account_problems(self, account) -> list[str]:
        out = super().account_problems(account)
        out += [f"field 'venue.portfolio_margin.{k}': unknown parameter for deribit portfolio margin "
                f"(known: {', '.join(deribit_pm.KNOWN)})" for k in self.params.portfolio_margin
                if k not in deribit_pm.KNOWN]
        out += value_problems(self.params.portfolio_margin, deribit_pm.RANGES)
        if account.mode == "portfolio":
            out += [f"field 'positions': position {n} has an isolated 'margin'; portfolio margin has no "
                    f"isolated positions" for n, p in enumerate(account.positions, 1) if p.margin is not None]
        return out

    def scenario_terms(self, pos, t, account):
        return deribit_pm.position_terms(t, self._pm_parameters(account))

    def scenario_set(self, account, terms):
        par = self._pm_parameters(account)
        sset = deribit_pm.scenario_set(par)
        sset.notes += deribit_pm.delta_note(terms, 0.0, par)
        return sset

    def position_problems(self, pos, account):
        if pos.kind == "spot":
            return [("spot positions are not held on deribit (put coins in 'collateral')", "kind")]
        if pos.contract == "linear":
            return [("linear (USDC) contracts on deribit are not supported yet", "contract")]
        if problem := symbol_problem(pos.symbol, pos.kind):
            return [(problem, "symbol")]
        und = self.underlying_of(pos)
        if pos.kind in ("perp", "future") and pos.mmr is None and account.mode != "portfolio" \
                and und not in FUTURE_SLOPE:
            return [(f"deribit's standard futures margin is published for {' and '.join(FUTURE_SLOPE)} only, "
                     f"not {und}: give the position its maintenance rate 'mmr'", "mmr")]
        return []  # options and BTC/ETH inverse futures: all margin parameters are formulas

    def terms(self, pos, account, years, vol) -> PositionTerms:
        und = self.underlying_of(pos)
        if pos.kind == "option":
            return PositionTerms(contract=INVERSE_OPTION, qty=pos.size, entry=pos.entry,
                                 mm_code=MM_DERIBIT_OPTION, p1=OPTION_MM_BASE, strike=pos.strike,
                                 is_call=pos.type == "call", expiry_years=years, vol=vol)
        if pos.mmr is not None:
            return PositionTerms(contract=INVERSE, qty=pos.size, entry=pos.entry,
                                 mm_code=MM_DERIBIT_FUTURE, p1=pos.mmr, p2=0.0)
        return PositionTerms(contract=INVERSE, qty=pos.size, entry=pos.entry,
                             mm_code=MM_DERIBIT_FUTURE, p1=FUTURE_MM_BASE,
                             p2=FUTURE_SLOPE.get(und, 0.0))

    def initial_margin(self, t, pos, account, price):
        if t.contract == INVERSE_OPTION:
            return None  # computed with the option mark by the account valuation
        im, _ = future_margin(t.qty, price, self.underlying_of(pos))
        return float(im)
