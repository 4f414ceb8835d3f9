"""Charges on matched offsetting exposures of one risk unit — Bybit's vega-spread, delta-spread
and USDT-USDC-spread contingencies, OKX's stable-coin depeg charge MR9 — as per-position rates of
the scenario kernel.

The kernel adds, per risk unit, ``Σ rate_i·size_usd_i`` (``PositionTerms.roll``; ``size_usd`` =
``|q|·P`` for linear contracts and options). A charge the venue prices at ``c·m·index`` on a
matched amount ``m`` (base units of linear contracts, or option contracts) becomes, on each of
the two matched sides, ``c·m/2`` shared by that side's positions in proportion to their size:
``rate_i = c·m / (2·Σ_side |q|)`` — so the charge follows the index exactly (:func:`rates`).

* :func:`calendar_pairs` — [I] the net amounts of different expiries are matched where their
  signs are opposite, the nearest expiries first; each match carries its expiry gap.
* :func:`stable_pairs` — [V order] net amounts settled in different stable coins are matched
  pair by pair in the venue's order (OKX: USDT–USD, then USDT–USDC, then USDC–USD).
OKX's MR9 tiers are a marginal tier sum, :func:`liqrisk.margin.scenario.multiplied` (each hedge
tier's rate on the part of the hedge inside it).
"""
from __future__ import annotations

import re

import math


def _net(legs) -> dict:
    """Net signed amount per group key of ``legs`` [(group, amount, position key)]."""
    out: dict = {}
    for g, x, _ in legs:
        out[g] = out.get(g, 0.0) + x
    return out


def calendar_pairs(legs, gap) -> list[tuple]:
    """Matches ``(group_a, group_b, amount, gap(a, b))`` of opposite net amounts of different
    groups (expiries), the smallest ``gap`` first; ``legs`` [(expiry, signed amount, key)]."""
    net = _net(legs)
    order = sorted(((gap(a, b), a, b) for a in net for b in net if a < b), key=lambda x: x[0])
    out = []
    for d, a, b in order:
        if net[a] * net[b] < 0:
            m = min(abs(net[a]), abs(net[b]))
            net[a] -= math.copysign(m, net[a])
            net[b] -= math.copysign(m, net[b])
            out.append((a, b, m, d))
    return out


def stable_pairs(legs, order) -> list[tuple]:
    """Matches ``(coin_a, coin_b, amount)`` of opposite net amounts settled in the stable coins
    of each pair of ``order``, consumed pair by pair; ``legs`` [(coin, signed amount, key)]."""
    net = _net(legs)
    out = []
    for a, b in order:
        x, y = net.get(a, 0.0), net.get(b, 0.0)
        if x * y < 0:
            m = min(abs(x), abs(y))
            net[a], net[b] = x - math.copysign(m, x), y - math.copysign(m, y)
            out.append((a, b, m))
    return out


def rates(legs, matches, charge) -> dict:
    """Per position key: the rate (per USD of size) carrying its share of each match's charge
    ``charge(match)`` (in index units: USD = charge × index), half to each matched group, shared
    by the group's positions on the side of its net amount in proportion to their size."""
    net = _net(legs)
    out: dict = {}
    for match in matches:
        c = charge(match)
        for g in match[:2]:
            side = [(abs(x), key) for h, x, key in legs if h == g and x * net[g] > 0]
            total = sum(s for s, _ in side)
            for s, key in side:
                out[key] = out.get(key, 0.0) + c / (2.0 * total)
    return out


#: a linear dated future named BASE-DDMMMYY, no quote coin: Bybit's USDC futures (API v5 symbol
#: enum: BTC-24MAR23 USDC futures, BTCUSDT-21FEB25 USDT futures)
_USDC_DATED = re.compile(r"[A-Z0-9]+-\d{1,2}[A-Z]{3}\d{2}")


def settle_coin(pos, contract_is_inverse: bool, option_coin: str, default: str = "USDT") -> str:
    """The stable coin a position settles in: USD for inverse (coin-margined) contracts, the coin
    named in its symbol, ``option_coin`` for options, USDC for a ``…PERP`` perpetual or a dated
    ``BASE-DDMMMYY`` linear future (Bybit's USDC contracts), else ``default``."""
    if contract_is_inverse:
        return "USD"
    s = (pos.symbol or "").upper()
    for coin in ("USDT", "USDC"):
        if coin in s:
            return coin
    if pos.kind == "option":
        return option_coin
    return "USDC" if "PERP" in s or _USDC_DATED.fullmatch(s) else default
