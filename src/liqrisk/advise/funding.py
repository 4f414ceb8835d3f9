"""Perpetual funding: the venue formulas, funding models per perp, and the schedule as arrays a
kernel can consume.

Venue formulas (published rule pages, in force 2026):

* premium index ``P = [max(0, impact_bid − index) − max(0, index − impact_ask)] / index``;
* funding rate per interval ``F = P̄ + clamp(I − P̄, −0.05%, +0.05%)`` on the mean premium
  ``P̄`` of the interval (Binance USDⓈ-M and Bybit: weights 1, 2, …, n on the samples, the
  latest weighing most; Hyperliquid: the plain mean), ``I`` the interest rate per interval
  (0.01% per 8 h), capped per contract;
* payment ``size × price × rate`` at each funding time (a long pays a positive rate), on the
  mark price (Binance, Bybit) or the oracle price (Hyperliquid). Binance and Bybit settle every
  8 h (00/08/16 UTC; some contracts 4/2/1 h); Hyperliquid computes the 8-hour rate and pays F/8
  every hour, capped at 4% per hour.

Funding is settled into the wallet (cross) or the position's isolated margin, so it moves the
liquidation price of a perp held for days: an isolated long that has paid ``C`` has margin
``M − C``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from liqrisk.io.portfolio import InputError

YEAR_HOURS = 365.0 * 24.0
CLAMP = 0.0005            # ±0.05% per 8 h around the interest rate
INTEREST_8H = 0.0001      # 0.01% per 8 h


@dataclass(frozen=True)
class VenueFunding:
    """How one venue computes and pays funding (module docstring)."""

    interval_hours: float = 8.0        # how often it is paid
    rate_hours: float = 8.0            # the period the formula's F refers to
    interest: float = INTEREST_8H      # I per ``rate_hours``
    clamp: float = CLAMP
    cap: float | None = None           # |rate| cap per payment
    weighting: str = "linear"          # mean premium: "linear" (1…n) or "equal"
    price: str = "mark"                # the price a payment is made on: mark | oracle


VENUE_FUNDING = {
    "binance-usdm": VenueFunding(),
    "binance-coinm": VenueFunding(),
    "bybit-linear": VenueFunding(),
    "bybit-inverse": VenueFunding(),
    "hyperliquid": VenueFunding(interval_hours=1.0, cap=0.04, weighting="equal", price="oracle"),
}


def premium_index(impact_bid, impact_ask, index):
    """Premium index of a perp: how far the impact prices lie outside the index, per unit of index."""
    impact_bid, impact_ask, index = (np.asarray(x, float) for x in (impact_bid, impact_ask, index))
    return (np.maximum(0.0, impact_bid - index) - np.maximum(0.0, index - impact_ask)) / index


def mean_premium(samples, weighting: str = "linear") -> float:
    """Mean of the premium samples of one interval: weights 1…n (Binance, Bybit) or equal."""
    s = np.asarray(samples, float).ravel()
    if s.size == 0:
        raise ValueError("no premium samples")
    w = np.arange(1, s.size + 1, dtype=float) if weighting == "linear" else np.ones(s.size)
    return float(np.dot(w, s) / w.sum())


def funding_rate(premium: float, venue: VenueFunding = VenueFunding()) -> float:
    """Rate per payment from the mean premium of the formula's period:
    ``F = P̄ + clamp(I − P̄, −c, c)``, scaled to the payment interval, then capped."""
    f = premium + min(max(venue.interest - premium, -venue.clamp), venue.clamp)
    f *= venue.interval_hours / venue.rate_hours
    if venue.cap is not None:
        f = min(max(f, -venue.cap), venue.cap)
    return float(f)


def funding_payment(size: float, price: float, rate: float) -> float:
    """What a position pays at one funding time (negative: receives); ``size`` signed in base
    units, ``price`` the venue's payment price (USD)."""
    return float(size * price * rate)


