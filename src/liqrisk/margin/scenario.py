"""Scenario (portfolio) margin as a pool type of the one kernel.

A scenario pool's maintenance margin is not a sum over positions but the worst loss of the pool
over a set of scenarios (:func:`liqrisk.margin.kernel.scenario_mm_nb`): each scenario moves every
position's price by ``move`` units of its range (a fraction ``sh_rel`` of the price, or
``sh_abs`` price units) and its vol to its vol-up / unchanged / vol-down value; the P&L of each
risk unit (the pool's positions on one underlying) is summed, weighted, dampened and its gains
scaled by ``pnl_offset``; the unit's loss is the worst scenario's; units add up, plus the roll
shock and any constant charge, floored, times ``mm_factor``. Because it is a pool state like any
other, boundaries (the kernel brackets every sign change of ``equity − MM``, also where the worst
scenario changes — a kink), Monte Carlo, exit costs and cascades need nothing new.

A rule set that supports ``mode: portfolio`` returns a :class:`ScenarioSet` and the per-position
scenario terms; :func:`risk_matrix` gives the whole matrix for the report from the kernel's NumPy
reference (:mod:`liqrisk.margin.reference`, tested to agree with the kernel).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np



@dataclass
class ScenarioSet:
    """The scenarios of one rule set for one pool, with what the report needs to show them."""

    model: str
    moves: list[float]           # price move in units of each position's range
    vols: list[int]              # −1 vol down, 0 unchanged, +1 vol up
    weights: list[float]
    damp: list[float]            # USD dampener shrinking each scenario's P&L toward 0
    labels: list[str]
    pnl_offset: float = 0.0      # share of a scenario's gain that offsets losses (0: gains ignored)
    mm_factor: float = 1.0
    im_factor: float | None = 1.0   # IM = im_factor × the scenario requirement (MM / mm_factor);
    #                                 None: IM stays per position (the requirement is MM only)
    add: float = 0.0             # USD added to the requirement (spread charges − credits)
    floor: float = 0.0           # USD minimum of the requirement (short-option minimum)
    # a risk unit's minimum charge (Σ min_charge rate × size) is multiplied tier by tier: rows
    # (floor USD of the raw charge, multiplier), ascending from 0; empty: multiplier 1
    charge_tiers: list[tuple[float, float]] = field(default_factory=list)
    im_add: float | None = None  # USD added to IM instead of im_factor × add (None: the same)
    net_haircut: bool = False    # collateral rates on each coin's net equity (kernel.asset_haircut_nb)
    move_labels: dict[float, str] = field(default_factory=dict)   # how to show each distinct move
    unit_scale: dict[str, float] = field(default_factory=dict)    # per underlying: move 1 = this
    #                                                  price fraction (shown as % instead)
    notes: list[str] = field(default_factory=list)

    def move_label(self, move: float, underlying: str) -> str:
        scale = self.unit_scale.get(underlying)
        return self.move_labels[move] if scale is None else f"{100 * move * scale:+.4g}%"

    def rows(self) -> list[tuple]:
        return list(zip(self.moves, self.vols, self.weights, self.damp))

    def pm_par(self) -> np.ndarray:
        """The pool's row of :attr:`~liqrisk.margin.kernel.PoolArrays.pm_par`."""
        from liqrisk.margin.kernel import MAX_MULT_TIERS, NET_HAIRCUT, PM_PAR
        if len(self.charge_tiers) > MAX_MULT_TIERS:
            raise ValueError(f"at most {MAX_MULT_TIERS} minimum-charge multiplier tiers")
        row = np.zeros(PM_PAR)
        row[:5] = self.pnl_offset, self.mm_factor, self.add, self.floor, len(self.charge_tiers)
        row[NET_HAIRCUT] = float(self.net_haircut)
        for k, (lo, mult) in enumerate(self.charge_tiers):
            row[5 + k], row[5 + MAX_MULT_TIERS + k] = lo, mult
        return row

    def initial_margin(self, requirement: float) -> float:
        """IM (USD) from the scenario requirement (MM / mm_factor)."""
        if self.im_add is None:
            return self.im_factor * requirement
        return self.im_factor * (requirement - self.add) + self.im_add


def unit_overrides(underlying: str, overrides: dict, unit_keys) -> dict:
    """The user's parameters of one risk unit: the top-level ``unit_keys``, then the block named
    by the underlying (``portfolio_margin: {mr7_rate: …, BTC: {mr7_rate: …}}``)."""
    return {**{k: v for k, v in overrides.items() if k in unit_keys}, **(overrides.get(underlying) or {})}


def parameter_problems(overrides: dict, underlyings, unit_keys, account_keys, venue: str) -> list[str]:
    """Unknown keys of a per-unit parameter block ("field 'venue.portfolio_margin.…'" lines)."""
    known = ", ".join(sorted(set(unit_keys) | set(account_keys)))
    out = []
    for k, v in overrides.items():
        if isinstance(v, dict):
            if k.upper() not in underlyings:
                out.append(f"field 'venue.portfolio_margin.{k}': no position on underlying {k}")
            out += [f"field 'venue.portfolio_margin.{k}.{kk}': unknown parameter for a {venue} risk unit "
                    f"(known: {', '.join(unit_keys)})" for kk in v if kk not in unit_keys]
        elif k not in unit_keys and k not in account_keys:
            out.append(f"field 'venue.portfolio_margin.{k}': unknown parameter for {venue} portfolio margin "
                       f"(known: {known}, or a block per underlying)")
    return out


