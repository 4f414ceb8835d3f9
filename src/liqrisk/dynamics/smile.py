"""Implied volatility models built from the market block of an input file.

All models share ``vol(strike, T, forward=None) -> ndarray``: annualised implied vol (decimal)
for strikes in the quote currency and times to expiry ``T`` in years (ACT/365); arguments
broadcast like NumPy.

* ``FlatVol``    -- one number.
* ``TermVol``    -- ATM term structure: total variance w = sigma^2 T linear in T between
  expiries, vol flat before the first and after the last expiry.
* ``SmileSurface`` -- per expiry a smile in log-moneyness k = ln(K/F), interpolated with a
  monotone cubic (PCHIP, Fritsch & Carlson 1980) and flat beyond the quoted wings; across expiries
  total variance at fixed k is linear in T (flat vol outside the quoted expiries).  The forward for
  a T between expiries is log-linear in T unless given.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from liqrisk.dynamics.ohlc import DataError
from liqrisk.io.limits import PRICE_RANGE, VOL_RANGE

VOL_KEYS = ("vol", "term", "smile", "chain_csv")


def _positive_vector(values, field: str, strictly_increasing: bool = False, hi: float = np.inf) -> np.ndarray:
    try:
        x = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{field}: expected a list of numbers, got {values!r}") from exc
    if x.ndim != 1 or len(x) == 0:
        raise ValueError(f"{field}: expected a non-empty list of numbers, got {values!r}")
    if not (np.isfinite(x).all() and (x > 0).all()):
        raise ValueError(f"{field}: every value must be a positive number, got {values!r}")
    if (x > hi).any():
        raise ValueError(f"{field}: values above the supported {hi:g}, got {values!r}")
    if strictly_increasing and (np.diff(x) <= 0).any():
        raise ValueError(f"{field}: values must be strictly increasing, got {values!r}")
    return x


def _interpolate_total_variance(expiries: np.ndarray, vols_at: np.ndarray, T) -> np.ndarray:
    """sigma(T) with total variance sigma^2 T linear in T between ``expiries`` and flat vol
    outside them; ``vols_at[j]`` holds expiry j's vols at the query points (shape of T)."""
    T = np.broadcast_to(np.asarray(T, dtype=float), vols_at.shape[1:])
    if (T <= 0).any():
        raise ValueError("time to expiry T must be positive (years)")
    if len(expiries) == 1:
        return vols_at[0].copy()
    T = np.clip(T, expiries[0], expiries[-1])  # beyond the ends: the end expiry's vol
    hi = np.clip(np.searchsorted(expiries, T), 1, len(expiries) - 1)
    lo = hi - 1
    w_lo = np.take_along_axis(vols_at, lo[None], 0)[0] ** 2 * expiries[lo]
    w_hi = np.take_along_axis(vols_at, hi[None], 0)[0] ** 2 * expiries[hi]
    x = (T - expiries[lo]) / (expiries[hi] - expiries[lo])
    return np.sqrt(((1.0 - x) * w_lo + x * w_hi) / T)


@dataclass(frozen=True)
class FlatVol:
    """The same implied vol for every strike and expiry."""

    sigma: float

    def __post_init__(self):
        if not (np.isfinite(self.sigma) and self.sigma > 0):
            raise ValueError(f"vol: must be a positive number, got {self.sigma!r}")

    def vol(self, strike, T, forward=None) -> np.ndarray:
        return np.full(np.broadcast_shapes(np.shape(strike), np.shape(T)), float(self.sigma))


class TermVol:
    """ATM vol term structure, strike-independent."""

    def __init__(self, expiries_years, vols):
        self.expiries = _positive_vector(expiries_years, "term.expiry_years", strictly_increasing=True)
        self.vols = _positive_vector(vols, "term.vol", hi=VOL_RANGE[1])
        if len(self.vols) != len(self.expiries):
            raise ValueError(f"term: {len(self.expiries)} expiry_years but {len(self.vols)} vol values")

    def vol(self, strike, T, forward=None) -> np.ndarray:
        shape = np.broadcast_shapes(np.shape(strike), np.shape(T))
        per_expiry = np.broadcast_to(self.vols.reshape((-1,) + (1,) * len(shape)),
                                     (len(self.vols),) + shape)
        return _interpolate_total_variance(self.expiries, per_expiry, np.broadcast_to(T, shape))

    def __repr__(self) -> str:
        return f"TermVol(expiries_years={self.expiries.tolist()}, vols={self.vols.tolist()})"