@dataclass(frozen=True)
class FundingModel:
    """Funding of one perp: a rate per payment for successive funding times (the last one is
    held), paid every ``interval_hours`` from ``first`` (hours after the snapshot)."""

    rates: tuple[float, ...]
    interval_hours: float = 8.0
    first_hours: float = 8.0
    source: str = "constant"

    @classmethod
    def constant(cls, rate: float, interval_hours: float = 8.0, as_of: datetime | None = None
                 ) -> "FundingModel":
        """A constant rate per interval; funding times on the UTC grid (00/08/16 for 8 h)."""
        return cls((float(rate),), interval_hours, next_funding_hours(as_of, interval_hours), "constant")

    @classmethod
    def from_premium(cls, impact_bid: float, impact_ask: float, index: float, venue: str,
                     as_of: datetime | None = None) -> "FundingModel":
        """The venue's formula on a basis input (impact prices vs index), held constant."""
        v = VENUE_FUNDING.get(venue, VenueFunding())
        rate = funding_rate(float(premium_index(impact_bid, impact_ask, index)), v)
        return cls((rate,), v.interval_hours, next_funding_hours(as_of, v.interval_hours), f"premium ({venue})")

    @classmethod
    def from_csv(cls, path: str | Path, as_of: datetime | None = None) -> "FundingModel":
        """A historical series: CSV with ``timestamp,rate`` (rate per payment, decimal), replayed
        from its first row at the next funding time after ``as_of``."""
        import pandas as pd
        try:
            df = pd.read_csv(path)
        except (OSError, ValueError) as e:
            raise InputError([f"funding file {path}: cannot read ({e})"]) from None
        if "rate" not in df.columns or len(df) == 0:
            raise InputError([f"funding file {path}: needs a 'rate' column (and 'timestamp') with rows"])
        rates = pd.to_numeric(df["rate"], errors="coerce").to_numpy()
        bad = np.flatnonzero(~np.isfinite(rates) | (np.abs(rates) >= 0.1))
        if bad.size:
            raise InputError([f"funding file {path}, row {bad[0] + 2}, column 'rate': "
                              f"expected a decimal rate per interval (|rate| < 10%)"])
        interval = 8.0
        if "timestamp" in df.columns and len(df) > 1:
            ts = pd.to_datetime(df["timestamp"], utc=True)
            interval = float(np.median(np.diff(ts.to_numpy()).astype("timedelta64[s]").astype(float))) / 3600
        return cls(tuple(float(r) for r in rates), interval, next_funding_hours(as_of, interval), f"csv {path}")

    def cumulative(self, hours: float) -> float:
        """Sum of the rates paid within ``hours`` after the snapshot (per unit of notional)."""
        n = 0 if hours < self.first_hours else int(math.floor((hours - self.first_hours) / self.interval_hours + 1e-9)) + 1
        r = np.asarray(self.rates)
        if n <= len(r):
            return float(r[:n].sum())
        return float(r.sum() + (n - len(r)) * r[-1])


def next_funding_hours(as_of: datetime | None, interval_hours: float) -> float:
    """Hours from ``as_of`` to the next funding time on the UTC grid of ``interval_hours``
    (a full interval when ``as_of`` is on the grid or not given)."""
    if as_of is None:
        return interval_hours
    t = as_of.astimezone(timezone.utc)
    h = t.hour + t.minute / 60 + t.second / 3600
    left = interval_hours - math.fmod(h, interval_hours)
    return left if left > 1e-9 else interval_hours


