"""Tier tables recorded from the venues' public API responses (``data/recorded_tiers.json``).

Each recording keeps the venue's response rows verbatim, with where they were found (repository,
path, commit or URL), the endpoint and the date of the recording. This module converts them, once
per venue and symbol, to the bundled row form ``(floor, cap, MMR, max leverage)`` in the unit the
venue's rule set reads its tiers in (docs/venues.md, each venue's "Tier tables"):

* Kraken Futures ``marginLevels``: ``numNonContractUnits`` is the level's lower limit in quote
  units (USD) for linear futures → floor; the next level's floor → cap (the last open);
  ``maintenanceMargin`` → MMR; ``1/initialMargin`` → max leverage.
* Bitget ``query-position-lever``: ``startUnit``/``endUnit`` (USDT position value) → floor/cap;
  ``keepMarginRate`` → MMR; ``leverage``.
* KuCoin ``contracts/risk-limit``: ``minRiskLimit``/``maxRiskLimit`` (USDT position value, the
  maximum included in the level) → floor/cap; ``maintainMargin`` → MMR; ``maxLeverage``.
* Gate ``risk_limit_tiers``: the previous tier's ``risk_limit`` → floor, ``risk_limit`` (USDT
  position value, included) → cap; ``maintenance_rate``; ``leverage_max`` (the recorded
  ``deduction`` is what the rule set derives from these bounds).
* Phemex ``riskLimitsV2``: the previous ``limit`` → floor, ``limit`` (USDT position value) → cap;
  ``maintenanceMarginRr``; ``1/initialMarginRr`` (the deduction is derived from the floors).

The recording marked ``default`` for a venue and symbol replaces the representative table of
``venue_defaults.json`` for a position of that exact symbol (:meth:`RuleSet.default_table`); the
others are kept for provenance. Bounds stay as the venue publishes them; which tier holds a
notional exactly at a bound is the rule set's ``tier_cap_inclusive``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

#: cap of a last level the response leaves open (venue_defaults.json's convention)
OPEN_CAP = 1e15
DATA_FILE = "data/recorded_tiers.json"
#: fields every recording carries (tests/margin/test_recorded_tiers.py checks them)
PROVENANCE_FIELDS = ("venue", "symbol", "default", "endpoint", "field", "recorded", "server_time", "source",
                     "complete", "unit", "conversion", "response")


def _previous_bound_rows(rows, cap_key, mmr_key, lev):
    """Tiers published by their upper bound only: tier k runs from tier k−1's bound."""
    rows = sorted(rows, key=lambda r: float(r[cap_key]))
    floors = [0.0] + [float(r[cap_key]) for r in rows[:-1]]
    return [(f, float(r[cap_key]), float(r[mmr_key]), lev(r)) for f, r in zip(floors, rows)]


def _kraken(levels):
    levels = sorted(levels, key=lambda r: float(r["numNonContractUnits"]))
    floors = [float(r["numNonContractUnits"]) for r in levels]
    caps = floors[1:] + [OPEN_CAP]
    return [(f, c, float(r["maintenanceMargin"]), 1.0 / float(r["initialMargin"]))
            for f, c, r in zip(floors, caps, levels)]


def _bitget(tiers):
    return [(float(r["startUnit"]), float(r["endUnit"]), float(r["keepMarginRate"]), float(r["leverage"]))
            for r in sorted(tiers, key=lambda r: float(r["startUnit"]))]


def _kucoin(levels):
    return [(float(r["minRiskLimit"]), float(r["maxRiskLimit"]), float(r["maintainMargin"]), float(r["maxLeverage"]))
            for r in sorted(levels, key=lambda r: float(r["minRiskLimit"]))]


def _gate(tiers):
    return _previous_bound_rows(tiers, "risk_limit", "maintenance_rate", lambda r: float(r["leverage_max"]))


def _phemex(limits):
    return _previous_bound_rows(limits, "limit", "maintenanceMarginRr", lambda r: 1.0 / float(r["initialMarginRr"]))


CONVERTERS = {"kraken-futures": _kraken, "bitget": _bitget, "kucoin": _kucoin, "gate": _gate, "phemex": _phemex}


@dataclass(frozen=True)
class RecordedTable:
    """One recording: the venue's rows, converted, and where and when they were recorded."""

    venue: str
    symbol: str
    default: bool
    endpoint: str
    recorded: str
    complete: bool
    source: dict
    rows: tuple          # ((floor, cap, MMR, max leverage), ...) ascending, as the rule sets' bundled rows
    entry: dict          # the recording as stored (response verbatim, unit, conversion, …)

    def describe(self) -> str:
        """The ``parameters`` line of a position on this table."""
        s = self.source
        where = (f"{s['repository']}/{s['path']}@{s['commit'][:10]}" if "repository" in s else s.get("url", ""))
        cover = ("" if self.complete else
                 f"; tiers recorded to {self.rows[-1][1]:,.0f}, the last one extended beyond")
        return f"recorded {self.endpoint} response of {self.recorded} ({where}){cover}"


def _problems(entry) -> list[str]:
    missing = [k for k in PROVENANCE_FIELDS if k not in entry]
    return [f"{entry.get('venue')}/{entry.get('symbol')}: missing {', '.join(missing)}"] if missing else []


@lru_cache(maxsize=None)
def recordings() -> tuple[RecordedTable, ...]:
    """Every recording of the data file, converted (a malformed file is an error naming the entry)."""
    raw = json.loads(resources.files("liqrisk.margin").joinpath(DATA_FILE).read_text())
    out, defaults = [], set()
    for entry in raw["tables"]:
        problems = _problems(entry)
        if problems:
            raise ValueError(f"{DATA_FILE}: {problems[0]}")
        rows = tuple(CONVERTERS[entry["venue"]](entry["response"]))
        if rows[0][0] != 0.0 or any(a[1] != b[0] for a, b in zip(rows, rows[1:])):
            raise ValueError(f"{DATA_FILE}: {entry['venue']}/{entry['symbol']} ({entry['recorded']}): tiers do "
                             f"not run contiguously from 0")
        key = (entry["venue"], entry["symbol"].upper())
        if entry["default"]:
            if key in defaults:
                raise ValueError(f"{DATA_FILE}: two default recordings for {key[0]}/{key[1]}")
            defaults.add(key)
        out.append(RecordedTable(entry["venue"], entry["symbol"].upper(), bool(entry["default"]), entry["endpoint"],
                                 entry["recorded"], bool(entry["complete"]), dict(entry["source"]), rows, entry))
    return tuple(out)


@lru_cache(maxsize=4096)
def default_recording(venue: str, symbol: str | None) -> RecordedTable | None:
    """The default recording of ``venue`` for exactly ``symbol`` (None: none recorded)."""
    if not symbol:
        return None
    sym = symbol.upper()
    return next((r for r in recordings() if r.default and r.venue == venue and r.symbol == sym), None)
