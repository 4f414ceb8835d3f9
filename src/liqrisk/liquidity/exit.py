"""Exit liquidity: the cost of closing a position as a function of the time allowed, and the
loss of a forced (liquidation) fill.

Exit-cost curve. At 0 hours the position is closed with one market order (book walk). Over a
horizon T it is worked in slices of ``SLICE_HOURS`` with the Almgren-Chriss (2000) schedule,
the book refilling between slices. The linear AC model is fitted to the book and to the
square-root law:

    epsilon = half the (stressed) spread * price
    eta     = c * tau,  c = (walk(|X|) - epsilon |X|) / X^2   (one slice costs exactly the book walk)
    gamma   = min(2/3 * Y * stress * sigma_day * price / sqrt(V_day |X|), c)
              (permanent impact: 2/3 of the square-root peak impact, capped so eta~ > 0)

so the curve starts at the book walk and falls towards epsilon |X| + gamma X^2 / 2.
``stress`` widens the spread and thins the book (OrderBook.stressed) and thins the daily
volume of the square-root law by the same factor (Y times sqrt(stress)).

Liquidity is never invented: an order larger than the (stressed) visible book has no
close-now cost, and the AC fit (calibrated on the book walk) has nothing to stand on beyond the
visible depth. ``exit_cost_curve`` reports NaN for every horizon (and sd, dcost_dhours) of such
a position; ``exit_summary`` raises :class:`BookError` naming the symbol, the unfilled amount
and the book depth (callers report it as a note).
"""
from __future__ import annotations

import math

from dataclasses import asdict, dataclass
from typing import Iterable, Mapping

import numpy as np

from liqrisk.liquidity.almgren_chriss import ACModel, time_to_liquidate
from liqrisk.liquidity.book import BookError, OrderBook
from liqrisk.liquidity.impact import DAILY_VOLUME
from liqrisk.liquidity.synthetic import synthetic_book, underlying_of

CURVE_HOURS = (0.0, 0.25, 1.0, 4.0, 24.0, 72.0)
SLICE_HOURS = 5.0 / 60.0
_FILL_TOL = 1e-9
"""Unfilled amounts up to this fraction of the order are rounding of the cumulative depth."""


def _dict(obj) -> dict:
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in asdict(obj).items()}


@dataclass(frozen=True)
class ExitCurve:
    """Expected exit cost (quote currency) and its sd per horizon (hours), for each position
    (rows) and horizon (columns); ``dcost_dhours`` = d E / d T, the value lost per hour of
    urgency is its negative."""

    hours: np.ndarray
    expected_cost: np.ndarray
    sd: np.ndarray
    dcost_dhours: np.ndarray
    book_source: str

    to_dict = _dict


def exit_cost_curve(size, price, sigma, book: OrderBook, daily_volume, hours=CURVE_HOURS,
                    stress=1.0, y=1.0, risk_aversion=0.0) -> ExitCurve:
    """Exit cost of positions ``size`` (signed base units, array) at ``price`` over ``hours``
    (rounded to whole slices). ``sigma`` annualised; ``daily_volume`` base units;
    ``risk_aversion`` lambda of Almgren-Chriss in 1 / quote currency (0: straight line).

    A position whose close-now order exceeds the stressed book's side (part unfilled) gets
    NaN in every column of ``expected_cost``, ``sd`` and ``dcost_dhours``: its cost is not
    known from the book, and costing only the filled part would understate it."""
    size = np.atleast_1d(np.asarray(size, float))
    price = np.broadcast_to(np.asarray(price, float), size.shape)
    hours = np.asarray(sorted(set(hours)), float)
    stressed = book.stressed(stress)
    e, v, grad = _curve(size, price, sigma, stressed, stressed.walk(-size), daily_volume, hours, stress, y,
                        risk_aversion)
    return ExitCurve(hours, e, np.sqrt(v), grad, book.book_source)


