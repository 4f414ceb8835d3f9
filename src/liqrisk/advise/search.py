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
    target's metric after it, re-run on the engine; ``minimal``: 99% of the amount misses;
    ``model``: the path model of that re-run (None: a distance target), which can differ from the
    account's (``details["model_switch"]``): with ``--model auto`` a cut that removes every position
    with price history leaves GBM."""

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
    model: str | None = None


def _ab_factor(g_new: float, g_old: float) -> float:
    """Anderson–Björck's scale 1 − g_new/g_old of the kept end's gap, ½ when that is not positive
    or the old gap is 0 (a Monte Carlo P exactly at the target: a step of the estimate)."""
    m = 1 - g_new / g_old if g_old else 0.0
    return m if m > 0 else 0.5


@dataclass
class Found:
    """What :func:`smallest` found. ``x``: the answer (None: even the cap misses); ``minimal``:
    ``check``·x was evaluated and misses (None: not checked); ``not_monotone``: consecutive
    evaluated amounts (a, b), a < b, where a meets and b misses — the estimate fell back above
    the target as the amount grew."""

    x: float | None
    minimal: bool | None
    evaluations: int
    not_monotone: list[tuple[float, float]] = field(default_factory=list)

    def evidence(self, unit: float = 1.0) -> dict:
        """The action's ``details`` entry: the evaluated pairs that contradict monotonicity, in the
        action's amount (``unit`` per searched x: a hedge searches the fraction of its size)."""
        return {"not_monotone": [[a * unit, b * unit] for a, b in self.not_monotone]} if self.not_monotone else {}


def smallest(make: Callable[[float], Account], gap: Callable[[Account], float], first: float, cap: float,
             rel: float = REL_TOL, digits: int = 6, at_zero: float | None = None,
             check: float | None = MINIMAL_CHECK) -> Found:
    """The smallest x in (0, cap] with ``gap(make(x)) ≤ 0`` (None if even ``cap`` misses), found
    as if the gap fell as x grows (a target's signed gap, ``Evaluator.gap``; ``at_zero``: its
    value at x = 0 when known — the unchanged account's), without relying on it: the answer is an
    evaluated amount that meets, and ``check``·x (99%) is evaluated too — when that meets as well
    the search goes on below it, until the amount ``check`` below the answer misses (``minimal``)
    or no smaller rounded amount is left to try. A Monte Carlo P of a two-asset account is not
    monotone in a cut or a hedge even on common random numbers (docs/mitigation.md), so
    evaluated pairs where the smaller amount meets and the larger misses are reported
    (``not_monotone``). Every candidate is rounded up to ``digits`` significant digits, so the
    answer is an evaluated account.

    ``cap`` is tried first when far above ``first`` (a closed-form guess): out of reach costs one
    evaluation. Then ``first``; after a miss the next point is the secant root through the two
    largest misses ×1.2 (×1.5 to ×16, at most ``cap``). A bracket that ends at ``cap`` with an
    infinite gap (P = 0) is probed just below it (cutting a whole isolated position meets only at
    100%). Then on the bracket [largest miss, smallest meet]: regula falsi with the
    Anderson–Björck modification (1973: the end kept twice running has its gap scaled by
    1 − g_new/g_old, else by ½), else (the meet's gap infinite) the secant of the two largest
    misses, else bisection — each point at least ``rel``/2 of the answer inside the bracket —
    until the bracket is within ``rel`` of the answer (or the answer is under ``cap``·1e-9).
    Interpolation is on the compressed gap (:func:`_squash`)."""
    seen: dict[float, float] = {}             # x → the gap, compressed (_squash)
    at_zero = None if at_zero is None else _squash(at_zero)

    def exact(x: float) -> float:
        if x not in seen:
            seen[x] = _squash(gap(make(x)))
        return seen[x]

    def at(x: float) -> tuple[float, float]:
        x = min(round_up(x, digits), cap)
        return x, exact(x)

    def done(x, minimal=None) -> Found:
        pts = sorted(seen.items())
        bad = [(a, b) for (a, ga), (b, gb) in zip(pts, pts[1:]) if ga <= 0 < gb]
        return Found(x, minimal, len(seen), bad)

    def secant_of_misses(below: float = math.inf) -> float | None:
        m = sorted((x, g) for x, g in seen.items() if 0 < g < math.inf and x < below)
        if at_zero is not None and math.isfinite(at_zero):
            m.insert(0, (0.0, at_zero))
        if len(m) < 2 or not m[-2][1] > m[-1][1]:
            return None
        (x0, g0), (x1, g1) = m[-2:]
        return x1 + (x1 - x0) * g1 / (g0 - g1)

    def narrow(lo: float, hi: float) -> float:
        """The smallest meet of the bracket [lo (a miss, or 0), hi (a meet)] to ``rel``."""
        glo = seen.get(lo, math.inf if at_zero is None else at_zero)
        ghi, moved = seen[hi], None
        while hi - lo > rel * hi and hi > floor:
            if math.isfinite(glo) and math.isfinite(ghi):
                x = lo + (hi - lo) * glo / (glo - ghi)
            else:
                r = secant_of_misses(hi)
                x = r if r is not None else (math.sqrt(lo * hi) if lo > 0 else 0.5 * hi)
            step = 0.5 * rel * hi
            x = min(round_up(min(max(x, lo + step), hi - step), digits), cap)
            if not lo < x < hi:                       # the bracket is at the rounding's resolution
                break
            x, g = at(x)
            if g <= 0:      # Anderson–Björck: the end kept twice running has its gap scaled down
                glo = glo * _ab_factor(g, ghi) if moved == "hi" and math.isfinite(ghi) else glo
                hi, ghi, moved = x, g, "hi"
            else:
                ghi = ghi * _ab_factor(g, glo) if moved == "lo" and math.isfinite(glo) else ghi
                lo, glo, moved = x, g, "lo"
        return hi

    floor = cap * 1e-9                          # below it, x counts as 0
    first = min(max(first, floor), cap)
    if first * 4 < cap and at(cap)[1] > 0:
        return done(None)
    x, g = at(first)
    lo, hi = (0.0, x) if g <= 0 else (x, None)
    while hi is None:
        r = secant_of_misses()
        x, g = at(lo * (16.0 if r is None else min(max(1.2 * r / lo, 1.5), 16.0)))
        if g <= 0:
            hi = x
        elif x >= cap:
            return done(None)
        else:
            lo = x
    if hi >= cap and seen[hi] == -math.inf and hi * (1 - rel) > lo:
        x, g = at(hi * (1 - rel))
        if g > 0:
            return done(hi, None if check is None else exact(check * hi) > 0)
        hi = x
    hi = narrow(lo, hi)
    if check is None:
        return done(hi)
    while exact(check * hi) <= 0:               # 1% less meets too: search below it
        below = round_up(check * hi, digits)
        if not below < hi or exact(below) > 0:   # no smaller rounded amount meets
            return done(hi, False)
        lo = max((x for x, g in seen.items() if g > 0 and x < below), default=0.0)
        hi = narrow(lo, below)
    return done(hi, True)


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
