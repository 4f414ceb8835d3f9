"""CME SPAN — the canonical scenario-margin algorithm, as a generic ``span`` rule set.

Rule version: CME SPAN (the 16 risk scenarios; CME's published spread examples). Per combined
commodity (one underlying) the portfolio is revalued in 16 scenarios: price unchanged, ±1/3,
±2/3, ±3/3 of the *price scan range*, each with the volatility up and down by the *volatility
scan range* (14 scenarios, counted in full), and two extreme moves of ``extreme_move_multiple``
× the range with the volatility unchanged, counted at ``extreme_move_cover`` (35%). Scanning risk
= the worst loss. Total = max(scanning risk + intra-commodity spread charges − inter-commodity
credits, short-option minimum); the net option value is part of the account's equity.

``venue: {name: span, portfolio_margin: {...}}``:

* ``price_scan_range: {BTC: 10000}`` — price units per unit of the underlying (or
  ``price_scan_range_pct: {BTC: 0.1}``, a fraction of the price); ``volatility_scan_range: {BTC:
  0.05}`` (vol points); ``extreme_move_multiple`` (2), ``extreme_move_cover`` (0.35).
* ``intra_spread_charges: {"SYMBOL_A/SYMBOL_B": charge}`` — USD per spread of one unit long A and
  one short B (or short A, long B), spreads formed greedily in the order given.
* ``inter_commodity_credits: [{legs: {CORN: 2, SOY: 1}, credit_rate: 0.55}]`` — a spread of those
  ratios gets ``credit_rate`` × the outright scanning risk of its legs.
* ``short_option_minimum`` — USD per short option contract.

Positions: linear (USD-settled) futures and perps, and options on them (USD premiums, priced
with Black-76 on the future; sizes in units of the underlying): in each scenario the price moves
by the scan range and the option's vol by ± ``volatility_scan_range`` (vol points, floored at 0).
Each short option counts once toward ``short_option_minimum``.
"""
from __future__ import annotations

from liqrisk.margin.base import INVERSE_OPTION, LINEAR, MM_NONE, PositionTerms, RuleSet
from liqrisk.margin.scenario import ScenarioSet, value_problems

KNOWN = ("price_scan_range", "price_scan_range_pct", "volatility_scan_range", "extreme_move_multiple",
         "extreme_move_cover", "intra_spread_charges", "inter_commodity_credits", "short_option_minimum")
#: the values each parameter may take (:func:`liqrisk.margin.scenario.value_problems`)
RANGES = {"price_scan_range": "(0, inf) table", "price_scan_range_pct": "(0, 1) table",
          "volatility_scan_range": "[0, 100] table", "extreme_move_multiple": "(0, 100]",
          "extreme_move_cover": "[0, 1]", "short_option_minimum": "[0, inf)", "intra_spread_charges": "[0, inf) table"}
CME_ORDER = [(0, 1), (0, -1), (1 / 3, 1), (1 / 3, -1), (-1 / 3, 1), (-1 / 3, -1), (2 / 3, 1), (2 / 3, -1),
             (-2 / 3, 1), (-2 / 3, -1), (1, 1), (1, -1), (-1, 1), (-1, -1)]


class Span(RuleSet):
    name = "span"
    contract = LINEAR
    options_pay_usd = True
    supports_portfolio = True
    default_taker_fee = 0.0
    default_liquidation_fee = 0.0

    def settlement_currency(self, account) -> str:
        return "USD"

    def _pm(self) -> dict:
        return {"extreme_move_multiple": 2.0, "extreme_move_cover": 0.35, **self.params.portfolio_margin}

    def account_problems(self, account) -> list[str]:
        out = [f"field 'venue.portfolio_margin.{k}': unknown parameter for span (known: {', '.join(KNOWN)})"
               for k in self.params.portfolio_margin if k not in KNOWN]
        out += value_problems(self.params.portfolio_margin, RANGES) + _pm_shape_problems(self.params.portfolio_margin)
        if out:
            return out                                 # the scan ranges below need numbers
        if account.mode != "portfolio":
            out.append("field 'mode': span is a scenario-margin rule set: use mode: portfolio")
        for pos in account.positions:
            if not (self._range("price_scan_range", pos) or self._range("price_scan_range_pct", pos)):
                out.append(f"field 'venue.portfolio_margin.price_scan_range': no scan range for "
                           f"{pos.symbol or self.underlying_of(pos)}")
        return out

    def position_problems(self, pos, account):
        return []

    def _range(self, key: str, pos) -> float:
        """A scan range by the position's symbol (a contract month) or else its underlying."""
        table = {k.upper(): v for k, v in (self._pm().get(key) or {}).items()}
        return float(table.get((pos.symbol or "").upper(), table.get(self.underlying_of(pos), 0.0)))

    def terms(self, pos, account, years, vol) -> PositionTerms:
        ranges = {"sh_abs": self._range("price_scan_range", pos), "sh_rel": self._range("price_scan_range_pct", pos)}
        if pos.kind == "option":
            return PositionTerms(contract=INVERSE_OPTION, qty=pos.size, entry=pos.entry, mm_code=MM_NONE,
                                 strike=pos.strike, is_call=pos.type == "call", expiry_years=years, vol=vol,
                                 **ranges)
        return PositionTerms(contract=LINEAR, qty=pos.size, entry=pos.entry, mm_code=MM_NONE, **ranges)

    def scenario_terms(self, pos, t, account) -> dict:
        """Options: vol ± the volatility scan range (vol points)."""
        if pos.kind != "option":
            return {}
        v = self._range("volatility_scan_range", pos)
        return {"vol_up": t.vol + v, "vol_dn": max(t.vol - v, 0.0)}

    def initial_margin(self, t, pos, account, price):
        return 0.0        # the pool's scenario requirement is the account's IM

    def scenario_set(self, account, terms) -> ScenarioSet:
        pm = self._pm()
        x, cover = float(pm["extreme_move_multiple"]), float(pm["extreme_move_cover"])
        rows = CME_ORDER + [(x, 0), (-x, 0)]
        labels = [f"{m:+.3g} range, vol {'up' if v > 0 else 'down'}" for m, v in CME_ORDER] + \
                 [f"{x:+g} range (extreme, {100 * cover:g}%)", f"{-x:+g} range (extreme, {100 * cover:g}%)"]
        charge = spread_charges(account, self, pm.get("intra_spread_charges") or {})
        credit = inter_commodity_credit(account, self, pm.get("inter_commodity_credits") or [], terms)
        n_short = sum(-p.size for p in account.positions if p.kind == "option" and p.size < 0)
        return ScenarioSet("CME SPAN", [m for m, _ in rows], [v for _, v in rows],
                           [1.0] * 14 + [cover, cover], [0.0] * 16, labels, pnl_offset=1.0,
                           add=charge - credit, floor=n_short * float(pm.get("short_option_minimum", 0.0)),
                           move_labels={m: f"{m:+.3g}×range" for m, _ in rows})