def _curve(size, price, sigma, stressed: OrderBook, walk, daily_volume, hours, stress, y, risk_aversion):
    """E, V and dE/dT (rows: positions, columns: ``hours``) given the close-now ``walk`` of
    ``-size`` through the ``stressed`` book (see :func:`exit_cost_curve`)."""
    x = np.abs(size)[:, None]
    tiny = x * x == 0           # 0, or so small (< 1.5e-154) that x² underflows: c below was 0/0 = NaN
    x_safe = np.where(tiny, 1.0, x)
    now = walk.slippage_cost * price / stressed.mid
    beyond = (np.abs(walk.unfilled) > _FILL_TOL * np.abs(size))[:, None]   # book too thin
    eps = 0.5 * stressed.spread * price[:, None]
    c = np.maximum(now[:, None] - eps * x, 0.0) / x_safe**2
    sigma_day = sigma / np.sqrt(365.0)
    gamma = np.minimum(2.0 / 3.0 * y * np.sqrt(stress) * sigma_day * price[:, None] / np.sqrt(daily_volume * x_safe), c)
    tau = SLICE_HOURS / 24.0
    n = np.maximum(np.round(hours / SLICE_HOURS), 1.0)
    model = ACModel(sigma=price[:, None] * sigma_day, eta=np.maximum(c * tau, 1e-300), gamma=gamma, epsilon=eps)
    with np.errstate(invalid="ignore", over="ignore"):
        e, v = model.expected_variance(x, n * tau, n, risk_aversion)
    immediate = (hours[None, :] == 0) | tiny     # a tiny order costs its close-now cost at any horizon
    e = np.where(immediate, now[:, None], e)
    v = np.where(immediate, 0.0, v)
    e, v = np.where(beyond, np.nan, e), np.where(beyond, np.nan, v)
    grad = np.gradient(e, hours, axis=1) if len(hours) > 1 else np.zeros_like(e)
    return e, v, grad


@dataclass(frozen=True)
class LiquidationLoss:
    """Forced close of positions at their liquidation price (arrays, one per position).

    ``currency`` is "quote" (linear) or "coin" (inverse) for fee, impact_cost, total_loss and
    shortfall; ``unfilled`` is in the size unit (base units, or USD face for inverse)."""

    avg_fill_price: np.ndarray
    fee: np.ndarray
    impact_cost: np.ndarray
    total_loss: np.ndarray
    crosses_bankruptcy: np.ndarray
    shortfall: np.ndarray
    unfilled: np.ndarray
    currency: str
    book_source: str

    to_dict = _dict


def liquidation_loss(size, liquidation_price, bankruptcy_price, fee_rate, book_or_impact,
                     stress=1.0, inverse=False) -> LiquidationLoss:
    """Fee + impact of the forced fill at stressed liquidity, and the insurance-fund shortfall.

    Linear: size in base units, money in quote. Inverse (``inverse=True``): size in USD face,
    money in coin; the face is converted to coin at the liquidation price to walk the book.
    shortfall = |filled| * max(0, sign * (bankruptcy - avg_fill)) linear,
                |face| * max(0, sign * (1/avg_fill - 1/bankruptcy)) inverse.
    The fee is taken from the margin left above bankruptcy and never adds to the shortfall."""
    size = np.asarray(size, float)
    p_liq, p_b = np.asarray(liquidation_price, float), np.asarray(bankruptcy_price, float)
    s = np.sign(size)
    base = size / p_liq if inverse else size
    liq = book_or_impact.stressed(stress)
    if isinstance(liq, OrderBook):
        walk = liq.walk(-base)
        slip, unfilled_base = walk.slippage_bps * 1e-4, -walk.unfilled
    else:
        slip, unfilled_base = np.broadcast_to(liq.slippage(-base, p_liq), size.shape), np.zeros_like(size)
    filled = np.abs(base) - np.abs(unfilled_base)
    avg = p_liq * (1.0 - s * slip)
    if inverse:
        face = filled * p_liq
        fee = fee_rate * face / avg
        impact = s * face * (1.0 / avg - 1.0 / p_liq)
        shortfall = face * np.maximum(0.0, s * (1.0 / avg - 1.0 / p_b))
        unfilled = unfilled_base * p_liq
    else:
        fee = fee_rate * filled * avg
        impact = filled * slip * p_liq
        shortfall = filled * np.maximum(0.0, s * (p_b - avg))
        unfilled = unfilled_base
    return LiquidationLoss(avg, fee, impact, fee + impact, s * (p_b - avg) > 0, shortfall, unfilled,
                           "coin" if inverse else "quote", liq.book_source)