@dataclass(frozen=True)
class SmileSlice:
    """One expiry's smile: implied vols at strikes, for forward ``forward``."""

    expiry_years: float
    forward: float
    strikes: np.ndarray
    vols: np.ndarray

    def vol_at_log_moneyness(self, k) -> np.ndarray:
        """PCHIP in k = ln(K/F) inside the quoted strikes, flat beyond them."""
        ks = np.log(self.strikes / self.forward)
        k = np.clip(k, ks[0], ks[-1])
        if len(ks) == 1:
            return np.full(np.shape(k), self.vols[0])
        from scipy.interpolate import PchipInterpolator
        return PchipInterpolator(ks, self.vols)(k)


class SmileSurface:
    """Implied vol surface from per-expiry smiles."""

    def __init__(self, slices: list[SmileSlice]):
        if not slices:
            raise ValueError("smile: needs at least one expiry")
        self.slices = sorted(slices, key=lambda s: s.expiry_years)
        self.expiries = np.array([s.expiry_years for s in self.slices])
        if (np.diff(self.expiries) <= 0).any():
            raise ValueError(f"smile: duplicate expiry_years {self.expiries.tolist()}")
        self.forwards = np.array([s.forward for s in self.slices])

    @classmethod
    def from_quotes(cls, slices: list[Mapping]) -> SmileSurface:
        """From ``[{expiry_years, forward, strikes, vols}, ...]`` (the YAML ``smile`` block)."""
        if not isinstance(slices, list) or not slices:
            raise ValueError("smile: expected a non-empty list of {expiry_years, forward, strikes, vols}")
        built = []
        for i, quote in enumerate(slices):
            where = f"smile[{i}]"
            if not isinstance(quote, Mapping):
                raise ValueError(f"{where}: expected a mapping, got {quote!r}")
            unknown = set(quote) - {"expiry_years", "forward", "strikes", "vols"}
            missing = {"expiry_years", "forward", "strikes", "vols"} - set(quote)
            if unknown or missing:
                raise ValueError(f"{where}: missing fields {sorted(missing)}, unknown fields {sorted(unknown)}")
            expiry = _positive_vector([quote["expiry_years"]], f"{where}.expiry_years")[0]
            forward = _positive_vector([quote["forward"]], f"{where}.forward")[0]
            strikes = _positive_vector(quote["strikes"], f"{where}.strikes", strictly_increasing=True)
            vols = _positive_vector(quote["vols"], f"{where}.vols", hi=VOL_RANGE[1])
            if len(vols) != len(strikes):
                raise ValueError(f"{where}: {len(strikes)} strikes but {len(vols)} vols")
            built.append(SmileSlice(expiry, forward, strikes, vols))
        return cls(built)

    def forward(self, T) -> np.ndarray:
        """Forward for expiry T: log-linear in T between quoted expiries, flat outside."""
        return np.exp(np.interp(T, self.expiries, np.log(self.forwards)))

    def vol(self, strike, T, forward=None) -> np.ndarray:
        strike, T = np.broadcast_arrays(np.asarray(strike, float), np.asarray(T, float))
        F = self.forward(T) if forward is None else np.broadcast_to(np.asarray(forward, float), T.shape)
        k = np.log(strike / F)
        per_expiry = np.stack([s.vol_at_log_moneyness(k) for s in self.slices])
        return _interpolate_total_variance(self.expiries, per_expiry, T)

    def __repr__(self) -> str:
        return f"SmileSurface(expiries_years={self.expiries.tolist()}, strikes={[len(s.strikes) for s in self.slices]})"


CHAIN_COLUMNS = ("expiry_id", "ttm_years", "forward", "strike", "option_type", "bid_iv", "ask_iv")
CHAIN_RANGES = {"ttm_years": (0.0, 100.0), "forward": PRICE_RANGE, "strike": PRICE_RANGE,   # years, USD
                "bid_iv": VOL_RANGE, "ask_iv": VOL_RANGE}
OPTION_TYPES = ("P", "C", "PUT", "CALL")


def _shown(value) -> str:
    """A CSV cell for a message: ``empty``, ``'text'`` or the number."""
    if isinstance(value, str):
        return repr(value) if value.strip() else "empty"
    return "empty" if value != value else f"{float(value):g}"


