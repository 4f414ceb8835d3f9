"""Bybit unified-account portfolio margin, as a scenario pool of the one kernel.

Rule version: Bybit "Margin calculations under portfolio margin (UTA)" as published 2024-09 →
2025, with the BTC/ETH price stress of ±10% in force since 2025-01-10 (±15% before). Per risk
unit (one underlying: USDT/USDC perpetuals and futures, USDC options)::

    MM = max stress loss over price × IV scenarios + contingencies       IM = MM × im_factor

Bybit publishes the structure (help centre, "Margin Calculations under Portfolio Margin (Unified
Trading Account)", 2024-09-04) but few numbers [?]; every factor is a parameter (Bybit's terms in
snake_case) and the defaults other than the BTC/ETH price range are representative, flagged in
each account's notes:

* ``price_range`` (fraction of the index; BTC, ETH 0.10 [V]; others 0.15 [?]) in
  ``price_steps`` (3 [?]) equal steps per side; options repriced (Black-76, USD premium) with IV
  × (1 + ``vol_range_up``) and × (1 − ``vol_range_down``) (0.3 / 0.3 [?]);
* perpetual/futures contingency ``Σ|qty|·futures_contingency_factor·index`` (0.005 [?]);
* short-option contingency ``|short options|·short_option_contingency_factor·index`` (0.01 [?]),
  counted per short position (Bybit nets the unit's short options first: an upper bound [I]);
* ``im_factor`` (1.25 [?]).
* vega-spread contingency ``days between expiries × vega-hedged option contracts ×
  vega_spread_factor × index`` ([V] structure and 0.03%/day for BTC, ETH; [?] 0.03%/day for
  others); delta-spread contingency ``years between expiries × hedged futures delta ×
  delta_spread_factor × index`` ([V] structure; [?] factor 0.075/year); USDT-USDC-spread
  contingency ``hedged delta between USDT- and USDC-settled contracts ×
  usdt_usdc_spread_factor × index`` ([V] structure; [?] factor 0.005). [I] Bybit does not
  publish how it matches the hedges (not in that article, its API docs or any issue or client
  found): :mod:`~liqrisk.margin.offsets` matches opposite net amounts
  nearest expiry first (options by contracts, dated linear futures by size; a perpetual's basis
  is left to the futures contingency) and USDT against USDC linear contracts (options' deltas,
  which move with the price, are not matched: the notes say so).

Parameters: ``venue: {name: bybit-linear, portfolio_margin: {price_range: 0.1, ETH: {...}}}`` —
top-level keys apply to every unit, a block named by an underlying to that unit only.
"""
from __future__ import annotations

from liqrisk.margin.base import INVERSE, INVERSE_OPTION, MM_NONE
from liqrisk.margin import scenario
from liqrisk.margin.offsets import calendar_pairs, rates, settle_coin, stable_pairs
from liqrisk.margin.scenario import ScenarioSet

ACCOUNT_KEYS = {"price_steps": 3, "im_factor": 1.25}
UNIT_KEYS = ("price_range", "vol_range_up", "vol_range_down", "futures_contingency_factor",
             "short_option_contingency_factor", "vega_spread_factor", "delta_spread_factor",
             "usdt_usdc_spread_factor")
#: the values each parameter may take (:func:`liqrisk.margin.scenario.value_problems`)
RANGES = {"im_factor": "[0, 100]", "price_range": "(0, 1)", "vol_range_up": "[0, 100]", "vol_range_down": "[0, 1]",
          "futures_contingency_factor": "[0, 1]", "short_option_contingency_factor": "[0, 1]",
          "vega_spread_factor": "[0, 1]", "delta_spread_factor": "[0, 10]", "usdt_usdc_spread_factor": "[0, 1]"}
PUBLISHED_VEGA_SPREAD = {"BTC": 0.0003, "ETH": 0.0003}     # per day
PUBLISHED_RANGE = {"BTC": 0.10, "ETH": 0.10}


def unit_parameters(underlying: str, overrides: dict) -> dict:
    par = {"price_range": PUBLISHED_RANGE.get(underlying, 0.15), "vol_range_up": 0.3, "vol_range_down": 0.3,
           "futures_contingency_factor": 0.005, "short_option_contingency_factor": 0.01,
           "vega_spread_factor": PUBLISHED_VEGA_SPREAD.get(underlying, 0.0003), "delta_spread_factor": 0.075,
           "usdt_usdc_spread_factor": 0.005}
    return par | scenario.unit_overrides(underlying, overrides, UNIT_KEYS)