@dataclass(frozen=True)
class ExitSummary:
    """Per-account exit summary. Money in quote currency; ``book`` is "synthetic" if any
    position was costed on a synthetic book; ``curve`` maps hours -> total expected cost."""

    close_now_cost: float
    close_now_bps: float
    time_to_exit_hours: float
    horizon_cost: float
    horizon_sd: float
    book: str
    curve: dict
    dcost_dhours: dict
    positions: list

    to_dict = _dict


@dataclass(frozen=True)
class ExitCosts:
    """Exit costs of many groups of positions (e.g. the accounts of a book) computed together:
    struct of arrays, one row per position (``close_now_cost`` … ``dcost_dhours``; curves have
    one column per ``hours``) and per group its ``error`` (None: costed). A group is costed as a
    whole or not at all; ``used`` marks the rows of costed groups with a size to close.
    Money in quote currency, ``worst_price`` in the position's price terms."""

    hours: np.ndarray
    horizon: int
    group: np.ndarray
    symbol: list
    size: np.ndarray
    price: np.ndarray
    close_now_cost: np.ndarray
    levels: np.ndarray
    worst_price: np.ndarray
    unfilled: np.ndarray
    time_to_exit_hours: np.ndarray
    expected_cost: np.ndarray
    sd: np.ndarray
    dcost_dhours: np.ndarray
    synthetic: np.ndarray
    book_source: list
    error: list

    @property
    def used(self) -> np.ndarray:
        ok = np.array([e is None for e in self.error], dtype=bool)
        return (self.size != 0) & ok[self.group]

    def totals(self) -> dict[str, np.ndarray]:
        """Per group: notional, close-now cost, time to exit (the longest: positions exit in
        parallel), horizon cost and sd (independent positions), the cost curve and its slope,
        and whether a synthetic book was used. Groups not costed hold zeros."""
        n, u, g = len(self.error), self.used, self.group
        add = lambda x: np.bincount(g[u], x[u], minlength=n)
        t = np.zeros(n)
        np.maximum.at(t, g[u], self.time_to_exit_hours[u])
        col = lambda m: np.column_stack([add(m[:, j]) for j in range(m.shape[1])]) if n else np.zeros((0, m.shape[1]))
        return {"notional": add(np.abs(self.size) * self.price), "close_now_cost": add(self.close_now_cost),
                "time_to_exit_hours": t, "horizon_cost": add(self.expected_cost[:, self.horizon]),
                "horizon_sd": np.sqrt(add(self.sd[:, self.horizon] ** 2)), "curve": col(self.expected_cost),
                "dcost_dhours": col(self.dcost_dhours), "synthetic": add(self.synthetic.astype(float)) > 0}

    def summary(self, k: int, totals: dict | None = None) -> ExitSummary:
        """Group ``k`` as an :class:`ExitSummary` (``k`` must be costed)."""
        tot = totals or self.totals()
        hours = self.hours.tolist()
        rows = []
        for r in np.nonzero(self.used & (self.group == k))[0]:
            notional = abs(self.size[r]) * self.price[r]
            rows.append({"symbol": self.symbol[r], "size": float(self.size[r]), "price": float(self.price[r]),
                         "notional": float(notional), "close_now_cost": float(self.close_now_cost[r]),
                         "close_now_bps": _bps(self.close_now_cost[r], notional),
                         "levels": int(self.levels[r]), "worst_price": float(self.worst_price[r]),
                         "unfilled": float(self.unfilled[r]), "time_to_exit_hours": float(self.time_to_exit_hours[r]),
                         "horizon_cost": float(self.expected_cost[r, self.horizon]),
                         "horizon_sd": float(self.sd[r, self.horizon]), "book_source": self.book_source[r]})
        return ExitSummary(float(tot["close_now_cost"][k]), _bps(tot["close_now_cost"][k], tot["notional"][k]),
                           float(tot["time_to_exit_hours"][k]), float(tot["horizon_cost"][k]),
                           float(tot["horizon_sd"][k]), "synthetic" if tot["synthetic"][k] else "snapshot",
                           dict(zip(hours, tot["curve"][k].tolist())),
                           dict(zip(hours, tot["dcost_dhours"][k].tolist())), rows)


