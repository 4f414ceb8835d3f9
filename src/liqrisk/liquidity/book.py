"""L2 order books: loading, validation and the vectorised book walk.

An order is signed: ``+q`` buys ``q`` base units (lifts the asks), ``-q`` sells (hits the bids).
Prices are in the quote currency, amounts in base units. The walk never invents liquidity: an
order larger than the visible side is reported as ``filled`` + ``unfilled``.
"""
from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

_SIDES = {"bid": "bids", "bids": "bids", "buy": "bids", "ask": "asks", "asks": "asks", "sell": "asks"}


class BookError(ValueError):
    """An order book that cannot be used; the message names the file and the level."""


@dataclass(frozen=True)
class WalkResult:
    """Market orders walked through one book (arrays, one entry per order).

    ``slippage_bps`` and ``slippage_cost`` are measured against the mid on the filled part:
    cost = |filled| * |avg_price - mid| in quote currency (always >= 0 for a valid book).
    """

    order: np.ndarray
    filled: np.ndarray
    unfilled: np.ndarray
    avg_price: np.ndarray
    worst_price: np.ndarray
    levels: np.ndarray
    slippage_bps: np.ndarray
    slippage_cost: np.ndarray
    mid: float
    book_source: str

    def to_dict(self) -> dict:
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class OrderBook:
    """One L2 snapshot. ``bids`` descending and ``asks`` ascending, shape (n, 2): price, amount."""

    bids: np.ndarray
    asks: np.ndarray
    timestamp: int | None = None
    book_source: str = "snapshot"
    name: str = "<book>"

    def __post_init__(self) -> None:
        object.__setattr__(self, "bids", _levels(self.bids, "bids", self.name))
        object.__setattr__(self, "asks", _levels(self.asks, "asks", self.name))
        if self.bids[0, 0] >= self.asks[0, 0]:
            raise BookError(f"{self.name}: crossed book, best bid {self.bids[0, 0]:g} "
                            f">= best ask {self.asks[0, 0]:g}")

    @property
    def mid(self) -> float:
        return 0.5 * (self.bids[0, 0] + self.asks[0, 0])

    @property
    def spread(self) -> float:
        """Relative quoted spread (ask - bid) / mid."""
        return (self.asks[0, 0] - self.bids[0, 0]) / self.mid

    def walk(self, order) -> WalkResult:
        """Walk market orders (signed base units, scalar or array) through the book.

        Uses cumulative amounts and notionals per side and ``np.searchsorted``: O(log n) per order.
        """
        order = np.asarray(order, dtype=float)
        q = np.abs(order)
        buy = order > 0
        out = [np.empty_like(q) for _ in range(5)]
        for side, mask in ((self.asks, buy), (self.bids, ~buy)):
            for arr, val in zip(out, _walk_side(side[:, 0], side[:, 1], q[mask])):
                arr[mask] = val
        filled, notional, worst, levels, touch = out
        avg = np.where(filled > 0, notional / np.where(filled > 0, filled, 1.0), touch)
        slip = np.abs(avg - self.mid)
        return WalkResult(order=order, filled=np.copysign(filled, order),
                          unfilled=np.copysign(q - filled, order), avg_price=avg,
                          worst_price=np.where(filled > 0, worst, touch), levels=levels.astype(int),
                          slippage_bps=1e4 * slip / self.mid, slippage_cost=slip * filled,
                          mid=float(self.mid), book_source=self.book_source)

    def slippage(self, order, price=None) -> np.ndarray:
        """Average shortfall of the fill as a fraction of the mid (the filled part)."""
        return self.walk(order).slippage_bps * 1e-4

    def cost(self, order, price=None) -> np.ndarray:
        """Quote-currency cost vs mid of the filled part, rescaled to ``price`` if given."""
        walk = self.walk(order)
        scale = 1.0 if price is None else np.asarray(price, dtype=float) / self.mid
        return walk.slippage_cost * scale

    def stressed(self, stress: float) -> OrderBook:
        """Spread times ``stress``; every level keeps its distance from the touch and its amount
        is divided by ``stress`` (so depth within any distance beyond the touch falls 1/stress)."""
        if not stress > 0:
            raise BookError(f"{self.name}: stress must be > 0, got {stress}")
        if stress == 1.0:
            return self
        half = 0.5 * (self.asks[0, 0] - self.bids[0, 0]) * (stress - 1.0)
        bids = np.column_stack([self.bids[:, 0] - half, self.bids[:, 1] / stress])
        asks = np.column_stack([self.asks[:, 0] + half, self.asks[:, 1] / stress])
        return OrderBook(bids, asks, self.timestamp, self.book_source, self.name)


