"""Bounds on what one run reads and computes, so that bad input fails fast instead of hanging.

Each bound has a documented default and a CLI flag that raises it (README, "Limits"). A run
beyond a bound stops with exit status 2 and a line naming the bound and its flag. The CLI sets
the bounds for the duration of a command with :func:`using`; library callers get the defaults
(or set their own the same way).
"""
from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Limits:
    """Bounds of one run (defaults are the documented ones)."""

    max_file_mb: float = 20.0            # size of one input file (MB = 10^6 bytes)
    max_depth: int = 20                  # nesting of mappings/lists in a YAML/JSON document
    max_alias_nodes: int = 100_000       # nodes YAML aliases may add when expanded (alias bombs)
    max_accounts: int = 20_000           # accounts in one portfolio file
    max_positions: int = 200_000         # positions in one portfolio file, all accounts together
    max_population: int = 2_000_000      # accounts, and positions, of one cascade population
    #   (synthetic, position table, Hyperliquid states): exchange-scale by design; a cascade holds
    #   ≈ 0.54 KB per account (measured, BENCHMARKS.md "Cascades"), so the default is ≈ 1.4 GB
    max_path_steps: float = 2e8          # Monte Carlo paths × time steps of one account (memory)
    max_horizon_days: float = 366.0      # longest probability horizon

    FLAGS = {"max_file_mb": "--max-file-mb", "max_depth": "--max-depth",
             "max_alias_nodes": "--max-alias-nodes", "max_accounts": "--max-accounts",
             "max_positions": "--max-positions", "max_population": "--max-population",
             "max_path_steps": "--max-path-steps",
             "max_horizon_days": "--max-horizon-days"}

    def exceeded(self, name: str, what: str, instead: str = "") -> str:
        """The one-line message for a run beyond bound ``name``; ``instead`` names the options that
        bring the run within it (e.g. "fewer --paths or a shorter --horizon")."""
        return f"{what}: above the limit {name.removeprefix('max_')} = {getattr(self, name):g} " \
               f"({'use ' + instead + ', or ' if instead else ''}raise it with {self.FLAGS[name]})"


_CURRENT: contextvars.ContextVar[Limits] = contextvars.ContextVar("liqrisk_limits", default=Limits())


def current() -> Limits:
    """The bounds in force."""
    return _CURRENT.get()


@contextlib.contextmanager
def using(**overrides):
    """Run a block with some bounds changed (``None`` values keep the default)."""
    token = _CURRENT.set(replace(current(), **{k: v for k, v in overrides.items() if v is not None}))
    try:
        yield current()
    finally:
        _CURRENT.reset(token)


NAMES = tuple(f.name for f in fields(Limits))


# Plausibility ranges of input numbers (not raisable: beyond them float64 results overflow or the
# models are meaningless). Prices in USD (or coin premium), amounts in the field's own unit.
PRICE_RANGE = (1e-12, 1e12)
AMOUNT_MAX = 1e15            # sizes, collateral, margins, notionals
VOL_RANGE = (1e-8, 10.0)     # annualised (up to 1000 %)
LEVERAGE_RANGE = (1.0, 1000.0)
RATE_RANGE = (-1.0, 1.0)     # annual interest rate
DRIFT_MAX = 10.0             # |annualised expected return|
FUNDING_MAX = 0.1            # |funding rate per 8 h| (exclusive)
STRESS_MAX = 1000.0          # impact stress multiplier (1 = today's book), in [STRESS_MIN, STRESS_MAX]
STRESS_MIN = 1.0 / STRESS_MAX   # below it a book's spread (× stress) vanished into a crossed book, its depth (÷ stress) overflowed
PARTICIPATION_MIN = 1e-6     # share of daily volume an exit may take, in [PARTICIPATION_MIN, 1]
VOLUME_MIN = 1e-8            # daily volume, base units: with the bounds above a time to exit stays finite


def participation_problem(value: float) -> str | None:
    """"must be in [1e-06, 1] (a share of daily volume)" unless it is (NaN fails): the rule of
    ``--participation``. Below it the time to exit (size / (participation × volume)) overflowed
    to a null with no note (found by the one-flag fuzz of exit-cost: 5e-324)."""
    return None if PARTICIPATION_MIN <= value <= 1 else \
        f"must be in [{PARTICIPATION_MIN:g}, 1] (a share of daily volume)"


def stress_problem(value: float) -> str | None:
    """"must be in [0.001, 1000] (1 = today's book)" unless STRESS_MIN ≤ ``value`` ≤ STRESS_MAX
    (NaN fails): the one rule of ``--stress``, the service's ``stress`` and a scenario's
    ``impact.stress``. The lower bound was 0 (open): ``--stress 1e-300`` shrank the synthetic
    book's spread to nothing and stopped with "synthetic BTC (sigma=0.55, stress=1): crossed book,
    best bid 1 >= best ask 1" (naming a stress of 1 and no flag), 5e-324 with an infinite depth;
    a scenario's ``impact.stress: 5e-324`` divided the depth into infinity (found by hand, issue 9)."""
    return None if STRESS_MIN <= value <= STRESS_MAX else \
        f"must be in [{STRESS_MIN:g}, {STRESS_MAX:g}] (1 = today's book)"


EXIT_HORIZON_MAX_HOURS = 24 * 366   # time allowed to exit, hours, in (0, EXIT_HORIZON_MAX_HOURS]


def drift_problem(value: float) -> str | None:
    """"must be a finite annual return in [-10, 10]" unless |``value``| ≤ DRIFT_MAX (NaN fails):
    the one rule of ``--drift`` (analyze, what-if) and the service's ``drift``."""
    return None if abs(value) <= DRIFT_MAX else f"must be a finite annual return in [{-DRIFT_MAX:g}, {DRIFT_MAX:g}]"


def exit_horizon_problem(hours: float) -> str | None:
    """"must be in (0, 8784]" unless 0 < ``hours`` ≤ EXIT_HORIZON_MAX_HOURS (NaN fails): the one
    rule of ``--exit-horizon-hours`` and the service's ``exit_horizon_hours``."""
    return None if 0 < hours <= EXIT_HORIZON_MAX_HOURS else f"must be in (0, {EXIT_HORIZON_MAX_HOURS}]"


def out_of_range(flag: str, value: float, lo: float, hi: float, lo_open: bool = False) -> str | None:
    """``"--vol 5e-324: must be a finite number in [1e-08, 10]"`` when ``value`` is not finite or
    outside the range (``lo_open``: ``lo`` itself excluded), else None."""
    import math
    inside = math.isfinite(value) and (lo < value if lo_open else lo <= value) and value <= hi
    return None if inside else f"{flag} {value:g}: must be a finite number in {'(' if lo_open else '['}{lo:g}, {hi:g}]"