def value_problems(overrides: dict, ranges: dict, where: str = "venue.portfolio_margin") -> list[str]:
    """Parameters that are not finite numbers inside their range ("field '…': …" lines).

    ``ranges`` maps a parameter name to its interval as written in the message — ``"(0, 1)"``,
    ``"[0, inf)"`` — optionally followed by a kind: ``whole`` (a whole number), ``list`` (a
    non-empty list of such numbers, ``mr1_price_moves``) or ``table`` (numbers by symbol or
    underlying, ``price_scan_range: {BTC: …}``). A dict under a name not in ``ranges`` is a block
    per underlying, checked by the same ranges; other names are left to :func:`parameter_problems`."""
    out = []
    for key, value in overrides.items():
        field = f"{where}.{key}"
        if key not in ranges:
            if isinstance(value, dict):
                out += value_problems(value, ranges, field)
            continue
        spec = ranges[key]
        interval, kind = spec.rsplit(" ", 1) if spec[-1].isalpha() else (spec, "")
        if kind == "table" and isinstance(value, dict):
            items = [(f"{field}.{k}", v) for k, v in value.items()]
        elif kind == "list" and isinstance(value, list) and value:
            items = [(f"{field}[{n}]", v) for n, v in enumerate(value)]
        elif kind in ("table", "list"):
            out.append(f"field '{field}': {'numbers by symbol' if kind == 'table' else 'a non-empty list of numbers'}"
                       f" in {interval}")
            continue
        else:
            items = [(field, value)]
        what = "a whole number" if kind == "whole" else "a number"
        out += [f"field '{f}': {v!r} is not {what} in {interval}" for f, v in items
                if not _in_range(v, interval, kind == "whole")]
    return out


def _in_range(value, interval: str, whole: bool = False) -> bool:
    """``value`` is a finite number (not a bool) inside ``interval`` ("[lo, hi)", "(lo, inf)")."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    if whole and value != int(value):
        return False
    lo, hi = (float(x) for x in interval[1:-1].split(","))
    return (lo < value if interval[0] == "(" else lo <= value) and (value < hi if interval[-1] == ")" else value <= hi)


def tier_problems(field: str, rows, hi: float) -> list[str]:
    """A tier table [[floor, value], …]: at least one row, numbers, floors ascending from 0,
    values in [0, hi]."""
    ok = isinstance(rows, list) and rows and all(
        isinstance(r, (list, tuple)) and len(r) == 2 and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                                          for x in r) for r in rows)
    if not ok:
        return [f"field '{field}': a list of [floor, value] number pairs"]
    floors = [r[0] for r in rows]
    if floors[0] != 0 or any(b <= a for a, b in zip(floors, floors[1:])):
        return [f"field '{field}': floors must start at 0 and ascend"]
    if any(not 0 <= r[1] <= hi for r in rows):
        return [f"field '{field}': values must be in [0, {hi:g}]"]
    return []


def multiplied(raw, tiers):
    """A minimum charge (a number or an array) after multiplier tiers (floor, multiplier), each
    tier's multiplier on the part of ``raw`` inside it (OKX: raw 30,000 with tiers (0, 1),
    (10,000, 2) → 50,000); no tiers: ``raw``."""
    if len(tiers) == 0:
        return raw
    floors = [lo for lo, _ in tiers] + [math.inf]
    return sum(m * np.clip(raw - lo, 0.0, floors[k + 1] - lo) for k, (lo, m) in enumerate(tiers))


def risk_matrix(arrays, p: int, prices: np.ndarray, t_elapsed: float = 0.0) -> dict:
    """The whole risk matrix of scenario pool ``p`` at ``prices`` (one per axis), for the report:
    per risk unit (axis) the adjusted P&L of every scenario (USD, after weight, dampener and
    pnl_offset), its worst loss and worst scenario index, its roll shock and minimum charge (raw,
    and after the pool's multiplier tiers) and its requirement; the pool's roll shock,
    requirement and MM (USD, without a net-equity haircut). Computed by the NumPy reference
    (:func:`liqrisk.margin.reference.scenario_units`), which is tested to agree with the kernel."""
    from liqrisk.margin.reference import multiplied_charge, scenario_units
    factor, add, floor = arrays.pm_par[p][1:4]
    units = []
    total = roll_total = 0.0
    for u in scenario_units(arrays, p, np.asarray(prices, float)[None, :], t_elapsed):
        v = u["pnl"][0]
        k = int(np.argmin(v))
        worst = max(0.0, -float(v[k]))
        roll, raw = float(u["roll"][0]), float(u["raw"][0])
        charge = float(multiplied_charge(arrays, p, raw))
        requirement = max(worst + roll, charge)
        total += requirement
        roll_total += roll
        units.append({"axis": u["axis"], "pnl": v, "worst_loss": worst, "worst_index": k, "roll_shock": roll,
                      "min_charge_raw": raw, "min_charge": charge, "requirement": requirement})
    requirement = max(total + add, floor)
    return {"units": units, "roll_shock": roll_total, "requirement": requirement, "mm": factor * requirement}