def exit_costs(group, underlying, symbol, size, price, books: Mapping[str, OrderBook] | None,
               vols: Mapping[str, float], horizon_hours: float, participation: float, stress: float = 1.0,
               risk_aversion: float = 0.0, daily_volume: Mapping[str, float] | None = None,
               n_groups: int | None = None) -> ExitCosts:
    """Exit costs of positions given as arrays — ``group`` (int, e.g. the account), ``underlying``,
    ``symbol``, ``size`` (signed base units), ``price`` — on one book per underlying (``books``,
    else the synthetic book; ``vols`` annualised per underlying): now (book walk), over
    ``horizon_hours`` (Almgren-Chriss), time to exit at ``participation`` of the daily volume.
    One vectorised pass per underlying, whatever the number of groups.

    A group's ``error`` is that of its first position that cannot be costed (no vol, no book,
    no daily volume for its underlying, or a close-now order larger than the stressed book) or
    "no positions" when every size is 0. The synthetic book is the same at every mid in
    relative terms (levels at fixed relative distances, amounts in base units), so one book at
    mid 1 serves every price."""
    group, size, price = (np.asarray(group, np.int64), np.asarray(size, float), np.asarray(price, float))
    n = len(size)
    n_groups = (int(group.max()) + 1 if n else 0) if n_groups is None else n_groups
    volumes = {**DAILY_VOLUME, **(daily_volume or {})}
    hours = np.asarray(sorted(set(CURVE_HOURS) | {float(horizon_hours)}), float)
    nan = lambda *shape: np.full(shape or (n,), np.nan)
    now, worst, unfilled, t_exit = nan(), nan(), nan(), nan()
    levels, synthetic = np.zeros(n, np.int64), np.zeros(n, bool)
    e, sd, grad = nan(n, len(hours)), nan(n, len(hours)), nan(n, len(hours))
    sources = [""] * n
    und = np.asarray(underlying, dtype=object)
    cannot, stressed = {}, {}             # underlying -> why not (symbol -> message) | its stressed book
    bad = np.zeros(n, bool)
    for u in dict.fromkeys(und.tolist()):
        idx = np.nonzero(und == u)[0]
        found = _book_of(u, books, vols, volumes)
        if callable(found):
            cannot[u], bad[idx] = found, True
            continue
        book, synth = found
        sbook = stressed[u] = book.stressed(stress)
        walk = sbook.walk(-size[idx])
        scale = price[idx] / sbook.mid if synth else 1.0
        now[idx] = walk.slippage_cost * price[idx] / sbook.mid
        worst[idx], unfilled[idx], levels[idx] = walk.worst_price * scale, walk.unfilled, walk.levels
        t_exit[idx] = 24.0 * time_to_liquidate(size[idx], volumes[u], participation)
        e[idx], v, grad[idx] = _curve(size[idx], price[idx], vols[u], sbook, walk, volumes[u], hours, stress,
                                      1.0, risk_aversion)
        sd[idx], synthetic[idx] = np.sqrt(v), synth
        for r in idx:
            sources[r] = book.book_source
        bad[idx] = (size[idx] != 0) & (np.abs(walk.unfilled) > _FILL_TOL * np.abs(size[idx]))

    def why(r: int) -> str:
        if und[r] in cannot:
            return cannot[und[r]](symbol[r])
        side = stressed[und[r]].bids if size[r] > 0 else stressed[und[r]].asks
        return (f"{symbol[r]}: closing {abs(size[r]):g} needs more than the {'bid' if size[r] > 0 else 'ask'} "
                f"depth {side[:, 1].sum():g} of the {sources[r]} book (stress {stress:g}); "
                f"{abs(unfilled[r]):g} unfilled")

    first = np.full(n_groups, n)
    np.minimum.at(first, group[bad], np.nonzero(bad)[0])
    has = np.bincount(group[size != 0], minlength=n_groups) > 0
    error = [why(f) if f < n else (None if has[k] else "no positions") for k, f in enumerate(first.tolist())]
    return ExitCosts(hours, int(np.searchsorted(hours, float(horizon_hours))), group, list(symbol), size, price,
                     now, levels, worst, unfilled, t_exit, e, sd, grad, synthetic, sources, error)


