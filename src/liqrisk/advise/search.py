"""The smallest amount of a change that meets a target, found on the engine, and the record of
one answer (what to do, what it costs, and its verification)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from liqrisk.model import Account

REL_TOL = 2e-3          # bisection stops when the bracket is within 0.2% of the answer
MINIMAL_CHECK = 0.99    # an answer is minimal when 99% of it misses the target


@dataclass
class Action:
    """One way to meet the target for one account. ``amount`` in ``unit``; ``cost_usd`` what it
    costs (``cost_kind``: capital committed, exit cost, premium, opening cost); ``metric`` the
    target's metric after it, re-run on the engine; ``minimal``: 99% of the amount misses."""

    kind: str
    description: str
    amount: float
    unit: str
    cost_usd: float | None
    cost_kind: str
    meets: bool
    metric: float | None
    minimal: bool | None
    method: str
    details: dict = field(default_factory=dict)


def smallest(make: Callable[[float], Account], meets: Callable[[Account], bool], first: float,
             cap: float, rel: float = REL_TOL) -> tuple[float | None, int]:
    """The smallest x in (0, cap] with ``meets(make(x))`` (None if even ``cap`` misses), assuming
    it is monotone: ``cap`` is tried first when far above ``first`` (a closed-form guess), which
    is then tried and doubled up to ``cap``; a guess that meets while 0.1% less misses is the
    answer; else the bracket [last miss, first meet] is bisected to ``rel``. Returns (x, evaluations)."""
    n = 0
    lo, hi = 0.0, min(max(first, cap * 1e-9), cap)
    if hi * 4 < cap:
        n += 1
        if not meets(make(cap)):               # out of reach: one evaluation, not a doubling run
            return None, n
    doubled = False
    while True:
        n += 1
        if meets(make(hi)):
            break
        if hi >= cap:
            return None, n
        lo, hi, doubled = hi, min(hi * 2, cap), True
    if not doubled and first > 0:
        n += 1
        if not meets(make(hi * (1 - rel / 2))):
            return hi, n                       # the guess is the answer (to the tolerance)
        hi *= 1 - rel / 2
    while hi - lo > rel * hi:
        mid = math.sqrt(lo * hi) if lo > 0 else 0.5 * hi
        n += 1
        if meets(make(mid)):
            hi = mid
        else:
            lo = mid
    return hi, n


def round_up(x: float, digits: int = 6) -> float:
    """``x`` rounded up to ``digits`` significant digits (what a user can type; still meets)."""
    if x <= 0 or not math.isfinite(x):
        return x
    e = math.floor(math.log10(x)) - digits + 1
    return math.ceil(x / 10 ** e) * 10 ** e
