"""The smallest amount of a change that meets a target, found on the engine, and the record of
one answer (what to do, what it costs, and its verification)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from liqrisk.model import Account

REL_TOL = 2e-3          # the search stops when the bracket is within 0.2% of the answer
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


def smallest(make: Callable[[float], Account], gap: Callable[[Account], float], first: float, cap: float,
             rel: float = REL_TOL, digits: int = 6, at_zero: float | None = None) -> tuple[float | None, int]:
    """The smallest x in (0, cap] with ``gap(make(x)) ≤ 0`` (None if even ``cap`` misses),
    assuming the gap falls as x grows (a target's signed gap, ``Evaluator.gap``; ``at_zero``: its
    value at x = 0 when known — the unchanged account's). Every candidate is rounded up to
    ``digits`` significant digits, so the answer is an evaluated account.

    ``cap`` is tried first when far above ``first`` (a closed-form guess): out of reach costs one
    evaluation. Then ``first``; after a miss the next point is the secant root through the two
    largest misses ×1.2 (×1.5 to ×16, at most ``cap``). A bracket that ends at ``cap`` with an
    infinite gap (P = 0) is probed just below it (cutting a whole isolated position meets only at
    100%). Then on the bracket [largest miss, smallest meet]: regula falsi with the
    Anderson–Björck modification (1973: the end kept twice running has its gap scaled by
    1 − g_new/g_old, else by ½), else (the meet's gap infinite) the secant of the two largest
    misses, else bisection — each point at least ``rel``/2 of the answer inside the bracket —
    until the bracket is within ``rel`` of the answer (or the answer is under ``cap``·1e-9).
    Interpolation is on the compressed gap (:func:`_squash`). Returns (x, evaluations)."""
    seen: dict[float, float] = {}             # x → the gap, compressed (_squash)
    at_zero = None if at_zero is None else _squash(at_zero)

    def at(x: float) -> tuple[float, float]:
        x = min(round_up(x, digits), cap)
        if x not in seen:
            seen[x] = _squash(gap(make(x)))
        return x, seen[x]

    def secant_of_misses() -> float | None:
        m = sorted((x, g) for x, g in seen.items() if g > 0 and math.isfinite(g))
        if at_zero is not None and math.isfinite(at_zero):
            m.insert(0, (0.0, at_zero))
        if len(m) < 2 or not m[-2][1] > m[-1][1]:
            return None
        (x0, g0), (x1, g1) = m[-2:]
        return x1 + (x1 - x0) * g1 / (g0 - g1)

    floor = cap * 1e-9                          # below it, x counts as 0
    first = min(max(first, floor), cap)
    if first * 4 < cap and at(cap)[1] > 0:
        return None, len(seen)
    x, g = at(first)
    lo, hi = (0.0, x) if g <= 0 else (x, None)
    while hi is None:
        r = secant_of_misses()
        x, g = at(lo * (16.0 if r is None else min(max(1.2 * r / lo, 1.5), 16.0)))
        if g <= 0:
            hi = x
        elif x >= cap:
            return None, len(seen)
        else:
            lo = x
    if hi >= cap and seen[hi] == -math.inf and hi * (1 - rel) > lo:
        x, g = at(hi * (1 - rel))
        if g > 0:
            return hi, len(seen)
        hi = x
    glo = seen.get(lo, math.inf if at_zero is None else at_zero)
    ghi, moved = seen[hi], None
    while hi - lo > rel * hi and hi > floor:
        if math.isfinite(glo) and math.isfinite(ghi):
            x = lo + (hi - lo) * glo / (glo - ghi)
        else:
            r = secant_of_misses()
            x = r if r is not None else (math.sqrt(lo * hi) if lo > 0 else 0.5 * hi)
        step = 0.5 * rel * hi
        x = min(round_up(min(max(x, lo + step), hi - step), digits), cap)
        if not lo < x < hi:                       # the bracket is at the rounding's resolution
            break
        x, g = at(x)
        if g <= 0:          # Anderson–Björck: the end kept twice running has its gap scaled down
            glo = glo * (1 - g / ghi if 1 - g / ghi > 0 else 0.5) if moved == "hi" and math.isfinite(ghi) else glo
            hi, ghi, moved = x, g, "hi"
        else:
            ghi = ghi * (1 - g / glo if 1 - g / glo > 0 else 0.5) if moved == "lo" and math.isfinite(glo) else ghi
            lo, glo, moved = x, g, "lo"
    return hi, len(seen)


def _squash(g: float) -> float:
    """``sign(g)·ln(1 + |g|)``: the gap with its sign and its zero, large values compressed (a
    nearly flat P far inside the target gives ln P − ln p* of −50) so that interpolation is not
    pulled to one end."""
    return math.copysign(math.log1p(abs(g)), g)


def round_up(x: float, digits: int = 6) -> float:
    """``x`` rounded up to ``digits`` significant digits (what a user can type; still meets); a
    number already that short is returned unchanged."""
    if x <= 0 or not math.isfinite(x):
        return x
    e = math.floor(math.log10(x)) - digits + 1
    return math.ceil(x / 10 ** e * (1 - 1e-12)) * 10 ** e