def load_chain_csv(path: str | Path) -> SmileSurface:
    """Smile surface from an option IV chain CSV (columns ``CHAIN_COLUMNS``), mid IV =
    (bid + ask) / 2; a strike quoted as both put and call gets the average of the two mids."""
    import pandas as pd
    from liqrisk.io.documents import DocumentError, check_file
    path = Path(path)
    try:
        check_file(path, "option chain CSV")       # a directory, the file-size limit
        frame = pd.read_csv(path)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, DocumentError) as exc:
        raise DataError(f"{path.name}: cannot read CSV ({exc})".replace("\n", " ")) from exc
    missing = [c for c in CHAIN_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{path.name}: missing column {missing[0]!r}")
    for col, (lo, hi) in CHAIN_RANGES.items():
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = ~((values > 0) & (values >= lo) & (values <= hi))        # NaN (empty, text) is bad too
        if bad.any():
            i = int(np.argmax(bad.to_numpy()))
            raise DataError(f"{path.name}: line {i + 2}, column {col!r}: value {_shown(frame[col].iloc[i])} "
                            f"is not a number in {'(0' if lo == 0 else '[%g' % lo}, {hi:g}]")
        frame[col] = values
    kind = frame["option_type"].astype(str).str.strip().str.upper()
    bad = ~kind.isin(OPTION_TYPES).to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{path.name}: line {i + 2}, column 'option_type': value "
                        f"{_shown(frame['option_type'].iloc[i])} is not one of P, C, PUT, CALL")
    crossed = frame["bid_iv"] > frame["ask_iv"]
    if crossed.any():
        i = int(np.argmax(crossed.to_numpy()))
        raise DataError(f"{path.name}: line {i + 2}, column 'bid_iv': bid {frame['bid_iv'].iloc[i]} "
                        f"above ask {frame['ask_iv'].iloc[i]}")
    frame["mid_iv"] = 0.5 * (frame["bid_iv"] + frame["ask_iv"])
    slices = []
    for expiry_id, group in frame.groupby("expiry_id", sort=False):
        if group["ttm_years"].nunique() != 1 or group["forward"].nunique() != 1:
            raise DataError(f"{path.name}: expiry {expiry_id!r} has more than one ttm_years or forward")
        smile = group.groupby("strike")["mid_iv"].mean()
        slices.append(SmileSlice(float(group["ttm_years"].iloc[0]), float(group["forward"].iloc[0]),
                                 smile.index.to_numpy(float), smile.to_numpy(float)))
    return SmileSurface(slices)


def vol_model_from_market(block: Mapping, base_dir: str | Path | None = None):
    """Vol model from an asset's market block: exactly one of ``vol: 0.52``,
    ``term: {expiry_years: [...], vol: [...]}``, ``smile: [{expiry_years, forward, strikes, vols}]``
    or ``chain_csv: path`` (relative to ``base_dir``); ``vol`` may also hold one of the other
    three blocks.  Other keys of the block (``mark``, ``index``, ...) are ignored."""
    if not isinstance(block, Mapping):
        raise ValueError(f"market block: expected a mapping, got {block!r}")
    present = [key for key in VOL_KEYS if key in block]
    if len(present) != 1:
        found = f"found {present}" if present else "found none"
        raise ValueError(f"market block: expected exactly one of {', '.join(VOL_KEYS)}; {found}")
    key = present[0]
    value = block[key]
    if key == "vol":
        if isinstance(value, Mapping):
            return vol_model_from_market(value, base_dir)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"vol: expected a number (0.52 = 52%) or a term/smile/chain_csv block, got {value!r}")
        return FlatVol(float(value))
    if key == "term":
        if not isinstance(value, Mapping) or set(value) != {"expiry_years", "vol"}:
            raise ValueError(f"term: expected {{expiry_years: [...], vol: [...]}}, got {value!r}")
        return TermVol(value["expiry_years"], value["vol"])
    if key == "smile":
        return SmileSurface.from_quotes(value)
    if not isinstance(value, (str, Path)):
        raise ValueError(f"chain_csv: expected a file path, got {value!r}")
    path = Path(value)
    if base_dir is not None and not path.is_absolute():
        path = Path(base_dir) / path
    if not path.is_file():
        raise ValueError(f"chain_csv: file not found: {path}")
    return load_chain_csv(path)