def account_problems(overrides: dict, account, underlyings) -> list[str]:
    out = scenario.parameter_problems(overrides, underlyings, UNIT_KEYS, ACCOUNT_KEYS, "bybit")
    out += scenario.value_problems(overrides, RANGES)
    steps = overrides.get("price_steps", 1)
    if not (isinstance(steps, int) and steps >= 1):
        out.append("field 'venue.portfolio_margin.price_steps': a whole number ≥ 1")
    return out


def position_terms(t, par: dict) -> dict:
    """Range, IV shocks and the contingency rate (per USD of size) of one position."""
    out = {"mm_code": MM_NONE, "sh_rel": par["price_range"], "roll": par["futures_contingency_factor"]}
    if t.contract == INVERSE_OPTION:
        out["roll"] = par["short_option_contingency_factor"] if t.qty < 0 else 0.0
        out["vol_up"] = t.vol * (1 + par["vol_range_up"])
        out["vol_dn"] = max(t.vol * (1 - par["vol_range_down"]), 0.0)
    return out


def offset_rates(account, rules) -> tuple[dict, list[str]]:
    """Per position (``id``): the rate of its share of the unit's vega-spread, delta-spread and
    USDT-USDC-spread contingencies (module docstring); no notes."""
    out: dict = {}
    days = lambda a, b: abs((a - b).total_seconds()) / 86400.0  # noqa: E731
    units: dict = {}
    for p in account.positions:
        units.setdefault(rules.underlying_of(p), []).append(p)
    for und, ps in units.items():
        par = unit_parameters(und, rules.params.portfolio_margin)
        linear = [p for p in ps if p.kind != "option" and rules.contract_of(p) != INVERSE]
        options = [(p.expiry, p.size, id(p)) for p in ps if p.kind == "option"]
        futures = [(p.expiry, p.size, id(p)) for p in linear if p.expiry is not None]
        coins = [(settle_coin(p, False, "USDC"), p.size, id(p)) for p in linear]
        for legs, matches, charge in (
                (options, calendar_pairs(options, days), lambda m: m[2] * m[3] * par["vega_spread_factor"]),
                (futures, calendar_pairs(futures, days),
                 lambda m: m[2] * m[3] / 365.0 * par["delta_spread_factor"]),
                (coins, stable_pairs(coins, [("USDT", "USDC")]), lambda m: m[2] * par["usdt_usdc_spread_factor"])):
            for key, r in rates(legs, matches, charge).items():
                out[key] = out.get(key, 0.0) + r
    return out, []


def scenario_set(units: dict[str, dict], overrides: dict, account) -> ScenarioSet:
    """(2·price_steps + 1) price points × vol up / same / down (vol same only without options)."""
    has_options = any(p.kind == "option" for p in account.positions)
    par = {**ACCOUNT_KEYS, **{k: v for k, v in overrides.items() if k in ACCOUNT_KEYS}}
    n = int(par["price_steps"])
    vol_codes = (1, 0, -1) if has_options else (0,)
    moves, vols, labels = [], [], []
    for k in range(-n, n + 1):
        for v in vol_codes:
            moves.append(k / n), vols.append(v)
            labels.append(f"{k / n:+.3g}×range" + ("" if v == 0 else f" vol {'up' if v > 0 else 'down'}"))
    published = ({"price_range"} if all(u in PUBLISHED_RANGE for u in units) else set()) | \
        ({"vega_spread_factor"} if all(u in PUBLISHED_VEGA_SPREAD for u in units) else set())
    guessed = [k for k in (*UNIT_KEYS, *ACCOUNT_KEYS) if k not in overrides and k not in published]
    notes = [f"representative defaults (Bybit does not publish them; override under venue.portfolio_margin): "
             f"{', '.join(guessed)}"] if guessed else []
    if has_options:
        notes.append("the USDT-USDC-spread contingency does not match the options' deltas (only linear contracts)")
    return ScenarioSet("Bybit portfolio margin (stress test + contingencies)", moves, vols, [1.0] * len(moves),
                       [0.0] * len(moves), labels, pnl_offset=1.0, mm_factor=1.0, im_factor=float(par["im_factor"]),
                       move_labels={x: f"{x:+.3g}×range" for x in moves}, notes=notes,
                       unit_scale={u: p["price_range"] for u, p in units.items()})
