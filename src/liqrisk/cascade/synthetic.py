"""Seeded synthetic venue populations (BTC and ETH linear perps).

Default parameters and what they rest on — order-of-magnitude public figures, stated as
assumptions, not data shipped with liqrisk:

* ``open_interest_usd`` BTC 10bn, ETH 5bn for a 1M-account venue: CoinGlass's open-interest
  dashboard put aggregate BTC perp OI at roughly $30–40bn through 2024 (higher in 2025), with
  Binance the largest venue at about a quarter to a third of it; ETH perp OI about half of BTC's.
* ``leverage_median`` 10×, ``leverage_sigma`` 0.6 (log-normal, clipped to 0.8 × the tier's
  maximum): exchanges do not publish per-account leverage; retail perp leverage of 10–20× is
  the commonly reported range (exchange research notes, e.g. Binance Research), and venue-wide
  "estimated leverage ratio" (OI ÷ exchange reserves, CryptoQuant) is far lower because most
  collateral sits unused — hence the wide log-normal with a 10× median.
* ``long_share`` 0.55: Binance's public top-trader / global long-short account ratio
  (``/futures/data/globalLongShortAccountRatio``) usually sits between 1.0 and 1.5.
* ``size_tail`` 1.5: Pareto tail index of position notionals (heavy-tailed trade and position
  sizes, Gabaix et al. 2003 report ≈ 1.5 for trade sizes).
* ``share_cross`` 0.7, ``share_both`` 0.2 (of cross accounts hold BTC and ETH),
  ``entry_dispersion`` 0.05 (log-sd of entry vs current mark), ``same_side_both`` 0.7: assumptions.

Every account starts healthy: margin balance = notional/leverage at the current mark.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from liqrisk.cascade.book import Population, book_from_rows
from liqrisk.margin.registry import rule_set_for


@dataclass(frozen=True)
class SyntheticSpec:
    """Parameters of :func:`synthetic_population` (see the module docstring for sources)."""

    n_accounts: int = 1_000_000
    seed: int = 0
    prices: dict = field(default_factory=lambda: {"BTC": 91_250.0, "ETH": 3_050.0})
    open_interest_usd: dict = field(default_factory=lambda: {"BTC": 1.0e10, "ETH": 5.0e9})
    reference_accounts: int = 1_000_000   # OI above is for this many accounts; scaled linearly
    btc_share: float = 0.65               # accounts whose (first) position is BTC
    venue_shares: dict = field(default_factory=lambda: {"binance-usdm": 1.0})
    leverage_median: float = 10.0
    leverage_sigma: float = 0.6
    long_share: float = 0.55
    size_tail: float = 1.5
    max_position_share: float = 0.01      # cap of one position, fraction of the asset's OI
    share_cross: float = 0.7
    share_both: float = 0.2
    same_side_both: float = 0.7
    entry_dispersion: float = 0.05
    free_balance: float = 0.5             # isolated accounts' unassigned balance ÷ their margin

    @classmethod
    def from_dict(cls, d: dict) -> "SyntheticSpec":
        """The scenario's ``population.synthetic`` block, every parameter checked (ScenarioError)."""
        from liqrisk.cascade.scenario import ScenarioError, _num
        from liqrisk.cascade.population import TABLE_VENUES as VENUE_NAMES
        from liqrisk.io import limits
        where = "population.synthetic"
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ScenarioError(f"{where}.{sorted(map(str, unknown))[0]}", "unknown parameter")
        lim = limits.current()
        out = {}
        for key, (lo, hi) in _RANGES.items():
            if key in d:
                out[key] = _num(d, key, where, lo=lo, hi=hi)
        for key in ("n_accounts", "seed", "reference_accounts"):
            if key in out and out[key] != int(out[key]):
                raise ScenarioError(f"{where}.{key}", f"must be a whole number, got {out[key]:g}")
            if key in out:
                out[key] = int(out[key])
        n = out.get("n_accounts", cls.n_accounts)
        if n > lim.max_population:
            raise ScenarioError(f"{where}.n_accounts", lim.exceeded("max_population", f"{n:,}"))
        for key, keys in (("prices", ASSETS), ("open_interest_usd", ASSETS), ("venue_shares", None)):
            if key not in d:
                continue
            block = d[key]
            if not isinstance(block, dict):
                raise ScenarioError(f"{where}.{key}", "must be a mapping")
            needed = keys or [v for v in block]
            missing = [a for a in needed if a not in block]
            if missing:
                hint = (" (the synthetic venue holds BTC and ETH perps: list both under the scenario's "
                        "'assets', or give population.synthetic.prices)") if key == "prices" else ""
                raise ScenarioError(f"{where}.{key}", f"needs {', '.join(missing)}{hint}")
            if key == "venue_shares":
                bad = [v for v in block if v not in VENUE_NAMES]
                if bad or not block:
                    raise ScenarioError(f"{where}.venue_shares", f"unknown venue {bad[0] if bad else '(none given)'} "
                                        f"(known: {', '.join(VENUE_NAMES)})")
            out[key] = {a: _num(block, a, f"{where}.{key}", lo=0.0 if key == "venue_shares" else 1e-12, hi=1e15)
                        for a in needed}
            if key == "venue_shares" and not sum(out[key].values()) > 0:
                raise ScenarioError(f"{where}.venue_shares", "shares must add up to more than 0")
        return cls(**out)