def _book_of(u: str, books, vols, volumes):
    """(book, synthetic?) for underlying ``u``, or a function symbol -> message saying why its
    positions cannot be costed."""
    v = vols.get(u)
    if v is None:
        return lambda sym: f"{sym}: no vol for {u!r}"
    if books and u in books:
        book = books[u]
    else:
        try:
            book = synthetic_book(1.0, v, 1.0, u)
        except BookError as exc:
            return lambda sym, msg=str(exc): msg
    if u not in volumes:
        return lambda sym: f"{sym}: no daily volume for {u!r}; pass daily_volume"
    return book, book.book_source == "synthetic"


def exit_summary(positions: Iterable, books_or_none: OrderBook | Mapping[str, OrderBook] | None,
                 vol: float | Mapping[str, float], horizon_hours: float, participation: float,
                 stress: float = 1.0, risk_aversion: float = 0.0,
                 daily_volume: Mapping[str, float] | None = None) -> ExitSummary:
    """Exit cost of ``positions`` ((symbol, size, price) triples) as one group of
    :func:`exit_costs`. ``vol``: annualised, one for all positions or a mapping underlying -> vol.
    ``books_or_none``: None (synthetic books), one OrderBook (all positions must share one
    underlying) or a mapping underlying -> OrderBook.

    Positions of size 0 are skipped (nothing to close). Raises :class:`BookError` (one line:
    symbol, unfilled amount, book depth) when a close-now order is larger than its stressed
    book: the cost of the part beyond the visible depth is unknown and is never assumed."""
    check_exit_settings(vol, horizon_hours, participation, stress)
    positions = list(positions)
    unds = [underlying_of(sym) for sym, _, _ in positions]
    vols = vol if isinstance(vol, Mapping) else {u: vol for u in unds}
    books = {u: books_or_none for u in unds} if isinstance(books_or_none, OrderBook) else books_or_none
    costs = exit_costs(np.zeros(len(positions), np.int64), unds, [p[0] for p in positions],
                       [p[1] for p in positions], [p[2] for p in positions], books, vols, horizon_hours,
                       participation, stress, risk_aversion, daily_volume, n_groups=1)
    if costs.error[0] is not None:
        raise BookError(costs.error[0])
    return costs.summary(0)


def check_exit_settings(vol, horizon_hours: float, participation: float, stress: float) -> None:
    """BookError unless every vol > 0, horizon > 0, 0 < participation <= 1 and stress > 0."""
    vols = list(vol.values()) if isinstance(vol, Mapping) else [vol]
    if not (all(v > 0 for v in vols) and horizon_hours > 0 and 0 < participation <= 1 and stress > 0):
        raise BookError("need vol > 0, horizon > 0, 0 < participation <= 1, stress > 0")


def _bps(cost: float, notional: float) -> float:
    """``cost`` in basis points of ``notional``; NaN (shown as "-", null in JSON) for a zero
    notional, without NumPy's division warning on the user's terminal."""
    return float(1e4 * cost / notional) if notional != 0 else math.nan