@dataclass
class FundingSchedule:
    """Funding of every position as kernel arrays (struct-of-arrays; zero rates for non-perps):
    ``rate[i, k]`` the rate of position ``i``'s k-th payment (the last column held),
    ``interval`` and ``first`` in years after the snapshot."""

    rate: np.ndarray
    interval: np.ndarray
    first: np.ndarray
    models: list = field(default_factory=list)

    @classmethod
    def of(cls, models: list[FundingModel | None]) -> "FundingSchedule":
        width = max([len(m.rates) for m in models if m is not None] or [1])
        rate = np.zeros((len(models), width))
        interval = np.full(len(models), np.inf)
        first = np.full(len(models), np.inf)
        for i, m in enumerate(models):
            if m is None:
                continue
            r = np.asarray(m.rates, float)
            rate[i, :len(r)] = r
            rate[i, len(r):] = r[-1]
            interval[i] = m.interval_hours / YEAR_HOURS
            first[i] = m.first_hours / YEAR_HOURS
        return cls(rate, interval, first, list(models))

    def zero(self) -> "FundingSchedule":
        """The same positions paying nothing (a run with it uses the estimators of a run with
        funding: no importance sampling)."""
        return FundingSchedule.of([None] * len(self.models))

    def pays(self, plan) -> bool:
        """Whether a position of the account ``plan`` (rows of the compiled book) pays funding."""
        return any(row >= 0 and math.isfinite(self.first[row]) for row in plan.position_rows)

    def per_step(self, dt: float, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
        """(row, rate): ``row[i]`` the row of position ``i`` in ``rate`` (−1: no funding) and
        ``rate[row, k]`` the sum of its rates at the funding times in step k's interval
        ((k−1)·dt, k·dt] of a simulation of ``n_steps`` steps of ``dt`` years (what the Monte
        Carlo kernel pays at step k, on the step's price)."""
        funded = np.flatnonzero(np.isfinite(self.first))
        row = np.full(len(self.first), -1, np.int64)
        row[funded] = np.arange(len(funded))
        out = np.zeros((max(len(funded), 1), n_steps + 1))
        horizon = n_steps * dt
        for j, i in enumerate(funded):
            count = int(math.floor((horizon - self.first[i]) / self.interval[i] * (1 + 1e-12) + 1e-9)) + 1
            if count <= 0:
                continue
            m = np.arange(count)
            k = np.clip(np.ceil((self.first[i] + m * self.interval[i]) / dt - 1e-9).astype(np.int64), 1, n_steps)
            np.add.at(out[j], k, self.rate[i, np.minimum(m, self.rate.shape[1] - 1)])
        return row, out


def model_of(spec, venue: str, as_of: datetime | None, index: float | None) -> FundingModel:
    """The funding model of a market block's ``funding`` entry for a perp on ``venue``: a number
    (rate per 8 h, paid at the venue's interval), ``{"csv": path}`` (a historical series) or
    ``{"impact_bid": …, "impact_ask": …}`` (the venue's premium formula against ``index``)."""
    v = VENUE_FUNDING.get(venue, VenueFunding())
    if isinstance(spec, (int, float)):
        return FundingModel.constant(float(spec) * v.interval_hours / 8.0, v.interval_hours, as_of)
    if spec.get("csv"):
        return FundingModel.from_csv(spec["csv"], as_of)
    return FundingModel.from_premium(spec["impact_bid"], spec["impact_ask"], spec.get("index") or index, venue, as_of)


def book_schedule(cp) -> FundingSchedule | None:
    """Funding of every perp of a compiled portfolio whose underlying has a ``funding`` entry in
    the market (rows of the compiled book), None when no position pays funding."""
    market = cp.portfolio.market
    funding = market.funding
    if not funding:
        return None
    models: list[FundingModel | None] = [None] * len(cp.arrays.qty)
    for plan in cp.plans:
        for pos, row in zip(plan.account.positions, plan.position_rows):
            und = plan.rules.underlying_of(pos)
            if pos.kind == "perp" and row >= 0 and und in funding:
                q = market.quotes.get(und)
                index = None if q is None else (q.index or q.mark)
                models[row] = model_of(funding[und], plan.rules.name, market.as_of, index)
    return FundingSchedule.of(models) if any(m is not None for m in models) else None


def funding_block(schedule: FundingSchedule, plan, with_funding, without, horizons: dict) -> dict:
    """The ``funding`` block of an account's result: each paying perp's model, and per horizon
    (name → years) P(liquidation) with and without funding on the same paths and what funding
    adds (``added`` = with − without)."""
    models = {pos.symbol or plan.rules.underlying_of(pos): schedule.models[row].source
              for pos, row in zip(plan.account.positions, plan.position_rows)
              if row >= 0 and schedule.models[row] is not None}
    rows = {}
    for h, y in horizons.items():
        p, q = with_funding.probabilities[y].p, without.probabilities[y].p
        rows[h] = {"p": p, "p_without_funding": q, "added": p - q}
    return {"models": models, "by_horizon": rows}