def _walk_side(prices: np.ndarray, amounts: np.ndarray, q: np.ndarray):
    """Filled amount, notional, worst price, levels touched, touch price for sizes q >= 0."""
    cum_amt = np.concatenate([[0.0], np.cumsum(amounts)])
    cum_not = np.concatenate([[0.0], np.cumsum(prices * amounts)])
    filled = np.minimum(q, cum_amt[-1])
    k = np.minimum(np.searchsorted(cum_amt, filled, side="left"), len(prices))  # level index + 1
    k = np.maximum(k, 1)
    notional = cum_not[k - 1] + (filled - cum_amt[k - 1]) * prices[k - 1]
    levels = np.where(filled > 0, k, 0)
    return filled, notional, prices[k - 1], levels, np.full_like(q, prices[0])


def _levels(raw, side: str, name: str) -> np.ndarray:
    """Validated (n, 2) float array of [price, amount] levels. Arrays (the synthetic books) are
    checked vectorised; decoded JSON/CSV levels one by one (bool and text are not numbers)."""
    if isinstance(raw, np.ndarray) and raw.dtype.kind == "f" and raw.ndim == 2 and raw.shape[1] == 2:
        arr = raw.copy()
    else:
        try:
            if isinstance(raw, (str, bytes, dict)) or any(not isinstance(lv, (list, tuple)) or len(lv) < 2
                                                          for lv in raw):
                raise TypeError("each level is a [price, amount] pair")
            arr = np.array([[_number(lv[0]), _number(lv[1])] for lv in raw], dtype=float).reshape(-1, 2)
        except (TypeError, ValueError, IndexError, OverflowError) as exc:
            raise BookError(f"{name}: {side} levels must be [price, amount] numbers ({exc})") from None
    if len(arr) == 0:
        raise BookError(f"{name}: no {side}")
    bad = ~np.isfinite(arr).all(axis=1) | (arr <= 0).any(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        raise BookError(f"{name}: {side}[{i}] = {arr[i].tolist()} must be finite and > 0")
    step = np.diff(arr[:, 0]) * (-1 if side == "bids" else 1)
    if (step <= 0).any():
        i = int(np.argmax(step <= 0)) + 1
        order = "descending" if side == "bids" else "ascending"
        raise BookError(f"{name}: {side}[{i}] price {arr[i, 0]:g} breaks strictly {order} order")
    arr.setflags(write=False)
    return arr


def _number(x) -> float:
    """A level's price or amount: a number or numeric text (ccxt gives both), never a bool."""
    if isinstance(x, bool) or not isinstance(x, (int, float, str)):
        raise TypeError(f"{x!r} is not a number")
    return float(x)


def book_from_ccxt(snapshot: dict, name: str = "<book>", book_source: str = "snapshot") -> OrderBook:
    """Book from ccxt's ``fetch_order_book`` shape ``{"bids": [[p, a], ...], "asks": ..., "timestamp"}``."""
    if not isinstance(snapshot, dict) or "bids" not in snapshot or "asks" not in snapshot:
        raise BookError(f"{name}: expected an object with 'bids' and 'asks'")
    return OrderBook(snapshot["bids"], snapshot["asks"], snapshot.get("timestamp"), book_source, name)


def load_book(path: str | Path) -> OrderBook:
    """Load a ccxt-shaped JSON snapshot or a CSV with columns ``side,price,amount``."""
    from liqrisk.io.documents import DocumentError, parse_document, read_text
    path = Path(path)
    try:
        text = read_text(path, "order book")
        if path.suffix.lower() == ".csv":
            return _book_from_csv(text, str(path))
        snapshot = parse_document(text, "json", str(path))
    except DocumentError as exc:
        raise BookError(str(exc)) from None
    return book_from_ccxt(snapshot, str(path))


def _book_from_csv(text: str, name: str) -> OrderBook:
    rows = list(csv.DictReader(text.splitlines()))
    if not rows or not {"side", "price", "amount"} <= set(k for k in rows[0] if isinstance(k, str)):
        raise BookError(f"{name}: CSV needs columns side,price,amount")
    sides: dict[str, list] = {"bids": [], "asks": []}
    for line, row in enumerate(rows, start=2):
        side = _SIDES.get((row["side"] if isinstance(row["side"], str) else "").strip().lower())
        if side is None:
            raise BookError(f"{name}: line {line}: side {row['side']!r} is not bid or ask")
        try:
            sides[side].append([float(row["price"]), float(row["amount"])])
        except (TypeError, ValueError):
            raise BookError(f"{name}: line {line}: price/amount not numbers") from None
    return OrderBook(sides["bids"], sides["asks"], None, "snapshot", name)


MAX_MID_DISTANCE = 0.10   # a book whose mid is further than 10 % from the mark is another market's


def check_book_mid(book: OrderBook, underlying: str, mark: float) -> OrderBook:
    """``book`` if its mid is within MAX_MID_DISTANCE of ``underlying``'s mark, else BookError
    (e.g. an ETH book given for a BTC exit would cost the wrong market)."""
    if abs(book.mid / mark - 1) > MAX_MID_DISTANCE:
        raise BookError(f"{book.name}: mid {book.mid:,.6g} is {100 * (book.mid / mark - 1):+.1f}% from the "
                        f"{underlying} mark {mark:,.6g}; is it a book of another market? (tolerance "
                        f"{100 * MAX_MID_DISTANCE:g}%)")
    return book