def _pm_shape_problems(pm: dict) -> list[str]:
    """Spread pairs written "A/B"; each inter-commodity credit a ``legs`` table of positive ratios
    (two legs or more) and a ``credit_rate`` in [0, 1]."""
    out = [f"field 'venue.portfolio_margin.intra_spread_charges.{pair}': a spread is written SYMBOL_A/SYMBOL_B"
           for pair in (pm.get("intra_spread_charges") or {}) if not _is_pair(pair)]
    credits = pm.get("inter_commodity_credits")
    base = "venue.portfolio_margin.inter_commodity_credits"
    if credits is not None and not isinstance(credits, list):
        return out + [f"field '{base}': a list of {{legs: {{CORN: 2, SOY: 1}}, credit_rate: 0.55}}"]
    for n, group in enumerate(credits or []):
        where = f"{base}[{n}]"
        if not isinstance(group, dict):
            out.append(f"field '{where}': {{legs: {{CORN: 2, SOY: 1}}, credit_rate: 0.55}}")
            continue
        legs = group.get("legs")
        if not isinstance(legs, dict) or len(legs) < 2:
            out.append(f"field '{where}.legs': a table of two or more underlyings and their ratios")
        else:
            out += value_problems(legs, dict.fromkeys(legs, "(0, inf)"), f"{where}.legs")
        out += value_problems({"credit_rate": group.get("credit_rate")}, {"credit_rate": "[0, 1]"}, where)
        out += [f"field '{where}.{k}': unknown (known: legs, credit_rate)" for k in group
                if k not in ("legs", "credit_rate")]
    return out


def _is_pair(pair) -> bool:
    parts = str(pair).split("/")
    return len(parts) == 2 and all(p.strip() for p in parts)


def spread_charges(account, rules, charges: dict) -> float:
    """Intra-commodity spread charges: for each "A/B" pair in order, spreads = min(long A, short B)
    + min(short A, long B) of the sizes still unpaired, each at the pair's charge."""
    left = {}
    for p in account.positions:
        key = (p.symbol or rules.underlying_of(p)).upper()
        left[key] = left.get(key, 0.0) + p.size
    total = 0.0
    for pair, charge in charges.items():
        a, b = (s.strip().upper() for s in pair.split("/"))
        qa, qb = left.get(a, 0.0), left.get(b, 0.0)
        n = min(abs(qa), abs(qb)) if qa * qb < 0 else 0.0
        if n:
            left[a] -= n if qa > 0 else -n
            left[b] -= n if qb > 0 else -n
            total += n * float(charge)
    return total


def inter_commodity_credit(account, rules, credits: list, terms) -> float:
    """Σ over credit groups: spreads formed × credit_rate × the outright scanning risk of one
    spread's legs (scan range × ratio; the worst of ±range for futures)."""
    net, scan = {}, {}
    for p, t in zip(account.positions, terms):
        und = rules.underlying_of(p)
        net[und] = net.get(und, 0.0) + p.size
        scan[und] = t.sh_abs if t is not None else 0.0
    total = 0.0
    for group in credits:
        legs = {k.upper(): float(v) for k, v in group["legs"].items()}
        signs = {math_sign(net.get(u, 0.0)) for u in legs}
        if len(signs) != 2 or 0 in signs:
            continue                                   # a credit needs opposite positions
        n = min(abs(net.get(u, 0.0)) / r for u, r in legs.items())
        total += n * float(group["credit_rate"]) * sum(r * scan[u] for u, r in legs.items())
    return total


def math_sign(x: float) -> int:
    return (x > 0) - (x < 0)
