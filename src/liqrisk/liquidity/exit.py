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
    x = np.abs(size)[:, None]
    x_safe = np.where(x > 0, x, 1.0)
    walk = stressed.walk(-size)
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
    immediate = (hours[None, :] == 0) | (x == 0)
    e = np.where(immediate, now[:, None], e)
    v = np.where(immediate, 0.0, v)
    e, v = np.where(beyond, np.nan, e), np.where(beyond, np.nan, v)
    grad = np.gradient(e, hours, axis=1) if len(hours) > 1 else np.zeros_like(e)
    return ExitCurve(hours, e, np.sqrt(v), grad, book.book_source)


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


def exit_summary(positions: Iterable, books_or_none: OrderBook | Mapping[str, OrderBook] | None,
                 vol: float | Mapping[str, float], horizon_hours: float, participation: float,
                 stress: float = 1.0, risk_aversion: float = 0.0,
                 daily_volume: Mapping[str, float] | None = None) -> ExitSummary:
    """Exit cost of ``positions`` ((symbol, size, price) triples): now (book walk), over
    ``horizon_hours`` (Almgren-Chriss), time to exit at ``participation`` of daily volume.
    ``vol``: annualised, one for all positions or a mapping underlying -> vol.

    ``books_or_none``: None (synthetic books), one OrderBook (all positions must share one
    underlying) or a mapping underlying -> OrderBook.

    Positions of size 0 are skipped (nothing to close). Raises :class:`BookError` (one line:
    symbol, unfilled amount, book depth) when a close-now order is larger than its stressed
    book: the cost of the part beyond the visible depth is unknown and is never assumed."""
    vols = vol if isinstance(vol, Mapping) else None
    if not ((all(v > 0 for v in vols.values()) if vols else vol > 0) and horizon_hours > 0
            and 0 < participation <= 1 and stress > 0):
        raise BookError("need vol > 0, horizon > 0, 0 < participation <= 1, stress > 0")
    volumes = {**DAILY_VOLUME, **(daily_volume or {})}
    rows, curves = [], []
    hours = sorted(set(CURVE_HOURS) | {float(horizon_hours)})
    for symbol, size, price in positions:
        und = underlying_of(symbol)
        v = vols.get(und) if vols else vol
        if v is None:
            raise BookError(f"{symbol}: no vol for {und!r}")
        book = _book_for(und, books_or_none, price, v)
        if und not in volumes:
            raise BookError(f"{symbol}: no daily volume for {und!r}; pass daily_volume")
        if size == 0:
            continue
        sbook = book.stressed(stress)
        walk = sbook.walk(-size)
        if abs(float(walk.unfilled[()])) > _FILL_TOL * abs(size):
            side = sbook.bids if size > 0 else sbook.asks
            raise BookError(f"{symbol}: closing {abs(size):g} needs more than the "
                            f"{'bid' if size > 0 else 'ask'} depth {side[:, 1].sum():g} of the "
                            f"{book.book_source} book (stress {stress:g}); "
                            f"{abs(float(walk.unfilled[()])):g} unfilled")
        curve = exit_cost_curve(size, price, v, book, volumes[und], hours, stress, risk_aversion=risk_aversion)
        h = hours.index(float(horizon_hours))
        now = float(curve.expected_cost[0, 0])
        rows.append({"symbol": symbol, "size": size, "price": price, "notional": abs(size) * price,
                     "close_now_cost": now, "close_now_bps": 1e4 * now / (abs(size) * price),
                     "levels": int(walk.levels[()]), "worst_price": float(walk.worst_price[()]),
                     "unfilled": float(walk.unfilled[()]),
                     "time_to_exit_hours": 24.0 * float(time_to_liquidate(size, volumes[und], participation)),
                     "horizon_cost": float(curve.expected_cost[0, h]), "horizon_sd": float(curve.sd[0, h]),
                     "book_source": book.book_source})
        curves.append(curve)
    if not rows:
        raise BookError("no positions")
    total_e = np.sum([c.expected_cost[0] for c in curves], axis=0)
    total_g = np.sum([c.dcost_dhours[0] for c in curves], axis=0)
    notional = sum(r["notional"] for r in rows)
    now = sum(r["close_now_cost"] for r in rows)
    return ExitSummary(now, 1e4 * now / notional, max(r["time_to_exit_hours"] for r in rows),
                       sum(r["horizon_cost"] for r in rows), float(np.sqrt(sum(r["horizon_sd"] ** 2 for r in rows))),
                       "synthetic" if any(r["book_source"] == "synthetic" for r in rows) else "snapshot",
                       dict(zip(hours, total_e.tolist())), dict(zip(hours, total_g.tolist())), rows)


def _book_for(und: str, books, price: float, vol: float) -> OrderBook:
    if books is None:
        return synthetic_book(price, vol, 1.0, und)
    if isinstance(books, OrderBook):
        return books
    return books[und] if und in books else synthetic_book(price, vol, 1.0, und)