ASSETS = ("BTC", "ETH")
_RANGES = {  # parameter → allowed [lo, hi]
    "n_accounts": (1, 1e9), "seed": (0, 2 ** 63 - 1), "reference_accounts": (1, 1e12),
    "btc_share": (0, 1), "leverage_median": (1, 1000), "leverage_sigma": (0, 5), "long_share": (0, 1),
    "size_tail": (1.01, 10), "max_position_share": (1e-9, 1), "share_cross": (0, 1), "share_both": (0, 1),
    "same_side_both": (0, 1), "entry_dispersion": (0, 2), "free_balance": (0, 1e3)}


def synthetic_population(spec: SyntheticSpec = SyntheticSpec()) -> Population:
    """Draw a population (PCG64 seeded by ``spec.seed``); assets BTC, ETH."""
    rng = np.random.Generator(np.random.PCG64(spec.seed))
    n = spec.n_accounts
    assets = ("BTC", "ETH")
    venues = tuple(spec.venue_shares)
    p = np.array([spec.venue_shares[v] for v in venues], float)
    venue = rng.choice(len(venues), size=n, p=p / p.sum()).astype(np.int64)
    cross = rng.random(n) < spec.share_cross
    both = cross & (rng.random(n) < spec.share_both)
    first = np.where(rng.random(n) < spec.btc_share, 0, 1)
    long_first = rng.random(n) < spec.long_share
    acc = np.concatenate([np.arange(n), np.flatnonzero(both)])
    asset = np.concatenate([first, 1 - first[both]])
    same = rng.random(both.sum()) < spec.same_side_both
    side = np.where(np.concatenate([long_first, np.where(same, long_first[both], ~long_first[both])]), 1.0, -1.0)
    m = len(acc)
    scale = n / spec.reference_accounts
    notional = np.empty(m)
    price = np.array([spec.prices[a] for a in assets])[asset]
    for i, a in enumerate(assets):
        sel = asset == i
        mean = spec.open_interest_usd[a] * scale / max(sel.sum(), 1)
        xm = mean * (spec.size_tail - 1.0) / spec.size_tail
        cap = spec.max_position_share * spec.open_interest_usd[a] * scale
        notional[sel] = np.minimum(xm * (1.0 + rng.pareto(spec.size_tail, sel.sum())), cap)
    max_lev = np.ones(m)
    for v, name in enumerate(venues):
        rules = rule_set_for(name)
        for i, a in enumerate(assets):
            sel = (venue[acc] == v) & (asset == i)
            if sel.any():
                table = rules.tier_table(SimpleNamespace(mmr=None, cum=None, symbol=None, underlying=a,
                                                         kind="perp", contract=None))
                max_lev[sel] = table.max_leverage_at(notional[sel])
    lev = np.clip(spec.leverage_median * np.exp(spec.leverage_sigma * rng.standard_normal(m)),
                  1.0, 0.8 * max_lev)
    entry = price * np.exp(spec.entry_dispersion * rng.standard_normal(m))
    size = side * notional / price
    margin = notional / lev
    upnl = size * (price - entry)
    iso = ~cross[acc]
    iso_margin = np.where(iso, np.maximum(margin - upnl, 0.1 * margin), 0.0)
    cross_wallet = np.bincount(acc, np.where(iso, 0.0, margin - upnl), minlength=n)
    cross_margin = np.bincount(acc, np.where(iso, 0.0, margin), minlength=n)
    iso_total = np.bincount(acc, np.where(iso, margin, 0.0), minlength=n)
    collateral = np.where(cross, np.maximum(cross_wallet, 0.1 * cross_margin), spec.free_balance * iso_total)
    return book_from_rows(np.arange(n, dtype=np.int64), venues, venue, ~cross, collateral, acc, assets, asset,
                          size, entry, iso_margin)
